"""The cells of a model-selection grid fitted on several processes (``model_grid(n_jobs=...)``).

A grid's cells are independent fits whose time goes mostly to Python overhead on small data
(hundreds of small NumPy calls per EM iteration), so threads would wait for each other on the
GIL: the cells run on worker processes instead. How:

* The calling process fits cells too, from the first one (cheap, small K) upwards, while the
  workers take them from the last one (K = 9) downwards; a cell is fitted here only when its
  pending job could still be cancelled, so no cell is fitted twice and the two ends meet in
  the middle. The first cell builds mclust's hierarchical tree (``init_params="hc"``), which
  the workers receive with the data instead of building it again.
* Workers are forked from a ``forkserver`` that has imported gmmcore once (``spawn`` where
  there is no forkserver, i.e. Windows): starting them costs a fraction of a second, during
  which this process is already fitting. As with every multiprocessing start method but
  ``fork``, each worker imports the caller's main module first, so a script that asks for
  ``n_jobs`` other than 1 must call from under ``if __name__ == "__main__":`` (the command
  line, the dashboard and pytest do). Code read from stdin has no module to import: there
  the cells run in this process.
* Results are the same as in one process, bit for bit: each cell is fitted by the same
  function, with the same arguments and seed, with single-threaded BLAS in every process.
* Warnings a worker's cell raises are re-raised here; a worker that dies (killed, out of
  memory) costs only time: its cells are fitted here.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .engine import hierarchical, kernels

__all__ = ["run_cells", "single_threaded_blas"]

# Set in each worker process by _init_worker: (fit_cell, shared arguments).
_WORKER: tuple[Callable, tuple] | None = None


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
    # Imported once by the forkserver, so each forked worker starts with gmmcore loaded.
    ctx.set_forkserver_preload(["gmmcore.selection"])
    return ctx


def _main_is_importable() -> bool:
    """False when the main module names a file that does not exist (``python - < x.py``):
    every worker would fail to import it."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    return spec is not None or path is None or os.path.exists(path)


def _init_worker(fit_cell, shared, trees, serial_blas, setup):
    global _WORKER
    if setup is not None:
        setup[0](*setup[1])
    hierarchical.remember_trees(trees)
    _WORKER = (fit_cell, shared)
    if serial_blas:
        # For the worker's whole life: the limit object applies on creation.
        single_threaded_blas().__enter__()


def _run_in_worker(cell):
    fit_cell, shared = _WORKER
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_cell(*shared, *cell)
    return result, [(w.category, str(w.message)) for w in caught]


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
    with single_threaded_blas() if serial_blas else contextlib.nullcontext():

        def here(i):
            results[i] = fit_cell(*shared, *cells[i])
            on_done(i, results[i])

        n_workers = min(n_jobs - 1, len(cells) - 1)
        if n_workers < 1 or not _main_is_importable():
            for i in range(len(cells)):
                here(i)
            return results
        here(0)  # builds the hierarchical tree the workers then receive
        initargs = (fit_cell, shared, hierarchical.cached_trees(), serial_blas, worker_setup)
        pool = None
        try:
            pool = ProcessPoolExecutor(
                n_workers, mp_context=_context(), initializer=_init_worker, initargs=initargs
            )
            # The workers start (and their arguments are pickled) at the first submit.
            futures = {
                i: pool.submit(_run_in_worker, cells[i]) for i in range(len(cells) - 1, 0, -1)
            }
        except Exception:  # noqa: BLE001 - cannot be sent (a local class), or no processes here
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            for i in range(1, len(cells)):
                here(i)
            return results
        with pool:

            def collect(block: bool):
                for i in sorted(futures):
                    future = futures[i]
                    if not (block or future.done()):
                        continue
                    del futures[i]
                    try:
                        result, caught = future.result()
                    except BrokenProcessPool:
                        here(i)  # the worker died: fit its cell here
                        continue
                    for category, message in caught:
                        warnings.warn(message, category, stacklevel=4)
                    results[i] = result
                    on_done(i, result)

            for i in range(1, len(cells)):
                collect(block=False)
                if i in futures and futures[i].cancel():
                    del futures[i]
                    here(i)
            collect(block=True)
    return results
