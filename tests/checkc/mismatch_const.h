/* mismatch_const.h — the input is const here, not in the .c. */
#ifndef MISMATCH_CONST_H
#define MISMATCH_CONST_H
#include <stdint.h>
int net_forward(const float *x, float *y, int64_t n);
#endif
