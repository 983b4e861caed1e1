/* gemm_kernel.h — template of the portable GEMM, included by gemm.c once per
 * element type with REAL and GEMM_NAME defined.
 *
 * C = alpha * op(A) @ op(B) + beta * C, row-major. C is first scaled by beta
 * (cleared without being read when beta == 0, as BLAS does). Then, per block
 * of NC columns and KC inner indices, op(B) is packed into a (KC, NC) panel
 * (L2), and per block of MC rows alpha * op(A) into an (MC, KC) panel; a
 * micro-kernel computes each MR x NR tile of C with its accumulators in
 * registers. Without memory for the panels it falls back to an unblocked
 * loop. */

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

/* Panels are cut into slivers: MR rows of op(A) (stored p-major, MR values
 * per inner index) and NR columns of op(B) (NR values per inner index),
 * zero-padded at the edges so that the micro-kernel always computes a full
 * MR x NR tile. The block sizes (MR, NR, MC, KC, NC) are set in gemm.c. */

/* ap = alpha * op(A)[i0:i0+mb, p0:p0+kb] in MR-row slivers */
static void NNC_FN(gemm_pack_a)(int ta, const REAL *a, int64_t lda, int64_t i0,
                                int64_t p0, int64_t mb, int64_t kb, REAL alpha,
                                REAL *ap) {
  for (int64_t ir = 0; ir < mb; ir += MR, ap += MR * kb)
    for (int64_t p = 0; p < kb; p++)
      for (int64_t i = 0; i < MR; i++) {
        int64_t r = i0 + ir + i, q = p0 + p;
        ap[p * MR + i] =
            ir + i < mb ? alpha * (ta ? a[q * lda + r] : a[r * lda + q]) : 0;
      }
}

/* bp = op(B)[p0:p0+kb, j0:j0+nb] in NR-column slivers */
static void NNC_FN(gemm_pack_b)(int tb, const REAL *b, int64_t ldb, int64_t p0,
                                int64_t j0, int64_t kb, int64_t nb, REAL *bp) {
  for (int64_t jr = 0; jr < nb; jr += NR, bp += NR * kb)
    for (int64_t p = 0; p < kb; p++)
      for (int64_t j = 0; j < NR; j++) {
        int64_t q = p0 + p, col = j0 + jr + j;
        bp[p * NR + j] =
            jr + j < nb ? (tb ? b[col * ldb + q] : b[q * ldb + col]) : 0;
      }
}

/* C (mr, nr) += a sliver (MR, kb) @ b sliver (kb, NR), MR = NR = 4. The 16
 * accumulators are scalars, which compilers keep in registers (and pack
 * into vectors); an array of accumulators would live in memory. */
#define GEMM_ROW(i)                                                            \
  c##i##0 += a##i * b0, c##i##1 += a##i * b1, c##i##2 += a##i * b2,            \
      c##i##3 += a##i * b3
static void NNC_FN(gemm_micro)(int64_t kb, const REAL *restrict a,
                               const REAL *restrict b, REAL *c, int64_t ldc,
                               int64_t mr, int64_t nr) {
  REAL c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  REAL c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (int64_t p = 0; p < kb; p++, a += MR, b += NR) {
    const REAL a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    const REAL b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    GEMM_ROW(0);
    GEMM_ROW(1);
    GEMM_ROW(2);
    GEMM_ROW(3);
  }
  const REAL acc[MR][NR] = {{c00, c01, c02, c03},
                            {c10, c11, c12, c13},
                            {c20, c21, c22, c23},
                            {c30, c31, c32, c33}};
  for (int64_t i = 0; i < mr; i++)
    for (int64_t j = 0; j < nr; j++)
      c[i * ldc + j] += acc[i][j];
}
#undef GEMM_ROW

void GEMM_NAME(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               REAL alpha, const REAL *a, int64_t lda, const REAL *b,
               int64_t ldb, REAL beta, REAL *c, int64_t ldc) {
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
        for (int64_t jr = 0; jr < nb; jr += NR)
          for (int64_t ir = 0; ir < mb; ir += MR)
            NNC_FN(gemm_micro)
            (kb, ap + ir * kb, bp + jr * kb, c + (i0 + ir) * ldc + j0 + jr, ldc,
             mb - ir < MR ? mb - ir : MR, nb - jr < NR ? nb - jr : NR);
      }
    }
  }
  free(ap);
}
