"""The Python side of the training engine: configuration, registry, initialisers, trainer.

    from fastdnn.training import TrainingConfig, Trainer, loss_and_gradients
    cfg = TrainingConfig(optimizer="adam", mini_batch_size=64, lambd=0.7)
    trainer = Trainer(X, Y, parameters, cfg)
    costs = trainer.run(100)

See ``fastdnn.training.trainer`` for the semantics and ``fastdnn._core`` for the compiled
loop.
"""
from fastdnn.training.config import TrainingConfig
from fastdnn.training.initializers import initialize_parameters
from fastdnn.training.trainer import Trainer, TrainingDiverged, loss_and_gradients

__all__ = ["TrainingConfig", "Trainer", "TrainingDiverged", "loss_and_gradients",
           "initialize_parameters"]
