/* warn_unused.h — a header for warn_unused.c. */
#ifndef WARN_UNUSED_H
#define WARN_UNUSED_H
#include <stdint.h>
void net_scale(float *y, const float *x, int64_t n);
#endif
