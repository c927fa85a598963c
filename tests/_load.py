"""Load single source files of the fastdnn package without importing the package.

``import fastdnn`` pulls in the compiled extension, which may not be built
when these tests run; pure-Python modules such as ``fastdnn/data.py`` and
``fastdnn/testcases.py`` are therefore loaded straight from their files.
"""

import importlib.util
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(REPO_ROOT, "fastdnn")


def load_source(modname):
    """Import ``fastdnn/<modname>.py`` by path, as module ``_fastdnn_src_<modname>``."""
    name = "_fastdnn_src_" + modname
    if name in sys.modules:
        return sys.modules[name]
    filename = os.path.join(PACKAGE_DIR, modname + ".py")
    spec = importlib.util.spec_from_file_location(name, filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
