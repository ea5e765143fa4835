"""The two-pass covariance fallback (gmmcore.engine.mstep.exact_covariances) keeps mclust's
constraints.

A component far from the data's median with a tiny spread loses its one-pass covariance
``S2/nk - mu mu^T`` to cancellation, so EM recomputes the covariances from the two-pass
scatter. In the models whose components share their volume, shape or orientation, the M-step
of one component depends on the scatter of all, so the fallback must rerun the M-step for all
components together; it once reran it for the far component alone, which gave that component
a free covariance (VEV's far component got its own shape).
"""

from __future__ import annotations

import numpy as np
import pytest

from gmmcore import get_structure, iter_em
from gmmcore.engine import mstep


def _far_tiny_cluster_data():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2)) @ np.array([[2.0, 0.5], [0.0, 1.0]])
    b = rng.normal(size=(150, 2)) @ np.array([[1.0, -0.4], [0.0, 0.6]]) + [6.0, 0.0]
    # 1e5 away with spread 1e-3: the one-pass covariance keeps only ~1e-6 of its variance.
    c = rng.normal(size=(30, 2)) * 1e-3 + [1e5, 1e5]
    return np.vstack([a, b, c])


def _volume_and_shape(covariances, name):
    """Volumes |Sigma_k|^(1/D), shape (K,), and sorted shapes (eigenvalues / volume), (K, D)."""
    k, d = 3, 2
    covs = get_structure(name).covariance_matrices(np.asarray(covariances), k, d)
    ev = np.linalg.eigvalsh(covs)
    volume = np.exp(np.log(ev).mean(axis=1))
    return volume, np.sort(ev / volume[:, None], axis=1)


# Model -> (volume equal, shape equal): the constraint the fallback used to break.
CONSTRAINTS = {
    "VEV": (False, True),
    "VEI": (False, True),
    "EVE": (True, False),
    "EVV": (True, False),
}


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_two_pass_fallback_keeps_shared_volume_or_shape(name, monkeypatch):
    X = _far_tiny_cluster_data()
    triggered = []
    original = mstep.precision_lost

    def spy(*args, **kwargs):
        lost = original(*args, **kwargs)
        triggered.append(lost.size > 0)
        return lost

    monkeypatch.setattr(mstep, "precision_lost", spy)
    snaps = list(iter_em(X, 3, covariance_type=name, random_state=0, tol=1e-8, max_iter=200))
    assert any(triggered), "the data must exercise the two-pass fallback"
    equal_volume, equal_shape = CONSTRAINTS[name]
    for snap in snaps:
        if snap.phase != "M":
            continue
        volume, shape = _volume_and_shape(snap.covariances, name)
        # The model's own constraint, to rounding (the far component's variance is ~1e-6,
        # so compare shapes and volumes relative to their size).
        if equal_volume:
            np.testing.assert_allclose(volume, volume[0], rtol=1e-8)
        if equal_shape:
            np.testing.assert_allclose(shape, np.broadcast_to(shape[0], shape.shape), rtol=1e-6)
    lls = np.array([s.log_likelihood for s in snaps if s.phase == "E"])
    # EM stays monotone; the slack is the rounding of a sum of 380 log-densities.
    assert (np.diff(lls) >= -1e-9 * np.abs(lls[1:])).all()
