/* driver.c — runs one entry point of a generated model on tensors read from
 * a safetensors file and writes everything it computed to another, for the
 * PyTorch conformance and gradient-check tests. Built per model with
 * -DMODEL_DESC=mlp_desc -include mlp.h.
 *
 *   driver init SEED OUT.st
 *       initialise the model from SEED and save its parameters and buffers
 *   driver run WEIGHTS.st ENTRY IN.st OUT.st [--step [N]] [--opt SPEC] SYM=VALUE...
 *       load the weights, read the entry's inputs (by argument name) from
 *       IN.st, run it and write its results as `out.NAME`; a train entry
 *       also writes `grad.PARAM` for every parameter and `dx.INPUT` for
 *       every float input, and with --step then applies the optimizer (N
 *       times, each after a fresh gradient on the same inputs) and writes
 *       the new `param.NAME` and `buffer.NAME` values. --opt replaces the
 *       entry's optimizer settings: KIND,lr,momentum,nesterov,weight_decay
 *       (KIND: sgd, adam or adamw). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_DESC
#error "build with -DMODEL_DESC=<prefix>_desc -include <model>.h"
#endif

static const nnc_model_desc *D = &MODEL_DESC;

static size_t esize(nnc_dtype t) {
  return t == NNC_F64 ? 8 : t == NNC_BOOL ? 1 : 4;
}

static int64_t dim_of(const nnc_arg_info *a, int k, const int64_t *syms) {
  if (a->dim_sym[k] == -1)
    return a->dim_const[k];
  if (a->dim_sym[k] >= 0)
    return a->dim_const[k] * syms[a->dim_sym[k]];
  fprintf(stderr, "driver: dimension %s is not supported\n", a->dim_text[k]);
  exit(2);
}

static void fill_shape(nnc_st_tensor *t, const nnc_arg_info *a, const int64_t *syms) {
  t->dtype = a->dtype;
  t->rank = a->rank;
  for (int k = 0; k < a->rank; k++)
    t->shape[k] = dim_of(a, k, syms);
}

static int64_t numel(const nnc_st_tensor *t) {
  int64_t n = 1;
  for (int k = 0; k < t->rank; k++)
    n *= t->shape[k];
  return n;
}

/* Everything allocated here, freed at the end (LeakSanitizer reads the
 * sanitizer build's runs). */
typedef struct Owned {
  void *p[16384];
  int n;
} Owned;

static void *own(Owned *o, void *p) {
  if (!p || o->n == (int)(sizeof o->p / sizeof *o->p)) {
    fprintf(stderr, "driver: out of memory\n");
    exit(2);
  }
  return o->p[o->n++] = p;
}

static void free_all(Owned *o) {
  for (int i = 0; i < o->n; i++)
    free(o->p[i]);
  o->n = 0;
}

static Owned owned;

static char *name2(const char *a, const char *b) {
  char *s = own(&owned, malloc(strlen(a) + strlen(b) + 2));
  sprintf(s, "%s.%s", a, b);
  return s;
}

int main(int argc, char **argv) {
  char err[512];
  void *m = D->create();
  if (!m)
    return 2;
  if (argc == 4 && !strcmp(argv[1], "init")) {
    D->init(m, strtoull(argv[2], NULL, 10));
    int rc = D->save(m, argv[3]);
    D->destroy(m);
    return rc ? 1 : 0;
  }
  if (argc < 6 || strcmp(argv[1], "run")) {
    fprintf(stderr, "usage: driver init SEED OUT | run W ENTRY IN OUT [--step] SYM=V...\n");
    return 2;
  }
  D->init(m, 1);
  if (D->load(m, argv[2], err, sizeof err)) {
    fprintf(stderr, "driver: %s\n", err);
    return 1;
  }
  const nnc_entry_desc *en = NULL;
  for (int i = 0; i < D->nentries; i++)
    if (!strcmp(D->entries[i].name, argv[3]))
      en = &D->entries[i];
  if (!en) {
    fprintf(stderr, "driver: no entry %s\n", argv[3]);
    return 2;
  }
  int step = 0;
  const char *opt = NULL;
  int64_t syms[16] = {0};
  for (int i = 6; i < argc; i++) {
    if (!strcmp(argv[i], "--step")) {
      step = 1;
      if (i + 1 < argc && strchr("0123456789", argv[i + 1][0]))
        step = atoi(argv[++i]);
      continue;
    }
    if (!strcmp(argv[i], "--opt") && i + 1 < argc) {
      opt = argv[++i];
      continue;
    }
    char *eq = strchr(argv[i], '=');
    for (int s = 0; eq && s < D->nsyms; s++)
      if ((size_t)(eq - argv[i]) == strlen(D->syms[s]) && !strncmp(argv[i], D->syms[s], (size_t)(eq - argv[i])))
        syms[s] = atoll(eq + 1);
  }
  /* inputs */
  nnc_st_tensor in[16];
  const void *inp[16];
  for (int i = 0; i < en->nin; i++) {
    in[i].name = en->in[i].name;
    fill_shape(&in[i], &en->in[i], syms);
    in[i].data = own(&owned, calloc((size_t)numel(&in[i]) + 1, esize(in[i].dtype)));
    inp[i] = in[i].data;
  }
  if (nnc_st_read(argv[4], in, en->nin, err, sizeof err)) {
    fprintf(stderr, "driver: %s\n", err);
    return 1;
  }
  /* outputs, gradients */
  int no = 0;
  nnc_st_tensor o[4096];
  void *outp[16], *dx[16] = {0};
  for (int i = 0; i < en->nout; i++) {
    o[no].name = name2("out", en->out[i].name);
    fill_shape(&o[no], &en->out[i], syms);
    o[no].data = own(&owned, calloc((size_t)numel(&o[no]) + 1, esize(o[no].dtype)));
    outp[i] = o[no++].data;
  }
  int rc;
  if (en->kind == NNC_TRAIN) {
    for (int i = 0; i < en->nin; i++)
      if (in[i].dtype == NNC_F32 || in[i].dtype == NNC_F64) {
        o[no] = in[i];
        o[no].name = name2("dx", in[i].name);
        o[no].data = own(&owned, calloc((size_t)numel(&in[i]) + 1, esize(in[i].dtype)));
        dx[i] = o[no++].data;
      }
    D->zero_grad(m);
    rc = en->grad(m, syms, inp, outp, dx, NULL);
  } else
    rc = en->call(m, syms, inp, outp, NULL);
  if (rc) {
    fprintf(stderr, "driver: entry returned %d\n", rc);
    return 1;
  }
  /* parameter gradients: read through the tensor table */
  for (int i = 0; en->kind == NNC_TRAIN && i < D->ntensors; i++) {
    const nnc_tensor_info *t = &D->tensors[i];
    if (t->role != NNC_PARAM)
      continue;
    o[no].name = name2("grad", t->name);
    o[no].dtype = t->dtype;
    o[no].rank = t->rank;
    memcpy(o[no].shape, t->shape, sizeof t->shape);
    o[no].data = own(&owned, malloc((size_t)t->numel * esize(t->dtype) + 1));
    memcpy(o[no].data, (char *)D->grads(m) + t->offset * (int64_t)esize(t->dtype),
           (size_t)t->numel * esize(t->dtype));
    no++;
  }
  if (opt && en->kind == NNC_TRAIN) {
    nnc_opt_settings *s = en->settings(m);
    char kind[16] = {0};
    double lr = 0, mom = 0, wd = 0;
    int nest = 0;
    if (sscanf(opt, "%15[a-z],%lf,%lf,%d,%lf", kind, &lr, &mom, &nest, &wd) != 5) {
      fprintf(stderr, "driver: bad --opt %s\n", opt);
      return 2;
    }
    s->kind = !strcmp(kind, "sgd") ? NNC_SGD : !strcmp(kind, "adamw") ? NNC_ADAMW : NNC_ADAM;
    s->lr = lr;
    s->momentum = mom;
    s->nesterov = nest;
    s->weight_decay = wd;
  }
  for (int k = 0; k < step && en->kind == NNC_TRAIN; k++) {
    if (k > 0) { /* a fresh gradient, recorded as grad@K.NAME */
      D->zero_grad(m);
      if (en->grad(m, syms, inp, outp, dx, NULL))
        return 1;
      for (int i = 0; i < D->ntensors; i++) {
        const nnc_tensor_info *t = &D->tensors[i];
        if (t->role != NNC_PARAM)
          continue;
        char tag[32];
        snprintf(tag, sizeof tag, "grad@%d", k);
        o[no].name = name2(tag, t->name);
        o[no].dtype = t->dtype;
        o[no].rank = t->rank;
        memcpy(o[no].shape, t->shape, sizeof t->shape);
        o[no].data = own(&owned, malloc((size_t)t->numel * esize(t->dtype) + 1));
        memcpy(o[no].data, (char *)D->grads(m) + t->offset * (int64_t)esize(t->dtype),
               (size_t)t->numel * esize(t->dtype));
        no++;
      }
    }
    en->update(m);
  }
  if (step && en->kind == NNC_TRAIN) {
    for (int i = 0; i < D->ntensors; i++) {
      const nnc_tensor_info *t = &D->tensors[i];
      o[no].name = name2(t->role == NNC_PARAM ? "param" : "buffer", t->name);
      o[no].dtype = t->dtype;
      o[no].rank = t->rank;
      memcpy(o[no].shape, t->shape, sizeof t->shape);
      const char *base = t->role == NNC_PARAM ? (char *)D->params(m) : (char *)D->buffers(m);
      o[no].data = own(&owned, malloc((size_t)t->numel * esize(t->dtype) + 1));
      memcpy(o[no].data, base + t->offset * (t->role == NNC_PARAM ? (int64_t)esize(t->dtype) : 1),
             (size_t)t->numel * esize(t->dtype));
      no++;
    }
  }
  if (nnc_st_write(argv[5], o, no, err, sizeof err)) {
    fprintf(stderr, "driver: %s\n", err);
    return 1;
  }
  D->destroy(m);
  free_all(&owned);
  return 0;
}
