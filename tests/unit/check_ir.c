/* check_ir.c — unit tests of the IR (compiler/ir.c, irdump.c, irparse.c):
 * node naming, attributes and types, the dump format, the round trip
 * dump(parse(dump(m))) == dump(m), reader errors and the verifier. */
#include <check.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/nnc.h"
#include "errcapture.h"

static Module *mod;
static Model *model;
static SrcFile *srcfile;

static void setup(void) {
  ctx_init(&ctx);
  ctx.on_error = &jb;
  err_open();
  mod = ir_module_new(&ctx);
  srcfile = nnc_source_string(&ctx, "test.nn", "model MLP {\n");
}

static void teardown(void) {
  err_close();
  ctx_free(&ctx);
}

/* Fails the test with the reported message when stmt reports an error. */
#define NO_ERROR(stmt)                                                         \
  do {                                                                         \
    if (setjmp(jb) == 0) {                                                     \
      stmt;                                                                    \
    } else {                                                                   \
      fflush(errf);                                                            \
      ck_abort_msg("unexpected error: %s", errbuf);                            \
    }                                                                          \
  } while (0)

/* ---------------------------------------------------------- builders */

static SrcLoc at(int line, int col) {
  SrcLoc l = {srcfile, line, col};
  return l;
}

static Dim D(const char *s) {
  if (s[0] >= '0' && s[0] <= '9')
    return dim_const(&ctx.arena, atoll(s));
  return dim_var(&ctx.arena, dim_sym(&ctx.arena, &mod->syms, s));
}

/* adims("shape", 2, "B", "784") */
static Attr adims(const char *k, int n, ...) {
  Attr a = {0};
  va_list ap;
  a.key = k;
  a.kind = AK_DIMS;
  a.n = n;
  a.dims = arena_alloc(&ctx.arena, sizeof(Dim) * (size_t)(n + 1));
  va_start(ap, n);
  for (int i = 0; i < n; i++)
    a.dims[i] = D(va_arg(ap, const char *));
  va_end(ap);
  return a;
}

static Model *new_model(const char *name, SrcLoc loc) {
  Model *m = arena_alloc(&ctx.arena, sizeof *m);
  m->name = name;
  m->loc = loc;
  vec_push(&ctx.arena, &mod->models, m);
  return m;
}

static ParamDecl *decl(Model *m, const char *name, ParamRole role, Type t,
                       const char *init, const char *layer, const char *lt,
                       SrcLoc loc) {
  ParamDecl *p = arena_alloc(&ctx.arena, sizeof *p);
  p->name = name;
  p->role = role;
  p->type = t;
  p->init = init;
  p->layer = layer;
  p->layer_type = lt;
  p->loc = loc;
  vec_push(&ctx.arena, &m->params, p);
  return p;
}

static Type type2(DType dt, const char *a, const char *b) {
  Type t = {dt, b ? 2 : a ? 1 : 0, arena_alloc(&ctx.arena, 2 * sizeof(Dim))};
  if (a)
    t.dim[0] = D(a);
  if (b)
    t.dim[1] = D(b);
  return t;
}

static Node *N(Func *f, Region *r, OpKind op, int nin, Node **in, int nattr,
               const Attr *attr, const char *name, SrcLoc loc) {
  return ir_node(&ctx, mod, f, r, op, nin, in, nattr, attr, name, loc);
}

static Node *param_node(Func *f, ParamDecl *p, OpKind op) {
  Attr a[3] = {
      attr_str("name", p->name), attr_dtype("dtype", p->type.dtype), {0}};
  a[2].key = "shape";
  a[2].kind = AK_DIMS;
  a[2].n = p->type.rank;
  a[2].dims = p->type.dim;
  return N(f, &f->body, op, 0, NULL, 3, a, p->name, p->loc);
}

static Node *input_node(Func *f, const char *name, int index, DType dt,
                        const char *d0, const char *d1, SrcLoc loc) {
  Attr a[4] = {attr_str("name", name), attr_int("index", index),
               attr_dtype("dtype", dt), adims("shape", d1 ? 2 : 1, d0, d1)};
  Node *n = N(f, &f->body, OP_INPUT, 0, NULL, 4, a, name, loc);
  f->inputs = arena_grow(&ctx.arena, f->inputs, sizeof(Node *) * (size_t)f->nin,
                         sizeof(Node *) * (size_t)(f->nin + 1));
  f->inputs[f->nin++] = n;
  return n;
}

static void set_out(Region *r, int n, ...) {
  va_list ap;
  r->nout = n;
  r->out = arena_alloc(&ctx.arena, sizeof(Node *) * (size_t)(n + 1));
  va_start(ap, n);
  for (int i = 0; i < n; i++)
    r->out[i] = va_arg(ap, Node *);
  va_end(ap);
}

/* An RNN-ish model: a projection, a scan over T, a mean, a buffer update;
 * and a training step with minimize. */
static Func *build_forward(void) {
  Func *f = ir_func_new(&ctx, model, "forward", FN_INFER, at(7, 3));
  ParamDecl *w = model->params.v[0], *b = model->params.v[1];
  Node *x = input_node(f, "x", 0, DT_F32, "B", "8", at(7, 14));
  Node *pw = param_node(f, w, OP_PARAM);
  Attr perm = aints("perm", 2, 1, 0);
  Node *wt = N(f, &f->body, OP_PERMUTE, 1, &pw, 1, &perm, NULL, at(9, 13));
  Node *in2[3] = {x, wt, NULL};
  Node *y = N(f, &f->body, OP_MATMUL, 2, in2, 0, NULL, "y", at(9, 9));
  Node *pb = param_node(f, b, OP_PARAM);
  in2[0] = y;
  in2[1] = pb;
  y = N(f, &f->body, OP_ADD, 2, in2, 0, NULL, "y", at(10, 9));
  Attr c[3] = {attr_float("value", 0), attr_dtype("dtype", DT_F32),
               adims("shape", 0)};
  Node *zero = N(f, &f->body, OP_CONST, 0, NULL, 3, c, NULL, (SrcLoc){0});
  Attr ex = adims("shape", 2, "B", "16");
  Node *h0 = N(f, &f->body, OP_EXPAND, 1, &zero, 1, &ex, "h0", at(11, 5));
  Attr sa[5] = {adims("start", 1, "0"), adims("steps", 1, "T"),
                attr_int("reverse", 1), attr_int("ncarry", 1),
                aints("axes", 1, 0)};
  Node *s = N(f, &f->body, OP_SCAN, 1, &h0, 5, sa, "s", at(12, 5));
  Attr ca[3] = {attr_int("index", 0), attr_dtype("dtype", DT_F32),
                adims("shape", 2, "B", "16")};
  Node *h = N(f, s->body, OP_SCAN_CARRY, 0, NULL, 3, ca, "h", at(12, 20));
  Node *t = N(f, s->body, OP_SCAN_INDEX, 0, NULL, 0, NULL, "t", at(12, 10));
  in2[0] = h;
  in2[1] = y;
  Node *hy = N(f, s->body, OP_ADD, 2, in2, 0, NULL, NULL, at(13, 11));
  Attr app = attr_str("approximate", "tanh");
  Node *h1 = N(f, s->body, OP_GELU, 1, &hy, 1, &app, "h", at(13, 7));
  Node *tf = N(f, s->body, OP_CAST, 1, &t, 1,
               (Attr[]){attr_dtype("dtype", DT_F32)}, NULL, at(14, 7));
  in2[0] = h1;
  in2[1] = tf;
  Node *o = N(f, s->body, OP_MUL, 2, in2, 0, NULL, "o", at(14, 7));
  set_out(s->body, 2, h1, o);
  shape_infer(&ctx, mod, s);
  Attr g0 = attr_int("index", 0), g1 = attr_int("index", 1);
  Node *os = N(f, &f->body, OP_GET, 1, &s, 1, &g0, "os", at(12, 5));
  Node *hl = N(f, &f->body, OP_GET, 1, &s, 1, &g1, "h", at(12, 5));
  Attr ma[2] = {aints("axes", 2, 0, 1), attr_int("keepdim", 0)};
  Node *m = N(f, &f->body, OP_MEAN, 1, &os, 2, ma, "m", at(15, 9));
  Attr un = attr_str("name", "bn.running_mean");
  N(f, &f->body, OP_UPDATE, 1, &m, 1, &un, NULL, at(16, 5));
  set_out(&f->body, 2, m, hl);
  f->out_names = arena_alloc(&ctx.arena, 2 * sizeof(char *));
  f->out_names[0] = "out0";
  f->out_names[1] = "h";
  return f;
}

static Func *build_step(void) {
  Func *f = ir_func_new(&ctx, model, "step", FN_TRAIN, (SrcLoc){0});
  Node *x = input_node(f, "x", 0, DT_F32, "B", "8", at(20, 14));
  Node *lbl = input_node(f, "y", 1, DT_I32, "B", NULL, at(20, 30));
  Attr ax = attr_int("axis", 1);
  Node *p = N(f, &f->body, OP_LOG_SOFTMAX, 1, &x, 1, &ax, NULL, at(21, 5));
  Attr oh[2] = {adims("n", 1, "8"), attr_dtype("dtype", DT_F32)};
  Node *o = N(f, &f->body, OP_ONE_HOT, 1, &lbl, 2, oh, NULL, at(21, 9));
  Node *in2[2] = {p, o};
  Node *pl = N(f, &f->body, OP_MUL, 2, in2, 0, NULL, NULL, at(21, 9));
  Attr all = aints("axes", 0);
  Node *s = N(f, &f->body, OP_SUM, 1, &pl, 1, &all, NULL, at(21, 9));
  Node *loss = N(f, &f->body, OP_NEG, 1, &s, 0, NULL, "loss", at(21, 5));
  Attr mn[5] = {attr_str("optimizer", "adam"), attr_float("lr", 1e-3),
                attr_float("beta1", 0.9), attr_float("weight_decay", 1),
                attr_str("over", "fc1,\"q\\")};
  N(f, &f->body, OP_MINIMIZE, 1, &loss, 5, mn, NULL, at(22, 5));
  set_out(&f->body, 1, loss);
  f->out_names = arena_alloc(&ctx.arena, sizeof(char *));
  f->out_names[0] = "loss";
  return f;
}

static void build_module(void) {
  model = new_model("MLP", at(1, 1));
  decl(model, "fc1.weight", PR_PARAM, type2(DT_F32, "16", "8"),
       "kaiming_uniform(a=2.23606798,mode=\"fan_in\")", "fc1", "Linear",
       at(4, 3));
  decl(model, "fc1.bias", PR_PARAM, type2(DT_F32, "16", NULL),
       "uniform(-0.353553385, 0.353553385)", "fc1", "Linear", at(6, 5));
  decl(model, "bn.running_mean", PR_BUFFER, type2(DT_F32, "16", NULL), "zeros",
       "bn", "BatchNorm1d", at(80, 3));
  decl(model, "emb", PR_PARAM, type2(DT_F64, "V", "4"), "normal(0, 1) x", NULL,
       "MLP", (SrcLoc){0});
  decl(model, "scale", PR_PARAM, type2(DT_F32, NULL, NULL), NULL, NULL, NULL,
       at(3, 3));
  build_forward();
  build_step();
  new_model("Empty", (SrcLoc){0});
}

static char *dump(Module *m) {
  StrBuf b = {0};
  ir_dump(&b, m);
  char *s = arena_strdup(&ctx.arena, b.s);
  sb_free(&b);
  return s;
}

static Module *parse(const char *text) {
  return ir_parse(&ctx, nnc_source_string(&ctx, "ir.txt", text));
}

/* ---------------------------------------------------------- tests */

static const char *expected_forward =
    "  fn forward(%x) -> (out0, h) @test.nn:7:3 {\n"
    "    %x = input name=\"x\" index=0 dtype=f32 shape=[B,8] : f32[B,8] "
    "@test.nn:7:14\n"
    "    %fc1.weight = param name=\"fc1.weight\" dtype=f32 shape=[16,8] : "
    "f32[16,8] @test.nn:4:3\n"
    "    %t2 = permute %fc1.weight perm=[1,0] : f32[8,16] @test.nn:9:13\n"
    "    %y = matmul %x, %t2 : f32[B,16] @test.nn:9:9\n"
    "    %fc1.bias = param name=\"fc1.bias\" dtype=f32 shape=[16] : f32[16] "
    "@test.nn:6:5\n"
    "    %y.1 = add %y, %fc1.bias : f32[B,16] @test.nn:10:9\n"
    "    %t6 = const value=0 dtype=f32 shape=[] : f32[]\n"
    "    %h0 = expand %t6 shape=[B,16] : f32[B,16] @test.nn:11:5\n"
    "    %s = scan %h0 start=[0] steps=[T] reverse=1 ncarry=1 axes=[0] : "
    "(f32[T,B,16], f32[B,16]) @test.nn:12:5 {\n"
    "      %h = scan_carry index=0 dtype=f32 shape=[B,16] : f32[B,16] "
    "@test.nn:12:20\n"
    "      %t = scan_index : i32[] @test.nn:12:10\n"
    "      %t11 = add %h, %y.1 : f32[B,16] @test.nn:13:11\n"
    "      %h.1 = gelu %t11 approximate=\"tanh\" : f32[B,16] @test.nn:13:7\n"
    "      %t13 = cast %t dtype=f32 : f32[] @test.nn:14:7\n"
    "      %o = mul %h.1, %t13 : f32[B,16] @test.nn:14:7\n"
    "      yield %h.1, %o\n"
    "    }\n"
    "    %os = get %s index=0 : f32[T,B,16] @test.nn:12:5\n"
    "    %h.2 = get %s index=1 : f32[B,16] @test.nn:12:5\n"
    "    %m = mean %os axes=[0,1] keepdim=0 : f32[16] @test.nn:15:9\n"
    "    %t18 = update %m name=\"bn.running_mean\" : f32[16] @test.nn:16:5\n"
    "    return %m, %h.2\n"
    "  }\n";

START_TEST(test_dump_format) {
  NO_ERROR(build_module());
  char *d = dump(mod);
  ck_assert_ptr_eq(
      strstr(d, "# nnc IR\ndims V B T\nmodel MLP @test.nn:1:1 {\n"), d);
  ck_assert_ptr_nonnull(
      strstr(d, "\n  param fc1.weight : f32[16,8] "
                "init=kaiming_uniform(a=2.23606798,mode=\"fan_in\") "
                "layer=\"fc1:Linear\" @test.nn:4:3\n"));
  ck_assert_ptr_nonnull(
      strstr(d, "\n  buffer bn.running_mean : f32[16] init=zeros "
                "layer=\"bn:BatchNorm1d\" @test.nn:80:3\n"));
  ck_assert_ptr_nonnull(strstr(
      d, "\n  param emb : f64[V,4] init=\"normal(0, 1) x\" layer=\":MLP\"\n"));
  ck_assert_ptr_nonnull(strstr(d, "\n  param scale : f32[] @test.nn:3:3\n"));
  ck_assert_msg(strstr(d, expected_forward), "dump:\n%s", d);
  ck_assert_ptr_nonnull(strstr(
      d, "\n  train step(%x, %y) -> (loss) {\n"
         "    %x = input name=\"x\" index=0 dtype=f32 shape=[B,8] : f32[B,8] "
         "@test.nn:20:14\n"));
  ck_assert_ptr_nonnull(
      strstr(d, " = minimize %loss optimizer=\"adam\" lr=0.001 beta1=0.9 "
                "weight_decay=1 over=\"fc1,\\\"q\\\\\" : f32[] @test.nn:22:5\n"
                "    return %loss\n  }\n}\nmodel Empty {\n}\n"));
}
END_TEST

START_TEST(test_round_trip) {
  NO_ERROR(build_module());
  NO_ERROR(ir_verify(&ctx, mod));
  char *d1 = dump(mod);
  Module *m2 = NULL;
  NO_ERROR(m2 = parse(d1));
  NO_ERROR(ir_verify(&ctx, m2));
  char *d2 = dump(m2);
  ck_assert_str_eq(d1, d2);
  /* what the reader rebuilt */
  ck_assert_int_eq(m2->models.n, 2);
  Model *md = m2->models.v[0];
  ck_assert_int_eq(md->params.n, 5);
  ParamDecl *emb = ir_find_param(md, "emb");
  ck_assert_str_eq(emb->init, "normal(0, 1) x");
  ck_assert_str_eq(ir_find_param(md, "fc1.bias")->init,
                   "uniform(-0.353553385, 0.353553385)");
  ck_assert_str_eq(emb->layer, "");
  ck_assert_str_eq(emb->layer_type, "MLP");
  ck_assert_ptr_null(emb->loc.file);
  ParamDecl *w = ir_find_param(md, "fc1.weight");
  ck_assert_str_eq(w->layer, "fc1");
  ck_assert_str_eq(w->layer_type, "Linear");
  ck_assert_str_eq(w->loc.file->name, "test.nn");
  ck_assert_int_eq(w->loc.line, 4);
  ck_assert_ptr_null(w->loc.file->text);
  ck_assert_ptr_null(ir_find_param(md, "scale")->init);
  Func *f = md->funcs.v[0];
  ck_assert_int_eq(f->nin, 1);
  ck_assert_str_eq(f->inputs[0]->name, "x");
  Node *m = ir_func_lookup(f, "m");
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_eq(f->body.out[0], m);
  Node *s = ir_func_lookup(f, "s");
  ck_assert_int_eq(s->op, OP_SCAN);
  ck_assert_int_eq(s->nresult, 2);
  ck_assert_ptr_eq(s->body->parent, &f->body);
  ck_assert_int_eq(ir_attr_int(s, "reverse", 0), 1);
  ck_assert_ptr_eq(ir_func_lookup(f, "t6")->loc.file, NULL);
  Func *step = md->funcs.v[1];
  ck_assert_int_eq(step->kind, FN_TRAIN);
  Node *mn = step->body.last;
  ck_assert_int_eq(mn->op, OP_MINIMIZE);
  ck_assert_int_eq(ir_attr(mn, "weight_decay")->kind, AK_FLOAT);
  ck_assert_str_eq(ir_attr(mn, "over")->s, "fc1,\"q\\");
  ck_assert(ir_attr_float(mn, "lr", 0) == (double)1e-3);
  ck_assert_int_eq(ir_attr(ir_func_lookup(f, "t6"), "value")->kind, AK_FLOAT);
  /* same file object for every location naming it */
  ck_assert_ptr_eq(ir_func_lookup(f, "y")->loc.file, w->loc.file);
}
END_TEST

START_TEST(test_parse_handwritten) {
  const char *text =
      "# nnc IR\n"
      "dims B\n"
      "# a comment line\n"
      "model Tiny {\n"
      "  param w : f32[3,2*B+1] init=ones\n"
      "  fn f(%a) -> (r) {\n"
      "    %a = input name=\"a\" index=0 dtype=f32 shape=[B,3] : f32[B,3]\n"
      "    %w = param name=\"w\" dtype=f32 shape=[3,2*B+1] : f32[3,2*B+1]\n"
      "    %r = matmul %a, %w : f32[B,2*B+1] @x.nn:3:4\n"
      "    %k = const value=-inf dtype=f64 shape=[] : f64[]\n"
      "    %n = const value=nan dtype=f64 shape=[] : f64[]\n"
      "    %p = const value=1e+30 dtype=f32 shape=[B*B,1] : f32[B*B,1]\n"
      "    return %r\n"
      "  }\n"
      "}\n";
  Module *m = NULL;
  NO_ERROR(m = parse(text));
  NO_ERROR(ir_verify(&ctx, m));
  char *d = dump(m);
  ck_assert_ptr_nonnull(
      strstr(d, "%r = matmul %a, %w : f32[B,2*B+1] @x.nn:3:4\n"));
  ck_assert_ptr_nonnull(strstr(d, "value=-inf"));
  ck_assert_ptr_nonnull(strstr(d, "value=nan"));
  ck_assert_ptr_nonnull(strstr(d, "value=1e+30"));
  ck_assert_ptr_null(strstr(d, "comment"));
  Module *m2 = NULL;
  NO_ERROR(m2 = parse(d));
  ck_assert_str_eq(dump(m2), d);
}
END_TEST

static const char *head =
    "# nnc IR\ndims B\nmodel M {\n  fn f(%x) -> (out0) {\n"
    "    %x = input name=\"x\" index=0 dtype=f32 shape=[B,3] : f32[B,3]\n";

static void parse_body(const char *body) {
  parse(arena_printf(&ctx.arena, "%s%s", head, body));
}

START_TEST(test_parse_errors) {
  EXPECT_ERROR(parse_body("    %y exp %x : f32[B,3]\n    return %y\n  }\n}\n"),
               "ir.txt:6:8: error: expected '=' after %y");
  EXPECT_ERROR(parse_body("    %y = foo %x : f32[B,3]\n"),
               "ir.txt:6:10: error: unknown op 'foo'");
  EXPECT_ERROR(parse_body("    %y = exp %z : f32[B,3]\n"),
               "ir.txt:6:14: error: %z is not defined");
  EXPECT_ERROR(parse_body("    %y = exp %x : f32[B,4]\n"),
               "ir.txt:6:19: error: %y: the dump says f32[B,4] but the shape "
               "rule gives f32[B,3]");
  EXPECT_ERROR(parse_body("    %y = exp %x, %x : f32[B,3]\n"),
               "ir.txt:6:10: error: exp takes 1 operand, got 2");
  EXPECT_ERROR(parse_body("    %x = exp %x : f32[B,3]\n"),
               "%x is defined twice");
  EXPECT_ERROR(parse_body("    %y = exp %x : f32[T,3]\n"),
               "dimension T is not listed on the dims line");
  EXPECT_ERROR(parse_body("    %y = sum %x axes=[B] : f32[]\n"),
               "expected an integer");
  EXPECT_ERROR(parse_body("    %y = cast %x dtype=f16 : f32[B,3]\n"),
               "bad value 'f16' for attribute dtype");
  EXPECT_ERROR(parse_body("    %y = exp %x\n    return %y\n"),
               "ir.txt:7:5: error: expected an attribute or ':' and the type "
               "of %y");
  EXPECT_ERROR(parse_body("    %y = exp %x : f32[B,3]\n  }\n}\n"),
               "expected a node or 'return'");
  EXPECT_ERROR(parse_body("    return %x, %x\n  }\n}\n"),
               "f declares 1 results but returns 2");
  EXPECT_ERROR(parse_body("    return %x\n  }\n"), "expected param, buffer");
  EXPECT_ERROR(parse_body("    %s = update %x name=\"a : f32[B,3]\n"),
               "unterminated string");
  EXPECT_ERROR(parse_body("    %y = exp %x : f32[B,3] @foo\n"),
               "expected a location file:line:col");
  EXPECT_ERROR(parse("model M {\n}\n"),
               "ir.txt:1:1: error: expected the '# nnc IR' header");
  EXPECT_ERROR(
      parse("# nnc IR\nmodel M {\n  fn f(%q) -> () {\n    return\n  }\n}\n"),
      "%q is not an input node of f");
  EXPECT_ERROR(parse("# nnc IR\ndims B B\n"), "dimension B is listed twice");
  EXPECT_ERROR(parse("# nnc IR\nmodule M {\n}\n"),
               "ir.txt:2:1: error: expected 'model'");
  /* a scan body's values are not visible after it */
  EXPECT_ERROR(
      parse_body("    %s = scan %x start=[0] steps=[B] ncarry=1 axes=[] : "
                 "(f32[B,3]) {\n"
                 "      %c = scan_carry index=0 dtype=f32 shape=[B,3] : "
                 "f32[B,3]\n"
                 "      %d = exp %c : f32[B,3]\n"
                 "      yield %d\n"
                 "    }\n"
                 "    return %d\n  }\n}\n"),
      "ir.txt:11:12: error: %d is not defined");
  /* ... and a scan is not visible inside its own body */
  EXPECT_ERROR(
      parse_body("    %s = scan %x start=[0] steps=[B] ncarry=1 axes=[] : "
                 "(f32[B,3]) {\n"
                 "      %g = get %s index=0 : f32[B,3]\n"),
      "%s is not defined");
  EXPECT_ERROR(
      parse_body("    %s = scan %x start=[0] steps=[B] ncarry=1 axes=[] : "
                 "(f32[B,3], f32[B,3]) {\n"
                 "      yield %x\n    }\n"),
      "the dump lists 2 result types but the scan has 1");
}
END_TEST

START_TEST(test_names) {
  model = new_model("M", (SrcLoc){0});
  Func *f = ir_func_new(&ctx, model, "f", FN_INFER, (SrcLoc){0});
  ck_assert_int_eq(model->funcs.n, 1);
  Node *x = input_node(f, "x", 0, DT_F32, "4", NULL, (SrcLoc){0});
  Node *a = N(f, &f->body, OP_EXP, 1, &x, 0, NULL, "x", (SrcLoc){0});
  Node *b = N(f, &f->body, OP_EXP, 1, &a, 0, NULL, "x", (SrcLoc){0});
  Node *t = N(f, &f->body, OP_EXP, 1, &b, 0, NULL, "t4", (SrcLoc){0});
  Node *u = N(f, &f->body, OP_EXP, 1, &t, 0, NULL, NULL, (SrcLoc){0});
  Node *v = N(f, &f->body, OP_EXP, 1, &u, 0, NULL, "x.1", (SrcLoc){0});
  ck_assert_str_eq(a->name, "x.1");
  ck_assert_str_eq(b->name, "x.2");
  ck_assert_str_eq(t->name, "t4");
  ck_assert_str_eq(u->name, "t4.1");
  ck_assert_str_eq(v->name, "x.1.1");
  ck_assert_int_eq(u->id, 4);
  ck_assert_ptr_eq(ir_func_lookup(f, "x.2"), b);
  ck_assert_ptr_null(ir_func_lookup(f, "x.3"));
  ck_assert_ptr_eq(f->body.first, x);
  ck_assert_ptr_eq(f->body.last, v);
  ck_assert_ptr_eq(a->next, b);
  for (int i = 0; i < 200; i++)
    N(f, &f->body, OP_EXP, 1, &x, 0, NULL, "z", (SrcLoc){0});
  ck_assert_str_eq(f->body.last->name, "z.199");
  ck_assert_int_eq(ir_func_lookup(f, "z.100")->id, 106);
  /* names assigned directly: the table is rebuilt on request */
  a->name = "k";
  b->name = "k";
  ck_assert_ptr_null(ir_func_lookup(f, "x.1"));
  ir_func_names(&ctx, f);
  ck_assert_str_eq(a->name, "k");
  ck_assert_str_eq(b->name, "k.1");
  ck_assert_str_eq(x->name, "x");
  ck_assert_ptr_eq(ir_func_lookup(f, "k.1"), b);
  Node *k2 = N(f, &f->body, OP_EXP, 1, &x, 0, NULL, "k", (SrcLoc){0});
  ck_assert_str_eq(k2->name, "k.2");
  /* ... and by a successful ir_verify */
  t->name = "w";
  NO_ERROR(ir_verify(&ctx, mod));
  ck_assert_ptr_eq(ir_func_lookup(f, "w"), t);
  ck_assert_str_eq(
      N(f, &f->body, OP_EXP, 1, &x, 0, NULL, "w", (SrcLoc){0})->name, "w.1");
}
END_TEST

START_TEST(test_attrs_types) {
  model = new_model("M", (SrcLoc){0});
  Func *f = ir_func_new(&ctx, model, "f", FN_INFER, (SrcLoc){0});
  Node *x = input_node(f, "x", 0, DT_F32, "B", "4", (SrcLoc){0});
  char key[8] = "slope";
  Attr sl = attr_float(key, 0.25);
  Node *l = N(f, &f->body, OP_LEAKY_RELU, 1, &x, 1, &sl, NULL, (SrcLoc){0});
  strcpy(key, "zzz"); /* attributes are copied */
  ck_assert_ptr_nonnull(ir_attr(l, "slope"));
  ck_assert(ir_attr_float(l, "slope", 0) == 0.25);
  ck_assert(ir_attr_float(l, "alpha", 1.5) == 1.5);
  ck_assert_int_eq(ir_attr_int(x, "index", -1), 0);
  ck_assert_int_eq(ir_attr_int(x, "dtype", -1), DT_F32);
  ck_assert_int_eq(ir_attr_int(x, "name", -1), -1);
  ck_assert(ir_attr_float(x, "index", -1) == 0);
  ck_assert_ptr_null(ir_attr(x, "nope"));
  ck_assert(type_eq(x->type, l->type));
  ck_assert(!type_eq(x->type, type2(DT_F64, "B", "4")));
  ck_assert(!type_eq(x->type, type2(DT_F32, "B", "5")));
  ck_assert(!type_eq(x->type, type2(DT_F32, "B", NULL)));
  ck_assert_int_eq(type_numel_const(x->type), -1);
  ck_assert_int_eq(type_numel_const(type2(DT_F32, "3", "4")), 12);
  ck_assert_int_eq(type_numel_const(type2(DT_F32, NULL, NULL)), 1);
  ck_assert_int_eq(type_numel_const(type2(DT_F32, "4294967296", "4294967296")),
                   -1);
  StrBuf b = {0};
  type_print(&b, &mod->syms, type2(DT_BOOL, NULL, NULL));
  ck_assert_str_eq(b.s, "bool[]");
  sb_free(&b);
  ck_assert_int_eq(op_lookup("upsample_nearest"), OP_UPSAMPLE);
  ck_assert_int_eq(op_lookup("not"), OP_NOT);
  ck_assert_int_eq(op_lookup("frobnicate"), -1);
  ck_assert_str_eq(nnc_ops[OP_SCAN].name, "scan");
  ck_assert_int_eq(nnc_ops[OP_CONCAT].arity, -1);
  ck_assert_int_eq(nnc_ops[OP_WHERE].arity, 3);
  ck_assert_int_eq(nnc_ops[OP_MATMUL].cls, OC_MATMUL);
}
END_TEST

/* ---------------------------------------------------------- verifier */

static Func *fwd(void) { return model->funcs.v[0]; }

static Node *find(const char *name) { return ir_func_lookup(fwd(), name); }

START_TEST(test_verify_order) {
  NO_ERROR(build_module());
  /* move %t2 (permute) after %y (matmul), which uses it */
  Node *pw = find("fc1.weight"), *t2 = find("t2"), *y = find("y");
  pw->next = y;
  t2->next = y->next;
  y->next = t2;
  EXPECT_ERROR(ir_verify(&ctx, mod),
               "test.nn:9:9: error: IR verifier: forward: operand 2 of %y "
               "(%t2) is not defined before it");
}
END_TEST

START_TEST(test_verify_type) {
  NO_ERROR(build_module());
  find("y")->type = find("x")->type;
  EXPECT_ERROR(ir_verify(&ctx, mod),
               "IR verifier: forward: %y has type f32[B,8] but its shape rule "
               "gives f32[B,16]");
}
END_TEST

START_TEST(test_verify_scan_result) {
  NO_ERROR(build_module());
  Node *s = find("s");
  s->result[0] = find("x")->type;
  EXPECT_ERROR(ir_verify(&ctx, mod), "IR verifier: forward: %s has type");
}
END_TEST

START_TEST(test_verify_names) {
  NO_ERROR(build_module());
  find("m")->name = "os";
  EXPECT_ERROR(ir_verify(&ctx, mod), "node name %os is used twice");
}
END_TEST

START_TEST(test_verify_param) {
  NO_ERROR(build_module());
  ParamDecl *w = ir_find_param(model, "fc1.bias");
  w->type = type2(DT_F32, "17", NULL);
  EXPECT_ERROR(ir_verify(&ctx, mod),
               "%fc1.bias has type f32[16] but fc1.bias is declared f32[17]");
  w->type = type2(DT_F32, "16", NULL);
  w->role = PR_BUFFER;
  EXPECT_ERROR(ir_verify(&ctx, mod), "model MLP has no param named fc1.bias");
  w->role = PR_PARAM;
  ir_find_param(model, "bn.running_mean")->role = PR_PARAM;
  EXPECT_ERROR(ir_verify(&ctx, mod),
               "model MLP has no buffer named bn.running_mean");
}
END_TEST

START_TEST(test_verify_outputs) {
  NO_ERROR(build_module());
  Func *f = fwd();
  f->body.out[1] = find("o"); /* lives in the scan body */
  EXPECT_ERROR(ir_verify(&ctx, mod), "result 2 (%o) is not defined");
  f->body.out[1] = find("h.2");
  Node *m = find("m");
  m->in[0] = find("h.1"); /* also in the scan body */
  EXPECT_ERROR(ir_verify(&ctx, mod), "operand 1 of %m (%h.1) is not defined");
}
END_TEST

START_TEST(test_verify_misc) {
  NO_ERROR(build_module());
  Node *y = find("y");
  y->nin = 1;
  EXPECT_ERROR(ir_verify(&ctx, mod), "%y: matmul takes 2 operands, got 1");
  y->nin = 2;
  fwd()->inputs[0] = y;
  EXPECT_ERROR(ir_verify(&ctx, mod), "forward: argument 1 is not its input");
  fwd()->inputs[0] = find("x");
  NO_ERROR(ir_verify(&ctx, mod));
  find("s")->body->last = NULL;
  EXPECT_ERROR(ir_verify(&ctx, mod), "a region's last node is wrong");
}
END_TEST

/* ---------------------------------------------------------- fusion */

static const char *ln_model =
    "model LN {\n  ln = LayerNorm(8)\n"
    "  fn forward(x: f32[B, T, 8]) {\n    return relu(ln(x))\n  }\n}\n";

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
    n++;
  return n;
}

static Module *compiled(const char *src, int opt) {
  Module *m = nnc_elaborate_string(&ctx, "ln.nn", src);
  PassOptions po = {NULL, NULL, opt};
  nnc_run_passes(&ctx, m, &po);
  return m;
}

START_TEST(test_fuse_layer_norm) {
  Module *m = NULL;
  NO_ERROR(m = compiled(ln_model, 1));
  char *d = dump(m);
  /* one kernel in three stages: the mean; (x - mean)^2 summed as it is
   * made; eps + rsqrt per row, then normalise, affine and relu (rule 5) */
  ck_assert_int_eq(count(d, " = fused "), 1);
  ck_assert_msg(strstr(d, "    %fused = fused %x, %t5, %ln.weight, %ln.bias : (f32[B,T,8]) "),
                "%s", d);
  ck_assert_ptr_nonnull(strstr(d, "      %t14 = mean %x axes=[2] keepdim=0 : f32[B,T]"));
  ck_assert_ptr_nonnull(strstr(d, "      %t3 = mul %d, %d : f32[B,T,8]"));
  ck_assert_ptr_nonnull(strstr(d, "      %t7 = rsqrt %t6 : f32[B,T,1]"));
  ck_assert_ptr_nonnull(strstr(d, "      %t8 = mul %d, %t7 : f32[B,T,8]"));
  ck_assert_ptr_nonnull(strstr(d, "      yield %t13.1\n    }\n"
                                  "    %t13 = get %fused index=0 : f32[B,T,8]"));
  ck_assert_ptr_nonnull(strstr(d, "= relu "));
  ck_assert_ptr_null(strstr(d, "\n    %t3 = ")); /* only inside the group */
  /* the dump reads back as it was, and fusing again changes nothing */
  Module *m2 = NULL;
  NO_ERROR(m2 = parse(d));
  ck_assert_str_eq(dump(m2), d);
  PassOptions po = {NULL, NULL, 1};
  NO_ERROR(nnc_run_passes(&ctx, m2, &po));
  ck_assert_str_eq(dump(m2), d);
  /* the dot graph draws the group as a cluster holding its members */
  char *dot = NULL;
  size_t dlen = 0;
  FILE *df = open_memstream(&dot, &dlen);
  nnc_dot(df, m);
  fclose(df);
  ck_assert_msg(strstr(dot, "subgraph \"cluster_LN.forward/fused\" {\n"
                            "      label=\"fused fused\"; style=\"rounded,filled\""),
                "%s", dot);
  ck_assert_ptr_nonnull(strstr(dot, "\"LN.forward/t3\" [shape=box, label=\"mul\\nf32[B,T,8]\"]"));
  free(dot);
  /* -O0: nothing fused */
  NO_ERROR(m = compiled(ln_model, 0));
  ck_assert_ptr_null(strstr(dump(m), "fused"));
}
END_TEST

/* A weight's gradient by a matrix product is added into its buffer right
 * after the product, in the backward pass's order (the last layer's
 * first), not where backprop left the accum_grad nodes (at the end, in the
 * parameters' order): the product then reads the output gradient while it
 * is in cache. Not at -O0. */
static const char *mlp3_model =
    "model M3 {\n  fc1 = Linear(6, 5)\n  fc2 = Linear(5, 4)\n  fc3 = Linear(4, 3)\n"
    "  fn forward(x: f32[B, 6]) {\n    return fc3(relu(fc2(relu(fc1(x)))))\n  }\n"
    "  train step(x: f32[B, 6], y: i32[B]) {\n"
    "    loss = cross_entropy(forward(x), y)\n    minimize loss with sgd(lr = 0.1)\n"
    "    return loss\n  }\n}\n";

/* The line of d where `what` starts, from 0; -1 if none. */
static int line_of(const char *d, const char *what) {
  const char *p = strstr(d, what);
  if (!p)
    return -1;
  int n = 0;
  for (const char *q = d; q < p; q++)
    n += *q == '\n';
  return n;
}

START_TEST(test_weight_grad_order) {
  for (int opt = 1; opt >= 0; opt--) {
    Module *m = NULL;
    NO_ERROR(m = compiled(mlp3_model, opt));
    char *d = dump(m);
    int at[3];
    for (int l = 0; l < 3; l++) {
      char name[64];
      snprintf(name, sizeof name, "name=\"fc%d.weight\" :", l + 1); /* accum_grad */
      at[l] = line_of(d, name);
      ck_assert_int_ge(at[l], 1);
      /* the line before: the product the accum_grad adds */
      const char *p = d;
      for (int k = 0; k < at[l] - 1; k++)
        p = strchr(p, '\n') + 1;
      const char *acc = strchr(p, '\n') + 1, *arg = strstr(acc, "accum_grad %") + 11;
      char want[64];
      snprintf(want, sizeof want, "%.*s = matmul ", (int)strcspn(arg, " "), arg);
      ck_assert_msg(opt == 0 || !strncmp(p + strspn(p, " "), want, strlen(want)),
                    "fc%d: %.60s", l + 1, p);
    }
    if (opt)
      ck_assert_msg(at[2] < at[1] && at[1] < at[0], "%d %d %d", at[0], at[1], at[2]);
    else
      ck_assert_msg(at[0] < at[1] && at[1] < at[2], "%d %d %d", at[0], at[1], at[2]);
  }
}
END_TEST

/* Rule 7: a convolution's bias and ReLU (the group of the two, its one
 * reader) become its epilogue; its bias alone too; not where anything
 * else reads the convolution's output. */
static const char *conv_model =
    "model CB {\n  c1 = Conv2d(3, 8, 3, padding = 1)\n  c2 = Conv2d(8, 4, 3)\n"
    "  c3 = Conv2d(4, 4, 1)\n"
    "  fn forward(x: f32[B, 3, 9, 9]) {\n    h = relu(c1(x))\n    g = c2(h)\n"
    "    y = c3(g)\n    return relu(y) + y\n  }\n}\n";

/* d (a dump) holds s. */
#define HAS(d, s) ck_assert_msg(strstr((d), (s)), "%s", (d))

/* What a convolution fusion's test ends with: the dump d of model src
 * reads back as it was, and at -O0 no node has `attr`. */
static void fused_conv_roundtrip(const char *src, const char *d, const char *attr) {
  Module *m = NULL, *m2 = NULL;
  NO_ERROR(m2 = parse(d));
  ck_assert_str_eq(dump(m2), d);
  NO_ERROR(m = compiled(src, 0));
  ck_assert_ptr_null(strstr(dump(m), attr));
}

/* The dump of src compiled at -O1. */
static char *fused_dump(const char *src) {
  Module *m = NULL;
  NO_ERROR(m = compiled(src, 1));
  return dump(m);
}

/* c1 (3x3, padding 1) with its bias and ReLU as the epilogue */
#define C1_EPILOGUE                                                                    \
  "= conv2d %x, %c1.weight, %c1.bias stride=[1,1] padding=[1,1] dilation=[1,1] "       \
  "groups=1 bias=1 relu=1"

START_TEST(test_fuse_conv_epilogue) {
  char *d = fused_dump(conv_model);
  HAS(d, C1_EPILOGUE " : f32[B,8,9,9]");
  HAS(d, ", %c2.weight, %c2.bias stride=[1,1] padding=[0,0] "
             "dilation=[1,1] groups=1 bias=1 : f32[B,4,7,7]");
  /* c3's output is read twice: its bias stays an add */
  HAS(d, ", %c3.weight stride=[1,1] padding=[0,0] dilation=[1,1] "
             "groups=1 : f32[B,4,7,7]");
  ck_assert_int_eq(count(d, "bias=1"), 2);
  fused_conv_roundtrip(conv_model, d, "bias=1");
  /* a bias operand of the wrong size */
  EXPECT_ERROR(parse_body("    %w = param name=\"w\" dtype=f32 shape=[4,3,1,1] : f32[4,3,1,1]\n"
                          "    %b = param name=\"b\" dtype=f32 shape=[3] : f32[3]\n"
                          "    %y = conv2d %x, %w, %b bias=1 : f32[B,4,1,3]\n"),
               "conv2d: operand 3 must be f32[4], the bias of each output channel");
}
END_TEST

/* Rule 8: the forward's c1 takes its pooling (an odd 9x9 output, pooled
 * to 4x4); c2's pooling (no ReLU) and c3's (a kernel of 3) stay, as does
 * the training step's (its gradient reads c1's output again). */
static const char *pool_model =
    "model CP {\n  c1 = Conv2d(3, 8, 3, padding = 1)\n  c2 = Conv2d(8, 8, 1)\n"
    "  c3 = Conv2d(8, 4, 1)\n  p = MaxPool2d(2)\n  q = MaxPool2d(3, 1)\n"
    "  fn forward(x: f32[B, 3, 9, 9]) {\n    h = p(relu(c1(x)))\n    g = p(c2(h))\n"
    "    return q(relu(c3(h))) + g[:, :4, 1:, 1:]\n  }\n"
    "  train step(x: f32[B, 3, 9, 9]) {\n    loss = mean(p(relu(c1(x))))\n"
    "    minimize loss with sgd(lr = 0.1)\n    return loss\n  }\n}\n";

START_TEST(test_fuse_conv_pool) {
  char *d = fused_dump(pool_model);
  HAS(d, C1_EPILOGUE " pool=2 : f32[B,8,4,4]");
  ck_assert_int_eq(count(d, "pool=2"), 1); /* not c2, c3, nor the training step's */
  HAS(d, "bias=1 relu=1 : f32[B,8,9,9]"); /* the step's c1 */
  HAS(d, "bias=1 relu=1 : f32[B,4,4,4]"); /* c3, pooled by 3 */
  fused_conv_roundtrip(pool_model, d, "pool=2");
  EXPECT_ERROR(parse_body("    %w = param name=\"w\" dtype=f32 shape=[4,3,1,1] : f32[4,3,1,1]\n"
                          "    %b = param name=\"b\" dtype=f32 shape=[4] : f32[4]\n"
                          "    %y = conv2d %x, %w, %b bias=1 pool=2 : f32[B,4,0,1]\n"),
               "conv2d: pool=2 (its epilogue's MaxPool2d(2)) needs bias=1 relu=1");
}
END_TEST

static void parse_fused(const char *members, const char *types) {
  parse_body(arena_printf(&ctx.arena,
                          "    %%c = const value=2 dtype=f32 shape=[] : f32[]\n"
                          "    %%f = fused %%x, %%c : (%s) {\n%s"
                          "    }\n    %%y = get %%f index=0 : f32[B,3]\n"
                          "    return %%y\n  }\n}\n",
                          types, members));
}

START_TEST(test_fused_rules) {
  NO_ERROR(parse_fused("      %a = mul %x, %c : f32[B,3]\n"
                       "      %b = exp %a : f32[B,3]\n"
                       "      %s = sum %b axes=[1] keepdim=0 : f32[B]\n"
                       "      yield %b, %s\n",
                       "f32[B,3], f32[B]"));
  EXPECT_ERROR(parse_fused("      %a = softmax %x axis=1 : f32[B,3]\n      yield %a\n",
                           "f32[B,3]"),
               "fused: %a (softmax) cannot be part of a fused group");
  EXPECT_ERROR(parse_fused("      %z = full value=1 dtype=f32 shape=[3] : f32[3]\n"
                           "      %a = add %x, %z : f32[B,3]\n      yield %a\n",
                           "f32[B,3]"),
               "fused: %a is f32[B,3], not the group's shape f32[3]");
  /* stages: a kept member (reading a scalar operand), a view of it, and a
   * row member of stage 2 reading the view; the dump reads back as it was */
  Module *sm = NULL;
  NO_ERROR(sm = parse(arena_printf(
               &ctx.arena, "%s%s", head,
               "    %c = const value=2 dtype=f32 shape=[] : f32[]\n"
               "    %f = fused %x, %c : (f32[B,3]) {\n"
               "      %a = exp %x : f32[B,3]\n"
               "      %s = sum %a axes=[1] keepdim=0 : f32[B]\n"
               "      %k = mul %s, %c : f32[B]\n"
               "      %v = reshape %k shape=[B,1] : f32[B,1]\n"
               "      %b = div %a, %v : f32[B,3]\n"
               "      yield %b\n    }\n"
               "    %y = get %f index=0 : f32[B,3]\n    return %y\n  }\n}\n")));
  Model *smd = sm->models.v[0];
  Node *fz = ir_func_lookup(smd->funcs.v[0], "f");
  ck_assert_ptr_nonnull(fz);
  int stage[5];
  char red[2] = {0, 1};
  ck_assert_int_eq(ir_fused_stages(fz, fz->body->first->type, red, stage), 2);
  ck_assert_int_eq(stage[0], 1); /* exp */
  ck_assert_int_eq(stage[1], 1); /* its sum */
  ck_assert_int_eq(stage[2], 1); /* the kept product, after stage 1 */
  ck_assert_int_eq(stage[3], 1); /* its view */
  ck_assert_int_eq(stage[4], 2); /* the row that reads it */
  char *sd = dump(sm);
  Module *sm2 = NULL;
  NO_ERROR(sm2 = parse(sd));
  ck_assert_str_eq(dump(sm2), sd);
  /* a yield may not be a view */
  EXPECT_ERROR(parse_fused("      %a = exp %x : f32[B,3]\n"
                           "      %s = sum %a axes=[1] keepdim=0 : f32[B]\n"
                           "      %v = reshape %s shape=[B,1] : f32[B,1]\n"
                           "      %b = div %a, %v : f32[B,3]\n      yield %b, %v\n",
                           "f32[B,3], f32[B,1]"),
               "fused: yield 2 is a reshape");
  /* stages: a row member reads a reduction (kept shape [B,1]) */
  NO_ERROR(parse_fused("      %a = exp %x : f32[B,3]\n"
                       "      %s = sum %a axes=[1] keepdim=1 : f32[B,1]\n"
                       "      %b = mul %a, %s : f32[B,3]\n      yield %b\n",
                       "f32[B,3]"));
  EXPECT_ERROR(parse_fused("      %a = exp %x : f32[B,3]\n"
                           "      %s = sum %a axes=[1] keepdim=1 : f32[B,1]\n"
                           "      %b = mul %a, %s : f32[B,3]\n"
                           "      %s2 = sum %b axes=[1] keepdim=1 : f32[B,1]\n"
                           "      %b2 = mul %b, %s2 : f32[B,3]\n"
                           "      %s3 = sum %b2 axes=[1] keepdim=1 : f32[B,1]\n"
                           "      %b3 = mul %b2, %s3 : f32[B,3]\n"
                           "      %s4 = sum %b3 axes=[1] keepdim=1 : f32[B,1]\n"
                           "      %b4 = mul %b3, %s4 : f32[B,3]\n      yield %b4\n",
                           "f32[B,3]"),
               "fused: more than 4 stages");
  EXPECT_ERROR(parse_fused("      %a = exp %x : f32[B,3]\n"
                           "      %s = sum %a axes=[0] keepdim=0 : f32[3]\n"
                           "      yield %a, %s\n",
                           "f32[B,3], f32[3]"),
               "fused: the reductions must include the innermost axis of f32[B,3]");
  EXPECT_ERROR(parse_fused("      %a = exp %x : f32[B,3]\n"
                           "      %s = sum %a axes=[1] keepdim=0 : f32[B]\n"
                           "      %t = sum %a axes=[0,1] keepdim=0 : f32[]\n"
                           "      yield %s, %t\n",
                           "f32[B], f32[]"),
               "fused: %t reduces other axes than the group's first reduction");
  EXPECT_ERROR(parse_body("    %f = fused : (f32[B,3]) {\n"
                          "      %a = exp %x : f32[B,3]\n      yield %a\n    }\n"),
               "fused: %a reads %x, which is neither in the group nor one of its "
               "operands");
  EXPECT_ERROR(parse_body("    %y = exp %x : f32[B,3]\n"
                          "    %f = fused %x : (f32[B,3]) {\n"
                          "      %a = exp %x : f32[B,3]\n      yield %a\n    }\n"
                          "    %z = add %f, %y : f32[B,3]\n"),
               "operand 1 of add is a fused: read its results with get");
}
END_TEST

static Suite *ir_suite(void) {
  Suite *s = suite_create("ir");
  TCase *tc = tcase_create("ir");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_dump_format);
  tcase_add_test(tc, test_fuse_conv_epilogue);
  tcase_add_test(tc, test_fuse_conv_pool);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_parse_handwritten);
  tcase_add_test(tc, test_parse_errors);
  tcase_add_test(tc, test_names);
  tcase_add_test(tc, test_attrs_types);
  tcase_add_test(tc, test_verify_order);
  tcase_add_test(tc, test_verify_type);
  tcase_add_test(tc, test_verify_scan_result);
  tcase_add_test(tc, test_verify_names);
  tcase_add_test(tc, test_verify_param);
  tcase_add_test(tc, test_verify_outputs);
  tcase_add_test(tc, test_verify_misc);
  tcase_add_test(tc, test_fuse_layer_norm);
  tcase_add_test(tc, test_weight_grad_order);
  tcase_add_test(tc, test_fused_rules);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ir_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
