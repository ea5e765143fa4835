"""The E-step: log-densities, responsibilities and sufficient statistics in one pass.

The data are visited in row blocks ("chunks") so that the per-chunk buffers stay in cache
and memory stays bounded whatever N is; the buffers are allocated once per call and reused
across chunks. Everything is vectorized over the rows of a chunk; the only Python loops are
over chunks and over tasks. The per-chunk arithmetic (a transposed feature block, GEMMs for
the log-densities and for ``[S0 | S1 | S2]``) lives in :mod:`gmmcore.engine.kernels`.

All functions here are unchecked kernels: they trust their inputs (validated once at the
public boundary, in :mod:`gmmcore.engine.validation`).

float32 data (``X.dtype == float32``, kept by ``check_X(..., keep_float32=True)``): the
log-densities (the plan's GEMMs), the log-sum-exp and the responsibilities are computed in
float32, as are the outputs of :func:`estimate_log_resp` for a float32 model; the data are
never copied to float64. Accumulated in float64, with measured reasons:

* the sufficient statistics. The chunk's feature block is filled in float64 from the float32
  rows (products of two float32 values are exact in float64) and ``resp @ F`` runs in
  float64. Summed in float32 instead (one SGEMM over a 65,536-row chunk), S2 erred by 4e-7
  to 8e-6 relative (measured), and the M-step's ``S2/nk - mu mu^T`` multiplies that by
  ``|mu|^2 / variance``: 7e-4 relative in the variance of a component 40 standard deviations
  from the data's median. float64 statistics keep the M-step's cancellation bar
  (mstep.precision_lost, 1e-9 relative) meaningful for float32 fits too, and the responsibilities'
  own float32 rounding cannot cancel: they only reweight the rows of a weighted covariance;
* the log-likelihood: each chunk's sum of per-row values in float64. NumPy's pairwise float32
  sum erred by only ~6e-9 relative over a 65,536-row chunk (measured), but the float64 sum
  costs nothing measurable (one pass over (m,) values per chunk).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from dataclasses import dataclass

import numpy as np

from . import compiled
from .covariance import CovarianceStructure
from .kernels import FeatureLayout, serial_blas
from .workspace import SPARES, Workspace, Workspaces, config_key, fill, give, take

__all__ = [
    "SufficientStatistics",
    "accumulate",
    "compute_dtype",
    "e_step",
    "effective_n_jobs",
    "estimate_log_resp",
    "gram",
    "log_gaussian",
]

LOG_2PI = np.log(2.0 * np.pi)

# Bytes of per-chunk buffers: 2 MiB (this CPU's L2) was fastest for narrow layouts (tied,
# diag, spherical and D = 2: 8 MiB made them 2-11% slower at 1e5 rows); see bench/README.md.
CHUNK_BYTES = int(os.environ.get("GMMCORE_CHUNK_BYTES", 2 * 1024 * 1024))
# ... but at least this many rows per chunk (as long as its buffers stay within
# CHUNK_MAX_BYTES): every chunk costs ~30 NumPy calls (~30 us, and as many GIL hand-offs
# between E-step threads) whatever its size. Wide layouts hit it: full covariances at D = 10
# got 1,542-row chunks at K = 8, whose fixed costs held n_jobs=2 to ~1.45x of n_jobs=1 at
# 1e6 x 10-D x K=8; with >= 6,144 rows it reaches 1.63-1.66x (E-step) and 1.70x (iteration),
# and n_jobs=1 is 13% faster (medians, bench/scaling-results.md).
CHUNK_MIN_ROWS = int(os.environ.get("GMMCORE_CHUNK_MIN_ROWS", 6144))
CHUNK_MAX_BYTES = 16 * 1024 * 1024


_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)


def compute_dtype(*arrays) -> np.dtype:
    """float32 when every array is float32, else float64: the precision of the E-step's
    float work (scikit-learn's promotion: a float32 model scores float64 rows in float64)."""
    low = all(np.asarray(a).dtype == np.float32 for a in arrays)
    return np.dtype(np.float32 if low else np.float64)


def gram(X: np.ndarray) -> np.ndarray:
    """``X^T X`` in float64, shape (n_features, n_features); float32 rows are summed in
    float64 chunk by chunk (an SGEMM over N rows loses ~sqrt(N) eps32 relative)."""
    if X.dtype == np.float64:
        return X.T @ X
    d = X.shape[1]
    out = np.zeros((d, d))
    rows = max(1, CHUNK_BYTES // (8 * d))
    for lo in range(0, X.shape[0], rows):
        block = X[lo : lo + rows].astype(np.float64)
        out += block.T @ block
    return out


# OpenBLAS runs a GEMM of M x N x K multiply-adds on one thread up to 4 x 65,536 of them
# (GEMM_MULTITHREAD_THRESHOLD x SMP_THRESHOLD_MIN in interface/gemm.c).
_BLAS_THREADED_ABOVE = 2**18


def _serial_blas(n_chunks: int, gemm_size: int = 0):
    """serial_blas() unless the data are one chunk whose largest GEMM (``gemm_size``
    multiply-adds, see :func:`_largest_gemm`) stays under BLAS's own threading threshold:
    then the switch (~12-50 us) is skipped, which matters for tiny data (Old Faithful's
    E-step takes ~30 us). One chunk above it must switch too: at 1e4 x 10-D x K=5 (tied, one
    10,000-row chunk) threaded OpenBLAS took 13 ms of CPU per E-step against 0.45 ms on one
    thread (its threads spin; measured on a loaded machine)."""
    if n_chunks >= 2 or gemm_size > _BLAS_THREADED_ABOVE:
        return serial_blas()
    return contextlib.nullcontext()


def _largest_gemm(rows: int, n_components: int, width: int, work_rows: int, d: int) -> int:
    """Multiply-adds of a chunk's largest GEMM: the statistics' (K x width) or a plan's
    (at most ``work_rows`` x (1 + D): full's K*D whitened rows, tied's D), times ``rows``."""
    return rows * max(n_components * width, work_rows * (d + 1))


def _chunk_rows(
    n_components: int, n_features: int, buffer_width: int | None = None, extra_bytes: int = 0
) -> int:
    """Rows per chunk so that the per-chunk buffers (about ``buffer_width + 3 K`` float64
    per row, plus ``extra_bytes`` per row) take ~CHUNK_BYTES (the L2 cache), but at least
    CHUNK_MIN_ROWS rows unless that would take more than CHUNK_MAX_BYTES: large enough that
    the per-chunk Python overhead (~30 NumPy calls) is amortized."""
    if buffer_width is None:
        buffer_width = n_components * max(n_features, 4)
    width = max(buffer_width + 3 * n_components, 1)
    per_row = 8 * width + extra_bytes
    rows = max(CHUNK_BYTES // per_row, min(CHUNK_MIN_ROWS, CHUNK_MAX_BYTES // per_row))
    return min(max(int(rows), 256), 65_536)  # np.clip on scalars costs ~10 us a call


def _balanced(rows: int, n: int) -> int:
    """Rows per chunk for ``n`` rows: as many chunks as ``rows`` asks, of equal size (no
    small last chunk with a workspace of its own). Depends on ``n`` only, never on n_jobs."""
    return -(-n // -(-n // rows))


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

    ``top`` and ``tot`` are (m,) scratch buffers. Returns the chunk's summed log-likelihood
    (the per-row values are not formed: nothing reads them).
    """
    np.maximum.reduce(wT, axis=0, out=top)
    # Sums in float64 whatever the dtype (see the module docstring); for float64 blocks this
    # is the plain sum.
    top_sum = float(top.sum(dtype=np.float64))
    if not math.isfinite(top_sum):
        # A row whose every weighted log-density is -inf cannot happen for finite parameters
        # with at least one positive weight; guard anyway.
        top[~np.isfinite(top)] = 0.0
        top_sum = top.sum(dtype=np.float64)
    wT -= top
    np.exp(wT, out=wT)
    np.add.reduce(wT, axis=0, out=tot)
    wT /= tot
    np.log(tot, out=tot)
    return tot.sum(dtype=np.float64) + top_sum


def _blocks(task_slices, n_rows_per_chunk):
    for task, (start, stop) in enumerate(task_slices):
        for lo in range(start, stop, n_rows_per_chunk):
            yield task, lo, min(lo + n_rows_per_chunk, stop)


def _finish(layout: FeatureLayout, T, S0, log_likelihood) -> SufficientStatistics:
    _, S1, S2 = layout.split(T)  # copies: the statistics never share memory with T
    return SufficientStatistics(S0, S1, S2, float(log_likelihood))


def effective_n_jobs(n_jobs) -> int:
    """Threads for ``n_jobs`` in scikit-learn's meaning: None -> 1, -1 -> every core the
    process may use, -2 -> all but one, ...; ValueError for 0 or a non-integer."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a nonzero whole number, got {n_jobs!r}.")
    if n_jobs > 0:
        return int(n_jobs)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores + 1 + int(n_jobs))


CHUNKS_PER_TASK = 8
GROUP_ROWS = 12_288


def _grouped(items, size):
    group = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _ordered_map(fn, items, n_jobs: int):
    """``fn(item)`` for every item, yielded in the items' order; with ``n_jobs > 1`` on a pool
    of that many threads, at most ``4 n_jobs`` results pending (bounded memory for any N; a
    window of several per thread keeps the others busy while the oldest one is late).

    The chunk kernels spend their time in BLAS and NumPy loops, which release the GIL, so
    threads scale (measured in bench/scaling.py); callers keep BLAS single-threaded
    (serial_blas) so that the threads do not fight BLAS's own."""
    if n_jobs <= 1:
        for item in items:
            yield fn(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="gmmcore-estep") as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 4 * n_jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def e_step(
    X: np.ndarray,
    task_slices: list[tuple[int, int]],
    log_weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    structure: CovarianceStructure,
    chunk_rows: int | None = None,
    n_jobs: int | None = None,
    reuse_features: bool = False,
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
    n_jobs : int, optional
        Threads running the chunks (scikit-learn's meaning, see :func:`effective_n_jobs`).
        The result is bit-identical for every ``n_jobs``: the chunk boundaries do not depend
        on it, each chunk's ``[S0 | S1 | S2]`` and log-likelihood are computed by the same
        single-threaded kernels, and they are summed in chunk order.
    reuse_features : bool, default=False
        The caller promises that ``X`` is not modified between calls (EM's own centred copy
        of the data): a kept workspace whose feature block was last filled from the same
        rows of this very array object skips the fill. For data of one chunk that saves a
        pass over the rows at every iteration (~5 us of ~50 at 150 x 4, full covariances);
        for more chunks than kept workspaces it never hits. Off for arrays the caller may
        reuse as buffers (blocks of a stream, ``partial_fit``'s batches).

    Notes
    -----
    Per chunk: the feature block ``F = [1 | x | q(x)]`` is filled once, the structure's
    plan turns it into weighted log-densities (GEMMs), the log-sum-exp runs in place, and
    ``resp.T @ F`` gives the chunk's ``[S0 | S1 | S2]`` (one GEMM). The buffers (one
    workspace per thread at a time) are reused across chunks and kept for the next E-step of
    the same shapes (see :class:`~gmmcore.engine.workspace.Spares`): no temporary grows
    with N, none is (N, K, D).
    """
    n, n_features = X.shape
    k = means.shape[0]
    layout = FeatureLayout(n_features, structure.second_moment)
    dtype = _FLOAT32 if X.dtype == _FLOAT32 else _FLOAT64  # compute_dtype(X), inlined
    if (
        dtype is _FLOAT64
        and chunk_rows is None
        and len(task_slices) == 1
        and compiled.use_for(n, k, n_features)
    ):
        fast = compiled.estep_kernel(structure, means, prec_chol)
        if fast is not None:
            return _compiled(X, log_weights[0], means, fast, layout, reuse_features)
    plan = structure.estep_plan(means, prec_chol).astype(dtype)
    wr = plan.work_rows()
    if (
        dtype is _FLOAT64
        and chunk_rows is None
        and len(task_slices) == 1
        and n <= _chunk_rows(k, n_features, layout.width + wr)
    ):
        return _one_chunk(X, log_weights[0], plan, layout, k, wr, reuse_features)
    if dtype == np.float64:
        space_args = (layout, k, wr, dtype)
        rows = chunk_rows or _chunk_rows(k, n_features, layout.width + wr)
    else:
        # float32 plan block (the rows the plan reads), float64 statistics blocks.
        low = FeatureLayout(n_features, structure.second_moment if plan.needs_q else "none")
        space_args = (low, k, wr, dtype, layout)
        extra = 4 * (low.width + wr) - 4 * 3 * k  # float32 wT, top, tot: half of 3 K float64
        rows = chunk_rows or _chunk_rows(k, n_features, layout.width + k, max(extra, 0))
    rows = max(1, min(rows, n)) if chunk_rows else _balanced(rows, max(n, 1))
    n_chunks = sum(-(-(b - a) // rows) for a, b in task_slices)
    n_threads = min(effective_n_jobs(n_jobs), n_chunks)
    free = SPARES.for_config(config_key(layout, plan, k, wr, dtype))
    G1 = np.empty((k, layout.width)) if n_threads == 1 else None

    def make(m):
        return Workspace(space_args[0], m, *space_args[1:])

    def chunk(block):
        task, lo, hi = block
        ws = take(free, hi - lo, make)
        try:
            F, FT = fill(ws, layout, X, lo, hi, reuse_features)
            r = plan(FT, log_weights[task], ws.wT, ws.work)
            ll = _normalize_into(r, ws.top, ws.tot)
            if ws.r64 is not None:
                np.copyto(ws.r64, r)
                r = ws.r64
            # Each thread's result is its own (K, width) array; one thread reuses one.
            G = G1 if G1 is not None else np.empty((k, layout.width))
            np.matmul(r, F.T, out=G)
        finally:
            give(free, ws, rows)
        return task, G, ll

    T = np.zeros((k, layout.width))
    S0 = np.zeros((len(task_slices), k))
    total = 0.0
    with _serial_blas(n_chunks, _largest_gemm(rows, k, layout.width, wr, n_features)):
        if n_threads == 1:
            results = map(chunk, _blocks(task_slices, rows))
        else:
            # Consecutive chunks in groups of about GROUP_ROWS rows per pool task: a future
            # per chunk holds the GIL for its bookkeeping (at 1e6 x 10-D x K=8 with 1,542-row
            # chunks and 2 threads: 0.161 s with 1 chunk per task, 0.158 s with 8), and a
            # group much longer than that leaves one thread idle at the end of the pass.
            size = max(1, min(CHUNKS_PER_TASK, GROUP_ROWS // rows))
            groups = _grouped(_blocks(task_slices, rows), size)
            results = itertools.chain.from_iterable(
                _ordered_map(lambda g: [chunk(b) for b in g], groups, n_threads)
            )
        for task, G, ll in results:
            total += ll
            T += G
            S0[task] += G[:, 0]
    return _finish(layout, T, S0, total)


def _compiled(X, log_weights, means, fast, layout, reuse) -> SufficientStatistics:
    """:func:`e_step` for small float64 data of one task by the compiled kernels (see
    :mod:`gmmcore.engine.compiled`): two loops and one SIMD exp instead of ~20 NumPy calls.
    The rows come transposed from a kept workspace's feature block (filled once per fit with
    ``reuse``), whose (K, n) and (n,) buffers take the densities and row maxima."""
    densities, statistics, factors, const = fast
    k, n, d = means.shape[0], X.shape[0], X.shape[1]
    free = SPARES.for_config(("compiled", d, layout.second_moment, k))
    ws = take(free, n, lambda m: Workspace(layout, m, k, 0, _FLOAT64))
    try:
        XT = fill(ws, layout, X, 0, n, reuse)[1][1 : 1 + d]
        L, top = ws.wT, ws.top
        lw = np.ascontiguousarray(log_weights, dtype=np.float64)
        densities(XT, lw, np.ascontiguousarray(means, dtype=np.float64), factors, const, L, top)
        np.exp(L, out=L)
        T = np.zeros((k, layout.width))
        ll = statistics(L, top, XT, compiled.SECOND_MOMENT_CODES[layout.second_moment], T)
    finally:
        give(free, ws, n)
    return _finish(layout, T, T[None, :, 0].copy(), ll)


def _one_chunk(X, log_weights, plan, layout, k, wr, reuse_features) -> SufficientStatistics:
    """:func:`e_step` for float64 data of one task that fit in one chunk (model selection's
    usual case): the same arithmetic as the general path's chunk, without its bookkeeping
    (chunk and thread planning, accumulation), which cost ~8 us of a ~45 us E-step on Old
    Faithful. Its workspace is kept with the general path's (``workspace.SPARES``)."""
    n = X.shape[0]
    free = SPARES.for_config(config_key(layout, plan, k, wr, _FLOAT64))
    ws = take(free, n, lambda m: Workspace(layout, m, k, wr, _FLOAT64))
    try:
        fill(ws, layout, X, 0, n, reuse_features)
        with _serial_blas(1, _largest_gemm(n, k, layout.width, wr, X.shape[1])):
            r = plan(ws.FT, log_weights, ws.wT, ws.work)
            ll = _normalize_into(r, ws.top, ws.tot)
            G = r @ ws.FT.T
    finally:
        give(free, ws, n)
    return _finish(layout, G, G[None, :, 0].copy(), ll)


def accumulate(
    X: np.ndarray,
    task_slices: list[tuple[int, int]],
    resp: np.ndarray,
    structure: CovarianceStructure,
) -> SufficientStatistics:
    """Statistics for given responsibilities (used by initialization); log_likelihood is 0.
    Small float64 data of one task are summed by the compiled E-step's kernel, so that EM's
    start and its iterations round alike."""
    n, n_features = X.shape
    k = resp.shape[1]
    layout = FeatureLayout(n_features, structure.second_moment)
    module = compiled.kernels("estep")
    if (
        module is not None
        and X.dtype == _FLOAT64
        and len(task_slices) == 1
        and compiled.use_for(n, k, n_features)
    ):
        # Summed as the compiled E-step sums (see _numba_estep.moments).
        T = np.zeros((k, layout.width))
        code = compiled.SECOND_MOMENT_CODES[layout.second_moment]
        R = np.ascontiguousarray(resp.T, dtype=np.float64)
        module.moments(R, np.ascontiguousarray(X.T), code, T)
        return _finish(layout, T, T[None, :, 0].copy(), 0.0)
    rows = max(1, min(_chunk_rows(k, n_features, layout.width), n))
    spaces = Workspaces(layout, k, 0)
    G = np.empty((k, layout.width))
    T = np.zeros((k, layout.width))
    S0 = np.zeros((len(task_slices), k))
    with _serial_blas(-(-n // rows), _largest_gemm(rows, k, layout.width, 0, n_features)):
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
    dtype=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and log-responsibilities, shapes (n,) and (n, K).

    ``log_weights_rows`` is (K,) or (n, K) (per-row weights, e.g. by task). ``dtype`` of the
    work and the outputs: by default float32 when X and the parameters (``means``) are float32
    (a float32 model scoring float32 rows), else float64, as scikit-learn's promotion.

    Each chunk is centered on the mean of the heaviest component before any quadratic form
    (see :mod:`gmmcore.engine.kernels`, "Cancellation"): the raw coordinates may sit at any
    offset (Unix timestamps, 1.7e9), and expanding ``(x - mu)^2`` there loses everything.
    """
    n, n_features = X.shape
    k = means.shape[0]
    dtype = compute_dtype(X, means) if dtype is None else np.dtype(dtype)
    # The plan is built from float64 parameters, then rounded to dtype (Plan.astype).
    means = np.asarray(means, dtype=np.float64)
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    heaviest = log_weights_rows if log_weights_rows.ndim == 1 else log_weights_rows.max(axis=0)
    center = means[int(np.argmax(heaviest))].copy()
    plan = structure.estep_plan(means - center, prec_chol).astype(dtype)
    # Only the linear (diag/spherical) plans read the second-moment rows.
    layout = FeatureLayout(n_features, structure.second_moment if plan.needs_q else "none")
    wr = plan.work_rows()
    rows = max(1, min(_chunk_rows(k, n_features, layout.width + wr + k), n))
    spaces = Workspaces(layout, k, wr, dtype)
    log_norm = np.empty(n, dtype)
    log_resp = np.empty((n, k), dtype)
    per_row = log_weights_rows.ndim == 2
    zeros = np.zeros(k)
    with _serial_blas(-(-n // rows), _largest_gemm(rows, k, layout.width, wr, n_features)):
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
