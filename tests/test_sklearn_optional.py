"""scikit-learn stays optional: ``import fastdnn`` never imports it, and without it the
estimators' module says how to install it. Runs whether or not scikit-learn is installed."""
import subprocess
import sys
import textwrap


def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_import_fastdnn_does_not_import_sklearn_or_dask():
    r = _run("""
        import sys, fastdnn
        bad = sorted(m for m in sys.modules
                     if m.split('.')[0] in ('sklearn', 'dask', 'distributed', 'dask_ml'))
        assert not bad, bad
        assert 'fastdnn.sklearn' not in sys.modules
        print('ok')
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_without_sklearn_the_error_names_the_extra():
    r = _run("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == 'sklearn' or name.startswith('sklearn.'):
                    raise ImportError('No module named ' + repr(name))
        sys.meta_path.insert(0, Block())
        import fastdnn
        try:
            import fastdnn.sklearn
        except ImportError as e:
            print(e)
        else:
            raise SystemExit('imported without scikit-learn')
    """)
    assert r.returncode == 0, r.stderr
    assert "pip install 'fastdnn[sklearn]'" in r.stdout


def test_fastdnn_exposes_the_estimators_lazily():
    import pytest

    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    import fastdnn

    if not hasattr(fastdnn, "__getattr__"):
        pytest.skip("fastdnn/__init__.py has no module __getattr__ yet (added at merge)")
    import fastdnn.sklearn as fsk

    assert fastdnn.MLPClassifier is fsk.MLPClassifier
    assert fastdnn.MLPRegressor is fsk.MLPRegressor
    with pytest.raises(AttributeError, match="no_such_name"):
        fastdnn.no_such_name  # noqa: B018
