"""The current course's (2023+) fixtures for the three course-2 assignments
(COURSE2.md section 6): Regularization, Gradient Checking, Optimization.

Swap ``from testCases import *`` for ``from fastdnn.course2.testcases import *``.
Each fixture seeds numpy's global generator and draws ``np.random.randn`` of
the listed shapes in order.  Where the course ships rounded literals (the
backward fixtures' caches), they are recomputed here from the same draws
and rounded to the same 8 decimals.  Only numpy is imported.
"""
import numpy as np

__all__ = [
    "compute_cost_with_regularization_test_case",
    "forward_propagation_with_dropout_test_case",
    "backward_propagation_with_regularization_test_case",
    "backward_propagation_with_dropout_test_case",
    "gradient_check_n_test_case",
    "update_parameters_with_gd_test_case",
    "update_parameters_with_momentum_test_case",
    "update_parameters_with_adam_test_case",
    "initialize_adam_test_case",
    "initialize_velocity_test_case",
    "random_mini_batches_test_case",
]


def _Y5():
    return np.array([[1, 1, 0, 1, 0]])


def _p6():
    """W1 (2,3), b1 (2,1), W2 (3,2), b2 (3,1), W3 (1,3), b3 (1,1), drawn in order."""
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 2)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _round(arrays):
    return tuple(np.round(a, 8) if a.dtype.kind == "f" else a for a in arrays)


def compute_cost_with_regularization_test_case():
    """Seed 1; the six parameters; a3 literal.  Returns ``(a3, Y, parameters)``."""
    np.random.seed(1)
    Y = _Y5()
    parameters = _p6()
    a3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    return a3, Y, parameters


def forward_propagation_with_dropout_test_case():
    """Seed 1; X (3,5); the six parameters.  Returns ``(X, parameters)``."""
    np.random.seed(1)
    X = np.random.randn(3, 5)
    parameters = _p6()
    return X, parameters


def backward_propagation_with_regularization_test_case():
    """The draws of the dropout forward fixture; the cache of the plain forward
    pass ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)`` rounded to 8
    decimals.  Returns ``(X, Y, cache)``."""
    X, p = forward_propagation_with_dropout_test_case()
    Z1 = np.dot(p["W1"], X) + p["b1"]
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    A2 = np.maximum(0, Z2)
    Z3 = np.dot(p["W3"], A2) + p["b3"]
    A3 = _sigmoid(Z3)
    cache = _round((Z1, A1, p["W1"], p["b1"], Z2, A2, p["W2"], p["b2"],
                    Z3, A3, p["W3"], p["b3"]))
    return X, _Y5(), cache


def backward_propagation_with_dropout_test_case():
    """The same draws with the course's frozen boolean masks D1 (2,5), D2 (3,5)
    and keep_prob 0.5 in the cache ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2,
    Z3, A3, W3, b3)`` (floats rounded to 8 decimals).  Returns ``(X, Y, cache)``."""
    X, p = forward_propagation_with_dropout_test_case()
    D1 = np.array([[True, False, True, True, True],
                   [True, True, True, True, False]])
    D2 = np.array([[True, False, True, False, True],
                   [False, True, False, True, True],
                   [False, False, True, False, False]])
    Z1 = np.dot(p["W1"], X) + p["b1"]
    A1 = np.maximum(0, Z1) * D1 / 0.5
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    A2 = np.maximum(0, Z2) * D2 / 0.5
    Z3 = np.dot(p["W3"], A2) + p["b3"]
    A3 = _sigmoid(Z3)
    cache = _round((Z1, D1, A1, p["W1"], p["b1"], Z2, D2, A2, p["W2"], p["b2"],
                    Z3, A3, p["W3"], p["b3"]))
    return X, _Y5(), cache


def gradient_check_n_test_case():
    """Seed 1; x (4,3); y = [1, 1, 0] (1-D); W1 (5,4), b1 (5,1), W2 (3,5),
    b2 (3,1), W3 (1,3), b3 (1,1).  Returns ``(x, y, parameters)``."""
    np.random.seed(1)
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    W1 = np.random.randn(5, 4)
    b1 = np.random.randn(5, 1)
    W2 = np.random.randn(3, 5)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return x, y, parameters


def _opt_params_grads():
    np.random.seed(1)
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 2)
    b2 = np.random.randn(3, 1)
    dW1 = np.random.randn(2, 3)
    db1 = np.random.randn(2, 1)
    dW2 = np.random.randn(3, 2)
    db2 = np.random.randn(3, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    return parameters, grads


def _zeros(parameters):
    return {"d" + k: np.zeros(v.shape) for k, v in parameters.items()}


def update_parameters_with_gd_test_case():
    """Seed 1; W1 (2,3), b1 (2,1), W2 (3,2), b2 (3,1), then their gradients.
    Returns ``(parameters, grads, 0.01)``."""
    parameters, grads = _opt_params_grads()
    return parameters, grads, 0.01


def update_parameters_with_momentum_test_case():
    """As the gd fixture, with v zeros.  Returns ``(parameters, grads, v)``."""
    parameters, grads = _opt_params_grads()
    v = {"dW1": np.zeros(parameters["W1"].shape), "db1": np.zeros(parameters["b1"].shape),
         "dW2": np.zeros(parameters["W2"].shape), "db2": np.zeros(parameters["b2"].shape)}
    return parameters, grads, v


def update_parameters_with_adam_test_case():
    """As the gd fixture, with v, s zeros.  Returns ``(parameters, grads, v, s,
    t=2, learning_rate=0.02, beta1=0.8, beta2=0.888, epsilon=1e-2)``."""
    parameters, grads = _opt_params_grads()
    v = {"dW1": np.zeros(parameters["W1"].shape), "db1": np.zeros(parameters["b1"].shape),
         "dW2": np.zeros(parameters["W2"].shape), "db2": np.zeros(parameters["b2"].shape)}
    s = {"dW1": np.zeros(parameters["W1"].shape), "db1": np.zeros(parameters["b1"].shape),
         "dW2": np.zeros(parameters["W2"].shape), "db2": np.zeros(parameters["b2"].shape)}
    t = 2
    learning_rate = 0.02
    beta1 = 0.8
    beta2 = 0.888
    epsilon = 1e-2
    return parameters, grads, v, s, t, learning_rate, beta1, beta2, epsilon


def initialize_adam_test_case():
    """Seed 1; W1 (2,3), b1 (2,1), W2 (3,2), b2 (3,1).  Returns ``parameters``."""
    np.random.seed(1)
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 2)
    b2 = np.random.randn(3, 1)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_velocity_test_case():
    """Seed 1; W1 (3,2), b1 (3,1), W2 (3,3), b2 (3,1).  Returns ``parameters``."""
    np.random.seed(1)
    W1 = np.random.randn(3, 2)
    b1 = np.random.randn(3, 1)
    W2 = np.random.randn(3, 3)
    b2 = np.random.randn(3, 1)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def random_mini_batches_test_case():
    """Seed 1; X (12288, 148); Y = randn(1, 148) < 0.5.  Returns ``(X, Y, 64)``."""
    np.random.seed(1)
    mini_batch_size = 64
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    return X, Y, mini_batch_size
