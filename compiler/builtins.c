/* builtins.c — the built-in functions of the .nn language: tensor ops that
 * map onto IR ops (with argument checking and defaults), compile-time
 * helpers on numbers and lists, and parameter initialisers resolved with
 * PyTorch's fan rules. */
#include <math.h>
#include <string.h>

#include "elab.h"

/* ----------------------------------------------------------- arguments */

static const char *bname(Args *a) {
  Ast *c = a->call;
  if (c->kind == A_CALL && c->a->kind == A_NAME)
    return c->a->name;
  if (c->kind == A_CALL && c->a->kind == A_ATTR)
    return c->a->name;
  return "where";
}

Value *arg_get(Elab *e, Args *a, int pos, const char *key) {
  (void)e;
  for (int i = 0; i < a->n; i++)
    if (a->name[i] ? key && strcmp(a->name[i], key) == 0 : i == pos)
      return a->v[i];
  return NULL;
}

static SrcLoc arg_loc(Args *a, int pos, const char *key) {
  for (int i = 0; i < a->n; i++)
    if (a->name[i] ? key && strcmp(a->name[i], key) == 0 : i == pos)
      return a->ast[i]->loc;
  return a->call->loc;
}

Value *arg_need(Elab *e, Args *a, int pos, const char *key) {
  Value *v = arg_get(e, a, pos, key);
  if (!v)
    nnc_error(e->c, a->call->loc, "%s: missing argument '%s'", bname(a), key);
  return v;
}

Node *arg_tensor(Elab *e, Args *a, int pos, const char *key) {
  Value *v = arg_need(e, a, pos, key);
  if (!is_tensorish(v))
    nnc_error(e->c, arg_loc(a, pos, key),
              "%s: argument '%s' must be a tensor, got %s", bname(a), key,
              val_kind_name(v));
  return to_tensor(e, v, arg_loc(a, pos, key));
}

int64_t arg_int(Elab *e, Args *a, int pos, const char *key, int64_t dflt) {
  Value *v = arg_get(e, a, pos, key);
  return v ? int_value(e, v, arg_loc(a, pos, key)) : dflt;
}

double arg_float(Elab *e, Args *a, int pos, const char *key, double dflt) {
  Value *v = arg_get(e, a, pos, key);
  return v ? num_value(e, v, arg_loc(a, pos, key)) : dflt;
}

static int arg_bool(Elab *e, Args *a, int pos, const char *key, int dflt) {
  Value *v = arg_get(e, a, pos, key);
  if (!v)
    return dflt;
  if (v->k == V_BOOL)
    return v->b;
  nnc_error(e->c, arg_loc(a, pos, key),
            "%s: '%s' must be true or false, got %s", bname(a), key,
            val_kind_name(v));
}

static const char *arg_str(Elab *e, Args *a, int pos, const char *key,
                           const char *dflt) {
  Value *v = arg_get(e, a, pos, key);
  if (!v)
    return dflt;
  if (v->k != V_STR)
    nnc_error(e->c, arg_loc(a, pos, key), "%s: '%s' must be a string", bname(a),
              key);
  return v->s;
}

/* Only the listed keyword names are accepted, and at most npos positionals. */
static void check_args(Elab *e, Args *a, int npos, const char *const *keys) {
  for (int i = 0; i < a->n; i++) {
    if (!a->name[i]) {
      if (i >= npos)
        nnc_error(e->c, a->ast[i]->loc,
                  "%s takes at most %d positional argument%s", bname(a), npos,
                  npos == 1 ? "" : "s");
      continue;
    }
    int ok = 0;
    for (int k = 0; keys[k]; k++)
      ok |= strcmp(keys[k], a->name[i]) == 0;
    if (!ok)
      nnc_error(e->c, a->ast[i]->loc, "%s has no argument '%s'", bname(a),
                a->name[i]);
  }
}
#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

int value_dims(Elab *e, Value *v, SrcLoc loc, Dim **out) {
  if (v->k == V_INT) {
    *out = arena_alloc(&e->c->arena, sizeof(Dim));
    (*out)[0] = v->d;
    return 1;
  }
  if (v->k != V_LIST && v->k != V_TUPLE)
    nnc_error(e->c, loc, "expected a list of dimensions, got %s",
              val_kind_name(v));
  *out = arena_alloc(&e->c->arena, sizeof(Dim) * (size_t)(v->n + 1));
  for (int i = 0; i < v->n; i++)
    (*out)[i] = dim_value_of(e, v->items[i], loc);
  return v->n;
}

/* An int or a pair [h, w], as conv and pool arguments take. */
static void pair(Elab *e, Args *a, int pos, const char *key, int64_t dflt,
                 int64_t out[2]) {
  Value *v = arg_get(e, a, pos, key);
  SrcLoc loc = arg_loc(a, pos, key);
  if (!v) {
    out[0] = out[1] = dflt;
  } else if (v->k == V_LIST) {
    if (v->n != 2)
      nnc_error(e->c, loc, "%s: '%s' needs one value or two [h, w], got %d",
                bname(a), key, v->n);
    out[0] = int_value(e, v->items[0], loc);
    out[1] = int_value(e, v->items[1], loc);
  } else
    out[0] = out[1] = int_value(e, v, loc);
}

int norm_axis(Elab *e, int64_t axis, int rank, SrcLoc loc) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    nnc_error(e->c, loc, "axis %lld is out of range for a tensor of rank %d",
              (long long)axis, rank);
  return (int)a;
}

/* ------------------------------------------------------ node helpers */

Node *reshape_to(Elab *e, Node *x, int rank, Dim *dims) {
  Attr at = attr_dims(&e->c->arena, "shape", rank, dims);
  return mk(e, OP_RESHAPE, 1, &x, 1, &at);
}

Node *permute_axes(Elab *e, Node *x, const int64_t *perm) {
  Attr at = attr_ints(&e->c->arena, "perm", x->type.rank, perm);
  return mk(e, OP_PERMUTE, 1, &x, 1, &at);
}

Node *slice_axis(Elab *e, Node *x, int axis, Dim start, Dim stop,
                 int64_t step) {
  Attr at[4] = {
      attr_int("axis", axis), attr_dims(&e->c->arena, "start", 1, &start),
      attr_dims(&e->c->arena, "stop", 1, &stop), attr_int("step", step)};
  return mk(e, OP_SLICE, 1, &x, 4, at);
}

Node *reduce_op(Elab *e, OpKind op, Node *x, int naxes, const int64_t *axes,
                int keepdim) {
  Attr at[2] = {attr_ints(&e->c->arena, "axes", naxes, axes),
                attr_int("keepdim", keepdim)};
  return mk(e, op, 1, &x, 2, at);
}

static Node *float_tensor(Elab *e, Args *a, int pos, const char *key) {
  Node *x = arg_tensor(e, a, pos, key);
  if (!dtype_is_float(x->type.dtype))
    x = mk_cast(e, x, (DType)dtype_default(e));
  return x;
}

/* Sorted, unique axes from an int, a list, or nothing (all axes). */
static int axes_arg(Elab *e, Args *a, int pos, const char *key, int rank,
                    int64_t *out) {
  Value *v = arg_get(e, a, pos, key);
  SrcLoc loc = arg_loc(a, pos, key);
  int n = 0;
  if (!v || v->k == V_NONE) {
    for (int i = 0; i < rank; i++)
      out[n++] = i;
    return n;
  }
  int cnt = v->k == V_LIST ? v->n : 1;
  for (int i = 0; i < cnt; i++) {
    int ax = norm_axis(e, int_value(e, v->k == V_LIST ? v->items[i] : v, loc),
                       rank, loc);
    for (int j = 0; j < n; j++)
      if (out[j] == ax)
        nnc_error(e->c, loc, "axis %d listed twice", ax);
    int j = n++;
    while (j > 0 && out[j - 1] > ax) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = ax;
  }
  return n;
}

/* -------------------------------------------------------- elementwise */

static Value *b_unary(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  Value *v = arg_need(e, a, 0, "x");
  if (is_number(v)) {
    double x = num_value(e, v, a->call->loc);
    switch (self->op) {
    case OP_EXP:
      return val_float(e, exp(x));
    case OP_LOG:
      if (x <= 0)
        nnc_error(e->c, a->call->loc, "log of %g", x);
      return val_float(e, log(x));
    case OP_SQRT:
      if (x < 0)
        nnc_error(e->c, a->call->loc, "sqrt of %g", x);
      return val_float(e, sqrt(x));
    case OP_ABS:
      return v->k == V_INT ? val_int(e, (int64_t)fabs(x))
                           : val_float(e, fabs(x));
    case OP_SIN:
      return val_float(e, sin(x));
    case OP_COS:
      return val_float(e, cos(x));
    case OP_TANH:
      return val_float(e, tanh(x));
    default:
      break;
    }
  }
  check_args(e, a, 1, KEYS("x"));
  Node *x = arg_tensor(e, a, 0, "x");
  if (nnc_ops[self->op].cls == OC_UNARY && self->op != OP_ABS &&
      self->op != OP_NEG && self->op != OP_SIGN && self->op != OP_RELU &&
      self->op != OP_DETACH && !dtype_is_float(x->type.dtype))
    nnc_error(e->c, a->call->loc,
              "%s needs a floating-point tensor, got %s (use float(x))",
              self->name, dtype_name(x->type.dtype));
  return val_tensor(e, mk1(e, (OpKind)self->op, x));
}

static Value *b_square(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Node *x = arg_tensor(e, a, 0, "x");
  return val_tensor(e, mk2(e, OP_MUL, x, x));
}

static Value *b_leaky_relu(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "slope", "negative_slope"));
  Node *x = float_tensor(e, a, 0, "x");
  Value *s = arg_get(e, a, 1, "slope");
  double slope = s ? num_value(e, s, a->call->loc)
                   : arg_float(e, a, 1, "negative_slope", 0.01);
  Attr at = attr_float("slope", slope);
  return val_tensor(e, mk(e, OP_LEAKY_RELU, 1, &x, 1, &at));
}

static Value *b_elu(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "alpha"));
  Node *x = float_tensor(e, a, 0, "x");
  Attr at = attr_float("alpha", arg_float(e, a, 1, "alpha", 1.0));
  return val_tensor(e, mk(e, OP_ELU, 1, &x, 1, &at));
}

static Value *b_gelu(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "approximate"));
  Node *x = float_tensor(e, a, 0, "x");
  const char *ap = arg_str(e, a, 1, "approximate", "none");
  if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
    nnc_error(e->c, a->call->loc,
              "gelu: approximate is \"none\" or \"tanh\", not \"%s\"", ap);
  Attr at = attr_str("approximate", ap);
  return val_tensor(e, mk(e, OP_GELU, 1, &x, 1, &at));
}

static Value *b_binary(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  check_args(e, a, 2, KEYS("a", "b"));
  Value *x = arg_need(e, a, 0, "a"), *y = arg_need(e, a, 1, "b");
  return val_tensor(e, elementwise2(e, (OpKind)self->op, x, y, a->call->loc));
}

static Value *b_where(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("cond", "a", "b"));
  Node *c = arg_tensor(e, a, 0, "cond");
  if (c->type.dtype != DT_BOOL)
    nnc_error(e->c, a->call->loc,
              "where: the condition must be a bool tensor, got %s",
              dtype_name(c->type.dtype));
  Value *x = arg_need(e, a, 1, "a"), *y = arg_need(e, a, 2, "b");
  DType dt = is_tensorish(x)   ? to_tensor(e, x, a->call->loc)->type.dtype
             : is_tensorish(y) ? to_tensor(e, y, a->call->loc)->type.dtype
             : x->k == V_INT && y->k == V_INT ? DT_I32
                                              : (DType)dtype_default(e);
  if (!dtype_is_float(dt) && (x->k == V_FLOAT || y->k == V_FLOAT))
    dt = (DType)dtype_default(e);
  Node *in[3] = {c, to_tensor_dt(e, x, dt, a->call->loc),
                 to_tensor_dt(e, y, dt, a->call->loc)};
  return val_tensor(e, mk(e, OP_WHERE, 3, in, 0, NULL));
}

static Value *b_clamp(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "min", "max"));
  Value *x = arg_need(e, a, 0, "x");
  Value *lo = arg_get(e, a, 1, "min"), *hi = arg_get(e, a, 2, "max");
  if (lo)
    x = val_tensor(e, elementwise2(e, OP_MAXIMUM, x, lo, a->call->loc));
  if (hi)
    x = val_tensor(e, elementwise2(e, OP_MINIMUM, x, hi, a->call->loc));
  return x;
}

static Value *b_cast(Elab *e, Args *a) {
  int to_float = strcmp(bname(a), "float") == 0;
  check_args(e, a, 1, KEYS("x"));
  Value *v = arg_need(e, a, 0, "x");
  if (!is_tensorish(v)) {
    if (to_float)
      return val_float(e, num_value(e, v, a->call->loc));
    if (v->k == V_FLOAT)
      return val_int(e, (int64_t)trunc(v->f));
    return v->k == V_BOOL ? val_int(e, v->b)
                          : val_int(e, int_value(e, v, a->call->loc));
  }
  Node *x = to_tensor(e, v, a->call->loc);
  return val_tensor(e,
                    mk_cast(e, x, to_float ? (DType)dtype_default(e) : DT_I32));
}

static Value *b_detach(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  return val_tensor(e, mk1(e, OP_DETACH, arg_tensor(e, a, 0, "x")));
}

/* --------------------------------------------------------- reductions */

static Value *ct_minmax(Elab *e, Args *a, int want_max) {
  Value **items = a->v;
  int n = a->n;
  if (n == 1 && a->v[0]->k == V_LIST) {
    items = a->v[0]->items;
    n = a->v[0]->n;
  }
  if (n == 0)
    nnc_error(e->c, a->call->loc, "%s of nothing", bname(a));
  Value *best = items[0];
  for (int i = 1; i < n; i++) {
    double x = num_value(e, items[i], a->call->loc),
           b = num_value(e, best, a->call->loc);
    if (want_max ? x > b : x < b)
      best = items[i];
  }
  return best;
}

static Value *b_reduce(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  Value *v0 = a->n ? a->v[0] : NULL;
  if ((self->op == OP_MAX || self->op == OP_MIN) && v0 && !is_tensorish(v0))
    return ct_minmax(e, a, self->op == OP_MAX);
  check_args(e, a, 3, KEYS("x", "axis", "keepdim"));
  Node *x = arg_tensor(e, a, 0, "x");
  if (self->op == OP_MEAN || self->op == OP_LOGSUMEXP)
    x = dtype_is_float(x->type.dtype) ? x
                                      : mk_cast(e, x, (DType)dtype_default(e));
  int64_t axes[64];
  int n = axes_arg(e, a, 1, "axis", x->type.rank, axes);
  int keep = arg_bool(e, a, 2, "keepdim", 0);
  return val_tensor(e, reduce_op(e, (OpKind)self->op, x, n, axes, keep));
}

/* var(x, axis, keepdim, correction = 1): mean of squared deviations,
 * scaled by n / (n - correction) as PyTorch does. */
static Value *b_var(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "axis", "keepdim", "correction"));
  Node *x = float_tensor(e, a, 0, "x");
  int64_t axes[64];
  int n = axes_arg(e, a, 1, "axis", x->type.rank, axes);
  int keep = arg_bool(e, a, 2, "keepdim", 0);
  int64_t corr = arg_int(e, a, 3, "correction", 1);
  Node *m = reduce_op(e, OP_MEAN, x, n, axes, 1);
  Node *d = mk2(e, OP_SUB, x, m);
  Node *v = reduce_op(e, OP_MEAN, mk2(e, OP_MUL, d, d), n, axes, keep);
  if (corr == 0)
    return val_tensor(e, v);
  Dim cnt = dim_const(&e->c->arena, 1);
  for (int i = 0; i < n; i++)
    dim_mul(&e->c->arena, cnt, x->type.dim[axes[i]], &cnt);
  Node *scale;
  if (dim_is_const(cnt)) {
    int64_t c = dim_value(cnt);
    if (c - corr <= 0)
      nnc_error(e->c, a->call->loc,
                "var over %lld elements with correction %lld", (long long)c,
                (long long)corr);
    scale = mk_const(e, (double)c / (double)(c - corr), x->type.dtype);
  } else { /* n is symbolic: count it at run time as a sum of ones, sized
             * 1 on the axes not reduced (the count is the same) */
    Dim *shp = arena_alloc(&e->c->arena, sizeof(Dim) * (size_t)(x->type.rank + 1));
    for (int i = 0; i < x->type.rank; i++)
      shp[i] = dim_const(&e->c->arena, 1);
    for (int i = 0; i < n; i++)
      shp[axes[i]] = x->type.dim[axes[i]];
    Attr at[3] = {attr_float("value", 1.0), attr_dtype("dtype", x->type.dtype),
                  attr_dims(&e->c->arena, "shape", x->type.rank, shp)};
    Node *ones = mk(e, OP_FULL, 0, NULL, 3, at);
    Node *cn = reduce_op(e, OP_SUM, ones, n, axes, keep);
    Node *den = mk2(e, OP_SUB, cn, mk_const(e, (double)corr, x->type.dtype));
    scale = mk2(e, OP_DIV, cn, den);
  }
  return val_tensor(e, mk2(e, OP_MUL, v, scale));
}

static Value *b_argmax(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "axis", "keepdim"));
  Node *x = arg_tensor(e, a, 0, "x");
  int axis =
      norm_axis(e, arg_int(e, a, 1, "axis", -1), x->type.rank, a->call->loc);
  Attr at[2] = {attr_int("axis", axis),
                attr_int("keepdim", arg_bool(e, a, 2, "keepdim", 0))};
  return val_tensor(e, mk(e, OP_ARGMAX, 1, &x, 2, at));
}

static Value *b_softmax(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  check_args(e, a, 2, KEYS("x", "axis"));
  Node *x = float_tensor(e, a, 0, "x");
  int axis =
      norm_axis(e, arg_int(e, a, 1, "axis", -1), x->type.rank, a->call->loc);
  Attr at = attr_int("axis", axis);
  return val_tensor(e, mk(e, (OpKind)self->op, 1, &x, 1, &at));
}

/* ----------------------------------------------------------- creation */

static DType dtype_arg(Elab *e, Args *a, int pos, DType dflt) {
  Value *v = arg_get(e, a, pos, "dtype");
  if (!v)
    return dflt;
  if (v->k != V_DTYPE)
    nnc_error(e->c, arg_loc(a, pos, "dtype"),
              "dtype must be f32, f64, i32 or bool");
  return v->dtype == DT_F64 ? (DType)dtype_default(e) : v->dtype;
}

static Value *b_fill(Elab *e, Args *a) {
  const char *n = bname(a);
  int full = strcmp(n, "full") == 0;
  int rnd = strncmp(n, "rand_", 5) == 0;
  check_args(e, a, full ? 3 : 2, KEYS("shape", "value", "dtype"));
  Dim *dims;
  int rank =
      value_dims(e, arg_need(e, a, 0, "shape"), arg_loc(a, 0, "shape"), &dims);
  double value = full ? arg_float(e, a, 1, "value", 0) : strcmp(n, "ones") == 0;
  DType dt = dtype_arg(e, a, full ? 2 : 1, (DType)dtype_default(e));
  if (rnd && !dtype_is_float(dt))
    nnc_error(e->c, a->call->loc, "%s makes floating-point tensors", n);
  Attr at[3] = {attr_dtype("dtype", dt),
                attr_dims(&e->c->arena, "shape", rank, dims),
                attr_float("value", value)};
  OpKind op = rnd ? (n[5] == 'u' ? OP_RAND_UNIFORM : OP_RAND_NORMAL) : OP_FULL;
  return val_tensor(e, mk(e, op, 0, NULL, rnd ? 2 : 3, at));
}

static Value *b_fill_like(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Node *x = arg_tensor(e, a, 0, "x");
  Attr at[3] = {attr_dtype("dtype", x->type.dtype),
                attr_dims(&e->c->arena, "shape", x->type.rank, x->type.dim),
                attr_float("value", strcmp(bname(a), "ones_like") == 0)};
  return val_tensor(e, mk(e, OP_FULL, 0, NULL, 3, at));
}

static Value *b_arange(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("n", "dtype"));
  Value *v = arg_need(e, a, 0, "n");
  Dim n = dim_value_of(e, v, a->call->loc);
  if (dim_is_const(n) && dim_value(n) < 1)
    nnc_error(e->c, a->call->loc, "arange needs at least 1 element");
  Attr at[2] = {attr_dims(&e->c->arena, "n", 1, &n),
                attr_dtype("dtype", dtype_arg(e, a, 1, DT_I32))};
  return val_tensor(e, mk(e, OP_ARANGE, 0, NULL, 2, at));
}

static Value *b_one_hot(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("idx", "n", "dtype"));
  Node *idx = arg_tensor(e, a, 0, "idx");
  Dim n = dim_value_of(e, arg_need(e, a, 1, "n"), a->call->loc);
  Attr at[2] = {
      attr_dims(&e->c->arena, "n", 1, &n),
      attr_dtype("dtype", dtype_arg(e, a, 2, (DType)dtype_default(e)))};
  return val_tensor(e, mk(e, OP_ONE_HOT, 1, &idx, 2, at));
}

/* -------------------------------------------------------------- shapes */

static Value *dims_list(Elab *e, int n, const Dim *d) {
  Value *l = val_new(e, V_LIST);
  l->n = n;
  l->items = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    l->items[i] = val_new(e, V_INT);
    l->items[i]->d = d[i];
  }
  return l;
}

static Value *b_shape(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Node *x = arg_tensor(e, a, 0, "x");
  return dims_list(e, x->type.rank, x->type.dim);
}

static Value *b_dim(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "axis"));
  Node *x = arg_tensor(e, a, 0, "x");
  int ax =
      norm_axis(e, arg_int(e, a, 1, "axis", 0), x->type.rank, a->call->loc);
  Value *v = val_new(e, V_INT);
  v->d = x->type.dim[ax];
  return v;
}

static Dim numel(Elab *e, int n, const Dim *d) {
  Dim t = dim_const(&e->c->arena, 1);
  for (int i = 0; i < n; i++)
    if (!dim_mul(&e->c->arena, t, d[i], &t))
      nnc_error(e->c, e->loc, "element count overflows");
  return t;
}

static Value *b_reshape(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "shape"));
  Node *x = arg_tensor(e, a, 0, "x");
  Dim *dims;
  int n =
      value_dims(e, arg_need(e, a, 1, "shape"), arg_loc(a, 1, "shape"), &dims);
  int hole = -1;
  for (int i = 0; i < n; i++)
    if (dim_is_const(dims[i]) && dim_value(dims[i]) == -1) {
      if (hole >= 0)
        nnc_error(e->c, a->call->loc, "reshape: only one -1 is allowed");
      hole = i;
    } else if (dim_is_const(dims[i]) && dim_value(dims[i]) < 1)
      nnc_error(e->c, a->call->loc, "reshape: dimension %d is %lld", i,
                (long long)dim_value(dims[i]));
  if (hole >= 0) {
    Dim known = dim_const(&e->c->arena, 1),
        total = numel(e, x->type.rank, x->type.dim);
    for (int i = 0; i < n; i++)
      if (i != hole)
        dim_mul(&e->c->arena, known, dims[i], &known);
    if (!dim_div(&e->c->arena, total, known, &dims[hole])) {
      StrBuf b = {0};
      type_print(&b, &e->mod->syms, x->type);
      char *m = arena_printf(&e->c->arena,
                             "reshape: %s cannot be split evenly for -1", b.s);
      sb_free(&b);
      nnc_error(e->c, a->call->loc, "%s", m);
    }
  }
  return val_tensor(e, reshape_to(e, x, n, dims));
}

static Value *b_flatten(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "start", "end"));
  Node *x = arg_tensor(e, a, 0, "x");
  int r = x->type.rank;
  if (r == 0) {
    Dim one = dim_const(&e->c->arena, 1);
    return val_tensor(e, reshape_to(e, x, 1, &one));
  }
  int s = norm_axis(e, arg_int(e, a, 1, "start", 1), r, a->call->loc);
  int en = norm_axis(e, arg_int(e, a, 2, "end", -1), r, a->call->loc);
  if (en < s)
    nnc_error(e->c, a->call->loc,
              "flatten: end axis %d is before start axis %d", en, s);
  Dim dims[64];
  int n = 0;
  for (int i = 0; i < s; i++)
    dims[n++] = x->type.dim[i];
  dims[n++] = numel(e, en - s + 1, x->type.dim + s);
  for (int i = en + 1; i < r; i++)
    dims[n++] = x->type.dim[i];
  return val_tensor(e, reshape_to(e, x, n, dims));
}

static Value *b_transpose(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "a", "b"));
  Node *x = arg_tensor(e, a, 0, "x");
  int r = x->type.rank;
  int p = norm_axis(e, arg_int(e, a, 1, "a", -2), r, a->call->loc);
  int q = norm_axis(e, arg_int(e, a, 2, "b", -1), r, a->call->loc);
  int64_t perm[64];
  for (int i = 0; i < r; i++)
    perm[i] = i;
  perm[p] = q;
  perm[q] = p;
  return val_tensor(e, permute_axes(e, x, perm));
}

static Value *b_permute(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "dims"));
  Node *x = arg_tensor(e, a, 0, "x");
  Value *l = arg_need(e, a, 1, "dims");
  if (l->k != V_LIST || l->n != x->type.rank)
    nnc_error(e->c, a->call->loc, "permute needs a list of %d axes",
              x->type.rank);
  int64_t perm[64];
  int seen[64] = {0};
  for (int i = 0; i < l->n; i++) {
    perm[i] = norm_axis(e, int_value(e, l->items[i], a->call->loc),
                        x->type.rank, a->call->loc);
    if (seen[perm[i]]++)
      nnc_error(e->c, a->call->loc, "permute: axis %lld appears twice",
                (long long)perm[i]);
  }
  return val_tensor(e, permute_axes(e, x, perm));
}

static Value *b_unsqueeze(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "axis"));
  Node *x = arg_tensor(e, a, 0, "x");
  int r = x->type.rank;
  int ax = norm_axis(e, arg_int(e, a, 1, "axis", 0), r + 1, a->call->loc);
  Dim dims[65];
  for (int i = 0, j = 0; i <= r; i++)
    dims[i] = i == ax ? dim_const(&e->c->arena, 1) : x->type.dim[j++];
  return val_tensor(e, reshape_to(e, x, r + 1, dims));
}

static Value *b_squeeze(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "axis"));
  Node *x = arg_tensor(e, a, 0, "x");
  int r = x->type.rank;
  int ax = norm_axis(e, arg_int(e, a, 1, "axis", 0), r, a->call->loc);
  Dim d = x->type.dim[ax];
  if (!dim_is_const(d) || dim_value(d) != 1)
    nnc_error(e->c, a->call->loc, "squeeze: axis %d does not have size 1", ax);
  Dim dims[64];
  for (int i = 0, j = 0; i < r; i++)
    if (i != ax)
      dims[j++] = x->type.dim[i];
  return val_tensor(e, reshape_to(e, x, r - 1, dims));
}

static Value *b_expand(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "shape"));
  Node *x = arg_tensor(e, a, 0, "x");
  Dim *dims;
  int n =
      value_dims(e, arg_need(e, a, 1, "shape"), arg_loc(a, 1, "shape"), &dims);
  for (int i = 0; i < n; i++) {
    int src = i - (n - x->type.rank);
    if (dim_is_const(dims[i]) && dim_value(dims[i]) == -1) {
      if (src < 0)
        nnc_error(e->c, a->call->loc, "expand: -1 for a new leading axis");
      dims[i] = x->type.dim[src];
    }
  }
  Attr at = attr_dims(&e->c->arena, "shape", n, dims);
  return val_tensor(e, mk(e, OP_EXPAND, 1, &x, 1, &at));
}

static Node **tensor_list(Elab *e, Args *a, int *n) {
  Value *l = arg_need(e, a, 0, "xs");
  if (l->k != V_LIST && l->k != V_TUPLE)
    nnc_error(e->c, a->call->loc, "%s needs a list of tensors", bname(a));
  if (l->n == 0)
    nnc_error(e->c, a->call->loc, "%s of an empty list", bname(a));
  Node **xs = arena_alloc(&e->c->arena, sizeof(Node *) * (size_t)l->n);
  for (int i = 0; i < l->n; i++)
    xs[i] = to_tensor(e, l->items[i], a->call->loc);
  *n = l->n;
  return xs;
}

static Value *b_concat(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("xs", "axis"));
  int n;
  Node **xs = tensor_list(e, a, &n);
  int ax =
      norm_axis(e, arg_int(e, a, 1, "axis", 0), xs[0]->type.rank, a->call->loc);
  Attr at = attr_int("axis", ax);
  return val_tensor(e, mk(e, OP_CONCAT, n, xs, 1, &at));
}

static Value *b_stack(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("xs", "axis"));
  int n;
  Node **xs = tensor_list(e, a, &n);
  int r = xs[0]->type.rank;
  int ax = norm_axis(e, arg_int(e, a, 1, "axis", 0), r + 1, a->call->loc);
  for (int i = 0; i < n; i++) {
    Dim dims[65];
    if (xs[i]->type.rank != r)
      nnc_error(e->c, a->call->loc, "stack: tensors of rank %d and %d", r,
                xs[i]->type.rank);
    for (int k = 0, j = 0; k <= r; k++)
      dims[k] = k == ax ? dim_const(&e->c->arena, 1) : xs[i]->type.dim[j++];
    xs[i] = reshape_to(e, xs[i], r + 1, dims);
  }
  Attr at = attr_int("axis", ax);
  return val_tensor(e, mk(e, OP_CONCAT, n, xs, 1, &at));
}

/* split(x, sizes, axis): sizes is a chunk size or a list of sizes. */
static Value *b_split(Elab *e, Args *a) {
  check_args(e, a, 3, KEYS("x", "sizes", "axis"));
  Node *x = arg_tensor(e, a, 0, "x");
  int ax =
      norm_axis(e, arg_int(e, a, 2, "axis", 0), x->type.rank, a->call->loc);
  Value *sz = arg_need(e, a, 1, "sizes");
  Dim total = x->type.dim[ax];
  Dim parts[256];
  int n = 0;
  if (sz->k == V_LIST) {
    if (sz->n > 256)
      nnc_error(e->c, a->call->loc, "split into too many parts");
    for (int i = 0; i < sz->n; i++)
      parts[n++] = dim_value_of(e, sz->items[i], a->call->loc);
  } else {
    int64_t c = int_value(e, sz, a->call->loc);
    if (!dim_is_const(total) || c < 1)
      nnc_error(e->c, a->call->loc,
                "split by a chunk size needs a constant axis and a size of at "
                "least 1");
    int64_t t = dim_value(total);
    if (t / c > 256)
      nnc_error(e->c, a->call->loc, "split into too many parts");
    for (int64_t o = 0; o < t; o += c)
      parts[n++] = dim_const(&e->c->arena, o + c <= t ? c : t - o);
  }
  Dim sum = dim_const(&e->c->arena, 0);
  for (int i = 0; i < n; i++)
    dim_add(&e->c->arena, sum, parts[i], &sum);
  if (!dim_eq(sum, total)) {
    StrBuf b = {0}, c2 = {0};
    dim_print(&b, &e->mod->syms, sum);
    dim_print(&c2, &e->mod->syms, total);
    char *m = arena_printf(&e->c->arena,
                           "split: sizes add up to %s but axis %d has %s", b.s,
                           ax, c2.s);
    sb_free(&b);
    sb_free(&c2);
    nnc_error(e->c, a->call->loc, "%s", m);
  }
  Value *t = val_new(e, V_TUPLE);
  t->n = n;
  t->items = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(n + 1));
  Dim start = dim_const(&e->c->arena, 0), stop;
  for (int i = 0; i < n; i++) {
    dim_add(&e->c->arena, start, parts[i], &stop);
    t->items[i] = val_tensor(e, slice_axis(e, x, ax, start, stop, 1));
    start = stop;
  }
  return t;
}

/* ----------------------------------------------------------- gathering */

static Value *b_take(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  check_args(e, a, 3, KEYS("x", "idx", "axis"));
  Node *x = arg_tensor(e, a, 0, "x"), *idx = arg_tensor(e, a, 1, "idx");
  int ax = norm_axis(e, arg_int(e, a, 2, "axis", self->op == OP_TAKE ? 0 : -1),
                     x->type.rank, a->call->loc);
  Attr at = attr_int("axis", ax);
  Node *in[2] = {x, idx};
  return val_tensor(e, mk(e, (OpKind)self->op, 2, in, 1, &at));
}

/* softmax_cross_entropy(logits, target): -log softmax(logits)[target] per
 * row, the classes on the last axis, as one kernel (forward and backward). */
static Value *b_softmax_xent(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("logits", "target"));
  Node *in[2] = {float_tensor(e, a, 0, "logits"), arg_tensor(e, a, 1, "target")};
  return val_tensor(e, mk(e, OP_SOFTMAX_XENT, 2, in, 0, NULL));
}

static Value *b_scatter(Elab *e, Args *a) {
  const Builtin *self = builtin_lookup(bname(a));
  check_args(e, a, 3, KEYS("src", "idx", "n"));
  Node *in[2] = {arg_tensor(e, a, 0, "src"), arg_tensor(e, a, 1, "idx")};
  Dim n = dim_value_of(e, arg_need(e, a, 2, "n"), arg_loc(a, 2, "n"));
  Attr at = attr_dims(&e->c->arena, "n", 1, &n);
  return val_tensor(e, mk(e, (OpKind)self->op, 2, in, 1, &at));
}

/* ------------------------------------------------------------ network */

static Value *b_conv(Elab *e, Args *a) {
  int tr = strcmp(bname(a), "conv_transpose2d") == 0;
  check_args(e, a, tr ? 7 : 6,
             KEYS("x", "w", "stride", "padding", "dilation", "groups",
                  "output_padding"));
  Node *in[2] = {float_tensor(e, a, 0, "x"), float_tensor(e, a, 1, "w")};
  int64_t st[2], pd[2], dl[2], op[2] = {0, 0};
  pair(e, a, 2, "stride", 1, st);
  pair(e, a, 3, "padding", 0, pd);
  if (tr)
    pair(e, a, 4, "output_padding", 0, op);
  pair(e, a, tr ? 6 : 4, "dilation", 1, dl);
  int64_t groups = arg_int(e, a, 5, "groups", 1);
  for (int i = 0; i < 2; i++)
    if (st[i] < 1 || dl[i] < 1 || pd[i] < 0 || op[i] < 0)
      nnc_error(
          e->c, a->call->loc,
          "%s: stride and dilation must be at least 1, padding at least 0",
          bname(a));
  if (groups < 1)
    nnc_error(e->c, a->call->loc, "%s: groups must be at least 1", bname(a));
  Attr at[5] = {attr_ints(&e->c->arena, "stride", 2, st),
                attr_ints(&e->c->arena, "padding", 2, pd),
                attr_ints(&e->c->arena, "dilation", 2, dl),
                attr_int("groups", groups),
                attr_ints(&e->c->arena, "output_padding", 2, op)};
  return val_tensor(
      e, mk(e, tr ? OP_CONV_TRANSPOSE2D : OP_CONV2D, 2, in, tr ? 5 : 4, at));
}

static Value *b_pool(Elab *e, Args *a) {
  int mx = strcmp(bname(a), "max_pool2d") == 0;
  check_args(e, a, 4, KEYS("x", "kernel", "stride", "padding"));
  Node *x = float_tensor(e, a, 0, "x");
  int64_t k[2], st[2], pd[2];
  pair(e, a, 1, "kernel", 0, k);
  if (!arg_get(e, a, 1, "kernel"))
    nnc_error(e->c, a->call->loc, "%s needs a kernel size", bname(a));
  Value *s = arg_get(e, a, 2, "stride");
  if (s && s->k != V_NONE)
    pair(e, a, 2, "stride", 1, st);
  else
    st[0] = k[0], st[1] = k[1];
  pair(e, a, 3, "padding", 0, pd);
  for (int i = 0; i < 2; i++) {
    if (k[i] < 1 || st[i] < 1 || pd[i] < 0)
      nnc_error(e->c, a->call->loc, "%s: kernel and stride must be at least 1",
                bname(a));
    if (pd[i] * 2 > k[i])
      nnc_error(e->c, a->call->loc,
                "%s: padding %lld is more than half the kernel %lld", bname(a),
                (long long)pd[i], (long long)k[i]);
  }
  Attr at[3] = {attr_ints(&e->c->arena, "kernel", 2, k),
                attr_ints(&e->c->arena, "stride", 2, st),
                attr_ints(&e->c->arena, "padding", 2, pd)};
  return val_tensor(e, mk(e, mx ? OP_MAX_POOL2D : OP_AVG_POOL2D, 1, &x, 3, at));
}

static Value *b_upsample(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("x", "scale"));
  Node *x = arg_tensor(e, a, 0, "x");
  int64_t sc[2];
  pair(e, a, 1, "scale", 2, sc);
  if (sc[0] < 1 || sc[1] < 1)
    nnc_error(e->c, a->call->loc, "upsample_nearest: scale must be at least 1");
  Attr at = attr_ints(&e->c->arena, "scale", 2, sc);
  return val_tensor(e, mk(e, OP_UPSAMPLE, 1, &x, 1, &at));
}

static Value *b_grad(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("y", "wrt"));
  Node *in[2] = {arg_tensor(e, a, 0, "y"), arg_tensor(e, a, 1, "wrt")};
  return val_tensor(e, mk(e, OP_GRAD, 2, in, 0, NULL));
}

/* -------------------------------------------------------- compile time */

static Value *b_len(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Value *v = arg_need(e, a, 0, "x");
  if (v->k == V_LIST || v->k == V_TUPLE)
    return val_int(e, v->n);
  if (v->k == V_STR)
    return val_int(e, (int64_t)strlen(v->s));
  nnc_error(e->c, a->call->loc, "len of %s", val_kind_name(v));
}

static Value *b_range(Elab *e, Args *a) {
  check_args(e, a, 2, KEYS("a", "b"));
  int64_t lo = 0, hi = arg_int(e, a, 0, "a", 0);
  if (arg_get(e, a, 1, "b")) {
    lo = hi;
    hi = arg_int(e, a, 1, "b", 0);
  }
  if (hi - lo > 100000)
    nnc_error(e->c, a->call->loc, "range of %lld elements is too long",
              (long long)(hi - lo));
  Value *l = val_new(e, V_LIST);
  l->n = hi > lo ? (int)(hi - lo) : 0;
  l->items = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(l->n + 1));
  for (int i = 0; i < l->n; i++)
    l->items[i] = val_int(e, lo + i);
  return l;
}

static Value *b_prod(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Value *v = arg_need(e, a, 0, "x");
  Value *r = val_int(e, 1);
  if (v->k != V_LIST)
    nnc_error(e->c, a->call->loc, "prod needs a list");
  for (int i = 0; i < v->n; i++)
    r = binary(e, BO_MUL, r, v->items[i], a->call->loc);
  return r;
}

/* is_list(v), is_tensor(v): compile-time type tests (int-or-pair args). */
static Value *b_is(Elab *e, Args *a) {
  check_args(e, a, 1, KEYS("x"));
  Value *v = arg_need(e, a, 0, "x");
  if (strcmp(bname(a), "is_list") == 0)
    return val_bool(e, v->k == V_LIST || v->k == V_TUPLE);
  return val_bool(e, is_tensorish(v));
}

static Value *b_init_only(Elab *e, Args *a) {
  nnc_error(e->c, a->call->loc,
            "'%s' is an initialiser: use it after '=' in a param or buffer "
            "declaration",
            bname(a));
}

static const Builtin builtins[] = {
    {"exp", b_unary, OP_EXP},
    {"log", b_unary, OP_LOG},
    {"sqrt", b_unary, OP_SQRT},
    {"rsqrt", b_unary, OP_RSQRT},
    {"abs", b_unary, OP_ABS},
    {"sign", b_unary, OP_SIGN},
    {"sin", b_unary, OP_SIN},
    {"cos", b_unary, OP_COS},
    {"tanh", b_unary, OP_TANH},
    {"sigmoid", b_unary, OP_SIGMOID},
    {"relu", b_unary, OP_RELU},
    {"softplus", b_unary, OP_SOFTPLUS},
    {"detach", b_detach, OP_DETACH},
    {"square", b_square, -1},
    {"leaky_relu", b_leaky_relu, -1},
    {"elu", b_elu, -1},
    {"gelu", b_gelu, -1},
    {"maximum", b_binary, OP_MAXIMUM},
    {"minimum", b_binary, OP_MINIMUM},
    {"where", b_where, -1},
    {"clamp", b_clamp, -1},
    {"float", b_cast, -1},
    {"int", b_cast, -1},
    {"sum", b_reduce, OP_SUM},
    {"mean", b_reduce, OP_MEAN},
    {"max", b_reduce, OP_MAX},
    {"min", b_reduce, OP_MIN},
    {"logsumexp", b_reduce, OP_LOGSUMEXP},
    {"var", b_var, -1},
    {"argmax", b_argmax, -1},
    {"softmax", b_softmax, OP_SOFTMAX},
    {"log_softmax", b_softmax, OP_LOG_SOFTMAX},
    {"zeros", b_fill, -1},
    {"ones", b_fill, -1},
    {"full", b_fill, -1},
    {"rand_uniform", b_fill, -1},
    {"rand_normal", b_fill, -1},
    {"zeros_like", b_fill_like, -1},
    {"ones_like", b_fill_like, -1},
    {"arange", b_arange, -1},
    {"one_hot", b_one_hot, -1},
    {"shape", b_shape, -1},
    {"dim", b_dim, -1},
    {"reshape", b_reshape, -1},
    {"flatten", b_flatten, -1},
    {"transpose", b_transpose, -1},
    {"permute", b_permute, -1},
    {"unsqueeze", b_unsqueeze, -1},
    {"squeeze", b_squeeze, -1},
    {"expand", b_expand, -1},
    {"concat", b_concat, -1},
    {"stack", b_stack, -1},
    {"split", b_split, -1},
    {"take", b_take, OP_TAKE},
    {"take_along", b_take, OP_TAKE_ALONG},
    {"softmax_cross_entropy", b_softmax_xent, OP_SOFTMAX_XENT},
    {"scatter_add", b_scatter, OP_SCATTER_ADD},
    {"scatter_max", b_scatter, OP_SCATTER_MAX},
    {"conv2d", b_conv, -1},
    {"conv_transpose2d", b_conv, -1},
    {"max_pool2d", b_pool, -1},
    {"avg_pool2d", b_pool, -1},
    {"upsample_nearest", b_upsample, -1},
    {"grad", b_grad, -1},
    {"len", b_len, -1},
    {"is_list", b_is, -1},
    {"is_tensor", b_is, -1},
    {"range", b_range, -1},
    {"prod", b_prod, -1},
    {"constant", b_init_only, -1},
    {"uniform", b_init_only, -1},
    {"normal", b_init_only, -1},
    {"xavier_uniform", b_init_only, -1},
    {"xavier_normal", b_init_only, -1},
    {"kaiming_uniform", b_init_only, -1},
    {"kaiming_normal", b_init_only, -1},
    {"eye", b_init_only, -1},
};

const char *builtin_name(int i) {
  return i >= 0 && i < (int)(sizeof builtins / sizeof *builtins)
             ? builtins[i].name
             : NULL;
}

const Builtin *builtin_lookup(const char *name) {
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
    if (strcmp(builtins[i].name, name) == 0)
      return &builtins[i];
  return NULL;
}

/* -------------------------------------------------------- initialisers */

static double gain_of(Elab *e, const char *nl, double a, SrcLoc loc) {
  if (strcmp(nl, "linear") == 0 || strcmp(nl, "sigmoid") == 0 ||
      strncmp(nl, "conv", 4) == 0)
    return 1;
  if (strcmp(nl, "tanh") == 0)
    return 5.0 / 3.0;
  if (strcmp(nl, "relu") == 0)
    return sqrt(2.0);
  if (strcmp(nl, "leaky_relu") == 0)
    return sqrt(2.0 / (1 + a * a));
  if (strcmp(nl, "selu") == 0)
    return 0.75;
  nnc_error(e->c, loc, "unknown nonlinearity \"%s\" for the gain", nl);
}

static void fans(Elab *e, Type t, SrcLoc loc, const char *who, double *in,
                 double *out) {
  if (t.rank < 2)
    nnc_error(e->c, loc, "%s needs a parameter with at least 2 dimensions",
              who);
  double rf = 1;
  for (int i = 2; i < t.rank; i++)
    rf *= (double)dim_value(t.dim[i]);
  *in = (double)dim_value(t.dim[1]) * rf;
  *out = (double)dim_value(t.dim[0]) * rf;
}

static Args init_args(Elab *e, Scope *s, Ast *call) {
  Args a = {0};
  a.call = call;
  a.n = call->list.n;
  a.name = arena_alloc(&e->c->arena, sizeof(char *) * (size_t)(a.n + 1));
  a.v = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(a.n + 1));
  a.ast = arena_alloc(&e->c->arena, sizeof(Ast *) * (size_t)(a.n + 1));
  for (int i = 0; i < a.n; i++) {
    a.name[i] = call->list.v[i]->name;
    a.ast[i] = call->list.v[i]->a;
    a.v[i] = eval(e, s, a.ast[i]);
  }
  return a;
}

const char *elab_init(Elab *e, Scope *s, Ast *init, Type t, SrcLoc loc) {
  Arena *ar = &e->c->arena;
  if (!init)
    return "zeros";
  const char *name = init->kind == A_NAME ? init->name
                     : init->kind == A_CALL && init->a->kind == A_NAME
                         ? init->a->name
                         : NULL;
  if (!name) {
    Value *v = eval(e, s, init);
    if (is_number(v) || v->k == V_BOOL)
      return arena_printf(ar, "constant(%.9g)", num_value(e, v, init->loc));
    nnc_error(e->c, init->loc,
              "expected an initialiser such as zeros or uniform(-0.1, 0.1)");
  }
  Args none = {0};
  none.call = init;
  Args a = init->kind == A_CALL ? init_args(e, s, init) : none;
  double fin, fout;
  if (strcmp(name, "zeros") == 0 || strcmp(name, "ones") == 0) {
    check_args(e, &a, 0, KEYS(NULL));
    return name;
  }
  if (strcmp(name, "eye") == 0) {
    if (t.rank != 2)
      nnc_error(e->c, init->loc,
                "eye initialises 2-dimensional parameters only");
    return "eye";
  }
  if (strcmp(name, "constant") == 0) {
    check_args(e, &a, 1, KEYS("value"));
    return arena_printf(ar, "constant(%.9g)",
                        num_value(e, arg_need(e, &a, 0, "value"), init->loc));
  }
  if (strcmp(name, "uniform") == 0 || strcmp(name, "normal") == 0) {
    int u = name[0] == 'u';
    check_args(e, &a, 2, u ? KEYS("a", "b") : KEYS("mean", "std"));
    double p = arg_float(e, &a, 0, u ? "a" : "mean", 0);
    double q = arg_float(e, &a, 1, u ? "b" : "std", 1);
    if (u && q < p)
      nnc_error(e->c, init->loc,
                "uniform(%g, %g): the upper bound is below the lower", p, q);
    if (!u && q < 0)
      nnc_error(e->c, init->loc, "normal: std must be at least 0");
    return arena_printf(ar, "%s(%.9g,%.9g)", name, p, q);
  }
  if (strncmp(name, "xavier_", 7) == 0) {
    check_args(e, &a, 1, KEYS("gain"));
    double g = arg_float(e, &a, 0, "gain", 1);
    fans(e, t, loc, name, &fin, &fout);
    double std = g * sqrt(2.0 / (fin + fout));
    if (name[7] == 'u')
      return arena_printf(ar, "uniform(%.9g,%.9g)", -sqrt(3.0) * std,
                          sqrt(3.0) * std);
    return arena_printf(ar, "normal(0,%.9g)", std);
  }
  if (strncmp(name, "kaiming_", 8) == 0) {
    check_args(e, &a, 1, KEYS("a", "mode", "nonlinearity"));
    double neg = arg_float(e, &a, 0, "a", 0);
    const char *mode = arg_str(e, &a, 1, "mode", "fan_in");
    const char *nl = arg_str(e, &a, 2, "nonlinearity", "leaky_relu");
    fans(e, t, loc, name, &fin, &fout);
    if (strcmp(mode, "fan_in") != 0 && strcmp(mode, "fan_out") != 0)
      nnc_error(e->c, init->loc, "mode is \"fan_in\" or \"fan_out\"");
    double std =
        gain_of(e, nl, neg, init->loc) / sqrt(mode[4] == 'i' ? fin : fout);
    if (name[8] == 'u')
      return arena_printf(ar, "uniform(%.9g,%.9g)", -sqrt(3.0) * std,
                          sqrt(3.0) * std);
    return arena_printf(ar, "normal(0,%.9g)", std);
  }
  nnc_error(e->c, init->loc, "unknown initialiser '%s'", name);
}
