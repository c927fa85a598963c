"""A GridSearchCV sweep of fastdnn.MLPClassifier on a local Dask cluster: 1 worker vs 2.

    .venv/bin/python bench/bench_dask_sweep.py            # needs 'fastdnn[dask]'

Starts ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`` on 127.0.0.1
for N = 1 and N = 2 (Dask's nanny sets 1 BLAS thread per worker), runs the same 18-fit
GridSearchCV (6 candidates x 3 folds, 150 epochs each, no refit) on scikit-learn's digits
through joblib's Dask backend, and prints the wall time of each and the speed-up, with the
same search run sequentially in this process as a baseline. Cluster start-up is not timed.

On the shared 2-core machine of the measurements in docs/SKLEARN_README_SECTION.md, a
1-worker LocalCluster ran this sweep 8-30x slower than in-process, for scikit-learn's own
MLPClassifier as well: compare the 2-worker time with the in-process one too.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def sweep(n_workers, X, y):
    import joblib
    from distributed import Client, LocalCluster
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from fastdnn.sklearn import MLPClassifier

    grid = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-3, 1e-2]}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        blas = set(client.run(lambda: __import__("os").environ.get("OPENBLAS_NUM_THREADS"))
                   .values())
        assert blas == {"1"}, f"workers' OPENBLAS_NUM_THREADS: {blas}"
        search = GridSearchCV(MLPClassifier(max_iter=150, tol=0.0, n_iter_no_change=1000,
                                            random_state=0), grid, cv=3, refit=False)
        with warnings.catch_warnings(), joblib.parallel_backend("dask"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            search.fit(X, y)
            return time.perf_counter() - t0, search.best_params_


def local(X, y):
    """The same search in this process, sequentially, BLAS at 1 thread (the baseline)."""
    import threadpoolctl
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from fastdnn.sklearn import MLPClassifier

    grid = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-3, 1e-2]}
    search = GridSearchCV(MLPClassifier(max_iter=150, tol=0.0, n_iter_no_change=1000,
                                        random_state=0), grid, cv=3, refit=False, n_jobs=1)
    with warnings.catch_warnings(), threadpoolctl.threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        search.fit(X, y)
        return time.perf_counter() - t0, search.best_params_


def main():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    t, best = local(X, y)
    print(f"in-process, sequential: {t:.2f} s  (best {best})", flush=True)
    times = {}
    for n in (1, 2):
        times[n], best = sweep(n, X, y)
        print(f"{n} worker(s): {times[n]:.2f} s  (best {best})", flush=True)
    print(f"speed-up 2 workers vs 1: {times[1] / times[2]:.2f}x; 2 workers vs in-process: "
          f"{t / times[2]:.2f}x")


if __name__ == "__main__":
    main()
