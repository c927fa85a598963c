# Hidden-layer activations: forward g(Z + b) and the derivative from the OUTPUT A = g(Z)
# (scikit-learn's inplace_*_derivative convention: no stored Z).
#
#   identity  g(z) = z                 g' = 1
#   relu      g(z) = max(0, z)         g' = [A > 0]        (relu'(0) = 0; NaN propagates)
#   tanh      g(z) = tanh(z)           g' = 1 - A^2
#   sigmoid   g(z) = 1 / (1 + e^-z)    g' = A (1 - A)
#
# The values of the enum are the ones of fastdnn.training.registry.HIDDEN_ACTIVATIONS.
from libc.math cimport tanh
from fastdnn._blas cimport floating
from fastdnn._kernels cimport relu_back_ptr, relu_bias_ptr, sigmoid_ptr

cdef enum Activation:
    ACT_IDENTITY = 0
    ACT_RELU = 1
    ACT_TANH = 2
    ACT_SIGMOID = 3


cdef inline void act_forward(int act, floating *Z, const floating *b, floating *A,
                             int rows, int m) noexcept nogil:
    """A = g(Z + b) for Z, A (rows x m) row-major, distinct; b broadcast along the m columns
    (Z is scratch: the sigmoid adds b in place first).  One switch per row, the elementwise
    loops free of it."""
    cdef Py_ssize_t i, j
    cdef floating bi
    cdef floating *z
    cdef floating *a
    for i in range(rows):
        bi = b[i]
        z = Z + i * m
        a = A + i * m
        if act == ACT_RELU:
            relu_bias_ptr(z, bi, a, m)          # _relu(z + b), vectorised
        elif act == ACT_TANH:
            for j in range(m):
                a[j] = <floating>tanh(<double>(z[j] + bi))
        elif act == ACT_SIGMOID:
            for j in range(m):
                z[j] = z[j] + bi
            sigmoid_ptr(z, a, m)
        else:
            for j in range(m):
                a[j] = z[j] + bi


cdef inline void act_backward(int act, floating *dA, const floating *A,
                              Py_ssize_t size) noexcept nogil:
    """dA *= g'(Z), computed from A = g(Z) (before any dropout mask)."""
    cdef Py_ssize_t i
    if act == ACT_RELU:
        relu_back_ptr(dA, A, size)              # 0 where A <= 0, vectorised
    elif act == ACT_TANH:
        for i in range(size):
            dA[i] = dA[i] * (1 - A[i] * A[i])
    elif act == ACT_SIGMOID:
        for i in range(size):
            dA[i] = dA[i] * (A[i] * (1 - A[i]))
