"""The English course's ``dnn_app_utils_v3.py`` (2021 "Deep Neural Network -
Application" notebook), with the notebook's ``two_layer_model`` and
``L_layer_model`` (COURSE2.md section 7).

Swap ``from dnn_app_utils_v3 import *`` for ``from fastdnn.dnn_app_utils_v3 import *``.
Its conventions differ from fastdnn's top level (SPEC section 1):
``initialize_parameters`` and ``initialize_parameters_deep`` call
``np.random.seed(1)`` themselves; ``L_model_backward`` stores the gradient a
layer's backward step returns as ``dA{l-1}`` (``dA0`` is w.r.t. X); the
models return ``(parameters, costs)`` and print the last iteration's cost
too.  The layer functions are fastdnn's compiled ones (the same signatures,
caches and values to rounding); the activations are the course's numpy code
(any shape, a scalar Z its own cache, as the course's); the two models train
on fastdnn's compiled engine.

Only numpy is imported; h5py (``load_data``) and matplotlib (the plots) are
imported on first use.
"""
import numpy as np

# the course's layer functions, the same in this module: fastdnn's compiled ones
from fastdnn.layers import (L_model_forward, linear_activation_backward,  # noqa: F401
                            linear_activation_forward, linear_backward, linear_forward,
                            update_parameters)

__all__ = [
    "sigmoid", "relu", "relu_backward", "sigmoid_backward", "load_data",
    "initialize_parameters", "initialize_parameters_deep", "linear_forward",
    "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
    "linear_activation_backward", "L_model_backward", "update_parameters", "predict",
    "print_mislabeled_images", "two_layer_model", "L_layer_model", "plot_costs",
]

# the gradient of layer l's backward step w.r.t. its input is grads["dA" + str(l + _DA_SHIFT)]
_DA_SHIFT = -1


def sigmoid(Z):
    """sigmoid(Z) of an array of any shape; returns ``(A, cache)``, cache = Z."""
    A = 1 / (1 + np.exp(-Z))
    cache = Z
    return A, cache


def relu(Z):
    """max(0, Z) of an array of any shape; returns ``(A, cache)``, cache = Z."""
    A = np.maximum(0, Z)
    cache = Z
    return A, cache


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0 (Z = cache; any shape)."""
    Z = cache
    dZ = np.array(dA, copy=True, dtype=np.result_type(dA, np.float64))
    dZ[Z <= 0] = 0
    return dZ


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s), s = sigmoid(Z) (Z = cache; any shape)."""
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def load_data(path=None):
    """The cat / non-cat data, raw: ``train_x_orig (209, 64, 64, 3) uint8,
    train_y (1, 209), test_x_orig (50, 64, 64, 3), test_y (1, 50), classes``.

    The files are found as ``fastdnn.load_dataset`` finds them: ``path``,
    else ``$FASTDNN_DATA``, else ``datasets/``.
    """
    from fastdnn.data import load_dataset
    return load_dataset(path)


def initialize_parameters(n_x, n_h, n_y):
    """``np.random.seed(1)``; W1 = randn(n_h, n_x) * 0.01, then W2 = randn(n_y, n_h) * 0.01;
    zero biases.  Returns {W1, b1, W2, b2}."""
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layer_dims):
    """``np.random.seed(1)``; W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}) for l = 1..L in
    order; zero biases."""
    np.random.seed(1)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters['W' + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    / np.sqrt(layer_dims[l - 1]))
        parameters['b' + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def compute_cost(AL, Y):
    """(1/m) (-Y log(AL)^T - (1-Y) log(1-AL)^T), squeezed to a 0-d array."""
    Y = np.asarray(Y, dtype=np.float64)
    m = Y.shape[1]
    cost = (1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
    cost = np.squeeze(cost)
    return cost


def L_model_backward(AL, Y, caches):
    """Gradients of the cross-entropy: ``dW{l}``, ``db{l}`` and, for the input
    of layer l, ``dA{l-1}`` (v3: ``dA0`` is the gradient w.r.t. X)."""
    return _L_model_backward(AL, Y, caches, _DA_SHIFT)


def _L_model_backward(AL, Y, caches, shift):
    grads = {}
    L = len(caches)
    Y = np.asarray(Y, dtype=np.float64).reshape(AL.shape)
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    dA_prev, dW, db = linear_activation_backward(dAL, caches[L - 1], activation="sigmoid")
    grads["dA" + str(L + shift)] = dA_prev
    grads["dW" + str(L)] = dW
    grads["db" + str(L)] = db
    for l in reversed(range(L - 1)):
        # layer l + 1 (1-based): its dA input was stored under dA{l + 1 + shift + 1}
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 2 + shift)], caches[l],
                                                     activation="relu")
        grads["dA" + str(l + 1 + shift)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
    return grads


def predict(X, y, parameters):
    """p (1, m) float64 of 0./1. (1 where AL > 0.5); prints
    ``Accuracy: <sum((p == y) / m)>``."""
    m = X.shape[1]
    p = np.zeros((1, m))
    probas, caches = L_model_forward(X, parameters)
    p[0, :] = probas[0, :] > 0.5
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def print_mislabeled_images(classes, X, y, p):
    """Plot, in one row, the images where p + y == 1, each ``X[:, i].reshape(64, 64, 3)``,
    titled with the predicted and the true class.  Needs matplotlib."""
    import matplotlib.pyplot as plt
    a = p + y
    mislabeled_indices = np.asarray(np.where(a == 1))
    plt.rcParams['figure.figsize'] = (40.0, 40.0)
    num_images = len(mislabeled_indices[0])
    for i in range(num_images):
        index = mislabeled_indices[1][i]
        plt.subplot(2, num_images, i + 1)
        plt.imshow(X[:, index].reshape(64, 64, 3), interpolation='nearest')
        plt.axis('off')
        plt.title("Prediction: " + classes[int(p[0, index])].decode("utf-8") + " \n Class: "
                  + classes[int(y[0, index])].decode("utf-8"))


def plot_costs(costs, learning_rate=0.0075):
    """The notebook's cost plot (per hundreds of iterations).  Needs matplotlib."""
    import matplotlib.pyplot as plt
    plt.plot(np.squeeze(costs))
    plt.ylabel('cost')
    plt.xlabel('iterations (per hundreds)')
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


# ---------------------------------------------------------------- the notebook's models
def _check_model_args(X, Y, num_iterations):
    if np.ndim(X) != 2 or np.ndim(Y) != 2 or np.shape(Y)[1] != np.shape(X)[1]:
        raise ValueError("X must be (n_x, m) and Y (1, m); got X %s, Y %s"
                         % (np.shape(X), np.shape(Y)))
    if not isinstance(num_iterations, (int, np.integer)) or num_iterations < 0:
        raise ValueError("num_iterations must be an int >= 0, got %r" % (num_iterations,))


def _train(X, Y, parameters, learning_rate, num_iterations, on_cost):
    """Full-batch gradient descent from ``parameters``; ``on_cost(i, cost)`` for
    every i with i % 100 == 0 and for the last iteration.  Returns parameters."""
    from fastdnn.training import Trainer, TrainingConfig
    trainer = Trainer(X, np.asarray(Y, dtype=np.float64), parameters,
                      TrainingConfig(learning_rate=learning_rate))
    last = num_iterations - 1
    if last > 0:
        trainer.run(last, record_every=100, callback=on_cost)
    if num_iterations > 0:
        on_cost(last, trainer.run_epoch())
    return trainer.parameters()


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False):
    """LINEAR->RELU->LINEAR->SIGMOID, ``layers_dims = (n_x, n_h, n_y)``.

    ``np.random.seed(1)``, ``initialize_parameters(n_x, n_h, n_y)``, then
    full-batch gradient descent on the compiled engine.  Prints
    ``Cost after iteration i: <cost>`` when (print_cost and i % 100 == 0) or
    at the last iteration; records the cost every 100 iterations.
    Returns ``(parameters, costs)``.
    """
    _check_model_args(X, Y, num_iterations)
    np.random.seed(1)
    (n_x, n_h, n_y) = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    costs = []
    parameters = _train(X, Y, parameters, learning_rate, num_iterations,
                        _v3_reporter(print_cost, num_iterations, costs))
    return parameters, costs


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False):
    """[LINEAR->RELU] x (L-1) -> LINEAR->SIGMOID.

    ``np.random.seed(1)``, ``initialize_parameters_deep(layers_dims)``, then
    full-batch gradient descent on the compiled engine; printing and
    recording as ``two_layer_model``.  Returns ``(parameters, costs)``.
    """
    _check_model_args(X, Y, num_iterations)
    np.random.seed(1)
    parameters = initialize_parameters_deep(layers_dims)
    costs = []
    parameters = _train(X, Y, parameters, learning_rate, num_iterations,
                        _v3_reporter(print_cost, num_iterations, costs))
    return parameters, costs


def _v3_reporter(print_cost, num_iterations, costs):
    def on_cost(i, cost):
        if print_cost and i % 100 == 0 or i == num_iterations - 1:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
        if i % 100 == 0:
            costs.append(cost)
    return on_cost
