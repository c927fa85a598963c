"""Adam's division on AVX-512 (Newton-Raphson, fastdnn/_core/optimizers.pxd) against the
divider, element by element: how many of N random quotients differ (none, or the
Newton-Raphson path is wrong).

    .venv/bin/python bench/adam_division.py              # 2e8 float64, 1.3e8 float32 pairs
    .venv/bin/python bench/adam_division.py --n 1e7      # quicker

The engine's Adam loop (fastdnn._core.loop.adam_update, path "newton" against "plain") runs
with P = 0, lam = 0, b1 = 0, omb1 = 1, b2 = 1, omb2 = 0, c = 1, k = 1, eps = 0, so that it
stores -(G / sqrt(S)) in P: a = G and S drawn with random mantissas and exponents so that a
and b = sqrt(S) lie where the Newton path is taken ([2^-500, 2^500], float32 [2^-60, 2^60]),
in two of every five chunks with a's or S's mantissa near all ones or near zero (the hardest
reciprocals); float32 additionally runs S over every mantissa of [1, 4) (b = sqrt(S) then
takes about every mantissa of [1, 2)) against random a.
Also prints the time of one pass of each path ("plain": the loop as the compiler vectorises
it; "newton"; "divide": AVX-512 with the divider's division) over 7,510 float64 parameters
(scikit-learn's digits net) and 2,410 float32 ones (the issue-12 digits net): the best of
20 rounds of 1000 passes in a row, the paths in turn, with the L2 term (lam 1e-6) and
without (lam 0: g = G); and which path the engine takes on this processor
(fastdnn._core.loop.adam_default_path: "divide" on AMD's AVX-512, "newton" on Intel's).
Needs AVX-512 for the check (it prints the plain path's time alone otherwise).
"""
import argparse
import time

import numpy as np

from fastdnn._core.loop import ADAM_PATHS, adam_default_path, adam_update


def draw(rs, n, dtype, lo_exp, hi_exp, mode):
    """Random values with random mantissas, exponents in [lo_exp, hi_exp]; mode 1: mantissa
    near all ones, 2: near zero."""
    if dtype == np.float64:
        mbits, bias, ut = 52, 1023, np.uint64
    else:
        mbits, bias, ut = 23, 127, np.uint32
    full = (1 << mbits) - 1
    if mode == 1:
        m = full - rs.randint(0, 256, n).astype(ut)
    elif mode == 2:
        m = rs.randint(0, 256, n).astype(ut)
    else:
        m = (rs.randint(0, 2 ** 62, n, dtype=np.int64).astype(np.uint64) & full).astype(ut)
    e = (rs.randint(lo_exp, hi_exp + 1, n) + bias).astype(ut)
    return ((e << ut(mbits)) | m).view(dtype)


def check(dtype, total, chunk, rs, lo, hi):
    bad = done = 0
    i = 0
    while done < total:
        n = min(chunk, total - done)
        mode_a = 1 if i % 5 == 3 else 2 if i % 5 == 4 else 0
        mode_b = 1 if i % 5 == 1 else 2 if i % 5 == 2 else 0
        a = draw(rs, n, dtype, lo, hi, mode_a) * np.where(rs.rand(n) < 0.5, -1, 1).astype(dtype)
        # b = sqrt(S): S = b^2 rounded, so draw S, the loop takes its square root
        S = draw(rs, n, dtype, 2 * lo + 2, 2 * hi - 2, mode_b)
        q = []
        for path in ("newton", "plain"):
            P = np.zeros_like(a)
            V = np.zeros_like(a)
            S2 = S.copy()
            adam_update(P, a, V, S2, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, path=path)
            q.append(P)
        bad += int(np.count_nonzero(q[0] != q[1]))
        done += n
        i += 1
    return bad, done


def every_mantissa_f32(rs, reps):
    """b with every float32 mantissa (S = b^2 would round: b comes from S's square root, so
    S runs over every mantissa in two binades instead: sqrt covers b's whole binade)."""
    bad = done = 0
    m = np.arange(1 << 23, dtype=np.uint32)
    for e in (127, 128):                     # S in [1, 4): b = sqrt(S) in [1, 2)
        S0 = ((np.uint32(e) << np.uint32(23)) | m).view(np.float32)
        for _ in range(reps):
            a = draw(rs, S0.size, np.float32, -59, 58, 0)
            q = []
            for path in ("newton", "plain"):
                P = np.zeros_like(a)
                V = np.zeros_like(a)
                adam_update(P, a, V, S0.copy(), 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0,
                            path=path)
                q.append(P)
            bad += int(np.count_nonzero(q[0] != q[1]))
            done += S0.size
    return bad, done


def timing(dtype, n, lam, paths):
    """Microseconds per pass of each path: the best of 20 rounds of 1000 passes, the paths
    in turn within each round (the machine is shared)."""
    rs = np.random.RandomState(1)
    P0 = (rs.rand(n) - 0.5).astype(dtype) * 0.2
    G = ((rs.rand(n) - 0.5) * 1e-2).astype(dtype)
    state = {p: (P0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)) for p in paths}
    best = dict.fromkeys(paths, np.inf)
    for _ in range(20):
        for p in paths:
            P, V, S = state[p]
            t0 = time.perf_counter()
            adam_update(P, G, V, S, lam, 0.9, 0.1, 0.999, 0.001, 1e-3, 1.0, 1e-8,
                        path=p, repeat=1000)
            best[p] = min(best[p], (time.perf_counter() - t0) / 1000)
    return {p: t * 1e6 for p, t in best.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=2e8, help="float64 pairs (float32: 2/3 of it)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rs = np.random.RandomState(args.seed)
    n = int(args.n)
    if adam_default_path() == "plain":
        print("no AVX-512 path on this processor or build: nothing to check")
        print(f"float32 Adam pass over 2410 parameters: plain "
              f"{timing(np.float32, 2410, 0.0, ('plain',))['plain']:.2f} us")
        return
    bad, done = check(np.float64, n, 1 << 20, rs, -499, 499)
    print(f"float64: {bad} of {done:,} quotients differ from the divider's")
    bad, done = check(np.float32, n // 3, 1 << 20, rs, -59, 59)
    print(f"float32: {bad} of {done:,} random quotients differ")
    reps = max(1, n // 3 // (1 << 24))
    bad, done = every_mantissa_f32(rs, reps)
    print(f"float32: {bad} of {done:,} quotients differ (every mantissa of b, {reps} random "
          f"a each)")
    default = adam_default_path()
    paths = ADAM_PATHS if default != "plain" else ("plain",)
    print(f"the engine's path on this processor: {default}")
    for dtype, size in ((np.float64, 7510), (np.float32, 2410)):
        for lam in (1e-6, 0.0):
            t = timing(dtype, size, lam, paths)
            print(f"{np.dtype(dtype).name} Adam pass over {size} parameters, lam {lam:g}: "
                  + ", ".join(f"{p} {t[p]:.2f} us" for p in paths)
                  + f"; {default} {t['plain'] / t[default]:.2f}x plain's speed")


if __name__ == "__main__":
    main()
