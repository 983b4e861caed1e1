/* exported.c — a helper that should be static is exported. */
// expect: tests/checkc/exported.c:6:7: error: exported but undeclared: 'relu' is not declared in tests/checkc/exported.h (make it static or declare it there)
#include "exported.h"

float relu(float v);
float relu(float v) { return v > 0.0f ? v : 0.0f; }

int net_forward(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = relu(x[i]);
  return 0;
}
