"""fastdnn.dnn_app_utils_v2 / _v3 (the English course's Application helper
modules and notebook models), fastdnn.testcases additions and
fastdnn.testcases_v4a (COURSE2.md sections 7-8).

Expected values: the course's printed outputs (typed as numbers) and
tests/course2_reference.py (an independent numpy version).  The cat
headline runs (2500 iterations; the numpy reference takes ~35 s) run with
FASTDNN_SLOW=1.
"""
import os

import numpy as np
import pytest

from fastdnn import dnn_app_utils_v2 as v2
from fastdnn import dnn_app_utils_v3 as v3
from fastdnn import testcases as tc3
from fastdnn import testcases_v4a as tc4
from tests import course2_reference as ref

SLOW = os.environ.get("FASTDNN_SLOW") == "1"


def close(a, b, tol=1e-8):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=0, atol=tol)


def params_close(ours, theirs, rtol=1e-9):
    assert sorted(ours) == sorted(theirs)
    for k in theirs:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=rtol,
                                   atol=max(rtol * np.max(np.abs(theirs[k])), 1e-14), err_msg=k)


@pytest.mark.parametrize("mod", [v2, v3])
def test_activations_any_shape(mod):
    for shape in [(), (5,), (2, 3), (2, 3, 4)]:
        Z = np.random.RandomState(0).randn(*shape)
        A, cache = mod.sigmoid(Z)
        assert cache is Z and np.shape(A) == shape
        close(A, 1 / (1 + np.exp(-Z)), 1e-15)
        A, cache = mod.relu(Z)
        close(A, np.maximum(Z, 0), 0)
        dA = np.ones(shape) * 2
        close(mod.relu_backward(dA, Z), np.where(Z > 0, 2.0, 0.0), 0)
        s = 1 / (1 + np.exp(-Z))
        close(mod.sigmoid_backward(dA, Z), 2 * s * (1 - s), 1e-15)
    dA = np.ones((2, 2))
    mod.relu_backward(dA, -np.ones((2, 2)))
    assert (dA == 1).all()                       # the caller's dA is not modified


@pytest.mark.parametrize("mod", [v2, v3])
def test_initializers_seed_inside(mod):
    np.random.seed(99)
    p = mod.initialize_parameters(3, 2, 1)
    close(p["W1"], [[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]])
    close(p["W2"], [[0.01744812, -0.00761207]])
    assert not p["b1"].any() and p["b2"].shape == (1, 1)
    np.random.seed(99)
    p = mod.initialize_parameters_deep([5, 4, 3])
    q = ref._to_dict(ref.init_app_deep([5, 4, 3]))
    for k in q:
        assert np.array_equal(p[k], q[k])
    close(p["W1"][0, :2], [1.62434536 / np.sqrt(5), -0.61175641 / np.sqrt(5)])
    p = mod.initialize_parameters_deep(layer_dims=[2, 1])
    assert p["W1"].shape == (1, 2)


def test_forward_cost_fixtures():
    X, p = tc3.L_model_forward_test_case_2hidden()
    assert X.shape == (5, 4) and p["W3"].shape == (1, 3)
    AL, caches = v3.L_model_forward(X, p)
    close(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]])
    assert len(caches) == 3 and caches[0][0][0] is X and caches[2][0][1] is p["W3"]
    Y, AL = tc3.compute_cost_test_case()
    c = v3.compute_cost(AL, Y)
    assert isinstance(c, np.ndarray) and c.shape == () and c == pytest.approx(0.414931599615397)
    Y, AL = tc4.compute_cost_test_case()
    assert Y.tolist() == [[1, 1, 0]]
    assert v2.compute_cost(AL, Y) == pytest.approx(0.2797765635793422, rel=1e-12)
    assert v3.compute_cost(AL, Y.astype(bool)) == pytest.approx(0.2797765635793422, rel=1e-12)


def test_testcases_v4a_values():
    dZ, (A, W, b) = tc4.linear_backward_test_case()
    assert dZ.shape == (3, 4) and A.shape == (5, 4) and W.shape == (3, 5) and b.shape == (3, 1)
    dA_prev, dW, db = v3.linear_backward(dZ, (A, W, b))
    close(dA_prev, W.T @ dZ, 1e-15)
    close(dW, dZ @ A.T / 4, 1e-15)
    close(db, dZ.sum(axis=1, keepdims=True) / 4, 1e-15)
    close(db, [[-0.14713786], [-0.11313155], [-0.13209101]])
    for name in ("linear_forward_test_case", "L_model_forward_test_case",
                 "L_model_backward_test_case", "update_parameters_test_case",
                 "linear_activation_backward_test_case"):
        a, b_ = getattr(tc3, name)(), getattr(tc4, name)()
        assert len(a) == len(b_)
    assert tc4.L_model_forward_test_case_2hidden is tc3.L_model_forward_test_case_2hidden


def test_L_model_backward_key_conventions(capsys):
    AL, Y, caches = tc3.L_model_backward_test_case()
    g3 = v3.L_model_backward(AL, Y, caches)
    g2 = v2.L_model_backward(AL, Y, caches)
    assert sorted(g3) == ["dA0", "dA1", "dW1", "dW2", "db1", "db2"]
    assert sorted(g2) == ["dA1", "dA2", "dW1", "dW2", "db1", "db2"]
    assert np.array_equal(g3["dA0"], g2["dA1"]) and np.array_equal(g3["dA1"], g2["dA2"])
    # the seed's printed values (dA1 w.r.t. X in the top-level / v2 convention)
    close(g2["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167],
                      [0, 0, 0, 0], [0.05283652, 0.01005865, 0.01777766, 0.0135308]])
    close(g2["db1"], [[-0.22007063], [0.], [-0.02835349]])
    close(g2["dA1"], [[0., 0.52257901], [0., -0.3269206], [0., -0.32070404], [0., -0.74079187]])
    tc3.print_grads(g2)
    assert capsys.readouterr().out == ("dW1 = " + str(g2["dW1"]) + "\n" + "db1 = "
                                       + str(g2["db1"]) + "\n" + "dA1 = " + str(g2["dA1"]) + "\n")


def test_update_and_predict(capsys):
    p, g = tc3.update_parameters_test_case()
    held = p["W1"]
    W1 = held.copy()
    q = v3.update_parameters(p, g, 0.1)
    assert q is p and np.array_equal(held, W1)
    close(q["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                    [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                    [-1.0535704, -0.86128581, 0.68284052, 2.20374577]])
    X = np.random.RandomState(0).randn(3, 7)
    y = np.array([[1, 0, 0, 1, 1, 0, 1]])
    params = ref._to_dict(ref.init_app_deep([3, 4, 1]))
    pred = v3.predict(X, y, params)
    assert pred.dtype == np.float64 and pred.shape == (1, 7)
    assert np.array_equal(pred, ref.predict_labels(X, params).astype(float))
    assert capsys.readouterr().out == "Accuracy: " + str(np.sum((pred == y) / 7)) + "\n"


def _small_data():
    rng = np.random.RandomState(4)
    X = rng.randn(10, 40)
    Y = (X[:1] + 0.3 * X[1:2] > 0).astype(int)
    return X, Y


def _lines(out):
    return [line for line in out.splitlines() if line.startswith("Cost after")]


def test_v3_models_against_reference(capsys):
    X, Y = _small_data()
    p, costs = v3.two_layer_model(X, Y, (10, 5, 1), learning_rate=0.05, num_iterations=250,
                                  print_cost=True)
    q, ref_costs = ref.run_app(X, Y, ref.init_app_two(10, 5, 1), 0.05, 250)
    params_close(p, q)
    lines = _lines(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "Cost after iteration %d" % i for i in (0, 100, 200, 249)]
    np.testing.assert_allclose([float(line.split(": ")[1]) for line in lines],
                               [ref_costs[i] for i in (0, 100, 200, 249)], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(costs, float), [ref_costs[i] for i in (0, 100, 200)],
                               rtol=1e-9)
    p, costs = v3.L_layer_model(X, Y, [10, 6, 4, 1], learning_rate=0.05, num_iterations=201)
    q, ref_costs = ref.run_app(X, Y, ref.init_app_deep([10, 6, 4, 1]), 0.05, 201)
    params_close(p, q)
    assert len(costs) == 3                         # recorded without print_cost
    lines = _lines(capsys.readouterr().out)        # only the last iteration prints
    assert len(lines) == 1 and lines[0].startswith("Cost after iteration 200: ")
    assert float(lines[0].split(": ")[1]) == pytest.approx(ref_costs[200], rel=1e-9)


def test_v2_models_against_reference(capsys):
    X, Y = _small_data()
    p = v2.two_layer_model(X, Y, (10, 5, 1), learning_rate=0.05, num_iterations=250,
                           print_cost=True)
    assert isinstance(p, dict)
    q, ref_costs = ref.run_app(X, Y, ref.init_app_two(10, 5, 1), 0.05, 250)
    params_close(p, q)
    lines = _lines(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "Cost after iteration %d" % i for i in (0, 100, 200)]
    p = v2.L_layer_model(X, Y, [10, 6, 4, 1], learning_rate=0.05, num_iterations=201,
                         print_cost=True)
    q, ref_costs = ref.run_app(X, Y, ref.init_app_deep([10, 6, 4, 1]), 0.05, 201)
    params_close(p, q)
    lines = _lines(capsys.readouterr().out)
    assert lines == ["Cost after iteration %i: %f" % (i, ref_costs[i]) for i in (0, 100, 200)]
    v2.L_layer_model(X, Y, [10, 6, 4, 1], num_iterations=5)
    assert capsys.readouterr().out == ""


def test_load_data_and_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        v3.load_data(tmp_path)
    with pytest.raises(ValueError, match="activation"):
        v3.linear_activation_forward(np.ones((2, 1)), np.ones((1, 2)), np.ones((1, 1)), "tanh")
    with pytest.raises(ValueError, match="X must be"):
        v3.L_layer_model(np.ones((2, 3)), np.ones((1, 4)), [2, 1])


@pytest.fixture(scope="module")
def cat(data_dir):
    train_x_orig, train_y, test_x_orig, test_y, classes = v3.load_data(data_dir)
    assert train_x_orig.shape == (209, 64, 64, 3) and train_x_orig.dtype == np.uint8
    assert classes.tolist() == [b"non-cat", b"cat"]
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255
    return train_x, train_y, test_x, test_y


@pytest.mark.skipif(not SLOW, reason="2500-iteration cat runs with a numpy reference "
                    "(~40 s): set FASTDNN_SLOW=1")
@pytest.mark.parametrize("dims", [(12288, 7, 1), [12288, 20, 7, 5, 1]])
def test_v3_cat_headline_runs(dims, cat, capsys):
    train_x, train_y, test_x, test_y = cat
    if len(dims) == 3 and isinstance(dims, tuple):
        p, costs = v3.two_layer_model(train_x, train_y, dims, num_iterations=2500, print_cost=True)
        layers = ref.init_app_two(*dims)
        first, acc = "0.6930497356599888", ("0.9999999999999998", "0.72")
    else:
        p, costs = v3.L_layer_model(train_x, train_y, dims, num_iterations=2500, print_cost=True)
        layers = ref.init_app_deep(dims)
        first, acc = "0.7717493284237686", ("0.9856459330143539", "0.8")
    pred_train = v3.predict(train_x, train_y, p)
    pred_test = v3.predict(test_x, test_y, p)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Cost after iteration 0: ")
    assert float(out[0].split(": ")[1]) == pytest.approx(float(first), rel=1e-9)  # ulps: BLAS
    assert out[-2:] == ["Accuracy: " + acc[0], "Accuracy: " + acc[1]]
    assert len(costs) == 25
    q, ref_costs = ref.run_app(train_x, train_y, layers, 0.0075, 2500)
    params_close(p, q)
    assert np.array_equal(pred_train, ref.predict_labels(train_x, q).astype(float))
    assert np.array_equal(pred_test, ref.predict_labels(test_x, q).astype(float))
    printed = [float(line.split(": ")[1]) for line in out if line.startswith("Cost")]
    np.testing.assert_allclose(printed, [ref_costs[i] for i in list(range(0, 2500, 100)) + [2499]],
                               rtol=1e-9)
