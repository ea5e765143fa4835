"""Hypothesis strategies shared by the property tests.

Datasets are drawn as a recipe (kind, seed, sizes) and then built with numpy: hypothesis
explores the recipe space (and shrinks towards small, simple recipes), numpy makes the floats.
The kinds cover the degenerate inputs EM must survive without NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.engine.initialization import INIT_METHODS

__all__ = [
    "DATASET_KINDS",
    "FAR_KINDS",
    "Dataset",
    "build_dataset",
    "covariance_types",
    "datasets",
    "init_methods",
]

DATASET_KINDS = (
    "blobs",  # well-separated Gaussian clusters
    "duplicates",  # a handful of distinct points, each repeated many times
    "collinear",  # every point on a line (rank-deficient covariance)
    "tiny",  # N equal or close to K
    "outliers",  # a blob plus a few points 1e4 away
    "scales",  # columns on scales from 1e-3 to 1e4
)
# Inputs where one-pass statistics and expanded quadratic forms cancel catastrophically
# (issues "exact scoring at any offset" and "the log-likelihood never decreases").
FAR_KINDS = (
    "far_outlier",  # a blob plus one or two rows 1e6 to 1e12 away
    "offset",  # well-separated clusters shifted by 1e6 to 3e9 (Unix timestamps)
    "copies",  # 2 to 4 distinct points, each repeated hundreds of times
)

covariance_types = st.sampled_from(COVARIANCE_TYPES)
init_methods = st.sampled_from(INIT_METHODS)


@dataclass(frozen=True)
class Dataset:
    kind: str
    X: np.ndarray
    n_components: int
    seed: int

    def __repr__(self) -> str:  # short, so hypothesis' falsifying example stays readable
        return (
            f"Dataset(kind={self.kind!r}, shape={self.X.shape}, "
            f"n_components={self.n_components}, seed={self.seed})"
        )


def build_dataset(kind: str, rng: np.random.RandomState, n: int, d: int, k: int) -> np.ndarray:
    """X of shape (n, d) of the given kind (see DATASET_KINDS), for K = k components."""
    if kind == "blobs":
        centers = rng.normal(scale=5.0, size=(k, d))
        return centers[rng.randint(k, size=n)] + rng.normal(size=(n, d))
    if kind == "duplicates":
        distinct = rng.normal(scale=3.0, size=(max(2, k - 1), d))
        return distinct[rng.randint(distinct.shape[0], size=n)]
    if kind == "collinear":
        t = rng.normal(scale=2.0, size=(n, 1))
        direction = rng.normal(size=(1, d))
        return t @ direction + rng.normal(size=(1, d))
    if kind == "tiny":
        return rng.normal(size=(n, d))
    if kind == "outliers":
        X = rng.normal(size=(n, d))
        m = max(1, n // 20)
        X[:m] += rng.choice([-1.0, 1.0], size=(m, d)) * 1e4
        return X
    if kind == "scales":
        return rng.normal(size=(n, d)) * np.logspace(-3, 4, d)[rng.permutation(d)]
    if kind == "far_outlier":
        X = rng.normal(size=(n, d))
        m = 1 + rng.randint(2)
        X[:m] = rng.choice([-1.0, 1.0], size=(m, d)) * 10.0 ** rng.uniform(6, 12)
        return X
    if kind == "offset":
        return build_dataset("blobs", rng, n, d, k) + 10.0 ** rng.uniform(6, 9.5)
    if kind == "copies":
        distinct = rng.normal(scale=3.0, size=(2 + rng.randint(3), d))
        return np.repeat(distinct, max(1, n // distinct.shape[0]) * 10, axis=0)
    raise ValueError(kind)  # pragma: no cover


@st.composite
def datasets(draw, kinds=DATASET_KINDS, max_features: int = 3, max_components: int = 4):
    """A :class:`Dataset`: X of shape (n, d) and a number of components K <= n."""
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    k = draw(st.integers(1, max_components))
    d = draw(st.integers(2 if kind == "collinear" else 1, max_features))
    if kind == "scales":
        d = max(d, 2)
    n = k + draw(st.integers(0, 2)) if kind == "tiny" else draw(st.integers(max(k, 8), 80))
    X = build_dataset(kind, np.random.RandomState(seed), n, d, k)
    return Dataset(kind, X, k, seed)


def collapsing_data() -> np.ndarray:
    """Two blobs, four copies of one point and three points 1e-4 apart, shape (207, 2): k-means
    restarts that put a component on the copies collapse with a higher likelihood than the
    sound fit (with K=3 and seed 1, restarts 0 and 3 of 8 collapse, and the highest lower
    bound is a collapsed one)."""
    rng = np.random.default_rng(1)
    return np.vstack(
        [
            rng.normal(size=(100, 2)),
            rng.normal(size=(100, 2)) + [5.0, 0.0],
            np.tile([[2.5, 4.0]], (4, 1)),
            rng.normal(size=(3, 2)) * 1e-4 + [-3.0, 3.0],
        ]
    )
