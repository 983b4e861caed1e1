/* parse.c — runs the reentrant scanner and the pure parser over one source
 * file and reports the first lexical or syntax error at its location. */
#include "ast.h"
#include "parser.h"
#include "lexer.h"

AstList nnc_parse(Ctx *c, SrcFile *f) {
  ParseState ps = {0};
  ps.ctx = c;
  ps.file = f;
  ps.line = ps.col = 1;
  yyscan_t sc;
  if (yylex_init_extra(&ps, &sc))
    nnc_fatal(c, "cannot start the scanner");
  YY_BUFFER_STATE buf = yy_scan_bytes(f->text, (int)f->len, sc);
  int rc = yyparse(sc, &ps);
  yy_delete_buffer(buf, sc);
  yylex_destroy(sc);
  if (rc != 0 || ps.err_msg)
    nnc_error(c, ps.err_loc, "%s",
              ps.err_msg ? ps.err_msg : "cannot parse this file");
  return ps.items;
}
