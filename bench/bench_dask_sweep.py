"""A GridSearchCV sweep of fastdnn.MLPClassifier on a local Dask cluster: 1 worker vs 2.

    .venv/bin/python bench/bench_dask_sweep.py            # needs 'fastdnn[dask]'

Starts ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`` on 127.0.0.1
for N = 1 and N = 2 (BLAS limited to 1 thread in each worker), runs the same 12-fit
GridSearchCV on scikit-learn's digits through joblib's Dask backend, and prints the wall
time of each and the speed-up. Cluster start-up is not timed.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def _one_blas_thread():
    import threadpoolctl
    threadpoolctl.threadpool_limits(1)


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
        client.run(_one_blas_thread)
        search = GridSearchCV(MLPClassifier(max_iter=40, random_state=0), grid, cv=2)
        with warnings.catch_warnings(), joblib.parallel_backend("dask"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            search.fit(X, y)
            return time.perf_counter() - t0, search.best_params_


def main():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    times = {}
    for n in (1, 2):
        times[n], best = sweep(n, X, y)
        print(f"{n} worker(s): {times[n]:.2f} s  (best {best})", flush=True)
    print(f"speed-up 2 workers vs 1: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
