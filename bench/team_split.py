"""A team of 2 threads splitting each batch's examples (fastdnn/_core/loop.pyx: _step_dp)
against one splitting each layer's products (_step) and against one thread, on [n_x, h, 10]
nets (m = 2048, Adam, synthetic data), BLAS single-threaded: ms per epoch, best of 3
rounds of 3 epochs.  The measure behind fastdnn.threads.TEAM_SPLIT_BATCH.

    .venv/bin/python bench/team_split.py float64 200
    .venv/bin/python bench/team_split.py float32 64

Each mode is forced on the engine (Engine.workers, Engine.data_parallel), whatever
fastdnn.threads would pick for the step.
"""
import contextlib
import os
import sys
import time

import numpy as np
import threadpoolctl

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdnn.training.config import TrainingConfig  # noqa: E402
from fastdnn.training.trainer import Trainer  # noqa: E402

dt = sys.argv[1] if len(sys.argv) > 1 else "float64"
mb = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rs = np.random.RandomState(0)
m = 2048
for n_x, h in ((30, 100), (64, 100), (128, 64), (128, 128), (256, 128), (784, 128)):
    X = np.asfortranarray(rs.rand(n_x, m).astype(dt))
    Y = (np.arange(m) % 10).reshape(1, -1)
    P = {"W1": (rs.randn(h, n_x) * 0.1).astype(dt), "b1": np.zeros((h, 1), dt),
         "W2": (rs.randn(10, h) * 0.1).astype(dt), "b2": np.zeros((10, 1), dt)}
    cfg = TrainingConfig(learning_rate=1e-3, output="softmax", optimizer="adam",
                         mini_batch_size=mb, dtype=dt, solver="primal")
    out = {}
    for k in ("alone", "layers", "batch"):
        tr = Trainer(X, Y, P, cfg)

        def _team(tr=tr, k=k):
            tr._engine.workers = 1 if k == "alone" else 2
            tr._engine.data_parallel = k == "batch"
            return contextlib.nullcontext()

        tr._team = _team
        best = np.inf
        with threadpoolctl.threadpool_limits(1):
            for _ in range(3):
                t0 = time.perf_counter()
                tr.run(3, record_every=0)
                best = min(best, (time.perf_counter() - t0) / 3 * 1e3)
        out[k] = best
    print(f"[{n_x}, {h}, 10] {dt} batch {mb}, {3 * mb * (n_x * h + h * 10):,} multiply-adds "
          f"a step: alone {out['alone']:.3f}, team splitting layers {out['layers']:.3f}, "
          f"team splitting the batch {out['batch']:.3f} ms/epoch (alone / batch "
          f"{out['alone'] / out['batch']:.2f}, alone / layers {out['alone'] / out['layers']:.2f})",
          flush=True)
