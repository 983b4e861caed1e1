/* conv.c — 2-d convolution (forward, input gradient, weight gradient) and
 * max and average pooling (forward, backward), NCHW, f32 and f64 from one
 * template (conv_kernel.h). Convolutions use im2col and nnc_sgemm/nnc_dgemm
 * when given a workspace, direct loops otherwise; a transposed convolution
 * is expressed through these (see nnc_runtime.h). */
#include <math.h>
#include <string.h>

#include "nnc_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int nnc_conv_threads(void) {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/* The team of a parallel part with `work` shares: at most that many. */
static int conv_team(int64_t work) {
  int t = nnc_conv_threads();
  return work < t ? (int)(work < 1 ? 1 : work) : t;
}

/* This thread's number in the team, and the team's size. */
static int conv_thread(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

static int conv_threads_now(void) {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

/* Pooling splits its planes over OpenMP's threads when the input has at
 * least this many elements (below, starting the team costs more). */
#ifdef _OPENMP
static int pool_parallel(const nnc_pool_shape *s) {
  return s->n * s->c * s->h * s->w >= 65536;
}
#endif

/* Inside a team the GEMM library runs on one thread (each thread's GEMMs
 * are small and its own threads would fight the team for the cores);
 * conv_gemm_single returns the count to restore afterwards. */
static int conv_gemm_single(int team) {
  return team > 1 ? nnc_gemm_threads_(1) : 0;
}

static void conv_gemm_restore(int team, int was) {
  if (team > 1 && was > 0)
    nnc_gemm_threads_(was);
}

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
