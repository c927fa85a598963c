"""The English course's ``dnn_app_utils_v2.py`` (2017 "Deep Neural Network -
Application" notebook), with that notebook's ``two_layer_model`` and
``L_layer_model`` (COURSE2.md sections 7 and 9).

Swap ``from dnn_app_utils_v2 import *`` for ``from fastdnn.dnn_app_utils_v2 import *``.
Identical to ``fastdnn.dnn_app_utils_v3`` except: ``L_model_backward``
stores the gradient layer l's backward step returns as ``dA{l}`` (``dA1`` is
w.r.t. X, as fastdnn's top level); the models return the parameters only,
record and print the cost every 100 iterations only when ``print_cost``
(two-layer ``{}``, L-layer ``%f``), and plot the record when matplotlib is
importable.
"""
import numpy as np

from fastdnn import dnn_app_utils_v3 as _v3
from fastdnn.dnn_app_utils_v3 import (  # noqa: F401  (the helper file's names)
    compute_cost,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    load_data,
    L_model_forward,
    predict,
    print_mislabeled_images,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    update_parameters,
)

__all__ = [
    "sigmoid", "relu", "relu_backward", "sigmoid_backward", "load_data",
    "initialize_parameters", "initialize_parameters_deep", "linear_forward",
    "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
    "linear_activation_backward", "L_model_backward", "update_parameters", "predict",
    "print_mislabeled_images", "two_layer_model", "L_layer_model",
]


def L_model_backward(AL, Y, caches):
    """Gradients of the cross-entropy: ``dW{l}``, ``db{l}`` and, for the input
    of layer l, ``dA{l}`` (v2: ``dA1`` is the gradient w.r.t. X)."""
    return _v3._L_model_backward(AL, Y, caches, 0)


def _plot(costs, learning_rate):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    _v3.plot_costs(costs, learning_rate)


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """LINEAR->RELU->LINEAR->SIGMOID, ``layers_dims = (n_x, n_h, n_y)``:
    ``np.random.seed(1)``, ``initialize_parameters``, full-batch gradient descent
    on the compiled engine.  With print_cost, every 100 iterations: records the
    cost and prints ``Cost after iteration i: <cost>``; then plots the record.
    Returns the parameters."""
    _v3._check_model_args(X, Y, num_iterations)
    np.random.seed(1)
    (n_x, n_h, n_y) = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    costs = []

    def on_cost(i, cost):
        if print_cost and i % 100 == 0:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
            costs.append(cost)

    parameters = _v3._train(X, Y, parameters, learning_rate, num_iterations, on_cost)
    if print_cost:
        _plot(costs, learning_rate)
    return parameters


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False):
    """[LINEAR->RELU] x (L-1) -> LINEAR->SIGMOID: ``np.random.seed(1)``,
    ``initialize_parameters_deep``, full-batch gradient descent on the compiled
    engine.  With print_cost, every 100 iterations: prints
    ``Cost after iteration i: %f`` and records; then plots.  Returns the parameters."""
    _v3._check_model_args(X, Y, num_iterations)
    np.random.seed(1)
    parameters = initialize_parameters_deep(layers_dims)
    costs = []

    def on_cost(i, cost):
        if print_cost and i % 100 == 0:
            print("Cost after iteration %i: %f" % (i, cost))
            costs.append(cost)

    parameters = _v3._train(X, Y, parameters, learning_rate, num_iterations, on_cost)
    if print_cost:
        _plot(costs, learning_rate)
    return parameters
