"""CPU time of fastdnn's MLPClassifier fits, for comparing two builds of the tree.

    .venv/bin/python bench/fit_cpu.py --workload cancer --fits 20

Fits bench_sklearn.py's workload (scikit-learn's defaults, 200 epochs without early
stopping, the 75% training split) --fits times at one BLAS thread after 3 untimed fits and
prints the least process CPU time of a fit, in ms per epoch: CPU time rather than wall
time, since the machine is shared.  Imports the fastdnn of the tree this script is in, so
that two worktrees' copies, run in turn (A B A B ...), compare their builds:

    for i in 1 2 3 4 5 6; do ../a/.venv/bin/python ../a/bench/fit_cpu.py; \\
        .venv/bin/python bench/fit_cpu.py; done
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("digits", "cancer"), default="cancer")
    ap.add_argument("--fits", type=int, default=20, help="timed fits (the least is printed)")
    args = ap.parse_args(argv)
    if args.fits < 1:
        ap.error("--fits must be >= 1")
    X, _, y, _, params = bs.load(args.workload)
    kw = dict(random_state=0, max_iter=200, tol=0, n_iter_no_change=10 ** 6, **params)
    warnings.simplefilter("ignore", ConvergenceWarning)
    best = float("inf")
    with threadpoolctl.threadpool_limits(1):
        for _ in range(3):
            MLPClassifier(**kw).fit(X, y)
        for _ in range(args.fits):
            t0 = time.process_time()
            est = MLPClassifier(**kw).fit(X, y)
            best = min(best, (time.process_time() - t0) / est.n_iter_)
    print(f"{args.workload}: {1e3 * best:.4f} ms per epoch (CPU, least of {args.fits} fits)")


if __name__ == "__main__":
    main()
