"""Model-selection grid: shape, failing cells, progress, best cell, and mclust's Old Faithful
reference."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from gmmcore.datasets import make_mixture
from gmmcore.engine.covariance import COVARIANCE_TYPES, covariance_types, get_structure
from gmmcore.mixture import GaussianMixture
from gmmcore.selection import GRID_COLUMNS, best_cell, model_grid


@pytest.fixture(scope="module")
def X():
    data, _ = make_mixture(120, 2, 2, separation=5.0, random_state=3)
    return data[["x1", "x2"]].to_numpy()


@pytest.fixture(scope="module")
def grid(X):
    return model_grid(X, range(1, 4), random_state=0)


# -- shape and content ----------------------------------------------------------------------


def test_grid_columns_in_documented_order(grid):
    assert (
        tuple(grid.columns)
        == GRID_COLUMNS
        == (
            "n_components",
            "covariance_type",
            "mclust_name",
            "log_likelihood",
            "n_parameters",
            "bic",
            "aic",
            "icl",
            "converged",
            "n_iter",
            "degenerate",
            "error",
        )
    )


def test_one_row_per_cell_k_major(grid):
    # The default grid is every registered type that applies to 2-D data (mclust's 14).
    assert len(grid) == 3 * len(covariance_types(2))
    expected = [(k, t) for k in (1, 2, 3) for t in covariance_types(2)]
    assert list(zip(grid["n_components"], grid["covariance_type"], strict=True)) == expected


def test_mclust_names_follow_covariance_types(grid):
    assert list(grid["mclust_name"]) == [
        get_structure(t).mclust_name for t in grid["covariance_type"]
    ]


def test_successful_cells_have_no_error_and_finite_criteria(grid):
    assert grid["error"].isna().all()
    for col in ("log_likelihood", "bic", "aic", "icl"):
        assert np.isfinite(grid[col]).all(), col
    assert grid["converged"].dtype == bool and grid["converged"].all()
    assert (grid["n_iter"] >= 1).all()


def test_criteria_are_those_of_a_refitted_cell(X, grid):
    """Refitting a cell with the documented arguments reproduces its row exactly."""
    row = grid.iloc[6]
    gm = GaussianMixture(
        n_components=int(row["n_components"]),
        covariance_type=row["covariance_type"],
        **grid.attrs["fit_params"],
    ).fit(X)
    # Reference: the estimator's own methods on the refitted model (bit-for-bit refit).
    assert row["log_likelihood"] == gm.score_samples(X).sum()
    assert row["bic"] == gm.bic(X)
    assert row["aic"] == gm.aic(X)
    assert_allclose(row["icl"], gm.icl(X), rtol=1e-14, atol=0)
    assert row["n_parameters"] == gm.n_parameters()
    assert row["n_iter"] == gm.n_iter_ and row["converged"] == gm.converged_


def test_fit_params_records_the_shared_arguments(X):
    settings = dict(
        n_init=2,
        tol=1e-4,
        convergence="mean",
        reg_covar=1e-5,
        max_iter=50,
        init_params="random",
        random_state=9,
    )
    g = model_grid(X, [2], ["diag"], **settings)
    assert g.attrs["fit_params"] == settings


def test_grid_is_reproducible(X):
    a = model_grid(X, [1, 2], ["full", "spherical"], n_init=2, random_state=5)
    b = model_grid(X, [1, 2], ["full", "spherical"], n_init=2, random_state=5)
    pd.testing.assert_frame_equal(a, b)


def test_bic_is_lower_is_better_sign(grid):
    # scikit-learn's sign: bic = -2 logL + p log n > 0 here, and aic = -2 logL + 2p.
    n = 120
    assert_allclose(
        grid["bic"],
        -2 * grid["log_likelihood"] + grid["n_parameters"] * np.log(n),
        rtol=1e-12,
        atol=0,
    )
    assert_allclose(
        grid["aic"], -2 * grid["log_likelihood"] + 2 * grid["n_parameters"], rtol=1e-12, atol=0
    )
    assert (grid["icl"] >= grid["bic"] - 1e-9).all()


def test_single_int_and_single_type_are_accepted(X):
    g = model_grid(X, 2, "tied")
    assert len(g) == 1 and g.iloc[0]["covariance_type"] == "tied"


def test_duplicate_ks_and_types_are_fitted_once(X):
    g = model_grid(X, [2, 2, 1], ["diag", "diag"])
    assert list(g["n_components"]) == [2, 1]


def test_tasks_pass_through_to_a_shared_mixture():
    data, _ = make_mixture(200, 2, 2, n_tasks=3, random_state=0)
    g = model_grid(data[["x1", "x2"]], [2], ["full"], tasks=data["task"])
    gm = GaussianMixture(2, covariance_type="full", random_state=0).fit(
        data[["x1", "x2"]], tasks=data["task"]
    )
    # Three weight vectors of K - 1 = 1 free entry each.
    assert g.iloc[0]["n_parameters"] == gm.n_parameters() == 3 * 1 + 2 * 2 + 2 * 3
    # Reference: the estimator fitted with the same arguments and tasks.
    assert (
        g.iloc[0]["log_likelihood"]
        == gm.score_samples(data[["x1", "x2"]], tasks=data["task"]).sum()
    )


# -- failing cells --------------------------------------------------------------------------


def test_cell_with_more_components_than_rows_fails_alone():
    X = np.random.RandomState(0).normal(size=(5, 2))
    g = model_grid(X, [1, 2, 6], ["full", "spherical"])
    failed = g[g["n_components"] == 6]
    assert len(failed) == 2
    assert failed["error"].str.contains("fewer than n_components=6").all()
    for col in ("log_likelihood", "bic", "aic", "icl"):
        assert failed[col].isna().all()
    assert not failed["converged"].any() and (failed["n_iter"] == 0).all()
    ok = g[g["n_components"] != 6]
    assert ok["error"].isna().all() and np.isfinite(ok["bic"]).all()


def test_failed_cell_still_reports_parameter_count():
    X = np.random.RandomState(0).normal(size=(5, 2))
    g = model_grid(X, [6], ["full"])
    assert g.iloc[0]["n_parameters"] == 5 + 6 * 2 + 6 * 3


def test_ill_conditioned_cell_gets_the_engine_message(monkeypatch, X):
    """Whatever ValueError the engine raises mid-fit lands in `error`; the grid goes on."""
    from gmmcore import selection
    from gmmcore.engine.covariance import IllConditionedCovarianceError

    real_fit = selection.GaussianMixture.fit

    def fit(self, X, y=None, *, tasks=None):
        if self.covariance_type == "tied":
            raise IllConditionedCovarianceError(None, self.reg_covar)
        return real_fit(self, X, tasks=tasks)

    monkeypatch.setattr(selection.GaussianMixture, "fit", fit)
    g = model_grid(X, [1, 2], ["full", "tied"])
    tied = g[g["covariance_type"] == "tied"]
    assert tied["error"].str.contains("Increase reg_covar").all()
    assert g[g["covariance_type"] == "full"]["error"].isna().all()


# -- progress -------------------------------------------------------------------------------


def test_progress_called_after_every_cell(X):
    calls = []
    g = model_grid(
        X,
        [1, 2],
        ["full", "diag", "tied"],
        progress=lambda done, total, row: calls.append((done, total, row)),
    )
    assert [(d, t) for d, t, _ in calls] == [(i, 6) for i in range(1, 7)]
    for (_, _, row), (_, expected) in zip(calls, g.iterrows(), strict=True):
        assert set(row) == set(GRID_COLUMNS)
        assert row["n_components"] == expected["n_components"]
        assert row["covariance_type"] == expected["covariance_type"]
        assert row["bic"] == expected["bic"]


def test_progress_called_for_failing_cells_too():
    X = np.random.RandomState(0).normal(size=(5, 2))
    rows = []
    model_grid(X, [1, 9], ["spherical"], progress=lambda d, t, row: rows.append(row))
    assert len(rows) == 2 and rows[1]["error"] is not None


# -- invalid arguments fail before any fitting ---------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        (dict(n_components=[]), "n_components is empty"),
        (dict(n_components=range(0)), "n_components is empty"),
        (dict(n_components=[0, 1]), "n_components must be >= 1"),
        (dict(n_components=[1, 2.5]), "n_components must be a whole number"),
        (dict(n_components="1-3"), "sequence of whole numbers"),
        (dict(covariance_types=["full", "VVX"]), "choose one of full, tied, diag, spherical"),
        (dict(covariance_types=[]), "covariance_types is empty"),
        (dict(n_init=0), "n_init must be > 0"),
        (dict(tol=-1.0), "tol must be >= 0"),
        (dict(reg_covar=np.nan), "reg_covar must be a finite number"),
        (dict(max_iter=1.5), "max_iter must be a whole number"),
        (dict(init_params="kmean"), "choose one of kmeans"),
        (dict(random_state=None), "so that every cell of the grid can be refitted exactly"),
        (dict(random_state=np.random.RandomState(0)), "random_state must be an integer"),
        (dict(tasks=["a", "b"]), "tasks must be one label per row"),
        (dict(progress="yes"), "progress must be a function"),
    ],
)
def test_invalid_arguments_raise_before_fitting(monkeypatch, X, kwargs, phrase):
    from gmmcore import selection

    def no_fit(*args, **kw):  # pragma: no cover - reached only if validation is missing
        raise AssertionError("model_grid started fitting before validating its arguments")

    monkeypatch.setattr(selection, "_fit_cell", no_fit)
    with pytest.raises(ValueError, match=phrase):
        model_grid(X, **kwargs)


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "drop or impute"),
        (np.arange(5.0), r"reshape\(-1, 1\)"),
        (np.zeros((0, 2)), "at least one row"),
        (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), "select numeric"),
        # A constant column is fitted, as scikit-learn does (tests/test_validation.py); it is
        # no longer an invalid X.
    ],
)
def test_invalid_x_raises_before_fitting(data, phrase):
    with pytest.raises(ValueError, match=phrase):
        model_grid(data, [1])


# -- best_cell ------------------------------------------------------------------------------


def test_best_cell_picks_lowest_criterion(grid):
    for criterion in ("bic", "aic", "icl"):
        best = best_cell(grid, criterion)
        assert isinstance(best, pd.Series)
        assert best[criterion] == grid[criterion].min()


def test_best_cell_defaults_to_bic(grid):
    assert best_cell(grid).name == best_cell(grid, "bic").name


def test_best_cell_ignores_failed_cells():
    grid = pd.DataFrame(
        [
            dict(n_components=1, covariance_type="full", bic=10.0, aic=9.0, icl=11.0, error=None),
            dict(
                n_components=2, covariance_type="full", bic=-5.0, aic=-5.0, icl=-5.0, error="boom"
            ),
            dict(
                n_components=3,
                covariance_type="full",
                bic=math.nan,
                aic=math.nan,
                icl=math.nan,
                error="too few rows",
            ),
        ]
    )
    assert best_cell(grid)["n_components"] == 1


def test_best_cell_without_any_success_raises():
    X = np.random.RandomState(0).normal(size=(3, 2))
    g = model_grid(X, [5, 6], ["full"])
    with pytest.raises(ValueError, match="see the 'error' column"):
        best_cell(g)


def test_best_cell_unknown_criterion(grid):
    with pytest.raises(ValueError, match="choose one of bic, aic, icl"):
        best_cell(grid, "loglik")


# -- mclust's Old Faithful reference --------------------------------------------------------

# mclust's published results on Old Faithful, as quoted in issue 2 (`Mclust(faithful)`):
# best model EEE (our "tied") with G=3, log-likelihood -1126.326, df=11, BIC -2314.316 and
# ICL -2357.824 in mclust's sign (higher is better); below in ours (lower is better).
MCLUST_LOGLIK = -1126.326
MCLUST_BIC = 2314.316
MCLUST_ICL = 2357.824
MCLUST_ROUNDING = 0.001  # mclust prints three decimals


@pytest.fixture(scope="module")
def faithful_grid(faithful):
    # Enough k-means restarts and a tight tol that every cell reaches (at least) mclust's
    # optimum (the default hc start is deterministic: restarts would repeat it).
    return model_grid(
        faithful,
        range(1, 6),
        COVARIANCE_TYPES,
        n_init=10,
        tol=1e-8,
        max_iter=1000,
        init_params="kmeans",
        random_state=0,
    )


def _collapsed(faithful, row) -> bool:
    """Refit the cell (reproducible by design) and say whether EM held a component up only
    by reg_covar, i.e. the fit is a degenerate spike (see below)."""
    gm = GaussianMixture(
        int(row["n_components"]),
        covariance_type=row["covariance_type"],
        n_init=10,
        tol=1e-8,
        max_iter=1000,
        random_state=0,
    ).fit(faithful)
    return any(e.kind == "covariance_collapsed" for s in gm.history_ for e in s.events)


def test_faithful_best_bic_is_mclust_eee_3(faithful_grid):
    """mclust's best model on Old Faithful is EEE with 3 components; so is ours.

    Faithful's `waiting` is recorded in whole minutes, so many rows share a value and the
    likelihood is unbounded: a diag/full component sitting on rows with the same waiting time
    has zero variance there, held up only by reg_covar=1e-6. With 10 restarts our grid does
    find such spikes (e.g. diag K=5 with 14 rows at one waiting value, log-likelihood about
    -1043). mclust declares such fits singular and reports no BIC; our grid flags them in the
    ``degenerate`` column and best_cell skips them, as mclust does."""
    best = best_cell(faithful_grid, "bic")
    assert (best["covariance_type"], best["n_components"]) == ("tied", 3)
    assert best["mclust_name"] == "EEE"
    assert best["n_parameters"] == 11
    # Reference: mclust's published log-likelihood; our restarts may go higher, never lower.
    assert best["log_likelihood"] >= MCLUST_LOGLIK - MCLUST_ROUNDING
    assert best["bic"] <= MCLUST_BIC + MCLUST_ROUNDING
    assert best["converged"]
    assert not best["degenerate"]


def test_faithful_cells_that_beat_eee_3_are_all_degenerate(faithful, faithful_grid):
    """Every cell with a lower BIC than EEE-3 is a collapsed spike, flagged as degenerate, and
    its history has a covariance_collapsed event (independent check by refitting). Since a
    collapsed restart never wins over a sound one, no cell of this grid is such a spike: the
    spikes that some restarts find (diag K=5 below) are no longer kept."""
    eee3 = faithful_grid[
        (faithful_grid["covariance_type"] == "tied") & (faithful_grid["n_components"] == 3)
    ].iloc[0]
    better = faithful_grid[faithful_grid["error"].isna() & (faithful_grid["bic"] < eee3["bic"])]
    for _, row in better.iterrows():
        assert row["degenerate"], f"{row['covariance_type']} K={row['n_components']}"
        assert _collapsed(faithful, row)
    diag5 = GaussianMixture(5, covariance_type="diag", n_init=10, tol=1e-8, max_iter=1000)
    diag5.set_params(random_state=0, init_params="kmeans").fit(faithful)
    assert any(r.degenerate for r in diag5.restarts_)
    assert not diag5.restarts_[diag5.best_restart_].degenerate


def test_best_cell_can_include_degenerate_cells():
    """allow_degenerate=True returns the raw minimum, spikes included."""
    rng = np.random.default_rng(0)
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]), 5, axis=0)
    X = X + rng.normal(size=X.shape) * 1e-5
    grid = model_grid(X, [1, 4], ["full"], init_params="kmeans")
    assert not grid.iloc[0]["degenerate"] and grid.iloc[1]["degenerate"]
    raw = best_cell(grid, "bic", allow_degenerate=True)
    assert raw["bic"] <= best_cell(grid, "bic")["bic"]
    assert raw["degenerate"]


def test_faithful_eee_3_icl_close_to_mclust(faithful_grid):
    """ICL is not what EM maximizes: it is evaluated at the likelihood optimum, and our
    optimum (log-likelihood -1126.316) is slightly above mclust's (-1126.326), with slightly
    softer classifications, so our ICL is about 2358.42 against mclust's 2357.824. A 1.0
    tolerance allows for that, and would still catch a wrong entropy term (its size here is
    about 44)."""
    row = faithful_grid[
        (faithful_grid["covariance_type"] == "tied") & (faithful_grid["n_components"] == 3)
    ].iloc[0]
    # Reference: mclust's published ICL (sign flipped to ours).
    assert abs(row["icl"] - MCLUST_ICL) < 1.0
    assert row["icl"] - row["bic"] > 40.0


# -- sound restarts (issue 9) ---------------------------------------------------------------


def test_cell_is_degenerate_only_when_every_restart_is():
    from tests.strategies import collapsing_data

    X = collapsing_data()
    params = dict(n_init=8, init_params="kmeans", random_state=1, max_iter=300)
    grid = model_grid(X, [3], ["full"], **params)
    # Some restarts of this cell collapse, and one of those has the highest likelihood:
    # keeping it (the old rule) discarded the whole cell although most restarts were sound.
    gm = GaussianMixture(3, covariance_type="full", tol=1e-5, reg_covar=1e-6, **params).fit(X)
    collapsed = [r.degenerate for r in gm.restarts_]
    assert any(collapsed) and not all(collapsed)
    assert gm.restarts_[int(np.argmax([r.lower_bound for r in gm.restarts_]))].degenerate
    row = grid.iloc[0]
    assert not row["degenerate"] and row["error"] is None
    assert row["log_likelihood"] == pytest.approx(gm.score(X) * X.shape[0], rel=1e-12)
    assert best_cell(grid)["n_components"] == 3


def test_cell_with_every_restart_collapsed_is_degenerate():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]), 5, axis=0)
    X = X + np.random.default_rng(0).normal(size=X.shape) * 1e-5
    grid = model_grid(X, [4], ["full"], n_init=3, init_params="kmeans")
    assert bool(grid.iloc[0]["degenerate"])


# -- single-threaded BLAS for small grids ---------------------------------------------------


def test_small_grid_holds_every_blas_at_one_thread_with_the_same_numbers(X, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from gmmcore import grid_pool, selection

    def blas_threads():
        info = threadpoolctl.threadpool_info()
        return [(i["filepath"], i["num_threads"]) for i in info if i["user_api"] == "blas"]

    for _ in range(2):  # the second use reuses the controller made by the first
        before = blas_threads()
        with grid_pool.single_threaded_blas():
            # scipy's OpenBLAS too: the engine's own switch can miss it (loaded lazily).
            blas = blas_threads()
            assert blas and all(n == 1 for _, n in blas)
        assert set(before) <= set(blas_threads())  # restored on exit (scipy's may be new)
    held = model_grid(X, [2, 3], ["full", "VEV", "VEI"])
    monkeypatch.setattr(selection, "_SERIAL_GRID_SIZE", -1)
    threaded = model_grid(X, [2, 3], ["full", "VEV", "VEI"])
    pd.testing.assert_frame_equal(held, threaded)


# -- cells on several processes (n_jobs) ----------------------------------------------------


def _pid_cell(_shared, _cell):
    import os
    import time

    time.sleep(0.03)  # long enough that a worker starts (~0.3 s) before the cells run out
    return os.getpid()


def test_grid_on_two_processes_is_the_same_bit_for_bit(X):
    done = []
    serial = model_grid(X, [1, 2, 3], ["full", "VEV", "EII", "VVE"])
    parallel = model_grid(
        X,
        [1, 2, 3],
        ["full", "VEV", "EII", "VVE"],
        n_jobs=2,
        progress=lambda d, total, row: done.append((d, total)),
    )
    pd.testing.assert_frame_equal(serial, parallel)
    assert done == [(i, 12) for i in range(1, 13)]  # every cell reported once, counted in order


def test_cells_really_run_on_a_worker_process_and_results_keep_cell_order():
    import os

    from gmmcore import grid_pool

    cells = [(i,) for i in range(40)]
    seen = []
    pids = grid_pool.run_cells(_pid_cell, (None,), cells, 2, lambda i, r: seen.append(i))
    assert sorted(seen) == list(range(40))
    assert pids[0] == os.getpid()  # this process takes cells from the front
    assert len(set(pids)) == 2 and pids[-1] != os.getpid()  # the worker from the back


def test_workers_are_kept_from_one_grid_to_the_next():
    """The worker that fitted the last cells of one grid fits the last cells of the next (no
    new process per grid), and a worker that died is replaced by the next grid."""
    import os

    from gmmcore import grid_pool

    cells = [(i,) for i in range(40)]
    first = grid_pool.run_cells(_pid_cell, (None,), cells, 2, lambda i, r: None)
    second = grid_pool.run_cells(_pid_cell, (None,), cells, 2, lambda i, r: None)
    assert first[-1] != os.getpid() and second[-1] == first[-1]
    out = grid_pool.run_cells(
        _dying_cell, (os.getpid(),), [(i,) for i in range(30)], 2, lambda i, r: None
    )
    assert out == [2 * i for i in range(30)]
    third = grid_pool.run_cells(_pid_cell, (None,), cells, 2, lambda i, r: None)
    assert third[-1] not in (os.getpid(), first[-1])  # a new worker, not the dead one


def test_grids_of_two_threads_at_once_both_finish_with_their_own_results():
    """Two dashboard sessions run grids in threads of one process: one uses the kept workers,
    the other fits in its own thread; neither sees the other's cells."""
    import threading

    from gmmcore import grid_pool

    out = {}

    def run(tag, offset):
        cells = [(offset + i,) for i in range(30)]
        out[tag] = grid_pool.run_cells(_offset_cell, (None,), cells, 2, lambda i, r: None)

    threads = [threading.Thread(target=run, args=(t, o)) for t, o in (("a", 0), ("b", 1000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r for r, _ in out["a"]] == list(range(30))
    assert [r for r, _ in out["b"]] == list(range(1000, 1030))


def _offset_cell(_shared, value):
    import os
    import time

    time.sleep(0.01)
    return value, os.getpid()


def _cpus_cell(_shared, _cell):
    import os
    import time

    time.sleep(0.03)
    return os.getpid(), sorted(os.sched_getaffinity(0))


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and two CPUs",
)
def test_a_worker_keeps_to_a_cpu_of_its_own_and_the_caller_is_left_free():
    from gmmcore import grid_pool

    mine = sorted(os.sched_getaffinity(0))
    out = grid_pool.run_cells(_cpus_cell, (None,), [(i,) for i in range(30)], 2, lambda i, r: 0)
    assert out[0] == (os.getpid(), mine)  # this process: untouched
    worker_pid, worker_cpus = out[-1]
    assert worker_pid != os.getpid() and worker_cpus == [mine[-1]]


def test_worker_warnings_reach_the_caller(X):
    from gmmcore import ConvergenceWarning

    with pytest.warns(ConvergenceWarning):
        model_grid(X, [2, 3, 4], ["full", "VVI"], max_iter=1, n_jobs=2)


@pytest.mark.parametrize("n_jobs", [0, 1.5, "two"])
def test_bad_n_jobs_is_a_clear_error(X, n_jobs):
    with pytest.raises(ValueError, match="n_jobs must be None or a nonzero whole number"):
        model_grid(X, [1, 2], ["full"], n_jobs=n_jobs)


# -- top cells, the edge of the range, mclust's names in words -------------------------------


def test_top_cells_are_the_best_sound_cells_with_their_gap(grid):
    from gmmcore.selection import top_cells

    top = top_cells(grid, "bic", 3)
    sound = grid[grid["error"].isna() & ~grid["degenerate"]].sort_values("bic")
    assert list(top.index) == list(sound.index[:3])
    assert top["delta"].iloc[0] == 0.0
    np.testing.assert_allclose(top["delta"], top["bic"] - sound["bic"].iloc[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="Unknown criterion"):
        top_cells(grid, "xyz")


def test_best_k_at_the_edge_of_the_range(grid):
    from gmmcore.selection import best_k_at_edge

    row = grid.iloc[0].copy()
    ks = grid["n_components"]
    row["n_components"] = ks.max()
    assert best_k_at_edge(grid, row) == "upper"
    row["n_components"] = ks.min()  # 1: nothing smaller to try
    assert best_k_at_edge(grid, row) is None
    inner = grid[grid["n_components"] > 1]
    row["n_components"] = inner["n_components"].min()
    assert best_k_at_edge(inner, row) == "lower"
    row["n_components"] = 2
    assert best_k_at_edge(grid, row) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("VEV", ("variable", "equal", "variable")),
        ("EEE", ("equal", "equal", "equal")),
        ("VII", ("variable", "identity (round)", "identity (along the axes)")),
        ("EVI", ("equal", "variable", "identity (along the axes)")),
    ],
)
def test_mclust_names_in_plain_words(name, words):
    from gmmcore.engine.mclust_models import MCLUST_FAMILIES, MCLUST_ORDER, geometry

    g = geometry(name)
    assert (g["volume"], g["shape"], g["orientation"]) == words
    grouped = [m for _, names in MCLUST_FAMILIES[:3] for m in names]
    assert sorted(grouped) == sorted(MCLUST_ORDER)
    with pytest.raises(ValueError, match="not an mclust model name"):
        geometry("XYZ")


def _dying_cell(parent_pid, i):
    import os
    import time

    if os.getpid() != parent_pid:
        os._exit(1)  # a worker killed mid-cell (out of memory, say)
    time.sleep(0.02)
    return 2 * i


def test_a_dead_workers_cells_are_fitted_here():
    import os

    from gmmcore import grid_pool

    cells = [(i,) for i in range(30)]
    seen = []
    out = grid_pool.run_cells(_dying_cell, (os.getpid(),), cells, 2, lambda i, r: seen.append(i))
    assert out == [2 * i for i in range(30)]
    assert sorted(seen) == list(range(30))
