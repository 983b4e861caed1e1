/* irparse.c — reads the text IR of docs/ir.md back into a module: a
 * recursive-descent parser over the dump text. Nodes are rebuilt with
 * ir_node, so every type is recomputed and checked against the printed one;
 * errors point into the dump. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

typedef struct P {
  Ctx *c;
  SrcFile *src;
  const char *s;
  size_t len, pos;
  int line, col;
  Module *mod;
  Func *f;
  PtrVec files;    /* SrcFile* made for @file:line:col locations */
  Region **region; /* region[id]: where node id lives; NULL while open */
  int nregion;
} P;

#define PERR(p, loc, ...) nnc_error((p)->c, (loc), __VA_ARGS__)

/* ---------------------------------------------------------- characters */

static int peek(const P *p) {
  return p->pos < p->len ? (unsigned char)p->s[p->pos] : 0;
}

static void adv(P *p) {
  if (p->pos >= p->len)
    return;
  if (p->s[p->pos++] == '\n')
    p->line++, p->col = 1;
  else
    p->col++;
}

static SrcLoc here(const P *p) {
  SrcLoc l = {p->src, p->line, p->col};
  return l;
}

/* Skips blanks, newlines and `#` comments. */
static void skip_ws(P *p) {
  for (;;) {
    int ch = peek(p);
    if (ch == '#')
      while (peek(p) && peek(p) != '\n')
        adv(p);
    else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
      adv(p);
    else
      return;
  }
}

static int is_word(int ch) { return isalnum(ch) || ch == '_'; }

/* Consumes the literal text lit (after blanks) if it is next. */
static int accept(P *p, const char *lit) {
  skip_ws(p);
  size_t n = strlen(lit);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n))
    return 0;
  for (size_t i = 0; i < n; i++)
    adv(p);
  return 1;
}

static void expect(P *p, const char *lit, const char *after) {
  if (!accept(p, lit))
    PERR(p, here(p), "expected '%s' %s", lit, after);
}

/* A keyword: the literal not followed by a word character. */
static int keyword(P *p, const char *kw) {
  skip_ws(p);
  size_t n = strlen(kw);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, kw, n) ||
      (p->pos + n < p->len && is_word((unsigned char)p->s[p->pos + n])))
    return 0;
  return accept(p, kw);
}

/* A run of characters accepted by ok(); `what` names it in errors. */
static const char *span(P *p, int (*ok)(int), const char *what) {
  skip_ws(p);
  size_t start = p->pos;
  while (peek(p) && ok(peek(p)))
    adv(p);
  if (p->pos == start)
    PERR(p, here(p), "expected %s", what);
  return arena_strndup(&p->c->arena, p->s + start, p->pos - start);
}

static int is_name(int ch) { return is_word(ch) || ch == '.'; }

static const char *ident(P *p, const char *what) {
  skip_ws(p);
  if (!isalpha(peek(p)) && peek(p) != '_')
    PERR(p, here(p), "expected %s", what);
  return span(p, is_word, what);
}

/* ---------------------------------------------------------- values */

static int64_t parse_int(P *p) {
  skip_ws(p);
  SrcLoc at = here(p);
  const char *b = p->s + p->pos;
  char *e;
  errno = 0;
  long long v = strtoll(b, &e, 10);
  if (e == b || (!isdigit((unsigned char)*b) && *b != '-'))
    PERR(p, at, "expected an integer");
  if (errno == ERANGE)
    PERR(p, at, "integer out of range");
  while (p->s + p->pos < e)
    adv(p);
  return v;
}

/* factor := INT | SYMBOL */
static Dim parse_factor(P *p) {
  skip_ws(p);
  if (isdigit(peek(p)))
    return dim_const(&p->c->arena, parse_int(p));
  SrcLoc at = here(p);
  const char *name = ident(p, "a dimension");
  for (int i = 0; i < p->mod->syms.n; i++)
    if (!strcmp(p->mod->syms.name[i], name))
      return dim_var(&p->c->arena, i);
  PERR(p, at, "dimension %s is not listed on the dims line", name);
}

/* dim := ['-'] term (('+'|'-') term)*, term := factor ('*' factor)* */
static Dim parse_dim(P *p) {
  Arena *a = &p->c->arena;
  SrcLoc at = here(p);
  Dim d = dim_const(a, 0);
  int sign = accept(p, "-") ? -1 : 1, ok = 1;
  do {
    Dim t = dim_const(a, sign);
    do {
      Dim f = parse_factor(p);
      ok = ok && dim_mul(a, t, f, &t);
    } while (accept(p, "*"));
    ok = ok && dim_add(a, d, t, &d);
    sign = accept(p, "-") ? -1 : accept(p, "+") ? 1 : 0;
  } while (sign);
  if (!ok)
    PERR(p, at, "dimension overflows");
  return d;
}

/* type := DTYPE '[' [dim (',' dim)*] ']' */
static Type parse_type(P *p) {
  SrcLoc at = here(p);
  const char *dt = ident(p, "a type");
  Type t = {DT_F32, 0, NULL};
  if (!dtype_parse(dt, &t.dtype))
    PERR(p, at, "unknown dtype '%s'", dt);
  expect(p, "[", "after the dtype");
  PtrVec dims = {0};
  while (!accept(p, "]")) {
    if (dims.n)
      expect(p, ",", "or ']' in the shape");
    Dim *d = arena_alloc(&p->c->arena, sizeof *d);
    *d = parse_dim(p);
    vec_push(&p->c->arena, &dims, d);
  }
  t.rank = dims.n;
  t.dim = arena_alloc(&p->c->arena, sizeof(Dim) * (size_t)(dims.n + 1));
  for (int i = 0; i < dims.n; i++)
    t.dim[i] = *(Dim *)dims.v[i];
  return t;
}

static const char *parse_string(P *p) {
  skip_ws(p);
  StrBuf b = {0};
  SrcLoc at = here(p);
  if (peek(p) != '"')
    PERR(p, at, "expected a string");
  adv(p);
  while (peek(p) != '"') {
    int ch = peek(p);
    if (ch == '\\') {
      adv(p);
      ch = peek(p);
      if (ch != '"' && ch != '\\') {
        sb_free(&b);
        PERR(p, here(p), "unknown escape in string");
      }
    }
    if (!ch) {
      sb_free(&b);
      PERR(p, at, "unterminated string");
    }
    sb_putc(&b, (char)ch);
    adv(p);
  }
  adv(p);
  const char *s = arena_strdup(&p->c->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

static int loc_char(int ch) { return ch && !isspace(ch); }

/* ['@' FILE ':' LINE ':' COL]; the file is made once per name. */
static SrcLoc parse_loc(P *p) {
  SrcLoc l = {NULL, 0, 0};
  if (!accept(p, "@"))
    return l;
  SrcLoc at = here(p);
  char *t = (char *)span(p, loc_char, "a location");
  char *c2 = strrchr(t, ':'), *c1 = NULL;
  if (c2) {
    *c2 = 0;
    c1 = strrchr(t, ':');
  }
  if (!c1 || !isdigit((unsigned char)c1[1]) || !isdigit((unsigned char)c2[1]))
    PERR(p, at, "expected a location file:line:col");
  *c1 = 0;
  long line = strtol(c1 + 1, NULL, 10), col = strtol(c2 + 1, NULL, 10);
  if (line > INT_MAX || col > INT_MAX)
    PERR(p, at, "location out of range");
  l.line = (int)line;
  l.col = (int)col;
  for (int i = 0; i < p->files.n && !l.file; i++)
    if (!strcmp(((SrcFile *)p->files.v[i])->name, t))
      l.file = p->files.v[i];
  if (!l.file) {
    SrcFile *f = arena_alloc(&p->c->arena, sizeof *f);
    f->name = t;
    vec_push(&p->c->arena, &p->files, f);
    l.file = f;
  }
  return l;
}

/* ---------------------------------------------------------- attributes */

/* The dump does not mark kinds: list keys holding dims, and integers that
 * are floats (`value=1`), are known by key. */
static int dims_key(const char *k) {
  static const char *const keys[] = {"shape", "n", "start", "stop", "steps"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (!strcmp(k, keys[i]))
      return 1;
  return 0;
}

static int float_key(OpKind op, const char *k) {
  return op == OP_MINIMIZE || !strcmp(k, "value") || !strcmp(k, "slope") ||
         !strcmp(k, "alpha");
}

static void parse_list(P *p, Attr *a) {
  PtrVec items = {0};
  int dims = dims_key(a->key);
  while (!accept(p, "]")) {
    if (items.n)
      expect(p, ",", "or ']' in the list");
    Dim *d = arena_alloc(&p->c->arena, sizeof *d);
    if (dims)
      *d = parse_dim(p);
    else
      *d = dim_const(&p->c->arena, parse_int(p));
    vec_push(&p->c->arena, &items, d);
  }
  a->kind = dims ? AK_DIMS : AK_INTS;
  a->n = items.n;
  a->dims =
      dims ? arena_alloc(&p->c->arena, sizeof(Dim) * (size_t)(a->n + 1)) : NULL;
  a->ints =
      dims ? NULL
           : arena_alloc(&p->c->arena, sizeof(int64_t) * (size_t)(a->n + 1));
  for (int i = 0; i < a->n; i++) {
    Dim d = *(Dim *)items.v[i];
    if (dims)
      a->dims[i] = d;
    else
      a->ints[i] = dim_value(d);
  }
}

static int num_char(int ch) {
  return isalnum(ch) || ch == '.' || ch == '-' || ch == '+';
}

/* An integer, or a float when it looks like one or the key says so. */
static void parse_number(P *p, OpKind op, Attr *a) {
  SrcLoc at = here(p);
  const char *t = span(p, num_char, "a number");
  char *e;
  a->f = strtod(t, &e);
  if (*e || e == t)
    PERR(p, at, "bad number '%s'", t);
  if (strpbrk(t, ".eEnNiI") || float_key(op, a->key)) {
    a->kind = AK_FLOAT;
    return;
  }
  errno = 0;
  a->i = strtoll(t, &e, 10);
  if (*e || errno == ERANGE)
    PERR(p, at, "bad integer '%s'", t);
  a->kind = AK_INT;
}

/* key=value */
static void parse_attr(P *p, OpKind op, Attr *a) {
  a->key = ident(p, "an attribute name");
  expect(p, "=", "after the attribute name");
  skip_ws(p);
  SrcLoc at = here(p);
  int ch = peek(p);
  if (ch == '"') {
    a->kind = AK_STR;
    a->s = parse_string(p);
  } else if (ch == '[') {
    adv(p);
    parse_list(p, a);
  } else if (isdigit(ch) || ch == '-' || ch == '+' || ch == '.') {
    parse_number(p, op, a);
  } else {
    const char *w = ident(p, "an attribute value");
    DType dt;
    if (!strcmp(w, "inf") || !strcmp(w, "nan")) {
      a->kind = AK_FLOAT;
      a->f = strtod(w, NULL);
    } else if (dtype_parse(w, &dt)) {
      a->kind = AK_DTYPE;
      a->i = dt;
    } else {
      PERR(p, at, "bad value '%s' for attribute %s", w, a->key);
    }
  }
}

/* ---------------------------------------------------------- nodes */

static void set_region(P *p, int id, Region *r) {
  if (id >= p->nregion) {
    int n = (id + 1) * 2;
    p->region = arena_grow(&p->c->arena, p->region,
                           sizeof(Region *) * (size_t)p->nregion,
                           sizeof(Region *) * (size_t)n);
    p->nregion = n;
  }
  p->region[id] = r;
}

static int encloses(const Region *outer, const Region *r) {
  for (; r; r = r->parent)
    if (r == outer)
      return 1;
  return 0;
}

/* %name, defined earlier in r or an enclosing region. */
static Node *parse_use(P *p, Region *r) {
  skip_ws(p);
  SrcLoc at = here(p);
  expect(p, "%", "before a value name");
  const char *name = span(p, is_name, "a value name");
  Node *n = ir_func_lookup(p->f, name);
  if (!n || n->id >= p->nregion || !p->region[n->id] ||
      !encloses(p->region[n->id], r))
    PERR(p, at, "%%%s is not defined", name);
  return n;
}

/* [%a (',' %b)*] */
static int parse_uses(P *p, Region *r, Node ***out) {
  PtrVec v = {0};
  skip_ws(p);
  if (peek(p) == '%')
    do
      vec_push(&p->c->arena, &v, parse_use(p, r));
    while (accept(p, ","));
  *out = (Node **)v.v;
  return v.n;
}

/* Whether `key=` comes next. */
static int at_attr(const P *p) {
  size_t i = p->pos;
  if (i >= p->len || (!isalpha((unsigned char)p->s[i]) && p->s[i] != '_'))
    return 0;
  while (i < p->len && is_word((unsigned char)p->s[i]))
    i++;
  return i < p->len && p->s[i] == '=';
}

/* Attributes up to the ':' before the type. */
static int parse_attrs(P *p, OpKind op, const char *name, Attr **out) {
  int n = 0, cap = 0;
  Attr *v = NULL;
  for (skip_ws(p); peek(p) != ':'; skip_ws(p)) {
    if (!at_attr(p))
      PERR(p, here(p), "expected an attribute or ':' and the type of %%%s",
           name);
    if (n == cap) {
      cap = cap ? 2 * cap : 4;
      v = arena_grow(&p->c->arena, v, sizeof *v * (size_t)n,
                     sizeof *v * (size_t)cap);
    }
    parse_attr(p, op, &v[n++]);
  }
  *out = v;
  return n;
}

/* The printed result types: one type, or a parenthesised list (scan). */
static int parse_results(P *p, OpKind op, Type **out) {
  PtrVec v = {0};
  if (!op_has_body(op)) {
    *out = arena_alloc(&p->c->arena, sizeof(Type));
    **out = parse_type(p);
    return 1;
  }
  expect(p, "(", "before the result types of a scan or fused group");
  while (!accept(p, ")")) {
    if (v.n)
      expect(p, ",", "or ')' in the result types");
    Type *t = arena_alloc(&p->c->arena, sizeof *t);
    *t = parse_type(p);
    vec_push(&p->c->arena, &v, t);
  }
  *out = arena_alloc(&p->c->arena, sizeof(Type) * (size_t)(v.n + 1));
  for (int i = 0; i < v.n; i++)
    (*out)[i] = *(Type *)v.v[i];
  return v.n;
}

static const char *type_str(P *p, Type t) {
  StrBuf b = {0};
  type_print(&b, &p->mod->syms, t);
  const char *s = arena_strdup(&p->c->arena, b.s);
  sb_free(&b);
  return s;
}

static void check_types(P *p, Node *n, SrcLoc at, int nt, const Type *t) {
  int body = op_has_body(n->op), k = body ? n->nresult : 1;
  const Type *got = body ? n->result : &n->type;
  if (nt != k)
    PERR(p, at, "%%%s: the dump lists %d result types but the %s has %d",
         n->name, nt, nnc_ops[n->op].name, k);
  for (int i = 0; i < k; i++)
    if (!type_eq(t[i], got[i]))
      PERR(p, at, "%%%s: the dump says %s but the shape rule gives %s", n->name,
           type_str(p, t[i]), type_str(p, got[i]));
}

static void parse_region(P *p, Region *r, const char *end);

/* %name = op operands attrs : type [@loc] [{ body }] */
static void parse_node(P *p, Region *r) {
  SrcLoc at = here(p);
  expect(p, "%", "before a value name");
  const char *name = span(p, is_name, "a value name");
  if (ir_func_lookup(p->f, name))
    PERR(p, at, "%%%s is defined twice", name);
  if (!accept(p, "="))
    PERR(p, here(p), "expected '=' after %%%s", name);
  skip_ws(p);
  SrcLoc opat = here(p);
  const char *opname = ident(p, "an op name");
  int op = op_lookup(opname);
  if (op < 0)
    PERR(p, opat, "unknown op '%s'", opname);
  Node **in;
  int nin = parse_uses(p, r, &in);
  Attr *attr;
  int nattr = parse_attrs(p, (OpKind)op, name, &attr);
  expect(p, ":", "before the type");
  skip_ws(p);
  SrcLoc tat = here(p);
  Type *types;
  int nt = parse_results(p, (OpKind)op, &types);
  SrcLoc loc = parse_loc(p);
  Node *n = ir_node(p->c, p->mod, p->f, r, (OpKind)op, nin, in, nattr, attr,
                    name, opat);
  set_region(p, n->id, NULL);
  if (op_has_body((OpKind)op)) {
    expect(p, "{", "to open the body");
    parse_region(p, n->body, "yield");
    expect(p, "}", "to close the body");
    n->loc = opat;
    shape_infer(p->c, p->mod, n);
  }
  n->loc = loc;
  check_types(p, n, tat, nt, types);
  set_region(p, n->id, r);
}

/* node* END [%a (',' %b)*] */
static void parse_region(P *p, Region *r, const char *end) {
  for (skip_ws(p); peek(p) == '%'; skip_ws(p))
    parse_node(p, r);
  if (!keyword(p, end))
    PERR(p, here(p), "expected a node or '%s'", end);
  r->nout = parse_uses(p, r, &r->out);
}

/* ---------------------------------------------------------- declarations */

static int init_char(int ch) { return ch && !isspace(ch); }

/* init=TEXT (bare, up to a blank outside brackets and quotes) or a string. */
static const char *parse_init(P *p) {
  skip_ws(p);
  if (peek(p) == '"')
    return parse_string(p);
  size_t start = p->pos;
  int depth = 0, quote = 0;
  for (int ch; (ch = peek(p)) && (quote || depth > 0 || init_char(ch));
       adv(p)) {
    if (ch == '"')
      quote = !quote;
    else if (!quote && (ch == '(' || ch == '['))
      depth++;
    else if (!quote && (ch == ')' || ch == ']'))
      depth--;
  }
  return arena_strndup(&p->c->arena, p->s + start, p->pos - start);
}

/* (param|buffer) NAME : TYPE [init=INIT] [layer="PATH:TYPE"] [@loc] */
static void parse_param(P *p, Model *md, ParamRole role) {
  skip_ws(p);
  SrcLoc at = here(p);
  ParamDecl *d = arena_alloc(&p->c->arena, sizeof *d);
  d->name = span(p, is_name, "a parameter name");
  d->role = role;
  if (ir_find_param(md, d->name))
    PERR(p, at, "%s is declared twice", d->name);
  expect(p, ":", "after the parameter name");
  d->type = parse_type(p);
  if (accept(p, "init="))
    d->init = parse_init(p);
  if (accept(p, "layer=")) {
    char *l = (char *)parse_string(p), *colon = strchr(l, ':');
    d->layer = l;
    if (colon) {
      *colon = 0;
      d->layer_type = colon + 1;
    }
  }
  d->loc = parse_loc(p);
  vec_push(&p->c->arena, &md->params, d);
}

static void resolve_inputs(P *p, Func *f, int n, const char **names,
                           const SrcLoc *locs) {
  f->nin = n;
  f->inputs = arena_alloc(&p->c->arena, sizeof(Node *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    Node *x = ir_func_lookup(f, names[i]);
    if (!x || x->op != OP_INPUT || p->region[x->id] != &f->body)
      PERR(p, locs[i], "%%%s is not an input node of %s", names[i], f->name);
    f->inputs[i] = x;
  }
}

/* '(' [%a (',' %b)*] ')' or '(' [n (',' n)*] ')': names, and their places. */
static int parse_names(P *p, int pct, const char ***names, SrcLoc **locs) {
  PtrVec v = {0}, l = {0};
  expect(p, "(", pct ? "before the arguments" : "before the result names");
  while (!accept(p, ")")) {
    if (v.n)
      expect(p, ",", "or ')' in the list of names");
    skip_ws(p);
    SrcLoc *at = arena_alloc(&p->c->arena, sizeof *at);
    *at = here(p);
    if (pct)
      expect(p, "%", "before an argument name");
    vec_push(&p->c->arena, &v, (void *)span(p, is_name, "a name"));
    vec_push(&p->c->arena, &l, at);
  }
  *names = arena_alloc(&p->c->arena, sizeof(char *) * (size_t)(v.n + 1));
  *locs = arena_alloc(&p->c->arena, sizeof(SrcLoc) * (size_t)(v.n + 1));
  for (int i = 0; i < v.n; i++) {
    (*names)[i] = v.v[i];
    (*locs)[i] = *(SrcLoc *)l.v[i];
  }
  return v.n;
}

/* (fn|train) NAME '(' %args ')' '->' '(' outs ')' [@loc] '{' region '}' */
static void parse_func(P *p, Model *md, FuncKind kind) {
  const char *name = ident(p, "a function name"), **args, **outs;
  SrcLoc *argloc, *outloc;
  int nargs = parse_names(p, 1, &args, &argloc);
  expect(p, "->", "after the arguments");
  int nouts = parse_names(p, 0, &outs, &outloc);
  SrcLoc loc = parse_loc(p);
  expect(p, "{", "to open the function body");
  Func *f = ir_func_new(p->c, md, name, kind, loc);
  p->f = f;
  p->nregion = 0;
  p->region = NULL;
  parse_region(p, &f->body, "return");
  if (f->body.nout != nouts)
    PERR(p, nouts ? outloc[0] : here(p),
         "%s declares %d results but returns %d", name, nouts, f->body.nout);
  expect(p, "}", "to close the function");
  f->out_names = outs;
  resolve_inputs(p, f, nargs, args, argloc);
}

/* model NAME [@loc] '{' (param | buffer | fn | train)* '}' */
static void parse_model(P *p) {
  Model *md = arena_alloc(&p->c->arena, sizeof *md);
  md->name = ident(p, "a model name");
  md->loc = parse_loc(p);
  expect(p, "{", "to open the model");
  vec_push(&p->c->arena, &p->mod->models, md);
  while (!accept(p, "}")) {
    if (keyword(p, "param"))
      parse_param(p, md, PR_PARAM);
    else if (keyword(p, "buffer"))
      parse_param(p, md, PR_BUFFER);
    else if (keyword(p, "fn"))
      parse_func(p, md, FN_INFER);
    else if (keyword(p, "train"))
      parse_func(p, md, FN_TRAIN);
    else
      PERR(p, here(p), "expected param, buffer, fn, train or '}'");
  }
}

/* dims SYMBOL* (on one line) */
static void parse_dims(P *p) {
  for (;;) {
    while (peek(p) == ' ' || peek(p) == '\t')
      adv(p);
    if (!isalpha(peek(p)) && peek(p) != '_')
      return;
    SrcLoc at = here(p);
    const char *s = ident(p, "a dimension name");
    int n = p->mod->syms.n;
    if (dim_sym(&p->c->arena, &p->mod->syms, s) != n)
      PERR(p, at, "dimension %s is listed twice", s);
  }
}

Module *ir_parse(Ctx *c, SrcFile *src) {
  P p = {c,
         src,
         src->text ? src->text : "",
         src->text ? src->len : 0,
         0,
         1,
         1,
         NULL,
         NULL,
         {0},
         NULL,
         0};
  p.mod = ir_module_new(c);
  if (strncmp(p.s, "# nnc IR", 8))
    PERR(&p, here(&p), "expected the '# nnc IR' header");
  skip_ws(&p);
  if (keyword(&p, "dims"))
    parse_dims(&p);
  for (skip_ws(&p); peek(&p); skip_ws(&p)) {
    if (!keyword(&p, "model"))
      PERR(&p, here(&p), "expected 'model'");
    parse_model(&p);
  }
  if (p.pos < p.len)
    PERR(&p, here(&p), "unexpected NUL byte");
  return p.mod;
}
