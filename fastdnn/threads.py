"""Thread-count control for fastdnn's compiled code.

fastdnn's own loops are single-threaded; every thread it uses is a BLAS
thread.  Two OpenBLAS copies are usually loaded: scipy's, which fastdnn's
kernels call through ``scipy.linalg.cython_blas``, and numpy's, which the
engine uses once per run for setup products (the gram matrix, forming W1).
``limit(threads)`` sets both, through threadpoolctl, for the duration of a
``with`` block and restores the previous counts afterwards, so the setting
never leaks into the caller's other numpy/scipy work.  Because no OpenMP pool
exists next to the BLAS pool, nothing is oversubscribed: at most ``threads``
threads compute at any time.

The count comes from the ``threads`` argument of the training functions, or
else from the environment variable ``FASTDNN_NUM_THREADS``; with neither,
BLAS keeps its own default (OpenBLAS: one thread per core).
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["ENV_VAR", "MAX_THREADS", "resolve_threads", "limit", "cpu_model"]

ENV_VAR = "FASTDNN_NUM_THREADS"
#: the largest thread count: BLAS libraries take it as a C int
MAX_THREADS = 2 ** 31 - 1

_controller = None


def resolve_threads(threads=None):
    """The thread count to use: ``threads``, else ``$FASTDNN_NUM_THREADS``, else None.

    Raises ValueError/TypeError for anything but a positive integer (the
    environment variable's value is named in the message).
    """
    source = "threads"
    if threads is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            return None
        source = ENV_VAR
        try:
            threads = int(value)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {value!r}") from None
    if isinstance(threads, bool) or not hasattr(threads, "__index__"):
        raise TypeError(f"{source} must be a positive int or None, got {threads!r}")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"{source} must be a positive integer, got {threads}")
    if threads > MAX_THREADS:
        raise ValueError(f"{source} must be <= {MAX_THREADS}, got {threads}")
    return threads


def _get_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()   # scans the loaded libraries once
    return _controller


def limit(threads=None):
    """Context manager: BLAS (numpy's and scipy's) limited to ``resolve_threads(threads)``.

    A no-op when neither the argument nor the environment variable is set.
    """
    n = resolve_threads(threads)
    if n is None:
        return contextlib.nullcontext()
    return _get_controller().limit(limits=n, user_api="blas")


def cpu_model():
    """The processor's name ("model name" in /proc/cpuinfo, else what ``platform`` says),
    for the machine line of the CLI's and the benchmarks' reports."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"
