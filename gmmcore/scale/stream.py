"""EM on a source streamed in row blocks on every pass (files larger than memory).

:func:`iter_em_source` is :func:`gmmcore.engine.blockem.iter_em_blocks` with the E-step
``source_statistics``: every block of the source, centered on the shift, goes through the
ordinary chunked E-step (:func:`gmmcore.engine.estep.e_step`, on ``n_jobs`` threads), and the
blocks' statistics are summed in the file's order. Peak memory: one block, its centered
copy and the E-step's per-thread buffers, whatever the file's size.

The start: a uniform sample of ``init_sample`` rows (:func:`gmmcore.scale.sources.sample_rows`,
one extra pass, seeded by ``random_state``), on which ``init_params`` runs; its median is the
shift. A file with at most ``init_sample`` rows gives the same start as loading it.

Restarts (``n_init``, :func:`iter_em_source_runs`): the sample is drawn once; each restart runs
``init_params`` on it with the next draws of the same random generator (as ``fit`` does on an
array, so a file within ``init_sample`` rows gives the same restarts as loading it) and then
its own EM, which reads the whole source on every pass: a fit costs ``n_init`` times the passes
of one run (plus the sample's pass, and for ``tied`` one pass for the Gram matrix, both once).

The two-pass covariance fallback (see :mod:`gmmcore.engine.blockem`) reads the source once
more in an iteration that needs it (:func:`source_scatter`).
"""

from __future__ import annotations

import copy
import sys
import time

import numpy as np

from ..engine.blockem import add_statistics, block_scatter, iter_em_blocks
from ..engine.estep import e_step
from ..engine.validation import check_random_state

__all__ = [
    "INIT_SAMPLE",
    "TextProgress",
    "cached_gram",
    "iter_em_source",
    "iter_em_source_runs",
    "source_scatter",
    "source_statistics",
]

# Rows of the start's sample: k-means on 1e5 rows takes ~0.3 s at D = 4 and places the
# components as well as on all rows for any component holding more than ~0.1% of them.
INIT_SAMPLE = 100_000


class TextProgress:
    """A one-line progress bar per pass on ``stream`` (stderr): rows read, rate, elapsed.

    Called as ``progress(label, rows_done, n_rows)``; ``n_rows`` may be None (unknown yet).
    """

    def __init__(self, stream=None, width: int = 30, interval: float = 0.2):
        self.stream = stream if stream is not None else sys.stderr
        self.width, self.interval = width, interval
        self._label, self._t0, self._last = None, 0.0, 0.0

    def __call__(self, label: str, done: int, total: int | None, final: bool = False):
        now = time.perf_counter()
        if label != self._label:
            self._label, self._t0, self._last = label, now, 0.0
        if not final and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._t0
        if total:
            filled = int(self.width * min(done / total, 1.0))
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r{label} [{bar}] {done:,}/{total:,} rows, {elapsed:.1f} s"
        else:
            text = f"\r{label} {done:,} rows, {elapsed:.1f} s"
        self.stream.write(text + ("\n" if final else ""))
        self.stream.flush()


def source_statistics(source, shift, n_jobs=None, progress=None, n_rows=None, label=""):
    """The E-step over a source: a function ``stats_of(log_weights, means, prec_chol,
    structure)`` (see :data:`gmmcore.engine.blockem.BlockStatistics`) summing every block's
    statistics in the source's order. ``shift`` (D,), or a callable returning it (known only
    once the start is chosen), is subtracted from every block. ``label``: a prefix of the
    progress bar's label (e.g. the restart)."""
    passes = [0]

    def stats_of(log_weights, means, prec_chol, structure):
        center = shift() if callable(shift) else shift
        passes[0] += 1
        label_ = f"{label}EM pass {passes[0]}"
        total, done = None, 0
        for block in source.blocks():
            st = e_step(
                block - center, [(0, block.shape[0])], log_weights, means, prec_chol, structure,
                n_jobs=n_jobs,
            )  # fmt: skip
            total = st if total is None else add_statistics(total, st)
            done += block.shape[0]
            if progress is not None:
                progress(label_, done, n_rows)
        if progress is not None:
            progress(label_, done, n_rows, final=True)
        return total

    return stats_of


def source_scatter(source, shift):
    """The two-pass fallback's pass over a source: ``scatter_of(log_weights, means,
    prec_chol, structure, centers)`` (see :data:`gmmcore.engine.blockem.BlockScatter`), every
    block's :func:`~gmmcore.engine.blockem.block_scatter` summed in the source's order."""

    def scatter_of(log_weights, means, prec_chol, structure, centers):
        center = shift() if callable(shift) else shift
        total = 0.0
        for block in source.blocks():
            total = total + block_scatter(
                block - center, [(0, block.shape[0])], log_weights, means, prec_chol, structure,
                centers,
            )  # fmt: skip
        return total

    return scatter_of


def _gram_of(source):
    def gram_of(shift):
        out = 0.0
        for block in source.blocks():
            c = block - shift
            out = out + c.T @ c
        return out

    return gram_of


def cached_gram(gram_of):
    """``gram_of`` computed once per shift: the restarts of one fit share the sample, hence
    the shift, and the Gram matrix costs a pass over every row."""
    cache = {}

    def cached(shift):
        key = np.asarray(shift, dtype=np.float64).tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = gram_of(shift)
        return cache[key]

    return cached


def iter_em_source(source, n_components: int = 1, **settings):
    """EM on a source of row blocks (see :mod:`gmmcore.scale.sources`), yielding snapshots
    as :func:`gmmcore.engine.em.iter_em`: the first (only) run of :func:`iter_em_source_runs`
    (same parameters, without ``n_init``)."""
    return next(iter_em_source_runs(source, n_components, n_init=1, **settings))


def iter_em_source_runs(
    source,
    n_components: int = 1,
    *,
    n_init: int = 1,
    init_sample: int = INIT_SAMPLE,
    random_state=None,
    n_jobs=None,
    progress=None,
    **em_settings,
):
    """The ``n_init`` EM runs of a fit on a source of row blocks: yields one snapshot
    iterator per restart (consume each before asking for the next; see the module docstring).

    Parameters
    ----------
    source : ArraySource, ParquetSource or CsvSource
    n_components : int
    n_init : int
        Restarts, each reading the whole source on every EM pass.
    init_sample : int
        Rows of the start's uniform sample (see the module docstring), drawn once.
    random_state : None, int or RandomState
        Seeds the sample and the initializations.
    n_jobs : int, optional
        Threads of the E-step within each block.
    progress : callable, optional
        ``progress(label, rows_done, n_rows)``, e.g. :class:`TextProgress`; with
        ``n_init > 1`` the label names the restart.
    **em_settings
        ``covariance_type``, ``tol``, ``reg_covar``, ``max_iter``, ``init_params``,
        ``weights_init``, ``means_init``, ``precisions_init``.
    """
    rng = check_random_state(random_state)
    # The sample's seed comes from a copy of the generator, so that the initialization draws
    # what it draws in iter_em: a source within init_sample rows starts exactly as in memory.
    seed = int(copy.deepcopy(rng).randint(np.iinfo(np.int32).max))
    from .sources import sample_rows

    sample, n = sample_rows(source, int(init_sample), seed)
    if n == 0:
        raise ValueError("the source has no rows to fit.")
    box = {}

    def shift():
        return box["shift"]

    gram_of = cached_gram(_gram_of(source))
    for index in range(int(n_init)):
        label = f"run {index + 1}/{n_init}, " if n_init > 1 else ""
        yield iter_em_blocks(
            source_statistics(source, shift, n_jobs, progress, n, label),
            sample,
            n,
            n_components,
            random_state=rng,
            gram_of=gram_of,
            on_shift=lambda s: box.__setitem__("shift", s),
            scatter_of=source_scatter(source, shift),
            **em_settings,
        )
