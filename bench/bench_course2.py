"""Course 2 and the English Application notebook: each headline run through
fastdnn's drop-in modules against the independent numpy version of the
course's code (tests/course2_reference.py), side by side in one process.

    FASTDNN_DATA=/path/to/datasets .venv/bin/python bench/bench_course2.py [--quick]

Prints, per run: numpy ms, fastdnn ms, ratio (numpy / fastdnn), best of
``--repeat`` rounds for fastdnn and one round for numpy (the numpy runs take
seconds).  The numpy version runs with BLAS on ``--blas-threads`` threads
(default 1; 0: BLAS's own default); fastdnn as a user gets it, on the threads
its rules choose from the cores there are (``--threads N``: at most N, as
``FASTDNN_NUM_THREADS``; ``--threads 1``: one).  ``--quick`` skips the two
2500-iteration cat runs.  Printing of the models goes to /dev/null.  Runs whose
data are missing are skipped with a note.
"""
import argparse
import contextlib
import io
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fastdnn import dnn_app_utils_v3 as v3  # noqa: E402
from fastdnn.course2 import gradient_checking as gc  # noqa: E402
from fastdnn.course2 import initialization as ini  # noqa: E402
from fastdnn.course2 import optimization as opt  # noqa: E402
from fastdnn.course2 import regularization as reg  # noqa: E402
from fastdnn.course2 import testcases as tc  # noqa: E402
from tests import course2_reference as ref  # noqa: E402


def timed(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best * 1e3


def data_dir():
    return os.environ.get("FASTDNN_DATA") or os.path.join(os.path.dirname(HERE), os.pardir,
                                                         "shared", "datasets")


def runs(quick):
    X, Y, _, _ = ini.load_dataset()
    for kind in ("zeros", "random", "he"):
        yield ("init %s (15000 it)" % kind,
               lambda k=kind: ini.model(X, Y, initialization=k),
               lambda k=kind: ref.run_initialization(X, Y, k))
    mat = os.path.join(data_dir(), "course2", "data.mat")
    if os.path.isfile(mat):
        rX, rY, _, _ = reg.load_2D_dataset(mat)
        for name, kw in (("baseline", {}), ("L2 0.7", {"lambd": 0.7}),
                         ("dropout 0.86", {"keep_prob": 0.86})):
            yield ("reg %s (30000 it)" % name,
                   lambda kw=kw: reg.model(rX, rY, **kw),
                   lambda kw=kw: ref.run_regularization(rX, rY, **kw))
    else:
        print("skipped regularization: %s not found (set FASTDNN_DATA)" % mat)
    x, y, p = tc.gradient_check_n_test_case()
    _, cache = gc.forward_propagation_n(x, y, p)
    for buggy in (True, False):
        grads = gc.backward_propagation_n(x, y, cache, buggy=buggy)
        yield ("gradient check N-D%s" % (" (bugs)" if buggy else ""),
               lambda g=grads: gc.gradient_check_n(p, g, x, y, 1e-7, True),
               lambda b=buggy: ref.nd_difference(x, y, p, ref.nd_gradients(x, y, p, b)))
    mX, mY = opt.load_dataset()
    decays = {None: None, "update_lr": opt.update_lr, "schedule": opt.schedule_lr_decay}
    for optimizer, lr, decay in (("gd", 0.0007, None), ("momentum", 0.0007, None),
                                 ("adam", 0.0007, None), ("gd", 0.1, "update_lr"),
                                 ("gd", 0.1, "schedule"), ("momentum", 0.1, "schedule"),
                                 ("adam", 0.01, "schedule")):
        yield ("opt %s lr %g%s (5000 ep)" % (optimizer, lr, " " + decay if decay else ""),
               lambda o=optimizer, r=lr, d=decay: opt.model(
                   mX, mY, [2, 5, 2, 1], o, learning_rate=r, decay=decays[d]),
               lambda o=optimizer, r=lr, d=decay: ref.run_optimization(
                   mX, mY, [2, 5, 2, 1], o, learning_rate=r, decay=d))
    if quick:
        return
    try:
        tx, ty, _, _, _ = v3.load_data(data_dir())
    except FileNotFoundError as exc:
        print("skipped the cat runs: %s" % exc)
        return
    tx = tx.reshape(tx.shape[0], -1).T / 255
    yield ("v3 two_layer (12288,7,1) 2500 it",
           lambda: v3.two_layer_model(tx, ty, (12288, 7, 1), num_iterations=2500),
           lambda: ref.run_app(tx, ty, ref.init_app_two(12288, 7, 1), 0.0075, 2500))
    dims = [12288, 20, 7, 5, 1]
    yield ("v3 L_layer [12288,20,7,5,1] 2500 it",
           lambda: v3.L_layer_model(tx, ty, dims, num_iterations=2500),
           lambda: ref.run_app(tx, ty, ref.init_app_deep(dims), 0.0075, 2500))


def _ms(ms):
    """Milliseconds to about three significant digits (runs take 0.1 ms to 13 s)."""
    return "%.0f" % ms if ms >= 100 else "%.1f" % ms if ms >= 10 else "%.3g" % ms


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 2500-iteration cat runs")
    ap.add_argument("--repeat", type=int, default=3, help="fastdnn rounds (best of)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads of the numpy runs (default 1: their products are "
                    "too small for OpenBLAS to split, and on a shared machine its "
                    "multi-threaded latencies swing with the other load; 0: BLAS's default)")
    ap.add_argument("--threads", type=int, default=None,
                    help="fastdnn's threads at most (default: its rules, every core)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits
    from fastdnn import threads as fd_threads
    if args.threads is not None:
        os.environ[fd_threads.ENV_VAR] = str(args.threads)
    print("numpy: BLAS on %s thread(s); fastdnn: %s (%d cores here)" % (
        args.blas_threads or "its default", "at most %d thread(s)" % args.threads
        if args.threads else "its rules' threads", fd_threads.available_cores()))
    print("%-40s %12s %12s %8s" % ("run", "numpy ms", "fastdnn ms", "ratio"))
    def numpy_limit():
        # (threadpoolctl applies a limit when it is made: a new one for each run)
        return (threadpool_limits(limits=args.blas_threads, user_api="blas")
                if args.blas_threads else contextlib.nullcontext())

    for name, ours, theirs in runs(args.quick):
        t_ours = timed(ours, args.repeat)
        with numpy_limit():
            t_ref = timed(theirs, 1)
        print("%-40s %12s %12s %8.1f" % (name, _ms(t_ref), _ms(t_ours), t_ref / t_ours))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
