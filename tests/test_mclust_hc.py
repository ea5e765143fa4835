"""mclust's start (gmmcore.engine.hierarchical, ``init_params="hc"``) and the default grid
against mclust itself, without R.

Reference: mclust 6.0.0 through ``tests/reference/mclust/make_hc_reference.R``, which wrote
``hc_reference.json``: the merges of ``hc(X, "VVV", use = "SVD")`` (what ``mclustBIC``
starts from) and of ``hc(X, "VVV", use = "VARS")``, ``hclass(tree, 1:9)``, ``qclass`` of the
one-feature acidity data, and ``mclustBIC(X, G = 1:9)`` with its best model.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gmmcore import GaussianMixture
from gmmcore.engine import hierarchical as H
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.selection import best_cell, model_grid

ROOT = Path(__file__).resolve().parent.parent
REF = json.loads((ROOT / "tests" / "reference" / "mclust" / "hc_reference.json").read_text())


def _data(name: str) -> np.ndarray:
    info = REF[name]
    df = pd.read_csv(ROOT / "sample_data" / info["file"])
    cols = info.get("columns") or list(df.columns)
    return df[cols].dropna().to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def faithful():
    return _data("faithful")


@pytest.fixture(scope="module")
def iris():
    return _data("iris")


def test_hc_is_an_init_method():
    assert "hc" in INIT_METHODS


@pytest.mark.parametrize("name", ["faithful", "iris"])
def test_hc_partitions_equal_mclust_hclass(name):
    """hclass(hc(X, use = "SVD"), G) for G = 1..9, labels in mclust's order (partconv)."""
    X = _data(name)
    pairs = H.hc_merges(H.svd_transform(X))
    for k in range(1, 10):
        ours = H.hc_labels(pairs, X.shape[0], k) + 1
        assert np.array_equal(ours, REF[name]["hclass"][k - 1]), f"G={k}"


@pytest.mark.parametrize("key", ["merges", "merges_vars"])
def test_faithful_tree_is_mclusts_merge_for_merge(faithful, key):
    """Every one of the 271 merges, on the SVD-transformed and on the raw data (iris has
    duplicate rows, whose zero-cost merges tie; its partitions match, test above)."""
    Z = H.svd_transform(faithful) if key == "merges" else faithful
    assert np.array_equal(H.hc_merges(Z) + 1, np.array(REF["faithful"][key]))


def test_one_feature_start_is_mclust_qclass():
    x = _data("acidity")
    for k in range(1, 10):
        assert np.array_equal(H.quantile_classes(x[:, 0], k) + 1, REF["acidity"]["qclass"][k - 1])


def test_hc_start_is_deterministic_and_ignores_random_state(faithful):
    a = GaussianMixture(3, covariance_type="tied", init_params="hc", random_state=0).fit(faithful)
    b = GaussianMixture(3, covariance_type="tied", init_params="hc", random_state=7).fit(faithful)
    assert np.array_equal(a.means_, b.means_)
    Z = H.svd_transform(faithful)
    assert np.array_equal(H.hc_merges(Z), H.hc_merges(Z.copy()))


def test_large_data_use_a_fixed_subset_and_start_every_row(monkeypatch):
    monkeypatch.setattr(H, "HC_MAX_ROWS", 50)
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))]
    resp = H.hc_responsibilities(X, 2)
    assert resp.shape == (200, 2) and resp.sum() == 50  # only the subset carries weight
    assert np.array_equal(resp, H.hc_responsibilities(X.copy(), 2))
    gm = GaussianMixture(2, init_params="hc").fit(X)
    assert sorted(np.round(gm.weights_, 1).tolist()) == [0.5, 0.5]


def _mclust_bic_table(name):
    rows = [[np.nan if v is None else v for v in row] for row in REF[name]["bic"]]
    return np.array(rows, dtype=float), REF[name]["bic_models"]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "model", "k"), [("faithful", "EEE", 3), ("iris", "VEV", 2)])
def test_default_grid_picks_mclusts_model_with_mclusts_bic(name, model, k):
    """model_grid's defaults (hc start, tol 1e-5) pick mclustBIC's best model; its BIC equals
    mclust's to 0.05 (ours may be a little lower: EM runs a little closer to convergence)."""
    X = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # K = 1..5 holds both winners and keeps the test short; bench/mclust.py runs 1..9.
        grid = model_grid(X, range(1, 6), "all")
    best = best_cell(grid)
    assert (best["mclust_name"], best["n_components"]) == (model, k)
    assert REF[name]["best_model"] == model and REF[name]["best_G"] == k
    # Reference: mclustBIC's best BIC, sign flipped to ours.
    assert abs(best["bic"] - (-REF[name]["best_bic"])) < 0.05
    # Nearly every cell reaches mclust's BIC or better (ours lower is better).
    table, models = _mclust_bic_table(name)
    table = table[:5]
    ours = np.full_like(table, np.nan)
    for _, row in grid.iterrows():
        if row["error"] is None and not row["degenerate"]:
            ours[row["n_components"] - 1, models.index(row["mclust_name"])] = -row["bic"]
    both = np.isfinite(ours) & np.isfinite(table)
    worse = (ours < table - 0.1) & both
    assert both.sum() >= 0.9 * np.isfinite(table).sum()
    assert worse.sum() <= 0.05 * both.sum()


def test_above_2000_rows_the_subset_follows_random_state_and_each_restart_draws_another():
    """mclust draws its 2,000-row subset with R's generator; ours comes from random_state:
    the same seed gives the same start, the next draw of the same generator (the next
    restart) another subset; smaller data never touch the generator."""
    X = np.random.default_rng(0).normal(size=(2100, 2))
    first = H.hc_responsibilities(X, 3, np.random.RandomState(0))
    assert np.array_equal(first, H.hc_responsibilities(X, 3, np.random.RandomState(0)))
    rng = np.random.RandomState(0)
    H.hc_responsibilities(X, 3, rng)
    again = H.hc_responsibilities(X, 3, rng)  # a second restart from the same generator
    rows = [set(np.flatnonzero(r.sum(axis=1))) for r in (first, again)]
    assert len(rows[0]) == len(rows[1]) == H.HC_MAX_ROWS and rows[0] != rows[1]
    small = np.random.RandomState(5)
    state = small.get_state()[1].copy()
    H.hc_responsibilities(X[:300], 3, small)
    assert np.array_equal(small.get_state()[1], state)


@pytest.mark.parametrize("n_rows", [1, 2, 8])
def test_hc_start_on_rows_without_spread_is_no_error(n_rows):
    """Identical rows (no direction to cluster on) and a single row: the start is some
    partition, without a division by zero or a warning (both raised before)."""

    from gmmcore.engine.em import iter_em

    X = np.tile([[5.8, -0.95, 0.24]], (n_rows, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        snaps = list(iter_em(X, 1, covariance_type="full", init_params="hc", max_iter=3))
        resp = H.hc_responsibilities(X - X.mean(axis=0), n_rows)
    assert np.isfinite(snaps[-1].log_likelihood)
    np.testing.assert_array_equal(resp.sum(axis=0), np.ones(n_rows))
