/* optim_kernel.h — template of the optimizer step and the gradient norm,
 * included by optim.c once per element type (REAL, SFX). Element math is
 * done in REAL, scalars in double, in the order torch.optim 1.13 uses. */

double NNC_FN(nnc_grad_norm)(const REAL *g, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++)
    ss += (double)g[i] * (double)g[i];
  return sqrt(ss);
}

/* The loops take their options as constants (each call below passes
 * literals), so that every variant is a plain loop, and run in blocks of 8
 * (then the rest), which gcc -O2 vectorises; Adam's square root too, as the
 * runtime is built with -fno-math-errno. */

/* p -= lr * d, d the gradient after L2 decay and momentum (torch.optim.SGD). */
typedef struct NNC_FN(sgd_k) {
  REAL lr, wd, mom, damp1;
  int first, decay, momentum, nesterov, zero;
} NNC_FN(sgd_k);

/* zero: g[j] set to 0 once read (nnc_opt_update). */
static NNC_INLINE void NNC_FN(sgd_elem)(NNC_FN(sgd_k) c, REAL *restrict p, REAL *restrict g,
                                    REAL *restrict buf, int64_t j) {
  REAL d = g[j];
  if (c.zero)
    g[j] = 0;
  if (c.decay)
    d = d + c.wd * p[j];
  if (c.momentum) {
    REAL b = c.first ? d : buf[j] * c.mom + c.damp1 * d;
    buf[j] = b;
    d = c.nesterov ? d + c.mom * b : b;
  }
  p[j] = p[j] - c.lr * d;
}

static NNC_INLINE void NNC_FN(sgd_loop)(const nnc_opt_settings *s, int first, int decay,
                                    int momentum, int nesterov, int zero, REAL *restrict p,
                                    REAL *restrict g, REAL *restrict buf, int64_t n) {
  NNC_FN(sgd_k) c = {(REAL)s->lr, (REAL)s->weight_decay, (REAL)s->momentum,
                     (REAL)(1 - s->dampening), first, decay, momentum, nesterov, zero};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    NNC_IVDEP
    for (int k = 0; k < 8; k++)
      NNC_FN(sgd_elem)(c, p, g, buf, i + k);
  for (; i < n; i++)
    NNC_FN(sgd_elem)(c, p, g, buf, i);
}

static void NNC_FN(sgd)(const nnc_opt_settings *s, int64_t step, REAL *p, REAL *g,
                        REAL *buf, int64_t n, int zero) {
  int first = step <= 1, decay = s->weight_decay != 0, momentum = s->momentum != 0;
  int nesterov = momentum && s->nesterov;
  /* every combination as literals: the variant is chosen once, not per element */
#define NNC_SGD_(f, d, m, nv)                                                          \
  (zero ? NNC_FN(sgd_loop)(s, f, d, m, nv, 1, p, g, buf, n)                            \
        : NNC_FN(sgd_loop)(s, f, d, m, nv, 0, p, g, buf, n))
#define NNC_SGD_NV_(f, d, m) (nesterov ? NNC_SGD_(f, d, m, 1) : NNC_SGD_(f, d, m, 0))
#define NNC_SGD_D_(f, m) (decay ? NNC_SGD_NV_(f, 1, m) : NNC_SGD_NV_(f, 0, m))
  if (!momentum)
    NNC_SGD_D_(0, 0);
  else if (first)
    NNC_SGD_D_(1, 1);
  else
    NNC_SGD_D_(0, 1);
#undef NNC_SGD_
#undef NNC_SGD_NV_
#undef NNC_SGD_D_
}

/* torch.optim.Adam (L2 decay added to the gradient: l2) and AdamW
 * (decoupled: p *= 1 - lr * wd first); m and v the two halves of the
 * state. */
typedef struct NNC_FN(adam_k) {
  REAL step_size, bc2_sqrt, b1, b2, eps, c1, c2, wd, shrink;
  int l2, decoupled, zero;
} NNC_FN(adam_k);

static NNC_INLINE void NNC_FN(adam_elem)(NNC_FN(adam_k) c, REAL *restrict p,
                                                  REAL *restrict g, REAL *restrict m,
                                                  REAL *restrict v, int64_t j) {
  REAL d = g[j];
  if (c.zero)
    g[j] = 0;
  if (c.decoupled)
    p[j] = p[j] * c.shrink;
  if (c.l2)
    d = d + c.wd * p[j];
  m[j] = m[j] * c.b1 + c.c1 * d;
  v[j] = v[j] * c.b2 + c.c2 * (d * d);
  REAL denom = SQRT(v[j]) / c.bc2_sqrt + c.eps;
  p[j] = p[j] + (-c.step_size) * (m[j] / denom);
}

static NNC_INLINE void NNC_FN(adam_loop)(const nnc_opt_settings *s, int64_t step,
                                                  int l2, int decoupled, int zero,
                                                  REAL *restrict p, REAL *restrict g,
                                                  REAL *restrict m, REAL *restrict v,
                                                  int64_t n) {
  const double t = (double)(step < 1 ? 1 : step);
  const double bc1 = 1 - pow(s->beta1, t), bc2 = 1 - pow(s->beta2, t);
  NNC_FN(adam_k) c = {(REAL)(s->lr / bc1), (REAL)sqrt(bc2), (REAL)s->beta1,
                      (REAL)s->beta2, (REAL)s->eps, (REAL)(1 - s->beta1),
                      (REAL)(1 - s->beta2), (REAL)s->weight_decay,
                      (REAL)(1 - s->lr * s->weight_decay), l2, decoupled, zero};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    NNC_IVDEP
    for (int k = 0; k < 8; k++)
      NNC_FN(adam_elem)(c, p, g, m, v, i + k);
  for (; i < n; i++)
    NNC_FN(adam_elem)(c, p, g, m, v, i);
}

static void NNC_FN(adam)(const nnc_opt_settings *s, int64_t step, REAL *p, REAL *g,
                         REAL *state, int64_t n, int zero) {
  int decay = s->weight_decay != 0, decoupled = s->kind == NNC_ADAMW;
  REAL *m = state, *v = state + n;
#define NNC_ADAM_(l2, dc)                                                              \
  (zero ? NNC_FN(adam_loop)(s, step, l2, dc, 1, p, g, m, v, n)                         \
        : NNC_FN(adam_loop)(s, step, l2, dc, 0, p, g, m, v, n))
  if (!decay)
    NNC_ADAM_(0, 0);
  else if (decoupled)
    NNC_ADAM_(0, 1);
  else
    NNC_ADAM_(1, 0);
#undef NNC_ADAM_
}

/* g is only read here (zero 0): the cast keeps one set of loops. */
void NNC_FN(nnc_opt_step)(const nnc_opt_settings *s, int64_t step, REAL *p,
                          const REAL *g, REAL *state, int64_t n) {
  if (s->kind == NNC_SGD)
    NNC_FN(sgd)(s, step, p, (REAL *)g, state, n, 0);
  else
    NNC_FN(adam)(s, step, p, (REAL *)g, state, n, 0);
}

/* The step, each gradient element set to 0 once read: the zeroing for the
 * next step's accumulation in the same pass (a pass of its own was 3% of
 * a VAE's training step). */
void NNC_FN(nnc_opt_update)(const nnc_opt_settings *s, int64_t step, REAL *p, REAL *g,
                            REAL *state, int64_t n) {
  if (s->kind == NNC_SGD)
    NNC_FN(sgd)(s, step, p, g, state, n, 1);
  else
    NNC_FN(adam)(s, step, p, g, state, n, 1);
}
