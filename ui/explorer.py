"""The EM explorer's panels: fit settings, restarts, the stepper and what it shows at each
half-step (data, log-likelihood, parameters, formulas, agreement with the labels)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gmmcore.engine.em import CONVERGENCE_RULES
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.viz import explain, log_likelihood_figure, restarts_figure, task_weights_heatmap
from gmmcore.viz.agreement import adjusted_rand_index, confusion_table
from gmmcore.viz.plots import axis_ranges, em_scatter

from . import state as S
from .data import PreparedDataset, uses_tasks
from .formulas import formula_panel
from .history import StepperRun, component_slots
from .player import player
from .scatter import PCA, axis_labels, data_panel, projection
from .widgets import cov_help, cov_label, covariance_choices, require_few_tasks, share_panel

# The stopping rules (gmmcore.engine.em.CONVERGENCE_RULES) as the fit settings name them.
# Short: the field is a third of the fit settings' width (the help names mclust).
CONVERGENCE_LABELS = {"mean": "per point", "relative": "relative"}


def intro() -> None:
    """The title and, folded away, the three-sentence explanation of EM (the stepper has to
    fit above the fold of a 1280 x 720 projector)."""
    st.title("EM explorer")
    c1, c2 = st.columns([3, 1.3], vertical_alignment="center")
    c1.caption(
        "Press **Next** to watch EM one half-step at a time: the **E step** recolours the "
        "points, the **M step** moves the ellipses and means."
    )
    with c2.popover("What am I looking at?", icon=":material/help:", use_container_width=True):
        st.markdown(
            "- A mixture of K Gaussians has, per component k, a **weight** πₖ, a **mean** μₖ "
            "(the ✕) and a **covariance** Σₖ (the ellipses).\n"
            "- **E-step** (expectation): every point gets a *responsibility* rᵢₖ for each "
            "component, the probability that component k produced it given the current "
            "parameters. Points are coloured by these: a pure colour means one component owns "
            "it, a blend means it is shared.\n"
            "- **M-step** (maximization): each component is re-estimated from the points "
            "weighted by their responsibilities (weight = share of responsibility, mean = "
            "weighted average, covariance = weighted spread). Repeat until the log-likelihood "
            "stops improving."
        )


def _run_em() -> None:
    # Callback of the Run button: the new fit starts at its initialization.
    S.apply_fit_settings()


def settings_row():
    """One row for what is set once: the fit settings (folded), the Bishop preset and the
    manual start. Returns the three columns, for ``fit_form`` and ``start_panel``."""
    return st.columns([2.5, 1.5, 1.3], vertical_alignment="center")


def fit_form(data: PreparedDataset, where=None) -> None:
    """The fit settings, folded into an expander named after the applied fit (set once, they
    need not take the projector's height); they apply (and the stepper rewinds) only when
    Run EM is pressed."""
    require_few_tasks(data)
    fit = st.session_state[S.FIT_SETTINGS]
    title = (
        f"Fit settings: K = {fit['n_components']}, {fit['covariance_type']}, "
        f"{fit['init_params']}, seed {fit['random_state']}"
    )
    with (where or st.container()).expander(title, icon=":material/tune:"), st.form(S.FIT_FORM):
        # Three settings a row: the expander shares its row with the start presets, so five
        # a row squeezed every label into fragments at 1280 px.
        c = st.columns(3)
        c[0].number_input("Components K", 1, 20, key=S.K, persist_state="session")
        c[1].selectbox(
            "Covariance type",
            covariance_choices(data.n_features, st.session_state.get(S.COV_TYPE)),
            key=S.COV_TYPE,
            persist_state="session",
            format_func=cov_label,
            help=cov_help(),
        )
        c[2].selectbox(
            "Initialization",
            INIT_METHODS,
            key=S.INIT,
            persist_state="session",
            help="How the starting responsibilities are chosen (k-means clustering, "
            "k-means++ seeding, random soft assignments, random data points, or mclust's "
            "hierarchical clustering).",
        )
        c = st.columns(3)
        c[0].number_input(
            "Seed", 0, 2**31 - 1, key=S.SEED, persist_state="session", help="Same seed, same fit."
        )
        c[1].number_input(
            "Restarts",
            1,
            20,
            key=S.N_INIT,
            persist_state="session",
            help="n_init: EM runs from different starts; the best final log-likelihood is kept.",
        )
        c[2].number_input(
            "reg_covar",
            0.0,
            1.0,
            key=S.REG_COVAR,
            persist_state="session",
            format="%.0e",
            step=1e-6,
            help="Added to every variance so covariances stay invertible.",
        )
        c = st.columns(3)
        c[0].number_input(
            "tol",
            0.0,
            1.0,
            key=S.TOL,
            persist_state="session",
            format="%.0e",
            step=1e-4,
            help="Stop when the log-likelihood improves by less than this, measured as "
            "'tol rule' says.",
        )
        c[1].number_input("max_iter", 1, 1000, key=S.MAX_ITER, persist_state="session")
        c[2].selectbox(
            "tol rule",
            CONVERGENCE_RULES,
            key=S.CONVERGENCE,
            persist_state="session",
            format_func=CONVERGENCE_LABELS.get,
            help="Per point (scikit-learn's rule): the change of the mean log-likelihood per "
            "point. Relative (mclust's rule, what Model selection uses): the change of the "
            "log-likelihood L divided by 1 + |L|.",
        )
        c = st.columns(2)  # the checkboxes' labels need the width
        c[0].checkbox(
            "Conjugate prior",
            key=S.PRIOR,
            persist_state="session",
            help="mclust's defaultPrior: every component is pulled a little towards the whole "
            "data's mean and spread, so a component cannot collapse onto a few points. Not "
            "for VEE, EVE, VVE and EVV (mclust has no prior for them).",
        )
        if data.tasks is not None:
            c[1].checkbox(
                "Share across tasks",
                key=S.USE_TASKS,
                persist_state="session",
                help=f"Use the task column '{data.task_column}': one set of components, "
                "one weight vector per task.",
            )
        st.form_submit_button("Run EM", type="primary", on_click=_run_em, use_container_width=True)


def restarts_panel(model, data: PreparedDataset | None = None) -> list:
    """With several restarts: their final log-likelihoods and the picker of the one the stepper
    opens. Returns that restart's history (the best restart's by default)."""
    s = st.session_state
    # EM stops when the total log-likelihood L gains less than tol x N (tol x (1 + |L|) under
    # mclust's relative rule): closer final values are one optimum reached from different
    # sides, not different optima.
    fit = s[S.FIT_SETTINGS]
    if fit.get("convergence") == "relative":
        scale = 1.0 + abs(model.restarts_[model.best_restart_].log_likelihood)
    else:
        scale = data.n_samples if data is not None else 1
    resolution = max(float(fit["tol"]) * scale, 1e-9)
    restarts = model.restarts_
    if s.get(S.RESTART) is None or not 0 <= s[S.RESTART] < len(restarts):
        s[S.RESTART] = model.best_restart_
    if len(restarts) > 1:
        with st.expander(
            f"Restarts: {len(restarts)} runs from different starting points "
            "(EM finds a local optimum, not always the global one)",
            expanded=True,
        ):
            c1, c2 = st.columns([3, 1])
            c1.plotly_chart(
                restarts_figure(
                    [r.log_likelihood for r in restarts],
                    best=model.best_restart_,
                    selected=s[S.RESTART],
                    n_iters=[r.n_iter for r in restarts],
                    resolution=resolution,
                    degenerate=[getattr(r, "degenerate", False) for r in restarts],
                ),
                key=S.RESTARTS_CHART,
            )
            c2.selectbox(
                "Open restart in the stepper",
                list(range(len(restarts))),
                key=S.RESTART,
                persist_state="session",
                format_func=lambda i: (
                    f"restart {i}"
                    + (" (best)" if i == model.best_restart_ else "")
                    + (" (collapsed)" if getattr(restarts[i], "degenerate", False) else "")
                ),
            )
            caption = "Green: the best restart (kept by the model). Orange: the one shown."
            if any(getattr(r, "degenerate", False) for r in restarts):
                # A collapsed run's likelihood grows without bound: high, yet no better fit.
                caption += (
                    " Hollow: a restart that collapsed (a component on almost no data); "
                    "it is never kept while a sound restart exists."
                )
            c2.caption(caption)
    return restarts[s[S.RESTART]].history


def stepper_run(data: PreparedDataset, history, model=None) -> StepperRun:
    """What the stepper shows: ``history`` on ``data``, with the tasks the applied fit used
    and (given the ``model``) its components' colour slots, matched to the fit shown before."""
    s = st.session_state
    shared = uses_tasks(data, s[S.FIT_SETTINGS])
    slots = None if model is None else component_slots(model, s[S.RESTART], data)
    return StepperRun(data, history, data.tasks if shared else None, slots)


def stepper(run: StepperRun) -> None:
    """The stepper and everything drawn at its step, as a fragment: a step button, or the
    player's message when it stops, reruns only this part of the page."""
    s = st.session_state
    if s.get(S.URL_STEP) is not None:  # a shared link's step, once its fit exists
        s[S.STEP] = min(int(s[S.URL_STEP]), run.last)
        s[S.URL_STEP] = None
    s[S.STEP] = max(0, min(int(s[S.STEP]), run.last))
    st.fragment(_stepper_fragment)(run)


def _stepper_fragment(run: StepperRun) -> None:
    s = st.session_state
    if (s.get(S.EM_PLAYER_CONTEXT) or {}).pop("rerun", False):
        st.rerun()  # means placed on the plot started a new fit: the whole page follows
    s[S.STEP] = max(0, min(int(s[S.STEP]), run.last))
    step = s[S.STEP]
    snap = run.history[step]
    player_area = step_controls(step, run.last)
    resp = run.responsibilities(step)
    left, right = st.columns([3, 2])
    with left:
        step_heading(run.history, step, describe=False)
        view = data_panel(run, step, resp)
    # Mounted after the figure (its view decides the frames), into the row of the step buttons.
    player(player_area, run, step, view, step_title)
    with right:
        # What the half-step did, beside the scatter rather than above it: the scatter's
        # middle must stay above the fold at 1280 x 720.
        st.caption(explain.step_description(run.history, step))
        log_likelihood_panel(run.history, step)
    # Full width: in the right column the table of four features was clipped at 1600 px.
    parameter_panel(snap, run.data, run.slots)
    formula_panel(run, step)
    agreement_panel(run, resp)
    S.sync_url()
    # Here, not in the sidebar: a step button reruns only this fragment, and the link must
    # follow the step.
    with st.expander("Link to this view (copy to share)", icon=":material/link:"):
        share_panel()


def _go(to: int, last: int) -> None:
    st.session_state[S.STEP] = max(0, min(to, last))


def step_controls(step: int, last: int):
    """First / Prev / Next / Last; returns the place of the player (Play / Pause, the scrub
    slider, the speed and "Place means"), which runs in the browser."""
    # Wide enough for "First"... with their icons at 1280 px (narrower columns cut them to "F..").
    b = st.columns([1.25, 1.25, 1.25, 1.25, 4.6], vertical_alignment="center")
    for col, (label, icon, key, to, disabled) in zip(
        b[:4],
        [
            ("First", ":material/first_page:", S.STEP_FIRST, 0, step == 0),
            ("Prev", ":material/chevron_left:", S.STEP_PREV, step - 1, step == 0),
            ("Next", ":material/chevron_right:", S.STEP_NEXT, step + 1, step == last),
            ("Last", ":material/last_page:", S.STEP_LAST, last, step == last),
        ],
        strict=True,
    ):
        col.button(
            label,
            icon=icon,
            key=key,
            on_click=_go,
            args=(to, last),
            disabled=disabled,
            use_container_width=True,
        )
    return b[4].container()


def step_title(snap) -> str:
    """Which half-step a snapshot is, in words."""
    if snap.phase == "init":
        return "initialization"
    what = "E step (responsibilities)" if snap.phase == "E" else "M step (parameters)"
    return f"iteration {snap.iteration}, after the {what}"


def step_heading(history, step: int, *, describe: bool = True) -> None:
    """'Step i of n — what it is', and (with ``describe``) what the half-step did."""
    st.markdown(f"**Step {step} of {len(history) - 1} — {step_title(history[step])}**")
    if describe:
        st.caption(explain.step_description(history, step))


def event_lines(events, step: int) -> list[str]:
    """The engine's events (``explain.events_table``) up to ``step``, in words."""
    return [
        f"Iteration {e['iteration']}: {e['message']}"
        for _, e in events.iterrows()
        if e["step"] <= step
    ]


def log_likelihood_panel(history, step: int) -> None:
    """The log-likelihood per iteration with this step marked, and the events so far."""
    s = st.session_state
    snap = history[step]
    events = explain.events_table(history)
    if s.get(S.HIDE_FUTURE):
        events = events[events["step"] <= step]
    st.plotly_chart(
        log_likelihood_figure(
            explain.log_likelihood_trace(history),
            current_iteration=snap.iteration if snap.phase != "init" else None,
            events=events,
            per_sample=bool(s.get(S.PER_SAMPLE)),
            hide_future=bool(s.get(S.HIDE_FUTURE)),
        ),
        key=S.EM_LOG_LIKELIHOOD,
    )
    c1, c2 = st.columns(2)
    c1.toggle(
        "Per point",
        key=S.PER_SAMPLE,
        persist_state="session",
        help="Divide the log-likelihood by the number of points N.",
    )
    c2.toggle(
        "Hide the future",
        key=S.HIDE_FUTURE,
        persist_state="session",
        help="For teaching: draw the curve only up to the current step.",
    )
    st.caption(
        "The log-likelihood is evaluated by each E step on the parameters it used, so "
        "the E and M half-steps of one iteration share a point. EM never lets it "
        "decrease."
    )
    for line in event_lines(events, step):
        st.info(line)


def parameter_panel(snap, data: PreparedDataset, slots=None) -> None:
    """Weights, means and standard deviations at this step; per-task weights when the fit
    shares its components across tasks."""
    st.markdown("**Parameters at this step**")
    table = explain.parameter_table(snap, data.features).round(4)
    for i, part in enumerate(parameter_parts(table)):
        # One table while it fits the width; above, stacked parts (four features' weights,
        # means and sds scrolled sideways at 1280 px).
        st.dataframe(part, hide_index=True, key=S.EM_PARAMETERS if i == 0 else None)
    if snap.weights.ndim == 2:
        st.markdown(
            f"**Each task's weights at this step** (shared components, one weight "
            f"vector per value of '{data.task_column}')"
        )
        st.plotly_chart(
            task_weights_heatmap(
                snap.weights, snap.tasks, task_title=str(data.task_column), slots=slots
            ),
            key=S.EM_TASK_WEIGHTS,
        )


# Columns of the parameter table that fit the page's width at 1280 px without scrolling.
PARAMETER_COLUMNS = 7


def parameter_parts(table: pd.DataFrame) -> list[pd.DataFrame]:
    """The parameter table as one table, or (more than PARAMETER_COLUMNS columns) stacked
    parts that each fit: weights, means, then standard deviations (and the correlation), each
    with the component column."""
    if table.shape[1] <= PARAMETER_COLUMNS:
        return [table]
    cols = list(table.columns[1:])
    weights = [c for c in cols if str(c).startswith("weight")]
    means = [c for c in cols if str(c).startswith("mean ")]
    spreads = [c for c in cols if c not in weights and c not in means]
    groups = (
        [weights + means] if len(weights) + len(means) < PARAMETER_COLUMNS else [weights, means]
    )
    groups.append(spreads)
    parts = []
    for group in groups:
        for start in range(0, len(group), PARAMETER_COLUMNS - 1):
            parts.append(table[["component", *group[start : start + PARAMETER_COLUMNS - 1]]])
    return [p for p in parts if p.shape[1] > 1]


def agreement_panel(run: StepperRun, resp) -> None:
    """With a label column: how well the most responsible components match the labels at this
    step (at the initialization, where no responsibilities exist yet, a note instead)."""
    data = run.data
    if data.labels is None:
        return
    st.subheader("Agreement with the label column")
    if resp is None:
        # Nothing to compare yet: showing the final step's table here would contradict
        # "at this step".
        st.info(
            "At the initialization no point has responsibilities yet: step to the first E step "
            f"to compare the clusters with '{data.label_column}'."
        )
        return
    pred = resp.argmax(axis=1)
    c1, c2 = st.columns([1, 3])
    c1.metric(
        "Adjusted Rand index",
        f"{adjusted_rand_index(data.labels, pred):.3f}",
        help="1 = the clusters match the labels exactly (up to renaming), 0 = no "
        "better than chance.",
    )
    c1.caption(
        f"Clusters = most responsible component at this step; labels = '{data.label_column}'."
    )
    c2.dataframe(confusion_table(data.labels, pred), key=S.EM_CONFUSION)


# -- starting where the teacher wants ------------------------------------------------------


def _bishop_preset() -> None:
    # Callback: standardized Old Faithful, K = 2, full, PRML fig. 9.8's start, and the
    # figure's L = 1, 2, 5, 20 side by side.
    s = st.session_state
    if (s.get(S.DATASET) or {}).get("name") != "Old Faithful" or s[S.DATASET]["origin"] != "sample":
        S.load_sample_dataset("Old Faithful")
    s[S.FEATURES] = ["eruptions", "waiting"]
    s[S.STANDARDIZE] = True
    s[S.K], s[S.COV_TYPE], s[S.N_INIT], s[S.USE_TASKS] = 2, "full", 1, False
    s[S.START] = "bishop"
    s[S.COMPARE_ON] = True
    s[S.COMPARE_STEPS] = [1, 2, 5, 20]
    s[S.VIEW] = "Two features"
    _run_em()


def _manual_start(means: list) -> None:
    # Callback: the typed means (K rows) become the start; K follows the table.
    s = st.session_state
    s[S.MANUAL_MEANS] = means
    s[S.K] = len(means)
    s[S.START] = "manual"
    _run_em()


def start_from_means(means: list) -> None:
    """Start EM from ``means`` (K rows of every feature, e.g. placed on the plot): they fill
    the manual start's table, K follows, and the whole page reruns on the new fit."""
    s = st.session_state
    s.pop(S.MANUAL_EDITOR, None)  # the table's edits were of the previous rows
    _manual_start(means)
    context = s.get(S.EM_PLAYER_CONTEXT)
    if context is not None:
        context["rerun"] = True


def _auto_start() -> None:
    st.session_state[S.START] = "auto"
    _run_em()


def start_panel(data: PreparedDataset, history, columns=None) -> None:
    """The preset (Bishop PRML fig. 9.8) and the manual start: typed means and a spread (in
    ``columns``, two of ``settings_row``'s, or a row of their own)."""
    s = st.session_state
    fit = s[S.FIT_SETTINGS]
    c1, c2 = columns if columns is not None else st.columns(2)
    c1.button(
        "Bishop PRML fig. 9.8",
        key=S.BISHOP_BUTTON,
        on_click=_bishop_preset,
        icon=":material/menu_book:",
        help="Standardized Old Faithful, K = 2, full covariances, started from two small "
        "circles as in Bishop's Pattern Recognition and Machine Learning, figure 9.8; shows "
        "L = 1, 2, 5 and 20 side by side.",
        use_container_width=True,
    )
    if "means_init" in fit:
        what = (
            "Bishop's PRML fig. 9.8"
            if s.get(S.START) == "bishop"
            else "your own means (typed or placed on the plot)"
        )
        st.caption(f":material/flag: Starting from {what}: the Initialization setting is not used.")
    with c2.popover("Manual start", icon=":material/edit:", use_container_width=True):
        _manual_editor(data, history)


def _manual_editor(data: PreparedDataset, history) -> None:
    s = st.session_state
    d = data.n_features
    means = s.get(S.MANUAL_MEANS)
    if not means or len(means[0]) != d:
        means = [[round(float(v), 3) for v in row] for row in history[0].means]
    table = pd.DataFrame(means, columns=list(data.features))
    table.index.name = "component"
    edited = st.data_editor(table, key=S.MANUAL_EDITOR, num_rows="dynamic")
    c1, c2, c3 = st.columns([1, 1, 1])
    c1.number_input(
        "Starting spread (sd)",
        1e-3,
        1e3,
        key=S.MANUAL_SPREAD,
        persist_state="session",
        format="%.3g",
        help="Every component starts round, with this standard deviation in every "
        "direction" + (" (z-score units)." if data.standardizer is not None else "."),
    )
    rows = edited.dropna().to_numpy(dtype=float).tolist()
    c2.button(
        "Start EM from these means",
        key=S.MANUAL_APPLY,
        on_click=_manual_start,
        args=(rows,),
        type="primary",
        disabled=not rows,
    )
    c3.button("Back to the initialization method", key=S.AUTO_START_BUTTON, on_click=_auto_start)
    st.caption(
        "One row per component (add or delete rows to change K), in the units of the plot. "
        "Weights start equal."
    )


# -- compare steps ---------------------------------------------------------------------------


def compare_panel(run: StepperRun) -> None:
    """Chosen EM cycles L side by side (after the M step of iteration L), as in a textbook
    figure: the same axes in every panel."""
    s = st.session_state
    history, data = run.history, run.data
    if data.n_features < 2:
        return
    st.toggle("Compare steps side by side", key=S.COMPARE_ON, persist_state="session")
    if not s.get(S.COMPARE_ON):
        return
    last_iteration = history[-1].iteration
    options = sorted(set(range(1, last_iteration + 1)) | set(s.get(S.COMPARE_STEPS) or []))
    chosen = st.multiselect(
        "EM cycles L to compare",
        options,
        key=S.COMPARE_STEPS,
        persist_state="session",
        help="L complete E + M cycles; an L past convergence shows the final fit.",
    )
    chosen = sorted(chosen)[:6]
    if not chosen:
        return
    view = s.get(S.VIEW) if data.n_features > 2 and s.get(S.VIEW) == PCA else "Two features"
    proj = projection(data, view, int(s.get(S.AXIS_X, 0)), int(s.get(S.AXIS_Y, 1)))
    points = proj.transform(data.X)
    x_range, y_range = axis_ranges(points)
    cols = st.columns(len(chosen))
    for col, L in zip(cols, chosen, strict=True):
        step = explain.step_after_cycle(history, L)
        snap = history[step]
        fig = em_scatter(
            points,
            run.responsibilities(step),
            means=proj.project_means(snap.means),
            covariances=proj.project_covariances(explain.covariance_stack(snap)),
            axis_labels=axis_labels(proj, data),
            title=f"L = {L}" + ("" if snap.iteration == L else f" (converged at {snap.iteration})"),
            x_range=x_range,
            y_range=y_range,
            sd_levels=(1,),
            webgl=data.n_samples > 2000,
            slots=run.slots,
        )
        fig.update_layout(height=340, showlegend=False, margin=dict(l=50, r=5, t=40, b=45))
        col.plotly_chart(fig, key=f"{S.EM_COMPARE}_{L}")
