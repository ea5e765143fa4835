"""The Data page's panels: where the data comes from, the columns used, and what was loaded."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gmmcore.datasets import COVARIANCE_SHAPES, SAMPLES, make_mixture
from gmmcore.io.table_formats import ACCEPTED_EXTENSIONS, excel_sheet_names
from gmmcore.io.tables import (
    DEFAULT_MAX_BYTES,
    TableFileError,
    numeric_columns,
    read_table,
    suggest_standardize,
)

from . import state as S
from .data import PreparedDataset

SAMPLE, UPLOAD, SYNTHETIC = "Sample dataset", "Upload a file", "Synthetic"
# Rows shown in the preview table (the browser draws every row it is sent).
PREVIEW_ROWS = 500
# The upload's label lists the accepted file types (the widget itself takes any file).
UPLOAD_TYPES = ", ".join(f".{ext}" for ext in ACCEPTED_EXTENSIONS)


def intro() -> None:
    """The title and what a Gaussian mixture is, in one paragraph."""
    st.title("Data")
    st.markdown(
        "A **Gaussian mixture** explains the rows of a table as drawn from K overlapping "
        "bell-shaped clusters. Pick the data here, then open the **EM explorer** to watch the "
        "mixture being fitted one step at a time."
    )


def source_panel() -> None:
    """The source radio and the chosen source's controls (sample, upload or generator)."""
    source = st.radio(
        "Where does the data come from?",
        [SAMPLE, UPLOAD, SYNTHETIC],
        key=S.DATA_SOURCE,
        persist_state="session",
        horizontal=True,
    )
    if source == SAMPLE:
        sample_picker()
    elif source == UPLOAD:
        upload_picker()
    else:
        synthetic_form()


def _load_chosen_sample() -> None:
    S.load_sample_dataset(st.session_state[S.SAMPLE_NAME])


def sample_picker() -> None:
    """The sample datasets; choosing one loads it."""
    s = st.session_state
    st.selectbox(
        "Sample dataset",
        list(SAMPLES),
        key=S.SAMPLE_NAME,
        persist_state="session",
        on_change=_load_chosen_sample,
    )
    st.caption(SAMPLES[s[S.SAMPLE_NAME]].description)
    # After an upload or a generated dataset, the selectbox still shows the last sample:
    # offer to load it back.
    if s[S.DATASET]["origin"] != "sample" or s[S.DATASET]["name"] != s[S.SAMPLE_NAME]:
        st.button("Load this sample", key=S.LOAD_SAMPLE_BUTTON, on_click=_load_chosen_sample)


def upload_picker() -> None:
    """The file uploader, and a sheet picker for a workbook with several sheets. A good file
    becomes the dataset; a bad one sets UPLOAD_ERROR and leaves the previous dataset in place."""
    s = st.session_state
    # No type=[...]: with one, the browser refuses any other file with a terse note of its own
    # and the script never sees it. Every file is read and a refused one gets the reader's
    # message, which says what the file is and which formats are accepted.
    st.file_uploader(
        f"Data file with a header row: CSV/TSV, Excel or Parquet ({UPLOAD_TYPES}; up to "
        f"{DEFAULT_MAX_BYTES // 2**20} MB)",
        key=S.UPLOAD,
        help="CSV/TSV: comma, tab, semicolon or pipe separated, UTF-8 or Latin-1. Excel: the "
        "first sheet, or the one you pick below. The format is told from the file's content.",
        # Parsed in the callback, before the run draws anything: the sidebar then names the
        # new dataset on this very run.
        on_change=_parse_upload,
    )
    sheets = s.get(S.UPLOAD_SHEETS) or []
    if s.get(S.UPLOAD) is not None and len(sheets) > 1:
        st.selectbox(
            "Sheet",
            sheets,
            key=S.UPLOAD_SHEET,
            on_change=_load_chosen_sheet,
            help="The workbook's sheets; the data is read from the one chosen here.",
        )


def _parse_upload() -> None:
    s = st.session_state
    upload = s.get(S.UPLOAD)
    # The uploader keeps returning the same file on every rerun: parse it once, or every
    # rerun would reset the column choices made since.
    if upload is None or s.get(S.UPLOAD_SEEN) == upload.file_id:
        return
    s[S.UPLOAD_SEEN] = upload.file_id
    try:
        sheets = excel_sheet_names(upload.getvalue(), name=f"'{upload.name}'")
    except TableFileError:  # read_table below says what is wrong with the file
        sheets = []
    s[S.UPLOAD_SHEETS] = sheets
    s[S.UPLOAD_SHEET] = sheets[0] if sheets else None
    _load_upload(upload, None)


def _load_chosen_sheet() -> None:
    upload = st.session_state.get(S.UPLOAD)
    if upload is not None:
        _load_upload(upload, st.session_state[S.UPLOAD_SHEET])


def _load_upload(upload, sheet) -> None:
    s = st.session_state
    try:
        frame, info = read_table(
            upload.getvalue(), name=f"'{upload.name}'", max_bytes=DEFAULT_MAX_BYTES, sheet=sheet
        )
    except TableFileError as exc:
        s[S.UPLOAD_ERROR] = str(exc)
    else:
        several = len(info.get("sheets") or ()) > 1
        name = f"{upload.name}, sheet {info['sheet']}" if several else upload.name
        S.set_dataset(name, "upload", frame, info)
        s[S.UPLOAD_ERROR] = None


def _generate() -> None:
    # Callback of Generate: a dataset drawn from a random mixture with the form's settings.
    s = st.session_state
    n_tasks = int(s[S.SYN_TASKS])
    d = int(s[S.SYN_D])
    frame, _ = make_mixture(
        int(s[S.SYN_N]),
        d,
        int(s[S.SYN_K]),
        separation=float(s[S.SYN_SEP]),
        covariance_shape=s[S.SYN_SHAPE],
        n_tasks=n_tasks,
        random_state=int(s[S.SYN_SEED]),
    )
    name = (
        f"Synthetic: N={s[S.SYN_N]}, D={d}, K={s[S.SYN_K]}, {s[S.SYN_SHAPE]}, "
        f"separation {s[S.SYN_SEP]:g}, seed {s[S.SYN_SEED]}"
    )
    S.set_dataset(
        name,
        "synthetic",
        frame,
        {
            "description": "Drawn from a random mixture; "
            "the `component` column is the true component of each row."
        },
        features=[f"x{i + 1}" for i in range(min(d, 4))],
        task_column="task" if n_tasks > 1 else None,
        label_column="component",
        suggested_k=int(s[S.SYN_K]),
    )
    s[S.UPLOAD_ERROR] = None


def synthetic_form() -> None:
    """The generator's settings; Generate draws the dataset."""
    with st.form(S.SYNTHETIC_FORM):
        st.markdown("Draw rows from a random mixture with known components.")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Rows N", 10, 200_000, step=100, key=S.SYN_N, persist_state="session")
        c2.number_input("Dimension D", 1, 10, key=S.SYN_D, persist_state="session")
        c3.number_input("Components K", 1, 10, key=S.SYN_K, persist_state="session")
        c4.number_input("Seed", 0, 10**6, key=S.SYN_SEED, persist_state="session")
        c1.slider(
            "Separation (in sd)",
            0.5,
            10.0,
            step=0.5,
            key=S.SYN_SEP,
            persist_state="session",
            help="Typical distance between the means, in standard deviations.",
        )
        c2.selectbox(
            "Covariance shape", COVARIANCE_SHAPES, key=S.SYN_SHAPE, persist_state="session"
        )
        c3.number_input(
            "Tasks",
            1,
            8,
            key=S.SYN_TASKS,
            persist_state="session",
            help="More than one: tasks share the components in different proportions "
            "(a `task` column is added).",
        )
        st.form_submit_button("Generate", on_click=_generate, type="primary")


def upload_error() -> None:
    """The last upload's problem, if any."""
    error = st.session_state.get(S.UPLOAD_ERROR)
    if error:
        st.error(error + "  \nThe previous dataset (and its fit) is still loaded.")


def dataset_header() -> pd.DataFrame:
    """The active dataset's name, size and origin. Returns its table."""
    ds = st.session_state[S.DATASET]
    frame = ds["frame"]
    st.subheader(f"Current dataset: {ds['name']}")
    info = ds.get("info") or {}
    facts = [f"{frame.shape[0]:,} rows × {frame.shape[1]} columns"]
    if "delimiter" in info:
        facts.append(f"{info['delimiter']}-separated, {info['encoding']}")
    elif "sheet" in info:
        facts.append(f"Excel workbook, sheet '{info['sheet']}'")
    elif info.get("format"):
        facts.append(info["format"])
    if info.get("renamed"):
        new_names = ", ".join(f"'{new}'" for _, new in info["renamed"][:5])
        facts.append(f"repeated column names renamed: {new_names}")
    st.caption(" · ".join(facts) + (f" — {info['description']}" if info.get("description") else ""))
    return frame


def column_pickers(frame: pd.DataFrame) -> None:
    """Feature, task and label columns and the standardize box, with a hint when the features'
    spreads differ so much that standardizing is advisable."""
    s = st.session_state
    others = [S.NONE] + [str(c) for c in frame.columns]
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.multiselect(
        "Feature columns (numeric)",
        numeric_columns(frame),
        key=S.FEATURES,
        persist_state="session",
        help="The columns the mixture is fitted on.",
    )
    c2.selectbox(
        "Task column (optional)",
        others,
        key=S.TASK_COLUMN,
        persist_state="session",
        help="Groups of rows that share the components in different proportions.",
    )
    c3.selectbox(
        "Label column (optional)",
        others,
        key=S.LABEL_COLUMN,
        persist_state="session",
        help="Known classes: the explorer then shows how well the clusters agree with them.",
    )
    st.checkbox(
        "Standardize the features (z-scores) before fitting",
        key=S.STANDARDIZE,
        persist_state="session",
        help="Useful when features have very different units; the exported model keeps the "
        "scaling so it predicts on raw data.",
    )
    if suggest_standardize(frame, s[S.FEATURES]) and not s[S.STANDARDIZE]:
        st.info(
            "These features have very different spreads (over 50×): the widest one will "
            "dominate the fit and the pictures. Consider ticking **Standardize**."
        )


def rows_notice(data: PreparedDataset) -> None:
    """How many rows the fit uses, and how many were dropped for a missing value."""
    if data.n_dropped:
        st.warning(
            f"{data.n_dropped:,} row(s) have a missing value in the chosen columns and were "
            f"dropped; the fit uses the other {data.n_samples:,} rows."
        )
    else:
        st.caption(f"All {data.n_samples:,} rows are complete in the chosen columns.")


def preview(frame: pd.DataFrame) -> None:
    """The first PREVIEW_ROWS rows of the table."""
    st.dataframe(frame.head(PREVIEW_ROWS), height=300, key=S.PREVIEW_TABLE)
    if frame.shape[0] > PREVIEW_ROWS:
        st.caption(f"Showing the first {PREVIEW_ROWS} of {frame.shape[0]:,} rows.")


def next_link() -> None:
    """On to the explorer."""
    st.page_link(
        "pages/2_explorer.py",
        label="Next: watch EM fit this data in the EM explorer",
        icon=":material/arrow_forward:",
    )
