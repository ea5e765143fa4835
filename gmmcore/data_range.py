"""Is new data on the scale a model was fitted on? A warning when most rows are far from every
component.

A mixture assigns every row to *some* component, however far the row is: a standardized model
given already-standardized data (or data in other units) puts every row in the component
whose tail is the least thin, with probability 1.0, and says nothing. Far is measured the way
the model sees the data: the squared Mahalanobis distance of a row (after the model's own
standardization) to its nearest component, against the chi-square quantile that a row of
that component exceeds with probability :data:`FAR_TAIL` (about 5.3 standard deviations in
2-D). When more than :data:`FAR_SHARE` of the rows are that far from every component, the
data is very likely on another scale, and :func:`warn_if_out_of_range` issues an
:class:`OutOfRangeWarning` (the command line prints its message on stderr, the dashboard shows
it with ``st.warning``).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import chi2

from .engine.covariance import get_structure

__all__ = [
    "FAR_SHARE",
    "FAR_TAIL",
    "OutOfRangeWarning",
    "far_from_components",
    "out_of_range_message",
    "warn_if_out_of_range",
]

# Probability that a row drawn from a component lies farther than the threshold from it.
FAR_TAIL = 1e-6
# Share of far rows above which the data is reported as out of the model's range.
FAR_SHARE = 0.5
# Rows per block of distances (block x K floats), so K = 10,000 stays within tens of MB.
_BLOCK_FLOATS = 2_000_000


class OutOfRangeWarning(UserWarning):
    """Most rows are far from every component of the model: probably the wrong units or a
    second standardization."""


def _mixtures(model):
    if model.mixture is not None:
        return [model.mixture]
    return list(model.submodels.values())


def far_from_components(model, X) -> np.ndarray:
    """Whether each row of ``X`` (raw, as given to ``model.predict``) is far from every
    component of ``model`` (of every task's mixture, for a separate-mode model).

    Parameters
    ----------
    model : FittedModel
    X : array-like or DataFrame of shape (n_samples, n_features)

    Returns
    -------
    far : ndarray of bool of shape (n_samples,)
    """
    Z = model.transform(X)
    n, d = Z.shape
    structure = get_structure(model.covariance_type)
    threshold = chi2.isf(FAR_TAIL, d)
    far = np.ones(n, dtype=bool)
    for gm in _mixtures(model):
        snap = gm.snapshot_
        k = snap.means.shape[0]
        step = max(1, _BLOCK_FLOATS // max(1, k * d))
        for start in range(0, n, step):
            block = slice(start, start + step)
            with np.errstate(over="ignore", invalid="ignore"):
                maha = structure.mahalanobis(Z[block], snap.means, snap.precisions_cholesky)
            nearest = np.nanmin(np.where(np.isnan(maha), np.inf, maha), axis=1)
            far[block] &= ~(nearest <= threshold)
    return far


def out_of_range_message(model, X) -> str | None:
    """A sentence saying how many rows are far from every component, or None when at most
    :data:`FAR_SHARE` of them are."""
    far = far_from_components(model, X)
    if far.size == 0 or far.mean() <= FAR_SHARE:
        return None
    sd = float(np.sqrt(chi2.isf(FAR_TAIL, int(model.n_features))))
    return (
        f"{int(far.sum())} of {far.size} rows are more than {sd:.1f} standard deviations from "
        "every component of the model, so their labels say little; check that the data is in "
        "the units the model was fitted on"
        + (
            " (the model standardizes its input itself: give it raw, unscaled columns)"
            if model.standardizer is not None
            else ""
        )
    )


def warn_if_out_of_range(model, X, stacklevel: int = 2) -> str | None:
    """Issue an :class:`OutOfRangeWarning` when :func:`out_of_range_message` has something to
    say; returns the message (or None)."""
    message = out_of_range_message(model, X)
    if message is not None:
        warnings.warn(message, OutOfRangeWarning, stacklevel=stacklevel + 1)
    return message
