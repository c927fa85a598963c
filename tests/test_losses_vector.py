"""The scikit-learn convention's binary loss on AVX-512 (fastdnn/_core/losses.pxd's
fd_logloss_bin_512 and its fd_log8): the log against numpy's, the loss against the
formula written here in numpy (xlogy of the clipped probabilities, weighted, summed)."""
import numpy as np
import pytest

from fastdnn._core import loop

EPS = np.finfo(np.float64).eps


def _log_or_skip(x):
    got = loop.vector_log(np.ascontiguousarray(x, dtype=np.float64))
    if got is None:
        pytest.skip("the processor lacks AVX-512: the loss takes libm's log")
    return got


@pytest.mark.parametrize("lo,hi", [(-300, 300), (-40, 0), (-16, 0)])
def test_vector_log_is_within_an_ulp_of_numpys(lo, hi):
    rs = np.random.RandomState(lo + 1000)
    x = np.concatenate([10.0 ** rs.uniform(lo, hi, 200_003), rs.uniform(0.7, 1.5, 100_001),
                        1 - rs.randint(1, 2 ** 20, 1000) * 2.0 ** -53, [1.0, 2.0, 0.5]])
    got, want = _log_or_skip(x), np.log(x)
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want))), \
        x[np.abs(got - want) > np.spacing(np.abs(want))][:5]
    assert got[-3] == 0.0 and got[-2] == np.log(2.0) and got[-1] == np.log(0.5)


def test_vector_log_outside_the_normal_numbers_is_libms():
    x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 2.2e-308, 1e-310,
                  np.finfo(np.float64).max, np.finfo(np.float64).tiny])
    got = _log_or_skip(x)
    with np.errstate(all="ignore"):
        want = np.log(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_max_ulp(got[ok], want[ok], maxulp=1)


def _reference_loss(a, y, w=None):
    p = np.clip(a, EPS, 1 - EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(y != 0, y * np.log(p), 0.0) + np.where(1 - y != 0, (1 - y) * np.log(1 - p), 0.0)
    return float(np.sum(-t if w is None else -w * t))


@pytest.mark.parametrize("m", [1, 2, 7, 8, 9, 15, 16, 17, 200, 211])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_loss_is_the_formulas(m, weighted):
    rs = np.random.RandomState(m)
    a = rs.uniform(0, 1, m)
    a[:: 5] = 0.0                       # clipped to eps
    a[1:: 7] = 1.0                      # clipped to 1 - eps
    y = (rs.uniform(size=m) > 0.5).astype(np.float64)
    y[2:: 9] = 0.3                      # a soft target: both terms
    w = rs.uniform(0.5, 2, m) if weighted else None
    got = loop.sklearn_binary_loss(a, y, w)
    np.testing.assert_allclose(got, _reference_loss(a, y, w), rtol=1e-13)


@pytest.mark.parametrize("bad,finite", [(np.nan, False), (np.inf, True), (-np.inf, True)])
def test_binary_loss_of_non_finite_probabilities_is_the_formulas(bad, finite):
    """NaN stays NaN (the estimators' diverged epochs report it); infinities clip."""
    for m in (3, 8, 13):
        a = np.full(m, 0.25)
        a[m // 2] = bad
        y = np.arange(m) % 2.0
        got = loop.sklearn_binary_loss(a, y)
        assert np.isfinite(got) == finite
        if finite:
            np.testing.assert_allclose(got, _reference_loss(a, y), rtol=1e-13)


def test_binary_loss_checks_its_arguments():
    with pytest.raises(ValueError, match="same length"):
        loop.sklearn_binary_loss(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="w must have"):
        loop.sklearn_binary_loss(np.zeros(3), np.zeros(3), np.ones(2))
    assert loop.sklearn_binary_loss(np.zeros(0), np.zeros(0)) == 0.0
