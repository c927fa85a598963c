"""A team of two splitting layer 1's units (Engine.unit_split) against the loop without
it, net by net: the measurements behind fastdnn.threads.UNIT_SPLIT_MIN_WORK and
UNIT_SPLIT_MAX_TAIL.

    .venv/bin/python bench/unit_split.py [--rounds 15] [--epochs 5] [--busy] [--nets 7,8]
    .venv/bin/python bench/unit_split.py --fixed [--nets 4]

Each net [n_x, n_1, ..., n_out] trains on synthetic data (uniform X, Fortran-ordered as the
course's; random labels, softmax output), Adam lr 1e-3, the course shuffle, threads=2,
from the same initial weights: once by the rules without the unit split (a lone loop with
its permutation helper, or, for large steps, a team splitting the layers or the batch) and
once with it (Trainer._forced_unit_split).  Both train one warm-up epoch, then --rounds
rounds of --epochs epochs each, the two in turn each round; printed: wall ms per epoch
(the least round of each), their ratio (> 1: the unit split is faster) and the median
round of each.  --busy keeps the second core busy meanwhile (another process spinning):
a shared machine's case.

--fixed prints, for each net (float32), the fixed cost of a run apart from its epochs:
the least time of run(1) less a ninth of the difference between the least times of
run(10) and run(1), over --rounds rounds of each, with the unit split and on one thread
alone (both through Trainer.run, its Python included).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdnn.training import Trainer, TrainingConfig  # noqa: E402

NETS = [
    # dims, m, batch
    ([30, 20, 3], 2000, 16),
    ([64, 24, 10], 1797, 8),
    ([20, 32, 4], 2000, 32),
    ([64, 32, 10], 1797, 16),
    ([64, 32, 10], 1797, 32),           # issue 12's digits
    ([64, 100, 10], 1797, 200),         # scikit-learn's default net on digits
    ([784, 128, 10], 5000, 64),
    ([784, 128, 64, 10], 5000, 64),     # issue 12's MNIST-5k
    ([64, 64, 32, 10], 1797, 32),
    ([100, 64, 64, 10], 2000, 64),
    ([100, 64, 64, 64, 10], 2000, 64),
    ([64, 32, 32, 10], 1797, 32),
    ([300, 100, 100, 10], 2000, 64),
]


def trainer(net, dtype, split):
    dims, m, mb = net
    rs = np.random.RandomState(0)
    X = np.asfortranarray(rs.rand(dims[0], m).astype(dtype))
    Y = rs.randint(0, dims[-1], (1, m))
    P = {}
    for l in range(1, len(dims)):
        P[f"W{l}"] = (rs.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])).astype(dtype)
        P[f"b{l}"] = np.zeros((dims[l], 1), dtype)
    cfg = TrainingConfig(learning_rate=1e-3, output="softmax", optimizer="adam",
                         mini_batch_size=mb, seed=1, dtype=dtype, threads=2, solver="primal")
    tr = Trainer(X, Y, P, cfg)
    tr._forced_unit_split = split
    tr.run(1, record_every=0)
    return tr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--nets", help="comma-separated indices into NETS (default: all)")
    ap.add_argument("--fixed", action="store_true",
                    help="the fixed cost of a run, apart from its epochs")
    args = ap.parse_args()
    if args.fixed:
        return fixed(args)
    busy = None
    if args.busy:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print("| net | batch | dtype | step work | tail | without ms | unit split ms | ratio | "
              "medians |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---|")
        nets = NETS if not args.nets else [NETS[int(i)] for i in args.nets.split(",")]
        for net in nets:
            for dtype in ("float32", "float64"):
                trs = {"without": trainer(net, dtype, False), "split": trainer(net, dtype, True)}
                if not trs["split"]._engine.unit_split:
                    print(f"| {net[0]} | {net[2]} | {dtype} | - | - | - | - | - | the step "
                          "does not allow the unit split here |")
                    continue
                times = {k: [] for k in trs}
                for _ in range(args.rounds):
                    for k, tr in trs.items():
                        t0 = time.perf_counter()
                        tr.run(args.epochs, record_every=0)
                        times[k].append((time.perf_counter() - t0) / args.epochs * 1e3)
                a, b = min(times["without"]), min(times["split"])
                med = (np.median(times["without"]), np.median(times["split"]))
                eng = trs["split"]._engine
                print(f"| {net[0]} | {net[2]} | {dtype} | {eng.step_work:,} | "
                      f"{eng.tail_work / eng.step_work:.1%} | {a:.3f} | {b:.3f} | {a / b:.2f}x | "
                      f"{med[0]:.3f} / {med[1]:.3f} |", flush=True)
    finally:
        if busy is not None:
            busy.kill()


def fixed(args):
    nets = NETS if not args.nets else [NETS[int(i)] for i in args.nets.split(",")]
    print("| net | batch | run | run(1) ms | run(10) ms | a further epoch ms | fixed ms |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for net in nets:
        lone = trainer(net, "float32", False)
        lone._forced_team, lone._forced_helper = 1, False
        for name, tr in (("unit split", trainer(net, "float32", True)), ("1 thread", lone)):
            best = {}
            for n in (1, 10):
                times = []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    tr.run(n, record_every=0)
                    times.append(time.perf_counter() - t0)
                best[n] = 1e3 * min(times)
            per = (best[10] - best[1]) / 9
            print(f"| {net[0]} | {net[2]} | {name} | {best[1]:.3f} | {best[10]:.3f} | "
                  f"{per:.4f} | {best[1] - per:.4f} |", flush=True)


if __name__ == "__main__":
    main()
