/* warn_unused.c — a warning fails the check: an unused variable. */
// expect: tests/checkc/warn_unused.c:8:9: warning: unused variable 'tmp' [-Wunused-variable]
#include "warn_unused.h"

void net_scale(float *y, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = 2.0f * x[i];
  float tmp;
}
