"""fastdnn.course2: the student functions, helpers and fixtures of the four
course-2 assignments (COURSE2.md sections 1-6).

Expected values come from the course's own printed / public-test outputs
(typed here as numbers) and from tests/course2_reference.py, an independent
numpy version of the formulas.  Generated data are compared with
scikit-learn itself where it is installed.
"""
import os

import numpy as np
import pytest

from fastdnn.course2 import datasets as ds
from fastdnn.course2 import gradient_checking as gc
from fastdnn.course2 import initialization as ini
from fastdnn.course2 import optimization as opt
from fastdnn.course2 import regularization as reg
from fastdnn.course2 import testcases as tc
from tests import course2_reference as ref

try:
    import sklearn.datasets as skd
except ImportError:  # pragma: no cover
    skd = None

needs_sklearn = pytest.mark.skipif(
    skd is None, reason="scikit-learn is not installed (pip install scikit-learn): the "
    "generators are compared with scikit-learn's own output")


def close(a, b, tol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=0, atol=tol)


def rng_key():
    return np.random.get_state()[1].copy(), np.random.get_state()[2]


def same_rng(a, b):
    return np.array_equal(a[0], b[0]) and a[1] == b[1]


# ------------------------------------------------------------------ datasets
@needs_sklearn
@pytest.mark.parametrize("n", [1, 2, 3, 10, 100, 300, 301])
@pytest.mark.parametrize("noise", [None, 0.05, 0.2])
@pytest.mark.parametrize("shuffle", [True, False])
def test_generators_bit_for_bit_with_sklearn(n, noise, shuffle):
    for ours, theirs, extra in ((ds.make_circles, skd.make_circles, {"factor": 0.5}),
                                (ds.make_circles, skd.make_circles, {}),
                                (ds.make_moons, skd.make_moons, {})):
        np.random.seed(7)
        X1, y1 = ours(n, shuffle=shuffle, noise=noise, **extra)
        s1 = rng_key()
        np.random.seed(7)
        X2, y2 = theirs(n, shuffle=shuffle, noise=noise, **extra)
        s2 = rng_key()
        assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
        assert X1.dtype == X2.dtype and y1.dtype == y2.dtype and y1.shape == y2.shape
        assert same_rng(s1, s2)          # the global generator advanced alike
        for rs in (0, 123, np.random.RandomState(5)):
            a = ours(n, shuffle=shuffle, noise=noise, random_state=rs, **extra)
            rs2 = np.random.RandomState(5) if isinstance(rs, np.random.RandomState) else rs
            b = theirs(n, shuffle=shuffle, noise=noise, random_state=rs2, **extra)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_generators_without_sklearn_shapes_and_errors():
    X, y = ds.make_circles(300, noise=.05, random_state=1)
    assert X.shape == (300, 2) and y.shape == (300,) and y.dtype == np.intp
    assert y.sum() == 150
    X, y = ds.make_moons(5, shuffle=False)
    close(X[:2], [[1, 0], [-1, 0]], 1e-15)   # the outer moon's ends, then the inner one
    assert list(y) == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="factor"):
        ds.make_circles(10, factor=1.0)
    with pytest.raises(ValueError, match="noise"):
        ds.make_moons(10, noise=-1)
    with pytest.raises(ValueError, match="random_state"):
        ds.make_moons(10, random_state="x")
    with pytest.raises(ValueError, match="n_samples"):
        ds.make_moons(0)


@needs_sklearn
def test_course_loaders_match_sklearn_and_leave_rng_alike():
    train_X, train_Y, test_X, test_Y = ini.load_dataset()
    after = rng_key()
    np.random.seed(1)
    a, b = skd.make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    c, d = skd.make_circles(n_samples=100, noise=.05)
    assert same_rng(after, rng_key())
    assert np.array_equal(train_X, a.T) and np.array_equal(train_Y, b.reshape(1, 300))
    assert np.array_equal(test_X, c.T) and np.array_equal(test_Y, d.reshape(1, 100))
    X, Y = opt.load_dataset()
    np.random.seed(3)
    e, f = skd.make_moons(n_samples=300, noise=.2)
    assert np.array_equal(X, e.T) and np.array_equal(Y, f.reshape(1, 300))
    assert X.shape == (2, 300) and Y.shape == (1, 300)


def test_load_2D_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        reg.load_2D_dataset()
    assert os.path.join("datasets", "data.mat") in str(e.value)
    monkeypatch.setenv("FASTDNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as e:
        opt.load_2D_dataset()
    assert os.path.join("nowhere", "course2", "data.mat") in str(e.value)
    with pytest.raises(FileNotFoundError, match="given.mat"):
        reg.load_2D_dataset(path=tmp_path / "given.mat")


def test_load_2D_dataset_real(course2_data):
    train_X, train_Y, test_X, test_Y = reg.load_2D_dataset(path=course2_data)
    assert train_X.shape == (2, 211) and train_Y.shape == (1, 211) and train_Y.dtype == np.uint8
    assert test_X.shape == (2, 200) and test_Y.shape == (1, 200) and test_Y.dtype == np.uint8


# ------------------------------------------------------------------ initialization
def test_initializers_notebook_values():
    p = ini.initialize_parameters_zeros([3, 2, 1])
    assert all(not v.any() for v in p.values())
    assert p["W1"].shape == (2, 3) and p["b2"].shape == (1, 1)
    p = ini.initialize_parameters_random([3, 2, 1])
    close(p["W1"], [[17.88628473, 4.36509851, 0.96497468],
                    [-18.63492703, -2.77388203, -3.54758979]])
    close(p["W2"], [[-0.82741481, -6.27000677]])
    p = ini.initialize_parameters_he([2, 4, 1])
    close(p["W1"], [[1.78862847, 0.43650985], [0.09649747, -1.8634927],
                    [-0.2773882, -0.35475898], [-0.08274148, -0.62700068]])
    close(p["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]])
    assert not p["b1"].any() and p["b1"].shape == (4, 1)


@pytest.mark.parametrize("dims", [[2, 1], [3, 4, 2, 5, 1]])
def test_initializers_any_depth_match_reference(dims):
    for name, kind in (("zeros", "zeros"), ("random", "random"), ("he", "he")):
        ours = getattr(ini, "initialize_parameters_" + name)(dims)
        s1 = rng_key()
        theirs = ref._to_dict(ref.init_course2(dims, kind))
        s2 = rng_key()
        assert list(ours) == list(theirs)
        for k in ours:
            assert np.array_equal(ours[k], theirs[k])
        if kind != "zeros":
            assert same_rng(s1, s2)
    assert list(reg.initialize_parameters(dims)) == list(ours)
    theirs = ref._to_dict(ref.init_course2(dims, "xavier_like"))
    for k, v in reg.initialize_parameters(dims).items():
        assert np.array_equal(v, theirs[k])
    for k, v in opt.initialize_parameters(dims).items():
        assert np.array_equal(v, ref._to_dict(ref.init_course2(dims, "he"))[k])


def _params(dims, seed=0):
    rng = np.random.RandomState(seed)
    p = {}
    for l in range(1, len(dims)):
        p["W%d" % l] = rng.randn(dims[l], dims[l - 1])
        p["b%d" % l] = rng.randn(dims[l], 1)
    return p


@pytest.mark.parametrize("dims", [[2, 1], [3, 4, 1], [4, 5, 3, 1], [3, 6, 5, 4, 2, 1]])
def test_forward_backward_any_depth(dims):
    rng = np.random.RandomState(1)
    X = rng.randn(dims[0], 7)
    Y = (rng.rand(1, 7) > 0.5).astype(int)
    p = _params(dims)
    L = len(dims) - 1
    for mod in (ini, reg, opt):
        a, cache = mod.forward_propagation(X, p)
        assert len(cache) == 4 * L
        acts = ref.forward(X, ref._to_layers(p))
        close(a, acts[-1], 1e-14)
        for l in range(L):
            assert cache[4 * l + 2] is p["W%d" % (l + 1)] and cache[4 * l + 3] is p["b%d" % (l + 1)]
            close(cache[4 * l + 1], acts[l + 1], 1e-14)
        g = mod.backward_propagation(X, Y, cache)
        lower = mod is not reg
        z, da = ("dz", "da") if lower else ("dZ", "dA")
        keys = [z + str(L), "dW%d" % L, "db%d" % L]
        for l in range(L - 1, 0, -1):
            keys += [da + str(l), z + str(l), "dW%d" % l, "db%d" % l]
        assert list(g) == keys
        rg = ref.backward(acts, Y, ref._to_layers(p))
        for l, (dW, db) in enumerate(rg, start=1):
            close(g["dW%d" % l], dW, 1e-13)
            close(g["db%d" % l], db, 1e-13)
    # reg's dZ_L has no 1/m; init's dz_L has it
    a, cache = ini.forward_propagation(X, p)
    close(ini.backward_propagation(X, Y, cache)["dz%d" % L] * 7,
          reg.backward_propagation(X, Y, cache)["dZ%d" % L], 1e-14)


def test_compute_loss_nansum_and_labels():
    a = np.array([[0.0, 1.0, 0.5, 0.2]])
    Y = np.array([[0, 1, 1, 0]])
    expected = (np.log(2) - np.log(0.8)) / 4
    for f in (ini.compute_loss, reg.compute_cost):
        with np.errstate(divide="ignore", invalid="ignore"):
            for y in (Y, Y.astype(np.uint8), Y.astype(bool), Y.astype(float)):
                assert f(a, y) == pytest.approx(expected, rel=1e-15)
            assert f(a, 1 - Y) == np.inf            # 1 * log 0 stays inf
        with np.errstate(all="ignore"):
            assert np.isinf(opt.compute_cost(np.array([[0.0, 0.5]]), np.array([[1, 0]])))
            assert np.isnan(gc.forward_propagation_n(
                np.zeros((1, 1)), np.array([[0]]), {"W1": np.zeros((1, 1)),
                                                    "b1": np.array([[-1e3]])})[0])
    assert opt.compute_cost(np.array([[0.8, 0.4]]), np.array([[1, 0]])) == pytest.approx(
        -np.log(0.8) - np.log(0.6), rel=1e-15)


def test_predict_and_update_do_not_touch_caller_arrays(capsys):
    p = _params([2, 3, 1])
    X = np.random.RandomState(0).randn(2, 6)
    y = np.array([[1, 0, 1, 0, 1, 1]])
    out = ini.predict(X, y, p)
    a = ref.forward(X, ref._to_layers(p))[-1]
    assert out.dtype == np.int_ and out.shape == (1, 6)
    assert np.array_equal(out, (a > 0.5).astype(int))
    assert capsys.readouterr().out == "Accuracy: " + str(np.mean(out[0] == y[0])) + "\n"
    assert np.array_equal(ini.predict_dec(p, X), a > 0.5)
    W1 = p["W1"].copy()
    held = p["W1"]
    g = {"dW1": np.ones((3, 2)), "db1": np.ones((3, 1)), "dW2": np.ones((1, 3)),
         "db2": np.ones((1, 1))}
    for f in (ini.update_parameters, reg.update_parameters, opt.update_parameters_with_gd):
        q = dict(p)
        r = f(q, g, 0.5)
        assert r is q and np.array_equal(held, W1)
        close(r["W1"], W1 - 0.5, 1e-15)


def test_bad_arguments():
    X, Y = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match="initialization"):
        ini.model(X, Y, initialization="xavier")
    with pytest.raises(ValueError, match="keep_prob"):
        reg.model(X, Y, keep_prob=1.5)
    with pytest.raises(ValueError, match="lambd"):
        reg.model(X, Y, lambd=0.7, keep_prob=0.86)
    with pytest.raises(ValueError, match="optimizer"):
        opt.model(X, Y, [2, 1], "rmsprop")
    with pytest.raises(ValueError, match="mini_batch_size"):
        opt.random_mini_batches(X, Y, 0)
    with pytest.raises(ValueError, match="layers_dims"):
        ini.initialize_parameters_he([2])
    with pytest.raises(ValueError, match="W2"):
        ini.forward_propagation(X, {"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1)),
                                    "b2": np.zeros((1, 1)), "x": 0})
    with pytest.raises(ValueError, match="theta"):
        gc.vector_to_dictionary(np.zeros((46, 1)))


# ------------------------------------------------------------------ regularization
def test_compute_cost_with_regularization_fixture():
    a3, Y, p = tc.compute_cost_with_regularization_test_case()
    assert reg.compute_cost_with_regularization(a3, Y, p, lambd=0.1) == pytest.approx(
        1.7864859451590758, rel=1e-12)


def test_backward_with_regularization_fixture():
    X, Y, cache = tc.backward_propagation_with_regularization_test_case()
    # the course's shipped literals
    close(cache[0], [[-1.52855314, 3.32524635, 2.13994541, 2.60700654, -0.75942115],
                     [-1.98043538, 4.1600994, 0.79051021, 1.46493512, -0.45506242]], 0)
    close(cache[9], [[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]], 0)
    close(cache[8], [[-0.3771104, -4.10060224, -1.60539468, -2.18416951, -0.3771104]], 0)
    g = reg.backward_propagation_with_regularization(X, Y, cache, lambd=0.7)
    assert list(g) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]
    close(g["dW1"], [[-0.25604646, 0.12298827, -0.28297129], [-0.17706303, 0.34536094, -0.4410571]])
    close(g["dW2"], [[0.79276486, 0.85133918], [-0.0957219, -0.01720463], [-0.13100772, -0.03750433]])
    close(g["dW3"], [[-1.77691347, -0.11832879, -0.09397446]])
    close(g["db3"], [[-0.38032981]])
    close(g["db1"], [[0.11845855], [0.21236874]])
    close(g["dA1"][1], [0.3672018, 0.60895764, -0.10352203, 0.5564081, -0.25184181])


def test_forward_with_dropout_fixture():
    X, p = tc.forward_propagation_with_dropout_test_case()
    A3, cache = reg.forward_propagation_with_dropout(X, p, keep_prob=0.7)
    after = rng_key()
    close(A3, [[0.36974721, 0.00305176, 0.04565099, 0.49683389, 0.36974721]])
    assert len(cache) == 14
    assert np.array_equal(cache[1], [[1, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert np.array_equal(cache[6], [[1, 1, 1, 0, 1], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    close(cache[2], [[0, 0, 3.05706487, 3.72429505, 0], [0, 5.94299915, 1.1293003, 2.09276446, 0]])
    np.random.seed(1)
    np.random.rand(2, 5)
    np.random.rand(3, 5)
    assert same_rng(after, rng_key())     # seed 1, then one rand per hidden layer


def test_backward_with_dropout_fixture():
    X, Y, cache = tc.backward_propagation_with_dropout_test_case()
    assert cache[1].dtype == bool and cache[6].dtype == bool
    close(cache[11], [[0.32266394, 0.49683389, 0.00348883, 0.49683389, 0.32266394]], 0)
    close(cache[5][:, 1], [8.02565606, -1.71413186, -2.62563561], 0)
    g = reg.backward_propagation_with_dropout(X, Y, cache, keep_prob=0.8)
    close(g["dA1"], [[0.36544439, 0., -0.00188233, 0., -0.17408748],
                     [0.65515713, 0., -0.00337459, 0., -0.]])
    close(g["dA2"], [[0.58180856, 0., -0.00299679, 0., -0.27715731],
                     [0., 0.53159854, -0., 0.53159854, -0.34089673],
                     [0., 0., -0.00292733, 0., -0.]])
    close(g["dW1"], [[0.00019884, 0.00028657, 0.00012138], [0.00035647, 0.00051375, 0.00021761]])
    close(g["db1"], [[-0.00037647], [-0.00067492]])
    close(g["dW2"], [[-0.00256518, -0.0009476], [0, 0], [0, 0]])
    close(g["db3"], [[-0.2715031]])
    # int masks give the same
    c2 = list(cache)
    c2[1], c2[6] = cache[1].astype(int), cache[6].astype(int)
    g2 = reg.backward_propagation_with_dropout(X, Y, tuple(c2), 0.8)
    for k in g:
        assert np.array_equal(g[k], g2[k])


@pytest.mark.parametrize("dims", [[3, 4, 1], [3, 4, 3, 2, 1]])
def test_dropout_and_l2_any_depth_match_reference(dims):
    X = np.random.RandomState(2).randn(dims[0], 9)
    Y = np.array([[1, 0, 1, 1, 0, 0, 1, 0, 1]])
    p = _params(dims, 3)
    a, cache = reg.forward_propagation_with_dropout(X, p, 0.6)
    np.random.seed(1)
    masks = [np.random.rand(n, 9) < 0.6 for n in dims[1:-1]]
    layers = ref._to_layers(p)
    acts = ref.forward(X, layers, masks, 0.6)
    close(a, acts[-1], 1e-14)
    g = reg.backward_propagation_with_dropout(X, Y, cache, 0.6)
    for l, (dW, db) in enumerate(ref.backward(acts, Y, layers, masks, 0.6), start=1):
        close(g["dW%d" % l], dW, 1e-13)
        close(g["db%d" % l], db, 1e-13)
    a, cache = reg.forward_propagation(X, p)
    g = reg.backward_propagation_with_regularization(X, Y, cache, 0.7)
    acts = ref.forward(X, layers)
    for l, (dW, db) in enumerate(ref.backward(acts, Y, layers, lambd=0.7), start=1):
        close(g["dW%d" % l], dW, 1e-13)
    expected = ref.cost_nansum(acts[-1], Y) + 0.7 / 18 * sum(np.sum(W ** 2) for W, _ in layers)
    assert reg.compute_cost_with_regularization(a, Y, p, 0.7) == pytest.approx(expected, rel=1e-13)


# ------------------------------------------------------------------ gradient checking
def test_gradient_check_1d(capsys):
    d = gc.gradient_check(3, 4, print_msg=True)
    assert d == pytest.approx(7.814075313343006e-11, rel=1e-9)
    out = capsys.readouterr().out
    assert out == ("\033[92mYour backward propagation works perfectly fine! difference = "
                   + str(d) + "\033[0m\n")
    assert gc.forward_propagation(2, 4) == 8 and gc.backward_propagation(2, 4) == 2
    for x, theta in ((3, 4), (-2.5, 0.3), (np.float64(7), 1e-3)):
        approx = (x * (theta + 1e-7) - x * (theta - 1e-7)) / 2e-7
        expected = abs(x - approx) / (abs(x) + abs(approx))
        assert gc.gradient_check(x, theta) == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert gc.gradient_check(3, 4) == d and capsys.readouterr().out == ""


def test_gradient_check_nd_fixture_with_and_without_bugs(capsys):
    x, y, p = tc.gradient_check_n_test_case()
    assert y.shape == (3,)
    cost, cache = gc.forward_propagation_n(x, y, p)
    assert len(cache) == 12
    assert cost == pytest.approx(ref.nd_cost(x, y, p), rel=1e-14)
    buggy = gc.backward_propagation_n(x, y, cache, buggy=True)
    assert list(buggy) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]
    d = gc.gradient_check_n(p, buggy, x, y, 1e-7, True)
    assert type(d) is float
    assert d == pytest.approx(0.2850931567761623, rel=1e-9)
    assert d == pytest.approx(ref.nd_difference(x, y, p, ref.nd_gradients(x, y, p, True)), rel=1e-9)
    assert capsys.readouterr().out == (
        "\033[93mThere is a mistake in the backward propagation! difference = "
        + str(d) + "\033[0m\n")
    good = gc.backward_propagation_n(x, y, cache)
    rg = ref.nd_gradients(x, y, p)
    for k in rg:
        close(good[k], rg[k], 1e-14)
    d = gc.gradient_check_n(p, good, x, y, 1e-7, True)
    # with correct gradients the difference is rounding noise of J amplified 1e7 times:
    # the course's printed value pins the computation order; a differently ordered
    # reference agrees only roughly
    assert d == pytest.approx(1.1890913024229996e-07, rel=1e-6)
    assert d == pytest.approx(ref.nd_difference(x, y, p, rg), rel=0.05)
    assert capsys.readouterr().out.startswith("\033[92mYour backward propagation works")


def _course_gradient_check_n(parameters, gradients, X, Y, epsilon, dims):
    """The notebook's loop: one perturbed network at a time through forward_propagation_n."""
    theta, _ = gc.dictionary_to_vector(parameters)
    grad = gc.gradients_to_vector(gradients)
    n = theta.shape[0]
    J_plus, J_minus, gradapprox = np.zeros((n, 1)), np.zeros((n, 1)), np.zeros((n, 1))
    for i in range(n):
        t = np.copy(theta)
        t[i] = t[i] + epsilon
        J_plus[i], _ = gc.forward_propagation_n(X, Y, gc.vector_to_dictionary(t, dims))
        t = np.copy(theta)
        t[i] = t[i] - epsilon
        J_minus[i], _ = gc.forward_propagation_n(X, Y, gc.vector_to_dictionary(t, dims))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    return float(numerator / (np.linalg.norm(grad) + np.linalg.norm(gradapprox)))


@pytest.mark.parametrize("block", [None, 7, 1])
def test_gradient_check_n_is_the_notebooks_loop_bit_for_bit(monkeypatch, block):
    # gradient_check_n evaluates the perturbed networks a block at a time; with
    # epsilon = 1e-7 any other rounding of J would show in the difference
    if block is not None:
        monkeypatch.setattr(gc, "_BLOCK_VALUES", block)
    rng = np.random.RandomState(7)
    x, y, p = tc.gradient_check_n_test_case()
    cases = [(x, y, p, [4, 5, 3, 1])]
    for _ in range(12):
        dims = [int(rng.randint(1, 7))] + [int(rng.randint(1, 7))
                                           for _ in range(rng.randint(1, 4))] + [1]
        m = int(rng.randint(1, 60))
        X = rng.randn(dims[0], m)
        Y = (rng.rand(1, m) > 0.5).astype(float)
        q = {}
        for l in range(1, len(dims)):
            q["W%d" % l] = rng.randn(dims[l], dims[l - 1]) * 0.5
            q["b%d" % l] = rng.randn(dims[l], 1) * 0.1
        cases.append((X, Y, q, dims))
    for X, Y, q, dims in cases:
        _, cache = gc.forward_propagation_n(X, Y, q)
        for buggy in (False, True):
            g = gc.backward_propagation_n(X, Y, cache, buggy=buggy)
            for eps in (1e-7, 1e-4):
                assert gc.gradient_check_n(q, g, X, Y, eps) == \
                    _course_gradient_check_n(q, g, X, Y, eps, dims)


def test_vectors_round_trip_any_depth():
    x, y, p = tc.gradient_check_n_test_case()
    theta, keys = gc.dictionary_to_vector(p)
    assert theta.shape == (47, 1) and keys[:20] == ["W1"] * 20 and keys[-1] == "b3"
    back = gc.vector_to_dictionary(theta)
    for k in p:
        assert np.array_equal(back[k], p[k])
    q = _params([3, 2, 4, 2, 1])
    theta, keys = gc.dictionary_to_vector(q)
    back = gc.vector_to_dictionary(theta, (3, 2, 4, 2, 1))
    assert list(back) == list(q) and all(np.array_equal(back[k], q[k]) for k in q)
    grads = {"dZ1": 0, "dW1": q["W1"], "db1": q["b1"], "dW2": q["W2"], "db2": q["b2"],
             "dW3": q["W3"], "db3": q["b3"], "dW4": q["W4"], "db4": q["b4"], "dA1": 1}
    assert np.array_equal(gc.gradients_to_vector(grads), theta)
    X = np.random.RandomState(0).randn(3, 4)
    Y = np.array([[1, 0, 0, 1]])
    cost, cache = gc.forward_propagation_n(X, Y, q)
    g = gc.backward_propagation_n(X, Y, cache)
    assert gc.gradient_check_n(q, g, X, Y) < 2e-7


# ------------------------------------------------------------------ optimization
def test_gd_momentum_adam_fixtures():
    p, g, lr = tc.update_parameters_with_gd_test_case()
    assert p["W2"].shape == (3, 2) and lr == 0.01
    p = opt.update_parameters_with_gd(p, g, lr)
    close(p["W1"], [[1.63312395, -0.61217855, -0.5339999], [-1.06196243, 0.85396039, -2.3105546]])
    close(p["b2"], [[1.13773698], [-1.09301954], [-0.16397615]])
    p, g, v = tc.update_parameters_with_momentum_test_case()
    p, v = opt.update_parameters_with_momentum(p, g, v, beta=0.9, learning_rate=0.01)
    close(p["W1"], [[1.62522322, -0.61179863, -0.52875457], [-1.071868, 0.86426291, -2.30244029]])
    close(p["W2"], [[0.31972282, -0.24924749], [1.46304371, -2.05987282], [-0.32294756, -0.38336269]])
    close(v["dW1"], [[-0.08778584, 0.00422137, 0.05828152], [-0.11006192, 0.11447237, 0.09015907]])
    close(v["db2"], [[-0.03967535], [-0.06871727], [-0.08452056]])
    args = tc.update_parameters_with_adam_test_case()
    assert args[4:] == (2, 0.02, 0.8, 0.888, 1e-2)
    p0 = {k: a.copy() for k, a in args[0].items()}
    out = opt.update_parameters_with_adam(*args)
    assert len(out) == 5
    p, v, s, vc, sc = out
    close(v["dW1"][0], [-0.17557168, 0.00844275, 0.11656304])
    close(s["dW1"][0], [0.08631117, 0.00019958, 0.03804344])
    close(s["db2"][0], [0.0176303])
    close(vc["dW2"][0], np.array([-0.13674557, -0.02457805]) / (1 - 0.8 ** 2), 1e-7)  # 8-digit literal x 2.8
    close(sc["db1"][0], np.array([0.02828006]) / (1 - 0.888 ** 2), 1e-7)
    close(p["W1"][0], [1.63937725, -0.62327448, -0.54308727])
    close(p["b2"][0], [1.14852557])
    # epsilon outside the square root
    k = "dW1"
    close(p["W1"], p0["W1"] - 0.02 * vc[k] / (np.sqrt(sc[k]) + 1e-2), 1e-15)


def test_init_velocity_adam_fixtures():
    p = tc.initialize_velocity_test_case()
    v = opt.initialize_velocity(p)
    assert list(v) == ["dW1", "db1", "dW2", "db2"]
    assert v["dW1"].shape == (3, 2) and v["dW2"].shape == (3, 3) and not any(a.any() for a in v.values())
    v, s = opt.initialize_adam(tc.initialize_adam_test_case())
    assert v is not s and v["dW1"] is not s["dW1"] and s["dW2"].shape == (3, 2)


def test_old_optimiser_inputs_load_params_and_grads():
    W1, b1, W2, b2, dW1, db1, dW2, db2 = opt.load_params_and_grads()
    assert W2.shape == (3, 3) and dW2.shape == (3, 3)
    close(W1[0], [1.62434536, -0.61175641, -0.52817175])
    p = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    g = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    p2, v = opt.update_parameters_with_momentum(dict(p), g, opt.initialize_velocity(p), 0.9, 0.01)
    close(p2["W2"], W2 - 0.01 * 0.1 * dW2, 1e-15)
    v, s = opt.initialize_adam(p)
    out = opt.update_parameters_with_adam(dict(p), g, v, s, t=2)
    assert out[0]["W1"].shape == (2, 3)


def test_random_mini_batches_public_case_and_fixture():
    np.random.seed(1)
    X = np.random.randn(5, 7)
    Y = np.random.randn(1, 7) < 0.5
    mb = opt.random_mini_batches(X, Y, 2)
    assert [b[0].shape[1] for b in mb] == [2, 2, 2, 1]
    close(mb[0][0][:, 0], [1.74481176, -0.38405435, -1.10061918, -0.93576943, -0.67124613])
    close(mb[3][0][:, 0], [0.86540763, -2.06014071, 0.04221375, -0.68372786, -0.6871727])
    assert mb[0][1].tolist() == [[True, True]] and mb[3][1].tolist() == [[False]]
    X, Y, size = tc.random_mini_batches_test_case()
    assert X.shape == (12288, 148) and Y.dtype == bool and size == 64
    mb = opt.random_mini_batches(X, Y, size)
    assert [b[0].shape[1] for b in mb] == [64, 64, 20]
    np.random.seed(0)
    perm = np.random.permutation(148)
    assert np.array_equal(mb[1][0], X[:, perm[64:128]]) and np.array_equal(mb[2][1], Y[:, perm[128:]])


def test_learning_rate_decay_public_cases():
    assert opt.update_lr(0.5, 2, 1) == pytest.approx(0.16666666666666666, rel=1e-15)
    assert opt.schedule_lr_decay(0.5, 100, 1, 100) == pytest.approx(0.25)
    assert opt.schedule_lr_decay(0.5, 10, 1, 100) == pytest.approx(0.5)
    assert opt.schedule_lr_decay(0.3, 1000, 0.25, 100) == pytest.approx(0.085714285)
    assert opt.schedule_lr_decay(0.3, 100, 0.25, 100) == pytest.approx(0.24)
    assert opt.schedule_lr_decay(0.5, 999, 1) == 0.5      # floor, default interval 1000


@pytest.fixture(scope="module")
def course2_data():
    d = os.environ.get("FASTDNN_DATA") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.pardir, "shared", "datasets")
    path = os.path.join(d, "course2", "data.mat")
    if not os.path.isfile(path):
        pytest.skip("data.mat not found at %s: set FASTDNN_DATA to the directory holding "
                    "course2/data.mat" % path)
    return path
