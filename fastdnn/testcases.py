"""Fixtures behind the seed's printed outputs (SPEC section 2).

Each fixture seeds numpy's *global* RNG (``np.random.seed``) and draws
``np.random.randn`` arrays of the listed shapes in the listed order, so the
values are exactly the ones the seed's notebook printed results for.  Cache
layouts follow SPEC section 1: a linear cache is ``(A, W, b)`` and an
activation cache is ``((A, W, b), Z)``.  Label arrays ``Y`` are integer
arrays, as in the seed.

This module imports only numpy.
"""

import numpy as np

__all__ = [
    "linear_forward_test_case",
    "linear_activation_forward_test_case",
    "L_model_forward_test_case",
    "compute_cost_test_case",
    "linear_backward_test_case",
    "linear_activation_backward_test_case",
    "L_model_backward_test_case",
    "update_parameters_test_case",
    "L_model_forward_test_case_2hidden",
    "print_grads",
]


def linear_forward_test_case():
    """Seed 1; A (3,2), W (1,3), b (1,1).  Returns ``A, W, b``."""
    np.random.seed(1)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    return A, W, b


def linear_activation_forward_test_case():
    """Seed 2; A_prev (3,2), W (1,3), b (1,1).  Returns ``A_prev, W, b``."""
    np.random.seed(2)
    A_prev = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    return A_prev, W, b


def L_model_forward_test_case():
    """Seed 1; X (4,2), W1 (3,4), b1 (3,1), W2 (1,3), b2 (1,1).

    Returns ``X, parameters`` with parameters = {"W1", "b1", "W2", "b2"}.
    """
    np.random.seed(1)
    X = np.random.randn(4, 2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return X, parameters


def compute_cost_test_case():
    """No RNG.  Returns ``Y, AL`` with Y = [[1, 1, 1]] (int), AL = [[.8, .9, .4]]."""
    Y = np.asarray([[1, 1, 1]])
    AL = np.array([[0.8, 0.9, 0.4]])
    return Y, AL


def linear_backward_test_case():
    """Seed 1; dZ (1,2), A (3,2), W (1,3), b (1,1).  Returns ``dZ, (A, W, b)``."""
    np.random.seed(1)
    dZ = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    linear_cache = (A, W, b)
    return dZ, linear_cache


def linear_activation_backward_test_case():
    """Seed 2; dA (1,2), A (3,2), W (1,3), b (1,1), Z (1,2).

    Returns ``dA, ((A, W, b), Z)``.
    """
    np.random.seed(2)
    dA = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    Z = np.random.randn(1, 2)
    linear_cache = (A, W, b)
    activation_cache = Z
    return dA, (linear_cache, activation_cache)


def L_model_backward_test_case():
    """Seed 3; AL (1,2); Y = [[1, 0]] (int, not drawn); then A1 (4,2),
    W1 (3,4), b1 (3,1), Z1 (3,2), A2 (3,2), W2 (1,3), b2 (1,1), Z2 (1,2).

    Returns ``AL, Y, (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))``.  AL is a raw
    normal draw, not a probability: the seed feeds it as given.
    """
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])

    A1 = np.random.randn(4, 2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    Z1 = np.random.randn(3, 2)
    cache1 = ((A1, W1, b1), Z1)

    A2 = np.random.randn(3, 2)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    Z2 = np.random.randn(1, 2)
    cache2 = ((A2, W2, b2), Z2)

    return AL, Y, (cache1, cache2)


def update_parameters_test_case():
    """Seed 2: W1 (3,4), b1 (3,1), W2 (1,3), b2 (1,1); then seed 3: dW1,
    db1, dW2, db2 of the same shapes.  Returns ``parameters, grads``.
    """
    np.random.seed(2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

    np.random.seed(3)
    dW1 = np.random.randn(3, 4)
    db1 = np.random.randn(3, 1)
    dW2 = np.random.randn(1, 3)
    db2 = np.random.randn(1, 1)
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    return parameters, grads


def L_model_forward_test_case_2hidden():
    """Seed 6; X (5,4), W1 (4,5), b1 (4,1), W2 (3,4), b2 (3,1), W3 (1,3), b3 (1,1).

    Returns ``X, parameters`` (the English course's three-layer forward case).
    """
    np.random.seed(6)
    X = np.random.randn(5, 4)
    W1 = np.random.randn(4, 5)
    b1 = np.random.randn(4, 1)
    W2 = np.random.randn(3, 4)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return X, parameters


def print_grads(grads):
    """Print ``dW1 = ...``, ``db1 = ...`` and ``dA1 = ...`` (three lines, numpy's str)."""
    print("dW1 = " + str(grads["dW1"]))
    print("db1 = " + str(grads["db1"]))
    print("dA1 = " + str(grads["dA1"]))
