"""The seed's layer API: initialisation, forward and backward steps, cost, update.

Names, arguments, defaults and return structures are the seed's, so that a
notebook written against it runs with only its imports changed.  Every
function validates its inputs (``fastdnn._validation``) before any compiled
kernel (``fastdnn._kernels``) runs.  Shapes, for a layer l with n_l units and
m examples:

    A_prev (n_{l-1}, m)   W (n_l, n_{l-1})   b (n_l, 1)   Z, A (n_l, m)

Forward:   Z = W A_prev + b,   A = g(Z)
Backward:  dZ = dA * g'(Z),   dW = dZ A_prev^T / m,   db = sum_j dZ / m,
           dA_prev = W^T dZ
Cost:      J = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL))
Update:    W <- W - lr dW,   b <- b - lr db

Outputs are new C-ordered arrays of the inputs' common dtype (float32 only
when every input is float32, as numpy promotes).
"""
from libc.math cimport sqrt

import threading

import numpy as np
cimport numpy as cnp

from fastdnn cimport _kernels as K
from fastdnn._core.activations cimport act_forward, act_backward
from fastdnn._core.losses cimport out_forward, loss_sum, LOSS_COURSE
from fastdnn._blas cimport floating
from fastdnn._validation cimport (
    F32, as_array, as_numeric, is_valid_array, as_operand, cast, check_activation,
    check_layer_count, check_shape, common_type2, common_type3, empty,
)

cnp.import_array()

__all__ = [
    "initialize_parameters", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward",
    "compute_cost",
    "linear_backward", "linear_activation_backward", "L_model_backward",
    "update_parameters",
]

# products with fewer multiply-adds than this keep the GIL (releasing it
# costs more than it lets other threads gain)
cdef Py_ssize_t NOGIL_WORK = 32768

# products with at least this many multiply-adds go through numpy's matmul
# (with preallocated outputs) instead of scipy's BLAS: numpy's bundled
# OpenBLAS is the one the numpy yardstick uses, and bench/bench_gemm.py
# measured scipy's build 10-15% slower on the cat model's W1 X (20 x 12288 by
# 12288 x 209, Fortran-ordered X).  The ~1 us of a Python-level call is below
# 1% of a product this size.
cdef Py_ssize_t NUMPY_GEMM_WORK = 1 << 20

cdef enum Act:
    LINEAR
    RELU
    SIGMOID


cdef inline bint _rowmajor(cnp.ndarray a):
    return cnp.PyArray_IS_C_CONTIGUOUS(a)


# ---------------------------------------------------------------------------
# initialisation (exactly the seed's draws from numpy's global RNG)
# ---------------------------------------------------------------------------

def _check_units(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


cdef inline object _units(object value, str name, Py_ssize_t i=-1):
    """value as a positive int (fast path for a plain int), else _check_units."""
    if type(value) is int and value >= 1:
        return value
    return _check_units(value, name if i < 0 else f"{name}[{i}]")


#: Held while numpy's global RNG is seeded and drawn from (the seed's contract), so
#: that initialisations running in several threads each get the seed's exact draws.
#: Re-entrant: fastdnn.models holds it around np.random.seed(1) + the initialiser.
RNG_LOCK = threading.RLock()


cdef inline cnp.ndarray _zero_bias(Py_ssize_t n):
    """np.zeros((n, 1)) without the Python-level call."""
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = 1
    return cnp.PyArray_ZEROS(2, dims, cnp.NPY_FLOAT64, 0)


def initialize_parameters(n_x, n_h, n_y):
    """Parameters of a two-layer net: ``W ~ randn * 0.01``, ``b = 0``.

    Draws W1 (n_h, n_x) then W2 (n_y, n_h) from numpy's global RNG (not
    reseeded).  Returns ``{"W1", "b1", "W2", "b2"}``.
    """
    n_x = _units(n_x, "n_x")
    n_h = _units(n_h, "n_h")
    n_y = _units(n_y, "n_y")
    with RNG_LOCK:
        W1 = np.random.randn(n_h, n_x)
        W2 = np.random.randn(n_y, n_h)
    W1 *= 0.01                      # in place: the same products as randn(...) * 0.01
    b1 = _zero_bias(n_h)
    W2 *= 0.01
    b2 = _zero_bias(n_y)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


_MISSING = object()


def initialize_parameters_deep(layer_dims=_MISSING, *, layers_dims=_MISSING):
    """Parameters of an L-layer net: ``W_l ~ randn(n_l, n_{l-1}) / sqrt(n_{l-1})``, ``b_l = 0``.

    Calls ``np.random.seed(3)`` first, as the seed does, then draws W1, W2, ...
    in order.  Returns ``{"W1", "b1", ..., "WL", "bL"}``, L = len(layer_dims) - 1.
    The first parameter is ``layer_dims`` (the English course's name); the seed's
    ``layers_dims=`` keyword is accepted too.
    """
    if (layer_dims is _MISSING) == (layers_dims is _MISSING):
        raise TypeError("initialize_parameters_deep takes the layer sizes once: "
                        "initialize_parameters_deep(layer_dims) (or layers_dims=...)")
    if layer_dims is not _MISSING:
        layers_dims = layer_dims
    if isinstance(layers_dims, (str, bytes)) or not hasattr(layers_dims, "__len__"):
        raise TypeError(f"layers_dims must be a list of layer sizes, got {layers_dims!r}")
    dims = [_units(n, "layers_dims", i) for i, n in enumerate(layers_dims)]
    if len(dims) < 2:
        raise ValueError(
            f"layers_dims needs at least an input and an output size, got {list(layers_dims)}")
    parameters = {}
    with RNG_LOCK:
        np.random.seed(3)
        for l in range(1, len(dims)):
            W = np.random.randn(dims[l], dims[l - 1])
            W /= sqrt(<double>dims[l - 1])  # in place; IEEE sqrt, as np.sqrt: same quotients
            parameters["W" + str(l)] = W
            parameters["b" + str(l)] = _zero_bias(dims[l])
    return parameters


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------

cdef void _bias_act_k(Act act, const floating[:, :] b, floating[:, ::1] Z,
                      floating[:, ::1] out) noexcept nogil:
    if act == RELU:
        K.add_bias_relu(Z, b, out)
    elif act == SIGMOID:
        K.add_bias_sigmoid(Z, b, out)
    else:
        K.add_bias(Z, b)


cdef void _forward_k(Act act, const floating[:, :] A, bint a_rm, const floating[:, :] W,
                     bint w_rm, const floating[:, :] b, floating[:, ::1] Z,
                     floating[:, ::1] out) noexcept nogil:
    K.matmul(W, w_rm, A, a_rm, Z, 1, 0)
    _bias_act_k(act, b, Z, out)


cdef void _forward(Act act, const floating[:, :] A, bint a_rm, const floating[:, :] W,
                   bint w_rm, const floating[:, :] b, floating[:, ::1] Z,
                   floating[:, ::1] out):
    """Z = W A + b, out = g(Z) (out unused for LINEAR); GIL released for large work."""
    if W.shape[0] * W.shape[1] * A.shape[1] > NOGIL_WORK:
        with nogil:
            _forward_k(act, A, a_rm, W, w_rm, b, Z, out)
    else:
        _forward_k(act, A, a_rm, W, w_rm, b, Z, out)


cdef void _linear(const floating[:, :] A, bint a_rm, const floating[:, :] W, bint w_rm,
                  const floating[:, :] b, floating[:, ::1] Z):
    """Z = W A + b: ``_forward`` for LINEAR, with Z acquired once from Python
    (each memoryview acquisition costs ~0.1 us at the seed's sizes)."""
    _forward(LINEAR, A, a_rm, W, w_rm, b, Z, Z)


cdef void _bias_act(Act act, const floating[:, :] b, floating[:, ::1] Z, floating[:, ::1] out):
    """Z += b, out = g(Z) (out unused for LINEAR) after numpy's matmul filled Z."""
    with nogil:
        _bias_act_k(act, b, Z, out)


cdef tuple _names(int l):
    """Argument names for error messages: linear_forward (l = -1), linear_activation_forward
    (l = 0) or layer l of L_model_forward."""
    if l == -1:
        return "A", "W", "b"
    if l == 0:
        return "A_prev", "W", "b"
    if l == 1:
        return "X", "parameters['W1']", "parameters['b1']"
    return f"A{l - 1} (the output of layer {l - 1})", f"parameters['W{l}']", f"parameters['b{l}']"


cdef inline cnp.ndarray _arg(x, int l, int which, tuple names):
    """as_array, with the argument's name built only when it is needed."""
    if is_valid_array(x):
        return <cnp.ndarray>x
    return as_array(x, (names or _names(l))[which])


cdef int _check_chain(cnp.ndarray A, cnp.ndarray W, cnp.ndarray b, int l, tuple names) except -1:
    """Raise unless W A + b is defined; returns the common dtype."""
    if W.shape[1] != A.shape[0] or b.shape[0] != W.shape[0] or b.shape[1] != 1:
        names = names or _names(l)
        if W.shape[1] != A.shape[0]:
            raise ValueError(
                f"{names[1]} has shape {(<object>W).shape} and {names[0]} has shape "
                f"{(<object>A).shape}: {names[1]}.shape[1] must equal {names[0]}.shape[0]")
        check_shape(b, names[2], W.shape[0], 1,
                    f"one bias per unit of {names[1]} {(<object>W).shape}")
    return common_type3(A, W, b)


cdef tuple _layer_forward(Act act, A_, W_, b_, int l):
    """One layer forward, returning the seed's structure:
    ``(Z, (A, W, b))`` for LINEAR, ``(g(Z), ((A, W, b), Z))`` otherwise."""
    cdef cnp.ndarray A = _arg(A_, l, 0, None)
    cdef cnp.ndarray W = _arg(W_, l, 1, None)
    cdef cnp.ndarray b = _arg(b_, l, 2, None)
    cdef int t = _check_chain(A, W, b, l, None)
    cdef cnp.ndarray Ac = as_operand(cast(A, t))
    cdef cnp.ndarray Wc = as_operand(cast(W, t))
    cdef cnp.ndarray Z = empty(W.shape[0], A.shape[1], t), out
    if W.shape[0] * W.shape[1] * A.shape[1] >= NUMPY_GEMM_WORK:
        np.matmul(Wc, Ac, out=Z)
        out = Z if act == LINEAR else empty(W.shape[0], A.shape[1], t)
        if t == F32:
            _bias_act[float](act, b, Z, out)
        else:
            _bias_act[double](act, cast(b, t), Z, out)
        return (Z, (A, W, b)) if act == LINEAR else (out, ((A, W, b), Z))
    if act == LINEAR:
        # no separate output: Z is passed once (each memoryview costs ~0.1 us)
        if t == F32:
            _linear[float](Ac, _rowmajor(Ac), Wc, _rowmajor(Wc), b, Z)
        else:
            _linear[double](Ac, _rowmajor(Ac), Wc, _rowmajor(Wc), cast(b, t), Z)
        return Z, (A, W, b)
    out = empty(W.shape[0], A.shape[1], t)
    if t == F32:
        _forward[float](act, Ac, _rowmajor(Ac), Wc, _rowmajor(Wc), b, Z, out)
    else:
        _forward[double](act, Ac, _rowmajor(Ac), Wc, _rowmajor(Wc), cast(b, t), Z, out)
    return out, ((A, W, b), Z)


def linear_forward(A, W, b):
    """Linear part of a layer's forward step: ``Z = W A + b``.

    A (n_prev, m), W (n, n_prev), b (n, 1).  Returns ``(Z, cache)`` with
    ``cache = (A, W, b)``.
    """
    return _layer_forward(LINEAR, A, W, b, -1)


def linear_activation_forward(A_prev, W, b, activation):
    """One layer forward: ``A = g(W A_prev + b)``, g = "relu" or "sigmoid".

    Returns ``(A, cache)`` with ``cache = ((A_prev, W, b), Z)``.
    """
    check_activation(activation)
    return _layer_forward(RELU if activation == "relu" else SIGMOID, A_prev, W, b, 0)


def L_model_forward(X, parameters, *, hidden_activation="relu", output="sigmoid"):
    """Forward pass of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    ``L = len(parameters) // 2``; parameters must hold exactly W1, b1, ...,
    WL, bL.  Returns ``(AL, caches)``: AL is (n_L, m), ``caches`` the L caches
    ``((A_prev, W, b), Z)`` in layer order.  ``hidden_activation`` ("relu", "tanh",
    "sigmoid"/"logistic", "identity") and ``output`` ("sigmoid", "softmax", "identity")
    choose the layers' functions (SPEC §5); the defaults are the seed's.
    """
    cdef Py_ssize_t L = check_layer_count(parameters), l
    hidden, out = _model_codes(hidden_activation, output)
    A = X
    caches = []
    if hidden == -1:            # the seed's network: the fused bias + activation kernels
        for l in range(1, L + 1):
            A, cache = _layer_forward(RELU if l < L else SIGMOID, A,
                                      parameters["W" + str(l)], parameters["b" + str(l)], l)
            caches.append(cache)
        return A, caches
    for l in range(1, L + 1):
        Z, lin = _layer_forward(LINEAR, A, parameters["W" + str(l)], parameters["b" + str(l)], l)
        if l == L:
            _check_output_units(output, Z.shape[0])
        A = _apply(hidden if l < L else out, l == L, Z)
        caches.append((lin, Z))
    return A, caches


def _check_output_units(output, n_units):
    from fastdnn.training.config import check_output_units   # the constraint, defined once
    check_output_units(output, n_units)


def _model_codes(hidden_activation, output):
    """(hidden, output) enum codes of the core; (-1, -1) for the seed's relu + sigmoid."""
    from fastdnn.training import registry
    from fastdnn.training.config import TrainingConfig

    if hidden_activation == "relu" and output == "sigmoid":
        return -1, -1
    TrainingConfig(hidden_activation=hidden_activation, output=output)   # validates both
    if output not in registry.PUBLIC_OUTPUTS:
        raise ValueError(f"output must be one of {list(registry.PUBLIC_OUTPUTS)}, got {output!r}")
    return (registry.code("hidden_activation", hidden_activation),
            registry.code("output", output))


cdef cnp.ndarray _apply(int code, bint is_output, cnp.ndarray Z):
    """g(Z) (hidden) or out(Z) (output) through the compiled core's kernels; a new array."""
    cdef int t = F32 if cnp.PyArray_TYPE(Z) == F32 else cnp.NPY_FLOAT64
    cdef cnp.ndarray z = np.array(Z, dtype=np.float32 if t == F32 else np.float64, order="C")
    cdef cnp.ndarray A = empty(Z.shape[0], Z.shape[1], t)
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return A
    cdef cnp.ndarray zero = np.zeros(Z.shape[0], dtype=z.dtype)
    cdef cnp.ndarray scratch = np.zeros((2, Z.shape[1]), dtype=np.float64)
    cdef int rows = Z.shape[0], m = Z.shape[1]
    cdef double *cm = <double *>cnp.PyArray_DATA(scratch)
    if t == F32:
        if is_output:
            out_forward[float](code, <float *>cnp.PyArray_DATA(z), <float *>cnp.PyArray_DATA(zero),
                               <float *>cnp.PyArray_DATA(A), rows, m, cm, cm + m, m)
        else:
            act_forward[float](code, <float *>cnp.PyArray_DATA(z), <float *>cnp.PyArray_DATA(zero),
                               <float *>cnp.PyArray_DATA(A), rows, m)
    else:
        if is_output:
            out_forward[double](code, <double *>cnp.PyArray_DATA(z),
                                <double *>cnp.PyArray_DATA(zero), <double *>cnp.PyArray_DATA(A),
                                rows, m, cm, cm + m, m)
        else:
            act_forward[double](code, <double *>cnp.PyArray_DATA(z),
                                <double *>cnp.PyArray_DATA(zero), <double *>cnp.PyArray_DATA(A),
                                rows, m)
    return A


# ---------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------

def compute_cost(AL, Y, *, output="sigmoid"):
    """Cross-entropy cost ``J = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL))``.

    ``output="softmax"``: ``-(1/m) sum Y log AL`` (Y one-hot (n_L, m) or integer labels
    (1, m)); ``output="identity"``: ``(1/(2m)) sum (AL - Y)^2`` (SPEC §5).

    AL and Y must have the same shape (1, m); a (m, 1) Y is refused rather than
    broadcast.  Returns a 0-d array of numpy's promotion of AL and Y
    (float32 only when both are float32), summed in float64.  Each log
    is clamped at -100 (as PyTorch's BCELoss), so AL exactly 0 or 1 gives a
    finite cost; elsewhere the values are the seed's.
    """
    if output != "sigmoid":
        return _other_cost(AL, Y, output)
    cdef cnp.ndarray al = as_array(AL, "AL")
    cdef cnp.ndarray y = as_array(Y, "Y")
    if y.shape[0] != al.shape[0] or y.shape[1] != al.shape[1]:
        check_shape(y, "Y", al.shape[0], al.shape[1],
                    f"one label per prediction in AL {(<object>al).shape}")
    cdef int t = common_type2(al, y)
    cdef double cost
    if t == F32:
        cost = K.cross_entropy[float](al, y)
    else:
        cost = K.cross_entropy[double](cast(al, t), cast(y, t))
    return np.asarray(cost, dtype=np.float32 if t == F32 else np.float64)


def _targets(AL, Y, output):
    """(AL, Y) validated, Y one-hot (n_L, m) for softmax labels; both C-ordered float64 or
    both float32."""
    _model_codes("relu", output)
    cdef cnp.ndarray al = as_array(AL, "AL")
    _check_output_units(output, al.shape[0])
    cdef cnp.ndarray y = as_numeric(Y, "Y")
    m = al.shape[1]
    if output == "softmax" and (<object>y).shape in ((m,), (1, m)) and al.shape[0] > 1:
        labels = y.reshape(m)
        if np.any(labels != np.round(labels)) or np.any(labels < 0) or np.any(labels >= al.shape[0]):
            raise ValueError(f"Y holds class labels: they must be integers in "
                             f"0..{al.shape[0] - 1} for AL of shape {(<object>al).shape}")
        onehot = np.zeros((al.shape[0], m))
        onehot[labels.astype(np.intp), np.arange(m)] = 1
        y = onehot
    if y.ndim != 2 or y.shape[0] != al.shape[0] or y.shape[1] != al.shape[1]:
        raise ValueError(f"Y has shape {(<object>y).shape} but AL has shape "
                         f"{(<object>al).shape}: one target per output"
                         + (" (or integer class labels (1, m))" if output == "softmax" else ""))
    t = np.float32 if al.dtype == np.float32 and y.dtype == np.float32 else np.float64
    return np.ascontiguousarray(al, dtype=t), np.ascontiguousarray(y, dtype=t)


def _other_cost(AL, Y, output):
    """compute_cost for the softmax and identity outputs, through the core's loss_sum."""
    from fastdnn.training import registry

    al, y = _targets(AL, Y, output)
    cdef int code = registry.code("output", output)
    cdef int rows = al.shape[0], m = al.shape[1]
    cdef double s
    if al.dtype == np.float32:
        s = loss_sum[float](code, LOSS_COURSE, <float *>cnp.PyArray_DATA(al),
                            <float *>cnp.PyArray_DATA(y), m, NULL, rows, m, 0.0, m)
    else:
        s = loss_sum[double](code, LOSS_COURSE, <double *>cnp.PyArray_DATA(al),
                             <double *>cnp.PyArray_DATA(y), m, NULL, rows, m, 0.0, m)
    return np.asarray(s / m, dtype=al.dtype)


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------

cdef void _activation_grad_k(Act act, const floating[:, :] dA, const floating[:, :] Z,
                             floating[:, ::1] dZ) noexcept nogil:
    if act == RELU:
        K.relu_backward(dA, Z, dZ)
    else:
        K.sigmoid_backward(dA, Z, dZ)


cdef void _activation_grad(Act act, const floating[:, :] dA, const floating[:, :] Z,
                           floating[:, ::1] dZ):
    if Z.shape[0] * Z.shape[1] > NOGIL_WORK:
        with nogil:
            _activation_grad_k(act, dA, Z, dZ)
    else:
        _activation_grad_k(act, dA, Z, dZ)


cdef void _linear_grad_k(const floating[:, :] dZ, bint dz_rm,
                         const floating[:, :] A_prevT, bint at_rm,
                         const floating[:, :] WT, bint wt_rm,
                         floating[:, ::1] dW, floating[:, ::1] db,
                         floating[:, ::1] dA_prev) noexcept nogil:
    cdef Py_ssize_t m = A_prevT.shape[0]
    K.matmul(dZ, dz_rm, A_prevT, at_rm, dW, <floating>(1.0 / m), 0)
    K.row_means(dZ, db, <double>m)
    K.matmul(WT, wt_rm, dZ, dz_rm, dA_prev, 1, 0)


cdef void _linear_grad(const floating[:, :] dZ, bint dz_rm,
                       const floating[:, :] A_prevT, bint at_rm,
                       const floating[:, :] WT, bint wt_rm,
                       floating[:, ::1] dW, floating[:, ::1] db, floating[:, ::1] dA_prev):
    """dW = dZ A_prev^T / m, db = row sums / m, dA_prev = W^T dZ."""
    if dW.shape[0] * dW.shape[1] * A_prevT.shape[0] > NOGIL_WORK:
        with nogil:
            _linear_grad_k(dZ, dz_rm, A_prevT, at_rm, WT, wt_rm, dW, db, dA_prev)
    else:
        _linear_grad_k(dZ, dz_rm, A_prevT, at_rm, WT, wt_rm, dW, db, dA_prev)


cdef tuple _linear_step(cnp.ndarray dZ, cnp.ndarray A_prev, cnp.ndarray W, int t):
    """(dA_prev, dW, db) from a validated dZ of dtype t."""
    cdef cnp.ndarray Ac = as_operand(cast(A_prev, t))
    cdef cnp.ndarray Wc = as_operand(cast(W, t))
    cdef cnp.ndarray dz = as_operand(dZ)
    cdef cnp.ndarray dW = empty(W.shape[0], W.shape[1], t)
    cdef cnp.ndarray db = empty(W.shape[0], 1, t)
    cdef cnp.ndarray dA_prev = empty(A_prev.shape[0], A_prev.shape[1], t)
    cdef Py_ssize_t m = A_prev.shape[1]
    if W.shape[0] * W.shape[1] * m >= NUMPY_GEMM_WORK:
        # numpy's matmul for the two big products (see NUMPY_GEMM_WORK);
        # dW = (dZ / m) A_prev^T scales the small factor, not the big product
        np.matmul(np.multiply(dz, 1.0 / m), Ac.T, out=dW)
        np.matmul(Wc.T, dz, out=dA_prev)
        if t == F32:
            K.row_means[float](dz, db, <double>m)
        else:
            K.row_means[double](dz, db, <double>m)
        return dA_prev, dW, db
    if t == F32:
        _linear_grad[float](dz, _rowmajor(dz), Ac.T, not _rowmajor(Ac), Wc.T, not _rowmajor(Wc),
                            dW, db, dA_prev)
    else:
        _linear_grad[double](dz, _rowmajor(dz), Ac.T, not _rowmajor(Ac), Wc.T, not _rowmajor(Wc),
                             dW, db, dA_prev)
    return dA_prev, dW, db


cdef str _cache_name(Py_ssize_t l, bint linear_part):
    """Name of a cache in error messages: linear_backward's / linear_activation_backward's
    ``cache`` (l = 0) or L_model_backward's ``caches[l - 1]``; ``[0]`` for its linear part
    inside an activation cache.  Built only when an error is raised."""
    name = "cache" if l == 0 else f"caches[{l - 1}]"
    return name + "[0]" if linear_part else name


cdef tuple _unpack_linear_cache(cache, Py_ssize_t l, bint linear_part):
    """(A_prev, W, b, common dtype) of a linear cache, validated.  The common
    case (three valid arrays that chain) builds no string."""
    if not isinstance(cache, tuple) or len(cache) != 3:
        raise TypeError(f"{_cache_name(l, linear_part)} must be the tuple (A_prev, W, b) from "
                        f"linear_forward, got {type(cache).__name__}")
    a, w, bb = cache
    cdef cnp.ndarray A, W, b
    if is_valid_array(a) and is_valid_array(w) and is_valid_array(bb):
        A, W, b = a, w, bb
        if W.shape[1] == A.shape[0] and b.shape[0] == W.shape[0] and b.shape[1] == 1:
            return A, W, b, common_type3(A, W, b)
    name = _cache_name(l, linear_part)
    names = (f"{name}[0] (A_prev)", f"{name}[1] (W)", f"{name}[2] (b)")
    A = _arg(a, 0, 0, names)
    W = _arg(w, 0, 1, names)
    b = _arg(bb, 0, 2, names)
    return A, W, b, _check_chain(A, W, b, 0, names)


def linear_backward(dZ, cache):
    """Linear part of a layer's backward step.

    With ``cache = (A_prev, W, b)`` and m = A_prev.shape[1]:
    ``dW = dZ A_prev^T / m``, ``db = sum_j dZ / m``, ``dA_prev = W^T dZ``.
    Returns ``(dA_prev, dW, db)``.
    """
    A_prev, W, b, t = _unpack_linear_cache(cache, 0, False)
    cdef cnp.ndarray dz = as_array(dZ, "dZ")
    check_shape(dz, "dZ", W.shape[0], A_prev.shape[1],
                "one row per unit of W, one column per example of A_prev")
    t = common_type2(dz, A_prev) if t == F32 else t
    return _linear_step(cast(dz, t), A_prev, W, t)


cdef str _da_name(Py_ssize_t l, Py_ssize_t L):
    """The name of layer l's incoming gradient in L_model_backward's error messages."""
    if l == L:
        return f"AL (its gradient dAL enters layer {L})"
    return f"dA{l + 1} (the gradient returned by layer {l + 1}, shaped like caches[{l}][0][0])"


cdef tuple _layer_backward(Act act, dA, cache, Py_ssize_t l=0, Py_ssize_t L=0):
    """One layer backward; l, L > 0 when called by L_model_backward for layer l of L
    (whose cache is caches[l - 1])."""
    if not isinstance(cache, tuple) or len(cache) != 2:
        raise TypeError(f"{_cache_name(l, False)} must be the tuple ((A_prev, W, b), Z) from "
                        f"linear_activation_forward, got {type(cache).__name__}")
    cdef cnp.ndarray A_prev, W, b
    cdef int t
    A_prev, W, b, t = _unpack_linear_cache(cache[0], l, True)
    z = cache[1]
    cdef cnp.ndarray Z = z if is_valid_array(z) else as_array(z, f"{_cache_name(l, False)}[1] (Z)")
    cdef cnp.ndarray da = as_array(dA, "dA")
    if Z.shape[0] != W.shape[0] or Z.shape[1] != A_prev.shape[1]:
        check_shape(Z, f"{_cache_name(l, False)}[1] (Z)", W.shape[0], A_prev.shape[1],
                    "Z = W A_prev + b")
    if da.shape[0] != W.shape[0] or da.shape[1] != A_prev.shape[1]:
        check_shape(da, "dA" if l == 0 else _da_name(l, L), W.shape[0], A_prev.shape[1],
                    f"the shape of the output of the layer cached in {_cache_name(l, False)}")
    if t == F32:
        t = common_type3(da, Z, A_prev)
    cdef cnp.ndarray dZ = empty(W.shape[0], A_prev.shape[1], t)
    if t == F32:
        _activation_grad[float](act, da, Z, dZ)
    else:
        _activation_grad[double](act, cast(da, t), cast(Z, t), dZ)
    return _linear_step(dZ, A_prev, W, t)


def linear_activation_backward(dA, cache, activation="relu"):
    """One layer backward: ``dZ = dA * g'(Z)``, then :func:`linear_backward`.

    ``cache = ((A_prev, W, b), Z)``.  Returns ``(dA_prev, dW, db)``.
    """
    check_activation(activation)
    return _layer_backward(RELU if activation == "relu" else SIGMOID, dA, cache)


def L_model_backward(AL, Y, caches, *, hidden_activation="relu", output="sigmoid"):
    """Backward pass of [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    ``dAL = -(Y / AL - (1 - Y) / (1 - AL))`` with Y reshaped to AL's shape (AL
    is taken as given, even outside (0, 1)), then each layer from L down to 1.
    With other ``hidden_activation`` / ``output`` options (SPEC §5): dZ_L = AL - Y for
    every output (its canonical loss), then dZ_l = dA_l * g'(Z_l).
    Returns grads with, for l = 1..L, ``dW{l}``, ``db{l}`` and ``dA{l}`` = the
    dA_prev of layer l's step (so ``dA1`` is the gradient with respect to X).
    """
    hidden, out = _model_codes(hidden_activation, output)
    if hidden != -1:
        return _generic_backward(AL, Y, caches, hidden, output)
    cdef cnp.ndarray al = as_array(AL, "AL")
    cdef cnp.ndarray y = as_numeric(Y, "Y")
    if y.size != al.size:
        raise ValueError(
            f"Y has shape {(<object>y).shape} and AL has shape {(<object>al).shape}: they must hold as many values")
    y = y.reshape(al.shape[0], al.shape[1])
    if not isinstance(caches, (list, tuple)) or len(caches) == 0:
        raise TypeError("caches must be the non-empty list of layer caches from L_model_forward")
    cdef Py_ssize_t L = len(caches), l
    cdef int t = common_type2(al, y)
    cdef cnp.ndarray dAL = empty(al.shape[0], al.shape[1], t)
    if t == F32:
        K.cross_entropy_grad[float](al, y, dAL)
    else:
        K.cross_entropy_grad[double](cast(al, t), cast(y, t), dAL)
    grads = {}
    dA = dAL
    for l in range(L, 0, -1):
        dA, dW, db = _layer_backward(SIGMOID if l == L else RELU, dA, caches[l - 1], l, L)
        grads["dA" + str(l)] = dA
        grads["dW" + str(l)] = dW
        grads["db" + str(l)] = db
    return grads


def _generic_backward(AL, Y, caches, int hidden, str output):
    """L_model_backward for any hidden activation and output (dZ_L = AL - Y)."""
    al, y = _targets(AL, Y, output)
    if not isinstance(caches, (list, tuple)) or len(caches) == 0:
        raise TypeError("caches must be the non-empty list of layer caches from L_model_forward")
    cdef Py_ssize_t L = len(caches), l
    grads = {}
    dZ = np.subtract(al, y)
    for l in range(L, 0, -1):
        cache = caches[l - 1]
        if not isinstance(cache, tuple) or len(cache) != 2:
            raise TypeError(f"{_cache_name(l, False)} must be the tuple ((A_prev, W, b), Z) "
                            f"from L_model_forward, got {type(cache).__name__}")
        if l < L:
            Z = as_array(cache[1], f"{_cache_name(l, False)}[1] (Z)")
            if (<object>Z).shape != dZ.shape:
                raise ValueError(f"{_cache_name(l, False)}[1] (Z) has shape "
                                 f"{(<object>Z).shape}, expected {dZ.shape}")
            A = _apply(hidden, False, Z)
            dZ = np.ascontiguousarray(dZ, dtype=A.dtype)
            _derivative(hidden, dZ, A)
        A_prev, W, b, t = _unpack_linear_cache(cache[0], l, True)
        if dZ.shape != (W.shape[0], A_prev.shape[1]):
            raise ValueError(f"{_cache_name(l, False)} holds W of shape {(<object>W).shape} "
                             f"and A_prev of shape {(<object>A_prev).shape}, which do not "
                             f"match the gradient {dZ.shape} entering layer {l}")
        t = common_type2(<cnp.ndarray>np.asarray(dZ), A_prev) if t == F32 else t
        dA, dW, db = _linear_step(cast(<cnp.ndarray>np.ascontiguousarray(dZ), t), A_prev, W, t)
        grads["dA" + str(l)] = dA
        grads["dW" + str(l)] = dW
        grads["db" + str(l)] = db
        dZ = dA
    return grads


cdef void _derivative(int code, cnp.ndarray dA, cnp.ndarray A):
    """dA *= g'(Z) from A = g(Z), in place (both C-contiguous, one dtype)."""
    if cnp.PyArray_TYPE(A) == F32:
        act_backward[float](code, <float *>cnp.PyArray_DATA(dA), <float *>cnp.PyArray_DATA(A),
                            cnp.PyArray_SIZE(A))
    else:
        act_backward[double](code, <double *>cnp.PyArray_DATA(dA),
                             <double *>cnp.PyArray_DATA(A), cnp.PyArray_SIZE(A))


# ---------------------------------------------------------------------------
# update
# ---------------------------------------------------------------------------

def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step: ``W_l - lr dW_l``, ``b_l - lr db_l`` for every l.

    Stores new arrays in ``parameters`` and returns it; arrays the caller still
    holds are not modified.  Everything is validated before anything changes.
    """
    cdef Py_ssize_t L = check_layer_count(parameters), l
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of dW1, db1, ..., got {type(grads).__name__}")
    if isinstance(learning_rate, (bool, np.bool_)) or not isinstance(
            learning_rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"learning_rate must be a real number, got {learning_rate!r}")
    cdef double lr = float(learning_rate)
    cdef cnp.ndarray P, G, out
    cdef int t
    new = {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = p + str(l)
            gkey = "d" + key
            if gkey not in grads:
                raise ValueError(f"grads has no {gkey!r} for parameters[{key!r}]")
            x = parameters[key]
            P = x if is_valid_array(x) else as_array(x, f"parameters[{key!r}]")
            x = grads[gkey]
            G = x if is_valid_array(x) else as_array(x, f"grads[{gkey!r}]")
            if G.shape[0] != P.shape[0] or G.shape[1] != P.shape[1]:
                check_shape(G, f"grads[{gkey!r}]", P.shape[0], P.shape[1],
                            f"the shape of parameters[{key!r}]")
            t = common_type2(P, G)
            out = empty(P.shape[0], P.shape[1], t)
            if t == F32:
                K.axpy_into[float](P, G, lr, out)
            else:
                K.axpy_into[double](cast(P, t), cast(G, t), lr, out)
            new[key] = out
    parameters.update(new)
    return parameters
