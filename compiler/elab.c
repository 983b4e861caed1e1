/* elab.c — elaboration: loads a .nn file with its imports and the standard
 * library, evaluates layers at compile time (constructors, `if`, `for`,
 * sizes), inlines every function call, and builds one IR function per entry
 * point of every model, each node typed and carrying its source location.
 *
 * Needs: parsed files. Produces: a Module whose every node has passed its
 * shape rule; parameters named by their path as PyTorch names them. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elab.h"

#define MAX_INLINE_DEPTH 64
#define MAX_UNROLL 100000

/* ------------------------------------------------------------ values */

Value *val_new(Elab *e, VKind k) {
  Value *v = arena_alloc(&e->c->arena, sizeof *v);
  v->k = k;
  return v;
}
Value *val_int(Elab *e, int64_t x) {
  Value *v = val_new(e, V_INT);
  v->d = dim_const(&e->c->arena, x);
  return v;
}
static Value *val_dim(Elab *e, Dim d) {
  Value *v = val_new(e, V_INT);
  v->d = d;
  return v;
}
Value *val_float(Elab *e, double f) {
  Value *v = val_new(e, V_FLOAT);
  v->f = f;
  return v;
}
Value *val_bool(Elab *e, int b) {
  Value *v = val_new(e, V_BOOL);
  v->b = !!b;
  return v;
}
Value *val_tensor(Elab *e, Node *n) {
  Value *v = val_new(e, V_TENSOR);
  v->t = n;
  return v;
}
static Value *val_str(Elab *e, const char *s) {
  Value *v = val_new(e, V_STR);
  v->s = s;
  return v;
}

const char *val_kind_name(const Value *v) {
  switch (v->k) {
  case V_NONE:
    return "nothing";
  case V_INT:
    return dim_is_const(v->d) ? "an integer" : "a symbolic dimension";
  case V_FLOAT:
    return "a number";
  case V_BOOL:
    return "a bool";
  case V_STR:
    return "a string";
  case V_LIST:
    return "a list";
  case V_TUPLE:
    return "several values";
  case V_TENSOR:
    return "a tensor";
  case V_PARAM:
    return v->pd && v->pd->role == PR_BUFFER ? "a buffer" : "a parameter";
  case V_INST:
    return "a layer instance";
  case V_LAYERDEF:
    return v->def->flag ? "a model" : "a layer";
  case V_FUNC:
    return "a function";
  case V_BUILTIN:
    return "a built-in function";
  case V_DTYPE:
    return "a dtype";
  case V_TYPE:
    return "a tensor type";
  }
  return "a value";
}

int is_number(const Value *v) {
  return v->k == V_FLOAT || (v->k == V_INT && dim_is_const(v->d));
}
int is_tensorish(const Value *v) { return v->k == V_TENSOR || v->k == V_PARAM; }
int dtype_default(Elab *e) {
  (void)e;
  return DT_F32;
}

double num_value(Elab *e, Value *v, SrcLoc loc) {
  if (v->k == V_FLOAT)
    return v->f;
  if (v->k == V_INT && dim_is_const(v->d))
    return (double)dim_value(v->d);
  if (v->k == V_BOOL)
    return v->b;
  nnc_error(e->c, loc, "expected a compile-time number, got %s",
            val_kind_name(v));
}

int64_t int_value(Elab *e, Value *v, SrcLoc loc) {
  if (v->k == V_INT && dim_is_const(v->d))
    return dim_value(v->d);
  if (v->k == V_FLOAT && v->f == floor(v->f) && fabs(v->f) < 9e15)
    return (int64_t)v->f;
  if (v->k == V_FLOAT)
    nnc_error(e->c, loc, "expected an integer, got %g (not a whole number)",
              v->f);
  nnc_error(e->c, loc, "expected a compile-time integer, got %s",
            val_kind_name(v));
}

Dim dim_value_of(Elab *e, Value *v, SrcLoc loc) {
  if (v->k == V_INT)
    return v->d;
  return dim_const(&e->c->arena, int_value(e, v, loc));
}

/* ------------------------------------------------------------ scopes */

static Scope *scope_new(Elab *e, Scope *parent, int frame) {
  Scope *s = arena_alloc(&e->c->arena, sizeof *s);
  s->parent = parent;
  s->frame = frame;
  return s;
}

static Binding *scope_find_here(Scope *s, const char *name) {
  for (Binding *b = s->head; b; b = b->next)
    if (strcmp(b->name, name) == 0)
      return b;
  return NULL;
}

static Value *scope_lookup(Scope *s, const char *name) {
  for (; s; s = s->parent) {
    Binding *b = scope_find_here(s, name);
    if (b)
      return b->v;
  }
  return NULL;
}

static void scope_set(Elab *e, Scope *s, const char *name, Value *v) {
  Binding *b = scope_find_here(s, name);
  if (b) {
    b->v = v;
    return;
  }
  b = arena_alloc(&e->c->arena, sizeof *b);
  b->name = name;
  b->v = v;
  b->next = s->head;
  s->head = b;
}

/* Assignments bind in the nearest frame (function or scan body). */
static void scope_assign(Elab *e, Scope *s, const char *name, Value *v) {
  while (!s->frame && s->parent)
    s = s->parent;
  scope_set(e, s, name, v);
}

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 30 || lb > 30)
    return 99;
  int d[32][32];
  for (int i = 0; i <= la; i++)
    d[i][0] = i;
  for (int j = 0; j <= lb; j++)
    d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int x = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < x)
        x = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < x)
        x = d[i][j - 1] + 1;
      d[i][j] = x;
    }
  return d[la][lb];
}

/* The closest visible name, for "did you mean" hints. */
static const char *suggest(Scope *s, const char *name) {
  const char *best = NULL;
  int len = (int)strlen(name);
  int bestd = len < 3 ? 0 : len <= 5 ? 1 : 2;
  if (bestd == 0)
    return NULL;
  for (; s; s = s->parent)
    for (Binding *b = s->head; b; b = b->next) {
      int d = edit_distance(name, b->name);
      if (d <= bestd && (!best || d < bestd)) {
        best = b->name;
        bestd = d;
      }
    }
  for (int i = 0; builtin_name(i); i++) {
    int d = edit_distance(name, builtin_name(i));
    if (d <= bestd && (!best || d < bestd)) {
      best = builtin_name(i);
      bestd = d;
    }
  }
  return best;
}

/* ------------------------------------------------------------ nodes */

Node *mk(Elab *e, OpKind op, int nin, Node **in, int nattr, const Attr *attr) {
  if (!e->fn)
    nnc_error(e->c, e->loc,
              "tensor operations are only allowed inside a function");
  return ir_node(e->c, e->mod, e->fn, e->region, op, nin, in, nattr, attr, NULL,
                 e->loc);
}
Node *mk1(Elab *e, OpKind op, Node *a) { return mk(e, op, 1, &a, 0, NULL); }
Node *mk2(Elab *e, OpKind op, Node *a, Node *b) {
  Node *in[2] = {a, b};
  return mk(e, op, 2, in, 0, NULL);
}

Node *mk_const(Elab *e, double v, DType dt) {
  Attr at[3] = {attr_float("value", v), attr_dtype("dtype", dt),
                attr_dims(&e->c->arena, "shape", 0, NULL)};
  return mk(e, OP_CONST, 0, NULL, 3, at);
}

Node *mk_cast(Elab *e, Node *x, DType dt) {
  if (x->type.dtype == dt)
    return x;
  Attr at = attr_dtype("dtype", dt);
  return mk(e, OP_CAST, 1, &x, 1, &at);
}

/* Parameters materialise as `param` nodes at the top of the function, so a
 * first use inside a scan body still dominates later uses. */
static Node *param_node(Elab *e, ParamDecl *pd) {
  for (Node *n = e->fn->body.first; n; n = n->next)
    if ((n->op == OP_PARAM || n->op == OP_BUFFER) &&
        strcmp(ir_attr(n, "name")->s, pd->name) == 0)
      return n;
  Attr at[3] = {attr_str("name", pd->name), attr_dtype("dtype", pd->type.dtype),
                attr_dims(&e->c->arena, "shape", pd->type.rank, pd->type.dim)};
  Node *n = ir_node(e->c, e->mod, e->fn, &e->fn->body,
                    pd->role == PR_BUFFER ? OP_BUFFER : OP_PARAM, 0, NULL, 3,
                    at, pd->name, pd->loc);
  return n;
}

Node *to_tensor(Elab *e, Value *v, SrcLoc loc) {
  if (v->k == V_TENSOR)
    return v->t;
  if (v->k == V_PARAM) {
    if (!e->fn)
      nnc_error(e->c, loc, "parameter '%s' used outside a function",
                v->pd->name);
    return param_node(e, v->pd);
  }
  if (is_number(v) || v->k == V_BOOL)
    return to_tensor_dt(e, v,
                        v->k == V_BOOL  ? DT_BOOL
                        : v->k == V_INT ? DT_I32
                                        : dtype_default(e),
                        loc);
  nnc_error(e->c, loc, "expected a tensor, got %s", val_kind_name(v));
}

Node *to_tensor_dt(Elab *e, Value *v, DType dt, SrcLoc loc) {
  if (is_tensorish(v))
    return mk_cast(e, to_tensor(e, v, loc), dt);
  if (v->k == V_INT && !dim_is_const(v->d))
    nnc_error(e->c, loc,
              "a symbolic dimension cannot be used as a tensor value here");
  SrcLoc saved = e->loc;
  e->loc = loc;
  Node *n = mk_const(e, num_value(e, v, loc), dt);
  e->loc = saved;
  return n;
}

/* ------------------------------------------------------- arithmetic */

static int64_t ipow(Elab *e, int64_t b, int64_t x, SrcLoc loc) {
  int64_t r = 1;
  for (int64_t i = 0; i < x; i++)
    if (__builtin_mul_overflow(r, b, &r))
      nnc_error(e->c, loc, "integer overflow in %lld ** %lld", (long long)b,
                (long long)x);
  return r;
}

static Value *int_arith(Elab *e, int op, Value *a, Value *b, SrcLoc loc) {
  Arena *ar = &e->c->arena;
  Dim r;
  int ok = 1;
  int consts = dim_is_const(a->d) && dim_is_const(b->d);
  int64_t x = consts ? dim_value(a->d) : 0, y = consts ? dim_value(b->d) : 0;
  switch (op) {
  case BO_ADD:
    ok = dim_add(ar, a->d, b->d, &r);
    break;
  case BO_SUB:
    ok = dim_sub(ar, a->d, b->d, &r);
    break;
  case BO_MUL:
    ok = dim_mul(ar, a->d, b->d, &r);
    break;
  case BO_DIV:
    if (consts && y == 0)
      nnc_error(e->c, loc, "division by zero");
    if (consts)
      return x % y == 0 ? val_int(e, x / y)
                        : val_float(e, (double)x / (double)y);
    if (dim_div(ar, a->d, b->d, &r))
      return val_dim(e, r);
    nnc_error(e->c, loc, "cannot divide symbolic dimensions exactly here");
  case BO_FLOORDIV:
  case BO_MOD:
    if (!consts)
      nnc_error(e->c, loc, "'%s' needs constant integers", ast_opname(op));
    if (y == 0)
      nnc_error(e->c, loc, "division by zero");
    {
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0)))
        q--, m += y;
      return val_int(e, op == BO_MOD ? m : q);
    }
  case BO_POW:
    if (!dim_is_const(b->d))
      nnc_error(e->c, loc, "exponent must be a constant");
    if (y < 0)
      return val_float(e, pow(num_value(e, a, loc), (double)y));
    if (consts)
      return val_int(e, ipow(e, x, y, loc));
    r = dim_const(ar, 1);
    for (int64_t i = 0; i < y && ok; i++)
      ok = dim_mul(ar, r, a->d, &r);
    break;
  default: {
    if (!consts) {
      if (op == BO_EQ || op == BO_NE) {
        int eq = dim_eq(a->d, b->d);
        return val_bool(e, op == BO_EQ ? eq : !eq);
      }
      nnc_error(e->c, loc, "cannot compare symbolic dimensions with '%s'",
                ast_opname(op));
    }
    int res = op == BO_LT   ? x < y
              : op == BO_LE ? x <= y
              : op == BO_GT ? x > y
              : op == BO_GE ? x >= y
              : op == BO_EQ ? x == y
                            : x != y;
    return val_bool(e, res);
  }
  }
  if (!ok)
    nnc_error(e->c, loc, "integer overflow in '%s'", ast_opname(op));
  return val_dim(e, r);
}

static Value *float_arith(Elab *e, int op, double x, double y, SrcLoc loc) {
  switch (op) {
  case BO_ADD:
    return val_float(e, x + y);
  case BO_SUB:
    return val_float(e, x - y);
  case BO_MUL:
    return val_float(e, x * y);
  case BO_DIV:
    if (y == 0)
      nnc_error(e->c, loc, "division by zero");
    return val_float(e, x / y);
  case BO_FLOORDIV:
    if (y == 0)
      nnc_error(e->c, loc, "division by zero");
    return val_float(e, floor(x / y));
  case BO_MOD:
    if (y == 0)
      nnc_error(e->c, loc, "division by zero");
    return val_float(e, x - floor(x / y) * y);
  case BO_POW:
    return val_float(e, pow(x, y));
  case BO_LT:
    return val_bool(e, x < y);
  case BO_LE:
    return val_bool(e, x <= y);
  case BO_GT:
    return val_bool(e, x > y);
  case BO_GE:
    return val_bool(e, x >= y);
  case BO_EQ:
    return val_bool(e, x == y);
  case BO_NE:
    return val_bool(e, x != y);
  }
  nnc_error(e->c, loc, "'%s' does not apply to numbers", ast_opname(op));
}

static OpKind binop_kind(int op) {
  switch (op) {
  case BO_ADD:
    return OP_ADD;
  case BO_SUB:
    return OP_SUB;
  case BO_MUL:
    return OP_MUL;
  case BO_DIV:
    return OP_DIV;
  case BO_POW:
    return OP_POW;
  case BO_MATMUL:
    return OP_MATMUL;
  case BO_LT:
    return OP_LT;
  case BO_LE:
    return OP_LE;
  case BO_GT:
    return OP_GT;
  case BO_GE:
    return OP_GE;
  case BO_EQ:
    return OP_EQ;
  case BO_NE:
    return OP_NE;
  case BO_AND:
    return OP_AND;
  default:
    return OP_OR;
  }
}

/* Two operands of an elementwise op as tensors of one dtype: numbers take
 * the tensor's dtype, bools take the other operand's, int meets float only
 * through an explicit conversion. */
Node *elementwise2(Elab *e, OpKind op, Value *a, Value *b, SrcLoc loc) {
  Node *x, *y;
  if (!is_tensorish(a) && !is_tensorish(b)) {
    x = to_tensor(e, a, loc);
    y = to_tensor(e, b, loc);
  } else if (!is_tensorish(a) || !is_tensorish(b)) {
    Value *t = is_tensorish(a) ? a : b, *s = is_tensorish(a) ? b : a;
    Node *tn = to_tensor(e, t, loc);
    DType dt = tn->type.dtype;
    if (s->k == V_FLOAT && !dtype_is_float(dt)) {
      dt = dtype_default(e);
      tn = mk_cast(e, tn, dt);
    } else if (s->k == V_INT && dt == DT_BOOL) {
      dt = DT_I32;
      tn = mk_cast(e, tn, dt);
    }
    Node *sn = s->k == V_BOOL && (op == OP_AND || op == OP_OR)
                   ? to_tensor_dt(e, s, DT_BOOL, loc)
                   : to_tensor_dt(e, s, dt, loc);
    x = is_tensorish(a) ? tn : sn;
    y = is_tensorish(a) ? sn : tn;
  } else {
    x = to_tensor(e, a, loc);
    y = to_tensor(e, b, loc);
  }
  DType dx = x->type.dtype, dy = y->type.dtype;
  if (dx != dy) {
    if (dx == DT_BOOL)
      x = mk_cast(e, x, dy);
    else if (dy == DT_BOOL)
      y = mk_cast(e, y, dx);
    else
      nnc_error(e->c, loc,
                "'%s' mixes %s and %s tensors: convert one with float() or "
                "int()",
                nnc_ops[op].name, dtype_name(dx), dtype_name(dy));
  }
  Node *in[2] = {x, y};
  SrcLoc saved = e->loc;
  e->loc = loc;
  Node *n = mk(e, op, 2, in, 0, NULL);
  e->loc = saved;
  return n;
}

Value *binary(Elab *e, int op, Value *a, Value *b, SrcLoc loc) {
  if (is_tensorish(a) || is_tensorish(b)) {
    if (op == BO_FLOORDIV || op == BO_MOD)
      nnc_error(e->c, loc, "'%s' is not defined on tensors", ast_opname(op));
    if (op == BO_MATMUL && (!is_tensorish(a) || !is_tensorish(b)))
      nnc_error(e->c, loc, "'@' needs two tensors, got %s and %s",
                val_kind_name(a), val_kind_name(b));
    return val_tensor(e, elementwise2(e, binop_kind(op), a, b, loc));
  }
  if (op == BO_AND || op == BO_OR) {
    if (a->k != V_BOOL || b->k != V_BOOL)
      nnc_error(e->c, loc, "'%s' needs bools, got %s and %s", ast_opname(op),
                val_kind_name(a), val_kind_name(b));
    return val_bool(e, op == BO_AND ? a->b && b->b : a->b || b->b);
  }
  if (a->k == V_STR && b->k == V_STR) {
    if (op == BO_EQ || op == BO_NE)
      return val_bool(e, (strcmp(a->s, b->s) == 0) == (op == BO_EQ));
    if (op == BO_ADD)
      return val_str(e, arena_printf(&e->c->arena, "%s%s", a->s, b->s));
  }
  if (a->k == V_BOOL && b->k == V_BOOL && (op == BO_EQ || op == BO_NE))
    return val_bool(e, (a->b == b->b) == (op == BO_EQ));
  if (a->k == V_INT && b->k == V_INT)
    return int_arith(e, op, a, b, loc);
  if ((a->k == V_INT || a->k == V_FLOAT) &&
      (b->k == V_INT || b->k == V_FLOAT)) {
    if (op == BO_MATMUL)
      nnc_error(e->c, loc, "'@' needs two tensors");
    return float_arith(e, op, num_value(e, a, loc), num_value(e, b, loc), loc);
  }
  nnc_error(e->c, loc, "'%s' does not apply to %s and %s", ast_opname(op),
            val_kind_name(a), val_kind_name(b));
}

static Value *unary(Elab *e, int op, Value *a, SrcLoc loc) {
  if (op == UO_PLUS)
    return a;
  if (op == UO_NOT) {
    if (a->k == V_BOOL)
      return val_bool(e, !a->b);
    Node *x = to_tensor(e, a, loc);
    if (x->type.dtype != DT_BOOL)
      nnc_error(e->c, loc, "'not' needs a bool tensor, got %s",
                dtype_name(x->type.dtype));
    e->loc = loc;
    return val_tensor(e, mk1(e, OP_NOT, x));
  }
  if (a->k == V_INT) {
    Dim r;
    if (!dim_sub(&e->c->arena, dim_const(&e->c->arena, 0), a->d, &r))
      nnc_error(e->c, loc, "integer overflow");
    return val_dim(e, r);
  }
  if (a->k == V_FLOAT)
    return val_float(e, -a->f);
  Node *x = to_tensor(e, a, loc);
  e->loc = loc;
  return val_tensor(e, mk1(e, OP_NEG, x));
}

/* ------------------------------------------------------- expressions */

static Value *eval_name(Elab *e, Scope *s, Ast *x) {
  Value *v = scope_lookup(s, x->name);
  if (v)
    return v;
  const Builtin *b = builtin_lookup(x->name);
  if (b) {
    v = val_new(e, V_BUILTIN);
    v->builtin = b;
    return v;
  }
  DType dt;
  if (dtype_parse(x->name, &dt)) {
    v = val_new(e, V_DTYPE);
    v->dtype = dt;
    return v;
  }
  const char *hint = suggest(s, x->name);
  if (hint)
    nnc_error(e->c, x->loc, "unknown name '%s' (did you mean '%s'?)", x->name,
              hint);
  nnc_error(e->c, x->loc, "unknown name '%s'", x->name);
}

static Value *eval_list(Elab *e, Scope *s, AstList *l, VKind k) {
  Value *v = val_new(e, k);
  v->n = l->n;
  v->items = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(l->n + 1));
  for (int i = 0; i < l->n; i++)
    v->items[i] = eval(e, s, l->v[i]);
  return v;
}

static Node *tensor_index(Elab *e, Scope *s, Node *x, Ast *ix);

/* dtype[d0, d1] is a tensor type (argument and parameter declarations). */
static Value *make_type(Elab *e, Scope *s, DType dt, Ast *ix) {
  Value *v = val_new(e, V_TYPE);
  v->type.dtype = dt;
  v->type.rank = ix->list.n;
  v->type.dim =
      arena_alloc(&e->c->arena, sizeof(Dim) * (size_t)(ix->list.n + 1));
  for (int i = 0; i < ix->list.n; i++) {
    Ast *d = ix->list.v[i];
    if (d->kind == A_SLICE)
      nnc_error(e->c, d->loc, "a type's dimensions are sizes, not slices");
    v->type.dim[i] = dim_value_of(e, eval(e, s, d), d->loc);
  }
  return v;
}

static Value *eval_index(Elab *e, Scope *s, Ast *x) {
  Value *base = eval(e, s, x->a);
  if (base->k == V_DTYPE)
    return make_type(e, s, base->dtype, x);
  if (base->k == V_LIST || base->k == V_TUPLE) {
    if (x->list.n != 1 || x->list.v[0]->kind == A_SLICE)
      nnc_error(e->c, x->loc, "a list takes one integer index");
    int64_t i = int_value(e, eval(e, s, x->list.v[0]), x->list.v[0]->loc);
    int64_t j = i < 0 ? i + base->n : i;
    if (j < 0 || j >= base->n)
      nnc_error(e->c, x->list.v[0]->loc,
                "index %lld is out of range for a list of %d", (long long)i,
                base->n);
    return base->items[j];
  }
  if (is_tensorish(base))
    return val_tensor(e, tensor_index(e, s, to_tensor(e, base, x->loc), x));
  nnc_error(e->c, x->loc, "%s cannot be indexed", val_kind_name(base));
}

static Value *eval_attr(Elab *e, Scope *s, Ast *x) {
  Value *base = eval(e, s, x->a);
  if (base->k == V_INST) {
    Binding *b = scope_find_here(base->inst->scope, x->name);
    if (!b)
      nnc_error(e->c, x->loc, "layer '%s' (%s) has no member '%s'",
                base->inst->path[0] ? base->inst->path : base->inst->def->name,
                base->inst->def->name, x->name);
    return b->v;
  }
  if (is_tensorish(base)) {
    Node *t = to_tensor(e, base, x->loc);
    if (strcmp(x->name, "T") == 0) {
      if (t->type.rank < 2)
        nnc_error(e->c, x->loc, ".T needs at least 2 dimensions, got %d",
                  t->type.rank);
      int64_t perm[64];
      for (int i = 0; i < t->type.rank; i++)
        perm[i] = i;
      perm[t->type.rank - 1] = t->type.rank - 2;
      perm[t->type.rank - 2] = t->type.rank - 1;
      e->loc = x->loc;
      return val_tensor(e, permute_axes(e, t, perm));
    }
    if (strcmp(x->name, "shape") == 0) {
      Value *l = val_new(e, V_LIST);
      l->n = t->type.rank;
      l->items =
          arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(l->n + 1));
      for (int i = 0; i < l->n; i++)
        l->items[i] = val_dim(e, t->type.dim[i]);
      return l;
    }
    nnc_error(e->c, x->loc,
              "tensors have no attribute '%s' (only .T and .shape)", x->name);
  }
  nnc_error(e->c, x->loc, "%s has no attribute '%s'", val_kind_name(base),
            x->name);
}

static Value *eval_call(Elab *e, Scope *s, Ast *x) {
  Value *f = eval(e, s, x->a);
  if (f->k == V_PARAM || f->k == V_TENSOR || is_number(f)) {
    const char *nm = x->a->kind == A_NAME ? x->a->name : NULL;
    if (nm && builtin_lookup(nm))
      nnc_error(e->c, x->loc,
                "'%s' here is %s, which hides the built-in %s()%s%s", nm,
                val_kind_name(f), nm, f->k == V_PARAM ? " (declared at " : "",
                f->k == V_PARAM ? arena_printf(&e->c->arena, "%s)",
                                               nnc_loc_str(e->c, f->pd->loc))
                                : "");
    nnc_error(e->c, x->loc, "%s cannot be called", val_kind_name(f));
  }
  Args a = {0};
  a.n = x->list.n;
  a.call = x;
  a.name = arena_alloc(&e->c->arena, sizeof(char *) * (size_t)(a.n + 1));
  a.v = arena_alloc(&e->c->arena, sizeof(Value *) * (size_t)(a.n + 1));
  a.ast = arena_alloc(&e->c->arena, sizeof(Ast *) * (size_t)(a.n + 1));
  const char *pending = e->pending_path;
  e->pending_path = NULL;
  for (int i = 0; i < a.n; i++) {
    Ast *arg = x->list.v[i];
    if (!arg->name && i > 0 && a.name[i - 1])
      nnc_error(e->c, arg->loc, "positional argument after a keyword argument");
    for (int j = 0; arg->name && j < i; j++)
      if (a.name[j] && strcmp(a.name[j], arg->name) == 0)
        nnc_error(e->c, arg->loc, "argument '%s' given twice", arg->name);
    a.name[i] = arg->name;
    a.ast[i] = arg->a;
    a.v[i] = eval(e, s, arg->a);
  }
  e->pending_path = pending;
  return call_value(e, f, &a);
}

static Value *eval_cond(Elab *e, Scope *s, Ast *x) {
  Value *c = eval(e, s, x->b);
  if (c->k == V_BOOL)
    return eval(e, s, c->b ? x->a : x->c);
  if (!is_tensorish(c))
    nnc_error(e->c, x->b->loc, "condition must be a bool, got %s",
              val_kind_name(c));
  Value *a = eval(e, s, x->a), *b = eval(e, s, x->c);
  Args args = {0};
  Value *v[3] = {c, a, b};
  Ast *asts[3] = {x->b, x->a, x->c};
  const char *names[3] = {0};
  args.n = 3;
  args.v = v;
  args.ast = asts;
  args.name = names;
  args.call = x;
  Value *w = val_new(e, V_BUILTIN);
  w->builtin = builtin_lookup("where");
  return call_value(e, w, &args);
}

Value *eval(Elab *e, Scope *s, Ast *x) {
  switch (x->kind) {
  case A_INT:
    return val_int(e, x->ival);
  case A_FLOAT:
    return val_float(e, x->fval);
  case A_STR:
    return val_str(e, x->str);
  case A_BOOL:
    return val_bool(e, (int)x->ival);
  case A_TRAINING:
    if (!e->fn)
      nnc_error(e->c, x->loc, "'training' is only known inside a function");
    return val_bool(e, e->training);
  case A_NAME:
    return eval_name(e, s, x);
  case A_LIST:
    return eval_list(e, s, &x->list, V_LIST);
  case A_INDEX:
    return eval_index(e, s, x);
  case A_ATTR:
    return eval_attr(e, s, x);
  case A_CALL:
    return eval_call(e, s, x);
  case A_COND:
    return eval_cond(e, s, x);
  case A_UNOP:
    return unary(e, x->op, eval(e, s, x->a), x->loc);
  case A_BINOP: {
    Value *a = eval(e, s, x->a);
    if ((x->op == BO_AND || x->op == BO_OR) && a->k == V_BOOL &&
        a->b == (x->op == BO_OR))
      return a; /* short circuit on compile-time bools */
    return binary(e, x->op, a, eval(e, s, x->b), x->loc);
  }
  default:
    nnc_error(e->c, x->loc, "this is a statement, not an expression");
  }
}

/* ---------------------------------------------------------- indexing */

static Node *tensor_index(Elab *e, Scope *s, Node *x, Ast *ix) {
  Arena *ar = &e->c->arena;
  int rank = x->type.rank, axis = 0;
  if (ix->list.n > rank)
    nnc_error(e->c, ix->loc, "%d indices for a tensor of rank %d", ix->list.n,
              rank);
  int drop[64] = {0};
  for (int i = 0; i < ix->list.n; i++, axis++) {
    Ast *it = ix->list.v[i];
    Dim dim = x->type.dim[axis];
    if (it->kind != A_SLICE) {
      Value *v = eval(e, s, it);
      e->loc = it->loc;
      if (is_tensorish(v)) {
        Node *idx = to_tensor(e, v, it->loc);
        if (idx->type.dtype != DT_I32)
          nnc_error(e->c, it->loc, "a tensor index must be i32, got %s",
                    dtype_name(idx->type.dtype));
        Attr at = attr_int("axis", axis);
        Node *in[2] = {x, idx};
        x = mk(e, OP_TAKE, 2, in, 1, &at);
        axis += idx->type.rank - 1;
        continue;
      }
      Dim st = dim_value_of(e, v, it->loc), en;
      if (dim_is_const(st) && dim_value(st) < 0)
        dim_add(ar, dim, st, &st);
      if (dim_is_const(st) && dim_is_const(dim) &&
          (dim_value(st) < 0 || dim_value(st) >= dim_value(dim)))
        nnc_error(e->c, it->loc,
                  "index %lld is out of range for dimension %d of size %lld",
                  (long long)int_value(e, v, it->loc), axis,
                  (long long)dim_value(dim));
      dim_add(ar, st, dim_const(ar, 1), &en);
      x = slice_axis(e, x, axis, st, en, 1);
      drop[axis] = 1;
      continue;
    }
    int64_t step = it->c ? int_value(e, eval(e, s, it->c), it->c->loc) : 1;
    if (step <= 0)
      nnc_error(e->c, it->c->loc, "slice step must be positive");
    Dim bounds[2];
    Ast *b[2] = {it->a, it->b};
    for (int k = 0; k < 2; k++) {
      if (!b[k]) {
        bounds[k] = k ? dim : dim_const(ar, 0);
        continue;
      }
      Dim d = dim_value_of(e, eval(e, s, b[k]), b[k]->loc);
      if (dim_is_const(d) && dim_value(d) < 0)
        dim_add(ar, dim, d, &d);
      if (dim_is_const(d) && dim_value(d) < 0)
        d = dim_const(ar, 0);
      if (dim_is_const(d) && dim_is_const(dim) && dim_value(d) > dim_value(dim))
        d = dim;
      bounds[k] = d;
    }
    if (dim_is_const(bounds[0]) && dim_is_const(bounds[1]) &&
        dim_value(bounds[1]) < dim_value(bounds[0]))
      bounds[1] = bounds[0];
    if (step == 1 && dim_is_const(bounds[0]) && dim_value(bounds[0]) == 0 &&
        dim_eq(bounds[1], dim))
      continue;
    e->loc = it->loc;
    x = slice_axis(e, x, axis, bounds[0], bounds[1], step);
  }
  int n = 0;
  Dim dims[64];
  for (int i = 0; i < x->type.rank; i++)
    if (!(i < 64 && drop[i]))
      dims[n++] = x->type.dim[i];
  if (n != x->type.rank) {
    e->loc = ix->loc;
    x = reshape_to(e, x, n, dims);
  }
  return x;
}

/* ------------------------------------------------------------- calls */

static int64_t count_params(Model *m, int from) {
  int64_t total = 0;
  for (int i = from; i < m->params.n; i++) {
    ParamDecl *p = m->params.v[i];
    if (p->role == PR_PARAM)
      total += type_numel_const(p->type);
  }
  return total;
}

/* `f32[B, T]` or `[B, T]` written as an argument type. */
static int is_tensor_type(const Ast *t) {
  DType dt;
  return t->kind == A_LIST || (t->kind == A_INDEX && t->a->kind == A_NAME &&
                               dtype_parse(t->a->name, &dt));
}

/* Checks a tensor argument against its declared type; a dimension name not
 * yet bound takes the argument's dimension, so `fn f(x: f32[B, T, 8])`
 * called from another function binds B and T for its body. */
static void match_type(Elab *e, Scope *s, Ast *p, Value *v, SrcLoc loc,
                       const char *what) {
  Ast *t = p->a;
  if (!is_tensorish(v))
    nnc_error(e->c, loc, "%s: argument '%s' must be a tensor, got %s", what,
              p->name, val_kind_name(v));
  Node *n = to_tensor(e, v, loc);
  AstList *dims = t->kind == A_LIST ? &t->list : &t->list;
  DType dt = DT_F32;
  StrBuf got = {0};
  type_print(&got, &e->mod->syms, n->type);
  const char *gs = arena_strdup(&e->c->arena, got.s);
  sb_free(&got);
  if (t->kind == A_INDEX && dtype_parse(t->a->name, &dt) && dt != n->type.dtype)
    nnc_error(e->c, loc, "%s: argument '%s' must be %s, got %s", what, p->name,
              dtype_name(dt), gs);
  if (dims->n != n->type.rank)
    nnc_error(e->c, loc, "%s: argument '%s' must have %d dimensions, got %s",
              what, p->name, dims->n, gs);
  for (int i = 0; i < dims->n; i++) {
    Ast *d = dims->v[i];
    Dim have = n->type.dim[i];
    if (d->kind == A_NAME && !scope_lookup(s, d->name) &&
        !builtin_lookup(d->name)) {
      scope_set(e, s, d->name, val_dim(e, have));
      continue;
    }
    Dim want = dim_value_of(e, eval(e, s, d), d->loc);
    if (!dim_eq(want, have)) {
      StrBuf w = {0};
      dim_print(&w, &e->mod->syms, want);
      const char *ws = arena_strdup(&e->c->arena, w.s);
      sb_free(&w);
      nnc_error(e->c, loc,
                "%s: dimension %d of argument '%s' must be %s, got %s", what, i,
                p->name, ws, gs);
    }
  }
}

static void bind_params(Elab *e, Scope *callee, AstList *params, Args *a,
                        const char *what) {
  int used[256] = {0};
  if (a->n > 256)
    nnc_error(e->c, a->call->loc, "too many arguments");
  for (int i = 0; i < params->n; i++) {
    Ast *p = params->v[i];
    Value *v = NULL;
    for (int j = 0; j < a->n; j++)
      if ((a->name[j] && strcmp(a->name[j], p->name) == 0) ||
          (!a->name[j] && j == i)) {
        v = a->v[j];
        used[j] = 1;
      }
    if (!v && p->b) /* defaults may use the parameters before them */
      v = eval(e, callee, p->b);
    if (!v)
      nnc_error(e->c, a->call->loc, "%s: missing argument '%s'", what, p->name);
    if (p->a && is_tensor_type(p->a))
      match_type(e, callee, p, v, a->call->loc, what);
    else if (p->a && p->a->kind == A_NAME) {
      const char *t = p->a->name;
      int ok = strcmp(t, "any") == 0 ||
               (strcmp(t, "int") == 0 && v->k == V_INT) ||
               (strcmp(t, "float") == 0 && is_number(v)) ||
               (strcmp(t, "bool") == 0 && v->k == V_BOOL) ||
               (strcmp(t, "str") == 0 && v->k == V_STR) ||
               (strcmp(t, "list") == 0 && v->k == V_LIST) ||
               (strcmp(t, "tensor") == 0 && is_tensorish(v));
      if (strcmp(t, "float") == 0 && v->k == V_INT && ok)
        v = val_float(e, num_value(e, v, p->loc));
      if (!ok && !(strcmp(t, "int") == 0 && v->k == V_LIST))
        nnc_error(e->c, a->call->loc, "%s: argument '%s' must be %s, got %s",
                  what, p->name, t, val_kind_name(v));
    }
    scope_set(e, callee, p->name, v);
  }
  for (int j = 0; j < a->n; j++)
    if (!used[j]) {
      if (a->name[j])
        nnc_error(e->c, a->ast[j]->loc, "%s has no parameter '%s'", what,
                  a->name[j]);
      nnc_error(e->c, a->ast[j]->loc, "%s takes %d argument%s, got %d", what,
                params->n, params->n == 1 ? "" : "s", a->n);
    }
}

static int exec_block(Elab *e, Scope *s, AstList *body);
static void exec_decls(Elab *e, Inst *in, Scope *s, AstList *body);

static void push_frame(Elab *e, SrcLoc call, const char *what) {
  Frame *f = arena_alloc(&e->c->arena, sizeof *f);
  f->call = call;
  f->what = what;
  vec_push(&e->c->arena, &e->frames, f);
}

static int in_library(const SrcFile *f) {
  return f && strncmp(f->name, "stdlib/", 7) == 0;
}

/* An error inside library code is reported at the innermost call from the
 * user's own files, with notes leading down to where it happened. */
static SrcLoc *error_context(Ctx *c, SrcLoc *loc, const char ***notes) {
  Elab *e = c->error_context_data;
  if (!in_library(loc->file))
    return NULL;
  int k = -1;
  for (int i = e->frames.n - 1; i >= 0 && k < 0; i--)
    if (!in_library(((Frame *)e->frames.v[i])->call.file))
      k = i;
  if (k < 0)
    return NULL;
  int n = e->frames.n - k;
  SrcLoc *where = arena_alloc(&c->arena, sizeof(SrcLoc) * (size_t)(n + 1));
  const char **msg = arena_alloc(&c->arena, sizeof(char *) * (size_t)(n + 1));
  for (int i = k + 1, j = 0; i <= e->frames.n; i++, j++) {
    where[j] = i < e->frames.n ? ((Frame *)e->frames.v[i])->call : *loc;
    msg[j] =
        arena_printf(&c->arena, "in %s", ((Frame *)e->frames.v[i - 1])->what);
  }
  *loc = ((Frame *)e->frames.v[k])->call;
  *notes = msg;
  return where;
}

static Value *instantiate(Elab *e, Ast *def, Args *a) {
  if (!e->pending_path)
    nnc_error(e->c, a->call->loc,
              "layer '%s' must be created in a layer body: `name = %s(...)`",
              def->name, def->name);
  if (++e->depth > MAX_INLINE_DEPTH)
    nnc_error(e->c, a->call->loc,
              "layers nested too deeply (is '%s' recursive?)", def->name);
  Inst *in = arena_alloc(&e->c->arena, sizeof *in);
  in->def = def;
  in->path = e->pending_path;
  in->depth = e->inst_depth - 1;
  e->pending_path = NULL;
  e->inst_depth++;
  in->scope = scope_new(e, e->globals, 1);
  push_frame(e, a->call->loc,
             arena_printf(&e->c->arena, "layer %s (%s)", def->name,
                          in->path[0] ? in->path : "the model"));
  bind_params(e, in->scope, &def->list2, a,
              arena_printf(&e->c->arena, "layer %s", def->name));
  int first = e->model->params.n;
  exec_decls(e, in, in->scope, &def->list);
  in->nparams = count_params(e->model, first);
  e->frames.n--;
  e->inst_depth--;
  e->depth--;
  Value *v = val_new(e, V_INST);
  v->inst = in;
  return v;
}

static Value *run_function(Elab *e, Ast *fn, Inst *self, Args *a) {
  if (fn->flag)
    nnc_error(e->c, a->call->loc,
              "'%s' is a training entry point and cannot be called", fn->name);
  if (++e->depth > MAX_INLINE_DEPTH)
    nnc_error(e->c, a->call->loc,
              "calls nested too deeply (does '%s' call itself?)", fn->name);
  Scope *defs = self ? self->scope : e->globals;
  Scope *s = scope_new(e, defs, 1);
  push_frame(e, a->call->loc,
             self ? arena_printf(&e->c->arena, "%s.%s (%s)", self->def->name,
                                 fn->name,
                                 self->path[0] ? self->path : "the model")
                  : arena_printf(&e->c->arena, "function %s", fn->name));
  bind_params(e, s, &fn->list2, a,
              arena_printf(&e->c->arena, "function %s", fn->name));
  Value *saved_ret = e->ret;
  ScanCtx *saved_scan = e->scan;
  e->ret = NULL;
  e->scan = NULL;
  exec_block(e, s, &fn->list);
  Value *r = e->ret ? e->ret : val_new(e, V_NONE);
  e->ret = saved_ret;
  e->scan = saved_scan;
  e->returned = 0;
  e->depth--;
  e->frames.n--;
  return r;
}

/* A summary row for the first call of each layer instance, listed before
 * the rows of the layers it calls; its output type is filled in after. */
static LayerRow *record_layer(Elab *e, Inst *in) {
  if (!e->record_layers || in->recorded || !in->path[0])
    return NULL;
  in->recorded = 1;
  LayerRow *row = arena_alloc(&e->c->arena, sizeof *row);
  row->path = in->path;
  row->type = in->def->name;
  row->nparams = in->nparams;
  row->depth = in->depth;
  row->out.rank = -1;
  vec_push(&e->c->arena, &e->model->layers, row);
  return row;
}

Value *call_value(Elab *e, Value *f, Args *a) {
  SrcLoc loc = a->call->loc;
  switch (f->k) {
  case V_BUILTIN: {
    e->loc = loc;
    Value *r = f->builtin->fn(e, a);
    return r;
  }
  case V_LAYERDEF:
    return instantiate(e, f->def, a);
  case V_FUNC:
    return run_function(e, f->def, f->inst, a);
  case V_INST: {
    Binding *b = scope_find_here(f->inst->scope, "forward");
    if (!b || b->v->k != V_FUNC)
      nnc_error(e->c, loc, "layer %s has no forward function",
                f->inst->def->name);
    LayerRow *row = record_layer(e, f->inst);
    Value *r = run_function(e, b->v->def, f->inst, a);
    if (row) {
      Value *first = r->k == V_TUPLE && r->n ? r->items[0] : r;
      if (first->k == V_TENSOR)
        row->out = first->t->type;
    }
    return r;
  }
  default:
    nnc_error(e->c, loc, "%s cannot be called", val_kind_name(f));
  }
}

/* ------------------------------------------------------ declarations */

static const char *member_name(Elab *e, Scope *s, Ast *target) {
  if (!target->a)
    return target->name;
  int64_t i = int_value(e, eval(e, s, target->a), target->a->loc);
  return arena_printf(&e->c->arena, "%s.%lld", target->name, (long long)i);
}

/* "weight_ih_l{k}{suffix}": interpolates compile-time names. */
static const char *interpolate(Elab *e, Scope *s, Ast *where, const char *str) {
  StrBuf b = {0};
  sb_printf(&b, "%s", "");
  for (const char *p = str; *p; p++) {
    if (*p != '{') {
      sb_putc(&b, *p);
      continue;
    }
    const char *end = strchr(p, '}');
    if (!end) {
      sb_free(&b);
      nnc_error(e->c, where->loc, "unclosed '{' in name \"%s\"", str);
    }
    char *id = arena_strndup(&e->c->arena, p + 1, (size_t)(end - p - 1));
    Value *v = scope_lookup(s, id);
    if (!v) {
      sb_free(&b);
      nnc_error(e->c, where->loc, "unknown name '%s' in \"%s\"", id, str);
    }
    if (v->k == V_INT && dim_is_const(v->d))
      sb_printf(&b, "%lld", (long long)dim_value(v->d));
    else if (v->k == V_STR)
      sb_printf(&b, "%s", v->s);
    else {
      sb_free(&b);
      nnc_error(e->c, where->loc,
                "'%s' in \"%s\" must be an integer or a string", id, str);
    }
    p = end;
  }
  char *r = arena_strdup(&e->c->arena, b.s);
  sb_free(&b);
  return r;
}

static void decl_param(Elab *e, Inst *in, Scope *s, Ast *x) {
  Value *shape = eval(e, s, x->b);
  Type t = {0};
  if (shape->k == V_TYPE)
    t = shape->type;
  else if (shape->k == V_LIST) {
    Dim *dims;
    t.dtype = (DType)dtype_default(e);
    t.rank = value_dims(e, shape, x->b->loc, &dims);
    t.dim = dims;
  } else
    nnc_error(e->c, x->b->loc, "expected a shape like [out, in], got %s",
              val_kind_name(shape));
  for (int i = 0; i < t.rank; i++) {
    if (!dim_is_const(t.dim[i]))
      nnc_error(e->c, x->b->loc,
                "parameter shapes must be constant (dimension %d is symbolic)",
                i);
    if (dim_value(t.dim[i]) < 1)
      nnc_error(
          e->c, x->b->loc,
          "dimension %d of parameter '%s' is %lld; sizes must be at least 1", i,
          x->name, (long long)dim_value(t.dim[i]));
  }
  const char *member =
      x->a ? member_name(e, s, &(Ast){.name = x->name, .a = x->a}) : x->name;
  const char *local = x->str ? interpolate(e, s, x, x->str) : member;
  const char *full = in->path[0]
                         ? arena_printf(&e->c->arena, "%s.%s", in->path, local)
                         : local;
  if (ir_find_param(e->model, full))
    nnc_error(e->c, x->loc, "parameter '%s' is declared twice", full);
  ParamDecl *pd = arena_alloc(&e->c->arena, sizeof *pd);
  pd->name = full;
  pd->role = x->flag ? PR_BUFFER : PR_PARAM;
  pd->type = t;
  pd->layer = in->path;
  pd->layer_type = in->def->name;
  pd->loc = x->loc;
  pd->init = elab_init(e, s, x->c, t, x->loc);
  vec_push(&e->c->arena, &e->model->params, pd);
  Value *v = val_new(e, V_PARAM);
  v->pd = pd;
  if (x->a) { /* element of a parameter list: member `name` is a list */
    Value *l = scope_lookup(in->scope, x->name);
    int64_t i = int_value(e, eval(e, s, x->a), x->a->loc);
    if (!l || l->k != V_LIST) {
      l = val_new(e, V_LIST);
      scope_set(e, in->scope, x->name, l);
    }
    if (i != l->n)
      nnc_error(e->c, x->a->loc,
                "'%s[%lld]' declared out of order (next index is %d)", x->name,
                (long long)i, l->n);
    l->items =
        arena_grow(&e->c->arena, l->items, sizeof(Value *) * (size_t)l->n,
                   sizeof(Value *) * (size_t)(l->n + 1));
    l->items[l->n++] = v;
  } else
    scope_set(e, in->scope, x->name, v);
}

static void decl_assign(Elab *e, Inst *in, Scope *s, Ast *x) {
  if (x->list.n != 1)
    nnc_error(e->c, x->loc, "a layer body assigns one name at a time");
  Ast *t = x->list.v[0];
  const char *local = member_name(e, s, t);
  e->pending_path = in->path[0]
                        ? arena_printf(&e->c->arena, "%s.%s", in->path, local)
                        : local;
  Value *v = eval(e, s, x->a);
  e->pending_path = NULL;
  if (!t->a) {
    scope_set(e, in->scope, t->name, v);
    return;
  }
  Value *l = scope_lookup(in->scope, t->name);
  int64_t i = int_value(e, eval(e, s, t->a), t->a->loc);
  if (!l || l->k != V_LIST || scope_find_here(in->scope, t->name) == NULL) {
    l = val_new(e, V_LIST);
    scope_set(e, in->scope, t->name, l);
  }
  if (i != l->n)
    nnc_error(e->c, t->a->loc,
              "'%s[%lld]' assigned out of order (next index is %d)", t->name,
              (long long)i, l->n);
  l->items = arena_grow(&e->c->arena, l->items, sizeof(Value *) * (size_t)l->n,
                        sizeof(Value *) * (size_t)(l->n + 1));
  l->items[l->n++] = v;
}

static int cond_value(Elab *e, Scope *s, Ast *c) {
  Value *v = eval(e, s, c);
  if (v->k == V_BOOL)
    return v->b;
  if (v->k == V_PARAM)
    return 1;
  nnc_error(
      e->c, c->loc,
      "an 'if' condition must be known at compile time (a bool), got %s%s",
      val_kind_name(v),
      v->k == V_TENSOR ? "; use where(cond, a, b) for tensors" : "");
}

/* Iterates `for name in a..b` or `for name in list`, calling fn per step. */
typedef void (*ForBody)(Elab *e, void *ctx, Scope *s, AstList *body);
static void run_for(Elab *e, Scope *s, Ast *x, ForBody fn, void *ctx) {
  if (x->b) {
    int64_t from = int_value(e, eval(e, s, x->a), x->a->loc);
    int64_t to = int_value(e, eval(e, s, x->b), x->b->loc);
    if (to - from > MAX_UNROLL)
      nnc_error(e->c, x->loc,
                "loop of %lld steps is too long to unroll (use scan)",
                (long long)(to - from));
    for (int64_t i = from; i < to && !e->returned; i++) {
      scope_assign(e, s, x->name, val_int(e, i));
      fn(e, ctx, s, &x->list);
    }
    return;
  }
  Value *l = eval(e, s, x->a);
  if (l->k != V_LIST)
    nnc_error(e->c, x->a->loc, "'for' needs a range a..b or a list, got %s",
              val_kind_name(l));
  for (int i = 0; i < l->n && !e->returned; i++) {
    scope_assign(e, s, x->name, l->items[i]);
    fn(e, ctx, s, &x->list);
  }
}

static void decls_cb(Elab *e, void *ctx, Scope *s, AstList *body) {
  exec_decls(e, ctx, s, body);
}

static void exec_decls(Elab *e, Inst *in, Scope *s, AstList *body) {
  for (int i = 0; i < body->n; i++) {
    Ast *x = body->v[i];
    switch (x->kind) {
    case A_PARAMDECL:
      decl_param(e, in, s, x);
      break;
    case A_ASSIGN:
      decl_assign(e, in, s, x);
      break;
    case A_IF:
      exec_decls(e, in, s, cond_value(e, s, x->a) ? &x->list : &x->list2);
      break;
    case A_FOR:
      run_for(e, s, x, decls_cb, in);
      break;
    case A_FN: {
      Value *v = val_new(e, V_FUNC);
      v->def = x;
      v->inst = in;
      if (scope_find_here(in->scope, x->name) &&
          scope_find_here(in->scope, x->name)->v->k == V_FUNC)
        nnc_error(e->c, x->loc, "function '%s' is defined twice in %s", x->name,
                  in->def->name);
      scope_set(e, in->scope, x->name, v);
      break;
    }
    default:
      nnc_error(e->c, x->loc, "this statement is not allowed in a %s body",
                in->def->flag ? "model" : "layer");
    }
  }
}

/* -------------------------------------------------------- statements */

static void name_result(Elab *e, Value *v, const char *name, int first_id) {
  (void)e;
  if (v->k == V_TENSOR && v->t->id >= first_id && v->t->op != OP_PARAM &&
      v->t->op != OP_BUFFER && v->t->op != OP_INPUT)
    v->t->name = name;
}

static void exec_assign(Elab *e, Scope *s, Ast *x) {
  int first_id = e->fn ? e->fn->next_id : 0;
  Value *v = eval(e, s, x->a);
  if (x->list.n == 1) {
    if (x->list.v[0]->a)
      nnc_error(e->c, x->list.v[0]->loc,
                "indexed assignment is only for layer members");
    if (v->k == V_TUPLE)
      nnc_error(e->c, x->loc, "this gives %d values; unpack them with %d names",
                v->n, v->n);
    name_result(e, v, x->list.v[0]->name, first_id);
    scope_assign(e, s, x->list.v[0]->name, v);
    return;
  }
  if (v->k != V_TUPLE && v->k != V_LIST)
    nnc_error(e->c, x->loc, "cannot unpack %s into %d names", val_kind_name(v),
              x->list.n);
  if (v->n != x->list.n)
    nnc_error(e->c, x->loc, "this gives %d values but %d names are given", v->n,
              x->list.n);
  for (int i = 0; i < v->n; i++) {
    name_result(e, v->items[i], x->list.v[i]->name, first_id);
    scope_assign(e, s, x->list.v[i]->name, v->items[i]);
  }
}

static void exec_return(Elab *e, Scope *s, Ast *x) {
  if (e->scan)
    nnc_error(e->c, x->loc, "'return' inside a scan body (use yield)");
  if (x->list.n == 1)
    e->ret = eval(e, s, x->list.v[0]);
  else
    e->ret = eval_list(e, s, &x->list, V_TUPLE);
  e->returned = 1;
}

static void exec_update(Elab *e, Scope *s, Ast *x) {
  Value *b = scope_lookup(s, x->name);
  if (!b || b->k != V_PARAM || b->pd->role != PR_BUFFER)
    nnc_error(e->c, x->loc, "'update' needs a buffer, and '%s' is %s", x->name,
              b ? val_kind_name(b) : "not defined");
  if (!e->training)
    nnc_error(e->c, x->loc,
              "buffer '%s' can only be updated in a train entry "
              "(test `if training`)",
              b->pd->name);
  Value *v = eval(e, s, x->a);
  Node *n = to_tensor_dt(e, v, b->pd->type.dtype, x->a->loc);
  if (!type_eq(n->type, b->pd->type)) {
    StrBuf x1 = {0}, x2 = {0};
    type_print(&x1, &e->mod->syms, n->type);
    type_print(&x2, &e->mod->syms, b->pd->type);
    char *m =
        arena_printf(&e->c->arena,
                     "update of buffer '%s' of type %s with a value of type %s",
                     b->pd->name, x2.s, x1.s);
    sb_free(&x1);
    sb_free(&x2);
    nnc_error(e->c, x->loc, "%s", m);
  }
  for (int i = 0; i < e->updates.n; i++) {
    Node *u = e->updates.v[i];
    if (strcmp(ir_attr(u, "name")->s, b->pd->name) == 0)
      nnc_error(e->c, x->loc,
                "buffer '%s' is already updated in this step (at %s); "
                "a layer with running statistics runs once per train step",
                b->pd->name, nnc_loc_str(e->c, u->loc));
  }
  Attr at = attr_str("name", b->pd->name);
  e->loc = x->loc;
  vec_push(&e->c->arena, &e->updates, mk(e, OP_UPDATE, 1, &n, 1, &at));
}

static void exec_minimize(Elab *e, Scope *s, Ast *x) {
  if (!e->fn || e->fn->kind != FN_TRAIN)
    nnc_error(e->c, x->loc, "'minimize' belongs in a train entry point");
  if (e->scan)
    nnc_error(e->c, x->loc, "'minimize' inside a scan body");
  if (e->nminimize++)
    nnc_error(e->c, x->loc, "a train entry point has one 'minimize'");
  Node *loss = to_tensor(e, eval(e, s, x->a), x->a->loc);
  Attr at[16];
  int n = 0;
  const char *opt = "sgd";
  Ast *call = x->b;
  if (call) {
    if (call->kind != A_CALL || call->a->kind != A_NAME)
      nnc_error(e->c, call->loc, "expected an optimizer like adam(lr = 1e-3)");
    opt = call->a->name;
    static const char *const known[][8] = {
        {"sgd", "lr", "momentum", "dampening", "weight_decay", "nesterov", 0},
        {"adam", "lr", "beta1", "beta2", "eps", "weight_decay", 0},
        {"adamw", "lr", "beta1", "beta2", "eps", "weight_decay", 0}};
    int k = -1;
    for (int i = 0; i < 3; i++)
      if (strcmp(known[i][0], opt) == 0)
        k = i;
    if (k < 0)
      nnc_error(e->c, call->a->loc,
                "unknown optimizer '%s' (sgd, adam or adamw)", opt);
    at[n++] = attr_str("optimizer", opt);
    int has_lr = 0;
    for (int i = 0; i < call->list.n; i++) {
      Ast *arg = call->list.v[i];
      const char *key = arg->name ? arg->name : (i == 0 ? "lr" : NULL);
      if (!key)
        nnc_error(e->c, arg->loc,
                  "optimizer settings after lr are given by name");
      int ok = 0;
      for (int j = 1; known[k][j]; j++)
        ok |= strcmp(known[k][j], key) == 0;
      if (!ok)
        nnc_error(e->c, arg->loc, "%s has no setting '%s'", opt, key);
      for (int j = 1; j < n; j++)
        if (strcmp(at[j].key, key) == 0)
          nnc_error(e->c, arg->loc, "setting '%s' given twice", key);
      double v = num_value(e, eval(e, s, arg->a), arg->a->loc);
      if (v < 0 || (strcmp(key, "lr") == 0 && v == 0))
        nnc_error(e->c, arg->a->loc, "%s must be %s", key,
                  strcmp(key, "lr") == 0 ? "positive" : "at least 0");
      has_lr |= strcmp(key, "lr") == 0;
      at[n++] = attr_float(key, v);
    }
    if (!has_lr)
      nnc_error(e->c, call->loc, "%s needs a learning rate: %s(lr = ...)", opt,
                opt);
  } else
    nnc_error(
        e->c, x->loc,
        "minimize needs an optimizer: minimize loss with adam(lr = 1e-3)");
  if (x->list.n) {
    StrBuf b = {0};
    for (int i = 0; i < x->list.n; i++) {
      Value *v = eval(e, s, x->list.v[i]);
      if (v->k != V_INST) {
        sb_free(&b);
        nnc_error(e->c, x->list.v[i]->loc,
                  "'over' lists sub-layers, and '%s' is %s", x->list.v[i]->name,
                  val_kind_name(v));
      }
      sb_printf(&b, "%s%s", i ? "," : "", v->inst->path);
    }
    at[n++] = attr_str("over", arena_strdup(&e->c->arena, b.s));
    sb_free(&b);
  }
  e->loc = x->loc;
  mk(e, OP_MINIMIZE, 1, &loss, n, at);
}

static void exec_scan(Elab *e, Scope *s, Ast *x);

static void exec_yield(Elab *e, Scope *s, Ast *x) {
  if (!e->scan)
    nnc_error(e->c, x->loc, "'yield' outside a scan body");
  Value *v = eval(e, s, x->a);
  vec_push(&e->c->arena, &e->scan->yields, to_tensor(e, v, x->a->loc));
  vec_push(&e->c->arena, &e->scan->axes, x->b);
  vec_push(&e->c->arena, &e->scan->yield_asts, x);
}

static void block_cb(Elab *e, void *ctx, Scope *s, AstList *body) {
  (void)ctx;
  exec_block(e, s, body);
}

/* Returns 1 once a `return` has run. */
static int exec_block(Elab *e, Scope *s, AstList *body) {
  for (int i = 0; i < body->n && !e->returned; i++) {
    Ast *x = body->v[i];
    switch (x->kind) {
    case A_ASSIGN:
      exec_assign(e, s, x);
      break;
    case A_RETURN:
      exec_return(e, s, x);
      break;
    case A_IF:
      exec_block(e, s, cond_value(e, s, x->a) ? &x->list : &x->list2);
      break;
    case A_FOR:
      run_for(e, s, x, block_cb, NULL);
      break;
    case A_UPDATE:
      exec_update(e, s, x);
      break;
    case A_MINIMIZE:
      exec_minimize(e, s, x);
      break;
    case A_SCAN:
      exec_scan(e, s, x);
      break;
    case A_YIELD:
      exec_yield(e, s, x);
      break;
    case A_PARAMDECL:
      nnc_error(e->c, x->loc,
                "parameters are declared in a layer body, not in a function");
    case A_FN:
    case A_LAYER:
      nnc_error(e->c, x->loc, "'%s' cannot be defined inside a function",
                x->name);
    default:
      nnc_error(e->c, x->loc, "this statement is not allowed in a function");
    }
  }
  return e->returned;
}

static void exec_scan(Elab *e, Scope *s, Ast *x) {
  Arena *ar = &e->c->arena;
  Dim from = dim_value_of(e, eval(e, s, x->a), x->a->loc);
  Dim to = dim_value_of(e, eval(e, s, x->b), x->b->loc), steps;
  if (!dim_sub(ar, to, from, &steps))
    nnc_error(e->c, x->loc, "integer overflow in the scan range");
  if (dim_is_const(steps) && dim_value(steps) < 1)
    nnc_error(e->c, x->loc, "scan over %lld steps; it needs at least one",
              (long long)dim_value(steps));
  int reverse = x->flag;
  AstList targets = x->list2;
  if (x->str) { /* `reverse(cond)` after the range: the condition is last */
    reverse = cond_value(e, s, targets.v[--targets.n]);
  }
  int ncarry = x->c ? x->c->list.n : 0;
  Node **init = arena_alloc(ar, sizeof(Node *) * (size_t)(ncarry + 1));
  for (int i = 0; i < ncarry; i++)
    init[i] =
        to_tensor(e, eval(e, s, x->c->list.v[i]->a), x->c->list.v[i]->a->loc);
  Region *body = arena_alloc(ar, sizeof *body);
  body->parent = e->region;
  Region *saved_region = e->region;
  ScanCtx *saved_scan = e->scan, sc = {0};
  Scope *bs = scope_new(e, s, 1);
  e->region = body;
  e->scan = &sc;
  e->loc = x->loc;
  Node *idx = mk(e, OP_SCAN_INDEX, 0, NULL, 0, NULL);
  idx->name = x->name;
  scope_set(e, bs, x->name, val_tensor(e, idx));
  for (int i = 0; i < ncarry; i++) {
    Attr at[3] = {attr_int("index", i),
                  attr_dtype("dtype", init[i]->type.dtype),
                  attr_dims(&e->c->arena, "shape", init[i]->type.rank,
                            init[i]->type.dim)};
    e->loc = x->c->list.v[i]->loc;
    Node *cn = mk(e, OP_SCAN_CARRY, 0, NULL, 3, at);
    cn->name = x->c->list.v[i]->name;
    scope_set(e, bs, x->c->list.v[i]->name, val_tensor(e, cn));
  }
  exec_block(e, bs, &x->list);
  int ny = sc.yields.n;
  body->nout = ncarry + ny;
  body->out = arena_alloc(ar, sizeof(Node *) * (size_t)(body->nout + 1));
  int64_t *axes = arena_alloc(ar, sizeof(int64_t) * (size_t)(ny + 1));
  for (int i = 0; i < ncarry; i++) {
    Ast *cv = x->c->list.v[i];
    Node *nv = to_tensor(e, scope_lookup(bs, cv->name), cv->loc);
    if (!type_eq(nv->type, init[i]->type)) {
      StrBuf a1 = {0}, a2 = {0};
      type_print(&a1, &e->mod->syms, init[i]->type);
      type_print(&a2, &e->mod->syms, nv->type);
      char *m =
          arena_printf(ar, "carried '%s' starts as %s but the body makes it %s",
                       cv->name, a1.s, a2.s);
      sb_free(&a1);
      sb_free(&a2);
      nnc_error(e->c, cv->loc, "%s", m);
    }
    body->out[i] = nv;
  }
  for (int i = 0; i < ny; i++) {
    Node *y = sc.yields.v[i];
    Ast *ax = sc.axes.v[i];
    int64_t a = ax ? int_value(e, eval(e, bs, ax), ax->loc) : 0;
    if (a < 0)
      a += y->type.rank + 1;
    if (a < 0 || a > y->type.rank)
      nnc_error(e->c, ax->loc,
                "axis %lld is out of range for stacking a rank-%d value",
                (long long)a, y->type.rank);
    axes[i] = a;
    body->out[ncarry + i] = y;
  }
  e->region = saved_region;
  e->scan = saved_scan;
  Attr at[5] = {attr_dims(&e->c->arena, "start", 1, &from),
                attr_dims(&e->c->arena, "steps", 1, &steps),
                attr_int("reverse", reverse), attr_int("ncarry", ncarry),
                attr_ints(&e->c->arena, "axes", ny, axes)};
  e->loc = x->loc;
  Node *scan = ir_node(e->c, e->mod, e->fn, e->region, OP_SCAN, ncarry, init, 5,
                       at, NULL, x->loc);
  scan->body = body;
  shape_infer(e->c, e->mod, scan);
  int nres = ny + ncarry;
  if (targets.n != nres)
    nnc_error(e->c, x->loc,
              "this scan gives %d values (%d yielded, %d carried) but %d names "
              "are given",
              nres, ny, ncarry, targets.n);
  for (int i = 0; i < nres; i++) {
    Attr g = attr_int("index", i);
    Node *r = mk(e, OP_GET, 1, &scan, 1, &g);
    r->name = targets.v[i]->name;
    scope_assign(e, s, targets.v[i]->name, val_tensor(e, r));
  }
}

/* ------------------------------------------------------ entry points */

/* Reads an argument type `f32[B, 784]`; unknown names become symbols. */
static Type arg_type(Elab *e, Scope *s, Ast *t) {
  Type ty = {0};
  AstList *dims;
  ty.dtype = (DType)dtype_default(e);
  if (t->kind == A_INDEX && t->a->kind == A_NAME) {
    DType dt;
    if (!dtype_parse(t->a->name, &dt))
      nnc_error(e->c, t->a->loc, "unknown dtype '%s' (f32, f64, i32 or bool)",
                t->a->name);
    ty.dtype = dt;
    dims = &t->list;
  } else if (t->kind == A_LIST)
    dims = &t->list;
  else if (t->kind == A_NAME && dtype_parse(t->name, &ty.dtype))
    return ty;
  else
    nnc_error(e->c, t->loc, "expected a tensor type like f32[B, 784]");
  ty.rank = dims->n;
  ty.dim = arena_alloc(&e->c->arena, sizeof(Dim) * (size_t)(dims->n + 1));
  for (int i = 0; i < dims->n; i++) {
    Ast *d = dims->v[i];
    if (d->kind == A_NAME && !scope_lookup(s, d->name) &&
        !builtin_lookup(d->name)) {
      ty.dim[i] =
          dim_var(&e->c->arena, dim_sym(&e->c->arena, &e->mod->syms, d->name));
      scope_set(e, s, d->name, val_dim(e, ty.dim[i])); /* usable in the body */
      continue;
    }
    if (d->kind == A_SLICE)
      nnc_error(e->c, d->loc, "expected a dimension");
    Value *v = eval(e, s, d);
    ty.dim[i] = dim_value_of(e, v, d->loc);
    if (dim_is_const(ty.dim[i]) && dim_value(ty.dim[i]) < 1)
      nnc_error(e->c, d->loc, "dimension must be at least 1");
  }
  return ty;
}

static int all_typed(Ast *fn) {
  for (int i = 0; i < fn->list2.n; i++)
    if (!fn->list2.v[i]->a)
      return 0;
  return 1;
}

static void build_entry(Elab *e, Inst *root, Ast *fn) {
  FuncKind kind = fn->flag ? FN_TRAIN : FN_INFER;
  Func *f = ir_func_new(e->c, e->model, fn->name, kind, fn->loc);
  e->fn = f;
  e->region = &f->body;
  e->training = kind == FN_TRAIN;
  e->nminimize = 0;
  e->updates.n = 0;
  e->ret = NULL;
  e->returned = 0;
  Scope *s = scope_new(e, root->scope, 1);
  f->nin = fn->list2.n;
  f->inputs = arena_alloc(&e->c->arena, sizeof(Node *) * (size_t)(f->nin + 1));
  for (int i = 0; i < fn->list2.n; i++) {
    Ast *p = fn->list2.v[i];
    if (!p->a)
      nnc_error(
          e->c, p->loc,
          "argument '%s' of entry point '%s' needs a type like f32[B, 784]",
          p->name, fn->name);
    Type t = arg_type(e, s, p->a);
    for (int j = 0; j < i; j++)
      if (strcmp(fn->list2.v[j]->name, p->name) == 0)
        nnc_error(e->c, p->loc, "argument '%s' given twice", p->name);
    Attr at[4] = {attr_str("name", p->name), attr_int("index", i),
                  attr_dtype("dtype", t.dtype),
                  attr_dims(&e->c->arena, "shape", t.rank, t.dim)};
    Node *n = ir_node(e->c, e->mod, f, &f->body, OP_INPUT, 0, NULL, 4, at,
                      p->name, p->loc);
    f->inputs[i] = n;
    scope_set(e, s, p->name, val_tensor(e, n));
  }
  exec_block(e, s, &fn->list);
  Value *r = e->ret;
  int nout = !r || r->k == V_NONE ? 0 : r->k == V_TUPLE ? r->n : 1;
  Ast *ret_ast = NULL;
  for (int i = 0; i < fn->list.n; i++)
    if (fn->list.v[i]->kind == A_RETURN)
      ret_ast = fn->list.v[i];
  if (kind == FN_INFER && nout == 0)
    nnc_error(e->c, fn->loc, "entry point '%s' returns nothing", fn->name);
  f->body.nout = nout;
  f->body.out = arena_alloc(&e->c->arena, sizeof(Node *) * (size_t)(nout + 1));
  f->out_names = arena_alloc(&e->c->arena, sizeof(char *) * (size_t)(nout + 1));
  for (int i = 0; i < nout; i++) {
    Value *v = r->k == V_TUPLE ? r->items[i] : r;
    SrcLoc loc = ret_ast ? ret_ast->loc : fn->loc;
    if (!is_tensorish(v))
      nnc_error(e->c, loc,
                "entry point '%s' must return tensors; value %d is %s",
                fn->name, i + 1, val_kind_name(v));
    f->body.out[i] = to_tensor(e, v, loc);
    Ast *ra = ret_ast && ret_ast->list.n == nout ? ret_ast->list.v[i] : NULL;
    f->out_names[i] = ra && ra->kind == A_NAME
                          ? ra->name
                          : arena_printf(&e->c->arena, "out%d", i);
  }
  e->fn = NULL;
  e->region = NULL;
  e->returned = 0;
  e->ret = NULL;
}

static void elab_model(Elab *e, Ast *def) {
  Model *m = arena_alloc(&e->c->arena, sizeof *m);
  m->name = def->name;
  m->loc = def->loc;
  vec_push(&e->c->arena, &e->mod->models, m);
  e->model = m;
  Args none = {0};
  none.call = def;
  e->pending_path = "";
  Value *root = instantiate(e, def, &none);
  int first = 1;
  for (int i = 0; i < def->list.n; i++) {
    Ast *fn = def->list.v[i];
    if (fn->kind != A_FN || (!fn->flag && !all_typed(fn)))
      continue;
    e->record_layers = first;
    build_entry(e, root->inst, fn);
    e->record_layers = 0;
    first = 0;
  }
  if (first)
    nnc_error(
        e->c, def->loc,
        "model '%s' has no entry point (a fn with typed arguments, or a train)",
        def->name);
  /* source names were given freely; make them unique per function */
  for (int i = 0; i < m->funcs.n; i++)
    ir_func_names(e->c, m->funcs.v[i]);
}

/* --------------------------------------------------------- top level */

typedef struct Loader {
  Elab *e;
  PtrVec loading; /* paths on the import stack */
  PtrVec loaded;
  PtrVec items; /* Ast* of every file, stdlib first */
} Loader;

static const char *dir_of(Elab *e, const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? arena_strndup(&e->c->arena, path, (size_t)(slash - path + 1))
               : "";
}

static void load_items(Loader *L, SrcFile *f, int is_main);

static void load_import(Loader *L, SrcFile *from, Ast *imp) {
  Elab *e = L->e;
  const char *path =
      imp->str[0] == '/'
          ? imp->str
          : arena_printf(&e->c->arena, "%s%s",
                         dir_of(e, from->path ? from->path : ""), imp->str);
  char *real = realpath(path, NULL);
  if (!real)
    nnc_error(e->c, imp->loc, "cannot import \"%s\": file not found", imp->str);
  const char *key = arena_strdup(&e->c->arena, real);
  free(real);
  for (int i = 0; i < L->loading.n; i++)
    if (strcmp(L->loading.v[i], key) == 0)
      nnc_error(e->c, imp->loc,
                "import cycle: \"%s\" is already being imported", imp->str);
  for (int i = 0; i < L->loaded.n; i++)
    if (strcmp(L->loaded.v[i], key) == 0)
      return;
  if (L->loading.n > 64)
    nnc_error(e->c, imp->loc, "imports nested too deeply");
  vec_push(&e->c->arena, &L->loading, (void *)key);
  SrcFile *f = nnc_load_file(e->c, path, path);
  load_items(L, f, 0);
  L->loading.n--;
  vec_push(&e->c->arena, &L->loaded, (void *)key);
}

static void load_items(Loader *L, SrcFile *f, int is_main) {
  AstList items = nnc_parse(L->e->c, f);
  for (int i = 0; i < items.n; i++) {
    Ast *x = items.v[i];
    if (x->kind == A_IMPORT) {
      load_import(L, f, x);
      continue;
    }
    if (x->kind != A_LAYER && x->kind != A_FN && x->kind != A_CONST)
      nnc_error(L->e->c, x->loc,
                "only import, const, fn, layer and model may appear at the top "
                "level of a file");
    if (x->kind == A_FN && x->flag)
      nnc_error(L->e->c, x->loc, "'train' entry points belong inside a model");
    x->ival = is_main; /* models of the main file are compiled */
    vec_push(&L->e->c->arena, &L->items, x);
  }
}

static void define_globals(Elab *e, Loader *L) {
  for (int i = 0; i < L->items.n; i++) {
    Ast *x = L->items.v[i];
    Binding *old = scope_find_here(e->globals, x->name);
    if (old) {
      SrcLoc ol = old->v->def ? old->v->def->loc : x->loc;
      nnc_error(e->c, x->loc, "'%s' is already defined at %s", x->name,
                nnc_loc_str(e->c, ol));
    }
    Value *v;
    if (x->kind == A_CONST) {
      Value *cv = eval(e, e->globals, x->a);
      v = val_new(e, cv->k);
      *v = *cv;
    } else {
      v = val_new(e, x->kind == A_FN ? V_FUNC : V_LAYERDEF);
    }
    v->def = x;
    scope_set(e, e->globals, x->name, v);
  }
}

static Module *elaborate(Ctx *c, SrcFile *main_file) {
  Elab el = {0}, *e = &el;
  e->c = c;
  c->error_context = error_context;
  c->error_context_data = e;
  e->mod = ir_module_new(c);
  e->globals = scope_new(e, NULL, 1);
  Loader L = {0};
  L.e = e;
  if (c->stdlib_override) {
    static const char *const names[] = {"nn.nn", "functional.nn"};
    for (int i = 0; i < 2; i++) {
      char *p = arena_printf(&c->arena, "%s/%s", c->stdlib_override, names[i]);
      load_items(
          &L,
          nnc_load_file(c, p, arena_printf(&c->arena, "stdlib/%s", names[i])),
          0);
    }
  } else
    for (int i = 0; i < nnc_stdlib_count; i++)
      load_items(
          &L, nnc_source_string(c, nnc_stdlib[i].name, nnc_stdlib[i].text), 0);
  if (main_file->path) {
    char *real = realpath(main_file->path, NULL);
    if (real) {
      vec_push(&c->arena, &L.loading, arena_strdup(&c->arena, real));
      free(real);
    }
  }
  load_items(&L, main_file, 1);
  define_globals(e, &L);
  int nmodels = 0;
  for (int i = 0; i < L.items.n; i++) {
    Ast *x = L.items.v[i];
    if (x->kind == A_LAYER && x->flag && x->ival) {
      elab_model(e, x);
      nmodels++;
    }
  }
  if (nmodels == 0)
    nnc_error(c, (SrcLoc){main_file, 1, 1},
              "no model in %s (declare one with `model Name { ... }`)",
              main_file->name);
  c->error_context = NULL;
  c->error_context_data = NULL;
  return e->mod;
}

Module *nnc_elaborate(Ctx *c, const char *path) {
  return elaborate(c, nnc_load_file(c, path, path));
}

Module *nnc_elaborate_string(Ctx *c, const char *name, const char *text) {
  return elaborate(c, nnc_source_string(c, name, text));
}

/* --------------------------------------------------------------- freeze */

/* Whether `param` is `prefix` or lies under it (prefix.xxx). */
static int under_prefix(const char *param, const char *prefix, size_t len) {
  return !strncmp(param, prefix, len) && (param[len] == 0 || param[len] == '.');
}

/* Whether `param` is in the comma-separated list (as `over` matches). */
static int in_list(const char *param, const char *list) {
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len && under_prefix(param, p, len))
      return 1;
    p += len + (e ? 1 : 0);
  }
  return 0;
}

static void check_freeze_names(Ctx *c, Module *m, const char *names) {
  for (const char *p = names;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 0)
      nnc_fatal(c, "--freeze: empty name in '%s' (parameter names or layer "
                   "prefixes, separated by commas: conv1,layer1)",
                names);
    int hit = 0;
    for (int i = 0; i < m->models.n && !hit; i++) {
      Model *md = m->models.v[i];
      for (int j = 0; j < md->params.n && !hit; j++) {
        ParamDecl *pd = md->params.v[j];
        hit = pd->role == PR_PARAM && under_prefix(pd->name, p, len);
      }
    }
    if (!hit) {
      StrBuf b = {0};
      Model *md = m->models.n ? m->models.v[0] : NULL;
      const char *last = "";
      size_t lastlen = 0;
      for (int j = 0; md && j < md->params.n; j++) {
        ParamDecl *pd = md->params.v[j];
        const char *dot = strchr(pd->name, '.');
        size_t n = dot ? (size_t)(dot - pd->name) : strlen(pd->name);
        if (pd->role != PR_PARAM || (n == lastlen && !strncmp(last, pd->name, n)))
          continue;
        sb_printf(&b, "%s%.*s", b.len ? ", " : "", (int)n, pd->name);
        last = pd->name;
        lastlen = n;
      }
      char *have = arena_strdup(&c->arena, b.s ? b.s : "none");
      sb_free(&b);
      nnc_fatal(c,
                "--freeze: '%.*s' matches no parameter%s%s (parameters are "
                "named as in PyTorch's state_dict; top-level names: %s)",
                (int)len, p, md ? " of model " : "", md ? md->name : "", have);
    }
    if (!e)
      break;
    p = e + 1;
  }
}

void nnc_freeze(Ctx *c, Module *m, const char *names) {
  if (!names)
    return;
  check_freeze_names(c, m, names);
  for (int i = 0; i < m->models.n; i++) {
    Model *md = m->models.v[i];
    for (int j = 0; j < md->funcs.n; j++) {
      Func *f = md->funcs.v[j];
      if (f->kind != FN_TRAIN)
        continue;
      for (Node *x = f->body.first; x; x = x->next) {
        if (x->op != OP_MINIMIZE)
          continue;
        Attr *over = NULL;
        for (int k = 0; k < x->nattr; k++)
          if (!strcmp(x->attr[k].key, "over"))
            over = &x->attr[k];
        StrBuf b = {0};
        int kept = 0;
        for (int k = 0; k < md->params.n; k++) {
          ParamDecl *pd = md->params.v[k];
          if (pd->role != PR_PARAM || in_list(pd->name, names) ||
              (over && !in_list(pd->name, over->s)))
            continue;
          sb_printf(&b, "%s%s", kept++ ? "," : "", pd->name);
        }
        const char *list = arena_strdup(&c->arena, b.s ? b.s : "");
        sb_free(&b);
        if (over) {
          over->s = list;
        } else {
          Attr *at = arena_alloc(&c->arena, sizeof *at * (size_t)(x->nattr + 1));
          if (x->nattr)
            memcpy(at, x->attr, sizeof *at * (size_t)x->nattr);
          at[x->nattr] = attr_str("over", list);
          x->attr = at;
          x->nattr++;
        }
        if (!kept)
          nnc_note(c, x->loc,
                   "--freeze %s leaves train entry '%s' of model %s nothing "
                   "to train",
                   names, f->name, md->name);
      }
    }
  }
}
