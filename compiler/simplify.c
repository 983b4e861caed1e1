/* simplify.c — cleans the graph after differentiation: constant folding of
 * scalar constants, algebraic identities (x*1, x+0, x-0, x/1, --x,
 * transpose of transpose, reshape/expand/cast to the same type), sums of
 * deviations from a mean along its axes as 0, a ReLU's gradient after a
 * max pooling's folded into it, (A B)^T as
 * B^T A^T, expands read through or moved past elementwise ops, common
 * subexpressions and dead code; a scan body's nodes that read only values
 * from outside it are moved before the scan.
 *
 * Needs: typed IR. Keeps: every function result, buffer update, gradient
 * sink and minimize, and every random draw (they advance the generator).
 * Breaks nothing: types and source locations stay as they were. */
#include <math.h>
#include <string.h>

#include "nnc.h"

static int is_const(const Node *n, double *v) {
  if (n->op != OP_CONST && n->op != OP_FULL)
    return 0;
  *v = ir_attr_float(n, "value", 0);
  return 1;
}

static int const_is(const Node *n, double want) {
  double v;
  return is_const(n, &v) && v == want;
}

/* An operand that can stand for n, or NULL. */
static Node *identity(Node *n) {
  Node *a = n->nin > 0 ? n->in[0] : NULL, *b = n->nin > 1 ? n->in[1] : NULL;
  switch (n->op) {
  case OP_MUL:
    if (const_is(b, 1) && type_eq(a->type, n->type))
      return a;
    if (const_is(a, 1) && type_eq(b->type, n->type))
      return b;
    return NULL;
  case OP_ADD:
    if (const_is(b, 0) && type_eq(a->type, n->type))
      return a;
    if (const_is(a, 0) && type_eq(b->type, n->type))
      return b;
    return NULL;
  case OP_SUB:
  case OP_DIV:
    if (const_is(b, n->op == OP_SUB ? 0 : 1) && type_eq(a->type, n->type))
      return a;
    return NULL;
  case OP_NEG:
    return a->op == OP_NEG ? a->in[0] : NULL;
  case OP_RESHAPE:
  case OP_EXPAND:
  case OP_CAST:
    return type_eq(a->type, n->type) ? a : NULL;
  case OP_PERMUTE: {
    const Attr *p = ir_attr(n, "perm");
    int ident = 1;
    for (int i = 0; i < p->n; i++)
      ident &= p->ints[i] == i;
    if (ident)
      return a;
    if (a->op == OP_PERMUTE) { /* undoing a permutation */
      const Attr *q = ir_attr(a, "perm");
      int undo = 1;
      for (int i = 0; i < p->n; i++)
        undo &= q->ints[p->ints[i]] == i;
      if (undo)
        return a->in[0];
    }
    return NULL;
  }
  default:
    return NULL;
  }
}

/* Folds an op of scalar constants into a constant, in place. */
static void fold(Arena *a, Node *n) {
  double x, y, r;
  if (n->type.rank != 0 || !dtype_is_float(n->type.dtype))
    return;
  if (n->nin == 2 && is_const(n->in[0], &x) && is_const(n->in[1], &y) &&
      n->in[0]->type.rank == 0 && n->in[1]->type.rank == 0) {
    switch (n->op) {
    case OP_ADD: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV:
      if (y == 0)
        return;
      r = x / y;
      break;
    default: return;
    }
  } else if (n->nin == 1 && is_const(n->in[0], &x) &&
             n->in[0]->type.rank == 0 && n->op == OP_NEG) {
    r = -x;
  } else
    return;
  if (n->type.dtype == DT_F32)
    r = (float)r; /* what the generated code would have computed */
  n->op = OP_CONST;
  n->nin = 0;
  n->nattr = 3;
  n->attr = arena_alloc(a, sizeof(Attr) * 3);
  n->attr[0] = attr_float("value", r);
  n->attr[1] = attr_dtype("dtype", n->type.dtype);
  n->attr[2] = attr_dims(a, "shape", 0, NULL);
}

static int same_attrs(const Node *a, const Node *b) {
  if (a->nattr != b->nattr)
    return 0;
  for (int i = 0; i < a->nattr; i++) {
    const Attr *x = &a->attr[i], *y = ir_attr(b, x->key);
    if (!y || x->kind != y->kind || x->i != y->i || x->f != y->f ||
        x->n != y->n)
      return 0;
    if ((x->s || y->s) && (!x->s || !y->s || strcmp(x->s, y->s)))
      return 0;
    for (int k = 0; k < x->n; k++) {
      if (x->kind == AK_INTS && x->ints[k] != y->ints[k])
        return 0;
      if (x->kind == AK_DIMS && !dim_eq(x->dims[k], y->dims[k]))
        return 0;
    }
  }
  return 1;
}

static int pure(const Node *n) {
  switch (n->op) {
  case OP_RAND_UNIFORM: case OP_RAND_NORMAL: case OP_UPDATE: case OP_MINIMIZE:
  case OP_ACCUM_GRAD: case OP_INPUT_GRAD: case OP_SCAN: case OP_FUSED: case OP_GET:
  case OP_SCAN_INDEX: case OP_SCAN_CARRY: case OP_INPUT:
    return 0;
  default:
    return 1;
  }
}

static int same_node(const Node *a, const Node *b) {
  if (a->op != b->op || a->nin != b->nin || !type_eq(a->type, b->type))
    return 0;
  for (int i = 0; i < a->nin; i++)
    if (a->in[i] != b->in[i])
      return 0;
  return same_attrs(a, b);
}

typedef struct Env {
  Ctx *c;
  Module *m;
  Func *f;
  Arena *a;
  Node **repl; /* by id: what a node was replaced with */
  int cap;
  int *uses; /* by id (below nuses): readers of each node */
  int *sliced; /* by id (below nuses): readers that are unit-step slices */
  int nuses;
  PtrVec *seen; /* the pure nodes visible where rewrite is */
} Env;

static Node *resolve(Env *e, Node *n) {
  while (n->id < e->cap && e->repl[n->id])
    n = e->repl[n->id];
  return n;
}

static void set_repl(Env *e, Node *n, Node *by) {
  if (n->id >= e->cap) {
    int cap = e->cap ? e->cap : 64;
    while (cap <= n->id)
      cap *= 2;
    e->repl = arena_grow(e->a, e->repl, sizeof(Node *) * (size_t)e->cap,
                         sizeof(Node *) * (size_t)cap);
    e->cap = cap;
  }
  e->repl[n->id] = by;
}


/* A node computing op(in) with these attributes: one already visible
 * (e->seen), else a new one in r right before `at` (whose predecessor is
 * prev), made visible. */
static Node *insert_before(Env *e, Region *r, Node *prev, Node *at, OpKind op,
                           int nin, Node **in, int nattr, const Attr *attr) {
  Node probe = {0};
  probe.op = op;
  probe.nin = nin;
  probe.in = in;
  probe.nattr = nattr;
  probe.attr = (Attr *)attr;
  for (int i = e->seen->n - 1; i >= 0; i--) {
    Node *q = e->seen->v[i];
    int same = q->op == op && q->nin == nin && same_attrs(q, &probe);
    for (int k = 0; same && k < nin; k++)
      same = q->in[k] == in[k];
    if (same)
      return q;
  }
  Node *t = ir_node(e->c, e->m, e->f, r, op, nin, in, nattr, attr, NULL, at->loc);
  vec_push(e->a, e->seen, t);
  /* ir_node appended t to r: move it in front of `at` */
  Node *q = r->first;
  while (q->next != t)
    q = q->next;
  q->next = NULL;
  r->last = q;
  t->next = at;
  if (prev)
    prev->next = t;
  else
    r->first = t;
  return t;
}

/* The transpose of `a` as an operand placed before `at` in r: a's own
 * operand when a is a transpose, else a new permute node. */
static Node *transposed(Env *e, Region *r, Node *prev, Node *at, Node *a) {
  if (ir_swaps_2d(a))
    return a->in[0];
  int64_t perm[2] = {1, 0};
  Attr attr = attr_ints(e->a, "perm", 2, perm);
  return insert_before(e, r, prev, at, OP_PERMUTE, 1, &a, 1, &attr);
}

/* The node right before n once `made` was placed there by insert_before (a
 * node found already visible stays where it was). */
static Node *pred(Node *made, Node *n, Node *prev) { return made->next == n ? made : prev; }

/* n becomes the matrix product a @ b. */
static void become_matmul(Env *e, Node *n, Node *a, Node *b) {
  n->op = OP_MATMUL;
  n->nin = 2;
  n->in = arena_alloc(e->a, sizeof(Node *) * 2);
  n->in[0] = a;
  n->in[1] = b;
  n->nattr = 0;
}

/* (A B)^T = B^T A^T for 2-d matrices whose product has no other reader: the
 * transposes become GEMM flags instead of a copy of the product (the weight
 * gradient of a Linear layer, computed as x^T g and then transposed). */
static void transpose_product(Env *e, Region *r, Node *prev, Node *n) {
  Node *a = n->nin ? n->in[0] : NULL;
  if (!ir_swaps_2d(n) || a->op != OP_MATMUL || a->type.rank != 2 ||
      a->in[0]->type.rank != 2 || a->in[1]->type.rank != 2 || a->nattr ||
      a->id >= e->nuses || e->uses[a->id] != 1)
    return;
  Node *bt = transposed(e, r, prev, n, a->in[1]);
  Node *at = transposed(e, r, pred(bt, n, prev), n, a->in[0]);
  become_matmul(e, n, bt, at);
}

/* Whether operands of these types broadcast to exactly type t: on every
 * axis of t (right-aligned) each operand has size 1 or t's size, and one of
 * them has t's size. */
static int broadcasts_to(Node **in, int nin, Type t) {
  for (int j = 0; j < t.rank; j++) {
    int full = dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1;
    for (int i = 0; i < nin; i++) {
      int k = in[i]->type.rank - t.rank + j;
      if (k < 0)
        continue;
      Dim d = in[i]->type.dim[k];
      if (dim_eq(d, t.dim[j]))
        full = 1;
      else if (!(dim_is_const(d) && dim_value(d) == 1))
        return 0;
    }
    if (!full)
      return 0;
  }
  return 1;
}

/* An elementwise op broadcasts its operands itself: an operand that is an
 * expand (a full-size copy) is read through its source when the others
 * still give the op its shape (batch norm's backward expands per-channel
 * sums to the whole activation before dividing them by a count). */
static void read_through_expands(Env *e, Region *r, Node *prev, Node *n) {
  switch (n->op) { /* the ops whose shape rule broadcasts */
  case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW:
  case OP_MAXIMUM: case OP_MINIMUM: case OP_AND: case OP_OR: case OP_EQ:
  case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_WHERE:
    break;
  default:
    return;
  }
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (x->op != OP_EXPAND || x->in[0]->type.dtype != x->type.dtype)
      continue;
    n->in[i] = x->in[0];
    if (!broadcasts_to(n->in, n->nin, n->type))
      n->in[i] = x;
  }
  /* op(expand(a), b) with b no larger than a: expand(op(a, b)), the op on
   * the small tensor, the expand read through by the op's readers */
  if (n->nin != 2 || n->op == OP_POW || !dtype_is_float(n->type.dtype))
    return;
  for (int i = 0; i < 2; i++) {
    Node *x = n->in[i], *b = n->in[1 - i];
    if (x->op != OP_EXPAND || x->in[0]->type.rank != n->type.rank ||
        x->in[0]->type.dtype != n->type.dtype)
      continue;
    Node *in[2];
    in[i] = x->in[0];
    in[1 - i] = b;
    if (!broadcasts_to(in, 2, x->in[0]->type))
      continue;
    Node *small = insert_before(e, r, prev, n, n->op, 2, in, 0, NULL);
    Attr at = attr_dims(e->a, "shape", n->type.rank, n->type.dim);
    n->op = OP_EXPAND;
    n->nin = 1;
    n->in[0] = small;
    n->nattr = 1;
    n->attr = arena_alloc(e->a, sizeof(Attr));
    n->attr[0] = at;
    return;
  }
}

/* A reduction with keepdim=1 becomes a view (reshape) of the same
 * reduction without it, which common subexpressions then share with an
 * equal keepdim=0 one: batch norm's mean is computed once. */
static void keepdim_view(Env *e, Region *r, Node *prev, Node *n) {
  const Attr *kd = ir_attr(n, "keepdim");
  if (!(n->op == OP_SUM || n->op == OP_MEAN || n->op == OP_MAX || n->op == OP_MIN) ||
      !kd || kd->i != 1)
    return;
  Attr *at = arena_alloc(e->a, sizeof(Attr) * (size_t)(n->nattr + 1));
  for (int i = 0; i < n->nattr; i++) {
    at[i] = n->attr[i];
    if (!strcmp(at[i].key, "keepdim"))
      at[i].i = 0;
  }
  Node *flat = insert_before(e, r, prev, n, n->op, 1, n->in, n->nattr, at);
  Attr shape = attr_dims(e->a, "shape", n->type.rank, n->type.dim);
  n->op = OP_RESHAPE;
  n->nin = 1;
  n->in = arena_alloc(e->a, sizeof(Node *));
  n->in[0] = flat;
  n->nattr = 1;
  n->attr = arena_alloc(e->a, sizeof(Attr));
  n->attr[0] = shape;
}

/* sum(sum(x, A), B) with the inner sum used once becomes one sum of x
 * over A and the axes B names (a view when the shapes differ): the
 * gradient of a broadcast [C,1,1] -> [N,C,H,W] sums axis 0, then 1 and 2;
 * as one reduction it fuses with the values it reads. */
static void merge_sums(Env *e, Region *r, Node *prev, Node *n) {
  Node *m = n->in[0];
  if (n->op != OP_SUM || m->op != OP_SUM || m->id >= e->nuses ||
      e->uses[m->id] != 1)
    return;
  Type x = m->in[0]->type;
  char red[64] = {0}, outer[64] = {0};
  const Attr *a = ir_attr(m, "axes"), *b = ir_attr(n, "axes");
  if (x.rank > 64 || !a || !a->n || !b || !b->n)
    return; /* an empty list: all axes, nothing left to merge */
  for (int i = 0; i < a->n; i++)
    red[a->ints[i]] = 1;
  int keep = (int)ir_attr_int(m, "keepdim", 0);
  for (int i = 0; i < b->n; i++)
    outer[b->ints[i]] = 1;
  for (int j = 0, k = 0; j < x.rank; j++) { /* k: axis of m's result */
    if (red[j] && !keep)
      continue;
    if (outer[k++])
      red[j] = 1;
  }
  int64_t axes[64];
  int na = 0;
  for (int j = 0; j < x.rank; j++)
    if (red[j])
      axes[na++] = j;
  Attr at[2] = {attr_ints(e->a, "axes", na, axes), attr_int("keepdim", 0)};
  Node *one = insert_before(e, r, prev, n, OP_SUM, 1, m->in, 2, at);
  Attr shape = attr_dims(e->a, "shape", n->type.rank, n->type.dim);
  n->op = OP_RESHAPE;
  n->in[0] = one;
  n->nattr = 1;
  n->attr = arena_alloc(e->a, sizeof(Attr));
  n->attr[0] = shape;
}

/* The reduced axes of a sum or mean (every axis: an empty list) into
 * red[0..rank); 0 when there are too many. */
static int reduced_axes(const Node *n, int rank, char *red) {
  const Attr *a = ir_attr(n, "axes");
  if (rank > 64 || !a)
    return 0;
  memset(red, !a->n, (size_t)rank);
  for (int i = 0; i < a->n; i++)
    red[a->ints[i]] = 1;
  return 1;
}

/* Whether z is x - mean(x) along the axes red, the mean broadcast along
 * red alone (kept dimensions, or reshaped to them). */
static int mean_subtracted(const Node *z, const char *red) {
  const Node *x = z->in[0], *m = z->in[1], *mb = m;
  char mr[64];
  if (m->op == OP_RESHAPE)
    m = m->in[0];
  if (m->op != OP_MEAN || m->in[0] != x || !reduced_axes(m, x->type.rank, mr) ||
      memcmp(mr, red, (size_t)x->type.rank) != 0 || mb->type.rank != x->type.rank ||
      !type_eq(z->type, x->type))
    return 0;
  for (int i = 0; i < x->type.rank; i++)
    if (red[i] ? !(dim_is_const(mb->type.dim[i]) && dim_value(mb->type.dim[i]) == 1)
               : !dim_eq(mb->type.dim[i], x->type.dim[i]))
      return 0;
  return 1;
}

/* Whether z is such a value (mean_subtracted), or a sum, difference or
 * negation of such values, or such a value times one constant along red
 * (of size 1 there): a deviation from the mean along red, whose sum along
 * red is 0. */
static int deviation(const Node *z, const char *red, int depth) {
  if (depth > 16)
    return 0;
  switch (z->op) {
  case OP_NEG:
    return deviation(z->in[0], red, depth + 1);
  case OP_ADD:
  case OP_SUB:
    if (z->op == OP_SUB && mean_subtracted(z, red))
      return 1;
    return type_eq(z->in[0]->type, z->type) && type_eq(z->in[1]->type, z->type) &&
           deviation(z->in[0], red, depth + 1) && deviation(z->in[1], red, depth + 1);
  case OP_MUL:
    for (int j = 0; j < 2; j++) {
      const Type *k = &z->in[1 - j]->type;
      int flat = k->rank == 0 || k->rank == z->type.rank;
      for (int i = 0; flat && i < k->rank; i++)
        flat = !red[i] || (dim_is_const(k->dim[i]) && dim_value(k->dim[i]) == 1);
      if (flat && type_eq(z->in[j]->type, z->type) && deviation(z->in[j], red, depth + 1))
        return 1;
    }
    return 0;
  default:
    return 0;
  }
}

/* sum(d) along the axes d deviates from its mean along: 0 (batch and layer
 * norm's gradients through their mean, which autodiff of the variance
 * gives: a reduction and a pass over the batch saved). */
static void sum_of_deviations(Env *e, Node *n) {
  char red[64];
  if (n->op != OP_SUM || !dtype_is_float(n->type.dtype) ||
      !reduced_axes(n, n->in[0]->type.rank, red) || !deviation(n->in[0], red, 0))
    return;
  n->op = OP_FULL;
  n->nin = 0;
  n->nattr = 3;
  n->attr = arena_alloc(e->a, sizeof(Attr) * 3);
  n->attr[0] = attr_float("value", 0);
  n->attr[1] = attr_dtype("dtype", n->type.dtype);
  n->attr[2] = attr_dims(e->a, "shape", n->type.rank, n->type.dim);
}

/* where(x > 0, max_pool2d_grad(x, dy), 0), the pooling's gradient read
 * only there: the gradient through a ReLU (x its output) and then the
 * pooling. The pooling's gradient takes the mask as it routes dy
 * (relu=1: only windows whose maximum is above 0), one pass instead of
 * two over the gradient. */
static void relu_pool_grad(Env *e, Node *n) {
  if (n->op != OP_WHERE || n->nin != 3 || !const_is(n->in[2], 0))
    return;
  Node *c = n->in[0], *g = n->in[1];
  if (c->op != OP_GT || g->op != OP_MAX_POOL2D_GRAD || c->in[0] != g->in[0] ||
      !const_is(c->in[1], 0) || g->id >= e->nuses || e->uses[g->id] != 1 ||
      !type_eq(g->type, n->type) || ir_attr_int(g, "relu", 0))
    return;
  Attr *at = arena_alloc(e->a, sizeof(Attr) * (size_t)(g->nattr + 1));
  memcpy(at, g->attr, sizeof(Attr) * (size_t)g->nattr);
  at[g->nattr] = attr_int("relu", 1);
  g->attr = at;
  g->nattr++;
  set_repl(e, n, g);
}

/* sum over the batch axes of permute(X) @ C, X and C of the same batch
 * [..., K, M] and [..., K, N]: one product over the batch and K together,
 * reshape(X)^T @ reshape(C) with [P*K, M] and [P*K, N] views, instead of a
 * GEMM per batch entry, a copy of the permute and a sum (a Linear layer's
 * weight gradient on [B, T, in] inputs: one GEMM for all B*T rows). */
static void batch_sum_product(Env *e, Region *r, Node *prev, Node *n) {
  Node *m = n->nin ? n->in[0] : NULL;
  if (n->op != OP_SUM || !m || m->op != OP_MATMUL || m->nattr || m->id >= e->nuses ||
      e->uses[m->id] != 1 || ir_attr_int(n, "keepdim", 0))
    return;
  Node *a = m->in[0], *c = m->in[1];
  int k = m->type.rank - 2;
  if (k < 1 || a->op != OP_PERMUTE || a->type.rank != k + 2 || c->type.rank != k + 2)
    return;
  Node *x = a->in[0];
  const Attr *p = ir_attr(a, "perm"), *ax = ir_attr(n, "axes");
  if (!p || p->ints[k] != k + 1 || p->ints[k + 1] != k || !ax || ax->n != k)
    return;
  for (int j = 0; j < k; j++)
    if (p->ints[j] != j || ax->ints[j] != j || !dim_eq(x->type.dim[j], c->type.dim[j]) ||
        !dim_eq(x->type.dim[j], m->type.dim[j]))
      return;
  Dim rows = x->type.dim[k];
  for (int j = 0; j < k; j++)
    if (!dim_mul(e->a, rows, x->type.dim[j], &rows))
      return;
  Dim xs[2] = {rows, x->type.dim[k + 1]}, cs[2] = {rows, c->type.dim[k + 1]};
  Attr xa = attr_dims(e->a, "shape", 2, xs), ca = attr_dims(e->a, "shape", 2, cs);
  Node *x2 = insert_before(e, r, prev, n, OP_RESHAPE, 1, &x, 1, &xa);
  prev = pred(x2, n, prev);
  Node *c2 = insert_before(e, r, prev, n, OP_RESHAPE, 1, &c, 1, &ca);
  Node *xt = transposed(e, r, pred(c2, n, prev), n, x2);
  become_matmul(e, n, xt, c2);
}

/* The leaves of a tree of same-type adds rooted at n (inner adds read by
 * nothing else), up to max; -1 when there are more. */
static int add_leaves(Env *e, Node *n, Node *root, Node **leaf, int k, int max) {
  if (n->op == OP_ADD && type_eq(n->in[0]->type, n->type) &&
      type_eq(n->in[1]->type, n->type) &&
      (n == root || (n->id < e->nuses && e->uses[n->id] == 1))) {
    k = add_leaves(e, n->in[0], root, leaf, k, max);
    return k < 0 ? k : add_leaves(e, n->in[1], root, leaf, k, max);
  }
  if (k == max)
    return -1;
  leaf[k] = n;
  return k + 1;
}

/* A sum of slice gradients whose slices tile the axis (an LSTM's four gate
 * gradients, each [B, H] placed in a zero [B, 4H]) is their concatenation:
 * one pass writing each part once instead of a zero-filled buffer per part
 * and the adds. */
static void concat_slice_grads(Env *e, Node *n) {
  Node *leaf[64], *part[64];
  int k = n->op == OP_ADD ? add_leaves(e, n, n, leaf, 0, 64) : -1;
  if (k < 2)
    return;
  int64_t axis = -1;
  for (int i = 0; i < k; i++) {
    Node *x = leaf[i];
    if (x->op != OP_SLICE_GRAD || ir_attr_int(x, "step", 1) != 1 ||
        !type_eq(x->type, n->type) || (axis >= 0 && ir_attr_int(x, "axis", 0) != axis))
      return;
    axis = ir_attr_int(x, "axis", 0);
  }
  Dim at = dim_const(e->a, 0);
  for (int j = 0; j < k; j++) { /* the part starting where the last stopped */
    part[j] = NULL;
    for (int i = 0; i < k && !part[j]; i++)
      if (leaf[i] && dim_eq(ir_attr(leaf[i], "start")->dims[0], at))
        part[j] = leaf[i], leaf[i] = NULL;
    if (!part[j])
      return;
    at = ir_attr(part[j], "stop")->dims[0];
  }
  if (!dim_eq(at, n->type.dim[axis]))
    return;
  n->op = OP_CONCAT;
  n->nin = k;
  n->in = arena_alloc(e->a, sizeof(Node *) * (size_t)k);
  for (int j = 0; j < k; j++)
    n->in[j] = part[j]->in[0];
  n->nattr = 1;
  n->attr = arena_alloc(e->a, sizeof(Attr));
  n->attr[0] = attr_int("axis", axis);
}

/* The node before x in r, NULL for the first. */
static Node *node_before(Region *r, const Node *x) {
  Node *p = NULL;
  for (Node *q = r->first; q && q != x; q = q->next)
    p = q;
  return p;
}

/* Whether y comes after x in r. */
static int after(Region *r, const Node *x, const Node *y) {
  int past = 0;
  for (const Node *q = r->first; q; q = q->next) {
    if (q == y)
      return past;
    past |= q == x;
  }
  return 0;
}

/* Links node y, in no region, into r just before x. */
static void link_before(Region *r, Node *y, Node *x) {
  Node *p = node_before(r, x);
  y->next = x;
  if (p)
    p->next = y;
  else
    r->first = y;
}

/* Moves node y of r (a leaf) to just before x. */
static void move_before(Region *r, Node *y, Node *x) {
  ir_unlink(r, node_before(r, y), y);
  link_before(r, y, x);
}

/* (x + b) + c, with b and c vectors along the last axis and the inner sum
 * read once: x + (b + c), one pass over x instead of two (an LSTM's
 * x W_ihᵀ + b_ih + b_hh, whose product then starts from the summed bias). */
static void merge_biases(Env *e, Region *r, Node *prev, Node *n) {
  if (n->op != OP_ADD || n->nin != 2 || !dtype_is_float(n->type.dtype))
    return;
  for (int i = 0; i < 2; i++) {
    Node *a = n->in[i], *c = n->in[1 - i];
    if (a->op != OP_ADD || a->id >= e->nuses || e->uses[a->id] != 1 ||
        !type_row_vector(c->type, n->type))
      continue;
    for (int j = 0; j < 2; j++) {
      Node *x = a->in[j], *b = a->in[1 - j];
      if (!type_eq(x->type, n->type) || !type_row_vector(b->type, n->type))
        continue;
      /* placed before x (a product, which may then start from it) when x
       * is here: b and c, parameters read where they are first used, move
       * there too */
      Node *in[2] = {b, c}, *at = n, *before = prev;
      int here = 0;
      for (Node *q = r->first; q != n && !here; q = q->next)
        here = q == x;
      for (int k = 0; k < 2 && here; k++)
        here = in[k]->op == OP_PARAM || !after(r, x, in[k]);
      for (int k = 0; k < 2 && here; k++)
        if (after(r, x, in[k]))
          move_before(r, in[k], x);
      if (here)
        at = x, before = node_before(r, x);
      Node *bc = insert_before(e, r, before, at, OP_ADD, 2, in, 0, NULL);
      n->in[0] = x;
      n->in[1] = bc;
      return;
    }
  }
}

static int elementwise(const Node *n) {
  OpClass k = nnc_ops[n->op].cls;
  return k == OC_UNARY || k == OC_BINARY;
}

/* A slice of an elementwise op read only by slices that elementwise ops
 * read is the op of its operands' slices (an operand broadcast along the
 * axis is read whole): the op then joins the group of what reads the slice
 * (an LSTM's gate pre-activations, xw[:, t] + h W^T: the add runs in the
 * cell's fused loop on views of both operands instead of as a pass of its
 * own). Slices that other ops read stay slices of the whole op's result
 * (attention's q, k and v, views of one biased product for the matmuls). */
static void slice_through(Env *e, Region *r, Node *prev, Node *n) {
  Node *a = n->op == OP_SLICE && ir_attr_int(n, "step", 1) == 1 ? n->in[0] : NULL;
  if (!a || !elementwise(a) || !pure(a) || a->id >= e->nuses ||
      e->uses[a->id] != e->sliced[a->id] || a->nin > 3)
    return;
  int ax = (int)ir_attr_int(n, "axis", 0), R = a->type.rank;
  Node *in[3];
  for (int i = 0; i < a->nin; i++) {
    Node *x = a->in[i];
    int kx = ax - (R - x->type.rank);
    in[i] = x;
    if (kx < 0 || (dim_is_const(x->type.dim[kx]) && dim_value(x->type.dim[kx]) == 1))
      continue; /* broadcast along the axis */
    if (!dim_eq(x->type.dim[kx], a->type.dim[ax]))
      return;
  }
  for (int i = 0; i < a->nin; i++) {
    Node *x = a->in[i];
    int kx = ax - (R - x->type.rank);
    if (kx < 0 || (dim_is_const(x->type.dim[kx]) && dim_value(x->type.dim[kx]) == 1))
      continue;
    Attr at[4];
    for (int j = 0; j < 4 && j < n->nattr; j++)
      at[j] = n->attr[j];
    for (int j = 0; j < n->nattr; j++)
      if (!strcmp(at[j].key, "axis"))
        at[j] = attr_int("axis", kx);
    in[i] = insert_before(e, r, prev, n, OP_SLICE, 1, &x, n->nattr, at);
    prev = pred(in[i], n, prev);
    if (x->id < e->nuses)
      e->uses[x->id]++, e->sliced[x->id]++;
  }
  n->op = a->op;
  n->nin = a->nin;
  n->in = arena_alloc(e->a, sizeof(Node *) * (size_t)a->nin);
  memcpy(n->in, in, sizeof(Node *) * (size_t)a->nin);
  n->nattr = a->nattr;
  n->attr = a->attr;
}

/* e->uses; `ew` counts the readers that are elementwise ops. */
static void count_uses(Env *e, Region *r, int *ew) {
  for (Node *n = r->first; n; n = n->next) {
    for (int i = 0; i < n->nin; i++) {
      e->uses[n->in[i]->id]++;
      ew[n->in[i]->id] += elementwise(n);
    }
    if (n->body)
      count_uses(e, n->body, ew);
  }
  for (int i = 0; i < r->nout; i++)
    e->uses[r->out[i]->id]++;
}

/* e->sliced: the unit-step slices of each node that only elementwise ops
 * read (see slice_through). */
static void count_sliced(Env *e, Region *r, const int *ew) {
  for (Node *n = r->first; n; n = n->next) {
    if (n->op == OP_SLICE && ir_attr_int(n, "step", 1) == 1 && e->uses[n->id] == ew[n->id])
      e->sliced[n->in[0]->id]++;
    if (n->body)
      count_sliced(e, n->body, ew);
  }
}

/* Identities, folding and common subexpressions, in order; `seen` holds the
 * pure nodes visible here (enclosing regions' included). */
static void rewrite(Env *e, Region *r, PtrVec *seen) {
  int mark = seen->n;
  Node *prev = NULL;
  for (Node *n = r->first; n; prev = n, n = n->next) {
    for (int i = 0; i < n->nin; i++)
      n->in[i] = resolve(e, n->in[i]);
    if (n->body && n->op != OP_FUSED) /* a fused group is left as it is */
      rewrite(e, n->body, seen);
    fold(e->a, n);
    batch_sum_product(e, r, prev, n);
    concat_slice_grads(e, n);
    slice_through(e, r, prev, n);
    transpose_product(e, r, prev, n);
    read_through_expands(e, r, prev, n);
    sum_of_deviations(e, n);
    relu_pool_grad(e, n);
    merge_sums(e, r, prev, n);
    keepdim_view(e, r, prev, n);
    merge_biases(e, r, prev, n); /* last: it may move nodes before prev */
    Node *id = identity(n);
    if (id) {
      set_repl(e, n, id);
      continue;
    }
    if (!pure(n))
      continue;
    Node *dup = NULL;
    for (int i = seen->n - 1; i >= 0 && !dup; i--)
      if (same_node(seen->v[i], n))
        dup = seen->v[i];
    if (dup)
      set_repl(e, n, dup);
    else
      vec_push(e->a, seen, n);
  }
  for (int i = 0; i < r->nout; i++)
    r->out[i] = resolve(e, r->out[i]);
  seen->n = mark;
}

static int sink(const Node *n) {
  return n->op == OP_UPDATE || n->op == OP_MINIMIZE || n->op == OP_ACCUM_GRAD ||
         n->op == OP_INPUT_GRAD || n->op == OP_INPUT ||
         n->op == OP_RAND_UNIFORM || n->op == OP_RAND_NORMAL;
}

static void live_region(Env *e, Region *r, char *live);

static void use(Env *e, Node *n, char *live) {
  (void)e;
  live[n->id] = 1;
}

/* Marks live nodes backwards: results, sinks, and what they read. */
static void live_region(Env *e, Region *r, char *live) {
  for (int i = 0; i < r->nout; i++)
    use(e, r->out[i], live);
  int n = 0;
  for (Node *x = r->first; x; x = x->next)
    n++;
  Node **v = arena_alloc(e->a, sizeof(Node *) * (size_t)(n + 1));
  n = 0;
  for (Node *x = r->first; x; x = x->next)
    v[n++] = x;
  for (int i = n - 1; i >= 0; i--) {
    Node *x = v[i];
    if (sink(x) || (x->op == OP_SCAN_INDEX) || x->op == OP_SCAN_CARRY)
      live[x->id] = 1;
    if (!live[x->id])
      continue;
    for (int k = 0; k < x->nin; k++)
      use(e, x->in[k], live);
    if (x->body)
      live_region(e, x->body, live);
  }
}

static void sweep(Region *r, const char *live) {
  Node *prev = NULL;
  for (Node *x = r->first; x; x = x->next) {
    if (!live[x->id])
      continue;
    if (x->body)
      sweep(x->body, live);
    if (prev)
      prev->next = x;
    else
      r->first = x;
    prev = x;
  }
  if (prev)
    prev->next = NULL;
  else
    r->first = NULL;
  r->last = prev;
}

/* The live `get`s of scan s in region r (and the regions inside). */
static void scan_gets(Region *r, Node *s, const char *live, char *used, PtrVec *gets,
                      Arena *a) {
  for (Node *x = r->first; x; x = x->next) {
    if (x->op == OP_GET && x->in[0] == s && live[x->id]) {
      used[ir_attr_int(x, "index", 0)] = 1;
      vec_push(a, gets, x);
    }
    if (x->body)
      scan_gets(x->body, s, live, used, gets, a);
  }
}

/* Drops the yields of live scans that no live `get` reads (a stack the
 * backward pass did not need, a sequence output nobody uses) and those that
 * stack the same value along the same axis as an earlier one (whose `get`s
 * then read the earlier), renumbering the `get`s after them; returns
 * whether any went (their producers may then be dead too). */
static int drop_yields(Env *e, Region *top, const char *live) {
  int dropped = 0;
  PtrVec all = {0};
  PtrVec stack = {0};
  vec_push(e->a, &stack, top);
  while (stack.n) {
    Region *r = stack.v[--stack.n];
    for (Node *x = r->first; x; x = x->next) {
      if (x->body)
        vec_push(e->a, &stack, x->body);
      if (x->op == OP_SCAN && live[x->id])
        vec_push(e->a, &all, x);
    }
  }
  for (int i = 0; i < all.n; i++) {
    Node *s = all.v[i];
    int nc = (int)ir_attr_int(s, "ncarry", 0), ny = s->body->nout - nc;
    char *used = arena_alloc(e->a, (size_t)s->nresult + 1);
    PtrVec gets = {0};
    scan_gets(top, s, live, used, &gets, e->a);
    const Attr *ax = ir_attr(s, "axes");
    int64_t *axes = arena_alloc(e->a, sizeof(int64_t) * (size_t)(ny + 1));
    int *to = arena_alloc(e->a, sizeof(int) * (size_t)(s->nresult + 1));
    int *dup = arena_alloc(e->a, sizeof(int) * (size_t)(ny + 1)); /* the first alike */
    for (int y = 0; y < ny; y++) {
      dup[y] = y;
      for (int y1 = 0; y1 < y && dup[y] == y; y1++)
        if (s->body->out[nc + y1] == s->body->out[nc + y] && ax->ints[y1] == ax->ints[y])
          dup[y] = y1;
      if (dup[y] != y && used[y])
        used[dup[y]] = 1, used[y] = 0;
    }
    int k = 0;
    for (int y = 0; y < ny; y++)
      if (used[y]) {
        s->body->out[nc + k] = s->body->out[nc + y];
        axes[k] = ax->ints[y];
        to[y] = k++;
      }
    for (int y = 0; y < ny; y++)
      if (dup[y] != y)
        to[y] = to[dup[y]];
    if (k == ny)
      continue;
    for (int c = 0; c < nc; c++)
      to[ny + c] = k + c;
    for (int g = 0; g < gets.n; g++) {
      Node *x = gets.v[g];
      for (int j = 0; j < x->nattr; j++)
        if (!strcmp(x->attr[j].key, "index"))
          x->attr[j].i = to[x->attr[j].i];
    }
    s->body->nout = nc + k;
    for (int j = 0; j < s->nattr; j++)
      if (!strcmp(s->attr[j].key, "axes"))
        s->attr[j] = attr_ints(e->a, "axes", k, axes);
    shape_infer(e->c, e->m, s);
    dropped = 1;
  }
  return dropped;
}

/* inside[id] = on for the nodes of r and of the bodies within it. */
static void mark_region(const Region *r, char *inside, char on) {
  for (const Node *n = r->first; n; n = n->next) {
    inside[n->id] = on;
    if (n->body)
      mark_region(n->body, inside, on);
  }
}

/* Whether x, a node of region b, reads only values from outside b and may
 * be computed once before it: pure, no body, not among b's results. */
static int invariant(const Node *x, const Region *b, const char *inside) {
  if (!pure(x) || x->body || x->nin == 0)
    return 0;
  for (int i = 0; i < x->nin; i++)
    if (inside[x->in[i]->id])
      return 0;
  for (int i = 0; i < b->nout; i++)
    if (b->out[i] == x)
      return 0;
  return 1;
}

/* A scan body's nodes that read only values from outside it (an RNN
 * step's `w_hh.T`) are moved before the scan: computed once rather than
 * at every step; nested scans first, so that a value invariant in both
 * moves out of both. */
static void hoist_invariants(Region *r, char *inside) {
  for (Node *n = r->first; n; n = n->next) {
    if (n->op != OP_SCAN || !n->body)
      continue;
    Region *b = n->body;
    hoist_invariants(b, inside);
    int fused = 0; /* IR read back after fusion: left as it is */
    for (const Node *x = b->first; x; x = x->next)
      fused |= x->op == OP_FUSED;
    if (fused)
      continue;
    mark_region(b, inside, 1);
    for (Node *x = b->first, *prev = NULL, *next; x; x = next) {
      next = x->next;
      if (!invariant(x, b, inside)) {
        prev = x;
        continue;
      }
      ir_unlink(b, prev, x);
      link_before(r, x, n);
      inside[x->id] = 0;
    }
    mark_region(b, inside, 0);
  }
}

void pass_simplify(Ctx *c, Module *m) {
  for (int i = 0; i < m->models.n; i++) {
    Model *md = m->models.v[i];
    for (int j = 0; j < md->funcs.n; j++) {
      Func *f = md->funcs.v[j];
      PtrVec seen = {0};
      Env e = {c, m, f, &c->arena, NULL, 0, NULL, NULL, f->next_id, &seen};
      e.uses = arena_alloc(&c->arena, sizeof(int) * (size_t)(f->next_id + 1));
      e.sliced = arena_alloc(&c->arena, sizeof(int) * (size_t)(f->next_id + 1));
      int *ew = arena_alloc(&c->arena, sizeof(int) * (size_t)(f->next_id + 1));
      char *inside = arena_alloc(&c->arena, (size_t)f->next_id + 1);
      memset(inside, 0, (size_t)f->next_id + 1);
      hoist_invariants(&f->body, inside);
      count_uses(&e, &f->body, ew);
      count_sliced(&e, &f->body, ew);
      rewrite(&e, &f->body, &seen);
      char *live = arena_alloc(&c->arena, (size_t)f->next_id + 1);
      do {
        memset(live, 0, (size_t)f->next_id + 1);
        live_region(&e, &f->body, live);
      } while (drop_yields(&e, &f->body, live));
      sweep(&f->body, live);
      for (int k = 0; k < f->nin; k++)
        f->inputs[k] = resolve(&e, f->inputs[k]);
      ir_func_names(c, f);
    }
  }
}
