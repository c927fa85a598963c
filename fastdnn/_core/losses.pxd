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
                               softmax_scale_ptr, softmax_shift_ptr)

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
    add_bias_rows_ptr(Z, b, rows, m, ld)
    if out == OUT_IDENTITY:
        for i in range(rows):
            for j in range(m):
                A[i * ld + j] = Z[i * ld + j]
        return
    if out == OUT_SOFTMAX:
        # over each column, stably: the column's max subtracted (in double), the exp, then
        # one division per column and products (a * (1/s) differs from a / s by rounding)
        softmax_shift_ptr(Z, rows, m, ld, colmax)
    if ld == m:
        # the rows contiguous: the elementwise function in one pass over the block
        nrows = 1
        width = <Py_ssize_t>rows * m
    for i in range(nrows):
        if out == OUT_SIGMOID:
            sigmoid_ptr(Z + i * ld, A + i * ld, width)
        else:
            exp_ptr(Z + i * ld, A + i * ld, width)
    if out == OUT_SOFTMAX:
        softmax_scale_ptr(A, rows, m, ld, colsum)


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
