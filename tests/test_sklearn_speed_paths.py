"""The per-epoch fast paths behind fastdnn.MLPClassifier's speed (issue 10).

* ``fastdnn.sklearn._label_binarizer`` against scikit-learn's ``LabelBinarizer.fit`` (every
  fitted attribute, each integer dtype, and the fallback's errors);
* ``fastdnn.sklearn._binarized`` against scikit-learn's own ``LabelBinarizer.transform``
  (the oracle) for every kind of label the estimator meets;
* ``Trainer.run_epoch``'s permutation check (one bincount) still refuses everything that
  is not a permutation, and accepts any integer array that is one, with the same result;
* its finiteness test (one reduction per array, summed) still sees a NaN or an infinity
  in any parameter or optimiser array, and is not fooled by finite values whose sum
  overflows;
* with ``FASTDNN_NUM_THREADS`` set the epoch still runs inside the thread limit;
* the estimators' runs of epochs in one engine call (``Trainer.run_plateau``): orders
  drawn from the same generator as ``sklearn.utils.shuffle`` draws them (the oracle), the
  stopping test, and runs of many epochs giving what runs of one give, bit for bit
  (costs, parameters, the learning-rate schedules, the generator's state afterwards);
  tests/test_sklearn_compare.py holds the fits against scikit-learn's own.
"""
import numpy as np
import pytest

from fastdnn.training import Trainer, TrainingConfig, TrainingDiverged

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")
from sklearn.preprocessing import LabelBinarizer  # noqa: E402

from fastdnn.sklearn import _binarized, _label_binarizer  # noqa: E402


# ------------------------------------------------------------------ label binarizing
def _cases():
    rs = np.random.RandomState(0)
    ints = rs.randint(0, 5, 40)
    yield "multiclass int", ints, ints
    yield "multiclass int, subset in this call", ints, np.array([1, 1, 3, 0])
    yield "binary int", ints % 2, ints % 2
    yield "binary int, one class in this call", ints % 2, np.ones(7, dtype=int)
    yield "binary -1/1", 2 * (ints % 2) - 1, 2 * (ints % 2) - 1
    yield "binary float", (ints % 2) * 2.0 - 1, (ints % 2) * 2.0 - 1
    yield "multiclass float", ints * 2.0, ints * 2.0
    yield "float y, int classes", ints, ints.astype(float)
    yield "bool", ints % 2 == 0, ints % 2 == 0
    yield "uint8", ints.astype(np.uint8), ints.astype(np.uint8)
    words = np.array(["cat", "dog", "emu"])[ints % 3]
    yield "multiclass str", words, words
    yield "binary str", np.array(["no", "yes"])[ints % 2], np.array(["no", "yes"])[ints % 2]
    yield "multiclass object", words.astype(object), words.astype(object)
    yield "single class", np.zeros(5, dtype=int), np.zeros(5, dtype=int)
    multilabel = rs.randint(0, 2, (40, 3))
    yield "multilabel", multilabel, multilabel


@pytest.mark.parametrize("what,fit_on,y", list(_cases()), ids=[c[0] for c in _cases()])
def test_binarized_is_label_binarizers_transform(what, fit_on, y):
    lb = LabelBinarizer().fit(fit_on)
    expected = lb.transform(y).astype(bool)
    got = _binarized(lb, y)
    assert got.dtype == np.bool_ and got.shape == expected.shape, what
    np.testing.assert_array_equal(got, expected, err_msg=what)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64"])
@pytest.mark.parametrize("labels", [[0, 1], [3], [1, 2, 3], [7, 2, 5, 100], [0, 1, 2, 3, 4]])
def test_label_binarizer_is_label_binarizers_fit(dtype, labels):
    rs = np.random.RandomState(1)
    y = np.asarray(labels, dtype=dtype)[rs.randint(0, len(labels), 31)]
    want, got = LabelBinarizer().fit(y), _label_binarizer(y)
    assert type(got) is LabelBinarizer
    assert got.y_type_ == want.y_type_ and got.sparse_input_ == want.sparse_input_
    assert got.classes_.dtype == want.classes_.dtype, (got.classes_.dtype, want.classes_.dtype)
    np.testing.assert_array_equal(got.classes_, want.classes_)
    np.testing.assert_array_equal(got.transform(y), want.transform(y))
    np.testing.assert_array_equal(got.inverse_transform(want.transform(y)), y)


@pytest.mark.parametrize("y", [np.array([0.5, 1.5]), np.array([], dtype=int),
                               np.array([[1, 0], [0, 2]])], ids=["continuous", "empty",
                                                                 "multioutput"])
def test_label_binarizer_falls_back_to_fit_and_its_errors(y):
    with pytest.raises(ValueError) as want:
        LabelBinarizer().fit(y)
    with pytest.raises(ValueError) as got:
        _label_binarizer(y)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("y", [np.array(["b", "a", "b"]), np.array([1.0, 0.0, 1.0]),
                               np.array([True, False]), np.array([[0, 1], [1, 1]])],
                         ids=["str", "float", "bool", "multilabel"])
def test_label_binarizer_other_labels_are_fit(y):
    want, got = LabelBinarizer().fit(y), _label_binarizer(y)
    assert got.y_type_ == want.y_type_
    np.testing.assert_array_equal(got.classes_, want.classes_)


def test_binarized_for_partial_fit_classes():
    """partial_fit fits the binarizer on ``classes``, then binarizes each batch."""
    lb = LabelBinarizer().fit([3, 7, 9])
    y = np.array([9, 9, 3])
    np.testing.assert_array_equal(_binarized(lb, y), lb.transform(y).astype(bool))
    np.testing.assert_array_equal(_binarized(lb, y), [[0, 0, 1], [0, 0, 1], [1, 0, 0]])


# ----------------------------------------------------------------- run_epoch's checks
M = 23


def _trainer(optimizer="adam_sklearn", lr=0.01, dtype="float64"):
    rs = np.random.RandomState(1)
    X = rs.randn(4, M)
    Y = (rs.rand(1, M) > 0.5).astype(float)
    P = {"W1": rs.randn(5, 4) * 0.3, "b1": np.zeros((5, 1)),
         "W2": rs.randn(1, 5) * 0.3, "b2": np.zeros((1, 1))}
    cfg = TrainingConfig(learning_rate=lr, optimizer=optimizer, output="sigmoid",
                         hidden_activation="relu", mini_batch_size=5, shuffle="external",
                         loss_convention="sklearn", dtype=dtype)
    return Trainer(X, Y, P, cfg)


@pytest.mark.parametrize("bad,why", [
    (np.r_[0, np.arange(M - 1)], "a repeated index"),
    (np.r_[np.arange(M - 1), M], "an index past m-1"),
    (np.r_[-1, np.arange(1, M)], "a negative index"),
    (np.r_[np.arange(M - 1), M - 1 + 2 ** 40], "a huge index"),
    (np.r_[np.arange(M - 1, dtype=np.uint64), np.uint64(2 ** 64 - 1)], "an unsigned index past int64"),
])
def test_run_epoch_refuses_what_is_not_a_permutation(bad, why):
    tr = _trainer()
    before = tr.state()
    with pytest.raises(ValueError, match="perm must be a permutation of 0..m-1"):
        tr.run_epoch(perm=bad)
    after = tr.state()
    assert tr.iteration == 0 and tr.t == 0, why
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=why)


@pytest.mark.parametrize("bad", [np.arange(M - 1), np.arange(M).reshape(1, M),
                                 np.arange(M, dtype=float), None])
def test_run_epoch_refuses_wrong_shapes_and_types(bad):
    with pytest.raises(ValueError, match="perm"):
        _trainer().run_epoch(perm=bad)


def test_run_epoch_takes_any_integer_permutation_alike():
    """int64, int32, a strided view, a list, uint16: the same epochs, bit for bit."""
    rs = np.random.RandomState(5)
    perms = [rs.permutation(M) for _ in range(3)]
    ref = _trainer()
    ref_costs = [ref.run_epoch(perm=p) for p in perms]
    for convert in (lambda p: p.astype(np.int32), lambda p: np.repeat(p, 2)[::2],
                    list, lambda p: p.astype(np.uint16)):
        tr = _trainer()
        costs = [tr.run_epoch(perm=convert(p)) for p in perms]
        assert costs == ref_costs
        for k, v in ref.parameters().items():
            np.testing.assert_array_equal(tr.parameters()[k], v)


def test_run_epoch_leaves_the_callers_permutation_alone():
    p = np.random.RandomState(2).permutation(M)
    keep = p.copy()
    _trainer().run_epoch(perm=p)
    np.testing.assert_array_equal(p, keep)


# ---------------------------------------------------------------- finiteness test
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_finiteness_sees_any_non_finite_array(dtype):
    tr = _trainer(dtype=dtype)
    tr.run_epoch(perm=np.arange(M))
    assert tr._finite()
    arrays = tr._arrays()
    assert len(arrays) == 12       # W, b of 2 layers: parameters, first and second moments
    for i, a in enumerate(arrays):
        for bad in (np.nan, np.inf, -np.inf):
            keep = a.flat[-1]
            a.flat[-1] = bad
            assert not tr._finite(), (i, bad)
            a.flat[-1] = keep
            assert tr._finite(), i


def test_finiteness_is_not_fooled_by_an_overflowing_sum():
    tr = _trainer()
    big = np.finfo(np.float64).max
    W = tr._arrays()[0]
    W.flat[0] = big
    W.flat[1] = big            # finite values whose sum is +inf
    assert tr._finite()
    W.flat[1] = -big
    W.flat[2] = np.nan
    assert not tr._finite()


@pytest.mark.parametrize("optimizer", ["adam_sklearn", "sgd"])
def test_run_epoch_raises_when_training_diverges(optimizer):
    tr = _trainer(optimizer=optimizer, lr=1e300)
    with pytest.raises(TrainingDiverged) as info:
        for _ in range(50):
            tr.run_epoch(perm=np.arange(M), keep_last_finite=True)
    e = info.value
    assert tr.iteration == e.iteration
    for k, v in tr.parameters().items():      # put back before the bad epoch
        assert np.all(np.isfinite(v)), k


def test_run_epoch_enters_the_thread_limit_when_a_count_is_set(monkeypatch):
    from fastdnn import threads

    entered = []
    real = threads.limit

    def spy(n=None):
        entered.append(n)
        return real(n)

    monkeypatch.setattr(threads, "limit", spy)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    tr = _trainer()
    tr.run_epoch(perm=np.arange(M))
    assert entered == []                         # no count set: no limit entered
    monkeypatch.setenv(threads.ENV_VAR, "1")
    tr.run_epoch(perm=np.arange(M))
    assert entered == [1]
    cfg = tr.config.replace(threads=1)
    monkeypatch.delenv(threads.ENV_VAR)
    tr2 = Trainer(tr._X, tr._Y, tr.parameters(), cfg)
    tr2.run_epoch(perm=np.arange(M))
    assert entered == [1, 1]


def test_check_finite_false_carries_on_as_sklearn():
    """The estimators' mode: no TrainingDiverged; epochs go on computing with whatever
    the parameters hold, and the costs say so."""
    tr = _trainer(optimizer="sgd", lr=1e300)
    costs = [tr.run_epoch(np.arange(M), True, keep_last_finite=False, check_finite=False)
             for _ in range(6)]
    assert tr.iteration == 6 and tr.t == 6 * 5
    assert not all(np.isfinite(costs))
    assert not tr._finite()
    assert tr.run_epoch(np.arange(M), False, check_finite=False) is None
    assert tr.iteration == 7


def test_estimator_after_divergence_matches_sklearn():
    """Parameters driven non-finite: the same epochs, the same NaN pattern of the
    validation scores, the same error without early stopping (scikit-learn the oracle)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor as SkRegressor

    from fastdnn.sklearn import MLPRegressor

    rs = np.random.RandomState(3)
    X = rs.randn(120, 6)
    y = X @ rs.randn(6) * 30
    kw = dict(hidden_layer_sizes=(20,), activation="identity", solver="sgd",
              learning_rate_init=2.0, max_iter=12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = MLPRegressor(early_stopping=True, n_iter_no_change=30, **kw).fit(X, y)
        ref = SkRegressor(early_stopping=True, n_iter_no_change=30, **kw).fit(X, y)
        assert ours.n_iter_ == ref.n_iter_ == 12
        assert np.isnan(ref.validation_scores_[-1])
        np.testing.assert_array_equal(np.isnan(ours.validation_scores_),
                                      np.isnan(ref.validation_scores_))
        np.testing.assert_array_equal(np.isfinite(ours.loss_curve_),
                                      np.isfinite(ref.loss_curve_))
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)   # the best, restored
        for Est in (MLPRegressor, SkRegressor):
            with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
                Est(**kw).fit(X, y)


# ------------------------------------------------------- runs of epochs (run_plateau)
def test_run_plateau_orders_are_sklearn_shuffles():
    """Each epoch's order is sklearn.utils.shuffle(previous order, random_state=rs)."""
    from sklearn.utils import shuffle

    rs, ref_rs = np.random.RandomState(7), np.random.RandomState(7)
    ref_rs.standard_normal()                   # a cached gaussian must survive too
    rs.standard_normal()
    order = np.random.RandomState(0).permutation(M)
    expected = order.copy()
    tr, ref = _trainer(), _trainer()
    first, _, _ = tr.run_plateau([0.01] * 2, tol=0.0, patience=np.inf, order=order,
                                 random_state=rs)
    last, _, _ = tr.run_plateau([0.01], tol=0.0, patience=np.inf, random_state=rs)
    costs = np.r_[first, last]          # order=None: on from the engine's last order
    ref_costs = []
    for _ in range(3):
        expected = shuffle(expected, random_state=ref_rs)
        ref_costs.append(ref.run_epoch(expected, True, check_finite=False))
    np.testing.assert_array_equal(tr.order, expected)
    assert costs.tolist() == ref_costs
    a, b = rs.get_state(), ref_rs.get_state()
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2:] == b[2:]
    assert rs.randint(1 << 30) == ref_rs.randint(1 << 30)


def test_run_plateau_stops_as_the_estimators_test():
    """bad counts the epochs whose cost is above best - tol; the run ends after the first
    epoch with bad > patience, and best is the lowest cost; NaN compares false."""
    tr = _trainer(optimizer="sgd", lr=0.0)       # rate 0: every epoch's cost the same
    c0 = tr.run_epoch(np.arange(M), True)
    rs = np.random.RandomState(0)
    costs, best, bad = tr.run_plateau([0.0] * 10, tol=1e-9, patience=2, best=c0, bad=0,
                                      order=np.arange(M), random_state=rs)
    assert len(costs) == 3 and bad == 3 and best <= c0       # never below c0 - 1e-9
    assert tr.iteration == 4
    costs, best, bad = tr.run_plateau([0.0] * 10, tol=-1.0, patience=2, best=c0, bad=5,
                                      order=np.arange(M), random_state=rs)
    assert len(costs) == 10 and bad == 0                     # above c0 + 1: never
    # in data order at rate 0 every cost is c0 itself: equal to best - 0 is no plateau
    same = Trainer(tr._X, tr._Y, tr.parameters(),
                   tr.config.replace(shuffle="none", learning_rate=0.0))
    c0 = same.run_epoch(None, True)
    costs, best, bad = same.run_plateau([0.0] * 5, tol=0.0, patience=1, best=c0, bad=1)
    assert costs.tolist() == [c0] * 5 and bad == 0 and best == c0
    costs, best, bad = tr.run_plateau([0.0] * 4, tol=0.0, patience=np.inf, best=np.nan,
                                      bad=0, order=np.arange(M), random_state=rs)
    assert len(costs) == 4 and bad == 0 and np.isnan(best)


def test_run_plateau_refuses_bad_arguments():
    tr = _trainer()
    with pytest.raises(TypeError, match="random_state must be a numpy.random.RandomState"):
        tr.run_plateau([0.1], tol=0, patience=1, order=np.arange(M),
                       random_state=np.random.default_rng(0))
    with pytest.raises(ValueError, match="the engine holds no order yet"):
        tr.run_plateau([0.1], tol=0, patience=1, random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="perm must be a permutation"):
        tr.run_plateau([0.1], tol=0, patience=1, order=np.zeros(M, dtype=int),
                       random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="lrs must be finite"):
        tr.run_plateau([np.nan], tol=0, patience=1, order=np.arange(M),
                       random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="tol and patience must be numbers"):
        tr.run_plateau([0.1], tol=np.nan, patience=1, order=np.arange(M),
                       random_state=np.random.RandomState(0))
    none = Trainer(tr._X, tr._Y, tr.parameters(), tr.config.replace(shuffle="none"))
    with pytest.raises(ValueError, match="order and random_state are for"):
        none.run_plateau([0.1], tol=0, patience=1, random_state=np.random.RandomState(0))
    assert tr.iteration == 0 and none.iteration == 0


def test_run_plateau_on_a_team_equals_one_thread():
    """A data-parallel team shuffles once per epoch (thread 0) and stops together."""
    rs = np.random.RandomState(4)
    X, Y = rs.randn(6, 300), (rs.rand(1, 300) > 0.5).astype(float)
    P = {"W1": rs.randn(40, 6) * 0.3, "b1": np.zeros((40, 1)),
         "W2": rs.randn(1, 40) * 0.3, "b2": np.zeros((1, 1))}
    cfg = TrainingConfig(learning_rate=0.01, optimizer="adam_sklearn", output="sigmoid",
                         hidden_activation="relu", mini_batch_size=150, shuffle="external",
                         loss_convention="sklearn")
    got = []
    for team in (None, 2):
        tr = Trainer(X, Y, P, cfg)
        tr._forced_team = team
        costs, best, bad = tr.run_plateau([0.01] * 30, tol=1e-3, patience=3,
                                          order=np.arange(300),
                                          random_state=np.random.RandomState(9))
        got.append((costs, best, bad, tr.order, tr.parameters()))
    (c1, b1, n1, o1, p1), (c2, b2, n2, o2, p2) = got
    np.testing.assert_array_equal(o1, o2)
    assert len(c1) == len(c2) and n1 == n2
    np.testing.assert_allclose(c2, c1, rtol=1e-12)
    for k in p1:
        np.testing.assert_allclose(p2[k], p1[k], rtol=1e-10, atol=1e-13)


def _fit_both(Est, X, y, sample_weight=None, **kw):
    """The estimator fitted in runs of epochs, and in runs of one epoch each (verbose: a
    line printed as each epoch ends, captured here)."""
    import contextlib
    import io
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    fits = []
    for verbose in (False, True):
        rs = np.random.RandomState(3)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = Est(verbose=verbose, random_state=rs, **kw).fit(X, y, sample_weight)
        fits.append((est, rs))
    return fits


_RUN_CASES = [
    dict(solver="adam"),
    dict(solver="adam", tol=0.05),
    dict(solver="adam", shuffle=False, tol=0.0),
    dict(solver="sgd", learning_rate="constant", tol=0.05),
    dict(solver="sgd", learning_rate="invscaling", power_t=0.3, learning_rate_init=0.3),
    dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2),
    dict(solver="sgd", learning_rate="adaptive", tol=0.0, shuffle=False),
    dict(solver="adam", n_iter_no_change=np.inf, tol=1.0),
]


@pytest.mark.parametrize("kw", _RUN_CASES, ids=[str(sorted(c.items())) for c in _RUN_CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_estimator_runs_equal_runs_of_one_epoch(kw, weighted):
    from fastdnn.sklearn import MLPClassifier

    rs = np.random.RandomState(0)
    X = rs.randn(260, 7)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    w = rs.uniform(0.5, 2, len(y)) if weighted else None
    (run, rs_run), (one, rs_one) = _fit_both(MLPClassifier, X, y, w, hidden_layer_sizes=(9,),
                                             batch_size=32, max_iter=40, **kw)
    assert run.n_iter_ == one.n_iter_ and run.t_ == one.t_
    assert run.loss_curve_ == one.loss_curve_ and run.loss_ == one.loss_
    assert run.best_loss_ == one.best_loss_
    assert run._no_improvement_count == one._no_improvement_count
    assert run._optimizer.learning_rate == one._optimizer.learning_rate
    for a, b in zip(run.coefs_ + run.intercepts_, one.coefs_ + one.intercepts_):
        np.testing.assert_array_equal(a, b)
    a, b = rs_run.get_state(), rs_one.get_state()
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2:] == b[2:]


def test_regressor_runs_with_warm_start_equal_runs_of_one_epoch():
    from fastdnn.sklearn import MLPRegressor

    rs = np.random.RandomState(1)
    X = rs.randn(150, 5)
    y = np.sin(X[:, 0]) + X[:, 1]
    (run, _), (one, _) = _fit_both(MLPRegressor, X, y, hidden_layer_sizes=(12,),
                                   max_iter=15, warm_start=True, solver="sgd",
                                   learning_rate="invscaling")
    assert run.loss_curve_ == one.loss_curve_
    import contextlib
    import io
    for est in (run, one):
        est.set_params(max_iter=7)
    run.fit(X, y)
    with contextlib.redirect_stdout(io.StringIO()):
        one.fit(X, y)
    assert run.loss_curve_ == one.loss_curve_ and run.n_iter_ == one.n_iter_ == 7
    for a, b in zip(run.coefs_, one.coefs_):
        np.testing.assert_array_equal(a, b)


def test_estimator_interrupted_between_runs_keeps_the_epochs_done(monkeypatch):
    """Ctrl-C (KeyboardInterrupt) between two runs of epochs: scikit-learn's warning, and the
    model of the epochs done, as a fit of that many epochs."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import fastdnn.sklearn as fsk

    monkeypatch.setattr(fsk, "RUN_SECONDS", 0.0)          # runs of one epoch
    real = Trainer.run_plateau
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(len(args[0]))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    rs = np.random.RandomState(0)
    X = rs.randn(120, 5)
    y = (X[:, 0] > 0).astype(int)
    kw = dict(hidden_layer_sizes=(8,), random_state=0, batch_size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = fsk.MLPClassifier(max_iter=3, **kw).fit(X, y)
    monkeypatch.setattr(Trainer, "run_plateau", interrupted)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est = fsk.MLPClassifier(max_iter=50, **kw).fit(X, y)
    assert calls == [1, 1, 1, 1]
    assert est.n_iter_ == 3 and est.loss_curve_ == ref.loss_curve_
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)
