"""Shared pieces of mclust's covariance models: scatter matrices, factorizations, base classes.

mclust (Fraley & Raftery; Scrucca et al. 2016) writes every component covariance as
``Sigma_k = lambda_k D_k A_k D_k^T``: a volume ``lambda_k`` (``|Sigma_k|**(1/D)``), a shape
``A_k`` (diagonal, determinant 1) and an orientation ``D_k`` (orthogonal). Each of the three is
Equal across components, Variable, or (shape and orientation only) the Identity, which names
the model: ``VEV`` is variable volume, equal shape, variable orientation. The M-steps follow
Celeux & Govaert (1995), "Gaussian parsimonious clustering models", Pattern Recognition 28;
the ones mclust >= 5 computes by majorization-minimization (EVE, VVE) follow Browne &
McNicholas (2014), "Estimating common principal components in high dimensions", ADAC 8.

Everything here works on the *scatter matrices* of the components,
``W_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T``, which the M-step forms from the statistics
as ``S2_k - n_k mu_k mu_k^T``. ``reg_covar`` enters as ``n_k * reg_covar`` added to the
diagonal of each ``W_k`` *before* the constrained M-step: for the models in which adding a
multiple of the identity keeps a covariance inside the model (EII, VII, EEI, VVI, EEE, VVV)
this is exactly "reg_covar added to the diagonal of every covariance", as the built-in
structures do; for the others it keeps the regularized result inside the model (equal volumes
stay equal, a common orientation stays common), which "add reg_covar afterwards" would not.

The classes here are unchecked kernels in scikit-learn's sense: inputs are validated at the
public boundary (:mod:`gmmcore.engine.validation`, ``check_precisions``, ``check_covariances``).
"""

from __future__ import annotations

import functools

import numpy as np

from . import compiled, factor, kernels, lapack
from .covariance import CovarianceStructure, IllConditionedCovarianceError, in_em_start

__all__ = [
    "INNER_MAX_ITER",
    "INNER_RTOL",
    "WARM_INNER_RTOL",
    "DiagonalStructure",
    "EllipsoidalStructure",
    "common_orientation",
    "equal_shape_fixed_point",
    "geometric_mean",
    "inner_rtol",
    "parameters_converged",
    "scatter_diagonals",
    "scatter_matrices",
]

# Inner iterations of the iterative M-steps stop when the objective (or, for the fixed-point
# ones, every parameter) changes by less than INNER_RTOL relative: each inner iteration never
# decreases the expected complete-data log-likelihood, so stopping early only slows EM down,
# but the reference tests compare with mclust's exact fixed point, hence the tight value.
# mclust's own default is sqrt(eps) ~ 1.5e-8 (emControl()$tol[2]). Measured with that value:
# Old Faithful's default grid ran no faster (warm-started M-steps need ~4 inner iterations
# either way), while the M-steps from mclust's z on iris (VEE, EVE; cold starts) missed
# mclust's mstep by more than the reference tests' tolerances and two Old Faithful grid cells
# changed; so the tight value stays.
INNER_RTOL = 1e-14
# ... but only for a cold start (``previous is None``: one M-step from given responsibilities,
# what the reference tests compare). Inside EM every M-step is warm-started from the previous
# covariances, so the inner iterations carry on from one EM iteration to the next, and each
# inner iteration is an ascent step (generalized EM): stopping early loses nothing EM does not
# recover at its next iteration. Measured on the default grids (K = 1..9, every model):
# mclust's own sqrt(eps) took iris's EVE from 667 to 236 ms and VVE from 1154 to 351 ms with
# every BIC within 0.003 of the 1e-14 fits; 1e-6 took another 16-20% off the whole grid (Old
# Faithful, iris) with every BIC within 0.0004 (Old Faithful), 0.005 (iris) and 0.02
# (penguins) of the sqrt(eps) fits, the same best cells and as many cells at mclust's BIC.
# EM's own tolerance (1e-5 per sample) moves BICs by more than that.
WARM_INNER_RTOL = 1e-6
# A cap so that one M-step stays bounded on pathological inputs; warm starts from the previous
# covariances need a handful of iterations once EM settles.
INNER_MAX_ITER = 1000


def inner_rtol(previous) -> float:
    """The inner loops' relative tolerance: INNER_RTOL from a cold start (``previous`` is
    None), WARM_INNER_RTOL when warm-started from EM's previous covariances and for EM's own
    first M-step (:func:`gmmcore.engine.covariance.em_start`): its inner loop goes on at the
    next M-step, warm-started, as every later one's does. Measured on iris's default grid:
    the nine cold EVE M-steps (one per K) took 940 inner iterations at INNER_RTOL, against
    890 for all 269 warm ones."""
    if previous is None and not in_em_start():
        return INNER_RTOL
    return WARM_INNER_RTOL


def parameters_converged(old, new, rtol: float) -> bool:
    """mclust's stopping rule for the fixed-point inner loops: every parameter array in
    ``new`` (each non-empty) moved by at most ``rtol`` relative (``|a - b| / (1 + |b|)``)
    from ``old``."""
    return all(
        (np.abs(a - b) / (1.0 + np.abs(b))).max() <= rtol for a, b in zip(old, new, strict=True)
    )


def equal_shape_fixed_point(w, nk, previous_variances, rtol: float):
    """Volumes and the common shape of VEI and VEV, by mclust's fixed point (``msvei``,
    ``msvev``; Celeux & Govaert 1995, eqs. 19-20).

    ``w`` (K, D) are the diagonals of the scatter matrices (VEI) or their eigenvalues in
    decreasing order (VEV: the orientations are the eigenvectors whatever the shape). The
    loop alternates ``lambda_k = sum_j w_kj / B_j / (D n_k)`` and ``B ~ sum_k w_k / lambda_k``
    scaled to ``|B| = 1``, each the exact maximizer given the other (so the expected
    complete-data log-likelihood never drops), until every parameter moves by at most
    ``rtol`` relative. It starts from mclust's unit shape, or from the previous covariances'
    variances ``previous_variances`` (K, D; over their volumes, averaged: exact when they
    are the model's, as EM's are). Returns the volumes (K,) and the shape (D,).
    """
    fast = compiled.kernels("mstep")
    if fast is not None:  # the same loop compiled (~5 NumPy calls an iteration otherwise)
        w, warm = np.ascontiguousarray(w), previous_variances is not None
        return fast.equal_shape_fixed_point(
            w,
            np.ascontiguousarray(nk),
            np.ascontiguousarray(previous_variances) if warm else w,
            warm,
            rtol,
            INNER_MAX_ITER,
        )
    if previous_variances is None:
        shape = np.ones(w.shape[1])
    else:
        shape = (previous_variances / geometric_mean(previous_variances)[:, None]).mean(axis=0)
        shape /= geometric_mean(shape)
    dnk = w.shape[1] * nk
    old = None
    for _ in range(INNER_MAX_ITER):
        # The sums over features and over components as matrix-vector products.
        scale = (w @ (1.0 / shape)) / dnk
        shape = (1.0 / scale) @ w
        shape /= geometric_mean(shape)
        # Both parameter arrays as one (mclust's rule over all of them, in one pass).
        new = np.concatenate((scale, shape))
        if old is not None and parameters_converged((old,), (new,), rtol):
            break
        old = new
    return scale, shape


def _linalg():
    # Deferred like covariance.py's: scipy.linalg costs ~0.2 s to import.
    from scipy import linalg

    return linalg


def geometric_mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """``prod(values) ** (1 / n)`` along ``axis``, computed through logs (no overflow).

    Callers pass positive values (checked first); a zero gives 0 (through a -inf log, which
    warns unless under ``np.errstate``, as the ellipsoidal M-steps run). No errstate of its
    own and ``sum / n`` rather than ``np.mean`` (the same float64 arithmetic): this runs in
    the inner loops, where each of those cost ~1 us of a ~4 us call.
    """
    logs = np.log(values)
    return np.exp(logs.sum(axis=axis) / logs.shape[axis])


def scatter_matrices(nk, means, S2, reg_covar, vectors: bool = True):
    """Regularized scatter matrices of the components and their eigendecompositions.

    Parameters
    ----------
    nk : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    S2 : ndarray of shape (K, D, D)
        ``sum_i r_ik x_i x_i^T`` (data centered on its mean).
    reg_covar : float
    vectors : bool, default=True
        False: ``eigenvectors`` is None, for the models that need only the eigenvalues (an
        ``eigvalsh`` is ~4 us cheaper than an ``eigh``), unless rounding left a negative
        eigenvalue, whose clipping needs them.

    Returns
    -------
    W : ndarray of shape (K, D, D)
        ``S2_k - n_k mu_k mu_k^T + n_k reg_covar I``, symmetric positive semi-definite.
    eigenvalues : ndarray of shape (K, D)
        Of ``W_k``, in *decreasing* order (mclust's and Celeux & Govaert's convention).
    eigenvectors : ndarray of shape (K, D, D), or None (``vectors=False``)
        Columns matching ``eigenvalues``.
    """
    # Small-array code (K <= ~9, D <= ~4 in model selection): NumPy's per-call overhead,
    # not arithmetic, is the cost, so fewer and cheaper calls (matmul, broadcasting; no einsum).
    W = S2 - nk[:, None, None] * (means[:, :, None] * means[:, None, :])
    W = 0.5 * (W + W.transpose(0, 2, 1))
    V = None
    # Under m_step's kernels.serial_blas and errstate (lapack: NaN, not LinAlgError, for a
    # non-finite W; the covariances' finiteness test catches it).
    if not vectors:
        ev = lapack.eigvalsh(W)[:, ::-1]
    if vectors or ev.min() < 0:
        ev, V = lapack.eigh(W)
        ev, V = ev[:, ::-1], V[:, :, ::-1]
    if ev.min() < 0:
        # A scatter matrix is PSD; negative eigenvalues are cancellation in S2 - n mu mu^T.
        ev = np.maximum(ev, 0.0)
        W = (V * ev[:, None, :]) @ V.transpose(0, 2, 1)
    shift = nk * reg_covar
    # Adding shift * I whole (zeros off the diagonal add exactly nothing) is cheaper than a
    # fancy-indexed update of the diagonal.
    W = W + shift[:, None, None] * np.eye(W.shape[1])
    return W, ev + shift[:, None], V


def scatter_diagonals(nk, means, S2, reg_covar) -> np.ndarray:
    """Diagonals of the regularized scatter matrices, shape (K, D), from ``S2`` of shape
    (K, D) (``sum_i r_ik x_i**2``); negative rounding residue is clipped to 0."""
    w = np.maximum(S2 - nk[:, None] * means**2, 0.0)
    return w + (nk * reg_covar)[:, None]


def common_orientation(covariances: np.ndarray) -> np.ndarray:
    """An orthogonal D (D, D) that diagonalizes every covariance of a model with a common
    orientation (EVE, VVE), recovered from the stored (K, D, D) covariances.

    A generic positive combination of the covariances has the common eigenvectors and,
    unless every component ties in the same directions (then any basis of that subspace
    serves), distinct eigenvalues; the irrational weights avoid accidental ties.
    """
    k, d, _ = covariances.shape
    flat = covariances.reshape(k, d * d)
    # sum_k w_k Sigma_k / tr(Sigma_k), as one (K,) @ (K, D*D) product.
    combo = ((_orientation_weights(k) / flat[:, :: d + 1].sum(axis=1)) @ flat).reshape(d, d)
    # eigh reads the lower triangle only, so combo need not be symmetrized first.
    _, vectors = lapack.eigh(combo)  # under m_step's serial_blas and errstate
    return vectors


@functools.cache
def _orientation_weights(k: int) -> np.ndarray:
    """common_orientation's weights for K components (computed once per K: ~3 us a call)."""
    weights = np.sqrt(2.0 + np.arange(k)) % 1.0 + 0.5
    weights.flags.writeable = False
    return weights


def _raise_unless_positive(values: np.ndarray, reg_covar: float) -> None:
    """IllConditionedCovarianceError naming the first component (row) with a value <= 0."""
    if values.min() > 0 and values.max() < np.inf:
        return  # the usual case, in two reductions (this runs in every inner iteration; a NaN
        # makes min() NaN, which fails the first test)
    values = np.atleast_2d(values)
    bad = np.flatnonzero((values <= 0).any(axis=1) | ~np.isfinite(values).all(axis=1))
    if bad.size:
        raise IllConditionedCovarianceError(int(bad[0]), reg_covar)


class EllipsoidalStructure(CovarianceStructure):
    """Base of the models stored as full (K, D, D) covariance matrices.

    Subclasses implement ``_covariances(nk, W, ev, V, previous, reg_covar)`` returning the
    regularized (K, D, D) covariances from the scatter matrices (see
    :func:`scatter_matrices`) and their eigenvalues, (K, D) or broadcastable to it: every
    model builds its covariances from eigenvalues it knows, so ``raw_min`` needs no
    eigendecomposition of the result (~7 us of a ~50 us M-step on small data).
    """

    second_moment = "outer"
    #: Whether ``_covariances`` reads the scatter matrices' eigenvectors (``V``; None when
    #: False, see :func:`scatter_matrices`).
    needs_eigenvectors = True

    def supports(self, n_features):
        return n_features >= 2  # in 1-D every model is mclust's E or V

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        # One single-threaded-BLAS context for the whole M-step (small D x D work, see
        # kernels.serial_blas), entered once: the helpers below do not enter their own, and
        # each entry costs ~20 us, which was a tenth of an EM iteration on Old Faithful.
        # Singular scatter matrices give inf/NaN below (lapack's failures too), checked
        # after: no RuntimeWarning (all: as numpy.linalg's own errstate, see lapack).
        with kernels.serial_blas(), np.errstate(all="ignore"):
            W, ev, V = scatter_matrices(nk, means, S2, reg_covar, self.needs_eigenvectors)
            try:
                cov, variances = self._covariances(nk, W, ev, V, previous, reg_covar)
                cov = 0.5 * (cov + cov.transpose(0, 2, 1))
                if not np.isfinite(cov).all():
                    raise np.linalg.LinAlgError("non-finite covariance")
                low = variances.min(axis=-1)  # (K,), or () / (1,) for shared variances
                if low.shape != nk.shape:  # (broadcast_to costs ~2 us: only when needed)
                    low = np.broadcast_to(low, nk.shape)
                raw_min = low - reg_covar
            except np.linalg.LinAlgError:
                # A scatter matrix numerically singular (exact duplicates, reg_covar=0) sends
                # the shared volume/shape/orientation updates to 0 or inf: name the thinnest
                # component, as the other not-positive-definite errors do.
                ratio = ev[:, -1] / np.maximum(ev[:, 0], np.finfo(np.float64).tiny)
                raise IllConditionedCovarianceError(int(np.argmin(ratio)), reg_covar) from None
        return cov, raw_min

    def _covariances(self, nk, W, ev, V, previous, reg_covar):  # pragma: no cover
        raise NotImplementedError

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        return factor.precisions_cholesky(covariances, reg_covar)

    def precisions_cholesky_from_precisions(self, precisions):
        linalg = _linalg()
        out = []
        for p in precisions:
            # Flip trick (as scikit-learn): an upper-triangular U with U U^T = P.
            flipped = np.flipud(np.fliplr(p))
            out.append(np.flipud(np.fliplr(linalg.cholesky(flipped, lower=True))))
        return np.stack(out)

    def covariances_from_precisions_cholesky(self, prec_chol):
        d = prec_chol.shape[1]
        linalg = _linalg()
        out = np.empty_like(prec_chol)
        for j, u in enumerate(prec_chol):
            # Sigma = (U U^T)^-1 = U^-T U^-1: symmetric by construction, no explicit inverse.
            u_inv = linalg.solve_triangular(u, np.eye(d), lower=False, check_finite=False)
            out[j] = u_inv.T @ u_inv
        return out

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def mahalanobis(self, X, means, prec_chol):
        out = np.empty((X.shape[0], means.shape[0]))
        for j, (mu, u) in enumerate(zip(means, prec_chol, strict=True)):
            y = (X - mu) @ u  # the difference first: no cancellation of large quadratic terms
            np.einsum("ij,ij->i", y, y, out=out[:, j])
        return out

    def estep_plan(self, means, prec_chol):
        # The built-in full plan: one GEMM for all components, in the difference form.
        d = means.shape[1]
        log_det = self.log_det_precisions_cholesky(prec_chol, d)
        return kernels.FullPlan(means, prec_chol, log_det)

    def whitening_factors(self, prec_chol, n_components, n_features):
        return "triangular", prec_chol

    def covariance_matrices(self, covariances, n_components, n_features):
        return np.asarray(covariances)

    def expected_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)


class DiagonalStructure(CovarianceStructure):
    """Base of the axis-aligned models, stored as variances: (K, D) per component, (D,) for a
    common diagonal, (K,) for round components. ``precisions_cholesky`` is ``1/sqrt`` of the
    variances, same shape."""

    second_moment = "square"
    diagonal = True

    def supports(self, n_features):
        return n_features >= 2  # in 1-D every model is mclust's E or V

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        cov = np.asarray(covariances)
        _raise_unless_positive(cov.reshape(-1, 1) if cov.ndim == 1 else cov, reg_covar)
        return 1.0 / np.sqrt(cov)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def covariances_from_precisions_cholesky(self, prec_chol):
        return 1.0 / prec_chol**2

    #: How the variances are stored: "round" (K,), "common" (D,) or "per_component" (K, D).
    storage = "per_component"

    def _per_component(self, arr, n_components, n_features) -> np.ndarray:
        """Variances (or precision factors) as (K, D), to be read only: the array itself
        when stored per component (np.broadcast_to costs ~2 us, run at every E-step), else a
        read-only broadcast view."""
        arr = np.asarray(arr)
        if self.storage == "per_component" and arr.shape == (n_components, n_features):
            return arr
        if self.storage == "round":
            arr = arr[:, None]
        return np.broadcast_to(arr, (n_components, n_features))

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        prec_chol = np.asarray(prec_chol)
        if self.storage == "round":
            return n_features * np.log(prec_chol)
        return np.log(prec_chol).sum(axis=-1)

    def estep_plan(self, means, prec_chol):
        # The built-in plans, one GEMM for all components (the generic per-component fallback
        # cost ~4x as much per E-step): diag's, linear in [1 ; x ; x**2], when the statistics
        # carry x**2 per row; tied's, with the one diagonal factor every component shares,
        # for the models whose M-step needs only the global second moment (EII, EEI, E).
        k, d = means.shape
        u = self._per_component(prec_chol, k, d)
        log_det = self.log_det_precisions_cholesky(prec_chol, d)
        if self.second_moment == "global_outer":
            return kernels.TiedPlan(means, np.diag(u[0]), float(log_det.flat[0]))
        if log_det.shape != (k,):  # one for all components (a common diagonal)
            log_det = np.full(k, float(log_det))
        return kernels.LinearPlan(means, u * u, np.asarray(log_det, dtype=np.float64))

    def whitening_factors(self, prec_chol, n_components, n_features):
        return "diagonal", self._per_component(prec_chol, n_components, n_features)

    def mahalanobis(self, X, means, prec_chol):
        k, d = means.shape
        u = self._per_component(prec_chol, k, d)
        out = np.empty((X.shape[0], k))
        for j in range(k):
            y = (X - means[j]) * u[j]  # the difference first: no cancellation
            np.einsum("ij,ij->i", y, y, out=out[:, j])
        return out

    def covariance_matrices(self, covariances, n_components, n_features):
        var = self._per_component(covariances, n_components, n_features)
        out = np.zeros((n_components, n_features, n_features))
        out[:, np.arange(n_features), np.arange(n_features)] = var
        return out
