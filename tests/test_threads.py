"""Several Python threads calling fastdnn at once get the single-threaded results.

The compiled kernels release the GIL for large enough work (more than 32768
multiply-adds, or 16384 elements elementwise), so these tests use arrays well
above those sizes: the threads then really run the kernels and BLAS
simultaneously, on shared read-only inputs and on inputs of their own, in
float64 and float32, with shapes that differ from thread to thread (so that a
mix-up of buffers between threads could not go unnoticed).

Each task is first run alone; then 4 threads run all the tasks, many times, in
different orders, started together by a barrier.  Every result must equal the
task's single-threaded result (to 1e-12 relative for float64, 1e-5 for
float32: BLAS may split a product between its own threads differently when
several callers are active) and tests/reference.py's.
"""
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastdnn
from tests import reference as ref

N_THREADS = 4
ROUNDS = 3


def _task_data(seed, dtype, n_x, hidden, m):
    rng = np.random.default_rng(seed)
    dims = [n_x] + hidden + [1]
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = (rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])).astype(dtype)
        params[f"b{l}"] = (rng.standard_normal((dims[l], 1)) * 0.1).astype(dtype)
    X = rng.standard_normal((n_x, m)).astype(dtype)
    Y = (rng.random((1, m)) < 0.5).astype(np.int64)
    Z = (rng.standard_normal((hidden[0] * 3, m)) * 3).astype(dtype)   # > 16384 elements
    return X, Y, params, Z


def _step(X, Y, params, Z):
    """Everything public, once: activations, one layer, the model, cost, grads, update."""
    out = {}
    out["sigmoid"] = fastdnn.sigmoid(Z)[0]
    out["relu"] = fastdnn.relu(Z)[0]
    out["sigmoid_backward"] = fastdnn.sigmoid_backward(Z, Z)
    out["relu_backward"] = fastdnn.relu_backward(Z, Z)
    out["linear_forward"] = fastdnn.linear_forward(X, params["W1"], params["b1"])[0]
    AL, caches = fastdnn.L_model_forward(X, params)
    out["AL"] = AL
    out["cost"] = fastdnn.compute_cost(AL, Y)
    grads = fastdnn.L_model_backward(AL, Y, caches)
    out.update({"grad_" + k: v for k, v in grads.items()})
    new = fastdnn.update_parameters(dict(params), grads, 0.05)
    out.update({"new_" + k: v for k, v in new.items()})
    return out


def _reference_step(X, Y, params, Z):
    out = {"sigmoid": ref.sigmoid(Z)[0], "relu": ref.relu(Z)[0],
           "sigmoid_backward": ref.sigmoid_backward(Z, Z), "relu_backward": ref.relu_backward(Z, Z),
           "linear_forward": ref.linear_forward(X, params["W1"], params["b1"])[0]}
    AL, caches = ref.L_model_forward(X, params)
    out["AL"] = AL
    out["cost"] = ref.compute_cost(AL, Y)
    grads = ref.L_model_backward(AL, Y, caches)
    out.update({"grad_" + k: v for k, v in grads.items()})
    out.update({"new_" + k: v for k, v in ref.update_parameters(params, grads, 0.05).items()})
    return out


TASKS = [  # (seed, dtype, n_x, hidden, m): each above the GIL-release sizes
    (1, np.float64, 150, [40, 16], 200),
    (2, np.float32, 129, [48, 8], 171),
    (3, np.float64, 100, [64], 256),
    (4, np.float32, 160, [32, 32, 8], 130),
    (5, np.float64, 120, [50, 20], 151),
]


def _close(got, expected, dtype, what):
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    atol = rtol * max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


def test_public_functions_from_four_threads_at_once():
    data = [_task_data(*t) for t in TASKS]
    alone = [_step(*d) for d in data]
    # the single-threaded results are right (so that agreeing with them means something)
    for t, d, res in zip(TASKS, data, alone):
        expected = _reference_step(*d)
        for k in expected:
            _close(res[k], expected[k], t[1], f"task {t[0]} {k} (single-threaded)")

    barrier = threading.Barrier(N_THREADS)

    def worker(w):
        barrier.wait()
        rng = np.random.default_rng(100 + w)
        seen = []
        for _ in range(ROUNDS):
            for i in rng.permutation(len(TASKS)):
                seen.append((i, _step(*data[i])))
        return seen

    with ThreadPoolExecutor(N_THREADS) as pool:
        results = list(pool.map(worker, range(N_THREADS)))
    calls = 0
    for seen in results:
        for i, res in seen:
            calls += 1
            for k, v in alone[i].items():
                assert res[k].dtype == v.dtype and res[k].shape == v.shape, (i, k)
                _close(res[k], v, TASKS[i][1], f"task {TASKS[i][0]} {k} in a thread")
    assert calls == N_THREADS * ROUNDS * len(TASKS)


def test_shared_inputs_are_never_written():
    """Four threads reading the same arrays: the arrays stay as they were."""
    X, Y, params, Z = _task_data(7, np.float64, 150, [64], 200)
    for a in (X, Z, *params.values()):
        a.flags.writeable = False            # a write would raise, not corrupt silently
    copies = {k: v.copy() for k, v in params.items()}
    expected = _step(X, Y, params, Z)
    barrier = threading.Barrier(N_THREADS)

    def worker(_):
        barrier.wait()
        return [_step(X, Y, params, Z) for _ in range(ROUNDS)]

    with ThreadPoolExecutor(N_THREADS) as pool:
        for outs in pool.map(worker, range(N_THREADS)):
            for out in outs:
                for k, v in expected.items():
                    _close(out[k], v, np.float64, k)
    for k, v in copies.items():
        np.testing.assert_array_equal(params[k], v)


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_training_in_four_threads_matches_training_alone(dtype):
    """Four models trained at once (the engine releases the GIL in its loop)."""
    jobs = [_task_data(20 + j, np.float64, 120, [24, 6], 160 + 20 * j)[:2] for j in range(N_THREADS)]

    def train(job):
        X, Y = job
        return fastdnn.L_layer_model(X, Y, [X.shape[0], 24, 6, 1], learning_rate=0.05,
                                     num_iterations=60, isPlot=False, dtype=dtype)

    alone = [train(job) for job in jobs]
    barrier = threading.Barrier(N_THREADS)

    def worker(j):
        barrier.wait()
        return train(jobs[j])

    with ThreadPoolExecutor(N_THREADS) as pool:
        together = list(pool.map(worker, range(N_THREADS)))
    t = np.float32 if dtype else np.float64
    for a, b in zip(alone, together):
        for k in a:
            _close(b[k], a[k], t, k)


def test_initialisers_in_threads_draw_the_seeds_values():
    """The seed's initialisers seed and draw from numpy's *global* RNG; two threads
    interleaving seed(3) and randn would get each other's draws.  fastdnn holds one
    lock (fastdnn.layers.RNG_LOCK) around seed + draws.  A tiny switch interval
    makes the interleaving likely: without the lock, about 1 call in 300 went wrong."""
    import sys
    from tests.reference import initialize_parameters_deep as ref_init
    expected = ref_init([50, 30, 20, 1])
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    barrier = threading.Barrier(N_THREADS)

    def worker(w):
        barrier.wait()
        wrong = 0
        for _ in range(250):
            p = fastdnn.initialize_parameters_deep([50, 30, 20, 1])
            wrong += any(not np.array_equal(p[k], expected[k]) for k in expected)
        return wrong

    try:
        with ThreadPoolExecutor(N_THREADS) as pool:
            wrong = sum(pool.map(worker, range(N_THREADS)))
    finally:
        sys.setswitchinterval(old)
    assert wrong == 0, f"{wrong} of {250 * N_THREADS} initialisations got another thread's draws"


def test_overlapping_limits_from_many_threads_restore_the_counts():
    """BLAS's thread count is one setting per process: limits entered and left in any
    interleaving by many threads leave it as it was (a caller's own threadpool_limits
    included), and inside any of them BLAS runs on one of the counts asked for."""
    import random
    from threadpoolctl import threadpool_limits
    from fastdnn import threads

    def counts():
        return [lc.num_threads for lc in threads._get_controller().lib_controllers
                if lc.user_api == "blas"]

    start = threading.Barrier(8)
    seen = []

    def worker(seed):
        rng = random.Random(seed)
        start.wait()
        for _ in range(50):
            n = rng.choice((1, 2))
            with threads.limit(n):
                seen.extend(counts())
                if rng.random() < 0.5:
                    with threads.limit(3 - n):          # nested, the other count
                        seen.extend(counts())

    for outer in (None, 1):
        ctx = threadpool_limits(outer) if outer else contextlib.nullcontext()
        with ctx:
            before = counts()
            ts = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert counts() == before
    assert set(seen) <= {1, 2}
