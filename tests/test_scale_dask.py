"""Dask collections: the E-step on the workers of a LocalCluster, the M-step on the client."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gmmcore import GaussianMixture

da = pytest.importorskip("dask.array", reason="dask is an optional extra (pip install .[scale])")
distributed = pytest.importorskip("dask.distributed", reason="needs dask[distributed]")
dd = pytest.importorskip("dask.dataframe", reason="needs dask.dataframe")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:  # fmt: skip
        yield c


def _data(n=8_000, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, 3)), rng.normal(4, 2, (n - n // 2, 3))]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_dask_fit_equals_in_memory_and_runs_on_the_workers(client, covariance_type):
    X = _data()
    ref = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    dX = da.from_array(X, chunks=(1_000, 3))
    with distributed.get_task_stream(client) as ts:
        got = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(dX)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-10)
    assert got.n_iter_ == ref.n_iter_
    names = [t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in ts.data]
    block_tasks = [t for t, k in zip(ts.data, names, strict=True) if "_block_stats" in str(k)]
    assert len(block_tasks) == 8 * got.n_iter_  # one task per block and E-step
    assert len({t["worker"] for t in block_tasks}) == 2


def test_dask_predict_score_and_dataframe(client):
    X = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label="x")
    ddf = dd.from_pandas(frame, npartitions=4)
    gm = GaussianMixture(2, random_state=0).fit(ddf)
    ref = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=0, atol=1e-10)
    dX = da.from_array(X, chunks=(3_000, 3))
    np.testing.assert_array_equal(gm.predict(dX).compute(), ref.predict(X))
    np.testing.assert_allclose(gm.predict_proba(dX).compute(), ref.predict_proba(X), atol=1e-12)
    np.testing.assert_allclose(gm.score_samples(dX).compute(), ref.score_samples(X), atol=1e-10)
    assert gm.score(dX) == pytest.approx(ref.score(X), rel=1e-12)


def test_unknown_chunk_sizes_are_a_clear_error():
    dX = da.from_array(_data(), chunks=(1_000, 3))
    dX = dX[dX[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        GaussianMixture(2).fit(dX)


def test_importing_gmmcore_does_not_import_dask():
    code = "import sys, gmmcore, gmmcore.scale; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dask_multitask_fit_with_a_task_column(client):
    X = _data(6_000)
    labels = np.random.default_rng(5).choice(["north", "south", "east"], size=X.shape[0])
    ref = GaussianMixture(2, random_state=0).fit(X, tasks=labels)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(site=labels)
    ddf = dd.from_pandas(frame, npartitions=3)
    got = GaussianMixture(2, random_state=0).fit(ddf, tasks="site")
    assert got.tasks_ == ref.tasks_ == ("east", "north", "south")
    np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=0, atol=1e-10)
    assert got.task_n_samples_ == ref.task_n_samples_
    dX = da.from_array(X, chunks=(2_000, 3))
    dT = da.from_array(labels, chunks=2_000)
    np.testing.assert_allclose(
        got.score_samples(dX, tasks=dT).compute(), ref.score_samples(X, tasks=labels), atol=1e-9
    )
    np.testing.assert_array_equal(
        got.predict(ddf, tasks="site").compute(), ref.predict(X, tasks=labels)
    )


@pytest.mark.filterwarnings("ignore::gmmcore.ConvergenceWarning")
def test_dask_fit_runs_n_init_restarts_as_in_memory(client):
    """n_init restarts from the one sample, the kept one chosen as in memory (restart 0
    collapses with a higher likelihood than the sound ones; see test_scale_stream.py)."""
    from test_scale_stream import assert_same_restarts

    from gmmcore.engine.em import degenerate_components
    from tests.strategies import collapsing_data

    X = collapsing_data()
    settings = dict(n_init=3, random_state=1, max_iter=300)
    ref = GaussianMixture(3, **settings).fit(X)
    got = GaussianMixture(3, **settings).fit(da.from_array(X, chunks=(70, 2)))
    assert_same_restarts(got, ref)
    assert got.restarts_[0].degenerate
    assert degenerate_components(got.snapshot_, got.reg_covar) == []


def test_dask_fit_takes_the_two_pass_fallback_on_the_workers(client):
    """A thin component 1e5 away: the fallback's scatter runs blockwise on the workers and
    the fit ends where the in-memory one does."""
    from test_scale_stream import far_tiny_cluster_data

    X = far_tiny_cluster_data()
    ref = GaussianMixture(3, random_state=0).fit(X)
    with distributed.get_task_stream(client) as ts:
        got = GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=(100, 2)))
    assert any("_block_scatter" in str(t["key"]) for t in ts.data)
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=1e-8, atol=1e-14)
