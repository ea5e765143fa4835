"""The scatter matrix of a mixture over its data: every pair of features with the components'
ellipses and means, and each feature's histogram with the component densities on the diagonal.

Data in, ``go.Figure`` out; no streamlit here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .colors import GREY, blend_colors, component_color, slot_list
from .plots import _DASH, _normal_pdf, axis_ranges, ellipse_trace

__all__ = ["scatter_matrix_figure"]


def _panel_domains(n: int, gap: float = 0.025) -> list[tuple[float, float]]:
    size = (1.0 - gap * (n - 1)) / n
    return [(c * (size + gap), c * (size + gap) + size) for c in range(n)]


def scatter_matrix_figure(
    X,
    resp=None,
    *,
    feature_names,
    means=None,
    covariances=None,
    weights=None,
    title: str | None = None,
    sd_levels: Sequence[int] = (1, 2),
    webgl: bool = True,
    margin: float = 0.08,
    slots=None,
) -> go.Figure:
    """Every pair of features with the mixture drawn in it.

    Off the diagonal (row r, column c): the points on features c (horizontal) and r
    (vertical), coloured by responsibilities (grey without), each component's 1 and 2 sd
    ellipses of its marginal on that plane and its mean. On the diagonal: the histogram of
    feature r with each component's weighted marginal density and the mixture's. Axis ranges
    come from the data alone (``axis_ranges``), so they stay put from step to step.

    X : array of shape (n, D); resp : (n, K) or None
    means : (K, D); covariances : (K, D, D) full matrices; weights : (K,)
    slots : (K,), optional; each component's colour slot (see :mod:`gmmcore.viz.identity`)
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    names = [str(f) for f in feature_names]
    has_mix = means is not None and covariances is not None
    if has_mix:
        means = np.asarray(means, dtype=np.float64)
        covariances = np.asarray(covariances, dtype=np.float64)
        k = means.shape[0]
        weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
    slots = slot_list(slots, means.shape[0] if has_mix else (0 if resp is None else resp.shape[1]))
    colors = blend_colors(resp, slots) if resp is not None else "rgb({},{},{})".format(*GREY)
    ranges = [axis_ranges(X[:, [j, j]], margin)[0] for j in range(d)]
    dom = _panel_domains(d)
    traces, layout, annotations = [], {}, []
    kind = "scattergl" if webgl else "scatter"
    for r in range(d):
        for c in range(d):
            i = r * d + c + 1
            xa, ya = ("x", "y") if i == 1 else (f"x{i}", f"y{i}")
            ydom = dom[d - 1 - r]
            layout["xaxis" if i == 1 else f"xaxis{i}"] = dict(
                domain=list(dom[c]),
                anchor=ya,
                range=list(ranges[c]),
                autorange=False,
                showticklabels=r == d - 1,
                title=dict(text=names[c]) if r == d - 1 else None,
            )
            yaxis = dict(domain=list(ydom), anchor=xa, showticklabels=c == 0 and r != c)
            if r != c:
                yaxis.update(range=list(ranges[r]), autorange=False)
                if c == 0 or (r == 0 and c == 1):
                    yaxis["title"] = dict(text=names[r])
            layout["yaxis" if i == 1 else f"yaxis{i}"] = yaxis
            if r == c:
                traces.extend(
                    _diagonal_traces(X[:, r], xa, ya, means, covariances, weights, r, slots)
                )
                annotations.append(
                    dict(
                        text=f"<b>{names[r]}</b>",
                        xref=f"{xa} domain",
                        yref=f"{ya} domain",
                        x=0.02,
                        y=0.98,
                        xanchor="left",
                        yanchor="top",
                        showarrow=False,
                    )
                )
                continue
            traces.append(
                dict(
                    type=kind,
                    x=X[:, c],
                    y=X[:, r],
                    xaxis=xa,
                    yaxis=ya,
                    mode="markers",
                    marker=dict(color=colors, size=3 if n > 1000 else 4, opacity=0.7),
                    hoverinfo="skip",
                    showlegend=False,
                    meta={"role": "points", "row": r, "col": c},
                )
            )
            if has_mix:
                traces.extend(
                    _panel_components(means, covariances, r, c, xa, ya, sd_levels, i == 2, slots)
                )
    layout.update(
        title=dict(text=title) if title else None,
        height=max(420, 190 * d),
        margin=dict(l=60, r=10, t=40 if title else 10, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        annotations=annotations,
        barmode="overlay",
        uirevision=f"em-splom {d} {names}",
    )
    return go.Figure(
        data=traces, layout={k_: v for k_, v in layout.items() if v is not None}, _validate=False
    )


def _panel_components(means, covariances, r, c, xa, ya, sd_levels, legend, slots) -> list[dict]:
    """Each component's ellipses and mean on features (c, r) of one panel."""
    out = []
    for j in range(means.shape[0]):
        color = component_color(slots[j])
        mean = means[j, [c, r]]
        cov = covariances[j][np.ix_([c, r], [c, r])]
        for s in sd_levels:
            out.append(
                ellipse_trace(
                    mean,
                    cov,
                    s,
                    60,
                    dict(color=color, width=2 if s == 1 else 1.2, dash=_DASH.get(s)),
                    xaxis=xa,
                    yaxis=ya,
                    hoverinfo="skip",
                    meta={"role": "ellipse", "component": j, "n_sd": s, "row": r, "col": c},
                )
            )
        out.append(
            dict(
                type="scatter",
                x=[mean[0]],
                y=[mean[1]],
                xaxis=xa,
                yaxis=ya,
                mode="markers",
                name=f"component {j}",
                legendgroup=f"component {j}",
                showlegend=legend,
                marker=dict(symbol="x-thin", size=12, color=color, line=dict(width=3, color=color)),
                hovertemplate=f"mean of component {j}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
                meta={"role": "mean", "component": j, "row": r, "col": c},
            )
        )
    return out


def _diagonal_traces(x, xa, ya, means, covariances, weights, r, slots) -> list[dict]:
    """Feature ``r``'s histogram with each component's weighted marginal density."""
    out = [
        dict(
            type="histogram",
            x=x,
            xaxis=xa,
            yaxis=ya,
            histnorm="probability density",
            nbinsx=min(40, max(10, int(np.sqrt(x.size)))),
            marker=dict(color="rgba(150,150,150,0.5)"),
            hoverinfo="skip",
            showlegend=False,
            meta={"role": "histogram", "feature": r},
        )
    ]
    if means is None:
        return out
    lo, hi = x.min(), x.max()
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, 200)
    total = np.zeros_like(grid)
    for j in range(means.shape[0]):
        dens = weights[j] * _normal_pdf(grid, means[j, r], covariances[j, r, r])
        total += dens
        out.append(
            dict(
                type="scatter",
                x=grid,
                y=dens,
                xaxis=xa,
                yaxis=ya,
                mode="lines",
                line=dict(color=component_color(slots[j]), width=2),
                hoverinfo="skip",
                showlegend=False,
                meta={"role": "component_density", "component": j, "feature": r},
            )
        )
    out.append(
        dict(
            type="scatter",
            x=grid,
            y=total,
            xaxis=xa,
            yaxis=ya,
            mode="lines",
            line=dict(color="black", width=2),
            hoverinfo="skip",
            showlegend=False,
            meta={"role": "mixture_density", "feature": r},
        )
    )
    return out
