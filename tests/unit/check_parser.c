/* check_parser.c — unit tests of the grammar (grammar/parser.y): the tree
 * it builds for each construct, precedence, and located syntax errors. */
#include "testutil.h"
#include "ast.h"

static Ctx ctx;
static jmp_buf jb;
static char *errbuf;
static size_t errlen;

static void setup(void) {
  ctx_init(&ctx);
  ctx.err = open_memstream(&errbuf, &errlen);
  ctx.on_error = &jb;
}

static void teardown(void) {
  fclose(ctx.err);
  free(errbuf);
  errbuf = NULL;
  ctx_free(&ctx);
}

static AstList parse(const char *src) {
  AstList l = {0};
  if (setjmp(jb) == 0)
    l = nnc_parse(&ctx, nnc_source_string(&ctx, "t.nn", src));
  else
    ck_abort_msg("unexpected syntax error for: %s", src);
  return l;
}

/* Parses src expecting an error; returns the message. */
static const char *parse_error(const char *src) {
  if (setjmp(jb) == 0) {
    nnc_parse(&ctx, nnc_source_string(&ctx, "t.nn", src));
    ck_abort_msg("expected a syntax error for: %s", src);
  }
  fflush(ctx.err);
  return errbuf;
}

/* The expression of `const X = <expr>`. */
static Ast *expr_of(const char *src) {
  AstList l = parse(src);
  ck_assert_int_eq(l.n, 1);
  ck_assert_int_eq(l.v[0]->kind, A_CONST);
  return l.v[0]->a;
}

START_TEST(items) {
  AstList l =
      parse("import \"x.nn\"\nconst N = 3\nfn f(x, y = 2) { return x }\n"
            "layer L(n: int) { param w: [n] = zeros }\nmodel M { l = L(3) }\n");
  ck_assert_int_eq(l.n, 5);
  ck_assert_int_eq(l.v[0]->kind, A_IMPORT);
  ck_assert_str_eq(l.v[0]->str, "x.nn");
  ck_assert_int_eq(l.v[2]->kind, A_FN);
  ck_assert_int_eq(l.v[2]->list2.n, 2);
  ck_assert_ptr_nonnull(l.v[2]->list2.v[1]->b);
  ck_assert_int_eq(l.v[3]->kind, A_LAYER);
  ck_assert_int_eq(l.v[3]->list.v[0]->kind, A_PARAMDECL);
  ck_assert_int_eq(l.v[4]->flag, 1);
}
END_TEST

START_TEST(precedence) {
  Ast *x = expr_of("const X = 1 + 2 * 3 ** 2");
  ck_assert_int_eq(x->kind, A_BINOP);
  ck_assert_int_eq(x->op, BO_ADD);
  ck_assert_int_eq(x->b->op, BO_MUL);
  ck_assert_int_eq(x->b->b->op, BO_POW);
  x = expr_of("const X = -a ** 2");
  ck_assert_int_eq(x->kind, A_UNOP); /* -(a ** 2) as in Python */
  x = expr_of("const X = a < b and not c or d");
  ck_assert_int_eq(x->op, BO_OR);
  ck_assert_int_eq(x->a->op, BO_AND);
  x = expr_of("const X = a @ b + c");
  ck_assert_int_eq(x->op, BO_ADD);
  ck_assert_int_eq(x->a->op, BO_MATMUL);
  x = expr_of("const X = 1 if c else 2 if d else 3");
  ck_assert_int_eq(x->kind, A_COND);
  ck_assert_int_eq(x->c->kind, A_COND);
}
END_TEST

START_TEST(postfix_and_slices) {
  Ast *x = expr_of("const X = m.f(a, k = 2)[:, 1:3, ::2, t].T");
  ck_assert_int_eq(x->kind, A_ATTR);
  ck_assert_str_eq(x->name, "T");
  Ast *ix = x->a;
  ck_assert_int_eq(ix->kind, A_INDEX);
  ck_assert_int_eq(ix->list.n, 4);
  ck_assert_int_eq(ix->list.v[0]->kind, A_SLICE);
  ck_assert_ptr_null(ix->list.v[0]->a);
  ck_assert_ptr_nonnull(ix->list.v[1]->b);
  ck_assert_ptr_nonnull(ix->list.v[2]->c);
  ck_assert_int_eq(ix->list.v[3]->kind, A_NAME);
  Ast *call = ix->a;
  ck_assert_int_eq(call->kind, A_CALL);
  ck_assert_str_eq(call->list.v[1]->name, "k");
}
END_TEST

START_TEST(statements) {
  AstList l = parse("model M {\n"
                    "  train step(x: f32[B, 4]) {\n"
                    "    a, b = split(x, 2, axis = 1)\n"
                    "    hs, h = scan t in reverse 0..T carry (h = h0) {\n"
                    "      h = h + x[:, t]\n"
                    "      yield h along 1\n"
                    "    }\n"
                    "    if training { update s = a } else { a = b }\n"
                    "    for i in 0..3 { a = a }\n"
                    "    minimize a with adam(lr = 1e-3) over enc, dec\n"
                    "    return a, b\n"
                    "  }\n"
                    "}\n");
  Ast *fn = l.v[0]->list.v[0];
  ck_assert_int_eq(fn->kind, A_FN);
  ck_assert_int_eq(fn->flag, 1);
  AstList *b = &fn->list;
  ck_assert_int_eq(b->n, 6);
  ck_assert_int_eq(b->v[0]->kind, A_ASSIGN);
  ck_assert_int_eq(b->v[0]->list.n, 2);
  ck_assert_int_eq(b->v[1]->kind, A_SCAN);
  ck_assert_int_eq(b->v[1]->flag, 1);
  ck_assert_int_eq(b->v[1]->c->list.n, 1);
  ck_assert_int_eq(b->v[1]->list.v[1]->kind, A_YIELD);
  ck_assert_int_eq(b->v[2]->kind, A_IF);
  ck_assert_int_eq(b->v[2]->list2.n, 1);
  ck_assert_int_eq(b->v[3]->kind, A_FOR);
  ck_assert_int_eq(b->v[4]->kind, A_MINIMIZE);
  ck_assert_int_eq(b->v[4]->list.n, 2);
  ck_assert_int_eq(b->v[5]->kind, A_RETURN);
}
END_TEST

START_TEST(syntax_errors) {
  static const struct {
    const char *src, *msg;
  } cases[] = {
      {"model M {", "t.nn:1:10: error: syntax error, unexpected end of file"},
      {"model M { fn f(x) { return x + } }",
       "t.nn:1:32: error: syntax error, unexpected '}'"},
      {"layer L( { }", "t.nn:1:10: error: syntax error, unexpected '{'"},
      {"const = 3",
       "t.nn:1:7: error: syntax error, unexpected '=', expecting identifier"},
      {"model M { x = [1, 2 }", "unexpected '}'"},
      {"const X = a $ b", "t.nn:1:13: error: unexpected character '$'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    teardown();
    setup();
    const char *m = parse_error(cases[i].src);
    ck_assert_msg(strstr(m, cases[i].msg), "%s\ngot: %s", cases[i].src, m);
  }
}
END_TEST

START_TEST(caret_under_the_error) {
  const char *m = parse_error("const X = 1\nconst Y = (2 +)\n");
  ck_assert_msg(strstr(m, "t.nn:2:15: error:"), "%s", m);
  ck_assert_msg(strstr(m, "    const Y = (2 +)\n                  ^\n"), "%s",
                m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("parser");
  TCase *tc = tcase_create("grammar");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, items);
  tcase_add_test(tc, precedence);
  tcase_add_test(tc, postfix_and_slices);
  tcase_add_test(tc, statements);
  tcase_add_test(tc, syntax_errors);
  tcase_add_test(tc, caret_under_the_error);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
