"""A small product whose operand has its inner index contiguous, in BLAS directly or on a
transposed copy: behind fastdnn._core.small.TRANSPOSE_WORK.

    .venv/bin/python bench/bench_transpose.py [--rounds 5]

Z (n x m) = W (n x k) X^T with X (m x k) row-major: the form of a mini-batch's first layer
Z_1 = W_1 X_B^T (examples one after another) and of a hidden layer's weight gradient
G_W = dZ A^T.  Timed in C without the GIL (fastdnn._core.loop.product_wxt: `repeat` calls
in a loop), BLAS on one thread, the two forms alternately, the least time of --rounds:
"as is" is one BLAS call on X; "transposed" copies X transposed (fastdnn._core.small's
transpose) and calls BLAS on the copy.  Ratio > 1: the copy pays.  The shapes are the
products of bench_minibatch.py's and bench_sklearn.py's workloads, (n, k, m), and a few
with 1 to 8 rows (an output layer's units).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import threadpoolctl

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from fastdnn._core.loop import product_wxt  # noqa: E402

SHAPES = [
    ("digits Z1 [64, 32, 10] b32", 32, 64, 32),
    ("digits G_W2", 10, 32, 32),
    ("MNIST G_W2 [784, 128, 64, 10] b64", 64, 128, 64),
    ("MNIST G_W3", 10, 64, 64),
    ("cat G_W2 [12288, 20, 7, 5, 1] b64", 7, 20, 64),
    ("sklearn digits G_W2 [64, 100, 10] b200", 10, 100, 200),
    ("sklearn digits Z1", 100, 64, 200),
    ("MNIST Z1", 128, 784, 64),
    ("cancer G_W2 [30, 100, 1] b200", 1, 100, 200),
    ("cat G_W4 [.., 5, 1] b64", 1, 5, 64),
    ("4 rows", 4, 32, 32),
    ("8 rows", 8, 32, 32),
]


def per_call(W, X, transposed, target_s=0.02):
    product_wxt(W, X, 10, transposed)
    reps = 10
    while True:
        t0 = time.perf_counter()
        product_wxt(W, X, reps, transposed)
        t = time.perf_counter() - t0
        if t >= target_s:
            return t / reps
        reps *= 4


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"us per product, least of {args.rounds} rounds, BLAS on 1 thread")
    print(f"{'product':<40} {'n x k x m':>16} {'dtype':>7} {'as is':>9} {'transposed':>11} "
          f"{'ratio':>6}")
    with threadpoolctl.threadpool_limits(1):
        for label, n, k, m in SHAPES:
            for dt in (np.float32, np.float64):
                W = rng.uniform(-1, 1, (n, k)).astype(dt)
                X = rng.uniform(-1, 1, (m, k)).astype(dt)
                best = {False: np.inf, True: np.inf}
                for _ in range(args.rounds):
                    for tr in (False, True):
                        best[tr] = min(best[tr], per_call(W, X, tr))
                print(f"{label:<40} {f'{n} x {k} x {m}':>16} {np.dtype(dt).name:>7} "
                      f"{1e6 * best[False]:>9.3f} {1e6 * best[True]:>11.3f} "
                      f"{best[False] / best[True]:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
