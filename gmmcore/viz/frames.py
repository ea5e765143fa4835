"""The frames of the explorer's client-side animation: every number the browser draws while it
plays or scrubs through an EM run, computed here once, so the browser only draws.

A run's frames are its half-steps (thinned to at most ``MAX_FRAMES`` for long runs). Each
frame has the components' means and their 1-sd outlines in the plane drawn (the 2 and 3 sd
ellipses are that outline scaled about the mean, exact for a Gaussian), and the index of the
point colours it shows. The colours are one RGB triple per point per E step (the blend of the
component colours by the responsibilities, as in :func:`gmmcore.viz.plots.em_scatter`); an M
step shows the colours of the E step before it, the initialization grey. Arrays travel as
base64 of little-endian float32 / uint8, so 3,000 points and 150 half-steps are about 1.5 MB.

No streamlit here: the result is a plain dict, ready for ``json.dumps``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from .colors import GREY, PALETTE, TASK_PALETTE, blend_rgb, slot_list
from .explain import covariance_stack, display_responsibilities, task_weights
from .plots import SD_LEVELS, axis_ranges

__all__ = [
    "MAX_FRAMES",
    "density_frames",
    "ellipse_outline",
    "encode",
    "frame_steps",
    "group_rgb",
    "lift_to_features",
    "nice_ticks",
    "player_frames",
]

# At most this many half-steps are animated: a 1,000-iteration run would otherwise send
# 2,000 frames of colours to the browser. The early half-steps, where EM moves most, are kept
# one by one; the rest are thinned evenly (the last is always kept).
MAX_FRAMES = 160
# Points on each outline (closed: the last repeats the first).
OUTLINE_POINTS = 49


def encode(a, dtype) -> str:
    """``a`` as base64 of its little-endian ``dtype`` bytes (C order)."""
    arr = np.ascontiguousarray(np.asarray(a), dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(arr.tobytes()).decode("ascii")


def frame_steps(n_steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The half-steps animated out of ``n_steps``: all of them, or the first half of
    ``max_frames`` one by one and the rest evenly spaced, always ending at the last.

    >>> frame_steps(5).tolist()
    [0, 1, 2, 3, 4]
    >>> frame_steps(100, 10).tolist()
    [0, 1, 2, 3, 4, 23, 42, 61, 80, 99]
    """
    if n_steps <= max_frames:
        return np.arange(n_steps)
    head = max_frames // 2
    tail = np.rint(np.linspace(head - 1, n_steps - 1, max_frames - head + 1)[1:]).astype(int)
    return np.unique(np.concatenate([np.arange(head), tail]))


def ellipse_outline(mean, cov, n_points: int = OUTLINE_POINTS) -> np.ndarray:
    """The 1-sd ellipse of a 2-D Gaussian, shape (n_points, 2), closed.

    Parametrized by the symmetric square root of ``cov`` (mean + S^1/2 (cos t, sin t)): the
    same ellipse as :func:`gmmcore.viz.plots.ellipse_points`, but a point at angle t moves
    continuously with the covariance (no eigenvector sign or order flips), so the browser can
    blend two steps' outlines point by point.
    """
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        return np.full((n_points, 2), np.nan)
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    return mean + (root @ np.stack([np.cos(t), np.sin(t)])).T


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten apart) within [lo, hi].

    >>> nice_ticks(0.0, 10.0)
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return [float(lo)]
    raw = span / max(n - 1, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = mag * min((m for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw), default=10.0)
    first = np.ceil(lo / step) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return [float(round(t, 12)) for t in ticks]


def group_rgb(groups, names) -> np.ndarray:
    """One RGB triple (uint8) per point coloured by its group (e.g. task): the group's place in
    ``names`` picks its colour, as :func:`gmmcore.viz.plots.em_scatter` does."""
    order = {str(g): t for t, g in enumerate(names)}
    palette = np.asarray(TASK_PALETTE, dtype=np.uint8)
    index = np.array([order.get(str(g), 0) for g in np.asarray(groups)], dtype=int)
    return palette[index % len(palette)]


def lift_to_features(projection, points, X) -> np.ndarray:
    """Points clicked in a projected plane, as D-feature means: the point of the plane nearest
    to the data's mean (``center + points @ components``, exact for PCA; for two chosen
    features the other features take the data's mean), shape (n, n_features)."""
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    A = np.asarray(projection.components, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    center = np.asarray(projection.center, dtype=np.float64)
    # The data's mean, moved into the plane's coordinates' complement: the clicked
    # coordinates replace its in-plane part.
    base = X.mean(axis=0)
    in_plane = (base - center) @ A.T
    return base + (pts - in_plane) @ A


def _frames(history, steps, captions) -> list[dict]:
    out = []
    for i in steps:
        snap = history[int(i)]
        frame = {"step": int(i), "phase": snap.phase, "iteration": int(snap.iteration)}
        if captions is not None:
            frame["caption"] = str(captions[int(i)])
        out.append(frame)
    return out


def player_frames(
    history: Sequence,
    X,
    projection,
    *,
    rows=None,
    row_tasks=None,
    slots=None,
    point_colors=None,
    captions: Sequence[str] | None = None,
    x_range=None,
    y_range=None,
    max_frames: int = MAX_FRAMES,
) -> dict:
    """Everything the browser needs to animate ``history`` on a 2-D view of ``X``.

    Parameters
    ----------
    history : sequence of Snapshot
        Initialization, then every E and M half-step.
    X : array of shape (n_samples, n_features)
        The rows the fit used.
    projection : gmmcore.viz.projection.Projection
        The plane drawn (two features or PCA).
    rows : array of int, optional
        The rows drawn (a subsample or a task filter); default all.
    row_tasks : array of shape (n_samples,), optional
        The tasks the fit shares its components across (for the responsibilities).
    slots : array of int of shape (K,), optional
        Each component's colour slot (see :mod:`gmmcore.viz.identity`).
    point_colors : array of uint8 of shape (len(rows), 3), optional
        Fixed point colours (e.g. by task) instead of the responsibilities' blend.
    captions : sequence of str, optional
        One caption per half-step (all of ``history``).
    x_range, y_range : (low, high), optional
        The fixed axes (default: :func:`gmmcore.viz.plots.axis_ranges` of the drawn points).

    Returns
    -------
    dict with ``points`` (base64 float32, (n, 2)), ``colors`` (base64 uint8,
    (n_color_frames, n, 3)), ``means`` (base64 float32, (n_frames, K, 2)), ``outlines``
    (base64 float32, (n_frames, K, OUTLINE_POINTS, 2)), ``frames`` (per frame: step, phase,
    iteration, colour frame index, caption), ``palette`` (RGB per component), the axes and
    their ticks.
    """
    X = np.asarray(X, dtype=np.float64)
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows)
    tasks = None if row_tasks is None else np.asarray(row_tasks)[rows]
    pts = projection.transform(X[rows])
    if x_range is None or y_range is None:
        x_range, y_range = axis_ranges(pts)
    steps = frame_steps(len(history), max_frames)
    k = history[0].means.shape[0]
    slot = slot_list(slots, k)
    colour_frames: list[np.ndarray] = []
    colour_of: dict[int, int] = {}  # the E step whose responsibilities colour -> its index
    means = np.empty((steps.size, k, 2))
    outlines = np.empty((steps.size, k, OUTLINE_POINTS, 2))
    weights = np.empty((steps.size, k))
    frames = _frames(history, steps, captions)
    for f, i in enumerate(steps):
        snap = history[int(i)]
        means[f] = projection.project_means(snap.means)
        cov = projection.project_covariances(covariance_stack(snap))
        outlines[f] = [ellipse_outline(means[f, j], cov[j]) for j in range(k)]
        weights[f] = task_weights(snap, tasks)
        if snap.phase == "init":
            frames[f]["color"] = -1
            continue
        source = int(i) if snap.phase == "E" else int(i) - 1
        if point_colors is not None:
            source = 0
        if source not in colour_of:
            colour_of[source] = len(colour_frames)
            if point_colors is not None:
                colour_frames.append(np.asarray(point_colors, dtype=np.uint8))
            else:
                resp = display_responsibilities(history, source, X[rows], tasks)
                colour_frames.append(blend_rgb(resp, slot))
        frames[f]["color"] = colour_of[source]
    return {
        "kind": "ellipses",
        "n_points": int(rows.size),
        "k": int(k),
        "n_outline": OUTLINE_POINTS,
        "sd_levels": list(SD_LEVELS),
        "points": encode(pts, np.float32),
        "colors": encode(np.asarray(colour_frames).reshape(-1, 3), np.uint8),
        "means": encode(means, np.float32),
        "outlines": encode(outlines, np.float32),
        "weights": np.round(weights, 3).tolist(),
        "frames": frames,
        "n_steps": len(history),
        "palette": [list(PALETTE[s % len(PALETTE)]) for s in slot],
        "grey": list(GREY),
        "x_range": [float(x_range[0]), float(x_range[1])],
        "y_range": [float(y_range[0]), float(y_range[1])],
        "x_ticks": nice_ticks(*x_range),
        "y_ticks": nice_ticks(*y_range),
    }


def _normal_pdf(x, mean, var):
    return np.exp(-0.5 * (x - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def density_frames(
    history: Sequence,
    x,
    *,
    slots=None,
    captions: Sequence[str] | None = None,
    max_frames: int = MAX_FRAMES,
    max_points: int = 3000,
) -> dict:
    """The one-feature animation: each component's weighted density (and the mixture's) on a
    fixed grid per frame, the data's density histogram once, and the points as a rug under the
    axis coloured as in :func:`player_frames`. Same layout as :func:`player_frames`, with
    ``kind`` "densities": ``outlines`` are the K density curves, ``mixture`` the mixture's."""
    x = np.asarray(x, dtype=np.float64).ravel()
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(x.size, max_points, replace=False)) if x.size > max_points else None
    rows = np.arange(x.size) if rows is None else rows
    lo, hi = float(x.min()), float(x.max())
    pad = 0.1 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(lo - pad, hi + pad, OUTLINE_POINTS)
    n_bins = min(60, max(10, int(np.sqrt(x.size))))
    heights, edges = np.histogram(x, bins=n_bins, density=True)
    steps = frame_steps(len(history), max_frames)
    k = history[0].means.shape[0]
    slot = slot_list(slots, k)
    curves = np.empty((steps.size, k, OUTLINE_POINTS, 2))
    mixture = np.empty((steps.size, OUTLINE_POINTS, 2))
    means = np.zeros((steps.size, k, 2))
    frames = _frames(history, steps, captions)
    colour_frames: list[np.ndarray] = []
    colour_of: dict[int, int] = {}
    for f, i in enumerate(steps):
        snap = history[int(i)]
        w = task_weights(snap)
        mu = np.asarray(snap.means, dtype=np.float64)[:, 0]
        var = covariance_stack(snap)[:, 0, 0]
        dens = np.array([w[j] * _normal_pdf(grid, mu[j], var[j]) for j in range(k)])
        curves[f, :, :, 0] = grid
        curves[f, :, :, 1] = dens
        mixture[f, :, 0] = grid
        mixture[f, :, 1] = dens.sum(axis=0)
        means[f, :, 0] = mu
        if snap.phase == "init":
            frames[f]["color"] = -1
            continue
        source = int(i) if snap.phase == "E" else int(i) - 1
        if source not in colour_of:
            colour_of[source] = len(colour_frames)
            resp = display_responsibilities(history, source, x[rows, None])
            colour_frames.append(blend_rgb(resp, slot))
        frames[f]["color"] = colour_of[source]
    finite = mixture[..., 1][np.isfinite(mixture[..., 1])]
    top = float(max(heights.max(), finite.max() if finite.size else 0.0)) * 1.08 or 1.0
    # The rug lies in a band under the axis, jittered so overlapping points stay visible.
    rug = np.column_stack([x[rows], -top * (0.02 + 0.05 * rng.random(rows.size))])
    y_range = (-0.09 * top, top)
    x_range = (float(grid[0]), float(grid[-1]))
    return {
        "kind": "densities",
        "n_points": int(rows.size),
        "k": int(k),
        "n_outline": OUTLINE_POINTS,
        "sd_levels": [1],
        "points": encode(rug, np.float32),
        "colors": encode(np.asarray(colour_frames).reshape(-1, 3), np.uint8),
        "means": encode(means, np.float32),
        "outlines": encode(curves, np.float32),
        "mixture": encode(mixture, np.float32),
        "bars": {"edges": edges.tolist(), "heights": heights.tolist()},
        "frames": frames,
        "n_steps": len(history),
        "palette": [list(PALETTE[s % len(PALETTE)]) for s in slot],
        "grey": list(GREY),
        "x_range": list(x_range),
        "y_range": [float(y_range[0]), float(y_range[1])],
        "x_ticks": nice_ticks(*x_range),
        "y_ticks": nice_ticks(0.0, top),
    }
