"""Covariance structures: everything EM needs to know about one parameterization.

Each structure turns sufficient statistics into covariances (the covariance half of the
M-step), factors covariances into precision Cholesky factors, evaluates Mahalanobis
distances and log-determinants for the E-step, and counts its free parameters. The EM loop
only ever talks to a structure through this interface, so adding one of mclust's other
parameterizations means adding a class here and registering it in ``STRUCTURES``.

Shapes, with K components and D features:

=========== ================ ===================== ============================
type        covariances      precisions_cholesky   second-moment statistic S2
=========== ================ ===================== ============================
full        (K, D, D)        (K, D, D)             (K, D, D)  sum_i r_ik x_i x_i^T
tied        (D, D)           (D, D)                (D, D)     sum_i x_i x_i^T
diag        (K, D)           (K, D)                (K, D)     sum_i r_ik x_i**2
spherical   (K,)             (K,)                  (K, D)     sum_i r_ik x_i**2
=========== ================ ===================== ============================

The precision Cholesky factor ``U`` satisfies ``U @ U.T == inv(covariance)`` (scikit-learn's
convention), so ``||(x - mu) @ U||**2`` is the squared Mahalanobis distance.
"""

from __future__ import annotations

import numpy as np

from . import kernels

__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_NAMES",
    "STRUCTURES",
    "CovarianceStructure",
    "IllConditionedCovarianceError",
    "get_structure",
]

# scikit-learn's nk floor: keeps an empty component's mean and weight finite.
NK_EPS = 10 * np.finfo(np.float64).eps

# The mclust model names that match our covariance types (for display next to ours).
MCLUST_NAMES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


class IllConditionedCovarianceError(ValueError):
    """A component's covariance is not positive definite even with ``reg_covar`` added."""

    def __init__(self, component: int | None, reg_covar: float):
        which = "the shared covariance" if component is None else f"component {component}"
        super().__init__(
            f"EM produced a covariance for {which} that is not positive definite "
            f"(reg_covar={reg_covar:g}). This happens when a component collapses onto a few "
            "points or onto a line. Increase reg_covar (e.g. 1e-4), use fewer components, "
            "standardize the features, or pick a simpler covariance type (diag or spherical)."
        )
        self.component = component


def _scipy_linalg():
    # Deferred: importing scipy.linalg costs ~0.2 s, which the dashboard's first page (no fit
    # yet) should not pay. Python caches the module, so later calls are a dict lookup.
    from scipy import linalg

    return linalg


def _cholesky_or_raise(cov: np.ndarray, component: int | None, reg_covar: float) -> np.ndarray:
    try:
        return _scipy_linalg().cholesky(cov, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise IllConditionedCovarianceError(component, reg_covar) from None


class CovarianceStructure:
    """Interface of a covariance parameterization (one instance per type, stateless).

    Attributes
    ----------
    name : str
        Our name (scikit-learn's), e.g. ``"full"``.
    mclust_name : str
        The equivalent mclust model name, e.g. ``"VVV"``.
    second_moment : {"outer", "square", "global_outer"}
        Which second-moment statistic the M-step needs: per-component outer products,
        per-component squares, or the responsibility-free total outer product (computed once
        per fit because it does not change between iterations).
    """

    name: str = ""
    mclust_name: str = ""
    second_moment: str = ""

    # -- M-step ---------------------------------------------------------------------------
    def m_step(self, nk, means, S2, n_samples, reg_covar):  # pragma: no cover - interface
        """Covariances from statistics.

        Parameters
        ----------
        nk : ndarray of shape (K,)
            Summed responsibilities per component (already floored by ``NK_EPS``).
        means : ndarray of shape (K, D)
            The new means ``S1 / nk``.
        S2 : ndarray
            The second-moment statistic named by ``second_moment`` (see module docstring).
        n_samples : int
        reg_covar : float
            Added to the diagonal so every covariance stays positive definite.

        Returns
        -------
        covariances : ndarray (shape per type), regularized.
        raw_min_variance : ndarray of shape (K,) or (1,)
            Smallest variance (eigenvalue for full/tied) before regularization, used to report
            components held up only by ``reg_covar``.
        """
        raise NotImplementedError

    def precisions_cholesky(self, covariances, reg_covar=0.0):  # pragma: no cover
        raise NotImplementedError

    def precisions_cholesky_from_precisions(self, precisions):  # pragma: no cover
        raise NotImplementedError

    def covariances_from_precisions_cholesky(self, prec_chol):  # pragma: no cover
        raise NotImplementedError

    def log_det_precisions_cholesky(self, prec_chol, n_features):  # pragma: no cover
        """log det(U) = -0.5 log det(covariance), shape (K,) or scalar for tied."""
        raise NotImplementedError

    def mahalanobis(self, X, means, prec_chol):  # pragma: no cover
        """Squared Mahalanobis distances, shape (n, K). Unchecked kernel: no validation."""
        raise NotImplementedError

    def n_cov_parameters(self, n_components, n_features):  # pragma: no cover
        raise NotImplementedError

    def estep_plan(self, means, prec_chol):
        """Per-E-step kernel turning a feature block ``[1 | x | q(x)]`` into weighted
        log-densities (see :mod:`gmmcore.engine.kernels`). Unchecked.

        The default works for any structure through ``mahalanobis``; the built-in
        structures override it with BLAS-shaped plans.
        """
        return kernels.MahalanobisPlan(self, means, prec_chol)

    def covariance_matrices(self, covariances, n_components, n_features):
        """Covariances as a (K, D, D) stack, whatever the type (for plots and sampling)."""
        raise NotImplementedError  # pragma: no cover

    def expected_shape(self, n_components, n_features):  # pragma: no cover
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def n_parameters(self, n_components: int, n_features: int, n_weight_sets: int = 1) -> int:
        """Free parameters: weights, means and covariances.

        ``n_weight_sets`` is the number of separate weight vectors (one per task in a
        shared multi-task mixture), each with ``n_components - 1`` free entries.
        """
        weights = n_weight_sets * (n_components - 1)
        return int(
            weights + n_components * n_features + self.n_cov_parameters(n_components, n_features)
        )

    def __repr__(self) -> str:
        return f"<CovarianceStructure {self.name!r} (mclust {self.mclust_name})>"


class Full(CovarianceStructure):
    name, mclust_name, second_moment = "full", "VVV", "outer"

    def m_step(self, nk, means, S2, n_samples, reg_covar):
        cov = S2 / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        cov = 0.5 * (cov + cov.transpose(0, 2, 1))
        with kernels.serial_blas():
            raw_min = np.linalg.eigvalsh(cov)[:, 0]
        d = cov.shape[1]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
        return cov, raw_min

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        k, d, _ = covariances.shape
        out = np.empty_like(covariances)
        eye = np.eye(d)
        with kernels.serial_blas():  # see kernels.SERIAL_BLAS: tiny LAPACK calls
            for j in range(k):  # K small factorizations; never a loop over samples
                chol = _cholesky_or_raise(covariances[j], j, reg_covar)
                out[j] = _scipy_linalg().solve_triangular(chol, eye, lower=True, check_finite=False).T
        return out

    def precisions_cholesky_from_precisions(self, precisions):
        # Flip trick (as scikit-learn): an upper-triangular U with U U^T = P.
        out = np.empty_like(precisions)
        for j, p in enumerate(precisions):
            out[j] = np.flipud(np.fliplr(_scipy_linalg().cholesky(np.flipud(np.fliplr(p)), lower=True)))
        return out

    def covariances_from_precisions_cholesky(self, prec_chol):
        return np.array([np.linalg.inv(u @ u.T) for u in prec_chol])

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def mahalanobis(self, X, means, prec_chol):
        n, d = X.shape
        k = means.shape[0]
        # One GEMM for all components: X @ [U_1 ... U_K] -> (n, K*D).
        u_cat = prec_chol.transpose(1, 0, 2).reshape(d, k * d)
        y = X @ u_cat
        y -= np.einsum("kd,kde->ke", means, prec_chol).reshape(k * d)
        np.square(y, out=y)
        return y.reshape(n, k, d).sum(axis=2)

    def estep_plan(self, means, prec_chol):
        d = means.shape[1]
        return kernels.FullPlan(means, prec_chol, self.log_det_precisions_cholesky(prec_chol, d))

    def n_cov_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def covariance_matrices(self, covariances, n_components, n_features):
        return np.asarray(covariances)

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)


class Tied(CovarianceStructure):
    name, mclust_name, second_moment = "tied", "EEE", "global_outer"

    def m_step(self, nk, means, S2, n_samples, reg_covar):
        cov = (S2 - (nk[:, None] * means).T @ means) / nk.sum()
        cov = 0.5 * (cov + cov.T)
        with kernels.serial_blas():
            raw_min = np.linalg.eigvalsh(cov)[:1]
        cov.flat[:: cov.shape[0] + 1] += reg_covar
        return cov, raw_min

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        d = covariances.shape[0]
        with kernels.serial_blas():
            chol = _cholesky_or_raise(covariances, None, reg_covar)
            return _scipy_linalg().solve_triangular(chol, np.eye(d), lower=True, check_finite=False).T

    def precisions_cholesky_from_precisions(self, precisions):
        return np.flipud(np.fliplr(_scipy_linalg().cholesky(np.flipud(np.fliplr(precisions)), lower=True)))

    def covariances_from_precisions_cholesky(self, prec_chol):
        return np.linalg.inv(prec_chol @ prec_chol.T)

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(np.diag(prec_chol)).sum()

    def mahalanobis(self, X, means, prec_chol):
        y = X @ prec_chol
        b = means @ prec_chol
        # ||y - b||^2 expanded keeps the temporary at (n, K) instead of (n, K, D).
        out = (y * y).sum(axis=1)[:, None] - 2.0 * (y @ b.T) + (b * b).sum(axis=1)
        return np.maximum(out, 0.0, out=out)

    def estep_plan(self, means, prec_chol):
        d = means.shape[1]
        return kernels.TiedPlan(means, prec_chol, self.log_det_precisions_cholesky(prec_chol, d))

    def n_cov_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def covariance_matrices(self, covariances, n_components, n_features):
        return np.broadcast_to(covariances, (n_components, n_features, n_features))

    def expected_shape(self, n_components, n_features):
        return (n_features, n_features)


class Diag(CovarianceStructure):
    name, mclust_name, second_moment = "diag", "VVI", "square"

    def m_step(self, nk, means, S2, n_samples, reg_covar):
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
        prec = prec_chol**2
        out = (means**2 * prec).sum(axis=1) - 2.0 * (X @ (means * prec).T) + (X * X) @ prec.T
        return np.maximum(out, 0.0, out=out)

    def estep_plan(self, means, prec_chol):
        # Also serves Spherical: (K,) precisions broadcast over the D features.
        d = means.shape[1]
        log_det = self.log_det_precisions_cholesky(prec_chol, d)
        return kernels.LinearPlan(means, prec_chol**2, log_det)

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

    def m_step(self, nk, means, S2, n_samples, reg_covar):
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
        prec = prec_chol**2
        out = (
            (means**2).sum(axis=1) * prec
            - 2.0 * (X @ means.T) * prec
            + np.outer((X * X).sum(axis=1), prec)
        )
        return np.maximum(out, 0.0, out=out)

    def n_cov_parameters(self, n_components, n_features):
        return n_components

    def covariance_matrices(self, covariances, n_components, n_features):
        return covariances[:, None, None] * np.eye(n_features)[None]

    def expected_shape(self, n_components, n_features):
        return (n_components,)


STRUCTURES: dict[str, CovarianceStructure] = {
    s.name: s for s in (Full(), Tied(), Diag(), Spherical())
}
COVARIANCE_TYPES: tuple[str, ...] = tuple(STRUCTURES)


def get_structure(covariance_type: str) -> CovarianceStructure:
    """The structure object for a covariance type name; a clear ValueError otherwise."""
    try:
        return STRUCTURES[covariance_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown covariance_type {covariance_type!r}; "
            f"choose one of {', '.join(COVARIANCE_TYPES)}."
        ) from None
