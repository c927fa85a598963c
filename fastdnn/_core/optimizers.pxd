# Optimisers: one nogil pass per parameter array, the L2 term folded in.
#
# g = G + l2 * P   (G: the loss gradient, l2 = lambd / N for weights, 0 for biases; gd and
#                   adam take g = G itself where l2 is 0, the same value for finite P)
#
#   gd            P -= lr g
#   momentum      V = beta V + (1 - beta) g;  P -= lr V                   (course 2)
#   adam          V = b1 V + (1 - b1) g;  S = b2 S + (1 - b2) g^2;
#                 P -= lr (V / c1) / (sqrt(S / c2) + eps),  c_k = 1 - b_k^t (course 2;
#                 computed as (lr/c1) V / (sqrt(S (1/c2)) + eps))
#   sgd           V = mu V - lr g;  P += V,  or with Nesterov  P += mu V - lr g  (scikit-learn)
#   adam_sklearn  V, S as adam;  P -= lr_t V / (sqrt(S) + eps),
#                 lr_t = lr sqrt(c2) / c1                                (scikit-learn)
#
# The values of the enum are the ones of fastdnn.training.registry.OPTIMIZERS.
from libc.math cimport sqrt, sqrtf
from fastdnn._blas cimport floating

# Adam's update loop in C.  Every element as written above (no fused steps: the pragma), and
# the division (c V) / (sqrt(S k) + eps) either by the divider or, on AVX-512 processors, by
# Newton-Raphson on the multiply-add units: y = rcp14(b) (14 bits), two steps
# y += y (1 - b y) (float32: one), q0 = a y, then q = q0 + (a - q0 b) y with the remainder
# a - q0 b exact (one fused multiply-add).  That gives the correctly rounded quotient, the
# divider's: `bench/adam_division.py` found no difference in 2e8 random float64 quotients
# and 1.2e8 float32 ones (half of them with every mantissa of b), and a step fewer makes it
# find some; tests/test_engine_v2_api.py checks every path against numpy exactly.  On
# Intel's AVX-512 the square roots keep the divider busy and the divisions run beside them:
# one Adam pass over 7,510 float64 parameters took 6.1 us against 9.2 by the plain loop's
# divider, over 2,410 float32 ones 0.83 against 1.00 (same script).  The quotient's range
# is kept where that holds: a vector whose b or nonzero |a| is outside [2^-500, 2^500]
# (float32: [2^-60, 2^60]), NaN or infinite divides.  On AMD's (Zen 4) the divider of
# 512-bit vectors is the faster: float32 0.67 us against Newton-Raphson's 0.88-0.96 and the
# plain loop's 1.44-1.50, float64 about even (6.5 against 6.3-6.8 us); so AVX-512 has two
# paths, picked by the processor's maker (fd_adam_default_path).
cdef extern from *:
    r"""
    #include <immintrin.h>
    #include <math.h>
    #include "fastdnn/_simd.h"
    #if defined(__GNUC__) && !defined(__clang__)
    #  pragma GCC push_options
    #  pragma GCC optimize ("fp-contract=off")
    #endif
    #define FD_ADAM_SCALAR(T, SQRT)                                                       \
        for (; i < n; i++) {                                                              \
            T g = lam == 0 ? G[i] : G[i] + lam * P[i];                                    \
            T vk = b1 * V[i] + omb1 * g;                                                  \
            T sk = b2 * S[i] + omb2 * (g * g);                                            \
            V[i] = vk; S[i] = sk;                                                         \
            P[i] = P[i] - (c * vk) / (SQRT(sk * kk) + eps);                               \
        }
    #define FD_ADAM_ARGS(T) T *restrict P, const T *restrict G, T *restrict V,            \
        T *restrict S, Py_ssize_t n, T lam, T b1, T omb1, T b2, T omb2, T c, T kk, T eps
    static void fd_adam_div_d(FD_ADAM_ARGS(double)) {
        Py_ssize_t i = 0;
        FD_ADAM_SCALAR(double, __builtin_sqrt)
    }
    static void fd_adam_div_f(FD_ADAM_ARGS(float)) {
        Py_ssize_t i = 0;
        FD_ADAM_SCALAR(float, __builtin_sqrtf)
    }
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #  define FD_ADAM_NEWTON 1
    /* W: vector width in elements; X: the intrinsics' suffix (pd, ps); M: mask type */
    /* the loop for one (lam == 0, eps >= LO) case: NAME_body with has_lam, check_lo
       constants (always inlined into NAME, once per case).  A vector's checks as masked
       compares, each ANDed into the last's mask: b <= HI (false for NaN), b >= LO unless
       eps >= LO makes it hold (b = sqrt(.) + eps is NaN or at least eps), |a| <= HI, then
       |a| >= LO or a == 0 */
    #define FD_ADAM_512(NAME, T, X, W, M, FULL, LO, HI, STEPS)                             \
    __attribute__((target("avx512f"), always_inline)) static inline void NAME##_body(     \
            FD_ADAM_ARGS(T), const int has_lam, const int check_lo, const int newton) {   \
        const __m512##X##_t vl = _mm512_set1_##X(lam), vb1 = _mm512_set1_##X(b1),         \
            vo1 = _mm512_set1_##X(omb1), vb2 = _mm512_set1_##X(b2),                       \
            vo2 = _mm512_set1_##X(omb2), vc = _mm512_set1_##X(c), vk = _mm512_set1_##X(kk), \
            ve = _mm512_set1_##X(eps), one = _mm512_set1_##X(1), lo = _mm512_set1_##X(LO),  \
            hi = _mm512_set1_##X(HI), zero = _mm512_setzero_##X();                        \
        Py_ssize_t i = 0;                                                                 \
        for (; i + W <= n; i += W) {                                                      \
            __m512##X##_t p = _mm512_loadu_##X(P + i);                                    \
            __m512##X##_t g = _mm512_loadu_##X(G + i);                                    \
            if (has_lam) g = _mm512_add_##X(g, _mm512_mul_##X(vl, p));                    \
            __m512##X##_t v = _mm512_add_##X(_mm512_mul_##X(vb1, _mm512_loadu_##X(V + i)), \
                                             _mm512_mul_##X(vo1, g));                     \
            __m512##X##_t s = _mm512_add_##X(_mm512_mul_##X(vb2, _mm512_loadu_##X(S + i)), \
                                             _mm512_mul_##X(vo2, _mm512_mul_##X(g, g)));  \
            _mm512_storeu_##X(V + i, v);                                                  \
            _mm512_storeu_##X(S + i, s);                                                  \
            __m512##X##_t a = _mm512_mul_##X(vc, v);                                      \
            __m512##X##_t b = _mm512_add_##X(_mm512_sqrt_##X(_mm512_mul_##X(s, vk)), ve); \
            __m512##X##_t aa = _mm512_abs_##X(a), q;                                      \
            if (!newton) {                                                                \
                _mm512_storeu_##X(P + i, _mm512_sub_##X(p, _mm512_div_##X(a, b)));        \
                continue;                                                                 \
            }                                                                             \
            M ok = _mm512_cmp_##X##_mask(b, hi, _CMP_LE_OQ);                              \
            if (check_lo) ok = _mm512_mask_cmp_##X##_mask(ok, b, lo, _CMP_GE_OQ);          \
            ok = _mm512_mask_cmp_##X##_mask(ok, aa, hi, _CMP_LE_OQ);                      \
            ok = _mm512_mask_cmp_##X##_mask(ok, aa, lo, _CMP_GE_OQ)                       \
               | _mm512_mask_cmp_##X##_mask(ok, a, zero, _CMP_EQ_OQ);                     \
            if (ok == (M)(FULL)) {                                                        \
                __m512##X##_t y = _mm512_rcp14_##X(b), e, q0, r;                          \
                for (int t = 0; t < STEPS; t++) {                                         \
                    e = _mm512_fnmadd_##X(b, y, one);                                     \
                    y = _mm512_fmadd_##X(y, e, y);                                        \
                }                                                                         \
                q0 = _mm512_mul_##X(a, y);                                                \
                r = _mm512_fnmadd_##X(q0, b, a);                                          \
                q = _mm512_fmadd_##X(r, y, q0);                                           \
            } else {                                                                      \
                q = _mm512_div_##X(a, b);                                                 \
            }                                                                             \
            _mm512_storeu_##X(P + i, _mm512_sub_##X(p, q));                               \
        }                                                                                 \
        FD_ADAM_SCALAR(T, FD_SQRT_##X)                                                    \
    }                                                                                     \
    __attribute__((target("avx512f"))) static void NAME(FD_ADAM_ARGS(T)) {                \
        const int check_lo = !(eps >= (T)(LO));                                           \
        if (lam == 0) {                                                                   \
            if (check_lo) NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 0, 1, 1); \
            else NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 0, 0, 1); \
        } else {                                                                          \
            if (check_lo) NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 1, 1, 1); \
            else NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 1, 0, 1); \
        }                                                                                 \
    }                                                                                     \
    __attribute__((target("avx512f"))) static void NAME##_divider(FD_ADAM_ARGS(T)) {          \
        if (lam == 0) NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 0, 0, 0); \
        else NAME##_body(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps, 1, 0, 0);    \
    }
    typedef __m512d __m512pd_t;
    typedef __m512 __m512ps_t;
    #define FD_SQRT_pd __builtin_sqrt
    #define FD_SQRT_ps __builtin_sqrtf
    FD_ADAM_512(fd_adam_512_d, double, pd, 8, __mmask8, 0xFF, 0x1p-500, 0x1p500, 2)
    FD_ADAM_512(fd_adam_512_f, float, ps, 16, __mmask16, 0xFFFF, 0x1p-60f, 0x1p60f, 1)
    #else
    #  define FD_ADAM_NEWTON 0
    #endif
    #if defined(__GNUC__) && !defined(__clang__)
    #  pragma GCC pop_options
    #endif
    /* the paths: 0 the plain loop (the divider, as the compiler vectorises it), 1 AVX-512 with
       Newton-Raphson's division, 2 AVX-512 with the divider's; -1 the processor's default
       (fd_adam_default_path) */
    static int fd_adam_default_path(void) {
    #if FD_ADAM_NEWTON
        if (!fd_avx512f())
            return 0;
        /* AMD's AVX-512 (Zen 4) divides and takes square roots of 512-bit vectors faster
           than Intel's: there the divider beats Newton-Raphson's extra multiply-adds and
           range checks (bench/adam_division.py) */
        return __builtin_cpu_is("amd") ? 2 : 1;
    #else
        return 0;
    #endif
    }
    static int fd_adam_resolve(int path) {
        return path >= 0 ? path : fd_adam_default_path();     /* two reads of libgcc's cpu model */
    }
    static void fd_adam_d_on(int path, FD_ADAM_ARGS(double)) {
        path = fd_adam_resolve(path);
    #if FD_ADAM_NEWTON
        if (path == 1) {
            fd_adam_512_d(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
            return;
        }
        if (path == 2) {
            fd_adam_512_d_divider(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
            return;
        }
    #endif
        fd_adam_div_d(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
    }
    static void fd_adam_f_on(int path, FD_ADAM_ARGS(float)) {
        path = fd_adam_resolve(path);
    #if FD_ADAM_NEWTON
        if (path == 1) {
            fd_adam_512_f(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
            return;
        }
        if (path == 2) {
            fd_adam_512_f_divider(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
            return;
        }
    #endif
        fd_adam_div_f(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
    }
    static void fd_adam_d(FD_ADAM_ARGS(double)) {
        fd_adam_d_on(-1, P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
    }
    static void fd_adam_f(FD_ADAM_ARGS(float)) {
        fd_adam_f_on(-1, P, G, V, S, n, lam, b1, omb1, b2, omb2, c, kk, eps);
    }
    """
    void fd_adam_d(double *P, const double *G, double *V, double *S, Py_ssize_t n,
                   double lam, double b1, double omb1, double b2, double omb2, double c,
                   double kk, double eps) noexcept nogil
    void fd_adam_f(float *P, const float *G, float *V, float *S, Py_ssize_t n,
                   float lam, float b1, float omb1, float b2, float omb2, float c,
                   float kk, float eps) noexcept nogil
    int fd_adam_default_path() noexcept nogil
    int fd_adam_resolve(int path) noexcept nogil
    void fd_adam_d_on(int path, double *P, const double *G, double *V, double *S, Py_ssize_t n,
                      double lam, double b1, double omb1, double b2, double omb2, double c,
                      double kk, double eps) noexcept nogil
    void fd_adam_f_on(int path, float *P, const float *G, float *V, float *S, Py_ssize_t n,
                      float lam, float b1, float omb1, float b2, float omb2, float c,
                      float kk, float eps) noexcept nogil


cdef inline void _adam(floating *P, const floating *G, floating *V, floating *S, Py_ssize_t n,
                       floating lam, floating b1, floating omb1, floating b2, floating omb2,
                       floating c, floating k, floating eps) noexcept nogil:
    """P -= (c V) / (sqrt(S k) + eps) after V, S's moving averages of g = G + lam P (G
    itself where lam is 0)."""
    if floating is double:
        fd_adam_d(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, k, eps)
    else:
        fd_adam_f(P, G, V, S, n, lam, b1, omb1, b2, omb2, c, k, eps)

cdef enum Optimizer:
    OPT_GD = 0
    OPT_MOMENTUM = 1
    OPT_ADAM = 2
    OPT_SGD = 3
    OPT_ADAM_SKLEARN = 4


cdef struct Hyper:
    double lr, beta, beta1, beta2, eps, momentum
    double c1, c2          # 1 - beta1^t, 1 - beta2^t of the current step
    bint nesterov


cdef inline bint opt_has_v(int opt) noexcept nogil:
    return opt != OPT_GD

cdef inline bint opt_has_s(int opt) noexcept nogil:
    return opt == OPT_ADAM or opt == OPT_ADAM_SKLEARN

cdef inline bint opt_is_linear(int opt) noexcept nogil:
    """The update is linear in (P, V, G): the gram solver's representation applies."""
    return opt == OPT_GD or opt == OPT_MOMENTUM or opt == OPT_SGD


cdef inline floating _sqrt(floating x) noexcept nogil:
    """sqrt in the dtype (sqrtf for float32: no round trip through double); with
    -fno-math-errno (setup.py) the loops below vectorise."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void opt_update(int opt, const Hyper *h, floating *P, const floating *G,
                            floating *V, floating *S, Py_ssize_t n, double l2) noexcept nogil:
    """One update of the n parameters P with gradient G (+ l2 P) and state V, S."""
    cdef Py_ssize_t i
    cdef floating g, lam = <floating>l2, lr = <floating>h.lr
    cdef floating b = <floating>h.beta, omb = <floating>(1 - h.beta)
    cdef floating b1 = <floating>h.beta1, omb1 = <floating>(1 - h.beta1)
    cdef floating b2 = <floating>h.beta2, omb2 = <floating>(1 - h.beta2)
    cdef floating eps = <floating>h.eps
    cdef floating mu = <floating>h.momentum
    cdef floating lr_t = <floating>(h.lr * sqrt(h.c2) / h.c1)
    # Adam's bias corrections folded into two scalars (one division and one sqrt per
    # element instead of three divisions: the update loop is the engine's costliest
    # elementwise pass; it differs from lr (V/c1) / (sqrt(S/c2) + eps) by rounding only)
    cdef floating lr_c1 = <floating>(h.lr / h.c1), inv_c2 = <floating>(1.0 / h.c2)
    if opt == OPT_GD:
        if l2 == 0:
            for i in range(n):
                P[i] = P[i] - lr * G[i]
        else:
            for i in range(n):
                P[i] = P[i] - lr * (G[i] + lam * P[i])
    elif opt == OPT_MOMENTUM:
        for i in range(n):
            g = G[i] + lam * P[i]
            V[i] = b * V[i] + omb * g
            P[i] = P[i] - lr * V[i]
    elif opt == OPT_ADAM:
        _adam(P, G, V, S, n, lam, b1, omb1, b2, omb2, lr_c1, inv_c2, eps)
    elif opt == OPT_SGD:
        if h.nesterov:
            for i in range(n):
                g = G[i] + lam * P[i]
                V[i] = mu * V[i] - lr * g
                P[i] = P[i] + (mu * V[i] - lr * g)
        else:
            for i in range(n):
                g = G[i] + lam * P[i]
                V[i] = mu * V[i] - lr * g
                P[i] = P[i] + V[i]
    else:
        # scikit-learn's: sqrt(S * 1) is sqrt(S) exactly
        _adam(P, G, V, S, n, lam, b1, omb1, b2, omb2, lr_t, 1, eps)
