"""Reading the model file: JSON text -> a :class:`gmmcore.FittedModel` that predicts.

The loader checks, in order: JSON syntax and finite numbers; the header (format, version);
the JSON Schema (:mod:`gmmcore.io.schema`); then what a schema cannot express (shapes that
agree with ``n_components`` and ``n_features``, weights summing to 1, symmetric positive
definite covariances, pooled weights consistent with the task weights). Every problem is a
:class:`ModelFileError` naming the field and the fix. The covariances are refactored with the
code the fit used, so a loaded model predicts bit for bit what the fitted one did.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..engine.covariance import get_structure
from ..engine.em import Event, Snapshot, frozen_array
from ..engine.prior import ConjugatePrior
from ..engine.weights import pooled_weights
from ..mixture import GaussianMixture
from ..model import FittedModel
from ..preprocessing import Standardizer
from .limits import (
    MAX_ABS_PARAMETER,
    MAX_HISTORY_SNAPSHOTS,
    MAX_MODEL_BYTES,
    MAX_PRECISION,
    model_size_message,
)
from .schema import (
    ESTIMATOR_SETTINGS,
    FIX,
    ModelFileError,
    check_header,
    check_mode_fields,
    find_nonfinite,
    first_schema_error,
    nonfinite_message,
    parse_json,
    schema_message,
)

__all__ = ["WEIGHT_SUM_TOL", "ModelFileError", "from_json", "load_model"]

# Tolerance of the weight checks (documented in docs/model-format.md).
WEIGHT_SUM_TOL = 1e-9
# A float32 model's weights sum to 1 only to float32 precision (~K x 6e-8); its file says so
# with fit.dtype = "float32" (scikit-learn checks float32 weights to 1e-6 too).
FLOAT32_WEIGHT_SUM_TOL = 1e-6


def _weight_tolerance(fit: dict) -> float:
    return FLOAT32_WEIGHT_SUM_TOL if fit.get("dtype") == "float32" else WEIGHT_SUM_TOL


def _array(doc, key, path=None) -> np.ndarray:
    path = path or key
    try:
        return np.array(doc[key], dtype=np.float64)
    except ValueError:
        raise ModelFileError(
            f"field '{path}' is ragged: its rows have different lengths; every row must have "
            f"the same length ({FIX})"
        ) from None


def _check_shape(arr, expected, path, why) -> None:
    if arr.shape != tuple(expected):
        raise ModelFileError(
            f"{path} has shape {arr.shape} but {why}, so it must have shape {tuple(expected)}; "
            f"{FIX}"
        )


def _check_weights(w, path, tasks=None, tol=WEIGHT_SUM_TOL) -> None:
    rows = w.reshape(-1, w.shape[-1])
    for i, row in enumerate(rows):
        where = path if w.ndim == 1 else f"{path}[{i}]"
        if tasks is not None:
            where += f" (task {tasks[i]!r})"
        if (row < 0).any():
            j = int(np.flatnonzero(row < 0)[0])
            raise ModelFileError(
                f"{where} has a negative weight ({float(row[j])!r} for component {j}); "
                f"weights must be >= 0 ({FIX})"
            )
        total = math.fsum(row.tolist())
        if abs(total - 1.0) > tol:
            raise ModelFileError(
                f"{where} sums to {total!r}, not 1 (tolerance {tol:g}); weights "
                f"must sum to 1: renormalize them ({FIX})"
            )


def _check_magnitude(arr, path, low=None) -> None:
    """Refuse values whose squares overflow in the E-step (every probability would be NaN)."""
    big = np.abs(arr) > MAX_ABS_PARAMETER
    small = np.zeros_like(big) if low is None else np.abs(arr) < low
    if big.any() or small.any():
        j = np.unravel_index(int(np.flatnonzero(big | small)[0]), arr.shape)
        where = path + "".join(f"[{int(i)}]" for i in j)
        bound = f"beyond +/-{MAX_ABS_PARAMETER:g}" if big[j] else f"below {low:g} in magnitude"
        raise ModelFileError(
            f"{where} is {float(arr[j])!r}, {bound}: with such a value the model cannot compute "
            f"probabilities (its distances overflow); {FIX}"
        )


def _check_covariances(cov, structure, path, k, d) -> np.ndarray:
    """Shape, symmetry and positive definiteness (the structure's own checks); returns the
    precision Cholesky factor."""
    _check_magnitude(cov, path)
    try:
        prec_chol = structure.check_covariances(cov, k, d, field=path)
    except ValueError as exc:
        raise ModelFileError(f"{exc}; {FIX}") from None
    if (np.abs(prec_chol) > MAX_PRECISION).any():
        raise ModelFileError(
            f"{path} has a variance too close to 0 (its precision exceeds {MAX_PRECISION:g}): "
            f"the model cannot compute probabilities with it; {FIX}"
        )
    return prec_chol


def _build(doc: dict) -> FittedModel:
    k, d = doc["n_components"], doc["n_features"]
    names = doc["feature_names"]
    if len(names) != d:
        raise ModelFileError(
            f"feature_names has {len(names)} name(s) but n_features={d}; give one name per "
            f"feature ({FIX})"
        )
    std_doc = doc["preprocessing"]["standardization"]
    standardizer = None
    if std_doc is not None:
        mean = _array(std_doc, "mean", "preprocessing.standardization.mean")
        scale = _array(std_doc, "scale", "preprocessing.standardization.scale")
        for arr, key in ((mean, "mean"), (scale, "scale")):
            _check_shape(arr, (d,), f"preprocessing.standardization.{key}", f"n_features={d}")
        _check_magnitude(mean, "preprocessing.standardization.mean")
        if (scale <= 0).any():
            j = int(np.flatnonzero(scale <= 0)[0])
            raise ModelFileError(
                f"preprocessing.standardization.scale[{j}] is {float(scale[j])!r}; scales must be > 0 "
                f"(a constant feature cannot be standardized): {FIX}"
            )
        _check_magnitude(scale, "preprocessing.standardization.scale", 1 / MAX_PRECISION)
        standardizer = Standardizer(mean, scale)

    structure = get_structure(doc["covariance_type"])
    mode = doc["mode"]
    tasks = doc.get("tasks")
    counts = doc.get("task_n_samples")

    def check_counts():
        if tasks is not None and counts is not None and len(counts) != len(tasks):
            raise ModelFileError(
                f"task_n_samples has {len(counts)} entries but there are {len(tasks)} tasks; "
                f"give one row count per task ({FIX})"
            )

    fit = doc["fit"]
    tol = _weight_tolerance(fit)
    if mode == "separate":
        check_counts()
        subs = doc["submodels"]
        missing = [t for t in tasks if t not in subs]
        if missing:
            raise ModelFileError(
                f"submodels has no entry for task {missing[0]!r}, which is listed in 'tasks'; "
                "a separate-mode file needs one mixture per task: add "
                f"submodels.{missing[0]} or remove the task from 'tasks' ({FIX})"
            )
        extra = [t for t in subs if t not in tasks]
        if extra:
            raise ModelFileError(
                f"submodels has an entry for {extra[0]!r}, which is not in 'tasks' "
                f"{tasks}; add it to 'tasks' or remove submodels.{extra[0]} ({FIX})"
            )
        submodels = {
            t: _build_mixture(
                subs[t], subs[t]["fit"], structure, k, d, names, None, f"submodels.{t}."
            )
            for t in tasks
        }
        return FittedModel(
            None,
            list(names),
            standardizer,
            dict(fit),
            None if counts is None else list(counts),
            submodels=submodels,
            submodel_metadata={t: dict(subs[t]["fit"]) for t in tasks},
        )

    shared = mode == "shared"
    gm = _build_mixture(
        doc,
        fit,
        structure,
        k,
        d,
        names,
        tuple(tasks) if shared else None,
        "",
        counts if shared else None,
    )
    check_counts()
    pooled = None
    if shared:
        pooled = _array(doc, "pooled_weights")
        _check_shape(pooled, (k,), "pooled_weights", f"n_components={k}")
        _check_weights(pooled, "pooled_weights", tol=tol)
        if counts is not None and sum(counts) > 0:
            expected = pooled_weights(gm.weights_, counts)
            if np.abs(expected - pooled).max() > tol:
                raise ModelFileError(
                    "pooled_weights is not the task_n_samples-weighted average of the task "
                    f"weights (tolerance {tol:g}); {FIX}"
                )
    return FittedModel(
        gm,
        list(names),
        standardizer,
        dict(fit),
        None if counts is None else list(counts),
        pooled,
        task_names=tuple(tasks) if mode == "pooled" else None,
    )


def _build_mixture(
    part, fit, structure, k, d, names, task_tuple, prefix, task_n_samples=None
) -> GaussianMixture:
    """One fitted GaussianMixture from the parameter fields of ``part`` (the document itself,
    or one entry of ``submodels``, whose paths start with ``prefix``)."""
    weights = _array(part, "weights", f"{prefix}weights")
    if task_tuple is not None:
        _check_shape(
            weights,
            (len(task_tuple), k),
            "weights",
            f"mode='shared' with {len(task_tuple)} task(s) and n_components={k}",
        )
    else:
        _check_shape(weights, (k,), f"{prefix}weights", f"n_components={k}")
    tol = _weight_tolerance(fit)
    _check_weights(weights, f"{prefix}weights", task_tuple, tol)
    means = _array(part, "means", f"{prefix}means")
    _check_shape(means, (k, d), f"{prefix}means", f"n_components={k} and n_features={d}")
    _check_magnitude(means, f"{prefix}means")
    covariances = _array(part, "covariances", f"{prefix}covariances")
    prec_chol = _check_covariances(covariances, structure, f"{prefix}covariances", k, d)
    if part.get("precisions_cholesky") is not None:
        stored = _array(part, "precisions_cholesky", f"{prefix}precisions_cholesky")
        _check_shape(
            stored, prec_chol.shape, f"{prefix}precisions_cholesky", "it must match covariances"
        )
        if not np.allclose(stored, prec_chol, rtol=1e-6, atol=0):
            raise ModelFileError(
                f"{prefix}precisions_cholesky does not match the Cholesky factor of the "
                f"covariances (relative tolerance 1e-6); remove the field to recompute it, or "
                f"{FIX}"
            )
        prec_chol = stored
    history = ()
    if part.get("history"):
        history = _history(
            part["history"], structure, k, d, task_tuple, fit["n_samples"], prefix, tol
        )
    events = ()
    if fit["converged"]:
        events = (Event("converged", None, "Converged (as recorded in the model file)."),)
    final = Snapshot(
        iteration=fit["n_iter"],
        phase="M",
        weights=frozen_array(weights),
        means=frozen_array(means),
        covariances=frozen_array(covariances),
        precisions_cholesky=frozen_array(prec_chol),
        covariance_type=structure.name,
        log_likelihood=fit["log_likelihood"],
        n_samples=fit["n_samples"],
        events=events,
        tasks=task_tuple,
    )
    params = {key: fit[key] for key in ESTIMATOR_SETTINGS if fit.get(key) is not None}
    prior = _prior(fit, d)
    if prior is not None:
        params["prior"] = prior
    gm = GaussianMixture.from_snapshot(
        final,
        history=history,
        converged=bool(fit["converged"]),
        n_iter=int(fit["n_iter"]),
        lower_bound=fit.get("lower_bound"),
        feature_names=names,
        task_n_samples=task_n_samples,
        **params,
    )
    gm.prior_ = prior
    return gm


def _prior(fit: dict, d: int):
    """The conjugate prior a fit used (``fit.prior``), or None for files without one."""
    fields = fit.get("prior")
    if fields is None:
        return None
    try:
        prior = ConjugatePrior.from_dict(fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"fit.prior is not a valid conjugate prior ({exc}); it needs shrinkage, mean, dof "
            f"and scale as written by gmmcore, or remove it ({FIX})"
        ) from None
    if prior.mean.size != d:
        raise ModelFileError(
            f"fit.prior.mean has {prior.mean.size} entries but the model has {d} features; "
            f"fix or remove fit.prior ({FIX})"
        )
    return prior


def _history(snaps, structure, k, d, tasks, n_samples, prefix, tol=WEIGHT_SUM_TOL) -> tuple:
    """Every history snapshot, checked as a stack: one array per field and one covariance
    check for all snapshots (a per-snapshot loop spent minutes on a long history). A stack
    that fails any check is checked again snapshot by snapshot, for the message naming the
    first bad one."""
    if len(snaps) > MAX_HISTORY_SNAPSHOTS:
        raise ModelFileError(
            f"{prefix}history has {len(snaps):,} snapshots, more than the "
            f"{MAX_HISTORY_SNAPSHOTS:,} gmmcore loads (max_iter = 10,000); export the model "
            "again without the history, or with a smaller max_iter"
        )
    stacked = _stacked_history(snaps, structure, k, d, tasks, tol)
    if stacked is None:
        return tuple(
            _history_snapshot(i, snap, structure, k, d, tasks, n_samples, prefix, tol)
            for i, snap in enumerate(snaps)
        )
    w, means, cov, prec_chol = stacked
    return tuple(
        _snapshot(snap, w[i], means[i], cov[i], prec_chol[i], structure, n_samples, tasks)
        for i, snap in enumerate(snaps)
    )


def _stacked_history(snaps, structure, k, d, tasks, tol=WEIGHT_SUM_TOL):
    """(weights, means, covariances, precisions Cholesky) stacked over snapshots, or None when
    a snapshot is malformed or the structure's covariances do not stack by component."""
    n = len(snaps)
    w_shape = (k,) if tasks is None else (len(tasks), k)
    cov_shape = structure.expected_shape(k, d)
    if structure.expected_shape(n * k, d) != (n * k, *cov_shape[1:]):
        return None  # e.g. tied: one matrix per snapshot, not one per component
    try:
        w = np.array([snap["weights"] for snap in snaps], dtype=np.float64)
        means = np.array([snap["means"] for snap in snaps], dtype=np.float64)
        cov = np.array([snap["covariances"] for snap in snaps], dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if w.shape != (n, *w_shape) or means.shape != (n, k, d) or cov.shape != (n, *cov_shape):
        return None
    if (w < 0).any() or (np.abs(w.sum(axis=-1) - 1.0) > tol / 2).any():
        return None
    if max(np.abs(means).max(), np.abs(cov).max()) > MAX_ABS_PARAMETER:
        return None
    try:
        prec_chol = structure.check_covariances(
            cov.reshape(n * k, *cov_shape[1:]), n * k, d, field="history"
        )
    except ValueError:
        return None
    if np.abs(prec_chol).max() > MAX_PRECISION:
        return None
    return w, means, cov, prec_chol.reshape(n, k, *prec_chol.shape[1:])


def _snapshot(s, w, means, cov, prec_chol, structure, n_samples, tasks) -> Snapshot:
    events = tuple(Event(e["kind"], e["component"], e["message"]) for e in s.get("events", []))
    return Snapshot(
        iteration=s["iteration"],
        phase=s["phase"],
        weights=frozen_array(w),
        means=frozen_array(means),
        covariances=frozen_array(cov),
        precisions_cholesky=frozen_array(prec_chol),
        covariance_type=structure.name,
        log_likelihood=s["log_likelihood"],
        n_samples=n_samples,
        events=events,
        tasks=tasks,
    )


def _history_snapshot(
    i, s, structure, k, d, tasks, n_samples, prefix="", tol=WEIGHT_SUM_TOL
) -> Snapshot:
    path = f"{prefix}history[{i}]"
    w = _array(s, "weights", f"{path}.weights")
    _check_shape(
        w,
        (k,) if tasks is None else (len(tasks), k),
        f"{path}.weights",
        "it must match the final weights",
    )
    _check_weights(w, f"{path}.weights", tol=tol)
    means = _array(s, "means", f"{path}.means")
    _check_shape(means, (k, d), f"{path}.means", f"n_components={k} and n_features={d}")
    _check_magnitude(means, f"{path}.means")
    cov = _array(s, "covariances", f"{path}.covariances")
    prec_chol = _check_covariances(cov, structure, f"{path}.covariances", k, d)
    return _snapshot(s, w, means, cov, prec_chol, structure, n_samples, tasks)


def from_json(text: str | bytes) -> FittedModel:
    """Load a model from the text of a model file.

    Raises
    ------
    ModelFileError
        Anything malformed, with a message naming the field, the problem and what to do.
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_MODEL_BYTES:
            raise ModelFileError(model_size_message(len(text)))
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ModelFileError(
                f"the model file is not UTF-8 text (bad byte at position {exc.start}); pass "
                "the JSON file written by gmmcore.save_model"
            ) from None
    if not isinstance(text, str):
        raise ModelFileError(
            f"from_json needs the file's text (str or bytes), got {type(text).__name__}"
        )
    if len(text) > MAX_MODEL_BYTES:
        raise ModelFileError(model_size_message(len(text)))
    if not text.strip():
        raise ModelFileError(
            "the model file is empty; pass the JSON file written by gmmcore.save_model"
        )
    try:
        doc = parse_json(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"the model file is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}; pass the JSON file written by gmmcore.save_model, unedited"
        ) from None
    except RecursionError:
        raise ModelFileError("the model file is nested too deeply to be a model file") from None
    found = find_nonfinite(doc)
    if found:
        raise ModelFileError(nonfinite_message(*found))
    check_header(doc)
    check_mode_fields(doc)
    error = first_schema_error(doc)
    if error is not None:
        raise ModelFileError(schema_message(error))
    return _build(doc)


def load_model(path) -> FittedModel:
    """Load a model file written by :func:`save_model`.

    Raises
    ------
    OSError
        The file cannot be read (e.g. it does not exist).
    ModelFileError
        The file is not a valid model file; the message names the field and the problem.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size > MAX_MODEL_BYTES:
        # Refused before reading: a 200 MB file would take minutes to parse and check.
        raise ModelFileError(f"{path}: {model_size_message(path.stat().st_size)}")
    data = path.read_bytes()
    try:
        return from_json(data)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
