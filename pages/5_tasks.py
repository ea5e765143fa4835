"""Tasks: data in groups that share components in different proportions."""

import streamlit as st

from gmmcore.covariance import COVARIANCE_TYPES
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
if table.attrs.get("summary"):
    st.success(table.attrs["summary"])
st.caption("BIC, AIC, ICL: lower is better. Held-out log-likelihood (a quarter of each task's "
           "rows kept aside): higher is better.")
st.dataframe(table, hide_index=True, key="tasks_table")
