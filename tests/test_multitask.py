"""Multi-task mixtures (gmmcore.multitask): pooled, separate and shared fits.

References: scipy.stats.multivariate_normal for densities, gmmcore.engine.criteria for the
criteria formulas, synthetic truth from make_multitask_data, the Palmer penguins species
labels (sample_data/penguins.csv) and scikit-learn's adjusted_rand_score (test-only).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal
from sklearn.metrics import adjusted_rand_score

from gmmcore.datasets import load_sample
from gmmcore.engine import criteria
from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.model import FittedModel
from gmmcore.multitask import (
    MODES,
    compare_modes,
    fit_multitask,
    make_multitask_data,
    train_test_split_by_task,
)
from gmmcore.preprocessing import Standardizer

PENGUIN_FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
GVHD_FEATURES = ["CD4", "CD8b", "CD3", "CD8"]


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    """600 rows, 2 features, 3 shared components, 3 tasks."""
    data, truth = make_multitask_data(600, 2, 3, 3, random_state=3)
    return data[["x1", "x2"]].to_numpy(), data["task"].to_numpy(), truth


@pytest.fixture(scope="module")
def large():
    """3000 rows, 3 tasks with clearly different weights, well separated components."""
    weights = [[0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]]
    data, truth = make_multitask_data(
        3000, 2, 3, 3, separation=6.0, task_weights=weights, random_state=11
    )
    return data[["x1", "x2"]].to_numpy(), data["task"].to_numpy(), truth


@pytest.fixture(scope="module")
def penguins():
    """Palmer penguins, rows with a missing measurement dropped (342), standardized."""
    df = load_sample("Palmer penguins").dropna(subset=PENGUIN_FEATURES).reset_index(drop=True)
    X = Standardizer.fit(df[PENGUIN_FEATURES].to_numpy()).transform(df[PENGUIN_FEATURES].to_numpy())
    return X, df["island"].to_numpy(), df["species"].to_numpy()


@pytest.fixture(scope="module")
def penguin_comparison(penguins):
    X, island, _ = penguins
    return compare_modes(X, island, 3, n_init=10, random_state=0)


@pytest.fixture(scope="module")
def penguin_shared(penguins):
    X, island, _ = penguins
    return fit_multitask(X, island, 3, mode="shared", n_init=10, random_state=0)


def _match(estimated_means, true_means):
    """Hungarian matching: order[j] is the estimated component matched to true component j."""
    cost = np.linalg.norm(true_means[:, None, :] - estimated_means[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def _penguin_component_of(species_name, model, X, island, species):
    labels = model.predict(X, island)
    return int(np.bincount(labels[species == species_name], minlength=3).argmax())


# -- the shared model's EM --------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_shared_history_log_likelihood_never_decreases(small, covariance_type):
    """E-step log-likelihoods of the shared model never decrease (EM monotonicity), up to
    1e-9 relative for floating-point rounding."""
    X, tasks, _ = small
    model = fit_multitask(
        X, tasks, 3, covariance_type=covariance_type, tol=1e-8, max_iter=200, random_state=1
    )
    ll = np.array([s.log_likelihood for s in model.history if s.phase == "E"])
    assert ll.size > 2
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))


def test_shared_history_task_weight_rows_sum_to_one(small):
    """Every snapshot holds one weight row per task, each summing to 1 (1e-12)."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, random_state=0)
    for snap in model.history:
        assert snap.weights.shape == (3, 3)
        assert snap.tasks == model.tasks
        assert_allclose(snap.weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_tasks=st.integers(2, 4),
    k=st.integers(1, 4),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
)
def test_shared_log_likelihood_never_decreases_on_random_data(seed, n_tasks, k, covariance_type):
    """Property: on random multi-task data (poorly separated ones included) the shared model's
    E-step log-likelihood never decreases (1e-9 relative) and stays finite."""
    data, _ = make_multitask_data(
        40 * n_tasks, 2, max(k, 1), n_tasks, separation=1.5, random_state=seed
    )
    model = fit_multitask(
        data[["x1", "x2"]],
        data["task"],
        k,
        covariance_type=covariance_type,
        reg_covar=1e-4,
        tol=1e-6,
        random_state=seed % 1000,
    )
    ll = np.array([s.log_likelihood for s in model.history if s.phase == "E"])
    assert np.isfinite(ll).all()
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))


# -- synthetic truth --------------------------------------------------------------------------
def test_shared_recovers_true_task_weights(large):
    """3000 rows, separation 6: each task's weights within 0.03 of the truth after Hungarian
    matching of the components (multinomial sd of a weight with 1000 rows is <= 0.016)."""
    X, tasks, truth = large
    model = fit_multitask(X, tasks, 3, n_init=3, random_state=0)
    order = _match(model.mixture.means_, truth.means)
    assert model.tasks == truth.tasks
    assert_allclose(model.task_weights().to_numpy()[:, order], truth.weights, rtol=0, atol=0.03)


def test_shared_recovers_true_means(large):
    """Shared means within 0.15 (2.5% of separation 6) of the truth, components with 300+ rows
    and unit-scale covariances (standard error of a mean ~0.06 or less)."""
    X, tasks, truth = large
    model = fit_multitask(X, tasks, 3, n_init=3, random_state=0)
    order = _match(model.mixture.means_, truth.means)
    assert_allclose(model.mixture.means_[order], truth.means, rtol=0, atol=0.15)


def test_make_multitask_data_honours_zero_task_weights():
    """A zero in task_weights means no row of that task comes from that component."""
    weights = [[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]]
    data, truth = make_multitask_data(400, 2, 3, 2, task_weights=weights, random_state=0)
    assert set(data.columns) == {"x1", "x2", "component", "task"}
    assert truth.weights.shape == (2, 3)
    assert not ((data["task"] == "task 1") & (data["component"] == 2)).any()
    assert not ((data["task"] == "task 2") & (data["component"] == 0)).any()


# -- parameter counts and criteria ------------------------------------------------------------
def _p_single(k, d, covariance_type):
    """Free parameters of one K-component mixture, counted by hand (scikit-learn's counts)."""
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[
        covariance_type
    ]
    return (k - 1) + k * d + cov


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("mode", MODES)
def test_n_parameters_per_mode(small, mode, covariance_type):
    """pooled p(K), separate T p(K), shared p(K) + (T-1)(K-1), T = 3 tasks, K = 3, D = 2."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode=mode, covariance_type=covariance_type)
    p = _p_single(3, 2, covariance_type)
    expected = {"pooled": p, "separate": 3 * p, "shared": p + 2 * 2}[mode]
    assert model.n_parameters() == expected


@pytest.mark.parametrize("mode", MODES)
def test_criteria_match_gmmcore_criteria_with_all_rows(small, mode):
    """bic/aic/icl equal gmmcore.engine.criteria on the total log-likelihood with N = all rows, in
    every mode (1e-12 relative)."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode=mode)
    ll = model.log_likelihood(X, tasks)
    p = model.n_parameters()
    log_resp = np.log(np.clip(model.predict_proba(X, tasks), 1e-300, None))
    assert_allclose(model.bic(X, tasks), -2 * ll + p * np.log(600), rtol=1e-12)
    assert_allclose(model.bic(X, tasks), criteria.bic(ll, p, 600), rtol=1e-12)
    assert_allclose(model.aic(X, tasks), criteria.aic(ll, p), rtol=1e-12)
    assert_allclose(model.icl(X, tasks), criteria.icl(ll, p, 600, log_resp), rtol=1e-12)


def test_log_likelihood_by_task_sums_to_total(small):
    """Per-task totals add up to the total (1e-10 relative) and cover every task."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3)
    by_task = model.log_likelihood_by_task(X, tasks)
    assert list(by_task) == list(model.tasks)
    assert_allclose(sum(by_task.values()), model.log_likelihood(X, tasks), rtol=1e-10)


# -- Palmer penguins reference ------------------------------------------------------------------
# Observed with n_init=10, random_state=0, K=3, full covariances, 342 rows (standardized):
#   BIC pooled 2553.6 (44 parameters), separate 2517.0 (132), shared 2234.7 (48);
#   held-out log-likelihood per row: shared -3.25, separate -3.87, pooled -3.88;
#   shared components vs species: ARI 0.984 (2 Chinstrap rows land in the Adelie component);
#   island weights (Adelie / Gentoo / Chinstrap components):
#     Biscoe 0.263 / 0.737 / 0.000, Dream 0.466 / 0.000 / 0.534, Torgersen 1.000 / 0 / 0.
# Explained in docs/penguins-example.md.
def test_penguins_has_342_complete_rows(penguins):
    X, island, species = penguins
    assert X.shape == (342, 4)
    assert set(island) == {"Biscoe", "Dream", "Torgersen"}


def test_penguins_shared_beats_pooled_and_separate_on_bic(penguin_comparison):
    """Shared BIC is lower than both others by a wide margin (observed 318.9 and 282.2;
    asserted with margin: > 100)."""
    bic = penguin_comparison.set_index("mode")["bic"]
    assert penguin_comparison["error"].isna().all()
    assert bic["shared"] < bic["pooled"] - 100
    assert bic["shared"] < bic["separate"] - 100
    assert penguin_comparison.attrs["summary"].startswith("shared wins on BIC")


def test_penguins_shared_wins_held_out_log_likelihood(penguin_comparison):
    """Held-out mean log-likelihood per row: shared -3.25 vs pooled -3.88 and separate -3.87."""
    held = penguin_comparison.set_index("mode")["heldout_per_sample"]
    assert held["shared"] > held["pooled"] + 0.2
    assert held["shared"] > held["separate"] + 0.2


def test_penguins_shared_components_match_species(penguins, penguin_shared):
    """Adjusted Rand index of the shared model's labels vs species: observed 0.984, asserted
    > 0.95."""
    X, island, species = penguins
    ari = adjusted_rand_score(species, penguin_shared.predict(X, island))
    assert ari > 0.95


def test_penguins_torgersen_has_only_adelie(penguins, penguin_shared):
    """Torgersen's weight on the Adelie component is > 0.95 (observed 1.000)."""
    X, island, species = penguins
    adelie = _penguin_component_of("Adelie", penguin_shared, X, island, species)
    assert penguin_shared.task_weights().loc["Torgersen", str(adelie)] > 0.95


def test_penguins_biscoe_has_gentoo_and_dream_has_chinstrap(penguins, penguin_shared):
    """Gentoo's component dominates Biscoe (observed 0.737) and is absent from Dream and
    Torgersen (< 0.01); Chinstrap's is on Dream only (observed 0.534)."""
    X, island, species = penguins
    w = penguin_shared.task_weights()
    gentoo = str(_penguin_component_of("Gentoo", penguin_shared, X, island, species))
    chinstrap = str(_penguin_component_of("Chinstrap", penguin_shared, X, island, species))
    assert gentoo != chinstrap
    assert w.loc["Biscoe", gentoo] > 0.6
    assert w.loc["Dream", gentoo] < 0.01 and w.loc["Torgersen", gentoo] < 0.01
    assert w.loc["Dream", chinstrap] > 0.45
    assert w.loc["Biscoe", chinstrap] < 0.01 and w.loc["Torgersen", chinstrap] < 0.01


# -- GvHD ---------------------------------------------------------------------------------------
def test_gvhd_compare_modes_on_all_rows_is_finite():
    """All 15,892 cells, K = 4: every mode fits and every number is finite (about 1 s)."""
    df = load_sample("GvHD cytometry")
    assert len(df) == 15892
    table = compare_modes(df[GVHD_FEATURES], df["sample"], 4, random_state=0)
    assert list(table["mode"]) == list(MODES)
    assert table["error"].isna().all()
    numbers = table.drop(columns=["mode", "error"]).astype(float).to_numpy()
    assert np.isfinite(numbers).all()
    assert table.attrs["n_train"] + table.attrs["n_test"] == 15892


# -- prediction -----------------------------------------------------------------------------------
def _manual_proba(weights_rows, means, covariances, X):
    """Bayes' rule with scipy.stats.multivariate_normal: w_tk N(x | mu_k, Sigma_k), normalized."""
    dens = np.column_stack(
        [multivariate_normal(m, c).pdf(X) for m, c in zip(means, covariances, strict=True)]
    )
    joint = weights_rows * dens
    return joint / joint.sum(axis=1, keepdims=True)


def test_shared_predict_proba_uses_the_row_task_weights(small):
    """Shared responsibilities equal Bayes' rule with each row's task weights (scipy reference,
    1e-9 relative)."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, random_state=0)
    gm = model.mixture
    rows = np.array([model.tasks.index(t) for t in tasks])
    expected = _manual_proba(gm.weights_[rows], gm.means_, gm.covariances_, X)
    assert_allclose(model.predict_proba(X, tasks), expected, rtol=1e-9, atol=1e-12)


def test_shared_predictions_differ_between_tasks(small):
    """The same point gets different responsibilities under tasks with different weights."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, random_state=0)
    # The most ambiguous row (largest entropy), where the weights matter most.
    p = model.predict_proba(X, tasks)
    ambiguous = np.argmax(-(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1))
    point = np.repeat(X[ambiguous : ambiguous + 1], 3, axis=0)
    proba = model.predict_proba(point, list(model.tasks))
    assert np.abs(proba[0] - proba[1]).max() > 0.01 or np.abs(proba[0] - proba[2]).max() > 0.01


def test_separate_predict_proba_uses_the_task_own_mixture(small):
    """Separate mode: rows of task t get exactly the responsibilities of task t's mixture."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode="separate")
    proba = model.predict_proba(X, tasks)
    for t in model.tasks:
        gm = model.submodels[t]
        mine = tasks == t
        expected = _manual_proba(gm.weights_[None], gm.means_, gm.covariances_, X[mine])
        assert_allclose(proba[mine], expected, rtol=1e-9, atol=1e-12)


def test_pooled_predict_ignores_the_task(small):
    """Pooled mode: the task labels do not change anything, and may be omitted."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode="pooled")
    assert_array_equal(model.predict_proba(X, tasks), model.predict_proba(X))
    assert_array_equal(model.predict_proba(X, np.full(len(X), "elsewhere")), model.predict_proba(X))


def test_unseen_task_is_an_error_naming_the_known_tasks(small):
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3)
    with pytest.raises(
        ValueError,
        match=r"unknown task.*'task 9'.*\['task 1', 'task 2', 'task 3'\].*unknown_task='pooled'",
    ):
        model.predict_proba(X[:2], ["task 1", "task 9"])


def test_unseen_task_with_pooled_fallback_uses_pooled_weights(small):
    """unknown_task='pooled': unseen rows use the count-weighted average weights (scipy
    reference, 1e-9 relative); seen rows keep their task's weights."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3)
    gm = model.mixture
    proba = model.predict_proba(X[:2], ["task 9", "task 2"], unknown_task="pooled")
    w_rows = np.vstack([model.pooled_weights(), gm.weights_[1]])
    assert_allclose(proba, _manual_proba(w_rows, gm.means_, gm.covariances_, X[:2]), rtol=1e-9)


def test_pooled_weights_are_the_count_weighted_average(small):
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3)
    counts = np.array([model.task_counts[t] for t in model.tasks])
    expected = counts @ model.task_weights().to_numpy() / counts.sum()
    assert_allclose(model.pooled_weights(), expected, rtol=1e-12)
    assert_allclose(model.pooled_weights().sum(), 1.0, rtol=0, atol=1e-12)


def test_separate_unseen_task_is_always_an_error(small):
    """Separate mode has no shared component set: even unknown_task='pooled' raises."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode="separate")
    with pytest.raises(ValueError, match="no shared component set"):
        model.predict(X[:1], ["task 9"], unknown_task="pooled")
    with pytest.raises(ValueError, match="separate mode"):
        model.pooled_weights()


def test_task_labels_are_compared_as_strings():
    """Integer labels in an object column fit and predict (the engine alone stringifies them at
    fit but not at predict; see the report on issue 4)."""
    data, _ = make_multitask_data(300, 2, 2, 2, random_state=0)
    X = data[["x1", "x2"]].to_numpy()
    labels = np.where(data["task"] == "task 1", 1, 2).astype(object)
    model = fit_multitask(X, labels, 2)
    assert model.tasks == ("1", "2")
    assert_array_equal(model.predict(X, labels), model.predict(X, labels.astype(str)))


# -- zero task weights ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def absent_component():
    """Component 2 absent from task 1, component 0 absent from task 2."""
    weights = [[0.5, 0.5, 0.0], [0.0, 0.3, 0.7], [0.2, 0.3, 0.5]]
    data, truth = make_multitask_data(900, 2, 3, 3, task_weights=weights, random_state=1)
    return data[["x1", "x2"]].to_numpy(), data["task"].to_numpy(), truth


def test_zero_task_weights_fit_without_warnings_or_nan(absent_component):
    """weights_init with exact zeros: no RuntimeWarning (log(0)) and every output finite; the
    absent components' weights stay at the floor (< 1e-12)."""
    X, tasks, truth = absent_component
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fit_multitask(X, tasks, 3, weights_init=truth.weights, random_state=0)
        assert model.history[0].weights[0, 2] == 0.0
        for snap in model.history:
            assert np.isfinite(snap.weights).all() and np.isfinite(snap.means).all()
            assert snap.log_likelihood is None or np.isfinite(snap.log_likelihood)
        w = model.task_weights().to_numpy()
        proba = model.predict_proba(X, tasks)
        outputs = [
            w,
            model.pooled_weights(),
            proba,
            model.score_samples(X, tasks),
            model.bic(X, tasks),
            model.aic(X, tasks),
            model.icl(X, tasks),
        ]
    assert all(np.isfinite(o).all() for o in outputs)
    assert w[0, 2] < 1e-12 and w[1, 0] < 1e-12


def test_exact_zero_weight_gives_zero_probability(absent_component):
    """A fitted weight that is exactly 0 (true parameters, no EM step) gives responsibility
    exactly 0 for that task, with no warning and no NaN."""
    X, tasks, truth = absent_component
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fit_multitask(
            X,
            tasks,
            3,
            weights_init=truth.weights,
            means_init=truth.means,
            precisions_init=np.linalg.inv(truth.covariances),
            max_iter=0,
        )
        proba = model.predict_proba(X, tasks)
        icl = model.icl(X, tasks)
    assert model.task_weights().loc["task 1", "2"] == 0.0
    assert (proba[tasks == "task 1", 2] == 0.0).all()
    assert np.isfinite(proba).all() and np.isfinite(icl)


def test_compare_modes_with_absent_components_is_finite(absent_component):
    X, tasks, _ = absent_component
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = compare_modes(X, tasks, 3)
    assert np.isfinite(table.drop(columns=["mode", "error"]).astype(float).to_numpy()).all()


# -- train/test split -------------------------------------------------------------------------
def test_split_is_disjoint_and_covers_every_row(small):
    _, tasks, _ = small
    train, test = train_test_split_by_task(tasks, 0.25, random_state=0)
    assert np.intersect1d(train, test).size == 0
    assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(tasks)))


def test_split_is_stratified_by_task(small):
    """Each task holds out round(0.25 n_t) rows."""
    _, tasks, _ = small
    _, test = train_test_split_by_task(tasks, 0.25, random_state=0)
    for t in np.unique(tasks):
        assert (tasks[test] == t).sum() == round(0.25 * (tasks == t).sum())


def test_split_is_seeded(small):
    _, tasks, _ = small
    a = train_test_split_by_task(tasks, random_state=5)
    b = train_test_split_by_task(tasks, random_state=5)
    c = train_test_split_by_task(tasks, random_state=6)
    assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_split_keeps_a_row_on_both_sides_of_small_tasks():
    """A 2-row task gives one row to each side even at test_size 0.9 or 0.1; a 1-row task
    stays in train."""
    tasks = np.array(["a", "a", "b", "c", "c", "c", "c", "c", "c", "c", "c", "c", "c"])
    for size in (0.1, 0.9):
        train, test = train_test_split_by_task(tasks, size)
        assert (tasks[train] == "a").sum() == 1 and (tasks[test] == "a").sum() == 1
        assert (tasks[train] == "b").sum() == 1 and (tasks[test] == "b").sum() == 0


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1])
def test_split_rejects_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        train_test_split_by_task(["a", "b"], bad)


# -- compare_modes ----------------------------------------------------------------------------
def test_compare_modes_columns_and_summary(small):
    X, tasks, _ = small
    table = compare_modes(X, tasks, 3)
    expected = [
        "mode",
        "n_parameters",
        "log_likelihood",
        "bic",
        "aic",
        "icl",
        "heldout_log_likelihood",
        "heldout_per_sample",
        "heldout[task 1]",
        "heldout[task 2]",
        "heldout[task 3]",
        "error",
    ]
    assert list(table.columns) == expected
    winner = table.loc[table["bic"].idxmin(), "mode"]
    assert table.attrs["summary"].startswith(f"{winner} wins on BIC")
    assert "held-out log-likelihood per row" in table.attrs["summary"]


def test_compare_modes_heldout_matches_a_manual_fit(small):
    """heldout_log_likelihood equals fitting on the split's train rows and scoring its test
    rows (same seed; 1e-12 relative)."""
    X, tasks, _ = small
    table = compare_modes(X, tasks, 3, random_state=4).set_index("mode")
    train, test = train_test_split_by_task(tasks, 0.25, random_state=4)
    model = fit_multitask(X[train], tasks[train], 3, mode="shared", random_state=4)
    assert_allclose(
        table.loc["shared", "heldout_log_likelihood"],
        model.log_likelihood(X[test], tasks[test]),
        rtol=1e-12,
    )


def test_compare_modes_reports_a_failing_mode_and_runs_the_others():
    """A task with 2 rows cannot get 3 components of its own: separate fails, the row names
    the task, pooled and shared still run."""
    data, _ = make_multitask_data(300, 2, 3, 2, random_state=0)
    X = np.vstack([data[["x1", "x2"]].to_numpy(), [[0.0, 0.0], [1.0, 1.0]]])
    tasks = np.concatenate([data["task"].to_numpy(), ["tiny", "tiny"]])
    result = compare_modes(X, tasks, 3)
    table = result.set_index("mode")
    assert "'tiny'" in table.loc["separate", "error"]
    assert np.isnan(table.loc["separate", "bic"])
    assert table.loc[["pooled", "shared"], "error"].isna().all()
    assert np.isfinite(table.loc[["pooled", "shared"], "bic"]).all()
    assert "separate failed" in result.attrs["summary"]


# -- validation -------------------------------------------------------------------------------
def test_tasks_length_mismatch_is_rejected(small):
    X, tasks, _ = small
    with pytest.raises(ValueError, match="one label per row"):
        fit_multitask(X, tasks[:-1], 3)


def test_single_task_suggests_plain_mixture(small):
    X, _, _ = small
    with pytest.raises(ValueError, match="single task.*GaussianMixture"):
        fit_multitask(X, np.full(len(X), "only"), 3)


def test_unknown_mode_is_rejected(small):
    X, tasks, _ = small
    with pytest.raises(ValueError, match="Unknown mode 'joint'.*pooled, separate, shared"):
        fit_multitask(X, tasks, 3, mode="joint")


def test_separate_mode_names_a_task_smaller_than_k(small):
    X, tasks, _ = small
    tasks = tasks.copy()
    tasks[:2] = "rare"
    with pytest.raises(ValueError, match="'rare' has 2 row"):
        fit_multitask(X, tasks, 3, mode="separate")


def test_missing_task_labels_are_rejected(small):
    X, tasks, _ = small
    tasks = tasks.astype(object)
    tasks[5] = None
    with pytest.raises(ValueError, match="missing label.*row 5"):
        fit_multitask(X, tasks, 3)
    with pytest.raises(ValueError, match="missing label"):
        fit_multitask(X, pd.Series(tasks).replace({None: np.nan}), 3)
    # pandas' string dtype: pd.NA (the engine alone would make it a task named "<NA>").
    with pytest.raises(ValueError, match="missing label"):
        fit_multitask(X, pd.Series(tasks, dtype="string"), 3)


def test_model_description(small):
    """task_weights is a tasks x components frame of rows summing to 1; history per mode."""
    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode="separate")
    assert isinstance(model, FittedModel)
    w = model.task_weights()
    assert list(w.index) == ["task 1", "task 2", "task 3"] and list(w.columns) == ["0", "1", "2"]
    assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert set(model.history) == set(model.tasks)
    assert sum(model.task_counts.values()) == 600


@pytest.mark.parametrize(("mode", "can_pool"), [("shared", True), ("separate", False)])
def test_unseen_task_error_says_which_tasks_and_whether_pooling_could_help(small, mode, can_pool):
    """One unknown-task error for every caller (the CLI words it from these fields)."""
    from gmmcore import UnknownTaskError

    X, tasks, _ = small
    model = fit_multitask(X, tasks, 3, mode=mode)
    with pytest.raises(UnknownTaskError) as info:
        model.predict(X[:3], ["task 9", "task 1", "task 8"])
    assert info.value.unseen == ["task 8", "task 9"]
    assert info.value.known == ("task 1", "task 2", "task 3")
    assert info.value.can_pool is can_pool
