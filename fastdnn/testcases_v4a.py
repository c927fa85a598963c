"""The English course's ``testCases_v4a.py`` (= the 2021 ``testCases.py``):
the ten functions of ``fastdnn.testcases`` with the v4a values (COURSE2.md
section 8).

Differences from ``fastdnn.testcases`` (= ``testCases_v3``):
``compute_cost_test_case`` returns Y = [[1, 1, 0]] and
``linear_backward_test_case`` draws dZ (3,4), A (5,4), W (3,5), b (3,1).
Everything else is the same.  Only numpy is imported.
"""
import numpy as np

from fastdnn.testcases import (  # noqa: F401  (the same in v4a)
    L_model_backward_test_case,
    L_model_forward_test_case,
    L_model_forward_test_case_2hidden,
    linear_activation_backward_test_case,
    linear_activation_forward_test_case,
    linear_forward_test_case,
    print_grads,
    update_parameters_test_case,
)

__all__ = [
    "linear_forward_test_case",
    "linear_activation_forward_test_case",
    "L_model_forward_test_case",
    "L_model_forward_test_case_2hidden",
    "compute_cost_test_case",
    "linear_backward_test_case",
    "linear_activation_backward_test_case",
    "L_model_backward_test_case",
    "update_parameters_test_case",
    "print_grads",
]


def compute_cost_test_case():
    """No RNG.  Returns ``Y, AL`` with Y = [[1, 1, 0]], AL = [[.8, .9, .4]]."""
    Y = np.asarray([[1, 1, 0]])
    aL = np.array([[.8, .9, 0.4]])
    return Y, aL


def linear_backward_test_case():
    """Seed 1; dZ (3,4), A (5,4), W (3,5), b (3,1).  Returns ``dZ, (A, W, b)``."""
    np.random.seed(1)
    dZ = np.random.randn(3, 4)
    A = np.random.randn(5, 4)
    W = np.random.randn(3, 5)
    b = np.random.randn(3, 1)
    linear_cache = (A, W, b)
    return dZ, linear_cache
