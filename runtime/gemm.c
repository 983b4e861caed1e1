/* gemm.c — matrix products for the runtime: nnc_sgemm and nnc_dgemm call
 * OpenBLAS's cblas when the build is configured with it (NNC_HAVE_OPENBLAS)
 * and the portable cache-blocked kernels of gemm_kernel.h otherwise. The
 * portable kernels are always compiled (nnc_[sd]gemm_portable) so that the
 * unit tests check both. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nnc_internal.h"

#ifdef NNC_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* Blocking of the portable kernels: MR x NR register tiles (the
 * micro-kernel is written for 4 x 4), (MC, KC) panels of A and (KC, NC)
 * panels of B; MC is a multiple of MR and NC of NR. */
enum { MR = 4, NR = 4, MC = 64, KC = 256, NC = 256 };

#define REAL float
#define SFX f32
#define GEMM_NAME nnc_sgemm_portable
#include "gemm_kernel.h"
#undef REAL
#undef SFX
#undef GEMM_NAME

#define REAL double
#define SFX f64
#define GEMM_NAME nnc_dgemm_portable
#include "gemm_kernel.h"
#undef REAL
#undef SFX
#undef GEMM_NAME

#ifdef NNC_HAVE_OPENBLAS
/* Whether cblas accepts these sizes (its integers are 32-bit; leading
 * dimensions must be at least the row length, and at least 1). Degenerate
 * products (a zero size) are left to the portable kernel, which only scales
 * C: OpenBLAS reports lda = 0 as an error even when k = 0. */
static int blas_ok(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t lda,
                   int64_t ldb, int64_t ldc) {
  const int64_t big = INT_MAX;
  if (m <= 0 || n <= 0 || k <= 0 || m > big || n > big || k > big)
    return 0;
  if (lda > big || ldb > big || ldc > big)
    return 0;
  return lda >= (ta ? m : k) && ldb >= (tb ? k : n) && ldc >= n;
}
#endif

#ifdef NNC_HAVE_OPENBLAS
/* A product with one row or one column of C is a matrix-vector product:
 * gemv reads the matrix once without gemm's packing, which costs more than
 * the product itself at batch 1. The shape of the gemv: the matrix (rows,
 * cols, ld, transposed), the vector's stride, C's stride. */
typedef struct Gemv {
  int trans;
  blasint rows, cols, ld, incx, incy;
  int mat_is_a; /* the matrix is A (one column of C), else B (one row) */
} Gemv;

static Gemv gemv_of(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t lda,
                    int64_t ldb, int64_t ldc) {
  Gemv g;
  if (m == 1) { /* c = a B: B's rows are k (or n when transposed) */
    g.mat_is_a = 0, g.trans = !tb;
    g.rows = (blasint)(tb ? n : k), g.cols = (blasint)(tb ? k : n);
    g.ld = (blasint)ldb, g.incx = (blasint)(ta ? lda : 1), g.incy = 1;
  } else { /* n == 1: c = A b */
    g.mat_is_a = 1, g.trans = ta;
    g.rows = (blasint)(ta ? k : m), g.cols = (blasint)(ta ? m : k);
    g.ld = (blasint)lda, g.incx = (blasint)(tb ? 1 : ldb), g.incy = (blasint)ldc;
  }
  return g;
}
#endif

/* nnc_sgemm and nnc_dgemm: OpenBLAS when it can take the sizes (gemv for
 * one row or one column of C), else the portable loops. */
#ifdef NNC_HAVE_OPENBLAS
#define NNC_GEMM_BLAS(GEMV, GEMM)                                                      \
  if (blas_ok(trans_a, trans_b, m, n, k, lda, ldb, ldc)) {                             \
    if (m == 1 || n == 1) {                                                            \
      Gemv g = gemv_of(trans_a, trans_b, m, n, k, lda, ldb, ldc);                      \
      GEMV(CblasRowMajor, g.trans ? CblasTrans : CblasNoTrans, g.rows, g.cols, alpha,  \
           g.mat_is_a ? a : b, g.ld, g.mat_is_a ? b : a, g.incx, beta, c, g.incy);     \
      return;                                                                          \
    }                                                                                  \
    GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,                           \
         trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k,      \
         alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);              \
    return;                                                                            \
  }
#else
#define NNC_GEMM_BLAS(GEMV, GEMM)
#endif
/* With OpenMP and OpenBLAS, the runtime shares a product out over
 * OpenMP's threads itself, the library on one thread (nnc_set_num_threads):
 * C's columns (or rows, when it has more rows) in one block per thread,
 * from NNC_GEMM_SPLIT multiply-adds up; smaller products run on the
 * calling thread. OpenBLAS's own threads split products of any size
 * (the 32 x 512 x 128 steps of an LSTM ran slower on two threads than on
 * one), and its thread count is global, costly to switch per call. */
#ifdef _OPENMP
#define NNC_GEMM_SPLIT ((int64_t)1 << 20)
/* The threads a product shares out: OpenMP's, from NNC_GEMM_SPLIT
 * multiply-adds up, outside a parallel region; else 1. */
static int gemm_team(int64_t m, int64_t n, int64_t k) {
  if (omp_in_parallel() || m * n * k < NNC_GEMM_SPLIT)
    return 1;
  return omp_get_max_threads();
}
#endif
#if defined(_OPENMP) && defined(NNC_HAVE_OPENBLAS)
#define NNC_GEMM_SHARE(NAME)                                                           \
  {                                                                                    \
    const int team = gemm_team(m, n, k);                                               \
    if (team > 1) {                                                                    \
      const int cols = n >= m;                                                         \
      const int64_t len = cols ? n : m;                                                \
      _Pragma("omp parallel num_threads(team)") {                                      \
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();            \
        const int64_t lo = len * t / nt / 16 * 16,                                     \
                      hi = t + 1 == nt ? len : len * (t + 1) / nt / 16 * 16;           \
        if (hi > lo) {                                                                 \
          if (cols)                                                                    \
            NAME(trans_a, trans_b, m, hi - lo, k, alpha, a, lda,                       \
                 trans_b ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);             \
          else                                                                         \
            NAME(trans_a, trans_b, hi - lo, n, k, alpha,                               \
                 trans_a ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc); \
        }                                                                              \
      }                                                                                \
      return;                                                                          \
    }                                                                                  \
  }
#else
#define NNC_GEMM_SHARE(NAME)
#endif
/* Products of up to NNC_GEMM_TILES multiply-adds run on the runtime's
 * register tiles (nnc_gemm_tiles) where they apply: B not transposed,
 * alpha 1, beta 0 or 1, four rows or more, C's row a whole number of
 * vectors (VL elements). A GEMM library packs both operands and clears C
 * first, which at these sizes costs more than the arithmetic (attention's
 * per-head products, 64 x 64 x 32, ran at 35-40 GFLOP/s in OpenBLAS here
 * and 55-60 on the tiles); from about 2^21 on, OpenBLAS is as fast or
 * faster. Past that size, a product two vectors wide (16 f32 columns),
 * where the wide tiles run: OpenBLAS would pack its large A for few
 * columns of C (a graph network's features times its first weights). */
#define NNC_GEMM_TILES ((int64_t)1 << 19)
#define NNC_GEMM_SMALL(TILES, VL)                                                      \
  if (!trans_b && alpha == 1 && (beta == 0 || beta == 1) && m >= 4 && n > 0 && k > 0 &&  \
      n % (VL) == 0 && ldb >= n && ldc >= n && lda >= (trans_a ? m : k) &&              \
      (m * n * k <= NNC_GEMM_TILES                                                      \
           ? nnc_gemm_tiles_ok()                                                        \
           : !trans_a && n == 2 * (VL) && nnc_gemm_tiles_ok() == 2)) {                   \
    TILES(trans_a, m, n, k, a, lda, b, ldb, beta == 1, c, ldc);                        \
    return;                                                                            \
  }
/* Larger products aᵀ b of at most 16 rows, where the wide tiles run
 * (nnc_gemm_tiles_tall): whole vectors of columns there, the rest (fewer
 * than a vector) by the GEMM library. */
#define NNC_GEMM_TALL(NAME, TALL, VL)                                                   \
  if (trans_a && !trans_b && alpha == 1 && (beta == 0 || beta == 1) && m >= 4 &&        \
      m <= 16 && n >= 2 * (VL) && k > 0 && m * n * k > NNC_GEMM_TILES && ldb >= n &&    \
      ldc >= n && lda >= m && nnc_gemm_tiles_ok() == 2) {                               \
    const int64_t nw = n / (2 * (VL)) * (2 * (VL));                                     \
    TALL(m, nw, k, a, lda, b, ldb, beta == 1, c, ldc);                                 \
    if (nw < n)                                                                        \
      NAME(1, 0, m, n - nw, k, alpha, a, lda, b + nw, ldb, beta, c + nw, ldc);           \
    return;                                                                            \
  }
/* Where the wide tiles run (AVX-512), products on them over packed strips
 * of B (nnc_gemm_packed): A not transposed, at least 16 rows, 32 columns
 * and an inner dimension of 16, at most NNC_GEMM_PACKED_MAX multiply-adds
 * in all (f64 alike, at half the width), at most a quarter of the strips'
 * columns past n (NNC_PACK_WASTE: 64 x 40 x 400, a last strip of 8 of
 * 32, ran at 0.6 times OpenBLAS's rate), B transposed or not (its strips
 * then transposed in registers). Measured against OpenBLAS's SkylakeX
 * kernels (docs/performance.md, "Packed products"): an LSTM's or GRU's
 * step products (32 x 512 x 128, 32 x 128 x 512) 1.35 to 1.6 times its
 * rate, a Linear layer's x Wᵀ at batch 16 to 64 1.2 to 1.6, a
 * transformer's 512-row products 1.1 to 1.3; A transposed (weight
 * gradients) and larger products were as fast or slower, and stay with
 * the library. */
#define NNC_GEMM_PACKED_MAX ((int64_t)1 << 26)
#define NNC_PACK_WASTE(n, w) (((n) + (w) - 1) / (w) * (w) - (n) <= ((n) + (w) - 1) / (w) * (w) / 4)
#define NNC_PACKED_FITS(VL)                                                            \
  (!trans_a && m >= 16 && n >= 32 && NNC_PACK_WASTE(n, 4 * (VL)) && k >= 16 &&         \
   m * n * k <= NNC_GEMM_PACKED_MAX && lda >= k && ldb >= (trans_b ? k : n) &&          \
   ldc >= n && nnc_gemm_tiles_ok() == 2)
#define NNC_GEMM_PACKED(PACKED, VL)                                                    \
  if (alpha == 1 && (beta == 0 || beta == 1) && NNC_PACKED_FITS(VL)) {                 \
    PACKED(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta == 1, NULL, c, ldc);        \
    return;                                                                            \
  }
#define NNC_GEMM_DEFINE(NAME, REAL, GEMV, GEMM, PORTABLE, TILES, TALL, PACKED, VL)      \
  void NAME(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, REAL alpha,      \
            const REAL *a, int64_t lda, const REAL *b, int64_t ldb, REAL beta, REAL *c,  \
            int64_t ldc) {                                                             \
    NNC_GEMM_SHARE(NAME)                                                               \
    NNC_GEMM_TALL(NAME, TALL, VL)                                              \
    NNC_GEMM_PACKED(PACKED, VL)                                                        \
    NNC_GEMM_SMALL(TILES, VL)                                                          \
    NNC_GEMM_BLAS(GEMV, GEMM)                                                          \
    PORTABLE(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);          \
  }
NNC_GEMM_DEFINE(nnc_sgemm, float, cblas_sgemv, cblas_sgemm, nnc_sgemm_portable,
                nnc_gemm_tiles_f32, nnc_gemm_tiles_tall_f32, nnc_gemm_packed_f32, 8)
NNC_GEMM_DEFINE(nnc_dgemm, double, cblas_dgemv, cblas_dgemm, nnc_dgemm_portable,
                nnc_gemm_tiles_f64, nnc_gemm_tiles_tall_f64, nnc_gemm_packed_f64, 4)
#undef NNC_GEMM_DEFINE

/* nnc_sgemm_bias and nnc_dgemm_bias: C = op(A) op(B) + the bias on every
 * row. Where nnc_sgemm would run the packed product on one thread, the
 * bias is added as each tile of C is stored; elsewhere C's rows are set
 * to the bias and the product added to them (beta 1). The same results,
 * bit for bit: the tile adds the bias where it would have added C. */
#if defined(_OPENMP) && defined(NNC_HAVE_OPENBLAS)
#define NNC_GEMM_ALONE(m, n, k) (gemm_team(m, n, k) == 1)
#else
#define NNC_GEMM_ALONE(m, n, k) 1
#endif
#define NNC_GEMM_BIAS_DEFINE(NAME, GEMM, REAL, PACKED, VL)                             \
  void NAME(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const REAL *a,   \
            int64_t lda, const REAL *b, int64_t ldb, const REAL *bias, REAL *c,         \
            int64_t ldc) {                                                             \
    if (NNC_PACKED_FITS(VL) && NNC_GEMM_ALONE(m, n, k)) {                              \
      PACKED(trans_a, trans_b, m, n, k, a, lda, b, ldb, 0, bias, c, ldc);              \
      return;                                                                          \
    }                                                                                  \
    for (int64_t r = 0; r < m; r++)                                                    \
      memcpy(c + r * ldc, bias, sizeof(REAL) * (size_t)n);                             \
    GEMM(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, 1, c, ldc);                     \
  }
NNC_GEMM_BIAS_DEFINE(nnc_sgemm_bias, nnc_sgemm, float, nnc_gemm_packed_f32, 8)
NNC_GEMM_BIAS_DEFINE(nnc_dgemm_bias, nnc_dgemm, double, nnc_gemm_packed_f64, 4)
#undef NNC_GEMM_BIAS_DEFINE
#undef NNC_GEMM_BLAS
#undef NNC_GEMM_SMALL
#undef NNC_GEMM_TALL
#undef NNC_GEMM_PACKED
#undef NNC_PACK_WASTE

/* nnc_gemm_pack_f32/f64 and nnc_sgemm_pb/nnc_dgemm_pb (nnc_runtime.h): B
 * packed in strips of W = NNC_PACK_BYTES / sizeof(REAL) columns, for the
 * register tiles, where they run, and products of 8 rows or more
 * (nnc_gemm_pb_ok); their strips are shared out over OpenMP's threads as
 * nnc_sgemm shares products (gemm_team). Other products are nnc_sgemm's
 * on B itself (at batch 1, its gemv reads B once). */
int nnc_gemm_pb_ok(int64_t m) { return m >= 8 && nnc_gemm_tiles_ok(); }

#define NNC_PB_DEFINE(PACK, PB, GEMM, TILES, WIDE, REAL)                               \
  void PACK(int tb, int64_t k, int64_t n, const REAL *b, int64_t ldb, REAL *p) {        \
    enum { W = NNC_PACK_BYTES / sizeof(REAL) };                                         \
    if (nnc_gemm_tiles_ok() == 2) {                                                    \
      WIDE(tb, k, n, b, ldb, p);                                                       \
      return;                                                                          \
    }                                                                                  \
    for (int64_t j = 0; j < n; j += W, p += k * W)                                     \
      for (int64_t kk = 0; kk < k; kk++)                                               \
        for (int64_t jj = 0; jj < W; jj++)                                             \
          p[kk * W + jj] = j + jj >= n ? 0 : tb ? b[(j + jj) * ldb + kk] : b[kk * ldb + j + jj]; \
  }                                                                                    \
  void PB(int64_t m, int64_t n, int64_t k, const REAL *a, int64_t lda, const REAL *p,   \
          int tb, const REAL *b, int64_t ldb, REAL beta, REAL *c, int64_t ldc) {        \
    enum { W = NNC_PACK_BYTES / sizeof(REAL) };                                         \
    const int64_t ns = (n + W - 1) / W;                                                \
    if (!nnc_gemm_pb_ok(m) || n <= 0 || k <= 0) {                                      \
      GEMM(0, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);                           \
      return;                                                                          \
    }                                                                                  \
    int team = 1;                                                                      \
    PB_TEAM(team, m, n, k, ns);                                                        \
    if (team > 1) {                                                                    \
      PB_PARALLEL(team) {                                                              \
        const int64_t t = PB_THREAD(), nt = PB_THREADS();                              \
        TILES(m, n, k, a, lda, p, beta != 0, c, ldc, ns * t / nt, ns * (t + 1) / nt);  \
      }                                                                                \
      return;                                                                          \
    }                                                                                  \
    TILES(m, n, k, a, lda, p, beta != 0, c, ldc, 0, ns);                              \
  }
#ifdef _OPENMP
#define PB_TEAM(team, m, n, k, ns)                                                     \
  team = gemm_team(m, n, k) < (ns) ? gemm_team(m, n, k) : (int)(ns);
#define PB_PARALLEL(team) _Pragma("omp parallel num_threads(team)")
#define PB_THREAD() omp_get_thread_num()
#define PB_THREADS() omp_get_num_threads()
#else
#define PB_TEAM(team, m, n, k, ns) (void)(ns);
#define PB_PARALLEL(team) if (0)
#define PB_THREAD() 0
#define PB_THREADS() 1
#endif
NNC_PB_DEFINE(nnc_gemm_pack_f32, nnc_sgemm_pb, nnc_sgemm, nnc_gemm_pb_tiles_f32,
              nnc_gemm_pack_wide_f32, float)
NNC_PB_DEFINE(nnc_gemm_pack_f64, nnc_dgemm_pb, nnc_dgemm, nnc_gemm_pb_tiles_f64,
              nnc_gemm_pack_wide_f64, double)
#undef NNC_PB_DEFINE
#undef PB_TEAM
#undef PB_PARALLEL
#undef PB_THREAD
#undef PB_THREADS

const char *nnc_gemm_backend(void) {
#ifdef NNC_HAVE_OPENBLAS
  return "openblas";
#else
  return "portable";
#endif
}

int nnc_gemm_threads_(int n) {
#ifdef NNC_HAVE_OPENBLAS
  int was = openblas_get_num_threads();
  if (n > 0 && n != was)
    openblas_set_num_threads(n);
  return was;
#else
  (void)n;
  return 0;
#endif
}

void nnc_set_num_threads(int n) {
  if (n < 1)
    return;
#if defined(NNC_HAVE_OPENBLAS) && defined(_OPENMP)
  openblas_set_num_threads(1); /* the runtime shares products out itself */
#elif defined(NNC_HAVE_OPENBLAS)
  openblas_set_num_threads(n);
#endif
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}
