/* report.c — human-facing views of a module: the per-layer summary with
 * output shapes and parameter counts (`--summary`) and a Graphviz graph
 * (`--emit=dot`). */
#include <string.h>

#include "nnc.h"

/* "784x256 + 256": the shapes of the parameters a layer owns directly. */
static void own_params(StrBuf *b, const Model *m, const char *path) {
  int first = 1;
  size_t plen = strlen(path);
  for (int i = 0; i < m->params.n; i++) {
    const ParamDecl *p = m->params.v[i];
    if (p->role != PR_PARAM || strcmp(p->layer, path) != 0)
      continue;
    (void)plen;
    sb_printf(b, "%s", first ? "" : " + ");
    first = 0;
    for (int d = 0; d < p->type.rank; d++)
      sb_printf(b, "%s%lld", d ? "x" : "",
                (long long)dim_value(p->type.dim[d]));
    if (p->type.rank == 0)
      sb_printf(b, "1");
  }
}

static int64_t total_of(const Model *m, ParamRole role) {
  int64_t t = 0;
  for (int i = 0; i < m->params.n; i++) {
    const ParamDecl *p = m->params.v[i];
    if (p->role == role)
      t += type_numel_const(p->type);
  }
  return t;
}

static void summary_model(FILE *f, const Module *mod, const Model *m) {
  fprintf(f, "model %s\n", m->name);
  fprintf(f, "  %-36s %-24s %-22s %12s  %s\n", "layer", "type", "output",
          "params", "parameter shapes");
  for (int i = 0; i < m->layers.n; i++) {
    const LayerRow *r = m->layers.v[i];
    StrBuf name = {0}, out = {0}, shapes = {0};
    sb_printf(&name, "%*s%s", 2 * r->depth, "", r->path);
    if (r->out.rank >= 0)
      type_print(&out, &mod->syms, r->out);
    else
      sb_printf(&out, "-");
    own_params(&shapes, m, r->path);
    fprintf(f, "  %-36s %-24s %-22s %12lld  %s\n", name.s, r->type, out.s,
            (long long)r->nparams, shapes.s ? shapes.s : "");
    sb_free(&name);
    sb_free(&out);
    sb_free(&shapes);
  }
  int64_t tp = total_of(m, PR_PARAM), tb = total_of(m, PR_BUFFER);
  fprintf(f, "  trainable parameters: %lld (%.2f MB as f32)\n", (long long)tp,
          (double)tp * 4 / 1e6);
  if (tb)
    fprintf(f, "  buffer elements: %lld\n", (long long)tb);
  fprintf(f, "  entry points:");
  for (int i = 0; i < m->funcs.n; i++) {
    const Func *fn = m->funcs.v[i];
    fprintf(f, " %s %s", fn->kind == FN_TRAIN ? "train" : "fn", fn->name);
    fprintf(f, "%s", i + 1 < m->funcs.n ? "," : "\n");
  }
  if (!m->funcs.n)
    fprintf(f, " none\n");
}

void nnc_summary(FILE *f, const Module *mod) {
  for (int i = 0; i < mod->models.n; i++) {
    if (i)
      fputc('\n', f);
    summary_model(f, mod, mod->models.v[i]);
  }
}

/* ------------------------------------------------------------- dot */

static void dot_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
}

static void dot_region(FILE *f, const Module *mod, const char *pfx,
                       const Region *r, int depth) {
  for (const Node *n = r->first; n; n = n->next) {
    StrBuf t = {0};
    if (op_has_body(n->op))
      sb_printf(&t, "%d results", n->nresult);
    else
      type_print(&t, &mod->syms, n->type);
    const Attr *nm =
        (n->op == OP_PARAM || n->op == OP_BUFFER || n->op == OP_INPUT)
            ? ir_attr(n, "name")
            : NULL;
    const char *shape = n->op == OP_PARAM || n->op == OP_BUFFER ? "ellipse"
                        : n->op == OP_INPUT                     ? "invhouse"
                                                                : "box";
    fprintf(f, "%*s\"%s%s\" [shape=%s, label=\"", 2 * depth + 4, "", pfx,
            n->name, shape);
    dot_escape(f, nm ? nm->s : nnc_ops[n->op].name);
    fprintf(f, "\\n");
    dot_escape(f, t.s ? t.s : "");
    fprintf(f, "\"];\n");
    sb_free(&t);
    for (int i = 0; i < n->nin; i++)
      fprintf(f, "%*s\"%s%s\" -> \"%s%s\";\n", 2 * depth + 4, "", pfx,
              n->in[i]->name, pfx, n->name);
    if (n->body) {
      fprintf(f,
              "%*ssubgraph \"cluster_%s%s\" {\n%*slabel=\"%s %s\"; "
              "style=%s;\n",
              2 * depth + 4, "", pfx, n->name, 2 * depth + 6, "",
              nnc_ops[n->op].name, n->name,
              n->op == OP_FUSED ? "\"rounded,filled\"; fillcolor=\"#eef4ff\""
                                : "dashed");
      dot_region(f, mod, pfx, n->body, depth + 1);
      for (int i = 0; i < n->body->nout; i++)
        fprintf(f, "%*s\"%s%s\" -> \"%s%s\" [style=dashed];\n", 2 * depth + 6,
                "", pfx, n->body->out[i]->name, pfx, n->name);
      fprintf(f, "%*s}\n", 2 * depth + 4, "");
    }
  }
}

void nnc_dot(FILE *f, const Module *mod) {
  fprintf(f, "digraph nnc {\n  rankdir=TB;\n  node [fontname=\"monospace\", "
             "fontsize=10];\n");
  for (int i = 0; i < mod->models.n; i++) {
    const Model *m = mod->models.v[i];
    for (int j = 0; j < m->funcs.n; j++) {
      const Func *fn = m->funcs.v[j];
      char pfx[256];
      snprintf(pfx, sizeof pfx, "%s.%s/", m->name, fn->name);
      fprintf(f, "  subgraph \"cluster_%s\" {\n    label=\"%s %s.%s\";\n", pfx,
              fn->kind == FN_TRAIN ? "train" : "fn", m->name, fn->name);
      dot_region(f, mod, pfx, &fn->body, 0);
      for (int k = 0; k < fn->body.nout; k++)
        fprintf(f,
                "    \"%sreturn%d\" [shape=house, label=\"%s\"];\n"
                "    \"%s%s\" -> \"%sreturn%d\";\n",
                pfx, k, fn->out_names ? fn->out_names[k] : "out", pfx,
                fn->body.out[k]->name, pfx, k);
      fprintf(f, "  }\n");
    }
  }
  fprintf(f, "}\n");
}
