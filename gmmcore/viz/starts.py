"""Starting parameters a teacher chooses: Bishop's PRML figure 9.8 and a manual start.

Both return ``iter_em``/``GaussianMixture``'s ``weights_init``, ``means_init`` and
``precisions_init`` for a covariance type, so the explorer's stepper starts exactly there
instead of at an initialization method's random start.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BISHOP_FIG98_MEANS",
    "BISHOP_FIG98_SD",
    "bishop_fig98_start",
    "manual_start",
    "spherical_precisions",
]

# Bishop, Pattern Recognition and Machine Learning (2006), section 9.2.2, figure 9.8: EM on the
# Old Faithful data rescaled to zero mean and unit standard deviation (as for k-means in figure
# 9.1), K = 2, started from two small circles upper left and lower right of the cloud. The
# reproduction in probml's pmtk3 (mixGaussDemoFaithful.m) uses means (-1.5, 1.5), (1.5, -1.5)
# plus random noise and covariances 0.1 I. The noise matters: from the exactly antisymmetric
# start EM sits near a saddle for dozens of iterations. We move one mean by 0.5 instead of
# adding noise (deterministic), which gives the book's sequence: both components still
# overlapping at L = 1 and 2, clearly apart at L = 5, converged by L = 20.
BISHOP_FIG98_MEANS = ((-1.5, 1.0), (1.5, -1.5))
BISHOP_FIG98_SD = 0.1**0.5


def spherical_precisions(n_components: int, n_features: int, sd: float, covariance_type: str):
    """Precisions of K round components of standard deviation ``sd``, in the shape
    ``covariance_type`` expects (None for a structure other than full/tied/diag/spherical:
    then only the means and weights are set)."""
    if not sd > 0:
        raise ValueError(f"the starting spread must be positive, got {sd}.")
    p = 1.0 / sd**2
    shapes = {
        "full": lambda: np.broadcast_to(
            p * np.eye(n_features), (n_components,) + (n_features,) * 2
        ),
        "tied": lambda: p * np.eye(n_features),
        "diag": lambda: np.full((n_components, n_features), p),
        "spherical": lambda: np.full(n_components, p),
    }
    make = shapes.get(covariance_type)
    return None if make is None else np.array(make(), dtype=np.float64)


def manual_start(means, sd: float, covariance_type: str = "full") -> dict:
    """Equal weights, the given means and round components of standard deviation ``sd``.

    means : array-like of shape (K, D)

    Returns a dict of ``weights_init`` (K,), ``means_init`` (K, D) and, for the built-in
    covariance types, ``precisions_init``.
    """
    m = np.asarray(means, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 1 or not np.isfinite(m).all():
        raise ValueError("the starting means must be a K x D table of finite numbers.")
    k, d = m.shape
    out = {"weights_init": np.full(k, 1.0 / k), "means_init": m}
    prec = spherical_precisions(k, d, float(sd), covariance_type)
    if prec is not None:
        out["precisions_init"] = prec
    return out


def bishop_fig98_start(covariance_type: str = "full") -> dict:
    """The start of PRML figure 9.8 (standardized Old Faithful, K = 2), see ``manual_start``.

    >>> start = bishop_fig98_start()
    >>> start["means_init"].tolist(), start["precisions_init"].shape
    ([[-1.5, 1.0], [1.5, -1.5]], (2, 2, 2))
    """
    return manual_start(BISHOP_FIG98_MEANS, BISHOP_FIG98_SD, covariance_type)
