"""Writing the model file: a fitted mixture as versioned, self-describing JSON.

The format is documented field by field in ``docs/model-format.md`` and described by the JSON
Schema of :mod:`gmmcore.io.schema`. Floats are written with Python's ``repr`` (the shortest
string that reads back to the same double), so a save/load round trip is exact; nothing is
pickled.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..engine import criteria
from ..engine.covariance import get_structure
from ..engine.em import Snapshot, log_prob_resp
from ..engine.validation import task_labels
from ..engine.weights import pooled_weights
from ..mixture import GaussianMixture
from ..model import FittedModel
from .schema import ESTIMATOR_SETTINGS, FORMAT, VERSION

__all__ = ["save_model", "to_json"]


def _as_fitted(model, feature_names, standardizer) -> FittedModel:
    """The FittedModel to write, with feature names always set (``x0, x1, ...`` when the
    model has none)."""
    if isinstance(model, GaussianMixture):
        if not hasattr(model, "means_"):
            raise ValueError(
                "This GaussianMixture is not fitted yet; call fit(X) before saving it."
            )
        model = model.to_model()
    elif not isinstance(model, FittedModel):
        raise ValueError(
            f"save_model needs a fitted gmmcore.GaussianMixture or FittedModel (as "
            f"fit_multitask returns), got {type(model).__name__}."
        )
    if feature_names is None:
        feature_names = model.feature_names
    if feature_names is None:
        names = getattr(model._reference, "feature_names_in_", None)
        feature_names = (
            list(names) if names is not None else [f"x{j}" for j in range(model.n_features)]
        )
    return dataclasses.replace(
        model,
        feature_names=list(feature_names),
        standardizer=model.standardizer if standardizer is None else standardizer,
        metadata=dict(model.metadata),
    )


def _task_counts(fm: FittedModel, tasks, n: int) -> list[int]:
    labels = task_labels(tasks, n)
    lookup = {t: i for i, t in enumerate(fm.tasks)}
    codes = [lookup.get(t, -1) for t in labels.tolist()]
    if -1 in codes:
        bad = labels.tolist()[codes.index(-1)]
        raise ValueError(
            f"tasks contains {bad!r}, which the mixture was not fitted on "
            f"(it knows {list(fm.tasks)}); pass the training tasks."
        )
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
        # Written only for mclust's relative rule; absent means scikit-learn's "mean".
        **({"convergence": gm.convergence} if getattr(gm, "convergence", "mean") != "mean" else {}),
        reg_covar=_float_or_none(gm.reg_covar),
        max_iter=_int_or_none(gm.max_iter),
        n_init=_int_or_none(gm.n_init),
        init_params=gm.init_params if isinstance(gm.init_params, str) else None,
        # Written only for float32 fits: their parameters (stored exactly, as float64 numbers)
        # sum to 1 only to float32 precision, which the loader then allows.
        **({"dtype": "float32"} if np.asarray(gm.means_).dtype == np.float32 else {}),
        # Written only for fits under mclust's conjugate prior (gmmcore.engine.prior).
        **({"prior": gm.prior_.to_dict()} if getattr(gm, "prior_", None) is not None else {}),
    )


def _criteria(log_norm, log_resp, n_params) -> dict:
    total = float(log_norm.sum())
    n = int(log_norm.shape[0])
    return dict(
        log_likelihood=total,
        log_likelihood_source="training_data",
        n_samples=n,
        bic=criteria.bic(total, n_params, n),
        aic=criteria.aic(total, n_params),
        icl=criteria.icl(total, n_params, n, log_resp),
    )


def _last_e_step(snaps) -> dict:
    """Criteria unknown: the last E-step's log-likelihood (None when no E-step ran)."""
    lls = [_float_or_none(s.log_likelihood) for s in snaps]
    return dict(
        log_likelihood=None if None in lls else float(math.fsum(lls)),
        log_likelihood_source="last_e_step",
        n_samples=int(sum(s.n_samples for s in snaps)),
        bic=None,
        aic=None,
        icl=None,
    )


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
        meta.update(
            lower_bound=None,
            n_parameters=fm.n_parameters(),
            n_iter=max(s["n_iter"] for s in per_task),
            converged=all(s["converged"] for s in per_task),
        )
        snaps = [gm.snapshot_ for gm in fm.submodels.values()]
    if X is not None:
        log_norm, log_resp = fm.log_prob_resp(X, tasks)
        meta.update(_criteria(log_norm, log_resp, meta["n_parameters"]))
    elif "log_likelihood" not in meta or "n_samples" not in meta:
        meta.update(_last_e_step(snaps))
    return _ordered(meta)


def _submodel_fit(gm: GaussianMixture, known: dict, Z_task) -> dict:
    # A mixture loaded from a file keeps that file's fit object (criteria included), as
    # FittedModel.metadata does for the whole model.
    meta: dict[str, Any] = dict(known)
    meta.update(_settings(gm))
    if Z_task is not None:
        meta.update(_criteria(*log_prob_resp(gm.snapshot_, Z_task), meta["n_parameters"]))
    elif "log_likelihood" not in meta or "n_samples" not in meta:
        meta.update(_last_e_step([gm.snapshot_]))
    return _ordered(meta)


_FIT_KEYS = (
    "log_likelihood",
    "log_likelihood_source",
    "lower_bound",
    "bic",
    "aic",
    "icl",
    "n_parameters",
    "n_samples",
    "n_iter",
    "converged",
    *ESTIMATOR_SETTINGS,
    "dtype",
    "prior",
)


def _snapshot_dict(s: Snapshot) -> dict:
    return {
        "iteration": int(s.iteration),
        "phase": s.phase,
        "weights": np.asarray(s.weights).tolist(),
        "means": np.asarray(s.means).tolist(),
        "covariances": np.asarray(s.covariances).tolist(),
        "log_likelihood": None if s.log_likelihood is None else float(s.log_likelihood),
        "events": [
            {"kind": e.kind, "component": e.component, "message": e.message} for e in s.events
        ],
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
    pooled = fm.pooled
    if fm.mode == "separate" and X is not None and tasks is None:
        raise ValueError(
            "a separate-mode model saved with training data X needs its tasks too "
            "(one task name per row of X): pass tasks=."
        )
    labels = None
    if fm.tasks is not None and X is not None and tasks is not None:
        n = np.shape(fm.transform(X))[0]
        counts = _task_counts(fm, tasks, n)
        labels = task_labels(tasks, n)
        if fm.mode == "shared":
            pooled = pooled_weights(fm.mixture.weights_, counts)
    std = fm.standardizer
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "gmmcore_version": __version__,
        "feature_names": list(fm.feature_names),
        "preprocessing": {
            "standardization": None
            if std is None
            else {
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
            known = (fm.submodel_metadata or {}).get(t, {})
            entry["fit"] = _submodel_fit(gm, known, None if Z is None else Z[labels == t])
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


def to_json(
    model,
    *,
    feature_names=None,
    standardizer=None,
    X=None,
    tasks=None,
    include_history: bool = False,
    metadata=None,
) -> str:
    """The model file as a string.

    Parameters
    ----------
    model : GaussianMixture or FittedModel
        Fitted. A multi-task :class:`gmmcore.FittedModel` (from :func:`gmmcore.fit_multitask`)
        is written with its mode, task names and per-task row counts: pooled as one mixture
        plus the task names, shared with its (n_tasks, K) weights, separate with one full
        mixture per task in ``submodels``.
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

    Examples
    --------
    >>> import numpy as np
    >>> from gmmcore import GaussianMixture, from_json
    >>> X = np.r_[np.zeros((5, 1)), np.ones((5, 1))] + np.linspace(0, 0.1, 10)[:, None]
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> loaded = from_json(to_json(gm, feature_names=["x"], X=X))
    >>> loaded.mode, bool((loaded.predict_proba(X) == gm.predict_proba(X)).all())
    ('single', True)
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


def save_model(
    model,
    path,
    *,
    feature_names=None,
    standardizer=None,
    X=None,
    tasks=None,
    include_history: bool = False,
    metadata=None,
) -> Path:
    """Write the model file (UTF-8 JSON) to ``path``; returns the path.

    Parameters are those of :func:`to_json`. Raises OSError when the file cannot be written.
    """
    text = to_json(
        model,
        feature_names=feature_names,
        standardizer=standardizer,
        X=X,
        tasks=tasks,
        include_history=include_history,
        metadata=metadata,
    )
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
