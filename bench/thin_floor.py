"""What bounds course 2's full-batch runs on the thin step (issue 11's 20x): the step's
arithmetic at this core's peak, the thin step alone, and two threads with the least
exchange a team could have.

    .venv/bin/python bench/thin_floor.py
    .venv/bin/python bench/thin_floor.py --alone 112 152
    .venv/bin/python bench/thin_floor.py --phases 112 152 [--rounds 3]

The second form times the kernel alone on each given number of examples (a team thread's
share: 112 and 152 are course 2's on two threads), each configuration, and prints the sum of
the parameters after the steps: run it in two worktrees to compare two versions of the
kernel's speed and (bit for bit) its values.

The third splits the kernel's time alone into its passes: it compiles the kernel four times,
whole and with its passes left out one after another (PARTS: the gradients' sums, then the
back pass, then the forward products), times each as ``--alone`` does, the builds interleaved
``--rounds`` times (best of each), and prints each pass's share as the difference of two
builds' times.  What is left, the "rest", is the block's input copied in, the output layer,
the output deltas, the lanes' sums and the harness's update.  (Without the back pass, layer
1's gradients go too: they are summed in it.)  A build left without a pass computes other
values: its parameters' sums are not printed.

Extracts fastdnn/_core/thin.pxd's C block (the kernel the engine runs) into a temporary
directory, compiles bench/thin_floor.c there with gcc -O3 -fopenmp (GCC on x86-64 Linux
with AVX-512, as the kernel's fast path), and runs it.  See thin_floor.c for what each
column is.  Needs gcc; prints why and exits where the processor lacks AVX-512.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def kernel_source():
    src = open(os.path.join(ROOT, "fastdnn", "_core", "thin.pxd")).read()
    start = src.index('"""') + 3
    return src[start:src.index('"""', start)]


# (what is left out, cumulatively, and the source text it replaces, each found exactly once)
PARTS = [
    ("gradients' sums", [("FD_THIN_GROUP(nl - i, FD_THIN_GRAD)", "(void)0;"),
                         ("        if (gw)\n            fd_thin_grad_of(acc, n0, x0, gw, gb, U, V,"
                          " first);\n", "")]),
    ("back pass", [("FD_THIN_GROUP(np - p, FD_THIN_BACK)", "(void)0;")]),
    ("forward products", [("FD_THIN_GROUP(nl - i, FD_THIN_FWD)", "(void)0;")]),
]


def without(src, k):
    """The kernel's source without PARTS[:k]."""
    for name, edits in PARTS[:k]:
        for old, new in edits:
            if src.count(old) != 1:
                sys.exit("thin_floor.py: the kernel's source changed (%s: %r found %d times);"
                         " update PARTS" % (name, old, src.count(old)))
            src = src.replace(old, new)
    return src


def build(tmp, name, source):
    """thin_floor.c compiled with this kernel source in tmp/name: the compiler's process
    (started, not waited for) and the executable's path."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "thin_kernel.h"), "w") as f:
        f.write(source)
    exe = os.path.join(d, "thin_floor")
    return subprocess.Popen(["gcc", "-O3", "-fno-math-errno", "-fopenmp", "-I", d, "-I", ROOT,
                             os.path.join(HERE, "thin_floor.c"), "-o", exe, "-lm"],
                            stderr=subprocess.DEVNULL), exe


def phases(tmp, widths, rounds):
    src = kernel_source()
    jobs = [build(tmp, "k%d" % k, without(src, k)) for k in range(len(PARTS) + 1)]
    for proc, _ in jobs:
        if proc.wait() != 0:
            sys.exit("thin_floor.py: gcc failed")
    best = {}
    for _ in range(rounds):
        for k, (_, exe) in enumerate(jobs):
            out = subprocess.run([exe, "--alone"] + widths, check=True, capture_output=True,
                                 text=True).stdout.splitlines()[1:]
            for line in out:
                net, m, kp, us = line.split()[:4]
                key = (net, int(m), kp)
                best.setdefault(key, [float("inf")] * len(jobs))
                best[key][k] = min(best[key][k], float(us))
    names = [name for name, _ in PARTS]
    print("us per step alone, best of %d rounds; each pass's time = the builds' difference"
          % rounds)
    print("%-10s %5s %5s %8s  " % ("net", "m", "kp", "whole") +
          "  ".join("%16s" % n for n in names) + "  %8s" % "rest")
    for (net, m, kp), t in best.items():
        parts = [t[k] - t[k + 1] for k in range(len(PARTS))]
        print("%-10s %5d %5s %8.3f  " % (net, m, kp, t[0]) +
              "  ".join("%8.3f (%3.0f%%)" % (p, 100 * p / t[0]) for p in parts) +
              "  %8.3f" % t[-1])


def main():
    if shutil.which("gcc") is None:
        sys.exit("bench/thin_floor.py needs gcc")
    with open("/proc/cpuinfo") as f:
        if "avx512f" not in f.read():
            sys.exit("the processor lacks AVX-512: the thin step's fast path does not run here")
    args = sys.argv[1:]
    if args[:1] == ["--phases"]:
        rounds = 3
        if "--rounds" in args:
            i = args.index("--rounds")
            if i + 1 == len(args) or not args[i + 1].isdigit() or int(args[i + 1]) < 1:
                sys.exit("--rounds: an integer >= 1")
            rounds = int(args[i + 1])
            del args[i:i + 2]
        widths = args[1:]
        if not widths or not all(w.isdigit() and int(w) >= 1 for w in widths):
            sys.exit("--phases: widths are integers >= 1, got %s" % " ".join(widths))
        with tempfile.TemporaryDirectory() as tmp:
            phases(tmp, widths, rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc, exe = build(tmp, "k", kernel_source())
        if proc.wait() != 0:
            sys.exit("thin_floor.py: gcc failed")
        subprocess.run([exe] + args, check=True)


if __name__ == "__main__":
    main()
