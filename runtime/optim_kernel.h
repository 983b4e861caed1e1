/* optim_kernel.h — template of the optimizer step and the gradient norm,
 * included by optim.c once per element type (REAL, SFX). Element math is
 * done in REAL, scalars in double, in the order torch.optim 1.13 uses. */

double NNC_FN(nnc_grad_norm)(const REAL *g, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++)
    ss += (double)g[i] * (double)g[i];
  return sqrt(ss);
}

/* p -= lr * d, d the gradient after L2 decay and momentum (torch.optim.SGD). */
static void NNC_FN(sgd)(const nnc_opt_settings *s, int64_t step, REAL *p,
                        const REAL *g, REAL *buf, int64_t n) {
  const REAL lr = (REAL)s->lr, wd = (REAL)s->weight_decay;
  const REAL mom = (REAL)s->momentum, damp1 = (REAL)(1 - s->dampening);
  for (int64_t i = 0; i < n; i++) {
    REAL d = g[i];
    if (wd != 0)
      d = d + wd * p[i];
    if (mom != 0) {
      REAL b = step <= 1 ? d : buf[i] * mom + damp1 * d;
      buf[i] = b;
      d = s->nesterov ? d + mom * b : b;
    }
    p[i] = p[i] - lr * d;
  }
}

/* torch.optim.Adam (L2 decay added to the gradient) and AdamW (decoupled:
 * p *= 1 - lr * wd first); state is [m | v]. */
static void NNC_FN(adam)(const nnc_opt_settings *s, int64_t step, REAL *p,
                         const REAL *g, REAL *state, int64_t n) {
  const int decoupled = s->kind == NNC_ADAMW;
  const double t = (double)(step < 1 ? 1 : step);
  const double bc1 = 1 - pow(s->beta1, t), bc2 = 1 - pow(s->beta2, t);
  const REAL step_size = (REAL)(s->lr / bc1), bc2_sqrt = (REAL)sqrt(bc2);
  const REAL b1 = (REAL)s->beta1, b2 = (REAL)s->beta2, eps = (REAL)s->eps;
  const REAL c1 = (REAL)(1 - s->beta1), c2 = (REAL)(1 - s->beta2);
  const REAL wd = (REAL)s->weight_decay;
  const REAL shrink = (REAL)(1 - s->lr * s->weight_decay);
  REAL *m = state, *v = state + n;
  for (int64_t i = 0; i < n; i++) {
    REAL d = g[i];
    if (decoupled && wd != 0)
      p[i] = p[i] * shrink;
    if (!decoupled && wd != 0)
      d = d + wd * p[i];
    m[i] = m[i] * b1 + c1 * d;
    v[i] = v[i] * b2 + c2 * (d * d);
    REAL denom = (REAL)sqrt(v[i]) / bc2_sqrt + eps;
    p[i] = p[i] + (-step_size) * (m[i] / denom);
  }
}

void NNC_FN(nnc_opt_step)(const nnc_opt_settings *s, int64_t step, REAL *p,
                          const REAL *g, REAL *state, int64_t n) {
  if (s->kind == NNC_SGD)
    NNC_FN(sgd)(s, step, p, g, state, n);
  else
    NNC_FN(adam)(s, step, p, g, state, n);
}
