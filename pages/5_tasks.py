"""Tasks: data in groups that share components in different proportions."""

import streamlit as st

from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.viz.plots import mode_comparison_figure, task_weights_heatmap
from ui import data as D
from ui import state as S
from ui.widgets import cov_label, current_data_or_stop

S.init()  # idempotent; covers a first request that bypasses app.py
s = st.session_state

st.title("Tasks: shared components")
st.markdown(
    "When rows come in groups (islands, samples, patients: a **task column**), three models "
    "compete: **pooled** (one mixture, task ignored), **separate** (one mixture per task) and "
    "**shared** (the same components for every task, each task with its own weights). Shared "
    "needs far fewer parameters than separate and still lets the proportions differ."
)
data = current_data_or_stop()
if data["tasks"] is None:
    st.info("Choose a task column on the Data page first (the Palmer penguins and GvHD samples "
            "have one; the synthetic generator adds one when Tasks > 1).")
    st.page_link("pages/1_data.py", label="Go to the Data page", icon=":material/table_chart:")
    st.stop()

with st.form("tasks_form"):
    c = st.columns(3)
    c[0].number_input("Components K", 1, 15, key=S.TASKS_K, persist_state="session")
    c[1].selectbox("Covariance type", COVARIANCE_TYPES, key=S.TASKS_TYPE, format_func=cov_label,
                   persist_state="session")
    go = c[2].form_submit_button("Compare pooled, separate and shared", type="primary")

request = (data["key"], int(s[S.TASKS_K]), s[S.TASKS_TYPE])
if go:
    with st.spinner("Fitting the three modes…"):
        try:
            table = D.compare_modes(data["key"], data["X"], data["tasks"], request[1], request[2])
        except ValueError as exc:
            st.error(f"The comparison could not run: {exc}")
        else:
            s[S.TASKS_RESULT] = {"request": request, "table": table}
result = s.get(S.TASKS_RESULT)
if result is None:
    st.info("Press the button to fit the three modes.")
    st.stop()
table = result["table"]
if result["request"][0] != data["key"]:
    st.warning("The data changed since this comparison was run; run it again.")
k, cov_type = result["request"][1], result["request"][2]
st.subheader(f"Which way wins? (K = {k}, {cov_label(cov_type)}, task column "
             f"'{data['task_column']}')")
if table.attrs.get("summary"):
    st.success(table.attrs["summary"][0].upper() + table.attrs["summary"][1:])
st.plotly_chart(mode_comparison_figure(table), key="tasks_chart")
st.caption(f"BIC, AIC, ICL: lower is better, on all {data['X'].shape[0]:,} rows. Held-out "
           f"log-likelihood: each mode refitted on 75% of every task's rows "
           f"({table.attrs.get('n_train', '?')} rows) and scored on the other 25% "
           f"({table.attrs.get('n_test', '?')} rows), seed 0; higher is better.")
st.dataframe(table, hide_index=True, key="tasks_table")

st.subheader("Shared model: each task's weights on the shared components")
try:
    shared = D.fit_shared(data["key"], data["X"], data["tasks"], k, cov_type)
except ValueError as exc:
    st.error(f"The shared model could not be fitted: {exc}")
    st.stop()
weights = shared.task_weights()
st.plotly_chart(task_weights_heatmap(weights.to_numpy(), list(weights.index),
                                     task_title=str(data["task_column"])), key="tasks_heatmap")
st.caption("One row per task, one column per shared component: the share of that task's rows "
           "the component explains (each row sums to 1). A 0.00 cell means the component is "
           "absent from that task.")


def _open_shared():
    s[S.K], s[S.COV_TYPE], s[S.USE_TASKS] = k, cov_type, True
    s[S.FIT_SETTINGS] = S.fit_settings_from_widgets()
    s[S.STEP] = 0
    s[S.RESTART] = None
    s["_goto_explorer"] = True


st.button("Step through the shared model in the EM explorer", key="tasks_open_explorer",
          on_click=_open_shared, icon=":material/replay:")
if s.pop("_goto_explorer", False):
    st.switch_page("pages/2_explorer.py")
