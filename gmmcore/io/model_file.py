"""The model file: a fitted mixture as versioned, self-describing JSON, and back.

A file holds what is needed to predict on raw data (feature names, standardization,
covariance type, weights, means, covariances; for a multi-task model its mode, the task names
and the per-task weights, or one full mixture per task in separate mode), what the fit
produced (log-likelihood, BIC, AIC, ICL, ...) and, on request, the per-iteration history. The format is documented field by field in
``docs/model-format.md`` and described by the JSON Schema at :data:`SCHEMA_PATH`, which the
loader validates against before the checks a schema cannot express (shapes that agree,
weights that sum to 1, symmetric positive definite covariances). No pickle anywhere.

Floats are written with Python's ``repr`` (the shortest string that reads back to the same
double), so a save/load round trip is exact, and the loader refactors the covariances with the
same code the fit used, so a loaded model predicts bit for bit what the fitted one did.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import criteria
from ..engine.validation import check_X, task_labels_as_str
from ..engine.covariance import COVARIANCE_TYPES, IllConditionedCovarianceError, get_structure
from ..engine.em import Event, Snapshot, _snapshot_log_resp
from ..mixture import GaussianMixture
from ..preprocessing import Standardizer

__all__ = [
    "FittedModel",
    "save_model",
    "load_model",
    "to_json",
    "from_json",
    "SCHEMA_PATH",
    "ModelFileError",
]

FORMAT = "gmmcore.model"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "model-v1.schema.json"

# Tolerances of the semantic checks (documented in docs/model-format.md).
WEIGHT_SUM_TOL = 1e-9
SYMMETRY_RTOL = 1e-10  # relative to the largest absolute entry of the matrix

_FIX = "fix that field, or export the model again with gmmcore.save_model"


class ModelFileError(ValueError):
    """A model file (or string) that cannot be loaded; the message names the field, the
    problem and what to do."""


# -- the in-memory model ----------------------------------------------------------------------
def _gmm_version() -> str:
    try:
        from .. import __version__
    except ImportError:  # pragma: no cover - partial installs
        return "unknown"
    return str(__version__)


@dataclasses.dataclass(eq=False)
class FittedModel:
    """A fitted mixture together with what it needs to predict on raw data.

    One class for every mode a model file can hold (:attr:`mode`):

    ``"single"``
        ``mixture`` is a plain fitted GaussianMixture; no tasks.
    ``"pooled"``
        ``mixture`` is one mixture fitted to the rows of all tasks; ``task_names`` lists the
        tasks it was fitted on. Prediction ignores the task.
    ``"shared"``
        ``mixture`` was fitted with ``tasks=``: ``weights_`` has shape (n_tasks, K) and
        ``tasks_`` names its rows. Prediction uses the weights of each row's task.
    ``"separate"``
        ``mixture`` is None and ``submodels`` maps each task name to that task's own fitted
        mixture (all with the same K, features and covariance type). Prediction uses the
        row's task's mixture; column ``j`` of ``predict_proba`` is then that task's component
        ``j``.

    Parameters
    ----------
    mixture : GaussianMixture or None
        Fitted; None exactly in separate mode.
    feature_names : list of str
        The input columns, in the order the mixture's features are in.
    standardizer : Standardizer or None
        Applied to raw rows before the mixture sees them.
    metadata : dict
        Fit results (the file's ``fit`` object): ``log_likelihood``, ``bic``, ``aic``,
        ``icl``, ``n_samples``, ``n_iter``, ``converged``, ``random_state``, ...
    task_n_samples : list of int or None
        Multi-task models: fitting rows per task (in :attr:`tasks` order). For shared mode
        they weight the pooled weights. None when unknown.
    pooled_weights : ndarray of shape (K,) or None
        Shared mixtures: the weights used for an unseen task with ``unknown_task="pooled"``.
        Computed from the task weights when not given. None in the other modes.
    task_names : tuple of str or None
        Pooled mode: the tasks the mixture was fitted on (it ignores them when predicting).
    submodels : dict of str -> GaussianMixture, or None
        Separate mode: one fitted mixture per task, in task order.

    All prediction methods take RAW data: ``X`` as an array of shape (n_samples, n_features)
    in ``feature_names`` order, or a DataFrame whose columns are selected by name.
    """

    mixture: GaussianMixture | None
    feature_names: list[str]
    standardizer: Standardizer | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    task_n_samples: list[int] | None = None
    pooled_weights: np.ndarray | None = None
    task_names: tuple | None = None
    submodels: dict | None = None

    def __post_init__(self):
        if self.submodels is not None:
            self._check_submodels()
        elif self.mixture is None or not hasattr(self.mixture, "means_"):
            raise ValueError("FittedModel needs a fitted GaussianMixture; call fit(X) first.")
        self.feature_names = [str(f) for f in self.feature_names]
        d = self.n_features
        if len(self.feature_names) != d:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} name(s) but the mixture has "
                f"{d} feature(s); give one name per column the model was fitted on."
            )
        if len(set(self.feature_names)) != d:
            raise ValueError("feature_names contains duplicates; give each column its own name.")
        if self.standardizer is not None and np.shape(self.standardizer.mean) != (d,):
            raise ValueError(
                f"the standardizer has {np.shape(self.standardizer.mean)[0]} feature(s) but "
                f"the mixture has {d}; fit the standardizer on the same columns."
            )
        if self.submodels is None and getattr(self.mixture, "tasks_", None) is not None:
            self.task_names = None  # shared: the mixture's own tasks_ are the task names
        elif self.task_names is not None:
            names = tuple(str(t) for t in self.task_names)
            if not names or len(set(names)) != len(names):
                raise ValueError("task_names must list each task once (at least one task).")
            self.task_names = names
        if self.tasks is None:
            self.task_n_samples = None
            self.pooled_weights = None
            return
        if self.task_n_samples is not None:
            counts = [int(c) for c in self.task_n_samples]
            if len(counts) != len(self.tasks) or min(counts) < 0:
                raise ValueError(
                    f"task_n_samples must give a row count >= 0 for each of the "
                    f"{len(self.tasks)} tasks {list(self.tasks)}."
                )
            self.task_n_samples = counts
        if self.mode != "shared":
            self.pooled_weights = None
        elif self.pooled_weights is None:
            weights = np.asarray(self.mixture.weights_, dtype=np.float64)
            self.pooled_weights = _pooled(weights, self.task_n_samples)
        else:
            self.pooled_weights = np.asarray(self.pooled_weights, dtype=np.float64)

    def _check_submodels(self):
        if self.mixture is not None:
            raise ValueError("a separate-mode FittedModel has submodels and no mixture; pass "
                             "mixture=None.")
        subs = {str(t): gm for t, gm in dict(self.submodels).items()}
        if not subs:
            raise ValueError("submodels is empty; give one fitted mixture per task.")
        for t, gm in subs.items():
            if not isinstance(gm, GaussianMixture) or not hasattr(gm, "means_"):
                raise ValueError(f"submodels[{t!r}] must be a fitted gmmcore.GaussianMixture.")
            if getattr(gm, "tasks_", None) is not None:
                raise ValueError(f"submodels[{t!r}] is itself a multi-task mixture; each task "
                                 "needs a single mixture.")
        first = next(iter(subs.values()))
        shape = np.shape(first.means_)
        for t, gm in subs.items():
            if np.shape(gm.means_) != shape or gm.covariance_type != first.covariance_type:
                raise ValueError(
                    f"submodels[{t!r}] has K, features or covariance type different from the "
                    "other tasks'; fit every task with the same settings.")
        self.submodels = subs
        self.task_names = tuple(subs)

    # -- description ------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """"single", "pooled", "shared" or "separate"."""
        if self.submodels is not None:
            return "separate"
        if getattr(self.mixture, "tasks_", None) is not None:
            return "shared"
        return "single" if self.task_names is None else "pooled"

    @property
    def tasks(self) -> tuple | None:
        """Task names (None for a single mixture); the rows of :meth:`task_weights`."""
        if self.submodels is None and getattr(self.mixture, "tasks_", None) is not None:
            return tuple(self.mixture.tasks_)
        return self.task_names

    @property
    def _reference(self) -> GaussianMixture:
        return self.mixture if self.submodels is None else next(iter(self.submodels.values()))

    @property
    def covariance_type(self) -> str:
        return self._reference.covariance_type

    @property
    def n_components(self) -> int:
        """K (in separate mode, of each task's own mixture)."""
        return int(np.shape(self._reference.means_)[0])

    @property
    def n_features(self) -> int:
        return int(np.shape(self._reference.means_)[1])

    def n_parameters(self) -> int:
        """Free parameters: those of the mixture (per-task weights counted for shared), or,
        in separate mode, the sum over the tasks' mixtures."""
        if self.submodels is not None:
            return int(sum(gm.n_parameters() for gm in self.submodels.values()))
        return int(self.mixture.n_parameters())

    def task_weights(self):
        """Mixing weights per task: DataFrame of shape (n_tasks, K), index the task names,
        columns ``"0" .. "K-1"``; every row sums to 1.

        Shared: the per-task weights. Pooled: the one weight vector, once per task. Separate:
        each task's own mixture's weights (column ``j`` is a different component in every
        row). Raises ValueError for a single mixture (it has no tasks).
        """
        import pandas as pd

        if self.tasks is None:
            raise ValueError("this model has no tasks (mode 'single'); use mixture.weights_.")
        if self.submodels is not None:
            w = np.vstack([np.asarray(self.submodels[t].weights_) for t in self.tasks])
        elif self.mode == "shared":
            w = np.asarray(self.mixture.weights_)
        else:
            w = np.tile(np.asarray(self.mixture.weights_), (len(self.tasks), 1))
        return pd.DataFrame(w, index=pd.Index(self.tasks, name="task"),
                            columns=[str(j) for j in range(self.n_components)])

    def __repr__(self) -> str:
        extra = "" if self.tasks is None else f", mode={self.mode!r}, tasks={list(self.tasks)}"
        std = ", standardized" if self.standardizer is not None else ""
        return (f"FittedModel(n_components={self.n_components}, "
                f"covariance_type={self.covariance_type!r}, features={self.feature_names}"
                f"{std}{extra})")

    # -- prediction -------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Raw rows -> what the mixture sees: columns selected by name for a DataFrame, then
        standardized if the model carries a standardizer. Shape (n_samples, n_features)."""
        columns = getattr(X, "columns", None)
        if columns is not None:
            available = [str(c) for c in columns]
            missing = [f for f in self.feature_names if f not in available]
            if missing:
                raise ValueError(
                    f"X has no column {', '.join(map(repr, missing))}; the model needs "
                    f"{self.feature_names} (available: {available})."
                )
            X = X[list(self.feature_names)] if all(isinstance(c, str) for c in columns) else \
                X[[columns[available.index(f)] for f in self.feature_names]]
        if self.standardizer is not None:
            return self.standardizer.transform(X)
        return check_X(X, n_features=self.n_features, allow_constant=True)

    def _labels(self, tasks, n):
        labels = task_labels_as_str(tasks)
        if labels.shape != (n,):
            raise ValueError(
                f"tasks must have one label per row ({n}), got {labels.shape[0]}."
            )
        return labels

    def _log_resp(self, X, tasks, unknown_task):
        """Per-row log-likelihood (n,) and log-responsibilities (n, K) of raw rows."""
        if unknown_task not in ("error", "pooled"):
            raise ValueError(f"unknown_task must be 'error' or 'pooled', got {unknown_task!r}.")
        Z = self.transform(X)
        mode = self.mode
        if mode == "pooled":
            # One mixture for every task: labels are checked for length, never looked up.
            if tasks is not None:
                self._labels(tasks, Z.shape[0])
            return self.mixture._log_resp(Z)
        if mode == "separate":
            return self._separate_log_resp(Z, tasks)
        gm = self.mixture
        if gm.tasks_ is None or tasks is None:
            return gm._log_resp(Z, tasks)
        labels = self._labels(tasks, Z.shape[0])
        known = set(gm.tasks_)
        unseen = np.array([t not in known for t in labels.tolist()], dtype=bool)
        if not unseen.any():
            return gm._log_resp(Z, labels)
        if unknown_task == "error":
            names = sorted(set(labels[unseen].tolist()))
            raise ValueError(
                f"unknown task(s) {names}; the model knows {list(gm.tasks_)}. Pass "
                "unknown_task='pooled' to predict unseen tasks with the pooled weights."
            )
        # The pooled weights become one more task of the weight table; rows of known tasks
        # see exactly the numbers the mixture itself would use.
        pooled_name = "<pooled>"
        while pooled_name in known:
            pooled_name += "_"
        labels = labels.astype(object)  # a fixed-width str array would truncate
        labels[unseen] = pooled_name
        snap = gm.snapshot_
        table = np.vstack([np.asarray(snap.weights), self.pooled_weights[None]])
        table.setflags(write=False)
        augmented = dataclasses.replace(snap, weights=table,
                                        tasks=tuple(gm.tasks_) + (pooled_name,))
        return _snapshot_log_resp(augmented, Z, labels)

    def _separate_log_resp(self, Z, tasks):
        if tasks is None:
            raise ValueError(
                f"tasks is required for a separate-mode model: each task {list(self.tasks)} "
                "has its own mixture; pass one task name per row."
            )
        labels = self._labels(tasks, Z.shape[0])
        unseen = sorted(set(labels.tolist()) - set(self.submodels))
        if unseen:
            # Not even unknown_task='pooled' helps: the tasks' components are unrelated.
            raise ValueError(
                f"unknown task(s) {unseen}; the model was fitted on {list(self.tasks)}. In "
                "separate mode every task has its own components and there is no shared "
                "component set to fall back on, so unseen tasks cannot be predicted (not even "
                "with unknown_task='pooled'); fit mode 'shared' (or 'pooled') to predict for "
                "new tasks."
            )
        n, k = Z.shape[0], self.n_components
        log_norm = np.empty(n)
        log_resp = np.empty((n, k))
        for t, gm in self.submodels.items():
            rows = np.flatnonzero(labels == t)
            if rows.size:
                log_norm[rows], log_resp[rows] = gm._log_resp(Z[rows])
        return log_norm, log_resp

    def score_samples(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Log-likelihood of each raw row given its task, shape (n_samples,) (in the
        standardized space when the model standardizes)."""
        return self._log_resp(X, tasks, unknown_task)[0]

    def predict_proba(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Responsibilities of raw rows, shape (n_samples, K); rows sum to 1.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        tasks : array-like of shape (n_samples,)
            One task name per row (compared as strings, as in fitting). Required for shared
            and separate models; ignored (only its length is checked) by pooled ones.
        unknown_task : {"error", "pooled"}
            A task the model has not seen is a ValueError naming the known tasks, or, for a
            shared model, uses ``pooled_weights``. A separate model always raises: its tasks
            share no components, so there is nothing to fall back on.
        """
        return np.exp(self._log_resp(X, tasks, unknown_task)[1])

    def predict(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Most probable component of each raw row, shape (n_samples,)."""
        return self._log_resp(X, tasks, unknown_task)[1].argmax(axis=1)


def _pooled(weights: np.ndarray, counts) -> np.ndarray:
    """n-weighted average of per-task weights (equal weighting when counts is None)."""
    c = np.ones(weights.shape[0]) if counts is None else np.asarray(counts, dtype=np.float64)
    if c.sum() <= 0:
        c = np.ones(weights.shape[0])
    w = c @ weights / c.sum()
    return w / w.sum()


# -- writing ----------------------------------------------------------------------------------
def _as_fitted(model, feature_names, standardizer) -> FittedModel:
    if isinstance(model, FittedModel):
        if feature_names is None and standardizer is None:
            return model
        return dataclasses.replace(
            model,
            feature_names=model.feature_names if feature_names is None else list(feature_names),
            standardizer=model.standardizer if standardizer is None else standardizer,
            metadata=dict(model.metadata),
        )
    counts = task_names = submodels = None
    if hasattr(model, "models") and hasattr(model, "mode"):  # gmmcore.multitask.MultiTaskMixture
        counts = [int(model.task_counts[t]) for t in model.tasks]
        if model.mode == "separate":
            submodels = {t: model.models[t] for t in model.tasks}
            reference = submodels[model.tasks[0]]
        else:
            task_names = tuple(model.tasks) if model.mode == "pooled" else None
            model = reference = model.models[None]
    else:
        reference = model
    if not isinstance(reference, GaussianMixture):
        raise ValueError(
            f"save_model needs a fitted gmmcore.GaussianMixture, MultiTaskMixture or "
            f"FittedModel, got {type(model).__name__}."
        )
    if not hasattr(reference, "means_"):
        raise ValueError("This GaussianMixture is not fitted yet; call fit(X) before saving it.")
    if feature_names is None:
        names = getattr(reference, "feature_names_in_", None)
        d = np.shape(reference.means_)[1]
        feature_names = list(names) if names is not None else [f"x{j}" for j in range(d)]
    if submodels is not None:
        return FittedModel(None, list(feature_names), standardizer, {}, counts,
                           submodels=submodels)
    return FittedModel(model, list(feature_names), standardizer, {}, counts,
                       task_names=task_names)


def _task_counts(fm: FittedModel, tasks, n: int) -> list[int]:
    labels = task_labels_as_str(tasks)
    if labels.shape != (n,):
        raise ValueError(f"tasks must have one label per row of X ({n}), got {labels.shape[0]}.")
    lookup = {t: i for i, t in enumerate(fm.tasks)}
    codes = [lookup.get(t, -1) for t in labels.tolist()]
    if -1 in codes:
        bad = labels.tolist()[codes.index(-1)]
        raise ValueError(f"tasks contains {bad!r}, which the mixture was not fitted on "
                         f"(it knows {list(fm.tasks)}); pass the training tasks.")
    return np.bincount(np.asarray(codes, dtype=np.intp), minlength=len(fm.tasks)).tolist()


def _int_or_none(v):
    return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else None


def _float_or_none(v):
    """A finite float, or None (non-numbers and non-finite values: JSON cannot hold them)."""
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v):
        return float(v)
    return None


def _settings(gm: GaussianMixture) -> dict:
    """How the mixture was run (its estimator settings and the kept run's outcome)."""
    snap = gm.snapshot_
    return dict(
        lower_bound=_float_or_none(getattr(gm, "lower_bound_", None)),
        n_parameters=int(gm.n_parameters()),
        n_iter=int(getattr(gm, "n_iter_", snap.iteration)),
        converged=bool(getattr(gm, "converged_", snap.converged)),
        random_state=_int_or_none(gm.random_state),
        tol=_float_or_none(gm.tol),
        reg_covar=_float_or_none(gm.reg_covar),
        max_iter=_int_or_none(gm.max_iter),
        n_init=_int_or_none(gm.n_init),
        init_params=gm.init_params if isinstance(gm.init_params, str) else None,
    )


def _criteria(log_norm, log_resp, n_params) -> dict:
    total = float(log_norm.sum())
    n = int(log_norm.shape[0])
    return dict(log_likelihood=total, log_likelihood_source="training_data", n_samples=n,
                bic=criteria.bic(total, n_params, n), aic=criteria.aic(total, n_params),
                icl=criteria.icl(total, n_params, n, log_resp))


def _last_e_step(snaps) -> dict:
    """Criteria unknown: the last E-step's log-likelihood (None when no E-step ran)."""
    lls = [_float_or_none(s.log_likelihood) for s in snaps]
    return dict(log_likelihood=None if None in lls else float(math.fsum(lls)),
                log_likelihood_source="last_e_step",
                n_samples=int(sum(s.n_samples for s in snaps)), bic=None, aic=None, icl=None)


def _ordered(meta: dict) -> dict:
    for key in ("bic", "aic", "icl"):
        meta.setdefault(key, None)
    ordered = {key: meta.pop(key) for key in _FIT_KEYS if key in meta}
    ordered.update(meta)  # caller's extra keys last
    return ordered


def _fit_metadata(fm: FittedModel, X, tasks) -> dict:
    meta: dict[str, Any] = dict(fm.metadata)
    if fm.submodels is None:
        meta.update(_settings(fm.mixture))
        snaps = [fm.mixture.snapshot_]
    else:
        # Separate mode: the tasks' mixtures share their settings; the run summary is the
        # whole model's (all tasks converged, the longest run, lower bound per row unknown).
        per_task = [_settings(gm) for gm in fm.submodels.values()]
        meta.update(per_task[0])
        meta.update(lower_bound=None, n_parameters=fm.n_parameters(),
                    n_iter=max(s["n_iter"] for s in per_task),
                    converged=all(s["converged"] for s in per_task))
        snaps = [gm.snapshot_ for gm in fm.submodels.values()]
    if X is not None:
        if fm.mode == "pooled":
            log_norm, log_resp = fm.mixture._log_resp(fm.transform(X))
        elif fm.mode in ("single", "shared"):
            log_norm, log_resp = fm.mixture._log_resp(fm.transform(X), tasks)
        else:
            log_norm, log_resp = fm._log_resp(X, tasks, "error")
        meta.update(_criteria(log_norm, log_resp, meta["n_parameters"]))
    elif "log_likelihood" not in meta or "n_samples" not in meta:
        meta.update(_last_e_step(snaps))
    return _ordered(meta)


def _submodel_fit(gm: GaussianMixture, Z_task) -> dict:
    # A mixture loaded from a file keeps that file's fit object (criteria included), as
    # FittedModel.metadata does for the whole model.
    meta: dict[str, Any] = dict(getattr(gm, "_model_file_fit", {}))
    meta.update(_settings(gm))
    if Z_task is not None:
        meta.update(_criteria(*gm._log_resp(Z_task), meta["n_parameters"]))
    elif "log_likelihood" not in meta or "n_samples" not in meta:
        meta.update(_last_e_step([gm.snapshot_]))
    return _ordered(meta)


_FIT_KEYS = ("log_likelihood", "log_likelihood_source", "lower_bound", "bic", "aic", "icl",
             "n_parameters", "n_samples", "n_iter", "converged", "random_state", "tol",
             "reg_covar", "max_iter", "n_init", "init_params")


def _snapshot_dict(s: Snapshot) -> dict:
    return {
        "iteration": int(s.iteration),
        "phase": s.phase,
        "weights": np.asarray(s.weights).tolist(),
        "means": np.asarray(s.means).tolist(),
        "covariances": np.asarray(s.covariances).tolist(),
        "log_likelihood": None if s.log_likelihood is None else float(s.log_likelihood),
        "events": [{"kind": e.kind, "component": e.component, "message": e.message}
                   for e in s.events],
    }


def _parameters(gm: GaussianMixture) -> dict:
    """weights, means, covariances (and the precision factor when it is needed)."""
    structure = get_structure(gm.covariance_type)
    covariances = np.asarray(gm.covariances_, dtype=np.float64)
    prec_chol = np.asarray(gm.precisions_cholesky_, dtype=np.float64)
    out = {
        "weights": np.asarray(gm.weights_, dtype=np.float64).tolist(),
        "means": np.asarray(gm.means_, dtype=np.float64).tolist(),
        "covariances": covariances.tolist(),
    }
    # Recomputing the factor is what the loader does; only when that would not reproduce the
    # fitted factor bit for bit (e.g. max_iter=0 with precisions_init) is it stored.
    try:
        same = np.array_equal(structure.precisions_cholesky(covariances), prec_chol)
    except ValueError:
        same = False
    if not same:
        out["precisions_cholesky"] = prec_chol.tolist()
    return out


def _document(fm: FittedModel, X=None, tasks=None, include_history=False) -> dict:
    counts = fm.task_n_samples
    pooled = fm.pooled_weights
    if fm.mode == "separate" and X is not None and tasks is None:
        raise ValueError("a separate-mode model saved with training data X needs its tasks too "
                         "(one task name per row of X): pass tasks=.")
    labels = None
    if fm.tasks is not None and X is not None and tasks is not None:
        n = np.shape(fm.transform(X))[0]
        counts = _task_counts(fm, tasks, n)
        labels = task_labels_as_str(tasks)
        if fm.mode == "shared":
            pooled = _pooled(np.asarray(fm.mixture.weights_, dtype=np.float64), counts)
    std = fm.standardizer
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "gmmcore_version": _gmm_version(),
        "feature_names": list(fm.feature_names),
        "preprocessing": {
            "standardization": None if std is None else {
                "mean": np.asarray(std.mean, dtype=np.float64).tolist(),
                "scale": np.asarray(std.scale, dtype=np.float64).tolist(),
            }
        },
        "mode": fm.mode,
        "covariance_type": get_structure(fm.covariance_type).name,
        "n_components": fm.n_components,
        "n_features": fm.n_features,
    }
    if fm.submodels is None:
        doc.update(_parameters(fm.mixture))
    doc["tasks"] = None if fm.tasks is None else list(fm.tasks)
    doc["task_n_samples"] = None if counts is None else [int(c) for c in counts]
    doc["pooled_weights"] = None if pooled is None else np.asarray(pooled).tolist()
    if fm.submodels is not None:
        Z = None if X is None else fm.transform(X)
        subs = {}
        for t, gm in fm.submodels.items():
            entry = _parameters(gm)
            entry["fit"] = _submodel_fit(gm, None if Z is None else Z[labels == t])
            history = getattr(gm, "history_", ()) if include_history else ()
            entry["history"] = [_snapshot_dict(s) for s in history] if history else None
            subs[t] = entry
        doc["submodels"] = subs
    doc["fit"] = _fit_metadata(fm, X, tasks)
    history = getattr(fm.mixture, "history_", ()) if include_history and fm.mixture else ()
    doc["history"] = [_snapshot_dict(s) for s in history] if history else None
    return doc


def _dumps(obj, level: int = 0) -> str:
    """JSON with objects indented and numeric arrays kept compact (one matrix row a line)."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and any(isinstance(v, (dict, list)) for v in obj):
        if any(isinstance(v, dict) for v in obj) or any(
            isinstance(v, list) and v and isinstance(v[0], list) for v in obj
        ):
            items = [inner + _dumps(v, level + 1) for v in obj]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        items = [inner + json.dumps(v, allow_nan=False, separators=(", ", ": ")) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


def to_json(model, *, feature_names=None, standardizer=None, X=None, tasks=None,
            include_history: bool = False, metadata=None) -> str:
    """The model file as a string.

    Parameters
    ----------
    model : GaussianMixture, FittedModel, or a MultiTaskMixture of any mode
        Fitted. A :class:`gmmcore.multitask.MultiTaskMixture` is written with its mode, task
        names and per-task row counts: pooled as one mixture plus the task names, shared with
        its (n_tasks, K) weights, separate with one full mixture per task in ``submodels``.
    feature_names : list of str, optional
        Default: the FittedModel's, the mixture's ``feature_names_in_``, or ``x0, x1, ...``.
    standardizer : Standardizer, optional
        Default: the FittedModel's (none for a bare mixture).
    X : array-like or DataFrame of shape (n_samples, n_features), optional
        The RAW training data (before standardization). When given, the file records the
        log-likelihood, BIC, AIC and ICL of the stored parameters on X, and n_samples; when
        not, it records scikit-learn's lower bound times n_samples as the log-likelihood
        (``log_likelihood_source="last_e_step"``) and null criteria.
    tasks : array-like of shape (n_samples,), optional
        Task label per row of X (multi-task models; required with X in separate mode): gives
        the per-task row counts that weight ``pooled_weights``, and each task's rows for its
        submodel's criteria.
    include_history : bool, default=False
        Also store every EM snapshot of the kept run (``history_``; per task in separate
        mode).
    metadata : dict, optional
        Extra keys for the file's ``fit`` object (e.g. the data file's name); JSON values only.

    Raises
    ------
    ValueError
        Unfitted model, mismatched feature names, or NaN/infinity in the parameters.
    """
    fm = _as_fitted(model, feature_names, standardizer)
    if metadata:
        fm = dataclasses.replace(fm, metadata={**fm.metadata, **dict(metadata)})
    doc = _document(fm, X, tasks, include_history)
    try:
        return _dumps(doc) + "\n"
    except ValueError:
        raise ValueError(
            "the model contains NaN or infinity (in its parameters or fit results), which a "
            "model file cannot hold; refit it (e.g. with a larger reg_covar)."
        ) from None


def save_model(model, path, *, feature_names=None, standardizer=None, X=None, tasks=None,
               include_history: bool = False, metadata=None) -> Path:
    """Write the model file (UTF-8 JSON) to ``path``; returns the path.

    Parameters are those of :func:`to_json`. Raises OSError when the file cannot be written.
    """
    text = to_json(model, feature_names=feature_names, standardizer=standardizer, X=X,
                   tasks=tasks, include_history=include_history, metadata=metadata)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


# -- reading ----------------------------------------------------------------------------------
class _NonFinite:
    def __init__(self, text):
        self.text = text


def _parse_float(text):
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _find_nonfinite(obj, path=""):
    if isinstance(obj, _NonFinite):
        return path, obj.text
    if isinstance(obj, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for p, v in items:
        found = _find_nonfinite(v, p)
        if found:
            return found
    return None


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


_JSON_TYPES = {"array": "an array", "object": "an object", "string": "a string",
               "number": "a number", "integer": "an integer", "boolean": "true or false",
               "null": "null"}


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, _NonFinite) else value.text
    return text if len(text) <= 40 else text[:37] + "..."


def _schema_message(error) -> str:
    # Descend into oneOf/anyOf to the most specific failure.
    import jsonschema.exceptions as jse

    while error.context:
        error = jse.best_match(error.context)
    path = _path(error.absolute_path)
    v, val, inst = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = [k for k in val if k not in inst]
        where = "" if path == "(top level)" else f" in '{path}'"
        return f"missing field '{missing[0]}'{where}; add it ({_FIX})"
    if v == "additionalProperties":
        extra = sorted(k for k in inst if k not in error.schema.get("properties", {}))
        where = "" if path == "(top level)" else f" in '{path}'"
        return (f"unknown field '{extra[0]}'{where}; version 1 files have only the documented "
                f"fields (see docs/model-format.md): remove it")
    if v == "type":
        types = [val] if isinstance(val, str) else list(val)
        want = " or ".join(_JSON_TYPES.get(t, t) for t in types)
        return f"field '{path}' must be {want}, got {_json_type(inst)} ({_short(inst)}); {_FIX}"
    if v == "enum":
        if error.absolute_path and error.absolute_path[-1] == "covariance_type":
            return (f"unknown covariance type {inst!r} in field 'covariance_type'; it must be "
                    f"one of {', '.join(COVARIANCE_TYPES)}")
        choices = ", ".join(json.dumps(c) for c in val)
        return f"field '{path}' is {_short(inst)}, not one of {choices}; {_FIX}"
    if v == "const":
        return f"field '{path}' must be {json.dumps(val)}, got {_short(inst)}; {_FIX}"
    if v == "minItems":
        return f"field '{path}' must have at least {val} item(s), got {len(inst)}; {_FIX}"
    if v == "minimum":
        return f"field '{path}' is {inst}, below the minimum {val}; {_FIX}"
    if v == "uniqueItems":
        return f"field '{path}' has duplicate entries; give each entry once ({_FIX})"
    return f"field '{path}': {error.message}; {_FIX}"


def _check_header(doc) -> None:
    if not isinstance(doc, dict):
        raise ModelFileError(
            f"a model file must hold a JSON object at the top level, got {_json_type(doc)}; "
            "is this a gmmcore model file (written by gmmcore.save_model)?"
        )
    if "format" not in doc:
        raise ModelFileError(
            "missing field 'format': this is not a gmmcore model file (it must contain "
            f'"format": "{FORMAT}"); pass a file written by gmmcore.save_model'
        )
    if doc["format"] != FORMAT:
        raise ModelFileError(
            f"field 'format' is {_short(doc['format'])}, not \"{FORMAT}\": this is not a "
            "gmmcore model file; pass a file written by gmmcore.save_model"
        )
    version = doc.get("version")
    if "version" not in doc:
        raise ModelFileError(f"missing field 'version'; a version {VERSION} file has "
                             f'"version": {VERSION} ({_FIX})')
    if type(version) is not int:
        raise ModelFileError(
            f"field 'version' must be an integer, got {_json_type(version)} "
            f"({_short(version)}); {_FIX}"
        )
    if version != VERSION:
        newer = version > VERSION
        raise ModelFileError(
            f"field 'version' is {version} but this gmmcore reads version {VERSION} only; "
            + ("upgrade gmmcore to read this newer file" if newer else
               "export the model again with this gmmcore")
        )


_NOT_SEPARATE = ("weights", "means", "covariances", "precisions_cholesky")


def _check_mode_fields(doc) -> None:
    """Fields that one mode has and another must not (the schema says so with ``false``
    subschemas, whose errors jsonschema reports without the field's name)."""
    mode = doc.get("mode")
    if mode == "separate":
        extra = [key for key in _NOT_SEPARATE if key in doc]
        if extra:
            raise ModelFileError(
                f"field '{extra[0]}' does not belong in a separate-mode file (each task's "
                "weights, means and covariances are in 'submodels'); remove it, or set 'mode' "
                f"to the mode the file was written for ({_FIX})"
            )
    elif mode in ("single", "pooled", "shared") and "submodels" in doc:
        raise ModelFileError(
            f"field 'submodels' belongs in a separate-mode file only, but 'mode' is {mode!r}; "
            f"remove it ({_FIX})"
        )


def _array(doc, key, path=None) -> np.ndarray:
    path = path or key
    try:
        return np.array(doc[key], dtype=np.float64)
    except ValueError:
        raise ModelFileError(
            f"field '{path}' is ragged: its rows have different lengths; every row must have "
            f"the same length ({_FIX})"
        ) from None


def _check_shape(arr, expected, path, why) -> None:
    if arr.shape != tuple(expected):
        raise ModelFileError(
            f"{path} has shape {arr.shape} but {why}, so it must have shape {tuple(expected)}; "
            f"{_FIX}"
        )


def _check_weights(w, path, tasks=None) -> None:
    rows = w.reshape(-1, w.shape[-1])
    for i, row in enumerate(rows):
        where = path if w.ndim == 1 else f"{path}[{i}]"
        if tasks is not None:
            where += f" (task {tasks[i]!r})"
        if (row < 0).any():
            j = int(np.flatnonzero(row < 0)[0])
            raise ModelFileError(f"{where} has a negative weight ({float(row[j])!r} for component {j}); "
                                 f"weights must be >= 0 ({_FIX})")
        total = math.fsum(row.tolist())
        if abs(total - 1.0) > WEIGHT_SUM_TOL:
            raise ModelFileError(
                f"{where} sums to {total!r}, not 1 (tolerance {WEIGHT_SUM_TOL:g}); weights "
                f"must sum to 1: renormalize them ({_FIX})"
            )


def _check_covariances(cov, structure, path, k, d) -> np.ndarray:
    """Symmetry and positive definiteness; returns the precision Cholesky factor."""
    shape_why = {
        "full": f"covariance_type='full' with n_components={k} and n_features={d}",
        "tied": f"covariance_type='tied' with n_features={d}",
        "diag": f"covariance_type='diag' with n_components={k} and n_features={d}",
        "spherical": f"covariance_type='spherical' with n_components={k}",
    }[structure.name]
    _check_shape(cov, structure.expected_shape(k, d), path, shape_why)
    if structure.name in ("full", "tied"):
        mats = cov if structure.name == "full" else cov[None]
        for j, m in enumerate(mats):
            scale = np.abs(m).max()
            if np.abs(m - m.T).max() > SYMMETRY_RTOL * scale:
                where = f"{path}[{j}]" if structure.name == "full" else path
                raise ModelFileError(
                    f"{where} is not symmetric (largest |C - C^T| is "
                    f"{np.abs(m - m.T).max():.3g}, above the tolerance {SYMMETRY_RTOL:g} "
                    f"relative to its largest entry); {_FIX}"
                )
    try:
        prec_chol = structure.precisions_cholesky(cov)
    except IllConditionedCovarianceError as exc:
        if structure.name == "tied":
            what = f"{path} (the shared covariance) is not positive definite"
        elif structure.name == "full":
            what = f"{path}[{exc.component}] (component {exc.component}) is not positive definite"
        else:
            what = (f"{path}[{exc.component}] (component {exc.component}) has a variance <= 0; "
                    "variances must be > 0")
        raise ModelFileError(f"{what}; {_FIX}") from None
    if not np.isfinite(prec_chol).all():
        raise ModelFileError(f"{path} is numerically singular (its inverse overflows); {_FIX}")
    return prec_chol


def _build(doc: dict) -> FittedModel:
    k, d = doc["n_components"], doc["n_features"]
    names = doc["feature_names"]
    if len(names) != d:
        raise ModelFileError(
            f"feature_names has {len(names)} name(s) but n_features={d}; give one name per "
            f"feature ({_FIX})"
        )
    std_doc = doc["preprocessing"]["standardization"]
    standardizer = None
    if std_doc is not None:
        mean = _array(std_doc, "mean", "preprocessing.standardization.mean")
        scale = _array(std_doc, "scale", "preprocessing.standardization.scale")
        for arr, key in ((mean, "mean"), (scale, "scale")):
            _check_shape(arr, (d,), f"preprocessing.standardization.{key}",
                         f"n_features={d}")
        if (scale <= 0).any():
            j = int(np.flatnonzero(scale <= 0)[0])
            raise ModelFileError(
                f"preprocessing.standardization.scale[{j}] is {float(scale[j])!r}; scales must be > 0 "
                f"(a constant feature cannot be standardized): {_FIX}"
            )
        standardizer = Standardizer(mean, scale)

    structure = get_structure(doc["covariance_type"])
    mode = doc["mode"]
    tasks = doc.get("tasks")
    counts = doc.get("task_n_samples")

    def check_counts():
        if tasks is not None and counts is not None and len(counts) != len(tasks):
            raise ModelFileError(
                f"task_n_samples has {len(counts)} entries but there are {len(tasks)} tasks; "
                f"give one row count per task ({_FIX})"
            )

    fit = doc["fit"]
    if mode == "separate":
        check_counts()
        subs = doc["submodels"]
        missing = [t for t in tasks if t not in subs]
        if missing:
            raise ModelFileError(
                f"submodels has no entry for task {missing[0]!r}, which is listed in 'tasks'; "
                "a separate-mode file needs one mixture per task: add "
                f"submodels.{missing[0]} or remove the task from 'tasks' ({_FIX})"
            )
        extra = [t for t in subs if t not in tasks]
        if extra:
            raise ModelFileError(
                f"submodels has an entry for {extra[0]!r}, which is not in 'tasks' "
                f"{tasks}; add it to 'tasks' or remove submodels.{extra[0]} ({_FIX})"
            )
        submodels = {t: _build_mixture(subs[t], subs[t]["fit"], structure, k, d, names, None,
                                       f"submodels.{t}.")
                     for t in tasks}
        for t, gm in submodels.items():
            gm._model_file_fit = dict(subs[t]["fit"])
        return FittedModel(None, list(names), standardizer, dict(fit),
                           None if counts is None else list(counts), submodels=submodels)

    shared = mode == "shared"
    gm = _build_mixture(doc, fit, structure, k, d, names, tuple(tasks) if shared else None, "")
    check_counts()
    pooled = None
    if shared:
        pooled = _array(doc, "pooled_weights")
        _check_shape(pooled, (k,), "pooled_weights", f"n_components={k}")
        _check_weights(pooled, "pooled_weights")
        if counts is not None and sum(counts) > 0:
            expected = _pooled(np.asarray(gm.weights_), counts)
            if np.abs(expected - pooled).max() > WEIGHT_SUM_TOL:
                raise ModelFileError(
                    "pooled_weights is not the task_n_samples-weighted average of the task "
                    f"weights (tolerance {WEIGHT_SUM_TOL:g}); {_FIX}"
                )
    return FittedModel(gm, list(names), standardizer, dict(fit),
                       None if counts is None else list(counts), pooled,
                       task_names=tuple(tasks) if mode == "pooled" else None)


def _build_mixture(part, fit, structure, k, d, names, task_tuple, prefix) -> GaussianMixture:
    """One fitted GaussianMixture from the parameter fields of ``part`` (the document itself,
    or one entry of ``submodels``, whose paths start with ``prefix``)."""
    weights = _array(part, "weights", f"{prefix}weights")
    if task_tuple is not None:
        _check_shape(weights, (len(task_tuple), k), "weights",
                     f"mode='shared' with {len(task_tuple)} task(s) and n_components={k}")
    else:
        _check_shape(weights, (k,), f"{prefix}weights", f"n_components={k}")
    _check_weights(weights, f"{prefix}weights", task_tuple)
    means = _array(part, "means", f"{prefix}means")
    _check_shape(means, (k, d), f"{prefix}means", f"n_components={k} and n_features={d}")
    covariances = _array(part, "covariances", f"{prefix}covariances")
    prec_chol = _check_covariances(covariances, structure, f"{prefix}covariances", k, d)
    if part.get("precisions_cholesky") is not None:
        stored = _array(part, "precisions_cholesky", f"{prefix}precisions_cholesky")
        _check_shape(stored, prec_chol.shape, f"{prefix}precisions_cholesky",
                     "it must match covariances")
        if not np.allclose(stored, prec_chol, rtol=1e-6, atol=0):
            raise ModelFileError(
                f"{prefix}precisions_cholesky does not match the Cholesky factor of the "
                f"covariances (relative tolerance 1e-6); remove the field to recompute it, or "
                f"{_FIX}"
            )
        prec_chol = stored
    history = ()
    if part.get("history"):
        history = tuple(_history_snapshot(i, s, structure, k, d, task_tuple, fit["n_samples"],
                                          prefix)
                        for i, s in enumerate(part["history"]))
    events = ()
    if fit["converged"]:
        events = (Event("converged", None, "Converged (as recorded in the model file)."),)
    final = Snapshot(
        iteration=fit["n_iter"], phase="M", weights=_frozen(weights), means=_frozen(means),
        covariances=_frozen(covariances), precisions_cholesky=_frozen(prec_chol),
        covariance_type=structure.name,
        log_likelihood=fit["log_likelihood"], n_samples=fit["n_samples"], events=events,
        tasks=task_tuple,
    )
    params = {key: fit[key] for key in ("tol", "reg_covar", "max_iter", "n_init",
                                        "init_params", "random_state")
              if fit.get(key) is not None}
    gm = GaussianMixture(n_components=k, covariance_type=structure.name, **params)
    gm._set_snapshot(final)
    gm.converged_ = bool(fit["converged"])
    gm.n_iter_ = int(fit["n_iter"])
    lb, ll = fit.get("lower_bound"), fit["log_likelihood"]
    if lb is None:
        lb = -math.inf if ll is None else ll / fit["n_samples"]
    gm.lower_bound_ = float(lb)
    gm.history_ = history
    gm.lower_bounds_ = [s.mean_log_likelihood for s in history if s.phase == "E"]
    gm.restarts_ = []
    gm.best_restart_ = 0
    gm.n_features_in_ = d
    gm.feature_names_in_ = np.asarray(names, dtype=object)
    return gm


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


def _history_snapshot(i, s, structure, k, d, tasks, n_samples, prefix="") -> Snapshot:
    path = f"{prefix}history[{i}]"
    w = _array(s, "weights", f"{path}.weights")
    _check_shape(w, (k,) if tasks is None else (len(tasks), k), f"{path}.weights",
                 "it must match the final weights")
    _check_weights(w, f"{path}.weights")
    means = _array(s, "means", f"{path}.means")
    _check_shape(means, (k, d), f"{path}.means", f"n_components={k} and n_features={d}")
    cov = _array(s, "covariances", f"{path}.covariances")
    prec_chol = _check_covariances(cov, structure, f"{path}.covariances", k, d)
    events = tuple(Event(e["kind"], e["component"], e["message"]) for e in s.get("events", []))
    return Snapshot(
        iteration=s["iteration"], phase=s["phase"], weights=_frozen(w), means=_frozen(means),
        covariances=_frozen(cov), precisions_cholesky=_frozen(prec_chol),
        covariance_type=structure.name, log_likelihood=s["log_likelihood"],
        n_samples=n_samples, events=events, tasks=tasks,
    )


def from_json(text: str | bytes) -> FittedModel:
    """Load a model from the text of a model file.

    Raises
    ------
    ModelFileError
        Anything malformed, with a message naming the field, the problem and what to do.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ModelFileError(
                f"the model file is not UTF-8 text (bad byte at position {exc.start}); pass "
                "the JSON file written by gmmcore.save_model"
            ) from None
    if not isinstance(text, str):
        raise ModelFileError(f"from_json needs the file's text (str or bytes), got "
                             f"{type(text).__name__}")
    if not text.strip():
        raise ModelFileError("the model file is empty; pass the JSON file written by "
                             "gmmcore.save_model")
    try:
        doc = json.loads(text, parse_float=_parse_float,
                         parse_constant=lambda name: _NonFinite(name))
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"the model file is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}; pass the JSON file written by gmmcore.save_model, unedited"
        ) from None
    except RecursionError:
        raise ModelFileError("the model file is nested too deeply to be a model file") from None
    found = _find_nonfinite(doc)
    if found:
        path, raw = found
        raise ModelFileError(
            f"field '{path}' is {raw}, but a model file holds finite numbers only (no NaN or "
            f"infinity); {_FIX}"
        )
    _check_header(doc)
    _check_mode_fields(doc)
    error = _first_schema_error(doc)
    if error is not None:
        raise ModelFileError(_schema_message(error))
    return _build(doc)


def _first_schema_error(doc):
    import jsonschema.exceptions as jse

    errors = list(_validator().iter_errors(doc))
    if not errors:
        return None
    return jse.best_match(errors)


def load_model(path) -> FittedModel:
    """Load a model file written by :func:`save_model`.

    Raises
    ------
    OSError
        The file cannot be read (e.g. it does not exist).
    ModelFileError
        The file is not a valid model file; the message names the field and the problem.
    """
    data = Path(path).read_bytes()
    try:
        return from_json(data)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None

