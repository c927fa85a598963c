"""One table per concept of the training engine, and nothing else.

Every other place derives from these: the configuration's validation
(:mod:`fastdnn.training.config`), the CLI's ``choices``, the model files' metadata, the
typed stubs (``tests/test_registry.py`` checks the ``Literal`` types against these) and
README's option table.  The integer codes are the compiled core's enums
(``fastdnn._core.loop``), so a name can only map to a kernel that exists.

Adding an activation, an output or an optimiser: one enum value and one kernel in the
``.pxd`` of its concept under ``fastdnn/_core/``, its code in ``fastdnn._core.loop``'s
table, and one entry here.
"""
from __future__ import annotations

from fastdnn._core.loop import (ACTIVATION_CODES, LINEAR_OPTIMIZERS, LOSS_CONVENTION_CODES,
                                OPTIMIZER_CODES, OUTPUT_CODES, SHUFFLE_CODES)

__all__ = ["HIDDEN_ACTIVATIONS", "ACTIVATION_ALIASES", "OUTPUTS", "OPTIMIZERS",
           "COURSE_OPTIMIZERS", "GRAM_OPTIMIZERS", "INITIALIZERS", "SHUFFLES", "LOSS_CONVENTIONS", "SOLVERS",
           "DTYPES", "code", "canonical_activation"]

#: hidden activation -> its formula (g, and g' from the output A)
HIDDEN_ACTIVATIONS = {
    "relu": "max(0, z); g' = [A > 0]",
    "tanh": "tanh(z); g' = 1 - A^2",
    "sigmoid": "1 / (1 + e^-z); g' = A (1 - A)",
    "identity": "z; g' = 1",
}
#: other spellings: scikit-learn's "logistic"
ACTIVATION_ALIASES = {"logistic": "sigmoid"}

#: output unit -> its loss (dZ_L = A_L - Y for every one of them)
OUTPUTS = {
    "sigmoid": "binary cross-entropy per unit (n_L = 1: binary; > 1: multi-label)",
    "softmax": "categorical cross-entropy over n_L >= 2 classes",
    "identity": "squared error (1/2m) sum (A - Y)^2 (regression)",
    "exp": "half Poisson deviance sum (y log(y/A) - y + A) / m (scikit-learn's poisson loss)",
}
#: the outputs of SPEC §5 (the course's keyword and the CLI); "exp" is for the estimators
PUBLIC_OUTPUTS = ("sigmoid", "softmax", "identity")

OPTIMIZERS = {
    "gd": "p -= lr g",
    "momentum": "v = beta v + (1 - beta) g; p -= lr v",
    "adam": "v = b1 v + (1-b1) g; s = b2 s + (1-b2) g^2; p -= lr (v/(1-b1^t)) / "
            "(sqrt(s/(1-b2^t)) + eps)",
    "sgd": "scikit-learn's SGD: v = momentum v - lr g; p += v (Nesterov: p += momentum v - lr g)",
    "adam_sklearn": "scikit-learn's Adam: p -= lr sqrt(1-b2^t)/(1-b1^t) v / (sqrt(s) + eps)",
}
#: the optimisers the gram solver runs (their update is linear in the parameter, its
#: velocity and the gradient; fastdnn._core.optimizers.opt_is_linear)
GRAM_OPTIMIZERS = LINEAR_OPTIMIZERS
#: the optimisers of SPEC §5 (course 2); "sgd" and "adam_sklearn" are scikit-learn's
COURSE_OPTIMIZERS = ("gd", "momentum", "adam")

INITIALIZERS = {
    "seed": "the seed's: np.random.seed(1), then randn*0.01 (two-layer) or randn/sqrt(n) "
            "after np.random.seed(3) (deep)",
    "he": "np.random.seed(3); randn * sqrt(2 / n_{l-1}), zero biases",
    "zeros": "all zeros",
    "random": "np.random.seed(3); randn * 10, zero biases",
    "glorot": "scikit-learn's Glorot-uniform from RandomState(seed), biases drawn too",
}

SHUFFLES = {
    "course": "epoch e: np.random.RandomState(seed + 1 + e).permutation(m)",
    "none": "data order",
    "external": "the caller's permutation per epoch (scikit-learn's stream)",
}

LOSS_CONVENTIONS = {
    "course": "logs clamped at -100; squared error summed over outputs",
    "sklearn": "probabilities clipped to [eps, 1-eps]; squared error averaged over outputs",
}

SOLVERS = ("auto", "primal", "gram")
DTYPES = ("float64", "float32")

_TABLES = {"hidden_activation": ACTIVATION_CODES, "output": OUTPUT_CODES,
           "optimizer": OPTIMIZER_CODES, "shuffle": SHUFFLE_CODES,
           "loss_convention": LOSS_CONVENTION_CODES}

# every name here has a kernel, and every kernel a name
assert set(HIDDEN_ACTIVATIONS) == set(ACTIVATION_CODES)
assert set(OUTPUTS) == set(OUTPUT_CODES)
assert set(OPTIMIZERS) == set(OPTIMIZER_CODES)
assert set(SHUFFLES) == set(SHUFFLE_CODES)
assert set(LOSS_CONVENTIONS) == set(LOSS_CONVENTION_CODES)


def canonical_activation(name):
    """"logistic" -> "sigmoid"; other names unchanged."""
    return ACTIVATION_ALIASES.get(name, name)


def code(kind, name):
    """The compiled core's enum value of ``name`` for ``kind`` ("output", "optimizer", ...)."""
    if kind == "hidden_activation":
        name = canonical_activation(name)
    return _TABLES[kind][name]
