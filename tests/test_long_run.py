"""Long runs: 10,000+ iterations on generated data, with flat memory and the seed's result.

Two paths: the seed's own training loop written with fastdnn's public
functions (forward, cost, backward, update: what a notebook does), and
L_layer_model (the compiled engine).  Each runs a warm-up, then 12,000 more
iterations; memory is measured by tracemalloc (numpy reports its data
allocations to it) and by the resident set size.  Flat means: what is still
allocated after the run (beyond the returned values) is under 64 KiB, and the
RSS grows by less than 4 MiB, while the run allocates and frees ~1 GB in
total.  The final parameters are compared with tests/reference.py trained the
same number of iterations.
"""
import gc
import tracemalloc

import numpy as np
import pytest

import fastdnn
from tests import reference as ref

ITERATIONS = 12_000
WARMUP = 500
DIMS = [16, 8, 4, 1]


def _data(m=128, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((DIMS[0], m))
    Y = ((X[0] + 0.5 * X[1] - 0.3 * X[2] + 0.3 * rng.standard_normal(m)) > 0).astype(np.int64)
    return np.asfortranarray(X), Y[None, :]


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # pragma: no cover - not Linux


def _seed_loop(api, X, Y, parameters, n, lr=0.05):
    """The seed's L_layer_model loop body, with the functions of ``api``."""
    costs = []
    for i in range(n):
        AL, caches = api.L_model_forward(X, parameters)
        cost = api.compute_cost(AL, Y)
        grads = api.L_model_backward(AL, Y, caches)
        parameters = api.update_parameters(parameters, grads, lr)
        if i % 1000 == 0:
            costs.append(float(cost))
    return parameters, costs


def _measured(fn):
    """Run fn() under tracemalloc; (result, bytes still allocated, peak bytes, RSS growth KiB)."""
    gc.collect()
    rss0 = _rss_kib()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, after - before, peak - before, _rss_kib() - rss0


def test_seed_loop_with_fastdnn_functions_runs_flat_and_right():
    X, Y = _data()
    params = fastdnn.initialize_parameters_deep(DIMS)
    params, _ = _seed_loop(fastdnn, X, Y, params, WARMUP)
    start = {k: v.copy() for k, v in params.items()}
    (params, costs), kept, peak, rss = _measured(
        lambda: _seed_loop(fastdnn, X, Y, params, ITERATIONS))
    returned = sum(v.nbytes for v in params.values()) + 4096
    assert kept < 64 * 1024 + returned, f"{kept} bytes still allocated after {ITERATIONS} iterations"
    assert peak < 1024 * 1024, f"peak {peak} bytes above the start"
    assert rss < 4 * 1024, f"RSS grew by {rss} KiB"
    expected, expected_costs = _seed_loop(ref, X, Y, start, ITERATIONS)
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(costs, expected_costs, rtol=1e-9)
    assert costs[-1] < costs[0]                      # it learned something


@pytest.mark.parametrize("solver", ["primal", "gram"])
def test_L_layer_model_runs_flat_and_right(solver):
    X, Y = _data(m=96 if solver == "primal" else 12)   # gram where m <= n_x
    fastdnn.L_layer_model(X, Y, DIMS, learning_rate=0.05, num_iterations=WARMUP, isPlot=False,
                          solver=solver)
    params, kept, peak, rss = _measured(lambda: fastdnn.L_layer_model(
        X, Y, DIMS, learning_rate=0.05, num_iterations=ITERATIONS, isPlot=False, solver=solver))
    returned = sum(v.nbytes for v in params.values()) + 4096
    assert kept < 64 * 1024 + returned, f"{kept} bytes still allocated"
    # the trainer's buffers (activations, gradients, gram matrix) are allocated once
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"
    assert rss < 4 * 1024, f"RSS grew by {rss} KiB"
    expected, _ = ref.L_layer_model(X, Y, DIMS, learning_rate=0.05, num_iterations=ITERATIONS)
    for k in expected:
        # the engine differentiates the output layer as AL - Y and fuses the update:
        # the same arithmetic up to rounding, accumulated over 12,000 iterations
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-6, atol=1e-8, err_msg=k)
