"""Course 2, week 1, "Gradient Checking": ``gc_utils`` and the notebook's
functions (COURSE2.md section 4), the N-D network generalised to L layers.

Swap ``from gc_utils import ...`` (and the notebook's own cells) for
``from fastdnn.course2.gradient_checking import ...``.  Pure numpy, float64:
with epsilon = 1e-7 a two-sided difference amplifies rounding of J about 1e7
times, so J is computed exactly as the course computes it.
"""
import numpy as np

from fastdnn.course2 import _common
from fastdnn.course2._common import relu, sigmoid  # noqa: F401  (the helper file's names)

__all__ = [
    "sigmoid", "relu", "dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector",
    "forward_propagation", "backward_propagation", "gradient_check",
    "forward_propagation_n", "backward_propagation_n", "gradient_check_n",
]

_THRESHOLD = 2e-7


def _message(difference, print_msg):
    if print_msg:
        if difference > _THRESHOLD:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = "
                  + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = "
                  + str(difference) + "\033[0m")


# ------------------------------------------------------------------ 1-D
def forward_propagation(x, theta):
    """J(theta) = theta * x."""
    J = theta * x
    return J


def backward_propagation(x, theta):
    """dJ/dtheta = x."""
    dtheta = x
    return dtheta


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """The relative difference between backward_propagation(x, theta) and the
    two-sided difference (J(theta + eps) - J(theta - eps)) / (2 eps)."""
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x, theta_plus)
    J_minus = forward_propagation(x, theta_minus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    _message(difference, print_msg)
    return difference


# ------------------------------------------------------------------ vectors
def _layer_keys(parameters, prefix_w, prefix_b, name):
    L = 0
    while (prefix_w + str(L + 1)) in parameters:
        L += 1
    if L == 0:
        raise ValueError("%s has no %s1 (keys: %r)" % (name, prefix_w, sorted(parameters)))
    keys = []
    for l in range(1, L + 1):
        for key in (prefix_w + str(l), prefix_b + str(l)):
            if key not in parameters:
                raise ValueError("%s has no %r (keys: %r)" % (name, key, sorted(parameters)))
            keys.append(key)
    return keys


def dictionary_to_vector(parameters):
    """W1, b1, ..., WL, bL stacked as one column (C order within each array).

    Returns ``(theta (n, 1), keys)``, keys naming each element's parameter.
    """
    keys = []
    pieces = []
    for key in _layer_keys(parameters, "W", "b", "parameters"):
        new_vector = np.reshape(parameters[key], (-1, 1))
        keys = keys + [key] * new_vector.shape[0]
        pieces.append(new_vector)
    theta = np.concatenate(pieces, axis=0)
    return theta, keys


def vector_to_dictionary(theta, layers_dims=(4, 5, 3, 1)):
    """The inverse of ``dictionary_to_vector`` for a network of ``layers_dims``
    (default: the course's 47 parameters, W1 (5,4), b1 (5,1), W2 (3,5), b2 (3,1),
    W3 (1,3), b3 (1,1))."""
    dims = _common.check_layers_dims(layers_dims)
    theta = np.asarray(theta)
    total = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))
    if theta.size != total:
        raise ValueError("theta has %d elements, layers_dims=%r needs %d"
                         % (theta.size, tuple(layers_dims), total))
    parameters = {}
    pos = 0
    for l in range(1, len(dims)):
        n_w = dims[l] * dims[l - 1]
        parameters["W" + str(l)] = theta[pos:pos + n_w].reshape((dims[l], dims[l - 1]))
        pos += n_w
        parameters["b" + str(l)] = theta[pos:pos + dims[l]].reshape((dims[l], 1))
        pos += dims[l]
    return parameters


def gradients_to_vector(gradients):
    """dW1, db1, ..., dWL, dbL stacked as one column (other keys ignored)."""
    pieces = [np.reshape(gradients[key], (-1, 1))
              for key in _layer_keys(gradients, "dW", "db", "gradients")]
    return np.concatenate(pieces, axis=0)


# ------------------------------------------------------------------ N-D
def forward_propagation_n(X, Y, parameters):
    """The L-layer forward pass and its cost (1/m) sum(-log(AL) Y - log(1-AL)(1-Y))
    (``np.sum``, not nansum).  Returns ``(cost, cache)``, cache
    ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``."""
    AL, cache = _common.forward(X, parameters)
    m = np.shape(X)[1]
    _common.check_labels(Y, m)
    logprobs = _common.logprobs(AL, Y)
    cost = 1. / m * np.sum(logprobs)
    return cost, cache


def backward_propagation_n(X, Y, cache, *, buggy=False):
    """The correct gradients (keys and formulas of the regularization notebook's
    ``backward_propagation``).  ``buggy=True``: the notebook's cell with its two
    planted bugs, dW2 = (1/m)(dZ2 A1^T) * 2 and db1 = (4/m) row sums of dZ1."""
    return _common.backward(X, Y, cache, lower=False, buggy=buggy)


_BLOCK_VALUES = 1 << 18


def _costs(X, Y, thetas, dims):
    """``forward_propagation_n``'s cost for each row of ``thetas`` (P, n), the vectors
    ``dictionary_to_vector`` makes, bit for bit: the same numpy operations on a stack of
    P networks.  ``np.matmul`` calls for each network the BLAS product ``np.dot`` calls
    for it alone, the ufuncs give each element the value they give it alone, and each
    row's sum is numpy's pairwise sum of the same values (tests/test_course2_functions.py
    compares with the one-network loop on random networks)."""
    P = thetas.shape[0]
    L = len(dims) - 1
    A = X
    pos = 0
    for l in range(1, L + 1):
        n_w = dims[l] * dims[l - 1]
        W = thetas[:, pos:pos + n_w].reshape(P, dims[l], dims[l - 1])
        pos += n_w
        b = thetas[:, pos:pos + dims[l]].reshape(P, dims[l], 1)
        pos += dims[l]
        Z = np.matmul(W, A) + b
        A = relu(Z) if l < L else sigmoid(Z)
    logprobs = _common.logprobs(A, Y)
    return 1. / X.shape[1] * np.sum(logprobs.reshape(P, -1), axis=1)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """The relative difference between ``gradients`` and the two-sided
    differences of ``forward_propagation_n``'s cost, one parameter at a time."""
    _, X = _common.check_network(parameters, X)
    _common.check_like(gradients, parameters, "gradients")
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    if grad.shape != parameters_values.shape:
        raise ValueError("gradients hold %d values, parameters %d"
                         % (grad.shape[0], parameters_values.shape[0]))
    L = len(parameters) // 2
    dims = [parameters["W1"].shape[1]] + [parameters["W" + str(l)].shape[0]
                                          for l in range(1, L + 1)]
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    Y = _common.as_labels(Y)
    _common.check_labels(Y, X.shape[1])
    theta = parameters_values[:, 0]
    # perturbations a block at a time: the block's parameter vectors and activations
    # stay near _BLOCK_VALUES values
    block = max(1, _BLOCK_VALUES // max(num_parameters, X.shape[1] * max(dims)))
    for start in range(0, num_parameters, block):
        idx = np.arange(start, min(start + block, num_parameters))
        for J, sign in ((J_plus, 1.0), (J_minus, -1.0)):
            thetas = np.repeat(theta[None, :], idx.size, axis=0)
            # theta[i] + epsilon (theta[i] - epsilon), as the course perturbs it
            thetas[np.arange(idx.size), idx] = (theta[idx] + epsilon if sign > 0
                                                else theta[idx] - epsilon)
            J[idx, 0] = _costs(X, Y, thetas, dims)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = float(numerator / denominator)
    _message(difference, print_msg)
    return difference
