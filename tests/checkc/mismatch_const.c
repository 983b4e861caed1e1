/* mismatch_const.c — defines net_forward without the header's const, and
 * does not include the header, so only nnc-checkc can see the mismatch. */
// expect: tests/checkc/mismatch_const.c:9:5: error: 'net_forward' is defined with type 'int (float *, float *, long)' but declared as 'int (const float *, float *, long)'
// expect: tests/checkc/mismatch_const.h:5:5: note: 'net_forward' is declared here
#include <stdint.h>

int net_forward(float *x, float *y, int64_t n);

int net_forward(float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i];
  return 0;
}
