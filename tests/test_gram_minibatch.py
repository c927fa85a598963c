"""The general loop's gram solver (issue 12): gd, momentum and scikit-learn's SGD with any
L2, dropout, sample weights, mini-batches in every shuffle mode, keep W1 as
a W_0 + b V_0 + K X^T; its runs equal

* the plain-numpy reference tests/reference_v2.py (the course's formulas), and
* the primal solver on the same run (within 1e-9 relative in float64: issue 12's bar),

and its state (the representation) resumes bit for bit.  Data are wide (n_x > m), where
"auto" picks it.
"""
import numpy as np
import pytest

import fastdnn
from fastdnn.training import Trainer, TrainingConfig, TrainingDiverged

from tests import reference_v2 as r2

N_X, M, EPOCHS = 40, 24, 12
TOL = {"float64": 1e-9, "float32": 2e-4}


def problem(output="sigmoid", seed=0):
    X, Y, n_out = r2.make_problem(output, n_x=N_X, m=M, seed=seed)
    return X, Y, [N_X, 6, 4, n_out]


def rel(a, b):
    return r2.rel_err(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def check(tr, costs, ref_p, ref_c, dtype, what):
    tol = TOL[dtype]
    p = tr.parameters()
    bad = {k: rel(p[k], ref_p[k]) for k in ref_p if not rel(p[k], ref_p[k]) <= tol}
    assert not bad, f"{what}: parameters off: {bad}"
    assert p["W1"].dtype == np.dtype(dtype)
    e = rel(costs, ref_c)
    assert e <= tol, f"{what}: costs off by {e:.2e}"


CASES = [
    # optimizer, mini_batch_size, lambd, keep_prob, shuffle, weighted, output
    ("gd", None, 0.0, 1.0, "course", False, "sigmoid"),
    ("gd", 7, 0.5, 0.8, "course", False, "sigmoid"),
    ("momentum", None, 0.3, 1.0, "course", False, "softmax"),
    ("momentum", 7, 0.0, 1.0, "course", False, "sigmoid"),
    ("momentum", 5, 0.5, 0.8, "none", True, "identity"),
    ("momentum", 10, 0.2, 0.8, "course", True, "softmax"),
    ("sgd", 7, 0.1, 1.0, "course", False, "sigmoid"),
    ("sgd", None, 0.0, 0.8, "course", True, "identity"),
]


def case_id(c):
    return "-".join(str(v) for v in c)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gram_equals_the_reference_and_the_primal_solver(case, dtype):
    opt, mb, lambd, kp, shuffle, weighted, output = case
    X, Y, dims = problem(output, seed=3)
    w = np.random.RandomState(5).rand(M) * 2 if weighted else None
    kw = dict(learning_rate=0.05, optimizer=opt, mini_batch_size=mb, lambd=lambd,
              keep_prob=kp, shuffle=shuffle, output=output, hidden_activation="tanh",
              dtype=dtype)
    p0 = r2.initialize_parameters_v2(dims, "he")
    ref_p, ref_c = r2.train_v2(X, Y, dims, parameters=p0, num_iterations=EPOCHS,
                               record_every=1, sample_weight=w, **kw)
    runs = {}
    for solver in ("gram", "auto", "primal"):
        tr = Trainer(X, Y, p0, TrainingConfig(solver=solver, **kw), sample_weight=w)
        costs = tr.run(EPOCHS, record_every=1)
        check(tr, costs, ref_p, ref_c, dtype, f"{solver} {case}")
        runs[solver] = tr
    assert runs["gram"].solver == runs["auto"].solver == "gram"
    assert runs["primal"].solver == "primal"
    g, p = runs["gram"], runs["primal"]
    for k, v in p.optimizer_state().items():
        assert rel(g.optimizer_state()[k], v) <= TOL[dtype], k
    assert g.t == p.t


@pytest.mark.parametrize("opt", ["gd", "momentum", "sgd"])
def test_external_shuffle(opt):
    X, Y, dims = problem("softmax", seed=4)
    rs = np.random.RandomState(1)
    perms = [rs.permutation(M) for _ in range(EPOCHS)]
    kw = dict(learning_rate=0.05, optimizer=opt, mini_batch_size=5, shuffle="external",
              output="softmax", lambd=1e-2, loss_convention="sklearn")
    p0 = r2.initialize_parameters_v2(dims, "glorot", seed=3)
    ref_p, ref_c = r2.train_v2(X, Y, dims, parameters=p0, num_iterations=EPOCHS,
                               record_every=1, perms=perms, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(solver="gram", **kw))
    costs = [tr.run_epoch(perm=q) for q in perms]
    check(tr, costs, ref_p, ref_c, "float64", f"external {opt}")


def test_state_resumes_bit_for_bit():
    X, Y, dims = problem(seed=6)
    kw = dict(learning_rate=0.05, optimizer="momentum", mini_batch_size=7, lambd=0.2,
              keep_prob=0.8)
    p0 = r2.initialize_parameters_v2(dims, "he")
    whole = Trainer(X, Y, p0, TrainingConfig(**kw))
    c_whole = whole.run(20, record_every=1)
    first = Trainer(X, Y, p0, TrainingConfig(**kw))
    c_first = first.run(9, record_every=1)
    state = first.state()
    assert "gram_K_W1" in state and first.solver == "gram"
    second = Trainer.from_state(X, Y, state, TrainingConfig(**kw), iteration=9)
    assert second.solver == "gram"
    c_second = second.run(11, record_every=1)
    np.testing.assert_array_equal(np.r_[c_first, c_second], c_whole)
    for k, v in whole.parameters().items():
        np.testing.assert_array_equal(second.parameters()[k], v)
    for k, v in whole.optimizer_state().items():
        np.testing.assert_array_equal(second.optimizer_state()[k], v)
    # reading the parameters in between changes nothing
    third = Trainer(X, Y, p0, TrainingConfig(**kw))
    for _ in range(4):
        third.run(5, record_every=0)
        third.parameters()
    for k, v in whole.parameters().items():
        np.testing.assert_array_equal(third.parameters()[k], v)


def test_state_continues_exactly_on_other_data():
    """The stored representation (K X^T) holds only for the X it was built on: on other
    data (scikit-learn's partial_fit on the next batch) the trainer bases it on the state's
    formed W1 and velocity, which is what the primal solver continues from."""
    X, Y, dims = problem(seed=6)
    kw = dict(learning_rate=0.05, optimizer="momentum", mini_batch_size=7, lambd=0.1)
    tr = Trainer(X, Y, r2.initialize_parameters_v2(dims, "he"), TrainingConfig(**kw))
    tr.run(3)
    state = tr.state()
    assert len(state["gram_X_sha256"]) == 32
    X2, Y2 = X[:, ::-1].copy(), Y[:, ::-1].copy()           # same shapes, other data
    for X_next, Y_next in ((X2, Y2), (X2[:, :-3], Y2[:, :-3])):
        g = Trainer.from_state(X_next, Y_next, state, TrainingConfig(**kw), iteration=3)
        p = Trainer.from_state(X_next, Y_next, state, TrainingConfig(solver="primal", **kw),
                               iteration=3)
        assert g.solver == "gram" and p.solver == "primal"
        cg, cp = g.run(5, record_every=1), p.run(5, record_every=1)
        assert rel(cg, cp) <= 1e-9
        for k, v in p.parameters().items():
            assert rel(g.parameters()[k], v) <= 1e-9, k
    bad = dict(state, gram_coef_W1=np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="gram_coef_W1"):
        Trainer.from_state(X, Y, bad, TrainingConfig(**kw), iteration=3)


@pytest.mark.parametrize("opt", ["gd", "momentum", "sgd"])
def test_divergence_keeps_the_last_finite_state(opt):
    X, Y, dims = problem("identity", seed=7)
    X, Y = X * 50, Y * 50
    cfg = TrainingConfig(learning_rate=1e3, optimizer=opt, output="identity",
                         hidden_activation="identity", mini_batch_size=8, solver="gram")
    tr = Trainer(X, Y, r2.initialize_parameters_v2(dims, "he"), cfg)
    with pytest.raises(TrainingDiverged) as info:
        tr.run(500, record_every=1)
    e = info.value
    assert tr.iteration == e.iteration
    for k, v in e.parameters.items():
        assert np.all(np.isfinite(v)), k
        np.testing.assert_array_equal(v, tr.parameters()[k])
    with pytest.raises(TrainingDiverged) as again:
        tr.run(1, record_every=1)
    assert again.value.iteration == e.iteration


def test_auto_picks_gram_only_where_it_applies_and_pays():
    X, Y, dims = problem(seed=8)
    p0 = r2.initialize_parameters_v2(dims, "he")
    mb = dict(mini_batch_size=8)
    assert Trainer(X, Y, p0, TrainingConfig(optimizer="momentum", **mb)).solver == "gram"
    assert Trainer(X, Y, p0, TrainingConfig(optimizer="adam", **mb)).solver == "primal"
    narrow = {k: v for k, v in p0.items()}
    narrow["W1"] = p0["W1"][:, :4]
    assert Trainer(X[:4], Y, narrow, TrainingConfig(optimizer="momentum", **mb)).solver \
        == "primal"
    with pytest.raises(ValueError, match="gram.*adam"):
        TrainingConfig(solver="gram", optimizer="adam")


def test_public_model_with_momentum_mini_batches_on_wide_data():
    X, Y, dims = problem(seed=9)
    kw = dict(learning_rate=0.05, optimizer="momentum", mini_batch_size=6, lambd=0.3,
              initialization="he")
    ref_p, _ = r2.train_v2(X, Y, dims, num_iterations=EPOCHS, **kw)
    for solver in ("auto", "gram"):
        p = fastdnn.L_layer_model(X, Y, dims, num_iterations=EPOCHS, isPlot=False,
                                  solver=solver, **kw)
        for k in ref_p:
            assert rel(p[k], ref_p[k]) <= 1e-9, (solver, k)


def test_run_epoch_divergence_is_seen_in_the_representation():
    X, Y, dims = problem("identity", seed=7)
    X, Y = X * 50, Y * 50
    cfg = TrainingConfig(learning_rate=1e3, optimizer="momentum", output="identity",
                         hidden_activation="identity", mini_batch_size=8, solver="gram",
                         shuffle="external")
    tr = Trainer(X, Y, r2.initialize_parameters_v2(dims, "he"), cfg)
    perm = np.arange(M)
    with pytest.raises(TrainingDiverged):
        for _ in range(500):
            tr.run_epoch(perm=perm, compute_cost=False)
    assert all(np.all(np.isfinite(v)) for v in tr.parameters().values())
