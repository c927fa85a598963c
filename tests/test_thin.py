"""The thin-network passes (fastdnn/_core/thin.pxd): a float64 relu -> sigmoid net of at
most THIN_MAX units a layer runs its forward pass and its deltas a block of examples at a
time.  They must give the layer-by-layer path's numbers (FASTDNN_THIN=0) to rounding and the
numpy reference's within 1e-9, in every mode that reaches them."""
import numpy as np
import pytest

from fastdnn.training import Trainer, TrainingConfig
from tests import reference_v2 as r2

CASES = [
    # dims, m, optimizer, mini_batch_size, keep_prob, lambd, weights, order
    ([5, 4, 3, 1], 28, "momentum", None, 1.0, 0.0, False, "C"),
    ([2, 20, 3, 1], 211, "gd", None, 0.86, 0.0, False, "F"),
    ([2, 20, 3, 1], 211, "gd", None, 1.0, 0.7, False, "F"),
    ([2, 10, 5, 1], 300, "momentum", 64, 1.0, 0.0, False, "F"),
    ([3, 7, 2], 37, "adam", 9, 0.8, 0.3, True, "C"),
    ([6, 64, 33, 3], 70, "adam", None, 0.9, 0.1, True, "F"),
    ([1, 1, 1], 5, "gd", 2, 1.0, 0.0, False, "C"),
]


def run(dims, m, optimizer, mb, keep_prob, lambd, weights, order, thin, monkeypatch,
        masks=None):
    # "force": the passes whatever the layers' weights (up to THIN_MAX units a layer)
    monkeypatch.setenv("FASTDNN_THIN", "force" if thin else "0")
    rng = np.random.RandomState(sum(dims) + m)
    X = rng.randn(dims[0], m)
    X = np.asfortranarray(X) if order == "F" else np.ascontiguousarray(X)
    Y = (rng.rand(dims[-1], m) > 0.5).astype(np.float64)
    w = rng.rand(m) + 0.5 if weights else None
    p0 = r2.initialize_parameters_v2(dims, "he", seed=3)
    cfg = TrainingConfig(learning_rate=0.01, optimizer=optimizer, mini_batch_size=mb,
                         keep_prob=keep_prob, lambd=lambd, seed=10,
                         shuffle="course" if mb else "none")
    tr = Trainer(X, Y, p0, cfg, sample_weight=w, dropout_masks=masks)
    assert tr._engine.thin == thin
    costs = tr.run(40, record_every=1)
    return tr.parameters(), np.array(costs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-m{c[1]}-{c[2]}-mb{c[3]}")
def test_thin_passes_equal_the_layer_by_layer_path(case, monkeypatch):
    got_p, got_c = run(*case, thin=True, monkeypatch=monkeypatch)
    want_p, want_c = run(*case, thin=False, monkeypatch=monkeypatch)
    assert np.all(np.isfinite(got_c))
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12, atol=0)
    for k in want_p:
        np.testing.assert_allclose(got_p[k], want_p[k], rtol=1e-11, atol=1e-14, err_msg=k)


def test_thin_fixed_masks_equal_the_layer_by_layer_path(monkeypatch):
    dims, m = [2, 20, 3, 1], 211
    rng = np.random.RandomState(1)
    masks = [(rng.rand(n, m) < 0.86).astype(np.float64) for n in dims[1:-1]]
    args = (dims, m, "gd", None, 0.86, 0.0, False, "F")
    got_p, got_c = run(*args, thin=True, monkeypatch=monkeypatch, masks=masks)
    want_p, want_c = run(*args, thin=False, monkeypatch=monkeypatch, masks=masks)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12, atol=0)
    for k in want_p:
        np.testing.assert_allclose(got_p[k], want_p[k], rtol=1e-11, atol=1e-14, err_msg=k)


def test_thin_only_where_it_applies(monkeypatch):
    monkeypatch.delenv("FASTDNN_THIN", raising=False)
    rng = np.random.RandomState(0)

    def thin(dims, **kw):
        X = rng.randn(dims[0], 20)
        Y = (X[:1] > 0).astype(np.float64)
        p0 = r2.initialize_parameters_v2(dims, "he", seed=3)
        tr = Trainer(X, Y, p0, TrainingConfig(learning_rate=0.01, optimizer="adam", **kw))
        return tr._engine.thin

    assert thin([3, 5, 1]) and thin([2, 20, 3, 1]) and thin([2, 32, 1])
    assert not thin([3, 22, 1]) and not thin([9, 8, 1])         # 66 and 72 weights
    assert not thin([3, 5, 1], hidden_activation="tanh")
    assert not thin([3, 5, 1], dtype="float32")
    monkeypatch.setenv("FASTDNN_THIN", "force")
    assert thin([3, 22, 1]) and thin([3, 64, 1]) and not thin([3, 65, 1])
    monkeypatch.setenv("FASTDNN_THIN", "0")
    assert not thin([3, 5, 1])
