"""Reading user tables: CSV/TSV bytes in, a DataFrame out, or a TableFileError (a ValueError)
that says, on one line, what is wrong with the file and what to do about it.

The one table reader of the project: the dashboard's upload widget and the command line
(``python -m gmmcore``) both read files here, so a file is read the same way everywhere (and it
works from a notebook too); no streamlit here.

Reading rules (:func:`parse_table`): UTF-8, with or without BOM, then Latin-1; binary content is
refused; the delimiter (comma, tab, semicolon or pipe) is detected from the first lines; a
semicolon-, tab- or pipe-separated file whose numbers use the decimal comma (``3,6``) is read as
such; ``NA``, ``N/A``, ``NaN``, ``nan``, ``?``, ``null``, ``NULL`` and empty cells are missing
values; every row must have as many fields as the header; header names are stripped.
:func:`read_table` adds the checks for data to fit a mixture to: a size limit, at least two data
rows and a numeric column that varies.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MAX_BYTES",
    "NA_VALUES",
    "PreparedData",
    "TableFileError",
    "decode_bytes",
    "detect_decimal",
    "detect_delimiter",
    "numeric_columns",
    "parse_table",
    "prepare_features",
    "read_table",
    "suggest_standardize",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
NA_VALUES = ("NA", "N/A", "nan", "NaN", "", "?", "null", "NULL")
_DELIMITERS = [",", "\t", ";", "|"]
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_COMMA_NUMBER = re.compile(r"[-+]?\d+,\d+")
_DOT_NUMBER = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")


class TableFileError(ValueError):
    """A table file cannot be used; the message says why and what to do."""


def decode_bytes(data: bytes, *, name: str = "the file") -> tuple[str, str]:
    """Decode file bytes as UTF-8 (with or without BOM), falling back to Latin-1.

    Returns (text, encoding name). Raises TableFileError for binary content; ``name`` is shown
    in its message.
    """
    if b"\x00" in data[:65536]:
        raise TableFileError(
            f"{name} looks binary (it contains NUL bytes), not a text CSV/TSV file; if it is an "
            "Excel or Parquet file, export it as CSV first"
        )
    try:
        text = data.decode("utf-8-sig")
        encoding = "UTF-8"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        encoding = "Latin-1"
    # Many control characters in the first bytes: binary that happens to have no NUL.
    head = text[:4096]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\r\n\t")
    if head and controls / len(head) > 0.05:
        raise TableFileError(
            f"{name} looks binary (many control characters), not a text CSV/TSV file; export "
            "the data as CSV (comma- or tab-separated) first"
        )
    return text, encoding


def detect_delimiter(text: str) -> str:
    """The delimiter among comma, tab, semicolon and pipe that splits the first lines most
    consistently (csv.Sniffer first, a field-count vote as fallback)."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        pass
    best, best_score = ",", -1.0
    for d in _DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines]
        if not counts or max(counts) < 2:
            continue
        # Consistent and wide wins.
        score = counts.count(counts[0]) / len(counts) * 10 + min(counts[0], 9)
        if score > best_score:
            best, best_score = d, score
    return best


def _decimal_of_rows(rows, delimiter: str) -> str:
    if delimiter == ",":  # a decimal comma would have to be quoted; read such fields as text
        return "."
    n_comma = n_dot = 0
    for row in rows:
        for cell in row:
            cell = cell.strip()
            if _COMMA_NUMBER.fullmatch(cell):
                n_comma += 1
            elif _DOT_NUMBER.fullmatch(cell):
                n_dot += 1
    return "," if n_comma > n_dot else "."


def detect_decimal(text: str, delimiter: str) -> str:
    """``","`` when the numbers of a semicolon-, tab- or pipe-separated text use the decimal
    comma (``3,6`` more often than ``3.6``), else ``"."``. A comma-separated text is always
    ``"."``."""
    return _decimal_of_rows(csv.reader(io.StringIO(text), delimiter=delimiter), delimiter)


def parse_table(data: bytes, *, name: str = "the file") -> tuple[pd.DataFrame, dict]:
    """Parse CSV/TSV bytes into a DataFrame by the reading rules of this module.

    No size limit and no check on the number of rows or on numeric columns: use
    :func:`read_table` for data to fit a mixture to, this for data to label with a fitted one.

    Parameters
    ----------
    data : bytes
    name : str
        Shown in error messages, e.g. ``"'penguins.csv'"``.

    Returns
    -------
    frame : DataFrame (missing values as NaN)
    info : dict with ``delimiter`` (its name), ``decimal`` (``"."`` or ``","``), ``encoding``,
        ``n_rows``, ``n_columns``

    Raises
    ------
    TableFileError
        Empty, binary, ragged (rows with a different number of fields than the header),
        unparsable, or a header without data rows.
    """
    if data is None or len(data) == 0 or not data.strip():
        raise TableFileError(f"{name} is empty; use a CSV/TSV file with a header row and data rows")
    text, encoding = decode_bytes(data, name=name)
    delimiter = detect_delimiter(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if not rows:
        raise TableFileError(f"{name} has no rows; use a CSV/TSV file with a header and data rows")
    width = len(rows[0][1])
    ragged = [(line, len(r)) for line, r in rows[1:] if len(r) != width]
    if ragged:
        line, n = ragged[0]
        raise TableFileError(
            f"{name} is not a readable CSV/TSV table, it is ragged: the header has {width} "
            f"field(s) but line {line} has {n} ({len(ragged)} line(s) disagree; delimiter "
            f"detected: {_DELIMITER_NAMES[delimiter]}); check for unquoted delimiters inside "
            "values, or a wrong delimiter, and save the file again"
        )
    decimal = _decimal_of_rows((r for _, r in rows[1:]), delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            decimal=decimal,
            skip_blank_lines=True,
            na_values=list(NA_VALUES),
        )
    except (pd.errors.ParserError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise TableFileError(
            f"{name} is not a readable CSV/TSV table ({detail}; delimiter detected: "
            f"{_DELIMITER_NAMES[delimiter]}); check the quoting, and that every row has as many "
            "fields as the header"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[0] == 0:
        raise TableFileError(f"{name} has a header but no data rows; add data rows below it")
    info = {
        "delimiter": _DELIMITER_NAMES[delimiter],
        "decimal": decimal,
        "encoding": encoding,
        "n_rows": int(frame.shape[0]),
        "n_columns": int(frame.shape[1]),
    }
    return frame, info


def read_table(
    data: bytes, *, name: str = "the file", max_bytes: int | None = DEFAULT_MAX_BYTES
) -> tuple[pd.DataFrame, dict]:
    """Parse CSV/TSV bytes into a DataFrame to fit a mixture to.

    :func:`parse_table`, plus a size limit, at least two data rows and at least one numeric
    column that is not constant.

    Parameters
    ----------
    data : bytes
    name : str
        Shown in error messages.
    max_bytes : int or None
        Files larger than this are refused.

    Returns
    -------
    frame : DataFrame (missing values as NaN)
    info : dict with ``delimiter`` (its name), ``decimal``, ``encoding``, ``n_rows``,
        ``n_columns``

    Raises
    ------
    TableFileError
        Empty, too large, binary, ragged (rows with a different number of fields than the
        header), unparsable, a single data row, or no numeric column.
    """
    if data is None or len(data) == 0 or not data.strip():
        raise TableFileError(f"{name} is empty; use a CSV/TSV file with a header row and data rows")
    if max_bytes is not None and len(data) > max_bytes:
        raise TableFileError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; "
            "use a sample of the rows, or keep only the columns you need"
        )
    frame, info = parse_table(data, name=name)
    if frame.shape[0] < 2:
        raise TableFileError(
            f"{name} has {frame.shape[0]} data row(s); a mixture needs at least 2 rows "
            "(and realistically dozens): add more data"
        )
    if not numeric_columns(frame):
        listing = f"{', '.join(map(str, frame.columns[:8]))}{'…' if frame.shape[1] > 8 else ''}"
        if any(_is_number_column(frame[c]) for c in frame.columns):
            raise TableFileError(
                f"{name} has no numeric column that varies (columns: {listing}; every numeric "
                "one is constant); the features must be numbers that differ between rows"
            )
        raise TableFileError(
            f"{name} has no numeric columns (columns: {listing}); the features must be numbers: "
            "check the delimiter and the decimal separator, and that the first row is the header"
        )
    return frame, info


def _is_number_column(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns with a numeric (non-boolean) dtype that are not constant."""
    return [
        str(c)
        for c in frame.columns
        if _is_number_column(frame[c]) and frame[c].dropna().nunique() > 1
    ]


@dataclass(frozen=True)
class PreparedData:
    """The rows and columns a fit uses.

    X : ndarray of shape (n_samples, n_features), raw units, no missing values
    features : tuple of feature names
    tasks : ndarray of str of shape (n_samples,) or None
    labels : ndarray of str of shape (n_samples,) or None
    row_index : ndarray of the kept rows' positions in the original frame
    n_dropped : rows dropped because of a missing value in a used column
    """

    X: np.ndarray
    features: tuple[str, ...]
    tasks: np.ndarray | None
    labels: np.ndarray | None
    row_index: np.ndarray
    n_dropped: int


def prepare_features(
    frame: pd.DataFrame,
    features,
    *,
    task_column: str | None = None,
    label_column: str | None = None,
) -> PreparedData:
    """Select feature (and optional task and label) columns and drop rows with a missing value
    in any of them.

    Raises ValueError when no feature is chosen, a feature is not numeric, or fewer than two
    complete rows remain.
    """
    features = [str(f) for f in features]
    if not features:
        raise ValueError("Choose at least one numeric feature column.")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(
            f"Column(s) {missing} are not in the data; choose among {list(frame.columns)}."
        )
    non_numeric = [f for f in features if not pd.api.types.is_numeric_dtype(frame[f])]
    if non_numeric:
        raise ValueError(f"Column(s) {non_numeric} are not numeric; features must be numbers.")
    used = list(features)
    for extra in (task_column, label_column):
        if extra is not None and extra not in used:
            if extra not in frame.columns:
                raise ValueError(f"Column {extra!r} is not in the data.")
            used.append(extra)
    sub = frame[used]
    complete = sub.notna().all(axis=1).to_numpy()
    n_dropped = int((~complete).sum())
    kept = sub[complete]
    if kept.shape[0] < 2:
        raise ValueError(
            f"Only {kept.shape[0]} row(s) have no missing value in {used}; choose other columns."
        )
    X = kept[features].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("The feature columns contain infinite values; remove them first.")
    tasks = kept[task_column].astype(str).to_numpy() if task_column else None
    labels = kept[label_column].astype(str).to_numpy() if label_column else None
    return PreparedData(X, tuple(features), tasks, labels, np.flatnonzero(complete), n_dropped)


def suggest_standardize(frame: pd.DataFrame, features, ratio: float = 50.0) -> bool:
    """True when the features' standard deviations differ by more than ``ratio``: then the
    widest feature dominates distances, ellipses and PCA, and z-scores are the better default."""
    cols = [f for f in features if f in frame.columns]
    if len(cols) < 2:
        return False
    sd = frame[cols].std(skipna=True).to_numpy(dtype=np.float64)
    sd = sd[np.isfinite(sd) & (sd > 0)]
    return bool(sd.size >= 2 and sd.max() / sd.min() > ratio)
