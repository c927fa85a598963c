"""Forge model files and load each one in a caller process: the caller must never crash or hang.

    nice .venv/bin/python bench/forge_models.py            # 10,000 forgeries, ~15-25 min on 2 cores
    .venv/bin/python bench/forge_models.py --scale 0.05    # a quick run (500)

From three valid model files (a small model, one with trainer state in float32,
a deeper one) it makes, deterministically (``--seed``):

* ``resealed-*``: the HDF5 part corrupted -- every byte of the first 2,400
  (superblock, object headers, B-trees, heaps) flipped in turn, random bit
  flips, random byte overwrites, bytes inserted or deleted, blocks copied
  over other blocks or zeroed, truncations -- under a *valid* checksum-only
  header (recomputed, as anyone can): these reach the HDF5 library, in the
  sandbox process;
* ``otherkey-*``: the same corruptions signed (validly) with another user's
  key, and ``ourkid-*`` ones claiming this user's key id with a wrong HMAC;
* ``flip`` / ``truncate``: bit flips and truncations anywhere, header
  included, without resealing (the checksum or the header stops them);
* ``valid-*``: untouched content under a checksum-only header or another key's
  signature, which must load exactly.

Each case is loaded with ``load_model`` *in a caller process* (worker
subprocesses of tests/test_bad_inputs.run_isolated, two at a time, niced): a
caller killed by a signal counts as a crash, one whose load_model call does
not return within --case-timeout seconds as a hang.  Prints the number of
forgeries, caller crashes and hangs (must be 0 and 0), the outcomes of the
sandbox processes (parsed, refused, crashed, CPU limit, wall-clock timeout,
memory limit, malformed reply) and how the caller's load_model ended.  Exit
status 1 if the caller crashed or hung, raised anything but ValueError, or a
valid file did not load exactly.

The run uses its own throwaway signing key (FASTDNN_KEY_FILE), never yours.
"""
import argparse
import collections
import functools
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402

HEADER = 512
MAGIC = b"FASTDNN-MODEL\n"
COSTS = [0.7, 0.6, 0.5, 0.45]
DENSE = 2400                      # bytes of the HDF5 part flipped one by one (base 0)
# family: count at scale 1 (total 10,000)
FAMILIES = {
    "resealed-dense": DENSE,
    "resealed-bitflip": 2200,
    "resealed-bytes": 1600,
    "resealed-shift": 500,
    "resealed-splice": 500,
    "resealed-zero": 400,
    "resealed-truncate": 300,
    "otherkey-corrupt": 700,
    "ourkid-corrupt": 300,
    "flip": 500,
    "truncate": 300,
    "valid-v1": 150,
    "valid-otherkey": 150,
}
OTHER_KEY = hashlib.sha256(b"a classmate's key").digest()


# ------------------------------------------------------------ base files
def _params(dims, seed, dtype):
    rng = np.random.RandomState(seed)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = (rng.randn(dims[l], dims[l - 1]) * 0.1).astype(dtype)
        p[f"b{l}"] = (rng.randn(dims[l], 1) * 0.1).astype(dtype)
    return p


BASES = [
    dict(dims=(12, 5, 3, 1), seed=0, dtype="float64", state=False),
    dict(dims=(16, 6, 1), seed=1, dtype="float32", state=True),
    dict(dims=(20, 8, 6, 4, 3, 1), seed=2, dtype="float64", state=False),
]


def _base_content(b):
    p = _params(b["dims"], b["seed"], b["dtype"])
    state = None
    if b["state"]:
        state = {f"v_{k}": v * 0.5 for k, v in p.items()}
        state.update(t=np.array(7, dtype=np.int64), rng=np.arange(6, dtype=np.uint64))
    return p, state


def write_bases(directory):
    """Save the base models (signed with the run's key) into ``directory``."""
    from fastdnn.model_io import save_model
    for i, b in enumerate(BASES):
        p, state = _base_content(b)
        save_model(os.path.join(directory, f"base{i}.h5"), p, costs=COSTS, state=state)


@functools.lru_cache(maxsize=None)
def base_bodies(directory):
    out = []
    for i in range(len(BASES)):
        with open(os.path.join(directory, f"base{i}.h5"), "rb") as f:
            out.append(f.read())
    return out


def same_content(model, i):
    p, state = _base_content(BASES[i])
    if sorted(model.parameters) != sorted(p) or not np.array_equal(model.costs, COSTS):
        return False
    if any(not np.array_equal(model.parameters[k], v) or model.parameters[k].dtype != v.dtype
           for k, v in p.items()):
        return False
    if (state is None) != (model.state is None):
        return False
    return state is None or (sorted(state) == sorted(model.state) and all(
        np.array_equal(model.state[k], v) and model.state[k].dtype == v.dtype
        for k, v in state.items()))


# ---------------------------------------------------------------- headers
def header_v1(body):
    return (MAGIC + b"sha256 %s\nbytes %d\n" % (hashlib.sha256(body).hexdigest().encode(),
                                                 len(body))).ljust(HEADER, b"\0")


def header_signed(body, key, kid=None, mac=None):
    from fastdnn import _keys
    kid = kid or _keys.key_id(key)
    mac = mac or _keys.sign(key, body)
    return (MAGIC + b"sha256 %s\nbytes %d\nhmac-sha256 %s %s\n" % (
        hashlib.sha256(body).hexdigest().encode(), len(body), kid.encode(),
        mac.encode())).ljust(HEADER, b"\0")


# ------------------------------------------------------------------ cases
class Case:
    __slots__ = ("id", "family", "base", "seed")

    def __init__(self, id, family, base, seed):
        self.id, self.family, self.base, self.seed = id, family, base, seed


def build_cases(scale=1.0, seed=0):
    rng = np.random.RandomState(seed)
    cases = []
    for family, count in FAMILIES.items():
        n = max(1, int(round(count * scale)))
        for k in range(n):
            if family == "resealed-dense":
                pos = k if scale >= 1 else int(k * DENSE / n)
                cases.append(Case(f"{family}/{pos}", family, 0, pos))
            else:
                s = int(rng.randint(0, 2 ** 31 - 1))
                cases.append(Case(f"{family}/{k}", family, int(rng.randint(len(BASES))), s))
    return cases


def _corrupt(body, rng, how):
    d = bytearray(body)
    meta_end = min(len(d), DENSE)

    def pos():      # mostly in the HDF5 structure at the start, sometimes anywhere
        return int(rng.randint(meta_end) if rng.rand() < 0.8 else rng.randint(len(d)))
    if how == "bitflip":
        for _ in range(int(rng.randint(1, 4))):
            p = pos()
            d[p] ^= 1 << int(rng.randint(8))
    elif how == "bytes":
        for _ in range(int(rng.randint(1, 4))):
            p, n = pos(), int(rng.randint(1, 17))
            d[p:p + n] = rng.bytes(len(d[p:p + n]))
    elif how == "shift":
        p = pos()
        if rng.rand() < 0.5:
            d[p:p] = rng.bytes(int(rng.randint(1, 9)))
        else:
            del d[p:p + int(rng.randint(1, 9))]
    elif how == "splice":
        n = int(rng.randint(4, 129))
        src, dst = int(rng.randint(len(d) - n)), pos()
        d[dst:dst + n] = body[src:src + n][:len(d[dst:dst + n])]
    elif how == "zero":
        p, n = pos(), int(rng.randint(8, 257))
        d[p:p + n] = bytes(len(d[p:p + n]))
    elif how == "truncate":
        del d[int(rng.randint(len(d))):]
    return bytes(d)


def forge(case, bases, our_key):
    """The bytes of forged file ``case``."""
    rng = np.random.RandomState(case.seed)
    whole = bases[case.base]
    body = whole[HEADER:]
    fam = case.family
    if fam == "resealed-dense":
        d = bytearray(body)
        d[case.seed] ^= 0xFF
        return header_v1(bytes(d)) + bytes(d)
    if fam.startswith("resealed-"):
        b = _corrupt(body, rng, fam.split("-", 1)[1])
        return header_v1(b) + b
    if fam in ("otherkey-corrupt", "ourkid-corrupt"):
        how = ("bitflip", "bytes", "shift", "splice", "zero")[int(rng.randint(5))]
        b = _corrupt(body, rng, how)
        if fam == "otherkey-corrupt":
            return header_signed(b, OTHER_KEY) + b
        from fastdnn import _keys
        return header_signed(b, OTHER_KEY, kid=_keys.key_id(our_key),
                             mac=rng.bytes(32).hex()) + b
    if fam == "flip":
        d = bytearray(whole)
        for _ in range(int(rng.randint(1, 4))):
            d[int(rng.randint(len(d)))] ^= 1 << int(rng.randint(8))
        return bytes(d)
    if fam == "truncate":
        return whole[:int(rng.randint(len(whole)))]
    if fam == "valid-v1":
        return header_v1(body) + body
    if fam == "valid-otherkey":
        return header_signed(body, OTHER_KEY) + body
    raise ValueError(f"unknown family {fam!r}")


# ----------------------------------------------------------- the caller
_CHILD_OUTCOMES = ("parsed", "refused", "crash", "cpu-limit", "timeout", "memory-limit",
                   "malformed", "exit", "spawn-failed")


def _how(message):
    for words, kind in (("sha256 checksum", "checksum"), ("unreadable header", "header"),
                        ("truncated fastdnn", "truncated"), ("more than its header", "length"),
                        ("not a fastdnn model file", "not-a-model")):
        if words in message:
            return kind
    return "invalid"


def run_case(case, base_dir, scratch):
    """Load one forgery with load_model in this (the caller's) process."""
    from fastdnn import _keys, _sandbox
    from fastdnn.model_io import load_model
    path = os.path.join(scratch, "forged.h5")
    with open(path, "wb") as f:
        f.write(forge(case, base_bodies(base_dir), _keys.load_key()))
    before = dict(_sandbox.stats)
    try:
        model = load_model(path)
        err = None
    except ValueError as exc:
        err = str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else is a defect of the caller's API
        return {"ok": False, "outcome": "wrong-exception", "child": "-",
                "detail": f"{type(exc).__name__}: {exc}"[:300]}
    delta = [k for k in _CHILD_OUTCOMES if _sandbox.stats.get(k, 0) > before.get(k, 0)]
    child = delta[0] if delta else "none"
    if err is not None:
        named = "forged.h5" in err
        return {"ok": named and not case.family.startswith("valid-"),
                "outcome": "ValueError/" + (f"sandbox-{child}" if child not in
                                            ("none", "parsed") else _how(err)),
                "child": child, "detail": err[:300]}
    exact = same_content(model, case.base)
    ok = exact or not case.family.startswith("valid-")
    return {"ok": ok, "outcome": "loaded-exact" if exact else "loaded-other", "child": child,
            "detail": ""}


class _Cases:
    """Cases by index for the worker (built from the same arguments as the parent's)."""

    def __init__(self, scale, seed, base_dir):
        self.cases = build_cases(scale, seed)
        self.base_dir = base_dir

    def __getitem__(self, i):
        return self.cases[i]


def _worker(argv):
    from tests.test_bad_inputs import serve
    outfile, indices = argv[0], [int(s) for s in argv[1].split(",") if s]
    scale, seed, base_dir = float(argv[2]), int(argv[3]), argv[4]
    cases = _Cases(scale, seed, base_dir)
    scratch = tempfile.mkdtemp(prefix="fastdnn-forge-")
    try:
        serve(outfile, indices, cases.cases,
              lambda case: run_case(case, base_dir, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of the 10,000 forgeries (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="caller processes at once")
    ap.add_argument("--case-timeout", type=float, default=40.0,
                    help="seconds a load_model call may take before it counts as a hang")
    ap.add_argument("--json", help="write every case's result to this file")
    args = ap.parse_args(argv)
    try:
        os.nice(10)
    except OSError:
        pass
    from tests.test_bad_inputs import run_isolated
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="fastdnn-forge-run-")
    os.environ["FASTDNN_KEY_FILE"] = os.path.join(tmp, "key", "model-key")   # workers inherit
    try:
        base_dir = os.path.join(tmp, "bases")
        os.makedirs(base_dir)
        write_bases(base_dir)
        cases = build_cases(args.scale, args.seed)
        ids = {i: c.id for i, c in enumerate(cases)}
        script = [os.path.abspath(__file__), str(args.scale), str(args.seed), base_dir]
        results = {}
        lock = threading.Lock()

        def run(part):
            res = run_isolated(script, part, ids.__getitem__, case_timeout=args.case_timeout)
            with lock:
                results.update(res)
        parts = [list(range(w, len(cases), args.workers)) for w in range(args.workers)]
        threads = [threading.Thread(target=run, args=(p,)) for p in parts if p]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = list(results.values())
    crashes = sum(r["outcome"] == "crash" for r in rows)
    hangs = sum(r["outcome"] == "hang" for r in rows)
    bad = [r for r in rows if not r["ok"] and r["outcome"] not in ("crash", "hang")]
    child = collections.Counter(r.get("child", "-") for r in rows
                                if r["outcome"] not in ("crash", "hang"))
    outcomes = collections.Counter(r["outcome"] for r in rows)
    fams = collections.Counter(ids[i].split("/")[0] for i in results)
    reached = sum(v for k, v in child.items() if k not in ("none", "-"))
    print(f"forged model files:   {len(rows)}  ("
          + ", ".join(f"{k} {v}" for k, v in fams.items()) + ")")
    print(f"caller crashes:       {crashes}")
    print(f"caller hangs:         {hangs}")
    print(f"wrong answers:        {len(bad)}  (an exception other than ValueError, an error "
          f"not naming the file, a valid file not loaded exactly)")
    print(f"sandbox processes:    {reached}  ("
          + ", ".join(f"{k} {v}" for k, v in sorted(child.items()) if k not in ("none", "-"))
          + f"); stopped before any parsing: {child.get('none', 0)}")
    print("load_model in the caller: " + ", ".join(f"{k} {v}" for k, v in
                                                    sorted(outcomes.items())))
    for r in bad[:20]:
        print(f"  FAILED {r['id']}: {r['outcome']}: {r['detail'][:200]}")
    for r in [r for r in rows if r["outcome"] in ("crash", "hang")][:20]:
        print(f"  CALLER {r['outcome'].upper()} {r['id']}: {r.get('detail', '')[:200]}")
    print(f"({time.perf_counter() - t0:.0f} s, {args.workers} callers)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(sorted(rows, key=lambda r: r["i"]), f, indent=0)
    return 1 if crashes or hangs or bad else 0


if __name__ == "__main__" and len(sys.argv) >= 2 and sys.argv[1] == "--worker":
    _worker(sys.argv[2:])
    sys.exit(0)

if __name__ == "__main__":
    sys.exit(main())
