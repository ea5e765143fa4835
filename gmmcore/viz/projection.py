"""Linear 2-D views of D-dimensional mixtures: PCA or two chosen axes.

A Gaussian pushed through a linear map A is again Gaussian, with mean A mu and covariance
A Sigma A^T, so the ellipses drawn in a projected view are the *exact* projected
covariances, not an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Projection", "axis_projection", "pca_projection"]


@dataclass(frozen=True)
class Projection:
    """x -> (x - center) @ components.T, a map from D features to len(components) axes.

    Attributes
    ----------
    center : ndarray of shape (n_features,)
    components : ndarray of shape (n_axes, n_features), orthonormal rows
    labels : tuple of axis labels
    explained_variance_ratio : ndarray of shape (n_axes,) or None (None for raw axes)
    """

    center: np.ndarray
    components: np.ndarray
    labels: tuple[str, ...]
    explained_variance_ratio: np.ndarray | None = None

    def transform(self, X) -> np.ndarray:
        """Projected points, shape (n_samples, n_axes)."""
        X = np.asarray(X, dtype=np.float64)
        return (X - self.center) @ self.components.T

    def project_means(self, means) -> np.ndarray:
        """Projected means, shape (K, n_axes)."""
        return self.transform(means)

    def project_covariances(self, covariances) -> np.ndarray:
        """Exact covariances of the projected components, A S A^T, shape (K, n_axes, n_axes).

        covariances : ndarray of shape (K, D, D)
        """
        S = np.asarray(covariances, dtype=np.float64)
        A = self.components
        return np.einsum("ad,kde,be->kab", A, S, A)


def axis_projection(n_features: int, i: int, j: int, feature_names=None) -> Projection:
    """The view on features i (horizontal) and j (vertical), in raw units."""
    if not (0 <= i < n_features and 0 <= j < n_features):
        raise ValueError(f"axes must be in 0..{n_features - 1}, got {i} and {j}.")
    names = (
        list(feature_names) if feature_names is not None else [f"x{t}" for t in range(n_features)]
    )
    A = np.zeros((2, n_features))
    A[0, i] = 1.0
    A[1, j] = 1.0
    return Projection(np.zeros(n_features), A, (str(names[i]), str(names[j])))


def pca_projection(X, n_components: int = 2, feature_names=None) -> Projection:
    """Principal-component projection of X (centered, not rescaled).

    The sign of each component is fixed so that its largest-magnitude loading is positive,
    so the view does not flip between runs.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    m = min(n_components, d)
    center = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - center, full_matrices=False)
    comps = vt[:m].copy()
    for r in range(m):
        if comps[r, np.argmax(np.abs(comps[r]))] < 0:
            comps[r] = -comps[r]
    var = s**2
    ratio = var[:m] / var.sum() if var.sum() > 0 else np.zeros(m)
    names = list(feature_names) if feature_names is not None else [f"x{t}" for t in range(d)]
    labels = []
    for r in range(m):
        top = np.argsort(-np.abs(comps[r]))[:2]
        desc = " ".join(f"{comps[r, t]:+.2f}·{names[t]}" for t in top)
        labels.append(f"PC{r + 1} ({ratio[r]:.0%} of variance: {desc} …)")
    return Projection(center, comps, tuple(labels), ratio)
