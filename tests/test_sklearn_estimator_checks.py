"""scikit-learn's estimator checks (``parametrize_with_checks``) on both fastdnn estimators."""
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'fastdnn[sklearn]')")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastdnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPClassifier(random_state=0), MLPRegressor(random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
