"""The thin-network passes (fastdnn/_core/thin.pxd) against the layer-by-layer path, side by
side in one process, on small float64 relu -> sigmoid nets: the measure behind THIN_WEIGHTS,
the largest layer (n_l x n_{l-1} weights) the passes take.

    .venv/bin/python bench/bench_thin.py [--rounds 5]
    .venv/bin/python bench/bench_thin.py --team [--rounds 5]

Prints, per net: ms per epoch with the passes (FASTDNN_THIN=1, forced on whatever the
layer sizes) and without (FASTDNN_THIN=0), best of --rounds interleaved rounds, BLAS on one
thread, and their ratio.  Synthetic data (randn inputs, 0/1 labels), He initialisation,
the course's shuffle.

--team [--sizes 128,192]: the measure behind fastdnn.threads.THIN_TEAM_WORK_ONE_EXCHANGE (the
full batch: a team exchanging once a step, Engine.one_exchange).  Per thin net and full batch of
m examples (gd, L2 1e-4): µs per step alone and on a team of two splitting the batch (the
engine's team set directly, whatever thin_team_size would choose), best of --rounds
interleaved rounds, and one thread's time over the team's; the last column is the team
thin_team_size gives on two threads.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fastdnn.training import Trainer, TrainingConfig, initialize_parameters  # noqa: E402

# dims, batch size, m, optimizer: course 2's nets, then wider ones around the bound
NETS = [
    ([2, 10, 5, 1], None, 300, "gd"),
    ([2, 20, 3, 1], None, 211, "gd"),
    ([2, 5, 2, 1], 64, 300, "gd"),
    ([2, 32, 1], 64, 1000, "gd"),
    ([8, 8, 1], 64, 1000, "gd"),
    ([16, 8, 1], 64, 1000, "gd"),
    ([16, 16, 1], 64, 1000, "gd"),
    ([32, 16, 1], 64, 1000, "gd"),
    ([16, 32, 1], 200, 1000, "adam"),
    ([30, 50, 1], 200, 455, "adam"),
    ([64, 32, 1], 32, 1797, "adam"),
]


def trainer(dims, mb, m, optimizer, thin):
    os.environ["FASTDNN_THIN"] = "force" if thin else "0"
    rng = np.random.RandomState(0)
    X = np.asfortranarray(rng.randn(dims[0], m))
    Y = (rng.rand(1, m) > 0.5).astype(np.float64)
    cfg = TrainingConfig(learning_rate=0.001, optimizer=optimizer, mini_batch_size=mb,
                         shuffle="course" if mb else "none", seed=10, lambd=1e-4)
    tr = Trainer(X, Y, initialize_parameters(dims, "he"), cfg)
    assert tr._engine.thin == thin
    return tr


TEAM_NETS = [[2, 5, 2, 1], [2, 10, 5, 1], [2, 20, 3, 1]]
TEAM_M = [256, 300, 400, 512, 640, 800, 1600]


def team(rounds, sizes):
    from fastdnn import threads

    print("%-14s %6s %11s %11s %7s %6s" % ("net", "m", "alone us", "team us", "ratio",
                                            "rule"))
    for dims in TEAM_NETS:
        for m in sizes:
            rng = np.random.RandomState(0)
            X = rng.randn(dims[0], m)
            Y = (rng.rand(1, m) > 0.5).astype(np.float64)
            cfg = TrainingConfig(learning_rate=0.001, optimizer="gd", lambd=1e-4)
            trs = {}
            for t in (1, 2):
                trs[t] = Trainer(X, Y, initialize_parameters(dims, "he"), cfg)
                trs[t]._forced_team = t
                assert trs[t]._engine.thin
            n = max(200, int(2e6 / m))
            best = {1: np.inf, 2: np.inf}
            for _ in range(rounds):
                for t, tr in trs.items():
                    t0 = time.perf_counter()
                    tr.run(n, record_every=0)
                    best[t] = min(best[t], (time.perf_counter() - t0) / n * 1e6)
            weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
            print("%-14s %6d %11.2f %11.2f %7.2f %6d" % (
                ",".join(map(str, dims)), m, best[1], best[2], best[1] / best[2],
                threads.thin_team_size(2, m, weights, trs[2]._engine.one_exchange)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--team", action="store_true", help="one thread against a team of two")
    ap.add_argument("--sizes", default=",".join(map(str, TEAM_M)),
                    help="--team: the batch sizes m (comma-separated)")
    args = ap.parse_args(argv)
    if args.team:
        return team(args.rounds, [int(v) for v in args.sizes.split(",")])
    from threadpoolctl import threadpool_limits

    saved = os.environ.get("FASTDNN_THIN")
    print("%-16s %6s %6s %12s %12s %7s" % ("net", "batch", "m", "thin ms/ep", "layers ms/ep",
                                           "ratio"))
    try:
        with threadpool_limits(1, user_api="blas"):
            for dims, mb, m, opt in NETS:
                trs = {t: trainer(dims, mb, m, opt, t) for t in (True, False)}
                work = m * sum(a * b for a, b in zip(dims[:-1], dims[1:]))
                n = max(5, int(3e7 / work))
                best = {True: np.inf, False: np.inf}
                for _ in range(args.rounds):
                    for t, tr in trs.items():
                        t0 = time.perf_counter()
                        tr.run(n, record_every=0)
                        best[t] = min(best[t], (time.perf_counter() - t0) / n * 1e3)
                print("%-16s %6s %6d %12.4f %12.4f %7.2f" % (
                    ",".join(map(str, dims)), mb or "full", m, best[True], best[False],
                    best[True] / best[False]))
    finally:
        if saved is None:
            os.environ.pop("FASTDNN_THIN", None)
        else:
            os.environ["FASTDNN_THIN"] = saved


if __name__ == "__main__":
    main()
