/* good.c — a miniature of the model.c that nnc writes for good.h: static
 * helpers, const tables, and only the entry points the header declares. */
#include <stdlib.h>
#include <string.h>

#include "good.h"

/* Parameter offsets into MLP.params. */
#define FC1_W 0  /* (4, 4) */
#define FC1_B 16 /* (4) */
#define FC2_W 20 /* (1, 4) */
#define FC2_B 24 /* (1) */

static const nnc_tensor_info mlp_tensor_table[] = {
    {"fc1.weight", NNC_PARAM, NNC_F32, 2, {4, 4}, 16, FC1_W, "uniform(-0.5,0.5)"},
    {"fc1.bias", NNC_PARAM, NNC_F32, 1, {4}, 4, FC1_B, "zeros"},
    {"fc2.weight", NNC_PARAM, NNC_F32, 2, {1, 4}, 4, FC2_W, "uniform(-0.5,0.5)"},
    {"fc2.bias", NNC_PARAM, NNC_F32, 1, {1}, 1, FC2_B, "zeros"},
};

static const char *const mlp_syms[] = {"B"};

/* y = x @ w^T + b, then ReLU when relu is set. x: (B, in), y: (B, out) */
static void linear(float *y, const float *x, const float *w, const float *b,
                   int64_t B, int64_t in, int64_t out, int relu) {
  for (int64_t i = 0; i < B; i++)
    for (int64_t o = 0; o < out; o++) {
      float s = b[o];
      for (int64_t k = 0; k < in; k++)
        s += x[i * in + k] * w[o * in + k];
      y[i * out + o] = relu && s < 0.0f ? 0.0f : s;
    }
}

MLP *mlp_create(void) {
  MLP *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->params = calloc(MLP_PARAMS, sizeof *m->params);
  m->grads = calloc(MLP_PARAMS, sizeof *m->grads);
  if (!m->params || !m->grads) {
    mlp_free(m);
    return NULL;
  }
  return m;
}

void mlp_free(MLP *m) {
  if (!m)
    return;
  free(m->params);
  free(m->grads);
  free(m->ws);
  free(m);
}

void mlp_init(MLP *m, uint64_t seed) {
  nnc_rng_seed(&m->rng, seed);
  for (int i = 0; i < 4; i++) {
    const nnc_tensor_info *t = &mlp_tensor_table[i];
    nnc_init_fill_f32(&m->rng, t->init, m->params + t->offset, t->numel,
                      t->shape[0], t->rank > 1 ? t->shape[1] : 1);
  }
}

const nnc_tensor_info *mlp_tensors(int *n) {
  *n = (int)(sizeof mlp_tensor_table / sizeof mlp_tensor_table[0]);
  return mlp_tensor_table;
}

size_t mlp_forward_workspace(int64_t B) {
  return (size_t)B * 4 * sizeof(float); /* h: (B, 4) */
}

int mlp_forward(MLP *m, int64_t B, const float *x, float *y, void *ws) {
  if (B < 1)
    return NNC_EBADDIM;
  size_t need = mlp_forward_workspace(B);
  if (!ws) {
    if (m->ws_size < need) {
      void *p = realloc(m->ws, need);
      if (!p)
        return NNC_ENOMEM;
      m->ws = p;
      m->ws_size = need;
    }
    ws = m->ws;
  }
  float *h = ws; /* (B, 4) */
  linear(h, x, m->params + FC1_W, m->params + FC1_B, B, 4, 4, 1);
  linear(y, h, m->params + FC2_W, m->params + FC2_B, B, 4, 1, 0);
  return 0;
}

static void *desc_create(void) { return mlp_create(); }
static void desc_destroy(void *m) { mlp_free(m); }
static void desc_init(void *m, uint64_t seed) { mlp_init(m, seed); }

const nnc_model_desc mlp_desc = {
    .name = "MLP",
    .dtype = NNC_F32,
    .nsyms = 1,
    .syms = mlp_syms,
    .ntensors = 4,
    .tensors = mlp_tensor_table,
    .create = desc_create,
    .destroy = desc_destroy,
    .init = desc_init,
    .nparams = MLP_PARAMS,
};
