"""TEMPORARY pure-numpy stand-in for ``fastdnn.training`` (engine v2, ENGINE_API.md).

DELETE THIS MODULE when the compiled engine lands on main: ``fastdnn.sklearn`` then imports
``TrainingConfig``, ``Trainer`` and ``loss_and_gradients`` from ``fastdnn.training``.

It implements only the subset of the engine's interface that ``fastdnn.sklearn`` uses
(scikit-learn's conventions: ``loss_convention="sklearn"``, optimizers ``"sgd"`` and
``"adam_sklearn"``, ``shuffle="external"``/``"none"``, sample weights, outputs
``"sigmoid"``/``"softmax"``/``"identity"``/``"exp"``), so that the estimators' Python flow can be
written and tested against the engine's API before the engine exists. Layout is the
engine's: X is (n_x, m), Y is (n_L, m), W_l is (n_l, n_{l-1}), b_l is (n_l, 1).
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
from scipy.special import expit, xlogy

_HIDDEN = ("relu", "tanh", "sigmoid", "logistic", "identity")
_OUTPUTS = ("sigmoid", "softmax", "identity", "exp")
_OPTIMIZERS = ("sgd", "adam_sklearn")


class TrainingDiverged(FloatingPointError):
    """An epoch left the cost or the parameters non-finite (the trainer is before it)."""


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The subset of engine v2's TrainingConfig that the scikit-learn estimators use."""

    learning_rate: float = 0.0075
    hidden_activation: str = "relu"
    output: str = "sigmoid"
    optimizer: str = "sgd"
    mini_batch_size: int | None = None
    shuffle: str = "external"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    nesterov: bool = True
    lambd: float = 0.0
    loss_convention: str = "sklearn"
    dtype: str = "float64"
    seed: int = 10
    threads: int | None = None

    def __post_init__(self):
        for name, allowed in (("hidden_activation", _HIDDEN), ("output", _OUTPUTS),
                              ("optimizer", _OPTIMIZERS), ("shuffle", ("external", "none")),
                              ("loss_convention", ("sklearn",)),
                              ("dtype", ("float64", "float32"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")


def _act(name, Z):
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "tanh":
        return np.tanh(Z)
    if name in ("sigmoid", "logistic"):
        return expit(Z)
    if name == "identity":
        return Z
    if name == "exp":
        return np.exp(Z)
    if name == "softmax":
        e = np.exp(Z - Z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    raise AssertionError(name)


def _back(name, A, dA):
    """g'(Z) * dA, g' computed from the activation's output A."""
    if name == "relu":
        return np.where(A == 0, 0, dA)
    if name == "tanh":
        return dA * (1 - A ** 2)
    if name in ("sigmoid", "logistic"):
        return dA * A * (1 - A)
    return dA


def _avg(values, w):
    """Weighted average over the columns (samples) of a (n_L, m) array: (n_L,)."""
    return np.average(values, weights=w, axis=1)


def _loss(output, A, Y, w):
    if output in ("sigmoid", "softmax"):
        eps = np.finfo(A.dtype).eps
        P = np.clip(A, eps, 1 - eps)
        if output == "sigmoid":
            return -_avg(xlogy(Y, P) + xlogy(1 - Y, 1 - P), w).sum()
        return -_avg(xlogy(Y, P), w).sum()
    if output == "identity":
        return 0.5 * _avg((Y - A) ** 2, w).mean()
    return _avg(xlogy(Y, Y / A) - Y + A, w).sum()


def _n_layers(parameters):
    return len(parameters) // 2


def _step(X, Y, params, cfg, w):
    """Loss (with the L2 term) and gradients of one batch; params is a list [W1, b1, ...]."""
    L = len(params) // 2
    acts = [X]
    for l in range(L):
        Z = params[2 * l] @ acts[-1] + params[2 * l + 1]
        acts.append(_act(cfg.hidden_activation if l < L - 1 else cfg.output, Z))
    N = X.shape[1] if w is None else w.sum()
    loss = _loss(cfg.output, acts[-1], Y, w)
    loss += 0.5 * cfg.lambd * sum(np.dot(W.ravel(), W.ravel()) for W in params[0::2]) / N
    delta = acts[-1] - Y
    if w is not None:
        delta = delta * w
    grads = [None] * (2 * L)
    for l in range(L - 1, -1, -1):
        W = params[2 * l]
        grads[2 * l] = (delta @ acts[l].T + cfg.lambd * W) / N
        grads[2 * l + 1] = delta.sum(axis=1, keepdims=True) / N
        if l > 0:
            delta = _back(cfg.hidden_activation, acts[l], W.T @ delta)
    return float(loss), grads


def _as_list(parameters, dtype):
    L = _n_layers(parameters)
    out = []
    for l in range(1, L + 1):
        out.append(np.array(parameters[f"W{l}"], dtype=dtype))
        out.append(np.array(parameters[f"b{l}"], dtype=dtype).reshape(-1, 1))
    return out


def _as_dict(params):
    d = {}
    for l in range(len(params) // 2):
        d[f"W{l + 1}"] = params[2 * l].copy()
        d[f"b{l + 1}"] = params[2 * l + 1].copy()
    return d


def _targets(Y, n_out, dtype):
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    return Y.astype(dtype)


def loss_and_gradients(X, Y, parameters, cfg, sample_weight=None):
    """One full-batch forward and backward pass: (cost, {dW1, db1, ...})."""
    dt = np.dtype(cfg.dtype)
    params = _as_list(parameters, dt)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=dt)
    cost, grads = _step(np.asarray(X, dtype=dt), _targets(Y, 0, dt), params, cfg, w)
    out = {}
    for l in range(len(params) // 2):
        out[f"dW{l + 1}"] = grads[2 * l]
        out[f"db{l + 1}"] = grads[2 * l + 1]
    return cost, out


class Trainer:
    """Mini-batch training with scikit-learn's optimizers (stand-in for engine v2's Trainer)."""

    def __init__(self, X, Y, parameters, cfg, *, sample_weight=None, iteration=0):
        self._dt = np.dtype(cfg.dtype)
        self._X = np.asarray(X, dtype=self._dt)
        self._Y = _targets(Y, 0, self._dt)
        self._w = None if sample_weight is None else np.asarray(sample_weight, dtype=self._dt)
        self._cfg = cfg
        self._params = _as_list(parameters, self._dt)
        self._state = [np.zeros_like(p) for p in self._params]
        self._state2 = [np.zeros_like(p) for p in self._params]
        self.learning_rate = float(cfg.learning_rate)
        self.t = 0
        self.iteration = iteration

    def run_epoch(self, perm=None, compute_cost=True):
        """One pass over the data; returns the epoch's cost (or None)."""
        cfg = self._cfg
        m = self._X.shape[1]
        bs = m if cfg.mini_batch_size is None else min(int(cfg.mini_batch_size), m)
        if cfg.shuffle == "external":
            if perm is None:
                raise ValueError("perm is required when shuffle='external'")
            order = np.asarray(perm)
        else:
            order = None
        saved = ([p.copy() for p in self._params], [a.copy() for a in self._state],
                 [a.copy() for a in self._state2], self.t)
        total = 0.0
        for start in range(0, m, bs):
            sl = slice(start, min(start + bs, m))
            idx = order[sl] if order is not None else sl
            X, Y = self._X[:, idx], self._Y[:, idx]
            w = None if self._w is None else self._w[idx]
            with np.errstate(all="ignore"):
                loss, grads = _step(X, Y, self._params, cfg, w)
            total += loss * (sl.stop - sl.start)
            self._update(grads)
        cost = total / m
        if not (np.isfinite(cost) and all(np.isfinite(p).all() for p in self._params)):
            self._params, self._state, self._state2, self.t = saved
            raise TrainingDiverged(f"training diverged in epoch {self.iteration}")
        self.iteration += 1
        return cost if compute_cost else None

    def _update(self, grads):
        with np.errstate(all="ignore"):
            self._update_(grads)

    def _update_(self, grads):
        cfg = self._cfg
        lr = self.learning_rate
        self.t += 1
        if cfg.optimizer == "sgd":
            for i, g in enumerate(grads):
                v = cfg.momentum * self._state[i] - lr * g
                self._state[i] = v
                upd = cfg.momentum * v - lr * g if cfg.nesterov else v
                self._params[i] += upd
        else:
            b1, b2 = cfg.beta1, cfg.beta2
            lr_t = lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
            for i, g in enumerate(grads):
                self._state[i] = b1 * self._state[i] + (1 - b1) * g
                self._state2[i] = b2 * self._state2[i] + (1 - b2) * g ** 2
                self._params[i] += -lr_t * self._state[i] / (np.sqrt(self._state2[i]) + cfg.epsilon)

    def parameters(self):
        """New arrays W1, b1, ..."""
        return _as_dict(self._params)

    def optimizer_state(self):
        """New arrays v_W1, ... (sgd velocities / adam first moments) and s_W1, ... (adam)."""
        names = [k for l in range(len(self._params) // 2) for k in (f"W{l + 1}", f"b{l + 1}")]
        d = {f"v_{n}": a.copy() for n, a in zip(names, self._state)}
        if self._cfg.optimizer == "adam_sklearn":
            d.update({f"s_{n}": a.copy() for n, a in zip(names, self._state2)})
        return d

    def state(self):
        """Flat dict as the engine's: W1, b1, ..., v_*, s_*, and ``scalars`` (JSON bytes)."""
        out = self.parameters()
        out.update(self.optimizer_state())
        scalars = {"t": self.t, "epoch": self.iteration, "learning_rate": self.learning_rate}
        out["scalars"] = np.frombuffer(json.dumps(scalars).encode(), dtype=np.uint8).copy()
        return out

    @classmethod
    def from_state(cls, X, Y, state, config=None, *, iteration, sample_weight=None):
        """A trainer continuing from ``state`` (see ``state()``) on data X, Y."""
        params = {k: v for k, v in state.items() if k[:1] in "Wb" and k[1:].isdigit()}
        tr = cls(X, Y, params, config, sample_weight=sample_weight, iteration=iteration)
        names = [k for l in range(len(tr._params) // 2) for k in (f"W{l + 1}", f"b{l + 1}")]
        tr._state = [np.array(state[f"v_{n}"], dtype=tr._dt) for n in names]
        if config.optimizer == "adam_sklearn":
            tr._state2 = [np.array(state[f"s_{n}"], dtype=tr._dt) for n in names]
        scalars = json.loads(bytes(np.asarray(state["scalars"], dtype=np.uint8)).decode())
        tr.t = scalars["t"]
        tr.learning_rate = scalars["learning_rate"]
        return tr
