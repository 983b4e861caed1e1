/* harness.c — times the generated training step of one model: median
 * milliseconds per `step` call (forward, backward and optimizer update) at
 * batch B over STEPS calls after WARMUP, and the median of `forward` at
 * batch 1 (inference). Built per model by bench/run.sh with
 * -DMODEL_DESC=<prefix>_desc -include <model>.h. Inputs are uniform
 * pixels in [0, 1) and labels 0..9 from a fixed seed; every buffer is
 * allocated and touched before the timed loop.
 *
 * Usage: harness [B [STEPS [WARMUP [THREADS]]]]. THREADS (default 1) is
 * given to nnc_set_threads: the GEMM library's threads and, in a build with
 * -fopenmp, those of the generated loops. Prints one line per measurement:
 *   nnc <model> train B=64 T=1 median_ms 3.210 samples_per_s 19937 steps 50
 *   nnc <model> infer B=1 T=1 median_ms 0.120 samples_per_s 8333 calls 200
 * and the OpenBLAS core in use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL_DESC
#error "build with -DMODEL_DESC=<prefix>_desc -include <model>.h"
#endif

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

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

static const nnc_entry_desc *entry(const char *name) {
  for (int e = 0; e < D->nentries; e++)
    if (strcmp(D->entries[e].name, name) == 0)
      return &D->entries[e];
  fprintf(stderr, "harness: %s has no entry point %s\n", D->name, name);
  exit(2);
}

/* Elements of argument a with the batch symbol set to b (every symbol of
 * these models is the batch). */
static int64_t numel(const nnc_arg_info *a, int64_t b) {
  int64_t n = 1;
  for (int k = 0; k < a->rank; k++)
    n *= a->dim_const[k] * (a->dim_sym[k] >= 0 ? b : 1);
  return n;
}

/* Allocates the inputs and outputs of entry en at batch b, inputs filled. */
static void make_args(const nnc_entry_desc *en, int64_t b, nnc_rng *r,
                      void **in, void **out) {
  for (int i = 0; i < en->nin; i++) {
    int64_t n = numel(&en->in[i], b);
    in[i] = calloc((size_t)n + 1, 8);
    for (int64_t k = 0; k < n; k++) {
      if (en->in[i].dtype == NNC_I32)
        ((int32_t *)in[i])[k] = (int32_t)(nnc_rng_next(r) % 10);
      else
        ((float *)in[i])[k] = (float)nnc_rng_uniform(r);
    }
  }
  for (int i = 0; i < en->nout; i++)
    out[i] = calloc((size_t)numel(&en->out[i], b) + 1, 8);
}

static void free_args(const nnc_entry_desc *en, void **in, void **out) {
  for (int i = 0; i < en->nin; i++)
    free(in[i]);
  for (int i = 0; i < en->nout; i++)
    free(out[i]);
}

/* Median ms of `calls` calls of en at batch b after `warmup` untimed ones;
 * each call uses a workspace allocated (and touched) once. */
static double time_entry(void *m, const nnc_entry_desc *en, int64_t b,
                         int calls, int warmup, nnc_rng *r) {
  void *in[32] = {0}, *out[32] = {0};
  make_args(en, b, r, in, out);
  int64_t dims[8];
  for (int i = 0; i < 8; i++)
    dims[i] = b;
  size_t wsz = en->workspace(dims);
  void *ws = calloc(wsz + 64, 1);
  double *t = malloc(sizeof(double) * (size_t)calls);
  if (!ws || !t) {
    fprintf(stderr, "harness: out of memory\n");
    exit(2);
  }
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

int main(int argc, char **argv) {
  int64_t batch = argc > 1 ? atoll(argv[1]) : 64;
  int steps = argc > 2 ? atoi(argv[2]) : 50;
  int warmup = argc > 3 ? atoi(argv[3]) : 10;
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (batch < 1 || steps < 1 || warmup < 0 || threads < 1) {
    fprintf(stderr, "usage: harness [B [STEPS [WARMUP [THREADS]]]]\n");
    return 2;
  }
  nnc_set_threads(threads);
#ifdef _OPENMP
  const char *omp = "openmp";
#else
  const char *omp = "no openmp";
#endif
  printf("nnc openblas core %s threads %d, %s\n", openblas_get_corename(),
         openblas_get_num_threads(), omp);
  void *m = D->create();
  if (!m)
    return 2;
  D->init(m, 1);
  nnc_rng r;
  nnc_rng_seed(&r, 7);
  double ms = time_entry(m, entry("step"), batch, steps, warmup, &r);
  printf("nnc %s train B=%lld T=%d median_ms %.3f samples_per_s %.0f steps %d\n",
         D->name, (long long)batch, threads, ms, (double)batch * 1e3 / ms, steps);
  int calls = steps * 4;
  ms = time_entry(m, entry("forward"), 1, calls, warmup, &r);
  printf("nnc %s infer B=1 T=%d median_ms %.4f samples_per_s %.0f calls %d\n",
         D->name, threads, ms, 1e3 / ms, calls);
  D->destroy(m);
  return 0;
}
