/* main.c — the nnc driver: reads the command line, runs the pass pipeline
 * (a plain sequence of pass calls) and writes what was asked for. */
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
  const char *dump_after;
  int read_ir;
  int summary;
  Emit emit;
} Options;

/* The passes, in pipeline order; --dump-ir accepts these names. */
static const char *const pass_names[] = {"elab", "verify", NULL};

static void usage(FILE *f) {
  fputs("usage: nnc [options] FILE.nn\n"
        "\n"
        "  -o NAME.c          write the generated C to NAME.c and NAME.h\n"
        "  --emit=ir          print the IR (after all passes)\n"
        "  --emit=dot         print a Graphviz graph of every model\n"
        "  --dump-ir=PASS     print the IR after PASS (elab, verify)\n"
        "  --summary          print each layer with its output shape and "
        "parameter count\n"
        "  --read-ir          FILE is an IR dump (as --emit=ir prints) instead "
        "of .nn\n"
        "  --stdlib DIR       read the standard library from DIR instead of "
        "the built-in copy\n"
        "  -h, --help         show this help\n"
        "  --version          show the version\n"
        "\n"
        "With -o or --emit, output goes to the named file (written to a "
        "temporary\n"
        "name, then renamed) or to standard output. Exit status: 0 success, 1 "
        "an\n"
        "error in the input, 2 bad usage.\n",
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

static void parse_args(int argc, char **argv, Options *o, Ctx *c) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--version")) {
      printf("nnc %s\n", PACKAGE_VERSION);
      exit(0);
    } else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
      o->output = a[2] ? a + 2 : value_of(argc, argv, &i, "-o");
      if (o->emit == EMIT_NONE)
        o->emit = EMIT_C;
    } else if (is_opt(a, "--emit")) {
      const char *v = value_of(argc, argv, &i, "--emit");
      o->emit = !strcmp(v, "ir")    ? EMIT_IR
                : !strcmp(v, "dot") ? EMIT_DOT
                : !strcmp(v, "c")   ? EMIT_C
                                    : EMIT_NONE;
      if (o->emit == EMIT_NONE)
        bad_usage("unknown --emit kind '%s' (ir, dot or c)", v);
    } else if (is_opt(a, "--dump-ir")) {
      o->dump_after = value_of(argc, argv, &i, "--dump-ir");
      int ok = 0;
      for (int k = 0; pass_names[k]; k++)
        ok |= !strcmp(pass_names[k], o->dump_after);
      if (!ok)
        bad_usage("unknown pass '%s' for --dump-ir (elab, verify)",
                  o->dump_after);
    } else if (!strcmp(a, "--summary")) {
      o->summary = 1;
    } else if (!strcmp(a, "--read-ir")) {
      o->read_ir = 1;
    } else if (is_opt(a, "--stdlib")) {
      c->stdlib_override = value_of(argc, argv, &i, "--stdlib");
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
}

static void dump_if(const Options *o, const char *pass, const Module *m) {
  if (o->dump_after && !strcmp(o->dump_after, pass))
    ir_dump_file(stdout, m);
}

/* Writes through a temporary file renamed into place, so a failure never
 * leaves a half-written output behind. */
static int write_output(Ctx *c, const char *path, Emit what, const Module *m) {
  if (!path || !strcmp(path, "-")) {
    if (what == EMIT_IR)
      ir_dump_file(stdout, m);
    else
      nnc_dot(stdout, m);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  char *tmp = arena_printf(&c->arena, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "nnc: error: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (what == EMIT_IR)
    ir_dump_file(f, m);
  else
    nnc_dot(f, m);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "nnc: error: cannot write %s: %s\n", path, strerror(errno));
    remove(tmp);
    return 1;
  }
  return 0;
}

static int run(Ctx *c, const Options *o) {
  Module *m;
  /* elab: .nn source -> typed IR (or read an IR dump back) */
  if (o->read_ir)
    m = ir_parse(c, nnc_load_file(c, o->input, o->input));
  else
    m = nnc_elaborate(c, o->input);
  dump_if(o, "elab", m);
  /* verify: SSA, arities, types against the shape rules */
  ir_verify(c, m);
  dump_if(o, "verify", m);

  if (o->summary)
    nnc_summary(stdout, m);
  switch (o->emit) {
  case EMIT_IR:
  case EMIT_DOT:
    return write_output(c, o->output, o->emit, m);
  case EMIT_C:
    fprintf(
        stderr,
        "nnc: error: C code generation is not implemented yet (it arrives with "
        "the C backend); --emit=ir, --emit=dot and --summary work today\n");
    return 1;
  case EMIT_NONE:
    break;
  }
  return 0;
}

int main(int argc, char **argv) {
  Ctx c;
  Options o = {0};
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
