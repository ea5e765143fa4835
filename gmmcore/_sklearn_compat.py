"""What :class:`gmmcore.GaussianMixture` needs to honour scikit-learn's estimator contract
without importing scikit-learn: its input checks and messages (feature names, feature counts,
1-D and sparse input, initial parameters), the estimator tags (built only when scikit-learn
asks for them), cloning, and the ``verbose`` progress printer.

Messages start with scikit-learn's wording, so code and tests that match scikit-learn's
messages keep working, and go on to say what to do.
"""

from __future__ import annotations

import copy
import sys
import warnings
from time import perf_counter

import numpy as np

__all__ = [
    "VerboseReporter",
    "check_features",
    "check_init_parameters",
    "clone_estimator",
    "feature_names_of",
    "prevalidate_X",
    "sklearn_tags",
]


class _FeatureNamesError(TypeError, ValueError):
    """Column names of mixed types: a TypeError as in scikit-learn, a ValueError as every
    other bad input to gmmcore."""


class _NonNumericError(TypeError, ValueError):
    """Values that are not numbers: a TypeError as numpy's (what scikit-learn lets through),
    a ValueError as every other bad input to gmmcore."""


# -- input -------------------------------------------------------------------------------------
def feature_names_of(X) -> np.ndarray | None:
    """The feature names of X as scikit-learn sees them: a DataFrame's column names when they
    are all strings, else None. Object array of shape (n_features,).

    Raises ValueError (also a TypeError, as scikit-learn's) for a mix of string and
    non-string column names.
    """
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape") or len(columns) == 0:
        return None
    names = np.asarray(list(columns), dtype=object)
    types = sorted({type(v).__qualname__ for v in names})
    if len(types) > 1 and "str" in types:
        raise _FeatureNamesError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. Convert them "
            "all to strings (X.columns = X.columns.astype(str)) to have them stored and "
            "checked, or to a non-string type to have them ignored."
        )
    return names if types == ["str"] else None


def _is_sparse(X) -> bool:
    # scipy.sparse matrices and arrays, without importing scipy.sparse.
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "toarray")


def prevalidate_X(X, estimator_name: str, *, min_samples: int = 1) -> None:
    """The checks scikit-learn's ``validate_data`` words in its own way, before gmmcore's full
    check (:func:`gmmcore.engine.validation.check_X`): sparse input, 1-D input, too few rows.

    Raises
    ------
    ValueError
    """
    if _is_sparse(X):
        raise ValueError(
            f"{estimator_name} does not accept sparse input (got {type(X).__name__}); "
            "convert it with X.toarray() first."
        )
    shape = np.shape(X) if hasattr(X, "shape") else None
    if shape is None:
        try:
            shape = np.shape(np.asarray(X, dtype=object))
        except (TypeError, ValueError):  # ragged lists: gmmcore's check_X words it
            return
    if len(shape) == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead (length {shape[0]}). Reshape your data "
            "either using X.reshape(-1, 1) if your data has a single feature or "
            "X.reshape(1, -1) if it contains a single sample."
        )
    if len(shape) == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead: {X!r}. Reshape your data to shape "
            "(n_samples, n_features)."
        )
    if len(shape) != 2:
        return
    for axis, what in ((1, "feature(s)"), (0, "sample(s)")):
        if shape[axis] == 0:
            raise ValueError(
                f"Found array with 0 {what} (shape={tuple(shape)}) while a minimum of 1 is "
                f"required by {estimator_name}: X is empty; it needs at least one row and one "
                "feature."
            )
    if 0 < shape[0] < min_samples:
        raise ValueError(
            f"Found array with {shape[0]} sample(s) (shape={tuple(shape)}) while a minimum of "
            f"{min_samples} is required by {estimator_name}; fit on more rows."
        )
    if isinstance(X, np.ndarray) and X.dtype.kind == "O":
        try:
            np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise _NonNumericError(
                f"X contains non-numeric values ({err}); pass numbers only (select numeric "
                "columns or convert them first)."
            ) from None


def check_features(estimator, X) -> None:
    """At prediction time, as scikit-learn: X's feature names against ``feature_names_in_``
    (ValueError when they differ in names or order; a UserWarning when only one of fit and X
    had names) and its feature count against ``n_features_in_`` (ValueError)."""
    name = type(estimator).__name__
    fitted = getattr(estimator, "feature_names_in_", None)
    given = feature_names_of(X)
    if given is not None and fitted is None:
        # stacklevel 4: the user's call of predict (-> _model_for -> check_features).
        warnings.warn(
            f"X has feature names, but {name} was fitted without feature names", stacklevel=4
        )
    elif given is None and fitted is not None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with feature names",
            stacklevel=4,
        )
    elif given is not None and (len(given) != len(fitted) or np.any(given != fitted)):
        unexpected = sorted(set(given) - set(fitted))
        missing = sorted(set(fitted) - set(given))
        message = "The feature names should match those that were passed during fit.\n"
        if unexpected:
            message += "Feature names unseen at fit time:\n" + _bullets(unexpected)
        if missing:
            message += "Feature names seen at fit time, yet now missing:\n" + _bullets(missing)
        if not unexpected and not missing:
            message += "Feature names must be in the same order as they were in fit.\n"
        message += f"Pass the columns {list(fitted)}, in this order."
        raise ValueError(message)
    prevalidate_X(X, name)
    n_features = getattr(estimator, "n_features_in_", None)
    shape = np.shape(X) if hasattr(X, "shape") else None
    if shape is not None and len(shape) == 2 and n_features is not None:
        if shape[1] != n_features:
            raise ValueError(
                f"X has {shape[1]} features, but {name} is expecting {n_features} features as "
                f"input (the model was fitted on {n_features}; pass the same columns, in the "
                "same order, as for fitting)."
            )


def _bullets(names, limit=5) -> str:
    lines = [f"- {n}\n" for n in names[:limit]]
    return "".join(lines) + ("- ...\n" if len(names) > limit else "")


def check_init_parameters(weights_init, means_init, precisions_init, structure, k, d):
    """Check user-given initial parameters in scikit-learn's words followed by gmmcore's own
    (what :func:`gmmcore.iter_em` says to every other caller).

    Parameters
    ----------
    weights_init : array-like of shape (K,), or (n_tasks, K) for a multi-task fit, or None
    means_init : array-like of shape (K, D), or None
    precisions_init : array-like, shape per covariance type, or None
    structure : CovarianceStructure
    k, d : int
        Components and features.

    Raises
    ------
    ValueError
    """
    if weights_init is not None:
        # As scikit-learn: float32 weights need only sum to 1 within float32's precision.
        atol = 1e-6 if np.asarray(weights_init).dtype == np.float32 else 1e-8
        _check_weights(np.asarray(weights_init, dtype=np.float64), k, atol)
    if means_init is not None:
        m = np.asarray(means_init, dtype=np.float64)
        if m.shape != (k, d):
            raise ValueError(
                f"The parameter 'means' should have the shape of {(k, d)}, but got {m.shape} "
                f"(means_init must have shape {(k, d)}, got {m.shape}: one mean per component, "
                "one value per feature)."
            )
    if precisions_init is not None:
        p = np.asarray(precisions_init, dtype=np.float64)
        label = f"'{structure.name} precision'"
        shape = structure.expected_shape(k, d)
        try:
            structure.check_precisions(p, k, d)
        except ValueError as err:
            if p.shape != shape:
                raise ValueError(
                    f"The parameter {label} should have the shape of {shape}, but got "
                    f"{p.shape} ({err})"
                ) from None
            need = "positive" if structure.diagonal else "symmetric, positive-definite"
            raise ValueError(f"The parameter {label} should be {need} ({err})") from None


def _check_weights(w: np.ndarray, k: int, atol: float = 1e-8) -> None:
    if w.ndim not in (1, 2) or w.shape[-1] != k:
        raise ValueError(
            f"The parameter 'weights' should have the shape of ({k},), but got {w.shape} "
            f"(weights_init must have shape ({k},): one weight per component, or (n_tasks, {k}) "
            "for a fit with tasks)."
        )
    if not np.isfinite(w).all():
        raise ValueError(
            "The parameter 'weights' should be finite (weights_init must be finite and "
            "non-negative, and sum to 1)."
        )
    if w.size and (w.min() < 0 or w.max() > 1):
        # scikit-learn's message names the minimum "max value" and vice versa; kept as is.
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{w.min():.5f}, min value {w.max():.5f} (weights_init must be finite and "
            "non-negative, and sum to 1)."
        )
    if not np.allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol):
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{w.sum():.5f} (weights_init must sum to 1 (per task); normalize it first)."
        )


# -- scikit-learn's protocols --------------------------------------------------------------------
def sklearn_tags(estimator):
    """scikit-learn's ``Tags`` for a density estimator (what ``sklearn.mixture`` reports).

    Only scikit-learn calls ``__sklearn_tags__`` (from ``sklearn.utils``), so its classes are
    taken from the loaded module: gmmcore never imports scikit-learn.
    """
    utils = sys.modules.get("sklearn.utils")
    if utils is None:
        raise RuntimeError("__sklearn_tags__ is scikit-learn's protocol; call it via sklearn.")
    Tags, TargetTags = utils.Tags, utils.TargetTags
    return Tags(
        estimator_type="density_estimator",
        target_tags=TargetTags(required=False),
        transformer_tags=None,
        regressor_tags=None,
        classifier_tags=None,
    )


def clone_estimator(estimator):
    """An unfitted copy with deep copies of the constructor parameters (``sklearn.clone``)."""
    params = estimator.get_params(deep=False)
    return type(estimator)(**{k: copy.deepcopy(v) for k, v in params.items()})


# -- verbose -----------------------------------------------------------------------------------
class VerboseReporter:
    """scikit-learn's ``verbose`` output, printed from the snapshots of ``iter_em`` (the
    engine never prints; the estimator feeds this its snapshots).

    ``verbose=1``: "Initialization i", "  Iteration t" every ``verbose_interval`` iterations,
    and whether the run converged. ``verbose>=2`` adds the time and the change of the lower
    bound per iteration and the final lower bound.
    """

    def __init__(self, verbose: int, verbose_interval: int):
        self.verbose = int(verbose or 0)
        self.interval = max(int(verbose_interval or 1), 1)
        self._t_init = self._t_iter = 0.0

    def start(self, index: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {index}")
            self._t_init = self._t_iter = perf_counter()

    def iteration(self, n_iter: int, change: float) -> None:
        if self.verbose < 1 or n_iter % self.interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = perf_counter()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self._t_iter:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self._t_iter = now

    def end(self, lower_bound: float, converged: bool) -> None:
        state = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {state}.")
        elif self.verbose >= 2:
            lapse = perf_counter() - self._t_init
            print(
                f"Initialization {state}. time lapse {lapse:.5f}s\t lower bound {lower_bound:.5f}."
            )
