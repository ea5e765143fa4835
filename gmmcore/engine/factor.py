"""Precision Cholesky factors of small covariance matrices, batched.

Every full-matrix structure (full/VVV, tied/EEE and mclust's ellipsoidal models) turns its
covariances into the factors ``U`` with ``U U^T = Sigma^-1`` once per M-step. One batched
NumPy factorization and inversion of the K small matrices replaces a loop of K scipy calls:
the loop cost ~240 us per M-step on Old Faithful, almost all of it call overhead, and under
load a 2 x 2 scipy ``solve_triangular`` took milliseconds (OpenBLAS waking its threads).
"""

from __future__ import annotations

import numpy as np

from . import kernels, lapack
from .covariance import IllConditionedCovarianceError

__all__ = ["precisions_cholesky"]


def precisions_cholesky(covariances: np.ndarray, reg_covar: float = 0.0) -> np.ndarray:
    """Upper-triangular ``U`` with ``U U^T = inv(Sigma)`` for each covariance.

    Parameters
    ----------
    covariances : ndarray of shape (K, D, D) or (D, D)
        Symmetric positive definite matrices.
    reg_covar : float
        Only quoted by the error.

    Returns
    -------
    ndarray of the same shape
        ``U = inv(L)^T`` for the lower Cholesky factor ``L`` of each covariance.

    Raises
    ------
    IllConditionedCovarianceError
        Naming the first component (None for a single (D, D) matrix) that is not
        numerically positive definite.
    """
    single = covariances.ndim == 2
    stack = covariances[None] if single else covariances
    # Tiny LAPACK calls (see kernels.SERIAL_BLAS) without NumPy's wrapper (see lapack): a
    # matrix that is not positive definite gives a NaN factor, tested here.
    with kernels.serial_blas(), np.errstate(all="ignore"):
        chol = lapack.cholesky(stack)
        if not np.isfinite(chol).all():
            _raise_first_not_positive_definite(stack, reg_covar, single)
        inverse = lapack.inv(chol)
    # The inverse of a lower-triangular factor is lower triangular; the mask drops the rounding
    # residue LU's pivoting may leave above the diagonal (np.tril builds its mask every call:
    # ~10 us, a tenth of a small M-step).
    inverse *= _lower_mask(inverse.shape[-1])
    out = inverse.transpose(0, 2, 1).copy()
    return out[0] if single else out


_LOWER_MASKS: dict[int, np.ndarray] = {}


def _lower_mask(d: int) -> np.ndarray:
    """1.0 on and below the diagonal, 0.0 above, shape (D, D); cached per D."""
    mask = _LOWER_MASKS.get(d)
    if mask is None:
        mask = _LOWER_MASKS.setdefault(d, np.tri(d))
        mask.flags.writeable = False
    return mask


def _raise_first_not_positive_definite(stack, reg_covar, single):
    for j, cov in enumerate(stack):
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            chol = None
        if chol is None or not np.isfinite(chol).all():
            raise IllConditionedCovarianceError(None if single else j, reg_covar)
    raise IllConditionedCovarianceError(None if single else 0, reg_covar)  # pragma: no cover
