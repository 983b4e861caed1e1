/* fuse.c — operator fusion: groups nodes of a function's top region into
 * `fused` nodes (docs/ir.md) that the backend emits as one loop nest.
 *
 * The rules, applied to each node in schedule order (buffer updates go
 * last, see pinned):
 *  1. An elementwise op (and expand) joins the groups of its operands that
 *     have its shape, merging them; full and const operands of that shape
 *     are copied into the group (each group computes its own).
 *  2. A float sum or mean of a member joins that member's group when the
 *     group's other reductions (if any) reduce the same axes and the
 *     innermost axis is reduced; one of a full starts a group with a copy,
 *     one of an operand from memory joins another reduction of it or
 *     starts a group, which elementwise ops reading it may join.
 *  3. A node joins only if every value of the group used outside it is
 *     used after the node (the group runs where its last member was), and
 *     it reads no reduction of the group except as rule 5 allows.
 *  4. Decided on a first grouping, which is then made again: a member read
 *     outside its group only by other groups is computed again in each of
 *     them rather than stored, where that is cheap (remat below).
 *  5. Stages: an op of the reductions' kept shape reading them, and a
 *     reshape of them, join the group as kept members; an op of the
 *     group's shape reading kept members joins in the next stage (batch
 *     norm and layer norm as one kernel each).
 *  7. Convolution epilogues: a conv2d (its input not transformed) whose one
 *     reader is a group of its bias add (a vector over its channels) and
 *     maybe a ReLU of that, the group's one value, takes them: its bias
 *     as a third operand (bias=1, relu=1 with the ReLU), and the group's
 *     readers read the convolution (the direct kernel adds them as it
 *     stores its output: no pass over it).
 * A group of two or more nodes (reshapes aside) becomes a `fused` node
 * whose body holds them in order and yields what is used outside; `get`
 * nodes read the yields. Values used only inside are never stored.
 *
 * Needs: simplified IR without grad nodes. Produces: fused nodes in the
 * top region of each function and in each scan body (a step's elementwise
 * chain is one loop). */
#include <string.h>

#include "nnc.h"
#include "nnc_runtime.h" /* which convolutions run Winograd (rule 6) */

typedef struct Group {
  PtrVec mem; /* Node*, in schedule order (clones before their user) */
  Type shape; /* every elementwise member's shape; reductions read it */
  const char *red; /* reduced axes of shape, NULL: no reduction yet */
  int alive;       /* 0 once merged into another group */
} Group;

typedef struct Fuser {
  Ctx *c;
  Module *mod;
  Func *f;
  Arena *a;
  int cap;       /* size of the per-id arrays */
  double *pos;   /* schedule position by id (clones between two nodes) */
  PtrVec *users; /* by id: top-level nodes reading it */
  char *escapes; /* by id: a function result */
  int *grp;      /* by id: group index or -1 */
  PtrVec groups; /* Group* */
  PtrVec undo;   /* Copied: operands given full/const copies (a trial's) */
  int *stage;    /* by id: a member's stage (rule 5) */
  char *stored;  /* by id: a member stored for readers outside (rule 4) */
} Fuser;

typedef struct Copied {
  Node *n;
  int i;
  Node *was, *copy;
} Copied;

static int same_shape(Type x, Type y) {
  if (x.rank != y.rank)
    return 0;
  for (int j = 0; j < x.rank; j++)
    if (!dim_eq(x.dim[j], y.dim[j]))
      return 0;
  return 1;
}

static int is_reduction(const Node *n) {
  return (n->op == OP_SUM || n->op == OP_MEAN) && dtype_is_float(n->type.dtype);
}

/* Whether the innermost axis of t (of size other than 1) is in `red`. */
static int inner_reduced(Type t, const char *red) {
  for (int j = t.rank - 1; j >= 0; j--)
    if (!(dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1))
      return red[j];
  return 0;
}

/* ------------------------------------------------------------ users */

static void add_user(Fuser *u, Node *x, Node *user) {
  if (x->id < u->cap)
    vec_push(u->a, &u->users[x->id], user);
}

/* Reads inside a nested body count as reads by its top-level node. */
static void nested_users(Fuser *u, Region *r, Node *top) {
  for (Node *n = r->first; n; n = n->next) {
    for (int i = 0; i < n->nin; i++)
      add_user(u, n->in[i], top);
    if (n->body)
      nested_users(u, n->body, top);
  }
  for (int i = 0; i < r->nout; i++)
    add_user(u, r->out[i], top);
}

/* ------------------------------------------------------------ grouping */

static Group *group_of(Fuser *u, const Node *n) {
  return n->id < u->cap && u->grp[n->id] >= 0 ? u->groups.v[u->grp[n->id]] : NULL;
}

/* Whether the groups in `set` (with n, at n's position) may run as one:
 * every value of theirs used outside is used after n. */
static int in_set(Group *g, Group **set, int nset) {
  for (int t = 0; t < nset; t++)
    if (g && g == set[t])
      return 1;
  return 0;
}

/* Whether every reader of v outside the set comes after n; a reshape (a
 * view, no code) moves after the group with its value, so its own readers
 * count instead, and none of them may be in the group (it would read its
 * own result through the view). */
static int late_enough(Fuser *u, const Node *v, Group **set, int nset,
                       const Node *n, int view) {
  PtrVec *us = &u->users[v->id];
  for (int i = 0; i < us->n; i++) {
    Node *x = us->v[i];
    if (x == n || in_set(group_of(u, x), set, nset)) {
      if (view)
        return 0;
      continue;
    }
    if (x->op == OP_RESHAPE ? !late_enough(u, x, set, nset, n, 1)
                            : u->pos[x->id] <= u->pos[n->id])
      return 0;
  }
  return 1;
}

static int can_run_at(Fuser *u, Group **set, int nset, const Node *n) {
  for (int s = 0; s < nset; s++)
    for (int k = 0; k < set[s]->mem.n; k++) {
      Node *m = set[s]->mem.v[k];
      for (int i = 0; i < m->nin; i++) /* no member reads a reduction */
        if (is_reduction(m->in[i]) && in_set(group_of(u, m->in[i]), set, nset) &&
            group_of(u, m->in[i]) != set[s])
          return 0;
      if (!late_enough(u, m, set, nset, n, 0))
        return 0;
    }
  return 1;
}

static Group *new_group(Fuser *u, Type shape) {
  Group *g = arena_alloc(u->a, sizeof *g);
  g->shape = shape;
  g->alive = 1;
  vec_push(u->a, &u->groups, g);
  return g;
}

static void put(Fuser *u, Group *g, Node *n) {
  int gi = 0;
  while (u->groups.v[gi] != g)
    gi++;
  vec_push(u->a, &g->mem, n);
  u->grp[n->id] = gi;
}

/* Moves the members of `from` into `to` (order is restored later). */
static void merge(Fuser *u, Group *to, Group *from) {
  for (int k = 0; k < from->mem.n; k++)
    put(u, to, from->mem.v[k]);
  if (!to->red)
    to->red = from->red;
  from->mem.n = 0;
  from->alive = 0;
}

/* A copy of full/const x placed just before n, reading nothing. */
static Node *clone_source(Fuser *u, Node *x, Node *n) {
  Region scratch = {0};
  Node *y = ir_node(u->c, u->mod, u->f, &scratch, x->op, 0, NULL, x->nattr,
                    x->attr, x->name, x->loc);
  y->next = NULL;
  u->pos[y->id] = u->pos[n->id] - 0.5;
  u->grp[y->id] = -1;
  vec_push(u->a, &u->users[y->id], n);
  return y;
}

/* The operands of n that are full/const nodes of shape t get copies. */
static void clone_sources(Fuser *u, Node *n, Type t, Group *g) {
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if ((x->op == OP_FULL || x->op == OP_CONST) && x->type.rank > 0 &&
        same_shape(x->type, t) && u->f->next_id < u->cap) {
      Copied *cp = arena_alloc(u->a, sizeof *cp);
      cp->n = n, cp->i = i, cp->was = x;
      vec_push(u->a, &u->undo, cp);
      n->in[i] = cp->copy = clone_source(u, x, n);
      put(u, g, n->in[i]);
    }
  }
}

static int reads_reduction_of(const Node *n, Fuser *u, Group *g) {
  for (int i = 0; i < n->nin; i++)
    if (is_reduction(n->in[i]) && group_of(u, n->in[i]) == g)
      return 1;
  return 0;
}

/* Whether x is a kept member of g (rule 5): its value per kept index. */
static int kept_member(Fuser *u, Group *g, const Node *x) {
  return group_of(u, x) == g && g->red && !is_reduction(x) && ir_kept_form(g->shape, g->red, x->type);
}

/* The stage n would have in group g (rule 5; ir_fused_stages). */
static int stage_in(Fuser *u, Group *g, const Node *n, int kept) {
  int st = kept ? 0 : 1;
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (group_of(u, x) != g)
      continue;
    int need = kept || is_reduction(n) ? u->stage[x->id]
               : is_reduction(x) || kept_member(u, g, x) ? u->stage[x->id] + 1
                                                         : u->stage[x->id];
    if (need > st)
      st = need;
  }
  return st;
}

/* Rule 5, stages: an elementwise n of a group's kept shape that reads the
 * group's reductions or kept members joins it, with the groups of its
 * other operands that hold only elementwise ops of that shape; its other
 * operands are of that shape or scalars. Returns whether it joined. */
static int join_kept(Fuser *u, Node *n, Group *g) {
  Group *set[8] = {g};
  int ns = 1;
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    Group *h = group_of(u, x);
    if (h == g)
      continue;
    int pure = h && !h->red && same_shape(h->shape, n->type); /* kept ops alone */
    if (!pure) { /* read from memory (another group's: it runs before) */
      if (!ir_kept_form(g->shape, g->red, x->type) && type_numel_const(x->type) != 1)
        return 0;
      continue;
    }
    if (ns == 8)
      return 0;
    int dup = 0;
    for (int k = 0; k < ns; k++)
      dup |= set[k] == h;
    if (!dup)
      set[ns++] = h;
  }
  if (!can_run_at(u, set, ns, n))
    return 0;
  for (int k = 1; k < ns; k++) {
    for (int j = 0; j < set[k]->mem.n; j++) /* they read nothing of g: stage 0 */
      u->stage[((Node *)set[k]->mem.v[j])->id] = 0;
    merge(u, g, set[k]);
  }
  clone_sources(u, n, n->type, g);
  u->stage[n->id] = stage_in(u, g, n, 1);
  put(u, g, n);
  return 1;
}

/* A reshape of a group's reduction or kept member to its kept shape (the
 * same values, S's rank) joins the group, for its row members to read. */
static void join_view(Fuser *u, Node *n) {
  Node *x = n->in[0];
  Group *g = group_of(u, x);
  if (!g || !g->red || !(is_reduction(x) || kept_member(u, g, x)) ||
      !ir_kept_form(g->shape, g->red, n->type) || !can_run_at(u, &g, 1, n))
    return;
  u->stage[n->id] = u->stage[x->id];
  put(u, g, n);
}

/* Rule 1: elementwise n joins (and merges) its operands' groups. */
static void join_elementwise(Fuser *u, Node *n) {
  Group *cand[8];
  int nc = 0;
  const char *red = NULL;
  for (int i = 0; i < n->nin; i++) { /* rule 5: a kept value of a group */
    Group *g = group_of(u, n->in[i]);
    if (g && g->red && (is_reduction(n->in[i]) || kept_member(u, g, n->in[i])) &&
        ir_kept_form(g->shape, g->red, n->type) && !same_shape(g->shape, n->type) &&
        join_kept(u, n, g))
      return;
  }
  for (int i = 0; i < n->nin && nc < 8; i++) {
    Group *g = group_of(u, n->in[i]);
    if (!g && n->in[i]->id < u->cap) { /* a group whose reduction reads it too */
      PtrVec *us = &u->users[n->in[i]->id];
      for (int k = 0; k < us->n && !g; k++) {
        Group *h = group_of(u, us->v[k]);
        if (h && is_reduction(us->v[k]))
          g = h;
      }
    }
    int dup = 0;
    for (int k = 0; k < nc; k++)
      dup |= cand[k] == g;
    if (!g || dup || is_reduction(n->in[i]) || !same_shape(g->shape, n->type) ||
        reads_reduction_of(n, u, g))
      continue;
    int wrong = 0; /* kept values read without S's rank broadcast otherwise */
    for (int k = 0; k < n->nin; k++)
      wrong |= kept_member(u, g, n->in[k]) && !ir_kept_broadcast(g->shape, g->red, n->in[k]->type);
    if (wrong || (g->red && red && memcmp(g->red, red, (size_t)n->type.rank)))
      continue; /* two groups reducing different axes stay apart */
    if (g->red)
      red = g->red;
    cand[nc++] = g;
  }
  int st = 1; /* its stage: after the kept values it reads */
  for (int k = 0; k < nc; k++) {
    int s = stage_in(u, cand[k], n, 0);
    st = s > st ? s : st;
  }
  if (st > NNC_FUSED_STAGES)
    nc = 0;
  Group *into = NULL;
  if (nc && can_run_at(u, cand, nc, n)) {
    into = cand[0];
    for (int k = 1; k < nc; k++)
      merge(u, into, cand[k]);
  }
  for (int k = 0; !into && k < nc; k++)
    if (can_run_at(u, &cand[k], 1, n))
      into = cand[k];
  if (!into)
    into = new_group(u, n->type);
  u->stage[n->id] = stage_in(u, into, n, 0);
  clone_sources(u, n, n->type, into);
  put(u, into, n);
}

/* Rule 2: a sum or mean joins the group of the member it reads. */
static void join_reduction(Fuser *u, Node *n) {
  Node *x = n->in[0];
  const char *red = ir_reduced_axes(u->a, n);
  if (!inner_reduced(x->type, red))
    return;
  Group *g = group_of(u, x);
  if (!g && (x->op == OP_FULL || x->op == OP_CONST) && x->type.rank > 0) {
    g = new_group(u, x->type);
    clone_sources(u, n, x->type, g);
  } else if (!g && x->type.rank > 0) {
    /* of an operand read from memory: with another reduction of it, or
     * alone (an elementwise op reading it may join later: rule 1) */
    PtrVec *us = x->id < u->cap ? &u->users[x->id] : NULL;
    for (int k = 0; us && k < us->n && !g; k++) {
      Group *h = group_of(u, us->v[k]);
      if (h && is_reduction(us->v[k]) && h->red && !memcmp(h->red, red, (size_t)x->type.rank) &&
          same_shape(h->shape, x->type) && can_run_at(u, &h, 1, n))
        g = h;
    }
    if (!g)
      g = new_group(u, x->type);
  } else if (!g || is_reduction(x) || !same_shape(g->shape, x->type) ||
             (g->red && memcmp(g->red, red, (size_t)x->type.rank)) ||
             kept_member(u, g, x) || !can_run_at(u, &g, 1, n)) {
    return;
  }
  g->red = red;
  u->stage[n->id] = group_of(u, x) == g ? u->stage[x->id] : 1;
  put(u, g, n);
}

/* ------------------------------------------------------ recomputation */

/* Rule 4, recomputation: an elementwise member n of group g whose value
 * readers outside g all sit in other groups is computed again in each of
 * them from what g reads, instead of stored by g and read back (batch
 * norm's x - mean for its backward). Each reading group gets one copy of
 * n's subtree within g, down to what g reads from outside and to members
 * stored anyway (its leaves), when the subtree holds only cheap ops
 * (remat_cheap) and the reading group already reads every full-size leaf.
 * Decided on a trial grouping; the copies then join their readers' groups
 * when the region is grouped again. */
#define REMAT_MAX 16 /* nodes in one copied subtree */

static int remat_member(Fuser *u, Group *g, const Node *x) {
  return group_of(u, x) == g && !is_reduction(x) && op_fusible(x->op) &&
         same_shape(x->type, g->shape);
}

/* Ops cheap enough to compute twice: no division, no function of the
 * math library (the binary cross-entropy's logs, stored, cost less to read
 * back from the cache than to compute again). */
static int remat_cheap(OpKind op) {
  switch (op) {
  case OP_NEG: case OP_ABS: case OP_SIGN: case OP_RELU: case OP_LEAKY_RELU:
  case OP_NOT: case OP_CAST: case OP_DETACH: case OP_ADD: case OP_SUB: case OP_MUL:
  case OP_MAXIMUM: case OP_MINIMUM: case OP_AND: case OP_OR: case OP_EQ: case OP_NE:
  case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_WHERE: case OP_EXPAND:
  case OP_FULL: case OP_CONST:
    return 1;
  default:
    return 0;
  }
}

/* The subtree of n within g, operands first; 0 when too large. */
static int remat_tree(Fuser *u, Group *g, Node *n, Node **t, int nt) {
  for (int k = 0; k < nt; k++)
    if (t[k] == n)
      return nt;
  for (int i = 0; i < n->nin; i++) /* members stored anyway are leaves */
    if (remat_member(u, g, n->in[i]) && !u->stored[n->in[i]->id] &&
        !(nt = remat_tree(u, g, n->in[i], t, nt)))
      return 0;
  if (nt == REMAT_MAX || n->nin > 8 || !remat_cheap(n->op))
    return 0;
  t[nt++] = n;
  return nt;
}

static int group_reads(const Group *h, const Node *x) {
  for (int k = 0; k < h->mem.n; k++) {
    const Node *m = h->mem.v[k];
    for (int i = 0; i < m->nin; i++)
      if (m->in[i] == x)
        return 1;
  }
  return 0;
}

/* Whether n's subtree t may be copied into group h: h already reads every
 * full-size leaf (none is read only for the copy: recomputing then only
 * saves, a store and a read; where a leaf would be read again, storing
 * measured as fast or faster). */
static int remat_fits(Node **t, int nt, Group *h, Type shape) {
  for (int k = 0; k < nt; k++)
    for (int i = 0; i < t[k]->nin; i++) {
      Node *x = t[k]->in[i];
      int inside = 0;
      for (int j = 0; j < nt && !inside; j++)
        inside = t[j] == x;
      if (!inside && same_shape(x->type, shape) && x->op != OP_FULL && x->op != OP_CONST &&
          !group_reads(h, x))
        return 0;
    }
  return 1;
}

/* Puts x into r just before `before`. */
static void insert_before(Region *r, Node *before, Node *x) {
  Node *prev = NULL;
  for (Node *y = r->first; y != before; y = y->next)
    prev = y;
  x->next = before;
  if (prev)
    prev->next = x;
  else
    r->first = x;
}

/* A copy of t (n = t[nt - 1]) before the first of n's readers in group h,
 * which all read it instead of n. */
static void remat_copy(Fuser *u, Region *r, Node **t, int nt, Group *h) {
  Node *n = t[nt - 1], *first = NULL, *copy[REMAT_MAX];
  PtrVec *us = &u->users[n->id];
  for (int i = 0; i < us->n; i++) {
    Node *x = us->v[i];
    if (group_of(u, x) == h && (!first || u->pos[x->id] < u->pos[first->id]))
      first = x;
  }
  for (int k = 0; k < nt; k++) {
    Node *x = t[k], *in[8];
    for (int i = 0; i < x->nin; i++) {
      in[i] = x->in[i];
      for (int j = 0; j < k; j++)
        if (t[j] == in[i])
          in[i] = copy[j];
    }
    Region scratch = {0};
    copy[k] = ir_node(u->c, u->mod, u->f, &scratch, x->op, x->nin, in, x->nattr, x->attr,
                      x->name, x->loc);
    insert_before(r, first, copy[k]);
  }
  for (int i = 0; i < us->n; i++) {
    Node *x = us->v[i];
    for (int j = 0; j < x->nin && group_of(u, x) == h; j++)
      if (x->in[j] == n)
        x->in[j] = copy[nt - 1];
  }
}

typedef struct Remat {
  Node *t[REMAT_MAX];
  int nt;
  Group *g;
  Node *y, *va, *vb; /* rule 6: the input and the channel vectors, else NULL */
} Remat;

static void sort_members(Fuser *u, Group *g);

/* ------------------------------------------------- input transforms */

/* Rule 6, input transforms: a row member n = relu(y * a + b) of group g,
 * y read from memory and a, b per-channel kept values of g (batch norm's
 * normalisation, affine and ReLU: channels on axis 1 of a 4-D S, the
 * group reducing the other axes), read outside g only by groups that can
 * compute it again (rule 4: they read y already) and by convolutions and
 * max poolings whose runtime reads their input through such a transform
 * (nnc_conv2d_in: Winograd's shapes; nnc_maxpool2d_in: MaxPool2d(2), rows
 * of at most 1024), is not stored: the convolutions and poolings read y
 * with a and b's per-channel vectors as two more operands. */

/* Whether op x can read operand 0 through the transform. */
static int reads_transformed(const Node *x, const Node *n) {
  if (x->nin < 1 || x->in[0] != n)
    return 0;
  for (int i = 1; i < x->nin; i++)
    if (x->in[i] == n)
      return 0;
  if ((x->op == OP_CONV2D && x->nin == 2) || (x->op == OP_CONV2D_GRAD_WEIGHT && x->nin == 2)) {
    const Type w = x->op == OP_CONV2D ? x->in[1]->type : x->type;
    nnc_conv_shape s = {1, dim_known(n->type.dim[1]), 1, 1, dim_known(w.dim[0]), dim_known(w.dim[2]),
                        dim_known(w.dim[3]), 1, 1, ir_attr_int2(x, "stride", 0, 1), ir_attr_int2(x, "stride", 1, 1),
                        0, 0, ir_attr_int2(x, "dilation", 0, 1), ir_attr_int2(x, "dilation", 1, 1),
                        ir_attr_int(x, "groups", 1)};
    return nnc_conv2d_winograd(&s, s.c, s.o);
  }
  if ((x->op == OP_MAX_POOL2D && x->nin == 1) || (x->op == OP_MAX_POOL2D_GRAD && x->nin == 2)) {
    const int64_t w = dim_known(n->type.dim[3]);
    return ir_attr_int2(x, "kernel", 0, 0) == 2 && ir_attr_int2(x, "kernel", 1, 0) == 2 &&
           ir_attr_int2(x, "stride", 0, 2) == 2 && ir_attr_int2(x, "stride", 1, 2) == 2 &&
           ir_attr_int2(x, "padding", 0, 0) == 0 && ir_attr_int2(x, "padding", 1, 0) == 0 && w > 0 &&
           w <= 1024;
  }
  return 0;
}

/* The per-channel vector ([C]) behind kept value v of g, seen through
 * reshapes, or NULL. */
static Node *channel_vector(Fuser *u, Group *g, Node *v, Dim C) {
  if (!kept_member(u, g, v) || !ir_kept_broadcast(g->shape, g->red, v->type))
    return NULL;
  while (v->op == OP_RESHAPE && group_of(u, v->in[0]) == g)
    v = v->in[0];
  return v->type.rank == 1 && dim_eq(v->type.dim[0], C) && !is_reduction(v) ? v : NULL;
}

/* n = relu(y * a + b) as rule 6 takes it: its subtree t (y*a, +b, relu)
 * and the channel vectors; 0 if not. */
static int transform_of(Fuser *u, Group *g, Node *n, Node **t, Node **y, Node **va,
                        Node **vb) {
  Type S = g->shape;
  if (n->op != OP_RELU || !g->red || S.rank != 4 || g->red[1] || !g->red[0] || !g->red[2] ||
      !g->red[3] || !dtype_is_float(n->type.dtype))
    return 0;
  Node *add = n->in[0];
  if (add->op != OP_ADD || group_of(u, add) != g)
    return 0;
  for (int i = 0; i < 2; i++) {
    Node *mul = add->in[i], *b = add->in[1 - i];
    if (mul->op != OP_MUL || group_of(u, mul) != g)
      continue;
    for (int k = 0; k < 2; k++) {
      Node *x = mul->in[k], *a = mul->in[1 - k];
      if (group_of(u, x) == g || !same_shape(x->type, S) || x->type.dtype != n->type.dtype)
        continue;
      Node *ca = channel_vector(u, g, a, S.dim[1]), *cb = channel_vector(u, g, b, S.dim[1]);
      if (ca && cb) {
        t[0] = mul, t[1] = add, t[2] = n, *y = x, *va = ca, *vb = cb;
        return 1;
      }
    }
  }
  return 0;
}

/* x reads y, and then the vectors, instead of n. */
static void read_transformed(Fuser *u, Node *x, Node *y, Node *va, Node *vb) {
  Node **in = arena_alloc(u->a, sizeof(Node *) * (size_t)(x->nin + 3));
  for (int i = 0; i < x->nin; i++)
    in[i] = x->in[i];
  in[0] = y, in[x->nin] = va, in[x->nin + 1] = vb;
  x->in = in;
  x->nin += 2;
}

static int used_anywhere(Region *r, const Node *x);

/* Pure nodes nothing reads any more (rule 6's transformed values) leave
 * the region. */
static void drop_dead(Fuser *u, Region *r) {
  for (int again = 1; again;) {
    again = 0;
    Node *prev = NULL;
    for (Node *x = r->first; x;) {
      Node *next = x->next;
      if ((op_fusible(x->op) || x->op == OP_RESHAPE) && x->id < u->cap && !u->escapes[x->id] &&
          !used_anywhere(r, x)) {
        ir_unlink(r, prev, x);
        again = 1;
      } else {
        prev = x;
      }
      x = next;
    }
  }
}

/* Rule 4 over the trial groups; returns whether anything was copied. The
 * decisions are all taken on the trial, then carried out last to first
 * (a copy reads what its subtree read in the trial). */
static int remat(Fuser *u, Region *r) {
  PtrVec todo = {0};
  u->stored = arena_alloc(u->a, (size_t)u->cap);
  for (int gi = 0; gi < u->groups.n; gi++) {
    Group *g = u->groups.v[gi];
    if (!g->alive || g->mem.n < 2)
      continue;
    sort_members(u, g); /* operands first: their decisions made */
    for (int k = 0; k < g->mem.n; k++) {
      Node *n = g->mem.v[k];
      PtrVec *us = &u->users[n->id];
      int inside = 0, ok = 1, outside = u->escapes[n->id];
      for (int i = 0; i < us->n; i++) {
        Group *h = group_of(u, us->v[i]);
        if (h == g)
          inside = 1;
        else
          outside = 1, ok &= h && h->alive && h->mem.n >= 2;
      }
      u->stored[n->id] = (char)outside;
      Node *tt[3], *y, *va, *vb;
      if (outside && !u->escapes[n->id] && transform_of(u, g, n, tt, &y, &va, &vb)) {
        int fits = 1, ops = 0; /* rule 6 */
        for (int i = 0; i < us->n && fits; i++) {
          Node *x = us->v[i];
          Group *h = group_of(u, x);
          if (h == g)
            continue;
          if (h && h->alive && h->mem.n >= 2)
            fits = remat_fits(tt, 3, h, n->type);
          else
            fits = reads_transformed(x, n), ops++;
        }
        if (fits && ops) {
          Remat *m = arena_alloc(u->a, sizeof *m);
          m->g = g, m->nt = 3, m->t[0] = tt[0], m->t[1] = tt[1], m->t[2] = tt[2];
          m->y = y, m->va = va, m->vb = vb;
          vec_push(u->a, &todo, m), u->stored[n->id] = 0;
          continue;
        }
      }
      if (!remat_member(u, g, n) || u->escapes[n->id] || !outside)
        continue;
      Remat *m = arena_alloc(u->a, sizeof *m);
      m->g = g;
      m->nt = ok && inside ? remat_tree(u, g, n, m->t, 0) : 0;
      for (int i = 0; i < us->n && m->nt; i++) {
        Group *h = group_of(u, us->v[i]);
        if (h != g && !remat_fits(m->t, m->nt, h, n->type))
          m->nt = 0;
      }
      if (m->nt)
        vec_push(u->a, &todo, m), u->stored[n->id] = 0;
    }
  }
  for (int k = todo.n - 1; k >= 0; k--) {
    Remat *m = todo.v[k];
    PtrVec *us = &u->users[m->t[m->nt - 1]->id];
    for (int i = 0; i < us->n; i++) { /* one copy per reading group */
      Group *h = group_of(u, us->v[i]);
      int done = 0;
      for (int j = 0; j < i; j++)
        done |= group_of(u, us->v[j]) == h;
      if (h && h != m->g && !done)
        remat_copy(u, r, m->t, m->nt, h);
      else if (!h && m->y) /* rule 6 */
        read_transformed(u, us->v[i], m->y, m->va, m->vb);
    }
  }
  drop_dead(u, r);
  return todo.n > 0;
}

/* ------------------------------------------------------------ rewriting */

static int by_pos_cmp_key(Fuser *u, const Node *a, const Node *b) {
  double x = u->pos[a->id], y = u->pos[b->id];
  return (x > y) - (x < y);
}

static void sort_members(Fuser *u, Group *g) {
  for (int i = 1; i < g->mem.n; i++) /* insertion sort: nearly sorted */
    for (int j = i; j > 0 && by_pos_cmp_key(u, g->mem.v[j - 1], g->mem.v[j]) > 0; j--) {
      void *t = g->mem.v[j];
      g->mem.v[j] = g->mem.v[j - 1];
      g->mem.v[j - 1] = t;
    }
}

static void append(Region *r, Node *x) {
  x->next = NULL;
  if (r->last)
    r->last->next = x;
  else
    r->first = x;
  r->last = x;
}

typedef struct Built {
  Node *fused;
  PtrVec gets;
} Built;

/* Replaces reads of yielded members outside their group by their gets. */
static void redirect(Fuser *u, Region *r, Node **repl, int self) {
  for (Node *n = r->first; n; n = n->next) {
    for (int i = 0; i < n->nin; i++) {
      Node *x = n->in[i];
      if (x->id < u->cap && repl[x->id] && u->grp[x->id] != self)
        n->in[i] = repl[x->id];
    }
    if (n->body)
      redirect(u, n->body, repl,
               n->op == OP_FUSED ? u->grp[n->body->first->id] : self);
  }
  for (int i = 0; i < r->nout; i++) {
    Node *x = r->out[i];
    if (x->id < u->cap && repl[x->id] && u->grp[x->id] != self)
      r->out[i] = repl[x->id];
  }
}

/* The fused node of group g, its body filled and its gets made. */
static Built build(Fuser *u, Group *g, int gi, Region *r, Node **repl) {
  Region scratch = {0};
  Node *last = g->mem.v[g->mem.n - 1];
  Built b = {0};
  b.fused = ir_node(u->c, u->mod, u->f, &scratch, OP_FUSED, 0, NULL, 0, NULL,
                    "fused", last->loc);
  Region *body = b.fused->body;
  body->parent = r;
  PtrVec outs = {0}, views = {0};
  char *dead = arena_alloc(u->a, (size_t)g->mem.n + 1); /* views no member reads */
  for (int k = g->mem.n - 1; k >= 0; k--) {
    Node *m = g->mem.v[k];
    if (m->op != OP_RESHAPE)
      continue;
    dead[k] = 1;
    for (int j = k + 1; j < g->mem.n && dead[k]; j++) {
      Node *rd = g->mem.v[j];
      for (int i = 0; i < rd->nin && !dead[j]; i++)
        dead[k] &= rd->in[i] != m;
    }
  }
  for (int k = 0; k < g->mem.n; k++) {
    Node *m = g->mem.v[k];
    if (!dead[k])
      append(body, m);
    int yield = u->escapes[m->id];
    PtrVec *us = &u->users[m->id];
    for (int i = 0; i < us->n && !yield; i++)
      yield = u->grp[((Node *)us->v[i])->id] != gi;
    if (yield && m->op == OP_RESHAPE) { /* a view read outside: made again there */
      vec_push(u->a, &views, m);
      continue;
    }
    if (yield)
      vec_push(u->a, &outs, m);
  }
  for (int k = 0; k < views.n; k++) { /* what the views read is yielded */
    Node *src = views.v[k];
    while (src->op == OP_RESHAPE)
      src = src->in[0];
    int have = 0;
    for (int j = 0; j < outs.n; j++)
      have |= outs.v[j] == src;
    if (!have)
      vec_push(u->a, &outs, src);
  }
  if (views.n) { /* in member order, as the rest */
    for (int i = 1; i < outs.n; i++)
      for (int j = i; j > 0 && by_pos_cmp_key(u, outs.v[j - 1], outs.v[j]) > 0; j--) {
        void *t = outs.v[j];
        outs.v[j] = outs.v[j - 1];
        outs.v[j - 1] = t;
      }
  }
  body->nout = outs.n;
  body->out = arena_alloc(u->a, sizeof(Node *) * (size_t)(outs.n + 1));
  b.fused->nresult = outs.n;
  b.fused->result = arena_alloc(u->a, sizeof(Type) * (size_t)(outs.n + 1));
  for (int k = 0; k < outs.n; k++) {
    Node *m = outs.v[k];
    body->out[k] = m;
    b.fused->result[k] = m->type;
    Attr at = attr_int("index", k);
    Node *gt = ir_node(u->c, u->mod, u->f, &scratch, OP_GET, 1, &b.fused, 1,
                       &at, m->name, m->loc);
    const char *own = m->name; /* readers outside keep the name they read */
    m->name = gt->name;
    gt->name = own;
    vec_push(u->a, &b.gets, gt);
    repl[m->id] = gt;
  }
  for (int k = 0; k < views.n; k++) { /* the views read outside, after the gets */
    Node *v = views.v[k], *src = v;
    while (src->op == OP_RESHAPE)
      src = src->in[0];
    if (type_eq(v->type, src->type)) { /* the value itself */
      repl[v->id] = repl[src->id];
      continue;
    }
    Node *rs = ir_node(u->c, u->mod, u->f, &scratch, OP_RESHAPE, 1, &repl[src->id],
                       v->nattr, v->attr, v->name, v->loc);
    rs->next = NULL;
    vec_push(u->a, &b.gets, rs);
    repl[v->id] = rs;
  }
  return b;
}

/* The fused node's operands: what its members read from outside. */
static void set_operands(Fuser *u, Node *fz) {
  PtrVec ext = {0};
  for (Node *m = fz->body->first; m; m = m->next)
    for (int i = 0; i < m->nin; i++) {
      Node *x = m->in[i];
      int known = 0;
      for (Node *y = fz->body->first; y && !known; y = y->next)
        known = y == x;
      for (int k = 0; k < ext.n && !known; k++)
        known = ext.v[k] == x;
      if (!known)
        vec_push(u->a, &ext, x);
    }
  fz->nin = ext.n;
  fz->in = arena_alloc(u->a, sizeof(Node *) * (size_t)(ext.n + 1));
  for (int k = 0; k < ext.n; k++)
    fz->in[k] = ext.v[k];
}

/* Whether anything in r but node `but` (and its body) reads x. */
static int read_elsewhere(Region *r, const Node *but, const Node *x) {
  for (Node *n = r->first; n; n = n->next) {
    if (n == but)
      continue;
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] == x)
        return 1;
    if (n->body && read_elsewhere(n->body, NULL, x))
      return 1;
  }
  for (int i = 0; i < r->nout; i++)
    if (r->out[i] == x)
      return 1;
  return 0;
}

static int used_anywhere(Region *r, const Node *x) { return read_elsewhere(r, NULL, x); }

/* Nodes that keep their place: effects, and what the emitter expects in
 * order (inputs, scans). A buffer's update is not among them: it reads
 * the new value, every reader of the buffer reads the old one, and it
 * goes last (batch norm's running statistics then leave its statistics'
 * group free to run where its normalisation does). */
static int pinned(const Node *x) {
  switch (x->op) {
  case OP_RAND_UNIFORM: case OP_RAND_NORMAL: case OP_MINIMIZE:
  case OP_ACCUM_GRAD: case OP_INPUT_GRAD: case OP_INPUT: case OP_SCAN:
  case OP_SCAN_INDEX: case OP_SCAN_CARRY:
    return 1;
  default:
    return 0;
  }
}

/* Schedules every other node as late as possible: just before its first
 * reader. A value then sits next to the values it combines with (a small
 * per-channel computation of batch norm's backward no longer separates two
 * passes over the same activation), and lives shorter. */
static void sink(Fuser *u, Region *r, int n) {
  Node **v = arena_alloc(u->a, sizeof(Node *) * (size_t)(n + 1));
  int k = 0;
  for (Node *x = r->first; x; x = x->next)
    v[k++] = x;
  /* A weight's gradient computed by a matrix product goes into its buffer
   * right after it is complete, not at the end where backprop left its
   * accum_grad: the product then runs while its operands (the output
   * gradient just computed) are still in cache, and they die sooner. */
  char *here = arena_alloc(u->a, (size_t)u->cap);
  memset(here, 0, (size_t)u->cap);
  for (int i = 0; i < n; i++)
    here[v[i]->id] = 1;
  for (int i = 0; i < n; i++)
    if (v[i]->op == OP_ACCUM_GRAD && v[i]->nin == 1 && v[i]->in[0]->op == OP_MATMUL &&
        here[v[i]->in[0]->id])
      u->pos[v[i]->id] = u->pos[v[i]->in[0]->id] + 1.0 / 2048;
  for (int i = n - 1; i >= 0; i--) {
    Node *x = v[i];
    if (pinned(x) || u->escapes[x->id])
      continue;
    double first = n; /* the end, for a value nothing reads */
    PtrVec *us = &u->users[x->id];
    for (int j = 0; j < us->n; j++) {
      double p = u->pos[((Node *)us->v[j])->id];
      if (p < first)
        first = p;
    }
    u->pos[x->id] = first - 1.0 / 1024;
  }
  for (int i = 1; i < n; i++) /* stable insertion sort by position */
    for (int j = i; j > 0 && u->pos[v[j - 1]->id] > u->pos[v[j]->id]; j--) {
      Node *t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  r->first = NULL;
  for (int i = n - 1; i >= 0; i--) {
    v[i]->next = r->first;
    r->first = v[i];
    u->pos[v[i]->id] = i;
  }
  r->last = n ? v[n - 1] : NULL;
}

/* Rule 7: the bias vector [o] that node b adds to conv2d x's output
 * ([o,1,1] or [1,o,1,1], a reshape of it), or NULL. */
static Node *conv_bias(const Node *x, Node *b) {
  const Type *t = &b->type;
  if (b->op != OP_RESHAPE || b->in[0]->type.rank != 1 || t->dtype != x->type.dtype ||
      !dim_eq(b->in[0]->type.dim[0], x->type.dim[1]) || t->rank < 3 || t->rank > 4)
    return NULL;
  for (int j = 0; j < t->rank; j++)
    if (j != t->rank - 3 && !(dim_is_const(t->dim[j]) && dim_value(t->dim[j]) == 1))
      return NULL;
  return b->in[0];
}

/* Whether x comes before `at` in region r. */
static int before(const Region *r, const Node *x, const Node *at) {
  for (const Node *n = r->first; n && n != at; n = n->next)
    if (n == x)
      return 1;
  return 0;
}

/* The conv2d whose output `add` adds a bias to (setting *bv), if any. */
static Node *biased_conv(Node *add, Node **bv) {
  *bv = NULL;
  if (add->op != OP_ADD || add->nin != 2)
    return NULL;
  for (int k = 0; k < 2; k++) {
    Node *x = add->in[k];
    if (x->op == OP_CONV2D && x->nin == 2 && same_shape(x->type, add->type) &&
        (*bv = conv_bias(x, add->in[1 - k])))
      return x;
  }
  return NULL;
}

/* Rule 7 over region r, once its groups are made. */
static void conv_epilogues(Fuser *u, Region *r) {
  Node *prev = NULL, *n = r->first;
  while (n) {
    Node *add = n, *relu = NULL, *get = NULL, *bv, *x = NULL;
    if (n->op == OP_FUSED) { /* add and ReLU, their get next */
      add = n->body->first, relu = add ? add->next : NULL, get = n->next;
      if (!add || !relu || relu->op != OP_RELU || relu->in[0] != add || relu->next ||
          n->body->nout != 1 || n->body->out[0] != relu || !get || get->op != OP_GET ||
          get->in[0] != n || read_elsewhere(r, get, n))
        add = NULL;
    }
    if (add) /* else the add alone */
      x = biased_conv(add, &bv);
    if (!x || !before(r, bv, x) || read_elsewhere(r, n, x)) {
      prev = n, n = n->next;
      continue;
    }
    Node **in = arena_alloc(u->a, sizeof(Node *) * 3);
    in[0] = x->in[0], in[1] = x->in[1], in[2] = bv;
    Attr *at = arena_alloc(u->a, sizeof(Attr) * (size_t)(x->nattr + 2));
    memcpy(at, x->attr, sizeof(Attr) * (size_t)x->nattr);
    at[x->nattr++] = attr_int("bias", 1);
    if (relu)
      at[x->nattr++] = attr_int("relu", 1);
    x->in = in, x->nin = 3, x->attr = at;
    if (get) {
      ir_replace_uses(r, get, x);
      ir_unlink(r, n, get);
    } else {
      ir_replace_uses(r, n, x);
    }
    ir_unlink(r, prev, n);
    n = prev ? prev->next : r->first;
  }
  drop_dead(u, r);
}

/* Rule 8 over region r, after rule 7: a MaxPool2d(2) (kernel 2, stride
 * 2, no padding) whose input is a conv2d with bias=1 relu=1 that nothing
 * else reads, constant output sizes, becomes that conv2d's pool=2 (the
 * pooled output its own). A training step reads the convolution's output
 * again for the pooling's gradient: there it stays. */
static void conv_pools(Fuser *u, Region *r) {
  Node *prev = NULL, *n = r->first;
  while (n) {
    Node *x = n->op == OP_MAX_POOL2D && n->nin == 1 ? n->in[0] : NULL;
    int ok = x && x->op == OP_CONV2D && ir_attr_int(x, "bias", 0) == 1 &&
             ir_attr_int(x, "relu", 0) == 1 && !ir_attr_int(x, "pool", 0) &&
             x->id < u->cap && !u->escapes[x->id] && !read_elsewhere(r, n, x) &&
             ir_conv2d_out(x, 0) >= 2 && ir_conv2d_out(x, 1) >= 2;
    for (int i = 0; ok && i < 2; i++)
      ok = ir_attr_int2(n, "kernel", i, -1) == 2 && ir_attr_int2(n, "stride", i, 2) == 2 &&
           ir_attr_int2(n, "padding", i, 0) == 0;
    if (!ok) {
      prev = n, n = n->next;
      continue;
    }
    Attr *at = arena_alloc(u->a, sizeof(Attr) * (size_t)(x->nattr + 1));
    memcpy(at, x->attr, sizeof(Attr) * (size_t)x->nattr);
    at[x->nattr++] = attr_int("pool", 2);
    x->attr = at, x->type = n->type;
    ir_replace_uses(r, n, x);
    ir_unlink(r, prev, n);
    n = prev ? prev->next : r->first;
  }
}

/* Fuses the nodes of region r (a function's body or a scan's): values of
 * r are read only inside it, its outputs (results, yields, carries) count
 * as read after its last node. */
static void fuse_region(Ctx *c, Module *mod, Func *f, Region *r, int trial) {
  Fuser u0 = {c, mod, f, &c->arena, 0, NULL, NULL, NULL, NULL, {0}, {0}, NULL, NULL};
  Fuser *u = &u0;
  int n = 0, nops = 0;
  for (Node *x = r->first; x; x = x->next)
    n++, nops += x->nin;
  u->cap = f->next_id + nops + 1;
  u->pos = arena_alloc(u->a, sizeof(double) * (size_t)u->cap);
  u->users = arena_alloc(u->a, sizeof(PtrVec) * (size_t)u->cap);
  u->escapes = arena_alloc(u->a, (size_t)u->cap);
  u->grp = arena_alloc(u->a, sizeof(int) * (size_t)u->cap);
  u->stage = arena_alloc(u->a, sizeof(int) * (size_t)u->cap);
  for (int i = 0; i < u->cap; i++)
    u->grp[i] = -1;
  int k = 0;
  for (Node *x = r->first; x; x = x->next) {
    u->pos[x->id] = k++;
    for (int i = 0; i < x->nin; i++)
      add_user(u, x->in[i], x);
    if (x->body)
      nested_users(u, x->body, x);
  }
  for (int i = 0; i < r->nout; i++)
    u->escapes[r->out[i]->id] = 1;
  sink(u, r, n);

  struct NameTab *names = trial ? ir_names_save(c, f) : NULL;
  for (Node *x = r->first; x; x = x->next) {
    if (x->op == OP_FULL || x->op == OP_CONST)
      continue; /* copied into the groups that read them */
    if (op_fusible(x->op))
      join_elementwise(u, x);
    else if (is_reduction(x))
      join_reduction(u, x);
    else if (x->op == OP_RESHAPE)
      join_view(u, x);
  }
  if (trial) { /* copies made: the region grouped again, with them */
    for (int j = u->undo.n - 1; j >= 0; j--) { /* its full/const copies undone */
      Copied *cp = u->undo.v[j];
      cp->n->in[cp->i] = cp->was;
    }
    struct NameTab *after = ir_names_save(c, f);
    ir_names_restore(f, names);
    if (remat(u, r)) {
      Node *last = r->first;
      while (last && last->next)
        last = last->next;
      r->last = last;
      fuse_region(c, mod, f, r, 0);
      return;
    }
    ir_names_restore(f, after);
    for (int j = 0; j < u->undo.n; j++) { /* none: the trial's grouping stands */
      Copied *cp = u->undo.v[j];
      cp->n->in[cp->i] = cp->copy;
    }
  }

  Node **order = arena_alloc(u->a, sizeof(Node *) * (size_t)(n + 1));
  k = 0;
  for (Node *x = r->first; x; x = x->next)
    order[k++] = x;
  /* groups of two or more become fused nodes */
  Node **repl = arena_alloc(u->a, sizeof(Node *) * (size_t)u->cap);
  Built *built = arena_alloc(u->a, sizeof(Built) * (size_t)(u->groups.n + 1));
  int any = 0;
  for (int gi = 0; gi < u->groups.n; gi++) {
    Group *g = u->groups.v[gi];
    int ops = 0; /* views make no code */
    for (int m = 0; m < g->mem.n; m++)
      ops += ((Node *)g->mem.v[m])->op != OP_RESHAPE;
    if (!g->alive || ops < 2) {
      for (int m = 0; m < g->mem.n; m++) /* a lone node stays as it is */
        u->grp[((Node *)g->mem.v[m])->id] = -1;
      continue;
    }
    sort_members(u, g);
    any = 1;
  }
  for (int i = 0; i < n; i++) { /* numbered in schedule order */
    int gi = u->grp[order[i]->id];
    Group *g = gi >= 0 ? u->groups.v[gi] : NULL;
    if (g && g->mem.v[g->mem.n - 1] == order[i])
      built[gi] = build(u, g, gi, r, repl);
  }
  if (!any)
    return;
  /* the new top region: members leave it; each fused node and its gets
   * take the place of the group's last member */
  r->first = r->last = NULL;
  /* a reshape of a member that ran before its group moves after it */
  PtrVec *later = arena_alloc(u->a, sizeof(PtrVec) * (size_t)(u->groups.n + 1));
  int *placed = arena_alloc(u->a, sizeof(int) * (size_t)u->cap); /* 1 + group */
  for (int i = 0; i < n; i++) {
    Node *x = order[i];
    int gi = u->grp[x->id];
    PtrVec seq = {0};
    if (gi < 0) {
      int wait = -1;
      if (x->op == OP_RESHAPE && x->in[0]->id < u->cap) {
        Node *src = x->in[0];
        wait = u->grp[src->id] >= 0 ? u->grp[src->id] : placed[src->id] - 1;
      }
      if (wait >= 0 && !placed[x->id]) {
        Group *g = u->groups.v[wait];
        Node *lastm = g->mem.v[g->mem.n - 1];
        if (u->pos[lastm->id] > u->pos[x->id]) {
          placed[x->id] = wait + 1;
          vec_push(u->a, &later[wait], x);
          continue;
        }
      }
      vec_push(u->a, &seq, x);
    } else {
      Group *g = u->groups.v[gi];
      if (g->mem.v[g->mem.n - 1] != x)
        continue;
      vec_push(u->a, &seq, built[gi].fused);
      for (int j = 0; j < built[gi].gets.n; j++)
        vec_push(u->a, &seq, built[gi].gets.v[j]);
      for (int j = 0; j < later[gi].n; j++)
        vec_push(u->a, &seq, later[gi].v[j]);
    }
    for (int j = 0; j < seq.n; j++)
      append(r, seq.v[j]);
  }
  redirect(u, r, repl, -1);
  for (int gi = 0; gi < u->groups.n; gi++)
    if (built[gi].fused)
      set_operands(u, built[gi].fused);
  /* full/const nodes every reader of which took a copy */
  Node *prev = NULL;
  for (Node *x = r->first; x; x = x->next) {
    if ((x->op == OP_FULL || x->op == OP_CONST) && !used_anywhere(r, x)) {
      ir_unlink(r, prev, x);
      continue;
    }
    prev = x;
  }
  for (int gi = 0; gi < u->groups.n; gi++)
    if (built[gi].fused)
      shape_infer(c, mod, built[gi].fused);
  conv_epilogues(u, r);
  conv_pools(u, r);
}

/* The scans of region r, nested ones included, have their bodies fused. */
static void fuse_scans(Ctx *c, Module *mod, Func *f, Region *r) {
  for (Node *x = r->first; x; x = x->next)
    if (x->op == OP_SCAN) {
      fuse_region(c, mod, f, x->body, 1);
      fuse_scans(c, mod, f, x->body);
    }
}

static void fuse_func(Ctx *c, Module *mod, Func *f) {
  fuse_region(c, mod, f, &f->body, 1);
  fuse_scans(c, mod, f, &f->body);
  ir_func_names(c, f);
}

static int has_fused(const Region *r) {
  for (const Node *x = r->first; x; x = x->next)
    if (x->op == OP_FUSED || (x->op == OP_SCAN && has_fused(x->body)))
      return 1;
  return 0;
}

void pass_fuse(Ctx *c, Module *m) {
  for (int i = 0; i < m->models.n; i++) {
    Model *md = m->models.v[i];
    for (int j = 0; j < md->funcs.n; j++) {
      Func *f = md->funcs.v[j];
      if (!has_fused(&f->body)) /* an IR read back keeps the groups it has */
        fuse_func(c, m, f);
    }
  }
}
