"""The ``fastdnn`` command (also ``python -m fastdnn``): train, predict, evaluate.

    fastdnn train    [--layers 12288,20,7,5,1] [--learning-rate 0.0075] [--iterations 2500]
                     [--dtype float64|float32] [--solver auto|primal|gram] [--threads N]
                     [--model auto|two-layer|deep] [--data DIR] [--out runs/model.h5]
                     [--plot PNG] [--checkpoint-every N] [--resume] [--quiet]
    fastdnn predict  MODEL INPUT [INPUT ...] [--resize]
    fastdnn evaluate MODEL [--data DIR] [--grid PNG]

Data (train, evaluate): ``--data DIR``, else ``$FASTDNN_DATA``, else
``./datasets``: a directory with the course's ``train_catvnoncat.h5`` and
``test_catvnoncat.h5``.  Where none holds them, a generated stand-in image
set in the same layout (``fastdnn.data.make_standin_dataset``, seed 0) is
written once to a cache directory and used, and the run says so.

Model kind: ``--model auto`` (the default) trains the two-layer model
(``two_layer_model``: ``initialize_parameters``, ``randn * 0.01``) when
``--layers`` has three sizes and the L-layer model (``L_layer_model``:
``initialize_parameters_deep``) otherwise; both start with
``np.random.seed(1)`` as the seed does.

Resume: ``--checkpoint-every N`` saves the model file (``--out``) with the
trainer's state every N iterations, atomically; ``--resume`` loads it and
continues to ``--iterations`` with the checkpoint's settings, ending with
exactly the parameters of an uninterrupted run.

Errors are one line on stderr and a non-zero exit status (1; 2 for a
usage error; 130 when interrupted); ``FASTDNN_TRACEBACK=1`` shows the
traceback of an unexpected error.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import platform
import signal
import sys
import tempfile
import time

import numpy as np

__all__ = ["main", "build_parser"]

DEFAULT_LAYERS = "12288,20,7,5,1"
DEFAULT_LEARNING_RATE = 0.0075
DEFAULT_ITERATIONS = 2500
DEFAULT_OUT = os.path.join("runs", "model.h5")
RECORD_EVERY = 100
STANDIN_SEED = 0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status ``code``."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see {self.prog} --help)", code=2)


# ------------------------------------------------------------------ arguments
def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def _learning_rate(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return v


def build_parser():
    parser = _Parser(
        prog="fastdnn",
        description="Train, use and evaluate the cat / non-cat deep neural network of the "
                    "'deep neural network step by step' exercise.",
        epilog="Data directory (train, evaluate): --data, else $FASTDNN_DATA, else ./datasets; "
               "without the course files a generated stand-in is used (and announced).")
    from fastdnn import __version__
    parser.add_argument("--version", action="version", version=f"fastdnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,predict,evaluate}")
    sub.required = True

    t = sub.add_parser("train", help="train a model and save it",
                       description="Train the two-layer or L-layer model by full-batch "
                                   "gradient descent, show progress, print train/test "
                                   "accuracy and time, write the cost curve PNG and save "
                                   "the model file.")
    t.add_argument("--layers", metavar="N0,N1,...,NL",
                   help=f"layer sizes, input first, output last: 1 for a binary label, one per "
                        f"class for softmax (default {DEFAULT_LAYERS}, the seed's five-layer "
                        f"model, with the last size set to the number of classes for data "
                        f"with more than two; 12288,7,1 is its two-layer model)")
    t.add_argument("--model", choices=("auto", "two-layer", "deep"),
                   help="initialisation: two-layer = two_layer_model (randn*0.01), deep = "
                        "L_layer_model (randn/sqrt(n)); auto (default) = two-layer for three "
                        "sizes, deep otherwise")
    t.add_argument("--learning-rate", type=_learning_rate, metavar="LR",
                   help=f"gradient descent step (default {DEFAULT_LEARNING_RATE})")
    t.add_argument("--iterations", type=_positive_int, metavar="N",
                   help=f"total iterations of gradient descent (default {DEFAULT_ITERATIONS}; "
                        f"with --resume: the checkpoint's target)")
    t.add_argument("--dtype", choices=("float64", "float32"),
                   help="floating point type of the computation (default float64, as the seed)")
    t.add_argument("--solver", choices=("auto", "primal", "gram"),
                   help="training engine solver, passed to fastdnn.engine.Trainer (default auto)")
    t.add_argument("--threads", type=_positive_int, metavar="N",
                   help="threads for the engine (default: the engine's choice); an exact "
                        "resume needs the same value")
    _add_training_options(t)
    t.add_argument("--data", metavar="DIR",
                   help="directory with train_catvnoncat.h5 and test_catvnoncat.h5 "
                        "(default $FASTDNN_DATA, then ./datasets, then a generated stand-in)")
    t.add_argument("--out", metavar="MODEL.h5", default=DEFAULT_OUT,
                   help=f"model file to write; also the checkpoint file (default {DEFAULT_OUT})")
    t.add_argument("--plot", metavar="PNG",
                   help="cost curve picture (default: beside --out, <name>_cost.png; needs "
                        "matplotlib)")
    t.add_argument("--no-plot", action="store_true", help="do not write the cost curve picture")
    t.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                   help="save the model with the trainer's state to --out every N iterations "
                        "(atomically), so that --resume can continue after a crash")
    t.add_argument("--resume", action="store_true",
                   help="continue the run saved in --out (a checkpoint or a finished model) to "
                        "--iterations, with its settings; the result equals an uninterrupted run")
    t.add_argument("--quiet", action="store_true",
                   help="no progress line and no per-100-iteration cost lines")
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="probabilities and labels for images or an h5 set",
                       description="Print, for each input example, the network's output "
                                   "probability AL and the predicted label (AL > 0.5).")
    p.add_argument("model", metavar="MODEL", help="model file written by 'fastdnn train'")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="image files (PNG/JPEG, 64x64 RGB for the course's model; reading "
                        "them needs Pillow) or h5 files in the course's layout (a *_x image "
                        "dataset, optionally *_y labels)")
    p.add_argument("--resize", action="store_true",
                   help="scale images of another size to the model's input size (needs "
                        "Pillow) instead of refusing them")
    p.set_defaults(func=cmd_predict)

    e = sub.add_parser("evaluate", help="accuracy, confusion counts, mislabeled images",
                       description="Print train and test accuracy and the test set's "
                                   "confusion counts, and draw the mislabeled test images "
                                   "with their true and predicted labels.")
    e.add_argument("model", metavar="MODEL", help="model file written by 'fastdnn train'")
    e.add_argument("--data", metavar="DIR",
                   help="directory with train_catvnoncat.h5 and test_catvnoncat.h5 "
                        "(default $FASTDNN_DATA, then ./datasets, then a generated stand-in)")
    e.add_argument("--grid", metavar="PNG",
                   help="picture of the mislabeled test images (default: beside MODEL, "
                        "<name>_mislabeled.png; needs matplotlib)")
    e.add_argument("--no-grid", action="store_true", help="do not draw the mislabeled images")
    e.set_defaults(func=cmd_evaluate)
    return parser


# --------------------------------------------------- training options (SPEC §5)
#: --flag -> (TrainingConfig field, type, metavar); choices come from the registry
_CONFIG_FLAGS = (
    ("--hidden-activation", "hidden_activation", str, None),
    ("--output", "output", str, None),
    ("--optimizer", "optimizer", str, None),
    ("--mini-batch-size", "mini_batch_size", int, "N"),
    ("--beta", "beta", float, "B"),
    ("--beta1", "beta1", float, "B1"),
    ("--beta2", "beta2", float, "B2"),
    ("--epsilon", "epsilon", float, "EPS"),
    ("--lambd", "lambd", float, "LAMBDA"),
    ("--keep-prob", "keep_prob", float, "P"),
    ("--seed", "seed", int, "S"),
)


def _choices(field):
    from fastdnn.training import registry

    if field == "hidden_activation":
        return sorted(set(registry.HIDDEN_ACTIVATIONS) | set(registry.ACTIVATION_ALIASES))
    if field == "output":
        return list(registry.PUBLIC_OUTPUTS)
    if field == "optimizer":
        return list(registry.COURSE_OPTIMIZERS)
    return None


def _add_training_options(t):
    """The engine's options, from TrainingConfig's fields and the registry's names."""
    import dataclasses

    from fastdnn.training import TrainingConfig, registry

    defaults = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}
    helps = {
        "hidden_activation": "activation of layers 1..L-1",
        "output": "output unit and its loss (default: sigmoid, or softmax when the data has "
                  "more than two classes)",
        "optimizer": "update rule",
        "mini_batch_size": "examples per step, shuffled each epoch (default: the full batch)",
        "beta": "momentum constant", "beta1": "Adam's first-moment constant",
        "beta2": "Adam's second-moment constant", "epsilon": "Adam's epsilon",
        "lambd": "L2 regularisation strength", "keep_prob": "dropout keep probability of "
        "the hidden layers", "seed": "seed of the mini-batch shuffles and dropout masks",
    }
    for flag, field, typ, metavar in _CONFIG_FLAGS:
        default = defaults[field]
        shown = "" if field == "output" else f" (default {default})"
        t.add_argument(flag, type=typ, metavar=metavar, choices=_choices(field),
                       help=helps[field] + shown)
    t.add_argument("--init", choices=list(registry.INITIALIZERS),
                   help="initialisation: " + "; ".join(f"{k}: {v}" for k, v in
                                                        registry.INITIALIZERS.items())
                        + " (default seed)")


def _config_kwargs(args):
    """The TrainingConfig fields the command line gave (None where not given)."""
    return {field: getattr(args, flag[2:].replace("-", "_")) for flag, field, _, _ in
            _CONFIG_FLAGS}


def _n_classes(train_y, classes):
    """Classes in the data: max(len(list_classes), largest label + 1), at least 2."""
    labels = np.asarray(train_y).ravel()
    top = int(labels.max()) + 1 if labels.size else 0
    return max(2, len(classes), top)


# ----------------------------------------------------------------------- data
def _standin_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastdnn", f"standin-seed{STANDIN_SEED}")


def resolve_data(explicit):
    """(directory, description) of the data to use; writes the stand-in when needed."""
    from fastdnn.data import (DEFAULT_DIR, ENV_VAR, TEST_FILE, TRAIN_FILE, find_data_dir,
                              make_standin_dataset)

    if explicit is not None:
        if find_data_dir(explicit) is None:
            raise CLIError(f"--data {explicit}: no {TRAIN_FILE} and {TEST_FILE} there")
        return explicit, f"{explicit}"
    why = []
    env = os.environ.get(ENV_VAR)
    if env:
        if find_data_dir(env) is not None:
            return env, f"{env} (${ENV_VAR})"
        why.append(f"${ENV_VAR}={env} lacks them")
    if find_data_dir(DEFAULT_DIR) is not None:
        return DEFAULT_DIR, f"{DEFAULT_DIR} (./{DEFAULT_DIR})"
    why.append(f"./{DEFAULT_DIR} lacks them")
    cache = _standin_dir()
    try:
        if find_data_dir(cache) is None:
            make_standin_dataset(cache, seed=STANDIN_SEED)
    except OSError:
        cache = os.path.join(tempfile.gettempdir(),
                             f"fastdnn-standin-seed{STANDIN_SEED}-{os.getuid()}")
        if find_data_dir(cache) is None:
            make_standin_dataset(cache, seed=STANDIN_SEED)
    print(f"fastdnn: note: no course data ({TRAIN_FILE}, {TEST_FILE}): {'; '.join(why)}. "
          f"Using the GENERATED STAND-IN image set (fastdnn.data.make_standin_dataset, "
          f"seed {STANDIN_SEED}) in {cache}. Point --data or ${ENV_VAR} at the course data "
          f"to train on it.", file=sys.stderr)
    return cache, f"generated stand-in in {cache}"


def _load_data(explicit):
    from fastdnn.data import load_dataset

    directory, description = resolve_data(explicit)
    try:
        return load_dataset(directory), description
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _data_sha256(x, y):
    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _flatten(x_orig, n_x, what, model="the model takes"):
    """The course's X = x_orig.reshape(m, -1).T / 255, checked against n_x inputs."""
    from fastdnn.data import prepare

    features = int(np.prod(x_orig.shape[1:]))
    if features != n_x:
        raise CLIError(f"{what} has {features} features per example "
                       f"({'x'.join(map(str, x_orig.shape[1:]))}) but {model} {n_x} inputs")
    return prepare(x_orig)


# ------------------------------------------------------------------- helpers
def parse_layers(text):
    parts = [s.strip() for s in text.split(",")]
    dims = []
    for s in parts:
        if not s.isdigit() or int(s) < 1:
            raise CLIError(f"--layers {text!r}: {s!r} is not a positive integer; give sizes "
                           f"like {DEFAULT_LAYERS}")
        dims.append(int(s))
    if len(dims) < 2:
        raise CLIError(f"--layers {text!r}: need at least an input and an output size")
    return dims


def _beside(path, suffix):
    root, _ = os.path.splitext(path)
    return root + suffix


def _machine():
    from fastdnn.threads import cpu_model

    return (f"{platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def _accuracy(p, y):
    y = np.asarray(y).reshape(p.shape)
    right = int(np.sum(p == y))
    return right / p.size, right


def _predict(X, model):
    """(score, labels) of the saved model on X (n_x, m), each (1, m): sigmoid: AL and
    AL > 0.5; softmax: the top probability and its class; identity: the value twice."""
    from fastdnn.models import labels_of

    cfg = model.config
    AL = _forward(X, model.parameters, cfg)
    p = labels_of(AL, cfg.output)
    if cfg.output == "softmax":
        return AL.max(axis=0, keepdims=True), p
    return AL[:1], p[:1]


def _load_model(path):
    from fastdnn.model_io import load_model

    try:
        return load_model(path)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except ValueError as exc:
        raise CLIError(f"cannot load model: {exc}") from None


# --------------------------------------------------------------------- train
_TRAIN_SETTINGS = (("layers", "--layers"), ("model", "--model"),
                   ("learning_rate", "--learning-rate"), ("dtype", "--dtype"),
                   ("solver", "--solver"), ("threads", "--threads"), ("initialization", "--init"))


def _settings(args):
    """The run's settings: from the command line, or from the checkpoint with --resume.
    The configuration's output size is fixed later, against the data (_fit_output)."""
    from fastdnn.training import TrainingConfig

    given_cfg = {k: v for k, v in _config_kwargs(args).items() if v is not None}
    if not args.resume:
        layers = parse_layers(args.layers) if args.layers else None
        kind = args.model or "auto"
        if kind == "auto":
            kind = "two-layer" if layers is not None and len(layers) == 3 else "deep"
        if kind == "two-layer" and layers is not None and len(layers) != 3:
            raise CLIError(f"--model two-layer needs three layer sizes (n_x,n_h,n_y), got "
                           f"{len(layers)}: {layers}")
        try:
            config = TrainingConfig(learning_rate=args.learning_rate or DEFAULT_LEARNING_RATE,
                                    dtype=args.dtype or "float64", solver=args.solver or "auto",
                                    threads=args.threads, **given_cfg)
        except (TypeError, ValueError) as exc:
            raise CLIError(str(exc)) from None
        return dict(layers=layers, kind=kind, iterations=args.iterations or DEFAULT_ITERATIONS,
                    initialization=args.init or "seed", config=config,
                    output_given="output" in given_cfg), None

    if not os.path.exists(args.out):
        raise CLIError(f"--resume: {args.out} does not exist: nothing to resume (give the "
                       f"checkpoint with --out)")
    ckpt = _load_model(args.out)
    from fastdnn.model_io import remove_stale_temporaries

    remove_stale_temporaries(args.out)      # left by a save that was killed midway
    if ckpt.state is None:
        raise CLIError(f"--resume: {args.out} holds no trainer state; it cannot be resumed "
                       f"exactly")
    t, cfg = ckpt.training, ckpt.config
    s = dict(layers=ckpt.layer_dims, kind=t["kind"], initialization=t["initialization"],
             iterations=args.iterations or t["target_iterations"], config=cfg,
             output_given=True)
    have = dict(layers=ckpt.layer_dims, model=t["kind"], learning_rate=cfg.learning_rate,
                dtype=cfg.dtype, solver=cfg.solver, threads=cfg.threads,
                initialization=t["initialization"])
    given = dict(layers=parse_layers(args.layers) if args.layers else None,
                 model=args.model, learning_rate=args.learning_rate, dtype=args.dtype,
                 solver=args.solver, threads=args.threads, initialization=args.init)
    checks = [(flag, given[key], have[key]) for key, flag in _TRAIN_SETTINGS
              if not (key == "model" and given[key] == "auto")]
    checks += [(flag, given_cfg[field], getattr(cfg, field)) for flag, field, _, _ in
               _CONFIG_FLAGS if field in given_cfg]
    for flag, value, had in checks:
        if value is not None and value != had:
            raise CLIError(f"--resume: {flag} {value} differs from the checkpoint's "
                           f"{had} ({args.out}); leave it out to continue with the "
                           f"checkpoint's settings")
    if s["iterations"] < ckpt.iteration:
        raise CLIError(f"--resume: --iterations {s['iterations']} is below the "
                       f"{ckpt.iteration} iterations already done in {args.out}")
    return s, ckpt


def _fit_output(s, n_classes):
    """Set the output (unless given) and the layer sizes for the data's classes."""
    cfg = s["config"]
    if not s["output_given"]:
        cfg = cfg.replace(output="softmax" if n_classes > 2 else "sigmoid")
        s["config"] = cfg
    n_out = n_classes if cfg.output == "softmax" else 1
    if s["layers"] is None:
        layers = parse_layers(DEFAULT_LAYERS)
        layers[-1] = n_out
        s["layers"] = layers
    if s["layers"][-1] != n_out and cfg.output != "identity":
        raise CLIError(f"--layers {','.join(map(str, s['layers']))}: the output layer must "
                       f"have {n_out} unit(s) for a {cfg.output} output on data with "
                       f"{n_classes} classes, got {s['layers'][-1]}")
    if cfg.output == "identity" and s["layers"][-1] != 1:
        raise CLIError(f"--output identity regresses the label: the output layer must have "
                       f"1 unit, got {s['layers'][-1]}")
    return s


def _class_names(classes, n_classes, output):
    names = [c.decode() if isinstance(c, bytes) else str(c) for c in classes]
    if output == "identity":
        return []
    if output == "sigmoid":
        return (names + ["0", "1"][len(names):])[:2]
    return (names + [str(i) for i in range(len(names), n_classes)])[:n_classes]


def _score(AL, y, output):
    """(what, value, right) of the predictions of AL against labels y: accuracy for the
    classifiers, mean squared error for regression."""
    from fastdnn.models import labels_of

    p = labels_of(AL, output)
    y = np.asarray(y).reshape(1, -1)
    if output == "identity":
        return "mean squared error", float(np.mean((p - y) ** 2)), None
    acc, right = _accuracy(p, y)
    return "accuracy", acc, right


def cmd_train(args):
    from fastdnn import __version__
    from fastdnn.model_io import save_model
    from fastdnn.models import init_parameters
    from fastdnn.progress import Progress, format_seconds
    from fastdnn.training import Trainer, TrainingDiverged, initialize_parameters

    s, ckpt = _settings(args)
    (train_x_orig, train_y, test_x_orig, test_y, classes), description = _load_data(args.data)
    n_classes = _n_classes(train_y, classes)
    if ckpt is None:
        s = _fit_output(s, n_classes)
    cfg = s["config"]
    layers = s["layers"]
    given = "--layers gives" if ckpt is None else f"the checkpoint {args.out} takes"
    X = _flatten(train_x_orig, layers[0], "the training data", given)
    X_test = _flatten(test_x_orig, layers[0], "the test data", given)
    data_sha = _data_sha256(train_x_orig, train_y)
    if ckpt is not None and ckpt.training["data_sha256"] not in ("", data_sha):
        raise CLIError(f"--resume: the training data in {description} differ from the data "
                       f"{args.out} was trained on ({ckpt.training['data']})")
    if cfg.output == "softmax" and layers[-1] < n_classes:
        raise CLIError(f"the data has {n_classes} classes but the model has {layers[-1]} "
                       f"output units")
    class_names = _class_names(classes, n_classes, cfg.output)
    plot_path = None if args.no_plot else (args.plot or _beside(args.out, "_cost.png"))

    total = s["iterations"]
    options = ", ".join(f"{k} {v}" for k, v in cfg.to_dict().items()
                        if k not in ("learning_rate", "dtype", "solver", "threads", "decay",
                                     "decay_rate", "shuffle", "momentum", "nesterov",
                                     "loss_convention")
                        and v != getattr(type(cfg), k, None))
    print(f"fastdnn {__version__} train: layers {layers} "
          f"({'two_layer_model' if s['kind'] == 'two-layer' else 'L_layer_model'}), "
          f"learning rate {cfg.learning_rate}, {total} epochs, {cfg.dtype}, "
          f"solver {cfg.solver}, threads {cfg.threads or 'default'}"
          + (f", initialization {s['initialization']}" if s["initialization"] != "seed" else "")
          + (f", {options}" if options else ""))
    print(f"data: {description}: train {X.shape[1]}, test {X_test.shape[1]} images "
          f"{'x'.join(map(str, train_x_orig.shape[1:]))}"
          + (f", {n_classes} classes" if n_classes > 2 else ""))
    print(f"machine: {_machine()}")

    Y = np.asarray(train_y).reshape(1, -1)
    try:
        if ckpt is None:
            if s["initialization"] == "seed":
                init = init_parameters(layers, s["kind"])
            else:
                init = initialize_parameters(layers, s["initialization"],
                                             hidden_activation=cfg.hidden_activation,
                                             seed=cfg.seed)
            trainer = Trainer(X, Y, init, cfg)
            costs = []
        else:
            trainer = Trainer.from_state(X, Y, ckpt.state, cfg, iteration=ckpt.iteration)
            costs = [float(c) for c in ckpt.costs]
            print(f"resuming {args.out} at epoch {ckpt.iteration} of {total}")
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    resolved = getattr(trainer, "solver", cfg.solver)
    if resolved != cfg.solver:
        print(f"solver: {cfg.solver} -> {resolved}")
    if args.checkpoint_every:
        print(f"checkpoints: every {args.checkpoint_every} epochs to {args.out}")

    def training_settings():
        return dict(iterations=trainer.iteration, target_iterations=total, kind=s["kind"],
                    initialization=s["initialization"], record_every=RECORD_EVERY,
                    data=description, data_sha256=data_sha)

    def save():
        save_model(args.out, trainer.parameters(), costs=costs, training=training_settings(),
                   state=trainer.state(), classes=class_names, config=cfg)

    progress = Progress(trainer.iteration, total, enabled=not args.quiet,
                        steps_per_epoch=trainer.steps_per_epoch())

    def on_cost(i, cost):
        progress.update(i, cost)
        if not args.quiet:
            progress.message(f"cost after epoch {i}: {cost:.6f}")

    start_iteration = trainer.iteration
    every = args.checkpoint_every
    chunk = 1
    t0 = time.perf_counter()
    try:
        with _deferred_sigint() as interrupted:
            while trainer.iteration < total and not interrupted():
                n = min(chunk, total - trainer.iteration)
                if every:
                    n = min(n, every - trainer.iteration % every)
                t = time.perf_counter()
                costs.extend(trainer.run(n, record_every=RECORD_EVERY, callback=on_cost))
                dt = time.perf_counter() - t
                progress.update(trainer.iteration)
                if every and trainer.iteration % every == 0 and trainer.iteration < total:
                    save()
                chunk = max(1, min(10000, int(0.25 * n / max(dt, 1e-9))))
            if interrupted():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        progress.close()
        hint = (f"; continue from the last checkpoint with: fastdnn train --resume --out "
                f"{args.out}" if every else "; nothing saved (use --checkpoint-every N)")
        raise CLIError(f"interrupted near epoch {trainer.iteration}{hint}", code=130) \
            from None
    except TrainingDiverged as exc:
        progress.close()
        raise CLIError(f"training diverged at epoch {exc.iteration} (the cost or the "
                       f"parameters became NaN or infinite at learning rate "
                       f"{cfg.learning_rate}); nothing saved: try a smaller --learning-rate") \
            from None
    seconds = time.perf_counter() - t0
    progress.close()
    done = trainer.iteration - start_iteration

    save()
    parameters = trainer.parameters()
    steps = trainer.steps_per_epoch()
    per = f" ({seconds / done * 1e3:.2f} ms/epoch)" if done else ""
    print(f"training time: {format_seconds(seconds)} for {done} epochs"
          + (f" of {steps} steps" if steps > 1 else "") + per)
    if costs:
        print(f"final recorded cost: {costs[-1]:.6f} (epoch "
              f"{(len(costs) - 1) * RECORD_EVERY})")
    for name, x, y in (("train", X, train_y), ("test", X_test, test_y)):
        AL = _forward(x, parameters, cfg)
        what, value, right = _score(AL, y, cfg.output)
        print(f"{name} {what}: {value:.6f}" + (f" ({right}/{x.shape[1]})" if right is not None
                                                else ""))
    print(f"model saved: {args.out}")
    if plot_path:
        from fastdnn.plots import save_cost_curve

        title = f"{layers}, learning rate {cfg.learning_rate}, {cfg.dtype}"
        if save_cost_curve(costs, cfg.learning_rate, plot_path, RECORD_EVERY, title):
            print(f"cost curve: {plot_path}")
    return 0


def _forward(X, parameters, config):
    """The network's output AL on X in the model's dtype, hidden activation and output."""
    from fastdnn.models import probabilities

    return probabilities(np.asarray(X, dtype=config.dtype), parameters,
                         hidden_activation=config.hidden_activation, output=config.output)


# ------------------------------------------------------------------- predict
def _image_side(n_x):
    side = math.isqrt(n_x // 3)
    if n_x % 3 or side * side * 3 != n_x:
        raise CLIError(f"the model takes {n_x} inputs, which is not a square RGB image "
                       f"(side x side x 3); give an h5 set instead of image files")
    return side


def read_image(path, side, resize=False):
    """Image file -> (side, side, 3) uint8, as the course's images (needs Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("reading image files needs Pillow (pip install pillow); h5 sets need "
                       "only h5py") from None
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (side, side):
                if not resize:
                    raise CLIError(f"{path}: image is {im.size[0]}x{im.size[1]} pixels but the "
                                   f"model takes {side}x{side}x3 images ({side * side * 3} "
                                   f"inputs); pass --resize to scale it")
                im = im.resize((side, side), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except CLIError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise CLIError(f"cannot read image {path}: {exc}") from None


def _read_h5_set(path):
    """(images (m, ...), labels (m,) or None) from an h5 file in the course's layout."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            xs = [k for k in f.keys() if k.endswith("_x") and isinstance(f[k], h5py.Dataset)]
            if len(xs) != 1:
                raise CLIError(f"{path}: expected one image dataset named *_x (like "
                               f"test_set_x), found keys {sorted(f.keys())}")
            x = np.array(f[xs[0]][()])
            ykey = xs[0][:-2] + "_y"
            y = np.array(f[ykey][()]) if ykey in f else None
    except CLIError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError...
        raise CLIError(f"cannot read h5 set {path}: {exc}") from None
    if x.ndim < 2 or x.dtype.kind not in "uif":
        raise CLIError(f"{path}: {xs[0]} must hold numeric images (m, ...), got {x.dtype} "
                       f"{x.shape}")
    if y is not None and (y.size != x.shape[0] or y.dtype.kind not in "uifb"):
        raise CLIError(f"{path}: {ykey} has shape {y.shape}, expected ({x.shape[0]},) labels")
    return x, (None if y is None else y.ravel())


def cmd_predict(args):
    import h5py

    model = _load_model(args.model)
    n_x = model.layer_dims[0]
    output = model.config.output
    rows = []      # (name, score, label)
    scored = []    # (h5 name, what, value, right, m)
    for path in args.inputs:
        if not os.path.isfile(path):
            raise CLIError(f"input not found: {path}")
        if h5py.is_hdf5(path):
            x, y = _read_h5_set(path)
            X = _flatten(x, n_x, path)
            score, p = _predict(X, model)
            rows += [(f"{path}[{i}]", score[0, i], p[0, i]) for i in range(p.shape[1])]
            if y is not None:
                what, value, right = _score(_forward(X, model.parameters, model.config), y,
                                            output)
                scored.append((path, what, value, right, p.shape[1]))
        else:
            side = _image_side(n_x)
            img = read_image(path, side, args.resize)
            score, p = _predict(img.reshape(1, -1).T / 255, model)
            rows.append((path, score[0, 0], p[0, 0]))
    if output == "identity":
        print("input\tvalue")
        for name, value, _ in rows:
            print(f"{name}\t{value:.6f}")
    else:
        print("input\tprobability\tlabel\tclass")
        for name, prob, label in rows:
            label = int(label)
            cls = model.classes[label] if label < len(model.classes) else str(label)
            print(f"{name}\t{prob:.6f}\t{label}\t{cls}")
    for path, what, value, right, m in scored:
        print(f"{what} on {path}: {value:.6f}" + (f" ({right}/{m})" if right is not None else ""))
    return 0


# ------------------------------------------------------------------ evaluate
def cmd_evaluate(args):
    model = _load_model(args.model)
    (train_x_orig, train_y, test_x_orig, test_y, classes), description = _load_data(args.data)
    n_x = model.layer_dims[0]
    X = _flatten(train_x_orig, n_x, "the training data")
    X_test = _flatten(test_x_orig, n_x, "the test data")
    cfg = model.config
    t = model.training
    print(f"model: {args.model}: layers {model.layer_dims}, {model.dtype.name}, "
          f"{cfg.hidden_activation}/{cfg.output}, {t['iterations']} epochs at learning rate "
          f"{cfg.learning_rate}{'' if model.complete else ' (an unfinished checkpoint)'}")
    print(f"data: {description}")
    for name, x, y in (("train", X, train_y), ("test", X_test, test_y)):
        what, value, right = _score(_forward(x, model.parameters, cfg), y, cfg.output)
        print(f"{name} {what}: {value:.6f}" + (f" ({right}/{x.shape[1]})" if right is not None
                                                else ""))
    if cfg.output == "identity":
        return 0
    probas, p = _predict(X_test, model)
    names = list(model.classes)
    k = max(2, len(names), int(np.max(test_y)) + 1 if np.size(test_y) else 2)
    names += [str(i) for i in range(len(names), k)]
    y, q = np.asarray(test_y).ravel().astype(int), p.ravel().astype(int)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y, q), 1)
    w = max(len(n) for n in names) + 7
    cw = max(18, max(len(n) for n in names) + 10)
    print("confusion counts (test set):")
    print(f"  {'':{w}}" + "".join(f"  {'predicted ' + n:>{cw}}" for n in names))
    for i, n in enumerate(names):
        print(f"  {'actual ' + n:{w}}" + "".join(f"  {counts[i, j]:>{cw}}" for j in range(k)))
    wrong = np.flatnonzero(y != q)
    print(f"mislabeled test images: {wrong.size}"
          + (f" (indices {', '.join(map(str, wrong))})" if wrong.size else ""))
    if wrong.size and not args.no_grid:
        from fastdnn.plots import save_mislabeled_grid

        grid = args.grid or _beside(args.model, "_mislabeled.png")
        if save_mislabeled_grid(test_x_orig, y, q, probas, grid, classes=names):
            print(f"mislabeled images picture: {grid}")
    return 0


@contextlib.contextmanager
def _deferred_sigint():
    """During training, Ctrl-C (SIGINT) sets a flag that the loop checks between
    chunks (a fraction of a second apart) instead of raising KeyboardInterrupt
    wherever Python happens to be: raised inside a weakref callback or a
    destructor, KeyboardInterrupt is printed as "Exception ignored" and lost,
    and the run would go on.  A second Ctrl-C interrupts at once.  Yields a
    function telling whether Ctrl-C was pressed."""
    pressed = []

    def handler(signum, frame):
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:            # not the main thread: leave SIGINT alone
        yield lambda: False
        return
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------- main
def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CLIError as exc:
        print(f"fastdnn: error: {_one_line(exc)}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\nfastdnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        if os.environ.get("FASTDNN_TRACEBACK"):
            raise
        print(f"fastdnn: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("FASTDNN_TRACEBACK"):
            raise
        print(f"fastdnn: internal error: {type(exc).__name__}: {_one_line(exc)} (set "
              f"FASTDNN_TRACEBACK=1 to see the traceback)", file=sys.stderr)
        return 1
