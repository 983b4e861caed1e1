/* data.c — data sets: IDX image and label files (plain or gzip, both read
 * through zlib's gzread) and CSV files with a header line. Every error
 * names the file; a failed load leaves the data set empty. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nnc_internal.h"

#define IDX_MAX_DIM 0x7fffffff

void nnc_dataset_free(nnc_dataset *d) {
  if (!d)
    return;
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}

/* An error message for a failed gzread (a read error or corrupt gzip data)
 * or, when zlib reports none, for a file that ended early. */
static int read_fail(gzFile f, const char *path, const char *what, char *err,
                     size_t errlen) {
  int code = 0;
  const char *msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_BUF_ERROR)
    return nnc_rt_errf(err, errlen, "%s: corrupt or unreadable (%s) in %s",
                       path, code == Z_ERRNO ? strerror(errno) : msg, what);
  return nnc_rt_errf(err, errlen, "%s: truncated: the file ends inside %s",
                     path, what);
}

/* Reads exactly n bytes. */
static int read_exact(gzFile f, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    unsigned k = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    int got = gzread(f, p, k);
    if (got <= 0)
      return -1;
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

/* The header of an IDX file: magic 0 0 TYPE NDIMS, then NDIMS big-endian
 * 32-bit sizes. Only unsigned bytes (TYPE 0x08) are read. */
static int idx_header(gzFile f, const char *path, int64_t *dims, int *ndims,
                      char *err, size_t errlen) {
  unsigned char m[4], b[4];
  if (read_exact(f, m, 4) != 0)
    return read_fail(f, path, "the IDX magic number", err, errlen);
  if (m[0] != 0 || m[1] != 0 || m[3] < 1 || m[3] > 8)
    return nnc_rt_errf(err, errlen,
                       "%s: not an IDX file (magic bytes %02x %02x %02x %02x)",
                       path, m[0], m[1], m[2], m[3]);
  if (m[2] != 0x08)
    return nnc_rt_errf(err, errlen,
                       "%s: IDX element type 0x%02x is not supported (only "
                       "unsigned bytes, 0x08)",
                       path, m[2]);
  *ndims = m[3];
  for (int i = 0; i < *ndims; i++) {
    if (read_exact(f, b, 4) != 0)
      return read_fail(f, path, "the IDX dimensions", err, errlen);
    dims[i] = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 | (int64_t)b[2] << 8 |
              (int64_t)b[3];
    if (dims[i] < 1 || dims[i] > IDX_MAX_DIM)
      return nnc_rt_errf(err, errlen, "%s: IDX dimension %d is %lld", path, i,
                         (long long)dims[i]);
  }
  return 0;
}

/* After the last byte we need: one more read makes zlib check the gzip
 * trailer (CRC and length), so a corrupt archive is not taken as good. */
static int idx_finish(gzFile f, const char *path, char *err, size_t errlen) {
  unsigned char c;
  if (gzread(f, &c, 1) < 0)
    return read_fail(f, path, "the gzip data", err, errlen);
  return 0;
}

static gzFile open_gz(const char *path, char *err, size_t errlen) {
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    nnc_rt_errf(err, errlen, "%s: cannot open: %s", path,
                errno ? strerror(errno) : "out of memory");
  else
    gzbuffer(f, 1u << 17);
  return f;
}

static int idx_images(const char *path, nnc_dataset *d, char *err,
                      size_t errlen) {
  int64_t dims[8];
  int nd;
  gzFile f = open_gz(path, err, errlen);
  if (!f)
    return -1;
  int rc = idx_header(f, path, dims, &nd, err, errlen);
  if (rc == 0 && nd < 2)
    rc = nnc_rt_errf(err, errlen,
                     "%s: an IDX image file has at least 2 dimensions, "
                     "this one has %d (a label file?)",
                     path, nd);
  int64_t dim = 1;
  for (int i = 1; rc == 0 && i < nd; i++) {
    const int64_t lim = INT64_C(1) << 40; /* elements */
    if (dim > lim / dims[i] || dims[0] > lim / (dim * dims[i]))
      rc = nnc_rt_errf(err, errlen, "%s: IDX sizes too large", path);
    else
      dim *= dims[i];
  }
  if (rc == 0) {
    d->n = dims[0];
    d->dim = dim;
    d->rows = nd == 3 ? dims[1] : 0;
    d->cols = nd == 3 ? dims[2] : 0;
  }
  /* x grows as pixels arrive: a header that claims more than the file
   * holds ends as "truncated", not as a huge allocation */
  unsigned char buf[65536];
  int64_t total = d->n * d->dim, cap = 0;
  for (int64_t at = 0; rc == 0 && at < total;) {
    size_t k =
        total - at < (int64_t)sizeof buf ? (size_t)(total - at) : sizeof buf;
    if (read_exact(f, buf, k) != 0) {
      rc = read_fail(f, path, "the pixel data", err, errlen);
      break;
    }
    if (at + (int64_t)k > cap) {
      int64_t nc = cap ? 2 * cap : INT64_C(1) << 20;
      nc = nc < total ? nc : total;
      float *x = realloc(d->x, sizeof(float) * (size_t)nc);
      if (!x) {
        rc = nnc_rt_errf(err, errlen, "%s: out of memory", path);
        break;
      }
      d->x = x;
      cap = nc;
    }
    for (size_t i = 0; i < k; i++)
      d->x[at + (int64_t)i] = (float)buf[i] / 255.0f;
    at += (int64_t)k;
  }
  if (rc == 0)
    rc = idx_finish(f, path, err, errlen);
  gzclose(f);
  return rc;
}

static int idx_labels(const char *path, nnc_dataset *d, char *err,
                      size_t errlen) {
  int64_t dims[8];
  int nd;
  gzFile f = open_gz(path, err, errlen);
  if (!f)
    return -1;
  int rc = idx_header(f, path, dims, &nd, err, errlen);
  if (rc == 0 && nd != 1)
    rc = nnc_rt_errf(err, errlen,
                     "%s: an IDX label file has 1 dimension, this one has %d",
                     path, nd);
  if (rc == 0 && dims[0] != d->n)
    rc = nnc_rt_errf(err, errlen, "%s: %lld labels for %lld images", path,
                     (long long)dims[0], (long long)d->n);
  unsigned char *lab = NULL;
  if (rc == 0 && !(lab = malloc((size_t)d->n)))
    rc = nnc_rt_errf(err, errlen, "%s: out of memory", path);
  if (rc == 0 && !(d->y = malloc(sizeof(int32_t) * (size_t)d->n)))
    rc = nnc_rt_errf(err, errlen, "%s: out of memory", path);
  if (rc == 0 && read_exact(f, lab, (size_t)d->n) != 0)
    rc = read_fail(f, path, "the labels", err, errlen);
  if (rc == 0)
    rc = idx_finish(f, path, err, errlen);
  for (int64_t i = 0; rc == 0 && i < d->n; i++) {
    d->y[i] = lab[i];
    if (lab[i] + 1 > d->nclasses)
      d->nclasses = lab[i] + 1;
  }
  free(lab);
  gzclose(f);
  return rc;
}

int nnc_idx_load(const char *images, const char *labels, nnc_dataset *d,
                 char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  if (idx_images(images, d, err, errlen) != 0 ||
      (labels && idx_labels(labels, d, err, errlen) != 0)) {
    nnc_dataset_free(d);
    return -1;
  }
  return 0;
}

/* ----------------------------------------------------------------- CSV */
typedef struct Csv {
  gzFile f;
  const char *path;
  char *line; /* the current line, without its end of line */
  size_t cap;
  int64_t lineno;
  char **field; /* the fields of the current line (into `line`) */
  int nfield, capfield;
} Csv;

/* Reads the next line: 1, 0 at the end, -1 on error (err filled). */
static int csv_line(Csv *c, char *err, size_t errlen) {
  size_t len = 0;
  for (;;) {
    if (c->cap - len < 2) {
      size_t cap = c->cap ? c->cap * 2 : 4096;
      char *p = realloc(c->line, cap);
      if (!p)
        return nnc_rt_errf(err, errlen, "%s: out of memory", c->path);
      c->line = p;
      c->cap = cap;
    }
    int avail = c->cap - len > INT_MAX ? INT_MAX : (int)(c->cap - len);
    if (!gzgets(c->f, c->line + len, avail)) {
      int code;
      const char *msg = gzerror(c->f, &code);
      if (code != Z_OK && code != Z_BUF_ERROR)
        return nnc_rt_errf(err, errlen, "%s: read error: %s", c->path, msg);
      if (len == 0)
        return 0;
      break;
    }
    len += strlen(c->line + len);
    if (len > 0 && c->line[len - 1] == '\n')
      break;
  }
  c->lineno++;
  while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r'))
    c->line[--len] = 0;
  return 1;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = 0;
  return s;
}

/* Splits the current line at commas (a field in double quotes may hold
 * commas, "" is a quote); fields are trimmed. */
static int csv_split(Csv *c, char *err, size_t errlen) {
  char *p = c->line;
  c->nfield = 0;
  for (;;) {
    if (c->nfield == c->capfield) {
      int cap = c->capfield ? c->capfield * 2 : 64;
      char **v = realloc(c->field, sizeof(char *) * (size_t)cap);
      if (!v)
        return nnc_rt_errf(err, errlen, "%s: out of memory", c->path);
      c->field = v;
      c->capfield = cap;
    }
    while (*p == ' ' || *p == '\t')
      p++;
    char *start = p, *out = p;
    if (*p == '"') {
      start = out = ++p;
      while (*p && !(*p == '"' && p[1] != '"'))
        *out++ = *p == '"' ? (p += 2, '"') : *p++;
      if (*p != '"')
        return nnc_rt_errf(err, errlen, "%s:%lld: unterminated quote", c->path,
                           (long long)c->lineno);
      p++;
      while (*p && *p != ',')
        p++;
    } else {
      while (*p && *p != ',')
        p++;
      out = p;
    }
    int last = *p == 0;
    *out = 0;
    if (!last)
      p++;
    c->field[c->nfield++] = trim(start);
    if (last)
      return 0;
  }
}

static int blank(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  return *s == 0;
}

/* Appends one example (fields parsed) to d. */
static int csv_row(Csv *c, nnc_dataset *d, int label, int64_t *cap, char *err,
                   size_t errlen) {
  if (d->n == *cap) {
    int64_t nc = *cap ? *cap * 2 : 1024;
    float *x = realloc(d->x, sizeof(float) * (size_t)(nc * d->dim));
    int32_t *y = x ? realloc(d->y, sizeof(int32_t) * (size_t)nc) : NULL;
    if (x)
      d->x = x;
    if (!y)
      return nnc_rt_errf(err, errlen, "%s: out of memory", c->path);
    d->y = y;
    *cap = nc;
  }
  float *x = d->x + d->n * d->dim;
  for (int i = 0; i < c->nfield; i++) {
    char *end;
    errno = 0;
    double v = strtod(c->field[i], &end);
    if (end == c->field[i] || *end)
      return nnc_rt_errf(err, errlen,
                         "%s:%lld: column %d ('%.40s') is not a number",
                         c->path, (long long)c->lineno, i + 1, c->field[i]);
    if (i == label) {
      if (!(v >= 0 && v <= INT32_MAX - 1 && v == floor(v)))
        return nnc_rt_errf(err, errlen,
                           "%s:%lld: the label '%.40s' is not a class number "
                           "(an integer from 0)",
                           c->path, (long long)c->lineno, c->field[i]);
      d->y[d->n] = (int32_t)v;
      if ((int32_t)v + 1 > d->nclasses)
        d->nclasses = (int32_t)v + 1;
    } else {
      *x++ = (float)v;
    }
  }
  d->n++;
  return 0;
}

/* Finds the label column in the header fields of c. */
static int csv_label(Csv *c, const char *label_column, char *err,
                     size_t errlen) {
  if (!label_column)
    return c->nfield - 1;
  for (int i = 0; i < c->nfield; i++)
    if (strcmp(c->field[i], label_column) == 0)
      return i;
  return nnc_rt_errf(err, errlen, "%s: no column '%s' in the header line",
                     c->path, label_column);
}

static int csv_read(Csv *c, const char *label_column, nnc_dataset *d, char *err,
                    size_t errlen) {
  int r;
  while ((r = csv_line(c, err, errlen)) == 1 && blank(c->line))
    ;
  if (r <= 0)
    return r < 0 ? -1
                 : nnc_rt_errf(err, errlen, "%s: empty file (no header line)",
                               c->path);
  if (csv_split(c, err, errlen) != 0)
    return -1;
  int ncol = c->nfield, label = csv_label(c, label_column, err, errlen);
  if (label < 0)
    return -1;
  if (ncol < 2)
    return nnc_rt_errf(err, errlen,
                       "%s: the header has %d column: a label and at least "
                       "one feature are needed",
                       c->path, ncol);
  d->dim = ncol - 1;
  int64_t cap = 0;
  while ((r = csv_line(c, err, errlen)) == 1) {
    if (blank(c->line))
      continue;
    if (csv_split(c, err, errlen) != 0)
      return -1;
    if (c->nfield != ncol)
      return nnc_rt_errf(err, errlen,
                         "%s:%lld: %d fields, the header line has %d", c->path,
                         (long long)c->lineno, c->nfield, ncol);
    if (csv_row(c, d, label, &cap, err, errlen) != 0)
      return -1;
  }
  if (r < 0)
    return -1;
  if (d->n == 0)
    return nnc_rt_errf(err, errlen, "%s: no data rows after the header",
                       c->path);
  return 0;
}

int nnc_csv_load(const char *path, const char *label_column, nnc_dataset *d,
                 char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  Csv c = {0};
  c.path = path;
  c.f = open_gz(path, err, errlen);
  if (!c.f)
    return -1;
  int rc = csv_read(&c, label_column, d, err, errlen);
  gzclose(c.f);
  free(c.line);
  free(c.field);
  if (rc != 0)
    nnc_dataset_free(d);
  return rc;
}
