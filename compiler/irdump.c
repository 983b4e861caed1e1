/* irdump.c — prints a module in the text form of docs/ir.md, the same form
 * irparse.c reads back. */
#include <ctype.h>
#include <string.h>

#include "nnc.h"

static void indent(StrBuf *b, int depth) {
  for (int i = 0; i < depth; i++)
    sb_printf(b, "  ");
}

static void dump_loc(StrBuf *b, SrcLoc loc) {
  if (loc.file)
    sb_printf(b, " @%s:%d:%d", loc.file->name, loc.line, loc.col);
}

static void dump_str(StrBuf *b, const char *s) {
  sb_putc(b, '"');
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\')
      sb_putc(b, '\\');
    sb_putc(b, *s);
  }
  sb_putc(b, '"');
}

static void dump_attr(StrBuf *b, const DimSyms *s, const Attr *a) {
  sb_printf(b, " %s=", a->key);
  switch (a->kind) {
  case AK_INT:
    sb_printf(b, "%lld", (long long)a->i);
    break;
  case AK_FLOAT:
    sb_printf(b, "%.9g", a->f);
    break;
  case AK_STR:
    dump_str(b, a->s);
    break;
  case AK_DTYPE:
    sb_printf(b, "%s", dtype_name((DType)a->i));
    break;
  case AK_INTS:
  case AK_DIMS:
    sb_putc(b, '[');
    for (int i = 0; i < a->n; i++) {
      if (i)
        sb_putc(b, ',');
      if (a->kind == AK_INTS)
        sb_printf(b, "%lld", (long long)a->ints[i]);
      else
        dim_print(b, s, a->dims[i]);
    }
    sb_putc(b, ']');
    break;
  }
}

static const char *nname(const Node *n) { return n && n->name ? n->name : "?"; }

/* `%a, %b` */
static void dump_operands(StrBuf *b, int n, Node *const *v) {
  for (int i = 0; i < n; i++)
    sb_printf(b, "%s%%%s", i ? ", " : " ", nname(v[i]));
}

static void dump_region(StrBuf *b, const Module *m, const Region *r, int depth,
                        const char *end);

static void dump_node(StrBuf *b, const Module *m, const Node *n, int depth) {
  indent(b, depth);
  sb_printf(b, "%%%s = %s", nname(n), nnc_ops[n->op].name);
  if (n->nin)
    dump_operands(b, n->nin, n->in);
  for (int i = 0; i < n->nattr; i++)
    dump_attr(b, &m->syms, &n->attr[i]);
  sb_printf(b, " : ");
  if (op_has_body(n->op)) {
    sb_putc(b, '(');
    for (int i = 0; i < n->nresult; i++) {
      if (i)
        sb_printf(b, ", ");
      type_print(b, &m->syms, n->result[i]);
    }
    sb_putc(b, ')');
  } else {
    type_print(b, &m->syms, n->type);
  }
  dump_loc(b, n->loc);
  if (op_has_body(n->op) && n->body) {
    sb_printf(b, " {\n");
    dump_region(b, m, n->body, depth + 1, "yield");
    indent(b, depth);
    sb_putc(b, '}');
  }
  sb_putc(b, '\n');
}

/* The nodes, then `end %out...` (return or yield). */
static void dump_region(StrBuf *b, const Module *m, const Region *r, int depth,
                        const char *end) {
  for (const Node *n = r->first; n; n = n->next)
    dump_node(b, m, n, depth);
  indent(b, depth);
  sb_printf(b, "%s", end);
  dump_operands(b, r->nout, r->out);
  sb_putc(b, '\n');
}

static void dump_func(StrBuf *b, const Module *m, const Func *f) {
  sb_printf(b, "  %s %s(", f->kind == FN_TRAIN ? "train" : "fn", f->name);
  for (int i = 0; i < f->nin; i++)
    sb_printf(b, "%s%%%s", i ? ", " : "", nname(f->inputs[i]));
  sb_printf(b, ") -> (");
  for (int i = 0; i < f->body.nout; i++) {
    const char *o = f->out_names ? f->out_names[i] : NULL;
    if (i)
      sb_printf(b, ", ");
    if (o)
      sb_printf(b, "%s", o);
    else
      sb_printf(b, "out%d", i);
  }
  sb_putc(b, ')');
  dump_loc(b, f->loc);
  sb_printf(b, " {\n");
  dump_region(b, m, &f->body, 2, "return");
  sb_printf(b, "  }\n");
}

/* Whether irparse.c reads init back when printed bare: no line breaks or
 * escapes, brackets and quotes balanced, blanks only inside them. */
static int init_is_bare(const char *s) {
  int depth = 0, quote = 0;
  if (!*s || *s == '"')
    return 0;
  for (; *s; s++) {
    if (*s == '\\' || *s == '\n' || *s == '\r')
      return 0;
    if (*s == '"')
      quote = !quote;
    else if (quote)
      continue;
    else if (*s == '(' || *s == '[')
      depth++;
    else if ((*s == ')' || *s == ']') && --depth < 0)
      return 0;
    else if (isspace((unsigned char)*s) && depth == 0)
      return 0;
  }
  return depth == 0 && !quote;
}

static void dump_init(StrBuf *b, const char *init) {
  sb_printf(b, " init=");
  if (init_is_bare(init))
    sb_printf(b, "%s", init);
  else
    dump_str(b, init);
}

static void dump_param(StrBuf *b, const Module *m, const ParamDecl *p) {
  sb_printf(b, "  %s %s : ", p->role == PR_BUFFER ? "buffer" : "param",
            p->name);
  type_print(b, &m->syms, p->type);
  if (p->init)
    dump_init(b, p->init);
  if (p->layer || p->layer_type) {
    const char *l = p->layer ? p->layer : "", *t = p->layer_type;
    StrBuf s = {0};
    sb_printf(&s, "%s:%s", l, t ? t : "");
    sb_printf(b, " layer=");
    dump_str(b, s.s);
    sb_free(&s);
  }
  dump_loc(b, p->loc);
  sb_putc(b, '\n');
}

static void dump_model(StrBuf *b, const Module *m, const Model *md) {
  sb_printf(b, "model %s", md->name);
  dump_loc(b, md->loc);
  sb_printf(b, " {\n");
  for (int i = 0; i < md->params.n; i++)
    dump_param(b, m, md->params.v[i]);
  for (int i = 0; i < md->funcs.n; i++)
    dump_func(b, m, md->funcs.v[i]);
  sb_printf(b, "}\n");
}

void ir_dump(StrBuf *b, const Module *m) {
  sb_printf(b, "# nnc IR\n");
  if (m->syms.n) {
    sb_printf(b, "dims");
    for (int i = 0; i < m->syms.n; i++)
      sb_printf(b, " %s", m->syms.name[i]);
    sb_putc(b, '\n');
  }
  for (int i = 0; i < m->models.n; i++)
    dump_model(b, m, m->models.v[i]);
}

void ir_dump_file(FILE *f, const Module *m) {
  StrBuf b = {0};
  ir_dump(&b, m);
  if (b.len)
    fwrite(b.s, 1, b.len, f);
  sb_free(&b);
}
