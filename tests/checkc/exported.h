/* exported.h — declares only net_forward. */
#ifndef EXPORTED_H
#define EXPORTED_H
#include <stdint.h>
int net_forward(const float *x, float *y, int64_t n);
#endif
