"""The per-epoch fast paths behind fastdnn.MLPClassifier's speed (issue 10).

* ``fastdnn.sklearn._binarized`` against scikit-learn's own ``LabelBinarizer.transform``
  (the oracle) for every kind of label the estimator meets;
* ``Trainer.run_epoch``'s permutation check (one bincount) still refuses everything that
  is not a permutation, and accepts any integer array that is one, with the same result;
* its finiteness test (one reduction per array, summed) still sees a NaN or an infinity
  in any parameter or optimiser array, and is not fooled by finite values whose sum
  overflows;
* with ``FASTDNN_NUM_THREADS`` set the epoch still runs inside the thread limit.
"""
import numpy as np
import pytest

from fastdnn.training import Trainer, TrainingConfig, TrainingDiverged

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")
from sklearn.preprocessing import LabelBinarizer  # noqa: E402

from fastdnn.sklearn import _binarized  # noqa: E402


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
