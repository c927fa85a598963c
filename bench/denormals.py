"""Why the compiled loop flushes denormals to zero: an epoch's time as training goes on,
with the flush (the default) and without it (FASTDNN_FLUSH_DENORMALS=0), side by side.

    .venv/bin/python bench/denormals.py [--epochs 60] [--dtype float32]

scikit-learn's digits (needs scikit-learn), [64, 32, 10], Adam 1e-3, batches of 32,
1 BLAS thread; each setting in its own process (the variable is read when an engine is
made), the two alternating for --rounds rounds.  Prints ms per epoch over the first
--window epochs and the last, for each setting, and how many of the final Adam moments are
denormal when they are kept (the inputs that are always 0, digits' border pixels, are not
the cause: their moments stay exactly 0; it is the rarely active ones, whose moments decay
geometrically past the smallest normal number).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(epochs, window, dtype):
    import numpy as np
    from sklearn.datasets import load_digits

    sys.path.insert(0, os.path.dirname(HERE))
    from fastdnn.training import Trainer, TrainingConfig, initialize_parameters

    d = load_digits()
    X = np.asfortranarray((d.data / 16.0).T.astype(dtype))
    y = d.target.reshape(1, -1)
    P = {k: v.astype(dtype) for k, v in initialize_parameters([64, 32, 10], "he").items()}
    cfg = TrainingConfig(learning_rate=1e-3, optimizer="adam", output="softmax",
                         mini_batch_size=32, dtype=dtype, threads=1)
    tr = Trainer(X, y, P, cfg)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        tr.run(1, record_every=0)
        times.append(time.perf_counter() - t0)
    tiny = np.finfo(dtype).tiny
    state = tr.optimizer_state()
    n = sum(v.size for v in state.values())
    sub = sum(int(np.count_nonzero((v != 0) & (np.abs(v) < tiny))) for v in state.values())
    first = 1e3 * sorted(times[1:window + 1])[window // 2]
    last = 1e3 * sorted(times[-window:])[window // 2]
    print(json.dumps(dict(first=first, last=last, denormal=sub, moments=n)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--window", type=int, default=10, help="epochs in each median")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.epochs, a.window, a.dtype)
        return 0
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    print(f"digits [64, 32, 10], Adam, batch 32, {a.dtype}, {a.epochs} epochs; median ms per "
          f"epoch over epochs 1-{a.window} and the last {a.window}")
    for r in range(a.rounds):
        for flush in ("1", "0"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--epochs", str(a.epochs),
                 "--window", str(a.window), "--dtype", a.dtype],
                env=dict(env, FASTDNN_FLUSH_DENORMALS=flush), capture_output=True, text=True,
                check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  round {r + 1}, denormals {'flushed' if flush == '1' else 'kept   '}: "
                  f"first {res['first']:.3f} ms, last {res['last']:.3f} ms; denormal Adam "
                  f"moments at the end: {res['denormal']} of {res['moments']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
