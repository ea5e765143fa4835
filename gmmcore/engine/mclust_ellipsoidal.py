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
"""

from __future__ import annotations

import numpy as np

from .mclust_base import (
    INNER_MAX_ITER,
    EllipsoidalStructure,
    _raise_unless_positive,
    geometric_mean,
    inner_rtol,
    parameters_converged,
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
        return np.einsum("kij,j,klj->kil", V, shape, V)

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return d + n_components * d * (d - 1) // 2


class EqualVolumeVariableShape(EllipsoidalStructure):
    """EVV: components of one size, each with its own shape and orientation."""

    name = mclust_name = "EVV"
    description = "components with the same size, each with its own shape and orientation"

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        _raise_unless_positive(ev, reg_covar)
        vol = geometric_mean(ev)  # |W_k|^(1/D)
        return (vol.sum() / nk.sum()) * (W / vol[:, None, None])

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return 1 + n_components * (d * (d + 1) // 2 - 1)


class VariableVolumeEqualShapeOrientation(EllipsoidalStructure):
    """VEE: components with one shape and orientation, each with its own size."""

    name = mclust_name = "VEE"
    description = "components with the same shape and orientation, each with its own size"

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        k, d, _ = W.shape
        _raise_unless_positive(ev, reg_covar)
        # mclust's start (msvee): unit volumes; otherwise the previous volumes. The first
        # update (C given the volumes) is then an ascent step from the previous parameters.
        scale = np.ones(k) if previous is None else _volumes(np.asarray(previous))
        target = np.inf
        rtol = inner_rtol(previous)
        for _ in range(INNER_MAX_ITER):  # under m_step's kernels.serial_blas
            S = np.tensordot(1.0 / scale, W, axes=1)
            S = 0.5 * (S + S.T)
            c_ev, c_vec = np.linalg.eigh(S)
            C_inv = (c_vec / c_ev) @ c_vec.T * geometric_mean(c_ev)
            scale = np.einsum("kij,ji->k", W, C_inv) / (d * nk)
            # -2 Q up to constants: sum_k n_k D (1 + log lambda_k) (mclust's target).
            new = float(d * (nk.sum() + (nk * np.log(scale)).sum()))
            done = _relative_change(target, new) <= rtol
            target = new
            if done:
                break
        C = (c_vec * c_ev) @ c_vec.T / geometric_mean(c_ev)
        return scale[:, None, None] * C[None]

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return n_components + d * (d + 1) // 2 - 1


class EqualShapeVariableVolume(EllipsoidalStructure):
    """VEV: components with one shape, each with its own size and orientation."""

    name = mclust_name = "VEV"
    description = "components with the same shape, each with its own size and orientation"

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        k, d, _ = W.shape
        _raise_unless_positive(ev, reg_covar)
        if previous is None:
            shape = np.ones(d)  # mclust's start (msvev)
        else:
            # The previous common shape: sorted eigenvalues over volume, averaged (exact when
            # the previous covariances are VEV, as EM's are).
            prev = np.asarray(previous)
            prev_ev = np.linalg.eigvalsh(prev)[:, ::-1]
            shape = (prev_ev / geometric_mean(prev_ev)[:, None]).mean(axis=0)
            shape /= geometric_mean(shape)
        # Orientations are the eigenvectors of W_k whatever the shape (eigenvalues in the
        # same decreasing order as the shape's), so only volumes and shape iterate.
        scale = None
        rtol = inner_rtol(previous)
        for _ in range(INNER_MAX_ITER):
            old = (scale, shape)
            scale = (ev / shape).sum(axis=1) / (d * nk)
            shape = (ev / scale[:, None]).sum(axis=0)
            shape /= geometric_mean(shape)
            if old[0] is not None and parameters_converged(old, (scale, shape), rtol):
                break
        return np.einsum("kij,kj,klj->kil", V, scale[:, None] * shape, V)

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return n_components + d - 1 + n_components * d * (d - 1) // 2
