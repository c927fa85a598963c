"""Time load_model on the cat model [12288, 20, 7, 5, 1]: signed (in-process) and not (sandbox).

    .venv/bin/python bench/load_time.py [--repeat 30]

Saves the model (float64, 25 recorded costs) with a throwaway signing key,
loads it ``--repeat`` times as saved (signed by this user: parsed
in-process; the target is under 50 ms), then with a checksum-only header
(format version 1, or any file this user did not sign: parsed in the
sandbox process), and prints min / median per load and the file size.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402

DIMS = [12288, 20, 7, 5, 1]


def _times(f, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FASTDNN_KEY_FILE"] = os.path.join(tmp, "key", "model-key")
        from fastdnn import _sandbox, model_io
        rng = np.random.default_rng(0)
        params = {}
        for l in range(1, len(DIMS)):
            params[f"W{l}"] = rng.standard_normal((DIMS[l], DIMS[l - 1])) / np.sqrt(DIMS[l - 1])
            params[f"b{l}"] = np.zeros((DIMS[l], 1))
        path = os.path.join(tmp, "cat.h5")
        model_io.save_model(path, params, costs=np.linspace(0.7, 0.1, 25))
        size = os.path.getsize(path)
        model_io.load_model(path)                                   # warm imports
        n0 = _sandbox.stats["spawned"]
        signed = _times(lambda: model_io.load_model(path), args.repeat)
        assert _sandbox.stats["spawned"] == n0, "a signed file went to the sandbox"
        model_io._seal(path, sign=False)
        unsigned = _times(lambda: model_io.load_model(path), max(3, args.repeat // 3))
        assert _sandbox.stats["spawned"] > n0
    print(f"cat model {DIMS}, float64, file {size / 1e6:.2f} MB")
    for what, t in (("signed (in-process)", signed), ("unsigned (sandbox)", unsigned)):
        print(f"  {what:22s} min {min(t) * 1e3:7.1f} ms   median "
              f"{statistics.median(t) * 1e3:7.1f} ms   ({len(t)} loads)")
    return 0 if min(signed) < 0.050 else 1


if __name__ == "__main__":
    sys.exit(main())
