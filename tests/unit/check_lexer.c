/* check_lexer.c — unit tests of the scanner (grammar/lexer.l): tokens,
 * literals, newline handling, locations and lexical errors. */
#include "testutil.h"
#include "ast.h"
#include "parser.h"
#include "lexer.h"

typedef struct Lexed {
  Ctx ctx;
  ParseState ps;
  int tok[64];
  YYSTYPE val[64];
  YYLTYPE loc[64];
  int n;
} Lexed;

/* Scans src to the end (or the first error token) into L. */
static void lex(Lexed *L, const char *src) {
  memset(L, 0, sizeof *L);
  ctx_init(&L->ctx);
  L->ps.ctx = &L->ctx;
  L->ps.file = nnc_source_string(&L->ctx, "t.nn", src);
  L->ps.line = L->ps.col = 1;
  yyscan_t sc;
  ck_assert_int_eq(yylex_init_extra(&L->ps, &sc), 0);
  YY_BUFFER_STATE b = yy_scan_bytes(src, (int)strlen(src), sc);
  while (L->n < 64) {
    int t = yylex(&L->val[L->n], &L->loc[L->n], sc);
    L->tok[L->n++] = t;
    if (t == 0 || t == BADCHAR)
      break;
  }
  yy_delete_buffer(b, sc);
  yylex_destroy(sc);
}

static void unlex(Lexed *L) { ctx_free(&L->ctx); }

START_TEST(keywords_and_names) {
  Lexed L;
  lex(&L, "layer Linear(in_features: int) { param weight }");
  int want[] = {LAYER, IDENT, '(',   IDENT, ':', IDENT,
                ')',   '{',   PARAM, IDENT, '}', 0};
  ck_assert_int_eq(L.n, 12);
  for (int i = 0; i < 12; i++)
    ck_assert_int_eq(L.tok[i], want[i]);
  ck_assert_str_eq(L.val[1].str, "Linear");
  ck_assert_str_eq(L.val[9].str, "weight");
  unlex(&L);
}
END_TEST

START_TEST(numbers) {
  Lexed L;
  lex(&L, "42 0x2A 1_000 0.5 1e-3 2.5e+4 0..T");
  ck_assert_int_eq(L.tok[0], INT);
  ck_assert_int_eq(L.val[0].ival, 42);
  ck_assert_int_eq(L.val[1].ival, 42);
  ck_assert_int_eq(L.val[2].ival, 1000);
  ck_assert_int_eq(L.tok[3], FLOAT);
  ck_assert_double_eq(L.val[3].fval, 0.5);
  ck_assert_double_eq_tol(L.val[4].fval, 1e-3, 1e-15);
  ck_assert_double_eq(L.val[5].fval, 25000.0);
  ck_assert_int_eq(L.tok[6], INT);
  ck_assert_int_eq(L.tok[7], DOTDOT);
  ck_assert_int_eq(L.tok[8], IDENT);
  unlex(&L);
}
END_TEST

START_TEST(operators) {
  Lexed L;
  lex(&L, "a ** b // c == d != e <= f >= g @ h");
  int want[] = {IDENT, POW, IDENT, FLOORDIV, IDENT, EQ,  IDENT, NE,
                IDENT, LE,  IDENT, GE,       IDENT, '@', IDENT, 0};
  for (int i = 0; i < 16; i++)
    ck_assert_int_eq(L.tok[i], want[i]);
  unlex(&L);
}
END_TEST

START_TEST(newlines_separate_statements) {
  Lexed L;
  lex(&L, "a = 1\nb = 2\n");
  int want[] = {IDENT, '=', INT, NL, IDENT, '=', INT, NL, 0};
  for (int i = 0; i < 9; i++)
    ck_assert_int_eq(L.tok[i], want[i]);
  unlex(&L);
}
END_TEST

START_TEST(newlines_continue_lines) {
  Lexed L;
  /* inside brackets and after an operator the line goes on */
  lex(&L, "f(a,\n  b) + \n c\n");
  int want[] = {IDENT, '(', IDENT, ',', IDENT, ')', '+', IDENT, NL, 0};
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(L.tok[i], want[i]);
  unlex(&L);
}
END_TEST

START_TEST(comments_and_strings) {
  Lexed L;
  lex(&L, "import \"a\\\"b.nn\" # comment\nx");
  ck_assert_int_eq(L.tok[0], IMPORT);
  ck_assert_int_eq(L.tok[1], STRING);
  ck_assert_str_eq(L.val[1].str, "a\"b.nn");
  ck_assert_int_eq(L.tok[2], NL);
  ck_assert_int_eq(L.tok[3], IDENT);
  unlex(&L);
}
END_TEST

START_TEST(locations) {
  Lexed L;
  lex(&L, "a\n  bc = 3");
  ck_assert_int_eq(L.loc[0].first_line, 1);
  ck_assert_int_eq(L.loc[0].first_column, 1);
  ck_assert_int_eq(L.loc[2].first_line, 2);
  ck_assert_int_eq(L.loc[2].first_column, 3);
  ck_assert_int_eq(L.loc[4].first_column, 8);
  unlex(&L);
}
END_TEST

START_TEST(lexical_errors) {
  static const struct {
    const char *src, *msg;
  } cases[] = {
      {"a $ b", "unexpected character '$'"},
      {"x = \"open", "unterminated string"},
      {"99999999999999999999", "integer literal is too large"},
      {"1e999", "number literal is too large"},
      {"12abc", "invalid number literal"},
      {"\"\\q\"", "unknown escape sequence"},
      {"a \x01 b", "unexpected byte 0x01"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    Lexed L;
    lex(&L, cases[i].src);
    ck_assert_int_eq(L.tok[L.n - 1], BADCHAR);
    ck_assert_msg(L.ps.err_msg && strstr(L.ps.err_msg, cases[i].msg),
                  "%s: got '%s'", cases[i].src,
                  L.ps.err_msg ? L.ps.err_msg : "");
    unlex(&L);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("lexer");
  TCase *tc = tcase_create("tokens");
  tcase_add_test(tc, keywords_and_names);
  tcase_add_test(tc, numbers);
  tcase_add_test(tc, operators);
  tcase_add_test(tc, newlines_separate_statements);
  tcase_add_test(tc, newlines_continue_lines);
  tcase_add_test(tc, comments_and_strings);
  tcase_add_test(tc, locations);
  tcase_add_test(tc, lexical_errors);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
