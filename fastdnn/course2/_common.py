"""What the four course-2 helper files (init_utils, reg_utils, gc_utils,
opt_utils_v1a) share, written once for any number of layers.

Networks: layers 1..L-1 are LINEAR -> ReLU, layer L is LINEAR -> sigmoid,
L = len(parameters) // 2.  Cache tuples hold, per layer, ``(Z, A, W, b)``
(the course's 12-tuple for L = 3).  Only numpy is imported here;
matplotlib and scipy are imported on first use.
"""
import numbers
import os

import numpy as np

from fastdnn.course2.datasets import make_circles, make_moons  # noqa: F401  (re-exported)

DATA_ENV = "FASTDNN_DATA"


# ---------------------------------------------------------------- activations
def sigmoid(x):
    """The sigmoid 1 / (1 + exp(-x)) of a scalar or array (no cache)."""
    return 1 / (1 + np.exp(-x))


def relu(x):
    """max(0, x) of a scalar or array (no cache)."""
    return np.maximum(0, x)


# ---------------------------------------------------------------- checks
def layer_count(parameters, name="parameters"):
    """L for a dict W1, b1, ..., WL, bL (ValueError naming what is missing)."""
    if not isinstance(parameters, dict):
        raise TypeError("%s must be a dict of W1, b1, ..., WL, bL, got %s"
                        % (name, type(parameters).__name__))
    L = len(parameters) // 2
    if L < 1:
        raise ValueError("%s must hold W1, b1, ..., WL, bL, got keys %r"
                         % (name, sorted(parameters)))
    for l in range(1, L + 1):
        for key in ("W%d" % l, "b%d" % l):
            if key not in parameters:
                raise ValueError("%s has no %r (keys: %r)" % (name, key, sorted(parameters)))
    return L


def check_layers_dims(layers_dims, name="layers_dims"):
    """A list of positive ints with at least two entries (ValueError/TypeError otherwise)."""
    try:
        dims = list(layers_dims)
    except TypeError:
        raise TypeError("%s must be a list of layer sizes, got %r" % (name, layers_dims)) from None
    if len(dims) < 2:
        raise ValueError("%s needs at least two sizes (input and output), got %r"
                         % (name, layers_dims))
    for d in dims:
        if not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 1:
            raise ValueError("%s must hold positive ints, got %r" % (name, layers_dims))
    return [int(d) for d in dims]


def as_labels(Y):
    """Y as float64 (integer, uint8 and bool labels all work in 1 - Y)."""
    return np.asarray(Y, dtype=np.float64)


# ---------------------------------------------------------------- forward / cost
def forward(X, parameters):
    """The L-layer forward pass; returns ``(AL, cache)``, cache
    ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``."""
    L = layer_count(parameters)
    A = X
    cache = []
    for l in range(1, L + 1):
        W = parameters["W%d" % l]
        b = parameters["b%d" % l]
        Z = np.dot(W, A) + b
        A = relu(Z) if l < L else sigmoid(Z)
        cache += [Z, A, W, b]
    return A, tuple(cache)


def logprobs(a, Y):
    """-log(a)*Y - log(1-a)*(1-Y), elementwise (the course's ``logprobs``)."""
    Y = as_labels(Y)
    return np.multiply(-np.log(a), Y) + np.multiply(-np.log(1 - a), 1 - Y)


def nansum_cost(a3, Y):
    """(1/m) * nansum(logprobs): the cost of init_utils and reg_utils (a float64)."""
    m = np.shape(Y)[1]
    return 1. / m * np.nansum(logprobs(a3, Y))


# ---------------------------------------------------------------- backward
def backward(X, Y, cache, *, lower, lambd=0.0, keep_prob=None, dropout=False, buggy=False):
    """The course's backward passes in one loop.

    lower=True: init_utils / opt_utils (lower-case keys, 1/m in dz_L);
    lower=False: reg_utils / gc_utils (upper-case keys, 1/m on dW and db).
    ``dropout``: cache holds (Z, D, A, W, b) per hidden layer.  ``buggy``:
    the gradient-checking notebook's two planted bugs (dW2 * 2, db1 * 4).
    """
    Y = as_labels(Y)
    m = X.shape[1]
    cache = tuple(cache)
    # split the cache into layers
    layers = []
    pos = 0
    while pos < len(cache):
        remaining = len(cache) - pos
        if dropout and remaining > 4:
            Z, D, A, W, b = cache[pos:pos + 5]
            pos += 5
        else:
            Z, A, W, b = cache[pos:pos + 4]
            D = None
            pos += 4
        layers.append((Z, D, A, W, b))
    if pos != len(cache) or not layers:
        raise ValueError("cache has %d entries: not a course cache" % len(cache))
    L = len(layers)
    dz_name, da_name = ("dz", "da") if lower else ("dZ", "dA")
    grads = {}
    AL = layers[-1][2]
    if lower:
        dZ = 1. / m * (AL - Y)
    else:
        dZ = AL - Y
    for l in range(L, 0, -1):
        A_prev = X if l == 1 else layers[l - 2][2]
        W = layers[l - 1][3]
        if lower:
            dW = np.dot(dZ, A_prev.T)
            db = np.sum(dZ, axis=1, keepdims=True)
        else:
            dW = 1. / m * np.dot(dZ, A_prev.T)
            if lambd:
                dW = dW + lambd / m * W
            if buggy and l == 2:
                dW = dW * 2
            db = (4. if buggy and l == 1 else 1.) / m * np.sum(dZ, axis=1, keepdims=True)
        if l < L:
            grads[da_name + str(l)] = dA_cur
            grads[dz_name + str(l)] = dZ
        else:
            grads[dz_name + str(l)] = dZ
        grads["dW%d" % l] = dW
        grads["db%d" % l] = db
        if l > 1:
            dA_cur = np.dot(W.T, dZ)
            D = layers[l - 2][1]
            if D is not None:
                dA_cur = dA_cur * D
                dA_cur = dA_cur / keep_prob
            dZ = np.multiply(dA_cur, np.int64(layers[l - 2][2] > 0))
    return _ordered(grads, L, dz_name, da_name)


def _ordered(grads, L, dz, da):
    """Keys in the course's order: dz_L, dW_L, db_L, then da_l, dz_l, dW_l, db_l."""
    out = {}
    for key in (dz + str(L), "dW%d" % L, "db%d" % L):
        out[key] = grads[key]
    for l in range(L - 1, 0, -1):
        for key in (da + str(l), dz + str(l), "dW%d" % l, "db%d" % l):
            out[key] = grads[key]
    return out


# ---------------------------------------------------------------- update / predict
def update_parameters(parameters, grads, learning_rate):
    """W_l - lr * dW_l and b_l - lr * db_l for every layer; new arrays stored in
    ``parameters`` (the caller's arrays are not modified), which is returned."""
    L = layer_count(parameters)
    for k in range(L):
        parameters["W" + str(k + 1)] = parameters["W" + str(k + 1)] - learning_rate * grads["dW" + str(k + 1)]
        parameters["b" + str(k + 1)] = parameters["b" + str(k + 1)] - learning_rate * grads["db" + str(k + 1)]
    return parameters


def predict(X, y, parameters):
    """Labels p (1, m) of np.int_ (1 where AL > 0.5); prints ``Accuracy: <mean>``."""
    m = X.shape[1]
    a3, _ = forward(X, parameters)
    p = np.zeros((1, m), dtype=np.int_)
    p[0, :] = a3[0, :] > 0.5
    print("Accuracy: " + str(np.mean((p[0, :] == np.asarray(y)[0, :]))))
    return p


def predict_dec(parameters, X):
    """The boolean array AL > 0.5 (used to draw decision boundaries)."""
    a3, _ = forward(X, parameters)
    return a3 > 0.5


def plot_decision_boundary(model, X, y):
    """The course's contour plot of ``model`` (a function of an (k, 2) array)
    over X's range, with the points of X coloured by y.  Needs matplotlib."""
    import matplotlib.pyplot as plt
    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    h = 0.01
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(model(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    plt.ylabel('x2')
    plt.xlabel('x1')
    plt.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral)
    plt.show()


def plot_costs(costs, learning_rate, xlabel):
    """Plot a cost record when matplotlib is importable; otherwise do nothing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.plot(np.squeeze(np.asarray(costs, dtype=np.float64)))
    plt.ylabel('cost')
    plt.xlabel(xlabel)
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


# ---------------------------------------------------------------- data
def load_2D_dataset(path=None):
    """The regularization notebook's data (``data.mat``): returns
    ``train_X (2, 211), train_Y (1, 211) uint8, test_X (2, 200), test_Y (1, 200) uint8``.

    The file is ``path`` when given, else ``$FASTDNN_DATA/course2/data.mat``,
    else ``datasets/data.mat`` under the working directory (the course's
    place); FileNotFoundError names the places tried.
    """
    if path is not None:
        tried = [os.fspath(path)]
    else:
        tried = []
        env = os.environ.get(DATA_ENV)
        if env:
            tried.append(os.path.join(env, "course2", "data.mat"))
        tried.append(os.path.join("datasets", "data.mat"))
    for candidate in tried:
        if os.path.isfile(candidate):
            break
    else:
        raise FileNotFoundError(
            "data.mat (the course's regularization data) not found; tried: %s. Pass "
            "load_2D_dataset(path='/path/to/data.mat') or set %s to a directory holding "
            "course2/data.mat" % (", ".join(repr(t) for t in tried), DATA_ENV))
    import scipy.io
    data = scipy.io.loadmat(candidate)
    try:
        out = tuple(np.asarray(data[k]).T for k in ("X", "y", "Xval", "yval"))
    except KeyError as exc:
        raise ValueError("%s: not the course's data.mat (no variable %s)"
                         % (candidate, exc)) from None
    return out
