"""The E-step: log-densities, responsibilities and sufficient statistics in one pass.

The data are visited in row blocks ("chunks") so that the per-chunk buffers stay in cache
and memory stays bounded whatever N is; the buffers are allocated once per call and reused
across chunks. Everything is vectorized over the rows of a chunk; the only Python loops are
over chunks and over tasks. The per-chunk arithmetic (a transposed feature block, GEMMs for
the log-densities and for ``[S0 | S1 | S2]``) lives in :mod:`gmmcore.engine.kernels`.

All functions here are unchecked kernels: they trust their inputs (validated once at the
public boundary, in :mod:`gmmcore.engine.validation`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

from .covariance import CovarianceStructure
from .kernels import FeatureLayout, serial_blas

__all__ = ["SufficientStatistics", "accumulate", "e_step", "estimate_log_resp", "log_gaussian"]

LOG_2PI = np.log(2.0 * np.pi)

# Bytes of per-chunk buffers: 2 MiB (this CPU's L2) was fastest; see bench/README.md.
CHUNK_BYTES = int(os.environ.get("GMMCORE_CHUNK_BYTES", 2 * 1024 * 1024))


def _serial_blas(n_chunks: int):
    # One small chunk never reaches BLAS's threading threshold: skip the (~12 us) switch.
    return serial_blas() if n_chunks >= 2 else contextlib.nullcontext()


def _chunk_rows(n_components: int, n_features: int, buffer_width: int | None = None) -> int:
    """Rows per chunk so that the per-chunk buffers (about ``buffer_width + 3 K`` float64
    per row) take ~CHUNK_BYTES: small enough for the L2 cache, large enough that the
    per-chunk Python overhead (~20 NumPy calls) is amortized."""
    if buffer_width is None:
        buffer_width = n_components * max(n_features, 4)
    width = max(buffer_width + 3 * n_components, 1)
    return int(np.clip(CHUNK_BYTES // (8 * width), 256, 65_536))


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


def log_gaussian(X, means, prec_chol, structure: CovarianceStructure) -> np.ndarray:
    """Log N(x_i | mu_k, Sigma_k) for every row and component, shape (n, K)."""
    n_features = X.shape[1]
    maha = structure.mahalanobis(X, means, prec_chol)
    log_det = structure.log_det_precisions_cholesky(prec_chol, n_features)
    maha *= -0.5
    maha += log_det - 0.5 * n_features * LOG_2PI
    return maha


def _normalize_into(wT, top, tot) -> float:
    """Turn weighted log-densities (K, m) into responsibilities, in place.

    ``top`` and ``tot`` are (m,) scratch buffers; on return ``tot`` holds the per-row
    log-likelihood. Returns the chunk's summed log-likelihood.
    """
    np.maximum.reduce(wT, axis=0, out=top)
    top_sum = top.sum()
    if not np.isfinite(top_sum):
        # A row whose every weighted log-density is -inf cannot happen for finite parameters
        # with at least one positive weight; guard anyway.
        top[~np.isfinite(top)] = 0.0
        top_sum = top.sum()
    wT -= top
    np.exp(wT, out=wT)
    np.add.reduce(wT, axis=0, out=tot)
    wT /= tot
    np.log(tot, out=tot)
    chunk_ll = tot.sum() + top_sum
    tot += top
    return chunk_ll


class _Workspace:
    """Buffers for one chunk size, allocated once per E-step and reused across chunks."""

    __slots__ = ("rows", "FT", "work", "wT", "top", "tot")

    def __init__(self, layout: FeatureLayout, rows: int, n_components: int, work_rows: int):
        self.rows = rows
        self.FT = layout.new_block(rows)
        self.work = np.empty((work_rows, rows)) if work_rows else None
        self.wT = np.empty((n_components, rows))
        self.top = np.empty(rows)
        self.tot = np.empty(rows)


class _Workspaces:
    """The full-size workspace, kept; tails (the last chunk of each task) get a fresh, smaller
    one, so that many tasks never hold more than two workspaces at a time."""

    def __init__(self, layout, n_components, work_rows):
        self.args = (layout, n_components, work_rows)
        self.full = None

    def __getitem__(self, rows):
        layout, k, w = self.args
        if self.full is not None and self.full.rows == rows:
            return self.full
        ws = _Workspace(layout, rows, k, w)
        if self.full is None or rows > self.full.rows:
            self.full = ws
        return ws


def _blocks(task_slices, n_rows_per_chunk):
    for task, (start, stop) in enumerate(task_slices):
        for lo in range(start, stop, n_rows_per_chunk):
            yield task, lo, min(lo + n_rows_per_chunk, stop)


def _finish(layout: FeatureLayout, T, S0, log_likelihood) -> SufficientStatistics:
    _, S1, S2 = layout.split(T)
    return SufficientStatistics(S0, S1.copy(), S2, float(log_likelihood))


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
    chunk_rows : int, optional
        Rows per block (default: sized so the block's buffers stay in cache).

    Notes
    -----
    Per chunk: the feature block ``F = [1 | x | q(x)]`` is filled once, the structure's
    plan turns it into weighted log-densities (GEMMs), the log-sum-exp runs in place, and
    ``resp.T @ F`` adds the chunk's ``[S0 | S1 | S2]`` (one GEMM). All buffers are allocated
    once per call and reused across chunks: no temporary grows with N, none is (N, K, D).
    """
    n, n_features = X.shape
    k = means.shape[0]
    layout = FeatureLayout(n_features, structure.second_moment)
    plan = structure.estep_plan(means, prec_chol)
    wr = plan.work_rows()
    rows = chunk_rows or _chunk_rows(k, n_features, layout.width + wr)
    rows = max(1, min(rows, n))
    spaces = _Workspaces(layout, k, wr)
    G = np.empty((k, layout.width))
    T = np.zeros((k, layout.width))
    S0 = np.zeros((len(task_slices), k))
    total = 0.0
    with _serial_blas(-(-n // rows)):
        for task, lo, hi in _blocks(task_slices, rows):
            ws = spaces[hi - lo]
            FT = layout.fill(ws.FT, X[lo:hi])
            r = plan(FT, log_weights[task], ws.wT, ws.work)
            total += _normalize_into(r, ws.top, ws.tot)
            np.matmul(r, FT.T, out=G)
            T += G
            S0[task] += G[:, 0]
    return _finish(layout, T, S0, total)


def accumulate(
    X: np.ndarray,
    task_slices: list[tuple[int, int]],
    resp: np.ndarray,
    structure: CovarianceStructure,
) -> SufficientStatistics:
    """Statistics for given responsibilities (used by initialization); log_likelihood is 0."""
    n, n_features = X.shape
    k = resp.shape[1]
    layout = FeatureLayout(n_features, structure.second_moment)
    rows = max(1, min(_chunk_rows(k, n_features, layout.width), n))
    spaces = _Workspaces(layout, k, 0)
    G = np.empty((k, layout.width))
    T = np.zeros((k, layout.width))
    S0 = np.zeros((len(task_slices), k))
    with _serial_blas(-(-n // rows)):
        for task, lo, hi in _blocks(task_slices, rows):
            FT = layout.fill(spaces[hi - lo].FT, X[lo:hi])
            np.matmul(resp[lo:hi].T, FT.T, out=G)
            T += G
            S0[task] += G[:, 0]
    return _finish(layout, T, S0, 0.0)


def estimate_log_resp(
    X: np.ndarray,
    log_weights_rows: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    structure: CovarianceStructure,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and log-responsibilities, shapes (n,) and (n, K).

    ``log_weights_rows`` is (K,) or (n, K) (per-row weights, e.g. by task).

    Each chunk is centered on the mean of the heaviest component before any quadratic form
    (see :mod:`gmmcore.engine.kernels`, "Cancellation"): the raw coordinates may sit at any
    offset (Unix timestamps, 1.7e9), and expanding ``(x - mu)^2`` there loses everything.
    """
    n, n_features = X.shape
    k = means.shape[0]
    heaviest = log_weights_rows if log_weights_rows.ndim == 1 else log_weights_rows.max(axis=0)
    center = means[int(np.argmax(heaviest))].copy()
    plan = structure.estep_plan(means - center, prec_chol)
    # Only the linear (diag/spherical) plans read the second-moment rows.
    layout = FeatureLayout(n_features, structure.second_moment if plan.needs_q else "none")
    wr = plan.work_rows()
    rows = max(1, min(_chunk_rows(k, n_features, layout.width + wr + k), n))
    spaces = _Workspaces(layout, k, wr)
    log_norm = np.empty(n)
    log_resp = np.empty((n, k))
    per_row = log_weights_rows.ndim == 2
    zeros = np.zeros(k)
    with _serial_blas(-(-n // rows)):
        for lo in range(0, n, rows):
            hi = min(lo + rows, n)
            ws = spaces[hi - lo]
            FT = layout.fill(ws.FT, X[lo:hi], center)
            wT = plan(FT, zeros if per_row else log_weights_rows, ws.wT, ws.work)
            if per_row:
                wT += log_weights_rows[lo:hi].T
            t = np.maximum.reduce(wT, axis=0, out=ws.top)
            t[~np.isfinite(t)] = 0.0
            # log_resp = (wlp - top) - log(sum exp(wlp - top)): subtracting top first keeps
            # the rounding relative to the shifted values (~1e-16), not to |wlp| (which is
            # ~1e7 next to a collapsed component).
            wT -= t
            e = ws.work if ws.work is not None and ws.work.shape[0] >= k else np.empty_like(wT)
            e = e[:k]
            np.exp(wT, out=e)
            ln = ws.tot
            np.add.reduce(e, axis=0, out=ln)
            with np.errstate(divide="ignore"):
                np.log(ln, out=ln)
            wT -= ln
            log_resp[lo:hi] = wT.T
            ln += t
            log_norm[lo:hi] = ln
    return log_norm, log_resp
