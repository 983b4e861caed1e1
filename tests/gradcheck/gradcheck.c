/* gradcheck.c — compares every parameter gradient of a generated model's
 * first train entry with central finite differences of its loss (the
 * entry's first result), every evaluation from the same random numbers.
 * Built per model in f64 with
 * -DMODEL_DESC=g_desc -include g.h; prints the worst relative error and
 * exits 1 above the tolerance.   gradcheck [TOLERANCE] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_DESC
#error "build with -DMODEL_DESC=<prefix>_desc -include <model>.h"
#endif

static const nnc_model_desc *D = &MODEL_DESC;

/* The loss at the current parameters, from the same in-graph random
 * numbers every time (dropout masks, noise): the model is re-initialised
 * from the same seed, which reseeds its generator, and its parameters put
 * back. */
static double loss_at(void *m, const nnc_entry_desc *en) {
  static double *keep;
  double *p = D->params(m);
  size_t bytes = sizeof(double) * (size_t)(D->nparams + 1);
  if (!keep && !(keep = malloc(bytes))) {
    fprintf(stderr, "gradcheck: out of memory\n");
    exit(2);
  }
  memcpy(keep, p, bytes);
  D->init(m, 3);
  memcpy(p, keep, bytes);
  double loss = 0;
  void *out[1] = {&loss};
  int64_t dims[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  if (en->grad(m, dims, NULL, out, NULL, NULL) != 0) {
    fprintf(stderr, "gradcheck: the entry failed\n");
    exit(2);
  }
  return loss;
}

int main(int argc, char **argv) {
  double tol = argc > 1 ? atof(argv[1]) : 1e-6;
  if (D->dtype != NNC_F64) {
    fprintf(stderr, "gradcheck: build the model with --dtype f64\n");
    return 2;
  }
  const nnc_entry_desc *en = NULL;
  for (int i = 0; i < D->nentries && !en; i++)
    if (D->entries[i].kind == NNC_TRAIN && D->entries[i].nin == 0)
      en = &D->entries[i];
  if (!en) {
    fprintf(stderr, "gradcheck: no train entry without inputs\n");
    return 2;
  }
  void *m = D->create();
  D->init(m, 3);
  double *p = D->params(m), *g = D->grads(m);
  int64_t n = D->nparams;
  D->zero_grad(m);
  loss_at(m, en);
  double *analytic = malloc(sizeof(double) * (size_t)(n + 1));
  memcpy(analytic, g, sizeof(double) * (size_t)n);
  double worst = 0, h = 1e-5;
  int64_t at = -1;
  for (int64_t i = 0; i < n; i++) {
    double keep = p[i];
    p[i] = keep + h;
    double up = loss_at(m, en);
    p[i] = keep - h;
    double down = loss_at(m, en);
    p[i] = keep;
    double numeric = (up - down) / (2 * h);
    double err = fabs(numeric - analytic[i]) / fmax(1e-6, fabs(numeric) + fabs(analytic[i]));
    if (err > worst)
      worst = err, at = i;
  }
  const char *name = "?";
  for (int i = 0; i < D->ntensors; i++) {
    const nnc_tensor_info *t = &D->tensors[i];
    if (t->role == NNC_PARAM && at >= t->offset && at < t->offset + t->numel)
      name = t->name;
  }
  printf("%lld gradients, worst relative error %.2e%s%s\n", (long long)n, worst,
         at >= 0 ? " at " : "", at >= 0 ? name : "");
  free(analytic);
  D->destroy(m);
  return worst < tol ? 0 : 1;
}
