"""The compiled merge loop of mclust's hierarchical clustering (see
:func:`gmmcore.engine.hierarchical.hc_merges`, whose NumPy loop this is, step for step, and
:mod:`gmmcore.engine.compiled`, the only importer, which also handles numba being absent).

The merges are decided by comparisons of costs, and ties (duplicated rows, symmetric data)
by mclust's rule, so the arithmetic follows the NumPy loop operation by operation where that
is cheap: the same formulas in the same order, the products ``R^T R`` as fused multiply-adds
as OpenBLAS's syrk computes them, the QR as LAPACK's ``dgeqr2`` (its signs; ``dnrm2`` in
extended precision as OpenBLAS's x87 kernel), determinants as ``sign * exp(sum log |u|)`` as
``np.linalg.det`` returns them. What is not copied bit for bit (NumPy's SIMD ``log``,
OpenBLAS's blocked ``gemv`` inside the QR for D >= 2, its LU for D >= 3) differs in the last
bit, which can decide a merge only between costs equal to the last bit that do not come from
equal data (those stay equal: every cost is computed the same way from its inputs).

Unchecked: float64, C-contiguous arrays of the documented shapes, m >= 2 and D >= 1.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's fma), as OpenBLAS's kernels accumulate."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f64], ir.FunctionType(f64, [f64] * 3))
        return builder.call(fn, args)

    return sig, codegen


@njit(**_JIT)
def _norm(A, c):
    """``|A[c+1:, c]|``, nearly correctly rounded as OpenBLAS's ``dnrm2`` (which sums in
    x87 extended precision): the squares summed in double-double, then its square root."""
    hi, lo = 0.0, 0.0
    for r in range(c + 1, A.shape[0]):
        x = A[r, c]
        p = x * x
        e = _fma(x, x, -p)  # p + e = x^2 exactly
        s = hi + p  # (hi, lo) += (p, e), Knuth's two-sum on the leading parts
        z = s - hi
        lo += (hi - (s - z)) + (p - z) + e
        hi = s
    if hi == 0.0:
        return 0.0
    root = math.sqrt(hi)
    return root + (_fma(-root, root, hi) + lo) / (2.0 * root)


@njit(**_JIT)
def _qr_r(A, R):
    """The triangular factor R (D, D) of A (M, D), M > D, by Householder reflections as
    LAPACK's ``dgeqr2``/``dlarfg``/``dlapy2`` (so with its signs); A is overwritten."""
    M, d = A.shape
    for c in range(d):
        alpha = A[c, c]
        xnorm = _norm(A, c)
        for k in range(c):
            R[c, k] = 0.0
        if xnorm == 0.0:  # nothing below the diagonal: H = I
            R[c, c] = alpha
            for k in range(c + 1, d):
                R[c, k] = A[c, k]
            continue
        big, small = max(abs(alpha), xnorm), min(abs(alpha), xnorm)
        beta = -math.copysign(big * math.sqrt(1.0 + (small / big) ** 2), alpha)
        tau = (beta - alpha) / beta
        scale = 1.0 / (alpha - beta)
        for r in range(c + 1, M):
            A[r, c] *= scale  # v = (1, A[c+1:, c])
        R[c, c] = beta
        for k in range(c + 1, d):  # A[c:, k] -= tau v (v . A[c:, k])
            w = A[c, k]
            for r in range(c + 1, M):
                w += A[r, k] * A[r, c]
            t = -tau * w
            A[c, k] += t
            for r in range(c + 1, M):
                A[r, k] += t * A[r, c]
            R[c, k] = A[c, k]


@njit(**_JIT)
def _gram(F, out):
    """``out = F^T F`` for F (D, D), each entry a chain of fused multiply-adds from 0 in
    row order: what NumPy's ``F.T @ F`` (OpenBLAS syrk) returns."""
    d = F.shape[0]
    for a in range(d):
        for b in range(a, d):
            s = 0.0
            for k in range(d):
                s = _fma(F[k, a], F[k, b], s)
            out[a, b] = s
            out[b, a] = s


@njit(**_JIT)
def _det(W):
    """det of W (D, D), D >= 3, overwritten: LU with partial pivoting, left-looking as
    OpenBLAS's ``getf2`` (pivots scaled by their reciprocal), ``sign * exp(sum log |u|)``
    as NumPy's ``det``."""
    d = W.shape[0]
    sign = 1.0
    logdet = 0.0
    for j in range(d):
        for i in range(1, j):  # U[:j, j]: forward substitution with the unit L
            s = 0.0
            for k in range(i):
                s += W[i, k] * W[k, j]
            W[i, j] -= s
        for r in range(j, d):  # the rest of column j
            s = 0.0
            for k in range(j):
                s = _fma(W[r, k], W[k, j], s)
            W[r, j] -= s
        p = j
        for r in range(j + 1, d):
            if abs(W[r, j]) > abs(W[p, j]):
                p = r
        if W[p, j] == 0.0:
            return 0.0
        if p != j:  # swap the rows whole: later columns get their pivots applied too
            sign = -sign
            for k in range(d):
                W[j, k], W[p, k] = W[p, k], W[j, k]
        u = W[j, j]
        if u < 0.0:
            sign = -sign
        logdet += math.log(abs(u))
        inv = 1.0 / u
        for r in range(j + 1, d):
            W[r, j] *= inv
    return sign * math.exp(logdet)


@njit(**_JIT)
def merges(Z, alpha, log_alpha, D):
    """The merge pairs (m - 1, 2) of VVV agglomeration of the rows of Z (m, D), from the
    singletons' pair costs D (m, m) (upper triangle, +inf elsewhere; overwritten).

    Same state, slots and column-minimum bookkeeping as the NumPy loop of ``hc_merges``.
    """
    m, d = Z.shape
    count = np.ones(m)
    mean = Z.copy()
    stored = np.zeros((m, d, d))
    factors = np.zeros((m, d, d))
    trace = np.zeros(m)
    term = np.full(m, log_alpha)
    label = np.arange(m)
    pairs = np.empty((m - 1, 2), dtype=np.intp)
    # Column minima over rows < lg and their rows, the last of equal minima.
    colmin = np.full(m, np.inf)
    colarg = np.zeros(m, dtype=np.intp)
    redo = np.zeros(m, dtype=np.bool_)
    A = np.empty((2 * d + 1, d))
    R = np.empty((d, d))
    recent_factor = np.empty((d, d))  # the exact factor of the slot merged last
    exact = np.empty((d, d))
    delta = np.empty(d)
    dk = np.empty(d)
    W = np.empty((d, d))
    for c in range(1, m):
        _column_min(D, c, m, colmin, colarg)
    recent = -1
    lg = m
    for step in range(m - 1):
        j = lg - 1
        for c in range(lg - 2, 0, -1):  # the last of equal minima
            if colmin[c] < colmin[j]:
                j = c
        i = colarg[j]
        a, b = label[i], label[j]
        pairs[step, 0], pairs[step, 1] = min(a, b), max(a, b)
        # Merge j into slot i: the factor of the union from the stacked factors of the parts
        # (exact for the cluster merged last, as stored for the others) and the mean shift.
        ni, nj = count[i], count[j]
        n = ni + nj
        f = ni * nj / n
        sf = math.sqrt(f)
        for x in range(d):
            delta[x] = mean[j, x] - mean[i, x]
            A[2 * d, x] = sf * delta[x]
            for y in range(d):
                A[y, x] = recent_factor[y, x] if i == recent else factors[i, y, x]
                A[d + y, x] = recent_factor[y, x] if j == recent else factors[j, y, x]
        _qr_r(A, R)
        dd = 0.0
        diag = R[0, 0]
        for x in range(d):
            dd += delta[x] * delta[x]
            mean[i, x] += (nj / n) * delta[x]
            if x > 0:
                diag *= R[x, x]
        trace[i] += trace[j] + f * dd
        count[i] = n
        label[i] = min(a, b)
        det = math.pow(diag, 2.0) / math.pow(n, float(d))
        term[i] = n * math.log((abs(det) if n > d else 0.0) + (trace[i] + alpha) / n)
        recent = i
        recent_factor[:, :] = R
        _gram(R, exact)
        # mclust's stored factor: its first row copied into the first min(n - 1, D) rows.
        rows = int(min(n - 1, d))
        for y in range(d):
            for x in range(d):
                factors[i, y, x] = R[0, x] if (y < rows and x >= y) else 0.0
        _gram(factors[i], stored[i])
        last = lg - 1
        if j != last:  # mclust's slots: the last cluster moves into the freed slot
            count[j], trace[j], term[j], label[j] = (
                count[last],
                trace[last],
                term[last],
                label[last],
            )
            mean[j] = mean[last]
            stored[j] = stored[last]
            factors[j] = factors[last]
            for r in range(j):
                D[r, j] = D[r, last]
            for c in range(j + 1, last):
                D[j, c] = D[c, last]
        lg -= 1  # (slot `last` is never read again: no need to clear its costs)
        if lg < 2:
            break
        # Costs of the merged cluster with every other one.
        for k in range(lg):
            if k == i:
                continue
            nk = count[k]
            nn = nk + n
            fk = nk * n / nn
            s = 0.0
            for x in range(d):
                dk[x] = mean[k, x] - mean[i, x]
                s += dk[x] * dk[x]
            tr = trace[k] + trace[i] + fk * s
            det = 0.0
            if nn > d:
                for x in range(d):
                    for y in range(d):
                        W[x, y] = (stored[k, x, y] + exact[x, y] + fk * (dk[x] * dk[y])) / nn
                if d == 1:  # NumPy's det of a 1 x 1 matrix, through its logarithm
                    det = math.exp(math.log(abs(W[0, 0]))) if W[0, 0] != 0.0 else 0.0
                elif d == 2:
                    det = W[0, 0] * W[1, 1] - W[0, 1] * W[1, 0]
                else:
                    det = _det(W)
            new = nn * math.log(abs(det) + (tr + alpha) / nn) - term[k] - term[i]
            if k < i:
                D[k, i] = new
            else:
                D[i, k] = new
        # Column minima: recompute the columns that changed or lost their minimum's row.
        for c in range(1, lg):
            redo[c] = c == i or c == j or colarg[c] == i or colarg[c] == j
            if redo[c]:
                _column_min(D, c, lg, colmin, colarg)
        for r in (i, j):  # candidates from the rows that changed (i < j: j's ties win later)
            if r >= lg:
                continue
            for c in range(r + 1, lg):
                v = D[r, c]
                if not redo[c] and (v < colmin[c] or (v == colmin[c] and r > colarg[c])):
                    colmin[c] = v
                    colarg[c] = r
    return pairs


@njit(**_JIT)
def _column_min(D, c, lg, colmin, colarg):
    """Minimum of column c of D over rows < lg and its row, the last of equal minima (rows
    >= c hold +inf: an all-inf column gives row lg - 1, as NumPy's argmin)."""
    best, arg = np.inf, lg - 1
    for r in range(c - 1, -1, -1):
        if D[r, c] < best:
            best, arg = D[r, c], r
    colmin[c], colarg[c] = best, arg
