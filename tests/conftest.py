"""Shared fixtures and helpers for fastdnn's tests.

* ``data_dir``: the course data directory (env ``FASTDNN_DATA``, else
  ``<repo>/../shared/datasets``); tests using it skip when it is absent.
* ``as_layout(a, layout)``: a copy of ``a`` with the same values in a given
  memory layout (``LAYOUTS``): C order, Fortran order (as the seed's
  ``X = x_orig.reshape(m, -1).T / 255``), a strided non-contiguous view,
  a view with negative strides, and read-only arrays.
  Import them with ``from tests.conftest import as_layout, LAYOUTS``.
"""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

from tests._load import REPO_ROOT

# Model files are signed with a per-user key (fastdnn/_keys.py); the tests (and the
# worker processes they start, which inherit the environment) use a throwaway one
# instead of creating the real ~/.config/fastdnn/model-key.
if not os.environ.get("FASTDNN_KEY_FILE"):
    _KEY_DIR = tempfile.mkdtemp(prefix="fastdnn-test-key-")
    atexit.register(shutil.rmtree, _KEY_DIR, ignore_errors=True)
    os.environ["FASTDNN_KEY_FILE"] = os.path.join(_KEY_DIR, "model-key")

DATA_FILES = ("train_catvnoncat.h5", "test_catvnoncat.h5")

LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "readonly_F")


def find_course_data():
    """The directory holding the course's two h5 files, or None."""
    env = os.environ.get("FASTDNN_DATA")
    candidates = [env] if env else [os.path.join(REPO_ROOT, os.pardir, "shared", "datasets")]
    for d in candidates:
        if all(os.path.isfile(os.path.join(d, f)) for f in DATA_FILES):
            return os.path.normpath(d)
    return None


@pytest.fixture(scope="session")
def data_dir():
    d = find_course_data()
    if d is None:
        pytest.skip("course data not found: set FASTDNN_DATA to the directory holding "
                    "train_catvnoncat.h5 and test_catvnoncat.h5 (default ../shared/datasets "
                    "next to the repository)")
    return d


def as_layout(a, layout):
    """A new array equal to ``a`` (2-D) stored in ``layout`` (one of LAYOUTS).

    "strided" is every other column of a wider buffer (neither C nor F
    contiguous); "reversed" is a view with negative strides on both axes.
    """
    a = np.asarray(a)
    if layout == "C":
        return np.ascontiguousarray(a).copy()
    if layout == "F":
        return np.asfortranarray(a).copy(order="F")
    if layout == "strided":
        fill = np.nan if a.dtype.kind in "fc" else 0   # garbage between the values
        buf = np.full((a.shape[0], 2 * a.shape[1] + 1), fill, dtype=a.dtype)
        buf[:, 1::2] = a
        return buf[:, 1::2]
    if layout == "reversed":
        buf = np.ascontiguousarray(a[::-1, ::-1])
        return buf[::-1, ::-1]
    if layout in ("readonly", "readonly_F"):
        out = as_layout(a, "C" if layout == "readonly" else "F")
        out.flags.writeable = False
        return out
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


@pytest.fixture(params=LAYOUTS)
def layout(request):
    """Parametrize a test over every memory layout."""
    return request.param


def make_params(seed=0, dtype=np.float64, dims=(12, 5, 3, 1)):
    """Random parameters W1, b1, ..., WL, bL for layer sizes ``dims`` (model-file tests)."""
    rng = np.random.RandomState(seed)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = rng.randn(dims[l], dims[l - 1]).astype(dtype)
        p[f"b{l}"] = rng.randn(dims[l], 1).astype(dtype)
    return p
