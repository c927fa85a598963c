"""Property tests: random shapes, dtypes, memory layouts and values against tests/reference.py.

Hypothesis draws the sizes (1..9), for every array its dtype (float64 or
float32) and its layout (C order, Fortran order, a strided view, negative
strides, read-only), and the values.  fastdnn must return what the plain-numpy
seed returns on the same values:

* the dtype numpy's promotion gives: float32 only when every input is float32;
* the values, compared with the reference evaluated in float64 on the same
  (already rounded) inputs: to 1e-10 of the result's scale when fastdnn
  computes in float64, to 1e-4 when it computes in float32 (scale = the sum
  of the absolute values of the terms, so that cancellation is not mistaken
  for an error).

A second group feeds arbitrary floats (NaN, +-inf, huge, subnormal) to the
elementwise functions and requires NaN exactly where numpy has NaN, the same
infinities, and equal finite values.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastdnn
from tests import reference as ref

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LAYOUTS = ("C", "F", "strided", "negative", "readonly")
DTYPES = (np.float64, np.float32)
dims = st.integers(1, 9)


def _layout(a, layout):
    """``a``'s values in the given memory layout."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((2 * a.shape[0], 3 * a.shape[1]), dtype=a.dtype)
        big[::2, ::3] = a
        return big[::2, ::3]
    if layout == "negative":
        return a[::-1, ::-1].copy()[::-1, ::-1]
    if layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
        return a
    return np.ascontiguousarray(a)


@st.composite
def arrays(draw, shape, lo=-10.0, hi=10.0, dtype=None):
    """An array of ``shape`` in a random dtype and layout, values in [lo, hi]."""
    dtype = dtype or draw(st.sampled_from(DTYPES))
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, width=32)))
    return _layout(a.astype(dtype), draw(st.sampled_from(LAYOUTS)))


def _f64(x):
    """Inputs for the float64 reference: same values, float64, any structure."""
    if isinstance(x, dict):
        return {k: _f64(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_f64(v) for v in x)
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    return x


def _abs(x):
    return _f64(x) if not isinstance(x, np.ndarray) else np.abs(x.astype(np.float64))


def _dtype_of(*arrays):
    return np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64


def check(got, expected, dtype, scale=None, where="result"):
    """got (fastdnn) against expected (reference in float64): dtype and values."""
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), where
        for k in expected:
            check(got[k], expected[k], dtype, None if scale is None else scale[k], f"{where}[{k}]")
        return
    if isinstance(expected, (tuple, list)):
        assert type(got) is type(expected) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            check(g, e, dtype, None if scale is None else scale[i], f"{where}[{i}]")
        return
    got = np.asarray(got)
    assert got.shape == np.shape(expected), where
    assert got.dtype == dtype, f"{where}: dtype {got.dtype}, expected {np.dtype(dtype)}"
    tol = 1e-4 if dtype == np.float32 else 1e-10
    s = np.abs(expected) if scale is None else scale
    err = np.abs(got.astype(np.float64) - expected)
    floor = np.finfo(dtype).tiny        # below it float32 flushes what float64 keeps
    assert np.all(err <= tol * s + tol * np.abs(expected) + floor), (
        f"{where}: max error {err.max()} (tolerance {tol} x scale)\n{got}\n{expected}")


# --------------------------------------------------------------- elementwise
@SETTINGS
@given(st.data(), dims, dims)
def test_activations(data, n, m):
    Z = data.draw(arrays((n, m), -40, 40))
    dA = data.draw(arrays((n, m)))
    for fast, slow in ((fastdnn.sigmoid, ref.sigmoid), (fastdnn.relu, ref.relu)):
        A, cache = fast(Z)
        check(A, slow(_f64(Z))[0], Z.dtype)
        np.testing.assert_array_equal(cache, Z)
    t = _dtype_of(dA, Z)
    # s (1 - s) loses digits to cancellation when s is near 1: the error is
    # bounded by a few ulps of dA, not of dZ
    check(fastdnn.sigmoid_backward(dA, Z), ref.sigmoid_backward(_f64(dA), _f64(Z)), t,
          np.abs(_f64(dA)))
    check(fastdnn.relu_backward(dA, Z), ref.relu_backward(_f64(dA), _f64(Z)), t)


# ------------------------------------------------------------------- forward
@SETTINGS
@given(st.data(), dims, dims, dims, st.sampled_from(["linear", "relu", "sigmoid"]))
def test_layer_forward(data, n_prev, n, m, activation):
    A = data.draw(arrays((n_prev, m)))
    W = data.draw(arrays((n, n_prev)))
    b = data.draw(arrays((n, 1)))
    t = _dtype_of(A, W, b)
    scale = np.abs(_f64(W)) @ np.abs(_f64(A)) + np.abs(_f64(b))
    if activation == "linear":
        Z, cache = fastdnn.linear_forward(A, W, b)
        check(Z, ref.linear_forward(*_f64((A, W, b)))[0], t, scale)
    else:
        out, ((A_, W_, b_), Z) = fastdnn.linear_activation_forward(A, W, b, activation)
        expected, (_, Zr) = ref.linear_activation_forward(*_f64((A, W, b)), activation)
        check(Z, Zr, t, scale)
        # sigmoid and relu are 1-Lipschitz: the error in Z bounds the error in A
        check(out, expected, t, scale)
        for got, given_ in ((A_, A), (W_, W), (b_, b)):
            np.testing.assert_array_equal(got, given_)


def _params(data, layer_dims):
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = data.draw(arrays((layer_dims[l], layer_dims[l - 1]), -1, 1))
        params[f"b{l}"] = data.draw(arrays((layer_dims[l], 1), -1, 1))
    return params


@SETTINGS
@given(st.data(), st.lists(dims, min_size=1, max_size=3), dims, dims)
def test_L_model_forward(data, hidden, n_x, m):
    layer_dims = [n_x] + hidden + [1]
    X = data.draw(arrays((n_x, m), -2, 2))
    params = _params(data, layer_dims)
    t = _dtype_of(X, *params.values())
    AL, caches = fastdnn.L_model_forward(X, params)
    # a layer whose inputs are all float32 computes in float32 (numpy and fastdnn
    # alike), so the reference runs on the drawn dtypes, and the tolerance is
    # float32's as soon as one array is float32
    ALr, cachesr = ref.L_model_forward(X, params)
    low = any(a.dtype == np.float32 for a in (X, *params.values()))
    check(AL, ALr.astype(np.float64), t, np.ones(ALr.shape) * (1e6 if low else 1))
    assert len(caches) == len(cachesr) == len(layer_dims) - 1
    for (lin, Z), (_, Zr) in zip(caches, cachesr):
        assert Z.shape == Zr.shape and len(lin) == 3


# ---------------------------------------------------------------------- cost
@SETTINGS
@given(st.data(), dims, st.sampled_from(["int", "float64", "float32"]))
def test_compute_cost(data, m, label_kind):
    AL = data.draw(arrays((1, m), 2.0 ** -20, 1 - 2.0 ** -20))
    Y = np.asarray(data.draw(hnp.arrays(np.int64, (1, m), elements=st.integers(0, 1))))
    if label_kind != "int":
        Y = _layout(Y.astype(label_kind), data.draw(st.sampled_from(LAYOUTS)))
    cost = fastdnn.compute_cost(AL, Y)
    expected = ref.compute_cost(_f64(AL), Y.astype(np.float64))
    t = np.result_type(AL.dtype, Y.dtype)
    check(cost, expected, t, np.abs(np.log(_f64(AL))).sum() / m + np.abs(np.log1p(-_f64(AL))).sum() / m)


# ------------------------------------------------------------------ backward
@SETTINGS
@given(st.data(), dims, dims, dims, st.sampled_from(["linear", "relu", "sigmoid"]))
def test_layer_backward(data, n_prev, n, m, activation):
    A = data.draw(arrays((n_prev, m)))
    W = data.draw(arrays((n, n_prev)))
    b = data.draw(arrays((n, 1)))
    dZ = data.draw(arrays((n, m)))
    if activation == "linear":
        got = fastdnn.linear_backward(dZ, (A, W, b))
        expected = ref.linear_backward(*_f64((dZ, (A, W, b))))
        adZ = np.abs(_f64(dZ))
        t = _dtype_of(dZ, A, W, b)
    else:
        Z = data.draw(arrays((n, m), -20, 20))
        cache = ((A, W, b), Z)
        got = fastdnn.linear_activation_backward(dZ, cache, activation)
        expected = ref.linear_activation_backward(*_f64((dZ, cache)), activation)
        adZ = np.abs(_f64(dZ))       # |g'(Z)| <= 1 for both activations
        t = _dtype_of(dZ, A, W, b, Z)
    scale = (np.abs(_f64(W)).T @ adZ, adZ @ np.abs(_f64(A)).T / m, adZ.sum(1, keepdims=True) / m)
    check(got, expected, t, scale)


@SETTINGS
@given(st.data(), st.lists(dims, min_size=0, max_size=2), dims, dims,
       st.sampled_from(["int", "same"]))
def test_L_model_backward(data, hidden, n_x, m, label_kind):
    layer_dims = [n_x] + hidden + [1]
    X = data.draw(arrays((n_x, m), -2, 2))
    params = _params(data, layer_dims)
    AL, caches = ref.L_model_forward(X, params)      # caches hold the drawn layouts
    AL = _layout(np.clip(AL, 0.05, 0.95).astype(AL.dtype), data.draw(st.sampled_from(LAYOUTS)))
    Y = np.asarray(data.draw(hnp.arrays(np.int64, (1, m), elements=st.integers(0, 1))))
    if label_kind == "same":
        Y = Y.astype(AL.dtype)
    grads = fastdnn.L_model_backward(AL, Y, caches)
    expected = _f64(ref.L_model_backward(AL, Y, caches))      # per-layer promotion, as numpy
    arrays_in = [AL] + [a for (lin, Z) in caches for a in (*lin, Z)]
    t = _dtype_of(*arrays_in, Y.astype(np.float64) if label_kind == "int" else Y)
    assert sorted(grads) == sorted(expected)
    low = any(a.dtype == np.float32 for a in arrays_in)
    for k in expected:
        # |dAL| <= 1/0.05 and the weights lie in [-1, 1]: errors scale with the sizes
        s = (np.abs(expected[k]) + 1) * 20 * max(layer_dims) ** len(layer_dims)
        check(grads[k], expected[k], t, s * (1e6 if low and t == np.float64 else 1), k)


# -------------------------------------------------------------------- update
@SETTINGS
@given(st.data(), st.lists(dims, min_size=1, max_size=3),
       st.sampled_from([0.0075, 1, 0.5, np.float32(0.1), np.float64(2.0)]))
def test_update_parameters(data, layer_dims, lr):
    layer_dims = [3] + layer_dims
    params = _params(data, layer_dims)
    grads = {}
    for k, v in params.items():
        grads["d" + k] = data.draw(arrays(v.shape, -1, 1))
    before = {k: np.array(v) for k, v in params.items()}
    held = dict(params)
    new = fastdnn.update_parameters(params, grads, lr)
    expected = ref.update_parameters(_f64(before), _f64(grads), float(lr))
    for k in expected:
        t = _dtype_of(before[k], grads["d" + k])
        s = np.abs(before[k].astype(np.float64)) + abs(float(lr)) * np.abs(
            grads["d" + k].astype(np.float64))
        check(new[k], expected[k], t, s, k)
        np.testing.assert_array_equal(held[k], before[k])   # caller's arrays untouched


# ------------------------------------------------ arbitrary floats, elementwise
any_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 745.2, -745.2,
                                        709.8, -709.8, 88.8, -88.8, 1.0, -1.0]))


def _same_nonfinite(got, expected):
    got = np.asarray(got, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    fin = np.isfinite(expected)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(expected)],
                                  expected[~fin & ~np.isnan(expected)])
    np.testing.assert_allclose(got[fin], expected[fin], rtol=1e-12, atol=1e-300)


@SETTINGS
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=any_floats), st.data())
def test_elementwise_any_float(Z, data):
    dA = data.draw(hnp.arrays(np.float64, Z.shape, elements=any_floats))
    with np.errstate(all="ignore"):
        for fast, slow in ((fastdnn.sigmoid, ref.sigmoid), (fastdnn.relu, ref.relu)):
            _same_nonfinite(fast(Z)[0], slow(Z)[0])
        _same_nonfinite(fastdnn.relu_backward(dA, Z), ref.relu_backward(dA, Z))
        _same_nonfinite(fastdnn.sigmoid_backward(dA, Z), ref.sigmoid_backward(dA, Z))
