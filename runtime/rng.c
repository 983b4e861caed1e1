/* rng.c — reproducible random numbers: xoshiro256** seeded through
 * splitmix64, uniform doubles with 53 random bits, Box-Muller normals, a
 * Fisher-Yates shuffle, and the parameter initialisers of the IR. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc_internal.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nnc_rng_seed(nnc_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0;
}

uint64_t nnc_rng_next(nnc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nnc_rng_uniform(nnc_rng *r) {
  return (double)(nnc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double nnc_rng_normal(nnc_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1 = 1.0 - nnc_rng_uniform(r); /* (0, 1]: log(u1) is finite */
  double u2 = nnc_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1));
  double th = 6.283185307179586476925286766559 * u2;
  r->spare = rad * sin(th);
  r->has_spare = 1;
  return rad * cos(th);
}

/* A uniform integer in [0, bound) without modulo bias (bound >= 1). */
static uint64_t below(nnc_rng *r, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound; /* 2^64 mod bound */
  for (;;) {
    uint64_t x = nnc_rng_next(r);
    if (x >= threshold)
      return x % bound;
  }
}

void nnc_rng_shuffle(nnc_rng *r, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)below(r, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

/* ---------------------------------------------------------- initialisers */
typedef enum { I_ZEROS, I_ONES, I_EYE, I_CONST, I_UNIFORM, I_NORMAL } InitKind;

static const struct {
  const char *name;
  InitKind kind;
  int nargs;
} init_kinds[] = {
    {"zeros", I_ZEROS, 0},     {"ones", I_ONES, 0},
    {"eye", I_EYE, 0},         {"constant", I_CONST, 1},
    {"uniform", I_UNIFORM, 2}, {"normal", I_NORMAL, 2},
};

static const char *skip_space(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  return s;
}

/* Parses `name`, `name()` or `name(v, ...)`; 0 or -1. */
static int parse_init(const char *s, InitKind *kind, double v[2]) {
  s = skip_space(s);
  size_t len = 0;
  while (isalpha((unsigned char)s[len]) || s[len] == '_')
    len++;
  int nargs = -1;
  for (size_t i = 0; i < sizeof init_kinds / sizeof init_kinds[0]; i++)
    if (strlen(init_kinds[i].name) == len &&
        strncmp(init_kinds[i].name, s, len) == 0) {
      *kind = init_kinds[i].kind;
      nargs = init_kinds[i].nargs;
    }
  if (nargs < 0)
    return -1;
  s = skip_space(s + len);
  int got = 0;
  if (*s == '(') {
    s = skip_space(s + 1);
    while (*s != ')') {
      if (got == nargs || (got > 0 && *s++ != ','))
        return -1;
      char *end;
      v[got++] = strtod(s, &end);
      if (end == s)
        return -1;
      s = skip_space(end);
    }
    s = skip_space(s + 1);
  }
  if (got != nargs || *s)
    return -1;
  if (*kind == I_UNIFORM && !(isfinite(v[0]) && isfinite(v[1]) && v[0] <= v[1]))
    return -1;
  if (*kind == I_NORMAL && !(isfinite(v[0]) && isfinite(v[1]) && v[1] >= 0))
    return -1;
  return 0;
}

/* One fill for both element types: exactly one of pf, pd is non-NULL.
 * Values are drawn in element order; uniform(a,b) stays in [a, b) after
 * rounding to the element type (a when a == b). */
static int init_fill(nnc_rng *r, const char *init, float *pf, double *pd,
                     int64_t n, int64_t rows, int64_t cols) {
  InitKind kind = I_ZEROS;
  double v[2] = {0, 0};
  if (!init || n < 0 || parse_init(init, &kind, v) != 0)
    return -1;
  if (kind == I_EYE && (rows <= 0 || cols <= 0 || n % (rows * cols) != 0))
    return -1;
  for (int64_t i = 0; i < n; i++) {
    double x = 0;
    switch (kind) {
    case I_ZEROS:
      x = 0;
      break;
    case I_ONES:
      x = 1;
      break;
    case I_EYE:
      x = (i % (rows * cols)) / cols == i % cols;
      break;
    case I_CONST:
      x = v[0];
      break;
    case I_UNIFORM:
      x = v[0] + (v[1] - v[0]) * nnc_rng_uniform(r);
      break;
    case I_NORMAL:
      x = v[0] + v[1] * nnc_rng_normal(r);
      break;
    }
    if (pd) {
      if (kind == I_UNIFORM && x >= v[1])
        x = v[0] < v[1] ? nextafter(v[1], v[0]) : v[0];
      pd[i] = x;
    } else {
      float f = (float)x, lo = (float)v[0], hi = (float)v[1];
      if (kind == I_UNIFORM) {
        if (f >= hi)
          f = lo < hi ? nextafterf(hi, lo) : lo;
        if (f < lo)
          f = lo;
      }
      pf[i] = f;
    }
  }
  return 0;
}

int nnc_init_fill_f32(nnc_rng *r, const char *init, float *p, int64_t n,
                      int64_t rows, int64_t cols) {
  return init_fill(r, init, p, NULL, n, rows, cols);
}

int nnc_init_fill_f64(nnc_rng *r, const char *init, double *p, int64_t n,
                      int64_t rows, int64_t cols) {
  return init_fill(r, init, NULL, p, n, rows, cols);
}
