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

/* The direct kernel (conv_kernel.h) is written with GCC's vector types
 * of 32 bytes and compiled for AVX2 and FMA whatever the runtime's own
 * flags, and taken only on a processor that has them (the runtime is
 * usually built without -march: with SSE2 alone GCC splits every vector
 * operation and the kernel runs far slower than im2col and GEMM, whose
 * library chooses its kernels at run time too). GCC also tunes them for
 * Haswell whatever -mtune or -march=native says: tuned for Zen 2 (as
 * -march=native on this project's benchmark machine) the Winograd
 * products ran 40% slower. Other targets and compilers use im2col and
 * GEMM throughout. */
#if defined(__GNUC__) && defined(__x86_64__)
#define NNC_CONV_DIRECT 1
#define NNC_VEC_BYTES 32
#define NNC_UNROLL _Pragma("GCC unroll 16")
#if defined(__clang__)
#define NNC_TILE_OPT_(isa, tune) __attribute__((target(isa)))
#else
#define NNC_TILE_OPT_(isa, tune)                                                       \
  __attribute__((target(isa tune),                                                     \
                 optimize("fp-contract=fast", "no-tree-pre", "no-predictive-commoning")))
#endif
#define NNC_DIRECT_OPT NNC_TILE_OPT_("avx2,fma", ",tune=haswell")
static int conv_direct_cpu(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
/* The wide tiles (conv_tiles.h): vectors of 64 bytes, AVX-512, taken on
 * a processor that has it. */
#define NNC_CONV_WIDE 1
#define NNC_WIDE_OPT NNC_TILE_OPT_("avx512f,avx2,fma", "")
static int conv_wide_cpu(void) { return __builtin_cpu_supports("avx512f") != 0; }
#else
#define NNC_CONV_DIRECT 0
#define NNC_CONV_WIDE 0
#endif

/* On the pooling loops: vectorised as at -O3 (at -O2, gcc vectorises only
 * loops it finds very cheap, and these stride-2 ones it leaves scalar). */
#if defined(__GNUC__) && !defined(__clang__)
#define NNC_VECTORISE __attribute__((optimize("vect-cost-model=dynamic")))
#else
#define NNC_VECTORISE
#endif
#define NNC_DIRECT_SLACK 32 /* zeros after the padded planes, with kw: a
                               tile reads up to 32 pixels past its start */

/* A stride-1 convolution as the direct kernel sees it: ci input planes
 * (ih, iw) padded by (ph, pw) to (hp, wp) = (oh + kh - 1, ow + kw - 1);
 * co output planes (oh, ow); tap t's weight of output channel i at
 * t tstep + i cstep: the forward pass reads w itself (tstep 1, cstep the
 * taps), the input gradient a copy (tstep op = co + 5, cstep 1).
 * Tap (c, ki, kj) of output position f reads the input at c * sc + ki *
 * sk + kj * sj + f, positions running over rows of wf: on the padded
 * planes themselves (sc = hp wp, sk = wp, sj = 1, wf = wp: the columns
 * past ow computed and dropped), or, compact, on kw copies of them moved
 * left by kj and cut to ow columns (sc = hp ow, sk = ow, sj = ci hp ow,
 * wf = ow: none wasted). */
typedef struct conv_direct {
  int64_t ci, ih, iw, co, oh, ow, kh, kw, ph, pw, hp, wp, op;
  int64_t sc, sk, sj, wf, tstep, cstep;
  int compact;
  int epi; /* the forward pass's epilogue: 1 the bias, 2 the bias and then ReLU;
            * 0 none */
  int pool; /* and then MaxPool2d(2) (epi 2, the padded planes, wide tiles): the output
             * planes (oh / 2, ow / 2) */
} conv_direct;

#if NNC_CONV_DIRECT /* the direct kernel's helpers */
static conv_direct conv_direct_of(int64_t ci, int64_t ih, int64_t iw, int64_t co,
                                  int64_t oh, int64_t ow, const nnc_conv_shape *s,
                                  int64_t ph, int64_t pw, int compact) {
  const int64_t hp = oh + s->kh - 1, wp = ow + s->kw - 1;
  conv_direct d = {ci, ih, iw, co, oh, ow, s->kh, s->kw, ph, pw, hp, wp, co + 5,
                   hp * wp, wp, 1, wp, co + 5, 1, compact, 0, 0};
  if (compact)
    d.sc = hp * ow, d.sk = ow, d.sj = ci * hp * ow, d.wf = ow;
  return d;
}

/* The forward pass, and the input gradient: dy padded by k - 1 - p. */
static conv_direct conv_direct_forward(const nnc_conv_shape *s) {
  return conv_direct_of(s->c, s->h, s->w, s->o, s->oh, s->ow, s, s->ph, s->pw,
                        nnc_conv2d_direct_compact(s));
}

static conv_direct conv_direct_input(const nnc_conv_shape *s) {
  return conv_direct_of(s->o, s->oh, s->ow, s->c, s->h, s->w, s, s->kh - 1 - s->ph,
                        s->kw - 1 - s->pw, 0);
}

/* Elements of the input gradient's copy of the weights (a row of op per
 * tap), of one thread's padded planes, and of their kw copies (compact:
 * nnc_conv2d_direct_copies). */
static size_t conv_direct_weights(const conv_direct *d) {
  return (size_t)(d->ci * d->kh * d->kw * d->op);
}

static size_t conv_direct_planes(const conv_direct *d) {
  return (size_t)(d->ci * d->hp * d->wp + d->kw + NNC_DIRECT_SLACK);
}

static size_t conv_direct_pad(const conv_direct *d) {
  return conv_direct_planes(d) +
         (d->compact ? nnc_conv2d_direct_copies(d->ci, d->hp, d->ow, d->kw) : 0);
}
#endif

/* p rounded up to a multiple of 64 bytes: the Winograd scratch's parts
 * that the tiles read and write whole lines of (16 elements more each,
 * nnc_winograd_parts). */
#if NNC_CONV_DIRECT
static void *conv_align64(void *p) {
  return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}
#endif

/* A Winograd pass (nnc_conv2d_winograd) from ci planes (ih, iw), padded
 * by (ph, pw) (negative: a crop), to co planes (oh, ow): (th, tw) tiles of
 * m x m output pixels (nnc_winograd_tile), np = (m + 2)^2 positions;
 * padded planes of hp rows, each row's columns by their remainder over m
 * (m parts of `half`); strips of `rows` rows of tiles; the scratch's
 * parts (nnc_winograd_parts). */
typedef struct conv_wino {
  int64_t ci, ih, iw, co, oh, ow, ph, pw, m, np, th, tw, hp, half, rows;
  size_t part[4];
  const void *isc, *ish; /* the input read as max(x isc[c] + ish[c], 0), or NULL */
} conv_wino;

#if NNC_CONV_DIRECT /* Winograd's */
static conv_wino conv_wino_of(int64_t ci, int64_t ih, int64_t iw, int64_t co, int64_t oh,
                              int64_t ow, int64_t ph, int64_t pw, int weight) {
  const int64_t m = nnc_winograd_tile(ow);
  conv_wino g = {ci, ih, iw, co, oh, ow, ph, pw, m, (m + 2) * (m + 2), (oh + m - 1) / m,
                 (ow + m - 1) / m, 0, 0, 0, {0, 0, 0, 0}, NULL, NULL};
  g.hp = m * g.th + 2;
  g.half = nnc_winograd_half(g.tw);
  g.rows = nnc_winograd_rows(g.th, g.tw);
  nnc_winograd_parts(ci, co, oh, ow, weight, g.part);
  return g;
}

/* A thread's share of the scratch: all but the shared kernel. */
static size_t conv_wino_thread(const conv_wino *g) {
  return g->part[1] + g->part[2] + g->part[3];
}

/* Two vectors' lanes interleaved: lo = a0 b0 a1 b1 ..., hi the rest; and
 * split: ev = a0 a2 ... b0 b2 ..., od the odd lanes. */
#endif

#if NNC_CONV_DIRECT && (defined(__clang__) || __GNUC__ >= 12)
#define NNC_ZIP(a, b, lo, hi)                                                          \
  ((lo) = __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11),                    \
   (hi) = __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15))
#define NNC_UNZIP(a, b, ev, od)                                                        \
  ((ev) = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14),                   \
   (od) = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15))
#endif
/* A wide vector's (two VL vectors') even lanes and its odd lanes, each
 * a VL vector: the columns of MaxPool2d(2)'s windows side by side. */
#if defined(NNC_ZIP) && NNC_CONV_WIDE
#define NNC_WUNZIP(a, ev, od)                                                          \
  ((ev) = __builtin_shufflevector(a, a, 0, 2, 4, 6, 8, 10, 12, 14),                   \
   (od) = __builtin_shufflevector(a, a, 1, 3, 5, 7, 9, 11, 13, 15))
#endif
#define REAL float
#define SFX f32
#define GEMM nnc_sgemm
#define NNC_MASK_INT int32_t /* a comparison's lanes */
#include "conv_kernel.h"
#undef REAL
#undef SFX
#undef GEMM
#undef NNC_MASK_INT

#ifdef NNC_ZIP
#undef NNC_ZIP
#undef NNC_UNZIP
#define NNC_ZIP(a, b, lo, hi)                                                          \
  ((lo) = __builtin_shufflevector(a, b, 0, 4, 1, 5),                                  \
   (hi) = __builtin_shufflevector(a, b, 2, 6, 3, 7))
#define NNC_UNZIP(a, b, ev, od)                                                        \
  ((ev) = __builtin_shufflevector(a, b, 0, 2, 4, 6),                                  \
   (od) = __builtin_shufflevector(a, b, 1, 3, 5, 7))
#endif
#ifdef NNC_WUNZIP
#undef NNC_WUNZIP
#define NNC_WUNZIP(a, ev, od)                                                          \
  ((ev) = __builtin_shufflevector(a, a, 0, 2, 4, 6), (od) = __builtin_shufflevector(a, a, 1, 3, 5, 7))
#endif
#define REAL double
#define SFX f64
#define GEMM nnc_dgemm
#define NNC_MASK_INT int64_t
#include "conv_kernel.h"
#undef REAL
#undef SFX
#undef GEMM
#undef NNC_MASK_INT

/* Small products on the register tiles (conv_kernel.h, nnc_gemm_tiles):
 * where the tiles are not built, the portable kernel, which computes the
 * same product (nnc_gemm_tiles_ok keeps nnc_sgemm from calling it). */
#if NNC_CONV_DIRECT
int nnc_gemm_tiles_ok(void) { return conv_direct_cpu() ? 1 + conv_wide_cpu() : 0; }
#else
int nnc_gemm_tiles_ok(void) { return 0; }
void nnc_gemm_tiles_f32(int ta, int64_t m, int64_t n, int64_t k, const float *a,
                        int64_t lda, const float *b, int64_t ldb, int add, float *c,
                        int64_t ldc) {
  nnc_sgemm_portable(ta, 0, m, n, k, 1, a, lda, b, ldb, add ? 1 : 0, c, ldc);
}
void nnc_gemm_tiles_f64(int ta, int64_t m, int64_t n, int64_t k, const double *a,
                        int64_t lda, const double *b, int64_t ldb, int add, double *c,
                        int64_t ldc) {
  nnc_dgemm_portable(ta, 0, m, n, k, 1, a, lda, b, ldb, add ? 1 : 0, c, ldc);
}
void nnc_gemm_tiles_tall_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                             const float *b, int64_t ldb, int add, float *c, int64_t ldc) {
  nnc_sgemm_portable(1, 0, m, n, k, 1, a, lda, b, ldb, add ? 1 : 0, c, ldc);
}
void nnc_gemm_tiles_tall_f64(int64_t m, int64_t n, int64_t k, const double *a,
                             int64_t lda, const double *b, int64_t ldb, int add, double *c,
                             int64_t ldc) {
  nnc_dgemm_portable(1, 0, m, n, k, 1, a, lda, b, ldb, add ? 1 : 0, c, ldc);
}
#endif
#if !NNC_CONV_WIDE /* never called: nnc_gemm_tiles_ok() is 0 */
void nnc_gemm_pack_wide_f32(int tb, int64_t k, int64_t n, const float *b, int64_t ldb,
                            float *p) {
  (void)tb, (void)k, (void)n, (void)b, (void)ldb, (void)p;
}
void nnc_gemm_pack_wide_f64(int tb, int64_t k, int64_t n, const double *b, int64_t ldb,
                            double *p) {
  (void)tb, (void)k, (void)n, (void)b, (void)ldb, (void)p;
}
void nnc_gemm_pb_tiles_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const float *p, int add, float *c, int64_t ldc, int64_t s0,
                           int64_t s1) {
  (void)m, (void)n, (void)k, (void)a, (void)lda, (void)p, (void)add, (void)c, (void)ldc;
  (void)s0, (void)s1;
}
void nnc_gemm_pb_tiles_f64(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                           const double *p, int add, double *c, int64_t ldc, int64_t s0,
                           int64_t s1) {
  (void)m, (void)n, (void)k, (void)a, (void)lda, (void)p, (void)add, (void)c, (void)ldc;
  (void)s0, (void)s1;
}
#define NNC_PACKED_PORTABLE(NAME, REAL, PORTABLE)                                      \
  void NAME(int ta, int tb, int64_t m, int64_t n, int64_t k, const REAL *a, int64_t lda, \
            const REAL *b, int64_t ldb, int add, const REAL *bias, REAL *c, int64_t ldc) { \
    for (int64_t r = 0; bias && r < m; r++)                                            \
      memcpy(c + r * ldc, bias, sizeof(REAL) * (size_t)n);                             \
    PORTABLE(ta, tb, m, n, k, 1, a, lda, b, ldb, add || bias ? 1 : 0, c, ldc);         \
  }
NNC_PACKED_PORTABLE(nnc_gemm_packed_f32, float, nnc_sgemm_portable)
NNC_PACKED_PORTABLE(nnc_gemm_packed_f64, double, nnc_dgemm_portable)
#undef NNC_PACKED_PORTABLE
#endif
