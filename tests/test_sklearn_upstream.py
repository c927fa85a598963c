"""scikit-learn's own MLP test module run against fastdnn's estimators.

The installed ``sklearn/neural_network/tests/test_mlp.py`` is copied to a temporary
directory with its one import of the estimators rewritten to
``from fastdnn.sklearn import MLPClassifier, MLPRegressor``, and run by pytest in a
subprocess (scikit-learn's conftest loaded as a plugin for its ``global_random_seed``
fixture). Every test must pass except those in ``KNOWN_FAILURES`` (none today; the list and
its reasons are mirrored in README's scikit-learn section).
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is not installed (pip install 'fastdnn[sklearn]')")

IMPORT_LINE = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
# test id -> why it cannot pass against fastdnn (only tests of scikit-learn's private
# methods are acceptable here)
KNOWN_FAILURES: dict[str, str] = {}


def _upstream_source():
    path = os.path.join(os.path.dirname(sklearn.__file__), "neural_network", "tests",
                        "test_mlp.py")
    if not os.path.isfile(path):
        pytest.skip(f"scikit-learn's test module is not installed at {path}")
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_upstream_test_mlp_passes_against_fastdnn(tmp_path):
    src = _upstream_source()
    assert src.count(IMPORT_LINE) == 1, "scikit-learn's test module changed its imports"
    src = src.replace(IMPORT_LINE, "from fastdnn.sklearn import MLPClassifier, MLPRegressor")
    # nothing else may still reach scikit-learn's estimators
    assert not re.search(r"neural_network\s+import|neural_network\.MLP", src)
    test_file = tmp_path / "test_mlp_fastdnn.py"
    test_file.write_text(src, encoding="utf-8")
    report = tmp_path / "report.xml"
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sklearn.conftest",
         f"--junitxml={report}", str(test_file)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert report.exists(), r.stdout[-3000:] + r.stderr[-3000:]
    cases = ET.parse(report).getroot().iter("testcase")
    passed, failed = [], []
    for case in cases:
        name = case.get("name")
        bad = case.find("failure") is not None or case.find("error") is not None
        (failed if bad else passed).append(name)
    unexpected = sorted(set(failed) - set(KNOWN_FAILURES))
    fixed = sorted(set(KNOWN_FAILURES) - set(failed))
    assert not unexpected, f"unexpected failures: {unexpected}\n{r.stdout[-5000:]}"
    assert not fixed, f"listed as known failures but passing now: {fixed}"
    assert len(passed) >= 50, (len(passed), r.stdout[-2000:])
