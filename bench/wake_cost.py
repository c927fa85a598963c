"""What the first work after a rest costs on this machine (why the benchmarks warm up).

    .venv/bin/python bench/wake_cost.py

For arrays of a few sizes: the time of one numpy pass (``a.sum()``) right after
``time.sleep(PAUSE)`` and right after another pass, the least and the median of --rounds.
On an ordinary machine the two agree within a cache refill; on a virtual machine whose idle
CPU is taken away (or whose memory is remapped while the process sleeps) the first pass
after a rest pays a fixed cost of milliseconds.  A benchmark that rests between contenders
(so that one's BLAS threads stop spinning on the cores the next needs) must therefore warm
each contender up again right before timing it: bench_sklearn.py times a fit right after an
identical untimed fit, bench_minibatch.py a run right after an untimed run.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of rest (0.2: the benches')")
    args = ap.parse_args(argv)
    print(f"one pass (a.sum()) after time.sleep({args.pause}) and right after another pass; "
          f"least (median) of {args.rounds} rounds, ms")
    print(f"{'array':>10} {'after rest':>20} {'warm':>20} {'ratio':>7}")
    for kb in (64, 512, 2048, 8192):
        a = np.ones(kb * 1024 // 8)
        a.sum()
        cold, warm = [], []
        for _ in range(args.rounds):
            time.sleep(args.pause)
            t0 = time.perf_counter()
            a.sum()
            t1 = time.perf_counter()
            a.sum()
            t2 = time.perf_counter()
            cold.append(1e3 * (t1 - t0))
            warm.append(1e3 * (t2 - t1))
        c, w = min(cold), min(warm)
        print(f"{kb:>7} KB {c:>10.3f} ({statistics.median(cold):.3f}) "
              f"{w:>10.3f} ({statistics.median(warm):.3f}) {c / w:>6.0f}x")


if __name__ == "__main__":
    main()
