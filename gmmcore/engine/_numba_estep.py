"""The compiled E-step (see :mod:`gmmcore.engine.compiled`, the only importer, which also
handles numba being absent). Unchecked: float64, C-contiguous arrays of the documented
shapes."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def _normalize_rows(L, T, X, code):
    """Log-sum-exp of each row of L (n, K) in place (L becomes the responsibilities), the
    statistics added to T (K, width) in the feature layout's order; returns the summed
    log-likelihood."""
    n, k = L.shape
    d = X.shape[1]
    total = 0.0
    for i in range(n):
        top = L[i, 0]
        for j in range(1, k):
            if L[i, j] > top:
                top = L[i, j]
        if not math.isfinite(top):  # as the NumPy path: cannot happen for sound parameters
            top = 0.0
        s = 0.0
        for j in range(k):
            e = math.exp(L[i, j] - top)
            L[i, j] = e
            s += e
        total += top + math.log(s)
        inv = 1.0 / s
        for j in range(k):
            L[i, j] *= inv
    for j in range(k):
        for i in range(n):
            r = L[i, j]
            T[j, 0] += r
            c = 1 + d
            for a in range(d):
                ra = r * X[i, a]
                T[j, 1 + a] += ra
                if code == 1:  # "square": x_a^2
                    T[j, c + a] += ra * X[i, a]
                elif code == 2:  # "outer": the upper triangle of x x^T, np.triu_indices order
                    for b in range(a, d):
                        T[j, c] += ra * X[i, b]
                        c += 1
    return total


@njit(**_JIT)
def estep_triangular(X, log_weights, means, U, const, code, T):
    """E-step of one block with upper-triangular precision factors U (K, D, D):
    ``log N(x | mu_k) = const_k - |(x - mu_k) U_k|^2 / 2``."""
    n, d = X.shape
    k = means.shape[0]
    L = np.empty((n, k))
    diff = np.empty(d)
    for i in range(n):
        for j in range(k):
            for a in range(d):
                diff[a] = X[i, a] - means[j, a]
            s = 0.0
            for b in range(d):
                y = 0.0
                for a in range(b + 1):
                    y += diff[a] * U[j, a, b]
                s += y * y
            L[i, j] = const[j] + log_weights[j] - 0.5 * s
    return _normalize_rows(L, T, X, code)


@njit(**_JIT)
def estep_diagonal(X, log_weights, means, u, const, code, T):
    """E-step of one block with diagonal precision factors u (K, D)."""
    n, d = X.shape
    k = means.shape[0]
    L = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            s = 0.0
            for a in range(d):
                y = (X[i, a] - means[j, a]) * u[j, a]
                s += y * y
            L[i, j] = const[j] + log_weights[j] - 0.5 * s
    return _normalize_rows(L, T, X, code)
