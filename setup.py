"""Build the compiled parts of fastdnn.

All metadata lives in pyproject.toml; this file only declares the Cython
extensions.  ``FASTDNN_DEBUG=1`` builds them with bounds checking and
wraparound checks switched back on (``make test-debug``).
"""
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTDNN_DEBUG", "0") not in ("", "0")
# FASTDNN_DEBUG=asan: the debug build plus AddressSanitizer (make test-asan), which
# also checks the raw-pointer loops of _engine that bounds checking cannot see
ASAN = os.environ.get("FASTDNN_DEBUG") == "asan"

directives = {
    "language_level": 3,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
}
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
# -fno-math-errno: sqrt never sets errno, so the optimisers' loops vectorise (measured: the
# float32 Adam update of MNIST-sized layers went from 4x to ~1x the time of the products)
compile_args = ["-O0", "-g"] if DEBUG else ["-O3", "-fno-math-errno"]
if ASAN:
    compile_args = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"]

MODULES = ["_blas", "_kernels", "_validation", "activations", "layers", "_engine", "_core.loop"]
# the training loop runs its epochs on a team of threads (OpenMP) when asked for more than
# one; GCC on Linux ships libgomp.  FASTDNN_OPENMP=0, or another platform, builds it
# without: the loop then runs on the calling thread alone (same numbers).
OPENMP = (["-fopenmp"] if sys.platform.startswith("linux")
          and os.environ.get("FASTDNN_OPENMP", "1") != "0" else [])
TEAM_MODULES = {"_core.loop"}

extensions = [
    Extension(
        f"fastdnn.{name}",
        [f"fastdnn/{name.replace('.', '/')}.pyx"],
        # the project's root, for fastdnn/_simd.h
        include_dirs=[np.get_include(), os.path.dirname(os.path.abspath(__file__))],
        depends=["fastdnn/_simd.h"],
        define_macros=macros,
        extra_compile_args=compile_args + (OPENMP if name in TEAM_MODULES else []),
        extra_link_args=(["-fsanitize=address"] if ASAN else [])
        + (OPENMP if name in TEAM_MODULES else []),
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        # a debug build must not reuse C files generated for a release build
        force=DEBUG,
    )
)
