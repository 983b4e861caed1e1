/* train_cmd.c — `nnc train MODEL.nn [options]`: compiles the model to C
 * (elaboration, the pass pipeline, the emitter), writes a main() that hands
 * the model's descriptor to the runtime's nnc_train_main, builds it with the
 * system C compiler against the runtime library in a cache directory keyed
 * by a hash of everything that goes into the binary, and runs it with the
 * trainer options. A cached binary is reused while the hash is unchanged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nnc.h"
#include "nnc_train.h"

/* Where the runtime is: the build tree (preferred while its library
 * exists) and the installed copy; Makefile.am defines these. */
#ifndef NNC_RUNTIME_INCDIR
#define NNC_RUNTIME_INCDIR ""
#endif
#ifndef NNC_RUNTIME_LIBDIR
#define NNC_RUNTIME_LIBDIR ""
#endif
#ifndef NNC_INSTALL_INCDIR
#define NNC_INSTALL_INCDIR "/usr/local/include/nnc"
#endif
#ifndef NNC_INSTALL_LIBDIR
#define NNC_INSTALL_LIBDIR "/usr/local/lib"
#endif
/* Libraries the runtime needs, and the flags nnc itself was built with
 * (of which the sanitizer options are used when $CFLAGS/$LDFLAGS are
 * unset: a sanitizer build's runtime needs them at link time). */
#ifndef NNC_RUNTIME_LIBS
#define NNC_RUNTIME_LIBS "-lopenblas -lz -lm"
#endif
#ifndef NNC_OPENMP_CFLAGS /* the runtime's OpenMP: generated loops use it too */
#define NNC_OPENMP_CFLAGS ""
#endif
#ifndef NNC_BUILD_CFLAGS
#define NNC_BUILD_CFLAGS ""
#endif
#ifndef NNC_BUILD_LDFLAGS
#define NNC_BUILD_LDFLAGS ""
#endif

typedef struct Source {
  char *c, *h, *main; /* model.c, model.h, main.c (heap: open_memstream) */
  size_t clen, hlen, mainlen;
  FILE *cf, *hf, *mf; /* their streams while open */
  const Model *model;
  const char *prefix;
} Source;

typedef struct TrainCmd {
  const char *input, *model, *build_dir;
  const char *freeze; /* --freeze NAMES, for the compiler */
  int rebuild, verbose, quiet;
  DType real;
  int npass;
  char **pass; /* trainer options, passed through in order */
  Source src;
} TrainCmd;

static void wrap_help(FILE *f, const char *s);

static void train_usage(FILE *f) {
  fputs("usage: nnc train MODEL.nn [options]\n"
        "\n"
        "Compiles MODEL.nn, builds a trainer for one of its models with the "
        "system C\n"
        "compiler ($CC, else cc; $CFLAGS, $LDFLAGS) against the nnc runtime, "
        "and runs\n"
        "it. The binary is cached under $XDG_CACHE_HOME/nnc (else "
        "~/.cache/nnc) by a\n"
        "hash of the generated C, the build flags and --freeze. The trainer "
        "needs a\n"
        "classifier, `train NAME(x: f32[B, ...], y: i32[B])` returning the "
        "loss and\n"
        "`fn forward(x)` (or another fn) returning logits f32[B, classes], or "
        "a model\n"
        "trained without labels, `train NAME(x)` returning the loss first "
        "(an\n"
        "autoencoder: also the reconstruction MSE and recon_grid.png; a VAE's "
        "`decode`:\n"
        "samples.png).\n"
        "\n"
        "Build options:\n"
        "  --model NAME        the model to train (default: the first in "
        "the file)\n"
        "  --build-dir DIR     the cache directory (default: as above)\n"
        "  --dtype f32|f64     floating-point type of the generated code "
        "(default f32)\n"
        "  --stdlib DIR        read the standard library from DIR\n"
        "  --freeze NAMES      compile with these parameters (names or layer "
        "prefixes,\n"
        "                      comma-separated: conv1,layer1) frozen: no "
        "gradient, no\n"
        "                      optimizer state (nnc --freeze)\n"
        "  --rebuild           build even when a cached binary exists\n"
        "  --verbose           print the C compiler's command line\n"
        "  -h, --help          show this help\n"
        "\n"
        "Trainer options:\n",
        f);
#define X(opt, meta, help)                                                     \
  if (strcmp(opt, "--help")) {                                                 \
    char head[40];                                                             \
    snprintf(head, sizeof head, "  %s%s%s", opt, meta ? " " : "",              \
             meta ? (const char *)meta : "");                                  \
    fprintf(f, "%-22s", head);                                                 \
    if (strlen(head) >= 22)                                                    \
      fprintf(f, "\n%22s", "");                                                \
    wrap_help(f, help);                                                        \
  }
  NNC_TRAIN_OPTIONS(X)
#undef X
  fputs("\nThe runtime is found through $NNC_RUNTIME_DIR (holding its "
        "headers and\n"
        "libnncrt.a, or include/ and lib/), else the build tree nnc was "
        "built in,\n"
        "else the installed copy. Exit status: the trainer's (0 success, 1 "
        "an error,\n"
        "2 bad usage); 1 for an error in MODEL.nn or in building.\n",
        f);
}

/* Help text from column 22, wrapped at 78. */
static void wrap_help(FILE *f, const char *s) {
  int col = 22;
  while (*s) {
    const char *e = strchr(s, ' ');
    int w = e ? (int)(e - s) : (int)strlen(s);
    if (col > 22 && col + 1 + w > 78) {
      fprintf(f, "\n%22s", "");
      col = 22;
    } else if (col > 22) {
      fputc(' ', f);
      col++;
    }
    fprintf(f, "%.*s", w, s);
    col += w;
    s += w;
    while (*s == ' ')
      s++;
  }
  fputc('\n', f);
}

static _Noreturn void train_bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "nnc train: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'nnc train --help'.\n");
  exit(2);
}

/* The value of option `opt` at argv[*i]: after '=' or the next argument. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt) {
  size_t n = strlen(opt);
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (*i + 1 >= argc)
    train_bad_usage("option %s needs a value", opt);
  return argv[++*i];
}

static int opt_is(const char *a, const char *opt) {
  size_t n = strlen(opt);
  return !strncmp(a, opt, n) && (a[n] == 0 || a[n] == '=');
}

/* A trainer option: returns whether it takes a value, -1 if unknown. */
static int trainer_opt(const char *a) {
  size_t len = strcspn(a, "=");
#define X(opt, meta, help)                                                     \
  if (strlen(opt) == len && !strncmp(a, opt, len))                             \
    return meta != NULL;
  NNC_TRAIN_OPTIONS(X)
#undef X
  return -1;
}

static void parse_train_args(Ctx *c, TrainCmd *t, int argc, char **argv) {
  t->pass = arena_alloc(&c->arena, sizeof(char *) * (size_t)(argc + 1));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int takes;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      train_usage(stdout);
      exit(0);
    } else if (opt_is(a, "--model")) {
      t->model = opt_value(argc, argv, &i, "--model");
    } else if (opt_is(a, "--build-dir")) {
      t->build_dir = opt_value(argc, argv, &i, "--build-dir");
    } else if (opt_is(a, "--stdlib")) {
      c->stdlib_override = opt_value(argc, argv, &i, "--stdlib");
    } else if (opt_is(a, "--freeze")) {
      t->freeze = opt_value(argc, argv, &i, "--freeze");
    } else if (opt_is(a, "--dtype")) {
      const char *v = opt_value(argc, argv, &i, "--dtype");
      if (!dtype_parse(v, &t->real) || !dtype_is_float(t->real))
        train_bad_usage("--dtype is f32 or f64, not '%s'", v);
    } else if (!strcmp(a, "--rebuild")) {
      t->rebuild = 1;
    } else if (!strcmp(a, "--verbose")) {
      t->verbose = 1;
    } else if (a[0] == '-' && a[1]) {
      if ((takes = trainer_opt(a)) < 0)
        train_bad_usage("unknown option '%s'", a);
      t->quiet |= !strcmp(a, "--quiet");
      t->pass[t->npass++] = argv[i];
      if (takes && !strchr(a, '=')) {
        if (i + 1 >= argc)
          train_bad_usage("option %s needs a value", a);
        t->pass[t->npass++] = argv[++i];
      }
    } else if (t->input) {
      train_bad_usage("more than one model file ('%s')", a);
    } else {
      t->input = a;
    }
  }
  if (!t->input)
    train_bad_usage("%s", "no model file (nnc train MODEL.nn [options])");
}

/* ----------------------------------------------------- the generated C */

static const Model *pick_model(Ctx *c, const Module *m, const char *path,
                               const char *name) {
  if (m->models.n == 0)
    nnc_fatal(c, "%s declares no model", path);
  if (!name)
    return m->models.v[0];
  for (int i = 0; i < m->models.n; i++) {
    const Model *md = m->models.v[i];
    if (!strcmp(md->name, name))
      return md;
  }
  StrBuf b = {0};
  for (int i = 0; i < m->models.n; i++)
    sb_printf(&b, "%s%s", i ? ", " : "", ((Model *)m->models.v[i])->name);
  char *have = arena_strdup(&c->arena, b.s);
  sb_free(&b);
  nnc_fatal(c, "no model named '%s' (the file has %s)", name, have);
}

/* One line: what --freeze took out of training. */
static void report_frozen(const Model *md, const char *names) {
  int n = 0, all = 0;
  int64_t values = 0;
  for (int i = 0; i < md->params.n; i++) {
    const ParamDecl *pd = md->params.v[i];
    if (pd->role != PR_PARAM)
      continue;
    all++;
    for (const char *p = names; *p;) {
      size_t len = strcspn(p, ",");
      if (!strncmp(pd->name, p, len) &&
          (pd->name[len] == 0 || pd->name[len] == '.')) {
        n++;
        int64_t k = type_numel_const(pd->type);
        values += k > 0 ? k : 0;
        break;
      }
      p += len + (p[len] == ',');
    }
  }
  printf("nnc train: --freeze %s: %d of %d parameter tensors of %s frozen "
         "(%lld values): no gradient, no optimizer state\n",
         names, n, all, md->name, (long long)values);
}

/* Elaboration, the passes and the emitter, into memory. */
static void generate(Ctx *c, const TrainCmd *t, Source *s) {
  Module *m = nnc_elaborate(c, t->input);
  nnc_freeze(c, m, t->freeze);
  PassOptions po = {NULL, NULL, 1};
  nnc_run_passes(c, m, &po);
  s->model = pick_model(c, m, t->input, t->model);
  if (t->freeze && !t->quiet)
    report_frozen(s->model, t->freeze);
  char *p = arena_strdup(&c->arena, s->model->name);
  for (char *q = p; *q; q++)
    *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
  s->prefix = p;
  s->cf = open_memstream(&s->c, &s->clen);
  s->hf = open_memstream(&s->h, &s->hlen);
  s->mf = open_memstream(&s->main, &s->mainlen);
  if (!s->cf || !s->hf || !s->mf)
    nnc_fatal(c, "out of memory");
  EmitOptions eo = {.real = t->real, .header_name = "model.h", .source_name = t->input,
                    .share_buffers = 1};
  nnc_emit_c(c, m, &eo, s->cf, s->hf);
  fprintf(s->mf,
          "/* main.c — written by nnc train: the trainer of model %s (%s). "
          "*/\n"
          "#include \"model.h\"\n"
          "#include \"nnc_train.h\"\n"
          "\n"
          "int main(int argc, char **argv) {\n"
          "  return nnc_train_main(&%s_desc, argc, argv);\n"
          "}\n",
          s->model->name, t->input, s->prefix);
  int bad = fclose(s->cf) | fclose(s->hf) | fclose(s->mf);
  s->cf = s->hf = s->mf = NULL;
  if (bad)
    nnc_fatal(c, "out of memory");
}

/* Frees what generate() made, also when an error cut it short. */
static void free_source(Source *s) {
  FILE *open[3] = {s->cf, s->hf, s->mf};
  for (int i = 0; i < 3; i++)
    if (open[i])
      fclose(open[i]);
  free(s->c);
  free(s->h);
  free(s->main);
  memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ building */

typedef struct Toolchain {
  const char *cc, *cflags, *ldflags;
  char *incdir, *lib; /* runtime header directory, libnncrt.a */
} Toolchain;

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* DIR/SUB/NAME when it exists: returns DIR/SUB (the directory), else NULL */
static char *dir_with(Ctx *c, const char *dir, const char *sub,
                      const char *name) {
  char *d = arena_printf(&c->arena, "%s%s%s", dir, *sub ? "/" : "", sub);
  char *f = arena_printf(&c->arena, "%s/%s", d, name);
  return file_exists(f) ? d : NULL;
}

static void find_runtime(Ctx *c, Toolchain *tc) {
  const char *env = getenv("NNC_RUNTIME_DIR");
  char *inc = NULL, *lib = NULL;
  if (env && *env) {
    const char *subs[] = {"", "include/nnc", "include", "runtime"};
    for (int i = 0; i < 4 && !inc; i++)
      inc = dir_with(c, env, subs[i], "nnc_train.h");
    lib = dir_with(c, env, "", "libnncrt.a");
    if (!lib)
      lib = dir_with(c, env, "lib", "libnncrt.a");
    if (!inc || !lib)
      nnc_fatal(c,
                "NNC_RUNTIME_DIR=%s holds no %s: it must hold nnc_runtime.h, "
                "nnc_train.h and libnncrt.a (or include/nnc/ and lib/)",
                env, inc ? "libnncrt.a" : "nnc_train.h");
  } else if (*NNC_RUNTIME_LIBDIR &&
             (lib = dir_with(c, NNC_RUNTIME_LIBDIR, "", "libnncrt.a"))) {
    inc = dir_with(c, NNC_RUNTIME_INCDIR, "", "nnc_train.h");
  } else {
    lib = dir_with(c, NNC_INSTALL_LIBDIR, "", "libnncrt.a");
    inc = dir_with(c, NNC_INSTALL_INCDIR, "", "nnc_train.h");
  }
  if (!inc || !lib)
    nnc_fatal(c,
              "the nnc runtime (libnncrt.a and its headers) is not in the "
              "build tree (%s) nor installed (%s): run make, or set "
              "NNC_RUNTIME_DIR",
              *NNC_RUNTIME_LIBDIR ? NNC_RUNTIME_LIBDIR : "none",
              NNC_INSTALL_LIBDIR);
  tc->incdir = inc;
  tc->lib = arena_printf(&c->arena, "%s/libnncrt.a", lib);
}

static const char *env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return v && *v ? v : dflt;
}

/* The sanitizer options among the flags nnc was built with: a sanitizer
 * build's libnncrt.a cannot link without them; the rest (-g) is left to
 * $CFLAGS. */
static char *sanitizer_flags(Ctx *c, const char *flags) {
  StrBuf b = {0};
  const char *s = flags;
  while (*s) {
    size_t n = strcspn(s, " \t");
    if ((n > 11 && !strncmp(s, "-fsanitize=", 11)) ||
        (n > 14 && !strncmp(s, "-fno-sanitize-", 14)) ||
        (n == 23 && !strncmp(s, "-fno-omit-frame-pointer", 23)))
      sb_printf(&b, "%s%.*s", b.len ? " " : "", (int)n, s);
    s += n;
    s += strspn(s, " \t");
  }
  char *r = arena_strdup(&c->arena, b.s ? b.s : "");
  sb_free(&b);
  return r;
}

/* 'text' for the shell */
static char *shq(Ctx *c, const char *s) {
  StrBuf b = {0};
  sb_putc(&b, '\'');
  for (; *s; s++)
    if (*s == '\'')
      sb_printf(&b, "'\\''");
    else
      sb_putc(&b, *s);
  sb_putc(&b, '\'');
  char *r = arena_strdup(&c->arena, b.s);
  sb_free(&b);
  return r;
}

/* FNV-1a, 64 bits */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
  return fnv(h, s, strlen(s) + 1);
}

/* What a file contributes to the key: its path, size and modification time
 * (the runtime library and headers; rebuilt runtime, rebuilt trainer). */
static uint64_t fnv_file(uint64_t h, const char *path) {
  struct stat st;
  long long v[3] = {0, 0, 0};
  if (stat(path, &st) == 0) {
    v[0] = (long long)st.st_size;
    v[1] = (long long)st.st_mtime;
  }
  h = fnv_str(h, path);
  return fnv(h, v, sizeof v);
}

static uint64_t build_key(Ctx *c, const TrainCmd *t, const Source *s,
                          const Toolchain *tc) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, s->c, s->clen);
  h = fnv(h, s->h, s->hlen);
  h = fnv(h, s->main, s->mainlen);
  h = fnv_str(h, tc->cc);
  h = fnv_str(h, tc->cflags);
  h = fnv_str(h, tc->ldflags);
  h = fnv_str(h, NNC_RUNTIME_LIBS);
  h = fnv_str(h, t->freeze ? t->freeze : "");
  h = fnv_file(h, tc->lib);
  h = fnv_file(h, arena_printf(&c->arena, "%s/nnc_runtime.h", tc->incdir));
  h = fnv_file(h, arena_printf(&c->arena, "%s/nnc_train.h", tc->incdir));
  return h;
}

static void make_dirs(Ctx *c, const char *path) {
  char *buf = arena_strdup(&c->arena, path);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != 0)
      continue;
    char ch = *p;
    *p = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      nnc_fatal(c, "cannot create %s: %s", buf, strerror(errno));
    *p = ch;
    if (!ch)
      break;
  }
}

/* Writes through a temporary name renamed into place. */
static void write_file(Ctx *c, const char *path, const char *text, size_t len) {
  char *tmp = arena_printf(&c->arena, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    nnc_fatal(c, "cannot write %s: %s", path, strerror(errno));
  size_t n = fwrite(text, 1, len, f);
  if (fclose(f) != 0 || n != len || rename(tmp, path) != 0) {
    int err = errno;
    remove(tmp);
    nnc_fatal(c, "cannot write %s: %s", path, strerror(err));
  }
}

static const char *cache_root(Ctx *c, const TrainCmd *t) {
  const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (t->build_dir)
    return t->build_dir;
  if (x && x[0] == '/')
    return arena_printf(&c->arena, "%s/nnc", x);
  if (home && *home)
    return arena_printf(&c->arena, "%s/.cache/nnc", home);
  nnc_fatal(c, "neither XDG_CACHE_HOME nor HOME is set: give --build-dir DIR");
}

/* Compiles DIR/main.c and DIR/model.c into DIR/train. */
static void compile(Ctx *c, const TrainCmd *t, const Toolchain *tc,
                    const char *dir, const char *bin) {
  char *tmp = arena_printf(&c->arena, "%s.tmp.%ld", bin, (long)getpid());
  char *cmd =
      arena_printf(&c->arena, "%s -O2 -std=c99 %s %s -I%s -o %s %s %s %s %s %s",
                   tc->cc, NNC_OPENMP_CFLAGS, tc->cflags, shq(c, tc->incdir), shq(c, tmp),
                   shq(c, arena_printf(&c->arena, "%s/main.c", dir)),
                   shq(c, arena_printf(&c->arena, "%s/model.c", dir)),
                   shq(c, tc->lib), tc->ldflags, NNC_RUNTIME_LIBS);
  if (t->verbose)
    fprintf(stderr, "%s\n", cmd);
  fflush(NULL);
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    remove(tmp);
    nnc_fatal(c, "building the trainer in %s failed%s (command: %s)", dir,
              st == -1 ? ": cannot run the shell" : "", cmd);
  }
  if (rename(tmp, bin) != 0) {
    int err = errno;
    remove(tmp);
    nnc_fatal(c, "cannot write %s: %s", bin, strerror(err));
  }
}

/* The trainer binary for t->input: from the cache, or built now. */
static char *build(Ctx *c, const TrainCmd *t, const Source *s) {
  Toolchain tc;
  tc.cc = env_or("CC", "cc");
  tc.cflags = env_or("CFLAGS", sanitizer_flags(c, NNC_BUILD_CFLAGS));
  tc.ldflags = env_or("LDFLAGS", sanitizer_flags(c, NNC_BUILD_LDFLAGS));
  find_runtime(c, &tc);
  uint64_t key = build_key(c, t, s, &tc);
  char *dir = arena_printf(&c->arena, "%s/%s-%016llx", cache_root(c, t),
                           s->prefix, (unsigned long long)key);
  char *bin = arena_printf(&c->arena, "%s/train", dir);
  if (!t->rebuild && file_exists(bin) && access(bin, X_OK) == 0) {
    if (!t->quiet)
      printf("nnc train: model %s of %s: cached %s\n", s->model->name, t->input,
             bin);
    return bin;
  }
  make_dirs(c, dir);
  write_file(c, arena_printf(&c->arena, "%s/model.c", dir), s->c, s->clen);
  write_file(c, arena_printf(&c->arena, "%s/model.h", dir), s->h, s->hlen);
  write_file(c, arena_printf(&c->arena, "%s/main.c", dir), s->main, s->mainlen);
  if (!t->quiet) {
    printf("nnc train: model %s of %s: building %s\n", s->model->name, t->input,
           bin);
    fflush(stdout);
  }
  compile(c, t, &tc, dir, bin);
  return bin;
}

/* Replaces this process with the trainer. */
static void run_trainer(Ctx *c, const TrainCmd *t, char *bin) {
  char **av = arena_alloc(&c->arena, sizeof(char *) * (size_t)(t->npass + 2));
  av[0] = bin;
  for (int i = 0; i < t->npass; i++)
    av[i + 1] = t->pass[i];
  av[t->npass + 1] = NULL;
  fflush(NULL);
  execv(bin, av);
  nnc_fatal(c, "cannot run %s: %s", bin, strerror(errno));
}

static void train(Ctx *c, TrainCmd *t, int argc, char **argv) {
  parse_train_args(c, t, argc, argv);
  generate(c, t, &t->src);
  char *bin = build(c, t, &t->src);
  free_source(&t->src);
  run_trainer(c, t, bin);
}

int nnc_train_command(int argc, char **argv) {
  /* static: what train() leaves in it is read after a longjmp */
  static TrainCmd t;
  Ctx c;
  memset(&t, 0, sizeof t);
  t.real = DT_F32;
  ctx_init(&c);
  jmp_buf on_error;
  c.on_error = &on_error;
  if (setjmp(on_error) == 0)
    train(&c, &t, argc, argv);
  free_source(&t.src);
  ctx_free(&c);
  return 1;
}
