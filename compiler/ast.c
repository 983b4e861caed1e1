/* ast.c — syntax-tree constructors used by the parser's actions. */
#include <string.h>

#include "ast.h"

Ast *ast_new(ParseState *ps, AstKind k, int line, int col) {
  Ast *x = arena_alloc(&ps->ctx->arena, sizeof *x);
  x->kind = k;
  x->loc = (SrcLoc){ps->file, line, col};
  return x;
}

void ast_push(ParseState *ps, AstList *l, Ast *x) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 4;
    l->v = arena_grow(&ps->ctx->arena, l->v, sizeof(Ast *) * (size_t)l->n,
                      sizeof(Ast *) * (size_t)cap);
    l->cap = cap;
  }
  l->v[l->n++] = x;
}

const char *ast_opname(int op) {
  static const char *const names[] = {
      "+", "-",  "*",  "/",  "//",  "%",  "**", "@",   "<", "<=",
      ">", ">=", "==", "!=", "and", "or", "-",  "not", "+"};
  return op >= 0 && op < (int)(sizeof names / sizeof *names) ? names[op] : "?";
}
