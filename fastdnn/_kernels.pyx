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

The formulas are the seed's, evaluated in the seed's order so that results
agree with numpy to the last bit where the operation is elementwise:

    sigmoid(z)          = 1 / (1 + exp(-z))          (0 or 1 at the extremes, no overflow warning)
    relu(z)             = max(0, z)                   (NaN propagates, as np.maximum)
    sigmoid_backward    = dA * s * (1 - s),  s = sigmoid(Z)
    relu_backward       = dA where Z > 0, else 0      (as ``dZ[Z <= 0] = 0``)
    cost                = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL)),
                          each log clamped at -100 as PyTorch's BCELoss does,
                          summed in float64
"""
from libc.math cimport exp, expf, log, logf

from fastdnn._blas cimport floating, gemm

# --------------------------------------------------------------------------
# 1. point functions
# --------------------------------------------------------------------------

cdef inline floating _sigmoid(floating z) noexcept nogil:
    if floating is double:
        return 1.0 / (1.0 + exp(-z))
    else:
        return 1.0 / (1.0 + expf(-z))


cdef inline floating _relu(floating z) noexcept nogil:
    if z > 0 or z != z:          # z, or NaN as np.maximum(0, NaN)
        return z
    return 0


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
    """Z += b; A = sigmoid(Z)."""
    cdef Py_ssize_t i, j
    cdef floating bi, z
    for i in range(Z.shape[0]):
        bi = b[i, 0]
        for j in range(Z.shape[1]):
            z = Z[i, j] + bi
            Z[i, j] = z
            A[i, j] = _sigmoid(z)


cdef void relu(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil:
    """A = max(0, Z)."""
    cdef Py_ssize_t i, j
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            A[i, j] = _relu(Z[i, j])


cdef void sigmoid(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil:
    """A = 1 / (1 + exp(-Z))."""
    cdef Py_ssize_t i, j
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            A[i, j] = _sigmoid(Z[i, j])


cdef void relu_backward(const floating[:, :] dA, const floating[:, :] Z, floating[:, ::1] dZ) noexcept nogil:
    """dZ = dA where Z > 0, else 0."""
    cdef Py_ssize_t i, j
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            dZ[i, j] = 0 if Z[i, j] <= 0 else dA[i, j]


cdef void sigmoid_backward(const floating[:, :] dA, const floating[:, :] Z, floating[:, ::1] dZ) noexcept nogil:
    """dZ = dA * s * (1 - s) with s = sigmoid(Z)."""
    cdef Py_ssize_t i, j
    cdef floating s
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            s = _sigmoid(Z[i, j])
            dZ[i, j] = dA[i, j] * s * (1 - s)


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
