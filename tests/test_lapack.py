"""gmmcore.engine.lapack: the wrapper-free LAPACK calls give numpy.linalg's results bit for
bit, NaN (never an exception) for a failed matrix, and the public fallback keeps that
contract."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmcore.engine import lapack


def _spd_stack(seed, k, d):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, d, d))
    return A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 9), st.integers(1, 6))
def test_results_are_numpy_linalg_bit_for_bit(seed, k, d):
    S = _spd_stack(seed, k, d)
    G = np.random.default_rng(seed + 1).normal(size=(d, d))
    assert np.array_equal(lapack.cholesky(S), np.linalg.cholesky(S))
    assert np.array_equal(lapack.inv(S), np.linalg.inv(S))
    assert np.array_equal(lapack.eigvalsh(S), np.linalg.eigvalsh(S))
    for ours, theirs in zip(lapack.eigh(S), np.linalg.eigh(S), strict=True):
        assert np.array_equal(ours, theirs)
    for ours, theirs in zip(lapack.svd(G), np.linalg.svd(G), strict=True):
        assert np.array_equal(ours, theirs)


def test_reads_the_lower_triangle_and_accepts_strided_views():
    S = _spd_stack(3, 4, 3)
    upper_garbage = S.copy()
    upper_garbage[:, 0, 2] = 1e6  # eigh/cholesky read the lower triangle only
    assert np.array_equal(lapack.eigvalsh(upper_garbage), np.linalg.eigvalsh(S))
    assert np.array_equal(lapack.cholesky(upper_garbage), np.linalg.cholesky(S))
    view = S[::2]  # not contiguous
    assert np.array_equal(lapack.cholesky(view), np.linalg.cholesky(view))


def test_a_failed_matrix_gives_nan_and_no_warning_under_errstate():
    S = _spd_stack(0, 3, 3)
    S[1] = -S[1]  # not positive definite
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):
            L = lapack.cholesky(S)
    assert np.isnan(L[1]).all()
    # the other matrices are factored as numpy.linalg does
    assert np.array_equal(L[[0, 2]], np.linalg.cholesky(S[[0, 2]]))


def test_overflow_gives_a_non_finite_factor_and_no_warning():
    # A subnormal pivot (found by the model-file fuzz test): the factor overflows, which
    # numpy.linalg reports as LinAlgError; here a non-finite factor (the callers' test) and,
    # under the callers' errstate(all="ignore"), no RuntimeWarning ("overflow" before).
    S = np.array([[[5e-324, 0.436], [0.436, 33.7]]])
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(S)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):
            ours = lapack.cholesky(S)
    assert not np.isfinite(ours).all()


def test_the_public_fallback_keeps_the_contract(monkeypatch):
    S = _spd_stack(5, 3, 3)
    assert np.array_equal(lapack._public_cholesky(S), np.linalg.cholesky(S))
    assert np.array_equal(lapack._public_inv(S), np.linalg.inv(S))
    assert np.array_equal(lapack._public_eigvalsh(S), np.linalg.eigvalsh(S))
    for ours, theirs in zip(lapack._public_eigh(S), np.linalg.eigh(S), strict=True):
        assert np.array_equal(ours, theirs)
    for ours, theirs in zip(lapack._public_svd(S[0]), np.linalg.svd(S[0]), strict=True):
        assert np.array_equal(ours, theirs)
    bad = S.copy()
    bad[2] = -bad[2]
    L = lapack._public_cholesky(bad)
    assert np.isnan(L[2]).all() and np.array_equal(L[:2], np.linalg.cholesky(S[:2]))
    singular = np.zeros((2, 2, 2))
    singular[0] = np.eye(2)
    inv = lapack._public_inv(singular)
    assert np.array_equal(inv[0], np.eye(2)) and np.isnan(inv[1]).all()


def test_raw_path_is_in_use_on_this_numpy():
    # The self-check at import accepted NumPy's private gufuncs; if a NumPy release changes
    # them, this fails while everything else passes on the (slower) public fallback.
    assert lapack.RAW, f"numpy {np.__version__}: _umath_linalg changed, lapack uses numpy.linalg"


@pytest.mark.parametrize("func", ["cholesky", "inv", "eigvalsh"])
def test_float32_and_integer_inputs_compute_in_float64(func):
    S = _spd_stack(7, 2, 3)
    ours = getattr(lapack, func)(S.astype(np.float32))
    assert ours.dtype == np.float64
    theirs = getattr(np.linalg, func)(S.astype(np.float32).astype(np.float64))
    assert np.array_equal(ours, theirs)
