"""mclust's common-orientation models with their own shapes: EVE and VVE.

``Sigma_k = lambda_k D A_k D^T``: one orientation ``D`` for all components, a shape ``A_k``
per component, one volume (EVE) or a volume per component (VVE). Stored as full (K, D, D)
covariance matrices. No closed form for ``D`` exists; mclust >= 5 (``mseve``, ``msvve`` in
``src/mclust2.f``) finds it by the majorization-minimization (MM) algorithm of Browne &
McNicholas (2014), alternated with the closed-form shapes and volumes:

minimize ``f(D) = sum_k tr(W_k D M_k D^T)`` over orthogonal ``D`` (``M_k = A_k^-1`` for EVE,
``(lambda_k A_k)^-1`` for VVE; ``W_k`` the scatter matrices). Both majorizers below are
tangent to ``f`` at the current ``D`` and lie above it, so the update (an orthogonal
Procrustes problem, solved by one SVD) never increases ``f``:

1. ``W_k = alpha_k I - (alpha_k I - W_k)`` with ``alpha_k`` the largest eigenvalue of
   ``W_k``: maximize ``tr(G^T D)``, ``G = sum_k (alpha_k I - W_k) D0 M_k``;
2. ``M_k = m_k I - (m_k I - M_k)`` with ``m_k = max(M_k)``: ``G = sum_k W_k D0 (m_k I - M_k)``.

Then the shapes (and VVE's volumes) are the exact maximizers given ``D``. Each inner iteration
is an ascent step of the expected complete-data log-likelihood, starting from the previous
covariances (or from mclust's start ``D = I``, unit shapes, for the first M-step).

=====  ========================================================  ================================
name   shapes and volumes given D, ``b_k = diag(D^T W_k D)``       parameters (covariances)
=====  ========================================================  ================================
EVE    A_k = b_k / |b_k|^(1/D), lambda = sum_k D |b_k|^(1/D)/(ND)  1 + K (D - 1) + D (D - 1) / 2
VVE    lambda_k A_k = b_k / n_k                                    K D + D (D - 1) / 2
=====  ========================================================  ================================
"""

from __future__ import annotations

import math

import numpy as np

from . import compiled, lapack
from .covariance import IllConditionedCovarianceError
from .mclust_base import (
    INNER_MAX_ITER,
    EllipsoidalStructure,
    _raise_unless_positive,
    common_orientation,
    geometric_mean,
    inner_rtol,
)

__all__ = ["EqualVolumeCommonOrientation", "VariableCommonOrientation"]


def _procrustes(G: np.ndarray) -> np.ndarray:
    """The orthogonal D maximizing ``tr(G^T D)``: ``P R^T`` for ``G = P S R^T``.

    In two dimensions in closed form (:func:`_procrustes_2d`): the SVD is ~6 us of NumPy
    overhead, a third of an MM iteration on two features, where the closed form costs ~1 us.
    Above, LAPACK's SVD without NumPy's wrapper (:mod:`lapack`: 3.9 us instead of 6.7 us on
    4 x 4; a failure gives NaN, which the caller's positivity test of ``b`` catches).
    """
    if G.shape[0] == 2:
        return _procrustes_2d(G)
    P, _, Rt = lapack.svd(G)
    return P @ Rt


def _procrustes_2d(G: np.ndarray) -> np.ndarray:
    """:func:`_procrustes` for a 2 x 2 ``G = [[a, b], [c, e]]``, exactly.

    A rotation ``[[x, -y], [y, x]]`` (x^2 + y^2 = 1) gives ``tr(G^T D) = (a + e) x + (c - b) y``,
    at most ``hypot(a + e, c - b)``; a reflection ``[[x, y], [y, -x]]`` gives
    ``(a - e) x + (b + c) y``, at most ``hypot(a - e, b + c)``: the larger bound wins (their
    squares differ by ``4 det(G)``, so this is the sign of ``P R^T``'s determinant, as from
    the SVD, without a determinant that could under- or overflow). At ``det(G) = 0`` both are
    maximizers (G of rank one: they differ in the sign of one column, which ``D A D^T`` does
    not see); at ``G = 0`` every orthogonal matrix is, and the identity is returned (as the
    SVD does).
    """
    (a, b), (c, e) = G.tolist()
    rotation, reflection = math.hypot(a + e, c - b), math.hypot(a - e, b + c)
    if rotation >= reflection:
        x, y, r, sign = a + e, c - b, rotation, -1.0
    else:
        x, y, r, sign = a - e, b + c, reflection, 1.0
    if r == 0.0:
        return np.eye(2)
    x, y = x / r, y / r
    return np.array([[x, sign * y], [y, -sign * x]])


# The arrays are tiny (K <= ~9, D <= ~4 in model selection), so NumPy's per-call overhead is
# the cost: the MM loop below uses batched matmul and broadcasting (several times cheaper than
# einsum on such arrays) and carries ``W_k D`` from one step to the next instead of forming it
# again.


def _mm_orientation(W, alpha, D, WD, M):
    """Both MM updates of the common orientation (module docstring), from D.

    W : (K, D, D) scatter matrices; alpha : (K,) their largest eigenvalues;
    D : (D, D) current orientation (columns); WD : (K, D, D) the products ``W_k D``;
    M : (K, D) diagonal weights ``M_k``. Returns the new D and its ``W_k D``.
    """
    # 1. G = sum_k (alpha_k I - W_k) D M_k = D diag(sum_k alpha_k M_k) - sum_k W_k D M_k
    D = _procrustes(D * (alpha @ M) - (WD * M[:, None, :]).sum(axis=0))
    # 2. G = sum_k W_k D (m_k I - M_k)
    slack = M.max(axis=1, keepdims=True) - M
    D = _procrustes(((W @ D) * slack[:, None, :]).sum(axis=0))
    return D, W @ D


def _rotated_diagonals(WD, D) -> np.ndarray:
    """``b_k = diag(D^T W_k D)``, shape (K, D), from the products ``W_k D``."""
    return (WD * D).sum(axis=1)


class _CommonOrientation(EllipsoidalStructure):
    """The shared MM loop; subclasses give the shape/volume update and the objective."""

    needs_eigenvectors = False  # the MM loop needs only the largest eigenvalues

    #: This model's code for the compiled loop (:func:`_numba_mstep.common_orientation_mm`);
    #: -1 (a subclass with other weights): the NumPy loop.
    _model_code = -1

    def _weights(self, nk, b):  # pragma: no cover
        """(M, objective) given ``b_k``: the MM weights of the exact shapes (and volumes)."""
        raise NotImplementedError

    def _variances(self, nk, b):  # pragma: no cover
        """The covariances' eigenvalues (diagonals in D's basis), (K, D), given ``b_k``."""
        raise NotImplementedError

    def _covariances(self, nk, W, ev, V, previous, reg_covar):
        k, d, _ = W.shape
        _raise_unless_positive(ev, reg_covar)
        fast = compiled.kernels("mstep")
        if fast is not None and self._model_code >= 0:
            # The same loop compiled (one call instead of ~12 NumPy calls per inner iteration).
            D0 = np.eye(d) if previous is None else common_orientation(np.asarray(previous))
            D, b, bad = fast.common_orientation_mm(
                W,
                np.ascontiguousarray(ev[:, 0]),
                np.ascontiguousarray(D0),
                previous is not None,
                np.ascontiguousarray(nk),
                self._model_code,
                inner_rtol(previous),
                INNER_MAX_ITER,
            )
            if bad >= 0:  # what _raise_unless_positive(b, reg_covar) says
                raise IllConditionedCovarianceError(int(bad), reg_covar)
            variances = self._variances(nk, b)
            return (D * variances[:, None, :]) @ D.T, variances
        if previous is None:
            D = np.eye(d)  # mclust's start (mseve, msvve): identity orientation, unit shapes
            M = np.ones((k, d))
            WD = W
            target = np.inf
        else:
            # The previous orientation, with the exact shapes (and volumes) given it: an ascent
            # step from the previous covariances, and the objective there is the first target,
            # so that a warm start that barely moves stops after one MM step, not two.
            D = common_orientation(np.asarray(previous))
            WD = W @ D
            b = _rotated_diagonals(WD, D)
            _raise_unless_positive(b, reg_covar)
            M, target = self._weights(nk, b)
        alpha = ev[:, 0]
        rtol = inner_rtol(previous)
        for _ in range(INNER_MAX_ITER):  # under m_step's kernels.serial_blas
            D, WD = _mm_orientation(W, alpha, D, WD, M)
            b = _rotated_diagonals(WD, D)
            _raise_unless_positive(b, reg_covar)
            M, new = self._weights(nk, b)
            done = abs(new - target) / (1.0 + abs(new)) <= rtol
            target = new
            if done:
                break
        variances = self._variances(nk, b)
        return (D * variances[:, None, :]) @ D.T, variances


class EqualVolumeCommonOrientation(_CommonOrientation):
    """EVE: components of one size and orientation, each with its own shape."""

    name = mclust_name = "EVE"
    description = "components with the same size and orientation, each with its own shape"
    _model_code = 0  # _numba_mstep.EVE

    def _weights(self, nk, b):
        g = geometric_mean(b)  # |b_k|^(1/D)
        # M_k = A_k^-1 = |b_k|^(1/D) / b_k; f = sum_k tr(W_k D A_k^-1 D^T) = D sum_k |b_k|^(1/D).
        return g[:, None] / b, float(b.shape[1] * g.sum())

    def _variances(self, nk, b):
        g = geometric_mean(b)
        # lambda A_k with lambda = f / (N D) = sum_k |b_k|^(1/D) / N.
        return (g.sum() / nk.sum()) * (b / g[:, None])

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return 1 + n_components * (d - 1) + d * (d - 1) // 2


class VariableCommonOrientation(_CommonOrientation):
    """VVE: components with one orientation, each with its own size and shape."""

    name = mclust_name = "VVE"
    description = "components with the same orientation, each with its own size and shape"
    _model_code = 1  # _numba_mstep.VVE

    def _weights(self, nk, b):
        diag = b / nk[:, None]  # lambda_k A_k
        # -2 Q up to constants: sum_k n_k (sum_j log(b_kj / n_k) + D).
        f = float(nk @ (np.log(diag).sum(axis=1) + b.shape[1]))
        return 1.0 / diag, f

    def _variances(self, nk, b):
        return b / nk[:, None]

    def n_cov_parameters(self, n_components, n_features):
        d = n_features
        return n_components * d + d * (d - 1) // 2
