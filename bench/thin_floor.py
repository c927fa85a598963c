"""What bounds course 2's full-batch runs on the thin step (issue 11's 20x): the step's
arithmetic at this core's peak, the thin step alone, and two threads with the least
exchange a team could have.

    .venv/bin/python bench/thin_floor.py
    .venv/bin/python bench/thin_floor.py --alone 112 152

The second form times the kernel alone on each given number of examples (a team thread's
share: 112 and 152 are course 2's on two threads), each configuration, and prints the sum of
the parameters after the steps: run it in two worktrees to compare two versions of the
kernel's speed and (bit for bit) its values.

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


def main():
    if shutil.which("gcc") is None:
        sys.exit("bench/thin_floor.py needs gcc")
    with open("/proc/cpuinfo") as f:
        if "avx512f" not in f.read():
            sys.exit("the processor lacks AVX-512: the thin step's fast path does not run here")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "thin_kernel.h"), "w") as f:
            f.write(kernel_source())
        exe = os.path.join(tmp, "thin_floor")
        subprocess.run(["gcc", "-O3", "-fno-math-errno", "-fopenmp", "-I", tmp, "-I", ROOT,
                        os.path.join(HERE, "thin_floor.c"), "-o", exe, "-lm"], check=True,
                       stderr=subprocess.DEVNULL)
        subprocess.run([exe] + sys.argv[1:], check=True)


if __name__ == "__main__":
    main()
