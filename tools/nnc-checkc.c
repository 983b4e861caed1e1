/* nnc-checkc.c — checks the C that nnc generates, with libclang: FILE.c must
 * compile as C99 under -Wall -Wextra -pedantic and more without a warning
 * (system headers aside), define every function FILE.h declares with the
 * same type, export no function the header does not declare, and keep no
 * mutable global state. Exit status: 0 clean, 1 on any finding, 2 on a usage
 * error or when libclang cannot parse a file at all. */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef NNC_CLANG_RESOURCE_DIR
#define NNC_CLANG_RESOURCE_DIR ""
#endif

enum { MAX_ARGS = 512 };

static const char *const warn_args[] = {
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-pedantic",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-Wmissing-variable-declarations",
};

/* A function cursor and its name, kept while its translation unit lives. */
typedef struct Fn {
  CXCursor cur;
  char *name;
} Fn;

typedef struct FnList {
  Fn *v;
  size_t n, cap;
} FnList;

/* What the AST walk of FILE.c finds. */
typedef struct Walk {
  FnList defs;  /* non-static function definitions */
  int problems; /* mutable globals reported */
} Walk;

static void usage(FILE *f) {
  fprintf(f,
          "usage: nnc-checkc [-I DIR]... [-D NAME[=V]]... FILE.c [FILE.h]\n");
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) {
    fputs("nnc-checkc: out of memory\n", stderr);
    exit(2);
  }
  return p;
}

static char *cx_take(CXString s) {
  char *p = xstrdup(clang_getCString(s) ? clang_getCString(s) : "");
  clang_disposeString(s);
  return p;
}

static void fn_push(FnList *l, CXCursor cur) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 32;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) {
      fputs("nnc-checkc: out of memory\n", stderr);
      exit(2);
    }
  }
  l->v[l->n].cur = cur;
  l->v[l->n].name = cx_take(clang_getCursorSpelling(cur));
  l->n++;
}

static Fn *fn_find(const FnList *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i].name, name) == 0)
      return &l->v[i];
  return NULL;
}

static void fn_free(FnList *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].name);
  free(l->v);
}

/* Starts a message `file:line:col: KIND: ` at cursor c. */
static void at(CXCursor c, const char *kind) {
  CXFile file;
  unsigned line, col;
  clang_getSpellingLocation(clang_getCursorLocation(c), &file, &line, &col,
                            NULL);
  char *name = cx_take(clang_getFileName(file));
  fprintf(stderr, "%s:%u:%u: %s: ", name, line, col, kind);
  free(name);
}

static char *type_of(CXCursor c) {
  return cx_take(
      clang_getTypeSpelling(clang_getCanonicalType(clang_getCursorType(c))));
}

/* ------------------------------------------------------- diagnostics */

static void print_diag(CXDiagnostic d, int depth) {
  char *s = cx_take(
      clang_formatDiagnostic(d, clang_defaultDiagnosticDisplayOptions()));
  fprintf(stderr, "%s\n", s);
  free(s);
  CXDiagnosticSet kids = clang_getChildDiagnostics(d);
  if (depth < 4)
    for (unsigned i = 0; i < clang_getNumDiagnosticsInSet(kids); i++) {
      CXDiagnostic k = clang_getDiagnosticInSet(kids, i);
      print_diag(k, depth + 1);
      clang_disposeDiagnostic(k);
    }
}

/* Prints each diagnostic of tu at or above min (with its notes), leaving out
 * those in system headers. Returns how many are warnings or worse; counts
 * fatal errors (parsing stopped) into *fatal. */
static int report_diags(CXTranslationUnit tu, enum CXDiagnosticSeverity min,
                        int *fatal) {
  int n = 0;
  for (unsigned i = 0; i < clang_getNumDiagnostics(tu); i++) {
    CXDiagnostic d = clang_getDiagnostic(tu, i);
    enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
    if (sev >= min &&
        !clang_Location_isInSystemHeader(clang_getDiagnosticLocation(d))) {
      print_diag(d, 0);
      n += sev >= CXDiagnostic_Warning;
      *fatal += sev == CXDiagnostic_Fatal;
    }
    clang_disposeDiagnostic(d);
  }
  return n;
}

/* -------------------------------------------------------- AST walks */

static int is_main(CXCursor c) {
  return clang_Location_isFromMainFile(clang_getCursorLocation(c));
}

/* Whether an object of type t cannot change: arrays are const when their
 * elements are (a canonical array type carries its elements' qualifiers). */
static int is_const_object(CXType t) {
  for (t = clang_getCanonicalType(t); t.kind != CXType_Invalid;
       t = clang_getCanonicalType(clang_getArrayElementType(t)))
    if (clang_isConstQualifiedType(t))
      return 1;
  return 0;
}

/* Reports a variable with static storage duration that is not const. */
static int check_var(CXCursor c) {
  enum CX_StorageClass sc = clang_Cursor_getStorageClass(c);
  int global = clang_getCursorKind(clang_getCursorSemanticParent(c)) ==
               CXCursor_TranslationUnit;
  if (!global && sc != CX_SC_Static && sc != CX_SC_Extern)
    return 0;
  if (is_const_object(clang_getCursorType(c)))
    return 0;
  char *name = cx_take(clang_getCursorSpelling(c));
  char *type = cx_take(clang_getTypeSpelling(clang_getCursorType(c)));
  at(c, "error");
  fprintf(stderr,
          "global mutable state: %s '%s' of type '%s' is not const; "
          "generated code must keep all state in the model object\n",
          global ? "variable" : "static local", name, type);
  free(name);
  free(type);
  return 1;
}

/* Walks FILE.c's own declarations (never into headers): collects exported
 * function definitions and reports mutable variables. */
static enum CXChildVisitResult walk_c(CXCursor c, CXCursor parent,
                                      CXClientData data) {
  Walk *w = data;
  (void)parent;
  if (!is_main(c))
    return CXChildVisit_Continue;
  switch (clang_getCursorKind(c)) {
  case CXCursor_FunctionDecl:
    if (clang_isCursorDefinition(c) &&
        clang_Cursor_getStorageClass(c) != CX_SC_Static)
      fn_push(&w->defs, c);
    break;
  case CXCursor_VarDecl:
    w->problems += check_var(c);
    break;
  default:
    break;
  }
  return CXChildVisit_Recurse;
}

/* Collects the non-static functions declared in the header itself. */
static enum CXChildVisitResult walk_h(CXCursor c, CXCursor parent,
                                      CXClientData data) {
  FnList *decls = data;
  (void)parent;
  if (is_main(c) && clang_getCursorKind(c) == CXCursor_FunctionDecl &&
      clang_Cursor_getStorageClass(c) != CX_SC_Static) {
    char *name = cx_take(clang_getCursorSpelling(c));
    if (!fn_find(decls, name))
      fn_push(decls, c);
    free(name);
  }
  return CXChildVisit_Continue;
}

/* ------------------------------------------------- header against .c */

/* One declared function against its definition; returns 1 on a mismatch. */
static int compare_fn(const Fn *decl, const Fn *def) {
  char *dt = type_of(decl->cur), *ft = type_of(def->cur);
  int dn = clang_Cursor_getNumArguments(decl->cur);
  int fnum = clang_Cursor_getNumArguments(def->cur);
  int bad = dn != fnum || strcmp(dt, ft) != 0;
  if (dn != fnum) {
    at(def->cur, "error");
    fprintf(stderr,
            "'%s' is defined with %d parameters ('%s') but declared with "
            "%d ('%s')\n",
            def->name, fnum, ft, dn, dt);
  } else if (bad) {
    at(def->cur, "error");
    fprintf(stderr, "'%s' is defined with type '%s' but declared as '%s'\n",
            def->name, ft, dt);
  }
  if (bad) {
    at(decl->cur, "note");
    fprintf(stderr, "'%s' is declared here\n", decl->name);
  }
  free(dt);
  free(ft);
  return bad;
}

/* Every header function defined alike in FILE.c, every exported definition
 * declared. Returns the number of problems; *checked counts matches. */
static int cross_check(const FnList *decls, const FnList *defs,
                       const char *cpath, const char *hpath, int *checked) {
  int problems = 0;
  for (size_t i = 0; i < decls->n; i++) {
    const Fn *def = fn_find(defs, decls->v[i].name);
    if (!def) {
      at(decls->v[i].cur, "error");
      fprintf(stderr, "'%s' is declared in the header but not defined in %s\n",
              decls->v[i].name, cpath);
      problems++;
    } else {
      problems += compare_fn(&decls->v[i], def);
      ++*checked;
    }
  }
  for (size_t i = 0; i < defs->n; i++)
    if (!fn_find(decls, defs->v[i].name)) {
      at(defs->v[i].cur, "error");
      fprintf(stderr,
              "exported but undeclared: '%s' is not declared in %s "
              "(make it static or declare it there)\n",
              defs->v[i].name, hpath);
      problems++;
    }
  return problems;
}

/* ------------------------------------------------------------ driver */

typedef struct Inclusion {
  CXFileUniqueID id;
  int found;
} Inclusion;

static void find_inclusion(CXFile f, CXSourceLocation *stack, unsigned n,
                           CXClientData data) {
  Inclusion *inc = data;
  CXFileUniqueID id;
  (void)stack;
  (void)n;
  if (!clang_getFileUniqueID(f, &id) && memcmp(&id, &inc->id, sizeof id) == 0)
    inc->found = 1;
}

/* Whether FILE.c's translation unit includes the header parsed as htu. */
static int includes(CXTranslationUnit ctu, CXTranslationUnit htu,
                    const char *hpath) {
  Inclusion inc = {{{0}}, 0};
  if (clang_getFileUniqueID(clang_getFile(htu, hpath), &inc.id))
    return 0;
  clang_getInclusions(ctu, find_inclusion, &inc);
  return inc.found;
}

static CXTranslationUnit parse(CXIndex idx, const char *path,
                               const char *const *args, int nargs,
                               unsigned opts) {
  CXTranslationUnit tu = NULL;
  enum CXErrorCode e =
      clang_parseTranslationUnit2(idx, path, args, nargs, NULL, 0, opts, &tu);
  if (e != CXError_Success || !tu) {
    fprintf(stderr, "nnc-checkc: %s: libclang cannot parse it (error %d)\n",
            path, (int)e);
    return NULL;
  }
  return tu;
}

/* The header named on the command line, else FILE.c's with .h, else NULL. */
static char *header_for(const char *cpath, const char *given) {
  if (given)
    return xstrdup(given);
  size_t n = strlen(cpath);
  if (n < 2 || strcmp(cpath + n - 2, ".c") != 0)
    return NULL;
  char *h = xstrdup(cpath);
  h[n - 1] = 'h';
  if (is_file(h))
    return h;
  free(h);
  return NULL;
}

/* Adds the -I and -D options of argv to args; returns the files named. */
static int parse_options(int argc, char **argv, const char **args, int *nargs,
                         const char **files) {
  int nfiles = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((a[0] == '-' && (a[1] == 'I' || a[1] == 'D'))) {
      if (!a[2] && ++i == argc)
        return -1;
      if (*nargs + 2 > MAX_ARGS)
        return -1;
      args[(*nargs)++] = a[1] == 'I' ? "-I" : "-D";
      args[(*nargs)++] = a[2] ? a + 2 : argv[i];
    } else if (a[0] == '-' || nfiles == 2) {
      return -1;
    } else {
      files[nfiles++] = a;
    }
  }
  return nfiles;
}

/* Parses FILE.c and its header (hpath, or NULL), prints every finding and
 * the summary line; returns the exit status. */
static int check(const char *cpath, const char *hpath, const char **args,
                 int nargs) {
  CXIndex idx = clang_createIndex(0, 0);
  CXTranslationUnit ctu = parse(idx, cpath, args, nargs, 0);
  CXTranslationUnit htu = NULL;
  if (ctu && hpath) {
    const char *hargs[MAX_ARGS + 18];
    hargs[0] = "-x";
    hargs[1] = "c";
    memcpy(hargs + 2, args, (size_t)nargs * sizeof *args);
    htu = parse(idx, hpath, hargs, nargs + 2,
                CXTranslationUnit_SkipFunctionBodies);
  }
  if (!ctu || (hpath && !htu)) {
    if (ctu)
      clang_disposeTranslationUnit(ctu);
    clang_disposeIndex(idx);
    return 2;
  }

  /* Warnings in the header come through FILE.c when it includes it; alone,
   * the header must still compile. */
  int fatal = 0, checked = 0;
  int problems = report_diags(ctu, CXDiagnostic_Warning, &fatal);
  if (htu)
    problems += report_diags(htu,
                             includes(ctu, htu, hpath) ? CXDiagnostic_Error
                                                       : CXDiagnostic_Warning,
                             &fatal);

  Walk w = {{NULL, 0, 0}, 0};
  FnList decls = {NULL, 0, 0};
  clang_visitChildren(clang_getTranslationUnitCursor(ctu), walk_c, &w);
  problems += w.problems;
  if (htu && !fatal) {
    clang_visitChildren(clang_getTranslationUnitCursor(htu), walk_h, &decls);
    problems += cross_check(&decls, &w.defs, cpath, hpath, &checked);
  }

  if (problems)
    fprintf(stderr, "nnc-checkc: %s: %d problem%s\n", cpath, problems,
            problems == 1 ? "" : "s");
  else
    printf("nnc-checkc: %s: ok (%d function%s checked%s)\n", cpath, checked,
           checked == 1 ? "" : "s", hpath ? "" : "; no header");
  fn_free(&decls);
  fn_free(&w.defs);
  if (htu)
    clang_disposeTranslationUnit(htu);
  clang_disposeTranslationUnit(ctu);
  clang_disposeIndex(idx);
  return problems ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *args[MAX_ARGS + 16], *files[2] = {NULL, NULL};
  int nargs = 0;
  for (size_t i = 0; i < sizeof warn_args / sizeof *warn_args; i++)
    args[nargs++] = warn_args[i];
  if (is_file(NNC_CLANG_RESOURCE_DIR "/include/stddef.h")) {
    args[nargs++] = "-resource-dir";
    args[nargs++] = NNC_CLANG_RESOURCE_DIR;
  }
  if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    usage(stdout);
    return 0;
  }
  int nfiles = parse_options(argc, argv, args, &nargs, files);
  if (nfiles < 1) {
    usage(stderr);
    return 2;
  }
  const char *cpath = files[0];
  char *hpath = header_for(cpath, files[1]);
  if (!is_file(cpath) || (hpath && !is_file(hpath))) {
    fprintf(stderr, "nnc-checkc: %s: no such file\n",
            is_file(cpath) ? hpath : cpath);
    free(hpath);
    return 2;
  }

  int status = check(cpath, hpath, args, nargs);
  free(hpath);
  return status;
}
