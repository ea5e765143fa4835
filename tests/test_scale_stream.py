"""Files larger than memory: a source streamed in row blocks on every EM pass."""

import io
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from gmmcore import GaussianMixture
from gmmcore.scale import ArraySource, CsvSource, ParquetSource, TextProgress, sample_rows


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
