/* harness.c — times one model that nnc generated: the median milliseconds
 * of its `step` entry (forward, backward and optimizer update) and of its
 * `forward` entry (inference) at the given symbol values, the `forward`
 * at batch 1 when the model has a symbol B, and the peak memory of the
 * training loop. Built per model by bench/run.sh with
 * -DMODEL_DESC=<prefix>_desc -include <model>.h.
 *
 * Usage: harness NAME STEPS WARMUP THREADS [SYM=VALUE]... [INPUT%RANGE]...
 *        harness --sgemm THREADS
 * Symbols not given are 1. Float inputs are uniform in [0, 1); integer
 * inputs uniform in [0, RANGE) (RANGE 10 unless given); bool inputs 0 or 1.
 * THREADS goes to nnc_set_threads: the GEMM library's threads and, in a
 * build with -fopenmp, the generated loops'. Every buffer is allocated and
 * touched before the timed loop; nothing is allocated inside it.
 *
 * Prints one line per measurement, in the format bench/torch_twin.py uses:
 *   nnc NAME train T=1 median_ms 3.210 steps 50 peak_mb 12.5 at B=64
 *   nnc NAME infer T=1 median_ms 1.020 calls 50 at B=64
 *   nnc NAME infer1 T=1 median_ms 0.085 calls 200 at B=1
 * peak_mb is the growth of the process's resident set from before the model
 * is created to the end of the training loop: parameters, gradients,
 * optimizer state, workspace, inputs and whatever the GEMM library
 * allocates. --sgemm prints the GFLOP/s of a 1024x1024x1024 cblas_sgemm
 * (median of 20) as `sgemm T=1 gflops ...`, and both modes print the
 * OpenBLAS core in use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL_DESC
#error "build with -DMODEL_DESC=<prefix>_desc -include <model>.h"
#endif

char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc);

static const nnc_model_desc *D = &MODEL_DESC;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xcalloc(size_t n) {
  void *p = calloc(n, 1);
  if (!p) {
    fprintf(stderr, "harness: out of memory\n");
    exit(2);
  }
  return p;
}

/* Uninitialised: under the PyTorch side's malloc settings (exported for
 * the whole run, bench/run.sh) large blocks come from the heap, where
 * calloc writes its zeros and every page would count as resident. */
static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "harness: out of memory\n");
    exit(2);
  }
  return p;
}

static size_t dtype_size(nnc_dtype t) {
  return t == NNC_F64 ? 8 : t == NNC_BOOL ? 1 : 4;
}

/* A line of /proc/self/status in kB (VmRSS, VmHWM); 0 where there is none. */
static double status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':')
      kb = atof(line + n + 1);
  if (f)
    fclose(f);
  return kb;
}

static const nnc_entry_desc *entry(const char *name) {
  for (int e = 0; e < D->nentries; e++)
    if (strcmp(D->entries[e].name, name) == 0)
      return &D->entries[e];
  fprintf(stderr, "harness: %s has no entry point %s\n", D->name, name);
  exit(2);
}

/* Elements of argument a at symbol values dims. */
static int64_t numel(const nnc_arg_info *a, const int64_t *dims) {
  int64_t n = 1;
  for (int k = 0; k < a->rank; k++)
    n *= a->dim_const[k] * (a->dim_sym[k] >= 0 ? dims[a->dim_sym[k]] : 1);
  return n;
}

/* The range of integer input `name` from the INPUT%RANGE arguments. */
static int64_t range_of(const char *name, int argc, char **argv) {
  size_t n = strlen(name);
  for (int i = 0; i < argc; i++)
    if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '%')
      return atoll(argv[i] + n + 1);
  return 10;
}

/* Allocates the inputs and outputs of entry en at dims, inputs filled. */
static void make_args(const nnc_entry_desc *en, const int64_t *dims, nnc_rng *r,
                      int argc, char **argv, void **in, void **out) {
  for (int i = 0; i < en->nin; i++) {
    int64_t n = numel(&en->in[i], dims);
    int64_t range = range_of(en->in[i].name, argc, argv);
    in[i] = xmalloc(((size_t)n + 1) * dtype_size(en->in[i].dtype)); /* filled below */
    for (int64_t k = 0; k < n; k++) {
      if (en->in[i].dtype == NNC_I32)
        ((int32_t *)in[i])[k] = (int32_t)(nnc_rng_next(r) % (uint64_t)range);
      else if (en->in[i].dtype == NNC_BOOL)
        ((unsigned char *)in[i])[k] = (unsigned char)(nnc_rng_next(r) & 1);
      else if (en->in[i].dtype == NNC_F64)
        ((double *)in[i])[k] = nnc_rng_uniform(r);
      else
        ((float *)in[i])[k] = (float)nnc_rng_uniform(r);
    }
  }
  for (int i = 0; i < en->nout; i++)
    out[i] = xmalloc(((size_t)numel(&en->out[i], dims) + 1) *
                     dtype_size(en->out[i].dtype));
}

static void free_args(const nnc_entry_desc *en, void **in, void **out) {
  for (int i = 0; i < en->nin; i++)
    free(in[i]);
  for (int i = 0; i < en->nout; i++)
    free(out[i]);
}

/* Median ms of `calls` calls of en at dims after `warmup` untimed ones;
 * each call uses a workspace allocated (and touched) once. */
static double time_entry(void *m, const nnc_entry_desc *en, const int64_t *dims,
                         int calls, int warmup, nnc_rng *r, int argc,
                         char **argv) {
  void *in[32] = {0}, *out[32] = {0};
  make_args(en, dims, r, argc, argv, in, out);
  void *ws = xmalloc(en->workspace(dims) + 64); /* what a call uses, it writes */
  double *t = xcalloc(sizeof(double) * (size_t)calls);
  for (int i = 0; i < warmup + calls; i++) {
    double t0 = now_ms();
    int rc = en->call(m, dims, (const void *const *)in, out, ws);
    double t1 = now_ms();
    if (rc) {
      fprintf(stderr, "harness: %s returned %d\n", en->name, rc);
      exit(1);
    }
    if (i >= warmup)
      t[i - warmup] = t1 - t0;
  }
  double med = median(t, calls);
  free(t);
  free(ws);
  free_args(en, in, out);
  return med;
}

/* "B=64 T=32": the symbol values, for the output lines. */
static void dims_text(const int64_t *dims, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = 0;
  for (int s = 0; s < D->nsyms && at < len; s++)
    at += (size_t)snprintf(buf + at, len - at, "%s%s=%lld", s ? " " : "",
                           D->syms[s], (long long)dims[s]);
}

static int sgemm(int threads) {
  enum { N = 1024, REPS = 20 };
  float *a = xcalloc(sizeof(float) * N * N), *b = xcalloc(sizeof(float) * N * N),
        *c = xcalloc(sizeof(float) * N * N);
  for (int i = 0; i < N * N; i++) {
    a[i] = (float)(i % 7) * 0.25f;
    b[i] = (float)(i % 5) * 0.5f;
  }
  double t[REPS];
  cblas_sgemm(101, 111, 111, N, N, N, 1, a, N, b, N, 0, c, N); /* warm-up */
  for (int i = 0; i < REPS; i++) {
    double t0 = now_ms();
    cblas_sgemm(101, 111, 111, N, N, N, 1, a, N, b, N, 0, c, N);
    t[i] = now_ms() - t0;
  }
  printf("sgemm T=%d gflops %.1f\n", threads,
         2.0 * N * N * N / (median(t, REPS) * 1e6));
  free(a);
  free(b);
  free(c);
  return 0;
}

/* Symbol values from the SYM=VALUE arguments (argv[first] on; 1 when not
 * given); returns the index of symbol B, -1 when the model has none. */
static int parse_dims(int argc, char **argv, int first, int64_t *dims) {
  int batch = -1;
  for (int s = 0; s < 16; s++)
    dims[s] = 1;
  for (int s = 0; s < D->nsyms && s < 16; s++) {
    size_t n = strlen(D->syms[s]);
    for (int i = first; i < argc; i++)
      if (strncmp(argv[i], D->syms[s], n) == 0 && argv[i][n] == '=')
        dims[s] = atoll(argv[i] + n + 1);
    if (strcmp(D->syms[s], "B") == 0)
      batch = s;
  }
  return batch;
}

#ifndef HARNESS_NO_MAIN /* bench/pair.c has its own */
int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--sgemm") == 0) {
    int threads = atoi(argv[2]);
    nnc_set_threads(threads < 1 ? 1 : threads);
    openblas_set_num_threads(threads < 1 ? 1 : threads); /* the library's own */
    printf("nnc openblas core %s threads %d\n", openblas_get_corename(),
           openblas_get_num_threads());
    return sgemm(threads);
  }
  if (argc < 5) {
    fprintf(stderr, "usage: harness NAME STEPS WARMUP THREADS [SYM=VALUE]... "
                    "[INPUT%%RANGE]...\n       harness --sgemm THREADS\n");
    return 2;
  }
  const char *name = argv[1];
  int steps = atoi(argv[2]), warmup = atoi(argv[3]), threads = atoi(argv[4]);
  if (steps < 1 || warmup < 0 || threads < 1) {
    fprintf(stderr, "harness: bad STEPS, WARMUP or THREADS\n");
    return 2;
  }
  int64_t dims[16];
  int batch = parse_dims(argc, argv, 5, dims);
  nnc_set_threads(threads);
#ifdef _OPENMP
  const char *omp = "openmp";
#else
  const char *omp = "no openmp";
#endif
  printf("nnc openblas core %s threads %d, %s\n", openblas_get_corename(),
         openblas_get_num_threads(), omp);
  double base_kb = status_kb("VmRSS");
  void *m = D->create();
  if (!m)
    return 2;
  D->init(m, 1);
  nnc_rng r;
  nnc_rng_seed(&r, 7);
  char at[256];
  dims_text(dims, at, sizeof at);
  double ms = time_entry(m, entry("step"), dims, steps, warmup, &r, argc, argv);
  double peak_mb = (status_kb("VmHWM") - base_kb) / 1024;
  printf("nnc %s train T=%d median_ms %.3f steps %d peak_mb %.1f at %s\n", name,
         threads, ms, steps, peak_mb, at);
  ms = time_entry(m, entry("forward"), dims, steps, warmup, &r, argc, argv);
  printf("nnc %s infer T=%d median_ms %.3f calls %d at %s\n", name, threads, ms,
         steps, at);
  if (batch >= 0) {
    int64_t one[16];
    memcpy(one, dims, sizeof one);
    one[batch] = 1;
    dims_text(one, at, sizeof at);
    int calls = steps * 4;
    ms = time_entry(m, entry("forward"), one, calls, warmup, &r, argc, argv);
    printf("nnc %s infer1 T=%d median_ms %.4f calls %d at %s\n", name, threads,
           ms, calls, at);
  }
  D->destroy(m);
  return 0;
}
#endif
