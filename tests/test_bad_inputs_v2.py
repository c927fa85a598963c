"""The bad-input matrix over engine v2, the estimators and the course modules (issue 13).

Three families of cases, each run crash-isolated by tests/test_bad_inputs.py's runner
(``run_isolated``/``serve``: a worker subprocess, a segfault or hang costs exactly the
case it was running), with every warning turned into an error (a numpy RuntimeWarning
is never an acceptable answer):

* **configuration** -- every field of :class:`fastdnn.training.TrainingConfig` (the
  table comes from ``dataclasses.fields``; choices from ``fastdnn.training.registry``;
  nothing retyped) x {wrong type, None, bool, NaN, +inf, -inf, negative, zero, huge,
  out of range, a numpy scalar}, through ``TrainingConfig(...)``,
  ``fastdnn.L_layer_model(..., **kw)`` (the fields in its signature) and the CLI flag of
  the field (``fastdnn train --beta nan``, flags found in the parser by their ``dest``);
  plus combinations that make no sense (softmax with one output unit, gram with Adam,
  keep_prob 0, beta 1, epsilon 0, a decay returning NaN, ...).  Values no sane run
  can have (wrong type, None where not optional, bool, NaN, inf, a name not in the
  registry) must raise TypeError/ValueError naming the parameter and the value; others
  may be accepted, and then training must end with finite parameters (or
  TrainingDiverged, README's numbers policy), never a warning or another exception;
* **estimators** -- fastdnn.MLPClassifier / MLPRegressor against
  sklearn.neural_network's on the same input (the independent reference): NaN/inf,
  object and string X, one sample, one class, labels unseen at partial_fit, every sparse
  format, y of the wrong length, bad sample_weight, and every constructor parameter (the
  list from ``get_params()``) with bad values.  Both must raise the same exception type,
  or both succeed with equal predictions (and the same warning categories);
* **course functions** -- fastdnn.course2.* and the engine-v2 keywords of
  fastdnn.layers with caches and gradient dicts that do not chain (a layer missing, a
  cache of another network, transposed or 1-D arrays, a cache one layer short), NaN
  inputs (compared with tests/course2_reference.py, written from the course's formulas)
  and wrong-shaped parameters.

``run_matrix`` is what bench/count_hardening.py counts.
"""
import atexit
import contextlib
import dataclasses
import inspect
import io
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tests.test_bad_inputs import (_names_in, matrix_fixture, matrix_runner,  # noqa: E402
                                   repeated_ids, serve)


class Case:
    """One case: ``run()`` returns {"ok", "outcome", "detail"}."""

    def __init__(self, id, run):
        self.id, self.run = id, run


# ------------------------------------------------------------------ judging
def _value_tokens(value):
    """Strings one of which an error about ``value`` must contain (the value as given,
    or as the float it was converted to)."""
    toks = {str(value), repr(value)}
    if isinstance(value, str):
        try:
            toks.add(str(float(value)))
            toks.add(str(int(value)))
        except ValueError:
            pass
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        toks.add(str(float(value)))
        if float(value).is_integer():
            toks.add(str(int(value)))
    return tuple(t for t in toks if t)


def judge(call, expect, names, values=(), check=None, diverge_ok=False):
    """Run ``call()`` with warnings as errors.

    expect "raise": TypeError/ValueError whose message names one of ``names`` (whole
    token) and contains one of ``values`` (if given); "ok": returns, and ``check(result)``
    (None or a reason) passes; "either": one or the other.  ``diverge_ok``: a
    TrainingDiverged (FloatingPointError) counts as a clear answer of an accepted run.
    """
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            warnings.simplefilter("error")
            got = call()
    except (ValueError, TypeError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        named = _names_in(str(exc), names)
        valued = not values or any(v in str(exc) for v in values)
        if expect == "ok":
            return dict(ok=False, outcome="unexpected-error", detail=msg)
        ok = named and valued
        return dict(ok=ok, outcome="raised", detail=msg if ok else
                    f"{msg} -- does not name {names}" + (f" and one of {values}" if values else ""))
    except FloatingPointError as exc:
        ok = diverge_ok and expect in ("ok", "either")
        return dict(ok=ok, outcome="diverged", detail=f"{type(exc).__name__}: {exc}"[:300])
    except Warning as w:
        return dict(ok=False, outcome="warning", detail=f"{type(w).__name__}: {w}")
    except Exception as exc:  # noqa: BLE001 - any other exception is a failure
        return dict(ok=False, outcome="wrong-exception", detail=f"{type(exc).__name__}: {exc}")
    if expect == "raise":
        return dict(ok=False, outcome="no-raise", detail=f"returned {type(got).__name__}")
    err = check(got) if check else None
    return dict(ok=err is None, outcome="ok" if err is None else "mismatch", detail=err or "")


# ============================================================ 1. configuration
def _config_fields():
    """[(name, default, kind, optional)] from TrainingConfig's dataclass fields; kind one
    of "real", "int", "choice", "bool", "callable", "dtype" from the annotation."""
    from fastdnn.training import TrainingConfig
    out = []
    for f in dataclasses.fields(TrainingConfig):
        t = str(f.type)
        optional = "Optional" in t
        if f.name == "dtype":
            kind = "dtype"
        elif "Callable" in t:
            kind = "callable"
        elif "bool" in t:
            kind = "bool"
        elif "int" in t:
            kind = "int"
        elif "float" in t:
            kind = "real"
        elif "str" in t:
            kind = "choice"
        else:  # pragma: no cover - a new kind of field must be added here
            raise AssertionError(f"TrainingConfig.{f.name}: unknown annotation {t}")
        out.append((f.name, f.default, kind, optional))
    return out


def _choices(field):
    from fastdnn.training import registry
    table = {"hidden_activation": set(registry.HIDDEN_ACTIVATIONS) | set(registry.ACTIVATION_ALIASES),
             "output": registry.OUTPUTS, "optimizer": registry.OPTIMIZERS,
             "shuffle": registry.SHUFFLES, "loss_convention": registry.LOSS_CONVENTIONS,
             "solver": registry.SOLVERS, "dtype": registry.DTYPES}
    return sorted(table[field])


NAN, INF = float("nan"), float("inf")


def _variants(kind, optional):
    """{label: (value, expect)}: expect "raise" or "either" (accepted runs must train)."""
    v = {
        "wrong-type": ("x" if kind in ("real", "int", "bool", "callable") else 3, "raise"),
        "None": (None, "either" if optional or kind == "dtype" else "raise"),
        "bool": (True, "either" if kind == "bool" else "raise"),
        "NaN": (NAN, "raise"),
        "+inf": (INF, "raise"),
        "-inf": (-INF, "raise"),
        "negative": (-1, "either" if kind in ("real", "int") else "raise"),
        "negative-float": (-0.5, "either" if kind == "real" else "raise"),
        "zero": (0, "either" if kind in ("real", "int") else "raise"),
        "huge": (1e300, "either" if kind == "real" else "raise"),
        "huge-int": (10 ** 30, "either" if kind in ("real", "int") else "raise"),
        "1.5": (1.5, "either" if kind == "real" else "raise"),
        "2": (2, "either" if kind in ("real", "int") else "raise"),
        "np.float64": (np.float64(0.5), "either" if kind == "real" else "raise"),
        "np.int64": (np.int64(2), "either" if kind in ("real", "int") else "raise"),
        "list": ([1], "raise"),
        "bytes": (b"relu", "raise"),
    }
    if kind in ("choice", "dtype"):
        v["not-in-registry"] = ("no-such-name", "raise")
        v["upper-case"] = ("RELU", "raise")
    if kind == "real":
        v["complex"] = (1j, "raise")
        v["2**-1074"] = (5e-324, "either")
    if kind == "int":
        v["2**32"] = (2 ** 32, "either")
        v["2**63"] = (2 ** 63, "either")
    return v


def _tiny(seed=0, n_x=4, m=30, n_y=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((n_y, m)) > 0.5).astype(np.float64)
    return X, Y


def _finite_params(params):
    if not isinstance(params, dict) or not params:
        return f"expected a parameters dict, got {type(params).__name__}"
    bad = [k for k, a in params.items() if not np.all(np.isfinite(a))]
    return f"non-finite parameters {bad}" if bad else None


def _train(**kw):
    import fastdnn
    X, Y = _tiny()
    dims = kw.pop("_dims", [4, 3, 1])
    return fastdnn.L_layer_model(X, Y, dims, num_iterations=3, isPlot=False, **kw)


def _config_case(field, label, value, expect):
    from fastdnn.training import TrainingConfig

    def run():
        return judge(lambda: TrainingConfig(**{field: value}), expect, (field,),
                     _value_tokens(value))
    return Case(f"config/TrainingConfig/{field}/{label}", run)


def _model_case(field, label, value, expect):
    def run():
        kw = {field: value}
        if field == "output" and value == "softmax":   # softmax needs two output units
            kw["_dims"] = [4, 3, 2]
        return judge(lambda: _train(**kw), expect, (field,), _value_tokens(value),
                     check=_finite_params, diverge_ok=True)
    return Case(f"config/L_layer_model/{field}/{label}", run)


# ---------------------------------------------------------------- the CLI
_CLI_DATA = {}


def _cli_data():
    """A small course-layout data set (tests/test_cli.py's), made once per worker."""
    if "dir" not in _CLI_DATA:
        from tests.test_cli import write_small_dataset
        d = tempfile.mkdtemp(prefix="fastdnn-bad-cli-")
        atexit.register(shutil.rmtree, d, True)
        _CLI_DATA["dir"] = write_small_dataset(os.path.join(d, "data"), n_train=40, n_test=10)
        _CLI_DATA["tmp"] = d
    return _CLI_DATA["dir"], _CLI_DATA["tmp"]


def cli_flags():
    """{TrainingConfig field: its ``fastdnn train`` flag}, from the parser itself."""
    import argparse

    from fastdnn.cli import build_parser
    fields = {f[0] for f in _config_fields()}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for action in sub.choices["train"]._actions:
        if action.dest in fields and action.option_strings:
            out[action.dest] = action.option_strings[0]
    return out


CLI_TEXTS = {"wrong-type": "x", "NaN": "nan", "+inf": "inf", "-inf": "-inf", "negative": "-1",
             "zero": "0", "huge": "1e300", "1.5": "1.5", "empty": "", "not-in-registry":
             "no-such-name", "2**63": str(2 ** 63)}


def _judge_cli(stderr, lines, field, flag, text, out):
    if "internal error" in stderr or "Traceback" in stderr:
        return dict(ok=False, outcome="wrong-exception", detail=stderr[-500:])
    errors = [l for l in lines if l.startswith("fastdnn: error:")]
    if not errors:
        if not os.path.exists(out):
            return dict(ok=False, outcome="mismatch", detail=f"no error and no model: {stderr}")
        from fastdnn.model_io import load_model
        err = _finite_params(load_model(out).parameters)
        return dict(ok=err is None, outcome="ok" if err is None else "mismatch",
                    detail=err or "")
    msg = errors[0]
    if "training diverged" in msg:        # an accepted value whose run diverged
        ok = len(errors) == 1 and "nothing saved" in msg
        return dict(ok=ok, outcome="diverged", detail=msg)
    named = _names_in(msg, (flag, field, flag.lstrip("-")))
    valued = any(t in msg for t in _value_tokens(text)) if text else True
    ok = len(errors) == 1 and named and valued
    return dict(ok=ok, outcome="raised", detail=msg if ok else
                f"{msg} -- does not name {flag} and {text!r}")


def _cli_case(field, flag, label, text):
    def run():
        from fastdnn import cli
        data, tmp = _cli_data()
        out = os.path.join(tmp, f"m-{field}-{label}.h5")
        argv = ["train", "--data", data, "--layers", f"{8 * 8 * 3},3,1", "--iterations", "3",
                "--out", out, "--no-plot", "--quiet", f"{flag}={text}"]
        err = io.StringIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(err), \
                    contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("error")
                cli.main(argv)
        except BaseException as exc:  # noqa: BLE001 - cli.main must never raise
            return dict(ok=False, outcome="wrong-exception", detail=f"{type(exc).__name__}: {exc}")
        stderr = err.getvalue()
        return _judge_cli(stderr, [l for l in stderr.splitlines() if l.strip()], field, flag,
                          text, out)
    return Case(f"config/cli/{field}/{label}", run)


# ------------------------------------------------------ nonsense combinations
def _decay(result):
    def decay(lr0, epoch, rate):
        if isinstance(result, BaseException):
            raise result
        return result
    return decay


class _DecayError(Exception):
    pass


COMBOS = {
    # label: (L_layer_model keywords, expect, names)
    "softmax-one-output-unit": (dict(output="softmax"), "raise", ("output", "softmax")),
    "gram-with-adam": (dict(solver="gram", optimizer="adam"), "raise", ("solver",)),
    "keep_prob-0": (dict(keep_prob=0), "raise", ("keep_prob",)),
    "keep_prob-0-adam-minibatch": (dict(keep_prob=0.0, optimizer="adam", mini_batch_size=8),
                                   "raise", ("keep_prob",)),
    "beta-1-momentum": (dict(beta=1, optimizer="momentum"), "raise", ("beta",)),
    "beta1-1-adam": (dict(beta1=1, optimizer="adam"), "raise", ("beta1",)),
    "beta2-1-adam": (dict(beta2=1, optimizer="adam"), "raise", ("beta2",)),
    "epsilon-0-adam": (dict(epsilon=0, optimizer="adam"), "raise", ("epsilon",)),
    "decay-returns-NaN": (dict(decay=_decay(NAN), num_iterations=3), "raise", ("decay",)),
    "decay-returns-inf": (dict(decay=_decay(INF)), "raise", ("decay",)),
    "decay-returns-negative": (dict(decay=_decay(-0.1)), "raise", ("decay",)),
    "decay-returns-string": (dict(decay=_decay("0.1")), "raise", ("decay",)),
    "decay-returns-None": (dict(decay=_decay(None)), "raise", ("decay",)),
    "decay-returns-array": (dict(decay=_decay(np.array([0.1, 0.2]))), "raise", ("decay",)),
    "decay-returns-1-element-array": (dict(decay=_decay(np.array([0.01]))), "raise",
                                      ("decay",)),
    "decay-returns-complex": (dict(decay=_decay(0.1 + 1j)), "raise", ("decay",)),
    "decay-returns-0-d-array": (dict(decay=_decay(np.array(0.01))), "ok", ()),
    "decay-returns-np.float32": (dict(decay=_decay(np.float32(0.01))), "ok", ()),
    "decay-returns-bool": (dict(decay=_decay(True)), "raise", ("decay",)),
    "decay-wrong-signature": (dict(decay=lambda lr: lr), "raise", ("decay",)),
    "decay-rate-negative-update_lr": (dict(decay="update_lr", decay_rate=-1.0), "raise",
                                      ("decay_rate",)),
    "mini_batch_size-0": (dict(mini_batch_size=0), "raise", ("mini_batch_size",)),
    "mini_batch_size-float": (dict(mini_batch_size=8.0), "raise", ("mini_batch_size",)),
    "mini_batch_size-gt-m": (dict(mini_batch_size=1000), "ok", ()),
    "mini_batch_size-1": (dict(mini_batch_size=1, optimizer="adam"), "ok", ()),
    "mini_batch_size-m": (dict(mini_batch_size=30, optimizer="momentum"), "ok", ()),
    "dropout-one-layer": (dict(keep_prob=0.5, _dims=[4, 1]), "either", ("keep_prob",)),
    "softmax-labels-out-of-range": (dict(output="softmax", _dims=[4, 3, 2], _Y="labels-5"),
                                    "raise", ("Y",)),
    "identity-output-binary": (dict(output="identity"), "ok", ()),
    "float32-adam-dropout": (dict(dtype="float32", optimizer="adam", keep_prob=0.7,
                                  mini_batch_size=8), "ok", ()),
    "threads-and-gram": (dict(threads=1, solver="gram"), "ok", ()),
    "initialization-unknown": (dict(initialization="xavier"), "raise", ("initialization",)),
    "initialization-None": (dict(initialization=None), "raise", ("initialization",)),
    "num_iterations-negative": (dict(num_iterations=-1), "raise", ("num_iterations",)),
    "num_iterations-float": (dict(num_iterations=2.5), "raise", ("num_iterations",)),
    "num_iterations-nan": (dict(num_iterations=NAN), "raise", ("num_iterations",)),
    "learning_rate-negative": (dict(learning_rate=-0.1), "raise", ("learning_rate",)),
}


def _combo_case(label, kw, expect, names):
    def run():
        import fastdnn
        from fastdnn.course2.optimization import update_lr
        k = dict(kw)
        dims = k.pop("_dims", [4, 3, 1])
        ylab = k.pop("_Y", None)
        if k.get("decay") == "update_lr":
            k["decay"] = update_lr
        iters = k.pop("num_iterations", 3)
        X, Y = _tiny()
        if ylab == "labels-5":
            Y = np.array([[0, 1, 5] * 10])

        def call():
            return fastdnn.L_layer_model(X, Y, dims, num_iterations=iters, isPlot=False, **k)

        def check(p):
            err = _finite_params(p)
            if err or label != "dropout-one-layer":
                return err
            ref = fastdnn.L_layer_model(X, Y, dims, num_iterations=iters, isPlot=False)
            # no hidden layer, nothing to drop: the result without dropout (to rounding:
            # dropout takes the engine-v2 loop, the seed's training the fused engine)
            same = all(np.allclose(p[n], ref[n], rtol=1e-12, atol=1e-15) for n in ref)
            return None if same else "dropout with no hidden layer changed the result"
        return judge(call, expect, names, check=check, diverge_ok=True)
    return Case(f"combo/{label}", run)


def _decay_raising_case():
    """A decay that raises: its own exception reaches the caller unchanged (or a clear
    ValueError naming decay)."""
    def run():
        import fastdnn
        X, Y = _tiny()

        def bad(lr0, epoch, rate):
            raise _DecayError("boom")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                fastdnn.L_layer_model(X, Y, [4, 3, 1], num_iterations=3, isPlot=False, decay=bad)
        except _DecayError:
            return dict(ok=True, outcome="raised", detail="the decay's own exception")
        except ValueError as exc:
            ok = _names_in(str(exc), ("decay",))
            return dict(ok=ok, outcome="raised", detail=str(exc))
        except Exception as exc:  # noqa: BLE001
            return dict(ok=False, outcome="wrong-exception", detail=f"{type(exc).__name__}: {exc}")
        return dict(ok=False, outcome="no-raise", detail="returned")
    return Case("combo/decay-raises", run)


def config_cases():
    import fastdnn
    cases = []
    model_kw = set(inspect.signature(fastdnn.L_layer_model).parameters)
    flags = cli_flags()
    for field, default, kind, optional in _config_fields():
        variants = _variants(kind, optional)
        if kind in ("choice", "dtype"):
            for name in _choices(field):      # every registered name is accepted
                variants[f"valid-{name}"] = (name, "either")
        for label, (value, expect) in variants.items():
            cases.append(_config_case(field, label, value, expect))
            if field in model_kw:
                cases.append(_model_case(field, label, value, expect))
        if field in flags:
            for label, text in CLI_TEXTS.items():
                cases.append(_cli_case(field, flags[field], label, text))
    for label, (kw, expect, names) in COMBOS.items():
        cases.append(_combo_case(label, kw, expect, names))
    cases.append(_decay_raising_case())
    return cases


# =============================================================== 2. estimators
def _est_data(kind, n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(int) if kind == "clf" else \
        X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(n)
    return X, y


def _est_pair(kind, **params):
    import sklearn.neural_network as skn

    import fastdnn.sklearn as fsk
    name = "MLPClassifier" if kind == "clf" else "MLPRegressor"
    base = dict(hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    base.update(params)
    return getattr(fsk, name), getattr(skn, name), base


def _outcome(fn):
    """('ok', result, warning categories) or ('raise', exception, categories)."""
    sink = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sink):
        warnings.simplefilter("always")
        try:
            res = ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - compared with scikit-learn's
            res = ("raise", exc)
    cats = sorted({w.category.__name__ for w in caught})
    return res + (cats,)


def _summary(model, X):
    """What is compared after a successful fit: predictions (and probabilities)."""
    out = {"predict": np.asarray(model.predict(X)), "float32": model.coefs_[0].dtype == np.float32}
    if hasattr(model, "predict_proba"):
        out["proba"] = model.predict_proba(X)
    return out


def _compare_estimators(kind, params, action, stricter=False):
    """Run ``action(estimator)`` (returning data to predict on, or raising) with fastdnn's
    and scikit-learn's estimator; the answers must agree.  ``stricter``: a deliberate
    difference (negative sample weights): fastdnn refuses them with a ValueError naming
    sample_weight where scikit-learn trains (on a loss then unbounded below)."""
    try:
        fast_cls, sk_cls, base = _est_pair(kind, **params)
    except Exception as exc:  # noqa: BLE001
        return dict(ok=False, outcome="harness-error", detail=repr(exc))

    def run(cls):
        def fn():
            est = cls(**base)
            Xp = action(est)
            return _summary(est, Xp)
        return _outcome(fn)

    sk = run(sk_cls)
    fa = run(fast_cls)
    if "RuntimeWarning" in fa[2] and "RuntimeWarning" not in sk[2]:
        return dict(ok=False, outcome="warning", detail=f"fastdnn warned {fa[2]}")
    if sk[0] == "raise":
        if fa[0] != "raise":
            return dict(ok=False, outcome="no-raise",
                        detail=f"scikit-learn raised {type(sk[1]).__name__}: {sk[1]}; fastdnn did not")
        same = type(fa[1]) is type(sk[1]) or (isinstance(fa[1], (ValueError, TypeError)) and
                                               isinstance(fa[1], type(sk[1])))
        return dict(ok=same, outcome="raised", detail=(
            f"{type(fa[1]).__name__}: {fa[1]}" if same else
            f"fastdnn {type(fa[1]).__name__}: {fa[1]} != scikit-learn {type(sk[1]).__name__}: {sk[1]}")[:600])
    if fa[0] == "raise" and stricter and isinstance(fa[1], ValueError) and \
            _names_in(str(fa[1]), ("sample_weight",)):
        return dict(ok=True, outcome="raised", detail=f"stricter than scikit-learn: {fa[1]}")
    if fa[0] == "raise":
        return dict(ok=False, outcome="unexpected-error",
                    detail=f"{type(fa[1]).__name__}: {fa[1]} (scikit-learn succeeded)"[:600])
    a, b = fa[1], sk[1]
    if a["predict"].shape != b["predict"].shape or a["predict"].dtype != b["predict"].dtype:
        return dict(ok=False, outcome="mismatch",
                    detail=f"predict {a['predict'].shape} {a['predict'].dtype} != "
                           f"scikit-learn {b['predict'].shape} {b['predict'].dtype}")
    # the same numbers to rounding (float32 X trains in float32 in both)
    low = a["float32"] or b["float32"]
    tol = dict(rtol=1e-5, atol=1e-6) if low else dict(rtol=1e-6, atol=1e-8)
    if kind == "clf":
        if not np.array_equal(a["predict"], b["predict"]):
            return dict(ok=False, outcome="mismatch", detail="predictions differ")
        if not np.allclose(a["proba"], b["proba"], **tol):
            return dict(ok=False, outcome="mismatch", detail="probabilities differ")
    elif not np.allclose(a["predict"], b["predict"], **tol):
        return dict(ok=False, outcome="mismatch", detail="predictions differ")
    if set(fa[2]) - {"RuntimeWarning"} != set(sk[2]) - {"RuntimeWarning"}:
        return dict(ok=False, outcome="mismatch", detail=f"warnings {fa[2]} != scikit-learn {sk[2]}")
    return dict(ok=True, outcome="ok", detail="")


def _fit_with(X_edit=None, y_edit=None, sw=None, kind="clf"):
    def action(est):
        X, y = _est_data(kind)
        X2 = X_edit(X) if X_edit else X
        y2 = y_edit(y) if y_edit else y
        if sw is None:
            est.fit(X2, y2)
        else:
            est.fit(X2, y2, sample_weight=sw(len(y)))
        return X
    return action


def _with_value(value, where=(0, 0)):
    def edit(X):
        X = X.astype(np.float64).copy()
        X[where] = value
        return X
    return edit


def _sparse(fmt):
    def edit(X):
        import scipy.sparse as sp
        X = X.copy()
        X[np.abs(X) < 0.7] = 0.0
        return sp.csr_matrix(X).asformat(fmt)
    return edit


def _partial_unseen(est):
    X, y = _est_data("clf")
    est.partial_fit(X, y, classes=[0, 1])
    y2 = y.copy()
    y2[0] = 2
    est.partial_fit(X, y2)
    return X


def _partial_no_classes(est):
    X, y = _est_data("clf")
    est.partial_fit(X, y)
    return X


def _partial_classes_change(est):
    X, y = _est_data("clf")
    est.partial_fit(X, y, classes=[0, 1])
    est.partial_fit(X, y, classes=[0, 1, 2])
    return X


def _partial_features_change(est):
    X, y = _est_data("clf")
    est.partial_fit(X, y, classes=[0, 1])
    est.partial_fit(X[:, :2], y)
    return X


def _predict_wrong_features(est):
    X, y = _est_data("clf" if hasattr(est, "predict_proba") or "Classifier" in type(est).__name__
                     else "reg")
    est.fit(X, y)
    est.predict(X[:, :2])
    return X


def _predict_nan(est):
    X, y = _est_data("clf" if "Classifier" in type(est).__name__ else "reg")
    est.fit(X, y)
    X2 = X.copy()
    X2[0, 0] = np.nan
    est.predict(X2)
    return X


#: where fastdnn refuses what scikit-learn accepts (README: the estimators' differences)
STRICTER_THAN_SKLEARN = ("sample_weight-negative", "sample_weight-one-negative")

BAD_PARAM_VALUES = {"str": "x", "None": None, "True": True, "nan": NAN, "inf": INF,
                    "neg": -1, "zero": 0, "1.5": 1.5, "huge": 10 ** 12, "empty-tuple": (),
                    "zero-layer": (0,), "neg-layer": (-3,), "float-layer": (2.5,),
                    "list-layer": [4, 2]}


def estimator_cases():
    cases = []

    def add(kind, label, params, action):
        stricter = label in STRICTER_THAN_SKLEARN
        cases.append(Case(f"estimator/{kind}/{label}",
                          lambda: _compare_estimators(kind, params, action, stricter)))

    for kind in ("clf", "reg"):
        for label, edit in {
            "X-NaN": _with_value(np.nan), "X-+inf": _with_value(np.inf),
            "X--inf": _with_value(-np.inf), "X-1e308": _with_value(1e308),
            "X-object-numbers": lambda X: X.astype(object),
            "X-object-strings": lambda X: np.where(X > 0, "a", "b").astype(object),
            "X-strings-of-numbers": lambda X: X.astype(str),
            "X-complex": lambda X: X.astype(np.complex128),
            "X-1-d": lambda X: X[:, 0],
            "X-3-d": lambda X: X[:, :, None],
            "X-no-features": lambda X: X[:, :0],
            "X-list": lambda X: X.tolist(),
            "X-float32": lambda X: X.astype(np.float32),
            "X-int": lambda X: np.rint(X * 3).astype(np.int64),
            "X-bool": lambda X: X > 0,
            "X-F-order": np.asfortranarray,
            "X-strided": lambda X: np.repeat(X, 2, axis=0)[::2],
            "X-readonly": lambda X: _readonly(X),
            "X-big-endian": lambda X: X.astype(">f8"),
        }.items():
            add(kind, label, {}, _fit_with(X_edit=edit, kind=kind))
        for fmt in ("csr", "csc", "coo", "lil", "dok", "bsr"):
            add(kind, f"X-sparse-{fmt}", {}, _fit_with(X_edit=_sparse(fmt), kind=kind))
        add(kind, "one-sample", {}, _fit_with(X_edit=lambda X: X[:1], y_edit=lambda y: y[:1],
                                              kind=kind))
        add(kind, "two-samples", {}, _fit_with(X_edit=lambda X: X[:2], y_edit=lambda y: y[:2],
                                               kind=kind))
        add(kind, "zero-samples", {}, _fit_with(X_edit=lambda X: X[:0], y_edit=lambda y: y[:0],
                                                kind=kind))
        add(kind, "y-too-short", {}, _fit_with(y_edit=lambda y: y[:-1], kind=kind))
        add(kind, "y-too-long", {}, _fit_with(y_edit=lambda y: np.r_[y, y[:1]], kind=kind))
        add(kind, "y-column", {}, _fit_with(y_edit=lambda y: y.reshape(-1, 1), kind=kind))
        add(kind, "y-NaN", {}, _fit_with(y_edit=lambda y: np.where(np.arange(len(y)) == 0,
                                                                    np.nan, y), kind=kind))
        add(kind, "y-inf", {}, _fit_with(y_edit=lambda y: np.where(np.arange(len(y)) == 0,
                                                                    np.inf, y), kind=kind))
        add(kind, "y-None", {}, _fit_with(y_edit=lambda y: None, kind=kind))
        add(kind, "y-3-d", {}, _fit_with(y_edit=lambda y: y.reshape(-1, 1, 1), kind=kind))
        for label, sw in {
            "sample_weight-negative": lambda n: -np.ones(n),
            "sample_weight-one-negative": lambda n: np.r_[-1.0, np.ones(n - 1)],
            "sample_weight-NaN": lambda n: np.r_[np.nan, np.ones(n - 1)],
            "sample_weight-inf": lambda n: np.r_[np.inf, np.ones(n - 1)],
            "sample_weight-short": lambda n: np.ones(n - 1),
            "sample_weight-2-d": lambda n: np.ones((n, 1)),
            "sample_weight-zeros": lambda n: np.zeros(n),
            "sample_weight-scalar": lambda n: 2.0,
            "sample_weight-strings": lambda n: np.array(["1"] * n),
            "sample_weight-valid": lambda n: np.linspace(0.5, 2.0, n),
        }.items():
            add(kind, label, {}, _fit_with(sw=sw, kind=kind))
        add(kind, "predict-wrong-features", {}, _predict_wrong_features)
        add(kind, "predict-NaN", {}, _predict_nan)
        # every constructor parameter with bad values
        fast_cls, _, _ = _est_pair(kind)
        for param in sorted(fast_cls().get_params()):
            for label, value in BAD_PARAM_VALUES.items():
                if param in ("random_state", "verbose") and label in ("neg", "huge", "zero",
                                                                      "None", "True"):
                    continue        # valid seeds / verbosity levels: checked elsewhere
                add(kind, f"param-{param}-{label}", {param: value}, _fit_with(kind=kind))
    add("clf", "one-class", {}, _fit_with(y_edit=lambda y: np.zeros_like(y)))
    add("clf", "string-labels", {}, _fit_with(y_edit=lambda y: np.where(y > 0, "cat", "dog")))
    add("clf", "float-labels-continuous", {}, _fit_with(y_edit=lambda y: y + 0.5 *
                                                        np.arange(len(y))))
    add("clf", "multilabel", {}, _fit_with(y_edit=lambda y: np.c_[y, 1 - y]))
    add("clf", "partial_fit-unseen-label", {}, _partial_unseen)
    add("clf", "partial_fit-no-classes", {}, _partial_no_classes)
    add("clf", "partial_fit-classes-change", {}, _partial_classes_change)
    add("clf", "partial_fit-features-change", {}, _partial_features_change)
    add("clf", "partial_fit-lbfgs", {"solver": "lbfgs"}, _partial_no_classes)
    return cases


def _readonly(X):
    X = X.copy()
    X.flags.writeable = False
    return X


# ========================================================== 3. course functions
def _c2_base(seed=1, dims=(2, 4, 3, 1), m=6):
    rng = np.random.RandomState(seed)
    X = rng.randn(dims[0], m)
    Y = (rng.rand(1, m) > 0.5).astype(np.int64)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.randn(dims[l], dims[l - 1]) * 0.5
        params[f"b{l}"] = rng.randn(dims[l], 1) * 0.1
    return X, Y, params


def _course_modules():
    from fastdnn.course2 import gradient_checking, initialization, optimization, regularization
    return initialization, regularization, optimization, gradient_checking


def _ref_forward(X, params):
    from tests import course2_reference as R
    return R.forward(X, R._to_layers(params))


def _check_equal(expected):
    def check(got):
        got = np.asarray(got, dtype=np.float64)
        exp = np.asarray(expected, dtype=np.float64)
        if got.shape != exp.shape:
            return f"shape {got.shape} != reference {exp.shape}"
        if not np.allclose(got, exp, rtol=1e-10, atol=1e-12, equal_nan=True):
            return f"values differ: {got!r} vs reference {exp!r}"
        return None
    return check


def _course_case(label, call, expect, names, check=None):
    return Case(f"course/{label}", lambda: judge(call, expect, names, check=check))


def _edited(d, **changes):
    d = dict(d)
    for k, v in changes.items():
        if v is _DEL:
            del d[k]
        else:
            d[k] = v
    return d


_DEL = object()


def course_cases():
    cases = []
    init_m, reg_m, opt_m, gc_m = _course_modules()
    X, Y, P = _c2_base()
    X5, Y5, P5 = _c2_base(dims=(5, 3, 2, 1))          # another network
    forwards = {"initialization.forward_propagation": init_m.forward_propagation,
                "regularization.forward_propagation": reg_m.forward_propagation,
                "optimization.forward_propagation": opt_m.forward_propagation,
                "regularization.forward_propagation_with_dropout":
                    lambda X, P: reg_m.forward_propagation_with_dropout(X, P, keep_prob=0.8),
                "gradient_checking.forward_propagation_n":
                    lambda X, P: gc_m.forward_propagation_n(X, Y, P)}
    bad_params = {
        "missing-W2": (_edited(P, W2=_DEL), ("parameters", "W2")),
        "missing-b3": (_edited(P, b3=_DEL), ("parameters", "b3")),
        "W2-transposed": (_edited(P, W2=P["W2"].T.copy()), ("W2", "parameters")),
        "b1-1-d": (_edited(P, b1=P["b1"].ravel()), ("b1", "parameters")),
        "b1-extra-column": (_edited(P, b1=np.hstack([P["b1"], P["b1"]])), ("b1", "parameters")),
        "W1-1-d": (_edited(P, W1=P["W1"].ravel()), ("W1", "parameters")),
        "W1-None": (_edited(P, W1=None), ("W1", "parameters")),
        "W1-strings": (_edited(P, W1=P["W1"].astype(str)), ("W1", "parameters")),
        "other-network": (P5, ("W1", "X", "parameters")),
        "not-a-dict": (list(P.values()), ("parameters",)),
        "extra-W4-only": (_edited(P, W4=np.ones((1, 1))), ("parameters", "W4", "b4")),
    }
    for fname, f in forwards.items():
        for label, (params, names) in bad_params.items():
            cases.append(_course_case(f"{fname}/{label}", lambda f=f, p=params: f(X, p),
                                      "raise", names))
        cases.append(_course_case(f"{fname}/X-wrong-rows", lambda f=f: f(X5, P), "raise",
                                  ("X", "W1")))
        cases.append(_course_case(f"{fname}/X-1-d", lambda f=f: f(X[0], P), "raise",
                                  ("X", "W1")))
    # NaN inputs: the course's formulas, NaN where numpy has NaN, no warning
    Xn = X.copy()
    Xn[0, 1] = np.nan
    acts = _ref_forward(Xn, P)
    for fname in ("initialization.forward_propagation", "regularization.forward_propagation",
                  "optimization.forward_propagation"):
        cases.append(_course_case(f"{fname}/X-NaN", lambda f=forwards[fname]: f(Xn, P)[0],
                                  "ok", (), check=_check_equal(acts[-1])))
    # backward passes with caches that do not chain
    backwards = {"initialization.backward_propagation": init_m.backward_propagation,
                 "regularization.backward_propagation": reg_m.backward_propagation,
                 "optimization.backward_propagation": opt_m.backward_propagation,
                 "regularization.backward_propagation_with_regularization":
                     lambda X, Y, c: reg_m.backward_propagation_with_regularization(X, Y, c, 0.1),
                 "gradient_checking.backward_propagation_n": gc_m.backward_propagation_n}
    _, cache = init_m.forward_propagation(X, P)
    _, cache5 = init_m.forward_propagation(X5, P5)
    bad_caches = {
        "other-network": (X, Y, cache5),
        "one-layer-short": (X, Y, cache[:8]),
        "one-entry-short": (X, Y, cache[:-1]),
        "None": (X, Y, None),
        "reversed-layers": (X, Y, cache[8:] + cache[4:8] + cache[:4]),
        "Z-transposed": (X, Y, (cache[0].T.copy(),) + cache[1:]),
        "A1-extra-column": (X, Y, cache[:1] + (np.hstack([cache[1], cache[1][:, :1]]),)
                            + cache[2:]),
        "X-other-m": (X[:, :-1], Y[:, :-1], cache),
        "Y-column": (X, Y.T.copy(), cache),
        "Y-1-d": (X, Y.ravel(), cache),
        "Y-two-rows": (X, np.vstack([Y, Y]), cache),
        "X-wrong-rows": (X5[:, :X.shape[1]], Y, cache),
    }
    for fname, f in backwards.items():
        for label, args in bad_caches.items():
            expect = "either" if label == "Y-1-d" else "raise"
            names = ("cache", "X", "Y", "W1", "Z1", "A1", "A3")
            cases.append(_course_case(f"{fname}/cache-{label}", lambda f=f, a=args: f(*a),
                                      expect, names))
    # NaN in X through the backward passes: the course's formulas (the reference's
    # gradients of the mean cross-entropy; relu' of NaN is 0 in both)
    from tests import course2_reference as R
    _, cache_n = init_m.forward_propagation(Xn, P)
    ref_grads = R.backward(acts, Y, R._to_layers(P))
    for fname in ("initialization.backward_propagation", "regularization.backward_propagation",
                  "optimization.backward_propagation"):
        for l, key in ((1, "dW1"), (1, "db1"), (3, "dW3")):
            expected = ref_grads[l - 1][0 if key.startswith("dW") else 1]
            cases.append(_course_case(f"{fname}/X-NaN-{key}",
                                      lambda f=backwards[fname], key=key: f(Xn, Y, cache_n)[key],
                                      "ok", (), check=_check_equal(expected)))
    # dropout caches
    np.random.seed(1)
    _, dcache = reg_m.forward_propagation_with_dropout(X, P, keep_prob=0.8)
    for label, args in {"no-dropout-cache": (X, Y, cache, 0.8),
                        "keep_prob-0": (X, Y, dcache, 0.0),
                        "keep_prob-nan": (X, Y, dcache, NAN),
                        "one-entry-short": (X, Y, dcache[:-1], 0.8)}.items():
        cases.append(_course_case(f"regularization.backward_propagation_with_dropout/{label}",
                                  lambda a=args: reg_m.backward_propagation_with_dropout(*a),
                                  "raise", ("cache", "keep_prob")))
    # costs with shapes that do not match
    a3 = _ref_forward(X, P)[-1]
    costs = {"initialization.compute_loss": init_m.compute_loss,
             "regularization.compute_cost": reg_m.compute_cost,
             "optimization.compute_cost": opt_m.compute_cost}
    for fname, f in costs.items():
        # labels as (m,) are one row (the gradient-checking fixture's Y): either answer
        for label, args in {"Y-column": (a3, Y.T.copy()), "Y-1-d": (a3, Y.ravel()),
                            "Y-extra-column": (a3, np.hstack([Y, Y[:, :1]])),
                            "a3-column": (a3.T.copy(), Y), "a3-None": (None, Y)}.items():
            cases.append(_course_case(f"{fname}/{label}", lambda f=f, a=args: f(*a),
                                      "either" if label == "Y-1-d" else "raise",
                                      ("a3", "Y", "A3", "AL"),
                                      check=_check_equal(f(a3, Y)) if label == "Y-1-d" else None))
        a3n = a3.copy()
        a3n[0, 0] = np.nan
        a3z = a3.copy()
        a3z[0, 0] = 1.0 - Y[0, 0]          # a log(0) term: the course's nansum drops it
        from tests import course2_reference as R
        for label, a in (("a3-NaN", a3n), ("a3-saturated", a3z)):
            expected = R.cost_nansum(a, Y) if fname != "optimization.compute_cost" else \
                np.sum(R.xent_terms(a, Y))
            cases.append(_course_case(f"{fname}/{label}", lambda f=f, a=a: f(a, Y), "ok", (),
                                      check=_check_equal(expected)))
    cases.append(_course_case(
        "regularization.compute_cost_with_regularization/missing-W3",
        lambda: reg_m.compute_cost_with_regularization(a3, Y, _edited(P, W3=_DEL), 0.1),
        "raise", ("parameters", "W3")))
    cases.append(_course_case(
        "regularization.compute_cost_with_regularization/lambd-nan",
        lambda: reg_m.compute_cost_with_regularization(a3, Y, P, NAN), "raise", ("lambd",)))
    # updates with gradient dicts that do not chain
    grads = init_m.backward_propagation(X, Y, cache)
    bad_grads = {
        "missing-dW2": _edited(grads, dW2=_DEL),
        "dW1-transposed": _edited(grads, dW1=grads["dW1"].T.copy()),
        "db1-1-d": _edited(grads, db1=grads["db1"].ravel()),
        "db2-row": _edited(grads, db2=grads["db2"].T.copy()),
        "other-network": init_m.backward_propagation(X5, Y5, cache5),
        "None": None,
    }
    zeros = opt_m.initialize_velocity(P)
    updates = {
        "optimization.update_parameters_with_gd":
            lambda g: opt_m.update_parameters_with_gd(dict(P), g, 0.1),
        "regularization.update_parameters": lambda g: reg_m.update_parameters(dict(P), g, 0.1),
        "optimization.update_parameters_with_momentum":
            lambda g: opt_m.update_parameters_with_momentum(dict(P), g, dict(zeros), 0.9, 0.1),
        "optimization.update_parameters_with_adam":
            lambda g: opt_m.update_parameters_with_adam(dict(P), g, dict(zeros), dict(zeros), 1),
    }
    for fname, f in updates.items():
        for label, g in bad_grads.items():
            cases.append(_course_case(f"{fname}/grads-{label}", lambda f=f, g=g: f(g), "raise",
                                      ("grads", "dW1", "dW2", "db1", "db2")))
    for label, (v, s) in {"v-missing-db1": (_edited(zeros, db1=_DEL), zeros),
                          "v-wrong-shape": (_edited(zeros, dW1=np.zeros((1, 1))), zeros),
                          "s-missing-dW3": (zeros, _edited(zeros, dW3=_DEL)),
                          "s-wrong-shape": (zeros, _edited(zeros, db2=np.zeros((3, 2))))}.items():
        cases.append(_course_case(
            f"optimization.update_parameters_with_adam/{label}",
            lambda v=v, s=s: opt_m.update_parameters_with_adam(dict(P), grads, dict(v), dict(s), 1),
            "raise", ("v", "s", "dW1", "db1", "dW3", "db2")))
    for label, t in {"t-0": 0, "t-negative": -1, "t-float": 1.5, "t-None": None}.items():
        cases.append(_course_case(
            f"optimization.update_parameters_with_adam/{label}",
            lambda t=t: opt_m.update_parameters_with_adam(dict(P), grads, dict(zeros),
                                                           dict(zeros), t), "raise", ("t",)))
    cases.append(_course_case(
        "optimization.update_parameters_with_momentum/v-missing-dW2",
        lambda: opt_m.update_parameters_with_momentum(dict(P), grads, _edited(zeros, dW2=_DEL),
                                                      0.9, 0.1), "raise", ("v", "dW2")))
    # mini-batches
    for label, (args, names) in {
        "Y-other-m": ((X, Y[:, :-1], 2), ("X", "Y")),
        "Y-1-d": ((X, Y.ravel(), 2), ("Y",)),
        "size-0": ((X, Y, 0), ("mini_batch_size",)),
        "size-float": ((X, Y, 2.0), ("mini_batch_size",)),
        "X-1-d": ((X[0], Y, 2), ("X",)),
    }.items():
        expect = "either" if label == "Y-1-d" else "raise"
        cases.append(_course_case(f"optimization.random_mini_batches/{label}",
                                  lambda a=args: opt_m.random_mini_batches(*a), expect, names))
    # gradient checking: vectors and dicts that do not match
    cases.append(_course_case("gradient_checking.vector_to_dictionary/wrong-size",
                              lambda: gc_m.vector_to_dictionary(np.zeros((46, 1))), "raise",
                              ("theta",)))
    cases.append(_course_case("gradient_checking.dictionary_to_vector/missing-b2",
                              lambda: gc_m.dictionary_to_vector(_edited(P, b2=_DEL)), "raise",
                              ("parameters", "b2")))
    gX, gY, gP = _c2_base(dims=(4, 5, 3, 1), m=3)
    _, gcache = gc_m.forward_propagation_n(gX, gY, gP)
    gg = gc_m.backward_propagation_n(gX, gY, gcache)
    for label, (params, g) in {
        "gradients-missing-dW3": (gP, _edited(gg, dW3=_DEL)),
        "gradients-other-network": (gP, init_m.backward_propagation(X, Y, cache)),
        "gradients-transposed": (gP, _edited(gg, dW1=gg["dW1"].T.copy())),
        "parameters-other-network": (P, gg),
    }.items():
        cases.append(_course_case(
            f"gradient_checking.gradient_check_n/{label}",
            lambda p=params, g=g: gc_m.gradient_check_n(p, g, gX, gY), "raise",
            ("gradients", "parameters", "dW1", "dW3", "W1", "X", "theta")))
    # the engine-v2 keywords of the course-1 functions (fastdnn.layers)
    import fastdnn
    X1, Y1, P1 = _c2_base(dims=(4, 3, 1), m=5)
    for label, kw, names in (
            ("hidden_activation-unknown", dict(hidden_activation="gelu"), ("hidden_activation",)),
            ("hidden_activation-None", dict(hidden_activation=None), ("hidden_activation",)),
            ("hidden_activation-int", dict(hidden_activation=1), ("hidden_activation",)),
            ("output-unknown", dict(output="tanh"), ("output",)),
            ("output-None", dict(output=None), ("output",)),
            ("output-softmax-one-unit", dict(output="softmax"), ("output", "softmax"))):
        cases.append(_course_case(f"layers.L_model_forward/{label}",
                                  lambda kw=kw: fastdnn.L_model_forward(X1, P1, **kw),
                                  "raise", names))
    AL, caches1 = fastdnn.L_model_forward(X1, P1)
    ALo, caches_o = fastdnn.L_model_forward(X5, {"W1": P5["W1"], "b1": P5["b1"],
                                                 "W2": P5["W2"][:1], "b2": P5["b2"][:1]})
    for label, args in {"caches-other-network": (AL, Y1, caches_o),
                        "caches-reversed": (AL, Y1, caches1[::-1]),
                        "AL-of-other-network": (ALo, Y1, caches1),
                        "caches-tuple-of-tuples-short": (AL, Y1, caches1[:1])}.items():
        cases.append(_course_case(f"layers.L_model_backward/{label}",
                                  lambda a=args: fastdnn.L_model_backward(*a), "raise",
                                  ("caches", "AL", "Y", "caches[0]", "caches[1]", "dA1", "dA0",
                                   "cache")))
    for label, kw in {"output-softmax-one-unit": dict(output="softmax"),
                      "output-unknown": dict(output="tanh"),
                      "hidden_activation-unknown": dict(hidden_activation="gelu")}.items():
        cases.append(_course_case(f"layers.L_model_backward/{label}",
                                  lambda kw=kw: fastdnn.L_model_backward(AL, Y1, caches1, **kw),
                                  "raise", ("output", "hidden_activation", "softmax")))
    for label, kw in {"output-unknown": dict(output="tanh"), "output-None": dict(output=None),
                      "output-softmax-one-unit": dict(output="softmax")}.items():
        cases.append(_course_case(f"layers.compute_cost/{label}",
                                  lambda kw=kw: fastdnn.compute_cost(AL, Y1, **kw),
                                  "raise", ("output", "softmax", "AL", "Y")))
    g1 = fastdnn.L_model_backward(AL, Y1, caches1)
    for label, g in {"grads-other-network": fastdnn.L_model_backward(ALo, Y5, caches_o),
                     "grads-missing-db1": _edited(g1, db1=_DEL)}.items():
        cases.append(_course_case(f"layers.update_parameters/{label}",
                                  lambda g=g: fastdnn.update_parameters(dict(P1), g, 0.1),
                                  "raise", ("grads", "dW1", "db1", "parameters")))
    return cases


# ================================================================== the runner
def build_cases():
    import importlib.util
    # the estimators' cases need scikit-learn (an optional dependency: fastdnn[sklearn])
    have_sklearn = importlib.util.find_spec("sklearn") is not None
    return config_cases() + (estimator_cases() if have_sklearn else []) + course_cases()


def run_case(case):
    np.random.seed(7)
    with np.errstate(all="warn"):
        return case.run()


def _worker(outfile, indices):
    serve(outfile, indices, build_cases(), run_case)


CASE_TIMEOUT = 60.0


run_matrix, _case_id = matrix_runner(__file__, build_cases, case_timeout=CASE_TIMEOUT)


if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "--worker":
    _worker(sys.argv[2], [int(s) for s in sys.argv[3].split(",") if s])
    sys.exit(0)

import pytest  # noqa: E402

CASES = build_cases()
matrix = matrix_fixture(run_matrix)


def test_case_ids_are_unique():
    assert not repeated_ids(CASES)


def test_every_config_field_is_covered():
    """Every TrainingConfig field has cases through TrainingConfig; every field the
    model and the CLI take, through them."""
    import fastdnn
    ids = {c.id for c in CASES}
    model_kw = set(inspect.signature(fastdnn.L_layer_model).parameters)
    flags = cli_flags()
    assert len(flags) >= 12, flags
    for field, *_ in _config_fields():
        assert f"config/TrainingConfig/{field}/NaN" in ids
        if field in model_kw:
            assert f"config/L_layer_model/{field}/NaN" in ids
        if field in flags:
            assert f"config/cli/{field}/NaN" in ids


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.id for c in CASES])
def test_bad_input_v2(matrix, index):
    res = matrix[index]
    assert res["ok"], f"{res['id']} {res['outcome']}: {res['detail']}"
