"""The bad-input matrix: every public function, every array argument, every kind of bad input.

For each public function of SPEC section 1 and each array argument (every leaf of
a cache or parameters dict included) the argument is replaced by one VARIANT of
its valid value:

* valid variants -- Fortran order, strided, negative strides, read-only,
  big-endian, Python list, float32, integers, and values NaN, +inf, -inf,
  +-1e308 -- must give the result of tests/reference.py (the plain-numpy seed)
  on the same values: same structure and shapes, values equal to rounding
  (NaN where the reference has NaN, inf of the same sign where it has inf);
* invalid variants -- None, 0-d, 1-d, 3-d, a row or column too many, a
  transposed shape, zero rows or columns, object, string, complex, float16 and
  ragged-list data -- must raise ``ValueError`` or ``TypeError`` whose message
  names the argument.  Several of these are inputs that numpy silently
  computes something wrong for (a 1-D A, a (3,) b with m = 3, an (m, 1) Y in
  compute_cost, a parameters dict missing a layer): fastdnn must refuse them.

Whole-call cases add zero examples (m = 0 everywhere), zero units (an empty
layer), bad activation names, bad learning rates, malformed dicts and caches,
and bad layer sizes for the initialisers.

Crashes.  The cases run in a worker subprocess (this file run as a script)
that writes one JSON line as it starts each case and one with its outcome.
If the worker dies (a segfault, an abort) or hangs, the case it had started
is recorded as a failure ("crash"/"hang") and the remaining cases are run by
a fresh worker, so a crash is the failure of exactly one case and never hides
the others.  ``run_matrix`` is also what bench/count_hardening.py counts.

Where fastdnn deliberately differs from numpy on the same values (documented in
README's numbers policy):

* compute_cost clamps each log at -100 (PyTorch's BCELoss), so an AL of exactly
  0 or 1 gives a finite cost where numpy gives inf/NaN -- no case here hits it
  (tests/test_numerics.py checks the clamp itself);
* sigmoid never emits overflow warnings (the worker ignores numpy's);
* results are float64 (or float32 when every input is float32): integer inputs
  give float results where numpy's relu/relu_backward would keep integers
  (values are compared; the dtypes are checked by tests/test_properties.py);
* the models' fused engine differentiates the output layer as dZ = AL - Y,
  finite where the seed's formula gives 0 * inf = NaN at a saturated AL: for the
  models' non-finite inputs the comparison is made where numpy is finite
  (outcome "equal-where-finite"), or training stops with TrainingDiverged.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# -------------------------------------------------------------------- bases
N_PREV, N, M = 4, 3, 5          # A_prev (4, 5), W (3, 4), b (3, 1), Z (3, 5)
Y_ROW = [1, 0, 1, 1, 0, 1, 0, 1]


def make_base(n_prev=N_PREV, n=N, m=M):
    """Valid values, all float64 2-D (labels int), one set per shape triple."""
    rng = np.random.default_rng(1234)
    g = rng.standard_normal
    W1, b1 = g((n, n_prev)), g((n, 1))
    W2, b2 = g((1, n)), g((1, 1))
    X = g((n_prev, m))
    Z1 = W1 @ X + b1
    A1 = np.maximum(0, Z1)
    Z2 = W2 @ A1 + b2
    AL = 1 / (1 + np.exp(-Z2))
    return {
        "X": X, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "Z1": Z1, "A1": A1, "Z2": Z2,
        "AL": AL, "Y": np.array([(Y_ROW * (m // len(Y_ROW) + 1))[:m]], dtype=np.int64),
        "Z": g((n, m)), "dA": g((n, m)), "dZ": g((n, m)),
        "dW1": g((n, n_prev)), "db1": g((n, 1)), "dW2": g((1, n)), "db2": g((1, 1)),
        "ALp": rng.uniform(0.05, 0.95, (1, m)),
    }


# ------------------------------------------------------------------ targets
# A target: the public function, how to build its arguments from a base, and
# its array leaves: (path into the argument tuple, argument name for error
# messages, shape rule).  A shape rule names the shape variants that are valid
# for the leaf: "free" (any 2-D shape: sigmoid's Z), "cols" (another number of
# examples: the input of a forward step), "reshape" (any shape holding the
# right number of values: L_model_backward's Y, reshaped as in the seed),
# "chained" (none: the shape is fixed by the other arguments).  A transpose of
# a square value is always valid.
SHAPE_RULES = {
    "free": {"extra-row", "extra-col", "transposed"},
    # the activations take arrays of any shape (the English course's helpers: COURSE2 §8)
    "any": {"extra-row", "extra-col", "transposed", "0-d", "python-float", "1-d", "3-d"},
    "cols": {"extra-col"},
    "reshape": {"transposed", "1-d", "3-d"},
    "labels": {"1-d"},           # the models take Y as (1, m) or (m,), never (m, 1)
    "chained": set(),
}

def _params(B):
    return {"W1": B["W1"], "b1": B["b1"], "W2": B["W2"], "b2": B["b2"]}


def _caches(B):
    return [((B["X"], B["W1"], B["b1"]), B["Z1"]), ((B["A1"], B["W2"], B["b2"]), B["Z2"])]


def _model_kwargs():
    return {"learning_rate": 0.05, "num_iterations": 3, "print_cost": False, "isPlot": False}


def _layer_dims(B):
    return [B["X"].shape[0], B["W1"].shape[0], 1]


TARGETS = {
    "sigmoid": (lambda B: ((B["Z"],), {}), [((0,), "Z", "any")]),
    "relu": (lambda B: ((B["Z"],), {}), [((0,), "Z", "any")]),
    "sigmoid_backward": (lambda B: ((B["dA"], B["Z"]), {}),
                         [((0,), "dA", "chained"), ((1,), "cache", "chained")]),
    "relu_backward": (lambda B: ((B["dA"], B["Z"]), {}),
                      [((0,), "dA", "chained"), ((1,), "cache", "chained")]),
    "linear_forward": (lambda B: ((B["X"], B["W1"], B["b1"]), {}),
                       [((0,), "A", "cols"), ((1,), "W", "chained"), ((2,), "b", "chained")]),
    "linear_activation_forward/relu": (
        lambda B: ((B["X"], B["W1"], B["b1"], "relu"), {}),
        [((0,), "A_prev", "cols"), ((1,), "W", "chained"), ((2,), "b", "chained")]),
    "linear_activation_forward/sigmoid": (
        lambda B: ((B["X"], B["W1"], B["b1"], "sigmoid"), {}),
        [((0,), "A_prev", "cols"), ((1,), "W", "chained"), ((2,), "b", "chained")]),
    "L_model_forward": (
        lambda B: ((B["X"], _params(B)), {}),
        [((0,), "X", "cols")] + [((1, k), f"parameters['{k}']", "chained")
                                     for k in ("W1", "b1", "W2", "b2")]),
    "compute_cost": (lambda B: ((B["ALp"], B["Y"]), {}),
                     [((0,), "AL", "chained"), ((1,), "Y", "chained")]),
    "linear_backward": (
        lambda B: ((B["dZ"], (B["X"], B["W1"], B["b1"])), {}),
        [((0,), "dZ", "chained")] + [((1, i), f"cache[{i}]", "chained") for i in range(3)]),
    "linear_activation_backward/relu": (
        lambda B: ((B["dA"], ((B["X"], B["W1"], B["b1"]), B["Z"]), "relu"), {}),
        [((0,), "dA", "chained")] + [((1, 0, i), f"cache[0][{i}]", "chained") for i in range(3)]
        + [((1, 1), "cache[1]", "chained")]),
    "linear_activation_backward/sigmoid": (
        lambda B: ((B["dA"], ((B["X"], B["W1"], B["b1"]), B["Z"]), "sigmoid"), {}),
        [((0,), "dA", "chained")] + [((1, 0, i), f"cache[0][{i}]", "chained") for i in range(3)]
        + [((1, 1), "cache[1]", "chained")]),
    "L_model_backward": (
        lambda B: ((B["AL"], B["Y"], _caches(B)), {}),
        [((0,), "AL", "chained"), ((1,), "Y", "reshape")]
        + [((2, l, 0, i), f"caches[{l}][0][{i}]", "chained") for l in range(2) for i in range(3)]
        + [((2, l, 1), f"caches[{l}][1]", "chained") for l in range(2)]),
    "update_parameters": (
        lambda B: ((_params(B), {k: B[k] for k in ("dW1", "db1", "dW2", "db2")}, 0.1), {}),
        [((0, k), f"parameters['{k}']", "chained") for k in ("W1", "b1", "W2", "b2")]
        + [((1, k), f"grads['{k}']", "chained") for k in ("dW1", "db1", "dW2", "db2")]),
    "two_layer_model": (
        lambda B: ((B["X"], B["Y"], tuple(_layer_dims(B))), _model_kwargs()),
        [((0,), "X", "chained"), ((1,), "Y", "labels")]),
    "L_layer_model": (
        lambda B: ((B["X"], B["Y"], _layer_dims(B)), _model_kwargs()),
        [((0,), "X", "chained"), ((1,), "Y", "labels")]),
    "predict": (
        lambda B: ((B["X"], B["Y"], _params(B)), {}),
        [((0,), "X", "chained"), ((1,), "y", "reshape")]
        + [((2, k), f"parameters['{k}']", "chained") for k in ("W1", "b1", "W2", "b2")]),
}

# training may stop on a non-finite cost (README's numbers policy): for the models
# a NaN/inf input may give either the reference's result or a clear error.
MODELS = ("two_layer_model", "L_layer_model")


def _setpath(obj, path, value):
    """A copy of the nested args ``obj`` with the leaf at ``path`` replaced."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        new = dict(obj)
        if value is _DELETE and not rest:
            del new[head]
        else:
            new[head] = _setpath(obj[head], rest, value)
        return new
    items = list(obj)
    items[head] = _setpath(obj[head], rest, value)
    return tuple(items) if isinstance(obj, tuple) else items


def _getpath(obj, path):
    for p in path:
        obj = obj[p]
    return obj


_DELETE = object()

# ----------------------------------------------------------------- variants
# name -> (make the value fastdnn gets, make the value the reference gets or
# None when fastdnn must raise).  ``v`` is the valid value (2-D, float64 or int).


def _f(v):
    return np.asarray(v, dtype=np.float64)


def _with(value):
    def put(v):
        w = _f(v).copy()
        w[0, 0] = value
        return w
    return put


def _strided(v):
    big = np.zeros((2 * v.shape[0], 3 * v.shape[1]), dtype=v.dtype)
    big[::2, ::3] = v
    return big[::2, ::3]


def _readonly(v):
    w = np.array(v)
    w.flags.writeable = False
    return w


VALID = {
    "F-order": (np.asfortranarray, _f),
    "strided": (_strided, _f),
    "negative-strides": (lambda v: np.array(v)[::-1, ::-1].copy()[::-1, ::-1], _f),
    "read-only": (_readonly, _f),
    "big-endian": (lambda v: _f(v).astype(">f8"), _f),
    "list": (lambda v: np.asarray(v).tolist(), _f),
    # the reference gets the same float32 values in float64: fastdnn computes in
    # float64 as soon as one input is float64 (numpy's promotion), whereas numpy
    # rounds some intermediates (sigmoid(Z) of a float32 Z) to float32
    "float32": (lambda v: _f(v).astype(np.float32),
                lambda v: _f(v).astype(np.float32).astype(np.float64)),
    "int64": (lambda v: np.rint(_f(v) * 2).astype(np.int64),
              lambda v: np.rint(_f(v) * 2)),
    "NaN": (_with(np.nan), _with(np.nan)),
    "+inf": (_with(np.inf), _with(np.inf)),
    "-inf": (_with(-np.inf), _with(-np.inf)),
    "1e308": (_with(1e308), _with(1e308)),
    "-1e308": (_with(-1e308), _with(-1e308)),
}
NONFINITE = ("NaN", "+inf", "-inf", "1e308", "-1e308")

INVALID = {
    "None": lambda v: None,
    "0-d": lambda v: _f(v)[0, 0],
    "python-float": lambda v: float(_f(v)[0, 0]),
    "1-d": lambda v: _f(v).ravel(),
    "3-d": lambda v: _f(v)[None],
    "zero-rows": lambda v: np.empty((0, np.shape(v)[1])),
    "zero-cols": lambda v: np.empty((np.shape(v)[0], 0)),
    "object": lambda v: _f(v).astype(object),
    "string": lambda v: "1.0",
    "string-array": lambda v: _f(v).astype(str),
    "complex": lambda v: _f(v).astype(np.complex128),
    "float16": lambda v: _f(v).astype(np.float16),
    "ragged-list": lambda v: [[1.0, 2.0], [3.0]],
}

# shape variants: valid or not depending on the leaf's shape rule
SHAPED = {
    "extra-row": lambda v: np.vstack([_f(v), _f(v)[:1]]),
    "extra-col": lambda v: np.hstack([_f(v), _f(v)[:, :1]]),
    "transposed": lambda v: _f(v).T.copy(),
}


# --------------------------------------------------------------------- cases
class Case:
    """One call: ``make()`` -> (fast args, fast kwargs, ref args or None, names).

    ``expect`` is "equal", "raise" or "either" (equal, or a clear error).
    ``names``: the message of an expected error must contain one of them
    as a whole token.
    """

    def __init__(self, id, func, make, expect, names):
        self.id, self.func, self.make, self.expect, self.names = id, func, make, expect, names


def _leaf_case(target, path, name, variant, fast_fn, ref_fn, expect, base_kw=None, names=None):
    build = TARGETS[target][0]

    def make():
        # two independent builds: fastdnn's update_parameters fills its dict in place
        args, kwargs = build(make_base(**(base_kw or {})))
        fast = _setpath(args, path, fast_fn(_getpath(args, path)))
        args, _ = build(make_base(**(base_kw or {})))
        ref = None if ref_fn is None else _setpath(args, path, ref_fn(_getpath(args, path)))
        return fast, kwargs, ref
    return Case(f"{target}/{name}/{variant}", target.split("/")[0], make, expect,
                names or (name,))


def _whole_case(target, label, make_args, expect, names):
    def make():
        fast, kwargs, ref = make_args()
        return fast, kwargs, ref
    return Case(f"{target}/{label}", target.split("/")[0], make, expect, names)


def _all_names(target):
    names = tuple(name for _, name, _ in TARGETS[target][1])
    if target in MODELS:      # an empty layer is refused where the layer sizes are read
        names += ("layers_dims", "n_x", "n_h")
    return names


def build_cases():
    cases = []
    for target, (build, leaves) in TARGETS.items():
        for path, name, rule in leaves:
            for variant, (fast_fn, ref_fn) in VALID.items():
                if variant == "float32" and len(leaves) == 1:   # all-float32: float32 result
                    ref_fn = fast_fn
                expect = "either" if target in MODELS and variant in NONFINITE else "equal"
                cases.append(_leaf_case(target, path, name, variant, fast_fn, ref_fn, expect))
            for variant, fast_fn in {**INVALID, **SHAPED}.items():
                v = _getpath(build(make_base())[0], path)
                valid = variant in SHAPE_RULES[rule] or (
                    variant == "transposed" and v.shape[0] == v.shape[1])
                # a shape that does not chain: the message may name either side
                names = (name,) if variant not in SHAPED else _all_names(target)
                # the reference gets the changed shape where it is a different problem
                # (more rows or examples), the original where it is the same values
                # in another shape (fastdnn reshapes them, as the seed does for Y)
                same = rule in ("reshape", "labels") or (
                    variant == "transposed" and rule not in ("free", "any"))
                ref_fn = _f if same else (lambda v, fn=fast_fn: _f(fn(v)))
                cases.append(_leaf_case(target, path, name, variant, fast_fn,
                                        ref_fn if valid else None,
                                        "equal" if valid else "raise", names=names))
        # whole-call cases
        for label, kw in (("zero-examples", {"m": 0}), ("zero-units", {"n": 0}),
                          ("zero-inputs", {"n_prev": 0})):
            def make(kw=kw, build=build):
                args, kwargs = build(make_base(**kw))
                return args, kwargs, None
            if label == "zero-inputs" and target in ("sigmoid", "relu", "sigmoid_backward",
                                                     "relu_backward", "compute_cost"):
                continue
            if (label == "zero-units" and target == "compute_cost") or (
                    label == "zero-examples" and target == "update_parameters"):
                continue
            cases.append(_whole_case(target, label, make, "raise", _all_names(target)))
    cases += _special_cases()
    return cases


def _special_cases():
    """The traps numpy falls into, and the non-array arguments."""
    cases = []
    # a (n,) b whose length equals m: numpy broadcasts it along the examples
    for target, path, name in (("linear_forward", (2,), "b"),
                               ("linear_activation_forward/relu", (2,), "b"),
                               ("L_model_forward", (1, "b1"), "parameters['b1']")):
        cases.append(_leaf_case(target, path, name, "1-d-length-m", lambda v: _f(v).ravel(),
                                None, "raise", base_kw={"m": N}))

    # parameters dicts with a layer (or part of one) missing, or extra keys
    def params_variant(target, pos, label, edit, names):
        build = TARGETS[target][0]

        def make():
            args, kwargs = build(make_base())
            args = list(args)
            args[pos] = edit(dict(args[pos]))
            return tuple(args), kwargs, None
        cases.append(_whole_case(target, label, make, "raise", names))

    W3, b3 = np.ones((1, 1)), np.zeros((1, 1))
    edits = {
        "missing-b2": lambda p: {k: v for k, v in p.items() if k != "b2"},
        "missing-layer-1": lambda p: {"W2": p["W2"], "b2": p["b2"], "W3": W3, "b3": b3},
        "extra-W3": lambda p: {**p, "W3": W3},
        "renamed-key": lambda p: {**{k: v for k, v in p.items() if k != "W1"}, "w1": p["W1"]},
        "empty-dict": lambda p: {},
        "not-a-dict": lambda p: list(p.values()),
    }
    for target, pos in (("L_model_forward", 1), ("update_parameters", 0), ("predict", 2)):
        for label, edit in edits.items():
            params_variant(target, pos, "parameters-" + label, edit, ("parameters",))
    for label, edit in {"missing-db2": lambda g: {k: v for k, v in g.items() if k != "db2"},
                        "empty-dict": lambda g: {}, "not-a-dict": lambda g: list(g.values())
                        }.items():
        params_variant("update_parameters", 1, "grads-" + label, edit, ("grads",))

    # learning rates
    for label, lr, valid in (("int", 1, True), ("np.float32", np.float32(0.1), True),
                             ("None", None, False), ("string", "0.1", False),
                             ("complex", 0.1j, False), ("list", [0.1], False)):
        def make(lr=lr, valid=valid):
            build = TARGETS["update_parameters"][0]
            args, kwargs = build(make_base())
            ref = build(make_base())[0][:2] + (lr,)
            return args[:2] + (lr,), kwargs, ref if valid else None
        cases.append(_whole_case("update_parameters", "learning_rate-" + label, make,
                                 "equal" if valid else "raise", ("learning_rate",)))

    # activation names
    for target in ("linear_activation_forward/relu", "linear_activation_backward/relu"):
        for label, act in (("tanh", "tanh"), ("upper", "RELU"), ("None", None), ("int", 1)):
            def make(target=target, act=act):
                args, kwargs = TARGETS[target][0](make_base())
                args = args[:-1] + (act,)
                return args, kwargs, None
            cases.append(_whole_case(target.split("/")[0], "activation-" + label, make,
                                     "raise", ("activation",)))

    # caches that are not what the forward step returned
    bad_caches = {
        "linear_backward": (1, {"None": None, "list": lambda c: list(c), "2-tuple": lambda c: c[:2]},
                            ("cache",)),
        "linear_activation_backward/relu": (1, {"None": None, "list": lambda c: list(c),
                                                "3-tuple": lambda c: c + (c[1],)}, ("cache",)),
        "L_model_backward": (2, {"None": None, "empty": lambda c: [], "one-layer-short":
                                 lambda c: c[:1], "dict": lambda c: dict(enumerate(c))},
                             ("caches", "caches[0]", "caches[1]")),
    }
    for target, (pos, variants, names) in bad_caches.items():
        for label, edit in variants.items():
            def make(target=target, pos=pos, edit=edit):
                args, kwargs = TARGETS[target][0](make_base())
                args = list(args)
                args[pos] = None if edit is None else edit(args[pos])
                return tuple(args), kwargs, None
            cases.append(_whole_case(target.split("/")[0], "cache-" + label, make, "raise", names))

    # layer sizes of the initialisers and models
    for label, n, valid in (("np.int64", np.int64(3), True), ("zero", 0, False),
                            ("negative", -1, False), ("None", None, False),
                            ("float", 2.5, False), ("string", "3", False), ("bool", True, False)):
        for pos, name in enumerate(("n_x", "n_h", "n_y")):
            def make(n=n, pos=pos, valid=valid):
                args = [4, 3, 1]
                args[pos] = n
                return tuple(args), {}, tuple(args) if valid else None
            cases.append(_whole_case("initialize_parameters", f"{name}-{label}", make,
                                     "equal" if valid else "raise", (name,)))
    for label, dims, valid in (("tuple", (5, 4, 1), True), ("ndarray", np.array([5, 4, 1]), True),
                               ("one-size", [5], False), ("empty", [], False),
                               ("zero-layer", [5, 0, 1], False), ("float-size", [5, 4.5, 1], False),
                               ("None", None, False), ("string", "541", False),
                               ("nested", [[5, 4, 1]], False)):
        def make(dims=dims, valid=valid):
            return (dims,), {}, ((dims,) if valid else None)
        cases.append(_whole_case("initialize_parameters_deep", "layers_dims-" + label, make,
                                 "equal" if valid else "raise", ("layers_dims",)))
    for target in MODELS:
        for label, dims in (("zero-layer", [N_PREV, 0, 1]), ("wrong-input-size", [N_PREV + 1, N, 1]),
                            ("None", None), ("string", "431")):
            if target == "two_layer_model" and isinstance(dims, list):
                dims = tuple(dims)

            def make(target=target, dims=dims):
                args, kwargs = TARGETS[target][0](make_base())
                return (args[0], args[1], dims), kwargs, None
            cases.append(_whole_case(target, "layers_dims-" + label, make, "raise",
                                     ("layers_dims", "X", "n_x", "n_h", "layers_dims[1]",
                                      "parameters['W1']")))
    return cases


# --------------------------------------------------------------- comparison
def _compare(fast, ref, where="result", finite_only=False):
    """None if ``fast`` equals ``ref`` (structure, shapes, values), else why not."""
    if isinstance(ref, dict):
        if not isinstance(fast, dict) or sorted(fast) != sorted(ref):
            return f"{where}: keys {sorted(fast) if isinstance(fast, dict) else type(fast)} != {sorted(ref)}"
        for k in ref:
            err = _compare(fast[k], ref[k], f"{where}[{k!r}]", finite_only)
            if err:
                return err
        return None
    if isinstance(ref, (tuple, list)):
        if type(fast) is not type(ref) or len(fast) != len(ref):
            return f"{where}: {type(fast).__name__} of {len(fast) if hasattr(fast, '__len__') else '?'} != {type(ref).__name__} of {len(ref)}"
        for i, (a, b) in enumerate(zip(fast, ref)):
            err = _compare(a, b, f"{where}[{i}]", finite_only)
            if err:
                return err
        return None
    if isinstance(ref, str):
        return None if fast == ref else f"{where}: {fast!r} != {ref!r}"
    r = np.asarray(ref)
    a = np.asarray(fast)
    if not isinstance(fast, np.ndarray) and r.ndim:
        return f"{where}: got {type(fast).__name__}, expected an ndarray"
    if a.shape != r.shape:
        return f"{where}: shape {a.shape} != reference {r.shape}"
    if a.dtype.kind != "f":
        return f"{where}: dtype {a.dtype} is not a float dtype"
    low = np.float32 in (a.dtype.type, r.dtype.type)
    rtol, atol = (2e-5, 1e-6) if low else (1e-10, 1e-12)
    a64, r64 = a.astype(np.float64), r.astype(np.float64)
    if finite_only:
        keep = np.isfinite(r64)
        a64, r64 = a64[keep], r64[keep]
    if not np.allclose(a64, r64, rtol=rtol, atol=atol, equal_nan=True):
        return f"{where}: values differ\nfastdnn   {a!r}\nreference {r!r}"
    return None


def _names_in(message, names):
    return any(re.search(r"(?<![\w])" + re.escape(n) + r"(?![\w])", message) for n in names)


def _funcs():
    import fastdnn
    from tests import reference
    return fastdnn, reference


def run_case(case):
    """Run one case in this process; returns a dict with "ok" and "outcome"."""
    import contextlib
    import io
    import warnings
    fastdnn, reference = _funcs()
    fast_args, kwargs, ref_args = case.make()
    out = {"id": case.id}
    sink = io.StringIO()
    np.random.seed(7)           # the initialisers draw from the global RNG
    try:
        with contextlib.redirect_stdout(sink):
            got = getattr(fastdnn, case.func)(*fast_args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        named = _names_in(str(exc), case.names)
        ok = case.expect in ("raise", "either") and named
        out.update(ok=ok, outcome="raised", detail=msg if ok else
                   (f"{msg} -- does not name {case.names}" if case.expect != "equal" and not named
                    else f"unexpected error {msg}"))
        return out
    except ArithmeticError as exc:
        ok = case.expect == "either" and "iteration" in str(exc)
        out.update(ok=ok, outcome="raised", detail=f"{type(exc).__name__}: {exc}")
        return out
    except Exception as exc:  # any other exception is a bug: it names nothing
        out.update(ok=False, outcome="wrong-exception", detail=f"{type(exc).__name__}: {exc}")
        return out
    if case.expect == "raise":
        out.update(ok=False, outcome="no-raise", detail="returned instead of raising")
        return out
    np.random.seed(7)
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        expected = getattr(reference, case.func)(*ref_args, **kwargs)
    if case.func in MODELS:
        expected = expected[0]
    err = _compare(got, expected)
    if err and case.expect == "either":
        # the models' fused engine differentiates the output layer as dZ = AL - Y,
        # which stays finite where the seed's -(Y/AL - (1-Y)/(1-AL)) * AL(1-AL) is
        # 0 * inf = NaN (AL saturated at exactly 0 or 1): compare where numpy is finite
        err2 = _compare(got, expected, finite_only=True)
        if err2 is None:
            out.update(ok=True, outcome="equal-where-finite", detail=err)
            return out
    out.update(ok=err is None, outcome="equal" if err is None else "mismatch", detail=err or "")
    return out


# ------------------------------------------------------- worker and runner
# Shared with tests/test_faults.py: a script that calls ``serve`` when run as
# ``script --worker OUTFILE i,j,...`` can have its cases run by ``run_isolated``.

def serve(outfile, indices, cases, run_one):
    """Worker side: run cases by index, appending JSON lines {"start": i}, then the
    outcome dict of ``run_one(case)`` (with "i" and "id" added)."""
    with open(outfile, "a", buffering=1) as f:
        for i in indices:
            f.write(json.dumps({"start": i}) + "\n")
            f.flush()
            if i == CRASH_SELFTEST:
                os.kill(os.getpid(), signal.SIGSEGV)
            if i == HANG_SELFTEST:
                time.sleep(3600)
            res = run_one(cases[i])
            res.update(i=i, id=cases[i].id)
            f.write(json.dumps(res) + "\n")
            f.flush()


CRASH_SELFTEST = -1          # an index that makes the worker segfault (tests the runner)
HANG_SELFTEST = -2           # an index that makes the worker hang (tests the runner)
CASE_TIMEOUT = 20.0          # seconds one case may take before it counts as a hang


def run_isolated(script, indices, case_id, case_timeout=CASE_TIMEOUT):
    """Run the cases ``indices`` of ``script`` (a path, or [path, extra worker args])
    in worker subprocesses; {index: result}.

    A worker that dies, or whose current case runs longer than ``case_timeout``
    seconds, costs that case (outcome "crash" or "hang", ok False); the
    remaining cases go to a fresh worker.
    """
    results = {}
    todo = list(indices)
    with tempfile.TemporaryDirectory() as tmp:
        attempt = 0
        while todo:
            attempt += 1
            outfile = os.path.join(tmp, f"worker{attempt}.jsonl")
            errfile = os.path.join(tmp, f"worker{attempt}.stderr")
            path, *extra = [script] if isinstance(script, str) else script
            cmd = [sys.executable, os.path.abspath(path), "--worker", outfile,
                   ",".join(map(str, todo))] + extra
            env = dict(os.environ, PYTHONFAULTHANDLER="1")   # a crash prints its traceback
            started, since, died = None, time.monotonic(), "crash"
            with open(errfile, "w") as err:
                proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=err)
                pos = 0
                while True:
                    rc = proc.poll()
                    if os.path.exists(outfile):
                        with open(outfile) as f:
                            f.seek(pos)
                            for line in f:
                                if not line.endswith("\n"):
                                    break            # a line still being written
                                pos += len(line)
                                rec = json.loads(line)
                                if "start" in rec:
                                    started, since = rec["start"], time.monotonic()
                                else:
                                    results[rec["i"]] = rec
                                    started = None
                    if rc is not None:
                        break
                    if started is not None and time.monotonic() - since > case_timeout:
                        proc.kill()
                        proc.wait()
                        rc, died = None, "hang"
                        break
                    time.sleep(0.02)
            with open(errfile) as f:
                stderr = f.read()
            if rc == 0:
                missing = [i for i in todo if i not in results]
                if missing:
                    raise RuntimeError(f"worker exited cleanly without running {missing}")
                break
            if started is None:
                raise RuntimeError(f"worker failed before running a case (rc={rc}):\n{stderr}")
            if rc is not None and rc > 0:
                died = "worker-error"      # a bug of the test harness, not of fastdnn
            how = (f"killed by signal {-rc}" if rc is not None and rc < 0 else
                   f"still running after {case_timeout:g} s" if died == "hang" else died)
            results[started] = {"i": started, "id": case_id(started), "ok": False,
                                "outcome": died, "detail": f"worker {how} (rc={rc}) {stderr[-2000:]}"}
            todo = [i for i in todo if i not in results]
    return results


def _worker(outfile, indices):
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    serve(outfile, indices, build_cases(), run_case)


def matrix_runner(script, build, case_timeout=CASE_TIMEOUT):
    """``(run_matrix, case_id)`` for the matrix of ``script`` whose cases ``build()``
    makes: ``run_matrix(indices=None)`` runs them (all by default) crash-isolated and
    returns {index: result}; ``case_id(i)`` names case i (or a self-test)."""
    def case_id(i):
        return {CRASH_SELFTEST: "selftest/segfault", HANG_SELFTEST: "selftest/hang"}.get(i) \
            or build()[i].id

    def run_matrix(indices=None):
        if indices is None:
            indices = list(range(len(build())))
        return run_isolated(script, indices, case_id, case_timeout=case_timeout)

    return run_matrix, case_id


def matrix_fixture(run_matrix):
    """A module-scoped pytest fixture: {index: result} of the whole matrix, run once (the
    worker process never calls this, so it needs no pytest)."""
    import pytest

    results = {}

    @pytest.fixture(scope="module")
    def matrix():
        if not results:
            results.update(run_matrix())
        return results

    return matrix


def repeated_ids(cases):
    """The case ids that occur more than once (sorted)."""
    ids = [c.id for c in cases]
    return sorted({i for i in ids if ids.count(i) > 1})


run_matrix, _case_id = matrix_runner(__file__, build_cases)


# --------------------------------------------------------------- the tests
if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "--worker":
    _worker(sys.argv[2], [int(s) for s in sys.argv[3].split(",") if s])
    sys.exit(0)

import pytest  # noqa: E402  (the worker does not need pytest)

CASES = build_cases()
matrix = matrix_fixture(run_matrix)


def test_case_ids_are_unique():
    assert not repeated_ids(CASES)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.id for c in CASES])
def test_bad_input(matrix, index):
    res = matrix[index]
    assert res["ok"], f"{res['id']} [{CASES[index].expect}] {res['outcome']}: {res['detail']}"


def test_runner_reports_a_crash_as_that_case_and_continues():
    """The runner itself: a worker killed by SIGSEGV mid-case fails exactly that case."""
    res = run_matrix([0, CRASH_SELFTEST, 1])
    assert res[CRASH_SELFTEST]["outcome"] == "crash" and not res[CRASH_SELFTEST]["ok"]
    assert "signal 11" in res[CRASH_SELFTEST]["detail"]
    assert res[0]["outcome"] in ("equal", "raised") and res[1]["outcome"] in ("equal", "raised")


def test_runner_reports_a_hang_as_that_case_and_continues():
    res = run_isolated(__file__, [0, HANG_SELFTEST, 1], _case_id, case_timeout=2)
    assert res[HANG_SELFTEST]["outcome"] == "hang" and not res[HANG_SELFTEST]["ok"]
    assert res[0]["ok"] and res[1]["ok"]
