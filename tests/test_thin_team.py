"""A thin net's full-batch team with one exchange a step (fastdnn/_core/loop.pyx's
_epochs_tp; Engine.one_exchange): each thread runs the one-pass step on its blocks of
examples, the threads exchange their shares of the gradients once, and every thread
updates its own copy of the parameters and optimiser state.  It must give the numpy
reference's numbers within 1e-9 and the lone thread's to rounding, keep every thread's
copy equal to the engine's bit for bit, and survive either thread being the slower one."""
import numpy as np
import pytest

from fastdnn import threads
from fastdnn.training import Trainer, TrainingConfig
from tests import reference_v2 as r2

pytestmark = pytest.mark.skipif(not threads._have_teams(),
                                reason="this build has no teams (compiled without OpenMP)")

CASES = [
    # dims, m, optimizer, lambd, keep_prob (fixed masks), sample weights, decay
    ([2, 10, 5, 1], 300, "gd", 0.0, 1.0, False, False),           # course 2's initialization
    ([2, 20, 3, 1], 211, "gd", 0.7, 1.0, False, False),           # regularization, L2
    ([2, 20, 3, 1], 211, "gd", 0.0, 0.86, False, False),          # regularization, dropout
    ([2, 10, 5, 1], 300, "momentum", 0.1, 0.8, True, True),
    ([3, 7, 9, 2], 131, "adam", 0.3, 1.0, True, False),
    ([2, 5, 2, 1], 65, "adam", 0.0, 0.9, False, True),             # a short last block
]

EPOCHS = 40


def problem(dims, m, keep_prob, weights):
    rng = np.random.RandomState(sum(dims) + m)
    X = np.ascontiguousarray(rng.randn(dims[0], m))
    Y = (rng.rand(dims[-1], m) > 0.5).astype(np.float64)
    w = rng.rand(m) + 0.5 if weights else None
    masks = ([(rng.rand(n, m) < keep_prob).astype(np.float64) for n in dims[1:-1]]
             if keep_prob < 1 else None)
    return X, Y, w, masks


def trainer(case, team):
    dims, m, optimizer, lambd, keep_prob, weights, decay = case
    X, Y, w, masks = problem(dims, m, keep_prob, weights)
    cfg = TrainingConfig(learning_rate=0.05, optimizer=optimizer, lambd=lambd,
                         keep_prob=keep_prob, decay=r2.update_lr if decay else None,
                         decay_rate=0.5)
    tr = Trainer(X, Y, r2.initialize_parameters_v2(dims, "he", seed=3), cfg, sample_weight=w,
                 dropout_masks=masks, engine="loop")
    tr._forced_team = team
    assert tr._engine.thin and tr._engine.one_exchange
    return tr


def reference(case):
    dims, m, optimizer, lambd, keep_prob, weights, decay = case
    X, Y, w, masks = problem(dims, m, keep_prob, weights)
    return r2.train_v2(X, Y, dims, learning_rate=0.05, num_iterations=EPOCHS,
                       optimizer=optimizer, lambd=lambd, keep_prob=keep_prob,
                       decay=r2.update_lr if decay else None, decay_rate=0.5,
                       parameters=r2.initialize_parameters_v2(dims, "he", seed=3),
                       dropout_masks=masks, sample_weight=w, record_every=1)


def assert_copies_equal_engine(tr):
    """Every array of thread 1's own copy equals the engine's, bit for bit."""
    eng = tr._engine
    state = tr.state()
    L = len(tr.parameters()) // 2
    names = {"W": "W%d", "b": "b%d", "VW": "v_W%d", "Vb": "v_b%d", "SW": "s_W%d",
             "Sb": "s_b%d"}
    seen = 0
    for l in range(1, L + 1):
        for name, key in names.items():
            copy = eng._thin_team_copy(1, name, l)
            if key % l not in state:
                assert copy is None, (name, l)
                continue
            want = np.asarray(state[key % l]).ravel()
            assert copy is not None and copy.tobytes() == want.tobytes(), (name, l)
            seen += 1
        for name, k in (("GW", 2 * (l - 1)), ("Gb", 2 * (l - 1) + 1)):
            copy = eng._thin_team_copy(1, name, l)
            assert copy.tobytes() == np.ascontiguousarray(eng.grads[k]).ravel().tobytes()
            seen += 1
    assert seen >= 4 * L


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-m{c[1]}-{c[2]}-kp{c[4]}")
def test_one_exchange_team_against_the_reference_and_one_thread(case):
    """Runs of up to 10 steps (the trainer's chunks end at each recorded epoch), the costs
    of epochs 0, 10, 20, 30 and the parameters."""
    want_p, want_c = reference(case)
    lone = trainer(case, 1)
    lone_c = np.array(lone.run(EPOCHS, record_every=10))
    team = trainer(case, 2)
    team_c = np.array(team.run(EPOCHS, record_every=10))
    assert team._engine.thin_team_runs >= 1 and lone._engine.thin_team_runs == 0
    assert np.all(np.isfinite(team_c))
    np.testing.assert_allclose(team_c, np.array(want_c)[::10], rtol=1e-9, atol=0)
    np.testing.assert_allclose(team_c, lone_c, rtol=1e-12, atol=0)
    got, alone = team.parameters(), lone.parameters()
    for k in want_p:
        np.testing.assert_allclose(got[k], want_p[k], rtol=1e-9, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(got[k], alone[k], rtol=1e-11, atol=1e-14, err_msg=k)
    assert_copies_equal_engine(team)


@pytest.mark.parametrize("case", CASES[1:5], ids=lambda c: f"{c[2]}-l{c[3]}-kp{c[4]}")
def test_one_exchange_team_costs_of_every_step_of_one_run(case):
    """One engine run of 40 steps with every step's cost asked for (the loss shares and
    the L2 term by step parity): the reference's costs."""
    dims, m, optimizer, lambd, keep_prob, weights, decay = case
    want_p, want_c = reference(case)
    tr = trainer(case, 2)
    lrs = np.array([r2.update_lr(0.05, e - 1, 0.5) if decay and e else 0.05
                    for e in range(EPOCHS)])
    got = np.zeros(EPOCHS)
    with tr._team():
        tr._engine.run(0, lrs, np.ones(EPOCHS, dtype=np.uint8), got)
    assert tr._engine.thin_team_runs == 1
    np.testing.assert_allclose(got, want_c, rtol=1e-9, atol=0)
    for k, v in tr.parameters().items():
        np.testing.assert_allclose(v, want_p[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("case", [CASES[3], CASES[4]], ids=["momentum", "adam"])
def test_one_exchange_team_in_pieces_is_one_run(case):
    """Runs of 7, 1 and 32 epochs: the same numbers, bit for bit, as one run of 40 (each
    run copies the engine's state to the other threads and counts its steps from 1)."""
    whole = trainer(case, 2)
    whole.run(EPOCHS, record_every=0)
    assert whole._engine.thin_team_runs == 1
    parts = trainer(case, 2)
    for count in (7, 1, 32):
        parts.run(count, record_every=0)
        assert_copies_equal_engine(parts)
    assert parts._engine.thin_team_runs == 3
    for k, v in whole.parameters().items():
        assert parts.parameters()[k].tobytes() == v.tobytes(), k


@pytest.mark.parametrize("case", [CASES[3], CASES[4]], ids=["momentum", "adam"])
def test_one_exchange_team_after_a_lone_run(case):
    """Team and lone runs in turn on one trainer: each team run starts from what the lone
    run left (parameters and optimiser state copied to the other threads)."""
    want_p, _ = reference(case)
    tr = trainer(case, 2)
    for team, count in ((2, 10), (1, 10), (2, 10), (1, 3), (2, 7)):
        tr._forced_team = team
        tr.run(count, record_every=0)
        if team == 2:
            assert_copies_equal_engine(tr)
    for k, v in tr.parameters().items():
        np.testing.assert_allclose(v, want_p[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("slow", [0, 1])
def test_one_exchange_team_with_a_slow_thread(slow):
    """Either thread made the slower one (a pause after each wait): the other runs up to
    the next step's wait meanwhile and writes the next step's shares; the numbers are the
    same as without the pause, bit for bit."""
    case = CASES[4]
    calm = trainer(case, 2)
    calm.run(30, record_every=0)
    lagged = trainer(case, 2)
    lagged._engine._thin_team_lag = (200, 0) if slow == 0 else (0, 200)
    lagged.run(30, record_every=0)
    assert lagged._engine.thin_team_runs == 1
    for k, v in calm.parameters().items():
        assert lagged.parameters()[k].tobytes() == v.tobytes(), k
    assert_copies_equal_engine(lagged)
    with pytest.raises(ValueError, match="lags"):
        lagged._engine._thin_team_lag = (-1, 0)


def test_one_exchange_only_where_it_applies():
    """The full batch in data order with masks given or none: one exchange; random masks,
    mini-batches, gradients alone: not (the team of _step_dp runs those)."""
    rng = np.random.RandomState(0)
    X = rng.randn(2, 100)
    Y = (rng.rand(1, 100) > 0.5).astype(np.float64)
    p0 = r2.initialize_parameters_v2([2, 6, 3, 1], "he", seed=3)

    def one(**kw):
        tr = Trainer(X, Y, p0, TrainingConfig(**kw), engine="loop")
        tr._forced_team = 2
        tr.run(3, record_every=0)
        return tr._engine.one_exchange, tr._engine.thin_team_runs > 0

    assert one() == (True, True)
    assert one(keep_prob=0.8) == (False, False)                 # masks drawn every step
    assert one(mini_batch_size=32, shuffle="course") == (False, False)
    assert one(mini_batch_size=32, shuffle="none") == (False, False)


def test_thin_team_size_rule_one_exchange():
    from fastdnn._core.loop import HAVE_TEAMS

    two = 2 if HAVE_TEAMS else 1
    # course 2's initialization net [2, 10, 5, 1] (75 weights) on its 300 examples: 52,500
    assert threads.thin_team_size(2, 300, 75) == 1
    assert threads.thin_team_size(2, 300, 75, one_exchange=True) == two
    # the regularization net [2, 20, 3, 1] (103 weights) on 211 examples: 42,833
    assert threads.thin_team_size(2, 211, 103, one_exchange=True) == two
    assert threads.thin_team_size(2, 128, 22, one_exchange=True) == two     # 15,616
    # below THIN_TEAM_WORK_ONE_EXCHANGE
    assert threads.thin_team_size(2, 64, 75, one_exchange=True) == 1        # 11,200
    assert threads.thin_team_size(2, 96, 22, one_exchange=True) == 1        # 11,712
    assert threads.thin_team_size(2, 64, 4000, one_exchange=True) == two
    assert threads.thin_team_size(2, 40, 4000, one_exchange=True) == 1   # one block a member
