"""The ``fastdnn`` command driven as a user drives it: subprocesses of
``python -m fastdnn`` (and the installed console script), every subcommand
and every error.  Results are checked against tests/reference.py.

Most runs use a small data set in the course's h5 layout (8x8x3 images,
made from the generated stand-in) so that they take a fraction of a second.
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn.cli import build_parser
from fastdnn.plots import have_matplotlib
from fastdnn.data import load_dataset, make_standin_dataset, prepare
from fastdnn.model_io import load_model
from tests import reference as ref

SIDE = 8
N_X = SIDE * SIDE * 3


def write_small_dataset(directory, n_train=60, n_test=20, side=SIDE, seed=0):
    """The stand-in images (64x64x3) block-averaged to side x side x 3, in the course's
    h5 layout (train_catvnoncat.h5 / test_catvnoncat.h5) in ``directory``."""
    src = os.path.join(str(directory), "_standin64")
    make_standin_dataset(src, n_train=n_train, n_test=n_test, seed=seed)
    tx, ty, sx, sy, classes = load_dataset(src)
    k = 64 // side

    def shrink(x):
        x = x.reshape(x.shape[0], side, k, side, k, 3).mean(axis=(2, 4))
        return np.rint(x).astype(np.uint8)

    os.makedirs(directory, exist_ok=True)
    for name, x, y in (("train", tx, ty), ("test", sx, sy)):
        with h5py.File(os.path.join(str(directory), f"{name}_catvnoncat.h5"), "w") as f:
            f.create_dataset(f"{name}_set_x", data=shrink(x))
            f.create_dataset(f"{name}_set_y", data=y.ravel())
            f.create_dataset("list_classes", data=classes)
    return str(directory)


def cli_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FASTDNN_DATA", "DISPLAY")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.update(extra)
    return env


def run(args, tmp_path, env=None, check=True, timeout=300):
    r = subprocess.run([sys.executable, "-m", "fastdnn", *map(str, args)], cwd=tmp_path,
                       env=env or cli_env(tmp_path), capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def value(stdout, prefix):
    line = next(l for l in stdout.splitlines() if l.startswith(prefix))
    return line[len(prefix):].strip()


def assert_one_line_error(r, *needles):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("fastdnn: error:")]
    assert len(errors) == 1, r.stderr
    for n in needles:
        assert n in errors[0], errors[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_small_dataset(tmp_path_factory.mktemp("small") / "data")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small):
    """One deep model trained by the CLI on the small set: (tmp dir, model path, stdout)."""
    tmp = tmp_path_factory.mktemp("trained")
    out = tmp / "m.h5"
    r = run(["train", "--data", small, "--layers", f"{N_X},6,3,1", "--iterations", 400,
             "--learning-rate", 0.05, "--out", out], tmp)
    return tmp, out, r


def small_arrays(small):
    tx, ty, sx, sy, _ = load_dataset(small)
    return prepare(tx), ty, prepare(sx), sy, sx


# ---------------------------------------------------------------------- help
def test_every_option_has_help():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    assert sorted(subparsers.choices) == ["evaluate", "predict", "train"]
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help and action.help.strip(), (name, action.dest)


@pytest.mark.parametrize("cmd", [[], ["train"], ["predict"], ["evaluate"]])
def test_help_runs(tmp_path, cmd):
    r = run([*cmd, "--help"], tmp_path)
    assert "usage: fastdnn" in r.stdout
    if cmd == ["train"]:
        for opt in ("--layers", "--learning-rate", "--iterations", "--dtype", "--solver",
                    "--threads", "--data", "--out", "--checkpoint-every", "--resume"):
            assert opt in r.stdout


def test_console_script_and_version(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "fastdnn")
    if not os.path.exists(script):
        pytest.skip("the fastdnn console script is not installed next to this Python")
    r = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"fastdnn {fastdnn.__version__}"


# --------------------------------------------------------------------- train
def test_train_matches_models_and_reference(trained, small):
    tmp, out, r = trained
    X, Y, X_test, Y_test, _ = small_arrays(small)
    dims = [N_X, 6, 3, 1]
    m = load_model(out)
    assert m.layer_dims == dims and m.dtype == np.float64 and m.complete
    assert m.training["iterations"] == 400 and m.config.learning_rate == 0.05
    # the CLI equals the library's L_layer_model bit for bit, and the reference to 1e-9
    lib = fastdnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=400, isPlot=False)
    expected, costs = ref.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=400)
    for k in expected:
        np.testing.assert_array_equal(m.parameters[k], lib[k])
        np.testing.assert_allclose(m.parameters[k], expected[k], rtol=0,
                                   atol=1e-9 * np.abs(expected[k]).max())
    np.testing.assert_allclose(m.costs, np.array(costs, dtype=float), rtol=1e-9)
    # what it printed
    out_text = r.stdout
    for i, c in zip(range(0, 400, 100), costs):
        assert f"cost after epoch {i}: {float(c):.6f}" in out_text
    p_train = ref.predict(X, Y, expected)
    p_test = ref.predict(X_test, Y_test, expected)
    assert value(out_text, "train accuracy:").startswith(f"{np.mean(p_train == Y):.6f} ")
    assert value(out_text, "test accuracy:").startswith(f"{np.mean(p_test == Y_test):.6f} ")
    assert "training time:" in out_text and "L_layer_model" in out_text
    assert value(out_text, "model saved:") == str(out)
    # the progress line went to stderr, with the cost and an ETA
    assert "epoch 400/400" in r.stderr and "cost" in r.stderr


def test_train_writes_cost_curve_png(trained):
    pytest.importorskip("matplotlib")
    tmp, out, r = trained
    png = tmp / "m_cost.png"
    assert value(r.stdout, "cost curve:") == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_two_layer_float32(tmp_path, small):
    X, Y, *_ = small_arrays(small)
    r = run(["train", "--data", small, "--layers", f"{N_X},5,1", "--iterations", 300,
             "--learning-rate", 0.05, "--dtype", "float32", "--no-plot", "--out", "m.h5",
             "--quiet"], tmp_path)
    assert "two_layer_model" in r.stdout and "float32" in r.stdout
    assert r.stderr == ""                        # --quiet: no progress
    m = load_model(tmp_path / "m.h5")
    assert m.dtype == np.float32 and m.training["kind"] == "two-layer"
    lib = fastdnn.two_layer_model(X, Y, (N_X, 5, 1), learning_rate=0.05, num_iterations=300,
                                  isPlot=False, dtype="float32")
    for k in lib:
        assert m.parameters[k].dtype == np.float32
        np.testing.assert_array_equal(m.parameters[k], lib[k])
    assert not (tmp_path / "m_cost.png").exists()


@pytest.mark.parametrize("solver", ["primal", "gram"])
def test_train_solver_and_threads_pass_through(tmp_path, small, solver):
    X, Y, *_ = small_arrays(small)
    run(["train", "--data", small, "--layers", f"{N_X},4,1", "--model", "deep",
         "--iterations", 120, "--solver", solver, "--threads", 1, "--no-plot", "--out", "m.h5",
         "--quiet"], tmp_path)
    m = load_model(tmp_path / "m.h5")
    assert m.config.solver == solver and m.config.threads == 1
    assert m.training["kind"] == "deep"
    lib = fastdnn.L_layer_model(X, Y, [N_X, 4, 1], num_iterations=120, isPlot=False,
                                solver=solver, threads=1)
    for k in lib:
        np.testing.assert_array_equal(m.parameters[k], lib[k])


def test_train_default_data_is_announced_stand_in(tmp_path):
    r = run(["train", "--layers", "12288,2,1", "--iterations", 2, "--no-plot", "--quiet"],
            tmp_path)
    assert "GENERATED STAND-IN" in r.stderr and "make_standin_dataset" in r.stderr
    assert "data: generated stand-in" in r.stdout
    assert "train 209, test 50" in r.stdout
    assert (tmp_path / "cache" / "fastdnn" / "standin-seed0" / "train_catvnoncat.h5").exists()
    assert (tmp_path / "runs" / "model.h5").exists()          # the default --out


def test_train_data_from_env_then_datasets_dir(tmp_path, small):
    args = ["train", "--layers", f"{N_X},2,1", "--iterations", 2, "--no-plot", "--quiet"]
    r = run(args, tmp_path, env=cli_env(tmp_path, FASTDNN_DATA=small))
    assert "($FASTDNN_DATA)" in r.stdout and "STAND-IN" not in r.stderr
    os.symlink(small, tmp_path / "datasets")
    r = run(args, tmp_path)
    assert "datasets (./datasets)" in r.stdout and "STAND-IN" not in r.stderr


# ------------------------------------------------------------------- predict
def test_predict_h5_set(trained, small):
    tmp, out, _ = trained
    _, _, X_test, Y_test, _ = small_arrays(small)
    params = load_model(out).parameters
    probas, _ = ref.L_model_forward(X_test, params)
    test_file = os.path.join(small, "test_catvnoncat.h5")
    r = run(["predict", out, test_file], tmp)
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "input\tprobability\tlabel\tclass"
    rows = [l.split("\t") for l in lines[1:-1]]
    assert len(rows) == X_test.shape[1]
    for i, (name, prob, label, cls) in enumerate(rows):
        assert name == f"{test_file}[{i}]"
        assert abs(float(prob) - probas[0, i]) <= 5e-7
        assert int(label) == int(probas[0, i] > 0.5)
        assert cls == ("cat" if int(label) else "non-cat")
    acc = np.mean((probas > 0.5) == Y_test)
    assert lines[-1].startswith(f"accuracy on {test_file}: {acc:.6f}")


def test_predict_image_files(trained, small):
    Image = pytest.importorskip("PIL.Image")
    tmp, out, _ = trained
    _, _, X_test, _, test_x_orig = small_arrays(small)
    params = load_model(out).parameters
    probas, _ = ref.L_model_forward(X_test, params)
    names = []
    for i, ext in ((0, "png"), (1, "png"), (2, "bmp")):
        path = tmp / f"img{i}.{ext}"
        Image.fromarray(test_x_orig[i]).save(path)
        names.append(path)
    big = tmp / "big.png"
    Image.fromarray(test_x_orig[0]).resize((SIDE * 3, SIDE * 2)).save(big)
    r = run(["predict", out, *names], tmp)
    rows = [l.split("\t") for l in r.stdout.strip().splitlines()[1:]]
    assert [row[0] for row in rows] == [str(n) for n in names]
    for i, row in enumerate(rows):
        assert abs(float(row[1]) - probas[0, i]) <= 5e-7
    r = run(["predict", out, big, "--resize"], tmp)
    assert r.stdout.strip().splitlines()[1].startswith(f"{big}\t")


# ------------------------------------------------------------------ evaluate
def test_evaluate(trained, small):
    tmp, out, _ = trained
    X, Y, X_test, Y_test, _ = small_arrays(small)
    params = load_model(out).parameters
    p_train = ref.predict(X, Y, params)
    p = ref.predict(X_test, Y_test, params).ravel()
    y = Y_test.ravel()
    r = run(["evaluate", out, "--data", small], tmp)
    assert value(r.stdout, "train accuracy:").startswith(f"{np.mean(p_train == Y):.6f} ")
    assert value(r.stdout, "test accuracy:").startswith(f"{np.mean(p == y):.6f} ")
    lines = r.stdout.splitlines()
    i = lines.index("confusion counts (test set):")
    tn_fp = lines[i + 2].split()[-2:]
    fn_tp = lines[i + 3].split()[-2:]
    assert lines[i + 2].split()[:2] == ["actual", "non-cat"]
    assert [int(v) for v in tn_fp] == [np.sum((y == 0) & (p == 0)), np.sum((y == 0) & (p == 1))]
    assert [int(v) for v in fn_tp] == [np.sum((y == 1) & (p == 0)), np.sum((y == 1) & (p == 1))]
    wrong = int(np.sum(p != y))
    assert value(r.stdout, "mislabeled test images:").split()[0] == str(wrong)
    if wrong and have_matplotlib():
        grid = tmp / "m_mislabeled.png"
        assert value(r.stdout, "mislabeled images picture:") == str(grid)
        assert grid.read_bytes()[:4] == b"\x89PNG"


# -------------------------------------------------------------------- errors
def _bad_model(tmp, out):
    data = out.read_bytes()
    bad = tmp / "truncated.h5"
    bad.write_bytes(data[: len(data) // 2])
    return bad


@pytest.mark.parametrize("args,needles", [
    (["train", "--data", "nowhere"], ["--data nowhere", "no train_catvnoncat.h5"]),
    (["train", "--layers", "192,x,1"], ["'x' is not a positive integer"]),
    (["train", "--layers", "192"], ["need at least an input and an output size"]),
    (["train", "--layers", "192,0,1"], ["'0' is not a positive integer"]),
    (["train", "--layers", "192,5,2"], ["output layer must have 1 unit(s)"]),
    (["train", "--layers", "192,5,3,1", "--model", "two-layer"], ["needs three layer sizes"]),
    (["train", "--iterations", "abc"], ["--iterations", "'abc' is not an integer"]),
    (["train", "--learning-rate", "-1"], ["--learning-rate", "positive"]),
    (["train", "--threads", "0"], ["--threads", ">= 1"]),
    (["train", "--dtype", "float16"], ["--dtype", "invalid choice"]),
    (["train", "--resume", "--out", "none.h5"], ["nothing to resume"]),
    ([], ["required"]),
    (["fly"], ["invalid choice: 'fly'"]),
    (["predict", "none.h5", "x.png"], ["model file not found: none.h5"]),
    (["evaluate", "none.h5"], ["model file not found: none.h5"]),
])
def test_usage_and_input_errors(tmp_path, args, needles):
    assert_one_line_error(run(args, tmp_path, check=False), *needles)


def test_train_input_size_mismatch(tmp_path, small):
    r = run(["train", "--data", small, "--layers", "100,5,1"], tmp_path, check=False)
    assert_one_line_error(r, "192 features per example (8x8x3)", "--layers gives 100 inputs")


def test_train_divergence(tmp_path, small):
    r = run(["train", "--data", small, "--layers", f"{N_X},4,1", "--learning-rate", "1e38",
             "--dtype", "float32", "--iterations", 50, "--out", "d.h5"], tmp_path, check=False)
    assert_one_line_error(r, "training diverged at epoch", "smaller --learning-rate")
    assert not (tmp_path / "d.h5").exists()


def test_predict_errors(trained, small, tmp_path):
    tmp, out, _ = trained
    (tmp_path / "text.png").write_text("not an image")
    r = run(["predict", out, tmp_path / "text.png"], tmp_path, check=False)
    assert_one_line_error(r, "cannot read image", "text.png")
    r = run(["predict", out, tmp_path / "missing.png"], tmp_path, check=False)
    assert_one_line_error(r, "input not found")
    # a 64x64x3 h5 set for an 8x8x3 model
    make_standin_dataset(tmp_path / "big", n_train=2, n_test=2)
    r = run(["predict", out, tmp_path / "big" / "test_catvnoncat.h5"], tmp_path, check=False)
    assert_one_line_error(r, "12288 features per example (64x64x3)", "takes 192 inputs")
    with h5py.File(tmp_path / "nox.h5", "w") as f:
        f["pictures"] = np.zeros((2, 8, 8, 3))
    r = run(["predict", out, tmp_path / "nox.h5"], tmp_path, check=False)
    assert_one_line_error(r, "expected one image dataset named *_x")
    r = run(["predict", _bad_model(tmp_path, out), os.path.join(small, "test_catvnoncat.h5")],
            tmp_path, check=False)
    assert_one_line_error(r, "cannot load model", "truncated fastdnn model file")
    r = run(["predict", os.path.join(small, "test_catvnoncat.h5"), tmp_path / "x.png"],
            tmp_path, check=False)
    assert_one_line_error(r, "an HDF5 file but not a fastdnn model file")


def test_predict_wrong_image_size(trained, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    tmp, out, _ = trained
    Image.new("RGB", (16, 12)).save(tmp_path / "wide.png")
    r = run(["predict", out, tmp_path / "wide.png"], tmp_path, check=False)
    assert_one_line_error(r, "image is 16x12 pixels", "takes 8x8x3 images", "--resize")


def test_evaluate_errors(trained, small, tmp_path):
    tmp, out, _ = trained
    r = run(["evaluate", _bad_model(tmp_path, out), "--data", small], tmp_path, check=False)
    assert_one_line_error(r, "cannot load model", "truncated")
    make_standin_dataset(tmp_path / "big", n_train=2, n_test=2)
    r = run(["evaluate", out, "--data", tmp_path / "big"], tmp_path, check=False)
    assert_one_line_error(r, "12288 features per example", "takes 192 inputs")
    (tmp_path / "empty.h5").write_bytes(b"")
    r = run(["evaluate", tmp_path / "empty.h5", "--data", small], tmp_path, check=False)
    assert_one_line_error(r, "empty file")


def test_resume_errors(trained, small, tmp_path):
    tmp, out, _ = trained
    ckpt = tmp_path / "c.h5"
    ckpt.write_bytes(out.read_bytes())
    r = run(["train", "--resume", "--out", ckpt, "--data", small, "--learning-rate", 0.1],
            tmp_path, check=False)
    assert_one_line_error(r, "--learning-rate 0.1 differs from the checkpoint's 0.05")
    r = run(["train", "--resume", "--out", ckpt, "--data", small, "--iterations", 10],
            tmp_path, check=False)
    assert_one_line_error(r, "below the 400 iterations already done")
    other = write_small_dataset(tmp_path / "other", seed=1)
    r = run(["train", "--resume", "--out", ckpt, "--data", other], tmp_path, check=False)
    assert_one_line_error(r, "differ from the data")
    (tmp_path / "corrupt.h5").write_bytes(out.read_bytes()[:-10])
    r = run(["train", "--resume", "--out", tmp_path / "corrupt.h5", "--data", small], tmp_path,
            check=False)
    assert_one_line_error(r, "cannot load model", "truncated")


# ------------------------------------------------------- optional dependencies
def run_without(modules, args, tmp_path):
    """The CLI in a process where importing ``modules`` fails (as if not installed)."""
    code = ("import sys\n"
            + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
            + "from fastdnn.cli import main\n"
            + f"sys.exit(main({[str(a) for a in args]!r}))\n")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(tmp_path),
                          capture_output=True, text=True, timeout=300)


def test_without_matplotlib_pictures_are_skipped_in_one_line(tmp_path, small):
    r = run_without(["matplotlib"], ["train", "--data", small, "--layers", f"{N_X},3,1",
                                     "--iterations", 50, "--out", "m.h5", "--quiet"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "fastdnn: matplotlib is not installed (pip install matplotlib, or pip install "
        "'fastdnn[plot]'); skipping the cost-curve picture"]
    assert "cost curve:" not in r.stdout and not (tmp_path / "m_cost.png").exists()
    assert load_model(tmp_path / "m.h5").iteration == 50


def test_images_without_pillow(trained, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    tmp, out, _ = trained
    Image.new("RGB", (SIDE, SIDE)).save(tmp_path / "a.png")
    r = run_without(["PIL"], ["predict", out, tmp_path / "a.png"], tmp_path)
    assert_one_line_error(r, "reading image files needs Pillow")
