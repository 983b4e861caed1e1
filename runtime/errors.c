/* errors.c — the one helper every runtime file uses to report an error
 * into a caller's buffer. */
#include <stdio.h>

#include "nnc_internal.h"

int nnc_rt_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}
