"""n_jobs: the E-step's chunks on a pool of threads, bit-identical for every n_jobs."""

import numpy as np
import pytest

from gmmcore import GaussianMixture
from gmmcore.engine.covariance import get_structure
from gmmcore.engine.em import iter_em
from gmmcore.engine.estep import e_step, effective_n_jobs


def _data(n=20_000, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(3, 2, (n - n // 2, d))]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estep_bit_identical_for_any_n_jobs(covariance_type, dtype):
    X = _data().astype(dtype)
    k, d = 3, X.shape[1]
    rng = np.random.default_rng(1)
    structure = get_structure(covariance_type)
    means = rng.normal(size=(k, d))
    prec = {"full": np.repeat(np.eye(d)[None], k, 0), "tied": np.eye(d),
            "diag": np.ones((k, d)), "spherical": np.ones(k)}[covariance_type]  # fmt: skip
    lw = np.log(np.full((2, k), 1 / k))
    slices = [(0, 7_000), (7_000, X.shape[0])]  # two tasks: S0 per task, in chunk order
    ref = e_step(X, slices, lw, means, prec, structure, chunk_rows=500)
    for n_jobs in (2, 3, -1):
        got = e_step(X, slices, lw, means, prec, structure, chunk_rows=500, n_jobs=n_jobs)
        assert got.log_likelihood == ref.log_likelihood
        assert np.array_equal(got.S0, ref.S0) and np.array_equal(got.S1, ref.S1)
        assert (got.S2 is None and ref.S2 is None) or np.array_equal(got.S2, ref.S2)


def test_fit_bit_identical_for_any_n_jobs():
    X = _data(30_000)
    ref = GaussianMixture(3, random_state=0).fit(X)
    for n_jobs in (2, -1):
        got = GaussianMixture(3, random_state=0, n_jobs=n_jobs).fit(X)
        assert np.array_equal(got.means_, ref.means_)
        assert np.array_equal(got.covariances_, ref.covariances_)
        assert got.lower_bounds_ == ref.lower_bounds_


def test_iter_em_snapshots_identical():
    X = _data(5_000)
    a = list(iter_em(X, 2, random_state=0))
    b = list(iter_em(X, 2, random_state=0, n_jobs=2))
    assert [s.log_likelihood for s in a] == [s.log_likelihood for s in b]


def test_effective_n_jobs():
    assert effective_n_jobs(None) == 1
    assert effective_n_jobs(3) == 3
    assert effective_n_jobs(-1) >= 1
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            effective_n_jobs(bad)
