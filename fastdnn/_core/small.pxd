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
    """
    void fd_small_mm_d(int rows, int m, int inner, const double *W, int wr, int ws,
                       const double *A, double *Z) noexcept nogil
    void fd_small_nt_acc_d(int n, int k, int m, double alpha, const double *D,
                           const double *A, double *G) noexcept nogil

# measured with bench/bench_training.py (planar) when these loops were introduced
cdef enum:
    SMALL_WORK = 8192


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
