/* ast.h — the syntax tree the parser builds and elaboration reads.
 * One node shape for everything; the kind says which fields are used. */
#ifndef NNC_AST_H
#define NNC_AST_H

#include "nnc.h"

typedef struct Ast Ast;

typedef struct AstList {
  int n, cap;
  Ast **v;
} AstList;

typedef enum AstKind {
  /* expressions */
  A_INT,      /* ival */
  A_FLOAT,    /* fval */
  A_STR,      /* str */
  A_BOOL,     /* ival */
  A_NAME,     /* name */
  A_TRAINING, /* the `training` keyword */
  A_BINOP,    /* op, a, b */
  A_UNOP,     /* op, a */
  A_CALL,     /* a = callee, list = args (A_ARG) */
  A_ARG,      /* name (NULL if positional), a */
  A_INDEX,    /* a = base, list = items (exprs or A_SLICE) */
  A_SLICE,    /* a, b, c (each may be NULL) */
  A_ATTR,     /* a . name */
  A_LIST,     /* list */
  A_COND,     /* a if b else c: a = then, b = cond, c = else */
  /* statements */
  A_ASSIGN, /* list = targets (A_TARGET), a = value */
  A_TARGET, /* name, a = index or NULL */
  A_RETURN, /* list */
  A_IF,     /* a = cond, list = then, list2 = else */
  A_FOR,  /* name, a = from, b = to (NULL: iterate over list a) , list = body */
  A_SCAN, /* list2 = targets, name = index var, flag = reverse, a..b,
             c = A_LIST of A_ARG carries, list = body; str != NULL when
             `reverse(cond)` follows the range: cond is list2's last */
  A_YIELD,     /* a = value, b = axis or NULL */
  A_UPDATE,    /* name, a */
  A_MINIMIZE,  /* a = loss, b = optimizer call or NULL, list = over (A_NAME) */
  A_PARAMDECL, /* flag = 0 param / 1 buffer, name, a = index or NULL,
                  b = shape, c = init or NULL, str = exported name or NULL */
  A_FN, /* name, flag = 0 fn / 1 train, list2 = params (A_PARM), list = body */
  A_PARM,   /* name, a = type or NULL, b = default or NULL */
  A_LAYER,  /* name, flag = 0 layer / 1 model, list2 = params, list = body */
  A_IMPORT, /* str */
  A_CONST   /* name, a */
} AstKind;

/* binary / unary operator codes */
enum {
  BO_ADD,
  BO_SUB,
  BO_MUL,
  BO_DIV,
  BO_FLOORDIV,
  BO_MOD,
  BO_POW,
  BO_MATMUL,
  BO_LT,
  BO_LE,
  BO_GT,
  BO_GE,
  BO_EQ,
  BO_NE,
  BO_AND,
  BO_OR,
  UO_NEG,
  UO_NOT,
  UO_PLUS
};

struct Ast {
  AstKind kind;
  SrcLoc loc;
  const char *name;
  const char *str;
  int64_t ival;
  double fval;
  int op;
  int flag;
  Ast *a, *b, *c;
  AstList list, list2;
};

/* State shared by the scanner and the parser for one file. */
typedef struct ParseState {
  Ctx *ctx;
  SrcFile *file;
  AstList items;       /* top-level statements */
  int depth;           /* bracket nesting, for newline handling and limits */
  int last_tok;        /* previous token, for line continuation */
  int line, col;       /* scanner position (1-based) */
  const char *err_msg; /* first error, reported after yyparse returns */
  SrcLoc err_loc;
} ParseState;

Ast *ast_new(ParseState *ps, AstKind k, int line, int col);
void ast_push(ParseState *ps, AstList *l, Ast *x);
const char *ast_opname(int op);

/* parse.c: scan and parse one file; errors unwind through nnc_error. */
AstList nnc_parse(Ctx *c, SrcFile *f);

#endif
