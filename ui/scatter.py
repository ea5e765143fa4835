"""The explorer's data panel: the points coloured by responsibility, with the components drawn
over them (a histogram for one feature, a scatter, a PCA projection or a scatter matrix)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from gmmcore.viz import explain
from gmmcore.viz.frames import group_rgb
from gmmcore.viz.matrix import scatter_matrix_figure
from gmmcore.viz.plots import axis_ranges, em_scatter, histogram_figure, subsample_indices
from gmmcore.viz.projection import Projection, axis_projection, pca_projection

from . import state as S
from .data import PreparedDataset
from .history import StepperRun
from .player import PlayerView

TWO_FEATURES, PCA, SCATTER_MATRIX = "Two features", "PCA projection", "Scatter matrix"
COLOR_BY_RESP, COLOR_BY_TASK = "responsibilities", "task"

# Above this many points the histogram is drawn without the responsibility split: the stacked
# bars cost more to draw than they show.
_HISTOGRAM_MAX_SPLIT = 3000
# Above this many points the scatter is drawn with WebGL.
_WEBGL_ABOVE = 2000


def data_panel(run: StepperRun, step: int, resp) -> PlayerView:
    """The points and components at ``step``; ``resp`` are the responsibilities the points are
    coloured with (None at the initialization). Returns what the player animates in its place."""
    data = run.data
    snap = run.history[step]
    if data.n_features == 1:
        st.plotly_chart(histogram(snap, data, resp, run.slots), key=S.EM_HISTOGRAM)
        view = PlayerView(S.EM_HISTOGRAM, "standalone", labels=(data.features[0], "density"))
    else:
        # The figure first, its view controls below it (set once, they must not push the
        # scatter below a projector's fold); the controls are created first so their values
        # decide the figure.
        figure_area = st.container()
        view = view_picker(data.n_features)
        idx = sampled_rows(data.n_samples)
        idx, color_by = task_filter(data, idx)
        resp_sub = None if resp is None else resp[idx]
        if view == SCATTER_MATRIX:
            figure_area.plotly_chart(
                scatter_matrix(run, step, idx, resp_sub), key=S.EM_SCATTER_MATRIX
            )
        else:
            scatter(run, step, idx, resp_sub, view, color_by, figure_area)
        view = player_view(data, view, idx, color_by)
    if snap.phase == "M":
        st.caption(
            "After an M step the points keep the colours of the E step before it: "
            "those are the responsibilities this M step used to move the components."
        )
    return view


def player_view(data: PreparedDataset, view: str, idx, color_by: str) -> PlayerView:
    """What the player animates over ``view``: the same plane, rows, axes and colours. Over the
    scatter matrix it plays the two-feature view of the chosen axes (one plane at a time)."""
    s = st.session_state
    i, j = int(s.get(S.AXIS_X, 0)), int(s.get(S.AXIS_Y, 1))
    proj = projection(data, PCA if view == PCA else TWO_FEATURES, i, j)
    x_range, y_range = axis_ranges(proj.transform(data.X))
    colours = None
    if color_by == COLOR_BY_TASK and data.tasks is not None:
        colours = group_rgb(np.asarray(data.tasks)[idx], task_names(data.tasks))
    return PlayerView(
        S.EM_SCATTER_MATRIX if view == SCATTER_MATRIX else S.EM_SCATTER,
        "standalone" if view == SCATTER_MATRIX else "plot",
        proj,
        np.asarray(idx),
        x_range,
        y_range,
        axis_labels(proj, data),
        colours,
        can_place=True,
    )


def view_picker(n_features: int) -> str:
    """The view radio (only offered above two features, where there is a choice)."""
    if n_features <= 2:
        return TWO_FEATURES
    return st.radio(
        "View",
        [TWO_FEATURES, PCA, SCATTER_MATRIX],
        key=S.VIEW,
        persist_state="session",
        horizontal=True,
    )


def sampled_rows(n_samples: int) -> np.ndarray:
    """The rows drawn: all, or a fixed sample of MAX_POINTS (seed 0, so the same points at every
    step and the eye follows them), with a caption saying so."""
    idx = subsample_indices(n_samples, int(st.session_state[S.MAX_POINTS]), seed=0)
    if idx.size < n_samples:
        st.caption(
            f"Showing {idx.size:,} of {n_samples:,} points, sampled with seed 0 (the same "
            "points at every step, drawn with WebGL); the fit uses all rows."
        )
    return idx


def task_filter(data: PreparedDataset, idx: np.ndarray) -> tuple[np.ndarray, str]:
    """With a task column: the colour-by radio and the task filter. Returns the rows of ``idx``
    still drawn and what the points are coloured by."""
    if data.tasks is None:
        return idx, COLOR_BY_RESP
    s = st.session_state
    names = task_names(data.tasks)
    # A filter left over from other data would name tasks this data lacks: show all.
    if S.SHOWN_TASKS not in s or not set(s.get(S.SHOWN_TASKS) or ()) <= set(names):
        s[S.SHOWN_TASKS] = names
    t1, t2 = st.columns([2, 3])
    color_by = t1.radio(
        "Colour points by",
        [COLOR_BY_RESP, COLOR_BY_TASK],
        key=S.COLOR_BY,
        persist_state="session",
        horizontal=True,
        help=f"Task: one colour per value of '{data.task_column}' "
        "(the ellipses keep the component colours).",
    )
    shown = t2.multiselect(
        f"Show points of {data.task_column}",
        names,
        key=S.SHOWN_TASKS,
        persist_state="session",
        help="Filter the drawn points by task; the fit uses all rows.",
    )
    idx = filter_by_task(idx, data.tasks, shown)
    if len(shown) < len(names):
        st.caption(f"Drawing only {', '.join(shown) or 'no task'}: {idx.size:,} points.")
    return idx, color_by


def scatter(run: StepperRun, step: int, idx, resp_sub, view: str, color_by: str, area=None) -> None:
    """The points of ``idx`` on two features or the PCA plane, with each component's mean,
    1-2-3 sd ellipses and, after an M step, the arrow from its previous mean."""
    data = run.data
    snap = run.history[step]
    if view == TWO_FEATURES and data.n_features > 2:
        axis_pickers(data.features)
    s = st.session_state
    proj = projection(data, view, int(s.get(S.AXIS_X, 0)), int(s.get(S.AXIS_Y, 1)))
    prev = run.history[step - 1] if snap.phase == "M" else None
    # From all rows, not the drawn ones: the same ranges at every step, task filter or not.
    x_range, y_range = axis_ranges(proj.transform(data.X))
    fig = em_scatter(
        proj.transform(data.X[idx]),
        resp_sub,
        means=proj.project_means(snap.means),
        covariances=proj.project_covariances(explain.covariance_stack(snap)),
        prev_means=None if prev is None else proj.project_means(prev.means),
        prev_covariances=None
        if prev is None
        else proj.project_covariances(explain.covariance_stack(prev)),
        x_range=x_range,
        y_range=y_range,
        weights=explain.task_weights(snap, run.row_tasks),
        row_ids=data.row_index[idx],
        axis_labels=axis_labels(proj, data),
        webgl=data.n_samples > _WEBGL_ABOVE,
        groups=data.tasks[idx] if color_by == COLOR_BY_TASK else None,
        group_title=str(data.task_column),
        group_names=task_names(data.tasks) if data.tasks is not None else None,
        slots=run.slots,
    )
    (area or st).plotly_chart(fig, key=S.EM_SCATTER)
    if view == PCA:
        (area or st).caption(
            "PCA projection: the ellipses are the exact projected covariances "
            "(A Σ Aᵀ), so they hold the same mass as in the full space's "
            "marginal on this plane."
        )


# The scatter matrix draws at most this many features (each pair is a panel).
MATRIX_MAX_FEATURES = 6


def scatter_matrix(run: StepperRun, step: int, idx, resp_sub):
    """Every pair of the first MATRIX_MAX_FEATURES features with this step's components."""
    data = run.data
    snap = run.history[step]
    d = min(data.n_features, MATRIX_MAX_FEATURES)
    if data.n_features > d:
        st.caption(f"The scatter matrix shows the first {d} of {data.n_features} features.")
    return scatter_matrix_figure(
        data.X[idx][:, :d],
        resp_sub,
        feature_names=data.features[:d],
        means=snap.means[:, :d],
        covariances=explain.covariance_stack(snap)[:, :d, :d],
        weights=explain.task_weights(snap, run.row_tasks),
        slots=run.slots,
    )


def axis_pickers(features) -> None:
    """The horizontal and vertical feature of the two-feature view."""
    a1, a2 = st.columns(2)
    a1.selectbox(
        "Horizontal axis",
        list(range(len(features))),
        key=S.AXIS_X,
        persist_state="session",
        format_func=lambda j: features[j],
    )
    a2.selectbox(
        "Vertical axis",
        list(range(len(features))),
        key=S.AXIS_Y,
        persist_state="session",
        format_func=lambda j: features[j],
    )


def histogram(snap, data: PreparedDataset, resp, slots=None):
    """One feature: the histogram of the points with each weighted component density."""
    X = data.X
    cov = explain.covariance_stack(snap)
    return histogram_figure(
        X[:, 0],
        weights=explain.task_weights(snap),
        means=snap.means[:, 0],
        variances=cov[:, 0, 0],
        resp=None if resp is None or X.shape[0] > _HISTOGRAM_MAX_SPLIT else resp,
        axis_label=data.features[0],
        slots=slots,
    )


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _pca(data_key: str, _X, features: tuple) -> Projection:
    # Keyed by the data's content hash: the PCA is the same at every step.
    return pca_projection(_X, 2, features)


def projection(data: PreparedDataset, view: str, i: int, j: int) -> Projection:
    """The plane drawn: the first two principal components, or features ``i`` and ``j``."""
    d = data.n_features
    if view == PCA:
        return _pca(data.key, data.X, tuple(data.features))
    if d == 2:
        i, j = 0, 1
    return axis_projection(d, i, j, data.features)


def axis_labels(proj: Projection, data: PreparedDataset) -> tuple[str, str]:
    """The axis titles: the projection's, saying when the units are z-scores."""
    if proj.explained_variance_ratio is not None:
        return proj.labels[0], proj.labels[1]
    suffix = " (standardized)" if data.standardizer is not None else ""
    return proj.labels[0] + suffix, proj.labels[1] + suffix


def task_names(tasks) -> list[str]:
    """The distinct task names, sorted (the engine's order)."""
    return sorted(set(map(str, tasks)))


def filter_by_task(idx: np.ndarray, tasks, shown) -> np.ndarray:
    """The row indices in ``idx`` whose task is in ``shown``."""
    return idx[np.isin(np.asarray(tasks)[idx].astype(str), list(shown))]
