/* conv_kernel.h — template of convolution and pooling, included by conv.c
 * once per element type with REAL, SFX and GEMM (nnc_sgemm or nnc_dgemm)
 * defined. Layouts: x (n, c, h, w), w (o, c/g, kh, kw), y (n, o, oh, ow).
 * With a workspace, each (image, group) is one GEMM over the im2col
 * matrix col (cg*kh*kw, oh*ow); without one, direct loops. */

/* col (cg*kh*kw, oh*ow) = the receptive fields of x (cg, h, w), 0 in the
 * padding. */
static void NNC_FN(im2col)(const nnc_conv_shape *s, int64_t cg, const REAL *x,
                           REAL *col) {
  const int64_t ohw = s->oh * s->ow;
  for (int64_t ci = 0; ci < cg; ci++)
    for (int64_t ki = 0; ki < s->kh; ki++)
      for (int64_t kj = 0; kj < s->kw; kj++) {
        REAL *row = col + ((ci * s->kh + ki) * s->kw + kj) * ohw;
        for (int64_t oy = 0; oy < s->oh; oy++) {
          int64_t iy = oy * s->sh - s->ph + ki * s->dh;
          REAL *r = row + oy * s->ow;
          if (iy < 0 || iy >= s->h) {
            for (int64_t ox = 0; ox < s->ow; ox++)
              r[ox] = 0;
            continue;
          }
          const REAL *xr = x + (ci * s->h + iy) * s->w;
          for (int64_t ox = 0; ox < s->ow; ox++) {
            int64_t ix = ox * s->sw - s->pw + kj * s->dw;
            r[ox] = ix >= 0 && ix < s->w ? xr[ix] : 0;
          }
        }
      }
}

/* dx (cg, h, w) += the receptive fields in col, the inverse of im2col. */
static void NNC_FN(col2im)(const nnc_conv_shape *s, int64_t cg, const REAL *col,
                           REAL *dx) {
  const int64_t ohw = s->oh * s->ow;
  for (int64_t ci = 0; ci < cg; ci++)
    for (int64_t ki = 0; ki < s->kh; ki++)
      for (int64_t kj = 0; kj < s->kw; kj++) {
        const REAL *row = col + ((ci * s->kh + ki) * s->kw + kj) * ohw;
        for (int64_t oy = 0; oy < s->oh; oy++) {
          int64_t iy = oy * s->sh - s->ph + ki * s->dh;
          if (iy < 0 || iy >= s->h)
            continue;
          REAL *xr = dx + (ci * s->h + iy) * s->w;
          for (int64_t ox = 0; ox < s->ow; ox++) {
            int64_t ix = ox * s->sw - s->pw + kj * s->dw;
            if (ix >= 0 && ix < s->w)
              xr[ix] += row[oy * s->ow + ox];
          }
        }
      }
}

void NNC_FN(nnc_conv2d)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                        REAL *y, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      const REAL *xg = x + (ni * s->c + g * cg) * hw;
      const REAL *wg = w + g * og * K;
      REAL *yg = y + (ni * s->o + g * og) * ohw;
      if (ws) {
        const REAL *col = xg;
        if (!conv_pointwise(s)) {
          NNC_FN(im2col)(s, cg, xg, ws);
          col = ws;
        }
        GEMM(0, 0, og, ohw, K, 1, wg, K, col, ohw, 0, yg, ohw);
        continue;
      }
      for (int64_t oc = 0; oc < og; oc++)
        for (int64_t oy = 0; oy < s->oh; oy++)
          for (int64_t ox = 0; ox < s->ow; ox++) {
            REAL sum = 0;
            for (int64_t ci = 0; ci < cg; ci++)
              for (int64_t ki = 0; ki < s->kh; ki++) {
                int64_t iy = oy * s->sh - s->ph + ki * s->dh;
                if (iy < 0 || iy >= s->h)
                  continue;
                for (int64_t kj = 0; kj < s->kw; kj++) {
                  int64_t ix = ox * s->sw - s->pw + kj * s->dw;
                  if (ix >= 0 && ix < s->w)
                    sum += xg[(ci * s->h + iy) * s->w + ix] *
                           wg[((oc * cg + ci) * s->kh + ki) * s->kw + kj];
                }
              }
            yg[oc * ohw + oy * s->ow + ox] = sum;
          }
    }
}

void NNC_FN(nnc_conv2d_grad_input)(const nnc_conv_shape *s, const REAL *dy,
                                   const REAL *w, REAL *dx, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      REAL *dxg = dx + (ni * s->c + g * cg) * hw;
      const REAL *wg = w + g * og * K;
      const REAL *dyg = dy + (ni * s->o + g * og) * ohw;
      if (ws && conv_pointwise(s)) {
        GEMM(1, 0, K, ohw, og, 1, wg, K, dyg, ohw, 1, dxg, hw);
        continue;
      }
      if (ws) {
        GEMM(1, 0, K, ohw, og, 1, wg, K, dyg, ohw, 0, ws, ohw);
        NNC_FN(col2im)(s, cg, ws, dxg);
        continue;
      }
      for (int64_t oc = 0; oc < og; oc++)
        for (int64_t oy = 0; oy < s->oh; oy++)
          for (int64_t ox = 0; ox < s->ow; ox++) {
            REAL d = dyg[oc * ohw + oy * s->ow + ox];
            for (int64_t ci = 0; ci < cg; ci++)
              for (int64_t ki = 0; ki < s->kh; ki++) {
                int64_t iy = oy * s->sh - s->ph + ki * s->dh;
                if (iy < 0 || iy >= s->h)
                  continue;
                for (int64_t kj = 0; kj < s->kw; kj++) {
                  int64_t ix = ox * s->sw - s->pw + kj * s->dw;
                  if (ix >= 0 && ix < s->w)
                    dxg[(ci * s->h + iy) * s->w + ix] +=
                        wg[((oc * cg + ci) * s->kh + ki) * s->kw + kj] * d;
                }
              }
          }
    }
}

void NNC_FN(nnc_conv2d_grad_weight)(const nnc_conv_shape *s, const REAL *x,
                                    const REAL *dy, REAL *dw, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      const REAL *xg = x + (ni * s->c + g * cg) * hw;
      const REAL *dyg = dy + (ni * s->o + g * og) * ohw;
      REAL *dwg = dw + g * og * K;
      if (ws) {
        const REAL *col = xg;
        if (!conv_pointwise(s)) {
          NNC_FN(im2col)(s, cg, xg, ws);
          col = ws;
        }
        GEMM(0, 1, og, K, ohw, 1, dyg, ohw, col, ohw, 1, dwg, K);
        continue;
      }
      for (int64_t oc = 0; oc < og; oc++)
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t ki = 0; ki < s->kh; ki++)
            for (int64_t kj = 0; kj < s->kw; kj++) {
              REAL sum = 0;
              for (int64_t oy = 0; oy < s->oh; oy++) {
                int64_t iy = oy * s->sh - s->ph + ki * s->dh;
                if (iy < 0 || iy >= s->h)
                  continue;
                for (int64_t ox = 0; ox < s->ow; ox++) {
                  int64_t ix = ox * s->sw - s->pw + kj * s->dw;
                  if (ix >= 0 && ix < s->w)
                    sum += dyg[oc * ohw + oy * s->ow + ox] *
                           xg[(ci * s->h + iy) * s->w + ix];
                }
              }
              dwg[((oc * cg + ci) * s->kh + ki) * s->kw + kj] += sum;
            }
    }
}

/* ------------------------------------------------------------- pooling */
/* The flat index (in the (h, w) plane) of the maximum of window (oy, ox) of
 * plane xp, chosen as PyTorch does: start at the first in-bounds element
 * with -inf; take a value when it is greater or NaN. */
static int64_t NNC_FN(pool_argmax)(const nnc_pool_shape *s, const REAL *xp,
                                   int64_t oy, int64_t ox) {
  int64_t y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
  int64_t best = (y0 > 0 ? y0 : 0) * s->w + (x0 > 0 ? x0 : 0);
  REAL m = -INFINITY;
  for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + s->kh && iy < s->h; iy++)
    for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + s->kw && ix < s->w; ix++) {
      REAL v = xp[iy * s->w + ix];
      if (v > m || isnan(v)) {
        m = v;
        best = iy * s->w + ix;
      }
    }
  return best;
}

void NNC_FN(nnc_maxpool2d)(const nnc_pool_shape *s, const REAL *x, REAL *y) {
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *xp = x + p * s->h * s->w;
    REAL *yp = y + p * s->oh * s->ow;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++)
        yp[oy * s->ow + ox] = xp[NNC_FN(pool_argmax)(s, xp, oy, ox)];
  }
}

void NNC_FN(nnc_maxpool2d_grad)(const nnc_pool_shape *s, const REAL *x,
                                const REAL *dy, REAL *dx) {
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *xp = x + p * s->h * s->w;
    const REAL *dyp = dy + p * s->oh * s->ow;
    REAL *dxp = dx + p * s->h * s->w;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++)
        dxp[NNC_FN(pool_argmax)(s, xp, oy, ox)] += dyp[oy * s->ow + ox];
  }
}

void NNC_FN(nnc_avgpool2d)(const nnc_pool_shape *s, const REAL *x, REAL *y) {
  const REAL inv = (REAL)1 / (REAL)(s->kh * s->kw);
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *xp = x + p * s->h * s->w;
    REAL *yp = y + p * s->oh * s->ow;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++) {
        int64_t y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
        REAL sum = 0;
        for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + s->kh && iy < s->h; iy++)
          for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + s->kw && ix < s->w; ix++)
            sum += xp[iy * s->w + ix];
        yp[oy * s->ow + ox] = sum * inv;
      }
  }
}

void NNC_FN(nnc_avgpool2d_grad)(const nnc_pool_shape *s, const REAL *dy,
                                REAL *dx) {
  const REAL inv = (REAL)1 / (REAL)(s->kh * s->kw);
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *dyp = dy + p * s->oh * s->ow;
    REAL *dxp = dx + p * s->h * s->w;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++) {
        int64_t y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
        REAL d = dyp[oy * s->ow + ox] * inv;
        for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + s->kh && iy < s->h; iy++)
          for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + s->kw && ix < s->w; ix++)
            dxp[iy * s->w + ix] += d;
      }
  }
}
