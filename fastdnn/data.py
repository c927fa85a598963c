"""Cat / non-cat data: the course's loader, a generated stand-in, and flattening.

The course's data are two HDF5 files in one directory:

* ``train_catvnoncat.h5``: ``train_set_x`` (209, 64, 64, 3) uint8,
  ``train_set_y`` (209,) int64, ``list_classes`` (2,) bytes.
* ``test_catvnoncat.h5``: ``test_set_x`` (50, 64, 64, 3) uint8,
  ``test_set_y`` (50,) int64, ``list_classes`` = [b'non-cat', b'cat'].

They are not shipped with fastdnn.  Point at them with an explicit path or
the environment variable ``FASTDNN_DATA``; ``make_standin_dataset`` writes a
generated, learnable image set in exactly the same layout for tests and
benchmarks when the real files are absent.

Only numpy and h5py are used; h5py is imported on first use, so importing
this module never requires it.
"""

import os

import numpy as np

from fastdnn._files import atomic_path

__all__ = ["load_dataset", "find_data_dir", "make_standin_dataset", "prepare",
           "TRAIN_FILE", "TEST_FILE", "ENV_VAR"]

TRAIN_FILE = "train_catvnoncat.h5"
TEST_FILE = "test_catvnoncat.h5"
ENV_VAR = "FASTDNN_DATA"
DEFAULT_DIR = "datasets"
CLASSES = [b"non-cat", b"cat"]
IMAGE_SHAPE = (64, 64, 3)


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("fastdnn.data needs h5py to read or write the cat / non-cat "
                          "HDF5 files: pip install h5py") from exc
    return h5py


def _how_to_point():
    return ("Point fastdnn at the directory holding %s and %s: pass it as "
            "load_dataset(path='/path/to/datasets'), or set the environment "
            "variable %s=/path/to/datasets and call load_dataset() without a path. "
            "Without the course data, make_standin_dataset(path) writes a generated "
            "stand-in in the same format." % (TRAIN_FILE, TEST_FILE, ENV_VAR))


def find_data_dir(explicit=None):
    """Locate the directory holding both course files.

    The candidate is ``explicit`` if given, else ``$FASTDNN_DATA`` if set and
    non-empty, else ``datasets`` (relative to the current directory); there
    is no fallback from one to the next.  Returns the candidate (a str) if
    both ``train_catvnoncat.h5`` and ``test_catvnoncat.h5`` exist there,
    else None.
    """
    if explicit is not None:
        candidate = os.fspath(explicit)
    else:
        candidate = os.environ.get(ENV_VAR) or DEFAULT_DIR
    if (os.path.isfile(os.path.join(candidate, TRAIN_FILE))
            and os.path.isfile(os.path.join(candidate, TEST_FILE))):
        return candidate
    return None


def _read(filename, keys):
    """Read ``keys`` from HDF5 ``filename`` into numpy arrays (ValueError if malformed)."""
    h5py = _h5py()
    try:
        f = h5py.File(filename, "r")
    except OSError as exc:
        raise ValueError("%s: not a readable HDF5 file (%s)" % (filename, exc)) from exc
    with f:
        out = []
        for key in keys:
            if key not in f:
                raise ValueError("%s: missing dataset %r (found keys: %s)"
                                 % (filename, key, sorted(f.keys())))
            obj = f[key]
            if not isinstance(obj, h5py.Dataset):
                raise ValueError("%s: %r is not a dataset" % (filename, key))
            out.append(np.array(obj[:]))
    return out


def _check_pair(filename, xkey, x, ykey, y):
    if x.ndim != 4:
        raise ValueError("%s: %r must have shape (m, height, width, channels), got %s"
                         % (filename, xkey, x.shape))
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError("%s: %r must hold numeric pixel values, got dtype %s"
                         % (filename, xkey, x.dtype))
    if y.ndim != 1:
        raise ValueError("%s: %r must have shape (m,), got %s" % (filename, ykey, y.shape))
    if y.shape[0] != x.shape[0]:
        raise ValueError("%s: %r has %d labels but %r has %d images"
                         % (filename, ykey, y.shape[0], xkey, x.shape[0]))
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
            or y.dtype == np.bool_):
        raise ValueError("%s: %r must hold numeric labels, got dtype %s"
                         % (filename, ykey, y.dtype))


def load_dataset(path=None):
    """The course's ``lr_utils.load_dataset``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.
        Default: ``$FASTDNN_DATA`` if set, else ``datasets`` relative to the
        current directory (the course's location).

    Returns
    -------
    train_x_orig : (m_train, 64, 64, 3) uint8
    train_y : (1, m_train) int64
    test_x_orig : (m_test, 64, 64, 3) uint8
    test_y : (1, m_test) int64
    classes : (2,) bytes array, [b'non-cat', b'cat']

    Raises
    ------
    FileNotFoundError
        The directory or one of the files is missing (the message says how
        to point at the data).
    ValueError
        A file is not HDF5, lacks a dataset, or has inconsistent shapes.
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or DEFAULT_DIR
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError("cat / non-cat data directory not found: %r (resolved to %r). %s"
                                % (path, os.path.abspath(path), _how_to_point()))
    train_file = os.path.join(path, TRAIN_FILE)
    test_file = os.path.join(path, TEST_FILE)
    for fn in (train_file, test_file):
        if not os.path.isfile(fn):
            raise FileNotFoundError("cat / non-cat data file not found: %r. %s"
                                    % (os.path.abspath(fn), _how_to_point()))

    train_set_x_orig, train_set_y_orig = _read(train_file, ["train_set_x", "train_set_y"])
    test_set_x_orig, test_set_y_orig, classes = _read(
        test_file, ["test_set_x", "test_set_y", "list_classes"])
    _check_pair(train_file, "train_set_x", train_set_x_orig, "train_set_y", train_set_y_orig)
    _check_pair(test_file, "test_set_x", test_set_x_orig, "test_set_y", test_set_y_orig)
    if train_set_x_orig.shape[1:] != test_set_x_orig.shape[1:]:
        raise ValueError("%s: test images have shape %s but the training images in %s have %s"
                         % (test_file, test_set_x_orig.shape[1:], train_file,
                            train_set_x_orig.shape[1:]))
    if classes.ndim != 1:
        raise ValueError("%s: 'list_classes' must be 1-D, got shape %s" % (test_file, classes.shape))

    train_set_y_orig = train_set_y_orig.reshape((1, train_set_y_orig.shape[0]))
    test_set_y_orig = test_set_y_orig.reshape((1, test_set_y_orig.shape[0]))
    return train_set_x_orig, train_set_y_orig, test_set_x_orig, test_set_y_orig, classes


def prepare(x_orig):
    """The course's flattening: ``x_orig.reshape(m, -1).T / 255``.

    (m, h, w, c) -> (h*w*c, m) float64; for a C-contiguous input the result
    is Fortran-ordered, exactly like the seed's notebook data.
    """
    return x_orig.reshape(x_orig.shape[0], -1).T / 255


# ------------------------------------------------------------------ stand-in
def _standin_images(rng, m, p_cat=0.4):
    """Generate m (64, 64, 3) uint8 images and int64 labels from RandomState rng.

    Every image: a smooth random colour gradient plus per-pixel noise.
    Class 1 ("cat"): plus a warm (orange) bright Gaussian blob of random size
    near the centre.  Class 0: plus either an oriented stripe texture or a
    cool (blue) blob, so "bright" or "blobby" alone does not decide the
    class.  Labels are drawn independently, with at least one of each class
    when m >= 2.
    """
    h, w, _ = IMAGE_SHAPE
    y = (rng.rand(m) < p_cat).astype(np.int64)
    if m >= 2 and y.min() == y.max():
        y[0] = 1 - y[0]

    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    yy = yy[None, :, :]
    xx = xx[None, :, :]

    # background: per-image base colour + linear gradient in a random direction
    base = rng.uniform(60, 150, size=(m, 1, 1, 3))
    theta = rng.uniform(0, 2 * np.pi, size=(m, 1, 1))
    slope = rng.uniform(0, 1.2, size=(m, 1, 1))
    grad = (np.cos(theta) * (xx - w / 2) + np.sin(theta) * (yy - h / 2)) * slope
    img = base + grad[..., None]

    # blob geometry (used by cats and by the cool-blob non-cats)
    cy = h / 2 + rng.uniform(-12, 12, size=(m, 1, 1))
    cx = w / 2 + rng.uniform(-12, 12, size=(m, 1, 1))
    sigma = rng.uniform(6, 12, size=(m, 1, 1))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    amp = rng.uniform(0.6, 1.0, size=(m, 1, 1, 1))

    # stripes for non-cats
    phi = rng.uniform(0, np.pi, size=(m, 1, 1))
    freq = rng.uniform(0.15, 0.5, size=(m, 1, 1))
    stripes = np.sin(freq * (np.cos(phi) * xx + np.sin(phi) * yy) + rng.uniform(0, 2 * np.pi, size=(m, 1, 1)))
    use_stripes = rng.rand(m) < 0.5

    warm = np.array([110.0, 70.0, 15.0])
    cool = np.array([10.0, 45.0, 110.0])
    is_cat = (y == 1)[:, None, None, None]
    stripe_sel = (~(y == 1) & use_stripes)[:, None, None, None]
    coolblob_sel = (~(y == 1) & ~use_stripes)[:, None, None, None]
    img = img + is_cat * amp * blob[..., None] * warm
    img = img + coolblob_sel * amp * blob[..., None] * cool
    img = img + stripe_sel * amp * 45.0 * stripes[..., None]

    img = img + rng.normal(0, 25, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), y


def _write_h5_atomic(filename, datasets):
    h5py = _h5py()
    with atomic_path(filename) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in datasets:
                f.create_dataset(key, data=value)


def make_standin_dataset(path, n_train=209, n_test=50, seed=0):
    """Write a generated, learnable stand-in for the cat / non-cat data.

    Writes ``train_catvnoncat.h5`` (``train_set_x`` (n_train, 64, 64, 3)
    uint8, ``train_set_y`` (n_train,) int64, ``list_classes``) and
    ``test_catvnoncat.h5`` (``test_set_x`` (n_test, 64, 64, 3) uint8,
    ``test_set_y`` (n_test,) int64, ``list_classes`` = [b'non-cat', b'cat'])
    into directory ``path`` (created if needed), each atomically (temporary
    file in the same directory, then ``os.replace``).

    Class 1 images carry a warm bright blob near the centre; class 0 images
    carry a stripe texture or a cool-coloured blob; all have a random
    gradient background and pixel noise.  The output is a deterministic
    function of (n_train, n_test, seed); the test set does not depend on
    n_train.  The global numpy RNG is not touched.  Returns ``path``.
    """
    n_train = int(n_train)
    n_test = int(n_test)
    if n_train < 1 or n_test < 1:
        raise ValueError("n_train and n_test must be >= 1, got %d and %d" % (n_train, n_test))
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be >= 0, got %d" % seed)
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    classes = np.array(CLASSES, dtype="S7")

    train_x, train_y = _standin_images(np.random.RandomState([seed, 0]), n_train)
    test_x, test_y = _standin_images(np.random.RandomState([seed, 1]), n_test)
    _write_h5_atomic(os.path.join(path, TRAIN_FILE),
                     [("train_set_x", train_x), ("train_set_y", train_y),
                      ("list_classes", classes)])
    _write_h5_atomic(os.path.join(path, TEST_FILE),
                     [("test_set_x", test_x), ("test_set_y", test_y),
                      ("list_classes", classes)])
    return path
