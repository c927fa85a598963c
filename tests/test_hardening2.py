"""Issue 13 (hardening 2), the parts done so far beyond untrusted files and memory:
divergence for every optimiser, and concurrent saves to one model path."""
import multiprocessing as mp
import os

import numpy as np
import pytest

from fastdnn.model_io import load_model, save_model
from fastdnn.training import Trainer, TrainingConfig, TrainingDiverged, initialize_parameters
from tests.conftest import make_params


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam", "sgd", "adam_sklearn"])
@pytest.mark.parametrize("mini_batch_size", [None, 8])
def test_divergence_keeps_the_last_finite_state_for_every_optimizer(optimizer, mini_batch_size):
    rs = np.random.RandomState(0)
    X, Y = rs.randn(4, 24) * 50, rs.randn(1, 24) * 50
    P = initialize_parameters([4, 6, 1], "he")
    # Adam's steps are about lr per coordinate whatever the gradient: it needs a huge rate
    lr = 1e300 if "adam" in optimizer else 1e3
    cfg = TrainingConfig(learning_rate=lr, optimizer=optimizer, output="identity",
                         hidden_activation="identity", mini_batch_size=mini_batch_size)
    tr = Trainer(X, Y, P, cfg)
    with pytest.raises(TrainingDiverged) as info:
        tr.run(500, record_every=1)
    e = info.value
    assert e.iteration >= 0 and tr.iteration == e.iteration
    for k, v in e.parameters.items():
        assert np.all(np.isfinite(v)), k
        np.testing.assert_array_equal(v, tr.parameters()[k])
    for k, v in e.optimizer_state.items():
        assert np.all(np.isfinite(v)), k
    # the trainer was left before the bad epoch: replaying it diverges again, at once
    with pytest.raises(TrainingDiverged) as again:
        tr.run(1, record_every=1)
    assert again.value.iteration == e.iteration


def _save_many(path, seed, rounds, key_file):
    os.environ["FASTDNN_KEY_FILE"] = key_file
    p = make_params(seed=seed)
    for _ in range(rounds):
        save_model(path, p, costs=[float(seed)])


def test_two_processes_saving_to_one_path_leave_one_complete_file(tmp_path):
    path = str(tmp_path / "m.h5")
    key = os.environ.get("FASTDNN_KEY_FILE", str(tmp_path / "key"))
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(path, s, 25, key)) for s in (1, 2)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(120)
        assert pr.exitcode == 0
    m = load_model(path)                 # one complete, valid file ...
    seed = int(m.costs[0])
    assert seed in (1, 2)
    for k, v in make_params(seed=seed).items():   # ... wholly one writer's, never a mixture
        np.testing.assert_array_equal(m.parameters[k], v)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
