"""Whole-training benchmark: fastdnn's engine vs the seed's numpy algorithm vs PyTorch.

    make bench-train                      # or: .venv/bin/python bench/bench_training.py
    .venv/bin/python bench/bench_training.py --quick      # about a minute
    .venv/bin/python bench/bench_training.py --threads 1 --iterations cat5=50,tall=10

For each workload it prints ms per iteration, measured side by side in one
run, and the speed-up of each candidate over the numpy version:

* numpy: tests/reference.py, the seed's algorithm in plain numpy (forward,
  cost every iteration, backward with dA1, update);
* fastdnn primal / gram, float64 / float32 (fastdnn.training.Trainer, the path of
  L_layer_model, which runs the seed's configuration on fastdnn.engine; "auto"
  marks the solver the default picks).  Primal rows are steady-state ms per
  iteration; gram rows are the whole training of --gram-iterations
  iterations (Trainer construction, i.e. G = X^T X and P0 = W1_0 X, the run
  and forming W1 included) divided by that count;
* 2 products: W1.X and dZ1.X^T alone, through the same BLAS calls as the
  engine (fastdnn._engine.products): the floor of any primal iteration;
* torch: PyTorch CPU, nn.Linear layers + ReLU/Sigmoid, BCELoss, autograd and
  torch.optim.SGD, same initial parameters, dtype and thread count (rows
  skipped with a note when torch is not importable).

Candidates are timed round-robin, each keeping its fastest of --rounds
rounds (the machine is shared and noisy; the minimum is the least disturbed
run), with a short pause before each timing so that the thread pool of the
previous candidate (numpy's OpenBLAS, torch's OpenMP) has stopped spinning.  Workloads: cat5 and cat2 on
the course's cat / non-cat data (or the generated stand-in of
fastdnn.data.make_standin_dataset when the data is absent: the output says
which), tall [784, 128, 64, 1] on 4096 generated examples, planar [2, 4, 1]
on 400 generated 2-D points.  Without --quick it also trains cat5 and cat2
for 2500 iterations with the numpy version and prints the accuracies and the
largest relative parameter difference of each fastdnn solver against it.

Peak memory: tracemalloc's peak (numpy reports its allocations to it) for
building the trainer + 3 iterations, and for 3 numpy iterations; X itself is
not counted when it is not copied.  Torch's allocator is not traced.

The chart (docs/bench_speedup.png) plots the speed-up over numpy of the
primal and gram solvers, of auto, and of torch, against the input width n_x
of a [n_x, 20, 7, 5, 1] network on m = 512 examples, with auto's switch
(n_x >= m, see fastdnn.engine) marked.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
import tracemalloc

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import threadpoolctl  # noqa: E402

from fastdnn import data as fdata  # noqa: E402
from fastdnn._engine import products  # noqa: E402
from fastdnn.engine import choose_solver  # noqa: E402
from fastdnn.training import Trainer as _Trainer, TrainingConfig  # noqa: E402


def Trainer(X, Y, params, lr, dtype=None, solver="auto", threads=None):
    """The public training path (what L_layer_model and `fastdnn train` build): the
    engine v2 trainer, which runs the seed's configuration on the fused engine."""
    return _Trainer(X, Y, params, TrainingConfig(learning_rate=lr, dtype=dtype, solver=solver,
                                                 threads=threads))
from tests import reference as ref  # noqa: E402

LR = 0.0075
DEFAULT_ITERS = {"cat5": 60, "cat2": 60, "tall": 10, "planar": 3000}
QUICK_ITERS = {"cat5": 20, "cat2": 20, "tall": 4, "planar": 1000}
# seconds of rest before each timing: the previous candidate's BLAS / OpenMP
# threads keep spinning for a while after its call and would steal the cores
PAUSE = 0.25

try:
    import torch
except ImportError:          # pragma: no cover - depends on the environment
    torch = None


# ------------------------------------------------------------------- data
def cat_data():
    path = fdata.find_data_dir(os.environ.get(fdata.ENV_VAR)
                               or os.path.join(REPO_ROOT, "..", "shared", "datasets"))
    source = "course data"
    if path is None:
        path = fdata.make_standin_dataset(tempfile.mkdtemp(prefix="fastdnn-standin-"))
        source = "generated stand-in (course data not found; set FASTDNN_DATA)"
    x, y, tx, ty, _ = fdata.load_dataset(path)
    return fdata.prepare(x), y, fdata.prepare(tx), ty, source


def tall_data(m=4096, n_x=784, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n_x, m)
    w = rng.randn(n_x)
    Y = ((w @ (X - 0.5)) > 0).astype(np.float64).reshape(1, m)
    return X, Y


def planar_data(m=400, seed=1):
    """The course's 'flower': two classes of m/2 points on interleaved petals."""
    rng = np.random.RandomState(seed)
    N = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1))
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.randn(N) * 0.2
        r = 4 * np.sin(4 * t) + rng.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T.copy(), Y.T.copy()


def init_params(dims):
    """The seed's initialisation: two_layer_model's for 3 sizes, L_layer_model's otherwise."""
    np.random.seed(1)
    if len(dims) == 3:
        return ref.initialize_parameters(*dims)
    return ref.initialize_parameters_deep(list(dims))


# ------------------------------------------------------------------- candidates
def numpy_loop(X, Y, params, n):
    p = params
    for _ in range(n):
        AL, caches = ref.L_model_forward(X, p)
        ref.compute_cost(AL, Y)
        p = ref.update_parameters(p, ref.L_model_backward(AL, Y, caches), LR)
    return p


def torch_setup(X, Y, params, dtype, threads):
    torch.set_num_threads(threads)
    tdt = torch.float64 if dtype == "float64" else torch.float32
    L = len(params) // 2
    layers = []
    for l in range(1, L + 1):
        W = params[f"W{l}"]
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).to(tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(W)))
            lin.bias.copy_(torch.from_numpy(np.asarray(params[f"b{l}"]).ravel()))
        layers += [lin, torch.nn.ReLU() if l < L else torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    Xt = torch.from_numpy(np.ascontiguousarray(X.T)).to(tdt)
    Yt = torch.from_numpy(np.ascontiguousarray(np.asarray(Y, dtype=np.float64).T)).to(tdt)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCELoss()

    def run(n):
        for _ in range(n):
            opt.zero_grad()
            loss = loss_fn(model(Xt), Yt)
            loss.backward()
            opt.step()
    return run


def best_of(fn, rounds):
    """min over rounds of fn()'s wall time, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def traced_peak_mib(fn):
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


# ------------------------------------------------------------------- workloads
def bench_workload(name, dims, X, Y, n, args, rows):
    """Append (candidate, ms/iter, note) rows for one workload; return them as a dict.

    The candidates are timed round-robin (round 1 of each, then round 2 of
    each, ...) and each keeps its fastest round, so that a burst of load on
    the shared machine cannot favour one candidate over another.
    """
    T = args.threads
    params = init_params(dims)
    n_x, m = X.shape
    auto = choose_solver(n_x, m)
    G = args.gram_iterations
    cands = []          # (label, fn, iterations per call, extra ms per iteration, note)

    def np_run():
        numpy_loop(X, Y, params, n)
    cands.append(("numpy (seed's algorithm)", np_run, n, 0.0, f"{n} it"))

    for dtype in ("float64", "float32"):
        for solver in ("primal", "gram"):
            label = f"fastdnn {solver} {dtype}" + (" (auto)" if solver == auto else "")
            if solver == "gram" and m * m * 8 > 2**30:
                rows.append((name, label, float("nan"), "G too large, skipped"))
                continue
            if solver == "gram" and auto == "gram":
                def whole(dtype=dtype):
                    tr = Trainer(X, Y, params, LR, dtype=dtype, solver="gram", threads=T)
                    tr.run(G)
                    tr.parameters()
                cands.append((label, whole, G, 0.0, f"whole {G}-it training incl. setup"))
                continue
            t0 = time.perf_counter()
            tr = Trainer(X, Y, params, LR, dtype=dtype, solver=solver, threads=T)
            setup = time.perf_counter() - t0
            tr.run(1, record_every=0)
            if solver == "primal":
                cands.append((label, lambda tr=tr: tr.run(n), n, 0.0, f"{n} it, steady state"))
            else:
                cands.append((label, lambda tr=tr: tr.run(n), n, setup / G * 1e3, f"{n} it + setup/{G}"))

    W1 = np.asarray(params["W1"])
    for dtype in ("float64", "float32"):
        Xd = X.astype(dtype, order="K")
        W1d = W1.astype(dtype)
        dZ = np.random.RandomState(0).randn(dims[1], m).astype(dtype)
        o1 = np.empty((dims[1], m), dtype)
        o2 = np.empty((dims[1], n_x), dtype)

        def prod(W1d=W1d, Xd=Xd, dZ=dZ, o1=o1, o2=o2):
            products(W1d, Xd, dZ, o1, o2, n)
        with threadpoolctl.threadpool_limits(T, user_api="blas"):
            prod()
        cands.append((f"2 products W1.X + dZ1.X^T {dtype}", prod, n, 0.0, "same BLAS, the primal floor"))

    for dtype in ("float64", "float32"):
        if torch is None:
            rows.append((name, f"torch {dtype}", float("nan"), "torch not importable: skipped"))
            continue
        run = torch_setup(X, Y, params, dtype, T)
        run(2)
        nt = n if n <= 300 else max(300, n // 10)   # its per-iteration cost is flat
        cands.append((f"torch {dtype}", lambda run=run, nt=nt: run(nt), nt, 0.0,
                      f"{nt} it, autograd + SGD, {T} threads"))

    best = {c[0]: float("inf") for c in cands}
    with threadpoolctl.threadpool_limits(T, user_api="blas"):     # numpy's and the products'
        for _ in range(args.rounds):
            for label, fn, its, _extra, _note in cands:
                time.sleep(PAUSE)
                t0 = time.perf_counter()
                fn()
                best[label] = min(best[label], time.perf_counter() - t0)
    out = {}
    for label, fn, its, extra, note in cands:
        ms = best[label] / its * 1e3 + extra
        out[label] = ms
        rows.append((name, label, ms, note))

    # peak memory
    mem = {}
    with threadpoolctl.threadpool_limits(T, user_api="blas"):
        mem["numpy"] = traced_peak_mib(lambda: numpy_loop(X, Y, params, 3))
    for solver in ("primal", "gram"):
        if solver == "gram" and m * m * 8 > 2**30:
            continue
        mem[f"fastdnn {solver}"] = traced_peak_mib(
            lambda: Trainer(X, Y, params, LR, solver=solver, threads=T).run(3))
    out["_mem"] = mem
    out["_auto"] = auto
    return out


def accuracy_check(name, dims, X, Y, tX, tY, args):
    """2500 iterations of the numpy version vs fastdnn: accuracies and parameter drift."""
    n = 2500
    params = init_params(dims)
    lines = []
    with threadpoolctl.threadpool_limits(args.threads, user_api="blas"):
        want = numpy_loop(X, Y, params, n)

    def acc(p, A, B):
        return float(np.mean(ref.predict(A, B, p) == B))

    lines.append(f"  numpy          train acc {acc(want, X, Y):.4f}  test acc {acc(want, tX, tY):.4f}")
    for solver, dtype in [("gram", "float64"), ("primal", "float64"), ("gram", "float32")]:
        t = Trainer(X, Y, params, LR, solver=solver, dtype=dtype, threads=args.threads)
        t.run(n)
        got = t.parameters()
        drift = max(float(np.abs(got[k] - want[k]).max() / np.abs(want[k]).max()) for k in want)
        lines.append(f"  fastdnn {solver:6s} {dtype}  train acc {acc(got, X, Y):.4f}  "
                     f"test acc {acc(got, tX, tY):.4f}  max rel param diff vs numpy {drift:.2e}")
    print(f"\n{name}: {n} iterations, accuracies and drift against the numpy version")
    print("\n".join(lines))


def chart(args, path):
    """Speed-up over numpy against n_x for [n_x, 20, 7, 5, 1], m = 512."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = 512
    widths = [64, 128, 256, 512, 1024, 2048, 4096, 8192] if not args.quick else [64, 256, 1024, 4096]
    T = args.threads
    res = {"primal": [], "gram": [], "auto": [], "torch float64": []}
    for n_x in widths:
        X, Y = tall_data(m=m, n_x=n_x, seed=2)
        dims = [n_x, 20, 7, 5, 1]
        params = init_params(dims)
        n = max(20, min(300, int(2e9 / (3 * 20 * m * n_x))))
        if args.quick:
            n = max(5, n // 4)
        tp = Trainer(X, Y, params, LR, solver="primal", threads=T)
        tp.run(1, record_every=0)
        t0 = time.perf_counter()
        tg = Trainer(X, Y, params, LR, solver="gram", threads=T)
        setup = time.perf_counter() - t0
        fns = {"numpy": lambda: numpy_loop(X, Y, params, n),
               "primal": lambda: tp.run(n, record_every=0),
               "gram": lambda: tg.run(n, record_every=0)}
        if torch is not None:
            run = torch_setup(X, Y, params, "float64", T)
            run(1)
            fns["torch"] = lambda: run(n)
        best = dict.fromkeys(fns, float("inf"))
        with threadpoolctl.threadpool_limits(T, user_api="blas"):
            for _ in range(args.rounds):                 # round-robin, min per candidate
                for k, fn in fns.items():
                    time.sleep(PAUSE)
                    t0 = time.perf_counter()
                    fn()
                    best[k] = min(best[k], time.perf_counter() - t0)
        t_np, t_p = best["numpy"] / n, best["primal"] / n
        t_g = best["gram"] / n + setup / 2500
        res["primal"].append(t_np / t_p)
        res["gram"].append(t_np / t_g)
        res["auto"].append(t_np / (t_g if choose_solver(n_x, m) == "gram" else t_p))
        if torch is not None:
            res["torch float64"].append(t_np / (best["torch"] / n))
        print(f"  chart n_x={n_x:5d}: speed-up over numpy primal {t_np / t_p:6.1f}x  "
              f"gram {t_np / t_g:6.1f}x  auto picks {choose_solver(n_x, m)}", flush=True)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(widths, res["primal"], "o-", label="fastdnn primal")
    ax.plot(widths, res["gram"], "s-", label="fastdnn gram (setup amortised over 2500 it)")
    ax.plot(widths, res["auto"], "-", lw=6, alpha=0.3, color="k", label="fastdnn auto (default)")
    if res["torch float64"]:
        ax.plot(widths, res["torch float64"], "^--", label="PyTorch float64")
    ax.axvline(m, color="gray", ls=":")
    ax.text(m * 1.08, 0.04, "auto switches to gram\n(n_x >= m = 512)", fontsize=8, color="gray",
            transform=ax.get_xaxis_transform())
    ax.axhline(1, color="gray", lw=0.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("input width n_x of a [n_x, 20, 7, 5, 1] network, m = 512 examples")
    ax.set_ylabel("speed-up over the numpy version (x)")
    ax.set_title(f"fastdnn training speed-up, float64, {T} thread(s)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"  chart written to {os.path.relpath(path, REPO_ROOT)}")


def parse_iterations(text, base):
    its = dict(base)
    if text:
        for part in text.split(","):
            k, _, v = part.partition("=")
            if k not in its or not v.isdigit() or int(v) < 1:
                raise SystemExit(f"--iterations: expected name=count with name in {sorted(its)}, got {part!r}")
            its[k] = int(v)
    return its


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rounds, no 2500-it accuracy runs")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads for every candidate (default: all cores)")
    ap.add_argument("--rounds", type=int, default=None, help="timing rounds (min taken)")
    ap.add_argument("--iterations", default="", help="per workload, e.g. cat5=50,tall=10")
    ap.add_argument("--gram-iterations", type=int, default=2500)
    ap.add_argument("--workloads", default="cat5,cat2,tall,planar")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--chart", default=os.path.join(REPO_ROOT, "docs", "bench_speedup.png"))
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 3
    iters = parse_iterations(args.iterations, QUICK_ITERS if args.quick else DEFAULT_ITERS)
    wanted = args.workloads.split(",")

    import scipy
    blas = [f"{i['internal_api']} {i['version']} ({i['architecture']})"
            for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    from fastdnn.threads import cpu_model

    cpu = cpu_model()
    print(f"machine: {cpu}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}")
    print(f"BLAS: {'; '.join(blas)}; threads per candidate: {args.threads}; "
          f"timings: min of {args.rounds} rounds")

    Xc, Yc, tXc, tYc, source = (None,) * 5
    if "cat5" in wanted or "cat2" in wanted:
        Xc, Yc, tXc, tYc, source = cat_data()
        print(f"cat workloads use the {source}: X {Xc.shape}, m = {Xc.shape[1]}")
    work = []
    if "cat5" in wanted:
        work.append(("cat5", [12288, 20, 7, 5, 1], Xc, Yc))
    if "cat2" in wanted:
        work.append(("cat2", [12288, 7, 1], Xc, Yc))
    if "tall" in wanted:
        work.append(("tall", [784, 128, 64, 1], *tall_data()))
    if "planar" in wanted:
        work.append(("planar", [2, 4, 1], *planar_data()))

    rows = []
    results = {}
    for name, dims, X, Y in work:
        print(f"... {name} {dims}, m = {X.shape[1]}", flush=True)
        results[name] = bench_workload(name, dims, X, Y, iters[name], args, rows)

    print("\nms per iteration (float64 unless said); speed-up = numpy time / row time")
    print(f"| workload | candidate | ms/iter | vs numpy | vs torch same dtype | note |")
    print("|---|---|---:|---:|---:|---|")
    for name, label, ms, note in rows:
        r = results[name]
        npms = r.get("numpy (seed's algorithm)")
        dt = "float32" if "float32" in label else "float64"
        tms = r.get(f"torch {dt}")
        vs_np = f"{npms / ms:.1f}x" if ms == ms and npms else ""
        vs_t = f"{tms / ms:.2f}x" if (tms and ms == ms and label.startswith(("fastdnn", "numpy"))) else ""
        print(f"| {name} | {label} | {ms:.4g} | {vs_np} | {vs_t} | {note} |")

    print("\npeak traced memory (MiB, above the inputs; torch not traced)")
    for name, r in results.items():
        print(f"  {name} (auto = {r['_auto']}): " + ", ".join(f"{k} {v:.2f}" for k, v in r["_mem"].items()))

    print("\ntargets (from the ratios above)")
    for name, r in results.items():
        p64 = r.get("fastdnn primal float64" + (" (auto)" if r["_auto"] == "primal" else ""))
        a64 = r.get(f"fastdnn {r['_auto']} float64 (auto)")
        a32 = r.get(f"fastdnn {r['_auto']} float32 (auto)")
        npms = r["numpy (seed's algorithm)"]
        prod = r.get("2 products W1.X + dZ1.X^T float64")
        t64, t32 = r.get("torch float64"), r.get("torch float32")
        line = f"  {name}: auto {npms / a64:.1f}x numpy"
        if name == "cat5":
            line += f"; primal {npms / p64:.2f}x numpy (target >= 2.5), {p64 / prod:.2f}x the 2 products (target <= 1.2)"
        if t64:
            line += f"; auto vs torch float64 {t64 / a64:.2f}x"
        if t32 and a32:
            line += f"; auto float32 vs torch float32 {t32 / a32:.2f}x"
        print(line)

    if not args.quick:
        for name, dims, X, Y in work:
            if name in ("cat5", "cat2"):
                accuracy_check(name, dims, X, Y, tXc, tYc, args)
    elif Xc is not None:
        print("\n(accuracy/drift runs skipped with --quick)")

    if not args.no_chart:
        print("\nchart: speed-up vs network size")
        chart(args, args.chart)


if __name__ == "__main__":
    main()
