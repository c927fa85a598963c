"""The training configuration: every hyperparameter of SPEC §5 in one object, validated once.

``TrainingConfig`` is a frozen dataclass; construction validates each field (type, range)
and the combinations that make no sense, raising ``TypeError`` / ``ValueError`` that name
the parameter and the value.  Constraints that need the data's shape (softmax needs at
least two output units, fixed dropout masks need the full batch) are checked by the
trainer.  ``to_dict`` / ``from_dict`` serialise it whole into model files (no whitelist).
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from fastdnn.threads import MAX_THREADS
from fastdnn.training import registry

__all__ = ["TrainingConfig", "check_real", "check_int", "check_output_units"]


def _name(value):
    return f"{value!r}"


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False,
               allow_none=False):
    """``value`` as a finite float within the bounds; TypeError/ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_name(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {v}")
    return v


def check_int(name, value, *, low=None, high=None, allow_none=False):
    """``value`` as an int within [low, high]; TypeError/ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_name(value)}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_output_units(output, n_units):
    """A softmax output needs at least two units (over one unit it is 1 whatever the
    input); ValueError naming output and the count otherwise."""
    if output == "softmax" and n_units < 2:
        raise ValueError(f"output='softmax' needs at least 2 output units, got {n_units} "
                         f"(use output='sigmoid' for a binary label)")


def _choice(name, value, options):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {sorted(options)}, got {_name(value)}")
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of one training run (SPEC §5; ENGINE_API in the docs).

    Defaults reproduce the seed's training bit for bit (full-batch gradient descent,
    ReLU hidden layers, sigmoid output, float64).
    """

    learning_rate: float = 0.0075
    hidden_activation: str = "relu"
    output: str = "sigmoid"
    optimizer: str = "gd"
    mini_batch_size: Optional[int] = None
    shuffle: str = "course"
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    nesterov: bool = True
    lambd: float = 0.0
    keep_prob: float = 1.0
    decay: Optional[Callable[..., Any]] = field(default=None, compare=False)
    decay_rate: float = 1.0
    seed: int = 10
    loss_convention: str = "course"
    dtype: str = "float64"
    solver: str = "auto"
    threads: Optional[int] = None

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)   # noqa: E731 (frozen)
        set_("learning_rate", check_real("learning_rate", self.learning_rate, low=0.0))
        act = _choice("hidden_activation", self.hidden_activation,
                      set(registry.HIDDEN_ACTIVATIONS) | set(registry.ACTIVATION_ALIASES))
        set_("hidden_activation", registry.canonical_activation(act))
        _choice("output", self.output, registry.OUTPUTS)
        _choice("optimizer", self.optimizer, registry.OPTIMIZERS)
        set_("mini_batch_size", check_int("mini_batch_size", self.mini_batch_size, low=1,
                                          allow_none=True))
        _choice("shuffle", self.shuffle, registry.SHUFFLES)
        for k in ("beta", "beta1", "beta2"):
            set_(k, check_real(k, getattr(self, k), low=0.0, high=1.0, high_open=True))
        set_("epsilon", check_real("epsilon", self.epsilon, low=0.0, low_open=True))
        set_("momentum", check_real("momentum", self.momentum, low=0.0, high=1.0))
        if not isinstance(self.nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {_name(self.nesterov)}")
        set_("nesterov", bool(self.nesterov))
        set_("lambd", check_real("lambd", self.lambd, low=0.0))
        set_("keep_prob", check_real("keep_prob", self.keep_prob, low=0.0, high=1.0,
                                     low_open=True))
        if self.decay is not None:
            _check_decay(self.decay)
        set_("decay_rate", check_real("decay_rate", self.decay_rate, low=0.0))
        set_("seed", check_int("seed", self.seed, low=0, high=2**32 - 2))
        _choice("loss_convention", self.loss_convention, registry.LOSS_CONVENTIONS)
        dt = self.dtype
        if dt is None:
            dt = "float64"
        elif not isinstance(dt, (str, np.dtype, type)):    # not a value like 0.5 or 2
            raise TypeError(f"dtype must be 'float32' or 'float64', got {_name(dt)}")
        elif not isinstance(dt, str):
            try:
                dt = np.dtype(dt).name
            except TypeError:
                raise TypeError(f"dtype must be 'float32' or 'float64', got {_name(dt)}") from None
        set_("dtype", _choice("dtype", dt, registry.DTYPES))
        _choice("solver", self.solver, registry.SOLVERS)
        set_("threads", check_int("threads", self.threads, low=1, high=MAX_THREADS,
                                  allow_none=True))
        if self.solver == "gram" and self.optimizer not in registry.GRAM_OPTIMIZERS:
            raise ValueError(f"solver='gram' is not exact with optimizer={self.optimizer!r}: "
                             f"its update is not linear (Adam scales each coordinate of W1's "
                             f"update, which takes W1 out of W1_0 plus the span of X's rows); "
                             f"the gram solver runs {', '.join(registry.GRAM_OPTIMIZERS)}; use "
                             f"solver='primal' or 'auto'")

    # ------------------------------------------------------------- derived
    @property
    def numpy_dtype(self):
        return np.dtype(self.dtype)

    @property
    def is_seed_default(self):
        """True when training is the seed's: full-batch plain gradient descent, ReLU hidden
        layers, a sigmoid output, no L2, no dropout, no decay, the course's loss (the fused
        gradient-descent engine and its gram solver apply)."""
        return (self.optimizer == "gd" and self.mini_batch_size is None
                and self.hidden_activation == "relu" and self.output == "sigmoid"
                and self.lambd == 0 and self.keep_prob == 1 and self.decay is None
                and self.loss_convention == "course")

    def replace(self, **changes):
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------- serialisation
    def to_dict(self):
        """Plain JSON-able dict of every field; ``decay`` as its qualified name (or None)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d = self.decay
        out["decay"] = None if d is None else f"{getattr(d, '__module__', '?')}." \
                                               f"{getattr(d, '__qualname__', repr(d))}"
        return out

    @classmethod
    def from_dict(cls, d, *, decay=None):
        """The configuration saved by :meth:`to_dict`; unknown keys are refused.  A saved
        ``decay`` names a callable that cannot be stored: pass it as ``decay=``; without it
        the saved name is resolved when it is one of fastdnn's own schedules."""
        if not isinstance(d, dict):
            raise TypeError(f"a training configuration must be a dict, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown configuration keys {sorted(unknown)}; known: "
                             f"{sorted(names)}")
        kw = dict(d)
        saved = kw.pop("decay", None)
        if decay is None and saved is not None:
            decay = _known_decay(saved)
        return cls(**kw, decay=decay)


def _check_decay(decay):
    """``decay`` must be callable as decay(learning_rate0, epoch, decay_rate)."""
    if not callable(decay):
        raise TypeError(f"decay must be None or a callable decay(learning_rate0, epoch, "
                        f"decay_rate), got {_name(decay)}")
    try:
        sig = inspect.signature(decay)
    except (TypeError, ValueError):      # a builtin without a signature: trust it
        return
    try:
        sig.bind(0.1, 0, 1.0)
    except TypeError as exc:
        raise TypeError(f"decay must take (learning_rate0, epoch, decay_rate), got "
                        f"{_name(decay)} with signature {sig}: {exc}") from None


def _known_decay(qualname):
    """fastdnn's own schedules by their saved name; ValueError for anything else."""
    module, _, name = str(qualname).rpartition(".")
    if module.startswith("fastdnn.") and name in ("update_lr", "schedule_lr_decay"):
        import importlib
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            pass
    raise ValueError(f"the run used the learning-rate schedule decay={qualname}, which a model "
                     f"file cannot hold: pass it again (decay=...) to resume")
