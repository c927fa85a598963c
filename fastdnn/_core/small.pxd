# Products of tiny layers by plain loops (course 2's [2, 10, 5, 1] nets, the planar
# [2, 4, 1] one): below SMALL_WORK multiply-adds a BLAS call costs more than its work.  The
# loops keep the innermost index contiguous (row-major operands only).  Summation order
# differs from BLAS by rounding only.  Shared by the fused gradient-descent loop
# (fastdnn._engine) and the general one (fastdnn._core.loop).
#
# In float64 the loops are C (below), compiled for AVX-512, AVX2 and baseline x86-64 and
# picked at load time (fastdnn/_simd.h), and blocked in registers: a
# block of 4 output rows x 16 columns (8 vectors of 8 doubles) per pass over the inner
# index, the sums of D A^T 4 x 2 at a time in vectors over the examples.  Each output
# element is summed over the inner index in order; the clones with FMA fuse its steps
# (as BLAS's kernels do, so the last bits depend on the processor, as BLAS's do).
from fastdnn._blas cimport floating

cdef extern from *:
    """
    #include "fastdnn/_simd.h"
    static inline FD_INLINE fd_v8d fd_ld8(const double *p) { fd_v8d v; memcpy(&v, p, sizeof v); return v; }
    static inline FD_INLINE void fd_st8(double *p, fd_v8d v) { memcpy(p, &v, sizeof v); }

    /* Z (rows x m) = Wt A, Wt[r][s] = W[r * wr + s * ws] (rows x inner), A (inner x m)
       and Z row-major, leading dimension m */
    FD_CLONES static void fd_small_mm_d(int rows, int m, int inner, const double *W,
                                              int wr, int ws, const double *A, double *Z) {
        int r = 0, j, s;
        for (; r + 4 <= rows; r += 4) {
            const double *w0 = W + (long)r * wr, *w1 = w0 + wr, *w2 = w1 + wr, *w3 = w2 + wr;
            for (j = 0; j + 16 <= m; j += 16) {
                fd_v8d c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
                fd_v8d c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
                for (s = 0; s < inner; s++) {
                    fd_v8d a0 = fd_ld8(A + (long)s * m + j), a1 = fd_ld8(A + (long)s * m + j + 8);
                    double x0 = w0[(long)s * ws], x1 = w1[(long)s * ws];
                    double x2 = w2[(long)s * ws], x3 = w3[(long)s * ws];
                    c00 += x0 * a0; c01 += x0 * a1; c10 += x1 * a0; c11 += x1 * a1;
                    c20 += x2 * a0; c21 += x2 * a1; c30 += x3 * a0; c31 += x3 * a1;
                }
                fd_st8(Z + (long)r * m + j, c00);       fd_st8(Z + (long)r * m + j + 8, c01);
                fd_st8(Z + (long)(r + 1) * m + j, c10); fd_st8(Z + (long)(r + 1) * m + j + 8, c11);
                fd_st8(Z + (long)(r + 2) * m + j, c20); fd_st8(Z + (long)(r + 2) * m + j + 8, c21);
                fd_st8(Z + (long)(r + 3) * m + j, c30); fd_st8(Z + (long)(r + 3) * m + j + 8, c31);
            }
            for (; j + 8 <= m; j += 8) {
                fd_v8d c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
                for (s = 0; s < inner; s++) {
                    fd_v8d a0 = fd_ld8(A + (long)s * m + j);
                    c0 += w0[(long)s * ws] * a0; c1 += w1[(long)s * ws] * a0;
                    c2 += w2[(long)s * ws] * a0; c3 += w3[(long)s * ws] * a0;
                }
                fd_st8(Z + (long)r * m + j, c0);       fd_st8(Z + (long)(r + 1) * m + j, c1);
                fd_st8(Z + (long)(r + 2) * m + j, c2); fd_st8(Z + (long)(r + 3) * m + j, c3);
            }
            for (; j < m; j++) {
                double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                for (s = 0; s < inner; s++) {
                    double a = A[(long)s * m + j];
                    t0 += w0[(long)s * ws] * a; t1 += w1[(long)s * ws] * a;
                    t2 += w2[(long)s * ws] * a; t3 += w3[(long)s * ws] * a;
                }
                Z[(long)r * m + j] = t0; Z[(long)(r + 1) * m + j] = t1;
                Z[(long)(r + 2) * m + j] = t2; Z[(long)(r + 3) * m + j] = t3;
            }
        }
        for (; r < rows; r++) {
            const double *w0 = W + (long)r * wr;
            for (j = 0; j + 16 <= m; j += 16) {
                fd_v8d c0 = {0}, c1 = {0};
                for (s = 0; s < inner; s++) {
                    double x0 = w0[(long)s * ws];
                    c0 += x0 * fd_ld8(A + (long)s * m + j);
                    c1 += x0 * fd_ld8(A + (long)s * m + j + 8);
                }
                fd_st8(Z + (long)r * m + j, c0);
                fd_st8(Z + (long)r * m + j + 8, c1);
            }
            for (; j + 8 <= m; j += 8) {
                fd_v8d c0 = {0};
                for (s = 0; s < inner; s++)
                    c0 += w0[(long)s * ws] * fd_ld8(A + (long)s * m + j);
                fd_st8(Z + (long)r * m + j, c0);
            }
            for (; j < m; j++) {
                double t0 = 0;
                for (s = 0; s < inner; s++)
                    t0 += w0[(long)s * ws] * A[(long)s * m + j];
                Z[(long)r * m + j] = t0;
            }
        }
    }

    /* G (n x k) += alpha * D A^T, D (n x m), A (k x m) row-major: each sum over the m
       columns in 8 lanes (column j in lane j % 8, the last m % 8 columns apart), the lanes
       added pairwise, then the rest */
    FD_CLONES static void fd_small_nt_acc_d(int n, int k, int m, double alpha,
                                                  const double *D, const double *A, double *G) {
        int i, p, j, q;
        int m8 = m - m % 8;
        for (i = 0; i < n; i += 4) {
            int ni = n - i < 4 ? n - i : 4;
            for (p = 0; p < k; p += 2) {
                int np = k - p < 2 ? k - p : 2;
                fd_v8d c[4][2] = {{{0}}};
                double t[4][2] = {{0}};
                const double *d[4], *a[2];
                for (q = 0; q < 4; q++) d[q] = D + (long)(i + (q < ni ? q : 0)) * m;
                a[0] = A + (long)p * m;
                a[1] = A + (long)(p + (np > 1 ? 1 : 0)) * m;
                for (j = 0; j < m8; j += 8) {
                    fd_v8d a0 = fd_ld8(a[0] + j), a1 = fd_ld8(a[1] + j);
                    fd_v8d d0 = fd_ld8(d[0] + j), d1 = fd_ld8(d[1] + j);
                    fd_v8d d2 = fd_ld8(d[2] + j), d3 = fd_ld8(d[3] + j);
                    c[0][0] += d0 * a0; c[0][1] += d0 * a1;
                    c[1][0] += d1 * a0; c[1][1] += d1 * a1;
                    c[2][0] += d2 * a0; c[2][1] += d2 * a1;
                    c[3][0] += d3 * a0; c[3][1] += d3 * a1;
                }
                for (; j < m; j++)
                    for (q = 0; q < 4; q++) {
                        t[q][0] += d[q][j] * a[0][j];
                        t[q][1] += d[q][j] * a[1][j];
                    }
                for (q = 0; q < ni; q++) {
                    G[(long)(i + q) * k + p] += alpha * (fd_hsum8(c[q][0]) + t[q][0]);
                    if (np > 1)
                        G[(long)(i + q) * k + p + 1] += alpha * (fd_hsum8(c[q][1]) + t[q][1]);
                }
            }
        }
    }

    /* dst (cols x rows, leading dimension ldd) = src^T, src (rows x cols, leading dimension
       lds), both row-major: a copy, exact.  With AVX2 in blocks held in registers (8 x 8
       floats, 4 x 4 doubles: loads of src's rows, stores of dst's), the edges one value at a
       time; without, one value at a time. */
    #define FD_TRANSPOSE_SCALAR(SUF, T)                                                      \
    static void fd_transpose_##SUF##_scalar(const T *restrict src, int rows, int cols,       \
                                            long lds, T *restrict dst, long ldd,             \
                                            int r0, int c0) {                                \
        /* the edges: every (r, c) with r >= r0 or c >= c0 */                                 \
        for (int r = 0; r < rows; r++)                                                       \
            for (int c = r < r0 ? c0 : 0; c < cols; c++)                                     \
                dst[(long)c * ldd + r] = src[(long)r * lds + c];                             \
    }
    FD_TRANSPOSE_SCALAR(d, double)
    FD_TRANSPOSE_SCALAR(f, float)
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #  include <immintrin.h>
    __attribute__((target("avx2"))) static void fd_transpose_f_avx2(const float *src, int rows,
            int cols, long lds, float *dst, long ldd) {
        int r, c;
        for (r = 0; r + 8 <= rows; r += 8)
            for (c = 0; c + 8 <= cols; c += 8) {
                const float *s = src + (long)r * lds + c;
                float *d = dst + (long)c * ldd + r;
                __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
                __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
                __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
                __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        fd_transpose_f_scalar(src, rows, cols, lds, dst, ldd, rows - rows % 8, cols - cols % 8);
    }
    __attribute__((target("avx2"))) static void fd_transpose_d_avx2(const double *src, int rows,
            int cols, long lds, double *dst, long ldd) {
        int r, c;
        for (r = 0; r + 4 <= rows; r += 4)
            for (c = 0; c + 4 <= cols; c += 4) {
                const double *s = src + (long)r * lds + c;
                double *d = dst + (long)c * ldd + r;
                __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + lds);
                __m256d r2 = _mm256_loadu_pd(s + 2 * lds), r3 = _mm256_loadu_pd(s + 3 * lds);
                __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
                __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
                _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
                _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
                _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
                _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
            }
        fd_transpose_d_scalar(src, rows, cols, lds, dst, ldd, rows - rows % 4, cols - cols % 4);
    }
    static int fd_transpose_avx2(void) {
        static int has = -1;
        if (has < 0) has = __builtin_cpu_supports("avx2") ? 1 : 0;
        return has;
    }
    #  define FD_TRANSPOSE_AVX2(SUF) if (fd_transpose_avx2()) {                               \
            fd_transpose_##SUF##_avx2(src, rows, cols, lds, dst, ldd); return; }
    #else
    #  define FD_TRANSPOSE_AVX2(SUF)
    #endif
    static void fd_transpose_d(const double *src, int rows, int cols, long lds, double *dst,
                               long ldd) {
        FD_TRANSPOSE_AVX2(d)
        fd_transpose_d_scalar(src, rows, cols, lds, dst, ldd, 0, 0);
    }
    static void fd_transpose_f(const float *src, int rows, int cols, long lds, float *dst,
                               long ldd) {
        FD_TRANSPOSE_AVX2(f)
        fd_transpose_f_scalar(src, rows, cols, lds, dst, ldd, 0, 0);
    }
    """
    void fd_small_mm_d(int rows, int m, int inner, const double *W, int wr, int ws,
                       const double *A, double *Z) noexcept nogil
    void fd_small_nt_acc_d(int n, int k, int m, double alpha, const double *D,
                           const double *A, double *G) noexcept nogil
    void fd_transpose_d(const double *src, int rows, int cols, long lds, double *dst,
                        long ldd) noexcept nogil
    void fd_transpose_f(const float *src, int rows, int cols, long lds, float *dst,
                        long ldd) noexcept nogil

# measured with bench/bench_training.py (planar) when these loops were introduced
cdef enum:
    SMALL_WORK = 8192

# float32 products up to this many multiply-adds whose operand has its inner index
# contiguous are run on a transposed copy (fastdnn._core.loop): OpenBLAS's small-matrix
# kernels are about twice as slow in that form (bench/bench_transpose.py)
cdef enum:
    TRANSPOSE_WORK = 524288


cdef inline void mm_nn(int n, int m, int k, const floating *W, const floating *A,
                        floating *Z) noexcept nogil:
    """Z (n x m) = W (n x k) A (k x m), all row-major."""
    if floating is double:
        fd_small_mm_d(n, m, k, W, k, 1, A, Z)
        return
    cdef Py_ssize_t i, j, p
    cdef floating w
    cdef floating *z
    cdef const floating *a
    for i in range(n):
        z = Z + i * m
        w = W[i * k]
        for j in range(m):
            z[j] = w * A[j]
        for p in range(1, k):
            w = W[i * k + p]
            a = A + p * m
            for j in range(m):
                z[j] = z[j] + w * a[j]


cdef inline void mm_tn(int k, int m, int n, const floating *W, const floating *D,
                        floating *out) noexcept nogil:
    """out (k x m) = W^T D, W (n x k) and D (n x m) row-major."""
    if floating is double:
        fd_small_mm_d(k, m, n, W, 1, k, D, out)
        return
    cdef Py_ssize_t i, j, p
    cdef floating w
    cdef floating *o
    cdef const floating *d
    for p in range(k):
        o = out + p * m
        w = W[p]
        for j in range(m):
            o[j] = w * D[j]
        for i in range(1, n):
            w = W[i * k + p]
            d = D + i * m
            for j in range(m):
                o[j] = o[j] + w * d[j]


cdef inline void mm_nt_acc(int n, int k, int m, floating alpha, const floating *D,
                            const floating *A, floating *W) noexcept nogil:
    """W (n x k) += alpha * D A^T, D (n x m) and A (k x m) row-major."""
    if floating is double:
        fd_small_nt_acc_d(n, k, m, alpha, D, A, W)
        return
    cdef Py_ssize_t i, j, p
    cdef floating s0, s1, s2, s3
    cdef const floating *d
    cdef const floating *a
    for i in range(n):
        d = D + i * m
        for p in range(k):
            a = A + p * m
            s0 = 0
            s1 = 0
            s2 = 0
            s3 = 0
            j = 0
            while j + 4 <= m:
                s0 = s0 + d[j] * a[j]
                s1 = s1 + d[j + 1] * a[j + 1]
                s2 = s2 + d[j + 2] * a[j + 2]
                s3 = s3 + d[j + 3] * a[j + 3]
                j += 4
            while j < m:
                s0 = s0 + d[j] * a[j]
                j += 1
            W[i * k + p] = W[i * k + p] + alpha * ((s0 + s1) + (s2 + s3))


cdef inline void transpose(int rows, int cols, const floating *src, long lds, floating *dst,
                           long ldd) noexcept nogil:
    """dst (cols x rows, leading dimension ldd) = src^T, src (rows x cols, leading
    dimension lds), row-major: an exact copy (AVX2 register blocks where the processor has
    them)."""
    if floating is double:
        fd_transpose_d(src, rows, cols, lds, dst, ldd)
    else:
        fd_transpose_f(src, rows, cols, lds, dst, ldd)
