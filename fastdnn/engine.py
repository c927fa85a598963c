"""The training engine behind two_layer_model, L_layer_model and the CLI.

Contract (used by ``fastdnn.models`` and ``fastdnn.cli``):

    trainer = Trainer(X, Y, parameters, learning_rate, dtype=None, solver="auto",
                      threads=None)
    costs = trainer.run(num_iterations, record_every=100, callback=None)
    trainer.parameters()   # dict W1, b1, ... (new arrays, materialised)
    trainer.state()        # dict of arrays: enough to resume *exactly*
    Trainer.from_state(X, Y, state, learning_rate, ...)   # resume
    trainer.iteration      # iterations done so far (across resumes)

``run`` performs full-batch gradient descent exactly as the seed does
(forward, cost, backward, update) and returns the costs recorded at the
iterations i with i % record_every == 0 (i counted from the start of the whole
training, so a resumed run records the same iterations).  ``callback(i, cost)``
is called at each recorded iteration; it may raise to stop training (the
trainer's state is then that after iteration i).

This first version drives the public layer API; the fused compiled engine
(issue "Speed") replaces the body of ``run`` without changing the contract.
"""
from __future__ import annotations

import numpy as np

from fastdnn.layers import L_model_backward, L_model_forward, compute_cost, update_parameters

__all__ = ["Trainer"]


class Trainer:
    """Full-batch gradient descent on [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID."""

    def __init__(self, X, Y, parameters, learning_rate, *, dtype=None, solver="auto",
                 threads=None, iteration=0):
        self.X = np.asarray(X)
        self.Y = np.asarray(Y)
        self.learning_rate = float(learning_rate)
        self.dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
        self.solver = solver
        self.threads = threads
        self.iteration = int(iteration)
        self._params = {k: np.asarray(v, dtype=self.dtype) for k, v in parameters.items()}
        self._X = self.X.astype(self.dtype, copy=False)

    def run(self, num_iterations, record_every=100, callback=None):
        costs = []
        params = self._params
        for _ in range(int(num_iterations)):
            i = self.iteration
            AL, caches = L_model_forward(self._X, params)
            record = record_every and i % record_every == 0
            cost = compute_cost(AL, self.Y) if record else None
            grads = L_model_backward(AL, self.Y, caches)
            params = update_parameters(params, grads, self.learning_rate)
            self.iteration = i + 1
            if record:
                costs.append(float(cost))
                if callback is not None:
                    callback(i, float(cost))
        self._params = params
        return costs

    def parameters(self):
        return {k: v.copy() for k, v in self._params.items()}

    def state(self):
        return {k: v.copy() for k, v in self._params.items()}

    @classmethod
    def from_state(cls, X, Y, state, learning_rate, *, iteration, **kwargs):
        return cls(X, Y, state, learning_rate, iteration=iteration, **kwargs)
