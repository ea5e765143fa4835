"""Data: choose a sample, upload a CSV/TSV or generate a synthetic mixture; pick columns."""

import streamlit as st

from gmmcore.datasets import COVARIANCE_SHAPES, SAMPLES, make_mixture
from gmmcore.io.tables import (
    DEFAULT_MAX_BYTES,
    TableFileError,
    numeric_columns,
    read_table,
    suggest_standardize,
)
from ui import state as S
from ui.widgets import current_data_or_stop

S.init()  # idempotent; covers a first request that bypasses app.py
s = st.session_state

st.title("Data")
st.markdown(
    "A **Gaussian mixture** explains the rows of a table as drawn from K overlapping bell-shaped "
    "clusters. Pick the data here, then open the **EM explorer** to watch the mixture being "
    "fitted one step at a time."
)


def _on_sample_change():
    S.load_sample_dataset(s[S.SAMPLE_NAME])


def _generate():
    n_tasks = int(s[S.SYN_TASKS])
    frame, _ = make_mixture(
        int(s[S.SYN_N]), int(s[S.SYN_D]), int(s[S.SYN_K]), separation=float(s[S.SYN_SEP]),
        covariance_shape=s[S.SYN_SHAPE], n_tasks=n_tasks, random_state=int(s[S.SYN_SEED]))
    d = int(s[S.SYN_D])
    name = (f"Synthetic: N={s[S.SYN_N]}, D={d}, K={s[S.SYN_K]}, {s[S.SYN_SHAPE]}, "
            f"separation {s[S.SYN_SEP]:g}, seed {s[S.SYN_SEED]}")
    S.set_dataset(name, "synthetic", frame, {"description": "Drawn from a random mixture; "
                  "the `component` column is the true component of each row."},
                  features=[f"x{i + 1}" for i in range(min(d, 4))],
                  task_column="task" if n_tasks > 1 else None, label_column="component",
                  suggested_k=int(s[S.SYN_K]))
    s[S.UPLOAD_ERROR] = None


source = st.radio("Where does the data come from?", ["Sample dataset", "Upload a file", "Synthetic"],
                  key=S.DATA_SOURCE, persist_state="session", horizontal=True)

if source == "Sample dataset":
    st.selectbox("Sample dataset", list(SAMPLES), key=S.SAMPLE_NAME, persist_state="session", on_change=_on_sample_change)
    st.caption(SAMPLES[s[S.SAMPLE_NAME]].description)
    if s[S.DATASET]["origin"] != "sample" or s[S.DATASET]["name"] != s[S.SAMPLE_NAME]:
        st.button("Load this sample", key="load_sample", on_click=_on_sample_change)

elif source == "Upload a file":
    upload = st.file_uploader(
        "CSV or TSV file with a header row (comma, tab, semicolon or pipe separated; UTF-8 or "
        f"Latin-1; up to {DEFAULT_MAX_BYTES // 2**20} MB)",
        type=["csv", "tsv", "txt"], key=S.UPLOAD)
    if upload is not None and s.get("_upload_seen") != upload.file_id:
        s["_upload_seen"] = upload.file_id
        try:
            frame, info = read_table(upload.getvalue(), name=f"'{upload.name}'",
                                     max_bytes=DEFAULT_MAX_BYTES)
        except TableFileError as exc:
            s[S.UPLOAD_ERROR] = str(exc)
        else:
            S.set_dataset(upload.name, "upload", frame, info)
            s[S.UPLOAD_ERROR] = None

else:
    with st.form("synthetic_form"):
        st.markdown("Draw rows from a random mixture with known components.")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Rows N", 10, 200_000, step=100, key=S.SYN_N, persist_state="session")
        c2.number_input("Dimension D", 1, 10, key=S.SYN_D, persist_state="session")
        c3.number_input("Components K", 1, 10, key=S.SYN_K, persist_state="session")
        c4.number_input("Seed", 0, 10**6, key=S.SYN_SEED, persist_state="session")
        c1.slider("Separation (in sd)", 0.5, 10.0, step=0.5, key=S.SYN_SEP, persist_state="session",
                  help="Typical distance between the means, in standard deviations.")
        c2.selectbox("Covariance shape", COVARIANCE_SHAPES, key=S.SYN_SHAPE, persist_state="session")
        c3.number_input("Tasks", 1, 8, key=S.SYN_TASKS, persist_state="session",
                        help="More than one: tasks share the components in different proportions "
                             "(a `task` column is added).")
        st.form_submit_button("Generate", on_click=_generate, type="primary")

if s.get(S.UPLOAD_ERROR):
    st.error(s[S.UPLOAD_ERROR] + "  \nThe previous dataset (and its fit) is still loaded.")

ds = s[S.DATASET]
frame = ds["frame"]
st.subheader(f"Current dataset: {ds['name']}")
info = ds.get("info") or {}
facts = [f"{frame.shape[0]:,} rows × {frame.shape[1]} columns"]
if "delimiter" in info:
    facts.append(f"{info['delimiter']}-separated, {info['encoding']}")
st.caption(" · ".join(facts) + (f" — {info['description']}" if info.get("description") else ""))

numeric = numeric_columns(frame)
others = [S.NONE] + [str(c) for c in frame.columns]
c1, c2, c3 = st.columns([3, 1, 1])
c1.multiselect("Feature columns (numeric)", numeric, key=S.FEATURES, persist_state="session",
               help="The columns the mixture is fitted on.")
c2.selectbox("Task column (optional)", others, key=S.TASK_COLUMN, persist_state="session",
             help="Groups of rows that share the components in different proportions.")
c3.selectbox("Label column (optional)", others, key=S.LABEL_COLUMN, persist_state="session",
             help="Known classes: the explorer then shows how well the clusters agree with them.")
st.checkbox("Standardize the features (z-scores) before fitting", key=S.STANDARDIZE, persist_state="session",
            help="Useful when features have very different units; the exported model keeps the "
                 "scaling so it predicts on raw data.")

if suggest_standardize(frame, s[S.FEATURES]) and not s[S.STANDARDIZE]:
    st.info("These features have very different spreads (over 50×): the widest one will dominate "
            "the fit and the pictures. Consider ticking **Standardize**.")

data = current_data_or_stop()
if data["n_dropped"]:
    st.warning(f"{data['n_dropped']:,} row(s) have a missing value in the chosen columns and were "
               f"dropped; the fit uses the other {data['X'].shape[0]:,} rows.")
else:
    st.caption(f"All {data['X'].shape[0]:,} rows are complete in the chosen columns.")

st.dataframe(frame.head(500), height=300, key="preview")
if frame.shape[0] > 500:
    st.caption(f"Showing the first 500 of {frame.shape[0]:,} rows.")

st.page_link("pages/2_explorer.py", label="Next: watch EM fit this data in the EM explorer",
             icon=":material/arrow_forward:")
