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

Not done in the iterations, by design: the two-pass covariance fallback of :func:`iter_em`
(``_exact_covariances``) needs the responsibilities of every row at once (the start has it:
the sample is in memory); a blocked fit keeps the one-pass covariances, which are exact to ~1e-12 relative for components within ~265
standard deviations of the data's median (see ``em._precision_lost``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .covariance import get_structure
from .em import (
    Snapshot,
    _check_init_arrays,
    _m_step,
    check_em_settings,
    em_iterations,
    frozen_array,
    start_parameters,
    task_slices,
)
from .estep import SufficientStatistics
from .validation import check_n_components, check_random_state, check_X
from .weights import safe_log

__all__ = ["BlockStatistics", "add_statistics", "iter_em_blocks"]

# stats_of(log_weights (1, K), centered means (K, D), prec_chol, structure) -> summed
# statistics of every row of the source, centered on the shift given to the source.
BlockStatistics = Callable[..., SufficientStatistics]


def add_statistics(a: SufficientStatistics, b: SufficientStatistics) -> SufficientStatistics:
    """``a + b``, field by field (the reduction of per-block statistics; the caller fixes
    the order, so that the result does not depend on parallelism)."""
    return SufficientStatistics(
        a.S0 + b.S0,
        a.S1 + b.S1,
        None if a.S2 is None else a.S2 + b.S2,
        a.log_likelihood + b.log_likelihood,
    )


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
    Other parameters as :func:`gmmcore.engine.em.iter_em`.
    """
    k = check_n_components(n_components)
    structure = get_structure(covariance_type)
    sample = check_X(sample, n_components=k)
    check_em_settings(tol, reg_covar, max_iter, init_params)
    rng = check_random_state(random_state)
    d = sample.shape[1]
    n_tasks = 1 if task_names is None else len(task_names)
    weights_init, means_init, prec_chol_init = _check_init_arrays(
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
        return _m_step(stats, S2_fixed, structure, reg_covar, p.covariances)

    yield from em_iterations(
        current, params, e_step_of, m_step_of, snapshot, structure=structure, n_samples=n,
        tol=tol, reg_covar=reg_covar, max_iter=max_iter,
    )  # fmt: skip
