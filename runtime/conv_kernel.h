/* conv_kernel.h — template of convolution and pooling, included by conv.c
 * once per element type with REAL, SFX and GEMM (nnc_sgemm or nnc_dgemm)
 * defined. Layouts: x (n, c, h, w), w (o, c/g, kh, kw), y (n, o, oh, ow).
 * With a workspace, each chunk of images and group is one GEMM over the
 * im2col matrices col (cg*kh*kw, oh*ow) of its images side by side;
 * without one, direct loops. */

/* The input transform of nnc_conv2d_in and nnc_maxpool2d_in: x a + b
 * through a ReLU written as the generated code's (a NaN gives 0). */
static NNC_INLINE REAL NNC_FN(in_relu)(REAL x, REAL a, REAL b) {
  const REAL v = x * a + b;
  return v > 0 ? v : 0;
}

/* One image's planes (c of h x w) through the input transform. */
static NNC_VECTORISE void NNC_FN(in_planes)(int64_t c, int64_t hw, const REAL *x,
                                             const REAL *sc, const REAL *sh, REAL *xt) {
  for (int64_t k = 0; k < c; k++)
    for (int64_t i = 0; i < hw; i++)
      xt[k * hw + i] = NNC_FN(in_relu)(x[k * hw + i], sc[k], sh[k]);
}

/* The output columns [*lo, *hi) of kernel column kj whose input column
 * ix = ox*sw - pw + kj*dw lies inside [0, w); the others read padding. */
static void NNC_FN(col_range)(const nnc_conv_shape *s, int64_t kj, int64_t *lo,
                              int64_t *hi) {
  int64_t off = kj * s->dw - s->pw; /* ix = ox*sw + off */
  int64_t l = off >= 0 ? 0 : (-off + s->sw - 1) / s->sw;
  int64_t h = s->w - off <= 0 ? 0 : (s->w - off + s->sw - 1) / s->sw;
  if (h > s->ow)
    h = s->ow;
  if (l > h)
    l = h;
  *lo = l, *hi = h;
}

/* dst[0..n) = src[0..n) for the short runs of im2col (a row of a small
 * image: LeNet's second layer copies runs of 10), in blocks of 8 that gcc
 * vectorises, the last block overlapping the one before when n is not a
 * multiple of 8: a memcpy call per run cost more than the copy (an eighth
 * of LeNet's training step). */
static NNC_INLINE NNC_NO_LIBCALLS void NNC_FN(copy_run)(REAL *restrict dst, const REAL *restrict src,
                                             int64_t n) {
  if (n < 8) {
    for (int64_t i = 0; i < n; i++)
      dst[i] = src[i];
    return;
  }
  for (int64_t i = 0;; i += 8) {
    if (i + 8 > n)
      i = n - 8;
    for (int k = 0; k < 8; k++)
      dst[i + k] = src[i + k];
    if (i + 8 == n)
      return;
  }
}

/* Stride 1 with output rows as long as input rows (ow == w, as "same"
 * padding gives): the im2col row of kernel position (ci, ki, kj) is the
 * plane shifted by a constant, output element i reading x[i + shift].
 * flat_rows returns the rows' part of the shift (the caller adds the
 * column offset) and sets the flat range [*i0, *i1) of output elements
 * whose input lies inside the plane's rows; within it, the columns
 * outside [lo, hi) read a neighbouring row (they are padding). */
static int NNC_FN(conv_flat)(const nnc_conv_shape *s) {
  return s->sh == 1 && s->sw == 1 && s->ow == s->w;
}

static int64_t NNC_FN(flat_rows)(const nnc_conv_shape *s, int64_t ki, int64_t lo,
                                 int64_t hi, int64_t *i0, int64_t *i1) {
  const int64_t dy = ki * s->dh - s->ph; /* iy = oy + dy */
  int64_t y0 = dy < 0 ? -dy : 0, y1 = s->h - dy < s->oh ? s->h - dy : s->oh;
  if (y1 <= y0 || hi <= lo)
    y0 = y1 = 0, lo = hi = 0;
  *i0 = y0 * s->ow + lo, *i1 = y1 > y0 ? (y1 - 1) * s->ow + hi : *i0;
  return dy * s->w;
}

/* Rows [r0, r1) of the im2col matrix (cg*kh*kw, oh*ow) of x (cg, h, w)
 * into col, rows ld apart (row r at col + (r - r0) * ld), 0 in the
 * padding. With conv_flat, one copy per row and its padding zeroed after;
 * otherwise per output row zeros, a run of input (a copy when the stride
 * is 1) and zeros. */
static NNC_NO_LIBCALLS void NNC_FN(im2col)(const nnc_conv_shape *s, const REAL *x,
                                           REAL *col, int64_t ld, int64_t r0,
                                           int64_t r1) {
  const int64_t kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, h = s->h, w = s->w;
  const int64_t sh = s->sh, sw = s->sw, ph = s->ph, dh = s->dh;
  const int flat = NNC_FN(conv_flat)(s);
  for (int64_t r = r0; r < r1; r++) {
    const int64_t ci = r / (kh * kw), ki = r / kw % kh, kj = r % kw;
    REAL *row = col + (r - r0) * ld;
    const REAL *xc = x + ci * h * w;
    int64_t lo, hi, off = kj * s->dw - s->pw;
    NNC_FN(col_range)(s, kj, &lo, &hi);
    if (flat) {
      int64_t i0, i1;
      const int64_t shift = NNC_FN(flat_rows)(s, ki, lo, hi, &i0, &i1) + off;
      if (i1 > i0)
        memcpy(row + i0, xc + i0 + shift, sizeof(REAL) * (size_t)(i1 - i0));
      memset(row, 0, sizeof(REAL) * (size_t)i0);
      memset(row + i1, 0, sizeof(REAL) * (size_t)(oh * ow - i1));
      for (int64_t at = i0 - lo; at < i1; at += ow) { /* the wrapped columns */
        for (int64_t ox = 0; ox < lo; ox++)
          row[at + ox] = 0;
        for (int64_t ox = hi; ox < ow; ox++)
          row[at + ox] = 0;
      }
      continue;
    }
    for (int64_t oy = 0; oy < oh; oy++) {
      const int64_t iy = oy * sh - ph + ki * dh;
      REAL *rr = row + oy * ow;
      if (iy < 0 || iy >= h) {
        for (int64_t ox = 0; ox < ow; ox++)
          rr[ox] = 0;
        continue;
      }
      const REAL *xr = xc + iy * w + off;
      for (int64_t ox = 0; ox < lo; ox++)
        rr[ox] = 0;
      if (sw == 1 && hi - lo <= 64)
        NNC_FN(copy_run)(rr + lo, xr + lo, hi - lo);
      else if (sw == 1)
        memcpy(rr + lo, xr + lo, sizeof(REAL) * (size_t)(hi - lo));
      else
        for (int64_t ox = lo; ox < hi; ox++)
          rr[ox] = xr[ox * sw];
      for (int64_t ox = hi; ox < ow; ox++)
        rr[ox] = 0;
    }
  }
}

/* d[0..n) += c[0..n), vectorised. */
static NNC_VECTORISE void NNC_FN(add_run)(REAL *restrict d, const REAL *restrict c,
                                          int64_t n) {
  for (int64_t i = 0; i < n; i++)
    d[i] += c[i];
}

/* dx (cg, h, w) += the receptive fields in col (rows ld apart), the
 * inverse of im2col. With conv_flat, a row's padding columns are zeroed
 * in col (scratch) and the row is added in one run. */
static void NNC_FN(col2im)(const nnc_conv_shape *s, int64_t cg, REAL *col, int64_t ld,
                           REAL *dx) {
  const int64_t kh = s->kh, kw = s->kw, oh = s->oh, ow = s->ow, h = s->h, w = s->w;
  const int flat = NNC_FN(conv_flat)(s);
  for (int64_t ci = 0; ci < cg; ci++)
    for (int64_t ki = 0; ki < kh; ki++)
      for (int64_t kj = 0; kj < kw; kj++) {
        REAL *row = col + ((ci * kh + ki) * kw + kj) * ld;
        REAL *dxc = dx + ci * h * w;
        int64_t lo, hi, off = kj * s->dw - s->pw;
        NNC_FN(col_range)(s, kj, &lo, &hi);
        if (flat) {
          int64_t i0, i1;
          const int64_t shift = NNC_FN(flat_rows)(s, ki, lo, hi, &i0, &i1) + off;
          for (int64_t at = i0 - lo; at < i1; at += ow) {
            for (int64_t ox = 0; ox < lo; ox++)
              row[at + ox] = 0;
            for (int64_t ox = hi; ox < ow; ox++)
              row[at + ox] = 0;
          }
          if (i1 > i0)
            NNC_FN(add_run)(dxc + i0 + shift, row + i0, i1 - i0);
          continue;
        }
        for (int64_t oy = 0; oy < oh; oy++) {
          const int64_t iy = oy * s->sh - s->ph + ki * s->dh;
          if (iy < 0 || iy >= h)
            continue;
          REAL *xr = dxc + iy * w + off;
          const REAL *r = row + oy * ow;
          if (s->sw == 1)
            NNC_FN(add_run)(xr + lo, r + lo, hi - lo);
          else
            for (int64_t ox = lo; ox < hi; ox++)
              xr[ox * s->sw] += r[ox];
        }
      }
}

/* Rows (og, P) of images n0..n0+cnt-1, group g, of t (N, o, P) to or from
 * the matrix m (og, cnt*P): image j's block starts at column j*P. */
static void NNC_FN(gather_rows)(const nnc_conv_shape *s, const REAL *t, int64_t n0,
                                int64_t cnt, int64_t g, REAL *m) {
  const int64_t og = s->o / s->groups, P = s->oh * s->ow;
  for (int64_t j = 0; j < cnt; j++)
    for (int64_t o = 0; o < og; o++)
      memcpy(m + o * cnt * P + j * P, t + ((n0 + j) * s->o + g * og + o) * P,
             sizeof(REAL) * (size_t)P);
}

static void NNC_FN(scatter_rows)(const nnc_conv_shape *s, const REAL *m, int64_t n0,
                                 int64_t cnt, int64_t g, REAL *t) {
  const int64_t og = s->o / s->groups, P = s->oh * s->ow;
  for (int64_t j = 0; j < cnt; j++)
    for (int64_t o = 0; o < og; o++)
      memcpy(t + ((n0 + j) * s->o + g * og + o) * P, m + o * cnt * P + j * P,
             sizeof(REAL) * (size_t)P);
}

/* dy's rows of images n0..n0+cnt-1, group g, as one (og, cnt*P) matrix:
 * dy itself for one image, else gathered into tmp. */
static const REAL *NNC_FN(dy_chunk)(const nnc_conv_shape *s, const REAL *dy, int64_t n0,
                                    int64_t cnt, int64_t g, REAL *tmp) {
  if (cnt == 1)
    return dy + (n0 * s->o + g * (s->o / s->groups)) * s->oh * s->ow;
  NNC_FN(gather_rows)(s, dy, n0, cnt, g, tmp);
  return tmp;
}

/* Rows [r0, r1) of the im2col matrix of images n0..n0+cnt-1, group g:
 * (r1 - r0, cnt*P). */
static void NNC_FN(im2col_chunk)(const nnc_conv_shape *s, const REAL *x, int64_t n0,
                                 int64_t cnt, int64_t g, REAL *col, int64_t r0,
                                 int64_t r1) {
  const int64_t cg = s->c / s->groups, P = s->oh * s->ow, hw = s->h * s->w;
  for (int64_t j = 0; j < cnt; j++)
    NNC_FN(im2col)(s, x + ((n0 + j) * s->c + g * cg) * hw, col + j * P, cnt * P, r0, r1);
}

/* ------------------------------------------------ direct convolution */
#if NNC_CONV_DIRECT
typedef REAL NNC_FN(vec) __attribute__((vector_size(NNC_VEC_BYTES)));
#define VL ((int64_t)(NNC_VEC_BYTES / sizeof(REAL)))
#ifdef NNC_UNZIP
typedef NNC_MASK_INT NNC_FN(mask) __attribute__((vector_size(NNC_VEC_BYTES)));

/* a where m, else b */
static NNC_INLINE NNC_DIRECT_OPT NNC_FN(vec) NNC_FN(vsel)(NNC_FN(mask) m, NNC_FN(vec) a,
                                                          NNC_FN(vec) b) {
  return (NNC_FN(vec))(((NNC_FN(mask))a & m) | ((NNC_FN(mask))b & ~m));
}
#endif

#ifdef NNC_ZIP
/* t[0..VL) transposed in registers: log2 VL rounds of NNC_ZIP on rows VL /
 * 2 apart. Unrolled, so that t and u stay in registers (rolled, gcc kept
 * them on the stack and copied them each round: wgrad_planes ran at a
 * fifth of its rate). */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(transpose_vl)(NNC_FN(vec) *t) {
  NNC_FN(vec) u[VL];
  NNC_UNROLL
  for (int64_t round = 1; round < VL; round *= 2) {
    NNC_UNROLL
    for (int64_t k = 0; k < VL / 2; k++)
      NNC_ZIP(t[k], t[k + VL / 2], u[2 * k], u[2 * k + 1]);
    NNC_UNROLL
    for (int64_t k = 0; k < VL; k++)
      t[k] = u[k];
  }
}

/* dst[i * ld + l] = src[l][at + i] for i, l < VL: VL runs transposed. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(transpose_into)(const REAL *const *src,
                                                             int64_t at, REAL *dst,
                                                             int64_t ld) {
  NNC_FN(vec) v[VL];
  NNC_UNROLL
  for (int64_t i = 0; i < VL; i++)
    memcpy(&v[i], src[i] + at, sizeof v[i]);
  NNC_FN(transpose_vl)(v);
  NNC_UNROLL
  for (int64_t i = 0; i < VL; i++)
    memcpy(dst + i * ld, &v[i], sizeof v[i]);
}

/* nnc_transpose's whole VL x VL blocks: rows [0, rb), columns [0, cb). */
static NNC_DIRECT_OPT void NNC_FN(transpose_blocks)(int64_t rb, int64_t cb, const REAL *src,
                                                    int64_t lds, REAL *dst, int64_t ldd) {
  for (int64_t r0 = 0; r0 < rb; r0 += VL) {
    const REAL *rows[VL];
    for (int64_t l = 0; l < VL; l++)
      rows[l] = src + (r0 + l) * lds;
    for (int64_t c0 = 0; c0 < cb; c0 += VL)
      NNC_FN(transpose_into)(rows, c0, dst + c0 * ldd + r0, ldd);
  }
}
#endif

/* The register tiles (conv_tiles.h): narrow, and wide where built; a
 * product tile's type. */
typedef void NNC_FN(tile_fn)(const REAL *const *ar, int64_t ak, const REAL *b, int64_t ldb,
                             int64_t K, REAL *c, int64_t ldc, int64_t nc, int add);
typedef void NNC_FN(rows_fn)(const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                             int64_t K, REAL *c, int64_t ldc, int add);
#define TV NNC_FN(vec)
#define TL VL
#define TOPT NNC_DIRECT_OPT
#define TN(name) NNC_FN(name)
#include "conv_tiles.h"
#undef TV
#undef TL
#undef TOPT
#undef TN
/* TW(name): the wide variant, called where conv_wide_cpu() says the
 * processor runs it (never, where it is not built). */
#if NNC_CONV_WIDE
#define TW(name) NNC_FN(name##_w)
typedef REAL NNC_FN(wvec) __attribute__((vector_size(2 * NNC_VEC_BYTES)));
#define TV NNC_FN(wvec)
#define TL (2 * VL)
#define TOPT NNC_WIDE_OPT
#define TN(name) NNC_FN(name##_w)
#define TWIDE 1
#include "conv_tiles.h"
#undef TWIDE
#undef TV
#undef TL
#undef TOPT
#undef TN
#else
#define TW(name) NNC_FN(name)
#endif

/* pad (ci, hp, wp) = plane x (ci, ih, iw) moved by (ph, pw) (either may be
 * negative: a crop), 0 elsewhere, then kw + NNC_DIRECT_SLACK zeros (the
 * last tile reads past the last row). */
static NNC_NO_LIBCALLS void NNC_FN(pad_planes)(const conv_direct *d, const REAL *x,
                                               REAL *pad) {
  const int64_t j0 = d->pw > 0 ? d->pw : 0,
                j1 = d->pw + d->iw < d->wp ? d->pw + d->iw : d->wp;
  for (int64_t c = 0; c < d->ci; c++)
    for (int64_t i = 0; i < d->hp; i++) {
      REAL *row = pad + (c * d->hp + i) * d->wp;
      const int64_t iy = i - d->ph;
      if (iy < 0 || iy >= d->ih || j1 <= j0) {
        memset(row, 0, sizeof(REAL) * (size_t)d->wp);
        continue;
      }
      const REAL *xr = x + (c * d->ih + iy) * d->iw - d->pw;
      for (int64_t j = 0; j < j0; j++)
        row[j] = 0;
      NNC_FN(copy_run)(row + j0, xr + j0, j1 - j0);
      for (int64_t j = j1; j < d->wp; j++)
        row[j] = 0;
    }
  memset(pad + d->ci * d->hp * d->wp, 0, sizeof(REAL) * (size_t)(d->kw + NNC_DIRECT_SLACK));
}

/* out (co, oh, ow) = (or += with add) the convolution of one image's
 * padded planes (or their copies, compact) with the weights wt (laid out
 * as conv_direct says), then the bias (d->epi): channels in blocks of 8
 * on the wide tiles, else of 6 (5 as a block of 6), then one of 4 or 3;
 * positions in tiles over rows of wf. */
static void NNC_FN(direct_image)(const conv_direct *d, const REAL *pad, const REAL *wt,
                                 const REAL *bias, REAL *out, int add) {
  const int64_t last = (d->oh - 1) * d->wf + d->ow; /* past the last pixel */
  const int wide = conv_wide_cpu();
#if NNC_CONV_WIDE && defined(NNC_WUNZIP)
  if (d->pool) { /* pooled tiles: pairs of rows by 2 VL columns */
    const int64_t ph = d->oh / 2, pw = d->ow / 2, PP = ph * pw;
    for (int64_t c0 = 0; c0 < d->co;) {
      const int64_t left = d->co - c0, cb = left > 6 ? 8 : 6, nc = left < cb ? left : cb;
      for (int64_t oy = 0; oy < ph; oy++)
        for (int64_t ox = 0; ox < pw; ox += VL) {
          const int64_t np = pw - ox < VL ? pw - ox : VL;
          (cb == 8 ? TW(direct_pool_tile8) : TW(direct_pool_tile6))(
              d, pad, 2 * oy * d->wf + 2 * ox, wt + c0 * d->cstep, bias + c0,
              out + c0 * PP + oy * pw + ox, nc, np, PP);
        }
      c0 += nc;
    }
    return;
  }
#endif
  for (int64_t c0 = 0; c0 < d->co;) {
    const REAL *wb = wt + c0 * d->cstep, *bb = bias ? bias + c0 : NULL;
    REAL *o = out + c0 * d->oh * d->ow;
#if NNC_CONV_WIDE
    if (wide && d->co - c0 >= 8) { /* 8 channels by 32 pixels: 16 of the 32 registers */
      for (int64_t f = 0; f < last; f += 4 * VL) {
        const int64_t left = last - f;
        if (left > 4 * VL && left <= 6 * VL) { /* the last 33 to 48: one tile of 3 */
          TW(direct_tile8x3)(d, pad, f, wb, bb, o, 8, add);
          break;
        }
        (left > 2 * VL ? TW(direct_tile8) : TW(direct_tile8x1))(d, pad, f, wb, bb, o, 8, add);
      }
      c0 += 8;
      continue;
    }
#endif
    const int64_t left = d->co - c0, cb = left >= 5 ? 6 : left == 4 ? 4 : 3;
    const int64_t nc = left < cb ? left : cb, step = 12 / cb * VL;
    for (int64_t f = 0; f < last; f += step)
      if (wide && f + step < last) /* two tiles in one */
        TW(direct_tiles)(d, pad, f, wb, bb, o, nc, add, cb), f += step;
      else
        NNC_FN(direct_tiles)(d, pad, f, wb, bb, o, nc, add, cb);
    c0 += nc;
  }
}

/* kw copies of the padded planes, copy kj moved left by kj columns and cut
 * to ow: xs[((kj * ci + c) * hp + i) * ow + j] = pad[(c * hp + i) * wp + j +
 * kj]. */
static NNC_NO_LIBCALLS void NNC_FN(shift_planes)(const conv_direct *d, const REAL *pad,
                                                 REAL *xs) {
  for (int64_t kj = 0; kj < d->kw; kj++)
    for (int64_t r = 0; r < d->ci * d->hp; r++)
      NNC_FN(copy_run)(xs + (kj * d->ci * d->hp + r) * d->ow, pad + r * d->wp + kj,
                       d->ow);
}

/* xs = the kw copies of image x's padded planes (shift_planes), through
 * pad where the planes have a border, from x itself where they have none
 * (LeNet's second convolution: its padding pass was a fifth of its
 * copying). */
static void NNC_FN(shift_image)(const conv_direct *d, const REAL *x, REAL *pad, REAL *xs) {
  if (d->ph == 0 && d->pw == 0 && d->hp == d->ih && d->wp == d->iw) {
    NNC_FN(shift_planes)(d, x, xs);
    return;
  }
  NNC_FN(pad_planes)(d, x, pad);
  NNC_FN(shift_planes)(d, pad, xs);
}

/* The images shared out over the runtime's threads, convolved with wt
 * (and bias: direct_image): each pads its image (and copies it, compact)
 * into its own part of scratch (conv_direct_pad elements a thread). */
static void NNC_FN(direct_images)(const conv_direct *d, int64_t n, const REAL *in,
                                  REAL *out, int add, const REAL *wt, const REAL *bias,
                                  REAL *scratch) {
  const int team = conv_team(n), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    REAL *pad = scratch + conv_direct_pad(d) * (size_t)conv_thread();
    REAL *xs = pad + conv_direct_planes(d); /* compact: the copies, and 32 zeros */
    const size_t nx = nnc_conv2d_direct_copies(d->ci, d->hp, d->ow, d->kw);
    if (d->compact)
      memset(xs + nx - 32, 0, sizeof(REAL) * 32);
    NNC_OMP_(for schedule(static))
    for (int64_t i = 0; i < n; i++) {
      if (d->compact)
        NNC_FN(shift_image)(d, in + i * d->ci * d->ih * d->iw, pad, xs);
      else
        NNC_FN(pad_planes)(d, in + i * d->ci * d->ih * d->iw, pad);
      const int64_t per = d->pool ? (d->oh / 2) * (d->ow / 2) : d->oh * d->ow;
      NNC_FN(direct_image)(d, d->compact ? xs : pad, wt, bias, out + i * d->co * per, add);
    }
  });
  conv_gemm_restore(team, was);
}

/* Whether the direct kernel runs a convolution's forward pass with its
 * bias, ReLU and MaxPool2d(2) as pooled tiles (nnc_conv2d_bias_pool):
 * where it runs the pass, on the wide tiles, rows of 2 VL pixels or more
 * (narrower, a pooled tile's vectors would be mostly waste: LeNet's
 * second layer, 10 pixels wide, pools after instead). The pooled tiles
 * read the padded planes, whatever the kernel's width. */
static int NNC_FN(direct_pools)(const nnc_conv_shape *s) {
#if NNC_CONV_WIDE && defined(NNC_WUNZIP)
  return !nnc_conv2d_winograd(s, s->c, s->o) && nnc_conv2d_direct(s, s->o) &&
         conv_direct_cpu() && conv_wide_cpu() && s->ow >= 2 * VL && s->oh >= 2;
#else
  (void)s;
  return 0;
#endif
}

/* Forward: taps (c, ki, kj), output channels o, read from w as it is
 * (copied as taps by channels, it was 7% of LeNet's inference at batch 1:
 * stores to lines not in level 1); with bias, its epilogue (the bias, then
 * ReLU with relu: nnc_conv2d_bias). */
static void NNC_FN(direct_forward)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                                   const REAL *bias, int relu, int pool, REAL *y, REAL *ws) {
  /* pooled: on the padded planes themselves (direct_pool_tile) */
  conv_direct d = pool ? conv_direct_of(s->c, s->h, s->w, s->o, s->oh, s->ow, s, s->ph,
                                        s->pw, 0)
                       : conv_direct_forward(s);
  d.epi = bias ? 1 + (relu != 0) : 0;
  d.pool = pool;
  d.tstep = 1, d.cstep = s->c * s->kh * s->kw;
  NNC_FN(direct_images)(&d, s->n, x, y, 0, w, bias, ws);
}

/* Input gradient: the convolution of dy, padded by k - 1 - p, with the
 * kernel flipped and its channels swapped: taps (o, ki, kj) holding
 * w[o, c, kh-1-ki, kw-1-kj] for output channels c. */
static void NNC_FN(direct_grad_input)(const nnc_conv_shape *s, const REAL *dy,
                                      const REAL *w, REAL *dx, REAL *ws, int add) {
  const conv_direct d = conv_direct_input(s);
  const int64_t kk = s->kh * s->kw;
  for (int64_t o = 0; o < s->o; o++) { /* read in order, as the forward pass */
    for (int64_t c = 0; c < s->c; c++)
      for (int64_t t = 0; t < kk; t++)
        ws[(o * kk + t) * d.op + c] = w[(o * s->c + c) * kk + kk - 1 - t];
    for (int64_t t = 0; t < kk; t++)
      for (int64_t c = s->c; c < d.op; c++)
        ws[(o * kk + t) * d.op + c] = 0;
  }
  NNC_FN(direct_images)(&d, s->n, dy, dx, add, ws, NULL, ws + conv_direct_weights(&d));
}

/* Weight gradient: dw[o, t] = the sum over images and pixels of
 * dy[o, pixel] times the padded input at the pixel moved by tap t. Per
 * image, the padded planes are copied kw times, moved left by kj columns
 * and cut to ow: tap (c, ki, kj) of output pixel f is then element f + ki
 * * ow of copy kj of plane c, so that a tap's products are one run over
 * the oh * ow pixels (rounded up to whole wide vectors, 2 VL: dy is
 * copied to rows with zeros past the pixels, and past o). A tile is ob
 * output channels by tb taps (4 by 3 or 3 by 4, whichever wastes less), 12
 * vector accumulators running over the pixels a vector at a time, kept in
 * part from image to image and summed across their lanes after the last.
 * weight_block runs a block's tile over the len pixels, wide where the
 * processor runs it. */
static void NNC_FN(weight_block)(const REAL *dyw, int64_t ld, const REAL *const *q,
                                 int64_t len, REAL *part, int64_t ob, int wide) {
  if (wide)
    (ob == 4 ? TW(weight_tile43) : TW(weight_tile34))(dyw, ld, q, len, part);
  else
    (ob == 4 ? NNC_FN(weight_tile43) : NNC_FN(weight_tile34))(dyw, ld, q, len, part);
}

/* Each thread takes a share of the (ob channels, tb taps) blocks and runs
 * over all images in order, laying each image out in its own scratch
 * (nnc_conv2d_direct_weight_parts): every element of dw is summed by one
 * thread in the same order. */
#if NNC_CONV_WIDE
static void NNC_FN(packed_grad_weight)(const nnc_conv_shape *s, const conv_direct *d,
                                       const REAL *x, const REAL *dy, REAL *dw, REAL *ws);
#endif

static NNC_NO_LIBCALLS void NNC_FN(direct_grad_weight)(const nnc_conv_shape *s, const REAL *x,
                                       const REAL *dy, REAL *dw, REAL *ws) {
  const conv_direct d = conv_direct_forward(s);
#if NNC_CONV_WIDE
  if (conv_wide_cpu() && s->o >= 8) { /* 6 output channels (LeNet's first layer): slower */
    NNC_FN(packed_grad_weight)(s, &d, x, dy, dw, ws);
    return;
  }
#endif
  const int64_t T = s->c * s->kh * s->kw, kk = s->kh * s->kw;
  const int64_t w43 = (s->o + 3) / 4 * 4 * ((T + 2) / 3 * 3),
                w34 = (s->o + 2) / 3 * 3 * ((T + 3) / 4 * 4);
  const int64_t ob = w34 < w43 ? 3 : 4, tb = 12 / ob;
  const int64_t nob = (s->o + ob - 1) / ob, ntb = (T + tb - 1) / tb, nb = nob * ntb;
  /* the pixels in whole wide vectors (two of VL): dy's rows zeros past P */
  const int64_t P = s->oh * s->ow, len = (P + 2 * VL - 1) / (2 * VL) * (2 * VL),
                plane = d.hp * s->ow;
  size_t part[4];
  const size_t per = nnc_conv2d_direct_weight_parts(s, part);
  const int team = conv_team(nb), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    const int64_t t = conv_thread(), nt = conv_threads_now();
    const int64_t b0 = nb * t / nt, b1 = nb * (t + 1) / nt;
    REAL *pad = ws + per * (size_t)t, *xs = pad + part[0], *dyw = xs + part[1],
         *pt = dyw + part[2];
    memset(pt, 0, sizeof(REAL) * (size_t)((b1 - b0) * 12 * VL));
    memset(dyw, 0, sizeof(REAL) * part[2]); /* rows past o, columns past P */
    memset(xs + part[1] - 32, 0, sizeof(REAL) * 32); /* read past, times a zero */
    const int wide = conv_wide_cpu();
    for (int64_t n = 0; n < s->n && b1 > b0; n++) {
      NNC_FN(shift_image)(&d, x + n * s->c * s->h * s->w, pad, xs);
      for (int64_t o = 0; o < s->o; o++)
        NNC_FN(copy_run)(dyw + o * len, dy + (n * s->o + o) * P, P);
      int64_t t0 = b0 % ntb * tb, c = t0 / kk, ki = t0 % kk / s->kw, kj = t0 % s->kw;
      for (int64_t b = b0; b < b1; b++) {
        const REAL *q[4];
        for (int64_t j = 0; j < tb; j++, t0++) { /* taps past T read tap 0 */
          q[j] = t0 < T ? xs + (kj * s->c + c) * plane + ki * s->ow : xs;
          if (++kj == s->kw && (kj = 0, ++ki == s->kh))
            ki = 0, c++;
        }
        if (t0 >= T) /* the next block starts at tap 0 */
          t0 = c = ki = kj = 0;
        const REAL *dyb = dyw + b / ntb * ob * len;
        REAL *pb = pt + (b - b0) * 12 * VL;
        NNC_FN(weight_block)(dyb, len, q, len, pb, ob, wide);
      }
    }
    for (int64_t b = b0; b < b1; b++) {
      const int64_t o0 = b / ntb * ob, t1 = b % ntb * tb;
      for (int64_t i = 0; i < ob && o0 + i < s->o; i++)
        for (int64_t j = 0; j < tb && t1 + j < T; j++) {
          const REAL *lanes = pt + ((b - b0) * 12 + i * tb + j) * VL;
          REAL sum = 0;
          for (int64_t l = 0; l < VL; l++)
            sum += lanes[l];
          dw[(o0 + i) * T + t1 + j] += sum;
        }
    }
  });
  conv_gemm_restore(team, was);
}

/* ------------------------------------ Winograd F(2x2, 3x3), F(4x4, 3x3) */
/* A pass (conv_wino) runs per image and per strip of tile rows: the input
 * tiles transformed (V = Bᵀ d B, P = (m + 2)^2 values per tile of m + 2
 * by m + 2 and channel); for each of the P positions a product of the
 * transformed kernel (U = G k Gᵀ, ci by co) with V (ci by the strip's
 * tiles), in register tiles (reg_tile); the products transformed back
 * (Aᵀ M A: m x m pixels per tile). Position xi = (m + 2) i + j is row i,
 * column j of a tile. m is 2 or 4 (nnc_winograd_tile): F(2x2, 3x3) on
 * the points 0, 1, -1; F(4x4, 3x3) on 0, 1, -1, 2, -2. The input gradient
 * is the same pass on dy with the kernel flipped and its channels
 * swapped, as in the direct kernel. */

/* U[xi][c][o] (o up to co + 5, zeros past co) = G k Gᵀ, k the 3x3 kernel
 * from input channel c to output channel o: w[o, c] (forward) or w[c, o]
 * turned by 180 degrees (flip: the input gradient); VL output channels
 * at a time, lanes past co zero and not stored. */
/* G, (m + 2) rows of 3: F(2x2, 3x3)'s, or F(4x4, 3x3)'s. */
static const REAL (*NNC_FN(wino_g)(int64_t m))[3] {
  static const REAL g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static const REAL g4[6][3] = {{0.25, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
  return m == 4 ? g4 : g2;
}

static NNC_DIRECT_OPT void NNC_FN(wino_kernel)(const conv_wino *g, const REAL *w, int flip,
                                               REAL *u) {
  const REAL(*gm)[3] = NNC_FN(wino_g)(g->m);
  const int64_t op = g->co + 5, a = g->m + 2;
  memset(u, 0, sizeof(REAL) * g->part[0]);
  for (int64_t c = 0; c < g->ci; c++)
    for (int64_t o0 = 0; o0 < g->co; o0 += VL) {
      const int64_t nl = g->co - o0 < VL ? g->co - o0 : VL;
      NNC_FN(vec) k[9] = {{0}}, t[6][3];
      for (int64_t l = 0; l < nl; l++) /* tap 3 i + j of channel o0 + l */
        for (int x = 0; x < 9; x++)
          k[x][l] = flip ? w[(c * g->co + o0 + l) * 9 + 8 - x] : w[((o0 + l) * g->ci + c) * 9 + x];
      for (int64_t i = 0; i < a; i++) /* t = G k */
        for (int j = 0; j < 3; j++)
          t[i][j] = k[j] * gm[i][0] + k[3 + j] * gm[i][1] + k[6 + j] * gm[i][2];
      for (int64_t i = 0; i < a; i++) /* then (G k) Gᵀ */
        for (int64_t j = 0; j < a; j++) {
          const NNC_FN(vec) r = t[i][0] * gm[j][0] + t[i][1] * gm[j][1] + t[i][2] * gm[j][2];
          REAL *q = u + ((a * i + j) * g->ci + c) * op + o0;
          if (nl == VL)
            memcpy(q, &r, sizeof r);
          else
            for (int64_t l = 0; l < nl; l++)
              q[l] = r[l];
        }
    }
}

#ifdef NNC_UNZIP
/* m consecutive vectors (m VL values) to m vectors of the values whose
 * positions leave remainders 0 .. m - 1 over m (m = 2 or 4). */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(unzip_m)(NNC_FN(vec) v[4], const int64_t m) {
  NNC_FN(vec) e, f;
  NNC_UNZIP(v[0], v[1], e, f); /* even and odd positions */
  v[0] = e, v[1] = f;
  if (m == 4) { /* remainders 0 and 2, 1 and 3 */
    NNC_FN(vec) e2, f2;
    NNC_UNZIP(v[2], v[3], e2, f2);
    NNC_UNZIP(e, e2, v[0], v[2]);
    NNC_UNZIP(f, f2, v[1], v[3]);
  }
}

/* m vectors from the n values at p (garbage past n): read in place where
 * `over` says that m VL values from p are readable, else through a copy. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(load_m)(const REAL *p, int64_t n, int over,
                                                     NNC_FN(vec) v[4], const int64_t m) {
  REAL part[4 * VL];
  if (n < m * VL && !over) {
    for (int64_t l = 0; l < m * VL; l++)
      part[l] = l < n ? p[l] : 0;
    p = part;
  }
  for (int64_t r = 0; r < m; r++)
    memcpy(&v[r], p + r * VL, sizeof v[r]);
}

/* The lanes of m consecutive vectors from the n-th on set to 0. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(keep_m)(NNC_FN(vec) v[4], int64_t n,
                                                     const int64_t m) {
  if (n >= m * VL)
    return;
  NNC_FN(mask) lane;
  const NNC_FN(vec) zero = {0};
  for (int64_t l = 0; l < VL; l++)
    lane[l] = (NNC_MASK_INT)l;
  for (int64_t r = 0; r < m; r++)
    v[r] = NNC_FN(vsel)(lane < (NNC_MASK_INT)(n - r * VL), v[r], zero);
}

#endif

/* One image's padded planes, each row's columns by their remainder over
 * the tile m (the columns m j + i in part i at j: a tile's columns m tx
 * .. m tx + m + 1 are then part i at tx for i < m, and parts 0 and 1 at
 * tx + 1: vectors of consecutive tiles are plain loads); zeros outside
 * the input. */
static NNC_INLINE NNC_NO_LIBCALLS NNC_DIRECT_OPT void NNC_FN(wino_planes_m)(
    const conv_wino *g, const REAL *x, REAL *pl, const int64_t m) {
  const int64_t wr = m * g->half;
  /* x's columns m j + r go to part at[r], from j + off[r] (padded column
   * m j + r + pw) */
  int64_t at[4], off[4];
  for (int64_t r = 0; r < m; r++) {
    const int64_t pj = r + g->pw, q = pj >= 0 ? pj / m : -((m - 1 - pj) / m);
    at[r] = pj - q * m, off[r] = q;
  }
  for (int64_t c = 0; c < g->ci; c++)
    for (int64_t i = 0; i < g->hp; i++) {
      REAL *row = pl + (c * g->hp + i) * wr;
      const int64_t iy = i - g->ph;
      memset(row, 0, sizeof(REAL) * (size_t)wr);
      if (iy < 0 || iy >= g->ih)
        continue;
      const REAL *xr = x + (c * g->ih + iy) * g->iw;
      const REAL sa = g->isc ? ((const REAL *)g->isc)[c] : 1;
      const REAL sb = g->isc ? ((const REAL *)g->ish)[c] : 0;
      for (int64_t j = 0; m * j < g->iw; j += VL) {
#ifdef NNC_UNZIP
        int inside = 1;
        for (int64_t r = 0; r < m; r++)
          inside &= j + off[r] >= 0 && j + off[r] + VL <= g->half;
        if (inside) {
          /* a row's last values (fewer than m VL): the next rows' read in
           * place (a copy near the image's end), then zeros, for the
           * padding */
          const int64_t left = g->iw - m * j;
          NNC_FN(vec) v[4];
          NNC_FN(load_m)(xr + m * j, left,
                         ((g->ci - c) * g->ih - iy) * g->iw - m * j >= m * VL, v, m);
          for (int64_t r = 0; g->isc && r < m; r++) { /* the input transform, as the
                                                       * fused ReLU (NaN to 0) */
            const NNC_FN(vec) zero = {0};
            v[r] = v[r] * sa + sb;
            v[r] = NNC_FN(vsel)(v[r] > zero, v[r], zero);
          }
          NNC_FN(keep_m)(v, left, m);
          NNC_FN(unzip_m)(v, m);
          for (int64_t r = 0; r < m; r++)
            memcpy(row + at[r] * g->half + j + off[r], &v[r], sizeof v[r]);
          continue;
        }
#endif
        for (int64_t k = m * j; k < m * (j + VL) && k < g->iw; k++) {
          const int64_t r = k % m, q = k / m + off[r];
          if (q >= 0 && q < g->half)
            row[at[r] * g->half + q] = g->isc ? NNC_FN(in_relu)(xr[k], sa, sb) : xr[k];
        }
      }
    }
}

static NNC_DIRECT_OPT void NNC_FN(wino_planes)(const conv_wino *g, const REAL *x,
                                                REAL *pl) {
  if (g->m == 4)
    NNC_FN(wino_planes_m)(g, x, pl, 4);
  else
    NNC_FN(wino_planes_m)(g, x, pl, 2);
}

/* One dimension of Bᵀ d B: t = Bᵀ z, z[i] at z[i * zs]. F(2x2, 3x3): Bᵀ =
 * [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; F(4x4, 3x3): Bᵀ = [4 0 -5 0 1
 * 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0
 * -5 0 1]. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_bt)(const NNC_FN(vec) *z, int zs,
                                                      NNC_FN(vec) *t, const int m) {
  if (m == 2) {
    t[0] = z[0] - z[2 * zs], t[1] = z[zs] + z[2 * zs];
    t[2] = z[2 * zs] - z[zs], t[3] = z[zs] - z[3 * zs];
    return;
  }
  const NNC_FN(vec) z1 = z[zs], z2 = z[2 * zs], z3 = z[3 * zs], z4 = z[4 * zs];
  const NNC_FN(vec) a = z4 - z2, b = z3 - z1, c = z3 + z4, d = z1 + z2;
  t[0] = z[0] * (REAL)4 - z2 * (REAL)5 + z4;
  t[1] = c - d * (REAL)4;
  t[2] = (z4 - z3) + (z1 - z2) * (REAL)4;
  t[3] = a + b * (REAL)2;
  t[4] = a - b * (REAL)2;
  t[5] = z1 * (REAL)4 - z3 * (REAL)5 + z[5 * zs];
}

/* V = Bᵀ d B of VL tiles at once, d[i] the m + 2 columns of row i,
 * position (m + 2) i + j stored at q + ((m + 2) i + j) * xs. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_btdb)(NNC_FN(vec) d[6][6], REAL *q,
                                                        int64_t xs, const int m) {
  const int a = m + 2;
  NNC_FN(vec) h[6][6];
  NNC_UNROLL
  for (int i = 0; i < a; i++)
    NNC_FN(wino_bt)(d[i], 1, h[i], m);
  NNC_UNROLL
  for (int j = 0; j < a; j++) {
    NNC_FN(vec) t[6];
    NNC_FN(wino_bt)(&h[0][j], 6, t, m);
    NNC_UNROLL
    for (int i = 0; i < a; i++)
      memcpy(q + (a * i + j) * xs, &t[i], sizeof t[i]);
  }
}

/* V[xi][c][p] for the nr tile rows from ty0, p = r * tw + tx, rows of ldv,
 * matrices xs apart (a vector past a row's last tile spills into the next
 * row's first, written after, or into the 8 past the strip); m a
 * constant where inlined. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_input_m)(const conv_wino *g,
                                                           const REAL *pl, int64_t ty0,
                                                           int64_t nr, REAL *v,
                                                           int64_t ldv, int64_t xs,
                                                           const int m) {
  const int64_t wr = m * g->half;
  for (int64_t c = 0; c < g->ci; c++)
    for (int64_t r = 0; r < nr; r++) {
      const REAL *row = pl + (c * g->hp + m * (ty0 + r)) * wr;
      for (int64_t tx = 0; tx < g->tw; tx += VL) {
        NNC_FN(vec) d[6][6];
        NNC_UNROLL
        for (int i = 0; i < m + 2; i++)
          NNC_UNROLL
          for (int j = 0; j < m + 2; j++)
            memcpy(&d[i][j], row + i * wr + j % m * g->half + tx + j / m, sizeof d[i][j]);
        NNC_FN(wino_btdb)(d, v + c * ldv + r * g->tw + tx, xs, m);
      }
    }
}

static NNC_DIRECT_OPT void NNC_FN(wino_input)(const conv_wino *g, const REAL *pl,
                                              int64_t ty0, int64_t nr, REAL *v,
                                              int64_t ldv, int64_t xs) {
  if (g->m == 4)
    NNC_FN(wino_input_m)(g, pl, ty0, nr, v, ldv, xs, 4);
  else
    NNC_FN(wino_input_m)(g, pl, ty0, nr, v, ldv, xs, 2);
}

/* A small product on the register tiles, without a GEMM library's packing
 * of both operands and clearing of C, which cost more than the arithmetic
 * at these sizes (attention's per-head products, 64 x 64 x 32: 1.5 times
 * OpenBLAS's rate here). c (m x n, rows of ldc) = op(a) b, or += with add;
 * b is k x n (rows of ldb); op(a)[i][p] is a[i * lda + p], or a[p * lda + i]
 * transposed. n is a multiple of the vector length. Rows run in blocks of
 * 6 (a last block's missing rows read row 0 again and are not stored),
 * columns in strips of two vectors, then one (wide tiles: four, then two,
 * where the processor runs them); a product one vector wide (narrow or
 * wide) in blocks of 12 rows. nnc_sgemm sends it products of 16 columns
 * of any size where the wide tiles run: the graph network's features
 * times its first weights (2708 x 16 x 1433), read once and not packed. */
void NNC_FN(nnc_gemm_tiles)(int ta, int64_t m, int64_t n, int64_t k, const REAL *a,
                            int64_t lda, const REAL *b, int64_t ldb, int add, REAL *c,
                            int64_t ldc) {
  const int64_t ak = ta ? lda : 1;
  const int wide = conv_wide_cpu();
  for (int64_t f = 0, w; f < n; f += w) {
    NNC_FN(tile_fn) *tile = NNC_FN(reg_tile6x1); /* rb rows by w columns */
    NNC_FN(rows_fn) *rows = NULL; /* or whole tiles of rows lda apart */
    int64_t rb = 6;
    if (n == VL || (wide && n == 2 * VL)) { /* one vector of columns: 12 rows */
      tile = n == VL ? NNC_FN(reg_tile12x1) : TW(reg_tile12x1), w = n, rb = 12;
      if (!ta)
        rows = n == VL ? NNC_FN(rows_tile12x1) : TW(rows_tile12x1);
    }
    else if (wide && n - f >= 2 * VL)
      w = n - f >= 4 * VL ? 4 * VL : 2 * VL, tile = w > 2 * VL ? TW(reg_tile6) : TW(reg_tile6x1);
    else if (n - f >= 2 * VL)
      tile = NNC_FN(reg_tile6), w = 2 * VL;
    else
      w = VL;
    for (int64_t r0 = 0; r0 < m; r0 += rb) {
      const int64_t nc = m - r0 < rb ? m - r0 : rb;
      if (rows && nc == 12) {
        rows(a + r0 * lda, lda, b + f, ldb, k, c + r0 * ldc + f, ldc, add);
        continue;
      }
      const REAL *ar[12];
      for (int64_t i = 0; i < rb; i++) {
        const int64_t r = r0 + (i < nc ? i : 0);
        ar[i] = ta ? a + r : a + r * lda;
      }
      tile(ar, ak, b + f, ldb, k, c + r0 * ldc + f, ldc, nc, add);
    }
  }
}

/* c (m x n, m at most 16; add: +=) = aᵀ b, a (k x m, rows of lda) and b
 * (k x n, rows of ldb) tall: a weight gradient with few outputs over many
 * rows (the graph network's first layer: 16 x 1433 over 2708 nodes). n is
 * a multiple of the vector length. Rows of a and b go in blocks of 32, in
 * order; per block, each strip of one vector of columns adds the block's
 * products into its 16 rows of c (16 accumulators): b is read once, row
 * after row, where a GEMM library would pack it first. */
void NNC_FN(nnc_gemm_tiles_tall)(int64_t m, int64_t n, int64_t k, const REAL *a,
                                 int64_t lda, const REAL *b, int64_t ldb, int add,
                                 REAL *c, int64_t ldc) {
  const int wide = conv_wide_cpu();
  const int64_t w = wide ? 2 * VL : VL;
  NNC_FN(tile_fn) *tile = wide ? TW(tall_tile16x1) : NNC_FN(tall_tile16x1);
  for (int64_t k0 = 0; k0 < k; k0 += 32) {
    const int64_t kb = k - k0 < 32 ? k - k0 : 32;
    const REAL *ar[16];
    for (int64_t i = 0; i < 16; i++) /* rows past m read row 0, not stored */
      ar[i] = a + k0 * lda + (i < m ? i : 0);
    int64_t f = 0;
#if NNC_CONV_WIDE
    if (wide && m % 8 == 0) /* whole tiles of 8 rows */
      for (; f + 2 * w <= n; f += 2 * w)
        for (int64_t i = 0; i < m; i += 8)
          TW(tall_tile8x2)(a + k0 * lda + i, lda, b + k0 * ldb + f, ldb, kb,
                           c + i * ldc + f, ldc, add || k0 > 0);
#endif
    for (; f < n; f += w)
      tile(ar, lda, b + k0 * ldb + f, ldb, kb, c + f, ldc, m, add || k0 > 0);
  }
}

#if NNC_CONV_WIDE
/* The packed product on the wide tiles (AVX-512): c (m x n; add: +=) =
 * op(a) op(b), alpha 1. B's columns go in strips of NNC_PACK_W (two wide
 * vectors), its rows in blocks of NNC_PACK_K; each block of a strip is
 * copied into pk, rows of NNC_PACK_W side by side (zeros past n), and
 * every block of 8 rows of C runs over it on an 8 x 2 tile (16
 * accumulators). A strip of B read in place, rows ldb apart, fell on a
 * few sets of the level-1 cache and was read again from level 2 by each
 * block of rows; packed, it stays in level 1 (32 x 512 x 128, an LSTM's
 * step: 145-160 GFLOP/s against OpenBLAS's 100-110 here). op(b)
 * transposed is packed VL by VL transposed in registers. */
#define NNC_PACK_W (4 * VL)
#define NNC_PACK_K 256
/* the strips' width is the 8 x 2 tile's (two wide vectors), and the
 * layout nnc_runtime.h gives generated code (NNC_PACK_BYTES): the same */
typedef char NNC_FN(pack_width_check)[NNC_PACK_W * sizeof(REAL) == NNC_PACK_BYTES ? 1 : -1];

/* pk[kk * NNC_PACK_W + q] = rows[q][k0 + kk] for kk < kc, q < nr; 0 for
 * q from nr on: a strip packed from nr runs, VL by VL transposed in
 * registers. */
static NNC_WIDE_OPT void NNC_FN(pack_runs)(const REAL *const *rows, int64_t nr, int64_t k0,
                                           int64_t kc, REAL *pk) {
  int64_t q = 0;
#ifdef NNC_ZIP
  for (; q + VL <= nr; q += VL) {
    int64_t kk = 0;
    for (; kk + VL <= kc; kk += VL)
      NNC_FN(transpose_into)(rows + q, k0 + kk, pk + kk * NNC_PACK_W + q, NNC_PACK_W);
    for (; kk < kc; kk++)
      for (int64_t i = 0; i < VL; i++)
        pk[kk * NNC_PACK_W + q + i] = rows[q + i][k0 + kk];
  }
#endif
  for (; q < NNC_PACK_W; q++)
    for (int64_t kk = 0; kk < kc; kk++)
      pk[kk * NNC_PACK_W + q] = q < nr ? rows[q][k0 + kk] : 0;
}

/* pk[kk * NNC_PACK_W + jj] = op(b)[k0 + kk][j + jj] for kk < kc, jj < nj;
 * 0 for jj from nj to NNC_PACK_W. A transposed b's rows are the strip's
 * runs (pack_runs). */
static NNC_WIDE_OPT void NNC_FN(pack_strip)(int tb, const REAL *b, int64_t ldb, int64_t k0,
                                            int64_t kc, int64_t j, int64_t nj, REAL *pk) {
  if (!tb) {
    for (int64_t kk = 0; kk < kc; kk++) {
      REAL *row = pk + kk * NNC_PACK_W;
      const REAL *src = b + (k0 + kk) * ldb + j;
      if (nj == NNC_PACK_W) {
        memcpy(row, src, sizeof(REAL) * NNC_PACK_W);
        continue;
      }
      for (int64_t jj = 0; jj < NNC_PACK_W; jj++)
        row[jj] = jj < nj ? src[jj] : 0;
    }
    return;
  }
  const REAL *rows[NNC_PACK_W];
  for (int64_t jj = 0; jj < nj; jj++)
    rows[jj] = b + (j + jj) * ldb;
  NNC_FN(pack_runs)(rows, nj, k0, kc, pk);
}

/* C's m rows (of ldc) = op(a) times a packed strip (kc rows of
 * NNC_PACK_W columns; nj of them stored; add: +=), op(a)[i][kk] at a[i *
 * lda + kk] or, transposed, a[kk * lda + i]: on the 8 x 2 wide tile, or
 * two 6 x 2 narrow ones side by side (wide 0); a strip cut short through
 * edge (8 rows of NNC_PACK_W). */
static void NNC_FN(strip_rows)(int ta, const REAL *a, int64_t lda, int64_t m,
                               const REAL *strip, int64_t kc, REAL *c, int64_t ldc,
                               int64_t nj, int add, const REAL *bias, REAL *edge,
                               int wide) {
  const int64_t rb = wide ? 8 : 6, ak = ta ? lda : 1;
  for (int64_t i0 = 0; i0 < m; i0 += rb) {
    const int64_t nc = m - i0 < rb ? m - i0 : rb;
    const REAL *ar[8];
    for (int64_t i = 0; i < 8; i++) { /* rows past m read row i0, not stored */
      const int64_t r = i0 + (i < nc ? i : 0);
      ar[i] = ta ? a + r : a + r * lda;
    }
    REAL *cb = c + i0 * ldc, *dst = cb;
    int64_t ldd = ldc;
    if (nj < NNC_PACK_W) {
      dst = edge, ldd = NNC_PACK_W;
      for (int64_t i = 0; add && i < nc; i++)
        memcpy(edge + i * NNC_PACK_W, cb + i * ldc, sizeof(REAL) * (size_t)nj);
    }
    if (wide && bias && !add) {
      TW(reg_tile8x2_bias)(ar, ak, strip, NNC_PACK_W, kc, dst, ldd, nc, bias);
    } else if (wide) {
      TW(reg_tile8x2)(ar, ak, strip, NNC_PACK_W, kc, dst, ldd, nc, add);
    } else {
      NNC_FN(reg_tile6)(ar, ak, strip, NNC_PACK_W, kc, dst, ldd, nc, add);
      NNC_FN(reg_tile6)(ar, ak, strip + 2 * VL, NNC_PACK_W, kc, dst + 2 * VL, ldd, nc, add);
    }
    for (int64_t i = 0; nj < NNC_PACK_W && i < nc; i++)
      memcpy(cb + i * ldc, edge + i * NNC_PACK_W, sizeof(REAL) * (size_t)nj);
  }
}

/* nnc_gemm_pack_f32/f64 where the wide tiles run: each strip by
 * pack_strip (a transposed B transposed VL by VL in registers). */
void NNC_FN(nnc_gemm_pack_wide)(int tb, int64_t k, int64_t n, const REAL *b, int64_t ldb,
                                REAL *p) {
  for (int64_t j = 0; j < n; j += NNC_PACK_W, p += k * NNC_PACK_W)
    NNC_FN(pack_strip)(tb, b, ldb, 0, k, j, n - j < NNC_PACK_W ? n - j : NNC_PACK_W, p);
}

/* c (m x n; add: +=) = a p over strips [s0, s1) of p, packed once
 * (nnc_gemm_pack_len; its strips NNC_PACK_W wide): nnc_sgemm_pb's and
 * nnc_dgemm_pb's product where the tiles run, wide or narrow. */
void NNC_FN(nnc_gemm_pb_tiles)(int64_t m, int64_t n, int64_t k, const REAL *a, int64_t lda,
                               const REAL *p, int add, REAL *c, int64_t ldc, int64_t s0,
                               int64_t s1) {
  REAL edge[8 * NNC_PACK_W] __attribute__((aligned(64)));
  const int wide = conv_wide_cpu();
  for (int64_t s = s0; s < s1; s++) {
    const int64_t j = s * NNC_PACK_W, nj = n - j < NNC_PACK_W ? n - j : NNC_PACK_W;
    NNC_FN(strip_rows)(0, a, lda, m, p + s * k * NNC_PACK_W, k, c + j, ldc, nj, add, NULL,
                       edge, wide);
  }
}

void NNC_FN(nnc_gemm_packed)(int ta, int tb, int64_t m, int64_t n, int64_t k,
                             const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                             int add, const REAL *bias, REAL *c, int64_t ldc) {
  REAL pk[NNC_PACK_K * NNC_PACK_W] __attribute__((aligned(64)));
  REAL edge[8 * NNC_PACK_W] __attribute__((aligned(64)));
  REAL bias_edge[NNC_PACK_W] __attribute__((aligned(64)));
  for (int64_t j = 0; j < n; j += NNC_PACK_W) {
    const int64_t nj = n - j < NNC_PACK_W ? n - j : NNC_PACK_W;
    const REAL *bj = bias ? bias + j : NULL;
    if (bias && nj < NNC_PACK_W) { /* the strip's columns past n: zeros */
      for (int64_t q = 0; q < NNC_PACK_W; q++)
        bias_edge[q] = q < nj ? bias[j + q] : 0;
      bj = bias_edge;
    }
    for (int64_t k0 = 0; k0 < k; k0 += NNC_PACK_K) {
      const int64_t kc = k - k0 < NNC_PACK_K ? k - k0 : NNC_PACK_K;
      const int acc = add || k0 > 0;
      NNC_FN(pack_strip)(tb, b, ldb, k0, kc, j, nj, pk);
      NNC_FN(strip_rows)(ta, ta ? a + k0 * lda : a + k0, lda, m, pk, kc, c + j, ldc, nj, acc,
                         bj, edge, 1);
    }
  }
}
/* The direct weight gradient on the packed product: dw (o x T taps) +=
 * dy (o x P pixels) times X (P x T), X[f][t] the input of tap t at pixel
 * f, per image. Tap (c, ki, kj) at pixel f is element f + ki * ow of copy
 * kj of plane c (shift_planes), so that a tap's pixels are one run: X's
 * strips are packed from the taps' runs VL by VL, transposed in
 * registers. Each thread takes a share of the blocks of 8 rows of dw and
 * packs X itself; every element of dw is summed by one thread, image
 * after image, in the same order. */
static void NNC_FN(packed_grad_weight)(const nnc_conv_shape *s, const conv_direct *d,
                                       const REAL *x, const REAL *dy, REAL *dw, REAL *ws) {
  const int64_t T = s->c * s->kh * s->kw, P = s->oh * s->ow, plane = d->hp * s->ow;
  const int64_t nrb = (s->o + 7) / 8;
  size_t part[4];
  const size_t per = nnc_conv2d_direct_weight_parts(s, part);
  const int team = conv_team(nrb), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    const int64_t t = conv_thread(), nt = conv_threads_now();
    const int64_t r0 = nrb * t / nt * 8, r1 = nrb * (t + 1) / nt * 8;
    REAL *pad = ws + per * (size_t)t, *xs = pad + part[0];
    REAL pk[NNC_PACK_K * NNC_PACK_W] __attribute__((aligned(64)));
    REAL edge[8 * NNC_PACK_W] __attribute__((aligned(64)));
    const REAL *rows[NNC_PACK_W];
    for (int64_t n = 0; n < s->n && r1 > r0; n++) {
      NNC_FN(shift_image)(d, x + n * s->c * s->h * s->w, pad, xs);
      const REAL *dyn = dy + (n * s->o + r0) * P;
      for (int64_t j = 0; j < T; j += NNC_PACK_W) {
        const int64_t nj = T - j < NNC_PACK_W ? T - j : NNC_PACK_W;
        for (int64_t q = 0; q < NNC_PACK_W; q++) { /* tap j + q's run; past T, */
          const int64_t tp = j + (q < nj ? q : 0); /* tap j's again: the columns */
          const int64_t c = tp / (s->kh * s->kw), ki = tp / s->kw % s->kh, /* are */
                        kj = tp % s->kw;                                   /* dropped */
          rows[q] = xs + (kj * s->c + c) * plane + ki * s->ow;
        }
        for (int64_t k0 = 0; k0 < P; k0 += NNC_PACK_K) {
          const int64_t kc = P - k0 < NNC_PACK_K ? P - k0 : NNC_PACK_K;
          NNC_FN(pack_runs)(rows, NNC_PACK_W, k0, kc, pk);
          NNC_FN(strip_rows)(0, dyn + k0, P, (s->o < r1 ? s->o : r1) - r0, pk, kc,
                             dw + r0 * T + j, T, nj, 1, NULL, edge, 1);
        }
      }
    }
  });
  conv_gemm_restore(team, was);
}
#undef NNC_PACK_W
#undef NNC_PACK_K
#endif

/* The block of channels that wastes least on co channels and n tiles,
 * counting the loads per 12 multiply-adds: 8 with 6 channels, 7 with 4,
 * and 15 with 3 (its 12 accumulators, 4 vectors of tiles and a weight
 * need 17 registers of 16: GCC loads the tiles again for each channel). */
static int NNC_FN(wino_block)(int64_t co, int64_t n) {
  int best = 6;
  int64_t cost = -1;
  for (int cb = 6; cb >= 3; cb -= cb == 6 ? 2 : 1) {
    const int64_t w = 12 / cb * VL, loads = cb == 6 ? 8 : cb == 4 ? 7 : 15;
    const int64_t c = (co + cb - 1) / cb * cb * ((n + w - 1) / w * w) * loads;
    if (cost < 0 || c < cost)
      best = cb, cost = c;
  }
  return best;
}

/* m (rows of ldm, `rows` of them) = uᵀ v over k < K, for n columns:
 * m[r][f] = the sum of u[k * op + r] v[k * ldv + f], in tiles of cb rows
 * (op >= rows + 5: a last block of 6 reads up to 5 rows past). */
static void NNC_FN(tile_product)(const REAL *v, int64_t ldv, int64_t K, const REAL *u,
                                 int64_t op, int64_t rows, REAL *m, int64_t ldm,
                                 int64_t n, int cb) {
  const int64_t step = 12 / cb * VL;
  const int wide = conv_wide_cpu();
  /* where the wide tiles run, the columns past the last whole pair of
   * tiles (a strip's last row of tiles) go on 16-row tiles one wide
   * vector across: a narrow tile there ran at half the rate */
  const int64_t nm = wide ? n / (2 * step) * (2 * step) : n;
  for (int64_t r0 = 0; r0 < rows; r0 += cb) {
    const int64_t nc = rows - r0 < cb ? rows - r0 : cb;
    const REAL *ar[6];
    for (int i = 0; i < 6; i++)
      ar[i] = u + r0 + i;
    for (int64_t f = 0; f < nm; f += step)
      if (wide && f + step < n) /* two tiles in one */
        TW(reg_tiles)(ar, op, v + f, ldv, K, m + r0 * ldm + f, ldm, nc, 0, cb), f += step;
      else
        NNC_FN(reg_tiles)(ar, op, v + f, ldv, K, m + r0 * ldm + f, ldm, nc, 0, cb);
  }
  for (int64_t r0 = 0; nm < n && r0 < rows; r0 += 16) {
    const int64_t nc = rows - r0 < 16 ? rows - r0 : 16;
    const REAL *ar[16];
    for (int64_t i = 0; i < 16; i++) /* rows past `rows` read row r0, not stored */
      ar[i] = u + r0 + (i < nc ? i : 0);
    for (int64_t f = nm; f < n; f += 2 * VL)
      TW(reg_tile16x1)(ar, op, v + f, ldv, K, m + r0 * ldm + f, ldm, nc, 0);
  }
}

/* One dimension of Aᵀ M A: y = Aᵀ z, z[i] at z[i * zs]. F(2x2, 3x3): Aᵀ =
 * [1 1 1 0; 0 1 -1 -1]; F(4x4, 3x3): Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0
 * 1 1 4 4 0; 0 1 -1 8 -8 1]. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_at)(const NNC_FN(vec) *z, int zs,
                                                      NNC_FN(vec) *y, const int m) {
  if (m == 2) {
    y[0] = z[0] + z[zs] + z[2 * zs];
    y[1] = z[zs] - z[2 * zs] - z[3 * zs];
    return;
  }
  const NNC_FN(vec) p = z[zs] + z[2 * zs], q = z[zs] - z[2 * zs];
  const NNC_FN(vec) r = z[3 * zs] + z[4 * zs], t = z[3 * zs] - z[4 * zs];
  y[0] = z[0] + p + r;
  y[1] = q + t * (REAL)2;
  y[2] = p + r * (REAL)4;
  y[3] = q + t * (REAL)8 + z[5 * zs];
}

/* The strip's output pixels (or += with add) from its products M[xi][o][p]
 * (rows of ldm), Aᵀ M A; pixels past (oh, ow) dropped. A tile's m columns
 * are interleaved in registers (NNC_ZIP) when the runtime's compiler has
 * __builtin_shufflevector; m a constant where inlined. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_output_m)(const conv_wino *g,
                                                            const REAL *mp, int64_t ldm,
                                                            int64_t ty0, int64_t nr,
                                                            REAL *y, int add, const int m) {
  const int64_t xs = g->co * ldm;
  const int a = m + 2;
  for (int64_t o = 0; o < g->co; o++)
    for (int64_t r = 0; r < nr; r++) {
      const int64_t oy = m * (ty0 + r);
      for (int64_t tx = 0; tx < g->tw; tx += VL) {
        const REAL *q = mp + o * ldm + r * g->tw + tx;
        NNC_FN(vec) mm[36], t[4][6];
        NNC_UNROLL
        for (int k = 0; k < a * a; k++)
          memcpy(&mm[k], q + k * xs, sizeof mm[k]);
        NNC_UNROLL
        for (int j = 0; j < a; j++) { /* the columns of Aᵀ M */
          NNC_FN(vec) c[4];
          NNC_FN(wino_at)(mm + j, a, c, m);
          NNC_UNROLL
          for (int i = 0; i < m; i++)
            t[i][j] = c[i];
        }
        const int64_t left = g->ow - m * tx, cols = left < m * VL ? left : m * VL;
        NNC_UNROLL
        for (int rr = 0; rr < m; rr++) {
          if (oy + rr >= g->oh)
            break;
          REAL *out = y + (o * g->oh + oy + rr) * g->ow + m * tx;
          NNC_FN(vec) yv[4], pix[4]; /* row rr's pixels, VL at a time */
          NNC_FN(wino_at)(t[rr], 1, yv, m);
#ifdef NNC_ZIP
          NNC_ZIP(yv[0], yv[m / 2], pix[0], pix[1]);
          if (m == 4) { /* columns 0 and 2, then 1 and 3, then all four */
            NNC_FN(vec) e, f;
            NNC_ZIP(yv[1], yv[3], e, f);
            const NNC_FN(vec) a0 = pix[0], a1 = pix[1];
            NNC_ZIP(a0, e, pix[0], pix[1]);
            NNC_ZIP(a1, f, pix[2], pix[3]);
          }
#else
          for (int64_t l = 0; l < m * VL; l++)
            pix[l / VL][l % VL] = yv[l % m][l / m];
#endif
          if (cols == m * VL) {
            NNC_UNROLL
            for (int k = 0; k < m; k++) {
              if (add) {
                NNC_FN(vec) w0;
                memcpy(&w0, out + k * VL, sizeof w0);
                pix[k] += w0;
              }
              memcpy(out + k * VL, &pix[k], sizeof pix[k]);
            }
            continue;
          }
          REAL lv[4 * VL];
          memcpy(lv, pix, sizeof(NNC_FN(vec)) * (size_t)m);
          if (add)
            for (int64_t l = 0; l < cols; l++)
              out[l] += lv[l];
          else
            for (int64_t l = 0; l < cols; l++)
              out[l] = lv[l];
        }
      }
    }
}

static NNC_DIRECT_OPT void NNC_FN(wino_output)(const conv_wino *g, const REAL *mp,
                                               int64_t ldm, int64_t ty0, int64_t nr,
                                               REAL *y, int add) {
  if (g->m == 4)
    NNC_FN(wino_output_m)(g, mp, ldm, ty0, nr, y, add, 4);
  else
    NNC_FN(wino_output_m)(g, mp, ldm, ty0, nr, y, add, 2);
}

/* The images shared out over the threads; U (built by the caller) at the
 * start of ws, then each thread's planes, V and M. */
static void NNC_FN(wino_images)(const conv_wino *g, int64_t nimg, const REAL *in,
                                REAL *out, int add, REAL *ws) {
  const int team = conv_team(nimg), was = conv_gemm_single(team);
  const REAL *u = ws;
  NNC_PAR_TEAM_(team,
  {
    REAL *pl = ws + g->part[0] + conv_wino_thread(g) * (size_t)conv_thread();
    REAL *v0 = pl + g->part[1];
    memset(v0, 0, sizeof(REAL) * (g->part[2] + g->part[3])); /* read past, dropped */
    REAL *v = conv_align64(v0), *m = conv_align64(v0 + g->part[2]);
    NNC_OMP_(for schedule(static))
    for (int64_t i = 0; i < nimg; i++) {
      NNC_FN(wino_planes)(g, in + i * g->ci * g->ih * g->iw, pl);
      for (int64_t ty0 = 0; ty0 < g->th; ty0 += g->rows) {
        const int64_t nr = g->th - ty0 < g->rows ? g->th - ty0 : g->rows;
        /* rows of V a multiple of 64 bytes, the wide tiles' loads whole
         * lines; 16 more between its matrices, whose stores would
         * otherwise fall 4 KiB apart, on the same lines of the cache */
        const int64_t n = nr * g->tw, ldv = (n + 31) / 16 * 16, ldm = n + 32;
        const int64_t xs = g->ci * ldv + 16;
        const int cb = NNC_FN(wino_block)(g->co, n);
        NNC_FN(wino_input)(g, pl, ty0, nr, v, ldv, xs);
        for (int64_t xi = 0; xi < g->np; xi++)
          NNC_FN(tile_product)(v + xi * xs, ldv, g->ci,
                               u + xi * g->ci * (g->co + 5), g->co + 5, g->co,
                               m + xi * g->co * ldm, ldm, n, cb);
        NNC_FN(wino_output)(g, m, ldm, ty0, nr, out + i * g->co * g->oh * g->ow, add);
      }
    }
  });
  conv_gemm_restore(team, was);
}

static void NNC_FN(wino_forward)(const nnc_conv_shape *s, const REAL *x, const REAL *sc,
                                 const REAL *sh, const REAL *w, REAL *y, REAL *ws) {
  conv_wino g = conv_wino_of(s->c, s->h, s->w, s->o, s->oh, s->ow, s->ph, s->pw, 0);
  g.isc = sc, g.ish = sh;
  NNC_FN(wino_kernel)(&g, w, 0, ws);
  NNC_FN(wino_images)(&g, s->n, x, y, 0, ws);
}

static void NNC_FN(wino_grad_input)(const nnc_conv_shape *s, const REAL *dy,
                                    const REAL *w, REAL *dx, REAL *ws, int add) {
  const conv_wino g = conv_wino_of(s->o, s->oh, s->ow, s->c, s->h, s->w, 2 - s->ph,
                                   2 - s->pw, 0);
  NNC_FN(wino_kernel)(&g, w, 1, ws);
  NNC_FN(wino_images)(&g, s->n, dy, dx, add, ws);
}


/* Weight gradient: dw[o, c] = Gᵀ Y G with Y[xi][o][c] the sum over images
 * and tiles of DY[xi][o][t] VT[xi][t][c]: VT the forward pass's transformed
 * input (Bᵀ d B), laid a row of channels per tile; DY = A h Aᵀ for the m x
 * m tile of dy h at tile t (A = Aᵀ's transpose, zeros past (oh, ow)):
 * Winograd's F(3x3, 2x2) or F(3x3, 4x4), the roles of kernel and output
 * of F(2x2, 3x3) or F(4x4, 3x3) exchanged. The sums run over a strip's
 * tiles in registers, channels in the vectors, and are added into Y once
 * per strip. DY's tiles of a strip, vectors of tiles, rows of ldd. */

/* One dimension of A h Aᵀ: t = A z, z[i] at z[i * zs]. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wino_a)(const NNC_FN(vec) *z, int zs,
                                                     NNC_FN(vec) *t, const int m) {
  if (m == 2) {
    t[0] = z[0], t[1] = z[0] + z[zs], t[2] = z[0] - z[zs], t[3] = -z[zs];
    return;
  }
  const NNC_FN(vec) z1 = z[zs], z2 = z[2 * zs], z3 = z[3 * zs];
  const NNC_FN(vec) p = z[0] + z2, q = z1 + z3;
  const NNC_FN(vec) r = z[0] + z2 * (REAL)4, u = z1 * (REAL)2 + z3 * (REAL)8;
  t[0] = z[0], t[1] = p + q, t[2] = p - q, t[3] = r + u, t[4] = r - u, t[5] = z3;
}

static NNC_INLINE NNC_NO_LIBCALLS NNC_DIRECT_OPT void NNC_FN(wino_dy_m)(
    const conv_wino *g, const REAL *dy, int64_t ty0, int64_t nr, REAL *d, int64_t ldd,
    const int m) {
  const int64_t xs = g->co * ldd;
  const int a = m + 2;
  for (int64_t o = 0; o < g->co; o++)
    for (int64_t r = 0; r < nr; r++) {
      const int64_t oy = m * (ty0 + r);
      for (int64_t tx = 0; tx < g->tw; tx += VL) {
        NNC_FN(vec) h[4][4], c[6][4], zero = {0};
        for (int k = 0; k < m; k++) { /* row oy + k: its pixels by column in the tile */
          for (int l = 0; l < m; l++)
            h[k][l] = zero;
          if (oy + k >= g->oh)
            continue;
          const REAL *row = dy + (o * g->oh + oy + k) * g->ow + m * tx;
#ifdef NNC_UNZIP
          { /* a row's last pixels (fewer than m VL): the next rows' read in
             * place (a copy near the image's end), then zeros */
            const int64_t left = g->ow - m * tx;
            NNC_FN(load_m)(row, left,
                           ((g->co - o) * g->oh - oy - k) * g->ow - m * tx >= m * VL, h[k], m);
            NNC_FN(keep_m)(h[k], left, m);
            NNC_FN(unzip_m)(h[k], m);
            continue;
          }
#endif
          for (int64_t l = 0; l < m * VL && m * tx + l < g->ow; l++)
            h[k][l % m][l / m] = row[l];
        }
        NNC_UNROLL
        for (int l = 0; l < m; l++) { /* A h */
          NNC_FN(vec) t[6];
          NNC_FN(wino_a)(&h[0][l], 4, t, m);
          NNC_UNROLL
          for (int i = 0; i < a; i++)
            c[i][l] = t[i];
        }
        REAL *q = d + o * ldd + r * g->tw + tx;
        NNC_UNROLL
        for (int i = 0; i < a; i++) { /* then (A h) Aᵀ */
          NNC_FN(vec) t[6];
          NNC_FN(wino_a)(c[i], 1, t, m);
          NNC_UNROLL
          for (int j = 0; j < a; j++)
            memcpy(q + (a * i + j) * xs, &t[j], sizeof t[j]);
        }
      }
    }
}

static NNC_DIRECT_OPT void NNC_FN(wino_dy)(const conv_wino *g, const REAL *dy,
                                           int64_t ty0, int64_t nr, REAL *d,
                                           int64_t ldd) {
  if (g->m == 4)
    NNC_FN(wino_dy_m)(g, dy, ty0, nr, d, ldd, 4);
  else
    NNC_FN(wino_dy_m)(g, dy, ty0, nr, d, ldd, 2);
}

/* x's padded planes with the channels of a pixel side by side: pixel (i,
 * j) at pl + (i * wpp + j) * cp. Only x's pixels are written: the rest,
 * zeroed once per call, stays zero. Blocks of VL channels by VL pixels
 * are transposed in registers (log2 VL rounds of NNC_ZIP on rows VL / 2
 * apart), where the compiler has the shuffles; the rest one at a time. */
static NNC_DIRECT_OPT void NNC_FN(wgrad_planes)(const conv_wino *g, const REAL *x,
                                               REAL *pl, int64_t wpp, int64_t cp) {
  const int64_t j0 = g->pw < 0 ? -g->pw : 0,
                j1 = g->iw + g->pw > wpp ? wpp - g->pw : g->iw;
  for (int64_t c0 = 0; c0 < g->ci; c0 += VL)
    for (int64_t iy = 0; iy < g->ih; iy++) {
      const int64_t i = iy + g->ph, nc = g->ci - c0 < VL ? g->ci - c0 : VL;
      if (i < 0 || i >= g->hp)
        continue;
      const REAL *xr = x + (c0 * g->ih + iy) * g->iw;
      const REAL *sa = g->isc ? (const REAL *)g->isc + c0 : NULL;
      const REAL *sb = g->isc ? (const REAL *)g->ish + c0 : NULL;
      REAL *row = pl + (i * wpp + g->pw) * cp + c0;
      int64_t j = j0;
#ifdef NNC_ZIP
      for (; j + VL <= j1; j += VL) {
        NNC_FN(vec) t[VL], zero = {0};
        NNC_UNROLL
        for (int64_t k = 0; k < VL; k++)
          if (k < nc) {
            memcpy(&t[k], xr + k * g->ih * g->iw + j, sizeof t[k]);
            if (sa) { /* the input transform (NaN to 0, as the fused ReLU) */
              t[k] = t[k] * sa[k] + sb[k];
              t[k] = NNC_FN(vsel)(t[k] > zero, t[k], zero);
            }
          } else {
            t[k] = zero;
          }
        NNC_FN(transpose_vl)(t);
        NNC_UNROLL
        for (int64_t p = 0; p < VL; p++)
          memcpy(row + (j + p) * cp, &t[p], sizeof t[p]);
      }
#endif
      for (; j < j1; j++)
        for (int64_t k = 0; k < nc; k++)
          row[j * cp + k] = sa ? NNC_FN(in_relu)(xr[k * g->ih * g->iw + j], sa[k], sb[k])
                               : xr[k * g->ih * g->iw + j];
    }
}

/* VT[xi][t][c] (rows of cq) for the strip's tiles, VL channels at a
 * time; m a constant where inlined. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(wgrad_input_m)(const conv_wino *g,
                                                            const REAL *pl, int64_t wpp,
                                                            int64_t cp, int64_t ty0,
                                                            int64_t nr, REAL *vt,
                                                            int64_t cq, const int m) {
  const int64_t xs = nr * g->tw * cq, ld = wpp * cp;
  for (int64_t r = 0; r < nr; r++)
    for (int64_t tx = 0; tx < g->tw; tx++) {
      const REAL *b = pl + (m * (ty0 + r) * wpp + m * tx) * cp;
      REAL *q = vt + (r * g->tw + tx) * cq;
      for (int64_t c0 = 0; c0 < cp; c0 += VL) {
        NNC_FN(vec) d[6][6];
        NNC_UNROLL
        for (int i = 0; i < m + 2; i++)
          NNC_UNROLL
          for (int j = 0; j < m + 2; j++)
            memcpy(&d[i][j], b + i * ld + j * cp + c0, sizeof d[i][j]);
        NNC_FN(wino_btdb)(d, q + c0, xs, m);
      }
    }
}

static NNC_DIRECT_OPT void NNC_FN(wgrad_input)(const conv_wino *g, const REAL *pl,
                                              int64_t wpp, int64_t cp, int64_t ty0,
                                              int64_t nr, REAL *vt, int64_t cq) {
  if (g->m == 4)
    NNC_FN(wgrad_input_m)(g, pl, wpp, cp, ty0, nr, vt, cq, 4);
  else
    NNC_FN(wgrad_input_m)(g, pl, wpp, cp, ty0, nr, vt, cq, 2);
}

static void NNC_FN(wino_grad_weight)(const nnc_conv_shape *s, const REAL *x,
                                     const REAL *sc, const REAL *sh, const REAL *dy,
                                     REAL *dw, REAL *ws) {
  conv_wino g = conv_wino_of(s->c, s->h, s->w, s->o, s->oh, s->ow, s->ph, s->pw, 1);
  g.isc = sc, g.ish = sh;
  const int64_t cp = (s->c + VL - 1) / VL * VL, wpp = g.m * g.tw + 2;
  /* rows of o, channels in vectors: 8 by 4 VL on the wide tiles, else
   * the narrow block that wastes least (paired where they run) */
  const int wide8 = conv_wide_cpu(); /* the wide tiles are built with the direct ones */
  const int cb = wide8 ? 8 : NNC_FN(wino_block)(s->o, cp);
  const int64_t wd = wide8 ? 4 * VL : 12 / cb * VL, cq = (cp + wd - 1) / wd * wd;
  const int64_t nob = (s->o + cb - 1) / cb, nwb = cq / wd, nb = g.np * nob * nwb;
  REAL *y = conv_align64(ws); /* Y[xi][o][c], rows of cq */
  memset(y, 0, sizeof(REAL) * (size_t)(g.np * s->o * cq));
  const int team = conv_team(nb), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    const int64_t t = conv_thread(), nt = conv_threads_now();
    const int64_t b0 = nb * t / nt, b1 = nb * (t + 1) / nt;
    REAL *pl = ws + g.part[0] + conv_wino_thread(&g) * (size_t)t;
    REAL *vt = conv_align64(pl + g.part[1]);
    REAL *d = pl + g.part[1] + g.part[2];
    memset(pl, 0, sizeof(REAL) * conv_wino_thread(&g));
    const int wide = conv_wide_cpu();
    for (int64_t i = 0; i < s->n && b1 > b0; i++) {
      NNC_FN(wgrad_planes)(&g, x + i * s->c * s->h * s->w, pl, wpp, cp);
      for (int64_t ty0 = 0; ty0 < g.th; ty0 += g.rows) {
        const int64_t nr = g.th - ty0 < g.rows ? g.th - ty0 : g.rows;
        const int64_t n = nr * g.tw, ldd = n + 8;
        NNC_FN(wgrad_input)(&g, pl, wpp, cp, ty0, nr, vt, cq);
        NNC_FN(wino_dy)(&g, dy + i * s->o * s->oh * s->ow, ty0, nr, d, ldd);
        for (int64_t b = b0; b < b1; b++) {
          const int64_t xi = b / (nob * nwb), o0 = b / nwb % nob * cb, c0 = b % nwb * wd;
          const int64_t nc = s->o - o0 < cb ? s->o - o0 : cb;
          const REAL *dr[8];
          for (int64_t k = 0; k < 8; k++) /* rows past o read row o0 */
            dr[k] = d + (xi * s->o + o0 + (k < nc ? k : 0)) * ldd;
          const REAL *vb = vt + xi * n * cq + c0;
          REAL *yb = y + (xi * s->o + o0) * cq + c0;
          if (wide8) {
            TW(reg_tile8x2)(dr, 1, vb, cq, n, yb, cq, nc, 1);
            continue;
          }
          if (wide && b + 1 < b1 && b % nwb + 1 < nwb) /* two tiles in one */
            TW(reg_tiles)(dr, 1, vb, cq, n, yb, cq, nc, 1, cb), b++;
          else
            NNC_FN(reg_tiles)(dr, 1, vb, cq, n, yb, cq, nc, 1, cb);
        }
      }
    }
  });
  conv_gemm_restore(team, was);
  const REAL(*gm)[3] = NNC_FN(wino_g)(g.m);
  const int64_t a = g.m + 2;
  for (int64_t o = 0; o < s->o; o++)
    for (int64_t c = 0; c < s->c; c++) { /* dw[o, c] += Gᵀ Y G */
      REAL yg[6][3];
      for (int64_t i = 0; i < a; i++) /* Y G */
        for (int j = 0; j < 3; j++) {
          yg[i][j] = 0;
          for (int64_t l = 0; l < a; l++)
            yg[i][j] += y[((a * i + l) * s->o + o) * cq + c] * gm[l][j];
        }
      REAL *out = dw + (o * s->c + c) * 9;
      for (int i = 0; i < 3; i++) /* then Gᵀ (Y G) */
        for (int j = 0; j < 3; j++) {
          REAL v = 0;
          for (int64_t l = 0; l < a; l++)
            v += gm[l][i] * yg[l][j];
          out[3 * i + j] += v;
        }
    }
}

/* d[0, n) += c[0, n), whole vectors then one element at a time. */
static NNC_DIRECT_OPT void NNC_FN(add_vec)(REAL *d, const REAL *c, int64_t n) {
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    NNC_FN(vec) a, b;
    memcpy(&a, d + i, sizeof a);
    memcpy(&b, c + i, sizeof b);
    a += b;
    memcpy(d + i, &a, sizeof a);
  }
  for (; i < n; i++)
    d[i] += c[i];
}

/* The input gradient as a scatter (nnc_conv2d_scatter_input): per image,
 * T = Wᵀ dy (rows (c, ki, kj), the sum over o; reg_tile's register tiles
 * with o as the taps) on the padded width wp, each row added into padded
 * plane c at ki * wp + kj, then the planes cut to dx. */
static NNC_NO_LIBCALLS void NNC_FN(scatter_grad_input)(const nnc_conv_shape *s, const REAL *dy,
                                       const REAL *w, REAL *dx, REAL *ws, int add) {
  const int64_t R = s->c * s->kh * s->kw, op = R + 5, wp = s->ow + s->kw - 1;
  const int64_t n = s->oh * wp, ld = n + 32, hp = s->oh + s->kh - 1, plane = hp * wp;
  const int64_t hw = s->h * s->w, P = s->oh * s->ow;
  const int64_t per = s->o * ld + 32 + R * ld + 32 + s->c * plane;
  const int cb = NNC_FN(wino_block)(R, n);
  const int64_t run = n - (s->kw - 1); /* past it, zeros */
  for (int64_t o = 0; o < s->o; o++) {
    memcpy(ws + o * op, w + o * R, sizeof(REAL) * (size_t)R);
    memset(ws + o * op + R, 0, sizeof(REAL) * 5);
  }
  const REAL *wt = ws;
  const int team = conv_team(s->n), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    REAL *d = ws + s->o * op + per * (size_t)conv_thread(), *t = d + s->o * ld + 32;
    REAL *pad = t + R * ld + 32;
    memset(d, 0, sizeof(REAL) * (size_t)(s->o * ld + 32)); /* columns past ow */
    NNC_OMP_(for schedule(static))
    for (int64_t i = 0; i < s->n; i++) {
      for (int64_t o = 0; o < s->o; o++)
        for (int64_t oy = 0; oy < s->oh; oy++)
          NNC_FN(copy_run)(d + o * ld + oy * wp, dy + (i * s->o + o) * P + oy * s->ow,
                           s->ow);
      NNC_FN(tile_product)(d, ld, s->o, wt, op, R, t, ld, n, cb);
      memset(pad, 0, sizeof(REAL) * (size_t)(s->c * plane));
      for (int64_t r = 0; r < R; r++) {
        const int64_t c = r / (s->kh * s->kw), ki = r / s->kw % s->kh, kj = r % s->kw;
        NNC_FN(add_vec)(pad + c * plane + ki * wp + kj, t + r * ld, run);
      }
      REAL *dxi = dx + i * s->c * hw;
      for (int64_t c = 0; c < s->c; c++)
        for (int64_t iy = 0; iy < s->h; iy++) {
          REAL *restrict o = dxi + (c * s->h + iy) * s->w;
          const REAL *restrict q = pad + c * plane + (iy + s->ph) * wp + s->pw;
          if (add)
            NNC_FN(add_run)(o, q, s->w);
          else
            NNC_FN(copy_run)(o, q, s->w);
        }
    }
  });
  conv_gemm_restore(team, was);
}

/* MaxPool2d(2)'s rows on vectors (maxpool_2x2, maxpool_2x2_grad, where
 * the compiler has the shuffles): VL windows at a time, the last VL
 * ending at the row's end, over windows already done (their results are
 * the same); rows of VL windows or more. A row holding a NaN is left to
 * the exact rule: the functions return whether they read one. */
#ifdef NNC_UNZIP

/* The corners of windows ox .. ox + VL: top left, top right, bottom
 * left, bottom right; and whether any is a NaN, added to nan. */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(pool_corners)(const REAL *r0, const REAL *r1,
                                                           int64_t ox, NNC_FN(vec) q[4],
                                                           NNC_FN(mask) *nan) {
  NNC_FN(vec) l, h;
  memcpy(&l, r0 + 2 * ox, sizeof l);
  memcpy(&h, r0 + 2 * ox + VL, sizeof h);
  NNC_UNZIP(l, h, q[0], q[1]);
  memcpy(&l, r1 + 2 * ox, sizeof l);
  memcpy(&h, r1 + 2 * ox + VL, sizeof h);
  NNC_UNZIP(l, h, q[2], q[3]);
  *nan |= (q[0] != q[0]) | (q[1] != q[1]) | (q[2] != q[2]) | (q[3] != q[3]);
}

static NNC_INLINE NNC_DIRECT_OPT int NNC_FN(any)(NNC_FN(mask) m) {
  for (int64_t l = 0; l < VL; l++)
    if (m[l])
      return 1;
  return 0;
}

/* m's first n lanes (all of them for n >= VL): a shorter row's NaNs,
 * not the next rows'. */
static NNC_INLINE NNC_DIRECT_OPT NNC_FN(mask) NNC_FN(lanes)(NNC_FN(mask) m, int64_t n) {
  for (int64_t l = n; l < VL; l++)
    m[l] = 0;
  return m;
}

/* yr[0, ow) = the maxima of the windows over rows r0 and r1 (a shorter
 * row: yr[0, VL), the lanes past ow garbage, written over after); the
 * NaNs read marked in *nan (a shorter row's lanes past ow: the next
 * rows'). */
static NNC_INLINE NNC_DIRECT_OPT void NNC_FN(pool_row)(const REAL *r0, const REAL *r1,
                                                       REAL *yr, int64_t ow,
                                                       NNC_FN(mask) *nan) {
  for (int64_t ox = 0;; ox += VL) {
    ox = ox + VL > ow && ow >= VL ? ow - VL : ox; /* shorter rows: one vector */
    NNC_FN(vec) q[4];
    NNC_FN(pool_corners)(r0, r1, ox, q, nan);
    const NNC_FN(vec) ab = NNC_FN(vsel)(q[0] > q[1], q[0], q[1]),
                      cd = NNC_FN(vsel)(q[2] > q[3], q[2], q[3]);
    const NNC_FN(vec) m = NNC_FN(vsel)(ab > cd, ab, cd);
    memcpy(yr + ox, &m, sizeof m);
    if (ox + VL >= ow)
      return;
  }
}

/* pool_row, and whether the row held a NaN. */
static NNC_DIRECT_OPT int NNC_FN(maxpool_row)(const REAL *r0, const REAL *r1, REAL *yr,
                                              int64_t ow) {
  NNC_FN(mask) nan = {0};
  NNC_FN(pool_row)(r0, r1, yr, ow, &nan);
  return NNC_FN(any)(NNC_FN(lanes)(nan, ow));
}

/* Rows 0 .. rows of a plane (rows of w, w even or not) pooled into y
 * (rows of ow), pool_row row after row in one call, each row's NaNs kept
 * to its own windows' lanes and told once for all the rows (a call and a
 * test of the lanes for each row were most of LeNet's pooling at batch
 * 1). */
static NNC_DIRECT_OPT int NNC_FN(maxpool_rows)(const REAL *x, int64_t w, REAL *y, int64_t ow,
                                               int64_t rows) {
  NNC_FN(mask) nan = {0}, keep;
  for (int64_t l = 0; l < VL; l++)
    keep[l] = l < ow ? -1 : 0;
  for (int64_t oy = 0; oy < rows; oy++) {
    NNC_FN(mask) row = {0};
    NNC_FN(pool_row)(x + 2 * oy * w, x + (2 * oy + 1) * w, y + oy * ow, ow, &row);
    nan |= row & keep;
  }
  return NNC_FN(any)(nan);
}

/* Rows d0 and d1 of dx (the windows' columns) set from dy's row: each
 * window's gradient at its first maximum (pos: where that maximum is
 * above 0), zeros elsewhere (a shorter row: 2 VL elements of each, past
 * the row garbage, written over after). */
static NNC_DIRECT_OPT int NNC_FN(maxpool_grad_row)(const REAL *r0, const REAL *r1,
                                                   const REAL *dyr, REAL *d0, REAL *d1,
                                                   int64_t ow, int pos) {
  NNC_FN(mask) nan = {0};
  const NNC_FN(vec) zero = {0};
  for (int64_t ox = 0;; ox += VL) {
    ox = ox + VL > ow && ow >= VL ? ow - VL : ox; /* shorter rows: one vector */
    NNC_FN(vec) q[4], g, lo, hi;
    NNC_FN(pool_corners)(r0, r1, ox, q, &nan);
    memcpy(&g, dyr + ox, sizeof g);
    const NNC_FN(mask) mb = q[1] > q[0], md = q[3] > q[2];
    const NNC_FN(vec) top = NNC_FN(vsel)(mb, q[1], q[0]);
    const NNC_FN(vec) bot = NNC_FN(vsel)(md, q[3], q[2]);
    const NNC_FN(mask) down = bot > top;
    if (pos) /* a window's gradient only where its maximum is above 0 */
      g = NNC_FN(vsel)(NNC_FN(vsel)(down, bot, top) > zero, g, zero);
    const NNC_FN(vec) gt = NNC_FN(vsel)(down, zero, g), gb = NNC_FN(vsel)(down, g, zero);
    NNC_ZIP(NNC_FN(vsel)(mb, zero, gt), NNC_FN(vsel)(mb, gt, zero), lo, hi);
    memcpy(d0 + 2 * ox, &lo, sizeof lo);
    memcpy(d0 + 2 * ox + VL, &hi, sizeof hi);
    NNC_ZIP(NNC_FN(vsel)(md, zero, gb), NNC_FN(vsel)(md, gb, zero), lo, hi);
    memcpy(d1 + 2 * ox, &lo, sizeof lo);
    memcpy(d1 + 2 * ox + VL, &hi, sizeof hi);
    if (ox + VL >= ow)
      return NNC_FN(any)(NNC_FN(lanes)(nan, ow));
  }
}
#endif

#undef VL
#endif

/* With a workspace, images go through GEMM in chunks (nnc_conv2d_chunk): the
 * im2col matrices of a chunk side by side, one GEMM per chunk and group,
 * its result rows copied to their images (or written in place when the
 * chunk is one image); a 1x1 convolution reads x itself, an image at a
 * time. A chunk's work, for the forward pass and the input gradient: `in`
 * is x or dy, `out` y or dx; col and tmp are the thread's scratch. */
typedef void NNC_FN(chunk_fn)(const nnc_conv_shape *s, const REAL *in, const REAL *w,
                              REAL *out, int64_t n0, int64_t cnt, REAL *col, REAL *tmp);

static void NNC_FN(forward_chunk)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                                  REAL *y, int64_t n0, int64_t cnt, REAL *col, REAL *tmp) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, ld = cnt * ohw;
  for (int64_t g = 0; g < s->groups; g++) {
    const REAL *b = col;
    if (conv_pointwise(s))
      b = x + (n0 * s->c + g * cg) * s->h * s->w;
    else
      NNC_FN(im2col_chunk)(s, x, n0, cnt, g, col, 0, K);
    REAL *yg = y + (n0 * s->o + g * og) * ohw;
    GEMM(0, 0, og, ld, K, 1, w + g * og * K, K, b, ld, 0, cnt == 1 ? yg : tmp, ld);
    if (cnt > 1)
      NNC_FN(scatter_rows)(s, tmp, n0, cnt, g, y);
  }
}

static void NNC_FN(grad_input_chunk)(const nnc_conv_shape *s, const REAL *dy,
                                     const REAL *w, REAL *dx, int64_t n0, int64_t cnt,
                                     REAL *col, REAL *tmp) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
  const int64_t ld = cnt * ohw;
  for (int64_t g = 0; g < s->groups; g++) {
    const REAL *d = NNC_FN(dy_chunk)(s, dy, n0, cnt, g, tmp);
    REAL *dxg = dx + (n0 * s->c + g * cg) * hw;
    if (conv_pointwise(s)) { /* col is dx itself */
      GEMM(1, 0, K, ld, og, 1, w + g * og * K, K, d, ld, 1, dxg, ld);
      continue;
    }
    GEMM(1, 0, K, ld, og, 1, w + g * og * K, K, d, ld, 0, col, ld);
    for (int64_t j = 0; j < cnt; j++)
      NNC_FN(col2im)(s, cg, col + j * ohw, ld, dxg + j * s->c * hw);
  }
}

/* The chunks shared out over the runtime's threads, each thread with its
 * own scratch (nnc_conv2d_scratch elements) and its GEMMs on one thread. */
static void NNC_FN(each_chunk)(const nnc_conv_shape *s, NNC_FN(chunk_fn) *f,
                               const REAL *in, const REAL *w, REAL *out, REAL *ws) {
  const int64_t K = s->c / s->groups * s->kh * s->kw, ohw = s->oh * s->ow;
  const int64_t nb = conv_pointwise(s) ? 1 : nnc_conv2d_chunk(s),
                chunks = (s->n + nb - 1) / nb;
  const int team = conv_team(chunks), was = conv_gemm_single(team);
  NNC_PAR_TEAM_(team,
  {
    REAL *col = ws + nnc_conv2d_scratch(s) * (size_t)conv_thread(),
         *tmp = col + K * nb * ohw;
    NNC_OMP_(for schedule(static))
    for (int64_t ch = 0; ch < chunks; ch++) {
      const int64_t n0 = ch * nb;
      f(s, in, w, out, n0, s->n - n0 < nb ? s->n - n0 : nb, col, tmp);
    }
  });
  conv_gemm_restore(team, was);
}

void NNC_FN(nnc_conv2d)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                        REAL *y, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
#if NNC_CONV_DIRECT
  if (ws && nnc_conv2d_winograd(s, s->c, s->o) && conv_direct_cpu()) {
    NNC_FN(wino_forward)(s, x, NULL, NULL, w, y, ws);
    return;
  }
  if (ws && nnc_conv2d_direct(s, s->o) && conv_direct_cpu()) {
    NNC_FN(direct_forward)(s, x, w, NULL, 0, 0, y, ws);
    return;
  }
#endif
  if (ws) {
    NNC_FN(each_chunk)(s, NNC_FN(forward_chunk), x, w, y, ws);
    return;
  }
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      const REAL *xg = x + (ni * s->c + g * cg) * hw;
      const REAL *wg = w + g * og * K;
      REAL *yg = y + (ni * s->o + g * og) * ohw;
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

/* nnc_conv2d with its epilogue: the direct kernel adds the bias (and
 * applies ReLU) as it stores y; elsewhere one pass over y, after. */
void NNC_FN(nnc_conv2d_bias)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                             const REAL *bias, int relu, REAL *y, REAL *ws) {
#if NNC_CONV_DIRECT
  if (ws && !nnc_conv2d_winograd(s, s->c, s->o) && nnc_conv2d_direct(s, s->o) &&
      conv_direct_cpu()) {
    NNC_FN(direct_forward)(s, x, w, bias, relu, 0, y, ws);
    return;
  }
#endif
  NNC_FN(nnc_conv2d)(s, x, w, y, ws);
  const int64_t P = s->oh * s->ow;
  for (int64_t p = 0; p < s->n * s->o; p++) {
    REAL *yp = y + p * P;
    const REAL b = bias[p % s->o];
    for (int64_t i = 0; i < P; i++) {
      const REAL v = yp[i] + b;
      yp[i] = relu && !(v > 0) ? 0 : v;
    }
  }
}


/* nnc_conv2d_bias with ReLU, then MaxPool2d(2) (fuse rule 8): the direct
 * kernel's pooled tiles where they run (direct_pools), the convolution's
 * output never stored; else the convolution into the workspace past its
 * own scratch, then the pooling. The same values either way. */
void NNC_FN(nnc_conv2d_bias_pool)(const nnc_conv_shape *s, const REAL *x, const REAL *w,
                                  const REAL *bias, REAL *y, REAL *ws) {
  if (ws && NNC_FN(direct_pools)(s)) {
#if NNC_CONV_DIRECT
    NNC_FN(direct_forward)(s, x, w, bias, 1, 1, y, ws);
#endif
    return;
  }
  REAL *full = ws + nnc_conv2d_workspace(s);
  NNC_FN(nnc_conv2d_bias)(s, x, w, bias, 1, full, ws);
  const nnc_pool_shape p = {s->n, s->o, s->oh, s->ow, s->oh / 2, s->ow / 2, 2, 2, 2, 2, 0, 0};
  NNC_FN(nnc_maxpool2d)(&p, full, y);
}

/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: a matrix
 * stored transposed (generated code's permutes of a matrix's two axes:
 * attention's keys per head), VL by VL in registers where the direct
 * kernels run; element by element, the strided reads were 2% of a small
 * transformer's training step. */
void NNC_FN(nnc_transpose)(int64_t rows, int64_t cols, const REAL *src, int64_t lds,
                           REAL *dst, int64_t ldd) {
  int64_t rb = 0, cb = 0; /* the rows and columns of whole blocks */
#if NNC_CONV_DIRECT && defined(NNC_ZIP)
  if (conv_direct_cpu()) {
    const int64_t vl = (int64_t)(NNC_VEC_BYTES / sizeof(REAL));
    rb = rows / vl * vl, cb = cols / vl * vl;
    NNC_FN(transpose_blocks)(rb, cb, src, lds, dst, ldd);
  }
#endif
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = r < rb ? cb : 0; c < cols; c++)
      dst[c * ldd + r] = src[r * lds + c];
}

/* The im2col and plain paths of the input gradient, adding into dx. */
static void NNC_FN(grad_input_add)(const nnc_conv_shape *s, const REAL *dy, const REAL *w,
                                   REAL *dx, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
  if (ws) {
    NNC_FN(each_chunk)(s, NNC_FN(grad_input_chunk), dy, w, dx, ws);
    return;
  }
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      REAL *dxg = dx + (ni * s->c + g * cg) * hw;
      const REAL *wg = w + g * og * K;
      const REAL *dyg = dy + (ni * s->o + g * og) * ohw;
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

/* dx = (add: +=) the input gradient; the direct and Winograd kernels
 * write it, the other paths add into it, zeroed first unless add. */
static void NNC_FN(grad_input)(const nnc_conv_shape *s, const REAL *dy, const REAL *w,
                               REAL *dx, REAL *ws, int add) {
#if NNC_CONV_DIRECT
  if (ws && nnc_conv2d_winograd(s, s->o, s->c) && conv_direct_cpu()) {
    NNC_FN(wino_grad_input)(s, dy, w, dx, ws, add);
    return;
  }
  if (ws && nnc_conv2d_scatter_input(s) && conv_direct_cpu()) {
    NNC_FN(scatter_grad_input)(s, dy, w, dx, ws, add);
    return;
  }
  if (ws && nnc_conv2d_direct(s, s->c) && conv_direct_cpu()) {
    NNC_FN(direct_grad_input)(s, dy, w, dx, ws, add);
    return;
  }
#endif
  if (!add)
    memset(dx, 0, sizeof(REAL) * (size_t)(s->n * s->c * s->h * s->w));
  NNC_FN(grad_input_add)(s, dy, w, dx, ws);
}

void NNC_FN(nnc_conv2d_grad_input)(const nnc_conv_shape *s, const REAL *dy,
                                   const REAL *w, REAL *dx, REAL *ws) {
  NNC_FN(grad_input)(s, dy, w, dx, ws, 1);
}

void NNC_FN(nnc_conv2d_grad_input_set)(const nnc_conv_shape *s, const REAL *dy,
                                       const REAL *w, REAL *dx, REAL *ws) {
  NNC_FN(grad_input)(s, dy, w, dx, ws, 0);
}

/* The weight gradient sums over images: each thread takes a share of its
 * columns (rows of the im2col matrix) over all chunks in order, so every
 * element is summed by one thread in the same order. */
void NNC_FN(nnc_conv2d_grad_weight)(const nnc_conv_shape *s, const REAL *x,
                                    const REAL *dy, REAL *dw, REAL *ws) {
  const int64_t cg = s->c / s->groups, og = s->o / s->groups;
  const int64_t K = cg * s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
#if NNC_CONV_DIRECT
  if (ws && nnc_conv2d_winograd_weight(s) && conv_direct_cpu()) {
    NNC_FN(wino_grad_weight)(s, x, NULL, NULL, dy, dw, ws);
    return;
  }
  if (ws && nnc_conv2d_direct_weight(s) && conv_direct_cpu()) {
    NNC_FN(direct_grad_weight)(s, x, dy, dw, ws);
    return;
  }
#endif
  if (ws) {
    const int pw = conv_pointwise(s);
    const int64_t nb = pw ? 1 : nnc_conv2d_chunk(s);
    const int team = conv_team(K / 8 > 1 ? K / 8 : 1), was = conv_gemm_single(team);
    NNC_PAR_TEAM_(team,
    {
      const int64_t t = conv_thread(), nt = conv_threads_now();
      const int64_t k0 = K * t / nt, k1 = K * (t + 1) / nt;
      REAL *col = ws + nnc_conv2d_scratch(s) * (size_t)t, *tmp = col + K * nb * ohw;
      for (int64_t n0 = 0; n0 < s->n && k1 > k0; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb, ld = cnt * ohw;
        for (int64_t g = 0; g < s->groups; g++) {
          const REAL *d = NNC_FN(dy_chunk)(s, dy, n0, cnt, g, tmp), *b = col;
          if (pw)
            b = x + (n0 * s->c + g * cg + k0) * hw;
          else
            NNC_FN(im2col_chunk)(s, x, n0, cnt, g, col, k0, k1);
          GEMM(0, 1, og, k1 - k0, ld, 1, d, ld, b, ld, 1, dw + g * og * K + k0, K);
        }
      }
    });
    conv_gemm_restore(team, was);
    return;
  }
  for (int64_t ni = 0; ni < s->n; ni++)
    for (int64_t g = 0; g < s->groups; g++) {
      const REAL *xg = x + (ni * s->c + g * cg) * hw;
      const REAL *dyg = dy + (ni * s->o + g * og) * ohw;
      REAL *dwg = dw + g * og * K;
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

/* The fallback of the input transform: each image transformed into the
 * workspace past the convolution's own (nnc_conv2d_in_workspace) and
 * convolved alone (weight: its weight gradient, with dy, added into out). */
static void NNC_FN(in_images)(const nnc_conv_shape *s, const REAL *x, const REAL *scale,
                              const REAL *shift, const REAL *wdy, REAL *out, REAL *ws,
                              int weight) {
  nnc_conv_shape one = *s;
  one.n = 1;
  REAL *xt = ws + nnc_conv2d_workspace(s);
  for (int64_t i = 0; i < s->n; i++) {
    NNC_FN(in_planes)(s->c, s->h * s->w, x + i * s->c * s->h * s->w, scale, shift, xt);
    if (weight)
      NNC_FN(nnc_conv2d_grad_weight)(&one, xt, wdy + i * s->o * s->oh * s->ow, out, ws);
    else
      NNC_FN(nnc_conv2d)(&one, xt, wdy, out + i * s->o * s->oh * s->ow, ws);
  }
}

/* The convolution of max(x scale[c] + shift[c], 0), x read once: in
 * Winograd's planes where it runs, else in_images. */
void NNC_FN(nnc_conv2d_in)(const nnc_conv_shape *s, const REAL *x, const REAL *scale,
                           const REAL *shift, const REAL *w, REAL *y, REAL *ws) {
#if NNC_CONV_DIRECT
  if (nnc_conv2d_winograd(s, s->c, s->o) && conv_direct_cpu()) {
    NNC_FN(wino_forward)(s, x, scale, shift, w, y, ws);
    return;
  }
#endif
  NNC_FN(in_images)(s, x, scale, shift, w, y, ws, 0);
}

/* As nnc_conv2d_grad_weight, of the transformed input (nnc_conv2d_in). */
void NNC_FN(nnc_conv2d_grad_weight_in)(const nnc_conv_shape *s, const REAL *x,
                                       const REAL *scale, const REAL *shift,
                                       const REAL *dy, REAL *dw, REAL *ws) {
#if NNC_CONV_DIRECT
  if (nnc_conv2d_winograd_weight(s) && conv_direct_cpu()) {
    NNC_FN(wino_grad_weight)(s, x, scale, shift, dy, dw, ws);
    return;
  }
#endif
  NNC_FN(in_images)(s, x, scale, shift, dy, dw, ws, 1);
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

/* Without padding every window lies inside the plane: the window's
 * maximum is found by the same rule without bounds checks; 2x2 windows
 * (the common MaxPool2d(2)) are unrolled. Returns the flat index. */
static int64_t NNC_FN(pool_argmax_inside)(const nnc_pool_shape *s,
                                          const REAL *xw, int64_t at) {
  if (s->kh == 2 && s->kw == 2) { /* selects rather than branches */
    const REAL a = xw[0], b = xw[1], c = xw[s->w], d = xw[s->w + 1];
    REAL m = a;
    int64_t best = at;
    int tb = b > m || isnan(b);
    m = tb ? b : m, best = tb ? at + 1 : best;
    int tc = c > m || isnan(c);
    m = tc ? c : m, best = tc ? at + s->w : best;
    int td = d > m || isnan(d);
    return td ? at + s->w + 1 : best;
  }
  int64_t best = at;
  REAL m = -INFINITY;
  for (int64_t ki = 0; ki < s->kh; ki++)
    for (int64_t kj = 0; kj < s->kw; kj++) {
      REAL v = xw[ki * s->w + kj];
      if (v > m || isnan(v))
        m = v, best = at + ki * s->w + kj;
    }
  return best;
}

static int NNC_FN(pool_inside)(const nnc_pool_shape *s) {
  return s->ph == 0 && s->pw == 0 && (s->oh - 1) * s->sh + s->kh <= s->h &&
         (s->ow - 1) * s->sw + s->kw <= s->w;
}

/* How many of a plane's first rows of MaxPool2d(2) go through the vector
 * rows (maxpool_row), on a processor with AVX2 and a compiler with the
 * shuffles: all, with rows of a vector's windows or more; with shorter
 * rows, each twice its windows (no column left over), those whose vector
 * stays in the plane: it reads the next rows and writes past the row's
 * end into rows written after it (LeNet's second pooling, 5 windows a
 * row: the first 4 of 5). */
static int64_t NNC_FN(pool_vector_rows)(const nnc_pool_shape *s) {
#if NNC_CONV_DIRECT && defined(NNC_UNZIP)
  const int64_t vl = (int64_t)(NNC_VEC_BYTES / sizeof(REAL));
  if (!conv_direct_cpu())
    return 0;
  if (s->ow >= vl)
    return s->oh;
  const int64_t k = (vl + s->ow - 1) / s->ow; /* output rows a vector spans */
  return s->w == 2 * s->ow && s->oh >= k ? s->oh - k + 1 : 0;
#else
  (void)s;
  return 0;
#endif
}

/* The two rows of dx under a row of MaxPool2d(2) windows, set by the
 * exact rule (a row holding a NaN): zeros, then each window's gradient at
 * its first maximum (pos: where that maximum is above 0, as a ReLU before
 * the pooling masks it; a NaN is not). */
static void NNC_FN(maxpool_grad_row_exact)(const nnc_pool_shape *s, const REAL *r0,
                                           const REAL *dyr, REAL *d0, REAL *d1, int pos) {
  for (int64_t i = 0; i < 2 * s->ow; i++)
    d0[i] = d1[i] = 0;
  for (int64_t ox = 0; ox < s->ow; ox++) {
    const int64_t k = NNC_FN(pool_argmax_inside)(s, r0 + 2 * ox, 2 * ox);
    d0[k] += pos && !(r0[k] > 0) ? 0 : dyr[ox];
  }
}

/* A row of MaxPool2d(2) on the vector rows, by the exact rule where it
 * held a NaN; 0 where the vector rows are not built. */
static int NNC_FN(maxpool_row_fast)(const nnc_pool_shape *s, const REAL *r0,
                                    const REAL *r1, REAL *yr) {
#if NNC_CONV_DIRECT && defined(NNC_UNZIP)
  if (NNC_FN(maxpool_row)(r0, r1, yr, s->ow))
    for (int64_t ox = 0; ox < s->ow; ox++)
      yr[ox] = r0[NNC_FN(pool_argmax_inside)(s, r0 + 2 * ox, 2 * ox)];
  return 1;
#else
  (void)s, (void)r0, (void)r1, (void)yr;
  return 0;
#endif
}

/* A plane's first rows of MaxPool2d(2) on the vector rows (maxpool_rows),
 * by the exact rule where they held a NaN; how many rows: vec_rows, or 0
 * where the vector rows are not built. */
static int64_t NNC_FN(maxpool_plane)(const nnc_pool_shape *s, const REAL *x, REAL *y,
                                     int64_t vec_rows) {
#if NNC_CONV_DIRECT && defined(NNC_UNZIP)
  if (vec_rows > 0 && NNC_FN(maxpool_rows)(x, s->w, y, s->ow, vec_rows))
    for (int64_t oy = 0; oy < vec_rows; oy++) {
      const REAL *r0 = x + 2 * oy * s->w;
      for (int64_t ox = 0; ox < s->ow; ox++)
        y[oy * s->ow + ox] = r0[NNC_FN(pool_argmax_inside)(s, r0 + 2 * ox, 2 * ox)];
    }
  return vec_rows;
#else
  (void)s, (void)x, (void)y, (void)vec_rows;
  return 0;
#endif
}

/* Its backward (set: the two rows of dx written whole), as maxpool_2x2_grad. */
static int NNC_FN(maxpool_grad_row_fast)(const nnc_pool_shape *s, const REAL *r0,
                                         const REAL *r1, const REAL *dyr, REAL *d0,
                                         REAL *d1, int pos) {
#if NNC_CONV_DIRECT && defined(NNC_UNZIP)
  if (s->w % 2) /* the column no window covers */
    d0[s->w - 1] = d1[s->w - 1] = 0;
  if (NNC_FN(maxpool_grad_row)(r0, r1, dyr, d0, d1, s->ow, pos))
    NNC_FN(maxpool_grad_row_exact)(s, r0, dyr, d0, d1, pos);
  return 1;
#else
  (void)s, (void)r0, (void)r1, (void)dyr, (void)d0, (void)d1, (void)pos;
  return 0;
#endif
}

/* MaxPool2d(2): 2x2 windows, stride 2, no padding, inside the plane. */
static int NNC_FN(pool_2x2)(const nnc_pool_shape *s) {
  return s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 &&
         NNC_FN(pool_inside)(s);
}

/* The 2x2 maximum of each output row from its two input rows, branch-free
 * (random data makes branches mispredict); a row holding a NaN is redone
 * by the exact rule of pool_argmax_inside. */
/* A window row pair through the input transform (nnc_maxpool2d_in): rows
 * r0 and r0 + w into buf (two rows of w, then zeros the vector rows may
 * read past them). */
#define NNC_POOL_IN_ROW 1024
static NNC_VECTORISE const REAL *NNC_FN(in_rows)(const nnc_pool_shape *s, const REAL *r0,
                                                 REAL sa, REAL sb, REAL *buf) {
  for (int64_t i = 0; i < 2 * s->w; i++)
    buf[i] = NNC_FN(in_relu)(r0[i], sa, sb);
  for (int64_t i = 2 * s->w; i < 2 * s->w + 64; i++)
    buf[i] = 0;
  return buf;
}

static NNC_VECTORISE void NNC_FN(maxpool_2x2)(const nnc_pool_shape *s, const REAL *x,
                                              const REAL *sc, const REAL *sh, REAL *y) {
  const int64_t vec_rows = NNC_FN(pool_vector_rows)(s);
  NNC_PAR_FOR_(pool_parallel(s),
  for (int64_t p = 0; p < s->n * s->c; p++)
    for (int64_t oy = sc ? 0 : NNC_FN(maxpool_plane)(s, x + p * s->h * s->w,
                                                       y + p * s->oh * s->ow, vec_rows);
         oy < s->oh; oy++) {
      const int64_t at = 2 * oy * s->w;
      REAL buf[2 * NNC_POOL_IN_ROW + 64];
      const REAL *restrict r0 = sc ? NNC_FN(in_rows)(s, x + p * s->h * s->w + at,
                                                     sc[p % s->c], sh[p % s->c], buf)
                                   : x + p * s->h * s->w + at;
      const REAL *restrict r1 = r0 + s->w;
      REAL *restrict yr = y + (p * s->oh + oy) * s->ow;
      int nan = 0;
      if (oy < vec_rows && NNC_FN(maxpool_row_fast)(s, r0, r1, yr))
        continue;
      for (int64_t ox = 0; ox < s->ow; ox++) {
        const REAL a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox],
                   d = r1[2 * ox + 1];
        const REAL ab = a > b ? a : b, cd = c > d ? c : d;
        yr[ox] = ab > cd ? ab : cd;
        nan |= (a != a) | (b != b) | (c != c) | (d != d);
      }
      for (int64_t ox = 0; nan && ox < s->ow; ox++)
        yr[ox] = r0[NNC_FN(pool_argmax_inside)(s, r0 + 2 * ox, 2 * ox)];
    });
}

/* Its backward: each window's gradient goes to the element the forward
 * chose (the first maximum; windows do not overlap), found with selects
 * and written (set: dx is written whole, the columns and row no window
 * covers zeroed) or added to all four elements, zero to the three others.
 * A row pair holding a NaN takes the exact rule instead. */
static NNC_VECTORISE void NNC_FN(maxpool_2x2_grad)(const nnc_pool_shape *s, const REAL *x,
                                                   const REAL *sc, const REAL *sh,
                                                   const REAL *dy, REAL *dx, int set,
                                                   int pos) {
  const int64_t vec_rows = NNC_FN(pool_vector_rows)(s);
  NNC_PAR_FOR_(pool_parallel(s),
  for (int64_t p = 0; p < s->n * s->c; p++) {
    if (set && s->h % 2) /* the row no window covers */
      memset(dx + (p * s->h + s->h - 1) * s->w, 0, sizeof(REAL) * (size_t)s->w);
    for (int64_t oy = 0; oy < s->oh; oy++) {
      const int64_t at = 2 * oy * s->w, ow = s->ow;
      REAL buf[2 * NNC_POOL_IN_ROW + 64];
      const REAL *restrict r0 = sc ? NNC_FN(in_rows)(s, x + p * s->h * s->w + at,
                                                     sc[p % s->c], sh[p % s->c], buf)
                                   : x + p * s->h * s->w + at;
      const REAL *restrict r1 = r0 + s->w;
      REAL *restrict d0 = dx + p * s->h * s->w + at, *restrict d1 = d0 + s->w;
      const REAL *restrict dyr = dy + (p * s->oh + oy) * ow;
      int nan = 0;
      if (set && oy < vec_rows &&
          NNC_FN(maxpool_grad_row_fast)(s, r0, r1, dyr, d0, d1, pos))
        continue;
      for (int64_t i = 0; i < 2 * ow; i++)
        nan |= (r0[i] != r0[i]) | (r1[i] != r1[i]);
      if (set && s->w % 2) /* the column no window covers */
        d0[s->w - 1] = d1[s->w - 1] = 0;
      if (nan && set) {
        NNC_FN(maxpool_grad_row_exact)(s, r0, dyr, d0, d1, pos);
      } else if (nan) {
        for (int64_t ox = 0; ox < ow; ox++)
          d0[NNC_FN(pool_argmax_inside)(s, r0 + 2 * ox, 2 * ox)] += dyr[ox];
      } else if (set) {
        for (int64_t ox = 0; ox < ow; ox++) {
          const REAL a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox],
                     d = r1[2 * ox + 1];
          const REAL top = b > a ? b : a, bot = d > c ? d : c; /* selects on */
          const REAL g = pos && !((bot > top ? bot : top) > 0) ? 0 : dyr[ox];
          const REAL gt = bot > top ? 0 : g, gb = bot > top ? g : 0; /* REAL only */
          d0[2 * ox] = b > a ? 0 : gt;
          d0[2 * ox + 1] = b > a ? gt : 0;
          d1[2 * ox] = d > c ? 0 : gb;
          d1[2 * ox + 1] = d > c ? gb : 0;
        }
      } else {
        for (int64_t ox = 0; ox < ow; ox++) {
          const REAL a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox],
                     d = r1[2 * ox + 1], g = dyr[ox];
          const REAL top = b > a ? b : a, bot = d > c ? d : c; /* selects on */
          const REAL gt = bot > top ? 0 : g, gb = bot > top ? g : 0; /* REAL only */
          const REAL e0 = b > a ? 0 : gt, e1 = b > a ? gt : 0;
          const REAL e2 = d > c ? 0 : gb, e3 = d > c ? gb : 0;
          d0[2 * ox] += e0, d0[2 * ox + 1] += e1;
          d1[2 * ox] += e2, d1[2 * ox + 1] += e3;
        }
      }
    }
  });
}

void NNC_FN(nnc_maxpool2d)(const nnc_pool_shape *s, const REAL *x, REAL *y) {
  if (NNC_FN(pool_2x2)(s)) {
    NNC_FN(maxpool_2x2)(s, x, NULL, NULL, y);
    return;
  }
  const int inside = NNC_FN(pool_inside)(s);
  NNC_PAR_FOR_(pool_parallel(s),
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *xp = x + p * s->h * s->w;
    REAL *yp = y + p * s->oh * s->ow;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++) {
        int64_t at = oy * s->sh * s->w + ox * s->sw;
        yp[oy * s->ow + ox] =
            xp[inside ? NNC_FN(pool_argmax_inside)(s, xp + at, at)
                      : NNC_FN(pool_argmax)(s, xp, oy, ox)];
      }
  });
}

/* dx += each window's gradient at its first maximum (pos: where that
 * maximum is above 0), any shape. */
static void NNC_FN(maxpool_grad_any)(const nnc_pool_shape *s, const REAL *x,
                                     const REAL *dy, REAL *dx, int pos) {
  const int inside = NNC_FN(pool_inside)(s);
  NNC_PAR_FOR_(pool_parallel(s),
  for (int64_t p = 0; p < s->n * s->c; p++) {
    const REAL *xp = x + p * s->h * s->w;
    const REAL *dyp = dy + p * s->oh * s->ow;
    REAL *dxp = dx + p * s->h * s->w;
    for (int64_t oy = 0; oy < s->oh; oy++)
      for (int64_t ox = 0; ox < s->ow; ox++) {
        int64_t at = oy * s->sh * s->w + ox * s->sw;
        const int64_t k = inside ? NNC_FN(pool_argmax_inside)(s, xp + at, at)
                                 : NNC_FN(pool_argmax)(s, xp, oy, ox);
        dxp[k] += pos && !(xp[k] > 0) ? 0 : dyp[oy * s->ow + ox];
      }
  });
}

void NNC_FN(nnc_maxpool2d_grad)(const nnc_pool_shape *s, const REAL *x,
                                const REAL *dy, REAL *dx) {
  if (NNC_FN(pool_2x2)(s))
    NNC_FN(maxpool_2x2_grad)(s, x, NULL, NULL, dy, dx, 0, 0);
  else
    NNC_FN(maxpool_grad_any)(s, x, dy, dx, 0);
}

/* Writes dx whole: for MaxPool2d(2) each pair of input rows is zeroed
 * just before its windows' gradients go in (one pass over dx in memory
 * instead of a zeroing pass and then another); any other shape zeroes dx
 * and adds. */
static void NNC_FN(maxpool_grad_set)(const nnc_pool_shape *s, const REAL *x,
                                     const REAL *dy, REAL *dx, int pos) {
  if (!NNC_FN(pool_2x2)(s)) {
    memset(dx, 0, sizeof(REAL) * (size_t)(s->n * s->c * s->h * s->w));
    NNC_FN(maxpool_grad_any)(s, x, dy, dx, pos);
    return;
  }
  NNC_FN(maxpool_2x2_grad)(s, x, NULL, NULL, dy, dx, 1, pos);
}

void NNC_FN(nnc_maxpool2d_grad_set)(const nnc_pool_shape *s, const REAL *x,
                                    const REAL *dy, REAL *dx) {
  NNC_FN(maxpool_grad_set)(s, x, dy, dx, 0);
}

/* As nnc_maxpool2d_grad_set, each window's gradient only where its
 * maximum is above 0: the gradient through a ReLU and then the pooling,
 * the ReLU's mask applied as the gradients are routed. */
void NNC_FN(nnc_maxpool2d_grad_relu)(const nnc_pool_shape *s, const REAL *x,
                                     const REAL *dy, REAL *dx) {
  NNC_FN(maxpool_grad_set)(s, x, dy, dx, 1);
}

/* Max pooling of max(x scale[c] + shift[c], 0), x read once: MaxPool2d(2)
 * transforms each pair of rows it reads into a buffer on the stack (rows
 * of at most NNC_POOL_IN_ROW); any other shape, each image's input into
 * the workspace (nnc_pool2d_in_workspace). */
void NNC_FN(nnc_maxpool2d_in)(const nnc_pool_shape *s, const REAL *x, const REAL *scale,
                              const REAL *shift, REAL *y, REAL *ws) {
  if (NNC_FN(pool_2x2)(s) && s->w <= NNC_POOL_IN_ROW) {
    NNC_FN(maxpool_2x2)(s, x, scale, shift, y);
    return;
  }
  nnc_pool_shape one = *s;
  one.n = 1;
  for (int64_t i = 0; i < s->n; i++) {
    NNC_FN(in_planes)(s->c, s->h * s->w, x + i * s->c * s->h * s->w, scale, shift, ws);
    NNC_FN(nnc_maxpool2d)(&one, ws, y + i * s->c * s->oh * s->ow);
  }
}

/* Its gradient, written whole (nnc_maxpool2d_grad_set; relu: as
 * nnc_maxpool2d_grad_relu). */
void NNC_FN(nnc_maxpool2d_grad_in)(const nnc_pool_shape *s, const REAL *x,
                                   const REAL *scale, const REAL *shift, const REAL *dy,
                                   REAL *dx, int relu, REAL *ws) {
  if (NNC_FN(pool_2x2)(s) && s->w <= NNC_POOL_IN_ROW) {
    NNC_FN(maxpool_2x2_grad)(s, x, scale, shift, dy, dx, 1, relu);
    return;
  }
  nnc_pool_shape one = *s;
  one.n = 1;
  for (int64_t i = 0; i < s->n; i++) {
    NNC_FN(in_planes)(s->c, s->h * s->w, x + i * s->c * s->h * s->w, scale, shift, ws);
    NNC_FN(maxpool_grad_set)(&one, ws, dy + i * s->c * s->oh * s->ow,
                             dx + i * s->c * s->h * s->w, relu);
  }
}

void NNC_FN(nnc_avgpool2d)(const nnc_pool_shape *s, const REAL *x, REAL *y) {
  const REAL inv = (REAL)1 / (REAL)(s->kh * s->kw);
  NNC_PAR_FOR_(pool_parallel(s),
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
  });
}

void NNC_FN(nnc_avgpool2d_grad)(const nnc_pool_shape *s, const REAL *dy,
                                REAL *dx) {
  const REAL inv = (REAL)1 / (REAL)(s->kh * s->kw);
  NNC_PAR_FOR_(pool_parallel(s),
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
  });
}
