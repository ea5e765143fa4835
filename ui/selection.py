"""The Model selection page's panels: the grid's settings, its run, and its result."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import pandas as pd
import streamlit as st

from gmmcore.engine.covariance import COVARIANCE_TYPES, covariance_types, get_structure
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.engine.mclust_models import MCLUST_FAMILIES, geometry
from gmmcore.engine.prior import PRIOR_MODELS
from gmmcore.io.csv_safe import to_safe_csv
from gmmcore.selection import GRID_DEFAULTS, best_cell, best_k_at_edge, model_grid, top_cells
from gmmcore.viz import criteria_figure

from . import data as D
from . import state as S
from .widgets import cov_label, covariance_choices, mclust_names


class GridRequest(NamedTuple):
    """What a grid was run with (kept beside its result, to tell when the data changed and to
    open a cell with exactly these settings)."""

    data_key: str
    k_range: tuple[int, int]
    types: tuple[str, ...]
    fit_params: tuple  # sorted (name, value) items: n_init, tol, reg_covar, max_iter, ...
    use_tasks: bool


def intro() -> None:
    """The title, one line on what the page does with the sign convention, and (folded away,
    so the grid's form stays above the fold at 1280 x 720) what the criteria are."""
    st.title("Model selection")
    c1, c2 = st.columns([3, 1.3], vertical_alignment="center")
    c1.markdown(
        "How many components, and which covariance shape? Fit one mixture per cell of a grid "
        "and compare BIC, AIC and ICL. **Lower is better.**"
    )
    with c2.popover("The criteria and mclust", icon=":material/help:", use_container_width=True):
        st.markdown(
            "Each **information criterion** rewards the log-likelihood and penalizes the "
            "number of parameters. **Sign convention: lower is better** (scikit-learn's): "
            "BIC = −2 log L + p log n, AIC = −2 log L + 2p, ICL = BIC + the classification "
            "entropy (penalizes overlapping clusters). R's mclust reports BIC with the "
            "opposite sign (higher is better); its model names are shown beside ours ("
            + mclust_names()
            + "; the other types carry mclust's names)."
        )


def _set_types(types: list[str]) -> None:
    st.session_state[S.GRID_TYPES] = list(types)


def models_explained(n_features: int | None) -> None:
    """mclust's models grouped by the shape of their ellipses, each in plain words (volume,
    shape, orientation: equal / variable / identity), with our alias and its parameter count
    for this data; and one-click choices of all of them or scikit-learn's four."""
    offered = list(covariance_types(n_features))
    c1, c2, c3 = st.columns([1.2, 1.2, 2], vertical_alignment="center")
    c1.button(
        f"All {len(offered)} models (as mclust)",
        key=S.GRID_ALL_TYPES,
        on_click=_set_types,
        args=(offered,),
        help="mclust's default: every model offered for data with this many features.",
        use_container_width=True,
    )
    four = [t for t in COVARIANCE_TYPES if t in offered]
    c2.button(
        f"scikit-learn's {len(four)}" if four else "scikit-learn's types",
        key=S.GRID_SKLEARN_TYPES,
        on_click=_set_types,
        args=(four or offered,),
        help="full, tied, diag and spherical (mclust's VVV, EEE, VVI, VII).",
        use_container_width=True,
        disabled=not four,
    )
    with c3.popover("The models in plain words", icon=":material/help:", use_container_width=True):
        st.markdown(
            "mclust names each model by three letters: the components' **volume** (size), "
            "**shape** (proportions of the ellipse) and **orientation** are **E**qual for "
            "all components, **V**ariable (each its own), or the **I**dentity (round; along "
            "the axes). More freedom fits better but costs parameters, which BIC charges for."
        )
        st.dataframe(
            model_table(n_features), hide_index=True, use_container_width=True, key=S.GRID_MODELS
        )


def model_table(n_features: int | None) -> pd.DataFrame:
    """One row per offered model, grouped by family: name, our alias, volume, shape,
    orientation and free parameters of the covariances (means and weights not counted) for
    K = 3 on this data."""
    offered = set(covariance_types(n_features))
    d = n_features or 2
    rows = []
    for family, names in MCLUST_FAMILIES:
        for name in names:
            types = [t for t in offered if get_structure(t).mclust_name == name]
            if not types:
                continue
            structure = get_structure(types[0])
            rows.append(
                {
                    "family": family,
                    "model": name,
                    "our name": types[0] if types[0] != name else "",
                    **geometry(name),
                    "parameters (K = 3)": structure.n_cov_parameters(3, d),
                }
            )
    return pd.DataFrame(rows)


def grid_form(fit: dict, use_tasks: bool, n_features: int | None = None) -> bool:
    """The grid's range, types (those that apply to ``n_features`` features), restarts and
    initialization. Returns whether Run was pressed."""
    prior = bool(st.session_state.get(S.GRID_PRIOR))
    if st.session_state.get(S.GRID_TYPES) is None:  # mclust's default: every offered model
        st.session_state[S.GRID_TYPES] = list(covariance_types(n_features))
    models_explained(n_features)
    with st.form(S.GRID_FORM):
        c = st.columns([2, 3, 1, 1])
        c[0].slider("Range of K", 1, 15, key=S.GRID_K_RANGE, persist_state="session")
        c[1].multiselect(
            "Covariance types",
            covariance_choices(n_features, st.session_state.get(S.GRID_TYPES)),
            key=S.GRID_TYPES,
            format_func=cov_label,
            persist_state="session",
        )
        c[2].number_input("Restarts per cell", 1, 10, key=S.GRID_N_INIT, persist_state="session")
        c[3].selectbox("Initialization", INIT_METHODS, key=S.GRID_INIT, persist_state="session")
        st.checkbox(
            "Conjugate prior (mclust's defaultPrior): fits cells that would otherwise collapse",
            key=S.GRID_PRIOR,
            persist_state="session",
            help="Without it, a component can shrink onto a few points and its cell is marked "
            "degenerate and skipped. The prior gently pulls every component towards the whole "
            "data's spread (as R's mclust does with prior = priorControl()), so such cells get "
            "a sensible fit. BIC is still computed as mclust does. Four models have no prior "
            "(VEE, EVE, VVE, EVV) and are left out while it is on.",
        )
        st.caption(
            f"Every cell runs EM to tol {GRID_DEFAULTS['tol']:g} relative to the "
            f"log-likelihood (max_iter {GRID_DEFAULTS['max_iter']}, as mclust) with the EM explorer's seed "
            f"{fit['random_state']} and reg_covar {fit['reg_covar']:g}, on every core"
            + (", shared across tasks" if use_tasks else "")
            + "; opening a cell in the explorer refits it with exactly these settings"
            + (", the prior included." if prior else ".")
        )
        return st.form_submit_button("Run the grid", type="primary")


def grid_request(data: D.PreparedDataset, fit: dict, use_tasks: bool) -> GridRequest:
    """The grid the widgets ask for: model_grid's tol and max_iter (mclust's way), the
    explorer's applied seed and reg_covar; opening a cell gives the explorer all of them, so
    it is the same fit."""
    s = st.session_state
    fit_params = tuple(
        sorted(
            {
                "n_init": int(s[S.GRID_N_INIT]),
                "tol": GRID_DEFAULTS["tol"],
                "convergence": GRID_DEFAULTS["convergence"],
                "reg_covar": fit["reg_covar"],
                "max_iter": GRID_DEFAULTS["max_iter"],
                "init_params": s[S.GRID_INIT],
                "random_state": fit["random_state"],
                **({"prior": "default"} if s.get(S.GRID_PRIOR) else {}),
            }.items()
        )
    )
    types = tuple(s[S.GRID_TYPES])
    if s.get(S.GRID_PRIOR):  # mclust has no prior for VEE, EVE, VVE, EVV: left out, as mclustBIC
        types = tuple(t for t in types if get_structure(t).mclust_name in PRIOR_MODELS)
    return GridRequest(data.key, tuple(s[S.GRID_K_RANGE]), types, fit_params, use_tasks)


# Fitted cells are kept process-wide (every session shares them, like st.cache_data) in a
# plain bounded dict rather than st.cache_data: the grid is fitted by one model_grid call on
# every core (cells on worker processes), with a progress bar driven by its callback, and
# Streamlit replays the elements a cached function touched (a progress bar created outside it
# raised CacheReplayClosureError on the second run). Bounds: a grid is at most 15 K x the
# registered types (16 for one feature, 14 otherwise); 512 one-row entries hold a handful of
# full grids, the least recently used going first (each entry is one small row, so the bound
# is on the count, not the bytes).
CELL_CACHE_ENTRIES = 512
_CELLS: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_CELLS_LOCK = threading.Lock()


def _cell_key(data_key: str, use_tasks: bool, k: int, covariance_type: str, fit_params: tuple):
    return (data_key, use_tasks, k, covariance_type, fit_params)


def fit_cells(data_key: str, X, tasks, cells, fit_params: tuple, progress=None) -> list:
    """One-row grids for ``cells`` [(K, covariance type), ...] on the data whose content hash
    is ``data_key``, from the cache or fitted by one ``model_grid`` call on every core (over
    the product of the K values and types of the cells not cached yet: a range or a list of
    types extended, the usual change, adds exactly such a product). Every cell uses the same
    ``fit_params``, so a grid assembled from them is the grid ``model_grid`` fits in one call
    (the same for any n_jobs). ``progress(done, total, row)`` as model_grid's."""
    use_tasks = tasks is not None
    keys = [_cell_key(data_key, use_tasks, *c, fit_params) for c in cells]
    with _CELLS_LOCK:
        missing = [c for c, key in zip(cells, keys, strict=True) if key not in _CELLS]
    fitted = {}
    if missing:
        ks = sorted({k for k, _ in missing})
        types = list(dict.fromkeys(t for _, t in missing))
        grid = model_grid(
            X, ks, types, tasks=tasks, progress=progress, n_jobs=-1, **dict(fit_params)
        )
        for i in range(len(grid)):
            row = grid.iloc[[i]].reset_index(drop=True)
            cell = (int(row.at[0, "n_components"]), str(row.at[0, "covariance_type"]))
            fitted[_cell_key(data_key, use_tasks, *cell, fit_params)] = row
    with _CELLS_LOCK:
        # A cell cached before stays as it was (the product may refit it); the rows are
        # taken before the oldest entries are dropped, so none of this grid's can go.
        for key, row in fitted.items():
            _CELLS.setdefault(key, row)
        out = []
        for key in keys:
            _CELLS.move_to_end(key)
            out.append(_CELLS[key])
        while len(_CELLS) > CELL_CACHE_ENTRIES:
            _CELLS.popitem(last=False)
    return out


def assemble_grid(rows: list[pd.DataFrame], fit_params: tuple) -> pd.DataFrame:
    """The cells' one-row frames as one grid, as ``model_grid`` returns it."""
    grid = pd.concat(rows, ignore_index=True)
    grid["error"] = grid["error"].astype(object).where(grid["error"].notna(), None)
    grid.attrs["fit_params"] = dict(fit_params)
    return grid


def run_grid(data: D.PreparedDataset, request: GridRequest) -> None:
    """Fit the grid with a progress bar; the result goes to GRID_RESULT, a failure to st.error
    (the previous result stays)."""
    s = st.session_state
    if not request.types:
        st.error("Choose at least one covariance type.")
        return
    cells = [
        (k, t) for k in range(request.k_range[0], request.k_range[1] + 1) for t in request.types
    ]
    tasks = data.tasks if request.use_tasks else None
    bar = st.progress(0.0, text="Fitting the grid…")

    def progress(done, total, row):
        bar.progress(
            done / total,
            text=f"Fitted {done} of {total} cells (last: K={row['n_components']}, "
            f"{row['covariance_type']})",
        )

    try:
        rows = fit_cells(data.key, data.X, tasks, cells, request.fit_params, progress)
    except ValueError as exc:
        st.error(f"The grid could not run: {exc}")
    else:
        s[S.GRID_RESULT] = {"request": request, "grid": assemble_grid(rows, request.fit_params)}
        s[S.GRID_CELL] = None
    bar.empty()


def result_or_stop(data: D.PreparedDataset) -> dict:
    """The last grid result ({"request", "grid"}), or a hint and a stop when there is none."""
    result = st.session_state.get(S.GRID_RESULT)
    if result is None:
        st.info("Choose the range and types, then press **Run the grid**.")
        st.stop()
    if result["request"].data_key != data.key:
        st.warning("The data changed since this grid was run; run it again.")
    return result


def best_panel(grid: pd.DataFrame) -> list[tuple[int, str]]:
    """The criterion picker, the criteria chart and the best cell. Returns the cells that
    fitted, as (K, covariance type); the selected cell defaults to the best one."""
    s = st.session_state
    criterion = st.radio(
        "Criterion",
        ["bic", "aic", "icl"],
        key=S.GRID_CRITERION,
        horizontal=True,
        format_func=str.upper,
        persist_state="session",
    )
    try:
        best = best_cell(grid, criterion)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    # A failed cell has an error message; the others have None or NaN (x != x).
    cells = [
        (int(r.n_components), str(r.covariance_type))
        for r in grid.itertuples()
        if r.error is None or r.error != r.error
    ]
    if s.get(S.GRID_CELL) not in cells:
        s[S.GRID_CELL] = (int(best["n_components"]), str(best["covariance_type"]))

    st.plotly_chart(criteria_figure(grid, criterion, selected=s[S.GRID_CELL]), key=S.GRID_CHART)
    st.success(
        f"Best by {criterion.upper()}: K = {int(best['n_components'])}, "
        f"{cov_label(best['covariance_type'])}, {criterion.upper()} = {best[criterion]:.2f}"
    )
    edge = best_k_at_edge(grid, best)
    if edge == "upper":
        st.info(
            f"The best K ({int(best['n_components'])}) is the largest K tried: "
            f"{criterion.upper()} may keep improving with more components. Extend the range "
            "of K and run the grid again."
        )
    elif edge == "lower":
        st.info(
            f"The best K ({int(best['n_components'])}) is the smallest K tried: fewer "
            "components may be better still. Start the range of K lower."
        )
    top_three(grid, criterion)
    failed = grid[grid["error"].notna()]
    if len(failed):
        st.warning(
            f"{len(failed)} cell(s) failed and are left out of the charts: "
            + "; ".join(
                f"K={r.n_components} {r.covariance_type}: {r.error}" for r in failed.itertuples()
            )
        )
    return cells


def top_three(grid: pd.DataFrame, criterion: str) -> None:
    """The three best sound cells with how far each is behind the best (as mclust's
    summary lists them)."""
    top = top_cells(grid, criterion, 3)
    name = criterion.upper()
    table = pd.DataFrame(
        {
            "rank": range(1, len(top) + 1),
            "model": [
                f"{m}, K = {k}"
                for m, k in zip(top["mclust_name"], top["n_components"], strict=True)
            ],
            "covariance type": list(top["covariance_type"]),
            name: top[criterion].round(2).to_numpy(),
            f"{name} behind the best": top["delta"].round(2).to_numpy(),
        }
    )
    st.markdown(
        f"**Top three by {name}** (a gap under 2 is weak evidence between two models, over 10 "
        "strong)"
    )
    st.dataframe(table, hide_index=True, key=S.GRID_TOP)


def _open_cell(request: GridRequest) -> None:
    # Callback: the selected cell, with every setting the grid used, becomes the explorer's fit.
    k, cov_type = st.session_state[S.GRID_CELL]
    params = dict(request.fit_params)
    S.open_in_explorer(
        {
            S.K: k,
            S.COV_TYPE: cov_type,
            S.N_INIT: params["n_init"],
            S.INIT: params["init_params"],
            S.SEED: params["random_state"],
            S.TOL: params["tol"],
            S.CONVERGENCE: params.get("convergence", "mean"),
            S.REG_COVAR: params["reg_covar"],
            S.MAX_ITER: params["max_iter"],
            S.USE_TASKS: request.use_tasks,
            S.PRIOR: params.get("prior") == "default",
        }
    )


def open_cell_panel(cells: list[tuple[int, str]], request: GridRequest) -> None:
    """Pick a cell and open it in the EM explorer."""
    c1, c2 = st.columns([2, 1])
    c1.selectbox(
        "Open a cell in the EM explorer",
        cells,
        key=S.GRID_CELL,
        format_func=lambda c: f"K = {c[0]}, {cov_label(c[1])}",
    )
    c2.button(
        "Open in the EM explorer",
        key=S.OPEN_CELL_BUTTON,
        on_click=_open_cell,
        args=(request,),
        type="primary",
    )
    S.switch_if_requested()


def grid_table(grid: pd.DataFrame) -> None:
    """Every cell, the best value of each criterion highlighted, and the CSV download."""
    st.markdown("**All cells** (lower is better for BIC, AIC and ICL)")
    st.dataframe(
        grid.style.highlight_min(subset=["bic", "aic", "icl"], color="#FFE08A"),
        hide_index=True,
        key=S.GRID_TABLE,
    )
    st.download_button(
        "Download the table (CSV)",
        to_safe_csv(grid, index=False).encode(),
        file_name="model_grid.csv",
        mime="text/csv",
        key=S.GRID_DOWNLOAD,
    )
