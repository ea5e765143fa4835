"""The Export & import page's panels: the fitted model as JSON and per-row results as CSV; a
loaded model file's predictions on a new table."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from gmmcore import ModelFileError, UnknownTaskError, from_json, to_json
from gmmcore.data_range import out_of_range_message
from gmmcore.io.csv_safe import to_safe_csv
from gmmcore.io.limits import MAX_MODEL_BYTES, model_size_message
from gmmcore.io.tables import DEFAULT_MAX_BYTES, TableFileError, read_table

from . import results as R
from . import state as S
from .data import PreparedDataset, content_hash, uses_tasks
from .data_page import UPLOAD_TYPES
from .widgets import cov_label, current_data_or_stop, current_fit_or_stop

# Rows shown in the previews (the downloads hold every row).
PREVIEW_ROWS = 500
# Lines of the model file shown in its preview.
PREVIEW_LINES = 60


def intro() -> None:
    """The title and what can be taken away or brought in."""
    st.title("Export & import")
    st.markdown(
        "Take the fitted model with you as a documented **JSON file** (no pickle: it loads back "
        "with `gmmcore.load_model` or `python -m gmmcore predict`), download each row's "
        "component and responsibilities, or load a model file and predict on a new CSV."
    )


# -- export ----------------------------------------------------------------------------------


def export_panel() -> None:
    """The current fit (the restart open in the explorer) as a model file and a per-row CSV."""
    data = current_data_or_stop()
    model = current_fit_or_stop(data)
    use_tasks = uses_tasks(data, st.session_state[S.FIT_SETTINGS])
    _use_explorer_restart(model)
    fit_summary(data, model)
    st.checkbox(
        "Include the EM history (every half-step) in the file",
        key=S.INCLUDE_HISTORY,
        persist_state="session",
    )
    text = model_json_or_stop(model, data, use_tasks)
    table = R.row_results(model, data, use_tasks)
    downloads(text, table)
    model_preview(text)
    row_results_preview(data, table)


def _use_explorer_restart(model) -> None:
    # Export what the user is looking at: the restart open in the explorer, if not the best.
    shown = st.session_state.get(S.RESTART)
    if shown is not None and shown != model.best_restart_ and 0 <= shown < len(model.restarts_):
        model.use_restart(shown)
        st.info(f"Exporting restart {shown}, the one open in the EM explorer (not the best one).")


def fit_summary(data: PreparedDataset, model) -> None:
    """One line: dataset, K, covariance type, iterations, convergence, features."""
    st.markdown(
        f"**{data.name}** · K = {model.n_components}, "
        f"{cov_label(model.covariance_type)}, {model.n_iter_} iterations, "
        f"{'converged' if model.converged_ else 'not converged'} · features: "
        f"{', '.join(data.features)}"
        + (" (standardized; the file keeps the scaling)" if data.standardizer else "")
    )


def model_json_or_stop(model, data: PreparedDataset, use_tasks: bool) -> str:
    """The model file's text, or an st.error and a stop when the model cannot be written."""
    try:
        return to_json(
            model,
            feature_names=list(data.features),
            standardizer=data.standardizer,
            X=data.X_raw,
            tasks=data.tasks if use_tasks else None,
            include_history=bool(st.session_state[S.INCLUDE_HISTORY]),
        )
    except ValueError as exc:
        st.error(f"The model cannot be exported: {exc}")
        st.stop()


def downloads(text: str, table: pd.DataFrame) -> None:
    """The model file and the per-row results, side by side."""
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download the model (JSON)",
        text.encode("utf-8"),
        file_name="gmm_model.json",
        mime="application/json",
        type="primary",
        key=S.DOWNLOAD_MODEL,
        icon=":material/download:",
    )
    c2.download_button(
        "Download labels + responsibilities (CSV)",
        to_safe_csv(table, index=False).encode("utf-8"),
        file_name="gmm_labels.csv",
        mime="text/csv",
        key=S.DOWNLOAD_LABELS,
        icon=":material/download:",
    )


def model_preview(text: str) -> None:
    """The first PREVIEW_LINES lines of the model file."""
    with st.expander("Preview of the model file", expanded=True):
        lines = text.splitlines()
        st.code(
            "\n".join(lines[:PREVIEW_LINES]) + ("\n…" if len(lines) > PREVIEW_LINES else ""),
            language="json",
        )
        st.caption(f"{len(text):,} characters, {len(lines):,} lines.")


def row_results_preview(data: PreparedDataset, table: pd.DataFrame) -> None:
    """The first rows of the per-row results."""
    st.markdown(
        "**Per-row results** (original columns, then the most likely component and each "
        "component's responsibility)"
    )
    if data.n_dropped:
        st.caption(f"{data.n_dropped} row(s) with missing values were not fitted and are left out.")
    st.dataframe(table.head(PREVIEW_ROWS).round(6), hide_index=True, key=S.LABELS_PREVIEW)


# -- import ----------------------------------------------------------------------------------


def import_panel() -> None:
    """Upload a model file and a table; show and offer the model's predictions on it."""
    st.markdown(
        "Upload a model file (from this page or `python -m gmmcore fit`) and a CSV/TSV "
        "with the model's feature columns."
    )
    c1, c2 = st.columns(2)
    model_file = c1.file_uploader("Model file (JSON)", type=["json"], key=S.MODEL_UPLOAD)
    # No type=[...] (as on the Data page): every file is read, and one that is not a table gets
    # the reader's message naming what it is and the accepted formats.
    csv_file = c2.file_uploader(
        f"Data: CSV/TSV, Excel or Parquet ({UPLOAD_TYPES})", key=S.PREDICT_UPLOAD
    )
    fitted = loaded_model(model_file)
    frame = loaded_table(csv_file)
    if fitted is not None and frame is not None:
        predictions(fitted, frame, hashlib.sha1(model_file.getvalue()).hexdigest())
    elif fitted is None and frame is None:
        st.info("Waiting for a model file and a data file.")


def loaded_model(model_file):
    """The uploaded model file loaded (with a one-line summary), or None with the loader's
    error when it is not a valid model file."""
    if model_file is None:
        return None
    try:
        fitted = parsed_model(model_file.getvalue())
    except (ModelFileError, ValueError) as exc:
        st.error(f"This model file cannot be loaded: {exc}")
        return None
    st.success(
        f"Loaded: K = {fitted.n_components}, {cov_label(fitted.covariance_type)}, "
        f"features {', '.join(fitted.feature_names)}"
        + (f", tasks {', '.join(map(str, fitted.tasks))}" if fitted.tasks else "")
    )
    return fitted


# Parsing and checking a large model file takes seconds; Streamlit reruns the page on every
# interaction, so the parsed model is kept per file content (sha1) instead of parsed again.
# cache_resource, not cache_data: a FittedModel is read-only once loaded and copying (pickling)
# a 45 MB model on every read would cost what parsing does. Bounds: 4 models of at most
# MAX_MODEL_BYTES each (their arrays take about the file's size), freed after 30 minutes.
@st.cache_resource(max_entries=4, ttl=1800, show_spinner="Loading the model file…")
def _parse_model(digest: str, _data: bytes):
    return from_json(_data)


def parsed_model(data: bytes):
    """The model in ``data`` (a model file's bytes), parsed once per content."""
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFileError(model_size_message(len(data)))
    return _parse_model(hashlib.sha1(data).hexdigest(), data)


# The predictions of a model on a table, per (model, table, task column): a rerun of the page
# (any click) redrew them by predicting again, minutes for K = 10,000. Bounds: 4 entries, 30
# minutes; each is the table plus K columns.
@st.cache_data(max_entries=4, ttl=1800, show_spinner="Predicting…")
def _predict(model_digest: str, table_digest: str, task_col, pool_unseen: bool, _fitted, _frame):
    out, n_dropped = R.predict_table(_fitted, _frame, task_col, pool_unseen=pool_unseen)
    used = out[list(_fitted.feature_names)]
    return out, n_dropped, out_of_range_message(_fitted, used) if len(used) else None


def loaded_table(csv_file) -> pd.DataFrame | None:
    """The uploaded table, or None (with the parser's error when it cannot be read)."""
    if csv_file is None:
        return None
    try:
        frame, _ = read_table(
            csv_file.getvalue(), name=f"'{csv_file.name}'", max_bytes=DEFAULT_MAX_BYTES
        )
    except TableFileError as exc:
        st.error(str(exc))
        return None
    return frame


def unknown_task_message(exc: UnknownTaskError, task_col) -> str:
    """gmmcore's UnknownTaskError in the page's own terms (its message names a Python
    argument, ``unknown_task='pooled'``, that nobody can pass here)."""
    unseen = ", ".join(f"'{t}'" for t in exc.unseen[:10]) + (
        f" and {len(exc.unseen) - 10} more" if len(exc.unseen) > 10 else ""
    )
    known = ", ".join(f"'{t}'" for t in exc.known)
    head = (
        f"Column '{task_col}' has rows of task(s) {unseen} that the model was not fitted on "
        f"(it knows {known})."
    )
    if exc.can_pool:
        return (
            f"{head} Tick **Use the pooled weights for unseen tasks** above to predict them "
            "with the shared components' overall weights, or choose the task column whose "
            "values are the model's tasks."
        )
    return (
        f"{head} This model fits a separate mixture per task, so there is nothing to predict "
        "an unseen task with: choose the task column whose values are the model's tasks, "
        "remove those rows from the file, or fit a shared model (Tasks page) instead."
    )


def predictions(fitted, frame: pd.DataFrame, model_digest: str) -> None:
    """The loaded model's predictions on ``frame`` (asking for the task column of a multi-task
    model), previewed and offered as CSV."""
    task_col = None
    if fitted.tasks:
        options = [c for c in frame.columns if c not in fitted.feature_names]
        if not options:
            st.error("This is a multi-task model: the CSV needs a task column.")
            st.stop()
        # Default to the column whose values are the model's tasks (not merely the first
        # non-feature column, e.g. the penguins' species instead of their island).
        known = {str(t) for t in fitted.tasks}
        best = max(options, key=lambda c: float(frame[c].astype(str).isin(known).mean()))
        if st.session_state.get(S.PREDICT_TASK_COLUMN) not in options:
            st.session_state[S.PREDICT_TASK_COLUMN] = best
        task_col = st.selectbox("Task column", options, key=S.PREDICT_TASK_COLUMN)
    pool = False
    if fitted.tasks and fitted.mode == "shared":
        pool = st.checkbox(
            "Use the pooled weights for unseen tasks",
            key=S.PREDICT_POOL_UNSEEN,
            persist_state="session",
            help="Rows whose task the model was not fitted on are predicted with the "
            "components' weights over all fitted tasks (the model's components are shared, "
            "only the weights are per task).",
        )
    try:
        out, n_dropped, far = _predict(
            model_digest, content_hash(frame), task_col, bool(pool), fitted, frame
        )
    except UnknownTaskError as exc:
        st.error(unknown_task_message(exc, task_col))
        return
    except ValueError as exc:
        st.error(f"Cannot predict on this file: {exc}")
        return
    if far:
        st.warning(far[0].upper() + far[1:] + ".")
    if n_dropped:
        st.warning(f"{n_dropped} row(s) with a missing feature value were left out.")
    # Rounded like the export preview: a responsibility of 8e-22 printed in full was a string
    # of zeros; the download keeps every digit.
    st.dataframe(out.head(PREVIEW_ROWS).round(6), hide_index=True, key=S.PREDICTIONS_PREVIEW)
    st.download_button(
        "Download the predictions (CSV)",
        to_safe_csv(out, index=False).encode(),
        file_name="gmm_predictions.csv",
        mime="text/csv",
        key=S.DOWNLOAD_PREDICTIONS,
        icon=":material/download:",
    )
