"""Count what the hardening tests try, and how it went: the numbers README quotes.

    .venv/bin/python bench/count_hardening.py [--dense] [--kills N]

Runs, each in crash-isolating worker subprocesses where a crash is possible:

* the bad-input matrix (tests/test_bad_inputs.py): every public function x
  every array argument x every kind of bad or unusual input, plus the
  whole-call cases;
* the model-file matrix (tests/test_faults.py): truncated, flipped,
  re-sealed-corrupted, foreign, non-HDF5 and wrongly shaped files
  (``--dense``: every byte of the HDF5 structure re-sealed-flipped, ~2,000
  more cases; re-sealed files carry a checksum, not this user's signature,
  so each is parsed in a sandbox process: about 12 minutes on 2 busy cores);
  bench/forge_models.py forges 10,000 more;
* the bad-input matrix over engine v2, the estimators and the course modules
  (tests/test_bad_inputs_v2.py): every TrainingConfig field x wrong type, None,
  bool, NaN, +-inf, negative, zero, huge, out of range, through TrainingConfig,
  L_layer_model and the CLI; nonsense combinations; MLPClassifier/MLPRegressor
  against scikit-learn's on NaN/inf/object/string/sparse X, bad y and
  sample_weight, every constructor parameter; course functions with caches and
  gradient dicts that do not chain;
* saves failing at every step, saves SIGKILLed at every step and at random
  moments, and trainings made to diverge;
* trainings with Adam, dropout and mini-batches SIGKILLed at random moments and
  resumed (tests/test_resume_kills.py; ``--kills``, default 50): each resumed
  run must equal the uninterrupted one bit for bit;

and prints the counts: inputs tried, faults simulated, crashes (a worker
killed by a signal), hangs (a case running over its time limit), losses (a
model file no longer loadable with a content it held, a divergence without
finite parameters, a resumed run that differs from the uninterrupted one), wrong answers (a result that differs from the reference,
an error that names nothing, a success where an error was due).  Exit status
1 if any of the last four is not zero.
"""
import argparse
import collections
import os
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from tests import test_bad_inputs as bad_inputs  # noqa: E402
from tests import test_bad_inputs_v2 as bad_inputs_v2  # noqa: E402
from tests import test_faults as faults          # noqa: E402
from tests import test_resume_kills as resume_kills  # noqa: E402


def _tally(results):
    by = collections.Counter(r["outcome"] for r in results)
    failed = [r for r in results if not r["ok"]]
    return by, failed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dense", action="store_true",
                    help="re-sealed flips at every byte of the HDF5 structure")
    ap.add_argument("--kills", type=int, default=50,
                    help="trainings SIGKILLed at random moments and resumed (default 50)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    inputs_v1 = list(bad_inputs.run_matrix().values())
    inputs_v2 = list(bad_inputs_v2.run_matrix().values())
    inputs = inputs_v1 + inputs_v2
    in_by, in_failed = _tally(inputs)
    files = list(faults.run_file_matrix(dense=args.dense).values())
    f_by, f_failed = _tally(files)
    with tempfile.TemporaryDirectory() as tmp:
        steps = faults.failing_steps(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        kills = faults.killed_saves(tmp)
    diverged = faults.divergences()
    with tempfile.TemporaryDirectory() as tmp:
        resumed = resume_kills.killed_trainings(tmp, kills=args.kills)
    killed_runs = resume_kills.faults_simulated(resumed)

    crashes = sum(r["outcome"] == "crash" for r in inputs + files)
    hangs = sum(r["outcome"] == "hang" for r in inputs + files)
    losses = sum(not ok for _, ok, _ in steps + kills + diverged + resumed)
    wrong = sum(r["outcome"] not in ("crash", "hang") for r in in_failed + f_failed)
    n_faults = len(files) + len(steps) + len(kills) + len(diverged) + len(killed_runs)
    v2_by = collections.Counter(r["id"].split("/")[0] for r in inputs_v2)

    print(f"inputs tried:     {len(inputs)}  (bad-input matrix {len(inputs_v1)}; engine v2, "
          f"estimators and course modules {len(inputs_v2)}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(v2_by.items())) + "; outcomes: "
          + ", ".join(f"{k} {v}" for k, v in sorted(in_by.items())) + ")")
    print(f"faults simulated: {n_faults}  (model files {len(files)}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(f_by.items()))
          + f"; saves failing at a step {len(steps)}; saves killed {len(kills)}; "
          f"divergences {len(diverged)}; trainings killed and resumed {len(killed_runs)}"
          f" of {args.kills})")
    print(f"crashes:          {crashes}")
    print(f"hangs:            {hangs}")
    print(f"losses:           {losses}")
    print(f"wrong answers:    {wrong}")
    for r in (in_failed + f_failed)[:20]:
        print(f"  FAILED {r['id']}: {r['outcome']}: {r['detail'][:200]}")
    for what, ok, detail in steps + kills + diverged + resumed:
        if not ok:
            print(f"  LOST {what}: {detail}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 1 if crashes or hangs or losses or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
