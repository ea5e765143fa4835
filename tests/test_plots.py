"""Figures of gmmcore.viz.plots, built without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from gmmcore import GaussianMixture
from gmmcore import viz as P
from gmmcore.viz import explain as E


def _role(fig, role):
    return [t for t in fig.data if isinstance(t.meta, dict) and t.meta.get("role") == role]


@pytest.fixture(scope="module")
def fitted(faithful):
    return GaussianMixture(2, init_params="random_from_data", random_state=0).fit(faithful)


@pytest.mark.parametrize("n_sd", [1, 2, 3])
@pytest.mark.parametrize(
    "cov",
    [
        [[1.0, 0.0], [0.0, 1.0]],
        [[4.0, 1.9], [1.9, 1.0]],
        [[0.01, -0.002], [-0.002, 30.0]],
    ],
)
def test_ellipse_points_lie_on_the_mahalanobis_contour(n_sd, cov):
    """Every ellipse point satisfies (x - mu)^T S^-1 (x - mu) = n_sd^2 (to 1e-9)."""
    mu = np.array([2.0, -1.0])
    S = np.array(cov)
    pts = P.ellipse_points(mu, S, n_sd, 257)
    d = pts - mu
    q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(S), d)
    np.testing.assert_allclose(q, n_sd**2, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pts[0], pts[-1], atol=1e-12)  # closed


def test_ellipse_masses_are_the_2d_chi_square_values():
    """1 - exp(-s^2/2): 39.3 %, 86.5 %, 98.9 % (chi-square with 2 d.o.f.)."""
    from scipy.stats import chi2

    for s in (1, 2, 3):
        assert P.ellipse_mass(s) == pytest.approx(chi2.cdf(s**2, 2), abs=1e-12)
    assert [round(P.ellipse_mass(s) * 100, 1) for s in (1, 2, 3)] == [39.3, 86.5, 98.9]


def test_blend_colors_pure_and_mixed():
    """A point owned by one component has its colour; a 50/50 point the midpoint."""
    resp = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    c = P.blend_colors(resp)
    assert c[0] == P.component_color(0)
    assert c[1] == P.component_color(1)
    mid = np.rint((np.array(P.PALETTE[0]) + np.array(P.PALETTE[1])) / 2).astype(int)
    assert c[2] == "rgb({},{},{})".format(*mid)


def test_subsample_is_reproducible_sorted_and_bounded():
    a = P.subsample_indices(10_000, 3000, seed=0)
    b = P.subsample_indices(10_000, 3000, seed=0)
    np.testing.assert_array_equal(a, b)
    assert a.size == 3000 and np.all(np.diff(a) > 0) and a.max() < 10_000
    assert not np.array_equal(a, P.subsample_indices(10_000, 3000, seed=1))
    np.testing.assert_array_equal(P.subsample_indices(50, 3000), np.arange(50))


def test_em_scatter_has_points_ellipses_means_and_arrows(fitted, faithful):
    h = fitted.history_
    step = next(i for i, s in enumerate(h) if s.phase == "M")
    resp = E.display_responsibilities(h, step, faithful)
    fig = P.em_scatter(
        faithful,
        resp,
        means=h[step].means,
        covariances=E.covariance_stack(h[step]),
        prev_means=h[step - 1].means,
        weights=h[step].weights,
    )
    assert isinstance(fig, go.Figure)
    assert len(_role(fig, "ellipse")) == 2 * 3
    assert len(_role(fig, "mean")) == 2
    assert len(fig.layout.annotations) == 2  # one arrow per moved mean
    points = fig.data[0]
    assert len(points.x) == faithful.shape[0]
    assert points.customdata.shape == (faithful.shape[0], 2)  # hover lists responsibilities
    assert "r[1]" in points.hovertemplate
    legend = [t.name for t in fig.data if t.showlegend is not False and t.name]
    assert any("39.3%" in n for n in legend) and any("98.9%" in n for n in legend)


def test_em_scatter_ellipse_traces_match_the_component_geometry(fitted, faithful):
    snap = fitted.history_[-1]
    covs = E.covariance_stack(snap)
    fig = P.em_scatter(faithful, None, means=snap.means, covariances=covs)
    for t in _role(fig, "ellipse"):
        j, s = t.meta["component"], t.meta["n_sd"]
        d = np.column_stack([t.x, t.y]) - snap.means[j]
        q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(covs[j]), d)
        np.testing.assert_allclose(q, s**2, rtol=1e-9)
    assert fig.data[0].marker.color == "rgb(160,160,160)"  # no responsibilities yet: grey


def test_em_scatter_uses_webgl_for_large_data():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(5000, 2))
    fig = P.em_scatter(pts, None, means=np.zeros((1, 2)), covariances=np.eye(2)[None])
    assert isinstance(fig.data[0], go.Scattergl)
    fig = P.em_scatter(pts[:100], None, means=np.zeros((1, 2)), covariances=np.eye(2)[None])
    assert isinstance(fig.data[0], go.Scatter)


def test_log_likelihood_figure_marks_current_step_and_events(fitted):
    h = fitted.history_
    trace, events = E.log_likelihood_trace(h), E.events_table(h)
    fig = P.log_likelihood_figure(trace, current_iteration=2, events=events)
    (curve,) = _role(fig, "log_likelihood")
    np.testing.assert_allclose(curve.y, [s.log_likelihood for s in h if s.phase == "E"])
    (cur,) = _role(fig, "current")
    assert list(cur.x) == [2]
    ev = _role(fig, "event")
    assert ev and ev[0].meta["kind"] == "converged" and "Converged" in ev[0].text[0]


def test_log_likelihood_never_decreases_in_the_trace(fitted):
    ll = E.log_likelihood_trace(fitted.history_)["log_likelihood"].to_numpy()
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:]))


def test_histogram_figure_mixture_is_sum_of_components():
    fig = P.histogram_figure(
        np.linspace(-3, 3, 100), weights=[0.3, 0.7], means=[-1, 1], variances=[0.5, 1.0]
    )
    comps = _role(fig, "component_density")
    (mix,) = _role(fig, "mixture_density")
    np.testing.assert_allclose(np.sum([c.y for c in comps], axis=0), mix.y, rtol=1e-12)
    # The mixture density integrates to ~1 over a wide grid.
    x = np.asarray(mix.x)
    assert np.trapezoid(mix.y, x) == pytest.approx(1.0, abs=0.02)


def test_scatter_matrix_and_restarts_and_criteria_figures():
    X = np.random.default_rng(0).normal(size=(50, 3))
    fig = P.scatter_matrix_figure(X, np.full((50, 2), 0.5), feature_names=["a", "b", "c"])
    assert isinstance(fig.data[0], go.Splom) and len(fig.data[0].dimensions) == 3
    fig = P.restarts_figure([-10.0, -9.0, -12.0], best=1, selected=2)
    assert list(fig.data[0].y) == [-10.0, -9.0, -12.0]
    grid = pd.DataFrame(
        {
            "n_components": [1, 2, 1, 2],
            "covariance_type": ["full", "full", "diag", "diag"],
            "mclust_name": ["VVV", "VVV", "VVI", "VVI"],
            "bic": [10.0, 5.0, 9.0, np.nan],
        }
    )
    fig = P.criteria_figure(grid, "bic", selected=(1, "diag"))
    (best,) = _role(fig, "best")
    assert list(best.x) == [2] and list(best.y) == [5.0]
    assert {t.name for t in fig.data} >= {"full (VVV)", "diag (VVI)"}


def test_plots_module_does_not_import_streamlit():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(P))
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.startswith("streamlit") for m in mods)


def test_log_likelihood_figure_zooms_past_a_wild_first_iteration():
    trace = pd.DataFrame(
        {
            "iteration": [1, 2, 3, 4],
            "log_likelihood": [-1e10, -1200.0, -1150.0, -1140.0],
            "mean_log_likelihood": [-1e8, -12.0, -11.5, -11.4],
        }
    )
    fig = P.log_likelihood_figure(trace)
    lo, hi = fig.layout.yaxis.range
    assert lo > -1300 and hi < -1100
    assert "below the chart" in fig.layout.annotations[0].text
    assert P.log_likelihood_figure(trace.iloc[1:]).layout.yaxis.range is None
