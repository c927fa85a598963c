"""The course shuffle's permutation of one epoch, timed: fastdnn._core.rng's Fisher-Yates
on numpy's legacy MT19937 stream (fastdnn._core.loop.lanes_permutations_of, the engine's
code path: 16 consecutive seeds seeded at once), microseconds per permutation of --m
(digits: 1797), the least of --rounds rounds of --seeds seeds; checked against numpy.

    .venv/bin/python bench/permutation_time.py [--m 1797] [--seeds 1600] [--rounds 7]
"""
import argparse
import time

import numpy as np

from fastdnn._core.loop import lanes_permutations_of


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", type=int, default=1797)
    ap.add_argument("--seeds", type=int, default=1600)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    seeds = list(range(100, 100 + args.seeds))
    best = np.inf
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        out = lanes_permutations_of(seeds, args.m)
        best = min(best, (time.perf_counter() - t0) / len(seeds))
    for s, p in zip(seeds[:20], out[:20]):
        assert (p == np.random.RandomState(s).permutation(args.m)).all()
    print(f"{1e6 * best:.2f} us per permutation of {args.m} (the least of {args.rounds} "
          f"rounds of {len(seeds)} seeds, Python's call per seed included)")


if __name__ == "__main__":
    main()
