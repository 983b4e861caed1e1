/* check_runtime.c — unit tests of the runtime library (runtime/): GEMM
 * (both backends against a naive product), RNG (known first values,
 * statistics), initialisers, optimizers against PyTorch trajectories,
 * clipping, safetensors (round trip, exact header bytes, corrupt files),
 * IDX and CSV loading, metrics, convolution and pooling (against naive
 * loops and finite differences), the inline float math of generated code
 * (against libm), progress bar and SVG plot. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nnc_internal.h"
#include "nnc_runtime.h"

/* ------------------------------------------------------------ helpers */
static char tmpdir[256];

static void tmp_setup(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/nncrt-XXXXXX", base ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char p[600];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
      remove(p);
    }
  if (d)
    closedir(d);
  rmdir(tmpdir);
}

/* out = tmpdir/name */
static char *tpath(char *out, const char *name) {
  snprintf(out, 512, "%s/%s", tmpdir, name);
  return out;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t n) {
  gzFile f = gzopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
  ck_assert_int_eq(gzclose(f), Z_OK);
}

/* The whole file, malloc'd; its size in *n. */
static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* Files in tmpdir. */
static int count_files(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static double urand(nnc_rng *r) { return 2 * nnc_rng_uniform(r) - 1; }

/* --------------------------------------------------------------- GEMM */
/* C = alpha op(A) op(B) + beta C in double; mag gets sum |alpha a b| +
 * |beta c| per element (the scale of rounding errors). */
static void gemm_naive(int ta, int tb, int m, int n, int k, double alpha,
                       const double *a, int lda, const double *b, int ldb,
                       double beta, double *c, int ldc, double *mag) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0, sm = 0;
      for (int p = 0; p < k; p++) {
        double x = ta ? a[p * lda + i] : a[i * lda + p];
        double y = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += x * y;
        sm += fabs(x * y);
      }
      double old = beta == 0 ? 0 : c[i * ldc + j];
      c[i * ldc + j] = alpha * s + beta * old;
      mag[i * ldc + j] = fabs(alpha) * sm + fabs(beta * old) + 1e-30;
    }
}

typedef void (*sgemm_fn)(int, int, int64_t, int64_t, int64_t, float,
                         const float *, int64_t, const float *, int64_t, float,
                         float *, int64_t);
typedef void (*dgemm_fn)(int, int, int64_t, int64_t, int64_t, double,
                         const double *, int64_t, const double *, int64_t,
                         double, double *, int64_t);

static void check_gemm_case(sgemm_fn sg, dgemm_fn dg, int ta, int tb, int m,
                            int n, int k, double alpha, double beta) {
  nnc_rng r;
  nnc_rng_seed(&r, (uint64_t)(m * 1000003 + n * 1009 + k * 7 + ta * 2 + tb));
  int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int lda = ac + 3, ldb = bc + 1, ldc = n + 2;
  size_t na = (size_t)ar * lda + 1, nb = (size_t)br * ldb + 1,
         nc = (size_t)m * ldc + 1;
  double *a = calloc(na, sizeof *a), *b = calloc(nb, sizeof *b);
  double *c0 = calloc(nc, sizeof *c0), *ref = calloc(nc, sizeof *ref);
  double *mag = calloc(nc, sizeof *mag), *cd = calloc(nc, sizeof *cd);
  float *af = calloc(na, sizeof *af), *bf = calloc(nb, sizeof *bf);
  float *cf = calloc(nc, sizeof *cf);
  for (size_t i = 0; i < na; i++)
    af[i] = (float)urand(&r), a[i] = af[i];
  for (size_t i = 0; i < nb; i++)
    bf[i] = (float)urand(&r), b[i] = bf[i];
  for (size_t i = 0; i < nc; i++)
    c0[i] = (float)urand(&r);
  /* with beta == 0 the old C must not be read: make it NaN */
  for (int i = 0; beta == 0 && i < m; i++)
    for (int j = 0; j < n; j++)
      c0[i * ldc + j] = NAN;
  memcpy(ref, c0, nc * sizeof *ref);
  gemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc, mag);
  memcpy(cd, c0, nc * sizeof *cd);
  for (size_t i = 0; i < nc; i++)
    cf[i] = (float)c0[i];
  sg(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
  dg(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cd, ldc);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      size_t q = (size_t)i * ldc + (size_t)j;
      ck_assert_msg(fabs(cf[q] - ref[q]) <= 2e-6 * mag[q] * (k + 2),
                    "sgemm ta=%d tb=%d %dx%dx%d at (%d,%d): %g vs %g", ta, tb,
                    m, n, k, i, j, cf[q], ref[q]);
      ck_assert_msg(fabs(cd[q] - ref[q]) <= 1e-14 * mag[q] * (k + 2),
                    "dgemm ta=%d tb=%d %dx%dx%d at (%d,%d): %.17g vs %.17g", ta,
                    tb, m, n, k, i, j, cd[q], ref[q]);
    }
  /* the padding between rows is never written */
  for (int i = 0; i < m; i++)
    for (int j = n; j < ldc && (size_t)i * ldc + j < nc; j++) {
      size_t q = (size_t)i * ldc + (size_t)j;
      ck_assert(cd[q] == c0[q] || (isnan(cd[q]) && isnan(c0[q])));
    }
  free(a), free(b), free(c0), free(ref), free(mag), free(cd), free(af),
      free(bf), free(cf);
}

static void check_gemm_backend(sgemm_fn sg, dgemm_fn dg) {
  static const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},     {17, 13, 29},
                                 {64, 65, 3}, {5, 300, 260}, {70, 9, 300},
                                 {2, 1, 513}, {1, 300, 260}, {70, 1, 300},
                                 {1, 1, 77}, /* one row or column: gemv */
                                 {4, 8, 1},   {13, 24, 32},  {64, 64, 32},
                                 {7, 40, 3},  {5, 12, 7}, /* small: the tiles */
                                 {150, 16, 300}, /* past them, 16 columns: 12-row tiles */
                                 {13, 100, 420}, /* transposed a: 16-row tiles */
                                 {16, 56, 700}, {8, 100, 700}, /* and 8 x 2 ones */
                                 {40, 64, 300}, {24, 100, 50}}; /* packed strips of b */
  static const double ab[][2] = {{1, 0}, {-0.7, 1}, {0.5, 0.25}, {1, 1}};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int v = 0; v < 4; v++)
          check_gemm_case(sg, dg, ta, tb, sizes[s][0], sizes[s][1], sizes[s][2],
                          ab[v][0], ab[v][1]);
}

START_TEST(test_gemm_backend) {
  ck_assert(strcmp(nnc_gemm_backend(), "openblas") == 0 ||
            strcmp(nnc_gemm_backend(), "portable") == 0);
  nnc_set_num_threads(2);
  check_gemm_backend(nnc_sgemm, nnc_dgemm);
}
END_TEST

START_TEST(test_gemm_portable) {
  check_gemm_backend(nnc_sgemm_portable, nnc_dgemm_portable);
}
END_TEST

/* The register tiles of small products (nnc_gemm_tiles) on their own, for
 * every shape they take (any rows, C's row a whole number of vectors, B not
 * transposed, alpha 1, beta 0 or 1), against the naive product; nnc_sgemm
 * takes them for the small shapes of check_gemm_backend. */
static void tiles_s(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                    float *c, int64_t ldc) {
  ck_assert(!tb && alpha == 1 && (beta == 0 || beta == 1));
  nnc_gemm_tiles_f32(ta, m, n, k, a, lda, b, ldb, beta == 1, c, ldc);
}
static void tiles_d(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                    const double *a, int64_t lda, const double *b, int64_t ldb,
                    double beta, double *c, int64_t ldc) {
  ck_assert(!tb && alpha == 1 && (beta == 0 || beta == 1));
  nnc_gemm_tiles_f64(ta, m, n, k, a, lda, b, ldb, beta == 1, c, ldc);
}

START_TEST(test_gemm_tiles) {
  static const int sizes[][3] = {{1, 8, 5},   {4, 8, 1},    {6, 16, 3},  {7, 24, 9},
                                 {13, 40, 32}, {64, 64, 32}, {5, 8, 100}, {12, 32, 2},
                                 {30, 16, 300}, {25, 8, 40}};
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  ck_assert((nnc_gemm_tiles_ok() != 0) == (__builtin_cpu_supports("avx2") &&
                                           __builtin_cpu_supports("fma")));
  ck_assert((nnc_gemm_tiles_ok() == 2) == (nnc_gemm_tiles_ok() && __builtin_cpu_supports("avx512f")));
#endif
  for (int ta = 0; ta < 2; ta++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (int beta = 0; beta < 2; beta++)
        check_gemm_case(tiles_s, tiles_d, ta, 0, sizes[s][0], sizes[s][1], sizes[s][2], 1,
                        beta);
}
END_TEST

/* The packed product (nnc_gemm_packed) on its own, for every shape it
 * takes (any sizes and transposes, alpha 1, beta 0 or 1): strips of B
 * whole and cut short, more than one block of its rows (256), rows of C
 * past a multiple of 8, transposed B packed by whole vectors and by
 * single elements; nnc_sgemm takes it for the larger shapes of
 * check_gemm_backend where the wide tiles run. */
static void packed_s(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc) {
  ck_assert(alpha == 1 && (beta == 0 || beta == 1));
  nnc_gemm_packed_f32(ta, tb, m, n, k, a, lda, b, ldb, beta == 1, NULL, c, ldc);
}
static void packed_d(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                     const double *a, int64_t lda, const double *b, int64_t ldb,
                     double beta, double *c, int64_t ldc) {
  ck_assert(alpha == 1 && (beta == 0 || beta == 1));
  nnc_gemm_packed_f64(ta, tb, m, n, k, a, lda, b, ldb, beta == 1, NULL, c, ldc);
}

START_TEST(test_gemm_packed) {
  static const int sizes[][3] = {{16, 32, 16}, {17, 33, 257}, {8, 64, 1},  {1, 5, 3},
                                 {30, 100, 520}, {9, 31, 9},  {64, 64, 32}, {24, 48, 300},
                                 {3, 40, 17}};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int beta = 0; beta < 2; beta++)
          check_gemm_case(packed_s, packed_d, ta, tb, sizes[s][0], sizes[s][1],
                          sizes[s][2], 1, beta);
}
END_TEST

/* The product on a B packed once (nnc_gemm_pack_*, nnc_[sd]gemm_pb), A
 * not transposed, alpha 1, beta 0 or 1: below 8 rows of A (nnc_sgemm on B
 * itself), from 8 (the tiles, wide or narrow), strips cut short, and
 * products of 2^20 multiply-adds and more, whose strips go to two
 * threads; the packed layout as documented. */
static void pb_s(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
  ck_assert(!ta && alpha == 1 && (beta == 0 || beta == 1));
  size_t len = nnc_gemm_pack_len(k, n, NNC_PACK_BYTES / sizeof(float));
  float *p = malloc(sizeof(float) * len);
  memset(p, 0xff, sizeof(float) * len); /* NaN: every element is written */
  nnc_gemm_pack_f32(tb, k, n, b, ldb, p);
  const int64_t w = NNC_PACK_BYTES / sizeof(float); /* the documented layout */
  for (int64_t j = 0; j < (n + w - 1) / w * w; j++)
    for (int64_t kk = 0; kk < k; kk++)
      ck_assert(p[(j / w * k + kk) * w + j % w] ==
                (j >= n ? 0 : tb ? b[j * ldb + kk] : b[kk * ldb + j]));
  nnc_sgemm_pb(m, n, k, a, lda, p, tb, b, ldb, beta, c, ldc);
  free(p);
}
static void pb_d(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                 const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                 double *c, int64_t ldc) {
  ck_assert(!ta && alpha == 1 && (beta == 0 || beta == 1));
  size_t len = nnc_gemm_pack_len(k, n, NNC_PACK_BYTES / sizeof(double));
  double *p = malloc(sizeof(double) * len);
  memset(p, 0xff, sizeof(double) * len);
  nnc_gemm_pack_f64(tb, k, n, b, ldb, p);
  nnc_dgemm_pb(m, n, k, a, lda, p, tb, b, ldb, beta, c, ldc);
  free(p);
}

START_TEST(test_gemm_prepacked) {
  static const int sizes[][3] = {{1, 40, 7},   {3, 33, 20},  {8, 32, 16}, {7, 17, 5},
                                 {32, 96, 128}, {13, 70, 33}, {64, 300, 64}, {9, 8, 1}};
  nnc_set_num_threads(2);
  for (int tb = 0; tb < 2; tb++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (int beta = 0; beta < 2; beta++)
        check_gemm_case(pb_s, pb_d, 0, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1, beta);
  nnc_set_num_threads(1);
}
END_TEST

/* The product with a bias on every row (nnc_sgemm_bias, nnc_dgemm_bias):
 * bit for bit nnc_sgemm's on C's rows set to the bias, beta 1, for sizes
 * the packed product takes (its bias added as the tiles store C, strips
 * cut short, more than one block of B's rows, B transposed or not), and
 * sizes it does not (few rows, A transposed); the padding between C's
 * rows never written. */
START_TEST(test_gemm_bias) {
  static const int sizes[][3] = {{16, 32, 16}, {17, 33, 257}, {64, 100, 40}, {30, 64, 300},
                                 {5, 40, 7},   {40, 8, 9},    {512, 96, 128}};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2], ldc = n + 3;
        const int lda = ta ? m : k, ldb = tb ? k : n;
        float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
        float *bias = malloc(sizeof(float) * (size_t)n);
        float *c1 = malloc(sizeof(float) * (size_t)m * ldc), *c2 = malloc(sizeof(float) * (size_t)m * ldc);
        double *ad = malloc(sizeof(double) * (size_t)m * k), *bd = malloc(sizeof(double) * (size_t)k * n);
        double *biasd = malloc(sizeof(double) * (size_t)n);
        double *d1 = malloc(sizeof(double) * (size_t)m * ldc), *d2 = malloc(sizeof(double) * (size_t)m * ldc);
        for (int i = 0; i < m * k; i++)
          ad[i] = a[i] = (float)sin(0.37 * i + s);
        for (int i = 0; i < k * n; i++)
          bd[i] = b[i] = (float)cos(0.23 * i - (double)s);
        for (int j = 0; j < n; j++)
          biasd[j] = bias[j] = (float)(0.5 - 0.01 * j);
        for (int i = 0; i < m * ldc; i++)
          c1[i] = c2[i] = -7, d1[i] = d2[i] = -7;
        nnc_sgemm_bias(ta, tb, m, n, k, a, lda, b, ldb, bias, c1, ldc);
        nnc_dgemm_bias(ta, tb, m, n, k, ad, lda, bd, ldb, biasd, d1, ldc);
        for (int i = 0; i < m; i++) {
          memcpy(c2 + i * ldc, bias, sizeof(float) * (size_t)n);
          memcpy(d2 + i * ldc, biasd, sizeof(double) * (size_t)n);
        }
        nnc_sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 1, c2, ldc);
        nnc_dgemm(ta, tb, m, n, k, 1, ad, lda, bd, ldb, 1, d2, ldc);
        ck_assert_msg(memcmp(c1, c2, sizeof(float) * (size_t)m * ldc) == 0,
                      "sgemm_bias ta=%d tb=%d %dx%dx%d", ta, tb, m, n, k);
        ck_assert_msg(memcmp(d1, d2, sizeof(double) * (size_t)m * ldc) == 0,
                      "dgemm_bias ta=%d tb=%d %dx%dx%d", ta, tb, m, n, k);
        free(a), free(b), free(bias), free(c1), free(c2);
        free(ad), free(bd), free(biasd), free(d1), free(d2);
      }
}
END_TEST

/* nnc_transpose: whole blocks, rows and columns past them, a source
 * with padding between its rows; the destination's padding untouched. */
START_TEST(test_transpose) {
  static const int sizes[][2] = {{1, 1}, {8, 8}, {64, 32}, {13, 21}, {3, 40}, {17, 5}, {33, 9}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    const int rows = sizes[s][0], cols = sizes[s][1], lds = cols + 3, ldd = rows + 2;
    float *a = malloc(sizeof(float) * (size_t)(rows * lds)), *t = malloc(sizeof(float) * (size_t)(cols * ldd));
    double *ad = malloc(sizeof(double) * (size_t)(rows * lds)), *td = malloc(sizeof(double) * (size_t)(cols * ldd));
    for (int i = 0; i < rows * lds; i++)
      ad[i] = a[i] = (float)i;
    for (int i = 0; i < cols * ldd; i++)
      t[i] = -1, td[i] = -1;
    nnc_transpose_f32(rows, cols, a, lds, t, ldd);
    nnc_transpose_f64(rows, cols, ad, lds, td, ldd);
    for (int c = 0; c < cols; c++)
      for (int r = 0; r < ldd; r++) {
        const double want = r < rows ? (double)(r * lds + c) : -1;
        ck_assert_msg(t[c * ldd + r] == want && td[c * ldd + r] == want,
                      "%dx%d at (%d,%d): %g %g, want %g", rows, cols, c, r,
                      (double)t[c * ldd + r], td[c * ldd + r], want);
      }
    free(a), free(t), free(ad), free(td);
  }
}
END_TEST

/* k == 0 scales C by beta; m == 0 or n == 0 touch nothing. */
START_TEST(test_gemm_degenerate) {
  float c[4] = {1, 2, 3, 4}, a[1] = {5}, b[1] = {6};
  double cd[4] = {1, 2, 3, 4};
  nnc_sgemm(0, 0, 2, 2, 0, 1, a, 0, b, 2, 0.5f, c, 2);
  nnc_dgemm(0, 0, 2, 2, 0, 1, NULL, 0, NULL, 2, 2, cd, 2);
  ck_assert(c[0] == 0.5f && c[3] == 2.0f);
  ck_assert(cd[0] == 2 && cd[3] == 8);
  nnc_sgemm(0, 0, 0, 2, 3, 1, NULL, 3, NULL, 2, 0, c, 2);
  nnc_sgemm_portable(1, 1, 2, 0, 3, 1, NULL, 2, NULL, 3, 0, c, 2);
  ck_assert(c[0] == 0.5f && c[3] == 2.0f);
  nnc_sgemm_portable(0, 0, 2, 2, 0, 1, a, 0, b, 2, 0, c, 2);
  ck_assert(c[0] == 0 && c[3] == 0);
}
END_TEST

/* ---------------------------------------------------------------- RNG */
/* Reference values from a Python transcription of splitmix64 and
 * xoshiro256** (https://prng.di.unimi.it), e.g.
 *   x = (x + 0x9e3779b97f4a7c15) % 2**64; z = x
 *   z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) % 2**64 ...
 * splitmix64 from 0 gives 0xe220a8397b1dcdaf (the published value);
 * xoshiro256** from state {1, 2, 3, 4} gives 11520, 0, 1509978240,
 * 1215971899390074240 (as the reference C code). */
START_TEST(test_rng_known) {
  nnc_rng r;
  nnc_rng_seed(&r, 0);
  ck_assert(r.s[0] == UINT64_C(0xe220a8397b1dcdaf));
  r.s[0] = 1, r.s[1] = 2, r.s[2] = 3, r.s[3] = 4;
  ck_assert(nnc_rng_next(&r) == 11520);
  ck_assert(nnc_rng_next(&r) == 0);
  ck_assert(nnc_rng_next(&r) == UINT64_C(1509978240));
  ck_assert(nnc_rng_next(&r) == UINT64_C(1215971899390074240));
  nnc_rng_seed(&r, 42);
  ck_assert(r.s[0] == UINT64_C(0xbdd732262feb6e95));
  ck_assert(r.s[3] == UINT64_C(0x581ce1ff0e4ae394));
  ck_assert(nnc_rng_next(&r) == UINT64_C(0x15780b2e0c2ec716));
  ck_assert(nnc_rng_next(&r) == UINT64_C(0x6104d9866d113a7e));
  ck_assert(nnc_rng_next(&r) == UINT64_C(0xae17533239e499a1));
  ck_assert(nnc_rng_next(&r) == UINT64_C(0xecb8ad4703b360a1));
  nnc_rng_seed(&r, 42);
  ck_assert(nnc_rng_uniform(&r) == 0.083862971059882163);
  ck_assert(nnc_rng_uniform(&r) == 0.37898025066266861);
  ck_assert(nnc_rng_uniform(&r) == 0.68004341102813937);
  /* u1 = 1 - 0.0838..., u2 = 0.3789...: r cos(2 pi u2), then r sin */
  nnc_rng_seed(&r, 42);
  ck_assert_double_eq_tol(nnc_rng_normal(&r), -0.30326306467873798, 1e-15);
  ck_assert_double_eq_tol(nnc_rng_normal(&r), 0.28846173882942383, 1e-15);
  /* seeding drops the spare */
  nnc_rng_seed(&r, 42);
  double first = nnc_rng_normal(&r);
  nnc_rng_seed(&r, 42);
  ck_assert(nnc_rng_normal(&r) == first);
}
END_TEST

START_TEST(test_rng_stats) {
  nnc_rng r;
  nnc_rng_seed(&r, 7);
  const int n = 100000;
  double s = 0, ss = 0, us = 0;
  for (int i = 0; i < n; i++) {
    double u = nnc_rng_uniform(&r);
    ck_assert(u >= 0 && u < 1);
    us += u;
  }
  for (int i = 0; i < n; i++) {
    double x = nnc_rng_normal(&r);
    s += x;
    ss += x * x;
  }
  double mean = s / n, sd = sqrt(ss / n - mean * mean);
  ck_assert_double_eq_tol(us / n, 0.5, 0.005);
  ck_assert_double_eq_tol(mean, 0, 0.01);
  ck_assert_double_eq_tol(sd, 1, 0.01);
}
END_TEST

START_TEST(test_rng_shuffle) {
  int64_t v[100], w[100];
  int seen[100] = {0};
  nnc_rng r;
  for (int i = 0; i < 100; i++)
    v[i] = w[i] = i;
  nnc_rng_seed(&r, 3);
  nnc_rng_shuffle(&r, v, 100);
  nnc_rng_seed(&r, 3);
  nnc_rng_shuffle(&r, w, 100);
  int moved = 0;
  for (int i = 0; i < 100; i++) {
    ck_assert(v[i] >= 0 && v[i] < 100);
    seen[v[i]]++;
    moved += v[i] != i;
    ck_assert(v[i] == w[i]);
  }
  for (int i = 0; i < 100; i++)
    ck_assert_int_eq(seen[i], 1);
  ck_assert_int_gt(moved, 80);
  nnc_rng_shuffle(&r, v, 0);
  nnc_rng_shuffle(&r, v, 1);
  /* every position gets every value about equally often */
  int count[4][4] = {{0}};
  for (int t = 0; t < 40000; t++) {
    int64_t q[4] = {0, 1, 2, 3};
    nnc_rng_shuffle(&r, q, 4);
    for (int i = 0; i < 4; i++)
      count[i][q[i]]++;
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      ck_assert(count[i][j] > 9500 && count[i][j] < 10500);
}
END_TEST

/* ----------------------------------------------------------- init fill */
START_TEST(test_init_fill) {
  nnc_rng r;
  nnc_rng_seed(&r, 1);
  enum { N = 20000 };
  static float f[N];
  static double d[N];
  ck_assert_int_eq(nnc_init_fill_f32(&r, "zeros", f, 5, 0, 0), 0);
  ck_assert(f[0] == 0 && f[4] == 0);
  ck_assert_int_eq(nnc_init_fill_f32(&r, "ones", f, 5, 0, 0), 0);
  ck_assert(f[0] == 1 && f[4] == 1);
  ck_assert_int_eq(nnc_init_fill_f64(&r, "constant(-1.5e-05)", d, 3, 0, 0), 0);
  ck_assert(d[0] == -1.5e-05 && d[2] == -1.5e-05);
  ck_assert_int_eq(nnc_init_fill_f32(&r, "constant(0.100000001)", f, 2, 0, 0),
                   0);
  ck_assert(f[1] == 0.1f);
  /* eye: each rows x cols block an identity */
  ck_assert_int_eq(nnc_init_fill_f64(&r, "eye", d, 12, 3, 4), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      ck_assert(d[i * 4 + j] == (i == j));
  ck_assert_int_eq(nnc_init_fill_f32(&r, "eye", f, 8, 4, 2), 0);
  ck_assert(f[0] == 1 && f[1] == 0 && f[2] == 0 && f[3] == 1 && f[4] == 0);
  ck_assert_int_eq(nnc_init_fill_f32(&r, "eye", f, 7, 4, 2), -1);
  /* uniform: within [a, b), reaching both ends */
  ck_assert_int_eq(
      nnc_init_fill_f32(&r, "uniform(-0.0883883476,0.0883883476)", f, N, 0, 0),
      0);
  float lo = 1, hi = -1;
  for (int i = 0; i < N; i++) {
    ck_assert(f[i] >= -0.0883883476f && f[i] < 0.0883883476f);
    lo = f[i] < lo ? f[i] : lo;
    hi = f[i] > hi ? f[i] : hi;
  }
  ck_assert(lo < -0.088f && hi > 0.088f);
  ck_assert_int_eq(nnc_init_fill_f64(&r, " uniform( 2 , 3 ) ", d, N, 0, 0), 0);
  double mean = 0;
  for (int i = 0; i < N; i++) {
    ck_assert(d[i] >= 2 && d[i] < 3);
    mean += d[i] / N;
  }
  ck_assert_double_eq_tol(mean, 2.5, 0.01);
  ck_assert_int_eq(nnc_init_fill_f32(&r, "uniform(0.5,0.5)", f, 4, 0, 0), 0);
  ck_assert(f[0] == 0.5f && f[3] == 0.5f);
  /* normal(m, s) */
  ck_assert_int_eq(nnc_init_fill_f64(&r, "normal(1,0.5)", d, N, 0, 0), 0);
  double s = 0, ss = 0;
  for (int i = 0; i < N; i++)
    s += d[i], ss += d[i] * d[i];
  ck_assert_double_eq_tol(s / N, 1, 0.02);
  ck_assert_double_eq_tol(sqrt(ss / N - (s / N) * (s / N)), 0.5, 0.02);
  /* f32 and f64 draw the same numbers */
  nnc_rng_seed(&r, 9);
  nnc_init_fill_f32(&r, "normal(0,0.02)", f, 10, 0, 0);
  nnc_rng_seed(&r, 9);
  nnc_init_fill_f64(&r, "normal(0,0.02)", d, 10, 0, 0);
  for (int i = 0; i < 10; i++)
    ck_assert(f[i] == (float)d[i]);
  static const char *const bad[] = {"",
                                    "foo",
                                    "uniform(1)",
                                    "uniform(1,2",
                                    "uniform(2,1)",
                                    "constant()",
                                    "normal(0,-1)",
                                    "zeros(1)",
                                    "uniform(1,2)x",
                                    "uniform(1,,2)",
                                    "constant(x)",
                                    "normal(nan,1)",
                                    "uniform(0,inf)",
                                    "onesy",
                                    "constant(1,2)"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(nnc_init_fill_f32(&r, bad[i], f, 4, 2, 2) == -1, "%s",
                  bad[i]);
  ck_assert_int_eq(nnc_init_fill_f32(&r, NULL, f, 4, 2, 2), -1);
  ck_assert_int_eq(nnc_init_fill_f32(&r, "zeros()", f, 4, 2, 2), 0);
}
END_TEST

/* --------------------------------------------------------- optimizers */
/* Expected parameters after 4 steps, from PyTorch 1.13.1 in float64:
 *
 *   import torch
 *   torch.set_default_dtype(torch.float64)
 *   p0 = [0.5, -1.25, 2.0, 0.0, -0.75]
 *   def grads(t, p):
 *       return [(k+1)*0.1*pk + (0.3 if k % 2 == 0 else -0.2)*t
 *               for k, pk in enumerate(p)]
 *   def run(make, clip=0.0, steps=4):
 *       p = torch.tensor(p0, requires_grad=True); opt = make([p])
 *       for t in range(1, steps+1):
 *           opt.zero_grad(); p.grad = torch.tensor(grads(t, p.tolist()))
 *           if clip > 0: torch.nn.utils.clip_grad_norm_([p], clip)
 *           opt.step()
 *       return p.tolist()
 *   sgd:      SGD(lr=0.1)
 *   sgd_wd:   SGD(lr=0.1, weight_decay=0.01)
 *   momentum: SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
 *   nesterov: SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)
 *   adam:     Adam(lr=0.01, betas=(0.9,0.999), eps=1e-8, weight_decay=0.1)
 *   adamw:    AdamW(lr=0.01, betas=(0.8,0.99), eps=1e-6, weight_decay=0.1)
 *   adam_clip: adam with clip=0.5;  momentum_clip: momentum with clip=0.5
 *   print(["%.17g" % v for v in run(...)])
 */
typedef struct OptCase {
  const char *name;
  nnc_opt_settings s;
  double want[5];
} OptCase;

static const OptCase opt_cases[] = {
    {"sgd",
     {NNC_SGD, 0.1, 0, 0, 0, 0, 0, 0, 0, 0},
     {0.18328303500000001, -0.95692035999999991, 1.4794514299999999,
      0.19215872000000003, -0.89625093750000007}},
    {"sgd_wd",
     {NNC_SGD, 0.1, 0, 0, 0, 0, 0, 0, 0.01, 0},
     {0.18164223525050008, -0.95241752332125007, 1.4724522627719998,
      0.19196672158000003, -0.89339779137075004}},
    {"momentum",
     {NNC_SGD, 0.1, 0.9, 0.1, 0, 0, 0, 0, 0.01, 0},
     {-0.051877378067385488, -0.69977757286369113, 1.0004782504007879,
      0.32743857663182008, -0.93455433711177671}},
    {"nesterov",
     {NNC_SGD, 0.05, 0.8, 0, 1, 0, 0, 0, 0.02, 0},
     {0.11599602231226878, -0.87609240325825799, 1.3302990644723711,
      0.22879860914526401, -0.89835268090657916}},
    {"adam",
     {NNC_ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.1, 0},
     {0.46075763094393657, -1.2100866561176993, 1.9599879328079006,
      0.038873101876905881, -0.7543010153739248}},
    {"adamw",
     {NNC_ADAMW, 0.01, 0, 0, 0, 0.8, 0.99, 1e-6, 0.1, 0},
     {0.45807474405618548, -1.2046615857149034, 1.951607163988901,
      0.039789085650242015, -0.75967182845022585}},
    {"adam_clip",
     {NNC_ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.1, 0.5},
     {0.45990684152830763, -1.210035252006646, 1.9601449904252835,
      0.040012212755080087, -0.73323937998191613}},
    {"momentum_clip",
     {NNC_SGD, 0.1, 0.9, 0.1, 0, 0, 0, 0, 0.01, 0.5},
     {0.33016178781914413, -1.0662718539770228, 1.6589974461551904,
      0.099786108905615192, -0.78505187694615797}},
};

static const double opt_p0[5] = {0.5, -1.25, 2.0, 0.0, -0.75};

static void opt_grads(int t, const double *p, double *g) {
  for (int k = 0; k < 5; k++)
    g[k] = (k + 1) * 0.1 * p[k] + (k % 2 == 0 ? 0.3 : -0.2) * t;
}

START_TEST(test_opt_torch) {
  for (size_t c = 0; c < sizeof opt_cases / sizeof opt_cases[0]; c++) {
    const OptCase *oc = &opt_cases[c];
    double p[5], g[5], st[10] = {0}, pu[5], stu[10] = {0};
    float pf[5], gf[5], stf[10] = {0}, pfu[5], stfu[10] = {0};
    memcpy(p, opt_p0, sizeof p);
    for (int k = 0; k < 5; k++)
      pf[k] = (float)opt_p0[k];
    memcpy(pu, p, sizeof pu), memcpy(pfu, pf, sizeof pfu);
    for (int t = 1; t <= 4; t++) {
      /* clipping is the caller's, as clip_grad_norm_ */
      opt_grads(t, p, g);
      double f = nnc_clip_factor(nnc_grad_norm_f64(g, 5), oc->s.clip_norm);
      for (int k = 0; k < 5; k++)
        g[k] *= f;
      nnc_opt_step_f64(&oc->s, t, p, g, st, 5);
      /* nnc_opt_update: the same step, and the gradient zeroed */
      double gu[5];
      memcpy(gu, g, sizeof gu);
      nnc_opt_update_f64(&oc->s, t, pu, gu, stu, 5);
      for (int k = 0; k < 5; k++)
        ck_assert(pu[k] == p[k] && gu[k] == 0 && stu[k] == st[k] && stu[5 + k] == st[5 + k]);
      double pd[5], gd[5];
      for (int k = 0; k < 5; k++)
        pd[k] = pf[k];
      opt_grads(t, pd, gd);
      for (int k = 0; k < 5; k++)
        gf[k] = (float)gd[k];
      f = nnc_clip_factor(nnc_grad_norm_f32(gf, 5), oc->s.clip_norm);
      for (int k = 0; k < 5; k++)
        gf[k] *= (float)f;
      nnc_opt_step_f32(&oc->s, t, pf, gf, stf, 5);
      float gfu[5];
      memcpy(gfu, gf, sizeof gfu);
      nnc_opt_update_f32(&oc->s, t, pfu, gfu, stfu, 5);
      for (int k = 0; k < 5; k++)
        ck_assert(pfu[k] == pf[k] && gfu[k] == 0 && stfu[k] == stf[k] &&
                  stfu[5 + k] == stf[5 + k]);
    }
    for (int k = 0; k < 5; k++) {
      ck_assert_msg(fabs(p[k] - oc->want[k]) < 1e-13, "%s f64 p[%d] %.17g",
                    oc->name, k, p[k]);
      ck_assert_msg(fabs(pf[k] - oc->want[k]) < 2e-6, "%s f32 p[%d] %.9g",
                    oc->name, k, pf[k]);
    }
  }
}
END_TEST

START_TEST(test_opt_state_and_clip) {
  nnc_opt_settings s = {NNC_SGD, 0.1, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0};
  ck_assert_int_eq(nnc_opt_state_per_elem(&s), 0);
  s.momentum = 0.9;
  ck_assert_int_eq(nnc_opt_state_per_elem(&s), 1);
  s.kind = NNC_ADAM;
  ck_assert_int_eq(nnc_opt_state_per_elem(&s), 2);
  s.kind = NNC_ADAMW;
  ck_assert_int_eq(nnc_opt_state_per_elem(&s), 2);
  float g[4] = {3, 0, -4, 0};
  double gd[2] = {6, 8};
  ck_assert_double_eq_tol(nnc_grad_norm_f32(g, 4), 5, 1e-12);
  ck_assert_double_eq_tol(nnc_grad_norm_f64(gd, 2), 10, 1e-12);
  ck_assert(nnc_grad_norm_f64(gd, 0) == 0);
  ck_assert(nnc_clip_factor(10, 0) == 1);
  ck_assert(nnc_clip_factor(10, 20) == 1);
  ck_assert_double_eq_tol(nnc_clip_factor(10, 1), 1 / (10 + 1e-6), 1e-15);
  ck_assert(isnan(nnc_clip_factor(NAN, 1)));
  /* the step itself ignores clip_norm (the caller clips) */
  nnc_opt_settings sc = {NNC_SGD, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  float p[4] = {0, 0, 0, 0};
  nnc_opt_step_f32(&sc, 1, p, g, NULL, 4);
  ck_assert(p[0] == -3 && p[2] == 4);
  /* clipping by the global norm of two tensors stepped separately, as the
   * header says: the norm over both, both scaled in place, then the steps;
   * it gives the same trajectory as one tensor (PyTorch's adam_clip) */
  nnc_opt_settings sa = {NNC_ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0.1, 0.5};
  double p2[5], st2[10] = {0}, g2[5];
  memcpy(p2, opt_p0, sizeof p2);
  for (int t = 1; t <= 4; t++) {
    opt_grads(t, p2, g2);
    double na = nnc_grad_norm_f64(g2, 2), nb = nnc_grad_norm_f64(g2 + 2, 3);
    double f = nnc_clip_factor(sqrt(na * na + nb * nb), sa.clip_norm);
    ck_assert(f < 1);
    for (int k = 0; k < 5; k++)
      g2[k] *= f;
    double sta[4], stb[6];
    for (int k = 0; k < 2; k++)
      sta[k] = st2[k], sta[2 + k] = st2[5 + k];
    for (int k = 0; k < 3; k++)
      stb[k] = st2[2 + k], stb[3 + k] = st2[7 + k];
    nnc_opt_step_f64(&sa, t, p2, g2, sta, 2);
    nnc_opt_step_f64(&sa, t, p2 + 2, g2 + 2, stb, 3);
    for (int k = 0; k < 2; k++)
      st2[k] = sta[k], st2[5 + k] = sta[2 + k];
    for (int k = 0; k < 3; k++)
      st2[2 + k] = stb[k], st2[7 + k] = stb[3 + k];
  }
  for (int k = 0; k < 5; k++)
    ck_assert_double_eq_tol(p2[k], opt_cases[6].want[k], 1e-12);
}
END_TEST

/* -------------------------------------------------------- safetensors */
static nnc_st_tensor st_t(const char *name, nnc_dtype dt, int rank,
                          const int64_t *shape, void *data) {
  nnc_st_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.dtype = dt;
  t.rank = rank;
  for (int i = 0; i < rank; i++)
    t.shape[i] = shape[i];
  t.data = data;
  return t;
}

START_TEST(test_st_roundtrip) {
  char path[512], err[512];
  tpath(path, "model.safetensors");
  float w[6] = {1.5f, -2, 3.25f, 1e-30f, -0.0f, 1e30f}, s0 = 42;
  double b[4] = {0.1, -1e300, 3, 5e-310};
  int32_t ix[4] = {-1, 0, 2147483647, -2147483647 - 1};
  float empty[1];
  const int64_t sw[2] = {2, 3}, sb[1] = {4}, si[2] = {2, 2}, se[2] = {0, 3};
  nnc_st_tensor t[5] = {st_t("fc1.weight", NNC_F32, 2, sw, w),
                        st_t("fc1.bias", NNC_F64, 1, sb, b),
                        st_t("idx", NNC_I32, 2, si, ix),
                        st_t("scalar", NNC_F32, 0, NULL, &s0),
                        st_t("empty \"quoted\"\n", NNC_F32, 2, se, empty)};
  ck_assert_msg(nnc_st_write(path, t, 5, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(count_files(), 1);
  float w2[6];
  double b2[4];
  int32_t ix2[4];
  float s2 = 0;
  nnc_st_tensor r[5] = {st_t("idx", NNC_I32, 2, si, ix2),
                        st_t("scalar", NNC_F32, 0, NULL, &s2),
                        st_t("fc1.weight", NNC_F32, 2, sw, w2),
                        st_t("fc1.bias", NNC_F64, 1, sb, b2),
                        st_t("empty \"quoted\"\n", NNC_F32, 2, se, NULL)};
  ck_assert_msg(nnc_st_read(path, r, 5, err, sizeof err) == 0, "%s", err);
  ck_assert(memcmp(w, w2, sizeof w) == 0);
  ck_assert(memcmp(b, b2, sizeof b) == 0);
  ck_assert(memcmp(ix, ix2, sizeof ix) == 0);
  ck_assert(s2 == 42);
  /* a subset, read again */
  ck_assert(nnc_st_read(path, r + 3, 1, err, sizeof err) == 0);
  /* overwriting an existing file */
  w[0] = 7;
  ck_assert(nnc_st_write(path, t, 5, err, sizeof err) == 0);
  ck_assert(nnc_st_read(path, r + 2, 1, err, sizeof err) == 0);
  ck_assert(w2[0] == 7);
  ck_assert_int_eq(count_files(), 1);
}
END_TEST

START_TEST(test_st_convert) {
  char path[512], err[512];
  tpath(path, "c.safetensors");
  double d[3] = {0.1, -2.5, 1e-3};
  float f[3] = {0.1f, -2.5f, 1e-3f};
  const int64_t sh[1] = {3};
  nnc_st_tensor t[2] = {st_t("d", NNC_F64, 1, sh, d),
                        st_t("f", NNC_F32, 1, sh, f)};
  ck_assert(nnc_st_write(path, t, 2, err, sizeof err) == 0);
  float df[3];
  double fd[3];
  nnc_st_tensor r[2] = {st_t("d", NNC_F32, 1, sh, df),
                        st_t("f", NNC_F64, 1, sh, fd)};
  ck_assert_msg(nnc_st_read(path, r, 2, err, sizeof err) == 0, "%s", err);
  for (int i = 0; i < 3; i++) {
    ck_assert(df[i] == (float)d[i]);
    ck_assert(fd[i] == (double)f[i]);
  }
  /* I32 converts to nothing */
  int32_t iv[3];
  nnc_st_tensor ri = st_t("f", NNC_I32, 1, sh, iv);
  ck_assert(nnc_st_read(path, &ri, 1, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, "tensor 'f' has dtype F32 in the file but the "
                            "model needs I32") != NULL,
                "%s", err);
}
END_TEST

/* The exact bytes of a small file, checked by hand against the format:
 * u64 header length 144 (141 bytes of JSON + 3 spaces of padding), the
 * JSON, then 1.5f -2.0f (F32 LE) and 7 (I32 LE). Python's struct gives
 * the data bytes: pack('<2f', 1.5, -2.0) + pack('<i', 7)
 * = 0000c03f 000000c0 07000000. */
START_TEST(test_st_header_bytes) {
  char path[512], err[512];
  tpath(path, "h.safetensors");
  float a[2] = {1.5f, -2.0f};
  int32_t b[1] = {7};
  const int64_t sa[1] = {2}, sb[2] = {1, 1};
  nnc_st_tensor t[2] = {st_t("a", NNC_F32, 1, sa, a),
                        st_t("b", NNC_I32, 2, sb, b)};
  ck_assert(nnc_st_write(path, t, 2, err, sizeof err) == 0);
  size_t n;
  unsigned char *f = read_all(path, &n);
  static const char json[] =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}   ";
  static const unsigned char len[8] = {144, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char data[12] = {0, 0,    0xc0, 0x3f, 0, 0,
                                         0, 0xc0, 7,    0,    0, 0};
  ck_assert_uint_eq(sizeof json - 1, 144);
  ck_assert_uint_eq(n, 8 + 144 + 12);
  ck_assert(memcmp(f, len, 8) == 0);
  ck_assert(memcmp(f + 8, json, 144) == 0);
  ck_assert(memcmp(f + 152, data, 12) == 0);
  free(f);
}
END_TEST

/* Writes a safetensors file with this header text and data. */
static void st_raw(const char *path, const char *json, const void *data,
                   size_t dlen) {
  size_t h = strlen(json);
  unsigned char *b = malloc(8 + h + dlen + 1);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)h >> (8 * i));
  memcpy(b + 8, json, h);
  if (dlen)
    memcpy(b + 8 + h, data, dlen);
  write_bytes(path, b, 8 + h + dlen);
  free(b);
}

/* Reading `name` [2] F32 from the file fails with a message naming the
 * file and containing `needle`; the buffer is untouched. */
static void st_expect_fail(const char *path, const char *name,
                           const char *needle) {
  char err[512] = "";
  float buf[2] = {-7, -7}, other[3] = {-7, -7, -7};
  const int64_t sh[1] = {2}, sh3[1] = {3};
  nnc_st_tensor t[2] = {st_t("ok", NNC_F32, 1, sh3, other),
                        st_t(name, NNC_F32, 1, sh, buf)};
  int rc = nnc_st_read(path, t, 2, err, sizeof err);
  ck_assert_msg(rc != 0, "%s: accepted", path);
  ck_assert_msg(strstr(err, path) != NULL, "message without the file: %s", err);
  ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in: %s", needle, err);
  ck_assert(buf[0] == -7 && buf[1] == -7 && other[0] == -7);
}

START_TEST(test_st_corrupt) {
  char p[512];
  static const float data[5] = {1, 2, 3, 4, 5};
  const char *ok = "\"ok\":{\"dtype\":\"F32\",\"shape\":[3],"
                   "\"data_offsets\":[8,20]}";
  char json[4096];
#define HDR(...) (snprintf(json, sizeof json, __VA_ARGS__), json)
  /* 1: a missing file */
  st_expect_fail(tpath(p, "missing.safetensors"), "w", "No such file");
  /* 2: empty, 3: shorter than the length field */
  write_bytes(tpath(p, "empty.safetensors"), "", 0);
  st_expect_fail(p, "w", "truncated");
  write_bytes(tpath(p, "short.safetensors"), "\x10\0\0\0\0", 5);
  st_expect_fail(p, "w", "truncated");
  /* 4: header length beyond the file, 5: huge header length */
  write_bytes(tpath(p, "hlen.safetensors"), "\x40\0\0\0\0\0\0\0{}", 10);
  st_expect_fail(p, "w", "header length is 64 bytes but only 2 follow");
  write_bytes(tpath(p, "huge.safetensors"),
              "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
  st_expect_fail(p, "w", "truncated or not a safetensors file");
  /* 6: not JSON, 7: JSON cut short */
  st_raw(tpath(p, "text.safetensors"), "hello world!", NULL, 0);
  st_expect_fail(p, "w", "not a JSON object");
  st_raw(tpath(p, "cut.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"),
         data, 20);
  st_expect_fail(p, "w", "corrupt safetensors header");
  /* 8: unknown dtype */
  st_raw(tpath(p, "dtype.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "tensor 'w' has unknown dtype \"F33\"");
  /* 9: negative, 10: non-numeric, 11: huge, 12: fractional dimensions */
  st_raw(tpath(p, "neg.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}"
             ",%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "non-negative integer");
  st_raw(tpath(p, "nonnum.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,"
             "8]},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "non-negative integer");
  st_raw(tpath(p, "bigdim.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
             "\"data_offsets\":[0,8]},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "integer too large");
  st_raw(tpath(p, "frac.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]"
             "},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "expected an integer");
  /* 13: a product of dimensions that overflows */
  st_raw(tpath(p, "ovf.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,4],"
             "\"data_offsets\":[0,8]},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "impossibly large shape");
  /* 14: offsets beyond the data, 15: reversed, 16: not matching the size */
  st_raw(tpath(p, "range.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]"
             "},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "lie outside the data area of 20 bytes");
  st_raw(tpath(p, "rev.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]},"
             "%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "tensor 'w': data_offsets [8, 0]");
  st_raw(tpath(p, "size.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]},"
             "%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "hold 4 bytes but dtype F32 and shape [2] need 8");
  /* 17: a name twice */
  st_raw(tpath(p, "dup.safetensors"),
         HDR("{%s,\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,"
             "8]},%s}",
             ok, ok),
         data, 20);
  st_expect_fail(p, "w", "tensor 'ok' appears twice");
  /* 18: missing tensor, 19: wrong shape, 20: wrong dtype */
  st_raw(tpath(p, "nothere.safetensors"), HDR("{%s}", ok), data, 20);
  st_expect_fail(p, "w", "no tensor 'w' in the file");
  st_raw(tpath(p, "shape.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]"
             "},%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w",
                 "tensor 'w' has shape [1, 2] in the file but the "
                 "model needs [2]");
  st_raw(tpath(p, "i32.safetensors"),
         HDR("{\"w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "%s}",
             ok),
         data, 20);
  st_expect_fail(p, "w", "has dtype I32 in the file but the model needs F32");
  /* 21: truncated data (a good file cut short) */
  st_raw(tpath(p, "trunc.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "%s}",
             ok),
         data, 17);
  st_expect_fail(p, "ok", "lie outside the data area of 17 bytes");
  /* 22: text after the object, 23: control character, 24: bad escape */
  st_raw(tpath(p, "trail.safetensors"), HDR("{%s} x", ok), data, 20);
  st_expect_fail(p, "w", "text after the header object");
  st_raw(tpath(p, "ctrl.safetensors"), HDR("{\"o\x01k\":1,%s}", ok), data, 20);
  st_expect_fail(p, "w", "control character");
  st_raw(tpath(p, "esc.safetensors"), HDR("{\"o\\qk\":{},%s}", ok), data, 20);
  st_expect_fail(p, "w", "bad escape");
  /* 25: metadata that is not strings, 26: deep nesting, 27: NUL byte */
  st_raw(tpath(p, "meta.safetensors"),
         HDR("{\"__metadata__\":{\"a\":{\"b\":1}},%s}", ok), data, 20);
  st_expect_fail(p, "w", "expected a string");
  char deep[400] = "{\"ok\":{\"dtype\":\"F32\",\"x\":";
  for (int i = 0; i < 100; i++)
    strcat(deep, "[");
  st_raw(tpath(p, "deep.safetensors"), deep, data, 20);
  st_expect_fail(p, "w", "nesting too deep");
  static const char nul[] = "{\"w\0\":1}";
  unsigned char raw[8 + sizeof nul];
  memset(raw, 0, 8);
  raw[0] = sizeof nul - 1;
  memcpy(raw + 8, nul, sizeof nul - 1);
  write_bytes(tpath(p, "nul.safetensors"), raw, sizeof raw - 1);
  st_expect_fail(p, "w", "control character");
  /* 28: more dimensions than any tensor may have, 29: missing key */
  strcpy(deep, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],\"shape\":[");
  for (int i = 0; i < 70; i++)
    strcat(deep, i ? ",1" : "1");
  strcat(deep, "]}}");
  st_raw(tpath(p, "rank.safetensors"), deep, data, 20);
  st_expect_fail(p, "w", "more than 64 dimensions");
  st_raw(tpath(p, "nokey.safetensors"),
         HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]},%s}", ok), data, 20);
  st_expect_fail(p, "w", "tensor 'w' has no data_offsets");
  /* 30: a directory */
  st_expect_fail(tmpdir, "w", "not a regular file");
  /* 31: __metadata__ twice, 32: a lone surrogate */
  st_raw(tpath(p, "meta2.safetensors"),
         HDR("{\"__metadata__\":{},\"__metadata__\":{},%s}", ok), data, 20);
  st_expect_fail(p, "w", "__metadata__ appears twice");
  st_raw(tpath(p, "surr.safetensors"), HDR("{\"\\ud800x\":1,%s}", ok), data,
         20);
  st_expect_fail(p, "w", "unpaired surrogate");
#undef HDR
}
END_TEST

/* What the reader accepts: any key order, white space, unknown keys,
 * escapes, metadata, other dtypes in tensors not asked for. */
START_TEST(test_st_lenient) {
  char p[512], err[512];
  static const float data[4] = {1, 2, 3, 4};
  st_raw(tpath(p, "ok.safetensors"),
         " { \"__metadata__\" : { \"format\" : \"pt\" , \"x\":\"\\u00e9\" } ,"
         "\n\"h\":{\"shape\":[2],\"dtype\":\"BF16\",\"data_offsets\":[12,16]},"
         "\"w\\u0031\" : { \"data_offsets\" : [ 4 , 12 ] , \"extra\": [1,"
         "{\"a\":null, \"b\": true}, -1.5e3], \"dtype\":\"F32\", \"shape\": [2]"
         " } }   ",
         data, 16);
  float w[2];
  const int64_t sh[1] = {2};
  nnc_st_tensor t = st_t("w1", NNC_F32, 1, sh, w);
  ck_assert_msg(nnc_st_read(p, &t, 1, err, sizeof err) == 0, "%s", err);
  ck_assert(w[0] == 2 && w[1] == 3);
  nnc_st_tensor h = st_t("h", NNC_F32, 1, sh, w);
  ck_assert(nnc_st_read(p, &h, 1, err, sizeof err) != 0);
  ck_assert(strstr(err, "tensor 'h' has dtype BF16") != NULL);
}
END_TEST

/* The message example of the brief: file, tensor, both shapes. */
START_TEST(test_st_shape_message) {
  char p[512], err[512], want[700];
  float *w = calloc(256 * 784, sizeof *w);
  const int64_t big[2] = {256, 784}, small[2] = {128, 784};
  nnc_st_tensor t = st_t("fc1.weight", NNC_F32, 2, big, w);
  ck_assert(
      nnc_st_write(tpath(p, "model.safetensors"), &t, 1, err, sizeof err) == 0);
  t = st_t("fc1.weight", NNC_F32, 2, small, w);
  ck_assert(nnc_st_read(p, &t, 1, err, sizeof err) != 0);
  snprintf(want, sizeof want,
           "%s: tensor 'fc1.weight' has shape [256, 784] in the file but the "
           "model needs [128, 784]",
           p);
  ck_assert_str_eq(err, want);
  free(w);
}
END_TEST

START_TEST(test_st_write_errors) {
  char p[512], err[512];
  float w[2] = {1, 2};
  const int64_t sh[1] = {2}, neg[1] = {-1};
  nnc_st_tensor t[2] = {st_t("a", NNC_F32, 1, sh, w),
                        st_t("a", NNC_F32, 1, sh, w)};
  /* a name twice, a bad dtype, a negative dimension, no data */
  ck_assert(nnc_st_write(tpath(p, "x.safetensors"), t, 2, err, sizeof err));
  ck_assert(strstr(err, "'a' is given twice") && strstr(err, p));
  t[1] = st_t("b", NNC_BOOL, 1, sh, w);
  ck_assert(nnc_st_write(p, t, 2, err, sizeof err));
  t[1] = st_t("b", NNC_F32, 1, neg, w);
  ck_assert(nnc_st_write(p, t, 2, err, sizeof err));
  t[1] = st_t("b", NNC_F32, 1, sh, NULL);
  ck_assert(nnc_st_write(p, t, 2, err, sizeof err));
  ck_assert_int_eq(count_files(), 0);
  /* a directory that does not exist; a target that is a directory (the
   * rename fails): no temporary file is left behind */
  ck_assert(
      nnc_st_write(tpath(p, "no/such/dir.safetensors"), t, 1, err, sizeof err));
  ck_assert(strstr(err, p) != NULL);
  ck_assert_int_eq(mkdir(tpath(p, "adir"), 0700), 0);
  ck_assert(nnc_st_write(p, t, 1, err, sizeof err) != 0);
  ck_assert(strstr(err, p) != NULL);
  ck_assert_int_eq(count_files(), 1);
  rmdir(p);
  /* no tensors at all is a valid file */
  ck_assert(nnc_st_write(tpath(p, "none.safetensors"), NULL, 0, err,
                         sizeof err) == 0);
  ck_assert(nnc_st_read(p, NULL, 0, err, sizeof err) == 0);
  ck_assert_int_eq(count_files(), 1);
}
END_TEST

/* ----------------------------------------------------------------- IDX */
/* 3 images of 2x3 and their labels. */
static unsigned char idx_img[16 + 18], idx_lab[8 + 3];

static void idx_make(void) {
  static const unsigned char ih[16] = {0, 0, 8, 3, 0, 0, 0, 3,
                                       0, 0, 0, 2, 0, 0, 0, 3};
  static const unsigned char lh[8] = {0, 0, 8, 1, 0, 0, 0, 3};
  memcpy(idx_img, ih, 16);
  for (int i = 0; i < 18; i++)
    idx_img[16 + i] = (unsigned char)(i * 15);
  memcpy(idx_lab, lh, 8);
  idx_lab[8] = 4, idx_lab[9] = 0, idx_lab[10] = 9;
}

static void idx_check(const nnc_dataset *d) {
  ck_assert_int_eq(d->n, 3);
  ck_assert_int_eq(d->dim, 6);
  ck_assert_int_eq(d->rows, 2);
  ck_assert_int_eq(d->cols, 3);
  ck_assert_int_eq(d->nclasses, 10);
  for (int i = 0; i < 18; i++)
    ck_assert(d->x[i] == (float)(i * 15) / 255.0f);
  ck_assert(d->x[17] == 1.0f);
  ck_assert(d->y[0] == 4 && d->y[1] == 0 && d->y[2] == 9);
}

static void idx_expect_fail(const char *img, const char *lab, const char *named,
                            const char *needle) {
  char err[512] = "";
  nnc_dataset d;
  ck_assert(nnc_idx_load(img, lab, &d, err, sizeof err) != 0);
  ck_assert_msg(strstr(err, named) && strstr(err, needle), "%s", err);
  ck_assert(d.x == NULL && d.y == NULL && d.n == 0);
}

START_TEST(test_idx) {
  char pi[512], pl[512], gi[512], gl[512], err[512];
  nnc_dataset d;
  idx_make();
  write_bytes(tpath(pi, "img"), idx_img, sizeof idx_img);
  write_bytes(tpath(pl, "lab"), idx_lab, sizeof idx_lab);
  write_gz(tpath(gi, "img.gz"), idx_img, sizeof idx_img);
  write_gz(tpath(gl, "lab.gz"), idx_lab, sizeof idx_lab);
  ck_assert_msg(nnc_idx_load(pi, pl, &d, err, sizeof err) == 0, "%s", err);
  idx_check(&d);
  nnc_dataset_free(&d);
  ck_assert(d.x == NULL && d.n == 0);
  ck_assert_msg(nnc_idx_load(gi, gl, &d, err, sizeof err) == 0, "%s", err);
  idx_check(&d);
  nnc_dataset_free(&d);
  ck_assert(nnc_idx_load(gi, NULL, &d, err, sizeof err) == 0);
  ck_assert(d.y == NULL && d.n == 3);
  nnc_dataset_free(&d);
  nnc_dataset_free(NULL);
}
END_TEST

START_TEST(test_idx_errors) {
  char pi[512], pl[512], p[512];
  unsigned char b[64];
  idx_make();
  write_bytes(tpath(pi, "img"), idx_img, sizeof idx_img);
  write_bytes(tpath(pl, "lab"), idx_lab, sizeof idx_lab);
  idx_expect_fail(tpath(p, "none"), pl, p, "cannot open");
  /* bad magic; labels given as images; wrong element type */
  memcpy(b, idx_img, sizeof idx_img);
  b[0] = 1;
  write_bytes(tpath(p, "magic"), b, sizeof idx_img);
  idx_expect_fail(p, pl, p, "not an IDX file");
  idx_expect_fail(pl, pi, pl, "at least 2 dimensions");
  idx_expect_fail(pi, pi, pi, "has 1 dimension, this one has 3");
  b[0] = 0, b[2] = 0x0d;
  write_bytes(tpath(p, "type"), b, sizeof idx_img);
  idx_expect_fail(p, pl, p, "element type 0x0d");
  /* truncated header, truncated pixels (plain and gzip), zero dimension */
  write_bytes(tpath(p, "hdr"), idx_img, 10);
  idx_expect_fail(p, pl, p, "truncated");
  write_bytes(tpath(p, "pix"), idx_img, sizeof idx_img - 1);
  idx_expect_fail(p, pl, p, "truncated");
  write_gz(tpath(p, "pix.gz"), idx_img, sizeof idx_img - 5);
  idx_expect_fail(p, pl, p, "truncated");
  memcpy(b, idx_img, sizeof idx_img);
  b[7] = 0;
  write_bytes(tpath(p, "zero"), b, sizeof idx_img);
  idx_expect_fail(p, pl, p, "dimension 0 is 0");
  /* label count differs; labels truncated */
  memcpy(b, idx_lab, sizeof idx_lab);
  b[7] = 4;
  write_bytes(tpath(p, "lab4"), b, sizeof idx_lab);
  idx_expect_fail(pi, p, p, "4 labels for 3 images");
  write_bytes(tpath(p, "lab2"), idx_lab, sizeof idx_lab - 1);
  idx_expect_fail(pi, p, p, "truncated");
  /* a gzip file cut short, and one with a broken CRC */
  size_t n;
  write_gz(tpath(p, "full.gz"), idx_img, sizeof idx_img);
  unsigned char *gz = read_all(p, &n);
  write_bytes(tpath(p, "cut.gz"), gz, n - 12);
  idx_expect_fail(p, pl, p, "");
  gz[n - 6] ^= 0xff;
  write_bytes(tpath(p, "crc.gz"), gz, n);
  idx_expect_fail(p, pl, p, "corrupt");
  free(gz);
}
END_TEST

/* Debian's dataset-fashion-mnist, when installed: the t10k files. */
START_TEST(test_idx_fashion) {
  const char *dir = "/usr/share/datasets/fashion-mnist";
  char img[256], lab[256], err[512];
  snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
  snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
  if (access(img, R_OK) != 0 || access(lab, R_OK) != 0)
    return; /* not installed: nothing to check */
  nnc_dataset d;
  ck_assert_msg(nnc_idx_load(img, lab, &d, err, sizeof err) == 0, "%s", err);
  ck_assert(d.n == 10000 && d.dim == 784 && d.rows == 28 && d.cols == 28);
  ck_assert_int_eq(d.nclasses, 10);
  int64_t per[10] = {0};
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < d.n; i++)
    per[d.y[i]]++;
  for (int64_t i = 0; i < d.n * d.dim; i++)
    lo = d.x[i] < lo ? d.x[i] : lo, hi = d.x[i] > hi ? d.x[i] : hi;
  for (int c = 0; c < 10; c++)
    ck_assert_int_eq(per[c], 1000);
  ck_assert(lo == 0 && hi == 1);
  nnc_dataset_free(&d);
}
END_TEST

/* ----------------------------------------------------------------- CSV */
static void csv_expect_fail(const char *name, const char *text,
                            const char *label, const char *needle) {
  char p[512], err[512] = "";
  nnc_dataset d;
  write_bytes(tpath(p, name), text, strlen(text));
  ck_assert_msg(nnc_csv_load(p, label, &d, err, sizeof err) != 0, "%s", name);
  ck_assert_msg(strstr(err, p) && strstr(err, needle), "%s", err);
  ck_assert(d.x == NULL && d.n == 0);
}

START_TEST(test_csv) {
  char p[512], err[512];
  nnc_dataset d;
  const char *a = "x1,x2,label\n1,2,0\n\n3.5, -4e1 ,2\n-0,1e-3,1";
  write_bytes(tpath(p, "a.csv"), a, strlen(a));
  ck_assert_msg(nnc_csv_load(p, NULL, &d, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(d.n, 3);
  ck_assert_int_eq(d.dim, 2);
  ck_assert_int_eq(d.nclasses, 3);
  ck_assert(d.rows == 0 && d.cols == 0);
  static const float want[6] = {1, 2, 3.5f, -40, 0, 1e-3f};
  for (int i = 0; i < 6; i++)
    ck_assert(d.x[i] == want[i]);
  ck_assert(d.y[0] == 0 && d.y[1] == 2 && d.y[2] == 1);
  nnc_dataset_free(&d);
  /* label by name in the middle, quoted names, CRLF, gzip */
  const char *b = "\"f 1\",\"label\",\"f,2\"\r\n0.5,7,\"1.5\"\r\n";
  write_gz(tpath(p, "b.csv.gz"), b, strlen(b));
  ck_assert_msg(nnc_csv_load(p, "label", &d, err, sizeof err) == 0, "%s", err);
  ck_assert(d.n == 1 && d.dim == 2 && d.y[0] == 7 && d.nclasses == 8);
  ck_assert(d.x[0] == 0.5f && d.x[1] == 1.5f);
  nnc_dataset_free(&d);
  /* a long line (more than one read buffer) */
  size_t cols = 3000, len = 0;
  char *big = malloc(cols * 24 + 16);
  for (size_t i = 0; i < cols; i++)
    len += (size_t)sprintf(big + len, "%sc%zu", i ? "," : "", i);
  len += (size_t)sprintf(big + len, "\n");
  for (size_t i = 0; i < cols; i++)
    len += (size_t)sprintf(big + len, "%s%zu", i ? "," : "", i % 5);
  write_bytes(tpath(p, "big.csv"), big, len);
  ck_assert_msg(nnc_csv_load(p, NULL, &d, err, sizeof err) == 0, "%s", err);
  ck_assert(d.n == 1 && d.dim == (int64_t)cols - 1);
  ck_assert(d.x[1234] == 1234 % 5 && d.y[0] == (int32_t)((cols - 1) % 5));
  nnc_dataset_free(&d);
  free(big);
}
END_TEST

START_TEST(test_csv_errors) {
  char p[512], err[512];
  nnc_dataset d;
  ck_assert(nnc_csv_load(tpath(p, "none.csv"), NULL, &d, err, sizeof err));
  ck_assert(strstr(err, p) != NULL);
  csv_expect_fail("e1.csv", "", NULL, "empty file");
  csv_expect_fail("e2.csv", "a,b\n", NULL, "no data rows");
  csv_expect_fail("e3.csv", "a,b\n1,x\n", NULL, ":2: column 2 ('x') is not a");
  csv_expect_fail("e4.csv", "a,b\n1,2\n1,2,3\n", NULL,
                  ":3: 3 fields, the header line has 2");
  csv_expect_fail("e5.csv", "a,b\n1,-1\n", NULL, "not a class number");
  csv_expect_fail("e6.csv", "a,b\n1,1.5\n", NULL, "not a class number");
  csv_expect_fail("e7.csv", "a,b\n1,2\n", "y", "no column 'y'");
  csv_expect_fail("e8.csv", "label\n1\n", NULL, "at least one feature");
  csv_expect_fail("e9.csv", "a,b\n\"1,2\n", NULL, "unterminated quote");
  csv_expect_fail("e10.csv", "a,b\n1,\n", NULL, "is not a number");
}
END_TEST

/* ------------------------------------------------------------- metrics */
START_TEST(test_metrics) {
  nnc_confusion c;
  ck_assert_int_eq(nnc_confusion_init(&c, 0), NNC_EBADDIM);
  ck_assert_int_eq(nnc_confusion_init(&c, 3), 0);
  ck_assert(nnc_confusion_accuracy(&c) == 0);
  /* by hand: rows true, columns predicted
   *   true 0: 2 1 0    true 1: 1 2 0    true 2: 0 1 3
   * accuracy 7/10; class 0: p 2/3 r 2/3 f1 2/3; class 1: p 2/4 r 2/3
   * f1 4/7; class 2: p 3/3 r 3/4 f1 6/7. Out-of-range pairs are dropped. */
  const int32_t truth[12] = {0, 0, 1, 1, 1, 2, 2, 2, 2, 0, 3, -1};
  const int32_t pred[12] = {0, 1, 1, 1, 0, 2, 2, 1, 2, 0, 0, 1};
  nnc_confusion_add(&c, truth, pred, 12);
  static const int64_t want[9] = {2, 1, 0, 1, 2, 0, 0, 1, 3};
  for (int i = 0; i < 9; i++)
    ck_assert_int_eq(c.counts[i], want[i]);
  ck_assert_double_eq_tol(nnc_confusion_accuracy(&c), 0.7, 1e-15);
  double p, r, f;
  nnc_confusion_class(&c, 0, &p, &r, &f);
  ck_assert_double_eq_tol(p, 2.0 / 3, 1e-15);
  ck_assert_double_eq_tol(r, 2.0 / 3, 1e-15);
  ck_assert_double_eq_tol(f, 2.0 / 3, 1e-15);
  nnc_confusion_class(&c, 1, &p, &r, &f);
  ck_assert_double_eq_tol(p, 0.5, 1e-15);
  ck_assert_double_eq_tol(r, 2.0 / 3, 1e-15);
  ck_assert_double_eq_tol(f, 4.0 / 7, 1e-15);
  nnc_confusion_class(&c, 2, &p, &r, &f);
  ck_assert_double_eq_tol(p, 1, 1e-15);
  ck_assert_double_eq_tol(r, 0.75, 1e-15);
  ck_assert_double_eq_tol(f, 6.0 / 7, 1e-15);
  /* printing */
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  nnc_confusion_print(m, &c, NULL);
  fclose(m);
  ck_assert_str_eq(buf, "  0 1 2\n"
                        "0 2 1 0\n"
                        "1 1 2 0\n"
                        "2 0 1 3\n");
  free(buf);
  static const char *const names[3] = {"cat", "dog", "bird"};
  m = open_memstream(&buf, &len);
  nnc_confusion_print(m, &c, names);
  fclose(m);
  ck_assert_str_eq(buf, "       0 1 2\n"
                        "0 cat  2 1 0\n"
                        "1 dog  1 2 0\n"
                        "2 bird 0 1 3\n");
  free(buf);
  nnc_confusion_free(&c);
  ck_assert(c.counts == NULL);
  /* a class never predicted nor present: all 0 */
  nnc_confusion_init(&c, 2);
  nnc_confusion_class(&c, 1, &p, &r, &f);
  ck_assert(p == 0 && r == 0 && f == 0);
  nnc_confusion_free(&c);
}
END_TEST

START_TEST(test_argmax) {
  const float l[12] = {1, 3, 3, 0, -1, -2, -3, -0.5f, NAN, 2, NAN, 1};
  int32_t out[3];
  nnc_argmax_rows_f32(l, 3, 4, out);
  ck_assert(out[0] == 1 && out[1] == 3 && out[2] == 1);
  const double d[4] = {0, 5, 5, 7};
  nnc_argmax_rows_f64(d, 2, 2, out);
  ck_assert(out[0] == 1 && out[1] == 1);
}
END_TEST

/* --------------------------------------------------------- convolution */
/* out = floor((in + 2p - d(k-1) - 1) / s) + 1 */
static nnc_conv_shape conv_shape(int64_t n, int64_t c, int64_t h, int64_t w,
                                 int64_t o, int64_t kh, int64_t kw, int64_t sh,
                                 int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                                 int64_t dw, int64_t g) {
  nnc_conv_shape s = {n, c, h, w, o, kh, kw, 0, 0, sh, sw, ph, pw, dh, dw, g};
  s.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  s.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  return s;
}

static double xat(const nnc_conv_shape *s, const double *x, int64_t ni,
                  int64_t ci, int64_t iy, int64_t ix) {
  if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
    return 0;
  return x[((ni * s->c + ci) * s->h + iy) * s->w + ix];
}

/* The definition, written independently of conv_kernel.h. */
static void conv_naive(const nnc_conv_shape *s, const double *x,
                       const double *w, double *y) {
  int64_t cg = s->c / s->groups, og = s->o / s->groups;
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t oc = 0; oc < s->o; oc++)
      for (int64_t oy = 0; oy < s->oh; oy++)
        for (int64_t ox = 0; ox < s->ow; ox++) {
          double sum = 0;
          for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t a = 0; a < s->kh; a++)
              for (int64_t b = 0; b < s->kw; b++)
                sum += xat(s, x, ni, oc / og * cg + ci,
                           oy * s->sh - s->ph + a * s->dh,
                           ox * s->sw - s->pw + b * s->dw) *
                       w[((oc * cg + ci) * s->kh + a) * s->kw + b];
          y[((ni * s->o + oc) * s->oh + oy) * s->ow + ox] = sum;
        }
}

typedef struct ConvBufs {
  int64_t nx, nw, ny;
  double *x, *w, *r, *y, *dx, *dw;
  float *xf, *wf, *rf, *yf, *dxf, *dwf;
} ConvBufs;

static void conv_bufs(ConvBufs *b, const nnc_conv_shape *s, uint64_t seed) {
  nnc_rng r;
  nnc_rng_seed(&r, seed);
  b->nx = s->n * s->c * s->h * s->w;
  b->nw = s->o * (s->c / s->groups) * s->kh * s->kw;
  b->ny = s->n * s->o * s->oh * s->ow;
  b->x = malloc(sizeof(double) * (size_t)b->nx);
  b->dx = malloc(sizeof(double) * (size_t)b->nx);
  b->w = malloc(sizeof(double) * (size_t)b->nw);
  b->dw = malloc(sizeof(double) * (size_t)b->nw);
  b->r = malloc(sizeof(double) * (size_t)b->ny);
  b->y = malloc(sizeof(double) * (size_t)b->ny);
  b->xf = malloc(sizeof(float) * (size_t)b->nx);
  b->dxf = malloc(sizeof(float) * (size_t)b->nx);
  b->wf = malloc(sizeof(float) * (size_t)b->nw);
  b->dwf = malloc(sizeof(float) * (size_t)b->nw);
  b->rf = malloc(sizeof(float) * (size_t)b->ny);
  b->yf = malloc(sizeof(float) * (size_t)b->ny);
  for (int64_t i = 0; i < b->nx; i++)
    b->xf[i] = (float)urand(&r), b->x[i] = b->xf[i];
  for (int64_t i = 0; i < b->nw; i++)
    b->wf[i] = (float)urand(&r), b->w[i] = b->wf[i];
  for (int64_t i = 0; i < b->ny; i++)
    b->rf[i] = (float)urand(&r), b->r[i] = b->rf[i];
}

static void conv_bufs_free(ConvBufs *b) {
  free(b->x), free(b->w), free(b->r), free(b->y), free(b->dx), free(b->dw);
  free(b->xf), free(b->wf), free(b->rf), free(b->yf), free(b->dxf),
      free(b->dwf);
}

/* L(x, w) = sum(conv(x, w) * r) */
static double conv_loss(const nnc_conv_shape *s, const ConvBufs *b, double *y) {
  conv_naive(s, b->x, b->w, y);
  double l = 0;
  for (int64_t i = 0; i < b->ny; i++)
    l += y[i] * b->r[i];
  return l;
}

static void check_conv_shape(const nnc_conv_shape *s, uint64_t seed) {
  ConvBufs b;
  conv_bufs(&b, s, seed);
  double *ref = malloc(sizeof(double) * (size_t)b.ny);
  size_t nws = nnc_conv2d_workspace(s);
  double *ws = malloc(sizeof(double) * (nws ? nws : 1));
  float *wsf = malloc(sizeof(float) * (nws ? nws : 1));
  conv_naive(s, b.x, b.w, ref);
  /* forward: both paths, both types */
  for (int path = 0; path < 2; path++) {
    nnc_conv2d_f64(s, b.x, b.w, b.y, path ? ws : NULL);
    nnc_conv2d_f32(s, b.xf, b.wf, b.yf, path ? wsf : NULL);
    for (int64_t i = 0; i < b.ny; i++) {
      ck_assert_msg(fabs(b.y[i] - ref[i]) < 1e-12, "f64 conv path %d", path);
      ck_assert_msg(fabs(b.yf[i] - ref[i]) < 1e-4, "f32 conv path %d", path);
    }
  }
  /* gradients against central differences of L (f64, from a non-zero start
   * to check they add), and the f32 versions against the f64 ones */
  double *gx = malloc(sizeof(double) * (size_t)b.nx);
  double *gw = malloc(sizeof(double) * (size_t)b.nw);
  const double h = 1e-5;
  for (int64_t i = 0; i < b.nx; i++) {
    double x0 = b.x[i];
    b.x[i] = x0 + h;
    double lp = conv_loss(s, &b, b.y);
    b.x[i] = x0 - h;
    double lm = conv_loss(s, &b, b.y);
    b.x[i] = x0;
    gx[i] = (lp - lm) / (2 * h);
  }
  for (int64_t i = 0; i < b.nw; i++) {
    double w0 = b.w[i];
    b.w[i] = w0 + h;
    double lp = conv_loss(s, &b, b.y);
    b.w[i] = w0 - h;
    double lm = conv_loss(s, &b, b.y);
    b.w[i] = w0;
    gw[i] = (lp - lm) / (2 * h);
  }
  for (int path = 0; path < 2; path++) {
    for (int64_t i = 0; i < b.nx; i++)
      b.dx[i] = 0.5, b.dxf[i] = 0.5f;
    for (int64_t i = 0; i < b.nw; i++)
      b.dw[i] = -1, b.dwf[i] = -1;
    nnc_conv2d_grad_input_f64(s, b.r, b.w, b.dx, path ? ws : NULL);
    nnc_conv2d_grad_weight_f64(s, b.x, b.r, b.dw, path ? ws : NULL);
    nnc_conv2d_grad_input_f32(s, b.rf, b.wf, b.dxf, path ? wsf : NULL);
    nnc_conv2d_grad_weight_f32(s, b.xf, b.rf, b.dwf, path ? wsf : NULL);
    for (int64_t i = 0; i < b.nx; i++) {
      ck_assert_msg(fabs(b.dx[i] - 0.5 - gx[i]) < 1e-7,
                    "dx[%lld] path %d: %.10g vs %.10g", (long long)i, path,
                    b.dx[i] - 0.5, gx[i]);
      ck_assert(fabs(b.dxf[i] - b.dx[i]) < 1e-4);
    }
    for (int64_t i = 0; i < b.nw; i++) {
      ck_assert_msg(fabs(b.dw[i] + 1 - gw[i]) < 1e-7,
                    "dw[%lld] path %d: %.10g vs %.10g", (long long)i, path,
                    b.dw[i] + 1, gw[i]);
      ck_assert(fabs(b.dwf[i] - b.dw[i]) < 1e-4);
    }
  }
  free(gx), free(gw), free(ref), free(ws), free(wsf);
  conv_bufs_free(&b);
}

START_TEST(test_conv) {
  const nnc_conv_shape shapes[] = {
      conv_shape(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 2, 9, 8, 3, 3, 2, 2, 2, 0, 0, 1, 1, 1), /* stride */
      conv_shape(2, 2, 8, 7, 2, 3, 3, 1, 1, 2, 2, 2, 2, 1), /* dilation */
      conv_shape(1, 4, 7, 9, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2), /* groups */
      conv_shape(2, 3, 6, 5, 3, 3, 3, 1, 2, 1, 1, 1, 2, 3), /* depthwise */
      conv_shape(2, 4, 5, 3, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1), /* pointwise */
      conv_shape(1, 4, 5, 6, 4, 1, 1, 2, 2, 0, 0, 1, 1, 2), /* 1x1 strided */
      conv_shape(1, 1, 4, 4, 2, 5, 5, 3, 3, 2, 2, 1, 1, 1), /* big kernel */
      conv_shape(3, 1, 1, 7, 2, 1, 3, 1, 1, 0, 1, 1, 1, 1), /* 1-d */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    ck_assert(shapes[i].oh > 0 && shapes[i].ow > 0);
    check_conv_shape(&shapes[i], 100 + i);
  }
}
END_TEST

/* Shapes at the edges of im2col's row splitting (zeros, a run of input,
 * zeros): padding wider than half the kernel, stride above the kernel,
 * rows that are all padding, batch 1, non-square planes, dilation with
 * padding and stride, groups. */
START_TEST(test_conv_im2col_edges) {
  const nnc_conv_shape shapes[] = {
      conv_shape(1, 1, 5, 4, 2, 3, 3, 1, 1, 3, 2, 1, 1, 1),  /* pad > k/2 */
      conv_shape(1, 2, 9, 11, 3, 2, 3, 3, 4, 0, 1, 1, 1, 1), /* stride > k */
      conv_shape(2, 1, 3, 3, 2, 2, 2, 1, 1, 4, 4, 1, 1, 1),  /* pad > k */
      conv_shape(1, 3, 6, 10, 3, 3, 2, 2, 3, 2, 3, 2, 3, 3), /* dilated */
      conv_shape(1, 4, 2, 13, 2, 1, 5, 1, 2, 1, 2, 1, 2, 2), /* wide, groups */
      conv_shape(1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1), /* LeNet conv1 */
      /* padding wider than half the kernel, groups, batch 2 */
      conv_shape(2, 2, 9, 12, 3, 3, 3, 1, 1, 2, 3, 1, 1, 1),
      conv_shape(2, 4, 8, 10, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2),
      conv_shape(1, 3, 5, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3), /* depthwise */
      /* output rows as long as input rows (one shifted copy per row):
       * kernel taller than the plane, dilated columns wrapping both
       * ways, one column */
      conv_shape(2, 2, 3, 5, 3, 5, 3, 1, 1, 3, 1, 1, 1, 1),
      conv_shape(1, 2, 4, 6, 2, 3, 5, 1, 1, 0, 4, 1, 2, 1),
      conv_shape(2, 1, 5, 1, 2, 3, 1, 1, 1, 1, 0, 1, 1, 1),
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    ck_assert(shapes[i].oh > 0 && shapes[i].ow > 0);
    if (i >= 9)
      ck_assert(shapes[i].ow == shapes[i].w);
    check_conv_shape(&shapes[i], 300 + i);
  }
}
END_TEST

/* The workspace paths of shape s on one thread and on three (the
 * runtime's threads, when it is built with OpenMP) against the plain loops
 * (which test_conv checks against finite differences), forward, input
 * gradient (added into zeros, and written over other values by
 * nnc_conv2d_grad_input_set) and weight gradient, f32 and f64. */
/* nnc_conv2d_bias against the same path's nnc_conv2d and then the bias
 * and ReLU, bit for bit (the generated add and ReLU's arithmetic); and
 * nnc_conv2d_bias_pool (its own workspace) against that ReLU'd output's
 * 2x2 maxima, bit for bit. */
#define CONV_BIAS(REAL, SFX)                                                           \
  static void conv_bias_##SFX(const nnc_conv_shape *s, const REAL *x, const REAL *w,   \
                              const REAL *y, REAL *ws) {                               \
    const int64_t P = s->oh * s->ow, ny = s->n * s->o * P;                             \
    REAL *bias = malloc(sizeof(REAL) * (size_t)s->o), *yb = malloc(sizeof(REAL) * (size_t)ny); \
    for (int64_t c = 0; c < s->o; c++)                                                 \
      bias[c] = (REAL)(0.3 - 0.17 * (double)c);                                        \
    for (int relu = 0; relu < 2; relu++) {                                             \
      nnc_conv2d_bias_##SFX(s, x, w, bias, relu, yb, ws);                              \
      for (int64_t k = 0; k < ny; k++) {                                               \
        const REAL v = y[k] + bias[k / P % s->o], want = relu && !(v > 0) ? 0 : v;     \
        ck_assert_msg(memcmp(&yb[k], &want, sizeof want) == 0,                        \
                      #SFX " bias relu=%d [%lld]: %g vs %g", relu, (long long)k,      \
                      (double)yb[k], (double)want);                                    \
      }                                                                                \
    }                                                                                  \
    const int64_t ph = s->oh / 2, pw = s->ow / 2;                                      \
    if (ph > 0 && pw > 0) { /* yb: the ReLU'd output, on a workspace's path */        \
      REAL *pws = malloc(sizeof(REAL) * nnc_conv2d_pool_workspace(s));                 \
      REAL *yp = malloc(sizeof(REAL) * (size_t)(s->n * s->o * ph * pw));               \
      nnc_conv2d_bias_##SFX(s, x, w, bias, 1, yb, pws);                                \
      nnc_conv2d_bias_pool_##SFX(s, x, w, bias, yp, pws);                              \
      for (int64_t c = 0; c < s->n * s->o; c++)                                        \
        for (int64_t i = 0; i < ph; i++)                                               \
          for (int64_t j = 0; j < pw; j++) {                                           \
            const REAL *q = yb + c * P + 2 * i * s->ow + 2 * j;                        \
            REAL want = q[0];                                                          \
            want = q[1] > want ? q[1] : want;                                          \
            want = q[s->ow] > want ? q[s->ow] : want;                                  \
            want = q[s->ow + 1] > want ? q[s->ow + 1] : want;                          \
            const REAL got = yp[(c * ph + i) * pw + j];                                \
            ck_assert_msg(memcmp(&got, &want, sizeof want) == 0,                       \
                          #SFX " bias_pool [%lld][%lld][%lld]: %g vs %g",              \
                          (long long)c, (long long)i, (long long)j, (double)got,       \
                          (double)want);                                               \
          }                                                                            \
      free(pws), free(yp);                                                             \
    }                                                                                  \
    free(bias), free(yb);                                                              \
  }
CONV_BIAS(float, f32)
CONV_BIAS(double, f64)

#define CONV_PATHS(REAL, SFX, TOL)                                                   \
  static void conv_paths_##SFX(const nnc_conv_shape *s, uint64_t seed) {            \
    int64_t nx = s->n * s->c * s->h * s->w;                                          \
    int64_t nw = s->o * (s->c / s->groups) * s->kh * s->kw;                          \
    int64_t ny = s->n * s->o * s->oh * s->ow;                                        \
    REAL *x = malloc(sizeof(REAL) * (size_t)nx), *w = malloc(sizeof(REAL) * (size_t)nw); \
    REAL *r = malloc(sizeof(REAL) * (size_t)ny);                                     \
    REAL *out[3][4];                                                                 \
    nnc_rng g;                                                                       \
    nnc_rng_seed(&g, seed);                                                          \
    for (int64_t k = 0; k < nx; k++)                                                 \
      x[k] = (REAL)urand(&g);                                                        \
    for (int64_t k = 0; k < nw; k++)                                                 \
      w[k] = (REAL)urand(&g);                                                        \
    for (int64_t k = 0; k < ny; k++)                                                 \
      r[k] = (REAL)urand(&g);                                                        \
    for (int path = 0; path < 3; path++) { /* plain loops, 1 thread, 3 threads */  \
      nnc_set_num_threads(path == 2 ? 3 : 1);                                        \
      if (path == 2)                                                                 \
        ck_assert_uint_eq(nnc_conv2d_workspace(s),                                   \
                          nnc_conv2d_scratch(s) * (size_t)nnc_conv_threads());       \
      REAL *ws = path ? malloc(sizeof(REAL) * nnc_conv2d_workspace(s)) : NULL;       \
      out[path][0] = calloc((size_t)ny, sizeof(REAL));                               \
      out[path][1] = calloc((size_t)nx, sizeof(REAL));                               \
      out[path][2] = calloc((size_t)nw, sizeof(REAL));                               \
      nnc_conv2d_##SFX(s, x, w, out[path][0], ws);                                   \
      conv_bias_##SFX(s, x, w, out[path][0], ws);                                    \
      nnc_conv2d_grad_input_##SFX(s, r, w, out[path][1], ws);                        \
      nnc_conv2d_grad_weight_##SFX(s, x, r, out[path][2], ws);                       \
      out[path][3] = malloc(sizeof(REAL) * (size_t)nx); /* written, not added to */ \
      for (int64_t k = 0; k < nx; k++)                                               \
        out[path][3][k] = (REAL)1e30;                                                \
      nnc_conv2d_grad_input_set_##SFX(s, r, w, out[path][3], ws);                    \
      free(ws);                                                                      \
    }                                                                                \
    nnc_set_num_threads(1);                                                          \
    const int64_t len[4] = {ny, nx, nw, nx};                                         \
    for (int t = 0; t < 4; t++) {                                                    \
      for (int path = 1; path < 3; path++)                                           \
        for (int64_t k = 0; k < len[t]; k++)                                         \
          ck_assert_msg(fabs((double)out[0][t][k] - (double)out[path][t][k]) <=      \
                            TOL * (1 + fabs((double)out[0][t][k])),                  \
                        #SFX " seed %d output %d path %d [%lld]: %g vs %g",         \
                        (int)seed, t, path, (long long)k, (double)out[0][t][k],      \
                        (double)out[path][t][k]);                                    \
      for (int path = 0; path < 3; path++)                                           \
        free(out[path][t]);                                                          \
    }                                                                                \
    free(x), free(w), free(r);                                                       \
  }
CONV_PATHS(float, f32, 1e-3)
CONV_PATHS(double, f64, 1e-10)
#undef CONV_PATHS

/* Shapes whose images go through GEMM in several chunks (2 then 1, 4 then
 * 1; and wide images one at a time), a 1x1 convolution (x itself as the
 * im2col matrix), and LeNet's layers (the direct kernel: images shared
 * out, the weight gradient's blocks split). */
START_TEST(test_conv_chunks) {
  const nnc_conv_shape shapes[] = {
      conv_shape(3, 128, 12, 12, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1), /* 2 + 1 */
      conv_shape(5, 128, 12, 11, 4, 3, 3, 1, 1, 0, 1, 1, 1, 2), /* 4 + 1, groups */
      conv_shape(2, 16, 70, 66, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1),  /* wide: 1 + 1 */
      conv_shape(3, 24, 9, 9, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1),   /* 1x1 */
      conv_shape(5, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1),   /* direct kernel */
      conv_shape(5, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1),  /* direct */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const nnc_conv_shape *s = &shapes[i];
    if (s->kh > 1 && i < 3) /* chunks of fewer images than the batch */
      ck_assert_int_lt(nnc_conv2d_scratch(s),
                       (size_t)(s->c / s->groups * s->kh * s->kw + s->o / s->groups) *
                           (size_t)(s->n * s->oh * s->ow));
    conv_paths_f32(s, 40 + i);
  }
}
END_TEST


/* Shapes the direct kernel takes (stride 1, one group, 4 to 32 channels
 * out of the forward pass or the input gradient): tiles across row ends,
 * every block of channels (6, 5 as 6, 4, 3 after 6s), non-square kernels,
 * padding above k - 1 (the input gradient crops dy), one-row planes; the
 * weight gradient too (kw shifted copies of the input, output sizes not
 * a multiple of the vectors); the input gradient as a scatter where dy's
 * padding would be most of the direct kernel's work; the forward pass
 * compact (on the padded planes where kw is 1), the input gradient on the
 * padded planes; blocks of 8 channels where the wide tiles run. Against
 * the plain loops, f32 and f64, on one thread and three. */
START_TEST(test_conv_direct) {
  const nnc_conv_shape shapes[] = {
      conv_shape(2, 6, 9, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 7, 5, 6, 6, 2, 3, 1, 1, 0, 2, 1, 1, 1),
      conv_shape(1, 14, 2, 2, 16, 3, 3, 1, 1, 3, 3, 1, 1, 1),
      conv_shape(1, 8, 1, 9, 16, 1, 5, 1, 1, 0, 2, 1, 1, 1),
      conv_shape(2, 6, 6, 5, 7, 5, 5, 1, 1, 2, 1, 1, 1, 1),
      conv_shape(1, 15, 3, 20, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 6, 7, 8, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1), /* as LeNet conv2 */
      conv_shape(1, 8, 1, 20, 16, 1, 5, 1, 1, 0, 2, 1, 1, 1),
      conv_shape(2, 4, 6, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 9, 7, 8, 10, 3, 2, 1, 1, 1, 0, 1, 1, 1),
      conv_shape(2, 13, 5, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 8, 4, 4, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* 5 blocks of 6, 3 */
      conv_shape(2, 5, 9, 11, 7, 4, 3, 1, 1, 0, 0, 1, 1, 1), /* scatter */
      conv_shape(1, 6, 8, 8, 9, 5, 5, 1, 1, 1, 1, 1, 1, 1),  /* scatter, cut */
      conv_shape(2, 5, 6, 7, 17, 3, 1, 1, 1, 1, 0, 1, 1, 1), /* kw 1: 8, 8, 1 */
      /* pooled tiles (nnc_conv2d_bias_pool): blocks of 8, 8 and 4 on odd
       * output sizes; 7 channels on a block of 8, rows cut short */
      conv_shape(2, 4, 19, 33, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 5, 6, 21, 7, 5, 3, 1, 1, 2, 1, 1, 1, 1),
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    ck_assert(nnc_conv2d_direct(&shapes[i], shapes[i].o) &&
              nnc_conv2d_direct(&shapes[i], shapes[i].c));
    ck_assert(nnc_conv2d_direct_weight(&shapes[i]));
    ck_assert_int_eq(nnc_conv2d_scatter_input(&shapes[i]), i == 6 || i == 12 || i == 13);
    /* the forward pass compact wherever kw > 1; the input gradient
     * (dy padded) on the padded planes */
    ck_assert(nnc_conv2d_direct_compact(&shapes[i]) == (shapes[i].kw > 1));
    conv_paths_f32(&shapes[i], 500 + i);
    conv_paths_f64(&shapes[i], 600 + i);
  }
}
END_TEST

/* Shapes Winograd takes (3x3, stride 1, one group, 16 channels or more
 * each way; the weight gradient by F(3x3, 2x2) or F(3x3, 4x4)): odd and even padding
 * (x's columns split into even and odd ones either way round), no
 * padding (the input gradient pads dy by 2) and padding 3 (it crops dy),
 * unequal padding, one-pixel planes, odd output sizes (the last tiles
 * cut), rows of tiles not a multiple of the vectors, several strips with
 * a short last one, every block of channels, channels not a multiple of
 * the vectors. The last ones on 4x4 tiles (rows of 28 pixels or more),
 * the same cases, x's columns split four ways from each remainder of the
 * padding, dy's tiles cut; one with only the input gradient on them. Against the plain
 * loops, f32 and f64, on one thread and three. */
START_TEST(test_conv_winograd) {
  const nnc_conv_shape shapes[] = {
      conv_shape(2, 16, 7, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 20, 5, 5, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1),
      conv_shape(1, 17, 1, 1, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1),
      conv_shape(1, 16, 12, 3, 33, 3, 3, 1, 1, 3, 3, 1, 1, 1),
      conv_shape(2, 16, 30, 10, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* strips 13 + 2 */
      conv_shape(1, 16, 40, 26, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* 13 tiles a row */
      conv_shape(1, 18, 6, 7, 16, 3, 3, 1, 1, 0, 2, 1, 1, 1),
      conv_shape(3, 32, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1),   /* as cnn_bn conv3 */
      conv_shape(2, 21, 6, 5, 30, 3, 3, 1, 1, 1, 2, 1, 1, 1),   /* 21: 3 vectors */
      /* F(4x4, 3x3) */
      conv_shape(2, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* as cnn_bn conv2 */
      conv_shape(1, 16, 9, 29, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1),  /* cut tiles */
      conv_shape(2, 17, 14, 45, 16, 3, 3, 1, 1, 0, 2, 1, 1, 1), /* 12 tiles a row */
      conv_shape(1, 16, 38, 31, 20, 3, 3, 1, 1, 3, 3, 1, 1, 1), /* strips 6 + 4 */
      conv_shape(1, 24, 7, 33, 16, 3, 3, 1, 1, 2, 3, 1, 1, 1),
      conv_shape(1, 16, 1, 30, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),  /* one-row planes */
      conv_shape(2, 16, 3, 64, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1),  /* one output row */
      conv_shape(1, 16, 6, 28, 18, 3, 3, 1, 1, 0, 0, 1, 1, 1),  /* input gradient */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const nnc_conv_shape *s = &shapes[i];
    ck_assert(nnc_conv2d_winograd(s, s->c, s->o) && nnc_conv2d_winograd(s, s->o, s->c));
    ck_assert(nnc_conv2d_winograd_weight(s));
    ck_assert_int_eq(nnc_winograd_tile(s->ow), i >= 9 && i < 16 ? 4 : 2);
    ck_assert_int_eq(nnc_winograd_tile(s->w), i >= 9 ? 4 : 2);
    conv_paths_f32(s, 700 + i);
    conv_paths_f64(s, 800 + i);
  }
}
END_TEST

/* A transposed convolution (stride 2, padding 1, output_padding 1) by its
 * definition, against nnc_conv2d_grad_input as the header explains. */
START_TEST(test_conv_transposed) {
  /* transposed: in 3 channels 4x3, out 2 channels, kernel 3, stride 2,
   * padding 1, output padding 1: out size (4-1)*2 - 2 + 3 + 1 = 8, 6 */
  const int64_t ci = 3, co = 2, ih = 4, iw = 3, k = 3, st = 2, pad = 1;
  const int64_t oh = 8, ow = 6;
  nnc_conv_shape s =
      conv_shape(1, co, oh, ow, ci, k, k, st, st, pad, pad, 1, 1, 1);
  ck_assert(s.oh == ih && s.ow == iw);
  double x[3 * 4 * 3], w[3 * 2 * 3 * 3], y[2 * 8 * 6], ref[2 * 8 * 6] = {0};
  nnc_rng r;
  nnc_rng_seed(&r, 5);
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
    x[i] = urand(&r);
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
    w[i] = urand(&r);
  /* y[oc, iy*s - p + a, ix*s - p + b] += x[ic, iy, ix] w[ic, oc, a, b] */
  for (int64_t c = 0; c < ci; c++)
    for (int64_t iy = 0; iy < ih; iy++)
      for (int64_t ix = 0; ix < iw; ix++)
        for (int64_t o = 0; o < co; o++)
          for (int64_t a = 0; a < k; a++)
            for (int64_t b = 0; b < k; b++) {
              int64_t yy = iy * st - pad + a, yx = ix * st - pad + b;
              if (yy >= 0 && yy < oh && yx >= 0 && yx < ow)
                ref[(o * oh + yy) * ow + yx] +=
                    x[(c * ih + iy) * iw + ix] *
                    w[((c * co + o) * k + a) * k + b];
            }
  double ws[(2 * 3 * 3 + 4) * 4 * 3]; /* im2col, then the GEMM result */
  ck_assert_uint_le(nnc_conv2d_scratch(&s), sizeof ws / sizeof ws[0]);
  for (int path = 0; path < 2; path++) {
    memset(y, 0, sizeof y);
    nnc_conv2d_grad_input_f64(&s, x, w, y, path ? ws : NULL);
    for (int64_t i = 0; i < co * oh * ow; i++)
      ck_assert(fabs(y[i] - ref[i]) < 1e-12);
  }
}
END_TEST

/* ------------------------------------------------------------- pooling */
static nnc_pool_shape pool_shape(int64_t n, int64_t c, int64_t h, int64_t w,
                                 int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                 int64_t ph, int64_t pw) {
  nnc_pool_shape s = {n, c, h, w, 0, 0, kh, kw, sh, sw, ph, pw};
  s.oh = (h + 2 * ph - kh) / sh + 1;
  s.ow = (w + 2 * pw - kw) / sw + 1;
  return s;
}

/* Forward and backward by definition: the window's first maximum (in row
 * order) gets dy; average divides by kh*kw. */
static void pool_naive(const nnc_pool_shape *s, const double *x,
                       const double *dy, double *ymax, double *yavg,
                       double *dmax, double *davg) {
  for (int64_t p = 0; p < s->n * s->c; p++)
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++) {
        double best = -INFINITY, sum = 0;
        int64_t at = -1;
        for (int64_t a = 0; a < s->kh; a++)
          for (int64_t b = 0; b < s->kw; b++) {
            int64_t iy = oy * s->sh - s->ph + a, ix = ox * s->sw - s->pw + b;
            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
              continue;
            double v = x[(p * s->h + iy) * s->w + ix];
            sum += v;
            if (at < 0 || v > best)
              best = v, at = (p * s->h + iy) * s->w + ix;
          }
        int64_t q = (p * s->oh + oy) * s->ow + ox;
        ymax[q] = best;
        yavg[q] = sum / (double)(s->kh * s->kw);
        dmax[at] += dy[q];
        for (int64_t a = 0; a < s->kh; a++)
          for (int64_t b = 0; b < s->kw; b++) {
            int64_t iy = oy * s->sh - s->ph + a, ix = ox * s->sw - s->pw + b;
            if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
              davg[(p * s->h + iy) * s->w + ix] +=
                  dy[q] / (double)(s->kh * s->kw);
          }
      }
}

static void check_pool(const nnc_pool_shape *s, int ties, uint64_t seed) {
  int64_t nx = s->n * s->c * s->h * s->w, ny = s->n * s->c * s->oh * s->ow;
  double *x = malloc(sizeof(double) * (size_t)nx), *buf[8];
  float *xf = malloc(sizeof(float) * (size_t)nx), *fb[4];
  for (int i = 0; i < 8; i++)
    buf[i] = calloc((size_t)(i < 2 || i >= 6 ? ny : nx), sizeof(double));
  for (int i = 0; i < 4; i++)
    fb[i] = calloc((size_t)(i < 2 ? ny : nx), sizeof(float));
  double *ymax = buf[0], *yavg = buf[1], *dmax = buf[2], *davg = buf[3];
  double *gmax = buf[4], *gavg = buf[5], *dy = buf[6], *y = buf[7];
  nnc_rng r;
  nnc_rng_seed(&r, seed);
  for (int64_t i = 0; i < nx; i++) {
    x[i] = ties ? (double)(nnc_rng_next(&r) % 3) : urand(&r);
    xf[i] = (float)x[i];
  }
  for (int64_t i = 0; i < ny; i++)
    dy[i] = urand(&r);
  pool_naive(s, x, dy, ymax, yavg, dmax, davg);
  nnc_maxpool2d_f64(s, x, y);
  for (int64_t i = 0; i < ny; i++)
    ck_assert(y[i] == ymax[i]);
  nnc_avgpool2d_f64(s, x, y);
  for (int64_t i = 0; i < ny; i++)
    ck_assert(fabs(y[i] - yavg[i]) < 1e-15);
  nnc_maxpool2d_grad_f64(s, x, dy, gmax);
  nnc_avgpool2d_grad_f64(s, dy, gavg);
  for (int64_t i = 0; i < nx; i++) {
    ck_assert(fabs(gmax[i] - dmax[i]) < 1e-15);
    ck_assert(fabs(gavg[i] - davg[i]) < 1e-15);
  }
  /* f32 */
  float *dyf = malloc(sizeof(float) * (size_t)ny);
  for (int64_t i = 0; i < ny; i++)
    dyf[i] = (float)dy[i];
  nnc_maxpool2d_f32(s, xf, fb[0]);
  nnc_avgpool2d_f32(s, xf, fb[1]);
  nnc_maxpool2d_grad_f32(s, xf, dyf, fb[2]);
  nnc_avgpool2d_grad_f32(s, dyf, fb[3]);
  for (int64_t i = 0; i < ny; i++) {
    ck_assert(fb[0][i] == (float)ymax[i]);
    ck_assert(fabs(fb[1][i] - yavg[i]) < 1e-6);
  }
  for (int64_t i = 0; i < nx; i++) {
    ck_assert(fabs(fb[2][i] - dmax[i]) < 1e-5);
    ck_assert(fabs(fb[3][i] - davg[i]) < 1e-5);
  }
  /* the writing variant over whatever dx held */
  for (int64_t i = 0; i < nx; i++)
    gmax[i] = 7, fb[2][i] = 7;
  nnc_maxpool2d_grad_set_f64(s, x, dy, gmax);
  nnc_maxpool2d_grad_set_f32(s, xf, dyf, fb[2]);
  for (int64_t i = 0; i < nx; i++) {
    ck_assert_msg(gmax[i] == dmax[i], "set [%lld]: %g vs %g", (long long)i, gmax[i], dmax[i]);
    ck_assert(fabs(fb[2][i] - dmax[i]) < 1e-5);
  }
  free(x), free(xf), free(dyf);
  for (int i = 0; i < 8; i++)
    free(buf[i]);
  for (int i = 0; i < 4; i++)
    free(fb[i]);
}

START_TEST(test_pool) {
  const nnc_pool_shape shapes[] = {
      pool_shape(2, 3, 8, 6, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 7, 7, 3, 3, 2, 2, 1, 1),
      pool_shape(2, 1, 5, 9, 3, 2, 1, 2, 1, 0),
      pool_shape(1, 1, 4, 4, 4, 4, 1, 1, 2, 2),
      /* without padding (the unrolled 2x2 and the unchecked windows):
       * odd planes, stride above the kernel, overlapping windows,
       * non-square kernels, batch 1 */
      pool_shape(2, 3, 7, 9, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 9, 8, 2, 2, 3, 4, 0, 0),
      pool_shape(1, 1, 6, 7, 2, 2, 1, 1, 0, 0),
      pool_shape(2, 2, 9, 7, 3, 2, 3, 2, 0, 0),
      pool_shape(1, 1, 5, 8, 1, 3, 2, 3, 0, 0),
      /* MaxPool2d(2) rows of more than 64 windows (done 64 at a time) */
      pool_shape(1, 2, 5, 151, 2, 2, 2, 2, 0, 0),
      /* rows of a vector's windows and more (the vector rows, the last
       * vector over windows already done): 8, 14 (LeNet's), 17 columns */
      pool_shape(2, 3, 6, 28, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 5, 17, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 1, 4, 16, 2, 2, 2, 2, 0, 0),
      /* shorter rows, each twice its windows (one vector over the next
       * rows, the plane's last row pair not): LeNet's 10x10, an odd
       * height */
      pool_shape(2, 3, 10, 10, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 7, 8, 2, 2, 2, 2, 0, 0),
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    check_pool(&shapes[i], 0, 10 + i);
    check_pool(&shapes[i], 1, 20 + i); /* ties: the first maximum */
  }
  /* average pooling counts the padding: a 1x1 input of 4, k 3, pad 1 */
  nnc_pool_shape s = pool_shape(1, 1, 1, 1, 3, 3, 1, 1, 1, 1);
  float x = 4, y = 0, dx = 0, dy = 9;
  nnc_avgpool2d_f32(&s, &x, &y);
  ck_assert(fabsf(y - 4.0f / 9) < 1e-7f);
  nnc_avgpool2d_grad_f32(&s, &dy, &dx);
  ck_assert(fabsf(dx - 1) < 1e-6f);
}
END_TEST

/* nnc_maxpool2d_grad_relu is nnc_maxpool2d_grad_set masked where x is not
 * above 0 (a ReLU's output: many windows all 0), exactly, on the vector
 * rows, the shorter rows, the exact rule of a NaN row, the general path. */
START_TEST(test_pool_relu) {
  const nnc_pool_shape shapes[] = {
      pool_shape(2, 3, 6, 28, 2, 2, 2, 2, 0, 0), pool_shape(2, 2, 10, 10, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 7, 9, 2, 2, 2, 2, 0, 0),  pool_shape(2, 2, 9, 7, 3, 2, 3, 2, 0, 0),
      pool_shape(1, 2, 7, 7, 3, 3, 2, 2, 1, 1),
  };
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    const nnc_pool_shape *s = &shapes[k];
    const int64_t nx = s->n * s->c * s->h * s->w, ny = s->n * s->c * s->oh * s->ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
    float *want = malloc(sizeof(float) * (size_t)nx), *got = malloc(sizeof(float) * (size_t)nx);
    double *xd = malloc(sizeof(double) * (size_t)nx), *dyd = malloc(sizeof(double) * (size_t)ny);
    double *wd = malloc(sizeof(double) * (size_t)nx), *gd = malloc(sizeof(double) * (size_t)nx);
    nnc_rng r;
    nnc_rng_seed(&r, 40 + k);
    for (int64_t i = 0; i < nx; i++) {
      const double u = nnc_rng_uniform(&r) - 0.6; /* most windows some 0s, some all 0 */
      xd[i] = x[i] = u > 0 ? (float)u : 0;
    }
    if (nx > 20)
      xd[17] = x[17] = NAN;
    for (int64_t i = 0; i < ny; i++)
      dyd[i] = dy[i] = (float)(nnc_rng_uniform(&r) + 0.5);
    nnc_maxpool2d_grad_set_f32(s, x, dy, want);
    nnc_maxpool2d_grad_relu_f32(s, x, dy, got);
    nnc_maxpool2d_grad_set_f64(s, xd, dyd, wd);
    nnc_maxpool2d_grad_relu_f64(s, xd, dyd, gd);
    int masked = 0;
    for (int64_t i = 0; i < nx; i++) {
      const float w = x[i] > 0 ? want[i] : 0;
      const double w2 = xd[i] > 0 ? wd[i] : 0;
      masked += want[i] != 0 && w == 0;
      ck_assert_msg(got[i] == w && gd[i] == w2, "shape %zu, element %lld: %g, not %g", k,
                    (long long)i, got[i], w);
    }
    ck_assert_msg(masked > 0, "shape %zu: no window all 0", k);
    free(x), free(dy), free(want), free(got), free(xd), free(dyd), free(wd), free(gd);
  }
}
END_TEST

/* NaN wins a max-pooling window as in PyTorch (the last NaN in row order
 * takes the gradient), on the 2x2 path, the general unpadded path and the
 * padded path. */
START_TEST(test_pool_nan) {
  /* every window covers the whole 2x2 plane 1, NaN / 5, NaN */
  const nnc_pool_shape shapes[] = {
      pool_shape(1, 1, 2, 2, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 1, 2, 2, 2, 2, 1, 1, 0, 0),
      pool_shape(1, 1, 2, 2, 3, 3, 1, 1, 1, 1),
  };
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    const nnc_pool_shape *s = &shapes[k];
    const float x[4] = {1, NAN, 5, NAN}, dy[4] = {1, 1, 1, 1};
    float y[4], dx[4] = {0};
    nnc_maxpool2d_f32(s, x, y);
    for (int64_t i = 0; i < s->oh * s->ow; i++)
      ck_assert(isnan(y[i]));
    nnc_maxpool2d_grad_f32(s, x, dy, dx);
    ck_assert_msg(dx[3] == (float)(s->oh * s->ow) && dx[1] == 0,
                  "shape %zu: the last NaN takes every window's gradient", k);
    float ds[4] = {7, 7, 7, 7};
    nnc_maxpool2d_grad_set_f32(s, x, dy, ds);
    ck_assert_msg(ds[3] == (float)(s->oh * s->ow) && ds[0] == 0 && ds[1] == 0 && ds[2] == 0,
                  "shape %zu: grad_set, the last NaN", k);
  }
  /* a row of 10 windows (the vector rows): a NaN in window 6's top right */
  nnc_pool_shape s = pool_shape(1, 1, 2, 20, 2, 2, 2, 2, 0, 0);
  float x[40], y[10], dy[10], dx[40];
  for (int i = 0; i < 40; i++)
    x[i] = (float)((i * 7) % 11);
  x[13] = NAN;
  for (int i = 0; i < 10; i++)
    dy[i] = (float)(i + 1);
  nnc_maxpool2d_f32(&s, x, y);
  for (int i = 0; i < 10; i++) {
    const float a = x[2 * i], b = x[2 * i + 1], c = x[20 + 2 * i], d = x[21 + 2 * i];
    const float m = fmaxf(fmaxf(a, b), fmaxf(c, d));
    ck_assert_msg(i == 6 ? isnan(y[i]) : y[i] == m, "window %d: %g", i, y[i]);
  }
  for (int i = 0; i < 40; i++)
    dx[i] = 7;
  nnc_maxpool2d_grad_set_f32(&s, x, dy, dx);
  ck_assert_msg(dx[13] == 7.0f && dx[12] == 0, "the NaN takes window 6's gradient");
  float sum = 0;
  for (int i = 0; i < 40; i++)
    sum += dx[i];
  ck_assert_msg(sum == 55, "every window's gradient once: %g", sum);
  /* a shorter row (5 windows, one vector): a NaN in the first row pair,
   * and one in the row pair after the second, which the second's vector
   * reads past its row and must not take */
  s = pool_shape(1, 1, 6, 10, 2, 2, 2, 2, 0, 0);
  float xs[60], ys[15], dys[15], dxs[60];
  for (int i = 0; i < 60; i++)
    xs[i] = (float)((i * 5) % 13);
  xs[3] = NAN;  /* row 0, window 1 */
  xs[41] = NAN; /* row 4, window 0 */
  for (int i = 0; i < 15; i++)
    dys[i] = 1;
  nnc_maxpool2d_f32(&s, xs, ys);
  for (int i = 0; i < 15; i++)
    ck_assert_msg((i == 1 || i == 10) ? isnan(ys[i]) : !isnan(ys[i]), "window %d: %g", i,
                  ys[i]);
  for (int i = 0; i < 60; i++)
    dxs[i] = 7;
  nnc_maxpool2d_grad_set_f32(&s, xs, dys, dxs);
  float tot = 0;
  for (int i = 0; i < 60; i++)
    tot += dxs[i];
  ck_assert_msg(tot == 15 && dxs[3] == 1 && dxs[41] == 1, "shorter rows: %g", tot);
}
END_TEST

/* ------------------------------------------------- progress and plots */
START_TEST(test_progress) {
  char p[512];
  FILE *f = fopen(tpath(p, "log"), "w+");
  nnc_progress pb;
  nnc_progress_start(&pb, f, "epoch 1/3", 1000);
  ck_assert_int_eq(pb.tty, 0);
  for (int i = 0; i < 10; i++)
    nnc_progress_update(&pb, 100, 0.5 - i * 0.01);
  nnc_progress_end(&pb, "loss 0.4100");
  /* a terminal: redrawn in place */
  nnc_progress_start(&pb, f, "tty", 0);
  pb.tty = 1;
  pb.last_draw = -1e9;
  nnc_progress_update(&pb, 7, 1.25);
  nnc_progress_end(&pb, NULL);
  fclose(f);
  size_t n;
  char *s = (char *)read_all(p, &n);
  s[n] = 0;
  /* quarter lines at 300, 500, 800 */
  ck_assert_msg(strstr(s, "epoch 1/3 300/1000  30.0%  loss 0.4800") != NULL,
                "%s", s);
  ck_assert(strstr(s, "epoch 1/3 500/1000") && strstr(s, "800/1000"));
  ck_assert(strstr(s, "it/s  ETA ") != NULL);
  ck_assert(strstr(s, "epoch 1/3: 1000 items in ") != NULL);
  ck_assert(strstr(s, ", loss 0.4100\n") != NULL);
  ck_assert(strstr(s, "\rtty 7  loss 1.2500") != NULL);
  ck_assert(strstr(s, "\r\033[Ktty: 7 items in") != NULL);
  char *first_cr = strchr(s, '\r');
  ck_assert(first_cr && first_cr > strstr(s, "epoch 1/3: 1000"));
  free(s);
  ck_assert(nnc_now() > 0);
  double t0 = nnc_now(), t1 = nnc_now();
  ck_assert(t1 >= t0);
}
END_TEST

START_TEST(test_svg) {
  char p[512], err[512];
  const double loss[5] = {2.3, 1.1, NAN, 0.7, 0.65};
  const double acc[5] = {0.3, 0.6, 0.7, 0.8, 0.82};
  const double one[1] = {5};
  nnc_series s[3] = {
      {"loss <train>", loss, 5}, {"accuracy & co", acc, 5}, {"single", one, 1}};
  ck_assert_msg(nnc_svg_plot(tpath(p, "c.svg"), "MLP: \"curves\"",
                             "loss / accuracy", s, 3, err, sizeof err) == 0,
                "%s", err);
  size_t n;
  char *t = (char *)read_all(p, &n);
  t[n] = 0;
  ck_assert(strncmp(t, "<?xml", 5) == 0);
  ck_assert(strstr(t, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
  ck_assert(strstr(t, "</svg>\n") != NULL);
  ck_assert(strstr(t, "loss &lt;train&gt;") && strstr(t, "accuracy &amp; co"));
  ck_assert(strstr(t, "MLP: &quot;curves&quot;") != NULL);
  ck_assert(strstr(t, ">epoch</text>") != NULL);
  /* the NaN breaks the loss line in two */
  int lines = 0;
  for (char *q = t; (q = strstr(q, "<polyline")); q++)
    lines++;
  ck_assert_int_eq(lines, 4);
  free(t);
  ck_assert(nnc_svg_plot(tpath(p, "no/dir.svg"), "t", "y", s, 3, err,
                         sizeof err) != 0);
  ck_assert(strstr(err, p) != NULL);
  /* no data at all still draws axes */
  ck_assert(nnc_svg_plot(tpath(p, "empty.svg"), "t", "y", NULL, 0, err,
                         sizeof err) == 0);
}
END_TEST

/* ------------------------------------------------ float math */
/* Distance from got to the float nearest the exact value, in units of the
 * float spacing there. */
static double ulps(float got, double exact) {
  float near = (float)exact;
  double step = (double)nextafterf(fabsf(near), INFINITY) - fabsf(near);
  return fabs((double)got - exact) / step;
}

/* nnc_expf, nnc_logf, nnc_tanhf, nnc_erff, nnc_geluf and nnc_gelu_gradf against libm's
 * double functions over a dense sweep, through a loop the compiler may
 * vectorise (as generated code's is), and at the special values. */
START_TEST(test_float_math) {
  enum { N = 300000 };
  float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
  ck_assert_ptr_nonnull(x);
  ck_assert_ptr_nonnull(y);
  for (int i = 0; i < N; i++)
    x[i] = -110.0f + 205.0f * (float)i / N;
  for (int i = 0; i < N; i++)
    y[i] = nnc_expf(x[i]);
  double worst = 0;
  for (int i = 0; i < N; i++) {
    double ex = exp((double)x[i]);
    if (ex > 1.17549435e-38 && ex < 3.40282346e38) {
      double u = ulps(y[i], ex);
      worst = u > worst ? u : worst;
    } else if (ex <= 1.17549435e-38) { /* flushed to 0; at the edge, 2 steps of 2^-149 */
      ck_assert_msg(y[i] == 0 || (x[i] > -87.34f && fabs(y[i] - ex) <= 2.9e-45),
                    "expf(%g) = %g, not 0", x[i], y[i]);
    } else {
      ck_assert_msg(isinf(y[i]), "expf(%g) = %g, not inf", x[i], y[i]);
    }
  }
  ck_assert_msg(worst <= 2, "expf: %g ulp", worst);
  for (int i = 0; i < N; i++)
    x[i] = -20.0f + 40.0f * (float)i / N;
  for (int i = 0; i < N; i++)
    y[i] = nnc_tanhf(x[i]);
  worst = 0;
  for (int i = 0; i < N; i++)
    if (x[i] != 0) {
      double u = ulps(y[i], tanh((double)x[i]));
      worst = u > worst ? u : worst;
    }
  ck_assert_msg(worst <= 3, "tanhf: %g ulp", worst);
  for (int i = 0; i < N; i++)
    y[i] = nnc_erff(x[i] / 4);
  double abs_err = 0, rel_err = 0;
  for (int i = 0; i < N; i++) {
    double ex = erf((double)(x[i] / 4)), d = fabs(y[i] - ex);
    abs_err = d > abs_err ? d : abs_err;
    if (fabs(x[i] / 4) < 0.5 && ex != 0)
      rel_err = d / fabs(ex) > rel_err ? d / fabs(ex) : rel_err;
  }
  ck_assert_msg(abs_err <= 4e-7 && rel_err <= 1e-6, "erff: %g absolute, %g relative",
                abs_err, rel_err);
  for (int i = 0; i < N; i++) /* Phi(x) + x phi(x) over [-10, 10] */
    y[i] = nnc_gelu_gradf(x[i] / 2);
  abs_err = 0;
  for (int i = 0; i < N; i++) {
    double v = x[i] / 2, ex = 0.5 * (1 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) /
                                                                sqrt(2 * 3.14159265358979323846);
    abs_err = fabs(y[i] - ex) > abs_err ? fabs(y[i] - ex) : abs_err;
  }
  ck_assert_msg(abs_err <= 1e-6, "gelu_gradf: %g absolute", abs_err);
  for (int i = 0; i < N; i++) /* x Phi(x) over [-30, 30] */
    y[i] = nnc_geluf(1.5f * x[i]);
  abs_err = rel_err = 0;
  for (int i = 0; i < N; i++) {
    double v = 1.5f * x[i], ex = 0.5 * v * (1 + erf(v / sqrt(2.0))), d = fabs(y[i] - ex);
    abs_err = d > abs_err ? d : abs_err;
    if (fabs(ex) > 1e-6) /* the small side too: 1 + erf would have cancelled */
      rel_err = d / fabs(ex) > rel_err ? d / fabs(ex) : rel_err;
    ck_assert_msg(y[i] == 0 || fabsf(y[i]) >= 1.17549435e-38f, "geluf(%g) = %g: subnormal",
                  1.5f * x[i], y[i]);
    const float g = nnc_gelu_gradf(1.5f * x[i]);
    ck_assert_msg(g == 0 || fabsf(g) >= 1.17549435e-38f, "gelu_gradf(%g) = %g: subnormal",
                  1.5f * x[i], g);
  }
  ck_assert_msg(abs_err <= 5e-7 && rel_err <= 2e-3, "geluf: %g absolute, %g relative",
                abs_err, rel_err);
  free(x);
  free(y);
  worst = 0; /* log: every 4099th positive finite float, subnormals included */
  for (uint32_t u = 1; u < 0x7F800000u; u += 4099) {
    float v;
    memcpy(&v, &u, sizeof v);
    double u_err = ulps(nnc_logf(v), log((double)v));
    worst = u_err > worst ? u_err : worst;
  }
  ck_assert_msg(worst <= 2, "logf: %g ulp", worst);
  ck_assert(nnc_logf(1) == 0 && nnc_logf(0) == -INFINITY && nnc_logf(-0.0f) == -INFINITY);
  ck_assert(isnan(nnc_logf(-1)) && isnan(nnc_logf(-INFINITY)) && isnan(nnc_logf(NAN)));
  ck_assert(nnc_logf(INFINITY) == INFINITY);
  ck_assert(isnan(nnc_expf(NAN)) && isnan(nnc_tanhf(NAN)) && isnan(nnc_erff(NAN)));
  ck_assert(isnan(nnc_expf(-NAN)));
  ck_assert(isinf(nnc_expf(INFINITY)) && nnc_expf(-INFINITY) == 0);
  ck_assert(nnc_expf(0) == 1 && nnc_expf(-104.5f) == 0);
  ck_assert(nnc_tanhf(INFINITY) == 1 && nnc_tanhf(-INFINITY) == -1);
  ck_assert(nnc_erff(INFINITY) == 1 && nnc_erff(-INFINITY) == -1);
  ck_assert(signbit(nnc_tanhf(-0.0f)) && signbit(nnc_erff(-0.0f)));
  ck_assert(isnan(nnc_geluf(NAN)) && isnan(nnc_gelu_gradf(NAN)));
  ck_assert(nnc_geluf(INFINITY) == INFINITY && nnc_geluf(0) == 0);
  ck_assert(nnc_geluf(40) == 40 && nnc_geluf(-40) == 0 && nnc_gelu_gradf(-40) == 0);
  ck_assert(nnc_gelu_gradf(40) == 1 && nnc_gelu_gradf(0) == 0.5f);
}
END_TEST


/* The input transform max(x a[c] + b[c], 0) inside convolutions and
 * max pooling (nnc_conv2d_in, nnc_maxpool2d_in): against the functions
 * run on the transformed input, f32, Winograd's planes and the per-image
 * fallback (a direct-kernel shape), MaxPool2d(2) rows (short and long) and
 * another pooling shape. */
static void in_transform(int64_t n, int64_t c, int64_t hw, const float *x, const float *a,
                         const float *b, float *xt) {
  for (int64_t i = 0; i < n * c * hw; i++) {
    const float v = x[i] * a[i / hw % c] + b[i / hw % c];
    xt[i] = v > 0 ? v : 0;
  }
}

/* A new array of len uniform values in [-1, 1). */
static float *urand_array(nnc_rng *r, int64_t len) {
  float *v = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
  for (int64_t i = 0; i < len; i++)
    v[i] = (float)urand(r);
  return v;
}

/* A transform's per-channel scale (0.5 to 2.5) and shift (|shift| < bmax). */
static void channel_transform(nnc_rng *r, int64_t c, float bmax, float **a, float **b) {
  *a = urand_array(r, c), *b = urand_array(r, c);
  for (int64_t i = 0; i < c; i++)
    (*a)[i] += 1.5f, (*b)[i] *= bmax;
}

static void close_all(const float *want, const float *got, int64_t len, const char *what) {
  for (int64_t i = 0; i < len; i++)
    ck_assert_msg(fabsf(want[i] - got[i]) <= 1e-4f * (1 + fabsf(want[i])),
                  "%s [%lld]: %g vs %g", what, (long long)i, want[i], got[i]);
}

START_TEST(test_input_transform) {
  const nnc_conv_shape convs[] = {
      conv_shape(2, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* Winograd */
      conv_shape(1, 16, 6, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),  /* rows of vectors */
      conv_shape(3, 17, 9, 13, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_shape(1, 16, 5, 29, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1), /* 4x4 tiles, short rows */
      conv_shape(2, 6, 9, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1), /* direct: per image */
  };
  nnc_rng r;
  nnc_rng_seed(&r, 77);
  for (size_t k = 0; k < sizeof convs / sizeof convs[0]; k++) {
    const nnc_conv_shape *s = &convs[k];
    const int64_t nx = s->n * s->c * s->h * s->w, ny = s->n * s->o * s->oh * s->ow;
    const int64_t nw = s->o * s->c * s->kh * s->kw;
    float *x = urand_array(&r, nx), *w = urand_array(&r, nw), *dy = urand_array(&r, ny), *a, *b;
    float *xt = malloc(sizeof(float) * (size_t)nx), *y0 = malloc(sizeof(float) * (size_t)ny);
    float *y1 = malloc(sizeof(float) * (size_t)ny);
    float *dw0 = calloc((size_t)nw, sizeof(float)), *dw1 = calloc((size_t)nw, sizeof(float));
    float *ws = malloc(sizeof(float) * nnc_conv2d_in_workspace(s));
    channel_transform(&r, s->c, 0.5f, &a, &b);
    in_transform(s->n, s->c, s->h * s->w, x, a, b, xt);
    nnc_conv2d_f32(s, xt, w, y0, ws);
    nnc_conv2d_in_f32(s, x, a, b, w, y1, ws);
    close_all(y0, y1, ny, "conv2d_in");
    nnc_conv2d_grad_weight_f32(s, xt, dy, dw0, ws);
    nnc_conv2d_grad_weight_in_f32(s, x, a, b, dy, dw1, ws);
    close_all(dw0, dw1, nw, "conv2d_grad_weight_in");
    free(x), free(xt), free(w), free(y0), free(y1), free(dy), free(dw0), free(dw1);
    free(a), free(b), free(ws);
  }
  const nnc_pool_shape pools[] = {
      pool_shape(2, 3, 6, 28, 2, 2, 2, 2, 0, 0), pool_shape(2, 2, 10, 10, 2, 2, 2, 2, 0, 0),
      pool_shape(1, 2, 7, 9, 2, 2, 2, 2, 0, 0), pool_shape(1, 2, 7, 7, 3, 3, 2, 2, 1, 1),
  };
  for (size_t k = 0; k < sizeof pools / sizeof pools[0]; k++) {
    const nnc_pool_shape *s = &pools[k];
    const int64_t nx = s->n * s->c * s->h * s->w, ny = s->n * s->c * s->oh * s->ow;
    float *x = urand_array(&r, nx), *dy = urand_array(&r, ny), *a, *b;
    float *xt = malloc(sizeof(float) * (size_t)nx), *y0 = malloc(sizeof(float) * (size_t)ny);
    float *y1 = malloc(sizeof(float) * (size_t)ny), *d0 = malloc(sizeof(float) * (size_t)nx);
    float *d1 = malloc(sizeof(float) * (size_t)nx);
    float *ws = malloc(sizeof(float) * nnc_pool2d_in_workspace(s));
    channel_transform(&r, s->c, 0.3f, &a, &b);
    in_transform(s->n, s->c, s->h * s->w, x, a, b, xt);
    nnc_maxpool2d_f32(s, xt, y0);
    nnc_maxpool2d_in_f32(s, x, a, b, y1, ws);
    close_all(y0, y1, ny, "maxpool2d_in");
    for (int relu = 0; relu < 2; relu++) {
      (relu ? nnc_maxpool2d_grad_relu_f32 : nnc_maxpool2d_grad_set_f32)(s, xt, dy, d0);
      nnc_maxpool2d_grad_in_f32(s, x, a, b, dy, d1, relu, ws);
      close_all(d0, d1, nx, relu ? "maxpool2d_grad_in relu" : "maxpool2d_grad_in");
    }
    free(x), free(xt), free(y0), free(y1), free(dy), free(d0), free(d1), free(a), free(b);
    free(ws);
  }
}
END_TEST

static Suite *runtime_suite(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("compute");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_gemm_backend);
  tcase_add_test(tc, test_gemm_portable);
  tcase_add_test(tc, test_gemm_degenerate);
  tcase_add_test(tc, test_gemm_tiles);
  tcase_add_test(tc, test_gemm_packed);
  tcase_add_test(tc, test_gemm_prepacked);
  tcase_add_test(tc, test_gemm_bias);
  tcase_add_test(tc, test_transpose);
  tcase_add_test(tc, test_rng_known);
  tcase_add_test(tc, test_rng_stats);
  tcase_add_test(tc, test_rng_shuffle);
  tcase_add_test(tc, test_init_fill);
  tcase_add_test(tc, test_opt_torch);
  tcase_add_test(tc, test_opt_state_and_clip);
  tcase_add_test(tc, test_metrics);
  tcase_add_test(tc, test_argmax);
  tcase_add_test(tc, test_conv);
  tcase_add_test(tc, test_conv_transposed);
  tcase_add_test(tc, test_conv_im2col_edges);
  tcase_add_test(tc, test_conv_direct);
  tcase_add_test(tc, test_conv_winograd);
  tcase_add_test(tc, test_input_transform);
  tcase_add_test(tc, test_conv_chunks);
  tcase_add_test(tc, test_pool);
  tcase_add_test(tc, test_pool_nan);
  tcase_add_test(tc, test_pool_relu);
  tcase_add_test(tc, test_float_math);
  suite_add_tcase(s, tc);
  TCase *tf = tcase_create("files");
  tcase_add_checked_fixture(tf, tmp_setup, tmp_teardown);
  tcase_add_test(tf, test_st_roundtrip);
  tcase_add_test(tf, test_st_convert);
  tcase_add_test(tf, test_st_header_bytes);
  tcase_add_test(tf, test_st_corrupt);
  tcase_add_test(tf, test_st_lenient);
  tcase_add_test(tf, test_st_shape_message);
  tcase_add_test(tf, test_st_write_errors);
  tcase_add_test(tf, test_idx);
  tcase_add_test(tf, test_idx_errors);
  tcase_add_test(tf, test_idx_fashion);
  tcase_add_test(tf, test_csv);
  tcase_add_test(tf, test_csv_errors);
  tcase_add_test(tf, test_progress);
  tcase_add_test(tf, test_svg);
  suite_add_tcase(s, tf);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(runtime_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
