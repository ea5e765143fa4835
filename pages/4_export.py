"""Export & import: the fitted model as JSON, per-row results as CSV, predictions from a file."""

import streamlit as st

from gmmcore.io.model_file import ModelFileError, from_json, to_json
from gmmcore.io.tables import DEFAULT_MAX_BYTES, TableFileError, read_table
from ui import results as R
from ui import state as S
from ui.widgets import cov_label, current_data_or_stop, current_fit_or_stop

S.init()  # idempotent; covers a first request that bypasses app.py
s = st.session_state

st.title("Export & import")
st.markdown(
    "Take the fitted model with you as a documented **JSON file** (no pickle: it loads back "
    "with `gmmcore.load_model` or `python -m gmmcore predict`), download each row's component and "
    "responsibilities, or load a model file and predict on a new CSV."
)

tab_export, tab_import = st.tabs(["Export the current fit", "Import a model and predict"])

with tab_export:
    data = current_data_or_stop()
    model = current_fit_or_stop(data)
    fit = s[S.FIT_SETTINGS]
    use_tasks = bool(fit.get("use_tasks")) and data["tasks"] is not None
    shown = s.get(S.RESTART)
    if shown is not None and shown != model.best_restart_ and 0 <= shown < len(model.restarts_):
        model.use_restart(shown)
        st.info(f"Exporting restart {shown}, the one open in the EM explorer (not the best one).")
    st.markdown(f"**{data['name']}** · K = {model.n_components}, "
                f"{cov_label(model.covariance_type)}, {model.n_iter_} iterations, "
                f"{'converged' if model.converged_ else 'not converged'} · features: "
                f"{', '.join(data['features'])}"
                + (" (standardized; the file keeps the scaling)" if data["standardizer"] else ""))
    st.checkbox("Include the EM history (every half-step) in the file", key=S.INCLUDE_HISTORY,
                persist_state="session")
    try:
        text = to_json(model, feature_names=list(data["features"]),
                       standardizer=data["standardizer"], X=data["X_raw"],
                       tasks=data["tasks"] if use_tasks else None,
                       include_history=bool(s[S.INCLUDE_HISTORY]))
    except ValueError as exc:
        st.error(f"The model cannot be exported: {exc}")
        st.stop()
    c1, c2 = st.columns(2)
    c1.download_button("Download the model (JSON)", text.encode("utf-8"),
                       file_name="gmm_model.json", mime="application/json", type="primary",
                       key="download_model", icon=":material/download:")
    table = R.row_results(model, data, use_tasks)
    c2.download_button("Download labels + responsibilities (CSV)",
                       table.to_csv(index=False).encode("utf-8"), file_name="gmm_labels.csv",
                       mime="text/csv", key="download_labels", icon=":material/download:")
    with st.expander("Preview of the model file", expanded=True):
        lines = text.splitlines()
        st.code("\n".join(lines[:60]) + ("\n…" if len(lines) > 60 else ""), language="json")
        st.caption(f"{len(text):,} characters, {len(lines):,} lines.")
    st.markdown("**Per-row results** (original columns, then the most likely component and each "
                "component's responsibility)")
    if data["n_dropped"]:
        st.caption(f"{data['n_dropped']} row(s) with missing values were not fitted and are left out.")
    st.dataframe(table.head(500).round(6), hide_index=True, key="labels_preview")

with tab_import:
    st.markdown("Upload a model file (from this page or `python -m gmmcore fit`) and a CSV/TSV "
                "with the model's feature columns.")
    c1, c2 = st.columns(2)
    model_file = c1.file_uploader("Model file (JSON)", type=["json"], key=S.MODEL_UPLOAD)
    csv_file = c2.file_uploader("Data (CSV/TSV)", type=["csv", "tsv", "txt"], key=S.PREDICT_UPLOAD)
    fitted = None
    if model_file is not None:
        try:
            fitted = from_json(model_file.getvalue())
        except ModelFileError as exc:
            st.error(f"This model file cannot be loaded: {exc}")
        except ValueError as exc:
            st.error(f"This model file cannot be loaded: {exc}")
        else:
            st.success(f"Loaded: K = {fitted.n_components}, {cov_label(fitted.covariance_type)}, "
                       f"features {', '.join(fitted.feature_names)}"
                       + (f", tasks {', '.join(map(str, fitted.tasks))}" if fitted.tasks else ""))
    frame = None
    if csv_file is not None:
        try:
            frame, _ = read_table(csv_file.getvalue(), name=f"'{csv_file.name}'",
                                  max_bytes=DEFAULT_MAX_BYTES)
        except TableFileError as exc:
            st.error(str(exc))
    if fitted is not None and frame is not None:
        task_col = None
        if fitted.tasks:
            options = [c for c in frame.columns if c not in fitted.feature_names]
            if not options:
                st.error("This is a multi-task model: the CSV needs a task column.")
                st.stop()
            task_col = st.selectbox("Task column", options, key="predict_task_column")
        try:
            out, n_dropped = R.predict_table(fitted, frame, task_col)
        except ValueError as exc:
            st.error(f"Cannot predict on this file: {exc}")
        else:
            if n_dropped:
                st.warning(f"{n_dropped} row(s) with a missing feature value were left out.")
            st.dataframe(out.head(500), hide_index=True, key="predictions_preview")
            st.download_button("Download the predictions (CSV)", out.to_csv(index=False).encode(),
                               file_name="gmm_predictions.csv", mime="text/csv",
                               key="download_predictions", icon=":material/download:")
    elif fitted is None and frame is None:
        st.info("Waiting for a model file and a data file.")
