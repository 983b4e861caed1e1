/* syntax.c — a statement without its semicolon. */
// expect: tests/checkc/syntax.c:7:16: error: expected ';' after expression
#include "syntax.h"

int net_forward(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i]
  return 0;
}
