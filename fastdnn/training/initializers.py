"""Initial parameters, as SPEC §5 states them (``initialization=``)."""
from __future__ import annotations

import numpy as np

from fastdnn.training import registry
from fastdnn.training.memory import check_fits

__all__ = ["initialize_parameters"]


def _dims(layers_dims):
    if isinstance(layers_dims, (str, bytes)) or not hasattr(layers_dims, "__len__"):
        raise TypeError(f"layers_dims must be a list of layer sizes, got {layers_dims!r}")
    dims = list(layers_dims)
    if len(dims) < 2:
        raise ValueError(f"layers_dims needs at least an input and an output size, got {dims}")
    for i, n in enumerate(dims):
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"layers_dims[{i}] must be a positive int, got {n!r}")
        if n < 1:
            raise ValueError(f"layers_dims[{i}] must be a positive int, got {n}")
    return [int(n) for n in dims]


def initialize_parameters(layers_dims, initialization="seed", *, two_layer=False,
                          hidden_activation="relu", seed=10, dtype="float64"):
    """W1, b1, ..., WL, bL for ``layers_dims`` = [n_0, ..., n_L].

    * ``"seed"``: the seed's: ``np.random.seed(1)``, then ``initialize_parameters(n_x, n_h,
      n_y)`` (``two_layer``: randn * 0.01) or ``initialize_parameters_deep`` (reseeds 3,
      randn / sqrt(n_{l-1}));
    * ``"he"``, ``"zeros"``, ``"random"``: course 2's: ``np.random.seed(3)``, then for
      l = 1..L in order W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}), zeros (no draws), or
      randn * 10; zero biases;
    * ``"glorot"``: scikit-learn's ``_init_coef`` from ``np.random.RandomState(seed)``: per
      layer bound = sqrt(f / (n_{l-1} + n_l)), f = 2 for a sigmoid/logistic hidden
      activation else 6; W_l^T = uniform(-bound, bound, (n_{l-1}, n_l)), then
      b_l = uniform(-bound, bound, n_l).

    The global numpy RNG is used (and left) as the course leaves it, except for "glorot",
    which uses its own RandomState.  Arrays are float64 (cast to ``dtype`` after drawing).
    """
    from fastdnn.layers import RNG_LOCK, initialize_parameters as init2, \
        initialize_parameters_deep as init_deep

    dims = _dims(layers_dims)
    check_fits(8 * sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims))),
               f"the parameters of layers {dims}")
    if initialization not in registry.INITIALIZERS:
        raise ValueError(f"initialization must be one of {sorted(registry.INITIALIZERS)}, "
                         f"got {initialization!r}")
    L = len(dims) - 1
    params = {}
    with RNG_LOCK:
        if initialization == "seed":
            np.random.seed(1)
            if two_layer:
                if L != 2:
                    raise ValueError("the two-layer model needs layers_dims = (n_x, n_h, n_y), "
                                     f"got {len(dims)} sizes: {dims}")
                params = init2(*dims)
            else:
                params = init_deep(dims)
        elif initialization == "glorot":
            rs = np.random.RandomState(seed)
            f = 2.0 if registry.canonical_activation(hidden_activation) == "sigmoid" else 6.0
            for l in range(1, L + 1):
                bound = np.sqrt(f / (dims[l - 1] + dims[l]))
                coef = rs.uniform(-bound, bound, (dims[l - 1], dims[l]))
                intercept = rs.uniform(-bound, bound, dims[l])
                params[f"W{l}"] = np.ascontiguousarray(coef.T)
                params[f"b{l}"] = intercept.reshape(dims[l], 1)
        else:
            if initialization != "zeros":
                np.random.seed(3)
            for l in range(1, L + 1):
                shape = (dims[l], dims[l - 1])
                if initialization == "zeros":
                    W = np.zeros(shape)
                elif initialization == "he":
                    W = np.random.randn(*shape) * np.sqrt(2.0 / dims[l - 1])
                else:
                    W = np.random.randn(*shape) * 10
                params[f"W{l}"] = W
                params[f"b{l}"] = np.zeros((dims[l], 1))
    dt = np.dtype(dtype)
    if dt != np.float64:
        params = {k: v.astype(dt) for k, v in params.items()}
    return params
