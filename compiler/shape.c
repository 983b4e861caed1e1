/* shape.c — shape inference: one rule per row of NNC_OPS checks a node's
 * operands and attributes as docs/ir.md states and sets its result type.
 * Errors name the op and print the operand types. */
#include <string.h>

#include "nnc.h"

#define ERR(...) nnc_error(c, n->loc, __VA_ARGS__)

/* ---------------------------------------------------------- helpers */

static const char *opn(const Node *n) { return nnc_ops[n->op].name; }

static const char *tstr(Ctx *c, const Module *m, Type t) {
  StrBuf b = {0};
  type_print(&b, &m->syms, t);
  const char *s = arena_strdup(&c->arena, b.s);
  sb_free(&b);
  return s;
}

static const char *dstr(Ctx *c, const Module *m, Dim d) {
  StrBuf b = {0};
  dim_print(&b, &m->syms, d);
  const char *s = arena_strdup(&c->arena, b.s);
  sb_free(&b);
  return s;
}

static Type tmake(Ctx *c, DType dt, int rank) {
  Type t = {dt, rank, NULL};
  t.dim = arena_alloc(&c->arena, sizeof(Dim) * (size_t)(rank > 0 ? rank : 1));
  return t;
}

static Type tin(const Node *n, int i) { return n->in[i]->type; }

static Dim dconst(Ctx *c, int64_t v) { return dim_const(&c->arena, v); }

static Dim dadd(Ctx *c, Node *n, Dim x, Dim y) {
  Dim r;
  if (!dim_add(&c->arena, x, y, &r))
    ERR("%s: dimension arithmetic overflows", opn(n));
  return r;
}

static Dim dsub(Ctx *c, Node *n, Dim x, Dim y) {
  Dim r;
  if (!dim_sub(&c->arena, x, y, &r))
    ERR("%s: dimension arithmetic overflows", opn(n));
  return r;
}

static Dim dmul(Ctx *c, Node *n, Dim x, Dim y) {
  Dim r;
  if (!dim_mul(&c->arena, x, y, &r))
    ERR("%s: dimension arithmetic overflows", opn(n));
  return r;
}

static int is_one(Dim d) { return dim_is_const(d) && dim_value(d) == 1; }

/* ---------------------------------------------------------- attributes */

static const char *kind_name(AttrKind k) {
  static const char *const names[] = {
      "an integer",           "a float", "a string", "a list of integers",
      "a list of dimensions", "a dtype"};
  return names[k];
}

static const Attr *attr_kind(Ctx *c, Node *n, const char *key, AttrKind k,
                             int required) {
  const Attr *a = ir_attr(n, key);
  if (!a && required)
    ERR("%s needs the attribute '%s'", opn(n), key);
  if (a && a->kind != k)
    ERR("attribute '%s' of %s must be %s", key, opn(n), kind_name(k));
  return a;
}

static int64_t int_need(Ctx *c, Node *n, const char *key) {
  return attr_kind(c, n, key, AK_INT, 1)->i;
}

static int64_t int_opt(Ctx *c, Node *n, const char *key, int64_t dflt) {
  const Attr *a = attr_kind(c, n, key, AK_INT, 0);
  return a ? a->i : dflt;
}

static int flag_opt(Ctx *c, Node *n, const char *key) {
  int64_t v = int_opt(c, n, key, 0);
  if (v != 0 && v != 1)
    ERR("attribute '%s' of %s must be 0 or 1, got %lld", key, opn(n),
        (long long)v);
  return (int)v;
}

static DType dtype_need(Ctx *c, Node *n) {
  const Attr *a = attr_kind(c, n, "dtype", AK_DTYPE, 1);
  if (a->i < 0 || a->i >= DT_COUNT)
    ERR("attribute 'dtype' of %s is not a valid dtype", opn(n));
  return (DType)a->i;
}

/* An axis attribute in [0, rank). */
static int axis_need(Ctx *c, Module *m, Node *n, const char *key, Type t) {
  int64_t ax = int_need(c, n, key);
  if (ax < 0 || ax >= t.rank)
    ERR("%s of %s: axis %lld is out of range", opn(n), tstr(c, m, t),
        (long long)ax);
  return (int)ax;
}

/* Two integers (stride, padding, ...), each at least lo. */
static void ints2(Ctx *c, Node *n, const char *key, int64_t dflt, int64_t lo,
                  int64_t out[2]) {
  const Attr *a = attr_kind(c, n, key, AK_INTS, dflt < 0);
  out[0] = out[1] = dflt;
  if (!a)
    return;
  if (a->n != 2)
    ERR("attribute '%s' of %s must hold 2 integers, got %d", key, opn(n), a->n);
  for (int i = 0; i < 2; i++) {
    if (a->ints[i] < lo)
      ERR("attribute '%s' of %s must be at least %lld, got %lld", key, opn(n),
          (long long)lo, (long long)a->ints[i]);
    out[i] = a->ints[i];
  }
}

static Dim dim1_need(Ctx *c, Node *n, const char *key) {
  const Attr *a = attr_kind(c, n, key, AK_DIMS, 1);
  if (a->n != 1)
    ERR("attribute '%s' of %s must hold one dimension, got %d", key, opn(n),
        a->n);
  return a->dims[0];
}

/* dtype[shape] from the `shape` attribute; constant sizes must be >= 0. */
static Type shape_attr(Ctx *c, Module *m, Node *n, DType dt) {
  const Attr *a = attr_kind(c, n, "shape", AK_DIMS, 1);
  Type t = tmake(c, dt, a->n);
  for (int i = 0; i < a->n; i++) {
    if (dim_is_const(a->dims[i]) && dim_value(a->dims[i]) < 0)
      ERR("%s: dimension %d of the shape is %s", opn(n), i,
          dstr(c, m, a->dims[i]));
    t.dim[i] = a->dims[i];
  }
  return t;
}

static void float_opt(Ctx *c, Node *n, const char *key) {
  attr_kind(c, n, key, AK_FLOAT, 0);
}

/* ---------------------------------------------------------- dtype checks */

static void need_float(Ctx *c, Module *m, Node *n, Type t) {
  if (!dtype_is_float(t.dtype))
    ERR("%s needs a floating-point tensor, got %s", opn(n), tstr(c, m, t));
}

static void need_numeric(Ctx *c, Module *m, Node *n, Type t) {
  if (t.dtype == DT_BOOL)
    ERR("%s needs a numeric tensor, got %s", opn(n), tstr(c, m, t));
}

static void need_bool(Ctx *c, Module *m, Node *n, Type t) {
  if (t.dtype != DT_BOOL)
    ERR("%s needs a bool tensor, got %s", opn(n), tstr(c, m, t));
}

static void need_index(Ctx *c, Module *m, Node *n, Type t) {
  if (t.dtype != DT_I32)
    ERR("%s needs an i32 index tensor, got %s", opn(n), tstr(c, m, t));
}

static void need_scalar(Ctx *c, Module *m, Node *n, Type t, const char *what) {
  if (!dtype_is_float(t.dtype) || t.rank != 0)
    ERR("%s needs a floating-point scalar %s, got %s", opn(n), what,
        tstr(c, m, t));
}

static void need_rank4(Ctx *c, Module *m, Node *n, Type t, const char *what) {
  if (t.rank != 4)
    ERR("%s needs %s, got %s", opn(n), what, tstr(c, m, t));
}

/* ---------------------------------------------------------- broadcasting */

int shape_broadcast(Arena *a, Type x, Type y, Type *out, int *bad_axis) {
  int r = x.rank > y.rank ? x.rank : y.rank;
  Type t = {x.dtype, r, arena_alloc(a, sizeof(Dim) * (size_t)(r ? r : 1))};
  for (int i = 0; i < r; i++) {
    int xi = i - (r - x.rank), yi = i - (r - y.rank);
    if (yi < 0)
      t.dim[i] = x.dim[xi];
    else if (xi < 0 || is_one(x.dim[xi]))
      t.dim[i] = y.dim[yi];
    else if (is_one(y.dim[yi]) || dim_eq(x.dim[xi], y.dim[yi]))
      t.dim[i] = x.dim[xi];
    else {
      if (bad_axis)
        *bad_axis = i;
      return 0;
    }
  }
  *out = t;
  return 1;
}

/* "add of f32[B,3] and f32[3]": n's op and its operands' types, for
 * messages (built only when there is an error to report). */
static const char *operands_of(Ctx *c, Module *m, Node *n) {
  StrBuf b = {0};
  sb_printf(&b, "%s of ", opn(n));
  for (int i = 0; i < n->nin; i++) {
    sb_printf(&b, "%s", i == 0 ? "" : i == n->nin - 1 ? " and " : ", ");
    type_print(&b, &m->syms, tin(n, i));
  }
  const char *r = arena_strdup(&c->arena, b.s);
  sb_free(&b);
  return r;
}

/* Broadcasts or reports `OP of A and B: shapes cannot be broadcast (...)`. */
static Type bcast(Ctx *c, Module *m, Node *n, Type x, Type y) {
  Type t;
  int ax = 0;
  if (!shape_broadcast(&c->arena, x, y, &t, &ax)) {
    int r = x.rank > y.rank ? x.rank : y.rank;
    ERR("%s: shapes cannot be broadcast (dimension %d: %s vs %s)", operands_of(c, m, n), ax,
        dstr(c, m, x.dim[ax - (r - x.rank)]),
        dstr(c, m, y.dim[ax - (r - y.rank)]));
  }
  return t;
}

/* Two operands of one dtype, broadcast together. */
static Type binary_operands(Ctx *c, Module *m, Node *n) {
  Type a = tin(n, 0), b = tin(n, 1);
  if (a.dtype != b.dtype)
    ERR("%s: dtypes %s and %s differ", operands_of(c, m, n), dtype_name(a.dtype),
        dtype_name(b.dtype));
  return bcast(c, m, n, a, b);
}

/* ---------------------------------------------------------- sources */

static void shape_input(Ctx *c, Module *m, Node *n) {
  if (n->op == OP_INPUT)
    attr_kind(c, n, "name", AK_STR, 1);
  if (int_need(c, n, "index") < 0)
    ERR("%s: negative index", opn(n));
  n->type = shape_attr(c, m, n, dtype_need(c, n));
}

static void shape_param(Ctx *c, Module *m, Node *n) {
  attr_kind(c, n, "name", AK_STR, 1);
  n->type = shape_attr(c, m, n, dtype_need(c, n));
}

static void shape_fill(Ctx *c, Module *m, Node *n) {
  DType dt = dtype_need(c, n);
  if (n->op == OP_CONST || n->op == OP_FULL)
    attr_kind(c, n, "value", AK_FLOAT, 1);
  else if (!dtype_is_float(dt))
    ERR("%s needs a floating-point dtype, got %s", opn(n), dtype_name(dt));
  n->type = shape_attr(c, m, n, dt);
}

static void shape_arange(Ctx *c, Module *m, Node *n) {
  (void)m;
  Dim len = dim1_need(c, n, "n");
  DType dt = dtype_need(c, n);
  if (dt == DT_BOOL)
    ERR("arange needs a numeric dtype, got bool");
  n->type = tmake(c, dt, 1);
  n->type.dim[0] = len;
}

/* ---------------------------------------------------------- elementwise */

static void shape_unary(Ctx *c, Module *m, Node *n) {
  if (n->op != OP_DETACH)
    need_numeric(c, m, n, tin(n, 0));
  n->type = tin(n, 0);
}

static void shape_unary_float(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  float_opt(c, n, n->op == OP_LEAKY_RELU ? "slope" : "alpha");
  const Attr *ap = attr_kind(c, n, "approximate", AK_STR, 0);
  if (ap && strcmp(ap->s, "none") && strcmp(ap->s, "tanh"))
    ERR("attribute 'approximate' of %s must be \"none\" or \"tanh\"", opn(n));
  n->type = tin(n, 0);
}

static void shape_unary_bool(Ctx *c, Module *m, Node *n) {
  need_bool(c, m, n, tin(n, 0));
  n->type = tin(n, 0);
}

static void shape_cast(Ctx *c, Module *m, Node *n) {
  (void)m;
  n->type = tin(n, 0);
  n->type.dtype = dtype_need(c, n);
}

static void shape_binary(Ctx *c, Module *m, Node *n) {
  Type t = binary_operands(c, m, n);
  if (t.dtype == DT_BOOL)
    ERR("%s needs numeric tensors, got %s and %s", opn(n),
        tstr(c, m, tin(n, 0)), tstr(c, m, tin(n, 1)));
  n->type = t;
}

static void shape_binary_float(Ctx *c, Module *m, Node *n) {
  Type t = binary_operands(c, m, n);
  if (!dtype_is_float(t.dtype))
    ERR("%s needs floating-point tensors, got %s and %s", opn(n),
        tstr(c, m, tin(n, 0)), tstr(c, m, tin(n, 1)));
  n->type = t;
}

static void shape_binary_bool(Ctx *c, Module *m, Node *n) {
  Type t = binary_operands(c, m, n);
  if (t.dtype != DT_BOOL)
    ERR("%s needs bool tensors, got %s and %s", opn(n), tstr(c, m, tin(n, 0)),
        tstr(c, m, tin(n, 1)));
  n->type = t;
}

static void shape_compare(Ctx *c, Module *m, Node *n) {
  n->type = binary_operands(c, m, n);
  n->type.dtype = DT_BOOL;
}

static void shape_where(Ctx *c, Module *m, Node *n) {
  Type k = tin(n, 0), a = tin(n, 1), b = tin(n, 2);
  if (k.dtype != DT_BOOL)
    ERR("%s: the condition must be bool", operands_of(c, m, n));
  if (a.dtype != b.dtype)
    ERR("%s: dtypes %s and %s differ", operands_of(c, m, n), dtype_name(a.dtype),
        dtype_name(b.dtype));
  Type ab = bcast(c, m, n, a, b);
  n->type = bcast(c, m, n, k, ab);
  n->type.dtype = a.dtype;
}

/* ---------------------------------------------------------- reductions */

/* Marks the reduced axes of x from `axes` (absent or empty: all). */
static char *reduced_axes(Ctx *c, Module *m, Node *n, Type x) {
  char *mark = arena_alloc(&c->arena, (size_t)x.rank + 1);
  const Attr *a = attr_kind(c, n, "axes", AK_INTS, 0);
  if (!a || a->n == 0) {
    memset(mark, 1, (size_t)x.rank);
    return mark;
  }
  for (int i = 0; i < a->n; i++) {
    int64_t ax = a->ints[i];
    if (ax < 0 || ax >= x.rank)
      ERR("%s of %s: axis %lld is out of range", opn(n), tstr(c, m, x),
          (long long)ax);
    if (i > 0 && ax <= a->ints[i - 1])
      ERR("%s: axes must be sorted and distinct", opn(n));
    mark[ax] = 1;
  }
  return mark;
}

/* The shape of x with the marked axes removed or (keepdim) set to 1. */
static Type reduced(Ctx *c, Node *n, Type x, const char *mark, DType dt) {
  int keep = flag_opt(c, n, "keepdim"), r = 0;
  for (int i = 0; i < x.rank; i++)
    r += keep || !mark[i];
  Type t = tmake(c, dt, r);
  for (int i = 0, k = 0; i < x.rank; i++) {
    if (!mark[i])
      t.dim[k++] = x.dim[i];
    else if (keep)
      t.dim[k++] = dconst(c, 1);
  }
  return t;
}

static void shape_reduce(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0);
  need_numeric(c, m, n, x);
  n->type = reduced(c, n, x, reduced_axes(c, m, n, x), x.dtype);
}

static void shape_reduce_float(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  shape_reduce(c, m, n);
}

static void shape_argmax(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0);
  need_numeric(c, m, n, x);
  char *mark = arena_alloc(&c->arena, (size_t)x.rank + 1);
  mark[axis_need(c, m, n, "axis", x)] = 1;
  n->type = reduced(c, n, x, mark, DT_I32);
}

static void shape_softmax(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  axis_need(c, m, n, "axis", tin(n, 0));
  n->type = tin(n, 0);
}

/* ---------------------------------------------------------- matmul */

/* The leading (batch) dims of t: all but the last two. */
static Type batch_of(Type t) {
  Type b = {t.dtype, t.rank >= 2 ? t.rank - 2 : 0, t.dim};
  return b;
}

static void shape_matmul(Ctx *c, Module *m, Node *n) {
  Type a = tin(n, 0), b = tin(n, 1);
  if (a.dtype != b.dtype)
    ERR("%s: dtypes %s and %s differ", operands_of(c, m, n), dtype_name(a.dtype),
        dtype_name(b.dtype));
  if (a.dtype == DT_BOOL)
    ERR("%s: needs numeric tensors", operands_of(c, m, n));
  if (a.rank < 1 || b.rank < 1)
    ERR("%s: operands need at least one dimension", operands_of(c, m, n));
  Dim ka = a.dim[a.rank - 1], kb = b.dim[b.rank == 1 ? 0 : b.rank - 2];
  if (!dim_eq(ka, kb))
    ERR("%s: inner dimensions %s and %s differ", operands_of(c, m, n), dstr(c, m, ka),
        dstr(c, m, kb));
  Type bt = bcast(c, m, n, batch_of(a), batch_of(b));
  int r = bt.rank + (a.rank >= 2) + (b.rank >= 2);
  Type t = tmake(c, a.dtype, r);
  memcpy(t.dim, bt.dim, sizeof(Dim) * (size_t)bt.rank);
  if (a.rank >= 2)
    t.dim[bt.rank] = a.dim[a.rank - 2];
  if (b.rank >= 2)
    t.dim[r - 1] = b.dim[b.rank - 1];
  n->type = t;
}

/* ---------------------------------------------------------- data movement */

static Dim numel(Ctx *c, Node *n, Type t) {
  Dim p = dconst(c, 1);
  for (int i = 0; i < t.rank; i++)
    p = dmul(c, n, p, t.dim[i]);
  return p;
}

static void shape_reshape(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0), t = shape_attr(c, m, n, x.dtype);
  if (!dim_eq(numel(c, n, x), numel(c, n, t)))
    ERR("reshape from %s to %s: element counts differ", tstr(c, m, x),
        tstr(c, m, t));
  n->type = t;
}

static void shape_permute(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0);
  const Attr *p = attr_kind(c, n, "perm", AK_INTS, 1);
  char *seen = arena_alloc(&c->arena, (size_t)x.rank + 1);
  int ok = p->n == x.rank;
  for (int i = 0; ok && i < p->n; i++) {
    ok = p->ints[i] >= 0 && p->ints[i] < x.rank && !seen[p->ints[i]];
    if (ok)
      seen[p->ints[i]] = 1;
  }
  if (!ok)
    ERR("permute of %s: perm is not a permutation of its %d axes",
        tstr(c, m, x), x.rank);
  n->type = tmake(c, x.dtype, x.rank);
  for (int i = 0; i < x.rank; i++)
    n->type.dim[i] = x.dim[p->ints[i]];
}

static void shape_expand(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0), t = shape_attr(c, m, n, x.dtype);
  if (t.rank < x.rank)
    ERR("expand of %s to %s: the target has fewer dimensions", tstr(c, m, x),
        tstr(c, m, t));
  for (int i = 0; i < x.rank; i++) {
    Dim dx = x.dim[i], dt = t.dim[i + t.rank - x.rank];
    if (!is_one(dx) && !dim_eq(dx, dt))
      ERR("expand of %s to %s: dimension %d is %s, not 1 or %s", tstr(c, m, x),
          tstr(c, m, t), i, dstr(c, m, dx), dstr(c, m, dt));
  }
  n->type = t;
}

/* Whether d may be at least 0 (a constant negative value may not). */
static int nonneg(Dim d) { return !(dim_is_const(d) && dim_value(d) < 0); }

static void shape_slice(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0);
  int ax = axis_need(c, m, n, "axis", x);
  Dim start = dim1_need(c, n, "start"), stop = dim1_need(c, n, "stop");
  int64_t step = int_opt(c, n, "step", 1);
  if (step < 1)
    ERR("slice: step must be positive, got %lld", (long long)step);
  Dim len = dsub(c, n, stop, start), q;
  if (!nonneg(start) || !nonneg(len) || !nonneg(dsub(c, n, x.dim[ax], stop)))
    ERR("slice %s:%s:%lld of axis %d of %s is out of range", dstr(c, m, start),
        dstr(c, m, stop), (long long)step, ax, tstr(c, m, x));
  if (dim_is_const(len))
    q = dconst(c, (dim_value(len) + step - 1) / step);
  else if (!dim_div_const(&c->arena, len, step, &q) &&
           !dim_div_const(&c->arena, dadd(c, n, len, dconst(c, step - 1)), step,
                          &q))
    ERR("slice %s:%s:%lld of %s: the length is not a whole number",
        dstr(c, m, start), dstr(c, m, stop), (long long)step, tstr(c, m, x));
  n->type = x;
  n->type.dim = arena_alloc(&c->arena, sizeof(Dim) * (size_t)x.rank);
  memcpy(n->type.dim, x.dim, sizeof(Dim) * (size_t)x.rank);
  n->type.dim[ax] = q;
}

static void shape_concat(Ctx *c, Module *m, Node *n) {
  if (n->nin < 1)
    ERR("concat needs at least one operand");
  Type x = tin(n, 0);
  int ax = axis_need(c, m, n, "axis", x);
  Type t = tmake(c, x.dtype, x.rank);
  memcpy(t.dim, x.dim, sizeof(Dim) * (size_t)x.rank);
  for (int k = 1; k < n->nin; k++) {
    Type y = tin(n, k);
    int ok = y.dtype == x.dtype && y.rank == x.rank;
    for (int i = 0; ok && i < x.rank; i++)
      ok = i == ax || dim_eq(x.dim[i], y.dim[i]);
    if (!ok)
      ERR("concat of %s and %s along axis %d: the other dimensions and the "
          "dtypes must agree",
          tstr(c, m, x), tstr(c, m, y), ax);
    t.dim[ax] = dadd(c, n, t.dim[ax], y.dim[ax]);
  }
  n->type = t;
}

/* ---------------------------------------------------------- gathers */

static void shape_take(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0), idx = tin(n, 1);
  need_index(c, m, n, idx);
  int ax = axis_need(c, m, n, "axis", x);
  Type t = tmake(c, x.dtype, x.rank - 1 + idx.rank);
  int k = 0;
  for (int i = 0; i < ax; i++)
    t.dim[k++] = x.dim[i];
  for (int i = 0; i < idx.rank; i++)
    t.dim[k++] = idx.dim[i];
  for (int i = ax + 1; i < x.rank; i++)
    t.dim[k++] = x.dim[i];
  n->type = t;
}

static void shape_take_along(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0), idx = tin(n, 1);
  need_index(c, m, n, idx);
  if (idx.rank != x.rank)
    ERR("take_along of %s with index %s: ranks differ", tstr(c, m, x),
        tstr(c, m, idx));
  axis_need(c, m, n, "axis", x);
  n->type = idx;
  n->type.dtype = x.dtype;
}

static void shape_scatter(Ctx *c, Module *m, Node *n) {
  Type src = tin(n, 0), idx = tin(n, 1);
  need_numeric(c, m, n, src);
  need_index(c, m, n, idx);
  if (src.rank < 1 || idx.rank != 1 || !dim_eq(src.dim[0], idx.dim[0]))
    ERR("%s of %s with index %s: needs src [E,...] and index [E]", opn(n),
        tstr(c, m, src), tstr(c, m, idx));
  n->type = tmake(c, src.dtype, src.rank);
  memcpy(n->type.dim, src.dim, sizeof(Dim) * (size_t)src.rank);
  n->type.dim[0] = dim1_need(c, n, "n");
}

/* softmax_cross_entropy(x [..., C], t i32[...]): a loss per row, of t's
 * shape; its gradient (x, t, g of t's shape) has x's type. */
static void shape_softmax_xent(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0), t = tin(n, 1);
  need_float(c, m, n, x);
  need_index(c, m, n, t);
  int ok = x.rank >= 1 && t.rank == x.rank - 1;
  for (int i = 0; ok && i < t.rank; i++)
    ok = dim_eq(x.dim[i], t.dim[i]);
  if (!ok)
    ERR("%s of logits %s and targets %s: the targets need the logits' shape "
        "without its last (class) axis", opn(n), tstr(c, m, x), tstr(c, m, t));
  n->type = t;
  n->type.dtype = x.dtype;
  if (n->op == OP_SOFTMAX_XENT_GRAD) {
    if (!type_eq(tin(n, 2), n->type))
      ERR("%s: the gradient %s needs type %s", opn(n), tstr(c, m, tin(n, 2)),
          tstr(c, m, n->type));
    n->type = x;
  }
}

static void shape_one_hot(Ctx *c, Module *m, Node *n) {
  Type idx = tin(n, 0);
  need_index(c, m, n, idx);
  Dim len = dim1_need(c, n, "n");
  n->type = tmake(c, dtype_need(c, n), idx.rank + 1);
  memcpy(n->type.dim, idx.dim, sizeof(Dim) * (size_t)idx.rank);
  n->type.dim[idx.rank] = len;
}

/* ---------------------------------------------------------- convolutions */

static const char *const hw_name[2] = {"height", "width"};

/* Output size num/s + 1, floored like PyTorch when known; symbolic sizes
 * must divide exactly. `expr` shows the formula in messages. */
static Dim out_size(Ctx *c, Node *n, int axis, Dim num, int64_t s,
                    const char *expr) {
  Dim q;
  if (dim_is_const(num)) {
    if (dim_value(num) < 0)
      ERR("%s output %s %s is less than 1", opn(n), hw_name[axis], expr);
    return dconst(c, dim_value(num) / s + 1);
  }
  if (!dim_div_const(&c->arena, num, s, &q))
    ERR("%s output %s %s is not a whole number", opn(n), hw_name[axis], expr);
  return dadd(c, n, q, dconst(c, 1));
}

/* (h + 2p - d(k-1) - 1)/s + 1 */
static Dim conv_out(Ctx *c, Module *m, Node *n, int axis, Dim h, Dim k,
                    const int64_t s[2], const int64_t p[2],
                    const int64_t d[2]) {
  Dim num = dadd(c, n, h, dconst(c, 2 * p[axis] + d[axis] - 1));
  num = dsub(c, n, num, dmul(c, n, k, dconst(c, d[axis])));
  const char *expr =
      arena_printf(&c->arena, "(%s + 2*%lld - %lld*(%s-1) - 1)/%lld + 1",
                   dstr(c, m, h), (long long)p[axis], (long long)d[axis],
                   dstr(c, m, k), (long long)s[axis]);
  return out_size(c, n, axis, num, s[axis], expr);
}

/* Checks x and w: both [.,.,.,.] of one floating dtype. */
/* The operand count of conv2d, conv2d_grad_weight, max_pool2d and
 * max_pool2d_grad: `base`, or base + 2 with the input transform's scale
 * and shift (per channel of operand 0: it is read as max(x scale + shift,
 * 0); made by fuse, docs/ir.md). */
static int input_transform(Ctx *c, Module *m, Node *n, int base) {
  if (n->nin != base && n->nin != base + 2)
    ERR("%s takes %d or %d operands, got %d", opn(n), base, base + 2, n->nin);
  if (n->nin == base)
    return 0;
  Type x = tin(n, 0);
  for (int i = base; i < base + 2; i++) {
    Type t = tin(n, i);
    if (t.rank != 1 || x.rank != 4 || !dim_eq(t.dim[0], x.dim[1]) || t.dtype != x.dtype)
      ERR("%s: operand %d must be %s[%s], one per channel of %s", opn(n), i + 1,
          dtype_name(x.dtype), x.rank == 4 ? dstr(c, m, x.dim[1]) : "C", tstr(c, m, x));
  }
  return 1;
}

static void conv_operands(Ctx *c, Module *m, Node *n, int64_t *groups) {
  Type x = tin(n, 0), w = tin(n, 1);
  need_rank4(c, m, n, x, "an input [N,C,H,W]");
  need_rank4(c, m, n, w, "a 4-D weight");
  need_float(c, m, n, x);
  if (x.dtype != w.dtype)
    ERR("%s of %s with weight %s: dtypes differ", opn(n), tstr(c, m, x),
        tstr(c, m, w));
  *groups = int_opt(c, n, "groups", 1);
  if (*groups < 1)
    ERR("%s: groups must be positive, got %lld", opn(n), (long long)*groups);
}

static void need_divisible(Ctx *c, Node *n, Dim d, int64_t g,
                           const char *what) {
  if (dim_is_const(d) && dim_value(d) % g != 0)
    ERR("%s: %lld %s channels are not divisible by groups=%lld", opn(n),
        (long long)dim_value(d), what, (long long)g);
}

static void shape_conv2d(Ctx *c, Module *m, Node *n) {
  int64_t g, s[2], p[2], d[2];
  const int bias = n->op == OP_CONV2D && ir_attr_int(n, "bias", 0);
  const int pool = n->op == OP_CONV2D && ir_attr(n, "pool"); /* fuse rule 8 */
  if (pool && (ir_attr_int(n, "pool", 0) != 2 || !bias || ir_attr_int(n, "relu", 0) != 1))
    ERR("conv2d: pool=2 (its epilogue's MaxPool2d(2)) needs bias=1 relu=1");
  if (bias) { /* fuse rule 7: the epilogue's bias, one per output channel */
    if (n->nin != 3)
      ERR("conv2d with bias=1 takes 3 operands, got %d", n->nin);
    Type b = tin(n, 2), w = tin(n, 1);
    if (b.rank != 1 || w.rank != 4 || !dim_eq(b.dim[0], w.dim[0]) || b.dtype != w.dtype)
      ERR("conv2d: operand 3 must be %s[%s], the bias of each output channel",
          dtype_name(w.dtype), w.rank == 4 ? dstr(c, m, w.dim[0]) : "O");
  } else if (n->op == OP_CONV2D) {
    input_transform(c, m, n, 2);
  }
  conv_operands(c, m, n, &g);
  Type x = tin(n, 0), w = tin(n, 1);
  ints2(c, n, "stride", 1, 1, s);
  ints2(c, n, "padding", 0, 0, p);
  ints2(c, n, "dilation", 1, 1, d);
  Dim want = dmul(c, n, w.dim[1], dconst(c, g));
  if (!dim_eq(x.dim[1], want))
    ERR("conv2d of %s with weight %s: the weight expects %s input channels, "
        "got %s",
        tstr(c, m, x), tstr(c, m, w), dstr(c, m, want), dstr(c, m, x.dim[1]));
  need_divisible(c, n, w.dim[0], g, "output");
  Type t = tmake(c, x.dtype, 4);
  t.dim[0] = x.dim[0];
  t.dim[1] = w.dim[0];
  for (int i = 0; i < 2; i++)
    t.dim[2 + i] = conv_out(c, m, n, i, x.dim[2 + i], w.dim[2 + i], s, p, d);
  if (pool) {
    for (int i = 0; i < 2; i++) {
      if (!dim_is_const(t.dim[2 + i]) || dim_value(t.dim[2 + i]) < 2)
        ERR("conv2d with pool=2: the output %s must be a constant of 2 or more, got %s",
            hw_name[i], dstr(c, m, t.dim[2 + i]));
      t.dim[2 + i] = dconst(c, dim_value(t.dim[2 + i]) / 2);
    }
  }
  n->type = t;
}

/* (h-1)s - 2p + d(k-1) + op + 1 */
static Dim convt_out(Ctx *c, Module *m, Node *n, int axis, Dim h, Dim k,
                     const int64_t s[2], const int64_t p[2], const int64_t d[2],
                     const int64_t op[2]) {
  Dim r = dmul(c, n, dsub(c, n, h, dconst(c, 1)), dconst(c, s[axis]));
  r = dadd(c, n, r, dmul(c, n, k, dconst(c, d[axis])));
  r = dadd(c, n, r, dconst(c, -2 * p[axis] - d[axis] + op[axis] + 1));
  if (dim_is_const(r) && dim_value(r) < 1)
    ERR("conv_transpose2d output %s (%s-1)*%lld - 2*%lld + %lld*(%s-1) + "
        "%lld + 1 is less than 1",
        hw_name[axis], dstr(c, m, h), (long long)s[axis], (long long)p[axis],
        (long long)d[axis], dstr(c, m, k), (long long)op[axis]);
  return r;
}

static void shape_conv_transpose2d(Ctx *c, Module *m, Node *n) {
  int64_t g, s[2], p[2], d[2], op[2];
  conv_operands(c, m, n, &g);
  Type x = tin(n, 0), w = tin(n, 1);
  ints2(c, n, "stride", 1, 1, s);
  ints2(c, n, "padding", 0, 0, p);
  ints2(c, n, "output_padding", 0, 0, op);
  ints2(c, n, "dilation", 1, 1, d);
  for (int i = 0; i < 2; i++)
    if (op[i] >= s[i] && op[i] >= d[i])
      ERR("conv_transpose2d: output_padding %lld must be smaller than the "
          "stride or the dilation",
          (long long)op[i]);
  if (!dim_eq(x.dim[1], w.dim[0]))
    ERR("conv_transpose2d of %s with weight %s: the weight expects %s "
        "input channels, got %s",
        tstr(c, m, x), tstr(c, m, w), dstr(c, m, w.dim[0]),
        dstr(c, m, x.dim[1]));
  need_divisible(c, n, x.dim[1], g, "input");
  Type t = tmake(c, x.dtype, 4);
  t.dim[0] = x.dim[0];
  t.dim[1] = dmul(c, n, w.dim[1], dconst(c, g));
  for (int i = 0; i < 2; i++)
    t.dim[2 + i] =
        convt_out(c, m, n, i, x.dim[2 + i], w.dim[2 + i], s, p, d, op);
  n->type = t;
}

static void shape_pool2d(Ctx *c, Module *m, Node *n) {
  if (n->op == OP_MAX_POOL2D)
    input_transform(c, m, n, 1);
  Type x = tin(n, 0);
  int64_t k[2], s[2], p[2];
  need_rank4(c, m, n, x, "an input [N,C,H,W]");
  if (n->op == OP_AVG_POOL2D)
    need_float(c, m, n, x);
  need_numeric(c, m, n, x);
  ints2(c, n, "kernel", -1, 1, k);
  ints2(c, n, "stride", 0, 1, s);
  ints2(c, n, "padding", 0, 0, p);
  Type t = tmake(c, x.dtype, 4);
  t.dim[0] = x.dim[0];
  t.dim[1] = x.dim[1];
  for (int i = 0; i < 2; i++) {
    if (!ir_attr(n, "stride"))
      s[i] = k[i];
    if (2 * p[i] > k[i])
      ERR("%s: padding %lld is more than half the kernel size %lld", opn(n),
          (long long)p[i], (long long)k[i]);
    Dim num = dadd(c, n, x.dim[2 + i], dconst(c, 2 * p[i] - k[i]));
    const char *expr = arena_printf(&c->arena, "(%s + 2*%lld - %lld)/%lld + 1",
                                    dstr(c, m, x.dim[2 + i]), (long long)p[i],
                                    (long long)k[i], (long long)s[i]);
    t.dim[2 + i] = out_size(c, n, i, num, s[i], expr);
  }
  n->type = t;
}

static void shape_upsample(Ctx *c, Module *m, Node *n) {
  Type x = tin(n, 0);
  int64_t s[2];
  need_rank4(c, m, n, x, "an input [N,C,H,W]");
  ints2(c, n, "scale", -1, 1, s);
  n->type = tmake(c, x.dtype, 4);
  memcpy(n->type.dim, x.dim, sizeof(Dim) * 4);
  for (int i = 0; i < 2; i++)
    n->type.dim[2 + i] = dmul(c, n, x.dim[2 + i], dconst(c, s[i]));
}

/* ---------------------------------------------------------- control */

/* Each scan_carry in the body reads an initial carry of the same type. */
static void scan_carries(Ctx *c, Module *m, Node *n) {
  for (Node *b = n->body->first; b; b = b->next) {
    if (b->op != OP_SCAN_CARRY)
      continue;
    int64_t i = ir_attr_int(b, "index", -1);
    if (i < 0 || i >= n->nin || !type_eq(b->type, tin(n, (int)i)))
      ERR("scan: scan_carry %%%s (index %lld, %s) matches no initial carry",
          b->name ? b->name : "?", (long long)i, tstr(c, m, b->type));
  }
}

/* y with `steps` inserted at axis ax. */
static Type stacked(Ctx *c, Module *m, Node *n, Type y, int64_t ax, Dim steps) {
  if (ax < 0 || ax > y.rank)
    ERR("scan: cannot stack %s along axis %lld", tstr(c, m, y), (long long)ax);
  Type t = tmake(c, y.dtype, y.rank + 1);
  for (int i = 0, k = 0; i <= y.rank; i++)
    t.dim[i] = i == ax ? steps : y.dim[k++];
  return t;
}

static void shape_scan(Ctx *c, Module *m, Node *n) {
  Region *b = n->body;
  if (!b)
    ERR("scan has no body");
  dim1_need(c, n, "start");
  Dim steps = dim1_need(c, n, "steps");
  flag_opt(c, n, "reverse");
  int64_t nc = int_need(c, n, "ncarry");
  const Attr *axes = attr_kind(c, n, "axes", AK_INTS, 1);
  if (nc != n->nin)
    ERR("scan has %d initial carries but ncarry=%lld", n->nin, (long long)nc);
  if (b->nout != n->nin + axes->n)
    ERR("scan body yields %d values; expected %d carries and %d outputs",
        b->nout, n->nin, axes->n);
  for (int i = 0; i < b->nout; i++)
    if (!b->out[i] || b->out[i]->op == OP_SCAN)
      ERR("scan: yield %d is not a tensor", i + 1);
  for (int i = 0; i < n->nin; i++)
    if (!type_eq(b->out[i]->type, tin(n, i)))
      ERR("scan carry %d starts as %s but the body yields %s", i + 1,
          tstr(c, m, tin(n, i)), tstr(c, m, b->out[i]->type));
  scan_carries(c, m, n);
  n->nresult = b->nout;
  n->result = arena_alloc(&c->arena, sizeof(Type) * (size_t)(b->nout + 1));
  for (int k = 0; k < axes->n; k++)
    n->result[k] =
        stacked(c, m, n, b->out[n->nin + k]->type, axes->ints[k], steps);
  for (int i = 0; i < n->nin; i++)
    n->result[axes->n + i] = tin(n, i);
}

/* A fused group (fuse.c, docs/ir.md): row members, elementwise of one
 * shape S; sums or means over the same axes of S (the innermost axis of
 * S of size other than 1 among them) of row members or operands; kept
 * members, elementwise ops and reshapes whose dims other than 1 are S's
 * kept ones in order (ir_kept_form: one value per kept index), which read
 * reductions, kept members, operands of such shapes and scalars. Row
 * members read kept members only in shapes that broadcast to S along the
 * reduced axes (ir_kept_broadcast). Stages: a reduction is in the stage of what it reduces, a
 * kept member in the latest stage of the members it reads (0 when it
 * reads none), a row member in the stage after the kept members it reads
 * and in the latest of the row members it reads (1 at least). */
static int in_body(const Region *b, const Node *x) {
  for (const Node *y = b->first; y; y = y->next)
    if (y == x)
      return 1;
  return 0;
}


int ir_kept_form(Type S, const char *red, Type t) {
  int j = 0, k = 0;
  for (;;) { /* t's dims other than 1 are S's kept ones, in order */
    while (j < S.rank && (red[j] || is_one(S.dim[j])))
      j++;
    while (k < t.rank && is_one(t.dim[k]))
      k++;
    if (j == S.rank || k == t.rank)
      return j == S.rank && k == t.rank;
    if (!dim_eq(S.dim[j++], t.dim[k++]))
      return 0;
  }
}

int ir_kept_broadcast(Type S, const char *red, Type t) {
  if (t.rank > S.rank)
    return 0;
  for (int j = 0, off = S.rank - t.rank; j < S.rank; j++) {
    if (j < off) {
      if (!red[j] && !is_one(S.dim[j]))
        return 0;
    } else if (red[j] ? !is_one(t.dim[j - off]) : !dim_eq(t.dim[j - off], S.dim[j])) {
      return 0;
    }
  }
  return 1;
}

static int is_scalar_type(Type t) {
  for (int j = 0; j < t.rank; j++)
    if (!(dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1))
      return 0;
  return 1;
}

int ir_fused_reduction(const Node *x) {
  return (x->op == OP_SUM || x->op == OP_MEAN) && dtype_is_float(x->type.dtype);
}

/* Whether member x of a group of shape S reducing `red` is a kept one. */
int ir_fused_kept(const Node *x, Type S, const char *red) {
  return red && !ir_fused_reduction(x) && ir_kept_form(S, red, x->type);
}

int ir_fused_stages(const Node *fz, Type S, const char *red, int *stage) {
  int k = 0, most = 1;
  const Region *b = fz->body;
  for (const Node *x = b->first; x; x = x->next, k++) {
    int kept = ir_fused_kept(x, S, red), red_ = ir_fused_reduction(x), st = kept ? 0 : 1;
    for (int i = 0; i < x->nin; i++) {
      int j = 0;
      const Node *y = b->first;
      while (y && y != x->in[i])
        y = y->next, j++;
      if (!y)
        continue;
      int ykept = ir_fused_kept(y, S, red) || ir_fused_reduction(y);
      int need = kept ? stage[j] : red_ ? stage[j] : ykept ? stage[j] + 1 : stage[j];
      if (need > st)
        st = need;
    }
    stage[k] = st;
    if (st > most)
      most = st;
  }
  return most;
}

static void shape_fused(Ctx *c, Module *m, Node *n) {
  Region *b = n->body;
  if (!b || !b->first || b->nout < 1)
    ERR("fused has no body or yields nothing");
  Type S = {0};
  int have = 0;
  const char *red = NULL;
  for (Node *x = b->first; x; x = x->next) /* the shape: what the reductions read */
    if (ir_fused_reduction(x) && !have) {
      S = tin(x, 0), have = 1;
      red = reduced_axes(c, m, x, S);
    }
  for (Node *x = b->first; x; x = x->next) {
    int r = ir_fused_reduction(x);
    int kept = have && red && ir_fused_kept(x, S, red);
    if (!r && !op_fusible(x->op) && !(kept && x->op == OP_RESHAPE))
      ERR("fused: %%%s (%s) cannot be part of a fused group", x->name,
          nnc_ops[x->op].name);
    for (int i = 0; i < x->nin; i++) {
      int inside = in_body(b, x->in[i]), listed = 0;
      for (int k = 0; k < n->nin; k++)
        listed |= n->in[k] == x->in[i];
      if (!inside && !listed)
        ERR("fused: %%%s reads %%%s, which is neither in the group nor one "
            "of its operands", x->name, x->in[i]->name);
      Node *y = x->in[i];
      int ykept = inside && red && (ir_fused_reduction(y) || ir_fused_kept(y, S, red));
      if (kept && !ykept && !is_scalar_type(y->type) && !ir_kept_form(S, red, y->type))
        ERR("fused: the kept member %%%s reads %%%s, neither kept nor a scalar", x->name,
            y->name);
      if (!kept && !r && ykept && !ir_kept_broadcast(S, red, y->type))
        ERR("fused: %%%s reads %%%s, which does not broadcast along the reduced axes",
            x->name, y->name);
    }
    if (kept)
      continue;
    Type t = r ? tin(x, 0) : x->type;
    if (!have)
      S = t, have = 1;
    int same = t.rank == S.rank;
    for (int j = 0; same && j < S.rank; j++)
      same = dim_eq(t.dim[j], S.dim[j]);
    if (!same)
      ERR("fused: %%%s is %s, not the group's shape %s", x->name,
          tstr(c, m, t), tstr(c, m, S));
    if (r) {
      char *ax = reduced_axes(c, m, x, t);
      if (red && memcmp(red, ax, (size_t)S.rank))
        ERR("fused: %%%s reduces other axes than the group's first reduction",
            x->name);
      red = ax;
    }
  }
  for (int k = 0; k < n->nin; k++)
    if (in_body(b, n->in[k]))
      ERR("fused: operand %d is a member of the group", k + 1);
  if (red) {
    int inner = -1;
    for (int j = 0; j < S.rank; j++)
      if (!(dim_is_const(S.dim[j]) && dim_value(S.dim[j]) == 1))
        inner = j;
    if (inner < 0 || !red[inner])
      ERR("fused: the reductions must include the innermost axis of %s",
          tstr(c, m, S));
    int nm = 0;
    for (Node *x = b->first; x; x = x->next)
      nm++;
    int *stage = arena_alloc(&c->arena, sizeof(int) * (size_t)(nm + 1));
    if (ir_fused_stages(n, S, red, stage) > NNC_FUSED_STAGES)
      ERR("fused: more than %d stages", NNC_FUSED_STAGES);
  }
  n->nresult = b->nout;
  n->result = arena_alloc(&c->arena, sizeof(Type) * (size_t)(b->nout + 1));
  for (int i = 0; i < b->nout; i++) {
    if (!b->out[i] || !in_body(b, b->out[i]))
      ERR("fused: yield %d is not a member of the group", i + 1);
    if (b->out[i]->op == OP_RESHAPE)
      ERR("fused: yield %d is a reshape", i + 1);
    n->result[i] = b->out[i]->type;
  }
}

static void shape_scan_index(Ctx *c, Module *m, Node *n) {
  (void)m;
  n->type = tmake(c, DT_I32, 0);
}

static void shape_get(Ctx *c, Module *m, Node *n) {
  (void)m;
  Node *s = n->in[0];
  if (!op_has_body(s->op))
    ERR("get needs a scan or fused operand, got %s", nnc_ops[s->op].name);
  int64_t i = int_need(c, n, "index");
  if (i < 0 || i >= s->nresult)
    ERR("get: index %lld is out of range (the %s has %d results)",
        (long long)i, nnc_ops[s->op].name, s->nresult);
  n->type = s->result[i];
}

/* ---------------------------------------------------------- special */

static void shape_grad(Ctx *c, Module *m, Node *n) {
  need_scalar(c, m, n, tin(n, 0), "to differentiate");
  need_float(c, m, n, tin(n, 1));
  n->type = tin(n, 1);
}

static void shape_update(Ctx *c, Module *m, Node *n) {
  (void)m;
  attr_kind(c, n, "name", AK_STR, 1);
  n->type = tin(n, 0);
}

static void shape_minimize(Ctx *c, Module *m, Node *n) {
  need_scalar(c, m, n, tin(n, 0), "loss");
  attr_kind(c, n, "optimizer", AK_STR, 1);
  for (int i = 0; i < n->nattr; i++) {
    const char *k = n->attr[i].key;
    if (strcmp(k, "optimizer") && strcmp(k, "over"))
      float_opt(c, n, k);
  }
  attr_kind(c, n, "over", AK_STR, 0);
  n->type = tin(n, 0);
}

/* ------------------------------------------------------ backward ops */
/* Ops the differentiation pass creates; their attributes restate the
 * forward op's, plus the shape of the operand whose gradient they give. */

static Type same_as(Ctx *c, Type t) {
  Type r = tmake(c, t.dtype, t.rank);
  memcpy(r.dim, t.dim, sizeof(Dim) * (size_t)t.rank);
  return r;
}

static void shape_accum_grad(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  attr_kind(c, n, "name", AK_STR, 1);
  n->type = tin(n, 0);
}

static void shape_input_grad(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  if (int_need(c, n, "index") < 0)
    ERR("%s: negative index", opn(n));
  n->type = tin(n, 0);
}

/* The gradient of a slice: g placed into zeros of the full axis `n`. */
static void shape_slice_grad(Ctx *c, Module *m, Node *n) {
  Type g = tin(n, 0);
  int ax = axis_need(c, m, n, "axis", g);
  n->type = same_as(c, g);
  n->type.dim[ax] = dim1_need(c, n, "n");
}

/* The gradient of take: rows of g added into `n` rows along axis. */
static void shape_take_grad(Ctx *c, Module *m, Node *n) {
  Type g = tin(n, 0), idx = tin(n, 1);
  need_index(c, m, n, idx);
  int64_t ax = int_need(c, n, "axis");
  int rank = g.rank - idx.rank + 1;
  if (ax < 0 || ax >= rank || rank < 1)
    ERR("%s: axis %lld does not fit %s with index %s", opn(n), (long long)ax,
        tstr(c, m, g), tstr(c, m, idx));
  Type t = tmake(c, g.dtype, rank);
  for (int i = 0; i < ax; i++)
    t.dim[i] = g.dim[i];
  t.dim[ax] = dim1_need(c, n, "n");
  for (int i = (int)ax + 1; i < rank; i++)
    t.dim[i] = g.dim[i + idx.rank - 1];
  n->type = t;
}

static void shape_take_along_grad(Ctx *c, Module *m, Node *n) {
  Type g = tin(n, 0), idx = tin(n, 1);
  need_index(c, m, n, idx);
  if (g.rank != idx.rank)
    ERR("%s of %s with index %s: ranks differ", opn(n), tstr(c, m, g),
        tstr(c, m, idx));
  int ax = axis_need(c, m, n, "axis", g);
  n->type = same_as(c, g);
  n->type.dim[ax] = dim1_need(c, n, "n");
}

/* conv2d_grad_input(dy, w) and conv2d_grad_weight(x, dy): the result has
 * the attribute `shape` (the input's or the weight's). */
static void shape_conv2d_grad(Ctx *c, Module *m, Node *n) {
  int64_t s[2], p[2], d[2];
  if (n->op == OP_CONV2D_GRAD_WEIGHT)
    input_transform(c, m, n, 2);
  need_rank4(c, m, n, tin(n, 0), "a 4-D operand");
  need_rank4(c, m, n, tin(n, 1), "a 4-D operand");
  need_float(c, m, n, tin(n, 0));
  ints2(c, n, "stride", 1, 1, s);
  ints2(c, n, "padding", 0, 0, p);
  ints2(c, n, "dilation", 1, 1, d);
  if (int_opt(c, n, "groups", 1) < 1)
    ERR("%s: groups must be positive", opn(n));
  n->type = shape_attr(c, m, n, tin(n, 0).dtype);
  if (n->type.rank != 4)
    ERR("%s: shape must have 4 dimensions", opn(n));
}

/* max_pool2d_grad(x, dy) has x's type; avg_pool2d_grad(dy) the `shape`. */
static void shape_pool2d_grad(Ctx *c, Module *m, Node *n) {
  int64_t k[2], s[2], p[2];
  if (n->op == OP_MAX_POOL2D_GRAD)
    input_transform(c, m, n, 2);
  need_rank4(c, m, n, tin(n, 0), "a 4-D operand");
  ints2(c, n, "kernel", -1, 1, k);
  ints2(c, n, "stride", 0, 1, s);
  ints2(c, n, "padding", 0, 0, p);
  if (n->op == OP_MAX_POOL2D_GRAD)
    n->type = tin(n, 0);
  else
    n->type = shape_attr(c, m, n, tin(n, 0).dtype);
}

static void shape_gelu_grad(Ctx *c, Module *m, Node *n) {
  need_float(c, m, n, tin(n, 0));
  if (!type_eq(tin(n, 0), tin(n, 1)))
    ERR("gelu_grad of %s and %s: types differ", tstr(c, m, tin(n, 0)),
        tstr(c, m, tin(n, 1)));
  n->type = tin(n, 0);
}

/* ---------------------------------------------------------- dispatch */

typedef void ShapeRule(Ctx *c, Module *m, Node *n);

static ShapeRule *const shape_rules[OP_COUNT] = {
#define X(e, nm, ar, cl, sh) [OP_##e] = shape_##sh,
    NNC_OPS(X)
#undef X
};

void shape_infer(Ctx *c, Module *mod, Node *n) {
  if ((unsigned)n->op >= OP_COUNT)
    ERR("node has an invalid op (%d)", (int)n->op);
  int ar = nnc_ops[n->op].arity;
  if (ar >= 0 && n->nin != ar)
    ERR("%s takes %d operand%s, got %d", opn(n), ar, ar == 1 ? "" : "s",
        n->nin);
  for (int i = 0; i < n->nin; i++) {
    if (!n->in[i])
      ERR("operand %d of %s is missing", i + 1, opn(n));
    if (op_has_body(n->in[i]->op) && n->op != OP_GET)
      ERR("operand %d of %s is a %s: read its results with get", i + 1,
          opn(n), nnc_ops[n->in[i]->op].name);
  }
  shape_rules[n->op](c, mod, n);
}
