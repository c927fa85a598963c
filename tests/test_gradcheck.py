"""Central-difference gradient checks (float64) of the compiled forward /
backward pass, through ``fastdnn.training.loss_and_gradients``.

For every loss (output) x hidden activation x L2 on/off: the engine's
gradients g against central differences g_num of the engine's own cost,
relative error ||g - g_num|| / (||g|| + ||g_num||) < 1e-7 (eps = 1e-6; with
relu the data keep every hidden pre-activation >= 0.01 away from the kink,
so no perturbation crosses it).  The engine's cost and gradients are also
compared with the plain-numpy reference (tests/reference_v2.py) to 1e-12.
Further cases: sample weights, scikit-learn's loss convention (where its loss
is the one its gradient belongs to), softmax label forms, multi-label
sigmoid, and a planted error that the check must catch.
"""

import numpy as np
import pytest

from fastdnn.training import TrainingConfig, loss_and_gradients

from tests import reference_v2 as r2

HIDDEN = ("relu", "tanh", "sigmoid", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity", "exp")
EPS = 1e-6
TOL = 1e-7


def _flat(g, keys):
    return np.concatenate([np.asarray(g[k], dtype=np.float64).ravel() for k in keys])


def grad_rel_error(X, Y, params, cfg, **kw):
    """(relative error, engine cost, engine grads)."""
    cost, grads = loss_and_gradients(X, Y, params, cfg, **kw)
    num = r2.numeric_grads(lambda q: float(loss_and_gradients(X, Y, q, cfg, **kw)[0]),
                           params, EPS)
    keys = ["d" + k for k in sorted(params)]
    assert sorted(k for k in grads if k in keys) == sorted(keys), sorted(grads)
    a, b = _flat(grads, keys), _flat(num, keys)
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))), cost, grads


def check_against_reference(cost, grads, X, Y, params, what, **kw):
    rcost, rgrads = r2.loss_and_gradients_ref(X, Y, params, **kw)
    assert abs(float(cost) - rcost) <= 1e-12 * max(abs(rcost), 1e-300), \
        "%s: cost %r, reference %r" % (what, float(cost), rcost)
    for k, v in rgrads.items():
        e = r2.rel_err(grads[k], v)
        assert e <= 1e-12, "%s: %s relative error %.3e vs reference" % (what, k, e)


@pytest.mark.parametrize("lambd", [0.0, 0.7], ids=["nol2", "l2"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_gradients(output, hidden, lambd):
    X, Y, p = r2.gradcheck_problem(output, hidden)
    cfg = TrainingConfig(hidden_activation=hidden, output=output, lambd=lambd)
    rel, cost, grads = grad_rel_error(X, Y, p, cfg)
    what = "%s/%s/lambd=%s" % (output, hidden, lambd)
    assert rel < TOL, "%s: gradient relative error %.3e" % (what, rel)
    check_against_reference(cost, grads, X, Y, p, what, hidden_activation=hidden,
                            output=output, lambd=lambd)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_gradients_sample_weights(output, hidden):
    X, Y, p = r2.gradcheck_problem(output, hidden, seed=3)
    w = np.random.RandomState(4).rand(X.shape[1]) * 2
    w[1] = 0.0
    cfg = TrainingConfig(hidden_activation=hidden, output=output, lambd=0.4)
    rel, cost, grads = grad_rel_error(X, Y, p, cfg, sample_weight=w)
    what = "%s/%s sample weights" % (output, hidden)
    assert rel < TOL, "%s: gradient relative error %.3e" % (what, rel)
    check_against_reference(cost, grads, X, Y, p, what, hidden_activation=hidden,
                            output=output, lambd=0.4, sample_weight=w)


# scikit-learn's loss values belong to the gradient dZ_L = A_L - Y where the
# clip is not hit and, for squared error, with one output (its mean over
# outputs divides the loss, not the gradient, by n_L).
@pytest.mark.parametrize("output,n_out", [("sigmoid", 1), ("sigmoid", 3), ("softmax", 3),
                                          ("identity", 1), ("exp", 2)], ids=str)
def test_gradients_sklearn_convention(output, n_out):
    X, Y, p = r2.gradcheck_problem(output, "tanh", seed=6, n_out=n_out)
    w = np.random.RandomState(7).rand(X.shape[1]) + 0.5
    cfg = TrainingConfig(hidden_activation="tanh", output=output, lambd=0.2,
                         loss_convention="sklearn")
    for sw in (None, w):
        rel, cost, grads = grad_rel_error(X, Y, p, cfg, sample_weight=sw)
        what = "sklearn %s n_out=%d sw=%s" % (output, n_out, sw is not None)
        assert rel < TOL, "%s: gradient relative error %.3e" % (what, rel)
        check_against_reference(cost, grads, X, Y, p, what, hidden_activation="tanh",
                                output=output, lambd=0.2, loss_convention="sklearn",
                                sample_weight=sw)


def test_sklearn_squared_error_is_averaged_over_outputs():
    X, Y, p = r2.gradcheck_problem("identity", "tanh", seed=8, n_out=3)
    c_course, g_course = loss_and_gradients(X, Y, p, TrainingConfig(output="identity",
                                                                    hidden_activation="tanh"))
    c_sk, g_sk = loss_and_gradients(X, Y, p, TrainingConfig(output="identity",
                                                            hidden_activation="tanh",
                                                            loss_convention="sklearn"))
    assert float(c_sk) == pytest.approx(float(c_course) / 3, rel=1e-13)
    for k in g_course:
        np.testing.assert_array_equal(g_sk[k], g_course[k])


@pytest.mark.parametrize("form", ["int_1m", "int_m", "onehot"])
def test_gradients_softmax_label_forms(form):
    X, Y, p = r2.gradcheck_problem("softmax", "sigmoid", seed=9, n_out=4)
    if form == "int_m":
        Y = Y[0]
    elif form == "onehot":
        Y = r2.targets_matrix(Y, "softmax", 4, np.float64)
    cfg = TrainingConfig(hidden_activation="sigmoid", output="softmax", lambd=0.1)
    rel, cost, grads = grad_rel_error(X, Y, p, cfg)
    assert rel < TOL, "softmax labels %s: gradient relative error %.3e" % (form, rel)
    check_against_reference(cost, grads, X, Y, p, "softmax " + form,
                            hidden_activation="sigmoid", output="softmax", lambd=0.1)


def test_gradients_logistic_alias():
    X, Y, p = r2.gradcheck_problem("sigmoid", "sigmoid", seed=10, n_out=2)
    a = loss_and_gradients(X, Y, p, TrainingConfig(hidden_activation="sigmoid"))
    b = loss_and_gradients(X, Y, p, TrainingConfig(hidden_activation="logistic"))
    assert float(a[0]) == float(b[0])
    for k in a[1]:
        np.testing.assert_array_equal(a[1][k], b[1][k])


def test_check_catches_a_planted_error():
    """The check has power: doubling one gradient block is far above 1e-7."""
    X, Y, p = r2.gradcheck_problem("softmax", "relu", seed=11)
    cfg = TrainingConfig(hidden_activation="relu", output="softmax")
    cost, grads = loss_and_gradients(X, Y, p, cfg)
    num = r2.numeric_grads(lambda q: float(loss_and_gradients(X, Y, q, cfg)[0]), p, EPS)
    keys = ["d" + k for k in sorted(p)]
    bad = dict(grads)
    bad["db1"] = 2 * np.asarray(grads["db1"])
    a, b = _flat(bad, keys), _flat(num, keys)
    assert np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)) > 1e-3


def test_loss_and_gradients_leaves_inputs_alone():
    X, Y, p = r2.gradcheck_problem("exp", "tanh", seed=12)
    keep = {k: v.copy() for k, v in p.items()}
    X0, Y0 = X.copy(), Y.copy()
    loss_and_gradients(X, Y, p, TrainingConfig(output="exp", hidden_activation="tanh",
                                               lambd=0.3))
    assert all(np.array_equal(p[k], keep[k]) for k in p)
    assert np.array_equal(X, X0) and np.array_equal(Y, Y0)
