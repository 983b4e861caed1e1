/* undefined.c — net_backward is declared in the header, never defined. */
// expect: tests/checkc/undefined.h:6:5: error: 'net_backward' is declared in the header but not defined in tests/checkc/undefined.c
#include "undefined.h"

int net_forward(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  return 0;
}
