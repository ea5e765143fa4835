"""Widgets and blocks shared by several pages."""

from __future__ import annotations

import streamlit as st

from gmmcore import covariance_types, get_structure
from gmmcore.io.limits import check_task_count

from . import data as D
from . import state as S


def covariance_choices(n_features: int | None = None, keep=()) -> list[str]:
    """The covariance types to offer for data with ``n_features`` features (gmmcore's registry:
    mclust's E and V for one feature, the multivariate models otherwise; every one when None),
    plus the registered types in ``keep`` (a name or a list: the widget's current value, so a
    choice made on other data stays selectable instead of breaking the widget)."""
    keep = [keep] if isinstance(keep, str) else list(keep or ())
    offered = list(covariance_types(n_features))
    return offered + [t for t in covariance_types() if t in keep and t not in offered]


def cov_label(t: str) -> str:
    """A covariance type with its mclust name, e.g. 'full (mclust VVV)'."""
    return f"{t} (mclust {get_structure(t).mclust_name})"


def cov_help() -> str:
    """Each covariance type in plain words (the structures' own descriptions)."""
    return "; ".join(f"{t}: {get_structure(t).description}" for t in covariance_types())


def mclust_names() -> str:
    """'full = VVV, tied = EEE, ...': the registered structures whose name is not mclust's
    own (the others, EII ... V, already carry mclust's names)."""
    pairs = ((t, get_structure(t).mclust_name) for t in covariance_types())
    return ", ".join(f"{t} = {m}" for t, m in pairs if t != m)


def share_panel() -> None:
    """The link to this view, with a copy button (st.code's), and what a link cannot carry."""
    s = st.session_state
    st.markdown("**Link to this view**")
    st.code(S.share_url(), language=None, wrap_lines=True)
    origin = (s.get(S.DATASET) or {}).get("origin")
    if origin in ("upload", "synthetic"):
        what = "An uploaded file" if origin == "upload" else "Generated data"
        st.warning(
            f"{what} cannot travel in a link: the link keeps every setting, but opens on "
            f"the default sample ({S.DEFAULT_SAMPLE}). Share the file with it.",
            icon=":material/link_off:",
        )
    else:
        st.caption(
            "Copy it with the button at the code's top right. It reopens this page with the "
            "same data, fit, step and view. An uploaded file cannot travel in a link."
        )


def dataset_sidebar(*, share: bool = True) -> None:
    """The active dataset and fit, in the sidebar of every page, and (with ``share``) the
    link to this view."""
    s = st.session_state
    ds = s.get(S.DATASET)
    with st.sidebar:
        st.markdown("### Current data")
        if ds is None:
            st.caption("No dataset loaded.")
            return
        frame = ds["frame"]
        st.markdown(f"**{ds['name']}**  \n{frame.shape[0]:,} rows × {frame.shape[1]} columns")
        feats = s.get(S.FEATURES) or []
        st.caption(
            "Features: "
            + (", ".join(feats) if feats else "none chosen")
            + (" · standardized" if s.get(S.STANDARDIZE) else "")
        )
        fit = s.get(S.FIT_SETTINGS)
        if fit:
            st.caption(
                f"Fit: K={fit['n_components']}, {cov_label(fit['covariance_type'])}, "
                f"seed {fit['random_state']}, {fit['n_init']} restart(s)"
                + (", typed start" if "means_init" in fit else "")
            )
        if share:
            # Folded: the raw link filled the sidebar of every page and read as an error.
            with st.expander("Link to this view (copy to share)", icon=":material/link:"):
                share_panel()


def current_data_or_stop() -> D.PreparedDataset:
    """The prepared active dataset, or an st.error and a stop."""
    try:
        return D.current()
    except ValueError as exc:
        st.error(f"The current data cannot be used: {exc}")
        st.page_link(
            "pages/1_data.py", label="Go to the Data page to fix it", icon=":material/table_chart:"
        )
        st.stop()


def current_fit_or_stop(data: D.PreparedDataset):
    """The model fitted with the applied settings (cached), or an st.error and a stop."""
    settings = st.session_state[S.FIT_SETTINGS]
    try:
        with st.spinner("Fitting…"):
            return D.fit_current(data, settings)
    except ValueError as exc:
        st.error(f"The fit failed: {exc}")
        st.stop()


def require_few_tasks(data: D.PreparedDataset) -> None:
    """Stop with an error when the task column has more than MAX_TASKS values (one legend
    entry, filter option and weight row per task made every rerun take minutes); nothing
    without a task column."""
    if data.tasks is None:
        return
    try:
        check_task_count(data.tasks, data.task_column)
    except ValueError as exc:
        st.error(
            f"{str(exc)[0].upper()}{str(exc)[1:]}. Choose another task column (or none) on the "
            "Data page."
        )
        st.stop()
