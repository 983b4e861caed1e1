/* gemm_kernel.h — template of the portable GEMM, included by gemm.c once per
 * element type with REAL and GEMM_NAME defined.
 *
 * C = alpha * op(A) @ op(B) + beta * C, row-major. C is first scaled by beta
 * (cleared without being read when beta == 0, as BLAS does). Then, per block
 * of NC columns and KC inner indices, op(B) is packed into a contiguous
 * (KC, NC) panel, and per block of MC rows alpha * op(A) into an (MC, KC)
 * panel; the micro-kernel updates four rows of C at a time, streaming one
 * panel row of B (which stays in L1) per inner index. Without memory for the
 * panels it falls back to an unblocked loop. */

static void NNC_FN(gemm_scale)(int64_t m, int64_t n, REAL beta, REAL *c,
                               int64_t ldc) {
  if (beta == 1)
    return;
  for (int64_t i = 0; i < m; i++) {
    REAL *ci = c + i * ldc;
    if (beta == 0)
      for (int64_t j = 0; j < n; j++)
        ci[j] = 0;
    else
      for (int64_t j = 0; j < n; j++)
        ci[j] *= beta;
  }
}

/* ap (mb, kb) = alpha * op(A)[i0:i0+mb, p0:p0+kb] */
static void NNC_FN(gemm_pack_a)(int ta, const REAL *a, int64_t lda, int64_t i0,
                                int64_t p0, int64_t mb, int64_t kb, REAL alpha,
                                REAL *ap) {
  for (int64_t i = 0; i < mb; i++)
    for (int64_t p = 0; p < kb; p++)
      ap[i * kb + p] = alpha * (ta ? a[(p0 + p) * lda + i0 + i]
                                   : a[(i0 + i) * lda + p0 + p]);
}

/* bp (kb, nb) = op(B)[p0:p0+kb, j0:j0+nb] */
static void NNC_FN(gemm_pack_b)(int tb, const REAL *b, int64_t ldb, int64_t p0,
                                int64_t j0, int64_t kb, int64_t nb, REAL *bp) {
  for (int64_t p = 0; p < kb; p++)
    for (int64_t j = 0; j < nb; j++)
      bp[p * nb + j] =
          tb ? b[(j0 + j) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j];
}

/* C (mb, nb) += ap (mb, kb) @ bp (kb, nb) */
static void NNC_FN(gemm_micro)(int64_t mb, int64_t nb, int64_t kb,
                               const REAL *restrict ap, const REAL *restrict bp,
                               REAL *c, int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= mb; i += 4) {
    REAL *restrict c0 = c + i * ldc, *restrict c1 = c0 + ldc;
    REAL *restrict c2 = c1 + ldc, *restrict c3 = c2 + ldc;
    for (int64_t p = 0; p < kb; p++) {
      const REAL *restrict br = bp + p * nb;
      REAL a0 = ap[i * kb + p], a1 = ap[(i + 1) * kb + p];
      REAL a2 = ap[(i + 2) * kb + p], a3 = ap[(i + 3) * kb + p];
      for (int64_t j = 0; j < nb; j++) {
        REAL bj = br[j];
        c0[j] += a0 * bj;
        c1[j] += a1 * bj;
        c2[j] += a2 * bj;
        c3[j] += a3 * bj;
      }
    }
  }
  for (; i < mb; i++) {
    REAL *restrict ci = c + i * ldc;
    for (int64_t p = 0; p < kb; p++) {
      const REAL *restrict br = bp + p * nb;
      REAL ai = ap[i * kb + p];
      for (int64_t j = 0; j < nb; j++)
        ci[j] += ai * br[j];
    }
  }
}

void GEMM_NAME(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               REAL alpha, const REAL *a, int64_t lda, const REAL *b,
               int64_t ldb, REAL beta, REAL *c, int64_t ldc) {
  enum { MC = 64, KC = 256, NC = 256 };
  if (m <= 0 || n <= 0)
    return;
  NNC_FN(gemm_scale)(m, n, beta, c, ldc);
  if (k <= 0 || alpha == 0)
    return;
  REAL *ap = malloc(sizeof(REAL) * (MC * KC + KC * NC));
  if (!ap) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t p = 0; p < k; p++) {
        REAL aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
        for (int64_t j = 0; j < n; j++)
          c[i * ldc + j] += aip * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      }
    return;
  }
  REAL *bp = ap + MC * KC;
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    int64_t nb = n - j0 < NC ? n - j0 : NC;
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      int64_t kb = k - p0 < KC ? k - p0 : KC;
      NNC_FN(gemm_pack_b)(trans_b, b, ldb, p0, j0, kb, nb, bp);
      for (int64_t i0 = 0; i0 < m; i0 += MC) {
        int64_t mb = m - i0 < MC ? m - i0 : MC;
        NNC_FN(gemm_pack_a)(trans_a, a, lda, i0, p0, mb, kb, alpha, ap);
        NNC_FN(gemm_micro)(mb, nb, kb, ap, bp, c + i0 * ldc + j0, ldc);
      }
    }
  }
  free(ap);
}
