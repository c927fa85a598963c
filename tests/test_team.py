"""The general loop's team of threads (``fastdnn._core.loop``, ``fastdnn.threads.team_size``).

With a team, every thread takes a block of each large product's output and of the
elementwise work on it, and a slice of each optimiser pass.  Each element is still
computed by one thread with the operations of the single-threaded loop; only BLAS may sum
a block of a product in another order than the whole.  So a run on a team of 2, 3 or 4
threads must equal the run on one thread to rounding (1e-12 relative in float64, 1e-4 in
float32, where Adam's division by sqrt(S) magnifies a rounding of a small gradient over a
few steps), for every optimiser, output, activation, shuffle mode, storage order of X,
dropout, L2 and sample weights; and in float64 the course's formulas in plain numpy
(tests/reference_v2.py) within 1e-9.  The sizes are chosen so that products are split by
rows and by columns, and the last batch is a short one.
"""
import multiprocessing as mp
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastdnn import threads as fthreads
from fastdnn._core import loop
from fastdnn.training import Trainer, TrainingConfig

from tests import reference_v2 as r2

pytestmark = pytest.mark.skipif(not loop.HAVE_TEAMS,
                                reason="fastdnn._core.loop was built without OpenMP")

TOL = {"float64": 1e-12, "float32": 1e-4}
EPOCHS = 3

# (dims, m, mini-batch): row splits (128 rows of Z1 over 64 columns), column splits (20
# rows of Z1 over 100 columns; G_W of 120 x 150) and unsplit small layers
SHAPES = {
    "tall": ([200, 128, 40], 230, 64),
    "wide": ([300, 20, 6], 250, 100),
    "deep": ([100, 150, 120], 150, 64),
    # over 2 MB of batch inputs (in float32 too): layer 1 gathers them chunk by chunk from
    # X (F order)
    "cat": ([8400, 12, 5], 150, 64),
}


def problem(shape, output, dtype, order="F", seed=0):
    dims, m, mb = SHAPES[shape]
    n_out = {"sigmoid": 1, "softmax": 4, "identity": 2, "exp": 2}[output]
    X, Y, n_out = r2.make_problem(output, n_x=dims[0], m=m, n_out=n_out, seed=seed)
    X = np.asarray(X, dtype=dtype, order=order)
    if output != "softmax":
        Y = Y.astype(dtype)
    rs = np.random.RandomState(seed + 1)
    dims = dims + [n_out]
    P = {}
    for l in range(1, len(dims)):
        P[f"W{l}"] = (rs.randn(dims[l], dims[l - 1]) * np.sqrt(1.0 / dims[l - 1])).astype(dtype)
        P[f"b{l}"] = (0.1 * rs.randn(dims[l], 1)).astype(dtype)
    return X, Y, P, dims, mb


def train(X, Y, P, cfg, workers, perms=None, sample_weight=None, epochs=EPOCHS):
    """``epochs`` epochs on a team of ``workers`` (threads=workers, any step size: the
    caller lowers TEAM_MIN_WORK; the teams that split the hidden units have their own
    tests, tests/test_unit_split.py); checks that the team ran."""
    tr = Trainer(X, Y, P, cfg.replace(threads=workers), sample_weight=sample_weight)
    tr._forced_unit_split = False
    if cfg.shuffle == "external":
        costs = [tr.run_epoch(perms[e]) for e in range(epochs)]
    else:
        costs = tr.run(epochs, record_every=1)
    assert tr._engine.workers == workers
    if workers > 1 and fthreads.TEAM_SPLIT_BATCH == 1:
        assert tr._engine.data_parallel == (cfg.keep_prob == 1
                                            and not tr._engine.chunk_gathers), \
            "the batch-splitting team did not run"
    return tr.parameters(), np.array(costs)


@pytest.fixture(autouse=True)
def any_step_on_a_team(monkeypatch):
    monkeypatch.setattr(fthreads, "TEAM_MIN_WORK", 1)


@pytest.fixture(params=["layers", "batch"])
def split(request, monkeypatch):
    """The team's two ways: each layer's products split (any batch), or each batch's
    examples (any batch; the engine keeps the layer split where the step needs it:
    dropout, the chunk-by-chunk gather)."""
    monkeypatch.setattr(fthreads, "TEAM_SPLIT_BATCH", 10 ** 9 if request.param == "layers" else 1)
    return request.param


def rel(a, b):
    return r2.rel_err(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def assert_close(P1, c1, P2, c2, tol, what):
    bad = {k: rel(P1[k], P2[k]) for k in P1 if not rel(P1[k], P2[k]) <= tol}
    assert not bad, f"{what}: parameters differ: {bad}"
    assert rel(c1, c2) <= tol, f"{what}: costs differ: {c1} vs {c2}"


CASES = [
    # (shape, output, hidden, optimizer, extra config, order, weighted)
    ("tall", "softmax", "relu", "adam", {}, "F", False),
    ("tall", "sigmoid", "tanh", "momentum", dict(lambd=0.7, keep_prob=0.8), "F", False),
    ("tall", "identity", "relu", "sgd", dict(loss_convention="sklearn"), "C", True),
    ("wide", "sigmoid", "relu", "adam", dict(keep_prob=0.7), "F", False),
    ("wide", "softmax", "sigmoid", "adam_sklearn", dict(loss_convention="sklearn",
                                                        lambd=0.3), "C", True),
    ("wide", "exp", "relu", "gd", {}, "F", False),
    ("deep", "softmax", "relu", "adam", dict(lambd=0.2), "F", True),
    ("deep", "identity", "tanh", "sgd", dict(nesterov=False, loss_convention="sklearn",
                                             shuffle="none"), "F", False),
    ("deep", "sigmoid", "relu", "momentum", dict(shuffle="none", mini_batch_size=None),
     "C", False),
    ("cat", "sigmoid", "relu", "adam", dict(lambd=0.4), "F", False),
    ("cat", "softmax", "tanh", "sgd", dict(loss_convention="sklearn", keep_prob=0.9), "F",
     True),
    ("cat", "identity", "relu", "adam_sklearn", dict(loss_convention="sklearn",
                                                     shuffle="none"), "F", False),
    ("cat", "sigmoid", "relu", "momentum", {}, "C", False),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[5]}")
def test_team_equals_one_thread(case, dtype, split):
    shape, output, hidden, opt, extra, order, weighted = case
    X, Y, P, dims, mb = problem(shape, output, dtype, order)
    kw = dict(learning_rate=0.002, hidden_activation=hidden, output=output, optimizer=opt,
              mini_batch_size=mb, seed=3, dtype=dtype, solver="primal")
    kw.update(extra)
    cfg = TrainingConfig(**kw)
    w = None
    if weighted:
        w = np.random.RandomState(5).uniform(0.5, 2.0, X.shape[1])
    P1, c1 = train(X, Y, P, cfg, 1, sample_weight=w)
    assert np.all(np.isfinite(c1))
    for team in (2, 3):
        P2, c2 = train(X, Y, P, cfg, team, sample_weight=w)
        assert_close(P1, c1, P2, c2, TOL[dtype], f"team of {team}")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_team_equals_numpy_reference(shape, split):
    """The course's formulas in numpy (Adam, dropout, L2, course 2's shuffles)."""
    X, Y, P, dims, mb = problem(shape, "sigmoid", "float64")
    kw = dict(learning_rate=0.01, optimizer="adam", mini_batch_size=mb, lambd=0.5,
              keep_prob=1.0, seed=4)
    P2, c2 = train(X, Y, P, TrainingConfig(dtype="float64", solver="primal", **kw), 2)
    ref_p, ref_c = r2.train_v2(X, Y, dims, parameters=P, num_iterations=EPOCHS,
                               record_every=1, **kw)
    assert_close(ref_p, np.array(ref_c), P2, c2, 1e-9, "reference")


def test_team_external_shuffle(split):
    X, Y, P, dims, mb = problem("tall", "softmax", "float64")
    cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam_sklearn",
                         mini_batch_size=mb, shuffle="external", loss_convention="sklearn",
                         solver="primal")
    perms = [np.random.RandomState(e).permutation(X.shape[1]) for e in range(EPOCHS)]
    P1, c1 = train(X, Y, P, cfg, 1, perms=perms)
    P2, c2 = train(X, Y, P, cfg, 2, perms=perms)
    assert_close(P1, c1, P2, c2, TOL["float64"], "external shuffle")


def test_team_size_rule(monkeypatch):
    """threads (else BLAS's count), at most one per TEAM_MIN_WORK / 2 multiply-adds of a
    step (none below TEAM_MIN_WORK)."""
    monkeypatch.undo()
    big = fthreads.TEAM_MIN_WORK
    assert fthreads.team_size(2, big) == 2
    assert fthreads.team_size(4, big) == 2          # TEAM_MIN_WORK / 2 per member
    assert fthreads.team_size(4, 2 * big) == 4
    assert fthreads.team_size(64, 3 * big) == 6
    assert fthreads.team_size(2, big - 1) == 1
    assert fthreads.team_size(1, 10 * big) == 1
    monkeypatch.delenv(fthreads.ENV_VAR, raising=False)
    # threads=None: as many as BLAS would use, a caller's threadpool_limits included
    huge = 100 * big
    assert fthreads.team_size(None, huge) == fthreads.blas_threads()
    with threadpool_limits(1):
        assert fthreads.team_size(None, huge) == 1
    with threadpool_limits(2):
        assert fthreads.blas_threads() >= 1
        assert fthreads.team_size(None, huge) == fthreads.blas_threads()
    monkeypatch.setenv(fthreads.ENV_VAR, "3")
    assert fthreads.team_size(None, huge) == 3


def test_team_needs_work_per_example_above_the_calibration_batch(monkeypatch):
    """Above TEAM_BATCH examples a step needs TEAM_MIN_WORK / TEAM_BATCH multiply-adds per
    example: scikit-learn's digits net ([64, 100, 10], batch 200: 4.4 million multiply-adds a
    step, 22,200 an example) runs alone, a net of 3 times its weights on a team; batches
    of at most TEAM_BATCH keep the plain rule."""
    monkeypatch.undo()
    big, nb = fthreads.TEAM_MIN_WORK, fthreads.TEAM_BATCH
    digits = 3 * 200 * (64 * 100 + 100 * 10)
    assert digits > big
    assert fthreads.team_size(2, digits, 200) == 1
    assert fthreads.team_size(2, 3 * digits, 200) == 2
    assert fthreads.team_min_work(200) == big * 200 // nb
    for batch in (None, 1, 32, nb):
        assert fthreads.team_min_work(batch) == big
        assert fthreads.team_size(2, big, batch) == 2
        assert fthreads.team_size(2, big - 1, batch) == 1
    assert fthreads.team_size(2, big * 4, 4 * nb) == 2
    assert fthreads.team_size(2, big * 4 - 1, 4 * nb) == 1


def test_a_float64_team_splitting_the_batch_needs_less_work_per_example(monkeypatch):
    """From TEAM_SPLIT_BATCH examples a float64 team (splitting the batch) needs
    TEAM_SPLIT_SHARE_F64 of the work per example: a [128, 64, 10] net at batch 200 (26,500
    multiply-adds an example) on a team in float64, alone in float32; scikit-learn's digits
    net (22,200) alone in both."""
    monkeypatch.undo()
    net = 3 * 200 * (128 * 64 + 64 * 10)
    digits = 3 * 200 * (64 * 100 + 100 * 10)
    assert fthreads.team_size(2, net, 200, "float64") == 2
    assert fthreads.team_size(2, net, 200, "float32") == 1
    assert fthreads.team_size(2, net, 200) == 1
    for dtype in ("float64", "float32"):
        assert fthreads.team_size(2, digits, 200, dtype) == 1
    # below TEAM_SPLIT_BATCH the layers are split: the share does not apply
    batch = fthreads.TEAM_SPLIT_BATCH - 1
    assert fthreads.team_min_work(batch, "float64") == fthreads.team_min_work(batch)
    assert fthreads.team_min_work(200, "float64") == int(
        fthreads.TEAM_MIN_WORK * 200 // fthreads.TEAM_BATCH * fthreads.TEAM_SPLIT_SHARE_F64)


def test_trainer_picks_the_team(monkeypatch):
    """A large step runs on the team (BLAS single-threaded meanwhile); a small one, the
    gram solver and threads=1 run alone."""
    monkeypatch.undo()
    rs = np.random.RandomState(0)
    X = rs.rand(800, 300)
    Y = (rs.rand(1, 300) < 0.5).astype(float)
    P = {"W1": 0.01 * rs.randn(256, 800), "b1": np.zeros((256, 1)),
         "W2": 0.01 * rs.randn(1, 256), "b2": np.zeros((1, 1))}
    cfg = TrainingConfig(optimizer="adam", mini_batch_size=100, threads=2, solver="primal")
    tr = Trainer(X, Y, P, cfg)
    assert tr._engine.step_work >= fthreads.TEAM_MIN_WORK
    tr.run(2, record_every=0)
    assert tr._engine.workers == 2
    tr.run_epoch()
    assert tr._engine.workers == 2
    alone = Trainer(X, Y, P, cfg.replace(threads=1))
    alone.run(3, record_every=0)
    assert alone._engine.workers == 1
    assert_close(tr.parameters(), np.zeros(1), alone.parameters(), np.zeros(1),
                 TOL["float64"], "threads=2 vs threads=1")
    small = Trainer(X[:20], Y, {"W1": P["W1"][:4, :20], "b1": P["b1"][:4],
                                "W2": P["W2"][:, :4], "b2": P["b2"]}, cfg)
    small.run(1, record_every=0)
    assert small._engine.workers == 1
    gram = Trainer(X, Y, P, cfg.replace(optimizer="momentum", solver="gram"))
    gram.run(1, record_every=0)
    assert gram._engine.workers == 1


def _child_train(q):
    X, Y, P, dims, mb = problem("tall", "softmax", "float64")
    cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                         mini_batch_size=mb, solver="primal", dtype="float64")
    q.put(train(X, Y, P, cfg, 2)[0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_forked_child_after_a_team_does_not_hang():
    """GNU OpenMP's threads do not survive fork(): a child of a process that ran a team
    runs its epochs alone (the same numbers) instead of waiting for them forever."""
    X, Y, P, dims, mb = problem("tall", "softmax", "float64")
    cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                         mini_batch_size=mb, solver="primal", dtype="float64")
    P_parent, _ = train(X, Y, P, cfg, 2)          # the parent has run a team
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child_train, args=(q,))
    proc.start()
    try:
        P_child = q.get(timeout=120)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == 0
    assert_close(P_parent, np.zeros(1), P_child, np.zeros(1), TOL["float64"], "forked child")


def test_teams_from_several_python_threads():
    """Python threads that each train on a team of 2 at once get the lone runs' numbers
    (each caller's team is its own)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for k, shape in enumerate(("tall", "deep", "tall", "deep")):
        X, Y, P, dims, mb = problem(shape, "softmax", "float64", seed=k)
        cfg = TrainingConfig(learning_rate=0.01, output="softmax", optimizer="adam",
                             mini_batch_size=mb, solver="primal", dtype="float64")
        jobs.append((X, Y, P, cfg))
    alone = [train(X, Y, P, cfg, 1) for X, Y, P, cfg in jobs]
    before = fthreads.blas_threads()
    with ThreadPoolExecutor(len(jobs)) as ex:
        together = list(ex.map(lambda j: train(*j, 2), jobs))
    for k, ((P1, c1), (P2, c2)) in enumerate(zip(alone, together)):
        assert_close(P1, c1, P2, c2, TOL["float64"], f"job {k}")
    # their overlapping BLAS limits leave the process's count as it was
    assert fthreads.blas_threads() == before


@pytest.mark.parametrize("order,output,n_out", [("F", "sigmoid", 1), ("F", "softmax", 3),
                                                ("C", "identity", 2)])
def test_single_wide_layer(order, output, n_out):
    """One layer (layer 1 is the output layer: its gradient chunk by chunk, and in F order
    its batch gathered chunk by chunk): alone and on a team, the numpy reference."""
    n0 = 9000
    X, Y, _ = r2.make_problem(output, n_x=n0, m=150, n_out=n_out)
    X = np.asarray(X, order=order)
    P = {"W1": np.random.RandomState(1).randn(n_out, n0) * 0.01, "b1": np.zeros((n_out, 1))}
    kw = dict(learning_rate=0.01, optimizer="adam", mini_batch_size=64, lambd=0.3, seed=4,
              output=output)
    ref_p, ref_c = r2.train_v2(X, Y, [n0, n_out], parameters=P, num_iterations=EPOCHS,
                               record_every=1, **kw)
    for team in (1, 2):
        P2, c2 = train(X, Y, P, TrainingConfig(dtype="float64", solver="primal", **kw), team)
        assert_close(ref_p, np.array(ref_c), P2, c2, 1e-9, f"team of {team}")
