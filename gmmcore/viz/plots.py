"""Plotly figures of a mixture over its data: the explorer's scatter with covariance ellipses,
the one-feature histogram with component densities, and the scatter matrix.

Data in, ``go.Figure`` out; no streamlit here, so every figure also works in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .colors import GREY, blend_colors, component_color, slot_list, task_color

__all__ = [
    "SD_LEVELS",
    "axis_ranges",
    "ellipse_mass",
    "ellipse_points",
    "ellipse_trace",
    "em_scatter",
    "histogram_figure",
    "subsample_indices",
]

SD_LEVELS = (1, 2, 3)
_DASH = {1: "solid", 2: "dash", 3: "dot"}
# An M step's arrow shorter than this fraction of the plot's diagonal would hide under the
# mean's marker: it is drawn this many pixels long instead (and says so in its hover).
_MIN_ARROW_FRACTION = 0.05
_MIN_ARROW_PX = 42
# Pixels between an arrow's head and the new mean, so the head sits beside the x marker.
_ARROW_STANDOFF = 9


def axis_ranges(points, margin: float = 0.08) -> tuple[tuple[float, float], tuple[float, float]]:
    """Fixed x and y ranges for a whole EM run: the points' extent plus ``margin`` of it on
    each side (so the axes do not jump as the ellipses move from step to step).

    >>> axis_ranges([[0.0, 0.0], [10.0, 1.0]], margin=0.1)
    ((-1.0, 11.0), (-0.1, 1.1))
    """
    p = np.asarray(points, dtype=np.float64)
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def ellipse_mass(n_sd: float, dim: int = 2) -> float:
    """Probability mass of a Gaussian inside its n_sd Mahalanobis ellipse (2-D: 1 - e^{-s²/2})."""
    if dim != 2:
        from scipy.stats import chi2  # only needed for the general case

        return float(chi2.cdf(n_sd**2, dim))
    return float(1.0 - np.exp(-(n_sd**2) / 2.0))


def ellipse_trace(mean, cov, n_sd: float, n_points: int, line: dict, **fields) -> dict:
    """A Plotly line trace (as a dict) of the ``n_sd`` ellipse of a 2-D Gaussian: the one
    shape behind the explorer's ellipses, their ghosts and the scatter matrix's panels.
    ``fields`` are further trace fields (name, hover, axes, meta, ...)."""
    e = ellipse_points(mean, cov, n_sd, n_points)
    return dict(
        type="scatter", x=e[:, 0], y=e[:, 1], mode="lines", showlegend=False, line=line, **fields
    )


def ellipse_points(mean, cov, n_sd: float = 1.0, n_points: int = 100) -> np.ndarray:
    """Points on the ellipse {x : (x - mean)^T cov^-1 (x - mean) = n_sd²}, shape (n_points, 2),
    closed (the last point repeats the first)."""
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    vals = np.clip(vals, 0.0, None)
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)])
    return mean + (n_sd * (vecs * np.sqrt(vals)) @ circle).T


def subsample_indices(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a reproducible random subsample (all rows when n <= max_points)."""
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def _hover_template(k: int, point_ids: bool) -> str:
    lines = ["x=%{x:.4g}, y=%{y:.4g}"]
    if point_ids:
        lines.insert(0, "row %{customdata[0]}")
    off = 1 if point_ids else 0
    lines += [f"r[{j}] = %{{customdata[{j + off}]:.3f}}" for j in range(k)]
    return "<br>".join(lines) + "<extra></extra>"


def em_scatter(
    points,
    resp=None,
    *,
    means,
    covariances,
    prev_means=None,
    prev_covariances=None,
    weights=None,
    row_ids=None,
    axis_labels: Sequence[str] = ("x", "y"),
    x_range=None,
    y_range=None,
    title: str | None = None,
    sd_levels: Sequence[int] = SD_LEVELS,
    webgl: bool | None = None,
    ellipse_resolution: int = 100,
    groups=None,
    group_title: str = "task",
    group_names: Sequence[str] | None = None,
    slots=None,
) -> go.Figure:
    """The EM scatter: points coloured by responsibilities, component ellipses, means.

    Parameters
    ----------
    points : array of shape (n, 2), already projected (and subsampled)
    resp : array of shape (n, K) or None (then points are grey: no E-step yet)
    means : array of shape (K, 2)
    covariances : array of shape (K, 2, 2) (projected covariances)
    prev_means : array of shape (K, 2), optional; an arrow from each to the new mean (drawn
        at least ``_MIN_ARROW_PX`` long, so a short move still shows beside the x marker)
    prev_covariances : array of shape (K, 2, 2), optional; the ellipses before this M step,
        drawn as faint ghosts
    x_range, y_range : (low, high), optional; fixed axis ranges (see ``axis_ranges``), so the
        view does not rescale from step to step
    weights : array of shape (K,), optional; shown in the legend
    row_ids : array of shape (n,), optional; the original row numbers, for the hover
    webgl : use Scattergl (default: when n > 2000)
    groups : array of shape (n,), optional; when given, points are coloured by group (e.g.
        task, one legend entry per group) instead of by responsibilities
    group_names : every group name in a fixed order, optional; fixes each group's colour so
        it does not change when some groups are filtered out
    slots : array of shape (K,), optional; each component's colour slot (see
        :mod:`gmmcore.viz.identity`), default component j in slot j
    """
    points = np.asarray(points, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    k = means.shape[0]
    n = points.shape[0]
    slots = slot_list(slots, k)
    if webgl is None:
        webgl = n > 2000
    # Every trace is a plain dict built from known-good values, and the figure is assembled once
    # with validation off: Plotly's per-element validation of thousands of colour strings (and
    # of every ellipse trace) was most of the time of a half-step (~130 ms at 3,000 points, K=5;
    # ~5 ms without). tests/test_plots.py checks the traces' content.
    traces, annotations = [], []
    if resp is None:
        colors = "rgb({},{},{})".format(*GREY)
        custom = None if row_ids is None else np.asarray(row_ids)[:, None]
        hover = (
            "row %{customdata[0]}<br>" if row_ids is not None else ""
        ) + "x=%{x:.4g}, y=%{y:.4g}<br>no responsibilities yet<extra></extra>"
    else:
        resp = np.asarray(resp, dtype=np.float64)
        colors = blend_colors(resp, slots)
        # float32 halves what goes to the browser; the hover shows 3 decimals anyway.
        custom = (resp if row_ids is None else np.column_stack([np.asarray(row_ids), resp])).astype(
            np.float32
        )
        hover = _hover_template(k, row_ids is not None)
    size = 6 if n < 1000 else 4
    kind = "scattergl" if webgl else "scatter"
    if groups is None:
        traces.append(
            dict(
                type=kind,
                x=points[:, 0],
                y=points[:, 1],
                mode="markers",
                name="data points",
                marker=dict(color=colors, size=size, opacity=0.8, line=dict(width=0)),
                customdata=custom,
                hovertemplate=hover,
                showlegend=False,
            )
        )
    else:
        groups = np.asarray(groups).astype(str)
        names = [str(g) for g in group_names] if group_names is not None else sorted(set(groups))
        for t, name in enumerate(names):
            mask = groups == name
            if not mask.any():
                continue
            traces.append(
                dict(
                    type=kind,
                    x=points[mask, 0],
                    y=points[mask, 1],
                    mode="markers",
                    name=f"{group_title} {name}",
                    legendgroup="groups",
                    marker=dict(color=task_color(t), size=size, opacity=0.8, line=dict(width=0)),
                    customdata=None if custom is None else custom[mask],
                    hovertemplate=f"{group_title} {name}<br>" + hover,
                    meta={"role": "group", "group": name},
                )
            )
    # Legend entries that explain the line styles once.
    for s in sd_levels:
        traces.append(
            dict(
                type="scatter",
                x=[None],
                y=[None],
                mode="lines",
                name=f"{s} sd: {ellipse_mass(s):.1%} of mass",
                line=dict(color="rgb(90,90,90)", dash=_DASH.get(s, "solid"), width=1.5),
                legendgroup="sd",
                hoverinfo="skip",
            )
        )
    if prev_covariances is not None and prev_means is not None:
        traces.extend(
            _ghost_traces(
                np.asarray(prev_means, dtype=np.float64),
                np.asarray(prev_covariances, dtype=np.float64),
                sd_levels,
                ellipse_resolution,
                slots,
            )
        )
    for j in range(k):
        color = component_color(slots[j])
        for s in sd_levels:
            traces.append(
                ellipse_trace(
                    means[j],
                    covariances[j],
                    s,
                    ellipse_resolution,
                    dict(color=color, width=2.5 if s == 1 else 1.5, dash=_DASH.get(s, "solid")),
                    name=f"component {j}, {s} sd ({ellipse_mass(s):.1%})",
                    hovertemplate=f"component {j}: {s} sd ellipse, holds {ellipse_mass(s):.1%} "
                    "of its mass<extra></extra>",
                    meta={"role": "ellipse", "component": j, "n_sd": s},
                )
            )
        label = f"component {j}" + (f" (weight {weights[j]:.2f})" if weights is not None else "")
        traces.append(
            dict(
                type="scatter",
                x=[means[j, 0]],
                y=[means[j, 1]],
                mode="markers",
                name=label,
                marker=dict(symbol="x-thin", size=16, color=color, line=dict(width=4, color=color)),
                hovertemplate=f"mean of component {j}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
                meta={"role": "mean", "component": j},
            )
        )
    if prev_means is not None:
        prev_means = np.asarray(prev_means, dtype=np.float64)
        if x_range is None or y_range is None:
            x_range, y_range = axis_ranges(np.vstack([points, means, prev_means]))
        spans = np.array([x_range[1] - x_range[0], y_range[1] - y_range[0]])
        for j in range(k):
            annotations.append(_move_arrow(prev_means[j], means[j], spans, j, slots[j]))
            traces.append(
                dict(
                    type="scatter",
                    x=[prev_means[j, 0]],
                    y=[prev_means[j, 1]],
                    mode="markers",
                    showlegend=False,
                    marker=dict(symbol="circle-open", size=9, color=component_color(slots[j])),
                    hovertemplate=f"previous mean of component {j}<extra></extra>",
                    meta={"role": "previous_mean", "component": j},
                )
            )
    layout = dict(
        title=dict(text=title) if title else None,
        # Explicit margins for the axis titles: with 10 px margins they were cut off.
        xaxis=_axis(axis_labels[0], x_range),
        yaxis=_axis(axis_labels[1], y_range),
        margin=dict(l=70, r=10, t=40 if title else 10, b=60),
        height=450,
        # Above the plot, not beside it: at 1280 px a legend on the right took a third of the
        # scatter's width.
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0, font_size=11),
        # Keep a user's zoom from step to step, but not onto another view or dataset.
        uirevision=f"em-scatter {x_range} {y_range}",
        annotations=annotations,
    )
    return go.Figure(
        data=traces, layout={k_: v for k_, v in layout.items() if v is not None}, _validate=False
    )


def _axis(label: str, fixed) -> dict:
    axis = dict(title=dict(text=label), automargin=True)
    if fixed is not None:
        axis.update(range=[float(fixed[0]), float(fixed[1])], autorange=False)
    return axis


def _ghost_traces(prev_means, prev_covariances, sd_levels, resolution, slots) -> list[dict]:
    """The ellipses before an M step, faint and thin, so the step's change is visible."""
    traces = [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="lines",
            name="before this M step",
            line=dict(color="rgba(90,90,90,0.35)", width=1.2),
            legendgroup="sd",
            hoverinfo="skip",
        )
    ]
    for j in range(prev_means.shape[0]):
        for s in sd_levels[:2]:  # 1 and 2 sd: the 3-sd ghost adds clutter, not information
            traces.append(
                ellipse_trace(
                    prev_means[j],
                    prev_covariances[j],
                    s,
                    resolution,
                    dict(color=component_color(slots[j], alpha=0.35), width=1.2),
                    hoverinfo="skip",
                    meta={"role": "ghost", "component": j, "n_sd": s},
                )
            )
    return traces


def _move_arrow(old, new, spans, j: int, slot: int) -> dict:
    """The annotation arrow of component ``j``'s mean from ``old`` to ``new``: to scale, or
    ``_MIN_ARROW_PX`` long in the direction of the move when that would be too short to see."""
    delta = new - old
    rel = delta / spans
    length = float(np.hypot(*rel))
    arrow = dict(
        x=float(new[0]),
        y=float(new[1]),
        xref="x",
        yref="y",
        showarrow=True,
        arrowhead=3,
        arrowsize=1.2,
        arrowwidth=2.5,
        arrowcolor=component_color(slot),
        standoff=_ARROW_STANDOFF,
        text="",
        hovertext=f"component {j}: the mean moved by {float(np.hypot(*delta)):.3g}",
    )
    if length >= _MIN_ARROW_FRACTION:
        arrow.update(ax=float(old[0]), ay=float(old[1]), axref="x", ayref="y")
    else:
        # Pixel offsets of the tail from the head (y grows downward on screen).
        direction = rel / length if length > 0 else np.array([1.0, 0.0])
        arrow.update(
            ax=float(-direction[0] * _MIN_ARROW_PX),
            ay=float(direction[1] * _MIN_ARROW_PX),
            axref="pixel",
            ayref="pixel",
            hovertext=arrow["hovertext"] + " (arrow lengthened to be visible)",
        )
    return arrow


def _normal_pdf(x, mean, var):
    return np.exp(-0.5 * (x - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def histogram_figure(
    x,
    *,
    weights,
    means,
    variances,
    resp=None,
    axis_label: str = "x",
    title: str | None = None,
    n_bins: int | None = None,
    slots=None,
) -> go.Figure:
    """One feature: density histogram, each component's weighted density and the mixture.

    weights, means, variances : arrays of shape (K,)
    resp : (n, K), optional; adds a rug of points coloured by responsibility
    slots : (K,), optional; each component's colour slot (see :mod:`gmmcore.viz.identity`)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64).ravel()
    variances = np.asarray(variances, dtype=np.float64).ravel()
    lo, hi = x.min(), x.max()
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, 400)
    slots = slot_list(slots, weights.size)
    fig = go.Figure()
    fig.add_trace(
        go.Histogram(
            x=x,
            histnorm="probability density",
            name="data",
            nbinsx=n_bins or min(60, max(10, int(np.sqrt(x.size)))),
            marker=dict(color="rgba(150,150,150,0.5)"),
        )
    )
    total = np.zeros_like(grid)
    for j in range(weights.size):
        dens = weights[j] * _normal_pdf(grid, means[j], variances[j])
        total += dens
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=dens,
                mode="lines",
                line=dict(color=component_color(slots[j])),
                name=f"component {j} × weight {weights[j]:.2f}",
                meta={"role": "component_density", "component": j},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=grid,
            y=total,
            mode="lines",
            name="mixture density",
            line=dict(color="black", width=3),
            meta={"role": "mixture_density"},
        )
    )
    if resp is not None:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.zeros_like(x),
                mode="markers",
                name="points",
                marker=dict(symbol="line-ns-open", size=12, color=blend_colors(resp, slots)),
                hoverinfo="x",
                showlegend=False,
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=axis_label,
        yaxis_title="density",
        height=450,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        bargap=0.02,
    )
    return fig
