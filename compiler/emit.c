/* emit.c — the C backend: writes model.h and model.c for every model of a
 * module, as docs/api.md describes. Each node becomes a commented block of
 * plain loops (or a runtime call for GEMM, convolution and pooling) over a
 * buffer carved from one workspace; names come from the source and every
 * buffer carries its shape in a comment.
 *
 * Needs: differentiated IR (no grad node). Produces: text only. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"
#include "nnc_runtime.h"

typedef struct Emitter {
  Ctx *c;
  Module *mod;
  Model *md;
  const EmitOptions *o;
  FILE *f;        /* model.c */
  FILE *h;        /* model.h */
  const char *p;  /* prefix: mlp */
  const char *S;  /* struct name: MLP */
  const char *real;
  const char *sfx; /* f32 / f64 for runtime calls */
  Func *fn;
  /* per function: C names, buffer slots, and entry dims */
  const char **cname; /* by node id */
  int *slot;          /* workspace slot by node id, -1 for none */
  int *uses;          /* users by node id */
  char *absorbed;     /* slices and takes read in place (find_absorbed) */
  char *strided;      /* views read through strides (find_strided) */
  Node **alias;       /* values held in another's buffer: transposes a
                         product writes (find_written), bias adds the
                         product starts from (find_biased) */
  Node **bias;        /* by product: the bias its C starts from */
  char *passthru;     /* fused members adding a product's bias: its value */
  Node **home;        /* values a scan's step writes in its stack (find_homes) */
  int *home_k;        /* their stack */
  char *home_at;      /* 1: at the next position */
  Node **ring;        /* carries in two halves of their own slot, and their
                         new values: the carry (find_homes) */
  Node **into;        /* by product: the transpose or concatenation it
                         writes into */
  Node **into2;       /* a fused result's second concatenation */
  Node **reader;      /* by node read once: its reader */
  char *placed;       /* concatenation parts written in place */
  int64_t *grad_off;  /* matmuls adding straight into m->grads: offset + 1 */
  int *packed;        /* by matmul in a scan's step: 1 + the slot of its B,
                         packed before the loop (packs_b), else 0 */
  int nslots, slotcap;
  struct Slot *slots; /* by slot index */
  int *pos;           /* by node id: top-level schedule position */
  int npos;
  StrBuf plan;        /* the body of the plan function */
  int indent;
  int64_t *poff;      /* per ParamDecl: element offset (params) or byte
                         offset (buffers) */
  int64_t nparams, nbuf_bytes;
  int scan_depth;     /* nested scans name their counters step1, pos1 */
  int plan_dx;        /* the top-level node being planned is only_dx */
  int ndx_slots;      /* slots marked dx */
  uint32_t *only_dx;  /* by node id: the input gradients that alone need
                         it (bit k: dx_k), 0 when anything else does */
  /* outlining (see "Kernels" below): the names an entry's code may pass
   * to a kernel, the model's kernels so far, and those not yet written */
  struct Name **names;  /* hash table, NAME_BUCKETS */
  struct Kernel **kernels;
  int nkernels;
  int outlining;        /* inside an entry's body */
  StrBuf pending;       /* kernel definitions to write before the entry */
} Emitter;

/* ------------------------------------------------------------ helpers */

static void out(Emitter *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out(Emitter *e, const char *fmt, ...) {
  va_list ap;
  fprintf(e->f, "%*s", 2 * e->indent, "");
  va_start(ap, fmt);
  vfprintf(e->f, fmt, ap);
  va_end(ap);
}

static const char *dimc(Emitter *e, Dim d) {
  StrBuf b = {0};
  dim_print(&b, &e->mod->syms, d);
  const char *s = dim_is_const(d)
                      ? arena_printf(&e->c->arena, "%s", b.s)
                      : arena_printf(&e->c->arena, "(%s)", b.s);
  sb_free(&b);
  return s;
}

/* Product of dims [from, to) as a C expression. */
static const char *prodc(Emitter *e, const Type *t, int from, int to) {
  Dim p = dim_const(&e->c->arena, 1);
  for (int i = from; i < to; i++)
    dim_mul(&e->c->arena, p, t->dim[i], &p);
  return dimc(e, p);
}
static const char *numelc(Emitter *e, Type t) { return prodc(e, &t, 0, t.rank); }

static const char *ctype(Emitter *e, DType t) {
  switch (t) {
  case DT_F32:
  case DT_F64: return e->real;
  case DT_I32: return "int32_t";
  default: return "unsigned char";
  }
}

static const char *typestr(Emitter *e, Type t) {
  StrBuf b = {0};
  Type u = t;
  if (dtype_is_float(u.dtype))
    u.dtype = e->o->real;
  type_print(&b, &e->mod->syms, u);
  const char *s = arena_strdup(&e->c->arena, b.s);
  sb_free(&b);
  return s;
}

/* A math function of the real type: exp -> expf for float, or the
 * runtime's inline nnc_expf, nnc_logf, nnc_tanhf and nnc_erff, which gcc
 * vectorises (nnc_runtime.h). */
static const char *fn(Emitter *e, const char *name) {
  if (e->o->real != DT_F32)
    return name;
  if (!strcmp(name, "exp") || !strcmp(name, "log") || !strcmp(name, "tanh") ||
      !strcmp(name, "erf"))
    return arena_printf(&e->c->arena, "nnc_%sf", name);
  return arena_printf(&e->c->arena, "%sf", name);
}

static const char *lit(Emitter *e, double v) {
  if (v != v)
    return "NAN";
  if (v > 1e308 || v < -1e308)
    return v > 0 ? "INFINITY" : "-INFINITY";
  char buf[64];
  snprintf(buf, sizeof buf, e->o->real == DT_F32 ? "%.9g" : "%.17g", v);
  if (!strpbrk(buf, ".e"))
    strcat(buf, ".0");
  return arena_printf(&e->c->arena, "%s%s", buf, e->o->real == DT_F32 ? "f" : "");
}

static int is_c_keyword(const char *s) {
  static const char *const kw[] = {
      "auto", "break", "case", "char", "const", "continue", "default", "do",
      "double", "else", "enum", "extern", "float", "for", "goto", "if",
      "inline", "int", "long", "register", "restrict", "return", "short",
      "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
      "unsigned", "void", "volatile", "while",
      /* the generated code's own locals */
      "m", "ws", "off", "w", "need", "i", "j", "k", "o", "v", "acc", "mx",
      "sum", "best", "base", "rc", "t", "s", "n", "state", "g",
      "sq", "norm", "p", "r", "e", "xr", "cn", "c0", NULL};
  for (int i = 0; kw[i]; i++)
    if (!strcmp(kw[i], s))
      return 1;
  /* the kernels' own numbered locals and parameters: a0, b1, d0, e2, i0,
   * k1, p0 (partial sums), q1, r0, u3, v0, w0 (a block's sums), acc0 */
  static const char *const num[] = {"acc", "a", "b", "d", "e", "i", "k", "p",
                                    "q", "r", "u", "v", "w", NULL};
  for (int i = 0; num[i]; i++) {
    size_t n = strlen(num[i]);
    if (!strncmp(s, num[i], n) && isdigit((unsigned char)s[n]) &&
        strspn(s + n, "0123456789") == strlen(s + n))
      return 1;
  }
  if ((!strncmp(s, "step", 4) && isdigit((unsigned char)s[4])) ||
      (!strncmp(s, "pos", 3) && isdigit((unsigned char)s[3])))
    return 1;
  return !strncmp(s, "dx", 2) || !strncmp(s, "in", 2) || !strncmp(s, "out", 3);
}

/* ------------------------------------------------------ C names, slots */

/* The names of an entry's C code (buffers, sizes, counters), by hash:
 * name_nodes keeps them unique, the kernels (below) look them up. */
enum { NAME_BUCKETS = 1024, KERNEL_BUCKETS = 1024 };

typedef struct Name {
  const char *name;
  const char *type; /* "float *": a buffer; "int64_t": a scalar; NULL: gone */
  struct Name *next;
} Name;

typedef struct Kernel {
  uint64_t hash;
  const char *key, *name;
  struct Kernel *next;
} Kernel;

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

static Name *find_name(Emitter *e, const char *s, size_t n) {
  for (Name *x = e->names[hash_bytes(s, n) % NAME_BUCKETS]; x; x = x->next)
    if (!strncmp(x->name, s, n) && !x->name[n])
      return x;
  return NULL;
}

/* Names what `name` is in the entry's code (type NULL: nothing). */
static void add_name(Emitter *e, const char *name, const char *type) {
  Name *x = find_name(e, name, strlen(name));
  if (!x) {
    Name **b = &e->names[hash_bytes(name, strlen(name)) % NAME_BUCKETS];
    x = arena_alloc(&e->c->arena, sizeof *x);
    x->name = name;
    x->next = *b;
    *b = x;
  }
  x->type = type;
}

static void name_nodes(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    char buf[256];
    size_t k = 0;
    const char *src = n->op == OP_ACCUM_GRAD /* its block of m->grads */
                          ? arena_printf(&e->c->arena, "d_%s", ir_attr(n, "name")->s)
                          : n->name;
    for (const char *s = src; *s && k < sizeof buf - 8; s++)
      buf[k++] = isalnum((unsigned char)*s) ? *s : '_';
    buf[k] = 0;
    const char *base = isdigit((unsigned char)buf[0]) || is_c_keyword(buf)
                           ? arena_printf(&e->c->arena, "v_%s", buf)
                           : arena_strdup(&e->c->arena, buf);
    for (int i = 0; i < e->mod->syms.n; i++)
      if (!strcmp(base, e->mod->syms.name[i]))
        base = arena_printf(&e->c->arena, "v_%s", buf);
    const char *name = base;
    for (int d = 1; find_name(e, name, strlen(name)); d++)
      name = arena_printf(&e->c->arena, "%s_%d", base, d);
    add_name(e, name, "");
    e->cname[n->id] = name;
    if (n->body)
      name_nodes(e, n->body);
  }
}

static int needs_slot(const Node *n) {
  switch (n->op) {
  case OP_INPUT: case OP_PARAM: case OP_BUFFER: case OP_RESHAPE:
  case OP_GET: case OP_ACCUM_GRAD: case OP_INPUT_GRAD: case OP_UPDATE:
  case OP_MINIMIZE: case OP_SCAN: case OP_FUSED:
    return 0;
  default:
    return 1;
  }
}

static const char *conv_shape(Emitter *e, const Node *n);
static double conv_scratch_at(Emitter *e, const Node *n, int at);
static const char *pool_shape(Emitter *e, const Node *n);
static double pool_scratch_at(Emitter *e, const Node *n, int at);
static int transformed(const Node *n);
static int pooled(const Node *n);
static int packs_b(Emitter *e, const Node *u, const Region *step);

/* Workspace layout. Every stored value (and each convolution's im2col
 * scratch) is a slot; plan_region lists them with their size in C and the
 * schedule position (of the top-level node) that writes them. */
typedef struct Slot {
  const char *size; /* bytes, unaligned, as C */
  const char *note; /* name and type, for the plan's comment */
  int birth, death; /* top-level positions: written, last read */
  double est;       /* bytes with every symbol at 64: to pick buffers */
  double bytes;     /* bytes at the options' sizes: to report */
  int dx;           /* computed for input gradients only: its buffers go
                       last, and a call without dx reserves none of them */
} Slot;

/* A dimension with every symbol at 64 (at = 0: the sizes the planner
 * weighs, the same whatever is reported) or at the options' sizes. */
static int64_t size_at(Emitter *e, Dim d, int at) {
  int64_t vals[256];
  for (int i = 0; i < 256; i++)
    vals[i] = at && e->o->sizes && i < e->mod->syms.n ? e->o->sizes[i] : 64;
  return dim_eval(d, vals);
}

static double estimate(Emitter *e, Type t, int at) {
  Dim n = dim_const(&e->c->arena, 1);
  for (int k = 0; k < t.rank; k++)
    dim_mul(&e->c->arena, n, t.dim[k], &n);
  return (double)size_at(e, n, at) * (t.dtype == DT_F64 ? 8 : t.dtype == DT_BOOL ? 1 : 4);
}

static int add_slot(Emitter *e, const char *size, const char *note, int pos, double est,
                    double bytes) {
  if (e->nslots == e->slotcap) {
    int cap = e->slotcap ? 2 * e->slotcap : 64;
    e->slots = arena_grow(&e->c->arena, e->slots, sizeof(Slot) * (size_t)e->slotcap,
                          sizeof(Slot) * (size_t)cap);
    e->slotcap = cap;
  }
  Slot *sl = &e->slots[e->nslots];
  sl->size = size, sl->note = note, sl->birth = sl->death = pos, sl->est = est;
  sl->bytes = bytes;
  sl->dx = e->plan_dx;
  return e->nslots++;
}

static const char *value_size(Emitter *e, Type t) {
  return arena_printf(&e->c->arena, "sizeof(%s) * (size_t)%s", ctype(e, t.dtype), numelc(e, t));
}

static Node *carry_node(Region *body, int i);

/* Whether result i of fused group n is stored elsewhere: in a scan's stack
 * (find_homes), or in the part of a concatenation (find_placed). */
static int homed_result(Emitter *e, const Node *n, int i) {
  for (const Node *g = n->next; g && g->op == OP_GET && g->in[0] == n; g = g->next)
    if (ir_attr_int(g, "index", -1) == i && (e->home[g->id] || e->into[g->id]))
      return 1;
  return 0;
}

/* Whether stack i of scan n holds a carry (find_homes). */
static int carry_homed(Emitter *e, const Node *n, int i) {
  int nc = (int)ir_attr_int(n, "ncarry", 0);
  if (i >= n->body->nout - nc)
    return 0;
  for (int j = 0; j < nc; j++) {
    const Node *c = carry_node(n->body, j);
    if (c && e->home[c->id] && e->home_k[c->id] == i)
      return 1;
  }
  return 0;
}

static void plan_region(Emitter *e, Region *r, int top) {
  int pos = top;
  for (Node *n = r->first; n; n = n->next) {
    if (top < 0) { /* the top region: positions count its nodes */
      pos = e->pos[n->id] = e->npos++;
      e->plan_dx = e->only_dx && e->only_dx[n->id];
    } else {
      e->pos[n->id] = pos;
    }
    e->slot[n->id] = -1;
    if (e->ring[n->id] == n) /* both halves of its ring */
      e->slot[n->id] = add_slot(e, arena_printf(&e->c->arena, "2 * %s", value_size(e, n->type)),
                                arena_printf(&e->c->arena, "%s %s, two steps' worth",
                                             e->cname[n->id], typestr(e, n->type)),
                                pos, 2 * estimate(e, n->type, 0), 2 * estimate(e, n->type, 1));
    else if (e->absorbed[n->id] || e->strided[n->id] || e->alias[n->id] || e->home[n->id] ||
        e->grad_off[n->id] || (e->into[n->id] && e->into[n->id]->op == OP_CONCAT))
      /* a view; a gradient block; a part of a concatenation */
      ;
    else if (needs_slot(n))
      e->slot[n->id] = add_slot(e, value_size(e, n->type),
                                arena_printf(&e->c->arena, "%s %s", e->cname[n->id],
                                             typestr(e, n->type)),
                                pos, estimate(e, n->type, 0), estimate(e, n->type, 1));
    if (op_has_body(n->op))
      for (int i = 0; i < n->nresult - (int)ir_attr_int(n, "ncarry", 0); i++) {
        const char *who = NULL; /* the get reading it, which names it */
        for (Node *g = n->next; g && g->op == OP_GET && g->in[0] == n && !who; g = g->next)
          if (ir_attr_int(g, "index", -1) == i)
            who = e->cname[g->id];
        /* not stored here: the product's value, or in a scan's stack */
        int pass = n->op == OP_FUSED && (e->passthru[n->body->out[i]->id] || homed_result(e, n, i));
        const char *size = value_size(e, n->result[i]);
        double est = estimate(e, n->result[i], 0), bytes = estimate(e, n->result[i], 1);
        if (n->op == OP_SCAN && carry_homed(e, n, i)) { /* room for the last carry */
          Type c = n->body->out[(int)ir_attr_int(n, "ncarry", 0) + i]->type;
          size = arena_printf(&e->c->arena, "%s + %s", size, value_size(e, c));
          est += estimate(e, c, 0), bytes += estimate(e, c, 1);
        }
        int k = add_slot(e, pass ? "0" : size,
                         who ? arena_printf(&e->c->arena, "%s %s", who, typestr(e, n->result[i]))
                             : arena_printf(&e->c->arena, "%s result %d %s", e->cname[n->id],
                                            i, typestr(e, n->result[i])),
                         pos, pass ? 0 : est, pass ? 0 : bytes);
        if (i == 0)
          e->slot[n->id] = k;
      }
    if (n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT ||
        n->op == OP_CONV2D_GRAD_WEIGHT || n->op == OP_CONV_TRANSPOSE2D)
      /* im2col scratch: the slot after the value's (with an input
       * transform, an image's transformed input after it) */
      add_slot(e, arena_printf(&e->c->arena, "sizeof(%s) * nnc_conv2d_%sworkspace(&(nnc_conv_shape)%s)",
                               e->real, transformed(n) ? "in_" : pooled(n) ? "pool_" : "",
                               conv_shape(e, n)),
               arena_printf(&e->c->arena, "im2col of %s", e->cname[n->id]), pos,
               conv_scratch_at(e, n, 0), conv_scratch_at(e, n, 1));
    if (n->op == OP_SCAN) /* B of its step's products, packed before the loop */
      for (Node *u = n->body->first; u; u = u->next)
        if (packs_b(e, u, n->body)) {
          Type bt = u->in[1]->type;
          const char *len = arena_printf(
              &e->c->arena, "nnc_gemm_pack_len(%s, %s, NNC_PACK_BYTES / sizeof(%s))",
              dimc(e, u->in[0]->type.dim[1]), dimc(e, bt.dim[1]), e->real);
          Dim kn[2] = {u->in[0]->type.dim[1], bt.dim[1]}; /* about k x n */
          Type pt = {u->type.dtype, 2, kn};
          e->packed[u->id] =
              1 + add_slot(e, arena_printf(&e->c->arena, "sizeof(%s) * %s", e->real, len),
                           arena_printf(&e->c->arena, "%s packed for %s", e->cname[u->in[1]->id],
                                        e->cname[u->id]),
                           pos, estimate(e, pt, 0), estimate(e, pt, 1));
        }
    if ((n->op == OP_MAX_POOL2D || n->op == OP_MAX_POOL2D_GRAD) && transformed(n))
      add_slot(e, arena_printf(&e->c->arena, "sizeof(%s) * nnc_pool2d_in_workspace(&(nnc_pool_shape)%s)",
                               e->real, pool_shape(e, n)),
               arena_printf(&e->c->arena, "transformed input of %s", e->cname[n->id]), pos,
               pool_scratch_at(e, n, 0), pool_scratch_at(e, n, 1));
    if (n->op == OP_FUSED) /* members live in registers */
      for (Node *m = n->body->first; m; m = m->next)
        e->slot[m->id] = -1;
    else if (n->body)
      plan_region(e, n->body, pos);
  }
}

/* The slot holding x's data: views (reshapes, strided views, slices and
 * takes read in place) and `get` resolve to what they read; -1 for none
 * (inputs, parameters, buffers). */
static int slot_of(Emitter *e, Node *x) {
  for (;;) {
    if (x->op == OP_RESHAPE || e->absorbed[x->id] || e->strided[x->id]) {
      x = x->in[0];
      continue;
    }
    if (e->alias[x->id]) {
      x = e->alias[x->id];
      continue;
    }
    if (e->ring[x->id])
      return e->slot[e->ring[x->id]->id];
    if (e->home[x->id])
      return e->slot[e->home[x->id]->id] + e->home_k[x->id];
    if (e->into[x->id] && e->into[x->id]->op == OP_CONCAT) {
      x = e->into[x->id];
      continue;
    }
    if (x->op == OP_GET) {
      Node *s = x->in[0];
      int k = (int)ir_attr_int(x, "index", 0);
      int ny = s->nresult - (int)ir_attr_int(s, "ncarry", 0);
      if (k < ny)
        return e->slot[s->id] < 0 ? -1 : e->slot[s->id] + k;
      x = carry_node(s->body, k - ny);
      continue;
    }
    return e->slot[x->id];
  }
}

/* A concatenation's buffer is written from its first part written in
 * place (find_written). */
static void early_births(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    for (int j = 0; j < 2; j++) {
      Node *t = j ? e->into2[n->id] : e->into[n->id];
      int k = t && t->op == OP_CONCAT ? e->slot[t->id] : -1;
      int at = e->pos[n->op == OP_GET ? n->in[0]->id : n->id]; /* a group's result: the group */
      if (k >= 0 && e->slots[k].birth > at)
        e->slots[k].birth = at;
    }
    if (n->body && n->op != OP_FUSED)
      early_births(e, n->body);
  }
}

static void extend(Emitter *e, Node *x, int at) {
  int k = slot_of(e, x);
  if (k >= 0 && e->slots[k].death < at)
    e->slots[k].death = at;
}

/* Last reads: every operand at its reader's position; scan bodies at the
 * scan's; results and buffer updates (copied out after the body) at the
 * end. A fused node's operands are all its members read. */
static void mark_reads(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    for (int i = 0; i < n->nin; i++)
      extend(e, n->in[i], n->op == OP_UPDATE ? e->npos : e->pos[n->id]);
    if (n->body && n->op != OP_FUSED) {
      mark_reads(e, n->body);
      for (int i = 0; i < n->body->nout; i++)
        extend(e, n->body->out[i], e->pos[n->id]);
    }
  }
}

/* Buffers: slots in order of the position that writes them, each placed in
 * a buffer every earlier slot of which was last read before (the closest
 * in size, one of the same size first); a buffer is as large as its
 * largest slot, computed from the symbolic dimensions in the plan
 * function. Without sharing (-O0) each slot is its own buffer. */
static double aligned(double bytes) { return ceil(bytes / 64) * 64; }

/* The plan at the options' sizes, to plan_out: the workspace against the
 * sum of its values (each in its own buffer); with plan_detail, each
 * buffer's offset and size and the values it holds, with the schedule
 * positions that write and last read them. */
static void report_plan(Emitter *e, Func *fn, const int *order, const int *buf,
                        const int *border, const int *bdx, int nb) {
  FILE *f = e->o->plan_out;
  int n = e->nslots;
  double *size = arena_alloc(&e->c->arena, sizeof(double) * (size_t)(nb + 1));
  double planned = 0, unplanned = 0;
  for (int i = 0; i < n; i++) {
    double b = aligned(e->slots[i].bytes);
    unplanned += b;
    if (b > size[buf[i]])
      size[buf[i]] = b;
  }
  double dx = 0;
  for (int b = 0; b < nb; b++) {
    planned += size[b];
    if (bdx[b])
      dx += size[b];
  }
  fprintf(f, "  %-5s %-20s %10.2f MB planned, %10.2f MB unplanned (%d values in %d buffers)",
          fn->kind == FN_TRAIN ? "train" : "fn", fn->name, planned / 1e6, unplanned / 1e6, n, nb);
  if (dx > 0)
    fprintf(f, "; %.2f MB of it only for input gradients", dx / 1e6);
  fputc('\n', f);
  if (!e->o->plan_detail)
    return;
  double off = 0;
  for (int bi = 0; bi < nb; bi++) {
    int b = border[bi];
    fprintf(f, "    buffer %d: offset %.0f, %.0f bytes%s\n", bi, off, size[b],
            bdx[b] ? " (input gradients only)" : "");
    for (int i = 0; i < n; i++)
      if (buf[order[i]] == b) {
        const Slot *sl = &e->slots[order[i]];
        fprintf(f, "      %-44s %12.0f bytes, written at %d, last read at %d\n", sl->note,
                sl->bytes, sl->birth, sl->death);
      }
    off += size[b];
  }
}

static void plan_buffers(Emitter *e, Func *fn, int share) {
  Arena *a = &e->c->arena;
  int n = e->nslots;
  for (int i = 0; i < fn->body.nout; i++)
    extend(e, fn->body.out[i], e->npos);
  mark_reads(e, &fn->body);
  int *order = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
  for (int i = 0; i < n; i++)
    order[i] = i;
  for (int i = 1; i < n; i++) /* stable by birth */
    for (int j = i; j > 0 && e->slots[order[j - 1]].birth > e->slots[order[j]].birth; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  int *buf = arena_alloc(a, sizeof(int) * (size_t)(n + 1)); /* slot -> buffer */
  int *bdeath = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
  int *bfirst = arena_alloc(a, sizeof(int) * (size_t)(n + 1)); /* its first slot */
  double *best = arena_alloc(a, sizeof(double) * (size_t)(n + 1));
  int *bdx = arena_alloc(a, sizeof(int) * (size_t)(n + 1)); /* buffer holds dx slots */
  int nb = 0;
  for (int i = 0; i < n; i++) {
    Slot *sl = &e->slots[order[i]];
    int pick = -1;
    double score = 0;
    for (int b = 0; share && b < nb; b++) {
      if (bdeath[b] >= sl->birth || bdx[b] != sl->dx)
        continue;
      double d = !strcmp(e->slots[bfirst[b]].size, sl->size) ? -1
                 : best[b] > sl->est                         ? best[b] - sl->est
                                                             : 2 * (sl->est - best[b]);
      if (pick < 0 || d < score)
        pick = b, score = d;
    }
    if (pick < 0) {
      pick = nb++;
      bfirst[pick] = order[i];
      best[pick] = 0;
      bdx[pick] = sl->dx;
    }
    buf[order[i]] = pick;
    bdeath[pick] = sl->death;
    if (sl->est > best[pick])
      best[pick] = sl->est;
  }
  sb_printf(&e->plan, "  size_t b;\n  /* %d values in %d buffers */\n", n, nb);
  /* buffers of values for input gradients only last; off[n] is where they
   * start: all a call without input gradients needs */
  int *border = arena_alloc(a, sizeof(int) * (size_t)(nb + 1));
  int k = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int b = 0; b < nb; b++)
      if (bdx[b] == pass)
        border[k++] = b;
  for (int bi = 0; bi < nb; bi++) {
    int b = border[bi];
    if (bdx[b] && (bi == 0 || !bdx[border[bi - 1]]))
      sb_printf(&e->plan, "  off[%d] = t; /* what follows: input gradients only */\n", n);
    StrBuf offs = {0};
    for (int i = 0, first = 1; i < n; i++) {
      if (buf[order[i]] != b)
        continue;
      Slot *sl = &e->slots[order[i]];
      if (first)
        sb_printf(&e->plan, "  b = NNC_ALIGN(%s); /* %s */\n", sl->size, sl->note);
      else
        sb_printf(&e->plan, "  b = NNC_MAX_SIZE(b, NNC_ALIGN(%s)); /* %s */\n", sl->size,
                  sl->note);
      sb_printf(&offs, "off[%d] = ", order[i]);
      first = 0;
    }
    sb_printf(&e->plan, "  %st; t += b;\n", offs.s);
    sb_free(&offs);
  }
  if (nb == 0 || !bdx[border[nb - 1]])
    sb_printf(&e->plan, "  off[%d] = t;\n", n);
  if (e->o->plan_out)
    report_plan(e, fn, order, buf, border, bdx, nb);
}

static void count_uses(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    for (int i = 0; i < n->nin; i++)
      e->uses[n->in[i]->id]++;
    if (n->body) {
      count_uses(e, n->body);
      for (int i = 0; i < n->body->nout; i++)
        e->uses[n->body->out[i]->id]++;
    }
  }
  for (int i = 0; i < r->nout; i++)
    e->uses[r->out[i]->id]++;
}

/* A slice of unit step read only by fused groups is not copied: it is a
 * pointer into its operand, and the groups read it with the operand's
 * strides (an LSTM's four gates, read in place from the [B, 4H] product). */
static int slice_view(const Node *n) {
  return n->op == OP_SLICE && ir_attr_int(n, "step", 1) == 1;
}

/* A take of one index whose rows are contiguous in its operand (no axis
 * before it longer than 1) is not copied either: a pointer into the
 * operand, set where the index is read (a scan's step reading its slice of
 * a stack: the forward pass's stacked carries and products). Not of a
 * carry, which the step overwrites as it ends. */
static int take_view(const Node *n) {
  if (n->op != OP_TAKE || type_numel_const(n->in[1]->type) != 1)
    return 0;
  const Node *x = n->in[0];
  int ax = (int)ir_attr_int(n, "axis", 0);
  for (int i = 0; i < ax; i++)
    if (!dim_is_const(x->type.dim[i]) || dim_value(x->type.dim[i]) != 1)
      return 0;
  while (x->op == OP_RESHAPE)
    x = x->in[0];
  return x->op != OP_SCAN_CARRY;
}

/* Marks the slices read in place by fused groups and the takes of
 * contiguous rows (e->absorbed; nothing else is ever marked). */
static void find_absorbed(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    e->absorbed[n->id] |= take_view(n);
    if (n->op == OP_FUSED) { /* its operands, and its members' reads of them */
      for (int i = 0; i < n->nin; i++)
        e->absorbed[n->in[i]->id] += slice_view(n->in[i]);
      for (Node *m = n->body->first; m; m = m->next)
        for (int i = 0; i < m->nin; i++)
          e->absorbed[m->in[i]->id] += slice_view(m->in[i]);
    }
    if (n->body && n->op != OP_FUSED)
      find_absorbed(e, n->body);
  }
  for (Node *n = r->first; n; n = n->next)
    if (slice_view(n))
      e->absorbed[n->id] = e->absorbed[n->id] && e->absorbed[n->id] == e->uses[n->id];
}

/* The element offset of parameter `name` in the parameter (and gradient)
 * block. */
static int64_t param_offset(Emitter *e, const char *name) {
  for (int i = 0; i < e->md->params.n; i++)
    if (!strcmp(((ParamDecl *)e->md->params.v[i])->name, name))
      return e->poff[i];
  return 0;
}

/* A weight gradient computed by a plain 2-D matmul that nothing else reads:
 * the GEMM adds it into the gradient block itself (beta 1), with no
 * temporary and no accumulating loop. */
static void find_grad_gemms(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    Node *x = n->op == OP_ACCUM_GRAD ? n->in[0] : NULL;
    if (x && x->op == OP_MATMUL && e->uses[x->id] == 1 && x->type.rank == 2 &&
        x->in[0]->type.rank == 2 && x->in[1]->type.rank == 2)
      e->grad_off[x->id] = param_offset(e, ir_attr(n, "name")->s) + 1;
  }
}

static const char *iv(int k) {
  static const char *const names[] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};
  return names[k];
}

/* ------------------------------------------------------- strided views */

/* A permute, reshape or unit-step slice that only matrix products and
 * copies read, directly or through other such views, is not computed:
 * its readers address its elements in the value below the views with a
 * stride per axis (attention's q, k and v: slices of one biased product,
 * split into heads and read by the per-head GEMMs with a row stride of
 * 3 C; the gradients of the heads, gathered by the concatenation that
 * rejoins them). e->strided marks these nodes. */
#define VIEW_RANK 8
typedef struct MView {
  const Node *base; /* a computed value, stored contiguously */
  Dim off;          /* elements from base's start */
  Dim st[VIEW_RANK];
} MView;

static int view_op(const Node *n) {
  return n->op == OP_PERMUTE || n->op == OP_RESHAPE ||
         (n->op == OP_SLICE && ir_attr_int(n, "step", 1) == 1);
}

static int is_one(Dim d) { return dim_is_const(d) && dim_value(d) == 1; }

/* Strides of the reshape of a view (x's dims, strides st) into `to`, or 0
 * where the view's elements are not evenly spaced in one of the new axes.
 * Each run of new axes matches one old axis (a split) or one old axis a run
 * of old ones (a merge, which needs them contiguous in the view). */
static int reshape_strides(Arena *a, Type x, const Dim *st, Type to, Dim *out) {
  int i = 0, j = 0;
  while (i < x.rank || j < to.rank) {
    if (j < to.rank && is_one(to.dim[j])) { /* any stride serves */
      out[j++] = dim_const(a, 1);
      continue;
    }
    if (i < x.rank && is_one(x.dim[i])) {
      i++;
      continue;
    }
    if (i == x.rank || j == to.rank)
      return 0;
    if (dim_eq(x.dim[i], to.dim[j])) {
      out[j++] = st[i++];
      continue;
    }
    Dim p = to.dim[j]; /* split: new axes j..k of old axis i */
    int k = j;
    while (k + 1 < to.rank && !dim_eq(p, x.dim[i]))
      if (!dim_mul(a, p, to.dim[++k], &p))
        return 0;
    if (dim_eq(p, x.dim[i])) {
      Dim s = st[i];
      for (int q = k; q >= j; q--) {
        out[q] = s;
        if (!dim_mul(a, s, to.dim[q], &s))
          return 0;
      }
      i++, j = k + 1;
      continue;
    }
    p = x.dim[i]; /* merge: old axes i..k into new axis j */
    k = i;
    while (k + 1 < x.rank && !dim_eq(p, to.dim[j])) {
      Dim inner;
      if (!dim_mul(a, st[k + 1], x.dim[k + 1], &inner) || !dim_eq(inner, st[k]) ||
          !dim_mul(a, p, x.dim[++k], &p))
        return 0;
    }
    if (!dim_eq(p, to.dim[j]))
      return 0;
    out[j++] = st[k];
    i = k + 1;
  }
  return 1;
}

/* The view that view op n makes of its operand's view `in`. */
static int view_step(Emitter *e, const Node *n, const MView *in, MView *v) {
  Arena *a = &e->c->arena;
  Type x = n->in[0]->type, t = n->type;
  if (t.rank > VIEW_RANK || x.rank > VIEW_RANK)
    return 0;
  v->base = in->base;
  v->off = in->off;
  if (n->op == OP_PERMUTE) {
    const Attr *p = ir_attr(n, "perm");
    for (int j = 0; j < t.rank; j++)
      v->st[j] = in->st[p->ints[j]];
    return 1;
  }
  if (n->op == OP_SLICE) {
    int ax = (int)ir_attr_int(n, "axis", 0);
    Dim at;
    memcpy(v->st, in->st, sizeof(Dim) * (size_t)t.rank);
    return dim_mul(a, ir_attr(n, "start")->dims[0], in->st[ax], &at) &&
           dim_add(a, in->off, at, &v->off);
  }
  return reshape_strides(a, x, in->st, t, v->st);
}

/* n's elements as a view of a computed value: through the strided views
 * and the transposes folded into GEMMs below it; a computed value is a view
 * of itself. */
static int mview(Emitter *e, const Node *n, MView *v) {
  Arena *a = &e->c->arena;
  if (e->strided[n->id]) {
    MView in;
    return mview(e, n->in[0], &in) && view_step(e, n, &in, v);
  }
  if (n->type.rank > VIEW_RANK)
    return 0;
  v->base = n;
  v->off = dim_const(a, 0);
  Dim s = dim_const(a, 1);
  for (int j = n->type.rank - 1; j >= 0; j--) {
    v->st[j] = s;
    if (!dim_mul(a, s, n->type.dim[j], &s))
      return 0;
  }
  return 1;
}

/* A matrix operand (the last two axes of a view) as BLAS takes it: the
 * transpose flag and the leading dimension. 0 when neither axis has
 * unit stride. */
typedef struct GemmArg {
  MView v;
  int trans;
  Dim ld;
} GemmArg;

/* The flag and leading dimension of view g->v of a value of type t. */
static int matrix_axes(GemmArg *g, Type t) {
  int r = t.rank;
  if (r == 1) {
    g->trans = 0;
    g->ld = t.dim[0];
    return is_one(g->v.st[0]);
  }
  Dim rows = t.dim[r - 2], cols = t.dim[r - 1];
  if (is_one(g->v.st[r - 1]) || is_one(cols)) {
    g->trans = 0;
    g->ld = is_one(rows) ? cols : g->v.st[r - 2];
    return 1;
  }
  if (is_one(g->v.st[r - 2]) || is_one(rows)) {
    g->trans = 1;
    g->ld = is_one(cols) ? rows : g->v.st[r - 1];
    return 1;
  }
  return 0;
}

static int gemm_arg(Emitter *e, const Node *x, GemmArg *g) {
  return mview(e, x, &g->v) && matrix_axes(g, x->type);
}

/* Whether the batch axes and the rows of a plain (untransposed) view are
 * one run of rows, ld apart: then the batch is one GEMM. */
static int rows_merge(Emitter *e, const GemmArg *g, Type t) {
  int r = t.rank;
  Dim want;
  if (!dim_mul(&e->c->arena, g->ld, t.dim[r - 2], &want))
    return 0;
  for (int k = r - 3; k >= 0; k--) {
    if (is_one(t.dim[k]))
      continue;
    if (!dim_eq(g->v.st[k], want) || !dim_mul(&e->c->arena, want, t.dim[k], &want))
      return 0;
  }
  return 1;
}

/* Whether a product of a batch of matrices by one matrix is one GEMM over
 * all the batch's rows with its first operand g. */
static int one_gemm(Emitter *e, const GemmArg *g, Type t) {
  return !g->trans && rows_merge(e, g, t);
}

static int batch_by_one(const Node *u) {
  return u->in[0]->type.rank >= 3 && u->in[1]->type.rank == 2;
}

/* A product of at most 16 columns whose B is a transposed matrix of
 * constant size: the runtime's wide tiles take such a product whole, from
 * a stored B (nnc_sgemm, runtime/conv_kernel.h), reading A once and
 * packing nothing; the transpose is a small copy (a graph network's
 * weights, 16 x 1433, against features of 2708 x 1433). */
static int few_columns(const Node *u) {
  const Type *b = &u->in[1]->type;
  if (u->in[0]->type.dtype != DT_F32 || b->rank != 2 || !dim_is_const(b->dim[0]) ||
      !dim_is_const(b->dim[1]))
    return 0;
  return dim_value(b->dim[0]) * dim_value(b->dim[1]) >= 4096 &&
         dim_value(b->dim[1]) <= 16;
}

/* Whether x is a node of r. */
static int in_region(const Region *r, const Node *x) {
  for (const Node *q = r->first; q; q = q->next)
    if (q == x)
      return 1;
  return 0;
}

/* Whether matmul u of a scan's step has its B packed once before the loop
 * (nnc_gemm_pack_*, then nnc_[sd]gemm_pb at every step): two matrices, B
 * from outside the step (a weight), C plain. A GEMM library packs B again
 * at every step's product: 6.4% of an LSTM's training step. */
static int packs_shape(const Node *u, const Region *step) {
  return u->op == OP_MATMUL && step && u->type.rank == 2 && u->in[0]->type.rank == 2 &&
         u->in[1]->type.rank == 2 && !in_region(step, u->in[1]);
}

static int packs_b(Emitter *e, const Node *u, const Region *step) {
  GemmArg ga, gb;
  return packs_shape(u, step) && !e->into[u->id] && gemm_arg(e, u->in[0], &ga) &&
         !ga.trans && gemm_arg(e, u->in[1], &gb);
}

/* Whether matmul u (in scan body `step`, or NULL) takes its operand i as
 * a view. A batched transposed B does not (attention's per-head products
 * are small, and the runtime's register tiles, faster than OpenBLAS there,
 * take a transposed A but not B: the copy makes it plain), nor a
 * transposed B of few columns (few_columns); a transposed B from outside
 * a step does where it is packed before the loop (packs_shape), which
 * transposes it once; nor does the A of a batch of matrices
 * by one matrix whose rows would not be one GEMM's (a time-major view of a
 * batch-first input: one copy, then one GEMM, rather than a GEMM per
 * step). */
static int matmul_takes(Emitter *e, const Node *u, int i, const Region *step) {
  GemmArg g;
  if (!gemm_arg(e, u->in[i], &g))
    return 0;
  if (i == 0 && batch_by_one(u))
    return one_gemm(e, &g, u->in[0]->type);
  if (i == 1 && g.trans && packs_shape(u, step))
    return 1;
  return !(i == 1 && g.trans && (u->in[1]->type.rank > 2 || few_columns(u)));
}

/* Readers of each strided candidate that take it as a view (step: the
 * innermost scan body r is in, or NULL). */
static void count_view_uses(Emitter *e, Region *r, int *vu, const Region *step) {
  for (Node *u = r->first; u; u = u->next) {
    for (int i = 0; i < u->nin; i++) {
      Node *x = u->in[i];
      MView v;
      if (!e->strided[x->id])
        continue;
      if (e->strided[u->id])
        vu[x->id]++;
      else if (u->op == OP_MATMUL)
        vu[x->id] += matmul_takes(e, u, i, step);
      else if (u->op == OP_PERMUTE || u->op == OP_CONCAT)
        vu[x->id] += mview(e, x, &v); /* copies that gather */
    }
    if (u->body)
      count_view_uses(e, u->body, vu, u->op == OP_SCAN ? u->body : step);
  }
}

static void mark_strided(Emitter *e, Region *r, int on, int *vu, int *changed) {
  for (Node *n = r->first; n; n = n->next) {
    MView v;
    if (on)
      e->strided[n->id] = view_op(n) && !e->absorbed[n->id] && e->uses[n->id] > 0;
    else if (e->strided[n->id] && (vu[n->id] != e->uses[n->id] || !mview(e, n, &v)))
      e->strided[n->id] = 0, *changed = 1;
    if (n->body && n->op != OP_FUSED)
      mark_strided(e, n->body, on, vu, changed);
  }
}

/* Every candidate first, then those with a reader that needs the value
 * stored are stored, until no more are. */
static void find_strided(Emitter *e, Func *fn) {
  int *vu = arena_alloc(&e->c->arena, sizeof(int) * (size_t)(fn->next_id + 1));
  int changed = 1;
  mark_strided(e, &fn->body, 1, vu, &changed);
  while (changed) {
    changed = 0;
    memset(vu, 0, sizeof(int) * (size_t)(fn->next_id + 1));
    count_view_uses(e, &fn->body, vu, NULL);
    mark_strided(e, &fn->body, 0, vu, &changed);
  }
}

/* The reader of each value read once (e->reader), by operand. */
static void find_readers(Emitter *e, Region *r) {
  for (Node *u = r->first; u; u = u->next) {
    for (int i = 0; i < u->nin; i++)
      e->reader[u->in[i]->id] = u;
    if (u->body)
      find_readers(e, u->body);
  }
}

static Node *only_reader(Emitter *e, const Node *x) {
  return e->uses[x->id] == 1 ? e->reader[x->id] : NULL;
}

/* Where a matrix product may write its result, past the transposes and
 * reshapes that alone read it: the concatenation that reads their last
 * (written into its part, which the concatenation then does not copy), or
 * else the first stored transpose (written in its layout, the transpose
 * then an alias of the product's buffer). */
static Node *write_target(Emitter *e, const Node *m, int concat) {
  const Node *x = m;
  Node *u;
  while ((u = only_reader(e, x)) && (u->op == OP_PERMUTE || u->op == OP_RESHAPE)) {
    if (!concat && u->op == OP_PERMUTE && !e->strided[u->id])
      return u;
    x = u;
  }
  return concat && u && u->op == OP_CONCAT ? u : NULL;
}

/* The C of a product that writes into its target (e->into): the target's
 * layout, carried back through the views between them. */
static int c_view(Emitter *e, const Node *n, GemmArg *g) {
  Arena *a = &e->c->arena;
  Node *t = e->into[n->id];
  const Node *chain[64]; /* n, then the views up to t's operand */
  int k = 0;
  for (const Node *x = n; x != t; x = e->reader[x->id])
    if (k == 64)
      return 0;
    else
      chain[k++] = x;
  const Node *x = chain[k - 1];
  MView *v = &g->v;
  if (!mview(e, t, v))
    return 0;
  if (t->op == OP_CONCAT) { /* x's part of t */
    int ax = (int)ir_attr_int(t, "axis", 0);
    Dim at = dim_const(a, 0);
    for (int i = 0; t->in[i] != x; i++)
      dim_add(a, at, t->in[i]->type.dim[ax], &at);
    if (!dim_mul(a, at, v->st[ax], &v->off))
      return 0;
  }
  for (const Node *y = t; ; y = chain[--k]) { /* the view of y's operand */
    Dim st[VIEW_RANK];
    const Type in = y->in[0]->type;
    if (y->op == OP_PERMUTE) {
      const Attr *pm = ir_attr(y, "perm");
      for (int j = 0; j < y->type.rank; j++)
        st[pm->ints[j]] = v->st[j];
    } else if (y->op == OP_RESHAPE) {
      if (in.rank > VIEW_RANK || !reshape_strides(a, y->type, v->st, in, st))
        return 0;
    } else {
      memcpy(st, v->st, sizeof(Dim) * (size_t)in.rank); /* concat: the part's */
    }
    memcpy(v->st, st, sizeof(Dim) * (size_t)in.rank);
    if (k == 1)
      break;
  }
  v->base = t->op == OP_CONCAT ? t : n;
  return matrix_axes(g, n->type);
}

/* Products that write into their target (write_target): e->into holds the
 * target, e->alias maps the transposes that are then aliases to it and
 * e->placed the concatenation's parts already in place (attention's
 * per-head outputs, written straight into [B, T, heads, head size] rows;
 * the gradients of q, k and v, into their thirds of the [B, T, 3 C]
 * gradient). The target is in the same region, and computed for the same
 * input gradients. */
static void find_written(Emitter *e, Region *r) {
  for (Node *m = r->first; m; m = m->next) {
    if (m->body && m->op != OP_FUSED)
      find_written(e, m->body);
    if (m->op != OP_MATMUL || e->strided[m->id] || e->grad_off[m->id] || m->type.rank < 2)
      continue;
    for (int concat = 1; concat >= 0 && !e->into[m->id]; concat--) {
      Node *t = write_target(e, m, concat);
      int here = 0;
      for (Node *q = m->next; q && t && !here; q = q->next)
        here = q == t;
      if (!here || (e->only_dx && e->only_dx[m->id] != e->only_dx[t->id]))
        continue;
      GemmArg g;
      e->into[m->id] = t;
      if (!c_view(e, m, &g) || (batch_by_one(m) && !one_gemm(e, &g, m->type))) {
        e->into[m->id] = NULL; /* (as matmul_takes: one GEMM, then the copy) */
        continue;
      }
      Node *x = m;
      while (e->reader[x->id] != t) { /* the views between: nothing to do */
        x = e->reader[x->id];
        e->strided[x->id] = 1;
      }
      if (t->op == OP_PERMUTE)
        e->alias[t->id] = m;
      else
        e->placed[x->id] = 1;
    }
  }
}

/* Operand k of add a is a bias of product m: a vector along m's last axis
 * (every other axis 1), and the sum has m's shape. */
static int bias_operand(const Node *a, int k, const Node *m) {
  if (a->op != OP_ADD || a->in[k] != m)
    return 0;
  const Node *b = a->in[1 - k];
  return b != m && dtype_is_float(m->type.dtype) && type_row_vector(b->type, m->type) &&
         type_eq(a->type, m->type);
}

static int is_fused_reduction(const Node *m);
static void fused_shape(const Node *fz, Type *S, const char **red, Arena *ar);

/* A fused group's elementwise result that only concatenations read (one or
 * two, each once, after it in the same region) is written into its part
 * there (the gate gradients of an RNN's backward step, written into the
 * [B, 4H] gradient its GEMM reads; the GRU's into two): e->into, e->into2
 * and e->placed. */
static void find_placed(Emitter *e, Region *r) {
  for (Node *g = r->first; g; g = g->next) {
    if (g->body && g->op != OP_FUSED)
      find_placed(e, g->body);
    if (g->op != OP_GET || g->in[0]->op != OP_FUSED || e->home[g->id] || e->into[g->id])
      continue;
    Node *t[2] = {NULL, NULL}, *f = g->in[0];
    int nt = 0, ok = e->uses[g->id] <= 2;
    for (Node *q = g->next; q && ok; q = q->next)
      for (int i = 0; i < q->nin && ok; i++)
        if (q->in[i] == g) {
          ok = q->op == OP_CONCAT && nt < 2 && (!nt || t[0] != q) &&
               (!e->only_dx || e->only_dx[g->id] == e->only_dx[q->id]);
          if (ok)
            t[nt++] = q;
        }
    Node *y = f->body->out[ir_attr_int(g, "index", 0)];
    Type S; /* the group's shape (emit_fused) */
    const char *red;
    fused_shape(f, &S, &red, &e->c->arena);
    ok = ok && nt == e->uses[g->id] && !is_fused_reduction(y) && !e->passthru[y->id] &&
         y->type.rank == S.rank && y->type.rank == t[0]->type.rank;
    for (int q = 0; ok && q < y->type.rank; q++)
      ok = dim_eq(y->type.dim[q], S.dim[q]);
    if (ok)
      e->into[g->id] = t[0], e->into2[g->id] = t[1], e->placed[g->id] = 1;
  }
}

/* Whether value b is there when m runs (m in region r or around it). */
static int ready_before(const Region *r, const Node *b, const Node *m) {
  if (b->op == OP_PARAM || b->op == OP_INPUT || b->op == OP_BUFFER)
    return 1;
  for (const Node *q = r->first; q && q != m; q = q->next)
    if (q == b)
      return 1;
  return 0;
}

/* A matrix product whose one reader adds a bias to it (a Linear layer)
 * starts its C from the bias, rows of it, and the GEMM adds into it (beta
 * 1): no pass that clears C, none that adds the bias. The add is then the
 * product itself: an alias when it stands alone (e->alias), the product's
 * value when it is a fused group's member (e->passthru). e->bias holds the
 * bias by product. */
static void find_biased(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    if (n->body && n->op != OP_FUSED)
      find_biased(e, n->body);
    for (int i = 0; i < n->nin; i++) {
      Node *m = n->in[i], *a = n;
      if (m->op != OP_MATMUL || e->strided[m->id] || e->into[m->id] || e->grad_off[m->id] ||
          e->bias[m->id] || m->type.rank < 2)
        continue;
      if (n->op == OP_FUSED) { /* the one member reading m */
        int readers = 0;
        for (Node *q = n->body->first; q; q = q->next)
          for (int j = 0; j < q->nin; j++)
            if (q->in[j] == m)
              readers++, a = q;
        if (readers != 1 || e->uses[m->id] != 2)
          continue;
      } else if (e->uses[m->id] != 1) {
        continue;
      }
      int k = a->in[0] == m ? 0 : 1;
      if (!bias_operand(a, k, m) || !ready_before(r, a->in[1 - k], m))
        continue;
      e->bias[m->id] = a->in[1 - k];
      if (a == n) {
        e->alias[a->id] = m;
        continue;
      }
      e->passthru[a->id] = 1;
      for (int j = 0; j < n->body->nout; j++) /* a result of the group */
        for (Node *g = n->next; g && g->op == OP_GET && g->in[0] == n; g = g->next)
          if (n->body->out[j] == a && ir_attr_int(g, "index", -1) == j)
            e->alias[g->id] = m;
    }
  }
}

/* ------------------------------------------------------- scan stacks */

/* A value a scan's step computes and stacks along the first axis is
 * written in its stack, at the step's position: the step's pointer to it
 * moves along the stack, and nothing is copied there as the step ends (the
 * forward GEMMs of an RNN that its backward reads). A carry stacked that
 * way, in a scan that runs forwards, lives in its stack too: the step reads
 * it at its position and writes the new value at the next one, which the
 * stack has one more of; nothing is copied back into the carry (an LSTM's
 * h and c). e->home holds the scan, e->home_k the stack, e->home_at 0 or
 * 1 (the position, or the next). */
static int homeable(Emitter *e, const Node *s, const Node *y) {
  int found = 0;
  for (const Node *x = s->body->first; x && !found; x = x->next)
    found = x == y;
  if (!found || e->home[y->id] || e->absorbed[y->id] || e->strided[y->id] || e->alias[y->id] ||
      e->grad_off[y->id] || e->into[y->id])
    return 0;
  if (y->op == OP_GET) /* a fused group's result */
    return y->in[0]->op == OP_FUSED && !e->passthru[y->in[0]->body->out[ir_attr_int(y, "index", 0)]->id];
  return needs_slot(y) && y->op != OP_SCAN_INDEX && !(y->op == OP_CONST || y->op == OP_FULL);
}

static void set_home(Emitter *e, Node *y, Node *s, int k, int at) {
  e->home[y->id] = s;
  e->home_k[y->id] = k;
  e->home_at[y->id] = (char)at;
}

static void find_homes(Emitter *e, Region *r) {
  for (Node *s = r->first; s; s = s->next) {
    if (!s->body || s->op == OP_FUSED)
      continue;
    find_homes(e, s->body);
    if (s->op != OP_SCAN)
      continue;
    Region *b = s->body;
    int nc = (int)ir_attr_int(s, "ncarry", 0), ny = b->nout - nc;
    const Attr *axes = ir_attr(s, "axes");
    for (int k = 0; k < ny; k++) {
      Node *y = b->out[nc + k];
      if (axes->ints[k] != 0)
        continue;
      int i = 0; /* the carry it is, if one */
      while (i < nc && carry_node(b, i) != y)
        i++;
      if (i == nc) {
        int is_new = 0; /* a carry's new value stays where it is */
        for (int j = 0; j < nc; j++)
          is_new |= b->out[j] == y;
        if (!is_new && homeable(e, s, y))
          set_home(e, y, s, k, 0);
        continue;
      }
      Node *nv = b->out[i];
      if (!ir_attr_int(s, "reverse", 0) && nv != y && !e->home[y->id] && homeable(e, s, nv)) {
        set_home(e, y, s, k, 0);
        set_home(e, nv, s, k, 1);
      }
    }
    for (int i = 0; i < nc; i++) { /* the other carries: rings of two */
      Node *cn = carry_node(b, i), *nv = b->out[i];
      if (!cn || nv == cn || e->home[cn->id] || !homeable(e, s, nv))
        continue;
      set_home(e, cn, s, -1, 0);
      set_home(e, nv, s, -1, 1);
      e->ring[cn->id] = e->ring[nv->id] = cn;
    }
  }
}

/* The step's pointer into its stack (at position pos), or into its ring
 * (the half of step stp's parity, the other for a new value), as C. */
static const char *home_expr(Emitter *e, const Node *y, const char *pos, const char *stp) {
  const Node *s = e->home[y->id], *c = e->ring[y->id];
  const char *ct = ctype(e, y->type.dtype), *at = e->home_at[y->id] ? " + 1" : "";
  if (c)
    return arena_printf(&e->c->arena, "(%s *)(w + off[%d]) + ((%s%s) & 1) * %s", ct,
                        e->slot[c->id], stp, at, numelc(e, y->type));
  return arena_printf(&e->c->arena, "(%s *)(w + off[%d]) + (%s%s) * %s", ct,
                      e->slot[s->id] + e->home_k[y->id], pos, at, numelc(e, y->type));
}

/* Offset of an element of view v of a value of type t, as C: off plus, for
 * axes j in [0, upto) longer than 1, loop index lead + j times the axis's
 * stride. */
static const char *vindex(Emitter *e, const MView *v, Type t, int upto, int lead) {
  Arena *a = &e->c->arena;
  StrBuf b = {0};
  if (!dim_is_const(v->off) || dim_value(v->off) != 0)
    sb_printf(&b, "%s", dimc(e, v->off));
  for (int j = 0; j < upto; j++) {
    if (is_one(t.dim[j]))
      continue;
    const char *st = dimc(e, v->st[j]);
    sb_printf(&b, "%s%s%s%s", b.len ? " + " : "", iv(lead + j),
              strcmp(st, "1") ? "*" : "", strcmp(st, "1") ? st : "");
  }
  const char *s = arena_strdup(a, b.len ? b.s : "0");
  sb_free(&b);
  return s;
}

/* ------------------------------------------------------------ values */

/* The C expression of a node's data pointer (after its declaration). */
static const char *ptr(Emitter *e, const Node *n) { return e->cname[n->id]; }

/* Element `idx` of operand n, as C: rank-0 constants inline. */
static const char *elem(Emitter *e, const Node *n, const char *idx) {
  if (n->op == OP_CONST && n->type.rank == 0)
    return dtype_is_float(n->type.dtype)
               ? lit(e, ir_attr_float(n, "value", 0))
               : arena_printf(&e->c->arena, "%lld",
                              (long long)ir_attr_float(n, "value", 0));
  if (n->type.rank == 0)
    return arena_printf(&e->c->arena, "%s[0]", ptr(e, n));
  return arena_printf(&e->c->arena, "%s[%s]", ptr(e, n), idx);
}

/* Declares the pointer of node n at its first appearance. */
/* a * b as C, without a factor 1. */
static const char *times(Emitter *e, const char *a, const char *b) {
  if (!strcmp(a, "0") || !strcmp(b, "0"))
    return "0";
  if (!strcmp(b, "1") || !strcmp(a, "1"))
    return !strcmp(b, "1") ? a : b;
  return arena_printf(&e->c->arena, "%s * %s", a, b);
}

/* A view (a reshape, a slice read in place) of a take's view, directly or
 * through other views: its pointer is known only once the index is read,
 * so it is set where the node runs, not where it is declared. */
static int dynamic_view(Emitter *e, const Node *n) {
  for (n = n->in[0];; n = n->in[0]) {
    if ((n->op == OP_TAKE && e->absorbed[n->id]) || e->home[n->id])
      return 1;
    if (!(n->op == OP_RESHAPE || (n->op == OP_SLICE && e->absorbed[n->id])))
      return 0;
  }
}

/* The pointer a reshape or an in-place slice stands for. */
static const char *view_expr(Emitter *e, const Node *n) {
  const char *ct = ctype(e, n->type.dtype), *at = "0";
  if (n->op == OP_SLICE) {
    Type xt = n->in[0]->type;
    int ax = (int)ir_attr_int(n, "axis", 0);
    at = times(e, dimc(e, ir_attr(n, "start")->dims[0]), prodc(e, &xt, ax + 1, xt.rank));
  }
  return arena_printf(&e->c->arena, "(%s *)%s%s%s", ct, ptr(e, n->in[0]),
                      strcmp(at, "0") ? " + " : "", strcmp(at, "0") ? at : "");
}

static void declare(Emitter *e, Node *n) {
  const char *ct = ctype(e, n->type.dtype), *nm = e->cname[n->id];
  const char *ty = typestr(e, n->type);
  if (e->strided[n->id]) /* its readers address what it views */
    return;
  if (e->home[n->id]) {
    out(e, "%s *%s = NULL; /* %s, in a stack of %s, set each step */\n", ct, nm, ty,
        e->home[n->id]->name);
    return;
  }
  if (e->alias[n->id]) {
    const Node *x = e->alias[n->id];
    out(e, "%s *%s = %s; /* %s, %s %s */\n", ct, nm, ptr(e, x), ty,
        n->op == OP_PERMUTE ? "written in this layout by the product" : "the product",
        x->name);
    return;
  }
  if (e->grad_off[n->id]) {
    out(e, "%s *%s = m->grads + %lld; /* %s, a weight gradient the GEMM adds into */\n", ct, nm,
        (long long)(e->grad_off[n->id] - 1), ty);
    return;
  }
  switch (n->op) {
  case OP_INPUT: return; /* a function argument */
  case OP_PARAM:
  case OP_BUFFER: {
    const char *name = ir_attr(n, "name")->s;
    int64_t off = param_offset(e, name);
    if (n->op == OP_PARAM)
      out(e, "%s *%s = m->params + %lld; /* %s */\n", ct, nm, (long long)off,
          ty);
    else
      out(e, "%s *%s = (%s *)(m->buffers + %lld); /* %s */\n", ct, nm, ct,
          (long long)off, ty);
    return;
  }
  case OP_RESHAPE:
    if (dynamic_view(e, n))
      out(e, "%s *%s = NULL; /* %s, a view of %s, set where made */\n", ct, nm, ty,
          n->in[0]->name);
    else
      out(e, "%s *%s = %s; /* %s, a view */\n", ct, nm, view_expr(e, n), ty);
    return;
  case OP_TAKE:
    if (e->absorbed[n->id]) { /* see take_view */
      out(e, "%s *%s = NULL; /* %s, a view into %s, set where taken */\n", ct, nm, ty,
          n->in[0]->name);
      return;
    }
    break;
  case OP_SLICE:
    if (e->absorbed[n->id]) { /* see slice_view */
      if (dynamic_view(e, n))
        out(e, "%s *%s = NULL; /* %s, a view of %s, set where made */\n", ct, nm, ty,
            n->in[0]->name);
      else
        out(e, "%s *%s = %s; /* %s, a view of %s */\n", ct, nm, view_expr(e, n), ty,
            n->in[0]->name);
      return;
    }
    break;
  case OP_ACCUM_GRAD: /* its parameter's block of m->grads */
    if (!e->grad_off[n->in[0]->id])
      out(e, "%s *%s = m->grads + %lld; /* %s, the gradient of %s */\n", ct, nm,
          (long long)param_offset(e, ir_attr(n, "name")->s), ty, ir_attr(n, "name")->s);
    return;
  case OP_INPUT_GRAD: case OP_UPDATE: case OP_MINIMIZE:
  case OP_SCAN: case OP_GET: case OP_FUSED:
    return;
  default:
    break;
  }
  if (e->slot[n->id] < 0)
    return;
  out(e, "%s *%s = (%s *)(w + off[%d]); /* %s */\n", ct, nm, ct,
      e->slot[n->id], ty);
}

/* ------------------------------------------------------------ loops */


static void open_loops(Emitter *e, Type t) {
  for (int k = 0; k < t.rank; k++) {
    out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(k), iv(k),
        dimc(e, t.dim[k]), iv(k));
    e->indent++;
  }
}

static void close_loops(Emitter *e, Type t) { e->indent -= t.rank; }

/* Flat index of an operand of type t read at the loop indices of an output
 * of rank `rank` (right-aligned, size-1 axes broadcast). */
static const char *bindex(Emitter *e, Type t, int rank) {
  StrBuf b = {0};
  int lead = rank - t.rank;
  for (int j = 0; j < t.rank; j++) {
    if (dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1)
      continue;
    const char *st = prodc(e, &t, j + 1, t.rank);
    sb_printf(&b, "%s%s%s%s", b.len ? " + " : "", iv(lead + j),
              strcmp(st, "1") ? "*" : "", strcmp(st, "1") ? st : "");
  }
  const char *s = arena_strdup(&e->c->arena, b.len ? b.s : "0");
  sb_free(&b);
  return s;
}

/* The expression of an elementwise op on its operands' elements. */
static const char *ew_expr(Emitter *e, Node *n, const char **a) {
  Arena *ar = &e->c->arena;
  const char *x = a[0], *y = n->nin > 1 ? a[1] : NULL;
  int fl = dtype_is_float(n->type.dtype);
  switch (n->op) {
  case OP_NEG: return arena_printf(ar, "-%s", x);
  case OP_EXP: return arena_printf(ar, "%s(%s)", fn(e, "exp"), x);
  case OP_LOG: return arena_printf(ar, "%s(%s)", fn(e, "log"), x);
  case OP_SQRT: return arena_printf(ar, "%s(%s)", fn(e, "sqrt"), x);
  case OP_RSQRT: return arena_printf(ar, "%s / %s(%s)", lit(e, 1), fn(e, "sqrt"), x);
  case OP_ABS:
    return fl ? arena_printf(ar, "%s(%s)", fn(e, "fabs"), x)
              : arena_printf(ar, "(%s < 0 ? -%s : %s)", x, x, x);
  case OP_SIGN: return arena_printf(ar, "(%s)((%s > 0) - (%s < 0))", ctype(e, n->type.dtype), x, x);
  case OP_SIN: return arena_printf(ar, "%s(%s)", fn(e, "sin"), x);
  case OP_COS: return arena_printf(ar, "%s(%s)", fn(e, "cos"), x);
  case OP_TANH: return arena_printf(ar, "%s(%s)", fn(e, "tanh"), x);
  case OP_SIGMOID: return arena_printf(ar, "%s / (%s + %s(-%s))", lit(e, 1), lit(e, 1), fn(e, "exp"), x);
  case OP_RELU: return arena_printf(ar, "(%s > 0 ? %s : 0)", x, x);
  case OP_LEAKY_RELU:
    return arena_printf(ar, "(%s > 0 ? %s : %s * %s)", x, x, lit(e, ir_attr_float(n, "slope", 0.01)), x);
  case OP_ELU:
    return arena_printf(ar, "(%s > 0 ? %s : %s * (%s(%s) - %s))", x, x,
                        lit(e, ir_attr_float(n, "alpha", 1)), fn(e, "exp"), x, lit(e, 1));
  case OP_GELU: {
    const Attr *ap = ir_attr(n, "approximate");
    if (ap && !strcmp(ap->s, "tanh"))
      return arena_printf(ar, "%s * %s * (%s + %s(%s * (%s + %s * %s * %s * %s)))", lit(e, 0.5), x,
                          lit(e, 1), fn(e, "tanh"), lit(e, 0.7978845608028654), x,
                          lit(e, 0.044715), x, x, x);
    if (e->o->real == DT_F32) /* x Phi(x), Phi's small side kept accurate */
      return arena_printf(ar, "nnc_geluf(%s)", x);
    return arena_printf(ar, "%s * %s * (%s + %s(%s * %s))", lit(e, 0.5), x, lit(e, 1),
                        fn(e, "erf"), x, lit(e, 0.70710678118654752));
  }
  case OP_GELU_GRAD: {
    const Attr *ap = ir_attr(n, "approximate");
    if (ap && !strcmp(ap->s, "tanh")) { /* d/dx 0.5 x (1 + tanh u) */
      const char *u = arena_printf(ar, "%s(%s * (%s + %s * %s * %s * %s))", fn(e, "tanh"),
                                   lit(e, 0.7978845608028654), x, lit(e, 0.044715), x, x, x);
      return arena_printf(ar, "%s * (%s * (%s + %s) + %s * %s * (%s - %s * %s) * %s * (%s + %s * %s * %s))",
                          y, lit(e, 0.5), lit(e, 1), u, lit(e, 0.5), x, lit(e, 1), u, u,
                          lit(e, 0.7978845608028654), lit(e, 1), lit(e, 3 * 0.044715), x, x);
    }
    if (e->o->real == DT_F32) /* one exponential for erf's tail and phi */
      return arena_printf(ar, "%s * nnc_gelu_gradf(%s)", y, x);
    return arena_printf(ar, "%s * (%s * (%s + %s(%s * %s)) + %s * %s(%s * %s * %s) * %s)", y,
                        lit(e, 0.5), lit(e, 1), fn(e, "erf"), x, lit(e, 0.70710678118654752),
                        x, fn(e, "exp"), lit(e, -0.5), x, x, lit(e, 0.3989422804014327));
  }
  case OP_SOFTPLUS:
    return arena_printf(ar, "(%s > 20 ? %s : %s(%s(%s)))", x, x, fn(e, "log1p"), fn(e, "exp"), x);
  case OP_NOT: return arena_printf(ar, "!%s", x);
  case OP_CAST: return arena_printf(ar, "(%s)%s", ctype(e, n->type.dtype), x);
  case OP_DETACH: return x;
  case OP_EXPAND: return x;
  case OP_ADD: return arena_printf(ar, "%s + %s", x, y);
  case OP_SUB: return arena_printf(ar, "%s - %s", x, y);
  case OP_MUL: return arena_printf(ar, "%s * %s", x, y);
  case OP_DIV: return arena_printf(ar, "%s / %s", x, y);
  case OP_POW: return arena_printf(ar, "%s(%s, %s)", fn(e, "pow"), x, y);
  case OP_MAXIMUM: return arena_printf(ar, "(%s > %s ? %s : %s)", x, y, x, y);
  case OP_MINIMUM: return arena_printf(ar, "(%s < %s ? %s : %s)", x, y, x, y);
  case OP_AND: return arena_printf(ar, "(%s && %s)", x, y);
  case OP_OR: return arena_printf(ar, "(%s || %s)", x, y);
  case OP_EQ: return arena_printf(ar, "(%s == %s)", x, y);
  case OP_NE: return arena_printf(ar, "(%s != %s)", x, y);
  case OP_LT: return arena_printf(ar, "(%s < %s)", x, y);
  case OP_LE: return arena_printf(ar, "(%s <= %s)", x, y);
  case OP_GT: return arena_printf(ar, "(%s > %s)", x, y);
  case OP_GE: return arena_printf(ar, "(%s >= %s)", x, y);
  case OP_WHERE: return arena_printf(ar, "(%s ? %s : %s)", x, y, a[2]);
  default: return "0";
  }
}

/* Loop groups of an elementwise op: output axes merged where every
 * operand steps alike (each present, or each broadcast, on all of them),
 * so that the innermost loop runs over one long contiguous row. Axes of
 * size 1 index nothing and are dropped. */
enum { MAX_LOOPS = 8 }; /* loop counters i0..i7 (iv) */
typedef struct EwGroups {
  int n;
  Dim len[MAX_LOOPS];
  const char *ostride[MAX_LOOPS];   /* output stride of each group */
  const char *stride[3][MAX_LOOPS]; /* operand stride, NULL: broadcast */
} EwGroups;

/* Whether output axis j of rank `rank` reads operand type t (right-aligned;
 * an operand axis of size 1 broadcasts). */
static int ew_present(Type t, int rank, int j) {
  int k = j - (rank - t.rank);
  return k >= 0 && !(dim_is_const(t.dim[k]) && dim_value(t.dim[k]) == 1);
}

/* Whether output axes j and `last` of rank `rank` step alike on every
 * operand (each present on both, or broadcast on both), so that one loop
 * can run over both. */
static int steps_alike(Node *const *ops, int nops, int rank, int j, int last) {
  for (int i = 0; i < nops; i++)
    if (ew_present(ops[i]->type, rank, j) != ew_present(ops[i]->type, rank, last))
      return 0;
  return 1;
}

static void ew_groups(Emitter *e, Node *n, EwGroups *g) {
  Arena *ar = &e->c->arena;
  Type t = n->type;
  int last = -1; /* output axis ending the group being built */
  g->n = 0;
  for (int j = 0; j < t.rank; j++) {
    if (dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1)
      continue;
    if (last >= 0 && steps_alike(n->in, n->nin, t.rank, j, last))
      dim_mul(ar, g->len[g->n - 1], t.dim[j], &g->len[g->n - 1]);
    else
      g->len[g->n++] = t.dim[j];
    last = j;
    /* strides are those of the group's last axis */
    g->ostride[g->n - 1] = prodc(e, &t, j + 1, t.rank);
    for (int i = 0; i < n->nin; i++) {
      Type it = n->in[i]->type;
      int k = j - (t.rank - it.rank);
      g->stride[i][g->n - 1] =
          ew_present(it, t.rank, j) ? prodc(e, &it, k + 1, it.rank) : NULL;
    }
  }
}

/* sum over the groups of i<g>*stride, as C; `last` stands for the
 * innermost group's counter */
static const char *ew_index(Emitter *e, const EwGroups *g,
                            const char *const *stride, const char *last) {
  StrBuf b = {0};
  for (int k = 0; k < g->n; k++)
    if (stride[k])
      sb_printf(&b, "%s%s%s%s", b.len ? " + " : "",
                k == g->n - 1 ? last : iv(k), strcmp(stride[k], "1") ? "*" : "",
                strcmp(stride[k], "1") ? stride[k] : "");
  const char *s = arena_strdup(&e->c->arena, b.len ? b.s : "0");
  sb_free(&b);
  return s;
}

/* The statement computing element `last` of the innermost row: operands
 * are loaded first, so that `where` reads both branches unconditionally
 * and compilers may vectorise it. */
static const char *ew_body(Emitter *e, Node *n, const EwGroups *g,
                           const char *last) {
  Arena *ar = &e->c->arena;
  StrBuf b = {0};
  const char *v[3] = {0};
  int loads = 0;
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (x->op == OP_CONST && x->type.rank == 0) {
      v[i] = elem(e, x, "0");
      continue;
    }
    v[i] = arena_printf(ar, "v%d", i);
    sb_printf(&b, "const %s v%d = a%d[%s]; ", ctype(e, x->type.dtype), i, i,
              ew_index(e, g, g->stride[i], last));
    loads++;
  }
  sb_printf(&b, "r[%s] = %s;", ew_index(e, g, g->ostride, last),
            ew_expr(e, n, v));
  const char *s = arena_printf(ar, loads ? "{ %s }" : "%s", b.s);
  sb_free(&b);
  return s;
}

/* The statement for element `idx` of the innermost row; `lane` is the
 * partial-sum lane (k inside a block of 8, 0 in the remainder). */
typedef const char *RowBody(Emitter *e, void *ctx, const char *idx,
                            const char *lane);

/* The innermost loop over `len` elements: blocks of 8 with a constant
 * inner trip count, which gcc vectorises at -O2 (its cheap cost model
 * refuses loops whose trip count it cannot prove a multiple of the vector
 * length), then the remainder. */
static void row_loop(Emitter *e, const char *l, int64_t known, const char *var,
                     int nested, int wide, RowBody *body, void *ctx) {
  if (known >= 0 && known < 8) { /* known: the length, -1 when symbolic */
    out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", var, var, l, var);
    out(e, "  %s\n", body(e, ctx, var, "0"));
    return;
  }
  const char *vb = wide && (known < 0 || known >= 16) ? "NNC_VB" : "8";
  if (nested)
    out(e, "{\n"), e->indent++;
  out(e, "int64_t %s = 0;\n", var);
  out(e, "for (; %s + %s <= %s; %s += %s)\n", var, vb, l, var, vb);
  out(e, "  NNC_IVDEP\n");
  out(e, "  for (int k = 0; k < %s; k++)\n", vb);
  out(e, "    %s\n", body(e, ctx, arena_printf(&e->c->arena, "(%s + k)", var), "k"));
  if (known < 0 || known % (*vb == 'N' ? 16 : 8)) {
    if (known >= 0) /* from where the blocks end, as a constant: carried on
                     * from the blocks, gcc -O2 warns of a bogus overflow
                     * (-Waggressive-loop-optimizations) where they end on
                     * the length */
      out(e, "for (%s = %lld / %s * %s; %s < %s; %s++)\n", var, (long long)known, vb, vb, var,
          l, var);
    else
      out(e, "for (; %s < %s; %s++)\n", var, l, var);
    out(e, "  %s\n", body(e, ctx, var, "0"));
  }
  if (nested)
    e->indent--, out(e, "}\n");
}


typedef struct EwRow {
  Node *n;
  const EwGroups *g;
  const char *base; /* start of the row's chunk, or "" */
} EwRow;

static const char *ew_row(Emitter *e, void *ctx, const char *idx,
                          const char *lane) {
  (void)lane;
  EwRow *r = ctx;
  return ew_body(e, r->n, r->g, arena_printf(&e->c->arena, "%s%s", r->base, idx));
}

/* Threads (NNC_PARALLEL, OpenMP builds only): the outermost loop of an
 * elementwise or fused loop nest, over `work` elements in all. A single
 * flat row long enough to share runs as chunks of 4096 (an outer loop
 * OpenMP can split), each chunk a row at base "c0 + ". */
enum { PAR_CHUNK = 4096 };

static int flat_parallel(Dim len) {
  return !dim_is_const(len) || dim_value(len) >= 65536;
}

static void flat_rows(Emitter *e, Dim len, const char *var, const char **base,
                      RowBody *body, void *ctx) {
  const char *l = dimc(e, len);
  out(e, "NNC_PARALLEL(%s)\n", l);
  out(e, "for (int64_t c0 = 0; c0 < %s; c0 += %d) {\n", l, PAR_CHUNK);
  e->indent++;
  out(e, "const int64_t cn = %s - c0 < %d ? %s - c0 : %d;\n", l, PAR_CHUNK, l, PAR_CHUNK);
  *base = "c0 + ";
  row_loop(e, "cn", -1, var, 0, 1, body, ctx);
  *base = "";
  e->indent--;
  out(e, "}\n");
}

/* Operands and result through restrict pointers a0.., r: every value has
 * its own workspace slot, so a result never overlaps its operands. */
static void emit_elementwise(Emitter *e, Node *n) {
  EwGroups g;
  ew_groups(e, n, &g);
  out(e, "{\n");
  e->indent++;
  out(e, "%s *restrict r = %s;\n", ctype(e, n->type.dtype), ptr(e, n));
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (!(x->op == OP_CONST && x->type.rank == 0))
      out(e, "const %s *restrict a%d = %s;\n", ctype(e, x->type.dtype), i,
          ptr(e, x));
  }
  if (g.n == 0) {
    out(e, "%s\n", ew_body(e, n, &g, "0"));
  } else {
    EwRow row = {n, &g, ""};
    Dim L = g.len[g.n - 1];
    if (g.n == 1 && flat_parallel(L)) {
      flat_rows(e, L, iv(0), &row.base, ew_row, &row);
    } else {
      for (int k = 0; k < g.n - 1; k++) {
        if (k == 0)
          out(e, "NNC_PARALLEL(%s)\n", numelc(e, n->type));
        out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(k), iv(k),
            dimc(e, g.len[k]), iv(k));
        e->indent++;
      }
      row_loop(e, dimc(e, L), dim_known(L), iv(g.n - 1), g.n > 1, 1, ew_row, &row);
      e->indent -= g.n - 1;
    }
  }
  e->indent--;
  out(e, "}\n");
}

/* ------------------------------------------------------- fused groups */

/* A fused node (fuse.c) runs as one loop nest over its shape S: every
 * member is a local value per element, operands from outside are read
 * through a<k>, yielded members are stored through r<k>, and reductions
 * add into 8 partial sums per result (as emit_reduce_sum). Loops merge
 * adjacent axes on which every operand steps alike; with reductions the
 * kept axes run outside and the reduced ones inside. */
typedef struct Fused {
  Node *n;
  Type S;
  const char *red; /* reduced axes of S, NULL: none */
  int next;
  Node **ext;      /* operands read from memory */
  int ng;
  Dim len[MAX_LOOPS];
  char gred[MAX_LOOPS];
  const char *sst[MAX_LOOPS];  /* stride in S */
  const char *rst[MAX_LOOPS];  /* stride in a reduction's result (kept) */
  const char **xst;            /* [next][MAX_LOOPS], NULL: broadcast */
  const char *base;            /* start of the innermost row's chunk, or "" */
  Node **part;                 /* [result][2]: the concatenations it is a part
                                  of (find_placed), else NULL */
  int *pax;                    /* [result][2]: their axes */
  const char **ost;            /* [result][2][MAX_LOOPS]: strides there */
  /* stages (ir_fused_stages): by member, in body order */
  int nstage, now;             /* their number; the one whose rows run */
  int *stage;
  char *need;                  /* the members the running stage's rows make */
  char *kept;                  /* a kept member: one value per kept index */
  int nkext;
  Node **kext;                 /* operands only kept members read: k<i> */
  int wide;                    /* rows in blocks of NNC_VB: a reduction's values
                                  go to w<i>[k] (red_rows) */
  uint64_t wrote;              /* the reductions whose w<i> a row writes */
} Fused;

static int is_literal(const Node *x) { return x->op == OP_CONST && x->type.rank == 0; }

static int member_of(const Node *fz, const Node *x) {
  for (const Node *m = fz->body->first; m; m = m->next)
    if (m == x)
      return 1;
  return 0;
}

static int is_fused_reduction(const Node *m) { return m->op == OP_SUM || m->op == OP_MEAN; }

/* A fused group's shape S (what its reductions read; else its members'
 * shape) and reduced axes (NULL: none). */
static void fused_shape(const Node *fz, Type *S, const char **red, Arena *ar) {
  *red = NULL;
  for (const Node *m = fz->body->first; m; m = m->next)
    if (is_fused_reduction(m)) {
      *S = m->in[0]->type;
      *red = ir_reduced_axes(ar, m);
      return;
    }
  *S = fz->body->first->type;
}

static void fused_loops(Emitter *e, Fused *F) {
  Arena *ar = &e->c->arena;
  Type S = F->S;
  int last = -1;
  F->ng = 0;
  for (int j = 0; j < S.rank; j++) {
    if (dim_is_const(S.dim[j]) && dim_value(S.dim[j]) == 1)
      continue;
    int cut = 0; /* the sliced axis of a view operand starts a loop of its own,
                    as does the axis of a concatenation a result is part of */
    for (int i = 0; i < F->next; i++)
      cut |= F->ext[i]->op == OP_SLICE && e->absorbed[F->ext[i]->id] &&
             ir_attr_int(F->ext[i], "axis", 0) == j - (S.rank - F->ext[i]->type.rank);
    for (int k = 0; k < 2 * F->n->body->nout; k++)
      cut |= F->part[k] && F->pax[k] == j;
    if (last >= 0 && !cut && (!F->red || F->red[j] == F->red[last]) &&
        steps_alike(F->ext, F->next, S.rank, j, last))
      dim_mul(ar, F->len[F->ng - 1], S.dim[j], &F->len[F->ng - 1]);
    else
      F->len[F->ng] = S.dim[j], F->gred[F->ng++] = F->red ? F->red[j] : 0;
    last = j;
    F->sst[F->ng - 1] = prodc(e, &S, j + 1, S.rank);
    for (int k = 0; k < 2 * F->n->body->nout; k++)
      if (F->part[k])
        F->ost[k * MAX_LOOPS + F->ng - 1] = prodc(e, &F->part[k]->type, j + 1, S.rank);
    for (int i = 0; i < F->next; i++) {
      Node *x = F->ext[i];
      Type it = x->type;
      Type mem = x->op == OP_SLICE && e->absorbed[x->id] ? x->in[0]->type : it;
      F->xst[i * MAX_LOOPS + F->ng - 1] =
          ew_present(it, S.rank, j) ? prodc(e, &mem, j - (S.rank - it.rank) + 1, it.rank)
                                    : NULL;
    }
  }
  for (int g = 0; g < F->ng; g++) {
    Dim st = dim_const(ar, 1);
    for (int k = g + 1; k < F->ng; k++)
      if (!F->gred[k])
        dim_mul(ar, st, F->len[k], &st);
    F->rst[g] = F->gred[g] ? NULL : dimc(e, st);
  }
}

/* sum of i<g>*stride[g] over the loop groups, the innermost as `last` */
static const char *fused_index(Emitter *e, const Fused *F, const char *const *st,
                               const char *last) {
  StrBuf b = {0};
  for (int g = 0; g < F->ng; g++)
    if (st[g])
      sb_printf(&b, "%s%s%s%s", b.len ? " + " : "", g == F->ng - 1 ? last : iv(g),
                strcmp(st[g], "1") ? "*" : "", strcmp(st[g], "1") ? st[g] : "");
  const char *s = arena_strdup(&e->c->arena, b.len ? b.s : "0");
  sb_free(&b);
  return s;
}

static const char *local(Emitter *e, const Node *m) {
  return arena_printf(&e->c->arena, "v_%s", e->cname[m->id]);
}

static int yield_index(const Node *fz, const Node *m) {
  for (int k = 0; k < fz->body->nout; k++)
    if (fz->body->out[k] == m)
      return k;
  return -1;
}

/* A member's place in the body. */
static int member_pos(const Fused *F, const Node *x) {
  int k = 0;
  for (const Node *m = F->n->body->first; m && m != x; m = m->next)
    k++;
  return k;
}

/* The value of member or operand x inside the loop body. */
static const char *fused_value(Emitter *e, const Fused *F, const Node *x) {
  if (is_literal(x))
    return elem(e, x, "0");
  while (x->op == OP_RESHAPE && member_of(F->n, x)) /* a view: its source's value */
    x = x->in[0];
  if (member_of(F->n, x))
    return local(e, x);
  for (int i = 0; i < F->next; i++)
    if (F->ext[i] == x)
      return arena_printf(&e->c->arena, "e%d", i);
  return "0";
}

/* Operand or member x as a kept member reads it: one value per kept index
 * (ridx: the index in the reductions' results). */
static const char *kept_value(Emitter *e, const Fused *F, const Node *x, const char *ridx) {
  if (is_literal(x) || member_of(F->n, x))
    return fused_value(e, F, x);
  const char *idx = type_numel_const(x->type) == 1 ? "0" : ridx;
  for (int i = 0; i < F->next; i++)
    if (F->ext[i] == x)
      return arena_printf(&e->c->arena, "a%d[%s]", i, idx);
  for (int i = 0; i < F->nkext; i++)
    if (F->kext[i] == x)
      return arena_printf(&e->c->arena, "k%d[%s]", i, idx);
  return "0";
}

/* Member m's value: in a row (ridx NULL), from its operands' values per
 * element; a kept member's, per kept index ridx. */
static const char *member_expr(Emitter *e, const Fused *F, Node *m, const char *ridx) {
  if (m->op == OP_FULL || m->op == OP_CONST)
    return dtype_is_float(m->type.dtype)
               ? lit(e, ir_attr_float(m, "value", 0))
               : arena_printf(&e->c->arena, "%lld", (long long)ir_attr_float(m, "value", 0));
  const char *a[3] = {0};
  for (int i = 0; i < m->nin && i < 3; i++)
    a[i] = ridx ? kept_value(e, F, m->in[i], ridx) : fused_value(e, F, m->in[i]);
  return ridx || !e->passthru[m->id] ? ew_expr(e, m, a)
         : a[m->in[0]->op == OP_MATMUL && e->bias[m->in[0]->id] ? 0 : 1];
}

static const char *fused_row(Emitter *e, void *ctx, const char *idx,
                             const char *lane) {
  Fused *F = ctx;
  Arena *ar = &e->c->arena;
  StrBuf b = {0};
  idx = arena_printf(ar, "%s%s", F->base, idx);
  for (int i = 0; i < F->next; i++) {
    int used = !F->stage, pos = 0;
    for (Node *m = F->n->body->first; m && !used; m = m->next, pos++)
      for (int k = 0; k < m->nin && F->need[pos] == 1; k++)
        used |= m->in[k] == F->ext[i];
    if (used)
      sb_printf(&b, "const %s e%d = a%d[%s]; ", ctype(e, F->ext[i]->type.dtype), i, i,
                fused_index(e, F, &F->xst[i * MAX_LOOPS], idx));
  }
  int red = 0, pos = 0;
  for (Node *m = F->n->body->first; m; m = m->next, pos++) {
    if (F->stage && !F->need[pos]) { /* rows of earlier stages made again where read */
      red += is_fused_reduction(m);
      continue;
    }
    if (is_fused_reduction(m)) {
      if (F->wide) {
        sb_printf(&b, "w%d[%s] = %s; ", red, lane, fused_value(e, F, m->in[0]));
        if (red < 64)
          F->wrote |= (uint64_t)1 << red;
        else /* more sums than the mask holds: red_rows keeps blocks of 8 */
          F->wide = 2;
        red++;
        continue;
      }
      sb_printf(&b, "p%d[%s] += %s; ", red++, lane, fused_value(e, F, m->in[0]));
      continue;
    }
    if (F->stage && F->need[pos] == 2) { /* an earlier stage's yield */
      int k = yield_index(F->n, m);
      sb_printf(&b, "const %s %s = r%d[%s]; ", ctype(e, m->type.dtype), local(e, m), k,
                fused_index(e, F, F->part[2 * k] ? &F->ost[2 * k * MAX_LOOPS] : F->sst, idx));
      continue;
    }
    sb_printf(&b, "const %s %s = %s; ", ctype(e, m->type.dtype), local(e, m),
              member_expr(e, F, m, NULL));
  }
  for (int k = 0; k < F->n->body->nout; k++) {
    Node *y = F->n->body->out[k];
    if (F->stage && (F->kept[member_pos(F, y)] || F->stage[member_pos(F, y)] != F->now))
      continue;
    if (!is_fused_reduction(y) && !e->passthru[y->id])
      sb_printf(&b, "r%d[%s] = %s; ", k,
                fused_index(e, F, F->part[2 * k] ? &F->ost[2 * k * MAX_LOOPS] : F->sst, idx),
                local(e, y));
    if (F->part[2 * k + 1])
      sb_printf(&b, "q%d[%s] = %s; ", k,
                fused_index(e, F, &F->ost[(2 * k + 1) * MAX_LOOPS], idx), local(e, y));
  }
  b.s[b.len - 1] = 0; /* the last blank */
  const char *s = arena_printf(ar, "{ %s }", b.s);
  sb_free(&b);
  return s;
}

/* The innermost row of a fused group's reductions. Where the row calls
 * the runtime's float math (nnc_expf, nnc_logf, ...: bound by its
 * arithmetic, as a VAE's binary cross-entropy), blocks of NNC_VB elements
 * (16 where gcc targets AVX-512) whose values go to w<i>[k], then into
 * the 8 float partial sums p<i>, 8 at a time in order, as blocks of 8
 * would add them; then one more block of 8 and the rest one at a time, as
 * elsewhere. The sums come out the same whatever NNC_VB is. */
static void red_rows(Emitter *e, const char *l, int64_t known, const char *var, Fused *F) {
  if (known >= 0 && known < 8) {
    out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", var, var, l, var);
    out(e, "  %s\n", fused_row(e, F, var, "0"));
    return;
  }
  const char *body = NULL;
  if (known >= 16 || known < 0) {
    F->wide = 1, F->wrote = 0;
    body = fused_row(e, F, arena_printf(&e->c->arena, "(%s + k)", var), "k");
    if (F->wide == 2 || !strstr(body, "nnc_")) /* no float math: memory-bound, */
      body = NULL; /* and the values' trip through w<i> cost 2% */
    F->wide = 0;
  }
  if (body) {
    StrBuf wd = {0}, fold = {0};
    for (int i = 0; i < 64; i++)
      if (F->wrote >> i & 1) {
        sb_printf(&wd, "%sw%d[NNC_VB]", wd.len ? ", " : "", i);
        sb_printf(&fold, "%sp%d[k] += w%d[j + k];", fold.len ? " " : "", i, i);
      }
    out(e, "int64_t %s = 0;\n", var);
    out(e, "for (; %s + NNC_VB <= %s; %s += NNC_VB) {\n", var, l, var);
    e->indent++;
    if (wd.len) /* else this stage's rows add into no sum */
      out(e, "%s %s;\n", e->real, wd.s);
    out(e, "NNC_IVDEP\n");
    out(e, "for (int k = 0; k < NNC_VB; k++)\n");
    out(e, "  %s\n", body);
    if (fold.len) {
      out(e, "for (int j = 0; j < NNC_VB; j += 8)\n");
      out(e, "  for (int k = 0; k < 8; k++)\n");
      out(e, "    { %s }\n", fold.s);
    }
    e->indent--;
    out(e, "}\n");
    sb_free(&wd);
    sb_free(&fold);
    out(e, "for (; %s + 8 <= %s; %s += 8)\n", var, l, var);
  } else {
    out(e, "int64_t %s = 0;\n", var);
    out(e, "for (; %s + 8 <= %s; %s += 8)\n", var, l, var);
  }
  out(e, "  NNC_IVDEP\n");
  out(e, "  for (int k = 0; k < 8; k++)\n");
  out(e, "    %s\n", fused_row(e, F, arena_printf(&e->c->arena, "(%s + k)", var), "k"));
  if (known < 0 || known % 8) {
    out(e, "for (; %s < %s; %s++)\n", var, l, var);
    out(e, "  %s\n", fused_row(e, F, var, "0"));
  }
}

/* Whether fused group n reads x only as the bias its products start from
 * (find_biased): then not at all. */
static int bias_only(Emitter *e, const Node *n, const Node *x) {
  int reads = 0;
  for (const Node *m = n->body->first; m; m = m->next)
    for (int i = 0; i < m->nin; i++)
      if (m->in[i] == x) {
        if (!e->passthru[m->id] || e->bias[m->in[1 - i]->id] != x)
          return 0;
        reads++;
      }
  return reads > 0;
}

/* The kept members of stage s, in order (views need no code). */
static void fused_kept(Emitter *e, Fused *F, int s, const char *ridx) {
  int pos = 0;
  for (Node *m = F->n->body->first; m; m = m->next, pos++) {
    if (!F->kept[pos] || F->stage[pos] != s || m->op == OP_RESHAPE)
      continue;
    out(e, "const %s %s = %s;\n", ctype(e, m->type.dtype), local(e, m),
        member_expr(e, F, m, ridx));
    int k = yield_index(F->n, m);
    if (k >= 0)
      out(e, "r%d[%s] = %s;\n", k, ridx, local(e, m));
  }
}

/* A group in stages, inside its kept loops: per stage, the rows over the
 * reduced axes (the stage's row members, those of earlier stages made
 * again where read, its reductions' partial sums), then its reductions'
 * values and the kept members that read them. */
static void fused_staged(Emitter *e, Fused *F) {
  Arena *ar = &e->c->arena;
  Node *n = F->n;
  Dim L = F->len[F->ng - 1];
  const char *l = dimc(e, L);
  int chunked = dim_known(L) < 0 || dim_known(L) > 1024;
  Dim cnt = dim_const(ar, 1);
  for (int j = 0; j < F->S.rank; j++)
    if (F->red[j])
      dim_mul(ar, cnt, F->S.dim[j], &cnt);
  const char *ridx = fused_index(e, F, F->rst, "0");
  F->base = "";
  out(e, "{\n");
  e->indent++;
  fused_kept(e, F, 0, ridx);
  int nmem = 0;
  for (Node *m = n->body->first; m; m = m->next)
    nmem++;
  Node **mem = arena_alloc(ar, sizeof(Node *) * (size_t)(nmem + 1));
  nmem = 0;
  for (Node *m = n->body->first; m; m = m->next)
    mem[nmem++] = m;
  F->need = arena_alloc(ar, (size_t)nmem + 1);
  for (int s = 1; s <= F->nstage; s++) {
    F->now = s;
    /* the rows make the stage's reductions and yields, and what they read */
    for (int p = 0; p < nmem; p++)
      F->need[p] = !F->kept[p] && F->stage[p] == s &&
                   (is_fused_reduction(mem[p]) || yield_index(n, mem[p]) >= 0);
    for (int p = nmem - 1; p >= 0; p--) /* 2: stored by its stage, read back */
      for (int k = 0; k < mem[p]->nin && F->need[p] == 1; k++)
        if (member_of(n, mem[p]->in[k])) {
          int q = member_pos(F, mem[p]->in[k]);
          if (!F->kept[q] && !is_fused_reduction(mem[q]))
            F->need[q] = F->stage[q] < s && yield_index(n, mem[q]) >= 0 &&
                                 !e->passthru[mem[q]->id]
                             ? 2 : 1;
        }
    StrBuf pb = {0}, ab = {0};
    int red = 0;
    int pos = 0;
    for (Node *m = n->body->first; m; m = m->next, pos++)
      if (is_fused_reduction(m)) {
        if (F->stage[pos] == s) {
          out(e, "double acc%d[8] = {0};\n", red);
          sb_printf(&pb, "%sp%d[8] = {0}", pb.len ? ", " : "", red);
          sb_printf(&ab, "%sacc%d[k] += p%d[k];", ab.len ? " " : "", red, red);
        }
        red++;
      }
    int rdepth = 0;
    for (int g = 0; g < F->ng - 1; g++)
      if (F->gred[g]) {
        out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(g), iv(g), dimc(e, F->len[g]), iv(g));
        e->indent++, rdepth++;
      }
    out(e, "{\n");
    e->indent++;
    if (chunked) {
      out(e, "for (int64_t c0 = 0; c0 < %s; c0 += 1024) {\n", l);
      e->indent++;
      out(e, "const int64_t cn = %s - c0 < 1024 ? %s - c0 : 1024;\n", l, l);
      F->base = "c0 + ";
    }
    if (pb.len)
      out(e, "%s %s;\n", e->real, pb.s);
    red_rows(e, chunked ? "cn" : l, chunked ? -1 : dim_known(L), iv(F->ng - 1), F);
    if (ab.len) {
      out(e, "for (int k = 0; k < 8; k++)\n");
      out(e, "  { %s }\n", ab.s);
    }
    sb_free(&pb);
    sb_free(&ab);
    if (chunked)
      e->indent--, out(e, "}\n");
    F->base = "";
    e->indent--;
    out(e, "}\n");
    e->indent -= rdepth;
    red = 0, pos = 0;
    for (Node *m = n->body->first; m; m = m->next, pos++) {
      if (!is_fused_reduction(m))
        continue;
      if (F->stage[pos] == s) {
        int a = red;
        out(e, "const %s %s = (%s)((((acc%d[0] + acc%d[1]) + (acc%d[2] + acc%d[3])) +\n",
            ctype(e, m->type.dtype), local(e, m), ctype(e, m->type.dtype), a, a, a, a);
        out(e, "          ((acc%d[4] + acc%d[5]) + (acc%d[6] + acc%d[7])))%s);\n", a, a, a, a,
            m->op == OP_MEAN ? arena_printf(ar, " / (double)%s", dimc(e, cnt)) : "");
        int k = yield_index(n, m);
        if (k >= 0)
          out(e, "r%d[%s] = %s;\n", k, ridx, local(e, m));
      }
      red++;
    }
    fused_kept(e, F, s, ridx);
  }
  e->indent--;
  out(e, "}\n");
}

static void emit_fused(Emitter *e, Node *n) {
  Arena *ar = &e->c->arena;
  Fused F0 = {0}, *F = &F0;
  F->n = n;
  fused_shape(n, &F->S, &F->red, ar);
  int nmem = 0;
  for (Node *m = n->body->first; m; m = m->next)
    nmem++;
  F->stage = arena_alloc(ar, sizeof(int) * (size_t)(nmem + 1));
  F->kept = arena_alloc(ar, (size_t)nmem + 1);
  int anykept = 0, pos = 0;
  for (Node *m = n->body->first; m; m = m->next, pos++)
    anykept |= F->kept[pos] = (char)ir_fused_kept(m, F->S, F->red);
  F->nstage = F->red ? ir_fused_stages(n, F->S, F->red, F->stage) : 1;
  if (F->nstage == 1 && !anykept)
    F->stage = NULL; /* one pass, as ever */
  F->ext = arena_alloc(ar, sizeof(Node *) * (size_t)(n->nin + 1));
  F->kext = arena_alloc(ar, sizeof(Node *) * (size_t)(n->nin + 1));
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (is_literal(x) || bias_only(e, n, x))
      continue;
    int rows = !F->stage; /* read by a row member or a reduction */
    pos = 0;
    for (Node *m = n->body->first; m && !rows; m = m->next, pos++)
      for (int k = 0; k < m->nin; k++)
        rows |= m->in[k] == x && !F->kept[pos];
    if (rows)
      F->ext[F->next++] = x;
    else
      F->kext[F->nkext++] = x;
  }
  F->xst = arena_alloc(ar, sizeof(char *) * (size_t)(F->next + 1) * MAX_LOOPS);
  int nout = n->body->nout;
  F->part = arena_alloc(ar, sizeof(Node *) * (size_t)(2 * nout + 1));
  F->pax = arena_alloc(ar, sizeof(int) * (size_t)(2 * nout + 1));
  F->ost = arena_alloc(ar, sizeof(char *) * (size_t)(2 * nout + 1) * MAX_LOOPS);
  const char **rptr = arena_alloc(ar, sizeof(char *) * (size_t)(2 * nout + 1));
  for (Node *g = n->next; g && g->op == OP_GET && g->in[0] == n; g = g->next) {
    int k = (int)ir_attr_int(g, "index", 0);
    rptr[2 * k] = ptr(e, g);
    for (int j = 0; j < 2 && e->placed[g->id]; j++) {
      Node *t = j ? e->into2[g->id] : e->into[g->id]; /* its part of t: after those before */
      if (!t)
        continue;
      int ax = (int)ir_attr_int(t, "axis", 0);
      Dim off = dim_const(ar, 0);
      for (int i = 0; t->in[i] != g; i++)
        dim_add(ar, off, t->in[i]->type.dim[ax], &off);
      F->part[2 * k + j] = t, F->pax[2 * k + j] = ax;
      rptr[2 * k + j] = arena_printf(ar, "%s + %s", ptr(e, t),
                                     times(e, dimc(e, off), prodc(e, &t->type, ax + 1, t->type.rank)));
    }
  }
  fused_loops(e, F);
  /* the members, as comments */
  for (Node *m = n->body->first; m; m = m->next) {
    StrBuf b = {0};
    for (int i = 0; i < m->nin; i++)
      sb_printf(&b, "%s%s", i ? ", " : " ", m->in[i]->name);
    out(e, "/*   %s = %s%s : %s */\n", m->name, nnc_ops[m->op].name, b.s ? b.s : "",
        typestr(e, m->type));
    sb_free(&b);
  }
  out(e, "{\n");
  e->indent++;
  for (int i = 0; i < F->next; i++)
    out(e, "const %s *restrict a%d = %s;\n", ctype(e, F->ext[i]->type.dtype), i,
        ptr(e, F->ext[i]));
  for (int i = 0; i < F->nkext; i++)
    out(e, "const %s *restrict k%d = %s;\n", ctype(e, F->kext[i]->type.dtype), i,
        ptr(e, F->kext[i]));
  Node *get = n->next;
  for (int k = 0; k < n->body->nout; k++) {
    Node *y = n->body->out[k];
    const char *ct = ctype(e, y->type.dtype);
    if (e->passthru[y->id]) /* the product's buffer holds it */
      continue;
    while (get && !(get->op == OP_GET && get->in[0] == n &&
                    ir_attr_int(get, "index", -1) >= k))
      get = get->next;
    if (get && ir_attr_int(get, "index", -1) == k) {
      out(e, "%s *restrict r%d = %s;\n", ct, k, rptr[2 * k]);
      if (F->part[2 * k + 1]) /* a second concatenation's part */
        out(e, "%s *restrict q%d = %s;\n", ct, k, rptr[2 * k + 1]);
    }
    else
      out(e, "%s *restrict r%d = (%s *)(w + off[%d]); /* %s */\n", ct, k, ct,
          e->slot[n->id] + k, y->name);
  }
  if (F->ng == 0) { /* one element */
    out(e, "%s\n", fused_row(e, F, "0", "0"));
    e->indent--;
    out(e, "}\n");
    return;
  }
  int depth = 0, nred = 0;
  for (Node *m = n->body->first; m; m = m->next)
    nred += is_fused_reduction(m);
  for (int g = 0; g < F->ng - 1; g++)
    if (!F->gred[g]) { /* kept (or all) groups outside */
      if (!depth)
        out(e, "NNC_PARALLEL(%s)\n", numelc(e, F->S));
      out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(g), iv(g), dimc(e, F->len[g]), iv(g));
      e->indent++, depth++;
    }
  if (F->stage) {
    fused_staged(e, F);
    e->indent -= depth;
    e->indent--;
    out(e, "}\n");
    return;
  }
  if (nred) {
    out(e, "{\n");
    e->indent++;
    for (int k = 0; k < nred; k++)
      out(e, "double acc%d[8] = {0};\n", k);
    for (int g = 0; g < F->ng - 1; g++)
      if (F->gred[g]) {
        out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(g), iv(g), dimc(e, F->len[g]), iv(g));
        e->indent++, depth++;
      }
  }
  Dim L = F->len[F->ng - 1];
  F->base = "";
  if (!nred && F->ng == 1 && flat_parallel(L)) {
    flat_rows(e, L, iv(0), &F->base, fused_row, F);
  } else if (!nred) {
    row_loop(e, dimc(e, L), dim_known(L), iv(F->ng - 1), F->ng > 1, 1, fused_row, F);
  } else {
    /* rows add into float partial sums (which gcc vectorises where it
     * leaves a select converted to double alone), at most 1024 elements
     * each, then into the double ones */
    int chunked = dim_known(L) < 0 || dim_known(L) > 1024;
    out(e, "{\n");
    e->indent++;
    const char *l = dimc(e, L);
    if (chunked) {
      out(e, "for (int64_t c0 = 0; c0 < %s; c0 += 1024) {\n", l);
      e->indent++;
      out(e, "const int64_t cn = %s - c0 < 1024 ? %s - c0 : 1024;\n", l, l);
      F->base = "c0 + ";
    }
    StrBuf pb = {0};
    for (int k = 0; k < nred; k++)
      sb_printf(&pb, "%sp%d[8] = {0}", k ? ", " : "", k);
    out(e, "%s %s;\n", e->real, pb.s ? pb.s : "");
    sb_free(&pb);
    red_rows(e, chunked ? "cn" : l, chunked ? -1 : dim_known(L), iv(F->ng - 1), F);
    out(e, "for (int k = 0; k < 8; k++)\n");
    StrBuf ab = {0};
    for (int k = 0; k < nred; k++)
      sb_printf(&ab, "%sacc%d[k] += p%d[k];", k ? " " : "", k, k);
    out(e, "  { %s }\n", ab.s ? ab.s : "");
    sb_free(&ab);
    if (chunked)
      e->indent--, out(e, "}\n");
    e->indent--;
    out(e, "}\n");
  }
  if (nred) {
    for (int g = 0; g < F->ng - 1; g++)
      if (F->gred[g])
        e->indent--, depth--;
    Dim cnt = dim_const(ar, 1);
    for (int j = 0; j < F->S.rank; j++)
      if (F->red[j])
        dim_mul(ar, cnt, F->S.dim[j], &cnt);
    const char *ridx = fused_index(e, F, F->rst, "0");
    for (int k = 0; k < n->body->nout; k++) {
      Node *y = n->body->out[k];
      if (!is_fused_reduction(y))
        continue;
      int a = 0; /* its accumulator: its place among the reductions */
      for (Node *m = n->body->first; m != y; m = m->next)
        a += is_fused_reduction(m);
      out(e, "r%d[%s] = (%s)((((acc%d[0] + acc%d[1]) + (acc%d[2] + acc%d[3])) +\n", k, ridx,
          ctype(e, y->type.dtype), a, a, a, a);
      out(e, "          ((acc%d[4] + acc%d[5]) + (acc%d[6] + acc%d[7])))%s);\n", a, a, a, a,
          y->op == OP_MEAN ? arena_printf(ar, " / (double)%s", dimc(e, cnt)) : "");
    }
    e->indent--;
    out(e, "}\n");
  }
  e->indent -= depth;
  e->indent--;
  out(e, "}\n");
}

static void fill(Emitter *e, Node *n, const char *value) {
  if (strchr(value, '(')) { /* a call: the RNG or arange */
    out(e, "for (int64_t i = 0; i < %s; i++)\n", numelc(e, n->type));
    out(e, "  %s[i] = %s;\n", ptr(e, n), value);
    return;
  }
  /* a constant: in blocks of 8, which compilers vectorise (see row_loop) */
  const char *len = numelc(e, n->type);
  Dim cnt = dim_const(&e->c->arena, 1);
  for (int k = 0; k < n->type.rank; k++)
    dim_mul(&e->c->arena, cnt, n->type.dim[k], &cnt);
  out(e, "{\n");
  out(e, "  int64_t i = 0;\n");
  out(e, "  for (; i + 8 <= %s; i += 8)\n", len);
  out(e, "    NNC_IVDEP\n");
  out(e, "    for (int k = 0; k < 8; k++)\n");
  out(e, "      %s[i + k] = %s;\n", ptr(e, n), value);
  if (!dim_is_const(cnt) || dim_value(cnt) % 8) { /* no empty tail loop */
    out(e, "  for (; i < %s; i++)\n", len);
    out(e, "    %s[i] = %s;\n", ptr(e, n), value);
  }
  out(e, "}\n");
}

static void zero(Emitter *e, Node *n) {
  out(e, "memset(%s, 0, sizeof(%s) * (size_t)%s);\n", ptr(e, n),
      ctype(e, n->type.dtype), numelc(e, n->type));
}

/* ------------------------------------------------------- reductions */

/* Sum and mean of floats, accumulated in double over contiguous rows.
 * Axes are merged into groups of adjacent reduced or kept axes (size-1
 * axes dropped). When the innermost group is reduced, each result sums
 * its rows into 8 partial sums of the input's type, at most 1024
 * elements at a time, and those into 8 double ones (vectorisable; as a
 * fused reduction does). When it is kept (a column sum: a bias's
 * gradient), results are computed 64 at a time, reading rows instead of
 * striding down columns, each adding its inputs in the order of the
 * plain loops into a partial sum of the input's type, 16 rows at a time,
 * and those into a double one (adding every input into the double sums
 * ran at a fifth of the rate: 104 us for 512 rows of 512 against 21). */
static void emit_reduce_sum(Emitter *e, Node *n, const char *red, Dim cnt) {
  Arena *ar = &e->c->arena;
  Node *x = n->in[0];
  Type t = x->type;
  int m = 0, gred[MAX_LOOPS];
  Dim len[MAX_LOOPS];
  const char *xst[MAX_LOOPS], *ost[MAX_LOOPS];
  for (int j = 0; j < t.rank; j++) {
    if (dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1)
      continue;
    if (m && gred[m - 1] == red[j])
      dim_mul(ar, len[m - 1], t.dim[j], &len[m - 1]);
    else
      len[m] = t.dim[j], gred[m++] = red[j];
    xst[m - 1] = prodc(e, &t, j + 1, t.rank);
  }
  for (int g = 0; g < m; g++) { /* output strides: the later kept groups */
    Dim st = dim_const(ar, 1);
    for (int k = g + 1; k < m; k++)
      if (!gred[k])
        dim_mul(ar, st, len[k], &st);
    ost[g] = dimc(e, st);
  }
  StrBuf xi = {0}, oi = {0};
  for (int g = 0; g < m - 1; g++) {
    sb_printf(&xi, "%s%s*%s", xi.len ? " + " : "", iv(g), xst[g]);
    if (!gred[g])
      sb_printf(&oi, "%s%s*%s", oi.len ? " + " : "", iv(g), ost[g]);
  }
  const char *xidx = arena_strdup(ar, xi.len ? xi.s : "0");
  const char *oidx = arena_strdup(ar, oi.len ? oi.s : "0");
  sb_free(&xi);
  sb_free(&oi);
  const char *L = dimc(e, len[m - 1]), *R = ctype(e, n->type.dtype);
  const char *div = n->op == OP_MEAN ? arena_printf(ar, " / (double)%s", dimc(e, cnt)) : "";
  out(e, "{\n");
  e->indent++;
  out(e, "%s *restrict r = %s;\n", R, ptr(e, n));
  out(e, "const %s *restrict a0 = %s;\n", ctype(e, t.dtype), ptr(e, x));
  int depth = 0;
  for (int g = 0; g < m - 1; g++)
    if (!gred[g]) { /* kept groups outside */
      if (!depth)
        out(e, "NNC_PARALLEL(%s)\n", numelc(e, t));
      out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(g), iv(g), dimc(e, len[g]), iv(g));
      e->indent++, depth++;
    }
  int inner_red = gred[m - 1];
  /* kept innermost: whole blocks of 64 columns on a loop of constant
   * length where the length allows (gcc vectorises it), a last short
   * block on one of cn */
  const int64_t known = dim_known(len[m - 1]);
  const int whole = known > 0 && known % 64 == 0;
  if (!inner_red) {
    out(e, "for (int64_t c0 = 0; c0 < %s; c0 += 64) {\n", L);
    e->indent++;
    out(e, "const int64_t cn = %s - c0 < 64 ? %s - c0 : 64;\n", L, L);
    out(e, "double acc[64] = {0};\n");
    out(e, "%s p[64] = {0};\n", ctype(e, t.dtype));
    out(e, "int nr = 0;\n");
  } else {
    out(e, "{\n");
    e->indent++;
    out(e, "double acc[8] = {0};\n");
  }
  int rdepth = 0;
  for (int g = 0; g < m - 1; g++)
    if (gred[g]) { /* then the outer reduced groups */
      out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(g), iv(g), dimc(e, len[g]), iv(g));
      e->indent++, rdepth++;
    }
  out(e, "{\n");
  e->indent++;
  if (!inner_red) {
    out(e, "const %s *restrict xr = a0 + %s + c0;\n", ctype(e, t.dtype), xidx);
    if (whole) {
      out(e, "NNC_IVDEP\n");
      out(e, "for (int j = 0; j < 64; j++)\n");
      out(e, "  p[j] += xr[j];\n");
    } else if (known > 0 && known < 64) {
      out(e, "NNC_IVDEP\n");
      out(e, "for (int j = 0; j < %s; j++)\n", L);
      out(e, "  p[j] += xr[j];\n");
    } else {
      out(e, "if (cn == 64) {\n");
      out(e, "  NNC_IVDEP\n");
      out(e, "  for (int j = 0; j < 64; j++)\n");
      out(e, "    p[j] += xr[j];\n");
      out(e, "} else {\n");
      out(e, "  for (int64_t j = 0; j < cn; j++)\n");
      out(e, "    p[j] += xr[j];\n");
      out(e, "}\n");
    }
    out(e, "if (++nr == 16) { /* 16 rows in the input's type, then into double */\n");
    out(e, "  for (int j = 0; j < 64; j++)\n");
    out(e, "    acc[j] += p[j], p[j] = 0;\n");
    out(e, "  nr = 0;\n");
    out(e, "}\n");
  } else {
    /* as a fused reduction's rows: 8 partial sums of the input's type over
     * at most 1024 elements, then into the double ones (with double
     * accumulators alone the additions' latency, not memory, bounds it) */
    const int chunked = dim_known(len[m - 1]) < 0 || dim_known(len[m - 1]) > 1024;
    const char *T = ctype(e, t.dtype), *cn = chunked ? "cn" : L;
    out(e, "const %s *restrict xr = a0 + %s;\n", T, xidx);
    if (chunked) {
      out(e, "for (int64_t c0 = 0; c0 < %s; c0 += 1024) {\n", L);
      e->indent++;
      out(e, "const int64_t cn = %s - c0 < 1024 ? %s - c0 : 1024;\n", L, L);
      out(e, "const %s *restrict xc = xr + c0;\n", T);
    }
    const char *xc = chunked ? "xc" : "xr";
    out(e, "%s p[8] = {0};\n", T);
    out(e, "int64_t j = 0;\n");
    out(e, "for (; j + 8 <= %s; j += 8)\n", cn);
    out(e, "  for (int k = 0; k < 8; k++)\n");
    out(e, "    p[k] += %s[j + k];\n", xc);
    if (chunked || dim_value(len[m - 1]) % 8) {
      out(e, "for (; j < %s; j++)\n", cn);
      out(e, "  p[0] += %s[j];\n", xc);
    }
    out(e, "for (int k = 0; k < 8; k++)\n");
    out(e, "  acc[k] += p[k];\n");
    if (chunked)
      e->indent--, out(e, "}\n");
  }
  e->indent--;
  out(e, "}\n");
  e->indent -= rdepth;
  if (!inner_red) {
    out(e, "for (int64_t j = 0; j < cn; j++)\n");
    out(e, "  r[%sc0 + j] = (%s)((acc[j] + p[j])%s);\n",
        strcmp(oidx, "0") ? arena_printf(ar, "%s + ", oidx) : "", R, div);
  } else {
    out(e, "r[%s] = (%s)((((acc[0] + acc[1]) + (acc[2] + acc[3])) +\n", oidx, R);
    out(e, "          ((acc[4] + acc[5]) + (acc[6] + acc[7])))%s);\n", div);
  }
  e->indent--;
  out(e, "}\n");
  e->indent -= depth;
  e->indent--;
  out(e, "}\n");
}

/* Loops over the kept axes outside and the reduced axes inside. */
static void emit_reduce(Emitter *e, Node *n) {
  Node *x = n->in[0];
  Type t = x->type;
  const char *red = ir_reduced_axes(&e->c->arena, n);
  if ((n->op == OP_SUM || n->op == OP_MEAN) && dtype_is_float(t.dtype) &&
      t.rank <= MAX_LOOPS) {
    Dim c = dim_const(&e->c->arena, 1);
    int any = 0;
    for (int j = 0; j < t.rank; j++) {
      if (red[j])
        dim_mul(&e->c->arena, c, t.dim[j], &c);
      any |= !(dim_is_const(t.dim[j]) && dim_value(t.dim[j]) == 1);
    }
    if (any) {
      emit_reduce_sum(e, n, red, c);
      return;
    }
  }
  StrBuf oi = {0};
  for (int j = 0; j < t.rank; j++)
    if (!red[j]) {
      Dim st = dim_const(&e->c->arena, 1);
      for (int k = j + 1; k < t.rank; k++)
        if (!red[k])
          dim_mul(&e->c->arena, st, t.dim[k], &st);
      sb_printf(&oi, "%s%s*%s", oi.len ? " + " : "", iv(j), dimc(e, st));
    }
  const char *oidx = arena_strdup(&e->c->arena, oi.len ? oi.s : "0");
  sb_free(&oi);
  const char *xi = bindex(e, t, t.rank);
  int fl = dtype_is_float(t.dtype);
  const char *acc_t = fl ? "double" : "int64_t";
  for (int j = 0; j < t.rank; j++)
    if (!red[j]) {
      out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(j), iv(j), dimc(e, t.dim[j]), iv(j));
      e->indent++;
    }
  out(e, "{\n");
  e->indent++;
  int nred = 0;
  Dim cnt = dim_const(&e->c->arena, 1);
  for (int j = 0; j < t.rank; j++)
    if (red[j])
      nred++, dim_mul(&e->c->arena, cnt, t.dim[j], &cnt);
  const char *init = "0";
  switch (n->op) {
  case OP_MAX: case OP_LOGSUMEXP: case OP_ARGMAX: init = fl ? "-INFINITY" : "INT64_MIN"; break;
  case OP_MIN: init = fl ? "INFINITY" : "INT64_MAX"; break;
  default: break;
  }
  out(e, "%s acc = %s;\n", acc_t, init);
  if (n->op == OP_ARGMAX)
    out(e, "int32_t best = 0;\n");
  for (int pass = 0; pass < (n->op == OP_LOGSUMEXP ? 2 : 1); pass++) {
    if (pass == 1) {
      out(e, "double mx = acc;\n");
      out(e, "acc = 0;\n");
    }
    for (int j = 0; j < t.rank; j++)
      if (red[j]) {
        out(e, "for (int64_t %s = 0; %s < %s; %s++)\n", iv(j), iv(j), dimc(e, t.dim[j]), iv(j));
        e->indent++;
      }
    const char *v = arena_printf(&e->c->arena, "%s[%s]", ptr(e, x), xi);
    switch (n->op) {
    case OP_SUM: case OP_MEAN: out(e, "acc += %s;\n", v); break;
    case OP_MAX: out(e, "if (%s > acc) acc = %s;\n", v, v); break;
    case OP_MIN: out(e, "if (%s < acc) acc = %s;\n", v, v); break;
    case OP_LOGSUMEXP:
      if (pass == 0)
        out(e, "if (%s > acc) acc = %s;\n", v, v);
      else
        out(e, "acc += exp(%s - mx);\n", v);
      break;
    case OP_ARGMAX: {
      int ax = (int)ir_attr_int(n, "axis", 0);
      out(e, "if (%s > acc) { acc = %s; best = (int32_t)%s; }\n", v, v, iv(ax));
      break;
    }
    default: break;
    }
    e->indent -= nred;
  }
  const char *res = "acc";
  if (n->op == OP_MEAN)
    res = arena_printf(&e->c->arena, "acc / (double)%s", dimc(e, cnt));
  else if (n->op == OP_LOGSUMEXP)
    res = "(mx == -INFINITY ? mx : mx + log(acc))";
  else if (n->op == OP_ARGMAX)
    res = "best";
  out(e, "%s[%s] = (%s)(%s);\n", ptr(e, n), oidx, ctype(e, n->type.dtype), res);
  e->indent--;
  out(e, "}\n");
  e->indent -= t.rank - nred;
}

/* A row pass's statement (row_loop's body): ctx with each '@' the
 * element's index. */
static const char *row_stmt(Emitter *e, void *ctx, const char *idx, const char *lane) {
  (void)lane;
  StrBuf b = {0};
  for (const char *p = ctx; *p; p++)
    if (*p == '@')
      sb_printf(&b, "%s", idx);
    else
      sb_printf(&b, "%c", *p);
  const char *r = arena_strdup(&e->c->arena, b.s);
  sb_free(&b);
  return r;
}

/* A pass over row j of len in 8 lanes: vec on element j + k of lane k,
 * then one on the rest (lane 0); `from` starts j ("; j" goes on from
 * where it is). */
static void lanes8(Emitter *e, const char *from, const char *len, int ivdep, const char *vec,
                   const char *one) {
  out(e, "for (%s; j + 8 <= %s; j += 8)\n", from, len);
  if (ivdep)
    out(e, "  NNC_IVDEP\n");
  out(e, "  for (int k = 0; k < 8; k++)\n");
  out(e, "    %s;\n", vec);
  out(e, "for (; j < %s; j++)\n", len);
  out(e, "  %s;\n", one);
}

/* The statistics of row xr (len values) for a softmax: its maximum `mx`
 * and `sum` (double) of exp(xr[j] - mx), each in 8 lanes; with `keep`,
 * the exponentials are also stored in yr. One exponential per element. */
static void row_stats(Emitter *e, const char *len, int keep) {
  const char *R = e->real, *ex = fn(e, "exp");
  Arena *ar = &e->c->arena;
  out(e, "%s pm[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};\n", R);
  out(e, "%s ps[8] = {0};\n", R);
  out(e, "int64_t j = 0;\n");
  lanes8(e, "", len, 0, "pm[k] = xr[j + k] > pm[k] ? xr[j + k] : pm[k]",
         "pm[0] = xr[j] > pm[0] ? xr[j] : pm[0]");
  out(e, "%s mx = pm[0];\n", R);
  out(e, "for (int k = 1; k < 8; k++)\n");
  out(e, "  mx = pm[k] > mx ? pm[k] : mx;\n");
  if (keep) { /* the exponentials on whole vectors, then their sum in 8 lanes
               * as below: the same sums whatever the vectors' width */
    out(e, "{\n");
    e->indent++;
    row_loop(e, len, -1, iv(0), 0, 1, row_stmt,
             (void *)arena_printf(ar, "yr[@] = %s(xr[@] - mx);", ex));
    e->indent--;
    out(e, "}\n");
    lanes8(e, "j = 0", len, 0, "ps[k] += yr[j + k]", "ps[0] += yr[j]");
  } else {
    lanes8(e, "j = 0", len, 1, arena_printf(ar, "ps[k] += %s(xr[j + k] - mx)", ex),
           arena_printf(ar, "ps[0] += %s(xr[j] - mx)", ex));
  }
  out(e, "double sum = 0;\n");
  out(e, "for (int k = 0; k < 8; k++)\n");
  out(e, "  sum += ps[k];\n");
}

/* softmax and log_softmax along one axis: outer x axis x inner. */
static void emit_softmax(Emitter *e, Node *n) {
  Node *x = n->in[0];
  Type t = x->type;
  int ax = (int)ir_attr_int(n, "axis", 0);
  const char *outer = prodc(e, &t, 0, ax), *len = dimc(e, t.dim[ax]),
             *inner = prodc(e, &t, ax + 1, t.rank);
  const char *X = ptr(e, x), *Y = ptr(e, n);
  if (ax == t.rank - 1) { /* rows: exp once per element, in 8 lanes */
    const char *R = e->real;
    out(e, "NNC_PARALLEL(%s)\n", numelc(e, t));
    out(e, "for (int64_t o = 0; o < %s; o++) {\n", outer);
    e->indent++;
    out(e, "const %s *restrict xr = %s + o * %s;\n", R, X, len);
    out(e, "%s *restrict yr = %s + o * %s;\n", R, Y, len);
    row_stats(e, len, n->op == OP_SOFTMAX);
    if (n->op == OP_SOFTMAX) {
      out(e, "const %s inv = (%s)(1 / sum);\n", R, R);
      row_loop(e, len, dim_known(t.dim[ax]), iv(0), 0, 1, row_stmt, "yr[@] *= inv;");
    } else {
      out(e, "const %s ls = (%s)log(sum);\n", R, R);
      row_loop(e, len, dim_known(t.dim[ax]), iv(0), 0, 1, row_stmt,
               "yr[@] = (xr[@] - mx) - ls;");
    }
    e->indent--;
    out(e, "}\n");
    return;
  }
  out(e, "for (int64_t o = 0; o < %s; o++)\n", outer);
  out(e, "  for (int64_t k = 0; k < %s; k++) {\n", inner);
  e->indent += 2;
  out(e, "const int64_t base = o * %s * %s + k;\n", len, inner);
  out(e, "double mx = -INFINITY, sum = 0;\n");
  out(e, "for (int64_t j = 0; j < %s; j++)\n", len);
  out(e, "  if (%s[base + j * %s] > mx) mx = %s[base + j * %s];\n", X, inner, X, inner);
  out(e, "for (int64_t j = 0; j < %s; j++)\n", len);
  out(e, "  sum += exp(%s[base + j * %s] - mx);\n", X, inner);
  out(e, "for (int64_t j = 0; j < %s; j++)\n", len);
  if (n->op == OP_SOFTMAX)
    out(e, "  %s[base + j * %s] = (%s)(exp(%s[base + j * %s] - mx) / sum);\n", Y, inner,
        e->real, X, inner);
  else
    out(e, "  %s[base + j * %s] = (%s)(%s[base + j * %s] - mx - log(sum));\n", Y, inner,
        e->real, X, inner);
  e->indent -= 2;
  out(e, "  }\n");
}

/* softmax_cross_entropy (loss per row: log sum exp - the target's logit)
 * and its gradient ((softmax - one_hot) * g per row), one pass over each
 * row for its statistics and, for the gradient, one to write it. The
 * targets are checked first, so that the rows can go to threads. */
static void read_index(Emitter *e, const char *var, const char *src, const char *len);

static void emit_softmax_xent(Emitter *e, Node *n) {
  Node *x = n->in[0], *t = n->in[1];
  int grad = n->op == OP_SOFTMAX_XENT_GRAD;
  const char *R = e->real, *len = dimc(e, x->type.dim[x->type.rank - 1]);
  const char *rows = numelc(e, t->type), *T = ptr(e, t);
  out(e, "for (int64_t o = 0; o < %s; o++) {\n", rows);
  e->indent++;
  read_index(e, "v", arena_printf(&e->c->arena, "%s[o]", T), len);
  e->indent--;
  out(e, "}\n");
  out(e, "NNC_PARALLEL(%s)\n", numelc(e, x->type));
  out(e, "for (int64_t o = 0; o < %s; o++) {\n", rows);
  e->indent++;
  out(e, "const %s *restrict xr = %s + o * %s;\n", R, ptr(e, x), len);
  out(e, "const int64_t ti = %s[o] < 0 ? %s[o] + %s : %s[o]; /* the target */\n", T, T, len, T);
  row_stats(e, len, 0);
  if (!grad) {
    out(e, "%s[o] = (%s)(((double)mx + log(sum)) - xr[ti]);\n", ptr(e, n), R);
  } else {
    out(e, "%s *restrict yr = %s + o * %s;\n", R, ptr(e, n), len);
    out(e, "const %s gr = %s[o], sc = (%s)(gr / sum);\n", R, ptr(e, n->in[2]), R);
    row_loop(e, len, dim_known(x->type.dim[x->type.rank - 1]), iv(0), 0, 1, row_stmt,
             (void *)arena_printf(&e->c->arena, "yr[@] = %s(xr[@] - mx) * sc;", fn(e, "exp")));
    out(e, "yr[ti] -= gr;\n");
  }
  e->indent--;
  out(e, "}\n");
}

/* ------------------------------------------------------------ matmul */

/* base + offset of a view, as C. */
static const char *at_expr(Emitter *e, const MView *v, const char *off) {
  return strcmp(off, "0") ? arena_printf(&e->c->arena, "%s + %s", ptr(e, v->base), off)
                          : ptr(e, v->base);
}

/* nnc_[sd]gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc), or with a
 * bias, nnc_[sd]gemm_bias (C = A B + the bias on every row). */
static void gemm_call(Emitter *e, int ta, int tb, const char *M, const char *N,
                      const char *K, const char *pa, const char *lda, const char *pb,
                      const char *ldb, int beta, const char *bias, const char *pc,
                      const char *ldc) {
  const char *sfx = e->o->real == DT_F32 ? "s" : "d";
  if (bias)
    out(e, "nnc_%sgemm_bias(%d, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\n", sfx, ta, tb,
        M, N, K, pa, lda, pb, ldb, bias, pc, ldc);
  else
    out(e, "nnc_%sgemm(%d, %d, %s, %s, %s, 1, %s, %s, %s, %s, %d, %s, %s);\n", sfx, ta, tb,
        M, N, K, pa, lda, pb, ldb, beta, pc, ldc);
}

static void emit_matmul(Emitter *e, Node *n) {
  Node *A = n->in[0], *B = n->in[1];
  GemmArg ga, gb; /* stored values, or strided views that matmul_takes */
  if (!gemm_arg(e, A, &ga) || !gemm_arg(e, B, &gb))
    nnc_fatal(e->c, "emit: a matmul operand is not a matrix view");
  int ta = ga.trans, tb = gb.trans;
  Type at = A->type, bt = B->type, ct = n->type;
  int ra = at.rank, rb = bt.rank;
  const char *M = ra == 1 ? "1" : dimc(e, at.dim[ra - 2]);
  const char *K = dimc(e, at.dim[ra - 1]);
  const char *N = rb == 1 ? "1" : dimc(e, bt.dim[rb - 1]);
  const char *lda = dimc(e, ga.ld), *ldb = rb == 1 ? "1" : dimc(e, gb.ld);
  const char *sfx = e->o->real == DT_F32 ? "s" : "d";
  int beta = e->grad_off[n->id] || e->bias[n->id] ? 1 : 0;
  GemmArg gc = {0}; /* C in a transpose's layout (find_written) */
  if (e->into[n->id] && !c_view(e, n, &gc))
    nnc_fatal(e->c, "emit: a product's result is not a matrix view");
  const int merged = batch_by_one(n) && one_gemm(e, &ga, at) &&
                     (!e->into[n->id] || one_gemm(e, &gc, ct));
  const int nb = ct.rank - (ra == 1 ? 0 : 1) - (rb == 1 ? 0 : 1);
  /* a bias that one GEMM adds as it stores C (nnc_sgemm_bias) */
  const char *bias = e->bias[n->id] && !e->grad_off[n->id] && !e->packed[n->id] &&
                             !gc.trans && (merged || nb == 0)
                         ? ptr(e, e->bias[n->id])
                         : NULL;
  if (e->bias[n->id] && !bias) { /* C starts as rows of the bias (find_biased) */
    const char *len = dimc(e, ct.dim[ct.rank - 1]);
    out(e, "for (int64_t r = 0; r < %s; r++)\n", prodc(e, &ct, 0, ct.rank - 1));
    out(e, "  memcpy(%s + r * %s, %s, sizeof(%s) * (size_t)%s);\n", ptr(e, n), len,
        ptr(e, e->bias[n->id]), ctype(e, ct.dtype), len);
  }
  if (e->packed[n->id]) { /* B packed before the scan's loop (emit_scan) */
    out(e, "nnc_%sgemm_pb(%s, %s, %s, %s, %s, (const %s *)(w + off[%d]), %d, %s, %s, %d, %s, %s);\n",
        sfx, M, N, K, at_expr(e, &ga.v, vindex(e, &ga.v, at, 0, 0)), lda, e->real,
        e->packed[n->id] - 1, tb, at_expr(e, &gb.v, vindex(e, &gb.v, bt, 0, 0)), ldb, beta,
        ptr(e, n), N);
    return;
  }
  if (merged) {
    /* [..., M, K] @ [K, N]: the batch rows are one [P*M, K] matrix, so one
     * GEMM (a Linear layer on [B, T, in]) rather than one per batch entry */
    M = prodc(e, &at, 0, ra - 1);
    const char *pc = e->into[n->id] ? at_expr(e, &gc.v, vindex(e, &gc.v, ct, 0, 0)) : ptr(e, n);
    gemm_call(e, 0, tb, M, N, K, at_expr(e, &ga.v, vindex(e, &ga.v, at, 0, 0)), lda,
              at_expr(e, &gb.v, vindex(e, &gb.v, bt, 0, 0)), ldb, beta, bias, pc,
              e->into[n->id] ? dimc(e, gc.ld) : N);
    return;
  }
  Type batch = ct;
  batch.rank = nb;
  int bra = ra >= 2 ? ra - 2 : 0, brb = rb >= 2 ? rb - 2 : 0;
  open_loops(e, batch);
  const char *oa = vindex(e, &ga.v, at, bra, nb - bra);
  const char *ob = vindex(e, &gb.v, bt, brb, nb - brb);
  const char *pa = at_expr(e, &ga.v, oa), *pb = at_expr(e, &gb.v, ob), *pc, *ldc = N;
  if (!e->into[n->id]) {
    pc = arena_printf(&e->c->arena, "%s + (%s) * %s * %s", ptr(e, n), bindex(e, batch, nb), M, N);
  } else {
    pc = at_expr(e, &gc.v, vindex(e, &gc.v, ct, nb, 0));
    ldc = dimc(e, gc.ld);
  }
  if (gc.trans) /* C transposed in memory: C^T = B^T A^T */
    out(e, "nnc_%sgemm(%d, %d, %s, %s, %s, 1, %s, %s, %s, %s, %d, %s, %s);\n", sfx, !tb, !ta,
        N, M, K, pb, ldb, pa, lda, beta, pc, ldc);
  else
    gemm_call(e, ta, tb, M, N, K, pa, lda, pb, ldb, beta, bias, pc, ldc);
  close_loops(e, batch);
}

/* ------------------------------------------------------- data movement */

/* Index into a tensor of type t with the loop variable of axis j replaced
 * where sub[j] is set (slices, concatenation, scatter along an axis). */
static const char *index_with(Emitter *e, Type t, const char **sub) {
  StrBuf b = {0};
  for (int j = 0; j < t.rank; j++) {
    const char *st = prodc(e, &t, j + 1, t.rank);
    const char *v = sub && sub[j] ? sub[j] : iv(j);
    sb_printf(&b, "%s(%s)*%s", b.len ? " + " : "", v, st);
  }
  const char *s = arena_strdup(&e->c->arena, b.len ? b.s : "0");
  sb_free(&b);
  return s;
}

/* dst[i] = the element i of view v of a value of type t, over t's whole
 * index space (a copy that gathers). */
static void gather(Emitter *e, const char *dst, const char *dsub[], Type dt, const MView *v,
                   Type t) {
  open_loops(e, t);
  out(e, "%s[%s] = %s[%s];\n", dst, index_with(e, dt, dsub), ptr(e, v->base),
      vindex(e, v, t, t.rank, 0));
  close_loops(e, t);
}

/* A stored transpose: a gather through the permuted view of its operand
 * (itself a view, or stored). */
static void emit_permute(Emitter *e, Node *n) {
  MView in, v;
  if (!mview(e, n->in[0], &in) || !view_step(e, n, &in, &v))
    nnc_fatal(e->c, "emit: a permute's operand is not a view");
  const Type t = n->type;
  const int r = t.rank;
  if (r >= 2 && dtype_is_float(t.dtype) && !is_one(t.dim[r - 1]) && !is_one(t.dim[r - 2]) &&
      is_one(v.st[r - 2]) && !is_one(v.st[r - 1])) {
    /* its last two axes a matrix's two swapped (rows of the operand one
     * element apart): the runtime's transpose, per matrix */
    Type outer = t;
    outer.rank = r - 2;
    open_loops(e, outer);
    out(e, "nnc_transpose_%s(%s, %s, %s, %s, %s + (%s) * %s, %s);\n", e->sfx,
        dimc(e, t.dim[r - 1]), dimc(e, t.dim[r - 2]), at_expr(e, &v, vindex(e, &v, t, r - 2, 0)),
        dimc(e, v.st[r - 1]), ptr(e, n), bindex(e, outer, r - 2), prodc(e, &t, r - 2, r),
        dimc(e, t.dim[r - 1]));
    close_loops(e, outer);
    return;
  }
  gather(e, ptr(e, n), NULL, n->type, &v, n->type);
}

/* Copies `outer` runs of `run` elements: run o from src + o * sstride +
 * soff to dst + o * dstride + doff (one memcpy each: the generated loops
 * had no restrict and stayed scalar at -O2). */
static void copy_runs(Emitter *e, const char *dst, const char *dstride, const char *doff,
                      const char *src, const char *sstride, const char *soff,
                      const char *outer, const char *run, DType t) {
  Arena *a = &e->c->arena;
  const char *d = strcmp(doff, "0") ? arena_printf(a, " + %s", doff) : "",
             *s = strcmp(soff, "0") ? arena_printf(a, " + %s", soff) : "";
  if (!strcmp(outer, "1")) {
    out(e, "memcpy(%s%s, %s%s, sizeof(%s) * (size_t)%s);\n", dst, d, src, s, ctype(e, t),
        run);
    return;
  }
  out(e, "for (int64_t o = 0; o < %s; o++)\n", outer);
  out(e, "  memcpy(%s + o * %s%s, %s + o * %s%s, sizeof(%s) * (size_t)%s);\n", dst,
      dstride, d, src, sstride, s, ctype(e, t), run);
}

static void emit_slice(Emitter *e, Node *n, int grad) {
  Node *x = n->in[0];
  int ax = (int)ir_attr_int(n, "axis", 0);
  const char *start = dimc(e, ir_attr(n, "start")->dims[0]);
  int64_t step = ir_attr_int(n, "step", 1);
  if (step == 1) { /* rows of the part along ax, each one run */
    const Type *big = grad ? &n->type : &x->type, *part = grad ? &x->type : &n->type;
    const char *outer = prodc(e, big, 0, ax), *inner = prodc(e, big, ax + 1, big->rank);
    const char *whole = prodc(e, big, ax, big->rank), *run = prodc(e, part, ax, part->rank);
    const char *at = times(e, start, inner);
    if (!grad) {
      copy_runs(e, ptr(e, n), run, "0", ptr(e, x), whole, at, outer, run, n->type.dtype);
    } else {
      zero(e, n);
      copy_runs(e, ptr(e, n), whole, at, ptr(e, x), run, "0", outer, run, n->type.dtype);
    }
    return;
  }
  const char *sub[64] = {0};
  sub[ax] = arena_printf(&e->c->arena, "%s + %s*%lld", start, iv(ax), (long long)step);
  if (!grad) {
    open_loops(e, n->type);
    out(e, "%s[%s] = %s[%s];\n", ptr(e, n), index_with(e, n->type, NULL), ptr(e, x),
        index_with(e, x->type, sub));
    close_loops(e, n->type);
  } else { /* place the slice's gradient into zeros */
    zero(e, n);
    open_loops(e, x->type);
    out(e, "%s[%s] = %s[%s];\n", ptr(e, n), index_with(e, n->type, sub), ptr(e, x),
        index_with(e, x->type, NULL));
    close_loops(e, x->type);
  }
}

static void emit_concat(Emitter *e, Node *n) {
  int ax = (int)ir_attr_int(n, "axis", 0);
  Dim off = dim_const(&e->c->arena, 0);
  const char *outer = prodc(e, &n->type, 0, ax);
  const char *inner = prodc(e, &n->type, ax + 1, n->type.rank);
  const char *whole = prodc(e, &n->type, ax, n->type.rank);
  for (int i = 0; i < n->nin; i++) {
    Node *x = n->in[i];
    if (e->placed[x->id]) { /* written there by its product */
      out(e, "/* part %d: %s, written in place */\n", i, x->name);
    } else if (e->strided[x->id]) { /* a gather through the view */
      MView v;
      const char *sub[VIEW_RANK] = {0};
      mview(e, x, &v);
      sub[ax] = arena_printf(&e->c->arena, "%s + %s", iv(ax), dimc(e, off));
      gather(e, ptr(e, n), sub, n->type, &v, x->type);
    } else {
      const char *run = prodc(e, &x->type, ax, x->type.rank);
      const char *at = times(e, dimc(e, off), inner);
      copy_runs(e, ptr(e, n), whole, at, ptr(e, x), run, "0", outer, run, n->type.dtype);
    }
    dim_add(&e->c->arena, off, x->type.dim[ax], &off);
  }
}

/* An index read from an i32 tensor, wrapped like Python and checked. */
static void read_index(Emitter *e, const char *var, const char *src, const char *len) {
  out(e, "int64_t %s = %s;\n", var, src);
  out(e, "if (%s < 0) %s += %s;\n", var, var, len);
  out(e, "if (%s < 0 || %s >= %s) return NNC_EINDEX;\n", var, var, len);
}

/* dst[0, len) += src[0, len): a row of a scatter's sum, vectorised by the
 * runtime's nnc_add_row_* for floats. */
static void add_row(Emitter *e, DType t, const char *dst, const char *src, const char *len) {
  const char *c = ctype(e, t);
  if (!strcmp(c, "float") || !strcmp(c, "double")) {
    out(e, "nnc_add_row_%s(%s, %s, %s);\n", c[0] == 'f' ? "f32" : "f64", dst, src, len);
    return;
  }
  out(e, "for (int64_t k = 0; k < %s; k++)\n", len);
  out(e, "  (%s)[k] += (%s)[k];\n", dst, src);
}

static void emit_take(Emitter *e, Node *n, int grad) {
  Node *x = n->in[0], *idx = n->in[1];
  int ax = (int)ir_attr_int(n, "axis", 0);
  Type big = grad ? n->type : x->type; /* the tensor indexed along ax */
  const char *outer = prodc(e, &big, 0, ax), *len = dimc(e, big.dim[ax]),
             *inner = prodc(e, &big, ax + 1, big.rank), *cnt = numelc(e, idx->type);
  if (!grad && e->absorbed[n->id]) { /* see take_view */
    out(e, "{\n");
    e->indent++;
    read_index(e, "v", arena_printf(&e->c->arena, "%s[0]", ptr(e, idx)), len);
    out(e, "%s = (%s *)%s + v * %s;\n", ptr(e, n), ctype(e, n->type.dtype), ptr(e, x),
        inner);
    e->indent--;
    out(e, "}\n");
    return;
  }
  if (grad)
    zero(e, n);
  out(e, "for (int64_t o = 0; o < %s; o++)\n", outer);
  out(e, "  for (int64_t j = 0; j < %s; j++) {\n", cnt);
  e->indent += 2;
  read_index(e, "v", arena_printf(&e->c->arena, "%s[j]", ptr(e, idx)), len);
  if (!grad) {
    out(e, "memcpy(%s + (o * %s + j) * %s, %s + (o * %s + v) * %s, "
           "sizeof(%s) * (size_t)%s);\n",
        ptr(e, n), cnt, inner, ptr(e, x), len, inner, ctype(e, n->type.dtype), inner);
  } else {
    add_row(e, n->type.dtype, arena_printf(&e->c->arena, "%s + (o * %s + v) * %s", ptr(e, n), len, inner),
            arena_printf(&e->c->arena, "%s + (o * %s + j) * %s", ptr(e, x), cnt, inner), inner);
  }
  e->indent -= 2;
  out(e, "  }\n");
}

static void emit_take_along(Emitter *e, Node *n, int grad) {
  Node *x = n->in[0], *idx = n->in[1];
  int ax = (int)ir_attr_int(n, "axis", 0);
  Type big = grad ? n->type : x->type;
  const char *sub[64] = {0};
  sub[ax] = "v";
  if (grad)
    zero(e, n);
  open_loops(e, idx->type);
  out(e, "{\n");
  e->indent++;
  read_index(e, "v", arena_printf(&e->c->arena, "%s[%s]", ptr(e, idx), index_with(e, idx->type, NULL)),
             dimc(e, big.dim[ax]));
  if (!grad)
    out(e, "%s[%s] = %s[%s];\n", ptr(e, n), index_with(e, idx->type, NULL), ptr(e, x),
        index_with(e, big, sub));
  else
    out(e, "%s[%s] += %s[%s];\n", ptr(e, n), index_with(e, big, sub), ptr(e, x),
        index_with(e, idx->type, NULL));
  e->indent--;
  out(e, "}\n");
  close_loops(e, idx->type);
}

static void emit_scatter(Emitter *e, Node *n) {
  Node *src = n->in[0], *idx = n->in[1];
  const char *rows = dimc(e, n->type.dim[0]), *E = dimc(e, src->type.dim[0]);
  const char *F = prodc(e, &src->type, 1, src->type.rank);
  int mx = n->op == OP_SCATTER_MAX;
  if (mx)
    fill(e, n, "-INFINITY");
  else
    zero(e, n);
  out(e, "for (int64_t j = 0; j < %s; j++) {\n", E);
  e->indent++;
  read_index(e, "v", arena_printf(&e->c->arena, "%s[j]", ptr(e, idx)), rows);
  if (mx) {
    out(e, "for (int64_t k = 0; k < %s; k++)\n", F);
    out(e, "  if (%s[j * %s + k] > %s[v * %s + k]) %s[v * %s + k] = %s[j * %s + k];\n",
        ptr(e, src), F, ptr(e, n), F, ptr(e, n), F, ptr(e, src), F);
  } else {
    add_row(e, n->type.dtype, arena_printf(&e->c->arena, "%s + v * %s", ptr(e, n), F),
            arena_printf(&e->c->arena, "%s + j * %s", ptr(e, src), F), F);
  }
  e->indent--;
  out(e, "}\n");
  if (mx) { /* rows nothing was scattered into are 0 */
    out(e, "for (int64_t i = 0; i < %s; i++)\n", numelc(e, n->type));
    out(e, "  if (%s[i] == -INFINITY) %s[i] = 0;\n", ptr(e, n), ptr(e, n));
  }
}

static void emit_one_hot(Emitter *e, Node *n) {
  Node *idx = n->in[0];
  const char *cls = dimc(e, n->type.dim[n->type.rank - 1]);
  zero(e, n);
  out(e, "for (int64_t j = 0; j < %s; j++) {\n", numelc(e, idx->type));
  e->indent++;
  read_index(e, "v", arena_printf(&e->c->arena, "%s[j]", ptr(e, idx)), cls);
  out(e, "%s[j * %s + v] = 1;\n", ptr(e, n), cls);
  e->indent--;
  out(e, "}\n");
}

static void emit_upsample(Emitter *e, Node *n) {
  Node *x = n->in[0];
  const Attr *sc = ir_attr(n, "scale");
  const char *sub[4] = {NULL, NULL,
                        arena_printf(&e->c->arena, "%s / %lld", iv(2), (long long)sc->ints[0]),
                        arena_printf(&e->c->arena, "%s / %lld", iv(3), (long long)sc->ints[1])};
  open_loops(e, n->type);
  out(e, "%s[%s] = %s[%s];\n", ptr(e, n), index_with(e, n->type, NULL), ptr(e, x),
      index_with(e, x->type, sub));
  close_loops(e, n->type);
}

/* ------------------------------------------------------ convolutions */

/* Whether a convolution or max pooling reads its input through a
 * per-channel transform (two more operands: fuse rule 6). */
static int transformed(const Node *n) {
  return ((n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_WEIGHT ||
           n->op == OP_MAX_POOL2D_GRAD) && n->nin == 4) ||
         (n->op == OP_MAX_POOL2D && n->nin == 3);
}


/* The nnc_conv_shape of the convolution behind a conv-family node:
 * input [n,c,h,w] -> output [n,o,oh,ow] with a [o, c/g, kh, kw] kernel. */
/* A convolution node's input, weight and output types (the convolution
 * that maps `in` to `outp`; a transposed one maps its output to its input). */
static int pooled(const Node *n) { return n->op == OP_CONV2D && ir_attr_int(n, "pool", 0); }

/* A convolution's input, weight and output types; pooled (fuse rule 8),
 * its output before the pooling (constant sizes), in the arena a. */
static void conv_types(Arena *a, const Node *n, Type *in, Type *wt, Type *outp) {
  switch (n->op) {
  case OP_CONV2D:
    *in = n->in[0]->type, *wt = n->in[1]->type, *outp = n->type;
    if (pooled(n)) {
      Dim *d = arena_alloc(a, sizeof(Dim) * 4);
      memcpy(d, n->type.dim, sizeof(Dim) * 4);
      for (int i = 0; i < 2; i++)
        d[2 + i] = dim_const(a, ir_conv2d_out(n, i));
      outp->dim = d;
    }
    break;
  case OP_CONV2D_GRAD_INPUT:
    *in = n->type, *wt = n->in[1]->type, *outp = n->in[0]->type;
    break;
  case OP_CONV2D_GRAD_WEIGHT:
    *in = n->in[0]->type, *wt = n->type, *outp = n->in[1]->type;
    break;
  default: /* conv_transpose2d */
    *in = n->type, *wt = n->in[1]->type, *outp = n->in[0]->type;
    break;
  }
}

static const char *conv_shape(Emitter *e, const Node *n) {
  Type in, outp, wt;
  conv_types(&e->c->arena, n, &in, &wt, &outp);
  return arena_printf(
      &e->c->arena, "{%s, %s, %s, %s, %s, %s, %s, %s, %s, %lld, %lld, %lld, %lld, %lld, %lld, %lld}",
      dimc(e, in.dim[0]), dimc(e, in.dim[1]), dimc(e, in.dim[2]), dimc(e, in.dim[3]),
      dimc(e, outp.dim[1]), dimc(e, wt.dim[2]), dimc(e, wt.dim[3]), dimc(e, outp.dim[2]),
      dimc(e, outp.dim[3]), (long long)ir_attr_int2(n, "stride", 0, 1), (long long)ir_attr_int2(n, "stride", 1, 1),
      (long long)ir_attr_int2(n, "padding", 0, 0), (long long)ir_attr_int2(n, "padding", 1, 0),
      (long long)ir_attr_int2(n, "dilation", 0, 1), (long long)ir_attr_int2(n, "dilation", 1, 1),
      (long long)ir_attr_int(n, "groups", 1));
}

/* Bytes of a convolution's im2col scratch (at as for size_at): what the
 * runtime's nnc_conv2d_workspace asks for there on one thread (each
 * thread of the runtime's convolutions takes as much again). */
static double conv_scratch_at(Emitter *e, const Node *n, int at) {
  Type in, outp, wt;
  conv_types(&e->c->arena, n, &in, &wt, &outp);
  nnc_conv_shape s = {size_at(e, in.dim[0], at), size_at(e, in.dim[1], at),
                      size_at(e, in.dim[2], at), size_at(e, in.dim[3], at),
                      size_at(e, outp.dim[1], at), size_at(e, wt.dim[2], at),
                      size_at(e, wt.dim[3], at), size_at(e, outp.dim[2], at),
                      size_at(e, outp.dim[3], at),
                      ir_attr_int2(n, "stride", 0, 1), ir_attr_int2(n, "stride", 1, 1),
                      ir_attr_int2(n, "padding", 0, 0), ir_attr_int2(n, "padding", 1, 0),
                      ir_attr_int2(n, "dilation", 0, 1), ir_attr_int2(n, "dilation", 1, 1),
                      ir_attr_int(n, "groups", 1)};
  return ((double)nnc_conv2d_scratch(&s) + (transformed(n) ? (double)(s.c * s.h * s.w) : 0) +
          (pooled(n) ? (double)(s.n * s.o * s.oh * s.ow) : 0)) *
         (e->o->real == DT_F64 ? 8 : 4);
}

/* Bytes of a transformed max pooling's scratch (nnc_pool2d_in_workspace). */
static double pool_scratch_at(Emitter *e, const Node *n, int at) {
  Type in = n->in[0]->type;
  return (double)size_at(e, in.dim[1], at) * (double)size_at(e, in.dim[2], at) *
         (double)size_at(e, in.dim[3], at) * (e->o->real == DT_F64 ? 8 : 4);
}

static const char *pool_shape(Emitter *e, const Node *n) {
  Type in = n->op == OP_AVG_POOL2D_GRAD ? n->type : n->in[0]->type;
  Type o = n->op == OP_MAX_POOL2D || n->op == OP_AVG_POOL2D ? n->type
           : n->op == OP_MAX_POOL2D_GRAD                  ? n->in[1]->type
                                                          : n->in[0]->type;
  int64_t k0 = ir_attr_int2(n, "kernel", 0, 1), k1 = ir_attr_int2(n, "kernel", 1, 1);
  return arena_printf(
      &e->c->arena, "{%s, %s, %s, %s, %s, %s, %lld, %lld, %lld, %lld, %lld, %lld}",
      dimc(e, in.dim[0]), dimc(e, in.dim[1]), dimc(e, in.dim[2]), dimc(e, in.dim[3]),
      dimc(e, o.dim[2]), dimc(e, o.dim[3]), (long long)k0, (long long)k1,
      (long long)ir_attr_int2(n, "stride", 0, k0), (long long)ir_attr_int2(n, "stride", 1, k1),
      (long long)ir_attr_int2(n, "padding", 0, 0), (long long)ir_attr_int2(n, "padding", 1, 0));
}

static void emit_conv(Emitter *e, Node *n) {
  const char *sx = e->sfx;
  const char *scratch = arena_printf(&e->c->arena, "(%s *)(w + off[%d])", e->real,
                                     e->slot[n->id] + 1);
  out(e, "{\n");
  e->indent++;
  out(e, "const nnc_conv_shape s = %s;\n", conv_shape(e, n));
  switch (n->op) {
  case OP_CONV2D:
    if (transformed(n)) /* its input through a batch norm's ReLU (fuse rule 6) */
      out(e, "nnc_conv2d_in_%s(&s, %s, %s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[2]), ptr(e, n->in[3]), ptr(e, n->in[1]), ptr(e, n), scratch);
    else if (pooled(n)) /* and then MaxPool2d(2) (fuse rule 8) */
      out(e, "nnc_conv2d_bias_pool_%s(&s, %s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n->in[2]), ptr(e, n), scratch);
    else if (ir_attr_int(n, "bias", 0)) /* its bias and ReLU as it stores (fuse rule 7) */
      out(e, "nnc_conv2d_bias_%s(&s, %s, %s, %s, %d, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n->in[2]), (int)ir_attr_int(n, "relu", 0), ptr(e, n),
          scratch);
    else
      out(e, "nnc_conv2d_%s(&s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n), scratch);
    break;
  case OP_CONV2D_GRAD_INPUT: /* writes the whole gradient */
  case OP_CONV_TRANSPOSE2D:
    out(e, "nnc_conv2d_grad_input_set_%s(&s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
        ptr(e, n->in[1]), ptr(e, n), scratch);
    break;
  default:
    zero(e, n);
    if (transformed(n))
      out(e, "nnc_conv2d_grad_weight_in_%s(&s, %s, %s, %s, %s, %s, %s);\n", sx,
          ptr(e, n->in[0]), ptr(e, n->in[2]), ptr(e, n->in[3]), ptr(e, n->in[1]), ptr(e, n),
          scratch);
    else
      out(e, "nnc_conv2d_grad_weight_%s(&s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n), scratch);
  }
  e->indent--;
  out(e, "}\n");
}

static void emit_pool(Emitter *e, Node *n) {
  const char *sx = e->sfx;
  const char *scratch = arena_printf(&e->c->arena, "(%s *)(w + off[%d])", e->real,
                                     e->slot[n->id] + 1);
  out(e, "{\n");
  e->indent++;
  out(e, "const nnc_pool_shape s = %s;\n", pool_shape(e, n));
  switch (n->op) {
  case OP_MAX_POOL2D:
  case OP_AVG_POOL2D:
    if (transformed(n)) /* its input through a batch norm's ReLU (fuse rule 6) */
      out(e, "nnc_maxpool2d_in_%s(&s, %s, %s, %s, %s, %s);\n", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n->in[2]), ptr(e, n), scratch);
    else
      out(e, "nnc_%spool2d_%s(&s, %s, %s);\n", n->op == OP_MAX_POOL2D ? "max" : "avg", sx,
          ptr(e, n->in[0]), ptr(e, n));
    break;
  case OP_MAX_POOL2D_GRAD: /* writes the whole gradient (relu: simplify's fold) */
    if (transformed(n))
      out(e, "nnc_maxpool2d_grad_in_%s(&s, %s, %s, %s, %s, %s, %d, %s);\n", sx,
          ptr(e, n->in[0]), ptr(e, n->in[2]), ptr(e, n->in[3]), ptr(e, n->in[1]), ptr(e, n),
          (int)ir_attr_int(n, "relu", 0), scratch);
    else
      out(e, "nnc_maxpool2d_grad_%s_%s(&s, %s, %s, %s);\n",
          ir_attr_int(n, "relu", 0) ? "relu" : "set", sx, ptr(e, n->in[0]),
          ptr(e, n->in[1]), ptr(e, n));
    break;
  default:
    zero(e, n);
    out(e, "nnc_avgpool2d_grad_%s(&s, %s, %s);\n", sx, ptr(e, n->in[0]), ptr(e, n));
  }
  e->indent--;
  out(e, "}\n");
}

/* -------------------------------------------------------------- scan */

static void emit_region(Emitter *e, Region *r);

static Node *carry_node(Region *body, int i) {
  for (Node *x = body->first; x; x = x->next)
    if (x->op == OP_SCAN_CARRY && ir_attr_int(x, "index", 0) == i)
      return x;
  return NULL;
}

static Node *index_node(Region *body) {
  for (Node *x = body->first; x; x = x->next)
    if (x->op == OP_SCAN_INDEX)
      return x;
  return NULL;
}

static void copy(Emitter *e, const char *dst, Node *src) {
  if (src->op == OP_CONST && src->type.rank == 0) {
    out(e, "%s[0] = %s;\n", dst, elem(e, src, "0"));
    return;
  }
  out(e, "memcpy(%s, %s, sizeof(%s) * (size_t)%s);\n", dst, ptr(e, src),
      ctype(e, src->type.dtype), numelc(e, src->type));
}

/* The loop of a scan: carries copied in, the body once per step, each
 * yield stored at its step's place in the stacked result, carries copied
 * back for the next step. */
static void emit_scan(Emitter *e, Node *n) {
  Region *b = n->body;
  int nc = (int)ir_attr_int(n, "ncarry", 0), ny = b->nout - nc;
  const char *start = dimc(e, ir_attr(n, "start")->dims[0]);
  const char *steps = dimc(e, ir_attr(n, "steps")->dims[0]);
  const Attr *axes = ir_attr(n, "axes");
  for (int i = 0; i < nc; i++) {
    Node *cn = carry_node(b, i);
    if (cn)
      copy(e, e->home[cn->id] ? home_expr(e, cn, "0", "0") : ptr(e, cn), n->in[i]);
  }
  for (Node *u = b->first; u; u = u->next) /* weights packed once (packs_b) */
    if (e->packed[u->id]) {
      GemmArg gb;
      gemm_arg(e, u->in[1], &gb);
      Type bt = u->in[1]->type;
      out(e, "/* %s packed for the steps' %s */\n", e->cname[u->in[1]->id], e->cname[u->id]);
      out(e, "if (nnc_gemm_pb_ok(%s))\n", dimc(e, u->in[0]->type.dim[0]));
      out(e, "  nnc_gemm_pack_%s(%d, %s, %s, %s, %s, (%s *)(w + off[%d]));\n", e->sfx, gb.trans,
          dimc(e, u->in[0]->type.dim[1]), dimc(e, bt.dim[1]),
          at_expr(e, &gb.v, vindex(e, &gb.v, bt, 0, 0)), dimc(e, gb.ld), e->real,
          e->packed[u->id] - 1);
    }
  int d = e->scan_depth++;
  const char *stp = arena_printf(&e->c->arena, "step%d", d);
  const char *pos = arena_printf(&e->c->arena, "pos%d", d);
  if (e->names) /* kernels inside the loop take the counters */
    add_name(e, stp, "int64_t"), add_name(e, pos, "int64_t");
  out(e, "for (int64_t %s = 0; %s < %s; %s++) {\n", stp, stp, steps, stp);
  e->indent++;
  if (ir_attr_int(n, "reverse", 0))
    out(e, "const int64_t %s = %s - 1 - %s; /* backwards */\n", pos, steps, stp);
  else
    out(e, "const int64_t %s = %s;\n", pos, stp);
  Node *ix = index_node(b);
  if (ix)
    out(e, "%s[0] = (int32_t)(%s + %s);\n", ptr(e, ix), start, pos);
  for (Node *x = b->first; x; x = x->next) /* values in their stacks */
    if (e->home[x->id] == n)
      out(e, "%s = %s;\n", ptr(e, x), home_expr(e, x, pos, stp));
  emit_region(e, b);
  for (int k = 0; k < ny; k++) {
    Node *y = b->out[nc + k];
    Type st = n->result[k];
    int ax = (int)axes->ints[k];
    const char *outer = prodc(e, &y->type, 0, ax), *inner = prodc(e, &y->type, ax, y->type.rank);
    if (e->home[y->id] == n && e->home_k[y->id] == k && !e->home_at[y->id]) {
      out(e, "/* yield %s: written in place */\n", e->cname[y->id]);
      continue;
    }
    out(e, "for (int64_t o = 0; o < %s; o++) /* yield %s */\n", outer, e->cname[y->id]);
    out(e, "  memcpy((%s *)(w + off[%d]) + (o * %s + %s) * %s, %s + o * %s, sizeof(%s) * (size_t)%s);\n",
        ctype(e, st.dtype), e->slot[n->id] + k, steps, pos, inner, ptr(e, y), inner,
        ctype(e, st.dtype), inner);
  }
  for (int i = 0; i < nc; i++) {
    Node *cn = carry_node(b, i), *nv = b->out[i];
    if (cn && nv != cn && !e->home[cn->id]) /* else the next step reads it in place */
      copy(e, ptr(e, cn), nv);
  }
  e->indent--;
  e->scan_depth--;
  out(e, "}\n");
  if (e->names) /* declared by this code, outside it unknown */
    add_name(e, stp, NULL), add_name(e, pos, NULL);
}


/* ----------------------------------------------------------- kernels */
/* The loops of each node become a function of their own, a kernel,
 * called from the entry with the buffers they touch: gcc optimises many
 * small functions in a fraction of the time one huge function takes
 * (register allocation and data flow grow faster than the function), and
 * nodes whose loops differ only in their buffers (the layers of a
 * transformer, or in their sizes' names) share one kernel. A kernel
 * takes the dimensions and scan counters it reads as d0, d1, ..., then its
 * buffers as b0, b1, ..., in order of first use; the values of a fused
 * group's members (v_NAME elsewhere) are u0, u1, .... The call keeps the
 * node's comment. Code without a loop (GEMM, convolution and pooling
 * calls) stays in the entry. */

static void add_node_names(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    add_name(e, e->cname[n->id],
             arena_printf(&e->c->arena, "%s *", ctype(e, n->type.dtype)));
    if (n->body)
      add_node_names(e, n->body);
  }
}

/* text without comments, each line moved left by `ind` columns and right
 * by 2, blank lines dropped. */
static void kernel_lines(const char *text, int ind, StrBuf *b) {
  StrBuf t = {0};
  for (const char *q = text; *q; q++) {
    if (q[0] == '/' && q[1] == '*') {
      const char *c = strstr(q + 2, "*/");
      if (!c)
        break;
      q = c + 1;
      continue;
    }
    sb_putc(&t, *q);
  }
  for (const char *l = t.s ? t.s : ""; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    while (n > 0 && l[n - 1] == ' ')
      n--;
    size_t k = 0;
    while (k < n && k < (size_t)ind && l[k] == ' ')
      k++;
    if (k < n) {
      sb_putn(b, "  ", 2);
      sb_putn(b, l + k, n - k);
      sb_putc(b, '\n');
    }
    l = nl ? nl + 1 : l + strlen(l);
  }
  sb_free(&t);
}

static int indent_of(const char *l) {
  int k = 0;
  while (l[k] == ' ')
    k++;
  return k;
}

/* With OpenMP, a loop marked NNC_PARALLEL(work) runs as written only when
 * the work is large enough to be split, and as a plain loop otherwise:
 * entering a parallel region costs about 0.6 us even when its `if` clause
 * is false and it runs on one thread (libgomp builds and ends a team of
 * one, with a futex call), which was a fifth of LeNet's inference at
 * batch 1. Without OpenMP the preprocessor keeps the plain loop alone, so
 * the code the compiler sees is the same as before. */
static void serial_fallback(const char *code, StrBuf *b) {
  const char *l = code;
  while (*l) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
    int ind = indent_of(l);
    if (strncmp(l + ind, "NNC_PARALLEL(", 13) || !nl) {
      sb_putn(b, l, n);
      l += n;
      continue;
    }
    const char *work = l + ind + 12, *loop = nl + 1, *end = loop;
    size_t wl = (size_t)(nl - work);
    /* the loop statement: the `for` line, deeper lines, its closing brace */
    if (*end) {
      end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
      while (*end && indent_of(end) > ind)
        end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
      if (*end && indent_of(end) == ind && end[ind] == '}')
        end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
    }
    sb_printf(b, "%*s#ifdef _OPENMP\n", ind, "");
    sb_printf(b, "%*sif (%.*s >= NNC_PARALLEL_MIN) {\n", ind, "", (int)wl, work);
    for (const char *q = l; q < end;) { /* the marked loop, 2 deeper */
      const char *e = strchr(q, '\n');
      size_t m = e ? (size_t)(e - q + 1) : strlen(q);
      sb_putn(b, "  ", 2);
      sb_putn(b, q, m);
      q += m;
    }
    sb_printf(b, "%*s} else\n%*s#endif\n", ind, "", ind, "");
    sb_putn(b, loop, (size_t)(end - loop));
    l = end;
  }
}

/* Appends c and then k in decimal: b12. */
static void put_name(StrBuf *b, char c, int k) {
  char t[16];
  int n = (int)sizeof t;
  do
    t[--n] = (char)('0' + k % 10);
  while ((k /= 10) > 0 && n > 1);
  t[--n] = c;
  sb_putn(b, t + n, sizeof t - (size_t)n);
}

/* Writes the code `text` that emit_node produced for n (at e->indent) as
 * a call of a kernel, or as it is. */
static void outline(Emitter *e, Node *n, const char *text) {
  const char *body = text; /* after the leading comment lines */
  for (;;) {
    const char *q = body, *nl = strchr(body, '\n');
    while (*q == ' ')
      q++;
    if (!nl || strncmp(q, "/*", 2) || strncmp(nl - 2, "*/", 2))
      break;
    body = nl + 1;
  }
  if (!strstr(body, "for (") || strstr(body, "return")) {
    fputs(text, e->f);
    return;
  }
  StrBuf code = {0}, canon = {0}, sig = {0}, bufs = {0}, args = {0}, sargs = {0}, raw = {0};
  kernel_lines(body, 2 * e->indent, &raw);
  serial_fallback(raw.s ? raw.s : "", &code);
  sb_free(&raw);
  PtrVec seen = {0}, vals = {0}; /* the sizes and buffers; member values */
  int ok = 1;
  for (const char *q = code.s; ok && *q;) {
    int start = (isalpha((unsigned char)*q) || *q == '_') &&
                (q == code.s || !(isalnum((unsigned char)q[-1]) || q[-1] == '_'));
    if (!start) {
      sb_putc(&canon, *q++);
      continue;
    }
    size_t len = 0;
    while (isalnum((unsigned char)q[len]) || q[len] == '_')
      len++;
    int member = (q > code.s && q[-1] == '.') || (q - code.s >= 2 && q[-1] == '>' && q[-2] == '-');
    Name *x = member ? NULL : find_name(e, q, len);
    if (!x || !x->type) { /* the kernel's own (d0, b0 and u0 would clash) */
      ok = !(strchr("dbu", *q) && isdigit((unsigned char)q[1]));
      if (q[0] == 'v' && q[1] == '_') { /* a fused member's value: v_NAME */
        int k = 0;
        while (k < vals.n && (strlen(vals.v[k]) != len || strncmp(vals.v[k], q, len)))
          k++;
        if (k == vals.n)
          vec_push(&e->c->arena, &vals, arena_printf(&e->c->arena, "%.*s", (int)len, q));
        put_name(&canon, 'u', k);
      } else {
        sb_putn(&canon, q, len);
      }
    } else if (!strcmp(x->type, "int64_t")) {
      int k = 0, ns = 0;
      for (; k < seen.n && seen.v[k] != x; k++)
        ns += strcmp(((Name *)seen.v[k])->type, "int64_t") == 0;
      if (k == seen.n) { /* scalars come first */
        vec_push(&e->c->arena, &seen, x);
        sb_printf(&sig, "%sint64_t d%d", sig.len ? ", " : "", ns);
        sb_printf(&sargs, "%s%s", sargs.len ? ", " : "", x->name);
      }
      put_name(&canon, 'd', ns);
    } else {
      int k = 0, nb = 0;
      for (; k < seen.n && seen.v[k] != x; k++)
        nb += strcmp(((Name *)seen.v[k])->type, "int64_t") != 0;
      if (k == seen.n) {
        vec_push(&e->c->arena, &seen, x);
        sb_printf(&bufs, ", %sb%d", x->type, nb);
        sb_printf(&args, ", %s", x->name);
      }
      put_name(&canon, 'b', nb);
    }
    q += len;
  }
  if (!ok || !canon.s) {
    fputs(text, e->f);
  } else {
    const char *params = arena_printf(&e->c->arena, "%s%s", sig.s ? sig.s : "",
                                      bufs.s ? bufs.s + (sig.s ? 0 : 2) : "");
    const char *key = arena_printf(&e->c->arena, "%s\n%s", params, canon.s);
    uint64_t h = hash_bytes(key, strlen(key));
    Kernel *k = e->kernels[h % KERNEL_BUCKETS];
    while (k && (k->hash != h || strcmp(k->key, key)))
      k = k->next;
    if (!k) {
      k = arena_alloc(&e->c->arena, sizeof *k);
      k->hash = h;
      k->key = key;
      k->name = arena_printf(&e->c->arena, "%s_%s_k%d", e->p,
                             n->op == OP_FUSED ? "fused" : nnc_ops[n->op].name,
                             ++e->nkernels);
      k->next = e->kernels[h % KERNEL_BUCKETS];
      e->kernels[h % KERNEL_BUCKETS] = k;
      sb_printf(&e->pending, "NNC_KERNEL void %s(%s) {\n%s}\n\n", k->name,
                *params ? params : "void", canon.s);
    }
    fwrite(text, 1, (size_t)(body - text), e->f);
    const char *a = arena_printf(&e->c->arena, "%s%s", sargs.s ? sargs.s : "",
                                 args.s ? args.s + (sargs.s ? 0 : 2) : "");
    out(e, "%s(%s);\n", k->name, a);
  }
  sb_free(&code), sb_free(&canon), sb_free(&sig), sb_free(&bufs);
  sb_free(&args), sb_free(&sargs);
}

static void emit_node_code(Emitter *e, Node *n);

/* A node's code, through a kernel inside an entry's body. */
static void emit_node(Emitter *e, Node *n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mf = e->outlining ? open_memstream(&buf, &len) : NULL, *f = e->f;
  if (!mf) {
    emit_node_code(e, n);
    return;
  }
  e->f = mf;
  emit_node_code(e, n);
  fclose(mf);
  e->f = f;
  outline(e, n, buf ? buf : "");
  free(buf);
}

/* ---------------------------------------------------------- dispatch */

static void emit_node_code(Emitter *e, Node *n) {
  if (e->strided[n->id] || e->alias[n->id])
    return;
  if ((n->op == OP_RESHAPE || (n->op == OP_SLICE && e->absorbed[n->id])) &&
      dynamic_view(e, n)) {
    out(e, "%s = %s; /* a view of %s */\n", ptr(e, n), view_expr(e, n), n->in[0]->name);
    return;
  }
  switch (n->op) {
  case OP_INPUT: case OP_PARAM: case OP_BUFFER: case OP_RESHAPE: case OP_GET:
  case OP_SCAN_INDEX: case OP_SCAN_CARRY: case OP_MINIMIZE: case OP_UPDATE:
    return;
  case OP_CONST:
  case OP_FULL:
    fill(e, n, dtype_is_float(n->type.dtype) ? lit(e, ir_attr_float(n, "value", 0))
                                            : arena_printf(&e->c->arena, "%lld", (long long)ir_attr_float(n, "value", 0)));
    return;
  default:
    break;
  }
  if (n->op == OP_SLICE && e->absorbed[n->id])
    return;
  StrBuf b = {0};
  sb_printf(&b, "%s = %s", n->name, nnc_ops[n->op].name);
  for (int i = 0; i < n->nin; i++)
    sb_printf(&b, "%s%s", i ? ", " : " ", n->in[i]->name);
  out(e, "/* %s : %s  (%s:%d) */\n", b.s, op_has_body(n->op) ? nnc_ops[n->op].name : typestr(e, n->type),
      n->loc.file ? n->loc.file->name : "?", n->loc.line);
  sb_free(&b);
  switch (n->op) {
  case OP_ARANGE: fill(e, n, "(int32_t)i"); break;
  case OP_RAND_UNIFORM:
    fill(e, n, arena_printf(&e->c->arena, "(%s)nnc_rng_uniform(&m->rng)", e->real));
    break;
  case OP_RAND_NORMAL:
    fill(e, n, arena_printf(&e->c->arena, "(%s)nnc_rng_normal(&m->rng)", e->real));
    break;
  case OP_SUM: case OP_MEAN: case OP_MAX: case OP_MIN: case OP_LOGSUMEXP: case OP_ARGMAX:
    emit_reduce(e, n);
    break;
  case OP_SOFTMAX: case OP_LOG_SOFTMAX: emit_softmax(e, n); break;
  case OP_SOFTMAX_XENT: case OP_SOFTMAX_XENT_GRAD: emit_softmax_xent(e, n); break;
  case OP_MATMUL: emit_matmul(e, n); break;
  case OP_PERMUTE: emit_permute(e, n); break;
  case OP_SLICE: emit_slice(e, n, 0); break;
  case OP_SLICE_GRAD: emit_slice(e, n, 1); break;
  case OP_CONCAT: emit_concat(e, n); break;
  case OP_TAKE: emit_take(e, n, 0); break;
  case OP_TAKE_GRAD: emit_take(e, n, 1); break;
  case OP_TAKE_ALONG: emit_take_along(e, n, 0); break;
  case OP_TAKE_ALONG_GRAD: emit_take_along(e, n, 1); break;
  case OP_SCATTER_ADD: case OP_SCATTER_MAX: emit_scatter(e, n); break;
  case OP_ONE_HOT: emit_one_hot(e, n); break;
  case OP_CONV2D: case OP_CONV2D_GRAD_INPUT: case OP_CONV2D_GRAD_WEIGHT:
  case OP_CONV_TRANSPOSE2D:
    emit_conv(e, n);
    break;
  case OP_MAX_POOL2D: case OP_AVG_POOL2D: case OP_MAX_POOL2D_GRAD: case OP_AVG_POOL2D_GRAD:
    emit_pool(e, n);
    break;
  case OP_UPSAMPLE: emit_upsample(e, n); break;
  case OP_SCAN: emit_scan(e, n); break;
  case OP_FUSED: emit_fused(e, n); break;
  case OP_ACCUM_GRAD: {
    const char *name = ir_attr(n, "name")->s;
    if (e->grad_off[n->in[0]->id]) {
      out(e, "/* d %s: added by the GEMM above */\n", name);
      break;
    }
    out(e, "for (int64_t i = 0; i < %s; i++) /* d %s */\n", numelc(e, n->type), name);
    out(e, "  %s[i] += %s;\n", ptr(e, n), elem(e, n->in[0], "i"));
    break;
  }
  case OP_INPUT_GRAD: {
    int64_t k = ir_attr_int(n, "index", 0);
    out(e, "if (dx_%lld)\n", (long long)k);
    out(e, "  for (int64_t i = 0; i < %s; i++)\n", numelc(e, n->type));
    out(e, "    dx_%lld[i] = %s;\n", (long long)k, elem(e, n->in[0], "i"));
    break;
  }
  default:
    emit_elementwise(e, n);
  }
}

static void emit_region(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next)
    emit_node(e, n);
}

/* Values of a train entry that only input gradients need are computed only
 * when the caller asks for one of those gradients (a dx pointer). */
#define ALWAYS 0x80000000u

/* Everything a scan body reads (captured values included) is needed. */
static void mark_captures(Region *r, uint32_t *need) {
  for (Node *x = r->first; x; x = x->next) {
    for (int k = 0; k < x->nin; k++)
      need[x->in[k]->id] |= ALWAYS;
    if (x->body)
      mark_captures(x->body, need);
  }
  for (int i = 0; i < r->nout; i++)
    need[r->out[i]->id] |= ALWAYS;
}
static void input_grad_masks(Emitter *e, Func *f) {
  Arena *a = &e->c->arena;
  uint32_t *need = arena_alloc(a, sizeof(uint32_t) * (size_t)(f->next_id + 1));
  e->only_dx = arena_alloc(a, sizeof(uint32_t) * (size_t)(f->next_id + 1));
  int n = 0;
  for (Node *x = f->body.first; x; x = x->next)
    n++;
  Node **v = arena_alloc(a, sizeof(Node *) * (size_t)(n + 1));
  n = 0;
  for (Node *x = f->body.first; x; x = x->next)
    v[n++] = x;
  for (int i = 0; i < f->body.nout; i++)
    need[f->body.out[i]->id] = ALWAYS;
  for (int i = n - 1; i >= 0; i--) {
    Node *x = v[i];
    uint32_t mk = need[x->id];
    if (x->op == OP_INPUT_GRAD && ir_attr_int(x, "index", 0) < 31)
      mk = 1u << ir_attr_int(x, "index", 0);
    else if (x->op == OP_INPUT_GRAD || x->op == OP_ACCUM_GRAD || x->op == OP_UPDATE ||
             x->op == OP_MINIMIZE || x->op == OP_SCAN || x->op == OP_RAND_UNIFORM ||
             x->op == OP_RAND_NORMAL || (x->op == OP_GET && x->in[0]->op == OP_SCAN) ||
             x->op == OP_RESHAPE || x->op == OP_PERMUTE)
      mk |= ALWAYS; /* side effects, and values other nodes alias */
    need[x->id] = mk;
    for (int k = 0; k < x->nin; k++) /* a fused node's operands: all it reads */
      need[x->in[k]->id] |= mk;
    if (x->op == OP_SCAN)
      mark_captures(x->body, need);
  }
  for (int i = 0; i < n; i++)
    e->only_dx[v[i]->id] = need[v[i]->id] & ALWAYS ? 0 : need[v[i]->id];
}

/* The top region of a train entry, with the input-gradient-only values
 * inside `if (dx_k ...)`. */
static void emit_body(Emitter *e, Func *f) {
  if (f->kind != FN_TRAIN) {
    emit_region(e, &f->body);
    return;
  }
  uint32_t open = 0; /* e->only_dx: input_grad_masks, before planning */
  for (Node *n = f->body.first; n; n = n->next) {
    uint32_t mk = e->only_dx[n->id];
    if (mk != open) {
      if (open) {
        e->indent--;
        out(e, "}\n");
      }
      if (mk) {
        StrBuf b = {0};
        for (int k = 0; k < 31; k++)
          if (mk & (1u << k))
            sb_printf(&b, "%sdx_%d", b.len ? " || " : "", k);
        out(e, "if (%s) { /* needed by input gradients only */\n", b.s);
        sb_free(&b);
        e->indent++;
      }
      open = mk;
    }
    emit_node(e, n);
  }
  if (open) {
    e->indent--;
    out(e, "}\n");
  }
}

/* Pointers of every value, in order, with their shapes. */
static void declare_region(Emitter *e, Region *r) {
  for (Node *n = r->first; n; n = n->next) {
    if (n->op == OP_GET && e->placed[n->id]) /* its group writes the concatenation */
      continue;
    if (n->op == OP_GET && !e->alias[n->id] && !e->home[n->id]) {
      Node *s = n->in[0];
      int k = (int)ir_attr_int(n, "index", 0);
      int nc = (int)ir_attr_int(s, "ncarry", 0), ny = s->nresult - nc;
      const char *ct = ctype(e, n->type.dtype);
      if (k < ny)
        out(e, "%s *%s = (%s *)(w + off[%d]); /* %s */\n", ct, e->cname[n->id], ct,
            e->slot[s->id] + k, typestr(e, n->type));
      else if (e->ring[carry_node(s->body, k - ny)->id]) /* the last step's half */
        out(e, "%s *%s = (%s *)(w + off[%d]) + (%s & 1) * %s; /* %s, the final carry */\n", ct,
            e->cname[n->id], ct, e->slot[carry_node(s->body, k - ny)->id],
            dimc(e, ir_attr(s, "steps")->dims[0]), numelc(e, n->type), typestr(e, n->type));
      else if (e->home[carry_node(s->body, k - ny)->id]) /* after the last step */
        out(e, "%s *%s = (%s *)(w + off[%d]) + %s * %s; /* %s, the final carry */\n", ct,
            e->cname[n->id], ct, e->slot[s->id] + e->home_k[carry_node(s->body, k - ny)->id],
            dimc(e, ir_attr(s, "steps")->dims[0]), numelc(e, n->type), typestr(e, n->type));
      else
        out(e, "%s *%s = %s; /* %s, the final carry */\n", ct, e->cname[n->id],
            ptr(e, carry_node(s->body, k - ny)), typestr(e, n->type));
      continue;
    }
    declare(e, n);
    if (n->op == OP_SCAN)
      declare_region(e, n->body);
  }
}

/* --------------------------------------------------------- functions */

/* The symbols an entry point takes, in order of appearance. */
static int entry_syms(Emitter *e, Func *f, int *syms) {
  int n = 0;
  for (int i = 0; i < f->nin; i++) {
    Type t = f->inputs[i]->type;
    for (int j = 0; j < t.rank; j++)
      for (int k = 0; k < t.dim[j].nterm; k++)
        for (int v = 0; v < t.dim[j].term[k].nvar; v++) {
          int s = t.dim[j].term[k].var[v], seen = 0;
          for (int q = 0; q < n; q++)
            seen |= syms[q] == s;
          if (!seen)
            syms[n++] = s;
        }
  }
  (void)e;
  return n;
}

static const char *dim_params(Emitter *e, const int *syms, int n) {
  StrBuf b = {0};
  for (int i = 0; i < n; i++)
    sb_printf(&b, ", int64_t %s", e->mod->syms.name[syms[i]]);
  const char *s = arena_strdup(&e->c->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

static const char *dim_args(Emitter *e, const int *syms, int n, const char *arr) {
  StrBuf b = {0};
  for (int i = 0; i < n; i++)
    if (arr)
      sb_printf(&b, ", %s[%d]", arr, syms[i]);
    else
      sb_printf(&b, ", %s", e->mod->syms.name[syms[i]]);
  const char *s = arena_strdup(&e->c->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

/* "const float *x, const int32_t *y" and "float *out0": the data args. */
static const char *data_params(Emitter *e, Func *f, int with_dx) {
  StrBuf b = {0};
  for (int i = 0; i < f->nin; i++)
    sb_printf(&b, ", const %s *%s", ctype(e, f->inputs[i]->type.dtype),
              e->cname[f->inputs[i]->id]);
  for (int i = 0; i < f->body.nout; i++)
    sb_printf(&b, ", %s *out%d", ctype(e, f->body.out[i]->type.dtype), i);
  if (with_dx)
    for (int i = 0; i < f->nin; i++)
      if (dtype_is_float(f->inputs[i]->type.dtype))
        sb_printf(&b, ", %s *dx_%d", e->real, i);
  const char *s = arena_strdup(&e->c->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

static const char *data_args(Emitter *e, Func *f, int with_dx) {
  StrBuf b = {0};
  for (int i = 0; i < f->nin; i++)
    sb_printf(&b, ", %s", e->cname[f->inputs[i]->id]);
  for (int i = 0; i < f->body.nout; i++)
    sb_printf(&b, ", out%d", i);
  if (with_dx)
    for (int i = 0; i < f->nin; i++)
      if (dtype_is_float(f->inputs[i]->type.dtype))
        sb_printf(&b, ", dx_%d", i);
  const char *s = arena_strdup(&e->c->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

static void header_comment(Emitter *e, FILE *f, Func *fn) {
  fprintf(f, "/* %s %s(", fn->kind == FN_TRAIN ? "train" : "fn", fn->name);
  for (int i = 0; i < fn->nin; i++)
    fprintf(f, "%s%s: %s", i ? ", " : "", ir_attr(fn->inputs[i], "name")->s,
            typestr(e, fn->inputs[i]->type));
  fprintf(f, ") -> (");
  for (int i = 0; i < fn->body.nout; i++)
    fprintf(f, "%sout%d %s: %s", i ? ", " : "", i, fn->out_names[i],
            typestr(e, fn->body.out[i]->type));
  fprintf(f, ")  (%s:%d) */\n", fn->loc.file ? fn->loc.file->name : "?", fn->loc.line);
}

static void collect_updates(Region *r, PtrVec *v, Arena *a) {
  for (Node *n = r->first; n; n = n->next)
    if (n->op == OP_UPDATE)
      vec_push(a, v, n);
}

static void emit_func(Emitter *e, Func *fn) {
  Arena *a = &e->c->arena;
  int train = fn->kind == FN_TRAIN;
  e->fn = fn;
  e->cname = arena_alloc(a, sizeof(char *) * (size_t)(fn->next_id + 1));
  e->slot = arena_alloc(a, sizeof(int) * (size_t)(fn->next_id + 1));
  e->uses = arena_alloc(a, sizeof(int) * (size_t)(fn->next_id + 1));
  e->absorbed = arena_alloc(a, (size_t)fn->next_id + 1);
  e->strided = arena_alloc(a, (size_t)fn->next_id + 1);
  e->alias = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->bias = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->passthru = arena_alloc(a, (size_t)fn->next_id + 1);
  e->home = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->home_k = arena_alloc(a, sizeof(int) * (size_t)(fn->next_id + 1));
  e->home_at = arena_alloc(a, (size_t)fn->next_id + 1);
  e->ring = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->into = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->reader = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->into2 = arena_alloc(a, sizeof(Node *) * (size_t)(fn->next_id + 1));
  e->placed = arena_alloc(a, (size_t)fn->next_id + 1);
  e->grad_off = arena_alloc(a, sizeof(int64_t) * (size_t)(fn->next_id + 1));
  e->packed = arena_alloc(a, sizeof(int) * (size_t)(fn->next_id + 1));
  e->pos = arena_alloc(a, sizeof(int) * (size_t)(fn->next_id + 1));
  e->nslots = e->npos = 0;
  sb_free(&e->plan);
  e->names = arena_alloc(a, sizeof(Name *) * NAME_BUCKETS);
  name_nodes(e, &fn->body);
  count_uses(e, &fn->body);
  find_absorbed(e, &fn->body);
  find_strided(e, fn);
  if (e->o->share_buffers)
    find_grad_gemms(e, &fn->body);
  e->only_dx = NULL;
  if (train)
    input_grad_masks(e, fn);
  find_readers(e, &fn->body);
  find_written(e, &fn->body);
  find_placed(e, &fn->body);
  find_biased(e, &fn->body);
  find_homes(e, &fn->body);
  plan_region(e, &fn->body, -1);
  early_births(e, &fn->body);
  e->ndx_slots = 0;
  for (int i = 0; i < e->nslots; i++)
    e->ndx_slots += e->slots[i].dx;
  plan_buffers(e, fn, e->o->share_buffers);
  int syms[64], ns = entry_syms(e, fn, syms);
  const char *P = e->p, *N = fn->name;
  const char *dp = dim_params(e, syms, ns), *da = dim_args(e, syms, ns, NULL);
  int nslots = e->nslots ? e->nslots : 1;

  /* the entry's text waits for the kernels its body creates */
  FILE *real = e->f, *mf = NULL;
  char *text = NULL;
  size_t tlen = 0;
  if (!e->kernels)
    e->kernels = arena_alloc(a, sizeof(Kernel *) * KERNEL_BUCKETS);
  add_node_names(e, &fn->body);
  for (int i = 0; i < fn->nin; i++)
    add_name(e, e->cname[fn->inputs[i]->id],
             arena_printf(a, "const %s *", ctype(e, fn->inputs[i]->type.dtype)));
  for (int i = 0; i < fn->body.nout; i++)
    add_name(e, arena_printf(a, "out%d", i),
             arena_printf(a, "%s *", ctype(e, fn->body.out[i]->type.dtype)));
  for (int i = 0; train && i < fn->nin; i++)
    add_name(e, arena_printf(a, "dx_%d", i), arena_printf(a, "%s *", e->real));
  add_name(e, "m", arena_printf(a, "%s *", e->S));
  add_name(e, "w", "char *");
  add_name(e, "off", "size_t *");
  for (int i = 0; i < ns; i++)
    add_name(e, e->mod->syms.name[syms[i]], "int64_t");
  mf = open_memstream(&text, &tlen);
  if (mf)
    e->f = mf;
  fprintf(e->f, "\n/* ---- %s %s */\n\n", train ? "train" : "fn", N);
  header_comment(e, e->f, fn);
  fprintf(e->f, "static size_t %s_%s_plan(size_t *off%s) {\n  size_t t = 0;\n", P, N, dp);
  for (int i = 0; i < ns; i++)
    fprintf(e->f, "  (void)%s;\n", e->mod->syms.name[syms[i]]);
  fprintf(e->f, "%s  return t;\n}\n\n", e->plan.s ? e->plan.s : "  (void)off;\n");
  fprintf(e->f, "size_t %s_%s_workspace(%s) {\n  size_t off[%d];\n  return %s_%s_plan(off%s);\n}\n\n",
          P, N, ns ? dp + 2 : "void", nslots + 1, P, N, da);
  const char *run = train ? arena_printf(a, "%s_%s_run", P, N) : arena_printf(a, "%s_%s", P, N);
  fprintf(e->f, "%sint %s(%s *m%s%s, void *ws) {\n", train ? "static " : "", run, e->S, dp,
          data_params(e, fn, train));
  e->indent = 1;
  for (int i = 0; i < ns; i++)
    out(e, "if (%s < 1) return NNC_EBADDIM;\n", e->mod->syms.name[syms[i]]);
  for (int i = 0; train && i < fn->nin; i++)
    if (dtype_is_float(fn->inputs[i]->type.dtype))
      out(e, "(void)dx_%d; /* written only when the loss depends on it */\n", i);
  out(e, "size_t off[%d];\n", nslots + 1);
  out(e, "size_t need = %s_%s_plan(off%s);\n", P, N, da);
  if (e->ndx_slots) { /* without input gradients, their buffers are not reserved */
    StrBuf b = {0};
    for (int i = 0; i < fn->nin; i++)
      if (dtype_is_float(fn->inputs[i]->type.dtype))
        sb_printf(&b, "%s!dx_%d", b.len ? " && " : "", i);
    if (b.len)
      out(e, "if (%s)\n  need = off[%d];\n", b.s, e->nslots);
    sb_free(&b);
  }
  out(e, "char *w = ws ? (char *)ws : %s_reserve(m, need);\n", P);
  out(e, "if (!w) return NNC_ENOMEM;\n");
  declare_region(e, &fn->body);
  out(e, "(void)w;\n");
  e->outlining = mf != NULL;
  emit_body(e, fn);
  e->outlining = 0;
  for (int i = 0; i < fn->body.nout; i++) {
    Node *o = fn->body.out[i];
    out(e, "/* result %d: %s */\n", i, fn->out_names[i]);
    copy(e, arena_printf(a, "out%d", i), o);
  }
  PtrVec ups = {0};
  collect_updates(&fn->body, &ups, a);
  for (int i = 0; i < ups.n; i++) {
    Node *u = ups.v[i];
    const char *name = ir_attr(u, "name")->s;
    int64_t off = 0;
    for (int k = 0; k < e->md->params.n; k++)
      if (!strcmp(((ParamDecl *)e->md->params.v[k])->name, name))
        off = e->poff[k];
    out(e, "/* update buffer %s */\n", name);
    copy(e, arena_printf(a, "(%s *)(m->buffers + %lld)", ctype(e, u->type.dtype), (long long)off),
         u->in[0]);
  }
  out(e, "return 0;\n");
  e->indent = 0;
  fprintf(e->f, "}\n");
  if (mf) { /* the kernels, then the entry */
    fclose(mf);
    e->f = real;
    if (e->pending.len)
      fprintf(e->f, "\n/* kernels of %s (each node's loops, see docs/api.md) */\n\n%.*s",
              N, (int)e->pending.len - 1, e->pending.s);
    fputs(text ? text : "", e->f);
    free(text);
    sb_free(&e->pending);
  }
  e->names = NULL;
  /* header */
  fprintf(e->h, "\n");
  header_comment(e, e->h, fn);
  fprintf(e->h, "size_t %s_%s_workspace(%s);\n", P, N, ns ? dp + 2 : "void");
  if (!train) {
    fprintf(e->h, "int %s_%s(%s *m%s%s, void *ws);\n", P, N, e->S, dp, data_params(e, fn, 0));
    return;
  }
  fprintf(e->h, "int %s_%s(%s *m%s%s, void *ws);\n", P, N, e->S, dp, data_params(e, fn, 0));
  fprintf(e->h, "int %s_%s_grad(%s *m%s%s, void *ws);\n", P, N, e->S, dp, data_params(e, fn, 1));
  fprintf(e->h, "void %s_%s_update(%s *m);\n", P, N, e->S);
  /* the two public halves and the whole step */
  StrBuf nulls = {0};
  for (int i = 0; i < fn->nin; i++)
    if (dtype_is_float(fn->inputs[i]->type.dtype))
      sb_printf(&nulls, ", NULL");
  fprintf(e->f, "\nint %s_%s_grad(%s *m%s%s, void *ws) {\n  return %s(m%s%s, ws);\n}\n", P, N,
          e->S, dp, data_params(e, fn, 1), run, da, data_args(e, fn, 1));
  fprintf(e->f, "\nint %s_%s(%s *m%s%s, void *ws) {\n  int rc = %s(m%s%s%s, ws);\n"
                "  if (rc == 0)\n    %s_%s_update(m);\n  return rc;\n}\n",
          P, N, e->S, dp, data_params(e, fn, 0), run, da, data_args(e, fn, 0),
          nulls.s ? nulls.s : "", P, N);
  sb_free(&nulls);
}

/* ----------------------------------------------------------- training */

static Node *minimize_of(Func *f) {
  for (Node *n = f->body.first; n; n = n->next)
    if (n->op == OP_MINIMIZE)
      return n;
  return NULL;
}

/* Parameters a train entry updates: those with an accum_grad. */
static int updated_params(Emitter *e, Func *f, int *idx) {
  int n = 0;
  for (int i = 0; i < e->md->params.n; i++) {
    ParamDecl *pd = e->md->params.v[i];
    if (pd->role != PR_PARAM)
      continue;
    for (Node *x = f->body.first; x; x = x->next)
      if (x->op == OP_ACCUM_GRAD && !strcmp(ir_attr(x, "name")->s, pd->name)) {
        idx[n++] = i;
        break;
      }
  }
  return n;
}

static void emit_settings_init(Emitter *e, Func *f) {
  Node *mz = minimize_of(f);
  const char *opt = mz ? ir_attr(mz, "optimizer")->s : "sgd";
  int adamw = !strcmp(opt, "adamw");
  fprintf(e->f, "  m->%s_settings.kind = %s;\n", f->name,
          !strcmp(opt, "sgd") ? "NNC_SGD" : adamw ? "NNC_ADAMW" : "NNC_ADAM");
  static const char *const keys[] = {"lr", "momentum", "dampening", "beta1", "beta2",
                                     "eps", "weight_decay", NULL};
  double dflt[] = {1e-3, 0, 0, 0.9, 0.999, 1e-8, adamw ? 0.01 : 0};
  for (int i = 0; keys[i]; i++)
    fprintf(e->f, "  m->%s_settings.%s = %.17g;\n", f->name, keys[i],
            mz ? ir_attr_float(mz, keys[i], dflt[i]) : dflt[i]);
  fprintf(e->f, "  m->%s_settings.nesterov = %d;\n", f->name,
          mz ? ir_attr_float(mz, "nesterov", 0) != 0 : 0);
}

static void emit_update(Emitter *e, Func *f) {
  int idx[4096], n = updated_params(e, f, idx);
  const char *P = e->p, *N = f->name, *sx = e->sfx;
  fprintf(e->f, "\n/* The optimizer step of %s, then its gradients zeroed. */\n", N);
  fprintf(e->f, "void %s_%s_update(%s *m) {\n", P, N, e->S);
  fprintf(e->f, "  static const int64_t off[] = {");
  for (int i = 0; i < n; i++)
    fprintf(e->f, "%s%lld", i ? ", " : "", (long long)e->poff[idx[i]]);
  fprintf(e->f, "%s};\n  static const int64_t len[] = {", n ? "" : "0");
  for (int i = 0; i < n; i++)
    fprintf(e->f, "%s%lld", i ? ", " : "",
            (long long)type_numel_const(((ParamDecl *)e->md->params.v[idx[i]])->type));
  fprintf(e->f, "%s};\n", n ? "" : "0");
  fprintf(e->f, "  const nnc_opt_settings *s = &m->%s_settings;\n", N);
  fprintf(e->f, "  const int n = %d;\n", n);
  fprintf(e->f, "  int64_t state = 0;\n");
  fprintf(e->f, "  m->%s_t++;\n", N);
  fprintf(e->f, "  if (s->clip_norm > 0) { /* clip the global norm */\n"
                "    double sq = 0;\n"
                "    for (int i = 0; i < n; i++) {\n"
                "      double g = nnc_grad_norm_%s(m->grads + off[i], len[i]);\n"
                "      sq += g * g;\n"
                "    }\n"
                "    double norm = sqrt(sq);\n"
                "    if (norm > s->clip_norm)\n"
                "      for (int i = 0; i < n; i++)\n"
                "        for (int64_t k = 0; k < len[i]; k++)\n"
                "          m->grads[off[i] + k] *= (%s)(s->clip_norm / (norm + 1e-6));\n"
                "  }\n", sx, e->real);
  fprintf(e->f, "  for (int i = 0; i < n; i++) {\n"
                "    nnc_opt_update_%s(s, m->%s_t, m->params + off[i], m->grads + off[i],\n"
                "                      m->%s_state + state, len[i]); /* and zeroes them */\n"
                "    state += 2 * len[i];\n"
                "  }\n}\n", sx, N, N);
}

/* ------------------------------------------------------------- model */

static void layout(Emitter *e) {
  Arena *a = &e->c->arena;
  e->poff = arena_alloc(a, sizeof(int64_t) * (size_t)(e->md->params.n + 1));
  e->nparams = 0;
  e->nbuf_bytes = 0;
  size_t real = e->o->real == DT_F64 ? 8 : 4;
  for (int i = 0; i < e->md->params.n; i++) {
    ParamDecl *pd = e->md->params.v[i];
    int64_t n = type_numel_const(pd->type);
    if (pd->role == PR_PARAM) {
      e->poff[i] = e->nparams;
      e->nparams += n;
    } else {
      e->poff[i] = e->nbuf_bytes;
      e->nbuf_bytes += (n * (int64_t)(pd->type.dtype == DT_I32 ? 4 : real) + 7) / 8 * 8;
    }
  }
}

static const char *c_string(Emitter *e, const char *s) {
  StrBuf b = {0};
  sb_putc(&b, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      sb_putc(&b, '\\');
    sb_putc(&b, *s);
  }
  sb_putc(&b, '"');
  const char *r = arena_strdup(&e->c->arena, b.s);
  sb_free(&b);
  return r;
}

static const char *rt_dtype(Emitter *e, DType t) {
  (void)e;
  return t == DT_I32 ? "NNC_I32" : t == DT_BOOL ? "NNC_BOOL"
         : e->o->real == DT_F64 ? "NNC_F64" : "NNC_F32";
}

static void emit_tables(Emitter *e) {
  fprintf(e->f, "\n/* Parameters and buffers: PyTorch names, shapes, offsets, initialisers. */\n");
  fprintf(e->f, "static const nnc_tensor_info %s_tensor_info[] = {\n", e->p);
  for (int i = 0; i < e->md->params.n; i++) {
    ParamDecl *pd = e->md->params.v[i];
    fprintf(e->f, "    {%s, %s, %s, %d, {", c_string(e, pd->name),
            pd->role == PR_PARAM ? "NNC_PARAM" : "NNC_BUFFER", rt_dtype(e, pd->type.dtype),
            pd->type.rank);
    for (int k = 0; k < pd->type.rank; k++)
      fprintf(e->f, "%s%lld", k ? ", " : "", (long long)dim_value(pd->type.dim[k]));
    fprintf(e->f, "%s}, %lld, %lld, %s},\n", pd->type.rank ? "" : "0",
            (long long)type_numel_const(pd->type), (long long)e->poff[i],
            c_string(e, pd->init));
  }
  if (!e->md->params.n)
    fprintf(e->f, "    {\"\", NNC_PARAM, NNC_F32, 0, {0}, 0, 0, \"zeros\"},\n");
  fprintf(e->f, "};\nenum { %s_NTENSORS = %d };\n", e->p, e->md->params.n);
}

static void emit_struct(Emitter *e) {
  FILE *h = e->h;
  fprintf(h, "\n/* Model %s (%s:%d). Fields: see docs/api.md. */\n", e->md->name,
          e->md->loc.file ? e->md->loc.file->name : "?", e->md->loc.line);
  fprintf(h, "#define %s_PARAMS %lld /* trained elements */\n", e->S, (long long)e->nparams);
  fprintf(h, "#define %s_BUFFER_BYTES %lld\n\n", e->S, (long long)e->nbuf_bytes);
  fprintf(h, "typedef struct %s {\n", e->S);
  fprintf(h, "  %s *params;         /* every trained parameter, one block */\n", e->real);
  fprintf(h, "  %s *grads;          /* their gradients, same layout */\n", e->real);
  fprintf(h, "  unsigned char *buffers; /* running statistics and other buffers */\n");
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *f = e->md->funcs.v[i];
    if (f->kind != FN_TRAIN)
      continue;
    fprintf(h, "  nnc_opt_settings %s_settings; /* optimizer of train %s */\n", f->name, f->name);
    fprintf(h, "  %s *%s_state;       /* its moments */\n", e->real, f->name);
    fprintf(h, "  int64_t %s_t;         /* its steps taken */\n", f->name);
  }
  fprintf(h, "  nnc_rng rng;          /* in-graph random numbers */\n");
  fprintf(h, "  void *ws;             /* the model's own workspace */\n");
  fprintf(h, "  size_t ws_size;\n} %s;\n\n", e->S);
  const char *P = e->p, *S = e->S;
  fprintf(h, "%s *%s_create(void);\n", S, P);
  fprintf(h, "void %s_free(%s *m);\n", P, S);
  fprintf(h, "void %s_init(%s *m, uint64_t seed);\n", P, S);
  fprintf(h, "void %s_seed(%s *m, uint64_t seed);\n", P, S);
  fprintf(h, "void %s_zero_grad(%s *m);\n", P, S);
  fprintf(h, "int %s_save(const %s *m, const char *path);\n", P, S);
  fprintf(h, "int %s_load(%s *m, const char *path, char *err, size_t errlen);\n", P, S);
  fprintf(h, "const nnc_tensor_info *%s_tensors(int *n);\n", P);
  fprintf(h, "%s *%s_param(%s *m, const char *name);\n", e->real, P, S);
  fprintf(h, "%s *%s_grad(%s *m, const char *name);\n", e->real, P, S);
  fprintf(h, "extern const nnc_model_desc %s_desc;\n", P);
}

static int64_t state_elems(Emitter *e, Func *f) {
  int idx[4096], n = updated_params(e, f, idx);
  int64_t t = 0;
  for (int i = 0; i < n; i++)
    t += 2 * type_numel_const(((ParamDecl *)e->md->params.v[idx[i]])->type);
  return t;
}

static void emit_lifecycle(Emitter *e) {
  FILE *f = e->f;
  const char *P = e->p, *S = e->S, *R = e->real;
  fprintf(f, "\n/* The model's own workspace grows to the largest request and stays. */\n");
  fprintf(f, "static char *%s_reserve(%s *m, size_t need) {\n", P, S);
  fprintf(f, "  if (need > m->ws_size) {\n    void *p = realloc(m->ws, need);\n"
             "    if (!p)\n      return NULL;\n    memset(p, 0, need);\n"
             "    m->ws = p;\n    m->ws_size = need;\n  }\n  return (char *)m->ws;\n}\n");
  fprintf(f, "\n%s *%s_create(void) {\n  %s *m = calloc(1, sizeof *m);\n  if (!m)\n    return NULL;\n", S, P, S);
  fprintf(f, "  m->params = calloc((size_t)%s_PARAMS + 1, sizeof(%s));\n", S, R);
  fprintf(f, "  m->grads = calloc((size_t)%s_PARAMS + 1, sizeof(%s));\n", S, R);
  fprintf(f, "  m->buffers = calloc((size_t)%s_BUFFER_BYTES + 8, 1);\n", S);
  fprintf(f, "  int ok = m->params && m->grads && m->buffers;\n");
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *fn = e->md->funcs.v[i];
    if (fn->kind != FN_TRAIN)
      continue;
    fprintf(f, "  m->%s_state = calloc((size_t)%lld + 1, sizeof(%s));\n", fn->name,
            (long long)state_elems(e, fn), R);
    fprintf(f, "  ok = ok && m->%s_state;\n", fn->name);
    emit_settings_init(e, fn);
  }
  fprintf(f, "  if (!ok) {\n    %s_free(m);\n    return NULL;\n  }\n  return m;\n}\n", P);
  fprintf(f, "\nvoid %s_free(%s *m) {\n  if (!m)\n    return;\n  free(m->params);\n  free(m->grads);\n  free(m->buffers);\n", P, S);
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *fn = e->md->funcs.v[i];
    if (fn->kind == FN_TRAIN)
      fprintf(f, "  free(m->%s_state);\n", fn->name);
  }
  fprintf(f, "  free(m->ws);\n  free(m);\n}\n");
  fprintf(f, "\nstatic void *%s_tensor_data(const %s *m, const nnc_tensor_info *t) {\n"
             "  if (t->role == NNC_PARAM)\n    return m->params + t->offset;\n"
             "  return m->buffers + t->offset;\n}\n", P, S);
  fprintf(f, "\nvoid %s_init(%s *m, uint64_t seed) {\n  nnc_rng r;\n  nnc_rng_seed(&r, seed);\n", P, S);
  fprintf(f, "  for (int i = 0; i < %s_NTENSORS; i++) {\n"
             "    const nnc_tensor_info *t = &%s_tensor_info[i];\n"
             "    void *p = %s_tensor_data(m, t);\n"
             "    if (t->dtype == NNC_I32) {\n"
             "      for (int64_t k = 0; k < t->numel; k++)\n"
             "        ((int32_t *)p)[k] = strcmp(t->init, \"ones\") == 0;\n"
             "      continue;\n    }\n"
             "    nnc_init_fill_%s(&r, t->init, (%s *)p, t->numel, t->rank > 0 ? t->shape[0] : 1,\n"
             "                     t->rank > 1 ? t->numel / t->shape[0] : 1);\n  }\n",
          P, P, P, e->sfx, R);
  fprintf(f, "  memset(m->grads, 0, sizeof(%s) * ((size_t)%s_PARAMS + 1));\n", R, S);
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *fn = e->md->funcs.v[i];
    if (fn->kind == FN_TRAIN)
      fprintf(f, "  memset(m->%s_state, 0, sizeof(%s) * ((size_t)%lld + 1));\n  m->%s_t = 0;\n",
              fn->name, R, (long long)state_elems(e, fn), fn->name);
  }
  fprintf(f, "  %s_seed(m, seed ^ 0x9e3779b97f4a7c15u);\n}\n", P);
  fprintf(f, "\nvoid %s_seed(%s *m, uint64_t seed) { nnc_rng_seed(&m->rng, seed); }\n", P, S);
  fprintf(f, "\nvoid %s_zero_grad(%s *m) {\n  memset(m->grads, 0, sizeof(%s) * ((size_t)%s_PARAMS + 1));\n}\n", P, S, R, S);
  fprintf(f, "\nconst nnc_tensor_info *%s_tensors(int *n) {\n  if (n)\n    *n = %s_NTENSORS;\n  return %s_tensor_info;\n}\n", P, P, P);
  fprintf(f, "\n%s *%s_param(%s *m, const char *name) {\n"
             "  for (int i = 0; i < %s_NTENSORS; i++)\n"
             "    if (strcmp(%s_tensor_info[i].name, name) == 0)\n"
             "      return (%s *)%s_tensor_data(m, &%s_tensor_info[i]);\n  return NULL;\n}\n",
          R, P, S, P, P, R, P, P);
  fprintf(f, "\n%s *%s_grad(%s *m, const char *name) {\n"
             "  for (int i = 0; i < %s_NTENSORS; i++)\n"
             "    if (%s_tensor_info[i].role == NNC_PARAM && strcmp(%s_tensor_info[i].name, name) == 0)\n"
             "      return m->grads + %s_tensor_info[i].offset;\n  return NULL;\n}\n",
          R, P, S, P, P, P, P);
  fprintf(f, "\nstatic void %s_st_tensors(const %s *m, nnc_st_tensor *t) {\n"
             "  for (int i = 0; i < %s_NTENSORS; i++) {\n"
             "    const nnc_tensor_info *ti = &%s_tensor_info[i];\n"
             "    t[i].name = ti->name;\n    t[i].dtype = ti->dtype;\n    t[i].rank = ti->rank;\n"
             "    for (int k = 0; k < ti->rank; k++)\n      t[i].shape[k] = ti->shape[k];\n"
             "    t[i].data = %s_tensor_data(m, ti);\n  }\n}\n", P, S, P, P, P);
  fprintf(f, "\nint %s_save(const %s *m, const char *path) {\n"
             "  nnc_st_tensor t[%s_NTENSORS + 1];\n  char err[256];\n"
             "  %s_st_tensors(m, t);\n"
             "  if (nnc_st_write(path, t, %s_NTENSORS, err, sizeof err) != 0) {\n"
             "    fprintf(stderr, \"%%s\\n\", err);\n    return -1;\n  }\n  return 0;\n}\n", P, S, P, P, P);
  fprintf(f, "\nint %s_load(%s *m, const char *path, char *err, size_t errlen) {\n"
             "  nnc_st_tensor t[%s_NTENSORS + 1];\n"
             "  %s_st_tensors(m, t);\n"
             "  return nnc_st_read(path, t, %s_NTENSORS, err, errlen);\n}\n", P, S, P, P, P);
}

/* -------------------------------------------------------- descriptor */

static void arg_info(Emitter *e, const char *name, Type t) {
  fprintf(e->f, "    {%s, %s, %d, {", c_string(e, name), rt_dtype(e, t.dtype), t.rank);
  for (int k = 0; k < t.rank; k++) {
    Dim d = t.dim[k];
    int64_t v = dim_is_const(d) ? dim_value(d)
                : d.nterm == 1 && d.term[0].nvar == 1 ? d.term[0].coef : 0;
    fprintf(e->f, "%s%lld", k ? ", " : "", (long long)v);
  }
  fprintf(e->f, "%s}, {", t.rank ? "" : "0");
  for (int k = 0; k < t.rank; k++) {
    Dim d = t.dim[k];
    int s = dim_is_const(d) ? -1 : d.nterm == 1 && d.term[0].nvar == 1 ? d.term[0].var[0] : -2;
    fprintf(e->f, "%s%d", k ? ", " : "", s);
  }
  fprintf(e->f, "%s}, {", t.rank ? "" : "0");
  for (int k = 0; k < t.rank; k++) {
    StrBuf b = {0};
    dim_print(&b, &e->mod->syms, t.dim[k]);
    fprintf(e->f, "%s%s", k ? ", " : "", c_string(e, b.s));
    sb_free(&b);
  }
  fprintf(e->f, "%s}},\n", t.rank ? "" : "0");
}

static void emit_desc(Emitter *e) {
  FILE *f = e->f;
  const char *P = e->p, *S = e->S;
  Arena *a = &e->c->arena;
  fprintf(f, "\n/* ---- the generic descriptor (nnc_model_desc) */\n");
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *fn = e->md->funcs.v[i];
    int syms[64], ns = entry_syms(e, fn, syms);
    const char *N = fn->name;
    fprintf(f, "\nstatic const nnc_arg_info %s_%s_in[] = {\n", P, N);
    for (int k = 0; k < fn->nin; k++)
      arg_info(e, ir_attr(fn->inputs[k], "name")->s, fn->inputs[k]->type);
    if (!fn->nin)
      fprintf(f, "    {\"\", NNC_F32, 0, {0}, {0}, {0}},\n");
    fprintf(f, "};\nstatic const nnc_arg_info %s_%s_out[] = {\n", P, N);
    for (int k = 0; k < fn->body.nout; k++)
      arg_info(e, fn->out_names[k], fn->body.out[k]->type);
    if (!fn->body.nout)
      fprintf(f, "    {\"\", NNC_F32, 0, {0}, {0}, {0}},\n");
    fprintf(f, "};\n");
    /* casts from the generic arrays */
    StrBuf args = {0}, dxs = {0};
    for (int k = 0; k < fn->nin; k++)
      sb_printf(&args, ", (const %s *)in[%d]", ctype(e, fn->inputs[k]->type.dtype), k);
    for (int k = 0; k < fn->body.nout; k++)
      sb_printf(&args, ", (%s *)out[%d]", ctype(e, fn->body.out[k]->type.dtype), k);
    for (int k = 0; k < fn->nin; k++)
      if (dtype_is_float(fn->inputs[k]->type.dtype))
        sb_printf(&dxs, ", dx ? (%s *)dx[%d] : NULL", e->real, k);
    const char *da = dim_args(e, syms, ns, "d");
    fprintf(f, "static int %s_%s_call(void *m, const int64_t *d, const void *const *in,\n"
               "                      void *const *out, void *ws) {\n"
               "  (void)d;\n  return %s_%s((%s *)m%s%s, ws);\n}\n",
            P, N, P, N, S, da, args.s ? args.s : "");
    fprintf(f, "static size_t %s_%s_ws(const int64_t *d) {\n  (void)d;\n  return %s_%s_workspace(%s);\n}\n",
            P, N, P, N, ns ? da + 2 : "");
    if (fn->kind == FN_TRAIN) {
      fprintf(f, "static int %s_%s_grad_call(void *m, const int64_t *d, const void *const *in,\n"
                 "                           void *const *out, void *const *dx, void *ws) {\n"
                 "  (void)d;\n  (void)dx;\n  return %s_%s_grad((%s *)m%s%s%s, ws);\n}\n",
              P, N, P, N, S, da, args.s ? args.s : "", dxs.s ? dxs.s : "");
      fprintf(f, "static void %s_%s_update_call(void *m) { %s_%s_update((%s *)m); }\n", P, N, P, N, S);
      fprintf(f, "static nnc_opt_settings *%s_%s_settings(void *m) {\n  return &((%s *)m)->%s_settings;\n}\n",
              P, N, S, N);
    }
    sb_free(&args);
    sb_free(&dxs);
  }
  fprintf(f, "\nstatic const nnc_entry_desc %s_entries[] = {\n", P);
  for (int i = 0; i < e->md->funcs.n; i++) {
    Func *fn = e->md->funcs.v[i];
    const char *N = fn->name;
    int tr = fn->kind == FN_TRAIN;
    fprintf(f, "    {%s, %s, %d, %d, %s_%s_in, %s_%s_out, %s_%s_call, %s, %s, %s_%s_ws, %s},\n",
            c_string(e, N), tr ? "NNC_TRAIN" : "NNC_INFER", fn->nin, fn->body.nout, P, N, P, N,
            P, N, tr ? arena_printf(a, "%s_%s_grad_call", P, N) : "NULL",
            tr ? arena_printf(a, "%s_%s_update_call", P, N) : "NULL", P, N,
            tr ? arena_printf(a, "%s_%s_settings", P, N) : "NULL");
  }
  fprintf(f, "};\n\nstatic const char *const %s_syms[] = {", P);
  for (int i = 0; i < e->mod->syms.n; i++)
    fprintf(f, "%s%s", i ? ", " : "", c_string(e, e->mod->syms.name[i]));
  fprintf(f, "%s};\n", e->mod->syms.n ? "" : "\"\"");
  fprintf(f, "\nstatic void *%s_create_v(void) { return %s_create(); }\n", P, P);
  fprintf(f, "static void %s_free_v(void *m) { %s_free((%s *)m); }\n", P, P, S);
  fprintf(f, "static void %s_init_v(void *m, uint64_t seed) { %s_init((%s *)m, seed); }\n", P, P, S);
  fprintf(f, "static int %s_save_v(const void *m, const char *path) {\n  return %s_save((const %s *)m, path);\n}\n", P, P, S);
  fprintf(f, "static int %s_load_v(void *m, const char *path, char *err, size_t errlen) {\n"
             "  return %s_load((%s *)m, path, err, errlen);\n}\n", P, P, S);
  fprintf(f, "static void %s_zero_grad_v(void *m) { %s_zero_grad((%s *)m); }\n", P, P, S);
  if (e->o->real == DT_F32)
    fprintf(f, "static float *%s_params_v(void *m) { return ((%s *)m)->params; }\n", P, S);
  fprintf(f, "static void *%s_params_any(void *m) { return ((%s *)m)->params; }\n", P, S);
  fprintf(f, "static void *%s_grads_any(void *m) { return ((%s *)m)->grads; }\n", P, S);
  fprintf(f, "static unsigned char *%s_buffers_any(void *m) { return ((%s *)m)->buffers; }\n", P, S);
  fprintf(f, "\nconst nnc_model_desc %s_desc = {\n    %s, %s, %d, %s_syms, %d, %s_entries, %s_NTENSORS,\n"
             "    %s_tensor_info, %s_create_v, %s_free_v, %s_init_v, %s_save_v, %s_load_v,\n"
             "    %s_zero_grad_v, %s, %s_PARAMS, %s_params_any, %s_grads_any, %s_buffers_any};\n",
          P, c_string(e, e->md->name), e->o->real == DT_F64 ? "NNC_F64" : "NNC_F32",
          e->mod->syms.n, P, e->md->funcs.n, P, P, P, P, P, P, P, P, P,
          e->o->real == DT_F32 ? arena_printf(a, "%s_params_v", P) : "NULL", S, P, P, P);
}

/* ---------------------------------------------------------- the files */

static const char *lower(Arena *a, const char *s) {
  char *r = arena_strdup(a, s);
  for (char *p = r; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return r;
}

static void emit_model(Emitter *e, Model *md) {
  e->md = md;
  e->p = lower(&e->c->arena, md->name);
  e->S = md->name;
  layout(e);
  if (e->o->plan_out) {
    StrBuf at = {0};
    for (int i = 0; i < e->mod->syms.n; i++)
      sb_printf(&at, "%s%s=%lld", i ? ", " : "", e->mod->syms.name[i],
                (long long)(e->o->sizes ? e->o->sizes[i] : 64));
    fprintf(e->o->plan_out, "model %s: workspace per call%s%s\n", md->name,
            at.len ? " at " : "", at.len ? at.s : "");
    sb_free(&at);
  }
  emit_struct(e);
  emit_tables(e);
  fprintf(e->f, "\nstatic char *%s_reserve(%s *m, size_t need);\n", e->p, e->S);
  for (int i = 0; i < md->funcs.n; i++) {
    Func *f = md->funcs.v[i];
    if (f->kind == FN_TRAIN)
      fprintf(e->h, "\n"), emit_update(e, f);
  }
  for (int i = 0; i < md->funcs.n; i++)
    emit_func(e, md->funcs.v[i]);
  emit_lifecycle(e);
  emit_desc(e);
}

void nnc_emit_c(Ctx *c, Module *m, const EmitOptions *o, FILE *cf, FILE *hf) {
  Emitter e = {0};
  e.c = c;
  e.mod = m;
  e.o = o;
  e.f = cf;
  e.h = hf;
  e.real = o->real == DT_F64 ? "double" : "float";
  e.sfx = o->real == DT_F64 ? "f64" : "f32";
  for (int i = 0; i < m->models.n; i++) {
    Model *md = m->models.v[i];
    for (int j = 0; j < md->funcs.n; j++) {
      Func *f = md->funcs.v[j];
      for (Node *n = f->body.first; n; n = n->next)
        if (n->op == OP_GRAD)
          nnc_error(c, n->loc, "internal: grad survived differentiation");
    }
  }
  char guard[256];
  size_t k = 0;
  for (const char *s = o->header_name; *s && k < sizeof guard - 1; s++)
    guard[k++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
  guard[k] = 0;
  fprintf(hf, "/* %s — generated by nnc from %s. The API is described in\n"
              " * docs/api.md; do not edit: regenerate. */\n"
              "#ifndef NNC_%s\n#define NNC_%s\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
              "#include \"nnc_runtime.h\"\n",
          o->header_name, o->source_name ? o->source_name : "?", guard, guard);
  fprintf(cf, "/* Generated by nnc from %s: forward, backward and training steps of\n"
              " * every model, over one workspace per call. Do not edit: regenerate. */\n"
              "#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
              "#include \"%s\"\n\n#define NNC_ALIGN(n) (((n) + 63) & ~(size_t)63)\n"
              "#define NNC_MAX_SIZE(a, b) ((a) > (b) ? (a) : (b))\n",
          o->source_name ? o->source_name : "?", o->header_name);
  for (int i = 0; i < m->models.n; i++)
    emit_model(&e, m->models.v[i]);
  fprintf(hf, "\n#endif\n");
  sb_free(&e.plan);
}
