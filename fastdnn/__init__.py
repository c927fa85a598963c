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
]
