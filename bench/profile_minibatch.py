"""Where fastdnn's mini-batch epoch goes, against the matrix products alone (issue 12).

    .venv/bin/python bench/profile_minibatch.py --workload digits          # the sweeps
    .venv/bin/python bench/profile_minibatch.py --workload mnist5k --spin 60   # for perf:
    perf record -g -p <pid> ...  (or perf record -g -- .venv/bin/python ... --spin 60)

Sweeps (one thread, float32 unless --dtype, process CPU time per epoch, the least of
--rounds rounds: CPU time rather than wall time because the machine is shared; every
row is single-threaded):

* optimizer gd / momentum / adam at the workload's batch size: the difference is the cost
  of the optimiser's pass over the parameters (every step touches all of them);
* batch sizes: fastdnn's epoch, the products-alone floor on the same batches
  (bench_minibatch.Products), and their difference per step.

--spin S trains fastdnn (the workload's configuration) for S seconds without timing, for
a profiler attached from outside.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402

import bench_minibatch as bm  # noqa: E402


def workload(name, mb=None, optimizer=None, rounds=3, epochs=3):
    spec = dict(bm.WORKLOADS[name])
    if mb is not None:
        spec["mb"] = mb
    if optimizer is not None:
        spec["optimizer"] = optimizer
    spec["epochs"] = epochs
    return bm.Workload(name, spec, quick=False, rounds=rounds)


def cpu_ms(c, w, rounds):
    best = float("inf")
    for _ in range(rounds):
        c0 = time.process_time()
        c.run(w.n_epochs)
        best = min(best, time.process_time() - c0)
    return 1e3 * best / w.n_epochs


def fastdnn_and_products(w, args):
    """CPU ms per epoch of fastdnn (1 thread) and of the same products alone, on w."""
    f = bm.Fastdnn(w, args.dtype, 1)
    p = bm.Products(w, args.dtype)
    f.setup()
    p.setup()
    return cpu_ms(f, w, args.rounds), cpu_ms(p, w, args.rounds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="digits", choices=sorted(bm.WORKLOADS))
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batches", default="16,32,64,128,256,512")
    ap.add_argument("--spin", type=float, default=0.0)
    args = ap.parse_args()
    threadpoolctl.threadpool_limits(1)
    if args.spin:
        w = workload(args.workload, rounds=1, epochs=1)
        c = bm.Fastdnn(w, args.dtype, 1)
        c.setup()
        print(f"pid {os.getpid()}: training {args.workload} for {args.spin}s", flush=True)
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < args.spin:
            c.tr.run(20, record_every=0)
            n += 20
        print(f"{n} epochs, {1e3 * (time.perf_counter() - t0) / n:.3f} ms/epoch wall")
        return
    base = bm.WORKLOADS[args.workload]
    print(f"# {base['title']}, {args.dtype}, 1 thread, cpu ms/epoch (least of "
          f"{args.rounds} rounds of {args.epochs} epochs)")
    print()
    print("| optimizer | fastdnn | products alone | difference | per step (µs) |")
    print("|---|---:|---:|---:|---:|")
    for opt in ("gd", "momentum", "adam"):
        w = workload(args.workload, optimizer=opt, rounds=args.rounds, epochs=args.epochs)
        tf, tp = fastdnn_and_products(w, args)
        print(f"| {opt} | {tf:.3f} | {tp:.3f} | {tf - tp:.3f} | "
              f"{1e3 * (tf - tp) / len(w.batches):.1f} |", flush=True)
    n_params = sum(w.dims[l] * w.dims[l - 1] + w.dims[l] for l in range(1, len(w.dims)))
    print(f"\n{n_params} parameters; Adam touches each of them once per step.\n")
    print("| batch | steps | fastdnn (adam) | products alone | difference | per step (µs) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for mb in [int(b) for b in args.batches.split(",")]:
        w = workload(args.workload, mb=mb, rounds=args.rounds, epochs=args.epochs)
        tf, tp = fastdnn_and_products(w, args)
        print(f"| {mb} | {len(w.batches)} | {tf:.3f} | {tp:.3f} | {tf - tp:.3f} | "
              f"{1e3 * (tf - tp) / len(w.batches):.1f} |", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
