/* errcapture.h — what the IR and shape unit tests share: one compilation
 * context whose errors unwind to a jmp_buf and land in a memory stream,
 * EXPECT_ERROR to assert on them, and a variadic int-list attribute. */
#ifndef NNC_ERRCAPTURE_H
#define NNC_ERRCAPTURE_H

#include <check.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/nnc.h"

static Ctx ctx;
static jmp_buf jb;
static FILE *errf;
static char *errbuf;
static size_t errlen;

static void err_open(void) {
  errf = open_memstream(&errbuf, &errlen);
  ctx.err = errf;
}

static void err_close(void) {
  fclose(errf);
  free(errbuf);
  errbuf = NULL;
}

/* Runs stmt, which must report an error containing msg. */
#define EXPECT_ERROR(stmt, msg)                                                \
  do {                                                                         \
    if (setjmp(jb) == 0) {                                                     \
      stmt;                                                                    \
      ck_abort_msg("no error, expected: %s", msg);                             \
    }                                                                          \
    fflush(errf);                                                              \
    ck_assert_msg(strstr(errbuf, msg), "got error '%s', expected '%s'",        \
                  errbuf, msg);                                                \
    err_close();                                                               \
    err_open();                                                                \
  } while (0)

/* aints("perm", 2, 1, 0) */
static Attr aints(const char *k, int n, ...) {
  int64_t v[64];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n && i < 64; i++)
    v[i] = va_arg(ap, int);
  va_end(ap);
  return attr_ints(&ctx.arena, k, n, v);
}

#endif
