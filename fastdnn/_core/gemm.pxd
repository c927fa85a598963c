# Products of the general loop's mid-sized layers, on processors with AVX-512, in register
# blocks, with the elementwise stage that follows the product done on the block while it is
# still in registers (an "epilogue"):
#
#   FD_EPI_STORE      C = alpha * A B                        (G_W = (1/N) dZ X_B, ...)
#   FD_EPI_BIAS_RELU  C = relu(A B + bias[i])                (a relu hidden layer: A_l = g(Z_l + b))
#   FD_EPI_RELU_BACK  C = A B where R > 0 (or R is NaN), else 0   (dZ_(l-1) = W^T dZ_l * relu'(A))
#
# with relu's values as fastdnn._kernels' fd_relu_bias / fd_relu_back (z + b where z + b > 0
# or NaN, else +0; 0 where the output A <= 0), so that each epilogue gives the value its
# separate pass gives on the same product.  The pass over the (M x N) block that the
# separate stage made (read Z, write A) is saved.
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
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #include <immintrin.h>
    #define FD_GEMM_TARGET __attribute__((target("avx512f,fma")))
    #define FD_GEMM_INL __attribute__((always_inline)) inline

    /* one block: mr rows (1..8) x nv vectors (1..3), the last vector's lanes as `last`;
       called with mr, nv and epi constants, so that each form is its own unrolled code */
    #define FD_GEMM_BLOCK(SUF, T, V, MASK, LD, ST, SET1, FMA, MUL, ADD, CMPLE, MOVZ, ZERO) \
    static FD_GEMM_TARGET FD_GEMM_INL void fd_gemm_block_##SUF(                             \
            const int mr, const int nv, const int epi, int K, const T *A, long sai,        \
            long sak, const T *B, long ldb, T *C, long ldc, T alpha, const T *bias,        \
            const T *R, long ldr, MASK last) {                                             \
        V c[8][3];                                                                         \
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                \
            _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++) c[r][v] = ZERO();          \
        for (int k = 0; k < K; k++) {                                                      \
            V b[3];                                                                        \
            const T *bk = B + (long)k * ldb, *ak = A + (long)k * sak;                      \
            _Pragma("GCC unroll 3") for (int v = 0; v < 3; v++)                            \
                if (v < nv) b[v] = LD(v == nv - 1 ? last : (MASK)-1, bk + v * (64 / sizeof(T))); \
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
                if (epi == FD_EPI_STORE) {                                                 \
                    x = MUL(al, x);                                                        \
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
        case ((MR) * 4 + (NV)) * 3 + (EPI):                                                \
            fd_gemm_block_##SUF(MR, NV, EPI, K, a, sai, sak, b, ldb, c, ldc, alpha,        \
                                bias ? bias + i : NULL, r, ldr, last); break;
    #define FD_GEMM_CASES_E(SUF, MR, NV) FD_GEMM_CASE(SUF, MR, NV, 0)                      \
        FD_GEMM_CASE(SUF, MR, NV, 1) FD_GEMM_CASE(SUF, MR, NV, 2)
    #define FD_GEMM_CASES(SUF, MR) FD_GEMM_CASES_E(SUF, MR, 1) FD_GEMM_CASES_E(SUF, MR, 2) \
        FD_GEMM_CASES_E(SUF, MR, 3)

    /* the driver: column blocks of 3 vectors outside, row blocks of 8 inside */
    #define FD_GEMM_DRIVER(SUF, T, MASK)                                                   \
    static FD_GEMM_TARGET void fd_gemm_avx512_##SUF(int M, int N, int K, T alpha,          \
            const T *A, long sai, long sak, const T *B, long ldb, T *C, long ldc, int epi, \
            const T *bias, const T *R, long ldr) {                                         \
        const int L = 64 / sizeof(T);                                                      \
        for (int j = 0; j < N; j += 3 * L) {                                               \
            const int nj = N - j < 3 * L ? N - j : 3 * L, nv = (nj + L - 1) / L;          \
            const int tail = nj - L * (nv - 1);                                            \
            const MASK last = tail == L ? (MASK)-1 : (MASK)((1u << tail) - 1);             \
            for (int i = 0; i < M; i += 8) {                                               \
                const int mr = M - i < 8 ? M - i : 8;                                      \
                const T *a = A + (long)i * sai, *b = B + j;                                \
                T *c = C + (long)i * ldc + j;                                              \
                const T *r = R ? R + (long)i * ldr + j : NULL;                             \
                switch ((mr * 4 + nv) * 3 + epi) {                                         \
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
                  _mm512_maskz_mov_pd, _mm512_setzero_pd)
    FD_GEMM_BLOCK(f, float, __m512, __mmask16, FD_LD_F, FD_ST_F, _mm512_set1_ps,
                  _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, FD_CMPLE_F,
                  _mm512_maskz_mov_ps, _mm512_setzero_ps)
    FD_GEMM_DRIVER(d, double, __mmask8)
    FD_GEMM_DRIVER(f, float, __mmask16)

    static int fd_gemm_avx512(void) {
        static int has = -1;
        if (has < 0) has = __builtin_cpu_supports("avx512f");
        return has;
    }
    #define FD_GEMM_CALL(SUF)                                                              \
        if (!fd_gemm_avx512()) return 0;                                                   \
        fd_gemm_avx512_##SUF(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr); \
        return 1;
    #else
    #define FD_GEMM_CALL(SUF) return 0;
    static int fd_gemm_avx512(void) { return 0; }
    #endif

    /* C = epi(alpha A B) as above; 1 if done, 0 if the processor lacks AVX-512 */
    static int fd_gemm_d(int M, int N, int K, double alpha, const double *A, long sai,
                         long sak, const double *B, long ldb, double *C, long ldc, int epi,
                         const double *bias, const double *R, long ldr) {
        FD_GEMM_CALL(d)
    }
    static int fd_gemm_f(int M, int N, int K, float alpha, const float *A, long sai,
                         long sak, const float *B, long ldb, float *C, long ldc, int epi,
                         const float *bias, const float *R, long ldr) {
        FD_GEMM_CALL(f)
    }
    """
    enum:
        EPI_STORE "FD_EPI_STORE"
        EPI_BIAS_RELU "FD_EPI_BIAS_RELU"
        EPI_RELU_BACK "FD_EPI_RELU_BACK"
    int fd_gemm_avx512() noexcept nogil
    int fd_gemm_d(int M, int N, int K, double alpha, const double *A, long sai, long sak,
                  const double *B, long ldb, double *C, long ldc, int epi, const double *bias,
                  const double *R, long ldr) noexcept nogil
    int fd_gemm_f(int M, int N, int K, float alpha, const float *A, long sai, long sak,
                  const float *B, long ldb, float *C, long ldc, int epi, const float *bias,
                  const float *R, long ldr) noexcept nogil


from fastdnn._blas cimport floating

# the most multiply-adds of a product that the engine runs here (beyond, BLAS and the
# separate pass): see bench/bench_gemm_epi.py
cdef enum:
    GEMM_EPI_WORK = 2097152


cdef inline bint gemm_epi(int M, int N, int K, floating alpha, const floating *A, long sai,
                          long sak, const floating *B, long ldb, floating *C, long ldc,
                          int epi, const floating *bias, const floating *R,
                          long ldr) noexcept nogil:
    """C (M x N, ldc) = epi(alpha sum_k A(i, k) B(k, j)) (see above); False where the
    processor lacks AVX-512 (nothing written: the caller takes BLAS)."""
    if floating is double:
        return fd_gemm_d(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr) != 0
    else:
        return fd_gemm_f(M, N, K, alpha, A, sai, sak, B, ldb, C, ldc, epi, bias, R, ldr) != 0
