"""Pictures: the cost curve and the grid of mislabeled images.

matplotlib is optional (``pip install fastdnn[plot]``) and imported only
when a picture is drawn.  Without it the functions here print one line
saying so on stderr and return None; nothing fails.

PNG files are drawn on an off-screen Agg canvas (no pyplot, no display, no
global figure state) and written atomically: to a temporary file beside the
target, then renamed over it.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

from fastdnn._files import atomic_path

__all__ = ["have_matplotlib", "show_cost_curve", "save_cost_curve", "save_mislabeled_grid",
           "MATPLOTLIB_MISSING"]

MATPLOTLIB_MISSING = ("matplotlib is not installed (pip install matplotlib, or "
                      "pip install 'fastdnn[plot]')")

# backends that cannot show a window: plt.show() would only warn
_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def have_matplotlib():
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _missing(what):
    print(f"fastdnn: {MATPLOTLIB_MISSING}; skipping {what}", file=sys.stderr)


def _cost_axes(ax, costs, learning_rate, record_every):
    costs = np.asarray(costs, dtype=np.float64).ravel()
    ax.plot(np.arange(costs.size) * record_every, costs)
    ax.set_ylabel("cost")
    ax.set_xlabel("iteration")
    ax.set_title("Learning rate = " + str(learning_rate))
    ax.grid(True, alpha=0.3)


def show_cost_curve(costs, learning_rate, record_every=100):
    """The seed's ``isPlot`` picture: cost against iterations, via pyplot.

    Shown without blocking on an interactive backend (a window, a notebook);
    on a non-interactive one (a headless run, where matplotlib picks Agg)
    the figure is drawn and closed.  Returns the figure, or None without
    matplotlib.
    """
    if not have_matplotlib():
        _missing("the cost curve")
        return None
    import matplotlib
    import matplotlib.pyplot as plt

    fig = plt.figure()
    _cost_axes(fig.gca(), costs, learning_rate, record_every)
    if matplotlib.get_backend().lower() in _NON_INTERACTIVE:
        plt.close(fig)
        return fig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plt.show(block=False)
        plt.pause(0.001)
    return fig


def _agg_figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save_atomic(fig, path, dpi=100):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def save_cost_curve(costs, learning_rate, path, record_every=100, title=None):
    """Write the cost curve (cost recorded every ``record_every`` iterations) as a PNG.

    Returns ``path``, or None (after one line on stderr) without matplotlib.
    """
    if not have_matplotlib():
        _missing("the cost-curve picture")
        return None
    fig = _agg_figure((6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    _cost_axes(ax, costs, learning_rate, record_every)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save_atomic(fig, path)


def save_mislabeled_grid(images, y_true, y_pred, probas, path, classes=(b"non-cat", b"cat"),
                         max_images=48, columns=8):
    """Write a PNG grid of the images whose prediction differs from the label.

    ``images`` (m, h, w, c) uint8; ``y_true``, ``y_pred`` 0/1 of length m;
    ``probas`` the network's outputs AL.  Each tile is titled with its index,
    its true class and the predicted class with AL.  At most ``max_images``
    tiles (the first ones).  Returns ``path``; None if nothing is
    mislabeled (no file written) or matplotlib is absent (one line on stderr).
    """
    y_true = np.asarray(y_true).ravel().astype(int)
    y_pred = np.asarray(y_pred).ravel().astype(int)
    probas = np.asarray(probas, dtype=np.float64).ravel()
    wrong = np.flatnonzero(y_true != y_pred)
    if wrong.size == 0:
        return None
    if not have_matplotlib():
        _missing("the mislabeled-images picture")
        return None
    names = [c.decode() if isinstance(c, bytes) else str(c) for c in classes]
    shown = wrong[:max_images]
    cols = min(columns, shown.size)
    rows = math.ceil(shown.size / cols)
    fig = _agg_figure((2.0 * cols, 2.35 * rows))
    for k, i in enumerate(shown):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(images[i], interpolation="nearest")
        ax.axis("off")
        ax.set_title(f"#{i} true: {names[y_true[i]]}\npred: {names[y_pred[i]]} "
                     f"({probas[i]:.2f})", fontsize=8)
    if wrong.size > shown.size:
        fig.suptitle(f"first {shown.size} of {wrong.size} mislabeled images", fontsize=10)
    fig.tight_layout()
    return _save_atomic(fig, path)
