"""scikit-learn's two toy generators, reproduced bit for bit without scikit-learn.

The course's loaders call ``sklearn.datasets.make_circles`` (Initialization)
and ``sklearn.datasets.make_moons`` (Optimization) after seeding numpy's
global generator.  These functions take the same arguments and, for the same
``random_state``, return the same arrays (COURSE2.md section 1):

1. ``n_out = n // 2``, ``n_in = n - n_out``;
2. the points on the two curves, outer curve first;
3. labels: ``n_out`` zeros then ``n_in`` ones (``np.intp``);
4. with ``shuffle``: ``idx = arange(n)``, ``rng.shuffle(idx)``, rows taken in that order;
5. with ``noise``: one ``rng.normal(scale=noise, size=(n, 2))`` added (C order).

Only numpy is used.
"""
import numbers

import numpy as np

__all__ = ["make_circles", "make_moons", "check_random_state"]


def check_random_state(random_state):
    """The generator ``random_state`` stands for, as scikit-learn reads it.

    None -> numpy's global legacy generator (the one ``np.random.seed`` sets);
    an int -> a new ``np.random.RandomState(int)``; a ``RandomState`` -> itself.
    """
    if random_state is None or random_state is np.random:
        return np.random.mtrand._rand
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return random_state
    raise ValueError("random_state=%r cannot be used to seed a numpy.random.RandomState "
                     "instance (use None, an int or a RandomState)" % (random_state,))


def _split(n_samples):
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        n = int(n_samples)
        if n < 1:
            raise ValueError("n_samples must be >= 1, got %r" % (n_samples,))
        n_out = n // 2
        return n_out, n - n_out
    try:
        n_out, n_in = n_samples
    except (TypeError, ValueError):
        raise TypeError("n_samples must be an int or a pair (n_out, n_in), got %r"
                        % (n_samples,)) from None
    for v in (n_out, n_in):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
            raise ValueError("n_samples as a pair must hold two ints >= 0, got %r"
                             % (n_samples,))
    return int(n_out), int(n_in)


def _check_noise(noise):
    if noise is None:
        return None
    if not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not noise >= 0:
        raise ValueError("noise must be None or a real number >= 0, got %r" % (noise,))
    return noise


def _finish(xs, ys, n_out, n_in, shuffle, noise, rng):
    n = n_out + n_in
    X = np.empty((n, 2), dtype=np.float64)
    X[:, 0] = xs
    X[:, 1] = ys
    y = np.concatenate([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    if shuffle:
        idx = np.arange(n)
        rng.shuffle(idx)
        X = X[idx]
        y = y[idx]
    if noise is not None:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


def make_circles(n_samples=100, *, shuffle=True, noise=None, random_state=None, factor=0.8):
    """A large circle containing a smaller one, as ``sklearn.datasets.make_circles``.

    Returns ``X`` (n, 2) float64 and ``y`` (n,) intp (0 = outer circle,
    1 = inner).  ``factor`` in [0, 1) is the inner radius; ``noise`` the
    standard deviation of the Gaussian noise added to every coordinate.
    """
    n_out, n_in = _split(n_samples)
    noise = _check_noise(noise)
    if not isinstance(factor, numbers.Real) or isinstance(factor, bool) or not 0 <= factor < 1:
        raise ValueError("factor must be a real number in [0, 1), got %r" % (factor,))
    rng = check_random_state(random_state)
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    xs = np.concatenate([np.cos(t_out), np.cos(t_in) * factor])
    ys = np.concatenate([np.sin(t_out), np.sin(t_in) * factor])
    return _finish(xs, ys, n_out, n_in, shuffle, noise, rng)


def make_moons(n_samples=100, *, shuffle=True, noise=None, random_state=None):
    """Two interleaving half circles, as ``sklearn.datasets.make_moons``.

    Returns ``X`` (n, 2) float64 and ``y`` (n,) intp (0 = upper moon, 1 = lower).
    """
    n_out, n_in = _split(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    xs = np.concatenate([np.cos(t_out), 1 - np.cos(t_in)])
    ys = np.concatenate([np.sin(t_out), 1 - np.sin(t_in) - 0.5])
    return _finish(xs, ys, n_out, n_in, shuffle, noise, rng)
