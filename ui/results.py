"""Per-row result tables for download (pandas bookkeeping only; the numbers come from gmmcore)."""

from __future__ import annotations

import pandas as pd

from .data import PreparedDataset


def _with_resp(base: pd.DataFrame, resp) -> pd.DataFrame:
    # One frame for the K responsibility columns, joined once: inserting them one by one
    # fragments the frame (a PerformanceWarning per column past 100, minutes at K = 10,000).
    base = base.reset_index(drop=True)
    added = pd.DataFrame(resp, columns=[f"responsibility_{j}" for j in range(resp.shape[1])])
    added.insert(0, "component", resp.argmax(axis=1))
    keep = [c for c in base.columns if c not in added.columns]
    return pd.concat([base[keep], added], axis=1)


def row_results(model, data: PreparedDataset, use_tasks: bool) -> pd.DataFrame:
    """The fitted rows' original columns (task column included), the most likely component and
    every responsibility."""
    resp = model.predict_proba(data.X, tasks=data.tasks if use_tasks else None)
    base = data.frame.iloc[data.row_index]
    return _with_resp(base, resp)


def predict_table(
    fitted, frame: pd.DataFrame, task_column=None, *, pool_unseen: bool = False
) -> tuple[pd.DataFrame, int]:
    """Predictions of a loaded model on a raw frame; rows missing a feature are left out.
    With ``pool_unseen``, rows of tasks a shared model was not fitted on get its pooled
    weights.

    Returns (table, number of rows left out). Raises ValueError when columns are missing, and
    gmmcore's UnknownTaskError for rows of unseen tasks without ``pool_unseen``.
    """
    missing = [f for f in fitted.feature_names if f not in frame.columns]
    if missing:
        raise ValueError(
            f"the file lacks the model's feature column(s) {missing}; it has "
            f"{list(map(str, frame.columns))}."
        )
    used = list(fitted.feature_names) + ([task_column] if task_column else [])
    complete = frame[used].notna().all(axis=1)
    kept = frame[complete]
    tasks = kept[task_column].astype(str).to_numpy() if task_column else None
    resp = fitted.predict_proba(
        kept[fitted.feature_names], tasks, unknown_task="pooled" if pool_unseen else "error"
    )
    return _with_resp(kept, resp), int((~complete).sum())
