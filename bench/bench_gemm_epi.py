"""The relu layers' fused products (fastdnn/_core/gemm.pxd) against BLAS, side by side.

    .venv/bin/python bench/bench_gemm_epi.py [--rounds 9] [--fits 3]

1. Products alone, in the engine's forms for scikit-learn's default network (hidden 100,
   batch 200) on digits (64 features, 10 classes) and breast cancer (30 features, 1
   output), float64 and float32: C = W P (P row-major: the forward product, P = X_B^T or
   A_(l-1)), dZ_(l-1) = W^T dZ_l, and the weight gradient dZ X_B, by gemm.pxd's kernel
   (no epilogue) and by BLAS (OpenBLAS through scipy), in turn, round robin; us per
   product, the least of the rounds, and BLAS / ours.
2. Whole fits: fastdnn's MLPClassifier (scikit-learn's defaults, 200 epochs without early
   stopping, the 75% split of bench_sklearn.py) with the fused passes on and off
   (FASTDNN_GEMM=1 / 0, read when a fit builds its engine), in turn; ms per epoch, the
   least of --fits fits each round, and off / on.

One thread (threadpoolctl), the processor needs AVX-512 (else the kernel is not used and
this prints so).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from fastdnn._core.loop import GEMM_AVX512, product_epi  # noqa: E402

SHAPES = {
    # name: (M, N, K, A's order): C (M x N) = A (M x K) B (K x N)
    "digits Z1 = W1 X_B^T": (100, 200, 64, "C"),
    "digits dZ1 = W2^T dZ2": (100, 200, 10, "F"),
    "digits G_W1 = dZ1 X_B": (100, 64, 200, "C"),
    "cancer Z1 = W1 X_B^T": (100, 200, 30, "C"),
    "cancer dZ1 = W2^T dZ2": (100, 200, 1, "F"),
    "cancer G_W1 = dZ1 X_B": (100, 30, 200, "C"),
}


def products(rounds, repeat=200):
    rs = np.random.RandomState(0)
    print("1. products alone (us per product, least of %d rounds)" % rounds)
    print(f"{'product':26s} {'dtype':8s} {'ours':>8s} {'BLAS':>8s} {'BLAS/ours':>9s}")
    for dtype in (np.float64, np.float32):
        for name, (M, N, K, order) in SHAPES.items():
            A = np.asarray(rs.randn(M, K).astype(dtype), order=order)
            B = rs.randn(K, N).astype(dtype)
            ours, blas = [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                product_epi(A, B, repeat=repeat)
                ours.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                product_epi(A, B, repeat=repeat, blas=True)
                blas.append(time.perf_counter() - t0)
            o, b = 1e6 * min(ours) / repeat, 1e6 * min(blas) / repeat
            print(f"{name:26s} {np.dtype(dtype).name:8s} {o:8.2f} {b:8.2f} {b / o:9.2f}")


def fits(rounds, n_fits):
    import threadpoolctl
    from sklearn.exceptions import ConvergenceWarning

    import bench_sklearn as bs
    from fastdnn import MLPClassifier
    print("\n2. fastdnn MLPClassifier fits, 200 epochs (ms per epoch, least of %d rounds of %d "
          "fits)" % (rounds, n_fits))
    print(f"{'workload':10s} {'fused':>8s} {'separate':>9s} {'separate/fused':>14s}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    for workload in ("cancer", "digits"):
        X, _, y, _, params = bs.load(workload)
        best = {"1": np.inf, "0": np.inf}
        with threadpoolctl.threadpool_limits(1):
            for flag in ("1", "0"):     # warm-up
                os.environ["FASTDNN_GEMM"] = flag
                bs.fixed_epochs(MLPClassifier, 200, params).fit(X, y)
            for _ in range(rounds):
                for flag in ("1", "0"):
                    os.environ["FASTDNN_GEMM"] = flag
                    for _ in range(n_fits):
                        t0 = time.perf_counter()
                        est = bs.fixed_epochs(MLPClassifier, 200, params).fit(X, y)
                        best[flag] = min(best[flag], (time.perf_counter() - t0) / est.n_iter_)
        os.environ.pop("FASTDNN_GEMM")
        on, off = 1e3 * best["1"], 1e3 * best["0"]
        print(f"{workload:10s} {on:8.3f} {off:9.3f} {off / on:14.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--fits", type=int, default=3)
    ap.add_argument("--no-fits", action="store_true", help="the products alone")
    args = ap.parse_args(argv)
    if not GEMM_AVX512:
        print("this processor lacks AVX-512: the engine uses BLAS and the separate passes")
        return
    import threadpoolctl
    with threadpoolctl.threadpool_limits(1):
        products(args.rounds)
    if not args.no_fits:
        fits(args.rounds, args.fits)


if __name__ == "__main__":
    main()
