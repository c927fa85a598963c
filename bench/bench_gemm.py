"""Where does BLAS start beating a plain loop?  Justifies SMALL_GEMM_FLOPS.

Usage: .venv/bin/python bench/bench_gemm.py [--large]

Times C = A @ B (float64) by fastdnn._blas's gemm_loop and by its BLAS call
(dgemm through scipy.linalg.cython_blas), both from compiled code without
the GIL (fastdnn._blas._bench_gemm runs the product `repeat` times in C), for
products of the shapes fastdnn meets with tiny networks: square ones, and the
three products of a layer of the planar [2, 4, 1] network (forward W A,
backward dZ A^T and W^T dZ) over m examples; each with the operand layouts
of the forward (A, B row-major / A row-major, B column-major).  Prints one
table row per product, then per m*n*k the geometric mean of loop/BLAS time
over the shapes and layouts measured, and the crossover: the smallest m*n*k
from which BLAS wins at every larger size.

With --large, also the cat model's three big products by scipy's BLAS and by
numpy's matmul with a preallocated output, calls interleaved (min / median):
the measurement behind NUMPY_GEMM_WORK in fastdnn/layers.pyx.
"""
import sys
import time

import numpy as np

from fastdnn._blas import _bench_gemm


def best_ns(A, B, C, use_loop, target=2e-3, rounds=5):
    """Min over `rounds` of the time per product, ns (each round >= target s)."""
    repeat = 1
    while True:
        t0 = time.perf_counter()
        _bench_gemm(A, B, C, repeat, use_loop)
        if time.perf_counter() - t0 >= target / 4 or repeat >= 1 << 20:
            break
        repeat *= 4
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        _bench_gemm(A, B, C, repeat, use_loop)
        times.append((time.perf_counter() - t0) / repeat)
    return min(times) * 1e9


def shapes():
    for s in (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 32):
        yield "square", (s, s, s)
    for m in (1, 2, 4, 8, 16, 32, 64, 128, 256, 400, 512, 1024):
        yield "W A   (4x2 @ 2xm)", (4, 2, m)
        yield "dZ Aᵀ (4xm @ mx2)", (4, m, 2)
        yield "Wᵀ dZ (2x4 @ 4xm)", (2, 4, m)
        yield "W A   (1x4 @ 4xm)", (1, 4, m)


def large_products(rounds=30):
    """The cat model's big products, scipy's BLAS (fastdnn._blas) vs numpy's
    matmul with a preallocated output, calls interleaved; justifies
    NUMPY_GEMM_WORK in fastdnn/layers.pyx."""
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 256, (209, 12288)) / 255).T          # Fortran, as the seed's X
    W = rng.standard_normal((20, 12288)) / np.sqrt(12288)
    dZ = rng.standard_normal((20, 209))
    cases = {
        "W1 X  (20x12288 @ 12288x209 F)": (W, X, np.empty((20, 209))),
        "dZ1 Xᵀ (20x209 @ 209x12288)": (dZ, X.T, np.empty((20, 12288))),
        "W1ᵀ dZ1 (12288x20 F @ 20x209)": (W.T, dZ, np.empty((12288, 209))),
    }
    print("| product | BLAS via scipy min / median ms | numpy matmul min / median ms |")
    print("|---|---:|---:|")
    for label, (A, B, C) in cases.items():
        ts = {"scipy": [], "numpy": []}
        for _ in range(rounds):
            t0 = time.perf_counter()
            _bench_gemm(A, B, C, 1, False)
            t1 = time.perf_counter()
            np.matmul(A, B, out=C)
            t2 = time.perf_counter()
            ts["scipy"].append(t1 - t0)
            ts["numpy"].append(t2 - t1)
        sc, nu = np.array(ts["scipy"]) * 1e3, np.array(ts["numpy"]) * 1e3
        print(f"| {label} | {sc.min():.3f} / {np.median(sc):.3f} | {nu.min():.3f} / {np.median(nu):.3f} |")


def main():
    rng = np.random.default_rng(0)
    rows = []
    print("| product | m x k x n | m*n*k | B layout | loop ns | BLAS ns | loop/BLAS |")
    print("|---|---|---:|---|---:|---:|---:|")
    for label, (m, k, n) in shapes():
        for b_order in ("C", "F"):
            A = rng.standard_normal((m, k))
            B = np.asarray(rng.standard_normal((k, n)), order=b_order)
            C = np.empty((m, n))
            loop, blas = best_ns(A, B, C, True), best_ns(A, B, C, False)
            flops = m * n * k
            rows.append((flops, loop, blas))
            print(f"| {label} | {m}x{k}x{n} | {flops} | {b_order} | {loop:.0f} | {blas:.0f} "
                  f"| {loop / blas:.2f} |")
    # per m*n*k: geometric mean over shapes and layouts of loop time / BLAS time
    by_flops = {}
    for f, lo, bl in rows:
        by_flops.setdefault(f, []).append(lo / bl)
    gmean = {f: float(np.exp(np.mean(np.log(r)))) for f, r in sorted(by_flops.items())}
    # crossover: the smallest m*n*k from which BLAS wins (geomean) at every larger size too
    crossover = next((f for f in gmean if all(g > 1 for h, g in gmean.items() if h >= f)), None)
    print()
    print("m*n*k: geometric mean of loop/BLAS time")
    print(", ".join(f"{f}: {g:.2f}" for f, g in gmean.items()))
    print(f"crossover (BLAS faster from here on): m*n*k = {crossover}")
    if "--large" in sys.argv:
        print()
        large_products()
    return 0


if __name__ == "__main__":
    sys.exit(main())
