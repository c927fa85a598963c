"""Faults: broken model files, interrupted saves, diverging training.

Model files (crash-isolated, like the bad-input matrix: the cases run in a
worker subprocess, a worker killed by a signal fails exactly the case it was
running).  From one valid model file: the empty file; a truncation at every
7th length and densely in the header; a flipped byte at every 3rd position;
flipped bytes and truncations *re-sealed* with a valid checksum, so that the
HDF5 library itself parses the corrupted structure (the checks that a crash
could hide behind); foreign HDF5 files (the course's data layout, an empty
one, one with a valid fastdnn header around foreign content); non-HDF5 files;
parameters of wrong shapes, dtypes or values.  Each must raise ValueError
naming the file (FileNotFoundError for a missing one), or -- for a re-sealed
flip in bytes HDF5 never reads -- load exactly the saved content.

Interrupted saves: a fault (OSError) injected at every step of save_model,
and a saving process killed by SIGKILL at every step and at random moments:
the previous file always stays loadable, with its exact content (or, after
the rename, the new one's).

Training: a cost or update that turns non-finite stops training with
TrainingDiverged naming the iteration, holding the parameters after the last
finite iteration (compared with tests/reference.py).
"""
import functools
import json
import os
import signal
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tests.conftest import make_params  # noqa: E402
from tests.test_bad_inputs import (CRASH_SELFTEST, matrix_fixture, run_isolated,  # noqa: E402
                                   serve)

DIMS = (12, 5, 3, 1)          # make_params' default layer sizes


COSTS = [0.7, 0.6, 0.5]


def write_model(path, seed=0):
    from fastdnn.model_io import save_model
    save_model(path, make_params(seed), costs=COSTS)
    return path


def same_content(model, seed=0):
    """True if a loaded model holds exactly what write_model(seed) saved."""
    p = make_params(seed)
    return (sorted(model.parameters) == sorted(p)
            and all(np.array_equal(model.parameters[k], p[k]) and
                    model.parameters[k].dtype == p[k].dtype for k in p)
            and np.array_equal(model.costs, COSTS))


# ------------------------------------------------------- model-file cases
class FileCase:
    """``make(base_bytes, tmpdir) -> path`` of the broken file.

    ``may_load``: a re-sealed file carries a valid checksum *of the corrupted
    content*, so it is, by definition, a file holding that content: it may load
    (a flip in a parameter's bytes gives another number), but the HDF5 parsing
    must not crash or hang, and a structural corruption must be a ValueError.
    Every other case must raise."""

    def __init__(self, id, make, may_load=False):
        self.id, self.make, self.may_load = id, make, may_load


def _bytes_case(id, transform, may_load=False):
    def make(base, tmp):
        path = os.path.join(tmp, "model.h5")
        with open(path, "wb") as f:
            f.write(transform(base))
        return path
    return FileCase(id, make, may_load)


def _resealed(transform):
    """Apply transform to the HDF5 part and write a valid fastdnn header for it: the
    checksum a forger can recompute, not the signature only this user's key gives
    (so the corrupted HDF5 goes to the sandbox process, never to this one's HDF5)."""
    def apply(base):
        from fastdnn import model_io
        body = transform(base[model_io.HEADER_SIZE:])
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(base[:model_io.HEADER_SIZE] + body)
        try:
            model_io._seal(f.name, sign=False)
            with open(f.name, "rb") as g:
                return g.read()
        finally:
            os.remove(f.name)
    return apply


def _flip(pos):
    def t(data):
        d = bytearray(data)
        d[pos] ^= 0xFF
        return bytes(d)
    return t


def _h5_case(id, build, sealed=False):
    """A file written by h5py directly (foreign content or wrong parameters)."""
    def make(base, tmp):
        import h5py
        from fastdnn import model_io
        path = os.path.join(tmp, "model.h5")
        kw = {"userblock_size": model_io.HEADER_SIZE} if sealed else {}
        with h5py.File(path, "w", **kw) as f:
            build(f)
        if sealed:
            model_io._seal(path)
        return path
    return FileCase(id, make)


def _model_like(params=None, meta_edit=None, costs=COSTS):
    """An h5 laid out as a fastdnn model, with the given parameters and meta edits."""
    def build(f):
        import fastdnn
        from fastdnn import model_io
        p = make_params() if params is None else params
        meta = {"layer_dims": list(DIMS), "activations": ["relu", "relu", "sigmoid"],
                "dtype": "float64", "classes": ["non-cat", "cat"],
                "training": {"learning_rate": 0.0, "iterations": 0, "target_iterations": 0,
                             "kind": "deep", "solver": "auto", "threads": None,
                             "dtype": "float64", "record_every": 100, "data": "",
                             "data_sha256": ""}}
        if meta_edit:
            meta_edit(meta)
        f.attrs["format"] = model_io.FORMAT
        f.attrs["format_version"] = 1          # this meta is laid out as version 1's
        f.attrs["fastdnn_version"] = fastdnn.__version__
        f.attrs["meta"] = json.dumps(meta, sort_keys=True)
        f.create_group("parameters")
        for k, v in p.items():
            f.create_dataset("parameters/" + k, data=v)
        f.create_dataset("costs", data=np.asarray(costs, dtype=np.float64))
    return build


def _course_like(f):
    f.create_dataset("train_set_x", data=np.zeros((3, 4, 4, 3), dtype=np.uint8))
    f.create_dataset("train_set_y", data=np.array([0, 1, 0]))
    f.create_dataset("list_classes", data=np.array([b"non-cat", b"cat"]))


def _params_with(**changes):
    p = make_params()
    for k, v in changes.items():
        if v is None:
            del p[k]
        else:
            p[k] = v
    return p


def build_file_cases(size, dense=False):
    """All model-file cases for a valid file of ``size`` bytes (``dense``: every
    byte of the HDF5 structure re-sealed-flipped, for bench/count_hardening.py)."""
    cases = [_bytes_case("empty", lambda b: b""),
             FileCase("missing", lambda base, tmp: os.path.join(tmp, "nowhere.h5")),
             FileCase("directory", lambda base, tmp: tmp)]
    for n in sorted(set(range(1, 600, 3)) | set(range(600, size, 97))):
        cases.append(_bytes_case(f"truncated/{n}", lambda b, n=n: b[:n]))
    cases.append(_bytes_case("appended", lambda b: b + b"\0" * 16))
    for pos in range(0, size, 13):
        cases.append(_bytes_case(f"flipped/{pos}", _flip(pos)))
    body = size - 512
    # the HDF5 superblock, object headers and B-trees come first: densely there
    for pos in sorted(set(range(0, min(body, 2400), 1 if dense else 12))
                      | set(range(2400, body, 150))):
        cases.append(_bytes_case(f"resealed-flipped/{pos}", _resealed(_flip(pos)), may_load=True))
    for n in sorted(set(range(0, body, max(1, body // 40)))):
        cases.append(_bytes_case(f"resealed-truncated/{n}", _resealed(lambda b, n=n: b[:n])))
    # not HDF5
    for name, data in (("text", b"W1 = [[1, 2], [3, 4]]\n"),
                       ("png", b"\x89PNG\r\n\x1a\n" + bytes(200)),
                       ("npz", b"PK\x03\x04" + bytes(300)),
                       ("random", np.random.RandomState(0).bytes(4096)),
                       ("magic-only", b"FASTDNN-MODEL\n"),
                       ("hdf5-signature-only", b"\x89HDF\r\n\x1a\n"),
                       ("zeros", bytes(8192))):
        cases.append(_bytes_case("not-hdf5/" + name, lambda b, d=data: d))
    # foreign HDF5
    cases.append(_h5_case("foreign-h5/course-data-layout", _course_like))
    cases.append(_h5_case("foreign-h5/empty", lambda f: None))
    cases.append(_h5_case("foreign-h5/sealed-course-layout", _course_like, sealed=True))
    cases.append(_h5_case("foreign-h5/sealed-empty", lambda f: None, sealed=True))
    # a fastdnn layout with wrong parameters or meta (sealed: only validation can tell)
    wrong = {
        "W2-wrong-columns": _params_with(W2=np.ones((3, 4))),
        "b1-two-columns": _params_with(b1=np.ones((5, 2))),
        "b2-missing": _params_with(b2=None),
        "W3-missing": _params_with(W3=None),
        "extra-W4": _params_with(W4=np.ones((1, 1))),
        "W1-1d": _params_with(W1=np.ones(60)),
        "W1-float32": _params_with(W1=np.ones((5, 12), dtype=np.float32)),
        "W1-int": _params_with(W1=np.ones((5, 12), dtype=np.int64)),
        "W1-nan": _params_with(W1=np.full((5, 12), np.nan)),
        "b3-inf": _params_with(b3=np.full((1, 1), np.inf)),
        "W1-strings": _params_with(W1=np.array([[b"x"] * 12] * 5)),
    }
    for name, params in wrong.items():
        cases.append(_h5_case("wrong-parameters/" + name, _model_like(params), sealed=True))
    metas = {
        "layer-dims-short": lambda m: m.update(layer_dims=[12, 5, 1]),
        "layer-dims-zero": lambda m: m.update(layer_dims=[12, 0, 3, 1]),
        "activation-tanh": lambda m: m.update(activations=["tanh", "relu", "sigmoid"]),
        "dtype-float16": lambda m: m.update(dtype="float16"),
        "no-training": lambda m: m.pop("training"),
        "lr-nan": lambda m: m["training"].update(learning_rate=float("nan")),
    }
    for name, edit in metas.items():
        cases.append(_h5_case("wrong-meta/" + name, _model_like(meta_edit=edit), sealed=True))
    cases.append(_h5_case("wrong-meta/costs-2d", _model_like(costs=[[0.5, 0.4]]), sealed=True))
    return cases


@functools.lru_cache(maxsize=None)
def base_file():
    with tempfile.TemporaryDirectory() as tmp:
        path = write_model(os.path.join(tmp, "base.h5"))
        with open(path, "rb") as f:
            return f.read()


@functools.lru_cache(maxsize=None)
def _scratch():
    return tempfile.mkdtemp(prefix="fastdnn-faults-")   # one per worker, reused


def run_file_case(case):
    """Run one case in this process: the outcome must be a clear error or exact content."""
    from fastdnn.model_io import load_model
    base = base_file()
    if True:
        tmp = _scratch()
        path = case.make(base, tmp)
        try:
            model = load_model(path)
        except FileNotFoundError as exc:
            ok = case.id == "missing" and "nowhere.h5" in str(exc)
            return {"ok": ok, "outcome": "raised", "detail": f"FileNotFoundError: {exc}"}
        except ValueError as exc:
            ok = os.path.basename(path) in str(exc)
            return {"ok": ok, "outcome": "raised",
                    "detail": f"ValueError: {exc}" + ("" if ok else " -- does not name the file")}
        except Exception as exc:   # noqa: BLE001 - anything else is a defect
            return {"ok": False, "outcome": "wrong-exception", "detail": f"{type(exc).__name__}: {exc}"}
    exact = same_content(model)
    return {"ok": case.may_load, "outcome": "loaded-exact" if exact else "loaded-other",
            "detail": "" if exact else "loaded the re-sealed (changed) content"}


def file_cases(dense=False):
    return build_file_cases(len(base_file()), dense)


def run_file_matrix(indices=None, dense=False):
    cases = file_cases(dense)
    ids = {i: c.id for i, c in enumerate(cases)}
    ids[CRASH_SELFTEST] = "selftest/segfault"
    script = [__file__] + (["--dense"] if dense else [])
    return run_isolated(script, range(len(cases)) if indices is None else indices,
                        ids.__getitem__, case_timeout=10)


if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "--worker":
    import shutil
    try:
        serve(sys.argv[2], [int(s) for s in sys.argv[3].split(",") if s],
              file_cases("--dense" in sys.argv), run_file_case)
    finally:
        shutil.rmtree(_scratch(), ignore_errors=True)
    sys.exit(0)


# ------------------------------------------------------------ interrupted saves
SAVE_STEPS = ("create_dataset#1", "create_dataset#3", "create_dataset#last", "seal", "chmod",
              "replace", "fsync_dir")


def _inject(step, action, monkeypatch=None):
    """Patch save_model's step ``step`` to call ``action()`` first; returns an undo function."""
    import h5py
    from fastdnn import _files, model_io
    undo = []

    def patch(obj, name, wrapper):
        real = getattr(obj, name)
        setattr(obj, name, wrapper(real))
        undo.append(lambda: setattr(obj, name, real))

    if step.startswith("create_dataset"):
        which = step.split("#")[1]
        n_datasets = 2 * (len(DIMS) - 1) + 1
        target = n_datasets if which == "last" else int(which)
        calls = {"n": 0}

        def wrap(real):
            def f(self, *a, **k):
                calls["n"] += 1
                if calls["n"] == target:
                    action()
                return real(self, *a, **k)
            return f
        patch(h5py.Group, "create_dataset", wrap)
    else:
        obj, name = {"seal": (model_io, "_seal"), "chmod": (model_io.os, "chmod"),
                     "replace": (model_io.os, "replace"),
                     "fsync_dir": (_files, "_fsync_dir")}[step]

        def wrap(real):
            def f(*a, **k):
                action()
                return real(*a, **k)
            return f
        patch(obj, name, wrap)
    return lambda: [u() for u in reversed(undo)]


def _fail():
    raise OSError(28, "No space left on device (simulated)")


def failing_steps(directory):
    """A fault (OSError ENOSPC) at each step of save_model; [(step, ok, detail)]:
    ok when the save raised, the file loads with the previous content (the new one
    once renamed) and no temporary file is left."""
    from fastdnn.model_io import load_model, save_model
    path = os.path.join(directory, "m.h5")
    out = []
    for step in SAVE_STEPS:
        write_model(path, seed=0)
        undo = _inject(step, _fail)
        try:
            try:
                save_model(path, make_params(1), costs=COSTS)
                raised = False
            except OSError:
                raised = True
        finally:
            undo()
        try:
            kept = same_content(load_model(path), 1 if step == "fsync_dir" else 0)
        except ValueError as exc:
            kept = False
            step += f" ({exc})"
        clean = sorted(os.listdir(directory)) == ["m.h5"]
        out.append((step, raised and kept and clean, f"raised={raised} kept={kept} clean={clean}"))
    return out


def test_a_failing_step_of_save_never_loses_the_previous_file(tmp_path):
    bad = [r for r in failing_steps(str(tmp_path)) if not r[1]]
    assert not bad, bad


def _kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def _forked_save(path, step=None, loops=0):
    """Fork a child that saves model 1 (killing itself at ``step``) or alternates
    models 1 and 2 ``loops`` times; returns its pid."""
    pid = os.fork()
    if pid == 0:                      # child: never returns
        try:
            from fastdnn.model_io import save_model
            if step is not None:
                _inject(step, _kill_self)
                save_model(path, make_params(1), costs=COSTS)
            for i in range(loops):
                save_model(path, make_params(1 + i % 2), costs=COSTS)
        finally:
            os._exit(0)
    return pid


def killed_saves(directory, random_kills=25, seed=0):
    """A saving process SIGKILLed at each step of save_model, then at random moments
    of a save loop; [(what, ok, detail)]: ok when the file then loads with exactly
    one of the contents ever saved (the previous one before the rename) and
    remove_stale_temporaries leaves the directory clean."""
    from fastdnn.model_io import load_model, remove_stale_temporaries
    path = os.path.join(directory, "m.h5")
    out = []

    def check(what, allowed, pid):
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        try:
            model = load_model(path)
            kept = any(same_content(model, s) for s in allowed)
        except ValueError as exc:
            kept, what = False, f"{what} ({exc})"
        remove_stale_temporaries(path)
        clean = sorted(os.listdir(directory)) == ["m.h5"]
        out.append((what, killed and kept and clean, f"killed={killed} kept={kept} clean={clean}"))

    for step in SAVE_STEPS:
        write_model(path, seed=0)
        check(f"kill at {step}", (1,) if step == "fsync_dir" else (0,),
              _forked_save(path, step=step))
    rng = np.random.default_rng(seed)
    for k in range(random_kills):
        write_model(path, seed=0)
        pid = _forked_save(path, loops=1000)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        check(f"random kill {k}", (0, 1, 2), pid)
    return out


def test_a_save_killed_at_every_step_and_at_random_moments_leaves_a_readable_file(tmp_path):
    res = killed_saves(str(tmp_path))
    assert len(res) == len(SAVE_STEPS) + 25
    bad = [r for r in res if not r[1]]
    assert not bad, bad


# ----------------------------------------------------------- the file matrix
import pytest  # noqa: E402

file_matrix = matrix_fixture(run_file_matrix)


FAMILIES = ("empty", "missing", "directory", "truncated", "appended", "flipped",
            "resealed-flipped", "resealed-truncated", "not-hdf5", "foreign-h5",
            "wrong-parameters", "wrong-meta")


@pytest.mark.parametrize("family", FAMILIES)
def test_broken_model_files(file_matrix, family):
    mine = [r for r in file_matrix.values() if r["id"].split("/")[0] == family]
    assert mine, family
    bad = [f"{r['id']}: {r['outcome']}: {r['detail'][:300]}" for r in mine if not r["ok"]]
    assert not bad, "\n".join(bad[:20])


def test_file_cases_are_all_run(file_matrix):
    assert len(file_matrix) == len(file_cases())


# ------------------------------------------------------------------ divergence
def _data(seed=0, n_x=8, m=40):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_x, m)), (rng.random((1, m)) < 0.5).astype(np.int64)


def divergences():
    """Trainings made to diverge; [(what, ok, detail)]: ok when TrainingDiverged names
    the iteration and carries finite parameters (nothing lost)."""
    import fastdnn
    from fastdnn.engine import Trainer, TrainingDiverged
    X, Y = _data()
    Xnan = X.copy()
    Xnan[3, 7] = np.nan
    start = fastdnn.initialize_parameters_deep([8, 6, 4, 1])
    runs = {
        "lr 1e300, primal": lambda: Trainer(X, Y, start, 1e300, solver="primal").run(500),
        "lr 1e300, gram": lambda: Trainer(X, Y, start, 1e300, solver="gram").run(500),
        "lr 1e300, float32": lambda: Trainer(X, Y, start, 1e300, dtype="float32").run(500),
        "lr 1e300, resumed at 150": lambda: Trainer(X, Y, start, 1e300, iteration=150).run(500),
        "NaN in X, two_layer_model": lambda: fastdnn.two_layer_model(
            Xnan, Y, (8, 5, 1), num_iterations=50, isPlot=False),
        "NaN in X, L_layer_model": lambda: fastdnn.L_layer_model(
            Xnan, Y, [8, 5, 1], num_iterations=50, isPlot=False),
    }
    out = []
    for what, run in runs.items():
        try:
            run()
            out.append((what, False, "no TrainingDiverged"))
        except TrainingDiverged as e:
            finite = all(np.all(np.isfinite(v)) for v in e.parameters.values())
            named = f"iteration {e.iteration}" in str(e)
            out.append((what, finite and named, f"iteration {e.iteration}, finite={finite}"))
    return out


def test_every_divergence_is_stopped_with_finite_parameters():
    bad = [r for r in divergences() if not r[1]]
    assert not bad, bad


@pytest.mark.parametrize("solver", ["primal", "gram"])
def test_training_stops_at_the_first_non_finite_iteration(solver):
    """lr = 1e300: iteration 0's update is finite but huge, iteration 1 overflows."""
    import fastdnn
    from fastdnn.engine import Trainer, TrainingDiverged
    from tests import reference as ref
    X, Y = _data()
    dims = [8, 6, 4, 1]
    start = fastdnn.initialize_parameters_deep(dims)
    t = Trainer(X, Y, start, 1e300, solver=solver)
    with pytest.raises(TrainingDiverged, match=r"iteration 1\b") as info:
        t.run(500)
    e = info.value
    assert e.iteration == 1 and t.iteration == 1 and e.costs == [pytest.approx(float(
        ref.compute_cost(ref.L_model_forward(X, start)[0], Y)), rel=1e-12)]
    # the parameters after iteration 0, the last finite one: the reference's after 1 iteration
    expected = ref.initialize_parameters_deep(dims)
    AL, caches = ref.L_model_forward(X, expected)
    expected = ref.update_parameters(expected, ref.L_model_backward(AL, Y, caches), 1e300)
    for k in expected:
        assert np.all(np.isfinite(e.parameters[k]))
        np.testing.assert_allclose(e.parameters[k], expected[k], rtol=1e-9, atol=0)
        np.testing.assert_array_equal(t.parameters()[k], e.parameters[k])


def test_divergence_inside_a_long_chunk_names_the_global_iteration():
    """Resumed at iteration 150: the chunk 150..200 is replayed to find iteration 151."""
    import fastdnn
    from fastdnn.engine import Trainer, TrainingDiverged
    X, Y = _data(1)
    start = fastdnn.initialize_parameters_deep([8, 6, 4, 1])
    t = Trainer(X, Y, start, 1e300, iteration=150)
    with pytest.raises(TrainingDiverged, match=r"iteration 151\b") as info:
        t.run(1000)
    once = Trainer(X, Y, start, 1e300)
    once.run(1)
    for k, v in once.parameters().items():
        np.testing.assert_array_equal(info.value.parameters[k], v)


@pytest.mark.parametrize("model", ["two_layer_model", "L_layer_model"])
def test_nan_in_the_data_stops_the_models_at_iteration_0_with_the_initial_parameters(model):
    import fastdnn
    from fastdnn.engine import TrainingDiverged
    X, Y = _data(2)
    X[3, 7] = np.nan
    dims = (8, 5, 1)
    with pytest.raises(TrainingDiverged, match=r"iteration 0\b.*cost is nan") as info:
        getattr(fastdnn, model)(X, Y, dims, num_iterations=50, isPlot=False)
    np.random.seed(1)
    initial = (fastdnn.initialize_parameters(*dims) if model == "two_layer_model"
               else fastdnn.initialize_parameters_deep(list(dims)))
    for k, v in initial.items():
        np.testing.assert_array_equal(info.value.parameters[k], v)


def test_runner_isolates_a_crash_in_the_file_matrix():
    res = run_file_matrix([0, CRASH_SELFTEST, 1])
    assert res[CRASH_SELFTEST]["outcome"] == "crash" and res[0]["ok"] and res[1]["ok"]
