"""An independent numpy version of the course-2 formulas and of the English
Application notebook's models, for the tests and the benchmark.

Written from the course's formulas (COURSE2.md), not from fastdnn's code:
networks are lists of (W, b) pairs, layers 1..L-1 ReLU, layer L sigmoid.
Each ``run_*`` function is one headline run: it seeds numpy's global
generator exactly where the course does and returns the final parameters
(a dict W1, b1, ...) and the costs the course prints / records.
"""
import math

import numpy as np


# ------------------------------------------------------------------ building blocks
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _to_dict(layers):
    out = {}
    for l, (W, b) in enumerate(layers, start=1):
        out["W%d" % l] = W
        out["b%d" % l] = b
    return out


def _to_layers(params):
    L = len(params) // 2
    return [(params["W%d" % l], params["b%d" % l]) for l in range(1, L + 1)]


def forward(X, layers, masks=None, keep_prob=1.0):
    """Returns the list of activations [X, A1, ..., AL] (post-dropout)."""
    acts = [X]
    A = X
    for l, (W, b) in enumerate(layers):
        Z = W @ A + b
        if l < len(layers) - 1:
            A = np.maximum(Z, 0)
            if masks is not None:
                A = A * masks[l] / keep_prob
        else:
            A = _sig(Z)
        acts.append(A)
    return acts


def backward(acts, Y, layers, masks=None, keep_prob=1.0, lambd=0.0):
    """Gradients [(dW1, db1), ..., (dWL, dbL)] of the mean cross-entropy
    (+ lambd/(2m) sum ||W||^2)."""
    m = acts[0].shape[1]
    Yf = np.asarray(Y, dtype=float)
    L = len(layers)
    grads = [None] * L
    delta = (acts[-1] - Yf) / m          # dJ/dZ_L
    for l in range(L - 1, -1, -1):
        W = layers[l][0]
        dW = delta @ acts[l].T + (lambd / m) * W
        db = delta.sum(axis=1, keepdims=True)
        grads[l] = (dW, db)
        if l > 0:
            dA = W.T @ delta
            if masks is not None:
                dA = dA * masks[l - 1] / keep_prob
            delta = dA * (acts[l] > 0)
    return grads


def xent_terms(a, Y):
    Yf = np.asarray(Y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(Yf * np.log(a)) - (1 - Yf) * np.log(1 - a)


def cost_nansum(a, Y):
    return np.nansum(xent_terms(a, Y)) / Y.shape[1]


def gd_step(layers, grads, lr):
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(layers, grads)]


# ------------------------------------------------------------------ initialisers
def init_course2(dims, kind):
    """kind: 'zeros', 'random' (x10), 'he', 'xavier_like' (/sqrt(n), reg_utils)."""
    layers = []
    if kind != "zeros":
        np.random.seed(3)
    for n_prev, n in zip(dims[:-1], dims[1:]):
        if kind == "zeros":
            W = np.zeros((n, n_prev))
        else:
            g = np.random.randn(n, n_prev)
            W = {"random": g * 10, "he": g * np.sqrt(2.0 / n_prev),
                 "xavier_like": g / np.sqrt(n_prev)}[kind]
        layers.append((W, np.zeros((n, 1))))
    return layers


# ------------------------------------------------------------------ headline runs
def run_initialization(X, Y, kind, learning_rate=0.01, num_iterations=15000):
    """The Initialization notebook's model; costs printed every 1000 iterations."""
    layers = init_course2([X.shape[0], 10, 5, 1], kind)
    costs = []
    for i in range(num_iterations):
        acts = forward(X, layers)
        if i % 1000 == 0:
            costs.append(cost_nansum(acts[-1], Y))
        layers = gd_step(layers, backward(acts, Y, layers), learning_rate)
    return _to_dict(layers), costs


def run_regularization(X, Y, lambd=0.0, keep_prob=1.0, learning_rate=0.3,
                       num_iterations=30000):
    """The Regularization notebook's model; costs recorded every 1000 iterations."""
    dims = [X.shape[0], 20, 3, 1]
    layers = init_course2(dims, "xavier_like")
    m = X.shape[1]
    masks = None
    costs = []
    for i in range(num_iterations):
        if keep_prob < 1:
            np.random.seed(1)
            masks = [np.random.rand(n, m) < keep_prob for n in dims[1:-1]]
        acts = forward(X, layers, masks, keep_prob)
        if i % 1000 == 0:
            c = cost_nansum(acts[-1], Y)
            if lambd:
                c = c + lambd / (2 * m) * sum(np.sum(W * W) for W, _ in layers)
            costs.append(c)
        layers = gd_step(layers, backward(acts, Y, layers, masks, keep_prob, lambd),
                         learning_rate)
    return _to_dict(layers), costs


def run_optimization(X, Y, dims, optimizer, learning_rate=0.0007, mini_batch_size=64,
                     beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000,
                     decay=None, decay_rate=1.0):
    """The Optimization notebook's model.  ``decay``: None, "update_lr" or
    "schedule".  Returns (params, costs every 100 epochs, learning rates after
    every 1000th epoch)."""
    layers = init_course2(dims, "he")
    m = X.shape[1]
    state1 = [(np.zeros_like(W), np.zeros_like(b)) for W, b in layers]
    state2 = [(np.zeros_like(W), np.zeros_like(b)) for W, b in layers]
    t = 0
    lr = learning_rate
    costs, rates = [], []
    for epoch in range(num_epochs):
        np.random.seed(11 + epoch)
        perm = np.random.permutation(m)
        Xs, Ys = X[:, perm], Y[:, perm]
        total = 0.0
        for start in range(0, m, mini_batch_size):
            xb = Xs[:, start:start + mini_batch_size]
            yb = Ys[:, start:start + mini_batch_size]
            acts = forward(xb, layers)
            total += np.sum(xent_terms(acts[-1], yb))
            grads = backward(acts, yb, layers)
            new = []
            for k, ((W, b), (dW, db)) in enumerate(zip(layers, grads)):
                if optimizer == "gd":
                    new.append((W - lr * dW, b - lr * db))
                elif optimizer == "momentum":
                    vW = beta * state1[k][0] + (1 - beta) * dW
                    vb = beta * state1[k][1] + (1 - beta) * db
                    state1[k] = (vW, vb)
                    new.append((W - lr * vW, b - lr * vb))
                else:
                    if k == 0:
                        t += 1
                    out = []
                    for j, (p, g) in enumerate(((W, dW), (b, db))):
                        v = beta1 * state1[k][j] + (1 - beta1) * g
                        s = beta2 * state2[k][j] + (1 - beta2) * g * g
                        out.append((v, s, p - lr * (v / (1 - beta1 ** t))
                                    / (np.sqrt(s / (1 - beta2 ** t)) + epsilon)))
                    state1[k] = (out[0][0], out[1][0])
                    state2[k] = (out[0][1], out[1][1])
                    new.append((out[0][2], out[1][2]))
            layers = new
        if decay == "update_lr":
            lr = learning_rate / (1 + decay_rate * epoch)
        elif decay == "schedule":
            lr = learning_rate / (1 + decay_rate * math.floor(epoch / 1000))
        if epoch % 100 == 0:
            costs.append(total / m)
        if epoch % 1000 == 0:
            rates.append(lr)
    return _to_dict(layers), costs, rates


def predict_labels(X, params):
    """1 where the network's output > 0.5 (int)."""
    return (forward(X, _to_layers(params))[-1] > 0.5).astype(int)


# ------------------------------------------------------------------ gradient checking
def nd_cost(X, Y, params):
    """(1/m) np.sum of the cross-entropy terms (no nansum), the N-D check's J."""
    a = forward(X, _to_layers(params))[-1]
    return np.sum(-np.log(a) * Y - np.log(1 - a) * (1 - np.asarray(Y, float))) / X.shape[1]


def nd_gradients(X, Y, params, planted_bugs=False):
    """dW1, db1, ... of the N-D network; with the notebook's bugs dW2 x2, db1 x4."""
    layers = _to_layers(params)
    acts = forward(X, layers)
    grads = backward(acts, np.asarray(Y, float).reshape(1, -1), layers)
    out = {}
    for l, (dW, db) in enumerate(grads, start=1):
        if planted_bugs and l == 2:
            dW = dW * 2
        if planted_bugs and l == 1:
            db = db * 4
        out["dW%d" % l] = dW
        out["db%d" % l] = db
    return out


def nd_difference(X, Y, params, grads, eps=1e-7):
    """The relative difference of the N-D gradient check."""
    names = []
    for l in range(1, len(params) // 2 + 1):
        names += ["W%d" % l, "b%d" % l]
    flat_p = np.concatenate([params[k].ravel() for k in names])
    flat_g = np.concatenate([grads["d" + k].ravel() for k in names])
    shapes = [params[k].shape for k in names]
    approx = np.empty_like(flat_p)

    def unflatten(v):
        d, pos = {}, 0
        for k, s in zip(names, shapes):
            n = int(np.prod(s))
            d[k] = v[pos:pos + n].reshape(s)
            pos += n
        return d

    for i in range(flat_p.size):
        up = flat_p.copy()
        up[i] += eps
        dn = flat_p.copy()
        dn[i] -= eps
        approx[i] = (nd_cost(X, Y, unflatten(up)) - nd_cost(X, Y, unflatten(dn))) / (2 * eps)
    return (np.linalg.norm(flat_g - approx)
            / (np.linalg.norm(flat_g) + np.linalg.norm(approx)))


# ------------------------------------------------------------------ Application (course 1)
def init_app_two(n_x, n_h, n_y):
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    W2 = np.random.randn(n_y, n_h) * 0.01
    return [(W1, np.zeros((n_h, 1))), (W2, np.zeros((n_y, 1)))]


def init_app_deep(dims):
    np.random.seed(1)
    return [(np.random.randn(n, p) / np.sqrt(p), np.zeros((n, 1)))
            for p, n in zip(dims[:-1], dims[1:])]


def run_app(X, Y, layers, learning_rate=0.0075, num_iterations=3000):
    """Full-batch gradient descent from ``layers``; costs (mean cross-entropy)
    at i % 100 == 0 and at the last iteration, as {i: cost}."""
    costs = {}
    Yf = np.asarray(Y, dtype=float)
    for i in range(num_iterations):
        acts = forward(X, layers)
        if i % 100 == 0 or i == num_iterations - 1:
            costs[i] = float(np.sum(xent_terms(acts[-1], Yf)) / X.shape[1])
        layers = gd_step(layers, backward(acts, Yf, layers), learning_rate)
    return _to_dict(layers), costs

