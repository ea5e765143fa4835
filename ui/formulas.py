"""The explorer's formula panel: the E- and M-step formulas with one step's numbers."""

from __future__ import annotations

import math

import streamlit as st

from gmmcore.viz import explain

from . import state as S
from .history import StepperRun

# LaTeX shows the covariance matrix only up to this many features (wider ones do not fit).
_MAX_MATRIX_FEATURES = 4


def formula_panel(run: StepperRun, step: int) -> None:
    """The E- and M-step formulas with this step's numbers for a chosen point and component."""
    with st.expander("The formulas, with this step's numbers", expanded=False):
        i, j = _point_and_component(run, step)
        _e_step(run, step, i, j)
        _m_step(run, step, j)


def _point_and_component(run: StepperRun, step: int) -> tuple[int, int]:
    """The point and component pickers, clamped to this data and K (both may have shrunk since
    the values were chosen)."""
    s = st.session_state
    X, features = run.data.X, run.data.features
    n = X.shape[0]
    k = run.history[step].n_components
    c1, c2 = st.columns(2)
    s[S.FORMULA_POINT] = min(int(s.get(S.FORMULA_POINT, 0)), n - 1)
    s[S.FORMULA_COMPONENT] = min(int(s.get(S.FORMULA_COMPONENT, 0)), k - 1)
    i = c1.number_input(
        "Point (row of the data used by the fit)",
        0,
        n - 1,
        key=S.FORMULA_POINT,
        persist_state="session",
    )
    j = c2.selectbox(
        "Component",
        list(range(k)),
        key=S.FORMULA_COMPONENT,
        persist_state="session",
        format_func=lambda t: f"component {t}",
    )
    st.caption(f"Point {i}: " + ", ".join(f"{f} = {X[i, t]:.4g}" for t, f in enumerate(features)))
    return i, j


def _e_step(run: StepperRun, step: int, i: int, j: int) -> None:
    """r_ij from the parameters the (current or next) E step uses."""
    history, X = run.history, run.data.X
    snap = history[step]
    k = snap.n_components
    if snap.phase == "E":
        e_snap, when = snap, "this E step computed"
    elif snap.phase == "M":
        e_snap, when = history[step - 1], "the E step before this M step computed"
    else:
        e_snap, when = snap, "the first E step will compute from these starting parameters"
    task = None if run.row_tasks is None else run.row_tasks[i]
    det = explain.e_step_detail(e_snap, X[i], task)
    st.markdown(f"**E step** — the responsibility {when}:")
    st.latex(
        r"r_{ik} = \frac{\pi_k\,\mathcal{N}(x_i \mid \mu_k, \Sigma_k)}"
        r"{\sum_{j=1}^{K} \pi_j\,\mathcal{N}(x_i \mid \mu_j, \Sigma_j)}"
    )
    density = float(_exp(det["log_density"][j]))
    num = det["weights"][j] * density
    den = float(_exp(det["log_evidence"]))
    st.latex(
        rf"r_{{{i},{j}}} = \frac{{{_fmt(det['weights'][j])} \times {_fmt(density)}}}"
        rf"{{{_fmt(den)}}} = \frac{{{_fmt(num)}}}{{{_fmt(den)}}} = "
        rf"{_fmt(det['responsibility'][j])}"
    )
    st.caption(
        "All components for this point: "
        + ", ".join(f"r[{t}] = {det['responsibility'][t]:.4f}" for t in range(k))
    )


def _m_step(run: StepperRun, step: int, j: int) -> None:
    """What the (current or next) M step computes for component ``j``."""
    history, X = run.history, run.data.X
    snap = history[step]
    if snap.phase == "init":
        st.markdown("**M step** — none yet: step forward to the first E step.")
        return
    # After M: the responsibilities this M step used; after E: those the next M step will use.
    # Either way they are the ones the points are coloured with at this step.
    resp = run.responsibilities(step)
    after = snap if snap.phase == "M" else (history[step + 1] if step + 1 < len(history) else None)
    m = explain.m_step_detail(resp, X, j, after)
    label = "this M step computed" if snap.phase == "M" else "the next M step will compute"
    st.markdown(f"**M step** — what {label} for component {j}, from these responsibilities:")
    st.latex(
        r"N_k = \sum_{i=1}^{N} r_{ik},\quad \pi_k = \frac{N_k}{N},\quad "
        r"\mu_k = \frac{1}{N_k}\sum_{i} r_{ik}\,x_i,\quad "
        r"\Sigma_k = \frac{1}{N_k}\sum_i r_{ik}(x_i-\mu_k)(x_i-\mu_k)^\top"
    )
    st.latex(
        rf"N_{{{j}}} = {_fmt(m['n_k'])},\quad \pi_{{{j}}} = \frac{{{_fmt(m['n_k'])}}}{{{m['n']}}}"
        rf" = {_fmt(m['weight'])}"
    )
    st.latex(
        rf"\mu_{{{j}}} = \frac{{1}}{{{_fmt(m['n_k'])}}}{_vec(m['weighted_sum'])}"
        rf" = {_vec(m['mean'])}"
    )
    if X.shape[1] <= _MAX_MATRIX_FEATURES:
        st.latex(rf"\Sigma_{{{j}}} = {_mat(m['covariance'])}")
    if after is not None and snap.covariance_type != "full":
        st.caption(
            f"With covariance type '{snap.covariance_type}' the engine then constrains "
            "this covariance (shared, diagonal or spherical); the parameter table shows "
            "the result."
        )
    elif after is not None:
        st.caption(
            "The engine adds reg_covar to the diagonal of Σ; otherwise these are the "
            "numbers in the parameter table."
        )


def _fmt(x: float) -> str:
    """A number for LaTeX (``explain.latex_number``)."""
    return explain.latex_number(x)


def _vec(v) -> str:
    return r"\begin{pmatrix}" + r"\\".join(_fmt(float(t)) for t in v) + r"\end{pmatrix}"


def _mat(m) -> str:
    rows = [" & ".join(_fmt(float(t)) for t in row) for row in m]
    return r"\begin{pmatrix}" + r"\\".join(rows) + r"\end{pmatrix}"


def _exp(x: float) -> float:
    """exp(x), 0 below the smallest subnormal double (exp(-745))."""
    return math.exp(x) if x > -745 else 0.0
