"""The built-in covariance structures: full, tied, diag and spherical (mclust's VVV, EEE, VVI,
VII), with BLAS-shaped E-step plans. The interface they implement and the registry that lists
them are in :mod:`gmmcore.engine.covariance`; mclust's other models are in the ``mclust_*``
modules.
"""

from __future__ import annotations

import numpy as np

from . import factor, kernels, lapack
from .covariance import CovarianceStructure, IllConditionedCovarianceError

__all__ = ["BUILT_IN_STRUCTURES", "Diag", "Full", "Spherical", "Tied"]


def _scipy_linalg():
    # Deferred: importing scipy.linalg costs ~0.2 s, which the dashboard's first page (no fit
    # yet) should not pay. Python caches the module, so later calls are a dict lookup.
    from scipy import linalg

    return linalg


def _upper_cholesky_of_precision(precision: np.ndarray) -> np.ndarray:
    # Flip trick (as scikit-learn): an upper-triangular U with U U^T = P.
    flipped = np.flipud(np.fliplr(precision))
    return np.flipud(np.fliplr(_scipy_linalg().cholesky(flipped, lower=True)))


def _direct(X, means, squared_norm):
    """(n, K) distances ``squared_norm(X - means[j], j)`` column by column."""
    out = np.empty((X.shape[0], means.shape[0]))
    for j, mu in enumerate(means):
        out[:, j] = squared_norm(X - mu, j)
    return out


class Full(CovarianceStructure):
    name, mclust_name, second_moment = "full", "VVV", "outer"
    description = "each component has its own covariance matrix: any size, shape and orientation"

    def supports(self, n_features):
        return n_features >= 2  # in 1-D it is mclust's V

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        cov = S2 / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        cov = 0.5 * (cov + cov.transpose(0, 2, 1))
        # lapack: no NumPy wrapper; NaN in a non-finite cov, which precisions_cholesky refuses.
        with kernels.serial_blas(), np.errstate(all="ignore"):
            raw_min = lapack.eigvalsh(cov)[:, 0]
        d = cov.shape[1]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
        return cov, raw_min

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        return factor.precisions_cholesky(covariances, reg_covar)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.stack([_upper_cholesky_of_precision(p) for p in precisions])

    def covariances_from_precisions_cholesky(self, prec_chol):
        return np.array([np.linalg.inv(u @ u.T) for u in prec_chol])

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def mahalanobis(self, X, means, prec_chol):
        # Direct (x - mu) U_k, K GEMMs of (n, D): exact at any offset (the E-step's FullPlan
        # does all components in one GEMM and centers the data first).
        return _direct(X, means, lambda diff, j: np.square(diff @ prec_chol[j]).sum(axis=1))

    def estep_plan(self, means, prec_chol):
        d = means.shape[1]
        return kernels.FullPlan(means, prec_chol, self.log_det_precisions_cholesky(prec_chol, d))

    def whitening_factors(self, prec_chol, n_components, n_features):
        return "triangular", prec_chol

    def n_cov_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def covariance_matrices(self, covariances, n_components, n_features):
        return np.asarray(covariances)

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)


class Tied(CovarianceStructure):
    name, mclust_name, second_moment = "tied", "EEE", "global_outer"
    description = "all components share one covariance matrix: same size, shape and orientation"
    common_covariance = True

    def supports(self, n_features):
        return n_features >= 2  # in 1-D it is mclust's E

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        cov = (S2 - (nk[:, None] * means).T @ means) / nk.sum()
        cov = 0.5 * (cov + cov.T)
        with kernels.serial_blas(), np.errstate(all="ignore"):  # as Full's
            raw_min = lapack.eigvalsh(cov)[:1]
        cov.flat[:: cov.shape[0] + 1] += reg_covar
        return cov, raw_min

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        return factor.precisions_cholesky(covariances, reg_covar)

    def precisions_cholesky_from_precisions(self, precisions):
        return _upper_cholesky_of_precision(precisions)

    def covariances_from_precisions_cholesky(self, prec_chol):
        return np.linalg.inv(prec_chol @ prec_chol.T)

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(np.diag(prec_chol)).sum()

    def mahalanobis(self, X, means, prec_chol):
        # (x - mu) before the product: the expanded ||y||^2 - 2 y.b + ||b||^2 cancels at any
        # offset (see kernels, "Cancellation"). A loop over K keeps temporaries at (n, D).
        return _direct(X, means, lambda diff, j: np.square(diff @ prec_chol).sum(axis=1))

    def estep_plan(self, means, prec_chol):
        d = means.shape[1]
        return kernels.TiedPlan(means, prec_chol, self.log_det_precisions_cholesky(prec_chol, d))

    def whitening_factors(self, prec_chol, n_components, n_features):
        return "triangular", np.broadcast_to(prec_chol, (n_components, n_features, n_features))

    def n_cov_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def covariance_matrices(self, covariances, n_components, n_features):
        return np.broadcast_to(covariances, (n_components, n_features, n_features))

    def expected_shape(self, n_components, n_features):
        return (n_features, n_features)


class Diag(CovarianceStructure):
    name, mclust_name, second_moment = "diag", "VVI", "square"
    description = "each component has its own axis-aligned (diagonal) covariance"
    diagonal = True

    def supports(self, n_features):
        return n_features >= 2  # in 1-D it is mclust's V (Spherical inherits this)

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        cov = S2 / nk[:, None] - means**2
        raw_min = cov.min(axis=1)
        return cov + reg_covar, raw_min

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        bad = np.flatnonzero(np.any(covariances <= 0.0, axis=1))
        if bad.size:
            raise IllConditionedCovarianceError(int(bad[0]), reg_covar)
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def covariances_from_precisions_cholesky(self, prec_chol):
        return 1.0 / prec_chol**2

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(prec_chol).sum(axis=1)

    def mahalanobis(self, X, means, prec_chol):
        prec = prec_chol**2  # direct form, as Tied.mahalanobis
        return _direct(X, means, lambda diff, j: np.square(diff) @ prec[j])

    def estep_plan(self, means, prec_chol):
        # Also serves Spherical: (K,) precisions broadcast over the D features.
        d = means.shape[1]
        log_det = self.log_det_precisions_cholesky(prec_chol, d)
        return kernels.LinearPlan(means, prec_chol**2, log_det)

    def whitening_factors(self, prec_chol, n_components, n_features):
        # Also serves Spherical: (K,) factors broadcast over the D features.
        u = np.asarray(prec_chol).reshape(n_components, -1)
        return "diagonal", np.broadcast_to(u, (n_components, n_features))

    def n_cov_parameters(self, n_components, n_features):
        return n_components * n_features

    def covariance_matrices(self, covariances, n_components, n_features):
        out = np.zeros((n_components, n_features, n_features))
        out[:, np.arange(n_features), np.arange(n_features)] = covariances
        return out

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features)


class Spherical(Diag):
    name, mclust_name, second_moment = "spherical", "VII", "square"
    description = "each component is round, with its own single variance"

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        cov = (S2 / nk[:, None] - means**2).mean(axis=1)
        return cov + reg_covar, cov.copy()

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        bad = np.flatnonzero(covariances <= 0.0)
        if bad.size:
            raise IllConditionedCovarianceError(int(bad[0]), reg_covar)
        return 1.0 / np.sqrt(covariances)

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return n_features * np.log(prec_chol)

    def mahalanobis(self, X, means, prec_chol):
        prec = prec_chol**2  # direct form, as Tied.mahalanobis
        return _direct(X, means, lambda diff, j: np.square(diff).sum(axis=1) * prec[j])

    def n_cov_parameters(self, n_components, n_features):
        return n_components

    def covariance_matrices(self, covariances, n_components, n_features):
        return covariances[:, None, None] * np.eye(n_features)[None]

    def expected_shape(self, n_components, n_features):
        return (n_components,)


BUILT_IN_STRUCTURES = (Full(), Tied(), Diag(), Spherical())
