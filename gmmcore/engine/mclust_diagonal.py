"""mclust's round and axis-aligned models not built in: EII, EEI, VEI, EVI (and E, V in 1-D).

``Sigma_k = lambda_k B_k`` with ``B_k`` diagonal and ``|B_k| = 1`` (Celeux & Govaert 1995,
section 3.2). Built in already: VII (``spherical``) and VVI (``diag``).

=====  ===========  =================================  ======================================
name   stored as    M-step                             parameters (covariance part)
=====  ===========  =================================  ======================================
EII    (K,) equal   tr(W) / (N D)                      1
EEI    (D,) common  diag(W) / N                        D
VEI    (K, D)       fixed point on lambda_k and B      K + D - 1
EVI    (K, D)       closed form                        1 + K (D - 1)
E      (K,) equal   as EII, one feature only           1
V      (K,)         as VII, one feature only           K
=====  ===========  =================================  ======================================

``W = sum_k W_k`` is the pooled within-component scatter and ``N = sum_k n_k``.
"""

from __future__ import annotations

import numpy as np

from .mclust_base import (
    DiagonalStructure,
    _raise_unless_positive,
    equal_shape_fixed_point,
    geometric_mean,
    inner_rtol,
    scatter_diagonals,
)

__all__ = [
    "EqualDiagonal",
    "EqualRound",
    "EqualVolumeDiagonal",
    "UnivariateEqual",
    "UnivariateVarying",
    "VariableVolumeDiagonal",
]


def _pooled_diagonal(nk, means, S2, reg_covar) -> np.ndarray:
    """diag(W + N reg_covar I), shape (D,), from the responsibility-free ``S2 = Xc^T Xc``."""
    w = np.diagonal(S2) - (nk[:, None] * means**2).sum(axis=0)
    return np.maximum(w, 0.0) + nk.sum() * reg_covar


class EqualRound(DiagonalStructure):
    """EII: round components, all with one variance. Stored as (K,) equal variances."""

    name = mclust_name = "EII"
    description = "every component is round, and all have the same size"
    second_moment = "global_outer"
    # One variance shared by all; stored per component (like spherical) so that arrays, plots
    # and the model file look like VII's, but reported as one shared covariance.
    common_covariance = True
    storage = "round"

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        w = _pooled_diagonal(nk, means, S2, reg_covar)
        var = w.sum() / (nk.sum() * w.size)
        return np.full(nk.shape, var), np.array([var - reg_covar])

    def n_cov_parameters(self, n_components, n_features):
        return 1

    def expected_shape(self, n_components, n_features):
        return (n_components,)


class EqualDiagonal(DiagonalStructure):
    """EEI: one axis-aligned covariance shared by all components. Stored as (D,)."""

    name = mclust_name = "EEI"
    description = "all components share one axis-aligned (diagonal) covariance"
    second_moment = "global_outer"
    common_covariance = True
    storage = "common"

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        var = _pooled_diagonal(nk, means, S2, reg_covar) / nk.sum()
        return var, np.array([var.min() - reg_covar])

    def n_cov_parameters(self, n_components, n_features):
        return n_features

    def expected_shape(self, n_components, n_features):
        return (n_features,)


class VariableVolumeDiagonal(DiagonalStructure):
    """VEI: axis-aligned components with one shape and their own sizes. Stored as (K, D).

    No closed form: alternate ``lambda_k = sum_d w_kd / B_d / (D n_k)`` and
    ``B ~ sum_k w_k / lambda_k`` (normalized to determinant 1), each the exact maximizer
    given the other (Celeux & Govaert 1995, eqs. 19-20), as mclust's ``msvei``: see
    :func:`~gmmcore.engine.mclust_base.equal_shape_fixed_point`, shared with VEV.
    """

    name = mclust_name = "VEI"
    description = "axis-aligned components with the same shape but their own sizes"

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        w = scatter_diagonals(nk, means, S2, reg_covar)
        _raise_unless_positive(w.sum(axis=0), reg_covar)
        prev = None if previous is None else np.asarray(previous)
        scale, shape = equal_shape_fixed_point(w, nk, prev, inner_rtol(previous))
        cov = scale[:, None] * shape
        return cov, cov.min(axis=1) - reg_covar

    def n_cov_parameters(self, n_components, n_features):
        return n_components + n_features - 1

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features)


class EqualVolumeDiagonal(DiagonalStructure):
    """EVI: axis-aligned components of one size, each with its own shape. Stored as (K, D).

    Closed form: ``B_k = diag(W_k) / |diag(W_k)|^(1/D)`` and
    ``lambda = sum_k |diag(W_k)|^(1/D) / N`` (Celeux & Govaert 1995, section 3.2).
    """

    name = mclust_name = "EVI"
    description = "axis-aligned components of the same size, each with its own shape"

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        w = scatter_diagonals(nk, means, S2, reg_covar)
        _raise_unless_positive(w, reg_covar)
        g = geometric_mean(w)
        cov = (g.sum() / nk.sum()) * (w / g[:, None])
        return cov, cov.min(axis=1) - reg_covar

    def n_cov_parameters(self, n_components, n_features):
        return 1 + n_components * (n_features - 1)

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features)


def _one_feature(name: str, S2) -> None:
    if S2.shape[-1] != 1:
        raise ValueError(
            f"covariance_type={name!r} is mclust's model for data with one feature, but the "
            f"data have {S2.shape[-1]}; use EII/VII (or any other type) instead."
        )


class UnivariateEqual(EqualRound):
    """E: one variance shared by all components, for data with one feature."""

    name = mclust_name = "E"
    description = "one feature: all components have the same variance"

    def supports(self, n_features):
        return n_features == 1

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        _one_feature(self.name, S2)
        return super().m_step(nk, means, S2, reg_covar, previous)


class UnivariateVarying(DiagonalStructure):
    """V: each component its own variance, for data with one feature. Stored as (K,)."""

    name = mclust_name = "V"
    description = "one feature: each component has its own variance"
    storage = "round"

    def supports(self, n_features):
        return n_features == 1

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        _one_feature(self.name, S2)
        var = scatter_diagonals(nk, means, S2, reg_covar)[:, 0] / nk
        return var, var - reg_covar

    def n_cov_parameters(self, n_components, n_features):
        return n_components

    def expected_shape(self, n_components, n_features):
        return (n_components,)
