"""GaussianMixture: scikit-learn's API surface, restarts and initialization methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from gmmcore.datasets import make_mixture
from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.mixture import GaussianMixture, NotFittedError, RestartResult

SEEDS = [0, 1, 2]
K, D = 3, 2

SHAPES = {
    "full": (K, D, D),
    "tied": (D, D),
    "diag": (K, D),
    "spherical": (K,),
}


@pytest.fixture(scope="module")
def X():
    data, _ = make_mixture(300, D, K, separation=4.0, random_state=7)
    return data[["x1", "x2"]].to_numpy()


# -- fitted attributes ----------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_returns_self_and_sets_sklearn_attributes(X, covariance_type):
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0)
    assert gm.fit(X) is gm
    assert gm.weights_.shape == (K,)
    assert gm.means_.shape == (K, D)
    for name in ("covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, name).shape == SHAPES[covariance_type], name
    assert isinstance(gm.converged_, bool) and gm.converged_
    assert isinstance(gm.n_iter_, int) and gm.n_iter_ >= 1
    assert isinstance(gm.lower_bound_, float)
    assert len(gm.lower_bounds_) == gm.n_iter_
    assert gm.lower_bounds_[-1] == gm.lower_bound_
    assert gm.n_features_in_ == D
    # Reference: the definition (mixing weights are a distribution).
    assert_allclose(gm.weights_.sum(), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_are_inverse_covariances(X, covariance_type):
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    if covariance_type in ("full", "tied"):
        expected = np.linalg.inv(gm.covariances_)
    else:
        expected = 1.0 / gm.covariances_
    # Reference: numpy.linalg.inv of the fitted covariances.
    assert_allclose(gm.precisions_, expected, rtol=1e-9, atol=1e-12)


def test_fitted_attributes_are_writable_copies(X):
    gm = GaussianMixture(K, random_state=0).fit(X)
    assert gm.means_.flags.writeable
    gm.means_[0, 0] = 1e9  # must not corrupt the stored history
    assert gm.history_[-1].means[0, 0] != 1e9


def test_history_ends_with_the_fitted_parameters(X):
    gm = GaussianMixture(K, random_state=0).fit(X)
    last = gm.history_[-1]
    assert last is gm.snapshot_
    np.testing.assert_array_equal(last.means, gm.means_)
    np.testing.assert_array_equal(last.weights, gm.weights_)
    assert [s.mean_log_likelihood for s in gm.history_ if s.phase == "E"] == gm.lower_bounds_


def test_feature_names_in_from_dataframe(X):
    df = pd.DataFrame(X, columns=["eruptions", "waiting"])
    gm = GaussianMixture(2, random_state=0).fit(df)
    assert list(gm.feature_names_in_) == ["eruptions", "waiting"]
    assert not hasattr(GaussianMixture(2, random_state=0).fit(X), "feature_names_in_")


# -- methods --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_predict_equals_fit_then_predict(X, covariance_type, seed):
    a = GaussianMixture(K, covariance_type=covariance_type, random_state=seed).fit_predict(X)
    b = GaussianMixture(K, covariance_type=covariance_type, random_state=seed).fit(X).predict(X)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (X.shape[0],) and set(np.unique(a)) <= set(range(K))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_is_argmax_of_predict_proba(X, covariance_type):
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    assert proba.shape == (X.shape[0], K)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))
    # Reference: the definition (rows are distributions over components).
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_is_mean_of_score_samples(X, covariance_type):
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    # Reference: scikit-learn's definition of score (mean of score_samples).
    assert_allclose(gm.score(X), gm.score_samples(X).mean(), rtol=1e-14, atol=0)
    assert isinstance(gm.score(X), float)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_final_lower_bound_does_not_exceed_score_of_final_parameters(X, covariance_type):
    """As in scikit-learn, lower_bound_ belongs to the E-step that preceded the last M-step;
    that M-step cannot lower the likelihood (EM), so the final score is at least as high."""
    gm = GaussianMixture(K, covariance_type=covariance_type, tol=1e-6, random_state=0).fit(X)
    assert gm.score(X) >= gm.lower_bound_ - 1e-12


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bic_aic_icl_relations(X, covariance_type):
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    ll = gm.score_samples(X).sum()
    p = gm.n_parameters()
    n = X.shape[0]
    # Reference: scikit-learn's formulas bic = -2 logL + p log n, aic = -2 logL + 2p.
    assert_allclose(gm.bic(X), -2 * ll + p * np.log(n), rtol=1e-12, atol=0)
    assert_allclose(gm.aic(X), -2 * ll + 2 * p, rtol=1e-12, atol=0)
    # mclust's ICL adds a non-negative classification-entropy penalty to BIC.
    penalty = -2 * np.log(gm.predict_proba(X).max(axis=1)).sum()
    assert_allclose(gm.icl(X), gm.bic(X) + penalty, rtol=1e-12, atol=1e-9)
    assert gm.icl(X) >= gm.bic(X)


def test_n_parameters_has_sklearn_private_alias(X):
    gm = GaussianMixture(K, covariance_type="tied", random_state=0).fit(X)
    assert gm._n_parameters() == gm.n_parameters() == (K - 1) + K * D + D * (D + 1) // 2


# -- get_params / set_params ----------------------------------------------------------------


def test_get_params_has_sklearn_constructor_arguments():
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    ours = set(GaussianMixture().get_params())
    # Reference: scikit-learn's GaussianMixture().get_params() keys, plus our documented
    # extras (threads, and partial_fit's step-size schedule; issue 11; mclust's prior and
    # stopping rule, issue 9).
    extras = {"n_jobs", "step_exponent", "step_offset", "prior", "convergence"}
    assert ours == set(sklearn_mixture.GaussianMixture().get_params()) | extras


def test_defaults_match_sklearn():
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    ref = sklearn_mixture.GaussianMixture().get_params()
    for key, value in GaussianMixture().get_params().items():
        if key not in ("n_jobs", "step_exponent", "step_offset", "prior", "convergence"):
            assert value == ref[key], key


def test_set_params_returns_self_and_changes_parameters():
    gm = GaussianMixture()
    assert gm.set_params(n_components=4, covariance_type="diag") is gm
    assert gm.n_components == 4 and gm.covariance_type == "diag"
    assert gm.get_params()["n_components"] == 4


def test_set_params_rejects_unknown_parameter():
    with pytest.raises(ValueError, match="valid ones are"):
        GaussianMixture().set_params(n_component=3)


def test_repr_shows_changed_parameters_only():
    assert repr(GaussianMixture(3, covariance_type="tied")) == (
        "GaussianMixture(n_components=3, covariance_type='tied')"
    )


# -- not fitted -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score", "score_samples", "bic", "aic", "icl"]
)
def test_methods_before_fit_say_to_call_fit(X, method):
    with pytest.raises(
        NotFittedError, match=r"not fitted yet\. Call .fit. with appropriate arguments"
    ):
        getattr(GaussianMixture(K), method)(X)


def test_not_fitted_error_is_value_and_attribute_error():
    # scikit-learn's NotFittedError derives from both, so `except ValueError` keeps working.
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    with pytest.raises(NotFittedError):
        GaussianMixture().sample(3)
    with pytest.raises(NotFittedError):
        GaussianMixture().n_parameters()


# -- restarts -------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_restarts_has_one_entry_per_init_and_keeps_the_best(X, covariance_type):
    gm = GaussianMixture(
        K, covariance_type=covariance_type, n_init=5, init_params="random", random_state=0
    ).fit(X)
    assert len(gm.restarts_) == 5
    assert all(isinstance(r, RestartResult) for r in gm.restarts_)
    assert [r.index for r in gm.restarts_] == list(range(5))
    bounds = [r.lower_bound for r in gm.restarts_]
    assert gm.lower_bound_ == max(bounds)
    # As scikit-learn: the first restart reaching the maximum wins ties.
    assert gm.best_restart_ == int(np.argmax(bounds))
    assert gm.history_ is gm.restarts_[gm.best_restart_].history


def test_restart_records_its_own_history(X):
    gm = GaussianMixture(K, n_init=3, init_params="random", random_state=1).fit(X)
    for r in gm.restarts_:
        assert r.history[0].phase == "init"
        assert r.n_iter == r.history[-1].iteration
        assert r.converged == r.history[-1].converged
        assert r.log_likelihood == r.history[-1].log_likelihood
        assert_allclose(r.lower_bound, r.log_likelihood / X.shape[0], rtol=1e-15, atol=0)


def test_use_restart_switches_the_fitted_model(X):
    gm = GaussianMixture(K, n_init=4, init_params="random", random_state=2).fit(X)
    worst = int(np.argmin([r.lower_bound for r in gm.restarts_]))
    assert gm.use_restart(worst) is gm
    r = gm.restarts_[worst]
    assert gm.best_restart_ == worst
    assert gm.lower_bound_ == r.lower_bound
    assert gm.n_iter_ == r.n_iter
    np.testing.assert_array_equal(gm.means_, r.history[-1].means)
    assert gm.history_ is r.history


def test_n_init_restarts_are_reproducible(X):
    a = GaussianMixture(K, n_init=3, random_state=4).fit(X)
    b = GaussianMixture(K, n_init=3, random_state=4).fit(X)
    assert [r.lower_bound for r in a.restarts_] == [r.lower_bound for r in b.restarts_]


# -- initialization methods -----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("init_params", INIT_METHODS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_init_methods_run_and_are_reproducible(X, init_params, covariance_type, seed):
    kw = dict(covariance_type=covariance_type, init_params=init_params, random_state=seed)
    a = GaussianMixture(K, **kw).fit(X)
    b = GaussianMixture(K, **kw).fit(X)
    assert np.isfinite(a.lower_bound_)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.history_[0].means, b.history_[0].means)


def test_init_methods_list():
    assert INIT_METHODS == ("kmeans", "k-means++", "random", "random_from_data", "hc")


def test_user_initial_parameters_are_the_init_snapshot(X):
    w = np.array([0.2, 0.3, 0.5])
    m = X[[0, 100, 200]]
    p = np.stack([np.eye(D) * 0.5] * K)
    gm = GaussianMixture(K, weights_init=w, means_init=m, precisions_init=p, random_state=0).fit(X)
    init = gm.history_[0]
    # Reference: the arrays we passed in (the covariances are inv(precisions_init)).
    assert_allclose(init.weights, w, rtol=1e-15, atol=0)
    assert_allclose(init.means, m, rtol=1e-13, atol=1e-12)
    assert_allclose(init.covariances, np.stack([np.eye(D) * 2.0] * K), rtol=1e-13, atol=1e-15)


def test_partial_user_initial_parameters_override_only_what_is_given(X):
    m = X[[0, 100, 200]]
    gm = GaussianMixture(K, means_init=m, random_state=0).fit(X)
    assert_allclose(gm.history_[0].means, m, rtol=1e-13, atol=1e-12)


def test_different_random_states_can_give_different_starts(X):
    starts = {
        GaussianMixture(K, init_params="random_from_data", random_state=s, max_iter=1)
        .fit(X)
        .history_[0]
        .means.tobytes()
        for s in range(5)
    }
    assert len(starts) > 1


def test_warm_start_continues_from_fitted_parameters(X):
    gm = GaussianMixture(K, warm_start=True, tol=1e-10, max_iter=5, random_state=0).fit(X)
    means_after_first = gm.means_.copy()
    gm.fit(X)
    np.testing.assert_array_equal(gm.history_[0].means, means_after_first)


def test_relative_convergence_is_mclusts_rule_on_the_lower_bounds(X):
    gm = GaussianMixture(K, tol=1e-5, convergence="relative", max_iter=1000, random_state=0)
    gm.fit(X)
    n = X.shape[0]
    lls = [b * n for b in gm.lower_bounds_]
    assert gm.converged_
    assert abs(lls[-1] - lls[-2]) < 1e-5 * (1 + abs(lls[-1]))
    assert all(abs(b - a) >= 1e-5 * (1 + abs(b)) for a, b in zip(lls[:-2], lls[1:-1], strict=True))
    with pytest.raises(ValueError, match="Unknown convergence"):
        GaussianMixture(K, convergence="absolute").fit(X)


def test_warm_start_under_the_relative_rule_reports_convergence(X):
    gm = GaussianMixture(K, warm_start=True, convergence="relative", tol=1e-3, random_state=0)
    gm.fit(X)
    gm.fit(X)  # continues from a converged fit: converged at its first iteration
    assert gm.converged_ and gm.n_iter_ == 1
    (event,) = [e for e in gm.history_[-1].events if e.kind == "converged"]
    assert "relative" in event.message and "warm start" in event.message


# -- multi-task through the estimator -------------------------------------------------------


def test_fit_with_tasks_counts_one_weight_vector_per_task():
    data, _ = make_mixture(300, 2, 3, n_tasks=2, random_state=0)
    X, tasks = data[["x1", "x2"]], data["task"]
    gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X, tasks=tasks)
    assert gm.weights_.shape == (2, 3)
    assert gm.tasks_ == ("task 1", "task 2")
    assert gm.n_parameters() == 2 * (3 - 1) + 3 * 2 + 3 * 2
    assert gm.predict(X, tasks=tasks).shape == (300,)
