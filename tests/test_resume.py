"""Checkpoints and --resume: a training run killed with SIGKILL and resumed ends
with exactly (np.array_equal, same dtype) the parameters and cost history of an
uninterrupted run with the same dtype, solver and thread count.

The kill is real: ``fastdnn train --checkpoint-every N`` runs in a subprocess;
the test waits until the first checkpoint exists, lets the run go on for a
moment, and sends SIGKILL (which may land in an iteration or in the middle of
a checkpoint save: the atomic save must leave a loadable file either way).
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastdnn
from fastdnn.data import load_dataset, prepare
from fastdnn.model_io import load_model
from tests.test_cli import N_X, cli_env, run, write_small_dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

DIMS = f"{N_X},16,8,1"
# Long enough (a few seconds with checkpoints) that the signal, sent a fraction of
# a second after the first checkpoint, always lands before the run ends, even on a
# loaded machine; 3000 iterations sometimes finished first.
TOTAL = 12000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small course-layout sets: 150 examples (the gram solver's regime, m <= n_x) and 250
    (the primal solver's)."""
    base = tmp_path_factory.mktemp("resume")
    return {150: write_small_dataset(base / "m150", n_train=150, n_test=10),
            250: write_small_dataset(base / "m250", n_train=250, n_test=10)}


def train_args(data_dir, out, iterations, extra):
    return ["train", "--data", data_dir, "--layers", DIMS, "--iterations", iterations,
            "--learning-rate", 0.02, "--out", out, "--no-plot", "--quiet", *extra]


def kill_mid_training(args, tmp_path, out, delay, sig=signal.SIGKILL):
    """Start the CLI, send it ``sig`` ``delay`` s after its first checkpoint appears;
    returns (exit status, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "fastdnn", *map(str, args)], cwd=tmp_path,
                            env=cli_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not out.exists():
            assert proc.poll() is None, f"training ended before its first checkpoint: " \
                                        f"{proc.communicate()}"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, "the run finished before the kill"
    return proc.returncode, stdout, stderr


ADAM = ["--optimizer", "adam", "--mini-batch-size", "64", "--keep-prob", "0.8",
        "--lambd", "0.1", "--init", "he"]
# the same as L_layer_model's keywords; an epoch is 4 steps with dropout: fewer epochs
ADAM_KW = dict(optimizer="adam", mini_batch_size=64, keep_prob=0.8, lambd=0.1,
               initialization="he")
ADAM_TOTAL = 1500
# momentum on m = 150 <= n_x: "auto" runs the general loop's gram solver, whose state (the
# representation of W1 and its velocity) is checkpointed for an exact resume
MOMENTUM = ["--optimizer", "momentum", "--mini-batch-size", "64", "--keep-prob", "0.8",
            "--lambd", "0.1", "--init", "he"]
MOMENTUM_KW = dict(ADAM_KW, optimizer="momentum")


@pytest.mark.parametrize("m,extra", [
    (150, ["--dtype", "float64"]),                                   # auto -> gram
    (250, ["--dtype", "float32", "--solver", "primal", "--threads", "1"]),
    # engine v2: Adam, dropout (masks from the checkpointed generator), mini-batches
    (250, ["--dtype", "float64", *ADAM]),
    (250, ["--dtype", "float32", "--threads", "1", *ADAM]),
    (150, ["--dtype", "float64", *MOMENTUM]),
])
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, data, m, extra):
    adam = "--optimizer" in extra
    opt_kw = (MOMENTUM_KW if "momentum" in extra else ADAM_KW) if adam else {}
    total = ADAM_TOTAL if adam else TOTAL
    full = tmp_path / "full.h5"
    run(train_args(data[m], full, total, extra), tmp_path)
    reference = load_model(full)

    out = tmp_path / "killed.h5"
    kill_mid_training(train_args(data[m], out, total, ["--checkpoint-every", 20, *extra]),
                      tmp_path, out, delay=0.3)
    ckpt = load_model(out)                      # the atomic save left a loadable file
    assert ckpt.state is not None and 0 < ckpt.iteration < total and not ckpt.complete
    assert ckpt.iteration % 20 == 0

    r = run(["train", "--resume", "--out", out, "--data", data[m], "--no-plot", "--quiet"],
            tmp_path)
    assert f"resuming {out} at epoch {ckpt.iteration} of {total}" in r.stdout
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]   # no temporaries
    resumed = load_model(out)
    assert resumed.complete and resumed.iteration == total
    assert resumed.dtype == reference.dtype == np.dtype(extra[1])
    assert resumed.training == reference.training
    for k in reference.parameters:
        assert resumed.parameters[k].dtype == reference.parameters[k].dtype
        np.testing.assert_array_equal(resumed.parameters[k], reference.parameters[k])
    np.testing.assert_array_equal(resumed.costs, reference.costs)
    assert len(resumed.costs) == total // 100
    # and the CLI run is the library's model, bit for bit
    tx, ty, *_ = load_dataset(data[m])
    lib = fastdnn.L_layer_model(prepare(tx), ty, [int(n) for n in DIMS.split(",")],
                                learning_rate=0.02, num_iterations=total, isPlot=False,
                                dtype=extra[1], solver=reference.config.solver,
                                threads=reference.config.threads, **opt_kw)
    for k in lib:
        np.testing.assert_array_equal(resumed.parameters[k], lib[k])


def test_resume_a_finished_model_to_more_iterations(tmp_path, data):
    straight = tmp_path / "straight.h5"
    run(train_args(data[150], straight, 500, []), tmp_path)
    out = tmp_path / "extended.h5"
    run(train_args(data[150], out, 200, []), tmp_path)
    r = run(["train", "--resume", "--out", out, "--data", data[150], "--iterations", 500,
             "--no-plot", "--quiet"], tmp_path)
    assert "resuming" in r.stdout and "training time:" in r.stdout
    a, b = load_model(out), load_model(straight)
    assert a.iteration == b.iteration == 500
    for k in b.parameters:
        np.testing.assert_array_equal(a.parameters[k], b.parameters[k])
    np.testing.assert_array_equal(a.costs, b.costs)


def test_checkpoints_are_written_during_training(tmp_path, data):
    """The checkpoint file holds the state at a multiple of --checkpoint-every while the
    run is still going, and the final file has the whole run."""
    out = tmp_path / "c.h5"
    kill_mid_training(train_args(data[150], out, TOTAL, ["--checkpoint-every", 50]), tmp_path,
                      out, delay=0.0)
    ckpt = load_model(out)
    assert ckpt.iteration % 50 == 0 and 0 < ckpt.iteration < TOTAL
    assert len(ckpt.costs) == (ckpt.iteration + 99) // 100


def test_ctrl_c_then_resume(tmp_path, data):
    """SIGINT (Ctrl-C): exit status 130, one line naming the resume command, and the
    last checkpoint resumes to the uninterrupted result."""
    full = tmp_path / "full.h5"
    run(train_args(data[150], full, TOTAL, []), tmp_path)
    out = tmp_path / "c.h5"
    code, _, stderr = kill_mid_training(
        train_args(data[150], out, TOTAL, ["--checkpoint-every", 20]), tmp_path, out,
        delay=0.2, sig=signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted near epoch" in lines[0]
    assert f"fastdnn train --resume --out {out}" in lines[0]
    run(["train", "--resume", "--out", out, "--data", data[150], "--no-plot", "--quiet"],
        tmp_path)
    a, b = load_model(out), load_model(full)
    for k in b.parameters:
        np.testing.assert_array_equal(a.parameters[k], b.parameters[k])
