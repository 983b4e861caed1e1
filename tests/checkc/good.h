/* good.h — a miniature of what nnc writes for `model MLP` (two Linear
 * layers): the model object, its entry points and its descriptor. */
#ifndef GOOD_H
#define GOOD_H

#include <stddef.h>
#include <stdint.h>

#include "nnc_runtime.h"

#define MLP_PARAMS 26 /* fc1: 4*4 + 4, fc2: 1*4 + 1, plus one spare */

typedef struct MLP {
  float *params; /* every trained parameter, one block */
  float *grads;  /* their gradients, same layout */
  nnc_rng rng;
  void *ws; /* workspace, grown on demand */
  size_t ws_size;
} MLP;

MLP *mlp_create(void);
void mlp_free(MLP *m);
void mlp_init(MLP *m, uint64_t seed);
const nnc_tensor_info *mlp_tensors(int *n);

/* x: (B, 4) -> y: (B, 1) */
int mlp_forward(MLP *m, int64_t B, const float *x, float *y, void *ws);
size_t mlp_forward_workspace(int64_t B);

extern const nnc_model_desc mlp_desc;

#endif
