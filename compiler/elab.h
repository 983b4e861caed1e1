/* elab.h — private interface between elaboration (elab.c) and the built-in
 * functions (builtins.c): compile-time values, scopes and the node builder. */
#ifndef NNC_ELAB_H
#define NNC_ELAB_H

#include "ast.h"

typedef enum VKind {
  V_NONE,
  V_INT,      /* d: an integer, possibly symbolic */
  V_FLOAT,    /* f */
  V_BOOL,     /* b */
  V_STR,      /* s */
  V_LIST,     /* items */
  V_TUPLE,    /* items: several results of a call */
  V_TENSOR,   /* t */
  V_PARAM,    /* pd: a parameter or buffer member (a tensor when used) */
  V_INST,     /* inst: a layer instance */
  V_LAYERDEF, /* def: a layer or model definition */
  V_FUNC,     /* def (A_FN), inst (method receiver or NULL) */
  V_BUILTIN,  /* builtin */
  V_DTYPE,    /* dtype */
  V_TYPE      /* type: dtype[dims] */
} VKind;

typedef struct Value Value;
typedef struct Inst Inst;
typedef struct Scope Scope;
typedef struct Elab Elab;
typedef struct Builtin Builtin;

struct Value {
  VKind k;
  Dim d;
  double f;
  int b;
  const char *s;
  int n;
  Value **items;
  Node *t;
  ParamDecl *pd;
  Inst *inst;
  Ast *def;
  const Builtin *builtin;
  DType dtype;
  Type type;
};

typedef struct Binding {
  const char *name;
  Value *v;
  struct Binding *next;
} Binding;

struct Scope {
  Binding *head;
  Scope *parent;
  int frame; /* assignments land in the nearest frame scope */
};

struct Inst {
  Ast *def;         /* A_LAYER */
  const char *path; /* "encoder.layers.0"; "" for a model root */
  Scope *scope;     /* constructor arguments and members */
  Inst *parent;
  int64_t nparams;
  int depth;    /* nesting below the model root (its children: 0) */
  int recorded; /* already listed in the summary */
};

/* Arguments of a call, evaluated. */
typedef struct Args {
  int n;
  const char **name; /* NULL for positional */
  Value **v;
  Ast **ast;
  Ast *call;
} Args;

struct Builtin {
  const char *name;
  Value *(*fn)(Elab *e, Args *a);
  int op; /* the IR op for the generic handlers, or -1 */
};

typedef struct ScanCtx {
  PtrVec yields; /* Value* (tensors) */
  PtrVec axes;   /* Ast* of `along`, or NULL */
  PtrVec yield_asts;
} ScanCtx;

struct Elab {
  Ctx *c;
  Module *mod;
  Model *model;
  Func *fn;       /* function being built, or NULL */
  Region *region; /* region receiving nodes */
  Scope *globals;
  int training;
  int depth; /* inlining depth */
  ScanCtx *scan;
  int nminimize;
  int record_layers;
  int inst_depth;           /* instances being constructed */
  const char *pending_path; /* path for a layer constructed by `name = L()` */
  SrcLoc loc;               /* location for nodes being built */
  PtrVec frames;            /* Frame*: calls being inlined, for error context */
  PtrVec updates;           /* update nodes of the entry point being built */
  Value *ret;               /* set by `return` */
  int returned;
};

/* A call being inlined: where it was called and what runs. */
typedef struct Frame {
  SrcLoc call;
  const char *what;
} Frame;

/* elab.c */
Value *val_new(Elab *e, VKind k);
Value *val_int(Elab *e, int64_t v);
Value *val_float(Elab *e, double f);
Value *val_bool(Elab *e, int b);
Value *val_tensor(Elab *e, Node *n);
const char *val_kind_name(const Value *v);
Value *eval(Elab *e, Scope *s, Ast *x);
/* Converts to a tensor (parameters materialise; numbers need a dtype, so
 * this fails for them: use to_tensor_like). */
Node *to_tensor(Elab *e, Value *v, SrcLoc loc);
/* A number becomes a scalar constant of dtype dt. */
Node *to_tensor_dt(Elab *e, Value *v, DType dt, SrcLoc loc);
int is_tensorish(const Value *v);
int is_number(const Value *v);
double num_value(Elab *e, Value *v, SrcLoc loc);
int64_t int_value(Elab *e, Value *v, SrcLoc loc);
Dim dim_value_of(Elab *e, Value *v, SrcLoc loc);
Node *mk(Elab *e, OpKind op, int nin, Node **in, int nattr, const Attr *attr);
Node *mk1(Elab *e, OpKind op, Node *a);
Node *mk2(Elab *e, OpKind op, Node *a, Node *b);
Node *mk_const(Elab *e, double v, DType dt);
Node *mk_cast(Elab *e, Node *x, DType dt);
Value *binary(Elab *e, int op, Value *a, Value *b, SrcLoc loc);
Node *elementwise2(Elab *e, OpKind op, Value *a, Value *b, SrcLoc loc);
Value *call_value(Elab *e, Value *f, Args *a);
int dtype_default(Elab *e); /* the float dtype (f32) */

/* builtins.c */
const Builtin *builtin_lookup(const char *name);
const char *builtin_name(int i); /* NULL past the last */
/* The initialiser of a parameter of type t, resolved to canonical text. */
const char *elab_init(Elab *e, Scope *s, Ast *init, Type t, SrcLoc loc);
/* Argument access: position `pos` or keyword `key`; NULL when absent. */
Value *arg_get(Elab *e, Args *a, int pos, const char *key);
Value *arg_need(Elab *e, Args *a, int pos, const char *key);
Node *arg_tensor(Elab *e, Args *a, int pos, const char *key);
int64_t arg_int(Elab *e, Args *a, int pos, const char *key, int64_t dflt);
double arg_float(Elab *e, Args *a, int pos, const char *key, double dflt);
/* A compile-time list of dims (shape) from a value. */
int value_dims(Elab *e, Value *v, SrcLoc loc, Dim **out);
int norm_axis(Elab *e, int64_t axis, int rank, SrcLoc loc);
Node *reshape_to(Elab *e, Node *x, int rank, Dim *dims);
Node *permute_axes(Elab *e, Node *x, const int64_t *perm);
Node *slice_axis(Elab *e, Node *x, int axis, Dim start, Dim stop, int64_t step);
Node *reduce_op(Elab *e, OpKind op, Node *x, int naxes, const int64_t *axes,
                int keepdim);

#endif
