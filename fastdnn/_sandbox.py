"""Parse model files this user did not sign in a short-lived, resource-limited child process.

The HDF5 library can crash (segfault, abort) or hang on deliberately
corrupted structure, and a plain checksum does not stop that: anyone can
recompute it.  So :func:`read_model_file` hands the bytes of a file that
is not signed with this user's key (``fastdnn._keys``) to a fresh
``python -I fastdnn/_h5reader.py`` process, never to the HDF5 library in
this process.  The child

* limits itself before parsing: address space (``RLIMIT_AS``: what it uses
  after importing h5py plus :data:`MEMORY_BUDGET` plus four times the data
  cap), CPU time (``RLIMIT_CPU``), no core dump, no file writes, no new
  processes;
* is killed (its whole session) when it runs longer than the wall-clock
  timeout;
* replies only plain data on a pipe: root attributes as str / int, datasets
  as numeric arrays, in the format of ``_h5reader.encode``.

The parent reads at most the expected number of bytes and validates the
reply before it builds anything: the JSON header's size and types, each
dataset's name (``costs``, ``parameters/<name>``, ``state/<name>``), dtype
(bool, int, uint, float of numpy's native byte order), shape and byte count,
their total against the cap, and the exact payload length.  Nothing is
unpickled.  A crash, a hang, a limit hit or a malformed reply becomes a
ValueError naming the file and what happened.

``stats`` counts the outcomes (tests and bench/forge_models.py read it).
"""
from __future__ import annotations

import collections
import importlib.util
import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from fastdnn import _h5reader

__all__ = ["read_model_file", "stats", "MEMORY_BUDGET", "CPU_SECONDS", "WALL_SECONDS"]

MEMORY_BUDGET = 256 << 20     # bytes of address space beyond the imports and the data cap
CPU_SECONDS = 4.0             # CPU time for the parse, plus 1 s per 16 MiB of file
WALL_SECONDS = 6.0            # wall-clock limit, plus 1 s per 8 MiB of file
MAX_HEADER = 16 << 20         # bytes of JSON in a reply
_TEST_HOOK = None             # tests: make the child abort, hang, spin, allocate, lie...

_READER = os.path.abspath(_h5reader.__file__)
_NAME = re.compile(r"(costs|(parameters|state)/[^/\x00]{1,255})\Z")
_ALLOWED = {np.dtype(f"{kind}{size}").str for kind, sizes in _h5reader.NUMERIC.items()
            for size in sizes}           # native byte order: the child converts
_SIGNAL_WORDS = {signal.SIGSEGV: "crashed (segmentation fault, SIGSEGV)",
                 signal.SIGABRT: "crashed (aborted, SIGABRT)",
                 signal.SIGBUS: "crashed (bus error, SIGBUS)",
                 signal.SIGFPE: "crashed (arithmetic fault, SIGFPE)",
                 signal.SIGILL: "crashed (illegal instruction, SIGILL)"}

stats = collections.Counter()
_stats_lock = threading.Lock()


def _count(outcome):
    with _stats_lock:
        stats[outcome] += 1


def _module_paths():
    """Where numpy and h5py live, so that the isolated child (-I) finds them."""
    paths = []
    for name in ("numpy", "h5py"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            d = os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))
            if d not in paths:
                paths.append(d)
    return paths


def limits_for(size):
    """(max dataset bytes, CPU seconds, wall seconds, memory budget) for a file of ``size`` bytes.

    save_model writes uncompressed datasets, so a genuine file's arrays never
    hold more bytes than the file: the cap (twice the size plus 1 MiB) stops a
    compressed or sparse "decompression bomb" with room to spare."""
    max_bytes = 2 * size + (1 << 20)
    return (max_bytes, CPU_SECONDS + size / (16 << 20), WALL_SECONDS + size / (8 << 20),
            MEMORY_BUDGET + 4 * max_bytes)


class _Failed(Exception):
    """What went wrong in the child, in words (becomes the ValueError's text)."""


def _run(data, limits, wall):
    """Run the child on ``data``; (returncode, stdout bytes, stderr tail, timed_out)."""
    cmd = [sys.executable, "-I", "-B", _READER, json.dumps(limits)]
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HDF5_USE_FILE_LOCKING": "FALSE", "HDF5_PLUGIN_PATH": os.devnull + "/none",
           "LC_ALL": "C", "PATH": os.defpath}
    cap = MAX_HEADER + int(limits["max_bytes"]) + 4096
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd="/", close_fds=True,
                            start_new_session=True)
    _count("spawned")
    out, err = bytearray(), bytearray()
    timed_out = flooded = False
    deadline = time.monotonic() + wall
    to_send = memoryview(data)
    try:
        with selectors.DefaultSelector() as sel:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                os.set_blocking(pipe.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            open_reads = 2
            while open_reads:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(min(left, 1.0)):
                    if key.fileobj is proc.stdin:
                        try:
                            n = os.write(proc.stdin.fileno(), to_send[:1 << 16])
                            to_send = to_send[n:]
                        except BlockingIOError:
                            continue
                        except (BrokenPipeError, ConnectionResetError):
                            to_send = to_send[:0]
                        if not to_send:
                            sel.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    try:
                        chunk = os.read(key.fileobj.fileno(), 1 << 20)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_reads -= 1
                    elif key.fileobj is proc.stdout:
                        out += chunk
                        if len(out) > cap:
                            flooded = True
                            break
                    else:
                        err = (err + chunk)[-4096:]
                if flooded:
                    break
        if timed_out or flooded:
            _kill(proc)
        else:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(proc)
    except BaseException:
        _kill(proc)
        raise
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
    if flooded:
        raise _Failed(f"sent more than {cap} bytes (more than any model file of this size "
                      f"holds); killed")
    return proc.returncode, bytes(out), bytes(err), timed_out


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass
    proc.wait()


def _decode(reply, max_bytes):
    """(status, message, attrs, datasets) from a child's reply, validated; _Failed if malformed."""
    def bad(why):
        return _Failed(f"replied something malformed ({why})")

    if not reply.startswith(_h5reader.MAGIC):
        raise bad("no reply header")
    pos = len(_h5reader.MAGIC)
    nl = reply.find(b"\n", pos, pos + 12)
    if nl < 0 or not reply[pos:nl].isdigit():
        raise bad("no header length")
    n = int(reply[pos:nl])
    if n > MAX_HEADER or nl + 1 + n > len(reply):
        raise bad("header length")
    try:
        head = json.loads(reply[nl + 1:nl + 1 + n].decode("utf-8"))
    except (ValueError, RecursionError):
        raise bad("header is not JSON") from None
    if not isinstance(head, dict) or set(head) != {"status", "message", "attrs", "datasets"}:
        raise bad("header keys")
    status, message = head["status"], head["message"]
    if status not in ("ok", "refused", "memory") or not isinstance(message, str):
        raise bad("status")
    attrs = {}
    if not isinstance(head["attrs"], dict) or not isinstance(head["datasets"], list):
        raise bad("attrs or datasets")
    if len(head["attrs"]) > 1000 or len(head["datasets"]) > _h5reader.MAX_ENTRIES:
        raise bad("too many entries")
    for k, v in head["attrs"].items():
        if not (isinstance(v, list) and len(v) == 2 and v[0] in ("s", "i", "o")):
            raise bad(f"attribute {k[:40]!r}")
        kind, value = v
        if kind == "s" and isinstance(value, str):
            attrs[k] = value
        elif (kind == "i" and isinstance(value, int) and not isinstance(value, bool)
              and -2 ** 64 < value < 2 ** 64):
            attrs[k] = value
        elif kind == "o" and isinstance(value, str):
            attrs[k] = _h5reader.Opaque(value)
        else:
            raise bad(f"attribute {k[:40]!r}")
    pos = nl + 1 + n
    total = 0
    datasets = {}
    for entry in head["datasets"]:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise bad("dataset entry")
        name, dtype, shape = entry
        if not (isinstance(name, str) and _NAME.match(name)) or name in datasets:
            raise bad(f"dataset name {str(name)[:40]!r}")
        if dtype not in _ALLOWED:
            raise bad(f"dataset {name} dtype {str(dtype)[:20]!r}")
        if (not isinstance(shape, list) or len(shape) > _h5reader.MAX_NDIM
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 62
                           for s in shape)):
            raise bad(f"dataset {name} shape")
        dt = np.dtype(dtype)
        nbytes = dt.itemsize * math.prod(shape)
        total += nbytes
        if total > max_bytes or pos + nbytes > len(reply):
            raise bad(f"dataset {name} is larger than the data sent or allowed")
        buf = bytearray(reply[pos:pos + nbytes])       # own, writable memory
        datasets[name] = np.frombuffer(buf, dtype=dt).reshape(shape)
        pos += nbytes
    if pos != len(reply):
        raise bad(f"{len(reply) - pos} bytes after the last dataset")
    if status != "ok" and (attrs or datasets):
        raise bad("data with an error")
    return status, message[:2000], attrs, datasets


def _describe_exit(returncode, cpu):
    if returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu):
            return f"used up its CPU time limit ({cpu:.0f} s) and was stopped"
        if sig in _SIGNAL_WORDS:
            return _SIGNAL_WORDS[sig]
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"was killed by {name}"
    return f"exited with status {returncode} without a reply"


def parse_in_child(path, data, fmt, why):
    """(attrs, datasets) of the model file bytes ``data``, parsed in a sandbox process.

    ``why`` says why the file is not trusted (goes into error messages).
    Raises ValueError naming ``path`` for every failure."""
    max_bytes, cpu, wall, memory = limits_for(len(data))
    limits = {"size": len(data), "max_bytes": max_bytes, "cpu": cpu, "memory": memory,
              "format": fmt, "paths": _module_paths(), "hook": _TEST_HOOK}
    prefix = f"{path}: {why}, so it was parsed in a sandbox process, which"
    try:
        rc, out, err, timed_out = _run(data, limits, wall)
    except _Failed as exc:
        _count("malformed")
        raise ValueError(f"{prefix} {exc}") from None
    except OSError as exc:
        _count("spawn-failed")
        raise ValueError(f"{path}: {why}, and the sandbox process to parse it could not be "
                         f"started ({exc})") from None
    if timed_out:
        _count("timeout")
        raise ValueError(f"{prefix} took longer than {wall:.0f} s and was killed (an HDF5 "
                         f"structure that never ends?)")
    if rc != 0 or not out:
        _count("crash" if rc < 0 and -rc != signal.SIGXCPU and -rc != signal.SIGKILL
               else "cpu-limit" if rc < 0 else "exit")
        detail = _describe_exit(rc, cpu if rc < 0 and -rc in (signal.SIGXCPU, signal.SIGKILL)
                                else 0)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        more = f" [{_printable(tail[0])[:200]}]" if tail and rc > 0 else ""
        raise ValueError(f"{prefix} {detail}{more}")
    try:
        status, message, attrs, datasets = _decode(out, max_bytes)
    except _Failed as exc:
        _count("malformed")
        raise ValueError(f"{prefix} {exc}") from None
    if status == "memory":
        _count("memory-limit")
        raise ValueError(f"{prefix} ran out of its memory limit ({memory >> 20} MiB beyond "
                         f"its start-up)")
    if status == "refused":
        _count("refused")
        raise ValueError(f"{path}: {_printable(message)}")
    _count("parsed")
    return attrs, datasets


def _printable(text):
    return "".join(c if c.isprintable() else "?" for c in text)


def parse_in_process(path, data, fmt):
    """(attrs, datasets) of trusted model file bytes, parsed here (a file this user signed)."""
    _count("in-process")
    try:
        return _h5reader.read_model(data, float("inf"), fmt)
    except _h5reader.Refused as exc:
        raise ValueError(f"{path}: {exc}") from None


def read_model_file(path, data, fmt, *, trusted, why=""):
    """(attrs, datasets) of a model file's verified bytes: in-process when ``trusted``
    (signed by this user), else in a sandbox process (``why`` says why not trusted)."""
    if trusted:
        return parse_in_process(path, data, fmt)
    return parse_in_child(path, data, fmt, why)
