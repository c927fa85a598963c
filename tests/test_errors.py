"""Bad input raises ValueError/TypeError naming the argument and the shapes.

Every case runs in a child interpreter (``python -c "...; _child_main()"``),
so a crash (segfault, abort) fails the case instead of killing pytest: the
child prints one JSON line before and after each case; if it dies by a signal,
the case it was running is recorded as crashed and a new child resumes with
the next case.  Normally the whole table runs in a single child process.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests._load import REPO_ROOT


def _a(*shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype) * 0.5


def _params(*dims):
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = _a(dims[l], dims[l - 1])
        p[f"b{l}"] = _a(dims[l], 1)
    return p


def _grads(*dims):
    return {"d" + k: v for k, v in _params(*dims).items()}


def _cache(n_prev, n, m):
    return (_a(n_prev, m), _a(n, n_prev), _a(n, 1))


# (id, call(F) with F = the fastdnn module, exception types, substrings the
#  message must contain).  None as exception type: the call must succeed.
VE, TE, EITHER = (ValueError,), (TypeError,), (ValueError, TypeError)
CASES = [
    # ---- shapes that do not chain: W vs A
    ("linear_forward W vs A", lambda F: F.linear_forward(_a(3, 2), _a(1, 4), _a(1, 1)),
     VE, ["W", "A", "(1, 4)", "(3, 2)"]),
    ("linear_activation_forward W vs A",
     lambda F: F.linear_activation_forward(_a(5, 2), _a(4, 3), _a(4, 1), "relu"),
     VE, ["W", "A_prev", "(4, 3)", "(5, 2)"]),
    ("L_model_forward X vs W1", lambda F: F.L_model_forward(_a(5, 2), _params(4, 3, 1)),
     VE, ["X", "W1", "(3, 4)", "(5, 2)"]),
    ("L_model_forward layer 2 vs layer 1",
     lambda F: F.L_model_forward(_a(4, 2), {**_params(4, 3, 1), "W2": _a(1, 5)}),
     VE, ["W2", "A1", "(1, 5)", "(3, 2)"]),
    # ---- b vs W
    ("linear_forward b rows", lambda F: F.linear_forward(_a(3, 2), _a(2, 3), _a(3, 1)),
     VE, ["b", "(3, 1)", "(2, 3)"]),
    ("linear_forward b columns", lambda F: F.linear_forward(_a(3, 2), _a(2, 3), _a(2, 2)),
     VE, ["b", "(2, 2)", "(2, 1)"]),
    ("linear_activation_forward b vs W",
     lambda F: F.linear_activation_forward(_a(3, 2), _a(2, 3), _a(1, 2), "sigmoid"),
     VE, ["b", "(1, 2)", "(2, 3)"]),
    ("L_model_forward b1 vs W1",
     lambda F: F.L_model_forward(_a(4, 2), {**_params(4, 3, 1), "b1": _a(2, 1)}),
     VE, ["b1", "(2, 1)", "(3, 4)"]),
    # ---- dZ / dA vs cache
    ("linear_backward dZ rows", lambda F: F.linear_backward(_a(2, 5), _cache(3, 1, 5)),
     VE, ["dZ", "(2, 5)", "(1, 5)"]),
    ("linear_backward dZ columns", lambda F: F.linear_backward(_a(1, 4), _cache(3, 1, 5)),
     VE, ["dZ", "(1, 4)", "(1, 5)"]),
    ("linear_backward cache W vs A", lambda F: F.linear_backward(_a(1, 5), (_a(3, 5), _a(1, 4), _a(1, 1))),
     VE, ["cache", "W", "(1, 4)", "(3, 5)"]),
    ("linear_activation_backward dA vs cache",
     lambda F: F.linear_activation_backward(_a(2, 5), (_cache(3, 1, 5), _a(1, 5)), "relu"),
     VE, ["dA", "(2, 5)", "(1, 5)"]),
    ("linear_activation_backward Z vs cache",
     lambda F: F.linear_activation_backward(_a(1, 5), (_cache(3, 1, 5), _a(1, 4)), "sigmoid"),
     VE, ["Z", "(1, 4)", "(1, 5)"]),
    ("relu_backward dA vs Z", lambda F: F.relu_backward(_a(2, 3), _a(3, 2)),
     VE, ["dA", "(2, 3)", "(3, 2)"]),
    ("sigmoid_backward dA vs Z", lambda F: F.sigmoid_backward(_a(1, 3), _a(1, 4)),
     VE, ["dA", "(1, 3)", "(1, 4)"]),
    ("L_model_backward caches do not chain",
     lambda F: F.L_model_backward(_a(1, 2), np.array([[1, 0]]),
                                  [(_cache(4, 3, 2), _a(3, 2)), (_cache(5, 1, 2), _a(1, 2))]),
     VE, ["(5, 2)", "(3, 2)"]),
    ("L_model_backward AL vs last cache",
     lambda F: F.L_model_backward(_a(1, 3), np.array([[1, 0, 1]]),
                                  [(_cache(4, 3, 2), _a(3, 2)), (_cache(3, 1, 2), _a(1, 2))]),
     VE, ["(1, 3)", "(1, 2)"]),
    # ---- Y vs AL
    ("compute_cost Y (m,1) vs AL (1,m)", lambda F: F.compute_cost(_a(1, 3), np.ones((3, 1), int)),
     VE, ["Y", "(3, 1)", "(1, 3)"]),
    ("compute_cost Y length", lambda F: F.compute_cost(_a(1, 3), np.ones((1, 4), int)),
     VE, ["Y", "(1, 4)", "(1, 3)"]),
    ("L_model_backward Y size",
     lambda F: F.L_model_backward(_a(1, 2), np.array([[1, 0, 1]]), [(_cache(3, 1, 2), _a(1, 2))]),
     VE, ["Y", "(1, 3)", "(1, 2)"]),
    # ---- wrong ndim
    # (the activations take any shape, COURSE2 §8; their shapes must still agree)
    ("sigmoid_backward 1-D vs 2-D", lambda F: F.sigmoid_backward(np.ones(3), np.ones((3, 1))),
     VE, ["dA", "cache", "(3,)", "(3, 1)"]),
    ("relu_backward 3-D vs 2-D", lambda F: F.relu_backward(np.ones((2, 2, 2)), np.ones((2, 4))),
     VE, ["dA", "(2, 2, 2)"]),
    ("relu empty 1-D", lambda F: F.relu(np.ones(0)), VE, ["Z", "empty", "(0,)"]),
    ("linear_forward A 1-D", lambda F: F.linear_forward(np.ones(3), _a(1, 3), _a(1, 1)),
     VE, ["A", "2-D", "(3,)"]),
    ("linear_forward b 1-D", lambda F: F.linear_forward(_a(3, 2), _a(1, 3), np.ones(1)),
     VE, ["b", "2-D", "(1,)"]),
    ("compute_cost Y 1-D", lambda F: F.compute_cost(_a(1, 3), np.array([1, 1, 1])),
     VE, ["Y", "2-D", "(3,)"]),
    ("compute_cost AL 1-D", lambda F: F.compute_cost(np.full(3, 0.5), np.array([[1, 1, 1]])),
     VE, ["AL", "2-D", "(3,)"]),
    ("L_model_backward AL 1-D",
     lambda F: F.L_model_backward(np.full(2, 0.5), np.array([[1, 0]]), [(_cache(3, 1, 2), _a(1, 2))]),
     VE, ["AL", "2-D", "(2,)"]),
    ("empty array", lambda F: F.sigmoid(np.ones((0, 3))), VE, ["Z", "(0, 3)"]),
    ("empty examples", lambda F: F.linear_forward(np.ones((3, 0)), _a(1, 3), _a(1, 1)),
     VE, ["A", "(3, 0)"]),
    # ---- unknown activation
    ("linear_activation_forward tanh",
     lambda F: F.linear_activation_forward(_a(3, 2), _a(1, 3), _a(1, 1), "tanh"),
     VE, ["activation", "'tanh'"]),
    ("linear_activation_forward None",
     lambda F: F.linear_activation_forward(_a(3, 2), _a(1, 3), _a(1, 1), None),
     VE, ["activation", "None"]),
    ("linear_activation_backward Relu",
     lambda F: F.linear_activation_backward(_a(1, 2), (_cache(3, 1, 2), _a(1, 2)), "Relu"),
     VE, ["activation", "'Relu'"]),
    # ---- parameters with a missing or extra layer
    ("L_model_forward missing W2",
     lambda F: F.L_model_forward(_a(4, 2), {k: v for k, v in _params(4, 3, 1).items() if k != "W2"}),
     VE, ["parameters", "W2", "b2"]),
    ("L_model_forward extra W3",
     lambda F: F.L_model_forward(_a(4, 2), {**_params(4, 3, 1), "W3": _a(1, 1)}),
     VE, ["parameters", "W3"]),
    ("L_model_forward layer gap",
     lambda F: F.L_model_forward(_a(4, 2), {"W1": _a(3, 4), "b1": _a(3, 1), "W3": _a(1, 3), "b3": _a(1, 1)}),
     VE, ["parameters", "W3", "b3"]),
    ("L_model_forward unrelated key",
     lambda F: F.L_model_forward(_a(4, 2), {**_params(4, 3, 1), "lr": 0.1, "W0": _a(1, 1)}),
     VE, ["parameters", "lr"]),
    ("L_model_forward empty dict", lambda F: F.L_model_forward(_a(4, 2), {}), VE, ["parameters"]),
    ("L_model_forward not a dict", lambda F: F.L_model_forward(_a(4, 2), [_a(3, 4)]),
     TE, ["parameters", "list"]),
    ("update_parameters missing b2",
     lambda F: F.update_parameters({k: v for k, v in _params(4, 3, 1).items() if k != "b2"},
                                   _grads(4, 3, 1), 0.1),
     VE, ["parameters", "b2"]),
    ("update_parameters extra layer",
     lambda F: F.update_parameters({**_params(4, 3, 1), "W3": _a(1, 1), "b3": _a(1, 1)},
                                   _grads(4, 3, 1), 0.1),
     VE, ["grads", "dW3"]),
    ("update_parameters grads missing dW2",
     lambda F: F.update_parameters(_params(4, 3, 1),
                                   {k: v for k, v in _grads(4, 3, 1).items() if k != "dW2"}, 0.1),
     VE, ["grads", "dW2"]),
    ("update_parameters grad shape",
     lambda F: F.update_parameters(_params(4, 3, 1), {**_grads(4, 3, 1), "dW1": _a(4, 3)}, 0.1),
     VE, ["dW1", "(4, 3)", "(3, 4)"]),
    ("update_parameters learning_rate str",
     lambda F: F.update_parameters(_params(4, 3, 1), _grads(4, 3, 1), "0.1"),
     TE, ["learning_rate", "'0.1'"]),
    # ---- non-numeric and complex dtypes
    ("sigmoid complex", lambda F: F.sigmoid(np.ones((2, 2), complex)), TE, ["Z", "complex128"]),
    ("linear_forward complex W",
     lambda F: F.linear_forward(_a(3, 2), np.ones((1, 3), np.complex64), _a(1, 1)),
     TE, ["W", "complex64"]),
    ("compute_cost complex Y", lambda F: F.compute_cost(_a(1, 2), np.ones((1, 2), complex)),
     TE, ["Y", "complex"]),
    ("relu strings", lambda F: F.relu(np.array([["a", "b"]])), TE, ["Z", "<U1"]),
    ("relu object array", lambda F: F.relu(np.array([[None, 1]], dtype=object)), TE, ["Z", "object"]),
    ("relu None", lambda F: F.relu(None), TE, ["Z", "None"]),
    ("relu str", lambda F: F.relu("1.0"), TE, ["Z", "str"]),
    ("relu dict", lambda F: F.relu({"a": 1}), TE, ["Z", "dict"]),
    ("relu ragged list", lambda F: F.relu([[1.0, 2.0], [3.0]]), TE, ["Z"]),
    ("relu float16", lambda F: F.relu(np.ones((2, 2), np.float16)), TE, ["Z", "float16"]),
    ("relu_backward datetime cache",
     lambda F: F.relu_backward(_a(1, 2), np.array([["2020-01-01", "2020-01-02"]], "datetime64[D]")),
     TE, ["cache", "datetime64"]),
    ("L_model_backward string Y",
     lambda F: F.L_model_backward(_a(1, 2), np.array([["1", "0"]]), [(_cache(3, 1, 2), _a(1, 2))]),
     TE, ["Y", "<U1"]),
    ("linear_backward cache not a tuple", lambda F: F.linear_backward(_a(1, 2), [_a(3, 2)]),
     TE, ["cache", "list"]),
    ("linear_activation_backward cache too short",
     lambda F: F.linear_activation_backward(_a(1, 2), (_a(1, 2),)), TE, ["cache", "tuple"]),
    ("L_model_backward caches empty",
     lambda F: F.L_model_backward(_a(1, 2), np.array([[1, 0]]), []), TE, ["caches"]),
    # ---- initialisers
    ("initialize_parameters_deep zero units", lambda F: F.initialize_parameters_deep([5, 0, 3]),
     VE, ["layers_dims[1]", "0"]),
    ("initialize_parameters_deep float units", lambda F: F.initialize_parameters_deep([5, 2.5, 1]),
     TE, ["layers_dims[1]", "2.5"]),
    ("initialize_parameters_deep one size", lambda F: F.initialize_parameters_deep([5]),
     VE, ["layers_dims", "[5]"]),
    ("initialize_parameters negative", lambda F: F.initialize_parameters(3, -2, 1), VE, ["n_h", "-2"]),
    # ---- unusual but valid input: must work, never crash
    ("zero-stride broadcast input", lambda F: F.linear_forward(
        np.broadcast_to(np.ones((3, 1)), (3, 4)), np.broadcast_to(np.ones((1, 3)), (2, 3)), _a(2, 1)),
     None, []),
    ("big-endian input", lambda F: F.sigmoid_backward(_a(2, 3, dtype=">f8"), _a(2, 3, dtype=">f4")),
     None, []),
    ("nested lists and int labels", lambda F: F.compute_cost([[0.8, 0.9, 0.4]], [[1, 1, 1]]), None, []),
    ("bool labels", lambda F: F.L_model_backward(_a(1, 2), np.array([[True, False]]),
                                                [(_cache(3, 1, 2), _a(1, 2))]), None, []),
]
CASE_IDS = [c[0] for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS)


def _child_main(start):
    """Run CASES[start:], printing JSON lines; executed in the child process."""
    import fastdnn
    for i in range(start, len(CASES)):
        name, call, _, _ = CASES[i]
        print(json.dumps({"start": i}), flush=True)
        try:
            call(fastdnn)
            out = {"case": i, "raised": None, "message": ""}
        except BaseException as exc:   # report anything, the parent judges
            out = {"case": i, "raised": type(exc).__name__, "message": str(exc)}
        print(json.dumps(out), flush=True)


def _run_all():
    """{case index: result dict}; crashed cases get {"crashed": description}."""
    results = {}
    start = 0
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    while start < len(CASES):
        code = f"from tests.test_errors import _child_main; _child_main({start})"
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        running = None
        for line in proc.stdout.splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "start" in msg:
                running = msg["start"]
            else:
                results[msg["case"]] = msg
                running = None
        if proc.returncode == 0 and running is None:
            break
        if proc.returncode < 0:
            how = f"killed by signal {signal.Signals(-proc.returncode).name}"
        else:
            how = f"exit status {proc.returncode}"
        if running is None:                  # died before reaching any case
            pytest.fail(f"error-case child process failed ({how}):\n{proc.stderr[-3000:]}")
        results[running] = {"crashed": f"{how}\n{proc.stderr[-3000:]}"}
        start = running + 1
    return results


@pytest.fixture(scope="module")
def results():
    return _run_all()


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_error_case(results, index):
    name, _, expected, substrings = CASES[index]
    res = results.get(index)
    assert res is not None, f"{name}: no result from the child process"
    assert "crashed" not in res, f"{name}: the interpreter crashed: {res['crashed']}"
    if expected is None:
        assert res["raised"] is None, f"{name}: raised {res['raised']}: {res['message']}"
        return
    allowed = [e.__name__ for e in expected]
    assert res["raised"] in allowed, (
        f"{name}: expected {'/'.join(allowed)}, got {res['raised']}: {res['message']}")
    missing = [s for s in substrings if s not in res["message"]]
    assert not missing, f"{name}: message {res['message']!r} does not mention {missing}"


def test_cases_cover_every_layer_function():
    from fastdnn import activations, layers
    src = open(__file__, encoding="utf-8").read()
    untested = [n for n in activations.__all__ + layers.__all__ if f"F.{n}(" not in src]
    assert not untested
