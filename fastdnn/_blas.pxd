# Interface of fastdnn's matrix products (see _blas.pyx for the design).
#
# One fused body per routine, float32 and float64.  Everything here is
# ``noexcept nogil``: callers (the Python layer) have validated shapes and
# leading dimensions before any of these run.

ctypedef fused floating:
    float
    double

# C (m x n, row-major, leading dimension ldc) = alpha * A @ B + beta * C
# A is m x k, B is k x n; each is described by its data pointer, its leading
# dimension and whether it is stored row-major (C order) or column-major
# (Fortran order).  beta == 0 never reads C.
cdef void gemm(int m, int n, int k, floating alpha,
               const floating *a, int lda, bint a_rowmajor,
               const floating *b, int ldb, bint b_rowmajor,
               floating beta, floating *c, int ldc) noexcept nogil

# The same product by a plain loop (what gemm uses below SMALL_GEMM_FLOPS).
cdef void gemm_loop(int m, int n, int k, floating alpha,
                    const floating *a, int lda, bint a_rowmajor,
                    const floating *b, int ldb, bint b_rowmajor,
                    floating beta, floating *c, int ldc) noexcept nogil

# Products with m*n*k below this go to gemm_loop: measured in bench/bench_gemm.py.
cdef long SMALL_GEMM_FLOPS
