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
