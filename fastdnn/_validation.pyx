"""Input validation: everything the compiled kernels rely on is checked here.

The kernels in ``fastdnn._kernels`` run without bounds checks, so every array
reaches them only through these functions, which guarantee:

* a numpy array of dtype float32 or float64 in native byte order
  (integers and booleans, e.g. labels, become float64 as numpy would promote
  them; float16, complex, object and string arrays are refused);
* exactly two dimensions, none of them zero, each below 2**31 (BLAS int);
* for matrix-product operands, contiguity in one dimension (C or Fortran
  order); anything else (a strided slice, say) is copied;
* shapes that chain, checked by the callers with ``check_shape``.

Bad input raises ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (wrong ndim, size or shape), naming the argument and shapes.

The common case (an ndarray that is already fine) is recognised with a few
C-level checks, so validation costs tens of nanoseconds: the seed's test-case
sizes are dominated by this overhead, and numpy itself is the yardstick there.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef int F32 = cnp.NPY_FLOAT32
cdef int F64 = cnp.NPY_FLOAT64
cdef Py_ssize_t INT_MAX = 2**31 - 1


cdef bint is_valid_array(object x) noexcept:
    """x is an exact, native, float32/64, 2-D ndarray with no empty dimension."""
    cdef cnp.ndarray a
    cdef int t
    if not cnp.PyArray_CheckExact(x):
        return False
    a = <cnp.ndarray>x
    t = cnp.PyArray_TYPE(a)
    if (t != F64 and t != F32) or not cnp.PyArray_ISNOTSWAPPED(a) or cnp.PyArray_NDIM(a) != 2:
        return False
    return 0 < a.shape[0] <= INT_MAX and 0 < a.shape[1] <= INT_MAX


cpdef cnp.ndarray as_numeric(object x, str name):
    cdef cnp.ndarray a
    if x is None:
        raise TypeError(f"{name} must be a 2-D numeric array, got None")
    if isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from None
    kind = a.dtype.kind
    if kind not in "fiub":
        raise TypeError(f"{name} must have a real numeric dtype, got dtype {a.dtype}")
    if kind == "f" and a.dtype.itemsize not in (4, 8):
        raise TypeError(
            f"{name} has dtype {a.dtype}; fastdnn computes in float32 or float64 "
            f"(convert with .astype(np.float32) or .astype(np.float64))"
        )
    if kind != "f":
        a = a.astype(np.float64)
    elif not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


cpdef cnp.ndarray as_array(object x, str name):
    if is_valid_array(x):
        return <cnp.ndarray>x
    a = as_numeric(x, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got ndim={a.ndim} with shape {(<object>a).shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {(<object>a).shape}")
    if a.shape[0] > INT_MAX or a.shape[1] > INT_MAX:
        raise ValueError(f"{name} has shape {(<object>a).shape}: dimensions above 2**31-1 are not supported")
    return a


cdef int common_type2(cnp.ndarray a, cnp.ndarray b):
    if cnp.PyArray_TYPE(a) == F32 and cnp.PyArray_TYPE(b) == F32:
        return F32
    return F64


cdef int common_type3(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c):
    if cnp.PyArray_TYPE(a) == F32 and cnp.PyArray_TYPE(b) == F32 and cnp.PyArray_TYPE(c) == F32:
        return F32
    return F64


cdef cnp.ndarray cast(cnp.ndarray a, int t):
    if cnp.PyArray_TYPE(a) == t:
        return a
    return a.astype(np.float32 if t == F32 else np.float64)


cdef cnp.ndarray as_operand(cnp.ndarray a):
    if cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a):
        return a
    return np.ascontiguousarray(a)


cdef cnp.ndarray empty(Py_ssize_t n, Py_ssize_t m, int t):
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = m
    return cnp.PyArray_EMPTY(2, dims, t, 0)


cdef int check_shape(cnp.ndarray a, str name, Py_ssize_t rows, Py_ssize_t cols, str why) except -1:
    """Raise ValueError unless ``a.shape == (rows, cols)``."""
    if a.shape[0] != rows or a.shape[1] != cols:
        raise ValueError(f"{name} has shape {(<object>a).shape}, expected {(rows, cols)} ({why})")
    return 0


cpdef check_activation(object activation):
    if activation != "relu" and activation != "sigmoid":
        raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")


cpdef Py_ssize_t check_layer_count(object parameters, str name="parameters") except -1:
    """L for a parameters dict holding exactly W1, b1, ..., WL, bL."""
    if not isinstance(parameters, dict):
        raise TypeError(
            f"{name} must be a dict of W1, b1, ..., WL, bL, got {type(parameters).__name__}")
    cdef Py_ssize_t n = len(parameters), L = n // 2, l
    cdef bint ok = n > 0 and n % 2 == 0
    if ok:
        for l in range(1, L + 1):
            if f"W{l}" not in parameters or f"b{l}" not in parameters:
                ok = False
                break
    if not ok:
        raise ValueError(_layer_keys_message(parameters, name))
    return L


def _layer_keys_message(parameters, str name):
    """Which keys are missing or unexpected, for a dict that is not W1, b1, ..., WL, bL."""
    import re
    keys = sorted(map(str, parameters))
    layers = [int(m.group(1)) for k in keys if (m := re.fullmatch(r"[Wb]([1-9][0-9]*)", k))]
    L = max(layers, default=0)
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    missing = sorted(expected.difference(keys), key=lambda k: (int(k[1:]), k[0] != "W"))
    extra = sorted(set(keys).difference(expected))
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    if not keys:
        parts.append("it is empty")
    return (f"{name} must hold exactly W1, b1, ..., WL, bL (one W and one b per layer); "
            f"{', '.join(parts)}; got keys {keys}")


cdef cnp.ndarray need_buffer(object a, str name, tuple shape, object dtype, bint allow_f=False,
                             bint writeable=False):
    """``a`` as a buffer the compiled loops may point into (see _validation.pxd)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {arr.dtype}")
    if (<object>arr).shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {(<object>arr).shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) and not (allow_f and cnp.PyArray_IS_F_CONTIGUOUS(arr)):
        raise ValueError(f"{name} must be contiguous")
    if writeable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name} must be writeable")
    return arr
