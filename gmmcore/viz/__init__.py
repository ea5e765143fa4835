"""Figures: Plotly figure builders and the numbers behind the explorer's panels.

Data in, ``go.Figure`` out, no streamlit, so the same figures work in a notebook:
:mod:`~gmmcore.viz.plots` (a mixture over its data), :mod:`~gmmcore.viz.charts` (EM's progress
and model comparisons), :mod:`~gmmcore.viz.colors`, :mod:`~gmmcore.viz.explain` (the E/M
formulas on the current numbers), :mod:`~gmmcore.viz.projection` (PCA views of ellipses) and
:mod:`~gmmcore.viz.agreement` (agreement with known labels).
"""

from .charts import (
    criteria_figure,
    log_likelihood_figure,
    mode_comparison_figure,
    restarts_figure,
    task_weights_heatmap,
)
from .colors import GREY, PALETTE, blend_colors, component_color, task_color
from .matrix import scatter_matrix_figure
from .plots import (
    SD_LEVELS,
    axis_ranges,
    ellipse_mass,
    ellipse_points,
    em_scatter,
    histogram_figure,
    subsample_indices,
)

__all__ = [
    "GREY",
    "PALETTE",
    "SD_LEVELS",
    "axis_ranges",
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
