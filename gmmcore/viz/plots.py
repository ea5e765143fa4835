"""Plotly figures of mixtures and of EM's progress: data in, ``go.Figure`` out.

No streamlit here, so every figure also works in a notebook, and the tests build them
without a browser. Component colours are stable: component k always gets ``PALETTE[k]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "GREY",
    "PALETTE",
    "SD_LEVELS",
    "blend_colors",
    "component_color",
    "criteria_figure",
    "ellipse_mass",
    "ellipse_points",
    "em_scatter",
    "histogram_figure",
    "log_likelihood_figure",
    "mode_comparison_figure",
    "restarts_figure",
    "scatter_matrix_figure",
    "subsample_indices",
    "task_color",
    "task_weights_heatmap",
]

# Okabe-Ito-like, colour-blind friendly, then Plotly's D3 colours for K > 8.
PALETTE = (
    (0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
    (213, 94, 0), (240, 228, 66), (0, 0, 0), (31, 119, 180), (255, 127, 14),
    (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194),
    (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
GREY = (160, 160, 160)
# Tasks get their own colours (ColorBrewer Dark2), distinct in role from the component colours.
TASK_PALETTE = (
    (27, 158, 119), (217, 95, 2), (117, 112, 179), (231, 41, 138), (102, 166, 30),
    (230, 171, 2), (166, 118, 29), (102, 102, 102),
)
MODE_COLORS = {"pooled": "rgb(150,150,150)", "separate": "rgb(230,159,0)",
               "shared": "rgb(0,114,178)"}
SD_LEVELS = (1, 2, 3)
_DASH = {1: "solid", 2: "dash", 3: "dot"}


def component_color(k: int, alpha: float | None = None) -> str:
    r, g, b = PALETTE[k % len(PALETTE)]
    return f"rgb({r},{g},{b})" if alpha is None else f"rgba({r},{g},{b},{alpha})"


def task_color(t: int) -> str:
    """Colour of the t-th task (in sorted task order) when points are coloured by task."""
    r, g, b = TASK_PALETTE[t % len(TASK_PALETTE)]
    return f"rgb({r},{g},{b})"


def _palette(k: int) -> np.ndarray:
    return np.array([PALETTE[j % len(PALETTE)] for j in range(k)], dtype=np.float64)


def blend_colors(resp) -> list[str]:
    """One colour per point: the responsibility-weighted mix of the component colours.

    resp : array of shape (n_samples, K), rows summing to 1
    """
    resp = np.asarray(resp, dtype=np.float64)
    rgb = np.clip(np.rint(resp @ _palette(resp.shape[1])), 0, 255).astype(int)
    return [f"rgb({r},{g},{b})" for r, g, b in rgb]


def ellipse_mass(n_sd: float, dim: int = 2) -> float:
    """Probability mass of a Gaussian inside its n_sd Mahalanobis ellipse (2-D: 1 - e^{-s²/2})."""
    if dim != 2:
        from scipy.stats import chi2  # only needed for the general case

        return float(chi2.cdf(n_sd**2, dim))
    return float(1.0 - np.exp(-(n_sd**2) / 2.0))


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
    weights=None,
    row_ids=None,
    axis_labels: Sequence[str] = ("x", "y"),
    title: str | None = None,
    sd_levels: Sequence[int] = SD_LEVELS,
    webgl: bool | None = None,
    ellipse_resolution: int = 100,
    groups=None,
    group_title: str = "task",
    group_names: Sequence[str] | None = None,
) -> go.Figure:
    """The EM scatter: points coloured by responsibilities, component ellipses, means.

    Parameters
    ----------
    points : array of shape (n, 2), already projected (and subsampled)
    resp : array of shape (n, K) or None (then points are grey: no E-step yet)
    means : array of shape (K, 2)
    covariances : array of shape (K, 2, 2) (projected covariances)
    prev_means : array of shape (K, 2), optional; an arrow from each to the new mean
    weights : array of shape (K,), optional; shown in the legend
    row_ids : array of shape (n,), optional; the original row numbers, for the hover
    webgl : use Scattergl (default: when n > 2000)
    groups : array of shape (n,), optional; when given, points are coloured by group (e.g.
        task, one legend entry per group) instead of by responsibilities
    group_names : every group name in a fixed order, optional; fixes each group's colour so
        it does not change when some groups are filtered out
    """
    points = np.asarray(points, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    k = means.shape[0]
    n = points.shape[0]
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
        hover = ("row %{customdata[0]}<br>" if row_ids is not None else "") + \
            "x=%{x:.4g}, y=%{y:.4g}<br>no responsibilities yet<extra></extra>"
    else:
        resp = np.asarray(resp, dtype=np.float64)
        colors = blend_colors(resp)
        # float32 halves what goes to the browser; the hover shows 3 decimals anyway.
        custom = (resp if row_ids is None else np.column_stack([np.asarray(row_ids), resp])).astype(np.float32)
        hover = _hover_template(k, row_ids is not None)
    size = 6 if n < 1000 else 4
    kind = "scattergl" if webgl else "scatter"
    if groups is None:
        traces.append(dict(
            type=kind, x=points[:, 0], y=points[:, 1], mode="markers", name="data points",
            marker=dict(color=colors, size=size, opacity=0.8, line=dict(width=0)),
            customdata=custom, hovertemplate=hover, showlegend=False,
        ))
    else:
        groups = np.asarray(groups).astype(str)
        names = [str(g) for g in group_names] if group_names is not None else sorted(set(groups))
        for t, name in enumerate(names):
            mask = groups == name
            if not mask.any():
                continue
            traces.append(dict(
                type=kind, x=points[mask, 0], y=points[mask, 1], mode="markers",
                name=f"{group_title} {name}", legendgroup="groups",
                marker=dict(color=task_color(t), size=size, opacity=0.8, line=dict(width=0)),
                customdata=None if custom is None else custom[mask],
                hovertemplate=f"{group_title} {name}<br>" + hover,
                meta={"role": "group", "group": name},
            ))
    # Legend entries that explain the line styles once.
    for s in sd_levels:
        traces.append(dict(
            type="scatter", x=[None], y=[None], mode="lines", name=f"{s} sd: {ellipse_mass(s):.1%} of mass",
            line=dict(color="rgb(90,90,90)", dash=_DASH.get(s, "solid"), width=1.5),
            legendgroup="sd", hoverinfo="skip",
        ))
    for j in range(k):
        color = component_color(j)
        for s in sd_levels:
            e = ellipse_points(means[j], covariances[j], s, ellipse_resolution)
            traces.append(dict(
                type="scatter", x=e[:, 0], y=e[:, 1], mode="lines", showlegend=False,
                line=dict(color=color, width=2.5 if s == 1 else 1.5, dash=_DASH.get(s, "solid")),
                name=f"component {j}, {s} sd ({ellipse_mass(s):.1%})",
                hovertemplate=f"component {j}: {s} sd ellipse, holds {ellipse_mass(s):.1%} "
                              "of its mass<extra></extra>",
                meta={"role": "ellipse", "component": j, "n_sd": s},
            ))
        label = f"component {j}" + (f" (weight {weights[j]:.2f})" if weights is not None else "")
        traces.append(dict(
            type="scatter", x=[means[j, 0]], y=[means[j, 1]], mode="markers", name=label,
            marker=dict(symbol="x-thin", size=16, color=color, line=dict(width=4, color=color)),
            hovertemplate=f"mean of component {j}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
            meta={"role": "mean", "component": j},
        ))
    if prev_means is not None:
        prev_means = np.asarray(prev_means, dtype=np.float64)
        for j in range(k):
            if np.allclose(prev_means[j], means[j]):
                continue
            annotations.append(dict(
                x=means[j, 0], y=means[j, 1], ax=prev_means[j, 0], ay=prev_means[j, 1],
                xref="x", yref="y", axref="x", ayref="y", showarrow=True, arrowhead=3,
                arrowsize=1.2, arrowwidth=2, arrowcolor=component_color(j), text="",
            ))
            traces.append(dict(
                type="scatter", x=[prev_means[j, 0]], y=[prev_means[j, 1]], mode="markers",
                showlegend=False, marker=dict(symbol="circle-open", size=9, color=component_color(j)),
                hovertemplate=f"previous mean of component {j}<extra></extra>",
                meta={"role": "previous_mean", "component": j},
            ))
    layout = dict(
        title=dict(text=title) if title else None,
        # Explicit margins for the axis titles: with 10 px margins they were cut off.
        xaxis=dict(title=dict(text=axis_labels[0]), automargin=True),
        yaxis=dict(title=dict(text=axis_labels[1]), automargin=True),
        margin=dict(l=70, r=10, t=40 if title else 10, b=60), height=520,
        legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02),
        uirevision="em-scatter", annotations=annotations,
    )
    return go.Figure(data=traces, layout={k_: v for k_, v in layout.items() if v is not None},
                     _validate=False)


def _normal_pdf(x, mean, var):
    return np.exp(-0.5 * (x - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def histogram_figure(x, *, weights, means, variances, resp=None, axis_label: str = "x",
                     title: str | None = None, n_bins: int | None = None) -> go.Figure:
    """One feature: density histogram, each component's weighted density and the mixture.

    weights, means, variances : arrays of shape (K,)
    resp : (n, K), optional; adds a rug of points coloured by responsibility
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64).ravel()
    variances = np.asarray(variances, dtype=np.float64).ravel()
    lo, hi = x.min(), x.max()
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, 400)
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=x, histnorm="probability density", name="data",
                               nbinsx=n_bins or min(60, max(10, int(np.sqrt(x.size)))),
                               marker=dict(color="rgba(150,150,150,0.5)")))
    total = np.zeros_like(grid)
    for j in range(weights.size):
        dens = weights[j] * _normal_pdf(grid, means[j], variances[j])
        total += dens
        fig.add_trace(go.Scatter(x=grid, y=dens, mode="lines", line=dict(color=component_color(j)),
                                 name=f"component {j} × weight {weights[j]:.2f}",
                                 meta={"role": "component_density", "component": j}))
    fig.add_trace(go.Scatter(x=grid, y=total, mode="lines", name="mixture density",
                             line=dict(color="black", width=3), meta={"role": "mixture_density"}))
    if resp is not None:
        fig.add_trace(go.Scatter(x=x, y=np.zeros_like(x), mode="markers", name="points",
                                 marker=dict(symbol="line-ns-open", size=12, color=blend_colors(resp)),
                                 hoverinfo="x", showlegend=False))
    fig.update_layout(title=title, xaxis_title=axis_label, yaxis_title="density", height=450,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), bargap=0.02)
    return fig


def scatter_matrix_figure(X, resp=None, *, feature_names, title: str | None = None) -> go.Figure:
    """Every pair of features, points coloured by responsibilities (grey without)."""
    X = np.asarray(X, dtype=np.float64)
    colors = blend_colors(resp) if resp is not None else "rgb({},{},{})".format(*GREY)
    fig = go.Figure(go.Splom(
        dimensions=[dict(label=str(nm), values=X[:, j]) for j, nm in enumerate(feature_names)],
        marker=dict(color=colors, size=4, opacity=0.8), diagonal_visible=False,
        showupperhalf=False,
    ))
    fig.update_layout(title=title, height=650, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def log_likelihood_figure(trace: pd.DataFrame, *, current_iteration: int | None = None,
                          events: pd.DataFrame | None = None, per_sample: bool = False,
                          title: str | None = None) -> go.Figure:
    """Log-likelihood per EM iteration, the current one marked, engine events marked.

    trace : DataFrame with ``iteration`` and ``log_likelihood`` (and ``mean_log_likelihood``)
    events : DataFrame with ``iteration``, ``kind``, ``message``
    """
    col = "mean_log_likelihood" if per_sample else "log_likelihood"
    ylabel = "log-likelihood per point" if per_sample else "log-likelihood (sum over points)"
    # Plain dicts, validation off (as in em_scatter): this chart is redrawn at every half-step.
    traces, shapes, annotations = [], [], []
    yaxis = dict(title=dict(text=ylabel))
    traces.append(dict(type="scatter", x=trace["iteration"].to_numpy(), y=trace[col].to_numpy(),
                       mode="lines+markers", name="log-likelihood", line=dict(color="rgb(0,114,178)"),
                       hovertemplate="iteration %{x}<br>%{y:.6g}<extra></extra>",
                       meta={"role": "log_likelihood"}))
    if current_iteration is not None and (trace["iteration"] == current_iteration).any():
        y = float(trace.loc[trace["iteration"] == current_iteration, col].iloc[0])
        traces.append(dict(type="scatter", x=[current_iteration], y=[y], mode="markers",
                           name="current step",
                           marker=dict(size=16, color="rgba(213,94,0,0.9)", symbol="circle"),
                           hovertemplate="current step: iteration %{x}<extra></extra>",
                           meta={"role": "current"}))
        shapes.append(dict(type="line", x0=current_iteration, x1=current_iteration, xref="x",
                           y0=0, y1=1, yref="y domain",
                           line=dict(color="rgba(213,94,0,0.5)", dash="dot")))
    if events is not None and len(events):
        merged = events.merge(trace[["iteration", col]], on="iteration", how="left")
        symbols = {"converged": "star", "max_iter": "square", "component_empty": "x",
                   "covariance_collapsed": "triangle-down"}
        for kind, group in merged.groupby("kind", sort=False):
            traces.append(dict(
                type="scatter", x=group["iteration"].to_numpy(), y=group[col].to_numpy(),
                mode="markers", name=kind.replace("_", " "),
                marker=dict(size=14, symbol=symbols.get(kind, "diamond"), color="rgb(204,121,167)",
                            line=dict(width=1, color="black")),
                text=list(group["message"]), hovertemplate="%{text}<extra></extra>",
                meta={"role": "event", "kind": kind},
            ))
    y = trace[col].to_numpy(dtype=np.float64)
    if y.size >= 3:
        # A wild first iteration (e.g. a start on single points) would flatten the rest of the
        # curve: zoom on the later iterations and say so.
        rest = y[1:]
        spread = max(rest.max() - rest.min(), 1e-12 + 1e-9 * abs(rest.max()))
        if rest.min() - y[0] > 20 * spread:
            yaxis["range"] = [rest.min() - 0.1 * spread, rest.max() + 0.1 * spread]
            annotations.append(dict(x=trace["iteration"].iloc[0], y=rest.min(), xref="x", yref="y",
                                    text=f"iteration 1: {y[0]:.3g} (below the chart)",
                                    showarrow=True, arrowhead=2, ay=30, ax=40, font=dict(size=11)))
    layout = dict(xaxis=dict(title=dict(text="EM iteration")), yaxis=yaxis, height=320,
                  margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  legend=dict(orientation="h", y=-0.3), shapes=shapes, annotations=annotations)
    if title:
        layout["title"] = dict(text=title)
    return go.Figure(data=traces, layout=layout, _validate=False)


def restarts_figure(final_log_likelihoods, *, best: int, selected: int | None = None,
                    n_iters=None) -> go.Figure:
    """Final log-likelihood of every EM restart: different starts, different local optima."""
    ll = np.asarray(final_log_likelihoods, dtype=np.float64)
    idx = np.arange(ll.size)
    colors = ["rgb(0,158,115)" if i == best else "rgb(150,150,150)" for i in idx]
    if selected is not None and selected != best:
        colors[selected] = "rgb(213,94,0)"
    text = [f"restart {i}" + (" (best)" if i == best else "") + (" (shown)" if i == selected else "")
            + (f", {n_iters[i]} iterations" if n_iters is not None else "") for i in idx]
    fig = go.Figure(go.Scatter(x=idx, y=ll, mode="markers", marker=dict(size=14, color=colors),
                               text=text, hovertemplate="%{text}<br>final log-likelihood %{y:.6g}<extra></extra>"))
    fig.update_layout(xaxis_title="restart", yaxis_title="final log-likelihood", height=260,
                      xaxis=dict(tickmode="linear", dtick=1), margin=dict(l=10, r=10, t=10, b=10))
    return fig


def criteria_figure(grid: pd.DataFrame, criterion: str = "bic", *, selected=None) -> go.Figure:
    """One line per covariance type of ``criterion`` against K; the best cell starred.

    grid : DataFrame with ``n_components``, ``covariance_type``, ``mclust_name`` and the
        criterion column (lower is better: -2 log L + penalty).
    selected : (n_components, covariance_type), optional; circled
    """
    fig = go.Figure()
    ok = grid[grid[criterion].notna()] if criterion in grid else grid.iloc[0:0]
    for t, group in ok.groupby("covariance_type", sort=False):
        group = group.sort_values("n_components")
        mcl = group["mclust_name"].iloc[0] if "mclust_name" in group else ""
        fig.add_trace(go.Scatter(x=group["n_components"], y=group[criterion], mode="lines+markers",
                                 name=f"{t} ({mcl})" if mcl else str(t),
                                 customdata=np.column_stack([group["covariance_type"]]),
                                 hovertemplate=f"{t}, K=%{{x}}<br>{criterion.upper()} %{{y:.6g}}<extra></extra>"))
    if len(ok):
        best = ok.loc[ok[criterion].idxmin()]
        fig.add_trace(go.Scatter(x=[best["n_components"]], y=[best[criterion]], mode="markers",
                                 name=f"best: K={best['n_components']}, {best['covariance_type']}",
                                 marker=dict(symbol="star", size=20, color="gold",
                                             line=dict(width=1, color="black")),
                                 meta={"role": "best"}))
    if selected is not None:
        sel = ok[(ok["n_components"] == selected[0]) & (ok["covariance_type"] == selected[1])]
        if len(sel):
            fig.add_trace(go.Scatter(x=sel["n_components"], y=sel[criterion], mode="markers",
                                     name="selected", marker=dict(symbol="circle-open", size=24,
                                                                  color="rgb(213,94,0)", line=dict(width=3))))
    fig.update_layout(xaxis_title="number of components K",
                      yaxis_title=f"{criterion.upper()} (lower is better)", height=380,
                      xaxis=dict(tickmode="linear", dtick=1), margin=dict(l=10, r=10, t=30, b=10),
                      title=f"{criterion.upper()} by K and covariance type")
    return fig


def mode_comparison_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Pooled vs separate vs shared: BIC per mode (left, lower is better) and the held-out
    log-likelihood per test row of each task (right, higher is better).

    table : the DataFrame of :func:`gmmcore.multitask.compare_modes` (``mode``, ``bic``,
        ``heldout[<task>]`` columns; failed modes have NaN and are left out).
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], horizontal_spacing=0.12,
                        subplot_titles=("BIC (lower is better)",
                                        "Held-out log-likelihood per row, by task (higher is better)"))
    ok = table[np.isfinite(table["bic"].astype(float))]
    best = ok.loc[ok["bic"].astype(float).idxmin(), "mode"] if len(ok) else None
    fig.add_trace(go.Bar(
        x=list(ok["mode"]), y=ok["bic"].astype(float), showlegend=False,
        marker=dict(color=[MODE_COLORS.get(m, "grey") for m in ok["mode"]],
                    line=dict(width=[3 if m == best else 0 for m in ok["mode"]], color="black")),
        text=[f"{v:.1f}" + (" (best)" if m == best else "") for m, v in zip(ok["mode"], ok["bic"], strict=True)],
        textposition="outside", hovertemplate="%{x}: BIC %{y:.6g}<extra></extra>",
        meta={"role": "bic"},
    ), row=1, col=1)
    task_cols = [c for c in table.columns if c.startswith("heldout[")]
    tasks = [c[len("heldout["):-1] for c in task_cols]
    for _, r in table.iterrows():
        y = np.array([r[c] for c in task_cols], dtype=np.float64)
        if not np.isfinite(y).any():
            continue
        # Dots, not bars: the values are negative, and bars hanging from 0 make the worst mode
        # look biggest.
        fig.add_trace(go.Scatter(
            x=tasks, y=y, name=str(r["mode"]), mode="markers",
            marker=dict(color=MODE_COLORS.get(r["mode"], "grey"), size=14, symbol="diamond"),
            hovertemplate=f"{r['mode']}, task %{{x}}: %{{y:.4g}} per row<extra></extra>",
            meta={"role": "heldout", "mode": r["mode"]},
        ), row=1, col=2)
    if len(ok):
        lo, hi = float(ok["bic"].min()), float(ok["bic"].max())
        pad = max(hi - lo, 1e-9 * abs(hi) + 1.0)
        fig.update_yaxes(range=[lo - 0.6 * pad, hi + 0.4 * pad], row=1, col=1)
    fig.update_xaxes(title_text="mode", row=1, col=1)
    fig.update_xaxes(title_text="task", row=1, col=2)
    fig.update_yaxes(title_text="BIC", row=1, col=1)
    fig.update_yaxes(title_text="mean log-likelihood per test row", row=1, col=2)
    fig.update_layout(title=title, scattermode="group", height=380, legend_title_text="mode",
                      margin=dict(l=10, r=10, t=60 if title else 40, b=10))
    return fig


def task_weights_heatmap(weights, tasks: Sequence[str], *, title: str | None = None,
                         task_title: str = "task") -> go.Figure:
    """Task x component mixing weights as a heatmap, each cell labelled with its weight.

    weights : array of shape (n_tasks, K), rows summing to 1
    tasks : the n_tasks task names, in the row order of ``weights``
    """
    w = np.asarray(weights, dtype=np.float64)
    k = w.shape[1]
    cols = [f"component {j}" for j in range(k)]
    fig = go.Figure(go.Heatmap(
        z=w, x=cols, y=[str(t) for t in tasks], zmin=0.0, zmax=1.0, colorscale="Blues",
        text=[[f"{v:.2f}" for v in row] for row in w], texttemplate="%{text}",
        hovertemplate=f"{task_title} %{{y}}, %{{x}}: weight %{{z:.3f}}<extra></extra>",
        colorbar=dict(title="weight"),
    ))
    # Column labels in the component colours, so the heatmap reads with the scatter's ellipses.
    fig.update_xaxes(tickmode="array", tickvals=cols, side="top",
                     ticktext=[f"<span style='color:{component_color(j)}'><b>component {j}</b></span>"
                               for j in range(k)])
    fig.update_yaxes(title_text=task_title, autorange="reversed")
    fig.update_layout(title=title, height=max(160, 60 + 45 * w.shape[0]),
                      margin=dict(l=10, r=10, t=60 if title else 40, b=10))
    return fig
