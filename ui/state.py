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
from gmmcore.engine.covariance import COVARIANCE_TYPES

# -- bookkeeping (not widgets) ---------------------------------------------------------------
INITIALIZED = "_initialized"  # True once init() has set the defaults for this session
URL_STEP = "_url_step"  # the step from a shared link, applied once the fit exists
UPLOAD_SEEN = "_upload_seen"  # file_id of the last upload parsed (parse each file once)
GOTO_EXPLORER = "_goto_explorer"  # set by an "open in the explorer" callback, popped by the page

# -- data page -------------------------------------------------------------------------------
DATA_SOURCE = "data_source"  # radio: "Sample dataset" | "Upload a file" | "Synthetic"
SAMPLE_NAME = "sample_name"
FEATURES = "features"
TASK_COLUMN = "task_column"
LABEL_COLUMN = "label_column"
STANDARDIZE = "standardize"
UPLOAD = "upload"
UPLOAD_ERROR = "upload_error"  # str or None: the last upload's problem
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
FIT_SETTINGS = "fit_settings"  # dict applied by the Run button (not a widget)
RESTART = "restart"  # which restart the stepper shows (None: the best)
STEP = "step"
PLAYING = "playing"
VIEW = "view"  # "Two features" | "PCA projection" | "Scatter matrix"
AXIS_X, AXIS_Y = "axis_x", "axis_y"
PER_SAMPLE = "per_sample"
FORMULA_POINT, FORMULA_COMPONENT = "formula_point", "formula_component"
MAX_POINTS = "max_points"
COLOR_BY = "color_by"  # "responsibilities" | "task"
SHOWN_TASKS = "shown_tasks"  # the tasks whose points the explorer draws (filter)
FIT_FORM = "fit_form"
RESTARTS_CHART = "restarts_chart"
STEP_FIRST, STEP_PREV, STEP_NEXT, STEP_LAST, STEP_PLAY = (
    "step_first",
    "step_prev",
    "step_next",
    "step_last",
    "step_play",
)
EM_HISTOGRAM = "em_hist"
EM_SCATTER = "em_scatter"
EM_SCATTER_MATRIX = "em_splom"
EM_LOG_LIKELIHOOD = "em_ll"
EM_PARAMETERS = "em_params"
EM_TASK_WEIGHTS = "em_task_weights"
EM_CONFUSION = "em_confusion"

# -- model selection -----------------------------------------------------------------------
GRID_K_RANGE = "grid_k_range"
GRID_TYPES = "grid_types"
GRID_N_INIT = "grid_n_init"
GRID_INIT = "grid_init"
GRID_CRITERION = "grid_criterion"
GRID_RESULT = "grid_result"  # dict: request, grid (not a widget)
GRID_CELL = "grid_cell"
GRID_FORM = "grid_form"
GRID_CHART = "grid_chart"
GRID_TABLE = "grid_table"
GRID_DOWNLOAD = "grid_download"
OPEN_CELL_BUTTON = "open_cell"

# -- export / import -----------------------------------------------------------------------
INCLUDE_HISTORY = "include_history"
MODEL_UPLOAD = "model_upload"
PREDICT_UPLOAD = "predict_upload"
PREDICT_TASK_COLUMN = "predict_task_column"
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
    RESTART: None,
    STEP: 0,
    PLAYING: False,
    VIEW: "Two features",
    PER_SAMPLE: False,
    FORMULA_POINT: 0,
    FORMULA_COMPONENT: 0,
    MAX_POINTS: 3000,
    COLOR_BY: "responsibilities",
    GRID_K_RANGE: (1, 6),
    GRID_TYPES: list(COVARIANCE_TYPES),  # the built-in structures; any registered is offered
    GRID_N_INIT: 1,
    GRID_INIT: "kmeans",
    GRID_CRITERION: "bic",
    GRID_RESULT: None,
    GRID_CELL: None,
    INCLUDE_HISTORY: False,
    TASKS_K: 3,
    TASKS_TYPE: "full",
    TASKS_RESULT: None,
}

NONE = "(none)"  # the "no column" choice of the task/label selectboxes


def fit_settings_from_widgets() -> dict:
    s = st.session_state
    return {
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
    for key, value in widget_values.items():
        s[key] = value
    apply_fit_settings()
    s[GOTO_EXPLORER] = True


def switch_if_requested() -> None:
    """Switch to the explorer page when an ``open_in_explorer`` callback asked for it."""
    if st.session_state.pop(GOTO_EXPLORER, False):
        st.switch_page("pages/2_explorer.py")


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


def init() -> None:
    """Set every default once per session, reading the shareable state from the URL first."""
    s = st.session_state
    if s.get(INITIALIZED):
        return
    for key, value in DEFAULTS.items():
        if key not in s:
            s[key] = list(value) if isinstance(value, list) else value
    params = st.query_params
    sample = params.get("sample")
    if sample not in SAMPLES:
        sample = DEFAULT_SAMPLE
    cols = params.get("cols")
    load_sample_dataset(sample, features=cols.split(",") if cols else None)
    from gmmcore import covariance_types

    k = _int_param(params, "k", 1, 20)
    if k is not None:
        s[K] = k
    if params.get("type") in covariance_types():
        s[COV_TYPE] = params["type"]
    seed = _int_param(params, "seed", 0, 2**31 - 1)
    if seed is not None:
        s[SEED] = seed
    s[FIT_SETTINGS] = fit_settings_from_widgets()
    step = _int_param(params, "step", 0, 10**6)
    s[URL_STEP] = step  # applied once the fit exists (clamped to its length)
    s[INITIALIZED] = True


def sync_url() -> None:
    """Write the shareable state (sample, columns, K, type, seed, step) into the URL."""
    s = st.session_state
    ds = s.get(DATASET) or {}
    fit = s.get(FIT_SETTINGS) or {}
    want = {}
    if ds.get("origin") == "sample":
        want["sample"] = ds["name"]
        want["cols"] = ",".join(s.get(FEATURES) or [])
    if fit:
        want["k"] = str(fit["n_components"])
        want["type"] = fit["covariance_type"]
        want["seed"] = str(fit["random_state"])
    want["step"] = str(s.get(STEP, 0))
    current = {
        key: st.query_params.get(key) for key in ("sample", "cols", "k", "type", "seed", "step")
    }
    if any(current.get(key) != value for key, value in want.items()) or any(
        current[key] is not None and key not in want for key in current
    ):
        st.query_params.from_dict(want)
