"""fastdnn.sklearn against scikit-learn itself: same random_state, float64, same numbers.

"Within 1e-6 relative" means, per array, max|fastdnn - sklearn| <= 1e-6 * max|sklearn|
(coefs_, intercepts_), and elementwise |a - b| <= 1e-6 |b| for loss_curve_ / loss_.
Expected values come from scikit-learn's own estimators, run side by side.

With FASTDNN_AGREEMENT_REPORT set, the module prints (with ``pytest -s``) the largest
differences it met: README's figures come from

    FASTDNN_AGREEMENT_REPORT=1 .venv/bin/python -m pytest -q -s tests/test_sklearn_compare.py
"""
import os
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'fastdnn[sklearn]')")

import scipy.sparse as sp  # noqa: E402
from sklearn import clone  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastdnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

RTOL = 1e-6


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _multilabel():
    X, Y = make_multilabel_classification(n_samples=300, n_features=20, n_classes=4,
                                          random_state=0)
    return X / X.max(), Y


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def _multioutput():
    X, Y = make_regression(n_samples=300, n_features=12, n_targets=3, noise=5.0,
                           random_state=1)
    return X, Y / Y.std()


def _poisson():
    rng = np.random.RandomState(3)
    X = rng.uniform(-1, 1, size=(400, 6))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.5)).astype(float)
    return X, y


DATA = {"digits": _digits, "cancer": _cancer, "multilabel": _multilabel,
        "diabetes": _diabetes, "multioutput": _multioutput, "poisson": _poisson}
CLASSIFICATION = ("digits", "cancer", "multilabel")


def _pair(data, **kw):
    kw.setdefault("random_state", 0)
    kw.setdefault("max_iter", 10)
    kw.setdefault("hidden_layer_sizes", (24, 12))
    if data in CLASSIFICATION:
        return MLPClassifier(**kw), SkClassifier(**kw)
    if data == "poisson":
        kw["loss"] = "poisson"
    return MLPRegressor(**kw), SkRegressor(**kw)


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


# the largest differences met (FASTDNN_AGREEMENT_REPORT): parameters as _rel, the rest
# elementwise relative
_WORST = {"parameters": 0.0, "losses, scores, probabilities": 0.0}


def _note(kind, a, b=None):
    if b is None:
        value = a
    else:
        a, b = np.ravel(np.asarray(a, dtype=float)), np.ravel(np.asarray(b, dtype=float))
        big = np.abs(b) > 1e-9
        value = np.max(np.abs(a[big] - b[big]) / np.abs(b[big])) if big.any() else 0.0
    if np.isfinite(value):
        _WORST[kind] = max(_WORST[kind], float(value))


@pytest.fixture(scope="module", autouse=True)
def _report_the_largest_differences():
    yield
    if os.environ.get("FASTDNN_AGREEMENT_REPORT"):
        print("\nlargest differences from scikit-learn in tests/test_sklearn_compare.py: "
              + ", ".join(f"{k} {v:.2g}" for k, v in _WORST.items()))


def assert_same_model(ours, ref, X, check_curve=True):
    """coefs_, intercepts_ (1e-6 of each array's scale), curves, attributes, predictions."""
    assert len(ours.coefs_) == len(ref.coefs_)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert _rel(a, b) <= RTOL, _rel(a, b)
        _note("parameters", _rel(a, b))
    kind = "losses, scores, probabilities"
    _note(kind, ours.loss_, ref.loss_)
    if check_curve:
        _note(kind, ours.loss_curve_, ref.loss_curve_)
        if ref.validation_scores_ is not None:
            _note(kind, ours.validation_scores_, ref.validation_scores_)
    if hasattr(ref, "predict_proba"):
        _note(kind, ours.predict_proba(X), ref.predict_proba(X))
    for name in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(ref, name), name
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=RTOL)
    if check_curve:
        assert ours.t_ == ref.t_
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=RTOL)
        if ref.best_loss_ is None:
            assert ours.best_loss_ is None
        else:
            np.testing.assert_allclose(ours.best_loss_, ref.best_loss_, rtol=RTOL)
        if ref.validation_scores_ is None:
            assert ours.validation_scores_ is None
        else:
            np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_,
                                       rtol=RTOL)
            np.testing.assert_allclose(ours.best_validation_score_,
                                       ref.best_validation_score_, rtol=RTOL)
    if hasattr(ref, "predict_proba"):  # labels: equal; regression values: 1e-6 relative
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    else:
        assert _rel(ours.predict(X), ref.predict(X)) <= RTOL
    if hasattr(ref, "predict_proba"):
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X),
                                   rtol=1e-5, atol=1e-9)


def _fit_both(data, fit_kw=None, **kw):
    X, y = DATA[data]()
    ours, ref = _pair(data, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y, **(fit_kw or {}))
        ref.fit(X, y, **(fit_kw or {}))
    return ours, ref, X, y


SOLVERS = [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate_init=0.05),
    dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2, power_t=0.3),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2,
         nesterovs_momentum=False),
    # tol large: every epoch counts as no improvement, so the rate is divided by 5 twice
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=100.0,
         n_iter_no_change=3),
    dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
]


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("solver", SOLVERS, ids=lambda d: "-".join(f"{v}" for v in d.values()))
def test_stochastic_solvers_match(data, solver):
    ours, ref, X, _ = _fit_both(data, **solver)
    assert_same_model(ours, ref, X)
    if solver.get("learning_rate") == "adaptive":
        assert ours._optimizer.learning_rate == pytest.approx(ref._optimizer.learning_rate)
        assert ref._optimizer.learning_rate < solver["learning_rate_init"]


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("data", ["digits", "cancer", "diabetes", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_every_activation_matches(activation, data, solver):
    kw = {"learning_rate_init": 0.01} if solver == "sgd" else {}
    ours, ref, X, _ = _fit_both(data, activation=activation, solver=solver, **kw)
    assert_same_model(ours, ref, X)


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_lbfgs_matches(data, activation):
    ours, ref, X, _ = _fit_both(data, solver="lbfgs", max_iter=30, activation=activation)
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=RTOL)
    assert ours.n_iter_ == ref.n_iter_
    if data in CLASSIFICATION:
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    else:
        assert _rel(ours.predict(X), ref.predict(X)) <= RTOL
    assert not hasattr(ours, "loss_curve_") and not hasattr(ref, "loss_curve_")


@pytest.mark.parametrize("data", ["digits", "cancer", "multilabel", "diabetes", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sample_weight_matches(data, solver):
    X, _ = DATA[data]()
    sw = np.random.RandomState(5).uniform(0.1, 3.0, size=X.shape[0])
    ours, ref, X, _ = _fit_both(data, fit_kw={"sample_weight": sw}, solver=solver)
    assert_same_model(ours, ref, X, check_curve=solver != "lbfgs")


@pytest.mark.parametrize("data", ["digits", "cancer", "diabetes", "multioutput"])
@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_matches(data, weighted):
    X, _ = DATA[data]()
    fit_kw = {"sample_weight": np.linspace(0.5, 2.0, X.shape[0])} if weighted else None
    ours, ref, X, _ = _fit_both(data, fit_kw=fit_kw, early_stopping=True, max_iter=25,
                                n_iter_no_change=3, validation_fraction=0.2)
    assert_same_model(ours, ref, X)


@pytest.mark.parametrize("data", ["digits", "cancer", "diabetes"])
@pytest.mark.parametrize("kw", [dict(shuffle=False), dict(batch_size=37),
                                dict(batch_size=5000), dict(tol=1e-2, max_iter=60),
                                dict(n_iter_no_change=np.inf, tol=1e9)],
                         ids=["noshuffle", "batch37", "batchall", "converges", "inf"])
def test_batching_and_stopping_match(data, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch_size clipped
        ours, ref, X, _ = _fit_both(data, **kw)
    assert_same_model(ours, ref, X)
    assert ours._no_improvement_count == ref._no_improvement_count


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_matches(data, solver):
    X, y = DATA[data]()
    ours, ref = _pair(data, solver=solver, learning_rate="invscaling"
                      if solver == "sgd" else "constant", learning_rate_init=0.02)
    kw = {}
    if data in ("digits", "cancer"):
        kw = {"classes": np.unique(y)}
    elif data == "multilabel":
        kw = {"classes": np.arange(y.shape[1])}
    rng = np.random.RandomState(0)
    for i in range(6):
        idx = rng.choice(X.shape[0], size=150, replace=False)
        ours.partial_fit(X[idx], y[idx], **kw)
        ref.partial_fit(X[idx], y[idx], **kw)
        kw = {}
    assert_same_model(ours, ref, X)


@pytest.mark.parametrize("data", ["digits", "cancer", "diabetes"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_warm_start_matches(data, solver):
    X, y = DATA[data]()
    ours, ref = _pair(data, solver=solver, warm_start=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (ours, ref):
            est.fit(X, y)
            est.set_params(max_iter=7)
            est.fit(X[::-1], y[::-1])
    assert_same_model(ours, ref, X, check_curve=solver != "lbfgs")


def test_fit_after_fit_without_warm_start_restarts():
    X, y = _digits()
    ours, ref = _pair("digits", max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (ours, ref):
            est.fit(X, y)
            est.partial_fit(X, y)
            est.fit(X, y)
    assert_same_model(ours, ref, X)


def test_partial_fit_then_fit_and_string_labels():
    X, y = _digits()
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                       "eight", "nine"])[y]
    ours, ref = _pair("digits", solver="sgd", learning_rate_init=0.05)
    for est in (ours, ref):
        est.partial_fit(X, labels, classes=np.unique(labels))
        est.partial_fit(X[:100], labels[:100])
    assert_same_model(ours, ref, X)
    assert ours.predict(X).dtype == ref.predict(X).dtype


def test_sparse_input_matches_dense_reference():
    X, y = _digits()
    ours, ref = _pair("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(sp.csr_matrix(X), y)
        ref.fit(X, y)
    assert_same_model(ours, ref, X)
    np.testing.assert_array_equal(ours.predict(sp.csc_matrix(X)), ref.predict(X))


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_float32_stays_float32(Est):
    X, y = _digits()
    est = Est(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X.astype(np.float32), y)
    assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    out = est.predict_proba(X.astype(np.float32)) if Est is MLPClassifier else \
        est.predict(X.astype(np.float32))
    assert out.dtype == np.float32


def test_verbose_output_matches(capsys):
    X, y = _cancer()
    for Est in (MLPClassifier, SkClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            Est(hidden_layer_sizes=(8,), max_iter=3, random_state=0, verbose=True,
                early_stopping=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    half = len(out) // 2
    assert out[:half] == out[half:] and any(line.startswith("Iteration 1, loss") for line in out)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_pickle_and_clone_round_trip(solver):
    X, y = _cancer()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    for a, b in zip(back.coefs_ + back.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(a, b)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coefs_")
    if solver != "lbfgs":  # the optimiser state survives pickling: partial_fit continues alike
        ref = pickle.loads(pickle.dumps(est))
        est.partial_fit(X, y)
        ref.partial_fit(X, y)
        for a, b in zip(ref.coefs_, est.coefs_):
            np.testing.assert_array_equal(a, b)


def test_regressor_pickle_round_trip():
    X, y = _diabetes()
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))


def test_get_params_match_sklearn():
    for ours, ref in ((MLPClassifier(), SkClassifier()), (MLPRegressor(), SkRegressor())):
        assert ours.get_params() == ref.get_params()


def _canonical(msg):
    """An error message with its {set} literals sorted (set order varies between objects)."""
    import re

    return re.sub(r"\{([^{}]*)\}",
                  lambda mo: "{" + ", ".join(sorted(mo.group(1).split(", "))) + "}", msg)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_errors_match_sklearn():
    X, y = _cancer()
    for kw in (dict(hidden_layer_sizes=(0,)), dict(activation="softplus"), dict(alpha=-1.0),
               dict(solver="newton"), dict(batch_size=0)):
        with pytest.raises(ValueError) as ours:
            MLPClassifier(**kw).fit(X, y)
        with pytest.raises(ValueError) as ref:
            SkClassifier(**kw).fit(X, y)
        assert _canonical(str(ours.value)) == _canonical(str(ref.value))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True, max_iter=2).fit(X, y).partial_fit(X, y)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_divergence_behaves_as_sklearn():
    X, y = _diabetes()
    kw = dict(hidden_layer_sizes=(50,), activation="identity", solver="sgd",
              learning_rate_init=1.0, max_iter=15, random_state=0)
    # early stopping: NaN losses and scores to the end, then the best parameters restored
    ours = MLPRegressor(early_stopping=True, n_iter_no_change=20, **kw).fit(X, y)
    ref = SkRegressor(early_stopping=True, n_iter_no_change=20, **kw).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ == 15
    assert np.isnan(ours.validation_scores_[-1]) and np.isnan(ref.validation_scores_[-1])
    np.testing.assert_array_equal(np.isnan(ours.validation_scores_),
                                  np.isnan(ref.validation_scores_))
    assert_same_model(ours, ref, X, check_curve=False)
    # without: the same error at the end
    for Est in (MLPRegressor, SkRegressor):
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            Est(**kw).fit(X, y)


def test_epoch_order_is_sklearn_shuffle():
    from sklearn.utils import shuffle

    from fastdnn.sklearn import _reshuffled

    a, b = np.random.RandomState(7), np.random.RandomState(7)
    x = y = np.arange(777)
    for _ in range(4):
        x, y = shuffle(x, random_state=a), _reshuffled(y, b)
        np.testing.assert_array_equal(x, y)
    assert a.randint(1 << 30) == b.randint(1 << 30)  # the streams stay in step


def test_poisson_rejects_negative_targets():
    X, y = _diabetes()
    with pytest.raises(ValueError, match=r"loss='poisson' needs y >= 0, got min\(y\) = -"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, y)


def test_engine_gets_a_view_of_X_not_a_copy(monkeypatch):
    import fastdnn.sklearn as fsk

    seen = []

    class Spy(fsk.Trainer):
        def __init__(self, X, *args, **kw):
            seen.append(X)
            super().__init__(X, *args, **kw)

    monkeypatch.setattr(fsk, "Trainer", Spy)
    X, y = _digits()
    X = np.ascontiguousarray(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    (XT,) = seen
    assert XT.shape == (X.shape[1], X.shape[0]) and XT.flags.f_contiguous
    assert np.shares_memory(XT, X)


def _fit_on_a_team(monkeypatch, kind, solver, hidden, unit_split=None):
    """Fits digits with both libraries on FASTDNN_NUM_THREADS=2 at batch 200, recording
    (workers, the engine's `kind` attribute) at every team the trainer sets; checks that
    every one was a team of 2 of that kind and that the fit is scikit-learn's."""
    from fastdnn.training import trainer as trainer_module

    seen = []
    team = trainer_module.Trainer._team

    def spy(self):
        limit = team(self)
        seen.append((self._engine.workers, getattr(self._engine, kind)))
        return limit

    monkeypatch.setattr(trainer_module.Trainer, "_team", spy)
    if unit_split is not None:
        monkeypatch.setattr(trainer_module.Trainer, "_forced_unit_split", unit_split)
    monkeypatch.setenv("FASTDNN_NUM_THREADS", "2")
    ours, ref, X, _ = _fit_both("digits", hidden_layer_sizes=hidden, batch_size=200, **solver)
    assert seen and all(s == (2, True) for s in seen), seen[:3]
    assert_same_model(ours, ref, X)


@pytest.mark.parametrize("solver", [dict(solver="adam"),
                                    dict(solver="sgd", learning_rate_init=0.05)],
                         ids=["adam", "sgd"])
def test_team_splitting_the_batch_matches(monkeypatch, solver):
    """A net large enough for a team of 2 threads at scikit-learn's batch of 200 (which
    splits each batch's examples among its threads: fastdnn.threads.TEAM_SPLIT_BATCH)
    still gives scikit-learn's numbers; checks that the team ran that way.  (A net of one
    hidden layer would otherwise train on a team splitting its units: the unit split is
    turned off here, and test_unit_split_matches below has it.)"""
    from fastdnn._core.loop import HAVE_TEAMS

    if not HAVE_TEAMS:
        pytest.skip("fastdnn._core.loop was built without OpenMP")
    _fit_on_a_team(monkeypatch, "data_parallel", solver, (256,), unit_split=False)


@pytest.mark.parametrize("solver", [dict(solver="adam"),
                                    dict(solver="sgd", learning_rate_init=0.05)],
                         ids=["adam", "sgd"])
def test_unit_split_matches(monkeypatch, solver):
    """On 2 threads scikit-learn's default net (one hidden layer of 100 relu units) trains
    on a team splitting its hidden units (fastdnn.threads.unit_split, where the processor
    has AVX-512) and still gives scikit-learn's numbers; checks that it ran that way."""
    from fastdnn import threads as fthreads
    from fastdnn._core.loop import GEMM_AVX512, HAVE_TEAMS

    if not HAVE_TEAMS or not GEMM_AVX512:
        pytest.skip("the unit split needs OpenMP and AVX-512")
    if fthreads.available_cores() < 2:
        pytest.skip("needs two cores")
    _fit_on_a_team(monkeypatch, "unit_split", solver, (100,))
