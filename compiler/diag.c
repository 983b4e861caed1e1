/* diag.c — source files, locations and error reporting. An error prints
 * `file:line:col: error: message`, the source line and a caret, then
 * unwinds to the driver's jmp_buf. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

#define NNC_MAX_SOURCE (16u << 20)

void ctx_init(Ctx *c) {
  memset(c, 0, sizeof *c);
  arena_init(&c->arena);
  c->err = stderr;
}

void ctx_free(Ctx *c) { arena_free(&c->arena); }

char *nnc_loc_str(Ctx *c, SrcLoc loc) {
  if (!loc.file)
    return arena_strdup(&c->arena, "<unknown>");
  return arena_printf(&c->arena, "%s:%d:%d", loc.file->name, loc.line, loc.col);
}

/* Prints line `loc.line` of the file and a caret under column `loc.col`. */
static void show_line(FILE *f, SrcLoc loc) {
  if (!loc.file || !loc.file->text || loc.line < 1)
    return;
  const char *p = loc.file->text, *end = p + loc.file->len;
  for (int l = 1; l < loc.line && p < end; p++)
    if (*p == '\n')
      l++;
  const char *e = p;
  while (e < end && *e != '\n')
    e++;
  if (e > p && e[-1] == '\r')
    e--;
  /* long lines show a window around the caret */
  const char *from = p, *to = e;
  const char *at = p + loc.col - 1 < e ? p + loc.col - 1 : e;
  if (to - from > 120) {
    from = at - 60 > p ? at - 60 : p;
    to = from + 120 < e ? from + 120 : e;
  }
  fprintf(f, "    %s", from > p ? "..." : "");
  for (const char *q = from; q < to; q++)
    fputc((unsigned char)*q < 32 && *q != '\t' ? '?' : *q, f);
  fprintf(f, "%s\n    %s", to < e ? "..." : "", from > p ? "   " : "");
  for (const char *q = from; q < at; q++)
    fputc(*q == '\t' ? '\t' : ' ', f);
  fputs("^\n", f);
}

static void report(Ctx *c, SrcLoc loc, const char *kind, const char *fmt,
                   va_list ap) {
  FILE *f = c->err ? c->err : stderr;
  if (loc.file)
    fprintf(f, "%s:%d:%d: %s: ", loc.file->name, loc.line, loc.col, kind);
  else
    fprintf(f, "nnc: %s: ", kind);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  show_line(f, loc);
  fflush(f);
}

static void print_note(Ctx *c, SrcLoc loc, const char *msg) {
  FILE *f = c->err ? c->err : stderr;
  fprintf(f, "%s:%d:%d: note: %s\n", loc.file->name, loc.line, loc.col, msg);
  show_line(f, loc);
}

void nnc_error(Ctx *c, SrcLoc loc, const char *fmt, ...) {
  const char **msgs = NULL;
  SrcLoc *where = NULL;
  if (c->error_context) {
    SrcLoc *(*hook)(Ctx *, SrcLoc *, const char ***) = c->error_context;
    c->error_context = NULL; /* an error inside the hook reports plainly */
    where = hook(c, &loc, &msgs);
    c->error_context = hook;
  }
  va_list ap;
  va_start(ap, fmt);
  report(c, loc, "error", fmt, ap);
  va_end(ap);
  for (int i = 0; msgs && msgs[i]; i++)
    if (where[i].file)
      print_note(c, where[i], msgs[i]);
  fflush(c->err ? c->err : stderr);
  c->nerrors++;
  if (c->on_error)
    longjmp(*c->on_error, 1);
  exit(1);
}

void nnc_note(Ctx *c, SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(c, loc, "note", fmt, ap);
  va_end(ap);
}

void nnc_fatal(Ctx *c, const char *fmt, ...) {
  SrcLoc none = {0};
  va_list ap;
  va_start(ap, fmt);
  report(c, none, "error", fmt, ap);
  va_end(ap);
  c->nerrors++;
  if (c->on_error)
    longjmp(*c->on_error, 1);
  exit(1);
}

static SrcFile *add_file(Ctx *c, const char *name, const char *path, char *text,
                         size_t len) {
  SrcFile *f = arena_alloc(&c->arena, sizeof *f);
  f->name = arena_strdup(&c->arena, name);
  f->path = path ? arena_strdup(&c->arena, path) : NULL;
  f->text = text;
  f->len = len;
  vec_push(&c->arena, &c->files, f);
  return f;
}

/* A NUL byte would silently end the text: report where it is. */
static void check_nul(Ctx *c, SrcFile *f, size_t len) {
  const char *nul = memchr(f->text, 0, len);
  if (!nul)
    return;
  SrcLoc loc = {f, 1, 1};
  for (const char *p = f->text; p < nul; p++, loc.col++)
    if (*p == '\n')
      loc.line++, loc.col = 0;
  f->len = (size_t)(nul - f->text);
  nnc_error(c, loc, "file contains a NUL byte (not a text file?)");
}

SrcFile *nnc_load_file(Ctx *c, const char *path, const char *shown) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    nnc_fatal(c, "cannot open %s: %s", path, strerror(errno));
  StrBuf b = {0};
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
    if (b.len + n > NNC_MAX_SOURCE) {
      fclose(fp);
      sb_free(&b);
      nnc_fatal(c, "%s: file is larger than %u MiB", path,
                NNC_MAX_SOURCE >> 20);
    }
    size_t old = b.len;
    sb_printf(&b, "%*s", (int)n, "");
    memcpy(b.s + old, buf, n);
  }
  int bad = ferror(fp), err = errno;
  fclose(fp);
  if (bad) {
    sb_free(&b);
    nnc_fatal(c, "cannot read %s: %s", path, strerror(err));
  }
  char *text = arena_strndup(&c->arena, b.s ? b.s : "", b.len);
  size_t len = b.len;
  sb_free(&b);
  SrcFile *f = add_file(c, shown ? shown : path, path, text, len);
  check_nul(c, f, len);
  return f;
}

SrcFile *nnc_source_string(Ctx *c, const char *name, const char *text) {
  return add_file(c, name, NULL, arena_strdup(&c->arena, text ? text : ""),
                  text ? strlen(text) : 0);
}
