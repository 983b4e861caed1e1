/* mutable.h — declares only net_forward. */
#ifndef MUTABLE_H
#define MUTABLE_H
#include <stdint.h>
int net_forward(const float *x, float *y, int64_t n);
#endif
