"""Course 2, week 2, "Optimization Methods": ``opt_utils_v1a`` and the
notebook's functions (2021+ versions), for any number of layers
(COURSE2.md section 5).

Swap ``from opt_utils_v1a import ...`` for ``from fastdnn.course2.optimization import ...``.
``compute_cost`` is the *sum* over the batch; the model divides by m once per
epoch.  ``model`` trains on the compiled engine: the engine shuffles epoch i
with ``RandomState(11 + i).permutation(m)``, the numbers the course's
``random_mini_batches(X, Y, size, 11 + i)`` draws, and afterwards numpy's
global generator is left where the course's loop leaves it.
"""
import math

import numpy as np

from fastdnn.course2 import _common, _engine
from fastdnn.course2._common import (  # noqa: F401  (the helper file's names)
    load_2D_dataset,
    plot_decision_boundary,
    predict,
    predict_dec,
    relu,
    sigmoid,
)
from fastdnn.course2.datasets import make_moons

__all__ = [
    "sigmoid", "relu", "load_params_and_grads", "initialize_parameters",
    "forward_propagation", "backward_propagation", "compute_cost", "predict",
    "predict_dec", "plot_decision_boundary", "load_dataset", "load_2D_dataset",
    "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
    "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
    "update_lr", "schedule_lr_decay", "model",
]


# ------------------------------------------------------------------ helpers (opt_utils_v1a)
def load_params_and_grads(seed=1):
    """``np.random.seed(seed)``, then W1 (2,3), b1 (2,1), W2 (3,3), b2 (3,1) and
    dW1, db1, dW2, db2 alike; returns the eight arrays in that order."""
    np.random.seed(seed)
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 3)
    b2 = np.random.randn(3, 1)
    dW1 = np.random.randn(2, 3)
    db1 = np.random.randn(2, 1)
    dW2 = np.random.randn(3, 3)
    db2 = np.random.randn(3, 1)
    return W1, b1, W2, b2, dW1, db1, dW2, db2


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``, then W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}) (He), b_l zeros."""
    dims = _common.check_layers_dims(layer_dims, "layer_dims")
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(dims)):
        parameters['W' + str(l)] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        parameters['b' + str(l)] = np.zeros((dims[l], 1))
    return parameters


def forward_propagation(X, parameters):
    """LINEAR->RELU x (L-1) -> LINEAR->SIGMOID; returns ``(aL, cache)``, cache
    ``(z1, a1, W1, b1, ..., zL, aL, WL, bL)``."""
    return _common.forward(X, parameters)


def backward_propagation(X, Y, cache):
    """Gradients with lower-case keys (``dz{L}, dW{L}, db{L}``, then ``da{l}, dz{l},
    dW{l}, db{l}``); dz_L = (1/m)(a_L - Y), m = X.shape[1] (the batch)."""
    return _common.backward(X, Y, cache, lower=True)


def compute_cost(a3, Y):
    """The batch's summed cross-entropy np.sum(-log(a3) Y - log(1 - a3)(1 - Y))."""
    a3, Y = _common.check_cost_args(a3, Y)
    cost_total = np.sum(_common.logprobs(a3, Y))
    return cost_total


def load_dataset():
    """The notebook's moons: seed 3, make_moons(300, noise=.2); returns
    ``train_X (2, 300), train_Y (1, 300)``."""
    np.random.seed(3)
    train_X, train_Y = make_moons(n_samples=300, noise=.2)
    train_X = train_X.T
    train_Y = train_Y.reshape((1, train_Y.shape[0]))
    return train_X, train_Y


# ------------------------------------------------------------------ student functions
def update_parameters_with_gd(parameters, grads, learning_rate):
    """One gradient-descent step: W_l - lr dW_l, b_l - lr db_l (new arrays in
    ``parameters``, which is returned)."""
    L = _common.layer_count(parameters)     # elementwise: the layers need not chain
    _common.check_like(grads, parameters, "grads")
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """``np.random.seed(seed)``; one ``np.random.permutation(m)``; X[:, perm] and
    Y[:, perm] cut into consecutive batches of ``mini_batch_size`` columns (the
    last one shorter when m % mini_batch_size != 0).  Returns a list of
    ``(mini_batch_X, mini_batch_Y)``."""
    if not isinstance(mini_batch_size, (int, np.integer)) or isinstance(mini_batch_size, bool) \
            or mini_batch_size < 1:
        raise ValueError("mini_batch_size must be an int >= 1, got %r" % (mini_batch_size,))
    X = _common.as_float_array(X, "X")
    m = X.shape[1]
    Y = _common.check_labels(Y, m)
    np.random.seed(seed)
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        mini_batch_X = shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size]
        mini_batch_Y = shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]
        mini_batches.append((mini_batch_X, mini_batch_Y))
    if m % mini_batch_size != 0:
        mini_batch_X = shuffled_X[:, num_complete_minibatches * mini_batch_size:]
        mini_batch_Y = shuffled_Y[:, num_complete_minibatches * mini_batch_size:]
        mini_batches.append((mini_batch_X, mini_batch_Y))
    return mini_batches


def _zeros_like_params(parameters):
    L = _common.layer_count(parameters)
    d = {}
    for l in range(1, L + 1):
        d["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        d["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)
    return d


def initialize_velocity(parameters):
    """v: zeros shaped like each W_l / b_l, keys ``dW1, db1, ...``."""
    return _zeros_like_params(parameters)


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """v = beta v + (1 - beta) d; p = p - lr v, per layer W then b.  Returns ``(parameters, v)``."""
    L = _common.layer_count(parameters)     # elementwise: the layers need not chain
    _common.check_like(grads, parameters, "grads")
    _common.check_like(v, parameters, "v")
    for l in range(1, L + 1):
        for p, d in (("W", "dW"), ("b", "db")):
            v[d + str(l)] = beta * v[d + str(l)] + (1 - beta) * grads[d + str(l)]
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * v[d + str(l)]
    return parameters, v


def initialize_adam(parameters):
    """``(v, s)``: two separate dicts of zeros shaped like each W_l / b_l."""
    return _zeros_like_params(parameters), _zeros_like_params(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """One Adam step (t >= 1 counts steps over the whole run).

    v = b1 v + (1-b1) d; v^ = v / (1 - b1**t); s = b2 s + (1-b2) d^2;
    s^ = s / (1 - b2**t); p = p - lr v^ / (sqrt(s^) + epsilon).
    Returns ``(parameters, v, s, v_corrected, s_corrected)``.
    """
    L = _common.layer_count(parameters)     # elementwise: the layers need not chain
    _common.check_like(grads, parameters, "grads")
    _common.check_like(v, parameters, "v")
    _common.check_like(s, parameters, "s")
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
        raise TypeError("t (Adam's step count) must be an int >= 1, got %r" % (t,))
    if t < 1:
        raise ValueError("t (Adam's step count) must be >= 1, got %r: the bias corrections "
                         "divide by 1 - beta**t" % (t,))
    v_corrected = {}
    s_corrected = {}
    for l in range(1, L + 1):
        for p, d in (("W", "dW"), ("b", "db")):
            k = d + str(l)
            v[k] = beta1 * v[k] + (1 - beta1) * grads[k]
            v_corrected[k] = v[k] / (1 - beta1 ** t)
            s[k] = beta2 * s[k] + (1 - beta2) * np.power(grads[k], 2)
            s_corrected[k] = s[k] / (1 - beta2 ** t)
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * v_corrected[k] / (
                np.sqrt(s_corrected[k]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected


def update_lr(learning_rate0, epoch_num, decay_rate):
    """learning_rate0 / (1 + decay_rate * epoch_num)."""
    learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)
    return learning_rate


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))."""
    learning_rate = learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))
    return learning_rate


# ------------------------------------------------------------------ model
_OPTIMIZERS = ("gd", "momentum", "adam")


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True,
          decay=None, decay_rate=1):
    """The notebook's mini-batch model: ``optimizer`` "gd", "momentum" or "adam",
    epoch i shuffled with seed 11 + i, optional learning-rate ``decay``
    (``update_lr`` or ``schedule_lr_decay``) applied after each epoch.

    Every 1000 epochs (with print_cost) prints ``Cost after epoch i: %f`` (the
    summed batch costs / m) and, with decay, ``learning rate after epoch i: %f``.
    Returns the parameters.  Runs on the compiled engine.
    """
    if optimizer not in _OPTIMIZERS:
        raise ValueError("optimizer must be one of 'gd', 'momentum', 'adam', got %r"
                         % (optimizer,))
    if not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0:
        raise ValueError("num_epochs must be an int >= 0, got %r" % (num_epochs,))
    if not isinstance(mini_batch_size, (int, np.integer)) or isinstance(mini_batch_size, bool) \
            or mini_batch_size < 1:
        raise ValueError("mini_batch_size must be an int >= 1, got %r" % (mini_batch_size,))
    if decay is not None and not callable(decay):
        raise TypeError("decay must be None or a function decay(learning_rate0, epoch_num, "
                        "decay_rate), got %r" % (decay,))
    if np.ndim(X) != 2 or np.ndim(Y) != 2 or np.shape(Y)[1] != np.shape(X)[1]:
        raise ValueError("X must be (n_x, m) and Y (1, m); got X %s, Y %s"
                         % (np.shape(X), np.shape(Y)))
    layers_dims = _common.check_layers_dims(layers_dims)
    if layers_dims[0] != X.shape[0]:
        raise ValueError("layers_dims[0] = %d but X has %d rows" % (layers_dims[0], X.shape[0]))
    costs = []
    m = X.shape[1]
    learning_rate0 = learning_rate
    parameters = initialize_parameters(layers_dims)

    def report(i, cost_avg):
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost_avg))
            if decay:
                print("learning rate after epoch %i: %f" % (i, decay(learning_rate0, i, decay_rate)))
        if print_cost and i % 100 == 0:
            costs.append(cost_avg)

    cfg = _engine.TrainingConfig(
        learning_rate=learning_rate, optimizer=optimizer, mini_batch_size=int(mini_batch_size),
        shuffle="course", seed=10, beta=beta, beta1=beta1, beta2=beta2, epsilon=epsilon,
        decay=decay, decay_rate=decay_rate)
    trainer = _engine.Trainer(X, _engine.as_float_labels(Y), parameters, cfg)
    if num_epochs > 0:
        trainer.run(num_epochs, record_every=100, callback=report if print_cost else None)
        # where the course's loop leaves the global generator: its last shuffle
        np.random.seed(10 + num_epochs)
        np.random.permutation(m)
    return trainer.parameters()

