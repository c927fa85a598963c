"""Sanity tests of the plain-numpy SPEC §5 reference (tests/reference_v2.py).

The reference is checked against sources that do not share its code:

* the seed's reference (tests/reference.py): with every default, train_v2
  must give L_layer_model's / two_layer_model's parameters and costs;
* central differences of its own cost (every loss x hidden activation x L2,
  sample weights, fixed dropout masks);
* course 2's algorithms written out literally here with numpy's global RNG
  (random_mini_batches, the optimisation model with gd / momentum / Adam and
  decay, the regularisation model with L2 and with dropout masks drawn after
  np.random.seed(1) at every iteration);
* scikit-learn itself (skipped when it is not installed): Glorot draws, SGD
  with Nesterov momentum, Adam, sample weights, every output and loss.

These tests need neither the compiled package nor the engine.
"""

import math
import warnings

import numpy as np
import pytest

from tests import reference as ref
from tests import reference_v2 as r2

HIDDEN = ("relu", "tanh", "sigmoid", "identity")


def assert_params_close(p, q, tol):
    assert sorted(p) == sorted(q)
    for k in q:
        assert p[k].shape == q[k].shape, k
        e = r2.rel_err(p[k], q[k])
        assert e <= tol, "%s: relative error %.3g > %.3g" % (k, e, tol)


# ------------------------------------------------------ seed reproduction
@pytest.mark.parametrize("dims", [[5, 4, 3, 1], [7, 6, 1], [4, 1]])
def test_defaults_reproduce_seed_L_layer_model(dims):
    X, Y, _ = r2.make_problem("sigmoid", n_x=dims[0], m=23, seed=1)
    p0, c0 = ref.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=301)
    p1, c1 = r2.train_v2(X, Y, dims, learning_rate=0.05, num_iterations=301)
    assert_params_close(p1, p0, 1e-12)
    assert len(c1) == len(c0) == 4
    np.testing.assert_allclose(c1, np.asarray(c0, dtype=float), rtol=1e-12, atol=0)


def test_defaults_reproduce_seed_two_layer_model():
    X, Y, _ = r2.make_problem("sigmoid", n_x=6, m=23, seed=2)
    p0, c0 = ref.two_layer_model(X, Y, (6, 5, 1), learning_rate=0.1, num_iterations=250)
    p1, c1 = r2.train_v2(X, Y, (6, 5, 1), learning_rate=0.1, num_iterations=250,
                         two_layer=True)
    assert_params_close(p1, p0, 1e-12)
    np.testing.assert_allclose(c1, np.asarray(c0, dtype=float), rtol=1e-12, atol=0)


def test_seed_initialisers_match_seed_reference():
    np.random.seed(1)
    p0 = ref.initialize_parameters_deep([5, 4, 3, 1])
    p1 = r2.initialize_parameters_v2([5, 4, 3, 1], "seed")
    assert_params_close(p1, p0, 0)
    np.random.seed(1)
    p0 = ref.initialize_parameters(5, 4, 2)
    p1 = r2.initialize_parameters_v2([5, 4, 2], "seed", two_layer=True)
    assert_params_close(p1, p0, 0)


# ------------------------------------------------------------ initialisers
def test_course2_initialisers_literal():
    dims = [3, 5, 2, 1]
    np.random.seed(3)
    he = {}
    for l in range(1, 4):
        he["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1])
        he["b%d" % l] = np.zeros((dims[l], 1))
    np.random.seed(3)
    rnd = {}
    for l in range(1, 4):
        rnd["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * 10
        rnd["b%d" % l] = np.zeros((dims[l], 1))
    for two in (False,):
        assert_params_close(r2.initialize_parameters_v2(dims, "he", two_layer=two), he, 0)
        assert_params_close(r2.initialize_parameters_v2(dims, "random"), rnd, 0)
    z = r2.initialize_parameters_v2(dims, "zeros")
    assert all(not v.any() for v in z.values()) and z["W2"].shape == (2, 5)
    # two-layer models use the same he/random/zeros draws
    assert_params_close(r2.initialize_parameters_v2([3, 5, 1], "he", two_layer=True),
                        r2.initialize_parameters_v2([3, 5, 1], "he"), 0)
    # course 2's published He values (init notebook, [2, 4, 1])
    p = r2.initialize_parameters_v2([2, 4, 1], "he")
    np.testing.assert_allclose(p["W1"][0], [1.78862847, 0.43650985], atol=1e-8)
    np.testing.assert_allclose(p["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]],
                               atol=1e-8)


def test_glorot_literal_and_dtype():
    dims = [5, 4, 3, 2]
    for act, f in (("relu", 6.0), ("tanh", 6.0), ("identity", 6.0), ("sigmoid", 2.0),
                   ("logistic", 2.0)):
        rs = np.random.RandomState(7)
        p = r2.initialize_parameters_v2(dims, "glorot", hidden_activation=act, seed=7)
        for l in range(1, 4):
            bound = math.sqrt(f / (dims[l - 1] + dims[l]))
            W = rs.uniform(-bound, bound, (dims[l - 1], dims[l])).T
            b = rs.uniform(-bound, bound, dims[l]).reshape(-1, 1)
            assert np.array_equal(p["W%d" % l], W) and np.array_equal(p["b%d" % l], b)
    p32 = r2.initialize_parameters_v2(dims, "glorot", seed=7, dtype="float32")
    assert all(v.dtype == np.float32 for v in p32.values())


def test_glorot_matches_sklearn():
    sk = pytest.importorskip("sklearn.neural_network")
    X, Y, _ = r2.make_problem("identity", n_x=5, m=20, n_out=2, seed=3)
    for act in ("relu", "logistic", "tanh"):
        est = sk.MLPRegressor(hidden_layer_sizes=(4, 3), activation=act, solver="sgd",
                              learning_rate_init=1e-300, momentum=0.0, max_iter=1,
                              shuffle=False, batch_size=20, random_state=11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X.T, Y.T)
        p = r2.initialize_parameters_v2([5, 4, 3, 2], "glorot",
                                        hidden_activation="sigmoid" if act == "logistic" else act,
                                        seed=11)
        for l in range(1, 4):
            assert np.array_equal(p["W%d" % l], est.coefs_[l - 1].T)
            assert np.array_equal(p["b%d" % l][:, 0], est.intercepts_[l - 1])


# ------------------------------------------------------------ loss values
def test_losses_on_hand_values():
    A = np.array([[0.8, 0.9, 0.4]])
    Y = np.array([[1, 1, 1]])
    # the seed's compute_cost fixture prints cost = 0.414931599615397 (SPEC §2)
    c = r2.step_cost(A, r2.targets_matrix(Y, "sigmoid", 1, np.float64), {}, "sigmoid")
    assert abs(c - 0.414931599615397) < 1e-15
    # clamp at -100 (course) vs clip at eps (sklearn)
    A = np.array([[0.0, 1.0]])
    Y = np.array([[1.0, 0.0]])
    assert r2.step_cost(A, Y, {}, "sigmoid") == pytest.approx(100.0)
    eps = np.finfo(np.float64).eps
    assert r2.step_cost(A, Y, {}, "sigmoid", loss_convention="sklearn") == pytest.approx(
        -math.log(eps))
    eps32 = np.finfo(np.float32).eps
    assert r2.step_cost(A.astype(np.float32), Y, {}, "sigmoid",
                        loss_convention="sklearn") == pytest.approx(-math.log(eps32), rel=1e-6)
    # softmax: integer labels and one-hot agree; clamp
    Aso = np.array([[0.2, 0.0], [0.5, 0.3], [0.3, 0.7]])
    lab = np.array([[1, 0]])
    oh = r2.targets_matrix(lab, "softmax", 3, np.float64)
    assert np.array_equal(oh, [[0, 1], [1, 0], [0, 0]])
    assert np.array_equal(r2.targets_matrix(lab[0], "softmax", 3, np.float64), oh)
    assert r2.step_cost(Aso, oh, {}, "softmax") == pytest.approx((-math.log(0.5) + 100) / 2)
    # squared error: summed (course) or averaged (sklearn) over the outputs
    Ar = np.array([[1.0, 2.0], [0.0, 0.0]])
    Yr = np.array([[0.0, 0.0], [2.0, 2.0]])
    assert r2.step_cost(Ar, Yr, {}, "identity") == pytest.approx((0.5 * 1 + 0.5 * 4 + 2 + 2) / 2)
    assert r2.step_cost(Ar, Yr, {}, "identity", loss_convention="sklearn") == pytest.approx(
        (0.5 * 1 + 0.5 * 4 + 2 + 2) / 4)
    # half Poisson deviance, y = 0 term is mu
    Ap = np.array([[2.0, 0.5]])
    Yp = np.array([[3.0, 0.0]])
    want = ((3 * math.log(3 / 2) - 3 + 2) + 0.5) / 2
    assert r2.step_cost(Ap, Yp, {}, "exp") == pytest.approx(want)
    # L2 term and sample weights: sum w l / sum w + lambd / (2 sum w) sum ||W||^2
    params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([[5.0]])}
    w = np.array([1.0, 3.0])
    c = r2.step_cost(Ar, Yr, params, "identity", lambd=0.5, sample_weight=w)
    assert c == pytest.approx((1 * 2.5 + 3 * 4) / 4 + 0.5 / 8 * 5)


def test_sklearn_loss_functions_agree():
    base = pytest.importorskip("sklearn.neural_network._base")
    rs = np.random.RandomState(0)
    w = rs.rand(9) + 0.1
    P = 1 / (1 + np.exp(-3 * rs.randn(2, 9)))
    P[0, 0] = 1.0
    P[1, 1] = 0.0
    Yb = (rs.rand(2, 9) < 0.5).astype(float)
    for sw in (None, w):
        assert r2.step_cost(P, Yb, {}, "sigmoid", loss_convention="sklearn",
                            sample_weight=sw) == pytest.approx(
            base.binary_log_loss(Yb.T, P.T, sw), rel=1e-13)
        S = r2.output_forward(rs.randn(3, 9), "softmax")
        lab = rs.randint(0, 3, (1, 9))
        oh = r2.targets_matrix(lab, "softmax", 3, np.float64)
        assert r2.step_cost(S, oh, {}, "softmax", loss_convention="sklearn",
                            sample_weight=sw) == pytest.approx(
            base.log_loss(oh.T, S.T, sw), rel=1e-13)
        A = rs.randn(2, 9)
        Yr = rs.randn(2, 9)
        assert r2.step_cost(A, Yr, {}, "identity", loss_convention="sklearn",
                            sample_weight=sw) == pytest.approx(
            base.squared_loss(Yr.T, A.T, sw), rel=1e-13)
        mu = np.exp(rs.randn(2, 9))
        Yp = rs.poisson(1.0, (2, 9)).astype(float)
        for conv in ("course", "sklearn"):
            assert r2.step_cost(mu, Yp, {}, "exp", loss_convention=conv,
                                sample_weight=sw) == pytest.approx(
                base.poisson_loss(Yp.T, mu.T, sw), rel=1e-13)


# --------------------------------------------------------- gradient checks
_numeric_grads = r2.numeric_grads
gradcheck_problem = r2.gradcheck_problem


def _flat(g, keys):
    return np.concatenate([g[k].ravel() for k in keys])


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", r2.OUTPUTS)
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_reference_gradients_central_differences(output, hidden, lambd):
    X, Y, p = gradcheck_problem(output, hidden)
    kw = dict(hidden_activation=hidden, output=output, lambd=lambd)
    cost, g = r2.loss_and_gradients_ref(X, Y, p, **kw)
    num = _numeric_grads(lambda q: r2.loss_and_gradients_ref(X, Y, q, **kw)[0], p, 1e-6)
    keys = sorted(g)
    a, b = _flat(g, keys), _flat(num, keys)
    rel = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
    assert rel < 1e-7, rel


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "exp"])
def test_reference_gradients_sample_weights_masks_sklearn(output):
    X, Y, p = gradcheck_problem(output, "tanh", seed=5)
    w = np.random.RandomState(1).rand(X.shape[1]) * 2
    masks = [np.random.RandomState(2).rand(5, X.shape[1]) < 0.7,
             np.random.RandomState(3).rand(3, X.shape[1]) < 0.7]
    for kw in (dict(sample_weight=w, lambd=0.3),
               dict(dropout_masks=masks, keep_prob=0.7),
               dict(loss_convention="sklearn", sample_weight=w, lambd=0.2)):
        kw.update(hidden_activation="tanh", output=output)
        _, g = r2.loss_and_gradients_ref(X, Y, p, **kw)
        num = _numeric_grads(lambda q: r2.loss_and_gradients_ref(X, Y, q, **kw)[0], p, 1e-6)
        keys = sorted(g)
        a, b = _flat(g, keys), _flat(num, keys)
        rel = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
        assert rel < 1e-7, (kw.keys(), rel)


# ------------------------------------------------ course 2, written literally
def _course_random_mini_batches(X, Y, size, seed):
    np.random.seed(seed)
    m = X.shape[1]
    perm = list(np.random.permutation(m))
    Xs, Ys = X[:, perm], Y[:, perm].reshape((1, m))
    out = []
    for k in range(0, m, size):
        out.append((Xs[:, k:k + size], Ys[:, k:k + size]))
    return out


def _course_optimization_model(X, Y, dims, optimizer, lr, size, epochs, decay=None,
                               decay_rate=1, beta=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """Course 2's optimisation model (global RNG, relu/sigmoid, He init)."""
    L = len(dims) - 1
    np.random.seed(3)
    P = {}
    for l in range(1, L + 1):
        P["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        P["b%d" % l] = np.zeros((dims[l], 1))
    v = {"d" + k: np.zeros_like(x) for k, x in P.items()}
    s = {"d" + k: np.zeros_like(x) for k, x in P.items()}
    t, seed, m, lr0, costs = 0, 10, X.shape[1], lr, []
    for i in range(epochs):
        seed += 1
        total = 0.0
        for bx, by in _course_random_mini_batches(X, Y, size, seed):
            a = [bx]
            for l in range(1, L + 1):
                z = P["W%d" % l] @ a[-1] + P["b%d" % l]
                a.append(np.maximum(0, z) if l < L else 1 / (1 + np.exp(-z)))
            total += np.sum(-np.log(a[L]) * by - np.log(1 - a[L]) * (1 - by))
            mb = bx.shape[1]
            dz = 1.0 / mb * (a[L] - by)
            g = {}
            for l in range(L, 0, -1):
                g["dW%d" % l] = dz @ a[l - 1].T
                g["db%d" % l] = np.sum(dz, axis=1, keepdims=True)
                if l > 1:
                    da = P["W%d" % l].T @ dz
                    dz = da * (a[l - 1] > 0)
            if optimizer == "adam":
                t += 1
            for k in list(P):
                d = g["d" + k]
                if optimizer == "gd":
                    P[k] = P[k] - lr * d
                elif optimizer == "momentum":
                    v["d" + k] = beta * v["d" + k] + (1 - beta) * d
                    P[k] = P[k] - lr * v["d" + k]
                else:
                    v["d" + k] = beta1 * v["d" + k] + (1 - beta1) * d
                    vc = v["d" + k] / (1 - beta1 ** t)
                    s["d" + k] = beta2 * s["d" + k] + (1 - beta2) * np.power(d, 2)
                    sc = s["d" + k] / (1 - beta2 ** t)
                    P[k] = P[k] - lr * vc / (np.sqrt(sc) + eps)
        if decay:
            lr = decay(lr0, i, decay_rate)
        if i % 100 == 0:
            costs.append(total / m)
    return P, costs


@pytest.mark.parametrize("optimizer,lr,decay", [
    ("gd", 0.1, None), ("momentum", 0.05, None), ("adam", 0.01, None),
    ("gd", 0.1, r2.update_lr), ("adam", 0.01, r2.schedule_lr_decay)])
def test_course2_optimization_model(optimizer, lr, decay):
    X, Y, _ = r2.make_problem("sigmoid", n_x=2, m=75, seed=4)
    kw = dict(decay_rate=0.3) if decay else {}
    p0, c0 = _course_optimization_model(X, Y, [2, 5, 2, 1], optimizer, lr, 16, 201,
                                        decay=decay, **kw)
    p1, c1 = r2.train_v2(X, Y, [2, 5, 2, 1], learning_rate=lr, num_iterations=201,
                         initialization="he", optimizer=optimizer, mini_batch_size=16,
                         decay=decay, **kw)
    assert_params_close(p1, p0, 1e-10)
    np.testing.assert_allclose(c1, c0, rtol=1e-10)


def test_random_mini_batches_course_stream():
    """Course 2's random_mini_batches(X, Y, 5, seed) draws RandomState(seed).permutation(m)
    and slices it consecutively (5, 5, 3 for m = 13): the stream train_v2 uses."""
    X = np.arange(2 * 13, dtype=float).reshape(2, 13)
    Y = np.arange(13, dtype=float).reshape(1, 13)
    batches = _course_random_mini_batches(X, Y, 5, 10 + 1 + 2)
    assert [b[0].shape[1] for b in batches] == [5, 5, 3]
    perm = np.random.RandomState(13).permutation(13)
    assert np.array_equal(np.concatenate([b[1][0] for b in batches]), perm)


def _course_regularization_model(X, Y, lr, iters, lambd=0.0, keep_prob=1.0):
    """Course 2's regularisation model, [n_x, 20, 3, 1]; with dropout the masks
    come from np.random.seed(1) on every forward pass (the same every iteration)."""
    dims = [X.shape[0], 20, 3, 1]
    np.random.seed(3)
    P = {}
    for l in range(1, 4):
        P["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        P["b%d" % l] = np.zeros((dims[l], 1))
    m = X.shape[1]
    costs = []
    for i in range(iters):
        if keep_prob < 1:
            np.random.seed(1)
        a, D = [X], [None]
        for l in (1, 2):
            z = P["W%d" % l] @ a[-1] + P["b%d" % l]
            A = np.maximum(0, z)
            if keep_prob < 1:
                d = (np.random.rand(A.shape[0], A.shape[1]) < keep_prob).astype(int)
                A = A * d / keep_prob
                D.append(d)
            a.append(A)
        a3 = 1 / (1 + np.exp(-(P["W3"] @ a[2] + P["b3"])))
        cost = 1.0 / m * np.nansum(-np.log(a3) * Y - np.log(1 - a3) * (1 - Y))
        cost += lambd / (2 * m) * sum(np.sum(np.square(P["W%d" % l])) for l in (1, 2, 3))
        dz = a3 - Y
        g = {}
        for l in (3, 2, 1):
            g["W%d" % l] = 1.0 / m * dz @ a[l - 1].T + lambd / m * P["W%d" % l]
            g["b%d" % l] = 1.0 / m * np.sum(dz, axis=1, keepdims=True)
            if l > 1:
                da = P["W%d" % l].T @ dz
                if keep_prob < 1:
                    da = da * D[l - 1] / keep_prob
                dz = da * (a[l - 1] > 0)
        P = {k: P[k] - lr * g[k] for k in P}
        if i % 100 == 0:
            costs.append(cost)
    return P, costs


@pytest.mark.parametrize("lambd,keep_prob", [(0.7, 1.0), (0.0, 0.86)])
def test_course2_regularization_model(lambd, keep_prob):
    X, Y, _ = r2.make_problem("sigmoid", n_x=2, m=40, seed=6)
    p0, c0 = _course_regularization_model(X, Y, 0.3, 301, lambd, keep_prob)
    masks = None
    if keep_prob < 1:
        np.random.seed(1)
        masks = [np.random.rand(20, 40) < keep_prob, np.random.rand(3, 40) < keep_prob]
    p1, c1 = r2.train_v2(X, Y, [2, 20, 3, 1], learning_rate=0.3, num_iterations=301,
                         lambd=lambd, keep_prob=keep_prob, dropout_masks=masks)
    assert_params_close(p1, p0, 1e-10)
    np.testing.assert_allclose(c1, c0, rtol=1e-10)


# --------------------------------------------------------- dropout stream
def test_dropout_masks_come_from_one_pcg64_stream():
    """Two epochs of mini-batches, gd: rebuilt by hand from the stated stream."""
    X, Y, _ = r2.make_problem("sigmoid", n_x=3, m=10, seed=7)
    dims = [3, 4, 2, 1]
    p1, _ = r2.train_v2(X, Y, dims, learning_rate=0.2, num_iterations=2, mini_batch_size=4,
                        keep_prob=0.6, seed=5)
    rng = np.random.Generator(np.random.PCG64(5))
    P = r2.initialize_parameters_v2(dims, "seed")
    for e in range(2):
        perm = np.random.RandomState(5 + 1 + e).permutation(10)
        for k in range(0, 10, 4):
            idx = perm[k:k + 4]
            masks = [rng.random((4, len(idx))) < 0.6, rng.random((2, len(idx))) < 0.6]
            _, g = r2.loss_and_gradients_ref(X[:, idx], Y[:, idx], P, dropout_masks=masks,
                                             keep_prob=0.6)
            P = {k2: P[k2] - 0.2 * g["d" + k2] for k2 in P}
    assert_params_close(p1, P, 1e-14)


def test_decay_applies_after_each_epoch():
    X, Y, _ = r2.make_problem("identity", n_x=3, m=8, seed=8)
    seen = []

    def decay(lr0, epoch, rate):
        seen.append(epoch)
        return lr0 / (1 + rate * epoch)

    p1, _ = r2.train_v2(X, Y, [3, 3, 2], output="identity", learning_rate=0.1,
                        num_iterations=4, decay=decay, decay_rate=2.0)
    assert seen == [0, 1, 2, 3]
    P = r2.initialize_parameters_v2([3, 3, 2], "seed")
    lrs = [0.1, 0.1 / 1, 0.1 / 3, 0.1 / 5]
    for lr in lrs:
        _, g = r2.loss_and_gradients_ref(X, Y, P, output="identity")
        P = {k: P[k] - lr * g["d" + k] for k in P}
    assert_params_close(p1, P, 1e-14)


def test_float32_reference_stays_float32_and_near_float64():
    X, Y, _ = r2.make_problem("softmax", seed=9)
    kw = dict(learning_rate=0.01, num_iterations=30, hidden_activation="tanh",
              output="softmax", optimizer="adam", mini_batch_size=7, record_every=1)
    p32, c32 = r2.train_v2(X, Y, [5, 4, 3, 3], dtype="float32", **kw)
    p64, c64 = r2.train_v2(X, Y, [5, 4, 3, 3], dtype="float64", **kw)
    assert all(v.dtype == np.float32 for v in p32.values())
    assert_params_close(p32, p64, 1e-4)
    np.testing.assert_allclose(c32, c64, rtol=1e-5)


# ------------------------------------------------------------ scikit-learn
def _sk_fit(kind, X, Y, *, hidden, solver, lr, alpha, batch, epochs, seed, sw=None,
            shuffle=False, loss=None, **extra):
    sk = pytest.importorskip("sklearn.neural_network")
    common = dict(hidden_layer_sizes=(4, 3), activation=hidden, solver=solver,
                  learning_rate_init=lr, alpha=alpha, batch_size=batch, max_iter=epochs,
                  shuffle=shuffle, random_state=seed, tol=0.0, n_iter_no_change=epochs + 5,
                  **extra)
    if kind == "classifier":
        est = sk.MLPClassifier(**common)
    else:
        est = sk.MLPRegressor(loss=loss or "squared_error", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X.T, Y, sample_weight=sw)
    params = {}
    for l, (W, b) in enumerate(zip(est.coefs_, est.intercepts_), start=1):
        params["W%d" % l] = W.T
        params["b%d" % l] = b.reshape(-1, 1)
    return est, params


SK_CASES = [
    # kind, output, n_out, sklearn target builder, sklearn loss
    ("classifier", "sigmoid", 1, None),
    ("classifier", "sigmoid", 3, None),       # multi-label
    ("classifier", "softmax", 3, None),
    ("regressor", "identity", 2, "squared_error"),
    ("regressor", "exp", 2, "poisson"),
]


@pytest.mark.parametrize("kind,output,n_out,loss", SK_CASES)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sklearn_flavours_match_sklearn(kind, output, n_out, loss, solver):
    pytest.importorskip("sklearn")
    X, Y, n_out = r2.make_problem(output, n_x=5, m=23, n_out=n_out, seed=12)
    w = np.random.RandomState(3).rand(23) * 2 + 0.1
    hidden = {"sigmoid": "relu", "softmax": "tanh", "identity": "logistic",
              "exp": "relu"}[output]
    y_sk = Y[0] if output == "softmax" else (Y[0] if n_out == 1 else Y.T)
    for batch, sw, alpha in ((7, None, 0.0), (23, w, 0.3), (5, w, 0.0)):
        lr = 0.05 if solver == "sgd" else 0.01
        est, p_sk = _sk_fit(kind, X, y_sk, hidden=hidden, solver=solver, lr=lr, alpha=alpha,
                            batch=batch, epochs=12, seed=4, sw=sw, loss=loss,
                            momentum=0.8, nesterovs_momentum=(batch != 7))
        p, costs = r2.train_v2(
            X, Y, [5, 4, 3, n_out], learning_rate=lr, num_iterations=12,
            hidden_activation="sigmoid" if hidden == "logistic" else hidden, output=output,
            initialization="glorot", seed=4,
            optimizer="sgd" if solver == "sgd" else "adam_sklearn",
            momentum=0.8, nesterov=(batch != 7), mini_batch_size=batch, shuffle="none",
            lambd=alpha, loss_convention="sklearn", sample_weight=sw, record_every=1)
        assert_params_close(p, p_sk, 1e-10)
        np.testing.assert_allclose(costs, est.loss_curve_, rtol=1e-10)


def test_sklearn_shuffle_as_external_perms():
    pytest.importorskip("sklearn")
    from sklearn.utils import shuffle as sk_shuffle
    X, Y, _ = r2.make_problem("softmax", n_x=5, m=23, seed=13)
    est, p_sk = _sk_fit("classifier", X, Y[0], hidden="relu", solver="adam", lr=0.01,
                        alpha=1e-4, batch=6, epochs=8, seed=21, shuffle=True)
    rs = np.random.RandomState(21)
    r2.initialize_parameters_v2([5, 4, 3, 3], "glorot", seed=21)  # document the draws
    for l, (fi, fo) in enumerate([(5, 4), (4, 3), (3, 3)]):
        b = math.sqrt(6 / (fi + fo))
        rs.uniform(-b, b, (fi, fo))
        rs.uniform(-b, b, fo)
    idx = np.arange(23)
    perms = []
    for _ in range(8):
        idx = sk_shuffle(idx, random_state=rs)
        perms.append(idx)
    p, costs = r2.train_v2(X, Y, [5, 4, 3, 3], learning_rate=0.01, num_iterations=8,
                           hidden_activation="relu", output="softmax",
                           initialization="glorot", seed=21, optimizer="adam_sklearn",
                           mini_batch_size=6, shuffle="external", perms=perms, lambd=1e-4,
                           loss_convention="sklearn", record_every=1)
    assert_params_close(p, p_sk, 1e-10)
    np.testing.assert_allclose(costs, est.loss_curve_, rtol=1e-10)
