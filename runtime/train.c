/* train.c — the generic trainer behind `nnc train`: trains any classifier
 * described by an nnc_model_desc (a train entry taking (x, y) and returning
 * the loss, an inference entry returning logits) on an IDX or CSV data set.
 * It splits off a validation set with the seeded shuffle, normalises with
 * the training split's statistics, runs shuffled mini-batches with a
 * progress bar, stops early on the validation loss, keeps checkpoints, and
 * ends with the test accuracy, the confusion matrix, per-class precision,
 * recall and F1, report.txt and learning_curves.svg. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc_internal.h"
#include "nnc_train.h"

#define EVAL_BATCH 512 /* examples per inference call in evaluation */
#define TRAIN_ACC_EXAMPLES 10000 /* training examples scored per epoch */

/* ------------------------------------------------------------ messages */

static void error(const char *fmt, ...) NNC_PRINTF(1, 2);
static void error(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("nnc train: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void warning(const char *fmt, ...) NNC_PRINTF(1, 2);
static void warning(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("nnc train: warning: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ------------------------------------------------------------- options */

typedef enum Scaling { SCALE_AUTO, SCALE_STANDARD, SCALE_UNIT } Scaling;

typedef struct TrainOpts {
  const char *data, *test, *checkpoint, *resume, *out;
  const char *entry, *init_from;
  nnc_augment aug; /* all zero: off */
  Scaling scaling;
  double test_fraction, val_fraction, lr;
  int has_lr, quiet, threads;
  int cosine; /* --lr-schedule cosine */
  int64_t limit, epochs, batch, patience;
  uint64_t seed;
} TrainOpts;

/* Prints `text` wrapped to 78 columns, continuation lines at `indent`. */
static void wrap(FILE *f, const char *text, int col, int indent) {
  const char *s = text;
  while (*s) {
    const char *e = s;
    while (*e && *e != ' ')
      e++;
    int w = (int)(e - s);
    if (col > indent && col + 1 + w > 78) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    fwrite(s, 1, (size_t)w, f);
    col += w;
    s = *e ? e + 1 : e;
  }
  fputc('\n', f);
}

void nnc_train_usage(FILE *f) {
#define X(opt, meta, help)                                                     \
  {                                                                            \
    char head[40];                                                             \
    snprintf(head, sizeof head, "  %s%s%s", opt, meta ? " " : "",              \
             meta ? (const char *)meta : "");                                  \
    fprintf(f, "%-22s", head);                                                 \
    if (strlen(head) >= 22)                                                    \
      fprintf(f, "\n%22s", "");                                                \
    wrap(f, help, 22, 22);                                                     \
  }
  NNC_TRAIN_OPTIONS(X)
#undef X
}

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo) {
    error("%s needs an integer >= %lld, not '%s'", opt, (long long)lo, v);
    return 2;
  }
  *out = x;
  return 0;
}

static int parse_real(const char *opt, const char *v, double lo, double hi,
                      int hi_open, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= lo) || x > hi ||
      (hi_open && x >= hi)) {
    error("%s needs a number in [%g, %g%s, not '%s'", opt, lo, hi,
          hi_open ? ")" : "]", v);
    return 2;
  }
  *out = x;
  return 0;
}

/* Sets option `opt` (a name of NNC_TRAIN_OPTIONS that takes a value). */
static int set_opt(TrainOpts *o, const char *opt, const char *v) {
  int64_t n = 0;
  int rc = 0;
  char err[256];
  if (!strcmp(opt, "--data"))
    o->data = v;
  else if (!strcmp(opt, "--entry"))
    o->entry = v;
  else if (!strcmp(opt, "--init-from"))
    o->init_from = v;
  else if (!strcmp(opt, "--augment")) {
    if (nnc_augment_parse(v, &o->aug, err, sizeof err) != 0) {
      error("--augment %s: %s", v, err);
      rc = 2;
    }
  } else if (!strcmp(opt, "--normalise")) {
    o->scaling = !strcmp(v, "standard") ? SCALE_STANDARD
                 : !strcmp(v, "unit")   ? SCALE_UNIT
                                        : SCALE_AUTO;
    if (o->scaling == SCALE_AUTO) {
      error("--normalise is standard or unit, not '%s'", v);
      rc = 2;
    }
  }
  else if (!strcmp(opt, "--test"))
    o->test = v;
  else if (!strcmp(opt, "--checkpoint"))
    o->checkpoint = v;
  else if (!strcmp(opt, "--resume"))
    o->resume = v;
  else if (!strcmp(opt, "--out"))
    o->out = v;
  else if (!strcmp(opt, "--test-fraction"))
    rc = parse_real(opt, v, 0, 1, 1, &o->test_fraction);
  else if (!strcmp(opt, "--val-fraction"))
    rc = parse_real(opt, v, 0, 1, 1, &o->val_fraction);
  else if (!strcmp(opt, "--lr-schedule")) {
    if (strcmp(v, "constant") && strcmp(v, "cosine")) {
      error("--lr-schedule needs constant or cosine, not '%s'", v);
      rc = 2;
    }
    o->cosine = !strcmp(v, "cosine");
  } else if (!strcmp(opt, "--lr")) {
    rc = parse_real(opt, v, 0, 1e6, 0, &o->lr);
    o->has_lr = 1;
  } else if (!strcmp(opt, "--limit"))
    rc = parse_int(opt, v, 0, &o->limit);
  else if (!strcmp(opt, "--epochs"))
    rc = parse_int(opt, v, 0, &o->epochs);
  else if (!strcmp(opt, "--batch"))
    rc = parse_int(opt, v, 1, &o->batch);
  else if (!strcmp(opt, "--patience"))
    rc = parse_int(opt, v, 0, &o->patience);
  else if (!strcmp(opt, "--seed")) {
    rc = parse_int(opt, v, 0, &n);
    o->seed = (uint64_t)n;
  } else if (!strcmp(opt, "--threads")) {
    rc = parse_int(opt, v, 0, &n);
    o->threads = n > 4096 ? 4096 : (int)n;
  }
  return rc;
}

/* Returns 0, 2 on bad usage, or -1 when --help was printed. */
static int parse_opts(TrainOpts *o, int argc, char **argv) {
  o->data = NNC_TRAIN_DEFAULT_DATA;
  o->out = ".";
  o->test_fraction = 0.1;
  o->val_fraction = 0.1;
  o->epochs = 5;
  o->batch = 64;
  o->seed = 42;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const char *meta = NULL, *name = NULL;
#define X(opt, mt, help)                                                       \
  if (!name && strlen(opt) == len && !strncmp(a, opt, len)) {                  \
    name = opt;                                                                \
    meta = mt;                                                                 \
  }
    NNC_TRAIN_OPTIONS(X)
#undef X
    if (!name) {
      error("unknown option '%s' (see --help)", a);
      return 2;
    }
    if (!meta && eq) {
      error("option %s takes no value", name);
      return 2;
    }
    if (!strcmp(name, "--help")) {
      printf("usage: %s [options]\n\n", argv[0]);
      nnc_train_usage(stdout);
      return -1;
    }
    if (!strcmp(name, "--quiet")) {
      o->quiet = 1;
      continue;
    }
    if (!eq && i + 1 >= argc) {
      error("option %s needs a value (%s)", name, meta);
      return 2;
    }
    int rc = set_opt(o, name, eq ? eq + 1 : argv[++i]);
    if (rc)
      return rc;
  }
  if (o->init_from && o->resume) {
    error("--init-from and --resume exclude each other (--resume continues "
          "a run with all its weights; --init-from starts one from some)");
    return 2;
  }
  return 0;
}

/* --------------------------------------------------------------- files */

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p */
static int make_dirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0)
      continue;
    char c = buf[i];
    buf[i] = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return -1;
    buf[i] = c;
  }
  return is_dir(path) ? 0 : -1;
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s/%s", dir, name);
  return s;
}

/* DIR/STEM.gz, else DIR/STEM; NULL when neither exists. */
static char *find_idx(const char *dir, const char *stem) {
  char gz[512];
  snprintf(gz, sizeof gz, "%s.gz", stem);
  char *p = join(dir, gz);
  if (p && is_file(p))
    return p;
  free(p);
  p = join(dir, stem);
  if (p && is_file(p))
    return p;
  free(p);
  return NULL;
}

/* ---------------------------------------------------------------- data */

typedef struct Data {
  nnc_dataset train, test; /* test unused (n == 0) when split off train */
  const nnc_dataset *teset;
  int64_t *tr, *va, *te; /* example indices into train (tr, va), teset */
  int64_t ntr, nva, nte;
  double mean, std;
  float *shift, *scale; /* per feature (standard scaling), else NULL */
  double unit_div;      /* unit scaling: what raw values were divided by */
  const char *kind;     /* "IDX" or "CSV" */
} Data;

static int load_idx_dir(const char *dir, const char *prefix, nnc_dataset *ds) {
  char is[64], ls[64], err[512];
  snprintf(is, sizeof is, "%s-images-idx3-ubyte", prefix);
  snprintf(ls, sizeof ls, "%s-labels-idx1-ubyte", prefix);
  char *ip = find_idx(dir, is), *lp = find_idx(dir, ls);
  int rc = 1;
  if (!ip || !lp)
    error("%s has no %s[.gz] and %s[.gz]: an IDX data set directory holds "
          "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
          "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz",
          dir, ip ? ls : is, lp ? is : ls);
  else if (nnc_idx_load(ip, lp, ds, err, sizeof err) != 0)
    error("cannot read the data set in %s: %s", dir, err);
  else
    rc = 0;
  free(ip);
  free(lp);
  return rc;
}

static int load_any(const char *path, const char *prefix, nnc_dataset *ds) {
  char err[512];
  if (is_dir(path))
    return load_idx_dir(path, prefix, ds);
  if (!is_file(path)) {
    struct stat st;
    const char *why =
        stat(path, &st) != 0 ? strerror(errno) : "not a file or directory";
    error(
        "data set '%s' not found (%s): --data takes a directory of IDX "
        "files or a CSV file%s",
        path, why,
        strcmp(path, NNC_TRAIN_DEFAULT_DATA)
            ? ""
            : "; the default data set comes with Debian's package "
              "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)");
    return 1;
  }
  if (nnc_csv_load(path, NULL, ds, err, sizeof err) != 0) {
    error("cannot read the data set %s: %s", path, err);
    return 1;
  }
  return 0;
}

static int64_t *iota(int64_t n) {
  int64_t *v = malloc(sizeof *v * (size_t)(n ? n : 1));
  for (int64_t i = 0; v && i < n; i++)
    v[i] = i;
  return v;
}

static int64_t *copy_idx(const int64_t *src, int64_t n) {
  int64_t *v = malloc(sizeof *v * (size_t)(n ? n : 1));
  if (v && n)
    memcpy(v, src, sizeof *v * (size_t)n);
  return v;
}

/* Splits the first `limit` training examples, shuffled with the seed, into
 * test (CSV without a test set), validation and training indices. */
static int split(Data *dt, const TrainOpts *o) {
  int64_t n = dt->train.n;
  if (o->limit && o->limit < n)
    n = o->limit;
  int64_t *all = iota(n);
  if (!all)
    return 1;
  nnc_rng r;
  nnc_rng_seed(&r, o->seed);
  nnc_rng_shuffle(&r, all, n);
  int64_t at = 0;
  if (dt->teset == &dt->train) {
    dt->nte = (int64_t)floor(o->test_fraction * (double)n + 0.5);
    dt->te = copy_idx(all, dt->nte);
    at = dt->nte;
  }
  dt->nva = (int64_t)floor(o->val_fraction * (double)(n - at) + 0.5);
  dt->va = copy_idx(all + at, dt->nva);
  at += dt->nva;
  dt->ntr = n - at;
  dt->tr = copy_idx(all + at, dt->ntr);
  free(all);
  if (dt->teset != &dt->train) {
    dt->nte = dt->teset->n;
    dt->te = iota(dt->nte);
  }
  if (!dt->tr || !dt->va || !dt->te)
    return 1;
  if (dt->ntr < 1 || dt->nte < 1) {
    error("too few examples: %lld for training and %lld for testing after "
          "the splits (--limit, --val-fraction, --test-fraction)",
          (long long)dt->ntr, (long long)dt->nte);
    return 1;
  }
  return 0;
}

/* Dataset normalisation (notes §3.4) with the training split's statistics:
 * each feature shifted by its mean and divided by its standard deviation
 * (plus 0.01, so features that barely vary, such as an image's always-black
 * corners, stay small), applied to every example as it is gathered into a
 * batch (after augmentation, which works on the raw pixels). Per-feature
 * statistics train the MLP to about a point of test accuracy better than
 * one global mean and deviation in the same 5 epochs. */
static int normalise(Data *dt) {
  const nnc_dataset *d = &dt->train;
  int64_t dim = d->dim;
  double *s = calloc((size_t)dim + 1, sizeof *s), *ss = calloc((size_t)dim + 1, sizeof *ss);
  float *shift = malloc(sizeof(float) * (size_t)(dim + 1)), *scale = malloc(sizeof(float) * (size_t)(dim + 1));
  if (!s || !ss || !shift || !scale) {
    free(s), free(ss), free(shift), free(scale);
    error("out of memory normalising the data");
    return 1;
  }
  for (int64_t i = 0; i < dt->ntr; i++) {
    const float *x = d->x + dt->tr[i] * dim;
    for (int64_t j = 0; j < dim; j++) {
      s[j] += x[j];
      ss[j] += (double)x[j] * x[j];
    }
  }
  double n = dt->ntr > 0 ? (double)dt->ntr : 1, msum = 0, ssum = 0;
  for (int64_t j = 0; j < dim; j++) {
    double mean = s[j] / n, var = ss[j] / n - mean * mean;
    double std = var > 0 ? sqrt(var) : 0;
    shift[j] = (float)mean;
    scale[j] = (float)(1.0 / (std + 0.01));
    msum += mean;
    ssum += std;
  }
  dt->mean = msum / (double)(dim ? dim : 1);
  dt->std = ssum / (double)(dim ? dim : 1);
  dt->shift = shift;
  dt->scale = scale;
  free(s);
  free(ss);
  return 0;
}

/* Unit scaling, for models whose outputs are compared with their inputs
 * (sigmoid reconstructions): values in [0, 1]. IDX pixels already are;
 * data with values above 1 (CSV pixels) is divided by 255. */
static void unit_scale(Data *dt) {
  nnc_dataset *sets[2] = {&dt->train, &dt->test};
  float mx = 0;
  for (int k = 0; k < 2; k++)
    for (int64_t i = 0; i < sets[k]->n * sets[k]->dim; i++)
      mx = sets[k]->x[i] > mx ? sets[k]->x[i] : mx;
  dt->unit_div = mx > 1 ? 255 : 1;
  for (int k = 0; mx > 1 && k < 2; k++)
    for (int64_t i = 0; i < sets[k]->n * sets[k]->dim; i++)
      sets[k]->x[i] /= 255.0f;
}

static int load_data(Data *dt, const TrainOpts *o) {
  dt->kind = is_dir(o->data) ? "IDX" : "CSV";
  if (load_any(o->data, "train", &dt->train))
    return 1;
  if (o->test) {
    if (load_any(o->test, "t10k", &dt->test))
      return 1;
  } else if (is_dir(o->data)) {
    if (load_idx_dir(o->data, "t10k", &dt->test))
      return 1;
  }
  dt->teset = dt->test.n ? &dt->test : &dt->train;
  if (dt->test.n && dt->test.dim != dt->train.dim) {
    error("the test set has %lld features per example, the training set %lld",
          (long long)dt->test.dim, (long long)dt->train.dim);
    return 1;
  }
  return split(dt, o);
}

static void free_data(Data *dt) {
  nnc_dataset_free(&dt->train);
  nnc_dataset_free(&dt->test);
  free(dt->tr);
  free(dt->va);
  free(dt->te);
  free(dt->shift);
  free(dt->scale);
}

/* Labels must be class numbers of the model: 0 <= y < k. */
static int check_labels(const Data *dt, int64_t k) {
  const nnc_dataset *sets[2] = {&dt->train, dt->teset};
  const int64_t *idx[3] = {dt->tr, dt->va, dt->te};
  const int64_t n[3] = {dt->ntr, dt->nva, dt->nte};
  for (int s = 0; s < 3; s++) {
    const nnc_dataset *d = sets[s == 2];
    for (int64_t i = 0; i < n[s]; i++) {
      int32_t y = d->y[idx[s][i]];
      if (y < 0 || y >= k) {
        error("label %ld of the %s set is out of range: the model's "
              "inference entry returns %lld logits per example (classes 0 "
              "to %lld)",
              (long)y, s == 2 ? "test" : "training", (long long)k,
              (long long)k - 1);
        return 1;
      }
    }
  }
  return 0;
}

/* ---------------------------------------------------- model entry points */

typedef struct Plan {
  const nnc_entry_desc *tr; /* the train entry */
  const nnc_entry_desc *ev; /* with labels: the entry returning logits */
  const nnc_entry_desc *rec; /* without: one returning x's shape, or NULL */
  const nnc_entry_desc *dec; /* without: `decode` from a code, or NULL */
  int labels;       /* whether tr takes labels (x, y) or x alone */
  int bsym;         /* the batch symbol */
  int64_t k;        /* classes: logits per example (0 without labels) */
  int64_t features; /* product of the data input's non-batch dimensions */
  int64_t latent;   /* the code size of dec */
  int64_t ch, h, w; /* image geometry of an example (h == 0: unknown) */
  nnc_dtype xdtype; /* the data input's dtype (F32 or F64) */
} Plan;

static int is_real(nnc_dtype t) { return t == NNC_F32 || t == NNC_F64; }

/* Elements of argument a when only the batch symbol is known (b); -1 if
 * it involves another symbol. A dimension is a constant (sym < 0,
 * dim_const >= 1) or symbol `sym` times dim_const (a coefficient; 0 reads
 * as 1); anything else, such as a product of symbols described only by
 * dim_text, is unknown. */
static int64_t arg_numel(const nnc_arg_info *a, int bsym, int64_t b) {
  int64_t n = 1;
  for (int i = 0; i < a->rank; i++) {
    if (a->dim_sym[i] >= 0 && a->dim_sym[i] != bsym)
      return -1;
    int64_t v = a->dim_sym[i] >= 0
                    ? b * (a->dim_const[i] > 0 ? a->dim_const[i] : 1)
                    : (a->dim_const[i] >= 1 ? a->dim_const[i] : -1);
    if (v < 0)
      return -1;
    n *= v;
  }
  return n;
}

static int is_batch_axis(const nnc_arg_info *a, int i, int bsym) {
  return a->rank > i && a->dim_sym[i] >= 0 && a->dim_sym[i] == bsym &&
         a->dim_const[i] <= 1;
}

static const char *dtype_str(nnc_dtype t) {
  switch (t) {
  case NNC_F32:
    return "f32";
  case NNC_F64:
    return "f64";
  case NNC_I32:
    return "i32";
  case NNC_BOOL:
    return "bool";
  }
  return "?";
}

/* "x: f32[B,784]" into buf. */
static void arg_str(char *buf, size_t n, const nnc_model_desc *d,
                    const nnc_arg_info *a) {
  size_t at = 0;
  at += (size_t)snprintf(buf, n, "%s: %s[", a->name, dtype_str(a->dtype));
  for (int i = 0; i < a->rank && at < n; i++) {
    const char *sep = i ? "," : "";
    if (a->dim_sym[i] >= 0 && a->dim_sym[i] < d->nsyms) {
      if (a->dim_const[i] > 1)
        at += (size_t)snprintf(buf + at, n - at, "%s%lld*%s", sep,
                               (long long)a->dim_const[i],
                               d->syms[a->dim_sym[i]]);
      else
        at += (size_t)snprintf(buf + at, n - at, "%s%s", sep,
                               d->syms[a->dim_sym[i]]);
    } else if (a->dim_const[i] >= 1)
      at += (size_t)snprintf(buf + at, n - at, "%s%lld", sep,
                             (long long)a->dim_const[i]);
    else
      at += (size_t)snprintf(buf + at, n - at, "%s%s", sep,
                             a->dim_text[i] ? a->dim_text[i] : "?");
  }
  if (at < n)
    snprintf(buf + at, n - at, "]");
}

/* "train step(x: f32[B,784], y: i32[B]) -> loss: f32[]" */
static void entry_str(char *buf, size_t n, const nnc_model_desc *d,
                      const nnc_entry_desc *e) {
  char a[256];
  size_t at = (size_t)snprintf(buf, n, "%s %s(",
                               e->kind == NNC_TRAIN ? "train" : "fn", e->name);
  for (int i = 0; i < e->nin && at < n; i++) {
    arg_str(a, sizeof a, d, &e->in[i]);
    at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", a);
  }
  for (int i = 0; i < e->nout && at < n; i++) {
    arg_str(a, sizeof a, d, &e->out[i]);
    at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : ") -> ", a);
  }
  if (e->nout == 0 && at < n)
    snprintf(buf + at, n - at, ")");
}

static int64_t features_of(const nnc_arg_info *a) {
  int64_t f = 1;
  for (int i = 1; i < a->rank; i++) {
    if (a->dim_sym[i] >= 0 || a->dim_const[i] < 1)
      return -1;
    f *= a->dim_const[i];
  }
  return f;
}

/* Every argument sized by the batch symbol alone. */
static int sized_by_batch(const nnc_entry_desc *e, int bsym) {
  for (int i = 0; i < e->nin; i++)
    if (arg_numel(&e->in[i], bsym, 1) < 0)
      return 0;
  for (int i = 0; i < e->nout; i++)
    if (arg_numel(&e->out[i], bsym, 1) < 0)
      return 0;
  return 1;
}

/* train NAME(x: real[B, ...], y: i32[B]) -> loss: real[], ... (returns 2)
 * or train NAME(x: real[B, ...]) -> loss: real[], ... (returns 1) */
static int fits_train(const nnc_model_desc *d, const nnc_entry_desc *e) {
  if (e->kind != NNC_TRAIN || e->nin < 1 || e->nin > 2 || e->nout < 1 ||
      !e->call || !e->grad)
    return 0;
  const nnc_arg_info *x = &e->in[0], *y = &e->in[1];
  if (x->dtype != d->dtype || !is_real(x->dtype) || x->rank < 2 ||
      x->dim_sym[0] < 0 || features_of(x) < 1)
    return 0;
  int b = x->dim_sym[0];
  if (!is_batch_axis(x, 0, b) || e->out[0].rank != 0 ||
      !is_real(e->out[0].dtype) || !sized_by_batch(e, b))
    return 0;
  if (e->nin == 1)
    return 1;
  return y->dtype == NNC_I32 && y->rank == 1 && is_batch_axis(y, 0, b) ? 2
                                                                        : 0;
}

static int same_arg_shape(const nnc_arg_info *a, const nnc_arg_info *b) {
  if (a->dtype != b->dtype || a->rank != b->rank)
    return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dim_sym[i] != b->dim_sym[i] ||
        (a->dim_sym[i] < 0 && a->dim_const[i] != b->dim_const[i]))
      return 0;
  return 1;
}

/* fn NAME(x: same as the train entry's) -> logits: real[B, K] */
static int fits_eval(const nnc_entry_desc *e, const nnc_entry_desc *tr) {
  int b = tr->in[0].dim_sym[0];
  if (e->kind != NNC_INFER || e->nin != 1 || e->nout < 1 || !e->call ||
      !same_arg_shape(&e->in[0], &tr->in[0]))
    return 0;
  const nnc_arg_info *o = &e->out[0];
  return is_real(o->dtype) && o->rank == 2 && is_batch_axis(o, 0, b) &&
         o->dim_sym[1] < 0 && o->dim_const[1] >= 2 && sized_by_batch(e, b);
}

static void explain_misfit(const nnc_model_desc *d, const char *what) {
  char buf[1024];
  error("model %s does not fit the trainer: %s.\n"
        "  nnc train trains classifiers: it needs an entry point\n"
        "    train NAME(x: f32[B, ...], y: i32[B])  returning the loss,\n"
        "  and an inference entry point (`forward`, or the first one)\n"
        "    fn NAME(x: f32[B, ...])  returning logits f32[B, classes]\n"
        "  taking the same x, whose non-batch dimensions hold one example;\n"
        "  or it trains on the inputs alone through\n"
        "    train NAME(x: f32[B, ...])  returning the loss first.\n"
        "  Drive other models through the generated C API (docs/api.md).\n"
        "  %s has:",
        d->name, what, d->name);
  for (int i = 0; i < d->nentries; i++) {
    entry_str(buf, sizeof buf, d, &d->entries[i]);
    fprintf(stderr, "    %s\n", buf);
  }
  if (d->nentries == 0)
    fprintf(stderr, "    no entry points\n");
}

/* fn NAME(x: as the train entry's) -> x's shape: a reconstruction */
static int fits_rec(const nnc_entry_desc *e, const nnc_entry_desc *tr) {
  return e->kind == NNC_INFER && e->nin == 1 && e->nout >= 1 && e->call &&
         same_arg_shape(&e->in[0], &tr->in[0]) &&
         same_arg_shape(&e->out[0], &tr->in[0]) &&
         sized_by_batch(e, tr->in[0].dim_sym[0]);
}

/* fn decode(z: real[B, L]) -> as many values per example as x has */
static int fits_dec(const nnc_entry_desc *e, const Plan *p) {
  if (strcmp(e->name, "decode") || e->kind != NNC_INFER || e->nin != 1 ||
      e->nout < 1 || !e->call)
    return 0;
  const nnc_arg_info *z = &e->in[0];
  return z->dtype == p->xdtype && z->rank == 2 &&
         is_batch_axis(z, 0, p->bsym) && z->dim_sym[1] < 0 &&
         z->dim_const[1] >= 1 && is_real(e->out[0].dtype) &&
         arg_numel(&e->out[0], p->bsym, 1) == p->features &&
         sized_by_batch(e, p->bsym);
}

/* The inference entry giving the logits: `forward`, else the first that
 * fits, preferring one with as many classes as the data (rotnet's
 * `classify` rather than its rotation `forward`). */
static const nnc_entry_desc *pick_eval(const nnc_model_desc *d,
                                       const nnc_entry_desc *tr,
                                       int64_t nclasses) {
  for (int pass = 0; pass < 4; pass++)
    for (int i = 0; i < d->nentries; i++) {
      const nnc_entry_desc *e = &d->entries[i];
      if ((pass % 2 == 0 && strcmp(e->name, "forward")) || !fits_eval(e, tr))
        continue;
      if (pass < 2 && e->out[0].dim_const[1] != nclasses)
        continue;
      return e;
    }
  return NULL;
}

/* The image size of one example: [C, H, W] from the model's input, else
 * the data set's rows and columns (a flat [B, 784] input). */
static void image_geometry(const Plan *p, const nnc_arg_info *x,
                           const nnc_dataset *ds, int64_t *ch, int64_t *h,
                           int64_t *w) {
  *ch = *h = *w = 0;
  if (x->rank >= 3) {
    *h = x->dim_const[x->rank - 2];
    *w = x->dim_const[x->rank - 1];
  } else if (ds->rows > 0 && ds->cols > 0) {
    *h = ds->rows;
    *w = ds->cols;
  }
  if (*h > 0 && *w > 0 && p->features % (*h * *w) == 0)
    *ch = p->features / (*h * *w);
  else
    *h = *w = 0;
}

static int find_plan(const nnc_model_desc *d, const Data *dt,
                     const TrainOpts *o, Plan *p) {
  memset(p, 0, sizeof *p);
  if (o->entry) {
    const nnc_entry_desc *e = NULL;
    for (int i = 0; i < d->nentries && !e; i++)
      if (!strcmp(d->entries[i].name, o->entry))
        e = &d->entries[i];
    if (!e || e->kind != NNC_TRAIN) {
      char have[512];
      size_t at = 0;
      have[0] = 0;
      for (int i = 0; i < d->nentries && at < sizeof have; i++)
        if (d->entries[i].kind == NNC_TRAIN)
          at += (size_t)snprintf(have + at, sizeof have - at, "%s%s",
                                 at ? ", " : "", d->entries[i].name);
      error("--entry %s: model %s has no %s named '%s' (its train entries: "
            "%s)",
            o->entry, d->name, e ? "train entry (it is an fn)" : "entry",
            o->entry, at ? have : "none");
      return 1;
    }
    if (!fits_train(d, e)) {
      explain_misfit(d, "the train entry chosen by --entry takes neither "
                        "(x, y: i32[B]) nor x alone, or returns no scalar "
                        "loss first");
      return 1;
    }
    p->tr = e;
  }
  /* by default `step`, else the first classifier entry, else the first
   * taking x alone (not, say, cnn_bn's fit_normalization before its step) */
  for (int pass = 0; pass < 3 && !p->tr; pass++)
    for (int i = 0; i < d->nentries && !p->tr; i++) {
      const nnc_entry_desc *e = &d->entries[i];
      int fit = fits_train(d, e);
      if (pass == 0 ? fit && !strcmp(e->name, "step")
                    : fit == (pass == 1 ? 2 : 1))
        p->tr = e;
    }
  if (!p->tr) {
    explain_misfit(d, "no train entry point takes (x, y: i32[B]) or x "
                      "alone and returns a scalar loss first");
    return 1;
  }
  p->labels = fits_train(d, p->tr) == 2;
  p->bsym = p->tr->in[0].dim_sym[0];
  p->features = features_of(&p->tr->in[0]);
  p->xdtype = p->tr->in[0].dtype;
  if (p->labels) {
    int64_t nc = dt->train.nclasses;
    if (dt->test.nclasses > nc)
      nc = dt->test.nclasses;
    p->ev = pick_eval(d, p->tr, nc);
    if (!p->ev) {
      explain_misfit(d, "no inference entry point takes the same x as the "
                        "train entry and returns logits [B, classes]");
      return 1;
    }
    p->k = p->ev->out[0].dim_const[1];
  } else {
    for (int pass = 0; pass < 2 && !p->rec; pass++)
      for (int i = 0; i < d->nentries && !p->rec; i++)
        if ((pass || !strcmp(d->entries[i].name, "forward")) &&
            fits_rec(&d->entries[i], p->tr))
          p->rec = &d->entries[i];
    for (int i = 0; i < d->nentries && !p->dec; i++)
      if (fits_dec(&d->entries[i], p))
        p->dec = &d->entries[i];
    if (p->dec)
      p->latent = p->dec->in[0].dim_const[1];
  }
  if (p->features != dt->train.dim) {
    char buf[256];
    arg_str(buf, sizeof buf, d, &p->tr->in[0]);
    error("model %s takes %s: %lld values per example, but the data set has "
          "%lld features per example",
          d->name, buf, (long long)p->features, (long long)dt->train.dim);
    return 1;
  }
  image_geometry(p, &p->tr->in[0], &dt->train, &p->ch, &p->h, &p->w);
  if ((o->aug.flip || o->aug.shift) && p->h == 0) {
    error("--augment needs images: neither the model's input nor the data "
          "set gives an image size");
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------- trainer */

typedef struct History {
  double *tloss, *tacc, *vloss, *vacc;
  int n;
} History;

#define MAX_SCALARS 8 /* scalar results of a train entry that are reported */

typedef struct Trainer {
  const nnc_model_desc *d;
  TrainOpts o;
  Data data;
  Plan p;
  void *model;
  int64_t *dims; /* one per symbol of the model */
  int64_t maxb;  /* largest batch passed to an entry */
  void *x;       /* maxb examples in the model's dtype */
  int32_t *y, *pred;
  float *ex, *tmp;     /* one example (f32), one image plane: augmentation */
  int64_t *order;      /* the training indices, shuffled per epoch */
  void **tout, **eout; /* results of the train and inference entries */
  void **rout;         /* results of the reconstruction entry */
  unsigned char *saved_buffers; /* buffers kept across loss evaluations */
  size_t buffer_bytes;
  int nscalars; /* leading scalar results of the train entry (<= MAX) */
  FILE *report;        /* report.txt being written */
  char *report_path, *report_tmp;
  History h;
  int first_epoch; /* 1, or one past a resumed checkpoint's epoch */
  int best_epoch;  /* of the lowest monitored loss so far (0: none) */
  int ckpt_epoch;  /* of the weights in --checkpoint (0: none yet) */
  double best;
  nnc_opt_settings *sched; /* whose lr --lr-schedule sets (NULL: constant) */
  double base_lr;
  int64_t step, steps; /* optimizer steps taken, and in all */
  char label[64];
} Trainer;

/* The learning rate of optimizer step k (from 0) under --lr-schedule
 * cosine: base * (1 + cos(pi * k / steps)) / 2, from base to 0 at the end
 * of the last epoch (PyTorch's CosineAnnealingLR stepped per batch, with
 * eta_min 0). */
static double lr_at(const Trainer *t, int64_t k) {
  const double pi = 3.14159265358979323846;
  if (k > t->steps)
    k = t->steps;
  return t->base_lr * 0.5 * (1 + cos(pi * (double)k / (double)t->steps));
}

/* Prints to stdout (unless --quiet) and into report.txt. */
static void say(Trainer *t, const char *fmt, ...) NNC_PRINTF(2, 3);
static void say(Trainer *t, const char *fmt, ...) {
  va_list ap;
  if (!t->o.quiet) {
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
  }
  if (t->report) {
    va_start(ap, fmt);
    vfprintf(t->report, fmt, ap);
    va_end(ap);
  }
}

static size_t real_size(nnc_dtype t) { return t == NNC_F64 ? 8 : 4; }

static double real_at(const void *p, nnc_dtype t, int64_t i) {
  return t == NNC_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

/* Result buffers of an entry for batches up to maxb (8 bytes an element,
 * whatever the dtype). */
static void **alloc_outputs(const nnc_entry_desc *e, int bsym, int64_t maxb) {
  void **v = calloc((size_t)e->nout + 1, sizeof *v);
  for (int i = 0; v && i < e->nout; i++) {
    int64_t n = arg_numel(&e->out[i], bsym, maxb);
    v[i] = calloc((size_t)(n > 0 ? n : 1), 8);
    if (!v[i])
      return v; /* freed by free_outputs; caller sees the NULL */
  }
  return v;
}

static int outputs_ok(void **v, int n) {
  for (int i = 0; v && i < n; i++)
    if (!v[i])
      return 0;
  return v != NULL;
}

static void free_outputs(void **v, int n) {
  for (int i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

static int alloc_buffers(Trainer *t) {
  t->maxb = t->o.batch > EVAL_BATCH ? t->o.batch : EVAL_BATCH;
  int64_t f = t->p.features;
  t->dims =
      calloc((size_t)(t->d->nsyms > 0 ? t->d->nsyms : 1), sizeof *t->dims);
  t->x = malloc((size_t)(t->maxb * f) * real_size(t->p.xdtype));
  t->y = malloc(sizeof *t->y * (size_t)t->maxb);
  t->pred = malloc(sizeof *t->pred * (size_t)t->maxb);
  t->order = malloc(sizeof *t->order * (size_t)t->data.ntr);
  t->ex = malloc(sizeof *t->ex * (size_t)f);
  t->tmp = malloc(sizeof *t->tmp * (size_t)(t->p.h * t->p.w + 1));
  t->tout = alloc_outputs(t->p.tr, t->p.bsym, t->maxb);
  t->eout = t->p.ev ? alloc_outputs(t->p.ev, t->p.bsym, t->maxb) : NULL;
  t->rout = t->p.rec ? alloc_outputs(t->p.rec, t->p.bsym, t->maxb) : NULL;
  for (int i = 0; i < t->d->ntensors; i++) {
    const nnc_tensor_info *ti = &t->d->tensors[i];
    size_t end = (size_t)ti->offset +
                 (size_t)ti->numel * (ti->dtype == NNC_F64 ? 8 : 4);
    if (ti->role == NNC_BUFFER && end > t->buffer_bytes)
      t->buffer_bytes = end;
  }
  t->saved_buffers = malloc(t->buffer_bytes + 1);
  while (t->nscalars < t->p.tr->nout && t->nscalars < MAX_SCALARS &&
         t->p.tr->out[t->nscalars].rank == 0)
    t->nscalars++;
  int64_t ne = t->o.epochs + 1;
  t->h.tloss = calloc((size_t)ne, sizeof(double));
  t->h.tacc = calloc((size_t)ne, sizeof(double));
  t->h.vloss = calloc((size_t)ne, sizeof(double));
  t->h.vacc = calloc((size_t)ne, sizeof(double));
  if (!t->dims || !t->x || !t->y || !t->pred || !t->order || !t->ex ||
      !t->tmp || !t->saved_buffers || !outputs_ok(t->tout, t->p.tr->nout) ||
      (t->p.ev && !outputs_ok(t->eout, t->p.ev->nout)) ||
      (t->p.rec && !outputs_ok(t->rout, t->p.rec->nout)) || !t->h.tloss ||
      !t->h.tacc ||
      !t->h.vloss || !t->h.vacc) {
    error("out of memory");
    return 1;
  }
  return 0;
}

/* Copies examples idx[0..n) of ds into the batch buffers: augmented when
 * aug is given (training batches only), then normalised. */
static void gather(Trainer *t, const nnc_dataset *ds, const int64_t *idx,
                   int64_t n, nnc_rng *aug) {
  int64_t f = ds->dim;
  const float *shift = t->data.shift, *scale = t->data.scale;
  for (int64_t b = 0; b < n; b++) {
    float *ex = t->p.xdtype == NNC_F64 ? t->ex : (float *)t->x + b * f;
    memcpy(ex, ds->x + idx[b] * f, sizeof(float) * (size_t)f);
    if (aug)
      nnc_augment_image(aug, &t->o.aug, ex, t->p.ch, t->p.h, t->p.w, t->tmp);
    if (shift)
      for (int64_t j = 0; j < f; j++)
        ex[j] = (ex[j] - shift[j]) * scale[j];
    if (t->p.xdtype == NNC_F64) {
      double *dst = (double *)t->x + b * f;
      for (int64_t j = 0; j < f; j++)
        dst[j] = ex[j];
    }
    t->y[b] = ds->y ? ds->y[idx[b]] : 0;
  }
}

static int check_call(Trainer *t, const nnc_entry_desc *e, int rc) {
  if (rc == 0)
    return 0;
  error("%s_%s failed with status %d (%s) for a batch of %lld", t->d->name,
        e->name, rc,
        rc == NNC_EBADDIM  ? "a dimension does not fit the model"
        : rc == NNC_ENOMEM ? "out of memory"
        : rc == NNC_EINDEX ? "an index is out of range"
                           : "unknown",
        (long long)t->dims[t->p.bsym]);
  return 1;
}

/* Runs the inference entry on the batch in t->x (n examples): predictions
 * into t->pred; adds the cross-entropy of each example to *loss and the
 * number of correct predictions to *correct. */
static int infer_batch(Trainer *t, int64_t n, double *loss, int64_t *correct) {
  const void *in[1] = {t->x};
  t->dims[t->p.bsym] = n;
  if (check_call(t, t->p.ev,
                 t->p.ev->call(t->model, t->dims, in, t->eout, NULL)))
    return 1;
  nnc_dtype lt = t->p.ev->out[0].dtype;
  int64_t k = t->p.k;
  for (int64_t b = 0; b < n; b++) {
    int64_t best = 0;
    double mx = real_at(t->eout[0], lt, b * k), s = 0;
    for (int64_t j = 1; j < k; j++) {
      double v = real_at(t->eout[0], lt, b * k + j);
      if (v > mx) {
        mx = v;
        best = j;
      }
    }
    for (int64_t j = 0; j < k; j++)
      s += exp(real_at(t->eout[0], lt, b * k + j) - mx);
    *loss += mx + log(s) - real_at(t->eout[0], lt, b * k + t->y[b]);
    t->pred[b] = (int32_t)best;
    *correct += best == t->y[b];
  }
  return 0;
}

/* Mean cross-entropy and accuracy of the inference entry (eval mode) over
 * examples idx[0..n) of ds; adds to the confusion matrix when cm != NULL. */
static int evaluate(Trainer *t, const nnc_dataset *ds, const int64_t *idx,
                    int64_t n, double *loss, double *acc, nnc_confusion *cm) {
  double sum = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i += t->maxb) {
    int64_t bs = n - i < t->maxb ? n - i : t->maxb;
    gather(t, ds, idx + i, bs, NULL);
    if (infer_batch(t, bs, &sum, &correct))
      return 1;
    if (cm)
      nnc_confusion_add(cm, t->y, t->pred, bs);
  }
  *loss = n ? sum / (double)n : NAN;
  *acc = n ? (double)correct / (double)n : NAN;
  return 0;
}

/* " (rec 12.3, kl 4.5)": the scalar results after the loss, by name. */
static void scalars_str(char *buf, size_t n, const Trainer *t,
                        const double *v) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 1; i < t->nscalars && at < n; i++)
    at += (size_t)snprintf(buf + at, n - at, "%s%s %.4f", i > 1 ? ", " : " (",
                           t->p.tr->out[i].name, v[i]);
  if (at && at < n)
    snprintf(buf + at, n - at, ")");
}

/* Adds bs times each scalar result of the train entry to sums. */
static void add_scalars(const Trainer *t, double *sums, int64_t bs) {
  for (int i = 0; i < t->nscalars; i++)
    sums[i] += real_at(t->tout[i], t->p.tr->out[i].dtype, 0) * (double)bs;
}

/* Mean results of the train entry over examples idx[0..n) of ds, from its
 * forward and backward pass without an update (`grad`, in train mode:
 * noise is drawn as in training); gradients are zeroed and the buffers
 * (batch-norm statistics) put back, so the model is as before. */
static int entry_losses(Trainer *t, const nnc_dataset *ds, const int64_t *idx,
                        int64_t n, double *means) {
  double sums[MAX_SCALARS] = {0};
  unsigned char *bufs =
      t->buffer_bytes && t->d->buffers ? t->d->buffers(t->model) : NULL;
  if (bufs)
    memcpy(t->saved_buffers, bufs, t->buffer_bytes);
  int rc = 0;
  for (int64_t i = 0; i < n && !rc; i += t->maxb) {
    int64_t bs = n - i < t->maxb ? n - i : t->maxb;
    gather(t, ds, idx + i, bs, NULL);
    t->dims[t->p.bsym] = bs;
    const void *in[2] = {t->x, t->y};
    rc = check_call(t, t->p.tr,
                    t->p.tr->grad(t->model, t->dims, in, t->tout, NULL, NULL));
    t->d->zero_grad(t->model);
    if (!rc)
      add_scalars(t, sums, bs);
  }
  if (bufs)
    memcpy(bufs, t->saved_buffers, t->buffer_bytes);
  for (int i = 0; i < t->nscalars; i++)
    means[i] = n ? sums[i] / (double)n : NAN;
  return rc;
}

/* One epoch over the shuffled training split: per batch, the inference
 * entry (eval mode, for the training accuracy; with labels only), then one
 * training step. means[] gets the mean scalar results (the loss first). */
static int train_epoch(Trainer *t, int ep, double *means, double *acc) {
  int64_t n = t->data.ntr, seen = 0, b = t->o.batch;
  double sums[MAX_SCALARS] = {0};
  nnc_rng r, ar;
  /* Each epoch's order and augmentation depend only on the seed and the
   * epoch number, so a resumed run shuffles as the uninterrupted one
   * would have. */
  nnc_rng_seed(&r, t->o.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)ep));
  nnc_rng_seed(&ar, t->o.seed ^ (0xD1B54A32D192ED03ull * (uint64_t)ep) ^
                        0x5851F42D4C957F2Dull);
  int augment = t->o.aug.flip || t->o.aug.shift;
  memcpy(t->order, t->data.tr, sizeof *t->order * (size_t)n);
  nnc_rng_shuffle(&r, t->order, n);
  nnc_progress pb;
  snprintf(t->label, sizeof t->label, "epoch %d/%lld", ep,
           (long long)t->o.epochs);
  if (!t->o.quiet)
    nnc_progress_start(&pb, stderr, t->label, n);
  for (int64_t i = 0; i < n; i += b) {
    int64_t bs = n - i < b ? n - i : b;
    gather(t, &t->data.train, t->order + i, bs, augment ? &ar : NULL);
    t->dims[t->p.bsym] = bs;
    if (t->sched)
      t->sched->lr = lr_at(t, t->step++);
    const void *in[2] = {t->x, t->y};
    if (check_call(t, t->p.tr,
                   t->p.tr->call(t->model, t->dims, in, t->tout, NULL)))
      return 1;
    double l = real_at(t->tout[0], t->p.tr->out[0].dtype, 0);
    if (!isfinite(l)) {
      if (!t->o.quiet)
        nnc_progress_end(&pb, "diverged");
      error("training diverged: the loss is %g at epoch %d, examples "
            "%lld-%lld; try a lower --lr",
            l, ep, (long long)i + 1, (long long)(i + bs));
      return 1;
    }
    add_scalars(t, sums, bs);
    seen += bs;
    if (!t->o.quiet)
      nnc_progress_update(&pb, bs, sums[0] / (double)seen);
  }
  for (int i = 0; i < t->nscalars; i++)
    means[i] = sums[i] / (double)seen;
  if (!t->o.quiet) {
    char s[64];
    snprintf(s, sizeof s, "loss %.4f", means[0]);
    nnc_progress_end(&pb, s);
  }
  /* The training accuracy: the weights at the end of the epoch, in eval
   * mode, on the first TRAIN_ACC_EXAMPLES of the (unshuffled) split; a
   * forward pass per training batch would cost a third of the epoch. */
  *acc = NAN;
  if (t->p.labels) {
    double ignored;
    int64_t m = n < TRAIN_ACC_EXAMPLES ? n : TRAIN_ACC_EXAMPLES;
    if (evaluate(t, &t->data.train, t->data.tr, m, &ignored, acc, NULL))
      return 1;
  }
  return 0;
}

/* ---------------------------------------------------------- checkpoints */

static char *state_path(const char *ckpt) {
  size_t n = strlen(ckpt) + 7;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s.state", ckpt);
  return s;
}

/* The trainer state beside a checkpoint: the epoch the weights are from and
 * the best monitored loss, written through a temporary name. */
static int write_state(const Trainer *t, int epoch) {
  char *p = state_path(t->o.checkpoint);
  char tmp[4200];
  int rc = 1;
  if (!p)
    return 1;
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f) {
    fprintf(f, "nnc-train-state 1\nepoch %d\nbest_loss %.17g\nseed %llu\n",
            epoch, t->best, (unsigned long long)t->o.seed);
    rc = fclose(f) != 0 || rename(tmp, p) != 0;
  }
  if (rc) {
    error("cannot write %s: %s", p, strerror(errno));
    remove(tmp);
  }
  free(p);
  return rc;
}

static void read_state(Trainer *t, const char *ckpt) {
  char *p = state_path(ckpt);
  FILE *f = p ? fopen(p, "r") : NULL;
  int version = 0, epoch = 0;
  double best = INFINITY;
  unsigned long long seed = t->o.seed;
  if (f &&
      fscanf(f, "nnc-train-state %d epoch %d best_loss %lf seed %llu", &version,
             &epoch, &best, &seed) == 4 &&
      version == 1 && epoch >= 0) {
    t->first_epoch = epoch + 1;
    t->best_epoch = epoch;
    t->best = best;
    if (t->o.checkpoint && !strcmp(t->o.checkpoint, ckpt))
      t->ckpt_epoch = epoch;
    if (seed != t->o.seed)
      warning("%s was trained with --seed %llu, this run uses %llu: the "
              "validation split differs",
              ckpt, seed, (unsigned long long)t->o.seed);
  } else if (f) {
    warning("%s is not a trainer state file: ignored (epochs count from 1)", p);
  }
  if (f)
    fclose(f);
  free(p);
}

/* ------------------------------------------------------------ the run */

static int open_report(Trainer *t) {
  if (make_dirs(t->o.out) != 0) {
    error("cannot create the output directory %s: %s", t->o.out,
          strerror(errno));
    return 1;
  }
  t->report_path = join(t->o.out, "report.txt");
  t->report_tmp = join(t->o.out, "report.txt.tmp");
  if (!t->report_path || !t->report_tmp)
    return 1;
  t->report = fopen(t->report_tmp, "w");
  if (!t->report) {
    error("cannot write %s: %s", t->report_tmp, strerror(errno));
    return 1;
  }
  return 0;
}

static const char *opt_name(nnc_opt_kind k) {
  return k == NNC_SGD ? "sgd" : k == NNC_ADAM ? "adam" : "adamw";
}

/* --init-from: every tensor of the model found in the file with its name,
 * shape and a compatible dtype is loaded; the others keep their
 * initialisation. All or nothing: tensors are read into scratch first, and
 * the model changes only when the file is sound and something matched. */
static int init_from(Trainer *t) {
  const char *path = t->o.init_from;
  const nnc_model_desc *d = t->d;
  char err[1024];
  if (nnc_st_read(path, NULL, 0, err, sizeof err) != 0) {
    error("--init-from: cannot read %s", err);
    return 1;
  }
  void **got = calloc((size_t)d->ntensors + 1, sizeof *got);
  char **why = calloc((size_t)d->ntensors + 1, sizeof *why);
  int rc = 0, nloaded = 0, nparams = 0, nloaded_params = 0;
  if (!got || !why) {
    free(got);
    free(why);
    error("out of memory");
    return 1;
  }
  size_t plen = strlen(path) + 2; /* messages start with "PATH: " */
  for (int i = 0; i < d->ntensors && !rc; i++) {
    const nnc_tensor_info *ti = &d->tensors[i];
    size_t bytes = (size_t)ti->numel * (ti->dtype == NNC_F64 ? 8 : 4);
    nnc_st_tensor st;
    memset(&st, 0, sizeof st);
    st.name = ti->name;
    st.dtype = ti->dtype;
    st.rank = ti->rank;
    memcpy(st.shape, ti->shape, sizeof st.shape);
    st.data = malloc(bytes + 1);
    nparams += ti->role == NNC_PARAM;
    if (!st.data) {
      error("out of memory");
      rc = 1;
    } else if (nnc_st_read(path, &st, 1, err, sizeof err) == 0) {
      got[i] = st.data;
      nloaded++;
      nloaded_params += ti->role == NNC_PARAM;
    } else {
      free(st.data);
      const char *msg = strlen(err) > plen ? err + plen : err;
      const char *q = strstr(msg, "' has ");
      if (!strncmp(msg, "tensor '", 8) && q)
        msg = q + 2; /* "has shape [..] in the file but the model needs .." */
      if (strstr(msg, "no tensor '") == msg)
        msg = "not in the file";
      else if (!strstr(msg, "in the file but the model needs") || !q) {
        error("--init-from: cannot read %s", err); /* an I/O error */
        rc = 1;
      }
      why[i] = malloc(strlen(msg) + 1);
      if (why[i])
        strcpy(why[i], msg);
    }
  }
  if (!rc && nloaded == 0) {
    error("--init-from %s: no tensor of the file matches model %s by name "
          "and shape (the model has %d tensors, such as %s)",
          path, d->name, d->ntensors,
          d->ntensors ? d->tensors[0].name : "none");
    rc = 1;
  }
  if (!rc) {
    unsigned char *params =
        d->params ? d->params(t->model)
        : d->params_f32 ? (unsigned char *)(void *)d->params_f32(t->model)
                        : NULL;
    unsigned char *bufs =
        t->buffer_bytes && d->buffers ? d->buffers(t->model) : NULL;
    size_t rs = real_size(d->dtype);
    for (int i = 0; i < d->ntensors; i++) {
      const nnc_tensor_info *ti = &d->tensors[i];
      size_t bytes = (size_t)ti->numel * (ti->dtype == NNC_F64 ? 8 : 4);
      if (!got[i])
        continue;
      if (ti->role == NNC_PARAM && params)
        memcpy(params + (size_t)ti->offset * rs, got[i], bytes);
      else if (bufs)
        memcpy(bufs + ti->offset, got[i], bytes);
    }
    say(t,
        "initialised from %s: %d of %d tensors loaded (%d of %d "
        "parameters)%s\n",
        path, nloaded, d->ntensors, nloaded_params, nparams,
        nloaded < d->ntensors ? "; the others keep their initialisation:" : "");
    for (int i = 0; i < d->ntensors; i++)
      if (!got[i])
        say(t, "  skipped %s: %s\n", d->tensors[i].name, why[i] ? why[i] : "?");
  }
  for (int i = 0; i < d->ntensors; i++) {
    free(got[i]);
    free(why[i]);
  }
  free(got);
  free(why);
  return rc;
}

static int setup_model(Trainer *t) {
  char err[512];
  t->model = t->d->create();
  if (!t->model) {
    error("out of memory creating model %s", t->d->name);
    return 1;
  }
  t->d->init(t->model, t->o.seed);
  nnc_opt_settings *s = t->p.tr->settings ? t->p.tr->settings(t->model) : NULL;
  if (t->o.has_lr) {
    if (!s) {
      error("--lr: entry %s of model %s exposes no optimizer settings",
            t->p.tr->name, t->d->name);
      return 1;
    }
    s->lr = t->o.lr;
  }
  if (t->o.cosine) {
    if (!s) {
      error("--lr-schedule: entry %s of model %s exposes no optimizer settings",
            t->p.tr->name, t->d->name);
      return 1;
    }
    t->sched = s;
    t->base_lr = s->lr;
    int64_t per_epoch = (t->data.ntr + t->o.batch - 1) / t->o.batch;
    t->steps = per_epoch * t->o.epochs;
  }
  t->first_epoch = 1;
  t->best = INFINITY;
  if (t->o.resume) {
    if (t->d->load(t->model, t->o.resume, err, sizeof err) != 0) {
      error("cannot resume from %s: %s", t->o.resume, err);
      return 1;
    }
    read_state(t, t->o.resume);
  }
  return 0;
}

static void print_banner(Trainer *t) {
  char buf[1024];
  const Data *dt = &t->data;
  nnc_opt_settings *s = t->p.tr->settings ? t->p.tr->settings(t->model) : NULL;
  say(t, "model %s: %lld parameters (%s), GEMM: %s\n", t->d->name,
      (long long)t->d->nparams, dtype_str(t->d->dtype), nnc_gemm_backend());
  entry_str(buf, sizeof buf, t->d, t->p.tr);
  say(t, "  training with   %s\n", buf);
  if (t->p.ev) {
    entry_str(buf, sizeof buf, t->d, t->p.ev);
    say(t, "  evaluating with %s\n", buf);
  }
  if (t->p.rec) {
    entry_str(buf, sizeof buf, t->d, t->p.rec);
    say(t, "  reconstructing with %s\n", buf);
  }
  if (t->p.dec) {
    entry_str(buf, sizeof buf, t->d, t->p.dec);
    say(t, "  sampling with %s\n", buf);
  }
  if (s)
    say(t, "  optimizer: %s, lr %g%s%s\n", opt_name(s->kind), s->lr,
        t->o.has_lr ? " (--lr)" : "",
        t->sched ? ", cosine schedule to 0 over the epochs" : "");
  say(t,
      "data: %s (%s): %lld training, %lld validation, %lld test examples; "
      "%lld features, ",
      t->o.data, dt->kind, (long long)dt->ntr, (long long)dt->nva,
      (long long)dt->nte, (long long)dt->train.dim);
  if (t->p.labels)
    say(t, "%lld classes\n", (long long)t->p.k);
  else
    say(t, "no labels (the entry trains on x alone)\n");
  if (dt->shift)
    say(t, "  normalised per feature with the training split's statistics "
           "(average mean %.4f, average std %.4f)\n",
        dt->mean, dt->std);
  else
    say(t, "  values in [0, 1]%s, not standardised\n",
        dt->unit_div > 1 ? " (divided by 255)" : "");
  if (t->o.aug.flip || t->o.aug.shift) {
    char sh[64] = "";
    if (t->o.aug.shift)
      snprintf(sh, sizeof sh, "%sshifts of up to %d pixels",
               t->o.aug.flip ? ", " : "", t->o.aug.shift);
    say(t, "  training images (%lldx%lldx%lld) augmented: %s%s\n",
        (long long)t->p.ch, (long long)t->p.h, (long long)t->p.w,
        t->o.aug.flip ? "random horizontal flips" : "", sh);
  }
  say(t, "  batch %lld, %lld epoch%s, seed %llu%s\n", (long long)t->o.batch,
      (long long)t->o.epochs, t->o.epochs == 1 ? "" : "s",
      (unsigned long long)t->o.seed,
      t->o.patience ? ", early stopping on the validation loss" : "");
  if (t->o.resume)
    say(t, "resumed from %s%s\n", t->o.resume,
        t->first_epoch > 1 ? "" : " (weights only: epochs count from 1)");
  if (t->o.resume && t->first_epoch > 1)
    say(t,
        "  at epoch %d, best %s loss %.4f; the optimizer state starts "
        "afresh\n",
        t->first_epoch - 1, dt->nva ? "validation" : "training", t->best);
}

/* After epoch ep: a checkpoint when the monitored loss improved (*saved),
 * and the early-stopping count. Returns 1 when training should stop, -1 on
 * error. */
static int after_epoch(Trainer *t, int ep, double monitored, int *bad,
                       int *saved) {
  *saved = 0;
  if (monitored < t->best) {
    t->best = monitored;
    t->best_epoch = ep;
    if (t->o.checkpoint)
      t->ckpt_epoch = ep;
    *bad = 0;
    if (t->o.checkpoint) {
      if (t->d->save(t->model, t->o.checkpoint) != 0) {
        error("cannot write the checkpoint %s", t->o.checkpoint);
        return -1;
      }
      if (write_state(t, ep))
        return -1;
      *saved = 1;
    }
    return 0;
  }
  ++*bad;
  return t->o.patience && *bad >= t->o.patience;
}

static int train_loop(Trainer *t) {
  int bad = 0, saved;
  const Data *dt = &t->data;
  if (t->first_epoch > 1 && t->first_epoch > t->o.epochs)
    say(t,
        "nothing to train: the checkpoint is at epoch %d, --epochs is "
        "%lld\n",
        t->first_epoch - 1, (long long)t->o.epochs);
  t->step = (t->first_epoch - 1) * ((t->data.ntr + t->o.batch - 1) / t->o.batch);
  for (int ep = t->first_epoch; ep <= t->o.epochs; ep++) {
    double t0 = nnc_now(), tl, ta, vl = NAN, va = NAN;
    double tm[MAX_SCALARS], vm[MAX_SCALARS];
    char ts[256], vs[256] = "";
    if (train_epoch(t, ep, tm, &ta))
      return 1;
    tl = tm[0];
    scalars_str(ts, sizeof ts, t, tm);
    if (dt->nva && t->p.labels &&
        evaluate(t, &dt->train, dt->va, dt->nva, &vl, &va, NULL) != 0)
      return 1;
    if (dt->nva && !t->p.labels) {
      if (entry_losses(t, &dt->train, dt->va, dt->nva, vm) != 0)
        return 1;
      vl = vm[0];
      scalars_str(vs, sizeof vs, t, vm);
    }
    int i = t->h.n++;
    t->h.tloss[i] = tl;
    t->h.tacc[i] = ta;
    t->h.vloss[i] = vl;
    t->h.vacc[i] = va;
    int stop = after_epoch(t, ep, dt->nva ? vl : tl, &bad, &saved);
    if (stop < 0)
      return 1;
    say(t, "epoch %d/%lld  train loss %.4f%s  ", ep, (long long)t->o.epochs,
        tl, ts);
    if (t->p.labels)
      say(t, "train acc %.4f  ", ta);
    if (dt->nva)
      say(t, "val loss %.4f%s  ", vl, vs);
    if (dt->nva && t->p.labels)
      say(t, "val acc %.4f  ", va);
    say(t, "time %.1fs%s\n", nnc_now() - t0, saved ? "  checkpoint saved" : "");
    if (stop) {
      say(t,
          "early stopping: the %s loss has not improved for %d epoch%s "
          "(best %.4f at epoch %d)\n",
          dt->nva ? "validation" : "training", bad, bad > 1 ? "s" : "", t->best,
          t->best_epoch);
      break;
    }
  }
  return 0;
}

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static int is_fashion(const Trainer *t) {
  const char *s = t->o.data;
  if (t->p.k != 10)
    return 0;
  for (; *s; s++) {
    const char *w = "fashion";
    int i = 0;
    while (w[i] && s[i] && tolower((unsigned char)s[i]) == w[i])
      i++;
    if (!w[i])
      return 1;
  }
  return 0;
}

static void print_classes(Trainer *t, const nnc_confusion *cm,
                          const char *const *names) {
  char num[16];
  double sp = 0, sr = 0, sf = 0;
  say(t, "%-12s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1",
      "support");
  for (int32_t c = 0; c < cm->k; c++) {
    double p, r, f;
    int64_t support = 0;
    for (int32_t j = 0; j < cm->k; j++)
      support += cm->counts[(int64_t)c * cm->k + j];
    nnc_confusion_class(cm, c, &p, &r, &f);
    snprintf(num, sizeof num, "%ld", (long)c);
    say(t, "%-12s %9.4f %9.4f %9.4f %9lld\n", names ? names[c] : num, p, r, f,
        (long long)support);
    sp += p;
    sr += r;
    sf += f;
  }
  say(t, "%-12s %9.4f %9.4f %9.4f\n", "macro avg", sp / cm->k, sr / cm->k,
      sf / cm->k);
}

/* ------------------------------------------------------------- images */

#define GRID_GAP 2   /* pixels between tiles */
#define GRID_SCALE 2 /* each image pixel drawn as SCALE x SCALE */

/* Feature j of an example as a displayed intensity in [0, 1]: the model's
 * scale undone when the data were standardised. */
static double shown(const Trainer *t, double v, int64_t j) {
  if (t->data.shift)
    v = v / t->data.scale[j] + t->data.shift[j];
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Writes OUT/name: n tiles (examples of the model's input size, in the
 * model's dtype, one after the other) in rows of `cols`, channels
 * averaged. */
static int write_grid(Trainer *t, const char *name, const void *tiles,
                      nnc_dtype dtype, int n, int cols) {
  char err[512];
  int64_t h = t->p.h, w = t->p.w, ch = t->p.ch, f = t->p.features;
  int rows = (n + cols - 1) / cols;
  int64_t W = cols * (w * GRID_SCALE + GRID_GAP) + GRID_GAP;
  int64_t H = rows * (h * GRID_SCALE + GRID_GAP) + GRID_GAP;
  unsigned char *pix = malloc((size_t)(W * H));
  char *path = join(t->o.out, name);
  int rc = 1;
  if (pix && path) {
    memset(pix, 64, (size_t)(W * H));
    for (int k = 0; k < n; k++) {
      int64_t x0 = GRID_GAP + (k % cols) * (w * GRID_SCALE + GRID_GAP);
      int64_t y0 = GRID_GAP + (k / cols) * (h * GRID_SCALE + GRID_GAP);
      for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
          double v = 0;
          for (int64_t c = 0; c < ch; c++) {
            int64_t at = c * h * w + i * w + j;
            v += shown(t, real_at(tiles, dtype, k * f + at), at);
          }
          unsigned char g = (unsigned char)(v / (double)ch * 255.0 + 0.5);
          for (int a = 0; a < GRID_SCALE; a++)
            memset(pix + (y0 + i * GRID_SCALE + a) * W + x0 + j * GRID_SCALE,
                   g, GRID_SCALE);
        }
    }
    if (nnc_png_write_gray(path, pix, W, H, err, sizeof err) != 0)
      error("cannot write an image: %s", err);
    else {
      say(t, "wrote %s (%dx%d tiles)\n", path, cols, rows);
      rc = 0;
    }
  } else {
    error("out of memory");
  }
  free(pix);
  free(path);
  return rc;
}

/* The reconstruction MSE of the test set through p.rec (eval mode), and
 * recon_grid.png: the first test inputs in rows of 8, each row followed
 * by their reconstructions. */
static int reconstruction_report(Trainer *t) {
  enum { NSHOW = 16, COLS = 8 };
  const Data *dt = &t->data;
  int64_t f = t->p.features, nshow = dt->nte < NSHOW ? dt->nte : NSHOW;
  size_t rs = real_size(t->p.xdtype);
  nnc_dtype od = t->p.rec->out[0].dtype;
  unsigned char *grid = malloc((size_t)(2 * NSHOW * f) * 8);
  double sum = 0;
  if (!grid) {
    error("out of memory");
    return 1;
  }
  for (int64_t i = 0; i < dt->nte; i += t->maxb) {
    int64_t bs = dt->nte - i < t->maxb ? dt->nte - i : t->maxb;
    gather(t, dt->teset, dt->te + i, bs, NULL);
    t->dims[t->p.bsym] = bs;
    const void *in[1] = {t->x};
    if (check_call(t, t->p.rec,
                   t->p.rec->call(t->model, t->dims, in, t->rout, NULL))) {
      free(grid);
      return 1;
    }
    for (int64_t k = 0; k < bs * f; k++) {
      double e = real_at(t->rout[0], od, k) - real_at(t->x, t->p.xdtype, k);
      sum += e * e;
    }
    /* the grid, in the input's dtype: row r holds inputs (even r) or
     * reconstructions (odd r) of tiles (r / 2) * COLS ... */
    for (int64_t k = 0; i == 0 && k < nshow; k++) {
      int64_t slot_in = (k / COLS) * 2 * COLS + k % COLS;
      unsigned char *di = grid + (size_t)(slot_in * f) * rs;
      unsigned char *dr = grid + (size_t)((slot_in + COLS) * f) * rs;
      memcpy(di, (unsigned char *)t->x + (size_t)(k * f) * rs, (size_t)f * rs);
      for (int64_t j = 0; j < f; j++) {
        double v = real_at(t->rout[0], od, k * f + j);
        if (t->p.xdtype == NNC_F64)
          ((double *)(void *)dr)[j] = v;
        else
          ((float *)(void *)dr)[j] = (float)v;
      }
    }
  }
  double mse = sum / (double)(dt->nte * f);
  printf("test reconstruction MSE: %.6f\n", mse);
  if (t->report)
    fprintf(t->report, "test reconstruction MSE: %.6f\n", mse);
  int rc = 0;
  if (t->p.h > 0) {
    /* unused slots of a partial last row pair stay at zero */
    int64_t used = ((nshow + COLS - 1) / COLS) * 2 * COLS;
    for (int64_t k = nshow; k < NSHOW; k++) {
      int64_t slot = (k / COLS) * 2 * COLS + k % COLS;
      if (slot + COLS < used) {
        memset(grid + (size_t)(slot * f) * rs, 0, (size_t)f * rs);
        memset(grid + (size_t)((slot + COLS) * f) * rs, 0, (size_t)f * rs);
      }
    }
    rc = write_grid(t, "recon_grid.png", grid, t->p.xdtype, (int)used, COLS);
  }
  free(grid);
  return rc;
}

/* samples.png: 64 images decoded by p.dec from codes z ~ N(0, 1), drawn
 * with the seed. */
static int samples_report(Trainer *t) {
  enum { NS = 64 };
  int64_t L = t->p.latent;
  size_t rs = real_size(t->p.xdtype);
  void *z = malloc((size_t)(NS * L) * rs);
  void **out = alloc_outputs(t->p.dec, t->p.bsym, NS);
  int rc = 1;
  if (!z || !outputs_ok(out, t->p.dec->nout)) {
    error("out of memory");
  } else {
    nnc_rng r;
    nnc_rng_seed(&r, t->o.seed ^ 0x2545F4914F6CDD1Dull);
    for (int64_t i = 0; i < NS * L; i++) {
      double v = nnc_rng_normal(&r);
      if (t->p.xdtype == NNC_F64)
        ((double *)z)[i] = v;
      else
        ((float *)z)[i] = (float)v;
    }
    const void *in[1] = {z};
    t->dims[t->p.bsym] = NS;
    if (!check_call(t, t->p.dec,
                    t->p.dec->call(t->model, t->dims, in, out, NULL)))
      rc = write_grid(t, "samples.png", out[0], t->p.dec->out[0].dtype, NS, 8);
  }
  free(z);
  free_outputs(out, t->p.dec ? t->p.dec->nout : 0);
  return rc;
}

/* A model trained without labels: the entry's losses on the test set,
 * the reconstruction error and grids where the model has the entries. */
static int unlabelled_report(Trainer *t) {
  const Data *dt = &t->data;
  double m[MAX_SCALARS];
  char extra[256];
  if (entry_losses(t, dt->teset, dt->te, dt->nte, m) != 0)
    return 1;
  scalars_str(extra, sizeof extra, t, m);
  printf("test loss: %.4f%s\n", m[0], extra);
  if (t->report)
    fprintf(t->report, "test loss: %.4f%s\n", m[0], extra);
  if (t->p.rec && reconstruction_report(t))
    return 1;
  if (t->p.h > 0 && t->p.dec && samples_report(t))
    return 1;
  if (t->p.h == 0 && (t->p.rec || t->p.dec))
    say(t, "no image size known (a flat input and CSV data): no image "
           "grids\n");
  return 0;
}

/* Test-set evaluation (with the best checkpoint when there is one). */
static int final_report(Trainer *t) {
  char err[512];
  const Data *dt = &t->data;
  if (t->ckpt_epoch > 0 && t->ckpt_epoch != t->first_epoch + t->h.n - 1) {
    if (t->d->load(t->model, t->o.checkpoint, err, sizeof err) != 0) {
      error("cannot reload the best checkpoint: %s", err);
      return 1;
    }
    say(t, "testing the weights of epoch %d (lowest %s loss) from %s\n",
        t->ckpt_epoch, dt->nva ? "validation" : "training", t->o.checkpoint);
  }
  if (!t->p.labels)
    return unlabelled_report(t);
  nnc_confusion cm;
  if (nnc_confusion_init(&cm, (int32_t)t->p.k) != 0) {
    error("out of memory");
    return 1;
  }
  double loss, acc;
  int rc = evaluate(t, dt->teset, dt->te, dt->nte, &loss, &acc, &cm);
  if (rc == 0) {
    const char *const *names = is_fashion(t) ? fashion_names : NULL;
    say(t, "test loss %.4f\n", loss);
    printf("test accuracy: %.4f\n", nnc_confusion_accuracy(&cm));
    if (t->report)
      fprintf(t->report, "test accuracy: %.4f\n", nnc_confusion_accuracy(&cm));
    say(t, "confusion matrix (rows: true class, columns: predicted):\n");
    if (!t->o.quiet)
      nnc_confusion_print(stdout, &cm, names);
    if (t->report)
      nnc_confusion_print(t->report, &cm, names);
    print_classes(t, &cm, names);
  }
  nnc_confusion_free(&cm);
  return rc;
}

/* learning_curves.svg: losses and accuracies per epoch of this run. */
static int write_outputs(Trainer *t) {
  char err[512], title[128];
  int rc = 0;
  if (t->h.n > 0) {
    char *svg = join(t->o.out, "learning_curves.svg");
    nnc_series s[4] = {{"train loss", t->h.tloss, t->h.n},
                       {"train accuracy", t->h.tacc, t->h.n},
                       {"validation loss", t->h.vloss, t->h.n},
                       {"validation accuracy", t->h.vacc, t->h.n}};
    snprintf(title, sizeof title, "%s: learning curves", t->d->name);
    if (!t->p.labels) /* losses only */
      s[1] = s[2];
    int ns = t->p.labels ? (t->data.nva ? 4 : 2) : (t->data.nva ? 2 : 1);
    if (!svg || nnc_svg_plot(svg, title, t->p.labels ? "loss / accuracy" : "loss",
                             s, ns, err, sizeof err) != 0) {
      error("cannot write the learning curves: %s", svg ? err : "no memory");
      rc = 1;
    } else {
      say(t, "wrote %s\n", svg);
    }
    free(svg);
  }
  say(t, "wrote %s\n", t->report_path);
  FILE *f = t->report;
  t->report = NULL;
  if (fclose(f) != 0 || rename(t->report_tmp, t->report_path) != 0) {
    error("cannot write %s: %s", t->report_path, strerror(errno));
    remove(t->report_tmp);
    rc = 1;
  }
  return rc;
}

/* Standardised inputs for classifiers, [0, 1] for models trained without
 * labels (their outputs are compared with the inputs), unless --normalise
 * says otherwise. */
static int prepare_inputs(Trainer *t) {
  Scaling s = t->o.scaling;
  if (s == SCALE_AUTO)
    s = t->p.labels ? SCALE_STANDARD : SCALE_UNIT;
  if (s == SCALE_STANDARD)
    return normalise(&t->data);
  unit_scale(&t->data);
  return 0;
}

static void teardown(Trainer *t) {
  if (t->report) {
    fclose(t->report);
    remove(t->report_tmp);
  }
  free(t->report_path);
  free(t->report_tmp);
  if (t->model)
    t->d->destroy(t->model);
  free_data(&t->data);
  free(t->dims);
  free(t->x);
  free(t->y);
  free(t->pred);
  free(t->order);
  free_outputs(t->tout, t->p.tr ? t->p.tr->nout : 0);
  free_outputs(t->eout, t->p.ev ? t->p.ev->nout : 0);
  free_outputs(t->rout, t->p.rec ? t->p.rec->nout : 0);
  free(t->ex);
  free(t->tmp);
  free(t->saved_buffers);
  free(t->h.tloss);
  free(t->h.tacc);
  free(t->h.vloss);
  free(t->h.vacc);
}

int nnc_train_main(const nnc_model_desc *d, int argc, char **argv) {
  Trainer t;
  memset(&t, 0, sizeof t);
  t.d = d;
  int rc = parse_opts(&t.o, argc, argv);
  if (rc)
    return rc < 0 ? 0 : rc;
  if (t.o.patience && t.o.val_fraction == 0)
    warning("--patience with --val-fraction 0: early stopping watches the "
            "training loss");
  if (t.o.threads > 0)
    nnc_set_threads(t.o.threads);
  rc = load_data(&t.data, &t.o) || find_plan(d, &t.data, &t.o, &t.p) ||
       (t.p.labels && check_labels(&t.data, t.p.k)) || prepare_inputs(&t) ||
       alloc_buffers(&t) || setup_model(&t) || open_report(&t);
  if (!rc) {
    print_banner(&t);
    rc = t.o.init_from && init_from(&t);
    fflush(stdout);
    rc = rc || train_loop(&t) || final_report(&t) || write_outputs(&t);
  }
  teardown(&t);
  return rc;
}
