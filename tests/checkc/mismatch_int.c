/* mismatch_int.c — defines net_forward with int where the header says
 * int64_t (long here). */
// expect: tests/checkc/mismatch_int.c:7:5: error: 'net_forward' is defined with type 'int (const float *, float *, int)' but declared as 'int (const float *, float *, long)'
// expect: tests/checkc/mismatch_int.h:5:5: note: 'net_forward' is declared here
#include "mismatch_int.h"

int net_forward(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++)
    y[i] = x[i];
  return 0;
}
