/* progress.c — a progress bar for training loops (redrawn in place on a
 * terminal, an occasional plain line otherwise) and line plots of learning
 * curves as self-contained SVG files. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nnc_internal.h"

#define PROGRESS_WIDTH 24   /* characters of the bar */
#define PROGRESS_REDRAW 0.1 /* seconds between redraws on a terminal */
#define PROGRESS_LINE 30.0  /* seconds between lines when not a terminal */

double nnc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "1:02:03" or "2:03" */
static void fmt_time(char *out, size_t cap, double s) {
  if (!(s >= 0 && s < 1e8)) {
    snprintf(out, cap, "--:--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

static void fmt_rate(char *out, size_t cap, double rate) {
  snprintf(out, cap, rate >= 100 ? "%.0f it/s" : "%.1f it/s", rate);
}

/* One status line: label, bar, done/total, percent, loss, rate, ETA. */
static void status_line(const nnc_progress *p, double loss, int bar, char *line,
                        size_t cap) {
  double el = nnc_now() - p->start;
  double rate = el > 0 ? (double)p->done / el : 0;
  char r[32], eta[32];
  size_t k = (size_t)snprintf(line, cap, "%s", p->label);
  fmt_rate(r, sizeof r, rate);
  if (p->total > 0) {
    double frac = (double)p->done / (double)p->total;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    if (bar && k < cap) {
      int full = (int)(frac * PROGRESS_WIDTH);
      k += (size_t)snprintf(line + k, cap - k, " [");
      for (int i = 0; i < PROGRESS_WIDTH && k + 1 < cap; i++)
        line[k++] = i < full ? '=' : i == full ? '>' : ' ';
      if (k < cap)
        k += (size_t)snprintf(line + k, cap - k, "]");
    }
    fmt_time(eta, sizeof eta,
             rate > 0 ? (double)(p->total - p->done) / rate : -1);
    if (k < cap)
      k +=
          (size_t)snprintf(line + k, cap - k, " %lld/%lld %5.1f%%",
                           (long long)p->done, (long long)p->total, 100 * frac);
  } else if (k < cap) {
    k += (size_t)snprintf(line + k, cap - k, " %lld", (long long)p->done);
    snprintf(eta, sizeof eta, "--:--");
  }
  if (k < cap)
    k += (size_t)snprintf(line + k, cap - k, "  loss %.4f  %s  ETA %s", loss, r,
                          eta);
}

void nnc_progress_start(nnc_progress *p, FILE *out, const char *label,
                        int64_t total) {
  const char *term = getenv("TERM");
  p->out = out ? out : stderr;
  p->label = label ? label : "";
  p->total = total;
  p->done = 0;
  p->start = nnc_now();
  p->last_draw = p->start;
  p->tty = isatty(fileno(p->out)) && !(term && strcmp(term, "dumb") == 0);
}

void nnc_progress_update(nnc_progress *p, int64_t n, double loss) {
  char line[512];
  int64_t before = p->done;
  double now = nnc_now();
  p->done += n;
  if (p->tty) {
    if (now - p->last_draw < PROGRESS_REDRAW && p->done < p->total)
      return;
    status_line(p, loss, 1, line, sizeof line);
    fprintf(p->out, "\r%s\033[K", line);
  } else {
    /* a line at each quarter of the way (the end has its own line), or
     * every PROGRESS_LINE seconds */
    int quarter = p->total > 0 && p->done < p->total &&
                  before * 4 / p->total != p->done * 4 / p->total;
    if (!quarter && now - p->last_draw < PROGRESS_LINE)
      return;
    status_line(p, loss, 0, line, sizeof line);
    fprintf(p->out, "%s\n", line);
  }
  fflush(p->out);
  p->last_draw = now;
}

void nnc_progress_end(nnc_progress *p, const char *summary) {
  double el = nnc_now() - p->start;
  char r[32], t[32];
  fmt_rate(r, sizeof r, el > 0 ? (double)p->done / el : 0);
  fmt_time(t, sizeof t, el);
  fprintf(p->out, "%s%s: %lld items in %s (%.1f s, %s)%s%s\n",
          p->tty ? "\r\033[K" : "", p->label, (long long)p->done, t, el, r,
          summary && *summary ? ", " : "", summary ? summary : "");
  fflush(p->out);
}

/* --------------------------------------------------------------- plots */
#define SVG_W 760
#define SVG_H 440
#define SVG_L 72.0  /* margins of the plot area */
#define SVG_R 190.0 /* room for the legend */
#define SVG_T 44.0
#define SVG_B 56.0

static const char *const svg_colors[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void svg_text(FILE *f, const char *s) {
  for (; s && *s; s++)
    switch (*s) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      if ((unsigned char)*s >= 0x20 || *s == '\t')
        fputc(*s, f);
    }
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` intervals. */
static double nice_step(double span, int want) {
  double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct Axes {
  double x0, x1, y0, y1; /* data ranges */
  double ystep, xstep;
} Axes;

static double px(const Axes *a, double x) {
  return SVG_L + (x - a->x0) / (a->x1 - a->x0) * (SVG_W - SVG_L - SVG_R);
}

static double py(const Axes *a, double y) {
  return SVG_H - SVG_B -
         (y - a->y0) / (a->y1 - a->y0) * (SVG_H - SVG_T - SVG_B);
}

static void svg_axes_range(Axes *a, const nnc_series *s, int ns) {
  double lo = INFINITY, hi = -INFINITY;
  int maxn = 1;
  for (int i = 0; i < ns; i++) {
    if (s[i].n > maxn)
      maxn = s[i].n;
    for (int j = 0; j < s[i].n; j++)
      if (isfinite(s[i].y[j])) {
        lo = s[i].y[j] < lo ? s[i].y[j] : lo;
        hi = s[i].y[j] > hi ? s[i].y[j] : hi;
      }
  }
  if (lo > hi)
    lo = 0, hi = 1;
  if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
    double d = fabs(hi) > 0 ? fabs(hi) * 0.1 : 0.5;
    lo -= d, hi += d;
  }
  a->ystep = nice_step(hi - lo, 5);
  a->y0 = floor(lo / a->ystep) * a->ystep;
  a->y1 = ceil(hi / a->ystep) * a->ystep;
  a->x0 = 1;
  a->x1 = maxn > 1 ? maxn : 2;
  a->xstep = nice_step(a->x1 - a->x0, 8);
  if (a->xstep < 1)
    a->xstep = 1;
}

static void svg_grid(FILE *f, const Axes *a) {
  int dec = a->ystep >= 1 ? 0 : (int)ceil(-log10(a->ystep) - 1e-9);
  for (int i = 0;; i++) {
    double y = a->y0 + i * a->ystep;
    if (y > a->y1 + a->ystep * 1e-6)
      break;
    fprintf(f,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
            "stroke=\"#e0e0e0\"/>\n"
            "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%.*f</text>\n",
            SVG_L, py(a, y), SVG_W - SVG_R, py(a, y), SVG_L - 6, py(a, y) + 4,
            dec, fabs(y) < a->ystep * 1e-9 ? 0.0 : y);
  }
  for (double x = a->x0; x <= a->x1 + 1e-9; x += a->xstep)
    fprintf(f,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
            "stroke=\"#e0e0e0\"/>\n"
            "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.0f</text>\n",
            px(a, x), SVG_T, px(a, x), SVG_H - SVG_B, px(a, x),
            SVG_H - SVG_B + 18, x);
  fprintf(f,
          "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
          "fill=\"none\" stroke=\"#333\"/>\n",
          SVG_L, SVG_T, SVG_W - SVG_L - SVG_R, SVG_H - SVG_T - SVG_B);
}

/* A series as polylines broken at values that are not finite, with a dot
 * per point, and its legend entry. */
static void svg_series(FILE *f, const Axes *a, const nnc_series *s, int i) {
  const char *col = svg_colors[i % 10];
  int open = 0;
  for (int j = 0; j < s->n; j++) {
    if (!isfinite(s->y[j])) {
      if (open)
        fputs("\"/>\n", f);
      open = 0;
      continue;
    }
    if (!open)
      fprintf(f,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
              "points=\"",
              col);
    fprintf(f, "%s%.2f,%.2f", open ? " " : "", px(a, j + 1), py(a, s->y[j]));
    open = 1;
  }
  if (open)
    fputs("\"/>\n", f);
  for (int j = 0; j < s->n && s->n <= 100; j++)
    if (isfinite(s->y[j]))
      fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
              px(a, j + 1), py(a, s->y[j]), col);
  double ly = SVG_T + 10 + 22 * i, lx = SVG_W - SVG_R + 16;
  fprintf(f,
          "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
          "stroke-width=\"2\"/>\n<text x=\"%.2f\" y=\"%.2f\">",
          lx, ly, lx + 24, ly, col, lx + 30, ly + 4);
  svg_text(f, s->label);
  fputs("</text>\n", f);
}

int nnc_svg_plot(const char *path, const char *title, const char *ylabel,
                 const nnc_series *s, int nseries, char *err, size_t errlen) {
  for (int i = 0; i < nseries; i++)
    if (s[i].n < 0 || (s[i].n > 0 && !s[i].y))
      return nnc_rt_errf(err, errlen, "%s: series %d has no data", path, i);
  FILE *f = fopen(path, "w");
  if (!f)
    return nnc_rt_errf(err, errlen, "%s: cannot create: %s", path,
                       strerror(errno));
  Axes a;
  svg_axes_range(&a, s, nseries);
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
          "font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%.2f\" y=\"26\" text-anchor=\"middle\" "
          "font-size=\"16\">",
          SVG_W, SVG_H, SVG_W, SVG_H, (SVG_L + SVG_W - SVG_R) / 2);
  svg_text(f, title);
  fputs("</text>\n", f);
  svg_grid(f, &a);
  fprintf(f,
          "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">epoch</text>\n"
          "<text transform=\"translate(18 %.2f) rotate(-90)\" "
          "text-anchor=\"middle\">",
          (SVG_L + SVG_W - SVG_R) / 2, SVG_H - 16.0,
          (SVG_T + SVG_H - SVG_B) / 2);
  svg_text(f, ylabel);
  fputs("</text>\n", f);
  for (int i = 0; i < nseries; i++)
    svg_series(f, &a, &s[i], i);
  fputs("</svg>\n", f);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad)
    return nnc_rt_errf(err, errlen, "%s: write error: %s", path,
                       strerror(errno));
  return 0;
}
