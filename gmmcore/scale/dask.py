"""Dask collections: the E-step blockwise on the workers, the M-step on the client.

``GaussianMixture.fit(X)`` with a ``dask.array`` (or a ``dask.dataframe``, its numeric columns)
is :func:`gmmcore.engine.blockem.iter_em_blocks` whose E-step is :func:`dask_statistics`:
every block of rows gets its :func:`gmmcore.engine.estep.e_step` as one task on a worker, the
blocks' statistics are summed by a binary tree of tasks over adjacent blocks (a fixed order:
the result does not depend on where or when the tasks ran), and only the root's
``K x (1 + D + D(D+1)/2)`` numbers come back to the client, which runs the M-step. The data
never leave the workers. The scheduler is dask's current one: the active
``dask.distributed`` client when there is one (``Client("tcp://scheduler:8786")``), else the
local threads.

The start: a uniform sample of ``init_sample`` rows (default 100,000; each block keeps each
row with the same probability, seeded by ``random_state``), computed to the client, where
``init_params`` runs; collections with at most ``init_sample`` rows are computed whole, so the
fit equals the in-memory one up to the order of summation (1e-10 is tested).
"""

from __future__ import annotations

import numpy as np

from ..engine.blockem import add_statistics, iter_em_blocks
from ..engine.estep import e_step
from ..engine.validation import check_random_state
from .stream import INIT_SAMPLE

__all__ = ["as_dask_array", "blockwise", "dask_statistics", "fit_dask", "score"]


def as_dask_array(X):
    """A 2-D float64 dask array with known chunk sizes, one chunk across the columns.

    A dask.dataframe gives its numeric columns (their lengths are computed once). ValueError
    for unknown chunk sizes (e.g. after boolean indexing), naming the fix."""
    import dask.array as da

    if not isinstance(X, da.Array):  # dask.dataframe
        numeric = X.select_dtypes("number")
        X = numeric.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array, got {X.ndim} dimension(s).")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "The dask array has unknown chunk sizes (e.g. after boolean indexing); call "
            "X.compute_chunk_sizes() (or df.to_dask_array(lengths=True)) before fitting."
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X.astype(np.float64)


def _block_stats(block, shift, log_weights, means, prec_chol, structure):
    if not np.isfinite(block).all():
        raise ValueError("X contains NaN or infinity (in a dask block).")
    return e_step(block - shift, [(0, block.shape[0])], log_weights, means, prec_chol, structure)


def _tree_sum(parts):
    """Pairwise sums of adjacent delayed statistics, level by level: ceil(log2 n) levels."""
    from dask import delayed

    add = delayed(add_statistics, pure=True)
    while len(parts) > 1:
        nxt = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def dask_statistics(X, shift_of):
    """The E-step over a dask array's blocks: ``stats_of(log_weights, means, prec_chol,
    structure)`` (see :data:`gmmcore.engine.blockem.BlockStatistics`); ``shift_of()`` gives
    the shift subtracted from every block (on the workers)."""
    from dask import compute, delayed

    blocks = X.to_delayed().ravel()

    def stats_of(log_weights, means, prec_chol, structure):
        task = delayed(_block_stats, pure=True)
        shift = shift_of()
        parts = [task(b, shift, log_weights, means, prec_chol, structure) for b in blocks]
        (total,) = compute(_tree_sum(parts))
        return total

    return stats_of


def _gram_of(X):
    def gram_of(shift):
        c = X - shift
        return (c.T @ c).compute()

    return gram_of


def _sample(X, size, rng):
    n = X.shape[0]
    if n <= size:
        return X.compute()
    # Bernoulli sampling per row (the same rate in every block), seeded: ~size rows.
    seed = int(rng.randint(np.iinfo(np.int32).max))
    keep = np.random.default_rng(seed).random(n) < size / n
    return X[keep].compute()


def fit_dask(gm, X, tasks=None):
    """See :meth:`gmmcore.GaussianMixture.fit` (one run: ``n_init`` is ignored)."""
    import copy

    from ..exceptions import ConvergenceWarning
    from ..mixture import _NOT_CONVERGED, RestartResult
    from .estimator import set_from_history

    if tasks is not None:
        raise NotImplementedError("Multi-task fits of dask collections are not supported yet.")
    X = as_dask_array(X)
    rng = check_random_state(gm.random_state)
    # As in stream.iter_em_source: the sample's seed from a copy of the generator.
    sample = _sample(X, INIT_SAMPLE, copy.deepcopy(rng))
    box = {}
    snaps = iter_em_blocks(
        dask_statistics(X, lambda: box["shift"]),
        sample,
        X.shape[0],
        gm.n_components,
        covariance_type=gm.covariance_type,
        tol=gm.tol,
        reg_covar=gm.reg_covar,
        max_iter=gm.max_iter,
        init_params=gm.init_params,
        weights_init=gm.weights_init,
        means_init=gm.means_init,
        precisions_init=gm.precisions_init,
        random_state=rng,
        gram_of=_gram_of(X),
        on_shift=lambda s: box.__setitem__("shift", s),
    )
    return set_from_history(gm, tuple(snaps), _NOT_CONVERGED, ConvergenceWarning, RestartResult)


def blockwise(gm, method: str, X):
    """``gm.<method>`` on every block of X, lazily: a dask array of shape (n,) for
    ``predict`` and ``score_samples``, (n, K) for ``predict_proba``."""
    X = as_dask_array(X)
    gm._check_fitted()
    fn = getattr(gm, method)
    if method == "predict_proba":
        k = gm.means_.shape[0]
        return X.map_blocks(fn, dtype=np.float64, chunks=(X.chunks[0], (k,)))
    dtype = np.int64 if method == "predict" else np.float64
    return X.map_blocks(fn, dtype=dtype, drop_axis=1)


def score(gm, X) -> float:
    """Mean log-likelihood per row, computed (as ``score`` on an array)."""
    return float(blockwise(gm, "score_samples", X).mean().compute())
