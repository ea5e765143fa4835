"""Mixing weights per row: the one place that maps task labels to weight vectors.

A single mixture has one weight vector (K,); a shared multi-task mixture has one per task
(n_tasks, K). Every evaluation of a mixture on data (the estimator's ``predict``, the fitted
model's, the model file's criteria, the command line, the dashboard) goes through
:func:`row_log_weights`, and every pooled weight vector (the weights of the shared components
over all tasks, used for a task not seen in fitting) comes from :func:`pooled_weights`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .validation import task_labels

__all__ = ["UnknownTaskError", "pooled_weights", "row_log_weights", "safe_log"]


class UnknownTaskError(ValueError):
    """Rows of tasks the mixture was not fitted on, with no fallback asked for (or possible).

    Attributes
    ----------
    unseen : list of str
        The unknown task names, sorted.
    known : tuple of str
        The tasks the mixture knows.
    can_pool : bool
        Whether the pooled weights could stand in (shared components); False for a separate
        model, whose tasks share nothing.
    """

    def __init__(self, message: str, unseen, known, *, can_pool: bool):
        super().__init__(message)
        self.unseen, self.known, self.can_pool = list(unseen), tuple(known), can_pool


def safe_log(weights) -> np.ndarray:
    """log(weights) with exact zeros mapped to -inf without a RuntimeWarning (a component
    absent from a task has weight exactly 0)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(weights, dtype=np.float64))


def pooled_weights(task_weights, task_n_samples=None) -> np.ndarray:
    """Weights of shared components over all tasks: the average of the per-task weights
    weighted by each task's number of fitting rows (equal weights when the counts are unknown
    or all zero).

    Parameters
    ----------
    task_weights : array-like of shape (n_tasks, K)
    task_n_samples : array-like of shape (n_tasks,), optional

    Returns
    -------
    ndarray of shape (K,), summing to 1.

    Examples
    --------
    >>> pooled_weights([[1.0, 0.0], [0.5, 0.5]], [1, 3]).tolist()
    [0.625, 0.375]
    """
    w = np.asarray(task_weights, dtype=np.float64)
    counts = np.ones(w.shape[0]) if task_n_samples is None else np.asarray(task_n_samples, float)
    if counts.sum() <= 0:
        counts = np.ones(w.shape[0])
    pooled = counts @ w / counts.sum()
    return pooled / pooled.sum()


def row_log_weights(
    weights,
    tasks_known: Sequence[str] | None,
    tasks,
    n_samples: int,
    *,
    unknown_weights=None,
) -> np.ndarray:
    """Log mixing weights for every row, shape (K,) (the same for all rows) or (n_samples, K).

    Parameters
    ----------
    weights : ndarray of shape (K,) for a single mixture, or (n_tasks, K) per task
    tasks_known : tuple of str or None
        The task of each row of ``weights`` (None for a single mixture).
    tasks : array-like of shape (n_samples,) or None
        The task label of each row of the data (compared as strings).
    n_samples : int
    unknown_weights : ndarray of shape (K,), optional
        The explicit fallback for rows whose task is not in ``tasks_known`` (the pooled
        weights, see :func:`pooled_weights`). Without it such rows are a ValueError.

    Raises
    ------
    ValueError
        Tasks given to a single mixture or missing for a multi-task one, a label count that
        is not one per row, or an unknown task without a fallback; the message says what to
        pass instead.
    """
    if tasks_known is None:
        if tasks is not None:
            raise ValueError("this mixture has no tasks; call without tasks.")
        return safe_log(weights)
    if tasks is None:
        raise ValueError(
            f"this is a multi-task mixture; pass tasks (one of {list(tasks_known)} per row)."
        )
    labels = task_labels(tasks, n_samples)
    lookup = {t: i for i, t in enumerate(tasks_known)}
    unknown_code = len(tasks_known)
    codes = np.fromiter(
        (lookup.get(t, unknown_code) for t in labels.tolist()), np.intp, count=n_samples
    )
    table = np.asarray(weights, dtype=np.float64)
    if (codes == unknown_code).any():
        if unknown_weights is None:
            unseen = sorted(set(labels[codes == unknown_code].tolist()))
            raise UnknownTaskError(
                f"unknown task{'s' if len(unseen) > 1 else ''} "
                f"{', '.join(map(repr, unseen))}; the mixture knows {list(tasks_known)}. Pass "
                "unknown_task='pooled' to predict unseen tasks with the pooled weights.",
                unseen,
                tasks_known,
                can_pool=True,
            )
        table = np.vstack([table, np.asarray(unknown_weights, dtype=np.float64)[None]])
    return safe_log(table)[codes]
