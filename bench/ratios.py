"""Markdown table of numpy / fastdnn time per function and size.

Usage: python bench/ratios.py BENCH.json [--strict]  (pytest-benchmark
--benchmark-json output of bench/bench_functions.py).  Times are the median
of each benchmark's rounds; ratio > 1 means fastdnn is faster.  Rows where
fastdnn is slower by both the median and the min are listed at the end (and
make the exit status 1 with --strict).  At the cat size the products dominate
and both sides make the same numpy matmul call: those rows are at parity, and
their ratios move by several percent between runs on a shared machine.
"""
import json
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    table = {}
    for b in runs:
        info = b["extra_info"]
        table.setdefault((info["function"], info["size"]), {})[info["impl"]] = b["stats"]
    print("| function | size | numpy ms | fastdnn ms | ratio (median) | ratio (min) |")
    print("|---|---|---:|---:|---:|---:|")
    slower = []
    for (function, size), s in table.items():
        if set(s) != {"numpy", "fastdnn"}:
            continue
        n, f = s["numpy"], s["fastdnn"]
        r_med, r_min = n["median"] / f["median"], n["min"] / f["min"]
        print(f"| {function} | {size} | {n['median'] * 1e3:.4f} | {f['median'] * 1e3:.4f} "
              f"| {r_med:.2f} | {r_min:.2f} |")
        if r_med < 1 and r_min < 1:
            slower.append(f"{function} | {size}")
    if slower:
        print("\nfastdnn slower than numpy:", ", ".join(slower))
    return 1 if slower else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--strict"]
    status = main(args[0] if args else ".benchmarks/functions.json")
    sys.exit(status if "--strict" in sys.argv else 0)
