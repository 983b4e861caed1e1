/* metrics.c — classification metrics: a confusion matrix with accuracy and
 * per-class precision, recall and F1, and the argmax of logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc_internal.h"

int nnc_confusion_init(nnc_confusion *c, int32_t k) {
  c->k = 0;
  c->counts = NULL;
  if (k < 1 || (uint64_t)k * (uint64_t)k > SIZE_MAX / sizeof(int64_t))
    return NNC_EBADDIM;
  c->counts = calloc((size_t)k * (size_t)k, sizeof(int64_t));
  if (!c->counts)
    return NNC_ENOMEM;
  c->k = k;
  return 0;
}

void nnc_confusion_add(nnc_confusion *c, const int32_t *truth,
                       const int32_t *pred, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (truth[i] >= 0 && truth[i] < c->k && pred[i] >= 0 && pred[i] < c->k)
      c->counts[(int64_t)truth[i] * c->k + pred[i]]++;
}

double nnc_confusion_accuracy(const nnc_confusion *c) {
  int64_t right = 0, all = 0;
  for (int32_t i = 0; i < c->k; i++)
    for (int32_t j = 0; j < c->k; j++) {
      all += c->counts[(int64_t)i * c->k + j];
      if (i == j)
        right += c->counts[(int64_t)i * c->k + j];
    }
  return all ? (double)right / (double)all : 0;
}

void nnc_confusion_class(const nnc_confusion *c, int32_t cls, double *precision,
                         double *recall, double *f1) {
  int64_t tp = 0, predicted = 0, actual = 0;
  if (cls >= 0 && cls < c->k) {
    tp = c->counts[(int64_t)cls * c->k + cls];
    for (int32_t i = 0; i < c->k; i++) {
      predicted += c->counts[(int64_t)i * c->k + cls];
      actual += c->counts[(int64_t)cls * c->k + i];
    }
  }
  double p = predicted ? (double)tp / (double)predicted : 0;
  double r = actual ? (double)tp / (double)actual : 0;
  if (precision)
    *precision = p;
  if (recall)
    *recall = r;
  if (f1)
    *f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
}

void nnc_confusion_print(FILE *f, const nnc_confusion *c,
                         const char *const *class_names) {
  int64_t most = 0;
  int name_w = 0, num_w = 1;
  for (int64_t i = 0; i < (int64_t)c->k * c->k; i++)
    if (c->counts[i] > most)
      most = c->counts[i];
  for (int64_t v = most; v >= 10; v /= 10)
    num_w++;
  char idx[16];
  int idx_w = snprintf(idx, sizeof idx, "%ld", (long)(c->k - 1));
  if (num_w < idx_w)
    num_w = idx_w;
  for (int32_t i = 0; class_names && i < c->k; i++)
    if ((int)strlen(class_names[i]) > name_w)
      name_w = (int)strlen(class_names[i]);
  /* header: the predicted class numbers */
  fprintf(f, "%*s", idx_w + (name_w ? name_w + 1 : 0), "");
  for (int32_t j = 0; j < c->k; j++)
    fprintf(f, " %*ld", num_w, (long)j);
  fputc('\n', f);
  for (int32_t i = 0; i < c->k; i++) {
    fprintf(f, "%*ld", idx_w, (long)i);
    if (name_w)
      fprintf(f, " %-*s", name_w, class_names[i]);
    for (int32_t j = 0; j < c->k; j++)
      fprintf(f, " %*lld", num_w, (long long)c->counts[(int64_t)i * c->k + j]);
    fputc('\n', f);
  }
}

void nnc_confusion_free(nnc_confusion *c) {
  free(c->counts);
  c->counts = NULL;
  c->k = 0;
}

#define ARGMAX(REAL, NAME)                                                     \
  void NAME(const REAL *logits, int64_t rows, int32_t k, int32_t *out) {       \
    for (int64_t r = 0; r < rows; r++) {                                       \
      const REAL *v = logits + r * k;                                          \
      int32_t best = 0;                                                        \
      for (int32_t j = 1; j < k; j++)                                          \
        if (v[j] > v[best] || (isnan(v[best]) && !isnan(v[j])))                \
          best = j;                                                            \
      out[r] = best;                                                           \
    }                                                                          \
  }
ARGMAX(float, nnc_argmax_rows_f32)
ARGMAX(double, nnc_argmax_rows_f64)
