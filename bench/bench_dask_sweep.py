"""A GridSearchCV sweep of fastdnn.MLPClassifier on a local Dask cluster: 1 worker vs 2.

    .venv/bin/python bench/bench_dask_sweep.py            # needs 'fastdnn[dask]'
    .venv/bin/python bench/bench_dask_sweep.py --rounds 3 # best of 3 of each

The same 18-fit GridSearchCV (6 candidates x 3 folds, 150 epochs each, no refit) on
scikit-learn's digits, timed three ways (cluster start-up never timed):

* in-process: sequentially in this process, BLAS limited to 1 thread;
* 1 worker: ``LocalCluster(n_workers=1, threads_per_worker=1, processes=True)`` on
  127.0.0.1, the whole sequential search submitted to the worker as one task.  Through
  joblib's Dask backend a 1-core cluster would not be used at all: joblib sees one
  core (``effective_n_jobs`` = 1) and runs every fit in the calling process instead
  (its ``n_jobs == 1`` shortcut), with that process's BLAS threads;
* 2 workers: the same cluster with 2 worker processes of 1 thread each, the search
  through joblib's Dask backend (``joblib.parallel_backend("dask")``): the fits are
  spread over the workers.

Every worker process runs BLAS on 1 thread (Dask's nanny sets OPENBLAS_NUM_THREADS=1
before the worker starts; checked with threadpoolctl inside the workers).  The printed
speed-up is 1 worker / 2 workers; the in-process time shows what the cluster costs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

GRID = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-3, 1e-2]}


def _search():
    from sklearn.model_selection import GridSearchCV

    from fastdnn.sklearn import MLPClassifier

    return GridSearchCV(MLPClassifier(max_iter=150, tol=0.0, n_iter_no_change=1000,
                                      random_state=0), GRID, cv=3, refit=False)


def _timed_fit(search, X, y):
    """(seconds, best_params_) of search.fit(X, y), ConvergenceWarning silenced."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        search.fit(X, y)
        return time.perf_counter() - t0, search.best_params_


def _sequential_in_worker(X, y):
    """Run in a worker: the whole search, sequentially (n_jobs=1)."""
    search = _search()
    search.set_params(n_jobs=1)
    return _timed_fit(search, X, y)


def _blas_threads():
    import threadpoolctl

    return tuple(d["num_threads"] for d in threadpoolctl.threadpool_info()
                 if d["user_api"] == "blas")


def on_cluster(n_workers, X, y):
    """Seconds of the sweep on a LocalCluster of n_workers single-thread processes."""
    import joblib
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(n_workers)
        client.run(lambda: __import__("fastdnn.sklearn"))      # imports not timed
        blas = client.run(_blas_threads)
        assert all(set(t) == {1} for t in blas.values()), f"workers' BLAS threads: {blas}"
        if n_workers == 1:
            return client.submit(_sequential_in_worker, X, y, pure=False).result()
        with joblib.parallel_backend("dask"):
            return _timed_fit(_search(), X, y)


def in_process(X, y):
    """The same search in this process, sequentially, BLAS at 1 thread."""
    import threadpoolctl

    search = _search()
    search.set_params(n_jobs=1)
    with threadpoolctl.threadpool_limits(1):
        return _timed_fit(search, X, y)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1, help="best of this many runs of each")
    args = ap.parse_args(argv)

    from sklearn.datasets import load_digits

    import fastdnn.sklearn  # noqa: F401  (scikit-learn and the engine loaded before timing)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    best = {}
    for _ in range(args.rounds):
        for what, run in (("in-process, sequential", lambda: in_process(X, y)),
                          ("1 worker", lambda: on_cluster(1, X, y)),
                          ("2 workers", lambda: on_cluster(2, X, y))):
            t, params = run()
            print(f"{what}: {t:.2f} s  (best {params})", flush=True)
            best[what] = min(best.get(what, t), t)
    t1, t2, tl = best["1 worker"], best["2 workers"], best["in-process, sequential"]
    print(f"best of {args.rounds}: in-process {tl:.2f} s, 1 worker {t1:.2f} s, "
          f"2 workers {t2:.2f} s")
    print(f"speed-up 2 workers vs 1: {t1 / t2:.2f}x; 2 workers vs in-process: {tl / t2:.2f}x")


if __name__ == "__main__":
    main()
