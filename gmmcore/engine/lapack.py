"""Batched LAPACK on small float64 matrices without ``numpy.linalg``'s per-call wrapper.

``np.linalg.cholesky``, ``inv``, ``eigh``, ``eigvalsh`` and ``svd`` are Python wrappers
around the generalized ufuncs of ``numpy.linalg._umath_linalg``. On the matrices of model
selection (K <= ~9 of D <= ~4) the wrapper (type checks, result wrapping and an
``np.errstate`` that turns LAPACK's failure flag into ``LinAlgError``) costs as much as
LAPACK: 2-9 us of a 1-16 us call (measured: Cholesky of a 4 x 4 matrix 3.0 us against 0.9
us). The M-steps of iris's default grid make ~17,000 such calls.

The functions here call those gufuncs directly, on the same LAPACK routines with the same
signatures, so their results are bit for bit those of ``numpy.linalg``. Two differences:

* float64 only (the M-steps' dtype); any other input is converted;
* a failure is not an exception: the failed matrix's outputs are NaN (as the gufuncs leave
  them) and the floating-point "invalid" flag is raised. Callers test the results
  (``np.isfinite``) where ``numpy.linalg`` would have raised, and run under
  ``np.errstate(all="ignore")`` (one per M-step, not one per call) so that a failure is not
  also a RuntimeWarning. "all", as ``numpy.linalg`` ignores overflow, underflow and
  division too: a Cholesky factor of ``[[5e-324, 0.4], [0.4, 34]]`` overflows (found by the
  model-file fuzz test).

``_umath_linalg`` is NumPy's private module (unchanged from 1.x to 2.4). If a NumPy release
moves or changes it, the self-check below fails at import and every function falls back to
the public one (then with its overhead), with the same NaN-on-failure contract.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RAW", "cholesky", "eigh", "eigvalsh", "inv", "svd"]


def _nan_like_outputs(shapes):
    return tuple(np.full(s, np.nan) for s in shapes)


def _public_cholesky(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return _per_matrix(np.linalg.cholesky, a)


def _public_inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return _per_matrix(np.linalg.inv, a)


def _public_eigvalsh(a):
    try:
        return np.linalg.eigvalsh(a)
    except np.linalg.LinAlgError:  # pragma: no cover - LAPACK's syevd almost never fails
        return np.full(a.shape[:-1], np.nan)


def _public_eigh(a):
    try:
        return tuple(np.linalg.eigh(a))
    except np.linalg.LinAlgError:  # pragma: no cover
        return _nan_like_outputs([a.shape[:-1], a.shape])


def _public_svd(a):
    try:
        return tuple(np.linalg.svd(a))
    except np.linalg.LinAlgError:  # pragma: no cover
        return _nan_like_outputs([a.shape, a.shape[:-1], a.shape])


def _per_matrix(func, a):
    """``func`` on each matrix of a stack, NaN for those where it raises LinAlgError."""
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    for index in np.ndindex(a.shape[:-2]):
        try:
            out[index] = func(a[index])
        except np.linalg.LinAlgError:
            out[index] = np.nan
    return out


def _raw_functions():
    """The gufunc-backed functions, or None when NumPy's private module is missing or does
    not reproduce the public functions on a test matrix."""
    try:
        from numpy.linalg import _umath_linalg as raw

        def cholesky(a):
            return raw.cholesky_lo(a, signature="d->d")

        def inv(a):
            return raw.inv(a, signature="d->d")

        def eigvalsh(a):
            return raw.eigvalsh_lo(a, signature="d->d")

        def eigh(a):
            return raw.eigh_lo(a, signature="d->dd")

        def svd(a):
            return raw.svd_f(a, signature="d->ddd")

        test = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]])
        stack = np.stack([test, 2.0 * test])
        checks = [
            (cholesky(stack), np.linalg.cholesky(stack)),
            (inv(stack), np.linalg.inv(stack)),
            (eigvalsh(stack), np.linalg.eigvalsh(stack)),
            *zip(eigh(stack), np.linalg.eigh(stack), strict=True),
            *zip(svd(test), np.linalg.svd(test), strict=True),
        ]
        with np.errstate(all="ignore"):
            failed = cholesky(-stack)
        if not np.isnan(failed).all() or not all(np.array_equal(a, b) for a, b in checks):
            return None
    except Exception:  # any change of the private API: use the public functions
        return None
    return cholesky, inv, eigvalsh, eigh, svd


_RAW = _raw_functions()
#: Whether the wrapper-free gufuncs are in use (False: the public functions, same results).
RAW = _RAW is not None
if _RAW is not None:
    _cholesky, _inv, _eigvalsh, _eigh, _svd = _RAW
else:  # pragma: no cover - depends on the NumPy release
    _cholesky, _inv, _eigvalsh, _eigh, _svd = (
        _public_cholesky,
        _public_inv,
        _public_eigvalsh,
        _public_eigh,
        _public_svd,
    )


def cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors ``L`` (``L L^T = a``) of (..., D, D) symmetric matrices; a
    matrix that is not positive definite gives NaN (see the module docstring)."""
    return _cholesky(a)


def inv(a: np.ndarray) -> np.ndarray:
    """Inverses of (..., D, D) matrices (LU); a singular matrix gives NaN or inf."""
    return _inv(a)


def eigvalsh(a: np.ndarray) -> np.ndarray:
    """Eigenvalues (..., D) in ascending order of symmetric (..., D, D) matrices (the lower
    triangle is read)."""
    return _eigvalsh(a)


def eigh(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (..., D), ascending, and eigenvectors (..., D, D) as columns of symmetric
    matrices (the lower triangle is read)."""
    return _eigh(a)


def svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U, s, Vt`` with ``a = U diag(s) Vt`` for square (..., D, D) matrices (full
    matrices, as ``np.linalg.svd``'s default)."""
    return _svd(a)
