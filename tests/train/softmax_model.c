/* softmax_model.c — a hand-written model behind an nnc_model_desc, for
 * testing nnc_train_main before (and independently of) the C emitter:
 * softmax regression from D = SIDE*SIDE pixels to K classes,
 *
 *   fn scores(x: f32[B, D]) -> f32[B, K]   a decoy (all zeros) listed first
 *   train step(x: f32[B, D], y: i32[B]) -> loss   (Adam, lr 0.01)
 *   fn forward(x: f32[B, D]) -> logits f32[B, K]
 *
 * Built as the trainer program itself (main calls nnc_train_main).
 * Variants: -DNCHW presents x as f32[B, 1, SIDE, SIDE]; -DNO_LABELS makes
 * step take x alone (a model the trainer trains without labels). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc_train.h"

#ifndef SIDE
#define SIDE 8
#endif
#ifndef K
#define K 4
#endif
#define D (SIDE * SIDE)
#define NPARAMS (K * D + K)

typedef struct Softmax {
  float *params;    /* fc.weight (K, D), then fc.bias (K) */
  float *grads;     /* same layout */
  float *opt_state; /* Adam: first moments, then second moments */
  int64_t opt_step;
  nnc_opt_settings settings;
  float *probs; /* workspace (B, K), grown on demand */
  int64_t probs_cap;
} Softmax;

static void *sm_create(void) {
  Softmax *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->params = calloc(NPARAMS, sizeof(float));
  m->grads = calloc(NPARAMS, sizeof(float));
  m->opt_state = calloc(2 * NPARAMS, sizeof(float));
  m->settings.kind = NNC_ADAM;
  m->settings.lr = 0.01;
  m->settings.beta1 = 0.9;
  m->settings.beta2 = 0.999;
  m->settings.eps = 1e-8;
  if (!m->params || !m->grads || !m->opt_state) {
    free(m->params);
    free(m->grads);
    free(m->opt_state);
    free(m);
    return NULL;
  }
  return m;
}

static void sm_destroy(void *p) {
  Softmax *m = p;
  if (!m)
    return;
  free(m->params);
  free(m->grads);
  free(m->opt_state);
  free(m->probs);
  free(m);
}

static void sm_init(void *p, uint64_t seed) {
  Softmax *m = p;
  nnc_rng r;
  nnc_rng_seed(&r, seed);
  double bound = 1.0 / sqrt((double)D); /* PyTorch's Linear */
  for (int i = 0; i < NPARAMS; i++)
    m->params[i] = (float)((2 * nnc_rng_uniform(&r) - 1) * bound);
}

static void tensors(Softmax *m, nnc_st_tensor t[2]) {
  memset(t, 0, 2 * sizeof *t);
  t[0].name = "fc.weight";
  t[0].dtype = NNC_F32;
  t[0].rank = 2;
  t[0].shape[0] = K;
  t[0].shape[1] = D;
  t[0].data = m->params;
  t[1].name = "fc.bias";
  t[1].dtype = NNC_F32;
  t[1].rank = 1;
  t[1].shape[0] = K;
  t[1].data = m->params + K * D;
}

static int sm_save(const void *p, const char *path) {
  nnc_st_tensor t[2];
  char err[256];
  tensors((Softmax *)p, t);
  return nnc_st_write(path, t, 2, err, sizeof err);
}

static int sm_load(void *p, const char *path, char *err, size_t errlen) {
  nnc_st_tensor t[2];
  tensors(p, t);
  return nnc_st_read(path, t, 2, err, errlen);
}

static void sm_zero_grad(void *p) {
  Softmax *m = p;
  memset(m->grads, 0, NPARAMS * sizeof(float));
}

static float *sm_params(void *p) { return ((Softmax *)p)->params; }

/* logits (B, K) = x (B, D) @ W^T + b */
static void logits_of(const Softmax *m, int64_t b, const float *x, float *out) {
  nnc_sgemm(0, 1, b, K, D, 1.0f, x, D, m->params, D, 0.0f, out, K);
  for (int64_t i = 0; i < b; i++)
    for (int j = 0; j < K; j++)
      out[i * K + j] += m->params[K * D + j];
}

static int forward(void *p, const int64_t *dims, const void *const *in,
                   void *const *out, void *ws) {
  (void)ws;
  if (dims[0] < 1)
    return NNC_EBADDIM;
  logits_of(p, dims[0], in[0], out[0]);
  return 0;
}

static int scores(void *p, const int64_t *dims, const void *const *in,
                  void *const *out, void *ws) {
  (void)p, (void)in, (void)ws;
  if (dims[0] < 1)
    return NNC_EBADDIM;
  memset(out[0], 0, sizeof(float) * (size_t)(dims[0] * K));
  return 0;
}

/* Cross-entropy of softmax(logits) with y; gradients ADDED into grads. */
static int grad(void *p, const int64_t *dims, const void *const *in,
                void *const *out, void *const *dx, void *ws) {
  Softmax *m = p;
  int64_t b = dims[0];
  const float *x = in[0];
  (void)dx, (void)ws;
  if (b < 1)
    return NNC_EBADDIM;
  if (b > m->probs_cap) {
    float *np = realloc(m->probs, sizeof(float) * (size_t)(b * K));
    if (!np)
      return NNC_ENOMEM;
    m->probs = np;
    m->probs_cap = b;
  }
  float *pr = m->probs; /* (B, K) */
  logits_of(m, b, x, pr);
  double loss = 0;
  for (int64_t i = 0; i < b; i++) {
#ifdef NO_LABELS
    int32_t y = 0;
#else
    int32_t y = ((const int32_t *)in[1])[i];
#endif
    if (y < 0 || y >= K)
      return NNC_EINDEX;
    float *r = pr + i * K, mx = r[0];
    double s = 0;
    for (int j = 1; j < K; j++)
      mx = r[j] > mx ? r[j] : mx;
    for (int j = 0; j < K; j++)
      s += exp(r[j] - mx);
    loss += mx + log(s) - r[y];
    for (int j = 0; j < K; j++) /* dlogits = (softmax - onehot) / B */
      r[j] = (float)((exp(r[j] - mx) / s - (j == y)) / (double)b);
  }
  *(float *)out[0] = (float)(loss / (double)b);
  /* dW (K, D) += dlogits^T (K, B) @ x (B, D); db += column sums */
  nnc_sgemm(1, 0, K, D, b, 1.0f, pr, K, x, D, 1.0f, m->grads, D);
  for (int64_t i = 0; i < b; i++)
    for (int j = 0; j < K; j++)
      m->grads[K * D + j] += pr[i * K + j];
  return 0;
}

static void update(void *p) {
  Softmax *m = p;
  nnc_opt_step_f32(&m->settings, ++m->opt_step, m->params, m->grads,
                   m->opt_state, NPARAMS);
  sm_zero_grad(m);
}

static int step(void *p, const int64_t *dims, const void *const *in,
                void *const *out, void *ws) {
  int rc = grad(p, dims, in, out, NULL, ws);
  if (rc == 0)
    update(p);
  return rc;
}

static size_t no_workspace(const int64_t *dims) {
  (void)dims;
  return 0;
}

static nnc_opt_settings *settings(void *p) { return &((Softmax *)p)->settings; }

static const char *const syms[] = {"B"};

#ifdef NCHW
static const nnc_arg_info x_arg = {
    "x", NNC_F32, 4, {1, 1, SIDE, SIDE}, {0, -1, -1, -1}, {"B", "1", 0, 0}};
#else
static const nnc_arg_info x_arg = {"x", NNC_F32, 2, {0, D}, {0, -1}, {"B", 0}};
#endif
static const nnc_arg_info y_arg = {"y", NNC_I32, 1, {1}, {0}, {"B"}};
static const nnc_arg_info loss_arg = {"loss", NNC_F32, 0, {0}, {0}, {0}};
static const nnc_arg_info logits_arg = {"logits", NNC_F32, 2,
                                        {1, K},   {0, -1}, {"B", 0}};
#ifdef NO_LABELS
static const nnc_arg_info step_in[1] = {x_arg};
#define STEP_NIN 1
#else
static const nnc_arg_info step_in[2] = {x_arg, y_arg};
#define STEP_NIN 2
#endif

static const nnc_entry_desc entries[] = {
    {"scores", NNC_INFER, 1, 1, &x_arg, &logits_arg, scores, NULL, NULL,
     no_workspace, NULL},
    {"step", NNC_TRAIN, STEP_NIN, 1, step_in, &loss_arg, step, grad, update,
     no_workspace, settings},
    {"forward", NNC_INFER, 1, 1, &x_arg, &logits_arg, forward, NULL, NULL,
     no_workspace, NULL},
};

static const nnc_tensor_info tensor_table[] = {
    {"fc.weight", NNC_PARAM, NNC_F32, 2, {K, D}, K *D, 0, "uniform"},
    {"fc.bias", NNC_PARAM, NNC_F32, 1, {K}, K, K *D, "uniform"},
};

static const nnc_model_desc softmax_desc = {
    "Softmax", NNC_F32,      1,         syms,       3,       entries,
    2,         tensor_table, sm_create, sm_destroy, sm_init, sm_save,
    sm_load,   sm_zero_grad, sm_params, NPARAMS};

int main(int argc, char **argv) {
  return nnc_train_main(&softmax_desc, argc, argv);
}
