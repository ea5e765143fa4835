"""The Tasks page's panels: pooled, separate and shared mixtures compared on a task column, and
the shared model's per-task weights."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import streamlit as st

from gmmcore.viz import mode_comparison_figure, task_weights_heatmap

from . import data as D
from . import state as S
from .history import slots_for_means
from .widgets import cov_label, covariance_choices, require_few_tasks


class TasksRequest(NamedTuple):
    """What a comparison was run with (kept beside its result)."""

    data_key: str
    k: int
    covariance_type: str


def intro() -> None:
    """The title and the three ways to fit grouped rows."""
    st.title("Tasks: shared components")
    st.markdown(
        "When rows come in groups (islands, samples, patients: a **task column**), three models "
        "compete: **pooled** (one mixture, task ignored), **separate** (one mixture per task) "
        "and **shared** (the same components for every task, each task with its own weights). "
        "Shared needs far fewer parameters than separate and still lets the proportions differ."
    )


def require_task_column(data: D.PreparedDataset) -> None:
    """Without a task column: say where to choose one, and stop."""
    if data.tasks is not None:
        require_few_tasks(data)
        return
    st.info(
        "Choose a task column on the Data page first (the Palmer penguins and GvHD samples "
        "have one; the synthetic generator adds one when Tasks > 1)."
    )
    st.page_link("pages/1_data.py", label="Go to the Data page", icon=":material/table_chart:")
    st.stop()


def compare_form() -> bool:
    """K and covariance type of the comparison. Returns whether Compare was pressed."""
    with st.form(S.TASKS_FORM):
        c = st.columns(3)
        c[0].number_input("Components K", 1, 15, key=S.TASKS_K, persist_state="session")
        c[1].selectbox(
            "Covariance type",
            covariance_choices(),
            key=S.TASKS_TYPE,
            format_func=cov_label,
            persist_state="session",
        )
        return c[2].form_submit_button("Compare pooled, separate and shared", type="primary")


def run_comparison(data: D.PreparedDataset) -> None:
    """Fit the three modes; the result goes to TASKS_RESULT, a failure to st.error."""
    s = st.session_state
    request = TasksRequest(data.key, int(s[S.TASKS_K]), s[S.TASKS_TYPE])
    with st.spinner("Fitting the three modes…"):
        try:
            table = D.compare_modes(
                data.key, data.X, data.tasks, request.k, request.covariance_type
            )
        except ValueError as exc:
            st.error(f"The comparison could not run: {exc}")
        else:
            s[S.TASKS_RESULT] = {"request": request, "table": table}


def result_or_stop(data: D.PreparedDataset) -> dict:
    """The last comparison ({"request", "table"}), or a hint and a stop when there is none."""
    result = st.session_state.get(S.TASKS_RESULT)
    if result is None:
        st.info("Press the button to fit the three modes.")
        st.stop()
    if result["request"].data_key != data.key:
        st.warning("The data changed since this comparison was run; run it again.")
    return result


def comparison_panel(data: D.PreparedDataset, request: TasksRequest, table: pd.DataFrame) -> None:
    """Which mode wins: the summary sentence, the criteria and held-out chart, the table."""
    st.subheader(
        f"Which way wins? (K = {request.k}, {cov_label(request.covariance_type)}, task column "
        f"'{data.task_column}')"
    )
    summary = table.attrs.get("summary")
    if summary:
        st.success(summary[0].upper() + summary[1:])
    st.plotly_chart(mode_comparison_figure(table), key=S.TASKS_CHART)
    st.caption(
        f"BIC, AIC, ICL: lower is better, on all {data.n_samples:,} rows. Held-out "
        f"log-likelihood: each mode refitted on 75% of every task's rows "
        f"({table.attrs.get('n_train', '?')} rows) and scored on the other 25% "
        f"({table.attrs.get('n_test', '?')} rows), seed 0; higher is better."
    )
    st.dataframe(table, hide_index=True, key=S.TASKS_TABLE)


def shared_weights_panel(data: D.PreparedDataset, request: TasksRequest) -> None:
    """The shared model's weights, one row per task, one column per component."""
    st.subheader("Shared model: each task's weights on the shared components")
    try:
        shared = D.fit_shared(data.key, data.X, data.tasks, request.k, request.covariance_type)
    except ValueError as exc:
        st.error(f"The shared model could not be fitted: {exc}")
        st.stop()
    weights = shared.task_weights()
    st.plotly_chart(
        task_weights_heatmap(
            weights.to_numpy(),
            list(weights.index),
            task_title=str(data.task_column),
            # The explorer's colours when it shows this same fit (its link opens it there).
            slots=slots_for_means(shared.mixture.means_),
        ),
        key=S.TASKS_HEATMAP,
    )
    st.caption(
        "One row per task, one column per shared component: the share of that task's rows "
        "the component explains (each row sums to 1). A 0.00 cell means the component is "
        "absent from that task."
    )


def shared_fit_widgets(request: TasksRequest) -> dict:
    """The explorer's settings that refit exactly this page's shared model (``fit_shared``
    uses fit_multitask's defaults), so both pages number its components the same way."""
    from gmmcore.multitask import fit_multitask

    d = fit_multitask.__kwdefaults__
    return {
        S.K: request.k,
        S.COV_TYPE: request.covariance_type,
        S.USE_TASKS: True,
        S.INIT: d["init_params"],
        S.SEED: int(d["random_state"]),
        S.N_INIT: int(d["n_init"]),
        S.TOL: float(d["tol"]),
        S.REG_COVAR: float(d["reg_covar"]),
        S.MAX_ITER: int(d["max_iter"]),
        S.PRIOR: d.get("prior") is not None,  # fit_multitask's default: no prior
        S.CONVERGENCE: d["convergence"],
    }


def open_shared_button(request: TasksRequest) -> None:
    """Open the shared model (same K and type, shared across tasks) in the EM explorer."""
    st.button(
        "Step through the shared model in the EM explorer",
        key=S.TASKS_OPEN_EXPLORER,
        on_click=S.open_in_explorer,
        args=(shared_fit_widgets(request),),
        icon=":material/replay:",
    )
    S.switch_if_requested()
