# Products of tiny layers by plain loops (course 2's [2, 10, 5, 1] nets, the planar
# [2, 4, 1] one): below SMALL_WORK multiply-adds a BLAS call costs more than its work.  The
# loops keep the innermost index contiguous (row-major operands only) so that the compiler
# vectorises them.  Summation order differs from BLAS by rounding only.  Shared by the
# fused gradient-descent loop (fastdnn._engine) and the general one (fastdnn._core.loop).
from fastdnn._blas cimport floating

# measured with bench/bench_training.py (planar) when these loops were introduced
cdef enum:
    SMALL_WORK = 8192


cdef inline void mm_nn(int n, int m, int k, const floating *W, const floating *A,
                        floating *Z) noexcept nogil:
    """Z (n x m) = W (n x k) A (k x m), all row-major."""
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
