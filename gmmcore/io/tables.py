"""Reading user tables: file bytes in (CSV/TSV text, an Excel workbook or a Parquet file), a
DataFrame out, or a TableFileError (a ValueError) that says, on one line, what is wrong with the
file and what to do about it.

The one table reader of the project: the dashboard's upload widget and the command line
(``gmmcore`` / ``python -m gmmcore``) both read files here, so a file is read the same way
everywhere (and it works from a notebook too); no streamlit here.

Reading rules (:func:`parse_table`): the format comes from the file's first bytes, not its name
(:func:`~gmmcore.io.table_formats.detect_format`); Excel workbooks (.xlsx, the first sheet or
``sheet=``) and Parquet files are read by :mod:`gmmcore.io.table_formats`. Text is UTF-8, with
or without BOM, then Latin-1; binary content is refused; the delimiter (comma, tab, semicolon
or pipe) is detected from the first lines; a semicolon-, tab- or pipe-separated file whose
numbers use the decimal comma (``3,6``) is read as such; ``NA``, ``N/A``, ``NaN``, ``nan``,
``?``, ``null``, ``NULL`` and empty cells are missing values; every row must have as many fields
as the header; a field may not be longer than 128 KB. In every format header names are stripped
and a repeated name gets a suffix (``x, x`` -> ``x, x.1``); at most :data:`MAX_COLUMNS` columns;
nullable numbers (``Int64``) become float64 with NaN.
:func:`read_table` adds the checks for data to fit a mixture to: a size limit, at least two data
rows, a numeric column that varies, and no infinite value (``inf``, ``-inf``, ``Infinity``) in a
numeric column: such a file is refused with the column and the row, since a mixture cannot use
the value and it is not a missing value either.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .table_formats import (
    ACCEPTED_FORMATS,
    FORMAT_NAMES,
    MAX_COLUMNS,
    NA_VALUES,
    TableFileError,
    _too_wide,
    column_names,
    detect_format,
    numeric_to_float,
    read_parquet,
    read_xlsx,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_BYTES",
    "MAX_COLUMNS",
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
_DELIMITERS = [",", "\t", ";", "|"]
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_COMMA_NUMBER = re.compile(r"[-+]?\d+,\d+")
_DOT_NUMBER = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")
# The delimiter is guessed from at most this much text: csv.Sniffer's regular expressions are
# slow on long lines.
_SNIFF_CHARS = 64 * 1024


def decode_bytes(data: bytes, *, name: str = "the file") -> tuple[str, str]:
    """Decode file bytes as UTF-8 (with or without BOM), falling back to Latin-1.

    Returns (text, encoding name). Raises TableFileError for binary content; ``name`` is shown
    in its message.
    """
    if b"\x00" in data[:65536]:
        raise TableFileError(
            f"{name} looks binary (it contains NUL bytes), not a text CSV/TSV file, nor an Excel "
            f"workbook or a Parquet file; save the data as CSV ({ACCEPTED_FORMATS})"
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
            f"{name} looks binary (many control characters), not a text CSV/TSV file, nor an "
            f"Excel workbook or a Parquet file; save the data as CSV ({ACCEPTED_FORMATS})"
        )
    return text, encoding


def detect_delimiter(text: str) -> str:
    """The delimiter among comma, tab, semicolon and pipe that splits the first lines most
    consistently (csv.Sniffer first, a field-count vote as fallback)."""
    lines = [ln for ln in text[:_SNIFF_CHARS].splitlines()[:50] if ln.strip()]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        pass
    best, best_score = ",", -1.0
    for d in _DELIMITERS:
        try:
            counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines]
        except csv.Error:  # e.g. a field over the csv module's size limit
            continue
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


def parse_table(data: bytes, *, name: str = "the file", sheet=None) -> tuple[pd.DataFrame, dict]:
    """Parse a CSV/TSV, Excel (.xlsx) or Parquet file into a DataFrame by the reading rules of
    this module.

    No size limit and no check on the number of rows or on numeric columns: use
    :func:`read_table` for data to fit a mixture to, this for data to label with a fitted one.

    Parameters
    ----------
    data : bytes
    name : str
        Shown in error messages, e.g. ``"'penguins.csv'"``.
    sheet : str, int or None
        Excel workbooks only: the sheet's name or 0-based position (default: the first sheet).

    Returns
    -------
    frame : DataFrame of shape (n_rows, n_columns) (missing values as NaN)
    info : dict with ``format`` (``"CSV/TSV text"``, ``"Excel workbook"`` or ``"Parquet"``),
        ``n_rows``, ``n_columns``, ``renamed`` (list of (name, new name) for repeated header
        names); text adds ``delimiter`` (its name), ``decimal`` (``"."`` or ``","``) and
        ``encoding``; a workbook adds ``sheet`` (the sheet read) and ``sheets`` (all of them)

    Raises
    ------
    TableFileError
        Empty, binary, a format that is not accepted, ragged (rows with a different number of
        fields than the header), unparsable, too wide, a sheet that does not exist, or a header
        without data rows.

    Examples
    --------
    >>> frame, info = parse_table(b"x, x,y\\n1,2,3\\n")
    >>> list(frame.columns), info["renamed"]
    (['x', 'x.1', 'y'], [('x', 'x.1')])
    """
    if data is None or len(data) == 0 or not data.strip():
        raise TableFileError(f"{name} is empty; use a CSV/TSV file with a header row and data rows")
    kind = detect_format(data, name=name)
    if sheet is not None and kind != "xlsx":
        raise TableFileError(
            f"{name} is a {FORMAT_NAMES[kind]} file, not an Excel workbook: it has no sheets; "
            "leave out the sheet (--sheet)"
        )
    if kind == "xlsx":
        frame, info = read_xlsx(data, name=name, sheet=sheet)
    elif kind == "parquet":
        frame, info = read_parquet(data, name=name)
    else:
        frame, info = _parse_text(data, name=name)
    if frame.shape[0] == 0:
        raise TableFileError(f"{name} has a header but no data rows; add data rows below it")
    info.update(n_rows=int(frame.shape[0]), n_columns=int(frame.shape[1]))
    return frame, info


def _parse_text(data: bytes, *, name: str) -> tuple[pd.DataFrame, dict]:
    """CSV/TSV bytes -> (frame, info); parse_table's text branch."""
    text, encoding = decode_bytes(data, name=name)
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []  # (line number where the row ends, fields) of the non-blank rows
    header_end = 0  # lines up to the end of the header
    try:
        for fields in reader:
            if not any(cell.strip() for cell in fields):
                continue
            if not rows:
                header_end = reader.line_num
                # Before anything else is parsed: a very wide table is slow in every later step.
                if len(fields) > MAX_COLUMNS:
                    raise _too_wide(name, len(fields))
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise TableFileError(
                f"{name} has a field longer than {csv.field_size_limit():,} characters (line "
                f'{reader.line_num}); that is usually a quote (") that opens a field and is '
                "never closed, or a file that is not a table: check the quoting and the "
                "delimiter"
            ) from None
        raise TableFileError(
            f"{name} is not a readable CSV/TSV table ({' '.join(str(exc).split())}, line "
            f"{reader.line_num}); check the quoting and save the file again"
        ) from None
    if not rows:
        raise TableFileError(f"{name} has no rows; use a CSV/TSV file with a header and data rows")
    if len(rows) == 1:
        raise TableFileError(f"{name} has a header but no data rows; add data rows below it")
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
    # Our own unique names, and pandas reads only the rows below the header: its own renaming
    # of repeated names takes time that grows with the square of the number of columns.
    names, renamed = column_names(rows[0][1])
    body = "".join(itertools.islice(io.StringIO(text), header_end, None))
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            sep=delimiter,
            decimal=decimal,
            header=None,
            names=names,
            index_col=False,
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
    info = {
        "format": FORMAT_NAMES["text"],
        "delimiter": _DELIMITER_NAMES[delimiter],
        "decimal": decimal,
        "encoding": encoding,
        "renamed": renamed,
    }
    return numeric_to_float(frame), info


def read_table(
    data: bytes,
    *,
    name: str = "the file",
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    sheet=None,
) -> tuple[pd.DataFrame, dict]:
    """Parse a CSV/TSV, Excel (.xlsx) or Parquet file into a DataFrame to fit a mixture to.

    :func:`parse_table`, plus a size limit, at least two data rows, at least one numeric column
    that is not constant, and no infinite value in a numeric column.

    Parameters
    ----------
    data : bytes
    name : str
        Shown in error messages.
    max_bytes : int or None
        Files larger than this are refused.
    sheet : str, int or None
        Excel workbooks only: the sheet's name or 0-based position (default: the first sheet).

    Returns
    -------
    frame : DataFrame of shape (n_rows, n_columns) (missing values as NaN)
    info : dict, as :func:`parse_table`'s

    Raises
    ------
    TableFileError
        As :func:`parse_table`, and: too large, a single data row, no numeric column, or an
        infinite value (``inf``, ``-inf``, ``Infinity``) in a numeric column (the message names
        the column and the first data row).
    """
    if data is None or len(data) == 0 or not data.strip():
        raise TableFileError(f"{name} is empty; use a CSV/TSV file with a header row and data rows")
    if max_bytes is not None and len(data) > max_bytes:
        raise TableFileError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; "
            "use a sample of the rows, or keep only the columns you need"
        )
    frame, info = parse_table(data, name=name, sheet=sheet)
    try:
        _check_fittable(frame, name)
    except TableFileError as exc:
        sheets = info.get("sheets") or []
        if len(sheets) > 1:  # the data may well be on another sheet: say which there are
            listing = ", ".join(f"'{s}'" for s in sheets)
            raise TableFileError(
                f"{exc} (sheet '{info['sheet']}' was read; the workbook's sheets: {listing}: "
                "choose another one)"
            ) from None
        raise
    return frame, info


def _check_fittable(frame: pd.DataFrame, name: str) -> None:
    if frame.shape[0] < 2:
        raise TableFileError(
            f"{name} has {frame.shape[0]} data row(s); a mixture needs at least 2 rows "
            "(and realistically dozens): add more data"
        )
    _refuse_infinite(frame, name)
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


def _refuse_infinite(frame: pd.DataFrame, name: str) -> None:
    # Refused rather than read as missing: "inf" is a value, and a silently dropped row changes
    # the fit (scikit-learn and mclust refuse infinite input too).
    found = []
    for c in frame.columns:
        if _is_number_column(frame[c]) and pd.api.types.is_float_dtype(frame[c].dtype):
            inf = np.isinf(frame[c].to_numpy(dtype=np.float64, na_value=np.nan))
            if inf.any():
                found.append((c, int(inf.sum()), int(np.flatnonzero(inf)[0]) + 1))
    if found:
        c, n, first = found[0]
        more = f" (and in {len(found) - 1} other column(s))" if len(found) > 1 else ""
        raise TableFileError(
            f"{name} has infinite values (inf) in column '{c}': {n} row(s), first at data row "
            f"{first}{more}; a mixture needs finite numbers: replace them, or empty those cells "
            "to mark them missing"
        )


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
