"""The float32 exp of the engine's softmax on AVX-512 (fastdnn/_kernels.pyx: fd_exp_f_512,
the polynomial's steps fused) against the portable loop (fd_exp_f_loop), over every float32
bit pattern: how many results differ (none, or the fused path is not the same function).

    .venv/bin/python bench/exp_float32.py            # all 2^32 inputs, a minute or so
    .venv/bin/python bench/exp_float32.py --step 7   # every 7th bit pattern

Also prints the time of one call on 32 values (a row of the issue-12 digits softmax) and
on 320 by each path: the least of 20 rounds of 20,000 calls in a row.
"""
import argparse
import time

import numpy as np

from fastdnn._kernels import exp_float32


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=int, default=1, help="check every step-th bit pattern")
    args = ap.parse_args()
    chunk = 1 << 24
    bad = done = 0
    for start in range(0, 1 << 32, chunk):
        bits = np.arange(start, start + chunk, args.step, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        a = exp_float32(x)
        b = exp_float32(x, plain=True)
        differ = (a.view(np.uint32) != b.view(np.uint32)) & ~(np.isnan(a) & np.isnan(b))
        n = int(np.count_nonzero(differ))
        if n and bad == 0:
            i = int(np.flatnonzero(differ)[0])
            print(f"first difference: exp({x[i]!r}) = {a[i]!r} against {b[i]!r}")
        bad += n
        done += x.size
    print(f"{bad} of {done:,} float32 inputs give another result (NaN payloads aside)")
    for size in (32, 320):
        z = (np.random.RandomState(0).randn(size) * 3 - 5).astype(np.float32)
        times = {}
        for plain in (True, False):
            best = np.inf
            for _ in range(20):
                t0 = time.perf_counter()
                exp_float32(z, plain, 20000)
                best = min(best, (time.perf_counter() - t0) / 20000)
            times[plain] = best * 1e6
        print(f"{size} values: plain loop {times[True]:.3f} us, default {times[False]:.3f} us "
              f"({times[True] / times[False]:.2f}x)")


if __name__ == "__main__":
    main()
