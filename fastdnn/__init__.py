"""fastdnn: the "deep neural network step by step" exercise, compiled and fast.

Drop-in for the seed's functions: ``from fastdnn import L_model_forward, ...``.
"""
from fastdnn.activations import relu, relu_backward, sigmoid, sigmoid_backward
from fastdnn.data import load_dataset
from fastdnn.layers import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    update_parameters,
)
from fastdnn.models import L_layer_model, predict, two_layer_model
from fastdnn.model_io import load_model, save_model

__version__ = "0.1.0"

# names whose modules need optional packages (scikit-learn, matplotlib) or are large:
# imported on first use, so that ``import fastdnn`` loads none of them
_LAZY = {
    "MLPClassifier": "fastdnn.sklearn",
    "MLPRegressor": "fastdnn.sklearn",
    "print_mislabeled_images": "fastdnn.dnn_app_utils_v3",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastdnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "sigmoid", "relu", "sigmoid_backward", "relu_backward",
    "initialize_parameters", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward",
    "compute_cost",
    "linear_backward", "linear_activation_backward", "L_model_backward",
    "update_parameters",
    "two_layer_model", "L_layer_model", "predict",
    "load_dataset",
    "save_model", "load_model",
    "print_mislabeled_images",
]
# (MLPClassifier and MLPRegressor are attributes too, but not in __all__: they need scikit-learn)
