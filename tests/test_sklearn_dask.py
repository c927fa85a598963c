"""Hyperparameter searches and incremental training of fastdnn's estimators on a real
``dask.distributed.LocalCluster`` (2 worker processes, 1 thread each, loopback only).

Deselect with ``-m "not dask"``. The cluster is started once for the module (~5 s).
Results are compared with the same computation run locally, in this process.
"""
import sys
import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.dask

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'fastdnn[sklearn]')")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed "
                                  "(pip install 'fastdnn[dask]')")
da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'fastdnn[dask]')")
joblib = pytest.importorskip("joblib")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

from fastdnn.sklearn import MLPClassifier  # noqa: E402


def _fastdnn_loaded_on_worker():
    return "fastdnn.sklearn" in sys.modules


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:900] / 16.0, y[:900]


def _search_results(search, X, y, backend=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if backend is None:
            search.fit(X, y)
        else:
            with joblib.parallel_backend(backend):
                search.fit(X, y)
    return search


def test_grid_search_through_joblib_dask_backend(client, digits):
    X, y = digits
    grid = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-1]}
    est = MLPClassifier(max_iter=15, random_state=0)
    remote = _search_results(GridSearchCV(est, grid, cv=3, n_jobs=-1), X, y, "dask")
    local = _search_results(GridSearchCV(est, grid, cv=3, n_jobs=1), X, y)
    assert all(client.run(_fastdnn_loaded_on_worker).values()), "the workers did not train"
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-12)
    assert remote.best_params_ == local.best_params_
    assert remote.best_estimator_.score(X, y) == local.best_estimator_.score(X, y)


def test_randomized_search_through_joblib_dask_backend(client, digits):
    X, y = digits
    dist = {"hidden_layer_sizes": [(8,), (16,), (24,)], "learning_rate_init": [1e-3, 1e-2],
            "solver": ["adam", "sgd"]}
    est = MLPClassifier(max_iter=10, random_state=0)
    kw = dict(n_iter=4, cv=2, random_state=0)
    remote = _search_results(RandomizedSearchCV(est, dist, n_jobs=-1, **kw), X, y, "dask")
    local = _search_results(RandomizedSearchCV(est, dist, n_jobs=1, **kw), X, y)
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-12)


def test_dask_ml_incremental_calls_partial_fit_per_block(client, digits):
    wrappers = pytest.importorskip("dask_ml.wrappers",
                                   reason="dask-ml is not installed (pip install 'fastdnn[dask]')")
    X, y = digits
    classes = np.unique(y)
    Xd = da.from_array(X, chunks=(300, X.shape[1]))
    yd = da.from_array(y, chunks=300)
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    inc = wrappers.Incremental(MLPClassifier(**params), scoring="accuracy",
                               shuffle_blocks=False)
    inc.fit(Xd, yd, classes=classes)
    local = MLPClassifier(**params)
    for start in range(0, X.shape[0], 300):  # the same blocks, in order
        local.partial_fit(X[start:start + 300], y[start:start + 300], classes=classes)
    fitted = inc.estimator_
    assert fitted.t_ == local.t_ == X.shape[0]
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert inc.score(Xd, yd) == pytest.approx(local.score(X, y))
    assert inc.score(Xd, yd) > 0.5
