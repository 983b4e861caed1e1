/* mismatch_int.h — the dimension is int64_t here, int in the .c. */
#ifndef MISMATCH_INT_H
#define MISMATCH_INT_H
#include <stdint.h>
int net_forward(const float *x, float *y, int64_t n);
#endif
