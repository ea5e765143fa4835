"""Cached loaders and fitters, keyed by a content hash of the data.

Streamlit hashes large arrays by sampling them; we hash the content ourselves (sha1 of the
bytes) and pass the arrays as ``_underscore`` arguments that ``st.cache_data`` does not hash.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from gmmcore.mixture import GaussianMixture
from gmmcore.preprocessing import Standardizer
from gmmcore.selection import model_grid
from gmmcore.io.tables import prepare_features

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
    return content_hash(frame)


@st.cache_data(max_entries=16, show_spinner=False)
def _prepare(token: str, _frame: pd.DataFrame, features: tuple, task_column, label_column,
             standardize: bool) -> dict:
    prep = prepare_features(_frame, features, task_column=task_column, label_column=label_column)
    standardizer = Standardizer.fit(prep.X) if standardize else None
    X = standardizer.transform(prep.X) if standardizer is not None else prep.X
    return {
        "X": X, "X_raw": prep.X, "features": prep.features, "tasks": prep.tasks,
        "labels": prep.labels, "row_index": prep.row_index, "n_dropped": prep.n_dropped,
        "standardizer": standardizer, "key": content_hash(X, prep.tasks),
        "task_column": task_column, "label_column": label_column,
    }


def current() -> dict:
    """The active dataset prepared for fitting, or raise ValueError with what is wrong.

    Keys: X (fit units), X_raw, features, tasks, labels, row_index, n_dropped, standardizer,
    key (content hash of X and tasks), name, frame, task_column, label_column.
    """
    s = st.session_state
    ds = s[S.DATASET]
    if "token" not in ds:
        ds["token"] = frame_token(ds["frame"])
    task = s.get(S.TASK_COLUMN)
    label = s.get(S.LABEL_COLUMN)
    task = None if task in (None, S.NONE) else task
    label = None if label in (None, S.NONE) else label
    out = dict(_prepare(ds["token"], ds["frame"], tuple(s.get(S.FEATURES) or ()), task, label,
                        bool(s.get(S.STANDARDIZE))))
    out["name"] = ds["name"]
    out["frame"] = ds["frame"]
    return out


@st.cache_data(max_entries=32, show_spinner=False)
def fit_model(data_key: str, _X, _tasks, settings: tuple) -> GaussianMixture:
    """GaussianMixture fitted with ``settings`` (a sorted tuple of items); every restart's
    history is in ``restarts_``."""
    params = dict(settings)
    use_tasks = params.pop("use_tasks", False)
    model = GaussianMixture(**params)
    model.fit(_X, tasks=_tasks if use_tasks else None)
    return model


def fit_current(data: dict, settings: dict) -> GaussianMixture:
    use_tasks = bool(settings.get("use_tasks")) and data["tasks"] is not None
    items = tuple(sorted({**settings, "use_tasks": use_tasks}.items()))
    return fit_model(data["key"], data["X"], data["tasks"], items)


@st.cache_data(max_entries=8, show_spinner=False)
def run_grid(data_key: str, _X, _tasks, k_range: tuple, types: tuple, fit_params: tuple,
             _progress=None) -> pd.DataFrame:
    """model_grid over K in k_range (inclusive) x types; ``fit_params`` are the sorted items of
    n_init, tol, reg_covar, max_iter, init_params, random_state."""
    return model_grid(_X, range(k_range[0], k_range[1] + 1), types, tasks=_tasks,
                      progress=_progress, **dict(fit_params))


@st.cache_data(max_entries=8, show_spinner=False)
def compare_modes(data_key: str, _X, _tasks, k: int, covariance_type: str):
    from gmmcore.multitask import compare_modes as _compare

    return _compare(_X, _tasks, k, covariance_type=covariance_type, random_state=0)


@st.cache_data(max_entries=8, show_spinner=False)
def fit_shared(data_key: str, _X, _tasks, k: int, covariance_type: str):
    """The shared-components model on all rows, with compare_modes' settings (seed 0)."""
    from gmmcore.multitask import fit_multitask

    return fit_multitask(_X, _tasks, k, mode="shared", covariance_type=covariance_type,
                         random_state=0)
