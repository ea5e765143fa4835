"""EM on a source streamed in row blocks on every pass (files larger than memory).

:func:`iter_em_source` is :func:`gmmcore.engine.blockem.iter_em_blocks` with the E-step
``source_statistics``: every block of the source, centered on the shift, goes through the
ordinary chunked E-step (:func:`gmmcore.engine.estep.e_step`, on ``n_jobs`` threads), and the
blocks' statistics are summed in the file's order. Peak memory: one block, its centered
copy and the E-step's per-thread buffers, whatever the file's size.

The start: a uniform sample of ``init_sample`` rows (:func:`gmmcore.scale.sources.sample_rows`,
one extra pass, seeded by ``random_state``), on which ``init_params`` runs; its median is the
shift. A file with at most ``init_sample`` rows gives the same start as loading it.
"""

from __future__ import annotations

import copy
import sys
import time

import numpy as np

from ..engine.blockem import add_statistics, iter_em_blocks
from ..engine.estep import e_step
from ..engine.validation import check_random_state

__all__ = ["INIT_SAMPLE", "TextProgress", "iter_em_source", "source_statistics"]

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


def source_statistics(source, shift, n_jobs=None, progress=None, n_rows=None):
    """The E-step over a source: a function ``stats_of(log_weights, means, prec_chol,
    structure)`` (see :data:`gmmcore.engine.blockem.BlockStatistics`) summing every block's
    statistics in the source's order. ``shift`` (D,), or a callable returning it (known only
    once the start is chosen), is subtracted from every block."""
    passes = [0]

    def stats_of(log_weights, means, prec_chol, structure):
        center = shift() if callable(shift) else shift
        passes[0] += 1
        label = f"EM pass {passes[0]}"
        total, done = None, 0
        for block in source.blocks():
            st = e_step(
                block - center, [(0, block.shape[0])], log_weights, means, prec_chol, structure,
                n_jobs=n_jobs,
            )  # fmt: skip
            total = st if total is None else add_statistics(total, st)
            done += block.shape[0]
            if progress is not None:
                progress(label, done, n_rows)
        if progress is not None:
            progress(label, done, n_rows, final=True)
        return total

    return stats_of


def _gram_of(source):
    def gram_of(shift):
        out = 0.0
        for block in source.blocks():
            c = block - shift
            out = out + c.T @ c
        return out

    return gram_of


def iter_em_source(
    source,
    n_components: int = 1,
    *,
    init_sample: int = INIT_SAMPLE,
    random_state=None,
    n_jobs=None,
    progress=None,
    **em_settings,
):
    """EM on a source of row blocks (see :mod:`gmmcore.scale.sources`), yielding snapshots
    as :func:`gmmcore.engine.em.iter_em`.

    Parameters
    ----------
    source : ArraySource, ParquetSource or CsvSource
    n_components : int
    init_sample : int
        Rows of the start's uniform sample (see the module docstring).
    random_state : None, int or RandomState
        Seeds the sample and the initialization.
    n_jobs : int, optional
        Threads of the E-step within each block.
    progress : callable, optional
        ``progress(label, rows_done, n_rows)``, e.g. :class:`TextProgress`.
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
    shift_box = {}
    stats_of = source_statistics(source, lambda: shift_box["shift"], n_jobs, progress, n)
    return iter_em_blocks(
        stats_of,
        sample,
        n,
        n_components,
        random_state=rng,
        gram_of=_gram_of(source),
        on_shift=lambda s: shift_box.__setitem__("shift", s),
        **em_settings,
    )
