"""The fused engine (fastdnn.engine.Trainer) against the numpy reference.

Every expected value comes from tests/reference.py (the seed's algorithm in
plain numpy) or from another solver / an uninterrupted run, never from the
code under test alone.
"""
import os

import numpy as np
import pytest

from tests import reference as ref
from tests._load import REPO_ROOT

from fastdnn.engine import GRAM_MAX_BYTES, Trainer, choose_solver
from fastdnn.threads import ENV_VAR

LR = 0.0075


def rel_err(got, want):
    """max over arrays of max|got - want| / max|want|."""
    assert set(got) == set(want)
    return max(float(np.abs(got[k] - want[k]).max() / np.abs(want[k]).max()) for k in want)


def global_rel_err(got, want):
    """||got - want|| / ||want|| over all arrays together."""
    num = sum(float(np.sum((got[k].astype(np.float64) - want[k]) ** 2)) for k in want)
    den = sum(float(np.sum(want[k] ** 2)) for k in want)
    return (num / den) ** 0.5


def make_data(n_x, m, seed=0):
    """Features in [0, 1) (like scaled pixels) and labels from a planted linear rule."""
    rng = np.random.RandomState(seed)
    X = rng.rand(n_x, m)
    w = rng.randn(n_x)
    Y = ((w @ (X - 0.5)) > 0).astype(np.int64).reshape(1, m)
    return X, Y


def reference_run(X, Y, dims, n):
    """The seed's models from tests/reference.py, with their own initialisation."""
    if len(dims) == 3:
        return ref.two_layer_model(X, Y, tuple(dims), LR, n)
    return ref.L_layer_model(X, Y, list(dims), LR, n)


def initial_parameters(dims):
    """The initial parameters reference_run starts from."""
    np.random.seed(1)
    if len(dims) == 3:
        return ref.initialize_parameters(*dims)
    return ref.initialize_parameters_deep(list(dims))


SHAPES = {
    "wide": ([300, 5, 3, 1], 40),
    "tall": ([6, 10, 4, 1], 300),
    "tiny_planar": ([2, 4, 1], 400),
    "one_example": ([7, 3, 2, 1], 1),
    "single_hidden_unit": ([10, 1, 1], 30),
    "logistic": ([8, 1], 25),
}


@pytest.mark.parametrize("solver", ["primal", "gram"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_float64_equals_reference(shape, solver):
    dims, m = SHAPES[shape]
    X, Y = make_data(dims[0], m)
    want, want_costs = reference_run(X, Y, dims, 300)
    t = Trainer(X, Y, initial_parameters(dims), LR, solver=solver)
    costs = t.run(300)
    assert t.solver == solver and t.iteration == 300
    assert rel_err(t.parameters(), want) < 1e-9
    np.testing.assert_allclose(costs, np.array(want_costs, dtype=float), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["primal", "gram"])
@pytest.mark.parametrize("shape", ["wide", "tall", "tiny_planar", "single_hidden_unit"])
def test_float32_tracks_reference(shape, solver):
    dims, m = SHAPES[shape]
    X, Y = make_data(dims[0], m)
    want, want_costs = reference_run(X, Y, dims, 300)
    t = Trainer(X, Y, initial_parameters(dims), LR, solver=solver, dtype="float32")
    costs = t.run(300)
    got = t.parameters()
    assert all(v.dtype == np.float32 for v in got.values())
    assert global_rel_err(got, want) < 1e-4
    np.testing.assert_allclose(costs, np.array(want_costs, dtype=float), rtol=1e-5)
    np.testing.assert_array_equal(ref.predict(X, Y, got), ref.predict(X, Y, want))


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_thread_setting_is_honoured_and_restored(how, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    dims, m = SHAPES["wide"]
    X, Y = make_data(dims[0], m)
    want, _ = reference_run(X, Y, dims, 200)
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if how == "environment":
        monkeypatch.setenv(ENV_VAR, "1")
        kwargs = {}
    else:
        monkeypatch.delenv(ENV_VAR, raising=False)
        kwargs = {"threads": 1}
    seen = []

    def spy(i, cost):
        seen.extend(i["num_threads"] for i in threadpoolctl.threadpool_info()
                    if i["user_api"] == "blas")

    for solver in ("primal", "gram"):
        t = Trainer(X, Y, initial_parameters(dims), LR, solver=solver, **kwargs)
        t.run(200, callback=spy)
        assert rel_err(t.parameters(), want) < 1e-9
    assert seen and set(seen) == {1}
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before


def test_gram_equals_primal_on_generated_wide_and_tall():
    for n_x, m, dims_tail in [(2000, 60, [16, 6, 1]), (40, 500, [12, 1])]:
        X, Y = make_data(n_x, m, seed=3)
        dims = [n_x] + dims_tail
        p0 = initial_parameters(dims)
        a = Trainer(X, Y, p0, 0.05, solver="primal", threads=1)
        b = Trainer(X, Y, p0, 0.05, solver="gram", threads=1)
        ca, cb = a.run(400), b.run(400)
        assert rel_err(b.parameters(), a.parameters()) < 1e-9
        np.testing.assert_allclose(cb, ca, rtol=1e-10)


def _course_data():
    from fastdnn.data import find_data_dir, load_dataset, prepare
    path = find_data_dir(os.environ.get("FASTDNN_DATA")
                         or os.path.join(REPO_ROOT, "..", "shared", "datasets"))
    if path is None:
        pytest.skip("course data (train_catvnoncat.h5, test_catvnoncat.h5) not found: "
                    "set FASTDNN_DATA or place it in ../shared/datasets")
    x, y, tx, ty, _ = load_dataset(path)
    return prepare(x), y, prepare(tx), ty


def test_cat5_course_data_both_solvers():
    """The seed's five-layer model on the course data: gram (auto's choice here) after
    600 iterations and primal after 200 against the numpy reference, within 1e-9
    relative.  (The 2500-iteration drift is printed by bench/bench_training.py.)"""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, Y, tX, tY = _course_data()
    dims = [12288, 20, 7, 5, 1]
    params = initial_parameters(dims)
    p, costs, snapshot = params, [], None
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for i in range(600):                  # tests/reference.py's loop, with a snapshot
            AL, caches = ref.L_model_forward(X, p)
            if i % 100 == 0:
                costs.append(float(ref.compute_cost(AL, Y)))
            p = ref.update_parameters(p, ref.L_model_backward(AL, Y, caches), LR)
            if i == 199:
                snapshot = p
    gram = Trainer(X, Y, params, LR, threads=1)
    assert gram.solver == "gram"
    np.testing.assert_allclose(gram.run(600), costs, rtol=1e-9)
    got = gram.parameters()
    assert rel_err(got, p) < 1e-9
    np.testing.assert_array_equal(ref.predict(tX, tY, got), ref.predict(tX, tY, p))
    primal = Trainer(X, Y, params, LR, solver="primal", threads=1)
    np.testing.assert_allclose(primal.run(200), costs[:2], rtol=1e-9)
    assert rel_err(primal.parameters(), snapshot) < 1e-9


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("solver", ["primal", "gram"])
def test_exact_resume(solver, dtype):
    dims = [150, 6, 3, 1]
    X, Y = make_data(dims[0], 50, seed=5)
    p0 = initial_parameters(dims)
    whole = Trainer(X, Y, p0, 0.05, solver=solver, dtype=dtype)
    costs_whole = whole.run(250, record_every=10)

    first = Trainer(X, Y, p0, 0.05, solver=solver, dtype=dtype)
    costs = first.run(117, record_every=10)
    state = first.state()
    if solver == "gram":
        assert {"W1_0", "C"} <= set(state) and "W1" not in state
    resumed = Trainer.from_state(X, Y, state, 0.05, iteration=first.iteration, solver=solver)
    assert resumed.solver == solver and resumed.dtype == np.dtype(dtype)
    costs += resumed.run(250 - 117, record_every=10)
    assert costs == costs_whole
    a, b = whole.parameters(), resumed.parameters()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_auto_resumes_with_the_solver_it_started_with():
    for n_x, m in [(150, 50), (20, 200)]:
        X, Y = make_data(n_x, m, seed=7)
        p0 = initial_parameters([n_x, 6, 1])
        whole = Trainer(X, Y, p0, 0.05)
        whole.run(90)
        first = Trainer(X, Y, p0, 0.05)
        first.run(40)
        resumed = Trainer.from_state(X, Y, first.state(), 0.05, iteration=40)
        assert resumed.solver == whole.solver == choose_solver(n_x, m)
        resumed.run(50)
        a, b = whole.parameters(), resumed.parameters()
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_state_converts_between_solvers():
    dims = [120, 5, 1]
    X, Y = make_data(dims[0], 30, seed=6)
    want, _ = reference_run(X, Y, dims, 300)
    g = Trainer(X, Y, initial_parameters(dims), LR, solver="gram")
    g.run(150)
    p = Trainer.from_state(X, Y, g.state(), LR, iteration=150, solver="primal")
    p.run(150)
    assert p.solver == "primal" and rel_err(p.parameters(), want) < 1e-9
    g2 = Trainer.from_state(X, Y, p.state(), LR, iteration=300, solver="gram")
    assert rel_err(g2.parameters(), want) < 1e-9


def test_callback_stops_training_after_recorded_iteration():
    dims = [20, 4, 1]
    X, Y = make_data(dims[0], 30)
    t = Trainer(X, Y, initial_parameters(dims), LR)
    seen = []

    def cb(i, cost):
        seen.append(i)
        if i == 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        t.run(1000, callback=cb)
    assert seen == [0, 100, 200] and t.iteration == 201
    want, _ = reference_run(X, Y, dims, 201)
    assert rel_err(t.parameters(), want) < 1e-9


def test_inputs_untouched_and_layouts():
    dims, m = [30, 4, 1], 20
    X, Y = make_data(dims[0], m)
    want, _ = reference_run(X, Y, dims, 100)
    p0 = initial_parameters(dims)
    p0_copy = {k: v.copy() for k, v in p0.items()}
    for Xv in (np.asfortranarray(X), np.ascontiguousarray(X),
               np.repeat(X, 2, axis=1)[:, ::2]):
        Xr = Xv.view()
        Xr.setflags(write=False)
        for solver in ("primal", "gram"):
            t = Trainer(Xr, Y.tolist(), p0, LR, solver=solver)
            t.run(100)
            got = t.parameters()
            assert rel_err(got, want) < 1e-9
            got["W1"][...] = 0               # new arrays, not the trainer's
            assert rel_err(t.parameters(), want) < 1e-9
    for k in p0:
        assert np.array_equal(p0[k], p0_copy[k])


def test_auto_solver_choice():
    assert choose_solver(12288, 209) == "gram"           # the cat data
    assert choose_solver(784, 4096) == "primal"          # tall
    assert choose_solver(2, 400) == "primal"             # planar
    m_big = int((GRAM_MAX_BYTES / 8) ** 0.5) + 1
    assert choose_solver(10**6, m_big) == "primal"       # G would not fit
    assert choose_solver(10**6, m_big, itemsize=4) == "gram"


@pytest.mark.parametrize("bad, exc, words", [
    (dict(solver="fast"), ValueError, "solver"),
    (dict(dtype="float16"), ValueError, "dtype"),
    (dict(dtype="int32"), ValueError, "dtype"),
    (dict(threads=0), ValueError, "threads"),
    (dict(threads="2"), TypeError, "threads"),
    (dict(iteration=-1), ValueError, "iteration"),
])
def test_bad_arguments(bad, exc, words):
    X, Y = make_data(5, 4)
    with pytest.raises(exc, match=words):
        Trainer(X, Y, initial_parameters([5, 3, 1]), LR, **bad)


def test_bad_shapes_and_env(monkeypatch):
    X, Y = make_data(5, 4)
    p = initial_parameters([5, 3, 1])
    with pytest.raises(ValueError, match=r"W1 must have shape \(3, 6\)"):
        Trainer(np.zeros((6, 4)), Y, p, LR)
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 4\)"):
        Trainer(X, np.zeros((1, 5)), p, LR)
    with pytest.raises(ValueError, match="b2"):
        Trainer(X, Y, dict(p, b2=np.zeros((2, 1))), LR)
    with pytest.raises(ValueError, match="W1, b1"):
        Trainer(X, Y, {"W1": p["W1"]}, LR)
    with pytest.raises(ValueError, match="X must be 2-D"):
        Trainer(X[0], Y, p, LR)
    t = Trainer(X, Y, p, LR)
    with pytest.raises(ValueError, match="num_iterations"):
        t.run(-1)
    with pytest.raises(ValueError, match="record_every"):
        t.run(1, record_every=-5)
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(ValueError, match=ENV_VAR):
        Trainer(X, Y, p, LR)
