"""Play, scrub and place means in the browser: a custom component (Streamlit components v2)
that animates an EM run on a canvas over the explorer's figure without a server round trip per
frame, and tells the page the step where it stopped (or the means placed by clicking).

The frames are computed once per run and view by :mod:`gmmcore.viz.frames`; the JavaScript in
``ui/player_assets`` only draws them. Its two messages are triggers: ``stop`` ({step}) when
Play pauses or ends or the slider is released, and ``place`` ({means}: points in the plane
drawn) when the teacher starts EM from means placed on the plot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from gmmcore.viz.colors import PALETTE
from gmmcore.viz.frames import density_frames, lift_to_features, player_frames

from . import state as S

ASSETS = Path(__file__).with_name("player_assets")

_COMPONENT = st.components.v2.component(
    "gmm_explorer_player",
    css=(ASSETS / "player.css").read_text(encoding="utf-8"),
    js=(ASSETS / "player.js").read_text(encoding="utf-8"),
)


@dataclass(frozen=True)
class PlayerView:
    """What the figure under the player shows, so the canvas draws the same.

    Attributes
    ----------
    target : str
        The element key of the figure the canvas covers (``S.EM_SCATTER`` ...).
    overlay : str
        "plot": cover the Plotly figure's plot area and keep its axes; "standalone": cover the
        whole figure and draw axes of its own (scatter matrix, histogram).
    projection : Projection or None
        The plane drawn (None: the one-feature histogram).
    rows : ndarray of int
        The rows drawn.
    x_range, y_range : (low, high) or None
        The fixed axes of the plane.
    labels : (str, str)
        The axis titles.
    point_colors : ndarray of uint8 of shape (len(rows), 3) or None
        Fixed point colours (coloured by task) instead of the responsibilities' blend.
    can_place : bool
        Whether clicks on this view can place starting means (a plane of the features).
    """

    target: str
    overlay: str
    projection: object = None
    rows: np.ndarray | None = None
    x_range: tuple | None = None
    y_range: tuple | None = None
    labels: tuple = ("", "")
    point_colors: np.ndarray | None = None
    can_place: bool = False

    def cache_key(self) -> tuple:
        rows = np.asarray(self.rows if self.rows is not None else [])
        colours = np.asarray(self.point_colors if self.point_colors is not None else [])
        proj = self.projection
        return (
            self.target,
            self.overlay,
            None if proj is None else (proj.labels, np.asarray(proj.components).tobytes()),
            hashlib.sha1(rows.tobytes()).hexdigest(),
            hashlib.sha1(colours.tobytes()).hexdigest(),
            self.x_range,
            self.y_range,
        )


def step_caption(history, step: int, title) -> str:
    """'Step i of n — what it is', as the heading above the figure says it."""
    return f"Step {step} of {len(history) - 1} — {title(history[step])}"


def frames_for(run, view: PlayerView, title) -> dict:
    """The frames of ``run`` on ``view`` (computed once per run and view, kept on the run)."""
    key = view.cache_key()
    memo = run._frames
    if key not in memo:
        captions = [step_caption(run.history, i, title) for i in range(len(run.history))]
        if view.projection is None:
            frames = density_frames(
                run.history, run.data.X[:, 0], slots=run.slots, captions=captions
            )
        else:
            frames = player_frames(
                run.history,
                run.data.X,
                view.projection,
                rows=view.rows,
                row_tasks=run.row_tasks,
                slots=run.slots,
                point_colors=view.point_colors,
                captions=captions,
                x_range=view.x_range,
                y_range=view.y_range,
            )
        digest = hashlib.sha1(json.dumps(frames, sort_keys=True).encode()).hexdigest()[:16]
        frames["run"] = digest  # the same frames keep the same id: the browser keeps them
        memo.clear()  # one view at a time: the previous view's frames are not needed again
        memo[key] = frames
    return memo[key]


def player(where, run, step: int, view: PlayerView, title) -> None:
    """Mount the player in ``where`` for ``run`` at ``step`` on ``view``; ``title`` names a
    snapshot's half-step in words (for the canvas caption)."""
    data = dict(frames_for(run, view, title))
    data.update(
        current=int(step),
        target=f".st-key-{view.target}",
        overlay=view.overlay,
        x_label=view.labels[0],
        y_label=view.labels[1],
        can_place=bool(view.can_place),
        palette_all=[list(c) for c in PALETTE],
    )
    with where:
        _COMPONENT(
            key=S.EM_PLAYER,
            data=data,
            on_stop_change=_on_stop,
            on_place_change=_on_place,
        )
    # What the callbacks need to turn the browser's message into the explorer's state.
    st.session_state[S.EM_PLAYER_CONTEXT] = {
        "last": run.last,
        "projection": view.projection,
        "X": run.data.X,
    }


def step_from_message(value, last: int) -> int | None:
    """The step a ``stop`` message asks for, clipped to 0..last (None for a malformed one)."""
    try:
        step = int(value["step"])
    except (TypeError, KeyError, ValueError):
        return None
    return max(0, min(step, int(last)))


def means_from_message(value, projection, X) -> list[list[float]] | None:
    """The starting means a ``place`` message carries, as rows of all the features (the clicked
    plane's points lifted through the data's mean), rounded for the manual-start table."""
    try:
        pts = np.asarray(value["means"], dtype=np.float64).reshape(-1, 2)
    except (TypeError, KeyError, ValueError):
        return None
    if pts.size == 0 or not np.isfinite(pts).all() or projection is None:
        return None
    means = lift_to_features(projection, pts, X)
    return [[round(float(v), 4) for v in row] for row in means]


def _message(name: str):
    result = st.session_state.get(S.EM_PLAYER)
    return None if result is None else result.get(name)


def _on_stop() -> None:
    context = st.session_state.get(S.EM_PLAYER_CONTEXT) or {}
    step = step_from_message(_message("stop"), context.get("last", 0))
    if step is not None:
        st.session_state[S.STEP] = step


def _on_place() -> None:
    from .explorer import start_from_means  # the explorer owns the manual start

    context = st.session_state.get(S.EM_PLAYER_CONTEXT) or {}
    means = means_from_message(_message("place"), context.get("projection"), context.get("X"))
    if means:
        start_from_means(means)
