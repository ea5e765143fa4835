"""The cells of a model-selection grid fitted on several processes (``model_grid(n_jobs=...)``).

A grid's cells are independent fits whose time goes mostly to Python overhead on small data
(hundreds of small NumPy calls per EM iteration), so threads would wait for each other on the
GIL: the cells run on worker processes instead. How:

* The cells are shared out from both ends of one list: this process fits from the first cell
  (cheap, small K) upwards, the workers from the last one (K = 9) downwards, each claiming its
  next cell under a lock on two shared counters, until the ends meet. No cell is fitted
  twice, nobody waits for a dispatcher between cells (a process pool's manager thread needs
  this process's GIL for every hand-over, which left the worker idle), and results come back
  on a queue that this process reads between its own cells.
* Workers are forked from a ``forkserver`` that has imported gmmcore, scipy.linalg and
  threadpoolctl once (``spawn`` where there is no forkserver, i.e. Windows). They are started
  from a background thread, so this process fits from the first moment; the forkserver's own
  start (~0.3 s, once per process) costs nothing but the worker's late arrival. As with every
  multiprocessing start method but ``fork``, each worker imports the caller's main module
  first, so a script that asks for ``n_jobs`` other than 1 must call from under
  ``if __name__ == "__main__":`` (the command line, the dashboard and pytest do). Code read
  from stdin has no module to import: there the cells run in this process.
* Results are the same as in one process, bit for bit: each cell is fitted by the same
  function, with the same arguments and seed, with single-threaded BLAS in every process
  (mclust's hierarchical tree is deterministic: a worker builds the same one).
* Warnings a worker's cell raises are re-raised here; a worker that cannot start or dies
  (killed, out of memory) costs only time: its cells are fitted here.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import warnings
from collections.abc import Callable, Sequence

from .engine import kernels

__all__ = ["run_cells", "single_threaded_blas"]

# Modules every worker needs, imported once by the forkserver rather than by each worker.
_PRELOAD = ["gmmcore.selection", "scipy.linalg", "threadpoolctl"]


def single_threaded_blas():
    """A context holding every loaded BLAS (numpy's and scipy's) at one thread; a no-op
    without threadpoolctl or with GMMCORE_SERIAL_BLAS=0.

    A grid on small data makes only small BLAS calls (N x D x K products, D x D
    factorizations), where BLAS's threads only wait for each other on a shared machine. The
    engine's own switch (kernels.serial_blas) knows only the BLAS libraries loaded when it was
    first used, which can miss scipy's (scipy.linalg is imported lazily and ships its own
    OpenBLAS): scipy's 2 x 2 solve_triangular then took ~450 us instead of ~10 us, and Old
    Faithful's default grid 8-37 s instead of ~3 s (2 shared cores; the same numbers either
    way: results do not depend on BLAS's thread count)."""
    if not kernels.SERIAL_BLAS:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    from scipy import linalg  # noqa: F401  (loaded first, so its OpenBLAS is limited too)

    return _held(threadpool_limits(limits=1, user_api="blas"))


@contextlib.contextmanager
def _held(limits):
    # The engine's own per-call switch (kernels.serial_blas) has nothing left to do meanwhile.
    with limits, kernels.held_serial():
        yield


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _main_is_importable() -> bool:
    """False when the main module names a file that does not exist (``python - < x.py``):
    every worker would fail to import it."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    return spec is not None or path is None or os.path.exists(path)


# A process killed while it held the counters' lock (a window of a few instructions) would
# leave the others waiting forever: after this long they stop claiming, and the calling
# process fits whatever was never reported.
_LOCK_TIMEOUT_S = 30.0


def _claim(lock, low, high, from_top: bool) -> int | None:
    """The next cell index from one end of the shared range [low, high], or None when empty
    (or when the lock cannot be had, see _LOCK_TIMEOUT_S)."""
    if not lock.acquire(timeout=_LOCK_TIMEOUT_S):
        return None
    try:
        if low.value > high.value:
            return None
        if from_top:
            i = high.value
            high.value -= 1
        else:
            i = low.value
            low.value += 1
        return i
    finally:
        lock.release()


def _worker_main(fit_cell, shared, cells, serial_blas, setup, lock, low, high, results):
    """A worker's life: claim cells from the top end, fit them, put (index, result, warnings)
    on ``results``, until the two ends meet."""
    if setup is not None:
        setup[0](*setup[1])
    with single_threaded_blas() if serial_blas else contextlib.nullcontext():
        while (i := _claim(lock, low, high, from_top=True)) is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fit_cell(*shared, *cells[i])
            results.put((i, result, [(w.category, str(w.message)) for w in caught]))


def run_cells(
    fit_cell: Callable,
    shared: tuple,
    cells: Sequence[tuple],
    n_jobs: int,
    on_done: Callable[[int, object], object],
    *,
    serial_blas: bool = False,
    worker_setup: tuple[Callable, tuple] | None = None,
) -> list:
    """``[fit_cell(*shared, *cell) for cell in cells]``, on ``n_jobs`` processes.

    Parameters
    ----------
    fit_cell : module-level function (workers import it by name)
    shared : tuple
        The leading arguments of every call (the data, fitting settings); sent to each
        worker once.
    cells : sequence of tuples
        The trailing arguments of each call.
    n_jobs : int
        Processes in all, this one included (>= 1; 1 runs everything here).
    on_done : callable
        ``on_done(index, result)``, called in this process as each cell finishes (in
        completion order, not cell order).
    serial_blas : bool
        Hold BLAS at one thread in every process (see :func:`single_threaded_blas`).
    worker_setup : (module-level function, args), optional
        Called in each worker before its first cell (e.g. registering a covariance structure
        the caller registered at run time: workers start from gmmcore as imported).

    Everything sent to the workers must pickle; when it does not (a structure defined in a
    function, say), every cell runs in this process.
    """
    results: list = [None] * len(cells)
    done = [False] * len(cells)

    def finish(i, result):
        results[i], done[i] = result, True
        on_done(i, result)

    n_workers = min(n_jobs - 1, len(cells) - 1)
    with single_threaded_blas() if serial_blas else contextlib.nullcontext():
        if n_workers < 1 or not _main_is_importable():
            for i in range(len(cells)):
                finish(i, fit_cell(*shared, *cells[i]))
            return results
        ctx = _context()
        lock = ctx.Lock()
        low, high = ctx.Value("l", 0, lock=False), ctx.Value("l", len(cells) - 1, lock=False)
        reported = ctx.Queue()
        workers: list = []
        args = (fit_cell, shared, cells, serial_blas, worker_setup, lock, low, high, reported)

        def start():
            for _ in range(n_workers):
                process = ctx.Process(target=_worker_main, args=args, daemon=True)
                try:
                    process.start()
                except Exception:  # noqa: BLE001 - cannot be pickled, or no processes here
                    return
                workers.append(process)

        def drain(timeout=None):
            try:
                i, result, caught = (
                    reported.get(timeout=timeout) if timeout else reported.get_nowait()
                )
            except queue.Empty:
                return False
            for category, message in caught:
                warnings.warn(message, category, stacklevel=4)
            finish(i, result)
            return True

        starter = threading.Thread(target=start, name="gmmcore-grid-start", daemon=True)
        starter.start()
        try:
            while (i := _claim(lock, low, high, from_top=False)) is not None:
                finish(i, fit_cell(*shared, *cells[i]))
                while drain():
                    pass
            if all(done):
                # Every cell reported (a small grid, done before a worker arrived): the
                # workers find nothing to claim and exit by themselves; do not wait for them.
                return results
            starter.join()
            while any(p.is_alive() for p in workers):
                drain(timeout=0.05)
            while drain(timeout=0.05):  # what the last worker put before exiting
                pass
        except BaseException:  # an error here (e.g. in on_done): leave no worker behind
            starter.join()
            for p in workers:
                p.terminate()
            raise
        finally:
            for p in workers if starter.ident and not starter.is_alive() else ():
                p.join()
        for i in range(len(cells)):
            if not done[i]:  # claimed by a worker that died (or never reported): fit it here
                finish(i, fit_cell(*shared, *cells[i]))
    return results
