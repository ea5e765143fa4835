"""Plotly charts of EM's progress and of model comparisons: the log-likelihood per step, the
restarts, the criteria grid, the multi-task modes and the task x component weights.

Data in, ``go.Figure`` out; no streamlit here, so every chart also works in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .colors import MODE_COLORS, component_color, slot_list

__all__ = [
    "criteria_figure",
    "log_likelihood_figure",
    "mode_comparison_figure",
    "restarts_figure",
    "task_weights_heatmap",
]


def log_likelihood_figure(
    trace: pd.DataFrame,
    *,
    current_iteration: int | None = None,
    events: pd.DataFrame | None = None,
    per_sample: bool = False,
    title: str | None = None,
    hide_future: bool = False,
) -> go.Figure:
    """Log-likelihood per EM iteration, the current one marked, engine events marked.

    trace : DataFrame with ``iteration`` and ``log_likelihood`` (and ``mean_log_likelihood``)
    events : DataFrame with ``iteration``, ``kind``, ``message``
    hide_future : draw the curve and events only up to ``current_iteration`` (none before the
        first E step), for teaching; the x axis keeps the whole run's length, so the chart
        does not rescale as the curve grows.

    The current-step marker is an open ring drawn over the event markers, so it stays visible
    on the "converged" star.
    """
    col = "mean_log_likelihood" if per_sample else "log_likelihood"
    full_iterations = trace["iteration"].to_numpy()
    if hide_future:
        reached = -1 if current_iteration is None else current_iteration
        trace = trace[trace["iteration"] <= reached]
        if events is not None:
            events = events[events["iteration"] <= reached]
    ylabel = "log-likelihood per point" if per_sample else "log-likelihood (sum over points)"
    # Plain dicts, validation off (as in em_scatter): this chart is redrawn at every half-step.
    traces, shapes, annotations = [], [], []
    yaxis = dict(title=dict(text=ylabel))
    traces.append(
        dict(
            type="scatter",
            x=trace["iteration"].to_numpy(),
            y=trace[col].to_numpy(),
            mode="lines+markers",
            name="log-likelihood",
            line=dict(color="rgb(0,114,178)"),
            hovertemplate="iteration %{x}<br>%{y:.6g}<extra></extra>",
            meta={"role": "log_likelihood"},
        )
    )
    if events is not None and len(events):
        merged = events.merge(trace[["iteration", col]], on="iteration", how="left")
        symbols = {
            "converged": "star",
            "max_iter": "square",
            "component_empty": "x",
            "covariance_collapsed": "triangle-down",
        }
        for kind, group in merged.groupby("kind", sort=False):
            traces.append(
                dict(
                    type="scatter",
                    x=group["iteration"].to_numpy(),
                    y=group[col].to_numpy(),
                    mode="markers",
                    name=kind.replace("_", " "),
                    marker=dict(
                        size=14,
                        symbol=symbols.get(kind, "diamond"),
                        color="rgb(204,121,167)",
                        line=dict(width=1, color="black"),
                    ),
                    text=list(group["message"]),
                    hovertemplate="%{text}<extra></extra>",
                    meta={"role": "event", "kind": kind},
                )
            )
    if current_iteration is not None and (trace["iteration"] == current_iteration).any():
        y = float(trace.loc[trace["iteration"] == current_iteration, col].iloc[0])
        traces.append(
            dict(
                type="scatter",
                x=[current_iteration],
                y=[y],
                mode="markers",
                name="current step",
                marker=dict(
                    size=22,
                    color="rgba(213,94,0,0)",
                    symbol="circle-open",
                    line=dict(width=3, color="rgb(213,94,0)"),
                ),
                hovertemplate="current step: iteration %{x}<extra></extra>",
                meta={"role": "current"},
            )
        )
        shapes.append(
            dict(
                type="line",
                x0=current_iteration,
                x1=current_iteration,
                xref="x",
                y0=0,
                y1=1,
                yref="y domain",
                line=dict(color="rgba(213,94,0,0.5)", dash="dot"),
            )
        )
    y = trace[col].to_numpy(dtype=np.float64)
    if y.size >= 3:
        # A wild first iteration (e.g. a start on single points) would flatten the rest of the
        # curve: zoom on the later iterations and say so.
        rest = y[1:]
        spread = max(rest.max() - rest.min(), 1e-12 + 1e-9 * abs(rest.max()))
        if rest.min() - y[0] > 20 * spread:
            yaxis["range"] = [rest.min() - 0.1 * spread, rest.max() + 0.1 * spread]
            annotations.append(
                dict(
                    x=trace["iteration"].iloc[0],
                    y=rest.min(),
                    xref="x",
                    yref="y",
                    text=f"iteration 1: {y[0]:.4g}<br>(below the chart)",
                    showarrow=True,
                    arrowhead=2,
                    # Text up and to the right of the arrow, inside the plot: below or left of
                    # it the note ran over the tick labels.
                    ay=-36,
                    ax=24,
                    xanchor="left",
                    yanchor="bottom",
                    bgcolor="rgba(255,255,255,0.85)",
                    font=dict(size=11),
                )
            )
    xaxis = dict(title=dict(text="EM iteration"))
    if hide_future and full_iterations.size:
        xaxis.update(range=[0.5, float(full_iterations.max()) + 0.5], autorange=False)
    layout = dict(
        xaxis=xaxis,
        yaxis=yaxis,
        height=320,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(orientation="h", y=-0.3),
        shapes=shapes,
        annotations=annotations,
    )
    if title:
        layout["title"] = dict(text=title)
    return go.Figure(data=traces, layout=layout, _validate=False)


def restarts_figure(
    final_log_likelihoods,
    *,
    best: int,
    selected: int | None = None,
    n_iters=None,
    resolution: float = 1.0,
    degenerate=None,
) -> go.Figure:
    """Final log-likelihood of every EM restart: different starts, different local optima.

    final_log_likelihoods : array-like of shape (n_restarts,)
    best, selected : index of the kept restart and of the one shown (drawn green, orange).
    n_iters : array-like of shape (n_restarts,), optional
    resolution : differences below this are convergence noise, not different optima (e.g.
        tol x n_samples: EM stops when the total log-likelihood gains less than that). When
        all restarts lie within it, the y axis spans at least ``resolution`` and the chart
        says they reached the same optimum, instead of stretching a 0.006 spread over the
        whole height.
    degenerate : array-like of bool, shape (n_restarts,), optional
        Restarts that collapsed (``RestartResult.degenerate``): drawn hollow, "collapsed"
        in the hover text and the legend. Their likelihood grows without bound as they
        collapse, so a high hollow marker is no better optimum (a sound restart is kept),
        and they are left out of the "same optimum" spread.
    """
    ll = np.asarray(final_log_likelihoods, dtype=np.float64)
    idx = np.arange(ll.size)
    collapsed = np.zeros(ll.size, bool) if degenerate is None else np.asarray(degenerate, bool)
    colors = ["rgb(0,158,115)" if i == best else "rgb(150,150,150)" for i in idx]
    if selected is not None and selected != best:
        colors[selected] = "rgb(213,94,0)"
    text = [
        f"restart {i}"
        + (" (best)" if i == best else "")
        + (" (shown)" if i == selected else "")
        + (", collapsed: a component holds almost no data" if collapsed[i] else "")
        + (f", {n_iters[i]} iterations" if n_iters is not None else "")
        for i in idx
    ]
    traces = []
    for hollow, name in ((False, "sound"), (True, "collapsed")):
        rows = np.flatnonzero(collapsed == hollow)
        if not rows.size:
            continue
        traces.append(
            go.Scatter(
                x=idx[rows],
                y=ll[rows],
                mode="markers",
                name=name,
                marker=dict(
                    size=14,
                    color=[colors[i] for i in rows],
                    symbol="circle-open" if hollow else "circle",
                    line=dict(width=3) if hollow else None,
                ),
                text=[text[i] for i in rows],
                hovertemplate="%{text}<br>final log-likelihood %{y:.6g}<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    # A legend only when it says something: which markers are collapsed restarts.
    fig.update_layout(showlegend=bool(collapsed.any()), legend=dict(orientation="h", y=-0.25))
    fig.update_layout(
        xaxis_title="restart",
        yaxis_title="final log-likelihood",
        height=260,
        xaxis=dict(tickmode="linear", dtick=1),
        margin=dict(l=10, r=10, t=10, b=10),
    )
    sound = ll[~collapsed] if (~collapsed).any() else ll
    finite = sound[np.isfinite(sound)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    if finite.size and spread < resolution:
        mid = float(finite.max() + finite.min()) / 2
        if not collapsed.any():  # else the hollow markers must stay in view
            fig.update_yaxes(range=[mid - resolution, mid + resolution])
        fig.update_layout(
            margin=dict(t=36),
            title=dict(
                text=f"All {'sound ' if collapsed.any() else ''}restarts within {spread:.2g} "
                f"of each other: the same optimum "
                f"(differences below {resolution:.2g} are convergence noise)",
                font=dict(size=12),
            ),
        )
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
        fig.add_trace(
            go.Scatter(
                x=group["n_components"],
                y=group[criterion],
                mode="lines+markers",
                name=f"{t} ({mcl})" if mcl else str(t),
                customdata=np.column_stack([group["covariance_type"]]),
                hovertemplate=f"{t}, K=%{{x}}<br>{criterion.upper()} %{{y:.6g}}<extra></extra>",
            )
        )
    if len(ok):
        best = ok.loc[ok[criterion].idxmin()]
        fig.add_trace(
            go.Scatter(
                x=[best["n_components"]],
                y=[best[criterion]],
                mode="markers",
                name=f"best: K={best['n_components']}, {best['covariance_type']}",
                marker=dict(
                    symbol="star", size=20, color="gold", line=dict(width=1, color="black")
                ),
                meta={"role": "best"},
            )
        )
    if selected is not None:
        sel = ok[(ok["n_components"] == selected[0]) & (ok["covariance_type"] == selected[1])]
        if len(sel):
            fig.add_trace(
                go.Scatter(
                    x=sel["n_components"],
                    y=sel[criterion],
                    mode="markers",
                    name="selected",
                    marker=dict(
                        symbol="circle-open", size=24, color="rgb(213,94,0)", line=dict(width=3)
                    ),
                )
            )
    fig.update_layout(
        xaxis_title="number of components K",
        yaxis_title=f"{criterion.upper()} (lower is better)",
        height=380,
        xaxis=dict(tickmode="linear", dtick=1),
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"{criterion.upper()} by K and covariance type",
    )
    return fig


def mode_comparison_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Pooled vs separate vs shared: BIC per mode (left, lower is better) and the held-out
    log-likelihood per test row of each task (right, higher is better).

    table : the DataFrame of :func:`gmmcore.multitask.compare_modes` (``mode``, ``bic``,
        ``heldout[<task>]`` columns; failed modes have NaN and are left out).
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        horizontal_spacing=0.12,
        subplot_titles=(
            "BIC (lower is better)",
            "Held-out log-likelihood per row, by task (higher is better)",
        ),
    )
    ok = table[np.isfinite(table["bic"].astype(float))]
    best = ok.loc[ok["bic"].astype(float).idxmin(), "mode"] if len(ok) else None
    fig.add_trace(
        go.Bar(
            x=list(ok["mode"]),
            y=ok["bic"].astype(float),
            showlegend=False,
            marker=dict(
                color=[MODE_COLORS.get(m, "grey") for m in ok["mode"]],
                line=dict(width=[3 if m == best else 0 for m in ok["mode"]], color="black"),
            ),
            text=[
                f"{v:.1f}" + (" (best)" if m == best else "")
                for m, v in zip(ok["mode"], ok["bic"], strict=True)
            ],
            textposition="outside",
            hovertemplate="%{x}: BIC %{y:.6g}<extra></extra>",
            meta={"role": "bic"},
        ),
        row=1,
        col=1,
    )
    task_cols = [c for c in table.columns if c.startswith("heldout[")]
    tasks = [c[len("heldout[") : -1] for c in task_cols]
    for _, r in table.iterrows():
        y = np.array([r[c] for c in task_cols], dtype=np.float64)
        if not np.isfinite(y).any():
            continue
        # Dots, not bars: the values are negative, and bars hanging from 0 make the worst mode
        # look biggest.
        fig.add_trace(
            go.Scatter(
                x=tasks,
                y=y,
                name=str(r["mode"]),
                mode="markers",
                marker=dict(color=MODE_COLORS.get(r["mode"], "grey"), size=14, symbol="diamond"),
                hovertemplate=f"{r['mode']}, task %{{x}}: %{{y:.4g}} per row<extra></extra>",
                meta={"role": "heldout", "mode": r["mode"]},
            ),
            row=1,
            col=2,
        )
    if len(ok):
        lo, hi = float(ok["bic"].min()), float(ok["bic"].max())
        pad = max(hi - lo, 1e-9 * abs(hi) + 1.0)
        fig.update_yaxes(range=[lo - 0.6 * pad, hi + 0.4 * pad], row=1, col=1)
    fig.update_xaxes(title_text="mode", row=1, col=1)
    fig.update_xaxes(title_text="task", row=1, col=2)
    fig.update_yaxes(title_text="BIC", row=1, col=1)
    fig.update_yaxes(title_text="mean log-likelihood per test row", row=1, col=2)
    fig.update_layout(
        title=title,
        scattermode="group",
        height=380,
        legend_title_text="mode",
        margin=dict(l=10, r=10, t=60 if title else 40, b=10),
    )
    return fig


def task_weights_heatmap(
    weights,
    tasks: Sequence[str],
    *,
    title: str | None = None,
    task_title: str = "task",
    slots=None,
) -> go.Figure:
    """Task x component mixing weights as a heatmap, each cell labelled with its weight.

    weights : array of shape (n_tasks, K), rows summing to 1
    tasks : the n_tasks task names, in the row order of ``weights``
    slots : (K,), optional; each component's colour slot (see :mod:`gmmcore.viz.identity`)
    """
    w = np.asarray(weights, dtype=np.float64)
    k = w.shape[1]
    cols = [f"component {j}" for j in range(k)]
    fig = go.Figure(
        go.Heatmap(
            z=w,
            x=cols,
            y=[str(t) for t in tasks],
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            text=[[f"{v:.2f}" for v in row] for row in w],
            texttemplate="%{text}",
            hovertemplate=f"{task_title} %{{y}}, %{{x}}: weight %{{z:.3f}}<extra></extra>",
            colorbar=dict(title="weight"),
        )
    )
    # Column labels in the component colours, so the heatmap reads with the scatter's ellipses.
    fig.update_xaxes(
        tickmode="array",
        tickvals=cols,
        side="top",
        ticktext=[
            f"<span style='color:{component_color(s)}'><b>component {j}</b></span>"
            for j, s in enumerate(slot_list(slots, k))
        ],
    )
    fig.update_yaxes(title_text=task_title, autorange="reversed")
    fig.update_layout(
        title=title,
        height=max(160, 60 + 45 * w.shape[0]),
        margin=dict(l=10, r=10, t=60 if title else 40, b=10),
    )
    return fig
