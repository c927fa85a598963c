"""Model files: exact round trips, atomic saves, and a clear ValueError for every
kind of broken file (empty, truncated, flipped bytes, not HDF5, foreign HDF5,
missing keys, shapes that do not chain, wrong dtypes, non-finite values)."""
import json
import os

import h5py
import numpy as np
import pytest

import fastdnn
from fastdnn import model_io
from fastdnn.data import make_standin_dataset
from fastdnn.model_io import load_model, save_model
from tests.conftest import make_params


TRAINING = dict(learning_rate=0.0075, iterations=1200, target_iterations=2500, kind="deep",
                solver="gram", threads=2, dtype="float64", record_every=100,
                data="somewhere", data_sha256="ab" * 32)


def saved(tmp_path, name="m.h5", **kw):
    path = tmp_path / name
    params = kw.pop("params", make_params())
    save_model(path, params, costs=[0.7, 0.6, 0.5], training=TRAINING,
               state={"W1_0": np.arange(60.0).reshape(5, 12), "C": np.zeros((5, 7)),
                      "b1": params["b1"]}, **kw)
    return path, params


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_exact(tmp_path, dtype):
    params = make_params(dtype=dtype)
    training = dict(TRAINING, dtype=np.dtype(dtype).name)
    state = {"W1_0": params["W1"] * 2, "C": np.ones((5, 9), dtype=dtype), "b2": params["b2"]}
    path = save_model(tmp_path / "m.h5", params, costs=np.array([0.7, 0.5]),
                      training=training, state=state, classes=[b"non-cat", b"cat"])
    m = load_model(path)
    assert m.layer_dims == [12, 5, 3, 1]
    assert m.activations == ["relu", "relu", "sigmoid"]
    assert m.dtype == np.dtype(dtype)
    assert m.fastdnn_version == fastdnn.__version__
    bookkeeping = {k: v for k, v in training.items()
                   if k not in ("learning_rate", "solver", "threads", "dtype")}
    assert m.training == dict(bookkeeping, initialization="seed")
    assert (m.config.learning_rate, m.config.solver, m.config.threads, m.config.dtype) == \
        (training["learning_rate"], training["solver"], training["threads"], training["dtype"])
    assert m.classes == ["non-cat", "cat"]
    assert m.iteration == 1200 and not m.complete
    np.testing.assert_array_equal(m.costs, [0.7, 0.5])
    assert sorted(m.parameters) == sorted(params)
    for k in params:
        assert m.parameters[k].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(m.parameters[k], params[k])
    assert sorted(m.state) == sorted(state)
    for k in state:
        assert m.state[k].dtype == state[k].dtype
        np.testing.assert_array_equal(m.state[k], state[k])


def test_defaults_and_no_state(tmp_path):
    params = make_params(dims=(4, 1))
    m = load_model(save_model(tmp_path / "m.h5", params))
    assert m.state is None and m.layer_dims == [4, 1] and m.activations == ["sigmoid"]
    assert m.costs.shape == (0,) and m.complete


def test_public_names():
    assert fastdnn.save_model is save_model and fastdnn.load_model is load_model


def test_file_mode_follows_umask(tmp_path):
    path, _ = saved(tmp_path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------ refused saves
def test_save_refuses_bad_parameters(tmp_path):
    p = make_params()
    with pytest.raises(ValueError, match="W2 has shape"):
        save_model(tmp_path / "x.h5", dict(p, W2=np.zeros((3, 4))))
    with pytest.raises(ValueError, match="exactly W1, b1"):
        save_model(tmp_path / "x.h5", {k: v for k, v in p.items() if k != "b3"})
    with pytest.raises(TypeError, match="must all be float32 or all float64"):
        save_model(tmp_path / "x.h5", dict(p, b1=p["b1"].astype(np.float32)))
    bad = dict(p, W1=p["W1"].copy())
    bad["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match="W1 holds non-finite"):
        save_model(tmp_path / "x.h5", bad)
    with pytest.raises(ValueError, match="unknown keys"):
        save_model(tmp_path / "x.h5", p, training={"lr": 1})
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ atomicity
def test_crash_mid_save_keeps_previous_file(tmp_path, monkeypatch):
    path, params = saved(tmp_path)
    before = path.read_bytes()
    calls = {"n": 0}
    real = h5py.Group.create_dataset

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(self, *a, **k)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        save_model(path, make_params(seed=1))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.h5"]          # the temporary file is gone
    np.testing.assert_array_equal(load_model(path).parameters["W1"], params["W1"])


def test_crash_at_rename_keeps_previous_file(tmp_path, monkeypatch):
    path, _ = saved(tmp_path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(model_io.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        save_model(path, make_params(seed=1))
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.h5"]


# --------------------------------------------------------------- broken files
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "none.h5")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_model(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        load_model(tmp_path / "e.h5")


def test_not_hdf5(tmp_path):
    (tmp_path / "t.h5").write_text("W1 = [[1, 2, 3]]\n" * 100)
    with pytest.raises(ValueError, match="not a fastdnn model file \\(neither a fastdnn "
                                         "header nor an HDF5 signature"):
        load_model(tmp_path / "t.h5")


def test_foreign_hdf5(tmp_path):
    make_standin_dataset(tmp_path, n_train=3, n_test=2)
    with pytest.raises(ValueError, match="an HDF5 file but not a fastdnn model file"):
        load_model(tmp_path / "train_catvnoncat.h5")
    # a sealed file (valid header and checksum) whose HDF5 content is someone else's
    with h5py.File(tmp_path / "other.h5", "w", userblock_size=model_io.HEADER_SIZE) as f:
        f.attrs["format"] = "keras"
    model_io._seal(tmp_path / "other.h5")
    with pytest.raises(ValueError, match="not a fastdnn model file \\(format 'keras'\\)"):
        load_model(tmp_path / "other.h5")


def test_truncated_files(tmp_path):
    path, _ = saved(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    for n in (1, 8, 100, 511, 512, 2048, len(data) // 2, len(data) - 100, len(data) - 1):
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match="cut.h5: truncated fastdnn model file"):
            load_model(cut)
    cut.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match="1 bytes more than its header says"):
        load_model(cut)


def test_flipped_bytes_never_load_wrong_content(tmp_path):
    """Each single corrupted byte: either the file loads with exactly the saved
    content or load_model raises ValueError (in fact every flip is detected);
    never a crash (HDF5 itself can segfault on corrupted metadata: the checksum
    keeps such files away from it)."""
    path, params = saved(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "bad.h5"
    undetected = []
    positions = sorted(set(np.linspace(0, len(data) - 1, 400).astype(int)) | set(range(600)))
    for pos in positions:
        corrupt = bytearray(data)
        corrupt[pos] ^= 0xFF
        bad.write_bytes(bytes(corrupt))
        try:
            m = load_model(bad)
        except ValueError as exc:
            assert "bad.h5" in str(exc)
            continue
        undetected.append(pos)
        for k in params:
            np.testing.assert_array_equal(m.parameters[k], params[k])
        assert m.training == TRAINING
        np.testing.assert_array_equal(m.costs, [0.7, 0.6, 0.5])
    assert undetected == []


def _rewrite(path, mutate):
    """Apply mutate(meta: dict, datasets: dict) and rewrite the file with a valid checksum,
    so that the structural validation (not the checksum) must find the problem."""
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        datasets = model_io._read_datasets(f, h5py, str(path))
    meta = json.loads(attrs["meta"])
    mutate(meta, datasets)
    with h5py.File(path, "w", userblock_size=model_io.HEADER_SIZE) as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["meta"] = json.dumps(meta, sort_keys=True)
        for k, v in datasets.items():
            f.create_dataset(k, data=v)
    model_io._seal(path)


def _drop(key):
    def mutate(meta, ds):
        del ds[key]
    return mutate


def _set(key, value):
    def mutate(meta, ds):
        ds[key] = value
    return mutate


def _meta(**changes):
    def mutate(meta, ds):
        for k, v in changes.items():
            if v is None:
                del meta[k]
            else:
                meta[k] = v
    return mutate


def _training(**changes):
    def mutate(meta, ds):
        meta["training"].update(changes)
    return mutate


def _config(**changes):
    def mutate(meta, ds):
        meta["config"].update(changes)
    return mutate


@pytest.mark.parametrize("mutate,message", [
    (_drop("parameters/W2"), "missing parameter W2"),
    (_drop("parameters/b3"), "missing parameter b3"),
    (_drop("costs"), "missing dataset 'costs'"),
    (_set("parameters/W2", np.zeros((3, 4))), r"W2 has shape \(3, 4\), expected \(3, 5\)"),
    (_set("parameters/b1", np.zeros((5,))), r"b1 has shape \(5,\), expected \(5, 1\)"),
    (_set("parameters/W1", np.zeros((5, 12), np.float32)), "W1 has dtype float32"),
    (_set("parameters/W1", np.full((5, 12), np.inf)), "W1 holds non-finite"),
    (_set("parameters/W4", np.zeros((1, 1))), "unexpected parameters"),
    (_set("costs", np.zeros((2, 2))), "'costs' must be 1-D float64"),
    (_set("state/names", np.array([b"a"])), "state/names must be numeric"),
    (_meta(layer_dims=[12, 5, 0, 1]), "layer_dims must be a list of >= 2 positive ints"),
    (_meta(layer_dims=[12, 5, 4, 1]), r"W2 has shape \(3, 5\), expected \(4, 5\)"),
    (_meta(activations=["relu", "tanh", "sigmoid"]), "activations"),
    (_meta(dtype="float16"), "dtype must be float32 or float64"),
    (_meta(classes=["cat"]), "classes must be the 2 names"),
    (_meta(config=None), "meta lacks the training configuration"),
    (_config(optimizer="rmsprop"), "invalid training configuration .*optimizer"),
    (_config(keep_prob=0), "invalid training configuration .*keep_prob"),
    (_config(output="softmax"), "activations"),
    (_meta(training=None), "meta lacks 'training'"),
    (_meta(layer_dims=None), "meta lacks 'layer_dims'"),
    (_config(learning_rate="fast"), "learning_rate must be a real number, got 'fast'"),
    (_training(learning_rate=0.1), "unknown settings"),
    (_training(iterations=-1), "iterations, target_iterations must be >= 0"),
    (_training(kind="wide"), "kind must be"),
    (_config(threads=0), "threads must be >= 1"),
    (_training(extra=1), "unknown settings"),
])
def test_structural_validation(tmp_path, mutate, message):
    path, _ = saved(tmp_path)
    _rewrite(path, mutate)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_checksum_mismatch(tmp_path):
    path, _ = saved(tmp_path)
    with h5py.File(path, "r+") as f:       # a change made with an HDF5 tool
        f["parameters/W1"][0, 0] = 42.0
    with pytest.raises(ValueError, match="does not match its sha256"):
        load_model(path)
    data = bytearray(path.read_bytes())
    data[20] ^= 1                           # inside the header's checksum text
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted fastdnn model file"):
        load_model(path)


def _edit_sealed(path, edit):
    with h5py.File(path, "r+") as f:
        edit(f)
    model_io._seal(path)


@pytest.mark.parametrize("attr,value,message", [
    ("format_version", 99, "format version 99"),
    ("format_version", "one", "'format_version' missing or not an integer"),
    ("format_version", 0, "invalid format_version 0"),
    ("meta", "{not json", "'meta' is not valid JSON"),
    ("meta", "[1, 2]", "'meta' must be a JSON object"),
    ("format", "fastdnn-other", "format 'fastdnn-other'"),
])
def test_bad_attributes(tmp_path, attr, value, message):
    path, _ = saved(tmp_path)
    _edit_sealed(path, lambda f: f.attrs.__setitem__(attr, value))
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_missing_attribute_and_unexpected_entry(tmp_path):
    path, _ = saved(tmp_path)
    _edit_sealed(path, lambda f: f.attrs.__delitem__("meta"))
    with pytest.raises(ValueError, match="attribute 'meta' missing"):
        load_model(path)
    path, _ = saved(tmp_path, name="n.h5")
    _edit_sealed(path, lambda f: f.create_dataset("extra", data=[1]))
    with pytest.raises(ValueError, match="unexpected entry 'extra'"):
        load_model(path)
    path, _ = saved(tmp_path, name="g.h5")
    _edit_sealed(path, lambda f: f["parameters"].create_group("W9"))
    with pytest.raises(ValueError, match="parameters/W9 must be a dataset"):
        load_model(path)
