# Products of the general loop's mid-sized layers, on processors with AVX-512, in register
# blocks, with the elementwise stage that follows the product done on the block while it is
# still in registers (an "epilogue"):
#
#   FD_EPI_STORE      C = alpha * A B                        (G_W = (1/N) dZ X_B, ...)
#   FD_EPI_BIAS_RELU  C = relu(A B + bias[i])                (a relu hidden layer: A_l = g(Z_l + b))
#   FD_EPI_RELU_BACK  C = A B where R > 0 (or R is NaN), else 0   (dZ_(l-1) = W^T dZ_l * relu'(A))
#   FD_EPI_STORE_SUM  C = alpha * A B and rs[i] = alpha * sum_k A(i, k)   (G_W and G_b = (1/N) dZ 1)
#
# with relu's values as fastdnn._kernels' fd_relu_bias / fd_relu_back (z + b where z + b > 0
# or NaN, else +0; 0 where the output A <= 0), so that each epilogue gives the value its
# separate pass gives on the same product.  The pass over the (M x N) block that the
# separate stage made (read Z, write A) is saved.  FD_EPI_STORE_SUM takes the row sums as
# one more column of B, all ones, in the spare lane of the last vector (N not a multiple of
# the vector's lanes; else fd_gemm_* returns 0 and the caller sums the rows itself): the
# separate pass over A for the bias gradient is saved.
#
# C (M x N) and R row-major (ldc, ldr), B (K x N) row-major (ldb): its rows are loaded as
# vectors; A(i, k) = A[i * sai + k * sak], any strides: its values are broadcast, so W, W^T
# and dZ serve as they are stored.  A block of 8 rows x 3 vectors (24 doubles or 48 floats:
# 24 of the 32 registers hold sums) runs over the whole inner index; the column blocks go
# outside the row blocks, so that B's panel (K x 24 doubles) stays in the L1 cache while A's
# rows stream past.  Each output is one fused multiply-add chain over k in order from 0, so
# its value does not depend on where the blocks fall; the order differs from BLAS's, so the
# two agree to rounding (tests/test_gemm.py holds both to a numpy product).
#
# Measured against OpenBLAS 0.3.30 on the products of scikit-learn's default network on
# digits and breast cancer (bench/bench_gemm_epi.py).  fd_gemm_d / fd_gemm_f return 0 where
# the processor lacks AVX-512 (or the compiler is not GCC on x86-64 Linux): the caller then
# takes BLAS and the separate passes.
cdef extern from *:
    """
    #define FD_EPI_STORE 0
    #define FD_EPI_BIAS_RELU 1
    #define FD_EPI_RELU_BACK 2
    #define FD_EPI_STORE_SUM 3
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #include <immintrin.h>
    #include "fastdnn/_simd.h"
    #define FD_GEMM_TARGET __attribute__((target("avx512f,fma")))
    #define FD_GEMM_INL __attribute__((always_inline)) inline

    /* one block: mr rows (1..8) x nv vectors (1..3), the last vector's lanes as `last`
       (FD_EPI_STORE_SUM: lane `ones` of the last vector is the column of ones, its sums
       stored to rs); called with mr, nv and epi constants, so that each form is its own
       unrolled code */
    #define FD_GEMM_BLOCK(SUF, T, V, MASK, LD, ST, SET1, FMA, MUL, ADD, CMPLE, MOVZ, ZERO,  \
                          MOV, CST)                                                        \
    static FD_GEMM_TARGET FD_GEMM_INL void fd_gemm_block_##SUF(                             \
            const int mr, const int nv, const int epi, int K, const T *A, long sai,        \
            long sak, const T *B, long ldb, T *C, long ldc, T alpha, const T *bias,        \
            const T *R, long ldr, MASK last, T *rs, int ones) {                            \
        V c[8][3];                                                                         \
        const MASK om = epi == FD_EPI_STORE_SUM ? (MASK)(1u << ones) : (MASK)0;            \
        const V one = SET1((T)1);                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                \
            _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++) c[r][v] = ZERO();          \
        for (int k = 0; k < K; k++) {                                                      \
            V b[3];                                                                        \
            const T *bk = B + (long)k * ldb, *ak = A + (long)k * sak;                      \
            _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++)                            \
                if (v < nv) b[v] = LD(v == nv - 1 ? last : (MASK)-1, bk + v * (64 / sizeof(T))); \
            if (epi == FD_EPI_STORE_SUM) b[nv - 1] = MOV(b[nv - 1], om, one);              \
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                            \
                if (r < mr) {                                                              \
                    V a = SET1(ak[(long)r * sai]);                                         \
                    _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++)                    \
                        if (v < nv) c[r][v] = FMA(a, b[v], c[r][v]);                       \
                }                                                                          \
        }                                                                                  \
        const V al = SET1(alpha), zero = ZERO();                                           \
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {                              \
            if (r >= mr) break;                                                            \
            T *cr = C + (long)r * ldc;                                                     \
            _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++) {                          \
                if (v >= nv) break;                                                        \
                const MASK m = v == nv - 1 ? last : (MASK)-1;                              \
                const long o = v * (64 / sizeof(T));                                       \
                V x = c[r][v];                                                             \
                if (epi == FD_EPI_STORE || epi == FD_EPI_STORE_SUM) {                      \
                    x = MUL(al, x);                                                        \
                    if (epi == FD_EPI_STORE_SUM && v == nv - 1) CST(rs + r, om, x);       \
                } else if (epi == FD_EPI_BIAS_RELU) {                                      \
                    x = ADD(x, SET1(bias[r]));                                             \
                    x = MOVZ((MASK)~CMPLE(x, zero), x);                                    \
                } else {                                                                   \
                    x = MOVZ((MASK)~CMPLE(LD(m, R + (long)r * ldr + o), zero), x);         \
                }                                                                          \
                ST(cr + o, m, x);                                                          \
            }                                                                              \
        }                                                                                  \
    }

    #define FD_GEMM_CASE(SUF, MR, NV, EPI)                                                 \
        case ((MR) * 4 + (NV)) * 4 + (EPI):                                                \
            fd_gemm_block_##SUF(MR, NV, EPI, K, a, sai, sak, b, ldb, c, ldc, alpha,        \
                                bias ? bias + i : NULL, r, ldr, last, rs ? rs + i : NULL,  \
                                tail); break;
    #define FD_GEMM_CASES_E(SUF, MR, NV) FD_GEMM_CASE(SUF, MR, NV, 0)                      \
        FD_GEMM_CASE(SUF, MR, NV, 1) FD_GEMM_CASE(SUF, MR, NV, 2)                          \
        FD_GEMM_CASE(SUF, MR, NV, 3)
    #define FD_GEMM_CASES(SUF, MR) FD_GEMM_CASES_E(SUF, MR, 1) FD_GEMM_CASES_E(SUF, MR, 2) \
        FD_GEMM_CASES_E(SUF, MR, 3)

    /* the driver: column blocks of 3 vectors outside, row blocks of 8 inside (with
       FD_EPI_STORE_SUM, the row sums in the last column block, the others FD_EPI_STORE) */
    #define FD_GEMM_DRIVER(SUF, T, MASK)                                                   \
    static FD_GEMM_TARGET void fd_gemm_avx512_##SUF(int M, int N, int K, T alpha,          \
            const T *A, long sai, long sak, const T *B, long ldb, T *C, long ldc, int epi0, \
            const T *bias, const T *R, long ldr, T *rs) {                                  \
        const int L = 64 / sizeof(T);                                                      \
        for (int j = 0; j < N; j += 3 * L) {                                               \
            const int nj = N - j < 3 * L ? N - j : 3 * L, nv = (nj + L - 1) / L;          \
            const int tail = nj - L * (nv - 1);                                            \
            const MASK last = tail == L ? (MASK)-1 : (MASK)((1u << tail) - 1);             \
            const int epi = epi0 == FD_EPI_STORE_SUM && j + nj < N ? FD_EPI_STORE : epi0;  \
            for (int i = 0; i < M; i += 8) {                                               \
                const int mr = M - i < 8 ? M - i : 8;                                      \
                const T *a = A + (long)i * sai, *b = B + j;                                \
                T *c = C + (long)i * ldc + j;                                              \
                const T *r = R ? R + (long)i * ldr + j : NULL;                             \
                switch ((mr * 4 + nv) * 4 + epi) {                                         \
                    FD_GEMM_CASES(SUF, 1) FD_GEMM_CASES(SUF, 2) FD_GEMM_CASES(SUF, 3)      \
                    FD_GEMM_CASES(SUF, 4) FD_GEMM_CASES(SUF, 5) FD_GEMM_CASES(SUF, 6)      \
                    FD_GEMM_CASES(SUF, 7) FD_GEMM_CASES(SUF, 8)                            \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

    #define FD_LD_D(m, p) _mm512_maskz_loadu_pd(m, p)
    #define FD_ST_D(p, m, x) _mm512_mask_storeu_pd(p, m, x)
    #define FD_CMPLE_D(x, y) _mm512_cmp_pd_mask(x, y, _CMP_LE_OQ)
    #define FD_LD_F(m, p) _mm512_maskz_loadu_ps(m, p)
    #define FD_ST_F(p, m, x) _mm512_mask_storeu_ps(p, m, x)
    #define FD_CMPLE_F(x, y) _mm512_cmp_ps_mask(x, y, _CMP_LE_OQ)
    FD_GEMM_BLOCK(d, double, __m512d, __mmask8, FD_LD_D, FD_ST_D, _mm512_set1_pd,
                  _mm512_fmadd_pd, _mm512_mul_pd, _mm512_add_pd, FD_CMPLE_D,
                  _mm512_maskz_mov_pd, _mm512_setzero_pd, _mm512_mask_mov_pd,
                  _mm512_mask_compressstoreu_pd)
    FD_GEMM_BLOCK(f, float, __m512, __mmask16, FD_LD_F, FD_ST_F, _mm512_set1_ps,
                  _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, FD_CMPLE_F,
                  _mm512_maskz_mov_ps, _mm512_setzero_ps, _mm512_mask_mov_ps,
                  _mm512_mask_compressstoreu_ps)
    FD_GEMM_DRIVER(d, double, __mmask8)
    FD_GEMM_DRIVER(f, float, __mmask16)

    static int fd_gemm_avx512(void) { return fd_avx512f(); }
    #define FD_GEMM_CALL(SUF, T)                                                           \
        if (!fd_gemm_avx512()) return 0;                                                   \
        if (epi == FD_EPI_STORE_SUM && N % (64 / (int)sizeof(T)) == 0) return 0;           \
        fd_gemm_avx512_##SUF(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr, \
                             rs);                                                          \
        return 1;
    #else
    #define FD_GEMM_CALL(SUF, T) return 0;
    static int fd_gemm_avx512(void) { return 0; }
    #endif

    /* C = epi(alpha A B) as above (rs: FD_EPI_STORE_SUM's row sums, M values); 1 if done,
       0 if the processor lacks AVX-512 (or FD_EPI_STORE_SUM has no spare lane) */
    static int fd_gemm_d(int M, int N, int K, double alpha, const double *A, long sai,
                         long sak, const double *B, long ldb, double *C, long ldc, int epi,
                         const double *bias, const double *R, long ldr, double *rs) {
        FD_GEMM_CALL(d, double)
    }
    static int fd_gemm_f(int M, int N, int K, float alpha, const float *A, long sai,
                         long sak, const float *B, long ldb, float *C, long ldc, int epi,
                         const float *bias, const float *R, long ldr, float *rs) {
        FD_GEMM_CALL(f, float)
    }
    """
    enum:
        EPI_STORE "FD_EPI_STORE"
        EPI_BIAS_RELU "FD_EPI_BIAS_RELU"
        EPI_RELU_BACK "FD_EPI_RELU_BACK"
        EPI_STORE_SUM "FD_EPI_STORE_SUM"
    int fd_gemm_avx512() noexcept nogil
    int fd_gemm_d(int M, int N, int K, double alpha, const double *A, long sai, long sak,
                  const double *B, long ldb, double *C, long ldc, int epi, const double *bias,
                  const double *R, long ldr, double *rs) noexcept nogil
    int fd_gemm_f(int M, int N, int K, float alpha, const float *A, long sai, long sak,
                  const float *B, long ldb, float *C, long ldc, int epi, const float *bias,
                  const float *R, long ldr, float *rs) noexcept nogil


from fastdnn._blas cimport floating

# the most multiply-adds of a product that the engine runs here (beyond, BLAS and the
# separate pass): see bench/bench_gemm_epi.py
cdef enum:
    GEMM_EPI_WORK = 2097152


cdef inline bint gemm_epi(int M, int N, int K, floating alpha, const floating *A, long sai,
                          long sak, const floating *B, long ldb, floating *C, long ldc,
                          int epi, const floating *bias, const floating *R,
                          long ldr, floating *rs=NULL) noexcept nogil:
    """C (M x N, ldc) = epi(alpha sum_k A(i, k) B(k, j)) (see above; EPI_STORE_SUM: rs[i] =
    alpha sum_k A(i, k) too); False where the processor lacks AVX-512, or for
    EPI_STORE_SUM where N is a multiple of the vector's lanes (nothing written: the caller
    takes BLAS, or EPI_STORE and its own row sums)."""
    if floating is double:
        return fd_gemm_d(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr,
                         rs) != 0
    else:
        return fd_gemm_f(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr,
                         rs) != 0
