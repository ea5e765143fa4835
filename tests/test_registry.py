"""The covariance-structure registry is the only list of covariance types.

A toy structure (mclust's EII: round components sharing one variance), written only against
the :class:`CovarianceStructure` interface and registered, is fitted, scored, saved, loaded,
offered by the command line and by the dashboard, without editing anything else.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal

from gmmcore import (
    GaussianMixture,
    covariance_types,
    from_json,
    get_structure,
    iter_em,
    model_grid,
    register_structure,
    to_json,
    unregister_structure,
)
from gmmcore.engine.covariance import (
    COVARIANCE_TYPES,
    MCLUST_NAMES,
    CovarianceStructure,
    IllConditionedCovarianceError,
)
from gmmcore.engine.mclust_models import MCLUST_MODELS
from gmmcore.io import SCHEMA_PATH, model_schema

ROOT = Path(__file__).resolve().parent.parent
TOY = "toy_eii"


class EqualSpherical(CovarianceStructure):
    """Round components sharing one variance (mclust EII), stored as (K,) equal variances."""

    name, mclust_name, second_moment = TOY, "EII", "square"
    description = "every component is round, all with the same variance"
    diagonal = True

    def m_step(self, nk, means, S2, reg_covar, previous=None):
        # sum_k sum_d (S2_kd - nk mu_kd^2) / (N D): the pooled within-component variance.
        var = (S2 - nk[:, None] * means**2).sum() / (nk.sum() * means.shape[1])
        cov = np.full(nk.shape, var)
        return cov + reg_covar, cov.copy()

    def precisions_cholesky(self, covariances, reg_covar=0.0):
        if (covariances <= 0).any():
            raise IllConditionedCovarianceError(int(np.argmin(covariances)), reg_covar)
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def covariances_from_precisions_cholesky(self, prec_chol):
        return 1.0 / prec_chol**2

    def log_det_precisions_cholesky(self, prec_chol, n_features):
        return n_features * np.log(prec_chol)

    def mahalanobis(self, X, means, prec_chol):
        return ((X[:, None, :] - means[None]) ** 2).sum(axis=2) * prec_chol**2

    def covariance_matrices(self, covariances, n_components, n_features):
        return covariances[:, None, None] * np.eye(n_features)[None]

    def n_cov_parameters(self, n_components, n_features):
        return 1

    def expected_shape(self, n_components, n_features):
        return (n_components,)


@pytest.fixture
def toy():
    structure = register_structure(EqualSpherical())
    yield structure
    unregister_structure(TOY)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return np.r_[rng.normal(0, 1, (80, 2)), rng.normal(6, 1, (60, 2))]


def test_the_shipped_schema_file_is_the_one_generated_from_the_registry():
    """The schema on disk (read by people and other tools) equals what the loader uses."""
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == model_schema()


def test_built_in_names_come_from_the_registry():
    assert COVARIANCE_TYPES == ("full", "tied", "diag", "spherical")
    # Built-ins first, then mclust's other models (gmmcore.engine.mclust_models).
    assert covariance_types()[:4] == COVARIANCE_TYPES
    assert covariance_types()[4:] == tuple(s.name for s in MCLUST_MODELS) + ("E", "V")
    assert MCLUST_NAMES == {t: get_structure(t).mclust_name for t in COVARIANCE_TYPES}
    assert all(get_structure(t).description for t in COVARIANCE_TYPES)


def test_registering_twice_or_removing_a_built_in_is_refused(toy):
    with pytest.raises(ValueError, match="registered already"):
        register_structure(EqualSpherical())
    with pytest.raises(ValueError, match="built-in"):
        unregister_structure("full")


def test_a_registered_structure_is_offered_and_fitted(toy, X):
    assert covariance_types()[-1] == TOY
    gm = GaussianMixture(2, covariance_type=TOY, random_state=0).fit(X)
    assert gm.converged_
    # One shared variance: every component's covariance is the same round matrix.
    assert_allclose(gm.covariances_, gm.covariances_[0], rtol=0, atol=0)
    assert gm.n_parameters() == (2 - 1) + 2 * 2 + 1
    # Scores agree with scipy's densities (rtol 1e-10: same formula, different rounding).
    dens = sum(
        w * multivariate_normal(m, c * np.eye(2)).pdf(X)
        for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
    )
    assert_allclose(gm.score_samples(X), np.log(dens), rtol=1e-10)
    lls = [
        s.log_likelihood
        for s in iter_em(X, 3, covariance_type=TOY, random_state=1)
        if s.phase == "E"
    ]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(lls, lls[1:], strict=False))


def test_a_registered_structure_travels_in_the_model_file(toy, X):
    gm = GaussianMixture(2, covariance_type=TOY, random_state=0).fit(X)
    text = to_json(gm, feature_names=["a", "b"], X=X)
    assert json.loads(text)["covariance_type"] == TOY
    loaded = from_json(text)
    assert loaded.covariance_type == TOY
    assert np.array_equal(loaded.predict_proba(X), gm.predict_proba(X))


def test_a_registered_structure_is_in_the_default_grid(toy, X):
    grid = model_grid(X, [1, 2], random_state=0)
    assert set(grid["covariance_type"]) == set(covariance_types(X.shape[1]))
    assert grid.loc[grid["covariance_type"] == TOY, "mclust_name"].unique().tolist() == ["EII"]


def test_after_unregistering_the_model_file_refuses_it(X):
    register_structure(EqualSpherical())
    try:
        text = to_json(GaussianMixture(2, covariance_type=TOY, random_state=0).fit(X))
    finally:
        unregister_structure(TOY)
    with pytest.raises(ValueError, match="unknown covariance type 'toy_eii'"):
        from_json(text)


def test_the_command_line_offers_a_registered_structure(toy, tmp_path, capsys):
    from gmmcore.cli import main

    faithful = str(ROOT / "sample_data" / "faithful.csv")
    out = tmp_path / "toy.json"
    assert main(["--help"]) == 0
    assert main(["fit", "--help"]) == 0
    assert TOY in capsys.readouterr().out
    assert main(["fit", faithful, "-k", "2", "--covariance-type", TOY, "--output", str(out)]) == 0
    assert json.loads(out.read_text())["covariance_type"] == TOY
    assert (
        main(
            [
                "select",
                faithful,
                "--components",
                "1-2",
                "--covariance-types",
                f"full,{TOY}",
                "--csv",
            ]
        )
        == 0
    )
    assert TOY in capsys.readouterr().out


def test_the_dashboard_offers_a_registered_structure(toy):
    """AppTest runs the pages in this process, so they see the registry as the API does."""
    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/2_explorer.py").run()
    assert f"{TOY} (mclust EII)" in at.selectbox(key="cov_type").options
    at.selectbox(key="cov_type").set_value(TOY)
    next(b for b in at.button if b.label == "Run EM").click().run()
    assert not at.exception and not at.error
    assert at.session_state["fit_settings"]["covariance_type"] == TOY
    at.switch_page("pages/3_selection.py").run()
    assert f"{TOY} (mclust EII)" in at.multiselect(key="grid_types").options


def test_a_grid_on_several_processes_fits_registered_structures(toy, X):
    """Workers start from gmmcore as imported: the grid sends them the structures it needs
    (registered there), and one that cannot be sent (a class defined in a function) makes
    the grid run in this process instead; the same table either way."""
    from gmmcore.selection import model_grid

    shipped = model_grid(X, [1, 2, 3], ["full", TOY], n_jobs=2)
    assert shipped["error"].isna().all() and set(shipped["covariance_type"]) == {"full", TOY}
    pd.testing.assert_frame_equal(shipped, model_grid(X, [1, 2, 3], ["full", TOY]))

    class LocalCopy(EqualSpherical):  # not picklable: defined in a function
        name = "toy_local_copy"

    register_structure(LocalCopy())
    try:
        local = model_grid(X, [1, 2, 3], ["full", "toy_local_copy"], n_jobs=2)
    finally:
        unregister_structure("toy_local_copy")
    assert local["error"].isna().all()
    assert np.allclose(
        local.loc[local.covariance_type != "full", "bic"],
        shipped.loc[shipped.covariance_type == TOY, "bic"],
        rtol=0,
        atol=0,
    )
