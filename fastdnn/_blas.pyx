"""Matrix products for fastdnn: BLAS for anything sizeable, a loop for tiny ones.

Design
------
fastdnn's arrays are row-major (numpy's default) or column-major (the seed's
``X = x_orig.reshape(m, -1).T / 255`` is Fortran-ordered).  BLAS is
column-major, so a row-major product ``C = A @ B`` (m x n) is computed as the
column-major product ``C^T = B^T @ A^T``: a row-major operand *is* its own
transpose in column-major terms (transpose flag 'N'), a column-major operand
needs 'T'.  No operand is ever copied.

BLAS is reached through ``scipy.linalg.cython_blas`` so that the call happens
without the GIL and without any Python object.  For tiny products (the seed's
test cases, the planar [2, 4, 1] network) the fixed cost of a BLAS call is
larger than the work, and a plain loop is faster; ``SMALL_GEMM_FLOPS`` is the
crossover measured by ``bench/bench_gemm.py``.
"""
from scipy.linalg.cython_blas cimport dgemm, sgemm

# m*n*k below which the loop beats BLAS on this machine class
# (bench/bench_gemm.py: the loop wins up to about 4k multiply-adds).
cdef long SMALL_GEMM_FLOPS = 2048


cdef inline floating _at(const floating *p, int ld, bint rowmajor,
                         int i, int j) noexcept nogil:
    """Element (i, j) of a matrix stored row- or column-major."""
    if rowmajor:
        return p[<Py_ssize_t>i * ld + j]
    return p[i + <Py_ssize_t>j * ld]


cdef void gemm_loop(int m, int n, int k, floating alpha,
                    const floating *a, int lda, bint a_rowmajor,
                    const floating *b, int ldb, bint b_rowmajor,
                    floating beta, floating *c, int ldc) noexcept nogil:
    cdef int i, j, p
    cdef floating s
    for i in range(m):
        for j in range(n):
            s = 0
            for p in range(k):
                s = s + _at(a, lda, a_rowmajor, i, p) * _at(b, ldb, b_rowmajor, p, j)
            if beta == 0:
                c[<Py_ssize_t>i * ldc + j] = alpha * s
            else:
                c[<Py_ssize_t>i * ldc + j] = alpha * s + beta * c[<Py_ssize_t>i * ldc + j]


cdef void gemm(int m, int n, int k, floating alpha,
               const floating *a, int lda, bint a_rowmajor,
               const floating *b, int ldb, bint b_rowmajor,
               floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta, tb
    if m <= 0 or n <= 0:
        return
    if <long>m * n * k < SMALL_GEMM_FLOPS:
        gemm_loop(m, n, k, alpha, a, lda, a_rowmajor, b, ldb, b_rowmajor,
                  beta, c, ldc)
        return
    # column-major C^T (n x m) = op(B^T) (n x k) @ op(A^T) (k x m)
    ta = b'N' if b_rowmajor else b'T'
    tb = b'N' if a_rowmajor else b'T'
    if floating is double:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *>b, &ldb,
              <double *>a, &lda, &beta, c, &ldc)
    else:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *>b, &ldb,
              <float *>a, &lda, &beta, c, &ldc)
