/* pair.c — two generated versions of one model in one program: their
 * training steps run in turn on the same inputs, the first of the pair
 * alternating, so that both see the machine in the same state (on a shared
 * machine whose speed moves by a third within minutes, the ratio of the
 * two steps of a pair moves far less than either step). Built by
 * bench/ab.sh with -DMODEL_A=<a's prefix>_desc -DMODEL_B=<prefix>_desc and
 * both headers included.
 *
 * Usage: pair STEPS THREADS [SYM=VALUE]... [INPUT%RANGE]...
 * Prints each version's median and least step time and the median and
 * quartiles of a's time over b's, over each two pairs (one with a first,
 * one with b first). */
#define HARNESS_NO_MAIN
#define MODEL_DESC MODEL_B
#include "harness.c"

static double quantile(double *v, int n, int q) { /* after median() sorted v */
  return v[(n - 1) * q / 4];
}

int main(int argc, char **argv) {
  if (argc < 3 || atoi(argv[1]) < 8 || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: pair STEPS THREADS [SYM=VALUE]... [INPUT%%RANGE]...\n");
    return 2;
  }
  int steps = atoi(argv[1]), threads = atoi(argv[2]);
  const nnc_model_desc *desc[2] = {&MODEL_A, &MODEL_B};
  int64_t dims[16];
  parse_dims(argc, argv, 3, dims);
  nnc_set_threads(threads);
  void *m[2], *in[2][32] = {{0}}, *out[2][32] = {{0}}, *ws[2];
  const nnc_entry_desc *en[2];
  double *t[2], *ratio = xcalloc(sizeof(double) * (size_t)steps);
  int nr = 0;
  for (int v = 0; v < 2; v++) {
    D = desc[v];
    m[v] = D->create();
    if (!m[v])
      return 2;
    D->init(m[v], 1);
    en[v] = entry("step");
    nnc_rng r;
    nnc_rng_seed(&r, 7); /* the same inputs */
    make_args(en[v], dims, &r, argc, argv, in[v], out[v]);
    ws[v] = xmalloc(en[v]->workspace(dims) + 64);
    t[v] = xcalloc(sizeof(double) * (size_t)steps);
  }
  for (int i = -5; i < steps; i++) {
    double s[2];
    for (int k = 0; k < 2; k++) {
      int v = (i + k) & 1; /* a first in even pairs, b first in odd ones */
      double t0 = now_ms();
      int rc = en[v]->call(m[v], dims, (const void *const *)in[v], out[v], ws[v]);
      s[v] = now_ms() - t0;
      if (rc) {
        fprintf(stderr, "pair: step of %s returned %d\n", desc[v]->name, rc);
        return 1;
      }
    }
    if (i >= 0)
      t[0][i] = s[0], t[1][i] = s[1];
    if (i >= 1 && i % 2) /* over two pairs, one with each first: the cost of
                            running first (a colder cache) cancels */
      ratio[nr++] = (t[0][i - 1] + s[0]) / (t[1][i - 1] + s[1]);
  }
  double ma = median(t[0], steps), mb = median(t[1], steps), mr = median(ratio, nr);
  printf("a median %.3f least %.3f ms | b median %.3f least %.3f ms | a/b: median %.3f, "
         "quartiles %.3f %.3f (%d pairs of pairs)\n",
         ma, t[0][0], mb, t[1][0], mr, quantile(ratio, nr, 1), quantile(ratio, nr, 3), nr);
  for (int v = 0; v < 2; v++) {
    desc[v]->destroy(m[v]);
    free_args(en[v], in[v], out[v]);
    free(ws[v]);
    free(t[v]);
  }
  free(ratio);
  return 0;
}
