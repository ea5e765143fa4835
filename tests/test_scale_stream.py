"""Files larger than memory: a source streamed in row blocks on every EM pass."""

import io
import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from gmmcore import GaussianMixture
from gmmcore.engine.em import degenerate_components
from gmmcore.scale import ArraySource, CsvSource, ParquetSource, TextProgress, sample_rows
from tests.strategies import collapsing_data


def _data(n=6_000, seed=0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (n // 2, 3)), rng.normal(4, 2, (n - n // 2, 3))]
    return pd.DataFrame(X, columns=["a", "b", "c"])


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_streaming_a_file_equals_loading_it(tmp_path, kind, covariance_type):
    frame = _data()
    path = tmp_path / f"d.{kind}"
    frame.to_parquet(path) if kind == "parquet" else frame.to_csv(path, index=False)
    X = (pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)).to_numpy()
    source = (ParquetSource if kind == "parquet" else CsvSource)(path, ["a", "b", "c"], 1000)
    ref = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    got = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit_source(source)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-10)
    assert got.n_iter_ == ref.n_iter_
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)


def test_path_source_and_progress(tmp_path):
    path = tmp_path / "d.parquet"
    _data().to_parquet(path)
    out = io.StringIO()
    gm = GaussianMixture(2, random_state=0).fit_source(path, progress=TextProgress(out))
    assert gm.converged_
    assert "EM pass 1 [" in out.getvalue() and "6,000/6,000 rows" in out.getvalue()


def test_sample_is_uniform_seeded_and_in_order():
    X = np.arange(10_000.0)[:, None]
    s1, n = sample_rows(ArraySource(X, block_rows=333), 1000, seed=3)
    s2, _ = sample_rows(ArraySource(X, block_rows=333), 1000, seed=3)
    assert n == 10_000 and s1.shape == (1000, 1) and np.array_equal(s1, s2)
    assert np.all(np.diff(s1[:, 0]) > 0)
    assert 4000 < s1.mean() < 6000  # uniform over the rows, not the first blocks
    all_rows, _ = sample_rows(ArraySource(X), 20_000)
    assert np.array_equal(all_rows, X)


def test_memory_is_bounded_by_a_block(tmp_path):
    rng = np.random.default_rng(0)
    n = 400_000  # 12.8 MB as float64
    pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd")).to_parquet(
        path := tmp_path / "b.pq"
    )
    source = ParquetSource(path, block_rows=20_000)
    tracemalloc.start()
    gm = GaussianMixture(2, random_state=0, max_iter=3, tol=1e9).fit_source(
        source, init_sample=5_000
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert gm.n_iter_ >= 1
    assert peak < 6e6, peak  # a fraction of the 12.8 MB of data


def test_parquet_reader_does_not_keep_what_it_read(tmp_path):
    # pyarrow's default pre-buffering kept every column chunk read: one pass over a 1.28 GB
    # file grew the RSS to 1.47 GB (bench/scaling.py). Arrow memory is not in tracemalloc, so
    # watch Arrow's own allocator across a pass.
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(400_000, 4)), columns=list("abcd"))
    frame.to_parquet(path := tmp_path / "g.parquet", row_group_size=20_000)
    peak = 0
    for _ in ParquetSource(path, block_rows=20_000).blocks():
        peak = max(peak, pa.total_allocated_bytes())
    assert peak < 4e6, peak  # the file is 12.8 MB; one block is 0.64 MB


def test_bad_files_give_clear_errors(tmp_path):
    path = tmp_path / "d.csv"
    _data(100).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"no column\(s\) 'zz'.*'a', 'b', 'c'"):
        CsvSource(path, ["a", "zz"])
    pq = tmp_path / "d.parquet"
    frame = _data(100)
    frame.loc[42, "b"] = np.nan
    frame.to_parquet(pq)
    with pytest.raises(ValueError, match="no column"):
        ParquetSource(pq, ["nope"])
    with pytest.raises(ValueError, match="row 42 holds a missing"):
        GaussianMixture(2).fit_source(ParquetSource(pq))


def test_cli_fit_stream(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "d.parquet"
    _data().to_parquet(path)
    out = tmp_path / "m.json"
    cmd = [sys.executable, "-m", "gmmcore", "fit", str(path), "--stream", "--components", "2"]
    run = subprocess.run([*cmd, "--output", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "EM pass 1 [" in run.stderr and "6000 rows" in run.stdout
    bad = subprocess.run([*cmd, "--columns", "a,zz", "--output", str(out)], capture_output=True)
    assert bad.returncode != 0 and b"no column(s) 'zz'" in bad.stderr
    # --n-init restarts the streamed fit as the API's fit_source does (each re-reads the file).
    two = subprocess.run([*cmd, "--n-init", "2", "--output", str(out)], capture_output=True)
    assert two.returncode == 0, two.stderr
    assert json.loads(out.read_text())["fit"]["n_init"] == 2
    assert b"run 1/2, EM pass 1 [" in two.stderr and b"run 2/2, EM pass 1 [" in two.stderr


def assert_same_restarts(got, ref):
    """Every restart of ``got`` ended where ``ref``'s did, and the same one was kept."""
    assert len(got.restarts_) == len(ref.restarts_)
    for g, r in zip(got.restarts_, ref.restarts_, strict=True):
        assert g.index == r.index and g.n_iter == r.n_iter and g.degenerate == r.degenerate
        assert g.lower_bound == pytest.approx(r.lower_bound, rel=1e-10)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=0, atol=1e-8)
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10)


@pytest.mark.filterwarnings("ignore::gmmcore.ConvergenceWarning")
def test_streamed_fit_runs_n_init_restarts_as_in_memory():
    """n_init restarts from the sample, drawn as in memory (a source within init_sample rows
    gives the in-memory restarts), the kept one chosen by the same rule: the highest lower
    bound here is a collapsed restart, and a sound one is kept."""
    X = collapsing_data()
    settings = dict(n_init=8, random_state=1, max_iter=300)
    ref = GaussianMixture(3, **settings).fit(X)
    out = io.StringIO()
    got = GaussianMixture(3, **settings).fit_source(
        ArraySource(X, block_rows=50), progress=TextProgress(out)
    )
    assert_same_restarts(got, ref)
    bounds = [r.lower_bound for r in got.restarts_]
    assert got.restarts_[int(np.argmax(bounds))].degenerate
    assert degenerate_components(got.snapshot_, got.reg_covar) == []
    assert "run 8/8, EM pass 1 [" in out.getvalue()
    with pytest.raises(ValueError, match="n_init must be a whole number >= 1"):
        GaussianMixture(3, n_init=0).fit_source(ArraySource(X))


def far_tiny_cluster_data():
    """tests/test_mclust_exact.py's data: a cluster of spread 1e-3 at 1e5 from the others."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2)) @ np.array([[2.0, 0.5], [0.0, 1.0]])
    b = rng.normal(size=(150, 2)) @ np.array([[1.0, -0.4], [0.0, 0.6]]) + [6.0, 0.0]
    c = rng.normal(size=(30, 2)) * 1e-3 + [1e5, 1e5]
    return np.vstack([a, b, c])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_streamed_fit_takes_the_two_pass_fallback_as_in_memory(covariance_type, monkeypatch):
    """The far, thin component's one-pass covariance has lost ~1e-6 (its whole variance) to
    cancellation; the streamed fit reads the source once more for the two-pass scatter, as the
    in-memory fit does, and ends where it ends."""
    from gmmcore.scale import stream

    calls = []
    original = stream.block_scatter
    monkeypatch.setattr(stream, "block_scatter", lambda *a: calls.append(1) or original(*a))
    X = far_tiny_cluster_data()
    ref = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    got = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit_source(
        ArraySource(X, block_rows=100)
    )
    assert calls, "the data must exercise the fallback"
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-12)
    # The far component's covariance is ~2e-6 (1e-6 of it reg_covar): relative to it.
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=1e-8, atol=1e-14)


def test_without_the_fallback_a_far_thin_component_loses_its_covariance():
    """Why block sources need the fallback: with the one-pass covariances only (no
    ``scatter_of``), the component at 1e5 gets a covariance off by more than half the
    in-memory fit's (variance 2.1e-6 -> 2.9e-6 or 4.8e-6, as the statistics' summation order
    rounds) with a made-up correlation (1.9e-6 where the fit has 2e-8)."""
    from gmmcore.engine.blockem import iter_em_blocks
    from gmmcore.scale.stream import _gram_of, source_statistics

    X = far_tiny_cluster_data()
    ref = GaussianMixture(3, random_state=0).fit(X)
    source, box = ArraySource(X, block_rows=100), {}
    *_, last = iter_em_blocks(
        source_statistics(source, lambda: box["shift"]), X, X.shape[0], 3, random_state=0,
        gram_of=_gram_of(source), on_shift=lambda s: box.__setitem__("shift", s),
    )  # fmt: skip
    far = int(np.argmax(ref.means_[:, 0]))
    one_pass = np.asarray(last.covariances)[int(np.argmax(np.asarray(last.means)[:, 0]))]
    assert np.abs(one_pass - ref.covariances_[far]).max() > 0.5 * ref.covariances_[far].max()
