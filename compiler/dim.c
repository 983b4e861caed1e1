/* dim.c — symbolic dimensions: polynomials with integer coefficients over
 * named symbols, kept canonical (terms sorted by degree, then by their sorted
 * variable lists; no zero coefficients; zero is the empty polynomial), with
 * overflow-checked arithmetic, exact division and printing. Also dtypes. */
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

#define DIM_MAXITER 256 /* bound on the steps of a polynomial division */

static const char *const dtype_names[DT_COUNT] = {"f32", "f64", "i32", "bool"};

const char *dtype_name(DType t) {
  return (unsigned)t < DT_COUNT ? dtype_names[t] : "?";
}

int dtype_parse(const char *s, DType *out) {
  for (int i = 0; i < DT_COUNT; i++)
    if (!strcmp(s, dtype_names[i])) {
      *out = (DType)i;
      return 1;
    }
  return 0;
}

int dtype_is_float(DType t) { return t == DT_F32 || t == DT_F64; }

int dim_sym(Arena *a, DimSyms *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->name[i], name))
      return i;
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 8;
    s->name = arena_grow(a, s->name, sizeof *s->name * (size_t)s->cap,
                         sizeof *s->name * (size_t)cap);
    s->cap = cap;
  }
  s->name[s->n] = arena_strdup(a, name);
  return s->n++;
}

/* The term order: higher degree first, then sorted variable lists compared
 * lexicographically (graded lex order, so it is kept by multiplication). */
static int term_cmp(const DimTerm *x, const DimTerm *y) {
  if (x->nvar != y->nvar)
    return x->nvar > y->nvar ? -1 : 1;
  for (int i = 0; i < x->nvar; i++)
    if (x->var[i] != y->var[i])
      return x->var[i] < y->var[i] ? -1 : 1;
  return 0;
}

static int term_qcmp(const void *x, const void *y) { return term_cmp(x, y); }

static DimTerm *terms_new(Arena *a, int n) {
  return n ? arena_alloc(a, sizeof(DimTerm) * (size_t)n) : NULL;
}

/* Sorts t[0..n), merges equal monomials and drops zeros; 0 on overflow. */
static int normalize(DimTerm *t, int n, Dim *out) {
  if (n > 1)
    qsort(t, (size_t)n, sizeof *t, term_qcmp);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k > 0 && term_cmp(&t[k - 1], &t[i]) == 0) {
      if (__builtin_add_overflow(t[k - 1].coef, t[i].coef, &t[k - 1].coef))
        return 0;
    } else {
      t[k++] = t[i];
    }
    if (t[k - 1].coef == 0)
      k--;
  }
  out->nterm = k;
  out->term = k ? t : NULL;
  return 1;
}

Dim dim_const(Arena *a, int64_t v) {
  Dim d = {0, NULL};
  if (v != 0) {
    d.term = terms_new(a, 1);
    d.term[0].coef = v;
    d.nterm = 1;
  }
  return d;
}

Dim dim_var(Arena *a, int sym) {
  Dim d = {1, terms_new(a, 1)};
  d.term[0].coef = 1;
  d.term[0].nvar = 1;
  d.term[0].var[0] = sym;
  return d;
}

int dim_is_const(Dim d) {
  return d.nterm == 0 || (d.nterm == 1 && d.term[0].nvar == 0);
}

int64_t dim_value(Dim d) { return d.nterm ? d.term[0].coef : 0; }

int64_t dim_known(Dim d) { return dim_is_const(d) ? dim_value(d) : -1; }

int dim_eq(Dim a, Dim b) {
  if (a.nterm != b.nterm)
    return 0;
  for (int i = 0; i < a.nterm; i++)
    if (a.term[i].coef != b.term[i].coef || term_cmp(&a.term[i], &b.term[i]))
      return 0;
  return 1;
}

/* x + sign*y, sign being 1 or -1. */
static int add_signed(Arena *a, Dim x, Dim y, int sign, Dim *out) {
  DimTerm *t = terms_new(a, x.nterm + y.nterm);
  if (x.nterm)
    memcpy(t, x.term, sizeof *t * (size_t)x.nterm);
  for (int i = 0; i < y.nterm; i++) {
    t[x.nterm + i] = y.term[i];
    if (sign < 0 && __builtin_sub_overflow((int64_t)0, y.term[i].coef,
                                           &t[x.nterm + i].coef))
      return 0;
  }
  return normalize(t, x.nterm + y.nterm, out);
}

int dim_add(Arena *a, Dim x, Dim y, Dim *out) {
  return add_signed(a, x, y, 1, out);
}

int dim_sub(Arena *a, Dim x, Dim y, Dim *out) {
  return add_signed(a, x, y, -1, out);
}

/* The product of two monomials; 0 on overflow or too many variables. */
static int term_mul(const DimTerm *x, const DimTerm *y, DimTerm *out) {
  if (x->nvar + y->nvar > DIM_MAXVARS)
    return 0;
  if (__builtin_mul_overflow(x->coef, y->coef, &out->coef))
    return 0;
  int i = 0, j = 0, k = 0;
  while (i < x->nvar || j < y->nvar) {
    if (j >= y->nvar || (i < x->nvar && x->var[i] <= y->var[j]))
      out->var[k++] = x->var[i++];
    else
      out->var[k++] = y->var[j++];
  }
  out->nvar = k;
  for (; k < DIM_MAXVARS; k++)
    out->var[k] = 0;
  return 1;
}

int dim_mul(Arena *a, Dim x, Dim y, Dim *out) {
  int n = x.nterm * y.nterm;
  DimTerm *t = terms_new(a, n);
  for (int i = 0; i < x.nterm; i++)
    for (int j = 0; j < y.nterm; j++)
      if (!term_mul(&x.term[i], &y.term[j], &t[i * y.nterm + j]))
        return 0;
  return normalize(t, n, out);
}

/* Exact division of one coefficient; 0 if inexact or overflowing. */
static int coef_div(int64_t x, int64_t k, int64_t *out) {
  if (k == 0 || (k == -1 && x == INT64_MIN) || x % k != 0)
    return 0;
  *out = x / k;
  return 1;
}

int dim_div_const(Arena *a, Dim x, int64_t k, Dim *out) {
  DimTerm *t = terms_new(a, x.nterm);
  for (int i = 0; i < x.nterm; i++) {
    t[i] = x.term[i];
    if (!coef_div(x.term[i].coef, k, &t[i].coef))
      return 0;
  }
  out->nterm = x.nterm;
  out->term = t;
  return 1;
}

/* x / y for monomials when y's variables are a sub-multiset of x's. */
static int term_div(const DimTerm *x, const DimTerm *y, DimTerm *out) {
  memset(out, 0, sizeof *out);
  if (!coef_div(x->coef, y->coef, &out->coef))
    return 0;
  int j = 0;
  for (int i = 0; i < x->nvar; i++) {
    if (j < y->nvar && x->var[i] == y->var[j])
      j++;
    else if (j < y->nvar && x->var[i] > y->var[j])
      return 0;
    else
      out->var[out->nvar++] = x->var[i];
  }
  return j == y->nvar;
}

/* Division by the leading term, repeated: exact whenever x == q * y, since
 * the graded lex order makes LT(q * y) == LT(q) * LT(y). */
int dim_div(Arena *a, Dim x, Dim y, Dim *out) {
  if (y.nterm == 0)
    return 0;
  if (dim_is_const(y))
    return dim_div_const(a, x, dim_value(y), out);
  Dim q = {0, NULL}, r = x;
  for (int it = 0; r.nterm > 0; it++) {
    Dim qt = {1, terms_new(a, 1)}, p;
    if (it == DIM_MAXITER || !term_div(&r.term[0], &y.term[0], qt.term))
      return 0;
    if (!dim_add(a, q, qt, &q) || !dim_mul(a, qt, y, &p) ||
        !dim_sub(a, r, p, &r))
      return 0;
  }
  *out = q;
  return 1;
}

static void print_term(StrBuf *b, const DimSyms *s, const DimTerm *t,
                       int first) {
  uint64_t mag =
      t->coef < 0 ? (uint64_t)0 - (uint64_t)t->coef : (uint64_t)t->coef;
  if (t->coef < 0)
    sb_putc(b, '-');
  else if (!first)
    sb_putc(b, '+');
  int lead = mag != 1 || t->nvar == 0;
  if (lead)
    sb_printf(b, "%llu", (unsigned long long)mag);
  for (int i = 0; i < t->nvar; i++) {
    int v = t->var[i];
    const char *name = s && v >= 0 && v < s->n ? s->name[v] : NULL;
    if (lead || i > 0)
      sb_putc(b, '*');
    if (name)
      sb_printf(b, "%s", name);
    else
      sb_printf(b, "$%d", v);
  }
}

void dim_print(StrBuf *b, const DimSyms *s, Dim d) {
  if (d.nterm == 0)
    sb_putc(b, '0');
  for (int i = 0; i < d.nterm; i++)
    print_term(b, s, &d.term[i], i == 0);
}

/* Wrapping arithmetic: no undefined behaviour on absurd symbol values. */
int64_t dim_eval(Dim d, const int64_t *vals) {
  uint64_t sum = 0;
  for (int i = 0; i < d.nterm; i++) {
    uint64_t p = (uint64_t)d.term[i].coef;
    for (int j = 0; j < d.term[i].nvar; j++)
      p *= (uint64_t)vals[d.term[i].var[j]];
    sum += p;
  }
  return (int64_t)sum;
}
