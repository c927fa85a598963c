"""Plain-numpy reference of SPEC Part II §5 (engine v2): the yardstick for the
differential tests of the compiled engine.

Written from the formulas of SPEC §5 and the engine API notes (and, for the
scikit-learn flavours, from the facts of scikit-learn 1.9's
``neural_network/_base.py``, ``_multilayer_perceptron.py`` and
``_stochastic_optimizers.py``), never from the engine's code.  It is kept
literal and slow on purpose: one numpy expression per formula.

Shapes: X (n_x, m), one example per column; W_l (n_l, n_{l-1}); b_l (n_l, 1);
Y (n_L, m) targets, or for ``output="softmax"`` integer labels (1, m) / (m,).

Conventions, all stated in SPEC §5:

* hidden activations g: relu, tanh, sigmoid (alias logistic), identity; g' is
  taken from the layer's output *before* dropout (relu'(0) = 0).
* outputs with their losses: sigmoid + binary cross-entropy (summed over the
  units), softmax + categorical cross-entropy, identity + squared error
  (1/2)(A-Y)^2 summed over outputs, exp + half Poisson deviance
  y log(y/A) - y + A (scikit-learn's ``poisson_loss``).  One output rule:
  dZ_L = (A_L - Y) * w / N, N = examples in the step (or the sum of their
  sample weights w).
* ``loss_convention="course"``: logs clamped at -100;
  ``"sklearn"``: probabilities clipped to [eps, 1-eps] (eps of the working
  dtype) and the squared error averaged over the outputs as well.  The
  convention changes the loss value only, never the gradient.
* cost of a step = sum_j w_j loss_j / N + lambd/(2N) sum_l ||W_l||^2;
  dW_l += (lambd/N) W_l.
* updates (t counts steps over the whole training, incremented before the
  update): gd, momentum, adam (course 2), sgd and adam_sklearn (scikit-learn).
* mini-batches: epoch e uses RandomState(seed + 1 + e).permutation(m), then
  consecutive slices; ``None`` = one full-batch step in data order.
* dropout: one Generator(PCG64(seed)) for the whole training; per step, per
  hidden layer l = 1..L-1 in order, u = rng.random((n_l, m_step)),
  D_l = u < keep_prob; A_l <- A_l * D_l / keep_prob and the same on dA_l.
  Fixed masks (course 2's regularisation notebook): the given D_l every step.
* epoch cost = sum over steps of step_cost * m_step / m; after epoch e the
  learning rate becomes decay(lr0, e, decay_rate) when a decay is given.

float32: parameters, activations and optimiser state are float32 (numpy's own
promotion with Python scalars keeps them so); loss values are summed in
float64 from the float32 activations.
"""

import math

import numpy as np

__all__ = [
    "HIDDEN_ACTIVATIONS", "OUTPUTS", "INITIALIZATIONS", "OPTIMIZERS",
    "initialize_parameters_v2", "hidden_forward", "hidden_derivative",
    "output_forward", "targets_matrix", "per_sample_loss", "step_cost",
    "forward_v2", "backward_v2", "loss_and_gradients_ref", "Optimizer",
    "train_v2", "update_lr", "schedule_lr_decay", "rel_err", "make_problem",
    "numeric_grads", "gradcheck_problem",
]

HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "logistic", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity", "exp")
INITIALIZATIONS = ("seed", "he", "zeros", "random", "glorot")
OPTIMIZERS = ("gd", "momentum", "adam", "sgd", "adam_sklearn")
LOSS_CONVENTIONS = ("course", "sklearn")


def _dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError("dtype must be float32 or float64, got %r" % (dtype,))
    return dt


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError("%s must be one of %s, got %r" % (name, allowed, value))


def rel_err(a, b, tiny=1e-300):
    """max|a - b| / max(max|b|, tiny), in float64: the tests' "relative" error."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("shapes differ: %s vs %s" % (a.shape, b.shape))
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), tiny))


# ------------------------------------------------------------ initialisers
def initialize_parameters_v2(layers_dims, initialization="seed", *, hidden_activation="relu",
                             seed=10, two_layer=False, dtype="float64"):
    """The initialisers of SPEC §5, drawn from private RandomState objects
    (the same numbers as the global-RNG calls the course makes).

    "seed": two-layer model (two_layer=True): np.random.seed(1), then
    W1 = randn(n_h, n_x)*0.01, W2 = randn(n_y, n_h)*0.01; deep model:
    np.random.seed(3) (after seed 1), W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}).
    "he" / "zeros" / "random" (both models): np.random.seed(3), then for l in
    order W_l = randn(n_l, n_{l-1}) * sqrt(2/n_{l-1}), zeros, or randn * 10.
    "glorot": RandomState(seed); per layer bound = sqrt(f/(n_{l-1}+n_l)),
    f = 2 for a sigmoid/logistic hidden activation else 6; W_l^T =
    uniform(-bound, bound, (n_{l-1}, n_l)), then b_l = uniform(-bound, bound, n_l).
    Biases are zero except for glorot.  Returns a dict of arrays of ``dtype``.
    """
    _check("initialization", initialization, INITIALIZATIONS)
    _check("hidden_activation", hidden_activation, HIDDEN_ACTIVATIONS)
    dt = _dtype(dtype)
    dims = [int(n) for n in layers_dims]
    if len(dims) < 2:
        raise ValueError("layers_dims needs at least 2 entries, got %r" % (layers_dims,))
    if two_layer and len(dims) != 3:
        raise ValueError("two_layer needs layers_dims (n_x, n_h, n_y), got %r" % (layers_dims,))
    L = len(dims) - 1
    p = {}
    if initialization == "seed":
        if two_layer:
            rs = np.random.RandomState(1)
            for l in (1, 2):
                p["W%d" % l] = rs.randn(dims[l], dims[l - 1]) * 0.01
                p["b%d" % l] = np.zeros((dims[l], 1))
        else:
            rs = np.random.RandomState(3)
            for l in range(1, L + 1):
                p["W%d" % l] = rs.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
                p["b%d" % l] = np.zeros((dims[l], 1))
    elif initialization in ("he", "zeros", "random"):
        rs = np.random.RandomState(3)
        for l in range(1, L + 1):
            if initialization == "he":
                W = rs.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
            elif initialization == "random":
                W = rs.randn(dims[l], dims[l - 1]) * 10
            else:
                W = np.zeros((dims[l], dims[l - 1]))
            p["W%d" % l] = W
            p["b%d" % l] = np.zeros((dims[l], 1))
    else:  # glorot, as scikit-learn's _init_coef
        rs = np.random.RandomState(seed)
        factor = 2.0 if hidden_activation in ("sigmoid", "logistic") else 6.0
        for l in range(1, L + 1):
            fan_in, fan_out = dims[l - 1], dims[l]
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            intercept = rs.uniform(-bound, bound, fan_out)
            p["W%d" % l] = np.ascontiguousarray(coef.T)
            p["b%d" % l] = intercept.reshape(fan_out, 1)
    return {k: v.astype(dt) for k, v in p.items()}


# ------------------------------------------------------------- activations
def hidden_forward(Z, activation):
    """g(Z) for a hidden layer: relu max(0, Z), tanh, sigmoid 1/(1+e^-Z), identity."""
    if activation == "relu":
        return np.maximum(Z, 0)
    if activation == "tanh":
        return np.tanh(Z)
    if activation in ("sigmoid", "logistic"):
        with np.errstate(over="ignore"):        # exp(-Z) = inf gives A = 0 exactly
            return 1 / (1 + np.exp(-Z))
    if activation == "identity":
        return Z.copy()
    raise ValueError("hidden_activation must be one of %s, got %r"
                     % (HIDDEN_ACTIVATIONS, activation))


def hidden_derivative(A, activation):
    """g'(Z) written from the output A = g(Z): relu [A > 0], tanh 1 - A^2,
    sigmoid A (1 - A), identity 1."""
    if activation == "relu":
        return (A > 0).astype(A.dtype)
    if activation == "tanh":
        return 1 - A * A
    if activation in ("sigmoid", "logistic"):
        return A * (1 - A)
    if activation == "identity":
        return np.ones_like(A)
    raise ValueError("hidden_activation must be one of %s, got %r"
                     % (HIDDEN_ACTIVATIONS, activation))


def output_forward(Z, output):
    """A_L from Z_L: sigmoid, softmax over rows (column max subtracted), identity, exp."""
    if output == "sigmoid":
        with np.errstate(over="ignore"):        # exp(-Z) = inf gives A = 0 exactly
            return 1 / (1 + np.exp(-Z))
    if output == "softmax":
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)
    if output == "identity":
        return Z.copy()
    if output == "exp":
        return np.exp(Z)
    raise ValueError("output must be one of %s, got %r" % (OUTPUTS, output))


def targets_matrix(Y, output, n_out, dtype):
    """Y as an (n_out, m) array of ``dtype``; softmax integer labels (1, m) or
    (m,) become one-hot columns."""
    Y = np.asarray(Y)
    if output == "softmax" and (Y.ndim == 1 or (Y.shape[0] == 1 and n_out > 1)):
        labels = Y.reshape(-1)
        if not np.issubdtype(labels.dtype, np.integer):
            if not np.all(labels == np.round(labels)):
                raise ValueError("softmax labels must be integers 0..%d" % (n_out - 1))
            labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= n_out):
            raise ValueError("softmax labels must lie in 0..%d" % (n_out - 1))
        onehot = np.zeros((n_out, labels.size), dtype=dtype)
        onehot[labels, np.arange(labels.size)] = 1
        return onehot
    Y = Y.reshape(n_out, -1) if Y.ndim == 1 else Y
    if Y.shape[0] != n_out:
        raise ValueError("Y has %d rows, the output layer %d units" % (Y.shape[0], n_out))
    return Y.astype(dtype)


def _xlogy(x, y):
    """x * log(y), 0 where x == 0 (scipy.special.xlogy's rule)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, 0.0, out)


def per_sample_loss(A, Y, output, loss_convention="course"):
    """Loss of each example (a (m,) float64 array), summed over the output units
    (squared error with ``"sklearn"``: averaged over them).

    A is the output of the working dtype; the clip uses that dtype's eps, then
    the sums run in float64.
    """
    _check("loss_convention", loss_convention, LOSS_CONVENTIONS)
    Y64 = np.asarray(Y, dtype=np.float64)
    if output in ("sigmoid", "softmax"):
        if loss_convention == "sklearn":
            eps = np.finfo(A.dtype).eps
            P = np.clip(A, eps, 1 - eps).astype(np.float64)
            if output == "sigmoid":
                terms = _xlogy(Y64, P) + _xlogy(1 - Y64, 1 - P)
            else:
                terms = _xlogy(Y64, P)
        else:
            A64 = A.astype(np.float64)
            with np.errstate(divide="ignore"):
                logA = np.maximum(np.log(A64), -100.0)
                if output == "sigmoid":
                    log1mA = np.maximum(np.log(1 - A64), -100.0)
            if output == "sigmoid":
                terms = Y64 * logA + (1 - Y64) * log1mA
            else:
                terms = Y64 * logA
        return -terms.sum(axis=0)
    if output == "identity":
        D = A.astype(np.float64) - Y64
        sq = 0.5 * D * D
        return sq.mean(axis=0) if loss_convention == "sklearn" else sq.sum(axis=0)
    if output == "exp":
        A64 = A.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = _xlogy(Y64, Y64 / A64) - Y64 + A64
        return terms.sum(axis=0)
    raise ValueError("output must be one of %s, got %r" % (OUTPUTS, output))


def step_cost(A, Y, parameters, output, *, lambd=0.0, loss_convention="course",
              sample_weight=None):
    """sum_j w_j loss_j / N + lambd/(2N) sum_l ||W_l||_F^2 as a Python float,
    N = m (or sum w)."""
    losses = per_sample_loss(A, Y, output, loss_convention)
    if sample_weight is None:
        N = float(A.shape[1])
        total = float(losses.sum())
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        N = float(w.sum())
        total = float((w * losses).sum())
    cost = total / N
    if lambd:
        L = len(parameters) // 2
        sq = sum(float(np.sum(parameters["W%d" % l].astype(np.float64) ** 2))
                 for l in range(1, L + 1))
        cost += lambd / (2 * N) * sq
    return cost


# ------------------------------------------------------ forward / backward
def forward_v2(X, parameters, *, hidden_activation="relu", output="sigmoid",
               masks=None, keep_prob=1.0):
    """Forward pass.  Returns ``(AL, acts, pre)`` where acts[l] is layer l's
    output after dropout (acts[0] = X) and pre[l] its output before dropout
    (hidden layers only, for g').  ``masks``: list of L-1 0/1 arrays or None."""
    L = len(parameters) // 2
    acts = [X]
    pre = [None]
    A = X
    for l in range(1, L):
        Z = parameters["W%d" % l] @ A + parameters["b%d" % l]
        A = hidden_forward(Z, hidden_activation)
        pre.append(A)
        if masks is not None:
            A = A * masks[l - 1] / keep_prob
        acts.append(A)
    ZL = parameters["W%d" % L] @ A + parameters["b%d" % L]
    AL = output_forward(ZL, output)
    return AL, acts, pre


def backward_v2(AL, Y, parameters, acts, pre, *, hidden_activation="relu", lambd=0.0,
                sample_weight=None, masks=None, keep_prob=1.0):
    """Backward pass with the output rule dZ_L = (A_L - Y) * w / N.

    Returns grads dW1, db1, ..., dWL, dbL (dW including (lambd/N) W_l)."""
    L = len(parameters) // 2
    m = AL.shape[1]
    dt = AL.dtype
    if sample_weight is None:
        N = m
        dZ = (AL - Y) / N
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        N = float(w.sum())
        dZ = (AL - Y) * (w / N).astype(dt)
    grads = {}
    for l in range(L, 0, -1):
        W = parameters["W%d" % l]
        dW = dZ @ acts[l - 1].T
        if lambd:
            dW = dW + (lambd / N) * W
        grads["dW%d" % l] = dW
        grads["db%d" % l] = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dA = W.T @ dZ
            if masks is not None:
                dA = dA * masks[l - 2] / keep_prob
            dZ = dA * hidden_derivative(pre[l - 1], hidden_activation)
    return grads


def loss_and_gradients_ref(X, Y, parameters, *, hidden_activation="relu", output="sigmoid",
                           lambd=0.0, loss_convention="course", sample_weight=None,
                           dtype=None, dropout_masks=None, keep_prob=1.0):
    """One full-batch forward + backward, no update.

    Returns ``(cost, grads)``: cost a float with the L2 term, grads dW1, db1,
    ..., dWL, dbL.  No dropout unless fixed ``dropout_masks`` are given.
    ``dtype`` defaults to W1's dtype."""
    dt = _dtype(dtype if dtype is not None else parameters["W1"].dtype)
    params = {k: np.asarray(v, dtype=dt) for k, v in parameters.items()}
    X = np.asarray(X, dtype=dt)
    L = len(params) // 2
    Ym = targets_matrix(Y, output, params["W%d" % L].shape[0], dt)
    masks = None
    if dropout_masks is not None:
        masks = [np.asarray(D, dtype=dt) for D in dropout_masks]
    AL, acts, pre = forward_v2(X, params, hidden_activation=hidden_activation, output=output,
                               masks=masks, keep_prob=keep_prob)
    cost = step_cost(AL, Ym, params, output, lambd=lambd, loss_convention=loss_convention,
                     sample_weight=sample_weight)
    grads = backward_v2(AL, Ym, params, acts, pre, hidden_activation=hidden_activation,
                        lambd=lambd, sample_weight=sample_weight, masks=masks,
                        keep_prob=keep_prob)
    return cost, grads


# --------------------------------------------------------------- optimisers
class Optimizer:
    """The five update rules, state per parameter name.

    gd:        p -= lr d
    momentum:  v = beta v + (1-beta) d;  p -= lr v
    adam:      v = b1 v + (1-b1) d;  s = b2 s + (1-b2) d^2;
               p -= lr (v/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps)
    sgd:       v = mu v - lr d;  p += v  (nesterov: p += mu v - lr d)
    adam_sklearn: m, v as adam; lr_t = lr sqrt(1-b2^t)/(1-b1^t);
               p -= lr_t m / (sqrt(v) + eps)
    t (Adam's step counter) is incremented before each update.
    """

    def __init__(self, name, parameters, *, beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 momentum=0.9, nesterov=True):
        _check("optimizer", name, OPTIMIZERS)
        self.name = name
        self.beta, self.beta1, self.beta2, self.epsilon = beta, beta1, beta2, epsilon
        self.momentum, self.nesterov = momentum, nesterov
        self.t = 0
        self.v = {k: np.zeros_like(p) for k, p in parameters.items()}
        self.s = {k: np.zeros_like(p) for k, p in parameters.items()}

    def step(self, parameters, grads, lr):
        """Return the new parameters (new arrays) after one update."""
        self.t += 1
        t = self.t
        new = {}
        L = len(parameters) // 2
        for l in range(1, L + 1):
            for key in ("W%d" % l, "b%d" % l):
                p, d = parameters[key], grads["d" + key]
                if self.name == "gd":
                    p = p - lr * d
                elif self.name == "momentum":
                    self.v[key] = self.beta * self.v[key] + (1 - self.beta) * d
                    p = p - lr * self.v[key]
                elif self.name == "adam":
                    self.v[key] = self.beta1 * self.v[key] + (1 - self.beta1) * d
                    self.s[key] = self.beta2 * self.s[key] + (1 - self.beta2) * (d * d)
                    v_hat = self.v[key] / (1 - self.beta1 ** t)
                    s_hat = self.s[key] / (1 - self.beta2 ** t)
                    p = p - lr * v_hat / (np.sqrt(s_hat) + self.epsilon)
                elif self.name == "sgd":
                    self.v[key] = self.momentum * self.v[key] - lr * d
                    if self.nesterov:
                        p = p + (self.momentum * self.v[key] - lr * d)
                    else:
                        p = p + self.v[key]
                else:  # adam_sklearn
                    self.v[key] = self.beta1 * self.v[key] + (1 - self.beta1) * d
                    self.s[key] = self.beta2 * self.s[key] + (1 - self.beta2) * (d * d)
                    lr_t = lr * math.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
                    p = p + (-lr_t * self.v[key] / (np.sqrt(self.s[key]) + self.epsilon))
                new[key] = p
        return new


# ----------------------------------------------------------- decay rules
def update_lr(learning_rate0, epoch_num, decay_rate):
    """Course 2: lr0 / (1 + decay_rate * epoch_num)."""
    return learning_rate0 / (1 + decay_rate * epoch_num)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """Course 2: lr0 / (1 + decay_rate * floor(epoch_num / time_interval))."""
    return learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))


# ------------------------------------------------------------------ training
def train_v2(X, Y, layers_dims, *, learning_rate=0.0075, num_iterations=3000,
             hidden_activation="relu", output="sigmoid", initialization="seed",
             optimizer="gd", mini_batch_size=None, beta=0.9, beta1=0.9, beta2=0.999,
             epsilon=1e-8, lambd=0.0, keep_prob=1.0, decay=None, decay_rate=1.0, seed=10,
             dtype="float64", record_every=100, two_layer=False, dropout_masks=None,
             momentum=0.9, nesterov=True, loss_convention="course", sample_weight=None,
             shuffle="course", perms=None, parameters=None, start_epoch=0,
             return_state=False):
    """Train as SPEC §5 states; returns ``(parameters, costs)``.

    ``num_iterations`` counts epochs.  ``costs`` holds the cost of epoch e
    (float) for each e with e % record_every == 0 (e counted from
    ``start_epoch``, which also offsets the shuffle seeds and the decay).
    ``parameters``: initial parameters (then ``initialization`` is not used);
    ``dropout_masks``: fixed masks [D1, ..., D_{L-1}] of shape (n_l, m), the
    same every step (columns follow the step's examples); ``shuffle``:
    "course" | "none" | "external" (``perms[e]`` for epoch e, 0-based from
    the call).  ``return_state=True`` returns ``(parameters, costs, state)``
    with the optimiser, the final learning rate and the dropout generator.
    """
    dt = _dtype(dtype)
    _check("hidden_activation", hidden_activation, HIDDEN_ACTIVATIONS)
    _check("output", output, OUTPUTS)
    _check("shuffle", shuffle, ("course", "none", "external"))
    if not 0 < keep_prob <= 1:
        raise ValueError("keep_prob must be in (0, 1], got %r" % (keep_prob,))
    if mini_batch_size is not None and int(mini_batch_size) < 1:
        raise ValueError("mini_batch_size must be >= 1, got %r" % (mini_batch_size,))
    if parameters is None:
        params = initialize_parameters_v2(layers_dims, initialization,
                                          hidden_activation=hidden_activation, seed=seed,
                                          two_layer=two_layer, dtype=dt)
    else:
        params = {k: np.array(v, dtype=dt) for k, v in parameters.items()}
    L = len(params) // 2
    X = np.asarray(X, dtype=dt)
    m = X.shape[1]
    Ym = targets_matrix(Y, output, params["W%d" % L].shape[0], dt)
    if Ym.shape[1] != m:
        raise ValueError("X has %d examples, Y %d" % (m, Ym.shape[1]))
    w_all = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    fixed = None
    if dropout_masks is not None:
        fixed = [np.asarray(D, dtype=dt) for D in dropout_masks]
    opt = Optimizer(optimizer, params, beta=beta, beta1=beta1, beta2=beta2, epsilon=epsilon,
                    momentum=momentum, nesterov=nesterov)
    rng = np.random.Generator(np.random.PCG64(seed))
    lr0 = learning_rate
    lr = learning_rate
    if decay is not None and start_epoch > 0:
        lr = decay(lr0, start_epoch - 1, decay_rate)
    costs = []
    for i in range(num_iterations):
        e = start_epoch + i
        if mini_batch_size is None:
            batches = [np.arange(m)]
        else:
            if shuffle == "course":
                perm = np.random.RandomState(seed + 1 + e).permutation(m)
            elif shuffle == "none":
                perm = np.arange(m)
            else:
                perm = np.asarray(perms[i])
            size = int(mini_batch_size)
            batches = [perm[k:k + size] for k in range(0, m, size)]
        epoch_cost = 0.0
        for idx in batches:
            full = mini_batch_size is None
            Xb = X if full else X[:, idx]
            Yb = Ym if full else Ym[:, idx]
            wb = None if w_all is None else (w_all if full else w_all[idx])
            if fixed is not None:
                masks = fixed if full else [D[:, idx] for D in fixed]
            elif keep_prob < 1:
                masks = [(rng.random((params["W%d" % l].shape[0], len(idx))) < keep_prob)
                         .astype(dt) for l in range(1, L)]
            else:
                masks = None
            AL, acts, pre = forward_v2(Xb, params, hidden_activation=hidden_activation,
                                       output=output, masks=masks, keep_prob=keep_prob)
            c = step_cost(AL, Yb, params, output, lambd=lambd,
                          loss_convention=loss_convention, sample_weight=wb)
            epoch_cost += c * len(idx) / m
            grads = backward_v2(AL, Yb, params, acts, pre, hidden_activation=hidden_activation,
                                lambd=lambd, sample_weight=wb, masks=masks,
                                keep_prob=keep_prob)
            params = opt.step(params, grads, lr)
        if decay is not None:
            lr = decay(lr0, e, decay_rate)
        if e % record_every == 0:
            costs.append(epoch_cost)
    if return_state:
        return params, costs, {"optimizer": opt, "learning_rate": lr, "rng": rng}
    return params, costs


# --------------------------------------------------------------- test data
def make_problem(output, *, n_x=5, m=28, n_out=None, seed=0, labels="int"):
    """Small generated data for the differential tests: ``(X, Y, n_out)``.

    X ~ randn(n_x, m); Y: sigmoid 0/1 values (n_out, m) (default n_out 1),
    softmax integer labels (1, m) (``labels="int"``) or one-hot (n_out, m)
    (default n_out 3), identity randn (n_out, m) (default 2), exp Poisson
    counts with zeros among them (default 2; X scaled by 0.3).
    """
    rs = np.random.RandomState(seed)
    X = rs.randn(n_x, m)
    if output == "sigmoid":
        n_out = 1 if n_out is None else n_out
        Y = (rs.rand(n_out, m) < 0.5).astype(np.float64)
    elif output == "softmax":
        n_out = 3 if n_out is None else n_out
        lab = rs.randint(0, n_out, size=(1, m))
        lab[0, :n_out] = np.arange(n_out)          # every class present
        if labels == "int":
            Y = lab
        else:
            Y = np.zeros((n_out, m))
            Y[lab[0], np.arange(m)] = 1.0
    elif output == "identity":
        n_out = 2 if n_out is None else n_out
        Y = rs.randn(n_out, m)
    elif output == "exp":
        n_out = 2 if n_out is None else n_out
        Y = rs.poisson(1.5, size=(n_out, m)).astype(np.float64)
        X = 0.3 * X          # keeps exp(Z_L) moderate under every initialiser
    else:
        raise ValueError("output must be one of %s, got %r" % (OUTPUTS, output))
    return X, Y, n_out


def numeric_grads(f, params, eps=1e-6):
    """Central differences (f(p + eps) - f(p - eps)) / (2 eps) of the scalar
    function f(params) for every entry of every array; keys "d" + name."""
    num = {}
    for k, v in params.items():
        g = np.zeros(v.shape, dtype=np.float64)
        for idx in np.ndindex(v.shape):
            plus = {kk: vv.copy() for kk, vv in params.items()}
            minus = {kk: vv.copy() for kk, vv in params.items()}
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(plus) - f(minus)) / (2 * eps)
        num["d" + k] = g
    return num


def gradcheck_problem(output, hidden, seed=0, n_out=None, m=9, margin=0.01):
    """Float64 data and parameters [4, 5, 3, n_L] (glorot weights, random
    biases) for gradient checks; with relu, every hidden pre-activation stays
    at least ``margin`` away from the kink.  Returns ``(X, Y, parameters)``."""
    for s in range(seed, seed + 500):
        X, Y, n_out_ = make_problem(output, n_x=4, m=m, n_out=n_out, seed=s)
        p = initialize_parameters_v2([4, 5, 3, n_out_], "glorot", seed=s + 1)
        rs = np.random.RandomState(s + 2)
        for k in p:
            if k.startswith("b"):
                p[k] = 0.3 * rs.randn(*p[k].shape)
        if hidden != "relu":
            return X, Y, p
        A = X
        smallest = np.inf
        for l in (1, 2):
            Z = p["W%d" % l] @ A + p["b%d" % l]
            smallest = min(smallest, float(np.abs(Z).min()))
            A = hidden_forward(Z, hidden)
        if smallest > margin:
            return X, Y, p
    raise AssertionError("no data found away from the relu kink")
