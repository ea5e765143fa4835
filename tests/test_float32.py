"""float32 data stay float32 end to end, as in scikit-learn >= 1.7.

References: scikit-learn 1.9's ``GaussianMixture`` (test-only dependency) for the dtypes of
fitted attributes and outputs and for its own float32 fit; gmmcore's float64 fit of the same
(float32-representable) values; scipy's ``multivariate_normal.logpdf`` in float64.

Tolerances. float32 carries 24 bits (eps32 = 1.2e-7, 6e-8 per rounding). The E-step computes
log-densities and responsibilities in float32; statistics and the M-step run in float64 and
the parameters are rounded to float32 after each M-step. On unit-scale data, ten iterations
of the float32 and the float64 fit from the same start stayed within 2e-7 of each other in
weights, means and covariances and 4.4e-7 in the mean log-likelihood, for all sixteen
registered types (measured), so trajectories are compared at atol 2e-6 (10x margin).
Converged fits are not compared that way: a tol below float32's resolution of the mean
log-likelihood (~1e-7) is noise, and two fits stopping a few iterations apart on a slowly
converging path differed by up to 4e-3 (1-D "V", tol=1e-8). Log-densities are compared to
1e-4 absolute (float32's resolution of a log-density of magnitude ~10-100 is ~1e-6-1e-5,
and kernels.FAR_SQUARED_FLOAT32 bounds the expanded forms' error near a component to
~3e-5).
"""

from __future__ import annotations

import json
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal

from gmmcore import GaussianMixture, from_json, iter_em, to_json
from gmmcore.engine.covariance import covariance_types, get_structure
from gmmcore.engine.em import frozen_array
from gmmcore.engine.validation import FLOAT32_MAX_ABS_VALUE, check_X

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def _data(n=300, d=3, offset=0.0, seed=0):
    rng = np.random.RandomState(seed)
    half = n // 2
    X = np.r_[rng.normal(0, 1, (half, d)), rng.normal(4, 1.5, (n - half, d))]
    return (X + offset).astype(np.float32)


def _types(d):
    return [t for t in covariance_types() if get_structure(t).supports(d)]


def _init(X, k, covariance_type):
    """Uniform weights, K distinct rows as means, the data's variances as precisions."""
    X = np.asarray(X, dtype=np.float64)
    means = X[np.linspace(0, X.shape[0] - 1, k).astype(int)]
    prec = 1.0 / X.var(axis=0)
    structure = get_structure(covariance_type)
    d = X.shape[1]
    cov = structure.covariance_matrices(np.ones(structure.expected_shape(k, d)), k, d)
    shape = structure.expected_shape(k, d)
    if structure.diagonal:
        p = np.broadcast_to(prec.mean() if len(shape) == 1 else prec, (*shape[:1], d))
        p = p.mean(axis=1) if len(shape) == 1 else p
        precisions = np.array(np.broadcast_to(p, shape))
    else:
        full = np.diag(prec)
        precisions = full if len(shape) == 2 else np.repeat(full[None], k, axis=0)
    del cov
    return dict(weights_init=np.full(k, 1.0 / k), means_init=means, precisions_init=precisions)


@pytest.mark.parametrize("d", [1, 3])
def test_every_fitted_attribute_and_output_is_float32_for_every_type(d):
    X = _data(d=d)
    for ct in _types(d):
        gm = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
        for name in FITTED:
            assert getattr(gm, name).dtype == np.float32, (ct, name)
        assert all(s.means.dtype == np.float32 for s in gm.history_), ct
        assert gm.predict_proba(X).dtype == np.float32, ct
        assert gm.score_samples(X).dtype == np.float32, ct
        assert isinstance(gm.score(X), float) and isinstance(gm.bic(X), float)
        assert gm.sample(5)[0].dtype == np.float64  # as scikit-learn 1.9's sample


def test_outputs_follow_scikit_learns_promotion():
    """float32 model on float64 rows, and float64 model on float32 rows: float64 (what
    scikit-learn 1.9 returns, checked by hand: its arithmetic promotes)."""
    X32 = _data()
    X64 = X32.astype(np.float64)
    gm32 = GaussianMixture(2, random_state=0).fit(X32)
    gm64 = GaussianMixture(2, random_state=0).fit(X64)
    assert gm64.means_.dtype == np.float64
    for gm, X in ((gm32, X64), (gm64, X32)):
        assert gm.predict_proba(X).dtype == np.float64
        assert gm.score_samples(X).dtype == np.float64


def test_float32_dataframe_is_kept_float32_and_mixed_frames_are_float64():
    X = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    assert check_X(frame, keep_float32=True).dtype == np.float32
    assert check_X(frame).dtype == np.float64  # the default stays float64 for other callers
    mixed = frame.astype({"a": np.float64})
    assert check_X(mixed, keep_float32=True).dtype == np.float64
    assert GaussianMixture(2, random_state=0).fit(frame).means_.dtype == np.float32


def test_float32_beyond_the_float32_bound_is_fitted_in_float64():
    X = _data()
    X[0, 0] = 10 * FLOAT32_MAX_ABS_VALUE  # squares would overflow float32's E-step
    assert check_X(X, keep_float32=True).dtype == np.float64


@pytest.mark.parametrize("d", [1, 3])
def test_float32_fit_agrees_with_the_float64_fit_of_the_same_values(d):
    X32 = _data(d=d)
    X64 = X32.astype(np.float64)  # the same values: only the arithmetic differs
    for ct in _types(d):
        kw = dict(covariance_type=ct, tol=0.0, max_iter=10, **_init(X64, 2, ct))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tol=0 never converges
            gm32 = GaussianMixture(2, **kw).fit(X32)
            gm64 = GaussianMixture(2, **kw).fit(X64)
        for name in ("weights_", "means_", "covariances_"):
            assert_allclose(getattr(gm32, name), getattr(gm64, name), rtol=0, atol=2e-6)
        assert_allclose(gm32.lower_bounds_, gm64.lower_bounds_, rtol=0, atol=5e-6)
        assert_allclose(gm32.score_samples(X32), gm64.score_samples(X64), atol=1e-4)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_fit_agrees_with_scikit_learns_float32_fit(covariance_type):
    sk_mixture = pytest.importorskip("sklearn.mixture")
    X = _data()
    kw = dict(covariance_type=covariance_type, tol=1e-8, max_iter=200)
    # float32 starting arrays: scikit-learn's weights_ take the dtype of weights_init.
    kw.update({k: v.astype(np.float32) for k, v in _init(X, 2, covariance_type).items()})
    ours = GaussianMixture(2, **kw).fit(X)
    sk = sk_mixture.GaussianMixture(2, **kw).fit(X)
    for name in FITTED:
        assert getattr(sk, name).dtype == getattr(ours, name).dtype == np.float32
        # scikit-learn computes everything in float32 (statistics included): ~1e-5 apart.
        assert_allclose(getattr(ours, name), getattr(sk, name), rtol=2e-4, atol=2e-4)
    assert sk.predict_proba(X).dtype == ours.predict_proba(X).dtype
    assert_allclose(ours.score_samples(X), sk.score_samples(X), atol=1e-3)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV"])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_float32_scoring_at_any_offset_and_for_far_rows_matches_scipy(covariance_type, offset):
    """The centering and the direct form for far components hold in float32: rows at the
    offset, and rows 1e3 standard deviations away (expanded forms would lose them)."""
    X = _data(offset=offset)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    rows = np.r_[X[:50], X[:3] + np.float32(1e3)]
    structure = get_structure(covariance_type)
    covs = structure.covariance_matrices(gm.covariances_.astype(np.float64), 2, 3)
    dens = [
        multivariate_normal(m, c).logpdf(rows.astype(np.float64))
        for m, c in zip(gm.means_.astype(np.float64), covs, strict=True)
    ]
    ref = np.logaddexp(*(np.log(w) + lp for w, lp in zip(gm.weights_, dens, strict=True)))
    got = gm.score_samples(rows)
    assert got.dtype == np.float32
    # float32 keeps ~7 digits of a log-density; far rows have |log p| ~1e5-1e6.
    assert_allclose(got, ref, rtol=1e-5, atol=1e-3)


def test_snapshots_keep_their_dtype():
    X = _data()
    snaps = list(iter_em(X, 2, random_state=0, max_iter=3))
    for s in snaps:
        for a in (s.weights, s.means, s.covariances, s.precisions_cholesky):
            assert a.dtype == np.float32 and not a.flags.writeable
    assert frozen_array(np.ones(2, np.float32)).dtype == np.float32
    assert frozen_array([1.0, 2.0]).dtype == np.float64


def test_e_snapshot_holds_the_parameters_its_e_step_used():
    """Parameters are rounded to float32 after each M-step, so scoring a snapshot's
    (float32) parameters reproduces that E-step's log-likelihood to float32 precision."""
    from gmmcore.engine.em import snapshot_log_likelihood

    X = _data()
    for s in iter_em(X, 2, random_state=0, max_iter=4):
        if s.phase == "E":
            assert_allclose(snapshot_log_likelihood(s, X), s.log_likelihood, rtol=1e-6)


def test_float32_model_file_stores_float32_values_exactly_and_loads_float64():
    X = _data()
    gm = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    assert json.loads(to_json(gm.to_model()))  # float32 arrays serialize
    text = to_json(gm.to_model())
    assert json.loads(text)["fit"]["dtype"] == "float32"
    loaded = from_json(text)
    means = loaded.mixture.means_
    assert means.dtype == np.float64
    assert_array_equal(means, gm.means_.astype(np.float64))  # exact: float32 values in float64
    assert_array_equal(loaded.mixture.covariances_, gm.covariances_.astype(np.float64))
    assert_array_equal(loaded.predict(X), gm.predict(X))
    assert_allclose(loaded.score_samples(X), gm.score_samples(X), atol=1e-4)


def _peak(X, init) -> int:
    gm = GaussianMixture(3, covariance_type="full", tol=0.0, max_iter=2, **init)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_data_sized_memory_of_a_fit_is_about_halved(monkeypatch):
    """tracemalloc peak of a fit at two sizes: the slope (bytes per row, i.e. the data-sized
    buffers) of float32 data is about half that of float64 data. Chunk buffers are shrunk to
    64 KiB so that they (and the size of the last, partial chunk) do not blur the slope.
    From given parameters: the k-means start is scipy's kmeans2, whose float32 peak was not
    smaller than its float64 one (measured, scipy 1.17)."""
    monkeypatch.setattr("gmmcore.engine.estep.CHUNK_BYTES", 64 * 1024)
    rng = np.random.RandomState(0)
    big = rng.normal(size=(200_000, 2)) + [5.0, -3.0]
    init = _init(big, 3, "full")
    slopes = {}
    for dtype in (np.float64, np.float32):
        small_peak = _peak(big[:50_000].astype(dtype), init)
        big_peak = _peak(big.astype(dtype), init)
        slopes[dtype] = (big_peak - small_peak) / 150_000
    assert slopes[np.float32] < 0.6 * slopes[np.float64], slopes
