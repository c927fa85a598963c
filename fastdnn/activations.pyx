"""The seed's ``dnn_utils``: activations and their backward steps.

Each forward function returns ``(A, cache)`` with ``cache = Z``; each backward
function returns ``dZ``.  The math:

    sigmoid(Z) = 1 / (1 + e^(-Z))                 sigmoid'(Z) = s (1 - s)
    relu(Z)    = max(0, Z)                        relu'(Z)    = 1 if Z > 0 else 0

and the backward step is the chain rule ``dZ = dA * g'(Z)``.
"""
import numpy as np
cimport numpy as cnp

from fastdnn cimport _kernels as K
from fastdnn._blas cimport floating
from fastdnn._validation cimport (F32, as_array, as_numeric, cast, check_shape, common_type2,
                                  empty, is_valid_array)

cnp.import_array()

__all__ = ["sigmoid", "relu", "sigmoid_backward", "relu_backward"]

# below this many elements, releasing the GIL costs more than it gives
cdef Py_ssize_t NOGIL_SIZE = 16384

cdef enum Op:
    SIGMOID
    RELU


cdef void _forward_k(Op op, const floating[:, :] Z, floating[:, ::1] A) noexcept nogil:
    if op == SIGMOID:
        K.sigmoid(Z, A)
    else:
        K.relu(Z, A)


cdef void _forward(Op op, const floating[:, :] Z, floating[:, ::1] A):
    if Z.shape[0] * Z.shape[1] > NOGIL_SIZE:
        with nogil:
            _forward_k(op, Z, A)
    else:
        _forward_k(op, Z, A)


cdef void _backward_k(Op op, const floating[:, :] dA, const floating[:, :] Z,
                      floating[:, ::1] dZ) noexcept nogil:
    if op == SIGMOID:
        K.sigmoid_backward(dA, Z, dZ)
    else:
        K.relu_backward(dA, Z, dZ)


cdef void _backward(Op op, const floating[:, :] dA, const floating[:, :] Z,
                    floating[:, ::1] dZ):
    if Z.shape[0] * Z.shape[1] > NOGIL_SIZE:
        with nogil:
            _backward_k(op, dA, Z, dZ)
    else:
        _backward_k(op, dA, Z, dZ)


cdef tuple _as_2d(object x, str name):
    """(x as a 2-D array, x's own shape or None when it is 2-D already): arrays of any
    other shape (the English course's helpers take them) are viewed as one row."""
    if is_valid_array(x):
        return x, None
    cdef cnp.ndarray a = as_numeric(x, name)
    if a.ndim == 2:
        return as_array(a, name), None
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {(<object>a).shape}")
    return as_array(np.ascontiguousarray(a).reshape(1, a.size), name), (<object>a).shape


cdef tuple _activate(Op op, Z):
    z, shape = _as_2d(Z, "Z")
    cdef int t = common_type2(z, z)
    cdef cnp.ndarray a = empty(z.shape[0], z.shape[1], t)
    if t == F32:
        _forward[float](op, z, a)
    else:
        _forward[double](op, cast(z, t), a)
    if shape is not None:
        return a.reshape(shape), z.reshape(shape)
    return a, z


cdef cnp.ndarray _differentiate(Op op, dA, cache):
    da, dshape = _as_2d(dA, "dA")
    z, shape = _as_2d(cache, "cache (Z)")
    if dshape != shape and (dshape is not None or shape is not None):
        raise ValueError(f"dA has shape {np.shape(dA)} but cache (Z) has shape "
                         f"{np.shape(cache)}: dA must have the shape of the cached Z")
    check_shape(da, "dA", z.shape[0], z.shape[1], "dA must have the shape of the cached Z")
    cdef int t = common_type2(da, z)
    cdef cnp.ndarray dz = empty(z.shape[0], z.shape[1], t)
    if t == F32:
        _backward[float](op, da, z, dz)
    else:
        _backward[double](op, cast(da, t), cast(z, t), dz)
    return dz if shape is None else dz.reshape(shape)


def sigmoid(Z):
    """Sigmoid activation, ``A = 1 / (1 + exp(-Z))``, for Z of any shape.

    Returns ``(A, cache)`` where ``cache`` is ``Z``.  Finite for every finite Z
    (0 and 1 at the extremes, without overflow warnings); NaN stays NaN.
    """
    return _activate(SIGMOID, Z)


def relu(Z):
    """ReLU activation, ``A = max(0, Z)`` (any shape); returns ``(A, cache)``, ``cache = Z``.

    NaN stays NaN, as with ``np.maximum``.
    """
    return _activate(RELU, Z)


def sigmoid_backward(dA, cache):
    """Backward step of a sigmoid unit: ``dZ = dA * s * (1 - s)``, ``s = sigmoid(Z)``, Z = cache."""
    return _differentiate(SIGMOID, dA, cache)


def relu_backward(dA, cache):
    """Backward step of a ReLU unit: ``dZ = dA`` where ``Z > 0``, else ``0``; Z = cache."""
    return _differentiate(RELU, dA, cache)
