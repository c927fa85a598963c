"""The course-2 notebooks' headline runs through fastdnn.course2's ``model``
functions (on the compiled engine), against tests/course2_reference.py run
with the same data and seeds, and against the course's printed outputs.

Costs and parameters within 1e-9 relative, identical predictions, the
course's ``%f`` lines character for character; the x10 random
initialisation is chaotic, so there only the first cost and the accuracies
are compared.  numpy's global generator must end where the course's loop
leaves it.  The reference runs take about 30 s in all (numpy); each is
computed once per session.
"""
import functools
import os
import re

import numpy as np
import pytest

from fastdnn.course2 import initialization as ini
from fastdnn.course2 import optimization as opt
from fastdnn.course2 import regularization as reg
from tests import course2_reference as ref

RTOL = 1e-9


def params_close(ours, theirs, rtol=RTOL):
    assert list(ours) == list(theirs)
    for k in theirs:
        # relative to the array's largest entry; 1e-14 absolute for values that are
        # rounding noise around 0 (the zeros run's biases)
        scale = np.max(np.abs(theirs[k]))
        np.testing.assert_allclose(ours[k], theirs[k], rtol=rtol, atol=max(rtol * scale, 1e-14),
                                   err_msg=k)


def rng_state():
    s = np.random.get_state()
    return s[1].copy(), s[2], s[3], s[4]


def assert_same_rng(a, b):
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]


LINE = re.compile(r"^Cost after iteration (\d+): (\S+)$")


def parse(out, pattern=LINE):
    rows = [pattern.match(line) for line in out.splitlines()]
    return [(int(m.group(1)), float(m.group(2))) for m in rows if m]


def accuracies(out):
    return [line for line in out.splitlines() if line.startswith("Accuracy: ")]


# ------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def circles():
    return ini.load_dataset()


@pytest.fixture(scope="module")
def moons():
    return opt.load_dataset()


def _reg_path():
    """data.mat under $FASTDNN_DATA/course2 (default ../shared/datasets next to the repo)."""
    d = os.environ.get("FASTDNN_DATA") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.pardir, "shared", "datasets")
    return os.path.join(d, "course2", "data.mat")


@pytest.fixture(scope="module")
def reg_data():
    path = _reg_path()
    if not os.path.isfile(path):
        pytest.skip("data.mat not found at %s: set FASTDNN_DATA to the directory holding "
                    "course2/data.mat" % path)
    return reg.load_2D_dataset(path)


@functools.lru_cache(maxsize=None)
def _ref_run(kind, key):
    """The reference run ``key`` of notebook ``kind``, with the generator's state after it."""
    if kind == "init":
        X, Y, _, _ = ini.load_dataset()
        out = ref.run_initialization(X, Y, key)
    elif kind == "reg":
        X, Y, _, _ = reg.load_2D_dataset(_reg_path())
        lambd, keep_prob = key
        out = ref.run_regularization(X, Y, lambd=lambd, keep_prob=keep_prob)
    else:
        X, Y = opt.load_dataset()
        optimizer, lr, decay = key
        out = ref.run_optimization(X, Y, [2, 5, 2, 1], optimizer, learning_rate=lr, decay=decay)
    return out, rng_state()



# ------------------------------------------------------------------ initialization
INIT_EXPECTED = {   # the course's printed first cost and train / test accuracies
    "zeros": ("0.6931471805599453", "0.5", "0.5"),
    "random": ("inf", "0.83", "0.86"),
    "he": ("0.8830537463419761", "0.9933333333333333", "0.96"),
}


@pytest.mark.parametrize("kind", ["zeros", "random", "he"])
def test_initialization_model(kind, circles, capsys):
    train_X, train_Y, test_X, test_Y = circles
    with np.errstate(all="ignore"):
        params = ini.model(train_X, train_Y, initialization=kind)
        after = rng_state()
        p_train = ini.predict(train_X, train_Y, params)
        p_test = ini.predict(test_X, test_Y, params)
    out = capsys.readouterr().out
    first, acc_train, acc_test = INIT_EXPECTED[kind]
    lines = out.splitlines()
    assert lines[0] == "Cost after iteration 0: " + first
    assert accuracies(out) == ["Accuracy: " + acc_train, "Accuracy: " + acc_test]
    printed = parse(out)
    assert [i for i, _ in printed] == list(range(0, 15000, 1000))
    with np.errstate(all="ignore"):
        (ref_params, ref_costs), ref_after = _ref_run("init", kind)
    assert_same_rng(after, ref_after)
    if kind == "random":
        return      # chaotic: first cost and accuracies only
    np.testing.assert_allclose([c for _, c in printed], ref_costs, rtol=RTOL)
    params_close(params, ref_params)
    assert np.array_equal(p_train, ref.predict_labels(train_X, ref_params))
    assert np.array_equal(p_test, ref.predict_labels(test_X, ref_params))


# ------------------------------------------------------------------ regularization
REG_EXPECTED = {  # (lambd, keep_prob): the course's printed costs, train / test accuracy
    (0, 1): ([0.6557412523481002, 0.16329987525724216, 0.13851642423255986],
             "0.9478672985781991", "0.915"),
    (0.7, 1): ([0.6974484493131264, 0.2684918873282239, 0.2680916337127301],
               "0.9383886255924171", "0.93"),
    (0, 0.86): ([0.6543912405149825, 0.0610169865749056, 0.060582435798513114],
                "0.9289099526066351", "0.95"),
}


@pytest.mark.parametrize("lambd,keep_prob", list(REG_EXPECTED))
def test_regularization_model(lambd, keep_prob, reg_data, capsys):
    train_X, train_Y, test_X, test_Y = reg_data
    kwargs = {}
    if lambd:
        kwargs["lambd"] = lambd
    if keep_prob != 1:
        kwargs.update(keep_prob=keep_prob, learning_rate=0.3)
    with np.errstate(all="ignore"):
        params = reg.model(train_X, train_Y, **kwargs)
        after = rng_state()
        p_train = reg.predict(train_X, train_Y, params)
        p_test = reg.predict(test_X, test_Y, params)
    out = capsys.readouterr().out
    costs, acc_train, acc_test = REG_EXPECTED[(lambd, keep_prob)]
    printed = parse(out)
    assert [i for i, _ in printed] == [0, 10000, 20000]
    assert out.splitlines()[0] == "Cost after iteration 0: " + repr(costs[0])
    np.testing.assert_allclose([c for _, c in printed], costs, rtol=RTOL)
    assert accuracies(out) == ["Accuracy: " + acc_train, "Accuracy: " + acc_test]
    with np.errstate(all="ignore"):
        (ref_params, ref_costs), ref_after = _ref_run("reg", (lambd, keep_prob))
    assert_same_rng(after, ref_after)
    np.testing.assert_allclose([c for _, c in printed], ref_costs[::10], rtol=RTOL)
    params_close(params, ref_params)
    assert np.array_equal(p_train, ref.predict_labels(train_X, ref_params))
    assert np.array_equal(p_test, ref.predict_labels(test_X, ref_params))


def test_regularization_model_short_runs_and_quiet(reg_data, capsys):
    train_X, train_Y, _, _ = reg_data
    assert reg.model(train_X, train_Y, num_iterations=0, print_cost=False).keys() == \
        reg.initialize_parameters([2, 20, 3, 1]).keys()
    p = reg.model(train_X, train_Y.astype(bool), num_iterations=3, print_cost=False,
                  keep_prob=0.5)
    q = reg.model(train_X, train_Y, num_iterations=3, print_cost=False, keep_prob=0.5)
    params_close(p, q, 1e-15)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ optimization
# the course's printed lines (2021+ notebook, 5000 epochs)
OPT_RUNS = {
    ("gd", 0.0007, None): ["Cost after epoch 0: 0.702405", "Cost after epoch 1000: 0.668101",
                           "Cost after epoch 2000: 0.635288", "Cost after epoch 3000: 0.600491",
                           "Cost after epoch 4000: 0.573367"],
    ("momentum", 0.0007, None): ["Cost after epoch 0: 0.702413",
                                 "Cost after epoch 1000: 0.668167",
                                 "Cost after epoch 2000: 0.635388",
                                 "Cost after epoch 3000: 0.600591",
                                 "Cost after epoch 4000: 0.573444"],
    ("adam", 0.0007, None): ["Cost after epoch 0: 0.702166", "Cost after epoch 1000: 0.167845",
                             "Cost after epoch 2000: 0.141316", "Cost after epoch 3000: 0.138788",
                             "Cost after epoch 4000: 0.136066"],
    ("gd", 0.1, "update_lr"): [
        "Cost after epoch 0: 0.701091", "learning rate after epoch 0: 0.100000",
        "Cost after epoch 1000: 0.661884", "learning rate after epoch 1000: 0.000100",
        "Cost after epoch 2000: 0.658620", "learning rate after epoch 2000: 0.000050",
        "Cost after epoch 3000: 0.656765", "learning rate after epoch 3000: 0.000033",
        "Cost after epoch 4000: 0.655486", "learning rate after epoch 4000: 0.000025"],
    ("gd", 0.1, "schedule"): [
        "Cost after epoch 0: 0.701091", "learning rate after epoch 0: 0.100000",
        "Cost after epoch 1000: 0.127161", "learning rate after epoch 1000: 0.050000",
        "Cost after epoch 2000: 0.120304", "learning rate after epoch 2000: 0.033333",
        "Cost after epoch 3000: 0.117033", "learning rate after epoch 3000: 0.025000",
        "Cost after epoch 4000: 0.117512", "learning rate after epoch 4000: 0.020000"],
    ("momentum", 0.1, "schedule"): [
        "Cost after epoch 0: 0.702226", "learning rate after epoch 0: 0.100000",
        "Cost after epoch 1000: 0.128974", "learning rate after epoch 1000: 0.050000",
        "Cost after epoch 2000: 0.125965", "learning rate after epoch 2000: 0.033333",
        "Cost after epoch 3000: 0.123375", "learning rate after epoch 3000: 0.025000",
        "Cost after epoch 4000: 0.123218", "learning rate after epoch 4000: 0.020000"],
    ("adam", 0.01, "schedule"): [
        "Cost after epoch 0: 0.699346", "learning rate after epoch 0: 0.010000",
        "Cost after epoch 1000: 0.130074", "learning rate after epoch 1000: 0.005000",
        "Cost after epoch 2000: 0.129826", "learning rate after epoch 2000: 0.003333",
        "Cost after epoch 3000: 0.129282", "learning rate after epoch 3000: 0.002500",
        "Cost after epoch 4000: 0.128361", "learning rate after epoch 4000: 0.002000"],
}
DECAYS = {None: None, "update_lr": opt.update_lr, "schedule": opt.schedule_lr_decay}


@pytest.mark.parametrize("key", list(OPT_RUNS), ids=lambda k: "%s-%s-%s" % k)
def test_optimization_model(key, moons, capsys):
    optimizer, lr, decay = key
    train_X, train_Y = moons
    kwargs = {"beta": 0.9} if optimizer == "momentum" and decay is None else {}
    if decay is not None:
        kwargs.update(learning_rate=lr, num_epochs=5000, decay=DECAYS[decay])
    params = opt.model(train_X, train_Y, [train_X.shape[0], 5, 2, 1], optimizer=optimizer,
                       **kwargs)
    after = rng_state()
    pred = opt.predict(train_X, train_Y, params)
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == OPT_RUNS[key]
    (ref_params, ref_costs, ref_rates), ref_after = _ref_run("opt", key)
    assert_same_rng(after, ref_after)
    params_close(params, ref_params)
    assert np.array_equal(pred, ref.predict_labels(train_X, ref_params))
    assert out[-1] == "Accuracy: " + str(np.mean(pred[0] == train_Y[0]))
    printed = [float(line.rsplit(" ", 1)[1]) for line in out if line.startswith("Cost")]
    np.testing.assert_allclose(printed, ref_costs[::10], atol=5e-7, rtol=0)


def test_optimization_model_any_depth_and_batch(moons, capsys):
    train_X, train_Y = moons
    dims = [2, 6, 4, 3, 1]
    for optimizer in ("gd", "momentum", "adam"):
        p = opt.model(train_X, train_Y, dims, optimizer, learning_rate=0.01,
                      mini_batch_size=128, num_epochs=30, print_cost=False)
        (q, costs, _) = ref.run_optimization(train_X, train_Y, dims, optimizer,
                                             learning_rate=0.01, mini_batch_size=128,
                                             num_epochs=30)
        params_close(p, q)
    assert capsys.readouterr().out == ""
