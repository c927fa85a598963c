"""Read a model file's HDF5 part into plain data: the one place h5py parses model bytes.

``read_model(data, max_bytes, fmt)`` returns ``(attrs, datasets)``:

* ``attrs``: the root attributes, each a ``str``, an ``int`` or an
  :class:`Opaque` (any other type, by name);
* ``datasets``: ``{"costs" | "parameters/<name>" | "state/<name>": ndarray}``,
  numeric arrays only (bool, int, uint, float; native byte order), their
  total size capped at ``max_bytes``.

Anything else (another entry at the top level, a group where a dataset is
due, a soft or external link, a virtual dataset or one stored in external
files, text or compound data, more than ``max_bytes`` of data) raises
:class:`Refused`, a ValueError whose message does not name the file (the
caller adds it).  When the ``format`` attribute is not ``fmt`` no dataset is
read: the caller reports the foreign format.

The same file runs as the sandbox's child process
(``python -I .../_h5reader.py LIMITS_JSON``), so it imports nothing from
fastdnn: it reads the file's bytes on stdin, limits its own resources
(memory, CPU time, no core dump, no file writes, no new processes), parses,
and writes one reply to stdout (wire format in :func:`encode`), which the
parent (``fastdnn._sandbox``) decodes and validates without trusting it.
"""
import io
import json
import os
import sys

__all__ = ["read_model", "read_datasets", "Refused", "Opaque", "encode", "MAGIC", "NUMERIC"]

MAGIC = b"FASTDNN-SANDBOX-1\n"
# the data a model file may hold: dtype kind -> item sizes (bool, int, uint, float16/32/64;
# not long double, complex, text, compound, ...); the parent accepts nothing else either
NUMERIC = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8)}
MAX_ENTRIES = 10_000          # datasets per file
MAX_ATTR_CHARS = 8 << 20      # all text attributes together
MAX_NDIM = 32


class Refused(ValueError):
    """The HDF5 content is not what a model file may hold (message without the file name)."""


class Opaque:
    """An attribute value of a type a model file never holds (only its type name is kept)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name):
        self.type_name = str(type_name)[:60]

    def __repr__(self):
        return f"<{self.type_name}>"

    def __eq__(self, other):
        return isinstance(other, Opaque) and other.type_name == self.type_name

    __hash__ = None


def _attrs(f, np):
    out, chars = {}, 0
    for name in f.attrs.keys():
        v = f.attrs[name]
        if isinstance(v, (bytes, np.bytes_)):
            v = bytes(v).decode("utf-8", "replace")
        if isinstance(v, str):
            chars += len(v)
            if chars > MAX_ATTR_CHARS:
                raise Refused(f"attributes hold more than {MAX_ATTR_CHARS} characters")
            out[str(name)] = str(v)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            out[str(name)] = int(v)
        else:
            out[str(name)] = Opaque(type(v).__name__ if not hasattr(v, "dtype")
                                    else f"{type(v).__name__} of {v.dtype}")
    return out


def _dataset(obj, where, h5py, np, budget):
    """The dataset ``obj`` as a native-order numeric ndarray, after checking it."""
    if not isinstance(obj, h5py.Dataset):
        raise Refused(f"{where} must be a dataset")
    if obj.is_virtual or obj.external:
        raise Refused(f"{where} refers to data in other files")
    dt = obj.dtype
    if (dt.itemsize not in NUMERIC.get(dt.kind, ()) or dt.fields is not None
            or dt.subdtype is not None):
        raise Refused(f"{where} must be numeric (bool, int, uint, float16/32/64), got "
                      f"dtype {dt}")
    shape = obj.shape
    if shape is None or len(shape) > MAX_NDIM:
        raise Refused(f"{where} has no usable shape ({shape})")
    n = dt.itemsize
    for s in shape:
        n *= int(s)
    budget[0] -= n
    if budget[0] < 0:
        raise Refused(f"{where} would bring the data past {budget[1]} bytes (the limit for "
                      f"a file of this size)")
    a = np.array(obj[()])
    if a.dtype.byteorder not in "=|":
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _hard_link(group, name, where, h5py):
    link = group.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise Refused(f"{where} is a {type(link).__name__}; a model file holds no links")
    return group[name]


def read_datasets(f, max_bytes=float("inf")):
    """Every dataset of the open model file ``f`` as {relative path: ndarray}; Refused if
    anything is unexpected (see the module docstring)."""
    import h5py
    import numpy as np
    out = {}
    budget = [max_bytes, max_bytes]
    for top in f.keys():
        if len(out) >= MAX_ENTRIES:
            raise Refused(f"more than {MAX_ENTRIES} datasets")
        if top == "costs":
            out["costs"] = _dataset(_hard_link(f, top, "'costs'", h5py), "'costs'", h5py, np,
                                    budget)
        elif top in ("parameters", "state"):
            group = _hard_link(f, top, repr(top), h5py)
            if not isinstance(group, h5py.Group):
                raise Refused(f"{top!r} must be a group")
            for k in group.keys():
                if len(out) >= MAX_ENTRIES:
                    raise Refused(f"more than {MAX_ENTRIES} datasets")
                where = f"{top}/{k}"
                out[where] = _dataset(_hard_link(group, k, where, h5py), where, h5py, np,
                                      budget)
        else:
            raise Refused(f"unexpected entry {top!r} in a fastdnn model file")
    return out


def read_model(data, max_bytes, fmt):
    """(attrs, datasets) of the HDF5 bytes ``data`` (a whole model file, header included).

    Raises Refused for content a model file may not hold and for anything the
    HDF5 library rejects (MemoryError passes through)."""
    import h5py
    import numpy as np
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            attrs = _attrs(f, np)
            datasets = read_datasets(f, max_bytes) if attrs.get("format") == fmt else {}
    except (Refused, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError...
        raise Refused(f"unreadable model file ({type(exc).__name__}: {exc})") from None
    return attrs, datasets


# ------------------------------------------------------------------- the wire
def encode(status, message="", attrs=None, datasets=None):
    """One reply: MAGIC, the JSON header's length in decimal and a newline, the
    JSON header {"status", "message", "attrs": {name: ["s"|"i"|"o", value]},
    "datasets": [[name, dtype.str, shape], ...]}, then each dataset's bytes in C
    order, in the header's order.  Returns a list of byte chunks."""
    head = {"status": status, "message": message, "attrs": {}, "datasets": []}
    chunks = []
    for k, v in (attrs or {}).items():
        head["attrs"][k] = (["s", v] if isinstance(v, str) else ["i", v] if isinstance(v, int)
                            else ["o", v.type_name])
    for k, a in (datasets or {}).items():
        if not a.flags.c_contiguous:       # (np.ascontiguousarray would make 0-d 1-d)
            a = a.copy(order="C")
        head["datasets"].append([k, a.dtype.str, list(a.shape)])
        chunks.append(memoryview(a).cast("B") if a.size else b"")
    text = json.dumps(head).encode()
    return [MAGIC, b"%d\n" % len(text), text] + chunks


def _limit(resource, which, soft, hard=None):
    try:
        _, old_hard = resource.getrlimit(which)
        hard = soft if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


def _vm_size():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _write_all(fd, chunks):
    for c in chunks:
        view = memoryview(c).cast("B")
        while view:
            n = os.write(fd, view)
            view = view[n:]


def _child(argv):
    """The sandbox process: limits, read stdin, parse, reply on stdout, _exit."""
    limits = json.loads(argv[1])
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        resource = None
    if resource is not None:
        _limit(resource, resource.RLIMIT_CORE, 0)
    size = int(limits["size"])
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, min(1 << 20, size - len(data)))
        if not chunk:
            break
        data += chunk
    data = bytes(data)
    for p in reversed(limits.get("paths", [])):
        if p not in sys.path:
            sys.path.insert(0, p)
    import numpy  # noqa: F401 - imported before the limits: trusted code
    import h5py   # noqa: F401
    if resource is not None:
        vm = _vm_size()
        if vm is not None and limits.get("memory"):
            _limit(resource, resource.RLIMIT_AS, vm + int(limits["memory"]))
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = int(used.ru_utime + used.ru_stime + float(limits["cpu"])) + 1
        _limit(resource, resource.RLIMIT_CPU, cpu, cpu + 1)
        _limit(resource, resource.RLIMIT_FSIZE, 0)
        if hasattr(resource, "RLIMIT_NPROC") and os.geteuid() != 0:
            _limit(resource, resource.RLIMIT_NPROC, 0)
    hook = limits.get("hook")
    try:
        if hook:                               # tests: simulate what a hostile file may do
            _test_hook(hook)
        attrs, datasets = read_model(data, float(limits["max_bytes"]), limits["format"])
        reply = encode("ok", attrs=attrs, datasets=datasets)
    except Refused as exc:
        reply = encode("refused", str(exc)[:2000])
    except MemoryError:
        reply = encode("memory", "")
    except RecursionError:
        reply = encode("refused", "unreadable model file (structure nested too deeply)")
    _write_all(1, reply)
    os._exit(0)                                # no atexit: h5py's cleanup may trip on it


def _test_hook(hook):
    import signal
    import time
    if hook == "abort":
        os.abort()
    elif hook == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif hook == "sleep":
        time.sleep(3600)
    elif hook == "spin":
        while True:
            pass
    elif hook == "allocate":
        hog = []
        while True:
            hog.append(bytearray(64 << 20))
            hog[-1][::4096] = b"x" * len(range(0, 64 << 20, 4096))
    elif hook == "exit":
        os._exit(3)
    elif hook == "garbage":
        _write_all(1, [MAGIC, b"12\n", b"{not json!!}"])
        os._exit(0)
    elif hook == "flood":
        _write_all(1, [MAGIC] + [b"x" * (1 << 20)] * 4096)
        os._exit(0)
    elif hook == "lie":
        head = json.dumps({"status": "ok", "message": "", "attrs": {},
                           "datasets": [["costs", "<f8", [1 << 40]]]}).encode()
        _write_all(1, [MAGIC, b"%d\n" % len(head), head, b"\0" * 64])
        os._exit(0)
    elif hook == "pickle":
        head = json.dumps({"status": "ok", "message": "", "attrs": {},
                           "datasets": [["costs", "|O", [1]]]}).encode()
        _write_all(1, [MAGIC, b"%d\n" % len(head), head, b"\0" * 8])
        os._exit(0)


if __name__ == "__main__":
    _child(sys.argv)
