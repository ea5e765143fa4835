"""gmmcore: Gaussian mixtures by EM, one half-step at a time.

The supported API:

- :class:`GaussianMixture` — scikit-learn's estimator API (plus ``icl``, ``n_parameters``,
  ``history_`` and ``restarts_``).
- :func:`iter_em` — EM as a generator of frozen :class:`Snapshot` objects, and
  :func:`responsibilities` to recompute any snapshot's responsibilities for any X.
- :func:`model_grid` / :func:`best_cell` — model selection over K x covariance types.
- :func:`save_model` / :func:`load_model` (and :func:`to_json` / :func:`from_json`) — the
  versioned, schema-checked JSON model file.
- :func:`fit_multitask` / :func:`compare_modes` — pooled, separate and shared multi-task
  mixtures.
- Covariance structures (:data:`COVARIANCE_TYPES`, :func:`get_structure`) and the
  information criteria :func:`bic`, :func:`aic`, :func:`icl`.
"""

from .engine.covariance import COVARIANCE_TYPES, MCLUST_NAMES, IllConditionedCovarianceError, get_structure
from .engine.criteria import aic, bic, icl
from .datasets import list_samples, load_sample, make_mixture
from .engine.em import (
    Event,
    Snapshot,
    degenerate_components,
    iter_em,
    responsibilities,
    snapshot_log_likelihood,
)
from .engine.initialization import INIT_METHODS
from .mixture import GaussianMixture, NotFittedError, RestartResult
from .io.model_file import FittedModel, ModelFileError, from_json, load_model, save_model, to_json
from .multitask import (
    MODES,
    MultiTaskMixture,
    compare_modes,
    fit_multitask,
    make_multitask_data,
    train_test_split_by_task,
)
from .preprocessing import Standardizer
from .selection import GRID_COLUMNS, best_cell, model_grid

__version__ = "0.1.0"

__all__ = [
    "COVARIANCE_TYPES",
    "GRID_COLUMNS",
    "MODES",
    "FittedModel",
    "ModelFileError",
    "MultiTaskMixture",
    "Standardizer",
    "best_cell",
    "compare_modes",
    "degenerate_components",
    "fit_multitask",
    "from_json",
    "list_samples",
    "load_model",
    "load_sample",
    "make_mixture",
    "make_multitask_data",
    "model_grid",
    "save_model",
    "to_json",
    "train_test_split_by_task",
    "INIT_METHODS",
    "MCLUST_NAMES",
    "Event",
    "GaussianMixture",
    "IllConditionedCovarianceError",
    "NotFittedError",
    "RestartResult",
    "Snapshot",
    "aic",
    "bic",
    "get_structure",
    "icl",
    "iter_em",
    "responsibilities",
    "snapshot_log_likelihood",
]
