"""Course 2, week 1, "Initialization": ``init_utils`` and the notebook's
functions, for any number of layers (COURSE2.md section 2).

Swap ``from init_utils import ...`` for ``from fastdnn.course2.initialization import ...``.
Gradient keys are lower-case (``dz3, dW3, db3, da2, ...``) and the 1/m sits
in the output delta, as in ``init_utils``.  ``model`` trains on the compiled
engine; only numpy's legacy global generator is used, seeded as the course
seeds it.
"""
import numpy as np

from fastdnn.course2 import _common, _engine
from fastdnn.course2._common import (  # noqa: F401  (the helper file's names)
    plot_decision_boundary,
    predict,
    predict_dec,
    relu,
    sigmoid,
    update_parameters,
)
from fastdnn.course2.datasets import make_circles

__all__ = [
    "sigmoid", "relu", "forward_propagation", "backward_propagation", "update_parameters",
    "compute_loss", "predict", "predict_dec", "plot_decision_boundary", "load_dataset",
    "initialize_parameters_zeros", "initialize_parameters_random",
    "initialize_parameters_he", "model",
]


def forward_propagation(X, parameters):
    """LINEAR->RELU x (L-1) -> LINEAR->SIGMOID.

    Returns ``(aL, cache)``, cache ``(z1, a1, W1, b1, ..., zL, aL, WL, bL)``.
    """
    return _common.forward(X, parameters)


def backward_propagation(X, Y, cache):
    """Gradients of the cross-entropy, keys ``dz{L}, dW{L}, db{L}``, then
    ``da{l}, dz{l}, dW{l}, db{l}`` for l = L-1 .. 1.

    dz_L = (1/m)(a_L - Y); dW_l = dz_l a_{l-1}^T; db_l = row sums of dz_l;
    da_l = W_{l+1}^T dz_{l+1}; dz_l = da_l * int64(a_l > 0).
    """
    return _common.backward(X, Y, cache, lower=True)


def compute_loss(a3, Y):
    """(1/m) nansum(-log(a3) Y - log(1 - a3)(1 - Y)): 0 log 0 terms drop out."""
    return _common.nansum_cost(a3, Y)


def load_dataset():
    """The notebook's circles: seed 1, make_circles(300, noise=.05) for training,
    seed 2, make_circles(100, noise=.05) for testing.

    Returns ``train_X (2, 300), train_Y (1, 300), test_X (2, 100), test_Y (1, 100)``.
    """
    np.random.seed(1)
    train_X, train_Y = make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    test_X, test_Y = make_circles(n_samples=100, noise=.05)
    train_X = train_X.T
    train_Y = train_Y.reshape((1, train_Y.shape[0]))
    test_X = test_X.T
    test_Y = test_Y.reshape((1, test_Y.shape[0]))
    return train_X, train_Y, test_X, test_Y


def _init(layers_dims, scale):
    dims = _common.check_layers_dims(layers_dims)
    parameters = {}
    if scale is not None:
        np.random.seed(3)
    for l in range(1, len(dims)):
        if scale is None:
            W = np.zeros((dims[l], dims[l - 1]))
        else:
            W = np.random.randn(dims[l], dims[l - 1]) * scale(dims[l - 1])
        parameters["W" + str(l)] = W
        parameters["b" + str(l)] = np.zeros((dims[l], 1))
    return parameters


def initialize_parameters_zeros(layers_dims):
    """All weights and biases zero; draws nothing."""
    return _init(layers_dims, None)


def initialize_parameters_random(layers_dims):
    """``np.random.seed(3)``, then W_l = randn(n_l, n_{l-1}) * 10 for l = 1..L; zero biases."""
    return _init(layers_dims, lambda n: 10)


def initialize_parameters_he(layers_dims):
    """``np.random.seed(3)``, then W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}); zero biases."""
    return _init(layers_dims, lambda n: np.sqrt(2. / n))


_INITIALIZERS = {
    "zeros": initialize_parameters_zeros,
    "random": initialize_parameters_random,
    "he": initialize_parameters_he,
}


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, initialization="he"):
    """The notebook's three-layer model [n_x, 10, 5, 1], full-batch gradient descent.

    ``initialization``: "zeros", "random" or "he".  Every 1000 iterations
    (with print_cost) prints ``Cost after iteration i: <cost>``, the course's
    ``compute_loss`` of the forward pass step i uses.  Returns the parameters.
    Runs on the compiled engine.
    """
    if initialization not in _INITIALIZERS:
        raise ValueError("initialization must be one of 'zeros', 'random', 'he', got %r"
                         % (initialization,))
    _check_run(X, Y, learning_rate, num_iterations)
    layers_dims = [X.shape[0], 10, 5, 1]
    parameters = _INITIALIZERS[initialization](layers_dims)
    costs = []
    points = range(0, num_iterations, 1000) if print_cost else ()

    def cost_at(i, params):
        a3, _ = forward_propagation(X, params)
        cost = compute_loss(a3, Y)
        print("Cost after iteration {}: {}".format(i, cost))
        costs.append(cost)

    return _engine.run_full_batch(X, _engine.as_float_labels(Y), parameters, num_iterations,
                                  points, cost_at, learning_rate=learning_rate)


def _check_run(X, Y, learning_rate, num_iterations):
    if not isinstance(num_iterations, (int, np.integer)) or num_iterations < 0:
        raise ValueError("num_iterations must be an int >= 0, got %r" % (num_iterations,))
    if np.ndim(X) != 2 or np.ndim(Y) != 2 or np.shape(Y)[1] != np.shape(X)[1]:
        raise ValueError("X must be (n_x, m) and Y (1, m); got X %s, Y %s"
                         % (np.shape(X), np.shape(Y)))

