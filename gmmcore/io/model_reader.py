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
from ..engine.weights import pooled_weights
from ..mixture import GaussianMixture
from ..model import FittedModel
from ..preprocessing import Standardizer
from .schema import (
    FIX,
    ModelFileError,
    check_header,
    check_mode_fields,
    find_nonfinite,
    first_schema_error,
    parse_json,
    schema_message,
)

__all__ = ["WEIGHT_SUM_TOL", "ModelFileError", "from_json", "load_model"]

# Tolerance of the weight checks (documented in docs/model-format.md).
WEIGHT_SUM_TOL = 1e-9


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


def _check_weights(w, path, tasks=None) -> None:
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
        if abs(total - 1.0) > WEIGHT_SUM_TOL:
            raise ModelFileError(
                f"{where} sums to {total!r}, not 1 (tolerance {WEIGHT_SUM_TOL:g}); weights "
                f"must sum to 1: renormalize them ({FIX})"
            )


def _check_covariances(cov, structure, path, k, d) -> np.ndarray:
    """Shape, symmetry and positive definiteness (the structure's own checks); returns the
    precision Cholesky factor."""
    try:
        return structure.check_covariances(cov, k, d, field=path)
    except ValueError as exc:
        raise ModelFileError(f"{exc}; {FIX}") from None


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
        if (scale <= 0).any():
            j = int(np.flatnonzero(scale <= 0)[0])
            raise ModelFileError(
                f"preprocessing.standardization.scale[{j}] is {float(scale[j])!r}; scales must be > 0 "
                f"(a constant feature cannot be standardized): {FIX}"
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
                f"give one row count per task ({FIX})"
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
        _check_weights(pooled, "pooled_weights")
        if counts is not None and sum(counts) > 0:
            expected = pooled_weights(gm.weights_, counts)
            if np.abs(expected - pooled).max() > WEIGHT_SUM_TOL:
                raise ModelFileError(
                    "pooled_weights is not the task_n_samples-weighted average of the task "
                    f"weights (tolerance {WEIGHT_SUM_TOL:g}); {FIX}"
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
    _check_weights(weights, f"{prefix}weights", task_tuple)
    means = _array(part, "means", f"{prefix}means")
    _check_shape(means, (k, d), f"{prefix}means", f"n_components={k} and n_features={d}")
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
        history = tuple(
            _history_snapshot(i, s, structure, k, d, task_tuple, fit["n_samples"], prefix)
            for i, s in enumerate(part["history"])
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
    params = {
        key: fit[key]
        for key in ("tol", "reg_covar", "max_iter", "n_init", "init_params", "random_state")
        if fit.get(key) is not None
    }
    return GaussianMixture.from_snapshot(
        final,
        history=history,
        converged=bool(fit["converged"]),
        n_iter=int(fit["n_iter"]),
        lower_bound=fit.get("lower_bound"),
        feature_names=names,
        task_n_samples=task_n_samples,
        **params,
    )


def _history_snapshot(i, s, structure, k, d, tasks, n_samples, prefix="") -> Snapshot:
    path = f"{prefix}history[{i}]"
    w = _array(s, "weights", f"{path}.weights")
    _check_shape(
        w,
        (k,) if tasks is None else (len(tasks), k),
        f"{path}.weights",
        "it must match the final weights",
    )
    _check_weights(w, f"{path}.weights")
    means = _array(s, "means", f"{path}.means")
    _check_shape(means, (k, d), f"{path}.means", f"n_components={k} and n_features={d}")
    cov = _array(s, "covariances", f"{path}.covariances")
    prec_chol = _check_covariances(cov, structure, f"{path}.covariances", k, d)
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
        raise ModelFileError(
            f"from_json needs the file's text (str or bytes), got {type(text).__name__}"
        )
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
        path, raw = found
        raise ModelFileError(
            f"field '{path}' is {raw}, but a model file holds finite numbers only (no NaN or "
            f"infinity); {FIX}"
        )
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
    data = Path(path).read_bytes()
    try:
        return from_json(data)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
