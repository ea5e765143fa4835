"""Compiled inner loops of mclust's iterative M-steps (see :mod:`gmmcore.engine.compiled`,
which imports this module and handles numba being absent).

Each function here is the whole inner loop of one NumPy M-step, from its start to its last
iterate, with the same updates, stopping rule and iteration cap; the NumPy code stays the
reference and the fallback (``tests/test_compiled_mstep.py`` holds the two together). On the
arrays of model selection (K <= ~9, D <= ~4) one NumPy inner iteration is 5-15 calls of
~2-6 us overhead each; here it is a few hundred flops in one call.

Unchecked: float64, C-contiguous arrays of the documented shapes. Failures do not raise:
a component whose rotated variances are not positive and finite is returned as a row index
for the caller to raise its usual error with, and non-finite iterates come back as NaN for
the callers' finiteness tests, as from the NumPy path's :mod:`gmmcore.engine.lapack`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: ``model`` codes of :func:`common_orientation_mm`.
EVE, VVE = 0, 1


# -- EVE, VVE: the common orientation by majorization-minimization ------------------------------
@njit(**_JIT)
def _procrustes(G, out):
    """The orthogonal D (D, D) maximizing ``tr(G^T D)``, written to ``out``: as
    ``mclust_rotation._procrustes``, in closed form in 2-D and ``P R^T`` from the SVD
    ``G = P S R^T`` above. A non-finite G gives NaN (numba's SVD would raise)."""
    d = G.shape[0]
    if d == 2:
        # mclust_rotation._procrustes_2d, line for line (its docstring has the derivation).
        a, b, c, e = G[0, 0], G[0, 1], G[1, 0], G[1, 1]
        rotation, reflection = math.hypot(a + e, c - b), math.hypot(a - e, b + c)
        if rotation >= reflection:
            x, y, r, sign = a + e, c - b, rotation, -1.0
        else:
            x, y, r, sign = a - e, b + c, reflection, 1.0
        if r == 0.0:
            x, y, sign = 1.0, 0.0, -1.0  # the identity, as the SVD of G = 0
        else:
            x, y = x / r, y / r
        out[0, 0], out[0, 1], out[1, 0], out[1, 1] = x, sign * y, y, -sign * x
        return
    for i in range(d):
        for j in range(d):
            if not math.isfinite(G[i, j]):
                out[:, :] = np.nan
                return
    P, _, Rt = np.linalg.svd(G)
    out[:, :] = P @ Rt


@njit(**_JIT)
def _products(W, D, WD):
    """``WD_k = W_k D`` for every k, (K, D, D)."""
    k, d, _ = W.shape
    for m in range(k):
        for i in range(d):
            for j in range(d):
                s = 0.0
                for a in range(d):
                    s += W[m, i, a] * D[a, j]
                WD[m, i, j] = s


@njit(**_JIT)
def _rotated_diagonals(WD, D, b):
    """``b_k = diag(D^T W_k D)`` (K, D) into ``b``; returns the first component (row) with a
    value not positive and finite, or -1 (``mclust_base._raise_unless_positive``'s test)."""
    k, d, _ = WD.shape
    bad = -1
    for m in range(k):
        for j in range(d):
            s = 0.0
            for a in range(d):
                s += WD[m, a, j] * D[a, j]
            b[m, j] = s
            if bad < 0 and not (s > 0.0 and s < np.inf):  # NaN fails both
                bad = m
    return bad


@njit(**_JIT)
def _weights(nk, b, model, M):
    """The MM weights ``M_k`` (K, D) into ``M`` and the objective, given ``b_k``: the
    ``_weights`` of ``mclust_rotation.EqualVolumeCommonOrientation`` (model EVE) and of
    ``VariableCommonOrientation`` (VVE)."""
    k, d = b.shape
    f = 0.0
    for m in range(k):
        if model == EVE:
            logs = 0.0
            for j in range(d):
                logs += math.log(b[m, j])
            g = math.exp(logs / d)  # |b_k|^(1/D)
            for j in range(d):
                M[m, j] = g / b[m, j]  # A_k^-1
            f += g
        else:
            logs = 0.0
            for j in range(d):
                diag = b[m, j] / nk[m]  # lambda_k A_k
                M[m, j] = 1.0 / diag
                logs += math.log(diag)
            f += nk[m] * (logs + d)
    if model == EVE:
        f *= d  # f = D sum_k |b_k|^(1/D)
    return f


@njit(**_JIT)
def common_orientation_mm(W, alpha, D0, warm, nk, model, rtol, max_iter):
    """The inner loop of ``mclust_rotation._CommonOrientation._covariances``.

    W : (K, D, D) scatter matrices; alpha : (K,) their largest eigenvalues; D0 : (D, D) the
    starting orientation (columns); warm : False for mclust's cold start (D0 = I, unit
    weights, no target yet), True to start from D0 with the exact shapes (and volumes)
    given it and their objective as the first target; nk : (K,); model : EVE or VVE;
    rtol, max_iter : the stopping rule ``|new - target| / (1 + |new|) <= rtol`` and the cap.

    Returns (D, b, bad): the final orientation (D, D), ``b_k = diag(D^T W_k D)`` (K, D) there,
    and the first component whose ``b_k`` is not positive and finite (then the loop stopped
    there), else -1.
    """
    k, d, _ = W.shape
    D = D0.copy()
    WD = np.empty((k, d, d))
    b = np.empty((k, d))
    M = np.ones((k, d))
    G = np.empty((d, d))
    target = np.inf
    _products(W, D, WD)
    if warm:
        bad = _rotated_diagonals(WD, D, b)
        if bad >= 0:
            return D, b, bad
        target = _weights(nk, b, model, M)
    for _ in range(max_iter):
        # 1. G = sum_k (alpha_k I - W_k) D M_k = D diag(sum_k alpha_k M_k) - sum_k W_k D M_k
        for j in range(d):
            am = 0.0
            for m in range(k):
                am += alpha[m] * M[m, j]
            for i in range(d):
                s = 0.0
                for m in range(k):
                    s += WD[m, i, j] * M[m, j]
                G[i, j] = D[i, j] * am - s
        _procrustes(G, D)
        # 2. G = sum_k W_k D (m_k I - M_k), with m_k = max_j M_kj
        _products(W, D, WD)
        G[:, :] = 0.0
        for m in range(k):
            top = M[m, 0]
            for j in range(1, d):
                top = max(top, M[m, j])
            for j in range(d):
                slack = top - M[m, j]
                for i in range(d):
                    G[i, j] += WD[m, i, j] * slack
        _procrustes(G, D)
        _products(W, D, WD)
        bad = _rotated_diagonals(WD, D, b)
        if bad >= 0:
            return D, b, bad
        new = _weights(nk, b, model, M)
        done = abs(new - target) / (1.0 + abs(new)) <= rtol
        target = new
        if done:
            break
    return D, b, -1


# -- VEI, VEV: volumes and a common shape by mclust's fixed point -------------------------------
@njit(**_JIT)
def _normalize_geometric(shape):
    """``shape /= prod(shape)^(1/D)`` in place, through logs (``geometric_mean``)."""
    d = shape.shape[0]
    logs = 0.0
    for j in range(d):
        logs += math.log(shape[j])
    g = math.exp(logs / d)
    for j in range(d):
        shape[j] /= g


@njit(**_JIT)
def equal_shape_fixed_point(w, nk, previous_variances, warm, rtol, max_iter):
    """``mclust_base.equal_shape_fixed_point``: w (K, D), nk (K,), previous_variances (K, D)
    (read only when ``warm``); returns the volumes (K,) and the shape (D,)."""
    k, d = w.shape
    shape = np.ones(d)
    if warm:
        # The mean over components of each previous variance vector over its geometric mean.
        shape[:] = 0.0
        for m in range(k):
            logs = 0.0
            for j in range(d):
                logs += math.log(previous_variances[m, j])
            g = math.exp(logs / d)
            for j in range(d):
                shape[j] += previous_variances[m, j] / g
        for j in range(d):
            shape[j] /= k
        _normalize_geometric(shape)
    scale = np.empty(k)
    inv_scale = np.empty(k)
    inv_shape = np.empty(d)
    old_scale = np.empty(k)
    old_shape = np.empty(d)
    for it in range(max_iter):
        # The NumPy path's reciprocals-then-products, for the same rounding.
        for j in range(d):
            inv_shape[j] = 1.0 / shape[j]
        for m in range(k):
            s = 0.0
            for j in range(d):
                s += w[m, j] * inv_shape[j]
            scale[m] = s / (d * nk[m])
            inv_scale[m] = 1.0 / scale[m]
        for j in range(d):
            s = 0.0
            for m in range(k):
                s += inv_scale[m] * w[m, j]
            shape[j] = s
        _normalize_geometric(shape)
        # mclust's rule over every parameter: |old - new| / (1 + |new|) <= rtol (NaN: not).
        if it > 0:
            done = True
            for m in range(k):
                if not abs(old_scale[m] - scale[m]) / (1.0 + abs(scale[m])) <= rtol:
                    done = False
            for j in range(d):
                if not abs(old_shape[j] - shape[j]) / (1.0 + abs(shape[j])) <= rtol:
                    done = False
            if done:
                break
        old_scale[:] = scale
        old_shape[:] = shape
    return scale, shape


# -- VEE: volumes and a common shape and orientation by mclust's fixed point --------------------
@njit(**_JIT)
def equal_shape_orientation_fixed_point(W, nk, scale0, rtol, max_iter):
    """The inner loop of ``mclust_ellipsoidal.VariableVolumeEqualShapeOrientation``.

    W : (K, D, D) scatter matrices; nk : (K,); scale0 : (K,) the starting volumes. Alternates
    ``C ~ sum_k W_k / lambda_k`` (|C| = 1) and ``lambda_k = tr(W_k C^-1) / (D n_k)``.
    Returns the volumes (K,), C's eigenvalues (D,, ascending, ``|C|`` not yet divided out),
    C's eigenvectors (D, D) and ``|C|^(1/D)`` before scaling; NaN when a pooled matrix is
    not finite (numba's eigh would raise).
    """
    k, d, _ = W.shape
    n = 0.0
    for m in range(k):
        n += nk[m]
    scale = scale0.copy()
    S = np.empty((d, d))
    C_inv = np.empty((d, d))
    c_ev = np.full(d, np.nan)
    c_vec = np.full((d, d), np.nan)
    c_det = np.nan
    target = np.inf
    for _ in range(max_iter):
        finite = True
        for i in range(d):
            for j in range(d):
                s = 0.0
                for m in range(k):
                    s += W[m, i, j] / scale[m]
                S[i, j] = s
                finite = finite and math.isfinite(s)
        if not finite:
            # The NumPy path goes on with NaN to the cap and fails the finiteness test after.
            scale[:] = np.nan
            c_ev[:] = np.nan
            c_vec[:, :] = np.nan
            return scale, c_ev, c_vec, np.nan
        c_ev, c_vec = np.linalg.eigh(S)
        logs = 0.0
        for j in range(d):
            logs += math.log(c_ev[j])
        c_det = math.exp(logs / d)  # |C|^(1/D) before scaling
        # C^-1 = c_vec diag(c_det / c_ev) c_vec^T
        for i in range(d):
            for j in range(d):
                s = 0.0
                for a in range(d):
                    s += c_vec[i, a] / c_ev[a] * c_vec[j, a]
                C_inv[i, j] = s * c_det
        new = 0.0
        for m in range(k):
            s = 0.0
            for i in range(d):
                for j in range(d):
                    s += W[m, i, j] * C_inv[i, j]
            scale[m] = s / (d * nk[m])
            new += nk[m] * math.log(scale[m])
        new = d * (n + new)
        done = abs(new - target) / (1.0 + abs(new)) <= rtol
        target = new
        if done:
            break
    return scale, c_ev, c_vec, c_det
