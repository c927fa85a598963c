# Output units and their losses.  One gradient rule for all of them (canonical link):
#
#     dZ_L = (A_L - Y) * w_j          (w: sample weights, 1 without them)
#
# and each output needs only its forward kernel and its loss value:
#
#   sigmoid   A = 1/(1+e^-Z), n_L independent units   l_j = -sum_i [y log a + (1-y) log(1-a)]
#   softmax   A = e^(Z - max) / sum (per column)      l_j = -sum_i y log a
#   identity  A = Z                                   l_j = 1/2 sum_i (a - y)^2
#   exp       A = e^Z (Poisson regression)            l_j = sum_i [y log(y/a) - y + a]
#
# Loss conventions (fastdnn.training.registry.LOSS_CONVENTIONS):
#   course   logs clamped at -100 (PyTorch's BCELoss; the seed's compute_cost)
#   sklearn  probabilities clipped to [eps, 1 - eps] (eps of the dtype) and y log a taken as
#            0 where y = 0 (xlogy); the squared error averaged over the outputs too
# Values are summed in float64.
from libc.math cimport log
from fastdnn._blas cimport floating
from fastdnn._kernels cimport (add_bias_rows_ptr, exp_ptr, out_delta_ptr, sigmoid_ptr,
                               softmax_ptr)

# The scikit-learn convention's binary loss (one sigmoid unit, float64), eight columns at a
# time on AVX-512: fd_log8 is fdlibm's log (e_log.c's reduction to [sqrt(2)/2, sqrt(2)) and
# its polynomial in s = f / (2 + f), the hfsq form), error under an ulp
# (tests/test_losses_vector.py against numpy's log); lanes outside the positive normal
# numbers (0, negative, subnormal, infinite, NaN) take libm's log instead.  The loss per
# column as the scalar loop below (xlogy of the clipped probability); the columns' terms
# summed in eight lanes, then pairwise: the sum rounds differently from the loop's.
cdef extern from *:
    """
    #include <math.h>
    #include "fastdnn/_simd.h"
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #  include <immintrin.h>
    #  define FD_LOG_512 1
    __attribute__((target("avx512f"))) static inline FD_INLINE __m512d fd_log8(__m512d x) {
        const __m512d one = _mm512_set1_pd(1.0), two = _mm512_set1_pd(2.0),
                      half = _mm512_set1_pd(0.5);
        __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
        __m512d k = _mm512_getexp_pd(x);
        __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
        m = _mm512_mask_mul_pd(m, big, m, half);
        k = _mm512_mask_add_pd(k, big, k, one);
        __m512d f = _mm512_sub_pd(m, one);
        __m512d s = _mm512_div_pd(f, _mm512_add_pd(two, f));
        __m512d z = _mm512_mul_pd(s, s), w = _mm512_mul_pd(z, z);
        __m512d t1 = _mm512_fmadd_pd(w, _mm512_set1_pd(1.531383769920937332e-01),
                                     _mm512_set1_pd(2.222219843214978396e-01));
        t1 = _mm512_fmadd_pd(w, t1, _mm512_set1_pd(3.999999999940941908e-01));
        t1 = _mm512_mul_pd(w, t1);
        __m512d t2 = _mm512_fmadd_pd(w, _mm512_set1_pd(1.479819860511658591e-01),
                                     _mm512_set1_pd(1.818357216161805012e-01));
        t2 = _mm512_fmadd_pd(w, t2, _mm512_set1_pd(2.857142874366239149e-01));
        t2 = _mm512_fmadd_pd(w, t2, _mm512_set1_pd(6.666666666666735130e-01));
        t2 = _mm512_mul_pd(z, t2);
        __m512d R = _mm512_add_pd(t2, t1);
        __m512d hfsq = _mm512_mul_pd(_mm512_mul_pd(half, f), f);
        /* k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f) */
        __m512d inner = _mm512_fmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10),
                                        _mm512_mul_pd(s, _mm512_add_pd(hfsq, R)));
        __m512d r = _mm512_sub_pd(_mm512_sub_pd(hfsq, inner), f);
        r = _mm512_fmsub_pd(k, _mm512_set1_pd(6.93147180369123816490e-01), r);
        /* lanes outside [DBL_MIN, DBL_MAX]: libm */
        __mmask8 ok = _mm512_cmp_pd_mask(x, _mm512_set1_pd(0x1p-1022), _CMP_GE_OQ)
                    & _mm512_cmp_pd_mask(x, _mm512_set1_pd(0x1.fffffffffffffp+1023), _CMP_LE_OQ);
        if (ok != 0xFF) {
            double v[8], o[8];
            _mm512_storeu_pd(v, x);
            _mm512_storeu_pd(o, r);
            for (int i = 0; i < 8; i++)
                if (!((ok >> i) & 1)) o[i] = log(v[i]);
            r = _mm512_loadu_pd(o);
        }
        return r;
    }
    /* log of n values (a test hook's way to fd_log8) */
    __attribute__((target("avx512f"))) static void fd_log_array_512(const double *x, double *out,
                                                                   long n) {
        long j = 0;
        for (; j + 8 <= n; j += 8) _mm512_storeu_pd(out + j, fd_log8(_mm512_loadu_pd(x + j)));
        if (j < n) {
            __mmask8 k = (__mmask8)((1u << (n - j)) - 1);
            __m512d v = _mm512_mask_loadu_pd(_mm512_set1_pd(1.0), k, x + j);
            _mm512_mask_storeu_pd(out + j, k, fd_log8(v));
        }
    }
    /* sum_j w_j l_j, l_j = -(xlogy(y, p) + xlogy(1 - y, 1 - p)), p = a clipped to
       [eps, 1 - eps], over m columns (w NULL: weights 1) */
    __attribute__((target("avx512f"))) static double fd_logloss_bin_512(const double *a,
            const double *y, const double *w, long m, double eps) {
        const __m512d lo = _mm512_set1_pd(eps), hi = _mm512_set1_pd(1 - eps),
                      one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
        __m512d acc = zero;
        for (long j = 0; j < m; j += 8) {
            __mmask8 k = m - j >= 8 ? 0xFF : (__mmask8)((1u << (m - j)) - 1);
            __m512d p = _mm512_mask_loadu_pd(_mm512_set1_pd(0.5), k, a + j);
            __m512d yv = _mm512_maskz_loadu_pd(k, y + j);
            /* NaN stays NaN (max and min give their second operand if either is NaN) */
            p = _mm512_min_pd(hi, _mm512_max_pd(lo, p));
            __m512d q = _mm512_sub_pd(one, p), ny = _mm512_sub_pd(one, yv);
            __m512d t = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(yv, zero, _CMP_NEQ_UQ) & k,
                                            yv, fd_log8(p));
            t = _mm512_add_pd(t, _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(ny, zero, _CMP_NEQ_UQ)
                                                     & k, ny, fd_log8(q)));
            if (w) t = _mm512_mul_pd(_mm512_maskz_loadu_pd(k, w + j), t);
            acc = _mm512_sub_pd(acc, t);
        }
        double v[8];
        _mm512_storeu_pd(v, acc);
        return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
    #else
    #  define FD_LOG_512 0
    static void fd_log_array_512(const double *x, double *out, long n) {
        (void)x; (void)out; (void)n;
    }
    static double fd_logloss_bin_512(const double *a, const double *y, const double *w,
                                     long m, double eps) {
        (void)a; (void)y; (void)w; (void)m; (void)eps; return 0;
    }
    #endif
    /* whether the processor runs fd_log8 (AVX-512F) */
    static int fd_log_512(void) { return FD_LOG_512 && fd_avx512f(); }
    """
    int fd_log_512() noexcept nogil
    void fd_log_array_512(const double *x, double *out, long n) noexcept nogil
    double fd_logloss_bin_512(const double *a, const double *y, const double *w, long m,
                              double eps) noexcept nogil


cdef enum Output:
    OUT_SIGMOID = 0
    OUT_SOFTMAX = 1
    OUT_IDENTITY = 2
    OUT_EXP = 3

cdef enum LossConvention:
    LOSS_COURSE = 0
    LOSS_SKLEARN = 1


cdef inline void out_forward(int out, floating *Z, const floating *b, floating *A,
                             int rows, int m, double *colmax, double *colsum,
                             Py_ssize_t ld) noexcept nogil:
    """A = out(Z + b), Z and A (rows x m) row-major with leading dimension ld (>= m) and
    distinct (Z is scratch); colmax, colsum: m doubles of scratch for the softmax.  The
    passes are fastdnn._kernels' C loops (compiled for AVX-512, AVX2 and baseline)."""
    cdef Py_ssize_t i, j, nrows = rows, width = m
    if out == OUT_SOFTMAX:
        softmax_ptr(Z, b, A, rows, m, ld, colmax, colsum, True)
        return
    add_bias_rows_ptr(Z, b, rows, m, ld)
    if out == OUT_IDENTITY:
        for i in range(rows):
            for j in range(m):
                A[i * ld + j] = Z[i * ld + j]
        return
    if ld == m:
        # the rows contiguous: the elementwise function in one pass over the block
        nrows = 1
        width = <Py_ssize_t>rows * m
    for i in range(nrows):
        if out == OUT_SIGMOID:
            sigmoid_ptr(Z + i * ld, A + i * ld, width)
        else:
            exp_ptr(Z + i * ld, A + i * ld, width)


cdef inline double _clog(double x) noexcept nogil:
    """log(x) clamped at -100."""
    cdef double v = log(x)
    return -100.0 if v < -100.0 else v


cdef inline double _xlogy(double y, double x) noexcept nogil:
    """y log x, 0 where y == 0 (scipy's xlogy)."""
    if y == 0:
        return 0.0
    return y * log(x)


cdef inline double loss_sum(int out, int conv, const floating *A, const floating *Y, int ldy,
                            const floating *w, int rows, int m, double eps,
                            Py_ssize_t lda) noexcept nogil:
    """sum_j w_j l_j over the m columns (w NULL: weights 1), in float64.
    A is (rows x m) row-major; Y (rows x m) row-major with leading dimension ldy; eps is the
    clipping bound of the sklearn convention."""
    cdef Py_ssize_t i, j
    cdef double s = 0, col, a, y, p
    if (floating is double and out == OUT_SIGMOID and conv == LOSS_SKLEARN and rows == 1
            and fd_log_512()):
        return fd_logloss_bin_512(<const double *>A, <const double *>Y,
                                  <const double *>w, m, eps)
    for j in range(m):
        col = 0
        for i in range(rows):
            a = A[i * lda + j]
            y = Y[i * ldy + j]
            if out == OUT_SIGMOID:
                if conv == LOSS_SKLEARN:
                    p = eps if a < eps else (1 - eps if a > 1 - eps else a)
                    col -= _xlogy(y, p) + _xlogy(1 - y, 1 - p)
                else:
                    col -= y * _clog(a) + (1 - y) * _clog(1 - a)
            elif out == OUT_SOFTMAX:
                if conv == LOSS_SKLEARN:
                    p = eps if a < eps else (1 - eps if a > 1 - eps else a)
                    col -= _xlogy(y, p)
                else:
                    col -= y * _clog(a)
            elif out == OUT_IDENTITY:
                col += 0.5 * (a - y) * (a - y)
            else:
                col += (_xlogy(y, y / a) if y != 0 else 0.0) - y + a
        if out == OUT_IDENTITY and conv == LOSS_SKLEARN:
            col /= rows
        s += col if w == NULL else w[j] * col
    return s


cdef inline void output_delta(floating *dZ, const floating *A, const floating *Y, int ldy,
                              const floating *w, int rows, int m, Py_ssize_t ld) noexcept nogil:
    """dZ = (A - Y) * w_j (w NULL: weights 1)."""
    out_delta_ptr(dZ, A, Y, ldy, w, rows, m, ld)
