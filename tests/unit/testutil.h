/* testutil.h — helpers shared by the Check unit tests: compile a source
 * string and capture the error message instead of exiting. */
#ifndef NNC_TESTUTIL_H
#define NNC_TESTUTIL_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

typedef struct TestRun {
  Ctx ctx;
  Module *mod;
  char *err; /* captured messages (malloc'd), "" when none */
  size_t errlen;
  int failed;
} TestRun;

/* Elaborates `src` (named "t.nn"); never exits. Free with run_free. */
static inline void run_source(TestRun *r, const char *src) {
  memset(r, 0, sizeof *r);
  ctx_init(&r->ctx);
  r->ctx.err = open_memstream(&r->err, &r->errlen);
  jmp_buf jb;
  r->ctx.on_error = &jb;
  if (setjmp(jb) == 0) {
    r->mod = nnc_elaborate_string(&r->ctx, "t.nn", src);
    ir_verify(&r->ctx, r->mod);
  } else {
    r->failed = 1;
    r->mod = NULL;
  }
  fclose(r->ctx.err);
  r->ctx.err = NULL;
}

static inline void run_free(TestRun *r) {
  ctx_free(&r->ctx);
  free(r->err);
}

/* Asserts that compiling src fails with a message containing `needle`. */
#define ck_error(src, needle)                                                  \
  do {                                                                         \
    TestRun r_;                                                                \
    run_source(&r_, (src));                                                    \
    ck_assert_msg(r_.failed, "expected an error for: %s", (src));              \
    ck_assert_msg(strstr(r_.err, (needle)) != NULL,                            \
                  "message\n%s\ndoes not contain '%s'", r_.err, (needle));     \
    run_free(&r_);                                                             \
  } while (0)

/* Runs a suite and returns the process exit status. */
static inline int run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
