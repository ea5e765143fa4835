"""Colours of the figures: a component in colour slot s gets ``PALETTE[s]`` (component k is in
slot k unless :mod:`gmmcore.viz.identity` matched it to another fit's cluster), task t
``TASK_PALETTE[t]``, and a point is the blend of its components' colours by its
responsibilities."""

from __future__ import annotations

import numpy as np

__all__ = [
    "GREY",
    "MODE_COLORS",
    "PALETTE",
    "TASK_PALETTE",
    "blend_colors",
    "blend_rgb",
    "component_color",
    "slot_list",
    "task_color",
]

PALETTE = (
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
    (0, 0, 0),
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
GREY = (160, 160, 160)
# Tasks get their own colours (ColorBrewer Dark2), distinct in role from the component colours.
TASK_PALETTE = (
    (27, 158, 119),
    (217, 95, 2),
    (117, 112, 179),
    (231, 41, 138),
    (102, 166, 30),
    (230, 171, 2),
    (166, 118, 29),
    (102, 102, 102),
)
MODE_COLORS = {
    "pooled": "rgb(150,150,150)",
    "separate": "rgb(230,159,0)",
    "shared": "rgb(0,114,178)",
}


def component_color(k: int, alpha: float | None = None) -> str:
    r, g, b = PALETTE[k % len(PALETTE)]
    return f"rgb({r},{g},{b})" if alpha is None else f"rgba({r},{g},{b},{alpha})"


def task_color(t: int) -> str:
    """Colour of the t-th task (in sorted task order) when points are coloured by task."""
    r, g, b = TASK_PALETTE[t % len(TASK_PALETTE)]
    return f"rgb({r},{g},{b})"


def slot_list(slots, k: int) -> list[int]:
    """The colour slot of each of ``k`` components: ``slots`` (see
    :mod:`gmmcore.viz.identity`), or component j in slot j."""
    return list(range(k)) if slots is None else [int(s) for s in slots]


def _palette(k: int, slots=None) -> np.ndarray:
    return np.array([PALETTE[s % len(PALETTE)] for s in slot_list(slots, k)], dtype=np.float64)


def blend_rgb(resp, slots=None) -> np.ndarray:
    """One RGB triple (0-255 integers) per point: the responsibility-weighted mix of the
    component colours, shape (n_samples, 3)."""
    resp = np.asarray(resp, dtype=np.float64)
    return np.clip(np.rint(resp @ _palette(resp.shape[1], slots)), 0, 255).astype(np.uint8)


def blend_colors(resp, slots=None) -> list[str]:
    """One colour per point: the responsibility-weighted mix of the component colours.

    resp : array of shape (n_samples, K), rows summing to 1
    slots : colour slot of each component (default: component j in slot j)
    """
    return [f"rgb({r},{g},{b})" for r, g, b in blend_rgb(resp, slots).tolist()]
