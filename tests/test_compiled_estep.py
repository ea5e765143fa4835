"""The compiled E-step (gmmcore.engine.compiled, numba) against the NumPy path and scipy.

The NumPy path is the reference (``compiled.disabled()``); the two sum in different orders,
so they agree to rounding, held here to 1e-12 relative (measured: ~5e-16). Speed is
measured by ``python -m bench.compiled``, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

pytest.importorskip("numba")

from gmmcore import GaussianMixture  # noqa: E402
from gmmcore.datasets import load_sample  # noqa: E402
from gmmcore.engine import compiled, estep  # noqa: E402
from gmmcore.engine.covariance import covariance_types, get_structure  # noqa: E402

RTOL = 1e-12
MULTIVARIATE = covariance_types(n_features=4)
UNIVARIATE = covariance_types(n_features=1)


def _iris():
    cols = ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
    X = load_sample("Iris")[cols].to_numpy(float)
    return X - np.median(X, axis=0)


def _parameters(X, covariance_type, k, seed=0):
    """Parameters of a short fit (so every structure's own shapes and factors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(k, covariance_type=covariance_type, max_iter=3, random_state=seed).fit(
            X
        )
    lw = np.log(np.asarray(gm.weights_))[None]
    return lw, np.asarray(gm.means_), np.asarray(gm.precisions_cholesky_)


def _both(X, lw, means, prec_chol, structure):
    fast = estep.e_step(X, [(0, len(X))], lw, means, prec_chol, structure)
    with compiled.disabled():
        ref = estep.e_step(X, [(0, len(X))], lw, means, prec_chol, structure)
    return fast, ref


def _assert_same(fast, ref, rtol=RTOL):
    assert fast.log_likelihood == pytest.approx(ref.log_likelihood, rel=rtol, abs=0)
    for name in ("S0", "S1", "S2"):
        a, b = getattr(fast, name), getattr(ref, name)
        if b is None:
            assert a is None
            continue
        # Relative to the statistic's own scale (a zero-mass component's entries are ~0).
        assert_allclose(a, b, rtol=0, atol=rtol * np.abs(b).max(), err_msg=name)


def test_compiled_kernels_are_in_use():
    """The suite runs with numba: the E-step of small data must take the compiled path
    (otherwise every comparison below would compare NumPy with itself)."""
    assert compiled.enabled()
    assert compiled.use_for(272, 9, 2)
    assert not compiled.use_for(100_000, 9, 10)  # large data keep the chunks
    with compiled.disabled():
        assert not compiled.enabled() and compiled.kernels("estep") is None


@pytest.mark.parametrize("covariance_type", MULTIVARIATE)
@pytest.mark.parametrize("k", [1, 3, 9])
def test_every_model_matches_the_numpy_path(covariance_type, k):
    X = _iris()
    lw, means, pc = _parameters(X, covariance_type, k)
    fast, ref = _both(X, lw, means, pc, get_structure(covariance_type))
    _assert_same(fast, ref)


@pytest.mark.parametrize("covariance_type", UNIVARIATE)
def test_univariate_models_match_the_numpy_path(covariance_type):
    X = load_sample("Old Faithful")[["waiting"]].to_numpy(float)
    X = X - np.median(X)
    lw, means, pc = _parameters(X, covariance_type, 4)
    fast, ref = _both(X, lw, means, pc, get_structure(covariance_type))
    _assert_same(fast, ref)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_against_scipy(covariance_type):
    """Independent reference: scipy's densities, responsibilities by logsumexp."""
    X = _iris()
    lw, means, pc = _parameters(X, covariance_type, 3, seed=1)
    s = get_structure(covariance_type)
    k, d = means.shape
    covs = s.covariance_matrices(s.covariances_from_precisions_cholesky(pc), k, d)
    logp = (
        np.column_stack([multivariate_normal(means[j], covs[j]).logpdf(X) for j in range(k)])
        + lw[0]
    )
    ll = logsumexp(logp, axis=1)
    resp = np.exp(logp - ll[:, None])
    got = estep.e_step(X, [(0, len(X))], lw, means, pc, s)
    assert got.log_likelihood == pytest.approx(ll.sum(), rel=1e-10)
    assert_allclose(got.S0[0], resp.sum(axis=0), rtol=1e-10)
    assert_allclose(got.S1, resp.T @ X, rtol=1e-10, atol=1e-10)


def test_zero_weight_and_far_component():
    """A weight of exactly zero (log -inf) gives a zero-mass component, not NaN; a component
    10^6 standard deviations away (the difference form) matches scipy."""
    X = _iris()
    lw, means, pc = _parameters(X, "full", 3)
    lw = lw.copy()
    lw[0, 1] = -np.inf
    lw[0] -= logsumexp(lw[0])
    s = get_structure("full")
    fast, ref = _both(X, lw, means, pc, s)
    _assert_same(fast, ref)
    assert fast.S0[0, 1] == 0.0 and np.isfinite(fast.log_likelihood)
    far = means.copy()
    far[2] += 1e6
    fast, ref = _both(X, np.log(np.full((1, 3), 1 / 3)), far, pc, s)
    _assert_same(fast, ref)


@given(
    n=st.integers(2, 60),
    d=st.integers(1, 5),
    k=st.integers(1, 6),
    covariance_type=st.sampled_from(["full", "tied", "diag", "spherical"]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=60, deadline=None)
def test_random_problems_match_the_numpy_path(n, d, k, covariance_type, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d)
    means = rng.normal(size=(k, d)) * 3.0
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        cov = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    elif covariance_type == "tied":
        a = rng.normal(size=(d, d))
        cov = a @ a.T + 0.5 * np.eye(d)
    elif covariance_type == "diag":
        cov = rng.uniform(0.2, 4.0, size=(k, d))
    else:
        cov = rng.uniform(0.2, 4.0, size=k)
    s = get_structure(covariance_type)
    lw = np.log(rng.dirichlet(np.ones(k)))[None]
    fast, ref = _both(X, lw, means, s.precisions_cholesky(cov), s)
    _assert_same(fast, ref, rtol=1e-11)


def test_kept_transpose_follows_the_array():
    """reuse_features keeps X's transpose for the same array only; a call without it forgets
    it (the buffer may have changed), as the NumPy path's kept features."""
    X = _iris().copy()
    lw, means, pc = _parameters(X, "full", 3)
    s = get_structure("full")
    a = estep.e_step(X, [(0, 150)], lw, means, pc, s, reuse_features=True)
    b = estep.e_step(X, [(0, 150)], lw, means, pc, s, reuse_features=True)
    assert a.log_likelihood == b.log_likelihood
    X *= 2.0
    c = estep.e_step(X, [(0, 150)], lw, means, pc, s)  # read afresh
    d = estep.e_step(X, [(0, 150)], lw, means, pc, s, reuse_features=True)
    assert c.log_likelihood == d.log_likelihood != a.log_likelihood


@pytest.mark.parametrize("covariance_type", ["VVV", "EVE", "VEV", "EII", "VVI"])
def test_fits_agree_with_the_numpy_path(covariance_type):
    """Whole EM runs (mclust's start and stopping rule) end at the same parameters."""
    X = _iris()
    kw = dict(
        covariance_type=covariance_type, init_params="hc", tol=1e-5,
        convergence="relative", max_iter=1000,
    )  # fmt: skip
    fast = GaussianMixture(4, **kw).fit(X)
    with compiled.disabled():
        ref = GaussianMixture(4, **kw).fit(X)
    assert fast.n_iter_ == ref.n_iter_
    assert fast.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10)
    assert_allclose(fast.means_, ref.means_, rtol=1e-8, atol=1e-8)


def test_switched_off_by_the_environment():
    """GMMCORE_COMPILED=0: every caller takes the NumPy path (numba not even imported)."""
    code = (
        "import sys; from gmmcore.engine import compiled; "
        "print(compiled.enabled(), 'numba' in sys.modules)"
    )
    env = {**os.environ, "GMMCORE_COMPILED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
