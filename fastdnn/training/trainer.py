"""The trainer: one object that trains any configuration of SPEC §5 on the compiled core.

``Trainer(X, Y, parameters, config, *, sample_weight=None, dropout_masks=None,
iteration=0, engine="auto")`` validates the data against the parameters and the
configuration, allocates every buffer once, and runs epochs in compiled code without the GIL:

* the seed's configuration (``config.is_seed_default``: full-batch plain gradient descent,
  ReLU, sigmoid output, no L2/dropout/decay) runs on the fused gradient-descent engine of
  ``fastdnn.engine`` (update fused into the GEMM; its "gram" solver for wide data), so every
  default reproduces the seed's results bit for bit as before (``engine="loop"``: on the
  general loop below, as course 2's models do);
* everything else runs on ``fastdnn._core.loop`` (see its docstring for the step); with a
  linear optimiser (gd, momentum, sgd) on wide data (``fastdnn.engine.choose_solver``), or
  ``solver="gram"``, its first layer runs through the gram representation (W1 formed only
  when read: ``parameters()``, ``optimizer_state()``, ``state()``).

Epochs, steps and costs follow SPEC §5: ``run(n)`` trains n epochs (a full-batch epoch is
one step); the cost of epoch e, recorded when e % record_every == 0, is the sum over its
steps of the step's cost times its examples, over m.  The optimiser's step counter ``t``
counts steps over the whole training.

State: ``state()`` holds everything a step depends on (parameters, optimiser state, t, the
epoch, the dropout generator's state, the current learning rate, and for the gram solver
its representation, ``gram_*``); ``Trainer.from_state`` continues bit for bit.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers

import numpy as np

from fastdnn import threads as _threads
from fastdnn._validation import as_array, as_numeric
from fastdnn.training import registry
from fastdnn.training.config import TrainingConfig, check_output_units
from fastdnn.training.memory import check_fits

__all__ = ["Trainer", "TrainingDiverged", "loss_and_gradients", "layer_dims_of_parameters"]

# epochs per call into the compiled loop at most; a call is kept to about _CHUNK_WORK
# multiply-adds (~0.1 s) so that Ctrl-C and progress are seen between calls
_CHUNK = 1000
_CHUNK_WORK = 1e9


class TrainingDiverged(FloatingPointError):
    """Training produced a non-finite cost or non-finite parameters.

    ``iteration`` is the first epoch whose cost is NaN or infinite or whose updates made a
    parameter NaN or infinite; ``parameters`` (and ``optimizer_state``) are those before that
    epoch, the last finite ones (the trainer is left there); ``costs`` the costs recorded so
    far.
    """

    def __init__(self, message, iteration, parameters, costs, optimizer_state=None):
        super().__init__(message)
        self.iteration = iteration
        self.parameters = parameters
        self.costs = costs
        self.optimizer_state = optimizer_state or {}


def layer_dims_of_parameters(parameters, n_x=None, what="parameters"):
    """[n_0, ..., n_L] of a dict W1, b1, ..., WL, bL, validating keys and the shape chain."""
    if not isinstance(parameters, dict):
        raise TypeError(f"{what} must be a dict of W1, b1, ..., WL, bL, got "
                        f"{type(parameters).__name__}")
    L = len(parameters) // 2
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    if L < 1 or set(parameters) != expected:
        raise ValueError(f"{what} must hold exactly W1, b1, ..., WL, bL; got keys "
                         f"{sorted(map(str, parameters))}")
    dims = None
    for l in range(1, L + 1):
        W = as_array(parameters[f"W{l}"], f"{what}['W{l}']")
        b = as_array(parameters[f"b{l}"], f"{what}['b{l}']")
        if dims is None:
            dims = [W.shape[1] if n_x is None else n_x]
        if W.shape[1] != dims[-1]:
            raise ValueError(f"{what}['W{l}'] has shape {W.shape} but layer {l - 1} has "
                             f"{dims[-1]} units" + (" (X's rows)" if l == 1 else ""))
        if b.shape != (W.shape[0], 1):
            raise ValueError(f"{what}['b{l}'] has shape {b.shape}, expected "
                             f"{(W.shape[0], 1)} to match W{l} {W.shape}")
        dims.append(W.shape[0])
    return dims


def _prepare_X(X, dt):
    X = as_array(X, "X")
    if X.dtype != dt or not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.asarray(X, dtype=dt, order="F" if X.flags.f_contiguous else "C")
    return X


def _prepare_Y(Y, n_L, m, output, dt):
    """Targets as a C-ordered (n_L, m) array of dt; softmax labels one-hot encoded."""
    y = as_numeric(Y, "Y")
    if output == "softmax" and (y.shape in ((m,), (1, m))) and n_L > 1:
        labels = y.reshape(m)
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)) \
                or labels.min(initial=0) < 0 or labels.max(initial=0) >= n_L:
            raise ValueError(f"Y holds class labels for a softmax output of {n_L} units: they "
                             f"must be integers in 0..{n_L - 1}, got values "
                             f"{np.unique(labels)[:10]}")
        out = np.zeros((n_L, m), dtype=dt)
        out[labels.astype(np.intp), np.arange(m)] = 1
        return out
    if y.size != n_L * m or (y.ndim == 2 and y.shape != (n_L, m)) or y.ndim > 2:
        raise ValueError(f"Y must have shape ({n_L}, {m}) to match the output layer and X's "
                         f"{m} examples" + (" (or integer class labels (1, m))"
                                            if output == "softmax" else "")
                         + f", got {y.shape}")
    out = np.array(y.reshape(n_L, m), dtype=dt, order="C", copy=True)
    if not np.all(np.isfinite(out)):
        raise ValueError("Y holds NaN or infinite values")
    if output in ("sigmoid", "softmax") and (out.min() < 0 or out.max() > 1):
        raise ValueError(f"Y must hold probabilities/labels in [0, 1] for a {output} output, "
                         f"got values in [{out.min()}, {out.max()}]")
    if output == "exp" and out.min() < 0:
        raise ValueError(f"Y must be non-negative for the Poisson (exp) output, got {out.min()}")
    return out


def _check_config(config):
    if config is None:
        return TrainingConfig()
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a fastdnn.training.TrainingConfig, got "
                        f"{type(config).__name__}")
    return config


#: ``Trainer(engine=...)``: "auto" runs the seed's configuration on the fused engine (its
#: numbers bit for bit) and everything else on the general loop; "loop" runs everything on
#: the general loop (course 2's models: the course's formulas to rounding, and for thin
#: nets the loop's one-pass step is the faster)
ENGINES = ("auto", "loop")


class Trainer:
    """Trains ``parameters`` on (X, Y) with ``config``; see the module docstring."""

    def __init__(self, X, Y, parameters, config=None, *, sample_weight=None,
                 dropout_masks=None, iteration=0, engine="auto", _state=None):
        cfg = self.config = _check_config(config)
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        dt = self.dtype = cfg.numpy_dtype
        self.iteration = _nonneg_int("iteration", iteration)
        self.threads = _threads.resolve_threads(cfg.threads)
        X = _prepare_X(X, dt)
        n_x, m = X.shape
        if m < 1 or n_x < 1:
            raise ValueError(f"X must hold at least one example and one feature, got {X.shape}")
        gram_state = isinstance(parameters, dict) and "C" in parameters and "W1_0" in parameters
        fused = (engine == "auto" and cfg.is_seed_default and sample_weight is None
                 and dropout_masks is None)
        if gram_state and not fused:
            raise ValueError("a gram-solver state (W1_0, C) resumes only the seed's "
                             "full-batch gradient descent")
        self.dims = dims = (None if gram_state else
                            layer_dims_of_parameters(parameters, what="parameters"))
        if dims is not None and dims[0] != n_x:
            raise ValueError(f"parameters['W1'] has {dims[0]} columns but X has {n_x} rows "
                             f"(X is (n_x, m): one row per input feature)")
        if dims is not None:
            check_output_units(cfg.output, dims[-1])
        self.fused = fused
        self.record_every_default = 100
        if fused:
            self._init_fused(X, Y, parameters, _state)
            return
        self._init_loop(X, Y, parameters, dims, sample_weight, dropout_masks, _state)

    # ------------------------------------------------------------------ set-up
    def _init_fused(self, X, Y, parameters, state):
        from fastdnn.engine import Trainer as Fused

        cfg = self.config
        self._impl = Fused(X, Y, parameters, cfg.learning_rate, dtype=self.dtype,
                           solver=cfg.solver, threads=cfg.threads, iteration=self.iteration)
        self.solver = self._impl.solver
        self.dims = self._impl.dims
        self.m = X.shape[1]
        self._lr = cfg.learning_rate

    def _init_loop(self, X, Y, parameters, dims, sample_weight, masks, state, no_update=False):
        from fastdnn._core.loop import Engine

        cfg, dt = self.config, self.dtype
        m = X.shape[1]
        L = len(dims) - 1
        self.m = m
        Yc = _prepare_Y(Y, dims[-1], m, cfg.output, dt)
        w = None
        if sample_weight is not None:
            w = as_numeric(sample_weight, "sample_weight").reshape(-1)
            if w.shape != (m,):
                raise ValueError(f"sample_weight must have one weight per example ({m}), got "
                                 f"shape {np.shape(sample_weight)}")
            w = np.array(w, dtype=dt, copy=True)
            bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
            if bad.size:
                raise ValueError(f"sample_weight must hold finite non-negative weights, got "
                                 f"{w[bad[0]]} at index {bad[0]}")
        if masks is not None:
            if cfg.mini_batch_size is not None:
                raise ValueError("dropout_masks (fixed masks) need the full batch "
                                 "(mini_batch_size=None)")
            if not isinstance(masks, (list, tuple)) or len(masks) != L - 1:
                raise ValueError(f"dropout_masks must be a list of {L - 1} masks (one per "
                                 f"hidden layer), got {type(masks).__name__}")
            fixed = []
            for l, D in enumerate(masks, start=1):
                D = as_numeric(D, f"dropout_masks[{l - 1}]")
                if D.shape != (dims[l], m):
                    raise ValueError(f"dropout_masks[{l - 1}] must have shape {(dims[l], m)}, "
                                     f"got {D.shape}")
                D = np.array(D, dtype=dt, order="C")
                if not np.all((D == 0) | (D == 1)):
                    raise ValueError(f"dropout_masks[{l - 1}] must hold only 0 and 1")
                fixed.append(D)
            masks = fixed
        mb = m if cfg.mini_batch_size is None else min(cfg.mini_batch_size, m)
        shuffle = "none" if cfg.mini_batch_size is None else cfg.shuffle
        gram = self._gram_wanted(dims[0], m, no_update)
        self.solver = "gram" if gram else "primal"
        # every buffer below, before any is allocated: parameters, their copies, gradients
        # and optimiser state (up to 5 per parameter), 5 per-layer activations of the batch;
        # the gram solver's G (m, m), rows of G (mb, m), six (n1, m) and two (n1, n0)
        n_par = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, L + 1))
        n_act = sum(dims[1:]) * mb * 5 + (dims[0] + dims[-1]) * mb + m * (dims[-1] + 2)
        if gram:
            n_act += m * m + mb * m + 6 * dims[1] * m + 2 * dims[1] * dims[0]
        check_fits(dt.itemsize * (5 * n_par + n_act), f"training layers {dims} on {m} "
                   f"examples (batches of {mb}, {dt.name}, solver {self.solver!r})")
        self._shuffle = shuffle
        self._X, self._Y, self._w, self._masks = X, Yc, w, masks

        def copy(key):
            return np.array(as_array(parameters[key], key), dtype=dt, order="C", copy=True)

        self._Ws = [copy(f"W{l}") for l in range(1, L + 1)]
        self._bs = [copy(f"b{l}") for l in range(1, L + 1)]
        opt = cfg.optimizer
        has_v = opt != "gd"
        has_s = opt in ("adam", "adam_sklearn")
        z = lambda a: np.zeros_like(a)        # noqa: E731
        self._VW = [z(a) for a in self._Ws] if has_v else [None] * L
        self._Vb = [z(a) for a in self._bs] if has_v else [None] * L
        self._SW = [z(a) for a in self._Ws] if has_s else [None] * L
        self._Sb = [z(a) for a in self._bs] if has_s else [None] * L
        dropout = cfg.keep_prob < 1 and masks is None and L > 1
        self._bitgen = np.random.PCG64(cfg.seed) if dropout else None
        t = 0
        self._lr = cfg.learning_rate
        gram_parts = None
        if state is not None:
            t = self._load_state(state)
            gram_parts = self._gram_parts_of(state) if gram else None
        eps = float(np.finfo(dt).eps)
        spec = dict(m=m, mb=mb, hidden=registry.code("hidden_activation", cfg.hidden_activation),
                    output=registry.code("output", cfg.output),
                    loss_conv=registry.code("loss_convention", cfg.loss_convention),
                    optimizer=registry.code("optimizer", opt),
                    shuffle=registry.code("shuffle", shuffle), lambd=cfg.lambd,
                    keep_prob=cfg.keep_prob if (dropout or masks is not None) else 1.0,
                    clip_eps=eps, seed=cfg.seed, lr=self._lr, beta=cfg.beta, beta1=cfg.beta1,
                    beta2=cfg.beta2, epsilon=cfg.epsilon, momentum=cfg.momentum,
                    nesterov=cfg.nesterov, t=t, no_update=no_update, gram=gram)
        self._engine = Engine(spec, dims, X, Yc, w, self._Ws, self._bs, self._VW, self._Vb,
                              self._SW, self._Sb, masks if L > 1 else None, self._bitgen)
        if gram_parts is not None:
            self._engine.gram_rebase(**gram_parts)
        work = m * sum(dims[l] * dims[l - 1] for l in range(1, L + 1)) * 3 + 1
        self._chunk = int(max(1, min(_CHUNK, _CHUNK_WORK / work)))
        # the gram solver's step is small and partly serial: it runs alone
        self._team_work = 0 if gram else self._engine.step_work
        self._tail_work = self._engine.tail_work
        self._epoch_work = 0 if gram else work
        self._team_batch = mb
        self._dtype_name = dt.name          # numpy's dtype.name is slow: once, not an epoch
        self._weights = sum(dims[l] * dims[l - 1] for l in range(1, L + 1))

    #: tests and benchmarks: a team of this many threads splitting the batch, whatever the
    #: rules of fastdnn.threads (None: the rules)
    _forced_team = None
    #: tests and benchmarks: whether a lone loop's course-shuffle permutations are drawn by a
    #: second thread (fastdnn.threads.permutation_helper), whatever the rules (None: the rules)
    _forced_helper = None
    #: tests and benchmarks: whether a team of two splits the hidden units
    #: (Engine.unit_split, where the step allows it), whatever fastdnn.threads.unit_split
    #: says (None: its rule; False: the other rules alone)
    _forced_unit_split = None

    def _team(self):
        """Sets the engine's team for its next run; returns the BLAS limit to run it in."""
        if self._forced_unit_split is not None:
            self._engine.unit_split = self._forced_unit_split
        else:
            self._engine.unit_split = (self._forced_team is None
                                       and _threads.unit_split(self.threads, self._team_work,
                                                               self._tail_work))
        if self._engine.unit_split:
            # a team of two, each thread half of the first hidden layer's units
            self._engine.workers = 2
            self._engine.data_parallel = False
            self._engine.permutation_helper = False
            return _threads.team_limit(self.threads, 2)
        if self._forced_team is not None:
            team, split = self._forced_team, True
        elif self._engine.thin:
            team = _threads.thin_team_size(self.threads, self._team_batch, self._weights,
                                           self._engine.one_exchange)
            split = True
        else:
            team = _threads.team_size(self.threads, self._team_work, self._team_batch,
                                      self._dtype_name)
            split = _threads.team_splits_batch(self._team_batch)
        self._engine.workers = team
        self._engine.data_parallel = team > 1 and split
        self._engine.permutation_helper = team == 1 and (
            _threads.permutation_helper(self.threads, self._epoch_work)
            if self._forced_helper is None
            else self._forced_helper)
        return _threads.team_limit(self.threads, team)

    def _gram_wanted(self, n_x, m, no_update):
        """Whether the general loop runs its first layer through the gram representation:
        solver "gram", or "auto" where ``fastdnn.engine.choose_solver`` picks it (the same
        rule as the fused engine's), for the optimisers whose update is linear."""
        from fastdnn.engine import choose_solver

        cfg = self.config
        if no_update or cfg.optimizer not in registry.GRAM_OPTIMIZERS:
            return False
        if cfg.solver == "gram":
            return True
        return cfg.solver == "auto" and choose_solver(n_x, m, self.dtype.itemsize) == "gram"

    _GRAM_KEYS = {"W0": "gram_W1_0", "V0": "gram_V1_0", "KW": "gram_K_W1",
                  "KV": "gram_K_V1", "cW": "gram_coef_W1", "cV": "gram_coef_V1"}
    _GRAM_DATA_KEY = "gram_X_sha256"

    def _data_digest(self):
        """SHA-256 of X as the engine reads it (dtype, shape, memory order, bytes), once:
        the gram representation (K X^T) means something only with the same X."""
        d = self.__dict__.get("_x_digest")
        if d is None:
            X = self._X
            order = "F" if (X.flags.f_contiguous and not X.flags.c_contiguous) else "C"
            h = hashlib.sha256(f"{X.dtype.str} {X.shape} {order} ".encode())
            C = X.T if order == "F" else X
            h.update(memoryview(C if C.flags.c_contiguous else np.ascontiguousarray(C))
                     .cast("B"))
            d = self._x_digest = np.frombuffer(h.digest(), dtype=np.uint8).copy()
        return d

    def _gram_parts_of(self, state):
        """The gram representation stored by ``state()``, or None: then the engine bases
        it on the state's W1 and velocity (formed from it), which is exact for any data;
        the stored parts are used only for the same X (an exact, bit-for-bit resume), not
        for other data (scikit-learn's partial_fit on the next batch)."""
        if not all(k in state for k in self._GRAM_KEYS.values()):
            return None
        digest = np.asarray(state.get(self._GRAM_DATA_KEY, ()), dtype=np.uint8).ravel()
        if not np.array_equal(digest, self._data_digest()):
            return None
        parts = {}
        n1, n0 = self.dims[1], self.dims[0]
        shapes = {"W0": (n1, n0), "V0": (n1, n0), "KW": (n1, self.m), "KV": (n1, self.m),
                  "cW": (1, 2), "cV": (1, 2)}
        for part, key in self._GRAM_KEYS.items():
            a = as_array(state[key], key)
            if a.shape != shapes[part]:
                raise ValueError(f"state {key!r} has shape {a.shape}, expected "
                                 f"{shapes[part]} (the same data as the run it continues)")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"state {key!r} holds non-finite values")
            parts[part] = a.astype(self.dtype, copy=False)
        return parts

    def _sync(self):
        """Form W1 and its velocity from the gram representation before they are read."""
        if not self.fused and self.solver == "gram":
            self._engine.gram_sync()

    # ------------------------------------------------------------- properties
    @property
    def learning_rate(self):
        """The current learning rate (after any decay); may be assigned between epochs."""
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        from fastdnn.training.config import check_real

        v = check_real("learning_rate", value, low=0.0)
        if self.fused:
            if v != self._lr:
                raise ValueError("the learning rate of the seed's fused gradient descent is "
                                 "fixed for the run")
            return
        self._lr = v
        self._engine.learning_rate = v

    @property
    def t(self):
        """Optimiser steps done so far (counted over the whole training)."""
        if self.fused:
            return self._impl.iteration
        return self._engine.t

    def steps_per_epoch(self):
        mb = self.config.mini_batch_size
        return 1 if mb is None else -(-self.m // min(mb, self.m))

    # ---------------------------------------------------------------- training
    def _lr_for(self, epoch):
        """The rate epoch ``epoch`` trains at: lr0, then decay(lr0, epoch - 1, decay_rate)."""
        cfg = self.config
        if cfg.decay is None:
            return self._lr
        if epoch == 0:
            return cfg.learning_rate
        v = cfg.decay(cfg.learning_rate, epoch - 1, cfg.decay_rate)
        if isinstance(v, float):
            v = float(v)              # Python's and numpy's float64 (called every epoch:
        else:                         # the checks below cost 10 times the course's decay)
            try:
                if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
                    v = v[()]             # a 0-d array of a number: the number
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                    raise TypeError       # a string, None, an array, a complex: not a rate
                v = float(v)
            except (TypeError, ValueError):
                raise TypeError(f"decay({cfg.learning_rate}, {epoch - 1}, {cfg.decay_rate}) "
                                f"must return a real number, got {v!r}") from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"decay({cfg.learning_rate}, {epoch - 1}, {cfg.decay_rate}) "
                             f"returned {v}: a learning rate must be finite and >= 0")
        return v

    def run(self, num_epochs, record_every=100, callback=None):
        """Train ``num_epochs`` more epochs; returns the costs recorded at epochs e with
        e % record_every == 0 (e counted from the start of the training; 0/None: none);
        ``callback(e, cost)`` at each, which may raise to stop (the trainer is then after
        epoch e)."""
        n = _nonneg_int("num_epochs", num_epochs)
        if record_every is None:
            record_every = 0
        record_every = _nonneg_int("record_every", record_every)
        if self.fused:
            costs = self._impl.run(n, record_every=record_every, callback=callback)
            self.iteration = self._impl.iteration
            return costs
        costs = []
        end = self.iteration + n
        with self._team():
            while self.iteration < end:
                i = self.iteration
                stop = min(end, i + self._chunk)
                if record_every:
                    r = -(-i // record_every) * record_every
                    if r < stop:
                        stop = r + 1
                self._run_chunk(i, stop, record_every, costs, callback)
        return costs

    def _run_chunk(self, start, stop, record_every, costs, callback):
        count = stop - start
        if self.config.decay is None:
            lrs = np.full(count, self._lr)         # _lr_for's value, without a call an epoch
        else:
            lrs = np.empty(count)
            for k in range(count):
                lrs[k] = self._lr_for(start + k)
        want = np.zeros(count, dtype=np.uint8)
        if record_every:
            want[(-start) % record_every::record_every] = 1
        got = np.full(count, np.nan)
        saved = self._snapshot()
        self._engine.run(start, lrs, want, got)
        self.iteration = stop
        if self.config.decay is not None:
            self._lr = self._lr_for(stop)
            self._engine.learning_rate = self._lr
        recorded = [(start + k, float(got[k])) for k in range(count) if want[k]]
        if not (self._finite() and all(np.isfinite(c) for _, c in recorded)):
            self._diverged(start, stop, saved, costs)
        for e, c in recorded:
            costs.append(c)
            if callback is not None:
                callback(e, c)

    def run_epoch(self, perm=None, compute_cost=True, *, keep_last_finite=True,
                  check_finite=True):
        """One epoch at the current learning rate; ``perm`` (m,) for shuffle="external".
        Returns the epoch's cost (float) or None.  Raises TrainingDiverged when the epoch
        leaves the parameters non-finite: with ``keep_last_finite`` the trainer is then
        put back before the epoch (a copy of the state is kept at every call); without
        it, the non-finite state stays (and no copy per epoch).  ``check_finite=False``
        skips the test altogether (no TrainingDiverged; the cost may be NaN or infinite
        and the parameters non-finite, and later epochs compute on them as scikit-learn
        does: the caller decides).  The fused seed engine always tests."""
        if self.fused:
            costs = self._impl.run(1, record_every=1 if compute_cost else 0)
            self.iteration = self._impl.iteration
            return costs[0] if compute_cost else None
        if self._shuffle == "external":
            perm = self._external_perm(perm)
        elif perm is not None:
            raise ValueError(f"perm is only for shuffle='external' (this run shuffles "
                             f"{self._shuffle!r})")
        saved = self._snapshot() if (keep_last_finite and check_finite) else None
        c = self._call_engine(self._engine.run_epoch, self.iteration, perm,
                              bool(compute_cost))
        if check_finite and ((c is not None and not math.isfinite(c))
                             or not self._finite()):
            if saved is not None:
                self._restore(saved)
            raise TrainingDiverged(
                f"training diverged in epoch {self.iteration}: the cost is {c} or the "
                f"parameters became non-finite (learning rate {self._lr})", self.iteration,
                self.parameters(), [], self.optimizer_state())
        self.iteration += 1
        return c

    def _call_engine(self, method, *args):
        """method(*args) on the team the step's work calls for, or alone under the thread
        limit (entered only when a count is set: entering threadpoolctl's limit costs
        ~10 us, as much as a small set's whole epoch of Python)."""
        threads = self.threads if self.threads is not None else _threads.resolve_threads()
        split = (self._forced_unit_split if self._forced_unit_split is not None
                 else _threads.unit_split(self.threads, self._team_work, self._tail_work))
        if split or self._team_work >= _threads.team_min_work(self._team_batch,
                                                              self._dtype_name):
            with self._team():
                return method(*args)
        if threads is None:
            return method(*args)
        with _threads.limit(threads):
            return method(*args)

    def run_plateau(self, lrs, *, tol, patience, best=math.inf, bad=0, order=None,
                    random_state=None):
        """scikit-learn's stochastic epochs in one call: epoch i at rate ``lrs[i]``, each
        followed by its plateau count (``bad`` += 1 when the epoch's cost is above
        ``best - tol``, else 0; ``best`` = the lowest cost), stopping after the first
        epoch with ``bad > patience`` (``MLPClassifier``'s ``n_iter_no_change`` test,
        without a validation set).

        With the external shuffle, ``order`` (a permutation of the m examples) is the order
        before the run (None: the last epoch's, which the engine keeps) and
        ``random_state`` the ``numpy.random.RandomState`` each epoch's order is drawn from
        as ``sklearn.utils.shuffle(order, random_state=random_state)`` draws it; the last
        order is then ``self.order``.  Without it both are None.

        Returns (costs of the epochs run, best, bad).  Like ``run_epoch(...,
        check_finite=False)``, non-finite costs or parameters do not stop the run.
        """
        if self.fused:
            raise ValueError("run_plateau runs on the general loop (Trainer(engine='loop') "
                             "or a configuration the fused engine does not take)")
        lrs = np.ascontiguousarray(lrs, dtype=np.float64)
        if lrs.ndim != 1:
            raise ValueError(f"lrs must be 1-D, got shape {lrs.shape}")
        if not (np.isfinite(lrs).all() and (lrs >= 0).all()):
            raise ValueError("lrs must be finite and >= 0")
        bit_generator = None
        if self._shuffle == "external":
            if not isinstance(random_state, np.random.RandomState):
                raise TypeError(f"random_state must be a numpy.random.RandomState with the "
                                f"external shuffle, got {type(random_state).__name__}")
            if order is not None:
                order = self._external_perm(order)
            bit_generator = random_state._bit_generator
        elif order is not None or random_state is not None:
            raise ValueError(f"order and random_state are for shuffle='external' (this run "
                             f"shuffles {self._shuffle!r})")
        costs = np.empty(lrs.shape[0])
        done, best, bad = self._call_engine(self._engine.run_plateau, self.iteration, lrs,
                                            costs, order, bit_generator, float(tol),
                                            float(patience), float(best), float(bad))
        self.iteration += done
        self._engine.learning_rate = self._lr        # the rate between runs: the trainer's
        return costs[:done], best, bad

    @property
    def order(self):
        """The external shuffle's current order (a copy; the last epoch's)."""
        return self._engine.order

    def _external_perm(self, perm):
        """``perm`` as a contiguous int64 array of shape (m,) (what the compiled loop takes
        without another copy); the engine checks that it is a permutation of 0..m-1."""
        m = self.m
        if perm is None:
            raise ValueError(f"shuffle='external' needs perm=, a permutation of the {m} "
                             f"examples")
        p = np.asarray(perm)
        if p.shape != (m,) or p.dtype.kind not in "iu":
            raise ValueError(f"perm must be an integer array of shape ({m},), got "
                             f"{p.dtype} {p.shape}")
        if p.dtype != np.int64 or not p.flags.c_contiguous:
            # unsigned values beyond int64 wrap to negative ones, refused by the engine
            p = np.ascontiguousarray(p.astype(np.int64, casting="unsafe", copy=False))
        # each index in range and once: the engine's run_epoch checks that (in C, before
        # the epoch)
        return p

    # -------------------------------------------------------------- divergence
    def _arrays(self):
        """The arrays the engine updates in place (for the gram solver, W1 and its
        velocity are formed from the representation only when read: not these)."""
        stale = (self._Ws[0], self._VW[0]) if self.solver == "gram" else ()
        return [a for a in self._Ws + self._bs + self._VW + self._Vb + self._SW + self._Sb
                if a is not None and not any(a is s for s in stale)]

    def _snapshot(self, fresh=False):
        """Everything an epoch changes, to put back with :meth:`_restore`: into buffers
        kept for the purpose, or new copies (``fresh``)."""
        arrays = self._arrays()
        if fresh:
            backup = [a.copy() for a in arrays]
        else:
            if getattr(self, "_backup", None) is None:
                self._backup = [np.empty_like(a) for a in arrays]
            backup = self._backup
            for a, b in zip(arrays, backup):
                np.copyto(b, a)
        rng = None if self._bitgen is None else self._bitgen.state
        gram = self._engine.gram_get() if self.solver == "gram" else None
        return backup, self._engine.t, rng, self._lr, gram

    def _restore(self, saved):
        arrays, t, rng, lr, gram = saved
        for a, s in zip(self._arrays(), arrays):
            np.copyto(a, s)
        if gram is not None:
            self._engine.gram_set(gram)
        self._engine.t = t
        if rng is not None:
            self._bitgen.state = rng
        self._lr = lr
        self._engine.learning_rate = lr

    def _finite(self):
        """True when every parameter and optimiser array (and the gram representation) is
        finite.  One reduction per array (views made once: the engine holds these buffers,
        so they are never replaced), their sums added: any NaN or infinity makes the total
        non-finite; a non-finite total from finite values (overflow of the sum) falls back
        to the element-wise test."""
        if self.solver == "gram" and not self._engine.gram_finite():
            return False
        views = self.__dict__.get("_finite_views")
        if views is None:
            views = self._finite_views = [a.reshape(-1) for a in self._arrays()]
        with np.errstate(all="ignore"):
            return math.isfinite(sum(map(np.add.reduce, views))) or \
                all(np.isfinite(v).all() for v in views)

    def _diverged(self, start, stop, saved, costs):
        """Epochs start..stop-1 ended non-finite: replay them one at a time (deterministic)
        to find the first bad one, leave the trainer before it, raise TrainingDiverged."""
        self._restore(saved)
        for e in range(start, stop):
            before = self._snapshot(fresh=True)
            got = np.full(1, np.nan)
            self._engine.run(e, np.array([self._lr_for(e)]), np.ones(1, np.uint8), got)
            bad = [] if np.isfinite(got[0]) else [f"the cost is {got[0]}"]
            if not self._finite():
                bad.append("its updates made the parameters non-finite")
            if bad:
                self._restore(before)
                self.iteration = e
                raise TrainingDiverged(
                    f"training diverged at epoch {e}: {' and '.join(bad)} (learning rate "
                    f"{self._lr_for(e)}, optimizer {self.config.optimizer}).  The parameters "
                    f"after epoch {e - 1}, the last finite one, are in this exception's "
                    f".parameters", e, self.parameters(), costs, self.optimizer_state())
            if self.config.decay is not None:
                self._lr = self._lr_for(e + 1)
        raise AssertionError("non-finite training state not reproduced")  # pragma: no cover

    # ------------------------------------------------------------------ results
    def parameters(self):
        """dict W1, b1, ..., WL, bL of new arrays."""
        if self.fused:
            return self._impl.parameters()
        self._sync()
        out = {}
        for l, (W, b) in enumerate(zip(self._Ws, self._bs), start=1):
            out[f"W{l}"] = W.copy()
            out[f"b{l}"] = b.copy()
        return out

    def optimizer_state(self):
        """dict of new arrays: v_W1, v_b1, ... (momentum, Adam) and s_W1, ... (Adam)."""
        if self.fused:
            return {}
        self._sync()
        out = {}
        for prefix, Ws, bs in (("v", self._VW, self._Vb), ("s", self._SW, self._Sb)):
            for l, (W, b) in enumerate(zip(Ws, bs), start=1):
                if W is not None:
                    out[f"{prefix}_W{l}"] = W.copy()
                    out[f"{prefix}_b{l}"] = b.copy()
        return out

    def state(self):
        """Everything the next step depends on, as a dict of arrays (for model files):
        parameters, optimiser state, and ``scalars``, a JSON text of t, the epoch, the
        learning rate and the dropout generator's state.  Resume with :meth:`from_state`."""
        if self.fused:
            return self._impl.state()
        out = self.parameters()
        out.update(self.optimizer_state())
        scalars = {"t": int(self._engine.t), "epoch": int(self.iteration),
                   "learning_rate": self._lr,
                   "rng": None if self._bitgen is None else _jsonable(self._bitgen.state)}
        out["scalars"] = np.frombuffer(json.dumps(scalars).encode(), dtype=np.uint8).copy()
        if self.solver == "gram":
            for part, a in self._engine.gram_parts().items():
                out[self._GRAM_KEYS[part]] = a
            out[self._GRAM_DATA_KEY] = self._data_digest().copy()
        return out

    def _load_state(self, state):
        """Optimiser arrays, t, learning rate and generator state from ``state()``."""
        for prefix, Ws, bs in (("v", self._VW, self._Vb), ("s", self._SW, self._Sb)):
            for l, (W, b) in enumerate(zip(Ws, bs), start=1):
                if W is None:
                    continue
                for key, arr in ((f"{prefix}_W{l}", W), (f"{prefix}_b{l}", b)):
                    if key not in state:
                        raise ValueError(f"the state lacks {key!r} (optimizer "
                                         f"{self.config.optimizer!r})")
                    a = as_array(state[key], key)
                    if a.shape != arr.shape:
                        raise ValueError(f"state {key!r} has shape {a.shape}, expected "
                                         f"{arr.shape}")
                    np.copyto(arr, a.astype(arr.dtype, copy=False))
        try:
            scalars = json.loads(bytes(np.asarray(state["scalars"], dtype=np.uint8)).decode())
            t = int(scalars["t"])
            lr = float(scalars["learning_rate"])
            rng = scalars["rng"]
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"the state's scalars are missing or unreadable ({exc})") from None
        if t < 0 or not np.isfinite(lr) or lr < 0:
            raise ValueError(f"the state's scalars are out of range: t={t}, learning_rate={lr}")
        self._lr = lr
        if self._bitgen is not None:
            if not isinstance(rng, dict):
                raise ValueError("the state lacks the dropout generator's state")
            try:
                self._bitgen.state = rng
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"the state's generator state is invalid ({exc})") from None
        return t

    @classmethod
    def from_state(cls, X, Y, state, config=None, *, iteration, **kwargs):
        """A trainer continuing from ``state()`` after ``iteration`` epochs."""
        config = _check_config(config)
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from Trainer.state(), got "
                            f"{type(state).__name__}")
        if config.is_seed_default and kwargs.get("sample_weight") is None \
                and kwargs.get("dropout_masks") is None and kwargs.get("engine") != "loop":
            from fastdnn.engine import Trainer as Fused
            params = dict(state)
            self = cls.__new__(cls)
            self.config = config
            self.dtype = config.numpy_dtype
            self.iteration = _nonneg_int("iteration", iteration)
            self.threads = _threads.resolve_threads(config.threads)
            self.fused = True
            self._impl = Fused.from_state(X, Y, params, config.learning_rate,
                                          iteration=self.iteration, dtype=config.numpy_dtype,
                                          solver=config.solver, threads=config.threads)
            self.solver = self._impl.solver
            self.dims = self._impl.dims
            self.m = self._impl._X.shape[1]
            self._lr = config.learning_rate
            return self
        params = {k: v for k, v in state.items() if k[:1] in "Wb" and k[1:].isdigit()}
        return cls(X, Y, params, config, iteration=iteration, _state=state, **kwargs)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    return obj


def _nonneg_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be a non-negative int, got {value!r}")
    v = int(value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def loss_and_gradients(X, Y, parameters, config=None, sample_weight=None):
    """One full-batch forward and backward pass through the compiled loop, no update.

    Returns ``(cost, grads)``: cost = (sum_j w_j loss_j + lambd/2 sum ||W||^2) / N (N = m or
    the sum of the weights; no dropout), grads ``dW1, db1, ..., dWL, dbL`` of that cost
    (dW includes (lambd/N) W).  For gradient checks and L-BFGS.
    """
    cfg = _check_config(config)
    cfg = cfg.replace(mini_batch_size=None, keep_prob=1.0, optimizer="gd", decay=None,
                      solver="primal")
    tr = Trainer.__new__(Trainer)
    tr.config = cfg
    tr.dtype = cfg.numpy_dtype
    tr.iteration = 0
    tr.threads = _threads.resolve_threads(cfg.threads)
    tr.fused = False
    X = _prepare_X(X, tr.dtype)
    dims = layer_dims_of_parameters(parameters)
    if dims[0] != X.shape[0]:
        raise ValueError(f"parameters['W1'] has {dims[0]} columns but X has {X.shape[0]} rows")
    check_output_units(cfg.output, dims[-1])
    tr.dims = dims
    tr._init_loop(X, Y, parameters, dims, sample_weight, None, None, no_update=True)
    with _threads.limit(tr.threads):
        cost = tr._engine.run_epoch(0, None, True)
    grads = {}
    N = float(tr.m if tr._w is None else tr._w.astype(np.float64).sum())
    for l in range(1, len(dims)):
        gW = tr._engine.grads[2 * (l - 1)].copy()
        if cfg.lambd:
            gW += (cfg.lambd / N) * tr._Ws[l - 1]
        grads[f"dW{l}"] = gW
        grads[f"db{l}"] = tr._engine.grads[2 * (l - 1) + 1].copy()
    return float(cost), grads
