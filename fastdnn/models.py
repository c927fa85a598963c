"""The seed's models: two_layer_model, L_layer_model and predict.

Both models train the network

    A0 = X,  A_l = relu(W_l A_{l-1} + b_l)  for l = 1..L-1,
    AL = sigmoid(W_L A_{L-1} + b_L)

by full-batch gradient descent on the cross-entropy cost

    J = -(1/m) sum_j [ y_j log AL_j + (1 - y_j) log(1 - AL_j) ],
    W_l <- W_l - learning_rate * dJ/dW_l,   b_l <- b_l - learning_rate * dJ/db_l,

with the seed's seeding: ``np.random.seed(1)``, then the initialiser
(``initialize_parameters`` for the two-layer model, draws ``randn * 0.01``;
``initialize_parameters_deep`` for the L-layer model, which reseeds with 3 and
draws ``randn / sqrt(n_{l-1})``).  The cost is recorded at every iteration
i with i % 100 == 0 and printed then when ``print_cost``.

The iterations themselves run in :class:`fastdnn.engine.Trainer`; the
keyword-only extras ``dtype``, ``solver`` and ``threads`` are passed to it
unchanged (``dtype=None`` computes in float64 as the seed does).
"""
from __future__ import annotations

import numpy as np

from fastdnn._validation import as_numeric
from fastdnn.engine import Trainer
from fastdnn.layers import (RNG_LOCK, L_model_forward, initialize_parameters,
                            initialize_parameters_deep)

__all__ = ["two_layer_model", "L_layer_model", "predict", "probabilities", "init_parameters",
           "MODEL_KINDS"]

#: the two initialisations: "two-layer" (initialize_parameters, randn * 0.01) and
#: "deep" (initialize_parameters_deep, randn / sqrt(n_{l-1}) after np.random.seed(3))
MODEL_KINDS = ("two-layer", "deep")

RECORD_EVERY = 100


def init_parameters(layers_dims, kind="deep"):
    """The seed's starting point: ``np.random.seed(1)``, then the initialiser of ``kind``.

    ``kind="two-layer"``: ``initialize_parameters(n_x, n_h, n_y)`` with
    ``layers_dims = (n_x, n_h, n_y)``; ``kind="deep"``:
    ``initialize_parameters_deep(layers_dims)``.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    if isinstance(layers_dims, (str, bytes)) or not hasattr(layers_dims, "__len__"):
        raise TypeError(f"layers_dims must be a list of layer sizes, got {layers_dims!r}")
    if kind == "two-layer" and len(layers_dims) != 3:
        raise ValueError("two_layer_model needs layers_dims = (n_x, n_h, n_y), got "
                         f"{len(layers_dims)} sizes: {list(layers_dims)}")
    from fastdnn.training.memory import check_fits
    dims = list(layers_dims)
    if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in dims):
        check_fits(8 * sum(int(dims[l]) * (int(dims[l - 1]) + 1) for l in range(1, len(dims))),
                   f"the parameters of layers {[int(n) for n in dims]}")
    with RNG_LOCK:          # seed + draws as one step, whatever other threads do
        np.random.seed(1)
        if kind == "two-layer":
            n_x, n_h, n_y = layers_dims
            return initialize_parameters(n_x, n_h, n_y)
        return initialize_parameters_deep(layers_dims)


def _check_data(X, Y, layers_dims, output="sigmoid"):
    """X must have layers_dims[0] rows; Y one target column per column of X."""
    xs, ys = as_numeric(X, "X").shape, as_numeric(Y, "Y").shape   # TypeError naming X/Y if not numeric
    if len(xs) != 2:
        raise ValueError(f"X must be 2-D (n_x, m), got shape {xs}")
    if xs[0] != layers_dims[0]:
        raise ValueError(f"X has shape {xs} but layers_dims[0] = {layers_dims[0]}: "
                         f"X needs one row per input feature")
    n_L = layers_dims[-1]
    labels_ok = output == "softmax" and ys in ((xs[1],), (1, xs[1]))
    if not labels_ok and (int(np.prod(ys)) != n_L * xs[1] or len(ys) > 2
                          or (len(ys) == 2 and ys != (n_L, xs[1]))):
        raise ValueError(f"Y has shape {ys}, expected ({n_L}, {xs[1]}): one target per output "
                         f"unit (layers_dims[-1] = {n_L}) and column of X {xs}"
                         + (" (or integer class labels (1, m))" if output == "softmax" else ""))


def _train(X, Y, layers_dims, kind, learning_rate, num_iterations, print_cost, isPlot,
           initialization, options):
    from fastdnn.training import Trainer, TrainingConfig, initialize_parameters
    from fastdnn.training.config import check_int

    config = TrainingConfig(learning_rate=learning_rate, **options)   # validated before any draw
    num_iterations = check_int("num_iterations", num_iterations, low=0)
    if initialization == "seed":
        parameters = init_parameters(layers_dims, kind)
    else:
        parameters = initialize_parameters(layers_dims, initialization,
                                           hidden_activation=config.hidden_activation,
                                           seed=config.seed)
    _check_data(X, Y, layers_dims, config.output)

    def report(i, cost):
        print("第", i, "次迭代，成本值为：", cost)

    trainer = Trainer(X, Y, parameters, config)
    costs = trainer.run(num_iterations, record_every=RECORD_EVERY,
                        callback=report if print_cost else None)
    if isPlot:
        from fastdnn.plots import show_cost_curve
        show_cost_curve(costs, learning_rate)
    return trainer.parameters()


_EXTRAS_DOC = """
    Keyword-only extras (SPEC §5; defaults = the seed's training): ``dtype`` (None/"float64"
    or "float32"), ``solver`` ("auto", "primal", "gram"), ``threads``,
    ``hidden_activation`` ("relu", "tanh", "sigmoid"/"logistic", "identity"), ``output``
    ("sigmoid", "softmax", "identity"), ``initialization`` ("seed", "he", "zeros", "random",
    "glorot"), ``optimizer`` ("gd", "momentum", "adam"), ``mini_batch_size`` (None: full
    batch), ``beta``, ``beta1``, ``beta2``, ``epsilon``, ``lambd`` (L2), ``keep_prob``
    (dropout), ``decay``/``decay_rate`` (learning-rate schedule after each epoch), ``seed``
    (mini-batch shuffles and dropout masks).  ``num_iterations`` counts epochs.
"""


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, isPlot=True, *, dtype=None, solver="auto", threads=None,
                    hidden_activation="relu", output="sigmoid", initialization="seed",
                    optimizer="gd", mini_batch_size=None, beta=0.9, beta1=0.9, beta2=0.999,
                    epsilon=1e-8, lambd=0.0, keep_prob=1.0, decay=None, decay_rate=1.0,
                    seed=10):
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID; ``layers_dims = (n_x, n_h, n_y)``.

    ``np.random.seed(1)``, ``initialize_parameters(n_x, n_h, n_y)``, then
    ``num_iterations`` steps of full-batch gradient descent.  Prints
    ``第 i 次迭代，成本值为： cost`` every 100 iterations when ``print_cost``;
    draws the cost curve when ``isPlot`` and matplotlib is installed (never
    blocks, never fails without it).  Returns the parameters dict W1, b1, W2, b2.
    """
    if isinstance(layers_dims, (str, bytes)) or not hasattr(layers_dims, "__len__"):
        raise TypeError(f"layers_dims must be a list of layer sizes, got {layers_dims!r}")
    if len(layers_dims) != 3:
        raise ValueError("two_layer_model needs layers_dims = (n_x, n_h, n_y), got "
                         f"{len(layers_dims)} sizes: {list(layers_dims)}")
    options = dict(dtype=dtype, solver=solver, threads=threads,
                   hidden_activation=hidden_activation, output=output, optimizer=optimizer,
                   mini_batch_size=mini_batch_size, beta=beta, beta1=beta1, beta2=beta2,
                   epsilon=epsilon, lambd=lambd, keep_prob=keep_prob, decay=decay,
                   decay_rate=decay_rate, seed=seed)
    return _train(X, Y, layers_dims, "two-layer", learning_rate, num_iterations, print_cost,
                  isPlot, initialization, options)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, isPlot=True, *, dtype=None, solver="auto", threads=None,
                  hidden_activation="relu", output="sigmoid", initialization="seed",
                  optimizer="gd", mini_batch_size=None, beta=0.9, beta1=0.9, beta2=0.999,
                  epsilon=1e-8, lambd=0.0, keep_prob=1.0, decay=None, decay_rate=1.0,
                  seed=10):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID; ``layers_dims = [n_x, ..., 1]``.

    ``np.random.seed(1)``, ``initialize_parameters_deep(layers_dims)`` (which
    reseeds with 3), then full-batch gradient descent as in
    :func:`two_layer_model`.  Returns the parameters dict W1, b1, ..., WL, bL.
    """
    options = dict(dtype=dtype, solver=solver, threads=threads,
                   hidden_activation=hidden_activation, output=output, optimizer=optimizer,
                   mini_batch_size=mini_batch_size, beta=beta, beta1=beta1, beta2=beta2,
                   epsilon=epsilon, lambd=lambd, keep_prob=keep_prob, decay=decay,
                   decay_rate=decay_rate, seed=seed)
    return _train(X, Y, layers_dims, "deep", learning_rate, num_iterations, print_cost,
                  isPlot, initialization, options)


two_layer_model.__doc__ += _EXTRAS_DOC
L_layer_model.__doc__ += _EXTRAS_DOC


def probabilities(X, parameters, *, hidden_activation="relu", output="sigmoid"):
    """AL = the network's output (n_L, m): sigmoid/softmax probabilities, or values."""
    probas, _ = L_model_forward(X, parameters, hidden_activation=hidden_activation,
                                output=output)
    return probas


def default_output(parameters):
    """"sigmoid" for one output unit, "softmax" for more (predict's output=None)."""
    from fastdnn._validation import as_array, check_layer_count

    L = check_layer_count(parameters)
    return "softmax" if as_array(parameters[f"W{L}"], f"parameters['W{L}']").shape[0] > 1 \
        else "sigmoid"


def labels_of(AL, output):
    """Predictions from the output AL: sigmoid (AL > 0.5) as 0./1. (n_L, m); softmax the
    argmax class (1, m); identity/exp the values themselves."""
    if output == "sigmoid":
        return (AL > 0.5).astype(np.float64)
    if output == "softmax":
        return np.argmax(AL, axis=0).reshape(1, -1)
    return AL


def predict(X, y, parameters, *, hidden_activation="relu", output=None):
    """Predict labels p = 1 where AL > 0.5 else 0 and print the accuracy ``mean(p == y)``.

    Returns p, shape (1, m), float64 0./1.  With ``output`` (SPEC §5; None = "sigmoid" for
    one output unit, "softmax" for more): sigmoid gives p (n_L, m) of 0./1.; softmax the
    argmax class (1, m) (y: labels (1, m) or one-hot), accuracy printed for both;
    identity returns the values and prints nothing.
    """
    if output is None:
        output = default_output(parameters)
    AL = probabilities(X, parameters, hidden_activation=hidden_activation, output=output)
    p = labels_of(AL, output)
    if output not in ("sigmoid", "softmax"):
        return p
    y = as_numeric(y, "y")
    if output == "softmax" and y.shape == AL.shape and AL.shape[0] > 1:
        y = np.argmax(y, axis=0)
    if y.size != p.size:
        raise ValueError(f"y has shape {y.shape} but the predictions have shape {p.shape}")
    print("准确度为: " + str(float(np.sum(p == y.reshape(p.shape)) / p.size)))
    return p
