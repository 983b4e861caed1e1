/* conv_tiles.h — the register tiles of conv_kernel.h: the direct
 * kernel's, its weight gradient's, and the products of Winograd, the
 * scatter and nnc_gemm_tiles. Included by conv_kernel.h once with vectors
 * of VL lanes (32 bytes: AVX2), and once more with vectors of 2 VL lanes
 * (64 bytes: AVX-512) where the compiler can build them. A wide tile
 * covers the columns of two narrow tiles of the same shape side by side:
 * it reads and writes what the two would, so that the layouts and the
 * scratch are the same either way; its stores go out VL lanes at a time,
 * as the narrow tile's. Defined by the includer: TV (the vector type), TL
 * (its lanes), TOPT (the target attributes) and TN(name), the name of a
 * variant. */

/* The line at p + ahead elements fetched into level 2; the address is
 * worked out on integers, since it may lie past the operand's end (a
 * fetch there reads nothing). */
static NNC_INLINE void TN(fetch)(const REAL *p, int64_t ahead) {
  __builtin_prefetch((const void *)((uintptr_t)p + (uintptr_t)ahead * sizeof(REAL)), 0, 2);
}

/* acc[0, n) = 0: a tile's accumulators cleared (n a constant in each
 * caller, so that they stay in registers). */
static NNC_INLINE TOPT void TN(zeros)(TV *acc, const int n) {
  const TV zero = {0};
  NNC_UNROLL
  for (int a = 0; a < n; a++)
    acc[a] = zero;
}

/* *at = r, or += with add: a tile's accumulator stored. */
static NNC_INLINE TOPT void TN(put)(REAL *at, TV r, int add) {
  if (add) {
    TV was;
    memcpy(&was, at, sizeof was);
    r += was;
  }
  memcpy(at, &r, sizeof r);
}

/* One step of a tile: acc[i * nv + v] += w[i][at] times the v-th of the
 * nv vectors at b, vs apart (TL: one run), for i < cb. */
static NNC_INLINE TOPT void TN(tile_step)(TV *acc, const REAL *b, int64_t vs,
                                          const REAL *const *w, int64_t at, const int cb,
                                          const int nv) {
  TV xv[4];
  NNC_UNROLL
  for (int v = 0; v < nv; v++)
    memcpy(&xv[v], b + v * vs, sizeof xv[v]);
  NNC_UNROLL
  for (int i = 0; i < cb; i++)
    NNC_UNROLL
    for (int v = 0; v < nv; v++)
      acc[i * nv + v] += w[i][at] * xv[v];
}

/* The direct kernel's tap loop: acc[i * nv + v] = the sum over the taps
 * of channel i's weight (wt[t * tstep + i * cstep]; past nc, channel nc -
 * 1's) times the vector at in + f + v vs moved by the tap (vs: TL, a run
 * of pixels; or the row length, rows of a pooled tile). */
static NNC_INLINE TOPT void TN(direct_taps)(const conv_direct *d, const REAL *in, int64_t f,
                                            const REAL *wt, int64_t nc, TV *acc,
                                            const int cb, const int nv, int64_t vs) {
  TN(zeros)(acc, cb * nv);
  const REAL *w[8];
  NNC_UNROLL
  for (int i = 0; i < cb; i++)
    w[i] = wt + (i < nc ? i : nc - 1) * d->cstep;
  for (int64_t c = 0; c < d->ci; c++)
    for (int64_t ki = 0; ki < d->kh; ki++) {
      const REAL *q = in + c * d->sc + ki * d->sk + f;
      for (int64_t kj = 0; kj < d->kw; kj++, q += d->sj) {
        TN(tile_step)(acc, q, vs, w, 0, cb, nv);
        NNC_UNROLL
        for (int i = 0; i < cb; i++)
          w[i] += d->tstep;
      }
    }
}

/* One tile of the direct kernel: cb output channels (nc of them stored,
 * into out, channel i at out[i * P]) by nv vectors of consecutive output
 * positions f (rows of wf: on the padded planes, positions past ow are
 * computed and dropped; compact, every position is a pixel). cb * nv = 12
 * accumulators in vector registers; per tap, nv vectors of input times
 * each channel's weight (wt[t * tstep + i * cstep]: in place in the
 * forward pass, a copy in the input gradient's): 8 loads for 12 products
 * when cb is 6. Channels past nc repeat channel nc - 1 (computed and
 * dropped). With d->epi, bias[i] is channel i's bias. cb and nv are
 * constants in each caller. */
static NNC_INLINE TOPT void TN(direct_tile)(const conv_direct *d, const REAL *in,
                                            int64_t f, const REAL *wt, const REAL *bias,
                                            REAL *out, int64_t nc, int add, const int cb,
                                            const int nv) {
  TV acc[24], zero = {0};
  TN(direct_taps)(d, in, f, wt, nc, acc, cb, nv, TL);
  const int64_t P = d->oh * d->ow;
  if (d->epi) /* the bias (then ReLU with epi 2) */
    NNC_UNROLL
    for (int i = 0; i < cb; i++) {
      const TV b = zero + bias[i < nc ? i : nc - 1];
      NNC_UNROLL
      for (int v = 0; v < nv; v++) {
        acc[i * nv + v] += b;
        if (d->epi == 2) /* the bits where above 0 (NaN: 0, as the generated ReLU) */
          acc[i * nv + v] = (TV)((__typeof__(zero > zero))acc[i * nv + v] &
                                 (acc[i * nv + v] > zero));
      }
    }
  for (int64_t u = 0; u < nv * TL / VL; u++) { /* runs of VL positions */
    const int64_t at = f + u * VL;
    /* compact, position at is pixel at: no division (a 64-bit division
     * per run was a third of LeNet's first layer's tile) */
    int64_t oy = d->compact ? 0 : at / d->wf, ox = d->compact ? at : at % d->wf;
    /* a run of the output: of one row, or any, compact */
    if (d->compact ? at + VL <= P : ox + VL <= d->ow && oy < d->oh) {
      for (int64_t i = 0; i < nc; i++) {
        REAL *o = out + i * P + oy * d->ow + ox;
        NNC_FN(vec) r;
        memcpy(&r, (const REAL *)&acc[i * nv + u * VL / TL] + u * VL % TL, sizeof r);
        if (add) {
          NNC_FN(vec) was;
          memcpy(&was, o, sizeof was);
          r += was;
        }
        memcpy(o, &r, sizeof r);
      }
      continue;
    }
    for (int64_t l = 0; l < VL; l++) {
      if (d->compact ? ox < P : ox < d->ow && oy < d->oh) {
        REAL *o = out + oy * d->ow + ox;
        for (int64_t i = 0; i < nc; i++) {
          const REAL r = acc[i * nv + u * VL / TL][u * VL % TL + l];
          o[i * P] = add ? o[i * P] + r : r;
        }
      }
      if (++ox == d->wf && !d->compact)
        ox = 0, oy++;
    }
  }
}

#define NNC_DIRECT_TILE(NAME, CB, NV)                                                  \
  static TOPT void TN(NAME)(const conv_direct *d, const REAL *pad, int64_t f,           \
                            const REAL *wt, const REAL *bias, REAL *out, int64_t nc,    \
                            int add) {                                                  \
    TN(direct_tile)(d, pad, f, wt, bias, out, nc, add, CB, NV);                         \
  }
#ifdef TWIDE /* 8 channels by 2 wide vectors: 16 accumulators (AVX-512) */
NNC_DIRECT_TILE(direct_tile8, 8, 2)
NNC_DIRECT_TILE(direct_tile8x1, 8, 1) /* and by one: a plane's last 16 pixels or fewer */
NNC_DIRECT_TILE(direct_tile8x3, 8, 3) /* and by three: its last 33 to 48 */
#endif
#if defined(TWIDE) && defined(NNC_WUNZIP)
/* A pooled tile (conv_direct's pool): cb output channels by output rows
 * oy and oy + 1 at columns ox .. ox + TL - 1 (f = oy wf + ox, on the
 * padded planes: a row's taps are runs of them, no shifted copies), two
 * wide vectors per channel; then the bias and ReLU, as direct_tile's
 * epilogue, and MaxPool2d(2): each channel's two rows' maximum, then its
 * neighbouring columns' (the even and the odd lanes), TL / 2 pooled
 * values at out[i * PP], np of them stored. Their ReLU leaves no NaN, so
 * that the maxima are plain: the values are those of the convolution's
 * output pooled. */
static NNC_INLINE TOPT void TN(direct_pool_tile)(const conv_direct *d, const REAL *in,
                                                 int64_t f, const REAL *wt, const REAL *bias,
                                                 REAL *out, int64_t nc, int64_t np,
                                                 int64_t PP, const int cb) {
  TV acc[16], zero = {0};
  TN(direct_taps)(d, in, f, wt, nc, acc, cb, 2, d->wf);
  typedef __typeof__(zero > zero) TM;
  NNC_UNROLL
  for (int i = 0; i < cb; i++) {
    if (i >= nc)
      break;
    const TV b = zero + bias[i];
    TV a0 = acc[2 * i] + b, a1 = acc[2 * i + 1] + b;
    a0 = (TV)((TM)a0 & (a0 > zero)), a1 = (TV)((TM)a1 & (a1 > zero));
    const TM up = a0 > a1;
    const TV m = (TV)(((TM)a0 & up) | ((TM)a1 & ~up));
    NNC_FN(vec) ev, od;
    NNC_WUNZIP(m, ev, od);
    const NNC_FN(mask) left = ev > od;
    const NNC_FN(vec) p = (NNC_FN(vec))((left & (NNC_FN(mask))ev) | (~left & (NNC_FN(mask))od));
    if (np == VL) {
      memcpy(out + i * PP, &p, sizeof p);
      continue;
    }
    /* np < VL lanes: copies of 4, 2 and 1 (a loop of np became a call to
     * memmove) */
    REAL lanes[VL], *o = out + i * PP;
    memcpy(lanes, &p, sizeof p);
    int64_t l = 0;
    if (np & 4)
      memcpy(o, lanes, 4 * sizeof(REAL)), l = 4;
    if (np & 2)
      memcpy(o + l, lanes + l, 2 * sizeof(REAL)), l += 2;
    if (np & 1)
      o[l] = lanes[l];
  }
}

static TOPT void TN(direct_pool_tile8)(const conv_direct *d, const REAL *in, int64_t f,
                                       const REAL *wt, const REAL *bias, REAL *out,
                                       int64_t nc, int64_t np, int64_t PP) {
  TN(direct_pool_tile)(d, in, f, wt, bias, out, nc, np, PP, 8);
}
static TOPT void TN(direct_pool_tile6)(const conv_direct *d, const REAL *in, int64_t f,
                                       const REAL *wt, const REAL *bias, REAL *out,
                                       int64_t nc, int64_t np, int64_t PP) {
  TN(direct_pool_tile)(d, in, f, wt, bias, out, nc, np, PP, 6);
}
#endif

/* Blocks of 6 channels by 2 vectors of pixels, of 4 by 3, of 3 by 4. */
NNC_DIRECT_TILE(direct_tile6, 6, 2)
NNC_DIRECT_TILE(direct_tile4, 4, 3)
NNC_DIRECT_TILE(direct_tile3, 3, 4)
#undef NNC_DIRECT_TILE

static void TN(direct_tiles)(const conv_direct *d, const REAL *pad, int64_t f,
                             const REAL *wt, const REAL *bias, REAL *out, int64_t nc,
                             int add, int64_t cb) {
  if (cb == 6)
    TN(direct_tile6)(d, pad, f, wt, bias, out, nc, add);
  else if (cb == 4)
    TN(direct_tile4)(d, pad, f, wt, bias, out, nc, add);
  else
    TN(direct_tile3)(d, pad, f, wt, bias, out, nc, add);
}

/* A tile of the direct kernel's weight gradient: ob output channels by tb
 * taps, 12 vector accumulators over the positions [0, len) (a multiple
 * of TL), TL at a time; part holds them as 12 vectors of VL lanes, kept
 * from call to call (a wide tile adds its two halves into them). */
static NNC_INLINE TOPT void TN(weight_tile)(const REAL *dyw, int64_t ld,
                                            const REAL *const *q, int64_t len, REAL *part,
                                            const int ob, const int tb) {
  TV acc[12], zero = {0};
  NNC_UNROLL
  for (int a = 0; a < 12; a++) { /* vector by vector: a copy of the whole */
    acc[a] = zero;               /* went through the stack */
    memcpy(&acc[a], part + a * VL, sizeof(REAL) * VL);
  }
  for (int64_t f = 0; f < len; f += TL) {
    TV dv[4], xv[4];
    NNC_UNROLL
    for (int i = 0; i < ob; i++)
      memcpy(&dv[i], dyw + i * ld + f, sizeof dv[i]);
    NNC_UNROLL
    for (int j = 0; j < tb; j++)
      memcpy(&xv[j], q[j] + f, sizeof xv[j]);
    NNC_UNROLL
    for (int i = 0; i < ob; i++)
      NNC_UNROLL
      for (int j = 0; j < tb; j++)
        acc[i * tb + j] += dv[i] * xv[j];
  }
  NNC_UNROLL
  for (int a = 0; a < 12; a++) {
    NNC_FN(vec) r, h;
    memcpy(&r, &acc[a], sizeof r);
    for (int64_t u = 1; u < TL / VL; u++) {
      memcpy(&h, (const REAL *)&acc[a] + u * VL, sizeof h);
      r += h;
    }
    memcpy(part + a * VL, &r, sizeof r);
  }
}

static TOPT void TN(weight_tile43)(const REAL *dyw, int64_t ld, const REAL *const *q,
                                   int64_t len, REAL *part) {
  TN(weight_tile)(dyw, ld, q, len, part, 4, 3);
}

static TOPT void TN(weight_tile34)(const REAL *dyw, int64_t ld, const REAL *const *q,
                                   int64_t len, REAL *part) {
  TN(weight_tile)(dyw, ld, q, len, part, 3, 4);
}

/* The register tile of the products: c (cb rows of ldc, nc of them
 * stored; add: +=) = the sum over k < K of a(i, k) b[k * ldb + f], a(i, k)
 * = ar[i][k * ak], for nv vectors of columns f; a tile's last vector may
 * run past the columns wanted, into the slack past each row of c. Per k:
 * nv loads, cb broadcasts, cb * nv multiply-adds (12, or 16 in the 16-row
 * tile of nnc_gemm_tiles_tall); with ahead, b's row that many rows on is
 * fetched into level 2 (tall_tile8x2); with bias and not add, the bias's
 * nv vectors are added to each row stored. */
static NNC_INLINE TOPT void TN(reg_tile)(const REAL *const *ar, int64_t ak, const REAL *b,
                                         int64_t ldb, int64_t K, REAL *c, int64_t ldc,
                                         int64_t nc, int add, const int cb, const int nv,
                                         const int ahead, const REAL *bias) {
  TV acc[16];
  TN(zeros)(acc, cb * nv);
  for (int64_t k = 0, at = 0; k < K; k++, b += ldb, at += ak) {
    NNC_UNROLL
    for (int v = 0; v < nv && ahead; v++)
      TN(fetch)(b + v * TL, ahead * ldb);
    TN(tile_step)(acc, b, TL, ar, at, cb, nv);
  }
  NNC_UNROLL
  for (int i = 0; i < cb; i++)
    if (i < nc)
      NNC_UNROLL
      for (int j = 0; j < nv; j++) {
        TV r = acc[i * nv + j], was;
        if (add || bias) {
          memcpy(&was, add ? c + i * ldc + j * TL : bias + j * TL, sizeof was);
          r += was;
        }
        memcpy(c + i * ldc + j * TL, &r, sizeof r);
      }
}

#define NNC_REG_TILE(NAME, CB, NV)                                                     \
  static TOPT void TN(NAME)(const REAL *const *ar, int64_t ak, const REAL *b,           \
                            int64_t ldb, int64_t K, REAL *c, int64_t ldc, int64_t nc,   \
                            int add) {                                                  \
    TN(reg_tile)(ar, ak, b, ldb, K, c, ldc, nc, add, CB, NV, 0, NULL);                  \
  }
NNC_REG_TILE(reg_tile6, 6, 2)
NNC_REG_TILE(reg_tile4, 4, 3)
NNC_REG_TILE(reg_tile3, 3, 4)
NNC_REG_TILE(reg_tile6x1, 6, 1)
NNC_REG_TILE(reg_tile12x1, 12, 1)
#if defined(TWIDE) || !NNC_CONV_WIDE /* Winograd's, on the widest tiles built */
NNC_REG_TILE(reg_tile16x1, 16, 1)
#endif
#ifdef TWIDE /* 16 accumulators and the operands: AVX-512's 32 registers */
NNC_REG_TILE(reg_tile8x2, 8, 2)
/* and with a bias (two vectors, one per column) added to each row as C is
 * stored, instead of C's own values (add) */
static TOPT void TN(reg_tile8x2_bias)(const REAL *const *ar, int64_t ak, const REAL *b,
                                      int64_t ldb, int64_t K, REAL *c, int64_t ldc,
                                      int64_t nc, const REAL *bias) {
  TN(reg_tile)(ar, ak, b, ldb, K, c, ldc, nc, 0, 8, 2, 0, bias);
}
#endif
#undef NNC_REG_TILE

/* The 16-row tile of nnc_gemm_tiles_tall, b fetched 32 rows ahead. */
static TOPT void TN(tall_tile16x1)(const REAL *const *ar, int64_t ak, const REAL *b,
                                   int64_t ldb, int64_t K, REAL *c, int64_t ldc, int64_t nc,
                                   int add) {
  TN(reg_tile)(ar, ak, b, ldb, K, c, ldc, nc, add, 16, 1, 32, NULL);
}

/* reg_tile12x1 for rows of a lda apart (A not transposed): the rows'
 * addresses from four pointers, three rows each, and the row stride in
 * bytes (base + stride, base + 2 stride): reg_tile's 12 pointers, with the
 * loop's, did not fit the registers and were read from the stack at every
 * step (a graph network's features times its first weights, 2708 x 16 x
 * 1433). */
static TOPT void TN(rows_tile12x1)(const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                                   int64_t K, REAL *c, int64_t ldc, int add) {
  TV acc[12];
  TN(zeros)(acc, 12);
  const int64_t L = lda * (int64_t)sizeof(REAL);
  const char *p[4];
  NNC_UNROLL
  for (int g = 0; g < 4; g++)
    p[g] = (const char *)a + 3 * g * L;
  for (int64_t k = 0; k < K; k++, b += ldb) {
    TV x;
    memcpy(&x, b, sizeof x);
    NNC_UNROLL
    for (int g = 0; g < 4; g++) {
      acc[3 * g] += *(const REAL *)p[g] * x;
      acc[3 * g + 1] += *(const REAL *)(p[g] + L) * x;
      acc[3 * g + 2] += *(const REAL *)(p[g] + 2 * L) * x;
      p[g] += sizeof(REAL);
    }
  }
  NNC_UNROLL
  for (int i = 0; i < 12; i++)
    TN(put)(c + i * ldc, acc[i], add);
}

#ifdef TWIDE
/* The tile of nnc_gemm_tiles_tall: c (8 rows of ldc, 2 vectors of
 * columns; add: +=) = the sum over k < K of a[k * lda + i] b[k * ldb + f]:
 * its 8 rows are 8 consecutive columns of a, broadcast at fixed offsets
 * from one pointer (reg_tile's 8 pointers spilled to the stack with the
 * loop's own). b's rows are read once, each row's two vectors 32 rows
 * ahead fetched into level 2: rows of b far apart (a graph network's
 * features, 5.7 KB) are not fetched ahead by the processor. */
static TOPT void TN(tall_tile8x2)(const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                                  int64_t K, REAL *c, int64_t ldc, int add) {
  TV acc[16];
  TN(zeros)(acc, 16);
  for (int64_t k = 0; k < K; k++, a += lda, b += ldb) {
    TV x0, x1;
    TN(fetch)(b, 32 * ldb);
    TN(fetch)(b + TL, 32 * ldb);
    memcpy(&x0, b, sizeof x0);
    memcpy(&x1, b + TL, sizeof x1);
    NNC_UNROLL
    for (int i = 0; i < 8; i++) {
      acc[2 * i] += a[i] * x0;
      acc[2 * i + 1] += a[i] * x1;
    }
  }
  NNC_UNROLL
  for (int i = 0; i < 16; i++)
    TN(put)(c + (i / 2) * ldc + (i % 2) * TL, acc[i], add);
}
#endif

static void TN(reg_tiles)(const REAL *const *ar, int64_t ak, const REAL *b, int64_t ldb,
                          int64_t K, REAL *c, int64_t ldc, int64_t nc, int add, int cb) {
  if (cb == 6)
    TN(reg_tile6)(ar, ak, b, ldb, K, c, ldc, nc, add);
  else if (cb == 4)
    TN(reg_tile4)(ar, ak, b, ldb, K, c, ldc, nc, add);
  else
    TN(reg_tile3)(ar, ak, b, ldb, K, c, ldc, nc, add);
}
