"""EM explorer: fit, then step through EM one half-step at a time."""

import streamlit as st

from gmmcore.viz.agreement import adjusted_rand_index, confusion_table
from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.viz.plots import (
    em_scatter,
    histogram_figure,
    log_likelihood_figure,
    restarts_figure,
    scatter_matrix_figure,
    subsample_indices,
    task_weights_heatmap,
)
from ui import state as S
from ui import views as V
from ui.widgets import COV_HELP, cov_label, current_data_or_stop, current_fit_or_stop

S.init()  # idempotent; covers a first request that bypasses app.py
s = st.session_state

st.title("EM explorer")
st.markdown("Press **Next** to watch EM one half-step at a time: the **E step** recolours the "
            "points (which component is responsible for each), the **M step** moves the "
            "ellipses and means to fit the points they are responsible for.")
with st.expander("What am I looking at? (EM in three sentences)", expanded=False):
    st.markdown(
        "- A mixture of K Gaussians has, per component k, a **weight** πₖ, a **mean** μₖ (the ✕) "
        "and a **covariance** Σₖ (the ellipses).\n"
        "- **E-step** (expectation): every point gets a *responsibility* rᵢₖ for each component, "
        "the probability that component k produced it given the current parameters. Points are "
        "coloured by these: a pure colour means one component owns it, a blend means it is shared.\n"
        "- **M-step** (maximization): each component is re-estimated from the points weighted by "
        "their responsibilities (weight = share of responsibility, mean = weighted average, "
        "covariance = weighted spread). Repeat until the log-likelihood stops improving."
    )

data = current_data_or_stop()
X, tasks, features = data["X"], data["tasks"], data["features"]
n, d = X.shape


def _run():
    s[S.FIT_SETTINGS] = S.fit_settings_from_widgets()
    s[S.STEP] = 0
    s[S.RESTART] = None
    s[S.PLAYING] = False


with st.form("fit_form"):
    c = st.columns(5)
    c[0].number_input("Components K", 1, 20, key=S.K, persist_state="session")
    c[1].selectbox("Covariance type", COVARIANCE_TYPES, key=S.COV_TYPE, persist_state="session", format_func=cov_label,
                   help="; ".join(f"{t}: {h}" for t, h in COV_HELP.items()))
    c[2].selectbox("Initialization", INIT_METHODS, key=S.INIT, persist_state="session",
                   help="How the starting responsibilities are chosen (k-means clustering, "
                        "k-means++ seeding, random soft assignments, or random data points).")
    c[3].number_input("Seed", 0, 2**31 - 1, key=S.SEED, persist_state="session", help="Same seed, same fit.")
    c[4].number_input("Restarts (n_init)", 1, 20, key=S.N_INIT, persist_state="session",
                      help="EM runs from different starts; the best final log-likelihood is kept.")
    c = st.columns(5)
    c[0].number_input("reg_covar", 0.0, 1.0, key=S.REG_COVAR, persist_state="session", format="%.0e", step=1e-6,
                      help="Added to every variance so covariances stay invertible.")
    c[1].number_input("tol", 0.0, 1.0, key=S.TOL, persist_state="session", format="%.0e", step=1e-4,
                      help="Stop when the log-likelihood per point improves by less than this.")
    c[2].number_input("max_iter", 1, 1000, key=S.MAX_ITER, persist_state="session")
    if tasks is not None:
        c[3].checkbox("Shared across tasks", key=S.USE_TASKS, persist_state="session",
                      help=f"Use the task column '{data['task_column']}': one set of components, "
                           "one weight vector per task.")
    c[4].form_submit_button("Run EM", type="primary", on_click=_run, use_container_width=True)

model = current_fit_or_stop(data)
restarts = model.restarts_
fit = s[S.FIT_SETTINGS]
use_tasks = bool(fit.get("use_tasks")) and tasks is not None
row_tasks = tasks if use_tasks else None

if s.get(S.RESTART) is None or not 0 <= s[S.RESTART] < len(restarts):
    s[S.RESTART] = model.best_restart_
if len(restarts) > 1:
    with st.expander(f"Restarts: {len(restarts)} runs from different starting points "
                     "(EM finds a local optimum, not always the global one)", expanded=True):
        c1, c2 = st.columns([3, 1])
        c1.plotly_chart(restarts_figure([r.log_likelihood for r in restarts],
                                        best=model.best_restart_, selected=s[S.RESTART],
                                        n_iters=[r.n_iter for r in restarts]),
                        key="restarts_chart")
        c2.selectbox("Open restart in the stepper", list(range(len(restarts))), key=S.RESTART, persist_state="session",
                     format_func=lambda i: f"restart {i}" + (" (best)" if i == model.best_restart_ else ""))
        c2.caption("Green: the best restart (kept by the model). Orange: the one shown.")
history = restarts[s[S.RESTART]].history
last = len(history) - 1

if s.get("_url_step") is not None:
    s[S.STEP] = min(int(s["_url_step"]), last)
    s["_url_step"] = None
s[S.STEP] = max(0, min(int(s[S.STEP]), last))

full_resp_cache = {}


def _resp_at(step):
    if step not in full_resp_cache:
        full_resp_cache[step] = V.display_resp(history, step, X, row_tasks)
    return full_resp_cache[step]


def _go(to):
    s[S.STEP] = max(0, min(to, last))


@st.fragment(run_every=0.7 if s.get(S.PLAYING) else None)
def stepper():
    if s.get(S.PLAYING):
        if s[S.STEP] >= last:
            s[S.PLAYING] = False
            st.rerun()
        else:
            s[S.STEP] += 1
    step = s[S.STEP]
    snap = history[step]

    b = st.columns([1, 1, 1, 1, 1.3, 5])
    b[0].button("First", icon=":material/first_page:", key="step_first", on_click=_go, args=(0,), disabled=step == 0,
                use_container_width=True)
    b[1].button("Prev", icon=":material/chevron_left:", key="step_prev", on_click=_go, args=(step - 1,), disabled=step == 0,
                use_container_width=True)
    b[2].button("Next", icon=":material/chevron_right:", key="step_next", on_click=_go, args=(step + 1,), disabled=step == last,
                use_container_width=True)
    b[3].button("Last", icon=":material/last_page:", key="step_last", on_click=_go, args=(last,), disabled=step == last,
                use_container_width=True)
    playing = bool(s.get(S.PLAYING))
    if b[4].button("Pause" if playing else "Play", key="step_play",
                   icon=":material/pause:" if playing else ":material/play_arrow:",
                   use_container_width=True, disabled=last == 0):
        if not s.get(S.PLAYING) and step >= last:
            s[S.STEP] = 0
        s[S.PLAYING] = not s.get(S.PLAYING)
        st.rerun()
    b[5].slider("Half-step", 0, last, key=S.STEP, persist_state="session", label_visibility="collapsed",
                help="Scrub through the initialization and every E and M half-step.")

    st.markdown(f"**Step {step} of {last} — {V.step_title(snap)}**")
    st.caption(V.describe(history, step))

    resp_full = _resp_at(step)
    left, right = st.columns([3, 2])
    with left:
        if d == 1:
            st.plotly_chart(V.histogram(snap, X, resp_full, features, histogram_figure),
                            key="em_hist")
        else:
            view = "Two features"
            if d > 2:
                view = st.radio("View", ["Two features", "PCA projection", "Scatter matrix"],
                                key=S.VIEW, persist_state="session", horizontal=True)
            idx = subsample_indices(n, int(s[S.MAX_POINTS]), seed=0)
            if idx.size < n:
                st.caption(f"Showing {idx.size:,} of {n:,} points, sampled with seed 0 (the same "
                           "points at every step, drawn with WebGL); the fit uses all rows.")
            color_by = "responsibilities"
            if tasks is not None:
                names = V.task_names(tasks)
                if not set(s.get(S.SHOWN_TASKS) or ()) <= set(names) or S.SHOWN_TASKS not in s:
                    s[S.SHOWN_TASKS] = names
                t1, t2 = st.columns([2, 3])
                color_by = t1.radio("Colour points by", ["responsibilities", "task"],
                                    key=S.COLOR_BY, persist_state="session", horizontal=True,
                                    help=f"Task: one colour per value of '{data['task_column']}' "
                                         "(the ellipses keep the component colours).")
                shown = t2.multiselect(f"Show points of {data['task_column']}", names,
                                       key=S.SHOWN_TASKS, persist_state="session",
                                       help="Filter the drawn points by task; the fit uses all rows.")
                idx = V.filter_by_task(idx, tasks, shown)
                if len(shown) < len(names):
                    st.caption(f"Drawing only {', '.join(shown) or 'no task'}: {idx.size:,} points.")
            resp_sub = None if resp_full is None else resp_full[idx]
            if view == "Scatter matrix":
                st.plotly_chart(scatter_matrix_figure(X[idx], resp_sub, feature_names=features),
                                key="em_splom")
            else:
                if view == "Two features" and d > 2:
                    a1, a2 = st.columns(2)
                    a1.selectbox("Horizontal axis", list(range(d)), key=S.AXIS_X, persist_state="session",
                                 format_func=lambda j: features[j])
                    a2.selectbox("Vertical axis", list(range(d)), key=S.AXIS_Y, persist_state="session",
                                 format_func=lambda j: features[j])
                proj = V.projection(data, view, int(s.get(S.AXIS_X, 0)), int(s.get(S.AXIS_Y, 1)))
                prev = history[step - 1] if snap.phase == "M" else None
                fig = em_scatter(
                    proj.transform(X[idx]), resp_sub,
                    means=proj.project_means(snap.means),
                    covariances=proj.project_covariances(V.covs(snap)),
                    prev_means=None if prev is None else proj.project_means(prev.means),
                    weights=V.weights(snap, row_tasks), row_ids=data["row_index"][idx],
                    axis_labels=V.axis_labels(proj, data), webgl=n > 2000,
                    groups=tasks[idx] if color_by == "task" else None,
                    group_title=str(data["task_column"]),
                    group_names=V.task_names(tasks) if tasks is not None else None,
                )
                st.plotly_chart(fig, key="em_scatter")
                if view == "PCA projection":
                    st.caption("PCA projection: the ellipses are the exact projected covariances "
                               "(A Σ Aᵀ), so they hold the same mass as in the full space's "
                               "marginal on this plane.")
        if snap.phase == "M":
            st.caption("After an M step the points keep the colours of the E step before it: "
                       "those are the responsibilities this M step used to move the components.")
    with right:
        trace = V.ll_trace(history)
        events = V.events(history)
        st.plotly_chart(log_likelihood_figure(
            trace, current_iteration=snap.iteration if snap.phase != "init" else None,
            events=events, per_sample=bool(s.get(S.PER_SAMPLE))), key="em_ll")
        st.toggle("Per point (divide by N)", key=S.PER_SAMPLE, persist_state="session")
        st.caption("The log-likelihood is evaluated by each E step on the parameters it used, so "
                   "the E and M half-steps of one iteration share a point. EM never lets it "
                   "decrease.")
        for e in V.event_lines(events, step):
            st.info(e)
        st.markdown("**Parameters at this step**")
        st.dataframe(V.params(snap, features), hide_index=True, key="em_params")
        if snap.weights.ndim == 2:
            st.markdown(f"**Each task's weights at this step** (shared components, one weight "
                        f"vector per value of '{data['task_column']}')")
            st.plotly_chart(task_weights_heatmap(snap.weights, snap.tasks,
                                                 task_title=str(data["task_column"])),
                            key="em_task_weights")

    V.formula_panel(history, step, X, row_tasks, _resp_at, features)
    if data["labels"] is not None:
        resp_lab = resp_full if resp_full is not None else _resp_at(last)
        pred = resp_lab.argmax(axis=1)
        st.subheader("Agreement with the label column")
        c1, c2 = st.columns([1, 3])
        c1.metric("Adjusted Rand index", f"{adjusted_rand_index(data['labels'], pred):.3f}",
                  help="1 = the clusters match the labels exactly (up to renaming), 0 = no "
                       "better than chance.")
        c1.caption(f"Clusters = most responsible component at this step; labels = "
                   f"'{data['label_column']}'.")
        c2.dataframe(confusion_table(data["labels"], pred), key="em_confusion")
    S.sync_url()


stepper()
