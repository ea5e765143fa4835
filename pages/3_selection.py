"""Model selection: BIC, AIC and ICL over a grid of K x covariance types."""

import streamlit as st

from gmmcore.engine.covariance import COVARIANCE_TYPES, MCLUST_NAMES
from gmmcore.engine.initialization import INIT_METHODS
from gmmcore.viz.plots import criteria_figure
from gmmcore.selection import best_cell
from ui import data as D
from ui import state as S
from ui.widgets import cov_label, current_data_or_stop

S.init()  # idempotent; covers a first request that bypasses app.py
s = st.session_state

st.title("Model selection")
st.markdown(
    "How many components, and which covariance shape? Fit one mixture per cell of a grid and "
    "compare **information criteria**: each rewards the log-likelihood and penalizes the number "
    "of parameters. **Sign convention: lower is better** (scikit-learn's): "
    "BIC = −2 log L + p log n, AIC = −2 log L + 2p, ICL = BIC + the classification entropy "
    "(penalizes overlapping clusters). R's mclust reports BIC with the opposite sign "
    "(higher is better); its model names are shown beside ours: "
    + ", ".join(f"{t} = {m}" for t, m in MCLUST_NAMES.items()) + "."
)

data = current_data_or_stop()
fit = s[S.FIT_SETTINGS]
use_tasks = bool(fit.get("use_tasks")) and data["tasks"] is not None

with st.form("grid_form"):
    c = st.columns([2, 3, 1, 1])
    c[0].slider("Range of K", 1, 15, key=S.GRID_K_RANGE, persist_state="session")
    c[1].multiselect("Covariance types", COVARIANCE_TYPES, key=S.GRID_TYPES,
                     format_func=cov_label, persist_state="session")
    c[2].number_input("Restarts per cell", 1, 10, key=S.GRID_N_INIT, persist_state="session")
    c[3].selectbox("Initialization", INIT_METHODS, key=S.GRID_INIT, persist_state="session")
    st.caption(f"Every cell uses the EM explorer's seed {fit['random_state']}, tol {fit['tol']:g}, "
               f"reg_covar {fit['reg_covar']:g}, max_iter {fit['max_iter']}"
               + (", shared across tasks" if use_tasks else "")
               + "; opening a cell in the explorer refits it with exactly these settings.")
    submitted = st.form_submit_button("Run the grid", type="primary")

fit_params = tuple(sorted({
    "n_init": int(s[S.GRID_N_INIT]), "tol": fit["tol"], "reg_covar": fit["reg_covar"],
    "max_iter": fit["max_iter"], "init_params": s[S.GRID_INIT],
    "random_state": fit["random_state"]}.items()))
request = (data["key"], tuple(s[S.GRID_K_RANGE]), tuple(s[S.GRID_TYPES]), fit_params, use_tasks)

if submitted:
    if not s[S.GRID_TYPES]:
        st.error("Choose at least one covariance type.")
    else:
        bar = st.progress(0.0, text="Fitting the grid…")

        def _progress(done, total, row):
            bar.progress(done / total, text=f"Fitted {done} of {total} cells (last: K="
                                            f"{row['n_components']}, {row['covariance_type']})")

        try:
            grid = D.run_grid(data["key"], data["X"], data["tasks"] if use_tasks else None,
                              request[1], request[2], fit_params, _progress=_progress)
        except ValueError as exc:
            st.error(f"The grid could not run: {exc}")
        else:
            s[S.GRID_RESULT] = {"request": request, "grid": grid}
            s[S.GRID_CELL] = None
        bar.empty()

result = s.get(S.GRID_RESULT)
if result is None:
    st.info("Choose the range and types, then press **Run the grid**.")
    st.stop()
if result["request"][0] != data["key"]:
    st.warning("The data changed since this grid was run; run it again.")
grid = result["grid"]

criterion = st.radio("Criterion", ["bic", "aic", "icl"], key=S.GRID_CRITERION, horizontal=True,
                     format_func=str.upper, persist_state="session")
try:
    best = best_cell(grid, criterion)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
cells = [(int(r.n_components), str(r.covariance_type)) for r in grid.itertuples()
         if r.error is None or r.error != r.error]
if s.get(S.GRID_CELL) not in cells:
    s[S.GRID_CELL] = (int(best["n_components"]), str(best["covariance_type"]))

st.plotly_chart(criteria_figure(grid, criterion, selected=s[S.GRID_CELL]), key="grid_chart")
st.success(f"Best by {criterion.upper()}: K = {int(best['n_components'])}, "
           f"{cov_label(best['covariance_type'])}, {criterion.upper()} = {best[criterion]:.2f}")
failed = grid[grid["error"].notna()]
if len(failed):
    st.warning(f"{len(failed)} cell(s) failed and are left out of the charts: " + "; ".join(
        f"K={r.n_components} {r.covariance_type}: {r.error}" for r in failed.itertuples()))

c1, c2 = st.columns([2, 1])
c1.selectbox("Open a cell in the EM explorer", cells, key=S.GRID_CELL,
             format_func=lambda c: f"K = {c[0]}, {cov_label(c[1])}")


def _open_cell():
    k, t = s[S.GRID_CELL]
    params = dict(result["request"][3])
    s[S.K], s[S.COV_TYPE] = k, t
    s[S.N_INIT], s[S.INIT], s[S.SEED] = params["n_init"], params["init_params"], params["random_state"]
    s[S.TOL], s[S.REG_COVAR], s[S.MAX_ITER] = params["tol"], params["reg_covar"], params["max_iter"]
    s[S.USE_TASKS] = result["request"][4]
    s[S.FIT_SETTINGS] = S.fit_settings_from_widgets()
    s[S.STEP] = 0
    s[S.RESTART] = None
    s["_goto_explorer"] = True


c2.button("Open in the EM explorer", key="open_cell", on_click=_open_cell, type="primary")
if s.pop("_goto_explorer", False):
    st.switch_page("pages/2_explorer.py")

st.markdown("**All cells** (lower is better for BIC, AIC and ICL)")
st.dataframe(grid.style.highlight_min(subset=["bic", "aic", "icl"], color="#FFE08A"),
             hide_index=True, key="grid_table")
st.download_button("Download the table (CSV)", grid.to_csv(index=False).encode(),
                   file_name="model_grid.csv", mime="text/csv", key="grid_download")
