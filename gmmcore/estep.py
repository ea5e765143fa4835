"""The E-step: log-densities, responsibilities and sufficient statistics in one pass.

The data are visited in row blocks ("chunks") so that the (chunk, K) temporaries stay in
cache and memory stays bounded whatever N is. Everything is vectorized over the rows of a
chunk; the only Python loops are over chunks and over tasks.

All functions here are unchecked kernels: they trust their inputs (validated once at the
public boundary, in :mod:`gmmcore._validation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .covariance import CovarianceStructure

__all__ = ["SufficientStatistics", "log_gaussian", "estimate_log_resp", "e_step", "accumulate"]

LOG_2PI = np.log(2.0 * np.pi)

# Rows per block: (chunk, K) and (chunk, K*D) temporaries of a few MB at most stay in cache.
DEFAULT_CHUNK_ROWS = 8192


def _chunk_rows(n_components: int, n_features: int) -> int:
    # Aim at ~2 MB for the widest temporary, (rows, K*D) float64.
    width = max(n_components * max(n_features, 4), 1)
    return int(np.clip(262_144 // width, 512, 65_536))


@dataclass
class SufficientStatistics:
    """What the M-step needs, summed over rows.

    Attributes
    ----------
    S0 : ndarray of shape (n_tasks, K)
        Summed responsibilities per task and component.
    S1 : ndarray of shape (K, D)
        Responsibility-weighted sums of x.
    S2 : ndarray
        Second moments as the covariance structure asks (see :mod:`gmmcore.covariance`);
        ``None`` for structures whose statistic does not depend on the responsibilities.
    log_likelihood : float
        Total log-likelihood of the data under the parameters used.
    """

    S0: np.ndarray
    S1: np.ndarray
    S2: np.ndarray | None
    log_likelihood: float


def _safe_log(weights: np.ndarray) -> np.ndarray:
    """log(weights) with exact zeros mapped to -inf without a warning."""
    with np.errstate(divide="ignore"):
        return np.log(weights)


def log_gaussian(X, means, prec_chol, structure: CovarianceStructure) -> np.ndarray:
    """Log N(x_i | mu_k, Sigma_k) for every row and component, shape (n, K)."""
    n_features = X.shape[1]
    maha = structure.mahalanobis(X, means, prec_chol)
    log_det = structure.log_det_precisions_cholesky(prec_chol, n_features)
    maha *= -0.5
    maha += log_det - 0.5 * n_features * LOG_2PI
    return maha


def _normalize(wlp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-place log-sum-exp over components: returns (log_norm (n,), resp (n, K))."""
    top = wlp.max(axis=1)
    # A row whose every weighted log-density is -inf cannot happen for finite parameters with
    # at least one positive weight; guard anyway so nothing turns into NaN.
    top[~np.isfinite(top)] = 0.0
    wlp -= top[:, None]
    np.exp(wlp, out=wlp)
    total = wlp.sum(axis=1)
    wlp /= total[:, None]
    log_norm = np.log(total)
    log_norm += top
    return log_norm, wlp


def _tri_indices(n_features: int):
    return np.triu_indices(n_features)


def _outer_features(X: np.ndarray, iu) -> np.ndarray:
    """Upper-triangular entries of x x^T per row, shape (n, D(D+1)/2)."""
    return X[:, iu[0]] * X[:, iu[1]]


def _unpack_tri(tri: np.ndarray, n_features: int, iu) -> np.ndarray:
    k = tri.shape[0]
    out = np.empty((k, n_features, n_features))
    out[:, iu[0], iu[1]] = tri
    out[:, iu[1], iu[0]] = tri
    return out


def _blocks(task_slices, n_rows_per_chunk):
    for task, (start, stop) in enumerate(task_slices):
        for lo in range(start, stop, n_rows_per_chunk):
            yield task, lo, min(lo + n_rows_per_chunk, stop)


class _Accumulator:
    """Sums S0, S1, S2 over blocks of rows with given responsibilities."""

    def __init__(self, n_tasks, n_components, n_features, second_moment):
        self.S0 = np.zeros((n_tasks, n_components))
        self.S1 = np.zeros((n_components, n_features))
        self.second_moment = second_moment
        self.iu = _tri_indices(n_features) if second_moment == "outer" else None
        if second_moment == "outer":
            self.S2 = np.zeros((n_components, len(self.iu[0])))
        elif second_moment == "square":
            self.S2 = np.zeros((n_components, n_features))
        else:
            self.S2 = None

    def add(self, task, Xb, resp):
        self.S0[task] += resp.sum(axis=0)
        self.S1 += resp.T @ Xb
        if self.second_moment == "outer":
            self.S2 += resp.T @ _outer_features(Xb, self.iu)
        elif self.second_moment == "square":
            self.S2 += resp.T @ (Xb * Xb)

    def finish(self, log_likelihood, n_features):
        S2 = self.S2
        if self.second_moment == "outer":
            S2 = _unpack_tri(S2, n_features, self.iu)
        return SufficientStatistics(self.S0, self.S1, S2, float(log_likelihood))


def e_step(
    X: np.ndarray,
    task_slices: list[tuple[int, int]],
    log_weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    structure: CovarianceStructure,
    chunk_rows: int | None = None,
) -> SufficientStatistics:
    """One pass over the data: log-likelihood and sufficient statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows grouped by task; ``task_slices[t] = (start, stop)`` are task t's rows.
    log_weights : ndarray of shape (n_tasks, K)
        Log mixing weights per task (``-inf`` allowed for a weight that is exactly zero).
    means, prec_chol : current parameters (see :mod:`gmmcore.covariance` for shapes).
    """
    n_features = X.shape[1]
    n_components = means.shape[0]
    rows = chunk_rows or _chunk_rows(n_components, n_features)
    acc = _Accumulator(len(task_slices), n_components, n_features, structure.second_moment)
    total = 0.0
    for task, lo, hi in _blocks(task_slices, rows):
        Xb = X[lo:hi]
        wlp = log_gaussian(Xb, means, prec_chol, structure)
        wlp += log_weights[task]
        log_norm, resp = _normalize(wlp)
        total += log_norm.sum()
        acc.add(task, Xb, resp)
    return acc.finish(total, n_features)


def accumulate(
    X: np.ndarray,
    task_slices: list[tuple[int, int]],
    resp: np.ndarray,
    structure: CovarianceStructure,
) -> SufficientStatistics:
    """Statistics for given responsibilities (used by initialization); log_likelihood is 0."""
    n_features = X.shape[1]
    acc = _Accumulator(len(task_slices), resp.shape[1], n_features, structure.second_moment)
    rows = _chunk_rows(resp.shape[1], n_features)
    for task, lo, hi in _blocks(task_slices, rows):
        acc.add(task, X[lo:hi], resp[lo:hi])
    return acc.finish(0.0, n_features)


def estimate_log_resp(
    X: np.ndarray,
    log_weights_rows: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    structure: CovarianceStructure,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and log-responsibilities, shapes (n,) and (n, K).

    ``log_weights_rows`` is (K,) or (n, K) (per-row weights, e.g. by task).
    """
    n, n_features = X.shape
    k = means.shape[0]
    rows = _chunk_rows(k, n_features)
    log_norm = np.empty(n)
    log_resp = np.empty((n, k))
    lw = np.broadcast_to(log_weights_rows, (n, k)) if log_weights_rows.ndim == 2 else None
    for lo in range(0, n, rows):
        hi = min(lo + rows, n)
        wlp = log_gaussian(X[lo:hi], means, prec_chol, structure)
        wlp += log_weights_rows if lw is None else lw[lo:hi]
        top = wlp.max(axis=1)
        top[~np.isfinite(top)] = 0.0
        with np.errstate(divide="ignore"):
            ln = np.log(np.exp(wlp - top[:, None]).sum(axis=1)) + top
        log_norm[lo:hi] = ln
        log_resp[lo:hi] = wlp - ln[:, None]
    return log_norm, log_resp
