"""The seed's models: two_layer_model, L_layer_model and predict.

Full-batch gradient descent on [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID,
with the seed's seeding: ``np.random.seed(1)`` then the initialiser (the deep
one reseeds with 3).  The cost is recorded every 100 iterations.
"""
from __future__ import annotations

import numpy as np

from fastdnn.engine import Trainer
from fastdnn.layers import L_model_forward, initialize_parameters, initialize_parameters_deep

__all__ = ["two_layer_model", "L_layer_model", "predict"]


def _gradient_descent(X, Y, parameters, learning_rate, num_iterations, print_cost):
    def report(i, cost):
        print("第", i, "次迭代，成本值为：", cost)

    trainer = Trainer(X, Y, parameters, learning_rate)
    costs = trainer.run(num_iterations, callback=report if print_cost else None)
    return trainer.parameters(), costs


def _plot(costs, learning_rate):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.plot(np.squeeze(costs))
    plt.ylabel("cost")
    plt.xlabel("iterations (per hundreds)")
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, isPlot=True):
    """Train LINEAR -> RELU -> LINEAR -> SIGMOID; ``layers_dims = (n_x, n_h, n_y)``."""
    np.random.seed(1)
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    parameters, costs = _gradient_descent(X, Y, parameters, learning_rate, num_iterations, print_cost)
    if isPlot:
        _plot(costs, learning_rate)
    return parameters


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, isPlot=True):
    """Train [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID; ``layers_dims = [n_x, ..., 1]``."""
    np.random.seed(1)
    parameters = initialize_parameters_deep(layers_dims)
    parameters, costs = _gradient_descent(X, Y, parameters, learning_rate, num_iterations, print_cost)
    if isPlot:
        _plot(costs, learning_rate)
    return parameters


def predict(X, y, parameters):
    """Predict 0/1 labels (1 where AL > 0.5) and print the accuracy ``mean(p == y)``.

    Returns p, shape (1, m), float 0./1.
    """
    probas, _ = L_model_forward(X, parameters)
    p = (probas > 0.5).astype(np.float64)
    y = np.asarray(y)
    print("准确度为: " + str(float(np.sum(p == y.reshape(p.shape)) / p.shape[1])))
    return p
