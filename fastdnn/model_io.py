"""Model files: HDF5, saved atomically, validated completely on load.

Layout (format ``fastdnn-model``, version 2; version-1 files load too)::

    (512-byte user block)  the fastdnn header, below
    /                      attrs: format = "fastdnn-model", format_version = 1,
                                  fastdnn_version, meta (JSON, below)
    /parameters/W1 ... WL  (n_l, n_{l-1}) in the model's dtype
    /parameters/b1 ... bL  (n_l, 1)
    /costs                 (k,) float64: the cost recorded every record_every iterations
    /state/<key>           optional: the trainer's state (Trainer.state()) for an exact resume

``meta`` holds ``layer_dims`` [n_0, ..., n_L], ``activations`` (the hidden activation
for layers 1..L-1, the output for L: ``relu``/``sigmoid`` for the seed's model),
``dtype`` (float32 / float64), ``classes`` (the names of the labels: two for a binary
classifier, one per unit for softmax; empty for regression), ``config`` (version 2: the
whole :class:`fastdnn.training.TrainingConfig` of the run, ``TrainingConfig.to_dict()``)
and ``training``, the run's bookkeeping: iterations (epochs done), target_iterations,
kind ("two-layer" / "deep"), initialization, record_every, data (where the training data
came from) and data_sha256 (of the training arrays).  Version-1 files kept
learning_rate, solver, threads and dtype in ``training``; they are migrated into
``config`` on load.

The file starts with an HDF5 user block of 512 bytes (HDF5 readers skip it)
holding a plain-text header: ``FASTDNN-MODEL``, then ``sha256 <hex>`` and
``bytes <n>`` of the rest of the file.  ``load_model`` checks the header,
the length and the checksum *before* any HDF5 code parses the file, and
then parses exactly the bytes it checked: a truncated or corrupted file is
reported as such and never reaches the HDF5 library (which can crash on
corrupted metadata).

Saving writes a temporary file in the target's directory, flushes and
fsyncs it, then renames it over the target (``os.replace``), then fsyncs
the directory: a crash at any moment leaves either the previous file or
the new one, never a mixture.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from fastdnn._files import atomic_path, remove_stale_temporaries  # noqa: F401 (re-exported)

__all__ = ["save_model", "load_model", "SavedModel", "FORMAT", "FORMAT_VERSION",
           "layer_dims_of", "remove_stale_temporaries"]

FORMAT = "fastdnn-model"
FORMAT_VERSION = 2
HEADER_SIZE = 512
MAGIC = b"FASTDNN-MODEL\n"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
DEFAULT_CLASSES = ["non-cat", "cat"]
_DTYPES = ("float32", "float64")
#: the run's bookkeeping in ``meta["training"]`` (hyperparameters live in ``meta["config"]``)
_TRAINING_KEYS = {
    "iterations": int,
    "target_iterations": int,
    "kind": str,
    "initialization": str,
    "record_every": int,
    "data": str,
    "data_sha256": str,
}
#: version 1 kept these settings in ``training``; they belong to the configuration now
_V1_CONFIG_KEYS = ("learning_rate", "solver", "threads", "dtype")
_TRAINING_DEFAULTS = {"iterations": 0, "target_iterations": 0, "kind": "deep",
                      "initialization": "seed", "record_every": 100, "data": "",
                      "data_sha256": ""}


@dataclass
class SavedModel:
    """The content of a model file (what :func:`load_model` returns)."""

    parameters: dict
    layer_dims: list
    activations: list
    dtype: np.dtype
    fastdnn_version: str
    training: dict = field(default_factory=dict)
    costs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    state: dict | None = None
    classes: list = field(default_factory=lambda: list(DEFAULT_CLASSES))
    path: str | None = None
    config: object = None           # fastdnn.training.TrainingConfig of the run
    format_version: int = FORMAT_VERSION

    @property
    def hidden_activation(self):
        return self.activations[0] if len(self.activations) > 1 else "relu"

    @property
    def output(self):
        return self.activations[-1]

    @property
    def iteration(self):
        """Iterations of gradient descent behind these parameters."""
        return int(self.training.get("iterations", 0))

    @property
    def complete(self):
        """True unless this is a checkpoint of an unfinished run."""
        t = self.training
        return int(t.get("iterations", 0)) >= int(t.get("target_iterations", 0))


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError("fastdnn model files need h5py: pip install h5py") from exc
    return h5py


def layer_dims_of(parameters):
    """[n_0, n_1, ..., n_L] from W1 (n_1, n_0), ..., WL (n_L, n_{L-1}); validates the chain."""
    if not isinstance(parameters, dict) or not parameters:
        raise TypeError("parameters must be a non-empty dict of W1, b1, ..., WL, bL")
    L = len(parameters) // 2
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    if set(parameters) != expected:
        raise ValueError(f"parameters must hold exactly W1, b1, ..., WL, bL; got keys "
                         f"{sorted(map(str, parameters))}")
    dims = None
    for l in range(1, L + 1):
        W, b = np.shape(parameters[f"W{l}"]), np.shape(parameters[f"b{l}"])
        if len(W) != 2:
            raise ValueError(f"W{l} must be 2-D, got shape {W}")
        if dims is None:
            dims = [W[1]]
        if W[1] != dims[-1]:
            raise ValueError(f"W{l} has shape {W} but layer {l - 1} has {dims[-1]} units "
                             f"(shapes must chain: W{l} is (n_{l}, n_{l - 1}))")
        if b != (W[0], 1):
            raise ValueError(f"b{l} has shape {b}, expected {(W[0], 1)} to match W{l} {W}")
        dims.append(W[0])
    if min(dims) < 1:
        raise ValueError(f"layer sizes must be positive, got {dims}")
    return [int(n) for n in dims]


def _activations(L, config=None):
    """The layers' functions: the hidden activation for 1..L-1, the output for L."""
    if config is None:
        return ["relu"] * (L - 1) + ["sigmoid"]
    return [config.hidden_activation] * (L - 1) + [config.output]


def _config_from(training, config, dtype_name):
    """The run's TrainingConfig: ``config`` as given, else built from version-1 settings."""
    from fastdnn.training import TrainingConfig

    if config is not None:
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"config must be a fastdnn.training.TrainingConfig, got "
                            f"{type(config).__name__}")
        return config
    old = {k: training[k] for k in _V1_CONFIG_KEYS if k in (training or {})}
    old.setdefault("dtype", dtype_name)
    try:
        return TrainingConfig(**old)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"training: {exc}") from None


def _seal(path):
    """Write the fastdnn header (sha256 and length of the HDF5 part) into the user block."""
    with open(path, "r+b") as f:
        f.seek(HEADER_SIZE)
        body = f.read()
        header = (MAGIC + b"sha256 " + hashlib.sha256(body).hexdigest().encode() + b"\n"
                  + b"bytes " + str(len(body)).encode() + b"\n")
        f.seek(0)
        f.write(header.ljust(HEADER_SIZE, b"\0"))
        f.flush()
        os.fsync(f.fileno())


def _verified_bytes(path):
    """The whole file, after checking its header, length and checksum (ValueError if not)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError(f"{path}: empty file (0 bytes), not a fastdnn model")
    if not data.startswith(MAGIC):
        if data.startswith(HDF5_SIGNATURE):
            raise ValueError(f"{path}: an HDF5 file but not a fastdnn model file (no fastdnn "
                             f"header; a data set or another program's file?)")
        if MAGIC.startswith(data[:len(MAGIC)]):
            raise ValueError(f"{path}: truncated fastdnn model file ({len(data)} bytes)")
        raise ValueError(f"{path}: not a fastdnn model file (neither a fastdnn header nor an "
                         f"HDF5 signature at the start)")
    if len(data) < HEADER_SIZE:
        raise ValueError(f"{path}: truncated fastdnn model file ({len(data)} bytes, less than "
                         f"its {HEADER_SIZE}-byte header)")
    lines = data[len(MAGIC):HEADER_SIZE].split(b"\n", 2)
    try:
        key1, digest = lines[0].split(b" ")
        key2, size = lines[1].split(b" ")
        if (key1 != b"sha256" or key2 != b"bytes" or len(digest) != 64
                or lines[2].strip(b"\0")):          # the padding must be zeros
            raise ValueError
        size = int(size)
    except (ValueError, IndexError):
        raise ValueError(f"{path}: corrupted fastdnn model file (unreadable header)") from None
    body = memoryview(data)[HEADER_SIZE:]
    if len(body) < size:
        raise ValueError(f"{path}: truncated fastdnn model file ({HEADER_SIZE + len(body)} of "
                         f"{HEADER_SIZE + size} bytes)")
    if len(body) > size:
        raise ValueError(f"{path}: corrupted fastdnn model file ({len(body) - size} bytes "
                         f"more than its header says)")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise ValueError(f"{path}: corrupted fastdnn model file (content does not match its "
                         f"sha256 checksum)")
    return data


def save_model(path, parameters, *, costs=(), training=None, state=None, classes=None,
               config=None):
    """Save ``parameters`` (W1, b1, ..., WL, bL) to the HDF5 model file ``path``, atomically.

    ``costs``: the recorded cost history; ``config``: the run's
    :class:`fastdnn.training.TrainingConfig` (default: the seed's, with the learning rate,
    solver, threads and dtype of ``training`` if given there, as version 1 did);
    ``training``: the run's bookkeeping (keys as in the module docstring; missing ones get
    neutral defaults);
    ``state``: optional dict of arrays (``Trainer.state()``) stored as-is
    for an exact resume; ``classes``: the names of labels 0 and 1 (default
    the course's ``["non-cat", "cat"]``).  All parameters must share one dtype, float32 or
    float64, and be finite.  Returns ``path``.
    """
    from fastdnn import __version__

    h5py = _h5py()
    dims = layer_dims_of(parameters)
    params = {k: np.asarray(v) for k, v in parameters.items()}
    dtypes = {a.dtype for a in params.values()}
    if len(dtypes) != 1 or next(iter(dtypes)).name not in _DTYPES:
        raise TypeError(f"parameters must all be float32 or all float64, got dtypes "
                        f"{sorted(str(d) for d in dtypes)}")
    dtype = next(iter(dtypes))
    for k, a in params.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"parameter {k} holds non-finite values (nan or inf): "
                             f"training diverged; not saving")
    train = dict(_TRAINING_DEFAULTS)
    if training:
        if not isinstance(training, dict):
            raise TypeError(f"training must be a dict, got {type(training).__name__}")
        unknown = set(training) - set(_TRAINING_KEYS) - set(_V1_CONFIG_KEYS)
        if unknown:
            raise ValueError(f"training has unknown keys {sorted(unknown)}; known: "
                             f"{sorted(_TRAINING_KEYS)}")
        train.update({k: v for k, v in training.items() if k in _TRAINING_KEYS})
    cfg = _config_from(training, config, dtype.name)
    train = _check_training(train, "training")
    L = len(dims) - 1
    if classes is None:
        classes = DEFAULT_CLASSES if cfg.output == "sigmoid" and dims[-1] == 1 else []
    classes = _check_classes(classes, "classes", cfg.output, dims[-1])
    meta = {"layer_dims": dims, "activations": _activations(L, cfg), "dtype": dtype.name,
            "classes": classes, "training": train, "config": cfg.to_dict()}
    meta_json = json.dumps(meta, sort_keys=True)

    datasets = {f"parameters/{k}": np.ascontiguousarray(a) for k, a in params.items()}
    datasets["costs"] = np.asarray(np.asarray(costs, dtype=np.float64).ravel(), order="C")
    if state is not None:
        for k, a in state.items():
            if not isinstance(k, str) or not k or "/" in k or k.startswith("."):
                raise ValueError(f"state keys must be plain names, got {k!r}")
            datasets[f"state/{k}"] = np.asarray(np.asarray(a), order="C")

    path = os.fspath(path)
    with atomic_path(path, durable=True) as tmp:
        with h5py.File(tmp, "w", userblock_size=HEADER_SIZE) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["fastdnn_version"] = __version__
            f.attrs["meta"] = meta_json
            f.create_group("parameters")
            if state is not None:
                f.create_group("state")
            for name, a in datasets.items():
                f.create_dataset(name, data=a)
        _seal(tmp)
    return path


def _check_classes(classes, where, output="sigmoid", n_out=1):
    """Label names: two for a binary sigmoid output (labels 0 and 1), n_L for softmax, any
    (usually none) for regression or multi-label outputs."""
    if not isinstance(classes, (list, tuple, np.ndarray)):
        raise ValueError(f"{where}: classes must be a list of names, got {classes!r}")
    names = [c.decode("utf-8", "replace") if isinstance(c, (bytes, np.bytes_)) else c
             for c in classes]
    if not all(isinstance(c, str) for c in names):
        raise ValueError(f"{where}: classes must be names (text), got {classes!r}")
    want = 2 if output == "sigmoid" and n_out == 1 else n_out if output == "softmax" else None
    if want is not None and len(names) != want:
        raise ValueError(f"{where}: classes must be the {want} names of labels 0..{want - 1} "
                         f"for a {output} output of {n_out} unit(s), got {classes!r}")
    return [str(c) for c in names]


def _check_training(train, where):
    for key, types in _TRAINING_KEYS.items():
        if key not in train:
            raise ValueError(f"{where}: missing setting {key!r}")
        v = train[key]
        if isinstance(v, bool) or not isinstance(v, types):
            raise ValueError(f"{where}: setting {key!r} = {v!r} has the wrong type")
    extra = set(train) - set(_TRAINING_KEYS)
    if extra:
        raise ValueError(f"{where}: unknown settings {sorted(extra)}")
    out = dict(train)
    if out["iterations"] < 0 or out["target_iterations"] < 0 or out["record_every"] < 1:
        raise ValueError(f"{where}: iterations, target_iterations must be >= 0 and "
                         f"record_every >= 1, got {out['iterations']}, "
                         f"{out['target_iterations']}, {out['record_every']}")
    if out["kind"] not in ("two-layer", "deep"):
        raise ValueError(f"{where}: kind must be 'two-layer' or 'deep', got {out['kind']!r}")
    from fastdnn.training import registry
    if out["initialization"] not in registry.INITIALIZERS:
        raise ValueError(f"{where}: initialization must be one of "
                         f"{sorted(registry.INITIALIZERS)}, got {out['initialization']!r}")
    return out


def _attr_str(f, name, path):
    if name not in f.attrs:
        raise ValueError(f"{path}: not a fastdnn model file (attribute {name!r} missing; "
                         f"top-level keys: {sorted(f.keys())})")
    v = f.attrs[name]
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if not isinstance(v, str):
        raise ValueError(f"{path}: attribute {name!r} should be text, got {type(v).__name__}")
    return v


def _read_datasets(f, h5py, path):
    """Every dataset in the file as {relative path: ndarray}; refuses anything unexpected."""
    out = {}
    for top in f.keys():
        obj = f[top]
        if top == "costs":
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(f"{path}: 'costs' must be a dataset")
            out["costs"] = np.array(obj[()])
        elif top in ("parameters", "state"):
            if not isinstance(obj, h5py.Group):
                raise ValueError(f"{path}: {top!r} must be a group")
            for k in obj.keys():
                d = obj[k]
                if not isinstance(d, h5py.Dataset):
                    raise ValueError(f"{path}: {top}/{k} must be a dataset")
                out[f"{top}/{k}"] = np.array(d[()])
        else:
            raise ValueError(f"{path}: unexpected entry {top!r} in a fastdnn model file")
    return out


def load_model(path):
    """Read and validate a model file written by :func:`save_model`.

    Returns a :class:`SavedModel`.  Raises FileNotFoundError when ``path``
    does not exist and ValueError naming the problem for anything else:
    an empty, truncated or non-HDF5 file, an HDF5 file that is not a
    fastdnn model, a missing key, parameters whose shapes do not chain,
    a wrong dtype, non-finite values, or content that fails its checksum.
    The checksum is verified before the HDF5 library sees the file.
    """
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a model file")
    data = _verified_bytes(path)
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            fmt = _attr_str(f, "format", path)
            if fmt != FORMAT:
                raise ValueError(f"{path}: not a fastdnn model file (format {fmt!r})")
            version = f.attrs.get("format_version")
            if not isinstance(version, (int, np.integer)) or isinstance(version, bool):
                raise ValueError(f"{path}: attribute 'format_version' missing or not an integer")
            if int(version) > FORMAT_VERSION:
                raise ValueError(f"{path}: written with model format version {int(version)}; "
                                 f"this fastdnn reads up to version {FORMAT_VERSION} (upgrade)")
            if int(version) < 1:
                raise ValueError(f"{path}: invalid format_version {int(version)}")
            fastdnn_version = _attr_str(f, "fastdnn_version", path)
            meta_json = _attr_str(f, "meta", path)
            datasets = _read_datasets(f, h5py, path)
    except UnicodeError as exc:     # h5py decoding a corrupted text attribute
        raise ValueError(f"{path}: unreadable model file ({type(exc).__name__}: {exc})") \
            from None
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError...
        raise ValueError(f"{path}: unreadable model file ({type(exc).__name__}: {exc})") \
            from None
    return _validate(path, meta_json, datasets, fastdnn_version, int(version))


def _validate(path, meta_json, datasets, fastdnn_version, version=FORMAT_VERSION):
    try:
        meta = json.loads(meta_json)
    except ValueError:
        raise ValueError(f"{path}: attribute 'meta' is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: attribute 'meta' must be a JSON object")
    for key in ("layer_dims", "activations", "dtype", "classes", "training"):
        if key not in meta:
            raise ValueError(f"{path}: meta lacks {key!r}")
    dims = meta["layer_dims"]
    if (not isinstance(dims, list) or len(dims) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in dims)):
        raise ValueError(f"{path}: layer_dims must be a list of >= 2 positive ints, got {dims!r}")
    L = len(dims) - 1
    dtype_name = meta["dtype"]
    if dtype_name not in _DTYPES:
        raise ValueError(f"{path}: dtype must be float32 or float64, got {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    if not isinstance(meta["training"], dict):
        raise ValueError(f"{path}: training settings must be a JSON object")
    raw = dict(meta["training"])
    if version == 1:                    # migrate: settings -> config, new bookkeeping keys
        old = {k: raw.pop(k) for k in _V1_CONFIG_KEYS if k in raw}
        raw.setdefault("initialization", "seed")
        meta_config = None
    else:
        old = {}
        meta_config = meta.get("config")
        if not isinstance(meta_config, dict):
            raise ValueError(f"{path}: meta lacks the training configuration ('config')")
    training = _check_training(raw, f"{path}: training")
    from fastdnn.training import TrainingConfig
    try:
        if meta_config is None:
            config = _config_from(old, None, dtype_name)
        else:
            config = TrainingConfig.from_dict(meta_config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid training configuration ({exc})") from None
    if config.dtype != dtype_name:
        raise ValueError(f"{path}: the configuration's dtype {config.dtype} differs from the "
                         f"parameters' {dtype_name}")
    if meta["activations"] != _activations(L, config):
        raise ValueError(f"{path}: activations {meta['activations']!r} do not match the "
                         f"configuration (expected {_activations(L, config)})")
    if config.output == "softmax" and dims[-1] < 2:
        raise ValueError(f"{path}: a softmax output needs >= 2 units, layer_dims {dims}")
    classes = _check_classes(meta["classes"], f"{path}: meta", config.output, dims[-1])

    parameters = {}
    for l in range(1, L + 1):
        for name, shape in ((f"W{l}", (dims[l], dims[l - 1])), (f"b{l}", (dims[l], 1))):
            key = f"parameters/{name}"
            if key not in datasets:
                raise ValueError(f"{path}: missing parameter {name} (layer_dims {dims})")
            a = datasets.pop(key)
            if a.shape != shape:
                raise ValueError(f"{path}: parameter {name} has shape {a.shape}, expected "
                                 f"{shape} for layer_dims {dims}")
            if a.dtype != dtype:
                raise ValueError(f"{path}: parameter {name} has dtype {a.dtype}, expected "
                                 f"{dtype}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{path}: parameter {name} holds non-finite values")
            parameters[name] = a
    extra = sorted(k for k in datasets if k.startswith("parameters/"))
    if extra:
        raise ValueError(f"{path}: unexpected parameters {extra} for layer_dims {dims}")
    if "costs" not in datasets:
        raise ValueError(f"{path}: missing dataset 'costs'")
    costs = datasets.pop("costs")
    if costs.ndim != 1 or costs.dtype != np.float64:
        raise ValueError(f"{path}: 'costs' must be 1-D float64, got {costs.dtype} {costs.shape}")
    state = {k[len("state/"):]: a for k, a in datasets.items() if k.startswith("state/")}
    for k, a in state.items():
        if a.dtype.kind not in "fiub":
            raise ValueError(f"{path}: state/{k} must be numeric, got dtype {a.dtype}")
    return SavedModel(parameters=parameters, layer_dims=list(dims),
                      activations=list(meta["activations"]), dtype=dtype, classes=classes,
                      fastdnn_version=fastdnn_version, training=training, costs=costs,
                      state=state or None, path=path, config=config, format_version=version)
