"""The numbers policy at the edges (README, "Numbers"), checked value by value.

1. sigmoid is defined for every finite Z: no overflow warning, values in
   [0, 1], equal to numpy's 1 / (1 + exp(-Z)) (computed here in float64 or
   long double where numpy's own version does not overflow).
2. compute_cost clamps each log at -100, as PyTorch's BCELoss does: an AL of
   exactly 0 or 1 gives a finite cost (numpy: inf or NaN); wherever no log
   falls below -100 the value is the seed's.
3. NaN propagates as numpy propagates it; +-inf follow IEEE as in numpy.

Expected values are written from the formulas (log 2, 100, ...) or computed by
tests/reference.py, never by fastdnn.
"""
import math
import warnings

import numpy as np
import pytest

import fastdnn
from tests import reference as ref

DTYPES = (np.float64, np.float32)




# ------------------------------------------------------------------ sigmoid
def _extreme_z(dtype):
    info = np.finfo(dtype)
    vals = [0.0, -0.0, 1.0, -1.0, 10.0, -10.0, 36.0, -36.0, 88.0, -88.0, 88.8, -88.8,
            103.9, -103.9, 709.0, -709.0, 709.8, -709.8, 745.2, -745.2, 1e4, -1e4,
            float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
            float(info.smallest_subnormal), 1e30, -1e30]
    with np.errstate(over="ignore"):
        return np.array([vals], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_any_finite_z_no_warning_in_unit_interval(dtype):
    Z = _extreme_z(dtype)
    assert np.all(np.isfinite(Z))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # an overflow warning would fail here
        A, cache = fastdnn.sigmoid(Z)
        dZ = fastdnn.sigmoid_backward(np.ones_like(Z), Z)
    assert A.dtype == dtype and np.all((A >= 0) & (A <= 1))
    assert np.all(np.isfinite(dZ)) and np.all((dZ >= 0) & (dZ <= 0.25))
    # the exact value, from long double where available: 1 / (1 + e^-z)
    z = Z.astype(np.longdouble)
    with np.errstate(over="ignore"):
        exact = (1 / (1 + np.exp(-z))).astype(np.float64)
    np.testing.assert_allclose(A.astype(np.float64), exact,
                               rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
    # saturation: 1 for large positive Z, 0 (or a subnormal) for large negative Z
    assert np.all(A[Z > 50] == 1) and np.all(A[Z < -800] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_equals_numpy_where_numpy_does_not_overflow(dtype):
    rng = np.random.default_rng(5)
    lim = 80.0 if dtype == np.float32 else 700.0
    Z = (rng.uniform(-lim, lim, (7, 301))).astype(dtype)
    with np.errstate(all="raise"):               # numpy's own version does not overflow here
        expected, _ = ref.sigmoid(Z)
        expected_dz = ref.sigmoid_backward(np.ones_like(Z), Z)
    A, _ = fastdnn.sigmoid(Z)
    np.testing.assert_allclose(A, expected, rtol=2 * np.finfo(dtype).eps, atol=0)
    # s (1 - s) cancels when s is near 1: both round to within a few ulps of 1 (= dA)
    np.testing.assert_allclose(fastdnn.sigmoid_backward(np.ones_like(Z), Z), expected_dz,
                               rtol=8 * np.finfo(dtype).eps, atol=2 * np.finfo(dtype).eps)


def test_sigmoid_through_the_layers_saturates_without_warning():
    """A saturated output layer: linear_activation_forward and L_model_forward."""
    X = np.array([[1e200, -1e200, 3.0]])
    W = np.array([[5.0]])
    b = np.array([[0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A, _ = fastdnn.linear_activation_forward(X, W, b, "sigmoid")
        AL, _ = fastdnn.L_model_forward(X, {"W1": W, "b1": b})
    expected = [[1.0, 0.0, 1 / (1 + math.exp(-15.0))]]
    np.testing.assert_array_equal(A, expected)
    np.testing.assert_array_equal(AL, expected)


# -------------------------------------------------------------- compute_cost
@pytest.mark.parametrize("dtype", DTYPES)
def test_cost_with_al_exactly_0_or_1_is_clamped_at_minus_100(dtype):
    cases = [
        # AL, Y, expected = -(1/m) sum(y max(log a, -100) + (1-y) max(log(1-a), -100))
        ([[1.0, 0.5]], [[0, 1]], (100 + math.log(2)) / 2),   # log(1 - 1) -> -100
        ([[0.0, 0.5]], [[1, 1]], (100 + math.log(2)) / 2),   # log(0) -> -100
        ([[0.0, 1.0]], [[1, 0]], 100.0),                     # both wrong and certain
        ([[0.0, 1.0]], [[0, 1]], 0.0),                       # both right and certain
        ([[1.0, 1.0, 1.0]], [[1, 1, 0]], 100 / 3),
    ]
    for AL, Y, expected in cases:
        al = np.array(AL, dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cost = fastdnn.compute_cost(al, np.array(Y))
        assert cost.shape == () and np.isfinite(cost)
        assert abs(float(cost) - expected) <= 1e-12 * max(1.0, expected), (AL, Y, cost, expected)
        with np.errstate(all="ignore"):
            numpy_cost = ref.compute_cost(al.astype(np.float64), np.array(Y))
        assert not np.isfinite(numpy_cost)        # what the policy deliberately changes


def test_cost_clamp_threshold_is_exactly_where_log_drops_below_minus_100():
    """log(a) >= -100 exactly when a >= e^-100 ~ 3.7e-44: below, each log is -100."""
    e100 = math.exp(-100)
    AL = np.array([[e100 * 1.01, e100 * 0.99, 1e-300, 5e-324, 1 - 2 ** -52]])
    Y = np.array([[1, 1, 1, 1, 0]])
    expected = -(math.log(e100 * 1.01) - 100 - 100 - 100 + math.log(2 ** -52)) / 5
    cost = fastdnn.compute_cost(AL, Y)
    assert abs(float(cost) - expected) <= 1e-13 * expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_cost_equals_the_seed_wherever_no_log_is_clamped(dtype):
    rng = np.random.default_rng(11)
    for m in (1, 3, 209, 4096):
        AL = rng.uniform(1e-30, 1, (1, m)).astype(dtype)
        AL[AL == 1] = np.nextafter(dtype(1), dtype(0))
        Y = (rng.random((1, m)) < 0.5).astype(np.int64)
        expected = ref.compute_cost(AL.astype(np.float64), Y)
        cost = fastdnn.compute_cost(AL, Y)
        assert abs(float(cost) - float(expected)) <= 1e-12 * abs(float(expected)) + 1e-15
    # the seed's printed value (compute_cost_test_case)
    cost = fastdnn.compute_cost(np.array([[0.8, 0.9, 0.4]]), np.asarray([[1, 1, 1]]))
    assert abs(float(cost) - 0.414931599615397) < 1e-12


def test_cost_is_finite_then_training_gradient_stays_the_seeds():
    """The clamp is in the cost only: L_model_backward still takes AL as given."""
    AL = np.array([[1.0, 0.5]])
    Y = np.array([[1, 0]])
    Z = np.array([[40.0, 0.0]])
    cache = ((np.ones((1, 2)), np.ones((1, 1)), np.zeros((1, 1))), Z)
    with np.errstate(all="ignore"):
        expected = ref.L_model_backward(AL, Y, [cache])
    got = fastdnn.L_model_backward(AL, Y, [cache])
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-14, atol=0)


# ---------------------------------------------------------- NaN and infinity
SPECIAL = np.array([[np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e308]])


def _same(got, expected, rtol=0.0):
    """NaN where numpy has NaN, the same infinities, equal finite values (to rtol:
    a matrix product may sum in another order than numpy's); 0.0 == -0.0."""
    got = np.asarray(got)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=rtol, atol=0)


def test_nan_and_inf_through_activations_as_numpy():
    with np.errstate(all="ignore"):
        for fast, slow in ((fastdnn.relu, ref.relu), (fastdnn.sigmoid, ref.sigmoid)):
            _same(fast(SPECIAL)[0], slow(SPECIAL)[0])
        dA = np.array([[1.0, 2.0, 3.0, np.nan, np.inf, -np.inf, np.nan, 4.0]])
        _same(fastdnn.relu_backward(dA, SPECIAL), ref.relu_backward(dA, SPECIAL))
        _same(fastdnn.sigmoid_backward(dA, SPECIAL), ref.sigmoid_backward(dA, SPECIAL))
    # spelled out: relu(NaN) = NaN, sigmoid(NaN) = NaN, relu'(NaN) passes dA (NaN > 0 is
    # false but so is NaN <= 0: numpy's dZ[Z <= 0] = 0 leaves it), sigmoid(+-inf) = 1, 0
    A, _ = fastdnn.relu(np.array([[np.nan]]))
    assert np.isnan(A[0, 0])
    A, _ = fastdnn.sigmoid(np.array([[np.nan, np.inf, -np.inf]]))
    assert np.isnan(A[0, 0]) and A[0, 1] == 1 and A[0, 2] == 0
    assert fastdnn.relu_backward(np.array([[5.0]]), np.array([[np.nan]]))[0, 0] == 5.0


@pytest.mark.parametrize("where", ["A", "W", "b"])
def test_nan_in_a_layer_poisons_exactly_what_numpy_poisons(where):
    rng = np.random.default_rng(2)
    A, W, b = rng.standard_normal((4, 6)), rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    W[1, 2] = 0.0                     # 0 * NaN is NaN: no "skip the zeros" shortcut
    {"A": A, "W": W, "b": b}[where][1 if where != "A" else 2, 3 if where == "A" else 0] = np.nan
    expected, _ = ref.linear_forward(A, W, b)
    Z, _ = fastdnn.linear_forward(A, W, b)
    _same(Z, expected, 1e-12)
    assert np.isnan(Z).any() and not np.isnan(Z).all()
    for act in ("relu", "sigmoid"):
        _same(fastdnn.linear_activation_forward(A, W, b, act)[0],
              ref.linear_activation_forward(A, W, b, act)[0], 1e-12)


def test_nan_in_the_cost_and_the_gradients_as_numpy():
    AL = np.array([[0.3, np.nan, 0.7]])
    Y = np.array([[1, 0, 1]])
    assert np.isnan(fastdnn.compute_cost(AL, Y))
    assert np.isnan(fastdnn.compute_cost(np.array([[0.3, 0.5]]), np.array([[1.0, np.nan]])))
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 3))
    params = {"W1": rng.standard_normal((2, 4)), "b1": np.zeros((2, 1)),
              "W2": rng.standard_normal((1, 2)), "b2": np.zeros((1, 1))}
    X[0, 1] = np.nan
    AL_f, caches_f = fastdnn.L_model_forward(X, params)
    AL_r, caches_r = ref.L_model_forward(X, params)
    _same(AL_f, AL_r, 1e-12)
    grads_f = fastdnn.L_model_backward(AL_f, Y, caches_f)
    grads_r = ref.L_model_backward(AL_r, Y, caches_r)
    for k in grads_r:
        np.testing.assert_array_equal(np.isnan(grads_f[k]), np.isnan(grads_r[k]), err_msg=k)
        ok = ~np.isnan(grads_r[k])
        np.testing.assert_allclose(grads_f[k][ok], grads_r[k][ok], rtol=1e-12, err_msg=k)
    new = fastdnn.update_parameters(dict(params), grads_f, 0.1)
    new_r = ref.update_parameters(params, grads_r, 0.1)
    for k in new_r:
        np.testing.assert_array_equal(np.isnan(new[k]), np.isnan(new_r[k]), err_msg=k)
