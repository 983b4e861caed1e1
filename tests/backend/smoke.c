/* smoke.c — runs every entry point of a generated model once on small
 * random inputs (float data normal, index data 0, every symbolic dimension
 * 3), training entries as full steps, and checks that each call succeeds
 * and every float result is finite. Under ASan and UBSan this is the
 * end-to-end memory check of the generated code. Built per model with
 * -DMODEL_DESC=<prefix>_desc -include <model>.h.
 * With an argument, also writes every float result, and for a training
 * entry every gradient of one grad call (before any update), to that file,
 * one number per line (%.9g), for comparing two builds of the same model
 * (fused and unfused); each training entry's steps then run as usual and
 * its parameters are put back, so that an optimizer's response to rounding
 * (Adam follows the sign of a tiny gradient) cannot reach later entries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_DESC
#error "build with -DMODEL_DESC=<prefix>_desc -include <model>.h"
#endif

static const nnc_model_desc *D = &MODEL_DESC;

static int64_t numel(const nnc_arg_info *a, const int64_t *syms, int *ok) {
  int64_t n = 1;
  for (int k = 0; k < a->rank; k++) {
    if (a->dim_sym[k] == -1)
      n *= a->dim_const[k];
    else if (a->dim_sym[k] >= 0)
      n *= a->dim_const[k] * syms[a->dim_sym[k]];
    else
      *ok = 0;
  }
  return n;
}

static size_t esize(nnc_dtype t) { return t == NNC_F64 ? 8 : t == NNC_BOOL ? 1 : 4; }

static void dump_reals(FILE *f, const char *what, const void *v, int64_t n,
                       nnc_dtype t) {
  for (int64_t k = 0; f && k < n; k++)
    fprintf(f, "%s %.9g\n", what,
            t == NNC_F64 ? ((const double *)v)[k] : (double)((const float *)v)[k]);
}

int main(int argc, char **argv) {
  FILE *dump = argc > 1 ? fopen(argv[1], "w") : NULL;
  if (argc > 1 && !dump)
    return 2;
  void *m = D->create();
  if (!m)
    return 2;
  D->init(m, 5);
  nnc_rng r;
  nnc_rng_seed(&r, 9);
  int64_t syms[64];
  for (int i = 0; i < 64; i++)
    syms[i] = 3;
  int bad = 0;
  for (int e = 0; e < D->nentries; e++) /* as nnc --dump-ir=plan --sizes 3 */
    printf("workspace %s %zu\n", D->entries[e].name, D->entries[e].workspace(syms));
  for (int e = 0; e < D->nentries; e++) {
    const nnc_entry_desc *en = &D->entries[e];
    void *in[32] = {0}, *out[32] = {0};
    int ok = 1;
    int64_t on[32];
    for (int i = 0; i < en->nin; i++) {
      int64_t n = numel(&en->in[i], syms, &ok);
      in[i] = calloc((size_t)n + 1, esize(en->in[i].dtype));
      for (int64_t k = 0; en->in[i].dtype == NNC_F32 && k < n; k++)
        ((float *)in[i])[k] = (float)(nnc_rng_uniform(&r) * 0.98 + 0.01);
      for (int64_t k = 0; en->in[i].dtype == NNC_F64 && k < n; k++)
        ((double *)in[i])[k] = nnc_rng_uniform(&r) * 0.98 + 0.01;
    }
    for (int i = 0; i < en->nout; i++) {
      on[i] = numel(&en->out[i], syms, &ok);
      out[i] = calloc((size_t)on[i] + 1, esize(en->out[i].dtype));
    }
    if (!ok) {
      printf("%s: skipped (a dimension is a product of symbols)\n", en->name);
      continue;
    }
    void *saved = NULL;
    size_t pbytes = (size_t)D->nparams * (D->dtype == NNC_F64 ? 8 : 4);
    if (dump && en->kind == NNC_TRAIN) {
      D->zero_grad(m);
      if (en->grad(m, syms, (const void *const *)in, out, NULL, NULL)) {
        printf("%s: grad failed\n", en->name);
        bad++;
      }
      for (int i = 0; i < en->nout; i++)
        if (en->out[i].dtype == NNC_F32 || en->out[i].dtype == NNC_F64)
          dump_reals(dump, en->out[i].name, out[i], on[i], en->out[i].dtype);
      dump_reals(dump, "grad", D->grads(m), D->nparams, D->dtype);
      saved = malloc(pbytes + 1);
      if (saved)
        memcpy(saved, D->params(m), pbytes);
    }
    for (int rep = 0; rep < (en->kind == NNC_TRAIN ? 2 : 1); rep++) {
      int rc = en->call(m, syms, (const void *const *)in, out, NULL);
      if (rc) {
        printf("%s: returned %d\n", en->name, rc);
        bad++;
      }
    }
    for (int i = 0; i < en->nout; i++)
      for (int64_t k = 0; k < on[i]; k++) {
        double v = en->out[i].dtype == NNC_F32   ? ((float *)out[i])[k]
                   : en->out[i].dtype == NNC_F64 ? ((double *)out[i])[k]
                                                  : 0;
        if (!isfinite(v)) {
          printf("%s: result %s is not finite\n", en->name, en->out[i].name);
          bad++;
          break;
        }
      }
    for (int i = 0; dump && en->kind != NNC_TRAIN && i < en->nout; i++)
      if (en->out[i].dtype == NNC_F32 || en->out[i].dtype == NNC_F64)
        dump_reals(dump, en->out[i].name, out[i], on[i], en->out[i].dtype);
    if (saved) {
      memcpy(D->params(m), saved, pbytes);
      free(saved);
    }
    printf("%s %s: ok\n", en->kind == NNC_TRAIN ? "train" : "fn", en->name);
    for (int i = 0; i < en->nin; i++)
      free(in[i]);
    for (int i = 0; i < en->nout; i++)
      free(out[i]);
  }
  if (dump && fclose(dump))
    bad++;
  D->destroy(m);
  return bad ? 1 : 0;
}
