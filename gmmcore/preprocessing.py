"""Preprocessing that travels with a model: standardization of the features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine.validation import check_X

__all__ = ["Standardizer"]


@dataclass(frozen=True)
class Standardizer:
    """z = (x - mean) / scale, per feature, with the population standard deviation.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,), all > 0

    Examples
    --------
    >>> std = Standardizer.fit([[1.0, 10.0], [3.0, 30.0]])
    >>> std.transform([[2.0, 20.0], [3.0, 30.0]]).tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    >>> std.inverse_transform([[1.0, 1.0]]).tolist()
    [[3.0, 30.0]]
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X) -> Standardizer:
        """Learn mean and scale from X of shape (n_samples, n_features); constant columns are
        rejected (they cannot be standardized)."""
        X = check_X(X, allow_constant=False)
        return cls(X.mean(axis=0), X.std(axis=0))

    def transform(self, X) -> np.ndarray:
        """Standardized copy of X, shape (n_samples, n_features)."""
        X = check_X(X, n_features=self.mean.shape[0], allow_constant=True)
        return (X - self.mean) / self.scale

    def inverse_transform(self, Z) -> np.ndarray:
        """Back to the original units."""
        return np.asarray(Z, dtype=np.float64) * self.scale + self.mean
