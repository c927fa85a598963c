"""Fit fastdnn's MLPClassifier over and over, for a profiler attached from outside.

    perf record -g -o perf.data -- .venv/bin/python bench/profile_sklearn.py --workload cancer --spin 15
    perf report -i perf.data --no-children --sort dso,symbol

The workloads and settings are bench_sklearn.py's (digits or breast-cancer, scikit-learn's
defaults, 200 epochs without early stopping, the 75% training split), BLAS on --threads
threads (default 1).  Prints the fits done and the ms per epoch (wall, fit included).

With --fits N it times N fits instead and prints the least CPU time of one: the way to
compare two builds, each worktree's copy of this script run in turn (A B A B ...):

    for i in 1 2 3 4 5 6; do ../a/.venv/bin/python ../a/bench/profile_sklearn.py --fits 20; \
        .venv/bin/python bench/profile_sklearn.py --fits 20; done
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import threadpoolctl  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import bench_sklearn as bs  # noqa: E402
from fastdnn import MLPClassifier  # noqa: E402


def least_cpu(X, y, params, args):
    """The least process CPU time of a fit, ms per epoch (CPU time rather than wall time:
    the machine is shared)."""
    best = float("inf")
    with threadpoolctl.threadpool_limits(args.threads):
        for k in range(3 + args.fits):
            t0 = time.process_time()
            est = bs.fixed_epochs(MLPClassifier, args.epochs, params).fit(X, y)
            if k >= 3:
                best = min(best, (time.process_time() - t0) / est.n_iter_)
    return 1e3 * best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("digits", "cancer"), default="cancer")
    ap.add_argument("--spin", type=float, default=15.0, help="seconds of fitting")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fits", type=int, default=0,
                    help="instead of spinning: time this many fits (after 3 untimed ones) and "
                         "print the least process CPU time of one, in ms per epoch")
    args = ap.parse_args(argv)
    X, _, y, _, params = bs.load(args.workload)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.fits > 0:
        print(f"{args.workload}: {least_cpu(X, y, params, args):.4f} ms per epoch (CPU, least "
              f"of {args.fits} fits)")
        return
    fits = epochs = 0
    t0 = time.perf_counter()
    with threadpoolctl.threadpool_limits(args.threads):
        while time.perf_counter() - t0 < args.spin:
            est = bs.fixed_epochs(MLPClassifier, args.epochs, params).fit(X, y)
            fits += 1
            epochs += est.n_iter_
    print(f"{fits} fits, {1e3 * (time.perf_counter() - t0) / epochs:.3f} ms per epoch")


if __name__ == "__main__":
    main()
