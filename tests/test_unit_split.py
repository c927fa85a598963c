"""A team of two splitting the first hidden layer's units (``Engine.unit_split``,
``fastdnn._core.loop``'s ``_step_us``).

Each thread owns half of layer 1's units (their rows of W1, b1 and columns of W2, with the
optimiser's state) and both add up layer 2's two partial sums and run the rest of a deeper
net (its tail: layers 3..L) on their own copies: the run must be the
course's training to rounding (float64 against the independent numpy reference,
``tests/reference_v2.py``, for every output, optimiser, L2 with its costs, sample weights,
both orders of X, the course shuffle, batches in place and the full batch), the same run
twice must agree bit for bit, a float32 run must stay within float32's rounding of the lone
thread's, and the engine must report that the split ran (so that the comparisons are not
of runs without it), with one hidden layer and with more.  Where the step does not allow
it (dropout, a first hidden layer of one vector's lanes or fewer, another activation), the
setting does not hold; where it would not pay (a small step, a large tail), the rule of
``fastdnn.threads.unit_split`` does not take it."""
import numpy as np
import pytest

from fastdnn._core import loop
from fastdnn.training import Trainer, TrainingConfig

from tests import reference_v2 as r2
from tests.training_runs import train_in_chunks

pytestmark = pytest.mark.skipif(
    not loop.HAVE_TEAMS or not loop.GEMM_AVX512,
    reason="the unit split needs a build with OpenMP and a processor with AVX-512")

CASES = [
    # (output, n_out, optimizer, extra config, sample weights, X order, shuffle, batch,
    #  hidden layers)
    ("softmax", 4, "adam", {}, False, "F", "course", 16, (40,)),
    ("softmax", 3, "adam", dict(lambd=0.3), True, "C", "course", 32, (40,)),
    ("sigmoid", 1, "momentum", {}, False, "F", "course", 20, (40,)),
    ("sigmoid", 2, "gd", dict(lambd=0.1), True, "C", "none", 16, (40,)),
    ("identity", 2, "adam", {}, False, "F", "none", 203, (40,)),
    ("softmax", 4, "adam", dict(lambd=0.2), True, "F", "course", 16, (40, 9)),
    ("sigmoid", 1, "momentum", dict(lambd=0.1), False, "C", "course", 20, (40, 12, 6)),
    ("identity", 2, "gd", {}, True, "F", "none", 32, (40, 17)),
    ("sigmoid", 2, "adam", {}, False, "C", "none", 203, (33, 8, 5)),
]


def _problem(output, n_out, dtype, order, seed=5, m=203, n_x=7, hidden=40):
    """A problem of r2.make_problem's and initial parameters; ``hidden``: the hidden
    layers' sizes (an int: one hidden layer)."""
    X, Y, n_out = r2.make_problem(output, n_x=n_x, m=m, n_out=n_out, seed=seed)
    X = np.asarray(X, dtype=dtype, order=order)
    if output != "softmax":
        Y = Y.astype(dtype)
    rs = np.random.RandomState(1)
    dims = [n_x, *np.atleast_1d(hidden).tolist(), n_out]
    P = {}
    for l in range(1, len(dims)):
        P[f"W{l}"] = (rs.randn(dims[l], dims[l - 1]) * 0.4).astype(dtype)
        P[f"b{l}"] = (rs.randn(dims[l], 1) * 0.1).astype(dtype)
    return X, Y, dims, P


def _train(X, Y, P, cfg, split, w, chunks):
    return train_in_chunks(X, Y, P, cfg, w, chunks, _forced_unit_split=split)


@pytest.mark.parametrize("case", CASES,
                         ids=lambda c: f"{c[0]}-{c[2]}-{c[5]}-{c[6]}-{len(c[8])}hidden")
def test_unit_split_is_the_course_training(case):
    output, n_out, opt, extra, weighted, order, shuffle, mb, hidden = case
    X, Y, dims, P = _problem(output, n_out, "float64", order, hidden=hidden)
    w = np.random.RandomState(2).rand(203) + 0.5 if weighted else None
    cfg = TrainingConfig(learning_rate=0.01, output=output, optimizer=opt,
                         mini_batch_size=mb, shuffle=shuffle, seed=4, dtype="float64",
                         threads=2, solver="primal", **extra)
    chunks = (1, 5, 7)          # runs in pieces: each starts from the last one's state
    tr0, P0, c0 = _train(X, Y, P, cfg, False, w, chunks)
    tr1, P1, c1 = _train(X, Y, P, cfg, True, w, chunks)
    assert tr0._engine.workers == 1 and tr0._engine.unit_split_runs == 0
    assert tr1._engine.workers == 2 and tr1._engine.unit_split
    assert tr1._engine.unit_split_runs >= 3
    assert len(c0) == len(c1) == 5
    np.testing.assert_allclose(np.array(c1), np.array(c0), rtol=1e-12)
    ref_p, ref_c = r2.train_v2(X, Y, dims, learning_rate=0.01, num_iterations=13,
                               output=output, optimizer=opt, mini_batch_size=mb, seed=4,
                               shuffle=shuffle, record_every=1, parameters=P,
                               sample_weight=w, **extra)
    for k in ref_p:
        np.testing.assert_allclose(P1[k], ref_p[k], rtol=1e-9, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(P1[k], P0[k], rtol=1e-9, atol=1e-12, err_msg=k)
    # the last step's gradients are the engine's too (Engine.grads)
    g0, g1 = tr0._engine.grads, tr1._engine.grads
    for a, b in zip(g0, g1):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("hidden", [48, (48, 20)], ids=["1hidden", "2hidden"])
def test_unit_split_float32_repeats_bit_for_bit_and_is_the_lone_run_to_rounding(hidden):
    X, Y, dims, P = _problem("softmax", 10, "float32", "F", m=500, n_x=30, hidden=hidden)
    cfg = TrainingConfig(learning_rate=0.003, output="softmax", optimizer="adam",
                         mini_batch_size=32, seed=1, dtype="float32", threads=2,
                         solver="primal")
    _, Pa, ca = _train(X, Y, P, cfg, True, None, (2, 3))
    trb, Pb, cb = _train(X, Y, P, cfg, True, None, (2, 3))
    _, P0, c0 = _train(X, Y, P, cfg, False, None, (2, 3))
    assert trb._engine.unit_split_runs >= 2
    assert ca == cb
    for k in Pa:
        np.testing.assert_array_equal(Pa[k], Pb[k], err_msg=k)
        np.testing.assert_allclose(Pa[k], P0[k], rtol=2e-3, atol=2e-5, err_msg=k)
    np.testing.assert_allclose(ca, c0, rtol=1e-4)


@pytest.mark.parametrize("what", ["dropout", "narrow", "tanh", "narrow, two hidden"])
def test_unit_split_holds_only_where_the_step_allows_it(what):
    hidden = 16 if what.startswith("narrow") else 40           # float32: 16 lanes
    if what == "narrow, two hidden":
        hidden = (16, 40)
    X, Y, dims, P = _problem("softmax", 3, "float32", "F", hidden=hidden)
    extra = {}
    if what == "dropout":
        extra["keep_prob"] = 0.8
    if what == "tanh":
        extra["hidden_activation"] = "tanh"
    cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                         mini_batch_size=16, seed=1, dtype="float32", threads=2,
                         solver="primal", **extra)
    tr, _, _ = _train(X, Y, P, cfg, True, None, (2,))
    assert not tr._engine.unit_split
    assert tr._engine.unit_split_runs == 0 and tr._engine.workers == 1


def test_the_rule():
    """fastdnn.threads.unit_split: two threads allowed, two cores there, steps of at least
    UNIT_SPLIT_MIN_WORK multiply-adds (one hidden layer) or UNIT_SPLIT_MIN_WORK_DEEP with a
    tail of at most UNIT_SPLIT_MAX_TAIL of them (more); and a Trainer takes it by its
    rule."""
    from fastdnn import threads as fthreads

    two = fthreads.available_cores() >= 2
    small, deep = fthreads.UNIT_SPLIT_MIN_WORK, fthreads.UNIT_SPLIT_MIN_WORK_DEEP
    share = fthreads.UNIT_SPLIT_MAX_TAIL
    assert fthreads.unit_split(1, 10 * small) is False
    assert fthreads.unit_split(2, small - 1) is False
    assert fthreads.unit_split(2, small) is two
    assert fthreads.unit_split(2, deep - 1, 1) is False
    assert fthreads.unit_split(2, deep, 1) is two
    assert fthreads.unit_split(2, 10 * deep, int(share * 10 * deep)) is two
    assert fthreads.unit_split(2, 10 * deep, int(share * 10 * deep) + 1) is False
    # [20, 40, 3] (one hidden layer); [60, 64, 32, 10] (a tail of 320 of 6,208 weights);
    # [60, 64, 64, 64, 10] (a tail of 4,736 of 12,032)
    taken = set()
    for hidden in (40, (64, 32), (64, 64, 64)):
        n_x = 20 if hidden == 40 else 60
        X, Y, dims, P = _problem("softmax", 3 if hidden == 40 else 10, "float32", "F",
                                 n_x=n_x, hidden=hidden)
        for threads, mb in ((1, 32), (2, 32), (2, 8), (2, 203)):
            cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                                 mini_batch_size=mb, seed=1, dtype="float32",
                                 threads=threads)
            tr = Trainer(X, Y, {k: v.copy() for k, v in P.items()}, cfg)
            tr.run(2, record_every=0)
            work, tail = tr._engine.step_work, tr._engine.tail_work
            assert tail == 3 * mb * sum(dims[l] * dims[l - 1] for l in range(3, len(dims)))
            if tail:
                on = threads == 2 and two and work >= deep and tail <= share * work
            else:
                on = threads == 2 and two and work >= small
            assert tr._engine.unit_split is on, (hidden, threads, mb, work)
            assert tr._engine.unit_split_runs == int(on)
            if on:
                assert tr._engine.workers == 2
                taken.add((len(dims), mb))
    # the rule took both kinds of net (where two cores are there), and not a deep one's
    # small step
    assert taken == ({(3, 32), (3, 203), (4, 203)} if two else set())


def _split_against_lone(epochs, lag=(0, 0), hidden=40, **extra):
    """softmax [30, hidden, 5] on 300 examples in batches of 64 (the last one of 44), Adam,
    float64, every epoch's cost recorded (a run an epoch): the unit split's run (its threads
    pausing ``lag`` microseconds after each exchange) against the lone loop's, costs to
    1e-12 and parameters to 1e-9."""
    X, Y, dims, P = _problem("softmax", 5, "float64", "C", m=300, n_x=30, hidden=hidden)
    cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                         mini_batch_size=64, seed=4, dtype="float64", threads=2,
                         solver="primal", **extra)
    out = {}
    for split in (False, True):
        tr = Trainer(X, Y, {k: v.copy() for k, v in P.items()}, cfg)
        tr._forced_unit_split = split
        tr._engine._unit_split_lag = lag
        out[split] = (np.asarray(tr.run(epochs, record_every=1)), tr.parameters())
        assert (tr._engine.unit_split_runs > 0) is split
    np.testing.assert_allclose(out[True][0], out[False][0], rtol=1e-12)
    for k in P:
        np.testing.assert_allclose(out[True][1][k], out[False][1][k], rtol=1e-9, atol=1e-12,
                                   err_msg=k)


@pytest.mark.parametrize("hidden", [40, (40, 9)], ids=["1hidden", "2hidden"])
def test_every_epochs_cost_with_the_l2_term(hidden):
    """The L2 term's shares (each thread sums its own parameters' squares) are read by
    thread 0 after the exchange while thread 1 may already be in the next step: they
    alternate by the step's parity as P does.  Thirty epochs of short steps, every cost
    recorded, against the lone loop's (a single buffer made about one run in five
    differ)."""
    _split_against_lone(30, hidden=hidden, lambd=0.1)


def test_a_team_of_one_trains_the_engines_arrays():
    """Where OpenMP gives the team one thread (OMP_THREAD_LIMIT=1 here), the lone step
    trains the engine's own arrays and the split's stale copies are not written back: the
    run equals the lone run bit for bit, and no unit-split run is counted."""
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np
        from tests.test_unit_split import _problem, _train
        from fastdnn.training import TrainingConfig
        X, Y, dims, P = _problem("softmax", 4, "float64", "F")
        cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                             mini_batch_size=16, seed=4, dtype="float64", threads=2,
                             solver="primal")
        t0, P0, c0 = _train(X, Y, P, cfg, False, None, (3,))
        t1, P1, c1 = _train(X, Y, P, cfg, True, None, (3,))
        assert t1._engine.unit_split and t1._engine.unit_split_runs == 0
        for k in P0:
            np.testing.assert_array_equal(P1[k], P0[k], err_msg=k)
            assert not np.array_equal(P1[k], P[k]), k
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("hidden", [40, (40, 9)], ids=["1hidden", "2hidden"])
@pytest.mark.parametrize("lag", [(0, 300), (300, 0)], ids=["thread 1 slow", "thread 0 slow"])
def test_a_slow_thread_and_a_short_last_batch(lag, hidden):
    """Either thread made the slower one (a pause after each exchange: the other runs a
    step ahead and writes the next step's share meanwhile), with a shorter last batch (the
    shares' buffers stay at a full batch's places: placed by the short batch's size, the
    next share overlapped the one being read, and the run went wrong when a thread fell
    behind): the run equals the lone run to rounding."""
    import sys
    if not sys.platform.startswith("linux"):
        pytest.skip("the pause is Linux only")
    _split_against_lone(3, lag, hidden)
