"""gmmcore: Gaussian mixtures by EM, one half-step at a time.

The supported API:

- :class:`GaussianMixture` — scikit-learn's estimator API (plus ``icl``, ``n_parameters``,
  ``history_`` and ``restarts_``).
- :class:`NotFittedError` and :class:`ConvergenceWarning` — also scikit-learn's classes
  whenever scikit-learn is loaded (see :mod:`gmmcore.exceptions`); gmmcore never imports it.
- :class:`FittedModel` — the one task-aware fitted model (single, pooled, shared, separate)
  that predicts on raw data; what :func:`fit_multitask` returns and the model file holds.
- :func:`iter_em` — EM as a generator of frozen :class:`Snapshot` objects, and
  :func:`responsibilities` to recompute any snapshot's responsibilities for any X.
- :func:`model_grid` / :func:`best_cell` — model selection over K x covariance types.
- :func:`save_model` / :func:`load_model` (and :func:`to_json` / :func:`from_json`) — the
  versioned, schema-checked JSON model file.
- :func:`fit_multitask` / :func:`compare_modes` — pooled, separate and shared multi-task
  mixtures.
- Covariance structures (:func:`covariance_types`, :func:`get_structure`,
  :func:`register_structure`) and the information criteria :func:`bic`, :func:`aic`,
  :func:`icl`.

The package is layered: :mod:`gmmcore.engine` (validation, kernels, E-step, covariance
structures, EM, starts, criteria, weights), the estimators on top (:mod:`~gmmcore.mixture`,
:mod:`~gmmcore.model`, :mod:`~gmmcore.multitask`, :mod:`~gmmcore.selection`),
:mod:`gmmcore.io` (model file, tables), :mod:`gmmcore.cli` and :mod:`gmmcore.viz` (Plotly
figures; imported on its own, never from here).
"""

from ._version import __version__
from .datasets import list_samples, load_sample, make_mixture
from .engine.covariance import (
    COVARIANCE_TYPES,
    MCLUST_NAMES,
    CovarianceStructure,
    IllConditionedCovarianceError,
    covariance_types,
    get_structure,
    register_structure,
    unregister_structure,
)
from .engine.criteria import aic, bic, icl
from .engine.em import (
    Event,
    Snapshot,
    degenerate_components,
    iter_em,
    log_prob_resp,
    responsibilities,
    snapshot_log_likelihood,
)
from .engine.initialization import INIT_METHODS
from .engine.weights import UnknownTaskError
from .exceptions import ConvergenceWarning, NotFittedError
from .io import ModelFileError, from_json, load_model, save_model, to_json
from .mixture import GaussianMixture, RestartResult
from .model import MODES, FittedModel
from .multitask import compare_modes, fit_multitask, make_multitask_data, train_test_split_by_task
from .preprocessing import Standardizer
from .selection import GRID_COLUMNS, best_cell, model_grid

__all__ = [
    "COVARIANCE_TYPES",
    "GRID_COLUMNS",
    "INIT_METHODS",
    "MCLUST_NAMES",
    "MODES",
    "ConvergenceWarning",
    "CovarianceStructure",
    "Event",
    "FittedModel",
    "GaussianMixture",
    "IllConditionedCovarianceError",
    "ModelFileError",
    "NotFittedError",
    "RestartResult",
    "Snapshot",
    "Standardizer",
    "UnknownTaskError",
    "__version__",
    "aic",
    "best_cell",
    "bic",
    "compare_modes",
    "covariance_types",
    "degenerate_components",
    "fit_multitask",
    "from_json",
    "get_structure",
    "icl",
    "iter_em",
    "list_samples",
    "load_model",
    "load_sample",
    "log_prob_resp",
    "make_mixture",
    "make_multitask_data",
    "model_grid",
    "register_structure",
    "responsibilities",
    "save_model",
    "snapshot_log_likelihood",
    "to_json",
    "train_test_split_by_task",
    "unregister_structure",
]
