/* ops.c — the op table (name, arity, class), generated from NNC_OPS. */
#include <string.h>

#include "nnc.h"

const OpInfo nnc_ops[OP_COUNT] = {
#define X(e, n, ar, cl, sh) [OP_##e] = {#n, ar, cl},
    NNC_OPS(X)
#undef X
};

int op_lookup(const char *name) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!strcmp(nnc_ops[i].name, name))
      return i;
  return -1;
}

int op_has_body(OpKind op) { return op == OP_SCAN || op == OP_FUSED; }

int op_fusible(OpKind op) {
  switch (nnc_ops[op].cls) {
  case OC_UNARY: case OC_BINARY: case OC_COMPARE:
    return 1;
  default:
    return op == OP_EXPAND || op == OP_FULL || op == OP_CONST;
  }
}
