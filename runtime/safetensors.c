/* safetensors.c — weight files in the safetensors format: an 8-byte
 * little-endian header length, a JSON header that maps each tensor name to
 * {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__" map
 * of strings), then the data area. The writer puts the tensors in the order
 * given, contiguous, and writes through a temporary file renamed into place.
 * The reader parses the header with a small strict JSON parser and checks
 * every size and offset against the file before it touches the caller's
 * buffers. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "nnc_internal.h"

#define ST_MAX_HEADER 100000000u /* as the reference implementation */
#define ST_MAX_DIMS 64           /* dimensions of a tensor in a file */
#define ST_MAX_DEPTH 64          /* JSON nesting of values we skip */

/* Every dtype of the format (a tensor we are not asked for may have any of
 * them: its size still has to match its offsets). */
static const struct {
  const char *name;
  int size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};
#define ST_NDTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

static int st_dtype_find(const char *name) {
  for (int i = 0; i < ST_NDTYPES; i++)
    if (strcmp(st_dtypes[i].name, name) == 0)
      return i;
  return -1;
}

/* The file dtype of an nnc dtype we read and write; -1 for others. */
static int st_dtype_of(nnc_dtype d) {
  switch (d) {
  case NNC_F32:
    return st_dtype_find("F32");
  case NNC_F64:
    return st_dtype_find("F64");
  case NNC_I32:
    return st_dtype_find("I32");
  default:
    return -1;
  }
}

static int host_le(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/* A tensor name as it may appear in a message: printable ASCII, cut short. */
static const char *printable(const char *s, char *out, size_t cap) {
  size_t i = 0;
  for (; s[i] && i + 4 < cap; i++)
    out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s[i])
    memcpy(out + i, "...", 3), i += 3;
  out[i] = 0;
  return out;
}

/* "[256, 784]" */
static const char *shape_str(int rank, const int64_t *shape, char *out,
                             size_t cap) {
  size_t k = 0;
  k += (size_t)snprintf(out, cap, "[");
  for (int i = 0; i < rank && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "",
                          (long long)shape[i]);
  if (k < cap)
    snprintf(out + k, cap - k, "]");
  return out;
}

/* Elements of a shape, or -1 when a dimension is negative or the product
 * exceeds 2^62. */
static int64_t shape_numel(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0)
      return -1;
    if (shape[i] != 0 && n > (INT64_C(1) << 62) / shape[i])
      return -1;
    n *= shape[i];
  }
  return n;
}

/* ------------------------------------------------------------- writer */
typedef struct Buf {
  char *s;
  size_t n, cap;
  int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}

static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_json_string(Buf *b, const char *s) {
  buf_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      buf_add(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_add(b, esc, 6);
    } else {
      buf_add(b, (const char *)&c, 1);
    }
  }
  buf_add(b, "\"", 1);
}

static void buf_u64(Buf *b, uint64_t v) {
  char num[24];
  snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  buf_str(b, num);
}

/* Checks the tensors to write; their byte sizes go to bytes[]. */
static int check_write(const char *path, const nnc_st_tensor *t, int n,
                       uint64_t *bytes, char *err, size_t errlen) {
  char nm[160];
  for (int i = 0; i < n; i++) {
    if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0)
      return nnc_rt_errf(err, errlen, "%s: tensor %d has no usable name", path,
                         i);
    printable(t[i].name, nm, sizeof nm);
    int dt = st_dtype_of(t[i].dtype);
    if (dt < 0)
      return nnc_rt_errf(err, errlen,
                         "%s: tensor '%s': only F32, F64 and I32 are written",
                         path, nm);
    if (t[i].rank < 0 || t[i].rank > NNC_MAX_RANK)
      return nnc_rt_errf(err, errlen, "%s: tensor '%s': rank %d is invalid",
                         path, nm, t[i].rank);
    int64_t numel = shape_numel(t[i].rank, t[i].shape);
    if (numel < 0)
      return nnc_rt_errf(err, errlen, "%s: tensor '%s': invalid shape", path,
                         nm);
    bytes[i] = (uint64_t)numel * (uint64_t)st_dtypes[dt].size;
    if (bytes[i] > 0 && !t[i].data)
      return nnc_rt_errf(err, errlen, "%s: tensor '%s' has no data", path, nm);
    for (int j = 0; j < i; j++)
      if (strcmp(t[j].name, t[i].name) == 0)
        return nnc_rt_errf(err, errlen, "%s: tensor '%s' is given twice", path,
                           nm);
  }
  return 0;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so that the
 * data area starts aligned. */
static int build_header(Buf *h, const nnc_st_tensor *t, int n,
                        const uint64_t *bytes) {
  uint64_t off = 0;
  buf_str(h, "{\"__metadata__\":{\"format\":\"pt\"}");
  for (int i = 0; i < n; i++) {
    buf_str(h, ",");
    buf_json_string(h, t[i].name);
    buf_str(h, ":{\"dtype\":\"");
    buf_str(h, st_dtypes[st_dtype_of(t[i].dtype)].name);
    buf_str(h, "\",\"shape\":[");
    for (int d = 0; d < t[i].rank; d++) {
      if (d)
        buf_str(h, ",");
      buf_u64(h, (uint64_t)t[i].shape[d]);
    }
    buf_str(h, "],\"data_offsets\":[");
    buf_u64(h, off);
    buf_str(h, ",");
    buf_u64(h, off + bytes[i]);
    buf_str(h, "]}");
    off += bytes[i];
  }
  buf_str(h, "}");
  while (!h->oom && h->n % 8 != 0)
    buf_str(h, " ");
  return h->oom ? -1 : 0;
}

/* Writes `bytes` bytes of elements of `size` bytes, little-endian. */
static int write_le(FILE *f, const void *data, uint64_t bytes, int size) {
  if (host_le() || size == 1)
    return bytes == 0 || fwrite(data, 1, (size_t)bytes, f) == bytes ? 0 : -1;
  unsigned char chunk[4096];
  const unsigned char *src = data;
  while (bytes > 0) {
    size_t k = bytes < sizeof chunk ? (size_t)bytes : sizeof chunk;
    for (size_t i = 0; i < k; i += (size_t)size)
      for (int j = 0; j < size; j++)
        chunk[i + (size_t)j] = src[i + (size_t)(size - 1 - j)];
    if (fwrite(chunk, 1, k, f) != k)
      return -1;
    src += k;
    bytes -= k;
  }
  return 0;
}

static int write_file(FILE *f, const Buf *h, const nnc_st_tensor *t, int n,
                      const uint64_t *bytes) {
  unsigned char len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (unsigned char)((uint64_t)h->n >> (8 * i));
  if (fwrite(len, 1, 8, f) != 8 || fwrite(h->s, 1, h->n, f) != h->n)
    return -1;
  for (int i = 0; i < n; i++)
    if (write_le(f, t[i].data, bytes[i],
                 st_dtypes[st_dtype_of(t[i].dtype)].size) != 0)
      return -1;
  if (fflush(f) != 0 || fsync(fileno(f)) != 0)
    return -1;
  return 0;
}

/* Makes a rename in the directory of `path` durable (best effort). */
static void sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = NULL;
  if (slash) {
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (!(dir = malloc(len + 1)))
      return;
    memcpy(dir, path, len);
    dir[len] = 0;
  }
  int fd = open(dir ? dir : ".", O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

int nnc_st_write(const char *path, const nnc_st_tensor *t, int n, char *err,
                 size_t errlen) {
  if (n < 0 || (n > 0 && !t))
    return nnc_rt_errf(err, errlen, "%s: no tensors to write", path);
  uint64_t *bytes = malloc(sizeof(uint64_t) * (size_t)(n > 0 ? n : 1));
  Buf h = {0};
  char *tmp = malloc(strlen(path) + 32);
  int rc = -1;
  if (!bytes || !tmp) {
    nnc_rt_errf(err, errlen, "%s: out of memory", path);
    goto done;
  }
  if (check_write(path, t, n, bytes, err, errlen) != 0)
    goto done;
  if (build_header(&h, t, n, bytes) != 0) {
    nnc_rt_errf(err, errlen, "%s: out of memory", path);
    goto done;
  }
  sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    nnc_rt_errf(err, errlen, "%s: cannot create %s: %s", path, tmp,
                strerror(errno));
    goto done;
  }
  int wr = write_file(f, &h, t, n, bytes);
  int saved = errno;
  if (fclose(f) != 0 && wr == 0)
    wr = -1, saved = errno;
  if (wr == 0 && rename(tmp, path) != 0)
    wr = -1, saved = errno;
  if (wr != 0) {
    remove(tmp);
    nnc_rt_errf(err, errlen, "%s: write failed: %s", path, strerror(saved));
    goto done;
  }
  sync_dir(path);
  rc = 0;
done:
  free(bytes);
  free(h.s);
  free(tmp);
  return rc;
}

/* ------------------------------------------------------- JSON header */
typedef struct Json {
  const char *p, *start, *end;
  const char *path;
  char *err;
  size_t errlen;
} Json;

static int jerr(Json *j, const char *what) {
  return nnc_rt_errf(j->err, j->errlen,
                     "%s: corrupt safetensors header: %s at byte %ld", j->path,
                     what, (long)(j->p - j->start) + 8);
}

static void jws(Json *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

/* Skips white space; consumes c if it comes next. */
static int jeat(Json *j, char c) {
  jws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return 1;
  }
  return 0;
}

static int jexpect(Json *j, char c) {
  if (jeat(j, c))
    return 0;
  char what[32];
  snprintf(what, sizeof what, "expected '%c'", c);
  return jerr(j, what);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int jhex4(Json *j, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = j->p < j->end ? hexval(*j->p) : -1;
    if (h < 0)
      return jerr(j, "bad \\u escape");
    *v = *v * 16 + (unsigned)h;
    j->p++;
  }
  return 0;
}

/* Appends code point u as UTF-8. */
static void put_utf8(Buf *b, unsigned u) {
  char c[4];
  size_t n;
  if (u < 0x80)
    c[0] = (char)u, n = 1;
  else if (u < 0x800)
    c[0] = (char)(0xc0 | u >> 6), c[1] = (char)(0x80 | (u & 0x3f)), n = 2;
  else if (u < 0x10000)
    c[0] = (char)(0xe0 | u >> 12), c[1] = (char)(0x80 | ((u >> 6) & 0x3f)),
    c[2] = (char)(0x80 | (u & 0x3f)), n = 3;
  else
    c[0] = (char)(0xf0 | u >> 18), c[1] = (char)(0x80 | ((u >> 12) & 0x3f)),
    c[2] = (char)(0x80 | ((u >> 6) & 0x3f)), c[3] = (char)(0x80 | (u & 0x3f)),
    n = 4;
  buf_add(b, c, n);
}

static int jescape(Json *j, Buf *b) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  char c = *j->p++;
  const char *k = strchr(from, c);
  if (c && k) {
    buf_add(b, &to[k - from], 1);
    return 0;
  }
  if (c != 'u')
    return jerr(j, "bad escape in a string");
  unsigned u, lo;
  if (jhex4(j, &u) != 0)
    return -1;
  if (u >= 0xd800 && u < 0xdc00) {
    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
      return jerr(j, "unpaired surrogate");
    j->p += 2;
    if (jhex4(j, &lo) != 0)
      return -1;
    if (lo < 0xdc00 || lo >= 0xe000)
      return jerr(j, "unpaired surrogate");
    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
  } else if (u >= 0xdc00 && u < 0xe000) {
    return jerr(j, "unpaired surrogate");
  }
  if (u == 0)
    return jerr(j, "NUL character in a string");
  put_utf8(b, u);
  return 0;
}

/* A string; *out (malloc'd) when out is not NULL. */
static int jstring(Json *j, char **out) {
  Buf b = {0};
  if (!jeat(j, '"'))
    return jerr(j, "expected a string");
  buf_add(&b, "", 0);
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20) {
      free(b.s);
      return jerr(j, "control character in a string");
    }
    if (c == '\\') {
      j->p++;
      if (j->p >= j->end || jescape(j, &b) != 0) {
        free(b.s);
        return j->p >= j->end ? jerr(j, "unterminated string") : -1;
      }
    } else {
      buf_add(&b, (const char *)&c, 1);
      j->p++;
    }
  }
  if (j->p >= j->end || b.oom) {
    free(b.s);
    return b.oom ? nnc_rt_errf(j->err, j->errlen, "%s: out of memory", j->path)
                 : jerr(j, "unterminated string");
  }
  j->p++;
  if (out)
    *out = b.s;
  else
    free(b.s);
  return 0;
}

/* A JSON number (any), skipped. */
static int jnumber(Json *j) {
  const char *p = j->p;
  if (p < j->end && *p == '-')
    p++;
  if (p >= j->end || *p < '0' || *p > '9')
    return jerr(j, "expected a value");
  if (*p == '0')
    p++;
  else
    while (p < j->end && *p >= '0' && *p <= '9')
      p++;
  if (p < j->end && *p == '.') {
    if (++p >= j->end || *p < '0' || *p > '9')
      return jerr(j, "bad number");
    while (p < j->end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < j->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < j->end && (*p == '+' || *p == '-'))
      p++;
    if (p >= j->end || *p < '0' || *p > '9')
      return jerr(j, "bad number");
    while (p < j->end && *p >= '0' && *p <= '9')
      p++;
  }
  j->p = p;
  return 0;
}

/* A non-negative integer without fraction or exponent, at most 2^62. */
static int juint(Json *j, uint64_t *v) {
  jws(j);
  const char *p = j->p;
  if (p >= j->end || *p < '0' || *p > '9')
    return jerr(j, "expected a non-negative integer");
  if (*p == '0' && p + 1 < j->end && p[1] >= '0' && p[1] <= '9')
    return jerr(j, "leading zero in a number");
  *v = 0;
  while (p < j->end && *p >= '0' && *p <= '9') {
    if (*v > ((UINT64_C(1) << 62) - (uint64_t)(*p - '0')) / 10) {
      j->p = p;
      return jerr(j, "integer too large");
    }
    *v = *v * 10 + (uint64_t)(*p++ - '0');
  }
  if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E')) {
    j->p = p;
    return jerr(j, "expected an integer");
  }
  j->p = p;
  return 0;
}

static int jskip(Json *j, int depth);

static int jskip_container(Json *j, int depth, char close) {
  if (depth > ST_MAX_DEPTH)
    return jerr(j, "nesting too deep");
  if (jeat(j, close))
    return 0;
  do {
    if (close == '}' && (jstring(j, NULL) != 0 || jexpect(j, ':') != 0))
      return -1;
    if (jskip(j, depth + 1) != 0)
      return -1;
  } while (jeat(j, ','));
  return jexpect(j, close);
}

/* Any value, checked and skipped. */
static int jskip(Json *j, int depth) {
  jws(j);
  if (j->p >= j->end)
    return jerr(j, "unexpected end");
  static const char *const words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
      j->p += n;
      return 0;
    }
  }
  switch (*j->p) {
  case '"':
    return jstring(j, NULL);
  case '{':
    j->p++;
    return jskip_container(j, depth, '}');
  case '[':
    j->p++;
    return jskip_container(j, depth, ']');
  default:
    return jnumber(j);
  }
}

/* One tensor of the file. */
typedef struct Entry {
  char *name;
  int dtype; /* index into st_dtypes */
  int rank;
  int64_t shape[ST_MAX_DIMS];
  uint64_t begin, end;
} Entry;

typedef struct Entries {
  Entry *v;
  int n, cap;
} Entries;

static void entries_free(Entries *es) {
  for (int i = 0; i < es->n; i++)
    free(es->v[i].name);
  free(es->v);
}

static int parse_shape(Json *j, Entry *e, const char *nm) {
  if (jexpect(j, '[') != 0)
    return -1;
  e->rank = 0;
  if (jeat(j, ']'))
    return 0;
  do {
    uint64_t v;
    if (e->rank == ST_MAX_DIMS)
      return nnc_rt_errf(j->err, j->errlen,
                         "%s: tensor '%s' has more than %d dimensions", j->path,
                         nm, ST_MAX_DIMS);
    if (juint(j, &v) != 0)
      return -1;
    e->shape[e->rank++] = (int64_t)v;
  } while (jeat(j, ','));
  return jexpect(j, ']');
}

static int parse_offsets(Json *j, Entry *e) {
  if (jexpect(j, '[') != 0 || juint(j, &e->begin) != 0 ||
      jexpect(j, ',') != 0 || juint(j, &e->end) != 0)
    return -1;
  return jexpect(j, ']');
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, other keys
 * skipped; e->name is set. */
static int parse_tensor(Json *j, Entry *e) {
  char nm[160];
  int have = 0; /* bits: 1 dtype, 2 shape, 4 offsets */
  printable(e->name, nm, sizeof nm);
  if (jexpect(j, '{') != 0)
    return -1;
  if (!jeat(j, '}')) {
    do {
      char *key = NULL;
      int rc = 0;
      if (jstring(j, &key) != 0 || jexpect(j, ':') != 0) {
        free(key);
        return -1;
      }
      if (strcmp(key, "dtype") == 0) {
        char *dt = NULL;
        rc = jstring(j, &dt);
        if (rc == 0 && (e->dtype = st_dtype_find(dt)) < 0) {
          char dn[40];
          rc = nnc_rt_errf(j->err, j->errlen,
                           "%s: tensor '%s' has unknown dtype \"%s\"", j->path,
                           nm, printable(dt, dn, sizeof dn));
        }
        free(dt);
        have |= 1;
      } else if (strcmp(key, "shape") == 0) {
        rc = parse_shape(j, e, nm);
        have |= 2;
      } else if (strcmp(key, "data_offsets") == 0) {
        rc = parse_offsets(j, e);
        have |= 4;
      } else {
        rc = jskip(j, 1);
      }
      free(key);
      if (rc != 0)
        return -1;
    } while (jeat(j, ','));
    if (jexpect(j, '}') != 0)
      return -1;
  }
  if (have != 7)
    return nnc_rt_errf(j->err, j->errlen, "%s: tensor '%s' has no %s", j->path,
                       nm,
                       !(have & 1)   ? "dtype"
                       : !(have & 2) ? "shape"
                                     : "data_offsets");
  return 0;
}

/* "__metadata__": an object of strings. */
static int parse_metadata(Json *j) {
  if (jexpect(j, '{') != 0)
    return -1;
  if (jeat(j, '}'))
    return 0;
  do {
    if (jstring(j, NULL) != 0 || jexpect(j, ':') != 0 || jstring(j, NULL) != 0)
      return -1;
  } while (jeat(j, ','));
  return jexpect(j, '}');
}

/* Checks an entry's size against its offsets and the data area. */
static int check_entry(Json *j, const Entry *e, uint64_t data_size) {
  char nm[160], sh[256];
  printable(e->name, nm, sizeof nm);
  int64_t numel = shape_numel(e->rank, e->shape);
  uint64_t need = (uint64_t)numel * (uint64_t)st_dtypes[e->dtype].size;
  if (numel < 0 || need / (uint64_t)st_dtypes[e->dtype].size != (uint64_t)numel)
    return nnc_rt_errf(
        j->err, j->errlen, "%s: tensor '%s' has an impossibly large shape %s",
        j->path, nm, shape_str(e->rank, e->shape, sh, sizeof sh));
  if (e->begin > e->end || e->end > data_size)
    return nnc_rt_errf(
        j->err, j->errlen,
        "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the data "
        "area of %llu bytes (truncated or corrupt file)",
        j->path, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
        (unsigned long long)data_size);
  if (e->end - e->begin != need)
    return nnc_rt_errf(
        j->err, j->errlen,
        "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu "
        "bytes but dtype %s and shape %s need %llu",
        j->path, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
        (unsigned long long)(e->end - e->begin), st_dtypes[e->dtype].name,
        shape_str(e->rank, e->shape, sh, sizeof sh), (unsigned long long)need);
  return 0;
}

static int add_entry(Json *j, Entries *es, char *name) {
  for (int i = 0; i < es->n; i++)
    if (strcmp(es->v[i].name, name) == 0) {
      char nm[160];
      nnc_rt_errf(j->err, j->errlen, "%s: tensor '%s' appears twice", j->path,
                  printable(name, nm, sizeof nm));
      free(name);
      return -1;
    }
  if (es->n == es->cap) {
    int cap = es->cap ? es->cap * 2 : 16;
    Entry *v = realloc(es->v, sizeof(Entry) * (size_t)cap);
    if (!v) {
      free(name);
      return nnc_rt_errf(j->err, j->errlen, "%s: out of memory", j->path);
    }
    es->v = v;
    es->cap = cap;
  }
  memset(&es->v[es->n], 0, sizeof(Entry));
  es->v[es->n++].name = name;
  return 0;
}

/* The whole header: one object; white space (padding) may follow. */
static int parse_header(Json *j, Entries *es, uint64_t data_size) {
  int have_meta = 0;
  jws(j);
  if (j->p >= j->end || *j->p != '{')
    return jerr(j, "the header is not a JSON object");
  j->p++;
  if (!jeat(j, '}')) {
    do {
      char *name = NULL;
      if (jstring(j, &name) != 0 || jexpect(j, ':') != 0) {
        free(name);
        return -1;
      }
      if (strcmp(name, "__metadata__") == 0) {
        free(name);
        if (have_meta++)
          return jerr(j, "__metadata__ appears twice");
        if (parse_metadata(j) != 0)
          return -1;
        continue;
      }
      if (add_entry(j, es, name) != 0)
        return -1;
      Entry *e = &es->v[es->n - 1];
      if (parse_tensor(j, e) != 0 || check_entry(j, e, data_size) != 0)
        return -1;
    } while (jeat(j, ','));
    if (jexpect(j, '}') != 0)
      return -1;
  }
  jws(j);
  if (j->p != j->end)
    return jerr(j, "text after the header object");
  return 0;
}

/* ------------------------------------------------------------- reader */
static uint32_t le32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

static uint64_t le64(const unsigned char *b) {
  return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* Element i of raw little-endian data of file dtype fdt, stored as want. */
static void convert(const unsigned char *src, int fdt, nnc_dtype want,
                    void *dst, int64_t i) {
  const char *name = st_dtypes[fdt].name;
  if (strcmp(name, "I32") == 0) {
    uint32_t u = le32(src);
    int32_t v;
    memcpy(&v, &u, 4);
    ((int32_t *)dst)[i] = v;
    return;
  }
  double x;
  if (strcmp(name, "F32") == 0) {
    uint32_t u = le32(src);
    float f;
    memcpy(&f, &u, 4);
    x = f;
  } else {
    uint64_t u = le64(src);
    memcpy(&x, &u, 8);
  }
  if (want == NNC_F32)
    ((float *)dst)[i] = (float)x;
  else
    ((double *)dst)[i] = x;
}

static int read_tensor(FILE *f, uint64_t off, const Entry *e, nnc_dtype want,
                       void *dst) {
  int size = st_dtypes[e->dtype].size;
  uint64_t bytes = e->end - e->begin;
  if (bytes == 0)
    return 0;
  if (fseeko(f, (off_t)(off + e->begin), SEEK_SET) != 0)
    return -1;
  if (host_le() && e->dtype == st_dtype_of(want))
    return fread(dst, 1, (size_t)bytes, f) == bytes ? 0 : -1;
  unsigned char chunk[8192];
  int64_t i = 0;
  while (bytes > 0) {
    size_t k = bytes < sizeof chunk ? (size_t)bytes : sizeof chunk;
    if (fread(chunk, 1, k, f) != k)
      return -1;
    for (size_t b = 0; b < k; b += (size_t)size)
      convert(chunk + b, e->dtype, want, dst, i++);
    bytes -= k;
  }
  return 0;
}

/* Checks the caller's tensor t against the file's entries; its match is
 * stored in *found. */
static int match(Json *j, const Entries *es, const nnc_st_tensor *t,
                 const Entry **found) {
  char nm[160], a[256], b[256];
  if (!t->name)
    return nnc_rt_errf(j->err, j->errlen, "%s: a tensor without a name",
                       j->path);
  printable(t->name, nm, sizeof nm);
  int want = st_dtype_of(t->dtype);
  if (want < 0 || t->rank < 0 || t->rank > NNC_MAX_RANK)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: tensor '%s': the model asks for an unsupported "
                       "dtype or rank",
                       j->path, nm);
  const Entry *e = NULL;
  for (int i = 0; i < es->n && !e; i++)
    if (strcmp(es->v[i].name, t->name) == 0)
      e = &es->v[i];
  if (!e)
    return nnc_rt_errf(j->err, j->errlen, "%s: no tensor '%s' in the file",
                       j->path, nm);
  int is_float = t->dtype == NNC_F32 || t->dtype == NNC_F64;
  const char *fd = st_dtypes[e->dtype].name;
  int file_float = strcmp(fd, "F32") == 0 || strcmp(fd, "F64") == 0;
  if (is_float ? !file_float : e->dtype != want)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: tensor '%s' has dtype %s in the file but the "
                       "model needs %s",
                       j->path, nm, fd, st_dtypes[want].name);
  int same = e->rank == t->rank;
  for (int d = 0; same && d < t->rank; d++)
    same = e->shape[d] == t->shape[d];
  if (!same)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: tensor '%s' has shape %s in the file but the "
                       "model needs %s",
                       j->path, nm, shape_str(e->rank, e->shape, a, sizeof a),
                       shape_str(t->rank, t->shape, b, sizeof b));
  if (!t->data && e->end > e->begin)
    return nnc_rt_errf(j->err, j->errlen, "%s: tensor '%s': no buffer", j->path,
                       nm);
  *found = e;
  return 0;
}

/* Reads and parses the header of an open file into es; *data_off is where
 * the data area starts. */
static int read_header(FILE *f, Json *j, Entries *es, uint64_t *data_off) {
  struct stat st;
  unsigned char len[8];
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
    return nnc_rt_errf(j->err, j->errlen, "%s: not a regular file", j->path);
  uint64_t fsize = (uint64_t)st.st_size;
  if (fsize < 8 || fread(len, 1, 8, f) != 8)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: truncated: %llu bytes, too short for a "
                       "safetensors file",
                       j->path, (unsigned long long)fsize);
  uint64_t hlen = le64(len);
  if (hlen > fsize - 8)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: truncated or not a safetensors file: the header "
                       "length is %llu bytes but only %llu follow",
                       j->path, (unsigned long long)hlen,
                       (unsigned long long)(fsize - 8));
  if (hlen > ST_MAX_HEADER || hlen < 2)
    return nnc_rt_errf(j->err, j->errlen,
                       "%s: not a safetensors file: header length %llu",
                       j->path, (unsigned long long)hlen);
  char *h = malloc((size_t)hlen);
  if (!h)
    return nnc_rt_errf(j->err, j->errlen, "%s: out of memory", j->path);
  int rc = -1;
  if (fread(h, 1, (size_t)hlen, f) != hlen) {
    nnc_rt_errf(j->err, j->errlen, "%s: read error in the header", j->path);
  } else {
    j->p = j->start = h;
    j->end = h + hlen;
    rc = parse_header(j, es, fsize - 8 - hlen);
  }
  free(h);
  j->p = j->start = j->end = NULL;
  *data_off = 8 + hlen;
  return rc;
}

int nnc_st_read(const char *path, nnc_st_tensor *t, int n, char *err,
                size_t errlen) {
  Json j = {NULL, NULL, NULL, path, err, errlen};
  Entries es = {0};
  const Entry **found = malloc(sizeof(Entry *) * (size_t)(n > 0 ? n : 1));
  uint64_t data_off = 0;
  int rc = -1;
  FILE *f = fopen(path, "rb");
  if (!f || !found || n < 0) {
    nnc_rt_errf(err, errlen, "%s: %s", path,
                !f ? strerror(errno) : "invalid arguments or out of memory");
    goto done;
  }
  if (read_header(f, &j, &es, &data_off) != 0)
    goto done;
  for (int i = 0; i < n; i++)
    if (match(&j, &es, &t[i], &found[i]) != 0)
      goto done;
  for (int i = 0; i < n; i++)
    if (read_tensor(f, data_off, found[i], t[i].dtype, t[i].data) != 0) {
      char nm[160];
      nnc_rt_errf(err, errlen, "%s: tensor '%s': read error", path,
                  printable(t[i].name, nm, sizeof nm));
      goto done;
    }
  rc = 0;
done:
  if (f)
    fclose(f);
  entries_free(&es);
  free((void *)found);
  return rc;
}
