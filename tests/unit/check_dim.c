/* check_dim.c — unit tests of symbolic dimensions (compiler/dim.c):
 * canonical form, arithmetic, overflow, exact division, printing, dtypes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/nnc.h"

static Arena arena;
static DimSyms syms;
static int B, T, N;
static char buf[256];

static void setup(void) {
  arena_init(&arena);
  memset(&syms, 0, sizeof syms);
  B = dim_sym(&arena, &syms, "B");
  T = dim_sym(&arena, &syms, "T");
  N = dim_sym(&arena, &syms, "N");
}

static void teardown(void) { arena_free(&arena); }

/* The printed form of d, in a static buffer. */
static const char *str(Dim d) {
  StrBuf b = {0};
  dim_print(&b, &syms, d);
  snprintf(buf, sizeof buf, "%s", b.s);
  sb_free(&b);
  return buf;
}

static Dim K(int64_t v) { return dim_const(&arena, v); }
static Dim V(int s) { return dim_var(&arena, s); }

static Dim add(Dim x, Dim y) {
  Dim r;
  ck_assert(dim_add(&arena, x, y, &r));
  return r;
}

static Dim sub(Dim x, Dim y) {
  Dim r;
  ck_assert(dim_sub(&arena, x, y, &r));
  return r;
}

static Dim mul(Dim x, Dim y) {
  Dim r;
  ck_assert(dim_mul(&arena, x, y, &r));
  return r;
}

START_TEST(test_syms) {
  ck_assert_int_eq(B, 0);
  ck_assert_int_eq(T, 1);
  ck_assert_int_eq(dim_sym(&arena, &syms, "T"), 1);
  ck_assert_int_eq(syms.n, 3);
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof name, "S%d", i);
    ck_assert_int_eq(dim_sym(&arena, &syms, name), 3 + i);
  }
  ck_assert_str_eq(syms.name[B], "B");
  ck_assert_str_eq(syms.name[22], "S19");
}
END_TEST

START_TEST(test_constants) {
  ck_assert_int_eq(K(0).nterm, 0);
  ck_assert(dim_is_const(K(0)));
  ck_assert(dim_is_const(K(-7)));
  ck_assert_int_eq(dim_value(K(-7)), -7);
  ck_assert_int_eq(dim_value(K(0)), 0);
  ck_assert(!dim_is_const(V(B)));
  ck_assert_str_eq(str(K(0)), "0");
  ck_assert_str_eq(str(K(-1)), "-1");
  ck_assert_str_eq(str(K(784)), "784");
  ck_assert_str_eq(str(V(B)), "B");
}
END_TEST

START_TEST(test_canonical) {
  Dim x = add(add(K(1), V(T)), mul(K(2), V(B))); /* 1 + T + 2B */
  Dim y = add(mul(V(B), K(2)), add(V(T), K(1))); /* 2B + T + 1 */
  ck_assert(dim_eq(x, y));
  ck_assert_str_eq(str(x), "2*B+T+1");
  ck_assert_int_eq(x.nterm, 3);
  Dim z = sub(x, x);
  ck_assert_int_eq(z.nterm, 0);
  ck_assert(dim_eq(z, K(0)));
  ck_assert_str_eq(str(sub(V(B), V(B))), "0");
  ck_assert_str_eq(str(add(V(B), V(B))), "2*B");
  ck_assert_str_eq(str(mul(V(T), V(B))), "B*T");
  ck_assert(dim_eq(mul(V(T), V(B)), mul(V(B), V(T))));
  ck_assert_str_eq(str(mul(V(B), V(B))), "B*B");
  ck_assert(!dim_eq(V(B), V(T)));
  ck_assert(!dim_eq(V(B), K(1)));
}
END_TEST

START_TEST(test_printing) {
  Dim b1 = add(mul(K(2), V(B)), K(1));
  ck_assert_str_eq(str(b1), "2*B+1");
  ck_assert_str_eq(str(sub(V(B), K(1))), "B-1");
  ck_assert_str_eq(str(sub(K(0), V(B))), "-B");
  ck_assert_str_eq(str(sub(K(3), mul(K(2), V(B)))), "-2*B+3");
  /* higher degree first, constant last */
  Dim p = add(add(K(5), V(T)), mul(mul(V(B), V(T)), K(3)));
  ck_assert_str_eq(str(p), "3*B*T+T+5");
  Dim sq = mul(add(V(B), K(1)), add(V(B), K(1)));
  ck_assert_str_eq(str(sq), "B*B+2*B+1");
  ck_assert_str_eq(str(sub(mul(V(B), V(N)), mul(V(B), V(T)))), "-B*T+B*N");
  ck_assert_str_eq(str(K(INT64_MIN)), "-9223372036854775808");
  Dim m = sub(V(B), K(INT64_MAX));
  ck_assert_str_eq(str(m), "B-9223372036854775807");
}
END_TEST

START_TEST(test_mul_distributes) {
  Dim x = add(V(B), K(2)), y = sub(V(T), K(3));
  Dim p = mul(x, y); /* BT - 3B + 2T - 6 */
  ck_assert_str_eq(str(p), "B*T-3*B+2*T-6");
  int64_t vals[3] = {5, 7, 11};
  ck_assert_int_eq(dim_eval(p, vals), (5 + 2) * (7 - 3));
  ck_assert_int_eq(dim_eval(K(0), vals), 0);
  ck_assert_int_eq(dim_eval(mul(V(N), V(N)), vals), 121);
  ck_assert_str_eq(str(mul(K(0), x)), "0");
  ck_assert_int_eq(mul(K(0), x).nterm, 0);
}
END_TEST

START_TEST(test_overflow) {
  Dim r;
  ck_assert(!dim_add(&arena, K(INT64_MAX), K(1), &r));
  ck_assert(!dim_sub(&arena, K(INT64_MIN), K(1), &r));
  ck_assert(!dim_sub(&arena, K(0), K(INT64_MIN), &r));
  ck_assert(!dim_mul(&arena, K(INT64_MAX / 2 + 1), K(2), &r));
  ck_assert(!dim_mul(&arena, mul(K(1LL << 40), V(B)), K(1LL << 30), &r));
  ck_assert(dim_add(&arena, K(INT64_MAX), K(0), &r));
  ck_assert_int_eq(dim_value(r), INT64_MAX);
  /* too many variables in one term */
  Dim v4 = mul(mul(V(B), V(B)), mul(V(T), V(N)));
  ck_assert_str_eq(str(v4), "B*B*T*N");
  ck_assert(!dim_mul(&arena, v4, V(B), &r));
  ck_assert(dim_mul(&arena, v4, K(3), &r));
}
END_TEST

START_TEST(test_div_const) {
  Dim r;
  Dim x = add(mul(K(4), V(B)), K(6));
  ck_assert(dim_div_const(&arena, x, 2, &r));
  ck_assert_str_eq(str(r), "2*B+3");
  ck_assert(!dim_div_const(&arena, x, 4, &r));
  ck_assert(!dim_div_const(&arena, x, 0, &r));
  ck_assert(dim_div_const(&arena, x, -2, &r));
  ck_assert_str_eq(str(r), "-2*B-3");
  ck_assert(!dim_div_const(&arena, K(INT64_MIN), -1, &r));
  ck_assert(dim_div_const(&arena, K(0), 5, &r));
  ck_assert_int_eq(r.nterm, 0);
  ck_assert(dim_div_const(&arena, K(12), 4, &r));
  ck_assert_int_eq(dim_value(r), 3);
}
END_TEST

START_TEST(test_div_poly) {
  Dim r;
  Dim bt = mul(V(B), V(T));
  /* by a constant dim */
  ck_assert(dim_div(&arena, mul(K(6), V(B)), K(3), &r));
  ck_assert_str_eq(str(r), "2*B");
  /* by a monomial */
  ck_assert(dim_div(&arena, mul(K(4), bt), V(T), &r));
  ck_assert_str_eq(str(r), "4*B");
  ck_assert(dim_div(&arena, add(mul(K(4), bt), mul(K(2), V(T))),
                    mul(K(2), V(T)), &r));
  ck_assert_str_eq(str(r), "2*B+1");
  ck_assert(!dim_div(&arena, add(bt, V(B)), V(T), &r));
  ck_assert(!dim_div(&arena, mul(K(3), bt), mul(K(2), V(T)), &r));
  /* x a constant multiple of y */
  Dim y = add(V(B), K(1));
  ck_assert(dim_div(&arena, mul(K(3), y), y, &r));
  ck_assert_str_eq(str(r), "3");
  ck_assert(dim_div(&arena, y, y, &r));
  ck_assert_str_eq(str(r), "1");
  /* general: (B+1)(T-2) / (T-2) */
  Dim z = sub(V(T), K(2));
  ck_assert(dim_div(&arena, mul(y, z), z, &r));
  ck_assert(dim_eq(r, y));
  ck_assert(dim_div(&arena, mul(y, z), y, &r));
  ck_assert(dim_eq(r, z));
  ck_assert(!dim_div(&arena, add(mul(y, z), K(1)), y, &r));
  /* zero */
  ck_assert(!dim_div(&arena, y, K(0), &r));
  ck_assert(dim_div(&arena, K(0), y, &r));
  ck_assert_int_eq(r.nterm, 0);
  ck_assert(!dim_div(&arena, K(7), V(B), &r));
}
END_TEST

START_TEST(test_dtypes) {
  DType t;
  ck_assert_str_eq(dtype_name(DT_F32), "f32");
  ck_assert_str_eq(dtype_name(DT_F64), "f64");
  ck_assert_str_eq(dtype_name(DT_I32), "i32");
  ck_assert_str_eq(dtype_name(DT_BOOL), "bool");
  ck_assert(dtype_parse("bool", &t) && t == DT_BOOL);
  ck_assert(dtype_parse("f64", &t) && t == DT_F64);
  ck_assert(!dtype_parse("f16", &t));
  ck_assert(!dtype_parse("", &t));
  ck_assert(dtype_is_float(DT_F32) && dtype_is_float(DT_F64));
  ck_assert(!dtype_is_float(DT_I32) && !dtype_is_float(DT_BOOL));
}
END_TEST

static Suite *dim_suite(void) {
  Suite *s = suite_create("dim");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_syms);
  tcase_add_test(tc, test_constants);
  tcase_add_test(tc, test_canonical);
  tcase_add_test(tc, test_printing);
  tcase_add_test(tc, test_mul_distributes);
  tcase_add_test(tc, test_overflow);
  tcase_add_test(tc, test_div_const);
  tcase_add_test(tc, test_div_poly);
  tcase_add_test(tc, test_dtypes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(dim_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
