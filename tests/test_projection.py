"""gmmcore.viz.projection (exact projected covariances), gmmcore.viz.agreement (ARI, confusion) and
gmmcore.viz.explain (the stepper's numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from gmmcore import GaussianMixture, responsibilities
from gmmcore.viz import explain as E
from gmmcore.viz.agreement import adjusted_rand_index, confusion_table
from gmmcore.viz.projection import axis_projection, pca_projection


@pytest.fixture(scope="module")
def X4():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    return rng.normal(size=(400, 4)) @ A + np.array([1.0, -2.0, 3.0, 0.5])


def test_pca_components_are_orthonormal_and_ordered(X4):
    p = pca_projection(X4, 2)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-12)
    Z = p.transform(X4)
    v = Z.var(axis=0)
    assert v[0] >= v[1]
    # Versus numpy's eigen-decomposition of the sample covariance (reference).
    vals = np.linalg.eigvalsh(np.cov(X4.T, bias=True))[::-1]
    np.testing.assert_allclose(v, vals[:2], rtol=1e-10)
    np.testing.assert_allclose(p.explained_variance_ratio, vals[:2] / vals.sum(), rtol=1e-10)


def test_projected_covariances_equal_covariance_of_projected_samples(X4):
    """A S A^T is the covariance of the projected data: compare with a direct computation."""
    p = pca_projection(X4, 2)
    S = np.cov(X4.T, bias=True)
    direct = np.cov(p.transform(X4).T, bias=True)
    np.testing.assert_allclose(p.project_covariances(S[None])[0], direct, rtol=1e-10, atol=1e-10)


def test_projected_mixture_covariances_match_monte_carlo():
    """For a fitted mixture, the projected covariance equals the covariance of samples drawn
    from that component and then projected (within sampling error)."""
    rng = np.random.default_rng(1)
    S = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.4], [0.1, -0.4, 0.5]])
    mu = np.array([1.0, 2.0, 3.0])
    p = pca_projection(rng.normal(size=(200, 3)) * [3, 2, 1], 2)
    draws = rng.multivariate_normal(mu, S, size=200_000)
    direct = np.cov(p.transform(draws).T)
    np.testing.assert_allclose(p.project_covariances(S[None])[0], direct, atol=0.02)
    np.testing.assert_allclose(
        p.project_means(mu[None])[0], p.transform(draws).mean(axis=0), atol=0.02
    )


def test_pca_sign_is_deterministic(X4):
    a, b = pca_projection(X4), pca_projection(X4.copy())
    np.testing.assert_array_equal(a.components, b.components)
    for row in a.components:
        assert row[np.argmax(np.abs(row))] > 0


def test_axis_projection_selects_raw_columns(X4):
    p = axis_projection(4, 2, 0, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(p.transform(X4), X4[:, [2, 0]])
    S = np.cov(X4.T)
    np.testing.assert_array_equal(p.project_covariances(S[None])[0], S[np.ix_([2, 0], [2, 0])])
    assert p.labels == ("c", "a")
    with pytest.raises(ValueError):
        axis_projection(4, 4, 0)


def test_ari_matches_known_values():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    # Reference: scikit-learn's adjusted_rand_score([0,0,0,1,1,1],[0,0,1,1,2,2]) = 0.24242424...
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(
        0.2424242424, abs=1e-9
    )
    assert adjusted_rand_index(["a", "a", "b", "b"], [0, 1, 0, 1]) == pytest.approx(-0.5, abs=1e-12)


def test_ari_agrees_with_sklearn_on_random_labels():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 4, 300), rng.integers(0, 3, 300)
        assert adjusted_rand_index(a, b) == pytest.approx(sk.adjusted_rand_score(a, b), abs=1e-12)


def test_confusion_table_counts():
    t = confusion_table(["x", "x", "y", "y", "y"], [0, 1, 1, 1, 0])
    assert t.loc["x", "component 0"] == 1 and t.loc["y", "component 1"] == 2
    assert t.to_numpy().sum() == 5


def test_display_responsibilities_follow_the_half_steps(faithful):
    m = GaussianMixture(2, init_params="random_from_data", random_state=0).fit(faithful)
    h = m.history_
    assert E.display_responsibilities(h, 0, faithful) is None
    for i, s in enumerate(h[1:], start=1):
        r = E.display_responsibilities(h, i, faithful)
        src = s if s.phase == "E" else h[i - 1]
        np.testing.assert_array_equal(r, responsibilities(src, faithful))
        np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-12)
    assert "after E" in E.step_description(h, 1) and "after M" in E.step_description(h, 2)


def test_formula_numbers_reproduce_the_engine(faithful):
    """The panel's E-step numbers equal the engine's responsibilities, and its M-step numbers
    the engine's next parameters (up to reg_covar on the diagonal)."""
    m = GaussianMixture(2, init_params="random_from_data", random_state=0, reg_covar=1e-6).fit(
        faithful
    )
    h = m.history_
    e = h[3]
    assert e.phase == "E"
    det = E.e_step_detail(e, faithful[5])
    np.testing.assert_allclose(
        det["responsibility"], responsibilities(e, faithful[5:6])[0], rtol=1e-9
    )
    resp = responsibilities(e, faithful)
    md = E.m_step_detail(resp, faithful, 1, h[4])
    np.testing.assert_allclose(md["mean"], md["engine_mean"], rtol=1e-10)
    np.testing.assert_allclose(md["weight"], md["engine_weight"], rtol=1e-10)
    np.testing.assert_allclose(
        md["covariance"] + 1e-6 * np.eye(2), md["engine_covariance"], rtol=1e-8
    )
