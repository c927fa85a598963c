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

# m*n*k below which the loop beats BLAS on this machine class.  Measured by
# bench/bench_gemm.py (float64, square products and the planar [2, 4, 1] net's
# three products, C and Fortran operands): a dgemm call through cython_blas
# costs only ~20 ns, so the loop wins only for the tiniest products -- the
# geometric mean of loop/BLAS time is 0.15 at m*n*k = 1, 0.5 at 16, 0.83 at
# 32, 1.02 at 64 and 2 at 128; BLAS wins at every size from 64 on.
cdef long SMALL_GEMM_FLOPS = 64


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
    if m <= 0 or n <= 0:
        return
    if <long>m * n * k < SMALL_GEMM_FLOPS:
        gemm_loop(m, n, k, alpha, a, lda, a_rowmajor, b, ldb, b_rowmajor,
                  beta, c, ldc)
    else:
        _gemm_blas(m, n, k, alpha, a, lda, a_rowmajor, b, ldb, b_rowmajor,
                   beta, c, ldc)


cdef void _gemm_blas(int m, int n, int k, floating alpha,
                     const floating *a, int lda, bint a_rowmajor,
                     const floating *b, int ldb, bint b_rowmajor,
                     floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta, tb
    # column-major C^T (n x m) = op(B^T) (n x k) @ op(A^T) (k x m)
    ta = b'N' if b_rowmajor else b'T'
    tb = b'N' if a_rowmajor else b'T'
    if floating is double:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *>b, &ldb,
              <double *>a, &lda, &beta, c, &ldc)
    else:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *>b, &ldb,
              <float *>a, &lda, &beta, c, &ldc)


def _bench_gemm(A, B, C, Py_ssize_t repeat, bint use_loop):
    """C = A @ B, ``repeat`` times, by gemm_loop or by BLAS: for bench/bench_gemm.py only.

    A, B: float64, each C- or Fortran-contiguous; C: float64, C-contiguous,
    shape (A.shape[0], B.shape[1]).  Checked here, since this is reachable
    from Python.
    """
    import numpy as np
    for name, x in (("A", A), ("B", B), ("C", C)):
        if not isinstance(x, np.ndarray) or x.dtype != np.float64 or x.ndim != 2 or x.size == 0:
            raise TypeError(f"{name} must be a non-empty 2-D float64 ndarray")
        if not (x.flags.c_contiguous or x.flags.f_contiguous):
            raise ValueError(f"{name} must be C- or Fortran-contiguous")
    if A.shape[1] != B.shape[0] or C.shape != (A.shape[0], B.shape[1]) or not C.flags.c_contiguous:
        raise ValueError(f"shapes {A.shape} @ {B.shape} -> {C.shape} (C-contiguous) do not chain")
    if max(A.shape + B.shape) > 2**31 - 1:
        raise ValueError("dimensions above 2**31-1")
    cdef const double[:, :] a = A
    cdef const double[:, :] b = B
    cdef double[:, ::1] c = C
    cdef bint a_rm = A.flags.c_contiguous, b_rm = B.flags.c_contiguous
    cdef int m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef int lda = k if a_rm else m, ldb = n if b_rm else k
    cdef Py_ssize_t r
    with nogil:
        for r in range(repeat):
            if use_loop:
                gemm_loop(m, n, k, 1.0, &a[0, 0], lda, a_rm, &b[0, 0], ldb, b_rm, 0.0, &c[0, 0], n)
            else:
                _gemm_blas(m, n, k, 1.0, &a[0, 0], lda, a_rm, &b[0, 0], ldb, b_rm, 0.0, &c[0, 0], n)
