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
    # One panel per pair: 3 x 3 axes, points in the 6 off-diagonal panels, a histogram on
    # each of the 3 diagonal panels (the mixture's traces are tested below).
    assert len(_role(fig, "points")) == 6 and len(_role(fig, "histogram")) == 3
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


# -- issue 12: seeing the M step, the scatter matrix, the charts' defects ---------------------


def test_axis_ranges_cover_the_points_with_a_margin():
    (x0, x1), (y0, y1) = P.axis_ranges([[0.0, 5.0], [10.0, 5.0]], margin=0.1)
    assert (x0, x1) == (-1.0, 11.0)
    assert y0 < 5.0 < y1  # a constant coordinate still gets a non-empty range


def _m_step_figure(fitted, faithful, step=None):
    h = fitted.history_
    step = step if step is not None else next(i for i, s in enumerate(h) if s.phase == "M")
    ranges = P.axis_ranges(faithful)
    fig = P.em_scatter(
        faithful,
        E.display_responsibilities(h, step, faithful),
        means=h[step].means,
        covariances=E.covariance_stack(h[step]),
        prev_means=h[step - 1].means,
        prev_covariances=E.covariance_stack(h[step - 1]),
        x_range=ranges[0],
        y_range=ranges[1],
    )
    return fig, ranges


def test_em_scatter_fixed_axes_are_the_same_at_every_step(fitted, faithful):
    h = fitted.history_
    m_steps = [i for i, s in enumerate(h) if s.phase == "M"]
    figs = [_m_step_figure(fitted, faithful, i)[0] for i in (m_steps[0], m_steps[-1])]
    assert figs[0].layout.xaxis.range == figs[1].layout.xaxis.range
    assert figs[0].layout.yaxis.range == figs[1].layout.yaxis.range
    assert figs[0].layout.xaxis.autorange is False


def test_em_scatter_draws_ghost_ellipses_of_the_previous_parameters(fitted, faithful):
    fig, _ = _m_step_figure(fitted, faithful)
    ghosts = _role(fig, "ghost")
    assert {(t.meta["component"], t.meta["n_sd"]) for t in ghosts} == {
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    }
    assert all("0.35" in t.line.color for t in ghosts)  # faint
    # The ghosts are the previous step's ellipses.
    first_m = next(i for i, s in enumerate(fitted.history_) if s.phase == "M")
    prev = fitted.history_[first_m - 1]
    cov0 = E.covariance_stack(prev)[0]
    g = next(t for t in ghosts if t.meta == {"role": "ghost", "component": 0, "n_sd": 1})
    d = np.column_stack([g.x, g.y]) - prev.means[0]
    np.testing.assert_allclose(np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov0), d), 1.0)


def test_em_scatter_short_moves_still_get_a_visible_arrow():
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    prev = means + np.array([[1e-4, 0.0], [-3.0, 0.0]])  # a tiny move and a long one
    fig = P.em_scatter(
        np.array([[-10.0, -10.0], [10.0, 10.0]]),
        None,
        means=means,
        covariances=np.stack([np.eye(2)] * 2),
        prev_means=prev,
        x_range=(-10, 10),
        y_range=(-10, 10),
    )
    tiny, long = fig.layout.annotations
    # The tiny move: a pixel-long arrow pointing the way the mean went (left: tail on the right).
    assert tiny.axref == "pixel" and tiny.ax >= 40 and tiny.ay == 0
    assert "lengthened" in tiny.hovertext
    # The long move: to scale, from the old mean; the head stops beside the x marker.
    assert long.axref == "x" and (long.ax, long.ay) == (2.0, 5.0)
    assert long.standoff > 0


def test_scatter_matrix_has_ellipses_and_means_off_and_densities_on_the_diagonal(fitted):
    X = np.random.default_rng(1).normal(size=(80, 3))
    means = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])
    covs = np.stack([np.diag([1.0, 2.0, 3.0]), np.eye(3)])
    resp = np.full((80, 2), 0.5)
    fig = P.scatter_matrix_figure(
        X, resp, feature_names=["a", "b", "c"], means=means, covariances=covs, weights=[0.3, 0.7]
    )
    panels = {(t.meta["row"], t.meta["col"]) for t in _role(fig, "ellipse")}
    assert panels == {(r, c) for r in range(3) for c in range(3) if r != c}
    assert len(_role(fig, "mean")) == 2 * 6
    # Means sit at the components' coordinates of the panel's features (x: column, y: row).
    m = next(t for t in _role(fig, "mean") if t.meta["row"] == 2 and t.meta["col"] == 0)
    assert (m.x[0], m.y[0]) == (means[m.meta["component"], 0], means[m.meta["component"], 2])
    dens = _role(fig, "component_density")
    assert {(t.meta["feature"], t.meta["component"]) for t in dens} == {
        (f, j) for f in range(3) for j in range(2)
    }
    # The mixture density on a diagonal panel is the sum of the weighted components.
    mix = next(t for t in _role(fig, "mixture_density") if t.meta["feature"] == 1)
    parts = [t.y for t in dens if t.meta["feature"] == 1]
    np.testing.assert_allclose(np.sum(parts, axis=0), mix.y, rtol=1e-12)
    # Fixed ranges from the data: the same with other parameters.
    other = P.scatter_matrix_figure(
        X, resp, feature_names=["a", "b", "c"], means=means + 5, covariances=covs
    )
    assert fig.layout.xaxis.range == other.layout.xaxis.range


def test_log_likelihood_current_marker_is_drawn_over_the_converged_star(fitted):
    h = fitted.history_
    trace, events = E.log_likelihood_trace(h), E.events_table(h)
    last = int(trace["iteration"].max())
    fig = P.log_likelihood_figure(trace, current_iteration=last, events=events)
    roles = [t.meta["role"] for t in fig.data]
    assert roles.index("current") > roles.index("event")  # later traces draw on top
    (cur,) = _role(fig, "current")
    assert cur.marker.symbol == "circle-open" and cur.marker.size > 14  # a ring around the star


def test_log_likelihood_hide_future_draws_only_the_past(fitted):
    h = fitted.history_
    trace, events = E.log_likelihood_trace(h), E.events_table(h)
    fig = P.log_likelihood_figure(trace, current_iteration=2, events=events, hide_future=True)
    (curve,) = _role(fig, "log_likelihood")
    assert list(curve.x) == [1, 2]
    assert not _role(fig, "event")  # convergence is in the future
    assert fig.layout.xaxis.range == (0.5, trace["iteration"].max() + 0.5)  # no rescaling
    fig0 = P.log_likelihood_figure(trace, current_iteration=None, events=events, hide_future=True)
    assert len(_role(fig0, "log_likelihood")[0].x) == 0


def test_log_likelihood_off_chart_note_sits_inside_the_plot():
    trace = pd.DataFrame(
        {
            "iteration": [1, 2, 3, 4],
            "log_likelihood": [-1e10, -1200.0, -1150.0, -1140.0],
            "mean_log_likelihood": [-1e8, -12.0, -11.5, -11.4],
        }
    )
    note = P.log_likelihood_figure(trace).layout.annotations[0]
    # Tail (the text) up and to the right of the head at the bottom-left corner: off the tick
    # labels, which are below and left of the plot.
    assert note.ax > 0 and note.ay < 0 and note.xanchor == "left"


def test_restarts_figure_does_not_stretch_a_tiny_spread():
    fig = P.restarts_figure([-1130.003, -1130.009, -1130.006], best=0, resolution=0.27)
    lo, hi = fig.layout.yaxis.range
    assert hi - lo >= 0.5  # the 0.006 spread takes about 1% of the height
    assert "same optimum" in fig.layout.title.text
    spread = P.restarts_figure([-1130.0, -1150.0], best=0, resolution=0.27)
    assert spread.layout.yaxis.range is None  # really different optima: autoscaled


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (14450.3, "14450"),
        (1234.5, "1234"),
        (0.5, "0.5"),
        (0.0, "0"),
        (-2.5e-5, r"-2.500\times 10^{-5}"),
    ],
)
def test_latex_number_never_prints_python_exponents(x, text):
    assert E.latex_number(x) == text
    assert "e+" not in E.latex_number(x)


def test_step_after_cycle_is_the_m_step_of_iteration_l(fitted):
    h = fitted.history_
    i = E.step_after_cycle(h, 2)
    assert (h[i].phase, h[i].iteration) == ("M", 2)
    assert E.step_after_cycle(h, 10_000) == len(h) - 1  # past convergence: the final fit


def test_bishop_start_gives_the_textbook_sequence(faithful):
    """PRML fig. 9.8 on standardized Old Faithful: components overlap at L = 1, are apart by
    L = 5 and at the two clusters by L = 20."""
    from gmmcore.preprocessing import Standardizer
    from gmmcore.viz.starts import bishop_fig98_start

    Xs = Standardizer.fit(faithful).transform(faithful)
    h = GaussianMixture(2, **bishop_fig98_start()).fit(Xs).history_
    means = {L: h[E.step_after_cycle(h, L)].means for L in (1, 5, 20)}
    dist = {L: np.linalg.norm(m[0] - m[1]) for L, m in means.items()}
    assert dist[1] < 1.2 < dist[5] < dist[20]
    # By L = 20: one component on the short eruptions (lower left), one on the long ones.
    lower = means[20][np.argmin(means[20][:, 0])]
    assert lower[0] < -1.0 and lower[1] < -1.0


# -- stable component identity (issue 12) -----------------------------------------------------


def test_match_components_undoes_a_permutation():
    from gmmcore.viz.identity import match_components

    ref = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    perm = [2, 0, 1]
    slots = match_components(ref, ref[perm] + 0.1)
    assert slots.tolist() == perm  # component j sits where reference component perm[j] was


def test_match_components_keeps_the_reference_slots_across_k():
    from gmmcore.viz.identity import match_components

    ref, ref_slots = np.array([[0.0, 0.0], [5.0, 5.0]]), [3, 1]
    more = match_components(ref, [[9.0, 9.0], [5.2, 5.0], [0.1, 0.0]], ref_slots)
    assert more.tolist() == [0, 1, 3]  # the new component takes the lowest free slot
    fewer = match_components(ref, [[4.9, 5.1]], ref_slots)
    assert fewer.tolist() == [1]


def test_match_components_uses_the_scale_and_survives_nan():
    from gmmcore.viz.identity import match_components

    ref = np.array([[0.0, 0.0], [1.0, 1000.0]])
    # Unscaled, the second feature decides; per unit of spread, the first one does.
    new = np.array([[1.0, 0.0], [0.0, 1000.0]])
    assert match_components(ref, new).tolist() == [0, 1]
    assert match_components(ref, new, scale=[0.1, 10000.0]).tolist() == [1, 0]
    slots = match_components(ref, [[np.nan, np.nan], [1.0, 1000.0]])
    assert sorted(slots.tolist()) == [0, 1] and slots[1] == 1


def test_valid_slots():
    from gmmcore.viz.identity import valid_slots

    assert valid_slots([2, 0, 1], 3)
    assert not valid_slots([0, 0, 1], 3) and not valid_slots([0, 1], 3)
    assert not valid_slots([0, -1], 2) and not valid_slots(["a", "b"], 2)


def test_slots_colour_the_components_and_the_points():
    means = np.array([[0.0, 0.0], [3.0, 3.0]])
    covs = np.stack([np.eye(2)] * 2)
    resp = np.array([[1.0, 0.0], [0.0, 1.0]])
    fig = P.em_scatter(np.zeros((2, 2)), resp, means=means, covariances=covs, slots=[4, 2])
    colors = {t.meta["component"]: t.marker.color for t in _role(fig, "mean")}
    assert colors == {0: P.component_color(4), 1: P.component_color(2)}
    assert list(fig.data[0].marker.color) == [P.component_color(4), P.component_color(2)]
    heat = P.task_weights_heatmap(np.array([[0.5, 0.5]]), ["a"], slots=[4, 2])
    assert P.component_color(4) in heat.layout.xaxis.ticktext[0]


# -- the frames of the browser-side player (gmmcore.viz.frames) -----------------------------


def _decode(b64, dtype, shape):
    import base64

    return np.frombuffer(base64.b64decode(b64), dtype=np.dtype(dtype).newbyteorder("<")).reshape(
        shape
    )


@pytest.mark.parametrize(("n", "cap"), [(5, 160), (160, 160), (161, 160), (2001, 160), (50, 7)])
def test_frame_steps_keep_the_start_and_end_and_at_most_the_cap(n, cap):
    from gmmcore.viz.frames import frame_steps

    steps = frame_steps(n, cap)
    assert steps[0] == 0 and steps[-1] == n - 1
    assert len(steps) <= cap and np.all(np.diff(steps) > 0)
    head = min(n, cap // 2)
    assert steps[:head].tolist() == list(range(head))  # early half-steps one by one


@pytest.mark.parametrize(
    "cov", [[[1.0, 0.0], [0.0, 1.0]], [[4.0, 1.9], [1.9, 1.0]], [[0.01, -0.002], [-0.002, 30.0]]]
)
def test_ellipse_outline_is_the_one_sd_contour(cov):
    """Every outline point satisfies (x - mu)^T S^-1 (x - mu) = 1 (to 1e-9), like
    ellipse_points, and it is closed."""
    from gmmcore.viz.frames import ellipse_outline

    mu, S = np.array([2.0, -1.0]), np.array(cov)
    pts = ellipse_outline(mu, S, 97)
    d = pts - mu
    q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(S), d)
    np.testing.assert_allclose(q, 1.0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pts[0], pts[-1], atol=1e-12)


def test_ellipse_outline_moves_continuously_with_the_covariance():
    """A small change of the covariance moves each outline point a little (no eigenvector
    flips), so the browser can blend two steps' outlines point by point."""
    from gmmcore.viz.frames import ellipse_outline

    a = ellipse_outline([0, 0], [[1.0, 0.0], [0.0, 1.0 + 1e-9]])
    b = ellipse_outline([0, 0], [[1.0 + 1e-9, 0.0], [0.0, 1.0]])  # eigenvector order swaps
    assert np.abs(a - b).max() < 1e-6


def test_player_frames_hold_each_half_steps_means_outlines_and_colours(fitted, faithful):
    """Means are the projected snapshot means, the colours the blend of the responsibilities
    the explorer's scatter shows (an M step keeps the E step's), the init grey."""
    from gmmcore.viz.colors import blend_rgb
    from gmmcore.viz.frames import OUTLINE_POINTS, player_frames
    from gmmcore.viz.projection import axis_projection

    history = fitted.history_
    rows = np.arange(0, faithful.shape[0], 2)
    out = player_frames(history, faithful, axis_projection(2, 0, 1), rows=rows, slots=[1, 0])
    n_frames, k, n = len(out["frames"]), 2, rows.size
    assert n_frames == len(history) and out["n_points"] == n
    means = _decode(out["means"], "f4", (n_frames, k, 2))
    np.testing.assert_allclose(means[3], history[3].means, rtol=1e-6)  # float32 on the wire
    outlines = _decode(out["outlines"], "f4", (n_frames, k, OUTLINE_POINTS, 2))
    assert np.isfinite(outlines).all()
    colours = _decode(out["colors"], "u1", (-1, n, 3))
    frames = out["frames"]
    assert frames[0]["color"] == -1 and frames[0]["phase"] == "init"
    e, m = frames[1], frames[2]
    assert e["phase"] == "E" and m["phase"] == "M" and m["color"] == e["color"]
    resp = E.display_responsibilities(history, 1, faithful[rows])
    np.testing.assert_array_equal(colours[e["color"]], blend_rgb(resp, [1, 0]))
    assert out["palette"][0] == list(P.PALETTE[1])  # component 0 in slot 1


def test_player_frames_thin_long_runs_and_take_fixed_colours(fitted, faithful):
    from gmmcore.viz.frames import player_frames
    from gmmcore.viz.projection import pca_projection

    fixed = np.tile(np.array([[10, 20, 30]], dtype=np.uint8), (faithful.shape[0], 1))
    out = player_frames(
        fitted.history_, faithful, pca_projection(faithful), point_colors=fixed, max_frames=6
    )
    assert len(out["frames"]) <= 6 and out["frames"][-1]["step"] == len(fitted.history_) - 1
    colours = _decode(out["colors"], "u1", (-1, faithful.shape[0], 3))
    assert colours.shape[0] == 1 and (colours == [10, 20, 30]).all()


@pytest.mark.parametrize("view", ["pca", "axes"])
def test_lift_to_features_puts_a_clicked_point_back_on_its_place_in_the_plane(view):
    from gmmcore.viz.frames import lift_to_features
    from gmmcore.viz.projection import axis_projection, pca_projection

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * [1.0, 3.0, 0.5, 2.0] + [1.0, -2.0, 0.0, 5.0]
    proj = pca_projection(X) if view == "pca" else axis_projection(4, 2, 0)
    clicked = np.array([[0.5, -1.0], [2.0, 3.0]])
    lifted = lift_to_features(proj, clicked, X)
    assert lifted.shape == (2, 4)
    np.testing.assert_allclose(proj.transform(lifted), clicked, atol=1e-12)
    if view == "axes":  # the features not drawn take the data's mean
        np.testing.assert_allclose(lifted[:, [1, 3]], np.tile(X.mean(axis=0)[[1, 3]], (2, 1)))


def test_density_frames_integrate_to_the_weights(faithful):
    """One feature: each component's curve is its weighted density (area = its weight)."""
    from gmmcore.viz.frames import OUTLINE_POINTS, density_frames

    x = faithful[:, :1]
    history = GaussianMixture(2, random_state=0).fit(x).history_
    out = density_frames(history, x)
    n_frames = len(out["frames"])
    curves = _decode(out["outlines"], "f4", (n_frames, 2, OUTLINE_POINTS, 2)).astype(float)
    w = history[-1].weights
    area = np.trapezoid(curves[-1, :, :, 1], curves[-1, :, :, 0], axis=1)
    np.testing.assert_allclose(area, w, atol=0.02)  # the grid covers the data +-10 %, 49 points
    assert out["kind"] == "densities" and len(out["bars"]["heights"]) >= 10


def test_group_rgb_colours_points_by_their_place_in_the_names():
    from gmmcore.viz.colors import TASK_PALETTE
    from gmmcore.viz.frames import group_rgb

    out = group_rgb(["b", "a", "b"], ["a", "b"])
    assert out.tolist() == [list(TASK_PALETTE[1]), list(TASK_PALETTE[0]), list(TASK_PALETTE[1])]
