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
  start (~0.3 s, once per process) costs nothing but the worker's late arrival. Workers are
  kept for the next grid (see ``_Pool``): a grid sends them its job (the function, the data,
  the cells) and a generation number, and a worker only claims cells of the current
  generation; one idle for _IDLE_EXIT_S exits. As with every
  multiprocessing start method but ``fork``, each worker imports the caller's main module
  first, so a script that asks for ``n_jobs`` other than 1 must call from under
  ``if __name__ == "__main__":`` (the command line, the dashboard and pytest do). Code read
  from stdin has no module to import: there the cells run in this process.
* Results are the same as in one process, bit for bit: each cell is fitted by the same
  function, with the same arguments and seed, with single-threaded BLAS in every process
  (mclust's hierarchical tree is deterministic: a worker builds the same one).
* Warnings a worker's cell raises are re-raised here; a worker that cannot start or dies
  (killed, out of memory) costs only time: its cells are fitted here, and the next grid
  starts a new worker.
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
    factorizations), where BLAS's threads only wait for each other on a shared machine
    (Old Faithful's default grid took 8-37 s instead of ~3 s on 2 shared cores while scipy's
    BLAS kept its threads; the same numbers either way: results do not depend on BLAS's
    thread count). Held once for the whole grid, the engine's per-call switch
    (kernels.serial_blas, ~10 us per M-step and E-step) has nothing left to do."""
    if not kernels.SERIAL_BLAS:
        return contextlib.nullcontext()
    controller = kernels.blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return _held(controller.limit(limits=1, user_api="blas"))


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


def _claim(lock, low, high, from_top: bool, generation, gen: int) -> int | None:
    """The next cell index from one end of the shared range [low, high] of grid ``gen``, or
    None when empty, when ``generation`` has moved on to another grid, or when the lock cannot
    be had (see _LOCK_TIMEOUT_S)."""
    if not lock.acquire(timeout=_LOCK_TIMEOUT_S):
        return None
    try:
        if generation.value != gen or low.value > high.value:
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


# A worker with no grid to work on for this long exits; the next grid starts a new one.
_IDLE_EXIT_S = 300.0


def _pin(index: int) -> None:
    """Keep worker ``index`` on one CPU of its own: the last allowed one for worker 0, the one
    before for worker 1, ..., never the first (the calling process is left free to run
    anywhere), and only when there are more CPUs than workers need.

    Why: a worker idle between grids sleeps on its queue, and the grid's job wakes it on the
    CPU of the process that sent it (Linux's wake-affine placement), where both then share
    one core until the load balancer separates them. Measured on iris's default grid on 2
    cores, a grid after a 1 s pause took 0.49-0.61 s with the worker free and 0.39-0.45 s with
    it pinned (0.40-0.42 s back to back either way)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows: no affinity to set
        return
    if index + 1 < len(cpus):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpus[-1 - index]})


def _worker_main(index, lock, low, high, generation, jobs, results):
    """A worker's life: wait for a grid's job, claim its cells from the top end, fit them, put
    (generation, index, result, warnings) on ``results`` until the two ends meet; then wait for
    the next grid. A job of an older generation (a grid that ended without this worker) finds
    nothing to claim. Exits after _IDLE_EXIT_S without a job, or on ``None``."""
    from multiprocessing.reduction import ForkingPickler

    _pin(index)
    while True:
        try:
            payload = jobs.get(timeout=_IDLE_EXIT_S)
        except queue.Empty:
            return
        if payload is None:
            return
        gen, fit_cell, shared, cells, serial_blas, setup = ForkingPickler.loads(payload)
        if setup is not None:
            setup[0](*setup[1])
        with single_threaded_blas() if serial_blas else contextlib.nullcontext():
            while (i := _claim(lock, low, high, True, generation, gen)) is not None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = fit_cell(*shared, *cells[i])
                results.put((gen, i, result, [(w.category, str(w.message)) for w in caught]))


class _Pool:
    """Worker processes kept from one grid to the next, with the shared state they inherit.

    Why kept: a worker forked per grid arrived ~0.2 s after the grid started (fork from the
    forkserver, importing the caller's main module, building the hierarchical tree), a third
    of Old Faithful's whole default grid on two cores, and the grid then waited ~0.1 s more
    for it to exit. A kept worker takes its first cell within milliseconds, and keeps its
    hierarchical trees (cached by the data) for the next grid on the same data, as the
    dashboard runs them.
    """

    def __init__(self):
        self.ctx = _context()
        self.lock = self.ctx.Lock()
        self.low = self.ctx.Value("l", 0, lock=False)
        self.high = self.ctx.Value("l", -1, lock=False)
        self.generation = self.ctx.Value("l", 0, lock=False)
        self.jobs = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.workers: dict = {}  # worker index (its CPU, see _pin) -> process
        # Held by the thread whose grid uses the workers (one grid at a time: the counters and
        # queues are shared); a second concurrent grid runs in its own thread instead.
        self.busy = threading.Lock()
        self.starting: threading.Thread | None = None

    def ensure_workers(self, n: int) -> None:
        """At least ``n`` live workers, the missing ones started from a background thread (so
        that the caller fits cells meanwhile)."""
        if self.starting is not None and self.starting.is_alive():
            return  # the previous start is still under way; this grid uses what is there
        self.workers = {i: p for i, p in self.workers.items() if p.is_alive()}
        missing = n - len(self.workers)
        if missing <= 0:
            return
        args = (self.lock, self.low, self.high, self.generation, self.jobs, self.results)
        free = [i for i in range(n) if i not in self.workers][:missing]

        def start():
            for index in free:
                process = self.ctx.Process(target=_worker_main, args=(index, *args), daemon=True)
                try:
                    process.start()
                except Exception:  # noqa: BLE001 - no processes here
                    return
                self.workers[index] = process

        self.starting = threading.Thread(target=start, name="gmmcore-grid-start", daemon=True)
        self.starting.start()

    def open_grid(self, n_cells: int) -> int:
        """A new generation whose cells are 0 .. n_cells - 1; returns its number."""
        with self.lock:
            self.generation.value += 1
            self.low.value, self.high.value = 0, n_cells - 1
            return self.generation.value

    def close_grid(self) -> None:
        """No cell left to claim (workers of this generation stop after their current cell)."""
        with self.lock:
            self.low.value, self.high.value = 0, -1

    def any_dead(self) -> bool:
        return any(not p.is_alive() for p in list(self.workers.values()))


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = _Pool()
        return _POOL


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
        Called in each worker before its first cell of this grid (e.g. registering a
        covariance structure the caller registered at run time: workers start from gmmcore
        as imported, and are kept from one grid to the next).

    Everything sent to the workers must pickle; when it does not (a structure defined in a
    function, say), every cell runs in this process.
    """
    results: list = [None] * len(cells)
    done = [False] * len(cells)

    def finish(i, result):
        if not done[i]:  # a cell refitted here after its worker died may still report
            results[i], done[i] = result, True
            on_done(i, result)

    n_workers = min(n_jobs - 1, len(cells) - 1)
    pool = _pool() if n_workers >= 1 and _main_is_importable() else None
    if pool is not None and not pool.busy.acquire(blocking=False):
        pool = None  # another thread's grid (another dashboard session) holds the workers
    try:
        with single_threaded_blas() if serial_blas else contextlib.nullcontext():
            message = (
                None
                if pool is None
                else _job(pool, len(cells), fit_cell, shared, cells, serial_blas, worker_setup)
            )
            if message is None:
                for i in range(len(cells)):
                    finish(i, fit_cell(*shared, *cells[i]))
            else:
                _run_with_workers(pool, message, n_workers, fit_cell, shared, cells, finish)
                for i in range(len(cells)):
                    if not done[i]:  # claimed by a worker that died (or never reported)
                        finish(i, fit_cell(*shared, *cells[i]))
    finally:
        if pool is not None:
            pool.close_grid()
            pool.busy.release()
    return results


def _job(pool, n_cells, fit_cell, shared, cells, serial_blas, setup) -> tuple | None:
    """Open a grid on ``pool`` and serialize its job for the workers: (generation, bytes), or
    None when something in it does not serialize (a structure defined in a function, say).
    Serialized here, in the calling thread, with multiprocessing's own serializer (what its
    queues use), so that the failure is known before any worker waits for the job."""
    from multiprocessing.reduction import ForkingPickler

    gen = pool.open_grid(n_cells)
    try:
        return gen, bytes(ForkingPickler.dumps((gen, fit_cell, shared, cells, serial_blas, setup)))
    except Exception:  # noqa: BLE001 - anything the pickler refuses
        return None


def _run_with_workers(pool, message, n_workers, fit_cell, shared, cells, finish) -> None:
    """run_cells with the pool held: send the job, fit cells from the bottom end while the
    workers take them from the top, and hand every result to ``finish(i, result)``; returns
    when every cell reported or a worker died (its claimed cell is then left unreported)."""
    gen, payload = message
    pool.ensure_workers(n_workers)
    for _ in range(n_workers):
        pool.jobs.put(payload)
    reported = set()

    def drain(timeout=None):
        try:
            g, i, result, caught = (
                pool.results.get(timeout=timeout) if timeout else pool.results.get_nowait()
            )
        except queue.Empty:
            return False
        if g != gen:
            return True  # a cell of an older grid, finished after that grid ended
        for category, text in caught:
            warnings.warn(text, category, stacklevel=5)
        reported.add(i)
        finish(i, result)
        return True

    while (i := _claim(pool.lock, pool.low, pool.high, False, pool.generation, gen)) is not None:
        reported.add(i)
        finish(i, fit_cell(*shared, *cells[i]))
        while drain():
            pass
    # The rest were claimed by workers: wait for them, unless one died meanwhile.
    while len(reported) < len(cells):
        if not drain(timeout=0.05) and pool.any_dead():
            break
    while drain():
        pass
