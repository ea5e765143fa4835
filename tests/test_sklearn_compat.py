"""GaussianMixture honours scikit-learn's estimator contract (scikit-learn is a test-only
dependency here): check_estimator, clone, tags, GridSearchCV and cross_val_score, warm
starts, verbose output, feature-name checks, and exceptions/warnings that code written for
scikit-learn catches, without gmmcore ever importing scikit-learn itself."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402
from sklearn.exceptions import NotFittedError as SkNotFittedError  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from gmmcore import ConvergenceWarning, GaussianMixture, NotFittedError  # noqa: E402
from gmmcore.engine.covariance import COVARIANCE_TYPES  # noqa: E402

# The checks of scikit-learn's check_estimator that GaussianMixture does not meet, and why:
# none (complex input is refused, float32 is kept, constant columns are fitted).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(300, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=1.0, random_state=0)
    return X


# -- check_estimator ----------------------------------------------------------------------------


with warnings.catch_warnings():
    # scikit-learn warns that the estimator does not inherit BaseEstimator: by design, gmmcore
    # does not depend on scikit-learn at run time.
    warnings.filterwarnings("ignore", message=".*does not inherit from")
    _CHECKS = parametrize_with_checks(
        [GaussianMixture()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
    )


@_CHECKS
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


def test_tags_say_density_estimator_without_target():
    tags = get_tags(GaussianMixture())
    assert tags.estimator_type == "density_estimator"
    assert tags.target_tags.required is False
    assert tags.input_tags.sparse is False and tags.input_tags.allow_nan is False


def test_clone_is_unfitted_with_equal_deep_copied_parameters(blobs):
    means = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    gm = GaussianMixture(3, means_init=means, random_state=0).fit(blobs)
    copy = clone(gm)
    assert type(copy) is GaussianMixture and not hasattr(copy, "means_")
    assert copy.get_params().keys() == gm.get_params().keys()
    np.testing.assert_array_equal(copy.means_init, means)
    assert copy.means_init is not gm.means_init  # deep copy, as sklearn.clone


def test_get_params_is_sorted_like_sklearn():
    ours = list(GaussianMixture().get_params())
    assert ours == sorted(ours)
    # ours only (issues 11, 9)
    extras = ("n_jobs", "step_exponent", "step_offset", "prior", "convergence")
    assert [p for p in ours if p not in extras] == list(SkGaussianMixture().get_params())


# -- model selection with scikit-learn ------------------------------------------------------------


def _pipeline():
    return Pipeline([("scale", StandardScaler()), ("gmm", GaussianMixture(random_state=0))])


def _minus_bic(pipe, X, y=None):
    return -pipe[-1].bic(pipe[:-1].transform(X))


@pytest.mark.parametrize("scoring", [None, _minus_bic], ids=["score", "bic"])
def test_grid_search_over_pipeline_picks_the_true_k(blobs, scoring):
    """``score`` (held-out mean log-likelihood) and -BIC both pick the 3 blobs."""
    grid = {"gmm__n_components": [1, 2, 3, 4, 5]}
    search = GridSearchCV(_pipeline(), grid, cv=3, scoring=scoring).fit(blobs)
    assert search.best_params_ == {"gmm__n_components": 3}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(blobs).shape == (blobs.shape[0],)


def test_cross_val_score_is_finite(blobs):
    scores = cross_val_score(_pipeline().set_params(gmm__n_components=3), blobs, cv=5)
    assert scores.shape == (5,) and np.isfinite(scores).all()


# -- exceptions and warnings ---------------------------------------------------------------------


def test_sklearn_catches_our_not_fitted_error(blobs):
    with pytest.raises(SkNotFittedError, match="not fitted yet"):
        GaussianMixture().predict(blobs)
    with pytest.raises(NotFittedError):  # and ours catches it too
        GaussianMixture().score(blobs)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_max_iter_reached_warns_convergence_warning_sklearn_filters_see(blobs):
    with pytest.warns(SkConvergenceWarning, match="did not converge"):
        GaussianMixture(3, max_iter=1, random_state=0).fit(blobs)
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        GaussianMixture(3, max_iter=1, random_state=0).fit(blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SkConvergenceWarning)
        GaussianMixture(3, max_iter=1, random_state=0).fit(blobs)  # filtered: no error


def test_no_convergence_warning_when_converged_or_max_iter_zero(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GaussianMixture(3, random_state=0).fit(blobs).converged_
        assert GaussianMixture(3, max_iter=0, random_state=0).fit(blobs).n_iter_ == 0


def test_not_fitted_error_pickles(blobs):
    with pytest.raises(NotFittedError) as caught:
        GaussianMixture().predict(blobs)
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, SkNotFittedError) and again.args == caught.value.args


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_importing_and_using_gmmcore_does_not_import_sklearn():
    code = (
        "import sys, warnings, numpy as np\n"
        "import gmmcore\n"
        "X = np.random.RandomState(0).normal(size=(50, 2))\n"
        "with warnings.catch_warnings(record=True):\n"
        "    warnings.simplefilter('always')\n"
        "    gm = gmmcore.GaussianMixture(2, max_iter=1, random_state=0).fit(X)\n"
        "try:\n"
        "    gmmcore.GaussianMixture().predict(X)\n"
        "except gmmcore.NotFittedError:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    assert _run(code) == "[]"


def test_sklearn_imported_after_gmmcore_still_catches_ours():
    code = (
        "import warnings, numpy as np\n"
        "import gmmcore\n"
        "from sklearn.exceptions import ConvergenceWarning, NotFittedError\n"
        "X = np.random.RandomState(0).normal(size=(50, 2))\n"
        "try:\n"
        "    gmmcore.GaussianMixture().predict(X)\n"
        "except NotFittedError:\n"
        "    print('caught')\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    gmmcore.GaussianMixture(2, max_iter=1, random_state=0).fit(X)\n"
        "print(any(issubclass(w.category, ConvergenceWarning) for w in seen))"
    )
    assert _run(code).split() == ["caught", "True"]


def test_pickled_error_loads_as_ours_where_sklearn_is_not_loaded(blobs):
    with pytest.raises(NotFittedError) as caught:
        GaussianMixture().predict(blobs)
    code = (
        "import pickle, sys\n"
        f"err = pickle.loads({pickle.dumps(caught.value)!r})\n"
        "import gmmcore\n"
        "print(type(err) is gmmcore.NotFittedError, 'sklearn' in sys.modules)"
    )
    assert _run(code).split() == ["True", "False"]


# -- warm start ---------------------------------------------------------------------------------


def _two_blobs():
    rng = np.random.RandomState(0)
    return np.r_[rng.normal(0, 1, (200, 2)), rng.normal(3, 1, (200, 2))]


INIT = dict(
    means_init=[[0.5, 0.5], [2.0, 2.0]],
    weights_init=[0.5, 0.5],
    precisions_init=[np.eye(2), np.eye(2)],
)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_warm_start_reports_convergence_as_sklearn(max_iter):
    """Repeated warm fits give scikit-learn's n_iter_, converged_ and lower_bound_ (both
    started from the same parameters): the first change of each fit is measured from the
    previous fit's lower_bound_."""
    X = _two_blobs()
    ours = GaussianMixture(2, warm_start=True, max_iter=max_iter, tol=1e-4, **INIT)
    ref = SkGaussianMixture(2, warm_start=True, max_iter=max_iter, tol=1e-4, **INIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkConvergenceWarning)
        for _ in range(20):
            ours.fit(X)
            ref.fit(X)
            assert (ours.n_iter_, ours.converged_) == (ref.n_iter_, ref.converged_)
            # Reference: scikit-learn's lower_bound_ (same arithmetic, summation order aside).
            assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-12, atol=0)
            if ref.converged_:
                break
    assert ours.converged_
    assert ours.history_[-1].converged  # the snapshot says so too


def test_warm_start_equals_one_longer_fit():
    X = _two_blobs()
    long = GaussianMixture(2, max_iter=2, random_state=0, reg_covar=0)
    warm = GaussianMixture(2, max_iter=1, random_state=0, reg_covar=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        long.fit(X)
        warm.fit(X).fit(X)
    # Reference: EM's definition (two iterations = one, then one more from there).
    assert_allclose(warm.means_, long.means_, rtol=1e-10, atol=1e-12)
    assert_allclose(warm.weights_, long.weights_, rtol=1e-10, atol=1e-12)


# -- verbose ------------------------------------------------------------------------------------


def test_verbose_1_prints_what_sklearn_prints(capsys):
    X = _two_blobs()
    kwargs = dict(verbose=1, verbose_interval=2, tol=1e-6, n_init=2, random_state=0, **INIT)
    GaussianMixture(2, **kwargs).fit(X)
    ours = capsys.readouterr().out
    SkGaussianMixture(2, **kwargs).fit(X)
    assert ours == capsys.readouterr().out
    assert ours.startswith("Initialization 0\n  Iteration 2\n")


def test_verbose_2_prints_times_changes_and_lower_bound(capsys):
    GaussianMixture(2, verbose=2, verbose_interval=1, random_state=0).fit(_two_blobs())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Initialization 0"
    assert re.fullmatch(r"  Iteration 1\t time lapse \d+\.\d{5}s\t ll change inf", lines[1])
    assert re.fullmatch(
        r"Initialization converged\. time lapse \d+\.\d{5}s\t lower bound -?\d+\.\d{5}\.",
        lines[-1],
    )


def test_verbose_0_prints_nothing(capsys):
    GaussianMixture(2, random_state=0).fit(_two_blobs())
    assert capsys.readouterr().out == ""


# -- feature names ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame(blobs):
    return pd.DataFrame(blobs, columns=["a", "b"])


def test_predict_with_other_column_names_says_which(frame):
    gm = GaussianMixture(3, random_state=0).fit(frame)
    other = frame.rename(columns={"b": "c"})
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- c\n.*missing:\n- b"):
        gm.predict(other)


def test_predict_with_columns_reordered_is_an_error(frame):
    gm = GaussianMixture(3, random_state=0).fit(frame)
    with pytest.raises(ValueError, match="same order as they were in fit"):
        gm.score_samples(frame[["b", "a"]])


def test_names_on_one_side_only_warn_as_sklearn(frame, blobs):
    with pytest.warns(UserWarning, match="X has feature names, but GaussianMixture was fitted"):
        GaussianMixture(3, random_state=0).fit(blobs).predict(frame)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        GaussianMixture(3, random_state=0).fit(frame).predict_proba(blobs)


def test_matching_names_predict_silently(frame):
    gm = GaussianMixture(3, random_state=0).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gm.predict(frame).shape == (len(frame),)


def test_refit_without_names_forgets_them_and_non_string_names_are_not_kept(frame, blobs):
    gm = GaussianMixture(3, random_state=0).fit(frame)
    assert list(gm.feature_names_in_) == ["a", "b"]
    assert not hasattr(gm.fit(blobs), "feature_names_in_")
    assert not hasattr(gm.fit(pd.DataFrame(blobs)), "feature_names_in_")  # int columns


def test_mixed_column_name_types_are_refused(blobs):
    with pytest.raises(ValueError, match="all input features have string names"):
        GaussianMixture(3).fit(pd.DataFrame(blobs, columns=["a", 1]))


# -- sklearn's messages, kept with ours ---------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_init_parameter_messages_start_with_sklearns(blobs, covariance_type):
    gm = GaussianMixture(2, covariance_type=covariance_type)
    with pytest.raises(ValueError, match=r"The parameter 'weights' should have the shape of"):
        gm.set_params(weights_init=np.ones((2, 1)) / 2).fit(blobs)
    with pytest.raises(ValueError, match=r"The parameter 'means' should have the shape of"):
        gm.set_params(weights_init=None, means_init=np.zeros((3, 2))).fit(blobs)
    with pytest.raises(
        ValueError, match=f"The parameter '{covariance_type} precision' should have the shape"
    ):
        gm.set_params(means_init=None, precisions_init=np.ones(7)).fit(blobs)


def test_more_components_than_rows_uses_sklearns_words(blobs):
    with pytest.raises(ValueError, match="Expected n_samples >= n_components"):
        GaussianMixture(5).fit(blobs[:4])
