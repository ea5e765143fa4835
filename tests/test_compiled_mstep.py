"""The compiled inner loops of the iterative M-steps (gmmcore/engine/_numba_mstep.py) against
the NumPy ones they replace (the reference, ``compiled.disabled()``): EVE and VVE (the
common orientation's MM loop), VEE (its fixed point), VEV and VEI (the equal-shape fixed
point they share).

Both paths run the same updates in a different summation order, so their iterates differ
by rounding (~1e-15 relative) and agree to 1e-10 whenever they stop at the same inner
iteration. They may legitimately stop one iteration apart: the stopping rule compares a
relative change with ``rtol``, and a change within rounding of ``rtol`` is on either side
of it depending on the path. The loops converge linearly, so one more iteration moves the
parameters by much more than rounding (~1e-7 from a cold start at rtol 1e-14, ~1e-3 from a
warm start at 1e-6). The tests tell that case apart instead of loosening every tolerance:
:func:`test_same_iterates_for_a_fixed_number_of_inner_iterations` never stops early (rtol
below any change) and caps the loops, so both paths run exactly as many iterations; and the
tests under the real rule first check whether the NumPy loop stops at the same iteration
for every threshold within 5e-15 of rtol (its results at both ends bit for bit equal), a
margin ~10x the rounding between the paths' relative changes: then the compiled loop stops
there too and the two agree to 1e-10. Otherwise (cold starts, whose rtol of 1e-14 is ~50
ulps of the objective: the last changes are rounding noise near it; 15 of the 120 real-data
cases below, all cold) the compiled result must lie within twice the spread of the NumPy
results across that range of thresholds.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import ExitStack
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from gmmcore.datasets import load_sample  # noqa: E402
from gmmcore.engine import compiled, mclust_base  # noqa: E402
from gmmcore.engine.covariance import IllConditionedCovarianceError  # noqa: E402
from gmmcore.engine.mclust_base import _raise_unless_positive  # noqa: E402
from gmmcore.engine.mclust_models import MCLUST_MODELS  # noqa: E402
from tests.strategies import datasets  # noqa: E402
from tests.test_mclust_models import _statistics  # noqa: E402  (the same statistics)

MODELS = {s.mclust_name: s for s in MCLUST_MODELS}
COMPILED = ["EVE", "VVE", "VEE", "VEV", "VEI"]
# In correlation scale (_scale): rounding between the paths is ~1e-15.
TOL = 1e-10

IRIS = load_sample("Iris")[["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]]
FAITHFUL = load_sample("Old Faithful")[["eruptions", "waiting"]]
DATA = {"faithful": FAITHFUL.to_numpy(np.float64), "iris": IRIS.to_numpy(np.float64)}


def _soft_clusters(X, k, rng, width=0.5):
    """Cluster-like responsibilities (n, K): a softmax of the distances to K random rows,
    on standardized features."""
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    centers = Xs[rng.choice(len(X), k, replace=False)]
    logits = -((Xs[:, None, :] - centers) ** 2).sum(axis=2) / (2 * width**2)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _patched(structure, rtol_shift=0.0, rtol=None, max_iter=None):
    """A context moving the model's inner rtol by ``rtol_shift`` (or setting it to ``rtol``)
    and capping its inner iterations at ``max_iter``: the modules read both from their
    globals at each M-step, compiled dispatch included."""
    stack = ExitStack()
    module = sys.modules[type(structure).__module__]
    original = mclust_base.inner_rtol
    if rtol is not None or rtol_shift:

        def moved(previous):
            return rtol if rtol is not None else original(previous) + rtol_shift

        stack.enter_context(mock.patch.object(module, "inner_rtol", moved))
    if max_iter is not None:
        for mod in {module, mclust_base}:
            if hasattr(mod, "INNER_MAX_ITER"):  # (VEI's loop is mclust_base's)
                stack.enter_context(mock.patch.object(mod, "INNER_MAX_ITER", max_iter))
    return stack


def _m_step(structure, stats, reg_covar, previous, fast, **patch):
    with _patched(structure, **patch), ExitStack() as stack:
        if not fast:
            stack.enter_context(compiled.disabled())
        cov, _ = structure.m_step(*stats, reg_covar, previous)
    return cov


def _q(structure, stats, cov, reg_covar) -> float:
    """The expected complete-data log-likelihood at the statistics' means and covariances
    ``cov``, less reg_covar / 2 sum_k n_k tr(Sigma_k^-1): what a regularized M-step
    maximizes (its scatter matrices gain n_k reg_covar I). From the statistics alone:
    ``-1/2 sum_k (n_k (D log 2 pi + log |Sigma_k|) + tr(Sigma_k^-1 W_k))``."""
    nk, means, S2 = stats
    k, d = means.shape
    if S2.ndim == 2:  # the diagonal models' statistics: the scatter's diagonal only
        W = np.zeros((k, d, d))
        W[:, np.arange(d), np.arange(d)] = S2 - nk[:, None] * means**2
    else:
        W = S2 - nk[:, None, None] * (means[:, :, None] * means[:, None, :])
    W = W + (nk * reg_covar)[:, None, None] * np.eye(d)
    full = structure.covariance_matrices(cov, k, d)
    _, log_det = np.linalg.slogdet(full)
    trace = np.einsum("kij,kji->k", np.linalg.inv(full), W)
    return float(-0.5 * (nk * (d * np.log(2.0 * np.pi) + log_det) + trace).sum())


def _assert_agree(structure, stats, reg_covar, got, want, tol=TOL):
    """The compiled M-step's covariances ``got`` equal NumPy's ``want`` to ``tol`` in
    correlation scale (:func:`_scale`); for EVE and VVE with one component, their
    objective.

    With K = 1 the MM update of the orientation is not unique: ``alpha I - W`` has rank
    D - 1, so the first majorizer's G is singular and two orthogonal D (a reflection apart
    in G's null direction, not a coordinate axis) maximize it equally. Rounding picks one,
    differently on either path (found by the property test below): the two paths then run
    mirror-image iterates, with equal objectives (to rounding) and covariances that differ
    by up to ~1e-3 in early iterations and converge to the same fixed point (W's
    eigenvectors). With K >= 2 the summed G is generically nonsingular."""
    k, d = want.shape[0], want.shape[-1]
    if structure.mclust_name in ("EVE", "VVE") and k == 1:
        q_got, q_want = (_q(structure, stats, c, reg_covar) for c in (got, want))
        assert abs(q_got - q_want) <= 1e-12 * abs(q_want) + 1e-12, (q_got, q_want)
        return
    got = structure.covariance_matrices(got, k, d)
    want = structure.covariance_matrices(want, k, d)
    np.testing.assert_allclose(got / _scale(want), want / _scale(want), rtol=0, atol=tol)


def _scale(cov):
    """``sqrt(Sigma_ii Sigma_jj)`` (K, D, D): entries on this scale are correlations. The
    paths' rounding is relative to each feature's own scale, so this keeps the comparison
    meaningful on features of scales 1e-4 to 1e4 (the property test's "scales" data), where
    the largest entry would dwarf the smallest variance."""
    diag = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return diag[:, :, None] * diag[:, None, :]


# The relative changes the loops compare with rtol are quotients of objectives of order
# 1-1e3 computed from iterates that differ by rounding: they differ between the paths by a
# few 1e-16. A margin of 5e-15 on either side of rtol is ~10x that.
MARGIN = 5e-15


def _reference(structure, stats, reg_covar, previous):
    """The NumPy M-step's covariances and the room its stopping rule leaves: 0 when it stops
    at the same inner iteration for every threshold within MARGIN of rtol (module
    docstring), else how far apart its results at the two ends are (in correlation
    scale, as :func:`_assert_agree`)."""
    want = _m_step(structure, stats, reg_covar, previous, False)
    low = _m_step(structure, stats, reg_covar, previous, False, rtol_shift=-MARGIN)
    high = _m_step(structure, stats, reg_covar, previous, False, rtol_shift=MARGIN)
    if np.array_equal(low, high):
        return want, 0.0
    k, d = want.shape[0], want.shape[-1]
    low, high = (structure.covariance_matrices(c, k, d) for c in (low, high))
    return want, float((np.abs(low - high) / _scale(low)).max())


def _case(dataset, name, k, start, seed=0):
    """(structure, statistics, previous) on real data. ``start``: "cold" (previous None),
    "far" (the covariances of other responsibilities) or "near" (of responsibilities
    slightly wider than these: an EM iteration's warm start, a few inner steps)."""
    s = MODELS[name]
    X = DATA[dataset]
    rng = np.random.RandomState(seed)
    z = _soft_clusters(X, k, rng)
    previous = None
    if start == "far":
        other = _soft_clusters(X, k, rng)
        previous = _m_step(s, _statistics(X, other, s), 0.0, None, False)
    elif start == "near":
        rng = np.random.RandomState(seed)
        wider = _soft_clusters(X, k, rng, width=0.55)
        previous = _m_step(s, _statistics(X, wider, s), 0.0, None, False)
    return s, _statistics(X, z, s), previous


CASES = [
    pytest.param(dataset, name, k, start, id=f"{dataset}-{name}-K{k}-{start}")
    for dataset in DATA
    for name in COMPILED
    for k in (1, 2, 3, 5)
    for start in ("cold", "far", "near")
]


@pytest.mark.parametrize(("dataset", "name", "k", "start"), CASES)
def test_compiled_m_step_equals_numpy_on_real_data(dataset, name, k, start):
    s, stats, previous = _case(dataset, name, k, start)
    want, spread = _reference(s, stats, 0.0, previous)
    got = _m_step(s, stats, 0.0, previous, True)
    # spread > 0 only for some cold starts (module docstring): up to 6e-7 on iris.
    _assert_agree(s, stats, 0.0, got, want, tol=TOL + 2 * spread)


@pytest.mark.parametrize("n_iter", [1, 3, 25])
@pytest.mark.parametrize(("dataset", "name", "k", "start"), CASES)
def test_same_iterates_for_a_fixed_number_of_inner_iterations(dataset, name, k, start, n_iter):
    """rtol = -1: no change is ever small enough, so both paths run exactly n_iter inner
    iterations and must agree whatever the stopping rule would have done."""
    s, stats, previous = _case(dataset, name, k, start)
    want = _m_step(s, stats, 1e-6, previous, False, rtol=-1.0, max_iter=n_iter)
    got = _m_step(s, stats, 1e-6, previous, True, rtol=-1.0, max_iter=n_iter)
    _assert_agree(s, stats, 1e-6, got, want)


def test_the_compiled_kernels_are_in_use():
    """Guards the tests above against comparing NumPy with itself."""
    assert compiled.kernels("mstep") is not None
    with compiled.disabled():
        assert compiled.kernels("mstep") is None


# -- properties ----------------------------------------------------------------------------------
PROPERTY = settings(
    max_examples=int(os.environ.get("GMM_HYPOTHESIS_EXAMPLES", "150")) // 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(
    ds=datasets(kinds=("blobs", "scales")),
    name=st.sampled_from(COMPILED),
    seed=st.integers(0, 2**32 - 1),
    reg_covar=st.sampled_from([0.0, 1e-6, 1e-2]),
)
def test_compiled_m_step_never_decreases_its_objective_and_equals_numpy(ds, name, seed, reg_covar):
    """From the covariances of other responsibilities, the compiled M-step scores at least
    as high as they do (the expected complete-data log-likelihood, penalized by reg_covar;
    same means), and equals the NumPy M-step, warm and cold, where the NumPy loop stops
    clearly (module docstring)."""
    s = MODELS[name]
    X, k, d = ds.X, ds.n_components, ds.X.shape[1]
    if not s.supports(d):
        return
    rng = np.random.RandomState(seed)
    resp_old, resp = (rng.dirichlet(np.ones(k), size=X.shape[0]) for _ in range(2))
    stats = _statistics(X, resp, s)
    try:
        previous = _m_step(s, _statistics(X, resp_old, s), reg_covar, None, True)
        full = s.covariance_matrices(previous, k, d)
        ev = np.linalg.eigvalsh(full)
        if (ev[:, 0] <= 1e-10 * ev[:, -1]).any():
            return  # numerically singular: EM would not start from it (test_mclust_models)
        new = _m_step(s, stats, reg_covar, previous, True)
        s.precisions_cholesky(new)
    except IllConditionedCovarianceError:
        return
    before = _q(s, stats, previous, reg_covar)
    after = _q(s, stats, new, reg_covar)
    assert after >= before - (1e-9 * abs(before) + 1e-9), (before, after)
    for start in (previous, None):
        want, spread = _reference(s, stats, reg_covar, start)
        got = _m_step(s, stats, reg_covar, start, True)
        # The "scales" data reach condition numbers ~1e10, and the fixed points themselves
        # move with rounding in proportion (eps * cond ~ 1e-6 in correlation scale, at
        # every iteration count, not a one-iteration difference: seen on VEE).
        ev = np.linalg.eigvalsh(s.covariance_matrices(want, k, d))
        cond = (ev[:, -1] / ev[:, 0]).max()
        _assert_agree(s, stats, reg_covar, got, want, tol=1e-8 + 1e-15 * cond + 2 * spread)


# -- failures --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_singular_scatter_fails_the_same_way_compiled_or_not(name, k):
    """Three distinct points repeated, reg_covar=0 (as test_mclust_models' singular-scatter
    test): every scatter matrix is singular, its zero eigenvalue rounded to +-1e-16. Where
    both paths refuse, they raise the same error naming the same component, with no warning.
    Which side of zero the rounding falls on may differ between the paths, so one may refuse
    where the other returns covariances; those are then singular to rounding (smallest
    eigenvalue below 1e-10 of the largest: what EM reports as a collapse)."""
    points = np.array([[5.39, -3.93, 2.48], [-4.61, 3.78, 3.83], [-3.27, -2.68, -0.85]])
    X = np.repeat(points, 6, axis=0)
    s = MODELS[name]
    unit = np.ones((k, 3)) if s.diagonal else np.eye(3)[None].repeat(k, 0)
    for previous in (None, unit):
        resp = np.random.RandomState(0).dirichlet(np.ones(k), size=X.shape[0])
        outcomes = []
        for fast in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    outcomes.append(_m_step(s, _statistics(X, resp, s), 0.0, previous, fast))
                except IllConditionedCovarianceError as exc:
                    outcomes.append(str(exc))
        errors = [o for o in outcomes if isinstance(o, str)]
        if len(errors) == 2:
            assert errors[0] == errors[1]
        for cov in (o for o in outcomes if not isinstance(o, str)):
            assert np.isfinite(cov).all()
            if errors:
                ev = np.linalg.eigvalsh(s.covariance_matrices(cov, k, 3))
                assert (ev[:, 0] <= 1e-10 * ev[:, -1]).any()


def test_the_compiled_loop_flags_the_component_whose_variances_are_not_positive():
    """The kernel returns the first bad component instead of raising; the dispatch raises
    what ``_raise_unless_positive`` would have."""
    fast = compiled.kernels("mstep")
    s = MODELS["EVE"]
    X = DATA["iris"]
    stats = _statistics(X, _soft_clusters(X, 3, np.random.RandomState(0)), s)
    W, ev, _ = mclust_base.scatter_matrices(*stats, 0.0, vectors=False)
    for bad_row in (0, 2):
        poisoned = W.copy()
        poisoned[bad_row] = -poisoned[bad_row]
        _, _, bad = fast.common_orientation_mm(
            poisoned, np.ascontiguousarray(ev[:, 0]), np.eye(4), False, stats[0], 0, 1e-6, 5
        )
        assert bad == bad_row
        poisoned[bad_row, 0, 0] = np.nan
        _, _, bad = fast.common_orientation_mm(
            poisoned, np.ascontiguousarray(ev[:, 0]), np.eye(4), True, stats[0], 0, 1e-6, 5
        )
        assert bad == bad_row

    # Through the M-step: a kernel that reports component 1 gives NumPy's error for it.
    def reporting_one(*args):
        D, b, _ = real(*args)
        return D, b, 1

    real = fast.common_orientation_mm
    b = np.ones((3, 4))
    b[1, 2] = -1.0
    with pytest.raises(IllConditionedCovarianceError) as want:
        _raise_unless_positive(b, 1e-6)
    with mock.patch.object(fast, "common_orientation_mm", reporting_one):
        with pytest.raises(IllConditionedCovarianceError) as got:
            s.m_step(*stats, 1e-6, None)
    assert str(got.value) == str(want.value)
    assert got.value.component == want.value.component == 1
