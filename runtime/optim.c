/* optim.c — SGD (momentum, dampening, Nesterov, L2 decay), Adam and AdamW
 * steps as torch.optim computes them, and gradient clipping by the global
 * L2 norm as torch.nn.utils.clip_grad_norm_. The kernels are written once
 * in optim_kernel.h. */
#include <math.h>

#include "nnc_internal.h"

int nnc_opt_state_per_elem(const nnc_opt_settings *s) {
  if (s->kind == NNC_SGD)
    return s->momentum != 0 ? 1 : 0;
  return 2;
}

double nnc_clip_factor(double norm, double clip_norm) {
  if (!(clip_norm > 0))
    return 1;
  double f = clip_norm / (norm + 1e-6);
  return f >= 1 ? 1 : f; /* NaN stays NaN, as in PyTorch */
}

#define REAL float
#define SQRT sqrtf
#define SFX f32
#include "optim_kernel.h"
#undef REAL
#undef SQRT
#undef SFX

#define REAL double
#define SQRT sqrt
#define SFX f64
#include "optim_kernel.h"
#undef REAL
#undef SQRT
#undef SFX
