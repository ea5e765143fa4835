"""Explorer building blocks: thin adapters from gmmcore results to Streamlit elements."""

from __future__ import annotations

import streamlit as st

from gmmcore.viz import explain as E
from gmmcore.viz.projection import axis_projection, pca_projection

from . import state as S

display_resp = E.display_responsibilities
describe = E.step_description
covs = E.covariance_stack
weights = E.task_weights
ll_trace = E.log_likelihood_trace
events = E.events_table


def task_names(tasks) -> list[str]:
    """The distinct task names, sorted (the engine's order)."""
    return sorted(set(map(str, tasks)))


def filter_by_task(idx, tasks, shown):
    """The row indices in ``idx`` whose task is in ``shown``."""
    import numpy as np

    return idx[np.isin(np.asarray(tasks)[idx].astype(str), list(shown))]


def step_title(snap) -> str:
    if snap.phase == "init":
        return "initialization"
    what = "E step (responsibilities)" if snap.phase == "E" else "M step (parameters)"
    return f"iteration {snap.iteration}, after the {what}"


def params(snap, features):
    return E.parameter_table(snap, features).round(4)


@st.cache_data(max_entries=16, show_spinner=False)
def _pca(data_key: str, _X, features: tuple):
    return pca_projection(_X, 2, features)


def projection(data: dict, view: str, i: int, j: int):
    d = data["X"].shape[1]
    if view == "PCA projection":
        return _pca(data["key"], data["X"], tuple(data["features"]))
    if d == 2:
        i, j = 0, 1
    return axis_projection(d, i, j, data["features"])


def axis_labels(proj, data) -> tuple[str, str]:
    if proj.explained_variance_ratio is not None:
        return proj.labels[0], proj.labels[1]
    suffix = " (standardized)" if data.get("standardizer") is not None else ""
    return proj.labels[0] + suffix, proj.labels[1] + suffix


def event_lines(events_df, step: int) -> list[str]:
    """Events up to the current step, in words."""
    out = []
    for _, e in events_df.iterrows():
        if e["step"] <= step:
            out.append(f"Iteration {e['iteration']}: {e['message']}")
    return out


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1e-3 and abs(x) < 1e5:
        return f"{x:.4g}"
    mant, exp = f"{x:.3e}".split("e")
    return rf"{mant}\times 10^{{{int(exp)}}}"


def _vec(v) -> str:
    return r"\begin{pmatrix}" + r"\\".join(_fmt(float(t)) for t in v) + r"\end{pmatrix}"


def _mat(m) -> str:
    rows = [" & ".join(_fmt(float(t)) for t in row) for row in m]
    return r"\begin{pmatrix}" + r"\\".join(rows) + r"\end{pmatrix}"


def formula_panel(history, step, X, tasks, resp_at, features) -> None:
    """The E- and M-step formulas with this step's numbers for a chosen point and component."""
    s = st.session_state
    snap = history[step]
    n, d = X.shape
    k = snap.n_components
    with st.expander("The formulas, with this step's numbers", expanded=False):
        c1, c2 = st.columns(2)
        s[S.FORMULA_POINT] = min(int(s.get(S.FORMULA_POINT, 0)), n - 1)
        s[S.FORMULA_COMPONENT] = min(int(s.get(S.FORMULA_COMPONENT, 0)), k - 1)
        i = c1.number_input("Point (row of the data used by the fit)", 0, n - 1,
                            key=S.FORMULA_POINT, persist_state="session")
        j = c2.selectbox("Component", list(range(k)), key=S.FORMULA_COMPONENT, persist_state="session",
                         format_func=lambda t: f"component {t}")
        st.caption(f"Point {i}: " + ", ".join(f"{f} = {X[i, t]:.4g}" for t, f in enumerate(features)))

        # E step: the parameters the (current or next) E step uses.
        if snap.phase == "E":
            e_snap, when = snap, "this E step computed"
        elif snap.phase == "M":
            e_snap, when = history[step - 1], "the E step before this M step computed"
        else:
            e_snap, when = snap, "the first E step will compute from these starting parameters"
        task = None if tasks is None else tasks[i]
        det = E.e_step_detail(e_snap, X[i], task)
        st.markdown(f"**E step** — the responsibility {when}:")
        st.latex(r"r_{ik} = \frac{\pi_k\,\mathcal{N}(x_i \mid \mu_k, \Sigma_k)}"
                 r"{\sum_{j=1}^{K} \pi_j\,\mathcal{N}(x_i \mid \mu_j, \Sigma_j)}")
        num = det["weights"][j] * float(_exp(det["log_density"][j]))
        den = float(_exp(det["log_evidence"]))
        st.latex(rf"r_{{{i},{j}}} = \frac{{{_fmt(det['weights'][j])} \times {_fmt(float(_exp(det['log_density'][j])))}}}"
                 rf"{{{_fmt(den)}}} = \frac{{{_fmt(num)}}}{{{_fmt(den)}}} = "
                 rf"{_fmt(det['responsibility'][j])}")
        st.caption("All components for this point: " + ", ".join(
            f"r[{t}] = {det['responsibility'][t]:.4f}" for t in range(k)))

        # M step: the responsibilities it uses and what it produces.
        if snap.phase == "init":
            st.markdown("**M step** — none yet: step forward to the first E step.")
            return
        resp = resp_at(step if snap.phase == "M" else step)  # E: those the next M step will use
        after = snap if snap.phase == "M" else (history[step + 1] if step + 1 < len(history) else None)
        m = E.m_step_detail(resp, X, j, after)
        label = "this M step computed" if snap.phase == "M" else "the next M step will compute"
        st.markdown(f"**M step** — what {label} for component {j}, from these responsibilities:")
        st.latex(r"N_k = \sum_{i=1}^{N} r_{ik},\quad \pi_k = \frac{N_k}{N},\quad "
                 r"\mu_k = \frac{1}{N_k}\sum_{i} r_{ik}\,x_i,\quad "
                 r"\Sigma_k = \frac{1}{N_k}\sum_i r_{ik}(x_i-\mu_k)(x_i-\mu_k)^\top")
        st.latex(rf"N_{{{j}}} = {_fmt(m['n_k'])},\quad \pi_{{{j}}} = \frac{{{_fmt(m['n_k'])}}}{{{m['n']}}}"
                 rf" = {_fmt(m['weight'])}")
        st.latex(rf"\mu_{{{j}}} = \frac{{1}}{{{_fmt(m['n_k'])}}}{_vec(m['weighted_sum'])} = {_vec(m['mean'])}")
        if d <= 4:
            st.latex(rf"\Sigma_{{{j}}} = {_mat(m['covariance'])}")
        if after is not None and snap.covariance_type != "full":
            st.caption(f"With covariance type '{snap.covariance_type}' the engine then constrains "
                       "this covariance (shared, diagonal or spherical); the parameter table shows "
                       "the result.")
        elif after is not None:
            st.caption("The engine adds reg_covar to the diagonal of Σ; otherwise these are the "
                       "numbers in the parameter table.")


def _exp(x):
    import math

    return math.exp(x) if x > -745 else 0.0


def histogram(snap, X, resp, features, histogram_figure):
    cov = covs(snap)
    return histogram_figure(X[:, 0], weights=weights(snap), means=snap.means[:, 0],
                            variances=cov[:, 0, 0], resp=None if resp is None or X.shape[0] > 3000 else resp,
                            axis_label=features[0])
