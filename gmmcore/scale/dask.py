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

Multi-task (shared) mixtures: ``fit(X, tasks=...)`` with the labels as a dask array or series
chunked like X's rows, or the name of a column of a dask.dataframe X; each block's rows are
grouped by task on the worker (S0 per task), and the task names (sorted) are computed first.
``predict`` and friends take the same ``tasks``.

The start: a uniform sample of ``init_sample`` rows (default 100,000; each block keeps each
row with the same probability, seeded by ``random_state``), computed to the client, where
``init_params`` runs; collections with at most ``init_sample`` rows are computed whole, so the
fit equals the in-memory one up to the order of summation (1e-10 is tested).

Restarts (``n_init``): the sample is computed once; each restart runs ``init_params`` on it
with the next draws of the same generator (as ``fit`` on an array: a collection within
``init_sample`` rows gives the in-memory restarts) and its own EM over every block, so a fit
costs ``n_init`` times the E-steps of one run; the run kept is chosen as ``fit`` chooses it
(:func:`gmmcore.restarts.better_restart`). The two-pass covariance fallback (see
:mod:`gmmcore.engine.blockem`) runs as one more blockwise pass (:func:`dask_scatter`) in the
iterations that need it.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..engine.blockem import add_statistics, block_scatter, iter_em_blocks
from ..engine.em import task_slices
from ..engine.estep import e_step
from ..engine.validation import check_random_state
from .stream import INIT_SAMPLE

__all__ = ["as_dask_array", "blockwise", "dask_scatter", "dask_statistics", "fit_dask", "score"]


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


def _grouped(block, codes, n_tasks):
    """The block's rows grouped by task (stable) and each task's (start, stop) slice."""
    if not np.isfinite(block).all():
        raise ValueError("X contains NaN or infinity (in a dask block).")
    if codes is None:
        return block, [(0, block.shape[0])]
    order, slices = task_slices(np.asarray(codes), n_tasks)
    return (block if order is None else block[order]), slices


def _block_stats(block, codes, shift, log_weights, means, prec_chol, structure):
    block, slices = _grouped(block, codes, log_weights.shape[0])  # S0 per task
    return e_step(block - shift, slices, log_weights, means, prec_chol, structure)


def _block_scatter(block, codes, shift, log_weights, means, prec_chol, structure, centers):
    block, slices = _grouped(block, codes, log_weights.shape[0])
    return block_scatter(block - shift, slices, log_weights, means, prec_chol, structure, centers)


def _add(a, b):
    return a + b


def _tree_sum(parts, op=add_statistics):
    """Pairwise sums (``op``) of adjacent delayed parts, level by level: ceil(log2 n) levels."""
    from dask import delayed

    add = delayed(op, pure=True)
    while len(parts) > 1:
        nxt = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def dask_statistics(X, shift_of, codes=None):
    """The E-step over a dask array's blocks: ``stats_of(log_weights, means, prec_chol,
    structure)`` (see :data:`gmmcore.engine.blockem.BlockStatistics`); ``shift_of()`` gives
    the shift subtracted from every block (on the workers); ``codes``, a dask array of task
    codes chunked as X's rows, for a multi-task fit."""
    from dask import compute, delayed

    blocks = X.to_delayed().ravel()
    code_blocks = [None] * len(blocks) if codes is None else codes.to_delayed().ravel()

    def stats_of(log_weights, means, prec_chol, structure):
        task = delayed(_block_stats, pure=True)
        shift = shift_of()
        parts = [
            task(b, c, shift, log_weights, means, prec_chol, structure)
            for b, c in zip(blocks, code_blocks, strict=True)
        ]
        (total,) = compute(_tree_sum(parts))
        return total

    return stats_of


def dask_scatter(X, shift_of, codes=None):
    """The two-pass fallback's blockwise pass: ``scatter_of(log_weights, means, prec_chol,
    structure, centers)`` (see :data:`gmmcore.engine.blockem.BlockScatter`), one task per
    block on the workers, summed by the same tree as :func:`dask_statistics`."""
    from dask import compute, delayed

    blocks = X.to_delayed().ravel()
    code_blocks = [None] * len(blocks) if codes is None else codes.to_delayed().ravel()

    def scatter_of(log_weights, means, prec_chol, structure, centers):
        task = delayed(_block_scatter, pure=True)
        shift = shift_of()
        parts = [
            task(b, c, shift, log_weights, means, prec_chol, structure, centers)
            for b, c in zip(blocks, code_blocks, strict=True)
        ]
        (total,) = compute(_tree_sum(parts, _add))
        return total

    return scatter_of


def _gram_of(X):
    def gram_of(shift):
        c = X - shift
        return (c.T @ c).compute()

    return gram_of


def _sample(X, codes, size, rng):
    """(rows, their task codes or None): every row when X has at most ``size``, else a
    Bernoulli sample (the same rate for every row, seeded) of ~size rows, in order."""
    import dask

    n = X.shape[0]
    if n > size:
        seed = int(rng.randint(np.iinfo(np.int32).max))
        keep = np.random.default_rng(seed).random(n) < size / n
        X = X[keep]
        codes = None if codes is None else codes[keep]
    return dask.compute(X, codes)


def _labels_array(tasks, X):
    """Task labels (a dask series or array, or anything array-like) as a 1-D dask array."""
    import dask.array as da

    if hasattr(tasks, "to_dask_array"):
        with warnings.catch_warnings():
            # string labels become an object array, which is what the labels are meant to be
            warnings.filterwarnings("ignore", "Dask currently has limited support")
            return tasks.to_dask_array(lengths=True)
    if isinstance(tasks, da.Array):
        return tasks
    return da.from_array(np.asarray(tasks, dtype=object), chunks=(X.chunks[0],))


def _task_codes(X, tasks):
    """(X without a task column, task codes chunked as X's rows, sorted task names)."""
    import dask.array as da

    from ..engine.validation import task_labels_as_str

    if isinstance(tasks, str):  # a column of a dask.dataframe
        if not hasattr(X, "columns") or tasks not in X.columns:
            raise ValueError(f"tasks={tasks!r} names no column of X.")
        X, tasks = X.drop(columns=[tasks]), X[tasks]
    X = as_dask_array(X)
    tasks = _labels_array(tasks, X)
    if tasks.ndim != 1 or tasks.shape[0] != X.shape[0]:
        raise ValueError(f"tasks must be one label per row of X ({X.shape[0]} rows).")
    tasks = tasks.rechunk((X.chunks[0],))
    names = np.unique(task_labels_as_str(da.unique(tasks).compute()))

    def encode(block):
        return np.searchsorted(names, task_labels_as_str(block)).astype(np.intp)

    return X, tasks.map_blocks(encode, dtype=np.intp), [str(v) for v in names]


def fit_dask(gm, X, tasks=None):
    """See :meth:`gmmcore.GaussianMixture.fit` (``n_init`` restarts: see the module
    docstring)."""
    import copy

    from .estimator import check_n_init, em_settings, set_from_runs
    from .stream import cached_gram

    n_init = check_n_init(gm.n_init)
    codes = names = counts = None
    if tasks is None:
        X = as_dask_array(X)
    else:
        X, codes, names = _task_codes(X, tasks)
        counts = np.bincount(codes.compute(), minlength=len(names)).tolist()
    rng = check_random_state(gm.random_state)
    # As in stream.iter_em_source: the sample's seed from a copy of the generator.
    sample, sample_codes = _sample(X, codes, INIT_SAMPLE, copy.deepcopy(rng))
    box = {}

    def shift():
        return box["shift"]

    gram_of = cached_gram(_gram_of(X))

    def runs():
        for _ in range(n_init):
            yield iter_em_blocks(
                dask_statistics(X, shift, codes),
                sample,
                X.shape[0],
                gm.n_components,
                **em_settings(gm),
                random_state=rng,
                gram_of=gram_of,
                on_shift=lambda s: box.__setitem__("shift", s),
                task_names=names,
                sample_tasks=sample_codes,
                scatter_of=dask_scatter(X, shift, codes),
            )

    return set_from_runs(gm, runs(), task_n_samples=counts)


def blockwise(gm, method: str, X, tasks=None, **kwargs):
    """``gm.<method>`` on every block of X (with its rows' ``tasks``, for a multi-task
    mixture: a dask array or series, or a column name of a dask.dataframe X), lazily: a dask
    array of shape (n,) for ``predict`` and ``score_samples``, (n, K) for ``predict_proba``."""
    import dask.array as da

    gm._check_fitted()
    method_fn = getattr(gm, method)
    if tasks is None:
        X = as_dask_array(X)
        args = (X,)

        def fn(xb):
            return method_fn(xb, **kwargs)
    else:
        if isinstance(tasks, str):
            X, tasks = X.drop(columns=[tasks]), X[tasks]
        X = as_dask_array(X)
        args = (X, _labels_array(tasks, X).rechunk((X.chunks[0],))[:, None])

        def fn(xb, tb):
            return method_fn(xb, tasks=tb[:, 0], **kwargs)

    if method == "predict_proba":
        k = gm.means_.shape[0]
        return da.map_blocks(fn, *args, dtype=np.float64, chunks=(X.chunks[0], (k,)))
    dtype = np.int64 if method == "predict" else np.float64
    return da.map_blocks(fn, *args, dtype=dtype, drop_axis=1, chunks=(X.chunks[0],))


def score(gm, X, tasks=None, **kwargs) -> float:
    """Mean log-likelihood per row, computed (as ``score`` on an array)."""
    return float(blockwise(gm, "score_samples", X, tasks, **kwargs).mean().compute())
