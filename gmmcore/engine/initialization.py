"""Initial responsibilities, the way scikit-learn's ``init_params`` defines them, plus
mclust's hierarchical start (``"hc"``).

Each method returns an (n_samples, K) responsibility matrix; the EM loop turns it into
parameters with one M-step, then replaces any of them the user gave explicitly.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["INIT_METHODS", "initial_responsibilities", "kmeans_plusplus"]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "hc")


def kmeans_plusplus(X: np.ndarray, n_components: int, rng: np.random.RandomState) -> np.ndarray:
    """Indices of K seeds chosen by k-means++ (D^2 sampling), shape (K,)."""
    n = X.shape[0]
    indices = np.empty(n_components, dtype=np.intp)
    indices[0] = rng.randint(n)
    closest = ((X - X[indices[0]]) ** 2).sum(axis=1)
    for j in range(1, n_components):
        total = closest.sum()
        if total <= 0:  # every point coincides with a seed: any row will do
            indices[j] = rng.randint(n)
        else:
            indices[j] = min(np.searchsorted(np.cumsum(closest), rng.uniform() * total), n - 1)
        np.minimum(closest, ((X - X[indices[j]]) ** 2).sum(axis=1), out=closest)
    return indices


def _one_hot(labels: np.ndarray, n_components: int, dtype=np.float64) -> np.ndarray:
    resp = np.zeros((labels.shape[0], n_components), dtype)
    resp[np.arange(labels.shape[0]), labels] = 1.0
    return resp


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ centers.T + (centers * centers).sum(1)
    return d2.argmin(axis=1)


def initial_responsibilities(
    X: np.ndarray, n_components: int, method: str, rng: np.random.RandomState
) -> np.ndarray:
    """Responsibilities of shape (n_samples, K), in X's dtype (float32 data: half the
    memory), from an initialization method.

    Methods
    -------
    kmeans : Lloyd's k-means (scipy's ``kmeans2``) seeded with k-means++; hard labels.
    k-means++ : only the k-means++ seeds; each point goes to its nearest seed.
    random : uniform random responsibilities, normalized per row.
    random_from_data : K random rows as means; only those rows carry responsibility.
    hc : mclust's start (:mod:`gmmcore.engine.hierarchical`): the K-cluster cut of
        model-based hierarchical clustering, hard labels; deterministic up to 2,000 rows
        (``rng`` unused), above that on a random 2,000-row subset drawn from ``rng``.
    """
    n = X.shape[0]
    if method == "kmeans":
        # kmeans2 wants a seed; derive it from our RandomState so random_state reproduces.
        from scipy.cluster.vq import kmeans2  # deferred: ~0.1 s to import, only k-means needs it

        seed = rng.randint(np.iinfo(np.int32).max)
        if n_components == 1:
            # One cluster holds every row. (scipy's kmeans2 with k=1 segfaulted on data whose
            # squared distances overflow; check_X bounds the data now, and skipping the call
            # also saves its cost. The seed is still drawn so random_state streams match.)
            return np.ones((n, 1), X.dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "one of the clusters is empty" is fine here
            centers, labels = kmeans2(X, n_components, iter=30, minit="++", rng=seed)
        return _one_hot(labels, n_components, X.dtype)
    if method == "k-means++":
        centers = X[kmeans_plusplus(X, n_components, rng)]
        return _one_hot(_nearest(X, centers), n_components, X.dtype)
    if method == "random":
        resp = rng.uniform(size=(n, n_components))
        resp /= resp.sum(axis=1)[:, None]
        return resp.astype(X.dtype, copy=False)
    if method == "random_from_data":
        resp = np.zeros((n, n_components), X.dtype)
        idx = rng.choice(n, size=n_components, replace=False)
        resp[idx, np.arange(n_components)] = 1.0
        return resp
    if method == "hc":
        from .hierarchical import hc_responsibilities

        return hc_responsibilities(X, n_components, rng)
    raise ValueError(f"Unknown init_params {method!r}; choose one of {', '.join(INIT_METHODS)}.")
