"""What the EM explorer's stepper shows: one restart's history on the prepared data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gmmcore.viz import explain

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
    """

    data: PreparedDataset
    history: Sequence
    row_tasks: np.ndarray | None
    _responsibilities: dict = field(default_factory=dict, repr=False)

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
