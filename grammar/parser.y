/* parser.y — the .nn grammar. A pure parser over a reentrant scanner; every
 * action is one call into an AST constructor. Statements of all levels share
 * one grammar: elaboration says which are allowed where. */
%code requires {
#include "ast.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
}

%code provides {
#include <string.h>
int yylex(YYSTYPE *lval, YYLTYPE *lloc, yyscan_t scanner);
void yyerror(YYLTYPE *lloc, yyscan_t scanner, ParseState *ps, const char *msg);
}

%code {
#define YYMAXDEPTH 4000
#define NODE(k, l) ast_new(ps, (k), (l).first_line, (l).first_column)
static Ast *binop(ParseState *ps, YYLTYPE l, int op, Ast *a, Ast *b) {
  Ast *x = ast_new(ps, A_BINOP, l.first_line, l.first_column);
  x->op = op; x->a = a; x->b = b;
  return x;
}
static Ast *unop(ParseState *ps, YYLTYPE l, int op, Ast *a) {
  Ast *x = ast_new(ps, A_UNOP, l.first_line, l.first_column);
  x->op = op; x->a = a;
  return x;
}
static Ast *with_list(Ast *x, AstList l) { x->list = l; return x; }
}

%define api.pure full
%define parse.error detailed
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {ParseState *ps}

%union {
  Ast *ast;
  AstList list;
  const char *str;
  int64_t ival;
  double fval;
}

%token <str> IDENT "identifier"
%token <str> STRING "string"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token NL "end of line"
%token IMPORT "import" LAYER "layer" MODEL "model" FN "fn" TRAIN "train"
%token PARAM "param" BUFFER "buffer" IF "if" ELSE "else" FOR "for" IN "in"
%token REVERSE "reverse" SCAN "scan" CARRY "carry" YIELD "yield"
%token RETURN "return" MINIMIZE "minimize" WITH "with" OVER "over"
%token UPDATE "update" TRUE "true" FALSE "false" AND "and" OR "or" NOT "not"
%token TRAINING "training" CONST "const" AS "as" ALONG "along"
%token POW "**" FLOORDIV "//" DOTDOT ".." EQ "==" NE "!=" LE "<=" GE ">="
%token BADCHAR "invalid character"

%type <ast> stmt item_stmt expr postfix primary arg idx target fparam
%type <ast> else_opt init_opt as_opt along_opt with_opt carry_opt
%type <list> stmts stmt_seq block args arg_list idxs exprs exprs_opt targets
%type <list> fparams fparam_list carries names over_opt

%right IF ELSE
%left OR
%left AND
%precedence NOT
%nonassoc '<' '>' LE GE EQ NE
%left '+' '-'
%left '*' '/' FLOORDIV '%' '@'
%precedence UMINUS
%right POW

%%

file
  : stmts                         { ps->items = $1; }
  ;

stmts
  : seps_opt                      { $$ = (AstList){0}; }
  | seps_opt stmt_seq seps_opt    { $$ = $2; }
  ;

stmt_seq
  : stmt                          { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | stmt_seq seps stmt            { $$ = $1; ast_push(ps, &$$, $3); }
  ;

seps_opt : %empty | seps ;
seps : sep | seps sep ;
sep : NL | ';' ;

block
  : '{' stmts '}'                 { $$ = $2; }
  ;

stmt
  : item_stmt
  | targets '=' expr              { $$ = NODE(A_ASSIGN, @2); $$->list = $1; $$->a = $3; }
  | targets '=' SCAN IDENT IN REVERSE expr DOTDOT expr carry_opt block
      { $$ = NODE(A_SCAN, @3); $$->list2 = $1; $$->name = $4; $$->flag = 1;
        $$->a = $7; $$->b = $9; $$->c = $10; $$->list = $11; }
  | targets '=' SCAN IDENT IN expr DOTDOT expr REVERSE '(' expr ')' carry_opt block
      { $$ = NODE(A_SCAN, @3); $$->list2 = $1; $$->name = $4; $$->str = "cond";
        $$->a = $6; $$->b = $8; $$->c = $13; $$->list = $14; ast_push(ps, &$$->list2, $11); }
  | targets '=' SCAN IDENT IN expr DOTDOT expr carry_opt block
      { $$ = NODE(A_SCAN, @3); $$->list2 = $1; $$->name = $4;
        $$->a = $6; $$->b = $8; $$->c = $9; $$->list = $10; }
  | RETURN exprs_opt              { $$ = NODE(A_RETURN, @1); $$->list = $2; }
  | IF expr block else_opt        { $$ = NODE(A_IF, @1); $$->a = $2; $$->list = $3;
                                    if ($4) $$->list2 = $4->list; }
  | FOR IDENT IN expr DOTDOT expr block
      { $$ = NODE(A_FOR, @1); $$->name = $2; $$->a = $4; $$->b = $6; $$->list = $7; }
  | FOR IDENT IN expr block
      { $$ = NODE(A_FOR, @1); $$->name = $2; $$->a = $4; $$->list = $5; }
  | YIELD expr along_opt          { $$ = NODE(A_YIELD, @1); $$->a = $2; $$->b = $3; }
  | UPDATE IDENT '=' expr         { $$ = NODE(A_UPDATE, @2); $$->name = $2; $$->a = $4; }
  | MINIMIZE expr with_opt over_opt
      { $$ = NODE(A_MINIMIZE, @1); $$->a = $2; $$->b = $3; $$->list = $4; }
  | PARAM target ':' expr init_opt as_opt
      { $$ = NODE(A_PARAMDECL, @2); $$->name = $2->name; $$->a = $2->a;
        $$->b = $4; $$->c = $5; $$->str = $6 ? $6->str : NULL; }
  | BUFFER target ':' expr init_opt as_opt
      { $$ = NODE(A_PARAMDECL, @2); $$->flag = 1; $$->name = $2->name; $$->a = $2->a;
        $$->b = $4; $$->c = $5; $$->str = $6 ? $6->str : NULL; }
  ;

item_stmt
  : IMPORT STRING                 { $$ = NODE(A_IMPORT, @2); $$->str = $2; }
  | CONST IDENT '=' expr          { $$ = NODE(A_CONST, @2); $$->name = $2; $$->a = $4; }
  | LAYER IDENT '(' fparams ')' block
      { $$ = NODE(A_LAYER, @2); $$->name = $2; $$->list2 = $4; $$->list = $6; }
  | MODEL IDENT block             { $$ = NODE(A_LAYER, @2); $$->name = $2; $$->flag = 1; $$->list = $3; }
  | FN IDENT '(' fparams ')' block
      { $$ = NODE(A_FN, @2); $$->name = $2; $$->list2 = $4; $$->list = $6; }
  | TRAIN IDENT '(' fparams ')' block
      { $$ = NODE(A_FN, @2); $$->name = $2; $$->flag = 1; $$->list2 = $4; $$->list = $6; }
  ;

else_opt
  : %empty                        { $$ = NULL; }
  | ELSE block                    { $$ = NODE(A_LIST, @1); $$->list = $2; }
  | ELSE IF expr block else_opt
      { Ast *x = NODE(A_IF, @2); x->a = $3; x->list = $4; if ($5) x->list2 = $5->list;
        $$ = NODE(A_LIST, @1); ast_push(ps, &$$->list, x); }
  ;

init_opt : %empty { $$ = NULL; } | '=' expr { $$ = $2; } ;
as_opt : %empty { $$ = NULL; } | AS STRING { $$ = NODE(A_STR, @2); $$->str = $2; } ;
along_opt : %empty { $$ = NULL; } | ALONG expr { $$ = $2; } ;
with_opt : %empty { $$ = NULL; } | WITH expr { $$ = $2; } ;
over_opt : %empty { $$ = (AstList){0}; } | OVER names { $$ = $2; } ;

names
  : IDENT                         { $$ = (AstList){0}; Ast *x = NODE(A_NAME, @1); x->name = $1; ast_push(ps, &$$, x); }
  | names ',' IDENT               { $$ = $1; Ast *x = NODE(A_NAME, @3); x->name = $3; ast_push(ps, &$$, x); }
  ;

carry_opt
  : %empty                        { $$ = NULL; }
  | CARRY '(' carries ')'         { $$ = with_list(NODE(A_LIST, @1), $3); }
  ;

carries
  : IDENT '=' expr                { $$ = (AstList){0}; Ast *x = NODE(A_ARG, @1); x->name = $1; x->a = $3; ast_push(ps, &$$, x); }
  | carries ',' IDENT '=' expr    { $$ = $1; Ast *x = NODE(A_ARG, @3); x->name = $3; x->a = $5; ast_push(ps, &$$, x); }
  ;

targets
  : target                        { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | targets ',' target            { $$ = $1; ast_push(ps, &$$, $3); }
  ;

target
  : IDENT                         { $$ = NODE(A_TARGET, @1); $$->name = $1; }
  | IDENT '[' expr ']'            { $$ = NODE(A_TARGET, @1); $$->name = $1; $$->a = $3; }
  ;

fparams
  : %empty                        { $$ = (AstList){0}; }
  | fparam_list
  | fparam_list ','
  ;

fparam_list
  : fparam                        { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | fparam_list ',' fparam        { $$ = $1; ast_push(ps, &$$, $3); }
  ;

fparam
  : IDENT                         { $$ = NODE(A_PARM, @1); $$->name = $1; }
  | IDENT ':' expr                { $$ = NODE(A_PARM, @1); $$->name = $1; $$->a = $3; }
  | IDENT '=' expr                { $$ = NODE(A_PARM, @1); $$->name = $1; $$->b = $3; }
  | IDENT ':' expr '=' expr       { $$ = NODE(A_PARM, @1); $$->name = $1; $$->a = $3; $$->b = $5; }
  ;

exprs_opt : %empty { $$ = (AstList){0}; } | exprs ;

exprs
  : expr                          { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | exprs ',' expr                { $$ = $1; ast_push(ps, &$$, $3); }
  ;

expr
  : postfix
  | expr IF expr ELSE expr
      { $$ = NODE(A_COND, @2); $$->a = $1; $$->b = $3; $$->c = $5; }
  | expr OR expr                  { $$ = binop(ps, @2, BO_OR, $1, $3); }
  | expr AND expr                 { $$ = binop(ps, @2, BO_AND, $1, $3); }
  | NOT expr                      { $$ = unop(ps, @1, UO_NOT, $2); }
  | expr '<' expr                 { $$ = binop(ps, @2, BO_LT, $1, $3); }
  | expr '>' expr                 { $$ = binop(ps, @2, BO_GT, $1, $3); }
  | expr LE expr                  { $$ = binop(ps, @2, BO_LE, $1, $3); }
  | expr GE expr                  { $$ = binop(ps, @2, BO_GE, $1, $3); }
  | expr EQ expr                  { $$ = binop(ps, @2, BO_EQ, $1, $3); }
  | expr NE expr                  { $$ = binop(ps, @2, BO_NE, $1, $3); }
  | expr '+' expr                 { $$ = binop(ps, @2, BO_ADD, $1, $3); }
  | expr '-' expr                 { $$ = binop(ps, @2, BO_SUB, $1, $3); }
  | expr '*' expr                 { $$ = binop(ps, @2, BO_MUL, $1, $3); }
  | expr '/' expr                 { $$ = binop(ps, @2, BO_DIV, $1, $3); }
  | expr FLOORDIV expr            { $$ = binop(ps, @2, BO_FLOORDIV, $1, $3); }
  | expr '%' expr                 { $$ = binop(ps, @2, BO_MOD, $1, $3); }
  | expr '@' expr                 { $$ = binop(ps, @2, BO_MATMUL, $1, $3); }
  | expr POW expr                 { $$ = binop(ps, @2, BO_POW, $1, $3); }
  | '-' expr %prec UMINUS         { $$ = unop(ps, @1, UO_NEG, $2); }
  | '+' expr %prec UMINUS         { $$ = unop(ps, @1, UO_PLUS, $2); }
  ;

postfix
  : primary
  | postfix '(' args ')'          { $$ = NODE(A_CALL, @1); $$->a = $1; $$->list = $3; }
  | postfix '[' idxs ']'          { $$ = NODE(A_INDEX, @2); $$->a = $1; $$->list = $3; }
  | postfix '[' ']'               { $$ = NODE(A_INDEX, @2); $$->a = $1; }
  | postfix '.' IDENT             { $$ = NODE(A_ATTR, @3); $$->a = $1; $$->name = $3; }
  ;

primary
  : INT                           { $$ = NODE(A_INT, @1); $$->ival = $1; }
  | FLOAT                         { $$ = NODE(A_FLOAT, @1); $$->fval = $1; }
  | STRING                        { $$ = NODE(A_STR, @1); $$->str = $1; }
  | TRUE                          { $$ = NODE(A_BOOL, @1); $$->ival = 1; }
  | FALSE                         { $$ = NODE(A_BOOL, @1); $$->ival = 0; }
  | TRAINING                      { $$ = NODE(A_TRAINING, @1); }
  | IDENT                         { $$ = NODE(A_NAME, @1); $$->name = $1; }
  | '(' expr ')'                  { $$ = $2; }
  | '[' exprs_opt ']'             { $$ = NODE(A_LIST, @1); $$->list = $2; }
  | '[' exprs ',' ']'             { $$ = NODE(A_LIST, @1); $$->list = $2; }
  ;

args
  : %empty                        { $$ = (AstList){0}; }
  | arg_list
  | arg_list ','
  ;

arg_list
  : arg                           { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | arg_list ',' arg              { $$ = $1; ast_push(ps, &$$, $3); }
  ;

arg
  : expr                          { $$ = NODE(A_ARG, @1); $$->a = $1; }
  | IDENT '=' expr                { $$ = NODE(A_ARG, @1); $$->name = $1; $$->a = $3; }
  ;

idxs
  : idx                           { $$ = (AstList){0}; ast_push(ps, &$$, $1); }
  | idxs ',' idx                  { $$ = $1; ast_push(ps, &$$, $3); }
  ;

idx
  : expr
  | expr ':' expr                 { $$ = NODE(A_SLICE, @2); $$->a = $1; $$->b = $3; }
  | expr ':'                      { $$ = NODE(A_SLICE, @2); $$->a = $1; }
  | ':' expr                      { $$ = NODE(A_SLICE, @1); $$->b = $2; }
  | ':'                           { $$ = NODE(A_SLICE, @1); }
  | expr ':' expr ':' expr        { $$ = NODE(A_SLICE, @2); $$->a = $1; $$->b = $3; $$->c = $5; }
  | expr ':' ':' expr             { $$ = NODE(A_SLICE, @2); $$->a = $1; $$->c = $4; }
  | ':' expr ':' expr             { $$ = NODE(A_SLICE, @1); $$->b = $2; $$->c = $4; }
  | ':' ':' expr                  { $$ = NODE(A_SLICE, @1); $$->c = $3; }
  | ':' ':'                       { $$ = NODE(A_SLICE, @1); }
  | expr ':' expr ':'             { $$ = NODE(A_SLICE, @2); $$->a = $1; $$->b = $3; }
  | ':' expr ':'                  { $$ = NODE(A_SLICE, @1); $$->b = $2; }
  | expr ':' ':'                  { $$ = NODE(A_SLICE, @2); $$->a = $1; }
  ;

%%

/* Records the first error; nnc_parse reports it once yyparse has returned
 * and freed its stacks (unwinding from inside yyparse would leak them). */
void yyerror(YYLTYPE *lloc, yyscan_t scanner, ParseState *ps, const char *msg) {
  (void)scanner;
  if (ps->err_msg)
    return;
  ps->err_loc = (SrcLoc){ps->file, lloc->first_line, lloc->first_column};
  if (strcmp(msg, "memory exhausted") == 0)
    msg = "expression nested too deeply";
  ps->err_msg = arena_strdup(&ps->ctx->arena, msg);
}
