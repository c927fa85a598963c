"""Type stubs for the compiled fastdnn.layers (the seed's layer API).

Arrays are 2-D float32 or float64 ndarrays (float32 only when every input is
float32); any real numeric array-like is accepted as input.
"""
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "initialize_parameters", "initialize_parameters_deep",
    "linear_forward", "linear_activation_forward", "L_model_forward",
    "compute_cost",
    "linear_backward", "linear_activation_backward", "L_model_backward",
    "update_parameters",
]

Array: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64]
ArrayLike: TypeAlias = npt.ArrayLike
Activation: TypeAlias = Literal["relu", "sigmoid"]
#: fastdnn.training.registry.HIDDEN_ACTIVATIONS (+ the alias "logistic")
HiddenActivation: TypeAlias = Literal["relu", "tanh", "sigmoid", "logistic", "identity"]
#: fastdnn.training.registry.PUBLIC_OUTPUTS
Output: TypeAlias = Literal["sigmoid", "softmax", "identity"]
#: (A_prev, W, b)
LinearCache: TypeAlias = tuple[Array, Array, Array]
#: ((A_prev, W, b), Z)
ActivationCache: TypeAlias = tuple[LinearCache, Array]
#: "W1", "b1", ..., "WL", "bL"
Parameters: TypeAlias = dict[str, Array]
#: "dW1", "db1", "dA1", ...
Grads: TypeAlias = dict[str, Array]

_P = TypeVar("_P", bound=MutableMapping[str, Any])

RNG_LOCK: threading.RLock

def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, npt.NDArray[np.float64]]: ...
def initialize_parameters_deep(
    layer_dims: Sequence[int] = ..., *, layers_dims: Sequence[int] = ...
) -> dict[str, npt.NDArray[np.float64]]: ...
def linear_forward(A: ArrayLike, W: ArrayLike, b: ArrayLike) -> tuple[Array, LinearCache]: ...
def linear_activation_forward(
    A_prev: ArrayLike, W: ArrayLike, b: ArrayLike, activation: Activation
) -> tuple[Array, ActivationCache]: ...
def L_model_forward(
    X: ArrayLike, parameters: Mapping[str, ArrayLike], *,
    hidden_activation: HiddenActivation = "relu", output: Output = "sigmoid",
) -> tuple[Array, list[ActivationCache]]: ...
def compute_cost(
    AL: ArrayLike, Y: ArrayLike, *, output: Output = "sigmoid"
) -> np.ndarray[tuple[()], np.dtype[np.float32 | np.float64]]: ...
def linear_backward(dZ: ArrayLike, cache: tuple[ArrayLike, ArrayLike, ArrayLike]) -> tuple[Array, Array, Array]: ...
def linear_activation_backward(
    dA: ArrayLike,
    cache: tuple[tuple[ArrayLike, ArrayLike, ArrayLike], ArrayLike],
    activation: Activation = "relu",
) -> tuple[Array, Array, Array]: ...
def L_model_backward(
    AL: ArrayLike, Y: ArrayLike, caches: Sequence[tuple[tuple[ArrayLike, ArrayLike, ArrayLike], ArrayLike]],
    *, hidden_activation: HiddenActivation = "relu", output: Output = "sigmoid",
) -> Grads: ...
def update_parameters(parameters: _P, grads: Mapping[str, ArrayLike], learning_rate: float) -> _P:
    """Stores the new W_l, b_l in ``parameters`` (new arrays) and returns it."""
