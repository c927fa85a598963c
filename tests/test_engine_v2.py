"""Differential tests of engine v2 (SPEC Part II §5) against the plain-numpy
reference tests/reference_v2.py.

Through the public API, ``fastdnn.L_layer_model(..., **options)`` /
``two_layer_model`` (parameters), and through ``fastdnn.training.Trainer``
(parameters and the cost of every epoch, record_every=1), after 30 epochs on
small generated data (n_x = 5, m = 28, layers [5, 4, 3, n_L]).

"Relative" error of an array = max|a - b| / max(max|b|, tiny); the tolerance
is 1e-10 in float64 and 1e-4 in float32, for every parameter array and for
the array of recorded costs.

The matrix: every pair of the factors (hidden activation, output, optimiser,
L2, mini-batch size, dropout, dtype, initialisation) appears in at least one
case (a greedy pairwise covering, computed below), plus the full products
hidden x output x optimiser (float64, L2, dropout, mini-batches of 7) and
output x optimiser x dtype.  Separate tests: initialisers of both models
(and fastdnn.training.initialize_parameters), two_layer_model with options,
softmax label forms, multi-label sigmoid, the logistic alias, record_every,
scikit-learn's optimisers and loss convention, external shuffles, sample
weights, fixed dropout masks, decay, learning rates assigned between epochs,
a run split in pieces, the optimiser state (v, s, t), memory layouts, and
the layer API's options (L_model_forward, compute_cost, L_model_backward,
predict).
"""

import itertools
import math

import numpy as np
import pytest

import fastdnn
from fastdnn.training import Trainer, TrainingConfig

from tests import reference_v2 as r2

M = 28                      # 7 divides it, 10 does not, 64 is more than m
EPOCHS = 30
HIDDEN = ("relu", "tanh", "sigmoid", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity", "exp")
OPTIMIZERS = ("gd", "momentum", "adam")
LAMBDS = (0.0, 0.5)
BATCHES = (None, 1, 7, M, 10, 64)
KEEP_PROBS = (1.0, 0.8)
DTYPES = ("float64", "float32")
INITS = ("seed", "he", "zeros", "glorot")
TOL = {"float64": 1e-10, "float32": 1e-4}


def learning_rate(optimizer, output):
    """Rates at which all the combinations stay finite and well conditioned."""
    if optimizer == "adam":
        return 0.004
    return 0.01 if output == "exp" else 0.1


def n_steps(mini_batch_size, m=M):
    return 1 if mini_batch_size is None else math.ceil(m / mini_batch_size)


# ------------------------------------------------------------- comparisons
def check_params(got, want, dtype, what):
    tol = TOL[np.dtype(dtype).name]
    assert sorted(got) == sorted(want), "%s: keys %s vs %s" % (what, sorted(got), sorted(want))
    errs = {}
    for k in want:
        g = np.asarray(got[k])
        assert g.shape == want[k].shape, "%s: %s shape %s vs %s" % (what, k, g.shape,
                                                                    want[k].shape)
        assert g.dtype == np.dtype(dtype), "%s: %s dtype %s, want %s" % (what, k, g.dtype,
                                                                        dtype)
        errs[k] = r2.rel_err(g, want[k])
    bad = {k: e for k, e in errs.items() if not e <= tol}
    assert not bad, "%s: relative errors above %.0e: %s" % (
        what, tol, ", ".join("%s %.3e" % kv for kv in sorted(bad.items())))


def check_costs(got, want, dtype, what):
    tol = TOL[np.dtype(dtype).name]
    got = np.asarray(got, dtype=np.float64).ravel()
    assert got.shape == (len(want),), "%s: %d costs recorded, want %d" % (what, got.size,
                                                                         len(want))
    e = r2.rel_err(got, want)
    if not e <= tol:
        i = int(np.argmax(np.abs(got - np.asarray(want))))
        pytest.fail("%s: costs relative error %.3e > %.0e (worst at epoch %d: %r vs %r)"
                    % (what, e, tol, i, got[i], want[i]))


def assert_finite(params, costs, what):
    assert all(np.isfinite(v).all() for v in params.values()) and np.isfinite(costs).all(), \
        "test design: the reference run %s is not finite" % what


# ------------------------------------------------------------ the matrix
FACTORS = {
    "hidden": HIDDEN, "output": OUTPUTS, "optimizer": OPTIMIZERS, "lambd": LAMBDS,
    "batch": BATCHES, "keep_prob": KEEP_PROBS, "dtype": DTYPES, "init": INITS,
}


def pairwise_cases(factors):
    """A deterministic greedy covering of every pair of factor values."""
    names = list(factors)
    uncovered = set()
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        for va in range(len(factors[a])):
            for vb in range(len(factors[b])):
                uncovered.add((i, va, j, vb))
    rows = []
    while uncovered:
        i0, va0, j0, vb0 = min(uncovered)
        row = {i0: va0, j0: vb0}
        for k in range(len(names)):
            if k in row:
                continue
            best, best_gain = 0, -1
            for v in range(len(factors[names[k]])):
                gain = sum(((min(k, q), v if k < q else row[q], max(k, q),
                             row[q] if k < q else v) in uncovered) for q in row)
                if gain > best_gain:
                    best, best_gain = v, gain
            row[k] = best
        for (p, q) in itertools.combinations(sorted(row), 2):
            uncovered.discard((p, row[p], q, row[q]))
        rows.append({names[k]: factors[names[k]][row[k]] for k in range(len(names))})
    return rows


def case_id(c):
    return "-".join([c["hidden"], c["output"], c["optimizer"],
                     "l2" if c["lambd"] else "nol2",
                     "full" if c["batch"] is None else "mb%d" % c["batch"],
                     "drop" if c["keep_prob"] < 1 else "nodrop",
                     "f32" if c["dtype"] == "float32" else "f64", c["init"]])


PAIRWISE = pairwise_cases(FACTORS)
FULL_HOA = [dict(hidden=h, output=o, optimizer=opt, lambd=0.5, batch=7, keep_prob=0.8,
                 dtype="float64", init="he")
            for h, o, opt in itertools.product(HIDDEN, OUTPUTS, OPTIMIZERS)]
FULL_OOD = [dict(hidden="tanh", output=o, optimizer=opt, lambd=0.0, batch=10, keep_prob=1.0,
                 dtype=dt, init="glorot")
            for o, opt, dt in itertools.product(OUTPUTS, OPTIMIZERS, DTYPES)]


def test_pairwise_covering_is_complete():
    names = list(FACTORS)
    for a, b in itertools.combinations(names, 2):
        seen = {(c[a], c[b]) for c in PAIRWISE}
        assert seen == set(itertools.product(FACTORS[a], FACTORS[b])), (a, b)
    assert len(PAIRWISE) < 60


def options(c):
    return dict(hidden_activation=c["hidden"], output=c["output"], optimizer=c["optimizer"],
                mini_batch_size=c["batch"], lambd=c["lambd"], keep_prob=c["keep_prob"],
                seed=10, dtype=c["dtype"])


def run_case(c, *, public=True, trainer=True, data_seed=0):
    X, Y, n_out = r2.make_problem(c["output"], n_x=5, m=M, seed=data_seed)
    dims = [5, 4, 3, n_out]
    lr = learning_rate(c["optimizer"], c["output"])
    opts = options(c)
    what = case_id(c)
    ref_p, ref_c = r2.train_v2(X, Y, dims, learning_rate=lr, num_iterations=EPOCHS,
                               initialization=c["init"], record_every=1, **opts)
    assert_finite(ref_p, ref_c, what)
    if public:
        p = fastdnn.L_layer_model(X, Y, dims, learning_rate=lr, num_iterations=EPOCHS,
                                  print_cost=False, isPlot=False, initialization=c["init"],
                                  **opts)
        check_params(p, ref_p, c["dtype"], "L_layer_model " + what)
    if trainer:
        p0 = r2.initialize_parameters_v2(dims, c["init"], hidden_activation=c["hidden"],
                                         seed=10)
        cfg = TrainingConfig(learning_rate=lr, **opts)
        tr = Trainer(X, Y, p0, cfg)
        costs = tr.run(EPOCHS, record_every=1)
        check_params(tr.parameters(), ref_p, c["dtype"], "Trainer " + what)
        check_costs(costs, ref_c, c["dtype"], "Trainer " + what)
        assert tr.iteration == EPOCHS
        assert tr.t == EPOCHS * n_steps(c["batch"]), "%s: t = %d" % (what, tr.t)


@pytest.mark.parametrize("case", PAIRWISE, ids=case_id)
def test_pairwise(case):
    run_case(case)


@pytest.mark.parametrize("case", FULL_HOA, ids=case_id)
def test_hidden_x_output_x_optimizer(case):
    run_case(case)


@pytest.mark.parametrize("case", FULL_OOD, ids=case_id)
def test_output_x_optimizer_x_dtype(case):
    run_case(case)


# ---------------------------------------------------------- initialisers
@pytest.mark.parametrize("init", ["seed", "he", "zeros", "random", "glorot"])
@pytest.mark.parametrize("two_layer", [False, True], ids=["deep", "two_layer"])
def test_initialisers_both_models(init, two_layer):
    X, Y, _ = r2.make_problem("sigmoid", n_x=5, m=M, seed=1)
    dims = [5, 4, 1] if two_layer else [5, 4, 3, 1]
    hidden = "tanh" if init == "glorot" else "relu"
    lr = 0.001 if init == "random" else 0.05
    ref_p, _ = r2.train_v2(X, Y, dims, learning_rate=lr, num_iterations=EPOCHS,
                           initialization=init, hidden_activation=hidden, two_layer=two_layer)
    fn = fastdnn.two_layer_model if two_layer else fastdnn.L_layer_model
    p = fn(X, Y, dims, learning_rate=lr, num_iterations=EPOCHS, print_cost=False,
           isPlot=False, initialization=init, hidden_activation=hidden)
    check_params(p, ref_p, "float64", "%s init=%s" % (fn.__name__, init))
    # zero iterations where allowed: the initial parameters themselves
    want = r2.initialize_parameters_v2(dims, init, hidden_activation=hidden,
                                       two_layer=two_layer)
    try:
        p0 = fn(X, Y, dims, num_iterations=0, print_cost=False, isPlot=False,
                initialization=init, hidden_activation=hidden)
    except ValueError:
        return
    check_params(p0, want, "float64", "%s init=%s, 0 iterations" % (fn.__name__, init))


def test_glorot_uses_seed_and_logistic_factor():
    X, Y, _ = r2.make_problem("identity", n_x=5, m=M, seed=2)
    for hidden in ("sigmoid", "logistic"):
        ref_p, _ = r2.train_v2(X, Y, [5, 4, 3, 2], learning_rate=0.05, num_iterations=5,
                               initialization="glorot", hidden_activation=hidden,
                               output="identity", seed=33)
        p = fastdnn.L_layer_model(X, Y, [5, 4, 3, 2], learning_rate=0.05, num_iterations=5,
                                  print_cost=False, isPlot=False, initialization="glorot",
                                  hidden_activation=hidden, output="identity", seed=33)
        check_params(p, ref_p, "float64", "glorot " + hidden)


# ------------------------------------------------------------ target forms
@pytest.mark.parametrize("form", ["int_1m", "int_m", "onehot"])
def test_softmax_label_forms(form):
    X, Y, n = r2.make_problem("softmax", n_x=5, m=M, seed=3, n_out=4)
    if form == "int_m":
        Y = Y[0]
    elif form == "onehot":
        Y = r2.targets_matrix(Y, "softmax", n, np.float64)
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], learning_rate=0.004, num_iterations=EPOCHS,
                               hidden_activation="relu", output="softmax", optimizer="adam",
                               mini_batch_size=7, record_every=1)
    p = fastdnn.L_layer_model(X, Y, [5, 4, 3, n], learning_rate=0.004, num_iterations=EPOCHS,
                              print_cost=False, isPlot=False, hidden_activation="relu",
                              output="softmax", optimizer="adam", mini_batch_size=7)
    check_params(p, ref_p, "float64", "softmax labels " + form)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "seed")
    tr = Trainer(X, Y, p0, TrainingConfig(learning_rate=0.004, output="softmax",
                                          optimizer="adam", mini_batch_size=7))
    check_costs(tr.run(EPOCHS, record_every=1), ref_c, "float64", "softmax labels " + form)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_soft_targets_minibatch(dtype):
    """Shuffled batches gather one-hot targets from class indices and any other targets
    (here soft ones: each column a distribution) as they are: both against the reference."""
    X, Y, n = r2.make_problem("softmax", n_x=5, m=M, seed=6, n_out=4)
    onehot = r2.targets_matrix(Y, "softmax", n, np.float64)
    soft = 0.7 * onehot + 0.3 / n
    for name, T in (("one-hot", onehot), ("soft", soft)):
        kw = dict(learning_rate=0.01, hidden_activation="relu", output="softmax",
                  optimizer="adam", mini_batch_size=9, dtype=dtype)
        ref_p, ref_c = r2.train_v2(X, T, [5, 4, n], num_iterations=EPOCHS, record_every=1,
                                   **kw)
        tr = Trainer(X, T, r2.initialize_parameters_v2([5, 4, n], "seed"),
                     TrainingConfig(**kw))
        costs = tr.run(EPOCHS, record_every=1)
        check_params(tr.parameters(), ref_p, dtype, "softmax " + name)
        check_costs(costs, ref_c, dtype, "softmax " + name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_multilabel(dtype):
    X, Y, n = r2.make_problem("sigmoid", n_x=5, m=M, seed=4, n_out=3)
    kw = dict(learning_rate=0.1, hidden_activation="tanh", output="sigmoid",
              optimizer="momentum", mini_batch_size=10, lambd=0.2, keep_prob=0.8, dtype=dtype)
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], num_iterations=EPOCHS, record_every=1, **kw)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "seed")
    tr = Trainer(X, Y, p0, TrainingConfig(**kw))
    costs = tr.run(EPOCHS, record_every=1)
    check_params(tr.parameters(), ref_p, dtype, "multi-label")
    check_costs(costs, ref_c, dtype, "multi-label")


def test_logistic_is_sigmoid():
    X, Y, n = r2.make_problem("identity", n_x=5, m=M, seed=5)
    out = []
    for hidden in ("sigmoid", "logistic"):
        out.append(fastdnn.L_layer_model(X, Y, [5, 4, 3, n], learning_rate=0.1,
                                         num_iterations=EPOCHS, print_cost=False, isPlot=False,
                                         hidden_activation=hidden, output="identity"))
    ref_p, _ = r2.train_v2(X, Y, [5, 4, 3, n], learning_rate=0.1, num_iterations=EPOCHS,
                           hidden_activation="sigmoid", output="identity")
    check_params(out[0], ref_p, "float64", "sigmoid")
    check_params(out[1], ref_p, "float64", "logistic")


@pytest.mark.parametrize("record_every", [1, 7, 100])
def test_record_every(record_every):
    X, Y, _ = r2.make_problem("sigmoid", n_x=5, m=M, seed=6)
    _, ref_c = r2.train_v2(X, Y, [5, 4, 3, 1], learning_rate=0.1, num_iterations=EPOCHS,
                           mini_batch_size=7, record_every=record_every)
    tr = Trainer(X, Y, r2.initialize_parameters_v2([5, 4, 3, 1], "seed"),
                 TrainingConfig(learning_rate=0.1, mini_batch_size=7))
    check_costs(tr.run(EPOCHS, record_every=record_every), ref_c, "float64",
                "record_every=%d" % record_every)


# -------------------------------------------------- scikit-learn's flavours
SK_OUTPUTS = [("sigmoid", 1), ("sigmoid", 3), ("softmax", 3), ("identity", 2), ("exp", 2)]


@pytest.mark.parametrize("output,n_out", SK_OUTPUTS, ids=lambda v: str(v))
@pytest.mark.parametrize("optimizer,nesterov", [("sgd", True), ("sgd", False),
                                                ("adam_sklearn", True)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sklearn_flavours(output, n_out, optimizer, nesterov, dtype):
    X, Y, n = r2.make_problem(output, n_x=5, m=M, seed=7, n_out=n_out)
    w = np.random.RandomState(8).rand(M) * 2 + 0.1
    hidden = {"sigmoid": "relu", "softmax": "tanh", "identity": "logistic",
              "exp": "relu"}[output]
    lr = 0.01 if optimizer == "adam_sklearn" else (0.01 if output == "exp" else 0.05)
    kw = dict(learning_rate=lr, hidden_activation=hidden, output=output, optimizer=optimizer,
              momentum=0.8, nesterov=nesterov, mini_batch_size=10, shuffle="none",
              lambd=0.3, loss_convention="sklearn", seed=5, dtype=dtype)
    dims = [5, 4, 3, n]
    p0 = r2.initialize_parameters_v2(dims, "glorot", hidden_activation=hidden, seed=5)
    for sw in (None, w):
        ref_p, ref_c = r2.train_v2(X, Y, dims, parameters=p0, num_iterations=EPOCHS,
                                   record_every=1, sample_weight=sw, **kw)
        what = "%s nesterov=%s %s sw=%s %s" % (optimizer, nesterov, output, sw is not None,
                                               dtype)
        assert_finite(ref_p, ref_c, what)
        tr = Trainer(X, Y, p0, TrainingConfig(**kw), sample_weight=sw)
        costs = tr.run(EPOCHS, record_every=1)
        check_params(tr.parameters(), ref_p, dtype, what)
        check_costs(costs, ref_c, dtype, what)
        assert tr.t == EPOCHS * 3


@pytest.mark.parametrize("output,n_out", SK_OUTPUTS, ids=lambda v: str(v))
def test_loss_convention_sklearn_course2_optimisers(output, n_out):
    """loss_convention changes the loss values only: with course 2's optimisers."""
    X, Y, n = r2.make_problem(output, n_x=5, m=M, seed=9, n_out=n_out)
    for conv in ("course", "sklearn"):
        kw = dict(learning_rate=0.004, hidden_activation="relu", output=output,
                  optimizer="adam", mini_batch_size=7, loss_convention=conv, lambd=0.1)
        p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
        ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                                   record_every=1, **kw)
        tr = Trainer(X, Y, p0, TrainingConfig(**kw))
        costs = tr.run(EPOCHS, record_every=1)
        check_params(tr.parameters(), ref_p, "float64", conv)
        check_costs(costs, ref_c, "float64", conv)


def test_sklearn_clipping_and_course_clamp_differ_where_saturated():
    """A saturated sigmoid: course clamps the log at -100, sklearn clips A to
    [eps, 1-eps]; both costs as the reference computes them."""
    X, Y, _ = r2.make_problem("sigmoid", n_x=5, m=M, seed=10)
    p0 = r2.initialize_parameters_v2([5, 4, 3, 1], "random")      # x10: saturates
    for conv in ("course", "sklearn"):
        kw = dict(learning_rate=1e-4, hidden_activation="relu", output="sigmoid",
                  optimizer="gd", loss_convention=conv)
        ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, 1], parameters=p0, num_iterations=3,
                                   record_every=1, **kw)
        tr = Trainer(X, Y, p0, TrainingConfig(**kw))
        costs = tr.run(3, record_every=1)
        check_costs(costs, ref_c, "float64", "saturated " + conv)
        check_params(tr.parameters(), ref_p, "float64", "saturated " + conv)


@pytest.mark.parametrize("dtype", DTYPES)
def test_external_shuffle(dtype):
    X, Y, n = r2.make_problem("softmax", n_x=5, m=M, seed=11)
    rs = np.random.RandomState(0)
    perms = [rs.permutation(M) for _ in range(EPOCHS)]
    kw = dict(learning_rate=0.01, hidden_activation="relu", output="softmax",
              optimizer="adam_sklearn", mini_batch_size=6, shuffle="external", lambd=1e-3,
              loss_convention="sklearn", dtype=dtype)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "glorot", seed=3)
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               record_every=1, perms=perms, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(**kw))
    costs = [tr.run_epoch(perm=perm) for perm in perms]
    check_params(tr.parameters(), ref_p, dtype, "external shuffle")
    check_costs(costs, ref_c, dtype, "external shuffle")
    assert tr.iteration == EPOCHS and tr.t == EPOCHS * 5
    assert tr.run_epoch(perm=perms[0], compute_cost=False) is None


# ----------------------------------------------------------- sample weights
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("optimizer,batch", [("gd", None), ("adam", 7), ("momentum", 10)])
def test_sample_weights(output, optimizer, batch):
    X, Y, n = r2.make_problem(output, n_x=5, m=M, seed=12)
    w = np.random.RandomState(13).rand(M) * 3
    w[[2, 5]] = 0.0
    kw = dict(learning_rate=learning_rate(optimizer, output), hidden_activation="tanh",
              output=output, optimizer=optimizer, mini_batch_size=batch, lambd=0.4)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               record_every=1, sample_weight=w, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(**kw), sample_weight=w)
    costs = tr.run(EPOCHS, record_every=1)
    what = "sample weights %s %s batch=%s" % (output, optimizer, batch)
    check_params(tr.parameters(), ref_p, "float64", what)
    check_costs(costs, ref_c, "float64", what)


def test_unit_sample_weights_change_nothing():
    X, Y, n = r2.make_problem("identity", n_x=5, m=M, seed=14)
    kw = dict(learning_rate=0.1, output="identity", mini_batch_size=7, lambd=0.3)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    a = Trainer(X, Y, p0, TrainingConfig(**kw))
    b = Trainer(X, Y, p0, TrainingConfig(**kw), sample_weight=np.ones(M))
    ca, cb = a.run(EPOCHS, record_every=1), b.run(EPOCHS, record_every=1)
    check_costs(cb, list(ca), "float64", "unit weights")
    check_params(b.parameters(), a.parameters(), "float64", "unit weights")


# ------------------------------------------------------------- fixed masks
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fixed_dropout_masks(hidden, dtype):
    X, Y, n = r2.make_problem("sigmoid", n_x=5, m=M, seed=15)
    rs = np.random.RandomState(1)
    masks = [(rs.rand(4, M) < 0.8).astype(np.float64), (rs.rand(3, M) < 0.8).astype(np.float64)]
    kw = dict(learning_rate=0.1, hidden_activation=hidden, optimizer="momentum",
              keep_prob=0.8, dtype=dtype)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "seed")
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               record_every=1, dropout_masks=masks, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(**kw), dropout_masks=masks)
    costs = tr.run(EPOCHS, record_every=1)
    check_params(tr.parameters(), ref_p, dtype, "fixed masks " + hidden)
    check_costs(costs, ref_c, dtype, "fixed masks " + hidden)
    # bool masks are the same masks
    tr2 = Trainer(X, Y, p0, TrainingConfig(**kw), dropout_masks=[D > 0 for D in masks])
    tr2.run(EPOCHS, record_every=1)
    check_params(tr2.parameters(), ref_p, dtype, "fixed bool masks " + hidden)


# ---------------------------------------------------------------- decay
def _schedule7(lr0, epoch, rate):
    return r2.schedule_lr_decay(lr0, epoch, rate, time_interval=7)


@pytest.mark.parametrize("decay", [r2.update_lr, _schedule7], ids=["update_lr", "schedule"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_decay(decay, optimizer):
    X, Y, n = r2.make_problem("sigmoid", n_x=5, m=M, seed=16)
    lr = learning_rate(optimizer, "sigmoid") * 3
    kw = dict(hidden_activation="relu", optimizer=optimizer, mini_batch_size=10, decay=decay,
              decay_rate=0.5)
    ref_p, ref_c, st = r2.train_v2(X, Y, [5, 4, 3, n], learning_rate=lr, num_iterations=EPOCHS,
                                   record_every=1, return_state=True, **kw)
    p = fastdnn.L_layer_model(X, Y, [5, 4, 3, n], learning_rate=lr, num_iterations=EPOCHS,
                              print_cost=False, isPlot=False, **kw)
    check_params(p, ref_p, "float64", "L_layer_model decay %s" % optimizer)
    tr = Trainer(X, Y, r2.initialize_parameters_v2([5, 4, 3, n], "seed"),
                 TrainingConfig(learning_rate=lr, **kw))
    costs = tr.run(EPOCHS, record_every=1)
    check_params(tr.parameters(), ref_p, "float64", "Trainer decay %s" % optimizer)
    check_costs(costs, ref_c, "float64", "Trainer decay %s" % optimizer)
    assert tr.learning_rate == pytest.approx(st["learning_rate"], rel=1e-15)


# ------------------------------------------------------------ run in pieces
@pytest.mark.parametrize("dtype", DTYPES)
def test_run_in_pieces_equals_one_run(dtype):
    """run(11) then run(19) = the reference's 30 epochs: t, the shuffles, the
    dropout stream and the decayed rate carry over."""
    X, Y, n = r2.make_problem("exp", n_x=5, m=M, seed=17)
    kw = dict(learning_rate=0.01, hidden_activation="tanh", output="exp", optimizer="adam",
              mini_batch_size=7, keep_prob=0.8, lambd=0.2, decay=r2.update_lr,
              decay_rate=0.1, seed=4, dtype=dtype)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               record_every=1, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(**kw))
    c1 = tr.run(11, record_every=1)
    c2 = tr.run(EPOCHS - 11, record_every=1)
    check_params(tr.parameters(), ref_p, dtype, "pieces")
    check_costs(list(c1) + list(c2), ref_c, dtype, "pieces")
    assert tr.iteration == EPOCHS and tr.t == EPOCHS * 4


def test_trainer_does_not_modify_inputs():
    X, Y, n = r2.make_problem("identity", n_x=5, m=M, seed=18)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    keep = {k: v.copy() for k, v in p0.items()}
    X0, Y0 = X.copy(), Y.copy()
    tr = Trainer(X, Y, p0, TrainingConfig(learning_rate=0.1, output="identity",
                                          optimizer="adam", mini_batch_size=5))
    tr.run(3)
    assert all(np.array_equal(p0[k], keep[k]) for k in p0)
    assert np.array_equal(X, X0) and np.array_equal(Y, Y0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam_sklearn", "momentum"])
def test_learning_rate_assigned_between_epochs(optimizer):
    """trainer.learning_rate set after each epoch (scikit-learn's invscaling /
    adaptive schedules do this) = a decay that returns the same rates."""
    X, Y, n = r2.make_problem("identity", n_x=5, m=M, seed=19)
    rates = [0.05 / (1 + 0.3 * e) ** 0.5 for e in range(EPOCHS)]
    kw = dict(hidden_activation="relu", output="identity", optimizer=optimizer,
              mini_batch_size=9, lambd=0.1)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "glorot", seed=2)
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, learning_rate=0.05,
                               num_iterations=EPOCHS, record_every=1,
                               decay=lambda lr0, e, rate: rates[e], **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(learning_rate=0.05, **kw))
    costs = []
    for e in range(EPOCHS):
        costs.append(tr.run_epoch())
        tr.learning_rate = rates[e]
    check_params(tr.parameters(), ref_p, "float64", "assigned rates " + optimizer)
    check_costs(costs, ref_c, "float64", "assigned rates " + optimizer)


@pytest.mark.parametrize("init", ["seed", "he", "zeros", "random", "glorot"])
@pytest.mark.parametrize("two_layer", [False, True], ids=["deep", "two_layer"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_training_initialize_parameters(init, two_layer, dtype):
    from fastdnn.training import initialize_parameters
    dims = [6, 5, 2] if two_layer else [6, 5, 4, 2]
    for hidden in ("relu", "sigmoid"):
        got = initialize_parameters(dims, init, two_layer=two_layer, hidden_activation=hidden,
                                    seed=12, dtype=dtype)
        want = r2.initialize_parameters_v2(dims, init, two_layer=two_layer,
                                           hidden_activation=hidden, seed=12, dtype=dtype)
        assert sorted(got) == sorted(want)
        for k in want:
            assert got[k].dtype == np.dtype(dtype), k
            assert np.array_equal(got[k], want[k]), "%s %s %s" % (init, hidden, k)


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "sgd", "adam_sklearn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_state(optimizer, dtype):
    """v (and s) after 30 epochs = the reference optimiser's state; t counts steps."""
    X, Y, n = r2.make_problem("softmax", n_x=5, m=M, seed=20)
    lr = 0.004 if "adam" in optimizer else 0.05
    kw = dict(learning_rate=lr, hidden_activation="tanh", output="softmax",
              optimizer=optimizer, mini_batch_size=8, lambd=0.2, keep_prob=0.9, dtype=dtype)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    ref_p, _, st = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               return_state=True, **kw)
    tr = Trainer(X, Y, p0, TrainingConfig(**kw))
    tr.run(EPOCHS)
    check_params(tr.parameters(), ref_p, dtype, optimizer)
    opt = st["optimizer"]
    assert tr.t == opt.t == EPOCHS * 4
    want = {}
    for k in ref_p:
        want["v_" + k] = opt.v[k]
        if optimizer in ("adam", "adam_sklearn"):
            want["s_" + k] = opt.s[k]
    check_params(tr.optimizer_state(), want, dtype, optimizer + " state")


# ------------------------------------------------ the layer API's options
LAYER_OUTPUTS = [("sigmoid", 1), ("sigmoid", 3), ("softmax", 3), ("identity", 2)]


@pytest.mark.parametrize("output,n_out", LAYER_OUTPUTS, ids=str)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_layer_api_options(output, n_out, hidden, capsys):
    """L_model_forward / compute_cost / L_model_backward / predict with SPEC §5's
    options against the reference; dA1 (the gradient of m*J with respect to X, as
    the seed's dA1) against central differences of the reference cost."""
    X, Y, p = r2.gradcheck_problem(output, hidden, seed=21, n_out=n_out)
    m = X.shape[1]
    AL, caches = fastdnn.L_model_forward(X, p, hidden_activation=hidden, output=output)
    ref_AL, _, _ = r2.forward_v2(X, p, hidden_activation=hidden, output=output)
    assert AL.shape == ref_AL.shape
    assert r2.rel_err(AL, ref_AL) <= 1e-13
    Ym = r2.targets_matrix(Y, output, n_out, np.float64)
    cost = fastdnn.compute_cost(AL, Y, output=output)
    ref_cost = r2.step_cost(ref_AL, Ym, p, output)
    assert abs(float(cost) - ref_cost) <= 1e-12 * abs(ref_cost)
    grads = fastdnn.L_model_backward(AL, Y, caches, hidden_activation=hidden, output=output)
    _, ref_g = r2.loss_and_gradients_ref(X, Y, p, hidden_activation=hidden, output=output)
    for k, v in ref_g.items():
        assert r2.rel_err(grads[k], v) <= 1e-12, k
    num_dX = r2.numeric_grads(
        lambda q: m * r2.loss_and_gradients_ref(q["X"], Y, p, hidden_activation=hidden,
                                                output=output)[0], {"X": X})["dX"]
    assert np.linalg.norm(grads["dA1"] - num_dX) <= 1e-7 * np.linalg.norm(num_dX)
    pred = fastdnn.predict(X, Y, p, hidden_activation=hidden, output=output)
    if output == "sigmoid":
        want = (ref_AL > 0.5).astype(np.float64)
    elif output == "softmax":
        want = np.argmax(ref_AL, axis=0).reshape(1, m)
    else:
        want = ref_AL
    assert np.asarray(pred).shape == want.shape
    np.testing.assert_allclose(np.asarray(pred, dtype=np.float64), want, rtol=1e-13, atol=0)
    capsys.readouterr()


# ------------------------------------------------------------ memory layouts
@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed", "readonly_F"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_layouts_of_X_Y_and_parameters(layout, dtype):
    """X as scikit-learn passes it (a Fortran view), strided, reversed, read-only;
    the same numbers as the reference for mini-batches, dropout, Adam, L2."""
    from tests.conftest import as_layout
    X, Y, n = r2.make_problem("softmax", n_x=5, m=M, seed=22, labels="onehot")
    kw = dict(learning_rate=0.004, hidden_activation="relu", output="softmax",
              optimizer="adam", mini_batch_size=9, lambd=0.3, keep_prob=0.85, dtype=dtype)
    p0 = r2.initialize_parameters_v2([5, 4, 3, n], "he")
    ref_p, ref_c = r2.train_v2(X, Y, [5, 4, 3, n], parameters=p0, num_iterations=EPOCHS,
                               record_every=1, **kw)
    Xl, Yl = as_layout(X, layout), as_layout(Y, layout)
    pl = {k: as_layout(v, layout) for k, v in p0.items()}
    tr = Trainer(Xl, Yl, pl, TrainingConfig(**kw))
    costs = tr.run(EPOCHS, record_every=1)
    check_params(tr.parameters(), ref_p, dtype, "layout " + layout)
    check_costs(costs, ref_c, dtype, "layout " + layout)
    p = fastdnn.L_layer_model(Xl, Yl, [5, 4, 3, n], num_iterations=EPOCHS, print_cost=False,
                              isPlot=False, initialization="he", **kw)
    check_params(p, ref_p, dtype, "L_layer_model layout " + layout)


# --------------------------------------------------------- two_layer_model
TWO_LAYER_CASES = [
    dict(hidden="relu", output="sigmoid", optimizer="adam", lambd=0.5, batch=7, keep_prob=0.8,
         dtype="float64", init="seed"),
    dict(hidden="tanh", output="softmax", optimizer="momentum", lambd=0.0, batch=10,
         keep_prob=1.0, dtype="float32", init="he"),
    dict(hidden="sigmoid", output="identity", optimizer="gd", lambd=0.5, batch=None,
         keep_prob=0.8, dtype="float32", init="glorot"),
    dict(hidden="identity", output="exp", optimizer="adam", lambd=0.0, batch=1, keep_prob=1.0,
         dtype="float64", init="zeros"),
]


@pytest.mark.parametrize("case", TWO_LAYER_CASES, ids=case_id)
def test_two_layer_model_options(case):
    X, Y, n = r2.make_problem(case["output"], n_x=5, m=M, seed=23)
    lr = learning_rate(case["optimizer"], case["output"])
    opts = options(case)
    ref_p, _ = r2.train_v2(X, Y, (5, 6, n), learning_rate=lr, num_iterations=EPOCHS,
                           initialization=case["init"], two_layer=True, **opts)
    assert_finite(ref_p, np.zeros(1), case_id(case))
    p = fastdnn.two_layer_model(X, Y, (5, 6, n), learning_rate=lr, num_iterations=EPOCHS,
                                print_cost=False, isPlot=False, initialization=case["init"],
                                **opts)
    check_params(p, ref_p, case["dtype"], "two_layer_model " + case_id(case))
