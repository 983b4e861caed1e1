/* ir.c — building the IR (modules, functions, nodes with unique names and
 * inferred types), attribute access, types, and the IR verifier. */
#include <string.h>

#include "nnc.h"

/* ---------------------------------------------------------- name tables */

/* Open-addressing hash map from SSA name to node, one per function. */
typedef struct NameTab {
  int n, cap; /* cap is a power of two */
  const char **key;
  Node **node;
  int *next; /* by the slot of a name in use: the suffix to try next */
} NameTab;

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int name_slot(const NameTab *t, const char *name) {
  int i = (int)(name_hash(name) & (uint32_t)(t->cap - 1));
  while (t->key[i] && strcmp(t->key[i], name))
    i = (i + 1) & (t->cap - 1);
  return i;
}

static void name_grow(Arena *a, NameTab *t) {
  NameTab old = *t;
  t->cap = old.cap ? old.cap * 2 : 64;
  t->key = arena_alloc(a, sizeof *t->key * (size_t)t->cap);
  t->node = arena_alloc(a, sizeof *t->node * (size_t)t->cap);
  t->next = arena_alloc(a, sizeof *t->next * (size_t)t->cap);
  for (int i = 0; i < old.cap; i++)
    if (old.key[i]) {
      int j = name_slot(t, old.key[i]);
      t->key[j] = old.key[i];
      t->node[j] = old.node[i];
      t->next[j] = old.next[i];
    }
}

static Node *name_get(const NameTab *t, const char *name) {
  if (!t || !t->cap)
    return NULL;
  int i = name_slot(t, name);
  return t->key[i] ? t->node[i] : NULL;
}

static void name_put(Arena *a, NameTab *t, const char *name, Node *n) {
  if (2 * (t->n + 1) > t->cap)
    name_grow(a, t);
  int i = name_slot(t, name);
  if (!t->key[i])
    t->n++;
  t->key[i] = name;
  t->node[i] = n;
}

/* Entries of nodes renamed since (n->name = ...) no longer match. */
Node *ir_func_lookup(const Func *f, const char *name) {
  Node *n = name_get(f->names, name);
  return n && n->name && !strcmp(n->name, name) ? n : NULL;
}

/* The requested name if free, else name.1, name.2, ...; tN for none. The
 * base name's slot remembers where the search for a free suffix stopped. */
static const char *unique_name(Arena *a, Func *f, const char *want, int id) {
  const char *base = want ? want : arena_printf(a, "t%d", id);
  if (!name_get(f->names, base))
    return want ? arena_strdup(a, base) : base;
  int at = name_slot(f->names, base);
  for (int k = f->names->next[at] > 0 ? f->names->next[at] : 1;; k++) {
    const char *s = arena_printf(a, "%s.%d", base, k);
    if (!name_get(f->names, s)) {
      f->names->next[name_slot(f->names, base)] = k + 1; /* after a grow too */
      return s;
    }
  }
}

static void names_region(Arena *a, Func *f, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    n->name = unique_name(a, f, n->name, n->id);
    name_put(a, f->names, n->name, n);
    if (n->body)
      names_region(a, f, n->body);
  }
}

/* A copy of f's names in use, to put back with ir_names_restore: names
 * that nodes made in between took become free again (a trial that is
 * undone leaves no gaps in the numbering). */
struct NameTab *ir_names_save(Ctx *c, const Func *f) {
  NameTab *t = arena_alloc(&c->arena, sizeof *t);
  if (!f->names)
    return t;
  *t = *f->names;
  size_t n = (size_t)(t->cap > 0 ? t->cap : 1);
  t->key = arena_alloc(&c->arena, sizeof *t->key * n);
  t->node = arena_alloc(&c->arena, sizeof *t->node * n);
  t->next = arena_alloc(&c->arena, sizeof *t->next * n);
  for (int i = 0; i < f->names->cap; i++)
    t->key[i] = f->names->key[i], t->node[i] = f->names->node[i],
    t->next[i] = f->names->next[i];
  return t;
}

void ir_names_restore(Func *f, struct NameTab *saved) { f->names = saved; }

void ir_func_names(Ctx *c, Func *f) {
  f->names = arena_alloc(&c->arena, sizeof(NameTab));
  names_region(&c->arena, f, &f->body);
}

/* ---------------------------------------------------------- building */

Module *ir_module_new(Ctx *c) { return arena_alloc(&c->arena, sizeof(Module)); }

Func *ir_func_new(Ctx *c, Model *m, const char *name, FuncKind k, SrcLoc loc) {
  Func *f = arena_alloc(&c->arena, sizeof *f);
  f->name = arena_strdup(&c->arena, name);
  f->kind = k;
  f->loc = loc;
  f->names = arena_alloc(&c->arena, sizeof(NameTab));
  if (m)
    vec_push(&c->arena, &m->funcs, f);
  return f;
}

static void attr_copy(Arena *a, Attr *dst, const Attr *src) {
  *dst = *src;
  dst->key = arena_strdup(a, src->key);
  if (src->s)
    dst->s = arena_strdup(a, src->s);
  if (src->ints && src->n > 0) {
    dst->ints = arena_alloc(a, sizeof(int64_t) * (size_t)src->n);
    memcpy(dst->ints, src->ints, sizeof(int64_t) * (size_t)src->n);
  }
  if (src->dims && src->n > 0) {
    dst->dims = arena_alloc(a, sizeof(Dim) * (size_t)src->n);
    memcpy(dst->dims, src->dims, sizeof(Dim) * (size_t)src->n);
  }
}

int ir_swaps_2d(const Node *n) {
  if (n->op != OP_PERMUTE || n->type.rank != 2)
    return 0;
  const Attr *p = ir_attr(n, "perm");
  return p && p->ints[0] == 1 && p->ints[1] == 0;
}

void ir_replace_uses(Region *r, const Node *old, Node *new_) {
  for (Node *x = r->first; x; x = x->next) {
    for (int i = 0; i < x->nin; i++)
      if (x->in[i] == old)
        x->in[i] = new_;
    if (x->body)
      ir_replace_uses(x->body, old, new_);
  }
  for (int i = 0; i < r->nout; i++)
    if (r->out[i] == old)
      r->out[i] = new_;
}

void ir_unlink(Region *r, Node *prev, Node *x) {
  if (prev)
    prev->next = x->next;
  else
    r->first = x->next;
  if (r->last == x)
    r->last = prev;
}

Node *ir_node(Ctx *c, Module *mod, Func *f, Region *r, OpKind op, int nin,
              Node **in, int nattr, const Attr *attr, const char *name,
              SrcLoc loc) {
  Arena *a = &c->arena;
  Node *n = arena_alloc(a, sizeof *n);
  n->op = op;
  n->loc = loc;
  n->nin = nin;
  n->in = arena_alloc(a, sizeof(Node *) * (size_t)(nin > 0 ? nin : 1));
  for (int i = 0; i < nin; i++)
    n->in[i] = in[i];
  n->nattr = nattr;
  n->attr = arena_alloc(a, sizeof(Attr) * (size_t)(nattr > 0 ? nattr : 1));
  for (int i = 0; i < nattr; i++)
    attr_copy(a, &n->attr[i], &attr[i]);
  if (op_has_body(op)) {
    n->body = arena_alloc(a, sizeof(Region));
    n->body->parent = r;
  } else {
    shape_infer(c, mod, n);
  }
  if (!f->names)
    f->names = arena_alloc(a, sizeof(NameTab));
  n->id = f->next_id++;
  n->name = unique_name(a, f, name, n->id);
  name_put(a, f->names, n->name, n);
  if (r->last)
    r->last->next = n;
  else
    r->first = n;
  r->last = n;
  return n;
}

/* ---------------------------------------------------------- attributes */

/* Attribute constructors (arrays are copied into the arena). */
Attr attr_int(const char *k, int64_t v) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_INT;
  a.i = v;
  return a;
}
Attr attr_float(const char *k, double v) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_FLOAT;
  a.f = v;
  return a;
}
Attr attr_str(const char *k, const char *s) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_STR;
  a.s = s;
  return a;
}
Attr attr_dtype(const char *k, DType t) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_DTYPE;
  a.i = t;
  return a;
}
Attr attr_ints(Arena *ar, const char *k, int n, const int64_t *v) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_INTS;
  a.n = n;
  a.ints = arena_alloc(ar, sizeof(int64_t) * (size_t)(n ? n : 1));
  if (n)
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)n);
  return a;
}
Attr attr_dims(Arena *ar, const char *k, int n, const Dim *v) {
  Attr a = {0};
  a.key = k;
  a.kind = AK_DIMS;
  a.n = n;
  a.dims = arena_alloc(ar, sizeof(Dim) * (size_t)(n ? n : 1));
  if (n)
    memcpy(a.dims, v, sizeof(Dim) * (size_t)n);
  return a;
}

const Attr *ir_attr(const Node *n, const char *key) {
  for (int i = 0; i < n->nattr; i++)
    if (!strcmp(n->attr[i].key, key))
      return &n->attr[i];
  return NULL;
}

int64_t ir_attr_int(const Node *n, const char *key, int64_t dflt) {
  const Attr *a = ir_attr(n, key);
  return a && (a->kind == AK_INT || a->kind == AK_DTYPE) ? a->i : dflt;
}

int64_t ir_attr_int2(const Node *n, const char *key, int i, int64_t dflt) {
  const Attr *a = ir_attr(n, key);
  return a && a->n == 2 ? a->ints[i] : dflt;
}

int64_t ir_conv2d_out(const Node *n, int axis) {
  if (n->nin < 2 || n->in[0]->type.rank != 4 || n->in[1]->type.rank != 4)
    return -1;
  Dim h = n->in[0]->type.dim[2 + axis], k = n->in[1]->type.dim[2 + axis];
  if (!dim_is_const(h) || !dim_is_const(k))
    return -1;
  const int64_t s = ir_attr_int2(n, "stride", axis, 1), p = ir_attr_int2(n, "padding", axis, 0),
                d = ir_attr_int2(n, "dilation", axis, 1);
  const int64_t num = dim_value(h) + 2 * p - d * (dim_value(k) - 1) - 1;
  return num < 0 || s < 1 ? -1 : num / s + 1;
}

char *ir_reduced_axes(Arena *a, const Node *n) {
  int r = n->in[0]->type.rank;
  char *m = arena_alloc(a, (size_t)r + 1);
  const Attr *ax = ir_attr(n, "axes");
  if (n->op == OP_ARGMAX)
    m[ir_attr_int(n, "axis", 0)] = 1;
  else if (!ax || !ax->n)
    memset(m, 1, (size_t)r);
  else
    for (int i = 0; i < ax->n; i++)
      m[ax->ints[i]] = 1;
  return m;
}

double ir_attr_float(const Node *n, const char *key, double dflt) {
  const Attr *a = ir_attr(n, key);
  if (a && a->kind == AK_FLOAT)
    return a->f;
  return a && a->kind == AK_INT ? (double)a->i : dflt;
}

ParamDecl *ir_find_param(Model *m, const char *name) {
  for (int i = 0; i < m->params.n; i++) {
    ParamDecl *p = m->params.v[i];
    if (!strcmp(p->name, name))
      return p;
  }
  return NULL;
}

/* ---------------------------------------------------------- types */

int type_row_vector(Type b, Type t) {
  if (b.rank < 1 || b.rank > t.rank || b.dtype != t.dtype ||
      !dim_eq(b.dim[b.rank - 1], t.dim[t.rank - 1]))
    return 0;
  for (int j = 0; j < b.rank - 1; j++)
    if (!dim_is_const(b.dim[j]) || dim_value(b.dim[j]) != 1)
      return 0;
  return 1;
}

int type_eq(Type a, Type b) {
  if (a.dtype != b.dtype || a.rank != b.rank)
    return 0;
  for (int i = 0; i < a.rank; i++)
    if (!dim_eq(a.dim[i], b.dim[i]))
      return 0;
  return 1;
}

void type_print(StrBuf *b, const DimSyms *s, Type t) {
  sb_printf(b, "%s[", dtype_name(t.dtype));
  for (int i = 0; i < t.rank; i++) {
    if (i)
      sb_putc(b, ',');
    dim_print(b, s, t.dim[i]);
  }
  sb_putc(b, ']');
}

int64_t type_numel_const(Type t) {
  int64_t n = 1;
  for (int i = 0; i < t.rank; i++)
    if (!dim_is_const(t.dim[i]) ||
        __builtin_mul_overflow(n, dim_value(t.dim[i]), &n))
      return -1;
  return n;
}

/* ---------------------------------------------------------- verifier */

typedef struct Verify {
  Ctx *c;
  Module *mod;
  Model *model;
  Func *f;
  Node **def;   /* def[id]: the node, while it is visible */
  NameTab seen; /* names met so far */
} Verify;

static const char *vname(const Node *n) { return n->name ? n->name : "?"; }

static const char *vtype(Verify *v, Type t) {
  StrBuf b = {0};
  type_print(&b, &v->mod->syms, t);
  const char *s = arena_strdup(&v->c->arena, b.s);
  sb_free(&b);
  return s;
}

static int visible(Verify *v, const Node *x) {
  return x && x->id >= 0 && x->id < v->f->next_id && v->def[x->id] == x;
}

static void verify_operands(Verify *v, Node *n) {
  int ar = nnc_ops[n->op].arity;
  if (ar >= 0 && n->nin != ar)
    nnc_error(v->c, n->loc,
              "IR verifier: %s: %%%s: %s takes %d operands, got %d", v->f->name,
              vname(n), nnc_ops[n->op].name, ar, n->nin);
  for (int i = 0; i < n->nin; i++)
    if (!visible(v, n->in[i]))
      nnc_error(v->c, n->loc,
                "IR verifier: %s: operand %d of %%%s (%%%s) is not defined "
                "before it in this region or an enclosing one",
                v->f->name, i + 1, vname(n), n->in[i] ? vname(n->in[i]) : "?");
}

static void verify_param(Verify *v, Node *n) {
  const Attr *a = ir_attr(n, "name");
  ParamDecl *p = a && a->kind == AK_STR ? ir_find_param(v->model, a->s) : NULL;
  int buffer = n->op == OP_BUFFER || n->op == OP_UPDATE;
  if (!p || (p->role == PR_BUFFER) != buffer)
    nnc_error(v->c, n->loc,
              "IR verifier: %s: %%%s: model %s has no %s named %s", v->f->name,
              vname(n), v->model->name, buffer ? "buffer" : "param",
              a && a->s ? a->s : "?");
  if (!type_eq(p->type, n->type))
    nnc_error(
        v->c, n->loc, "IR verifier: %s: %%%s has type %s but %s is declared %s",
        v->f->name, vname(n), vtype(v, n->type), p->name, vtype(v, p->type));
}

/* Recomputes the type with the shape rule and compares. */
static void verify_type(Verify *v, Node *n) {
  Node copy = *n;
  shape_infer(v->c, v->mod, &copy);
  int same = 1;
  if (op_has_body(n->op)) {
    same = copy.nresult == n->nresult;
    for (int i = 0; same && i < n->nresult; i++)
      same = type_eq(copy.result[i], n->result[i]);
  } else {
    same = type_eq(copy.type, n->type);
  }
  if (!same)
    nnc_error(v->c, n->loc,
              "IR verifier: %s: %%%s has type %s but its shape rule gives %s",
              v->f->name, vname(n),
              op_has_body(n->op) ? "(its results)" : vtype(v, n->type),
              op_has_body(n->op) ? "other results" : vtype(v, copy.type));
}

static void verify_region(Verify *v, Region *r, int depth);

static void verify_node(Verify *v, Region *r, Node *n, int depth) {
  if (!n->name || name_get(&v->seen, n->name))
    nnc_error(v->c, n->loc, "IR verifier: %s: node name %%%s is %s", v->f->name,
              vname(n), n->name ? "used twice" : "missing");
  name_put(&v->c->arena, &v->seen, n->name, n);
  if (n->id < 0 || n->id >= v->f->next_id || v->def[n->id])
    nnc_error(v->c, n->loc, "IR verifier: %s: %%%s has a bad or repeated id %d",
              v->f->name, vname(n), n->id);
  if ((unsigned)n->op >= OP_COUNT)
    nnc_error(v->c, n->loc, "IR verifier: %s: %%%s has no valid op", v->f->name,
              vname(n));
  verify_operands(v, n);
  int top = r == &v->f->body;
  if ((n->op == OP_INPUT && !top) ||
      ((n->op == OP_SCAN_INDEX || n->op == OP_SCAN_CARRY) && top))
    nnc_error(v->c, n->loc, "IR verifier: %s: %s %%%s is in the wrong region",
              v->f->name, nnc_ops[n->op].name, vname(n));
  if (op_has_body(n->op)) {
    if (!n->body || n->body->parent != r)
      nnc_error(v->c, n->loc, "IR verifier: %s: %s %%%s has no proper body",
                v->f->name, nnc_ops[n->op].name, vname(n));
    verify_region(v, n->body, depth + 1);
  }
  verify_type(v, n);
  if (n->op == OP_PARAM || n->op == OP_BUFFER || n->op == OP_UPDATE)
    verify_param(v, n);
  v->def[n->id] = n;
}

static void verify_region(Verify *v, Region *r, int depth) {
  Node *last = NULL;
  for (Node *n = r->first; n; n = n->next) {
    verify_node(v, r, n, depth);
    last = n;
  }
  if (last != r->last)
    nnc_error(v->c, v->f->loc, "IR verifier: %s: a region's last node is wrong",
              v->f->name);
  for (int i = 0; i < r->nout; i++)
    if (!visible(v, r->out[i]))
      nnc_error(v->c, v->f->loc,
                "IR verifier: %s: %s %d (%%%s) is not defined in its region",
                v->f->name, depth ? "yield" : "result", i + 1,
                r->out[i] ? vname(r->out[i]) : "?");
  if (depth > 0)
    for (Node *n = r->first; n; n = n->next)
      v->def[n->id] = NULL; /* a body's values are not visible outside */
}

static void verify_inputs(Verify *v) {
  for (int i = 0; i < v->f->nin; i++) {
    Node *in = v->f->inputs[i];
    if (!visible(v, in) || in->op != OP_INPUT ||
        ir_attr_int(in, "index", -1) != i)
      nnc_error(v->c, v->f->loc,
                "IR verifier: %s: argument %d is not its input node",
                v->f->name, i + 1);
  }
}

static void verify_func(Ctx *c, Module *m, Model *model, Func *f) {
  Verify v = {c, m, model, f, NULL, {0, 0, NULL, NULL, NULL}};
  v.def = arena_alloc(&c->arena, sizeof(Node *) * (size_t)(f->next_id + 1));
  if (f->body.parent)
    nnc_error(c, f->loc, "IR verifier: %s: the body has a parent region",
              f->name);
  verify_region(&v, &f->body, 0);
  verify_inputs(&v);
  if (!f->names)
    f->names = arena_alloc(&c->arena, sizeof(NameTab));
  *f->names = v.seen; /* names are unique: refresh ir_node's table */
}

void ir_verify(Ctx *c, Module *m) {
  for (int i = 0; i < m->models.n; i++) {
    Model *model = m->models.v[i];
    for (int j = 0; j < model->funcs.n; j++)
      verify_func(c, m, model, model->funcs.v[j]);
  }
}
