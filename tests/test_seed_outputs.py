"""Every output printed in the seed, reproduced through the public API.

Inputs come from ``fastdnn.testcases`` (SPEC section 2); expected values are
the seed's printed literals (tests/seed_values.py), compared to the printed
precision (absolute 1e-8).  update_parameters, whose result the seed does not
print, is compared with the independent reference (tests/reference.py).
"""
import numpy as np
import pytest

import fastdnn
from fastdnn import testcases
from tests import reference as ref
from tests import seed_values as seed


def close(actual, expected, atol=seed.SEED_ATOL):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, np.asarray(expected), rtol=0, atol=atol)


def test_initialize_parameters_course_output():
    np.random.seed(1)
    p = fastdnn.initialize_parameters(3, 2, 1)
    assert sorted(p) == ["W1", "W2", "b1", "b2"]
    close(p["W1"], seed.INIT_2LAYER_SEED1["W1"])
    close(p["W2"], seed.INIT_2LAYER_SEED1["W2"])
    assert p["b1"].shape == (2, 1) and not p["b1"].any()
    assert p["b2"].shape == (1, 1) and not p["b2"].any()


def test_initialize_parameters_deep():
    np.random.seed(11)   # irrelevant: the function reseeds with 3
    p = fastdnn.initialize_parameters_deep([5, 4, 3])
    assert sorted(p) == ["W1", "W2", "b1", "b2"]
    close(p["W1"], seed.INIT_DEEP_5_4_3["W1"])
    close(p["W2"], seed.INIT_DEEP_5_4_3["W2"])
    assert p["b1"].shape == (4, 1) and not p["b1"].any()
    assert p["b2"].shape == (3, 1) and not p["b2"].any()


def test_linear_forward():
    A, W, b = testcases.linear_forward_test_case()
    Z, cache = fastdnn.linear_forward(A, W, b)
    close(Z, seed.LINEAR_FORWARD_Z)
    assert isinstance(cache, tuple) and len(cache) == 3
    assert cache[0] is A and cache[1] is W and cache[2] is b


@pytest.mark.parametrize("activation, expected", [
    ("sigmoid", seed.LINEAR_ACTIVATION_FORWARD_SIGMOID_A),
    ("relu", seed.LINEAR_ACTIVATION_FORWARD_RELU_A),
])
def test_linear_activation_forward(activation, expected):
    A_prev, W, b = testcases.linear_activation_forward_test_case()
    A, cache = fastdnn.linear_activation_forward(A_prev, W, b, activation=activation)
    close(A, expected)
    (cA, cW, cb), Z = cache
    assert cA is A_prev and cW is W and cb is b
    close(Z, W @ A_prev + b, atol=1e-14)


def test_L_model_forward():
    X, parameters = testcases.L_model_forward_test_case()
    AL, caches = fastdnn.L_model_forward(X, parameters)
    close(AL, seed.L_MODEL_FORWARD_AL)
    assert len(caches) == seed.L_MODEL_FORWARD_N_CACHES
    assert "caches 的长度为 = " + str(len(caches)) == "caches 的长度为 = 2"


def test_compute_cost():
    Y, AL = testcases.compute_cost_test_case()
    cost = fastdnn.compute_cost(AL, Y)
    assert np.shape(cost) == ()
    close(cost, seed.COST)
    # printed by the seed as "cost = " + str(compute_cost(AL, Y))
    assert str(cost) == seed.COST_STR


def test_linear_backward():
    dZ, linear_cache = testcases.linear_backward_test_case()
    dA_prev, dW, db = fastdnn.linear_backward(dZ, linear_cache)
    for name, value in (("dA_prev", dA_prev), ("dW", dW), ("db", db)):
        close(value, seed.LINEAR_BACKWARD[name])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_linear_activation_backward(activation):
    dA, cache = testcases.linear_activation_backward_test_case()
    dA_prev, dW, db = fastdnn.linear_activation_backward(dA, cache, activation=activation)
    expected = seed.LINEAR_ACTIVATION_BACKWARD[activation]
    for name, value in (("dA_prev", dA_prev), ("dW", dW), ("db", db)):
        close(value, expected[name])


def test_linear_activation_backward_default_is_relu():
    dA, cache = testcases.linear_activation_backward_test_case()
    dA_prev, dW, db = fastdnn.linear_activation_backward(dA, cache)
    close(dW, seed.LINEAR_ACTIVATION_BACKWARD["relu"]["dW"])


def test_L_model_backward():
    AL, Y, caches = testcases.L_model_backward_test_case()
    grads = fastdnn.L_model_backward(AL, Y, caches)
    for key in ("dW1", "db1", "dA1"):
        close(grads[key], seed.L_MODEL_BACKWARD[key])
    assert sorted(grads) == ["dA1", "dA2", "dW1", "dW2", "db1", "db2"]
    assert grads["dA1"].shape == caches[0][0][0].shape   # gradient w.r.t. X


def test_update_parameters_fixture():
    parameters, grads = testcases.update_parameters_test_case()
    expected = ref.update_parameters(parameters, grads, 0.1)
    held = dict(parameters)
    copies = {k: v.copy() for k, v in parameters.items()}
    out = fastdnn.update_parameters(parameters, grads, 0.1)
    assert out is parameters                       # the seed returns its dict
    assert sorted(out) == ["W1", "W2", "b1", "b2"]
    for k in expected:
        np.testing.assert_allclose(out[k], expected[k], rtol=0, atol=1e-15)
        np.testing.assert_array_equal(held[k], copies[k])   # arrays the caller holds
