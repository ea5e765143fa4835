"""The E-step's buffers (:mod:`gmmcore.engine.estep`): a workspace per chunk size, kept from
one E-step to the next, and the feature block filled once per fit when EM promises its data
do not change (``e_step(..., reuse_features=True)``). Unchecked helpers."""

from __future__ import annotations

import numpy as np

from .kernels import FeatureLayout

__all__ = ["SPARES", "Spares", "Workspace", "Workspaces", "config_key", "fill", "give", "take"]


class Workspace:
    """Buffers for one chunk size, allocated once per E-step and reused across chunks.

    ``FT`` is the feature block in ``dtype``; ``FT64`` (laid out by ``stats_layout``) and
    ``r64``, float64 blocks of the features and the responsibilities for the statistics,
    exist only with a ``stats_layout``, i.e. for float32 data in :func:`e_step`.
    """

    __slots__ = ("rows", "FT", "FT64", "r64", "work", "wT", "top", "tot", "filled")

    def __init__(
        self, layout: FeatureLayout, rows, n_components, work_rows, dtype, stats_layout=None
    ):
        self.rows = rows
        self.FT = layout.new_block(rows, dtype)
        stats = stats_layout is not None
        self.FT64 = stats_layout.new_block(rows) if stats else None
        self.r64 = np.empty((n_components, rows)) if stats else None
        self.work = np.empty((work_rows, rows), dtype) if work_rows else None
        self.wT = np.empty((n_components, rows), dtype)
        self.top = np.empty(rows, dtype)
        self.tot = np.empty(rows, dtype)
        # (X, lo) when the feature blocks hold rows lo: lo + rows of that very array, for
        # e_step(..., reuse_features=True); None when unknown.
        self.filled = None


class Workspaces:
    """The full-size workspace, kept; tails (the last chunk of each task) get a fresh, smaller
    one, so that many tasks never hold more than two workspaces at a time."""

    def __init__(self, layout, n_components, work_rows, dtype=np.float64, stats_layout=None):
        self.args = (layout, n_components, work_rows, dtype, stats_layout)
        self.full = None

    def __getitem__(self, rows):
        if self.full is not None and self.full.rows == rows:
            return self.full
        ws = Workspace(self.args[0], rows, *self.args[1:])
        if self.full is None or rows > self.full.rows:
            self.full = ws
        return ws


class Spares:
    """Idle E-step workspaces kept from one E-step to the next (EM calls it with the same
    shapes every iteration), for the last configuration only.

    Why: a fresh workspace is fresh memory, and on this machine (a VM) first touching it
    costs more than using it: an E-step at 1e4 x 10-D x K=5 (tied) took 1.5 ms with its
    ~1.6 MB of buffers allocated per call (glibc returns them to the system between calls)
    and 0.45 ms with the same buffers kept (MALLOC_TRIM_THRESHOLD_ set high), measured. Kept:
    full-size workspaces (at most one per thread that used one) and up to MAX_TAILS of other
    sizes (the last chunk of each task). Each workspace is taken by one chunk at a time
    (``take`` pops it, ``give`` puts it back), so concurrent E-steps (threads, a threaded dask
    scheduler) never share one; a new configuration drops the old spares.
    """

    MAX_TAILS = 4

    def __init__(self):
        self.key, self.free = None, {}

    def for_config(self, key) -> dict:
        if self.key != key:
            self.key, self.free = key, {}
        return self.free


SPARES = Spares()


def take(free: dict, rows: int, make) -> Workspace:
    try:
        return free[rows].pop()
    except (KeyError, IndexError):
        return make(rows)


def give(free: dict, ws: Workspace, full_rows: int) -> None:
    if ws.rows != full_rows and ws.rows not in free and len(free) > Spares.MAX_TAILS:
        return
    free.setdefault(ws.rows, []).append(ws)


def config_key(layout: FeatureLayout, plan, k: int, work_rows: int, dtype) -> tuple:
    """What makes E-step workspaces interchangeable (the key of ``SPARES``)."""
    return (layout.n_features, layout.second_moment, plan.needs_q, k, work_rows, dtype.str)


def fill(ws: Workspace, layout: FeatureLayout, X, lo: int, hi: int, reuse: bool):
    """The feature blocks of rows lo:hi of X in ``ws``: (F, the statistics' block, and FT,
    the plan's). With ``reuse`` (see e_step's ``reuse_features``) a workspace last filled
    from the same rows of this very array is not filled again."""
    F = ws.FT if ws.FT64 is None else ws.FT64
    filled = ws.filled
    if not (reuse and filled and filled[0] is X and filled[1] == lo):
        ws.filled = None  # until the fill below is complete
        layout.fill(F, X[lo:hi])  # the statistics' layout (the plan's block is its first rows)
        if ws.FT64 is not None:  # float32: exact float64 features, rounded once for the plan
            np.copyto(ws.FT, F[: ws.FT.shape[0]])
        if reuse:
            ws.filled = (X, lo)
    return F, ws.FT
