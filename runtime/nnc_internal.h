/* nnc_internal.h — private to the runtime and its unit tests (not
 * installed): the portable GEMM kernels, always compiled whatever backend
 * nnc_sgemm uses, so that tests can compare both; the error-message helper;
 * and the token pasting of the f32/f64 kernel templates (*_kernel.h). */
#ifndef NNC_INTERNAL_H
#define NNC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "nnc_runtime.h"

#if defined(__GNUC__)
#define NNC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NNC_PRINTF(f, a)
#endif

/* ------------------------------------------------------------ gemm.c */
/* The cache-blocked C99 kernels behind nnc_sgemm/nnc_dgemm when OpenBLAS
 * is not configured; same contract (row-major, beta == 0 does not read C). */
void nnc_sgemm_portable(int trans_a, int trans_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc);
void nnc_dgemm_portable(int trans_a, int trans_b, int64_t m, int64_t n,
                        int64_t k, double alpha, const double *a, int64_t lda,
                        const double *b, int64_t ldb, double beta, double *c,
                        int64_t ldc);

/* conv.c: a small product on the convolutions' register tiles (AVX2 and
 * FMA); see nnc_gemm_small in gemm.c for when it is taken. c = op(a) b
 * (add: +=), b not transposed, n a multiple of 8 (f32) or 4 (f64). */
void nnc_gemm_tiles_f32(int ta, int64_t m, int64_t n, int64_t k, const float *a,
                        int64_t lda, const float *b, int64_t ldb, int add, float *c,
                        int64_t ldc);
void nnc_gemm_tiles_f64(int ta, int64_t m, int64_t n, int64_t k, const double *a,
                        int64_t lda, const double *b, int64_t ldb, int add, double *c,
                        int64_t ldc);
void nnc_gemm_tiles_tall_f32(int64_t m, int64_t n, int64_t k, const float *a,
                             int64_t lda, const float *b, int64_t ldb, int add, float *c,
                             int64_t ldc);
void nnc_gemm_tiles_tall_f64(int64_t m, int64_t n, int64_t k, const double *a,
                             int64_t lda, const double *b, int64_t ldb, int add,
                             double *c, int64_t ldc);
/* conv.c: a product on the wide tiles over packed strips of op(b) (see
 * NNC_GEMM_PACKED in gemm.c for when it is taken): c = op(a) op(b) (add:
 * +=; else with bias, plus bias[j] in every row's column j), any sizes.
 * Where the wide tiles are not built, the portable kernel. */
void nnc_gemm_packed_f32(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                         int64_t lda, const float *b, int64_t ldb, int add,
                         const float *bias, float *c, int64_t ldc);
void nnc_gemm_packed_f64(int ta, int tb, int64_t m, int64_t n, int64_t k, const double *a,
                         int64_t lda, const double *b, int64_t ldb, int add,
                         const double *bias, double *c, int64_t ldc);
/* conv.c: a product over strips [s0, s1) of a packed B (nnc_sgemm_pb) on
 * the register tiles, wide or narrow; taken only where nnc_gemm_tiles_ok. */
void nnc_gemm_pb_tiles_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const float *p, int add, float *c, int64_t ldc, int64_t s0,
                           int64_t s1);
void nnc_gemm_pb_tiles_f64(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                           const double *p, int add, double *c, int64_t ldc, int64_t s0,
                           int64_t s1);
/* conv.c: nnc_gemm_pack_* where the wide tiles run (nnc_gemm_tiles_ok() ==
 * 2), a transposed B transposed in registers. */
void nnc_gemm_pack_wide_f32(int tb, int64_t k, int64_t n, const float *b, int64_t ldb,
                            float *p);
void nnc_gemm_pack_wide_f64(int tb, int64_t k, int64_t n, const double *b, int64_t ldb,
                            double *p);
/* Whether this machine and build run nnc_gemm_tiles (x86-64 with AVX2 and
 * FMA, GCC or Clang): 0 if not, 1 on 32-byte vectors, 2 also on the wide
 * ones (AVX-512). */
int nnc_gemm_tiles_ok(void);

/* Sets the GEMM library's thread count to n and returns the one it had
 * (0 with the portable kernels, which have no threads). */
int nnc_gemm_threads_(int n);

/* An OpenMP directive in runtime code, nothing without OpenMP:
 * NNC_OMP_(parallel for) */
#if defined(_OPENMP)
#define NNC_OMP_PRAGMA_(x) _Pragma(#x)
#define NNC_OMP_(x) NNC_OMP_PRAGMA_(omp x)
#else
#define NNC_OMP_(x)
#endif

/* A block run by a team of `team` OpenMP threads, or by the calling thread
 * alone when team is 1 (NNC_PAR_TEAM_), and a loop split over OpenMP's
 * threads when cond holds, else a plain loop (NNC_PAR_FOR_): without a
 * parallel region at all when it would run on one thread. libgomp builds
 * and ends a team of one, with a futex call, even for a region whose `if`
 * clause is false: about 0.6 us each, a tenth of LeNet's inference at
 * batch 1 for its two convolutions and two poolings. The block or loop is
 * the macro's last argument (written once; it must hold no preprocessor
 * directive). Worksharing loops inside a team block run whole on the
 * calling thread when there is no region. */
#if defined(_OPENMP)
#define NNC_PAR_TEAM_(team, ...)                                                       \
  do {                                                                                 \
    if ((team) > 1) {                                                                  \
      NNC_OMP_(parallel num_threads(team))                                             \
      __VA_ARGS__                                                                      \
    } else {                                                                           \
      __VA_ARGS__                                                                      \
    }                                                                                  \
  } while (0)
#define NNC_PAR_FOR_(cond, ...)                                                        \
  do {                                                                                 \
    if (cond) {                                                                        \
      NNC_OMP_(parallel for schedule(static))                                          \
      __VA_ARGS__                                                                      \
    } else {                                                                           \
      __VA_ARGS__                                                                      \
    }                                                                                  \
  } while (0)
#else
#define NNC_PAR_TEAM_(team, ...)                                                       \
  do {                                                                                 \
    (void)(team);                                                                      \
    __VA_ARGS__                                                                        \
  } while (0)
#define NNC_PAR_FOR_(cond, ...)                                                        \
  do {                                                                                 \
    __VA_ARGS__                                                                        \
  } while (0)
#endif

/* ---------------------------------------------------------- errors.c */
/* Formats a message into err[0..errlen) (nothing when err is NULL or
 * errlen is 0); always returns -1 so that callers can `return
 * nnc_rt_errf(...)`. */
int nnc_rt_errf(char *err, size_t errlen, const char *fmt, ...)
    NNC_PRINTF(3, 4);

/* --------------------------------------------------------- templates */
/* A template file (gemm_kernel.h, conv_kernel.h, optim_kernel.h) is
 * included once per element type with REAL (float or double) and SFX (f32
 * or f64) defined; NNC_FN(name) names the variant: name_f32, name_f64. */
#define NNC_CAT_(a, b) a##_##b
#define NNC_CAT(a, b) NNC_CAT_(a, b)
#define NNC_FN(name) NNC_CAT(name, SFX)

/* On a function whose short copy and zero loops must stay loops: gcc and
 * clang otherwise turn them into memcpy and memset calls, which cost more
 * than the few values they move (im2col's runs on small images). */
#if defined(__clang__)
#define NNC_NO_LIBCALLS __attribute__((no_builtin))
#elif defined(__GNUC__)
#define NNC_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NNC_NO_LIBCALLS
#endif

/* On the small loops the optimizer steps are specialised from: inlined
 * into each caller, where their options are constants. */
#if defined(__GNUC__)
#define NNC_INLINE inline __attribute__((always_inline))
#else
#define NNC_INLINE inline
#endif


#endif
