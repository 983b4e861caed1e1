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

/* Images per GEMM. An image with fewer than 128 output pixels makes a
 * narrow GEMM (LeNet's second layer: 16 x 100, inner size 150) that runs
 * far below the GEMM library's speed; side by side, as many as keep a
 * chunk's im2col matrix near 2^18 elements (1 MiB of floats, within L2),
 * they make one wide one, for the price of copying the result rows to
 * their images. Wider images go one at a time, without copies. */
static int64_t conv_chunk(const nnc_conv_shape *s) {
  int64_t g = s->groups > 0 ? s->groups : 1;
  if (s->oh * s->ow >= 128)
    return 1;
  int64_t per = (s->c / g) * s->kh * s->kw * s->oh * s->ow;
  int64_t nb = per > 0 ? ((int64_t)1 << 18) / per : 1;
  if (nb > s->n)
    nb = s->n;
  return nb < 1 ? 1 : nb;
}

/* The chunk's im2col matrix, then its GEMM result (og rows). */
size_t nnc_conv2d_workspace(const nnc_conv_shape *s) {
  int64_t g = s->groups > 0 ? s->groups : 1;
  int64_t K = (s->c / g) * s->kh * s->kw, og = s->o / g;
  return (size_t)((K + og) * conv_chunk(s) * s->oh * s->ow);
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
