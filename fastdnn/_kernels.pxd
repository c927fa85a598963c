# Interface of fastdnn's compiled kernels (see _kernels.pyx for the design).
#
# Every routine: one fused body (float32, float64), const memoryviews for
# inputs, C-contiguous outputs, noexcept nogil, no bounds checks.  Callers
# validate shapes first (fastdnn._validation).
from fastdnn._blas cimport floating


# relu of one element: z, or 0 where z <= 0; NaN stays NaN as with np.maximum(0, NaN).
# Defined here (inline) so that the layer API and the training engine share it.
cdef inline floating _relu(floating z) noexcept nogil:
    if z > 0 or z != z:
        return z
    return 0

# sum of n contiguous elements in float64, with four partial sums (so that the additions
# overlap instead of waiting on each other): ((s0 + s1) + (s2 + s3)).  The bias gradients
# of both training loops are these sums.
cdef inline double row_sum_f64(const floating *row, Py_ssize_t n) noexcept nogil:
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t j = 0
    while j + 4 <= n:
        s0 += row[j]
        s1 += row[j + 1]
        s2 += row[j + 2]
        s3 += row[j + 3]
        j += 4
    while j < n:
        s0 += row[j]
        j += 1
    return (s0 + s1) + (s2 + s3)

# out = alpha * L @ R + beta * out; L (m x k), R (k x n) each C- or
# Fortran-contiguous as l_rowmajor / r_rowmajor say.
cdef void matmul(const floating[:, :] L, bint l_rowmajor,
                 const floating[:, :] R, bint r_rowmajor,
                 floating[:, ::1] out, floating alpha, floating beta) noexcept nogil

# the vectorised sigmoid and exp over n contiguous elements (raw pointers, for the engine)
cdef void sigmoid_ptr(const floating *z, floating *a, Py_ssize_t n) noexcept nogil
cdef void exp_ptr(const floating *z, floating *a, Py_ssize_t n) noexcept nogil
# vectorised loops for the training loop: row sums as row_sum_f64's, relu forward with a
# bias, relu's derivative
cdef void row_sums_ptr(const floating *M, Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld,
                       double *out) noexcept nogil
cdef void relu_bias_ptr(const floating *z, floating b, floating *a, Py_ssize_t n) noexcept nogil
cdef void relu_back_ptr(floating *d, const floating *a, Py_ssize_t n) noexcept nogil
# the output layer's passes (losses.pxd's out_forward and output_delta): the bias added to
# each row; the softmax's passes around its exp (maxima, sums, reciprocals in double); A - Y
cdef void add_bias_rows_ptr(floating *Z, const floating *b, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t ld) noexcept nogil
# the softmax output layer, A = softmax(Z + b) by columns: one pass where it runs (float32 on
# AVX-512, one_pass set), else its four passes, the same values either way (see _kernels.pyx)
cdef void softmax_ptr(floating *Z, const floating *b, floating *A, Py_ssize_t rows,
                      Py_ssize_t m, Py_ssize_t ld, double *colmax, double *colsum,
                      bint one_pass) noexcept nogil
cdef void out_delta_ptr(floating *dZ, const floating *A, const floating *Y, Py_ssize_t ldy,
                        const floating *w, Py_ssize_t rows, Py_ssize_t m,
                        Py_ssize_t ld) noexcept nogil
cdef void add_bias(floating[:, ::1] Z, const floating[:, :] b) noexcept nogil
cdef void add_bias_relu(floating[:, ::1] Z, const floating[:, :] b,
                        floating[:, ::1] A) noexcept nogil
cdef void add_bias_sigmoid(floating[:, ::1] Z, const floating[:, :] b,
                           floating[:, ::1] A) noexcept nogil
cdef void relu(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil
cdef void sigmoid(const floating[:, :] Z, floating[:, ::1] A) noexcept nogil
cdef void relu_backward(const floating[:, :] dA, const floating[:, :] Z,
                        floating[:, ::1] dZ) noexcept nogil
cdef void sigmoid_backward(const floating[:, :] dA, const floating[:, :] Z,
                           floating[:, ::1] dZ) noexcept nogil
cdef void row_means(const floating[:, :] dZ, floating[:, ::1] db, double m) noexcept nogil
cdef double cross_entropy(const floating[:, :] AL, const floating[:, :] Y) noexcept nogil
cdef void cross_entropy_grad(const floating[:, :] AL, const floating[:, :] Y,
                             floating[:, ::1] dAL) noexcept nogil
cdef void axpy_into(const floating[:, :] P, const floating[:, :] dP, double lr,
                    floating[:, ::1] out) noexcept nogil
