"""Plain-numpy reference implementation of the seed's algorithm.

This module is the yardstick that tests and benchmarks compare ``fastdnn``
against.  It is written directly from the seed document's math and is kept
deliberately simple and literal: every function computes exactly what the
seed's numpy code computes, in the dtype numpy's own promotion rules give for
the inputs (float32 inputs stay float32 wherever numpy keeps them so).

Differences from the public API, on purpose:

* ``two_layer_model`` and ``L_layer_model`` return ``(parameters, costs)`` so
  cost histories can be compared; ``isPlot`` defaults to False.
* ``predict`` does not print; it only returns ``p``.
* ``update_parameters`` never mutates its inputs: it returns a new dict of
  new arrays.

Shapes: ``A``/``X`` are (n_features, m) with one example per column, ``W_l``
is (n_l, n_{l-1}), ``b_l`` is (n_l, 1), ``Y``/``AL`` are (1, m).
"""

import numpy as np

__all__ = [
    "sigmoid", "relu", "sigmoid_backward", "relu_backward",
    "initialize_parameters", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward",
    "compute_cost", "linear_backward", "linear_activation_backward",
    "L_model_backward", "update_parameters",
    "two_layer_model", "L_layer_model", "predict",
]


# ---------------------------------------------------------------- activations
def sigmoid(Z):
    """Return ``(A, cache)`` with A = 1 / (1 + exp(-Z)) and cache = Z."""
    A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    """Return ``(A, cache)`` with A = max(0, Z) elementwise and cache = Z."""
    A = np.maximum(0, Z)
    return A, Z


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s) with s = sigmoid(Z), Z = cache."""
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def relu_backward(dA, cache):
    """dZ = copy of dA with dZ[Z <= 0] = 0, Z = cache."""
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


# ------------------------------------------------------------- initialisation
def initialize_parameters(n_x, n_h, n_y):
    """Two-layer init from the global RNG (no reseed).

    W1 (n_h, n_x) = randn * 0.01, b1 (n_h, 1) zeros,
    W2 (n_y, n_h) = randn * 0.01, b2 (n_y, 1) zeros; drawn in that order.
    """
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layers_dims):
    """Deep init: np.random.seed(3), then for l = 1..L-1
    W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros (n_l, 1)."""
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = (np.random.randn(layers_dims[l], layers_dims[l - 1])
                                    / np.sqrt(layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


# -------------------------------------------------------------------- forward
def linear_forward(A, W, b):
    """Z = W.A + b; returns ``(Z, (A, W, b))``."""
    Z = np.dot(W, A) + b
    return Z, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """LINEAR -> ACTIVATION ("relu" or "sigmoid").

    Returns ``(A, ((A_prev, W, b), Z))``.
    """
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z)
    elif activation == "relu":
        A, activation_cache = relu(Z)
    else:
        raise ValueError("activation must be 'relu' or 'sigmoid', got %r" % (activation,))
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID.

    L = len(parameters) // 2.  Returns ``(AL, caches)``, AL (1, m), caches a
    list of L activation caches.
    """
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)],
                                             parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)],
                                          parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    """Cross-entropy -(1/m) sum(Y log AL + (1-Y) log(1-AL)), squeezed; m = Y.shape[1]."""
    m = Y.shape[1]
    cost = -np.sum(np.multiply(np.log(AL), Y) + np.multiply(np.log(1 - AL), 1 - Y)) / m
    cost = np.squeeze(cost)
    return cost


# ------------------------------------------------------------------- backward
def linear_backward(dZ, cache):
    """Returns ``(dA_prev, dW, db)``: dW = dZ.A_prev^T / m,
    db = row sums of dZ / m, dA_prev = W^T.dZ; m = A_prev.shape[1]."""
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation="relu"):
    """Backward through ACTIVATION then LINEAR; returns ``(dA_prev, dW, db)``."""
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
    else:
        raise ValueError("activation must be 'relu' or 'sigmoid', got %r" % (activation,))
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    """Backward pass of the whole model.

    dAL = -(Y/AL - (1-Y)/(1-AL)) with Y reshaped to AL's shape.  Returns a
    dict with, for l = 1..L, ``dW{l}``, ``db{l}`` and ``dA{l}`` = the dA_prev
    returned by layer l's backward step (so ``dA1`` is d cost / d X).
    """
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))

    dA_prev, dW, db = linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    grads["dA" + str(L)] = dA_prev
    grads["dW" + str(L)] = dW
    grads["db" + str(L)] = db
    for l in reversed(range(L - 1)):
        # layer l+1 (1-based) takes the dA_prev that layer l+2 returned
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 2)], caches[l], "relu")
        grads["dA" + str(l + 1)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
    return grads


def update_parameters(parameters, grads, learning_rate):
    """W_l - lr*dW_l, b_l - lr*db_l for l = 1..L; returns a NEW dict of new arrays."""
    L = len(parameters) // 2
    new = {}
    for l in range(1, L + 1):
        new["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        new["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return new


# ------------------------------------------------------------------- training
def _plot_costs(costs, learning_rate):
    import matplotlib.pyplot as plt
    plt.plot(np.squeeze(costs))
    plt.ylabel("cost")
    plt.xlabel("iterations (per hundreds)")
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, isPlot=False):
    """LINEAR -> RELU -> LINEAR -> SIGMOID trained by full-batch gradient descent.

    np.random.seed(1), then initialize_parameters(n_x, n_h, n_y).  The cost
    is recorded when i % 100 == 0.  Returns ``(parameters, costs)``.
    """
    np.random.seed(1)
    grads = {}
    costs = []
    (n_x, n_h, n_y) = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
    for i in range(0, num_iterations):
        A1, cache1 = linear_activation_forward(X, W1, b1, "relu")
        A2, cache2 = linear_activation_forward(A1, W2, b2, "sigmoid")
        cost = compute_cost(A2, Y)
        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, dW2, db2 = linear_activation_backward(dA2, cache2, "sigmoid")
        dA0, dW1, db1 = linear_activation_backward(dA1, cache1, "relu")
        grads["dW1"], grads["db1"], grads["dW2"], grads["db2"] = dW1, db1, dW2, db2
        parameters = update_parameters(parameters, grads, learning_rate)
        W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration", i, ":", np.squeeze(cost))
    if isPlot:
        _plot_costs(costs, learning_rate)
    return parameters, costs


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, isPlot=False):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID by full-batch gradient descent.

    np.random.seed(1), then initialize_parameters_deep(layers_dims) (which
    reseeds 3).  The cost is recorded when i % 100 == 0.  Returns
    ``(parameters, costs)``.
    """
    np.random.seed(1)
    costs = []
    parameters = initialize_parameters_deep(layers_dims)
    for i in range(0, num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration", i, ":", np.squeeze(cost))
    if isPlot:
        _plot_costs(costs, learning_rate)
    return parameters, costs


def predict(X, y, parameters):
    """Forward pass; returns p (1, m) float64 with 1.0 where AL > 0.5 else 0.0.

    ``y`` is accepted for signature compatibility; nothing is printed.
    """
    m = X.shape[1]
    probas, _ = L_model_forward(X, parameters)
    p = np.zeros((1, m))
    p[probas > 0.5] = 1
    return p


# ------------------------------------------------- SPEC Part II §5 (engine v2)
# The reference of the engine's configuration (activations, outputs and losses,
# initialisers, optimisers, L2, dropout, mini-batches, decay, scikit-learn's
# flavours) lives in tests/reference_v2.py; its names are re-exported here so
# that ``from tests import reference as ref; ref.train_v2(...)`` works.  The
# seed functions above are unchanged.
from tests.reference_v2 import (  # noqa: E402
    initialize_parameters_v2, loss_and_gradients_ref, train_v2, rel_err, make_problem,
    update_lr, schedule_lr_decay,
)
