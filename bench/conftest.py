"""Benchmarks import the plain-numpy reference as ``from tests import reference``:
put the repository root on sys.path (pytest run from anywhere)."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
