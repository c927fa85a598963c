"""Compiled kernels of fastdnn.

Design
------
Three levels, as in scikit-learn's ``_loss``:

1. point functions (``_sigmoid``, ``_relu``, ...): the math of one element,
   ``noexcept nogil``, inlined;
2. loops over 2-D memoryviews, one fused body for float32 and float64,
   ``const`` for every input so that read-only arrays work;
3. nothing else: no allocation, no validation, no Python object.  Each
   routine trusts its caller (``fastdnn._validation`` + ``fastdnn.layers``) to
   have checked dtypes, shapes and sizes, which is why bounds checking and
   negative indexing are compiled out (a debug build, ``FASTDNN_DEBUG=1``, turns
   them back on).

Every routine is ``noexcept nogil``: callers release the GIL around them.  Outputs are C-contiguous arrays allocated by the
Python layer; inputs may have any strides.

The formulas are the seed's, evaluated in the seed's order, so that
elementwise results agree with numpy to the last bit -- except the sigmoid,
whose exp is fd_exp below (vectorised; measured within 4 ulps of numpy's
sigmoid over the whole double range, asserted to 8 eps relative in
tests/test_differential.py):

    sigmoid(z)          = 1 / (1 + exp(-z))          (0 or 1 at the extremes, no overflow warning)
    relu(z)             = max(0, z)                   (NaN propagates, as np.maximum)
    sigmoid_backward    = dA * s * (1 - s),  s = sigmoid(Z)
    relu_backward       = dA where Z > 0, else 0      (as ``dZ[Z <= 0] = 0``)
    cost                = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL)),
                          each log clamped at -100 as PyTorch's BCELoss does,
                          summed in float64
"""
from libc.math cimport log

from fastdnn._blas cimport floating, gemm

# --------------------------------------------------------------------------
# 0. a vectorisable exp, and the sigmoid loops built on it (C)
# --------------------------------------------------------------------------
# glibc's scalar exp() costs ~4.5 ns per element, while numpy's exp ufunc is
# SIMD (AVX2/AVX-512); the sigmoid is then 2x slower than the seed's
# three-pass numpy expression (bench/bench_functions.py, Z of 20 x 209).
# fd_exp is written branch-free so that GCC vectorises the loops below, and
# the loops are compiled for AVX-512, AVX2 and baseline x86-64, picked at load
# time (target_clones; plain C elsewhere).
cdef extern from *:
    """
    #include <stdint.h>
    #include "fastdnn/_simd.h"

    /* no-trapping-math lets GCC if-convert the clamps (so the loops
       vectorise); fp-contract=off keeps every clone free of FMA, hence
       bit-identical to the scalar fallback */
    #if defined(__GNUC__) && !defined(__clang__)
    #  pragma GCC push_options
    #  pragma GCC optimize ("no-trapping-math", "fp-contract=off")
    #endif
    static inline double fd_bits_to_double(int64_t i) { double d; memcpy(&d, &i, 8); return d; }
    static inline int64_t fd_double_to_bits(double d) { int64_t i; memcpy(&i, &d, 8); return i; }

    /* exp(x) to ~1 ulp: x = k ln2 + r, |r| <= ln2/2 (Cody-Waite, fdlibm's
       split of ln2), exp(r) by its Taylor series to r^13/13! (truncation
       < 5e-18 relative), times 2^k built from exponent bits in two halves
       so that overflow gives inf and underflow 0, as exp() does.  NaN stays
       NaN.  Integer parts use the 1.5 * 2^52 rounding trick (no conversion
       instructions, so the loops vectorise on any x86-64). */
    static inline double fd_exp(double x) {
        const double magic = 6755399441055744.0;      /* 1.5 * 2^52 */
        const int64_t magic_bits = 0x4338000000000000LL;
        double t, k, k1, k2, r, p;
        x = x > 710.0 ? 710.0 : x;                    /* NaN compares false: kept */
        x = x < -746.0 ? -746.0 : x;
        t = x * 1.4426950408889634 + magic;
        k = t - magic;                                /* round(x / ln2) */
        r = x - k * 6.93147180369123816490e-01;       /* exact: 21 trailing zero bits */
        r = r - k * 1.90821492927058770002e-10;
        p = 1.6059043836821613e-10;                   /* 1/13! */
        p = p * r + 2.08767569878681e-09;
        p = p * r + 2.505210838544172e-08;
        p = p * r + 2.755731922398589e-07;
        p = p * r + 2.7557319223985893e-06;
        p = p * r + 2.48015873015873e-05;
        p = p * r + 0.0001984126984126984;
        p = p * r + 0.001388888888888889;
        p = p * r + 0.008333333333333333;
        p = p * r + 0.041666666666666664;
        p = p * r + 0.16666666666666666;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        k1 = (k * 0.5 + magic) - magic;               /* k = k1 + k2, both in [-538, 513] */
        k2 = k - k1;
        return p * fd_bits_to_double((fd_double_to_bits(k1 + (1023.0 + magic)) - magic_bits) << 52)
                 * fd_bits_to_double((fd_double_to_bits(k2 + (1023.0 + magic)) - magic_bits) << 52);
    }

    static inline double fd_sigmoid1(double z) { return 1.0 / (1.0 + fd_exp(-z)); }

    FD_CLONES static void fd_sigmoid_d(const double *restrict z, double *restrict a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) a[j] = 1.0 / (1.0 + fd_exp(-z[j]));
    }
    FD_CLONES static void fd_sigmoid_f(const float *restrict z, float *restrict a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) a[j] = (float)(1.0 / (1.0 + fd_exp(-(double)z[j])));
    }
    FD_CLONES static void fd_sigmoid_backward_d(const double *restrict da, const double *restrict z,
                                                double *restrict dz, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) {
            double s = 1.0 / (1.0 + fd_exp(-z[j]));
            dz[j] = da[j] * s * (1.0 - s);
        }
    }
    FD_CLONES static void fd_sigmoid_backward_f(const float *restrict da, const float *restrict z,
                                                float *restrict dz, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) {
            float s = (float)(1.0 / (1.0 + fd_exp(-(double)z[j])));
            dz[j] = da[j] * s * (1.0f - s);
        }
    }
    FD_CLONES static void fd_exp_d(const double *restrict z, double *restrict a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) a[j] = fd_exp(z[j]);
    }
    FD_CLONES static void fd_exp_f_loop(const float *restrict z, float *restrict a,
                                        Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) a[j] = (float)fd_exp((double)z[j]);
    }
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #  include <immintrin.h>
    #  define FD_EXP_512 1
    /* fd_exp on 8 doubles with every step of the polynomial and of the reduction fused
       (AVX-512's multiply-add): the same algorithm and constants, other last bits in
       double, and, rounded to float, the same float32 as fd_exp_f_loop for every one of
       the 2^32 inputs (checked exhaustively when written: bench/exp_float32.py) */
    __attribute__((target("avx512f"))) static inline FD_INLINE __m512d fd_exp8_fused(__m512d x) {
        static const double c[13] = {2.08767569878681e-09, 2.505210838544172e-08,
            2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05,
            0.0001984126984126984, 0.001388888888888889, 0.008333333333333333,
            0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0};
        const __m512d magic = _mm512_set1_pd(6755399441055744.0);
        const __m512d bias = _mm512_set1_pd(1023.0 + 6755399441055744.0);
        const __m512i magic_bits = _mm512_set1_epi64(0x4338000000000000LL);
        __m512d t, k, r, p, k1, k2;
        __m512i e1, e2;
        x = _mm512_min_pd(_mm512_set1_pd(710.0), x);     /* NaN: the second operand, x */
        x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
        t = _mm512_fmadd_pd(x, _mm512_set1_pd(1.4426950408889634), magic);
        k = _mm512_sub_pd(t, magic);
        r = _mm512_fnmadd_pd(k, _mm512_set1_pd(6.93147180369123816490e-01), x);
        r = _mm512_fnmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10), r);
        p = _mm512_set1_pd(1.6059043836821613e-10);
        for (int i = 0; i < 13; i++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
        k1 = _mm512_sub_pd(_mm512_fmadd_pd(k, _mm512_set1_pd(0.5), magic), magic);
        k2 = _mm512_sub_pd(k, k1);
        e1 = _mm512_slli_epi64(_mm512_sub_epi64(_mm512_castpd_si512(_mm512_add_pd(k1, bias)),
                                                magic_bits), 52);
        e2 = _mm512_slli_epi64(_mm512_sub_epi64(_mm512_castpd_si512(_mm512_add_pd(k2, bias)),
                                                magic_bits), 52);
        return _mm512_mul_pd(_mm512_mul_pd(p, _mm512_castsi512_pd(e1)), _mm512_castsi512_pd(e2));
    }
    /* a vector of 16 floats as two of 8 doubles (its low and high halves, exactly), and two
       halves of 8 floats as one vector of 16 (AVX-512F only: no AVX-512DQ insert) */
    #define FD_LO8(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
    #define FD_HI8(v) _mm512_cvtps_pd(_mm256_castpd_ps(                                     \
        _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
    #define FD_CAT8(lo, hi) _mm512_castpd_ps(_mm512_insertf64x4(                             \
        _mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1))
    __attribute__((target("avx512f"))) static void fd_exp_f_512(const float *restrict z,
                                                                 float *restrict a, Py_ssize_t n) {
        Py_ssize_t j = 0;
        for (; j + 16 <= n; j += 16) {
            __m512 v = _mm512_loadu_ps(z + j);
            _mm256_storeu_ps(a + j, _mm512_cvtpd_ps(fd_exp8_fused(FD_LO8(v))));
            _mm256_storeu_ps(a + j + 8, _mm512_cvtpd_ps(fd_exp8_fused(FD_HI8(v))));
        }
        if (j < n) fd_exp_f_loop(z + j, a + j, n - j);
    }
    /* the sigmoid, 1 / (1 + exp(-z)), with fd_exp8_fused's exp: the last m % 8 values
       through a masked load and store */
    __attribute__((target("avx512f"))) static void fd_sigmoid_d_512(const double *z,
                                                                     double *a, Py_ssize_t n) {
        const __m512d one = _mm512_set1_pd(1.0);
        Py_ssize_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m512d e = fd_exp8_fused(_mm512_sub_pd(_mm512_setzero_pd(), _mm512_loadu_pd(z + j)));
            _mm512_storeu_pd(a + j, _mm512_div_pd(one, _mm512_add_pd(one, e)));
        }
        if (j < n) {
            __mmask8 k = (__mmask8)((1u << (n - j)) - 1);
            __m512d e = fd_exp8_fused(_mm512_sub_pd(_mm512_setzero_pd(),
                                                    _mm512_maskz_loadu_pd(k, z + j)));
            _mm512_mask_storeu_pd(a + j, k, _mm512_div_pd(one, _mm512_add_pd(one, e)));
        }
    }
    /* The float32 softmax output layer in one pass over each block of 16 columns (at most
       FD_SOFTMAX_ROWS rows, their values in registers): z = Z + b[i] in float, the
       column's maximum (rows in order, v > max ? v : max), z = z - max stored back to Z,
       a = fd_exp_f's exp of it, the column's sum of a in double (rows in order),
       a = (float)(a * (1 / sum)).  Each element and each column's sums take the values of
       fd_add_bias_rows_f, fd_softmax_shift_f, fd_exp_f and fd_softmax_scale_f in the same
       order, so Z and A end as those four passes leave them (tests/test_kernels_softmax.py
       compares them bit for bit); the maximum and the shift, which the shift pass takes in
       double, are the same values in float (see below), without the conversions; the
       saving is the passes' calls, loads and conversions, a tenth of a digits-sized
       mini-batch step.  The last block's columns past m through masked loads and stores. */
    #define FD_SOFTMAX_ROWS 32
    __attribute__((target("avx512f"))) static void fd_softmax_out_f_512(float *Z,
            const float *b, float *A, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld) {
        __m512 z[FD_SOFTMAX_ROWS];
        __m512d elo[FD_SOFTMAX_ROWS], ehi[FD_SOFTMAX_ROWS];
        for (Py_ssize_t j = 0; j < m; j += 16) {
            const __mmask16 k = m - j >= 16 ? (__mmask16)0xFFFF
                                            : (__mmask16)((1u << (m - j)) - 1);
            for (Py_ssize_t i = 0; i < rows; i++)
                z[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(k, Z + i * ld + j),
                                     _mm512_set1_ps(b[i]));
            /* the maximum of floats in float: the same value as in double (the conversion
               is exact and keeps the order; NaN compares false in both) */
            __m512 mx = z[0];
            for (Py_ssize_t i = 1; i < rows; i++)
                mx = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(z[i], mx, _CMP_GT_OQ), z[i]);
            __m512d slo = _mm512_setzero_pd(), shi = _mm512_setzero_pd();
            for (Py_ssize_t i = 0; i < rows; i++) {
                /* (float)((double)z - (double)max) is z - max in float: rounding a double
                   sum of two floats to float rounds once (53 >= 2 * 24 + 2 bits) */
                const __m512 d = _mm512_sub_ps(z[i], mx);
                _mm512_mask_storeu_ps(Z + i * ld + j, k, d);
                /* the exp's float values, held in double for the sum and the scaling */
                elo[i] = _mm512_cvtps_pd(_mm512_cvtpd_ps(fd_exp8_fused(FD_LO8(d))));
                ehi[i] = _mm512_cvtps_pd(_mm512_cvtpd_ps(fd_exp8_fused(FD_HI8(d))));
                slo = _mm512_add_pd(slo, elo[i]);
                shi = _mm512_add_pd(shi, ehi[i]);
            }
            const __m512d one = _mm512_set1_pd(1.0);
            slo = _mm512_div_pd(one, slo);
            shi = _mm512_div_pd(one, shi);
            for (Py_ssize_t i = 0; i < rows; i++) {
                __m256 flo = _mm512_cvtpd_ps(_mm512_mul_pd(elo[i], slo));
                __m256 fhi = _mm512_cvtpd_ps(_mm512_mul_pd(ehi[i], shi));
                _mm512_mask_storeu_ps(A + i * ld + j, k, FD_CAT8(flo, fhi));
            }
        }
    }
    #else
    #  define FD_EXP_512 0
    #endif
    /* whether the float32 softmax of `rows` outputs runs in one pass: the processor has
       AVX-512 and rows <= FD_SOFTMAX_ROWS (see fd_softmax_out_f_512) */
    static int fd_softmax_one_pass(Py_ssize_t rows) {
    #if FD_EXP_512
        return rows >= 1 && rows <= FD_SOFTMAX_ROWS && fd_avx512f();
    #else
        (void)rows;
        return 0;
    #endif
    }
    /* that one pass where it runs: 1 if done, else 0 (the caller runs the four passes) */
    static int fd_softmax_out_f(float *Z, const float *b, float *A, Py_ssize_t rows,
                                Py_ssize_t m, Py_ssize_t ld) {
        if (!fd_softmax_one_pass(rows))
            return 0;
    #if FD_EXP_512
        fd_softmax_out_f_512(Z, b, A, rows, m, ld);
    #else
        (void)Z; (void)b; (void)A; (void)m; (void)ld;
    #endif
        return 1;
    }
    /* the training engine's float64 sigmoid: fd_sigmoid_d, or on AVX-512 fd_sigmoid_d_512
       (the same formula, other last bits: the exp's steps fused) */
    static void fd_sigmoid_dv(const double *restrict z, double *restrict a, Py_ssize_t n) {
    #if FD_EXP_512
        if (fd_avx512f()) {
            fd_sigmoid_d_512(z, a, n);
            return;
        }
    #endif
        fd_sigmoid_d(z, a, n);
    }
    /* exp of float32 values: computed in double by fd_exp, rounded once */
    static void fd_exp_f(const float *restrict z, float *restrict a, Py_ssize_t n) {
    #if FD_EXP_512
        if (fd_avx512f()) {
            fd_exp_f_512(z, a, n);
            return;
        }
    #endif
        fd_exp_f_loop(z, a, n);
    }
    /* a test hook's way to the plain loop whatever the processor */
    static void fd_exp_f_plain(const float *restrict z, float *restrict a, Py_ssize_t n) {
        fd_exp_f_loop(z, a, n);
    }

    /* Row sums in float64 of an (rows x m) row-major block, each row's exactly as
       row_sum_f64 (_kernels.pxd) sums it: four partial sums s_k over j = k mod 4 in order,
       the last m mod 4 elements added to s0, then (s0 + s1) + (s2 + s3).  A row's four
       partial sums are one vector of four lanes, and 8 rows go side by side (8 independent
       chains of additions instead of 4 dependent ones): the same additions in the same
       order, so the same sums.  out[i] = sum of row i. */
    typedef double fd_rs4d __attribute__((vector_size(32)));
    typedef float fd_rs4f __attribute__((vector_size(16)));
    #define FD_ROW_SUMS(NAME, T, LOAD4)                                                   \
    FD_CLONES static void NAME(const T *restrict M, Py_ssize_t rows, Py_ssize_t m,        \
                               Py_ssize_t ld, double *restrict out) {                     \
        Py_ssize_t m4 = m - m % 4;                                                        \
        for (Py_ssize_t i0 = 0; i0 < rows; i0 += 8) {                                     \
            int nr = rows - i0 < 8 ? (int)(rows - i0) : 8;                                \
            fd_rs4d acc[8] = {{0}};                                                       \
            for (Py_ssize_t j = 0; j < m4; j += 4)                                        \
                for (int r = 0; r < nr; r++)                                              \
                    acc[r] += LOAD4(M + (i0 + r) * ld + j);                                \
            for (int r = 0; r < nr; r++) {                                                \
                const T *row = M + (i0 + r) * ld;                                          \
                double s0 = acc[r][0];                                                    \
                for (Py_ssize_t j = m4; j < m; j++) s0 += (double)row[j];                 \
                out[i0 + r] = (s0 + acc[r][1]) + (acc[r][2] + acc[r][3]);                 \
            }                                                                             \
        }                                                                                 \
    }
    static inline FD_INLINE fd_rs4d fd_load4d(const double *p) {
        fd_rs4d v; memcpy(&v, p, sizeof v); return v;
    }
    static inline FD_INLINE fd_rs4d fd_load4f(const float *p) {
        fd_rs4f v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, fd_rs4d);
    }
    FD_ROW_SUMS(fd_row_sums_d, double, fd_load4d)
    FD_ROW_SUMS(fd_row_sums_f_loop, float, fd_load4f)
    /* float32 with AVX2: the same sums, each 4 floats widened by one instruction
       (vcvtps2pd; GCC's generic widening of fd_load4f took two halves and an insert, and
       kept the 8 partial-sum vectors in memory), blocks of 8 rows by a constant count so
       that they stay in registers; a last block of fewer rows by the loop above */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #  include <immintrin.h>
    __attribute__((target("avx2"))) static void fd_row_sums_f_avx2(const float *restrict M,
            Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld, double *restrict out) {
        Py_ssize_t m4 = m - m % 4, i0 = 0;
        for (; i0 + 8 <= rows; i0 += 8) {
            __m256d acc[8];
            for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_pd();
            for (Py_ssize_t j = 0; j < m4; j += 4)
                for (int r = 0; r < 8; r++)
                    acc[r] = _mm256_add_pd(acc[r],
                                           _mm256_cvtps_pd(_mm_loadu_ps(M + (i0 + r) * ld + j)));
            for (int r = 0; r < 8; r++) {
                const float *row = M + (i0 + r) * ld;
                double a[4];
                _mm256_storeu_pd(a, acc[r]);
                double s0 = a[0];
                for (Py_ssize_t j = m4; j < m; j++) s0 += (double)row[j];
                out[i0 + r] = (s0 + a[1]) + (a[2] + a[3]);
            }
        }
        if (i0 < rows)
            fd_row_sums_f_loop(M + i0 * ld, rows - i0, m, ld, out + i0);
    }
    #endif
    static void fd_row_sums_f(const float *restrict M, Py_ssize_t rows, Py_ssize_t m,
                              Py_ssize_t ld, double *restrict out) {
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
        if (__builtin_cpu_supports("avx2")) {
            fd_row_sums_f_avx2(M, rows, m, ld, out);
            return;
        }
    #endif
        fd_row_sums_f_loop(M, rows, m, ld, out);
    }

    /* relu, as _relu (_kernels.pxd): a = z + b where z + b > 0 or is NaN, else +0; and its
       derivative from the output: d = 0 where a <= 0 */
    FD_CLONES static void fd_relu_bias_d(const double *restrict z, double b,
                                         double *restrict a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) { double v = z[j] + b; a[j] = v <= 0 ? 0.0 : v; }
    }
    FD_CLONES static void fd_relu_bias_f(const float *restrict z, float b,
                                         float *restrict a, Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) { float v = z[j] + b; a[j] = v <= 0 ? 0.0f : v; }
    }
    FD_CLONES static void fd_relu_back_d(double *restrict d, const double *restrict a,
                                         Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) d[j] = a[j] <= 0 ? 0.0 : d[j];
    }
    FD_CLONES static void fd_relu_back_f(float *restrict d, const float *restrict a,
                                         Py_ssize_t n) {
        for (Py_ssize_t j = 0; j < n; j++) d[j] = a[j] <= 0 ? 0.0f : d[j];
    }

    /* The output layer's passes around its exp/sigmoid, as losses.pxd's out_forward wrote
       them in Cython (compiled there for baseline x86-64 only): the same operations in the
       same order for each element and each column's sums, so the same values.  Z, A
       (rows x m) row-major with leading dimension ld.
       fd_add_bias_rows: z += b[i] on row i, in T.
       fd_softmax_shift: each column's maximum in double (z > max ? z : max, rows in order:
       a NaN is never taken), then z = (T)(z - max).
       fd_softmax_scale: after the exp, each column's sum in double (rows in order), its
       reciprocal, a = (T)(a * (1 / sum)).
       fd_out_delta: dZ = A - Y, times w[j] where w (sample weights) is given. */
    #define FD_OUT_PASSES(SUF, T)                                                          \
    FD_CLONES static void fd_add_bias_rows_##SUF(T *restrict Z, const T *restrict b,        \
                                                 Py_ssize_t rows, Py_ssize_t m,             \
                                                 Py_ssize_t ld) {                           \
        for (Py_ssize_t i = 0; i < rows; i++) {                                             \
            T bi = b[i], *restrict z = Z + i * ld;                                          \
            for (Py_ssize_t j = 0; j < m; j++) z[j] = z[j] + bi;                            \
        }                                                                                   \
    }                                                                                       \
    FD_CLONES static void fd_softmax_shift_##SUF(T *restrict Z, Py_ssize_t rows,            \
                                                 Py_ssize_t m, Py_ssize_t ld,               \
                                                 double *restrict colmax) {                 \
        for (Py_ssize_t j = 0; j < m; j++) colmax[j] = Z[j];                                \
        for (Py_ssize_t i = 1; i < rows; i++) {                                             \
            const T *restrict z = Z + i * ld;                                               \
            for (Py_ssize_t j = 0; j < m; j++) {                                            \
                double v = z[j];                                                            \
                colmax[j] = v > colmax[j] ? v : colmax[j];                                  \
            }                                                                               \
        }                                                                                   \
        for (Py_ssize_t i = 0; i < rows; i++) {                                             \
            T *restrict z = Z + i * ld;                                                     \
            for (Py_ssize_t j = 0; j < m; j++) z[j] = (T)(z[j] - colmax[j]);                \
        }                                                                                   \
    }                                                                                       \
    FD_CLONES static void fd_softmax_scale_##SUF(T *restrict A, Py_ssize_t rows,            \
                                                 Py_ssize_t m, Py_ssize_t ld,               \
                                                 double *restrict colsum) {                 \
        for (Py_ssize_t j = 0; j < m; j++) colsum[j] = 0;                                   \
        for (Py_ssize_t i = 0; i < rows; i++) {                                             \
            const T *restrict a = A + i * ld;                                               \
            for (Py_ssize_t j = 0; j < m; j++) colsum[j] += a[j];                           \
        }                                                                                   \
        for (Py_ssize_t j = 0; j < m; j++) colsum[j] = 1.0 / colsum[j];                     \
        for (Py_ssize_t i = 0; i < rows; i++) {                                             \
            T *restrict a = A + i * ld;                                                     \
            for (Py_ssize_t j = 0; j < m; j++) a[j] = (T)(a[j] * colsum[j]);                \
        }                                                                                   \
    }                                                                                       \
    FD_CLONES static void fd_out_delta_##SUF(T *restrict dZ, const T *restrict A,           \
                                             const T *restrict Y, Py_ssize_t ldy,           \
                                             const T *restrict w, Py_ssize_t rows,          \
                                             Py_ssize_t m, Py_ssize_t ld) {                 \
        for (Py_ssize_t i = 0; i < rows; i++) {                                             \
            T *restrict d = dZ + i * ld;                                                    \
            const T *restrict a = A + i * ld, *restrict y = Y + i * ldy;                    \
            if (w == NULL)                                                                  \
                for (Py_ssize_t j = 0; j < m; j++) d[j] = a[j] - y[j];                      \
            else                                                                            \
                for (Py_ssize_t j = 0; j < m; j++) d[j] = (a[j] - y[j]) * w[j];             \
        }                                                                                   \
    }
    FD_OUT_PASSES(d, double)
    FD_OUT_PASSES(f, float)
    #if defined(__GNUC__) && !defined(__clang__)
    #  pragma GCC pop_options
    #endif
    """
    double fd_exp(double x) noexcept nogil
    double fd_sigmoid1(double z) noexcept nogil
    void fd_sigmoid_d(const double *z, double *a, Py_ssize_t n) noexcept nogil
    void fd_sigmoid_f(const float *z, float *a, Py_ssize_t n) noexcept nogil
    void fd_sigmoid_dv(const double *z, double *a, Py_ssize_t n) noexcept nogil
    void fd_sigmoid_backward_d(const double *da, const double *z, double *dz,
                               Py_ssize_t n) noexcept nogil
    void fd_sigmoid_backward_f(const float *da, const float *z, float *dz,
                               Py_ssize_t n) noexcept nogil
    void fd_exp_d(const double *z, double *a, Py_ssize_t n) noexcept nogil
    void fd_exp_f(const float *z, float *a, Py_ssize_t n) noexcept nogil
    void fd_exp_f_plain(const float *z, float *a, Py_ssize_t n) noexcept nogil
    void fd_row_sums_d(const double *M, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                       double *out) noexcept nogil
    void fd_row_sums_f(const float *M, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                       double *out) noexcept nogil
    void fd_relu_bias_d(const double *z, double b, double *a, Py_ssize_t n) noexcept nogil
    void fd_relu_bias_f(const float *z, float b, float *a, Py_ssize_t n) noexcept nogil
    void fd_relu_back_d(double *d, const double *a, Py_ssize_t n) noexcept nogil
    void fd_relu_back_f(float *d, const float *a, Py_ssize_t n) noexcept nogil
    void fd_add_bias_rows_d(double *Z, const double *b, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t ld) noexcept nogil
    void fd_add_bias_rows_f(float *Z, const float *b, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t ld) noexcept nogil
    void fd_softmax_shift_d(double *Z, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colmax) noexcept nogil
    void fd_softmax_shift_f(float *Z, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colmax) noexcept nogil
    void fd_softmax_scale_d(double *A, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colsum) noexcept nogil
    void fd_softmax_scale_f(float *A, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colsum) noexcept nogil
    int fd_softmax_out_f(float *Z, const float *b, float *A, Py_ssize_t rows, Py_ssize_t m,
                         Py_ssize_t ld) noexcept nogil
    int fd_softmax_one_pass(Py_ssize_t rows) noexcept nogil
    void fd_out_delta_d(double *dZ, const double *A, const double *Y, Py_ssize_t ldy,
                        const double *w, Py_ssize_t rows, Py_ssize_t m,
                        Py_ssize_t ld) noexcept nogil
    void fd_out_delta_f(float *dZ, const float *A, const float *Y, Py_ssize_t ldy,
                        const float *w, Py_ssize_t rows, Py_ssize_t m,
                        Py_ssize_t ld) noexcept nogil

# --------------------------------------------------------------------------
# 1. point functions
# --------------------------------------------------------------------------

cdef inline floating _sigmoid(floating z) noexcept nogil:
    return <floating>fd_sigmoid1(<double>z)     # float32 too: computed in double, rounded once


# _relu(z) is defined in _kernels.pxd, so that the training engine shares it.


cdef inline double _clamped_log(double x) noexcept nogil:
    """log(x), never below -100 (log(0) = -inf would turn 0 * log(0) into NaN)."""
    cdef double v = log(x)
    if v < -100.0:
        return -100.0
    return v


# --------------------------------------------------------------------------
# 2. loops
# --------------------------------------------------------------------------

cdef void matmul(const floating[:, :] L, bint l_rowmajor,
                 const floating[:, :] R, bint r_rowmajor,
                 floating[:, ::1] out, floating alpha, floating beta) noexcept nogil:
    """out = alpha * L @ R + beta * out.

    L and R must each be contiguous in one dimension: l_rowmajor says which
    (C order when true, Fortran order when false).  Checked by the caller.
    """
    cdef int m = L.shape[0], k = L.shape[1], n = R.shape[1]
    cdef int lda = <int>L.shape[1] if l_rowmajor else <int>L.shape[0]
    cdef int ldb = <int>R.shape[1] if r_rowmajor else <int>R.shape[0]
    if lda < 1:
        lda = 1
    if ldb < 1:
        ldb = 1
    gemm(m, n, k, alpha, &L[0, 0], lda, l_rowmajor,
         &R[0, 0], ldb, r_rowmajor, beta, &out[0, 0], n)


cdef void sigmoid_ptr(const floating *z, floating *a, Py_ssize_t n) noexcept nogil:
    """a[j] = 1 / (1 + exp(-z[j])) for n contiguous elements (the vectorised loop; a may be z).
    The training engine's (fastdnn._core): in float64 on AVX-512 the exp's steps fused."""
    if floating is double:
        fd_sigmoid_dv(z, a, n)
    else:
        fd_sigmoid_f(z, a, n)


cdef void exp_ptr(const floating *z, floating *a, Py_ssize_t n) noexcept nogil:
    """a[j] = exp(z[j]) (fd_exp, within 4 ulps of numpy's) for n contiguous elements."""
    if floating is double:
        fd_exp_d(z, a, n)
    else:
        fd_exp_f(z, a, n)


cdef void row_sums_ptr(const floating *M, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                      double *out) noexcept nogil:
    """out[i] = row_sum_f64(M + i m, m) for the rows of a row-major (rows x m) block: the
    same sums, rows side by side."""
    if floating is double:
        fd_row_sums_d(M, rows, m, ld, out)
    else:
        fd_row_sums_f(M, rows, m, ld, out)


cdef void relu_bias_ptr(const floating *z, floating b, floating *a,
                        Py_ssize_t n) noexcept nogil:
    """a[j] = _relu(z[j] + b) for n contiguous elements (the vectorised loop)."""
    if floating is double:
        fd_relu_bias_d(z, b, a, n)
    else:
        fd_relu_bias_f(z, b, a, n)


cdef void relu_back_ptr(floating *d, const floating *a, Py_ssize_t n) noexcept nogil:
    """d[j] = 0 where a[j] <= 0 (relu's derivative from its output; NaN keeps d)."""
    if floating is double:
        fd_relu_back_d(d, a, n)
    else:
        fd_relu_back_f(d, a, n)


cdef void add_bias_rows_ptr(floating *Z, const floating *b, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t ld) noexcept nogil:
    """Z[i, j] += b[i] for a row-major (rows x m) block, leading dimension ld."""
    if floating is double:
        fd_add_bias_rows_d(Z, b, rows, m, ld)
    else:
        fd_add_bias_rows_f(Z, b, rows, m, ld)


cdef void softmax_shift_ptr(floating *Z, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colmax) noexcept nogil:
    """The softmax's first pass: Z -= each column's maximum (taken in double); colmax: m
    doubles of scratch."""
    if floating is double:
        fd_softmax_shift_d(Z, rows, m, ld, colmax)
    else:
        fd_softmax_shift_f(Z, rows, m, ld, colmax)


cdef void softmax_scale_ptr(floating *A, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                            double *colsum) noexcept nogil:
    """The softmax's last pass, after the exp: A *= 1 / each column's sum (summed and
    inverted in double); colsum: m doubles of scratch."""
    if floating is double:
        fd_softmax_scale_d(A, rows, m, ld, colsum)
    else:
        fd_softmax_scale_f(A, rows, m, ld, colsum)


cdef void softmax_ptr(floating *Z, const floating *b, floating *A, Py_ssize_t rows,
                      Py_ssize_t m, Py_ssize_t ld, double *colmax, double *colsum,
                      bint one_pass) noexcept nogil:
    """The softmax output layer, A = softmax(Z + b) over each column, stably: the bias
    added, the column's max subtracted (in double), the exp, then one division per column
    and products (a * (1/s) differs from a / s by rounding); Z (scratch) left as z + b -
    max.  With one_pass, where that is compiled and runs (float32 on AVX-512, at most 32
    rows), fd_softmax_out_f does it all in one pass with the same values; else the four
    passes.  colmax, colsum: m doubles of scratch."""
    cdef Py_ssize_t i
    if floating is float:
        if one_pass and fd_softmax_out_f(Z, b, A, rows, m, ld):
            return
    add_bias_rows_ptr(Z, b, rows, m, ld)
    softmax_shift_ptr(Z, rows, m, ld, colmax)
    if ld == m:
        exp_ptr(Z, A, rows * m)         # the rows contiguous: one pass over the block
    else:
        for i in range(rows):
            exp_ptr(Z + i * ld, A + i * ld, m)
    softmax_scale_ptr(A, rows, m, ld, colsum)


cdef void out_delta_ptr(floating *dZ, const floating *A, const floating *Y, Py_ssize_t ldy,
                        const floating *w, Py_ssize_t rows, Py_ssize_t m,
                        Py_ssize_t ld) noexcept nogil:
    """dZ = (A - Y) * w[j] (w NULL: A - Y); A, dZ leading dimension ld, Y ldy."""
    if floating is double:
        fd_out_delta_d(dZ, A, Y, ldy, w, rows, m, ld)
    else:
        fd_out_delta_f(dZ, A, Y, ldy, w, rows, m, ld)


cdef void add_bias(floating[:, ::1] Z, const floating[:, :] b) noexcept nogil:
    """Z += b (b is n x 1, broadcast along the m columns)."""
    cdef Py_ssize_t i, j
    cdef floating bi
    for i in range(Z.shape[0]):
        bi = b[i, 0]
        for j in range(Z.shape[1]):
            Z[i, j] = Z[i, j] + bi


cdef void add_bias_relu(floating[:, ::1] Z, const floating[:, :] b, floating[:, ::1] A) noexcept nogil:
    """Z += b; A = relu(Z)."""
    cdef Py_ssize_t i, j
    cdef floating bi, z
    for i in range(Z.shape[0]):
        bi = b[i, 0]
        for j in range(Z.shape[1]):
            z = Z[i, j] + bi
            Z[i, j] = z
            A[i, j] = _relu(z)


cdef void add_bias_sigmoid(floating[:, ::1] Z, const floating[:, :] b, floating[:, ::1] A) noexcept nogil:
    """Z += b; A = sigmoid(Z), row by row (Z's rows are contiguous)."""
    cdef Py_ssize_t i, j, n = Z.shape[1]
    cdef floating bi
    for i in range(Z.shape[0]):
        bi = b[i, 0]
        for j in range(n):
            Z[i, j] = Z[i, j] + bi
        if floating is double:
            fd_sigmoid_d(&Z[i, 0], &A[i, 0], n)
        else:
            fd_sigmoid_f(&Z[i, 0], &A[i, 0], n)


cdef void relu(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil:
    """A = max(0, Z)."""
    cdef Py_ssize_t i, j
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            A[i, j] = _relu(Z[i, j])


cdef void sigmoid(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil:
    """A = 1 / (1 + exp(-Z))."""
    cdef Py_ssize_t i, j, n = Z.shape[1]
    if Z.strides[1] == sizeof(floating):        # rows contiguous: the SIMD loop
        for i in range(Z.shape[0]):
            if floating is double:
                fd_sigmoid_d(&Z[i, 0], &A[i, 0], n)
            else:
                fd_sigmoid_f(&Z[i, 0], &A[i, 0], n)
        return
    for i in range(Z.shape[0]):
        for j in range(n):
            A[i, j] = _sigmoid(Z[i, j])


cdef void relu_backward(const floating[:, :] dA, const floating[:, :] Z, floating[:, ::1] dZ) noexcept nogil:
    """dZ = dA where Z > 0, else 0."""
    cdef Py_ssize_t i, j
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            dZ[i, j] = 0 if Z[i, j] <= 0 else dA[i, j]


cdef void sigmoid_backward(const floating[:, :] dA, const floating[:, :] Z, floating[:, ::1] dZ) noexcept nogil:
    """dZ = dA * s * (1 - s) with s = sigmoid(Z)."""
    cdef Py_ssize_t i, j, n = Z.shape[1]
    cdef floating s
    if Z.strides[1] == sizeof(floating) and dA.strides[1] == sizeof(floating):
        for i in range(Z.shape[0]):
            if floating is double:
                fd_sigmoid_backward_d(&dA[i, 0], &Z[i, 0], &dZ[i, 0], n)
            else:
                fd_sigmoid_backward_f(&dA[i, 0], &Z[i, 0], &dZ[i, 0], n)
        return
    for i in range(Z.shape[0]):
        for j in range(n):
            s = _sigmoid(Z[i, j])
            dZ[i, j] = dA[i, j] * s * (<floating>1 - s)   # in the dtype, as the SIMD loop


cdef void row_means(const floating[:, :] dZ, floating[:, ::1] db, double m) noexcept nogil:
    """db[i, 0] = sum_j dZ[i, j] / m, summed in float64."""
    cdef Py_ssize_t i, j
    cdef double s
    for i in range(dZ.shape[0]):
        s = 0
        for j in range(dZ.shape[1]):
            s += dZ[i, j]
        db[i, 0] = <floating>(s / m)


cdef double cross_entropy(const floating[:, :] AL, const floating[:, :] Y) noexcept nogil:
    """-(1/m) * sum(Y log AL + (1 - Y) log(1 - AL)), m = AL.shape[1], in float64."""
    cdef Py_ssize_t i, j
    cdef double s = 0, a, y
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            s += y * _clamped_log(a) + (1 - y) * _clamped_log(1 - a)
    return -s / AL.shape[1]


cdef void cross_entropy_grad(const floating[:, :] AL, const floating[:, :] Y, floating[:, ::1] dAL) noexcept nogil:
    """dAL = -(Y / AL - (1 - Y) / (1 - AL))."""
    cdef Py_ssize_t i, j
    cdef floating a, y
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            dAL[i, j] = -(y / a - (1 - y) / (1 - a))


cdef void axpy_into(const floating[:, :] P, const floating[:, :] dP, double lr,
                    floating[:, ::1] out) noexcept nogil:
    """out = P - lr * dP (lr rounded to the dtype of P first, as numpy would)."""
    cdef floating r = <floating>lr
    cdef Py_ssize_t i, j
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            out[i, j] = P[i, j] - r * dP[i, j]


def exp_float32(z, bint plain=False, Py_ssize_t repeat=1):
    """exp of a float32 array as the engine's softmax computes it (a test hook): fd_exp_f,
    which picks its AVX-512 path where the processor has it; ``plain``: the portable loop
    instead (bench/exp_float32.py compares the two over every float32); ``repeat``: that
    many times in a row (for timing)."""
    import numpy as np
    x = np.ascontiguousarray(z, dtype=np.float32)
    out = np.empty_like(x)
    cdef float[::1] xv = x.reshape(-1)
    cdef float[::1] ov = out.reshape(-1)
    cdef Py_ssize_t n = xv.shape[0], r
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if n == 0:
        return out
    with nogil:
        for r in range(repeat):
            if plain:
                fd_exp_f_plain(&xv[0], &ov[0], n)
            else:
                fd_exp_f(&xv[0], &ov[0], n)
    return out


def softmax_output(Z, b, Py_ssize_t m=-1, bint fused=True):
    """The engine's float32 softmax output layer on a copy of Z (a test hook): A =
    softmax(Z + b[:, None]) over each column of the first m columns of the row-major
    (rows, ld) float32 Z (m = -1: all).  ``fused``: the one-pass kernel (None where it does
    not run: no AVX-512, or more than 32 rows); else the four passes it replaces.  Returns
    (Z after, A), both (rows, ld), columns past m untouched (Z's) or zero (A's)."""
    import numpy as np
    z = np.array(Z, dtype=np.float32, order="C", copy=True)
    bv = np.ascontiguousarray(b, dtype=np.float32)
    if z.ndim != 2 or bv.shape != (z.shape[0],):
        raise ValueError(f"Z must be 2-D and b (rows,), got {np.shape(Z)} and {np.shape(b)}")
    rows, ld = z.shape
    if m < 0:
        m = ld
    if m > ld or rows == 0:
        raise ValueError(f"m must be at most Z's {ld} columns and Z non-empty, got m={m}, {z.shape}")
    a = np.zeros_like(z)
    scratch = np.empty((2, max(m, 1)))
    cdef float[:, ::1] zv = z
    cdef float[:, ::1] av = a
    cdef const float[::1] bw = bv
    cdef double[:, ::1] sv = scratch
    cdef Py_ssize_t nr = rows, width = m, lead = ld
    if fused and not fd_softmax_one_pass(nr):
        return None
    if m == 0:
        return z, a
    with nogil:
        softmax_ptr[float](&zv[0, 0], &bw[0], &av[0, 0], nr, width, lead, &sv[0, 0],
                           &sv[1, 0], fused)
    return z, a
