"""The compiled merge loop of mclust's hierarchical clustering (gmmcore.engine._numba_hc)
against the NumPy loop of ``hc_merges``: the same merges, pair for pair.

Merges are decided by comparing costs, so equality is exact (``np.array_equal``), ties
included: duplicated rows and grid data, whose equal costs go to mclust's "last of equal
minima". The tree against mclust itself is ``tests/test_mclust_hc.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from gmmcore.datasets import load_sample  # noqa: E402
from gmmcore.engine import compiled  # noqa: E402
from gmmcore.engine import hierarchical as H  # noqa: E402


def _both(Z):
    """(NumPy pairs, compiled pairs) of Z (m, D)."""
    assert compiled.kernels("hc") is not None
    with compiled.disabled():
        reference = H.hc_merges(Z)
    return reference, H.hc_merges(Z)


def _assert_same(Z):
    reference, ours = _both(Z)
    assert ours.shape == (Z.shape[0] - 1, 2)
    assert np.array_equal(ours, reference)


def _sample(name, cols):
    return load_sample(name)[cols].to_numpy(dtype=np.float64)


def test_faithful():
    _assert_same(H.svd_transform(_sample("Old Faithful", ["eruptions", "waiting"])))


def test_iris():
    cols = ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
    _assert_same(H.svd_transform(_sample("Iris", cols)))


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 3), (3, 3, 2, 2)])
def test_integer_grid_ties(shape):
    """Every neighbour at the same distance: the first merges are all ties."""
    X = np.indices(shape).reshape(len(shape), -1).T.astype(np.float64)
    _assert_same(H.svd_transform(X))
    _assert_same(X)  # untransformed: the equal costs are equal to the last bit


def test_duplicated_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    X = np.vstack([X, X[:12], X[:5]])  # pairs and triples of zero-cost merges
    _assert_same(H.svd_transform(X))


def test_one_feature():
    """D = 1 after the transformation (the 1 x 1 determinants), with ties."""
    rng = np.random.default_rng(1)
    _assert_same(H.svd_transform(rng.normal(size=(40, 1))))
    _assert_same(H.svd_transform(rng.integers(0, 5, size=(40, 1)).astype(np.float64)))
    X = rng.normal(size=(25, 1)) @ np.ones((1, 3))  # three collinear features: SVD keeps one
    assert H.svd_transform(X).shape[1] == 1
    _assert_same(H.svd_transform(X))


def test_edge_cases_stay_in_python():
    assert H.hc_merges(np.zeros((1, 3))).shape == (0, 2)
    assert np.array_equal(H.hc_merges(np.zeros((4, 0))), [[0, 1], [0, 2], [0, 3]])
    _assert_same(np.array([[0.0, 1.0], [2.0, 0.5]]))  # m = 2: one merge


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(2, 40),
    d=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    integer=st.booleans(),
)
def test_random_data(m, d, seed, integer):
    """Small data, continuous or on a few integer levels (ties, duplicates)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(m, d)).astype(np.float64) if integer else rng.normal(size=(m, d))
    Z = H.svd_transform(X)
    reference, ours = _both(Z)
    assert np.array_equal(ours, reference)
