"""fastdnn against the independent numpy reference (tests/reference.py).

Every public function is run on the same inputs as the reference over many
shapes (m = 1, a single unit, hundreds of examples, a wide 1000-feature
layer), every memory layout of tests/conftest.py (C, F, strided, negative
strides, read-only, and a mix of them across arguments), and three dtype
modes: float64, float32, and mixed float32/float64; labels are integer
arrays.

Tolerance: ``max|actual - expected| <= rtol * max|expected|``, i.e. relative
to the max-norm of the result.  Products and row sums accumulate in a
different order than numpy does (BLAS blocking, float64 sums of float32
data), so entrywise relative error is meaningless for entries that cancel;
the rounding error of a sum of k terms is bounded by k * eps * the sum of
magnitudes, which for these data is of the order of the result's norm.
rtol is 1e-12 when every input is float64 and 1e-5 when any input is float32
(results are then only determined to float32 precision).

Output dtypes must be numpy's promotion of the inputs (``np.result_type``:
float32 only when every input is float32, integers promote to float64), and
no input array may be modified.
"""
import zlib

import numpy as np
import pytest

import fastdnn
from tests import reference as ref
from tests.conftest import LAYOUTS, as_layout

RTOL64 = 1e-12
RTOL32 = 1e-5

# (n_prev, n, m): A_prev (n_prev, m), W (n, n_prev), Z (n, m)
SHAPES = [
    (1, 1, 1),
    (3, 1, 1),       # m = 1, a single unit
    (1, 4, 1),
    (5, 3, 2),
    (4, 1, 7),
    (2, 6, 9),
    (8, 16, 300),    # hundreds of examples
    (1000, 20, 20),  # wide: 1000 features
    (2000, 24, 30),  # above NUMPY_GEMM_WORK (products through numpy's matmul)
    (40, 30, 50),    # above the tiny-product and GIL-release thresholds
    (12, 7, 209),
]
DTYPES = ("f64", "f32", "mixed")
ALL_LAYOUTS = LAYOUTS + ("mixed",)


# ------------------------------------------------------------------ helpers
def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _leaves(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [x for item in obj for x in _leaves(item)]
    if isinstance(obj, dict):
        return [x for k in sorted(obj) for x in _leaves(obj[k])]
    return []


def _map(obj, fn, counter):
    if isinstance(obj, np.ndarray):
        counter[0] += 1
        return fn(obj, counter[0] - 1)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map(item, fn, counter) for item in obj)
    if isinstance(obj, dict):
        return {k: _map(obj[k], fn, counter) for k in sorted(obj)}
    return obj


def convert(args, dtype_mode, layout):
    """args with every float array cast per dtype_mode and stored per layout
    (integer label arrays keep their dtype).  "mixed" alternates by leaf."""
    def fn(a, i):
        if a.dtype.kind == "f":
            if dtype_mode == "mixed":
                a = a.astype(np.float32 if i % 2 == 0 else np.float64)
            else:
                a = a.astype(np.float32 if dtype_mode == "f32" else np.float64)
        lay = LAYOUTS[i % len(LAYOUTS)] if layout == "mixed" else layout
        return as_layout(a, lay)
    return _map(args, fn, [0])


def rtol_for(leaves):
    return RTOL32 if any(a.dtype == np.float32 for a in leaves) else RTOL64


def assert_close(actual, expected, rtol, what="result"):
    """Same structure; arrays equal within rtol * max|expected| (see module doc)."""
    if isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), f"{what}: {type(actual)} vs {type(expected)}"
        assert len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, rtol, f"{what}[{i}]")
        return
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), what
        for k in expected:
            assert_close(actual[k], expected[k], rtol, f"{what}[{k!r}]")
        return
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg=f"{what}: NaN positions")
    actual, expected = actual[~nan].astype(np.float64), expected[~nan].astype(np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    assert err <= rtol * max(scale, 1e-300), (
        f"{what}: max abs error {err:.3e} > {rtol:g} * max|expected| ({scale:.3e})")


def snapshot(args):
    return [a.copy() for a in _leaves(args)]


def assert_unmodified(args, before):
    for i, (a, b) in enumerate(zip(_leaves(args), before)):
        np.testing.assert_array_equal(a, b, err_msg=f"input leaf {i} was modified")


# -------------------------------------------------------------- input makers
def _Z(rng, n, m):
    return rng.standard_normal((n, m)) * 3


def _W(rng, n, p):
    return rng.standard_normal((n, p)) / np.sqrt(p)


def _labels(rng, m):
    return (rng.random((1, m)) > 0.5).astype(np.int64)


def _probs(rng, m):
    return rng.uniform(0.02, 0.98, (1, m))


# name -> (make(rng, n_prev, n, m) -> args, call(module, *args), outputs(result))
CASES = {
    "sigmoid": (lambda r, p, n, m: (_Z(r, n, m),),
                lambda M, Z: M.sigmoid(Z), lambda out: [out[0]]),
    "relu": (lambda r, p, n, m: (_Z(r, n, m),),
             lambda M, Z: M.relu(Z), lambda out: [out[0]]),
    "sigmoid_backward": (lambda r, p, n, m: (r.standard_normal((n, m)), _Z(r, n, m)),
                         lambda M, dA, Z: M.sigmoid_backward(dA, Z), lambda out: [out]),
    "relu_backward": (lambda r, p, n, m: (r.standard_normal((n, m)), _Z(r, n, m)),
                      lambda M, dA, Z: M.relu_backward(dA, Z), lambda out: [out]),
    "linear_forward": (
        lambda r, p, n, m: (r.standard_normal((p, m)), _W(r, n, p),
                            r.standard_normal((n, 1))),
        lambda M, A, W, b: M.linear_forward(A, W, b), lambda out: [out[0]]),
    "linear_activation_forward[relu]": (
        lambda r, p, n, m: (r.standard_normal((p, m)), _W(r, n, p),
                            r.standard_normal((n, 1))),
        lambda M, A, W, b: M.linear_activation_forward(A, W, b, "relu"),
        lambda out: [out[0], out[1][1]]),
    "linear_activation_forward[sigmoid]": (
        lambda r, p, n, m: (r.standard_normal((p, m)), _W(r, n, p),
                            r.standard_normal((n, 1))),
        lambda M, A, W, b: M.linear_activation_forward(A, W, b, activation="sigmoid"),
        lambda out: [out[0], out[1][1]]),
    "compute_cost": (lambda r, p, n, m: (_probs(r, m), _labels(r, m)),
                     lambda M, AL, Y: M.compute_cost(AL, Y), lambda out: [out]),
    "compute_cost[float Y]": (lambda r, p, n, m: (_probs(r, m), _labels(r, m).astype(float)),
                              lambda M, AL, Y: M.compute_cost(AL, Y), lambda out: [out]),
    "linear_backward": (
        lambda r, p, n, m: (r.standard_normal((n, m)),
                            (r.standard_normal((p, m)), _W(r, n, p),
                             r.standard_normal((n, 1)))),
        lambda M, dZ, cache: M.linear_backward(dZ, cache), lambda out: list(out)),
    "linear_activation_backward[relu]": (
        lambda r, p, n, m: (r.standard_normal((n, m)),
                            ((r.standard_normal((p, m)), _W(r, n, p),
                              r.standard_normal((n, 1))), _Z(r, n, m))),
        lambda M, dA, cache: M.linear_activation_backward(dA, cache), lambda out: list(out)),
    "linear_activation_backward[sigmoid]": (
        lambda r, p, n, m: (r.standard_normal((n, m)),
                            ((r.standard_normal((p, m)), _W(r, n, p),
                              r.standard_normal((n, 1))), _Z(r, n, m))),
        lambda M, dA, cache: M.linear_activation_backward(dA, cache, "sigmoid"),
        lambda out: list(out)),
}


@pytest.mark.parametrize("dtype_mode", DTYPES)
@pytest.mark.parametrize("layout", ALL_LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list(CASES))
def test_function(name, shape, layout, dtype_mode):
    make, call, outputs = CASES[name]
    args = convert(make(_rng(name, shape), *shape), dtype_mode, layout)
    leaves = _leaves(args)
    before = snapshot(args)
    expected = call(ref, *args)
    actual = call(fastdnn, *args)
    assert_unmodified(args, before)
    assert_close(actual, expected, rtol_for(leaves), name)
    want = np.result_type(*leaves)
    for out in outputs(actual):
        assert isinstance(out, np.ndarray)
        assert out.dtype == want, f"{name}: output dtype {out.dtype}, numpy promotes to {want}"
        if out.ndim == 2:
            assert out.flags.writeable


# ------------------------------------------------------------------- chains
NETS = [
    ([3, 1], 1),                 # a single (sigmoid) layer, one example
    ([3, 1, 1, 1], 1),
    ([4, 3, 1], 2),
    ([5, 4, 3, 1], 300),
    ([1000, 20, 7, 5, 1], 60),   # wide first layer, above NUMPY_GEMM_WORK
    ([12, 7, 1], 209),
]
# X dtype, parameters dtype, Y dtype
CHAIN_DTYPES = {
    "f64": (np.float64, np.float64, np.int64),
    "f32": (np.float32, np.float32, np.float32),
    "f32+int labels": (np.float32, np.float32, np.int64),
    "f32 X, f64 params": (np.float32, np.float64, np.int64),
}


def _net(dims, m, dtypes, layout, key):
    r = _rng("net", tuple(dims), m)
    xt, pt, yt = dtypes
    X = as_layout(r.standard_normal((dims[0], m)).astype(xt),
                  "strided" if layout == "mixed" else layout)
    Y = as_layout(_labels(r, m).astype(yt), "C" if layout == "mixed" else layout)
    params = {}
    for l in range(1, len(dims)):
        lay = LAYOUTS[l % len(LAYOUTS)] if layout == "mixed" else layout
        params[f"W{l}"] = as_layout((r.standard_normal((dims[l], dims[l - 1]))
                                     / np.sqrt(dims[l - 1])).astype(pt), lay)
        params[f"b{l}"] = as_layout((0.1 * r.standard_normal((dims[l], 1))).astype(pt), lay)
    return X, Y, params


@pytest.mark.parametrize("dtype_mode", list(CHAIN_DTYPES))
@pytest.mark.parametrize("layout", ALL_LAYOUTS)
@pytest.mark.parametrize("net", NETS, ids=lambda n: f"{'-'.join(map(str, n[0]))}_m{n[1]}")
def test_forward_cost_backward_update_chain(net, layout, dtype_mode):
    dims, m = net
    dtypes = CHAIN_DTYPES[dtype_mode]
    X, Y, params = _net(dims, m, dtypes, layout, dtype_mode)
    rtol = RTOL32 if np.float32 in dtypes else RTOL64
    before = snapshot((X, Y, params))
    held = dict(params)
    want = np.result_type(*dtypes)

    AL_r, caches_r = ref.L_model_forward(X, params)
    AL, caches = fastdnn.L_model_forward(X, params)
    assert_close(AL, AL_r, rtol, "AL")
    assert_close(caches, caches_r, rtol, "caches")
    assert AL.dtype == np.result_type(*dtypes[:2])

    cost = fastdnn.compute_cost(AL, Y)
    assert_close(cost, ref.compute_cost(AL_r, Y), rtol, "cost")
    assert cost.shape == () and cost.dtype == want

    grads_r = ref.L_model_backward(AL_r, Y, caches_r)
    grads = fastdnn.L_model_backward(AL, Y, caches)
    assert_close(grads, grads_r, rtol, "grads")
    for k, g in grads.items():
        assert g.dtype == want, f"grads[{k!r}] dtype {g.dtype}, expected {want}"

    new_r = ref.update_parameters(params, grads_r, 0.05)
    new = fastdnn.update_parameters(params, grads, 0.05)
    assert new is params
    assert_close(new, new_r, rtol, "updated parameters")
    for k, v in new.items():
        assert v.dtype == want and v is not held[k]
    assert_unmodified((X, Y, held), before)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "readonly"])
def test_predict(layout, capsys):
    X, Y, params = _net([6, 5, 1], 64, CHAIN_DTYPES["f64"], layout, "predict")
    p = fastdnn.predict(X, Y, params)
    np.testing.assert_array_equal(p, ref.predict(X, Y, params))
    assert p.shape == (1, 64) and p.dtype == np.float64
    acc = float(np.mean(p == Y))
    assert capsys.readouterr().out.strip().endswith(str(acc))


def test_initializers_match_reference():
    for dims in ([3, 1], [5, 4, 3], [1000, 20, 7, 5, 1], [1, 1, 1]):
        np.random.seed(0)
        got = fastdnn.initialize_parameters_deep(dims)
        want = ref.initialize_parameters_deep(dims)
        assert_close(got, want, 0.0, f"initialize_parameters_deep({dims})")
    for dims in ((3, 2, 1), (12288, 7, 1), (1, 1, 1)):
        np.random.seed(42)
        got = fastdnn.initialize_parameters(*dims)
        np.random.seed(42)
        want = ref.initialize_parameters(*dims)
        assert_close(got, want, 0.0, f"initialize_parameters{dims}")


# ----------------------------------------------------------------- training
def _toy_data(layout):
    r = _rng("toy")
    X = r.standard_normal((6, 120))
    Y = ((X[0] + 0.5 * X[1] - X[2] ** 2 + 0.5) > 0).astype(np.int64)[None, :]
    return as_layout(X, layout), Y


# Gradient descent feeds each step's rounding into the next, so differences
# grow with the number of iterations; 1e-9 relative after a few hundred
# iterations is still ~1000x below anything a real bug would produce.
TRAIN_RTOL = 1e-9


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_L_layer_model_matches_reference(layout):
    X, Y = _toy_data(layout)
    kwargs = dict(learning_rate=0.1, num_iterations=300, print_cost=False, isPlot=False)
    got = fastdnn.L_layer_model(X, Y, [6, 5, 3, 1], **kwargs)
    want, costs = ref.L_layer_model(X, Y, [6, 5, 3, 1], **kwargs)
    assert float(costs[-1]) < float(costs[0])      # it did learn something
    assert_close(got, want, TRAIN_RTOL, "L_layer_model parameters")


@pytest.mark.parametrize("layout", ["C", "F"])
def test_two_layer_model_matches_reference(layout):
    X, Y = _toy_data(layout)
    kwargs = dict(learning_rate=0.3, num_iterations=300, print_cost=False, isPlot=False)
    got = fastdnn.two_layer_model(X, Y, (6, 4, 1), **kwargs)
    want, costs = ref.two_layer_model(X, Y, (6, 4, 1), **kwargs)
    assert float(costs[-1]) < float(costs[0])
    assert_close(got, want, TRAIN_RTOL, "two_layer_model parameters")


# ------------------------------------------------- sigmoid over its whole range
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_whole_range_and_layouts_agree(dtype):
    """Every finite z, the extremes, +-inf and NaN: numpy's value (within a few
    ulps, no warning), and bit-identical results in every layout (the SIMD
    row loop and the strided fallback share one formula)."""
    z = np.concatenate([np.linspace(-800, 800, 4001), [-np.inf, np.inf, np.nan, 0.0, -0.0,
                                                       709.78, -709.78, 745.2, -745.2]])
    Z = np.vstack([z, -z, z / 7]).astype(dtype)
    dA = _rng("sig").standard_normal(Z.shape).astype(dtype)
    with np.errstate(over="ignore"):
        want_A, _ = ref.sigmoid(Z.astype(np.float64))
        want_dZ = ref.sigmoid_backward(dA.astype(np.float64), Z.astype(np.float64))
    with np.errstate(all="raise"):
        A, _ = fastdnn.sigmoid(Z)
        dZ = fastdnn.sigmoid_backward(dA, Z)
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    np.testing.assert_allclose(A, want_A.astype(dtype), rtol=8 * eps, atol=tiny)
    if dtype == np.float64:
        np.testing.assert_allclose(dZ, want_dZ, rtol=8 * eps, atol=tiny)
    else:   # s (1 - s) in float32 cancels: only norm-wise accurate, as numpy's own
        assert_close(dZ, want_dZ, RTOL32, "sigmoid_backward")
    assert np.isnan(A[0, -7]) and A[0, -9] == 0 and A[0, -8] == 1
    for layout in LAYOUTS:
        np.testing.assert_array_equal(fastdnn.sigmoid(as_layout(Z, layout))[0], A)
        np.testing.assert_array_equal(
            fastdnn.sigmoid_backward(as_layout(dA, layout), as_layout(Z, layout)), dZ)
