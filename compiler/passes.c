/* passes.c — the pass pipeline after elaboration: a plain sequence of pass
 * calls, the verifier after each, and --dump-ir after any of them. */
#include <string.h>

#include "nnc.h"

const char *const nnc_pass_names[] = {"elab", "verify", "grad", "simplify",
                                      "fuse", NULL};

static void after(Ctx *c, Module *m, const PassOptions *o, const char *pass) {
  ir_verify(c, m);
  if (o->dump_after && !strcmp(o->dump_after, pass))
    ir_dump_file(o->dump ? o->dump : stdout, m);
}

void nnc_run_passes(Ctx *c, Module *m, const PassOptions *o) {
  after(c, m, o, "elab");
  after(c, m, o, "verify");
  /* grad: needs typed IR; expands grad nodes and train backward passes;
   * leaves no grad node behind */
  pass_grad(c, m);
  after(c, m, o, "grad");
  /* simplify: folds, dedupes and removes dead nodes; keeps every result,
   * buffer update, gradient sink and minimize */
  if (o->opt_level > 0)
    pass_simplify(c, m);
  after(c, m, o, "simplify");
  /* fuse: groups elementwise chains and the reductions reading them into
   * fused nodes; -O0 leaves every node on its own */
  if (o->opt_level > 0)
    pass_fuse(c, m);
  after(c, m, o, "fuse");
}
