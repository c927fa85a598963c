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


def assert_thin_is_the_layer_path(case, monkeypatch, masks=None):
    """The run of ``case`` (run()'s arguments) on the thin passes against the same run on
    the layer-by-layer path: finite costs, equal to rounding, and equal parameters."""
    got_p, got_c = run(*case, thin=True, monkeypatch=monkeypatch, masks=masks)
    want_p, want_c = run(*case, thin=False, monkeypatch=monkeypatch, masks=masks)
    assert np.all(np.isfinite(got_c))
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12, atol=0)
    for k in want_p:
        np.testing.assert_allclose(got_p[k], want_p[k], rtol=1e-11, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-m{c[1]}-{c[2]}-mb{c[3]}")
def test_thin_passes_equal_the_layer_by_layer_path(case, monkeypatch):
    assert_thin_is_the_layer_path(case, monkeypatch)


@pytest.mark.parametrize("m", range(4, 42))
def test_thin_every_width_of_the_last_block(m, monkeypatch):
    """Batches of 4..41 examples: the last block's 1..4 vectors (each its own code) and
    1..8 examples in its last vector, with dropout and without, weighted and not (below 4
    examples, fewer than the inputs, the engine takes another path)."""
    # momentum: plain gd on so few examples would take the gram solver (fastdnn.engine)
    case = ([3, 6, 5, 1], m, "momentum", None, 0.75 if m % 2 else 1.0, 0.0, m % 3 == 0, "C")
    assert_thin_is_the_layer_path(case, monkeypatch)


def test_thin_fixed_masks_equal_the_layer_by_layer_path(monkeypatch):
    dims, m = [2, 20, 3, 1], 211
    rng = np.random.RandomState(1)
    masks = [(rng.rand(n, m) < 0.86).astype(np.float64) for n in dims[1:-1]]
    assert_thin_is_the_layer_path((dims, m, "gd", None, 0.86, 0.0, False, "F"), monkeypatch,
                                  masks=masks)


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


def test_thin_dropout_division_is_the_quotient():
    """The step's x / keep_prob (on AVX-512 Markstein's correction of x * (1 / keep_prob),
    elsewhere the division) against numpy's division: the same double (==, signs of zeros
    included) for |x| in [2^-960, 2^1000], zeros, NaN and infinities; within an ulp outside
    that range.  In every build (the debug build's fused multiply-adds are calls)."""
    from fastdnn._core.loop import thin_divide

    rng = np.random.default_rng(5)
    n = 200_003                                  # a tail of 3 past the vectors of 8
    x = (rng.choice([-1.0, 1.0], n) * (1 + rng.random(n))          # every binade in range
         * np.exp2(rng.integers(-960, 999, n).astype(float)))
    x[::13] = 0.0
    x[1::17] = -0.0
    edge = np.array([np.nan, np.inf, -np.inf, 2.0 ** -960, -(2.0 ** 1000), 1.0, 0.5,
                     np.nextafter(1.0, 2.0), 3.0])
    x[5:5 + edge.size] = edge
    outside = np.array([2.0 ** -1000, -(2.0 ** -1022), 5e-324, 2.0 ** 1001, -1e305])
    for kp in (0.86, 0.8, 0.7, 0.5, 0.3, 0.999, 0.123456789, 1.0):
        got, want = thin_divide(x, kp), x / kp
        same = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (kp, x[~same][:5], got[~same][:5], want[~same][:5])
        np.testing.assert_array_max_ulp(thin_divide(outside, kp), outside / kp, maxulp=1)
    # a planted error: the correction step alone decides, so x * (1 / kp) is not enough
    assert np.any(x * (1 / 0.7) != x / 0.7)


TEAM_CASES = [
    # dims, m, optimizer, mini_batch_size, keep_prob, lambd, weights, fixed masks
    ([2, 10, 5, 1], 300, "gd", None, 1.0, 0.0, False, False),
    ([2, 20, 3, 1], 211, "gd", None, 0.86, 0.0, False, True),
    ([2, 20, 3, 1], 211, "gd", None, 1.0, 0.7, False, False),
    ([2, 5, 2, 1], 300, "adam", 64, 0.8, 0.0, False, False),
    ([3, 7, 2], 101, "momentum", None, 0.8, 0.3, True, False),
    ([4, 9, 1], 40, "gd", 40, 1.0, 0.0, True, False),
]


@pytest.mark.parametrize("case", TEAM_CASES, ids=lambda c: f"{c[0]}-m{c[1]}-{c[2]}-kp{c[4]}")
def test_thin_team_splitting_the_batch_equals_one_thread(case):
    """A thin net's one-pass step on a team of two, each thread its blocks of examples and
    its share of every gradient: one thread's numbers to rounding, costs and parameters
    (random and fixed dropout masks, sample weights, mini-batches, every optimiser kind)."""
    from fastdnn._core.loop import HAVE_TEAMS

    if not HAVE_TEAMS:
        pytest.skip("this build has no teams (compiled without OpenMP)")
    dims, m, optimizer, mb, keep_prob, lambd, weights, fixed = case
    rng = np.random.RandomState(sum(dims) + m)
    X = rng.randn(dims[0], m)
    Y = (rng.rand(dims[-1], m) > 0.5).astype(np.float64)
    w = rng.rand(m) + 0.5 if weights else None
    masks = ([(rng.rand(n, m) < keep_prob).astype(np.float64) for n in dims[1:-1]]
             if fixed else None)
    p0 = r2.initialize_parameters_v2(dims, "he", seed=3)
    cfg = TrainingConfig(learning_rate=0.01, optimizer=optimizer, mini_batch_size=mb,
                         keep_prob=keep_prob, lambd=lambd, seed=10,
                         shuffle="course" if mb else "none")
    out = {}
    for team in (1, 2):
        tr = Trainer(X, Y, p0, cfg, sample_weight=w, dropout_masks=masks, engine="loop")
        tr._forced_team = team
        assert tr._engine.thin
        costs = tr.run(30, record_every=1)
        assert tr._engine.data_parallel == (team > 1) and tr._engine.workers == team
        out[team] = tr.parameters(), np.array(costs)
    np.testing.assert_allclose(out[2][1], out[1][1], rtol=1e-12, atol=0)
    for k in out[1][0]:
        np.testing.assert_allclose(out[2][0][k], out[1][0][k], rtol=1e-11, atol=1e-14,
                                   err_msg=k)


def test_thin_team_size_rule():
    from fastdnn import threads
    from fastdnn._core.loop import HAVE_TEAMS

    assert threads.thin_team_size(2, 300, 75) == 1        # 52,500 < THIN_TEAM_WORK
    assert threads.thin_team_size(1, 10_000, 75) == 1
    assert threads.thin_team_size(8, 40, 4000) == 1       # one block of 32 a member
    assert threads.thin_team_size(2, 640, 75) == (2 if HAVE_TEAMS else 1)
    assert threads.thin_team_size(8, 96, 4000) == (3 if HAVE_TEAMS else 1)


def test_engine_loop_runs_the_seed_configuration_on_the_general_loop():
    """engine="loop": the seed's configuration on the general loop (course 2's models), the
    fused engine's numbers to rounding; a bad value is refused; a state resumes on it."""
    rng = np.random.RandomState(2)
    X = rng.randn(2, 300)
    Y = (rng.rand(1, 300) > 0.5).astype(np.float64)
    p0 = r2.initialize_parameters_v2([2, 10, 5, 1], "he", seed=3)
    cfg = TrainingConfig(learning_rate=0.1)
    fused = Trainer(X, Y, p0, cfg)
    loop = Trainer(X, Y, p0, cfg, engine="loop")
    assert fused.fused and not loop.fused and loop._engine.thin
    c1, c2 = fused.run(200, record_every=50), loop.run(200, record_every=50)
    np.testing.assert_allclose(c2, c1, rtol=1e-12)
    for k, v in fused.parameters().items():
        np.testing.assert_allclose(loop.parameters()[k], v, rtol=1e-10, atol=1e-13, err_msg=k)
    again = Trainer.from_state(X, Y, loop.state(), cfg, iteration=200, engine="loop")
    assert not again.fused
    loop.run(10, record_every=0)
    again.run(10, record_every=0)
    for k, v in loop.parameters().items():
        np.testing.assert_array_equal(again.parameters()[k], v, err_msg=k)
    with pytest.raises(ValueError, match="engine must be one of"):
        Trainer(X, Y, p0, cfg, engine="fused")
