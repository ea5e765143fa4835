"""Validation at the public boundary: every user mistake becomes a ValueError that says
what is wrong and what to do. Kernels behind this boundary trust their inputs."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = [
    "FLOAT32_MAX_ABS_VALUE",
    "MAX_ABS_VALUE",
    "DeferredRandomState",
    "check_X",
    "check_n_components",
    "check_positive",
    "check_random_state",
    "check_tasks",
    "task_labels",
    "task_labels_as_str",
]


# The largest |x| the engine accepts. Its squares (1e200) summed over any number of rows and
# divided by a variance as small as the default reg_covar (1e-6) stay far inside float64
# (max ~1.8e308), and so do k-means' squared distances; above ~1.3e154 a single square
# overflows (measured: 1e300 segfaulted scipy's k-means, 1e153 gave NaN parameters). Values
# beyond it are refused, not rescaled: the fitted covariances are squares of the data's scale
# and could not be reported in float64 anyway.
MAX_ABS_VALUE = 1e100
# float32 data are kept float32 (``keep_float32``) only up to this |x|: the E-step squares
# whitened differences in float32 (max ~3.4e38), and (2e15)^2 divided by the default
# reg_covar is 4e36. Beyond it the data are fitted in float64, as before float32 support.
FLOAT32_MAX_ABS_VALUE = 1e15


def _column_name(X, j):
    cols = getattr(X, "columns", None)
    return f"column {j} ({cols[j]!r})" if cols is not None else f"column {j}"


def _is_complex(X) -> bool:
    try:
        return np.iscomplexobj(np.asarray(X))
    except (TypeError, ValueError):  # ragged or odd input: the float conversion says why
        return False


def _is_float32(X) -> bool:
    dtypes = getattr(X, "dtypes", None)  # a DataFrame: float32 when every column is
    if dtypes is not None and not isinstance(X, np.ndarray):
        try:
            return len(dtypes) > 0 and all(np.dtype(t) == np.float32 for t in dtypes)
        except TypeError:  # extension dtypes (nullable Float32, ...): no numpy dtype
            return False
    return getattr(X, "dtype", None) == np.float32


def _check_range(arr, X, name) -> None:
    """ValueError for NaN, infinity or a value beyond MAX_ABS_VALUE in ``arr``."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        kind = "NaN" if np.isnan(arr).any() else "infinity"
        raise ValueError(
            f"{name} contains {kind} in {bad_rows.size} row(s) (first at row {bad_rows[0]}); "
            "drop or impute missing and infinite values first."
        )
    i, j = np.argwhere(np.abs(arr) > MAX_ABS_VALUE)[0]
    raise ValueError(
        f"{name} {_column_name(X, j)} has {arr[i, j]:.3g} at row {i}: values up to "
        f"{MAX_ABS_VALUE:g} in absolute value are supported (their squares must fit in "
        "float64); rescale your data, e.g. divide the column by a power of 10."
    )


def check_X(
    X,
    *,
    n_components: int | None = None,
    n_features: int | None = None,
    allow_constant: bool = True,
    keep_float32: bool = False,
    name: str = "X",
) -> np.ndarray:
    """Return X as a C-contiguous float64 array of shape (n_samples, n_features).

    With ``keep_float32=True`` float32 input (an array, or a DataFrame whose columns are all
    float32) stays float32, as scikit-learn's ``dtype=[np.float64, np.float32]``: the fit and
    the predictions then run in float32 (see :mod:`gmmcore.engine.estep`). float32 values
    beyond :data:`FLOAT32_MAX_ABS_VALUE` in absolute value are returned as float64.

    Raises ValueError for non-numeric or complex values, NaN/inf, values beyond
    :data:`MAX_ABS_VALUE` in absolute value, wrong dimensionality, too few rows for
    ``n_components``, a feature count other than ``n_features`` and, with
    ``allow_constant=False``, constant columns. Constant columns are accepted by default, as
    scikit-learn does: ``reg_covar`` keeps every covariance positive definite. (A table
    reader or a standardizer that cannot use them asks for ``allow_constant=False``.)
    """
    cols = getattr(X, "columns", None)
    if cols is not None:  # pandas DataFrame: name the offending column
        complex_cols = [c for c in cols if np.iscomplexobj(np.asarray(X[c]))]
        if complex_cols:
            raise ValueError(
                # scikit-learn's words first, so code written for it recognizes the error.
                f"Complex data not supported: {name} column(s) "
                f"{', '.join(map(repr, complex_cols))} hold complex numbers; "
                "a Gaussian mixture is fitted to real data: pass the real part (or the real "
                "and imaginary parts as two columns)."
            )
        non_numeric = [
            c
            for c in cols
            if not np.issubdtype(np.asarray(X[c]).dtype, np.number)
            and np.asarray(X[c]).dtype != bool
        ]
        if non_numeric:
            raise ValueError(
                f"{name} has non-numeric column(s) {', '.join(map(repr, non_numeric))}; "
                "select numeric feature columns only."
            )
    if cols is None and _is_complex(X):
        # np.asarray(..., dtype=float64) would drop the imaginary part with only a warning.
        raise ValueError(
            f"Complex data not supported: {name} holds complex numbers; a Gaussian mixture is "
            "fitted to real data: pass "
            "the real part (X.real), or the real and imaginary parts as separate columns."
        )
    dtype = np.float32 if keep_float32 and _is_float32(X) else np.float64
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} contains non-numeric values; pass numbers only (select numeric columns "
            "or convert them first)."
        ) from None
    if arr.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got a 1-D array of length "
            f"{arr.shape[0]}; for a single feature use X.reshape(-1, 1)."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {arr.shape}."
        )
    n, d = arr.shape
    if n == 0 or d == 0:
        raise ValueError(
            f"{name} is empty (shape {arr.shape}); it needs at least one row and one feature."
        )
    # min and max propagate NaN and need no temporary: the detailed checks run only on failure.
    # As Python floats: compared with a float32 array, 1e100 would be cast to float32 (inf).
    low, high = float(arr.min()), float(arr.max())
    if not (-MAX_ABS_VALUE <= low and high <= MAX_ABS_VALUE):
        _check_range(arr, X, name)
    if dtype == np.float32 and not (-FLOAT32_MAX_ABS_VALUE <= low <= high <= FLOAT32_MAX_ABS_VALUE):
        arr = arr.astype(np.float64)
    if n_features is not None and d != n_features:
        raise ValueError(
            f"{name} has {d} feature(s) but the model was fitted on {n_features}; "
            "pass the same columns, in the same order, as for fitting."
        )
    if n_components is not None and n < n_components:
        raise ValueError(
            f"{name} has {n} row(s), fewer than n_components={n_components}; "
            "use fewer components or more data."
        )
    if not allow_constant and n > 1:
        const = np.flatnonzero(np.ptp(arr, axis=0) == 0)
        if const.size:
            j = int(const[0])
            raise ValueError(
                f"{name} {_column_name(X, j)} is constant (every value is {arr[0, j]:g}): it "
                "carries no information and makes every covariance singular; drop that column."
            )
    return np.ascontiguousarray(arr)


def check_n_components(n_components) -> int:
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise ValueError(f"n_components must be a whole number >= 1, got {n_components!r}.")
    if n_components < 1:
        raise ValueError(
            f"n_components must be >= 1, got {n_components}; use at least one component."
        )
    return int(n_components)


def check_positive(value, name: str, *, allow_zero: bool = False, integer: bool = False):
    ok_type = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type) or not np.isfinite(value):
        kind = "a whole number" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}.")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return value


class DeferredRandomState:
    """``np.random.RandomState(seed)``, created when first used (any attribute: ``randint``,
    ``rand``, ``get_state``, ...), then delegated to.

    Seeding the Mersenne Twister costs ~80 us, a fifth of the fixed cost of a model-selection
    cell on small data, and most of those fits never draw a number (mclust's hierarchical
    start up to 2,000 rows is deterministic). Copies (``copy.deepcopy``) are RandomStates in
    the same state; the numbers drawn are the RandomState's own.
    """

    __slots__ = ("_random_state", "_seed")

    def __init__(self, seed: int):
        self._seed = seed
        self._random_state = None

    def __getattr__(self, name):
        # Only for names the proxy itself lacks, i.e. the RandomState's. Special names are not
        # delegated: copy and pickle then copy the proxy's two fields (the seed, and the
        # RandomState once made), which is the same state.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if self._random_state is None:
            self._random_state = np.random.RandomState(self._seed)
        return getattr(self._random_state, name)


def check_random_state(seed) -> np.random.RandomState:
    """A RandomState from None, an int or a RandomState (scikit-learn's convention); for an
    int, a :class:`DeferredRandomState` that seeds itself on first use."""
    if seed is None:
        return np.random.RandomState()
    if isinstance(seed, (np.random.RandomState, DeferredRandomState)):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if not 0 <= seed < 2**32:
            raise ValueError(f"random_state must be between 0 and 2**32 - 1, got {seed}.")
        return DeferredRandomState(int(seed))
    raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {seed!r}.")


def task_labels_as_str(tasks) -> np.ndarray:
    """Task labels as strings (task names are always strings: 1 and "1" are one task)."""
    labels = np.asarray(tasks, dtype=object)
    if labels.ndim != 1:
        raise ValueError(f"tasks must be a 1-D sequence of labels, got shape {labels.shape}.")
    missing = pd.isna(labels)
    if missing.any():
        raise ValueError(
            f"tasks has {int(missing.sum())} missing label(s) (first at row "
            f"{int(np.flatnonzero(missing)[0])}); give every row a task label or drop those rows."
        )
    return labels.astype(str)


def task_labels(tasks, n_samples: int) -> np.ndarray:
    """One task label per row, as strings: object array of shape (n_samples,).

    Labels are compared as strings everywhere (``1`` and ``"1"`` are the same task), so a model
    fitted on a column read from CSV predicts on the same column read from JSON. A single
    column of shape (n_samples, 1) is accepted.
    """
    if tasks is None:
        raise ValueError("tasks is required: pass one task label per row (e.g. df['island']).")
    labels = np.asarray(tasks, dtype=object)
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"tasks must have one label per row of X: X has {n_samples} row(s) but tasks has "
            f"shape {np.shape(tasks)}; pass the task column of the same rows."
        )
    return task_labels_as_str(labels).astype(object)


def check_tasks(tasks, n_samples: int) -> tuple[np.ndarray, list[str]]:
    """Task labels -> (integer codes of shape (n_samples,), sorted list of task names)."""
    labels = task_labels_as_str(tasks)
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"tasks must be one label per row: expected {n_samples} labels, got {labels.shape[0]}."
        )
    names, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.intp), [str(n) for n in names]
