"""bench/bench_minibatch.py hands PyTorch, JAX and the numpy floor exactly fastdnn's batches
and measures accuracy independently of the contenders."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
bm = pytest.importorskip("bench_minibatch")


@pytest.mark.parametrize("epoch", [0, 1, 7])
@pytest.mark.parametrize("m", [1, 209, 1797])
def test_course_perm_is_the_engines(epoch, m):
    from fastdnn._core.loop import legacy_permutation_of

    np.testing.assert_array_equal(bm.course_perm(epoch, m),
                                  legacy_permutation_of(bm.SEED + 1 + epoch, m))


def test_batches_cover_the_epoch_once():
    b = bm.batches_of(1797, 32)
    assert len(b) == 57 and b[0] == (0, 32) and b[-1] == (1792, 1797)
    assert sum(e - s for s, e in b) == 1797


def test_accuracy_by_hand():
    # one linear unit: w = [1, -1], b = 0 -> predicts x0 > x1
    P = {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0], [1.0, 1.5]])
    assert bm.accuracy(P, X, np.array([1, 0, 1, 1]), "sigmoid") == 0.75
    P = {"W1": np.eye(3), "b1": np.zeros((3, 1))}
    X = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    assert bm.accuracy(P, X, np.array([1, 0]), "softmax") == 1.0
    assert bm.accuracy(P, X, np.array([2, 0]), "softmax") == 0.5


def test_fastdnn_matches_a_numpy_adam_on_the_same_batches():
    """The bench's fastdnn contender against the course's Adam written here in numpy
    (softmax, ReLU, the engine's batches): the parity the dθ column relies on."""
    rng = np.random.RandomState(0)
    m, dims = 50, [4, 5, 3]
    X = rng.rand(m, 4)
    y = rng.randint(0, 3, m)

    class W:
        pass
    w = W()
    w.Xr, w.y, w.output, w.optimizer, w.lr, w.mb = X, y, "softmax", "adam", 1e-2, 16
    w.dims, w.m = dims, m
    w.init = {"W1": rng.randn(5, 4) * 0.5, "b1": np.zeros((5, 1)),
              "W2": rng.randn(3, 5) * 0.5, "b2": np.zeros((3, 1))}
    w.batches = bm.batches_of(m, w.mb)
    f = bm.Fastdnn(w, "float64", 1)
    f.setup()                                   # trains epoch 0
    f.run(2)
    P = {k: v.copy() for k, v in w.init.items()}
    V = {k: np.zeros_like(v) for k, v in P.items()}
    S = {k: np.zeros_like(v) for k, v in P.items()}
    t = 0
    for e in range(3):
        perm = np.random.RandomState(bm.SEED + 1 + e).permutation(m)
        for s, end in w.batches:
            idx = perm[s:end]
            A0 = X[idx].T
            ms = A0.shape[1]
            Z1 = P["W1"] @ A0 + P["b1"]
            A1 = np.maximum(Z1, 0)
            Z2 = P["W2"] @ A1 + P["b2"]
            E = np.exp(Z2 - Z2.max(axis=0))
            A2 = E / E.sum(axis=0)
            Y = np.zeros((3, ms))
            Y[y[idx], np.arange(ms)] = 1
            dZ2 = (A2 - Y) / ms
            g = {"W2": dZ2 @ A1.T, "b2": dZ2.sum(axis=1, keepdims=True)}
            dZ1 = (P["W2"].T @ dZ2) * (A1 > 0)
            g["W1"] = dZ1 @ A0.T
            g["b1"] = dZ1.sum(axis=1, keepdims=True)
            t += 1
            for k in P:
                V[k] = 0.9 * V[k] + 0.1 * g[k]
                S[k] = 0.999 * S[k] + 0.001 * g[k] ** 2
                P[k] = P[k] - w.lr * (V[k] / (1 - 0.9 ** t)) / (
                    np.sqrt(S[k] / (1 - 0.999 ** t)) + 1e-8)
    assert bm.rel_diff(f.params(), P) < 1e-10
