"""The per-user secret key that signs the model files this user writes.

A model file carries, in its 512-byte header, an HMAC-SHA256 of its HDF5
part under a 32-byte key that only this user can read.  Anyone can recompute
a plain checksum; only the key's owner can produce a signature that
verifies.  ``load_model`` parses a file whose signature verifies in-process
(fast); any other file goes to a short-lived sandbox process
(``fastdnn._sandbox``).

Where the key lives: ``$FASTDNN_KEY_FILE`` if set (tests), else
``$XDG_CONFIG_HOME/fastdnn/model-key`` (when XDG_CONFIG_HOME is an absolute
path), else ``~/.config/fastdnn/model-key``.  It is created on first use
(the first save) with mode 0600 in a directory created with mode 0700,
never in the repository.  Creation is safe under concurrency: the key is
written completely to a private temporary file, then hard-linked to its
name, which fails if another process got there first -- every process then
uses the one key that won.

A key file that is not a regular file owned by this user with no group or
other permissions, or whose content is not 64 hex digits, is not used
(a ``RuntimeWarning`` says why): files are then saved with a checksum only
and every file loads through the sandbox -- slower, never less safe.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import time
import warnings

__all__ = ["key_path", "load_key", "get_or_create_key", "key_id", "sign", "KEY_SIZE"]

KEY_SIZE = 32
_TAG = b"fastdnn-model-hmac-v1\0"      # domain separation: this key signs model files only
ENV_KEY_FILE = "FASTDNN_KEY_FILE"


def key_path():
    """The path of this user's model-signing key (it may not exist yet)."""
    env = os.environ.get(ENV_KEY_FILE)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):            # the XDG spec: ignore a relative value
        base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "fastdnn", "model-key")


class _Incomplete(ValueError):
    """A key file with fewer characters than a key (possibly still being written)."""


def _parse(content, path):
    text = content.strip()
    if len(text) != 2 * KEY_SIZE:
        raise (_Incomplete if len(text) < 2 * KEY_SIZE else ValueError)(f"{path}: a fastdnn key holds {2 * KEY_SIZE} hex digits, "
                         f"found {len(text)} characters")
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{path}: a fastdnn key holds hex digits only") from None


def _read(path):
    """The key in ``path``; FileNotFoundError if absent, ValueError if unusable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: the fastdnn key is not a regular file")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise ValueError(f"{path}: the fastdnn key belongs to uid {st.st_uid}, not to "
                             f"this user ({os.geteuid()})")
        if st.st_mode & 0o077:
            raise ValueError(f"{path}: the fastdnn key has mode {st.st_mode & 0o777:o}; it "
                             f"must be readable by its owner only (chmod 600 {path})")
        content = os.read(fd, 4 * KEY_SIZE)
    finally:
        os.close(fd)
    return _parse(content, path)


def _warn(exc):
    warnings.warn(f"{exc}; model files are checksummed but not signed, and every model "
                  f"file loads through the (slower) sandbox", RuntimeWarning, stacklevel=3)


def load_key():
    """This user's key (bytes), or None if there is none yet or it is unusable (warned)."""
    path = key_path()
    for attempt in range(50):
        try:
            return _read(path)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            # a key being created without hard links (fallback below) may be
            # briefly empty: give its writer a moment before calling it broken
            if isinstance(exc, _Incomplete) and attempt < 49 and _young(path):
                time.sleep(0.01)
                continue
            _warn(exc)
            return None
        except OSError as exc:
            _warn(f"{path}: cannot read the fastdnn key ({exc.strerror})")
            return None
    return None  # pragma: no cover


def _young(path):
    try:
        return time.time() - os.stat(path).st_mtime < 1.0
    except OSError:
        return False


def _create(path):
    """Write a new random key to ``path`` unless a key is already there (never replaces one)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    content = secrets.token_bytes(KEY_SIZE).hex().encode("ascii") + b"\n"
    tmp = os.path.join(directory, f".model-key.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)           # whatever the umask
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)              # atomic, and fails if a key exists
        except FileExistsError:
            pass                            # another process won: use its key
        except OSError:
            # no hard links on this file system: create exclusively, then write
            # (readers retry while the file is young and incomplete)
            with contextlib.suppress(FileExistsError):
                fd2 = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.fchmod(fd2, 0o600)
                    os.write(fd2, content)
                    os.fsync(fd2)
                finally:
                    os.close(fd2)
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def get_or_create_key():
    """This user's key, created on first use; None (with a warning) if it cannot be."""
    path = key_path()
    if not os.path.lexists(path):
        try:
            _create(path)
        except OSError as exc:
            _warn(f"{path}: cannot create the fastdnn key ({exc.strerror or exc})")
            return None
    return load_key()


def key_id(key):
    """A short public name of ``key`` (16 hex digits), written beside the signature."""
    return hashlib.sha256(b"fastdnn-key-id\0" + key).hexdigest()[:16]


def sign(key, body):
    """The HMAC-SHA256 (hex) of a model file's HDF5 part ``body`` under ``key``."""
    m = hmac.new(key, _TAG, hashlib.sha256)
    m.update(body)
    return m.hexdigest()
