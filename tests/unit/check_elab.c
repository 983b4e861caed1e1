/* check_elab.c — unit tests of elaboration (compiler/elab.c, builtins.c):
 * layers inlined, parameters named by path with PyTorch's initialisers,
 * symbolic dimensions, compile-time evaluation, scans, entry points, and
 * errors located at the user's source. */
#include <math.h>

#include "testutil.h"

static const char *dense =
    "layer Dense(n_in: int, n_out: int, bias: bool = true) {\n"
    "  param weight: [n_out, n_in] = kaiming_uniform(a = sqrt(5))\n"
    "  if bias { param bias: [n_out] = uniform(-1 / sqrt(n_in), 1 / "
    "sqrt(n_in)) }\n"
    "  fn forward(x) {\n"
    "    y = x @ weight.T\n"
    "    if bias { y = y + bias }\n"
    "    return y\n"
    "  }\n"
    "}\n";

static char src[8192];

static Module *ok(TestRun *r, const char *body) {
  snprintf(src, sizeof src, "%s%s", dense, body);
  run_source(r, src);
  ck_assert_msg(!r->failed, "unexpected error:\n%s", r->err);
  return r->mod;
}

static Model *model0(Module *m) { return m->models.v[0]; }
static Func *func(Module *m, int i) { return model0(m)->funcs.v[i]; }
static ParamDecl *param(Module *m, int i) { return model0(m)->params.v[i]; }

static const char *type_str(Module *m, Type t) {
  static char buf[128];
  StrBuf b = {0};
  type_print(&b, &m->syms, t);
  snprintf(buf, sizeof buf, "%s", b.s);
  sb_free(&b);
  return buf;
}

START_TEST(params_named_by_path) {
  TestRun r;
  Module *m =
      ok(&r,
         "layer Block(n: int) { a = Dense(n, n)\n"
         "  for i in 0..2 { sub[i] = Dense(n, n, bias = false) }\n"
         "  fn forward(x) { return sub[1](sub[0](a(x))) } }\n"
         "model M { enc = Block(4)\n fn f(x: f32[B, 4]) { return enc(x) } }\n");
  ck_assert_int_eq(model0(m)->params.n, 4);
  ck_assert_str_eq(param(m, 0)->name, "enc.a.weight");
  ck_assert_str_eq(param(m, 1)->name, "enc.a.bias");
  ck_assert_str_eq(param(m, 2)->name, "enc.sub.0.weight");
  ck_assert_str_eq(param(m, 3)->name, "enc.sub.1.weight");
  ck_assert_str_eq(param(m, 3)->layer_type, "Dense");
  run_free(&r);
}
END_TEST

START_TEST(pytorch_default_inits) {
  TestRun r;
  Module *m =
      ok(&r, "model M { fc = Dense(784, 256)\n"
             "  param e: [3, 4, 5] = xavier_uniform(gain = 2)\n"
             "  param k: [6, 7] = kaiming_normal(nonlinearity = \"relu\")\n"
             "  fn f(x: f32[B, 784]) { return fc(x) } }\n");
  /* Linear: bound 1/sqrt(fan_in) for both weight and bias */
  ck_assert_str_eq(param(m, 0)->init, "uniform(-0.0357142857,0.0357142857)");
  ck_assert_str_eq(param(m, 1)->init, "uniform(-0.0357142857,0.0357142857)");
  /* xavier: gain * sqrt(6 / (fan_in + fan_out)), fans 4*5 and 3*5 */
  double b = 2 * sqrt(6.0 / 35.0);
  char want[64];
  snprintf(want, sizeof want, "uniform(%.9g,%.9g)", -b, b);
  ck_assert_str_eq(param(m, 2)->init, want);
  snprintf(want, sizeof want, "normal(0,%.9g)", sqrt(2.0) / sqrt(7.0));
  ck_assert_str_eq(param(m, 3)->init, want);
  run_free(&r);
}
END_TEST

START_TEST(symbolic_dims_flow) {
  TestRun r;
  Module *m = ok(&r, "model M { fc = Dense(8, 3)\n"
                     "  fn f(x: f32[B, T, 8]) {\n"
                     "    y = reshape(fc(x), [B * T, -1])\n"
                     "    return y, zeros([T, 2]) }\n}\n");
  Func *f = func(m, 0);
  ck_assert_int_eq(f->body.nout, 2);
  ck_assert_str_eq(type_str(m, f->body.out[0]->type), "f32[B*T,3]");
  ck_assert_str_eq(type_str(m, f->body.out[1]->type), "f32[T,2]");
  ck_assert_str_eq(f->out_names[0], "y");
  run_free(&r);
}
END_TEST

START_TEST(compile_time_evaluation) {
  TestRun r;
  Module *m =
      ok(&r, "const H = 2 ** 3\n"
             "fn pick(n) { return n // 3 if n % 2 == 0 else -n }\n"
             "model M { param w: [H, pick(6), len([1, 2, 3]) * 2] = ones\n"
             "  fn f(x: f32[B]) { return x * w[0, 0, 0] } }\n");
  ck_assert_str_eq(type_str(m, param(m, 0)->type), "f32[8,2,6]");
  ck_assert_str_eq(param(m, 0)->init, "ones");
  run_free(&r);
}
END_TEST

START_TEST(train_mode_and_minimize) {
  TestRun r;
  Module *m =
      ok(&r, "layer Drop(p: float) { fn forward(x) {\n"
             "  if training { return where(rand_uniform(shape(x)) >= p, x / (1 "
             "- p), 0) }\n"
             "  return x } }\n"
             "model M { fc = Dense(4, 2)\n d = Drop(0.5)\n"
             "  fn f(x: f32[B, 4]) { return d(fc(x)) }\n"
             "  train step(x: f32[B, 4]) { loss = mean(d(fc(x)))\n"
             "    minimize loss with adam(lr = 0.01, beta1 = 0.5) over fc\n"
             "    return loss } }\n");
  Func *inf = func(m, 0), *tr = func(m, 1);
  ck_assert_int_eq(tr->kind, FN_TRAIN);
  int rand_inf = 0, rand_tr = 0, mins = 0;
  for (Node *n = inf->body.first; n; n = n->next)
    rand_inf += n->op == OP_RAND_UNIFORM;
  for (Node *n = tr->body.first; n; n = n->next) {
    rand_tr += n->op == OP_RAND_UNIFORM;
    if (n->op == OP_MINIMIZE) {
      mins++;
      ck_assert_str_eq(ir_attr(n, "optimizer")->s, "adam");
      ck_assert_double_eq(ir_attr(n, "beta1")->f, 0.5);
      ck_assert_str_eq(ir_attr(n, "over")->s, "fc");
    }
  }
  ck_assert_int_eq(rand_inf, 0);
  ck_assert_int_eq(rand_tr, 1);
  ck_assert_int_eq(mins, 1);
  run_free(&r);
}
END_TEST

START_TEST(scan_builds_a_region) {
  TestRun r;
  Module *m = ok(&r, "model M { param w: [5, 5] = eye\n"
                     "  fn f(x: f32[B, T, 5]) {\n"
                     "    hs, h = scan t in 0..T carry (h = zeros([B, 5])) {\n"
                     "      h = tanh(x[:, t] + h @ w)\n"
                     "      yield h along 1 }\n"
                     "    return hs, h } }\n");
  Func *f = func(m, 0);
  Node *scan = NULL;
  for (Node *n = f->body.first; n; n = n->next)
    if (n->op == OP_SCAN)
      scan = n;
  ck_assert_ptr_nonnull(scan);
  ck_assert_int_eq(scan->nresult, 2);
  ck_assert_int_eq(scan->body->nout, 2);
  ck_assert_str_eq(type_str(m, f->body.out[0]->type), "f32[B,T,5]");
  ck_assert_str_eq(type_str(m, f->body.out[1]->type), "f32[B,5]");
  run_free(&r);
}
END_TEST

START_TEST(layer_summary_rows) {
  TestRun r;
  Module *m =
      ok(&r, "model M { a = Dense(10, 20)\n b = Dense(20, 5, bias = false)\n"
             "  fn f(x: f32[B, 10]) { return b(relu(a(x))) } }\n");
  Model *md = model0(m);
  ck_assert_int_eq(md->layers.n, 2);
  LayerRow *a = md->layers.v[0], *b = md->layers.v[1];
  ck_assert_str_eq(a->path, "a");
  ck_assert_int_eq(a->nparams, 10 * 20 + 20);
  ck_assert_int_eq(b->nparams, 20 * 5);
  ck_assert_str_eq(type_str(m, b->out), "f32[B,5]");
  run_free(&r);
}
END_TEST

START_TEST(errors_at_the_source) {
  const char *pre = "model M { fc = Dense(4, 3)\n fn f(x: f32[B, 4]) {\n";
  static const struct {
    const char *body, *msg;
  } cases[] = {
      {"return fcc(x) } }",
       "t.nn:12:8: error: unknown name 'fcc' (did you mean 'fc'?)"},
      {"return fc(x) @ fc(x) } }",
       "matmul of f32[B,3] and f32[B,3]: inner dimensions 3 and B differ"},
      {"return fc(x, x) } }", "function forward takes 1 argument, got 2"},
      {"return Dense(2, 2)(x) } }", "must be created in a layer body"},
      {"return x + int(x) } }", "mixes f32 and i32 tensors"},
      {"if x { return x } } }", "must be known at compile time"},
      {"return reshape(x, [3, -1]) } }", "cannot be split evenly"},
      {"return x[:, 5] } }",
       "index 5 is out of range for dimension 1 of size 4"},
      {"return sum(x, axis = 2) } }",
       "axis 2 is out of range for a tensor of rank 2"},
      {"return fc.nothing } }", "has no member 'nothing'"},
      {"minimize x with adam(lr = 1) } }",
       "'minimize' belongs in a train entry point"},
      {"return exp(int(x)) } }", "exp needs a floating-point tensor"},
      {"return conv2d(x, x) } }", "conv2d"},
      {"y = 3 } }", "entry point 'f' returns nothing"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char s[4096];
    snprintf(s, sizeof s, "%s%s%s", dense, pre, cases[i].body);
    ck_error(s, cases[i].msg);
  }
}
END_TEST

START_TEST(declaration_errors) {
  ck_error("model M { param w: [0, 3] = zeros\n fn f(x: f32[B]) { return x } }",
           "dimension 0 of parameter 'w' is 0");
  ck_error("model M { param w: [3] = kaiming_uniform()\n fn f(x: f32[B]) { "
           "return x } }",
           "needs a parameter with at least 2 dimensions");
  ck_error("model M { param w: [3] = zeros\n param w: [3] = zeros\n fn f(x: "
           "f32[B]) { return x } }",
           "parameter 'w' is declared twice");
  ck_error("model M { fn f(x) { return x } }", "has no entry point");
  ck_error("layer L() { return 3 }\nmodel M { l = L()\n fn f(x: f32[B]) { "
           "return x } }",
           "not allowed in a layer body");
  ck_error("model M { train t(x: f32[B]) { minimize sum(x) with sgd(lr = 1)\n"
           "minimize sum(x) with sgd(lr = 1) } }",
           "a train entry point has one 'minimize'");
  ck_error("model M { fn f(x: f32[B]) { return x } }\nmodel M { fn f(x: "
           "f32[B]) { return x } }",
           "'M' is already defined at t.nn:1:7");
  ck_error(
      "fn f(x) { return f(x) }\nmodel M { fn g(x: f32[B]) { return f(x) } }",
      "calls nested too deeply");
  ck_error("import \"does/not/exist.nn\"\n", "file not found");
  ck_error("const X = 1\n", "no model in t.nn");
}
END_TEST

START_TEST(several_models_in_one_file) {
  TestRun r;
  /* the second model's compile-time loops run after the first's return */
  Module *m =
      ok(&r, "layer Stack(n: int) { for k in 0..n { l[k] = Dense(2, 2) }\n"
             "  fn forward(x) { for k in 0..n { x = l[k](x) }\n return x } }\n"
             "model A { s = Stack(2)\n fn f(x: f32[B, 2]) { return s(x) } }\n"
             "model C { s = Stack(3)\n a = A()\n"
             "  fn g(x: f32[B, 2]) { return a.f(s(x)) } }\n");
  ck_assert_int_eq(m->models.n, 2);
  Model *c = m->models.v[1];
  ck_assert_int_eq(c->params.n, 3 * 2 + 2 * 2);
  ck_assert_str_eq(((ParamDecl *)c->params.v[6])->name, "a.s.l.0.weight");
  run_free(&r);
}
END_TEST

START_TEST(typed_arguments_bind_dimensions) {
  TestRun r;
  Module *m = ok(&r, "fn attend(q: f32[N, T, D], k: f32[N, S, D]) {\n"
                     "  return softmax(q @ k.T / sqrt(D)) * float(T) }\n"
                     "model M { fn f(a: f32[B, 5, 8], b: f32[B, 7, 8]) { "
                     "return attend(a, b) } }\n");
  ck_assert_str_eq(type_str(m, func(m, 0)->body.out[0]->type), "f32[B,5,7]");
  run_free(&r);
  ck_error("fn g(q: f32[N, 4]) { return q }\nmodel M { fn f(a: f32[B, 5]) { "
           "return g(a) } }\n",
           "function g: dimension 1 of argument 'q' must be 4, got f32[B,5]");
  ck_error("fn g(q: i32[N]) { return q }\nmodel M { fn f(a: f32[B]) { return "
           "g(a) } }\n",
           "function g: argument 'q' must be i32, got f32[B]");
}
END_TEST

START_TEST(stdlib_linear_matches_pytorch) {
  TestRun r;
  run_source(&r, "model M { fc = Linear(784, 256)\n fn f(x: f32[B, 784]) { "
                 "return fc(x) } }\n");
  ck_assert_msg(!r.failed, "%s", r.err);
  Model *md = r.mod->models.v[0];
  ck_assert_int_eq(md->params.n, 2);
  ck_assert_str_eq(((ParamDecl *)md->params.v[0])->name, "fc.weight");
  ck_assert_str_eq(((ParamDecl *)md->params.v[1])->name, "fc.bias");
  ck_assert_int_eq(((LayerRow *)md->layers.v[0])->nparams, 200960);
  run_free(&r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("elab");
  TCase *tc = tcase_create("elaboration");
  tcase_add_test(tc, params_named_by_path);
  tcase_add_test(tc, pytorch_default_inits);
  tcase_add_test(tc, symbolic_dims_flow);
  tcase_add_test(tc, compile_time_evaluation);
  tcase_add_test(tc, train_mode_and_minimize);
  tcase_add_test(tc, scan_builds_a_region);
  tcase_add_test(tc, layer_summary_rows);
  tcase_add_test(tc, errors_at_the_source);
  tcase_add_test(tc, declaration_errors);
  tcase_add_test(tc, several_models_in_one_file);
  tcase_add_test(tc, typed_arguments_bind_dimensions);
  tcase_add_test(tc, stdlib_linear_matches_pytorch);
  suite_add_tcase(s, tc);
  return run_suite(s);
}
