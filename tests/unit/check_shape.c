/* check_shape.c — unit tests of the shape rules (compiler/shape.c): for each
 * rule the types it infers and the errors it reports. Errors are caught by
 * pointing ctx.on_error at a jmp_buf and ctx.err at a memory stream. */
#include <check.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../compiler/nnc.h"
#include "errcapture.h"

static Module *mod;
static Func *fn;
static SrcLoc loc;
static int ninputs;
static char tbuf[512];

static void setup(void) {
  ctx_init(&ctx);
  ctx.on_error = &jb;
  err_open();
  mod = ir_module_new(&ctx);
  Model *m = arena_alloc(&ctx.arena, sizeof *m);
  m->name = "M";
  vec_push(&ctx.arena, &mod->models, m);
  loc.file = nnc_source_string(&ctx, "test.nn", "y = f(x)\n");
  loc.line = 1;
  loc.col = 5;
  fn = ir_func_new(&ctx, m, "f", FN_INFER, loc);
  ninputs = 0;
}

static void teardown(void) {
  err_close();
  ctx_free(&ctx);
}

/* ---------------------------------------------------------- builders */

/* One dimension: sums of products of integers and symbols ("2*B+1"). */
static Dim parse_dim(const char **s) {
  Dim d = dim_const(&ctx.arena, 0);
  for (;;) {
    Dim t = dim_const(&ctx.arena, 1);
    for (;;) {
      Dim f;
      if (isdigit((unsigned char)**s)) {
        f = dim_const(&ctx.arena, strtoll(*s, (char **)s, 10));
      } else {
        char name[32];
        int n = 0;
        while (isalnum((unsigned char)**s))
          name[n++] = *(*s)++;
        name[n] = 0;
        f = dim_var(&ctx.arena, dim_sym(&ctx.arena, &mod->syms, name));
      }
      ck_assert(dim_mul(&ctx.arena, t, f, &t));
      if (**s != '*')
        break;
      (*s)++;
    }
    ck_assert(dim_add(&ctx.arena, d, t, &d));
    if (**s != '+')
      return d;
    (*s)++;
  }
}

/* "B,784" into an arena array; returns the count. */
static int parse_dims(const char *s, Dim **out) {
  Dim *v = arena_alloc(&ctx.arena, sizeof(Dim) * 8);
  int n = 0;
  while (*s && *s != ']') {
    v[n++] = parse_dim(&s);
    if (*s == ',')
      s++;
  }
  *out = v;
  return n;
}

static Attr adims(const char *k, const char *spec) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_DIMS;
  a.n = parse_dims(spec, &a.dims);
  return a;
}

static Node *node(OpKind op, int nin, Node **in, int nattr, const Attr *attr) {
  return ir_node(&ctx, mod, fn, &fn->body, op, nin, in, nattr, attr, NULL, loc);
}

/* An input of type "f32[B,784]". */
static Node *input(const char *type) {
  char dt[8];
  int k = 0;
  while (type[k] != '[')
    k++;
  memcpy(dt, type, (size_t)k);
  dt[k] = 0;
  DType t;
  ck_assert(dtype_parse(dt, &t));
  Attr a[4] = {attr_str("name", "x"), attr_int("index", ninputs++),
               attr_dtype("dtype", t), adims("shape", type + k + 1)};
  return node(OP_INPUT, 0, NULL, 4, a);
}

static Node *op1(OpKind op, Node *x, int nattr, const Attr *attr) {
  return node(op, 1, &x, nattr, attr);
}

static Node *op2(OpKind op, Node *x, Node *y, int nattr, const Attr *attr) {
  Node *in[2] = {x, y};
  return node(op, 2, in, nattr, attr);
}

static const char *ty(const Node *n) {
  StrBuf b = {0};
  type_print(&b, &mod->syms, n->type);
  snprintf(tbuf, sizeof tbuf, "%s", b.s);
  sb_free(&b);
  return tbuf;
}

#define TYPE_IS(n, s) ck_assert_str_eq(ty(n), s)

/* ---------------------------------------------------------- sources */

START_TEST(test_input_param) {
  Node *x = input("f32[B,784]");
  TYPE_IS(x, "f32[B,784]");
  ck_assert_str_eq(x->name, "t0");
  TYPE_IS(input("i32[]"), "i32[]");
  Attr p[3] = {attr_str("name", "fc.weight"), attr_dtype("dtype", DT_F32),
               adims("shape", "10,784")};
  TYPE_IS(node(OP_PARAM, 0, NULL, 3, p), "f32[10,784]");
  TYPE_IS(node(OP_BUFFER, 0, NULL, 3, p), "f32[10,784]");
  EXPECT_ERROR(node(OP_PARAM, 0, NULL, 2, p + 1),
               "param needs the attribute 'name'");
  Attr bad[3] = {attr_str("name", "x"), attr_int("index", 0),
                 adims("shape", "3")};
  EXPECT_ERROR(node(OP_INPUT, 0, NULL, 3, bad),
               "input needs the attribute 'dtype'");
  Attr wrong[4] = {attr_str("name", "x"), attr_int("index", 0),
                   attr_int("dtype", 0), adims("shape", "3")};
  EXPECT_ERROR(node(OP_INPUT, 0, NULL, 4, wrong),
               "attribute 'dtype' of input must be a dtype");
}
END_TEST

START_TEST(test_fill_arange) {
  Attr c[3] = {attr_float("value", 0.5), attr_dtype("dtype", DT_F32),
               adims("shape", "")};
  TYPE_IS(node(OP_CONST, 0, NULL, 3, c), "f32[]");
  Attr f[3] = {attr_float("value", 1), attr_dtype("dtype", DT_I32),
               adims("shape", "B,3")};
  TYPE_IS(node(OP_FULL, 0, NULL, 3, f), "i32[B,3]");
  Attr r[2] = {attr_dtype("dtype", DT_F32), adims("shape", "4,4")};
  TYPE_IS(node(OP_RAND_NORMAL, 0, NULL, 2, r), "f32[4,4]");
  Attr ri[2] = {attr_dtype("dtype", DT_I32), adims("shape", "4")};
  EXPECT_ERROR(node(OP_RAND_UNIFORM, 0, NULL, 2, ri),
               "rand_uniform needs a floating-point dtype, got i32");
  Attr ci[3] = {attr_int("value", 1), attr_dtype("dtype", DT_F32),
                adims("shape", "")};
  EXPECT_ERROR(node(OP_CONST, 0, NULL, 3, ci),
               "attribute 'value' of const must be a float");
  Attr neg[3] = {attr_float("value", 1), attr_dtype("dtype", DT_F32),
                 adims("shape", "")};
  neg[2].n = 1;
  neg[2].dims = arena_alloc(&ctx.arena, sizeof(Dim));
  neg[2].dims[0] = dim_const(&ctx.arena, -1);
  EXPECT_ERROR(node(OP_CONST, 0, NULL, 3, neg),
               "const: dimension 0 of the shape is -1");
  Attr a[2] = {adims("n", "T"), attr_dtype("dtype", DT_I32)};
  TYPE_IS(node(OP_ARANGE, 0, NULL, 2, a), "i32[T]");
  Attr ab[2] = {adims("n", "T"), attr_dtype("dtype", DT_BOOL)};
  EXPECT_ERROR(node(OP_ARANGE, 0, NULL, 2, ab), "arange needs a numeric dtype");
  Attr a2[2] = {adims("n", "T,2"), attr_dtype("dtype", DT_I32)};
  EXPECT_ERROR(node(OP_ARANGE, 0, NULL, 2, a2),
               "attribute 'n' of arange must hold one dimension, got 2");
}
END_TEST

/* ---------------------------------------------------------- elementwise */

START_TEST(test_unary) {
  Node *x = input("f32[B,10]"), *i = input("i32[B]"), *b = input("bool[B]");
  TYPE_IS(op1(OP_RELU, x, 0, NULL), "f32[B,10]");
  TYPE_IS(op1(OP_NEG, i, 0, NULL), "i32[B]");
  TYPE_IS(op1(OP_ABS, i, 0, NULL), "i32[B]");
  TYPE_IS(op1(OP_DETACH, b, 0, NULL), "bool[B]");
  TYPE_IS(op1(OP_EXP, x, 0, NULL), "f32[B,10]");
  EXPECT_ERROR(op1(OP_EXP, i, 0, NULL),
               "exp needs a floating-point tensor, got i32[B]");
  EXPECT_ERROR(op1(OP_NEG, b, 0, NULL),
               "neg needs a numeric tensor, got bool[B]");
  Attr slope = attr_float("slope", 0.2);
  TYPE_IS(op1(OP_LEAKY_RELU, x, 1, &slope), "f32[B,10]");
  Attr islope = attr_int("slope", 1);
  EXPECT_ERROR(op1(OP_LEAKY_RELU, x, 1, &islope),
               "attribute 'slope' of leaky_relu must be a float");
  Attr ap = attr_str("approximate", "tanh");
  TYPE_IS(op1(OP_GELU, x, 1, &ap), "f32[B,10]");
  Attr bad = attr_str("approximate", "erf");
  EXPECT_ERROR(op1(OP_GELU, x, 1, &bad),
               "attribute 'approximate' of gelu must be \"none\" or \"tanh\"");
  TYPE_IS(op1(OP_NOT, b, 0, NULL), "bool[B]");
  EXPECT_ERROR(op1(OP_NOT, x, 0, NULL),
               "not needs a bool tensor, got f32[B,10]");
  Attr dt = attr_dtype("dtype", DT_I32);
  TYPE_IS(op1(OP_CAST, x, 1, &dt), "i32[B,10]");
  EXPECT_ERROR(op1(OP_CAST, x, 0, NULL), "cast needs the attribute 'dtype'");
  EXPECT_ERROR(node(OP_EXP, 0, NULL, 0, NULL), "exp takes 1 operand, got 0");
}
END_TEST

START_TEST(test_binary) {
  Node *x = input("f32[B,10]"), *y = input("f32[10]"), *s = input("f32[]");
  TYPE_IS(op2(OP_ADD, x, y, 0, NULL), "f32[B,10]");
  TYPE_IS(op2(OP_MUL, s, x, 0, NULL), "f32[B,10]");
  TYPE_IS(op2(OP_ADD, input("f32[B,T,1]"), s, 0, NULL), "f32[B,T,1]");
  TYPE_IS(op2(OP_ADD, s, input("f32[1,B]"), 0, NULL), "f32[1,B]");
  TYPE_IS(op2(OP_ADD, input("f32[1]"), input("f32[1,1]"), 0, NULL), "f32[1,1]");
  TYPE_IS(op2(OP_ADD, input("f32[3,1]"), input("f32[1]"), 0, NULL), "f32[3,1]");
  TYPE_IS(op2(OP_SUB, input("f32[B,1]"), input("f32[1,5]"), 0, NULL),
          "f32[B,5]");
  TYPE_IS(op2(OP_DIV, input("f32[1]"), input("f32[T,1,3]"), 0, NULL),
          "f32[T,1,3]");
  TYPE_IS(op2(OP_MAXIMUM, input("f32[2*B+1]"), input("f32[2*B+1]"), 0, NULL),
          "f32[2*B+1]");
  EXPECT_ERROR(op2(OP_ADD, x, input("f32[B,5]"), 0, NULL),
               "add of f32[B,10] and f32[B,5]: shapes cannot be broadcast "
               "(dimension 1: 10 vs 5)");
  EXPECT_ERROR(op2(OP_ADD, input("f32[B,3]"), input("f32[T,3]"), 0, NULL),
               "(dimension 0: B vs T)");
  EXPECT_ERROR(op2(OP_ADD, x, input("i32[B,10]"), 0, NULL),
               "add of f32[B,10] and i32[B,10]: dtypes f32 and i32 differ");
  Node *b = input("bool[B]");
  EXPECT_ERROR(op2(OP_ADD, b, b, 0, NULL),
               "add needs numeric tensors, got bool[B] and bool[B]");
  TYPE_IS(op2(OP_POW, x, s, 0, NULL), "f32[B,10]");
  Node *i = input("i32[B]");
  EXPECT_ERROR(op2(OP_POW, i, i, 0, NULL), "pow needs floating-point tensors");
  TYPE_IS(op2(OP_AND, b, b, 0, NULL), "bool[B]");
  EXPECT_ERROR(op2(OP_OR, i, i, 0, NULL), "or needs bool tensors");
  TYPE_IS(op2(OP_LT, x, y, 0, NULL), "bool[B,10]");
  TYPE_IS(op2(OP_EQ, b, b, 0, NULL), "bool[B]");
  EXPECT_ERROR(op2(OP_GE, x, i, 0, NULL), "dtypes f32 and i32 differ");
}
END_TEST

START_TEST(test_where) {
  Node *k = input("bool[B,1]"), *a = input("f32[B,10]"), *b = input("f32[10]");
  Node *in[3] = {k, a, b};
  TYPE_IS(node(OP_WHERE, 3, in, 0, NULL), "f32[B,10]");
  Node *k2 = input("bool[T]");
  Node *in2[3] = {k2, a, b};
  EXPECT_ERROR(node(OP_WHERE, 3, in2, 0, NULL),
               "where of bool[T], f32[B,10] and f32[10]: shapes cannot be "
               "broadcast (dimension 1: T vs 10)");
  Node *in3[3] = {a, a, b};
  EXPECT_ERROR(node(OP_WHERE, 3, in3, 0, NULL), "the condition must be bool");
  Node *in4[3] = {k, a, input("i32[10]")};
  EXPECT_ERROR(node(OP_WHERE, 3, in4, 0, NULL), "dtypes f32 and i32 differ");
}
END_TEST

/* ---------------------------------------------------------- reductions */

START_TEST(test_reduce) {
  Node *x = input("f32[B,10,T]");
  Attr a1[2] = {aints("axes", 1, 1), attr_int("keepdim", 0)};
  TYPE_IS(op1(OP_SUM, x, 2, a1), "f32[B,T]");
  Attr a2[2] = {aints("axes", 2, 0, 2), attr_int("keepdim", 1)};
  TYPE_IS(op1(OP_MAX, x, 2, a2), "f32[1,10,1]");
  Attr all[1] = {aints("axes", 0)};
  TYPE_IS(op1(OP_MEAN, x, 1, all), "f32[]");
  Attr allk[2] = {aints("axes", 0), attr_int("keepdim", 1)};
  TYPE_IS(op1(OP_LOGSUMEXP, x, 2, allk), "f32[1,1,1]");
  TYPE_IS(op1(OP_MIN, x, 0, NULL), "f32[]");
  Attr out[1] = {aints("axes", 1, 3)};
  EXPECT_ERROR(op1(OP_SUM, x, 1, out),
               "sum of f32[B,10,T]: axis 3 is out of range");
  Attr uns[1] = {aints("axes", 2, 2, 1)};
  EXPECT_ERROR(op1(OP_SUM, x, 1, uns), "sum: axes must be sorted and distinct");
  Attr kd[2] = {aints("axes", 1, 0), attr_int("keepdim", 2)};
  EXPECT_ERROR(op1(OP_SUM, x, 2, kd),
               "attribute 'keepdim' of sum must be 0 or 1");
  Node *i = input("i32[B,3]");
  TYPE_IS(op1(OP_SUM, i, 1, a1), "i32[B]");
  EXPECT_ERROR(op1(OP_MEAN, i, 1, a1),
               "mean needs a floating-point tensor, got i32[B,3]");
  EXPECT_ERROR(op1(OP_SUM, input("bool[B]"), 0, NULL),
               "sum needs a numeric tensor, got bool[B]");
}
END_TEST

START_TEST(test_argmax_softmax) {
  Node *x = input("f32[B,10]");
  Attr ax = attr_int("axis", 1);
  TYPE_IS(op1(OP_ARGMAX, x, 1, &ax), "i32[B]");
  Attr axk[2] = {attr_int("axis", 1), attr_int("keepdim", 1)};
  TYPE_IS(op1(OP_ARGMAX, x, 2, axk), "i32[B,1]");
  TYPE_IS(op1(OP_SOFTMAX, x, 1, &ax), "f32[B,10]");
  TYPE_IS(op1(OP_LOG_SOFTMAX, x, 1, &ax), "f32[B,10]");
  Attr ax2 = attr_int("axis", 2);
  EXPECT_ERROR(op1(OP_SOFTMAX, x, 1, &ax2),
               "softmax of f32[B,10]: axis 2 is out of range");
  Attr neg = attr_int("axis", -1);
  EXPECT_ERROR(op1(OP_ARGMAX, x, 1, &neg), "axis -1 is out of range");
  EXPECT_ERROR(op1(OP_SOFTMAX, input("i32[B,3]"), 1, &ax),
               "softmax needs a floating-point tensor, got i32[B,3]");
  EXPECT_ERROR(op1(OP_SOFTMAX, x, 0, NULL),
               "softmax needs the attribute 'axis'");
}
END_TEST

/* ---------------------------------------------------------- matmul */

START_TEST(test_matmul) {
  TYPE_IS(op2(OP_MATMUL, input("f32[B,784]"), input("f32[784,256]"), 0, NULL),
          "f32[B,256]");
  EXPECT_ERROR(
      op2(OP_MATMUL, input("f32[B,784]"), input("f32[256,128]"), 0, NULL),
      "matmul of f32[B,784] and f32[256,128]: inner dimensions 784 and 256 "
      "differ");
  TYPE_IS(op2(OP_MATMUL, input("f32[3]"), input("f32[3]"), 0, NULL), "f32[]");
  TYPE_IS(op2(OP_MATMUL, input("f32[3]"), input("f32[3,4]"), 0, NULL),
          "f32[4]");
  TYPE_IS(op2(OP_MATMUL, input("f32[2,3]"), input("f32[3]"), 0, NULL),
          "f32[2]");
  TYPE_IS(op2(OP_MATMUL, input("f32[3]"), input("f32[B,3,4]"), 0, NULL),
          "f32[B,4]");
  TYPE_IS(op2(OP_MATMUL, input("f32[B,T,C]"), input("f32[C,D]"), 0, NULL),
          "f32[B,T,D]");
  TYPE_IS(op2(OP_MATMUL, input("f32[B,1,2,3]"), input("f32[5,3,4]"), 0, NULL),
          "f32[B,5,2,4]");
  EXPECT_ERROR(
      op2(OP_MATMUL, input("f32[2,2,3]"), input("f32[5,3,4]"), 0, NULL),
      "matmul of f32[2,2,3] and f32[5,3,4]: shapes cannot be broadcast "
      "(dimension 0: 2 vs 5)");
  EXPECT_ERROR(op2(OP_MATMUL, input("f32[]"), input("f32[3]"), 0, NULL),
               "operands need at least one dimension");
  EXPECT_ERROR(op2(OP_MATMUL, input("f32[2,3]"), input("f64[3]"), 0, NULL),
               "dtypes f32 and f64 differ");
  TYPE_IS(op2(OP_MATMUL, input("i32[2,3]"), input("i32[3,2]"), 0, NULL),
          "i32[2,2]");
}
END_TEST

/* ---------------------------------------------------------- data movement */

START_TEST(test_reshape_permute_expand) {
  Node *x = input("f32[B,784]");
  Attr s1 = adims("shape", "B,28,28");
  TYPE_IS(op1(OP_RESHAPE, x, 1, &s1), "f32[B,28,28]");
  Attr s2 = adims("shape", "B,100");
  EXPECT_ERROR(op1(OP_RESHAPE, x, 1, &s2),
               "reshape from f32[B,784] to f32[B,100]: element counts differ");
  Node *y = input("f32[B,T,64]");
  Attr s3 = adims("shape", "B*T,64");
  TYPE_IS(op1(OP_RESHAPE, y, 1, &s3), "f32[B*T,64]");
  Attr s4 = adims("shape", "B,T,4,16");
  TYPE_IS(op1(OP_RESHAPE, y, 1, &s4), "f32[B,T,4,16]");
  Attr p = aints("perm", 3, 2, 0, 1);
  TYPE_IS(op1(OP_PERMUTE, y, 1, &p), "f32[64,B,T]");
  Attr pb = aints("perm", 3, 0, 0, 1);
  EXPECT_ERROR(
      op1(OP_PERMUTE, y, 1, &pb),
      "permute of f32[B,T,64]: perm is not a permutation of its 3 axes");
  Attr p2 = aints("perm", 2, 1, 0);
  EXPECT_ERROR(op1(OP_PERMUTE, y, 1, &p2), "not a permutation");
  Attr e1 = adims("shape", "B,5");
  TYPE_IS(op1(OP_EXPAND, input("f32[B,1]"), 1, &e1), "f32[B,5]");
  Attr e2 = adims("shape", "T,B,5");
  TYPE_IS(op1(OP_EXPAND, input("f32[5]"), 1, &e2), "f32[T,B,5]");
  EXPECT_ERROR(op1(OP_EXPAND, input("f32[B,2]"), 1, &e1),
               "expand of f32[B,2] to f32[B,5]: dimension 1 is 2, not 1 or 5");
  EXPECT_ERROR(op1(OP_EXPAND, input("f32[2,B,5]"), 1, &e1),
               "the target has fewer dimensions");
}
END_TEST

static Node *slice(Node *x, int axis, const char *start, const char *stop,
                   int step) {
  Attr a[4] = {attr_int("axis", axis), adims("start", start),
               adims("stop", stop), attr_int("step", step)};
  return op1(OP_SLICE, x, 4, a);
}

START_TEST(test_slice) {
  Node *x = input("f32[B,10]"), *t = input("f32[B,T,8]");
  TYPE_IS(slice(x, 1, "2", "8", 1), "f32[B,6]");
  TYPE_IS(slice(x, 1, "2", "8", 2), "f32[B,3]");
  TYPE_IS(slice(x, 1, "0", "10", 3), "f32[B,4]");
  TYPE_IS(slice(x, 1, "5", "5", 1), "f32[B,0]");
  TYPE_IS(slice(t, 1, "1", "T", 1), "f32[B,T-1,8]");
  TYPE_IS(slice(t, 0, "0", "B", 1), "f32[B,T,8]");
  Node *t2 = input("f32[2*T]");
  TYPE_IS(slice(t2, 0, "0", "2*T", 2), "f32[T]");
  TYPE_IS(slice(t2, 0, "1", "2*T", 2), "f32[T]");
  EXPECT_ERROR(slice(t, 1, "0", "T", 2),
               "slice 0:T:2 of f32[B,T,8]: the length is not a whole number");
  EXPECT_ERROR(slice(x, 1, "2", "11", 1),
               "slice 2:11:1 of axis 1 of f32[B,10] is out of range");
  EXPECT_ERROR(slice(x, 1, "6", "5", 1), "is out of range");
  EXPECT_ERROR(slice(x, 1, "0", "5", 0), "slice: step must be positive, got 0");
  EXPECT_ERROR(slice(x, 2, "0", "5", 1), "axis 2 is out of range");
}
END_TEST

START_TEST(test_concat) {
  Node *a = input("f32[B,3]"), *b = input("f32[B,5]"), *c = input("f32[B,T]");
  Node *in[3] = {a, b, c};
  Attr ax = attr_int("axis", 1);
  TYPE_IS(node(OP_CONCAT, 3, in, 1, &ax), "f32[B,T+8]");
  TYPE_IS(node(OP_CONCAT, 1, in, 1, &ax), "f32[B,3]");
  Node *bad[2] = {a, input("f32[T,5]")};
  EXPECT_ERROR(node(OP_CONCAT, 2, bad, 1, &ax),
               "concat of f32[B,3] and f32[T,5] along axis 1: the other "
               "dimensions and the dtypes must agree");
  Node *bd[2] = {a, input("i32[B,5]")};
  EXPECT_ERROR(node(OP_CONCAT, 2, bd, 1, &ax), "must agree");
  EXPECT_ERROR(node(OP_CONCAT, 0, in, 1, &ax),
               "concat needs at least one operand");
}
END_TEST

/* ---------------------------------------------------------- gathers */

START_TEST(test_take) {
  Node *emb = input("f32[1000,64]"), *idx = input("i32[B,T]");
  Attr a0 = attr_int("axis", 0), a1 = attr_int("axis", 1);
  TYPE_IS(op2(OP_TAKE, emb, idx, 1, &a0), "f32[B,T,64]");
  TYPE_IS(op2(OP_TAKE, emb, input("i32[]"), 1, &a0), "f32[64]");
  TYPE_IS(op2(OP_TAKE, input("f32[N,3,F]"), input("i32[E]"), 1, &a1),
          "f32[N,E,F]");
  EXPECT_ERROR(op2(OP_TAKE, emb, input("f32[B]"), 1, &a0),
               "take needs an i32 index tensor, got f32[B]");
  Attr a2 = attr_int("axis", 2);
  EXPECT_ERROR(op2(OP_TAKE, emb, idx, 1, &a2),
               "take of f32[1000,64]: axis 2 is out of range");
  Node *x = input("f32[B,10]");
  TYPE_IS(op2(OP_TAKE_ALONG, x, input("i32[B,1]"), 1, &a1), "f32[B,1]");
  EXPECT_ERROR(op2(OP_TAKE_ALONG, x, input("i32[B]"), 1, &a1),
               "take_along of f32[B,10] with index i32[B]: ranks differ");
}
END_TEST

START_TEST(test_scatter_one_hot) {
  Node *src = input("f32[E,16]"), *idx = input("i32[E]");
  Attr n = adims("n", "N");
  TYPE_IS(op2(OP_SCATTER_ADD, src, idx, 1, &n), "f32[N,16]");
  TYPE_IS(op2(OP_SCATTER_MAX, input("f32[E]"), idx, 1, &n), "f32[N]");
  EXPECT_ERROR(op2(OP_SCATTER_ADD, src, input("i32[N]"), 1, &n),
               "scatter_add of f32[E,16] with index i32[N]: needs src [E,...] "
               "and index [E]");
  EXPECT_ERROR(op2(OP_SCATTER_ADD, src, idx, 0, NULL),
               "scatter_add needs the attribute 'n'");
  Attr oh[2] = {adims("n", "10"), attr_dtype("dtype", DT_F32)};
  TYPE_IS(op1(OP_ONE_HOT, input("i32[B]"), 2, oh), "f32[B,10]");
  EXPECT_ERROR(op1(OP_ONE_HOT, input("f32[B]"), 2, oh),
               "one_hot needs an i32 index tensor, got f32[B]");
}
END_TEST

/* ---------------------------------------------------------- convolutions */

static Node *conv(const char *x, const char *w, int s, int p, int d, int g) {
  Attr a[4] = {aints("stride", 2, s, s), aints("padding", 2, p, p),
               aints("dilation", 2, d, d), attr_int("groups", g)};
  return op2(OP_CONV2D, input(x), input(w), 4, a);
}

START_TEST(test_conv2d) {
  TYPE_IS(conv("f32[B,1,28,28]", "f32[6,1,5,5]", 1, 0, 1, 1), "f32[B,6,24,24]");
  TYPE_IS(conv("f32[B,1,28,28]", "f32[6,1,5,5]", 1, 2, 1, 1), "f32[B,6,28,28]");
  /* PyTorch floors a fractional output size when it is known */
  TYPE_IS(conv("f32[B,1,28,28]", "f32[6,1,5,5]", 2, 0, 1, 1), "f32[B,6,12,12]");
  TYPE_IS(conv("f32[B,64,32,32]", "f32[128,64,3,3]", 2, 1, 1, 1),
          "f32[B,128,16,16]");
  TYPE_IS(conv("f32[B,3,32,32]", "f32[8,3,3,3]", 1, 2, 2, 1), "f32[B,8,32,32]");
  TYPE_IS(conv("f32[B,4,8,8]", "f32[8,2,3,3]", 1, 0, 1, 2), "f32[B,8,6,6]");
  TYPE_IS(conv("f32[B,3,H,W]", "f32[8,3,3,3]", 1, 1, 1, 1), "f32[B,8,H,W]");
  TYPE_IS(conv("f32[B,3,2*H,2*W]", "f32[8,3,4,4]", 2, 1, 1, 1), "f32[B,8,H,W]");
  EXPECT_ERROR(conv("f32[B,1,H,28]", "f32[6,1,5,5]", 2, 0, 1, 1),
               "conv2d output height (H + 2*0 - 1*(5-1) - 1)/2 + 1 is not a "
               "whole number");
  EXPECT_ERROR(conv("f32[B,1,28,3]", "f32[6,1,5,5]", 1, 0, 1, 1),
               "conv2d output width (3 + 2*0 - 1*(5-1) - 1)/1 + 1 is less "
               "than 1");
  EXPECT_ERROR(conv("f32[B,3,28,28]", "f32[6,1,5,5]", 1, 0, 1, 1),
               "conv2d of f32[B,3,28,28] with weight f32[6,1,5,5]: the weight "
               "expects 1 input channels, got 3");
  EXPECT_ERROR(conv("f32[B,4,8,8]", "f32[9,2,3,3]", 1, 0, 1, 2),
               "9 output channels are not divisible by groups=2");
  EXPECT_ERROR(conv("f32[B,784]", "f32[6,1,5,5]", 1, 0, 1, 1),
               "conv2d needs an input [N,C,H,W], got f32[B,784]");
  EXPECT_ERROR(conv("i32[B,1,8,8]", "i32[6,1,5,5]", 1, 0, 1, 1),
               "conv2d needs a floating-point tensor");
  EXPECT_ERROR(conv("f32[B,1,8,8]", "f32[6,1,5,5]", 0, 0, 1, 1),
               "attribute 'stride' of conv2d must be at least 1, got 0");
  /* defaults: stride 1, padding 0, dilation 1, groups 1 */
  TYPE_IS(op2(OP_CONV2D, input("f32[2,3,5,5]"), input("f32[4,3,3,3]"), 0, NULL),
          "f32[2,4,3,3]");
}
END_TEST

START_TEST(test_conv_transpose2d) {
  Attr a[4] = {aints("stride", 2, 2, 2), aints("padding", 2, 1, 1),
               aints("output_padding", 2, 0, 0), attr_int("groups", 1)};
  TYPE_IS(op2(OP_CONV_TRANSPOSE2D, input("f32[B,16,7,7]"),
              input("f32[16,8,4,4]"), 4, a),
          "f32[B,8,14,14]");
  Attr b[3] = {aints("stride", 2, 2, 2), aints("padding", 2, 1, 1),
               aints("output_padding", 2, 1, 1)};
  TYPE_IS(op2(OP_CONV_TRANSPOSE2D, input("f32[B,32,H,W]"),
              input("f32[32,16,3,3]"), 3, b),
          "f32[B,16,2*H,2*W]");
  Attr g[2] = {attr_int("groups", 2), aints("padding", 2, 0, 0)};
  TYPE_IS(op2(OP_CONV_TRANSPOSE2D, input("f32[B,4,5,5]"), input("f32[4,3,3,3]"),
              2, g),
          "f32[B,6,7,7]");
  Attr bad[2] = {aints("stride", 2, 2, 2), aints("output_padding", 2, 2, 0)};
  EXPECT_ERROR(op2(OP_CONV_TRANSPOSE2D, input("f32[B,16,7,7]"),
                   input("f32[16,8,4,4]"), 2, bad),
               "output_padding 2 must be smaller than the stride or the "
               "dilation");
  EXPECT_ERROR(op2(OP_CONV_TRANSPOSE2D, input("f32[B,16,7,7]"),
                   input("f32[8,16,4,4]"), 0, NULL),
               "the weight expects 8 input channels, got 16");
  Attr big = aints("padding", 2, 5, 0);
  EXPECT_ERROR(op2(OP_CONV_TRANSPOSE2D, input("f32[B,1,2,2]"),
                   input("f32[1,1,3,3]"), 1, &big),
               "conv_transpose2d output height (2-1)*1 - 2*5 + 1*(3-1) + 0 + "
               "1 is less than 1");
}
END_TEST

START_TEST(test_pool_upsample) {
  Attr k2 = aints("kernel", 2, 2, 2);
  TYPE_IS(op1(OP_MAX_POOL2D, input("f32[B,6,24,24]"), 1, &k2),
          "f32[B,6,12,12]");
  TYPE_IS(op1(OP_AVG_POOL2D, input("f32[B,6,2*H,2*W]"), 1, &k2),
          "f32[B,6,H,W]");
  /* H is not known to be even: (H - 2)/2 + 1 is not exact */
  Node *odd = input("f32[B,6,H,2*W]");
  EXPECT_ERROR(op1(OP_MAX_POOL2D, odd, 1, &k2),
               "max_pool2d output height (H + 2*0 - 2)/2 + 1 is not a whole "
               "number");
  Attr r[3] = {aints("kernel", 2, 3, 3), aints("stride", 2, 2, 2),
               aints("padding", 2, 1, 1)};
  TYPE_IS(op1(OP_MAX_POOL2D, input("f32[B,64,112,112]"), 3, r),
          "f32[B,64,56,56]");
  Attr bp[2] = {aints("kernel", 2, 2, 2), aints("padding", 2, 2, 0)};
  EXPECT_ERROR(op1(OP_MAX_POOL2D, input("f32[B,6,24,24]"), 2, bp),
               "max_pool2d: padding 2 is more than half the kernel size 2");
  EXPECT_ERROR(op1(OP_MAX_POOL2D, input("f32[B,6,24,24]"), 0, NULL),
               "max_pool2d needs the attribute 'kernel'");
  EXPECT_ERROR(op1(OP_AVG_POOL2D, input("i32[B,6,24,24]"), 1, &k2),
               "avg_pool2d needs a floating-point tensor");
  Attr k5 = aints("kernel", 2, 5, 5);
  EXPECT_ERROR(op1(OP_MAX_POOL2D, input("f32[B,6,4,4]"), 1, &k5),
               "max_pool2d output height (4 + 2*0 - 5)/5 + 1 is less than 1");
  Attr sc = aints("scale", 2, 2, 3);
  TYPE_IS(op1(OP_UPSAMPLE, input("f32[B,3,H,8]"), 1, &sc), "f32[B,3,2*H,24]");
  EXPECT_ERROR(op1(OP_UPSAMPLE, input("f32[B,3]"), 1, &sc),
               "upsample_nearest needs an input [N,C,H,W], got f32[B,3]");
}
END_TEST

/* ---------------------------------------------------------- control */

/* A scan over T steps carrying h: f32[B,16], yielding tanh(h) along axis. */
static Node *rnn_scan(Node *h0, int axis, const char *carry_shape) {
  Attr sa[5] = {adims("start", "0"), adims("steps", "T"),
                attr_int("reverse", 0), attr_int("ncarry", 1),
                aints("axes", 1, axis)};
  Node *s = ir_node(&ctx, mod, fn, &fn->body, OP_SCAN, 1, &h0, 5, sa, "s", loc);
  ck_assert_ptr_nonnull(s->body);
  ck_assert_ptr_eq(s->body->parent, &fn->body);
  Attr ca[3] = {attr_int("index", 0), attr_dtype("dtype", DT_F32),
                adims("shape", carry_shape)};
  Node *h =
      ir_node(&ctx, mod, fn, s->body, OP_SCAN_CARRY, 0, NULL, 3, ca, "h", loc);
  Node *t = ir_node(&ctx, mod, fn, s->body, OP_SCAN_INDEX, 0, NULL, 0, NULL,
                    "t", loc);
  ck_assert_str_eq(ty(t), "i32[]");
  Node *h2 = ir_node(&ctx, mod, fn, s->body, OP_TANH, 1, &h, 0, NULL, "h", loc);
  s->body->nout = 2;
  s->body->out = arena_alloc(&ctx.arena, 2 * sizeof(Node *));
  s->body->out[0] = h2;
  s->body->out[1] = h2;
  shape_infer(&ctx, mod, s);
  return s;
}

static const char *result(const Node *s, int i) {
  StrBuf b = {0};
  type_print(&b, &mod->syms, s->result[i]);
  snprintf(tbuf, sizeof tbuf, "%s", b.s);
  sb_free(&b);
  return tbuf;
}

START_TEST(test_scan_get) {
  Node *h0 = input("f32[B,16]");
  Node *s = rnn_scan(h0, 1, "B,16");
  ck_assert_int_eq(s->nresult, 2);
  ck_assert_str_eq(result(s, 0), "f32[B,T,16]");
  ck_assert_str_eq(result(s, 1), "f32[B,16]");
  ck_assert_str_eq(s->body->out[0]->name, "h.1");
  Attr g0 = attr_int("index", 0), g1 = attr_int("index", 1),
       g2 = attr_int("index", 2);
  TYPE_IS(op1(OP_GET, s, 1, &g0), "f32[B,T,16]");
  TYPE_IS(op1(OP_GET, s, 1, &g1), "f32[B,16]");
  EXPECT_ERROR(op1(OP_GET, s, 1, &g2),
               "get: index 2 is out of range (the scan has 2 results)");
  EXPECT_ERROR(op1(OP_GET, h0, 1, &g0), "get needs a scan or fused operand, got input");
  EXPECT_ERROR(op1(OP_RELU, s, 0, NULL),
               "operand 1 of relu is a scan: read its results with get");
  Node *s0 = rnn_scan(h0, 0, "B,16");
  ck_assert_str_eq(result(s0, 0), "f32[T,B,16]");
  EXPECT_ERROR(rnn_scan(h0, 3, "B,16"),
               "scan: cannot stack f32[B,16] along axis 3");
  EXPECT_ERROR(rnn_scan(h0, 1, "B,8"),
               "scan carry 1 starts as f32[B,16] but the body yields f32[B,8]");
}
END_TEST

START_TEST(test_scan_errors) {
  Node *h0 = input("f32[B,16]");
  Attr sa[4] = {adims("start", "0"), adims("steps", "T"), attr_int("ncarry", 2),
                aints("axes", 0)};
  Node *s =
      ir_node(&ctx, mod, fn, &fn->body, OP_SCAN, 1, &h0, 4, sa, NULL, loc);
  EXPECT_ERROR(shape_infer(&ctx, mod, s),
               "scan has 1 initial carries but ncarry=2");
  s->attr[2].i = 1;
  EXPECT_ERROR(shape_infer(&ctx, mod, s),
               "scan body yields 0 values; expected 1 carries and 0 outputs");
  Attr ca[3] = {attr_int("index", 0), attr_dtype("dtype", DT_F32),
                adims("shape", "B,8")};
  Node *h =
      ir_node(&ctx, mod, fn, s->body, OP_SCAN_CARRY, 0, NULL, 3, ca, "h", loc);
  s->body->nout = 1;
  s->body->out = &h0;
  EXPECT_ERROR(shape_infer(&ctx, mod, s),
               "scan: scan_carry %h (index 0, f32[B,8]) matches no initial "
               "carry");
  (void)h;
}
END_TEST

/* ---------------------------------------------------------- special */

START_TEST(test_special) {
  Node *loss = input("f32[]"), *w = input("f32[10,3]");
  TYPE_IS(op2(OP_GRAD, loss, w, 0, NULL), "f32[10,3]");
  EXPECT_ERROR(op2(OP_GRAD, w, w, 0, NULL),
               "grad needs a floating-point scalar to differentiate, got "
               "f32[10,3]");
  EXPECT_ERROR(op2(OP_GRAD, loss, input("i32[3]"), 0, NULL),
               "grad needs a floating-point tensor, got i32[3]");
  Attr u = attr_str("name", "bn.running_mean");
  TYPE_IS(op1(OP_UPDATE, input("f32[32]"), 1, &u), "f32[32]");
  EXPECT_ERROR(op1(OP_UPDATE, w, 0, NULL), "update needs the attribute 'name'");
  Attr m[3] = {attr_str("optimizer", "adam"), attr_float("lr", 1e-3),
               attr_str("over", "d")};
  TYPE_IS(op1(OP_MINIMIZE, loss, 3, m), "f32[]");
  Attr mi[2] = {attr_str("optimizer", "sgd"), attr_int("lr", 1)};
  EXPECT_ERROR(op1(OP_MINIMIZE, loss, 2, mi),
               "attribute 'lr' of minimize must be a float");
  EXPECT_ERROR(op1(OP_MINIMIZE, w, 1, m),
               "minimize needs a floating-point scalar loss, got f32[10,3]");
  EXPECT_ERROR(op1(OP_MINIMIZE, loss, 1, m + 1),
               "minimize needs the attribute 'optimizer'");
}
END_TEST

START_TEST(test_error_location) {
  Node *x = input("f32[B,10]");
  EXPECT_ERROR(op1(OP_EXP, input("i32[B]"), 0, NULL),
               "test.nn:1:5: error: exp needs a floating-point tensor");
  EXPECT_ERROR(op1(OP_LOG, input("i32[B]"), 0, NULL),
               "    y = f(x)\n        ^\n");
  ck_assert_int_eq(ctx.nerrors, 2);
  (void)x;
}
END_TEST

START_TEST(test_broadcast_api) {
  Type out;
  int bad = -1;
  Node *a = input("f32[B,1,5]"), *b = input("i32[T,1]");
  ck_assert(shape_broadcast(&ctx.arena, a->type, b->type, &out, &bad));
  ck_assert_int_eq(out.dtype, DT_F32);
  ck_assert_int_eq(out.rank, 3);
  Node *c = input("f32[3,4]");
  ck_assert(!shape_broadcast(&ctx.arena, a->type, c->type, &out, &bad));
  ck_assert_int_eq(bad, 2);
  Node *d = input("f32[B,1,5]");
  ck_assert(shape_broadcast(&ctx.arena, a->type, d->type, &out, NULL));
  ck_assert(type_eq(out, a->type));
}
END_TEST

static Suite *shape_suite(void) {
  Suite *s = suite_create("shape");
  TCase *tc = tcase_create("rules");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_input_param);
  tcase_add_test(tc, test_fill_arange);
  tcase_add_test(tc, test_unary);
  tcase_add_test(tc, test_binary);
  tcase_add_test(tc, test_where);
  tcase_add_test(tc, test_reduce);
  tcase_add_test(tc, test_argmax_softmax);
  tcase_add_test(tc, test_matmul);
  tcase_add_test(tc, test_reshape_permute_expand);
  tcase_add_test(tc, test_slice);
  tcase_add_test(tc, test_concat);
  tcase_add_test(tc, test_take);
  tcase_add_test(tc, test_scatter_one_hot);
  tcase_add_test(tc, test_conv2d);
  tcase_add_test(tc, test_conv_transpose2d);
  tcase_add_test(tc, test_pool_upsample);
  tcase_add_test(tc, test_scan_get);
  tcase_add_test(tc, test_scan_errors);
  tcase_add_test(tc, test_special);
  tcase_add_test(tc, test_error_location);
  tcase_add_test(tc, test_broadcast_api);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(shape_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
