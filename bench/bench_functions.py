"""fastdnn vs the plain-numpy reference, function by function (pytest-benchmark).

Run with ``make bench`` (which also prints the ratio table, bench/ratios.py).
Each benchmark group is one function at one size, holding two rows:
``numpy`` (tests/reference.py, the seed's code) and ``fastdnn``, measured side
by side in the same run.  Sizes:

* ``seed``: the seed's test cases (fastdnn.testcases), a few numbers each;
* ``cat``: the seed's five-layer cat model [12288, 20, 7, 5, 1] on the 209
  training images: X (12288, 209) Fortran-ordered as the seed's
  ``x_orig.reshape(m, -1).T / 255``, W1 (20, 12288); single-layer functions
  are measured on the first layer (the expensive one: its forward product,
  and for backward its dW1 and dA_prev), activations on Z1 (20, 209).
"""
import numpy as np
import pytest

import fastdnn
from fastdnn import testcases
from tests import reference as ref

IMPLS = {"numpy": ref, "fastdnn": fastdnn}
CAT_DIMS = [12288, 20, 7, 5, 1]
M = 209


def _seed_inputs():
    A_prev, W, b = testcases.linear_activation_forward_test_case()
    Z = W @ A_prev + b
    dA, act_cache = testcases.linear_activation_backward_test_case()
    dZ, lin_cache = testcases.linear_backward_test_case()
    X, params = testcases.L_model_forward_test_case()
    Y, AL = testcases.compute_cost_test_case()
    ALb, Yb, caches = testcases.L_model_backward_test_case()
    up, ug = testcases.update_parameters_test_case()
    return {
        "Z": Z, "dA": dA, "A_prev": A_prev, "W": W, "b": b, "act_cache": act_cache,
        "dZ": dZ, "lin_cache": lin_cache, "X": X, "params": params, "Y": Y, "AL": AL,
        "backward": (ALb, Yb, list(caches)), "update": (up, ug), "dims": [5, 4, 3],
        "dims2": (3, 2, 1),
    }


def _cat_inputs():
    rng = np.random.default_rng(0)
    x_orig = rng.integers(0, 256, size=(M, 64, 64, 3), dtype=np.uint8)
    X = x_orig.reshape(M, -1).T / 255                    # Fortran-ordered, as the seed's
    Y = (rng.random((1, M)) > 0.65).astype(np.int64)
    params = ref.initialize_parameters_deep(CAT_DIMS)
    AL, caches = ref.L_model_forward(X, params)
    grads = ref.L_model_backward(AL, Y, caches)
    (A_prev, W, b), Z = caches[0]
    dA = grads["dA2"]                                    # what layer 1's backward step gets
    return {
        "Z": Z, "dA": dA, "A_prev": A_prev, "W": W, "b": b, "act_cache": caches[0],
        "dZ": ref.relu_backward(dA, Z), "lin_cache": caches[0][0], "X": X, "params": params,
        "Y": Y, "AL": AL, "backward": (AL, Y, caches),
        "update": (params, {k: v for k, v in grads.items() if not k.startswith("dA")}),
        "dims": CAT_DIMS, "dims2": (12288, 7, 1),
    }


@pytest.fixture(scope="module")
def inputs():
    data = {"seed": _seed_inputs(), "cat": _cat_inputs()}
    assert data["cat"]["X"].flags.f_contiguous
    return data


# function -> call(implementation module, inputs of one size)
CALLS = {
    "sigmoid": lambda F, d: F.sigmoid(d["Z"]),
    "relu": lambda F, d: F.relu(d["Z"]),
    "sigmoid_backward": lambda F, d: F.sigmoid_backward(d["dA"], d["Z"]),
    "relu_backward": lambda F, d: F.relu_backward(d["dA"], d["Z"]),
    "initialize_parameters": lambda F, d: F.initialize_parameters(*d["dims2"]),
    "initialize_parameters_deep": lambda F, d: F.initialize_parameters_deep(d["dims"]),
    "linear_forward": lambda F, d: F.linear_forward(d["A_prev"], d["W"], d["b"]),
    "linear_activation_forward[relu]":
        lambda F, d: F.linear_activation_forward(d["A_prev"], d["W"], d["b"], "relu"),
    "linear_activation_forward[sigmoid]":
        lambda F, d: F.linear_activation_forward(d["A_prev"], d["W"], d["b"], "sigmoid"),
    "L_model_forward": lambda F, d: F.L_model_forward(d["X"], d["params"]),
    "compute_cost": lambda F, d: F.compute_cost(d["AL"], d["Y"]),
    "linear_backward": lambda F, d: F.linear_backward(d["dZ"], d["lin_cache"]),
    "linear_activation_backward[relu]":
        lambda F, d: F.linear_activation_backward(d["dA"], d["act_cache"], "relu"),
    "linear_activation_backward[sigmoid]":
        lambda F, d: F.linear_activation_backward(d["dA"], d["act_cache"], "sigmoid"),
    "L_model_backward": lambda F, d: F.L_model_backward(*d["backward"]),
    # a fresh dict per call: fastdnn stores the new arrays into the dict it is given
    "update_parameters": lambda F, d: F.update_parameters(dict(d["update"][0]), d["update"][1], 0.0075),
}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("size", ["seed", "cat"])
@pytest.mark.parametrize("function", list(CALLS))
def test_function(benchmark, inputs, function, size, impl):
    benchmark.group = f"{function} | {size}"
    benchmark.extra_info.update(function=function, size=size, impl=impl)
    call, F, d = CALLS[function], IMPLS[impl], inputs[size]
    benchmark(call, F, d)
