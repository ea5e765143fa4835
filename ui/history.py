"""What the EM explorer's stepper shows: one restart's history on the prepared data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from gmmcore.viz import explain
from gmmcore.viz.identity import data_scale, identity_slots, match_components, valid_slots

from . import state as S
from .data import PreparedDataset


@dataclass(frozen=True, eq=False)
class StepperRun:
    """One restart's snapshots with the data they were fitted on.

    Built once per script run and passed to the stepper fragment, which Streamlit calls again
    with this same object on its own reruns (the Play timer): the responsibilities memo then
    lives until the next full run, as long as the history it belongs to.

    Attributes
    ----------
    data : PreparedDataset
        The rows the fit used.
    history : sequence of Snapshot
        Initialization, then every E and M half-step of the restart shown.
    row_tasks : ndarray of str of shape (n_samples,) or None
        The tasks the fit used: ``data.tasks`` when it shares components across tasks, else
        None (the task column then only colours and filters the points).
    slots : ndarray of int of shape (n_components,) or None
        Each component's colour slot (see ``component_slots``); None: component j in slot j.
    """

    data: PreparedDataset
    history: Sequence
    row_tasks: np.ndarray | None
    slots: np.ndarray | None = None
    _responsibilities: dict = field(default_factory=dict, repr=False)
    _frames: dict = field(default_factory=dict, repr=False)  # the player's (ui/player.py)

    @property
    def last(self) -> int:
        """The index of the final half-step."""
        return len(self.history) - 1

    def responsibilities(self, step: int):
        """The responsibilities the points are coloured with at ``step`` (None at the
        initialization), recomputed from the snapshot once per step and kept."""
        if step not in self._responsibilities:
            self._responsibilities[step] = explain.display_responsibilities(
                self.history, step, self.data.X, self.row_tasks
            )
        return self._responsibilities[step]


def component_slots(model, restart: int, data: PreparedDataset) -> np.ndarray:
    """The colour slot of each component of ``restart`` of the applied fit.

    The best restart's components are matched on their final means to the fit shown before
    (another K, seed or covariance type on the same data), or take the slots of a shared link;
    another restart's components are matched to the best restart's. So a colour keeps naming a
    cluster across restarts and K; the component numbers stay the model's own.
    """
    s = st.session_state
    settings, view = s[S.FIT_SETTINGS], S.colour_view()
    best = np.asarray(model.restarts_[model.best_restart_].history[-1].means)
    k = best.shape[0]
    scale = data_scale(data.X)
    anchor = s.get(S.COLOR_ANCHOR)
    pending = s.pop(S.URL_SLOTS, None)
    if anchor and anchor["settings"] == settings and anchor["view"] == view:
        best_slots = np.asarray(anchor["slots"])
    elif pending is not None and valid_slots(pending, k):
        best_slots = np.asarray(pending)
    elif anchor and anchor["data"] == data.key and anchor["means"].shape[1] == best.shape[1]:
        best_slots = match_components(anchor["means"], best, anchor["slots"], scale=scale)
    else:
        best_slots = identity_slots(k)
    s[S.COLOR_ANCHOR] = {
        "settings": settings,
        "view": view,
        "data": data.key,
        "means": best,
        "slots": best_slots,
    }
    if restart == model.best_restart_:
        return best_slots
    means = np.asarray(model.restarts_[restart].history[-1].means)
    return match_components(best, means, best_slots, scale=scale)


def slots_for_means(means) -> np.ndarray | None:
    """The colour slots the explorer gave a fit with these final ``means`` (so another page
    showing the same fit colours its components the same), or None."""
    anchor = st.session_state.get(S.COLOR_ANCHOR)
    means = np.asarray(means)
    if anchor and anchor["means"].shape == means.shape and np.allclose(anchor["means"], means):
        return np.asarray(anchor["slots"])
    return None
