"""mclust's start: model-based agglomerative hierarchical clustering (``init_params="hc"``).

What R's mclust does by default before EM (``Mclust``, ``mclustBIC``; Fraley 1998,
"Algorithms for model-based Gaussian hierarchical clustering", SIAM J. Sci. Comput. 20):

1. transform the data as ``hcUse = "SVD"``: center and scale every column (standard deviation
   with ``n - 1``), drop columns that are not finite afterwards (constant ones), then
   ``Z = Xs V diag(1 / sqrt(d))`` with ``Xs = U diag(d) V^T`` the thin SVD;
2. starting from one cluster per row, merge repeatedly the two clusters whose merge costs the
   least classification likelihood under the unconstrained (VVV) model (``hcVVV``, Fortran
   ``hcvvv``), down to one cluster;
3. cut the tree at K clusters (``hclass``), numbering clusters by first appearance
   (``partconv``), and use the hard classification as EM's starting responsibilities.

The cost of a cluster C with ``n`` rows, scatter matrix ``W`` and ``t = tr(W)`` is
``T(C) = n log(det(W / n) + beta (t + alpha) / n)`` (``vvvtij``; the determinant counts only
once ``n > D``, below it is 0), with ``beta = 1`` and ``alpha = tr(scatter of Z) / (n D)``
(mclust's ``traceW(data / sqrt(n p))``): a singleton costs ``log(alpha beta)``. Merging A and B
costs ``T(A u B) - T(A) - T(B)``, where ``W`` and ``t`` of the union follow from the parts'
counts, means and scatters. The loop keeps the pairwise costs in one (m, m) array (upper
triangle) and, per column, its minimum; each merge recomputes one row of costs (a batch of
D x D determinants) and only the column minima it can change, so the whole tree of m <= 2000
rows takes well under a second. Ties go to the pair mclust picks (the last of the equal
minima in its packed order: largest second slot, then largest first slot), with clusters held
in mclust's slots (a merge keeps the lower slot, the last slot moves into the freed one).

For one feature mclust uses no tree: the K classes are quantile intervals (``qclass``); so do
we. Data with more than :data:`HC_MAX_ROWS` rows are clustered on a random subset of that
many rows (mclust: ``mclust.options("subset")``, drawn by R's generator), drawn here with a
seed taken from the fit's ``random_state``: reproducible, and each restart (``n_init``) tries
another subset, which matters because the subset decides the start (mclust's own best model
on GvHD changes from run to run with it). The other rows start with no responsibility, so
EM's first M-step is mclust's ``mstep`` on the subset and its first E-step mclust's
``estep`` on all rows.

The tree depends on the data (and the subset) only, so it is computed once and kept in a
small cache keyed by the data's bytes and the subset's seed: every cell of a model-selection
grid fits with the same integer ``random_state``, so all share it, as in mclust.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from . import compiled, kernels

__all__ = [
    "HC_MAX_ROWS",
    "hc_labels",
    "hc_merges",
    "hc_responsibilities",
    "quantile_classes",
    "svd_transform",
]

#: Rows the tree is built on at most (mclust.options("subset")).
HC_MAX_ROWS = 2000
# Seed of the subset for larger data when no generator is given (hc_responsibilities(rng=None));
# a fit draws it from its random_state, so each restart tries another subset.
_SUBSET_SEED = 0
# data bytes -> (merge pairs or None, subset rows, {K: starting labels}): a grid asks for the
# same K once per model (14 times), and each cut replays up to 2,000 merges.
_CACHE: OrderedDict[bytes, tuple[np.ndarray | None, np.ndarray, dict]] = OrderedDict()
_CACHE_SIZE = 4


def svd_transform(X: np.ndarray) -> np.ndarray:
    """mclust's ``hcUse = "SVD"`` transformation of X (n, D), shape (n, min(n, D'))."""
    if X.shape[0] < 2:  # one row: nothing to scale (and no merge to make)
        return np.zeros((X.shape[0], 0))
    Xs = X - X.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Xs = Xs / Xs.std(axis=0, ddof=1)
    Xs = Xs[:, np.isfinite(Xs).all(axis=0)]  # constant columns scale to NaN: dropped
    _, d, Vt = np.linalg.svd(Xs, full_matrices=False)
    # Directions without spread (collinear features: a zero singular value) would divide by
    # zero: they carry nothing to cluster on and are dropped, as constant columns are.
    keep = d > d[:1].max(initial=0.0) * np.finfo(np.float64).eps * max(Xs.shape)
    return Xs @ Vt[keep].T / np.sqrt(d[keep])


def _terms(n, trace, det, alpha, d):
    """``T(C)`` of clusters with ``n`` rows, scatter trace and ``det(W / n)``, vectorized."""
    det = np.where(n > d, np.abs(det), 0.0)
    return n * np.log(det + (trace + alpha) / n)


def _det(W: np.ndarray) -> np.ndarray:
    """det of a (L, D, D) stack; closed form for D = 2 (the common case, 5x faster)."""
    if W.shape[-1] == 2:
        return W[:, 0, 0] * W[:, 1, 1] - W[:, 0, 1] * W[:, 1, 0]
    return np.linalg.det(W)


def hc_merges(Z: np.ndarray) -> np.ndarray:
    """The merges of model-based (VVV) agglomerative clustering of the rows of Z.

    Parameters
    ----------
    Z : ndarray of shape (m, D)
        Transformed data (:func:`svd_transform`), one initial cluster per row.

    Returns
    -------
    pairs : ndarray of shape (m - 1, 2), int
        Merge t joins the clusters labelled ``pairs[t, 0] < pairs[t, 1]`` (a cluster's label
        is its smallest row index, 0-based): mclust's ``hc`` output, transposed and 0-based.

    The merge loop runs compiled (:mod:`gmmcore.engine._numba_hc`) when numba is available
    and compiled kernels are on (:func:`gmmcore.engine.compiled.kernels`), else in NumPy.
    """
    m, d = Z.shape
    if m < 2:
        return np.empty((0, 2), dtype=np.intp)
    if d == 0:
        # No spread in any direction (every row the same): every merge costs the same; merge
        # the rows into the first one in order (this divided by zero before).
        return np.column_stack([np.zeros(m - 1, dtype=np.intp), np.arange(1, m)])
    alpha, D = _singleton_costs(Z)
    module = compiled.kernels("hc")
    if module is not None:
        Z = np.ascontiguousarray(Z, dtype=np.float64)
        return module.merges(Z, alpha, float(np.log(alpha)), D)
    return _merges_numpy(Z, alpha, D)


def _singleton_costs(Z: np.ndarray) -> tuple[float, np.ndarray]:
    """(alpha, D): the cost of merging each pair of rows of Z (m, D), D >= 1, in the upper
    triangle of D (m, m), +inf elsewhere; both loops start from these same bits."""
    m, d = Z.shape
    Zc = Z - Z.mean(axis=0)
    alpha = max(float((Zc * Zc).sum()) / (m * d), np.finfo(np.float64).eps)
    # Pair costs of singletons: n = 2 <= D (D >= 2 here), so T = 2 log((|x - y|^2 / 2 + a) / 2).
    sq = (Z * Z).sum(axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0)
    if d < 2:  # one feature: the general formula (n = 2 > D, det of a 1x1 scatter)
        w = 0.5 * dist
        cost = 2.0 * np.log(w / 2.0 + (w + alpha) / 2.0) - 2.0 * np.log(alpha)
    else:
        cost = 2.0 * np.log((0.5 * dist + alpha) / 2.0) - 2.0 * np.log(alpha)
    D = np.triu(cost, 1)
    D[np.tril_indices(m)] = np.inf  # only i < j is used
    return alpha, D


def _merges_numpy(Z: np.ndarray, alpha: float, D: np.ndarray) -> np.ndarray:
    """hc_merges' loop in NumPy (the reference and the fallback), from _singleton_costs."""
    m, d = Z.shape
    count = np.ones(m)
    mean = Z.astype(np.float64, copy=True)
    # The scatter matrices as mclust reads them back (see _stored_factor): what a cluster
    # contributes to the cost of its merges with the cluster merged last.
    stored = np.zeros((m, d, d))
    factors = np.zeros((m, d, d))  # the stored triangular rows themselves
    trace = np.zeros(m)
    term = np.full(m, np.log(alpha))
    label = np.arange(m)
    rows = np.arange(m)
    colmin = np.full(m, np.inf)
    colarg = np.zeros(m, dtype=np.intp)
    colmin[1:], colarg[1:] = _column_minima(D, np.arange(1, m), m)
    pairs = np.empty((m - 1, 2), dtype=np.intp)
    recent, recent_factor = -1, None  # the slot merged last and its exact factor
    for step, lg in enumerate(range(m, 1, -1)):
        vals = colmin[1:lg]
        j = int(lg - 1 - np.argmin(vals[::-1]))  # last of equal minima
        i = int(colarg[j])
        a, b = label[i], label[j]
        pairs[step] = (min(a, b), max(a, b))
        # Merge j into slot i: the triangular factor of the union from the parts' factors
        # (exact for the cluster merged last, as stored for the others) and the mean shift.
        ni, nj = count[i], count[j]
        n = ni + nj
        delta = mean[j] - mean[i]
        f = ni * nj / n
        fi = recent_factor if i == recent else factors[i]
        fj = recent_factor if j == recent else factors[j]
        with kernels.serial_blas():
            R = np.linalg.qr(np.vstack([fi, fj, np.sqrt(f) * delta[None]]), mode="r")[:d]
        trace[i] += trace[j] + f * float(delta @ delta)
        mean[i] += (nj / n) * delta
        count[i] = n
        label[i] = min(a, b)
        term[i] = _terms(n, trace[i], np.prod(np.diag(R)) ** 2 / n**d, alpha, d)
        recent, recent_factor = i, R
        exact = R.T @ R
        factors[i] = _stored_factor(R, int(min(n - 1, d)))
        stored[i] = factors[i].T @ factors[i]
        last = lg - 1
        if j != last:  # mclust's slots: the last cluster moves into the freed slot
            for arr in (count, mean, stored, factors, trace, term, label):
                arr[j] = arr[last]
            D[:j, j] = D[:j, last]
            D[j, j + 1 : last] = D[j + 1 : last, last]
        lg -= 1
        D[:, last] = np.inf
        D[last, :] = np.inf
        if lg < 2:
            break
        # Costs of the merged cluster with every other one.
        others = np.flatnonzero(rows[:lg] != i)
        nk = count[others]
        nn = nk + n
        dk = mean[others] - mean[i]
        fk = nk * n / nn
        tr = trace[others] + trace[i] + fk * (dk * dk).sum(axis=1)
        det = np.zeros(others.size)
        big = nn > d
        if big.any():
            Wk = stored[others[big]] + exact
            Wk += fk[big, None, None] * (dk[big, :, None] * dk[big, None, :])
            det[big] = _det(Wk / nn[big, None, None])
        new = _terms(nn, tr, det, alpha, d) - term[others] - term[i]
        below = others < i
        D[others[below], i] = new[below]
        D[i, others[~below]] = new[~below]
        # Column minima: recompute the columns that changed or lost their minimum's row.
        cols = np.arange(1, lg)
        redo = (cols == i) | (cols == j) | (colarg[cols] == i) | (colarg[cols] == j)
        redo_cols = cols[redo]
        if redo_cols.size:
            colmin[redo_cols], colarg[redo_cols] = _column_minima(D, redo_cols, lg)
        for r in (i, j):  # candidates from the rows that changed (i < j: j's ties win later)
            if r >= lg:
                continue
            c = np.arange(r + 1, lg)
            c = c[~redo[c - 1]]
            v = D[r, c]
            better = (v < colmin[c]) | ((v == colmin[c]) & (r > colarg[c]))
            colmin[c[better]] = v[better]
            colarg[c[better]] = r
    return pairs


def _stored_factor(R: np.ndarray, n_rows: int) -> np.ndarray:
    """The triangular factor of a merged cluster as mclust's ``hcvvv`` stores it.

    ``hcvvv`` keeps each cluster's factor in rows of its data array, but after a merge it
    copies the factor's *first* row into every storage row (``dcopy(p, r(1,1), p, ...)``), so
    row k reads back as ``R[0, k:]``. Later merge costs of that cluster use this factor; we
    reproduce it so that the tree, and so the starting partitions, are mclust's.
    """
    d = R.shape[1]
    out = np.zeros((d, d))
    for k in range(n_rows):
        out[k, k:] = R[0, k:]
    return out


def _column_minima(D, cols, lg):
    """Minimum of each column over rows < lg and its row (the last of equal minima)."""
    sub = D[lg - 1 :: -1, cols] if lg > 0 else D[:0, cols]
    arg = sub.argmin(axis=0)
    return sub[arg, np.arange(cols.size)], lg - 1 - arg


def hc_labels(pairs: np.ndarray, n_rows: int, n_clusters: int) -> np.ndarray:
    """The partition into ``n_clusters`` after the first ``n_rows - n_clusters`` merges,
    clusters numbered 0.. by first appearance (mclust's ``hclass`` then ``partconv``),
    shape (n_rows,)."""
    labels = np.arange(n_rows)
    for a, b in pairs[: n_rows - n_clusters]:
        labels[labels == b] = a
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def quantile_classes(x: np.ndarray, n_clusters: int) -> np.ndarray:
    """mclust's ``qclass``: K classes of one feature by quantile intervals, shape (n,), 0-based.

    Quantiles are R's default type 7 (numpy's "linear"); with ties, more quantiles are asked
    for until K + 1 distinct ones exist, and the closest ones are dropped.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    k = n_clusters
    q = np.array([np.nan])
    m = k
    while q.size < k + 1:
        m += 1
        q = np.unique(np.quantile(x, np.linspace(0.0, 1.0, m)))
        if m > x.size + k + 1:  # fewer distinct values than classes: cannot do better
            break
    if q.size > k + 1:
        drop = np.argsort(np.diff(q), kind="stable")[: q.size - k - 1]
        q = np.delete(q, drop)
    eps = x.std(ddof=1) * np.sqrt(np.finfo(np.float64).eps) if x.size > 1 else 0.0
    q[0], q[-1] = x.min() - eps, x.max() + eps
    cl = np.full(x.size, -1)
    for i in range(q.size - 1):
        cl[(x >= q[i]) & (x < q[i + 1])] = i
    return cl


def _tree(X: np.ndarray, subset_seed: int) -> tuple[np.ndarray | None, np.ndarray, dict]:
    """(pairs or None for one feature, subset rows, {K: labels} filled by
    hc_responsibilities), cached by the data's bytes and, above HC_MAX_ROWS rows, the seed
    of the subset."""
    n, d = X.shape
    key = hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16).digest()
    key += repr((X.shape, subset_seed if n > HC_MAX_ROWS else None)).encode()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    if n > HC_MAX_ROWS:
        rng = np.random.RandomState(subset_seed)
        subset = np.sort(rng.choice(n, HC_MAX_ROWS, replace=False))
    else:
        subset = np.arange(n)
    pairs = None if d == 1 else hc_merges(svd_transform(X[subset]))
    entry = _CACHE[key] = (pairs, subset, {})
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


def hc_responsibilities(X: np.ndarray, n_components: int, rng=None) -> np.ndarray:
    """Hard starting responsibilities of shape (n_samples, K) from mclust's start.

    Data with more than :data:`HC_MAX_ROWS` rows are clustered on a random subset of that
    many rows, drawn with a seed taken from ``rng`` (a RandomState; None: a fixed seed), so
    the start is reproducible from ``random_state`` and every restart (n_init) tries another
    subset; rows outside the subset are all zero. Smaller data are used whole and ``rng`` is
    not touched: the start is the same for every seed. Raises ValueError when the subset has
    fewer rows than K.
    """
    n = X.shape[0]
    k = n_components
    seed = _SUBSET_SEED
    if n > HC_MAX_ROWS and rng is not None:
        seed = int(rng.randint(np.iinfo(np.int32).max))
    pairs, subset, cuts = _tree(X, seed)
    if subset.size < k:
        raise ValueError(
            f"init_params='hc' needs at least n_components={k} rows, got {subset.size}."
        )
    labels = cuts.get(k)
    if labels is None:
        if pairs is None:
            labels = quantile_classes(X[subset, 0], k)
        else:
            labels = hc_labels(pairs, subset.size, k)
        labels.flags.writeable = False
        cuts[k] = labels
    resp = np.zeros((n, k))
    resp[subset, labels] = 1.0
    return resp
