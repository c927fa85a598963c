"""What the four course-2 helper files (init_utils, reg_utils, gc_utils,
opt_utils_v1a) share, written once for any number of layers.

Networks: layers 1..L-1 are LINEAR -> ReLU, layer L is LINEAR -> sigmoid,
L = len(parameters) // 2.  Cache tuples hold, per layer, ``(Z, A, W, b)``
(the course's 12-tuple for L = 3).  Only numpy is imported here;
matplotlib and scipy are imported on first use.
"""
import numbers
import os
import re

import numpy as np

from fastdnn.course2.datasets import make_circles, make_moons  # noqa: F401  (re-exported)

DATA_ENV = "FASTDNN_DATA"


# ---------------------------------------------------------------- activations
def sigmoid(x):
    """The sigmoid 1 / (1 + exp(-x)) of a scalar or array (no cache).  Saturates to 0
    without numpy's "overflow in exp" warning (the value is numpy's)."""
    with np.errstate(over="ignore"):
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


_LAYER_KEY = re.compile(r"([Wb])(\d+)")


def as_float_array(a, name, ndim=2):
    """``a`` as a real (bool, integer or float) ndarray of ``ndim`` dimensions;
    TypeError/ValueError naming ``name`` otherwise."""
    if a is None or isinstance(a, (str, bytes, dict)):
        raise TypeError("%s must be a numeric array, got %r" % (name, a))
    try:
        arr = np.asarray(a)
    except ValueError as exc:           # a ragged list
        raise ValueError("%s is not a rectangular array: %s" % (name, exc)) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError("%s must hold real numbers, got dtype %s" % (name, arr.dtype))
    if ndim is not None and arr.ndim != ndim:
        raise ValueError("%s must be %d-D, got shape %s" % (name, ndim, arr.shape))
    return arr


def check_network(parameters, X=None, name="parameters"):
    """L for a dict W1, b1, ..., WL, bL whose shapes chain: W_l (n_l, n_{l-1}) with
    n_0 = X's rows (when X is given), b_l (n_l, 1); no stray W/b layer key.  Returns
    ``(L, X as an array or None)``; ValueError/TypeError naming the key and the shapes."""
    L = layer_count(parameters, name)
    for key in parameters:
        hit = _LAYER_KEY.fullmatch(str(key))
        if hit and not 1 <= int(hit.group(2)) <= L:
            raise ValueError("%s has %r but %d layers (W1, b1, ..., W%d, b%d): a %s%s without "
                             "its %s" % (name, key, L, L, L, hit.group(1), hit.group(2),
                                         "b" if hit.group(1) == "W" else "W"))
    if X is not None:
        X = as_float_array(X, "X")
    n_prev = None if X is None else X.shape[0]
    for l in range(1, L + 1):
        W = as_float_array(parameters["W%d" % l], "%s['W%d']" % (name, l))
        b = as_float_array(parameters["b%d" % l], "%s['b%d']" % (name, l))
        if n_prev is not None and W.shape[1] != n_prev:
            raise ValueError("%s['W%d'] has shape %s but layer %d takes %d inputs (%s)"
                             % (name, l, W.shape, l, n_prev,
                                "X has shape %s" % (X.shape,) if l == 1 else
                                "W%d has %d rows" % (l - 1, n_prev)))
        if b.shape != (W.shape[0], 1):
            raise ValueError("%s['b%d'] has shape %s, expected %s (one bias per row of W%d)"
                             % (name, l, b.shape, (W.shape[0], 1), l))
        n_prev = W.shape[0]
    return L, X


def check_like(d, parameters, name, prefix="d"):
    """``d`` (grads, v, s) must hold ``prefix + W_l`` and ``prefix + b_l`` shaped like each
    W_l / b_l of ``parameters``; ValueError/TypeError naming the key and the shapes."""
    if not isinstance(d, dict):
        raise TypeError("%s must be a dict of %sW1, %sb1, ..., got %s"
                        % (name, prefix, prefix, type(d).__name__))
    L = layer_count(parameters)
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = "%s%s%d" % (prefix, p, l)
            if key not in d:
                raise ValueError("%s has no %r (keys: %r)" % (name, key, sorted(d)))
            shape = np.shape(parameters["%s%d" % (p, l)])
            g = as_float_array(d[key], "%s['%s']" % (name, key))
            if g.shape != shape:
                raise ValueError("%s['%s'] has shape %s but parameters['%s%d'] has shape %s"
                                 % (name, key, g.shape, p, l, shape))
    return L


def check_labels(Y, m, name="Y", rows=1):
    """Y as a (rows, m) array (its dtype kept); a single row may also come as (m,) (the
    gradient-checking notebook's fixture); ValueError naming Y otherwise."""
    Y = as_float_array(Y, name, ndim=None)
    if rows == 1 and Y.shape == (m,):
        Y = Y.reshape(1, m)
    if Y.shape != (rows, m):
        raise ValueError("%s has shape %s, expected %s: one label per example"
                         % (name, Y.shape, (rows, m)))
    return Y


def check_cost_args(a, Y, name="a3"):
    """The output a (n_L, m) and labels Y of the same shape, as arrays."""
    a = as_float_array(a, name)
    Y = as_float_array(Y, "Y", ndim=None)
    if a.shape[0] == 1 and Y.shape == (a.shape[1],):    # labels as (m,): one row
        Y = Y.reshape(a.shape)
    if Y.shape != a.shape:
        raise ValueError("Y has shape %s but %s has shape %s: one label per output"
                         % (Y.shape, name, a.shape))
    return a, Y


def check_real(name, value, low=None):
    """A finite real number (>= low); TypeError/ValueError naming ``name``."""
    from fastdnn.training.config import check_real as _check
    return _check(name, value, low=low)


def split_cache(X, cache, dropout=False, name="cache"):
    """The layers ``(Z, D, A, W, b)`` (D None without dropout) of a course cache whose
    shapes chain from X: W_l (n_l, n_{l-1}), b_l (n_l, 1), Z_l, A_l, D_l (n_l, m).
    ValueError/TypeError naming the cache entry and the shapes otherwise."""
    X = as_float_array(X, "X")
    if not isinstance(cache, (tuple, list)):
        raise TypeError("%s must be the tuple returned by the forward pass, got %s"
                        % (name, type(cache).__name__))
    per = 5 if dropout else 4
    n = len(cache)
    if n < 4 or (n - 4) % per:
        raise ValueError("%s has %d entries: not a course cache (%d per hidden layer, "
                         "(Z, %sA, W, b), and 4 for the output layer)"
                         % (name, n, per, "D, " if dropout else ""))
    fields = ("Z", "D", "A", "W", "b") if dropout else ("Z", "A", "W", "b")
    layers = []
    pos, l, n_prev, m = 0, 1, X.shape[0], X.shape[1]
    while pos < n:
        last = pos + 4 == n
        names = ("Z", "A", "W", "b") if last else fields
        entry = {}
        for k, f in enumerate(names):
            entry[f] = as_float_array(cache[pos + k], "%s[%d] (%s%d)" % (name, pos + k, f, l))
        W, b = entry["W"], entry["b"]
        where = lambda f: "%s[%d] (%s%d)" % (name, pos + names.index(f), f, l)  # noqa: E731
        if W.shape[1] != n_prev:
            raise ValueError("%s has shape %s but layer %d takes %d inputs (%s): the cache "
                             "is not of this network" % (where("W"), W.shape, l, n_prev,
                                                          "X has shape %s" % (X.shape,)
                                                          if l == 1 else "W%d" % (l - 1)))
        if b.shape != (W.shape[0], 1):
            raise ValueError("%s has shape %s, expected %s" % (where("b"), b.shape,
                                                               (W.shape[0], 1)))
        for f in names:
            if f in ("Z", "D", "A") and entry[f].shape != (W.shape[0], m):
                raise ValueError("%s has shape %s, expected %s (W%d's rows by X's %d "
                                 "columns)" % (where(f), entry[f].shape, (W.shape[0], m), l, m))
        layers.append((entry["Z"], entry.get("D"), entry["A"], W, b))
        pos += len(names)
        n_prev = W.shape[0]
        l += 1
    return X, layers


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
    L, X = check_network(parameters, X)
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
    # log(0) = -inf and 0 * inf = NaN are the course's values (nansum drops the NaN):
    # numpy's warnings about them are not errors
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.multiply(-np.log(a), Y) + np.multiply(-np.log(1 - a), 1 - Y)


def nansum_cost(a3, Y):
    """(1/m) * nansum(logprobs): the cost of init_utils and reg_utils (a float64)."""
    a3, Y = check_cost_args(a3, Y)
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
    X, layers = split_cache(X, cache, dropout=dropout)
    m = X.shape[1]
    Y = as_labels(check_labels(Y, m, rows=layers[-1][3].shape[0]))
    if lambd:
        lambd = check_real("lambd", lambd, low=0.0)
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
    L = layer_count(parameters)     # elementwise: the layers need not chain
    check_like(grads, parameters, "grads")
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
