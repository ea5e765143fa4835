"""Every session-state key of the dashboard, its default, and the URL (query-param) sync.

Widgets are created with ``key=`` one of the names below and never with ``value=``: the
default lives here, so a value set from the URL, a callback or another page is what the widget
shows. Streamlit forgets the state of widgets that are not drawn on the current page, so every
widget is created with ``persist_state="session"``: choices survive page switches.

Keys of elements that hold no choice (buttons, forms, charts, tables, downloads) are declared
here too: an element key is also a session-state key in Streamlit, and one list makes
collisions between pages visible. Nothing in app.py, pages/ or ui/ spells a key as a string.
"""

from __future__ import annotations

import streamlit as st

from gmmcore.datasets import SAMPLES, load_sample

# -- bookkeeping (not widgets) ---------------------------------------------------------------
INITIALIZED = "_initialized"  # True once init() has set the defaults for this session
URL_STEP = "_url_step"  # the step from a shared link, applied once the fit exists
UPLOAD_SEEN = "_upload_seen"  # file_id of the last upload parsed (parse each file once)
GOTO_EXPLORER = "_goto_explorer"  # set by an "open in the explorer" callback, popped by the page
APP_RAN = "_app_ran"  # True once app.py has run in this session (see run_through_app)
COLOR_ANCHOR = "_color_anchor"  # dict: the last fit's best means and colour slots (ui.history)
URL_SLOTS = "_url_slots"  # the colour slots from a shared link, applied once the fit exists

# -- data page -------------------------------------------------------------------------------
DATA_SOURCE = "data_source"  # radio: "Sample dataset" | "Upload a file" | "Synthetic"
SAMPLE_NAME = "sample_name"
FEATURES = "features"
TASK_COLUMN = "task_column"
LABEL_COLUMN = "label_column"
STANDARDIZE = "standardize"
UPLOAD = "upload"
UPLOAD_ERROR = "upload_error"  # str or None: the last upload's problem
UPLOAD_SHEET = "upload_sheet"  # selectbox: the workbook's sheet to read
UPLOAD_SHEETS = "_upload_sheets"  # list of the uploaded workbook's sheets ([] for other files)
SYN_N, SYN_D, SYN_K, SYN_SEP, SYN_SHAPE, SYN_SEED, SYN_TASKS = (
    "syn_n",
    "syn_d",
    "syn_k",
    "syn_sep",
    "syn_shape",
    "syn_seed",
    "syn_tasks",
)
DATASET = "dataset"  # dict: name, origin, frame, info (the active dataset; not a widget)
LOAD_SAMPLE_BUTTON = "load_sample"
SYNTHETIC_FORM = "synthetic_form"
PREVIEW_TABLE = "preview"

# -- EM explorer ---------------------------------------------------------------------------
K = "k"
COV_TYPE = "cov_type"
INIT = "init"
SEED = "seed"
REG_COVAR = "reg_covar"
TOL = "tol"
MAX_ITER = "max_iter"
N_INIT = "n_init"
USE_TASKS = "use_tasks"
PRIOR = "prior"  # fit under mclust's conjugate prior (defaultPrior)
CONVERGENCE = "convergence"  # how tol is measured: "mean" (per point) or "relative" (mclust's)
FIT_SETTINGS = "fit_settings"  # dict applied by the Run button (not a widget)
RESTART = "restart"  # which restart the stepper shows (None: the best)
STEP = "step"
VIEW = "view"  # "Two features" | "PCA projection" | "Scatter matrix"
AXIS_X, AXIS_Y = "axis_x", "axis_y"
PER_SAMPLE = "per_sample"
FORMULA_POINT, FORMULA_COMPONENT = "formula_point", "formula_component"
MAX_POINTS = "max_points"
COLOR_BY = "color_by"  # "responsibilities" | "task"
SHOWN_TASKS = "shown_tasks"  # the tasks whose points the explorer draws (filter)
FIT_FORM = "fit_form"
RESTARTS_CHART = "restarts_chart"
STEP_FIRST, STEP_PREV, STEP_NEXT, STEP_LAST = (
    "step_first",
    "step_prev",
    "step_next",
    "step_last",
)
EM_HISTOGRAM = "em_hist"
EM_SCATTER = "em_scatter"
EM_SCATTER_MATRIX = "em_splom"
EM_LOG_LIKELIHOOD = "em_ll"
EM_PARAMETERS = "em_params"
EM_TASK_WEIGHTS = "em_task_weights"
EM_CONFUSION = "em_confusion"
START = "start"  # "auto" (the initialization method) | "bishop" (PRML fig. 9.8) | "manual"
MANUAL_MEANS = "manual_means"  # list of K rows of D starting means (the manual start's table)
MANUAL_SPREAD = "manual_spread"  # the manual start's standard deviation (spherical)
MANUAL_EDITOR = "manual_editor"
MANUAL_APPLY = "manual_apply"
BISHOP_BUTTON = "bishop_button"
AUTO_START_BUTTON = "auto_start"
HIDE_FUTURE = "hide_future"  # teaching: the log-likelihood curve only up to the current step
COMPARE_ON = "compare_on"  # the "compare steps" view is shown
COMPARE_STEPS = "compare_steps"  # iterations L shown side by side ("compare steps")
EM_COMPARE = "em_compare"
EM_PLAYER = "em_player"  # the browser-side player (ui/player.py): Play, scrub, place means
EM_PLAYER_CONTEXT = "_em_player_context"  # dict: what its messages are read against

# -- model selection -----------------------------------------------------------------------
GRID_K_RANGE = "grid_k_range"
GRID_TYPES = "grid_types"
GRID_N_INIT = "grid_n_init"
GRID_INIT = "grid_init"
GRID_CRITERION = "grid_criterion"
GRID_RESULT = "grid_result"  # dict: request, grid (not a widget)
GRID_CELL = "grid_cell"
GRID_FORM = "grid_form"
GRID_ALL_TYPES = "grid_all_types"  # button: every offered model
GRID_SKLEARN_TYPES = "grid_sklearn_types"  # button: full, tied, diag, spherical
GRID_MODELS = "grid_models"  # the models-in-plain-words table
GRID_TOP = "grid_top"  # the top-three table
GRID_CHART = "grid_chart"
GRID_TABLE = "grid_table"
GRID_DOWNLOAD = "grid_download"
OPEN_CELL_BUTTON = "open_cell"

# -- export / import -----------------------------------------------------------------------
INCLUDE_HISTORY = "include_history"
MODEL_UPLOAD = "model_upload"
PREDICT_UPLOAD = "predict_upload"
PREDICT_TASK_COLUMN = "predict_task_column"
PREDICT_POOL_UNSEEN = "predict_pool_unseen"  # checkbox: unseen tasks get the pooled weights
DOWNLOAD_MODEL = "download_model"
DOWNLOAD_LABELS = "download_labels"
LABELS_PREVIEW = "labels_preview"
PREDICTIONS_PREVIEW = "predictions_preview"
DOWNLOAD_PREDICTIONS = "download_predictions"

# -- tasks -----------------------------------------------------------------------------------
TASKS_K = "tasks_k"
TASKS_TYPE = "tasks_type"
TASKS_RESULT = "tasks_result"  # dict: request, table (not a widget)
TASKS_FORM = "tasks_form"
TASKS_CHART = "tasks_chart"
TASKS_TABLE = "tasks_table"
TASKS_HEATMAP = "tasks_heatmap"
TASKS_OPEN_EXPLORER = "tasks_open_explorer"

DEFAULT_SAMPLE = "Old Faithful"

DEFAULTS = {
    DATA_SOURCE: "Sample dataset",
    SAMPLE_NAME: DEFAULT_SAMPLE,
    STANDARDIZE: False,
    UPLOAD_ERROR: None,
    SYN_N: 500,
    SYN_D: 2,
    SYN_K: 3,
    SYN_SEP: 3.0,
    SYN_SHAPE: "random",
    SYN_SEED: 0,
    SYN_TASKS: 1,
    K: 2,
    COV_TYPE: "full",
    INIT: "k-means++",  # EM visibly moves from a sane start (kmeans starts almost at the end)
    SEED: 0,
    REG_COVAR: 1e-6,
    TOL: 1e-3,
    MAX_ITER: 100,
    N_INIT: 1,
    USE_TASKS: False,
    PRIOR: False,
    CONVERGENCE: "mean",
    RESTART: None,
    STEP: 0,
    VIEW: "Two features",
    PER_SAMPLE: False,
    FORMULA_POINT: 0,
    FORMULA_COMPONENT: 0,
    MAX_POINTS: 3000,
    COLOR_BY: "responsibilities",
    GRID_K_RANGE: (1, 6),
    GRID_TYPES: None,  # None: every model offered for the data (mclust's default), set on the page
    GRID_N_INIT: 1,
    GRID_INIT: "hc",  # model_grid's default: mclust's hierarchical start
    GRID_CRITERION: "bic",
    GRID_RESULT: None,
    GRID_CELL: None,
    INCLUDE_HISTORY: False,
    PREDICT_POOL_UNSEEN: False,
    TASKS_K: 3,
    TASKS_TYPE: "full",
    TASKS_RESULT: None,
    START: "auto",
    MANUAL_MEANS: None,  # filled from the data when the manual start is first shown
    MANUAL_SPREAD: 1.0,
    HIDE_FUTURE: False,
    COMPARE_ON: False,
    COMPARE_STEPS: [1, 2, 5, 20],
}

NONE = "(none)"  # the "no column" choice of the task/label selectboxes


def fit_settings_from_widgets() -> dict:
    """The fit the explorer's widgets ask for: GaussianMixture's arguments, plus ``use_tasks``;
    a preset or manual start adds ``weights_init``/``means_init``/``precisions_init`` (as
    nested tuples, so the settings stay a hashable cache key)."""
    s = st.session_state
    settings = {
        "n_components": int(s[K]),
        "covariance_type": s[COV_TYPE],
        "init_params": s[INIT],
        "random_state": int(s[SEED]),
        "reg_covar": float(s[REG_COVAR]),
        "tol": float(s[TOL]),
        "max_iter": int(s[MAX_ITER]),
        "n_init": int(s[N_INIT]),
        "use_tasks": bool(s[USE_TASKS]),
    }
    if s.get(PRIOR):
        settings["prior"] = "default"
    if s.get(CONVERGENCE, "mean") != "mean":  # absent: GaussianMixture's default, "mean"
        settings["convergence"] = s[CONVERGENCE]
    start = start_arrays(settings["n_components"], settings["covariance_type"])
    if start is not None:
        settings.update(start)
    return settings


def start_arrays(k: int, covariance_type: str) -> dict | None:
    """The starting parameters of a preset or manual start (None for the initialization
    method), from gmmcore.viz.starts; None too when they do not fit K or the data's width."""
    from gmmcore.viz import starts

    s = st.session_state
    kind = s.get(START, "auto")
    n_features = len(s.get(FEATURES) or ())
    if kind == "bishop":
        arrays = starts.bishop_fig98_start(covariance_type)
    elif kind == "manual" and s.get(MANUAL_MEANS):
        arrays = starts.manual_start(s[MANUAL_MEANS], float(s[MANUAL_SPREAD]), covariance_type)
    else:
        return None
    if arrays["means_init"].shape != (k, n_features):
        return None
    return {name: _nested_tuple(a) for name, a in arrays.items()}


def _nested_tuple(a):
    return tuple(_nested_tuple(v) for v in a) if getattr(a, "ndim", 0) else float(a)


def apply_fit_settings() -> None:
    """Make the explorer's widget values the applied fit and rewind the stepper to its start.

    Used as a callback (Run EM, and "open in the explorer" from other pages), so the new fit is
    what the next run draws.
    """
    s = st.session_state
    s[FIT_SETTINGS] = fit_settings_from_widgets()
    s[STEP] = 0
    s[RESTART] = None


def open_in_explorer(widget_values: dict) -> None:
    """Callback: set the explorer's widgets (``{K: 3, COV_TYPE: "tied"}``), apply them as the
    fit and ask the page to switch to the explorer (see ``switch_if_requested``).

    A callback cannot call ``st.switch_page`` itself, hence the flag.
    """
    s = st.session_state
    s[START] = "auto"  # the other pages fit with an initialization method, not a typed start
    for key, value in widget_values.items():
        s[key] = value
    apply_fit_settings()
    s[GOTO_EXPLORER] = True


def switch_if_requested() -> None:
    """Switch to the explorer page when an ``open_in_explorer`` callback asked for it."""
    if st.session_state.pop(GOTO_EXPLORER, False):
        # With the new fit in the link at once: a bare URL would reopen another view.
        st.switch_page("pages/2_explorer.py", query_params=url_params())


def set_dataset(
    name: str,
    origin: str,
    frame,
    info=None,
    *,
    features=None,
    task_column=None,
    label_column=None,
    suggested_k: int | None = None,
) -> None:
    """Make ``frame`` the active dataset and reset the column choices to sensible defaults."""
    from gmmcore.io.tables import numeric_columns, suggest_standardize

    s = st.session_state
    numeric = numeric_columns(frame)
    if features is None or not set(features) <= set(numeric):
        features = numeric[:2] if len(numeric) >= 2 else numeric[:1]
    s[DATASET] = {"name": name, "origin": origin, "frame": frame, "info": info or {}}
    s[FEATURES] = list(features)
    s[STANDARDIZE] = suggest_standardize(frame, features)
    s[TASK_COLUMN] = task_column if task_column in frame.columns else NONE
    s[LABEL_COLUMN] = label_column if label_column in frame.columns else NONE
    s[AXIS_X], s[AXIS_Y] = 0, 1
    s[UPLOAD_ERROR] = None  # a new dataset is loaded: the last failed upload is history
    s.pop(SHOWN_TASKS, None)  # all tasks of the new data
    s[STEP] = 0
    s[RESTART] = None
    s[GRID_RESULT] = None
    s[TASKS_RESULT] = None
    s[FORMULA_POINT] = 0
    if suggested_k is not None:
        s[K] = int(suggested_k)
        if FIT_SETTINGS in s:
            s[FIT_SETTINGS] = {**s[FIT_SETTINGS], "n_components": int(suggested_k)}


def load_sample_dataset(name: str, *, features=None) -> None:
    info = SAMPLES[name]
    set_dataset(
        name,
        "sample",
        load_sample(name),
        {"description": info.description},
        features=features or list(info.features),
        task_column=info.task_column,
        label_column=info.label_column,
        suggested_k=info.suggested_k,
    )
    st.session_state[SAMPLE_NAME] = name


def _int_param(params, name, lo, hi):
    try:
        v = int(params[name])
    except (KeyError, ValueError, TypeError):
        return None
    return v if lo <= v <= hi else None


def _float_param(params, name, lo, hi):
    try:
        v = float(params[name])
    except (KeyError, ValueError, TypeError):
        return None
    return v if lo <= v <= hi else None


def _flag(value: bool) -> str:
    return "1" if value else "0"


# The URL's names for the choices that are one session key each: (param, key, kind, lo, hi).
# kind "int"/"float" are clamped to [lo, hi]; "flag" is 0/1; "choice" must be in lo (a list).
_VIEW_CHOICES = ["Two features", "PCA projection", "Scatter matrix"]
_SIMPLE_PARAMS = (
    ("view", VIEW, "choice", _VIEW_CHOICES, None),
    ("color", COLOR_BY, "choice", ["responsibilities", "task"], None),
    ("pp", PER_SAMPLE, "flag", None, None),
    ("future", HIDE_FUTURE, "flag", None, None),
    ("cmp", COMPARE_ON, "flag", None, None),
    ("fp", FORMULA_POINT, "int", 0, 10**9),
    ("fc", FORMULA_COMPONENT, "int", 0, 100),
    ("gn", GRID_N_INIT, "int", 1, 10),
    ("gi", GRID_INIT, "init", None, None),
    ("gc", GRID_CRITERION, "choice", ["bic", "aic", "icl"], None),
    ("tk", TASKS_K, "int", 1, 15),
    ("tt", TASKS_TYPE, "type", None, None),
)
# Model selection: fit the grid under mclust's conjugate prior (a checkbox; URL flag "gp").
GRID_PRIOR = "grid_prior"
DEFAULTS[GRID_PRIOR] = False
_SIMPLE_PARAMS += (("gp", GRID_PRIOR, "flag", None, None),)
# The applied fit (FIT_SETTINGS), by the URL's names: (param, settings name, widget key).
_FIT_PARAMS = (
    ("k", "n_components", K),
    ("type", "covariance_type", COV_TYPE),
    ("init", "init_params", INIT),
    ("seed", "random_state", SEED),
    ("tol", "tol", TOL),
    ("reg", "reg_covar", REG_COVAR),
    ("iter", "max_iter", MAX_ITER),
    ("n", "n_init", N_INIT),
    ("shared", "use_tasks", USE_TASKS),
    ("prior", "prior", PRIOR),
    ("conv", "convergence", CONVERGENCE),
)


def _read_simple(params) -> None:
    from gmmcore import covariance_types
    from gmmcore.engine.initialization import INIT_METHODS

    s = st.session_state
    for name, key, kind, lo, hi in _SIMPLE_PARAMS:
        if name not in params:
            continue
        value = params[name]
        if kind == "int":
            value = _int_param(params, name, lo, hi)
        elif kind == "flag":
            value = {"1": True, "0": False}.get(value)
        elif kind == "choice":
            value = value if value in lo else None
        elif kind == "init":
            value = value if value in INIT_METHODS else None
        elif kind == "type":
            value = value if value in covariance_types() else None
        if value is not None:
            s[key] = value


def _read_fit(params) -> None:
    from gmmcore import covariance_types
    from gmmcore.engine.em import CONVERGENCE_RULES
    from gmmcore.engine.initialization import INIT_METHODS

    s = st.session_state
    readers = {
        "k": lambda: _int_param(params, "k", 1, 20),
        "type": lambda: params["type"] if params.get("type") in covariance_types() else None,
        "init": lambda: params["init"] if params.get("init") in INIT_METHODS else None,
        "seed": lambda: _int_param(params, "seed", 0, 2**31 - 1),
        "tol": lambda: _float_param(params, "tol", 0.0, 1.0),
        "reg": lambda: _float_param(params, "reg", 0.0, 1.0),
        "iter": lambda: _int_param(params, "iter", 1, 1000),
        "n": lambda: _int_param(params, "n", 1, 20),
        "shared": lambda: {"1": True, "0": False}.get(params.get("shared")),
        # "prior=default" in a link; none is no prior (the widget's default).
        "prior": lambda: {"default": True, "none": False}.get(params.get("prior")),
        # "conv=relative" in a link (mclust's stopping rule, as a model-selection cell).
        "conv": lambda: params["conv"] if params.get("conv") in CONVERGENCE_RULES else None,
    }
    for name, _, key in _FIT_PARAMS:
        value = readers[name]()
        if value is not None:
            s[key] = value


def _read_start(params) -> None:
    # start=bishop | manual (with m=x,y;x,y and sp=spread) | auto
    s = st.session_state
    start = params.get("start")
    if start in ("auto", "bishop"):
        s[START] = start
    elif start == "manual":
        try:
            rows = [[float(v) for v in row.split(",")] for row in params.get("m", "").split(";")]
        except ValueError:
            return
        if rows and len({len(r) for r in rows}) == 1:
            s[MANUAL_MEANS] = rows
            s[START] = "manual"
        spread = _float_param(params, "sp", 1e-6, 1e6)
        if spread is not None:
            s[MANUAL_SPREAD] = spread


def _read_data(params) -> None:
    s = st.session_state
    sample = params.get("sample")
    if sample not in SAMPLES:
        sample = DEFAULT_SAMPLE
    cols = params.get("cols")
    load_sample_dataset(sample, features=cols.split(",") if cols else None)
    frame = s[DATASET]["frame"]
    columns = {NONE} | {str(c) for c in frame.columns}
    if params.get("std") in ("0", "1"):
        s[STANDARDIZE] = params["std"] == "1"
    for name, key in (("task", TASK_COLUMN), ("label", LABEL_COLUMN)):
        if params.get(name) in columns:
            s[key] = params[name]


def _read_views(params) -> None:
    from gmmcore import covariance_types

    s = st.session_state
    _read_simple(params)
    axes = params.get("ax", "").split(",")
    if len(axes) == 2 and all(a.isdigit() for a in axes):
        n = len(s.get(FEATURES) or ())
        if int(axes[0]) < n and int(axes[1]) < n:
            s[AXIS_X], s[AXIS_Y] = int(axes[0]), int(axes[1])
    if params.get("shown"):
        s[SHOWN_TASKS] = params["shown"].split(",")
    gk = params.get("gk", "").split("-")
    if len(gk) == 2 and all(g.isdigit() for g in gk) and 1 <= int(gk[0]) <= int(gk[1]) <= 15:
        s[GRID_K_RANGE] = (int(gk[0]), int(gk[1]))
    if "gt" in params:
        types = [t for t in params["gt"].split(",") if t in covariance_types()]
        if types:
            s[GRID_TYPES] = types
    if "steps" in params:
        try:
            steps = sorted({int(v) for v in params["steps"].split(",") if v})
        except ValueError:
            steps = []
        if steps and all(1 <= v <= 1000 for v in steps):
            s[COMPARE_STEPS] = steps
    restart = _int_param(params, "restart", 0, 100)
    if restart is not None:
        s[RESTART] = restart


def run_through_app() -> None:
    """Hand a page script that Streamlit ran on its own over to app.py.

    With a ``pages/`` directory, a fresh server whose first request is a deep link (a shared
    ``/explorer?...`` link) runs in Streamlit's old multipage mode: it executes the page script
    directly, without app.py (no wide layout, no navigation, no sidebar), and stays in that mode
    until app.py calls ``st.navigation``. Switching the mode off and rerunning runs app.py, which
    resolves the same page by its URL path. A no-op under app.py's navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    # Once app.py has run in a session its navigation is in place (AppTest, too, sets the
    # flag again on every run, and must not be rerun here).
    if PagesManager.uses_pages_directory and not st.session_state.get(APP_RAN):
        PagesManager.uses_pages_directory = False
        st.rerun()


def mark_app_run() -> None:
    """Called by app.py: this session runs through app.py's navigation."""
    st.session_state[APP_RAN] = True


def init() -> None:
    """Set every default once per session, reading the shareable state from the URL first
    (see ``url_params`` for what it holds)."""
    s = st.session_state
    if s.get(INITIALIZED):
        return
    for key, value in DEFAULTS.items():
        if key not in s:
            s[key] = list(value) if isinstance(value, list) else value
    params = st.query_params.to_dict()
    _read_data(params)
    _read_fit(params)
    _read_start(params)
    s[FIT_SETTINGS] = fit_settings_from_widgets()
    _read_views(params)
    s[URL_STEP] = _int_param(params, "step", 0, 10**6)  # applied once the fit exists
    slots = params.get("cs", "").split(",")
    s[URL_SLOTS] = [int(v) for v in slots] if all(v.isdigit() for v in slots) else None
    s[INITIALIZED] = True


def _number(x: float) -> str:
    # repr round-trips a float exactly; shorter when it is a round number (1e-06 -> 1e-06).
    return repr(float(x))


def url_params() -> dict[str, str]:
    """Everything that decides what is shown, as query parameters: the sample and its columns,
    the applied fit (with its start), the restart and step, the explorer's view choices and
    the Model selection and Tasks settings. An uploaded or generated dataset cannot be put in
    a link: its settings are kept, the data fall back to the default sample."""
    s = st.session_state
    ds = s.get(DATASET) or {}
    fit = s.get(FIT_SETTINGS) or {}
    want: dict[str, str] = {}
    if ds.get("origin") == "sample":
        want["sample"] = ds["name"]
        want["cols"] = ",".join(s.get(FEATURES) or [])
        want["std"] = _flag(s.get(STANDARDIZE))
        want["task"] = str(s.get(TASK_COLUMN, NONE))
        want["label"] = str(s.get(LABEL_COLUMN, NONE))
    for name, setting, _ in _FIT_PARAMS:
        if setting not in fit:
            continue
        value = fit[setting]
        if isinstance(value, bool):
            want[name] = _flag(value)
        elif isinstance(value, float):
            want[name] = _number(value)
        else:
            want[name] = str(value)
    if "means_init" in fit:
        start = s.get(START, "auto")
        want["start"] = start
        if start == "manual":
            want["m"] = ";".join(",".join(_number(v) for v in row) for row in fit["means_init"])
            want["sp"] = _number(s.get(MANUAL_SPREAD, 1.0))
    if s.get(RESTART) is not None:
        want["restart"] = str(s[RESTART])
    slots = colour_slots_param()
    if slots:
        want["cs"] = slots
    pending = s.get(URL_STEP)
    want["step"] = str(pending if pending is not None else s.get(STEP, 0))
    for name, key, kind, _, _ in _SIMPLE_PARAMS:
        if key in s and s[key] is not None:
            want[name] = _flag(s[key]) if kind == "flag" else str(s[key])
    want["ax"] = f"{int(s.get(AXIS_X, 0))},{int(s.get(AXIS_Y, 1))}"
    if s.get(SHOWN_TASKS) is not None:
        want["shown"] = ",".join(map(str, s[SHOWN_TASKS]))
    k_range = s.get(GRID_K_RANGE) or (1, 6)
    want["gk"] = f"{int(k_range[0])}-{int(k_range[1])}"
    if s.get(GRID_TYPES) is not None:
        want["gt"] = ",".join(s[GRID_TYPES])
    want["steps"] = ",".join(str(int(v)) for v in s.get(COMPARE_STEPS) or [])
    return want


def colour_view() -> tuple:
    """What a colour anchor belongs to besides the fit: the dataset, its columns and scaling."""
    s = st.session_state
    return (
        (s.get(DATASET) or {}).get("name"),
        tuple(s.get(FEATURES) or ()),
        bool(s.get(STANDARDIZE)),
    )


def colour_slots_param() -> str | None:
    """The link's ``cs``: the colour slots of the applied fit's components when they are not
    0, 1, ... (matched to an earlier fit, see ui.history.component_slots), else None."""
    s = st.session_state
    if s.get(URL_SLOTS) is not None:  # a link's slots, not applied yet: pass them on
        slots = list(s[URL_SLOTS])
    else:
        anchor = s.get(COLOR_ANCHOR)
        if (
            not anchor
            or anchor["settings"] != s.get(FIT_SETTINGS)
            or anchor["view"] != colour_view()
        ):
            return None
        slots = [int(v) for v in anchor["slots"]]
    return None if slots == list(range(len(slots))) else ",".join(map(str, slots))


def share_url() -> str:
    """The link to this view: the page's address in the browser with ``url_params``."""
    from urllib.parse import urlencode

    base = ""
    try:
        base = st.context.url or ""
    except Exception:  # AppTest and bare script runs have no browser URL
        base = ""
    return base + "?" + urlencode(url_params())


def sync_url() -> None:
    """Write ``url_params`` into the browser's URL when it differs (so the address bar is
    always a link to what is shown)."""
    want = url_params()
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)
