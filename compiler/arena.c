/* arena.c — the compilation arena, pointer vectors and string buffers. */
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

typedef union MaxAlign {
  long double ld;
  long long ll;
  void *p;
  double d;
} MaxAlign;

struct ArenaBlock {
  ArenaBlock *next;
  size_t used, cap;
  MaxAlign data[];
};

void arena_init(Arena *a) {
  a->head = NULL;
  a->total = 0;
}

void arena_free(Arena *a) {
  ArenaBlock *b = a->head;
  while (b) {
    ArenaBlock *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->total = 0;
}

static void oom(void) {
  fputs("nnc: out of memory\n", stderr);
  exit(1);
}

void *arena_alloc(Arena *a, size_t n) {
  const size_t align = sizeof(MaxAlign);
  n = (n + align - 1) / align * align;
  if (n == 0)
    n = align;
  ArenaBlock *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    b = malloc(sizeof(ArenaBlock) + cap);
    if (!b)
      oom();
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  a->total += n;
  memset(p, 0, n);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s) {
  return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void *arena_grow(Arena *a, void *old, size_t oldn, size_t newn) {
  void *p = arena_alloc(a, newn);
  if (old && oldn)
    memcpy(p, old, oldn < newn ? oldn : newn);
  return p;
}

void vec_push(Arena *a, PtrVec *v, void *p) {
  if (v->n == v->cap) {
    int cap = v->cap ? v->cap * 2 : 8;
    v->v = arena_grow(a, v->v, sizeof(void *) * (size_t)v->n,
                      sizeof(void *) * (size_t)cap);
    v->cap = cap;
  }
  v->v[v->n++] = p;
}

/* Room for n more bytes and the terminating 0. */
static void sb_reserve(StrBuf *b, size_t n) {
  if (b->len + n + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  char *s = realloc(b->s, cap);
  if (!s)
    oom();
  b->s = s;
  b->cap = cap;
}

void sb_vprintf(StrBuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return;
  sb_reserve(b, (size_t)n);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sb_putn(StrBuf *b, const char *s, size_t n) {
  sb_reserve(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

void sb_printf(StrBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_putc(StrBuf *b, char c) { sb_putn(b, &c, 1); }

void sb_free(StrBuf *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}
