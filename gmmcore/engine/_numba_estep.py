"""The compiled E-step (see :mod:`gmmcore.engine.compiled`, the only importer, which also
handles numba being absent). Unchecked: float64, C-contiguous arrays of the documented
shapes; the rows are passed transposed, ``XT`` of shape (D, n), so that every inner loop
runs over contiguous rows and LLVM vectorizes it (the (n, K) layout kept the loops scalar:
measured 2-3x slower).

Two kernels around one NumPy call: ``np.exp`` on the (K, n) block between them, because
NumPy's exp is SIMD and a compiled loop's is not (scalar exp took ~4 ns a value, a third
of the whole E-step at 272 x 2-D x K = 9).

``reassoc`` lets LLVM vectorize the sums over rows (a different summation order than
NumPy's pairwise sums and BLAS: results agree to ~1e-15 relative, tested); no flag that
assumes finite values, since a zero weight's log is -inf.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"reassoc"}}


@njit(**_JIT)
def _finish_densities(L, top):
    """Per row (column of L (K, n)): its largest value into ``top`` (n,) (0 where every
    value is -inf, as the NumPy path), then L minus it, ready for exp."""
    k, n = L.shape
    for i in range(n):
        top[i] = L[0, i]
    for j in range(1, k):
        for i in range(n):
            if L[j, i] > top[i]:
                top[i] = L[j, i]
    for i in range(n):
        if not math.isfinite(top[i]):
            top[i] = 0.0
    for j in range(k):
        for i in range(n):
            L[j, i] -= top[i]


@njit(**_JIT)
def densities_triangular(XT, log_weights, means, U, const, L, top):
    """Weighted log-densities minus each row's largest, into L (K, n), with upper-triangular
    precision factors U (K, D, D): ``const_k + log w_k - |(x - mu_k) U_k|^2 / 2``, in the
    difference form (no cancellation of large quadratic terms)."""
    d, n = XT.shape
    k = means.shape[0]
    y = np.empty(n)
    for j in range(k):
        c = const[j] + log_weights[j]
        for i in range(n):
            L[j, i] = 0.0
        for b in range(d):
            for i in range(n):
                y[i] = 0.0
            for a in range(b + 1):
                u = U[j, a, b]
                m = means[j, a]
                for i in range(n):
                    y[i] += (XT[a, i] - m) * u
            for i in range(n):
                L[j, i] += y[i] * y[i]
        for i in range(n):
            L[j, i] = c - 0.5 * L[j, i]
    _finish_densities(L, top)


@njit(**_JIT)
def densities_diagonal(XT, log_weights, means, u, const, L, top):
    """:func:`densities_triangular` for diagonal precision factors u (K, D)."""
    d, n = XT.shape
    k = means.shape[0]
    for j in range(k):
        c = const[j] + log_weights[j]
        for i in range(n):
            L[j, i] = 0.0
        for a in range(d):
            f = u[j, a]
            m = means[j, a]
            for i in range(n):
                z = (XT[a, i] - m) * f
                L[j, i] += z * z
        for i in range(n):
            L[j, i] = c - 0.5 * L[j, i]
    _finish_densities(L, top)


@njit(**_JIT)
def statistics(E, top, XT, code, T):
    """From ``E = exp(L - top)`` (K, n): the responsibilities (in place) and their
    statistics added to T (see :func:`moments`). Returns the summed log-likelihood."""
    k, n = E.shape
    s = np.zeros(n)
    for j in range(k):
        for i in range(n):
            s[i] += E[j, i]
    total = 0.0
    for i in range(n):
        total += top[i] + math.log(s[i])
        s[i] = 1.0 / s[i]
    for j in range(k):
        for i in range(n):
            E[j, i] *= s[i]
    moments(E, XT, code, T)
    return total


@njit(**_JIT)
def moments(R, XT, code, T):
    """The statistics of responsibilities R (K, n) added to T (K, width) in the feature
    layout's order ``[S0 | S1 | S2]``, S2 as ``code``: 0 none, 1 ``x_a^2``, 2 the upper
    triangle of ``x x^T`` (np.triu_indices order). Also the start's statistics
    (``estep.accumulate``), so that EM's first statistics and the later ones are summed alike
    (with one component, a start summed by BLAS and iterations summed here moved the
    log-likelihood by rounding, amplified by a collapsed direction's 1 / reg_covar)."""
    k, n = R.shape
    d = XT.shape[0]
    for j in range(k):
        acc = 0.0
        for i in range(n):
            acc += R[j, i]
        T[j, 0] += acc
        c = 1 + d
        for a in range(d):
            acc = 0.0
            for i in range(n):
                acc += R[j, i] * XT[a, i]
            T[j, 1 + a] += acc
            if code == 1:
                acc = 0.0
                for i in range(n):
                    acc += R[j, i] * XT[a, i] * XT[a, i]
                T[j, c + a] += acc
            elif code == 2:
                for b in range(a, d):
                    acc = 0.0
                    for i in range(n):
                        acc += R[j, i] * XT[a, i] * XT[b, i]
                    T[j, c] += acc
                    c += 1
