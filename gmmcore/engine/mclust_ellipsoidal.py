"""mclust's ellipsoidal models with closed-form or fixed-point M-steps: EEV, EVV, VEE, VEV.

All are stored as full (K, D, D) covariance matrices (see
:class:`~gmmcore.engine.mclust_base.EllipsoidalStructure`). With ``W_k = V_k diag(w_k) V_k^T``
the eigendecomposition of component k's scatter matrix (eigenvalues decreasing):

=====  =====================================================  ===========================
name   M-step (Celeux & Govaert 1995, section 3.1)            parameters (covariances)
=====  =====================================================  ===========================
EEV    Sigma_k = V_k diag(sum_j w_j / N) V_k^T (closed)        D + K D (D - 1) / 2
EVV    Sigma_k = lambda W_k / |W_k|^(1/D),                     1 + K (D (D + 1) / 2 - 1)
       lambda = sum_k |W_k|^(1/D) / N (closed)
VEE    alternate lambda_k = tr(W_k C^-1) / (D n_k) and         K + D (D + 1) / 2 - 1
       C ~ sum_k W_k / lambda_k, |C| = 1 (fixed point)
VEV    alternate lambda_k = sum_j w_kj / a_j / (D n_k) and     K + D - 1 + K D (D - 1) / 2
       a ~ sum_k w_k / lambda_k, |a| = 1 (fixed point)
=====  =====================================================  ===========================

The fixed-point iterations alternate exact maximizers of the expected complete-data
log-likelihood, so every inner iteration is an ascent step; they start from the previous
covariances (EM's ``previous``), or, for the first M-step, from mclust's start (unit
volumes), so that from mclust's responsibilities they reach mclust's fixed point.

The arrays are tiny (K <= ~9, D <= ~4 in model selection), so NumPy's per-call overhead is
the cost: the code below prefers matmul and broadcasting to einsum and keeps the inner loops
to a few calls each.
"""

from __future__ import annotations

import numpy as np

from . import compiled, lapack
from .mclust_base import (
    INNER_MAX_ITER,
    EllipsoidalStructure,
    _raise_unless_positive,
    equal_shape_fixed_point,
    geometric_mean,
    inner_rtol,
)

__all__ = [
    "EqualShapeVariableVolume",
    "EqualVolumeEqualShape",
    "EqualVolumeVariableShape",
    "VariableVolumeEqualShapeOrientation",
]


def _relative_change(old: float, new: float) -> float:
    # mclust's criterion for its inner loops: |new - old| / (1 + |new|).
    return abs(new - old) / (1.0 + abs(new))


def _compose(V: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """``V_k diag(variances_k) V_k^T``, (K, D, D), from (K, D, D) columns and (K, D) or (D,)
    variances."""
    return (V * variances[..., None, :]) @ V.transpose(0, 2, 1)


def _volumes(covariances: np.ndarray) -> np.ndarray:
    """``|Sigma_k|^(1/D)``, shape (K,), through slogdet (no overflow)."""
    _, logdet = np.linalg.slogdet(covariances)
    return np.exp(logdet / covariances.shape[-1])


class EqualVolumeEqualShape(EllipsoidalStructure):
    """EEV: components of one size and one shape, each with its own orientation."""

    name = mclust_name = "EEV"
    description = (
        "components with the same size and shape (ellipse lengths) but each its own orientation"
    )

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        # Sigma_k = lambda V_k A V_k^T with lambda A = sum_k diag(w_k) / N: the normalization
        # |A| = 1 cancels, so no determinant is needed (and zero eigenvalues are harmless).
        shape = ev.sum(axis=0) / nk.sum()
        _raise_unless_positive(shape, reg_covar)
        return _compose(V, shape), shape

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return d + n_components * d * (d - 1) // 2


class EqualVolumeVariableShape(EllipsoidalStructure):
    """EVV: components of one size, each with its own shape and orientation."""

    name = mclust_name = "EVV"
    description = "components with the same size, each with its own shape and orientation"
    needs_eigenvectors = False  # scales the scatter matrices themselves

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        _raise_unless_positive(ev, reg_covar)
        vol = geometric_mean(ev)  # |W_k|^(1/D)
        scale = (vol.sum() / nk.sum()) / vol
        return scale[:, None, None] * W, scale[:, None] * ev

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return 1 + n_components * (d * (d + 1) // 2 - 1)


class VariableVolumeEqualShapeOrientation(EllipsoidalStructure):
    """VEE: components with one shape and orientation, each with its own size."""

    name = mclust_name = "VEE"
    description = "components with the same shape and orientation, each with its own size"
    needs_eigenvectors = False  # its common orientation comes from its own inner loop

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        k, d, _ = W.shape
        _raise_unless_positive(ev, reg_covar)
        # mclust's start (msvee): unit volumes; otherwise the previous volumes. The first
        # update (C given the volumes) is then an ascent step from the previous parameters.
        scale = np.ones(k) if previous is None else _volumes(np.asarray(previous))
        fast = compiled.kernels("mstep")
        if fast is not None:  # the same loop compiled (~8 NumPy calls an iteration otherwise)
            scale, c_ev, c_vec, c_det = fast.equal_shape_orientation_fixed_point(
                W, np.ascontiguousarray(nk), scale, inner_rtol(previous), INNER_MAX_ITER
            )
            shape = c_ev / c_det
            return scale[:, None, None] * ((c_vec * shape) @ c_vec.T), scale[:, None] * shape
        flat = W.reshape(k, d * d)  # sums over components as (K,) @ (K, D*D) products
        n, dnk = nk.sum(), d * nk
        target = np.inf
        rtol = inner_rtol(previous)
        for _ in range(INNER_MAX_ITER):  # under m_step's kernels.serial_blas
            # C given the volumes: sum_k W_k / lambda_k scaled to |C| = 1. That sum is
            # symmetric (so is every W_k), and eigh reads one triangle anyway.
            c_ev, c_vec = lapack.eigh(((1.0 / scale) @ flat).reshape(d, d))
            c_det = geometric_mean(c_ev)  # |C|^(1/D) before scaling
            C_inv = (c_vec / c_ev) @ c_vec.T * c_det
            # The volumes given C: tr(W_k C^-1) / (D n_k), the trace as sum(W_k * C^-1)
            # (W_k symmetric).
            scale = (flat @ C_inv.ravel()) / dnk
            # -2 Q up to constants: sum_k n_k D (1 + log lambda_k) (mclust's target).
            new = float(d * (n + nk @ np.log(scale)))
            done = _relative_change(target, new) <= rtol
            target = new
            if done:
                break
        shape = c_ev / c_det  # C's eigenvalues
        return scale[:, None, None] * ((c_vec * shape) @ c_vec.T), scale[:, None] * shape

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return n_components + d * (d + 1) // 2 - 1


class EqualShapeVariableVolume(EllipsoidalStructure):
    """VEV: components with one shape, each with its own size and orientation."""

    name = mclust_name = "VEV"
    description = "components with the same shape, each with its own size and orientation"

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        _raise_unless_positive(ev, reg_covar)
        prev_ev = None
        if previous is not None:
            prev_ev = lapack.eigvalsh(np.asarray(previous))[:, ::-1]  # decreasing, as ev
        scale, shape = equal_shape_fixed_point(ev, nk, prev_ev, inner_rtol(previous))
        variances = scale[:, None] * shape
        return _compose(V, variances), variances

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return n_components + d - 1 + n_components * d * (d - 1) // 2
