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

--teams sweeps the size of a step ([n_x, h, 10], batch --mb (64), Adam, --dtype, synthetic
data) and times the loop alone and on a team of 2 (wall time, BLAS single-threaded in both):
the crossover behind fastdnn.threads.TEAM_MIN_WORK.

--parts splits the workload's epoch at --threads threads (wall time, float32, the primal
solver): gd on batches read in place (shuffle "none": the products and the elementwise
passes), the same with the course's shuffle (+ the gather of the batch's columns), Adam in
both modes (+ Adam's pass), and the products alone on pre-gathered batches.

--spin S trains fastdnn (the workload's configuration; --threads, default 1) for S
seconds without timing, for a profiler attached from outside.
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


def teams(args):
    from fastdnn import threads as fthreads
    from fastdnn.training import Trainer, TrainingConfig

    min_work = fthreads.TEAM_MIN_WORK       # lowered to 1 while timing: a team for any step
    dt = np.dtype(args.dtype)
    mb = args.mb or 64
    print(f"# one thread vs a team of 2 (wall ms/epoch, best of {args.rounds} rounds of "
          f"{args.epochs} epochs; m = 2048, batch {mb}, Adam, {dt.name}); TEAM_MIN_WORK = "
          f"{min_work:,}")
    print()
    print("| dims | multiply-adds per step | alone | team of 2 | alone / team |")
    print("|---|---:|---:|---:|---:|")
    rs = np.random.RandomState(0)
    m = 2048
    for n_x, h in ((32, 16), (64, 32), (64, 64), (128, 64), (128, 128), (256, 128),
                   (256, 256), (512, 256), (784, 128), (784, 512)):
        X = np.asfortranarray(rs.rand(n_x, m).astype(dt))
        Y = (np.arange(m) % 10).reshape(1, -1)
        P = {"W1": (rs.randn(h, n_x) * 0.1).astype(dt),
             "b1": np.zeros((h, 1), dt),
             "W2": (rs.randn(10, h) * 0.1).astype(dt),
             "b2": np.zeros((10, 1), dt)}
        cfg = TrainingConfig(learning_rate=1e-3, output="softmax", optimizer="adam",
                             mini_batch_size=mb, dtype=dt.name, solver="primal")
        times = []
        for workers in (1, 2):
            tr = Trainer(X, Y, P, cfg.replace(threads=workers))
            best = float("inf")
            fthreads.TEAM_MIN_WORK = 1
            try:
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    tr.run(args.epochs, record_every=0)
                    best = min(best, time.perf_counter() - t0)
            finally:
                fthreads.TEAM_MIN_WORK = min_work
            assert tr._engine.workers == workers
            times.append(1e3 * best / args.epochs)
            work = tr._engine.step_work
        print(f"| [{n_x}, {h}, 10] | {work:,} | {times[0]:.3f} | {times[1]:.3f} | "
              f"{times[0] / times[1]:.2f} |", flush=True)


def parts(args):
    from fastdnn.training import Trainer, TrainingConfig

    T = args.threads or 2
    w = workload(args.workload, mb=args.mb, rounds=args.rounds, epochs=args.epochs)
    dt = np.dtype(args.dtype)
    X = w.Xr.astype(dt).T
    Y = w.y.reshape(1, -1) if w.output == "softmax" else w.y.reshape(1, -1).astype(dt)
    P = {k: v.astype(dt) for k, v in w.init.items()}
    print(f"# {w.dims}, batch {w.mb}, {args.dtype}, {T} thread(s), wall ms/epoch (best of "
          f"{args.rounds} rounds of {args.epochs} epochs)")
    print()
    print("| optimizer | batches | ms/epoch |")
    print("|---|---|---:|")
    for opt, shuffle in (("gd", "none"), ("gd", "course"), ("adam", "none"),
                         ("adam", "course")):
        cfg = TrainingConfig(learning_rate=w.lr, hidden_activation="relu", output=w.output,
                             optimizer=opt, mini_batch_size=w.mb, shuffle=shuffle, seed=10,
                             dtype=args.dtype, threads=T, solver="primal")
        tr = Trainer(X, Y, P, cfg)
        tr.run(1, record_every=0)
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            tr.run(args.epochs, record_every=0)
            best = min(best, time.perf_counter() - t0)
        what = "in place" if shuffle == "none" else "gathered (course shuffle)"
        print(f"| {opt} | {what} | {1e3 * best / args.epochs:.3f} |", flush=True)
    with threadpoolctl.threadpool_limits(T):
        p = bm.Products(w, args.dtype)
        p.setup()
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            p.run(args.epochs)
            best = min(best, time.perf_counter() - t0)
    print(f"| products alone (numpy) | pre-gathered | {1e3 * best / args.epochs:.3f} |")


def helper(args):
    """The workload's fastdnn f32 epoch at 2 threads with and without the permutation
    helper (a second thread drawing the course shuffle's permutations), interleaved; the
    two runs' parameters compared bit for bit."""
    w = workload(args.workload, rounds=args.rounds, epochs=args.epochs)
    cs = {}
    for on in (False, True):
        c = bm.Fastdnn(w, args.dtype, 2)
        c.setup()
        c.tr._forced_helper = on
        cs[on] = c
    print(f"# {w.dims}, batch {w.mb}, {args.dtype}, threads 2, the loop alone (team of "
          f"{cs[False].tr._engine.workers}), wall ms/epoch, best of {args.rounds} rounds of "
          f"{args.epochs} epochs, each side in turn")
    best = {False: float("inf"), True: float("inf")}
    cpu = {False: float("inf"), True: float("inf")}
    for _ in range(args.rounds):
        for on in (False, True):
            c0 = time.process_time()
            t0 = time.perf_counter()
            cs[on].run(args.epochs)
            dt = time.perf_counter() - t0
            best[on] = min(best[on], dt)
            cpu[on] = min(cpu[on], (time.process_time() - c0) / dt)
    same = all(np.array_equal(a, b) for a, b in zip(cs[False].params().values(),
                                                    cs[True].params().values()))
    print(f"without the helper {1e3 * best[False] / args.epochs:.4f}, with it "
          f"{1e3 * best[True] / args.epochs:.4f} ({best[False] / best[True]:.3f}x); helped "
          f"runs {cs[True].tr._engine.helped_runs}; parameters equal: {same}; process CPU "
          f"time / wall time, least of the rounds: {cpu[False]:.2f} without, {cpu[True]:.2f} "
          f"with")


def helper_sizes(args):
    """Small nets' epochs (Adam, course shuffle, threads 2, the loop alone) with the
    permutation helper forced on and off, in turn: behind fastdnn.threads.PERM_HELPER_MIN_WORK."""
    from fastdnn import threads as fthreads
    from fastdnn.training import Trainer, TrainingConfig

    busy = None
    if args.busy:
        # another process spinning meanwhile: the second core is not free
        import subprocess
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    print(f"# wall us/epoch, best of {args.rounds} rounds of 500 epochs; "
          f"PERM_HELPER_MIN_WORK = {fthreads.PERM_HELPER_MIN_WORK:,}"
          + ("; another process spinning meanwhile (--busy)" if busy else ""))
    print()
    print("| dims | m | batch | epoch multiply-adds | alone | helped | alone / helped |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rs = np.random.RandomState(0)
    for dims, m, mb in (([2, 5, 2, 1], 300, 64), ([2, 20, 3, 1], 211, 64),
                        ([20, 16, 4], 1000, 32), ([64, 32, 10], 1797, 32)):
        X = rs.randn(dims[0], m)
        out = "sigmoid" if dims[-1] == 1 else "softmax"
        Y = ((rs.rand(1, m) > 0.5).astype(float) if out == "sigmoid"
             else rs.randint(0, dims[-1], (1, m)))
        P = {}
        for l in range(1, len(dims)):
            P[f"W{l}"] = rs.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1])
            P[f"b{l}"] = np.zeros((dims[l], 1))
        trs, best = {}, {}
        for on in (False, True):
            tr = Trainer(X, Y, P, TrainingConfig(output=out, optimizer="adam",
                                                 mini_batch_size=mb, threads=2,
                                                 solver="primal"))
            tr._forced_helper = on
            tr.run(5, record_every=0)
            trs[on], best[on] = tr, float("inf")
        for _ in range(args.rounds):
            for on in (False, True):
                t0 = time.perf_counter()
                trs[on].run(500, record_every=0)
                best[on] = min(best[on], (time.perf_counter() - t0) / 500)
        work = 3 * m * sum(dims[l] * dims[l - 1] for l in range(1, len(dims)))
        print(f"| {dims} | {m} | {mb} | {work:,} | {1e6 * best[False]:.2f} | "
              f"{1e6 * best[True]:.2f} | {best[False] / best[True]:.2f} |", flush=True)
    if busy is not None:
        busy.kill()
        busy.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="digits", choices=sorted(bm.WORKLOADS))
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batches", default="16,32,64,128,256,512")
    ap.add_argument("--spin", type=float, default=0.0)
    ap.add_argument("--teams", action="store_true")
    ap.add_argument("--parts", action="store_true")
    ap.add_argument("--helper", action="store_true")
    ap.add_argument("--helper-sizes", action="store_true")
    ap.add_argument("--busy", action="store_true", help="for --helper-sizes")
    ap.add_argument("--threads", type=int, default=None,
                    help="for --parts (default 2) and --spin (default 1)")
    ap.add_argument("--mb", type=int, default=None, help="the batch size (--parts: default "
                    "the workload's; --teams: default 64)")
    args = ap.parse_args()
    if args.teams:
        return teams(args)
    if args.parts:
        return parts(args)
    if args.helper:
        return helper(args)
    if args.helper_sizes:
        return helper_sizes(args)
    threadpoolctl.threadpool_limits(1)
    if args.spin:
        w = workload(args.workload, rounds=1, epochs=1)
        c = bm.Fastdnn(w, args.dtype, args.threads or 1)
        c.setup()
        print(f"pid {os.getpid()}: training {args.workload} for {args.spin}s ({c.note})",
              flush=True)
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
