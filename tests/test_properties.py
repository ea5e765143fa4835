"""Properties of EM on many random datasets, degenerate ones included (hypothesis).

Strategies live in tests/strategies.py. 150 examples per property (override with the
GMM_HYPOTHESIS_EXAMPLES environment variable) keep the file at a few seconds, far under a
minute; deadline=None because the first call pays for imports and kmeans warm-up.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gmmcore.engine.covariance import IllConditionedCovarianceError, get_structure
from gmmcore.engine.em import iter_em, responsibilities, snapshot_log_likelihood
from gmmcore.engine.estep import log_gaussian
from tests.strategies import (
    FAR_KINDS,
    build_dataset,
    covariance_types,
    datasets,
    init_methods,
)

SETTINGS = settings(
    max_examples=int(os.environ.get("GMM_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ARRAY_FIELDS = ("weights", "means", "covariances", "precisions_cholesky")

# EM's monotonicity holds exactly for the exact M-step. Ours adds reg_covar to every
# covariance, so the M-step no longer maximizes the expected complete-data log-likelihood
# exactly (Sigma + reg_covar*I is not the argmax), and the likelihood may dip by an amount
# that grows with reg_covar / (a component's variance); on top of that, sums over N rows
# carry rounding of order N * eps * |ll|. Allowed dip: 1e-9 * |ll| + 1e-9.
# With the default reg_covar=1e-6 on a column of scale 1e-3 (variance ~1e-6, our "scales"
# datasets) the dip is real and large (e.g. 5.6e-4 on 9 rows), and scikit-learn's trajectory
# dips identically (test below): that is regularization, not a bug. Scaling reg_covar to the
# data does not avoid it either (a tiny reg_covar on collinear data makes covariances so
# ill-conditioned that rounding alone exceeds the tolerance). So the monotonicity property
# runs with the default reg_covar on the kinds where it is a perturbation, and skips runs
# where a component collapses or empties (its variance then passes through reg_covar's scale).
REL_DIP, ABS_DIP = 1e-9, 1e-9


def allowed_error(exc: ValueError) -> bool:
    """ValueErrors that are a correct answer for the input rather than a failure of EM:
    a constant column (rejected at the boundary) or a covariance that reg_covar cannot keep
    positive definite (a helpful IllConditionedCovarianceError, never NaN)."""
    return "is constant" in str(exc) or isinstance(exc, IllConditionedCovarianceError)


def run(ds, covariance_type, init_params, **kwargs):
    """The whole history, or None when EM rightly refused the input."""
    try:
        history = list(
            iter_em(
                ds.X,
                ds.n_components,
                covariance_type=covariance_type,
                init_params=init_params,
                random_state=ds.seed,
                **kwargs,
            )
        )
    except ValueError as exc:
        if not allowed_error(exc):
            raise
        event(f"refused: {type(exc).__name__}")
        return None
    event(f"kind={ds.kind}")
    return history


# Left out of the monotonicity property: far outliers (see the strict xfail below), columns of
# scale 1e-3 whose variance is comparable to reg_covar (see above), and exactly collinear data,
# whose covariances have condition numbers ~ variance / reg_covar ~ 1e6, so that rounding in
# the log-determinant and Mahalanobis terms alone exceeds 1e-9 relative (seen: a dip of
# 3e-6 on a log-likelihood of 181 with no collapse event reported).
# Tiny N (N close to K) is out too: a component's variance there is a few points' spread and
# reg_covar's bias shows (seen: a dip of 1.1e-8 on a log-likelihood of 1.05, tied, N=4, K=2).
MONOTONE_KINDS = ("blobs", "duplicates")


@SETTINGS
@given(
    ds=datasets(kinds=MONOTONE_KINDS), covariance_type=covariance_types, init_params=init_methods
)
def test_log_likelihood_never_decreases_across_e_snapshots(ds, covariance_type, init_params):
    history = run(ds, covariance_type, init_params, tol=1e-10, max_iter=60)
    if history is None:
        return
    if any(
        e.kind in ("covariance_collapsed", "component_empty") for s in history for e in s.events
    ):
        # reg_covar is what holds such a run up: its dips are regularization (see above).
        event("collapsed: monotonicity not checked")
        return
    lls = [s.log_likelihood for s in history if s.phase == "E"]
    for before, after in zip(lls, lls[1:], strict=False):
        assert after >= before - (REL_DIP * abs(before) + ABS_DIP), (before, after)


def rounding_allowance(history, X) -> float:
    """How far rounding alone can lower a log-likelihood between two E-steps at a fixed point.

    Covariances are computed to a few ulps of their scale: of the largest eigenvalue, or,
    for the one-pass ``S2/n_k - mu mu^T``, of ``|mu|^2`` in EM's coordinates (the data minus
    their median), whichever is larger. A change of eps * scale moves each of the n rows'
    log-densities (log-determinant and Mahalanobis term) by up to d * eps * scale /
    lambda_min / 2. Components held up by reg_covar have lambda_max / lambda_min ~ variance /
    reg_covar ~ 1e6, so on 3e5 rows this is ~5e-5 (measured dip there: 2.3e-5; before the
    two-pass fix for tied: 1.1e-3); a component collapsed onto copies of one point 1.7 from
    the median has |mu|^2 / reg_covar ~ 3e6 (measured dip on 270 rows: 1.6e-7 on the NumPy
    path, 2.4e-7 on the compiled one, which sums in another order). Times 2 for the two terms.
    """
    eps = np.finfo(float).eps
    n_samples = X.shape[0]
    k, d = history[0].means.shape
    structure = get_structure(history[0].covariance_type)
    center = np.median(X, axis=0)
    cond = 1.0
    for snap in history:  # the worst along the way (a far outlier's transient: ~1e15)
        eig = np.linalg.eigvalsh(structure.covariance_matrices(np.asarray(snap.covariances), k, d))
        offset = ((np.asarray(snap.means) - center) ** 2).sum(axis=1)
        scale = np.maximum(eig[:, -1], offset)
        # eigvalsh is exact to eps * lambda_max: a computed lambda_min below that is rounding.
        cond = max(cond, float((scale / np.maximum(eig[:, 0], eps * eig[:, -1])).max()))
    return 2 * n_samples * d * eps * cond


def reg_covar_dominated(history, reg_covar) -> bool:
    """Whether some snapshot has a raw variance (eigenvalue minus reg_covar) between rounding
    (1e-9 reg_covar) and 1e5 reg_covar: there reg_covar's bias, not rounding, can lower the
    log-likelihood (see REL_DIP above; seen: 2.2e-8 on -4.6, a component of raw variance
    8e-12 over two rows). Components collapsed exactly (one point, copies) are not."""
    for snap in history:
        k, d = snap.means.shape
        covs = get_structure(snap.covariance_type).covariance_matrices(
            np.asarray(snap.covariances), k, d
        )
        raw = np.linalg.eigvalsh(covs) - reg_covar
        if ((raw > 1e-9 * reg_covar) & (raw < 1e5 * reg_covar)).any():
            return True
    return False


@settings(SETTINGS, max_examples=max(10, SETTINGS.max_examples // 3))  # ~3 s: EM runs to 60
@given(ds=datasets(kinds=FAR_KINDS), covariance_type=covariance_types, init_params=init_methods)
def test_log_likelihood_never_decreases_far_from_the_origin(ds, covariance_type, init_params):
    """Far outliers (1e6-1e12), data at an offset of up to 3e9, many copies of a few points:
    components collapsed onto single points included, the log-likelihood never decreases by
    more than reg_covar's bias on ordinary data (REL_DIP, ABS_DIP: a dip of 4e-10 on -14.7
    with 8 rows, tied, is the same with the two far rows moved next to the others and gone
    with reg_covar=0) plus rounding (:func:`rounding_allowance`). Before the two-pass fallback
    for tied and the far-component kernels, a 1e12 outlier lowered it by 3.6 % (tied) and the
    other structures raised "not positive definite"."""
    history = run(ds, covariance_type, init_params, tol=1e-10, max_iter=60)
    if history is None:
        return
    lls = [s.log_likelihood for s in history if s.phase == "E"]
    assert np.isfinite(lls).all()
    if reg_covar_dominated(history, 1e-6):
        event("a variance within 1e5 reg_covar: monotonicity not checked")
        return
    allowance = rounding_allowance(history, ds.X)
    for before, after in zip(lls, lls[1:], strict=False):
        dip = REL_DIP * abs(before) + ABS_DIP + allowance
        assert after >= before - dip, (before, after, allowance)


def test_reg_covar_comparable_to_a_variance_lowers_likelihood_like_sklearn():
    """A column of scale 1e-3 (variance ~1e-6 = reg_covar): the log-likelihood goes down
    between iterations, and scikit-learn's does exactly the same from the same start."""
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    X = np.column_stack(
        [
            [
                17640.5235,
                9787.37984,
                18675.5799,
                9500.88418,
                -1032.18852,
                1440.43571,
                7610.37725,
                4438.63233,
                14940.7907,
            ],
            [
                4.00157208e-4,
                2.24089320e-3,
                -9.77277880e-4,
                -1.51357208e-4,
                4.10598502e-4,
                1.45427351e-3,
                1.21675016e-4,
                3.33674327e-4,
                -2.05158264e-4,
            ],
        ]
    )
    history = list(iter_em(X, 2, init_params="kmeans", random_state=0, tol=1e-10, max_iter=60))
    ours = np.array([s.log_likelihood for s in history if s.phase == "E"])
    init = history[0]
    ref = sklearn_mixture.GaussianMixture(
        2,
        weights_init=init.weights,
        means_init=init.means,
        precisions_init=np.linalg.inv(init.covariances),
        tol=1e-10,
        max_iter=60,
    ).fit(X)
    assert np.diff(ours).min() < -1e-4
    # Reference: scikit-learn's lower_bounds_ (per sample) from the same initial parameters.
    np.testing.assert_allclose(
        ours, np.array(ref.lower_bounds_) * X.shape[0], rtol=1e-10, atol=1e-10
    )


def test_log_likelihood_never_decreases_with_a_far_outlier_component():
    """A component collapsed on points 1e4 from the data mean: the one-pass covariance would
    lose ~1e-2 relative to cancellation; mstep.precision_lost detects it and the two-pass formula
    takes over, so the trajectory stays monotone (as scikit-learn's)."""
    X = build_dataset("outliers", np.random.RandomState(0), 47, 1, 2)  # 2 points at +-1e4
    history = list(iter_em(X, 2, covariance_type="full", tol=1e-10, max_iter=60, random_state=0))
    lls = [s.log_likelihood for s in history if s.phase == "E"]
    for before, after in zip(lls, lls[1:], strict=False):
        assert after >= before - (REL_DIP * abs(before) + ABS_DIP), (before, after)


def _row_log_scale(snap, X):
    """|max_k log(w_k N(x_i | k))| per row: the size of the numbers normalized in log space."""
    structure = get_structure(snap.covariance_type)
    with np.errstate(divide="ignore"):
        wlp = log_gaussian(
            X, np.asarray(snap.means), np.asarray(snap.precisions_cholesky), structure
        ) + np.log(snap.weights)
    return np.abs(wlp.max(axis=1))


@SETTINGS
@given(ds=datasets(), covariance_type=covariance_types, init_params=init_methods)
def test_responsibilities_sum_to_one(ds, covariance_type, init_params):
    """Rows sum to 1 within 1e-12; for a row far from every component (log-densities of size
    L), log-space normalization rounds at eps * L, so such rows get that allowance (estimate_log_resp
    normalizes after subtracting the row max, see test below)."""
    history = run(ds, covariance_type, init_params, max_iter=20)
    if history is None:
        return
    for snap in (history[0], history[len(history) // 2], history[-1]):
        resp = responsibilities(snap, ds.X)
        assert np.isfinite(resp).all()
        assert (resp >= 0).all()
        atol = 1e-12 + 8 * np.finfo(float).eps * _row_log_scale(snap, ds.X)
        assert (np.abs(resp.sum(axis=1) - 1.0) <= atol).all()


def test_responsibilities_sum_to_one_far_from_collapsed_components():
    X = np.array([[1.20047163]] * 7 + [[5.29215704]])
    init = next(iter_em(X, 2, init_params="random_from_data", random_state=0))
    resp = responsibilities(init, X)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@SETTINGS
@given(ds=datasets(), covariance_type=covariance_types, init_params=init_methods)
def test_no_nan_anywhere_in_snapshots(ds, covariance_type, init_params):
    history = run(ds, covariance_type, init_params, max_iter=30)
    if history is None:
        return
    for snap in history:
        for name in ARRAY_FIELDS:
            assert np.isfinite(getattr(snap, name)).all(), (snap.label, name)
        if snap.phase != "init":
            assert np.isfinite(snap.log_likelihood), snap.label
        for e in snap.events:
            assert "nan" not in e.message.lower(), e.message
    assert np.isfinite(snapshot_log_likelihood(history[-1], ds.X))


@SETTINGS
@given(
    ds=datasets(kinds=("duplicates", "collinear", "tiny")),
    covariance_type=covariance_types,
    reg_covar=st.sampled_from([0.0, 1e-12, 1e-6, 1e-2]),
)
def test_degenerate_data_give_numbers_or_a_helpful_error(ds, covariance_type, reg_covar):
    """Even with reg_covar=0 EM never returns NaN: it either finishes with finite parameters
    or raises a ValueError that says to increase reg_covar."""
    try:
        history = list(
            iter_em(
                ds.X,
                ds.n_components,
                covariance_type=covariance_type,
                reg_covar=reg_covar,
                random_state=ds.seed,
                max_iter=20,
            )
        )
    except ValueError as exc:
        assert allowed_error(exc), str(exc)
        if isinstance(exc, IllConditionedCovarianceError):
            assert "Increase reg_covar" in str(exc)
        return
    for snap in history:
        for name in ARRAY_FIELDS:
            assert not np.isnan(getattr(snap, name)).any(), (snap.label, name)


@SETTINGS
@given(ds=datasets())
def test_strategy_builds_valid_datasets(ds):
    """Guard for the strategy itself: a finite 2-D float array with at least K rows."""
    assert ds.X.ndim == 2 and ds.X.dtype == np.float64
    assert ds.X.shape[0] >= ds.n_components and np.isfinite(ds.X).all()
