"""The course shuffle's permutations drawn by a second thread while the loop trains alone
(``fastdnn.threads.permutation_helper``, ``fastdnn._core.loop``'s ``_epochs_helped``).

The helper draws the permutations the loop would draw itself, from the same generators in
the same order, and the loop copies each into its own buffer before its epoch: a run with
the helper must equal the run without it bit for bit (parameters and every recorded cost),
for either dtype, any output, dropout, L2, sample weights, a short last batch, a learning
rate schedule, and runs split into several calls; and the engine must report that the
helper ran (so that the equality is not two runs without it)."""
import numpy as np
import pytest

from fastdnn import threads as fthreads
from fastdnn._core import loop
from fastdnn.training import Trainer, TrainingConfig

from tests import reference_v2 as r2
from tests.training_runs import train_in_chunks

pytestmark = pytest.mark.skipif(not loop.HAVE_TEAMS,
                                reason="fastdnn._core.loop was built without OpenMP")

CASES = [
    # (output, n_out, dtype, optimizer, extra config, sample weights)
    ("softmax", 4, "float32", "adam", {}, False),
    ("softmax", 3, "float64", "adam", dict(lambd=0.3), True),
    ("sigmoid", 1, "float64", "momentum", dict(keep_prob=0.8), False),
    ("sigmoid", 2, "float32", "gd", dict(lambd=0.1, keep_prob=0.9), True),
    ("identity", 2, "float64", "adam", {}, False),
]


def _decay(learning_rate0, epoch, decay_rate):
    """The course's update_lr: a rate for each epoch (the loop's lrs differ epoch by epoch)."""
    return learning_rate0 / (1 + decay_rate * epoch)


def _train(X, Y, P, cfg, helper, w, chunks):
    return train_in_chunks(X, Y, P, cfg, w, chunks, _forced_helper=helper)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[2]}-{c[3]}")
def test_helper_run_is_the_lone_run_bit_for_bit(case):
    output, n_out, dtype, opt, extra, weighted = case
    X, Y, n_out = r2.make_problem(output, n_x=7, m=203, n_out=n_out, seed=5)
    X = np.asarray(X, dtype=dtype, order="F")
    if output != "softmax":
        Y = Y.astype(dtype)
    rs = np.random.RandomState(1)
    dims = [7, 9, 5, n_out]
    P = {}
    for l in range(1, len(dims)):
        P[f"W{l}"] = (rs.randn(dims[l], dims[l - 1]) * 0.4).astype(dtype)
        P[f"b{l}"] = np.zeros((dims[l], 1), dtype)
    w = rs.rand(203).astype(dtype) + 0.5 if weighted else None
    cfg = TrainingConfig(learning_rate=0.01, output=output, optimizer=opt,
                         mini_batch_size=16, shuffle="course", seed=4, dtype=dtype,
                         threads=2, solver="primal", decay=_decay, decay_rate=0.5,
                         **extra)
    # runs of several epochs (the loop runs up to each recorded epoch at a time, every
    # third): helped; runs of one epoch: alone
    chunks = (1, 5, 7)
    tr0, P0, c0 = _train(X, Y, P, cfg, False, w, chunks)
    tr1, P1, c1 = _train(X, Y, P, cfg, True, w, chunks)
    assert tr0._engine.workers == 1 and tr1._engine.workers == 1
    assert tr0._engine.helped_runs == 0
    assert tr1._engine.helped_runs >= 3
    assert len(c0) == len(c1) == 5
    np.testing.assert_array_equal(np.array(c1), np.array(c0))
    for k in P0:
        np.testing.assert_array_equal(P1[k], P0[k], err_msg=k)
    # and both are the course's permutations: the reference's parameters
    if dtype == "float64" and not weighted and "keep_prob" not in extra:
        ref_p, _ = r2.train_v2(X, Y, dims, learning_rate=0.01, num_iterations=13,
                               output=output, optimizer=opt, mini_batch_size=16, seed=4,
                               decay=_decay, decay_rate=0.5, record_every=1, parameters=P,
                               **extra)
        for k in ref_p:
            np.testing.assert_allclose(P1[k], ref_p[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_the_rule():
    """A second thread only where two are allowed, two cores are there and an epoch has
    at least PERM_HELPER_MIN_WORK multiply-adds."""
    two = fthreads.available_cores() >= 2
    big = fthreads.PERM_HELPER_MIN_WORK
    assert fthreads.permutation_helper(1) is False
    assert fthreads.permutation_helper(2) is two
    assert fthreads.permutation_helper(2, big - 1) is False
    assert fthreads.permutation_helper(2, big) is two
    # (two hidden layers: a net of one trains on a team splitting its units where it can,
    # tests/test_unit_split.py)
    for dims, m, helped in (([5, 4, 3, 3], 100, False), ([30, 20, 5, 3], 2000, True)):
        X, Y, n = r2.make_problem("softmax", n_x=dims[0], m=m, n_out=3, seed=2)
        P = r2.initialize_parameters_v2(dims, "seed")
        assert (3 * m * sum(dims[l] * dims[l - 1] for l in range(1, len(dims)))
                >= big) is helped
        for threads in (1, 2):
            tr = Trainer(X, Y, P, TrainingConfig(output="softmax", optimizer="adam",
                                                 mini_batch_size=50, threads=threads))
            tr.run(3, record_every=0)
            on = threads == 2 and two and helped
            assert tr._engine.permutation_helper is on
            assert tr._engine.helped_runs == int(on)


@pytest.mark.parametrize("m, mb, epochs, slots", [(203, 16, 40, 16), (70000, 7000, 7, 2)])
def test_the_ring_wraps(m, mb, epochs, slots):
    """More epochs in one run than the ring holds (16 permutations; 2 of a large m): the
    helper waits for free slots, and the run is still the lone one bit for bit."""
    X, Y, n = r2.make_problem("softmax", n_x=3, m=m, n_out=3, seed=8)
    P = r2.initialize_parameters_v2([3, 4, n], "seed")
    cfg = TrainingConfig(learning_rate=0.05, output="softmax", optimizer="adam",
                         mini_batch_size=mb, seed=3, threads=2, solver="primal")
    tr0, P0, _ = _train(X, Y, P, cfg, False, None, ())
    tr1, P1, _ = _train(X, Y, P, cfg, True, None, ())
    tr0.run(epochs, record_every=0)
    tr1.run(epochs, record_every=0)
    assert tr1._engine.helped_runs == 1 and tr0._engine.helped_runs == 0
    assert tr1._engine.permutation_slots == slots
    P0, P1 = tr0.parameters(), tr1.parameters()
    for k in P0:
        np.testing.assert_array_equal(P1[k], P0[k], err_msg=k)
