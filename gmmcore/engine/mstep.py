"""The M-step from summed sufficient statistics, shared by every EM driver (in memory, block
by block, online): the new weights, means and covariances (the structure's M-step, or the
posterior mode under a prior), the check that the one-pass covariances did not lose their
precision to cancellation with the two-pass fallback when they did, the float32 rounding of
the parameters, and the check of user-given starting arrays.
"""

from __future__ import annotations

import numpy as np

from .covariance import NK_EPS, CovarianceStructure
from .estep import estimate_log_resp
from .weights import safe_log

__all__ = [
    "Parameters",
    "check_init_arrays",
    "exact_covariances",
    "m_step_from_statistics",
    "precision_lost",
    "resp_of_parameters",
    "rounded",
]


def check_init_arrays(weights_init, means_init, precisions_init, structure, k, d, n_tasks):
    """User-given starting arrays checked (ValueError naming the one that is wrong) and
    converted: weights (n_tasks, K) summing to 1 per task, means (K, D), precision factors
    (the structure's shape); None stays None."""
    if weights_init is not None:
        # float32 weights sum to 1 within float32's precision (scikit-learn's 1e-6).
        atol = 1e-6 if np.asarray(weights_init).dtype == np.float32 else 1e-8
        w = np.asarray(weights_init, dtype=np.float64)
        expected = (k,) if n_tasks == 1 and w.ndim == 1 else (n_tasks, k)
        if w.shape != expected:
            raise ValueError(f"weights_init must have shape {expected}, got {w.shape}.")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights_init must be finite and non-negative.")
        if not np.allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol):
            raise ValueError("weights_init must sum to 1 (per task); normalize it first.")
        weights_init = w.reshape(n_tasks, k)
    if means_init is not None:
        m = np.asarray(means_init, dtype=np.float64)
        if m.shape != (k, d):
            raise ValueError(f"means_init must have shape {(k, d)}, got {m.shape}.")
        if not np.isfinite(m).all():
            raise ValueError("means_init contains NaN or infinity.")
        means_init = m
    if precisions_init is not None:
        precisions_init = structure.check_precisions(precisions_init, k, d)
    return weights_init, means_init, precisions_init


class Parameters:
    """Mutable working parameters, in centered coordinates."""

    __slots__ = ("weights", "means", "covariances", "prec_chol")

    def __init__(self, weights, means, covariances, prec_chol):
        self.weights, self.means, self.covariances, self.prec_chol = (
            weights,
            means,
            covariances,
            prec_chol,
        )


def m_step_from_statistics(
    stats,
    S2_fixed,
    structure: CovarianceStructure,
    reg_covar,
    previous=None,
    exact=None,
    prior=None,
):
    """One M-step from summed statistics.

    Parameters
    ----------
    stats : SufficientStatistics
        ``S0`` (n_tasks, K), ``S1`` (K, D), ``S2`` as the structure's second moment.
    S2_fixed : ndarray of shape (D, D) or None
        ``X^T X`` for structures whose M-step reads the global second moment (tied, EII, ...).
    structure : CovarianceStructure
    reg_covar : float
    previous : ndarray, optional
        The previous covariances (warm start of the iterative M-steps).
    exact : callable, optional
        ``exact(nk, means, previous) -> (covariances, raw_min)``, the two-pass recomputation
        (:func:`exact_covariances`), called only when :func:`precision_lost` finds a component.
    prior : ConjugatePrior, optional
        Then the posterior mode (:mod:`gmmcore.engine.prior`), without the fallback.

    Returns
    -------
    params : Parameters
        weights (n_tasks, K), means (K, D), covariances and their precision factors.
    nk : ndarray of shape (K,)
        Summed responsibilities (plus NK_EPS).
    raw_min : ndarray of shape (K,) (or (1,) for a common covariance)
        Smallest variance of each covariance before ``reg_covar``.
    """
    nk = stats.S0.sum(axis=0) + NK_EPS
    means = stats.S1 / nk[:, None]
    per_task = stats.S0 + NK_EPS
    weights = per_task / per_task.sum(axis=1, keepdims=True)
    common = structure.second_moment == "global_outer"
    S2 = S2_fixed if common else stats.S2
    if prior is not None:  # posterior mode under a conjugate prior, see engine/prior.py
        # (no two-pass fallback: the prior's scale keeps every covariance well above rounding)
        means, covariances, raw_min = prior.m_step(structure, nk, means, S2, reg_covar, previous)
        exact = None
    else:
        covariances, raw_min = structure.m_step(nk, means, S2, reg_covar, previous)
    if exact is not None:
        lost = precision_lost(nk, S2, raw_min, reg_covar, common)
        if lost.size:
            covariances, raw_min = exact(nk, means, previous)
    prec_chol = structure.precisions_cholesky(covariances, reg_covar)
    return Parameters(weights, means, covariances, prec_chol), nk, raw_min


def rounded(p: Parameters, shift, dtype) -> Parameters:
    """For a float32 fit, the parameters rounded to float32 (means in data coordinates, i.e.
    ``shift`` added), held in float64: the snapshots hold exactly the parameters that the
    next E-step uses, and a model read back from the file predicts as the fitted one. The
    M-step itself runs in float64 (K x D x D numbers: no cost). float64 fits: ``p``."""
    if dtype != np.float32:
        return p

    def f32(a):
        return np.asarray(a, dtype=np.float32).astype(np.float64)

    # f32(x) - shift is exact in float64: two float32 values of nearby magnitude.
    means = f32(p.means + shift) - shift
    return Parameters(f32(p.weights), means, f32(p.covariances), f32(p.prec_chol))


# The one-pass covariance S2/nk - mu mu^T loses about eps * |S2/nk| to cancellation (for tied,
# (S2 - sum_k nk mu_k mu_k^T) / n loses eps * |S2| / n). That is harmless unless a component
# is tiny next to its distance from the data mean (held up by reg_covar, or an outlier's);
# then the affected covariances are recomputed with the two-pass formula (as scikit-learn
# always does). The bar is 1e-6 relative to the smallest raw variance. Measured: with the data
# centred on their median and the tied covariance covered too, 3 points copied 1e5 times and a
# 1e12 outlier never lower the log-likelihood (worst dip 1.3e-15 relative) at 1e-6; a bar of
# 1e-9 also caught ordinary 10-D data with one thin direction (smallest variance ~1e-4) and
# ran the fallback's extra pass over the data at nearly every iteration (2x the time per
# iteration at 1e4 x 10-D x K=5, bench/run.py).
_CANCELLATION_SAFETY = 64 * np.finfo(np.float64).eps
_ACCEPTABLE_RELATIVE_ERROR = 1e-6


_NONE_LOST = np.empty(0, dtype=np.intp)
_NONE_LOST.flags.writeable = False


def precision_lost(nk, S2, raw_min, reg_covar, common=False) -> np.ndarray:
    """Components (``[0]`` for a common covariance) whose one-pass covariance may be off by
    more than _ACCEPTABLE_RELATIVE_ERROR, shape (n_lost,)."""
    if common:
        magnitude = np.array([np.diagonal(S2).max() / nk.sum()])
    else:
        second = np.diagonal(S2, axis1=1, axis2=2) if S2.ndim == 3 else S2
        # The usual case first, in three reductions: even the largest second moment over the
        # smallest n_k errs by less than the bar at the smallest scale (this runs every
        # M-step; the per-component test below took ~7 us on small data).
        worst = _CANCELLATION_SAFETY * float(second.max()) / float(nk.min())
        if worst <= _ACCEPTABLE_RELATIVE_ERROR * (max(float(raw_min.min()), 0.0) + reg_covar):
            return _NONE_LOST
        magnitude = second.max(axis=1) / nk
    error = _CANCELLATION_SAFETY * magnitude
    scale = np.maximum(raw_min, 0.0) + reg_covar
    lost = error > _ACCEPTABLE_RELATIVE_ERROR * scale
    return np.flatnonzero(lost) if lost.any() else _NONE_LOST


def exact_covariances(Xc, resp_of, structure: CovarianceStructure, reg_covar):
    """A closure recomputing the covariances from the two-pass scatter
    sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T of *every* component (or the common one), with the
    responsibilities ``resp_of()`` of shape (n_samples, K), asked for only when needed.

    All components and one M-step, never one component alone: in mclust's models the
    components share their volume, shape or orientation (VEV, EVE, ...), so the M-step of one
    component depends on the scatter of all; rerunning it for one component by itself gave
    that component a free covariance outside the model (VEV lost its equal shape). The
    scatter is passed as second moments about zero means, which every structure's M-step
    turns back into the same scatter (``S2 - n_k 0 0^T``); ``previous`` warm-starts the
    iterative M-steps as in the one-pass call.
    """

    def exact(nk, means, previous):
        resp = resp_of()
        k, d = means.shape
        zeros = np.zeros((k, d))
        if structure.second_moment == "global_outer":
            S2c = np.zeros((d, d))
            for j in range(k):
                diff = Xc - means[j]
                S2c += (resp[:, j, None] * diff).T @ diff
        elif structure.second_moment == "outer":
            S2c = np.empty((k, d, d))
            for j in range(k):  # K products over the rows; never a loop over samples
                diff = Xc - means[j]
                S2c[j] = (resp[:, j, None] * diff).T @ diff
        else:
            S2c = np.empty((k, d))
            for j in range(k):
                diff = Xc - means[j]
                S2c[j] = resp[:, j] @ (diff * diff)
        return structure.m_step(nk, zeros, S2c, reg_covar, previous)

    return exact


def resp_of_parameters(Xc, task_slices, old: Parameters, structure: CovarianceStructure):
    """The responsibilities of parameters ``old`` as a deferred call (see exact_covariances)."""

    def resp_of():
        counts = [b - a for a, b in task_slices]
        lw = np.repeat(safe_log(old.weights), counts, axis=0)
        _, log_resp = estimate_log_resp(Xc, lw, old.means, old.prec_chol, structure)
        return np.exp(log_resp)

    return resp_of
