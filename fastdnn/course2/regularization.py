"""Course 2, week 1, "Regularization": ``reg_utils`` and the notebook's
functions, for any number of layers (COURSE2.md section 3).

Swap ``from reg_utils import ...`` for ``from fastdnn.course2.regularization import ...``.
Gradient keys are upper-case (``dZ3, dW3, db3, dA2, ...``); dZ_L = A_L - Y and
the 1/m sits on dW and db, as in ``reg_utils``.  ``model`` trains on the
compiled engine; dropout there uses the course's masks (the notebook reseeds
1 at every forward pass, so every iteration has the same masks).
"""
import numpy as np

from fastdnn.course2 import _common, _engine
from fastdnn.course2._common import (  # noqa: F401  (the helper file's names)
    load_2D_dataset,
    plot_decision_boundary,
    predict,
    predict_dec,
    relu,
    sigmoid,
    update_parameters,
)

__all__ = [
    "sigmoid", "relu", "initialize_parameters", "forward_propagation",
    "backward_propagation", "compute_cost", "update_parameters", "predict", "predict_dec",
    "plot_decision_boundary", "load_2D_dataset",
    "compute_cost_with_regularization", "backward_propagation_with_regularization",
    "forward_propagation_with_dropout", "backward_propagation_with_dropout", "model",
]


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``, then W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l zeros."""
    dims = _common.check_layers_dims(layer_dims, "layer_dims")
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(dims)):
        parameters['W' + str(l)] = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        parameters['b' + str(l)] = np.zeros((dims[l], 1))
    return parameters


def forward_propagation(X, parameters):
    """LINEAR->RELU x (L-1) -> LINEAR->SIGMOID.

    Returns ``(AL, cache)``, cache ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``.
    """
    return _common.forward(X, parameters)


def backward_propagation(X, Y, cache):
    """Gradients, keys ``dZ{L}, dW{L}, db{L}``, then ``dA{l}, dZ{l}, dW{l}, db{l}``.

    dZ_L = A_L - Y; dW_l = (1/m) dZ_l A_{l-1}^T; db_l = (1/m) row sums;
    dA_l = W_{l+1}^T dZ_{l+1}; dZ_l = dA_l * int64(A_l > 0).
    """
    return _common.backward(X, Y, cache, lower=False)


def compute_cost(a3, Y):
    """(1/m) nansum(-log(a3) Y - log(1 - a3)(1 - Y)): 0 log 0 terms drop out."""
    return _common.nansum_cost(a3, Y)


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """compute_cost(A3, Y) + lambd/(2m) (sum ||W1||^2 + ... + sum ||WL||^2), m = Y.shape[1]."""
    A3, Y = _common.check_cost_args(A3, Y, "A3")
    m = np.shape(Y)[1]
    L, _ = _common.check_network(parameters)
    lambd = _common.check_real("lambd", lambd, low=0.0)
    cross_entropy_cost = compute_cost(A3, Y)
    squares = 0
    for l in range(1, L + 1):
        squares = squares + np.sum(np.square(parameters["W" + str(l)]))
    L2_regularization_cost = lambd / (2 * m) * squares
    return cross_entropy_cost + L2_regularization_cost


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """``backward_propagation`` with dW_l = (1/m) dZ_l A_{l-1}^T + (lambd/m) W_l."""
    lambd = _common.check_real("lambd", lambd, low=0.0)
    return _common.backward(X, Y, cache, lower=False, lambd=lambd)


def _check_keep_prob(keep_prob):
    if not isinstance(keep_prob, (int, float, np.floating, np.integer)) \
            or isinstance(keep_prob, bool) or not 0 < keep_prob <= 1:
        raise ValueError("keep_prob must be a number in (0, 1], got %r" % (keep_prob,))


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Forward pass with inverted dropout on the hidden layers.

    Calls ``np.random.seed(1)`` on every call, then for each hidden layer l:
    A_l = relu(Z_l); D_l = int(rand(n_l, m) < keep_prob); A_l = A_l * D_l / keep_prob.
    Returns ``(AL, cache)``, cache ``(Z_l, D_l, A_l, W_l, b_l)`` per hidden
    layer, then ``(ZL, AL, WL, bL)``.
    """
    _check_keep_prob(keep_prob)
    L, X = _common.check_network(parameters, X)
    np.random.seed(1)
    A = X
    cache = []
    for l in range(1, L + 1):
        W = parameters["W" + str(l)]
        b = parameters["b" + str(l)]
        Z = np.dot(W, A) + b
        if l < L:
            A = relu(Z)
            D = np.random.rand(A.shape[0], A.shape[1])
            D = (D < keep_prob).astype(int)
            A = A * D
            A = A / keep_prob
            cache += [Z, D, A, W, b]
        else:
            A = sigmoid(Z)
            cache += [Z, A, W, b]
    return A, tuple(cache)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """``backward_propagation`` for a dropout cache: each dA_l is multiplied by
    D_l and divided by keep_prob before dZ_l = dA_l * int64(A_l > 0)."""
    _check_keep_prob(keep_prob)
    return _common.backward(X, Y, cache, lower=False, dropout=True, keep_prob=keep_prob)


def _dropout_masks(X, layers_dims, keep_prob):
    """The masks ``forward_propagation_with_dropout`` draws (seed 1, rand per hidden
    layer, C order): the same at every iteration of the notebook's model."""
    np.random.seed(1)
    m = X.shape[1]
    return [(np.random.rand(n, m) < keep_prob).astype(np.float64) for n in layers_dims[1:-1]]


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0, keep_prob=1):
    """The notebook's model [n_x, 20, 3, 1]: plain, with L2 (``lambd``) or with
    dropout (``keep_prob`` < 1), never both (ValueError).

    Prints ``Cost after iteration i: <cost>`` every 10000 iterations (the cost
    of the forward pass step i uses, with the course's cost functions) and
    records it every 1000.  Returns the parameters.  Runs on the compiled
    engine; with dropout the masks are the course's, fixed for the whole run,
    and numpy's global generator ends where the course leaves it.
    """
    _check_keep_prob(keep_prob)
    if not (lambd == 0 or keep_prob == 1):
        raise ValueError("L2 regularization (lambd=%r) and dropout (keep_prob=%r) cannot be "
                         "used together (the course asserts lambd == 0 or keep_prob == 1)"
                         % (lambd, keep_prob))
    if not isinstance(lambd, (int, float, np.integer, np.floating)) or lambd < 0:
        raise ValueError("lambd must be a number >= 0, got %r" % (lambd,))
    if not isinstance(num_iterations, (int, np.integer)) or num_iterations < 0:
        raise ValueError("num_iterations must be an int >= 0, got %r" % (num_iterations,))
    if np.ndim(X) != 2 or np.ndim(Y) != 2 or np.shape(Y)[1] != np.shape(X)[1]:
        raise ValueError("X must be (n_x, m) and Y (1, m); got X %s, Y %s"
                         % (np.shape(X), np.shape(Y)))
    costs = []
    layers_dims = [X.shape[0], 20, 3, 1]
    parameters = initialize_parameters(layers_dims)
    points = range(0, num_iterations, 1000) if print_cost else ()

    def forward(params):
        if keep_prob == 1:
            return forward_propagation(X, params)
        return forward_propagation_with_dropout(X, params, keep_prob)

    def cost_at(i, params):
        a3, _ = forward(params)
        if lambd == 0:
            cost = compute_cost(a3, Y)
        else:
            cost = compute_cost_with_regularization(a3, Y, params, lambd)
        if i % 10000 == 0:
            print("Cost after iteration {}: {}".format(i, cost))
        costs.append(cost)

    masks = None
    if keep_prob < 1 and num_iterations > 0:
        masks = _dropout_masks(X, layers_dims, keep_prob)
    return _engine.run_full_batch(
        X, _engine.as_float_labels(Y), parameters, num_iterations, points, cost_at,
        dropout_masks=masks, learning_rate=learning_rate, lambd=float(lambd),
        keep_prob=float(keep_prob))

