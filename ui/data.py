"""The prepared dataset (``PreparedDataset``) and the cached loaders and fitters, keyed by a
content hash of the data.

Streamlit hashes large arrays by sampling them; we hash the content ourselves (sha1 of the
bytes) and pass the arrays as ``_underscore`` arguments that ``st.cache_data`` does not hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from gmmcore.io.tables import prepare_features
from gmmcore.mixture import GaussianMixture
from gmmcore.preprocessing import Standardizer

from . import state as S


def content_hash(*parts) -> str:
    """sha1 over arrays' bytes (plus shape and dtype), frames and plain values."""
    h = hashlib.sha1()
    for part in parts:
        if part is None:
            h.update(b"<none>")
        elif isinstance(part, pd.DataFrame):
            h.update(repr(list(part.columns)).encode())
            h.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif hasattr(part, "tobytes") and hasattr(part, "dtype"):
            if part.dtype == object:
                h.update(repr(part.tolist()).encode())
            else:
                h.update(repr((part.shape, str(part.dtype))).encode())
                h.update(part.tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


def frame_token(frame: pd.DataFrame) -> str:
    """The content hash of a whole table (computed once per loaded dataset)."""
    return content_hash(frame)


@dataclass(frozen=True, eq=False)
class PreparedDataset:
    """The active dataset as every page uses it: the rows a fit uses, in fit units.

    It carries the fields of ``gmmcore.io.tables.PreparedData`` (whose ``X`` is in raw units:
    here that is ``X_raw``, and ``X`` is the standardized copy when standardization is on), plus
    what the pages need around it. ``eq=False``: instances compare by identity, since comparing
    arrays field by field has no single truth value.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The rows the fit uses, in fit units (standardized when ``standardizer`` is set).
    X_raw : ndarray of shape (n_samples, n_features)
        The same rows in the data's own units (what the model file's standardizer expects).
    features : tuple of str
        The feature column names, in the column order of ``X``.
    tasks : ndarray of str of shape (n_samples,) or None
        Each row's task (value of ``task_column``), or None without a task column.
    labels : ndarray of str of shape (n_samples,) or None
        Each row's known class (value of ``label_column``), or None without a label column.
    row_index : ndarray of int of shape (n_samples,)
        Positions in ``frame`` of the rows kept (rows with a missing value are dropped).
    n_dropped : int
        How many rows were dropped for a missing value in a used column.
    standardizer : Standardizer or None
        The z-score scaling fitted on ``X_raw``, or None when the features are not standardized.
    key : str
        Content hash of ``X`` and ``tasks``: the cache key of every fit on this data.
    task_column, label_column : str or None
        The chosen task and label columns of ``frame``.
    name : str
        The dataset's display name.
    frame : DataFrame
        The whole table as loaded (every column and row, before dropping).
    """

    X: np.ndarray
    X_raw: np.ndarray
    features: tuple[str, ...]
    tasks: np.ndarray | None
    labels: np.ndarray | None
    row_index: np.ndarray
    n_dropped: int
    standardizer: Standardizer | None
    key: str
    task_column: str | None
    label_column: str | None
    name: str
    frame: pd.DataFrame

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


# Bounded by entries and by age (ttl), so results of closed sessions do not stay in memory.
@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _prepare(
    token: str, _frame: pd.DataFrame, features: tuple, task_column, label_column, standardize: bool
) -> dict:
    """The cached part of ``current()``: everything but the name and the frame, which stay
    out of the cache so it does not hold (and copy on every read) a second copy of the table."""
    prep = prepare_features(_frame, features, task_column=task_column, label_column=label_column)
    standardizer = Standardizer.fit(prep.X) if standardize else None
    X = standardizer.transform(prep.X) if standardizer is not None else prep.X
    return {
        "X": X,
        "X_raw": prep.X,
        "features": tuple(prep.features),
        "tasks": prep.tasks,
        "labels": prep.labels,
        "row_index": prep.row_index,
        "n_dropped": int(prep.n_dropped),
        "standardizer": standardizer,
        "key": content_hash(X, prep.tasks),
        "task_column": task_column,
        "label_column": label_column,
    }


def current() -> PreparedDataset:
    """The active dataset prepared for fitting, or raise ValueError with what is wrong."""
    s = st.session_state
    ds = s[S.DATASET]
    if "token" not in ds:
        ds["token"] = frame_token(ds["frame"])
    task = s.get(S.TASK_COLUMN)
    label = s.get(S.LABEL_COLUMN)
    task = None if task in (None, S.NONE) else task
    label = None if label in (None, S.NONE) else label
    parts = _prepare(
        ds["token"],
        ds["frame"],
        tuple(s.get(S.FEATURES) or ()),
        task,
        label,
        bool(s.get(S.STANDARDIZE)),
    )
    return PreparedDataset(**parts, name=ds["name"], frame=ds["frame"])


def uses_tasks(data: PreparedDataset, settings: dict) -> bool:
    """Whether a fit with ``settings`` shares its components across ``data``'s tasks (it asks
    for it and the data has a task column)."""
    return bool(settings.get("use_tasks")) and data.tasks is not None


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def fit_model(data_key: str, _X, _tasks, settings: tuple) -> GaussianMixture:
    """GaussianMixture fitted with ``settings`` (a sorted tuple of items); every restart's
    history is in ``restarts_``."""
    params = dict(settings)
    use_tasks = params.pop("use_tasks", False)
    # Every core for the E-step (results do not depend on it: bit-identical for any n_jobs).
    model = GaussianMixture(**{"n_jobs": -1, **params})
    model.fit(_X, tasks=_tasks if use_tasks else None)
    return model


def fit_current(data: PreparedDataset, settings: dict) -> GaussianMixture:
    """The (cached) fit of ``data`` with the applied ``settings``."""
    items = tuple(sorted({**settings, "use_tasks": uses_tasks(data, settings)}.items()))
    return fit_model(data.key, data.X, data.tasks, items)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def compare_modes(data_key: str, _X, _tasks, k: int, covariance_type: str):
    from gmmcore.multitask import compare_modes as _compare

    return _compare(_X, _tasks, k, covariance_type=covariance_type, random_state=0)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def fit_shared(data_key: str, _X, _tasks, k: int, covariance_type: str):
    """The shared-components model on all rows, with compare_modes' settings (seed 0)."""
    from gmmcore.multitask import fit_multitask

    return fit_multitask(
        _X, _tasks, k, mode="shared", covariance_type=covariance_type, random_state=0
    )
