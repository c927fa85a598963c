"""The bridge from the course's ``model`` functions to the compiled trainer.

The course's models are plain gradient-descent loops; here they run on
``fastdnn.training.Trainer``'s general loop (``engine="loop"``, also where the configuration
is the seed's: the course's formulas to rounding are the contract, and course 2's thin nets
take one pass over the examples a step there, fastdnn/_core/thin.pxd).  The course prints
the cost of the forward pass that step i's gradient uses, computed with its own cost function
(``nansum`` / ``sum`` of unclamped logs); the engine's cost clamps its logs
at -100.  The two agree except where a probability is exactly 0 or 1, so for
full-batch runs the printed costs are computed here with the course's
function on the trainer's parameters before step i (a few forward passes).
"""
import numpy as np

from fastdnn.training import Trainer, TrainingConfig

__all__ = ["Trainer", "TrainingConfig", "run_full_batch", "as_float_labels"]


def run_full_batch(X, Y, parameters, num_iterations, points, cost_at, *,
                   dropout_masks=None, **config):
    """``num_iterations`` full-batch steps on the engine from ``parameters``.

    ``points``: the iterations i at which ``cost_at(parameters_before_step_i)``
    is called (in increasing order), e.g. to print the course's cost line.
    Returns the final parameters (a dict of new arrays).
    """
    cfg = TrainingConfig(**config)
    trainer = Trainer(X, Y, parameters, cfg, dropout_masks=dropout_masks, engine="loop")
    done = 0
    for i in points:
        if i >= num_iterations:
            break
        if i > done:
            trainer.run(i - done, record_every=0)
            done = i
        cost_at(i, trainer.parameters())
    if num_iterations > done:
        trainer.run(num_iterations - done, record_every=0)
    return trainer.parameters()


def as_float_labels(Y):
    """Y as a float64 (n, m) array for the trainer."""
    return np.asarray(Y, dtype=np.float64)
