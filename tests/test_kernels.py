"""The E-step kernels (gmmcore.engine.kernels, gmmcore.engine.estep): chunking, references, memory.

References: log-densities from ``scipy.stats.multivariate_normal.logpdf``; responsibilities
and sufficient statistics from their textbook definitions computed unchunked in NumPy.
No timings here: speed is measured by ``python -m bench.run``.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmmcore.engine import compiled, estep, kernels
from gmmcore.engine.covariance import COVARIANCE_TYPES, get_structure


def _problem(covariance_type, n=1000, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    means = rng.normal(size=(k, d))
    s = get_structure(covariance_type)
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        cov = a @ a.transpose(0, 2, 1) + d * np.eye(d)
    elif covariance_type == "tied":
        a = rng.normal(size=(d, d))
        cov = a @ a.T + d * np.eye(d)
    elif covariance_type == "diag":
        cov = rng.uniform(0.5, 2.0, size=(k, d))
    else:
        cov = rng.uniform(0.5, 2.0, size=k)
    prec_chol = s.precisions_cholesky(cov)
    weights = rng.dirichlet(np.ones(k))
    return X, weights, means, cov, prec_chol, s


def _reference(X, weights, means, cov, s):
    """Unchunked textbook E-step: log-likelihood, resp, S0, S1, S2 (per the structure)."""
    k, d = means.shape
    covs = s.covariance_matrices(cov, k, d)
    logp = np.column_stack(
        [multivariate_normal(means[j], covs[j]).logpdf(X) for j in range(k)]
    ) + np.log(weights)
    ll = logsumexp(logp, axis=1)
    resp = np.exp(logp - ll[:, None])
    S0 = resp.sum(axis=0)
    S1 = resp.T @ X
    if s.second_moment == "outer":
        S2 = np.einsum("nk,nd,ne->kde", resp, X, X)
    elif s.second_moment == "square":
        S2 = resp.T @ (X * X)
    else:
        S2 = None
    return ll, resp, S0, S1, S2


def _stats(X, weights, prec_chol, means, s, chunk_rows=None, task_slices=None):
    slices = task_slices or [(0, X.shape[0])]
    lw = np.tile(np.log(weights), (len(slices), 1))
    return estep.e_step(X, slices, lw, means, prec_chol, s, chunk_rows=chunk_rows)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_matches_unchunked_reference(covariance_type):
    """Log-likelihood and S0/S1/S2 equal the textbook formulas (scipy logpdf reference)."""
    X, w, m, cov, pc, s = _problem(covariance_type)
    ll, _, S0, S1, S2 = _reference(X, w, m, cov, s)
    st = _stats(X, w, pc, m, s, chunk_rows=97)
    # 1e-10: scipy's logpdf and our GEMM forms round differently (~1e-14 per row).
    assert_allclose(st.log_likelihood, ll.sum(), rtol=1e-10)
    assert_allclose(st.S0[0], S0, rtol=1e-10)
    assert_allclose(st.S1, S1, rtol=1e-10, atol=1e-10 * np.abs(S1).max())
    if S2 is None:
        assert st.S2 is None
    else:
        assert_allclose(st.S2, S2, rtol=1e-10, atol=1e-10 * np.abs(S2).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("chunk_rows", [1, 7, 256, 999, 1000, 5000])
def test_chunked_sums_equal_unchunked(covariance_type, chunk_rows):
    """Any chunk size, including ones that do not divide N (1000), gives the same sums."""
    X, w, m, _, pc, s = _problem(covariance_type)
    one = _stats(X, w, pc, m, s, chunk_rows=X.shape[0])
    st = _stats(X, w, pc, m, s, chunk_rows=chunk_rows)
    # 1e-12 relative: only the order of the floating-point additions differs.
    assert_allclose(st.log_likelihood, one.log_likelihood, rtol=1e-12)
    assert_allclose(st.S0, one.S0, rtol=1e-12)
    assert_allclose(st.S1, one.S1, rtol=1e-12, atol=1e-12 * np.abs(one.S1).max())
    if one.S2 is not None:
        assert_allclose(st.S2, one.S2, rtol=1e-12, atol=1e-12 * np.abs(one.S2).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_chunk_path_and_kept_features_equal_the_general_path(covariance_type):
    """Small data take the one-chunk path (chunk_rows=None): bit for bit the general path's
    numbers (chunk_rows=N); reuse_features keeps the feature block only for the same array
    object, so another array of the same shape, or this one changed, is read afresh. (The
    NumPy one-chunk path: the compiled one is tested in test_compiled_estep.py.)"""
    with compiled.disabled():
        _one_chunk_equals_the_general_path(covariance_type)


def _one_chunk_equals_the_general_path(covariance_type):
    X, w, m, _, pc, s = _problem(covariance_type)
    X = X[:300].copy()
    lw = np.log(w)[None]
    general = estep.e_step(X, [(0, 300)], lw, m, pc, s, chunk_rows=300)
    for _ in range(2):  # the second call finds its features kept
        fast = estep.e_step(X, [(0, 300)], lw, m, pc, s, reuse_features=True)
        assert fast.log_likelihood == general.log_likelihood
        for name in ("S0", "S1", "S2"):
            a, b = getattr(fast, name), getattr(general, name)
            assert (a is None and b is None) or np.array_equal(a, b), name
    other = X[::-1].copy()  # same shape, another array
    expected = estep.e_step(other, [(0, 300)], lw, m, pc, s, chunk_rows=300)
    got = estep.e_step(other, [(0, 300)], lw, m, pc, s, reuse_features=True)
    assert got.log_likelihood == expected.log_likelihood
    assert np.array_equal(got.S1, expected.S1)
    # Without reuse_features, a buffer changed in place between calls is read again.
    X *= 2.0
    again = estep.e_step(X, [(0, 300)], lw, m, pc, s)
    assert (
        again.log_likelihood
        == estep.e_step(X, [(0, 300)], lw, m, pc, s, chunk_rows=300).log_likelihood
    )
    assert again.log_likelihood != general.log_likelihood


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_task_slices_split_s0_and_add_up(covariance_type):
    """With tasks, S0 is per task and each task's chunks stop at its boundary."""
    X, w, m, _, pc, s = _problem(covariance_type)
    whole = _stats(X, w, pc, m, s, chunk_rows=64)
    parts = _stats(X, w, pc, m, s, chunk_rows=64, task_slices=[(0, 333), (333, 1000)])
    assert parts.S0.shape == (2, m.shape[0])
    assert_allclose(parts.S0.sum(axis=0), whole.S0[0], rtol=1e-12)
    first = _stats(X[:333], w, pc, m, s, chunk_rows=64)
    assert_allclose(parts.S0[0], first.S0[0], rtol=1e-12)
    assert_allclose(parts.log_likelihood, whole.log_likelihood, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_tuned_plan_agrees_with_generic_mahalanobis_plan(covariance_type):
    """The BLAS-shaped plan of each structure equals the generic fallback that any new
    structure gets (its own ``mahalanobis`` and ``log_det``)."""
    X, w, m, _, pc, s = _problem(covariance_type, n=300)
    layout = kernels.FeatureLayout(X.shape[1], s.second_moment)
    FT = layout.fill(layout.new_block(X.shape[0]), X)
    lw = np.log(w)
    tuned = s.estep_plan(m, pc)
    work = np.empty((tuned.work_rows(), X.shape[0])) if tuned.work_rows() else None
    a = tuned(FT, lw, np.empty((m.shape[0], X.shape[0])), work)
    b = kernels.MahalanobisPlan(s, m, pc)(FT, lw, np.empty_like(a), None)
    assert_allclose(a, b, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estimate_log_resp_matches_reference(covariance_type):
    """Per-row log-likelihood and log-responsibilities (prediction path) vs scipy."""
    X, w, m, cov, pc, s = _problem(covariance_type, n=777)
    ll, resp, *_ = _reference(X, w, m, cov, s)
    log_norm, log_resp = estep.estimate_log_resp(X, np.log(w), m, pc, s)
    assert_allclose(log_norm, ll, rtol=1e-10)
    assert_allclose(np.exp(log_resp), resp, rtol=1e-9, atol=1e-12)
    per_row = np.tile(np.log(w), (X.shape[0], 1))
    log_norm2, log_resp2 = estep.estimate_log_resp(X, per_row, m, pc, s)
    assert_allclose(log_norm2, log_norm, rtol=1e-13)
    assert_allclose(log_resp2, log_resp, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_accumulate_equals_e_step_statistics_for_the_same_resp(covariance_type):
    X, w, m, cov, pc, s = _problem(covariance_type)
    _, resp, *_ = _reference(X, w, m, cov, s)
    st = _stats(X, w, pc, m, s, chunk_rows=128)
    acc = estep.accumulate(X, [(0, X.shape[0])], resp, s)
    assert_allclose(acc.S0, st.S0, rtol=1e-10)
    assert_allclose(acc.S1, st.S1, rtol=1e-10, atol=1e-10 * np.abs(st.S1).max())
    if st.S2 is not None:
        assert_allclose(acc.S2, st.S2, rtol=1e-10, atol=1e-10 * np.abs(st.S2).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weight_gives_finite_statistics_without_warnings(covariance_type):
    X, w, m, _, pc, s = _problem(covariance_type)
    w = w.copy()
    w[1] = 0.0
    w /= w.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="ignore"):
            lw = np.log(w)[None]
        st = estep.e_step(X, [(0, X.shape[0])], lw, m, pc, s, chunk_rows=100)
    assert np.isfinite(st.log_likelihood)
    assert st.S0[0, 1] == 0.0
    assert np.isfinite(st.S1).all()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_serial_blas_switch_does_not_change_results(covariance_type, monkeypatch):
    """GMMCORE_SERIAL_BLAS only changes BLAS threading, never the numbers (1e-12)."""
    X, w, m, _, pc, s = _problem(covariance_type, n=20_000, d=4, k=5)
    a = _stats(X, w, pc, m, s, chunk_rows=1000)
    monkeypatch.setattr(kernels, "SERIAL_BLAS", False)
    b = _stats(X, w, pc, m, s, chunk_rows=1000)
    assert_allclose(a.log_likelihood, b.log_likelihood, rtol=1e-12)
    assert_allclose(a.S1, b.S1, rtol=1e-12, atol=1e-12 * np.abs(a.S1).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_allocates_no_n_by_k_by_d_temporary(covariance_type):
    """Peak memory of an E-step on N=200k, D=10, K=8 stays below 16 MB, an eighth of a single
    (N, K, D) float64 array (128 MB) and little more than one (N, K) array (12.8 MB): the
    buffers are per chunk (~2 MB), so nothing in the E-step grows with N."""
    n, d, k = 200_000, 10, 8
    X, w, m, _, pc, s = _problem(covariance_type, n=n, d=d, k=k)
    _stats(X[:1000], w, pc, m, s)  # warm caches (imports, threadpoolctl) outside the trace
    tracemalloc.start()
    try:
        _stats(X, w, pc, m, s)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"E-step peak {peak / 2**20:.1f} MB"


def test_feature_block_layout_is_ones_x_then_triangle():
    X = np.arange(6.0).reshape(2, 3)
    layout = kernels.FeatureLayout(3, "outer")
    FT = layout.fill(layout.new_block(2), X)
    iu = np.triu_indices(3)
    expected = np.column_stack([np.ones(2), X, X[:, iu[0]] * X[:, iu[1]]]).T
    assert_allclose(FT, expected, rtol=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_resp_normalized_far_from_a_collapsed_component(covariance_type):
    """Rows ~4 units from a component of variance 1e-6 (log-densities ~ -8e6): responsibilities
    still sum to 1 within 1e-13, because the row maximum is subtracted before the log-sum."""
    rng = np.random.default_rng(3)
    d = 2
    X = rng.normal(size=(500, d)) + 4.0
    means = np.array([[0.0, 0.0], [4.0, 4.0]])
    s = get_structure(covariance_type)
    cov = {
        "full": np.stack([1e-6 * np.eye(d), np.eye(d)]),
        "tied": 1e-6 * np.eye(d),
        "diag": np.array([[1e-6, 1e-6], [1.0, 1.0]]),
        "spherical": np.array([1e-6, 1.0]),
    }[covariance_type]
    pc = s.precisions_cholesky(cov)
    _, log_resp = estep.estimate_log_resp(X, np.log([0.5, 0.5]), means, pc, s)
    assert np.abs(np.exp(log_resp).sum(axis=1) - 1.0).max() < 1e-13


def test_serial_blas_holds_every_blas_scipys_included():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from gmmcore.engine import kernels

    if not kernels.SERIAL_BLAS:
        pytest.skip("GMMCORE_SERIAL_BLAS=0")
    with kernels.serial_blas():
        # scipy.linalg ships its own OpenBLAS: the one controller (made after loading it)
        # limits that one too.
        info = threadpoolctl.threadpool_info()
        blas = [i for i in info if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    assert kernels.blas_controller() is kernels.blas_controller()  # made once
