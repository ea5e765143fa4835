"""Compiled (numba) kernels for small data, where NumPy's per-call overhead is the cost.

On the data of model selection (hundreds of rows, K <= 9, D <= ~6) one E-step is ~20 NumPy
calls on tiny arrays, and each call costs more than its arithmetic: Old Faithful's E-step
took ~40 us, of which the flops are a few. The kernel here does the same pass (weighted
log-densities, log-sum-exp, responsibilities and the statistics ``[S0 | S1 | S2]`` in the
feature layout's order) in one compiled loop, in the *difference* form ``(x - mu_k) U_k``
(no cancellation of large quadratic terms, whatever the offset of the data).

The NumPy path (:mod:`gmmcore.engine.kernels`) stays the reference and the fallback: the
tests hold the two to 1e-12 relative, and every path is used when numba is missing or
``GMMCORE_COMPILED=0`` is set in the environment. The E-step takes this path only where it
was measured faster (see :func:`use_for`); large data keep the BLAS-shaped chunks, whose
GEMMs and vectorized ``exp`` win there.

numba compiles each kernel once per machine (``cache=True`` keeps the machine code next to
this file, or in numba's user-wide cache when that is read-only); :func:`kernels` imports numba
on first use only, so importing gmmcore does not pay numba's ~0.4 s.
"""

from __future__ import annotations

import contextlib
import importlib
import os

import numpy as np

__all__ = [
    "SECOND_MOMENT_CODES",
    "disabled",
    "enabled",
    "estep_kernel",
    "kernels",
    "use_for",
]

#: second_moment -> the kernel's code for the statistics it accumulates after [S0 | S1].
SECOND_MOMENT_CODES = {"global_outer": 0, "square": 1, "outer": 2}

# Where the compiled E-step was measured faster than NumPy's one-chunk path (2-core VM, numpy
# 2.4, numba 0.68; `python -m bench.compiled`, bench/compiled-results.md): up to this many
# multiply-adds per E-step, n * K * D (D + 3) / 2, it took 0.45-0.75x NumPy's time (full,
# diag, tied at D = 2..10, K = 3 and 9, n = 300..6,000). Beyond, tied covariances (one shared
# factor, which NumPy's plan applies once and the kernel per component) lost (1.17x at
# 1,000 x 10-D x K = 9), and larger data are better served by the chunks' threads (n_jobs).
MAX_WORK = 300_000

_MODULES: dict[str, object] = {}  # name -> the imported kernels' module, or None
_OFF = False  # set by disabled()


def _switched_off() -> bool:
    return _OFF or os.environ.get("GMMCORE_COMPILED", "1") == "0"


def kernels(name: str):
    """The compiled kernels' module ``gmmcore.engine._numba_<name>`` (imported, so compiled
    or loaded from numba's cache, on first use), or None when numba is not installed or
    compiled kernels are switched off (``GMMCORE_COMPILED=0``, :func:`disabled`): callers
    then take their NumPy path."""
    if _switched_off():
        return None
    try:
        return _MODULES[name]
    except KeyError:
        try:
            module = importlib.import_module(f"{__package__}._numba_{name}")
        except ImportError:  # numba missing (or a platform without its wheels)
            module = None
        _MODULES[name] = module
        return module


def enabled() -> bool:
    """Whether compiled kernels are in use: numba importable and not switched off."""
    return kernels("estep") is not None


@contextlib.contextmanager
def disabled():
    """Every caller takes its NumPy path meanwhile (the tests' reference; not thread-safe)."""
    global _OFF
    before = _OFF
    _OFF = True
    try:
        yield
    finally:
        _OFF = before


def use_for(n_rows: int, n_components: int, n_features: int) -> bool:
    """Whether the compiled E-step should run for one chunk of this size (see MAX_WORK)."""
    work = n_rows * n_components * (n_features * (n_features + 3) // 2)
    return work <= MAX_WORK and kernels("estep") is not None


def estep_kernel(structure, means, prec_chol):
    """(densities, statistics, factors, const) for the compiled E-step of ``structure`` at
    these parameters, or None when compiled kernels are off or the structure has no
    whitening factors (a user-defined one). ``const`` (K,) is ``log det U_k - D/2 log(2 pi)``;
    see :mod:`gmmcore.engine._numba_estep` for the kernels' arguments."""
    module = kernels("estep")
    form = structure.whitening_factors(prec_chol, *means.shape)
    if module is None or form is None:
        return None
    kind, factors = form
    k, d = means.shape
    log_det = np.broadcast_to(structure.log_det_precisions_cholesky(prec_chol, d), (k,))
    const = np.ascontiguousarray(log_det - 0.5 * d * np.log(2.0 * np.pi), dtype=np.float64)
    densities = module.densities_triangular if kind == "triangular" else module.densities_diagonal
    return densities, module.statistics, np.ascontiguousarray(factors, dtype=np.float64), const
