/* conv.c — 2-d convolution (forward, input gradient, weight gradient) and
 * max and average pooling (forward, backward), NCHW, f32 and f64 from one
 * template (conv_kernel.h). Convolutions use im2col and nnc_sgemm/nnc_dgemm
 * when given a workspace, direct loops otherwise; a transposed convolution
 * is expressed through these (see nnc_runtime.h). */
#include <math.h>
#include <string.h>

#include "nnc_internal.h"

/* A 1x1 convolution with stride 1 and no padding: x itself is the im2col
 * matrix (cg, h*w) and no copy is made. */
static int conv_pointwise(const nnc_conv_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 &&
         s->pw == 0 && s->oh == s->h && s->ow == s->w;
}

#define REAL float
#define SFX f32
#define GEMM nnc_sgemm
#include "conv_kernel.h"
#undef REAL
#undef SFX
#undef GEMM

#define REAL double
#define SFX f64
#define GEMM nnc_dgemm
#include "conv_kernel.h"
#undef REAL
#undef SFX
#undef GEMM
