"""Atomic file writes: write beside the target, then rename over it.

A reader of ``path`` sees either the previous file or the complete new one,
never a partial write: a crash (or SIGKILL) at any moment leaves at most a
hidden temporary ``.NAME.XXXX.tmp`` beside it, which
``remove_stale_temporaries`` clears.  Used for model files, the stand-in data
set and pictures.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_path", "remove_stale_temporaries"]


def _temporary_prefix(path):
    return "." + os.path.basename(path) + "."


def _file_mode():
    """0o666 minus the umask: the mode open() would give a new file (mkstemp gives 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(directory):
    """Make a rename in ``directory`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, *, durable=False):
    """Yield a temporary file name beside ``path``; when the block ends normally
    the file gets the usual mode and replaces ``path`` in one rename.  If the
    block raises, the temporary is removed and ``path`` is untouched.  With
    ``durable``, the directory is fsynced after the rename (the caller fsyncs
    the file's content)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    if durable:
        _fsync_dir(directory)


def remove_stale_temporaries(path):
    """Delete temporary files a killed save of ``path`` left beside it; returns their names.

    Only call this when no other process is saving ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.remove(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
    return removed
