/* mutable.c — state outside the model object: a file-scope buffer, a
 * pointer table whose pointers can change, and a static local. */
// expect: tests/checkc/mutable.c:8:14: error: global mutable state: variable 'scratch' of type 'float[16]' is not const; generated code must keep all state in the model object
// expect: tests/checkc/mutable.c:9:20: error: global mutable state: variable 'names' of type 'const char *[2]' is not const; generated code must keep all state in the model object
// expect: tests/checkc/mutable.c:12:15: error: global mutable state: static local 'calls' of type 'long' is not const; generated code must keep all state in the model object
#include "mutable.h"

static float scratch[16];
static const char *names[] = {"x", "y"};

int net_forward(const float *x, float *y, int64_t n) {
  static long calls;
  calls++;
  for (int64_t i = 0; i < n && i < 16; i++)
    scratch[i] = x[i];
  for (int64_t i = 0; i < n; i++)
    y[i] = scratch[i % 16] + (float)(names[0][0] - 'x');
  return 0;
}
