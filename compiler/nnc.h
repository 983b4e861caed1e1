/* nnc.h — the one header of the compiler, sectioned by the file that
 * implements each part. Exported names carry a prefix per module. */
#ifndef NNC_H
#define NNC_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- arena.c */
/* All compiler memory comes from one arena per compilation, freed at once. */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
  ArenaBlock *head;
  size_t total;
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n); /* zeroed */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void *arena_grow(Arena *a, void *old, size_t oldn, size_t newn);

/* A growable array of pointers living in an arena. */
typedef struct PtrVec {
  void **v;
  int n, cap;
} PtrVec;
void vec_push(Arena *a, PtrVec *v, void *p);

/* Strings built piece by piece (dumps, messages); heap backed. */
typedef struct StrBuf {
  char *s;
  size_t len, cap;
} StrBuf;
void sb_printf(StrBuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *b, const char *fmt, va_list ap);
void sb_putc(StrBuf *b, char c);
void sb_putn(StrBuf *b, const char *s, size_t n); /* n bytes of s */
void sb_free(StrBuf *b);

/* ----------------------------------------------------------------- diag.c */
/* Source files and locations; errors print `file:line:col: error: msg`, the
 * source line and a caret, then unwind to the driver through a jmp_buf. */
typedef struct SrcFile {
  const char *name; /* as shown in messages */
  const char *path; /* for resolving imports, NULL for built-ins */
  const char *text; /* NUL-terminated contents */
  size_t len;
} SrcFile;

typedef struct SrcLoc {
  const SrcFile *file;
  int line, col;
} SrcLoc;

typedef struct Ctx {
  Arena arena;
  jmp_buf *on_error; /* longjmp target when an error is reported */
  FILE *err;         /* where messages go (stderr, or a memstream in tests) */
  int nerrors;
  PtrVec files;                /* SrcFile* loaded so far */
  const char *stdlib_override; /* directory to read the stdlib from, or NULL */
  /* Set by elaboration while it inlines calls: may move an error found in
   * library code to the user's call site (*loc) and returns notes to print
   * after the message (each "loc\tmessage", NULL-terminated), or NULL. */
  SrcLoc *(*error_context)(struct Ctx *c, SrcLoc *loc, const char ***notes);
  void *error_context_data;
} Ctx;

void ctx_init(Ctx *c);
void ctx_free(Ctx *c);
/* Reports an error at loc and longjmps to c->on_error. */
_Noreturn void nnc_error(Ctx *c, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints a note (no unwinding). */
void nnc_note(Ctx *c, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error that has no source location (a file that cannot be read). */
_Noreturn void nnc_fatal(Ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
SrcFile *nnc_load_file(Ctx *c, const char *path, const char *shown_name);
SrcFile *nnc_source_string(Ctx *c, const char *name, const char *text);
char *nnc_loc_str(Ctx *c, SrcLoc loc); /* "file:line:col" */

/* ------------------------------------------------------------------ dim.c */
/* Symbolic dimensions: polynomials with integer coefficients over named
 * symbols (B, T, N). Canonical form: terms sorted, no zero coefficients. */
#define DIM_MAXVARS 4
typedef struct DimTerm {
  int64_t coef;
  int nvar;
  int var[DIM_MAXVARS]; /* sorted symbol ids, repeated for powers */
} DimTerm;

typedef struct Dim {
  int nterm;
  DimTerm *term; /* arena memory; never mutated once built */
} Dim;

/* Symbol table for dimension names, one per compilation. */
typedef struct DimSyms {
  int n, cap;
  const char **name;
} DimSyms;

int dim_sym(Arena *a, DimSyms *s, const char *name); /* intern, returns id */
Dim dim_const(Arena *a, int64_t v);
Dim dim_var(Arena *a, int sym);
int dim_is_const(Dim d);
int64_t dim_value(Dim d); /* requires dim_is_const */
int64_t dim_known(Dim d); /* its value when constant, else -1 */
int dim_eq(Dim a, Dim b);
/* Arithmetic; return 0 on overflow or too many variables in a term. */
int dim_add(Arena *a, Dim x, Dim y, Dim *out);
int dim_sub(Arena *a, Dim x, Dim y, Dim *out);
int dim_mul(Arena *a, Dim x, Dim y, Dim *out);
/* Exact division by a constant; 0 when some coefficient is not divisible. */
int dim_div_const(Arena *a, Dim x, int64_t k, Dim *out);
/* Exact division by another dim when x == q * y for a polynomial q. */
int dim_div(Arena *a, Dim x, Dim y, Dim *out);
void dim_print(StrBuf *b, const DimSyms *s, Dim d);
/* Evaluates with symbol values (vals[sym]); used by tests and summaries. */
int64_t dim_eval(Dim d, const int64_t *vals);

/* -------------------------------------------------------------- types */
typedef enum DType { DT_F32, DT_F64, DT_I32, DT_BOOL, DT_COUNT } DType;
const char *dtype_name(DType t);
int dtype_parse(const char *s, DType *out); /* 1 if s names a dtype */
int dtype_is_float(DType t);

typedef struct Type {
  DType dtype;
  int rank;
  Dim *dim; /* rank entries */
} Type;

/* ------------------------------------------------------------------ ops.c */
/* Op classes drive generic rules (broadcasting, dumping, later fusion). */
typedef enum OpClass {
  OC_SOURCE,  /* no operands: inputs, params, constants, random */
  OC_UNARY,   /* elementwise, one operand */
  OC_BINARY,  /* elementwise, broadcasting */
  OC_COMPARE, /* elementwise, broadcasting, bool result */
  OC_REDUCE,  /* reduction over axes */
  OC_SHAPE,   /* reshapes, slices, data movement */
  OC_GATHER,  /* index-driven data movement */
  OC_MATMUL,
  OC_CONV,
  OC_CONTROL, /* scan and its region ops */
  OC_SPECIAL  /* grad, minimize, update, ... */
} OpClass;

/* X(ENUM, name, arity (-1: variadic), class, shape rule)
 * The shape rule is a function `shape_<rule>` in ops.c. */
#define NNC_OPS(X)                                                             \
  X(INPUT, input, 0, OC_SOURCE, input)                                         \
  X(PARAM, param, 0, OC_SOURCE, param)                                         \
  X(BUFFER, buffer, 0, OC_SOURCE, param)                                       \
  X(CONST, const, 0, OC_SOURCE, fill)                                          \
  X(FULL, full, 0, OC_SOURCE, fill)                                            \
  X(ARANGE, arange, 0, OC_SOURCE, arange)                                      \
  X(RAND_UNIFORM, rand_uniform, 0, OC_SOURCE, fill)                            \
  X(RAND_NORMAL, rand_normal, 0, OC_SOURCE, fill)                              \
  X(NEG, neg, 1, OC_UNARY, unary)                                              \
  X(EXP, exp, 1, OC_UNARY, unary_float)                                        \
  X(LOG, log, 1, OC_UNARY, unary_float)                                        \
  X(SQRT, sqrt, 1, OC_UNARY, unary_float)                                      \
  X(RSQRT, rsqrt, 1, OC_UNARY, unary_float)                                    \
  X(ABS, abs, 1, OC_UNARY, unary)                                              \
  X(SIGN, sign, 1, OC_UNARY, unary)                                            \
  X(SIN, sin, 1, OC_UNARY, unary_float)                                        \
  X(COS, cos, 1, OC_UNARY, unary_float)                                        \
  X(TANH, tanh, 1, OC_UNARY, unary_float)                                      \
  X(SIGMOID, sigmoid, 1, OC_UNARY, unary_float)                                \
  X(RELU, relu, 1, OC_UNARY, unary)                                            \
  X(LEAKY_RELU, leaky_relu, 1, OC_UNARY, unary_float)                          \
  X(ELU, elu, 1, OC_UNARY, unary_float)                                        \
  X(GELU, gelu, 1, OC_UNARY, unary_float)                                      \
  X(SOFTPLUS, softplus, 1, OC_UNARY, unary_float)                              \
  X(NOT, not, 1, OC_UNARY, unary_bool)                                         \
  X(CAST, cast, 1, OC_UNARY, cast)                                             \
  X(DETACH, detach, 1, OC_UNARY, unary)                                        \
  X(ADD, add, 2, OC_BINARY, binary)                                            \
  X(SUB, sub, 2, OC_BINARY, binary)                                            \
  X(MUL, mul, 2, OC_BINARY, binary)                                            \
  X(DIV, div, 2, OC_BINARY, binary)                                            \
  X(POW, pow, 2, OC_BINARY, binary_float)                                      \
  X(MAXIMUM, maximum, 2, OC_BINARY, binary)                                    \
  X(MINIMUM, minimum, 2, OC_BINARY, binary)                                    \
  X(AND, and, 2, OC_BINARY, binary_bool)                                       \
  X(OR, or, 2, OC_BINARY, binary_bool)                                         \
  X(EQ, eq, 2, OC_COMPARE, compare)                                            \
  X(NE, ne, 2, OC_COMPARE, compare)                                            \
  X(LT, lt, 2, OC_COMPARE, compare)                                            \
  X(LE, le, 2, OC_COMPARE, compare)                                            \
  X(GT, gt, 2, OC_COMPARE, compare)                                            \
  X(GE, ge, 2, OC_COMPARE, compare)                                            \
  X(WHERE, where, 3, OC_BINARY, where)                                         \
  X(SUM, sum, 1, OC_REDUCE, reduce)                                            \
  X(MEAN, mean, 1, OC_REDUCE, reduce_float)                                    \
  X(MAX, max, 1, OC_REDUCE, reduce)                                            \
  X(MIN, min, 1, OC_REDUCE, reduce)                                            \
  X(LOGSUMEXP, logsumexp, 1, OC_REDUCE, reduce_float)                          \
  X(ARGMAX, argmax, 1, OC_REDUCE, argmax)                                      \
  X(SOFTMAX, softmax, 1, OC_REDUCE, softmax)                                   \
  X(LOG_SOFTMAX, log_softmax, 1, OC_REDUCE, softmax)                           \
  X(MATMUL, matmul, 2, OC_MATMUL, matmul)                                      \
  X(RESHAPE, reshape, 1, OC_SHAPE, reshape)                                    \
  X(PERMUTE, permute, 1, OC_SHAPE, permute)                                    \
  X(EXPAND, expand, 1, OC_SHAPE, expand)                                       \
  X(SLICE, slice, 1, OC_SHAPE, slice)                                          \
  X(CONCAT, concat, -1, OC_SHAPE, concat)                                      \
  X(TAKE, take, 2, OC_GATHER, take)                                            \
  X(TAKE_ALONG, take_along, 2, OC_GATHER, take_along)                          \
  X(SCATTER_ADD, scatter_add, 2, OC_GATHER, scatter)                           \
  X(SCATTER_MAX, scatter_max, 2, OC_GATHER, scatter)                           \
  X(ONE_HOT, one_hot, 1, OC_GATHER, one_hot)                                   \
  X(CONV2D, conv2d, -1, OC_CONV, conv2d)                                        \
  X(CONV_TRANSPOSE2D, conv_transpose2d, 2, OC_CONV, conv_transpose2d)          \
  X(MAX_POOL2D, max_pool2d, -1, OC_CONV, pool2d)                                \
  X(AVG_POOL2D, avg_pool2d, 1, OC_CONV, pool2d)                                \
  X(UPSAMPLE, upsample_nearest, 1, OC_CONV, upsample)                          \
  X(SCAN, scan, -1, OC_CONTROL, scan)                                          \
  X(SCAN_INDEX, scan_index, 0, OC_CONTROL, scan_index)                         \
  X(SCAN_CARRY, scan_carry, 0, OC_CONTROL, input)                              \
  X(GET, get, 1, OC_CONTROL, get)                                              \
  X(FUSED, fused, -1, OC_CONTROL, fused)                                        \
  X(GRAD, grad, 2, OC_SPECIAL, grad)                                           \
  X(UPDATE, update, 1, OC_SPECIAL, update)                                     \
  X(ACCUM_GRAD, accum_grad, 1, OC_SPECIAL, accum_grad) \
  X(INPUT_GRAD, input_grad, 1, OC_SPECIAL, input_grad) \
  X(SLICE_GRAD, slice_grad, 1, OC_SHAPE, slice_grad) \
  X(TAKE_GRAD, take_grad, 2, OC_GATHER, take_grad) \
  X(TAKE_ALONG_GRAD, take_along_grad, 2, OC_GATHER, take_along_grad) \
  X(CONV2D_GRAD_INPUT, conv2d_grad_input, 2, OC_CONV, conv2d_grad) \
  X(CONV2D_GRAD_WEIGHT, conv2d_grad_weight, -1, OC_CONV, conv2d_grad) \
  X(MAX_POOL2D_GRAD, max_pool2d_grad, -1, OC_CONV, pool2d_grad) \
  X(AVG_POOL2D_GRAD, avg_pool2d_grad, 1, OC_CONV, pool2d_grad) \
  X(GELU_GRAD, gelu_grad, 2, OC_BINARY, gelu_grad) \
  X(SOFTMAX_XENT, softmax_cross_entropy, 2, OC_GATHER, softmax_xent) \
  X(SOFTMAX_XENT_GRAD, softmax_cross_entropy_grad, 3, OC_GATHER, softmax_xent) \
  X(MINIMIZE, minimize, 1, OC_SPECIAL, minimize)

typedef enum OpKind {
#define X(e, n, ar, cl, sh) OP_##e,
  NNC_OPS(X)
#undef X
      OP_COUNT
} OpKind;

typedef struct OpInfo {
  const char *name;
  int arity;
  OpClass cls;
} OpInfo;
extern const OpInfo nnc_ops[OP_COUNT];
int op_lookup(const char *name); /* -1 if unknown */
/* Ops with a body region whose results are read with `get`: scan, fused. */
int op_has_body(OpKind op);
/* Ops a fused group may hold: elementwise ops, expand, full and const. */
int op_fusible(OpKind op);

/* ------------------------------------------------------------------- ir.c */
/* Attributes: a small keyed list on each node, printed as key=value. */
typedef enum AttrKind {
  AK_INT,   /* i */
  AK_FLOAT, /* f */
  AK_STR,   /* s */
  AK_INTS,  /* ints */
  AK_DIMS,  /* dims (shapes: may be symbolic) */
  AK_DTYPE  /* i holds a DType */
} AttrKind;

typedef struct Attr {
  const char *key;
  AttrKind kind;
  int64_t i;
  double f;
  const char *s;
  int n;
  int64_t *ints;
  Dim *dims;
} Attr;

typedef struct Region Region;
typedef struct Node Node;

struct Node {
  int id; /* unique within the function, in creation order */
  OpKind op;
  Type type; /* result type; a scan's is unused (it has `results`) */
  int nin;
  Node **in;
  int nattr;
  Attr *attr;
  const char *name; /* SSA name shown in dumps (unique within a function) */
  SrcLoc loc;
  Region *body; /* scan only */
  int nresult;  /* scan only: types of its results (read with get) */
  Type *result;
  Node *next; /* schedule order within its region */
};

/* A straight-line list of nodes ending in a list of results. */
struct Region {
  Node *first, *last;
  int nout;
  Node **out; /* function returns / scan yields */
  Region *parent;
};

typedef enum FuncKind { FN_INFER, FN_TRAIN } FuncKind;

typedef struct Func {
  const char *name;
  FuncKind kind;
  SrcLoc loc;
  int nin;
  Node **inputs; /* OP_INPUT nodes, in argument order */
  const char **out_names;
  Region body;
  int next_id;
  struct NameTab *names; /* ir.c: names in use, for ir_node/ir_func_lookup */
} Func;

typedef enum ParamRole { PR_PARAM, PR_BUFFER } ParamRole;

typedef struct ParamDecl {
  const char *name; /* full path: fc1.weight */
  ParamRole role;
  Type type;
  const char *init;       /* canonical initialiser text: uniform(-0.1,0.1) */
  const char *layer;      /* owning layer instance path ("fc1") */
  const char *layer_type; /* its layer's name ("Linear") */
  SrcLoc loc;
} ParamDecl;

/* One row of `--summary`: a layer instance call with its output. */
typedef struct LayerRow {
  const char *path;
  const char *type;
  int depth;
  Type out;
  int64_t nparams; /* own + nested trained parameters */
} LayerRow;

typedef struct Model {
  const char *name;
  SrcLoc loc;
  PtrVec params; /* ParamDecl*, declaration order */
  PtrVec funcs;  /* Func* */
  PtrVec layers; /* LayerRow*, from the first entry point */
} Model;

typedef struct Module {
  DimSyms syms;
  PtrVec models; /* Model* */
} Module;

Module *ir_module_new(Ctx *c);
Func *ir_func_new(Ctx *c, Model *m, const char *name, FuncKind k, SrcLoc loc);
/* Creates a node at the end of region r, names it, and infers its type with
 * the op's shape rule (errors are reported at loc). A scan is the exception:
 * ir_node gives it an empty body (parent r) and infers nothing; build the
 * body with ir_node(..., n->body, ...), set n->body->out/nout, then call
 * shape_infer(c, mod, n). */
Node *ir_node(Ctx *c, Module *mod, Func *f, Region *r, OpKind op, int nin,
              Node **in, int nattr, const Attr *attr, const char *name,
              SrcLoc loc);
/* Whether n is the transpose of a 2-d matrix (permute [1, 0]). */
int ir_swaps_2d(const Node *n);
/* Takes x out of r's list; prev is the node before it (NULL: x is first). */
/* Every reader of `old` in r, nested bodies and r's results too, reads
 * `new_` instead. */
void ir_replace_uses(Region *r, const Node *old, Node *new_);
void ir_unlink(Region *r, Node *prev, Node *x);
Attr attr_int(const char *k, int64_t v);
Attr attr_float(const char *k, double v);
Attr attr_str(const char *k, const char *s);
Attr attr_dtype(const char *k, DType t);
Attr attr_ints(Arena *a, const char *k, int n, const int64_t *v);
Attr attr_dims(Arena *a, const char *k, int n, const Dim *v);
const Attr *ir_attr(const Node *n, const char *key); /* NULL if absent */
int64_t ir_attr_int(const Node *n, const char *key, int64_t dflt);
/* Element i of a two-int attribute (stride, padding...), else dflt. */
int64_t ir_attr_int2(const Node *n, const char *key, int i, int64_t dflt);
/* conv2d n's output height (axis 0) or width (1) before any pooling of
 * its epilogue, from its operands' sizes where they are constants; -1
 * where they are not. */
int64_t ir_conv2d_out(const Node *n, int axis);
/* The axes a reduction of a typed IR removes, as a mask over its operand's
 * axes (`axes` absent or empty: all; argmax: `axis`). */
char *ir_reduced_axes(Arena *a, const Node *n);
double ir_attr_float(const Node *n, const char *key, double dflt);
ParamDecl *ir_find_param(Model *m, const char *name);
Node *ir_func_lookup(const Func *f, const char *name); /* NULL if unused */
/* Makes f's node names unique as ir_node does (first come keeps its name,
 * then name.1, name.2; none: tN) and rebuilds the table behind ir_node and
 * ir_func_lookup: call it after assigning n->name directly. */
void ir_func_names(Ctx *c, Func *f);
/* Fused groups' members (shape.c; docs/ir.md, "Fusion"): kept shapes,
 * reductions, kept members, and each member's stage (in body order;
 * returns the number of stages). */
#define NNC_FUSED_STAGES 4
int ir_kept_form(Type S, const char *red, Type t);
int ir_kept_broadcast(Type S, const char *red, Type t);
int ir_fused_reduction(const Node *x);
int ir_fused_kept(const Node *x, Type S, const char *red);
int ir_fused_stages(const Node *fz, Type S, const char *red, int *stage);
struct NameTab *ir_names_save(Ctx *c, const Func *f);
void ir_names_restore(Func *f, struct NameTab *saved);
int type_eq(Type a, Type b);
/* b is a vector along t's last axis: [..., 1, N] or [N], N t's last
 * dimension, of t's dtype (a bias). */
int type_row_vector(Type b, Type t);
void type_print(StrBuf *b, const DimSyms *s, Type t);
int64_t type_numel_const(Type t); /* -1 if symbolic */

/* Checks SSA form, operand order, arities, types against the shape rules.
 * Returns 0 and reports the first problem through nnc_error. */
void ir_verify(Ctx *c, Module *m);

/* ---------------------------------------------------------------- shape.c */
/* Recomputes result types of n from its operands and attributes; reports
 * mismatches through nnc_error at n->loc. Used by ir_node and ir_verify. */
void shape_infer(Ctx *c, Module *mod, Node *n);
/* Broadcasting of two shapes; 0 if incompatible (axis in *bad_axis). */
int shape_broadcast(Arena *a, Type x, Type y, Type *out, int *bad_axis);

/* --------------------------------------------------------------- irdump.c */
void ir_dump(StrBuf *b, const Module *m);
void ir_dump_file(FILE *f, const Module *m);

/* -------------------------------------------------------------- irparse.c */
/* Parses the dump format back; errors through nnc_error with locations in
 * the dump text. */
Module *ir_parse(Ctx *c, SrcFile *src);

/* ----------------------------------------------------------------- elab.c */
/* Parses a .nn file (with its imports and the stdlib), evaluates layers and
 * builds the IR of every model in it. */
Module *nnc_elaborate(Ctx *c, const char *path);
/* Same from a string (tests). */
Module *nnc_elaborate_string(Ctx *c, const char *name, const char *text);
/* --freeze NAMES (comma-separated parameter names or layer prefixes such
 * as `conv1,layer1.0`): takes the matching parameters out of the trained
 * set of every train entry, as if `minimize ... over` left them out (their
 * `over` becomes the explicit list of what remains), so they get no
 * gradient and no optimizer state. A name that matches no parameter of any
 * model is an error. */
void nnc_freeze(Ctx *c, Module *m, const char *names);

/* -------------------------------------------------------------- stdlib.c */
/* The standard library sources, built into the binary (generated). */
typedef struct StdlibFile {
  const char *name;
  const char *text;
} StdlibFile;
extern const StdlibFile nnc_stdlib[];
extern const int nnc_stdlib_count;

/* ---------------------------------------------------------------- grad.c */
/* Differentiation: expands `grad` nodes and the backward pass of every
 * train entry point (see docs/ir.md). */
void pass_grad(Ctx *c, Module *m);

/* ------------------------------------------------------------ simplify.c */
/* Dead code, common subexpressions, constant folding, algebraic identities. */
void pass_simplify(Ctx *c, Module *m);

/* ---------------------------------------------------------------- fuse.c */
/* Operator fusion (docs/ir.md): groups elementwise chains, and the sums
 * and means that read them, into `fused` nodes that the backend emits as
 * one loop nest; values used only inside a group are never stored. */
void pass_fuse(Ctx *c, Module *m);

/* ---------------------------------------------------------------- emit.c */
typedef struct EmitOptions {
  DType real;              /* DT_F32 or DT_F64 */
  const char *header_name; /* how model.c includes its header: "model.h" */
  const char *source_name; /* the .nn file, for comments */
  int share_buffers;       /* memory planning: values whose lifetimes do
                              not overlap share workspace, and weight
                              gradients go straight into the gradient
                              block (off at -O0) */
  const int64_t *sizes;    /* a value per symbol (mod->syms) for the sizes
                              the planner weighs and reports; NULL: 64 */
  FILE *plan_out;          /* when set, each entry's workspace at `sizes`:
                              one line each, or with plan_detail every
                              buffer's offset and size and its values */
  int plan_detail;
} EmitOptions;
/* Writes the C source and header of every model; errors via nnc_error. */
void nnc_emit_c(Ctx *c, Module *m, const EmitOptions *o, FILE *c_out,
                FILE *h_out);

/* -------------------------------------------------------------- passes.c */
/* The pass pipeline after elaboration, in order; `dump_after` names a pass
 * whose result is printed to `dump` (NULL: none). */
typedef struct PassOptions {
  const char *dump_after;
  FILE *dump;
  int opt_level; /* 0: no simplification (and, later, no fusion) */
} PassOptions;
void nnc_run_passes(Ctx *c, Module *m, const PassOptions *o);
/* The names --dump-ir accepts, NULL-terminated. */
extern const char *const nnc_pass_names[];

/* ------------------------------------------------------------ train_cmd.c */
/* `nnc train MODEL.nn [options]` (argv[0] is "train"): compiles the model,
 * builds a trainer against the runtime (cached) and runs it; returns the
 * exit status when it cannot run it. */
int nnc_train_command(int argc, char **argv);

/* --------------------------------------------------------------- report.c */
void nnc_summary(FILE *f, const Module *m);
void nnc_dot(FILE *f, const Module *m);

#endif
