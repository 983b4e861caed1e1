/* grad.c — reverse-mode differentiation as an IR transform. One gradient
 * rule per op (grad_rule) and one reverse walk (backprop): fan-out adds
 * gradients, broadcasting is summed back to each operand's shape, and only
 * values on a path from what is differentiated to the loss get a gradient.
 *
 * Needs: typed IR. Produces: no `grad` node left; every train entry point
 * ends with its backward pass, `accum_grad` for each parameter it updates
 * and `input_grad` for each float input. A scan is differentiated by a
 * reverse scan that recomputes each step from the carries the forward scan
 * now also stacks. */
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

typedef struct Builder {
  Ctx *c;
  Module *mod;
  Func *f;
  Region *r; /* where new nodes go */
  SrcLoc loc;
} Builder;

/* Gradients (and flags) indexed by node id; grows with the function. */
typedef struct Map {
  Node **g;
  char *need;
  int cap;
} Map;

static void map_fit(Arena *a, Map *m, int id) {
  if (id < m->cap)
    return;
  int cap = m->cap ? m->cap : 64;
  while (cap <= id)
    cap *= 2;
  m->g = arena_grow(a, m->g, sizeof(Node *) * (size_t)m->cap,
                    sizeof(Node *) * (size_t)cap);
  m->need = arena_grow(a, m->need, (size_t)m->cap, (size_t)cap);
  m->cap = cap;
}

static Node *map_get(Map *m, Node *n) { return n->id < m->cap ? m->g[n->id] : NULL; }
static int needs(Map *m, Node *n) { return n->id < m->cap && m->need[n->id]; }

/* ------------------------------------------------------------ building */

static Node *mk(Builder *b, OpKind op, int nin, Node **in, int nattr,
                const Attr *at) {
  return ir_node(b->c, b->mod, b->f, b->r, op, nin, in, nattr, at, NULL,
                 b->loc);
}
static Node *mk1(Builder *b, OpKind op, Node *x) {
  return mk(b, op, 1, &x, 0, NULL);
}
static Node *mk2(Builder *b, OpKind op, Node *x, Node *y) {
  Node *in[2] = {x, y};
  return mk(b, op, 2, in, 0, NULL);
}
static Node *scalar(Builder *b, double v, DType dt) {
  Attr at[3] = {attr_float("value", v), attr_dtype("dtype", dt),
                attr_dims(&b->c->arena, "shape", 0, NULL)};
  return mk(b, OP_CONST, 0, NULL, 3, at);
}
static Node *zeros(Builder *b, Type t) {
  Attr at[3] = {attr_float("value", 0), attr_dtype("dtype", t.dtype),
                attr_dims(&b->c->arena, "shape", t.rank, t.dim)};
  return mk(b, OP_FULL, 0, NULL, 3, at);
}
static Node *scale(Builder *b, Node *x, double v) {
  return mk2(b, OP_MUL, x, scalar(b, v, x->type.dtype));
}
static Node *reshape(Builder *b, Node *x, int rank, const Dim *dims) {
  Attr at = attr_dims(&b->c->arena, "shape", rank, dims);
  return mk(b, OP_RESHAPE, 1, &x, 1, &at);
}
static Node *reduce(Builder *b, OpKind op, Node *x, int n, const int64_t *axes,
                    int keep) {
  Attr at[2] = {attr_ints(&b->c->arena, "axes", n, axes),
                attr_int("keepdim", keep)};
  return mk(b, op, 1, &x, 2, at);
}
static Node *expand(Builder *b, Node *x, Type t) {
  if (type_eq(x->type, t))
    return x;
  Attr at = attr_dims(&b->c->arena, "shape", t.rank, t.dim);
  return mk(b, OP_EXPAND, 1, &x, 1, &at);
}
static Node *where(Builder *b, Node *c, Node *x, Node *y) {
  Node *in[3] = {c, x, y};
  return mk(b, OP_WHERE, 3, in, 0, NULL);
}
static Node *permute(Builder *b, Node *x, const int64_t *perm) {
  Attr at = attr_ints(&b->c->arena, "perm", x->type.rank, perm);
  return mk(b, OP_PERMUTE, 1, &x, 1, &at);
}
static Node *swap_last(Builder *b, Node *x) {
  int64_t perm[64];
  int r = x->type.rank;
  for (int i = 0; i < r; i++)
    perm[i] = i;
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return permute(b, x, perm);
}
static Node *take(Builder *b, Node *x, Node *idx, int axis) {
  Attr at = attr_int("axis", axis);
  Node *in[2] = {x, idx};
  return mk(b, OP_TAKE, 2, in, 1, &at);
}

/* Sums g (a broadcast result) back to type t: over the extra leading axes
 * and over the axes where t has size 1. */
static Node *reduce_to(Builder *b, Node *g, Type t) {
  int64_t axes[64];
  int n = 0, lead = g->type.rank - t.rank;
  for (int i = 0; i < lead; i++)
    axes[n++] = i;
  if (n)
    g = reduce(b, OP_SUM, g, n, axes, 0);
  n = 0;
  for (int i = 0; i < t.rank; i++)
    if (dim_is_const(t.dim[i]) && dim_value(t.dim[i]) == 1 &&
        !(dim_is_const(g->type.dim[i]) && dim_value(g->type.dim[i]) == 1))
      axes[n++] = i;
  if (n)
    g = reduce(b, OP_SUM, g, n, axes, 1);
  return g;
}

/* The shape of a reduction's result with keepdim: reduced axes become 1. */
static Node *keep_shape(Builder *b, Node *g, Node *x, const Attr *axes) {
  Dim d[64];
  for (int i = 0; i < x->type.rank; i++)
    d[i] = x->type.dim[i];
  if (axes && axes->n)
    for (int k = 0; k < axes->n; k++)
      d[axes->ints[k]] = dim_const(&b->c->arena, 1);
  else
    for (int i = 0; i < x->type.rank; i++)
      d[i] = dim_const(&b->c->arena, 1);
  return reshape(b, g, x->type.rank, d);
}

/* Elements a reduction averages over, as a scalar tensor. */
static Node *count(Builder *b, Node *x, const Attr *axes) {
  Dim n = dim_const(&b->c->arena, 1), d[64];
  int all = !axes || !axes->n;
  for (int i = 0; i < x->type.rank; i++) {
    int hit = all;
    for (int k = 0; !all && k < axes->n; k++)
      hit |= axes->ints[k] == i;
    d[i] = hit ? x->type.dim[i] : dim_const(&b->c->arena, 1);
    if (hit)
      dim_mul(&b->c->arena, n, x->type.dim[i], &n);
  }
  if (dim_is_const(n))
    return scalar(b, (double)dim_value(n), x->type.dtype);
  /* a symbolic count: the sum of ones over the reduced axes only (the
   * other axes have size 1 here) */
  Attr at[3] = {attr_float("value", 1), attr_dtype("dtype", x->type.dtype),
                attr_dims(&b->c->arena, "shape", x->type.rank, d)};
  Node *ones = mk(b, OP_FULL, 0, NULL, 3, at);
  return reduce(b, OP_SUM, ones, 0, NULL, 0);
}

/* Copies the attributes of n listed in keys onto a new attr array. */
static int copy_attrs(const Node *n, const char *const *keys, Attr *out) {
  int k = 0;
  for (int i = 0; keys[i]; i++) {
    const Attr *a = ir_attr(n, keys[i]);
    if (a)
      out[k++] = *a;
  }
  return k;
}

/* ------------------------------------------------------------- rules */

typedef struct Rule {
  Builder *b;
  Map *m;
  Node *n;    /* the forward node */
  Node *g;    /* d(loss)/d(n) */
  Node *d[8]; /* out: d(loss)/d(operand i), NULL for none */
} Rule;

static int needs_operand(Rule *r, int i) { return needs(r->m, r->n->in[i]); }

static void rule_matmul(Rule *r) {
  Builder *b = r->b;
  Node *a = r->n->in[0], *w = r->n->in[1], *g = r->g;
  Arena *ar = &b->c->arena;
  Node *A = a, *W = w;
  Dim d[64];
  if (a->type.rank == 1) { /* [K] -> [1, K]; g loses the M axis */
    d[0] = dim_const(ar, 1), d[1] = a->type.dim[0];
    A = reshape(b, a, 2, d);
  }
  if (w->type.rank == 1) {
    d[0] = w->type.dim[0], d[1] = dim_const(ar, 1);
    W = reshape(b, w, 2, d);
  }
  if (a->type.rank == 1 || w->type.rank == 1) {
    int gr = g->type.rank, k = 0;
    for (int i = 0; i < gr - (w->type.rank == 1 ? 0 : 1); i++)
      d[k++] = g->type.dim[i];
    if (a->type.rank == 1)
      d[k++] = dim_const(ar, 1);
    if (w->type.rank == 1)
      d[k++] = dim_const(ar, 1);
    else
      d[k++] = g->type.dim[gr - 1];
    g = reshape(b, g, k, d);
  }
  if (needs_operand(r, 0)) {
    Node *da = reduce_to(b, mk2(b, OP_MATMUL, g, swap_last(b, W)), A->type);
    r->d[0] = A == a ? da : reshape(b, da, a->type.rank, a->type.dim);
  }
  if (needs_operand(r, 1)) {
    Node *dw = reduce_to(b, mk2(b, OP_MATMUL, swap_last(b, A), g), W->type);
    r->d[1] = W == w ? dw : reshape(b, dw, w->type.rank, w->type.dim);
  }
}

/* Elementwise ops of one operand: d = g * f'(x), written with y = f(x). */
static Node *unary_grad(Builder *b, Node *n, Node *g) {
  Node *x = n->in[0], *y = n;
  DType dt = x->type.dtype;
  switch (n->op) {
  case OP_NEG: return mk1(b, OP_NEG, g);
  case OP_EXP: return mk2(b, OP_MUL, g, y);
  case OP_LOG: return mk2(b, OP_DIV, g, x);
  case OP_SQRT: return mk2(b, OP_DIV, scale(b, g, 0.5), y);
  case OP_RSQRT: /* -0.5 * g * y^3 */
    return mk2(b, OP_MUL, scale(b, g, -0.5),
               mk2(b, OP_MUL, y, mk2(b, OP_MUL, y, y)));
  case OP_ABS: return mk2(b, OP_MUL, g, mk1(b, OP_SIGN, x));
  case OP_SIN: return mk2(b, OP_MUL, g, mk1(b, OP_COS, x));
  case OP_COS: return mk1(b, OP_NEG, mk2(b, OP_MUL, g, mk1(b, OP_SIN, x)));
  case OP_TANH: /* g * (1 - y^2) */
    return mk2(b, OP_MUL, g,
               mk2(b, OP_SUB, scalar(b, 1, dt), mk2(b, OP_MUL, y, y)));
  case OP_SIGMOID: /* g * y * (1 - y) */
    return mk2(b, OP_MUL, mk2(b, OP_MUL, g, y),
               mk2(b, OP_SUB, scalar(b, 1, dt), y));
  case OP_RELU: /* y > 0 exactly when x > 0 (NaN: neither): the mask reads
                  the output, so the input need not be kept for it */
    return where(b, mk2(b, OP_GT, y, scalar(b, 0, dt)), g, scalar(b, 0, dt));
  case OP_LEAKY_RELU:
    return where(b, mk2(b, OP_GT, x, scalar(b, 0, dt)), g,
                 scale(b, g, ir_attr_float(n, "slope", 0.01)));
  case OP_ELU: /* x > 0: g; else g * (y + alpha) */
    return where(b, mk2(b, OP_GT, x, scalar(b, 0, dt)), g,
                 mk2(b, OP_MUL, g,
                     mk2(b, OP_ADD, y,
                         scalar(b, ir_attr_float(n, "alpha", 1), dt))));
  case OP_GELU: {
    Attr at = *ir_attr(n, "approximate");
    Node *in[2] = {x, g};
    return mk(b, OP_GELU_GRAD, 2, in, 1, &at);
  }
  case OP_SOFTPLUS: return mk2(b, OP_MUL, g, mk1(b, OP_SIGMOID, x));
  case OP_CAST:
    return dtype_is_float(x->type.dtype) ? (x->type.dtype == g->type.dtype
                                                ? g
                                                : mk1(b, OP_CAST, g))
                                         : NULL;
  default: return NULL;
  }
}

/* maximum/minimum: the larger (smaller) operand gets g; ties share it. */
static void rule_minmax(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *y = r->n->in[1], *g = r->g;
  DType dt = g->type.dtype;
  Node *win = mk2(b, r->n->op == OP_MAXIMUM ? OP_GT : OP_LT, x, y);
  Node *tie = mk2(b, OP_EQ, x, y);
  Node *half = scale(b, g, 0.5), *zero = scalar(b, 0, dt);
  if (needs_operand(r, 0))
    r->d[0] = reduce_to(b, where(b, win, g, where(b, tie, half, zero)), x->type);
  if (needs_operand(r, 1))
    r->d[1] = reduce_to(b, where(b, win, zero, where(b, tie, half, g)), y->type);
}

static void rule_binary(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *y = r->n->in[1], *g = r->g, *dx = NULL, *dy = NULL;
  int nx = needs_operand(r, 0), ny = needs_operand(r, 1);
  switch (r->n->op) {
  case OP_ADD: dx = g, dy = g; break;
  case OP_SUB: dx = g, dy = ny ? mk1(b, OP_NEG, g) : NULL; break;
  case OP_MUL:
    dx = nx ? mk2(b, OP_MUL, g, y) : NULL;
    dy = ny ? mk2(b, OP_MUL, g, x) : NULL;
    break;
  case OP_DIV: /* d/dy (x/y) = -(x/y)/y */
    dx = nx ? mk2(b, OP_DIV, g, y) : NULL;
    dy = ny ? mk1(b, OP_NEG, mk2(b, OP_DIV, mk2(b, OP_MUL, g, r->n), y)) : NULL;
    break;
  case OP_POW: /* x^y: y x^(y-1) and x^y log x */
    if (nx)
      dx = mk2(b, OP_MUL, mk2(b, OP_MUL, g, y),
               mk2(b, OP_POW, x,
                   mk2(b, OP_SUB, y, scalar(b, 1, y->type.dtype))));
    if (ny)
      dy = mk2(b, OP_MUL, mk2(b, OP_MUL, g, r->n), mk1(b, OP_LOG, x));
    break;
  default: return;
  }
  if (nx && dx)
    r->d[0] = reduce_to(b, dx, x->type);
  if (ny && dy)
    r->d[1] = reduce_to(b, dy, y->type);
}

static void rule_where(Rule *r) {
  Builder *b = r->b;
  Node *c = r->n->in[0], *zero = scalar(b, 0, r->g->type.dtype);
  if (needs_operand(r, 1))
    r->d[1] = reduce_to(b, where(b, c, r->g, zero), r->n->in[1]->type);
  if (needs_operand(r, 2))
    r->d[2] = reduce_to(b, where(b, c, zero, r->g), r->n->in[2]->type);
}

static void rule_reduce(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *y = r->n;
  const Attr *axes = ir_attr(r->n, "axes");
  int keep = (int)ir_attr_int(r->n, "keepdim", 0);
  Node *g = keep ? r->g : keep_shape(b, r->g, x, axes);
  Node *yk = keep ? y : keep_shape(b, y, x, axes);
  Node *ge = expand(b, g, x->type);
  switch (r->n->op) {
  case OP_SUM: r->d[0] = ge; break;
  case OP_MEAN: r->d[0] = mk2(b, OP_DIV, ge, count(b, x, axes)); break;
  case OP_LOGSUMEXP:
    r->d[0] = mk2(b, OP_MUL, ge, mk1(b, OP_EXP, mk2(b, OP_SUB, x, yk)));
    break;
  case OP_MAX:
  case OP_MIN: { /* ties share the gradient evenly */
    Attr at = attr_dtype("dtype", x->type.dtype);
    Node *eq = mk2(b, OP_EQ, x, expand(b, yk, x->type));
    Node *hit = mk(b, OP_CAST, 1, &eq, 1, &at);
    Node *cnt = reduce(b, OP_SUM, hit, axes ? axes->n : 0,
                       axes ? axes->ints : NULL, 1);
    r->d[0] = mk2(b, OP_DIV, mk2(b, OP_MUL, ge, hit), cnt);
    break;
  }
  default: break;
  }
}

static void rule_softmax(Rule *r) {
  Builder *b = r->b;
  Node *y = r->n, *g = r->g;
  int64_t axis = ir_attr_int(r->n, "axis", 0);
  if (r->n->op == OP_SOFTMAX) { /* y * (g - sum(g * y)) */
    Node *s = reduce(b, OP_SUM, mk2(b, OP_MUL, g, y), 1, &axis, 1);
    r->d[0] = mk2(b, OP_MUL, y, mk2(b, OP_SUB, g, s));
  } else { /* g - exp(y) * sum(g) */
    Node *s = reduce(b, OP_SUM, g, 1, &axis, 1);
    r->d[0] = mk2(b, OP_SUB, g, mk2(b, OP_MUL, mk1(b, OP_EXP, y), s));
  }
}

static void rule_shape(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *g = r->g;
  Arena *ar = &b->c->arena;
  switch (r->n->op) {
  case OP_RESHAPE:
    r->d[0] = reshape(b, g, x->type.rank, x->type.dim);
    break;
  case OP_PERMUTE: {
    const Attr *p = ir_attr(r->n, "perm");
    int64_t inv[64];
    for (int i = 0; i < p->n; i++)
      inv[p->ints[i]] = i;
    r->d[0] = permute(b, g, inv);
    break;
  }
  case OP_EXPAND: r->d[0] = reduce_to(b, g, x->type); break;
  case OP_SLICE: {
    static const char *const keys[] = {"axis", "start", "stop", "step", NULL};
    Attr at[5];
    int k = copy_attrs(r->n, keys, at);
    at[k++] = attr_dims(ar, "n", 1, &x->type.dim[ir_attr_int(r->n, "axis", 0)]);
    r->d[0] = mk(b, OP_SLICE_GRAD, 1, &g, k, at);
    break;
  }
  case OP_CONCAT: {
    int64_t axis = ir_attr_int(r->n, "axis", 0);
    Dim start = dim_const(ar, 0), stop;
    for (int i = 0; i < r->n->nin; i++) {
      Node *xi = r->n->in[i];
      dim_add(ar, start, xi->type.dim[axis], &stop);
      if (needs_operand(r, i)) {
        Attr at[4] = {attr_int("axis", axis), attr_dims(ar, "start", 1, &start),
                      attr_dims(ar, "stop", 1, &stop), attr_int("step", 1)};
        r->d[i] = mk(b, OP_SLICE, 1, &g, 4, at);
      }
      start = stop;
    }
    break;
  }
  default: break;
  }
}

static void rule_gather(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *idx = r->n->in[1], *g = r->g;
  Arena *ar = &b->c->arena;
  switch (r->n->op) {
  case OP_TAKE:
  case OP_TAKE_ALONG: {
    int64_t axis = ir_attr_int(r->n, "axis", 0);
    Attr at[2] = {attr_int("axis", axis), attr_dims(ar, "n", 1, &x->type.dim[axis])};
    Node *in[2] = {g, idx};
    r->d[0] = mk(b, r->n->op == OP_TAKE ? OP_TAKE_GRAD : OP_TAKE_ALONG_GRAD, 2,
                 in, 2, at);
    break;
  }
  case OP_SOFTMAX_XENT: { /* (softmax(x) - one_hot(t)) * g, one kernel */
    Node *in[3] = {x, idx, g};
    r->d[0] = mk(b, OP_SOFTMAX_XENT_GRAD, 3, in, 0, NULL);
    break;
  }
  case OP_SOFTMAX_XENT_GRAD: { /* y = (p - one_hot(t)) * g[..., None] */
    int64_t last = x->type.rank - 1;
    Attr ax = attr_int("axis", last);
    Node *p = mk(b, OP_SOFTMAX, 1, &x, 1, &ax), *gin = r->n->in[2];
    Dim dims[64];
    memcpy(dims, gin->type.dim, sizeof(Dim) * (size_t)gin->type.rank);
    dims[gin->type.rank] = dim_const(ar, 1);
    Node *gc = reshape(b, gin, gin->type.rank + 1, dims);
    /* x: the softmax's Jacobian applied to g * G */
    Node *h = mk2(b, OP_MUL, g, gc);
    Node *s = reduce(b, OP_SUM, mk2(b, OP_MUL, h, p), 1, &last, 1);
    r->d[0] = mk2(b, OP_MUL, p, mk2(b, OP_SUB, h, s));
    /* g: the sum of G * (p - one_hot(t)) over the classes */
    Attr oh[2] = {attr_dims(ar, "n", 1, &x->type.dim[last]),
                  attr_dtype("dtype", x->type.dtype)};
    Node *hot = mk(b, OP_ONE_HOT, 1, &idx, 2, oh);
    r->d[2] = reduce(b, OP_SUM, mk2(b, OP_MUL, g, mk2(b, OP_SUB, p, hot)), 1, &last, 0);
    break;
  }
  case OP_SCATTER_ADD: r->d[0] = take(b, g, idx, 0); break;
  case OP_SCATTER_MAX: { /* the rows that won get the gradient */
    Node *won = mk2(b, OP_EQ, x, take(b, r->n, idx, 0));
    r->d[0] = where(b, won, take(b, g, idx, 0), scalar(b, 0, g->type.dtype));
    break;
  }
  default: break;
  }
}

static void rule_conv(Rule *r) {
  Builder *b = r->b;
  Node *x = r->n->in[0], *g = r->g;
  Arena *ar = &b->c->arena;
  static const char *const keys[] = {"stride", "padding", "dilation", "groups",
                                     NULL};
  Attr at[6];
  int k = copy_attrs(r->n, keys, at);
  switch (r->n->op) {
  case OP_CONV2D: {
    Node *w = r->n->in[1];
    if (needs_operand(r, 0)) {
      at[k] = attr_dims(ar, "shape", 4, x->type.dim);
      Node *in[2] = {g, w};
      r->d[0] = mk(b, OP_CONV2D_GRAD_INPUT, 2, in, k + 1, at);
    }
    if (needs_operand(r, 1)) {
      at[k] = attr_dims(ar, "shape", 4, w->type.dim);
      Node *in[2] = {x, g};
      r->d[1] = mk(b, OP_CONV2D_GRAD_WEIGHT, 2, in, k + 1, at);
    }
    break;
  }
  case OP_CONV_TRANSPOSE2D: { /* the input gradient of a convolution */
    Node *w = r->n->in[1];
    if (needs_operand(r, 0)) {
      Node *in[2] = {g, w};
      Node *d = mk(b, OP_CONV2D, 2, in, k, at);
      /* output_padding >= stride (allowed below the dilation): the
       * convolution of g reaches output_padding / stride rows or columns
       * past x, which no input element produced; crop them */
      for (int i = 2; i < 4; i++)
        if (!dim_eq(d->type.dim[i], x->type.dim[i])) {
          Dim zero = dim_const(ar, 0);
          Attr sa[4] = {attr_int("axis", i), attr_dims(ar, "start", 1, &zero),
                        attr_dims(ar, "stop", 1, &x->type.dim[i]),
                        attr_int("step", 1)};
          d = mk(b, OP_SLICE, 1, &d, 4, sa);
        }
      r->d[0] = d;
    }
    if (needs_operand(r, 1)) {
      at[k] = attr_dims(ar, "shape", 4, w->type.dim);
      Node *in[2] = {g, x};
      r->d[1] = mk(b, OP_CONV2D_GRAD_WEIGHT, 2, in, k + 1, at);
    }
    break;
  }
  case OP_MAX_POOL2D:
  case OP_AVG_POOL2D: {
    static const char *const pk[] = {"kernel", "stride", "padding", NULL};
    k = copy_attrs(r->n, pk, at);
    if (r->n->op == OP_MAX_POOL2D) {
      Node *in[2] = {x, g};
      r->d[0] = mk(b, OP_MAX_POOL2D_GRAD, 2, in, k, at);
    } else {
      at[k] = attr_dims(ar, "shape", 4, x->type.dim);
      r->d[0] = mk(b, OP_AVG_POOL2D_GRAD, 1, &g, k + 1, at);
    }
    break;
  }
  case OP_UPSAMPLE: { /* each input pixel fed s*s outputs: sum them */
    const Attr *sc = ir_attr(r->n, "scale");
    Attr pa[2] = {attr_ints(ar, "kernel", 2, sc->ints),
                  attr_ints(ar, "stride", 2, sc->ints)};
    Node *avg = mk(b, OP_AVG_POOL2D, 1, &g, 2, pa);
    r->d[0] = scale(b, avg, (double)(sc->ints[0] * sc->ints[1]));
    break;
  }
  default: break;
  }
}

static void scan_backward(Builder *b, Map *m, Node *scan, Node **res_grad,
                          Node **list, int n);

/* Applies n's rule; returns 0 when n has none (the caller reports it). */
static int grad_rule(Rule *r) {
  switch (r->n->op) {
  case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW:
    rule_binary(r);
    return 1;
  case OP_MAXIMUM: case OP_MINIMUM: rule_minmax(r); return 1;
  case OP_WHERE: rule_where(r); return 1;
  case OP_SUM: case OP_MEAN: case OP_MAX: case OP_MIN: case OP_LOGSUMEXP:
    rule_reduce(r);
    return 1;
  case OP_SOFTMAX: case OP_LOG_SOFTMAX: rule_softmax(r); return 1;
  case OP_MATMUL: rule_matmul(r); return 1;
  case OP_RESHAPE: case OP_PERMUTE: case OP_EXPAND: case OP_SLICE:
  case OP_CONCAT:
    rule_shape(r);
    return 1;
  case OP_TAKE: case OP_TAKE_ALONG: case OP_SCATTER_ADD: case OP_SCATTER_MAX:
  case OP_SOFTMAX_XENT: case OP_SOFTMAX_XENT_GRAD:
    rule_gather(r);
    return 1;
  case OP_CONV2D: case OP_CONV_TRANSPOSE2D: case OP_MAX_POOL2D:
  case OP_AVG_POOL2D: case OP_UPSAMPLE:
    rule_conv(r);
    return 1;
  /* no gradient flows through these */
  case OP_DETACH: case OP_SIGN: case OP_ARGMAX: case OP_ONE_HOT:
  case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
  case OP_AND: case OP_OR: case OP_NOT: case OP_UPDATE: case OP_MINIMIZE:
  case OP_ACCUM_GRAD: case OP_INPUT_GRAD:
    return 1;
  default:
    if (nnc_ops[r->n->op].cls == OC_UNARY) {
      r->d[0] = unary_grad(r->b, r->n, r->g);
      return 1;
    }
    return 0;
  }
}

/* ---------------------------------------------------------- the walk */

static int differentiable(const Node *n) {
  return dtype_is_float(n->type.dtype) && n->op != OP_DETACH &&
         n->op != OP_ARGMAX && n->op != OP_SIGN && n->op != OP_UPDATE;
}

static void accumulate(Builder *b, Map *m, Node *x, Node *d) {
  if (!d)
    return;
  map_fit(&b->c->arena, m, x->id);
  if (d->type.dtype != x->type.dtype || !type_eq(d->type, x->type))
    d = expand(b, d, x->type);
  m->g[x->id] = m->g[x->id] ? mk2(b, OP_ADD, m->g[x->id], d) : d;
}

static void captures(Arena *a, Node *scan, PtrVec *out);

/* Marks what needs a gradient: the targets (already marked) and every
 * differentiable node with an operand that needs one. */
static void mark(Arena *a, Map *m, Node **list, int n) {
  for (int i = 0; i < n; i++) {
    Node *x = list[i];
    map_fit(a, m, x->id);
    if (m->need[x->id] || !differentiable(x))
      continue;
    for (int k = 0; k < x->nin; k++)
      if (needs(m, x->in[k]))
        m->need[x->id] = 1;
    if (x->op == OP_SCAN && !m->need[x->id]) { /* or a captured value does */
      PtrVec cap = {0};
      captures(a, x, &cap);
      for (int k = 0; k < cap.n; k++)
        if (needs(m, cap.v[k]))
          m->need[x->id] = 1;
    }
  }
}

/* Reverse walk over list[0..n) (one region's nodes in order), starting from
 * the gradients already in m; gradients of operands outside the list (the
 * targets and captured values) are left in m for the caller. */
static void backprop(Builder *b, Map *m, Node **list, int n) {
  Node ***scan_res = NULL; /* gradients of scan results, by scan */
  scan_res = calloc((size_t)n, sizeof *scan_res);
  for (int i = n - 1; i >= 0; i--) {
    Node *x = list[i];
    b->loc = x->loc;
    if (x->op == OP_GET) {
      Node *g = map_get(m, x);
      if (!g)
        continue;
      int k = -1;
      for (int j = 0; j < i; j++)
        if (list[j] == x->in[0])
          k = j;
      if (k < 0)
        continue;
      if (!scan_res[k])
        scan_res[k] = arena_alloc(&b->c->arena, sizeof(Node *) * (size_t)(x->in[0]->nresult + 1));
      scan_res[k][ir_attr_int(x, "index", 0)] = g;
      continue;
    }
    if (x->op == OP_SCAN) {
      if (scan_res[i])
        scan_backward(b, m, x, scan_res[i], list, n);
      continue;
    }
    Node *g = map_get(m, x);
    if (!g || !needs(m, x) || x->nin == 0) /* leaves keep their gradient */
      continue;
    Rule r = {b, m, x, g, {0}};
    if (!grad_rule(&r)) {
      free(scan_res);
      nnc_error(b->c, x->loc, "cannot differentiate %s (no gradient rule%s)",
                nnc_ops[x->op].name,
                x->op == OP_GRAD ? ": grad of grad" : "");
    }
    for (int k = 0; k < x->nin && k < 8; k++)
      if (r.d[k] && needs(m, x->in[k]))
        accumulate(b, m, x->in[k], r.d[k]);
  }
  free(scan_res);
}

/* ------------------------------------------------------------- scans */

/* Nodes of a region (and the regions inside it), in order. */
static void collect(Region *r, PtrVec *out, Arena *a) {
  for (Node *n = r->first; n; n = n->next) {
    vec_push(a, out, n);
    if (n->body)
      collect(n->body, out, a);
  }
}

static Node **region_list(Arena *a, Region *r, int *n) {
  int k = 0;
  for (Node *x = r->first; x; x = x->next)
    k++;
  Node **v = arena_alloc(a, sizeof(Node *) * (size_t)(k + 1));
  k = 0;
  for (Node *x = r->first; x; x = x->next)
    v[k++] = x;
  *n = k;
  return v;
}

/* Copies the nodes of `from` into b->r, operands through `map` (old id ->
 * new node; values not in the map are captured as they are). */
static void clone_region(Builder *b, Map *map, Region *from) {
  for (Node *n = from->first; n; n = n->next) {
    map_fit(&b->c->arena, map, n->id);
    if (map->g[n->id]) /* pre-mapped (scan index, carries) */
      continue;
    Node *in[64];
    for (int i = 0; i < n->nin && i < 64; i++) {
      Node *o = map_get(map, n->in[i]);
      in[i] = o ? o : n->in[i];
    }
    b->loc = n->loc;
    Node *c = ir_node(b->c, b->mod, b->f, b->r, n->op, n->nin, in, n->nattr,
                      n->attr, n->name, n->loc);
    if (n->body) {
      Builder inner = *b;
      inner.r = c->body;
      clone_region(&inner, map, n->body);
      c->body->nout = n->body->nout;
      c->body->out = arena_alloc(&b->c->arena, sizeof(Node *) * (size_t)(n->body->nout + 1));
      for (int i = 0; i < n->body->nout; i++) {
        Node *o = map_get(map, n->body->out[i]);
        c->body->out[i] = o ? o : n->body->out[i];
      }
      shape_infer(b->c, b->mod, c);
    }
    map->g[n->id] = c;
  }
}

/* Values a scan body reads from outside itself. */
static void captures(Arena *a, Node *scan, PtrVec *out) {
  PtrVec inside = {0};
  collect(scan->body, &inside, a);
  Map own = {0};
  for (int i = 0; i < inside.n; i++) {
    Node *x = inside.v[i];
    map_fit(a, &own, x->id);
    own.need[x->id] = 1;
  }
  for (int i = 0; i < inside.n; i++) {
    Node *x = inside.v[i];
    for (int k = 0; k < x->nin; k++) {
      Node *o = x->in[k];
      if (needs(&own, o))
        continue;
      int dup = 0;
      for (int j = 0; j < out->n && !dup; j++)
        dup = out->v[j] == o;
      if (!dup)
        vec_push(a, out, o);
    }
  }
  for (int i = 0; i < scan->body->nout; i++) {
    Node *o = scan->body->out[i];
    map_fit(a, &own, o->id);
    if (!needs(&own, o)) {
      int dup = 0;
      for (int j = 0; j < out->n && !dup; j++)
        dup = out->v[j] == o;
      if (!dup)
        vec_push(a, out, o);
    }
  }
}

/* Makes the scan also yield vals[0..k) (values of its body) stacked along
 * vaxes, after its own yields, renumbering the `get`s of its final carries
 * among list[0..n); returns the `get`s of the new stacks. */
static Node **add_yields(Builder *b, Node *scan, int k, Node **vals,
                         const int64_t *vaxes, Node **list, int n) {
  Arena *a = &b->c->arena;
  Region *body = scan->body;
  int nc = (int)ir_attr_int(scan, "ncarry", 0), ny = body->nout - nc;
  Node **out = arena_alloc(a, sizeof(Node *) * (size_t)(body->nout + k + 1));
  memcpy(out, body->out, sizeof(Node *) * (size_t)body->nout);
  memcpy(out + body->nout, vals, sizeof(Node *) * (size_t)k);
  body->out = out;
  body->nout += k;
  const Attr *ax = ir_attr(scan, "axes");
  int64_t *axes = arena_alloc(a, sizeof(int64_t) * (size_t)(ny + k + 1));
  for (int i = 0; i < ny; i++)
    axes[i] = ax->ints[i];
  memcpy(axes + ny, vaxes, sizeof(int64_t) * (size_t)k);
  for (int i = 0; i < scan->nattr; i++)
    if (!strcmp(scan->attr[i].key, "axes"))
      scan->attr[i] = attr_ints(a, "axes", ny + k, axes);
  shape_infer(b->c, b->mod, scan);
  for (int i = 0; i < n; i++)
    if (list[i]->op == OP_GET && list[i]->in[0] == scan) {
      int64_t r = ir_attr_int(list[i], "index", 0);
      if (r >= ny)
        for (int j = 0; j < list[i]->nattr; j++)
          if (!strcmp(list[i]->attr[j].key, "index"))
            list[i]->attr[j].i = r + k;
    }
  Node **stack = arena_alloc(a, sizeof(Node *) * (size_t)(k + 1));
  for (int i = 0; i < k; i++) {
    Attr g = attr_int("index", ny + i);
    stack[i] = mk(b, OP_GET, 1, &scan, 1, &g);
  }
  return stack;
}

/* Whether x, a node of region r's top level, reads a value computed in r
 * (a step's value, not one the same in every step). */
static int reads_step(Region *r, Node *x) {
  for (int i = 0; i < x->nin; i++)
    for (Node *y = r->first; y && y != x; y = y->next)
      if (y == x->in[i])
        return 1;
  return 0;
}

/* The step's position in the stacked outputs: t - start. */
static Node *step_pos(Builder *b, Node *t, Node *scan) {
  Dim start = ir_attr(scan, "start")->dims[0];
  if (dim_is_const(start) && dim_value(start) == 0)
    return t;
  if (!dim_is_const(start))
    nnc_error(b->c, scan->loc, "differentiating a scan needs a constant start");
  return mk2(b, OP_SUB, t, scalar(b, (double)dim_value(start), DT_I32));
}

/* The axis along which a scan's body reads captured value w, when it
 * reads it only as w's slice at the step's own index (`take(w, t, axis)`,
 * start 0, the axis as long as the scan): the gradient of such a value is
 * the stack of the slices' gradients, which the backward scan can yield
 * instead of carrying a whole-size sum it adds one slice into every step
 * (an RNN's input projection: T times its size in memory traffic). -1
 * otherwise. */
static int sliced_capture(Arena *a, Node *scan, Node *w) {
  Dim start = ir_attr(scan, "start")->dims[0], steps = ir_attr(scan, "steps")->dims[0];
  if (!dim_is_const(start) || dim_value(start) != 0)
    return -1;
  for (int i = 0; i < scan->body->nout; i++)
    if (scan->body->out[i] == w)
      return -1;
  Node *t = NULL;
  for (Node *x = scan->body->first; x; x = x->next)
    if (x->op == OP_SCAN_INDEX)
      t = x;
  PtrVec all = {0};
  collect(scan->body, &all, a);
  int axis = -1;
  for (int i = 0; i < all.n; i++) {
    Node *x = all.v[i];
    for (int k = 0; k < x->nin; k++) {
      if (x->in[k] != w)
        continue;
      int top = 0;
      for (Node *y = scan->body->first; y && !top; y = y->next)
        top = y == x;
      int ax = (int)ir_attr_int(x, "axis", 0);
      if (!top || x->op != OP_TAKE || k != 0 || !t || x->in[1] != t ||
          (axis >= 0 && ax != axis) || ax < 0 || ax >= w->type.rank ||
          !dim_eq(w->type.dim[ax], steps))
        return -1;
      axis = ax;
    }
  }
  return axis;
}

/* A per-step gradient the backward scan would otherwise add into a carry
 * every step, summed over all steps by one node after the scan: a sum of
 * terms, each a product P^T Q (or its transpose) of two [K, ...] values of
 * the step, or a sum of one such value over its first axis. The values are
 * stacked by the scan ([steps, K, ...]) and the sum over the steps becomes
 * one product (or sum) over steps * K rows: an RNN's recurrent weight
 * gradient, one GEMM over all steps instead of one small GEMM and a pass
 * over the whole weight per step. */
typedef struct Hoist {
  int nterm;
  struct { Node *p, *q; int kind; } term[8]; /* kind: 0 P^T Q, 1 its ^T, 2 sum */
} Hoist;


static int hoist_terms(Node *d, Hoist *h) {
  if (d->op == OP_ADD && type_eq(d->in[0]->type, d->type) &&
      type_eq(d->in[1]->type, d->type))
    return hoist_terms(d->in[0], h) && hoist_terms(d->in[1], h);
  if (h->nterm == 8)
    return 0;
  int kind = 0;
  if (ir_swaps_2d(d))
    d = d->in[0], kind = 1;
  if (d->op == OP_MATMUL && !d->nattr && d->type.rank == 2 && ir_swaps_2d(d->in[0]) &&
      d->in[1]->type.rank == 2 &&
      dim_eq(d->in[0]->in[0]->type.dim[0], d->in[1]->type.dim[0])) {
    h->term[h->nterm].p = d->in[0]->in[0];
    h->term[h->nterm].q = d->in[1];
    h->term[h->nterm++].kind = kind;
    return 1;
  }
  const Attr *ax = kind ? NULL : ir_attr(d, "axes");
  if (d->op == OP_SUM && ax && ax->n == 1 && ax->ints[0] == 0 &&
      !ir_attr_int(d, "keepdim", 0) && d->in[0]->type.rank >= 2) {
    h->term[h->nterm].p = d->in[0];
    h->term[h->nterm].q = NULL;
    h->term[h->nterm++].kind = 2;
    return 1;
  }
  return 0;
}

static int in_top(Region *r, Node *x) {
  for (Node *y = r->first; y; y = y->next)
    if (y == x)
      return 1;
  return 0;
}

/* Where the stack of step value v over all steps comes from: a stack the
 * forward scan already made when v is its slice at the step's position
 * (*stack set), else a new yield of the backward scan (index in *yield). */
static void stacked(Node *v, Node *pos, Node **stacks, int nstack,
                    PtrVec *yields, Arena *a, Node **stack, int *yield) {
  *stack = NULL;
  if (v->op == OP_TAKE && v->in[1] == pos && ir_attr_int(v, "axis", 0) == 0)
    for (int i = 0; i < nstack; i++)
      if (v->in[0] == stacks[i])
        *stack = stacks[i];
  if (*stack)
    return;
  for (*yield = 0; *yield < yields->n; (*yield)++)
    if (yields->v[*yield] == v)
      return;
  vec_push(a, yields, v);
}

/* The stack [steps, K, ...] seen as [steps * K, ...]. */
static Node *rows_view(Builder *b, Node *s) {
  int r = s->type.rank - 1;
  Dim *d = arena_alloc(&b->c->arena, sizeof(Dim) * (size_t)(r + 1));
  for (int i = 0; i < r; i++)
    d[i] = s->type.dim[i + 1];
  dim_mul(&b->c->arena, s->type.dim[0], s->type.dim[1], &d[0]); /* checked */
  return reshape(b, s, r, d);
}

/* Removes node x from region r's list. */
static void unlink_node(Region *r, Node *x) {
  Node *prev = NULL;
  for (Node *y = r->first; y; prev = y, y = y->next)
    if (y == x) {
      ir_unlink(r, prev, x);
      return;
    }
}

/* The backward of a scan: a scan in the other direction carrying the
 * gradients of the carries and sums of the gradients of captured values.
 * Each step recomputes the forward step from the stacked carries, except
 * its matrix products, which the forward scan stacks too (simplify drops
 * the stacks no backward step reads). */
static void scan_backward(Builder *b, Map *m, Node *scan, Node **res_grad,
                          Node **list, int n) {
  Arena *a = &b->c->arena;
  int nc = (int)ir_attr_int(scan, "ncarry", 0);
  int ny = scan->body->nout - nc;
  const Attr *axes = ir_attr(scan, "axes");
  int64_t yaxes[256];
  for (int i = 0; i < ny; i++)
    yaxes[i] = axes->ints[i];
  PtrVec cap = {0}, wanted = {0}, sliced = {0};
  int64_t saxes[256];
  captures(a, scan, &cap);
  for (int i = 0; i < cap.n; i++)
    if (needs(m, cap.v[i]) && dtype_is_float(((Node *)cap.v[i])->type.dtype)) {
      int ax = sliced_capture(a, scan, cap.v[i]);
      if (ax >= 0 && sliced.n < 256) {
        saxes[sliced.n] = ax;
        vec_push(a, &sliced, cap.v[i]);
      } else {
        vec_push(a, &wanted, cap.v[i]);
      }
    }
  /* the forward scan stacks the carries each step starts from and the
   * step's matrix products */
  PtrVec stash = {0};
  for (Node *x = scan->body->first; x; x = x->next)
    if (x->op == OP_SCAN_CARRY)
      vec_push(a, &stash, x);
  for (int i = 0; i < stash.n; i++) /* in index order */
    for (int j = i + 1; j < stash.n; j++)
      if (ir_attr_int(stash.v[j], "index", 0) < ir_attr_int(stash.v[i], "index", 0)) {
        void *t = stash.v[i];
        stash.v[i] = stash.v[j];
        stash.v[j] = t;
      }
  for (Node *x = scan->body->first; x; x = x->next)
    if (x->op == OP_MATMUL && reads_step(scan->body, x))
      vec_push(a, &stash, x);
  int64_t *zero = arena_alloc(a, sizeof(int64_t) * (size_t)(stash.n + 1));
  Node **stack = add_yields(b, scan, stash.n, (Node **)stash.v, zero, list, n);
  /* initial carries of the backward scan */
  int nb = nc + wanted.n;
  Node **init = arena_alloc(a, sizeof(Node *) * (size_t)(nb + 1));
  for (int i = 0; i < nc; i++)
    init[i] = res_grad[ny + i] ? res_grad[ny + i] : zeros(b, scan->in[i]->type);
  for (int j = 0; j < wanted.n; j++)
    init[nc + j] = zeros(b, ((Node *)wanted.v[j])->type);
  Attr at[5] = {*ir_attr(scan, "start"), *ir_attr(scan, "steps"),
                attr_int("reverse", !ir_attr_int(scan, "reverse", 0)),
                attr_int("ncarry", nb), attr_ints(a, "axes", 0, NULL)};
  Node *rs = ir_node(b->c, b->mod, b->f, b->r, OP_SCAN, nb, init, 5, at, NULL,
                     scan->loc);
  Builder in = *b;
  in.r = rs->body;
  Node *t = mk(&in, OP_SCAN_INDEX, 0, NULL, 0, NULL);
  Node **dcarry = arena_alloc(a, sizeof(Node *) * (size_t)(nb + 1));
  for (int i = 0; i < nb; i++) {
    Type ty = init[i]->type;
    Attr ca[3] = {attr_int("index", i), attr_dtype("dtype", ty.dtype),
                  attr_dims(a, "shape", ty.rank, ty.dim)};
    dcarry[i] = mk(&in, OP_SCAN_CARRY, 0, NULL, 3, ca);
  }
  /* recompute the forward step */
  Map map = {0}, g = {0};
  Node *pos = step_pos(&in, t, scan);
  Node **h = arena_alloc(a, sizeof(Node *) * (size_t)(stash.n + 1));
  for (int i = 0; i < stash.n; i++)
    h[i] = take(&in, stack[i], pos, 0);
  for (Node *x = scan->body->first; x; x = x->next) {
    map_fit(a, &map, x->id);
    if (x->op == OP_SCAN_INDEX)
      map.g[x->id] = t;
    else if (x->op == OP_SCAN_CARRY)
      map.g[x->id] = h[ir_attr_int(x, "index", 0)];
  }
  int before = b->f->next_id;
  clone_region(&in, &map, scan->body);
  /* gradients flowing into this step */
  Builder ib = in;
  for (int i = 0; i < nc; i++) {
    Node *o = map_get(&map, scan->body->out[i]);
    accumulate(&ib, &g, o ? o : scan->body->out[i], dcarry[i]);
  }
  for (int k = 0; k < ny; k++)
    if (res_grad[k]) {
      Node *o = map_get(&map, scan->body->out[nc + k]);
      accumulate(&ib, &g, o ? o : scan->body->out[nc + k],
                 take(&ib, res_grad[k], pos, (int)yaxes[k]));
    }
  for (int i = 0; i < nc; i++) {
    map_fit(a, &g, h[i]->id);
    g.need[h[i]->id] = 1;
  }
  for (int j = 0; j < wanted.n; j++) {
    Node *w = wanted.v[j];
    map_fit(a, &g, w->id);
    g.need[w->id] = 1;
  }
  for (int j = 0; j < sliced.n; j++) /* the slices of sliced captures */
    for (Node *x = scan->body->first; x; x = x->next)
      if (x->op == OP_TAKE && x->in[0] == sliced.v[j]) {
        Node *c = map_get(&map, x);
        map_fit(a, &g, c->id);
        g.need[c->id] = 1;
      }
  int nl;
  Node **body = region_list(a, rs->body, &nl);
  int from = 0;
  while (from < nl && body[from]->id < before)
    from++;
  mark(a, &g, body, nl);
  backprop(&in, &g, body + from, nl - from);
  /* the recomputed products read from their stacks instead */
  for (int i = nc; i < stash.n; i++) {
    Node *c = map_get(&map, stash.v[i]);
    if (c)
      ir_replace_uses(rs->body, c, h[i]);
  }
  /* gradients of captured values: hoisted out of the scan or carried */
  Hoist *hoist = arena_alloc(a, sizeof(Hoist) * (size_t)(wanted.n + 1));
  PtrVec hy = {0}; /* the backward scan's stacks for hoisted sums */
  int kept = nc;
  for (int j = 0; j < wanted.n; j++) {
    Node *d = map_get(&g, wanted.v[j]);
    Hoist *hj = &hoist[j];
    int ok = d && dim_is_const(ir_attr(scan, "start")->dims[0]) && hoist_terms(d, hj);
    Dim rows;
    for (int k = 0; ok && k < hj->nterm; k++)
      ok = in_top(rs->body, hj->term[k].p) &&
           (!hj->term[k].q || in_top(rs->body, hj->term[k].q)) &&
           dim_mul(a, ir_attr(scan, "steps")->dims[0], hj->term[k].p->type.dim[0], &rows);
    if (!ok)
      hj->nterm = 0, kept++;
  }
  Node **out = arena_alloc(a, sizeof(Node *) * (size_t)(kept + sliced.n + nb + 1));
  Node **kin = arena_alloc(a, sizeof(Node *) * (size_t)(kept + 1));
  Node **target = arena_alloc(a, sizeof(Node *) * (size_t)(kept + 1));
  int k = 0;
  for (int i = 0; i < nb; i++) {
    if (i >= nc && hoist[i - nc].nterm) { /* no carry */
      unlink_node(rs->body, dcarry[i]);
      continue;
    }
    for (int q = 0; q < dcarry[i]->nattr; q++)
      if (!strcmp(dcarry[i]->attr[q].key, "index"))
        dcarry[i]->attr[q].i = k;
    kin[k] = init[i];
    target[k] = i < nc ? scan->in[i] : wanted.v[i - nc];
    if (i < nc) {
      Node *d = map_get(&g, h[i]);
      out[k] = d ? d : zeros(&in, h[i]->type);
    } else {
      Node *d = map_get(&g, wanted.v[i - nc]);
      out[k] = d ? mk2(&in, OP_ADD, dcarry[i], d) : dcarry[i];
    }
    k++;
  }
  rs->in = kin;
  rs->nin = kept;
  for (int i = 0; i < rs->nattr; i++)
    if (!strcmp(rs->attr[i].key, "ncarry"))
      rs->attr[i].i = kept;
  int64_t *oaxes = arena_alloc(a, sizeof(int64_t) * (size_t)(sliced.n + 2 * nb + 1));
  for (int j = 0; j < sliced.n; j++) { /* yielded along their axis */
    Node *d = NULL, *c = NULL;
    for (Node *x = scan->body->first; x; x = x->next)
      if (x->op == OP_TAKE && x->in[0] == sliced.v[j]) {
        c = map_get(&map, x);
        Node *dc = map_get(&g, c);
        if (dc)
          d = d ? mk2(&in, OP_ADD, d, dc) : dc;
      }
    out[kept + j] = d ? d : zeros(&in, c->type);
    oaxes[j] = saxes[j];
  }
  /* the hoisted sums' factors, stacked along a new first axis */
  Node **src = arena_alloc(a, sizeof(Node *) * (size_t)(2 * 8 * wanted.n + 1));
  int *yi = arena_alloc(a, sizeof(int) * (size_t)(2 * 8 * wanted.n + 1));
  int ns = 0;
  for (int j = 0; j < wanted.n; j++)
    for (int q = 0; q < hoist[j].nterm; q++)
      for (int f = 0; f < 2; f++) {
        Node *v = f ? hoist[j].term[q].q : hoist[j].term[q].p;
        if (v)
          stacked(v, pos, stack, stash.n, &hy, a, &src[ns], &yi[ns]);
        ns += v != NULL;
      }
  for (int i = 0; i < hy.n; i++) {
    out[kept + sliced.n + i] = hy.v[i];
    oaxes[sliced.n + i] = 0;
  }
  int nyield = sliced.n + hy.n;
  rs->body->out = out;
  rs->body->nout = kept + nyield;
  for (int i = 0; i < rs->nattr; i++)
    if (!strcmp(rs->attr[i].key, "axes"))
      rs->attr[i] = attr_ints(a, "axes", nyield, oaxes);
  b->loc = scan->loc;
  shape_infer(b->c, b->mod, rs);
  for (int i = 0; i < kept; i++) {
    if (i < nc && !needs(m, target[i]))
      continue;
    Attr ga = attr_int("index", nyield + i); /* after the yields */
    accumulate(b, m, target[i], mk(b, OP_GET, 1, &rs, 1, &ga));
  }
  for (int j = 0; j < sliced.n; j++) {
    Attr ga = attr_int("index", j);
    accumulate(b, m, sliced.v[j], mk(b, OP_GET, 1, &rs, 1, &ga));
  }
  Node **hget = arena_alloc(a, sizeof(Node *) * (size_t)(hy.n + 1));
  for (int i = 0; i < hy.n; i++) {
    Attr ga = attr_int("index", sliced.n + i);
    hget[i] = rows_view(b, mk(b, OP_GET, 1, &rs, 1, &ga));
  }
  ns = 0;
  for (int j = 0; j < wanted.n; j++)
    for (int q = 0; q < hoist[j].nterm; q++) {
      Node *f[2] = {NULL, NULL};
      for (int z = 0; z < 2; z++)
        if (z == 0 || hoist[j].term[q].q) {
          f[z] = src[ns] ? rows_view(b, src[ns]) : hget[yi[ns]];
          ns++;
        }
      Node *sum;
      if (hoist[j].term[q].kind == 2) {
        int64_t ax0 = 0;
        sum = reduce(b, OP_SUM, f[0], 1, &ax0, 0);
      } else {
        int64_t perm[2] = {1, 0};
        sum = mk2(b, OP_MATMUL, permute(b, f[0], perm), f[1]);
        if (hoist[j].term[q].kind == 1)
          sum = permute(b, sum, perm);
      }
      accumulate(b, m, wanted.v[j], sum);
    }
}

/* ------------------------------------------------------- the drivers */

static Node **snapshot(Arena *a, Region *r, Node *stop, int *n) {
  int k = 0;
  for (Node *x = r->first; x && x != stop; x = x->next)
    k++;
  Node **v = arena_alloc(a, sizeof(Node *) * (size_t)(k + 1));
  k = 0;
  for (Node *x = r->first; x && x != stop; x = x->next)
    v[k++] = x;
  *n = k;
  return v;
}

/* grad(y, x): the backward nodes go where the grad node was. */
static void expand_grad(Ctx *c, Module *mod, Func *f, Node *gn) {
  Arena *a = &c->arena;
  Region tmp = {0};
  tmp.parent = f->body.parent;
  Builder b = {c, mod, f, &tmp, gn->loc};
  int n;
  Node **list = snapshot(a, &f->body, gn, &n);
  Node *y = gn->in[0], *x = gn->in[1];
  Map m = {0};
  map_fit(a, &m, x->id);
  m.need[x->id] = 1;
  mark(a, &m, list, n);
  if (!needs(&m, y) && y != x) {
    /* y does not depend on x: the gradient is zero */
  } else {
    map_fit(a, &m, y->id);
    m.g[y->id] = scalar(&b, 1, y->type.dtype);
    backprop(&b, &m, list, n);
  }
  Node *d = map_get(&m, x);
  if (!d)
    d = zeros(&b, x->type);
  /* splice tmp before gn, then drop gn */
  Node *prev = NULL;
  for (Node *p = f->body.first; p && p != gn; p = p->next)
    prev = p;
  if (tmp.first) {
    tmp.last->next = gn;
    if (prev)
      prev->next = tmp.first;
    else
      f->body.first = tmp.first;
    prev = tmp.last;
  }
  if (prev)
    prev->next = gn->next;
  else
    f->body.first = gn->next;
  if (f->body.last == gn)
    f->body.last = prev;
  ir_replace_uses(&f->body, gn, d);
}

static int updated(const Node *minimize, const char *param) {
  const Attr *over = ir_attr(minimize, "over");
  if (!over)
    return 1;
  for (const char *p = over->s; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (!strncmp(param, p, len) && (param[len] == 0 || param[len] == '.'))
      return 1;
    p += len + (e ? 1 : 0);
  }
  return 0;
}

/* A train entry's backward pass, from its minimize node's loss. */
static void train_backward(Ctx *c, Module *mod, Func *f) {
  Arena *a = &c->arena;
  Node *mz = NULL;
  for (Node *x = f->body.first; x; x = x->next) {
    if (x->op == OP_MINIMIZE)
      mz = x;
    if (x->op == OP_ACCUM_GRAD || x->op == OP_INPUT_GRAD)
      return; /* differentiated already (an IR dump read back) */
  }
  if (!mz)
    return;
  int n;
  Node **list = snapshot(a, &f->body, NULL, &n);
  Builder b = {c, mod, f, &f->body, mz->loc};
  Map m = {0};
  for (int i = 0; i < n; i++) {
    Node *x = list[i];
    int target = (x->op == OP_PARAM && updated(mz, ir_attr(x, "name")->s)) ||
                 (x->op == OP_INPUT && dtype_is_float(x->type.dtype));
    map_fit(a, &m, x->id);
    m.need[x->id] = (char)target;
  }
  mark(a, &m, list, n);
  Node *loss = mz->in[0];
  map_fit(a, &m, loss->id);
  m.g[loss->id] = scalar(&b, 1, loss->type.dtype);
  backprop(&b, &m, list, n);
  for (int i = 0; i < n; i++) {
    Node *x = list[i], *d = map_get(&m, x);
    if (!d || !(x->op == OP_PARAM || x->op == OP_INPUT) || !needs(&m, x))
      continue;
    b.loc = x->loc;
    Attr at = x->op == OP_PARAM ? attr_str("name", ir_attr(x, "name")->s)
                                : attr_int("index", ir_attr_int(x, "index", 0));
    mk(&b, x->op == OP_PARAM ? OP_ACCUM_GRAD : OP_INPUT_GRAD, 1, &d, 1, &at);
  }
}

static void check_no_nested_grad(Ctx *c, Region *r, int nested) {
  for (Node *x = r->first; x; x = x->next) {
    if (x->op == OP_GRAD && nested)
      nnc_error(c, x->loc, "grad inside a scan body is not supported");
    if (x->body)
      check_no_nested_grad(c, x->body, 1);
  }
}

void pass_grad(Ctx *c, Module *m) {
  for (int i = 0; i < m->models.n; i++) {
    Model *md = m->models.v[i];
    for (int j = 0; j < md->funcs.n; j++) {
      Func *f = md->funcs.v[j];
      check_no_nested_grad(c, &f->body, 0);
      for (Node *x = f->body.first; x;) {
        Node *next = x->next;
        if (x->op == OP_GRAD)
          expand_grad(c, m, f, x);
        x = next;
      }
      if (f->kind == FN_TRAIN)
        train_backward(c, m, f);
      ir_func_names(c, f);
    }
  }
}
