"""The training engine behind two_layer_model, L_layer_model and the CLI.

Contract (used by ``fastdnn.models`` and ``fastdnn.cli``):

    trainer = Trainer(X, Y, parameters, learning_rate, dtype=None, solver="auto",
                      threads=None, iteration=0)
    costs = trainer.run(num_iterations, record_every=100, callback=None)
    trainer.parameters()   # dict W1, b1, ... (new arrays, materialised)
    trainer.state()        # dict of arrays: enough to resume *exactly*
    Trainer.from_state(X, Y, state, learning_rate, iteration=..., dtype=..., solver=...,
                       threads=...)   # resume
    trainer.iteration      # iterations done so far (across resumes)
    trainer.solver         # "primal" or "gram" (what "auto" resolved to)
    trainer.dtype          # numpy dtype of the computation

``run`` performs full-batch gradient descent with the seed's algorithm
(forward, cost, backward, update) and returns the costs recorded at the
iterations i with i % record_every == 0 (i counted from the start of the whole
training, so a resumed run records the same iterations; ``record_every`` 0 or
None records nothing).  ``callback(i, cost)`` is called at each recorded
iteration; it may raise to stop training (the trainer's state is then that
after iteration i).  The cost is the seed's cross-entropy of the forward pass
of iteration i (before its update), computed only at recorded iterations.

Resuming: ``state()`` returns copies of the arrays the loop iterates on; a
trainer rebuilt by ``from_state`` with the same X, Y, learning rate, dtype,
solver and threads continues bit for bit where the first one stopped
(``run(n)`` equals ``run(k)``, ``state()``, ``from_state(...).run(n - k)``
exactly).  For the primal solver the state is W1, b1, ..., WL, bL; for the
gram solver W1 is replaced by ``W1_0`` and ``C`` (below), because forming
W1 and starting over from it would round differently.  ``from_state`` with
``dtype=None`` keeps the state's dtype; ``solver="auto"`` keeps the state's
solver (a state holding W1_0 and C resumes with "gram").  A state of one
form given with the other solver is converted (W1 = W1_0 - C X^T, or
W1_0 = W1, C = 0), which is exact in arithmetic but not bit for bit.

Results: both solvers compute the seed's iteration; they differ from the
seed's numpy code by rounding only (the fused update W + (-lr/m) dZ A^T
against W - lr (dZ A^T / m), dZ_L = A_L - Y against the seed's
dA_L * s (1 - s), and for "gram" the re-association through G).  Drift after
the seed's 2500 iterations on the cat data, from ``bench/bench_training.py``:
about 5e-14 relative (primal) and 6e-12 (gram) on the five-layer model;
tests/test_engine.py holds every solver and shape to 1e-9.

dtype: None means float64 (the seed's), "float32" trains in single
precision (the cost and the bias-gradient row sums accumulate in float64).
threads: BLAS threads during the training calls (see ``fastdnn.threads``;
default ``$FASTDNN_NUM_THREADS``, else BLAS's own default).

Solvers
-------
Both run the compiled loop of ``fastdnn._engine`` (buffers allocated once
per trainer, no gradient with respect to X, dZ_L = A_L - Y, the weight update
fused into the gradient GEMM as W += (-lr/m) dZ A^T).

* ``"primal"``: the first layer as written, Z1 = W1 X, W1 += (-lr/m) dZ1 X^T:
  2 n1 m n_x multiply-adds per iteration, X read twice per iteration.
* ``"gram"``: plain gradient descent keeps W1 in the span of X's columns:
  W1_t = W1_0 - C_t X^T with C_t the running sum of (lr/m) dZ1 (n1 x m).  So
  Z1 = P0 - C G + b1 with P0 = W1_0 X and G = X^T X (m x m) computed once:
  n1 m^2 multiply-adds per iteration and X never read again; W1 is formed
  (n1 n_x m) only by ``parameters()``.  Setup costs m^2 n_x (G) + n1 m n_x
  (P0), and G takes m^2 * itemsize bytes.  Setup and W1 go through the same
  BLAS as the loop (scipy's), so one thread pool serves the whole training.
* ``"auto"``: "gram" when its first layer is at least GRAM_MARGIN times
  cheaper per iteration, i.e. 2 n1 m n_x >= GRAM_MARGIN * n1 m^2, i.e.
  m <= (2 / GRAM_MARGIN) n_x = n_x, and G fits in GRAM_MAX_BYTES (256 MiB:
  m up to 5792 in float64, 8192 in float32); otherwise "primal".  The margin
  covers the per-iteration work that does not shrink (the P0 copy, the C
  update, the deeper layers) and the setup; ``bench/bench_training.py``
  measures both solvers across n_x and marks where auto switches.  An
  explicit ``solver="gram"`` is honoured whatever the size (allocating G
  raises MemoryError if it cannot be had).
"""
from __future__ import annotations

import numpy as np

from fastdnn import threads as _threads
from fastdnn._engine import Loop, gemm_into
from fastdnn._validation import as_array, as_numeric
from fastdnn.layers import compute_cost
from fastdnn.training.trainer import TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "choose_solver", "GRAM_MARGIN", "GRAM_MAX_BYTES",
           "SOLVERS"]

SOLVERS = ("auto", "primal", "gram")
GRAM_MARGIN = 2.0
GRAM_MAX_BYTES = 256 * 2**20
# iterations per call into the compiled loop at most: Ctrl-C is seen between
# calls, so a call is kept to about _CHUNK_WORK multiply-adds (~0.1 s)
_CHUNK = 1000
_CHUNK_WORK = 1e9


def choose_solver(n_x, m, itemsize=8):
    """The solver "auto" picks for an input of n_x features and m examples (see module doc)."""
    if 2.0 * n_x >= GRAM_MARGIN * m and m * m * itemsize <= GRAM_MAX_BYTES:
        return "gram"
    return "primal"


def _resolve_dtype(dtype):
    if dtype is None:
        return np.dtype(np.float64)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32', 'float64' or None, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dt}")
    return dt


def _layer_count(parameters, gram_state):
    """L for a dict of W1 (or W1_0 and C), b1, W2, b2, ..., WL, bL."""
    if not isinstance(parameters, dict):
        raise TypeError(f"parameters must be a dict of W1, b1, ..., WL, bL, "
                        f"got {type(parameters).__name__}")
    extra = 1 if gram_state else 0          # W1_0 and C stand for W1
    L = (len(parameters) - extra) // 2
    expected = {f"W{l}" for l in range(1, L + 1)} | {f"b{l}" for l in range(1, L + 1)}
    if gram_state:
        expected = (expected - {"W1"}) | {"W1_0", "C"}
    if L < 1 or set(parameters) != expected:
        want = "W1_0, C, b1, W2, ..., WL, bL" if gram_state else "W1, b1, ..., WL, bL"
        raise ValueError(f"parameters must hold exactly {want}; got keys {sorted(map(str, parameters))}")
    return L


class Trainer:
    """Full-batch gradient descent on [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID."""

    def __init__(self, X, Y, parameters, learning_rate, *, dtype=None, solver="auto",
                 threads=None, iteration=0):
        self.dtype = dt = _resolve_dtype(dtype)
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        self.threads = _threads.resolve_threads(threads)
        if isinstance(iteration, bool) or not hasattr(iteration, "__index__") or iteration < 0:
            raise ValueError(f"iteration must be a non-negative int, got {iteration!r}")
        self.iteration = int(iteration)
        try:
            self.learning_rate = float(learning_rate)
        except (TypeError, ValueError):
            raise TypeError(f"learning_rate must be a real number, got {learning_rate!r}") from None
        if not np.isfinite(self.learning_rate):
            raise ValueError(f"learning_rate must be finite, got {self.learning_rate}")

        # ---- data: X kept as given when it already is a contiguous array of dt
        X = as_array(X, "X")
        if X.dtype != dt or not (X.flags.c_contiguous or X.flags.f_contiguous):
            X = np.asarray(X, dtype=dt, order="F" if X.flags.f_contiguous else "C")
        n_x, m = X.shape
        gram_state = isinstance(parameters, dict) and "C" in parameters and "W1_0" in parameters
        L = _layer_count(parameters, gram_state)

        def param(key, shape):
            a = as_array(parameters[key], key)
            if a.shape != shape:
                raise ValueError(f"{key} must have shape {shape} for X of shape {X.shape} and "
                                 f"the layer sizes of the other parameters, got {a.shape}")
            return np.array(a, dtype=dt, order="C", copy=True)

        W1 = parameters["W1_0"] if gram_state else parameters["W1"]
        W1 = as_array(W1, "W1_0" if gram_state else "W1")
        dims = [n_x] + [as_array(parameters[f"W{l}"] if l > 1 else W1, f"W{l}").shape[0]
                        for l in range(1, L + 1)]
        Ws = [param("W1_0" if gram_state else "W1", (dims[1], n_x))]
        Ws += [param(f"W{l}", (dims[l], dims[l - 1])) for l in range(2, L + 1)]
        bs = [param(f"b{l}", (dims[l], 1)) for l in range(1, L + 1)]
        C = param("C", (dims[1], m)) if gram_state else None

        y = as_numeric(Y, "Y")
        if y.size != dims[L] * m:
            raise ValueError(f"Y must have shape ({dims[L]}, {m}) to match the output layer "
                             f"and X of shape {X.shape}, got {y.shape}")
        Y = np.array(y.reshape(dims[L], m), dtype=dt, order="C", copy=True)

        if solver == "auto":
            solver = "gram" if gram_state else choose_solver(n_x, m, dt.itemsize)
        self.solver = solver
        self.dims = dims
        self._X, self._Y, self._Ws, self._bs = X, Y, Ws, bs
        deep = sum(dims[l] * dims[l - 1] for l in range(2, L + 1))
        first = dims[1] * m if solver == "gram" else 2 * dims[1] * n_x
        self._chunk = int(max(1, min(_CHUNK, _CHUNK_WORK / (m * (first + 3 * deep) + 1))))
        self._A = [np.empty((n, m), dtype=dt) for n in dims[1:]]
        self._dZ = [np.empty((n, m), dtype=dt) for n in dims[1:]]
        with _threads.limit(self.threads):
            if solver == "gram":
                if C is None:                       # start the span form at W1_0 = W1
                    C = np.zeros((dims[1], m), dtype=dt)
                self._C = C
                self._G = np.empty((m, m), dtype=dt)
                gemm_into(X, True, X, False, self._G)              # G = X^T X
                self._P0 = np.empty((dims[1], m), dtype=dt)
                gemm_into(Ws[0], False, X, False, self._P0)       # P0 = W1_0 X
                self._loop = Loop(dims, m, [None] + Ws[1:], bs, self._A, self._dZ, X, Y,
                                  self.learning_rate, self._G, self._P0, C)
            else:
                if C is not None:                   # W1 = W1_0 - C X^T
                    gemm_into(C, False, X, True, Ws[0], -1.0, 1.0)
                self._loop = Loop(dims, m, Ws, bs, self._A, self._dZ, X, Y, self.learning_rate)

    # ------------------------------------------------------------------ training
    def run(self, num_iterations, record_every=100, callback=None):
        """Train ``num_iterations`` more iterations; returns the recorded costs."""
        if isinstance(num_iterations, bool) or not hasattr(num_iterations, "__index__"):
            raise TypeError(f"num_iterations must be an int, got {num_iterations!r}")
        n = int(num_iterations)
        if n < 0:
            raise ValueError(f"num_iterations must be >= 0, got {n}")
        if record_every is None:
            record_every = 0
        if isinstance(record_every, bool) or not hasattr(record_every, "__index__") or record_every < 0:
            raise ValueError(f"record_every must be a non-negative int or None, got {record_every!r}")
        record_every = int(record_every)
        costs = []
        end = self.iteration + n
        with _threads.limit(self.threads):
            while self.iteration < end:
                i = self.iteration
                stop = min(end, i + self._chunk)
                record_at = -1
                if record_every:
                    r = -(-i // record_every) * record_every      # first recorded >= i
                    if r < stop:
                        record_at, stop = r, r + 1
                saved = self._save()
                self._loop.run(stop - i)
                self.iteration = stop
                cost = None
                if record_at >= 0:
                    # A_L still holds the forward pass of iteration record_at
                    cost = float(compute_cost(self._A[-1], self._Y))
                if not (self._finite() and (cost is None or np.isfinite(cost))):
                    self._diverged(i, stop, saved, costs)
                if cost is not None:
                    costs.append(cost)
                    if callback is not None:
                        callback(record_at, cost)
        return costs

    # ------------------------------------------------------------ divergence
    def _state_arrays(self):
        """The arrays the loop updates in place (W1_0 and P0 are fixed for "gram")."""
        arrays = self._Ws[1:] + self._bs if self.solver == "gram" else self._Ws + self._bs
        return arrays + [self._C] if self.solver == "gram" else arrays

    def _saved(self):
        return [a.copy() for a in self._state_arrays()]

    def _save(self):
        """Copy the state into buffers allocated once per trainer (run() allocates nothing)."""
        arrays = self._state_arrays()
        if getattr(self, "_backup", None) is None:
            self._backup = [np.empty_like(a) for a in arrays]
        for a, s in zip(arrays, self._backup):
            np.copyto(s, a)
        return self._backup

    def _restore(self, saved):
        for a, s in zip(self._state_arrays(), saved):
            a[...] = s

    def _finite(self):
        # a finite sum proves every term finite (NaN and +-inf propagate); a
        # non-finite sum may be an overflow of finite terms: look closer then
        with np.errstate(all="ignore"):
            return all(np.isfinite(a.sum()) or np.isfinite(a).all() for a in self._state_arrays())

    def _diverged(self, start, stop, saved, costs):
        """Iterations start..stop-1 ended non-finite: replay them one at a time (the
        loop is deterministic) to find the first bad one, leave the trainer before
        it, and raise TrainingDiverged."""
        self._restore(saved)
        for i in range(start, stop):
            before = self._saved()
            self._loop.run(1)
            cost = float(compute_cost(self._A[-1], self._Y))
            bad = [] if np.isfinite(cost) else [f"the cost is {cost}"]
            if not self._finite():
                bad.append("its update made the parameters non-finite")
            if bad:
                self._restore(before)
                self.iteration = i
                raise TrainingDiverged(
                    f"training diverged at iteration {i}: {' and '.join(bad)} (learning rate "
                    f"{self.learning_rate}).  The parameters after iteration {i - 1}, the last "
                    f"finite one, are in this exception's .parameters", i, self.parameters(),
                    costs)
        raise AssertionError("non-finite training state not reproduced")  # pragma: no cover

    # ------------------------------------------------------------------ results
    def parameters(self):
        """dict W1, b1, ..., WL, bL as new arrays (W1 formed as W1_0 - C X^T for "gram")."""
        out = {}
        for l, (W, b) in enumerate(zip(self._Ws, self._bs), start=1):
            out[f"W{l}"] = W.copy()
            out[f"b{l}"] = b.copy()
        if self.solver == "gram":
            with _threads.limit(self.threads):
                gemm_into(self._C, False, self._X, True, out["W1"], -1.0, 1.0)   # W1_0 - C X^T
        return out

    def state(self):
        """Copies of the arrays the loop iterates on (see module doc): resume with from_state."""
        out = self.parameters() if self.solver == "primal" else {}
        if self.solver == "gram":
            out["W1_0"] = self._Ws[0].copy()
            out["C"] = self._C.copy()
            for l in range(2, len(self._Ws) + 1):
                out[f"W{l}"] = self._Ws[l - 1].copy()
            for l in range(1, len(self._bs) + 1):
                out[f"b{l}"] = self._bs[l - 1].copy()
        return out

    @classmethod
    def from_state(cls, X, Y, state, learning_rate, *, iteration, dtype=None, **kwargs):
        """A trainer continuing from ``state()`` after ``iteration`` iterations.

        ``dtype=None`` keeps the state's dtype (float32 if its arrays are).
        """
        if dtype is None and isinstance(state, dict) and state:
            dts = {np.asarray(v).dtype for v in state.values()}
            dtype = np.float32 if dts == {np.dtype(np.float32)} else None
        return cls(X, Y, state, learning_rate, iteration=iteration, dtype=dtype, **kwargs)
