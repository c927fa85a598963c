"""Memory of the training engine stays flat across iterations.

numpy reports its data allocations to tracemalloc, so the traced memory
covers every array the engine could allocate.  The engine allocates its
buffers once, in Trainer(...): run() must allocate nothing that grows with
the number of iterations, and nothing of X's size at any point.
"""
import gc
import tracemalloc

import numpy as np
import pytest

from fastdnn.engine import Trainer


def _setup(n_x, m, dims_tail, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n_x, m)
    Y = (rng.rand(1, m) > 0.5).astype(np.float64)
    dims = [n_x] + dims_tail
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        params[f"b{l}"] = np.zeros((dims[l], 1))
    return X, Y, params


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("solver", ["primal", "gram"])
def test_memory_flat_across_iterations(solver, dtype):
    X, Y, params = _setup(3000, 64, [16, 8, 1])
    x_bytes = X.size * np.dtype(dtype).itemsize
    t = Trainer(X, Y, params, 0.01, solver=solver, dtype=dtype, threads=1)
    t.run(20, record_every=0)                        # warm up (lazy imports, caches)
    # The property is deterministic (run() allocates nothing sized like the
    # problem), but tracemalloc sees every thread of the process; take the best
    # of three windows so that an unrelated allocation elsewhere cannot fail it.
    outcomes = []
    for _ in range(3):
        gc.collect()
        tracemalloc.start()
        try:
            t.run(50, record_every=0)
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            t.run(500, record_every=0)               # 10x the iterations
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        outcomes.append((after - base, peak - base))
        if after - base < 4096 and peak - base < min(x_bytes // 10, 64 * 1024):
            return
    pytest.fail(f"run() grew or peaked in every window: (growth, peak) bytes = {outcomes}; "
                f"X is {x_bytes} bytes")


def test_memory_flat_with_recording_and_rss():
    """With costs recorded the only growth is the returned list; RSS stays put too."""
    X, Y, params = _setup(2000, 100, [10, 1], seed=1)
    t = Trainer(X, Y, params, 0.01, threads=1)
    t.run(200)

    def rss_kib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        pytest.skip("/proc/self/status has no VmRSS")

    gc.collect()
    r0 = rss_kib()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        costs = t.run(2000, record_every=10)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del costs
    assert after - base < 200 * 64 + 4096           # 200 recorded floats in a list
    assert rss_kib() - r0 < 2048                    # under 2 MiB of RSS drift
