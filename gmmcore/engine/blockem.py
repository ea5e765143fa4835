"""EM over any source of row blocks: the one mechanism behind every size of data.

Every fit is the same two steps: sufficient statistics (:class:`SufficientStatistics`) summed
over blocks of rows, then one M-step from the sums. :func:`iter_em` does it for an in-memory
array (chunks, optionally on a pool of threads). :func:`iter_em_blocks` does it for a source
that is only reachable block by block (a file streamed on every pass, a dask collection whose
blocks live on workers): the caller gives a function returning the summed statistics of all
rows for given parameters, and a sample of the rows for the start.

The start: the initialization method (``init_params``) runs on the sample, exactly as
:func:`iter_em` runs it on the whole array; the coordinates are centered on the sample's
median (see :func:`iter_em`, "the median, not the mean"). With a sample holding every row in
the source's order, the snapshots equal :func:`iter_em`'s up to the order of summation
(~1e-15 relative per iteration).

The two-pass covariance fallback of :func:`iter_em` (``em.exact_covariances``): when the
one-pass covariance ``S2/nk - mu mu^T`` of a component may have lost more than 1e-6 of its
smallest variance to cancellation (``em.precision_lost``: a component thin next to its
distance from the median, e.g. a tight cluster 1e5 away), the covariances are recomputed from
the scatter about the new means, ``sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T``, under the
responsibilities of the parameters the E-step used. In memory that is one more pass over the
array; here it is one more pass over the source (``scatter_of``, summed over the blocks in a
fixed order, :func:`block_scatter` per block), only in the iterations that need it. Without
it such a component's covariance keeps ~eps |mu|^2 of absolute error: at 1e5 away that is
~1e-6, its whole variance for a spread of 1e-3 (tests/test_scale_stream.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .covariance import get_structure
from .em import (
    Snapshot,
    check_em_settings,
    em_iterations,
    frozen_array,
    start_parameters,
    task_slices,
)
from .estep import SufficientStatistics, estimate_log_resp
from .mstep import check_init_arrays, m_step_from_statistics
from .validation import check_n_components, check_random_state, check_X
from .weights import safe_log

__all__ = ["BlockScatter", "BlockStatistics", "add_statistics", "block_scatter", "iter_em_blocks"]

# stats_of(log_weights (1, K), centered means (K, D), prec_chol, structure) -> summed
# statistics of every row of the source, centered on the shift given to the source.
BlockStatistics = Callable[..., SufficientStatistics]
# scatter_of(log_weights (n_tasks, K), means, prec_chol, structure, centers (K, D)) -> the
# summed scatter of every row about ``centers`` under those parameters' responsibilities
# (see block_scatter), centered on the same shift.
BlockScatter = Callable[..., np.ndarray]

# Rows per piece of block_scatter: bounds its (rows, K) responsibilities and (rows, D)
# differences (~4 MiB at K = 8) whatever the size of a block.
SCATTER_ROWS = 1 << 16


def add_statistics(a: SufficientStatistics, b: SufficientStatistics) -> SufficientStatistics:
    """``a + b``, field by field (the reduction of per-block statistics; the caller fixes
    the order, so that the result does not depend on parallelism)."""
    return SufficientStatistics(
        a.S0 + b.S0,
        a.S1 + b.S1,
        None if a.S2 is None else a.S2 + b.S2,
        a.log_likelihood + b.log_likelihood,
    )


def block_scatter(Xc, task_slices, log_weights, means, prec_chol, structure, centers):
    """The two-pass scatter of one block of centered rows ``Xc`` (m, D): for every component,
    ``sum_i r_ik (x_i - c_k)(x_i - c_k)^T`` with the responsibilities ``r`` of the parameters
    (``log_weights`` (n_tasks, K), rows grouped by task as ``task_slices``) and the centers
    ``c`` (K, D), shaped as the structure's second moment: (K, D, D) for "outer", (K, D) (the
    diagonals) for "square", their sum over k (D, D) for "global_outer". The same sums as
    ``em.exact_covariances`` forms over every row, here per block (summed by the caller in a
    fixed order), in pieces of SCATTER_ROWS rows."""
    k, d = centers.shape
    kind = structure.second_moment
    out = np.zeros((d, d) if kind == "global_outer" else (k, d, d) if kind == "outer" else (k, d))
    for task, (start, stop) in enumerate(task_slices):
        for lo in range(start, stop, SCATTER_ROWS):
            X = Xc[lo : min(lo + SCATTER_ROWS, stop)]
            _, log_resp = estimate_log_resp(X, log_weights[task], means, prec_chol, structure)
            resp = np.exp(log_resp)
            for j in range(k):  # K products over the rows, as em.exact_covariances
                diff = X - centers[j]
                if kind == "square":
                    out[j] += resp[:, j] @ (diff * diff)
                    continue
                scatter = (resp[:, j, None] * diff).T @ diff
                if kind == "outer":
                    out[j] += scatter
                else:
                    out += scatter
    return out


def iter_em_blocks(
    stats_of: BlockStatistics,
    sample,
    n_samples: int,
    n_components: int = 1,
    *,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    init_params: str = "kmeans",
    weights_init=None,
    means_init=None,
    precisions_init=None,
    random_state=None,
    gram_of: Callable[[np.ndarray], np.ndarray] | None = None,
    on_shift: Callable[[np.ndarray], None] | None = None,
    task_names: Sequence[str] | None = None,
    sample_tasks=None,
    scatter_of: BlockScatter | None = None,
    convergence: str = "mean",
) -> Iterator[Snapshot]:
    """EM whose E-step is ``stats_of``: snapshots as :func:`gmmcore.engine.em.iter_em`.

    Parameters
    ----------
    stats_of : callable
        ``stats_of(log_weights, means, prec_chol, structure)`` with log_weights of shape
        (n_tasks, K) and means in coordinates centered on the shift (see ``on_shift``): the
        statistics of every row of the source, summed in a fixed order.
    sample : array-like of shape (m, n_features)
        Rows for the start (see the module docstring) and the shift (their median).
    n_samples : int
        Rows in the source (the snapshots' ``n_samples``).
    gram_of : callable, optional
        ``gram_of(shift)``: ``sum (x - shift)(x - shift)^T`` over every row, shape (D, D);
        required for ``covariance_type="tied"``.
    on_shift : callable, optional
        Called once with the shift, shape (D,), before the first ``stats_of``.
    task_names : sequence of str, optional
        A multi-task (shared) mixture over these tasks (sorted; ``stats_of`` then sums S0 per
        task), with ``sample_tasks`` the task code (index into ``task_names``) of each
        sample row, shape (m,).
    scatter_of : callable, optional
        ``scatter_of(log_weights, means, prec_chol, structure, centers)``: the two-pass
        scatter of every row (see :func:`block_scatter`, summed over the source in a fixed
        order). Given, the M-step falls back to it as :func:`iter_em` does (see the module
        docstring); without it the one-pass covariances are kept.
    Other parameters as :func:`gmmcore.engine.em.iter_em`.
    """
    k = check_n_components(n_components)
    structure = get_structure(covariance_type)
    sample = check_X(sample, n_components=k)
    check_em_settings(tol, reg_covar, max_iter, init_params, convergence)
    rng = check_random_state(random_state)
    d = sample.shape[1]
    n_tasks = 1 if task_names is None else len(task_names)
    weights_init, means_init, prec_chol_init = check_init_arrays(
        weights_init, means_init, precisions_init, structure, k, d, n_tasks
    )
    slices = None
    if task_names is not None:  # the sample grouped by task, as iter_em groups X
        order, slices = task_slices(sample_tasks, n_tasks)
        if order is not None:
            sample = sample[order]
    shift = np.median(sample, axis=0)
    if on_shift is not None:
        on_shift(shift)
    common = structure.second_moment == "global_outer"
    if common and gram_of is None:
        raise ValueError("covariance_type='tied' needs gram_of (the centered Gram matrix).")
    params = start_parameters(
        sample - shift, k, structure, reg_covar, init_params, rng,
        weights_init, means_init, prec_chol_init, shift, slices,
    )  # fmt: skip
    S2_fixed = gram_of(shift) if common else None
    n = int(n_samples)

    def snapshot(iteration, phase, p, ll, events=()):
        return Snapshot(
            iteration=iteration,
            phase=phase,
            weights=frozen_array(p.weights[0] if task_names is None else p.weights),
            means=frozen_array(p.means + shift),
            covariances=frozen_array(p.covariances),
            precisions_cholesky=frozen_array(p.prec_chol),
            covariance_type=structure.name,
            log_likelihood=None if ll is None else float(ll),
            n_samples=n,
            events=tuple(events),
            tasks=None if task_names is None else tuple(task_names),
        )

    current = snapshot(0, "init", params, None)
    yield current

    def e_step_of(p):
        return stats_of(safe_log(p.weights), p.means, p.prec_chol, structure)

    def m_step_of(stats, p):
        exact = None
        if scatter_of is not None:

            def exact(nk, means, previous):  # one more pass, only when m_step_from_statistics asks
                S2c = scatter_of(safe_log(p.weights), p.means, p.prec_chol, structure, means)
                # about zero means, as em.exact_covariances: S2c - nk 0 0^T is the scatter
                return structure.m_step(nk, np.zeros_like(means), S2c, reg_covar, previous)

        return m_step_from_statistics(stats, S2_fixed, structure, reg_covar, p.covariances, exact)

    yield from em_iterations(
        current, params, e_step_of, m_step_of, snapshot, structure=structure, n_samples=n,
        tol=tol, reg_covar=reg_covar, max_iter=max_iter, convergence=convergence,
    )  # fmt: skip
