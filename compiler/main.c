/* main.c — the nnc driver: reads the command line, runs elaboration and the
 * pass pipeline (passes.c), and writes what was asked for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

typedef enum Emit { EMIT_NONE, EMIT_C, EMIT_IR, EMIT_DOT } Emit;

typedef struct Options {
  const char *input;
  const char *output;
  const char *freeze; /* --freeze NAMES */
  const char *sizes;  /* --sizes B=64,T=32 */
  int read_ir;
  int summary;
  int dump_plan;      /* --dump-ir=plan */
  Emit emit;
  DType real;
  PassOptions passes;
} Options;

static void usage(FILE *f) {
  fputs(
      "usage: nnc [options] FILE.nn\n"
      "       nnc train FILE.nn [trainer options]   (nnc train --help)\n"
      "\n"
      "  -o NAME.c          write the generated C to NAME.c and NAME.h\n"
      "  --emit=c|ir|dot    what to write: C (the default with -o), the IR\n"
      "                     after all passes, or a Graphviz graph\n"
      "  --dump-ir=PASS     print the IR after PASS (elab, verify, grad, "
      "simplify, fuse),\n"
      "                     or, with plan, after fuse and then every buffer\n"
      "                     of the memory plan with its offset and size\n"
      "  --summary          print each layer with its output shape and "
      "parameter count,\n"
      "                     and each entry's workspace, planned and unplanned\n"
      "  --sizes B=64,...   the symbol values --summary and --dump-ir=plan\n"
      "                     measure at (a bare value sets every symbol; 64)\n"
      "  --dtype f32|f64    the floating-point type of the generated code\n"
      "  -O0, -O1           without or with simplification and fusion\n"
      "                     (default -O1)\n"
      "  --read-ir          FILE is an IR dump (as --emit=ir prints) instead "
      "of .nn\n"
      "  --stdlib DIR       read the standard library from DIR instead of the "
      "built-in copy\n"
      "  --freeze NAMES     train no parameter named or under NAMES (comma-\n"
      "                     separated: conv1,layer1): no gradient, no "
      "optimizer state\n"
      "  -h, --help         show this help\n"
      "  --version          show the version\n"
      "\n"
      "Output goes to the named file (written to a temporary name, then\n"
      "renamed) or to standard output. Exit status: 0 success, 1 an error in\n"
      "the input, 2 bad usage.\n",
      f);
}

static _Noreturn void bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "nnc: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'nnc --help'.\n");
  exit(2);
}

static const char *value_of(int argc, char **argv, int *i, const char *opt) {
  size_t n = strlen(opt);
  if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (*i + 1 >= argc)
    bad_usage("option %s needs a value", opt);
  return argv[++*i];
}

static int is_opt(const char *arg, const char *opt) {
  size_t n = strlen(opt);
  return strncmp(arg, opt, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

static void parse_pass(Options *o, const char *pass) {
  if (!strcmp(pass, "plan")) {
    o->passes.dump_after = "fuse";
    o->dump_plan = 1;
    return;
  }
  for (int k = 0; nnc_pass_names[k]; k++)
    if (!strcmp(nnc_pass_names[k], pass)) {
      o->passes.dump_after = pass;
      return;
    }
  bad_usage("unknown pass '%s' for --dump-ir (elab, verify, grad, simplify, fuse, plan)",
            pass);
}

static void parse_args(int argc, char **argv, Options *o, Ctx *c) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--version")) {
      printf("nnc %s\n", PACKAGE_VERSION);
      exit(0);
    } else if (!strncmp(a, "-o", 2)) {
      o->output = a[2] ? a + 2 : value_of(argc, argv, &i, "-o");
    } else if (!strcmp(a, "-O0") || !strcmp(a, "-O1")) {
      o->passes.opt_level = a[2] - '0';
    } else if (is_opt(a, "--emit")) {
      const char *v = value_of(argc, argv, &i, "--emit");
      o->emit = !strcmp(v, "ir")    ? EMIT_IR
                : !strcmp(v, "dot") ? EMIT_DOT
                : !strcmp(v, "c")   ? EMIT_C
                                    : EMIT_NONE;
      if (o->emit == EMIT_NONE)
        bad_usage("unknown --emit kind '%s' (c, ir or dot)", v);
    } else if (is_opt(a, "--dump-ir")) {
      parse_pass(o, value_of(argc, argv, &i, "--dump-ir"));
    } else if (is_opt(a, "--dtype")) {
      const char *v = value_of(argc, argv, &i, "--dtype");
      if (!dtype_parse(v, &o->real) || !dtype_is_float(o->real))
        bad_usage("--dtype is f32 or f64, not '%s'", v);
    } else if (!strcmp(a, "--summary")) {
      o->summary = 1;
    } else if (is_opt(a, "--sizes")) {
      o->sizes = value_of(argc, argv, &i, "--sizes");
    } else if (!strcmp(a, "--read-ir")) {
      o->read_ir = 1;
    } else if (is_opt(a, "--stdlib")) {
      c->stdlib_override = value_of(argc, argv, &i, "--stdlib");
    } else if (is_opt(a, "--freeze")) {
      o->freeze = value_of(argc, argv, &i, "--freeze");
    } else if (a[0] == '-' && a[1]) {
      bad_usage("unknown option '%s'", a);
    } else if (o->input) {
      bad_usage("more than one input file ('%s')", a);
    } else {
      o->input = a;
    }
  }
  if (!o->input)
    bad_usage("%s", "no input file");
  if (o->output && o->emit == EMIT_NONE)
    o->emit = EMIT_C;
  if (o->emit == EMIT_C && !o->output)
    bad_usage("%s", "--emit=c needs -o NAME.c");
}

/* Opens `path` through a temporary name; commit_file renames it into place
 * so that a failure never leaves a half-written file behind. */
static FILE *open_tmp(Ctx *c, const char *path, char **tmp) {
  *tmp = arena_printf(&c->arena, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(*tmp, "w");
  if (!f)
    nnc_fatal(c, "cannot write %s: %s", path, strerror(errno));
  return f;
}

static void commit_file(Ctx *c, FILE *f, const char *tmp, const char *path) {
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    int err = errno;
    remove(tmp);
    nnc_fatal(c, "cannot write %s: %s", path, strerror(err));
  }
}

static void write_text(Ctx *c, const Options *o, const Module *m) {
  FILE *f = stdout;
  char *tmp = NULL;
  if (o->output && strcmp(o->output, "-"))
    f = open_tmp(c, o->output, &tmp);
  if (o->emit == EMIT_IR)
    ir_dump_file(f, m);
  else
    nnc_dot(f, m);
  if (tmp)
    commit_file(c, f, tmp, o->output);
  else if (fflush(stdout) != 0)
    nnc_fatal(c, "cannot write the output: %s", strerror(errno));
}

/* NAME.c and NAME.h side by side; model.c includes the header by name. */
static void write_c(Ctx *c, const Options *o, Module *m) {
  size_t n = strlen(o->output);
  if (n < 3 || strcmp(o->output + n - 2, ".c"))
    nnc_fatal(c, "the output of -o must end in .c (got %s)", o->output);
  char *h_path = arena_strdup(&c->arena, o->output);
  h_path[n - 1] = 'h';
  const char *slash = strrchr(h_path, '/');
  EmitOptions eo = {.real = o->real, .header_name = slash ? slash + 1 : h_path,
                    .source_name = o->input, .share_buffers = o->passes.opt_level > 0};
  char *ctmp, *htmp;
  FILE *cf = open_tmp(c, o->output, &ctmp);
  FILE *hf = open_tmp(c, h_path, &htmp);
  nnc_emit_c(c, m, &eo, cf, hf);
  commit_file(c, hf, htmp, h_path);
  commit_file(c, cf, ctmp, o->output);
}

/* --sizes [VALUE,]NAME=VALUE,...: a value per symbol of the module; a bare
 * VALUE sets every symbol not named, 64 without one. */
static int64_t *symbol_sizes(Ctx *c, const Module *m, const char *spec) {
  int64_t *v = arena_alloc(&c->arena, sizeof(int64_t) * (size_t)(m->syms.n + 1));
  for (int i = 0; i < m->syms.n; i++)
    v[i] = 64;
  for (const char *p = spec; p && *p;) {
    const char *eq = strchr(p, '='), *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    char *num = NULL;
    if (!eq || eq > end) { /* a bare value: every symbol */
      long long all = strtoll(p, &num, 10);
      if (num != end || all < 1)
        bad_usage("--sizes takes [VALUE,]NAME=VALUE,... with values above 0, not '%s'", spec);
      for (int i = 0; i < m->syms.n; i++)
        v[i] = all;
      p = *end ? end + 1 : end;
      continue;
    }
    long long val = strtoll(eq + 1, &num, 10);
    if (num != end || val < 1)
      bad_usage("--sizes takes [VALUE,]NAME=VALUE,... with values above 0, not '%s'", spec);
    int k = -1;
    for (int i = 0; i < m->syms.n; i++)
      if (strlen(m->syms.name[i]) == (size_t)(eq - p) && !strncmp(m->syms.name[i], p, (size_t)(eq - p)))
        k = i;
    if (k < 0)
      bad_usage("--sizes names a symbol the model does not have: '%s'", p);
    v[k] = val;
    p = *end ? end + 1 : end;
  }
  return v;
}

/* --summary's workspace lines and --dump-ir=plan's buffers: the C is
 * generated as for -o, into nothing, with the plan reported. */
static void report_plans(Ctx *c, const Options *o, Module *m, const int64_t *sizes) {
  FILE *sink = fopen("/dev/null", "w");
  if (!sink)
    nnc_fatal(c, "cannot open /dev/null: %s", strerror(errno));
  EmitOptions eo = {.real = o->real, .header_name = "model.h", .source_name = o->input,
                    .share_buffers = o->passes.opt_level > 0,
                    .sizes = sizes, .plan_out = stdout,
                    .plan_detail = o->dump_plan};
  if (o->summary)
    fputc('\n', stdout);
  nnc_emit_c(c, m, &eo, sink, sink);
  fclose(sink);
}

static int run(Ctx *c, const Options *o) {
  Module *m;
  if (o->read_ir)
    m = ir_parse(c, nnc_load_file(c, o->input, o->input));
  else
    m = nnc_elaborate(c, o->input);
  nnc_freeze(c, m, o->freeze);
  const int64_t *sizes = symbol_sizes(c, m, o->sizes); /* checked before any output */
  if (o->summary)
    nnc_summary(stdout, m);
  nnc_run_passes(c, m, &o->passes);
  if (o->summary || o->dump_plan)
    report_plans(c, o, m, sizes);
  switch (o->emit) {
  case EMIT_IR:
  case EMIT_DOT:
    write_text(c, o, m);
    break;
  case EMIT_C:
    write_c(c, o, m);
    break;
  case EMIT_NONE:
    break;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "train"))
    return nnc_train_command(argc - 1, argv + 1); /* train_cmd.c */
  Ctx c;
  Options o = {0};
  o.real = DT_F32;
  o.passes.opt_level = 1;
  ctx_init(&c);
  parse_args(argc, argv, &o, &c);
  jmp_buf on_error;
  int rc;
  c.on_error = &on_error;
  if (setjmp(on_error) == 0)
    rc = run(&c, &o);
  else
    rc = 1;
  ctx_free(&c);
  return rc;
}
