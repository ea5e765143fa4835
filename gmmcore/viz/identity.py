"""Stable component identity: the colour slot of each component of a fit, matched on the means
to a reference fit (the best restart, or the fit shown before K changed), so one colour keeps
naming one cluster when the user opens another restart or changes K.

EM numbers its components in the order of their start, so two restarts (or K = 3 after K = 2)
that find the same clusters number them differently; matching them by an assignment on the
distances between the means (Hungarian, ``scipy.optimize.linear_sum_assignment``) gives each
cluster the slot (palette colour) it had before. The component numbers stay the engine's, the
same on every page and in the model file; only the colours follow the clusters.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["data_scale", "identity_slots", "match_components", "valid_slots"]


def data_scale(X) -> np.ndarray:
    """Each feature's standard deviation: the ``scale`` that matches means in units of the
    data's spread."""
    return np.asarray(X, dtype=np.float64).std(axis=0)


def identity_slots(n_components: int) -> np.ndarray:
    """Slot j for component j (a fit with nothing to match: its own colours)."""
    return np.arange(n_components)


def valid_slots(slots, n_components: int) -> bool:
    """Whether ``slots`` can colour ``n_components`` components: distinct non-negative
    integers, one per component (e.g. slots read back from a link)."""
    try:
        a = np.asarray(slots)
    except (TypeError, ValueError):
        return False
    return (
        a.shape == (n_components,)
        and np.issubdtype(a.dtype, np.integer)
        and bool((a >= 0).all())
        and len(set(a.tolist())) == n_components
    )


def match_components(reference_means, means, reference_slots=None, *, scale=None) -> np.ndarray:
    """The colour slot of each component of ``means``, matched to ``reference_means``.

    Each component takes the slot of the reference component its mean is assigned to (the
    assignment minimizing the total squared distance between matched means, per feature divided
    by ``scale``). With more components than the reference, the unmatched ones take the lowest
    slots no reference component uses; with fewer, the slots of the unmatched reference
    components go unused.

    Parameters
    ----------
    reference_means : array-like of shape (n_reference, n_features)
    means : array-like of shape (n_components, n_features)
    reference_slots : array-like of int of shape (n_reference,), optional
        The reference's own slots (default: 0 .. n_reference - 1).
    scale : array-like of shape (n_features,), optional
        Per-feature spread (e.g. the data's standard deviations), so a feature in large units
        does not decide the matching alone.

    Returns
    -------
    ndarray of int of shape (n_components,), distinct.

    Examples
    --------
    >>> match_components([[0.0, 0.0], [5.0, 5.0]], [[5.1, 4.9], [0.2, -0.1]]).tolist()
    [1, 0]
    >>> match_components([[0.0, 0.0], [5.0, 5.0]], [[5.0, 5.0], [9.0, 9.0], [0.0, 0.0]]).tolist()
    [1, 2, 0]
    """
    ref = np.atleast_2d(np.asarray(reference_means, dtype=np.float64))
    new = np.atleast_2d(np.asarray(means, dtype=np.float64))
    ref_slots = (
        identity_slots(ref.shape[0])
        if reference_slots is None
        else np.asarray(reference_slots, dtype=int)
    )
    if ref.shape[1] != new.shape[1]:
        raise ValueError(
            f"the means have {new.shape[1]} features and the reference's {ref.shape[1]}; "
            "components can only be matched in the same space."
        )
    if scale is not None:
        s = np.asarray(scale, dtype=np.float64)
        s = np.where(np.isfinite(s) & (s > 0), s, 1.0)
        ref, new = ref / s, new / s
    cost = ((new[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
    # A NaN mean (a collapsed component) must not break the assignment: it matches last.
    cost = np.where(np.isfinite(cost), cost, np.finfo(np.float64).max / (cost.size + 1))
    rows, cols = linear_sum_assignment(cost)
    slots = np.full(new.shape[0], -1, dtype=int)
    slots[rows] = ref_slots[cols]
    used = set(slots[rows].tolist())
    free = (s for s in range(new.shape[0] + ref_slots.size + 1) if s not in used)
    for j in np.flatnonzero(slots < 0):
        slots[j] = next(free)
    return slots
