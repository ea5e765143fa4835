"""Sources of row blocks: an in-memory array, a Parquet file, a CSV file.

A source has ``columns`` (the feature names, in order), ``n_features`` and ``blocks()``, an
iterator over float64 arrays of shape (m, n_features) that visits every row once, in the
file's order, with block boundaries that do not change between passes. Memory is bounded by
one block (``block_rows`` rows) whatever the file's size: a file larger than memory is read
again on every EM pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["ArraySource", "CsvSource", "ParquetSource", "open_source", "sample_rows"]

# Rows per block: 2^18 rows x 4 features are 8 MiB of float64, large enough that reading
# (pyarrow, pandas' C parser) is not dominated by per-call overhead, small enough for the
# 600 MB budget of a 4e7-row fit (measured in bench/scaling.py).
BLOCK_ROWS = 1 << 18


def _check_block(block: np.ndarray, start: int, where: str) -> np.ndarray:
    bad = ~np.isfinite(block)
    if bad.any():
        row = start + int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(
            f"{where}: row {row} holds a missing or infinite value; drop or fill such rows "
            "before fitting (a streamed fit reads the file as it is)."
        )
    return block


class ArraySource:
    """Blocks of an in-memory array (tests, and the same code path as a file)."""

    def __init__(self, X, columns: Sequence[str] | None = None, block_rows: int = BLOCK_ROWS):
        self.X = np.asarray(X, dtype=np.float64)
        if self.X.ndim != 2:
            raise ValueError(f"ArraySource needs a 2-D array, got shape {self.X.shape}.")
        self.columns = list(columns) if columns else [f"x{i}" for i in range(self.X.shape[1])]
        self.n_features = self.X.shape[1]
        self.block_rows = int(block_rows)

    def blocks(self) -> Iterator[np.ndarray]:
        for lo in range(0, self.X.shape[0], self.block_rows):
            yield _check_block(self.X[lo : lo + self.block_rows], lo, "array")


class ParquetSource:
    """Blocks of a Parquet file, read with pyarrow ``block_rows`` rows at a time.

    Parameters
    ----------
    path : str or path-like
    columns : list of str, optional
        Feature columns, in order (default: every numeric column).
    block_rows : int
    """

    def __init__(self, path, columns: Sequence[str] | None = None, block_rows: int = BLOCK_ROWS):
        import pyarrow.parquet as pq  # deferred: only file sources need it

        self.path = os.fspath(path)
        # pre_buffer=False and a read buffer: with pyarrow's defaults (pre_buffer=True) the
        # reader kept every column chunk it had read, and one pass over a 1.28 GB file
        # (4e7 x 4) grew the RSS to 1.47 GB; with these settings it stays at 154 MB, the
        # interpreter's ~115 MB included (measured, pyarrow 26).
        self._file = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 22)
        schema = self._file.schema_arrow
        names = list(schema.names)
        if columns is None:
            columns = [f.name for f in schema if _numeric(f.type)]
        _check_columns(columns, names, self.path)
        self.columns = list(columns)
        self.n_features = len(self.columns)
        self.n_rows = int(self._file.metadata.num_rows)
        self.block_rows = int(block_rows)

    def blocks(self) -> Iterator[np.ndarray]:
        start = 0
        for batch in self._file.iter_batches(batch_size=self.block_rows, columns=self.columns):
            block = np.empty((batch.num_rows, self.n_features))
            for j in range(self.n_features):
                col = batch.column(j)
                # Nulls become NaN, refused by _check_block with the row's number.
                block[:, j] = col.to_numpy(zero_copy_only=False).astype(np.float64)
            yield _check_block(block, start, self.path)
            start += batch.num_rows


class CsvSource:
    """Blocks of a CSV file, read with pandas' C parser ``block_rows`` rows at a time.

    Parameters
    ----------
    path : str or path-like
    columns : list of str, optional
        Feature columns, in order (default: every column).
    block_rows : int
    sep : str, default ","
    """

    def __init__(
        self, path, columns: Sequence[str] | None = None, block_rows: int = BLOCK_ROWS, sep=","
    ):
        import pandas as pd

        self.path = os.fspath(path)
        self.sep = sep
        names = list(pd.read_csv(self.path, sep=sep, nrows=0).columns)
        if columns is None:
            columns = names
        _check_columns(columns, names, self.path)
        self.columns = list(columns)
        self.n_features = len(self.columns)
        self.block_rows = int(block_rows)

    def blocks(self) -> Iterator[np.ndarray]:
        import pandas as pd

        start = 0
        reader = pd.read_csv(
            self.path, sep=self.sep, usecols=self.columns, chunksize=self.block_rows
        )
        with reader:
            for frame in reader:
                try:
                    block = frame[self.columns].to_numpy(np.float64)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{self.path}: a value near row {start} of columns "
                        f"{', '.join(self.columns)} is not a number."
                    ) from None
                yield _check_block(block, start, self.path)
                start += block.shape[0]


def _numeric(arrow_type) -> bool:
    import pyarrow.types as pt

    return pt.is_integer(arrow_type) or pt.is_floating(arrow_type)


def _check_columns(columns, names, path):
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(
            f"{path} has no column(s) {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, names))}."
        )
    if not columns:
        raise ValueError(f"{path}: no numeric columns to fit; name them with columns=[...].")


def open_source(path, columns=None, block_rows: int = BLOCK_ROWS):
    """A :class:`ParquetSource` for ``.parquet``/``.pq`` files, else a :class:`CsvSource`
    (tab-separated for ``.tsv``)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in (".parquet", ".pq"):
        return ParquetSource(path, columns, block_rows)
    return CsvSource(path, columns, block_rows, sep="\t" if ext == ".tsv" else ",")


def sample_rows(source, size: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """A uniform sample of ``size`` rows without replacement, in the source's order, and the
    number of rows; one pass, memory O(size + block).

    The sample is the ``size`` rows with the smallest of independent uniform keys (bottom-k
    sampling, equivalent to a reservoir sample), drawn from ``numpy.random.default_rng(seed)``
    block by block: the same seed and source give the same sample. A source with at most
    ``size`` rows gives all its rows, in order.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(0)
    index = np.empty(0, dtype=np.int64)
    rows = np.empty((0, source.n_features))
    n = 0
    for block in source.blocks():
        m = block.shape[0]
        keys = np.concatenate([keys, rng.random(m)])
        index = np.concatenate([index, np.arange(n, n + m)])
        rows = np.concatenate([rows, block])
        n += m
        if keys.size > size:
            keep = np.argpartition(keys, size - 1)[:size]
            keys, index, rows = keys[keep], index[keep], rows[keep]
    order = np.argsort(index, kind="stable")
    return rows[order], n
