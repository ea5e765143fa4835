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


def test_default_chunks_bit_identical_for_any_n_jobs():
    """The default chunking (equal chunks of >= CHUNK_MIN_ROWS rows, from the rows alone)
    with tasks: several chunks per task, the same sums for every n_jobs."""
    X = _data(40_000, d=10)
    k, d = 8, X.shape[1]
    structure = get_structure("full")
    means = np.random.default_rng(2).normal(size=(k, d))
    prec = np.repeat(np.eye(d)[None], k, 0)
    lw = np.log(np.full((2, k), 1 / k))
    slices = [(0, 13_000), (13_000, X.shape[0])]
    ref = e_step(X, slices, lw, means, prec, structure)
    for n_jobs in (2, 3):
        got = e_step(X, slices, lw, means, prec, structure, n_jobs=n_jobs)
        assert got.log_likelihood == ref.log_likelihood
        assert np.array_equal(got.S1, ref.S1) and np.array_equal(got.S2, ref.S2)


def test_chunk_rows_floor_and_cap():
    """>= CHUNK_MIN_ROWS rows per chunk (10-D, K=8, full: 1,542 rows by the cache budget
    alone), unless the buffers would exceed CHUNK_MAX_BYTES (50-D)."""
    from gmmcore.engine import estep
    from gmmcore.engine.kernels import FeatureLayout

    def rows(d, k):
        return estep._chunk_rows(k, d, FeatureLayout(d, "outer").width + k * d)

    assert rows(10, 8) == estep.CHUNK_MIN_ROWS
    wide = FeatureLayout(50, "outer").width + 8 * 50 + 3 * 8
    assert rows(50, 8) == estep.CHUNK_MAX_BYTES // (8 * wide) < estep.CHUNK_MIN_ROWS
    assert estep._balanced(6144, 10_000) == 5_000 and estep._balanced(6144, 6_000) == 6_000


def test_kept_workspaces_serve_any_mix_of_calls():
    """Workspaces kept between E-steps (estep._Spares) never leak one call's numbers into
    another: float32 and float64 data, other shapes, and two threads running E-steps of the
    same shapes at once all give what a first call gives."""
    import threading

    from gmmcore.engine import workspace

    structure = get_structure("full")
    k = 3
    prec = np.repeat(np.eye(4)[None], k, 0)
    lw = np.log(np.full((1, k), 1 / k))
    means = np.random.default_rng(3).normal(size=(k, 4))
    data = [_data(9_000, seed=s) for s in range(4)]

    def stats(X):
        return e_step(X, [(0, X.shape[0])], lw, means, prec, structure, chunk_rows=1_000)

    workspace.SPARES.for_config(None)  # drop whatever earlier tests kept
    first = [stats(X) for X in data]
    stats(data[0].astype(np.float32))
    e_step(data[0][:, :3], [(0, 9_000)], lw, means[:, :3], prec[:, :3, :3], structure)
    out = [None] * len(data)

    def work(i):
        out[i] = stats(data[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(first, out, strict=True):
        assert a.log_likelihood == b.log_likelihood and np.array_equal(a.S2, b.S2)
