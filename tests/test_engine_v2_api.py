"""Engine v2 around the loop: configuration validation, the registry, the random streams,
model files (version 2, and version 1 still loading), the CLI's new options and softmax.

The loop's numbers are compared with the independent numpy reference in
tests/test_engine_v2.py; here: what surrounds it.
"""
import dataclasses
import math
import os

import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn._core.loop import lanes_permutations_of, legacy_permutation_of
from fastdnn.model_io import load_model, save_model
from fastdnn.training import Trainer, TrainingConfig, initialize_parameters, registry
from tests.test_cli import N_X, run, write_small_dataset


# ------------------------------------------------------------------ configuration
BAD = [
    ("learning_rate", -1.0, ValueError), ("learning_rate", math.nan, ValueError),
    ("learning_rate", "0.1", TypeError), ("learning_rate", None, TypeError),
    ("hidden_activation", "softplus", ValueError), ("hidden_activation", 3, TypeError),
    ("output", "sigmoids", ValueError), ("optimizer", "rmsprop", ValueError),
    ("mini_batch_size", 0, ValueError), ("mini_batch_size", 2.5, TypeError),
    ("mini_batch_size", True, TypeError), ("beta", 1.0, ValueError), ("beta1", -0.1, ValueError),
    ("beta2", math.inf, ValueError), ("epsilon", 0.0, ValueError), ("lambd", -0.5, ValueError),
    ("keep_prob", 0.0, ValueError), ("keep_prob", 1.5, ValueError), ("decay", 3, TypeError),
    ("decay_rate", math.nan, ValueError), ("seed", -1, ValueError), ("seed", 2**40, ValueError),
    ("seed", 1.0, TypeError), ("dtype", "float16", ValueError), ("solver", "fast", ValueError),
    ("threads", 0, ValueError), ("nesterov", "yes", TypeError),
]


@pytest.mark.parametrize("name,value,exc", BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_config_rejects_with_the_parameter_named(name, value, exc):
    with pytest.raises(exc, match=name):
        TrainingConfig(**{name: value})


def test_config_combinations():
    with pytest.raises(ValueError, match="gram.*adam|adam.*gram"):
        TrainingConfig(solver="gram", optimizer="adam")
    X, Y = np.ones((3, 4)), np.ones((1, 4))
    with pytest.raises(ValueError, match="softmax.*2 output units"):
        Trainer(X, Y, initialize_parameters([3, 2, 1], "he"), TrainingConfig(output="softmax"))
    # the general loop's gram solver runs the linear optimisers, asked for at any size
    tr = Trainer(X, Y, initialize_parameters([3, 2, 1], "he"),
                 TrainingConfig(solver="gram", optimizer="momentum"))
    assert tr.solver == "gram"
    with pytest.raises(ValueError, match="decay"):
        Trainer(X, Y, initialize_parameters([3, 2, 1], "he"),
                TrainingConfig(decay=lambda lr, e, r: float("nan"))).run(3)


def test_config_round_trips_and_logistic_alias():
    cfg = TrainingConfig(hidden_activation="logistic", optimizer="adam", mini_batch_size=32,
                         lambd=0.5, keep_prob=0.9, dtype=np.float32)
    assert cfg.hidden_activation == "sigmoid" and cfg.dtype == "float32"
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown configuration keys"):
        TrainingConfig.from_dict({**cfg.to_dict(), "momentum_kind": 1})


def test_registry_is_the_source_of_the_choices():
    """CLI choices, the layer stubs' Literal types and the kernels' codes derive from it."""
    from fastdnn.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    opts = {a.dest: a.choices for a in train._actions}
    assert set(opts["hidden_activation"]) == set(registry.HIDDEN_ACTIVATIONS) | {"logistic"}
    assert list(opts["output"]) == list(registry.PUBLIC_OUTPUTS)
    assert list(opts["optimizer"]) == list(registry.COURSE_OPTIMIZERS)
    assert list(opts["init"]) == list(registry.INITIALIZERS)
    stub = open(os.path.join(os.path.dirname(fastdnn.__file__), "layers.pyi")).read()
    for name in registry.HIDDEN_ACTIVATIONS:
        assert f'"{name}"' in stub
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    assert {"hidden_activation", "output", "optimizer", "lambd", "keep_prob"} <= fields


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4), (1, 1, 1, 7)])
def test_activations_take_any_shape(shape):
    """COURSE2 §8: the English course's helpers call them on arrays of any shape."""
    Z = np.random.RandomState(0).randn(*shape) if shape else np.float64(-0.3)
    A, cache = fastdnn.sigmoid(Z)
    assert A.shape == np.shape(Z) and np.shape(cache) == np.shape(Z)
    np.testing.assert_allclose(A, 1 / (1 + np.exp(-Z)), rtol=4e-16)
    np.testing.assert_array_equal(fastdnn.relu(Z)[0], np.maximum(0, Z))
    dA = np.ones(np.shape(Z)) * 2
    np.testing.assert_array_equal(fastdnn.relu_backward(dA, Z), np.where(Z > 0, dA, 0))
    s = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(fastdnn.sigmoid_backward(dA, Z), dA * s * (1 - s), rtol=1e-15)


def test_initialize_parameters_deep_takes_layer_dims_or_layers_dims():
    a = fastdnn.initialize_parameters_deep([5, 4, 3])
    b = fastdnn.initialize_parameters_deep(layer_dims=[5, 4, 3])
    c = fastdnn.initialize_parameters_deep(layers_dims=[5, 4, 3])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], c[k])
    with pytest.raises(TypeError, match="layer sizes once"):
        fastdnn.initialize_parameters_deep([5, 4], layers_dims=[5, 4])


# ------------------------------------------------------------------ random streams
@pytest.mark.parametrize("seed", [0, 1, 11, 12345, 2**32 - 1])
@pytest.mark.parametrize("m", [1, 2, 7, 64, 300, 4097])
def test_permutations_are_numpys_legacy_ones(seed, m):
    np.testing.assert_array_equal(legacy_permutation_of(seed, m),
                                  np.random.RandomState(seed).permutation(m))


@pytest.mark.parametrize("m", [1, 2, 300, 5000])
def test_course_shuffle_seeds_in_lanes_are_numpys_legacy_ones(m):
    # the course shuffle seeds 16 consecutive generators at once and keeps them: runs of
    # consecutive seeds, jumps back and forward, a restart inside a batch, the wrap at 2**32
    seeds = (list(range(11, 60)) + [5, 4, 3, 100, 101, 116, 117, 50]
             + [2**32 - 3, 2**32 - 2, 2**32 - 1, 0, 1, 2**32 - 20])
    got = lanes_permutations_of(seeds, m)
    for s, p in zip(seeds, got):
        np.testing.assert_array_equal(p, np.random.RandomState(s).permutation(m))
    with pytest.raises(ValueError, match="seeds must be"):
        lanes_permutations_of([2**32], 3)


def test_dropout_masks_are_the_generators_stream():
    """With a linear network, keep_prob < 1 and one step, A1 = W1 X * D / p: the update of
    W2 reveals D; it must be rng.random((n1, m)) < p of Generator(PCG64(seed))."""
    rs = np.random.RandomState(0)
    X, Y = rs.randn(3, 9), rs.randn(1, 9)
    P = {"W1": np.eye(3), "b1": np.zeros((3, 1)), "W2": np.ones((1, 3)), "b2": np.zeros((1, 1))}
    cfg = TrainingConfig(hidden_activation="identity", output="identity", keep_prob=0.6,
                         seed=42, learning_rate=1.0)
    tr = Trainer(X, Y, P, cfg)
    tr.run(1, record_every=0)
    D = np.random.Generator(np.random.PCG64(42)).random((3, 9)) < 0.6
    A1 = X * D / 0.6
    dZ2 = (P["W2"] @ A1 - Y)
    np.testing.assert_allclose(tr.parameters()["W2"], P["W2"] - dZ2 @ A1.T / 9, rtol=1e-12)


# ------------------------------------------------------------------ model files
def _trained(opt="adam", **kw):
    rs = np.random.RandomState(1)
    X, y = rs.randn(6, 40), rs.randint(0, 3, (1, 40))
    cfg = TrainingConfig(output="softmax", optimizer=opt, mini_batch_size=16, keep_prob=0.9,
                         hidden_activation="tanh", learning_rate=0.01, **kw)
    tr = Trainer(X, y, initialize_parameters([6, 5, 3], "he"), cfg)
    costs = tr.run(7, record_every=1)
    return X, y, cfg, tr, costs


def test_model_file_v2_holds_the_configuration_and_resumes_exactly(tmp_path):
    X, y, cfg, tr, costs = _trained()
    path = tmp_path / "m.h5"
    save_model(path, tr.parameters(), costs=costs, config=cfg, state=tr.state(),
               classes=["a", "b", "c"], training={"iterations": tr.iteration})
    m = load_model(path)
    assert m.config == cfg and m.activations == ["tanh", "softmax"]
    assert m.format_version == 2 and m.classes == ["a", "b", "c"]
    resumed = Trainer.from_state(X, y, m.state, m.config, iteration=m.iteration)
    resumed.run(5, record_every=0)
    tr.run(5, record_every=0)
    for k, v in tr.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)
    for k, v in tr.optimizer_state().items():
        np.testing.assert_array_equal(resumed.optimizer_state()[k], v)
    assert resumed.t == tr.t == 12 * 3


def _write_v1(path, params):
    """A version-1 file as fastdnn 0.1.0 wrote it (its meta layout), sealed."""
    import json

    from fastdnn.model_io import HEADER_SIZE, _seal

    meta = {"layer_dims": [params["W1"].shape[1], params["W1"].shape[0], 1],
            "activations": ["relu", "sigmoid"], "dtype": "float64",
            "classes": ["non-cat", "cat"],
            "training": {"learning_rate": 0.05, "iterations": 10, "target_iterations": 10,
                         "kind": "deep", "solver": "auto", "threads": None,
                         "dtype": "float64", "record_every": 100, "data": "",
                         "data_sha256": ""}}
    with h5py.File(path, "w", userblock_size=HEADER_SIZE) as f:
        f.attrs["format"] = "fastdnn-model"
        f.attrs["format_version"] = 1
        f.attrs["fastdnn_version"] = "0.1.0"
        f.attrs["meta"] = json.dumps(meta, sort_keys=True)
        f.create_group("parameters")
        for k, v in params.items():
            f.create_dataset(f"parameters/{k}", data=v)
        f.create_dataset("costs", data=np.array([0.69]))
    _seal(path)


def test_version_1_files_still_load_and_predict(tmp_path):
    params = initialize_parameters([4, 3, 1], "he")
    path = tmp_path / "v1.h5"
    _write_v1(path, params)
    m = load_model(path)
    assert m.format_version == 1 and m.config.learning_rate == 0.05
    assert m.config.is_seed_default and m.output == "sigmoid"
    X = np.random.RandomState(0).randn(4, 5)
    np.testing.assert_array_equal(fastdnn.predict(X, np.zeros((1, 5)), m.parameters),
                                  fastdnn.predict(X, np.zeros((1, 5)), params))


# ------------------------------------------------------------------ CLI
def _three_class_set(directory):
    """The small stand-in set relabelled with three classes."""
    d = write_small_dataset(directory, n_train=60, n_test=20)
    for name in ("train", "test"):
        p = os.path.join(d, f"{name}_catvnoncat.h5")
        with h5py.File(p, "r+") as f:
            x = f[f"{name}_set_x"][()]
            y = (x.reshape(x.shape[0], -1).mean(axis=1) > np.median(x)).astype(int)
            y = y + (x[:, 0, 0, 0] > 128)
            del f[f"{name}_set_y"], f["list_classes"]
            f.create_dataset(f"{name}_set_y", data=y)
            f.create_dataset("list_classes", data=np.array([b"dark", b"mid", b"bright"]))
    return d


def test_cli_trains_softmax_on_three_classes_and_predicts(tmp_path):
    data = _three_class_set(tmp_path / "d3")
    out = tmp_path / "soft.h5"
    r = run(["train", "--data", data, "--layers", f"{N_X},8,3", "--iterations", 200,
             "--optimizer", "adam", "--learning-rate", 0.01, "--mini-batch-size", 16,
             "--init", "he", "--out", out, "--no-plot"], tmp_path)
    assert "3 classes" in r.stdout and "train accuracy" in r.stdout
    m = load_model(out)
    assert m.config.output == "softmax" and m.layer_dims[-1] == 3
    assert m.classes == ["dark", "mid", "bright"]
    e = run(["evaluate", out, "--data", data, "--no-grid"], tmp_path)
    assert "predicted bright" in e.stdout and "test accuracy" in e.stdout
    p = run(["predict", out, os.path.join(data, "test_catvnoncat.h5")], tmp_path)
    assert "accuracy on" in p.stdout


def test_cli_rejects_bad_options_in_one_line(tmp_path):
    data = write_small_dataset(tmp_path / "d")
    for args, words in ((["--keep-prob", "0"], "keep_prob"), (["--beta", "1"], "beta"),
                        (["--epsilon", "0"], "epsilon"), (["--optimizer", "lbfgs"], "optimizer"),
                        (["--solver", "gram", "--optimizer", "adam"], "gram"),
                        (["--layers", f"{N_X},4,3"], "output layer")):
        r = run(["train", "--data", data, "--no-plot", "--out", tmp_path / "x.h5", *args],
                tmp_path, check=False)
        assert r.returncode != 0 and words in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ memory
def test_networks_that_cannot_fit_are_refused_before_allocating(tmp_path):
    """Issue 13: a MemoryError naming the bytes, not the kernel's OOM killer."""
    from fastdnn.training.memory import check_fits

    with pytest.raises(MemoryError, match=r"4,800,000,000,008 bytes \(4.4 TiB\)"):
        fastdnn.L_layer_model(np.ones((4, 3)), np.ones((1, 3)), [4, 10**11, 1], isPlot=False)
    with pytest.raises(MemoryError, match="layers \\[12288, 100000000, 1\\]"):
        initialize_parameters([12288, 100000000, 1], "he")
    with pytest.raises(MemoryError, match="training layers .* would take 1,2"):
        check_fits(1200, "training layers [3, 2, 1]", available=1000)
    check_fits(1000, "fits", available=1000)
    data = write_small_dataset(tmp_path / "d")
    r = run(["train", "--data", data, "--layers", f"{N_X},100000000000,1", "--no-plot",
             "--out", tmp_path / "m.h5"], tmp_path, check=False)
    assert r.returncode == 1 and "bytes" in r.stderr and "Traceback" not in r.stderr


def test_denormals_flushed_inside_the_loop_only():
    """The loop runs with denormals flushed to zero (x86 MXCSR FTZ/DAZ) and restores the
    caller's floating-point mode: numpy keeps its denormals afterwards."""
    X, Y = np.random.RandomState(0).rand(3, 8), np.ones((1, 8))
    tiny = np.array([1e-39], dtype=np.float32)          # below float32's smallest normal
    assert (tiny * np.float32(1.0))[0] != 0
    tr = Trainer(X, Y, initialize_parameters([3, 2, 1], "he"),
                 TrainingConfig(optimizer="adam", mini_batch_size=4, dtype="float32"))
    tr.run(3)
    tr.run_epoch()
    assert (tiny * np.float32(1.0))[0] != 0
    assert np.nextafter(np.float64(0), 1) > 0


def test_flush_denormals_can_be_switched_off(monkeypatch):
    """FASTDNN_FLUSH_DENORMALS=0 keeps IEEE denormals; where none arise both give the same
    numbers, bit for bit."""
    X, Y = np.random.RandomState(1).rand(3, 12), np.ones((1, 12))
    cfg = TrainingConfig(optimizer="adam", mini_batch_size=4)
    P = initialize_parameters([3, 4, 1], "he")
    runs = []
    for flag in ("1", "0"):
        monkeypatch.setenv("FASTDNN_FLUSH_DENORMALS", flag)
        tr = Trainer(X, Y, P, cfg)
        tr.run(5)
        runs.append(tr.parameters())
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


# ------------------------------------------------------------------ small products
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_product_loops_equal_numpy(dtype):
    # every blocking remainder of the loops: rows % 4, columns % 16 and % 8, inner sizes,
    # pairs of D A^T's columns
    from fastdnn._core.loop import small_products
    rng = np.random.RandomState(3)
    tol = 1e-13 if dtype == np.float64 else 2e-5
    for n in (1, 2, 3, 4, 5, 7, 8, 9, 13):
        for k in (1, 2, 3, 5, 10):
            for m in (1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 64, 300):
                W, A = rng.randn(n, k).astype(dtype), rng.randn(k, m).astype(dtype)
                D, G = rng.randn(n, m).astype(dtype), rng.randn(n, k).astype(dtype)
                Z, T, G2 = small_products(W, A, D, G, -0.37)
                W64, A64, D64, G64 = (x.astype(np.float64) for x in (W, A, D, G))
                for got, want, scale in ((Z, W64 @ A64, np.abs(W64) @ np.abs(A64)),
                                         (T, W64.T @ D64, np.abs(W64).T @ np.abs(D64)),
                                         (G2, G64 - 0.37 * D64 @ A64.T,
                                          np.abs(G64) + 0.37 * np.abs(D64) @ np.abs(A64).T)):
                    assert got.dtype == dtype
                    assert np.all(np.abs(got - want) <= tol * scale), (n, k, m)
    with pytest.raises(ValueError, match="do not chain"):
        small_products(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 4)), np.ones((2, 3)), 1.0)
    with pytest.raises(TypeError, match="one dtype"):
        small_products(np.ones((2, 3)), np.ones((3, 4), np.float32), np.ones((2, 4)),
                       np.ones((2, 3)), 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transpose_copy_is_exact(dtype):
    """fastdnn._core.small's transpose (AVX2 register blocks of 8 x 8 floats / 4 x 4
    doubles, the edges one value at a time): exactly src.T for every remainder of both
    dimensions, strided inputs included."""
    from fastdnn._core.loop import transpose_copy

    rs = np.random.RandomState(7)
    for rows in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 100):
        for cols in (1, 3, 4, 6, 8, 9, 16, 23, 32, 64, 70):
            a = rs.randn(rows, cols).astype(dtype)
            t = transpose_copy(a)
            assert t.dtype == dtype and t.shape == (cols, rows)
            np.testing.assert_array_equal(t, a.T)
    a = rs.randn(40, 30).astype(dtype)
    np.testing.assert_array_equal(transpose_copy(a[::2, 1::3]), a[::2, 1::3].T)
    np.testing.assert_array_equal(transpose_copy(np.asfortranarray(a)), a.T)
    assert transpose_copy(np.zeros((0, 5), dtype)).shape == (5, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        transpose_copy(np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match="2-D"):
        transpose_copy(np.zeros(4, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_product_on_a_transposed_copy_is_the_product(dtype):
    """product_wxt: W @ X.T by one BLAS call on X, or on X copied transposed (the engine's
    float32 path for small products), to the dtype's rounding; bad input refused."""
    from fastdnn._core.loop import product_wxt

    rs = np.random.RandomState(8)
    tol = 1e-13 if dtype == np.float64 else 2e-5
    for n, k, m in ((32, 64, 32), (10, 32, 32), (7, 20, 64), (3, 5, 9), (1, 1, 1)):
        W, X = rs.randn(n, k).astype(dtype), rs.randn(m, k).astype(dtype)
        want = W.astype(np.float64) @ X.astype(np.float64).T
        scale = np.abs(W).astype(np.float64) @ np.abs(X).astype(np.float64).T
        for transposed in (False, True):
            got = product_wxt(W, X, 3, transposed)
            assert got.dtype == dtype and got.shape == (n, m)
            assert np.all(np.abs(got - want) <= tol * scale), (n, k, m, transposed)
    with pytest.raises(ValueError, match="one k"):
        product_wxt(np.ones((2, 3), dtype), np.ones((4, 2), dtype))
    with pytest.raises(TypeError, match="one dtype"):
        product_wxt(np.ones((2, 3), np.float32), np.ones((4, 3)))
    with pytest.raises(ValueError, match="repeat"):
        product_wxt(np.ones((2, 3), dtype), np.ones((4, 3), dtype), 0)


def random_training_problem(rs, dims, m, x_order):
    """X (dims[0] x m, uniform, C- or Fortran-ordered), Y (binary for one output, else
    labels) and He-initialised parameters: a training problem of dims."""
    X = np.asarray(rs.rand(dims[0], m), order=x_order)
    if dims[-1] == 1:
        Y = (rs.rand(1, m) > 0.5).astype(np.float64)
    else:
        Y = rs.randint(0, dims[-1], (1, m))
    return X, Y, initialize_parameters(dims, "he")


@pytest.mark.parametrize("x_order", ["C", "F"])
@pytest.mark.parametrize("case", ["softmax_dropout", "sigmoid_l2", "deep_tanh"])
def test_float32_small_products_on_transposed_copies_agree(monkeypatch, x_order, case):
    """float32 steps whose small products run on transposed copies (Z_1 = W_1 X_B^T of an
    example-major batch, G_W1 of a feature-major one, every hidden layer's G_W) against the
    same training with the copies off (FASTDNN_TRANSPOSE=0: BLAS on the operands as they
    are): the same training to float32 rounding, and both near float64's."""
    rs = np.random.RandomState(11)
    dims, kw = {
        "softmax_dropout": ([24, 16, 4], dict(output="softmax", keep_prob=0.8)),
        "sigmoid_l2": ([30, 12, 1], dict(lambd=0.3)),
        "deep_tanh": ([20, 18, 9, 3], dict(output="softmax", hidden_activation="tanh")),
    }[case]
    X, Y, P = random_training_problem(rs, dims, 150, x_order)
    runs = {}
    for dtype, flag in (("float32", "1"), ("float32", "0"), ("float64", "1")):
        monkeypatch.setenv("FASTDNN_TRANSPOSE", flag)
        cfg = TrainingConfig(optimizer="adam", learning_rate=0.01, mini_batch_size=32,
                             shuffle="course", dtype=dtype, **kw)
        tr = Trainer(X, Y, P, cfg)
        costs = tr.run(6, record_every=1)
        runs[dtype, flag] = (tr.parameters(), costs)
    on, off, f64 = runs["float32", "1"], runs["float32", "0"], runs["float64", "1"]
    for key in on[0]:
        a, b, c = (r[0][key].astype(np.float64) for r in (on, off, f64))
        scale = np.abs(c).max()
        assert np.abs(a - b).max() <= 1e-4 * scale, key
        assert np.abs(a - c).max() <= 1e-3 * scale, key
    np.testing.assert_allclose(on[1], off[1], rtol=1e-5)


def test_row_means_sum_as_four_sequential_partial_sums():
    """The bias gradients' row sums (vectorised, rows side by side) are row_sum_f64's: four
    partial sums over j = k mod 4, each in order, the last m mod 4 elements added to the
    first, then (s0 + s1) + (s2 + s3), in float64 whatever the dtype; checked exactly (==)
    against that order written with numpy's sequential cumsum, for every remainder of m and
    of the rows' blocks of 8."""
    from fastdnn._core.loop import row_means

    rs = np.random.RandomState(5)
    for dtype in (np.float64, np.float32):
        for rows in (1, 3, 8, 9, 17, 70):
            for m in (1, 2, 3, 4, 5, 7, 8, 13, 200, 203):
                D = (rs.randn(rows, m) * 10.0 ** rs.randint(-3, 4, (rows, m))).astype(dtype)
                N = float(rs.randint(1, 300))
                want = np.empty(rows, dtype)
                m4 = m - m % 4
                for i in range(rows):
                    x = D[i].astype(np.float64)
                    s = [np.cumsum(x[k:m4:4])[-1] if m4 else 0.0 for k in range(4)]
                    s0 = s[0]
                    for v in x[m4:]:
                        s0 = s0 + v
                    want[i] = ((s0 + s[1]) + (s[2] + s[3])) / N
                got = row_means(D, N)
                assert got.dtype == dtype
                np.testing.assert_array_equal(got, want, err_msg=f"{dtype} {rows}x{m}")
    assert row_means(np.zeros((3, 0)), 1.0).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="float32 or float64"):
        row_means(np.zeros((2, 2), np.int64), 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_loop_is_the_formula_exactly(dtype):
    """The engine's Adam loop, every path (on AVX-512 the division by Newton-Raphson or by
    the divider, elsewhere the plain loop), against the formula in numpy, exactly (==):
    g = G + lam P (G itself where lam is 0, which an infinite P tells apart),
    V = b1 V + omb1 g, S = b2 S + omb2 g^2, P -= (c V) / (sqrt(S k) + eps), over values from 1e-30 to 1e30,
    zeros, lengths that leave a tail of every size, and vectors with a value outside the
    Newton path's range (NaN, infinities, 1e-200, subnormal a) that must divide as numpy."""
    from fastdnn._core.loop import ADAM_PATHS, adam_default_path, adam_update

    # every path this processor has (the default among them), each exactly the formula
    paths = ADAM_PATHS if adam_default_path() != "plain" else ("plain",)
    rs = np.random.RandomState(3)
    t = np.dtype(dtype).type
    big = 30 if dtype == np.float64 else 15
    for n in list(range(0, 40)) + [1000, 4099]:
        P = (rs.randn(n) * 10.0 ** rs.randint(-big, big, n)).astype(dtype)
        G = (rs.randn(n) * 10.0 ** rs.randint(-big, big, n)).astype(dtype)
        V = (rs.randn(n) * 10.0 ** rs.randint(-big, big, n)).astype(dtype)
        S = np.abs(rs.randn(n) * 10.0 ** rs.randint(-big, big, n)).astype(dtype)
        G[rs.rand(n) < 0.1] = 0
        V[rs.rand(n) < 0.1] = 0
        if n > 16:
            special = [np.nan, np.inf, -np.inf, 1e-200 if dtype == np.float64 else 1e-30,
                       np.finfo(dtype).tiny / 4]
            where = rs.choice(n, size=min(5, n // 8), replace=False)
            for w, val in zip(where, special):
                G[w] = val
            P[rs.choice(n, size=2, replace=False)] = [np.inf, -np.inf]
        for lam, b1, b2, c, k, eps in [(1e-4, 0.9, 0.999, 1e-3, 1.0, 1e-8),
                                        (0.0, 0.8, 0.99, 0.37, 1.7, 1e-7),
                                        (2.5, 0.0, 0.0, 1.0, 1.0, 1e-3)]:
            lam, b1, b2, c, k, eps = (t(x) for x in (lam, b1, b2, c, k, eps))
            omb1, omb2 = t(1) - b1, t(1) - b2
            with np.errstate(all="ignore"):
                g = G + lam * P if lam != 0 else G
                Vw = b1 * V + omb1 * g
                Sw = b2 * S + omb2 * (g * g)
                Pw = P - (c * Vw) / (np.sqrt(Sw * k) + eps)
            for path in paths:
                P2, V2, S2 = P.copy(), V.copy(), S.copy()
                adam_update(P2, G, V2, S2, lam, b1, omb1, b2, omb2, c, k, eps, path=path)
                for got, want, name in ((V2, Vw, "V"), (S2, Sw, "S"), (P2, Pw, "P")):
                    np.testing.assert_array_equal(got, want, err_msg=f"{name} n={n} {dtype} "
                                                  f"path={path}")
    with pytest.raises(ValueError, match="C-contiguous 1-D"):
        adam_update(np.zeros(3), np.zeros(4), np.zeros(3), np.zeros(3),
                    0, 0, 1, 0, 1, 1, 1, 1e-8)
    with pytest.raises(ValueError, match="path must be one of"):
        adam_update(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3),
                    0, 0, 1, 0, 1, 1, 1, 1e-8, path="fast")


def test_float32_exp_paths_agree_and_are_accurate():
    """The softmax's float32 exp: its AVX-512 path (the polynomial's steps fused) gives the
    portable loop's float32 for every input checked (every 4093rd bit pattern, and the
    edges: zeros, infinities, NaN, the overflow and underflow thresholds, subnormals), and
    both are within one float32 ulp of numpy's float64 exp rounded (bench/exp_float32.py
    runs all 2^32 inputs)."""
    from fastdnn._kernels import exp_float32

    bits = np.arange(0, 1 << 32, 4093, dtype=np.uint64).astype(np.uint32)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72283, 88.72284, 89.0,
                      -87.33655, -103.27893, -103.97208, -103.97209, -104.0, 1e-45, -1e-45,
                      1.17549435e-38, 0.5, -0.5, 1.0, -1.0], dtype=np.float32)
    x = np.concatenate([bits.view(np.float32), edges])
    x = np.concatenate([x, x[::-1][:37]])          # a length with a tail of every kind
    a = exp_float32(x)
    b = exp_float32(x, plain=True)
    both_nan = np.isnan(a) & np.isnan(b)
    assert np.array_equal(a.view(np.uint32)[~both_nan], b.view(np.uint32)[~both_nan])
    assert np.array_equal(np.isnan(a), np.isnan(x))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ref = np.exp(x.astype(np.float64)).astype(np.float32)
    ok = ~np.isnan(x)
    ulps = np.abs(a[ok].view(np.int32).astype(np.int64) - ref[ok].view(np.int32).astype(np.int64))
    assert ulps.max() <= 1, x[ok][np.argmax(ulps)]
    assert exp_float32(np.zeros(0, np.float32)).shape == (0,)
