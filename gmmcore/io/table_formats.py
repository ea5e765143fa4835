"""The binary table formats and what every format shares: recognising a file by its content,
reading Excel workbooks (.xlsx, with openpyxl) and Parquet files (with pyarrow), and turning a
header into column names.

:mod:`gmmcore.io.tables` is the entry point (``parse_table``, ``read_table``); this module holds
the parts that are not CSV. The format is told by the file's first bytes (its "magic number"),
not by its name: a CSV saved as ``data.xlsx`` is read as the CSV it is, and a workbook renamed
``data.csv`` as the workbook it is. Every format that is not accepted gets a message that names
what the file is (an old ``.xls``, a PDF, a zip archive, ...) and lists the accepted formats.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile

import numpy as np
import pandas as pd

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "ACCEPTED_FORMATS",
    "EXCEL_ERRORS",
    "FORMAT_NAMES",
    "MAX_COLUMNS",
    "MAX_UNPACKED_BYTES",
    "NA_VALUES",
    "TableFileError",
    "column_names",
    "detect_format",
    "excel_sheet_names",
    "numeric_to_float",
    "read_parquet",
    "read_xlsx",
]

# A table wider than this is refused before it is parsed: pandas builds wide frames (and
# de-duplicates their names) in time that grows with the square of the width, a 200 KB line of
# "x," took minutes, and no mixture is fitted on thousands of columns.
MAX_COLUMNS = 5_000
# An .xlsx is a zip archive: its unpacked size is bounded so a small "zip bomb" cannot fill the
# memory. Real workbooks unpack to about 5-10 times their size.
MAX_UNPACKED_BYTES = 1024**3
ACCEPTED_EXTENSIONS = ("csv", "tsv", "txt", "xlsx", "parquet")
ACCEPTED_FORMATS = (
    "accepted formats: CSV/TSV text (.csv, .tsv, .txt), Excel workbooks (.xlsx) and Parquet "
    "files (.parquet)"
)
# The spellings of a missing value, in every format (besides an empty cell).
NA_VALUES = ("NA", "N/A", "nan", "NaN", "", "?", "null", "NULL")
FORMAT_NAMES = {"text": "CSV/TSV text", "xlsx": "Excel workbook", "parquet": "Parquet"}
# The error values a spreadsheet stores in a cell whose formula failed: missing values.
EXCEL_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Binary formats people upload by mistake: (magic prefix, what it is, what to do).
_OTHER_MAGIC = (
    (_OLE2, "an old-style Office file (Excel 97-2003 .xls, or a password-protected workbook)",
     "open it in Excel or LibreOffice and save it as .xlsx (without a password) or as CSV"),
    (b"%PDF", "a PDF document", "export the table from the program that made it as CSV"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"ARROW1", "an Arrow/Feather file", "save it as Parquet or CSV"),
    (b"\x89HDF", "an HDF5 file", "save the table as Parquet or CSV"),
    (b"SQLite format 3", "an SQLite database", "export the table as CSV"),
    (b"\x89PNG", "a PNG image", "upload the data file, not a picture of it"),
    (b"\xff\xd8\xff", "a JPEG image", "upload the data file, not a picture of it"),
    (b"GIF8", "a GIF image", "upload the data file, not a picture of it"),
    (b"{\\rtf", "an RTF document", "save the table as CSV"),
)  # fmt: skip
_MARKUP = re.compile(rb"\s*<(?:!doctype|html|\?xml|table)", re.IGNORECASE)
_JSON = re.compile(rb"\s*(?:\{\s*\"|\[\s*[\{\[])")
# A number stored as text in a spreadsheet cell (Excel's green triangle); no "1_000", no "0x1".
_NUMBER_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?", re.I)


class TableFileError(ValueError):
    """A table file cannot be used; the message says why and what to do."""


# -- which format --------------------------------------------------------------------------------
def detect_format(data: bytes, *, name: str = "the file") -> str:
    """``"xlsx"``, ``"parquet"`` or ``"text"`` (CSV/TSV, checked further when decoded), from the
    first bytes of ``data``.

    Raises TableFileError naming what the file is when it is none of the accepted formats (an
    ``.xls``, a PDF, a zip archive that is not a workbook, an image, HTML, JSON, ...).
    """
    head = bytes(data[:16])
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data, name)
    for magic, what, todo in _OTHER_MAGIC:
        if head.startswith(magic):
            raise TableFileError(f"{name} is {what}, not a table file; {todo} ({ACCEPTED_FORMATS})")
    start = bytes(data[:512]).lstrip(b"\xef\xbb\xbf")
    if _MARKUP.match(start):
        raise TableFileError(
            f"{name} is an HTML or XML document, not a table file (a web page's 'export to "
            f"Excel' often is one); open it in Excel or LibreOffice and save it as .xlsx or CSV "
            f"({ACCEPTED_FORMATS})"
        )
    if _JSON.match(start):
        raise TableFileError(
            f"{name} is JSON, not a table file; convert it to CSV first (a model file goes to "
            f"'predict' or the Export page, not here) ({ACCEPTED_FORMATS})"
        )
    return "text"


def _zip_kind(data: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
            mimetype = archive.read("mimetype")[:80] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TableFileError(
            f"{name} is a damaged zip archive or Excel workbook (it cannot be opened); download "
            f"or save it again ({ACCEPTED_FORMATS})"
        ) from None
    if "xl/workbook.xml" in names:
        if unpacked > MAX_UNPACKED_BYTES:
            raise TableFileError(
                f"{name} unpacks to {unpacked / 1e9:.1f} GB, over the "
                f"{MAX_UNPACKED_BYTES / 1e9:.0f} GB limit for Excel workbooks; save the sheet "
                "you need as CSV or Parquet"
            )
        return "xlsx"
    if "xl/workbook.bin" in names:
        what, todo = "a binary Excel workbook (.xlsb)", "save it as .xlsx or CSV in Excel"
    elif b"opendocument.spreadsheet" in mimetype:
        what, todo = "an OpenDocument spreadsheet (.ods)", "save it as .xlsx or CSV"
    elif any(n.startswith("word/") for n in names):
        what, todo = "a Word document", "copy the table into a spreadsheet and save it as CSV"
    elif any(n.startswith("ppt/") for n in names):
        what, todo = "a PowerPoint file", "copy the table into a spreadsheet and save it as CSV"
    else:
        what, todo = "a zip archive, not an Excel workbook", "unzip it and use the table inside"
    raise TableFileError(f"{name} is {what}; {todo} ({ACCEPTED_FORMATS})")


# -- column names and types, for every format ----------------------------------------------------
def column_names(raw) -> tuple[list[str], list[tuple[str, str]]]:
    """Header cells -> unique column names, and the renamings made.

    Names are stripped of surrounding spaces; an empty header cell becomes ``Unnamed: i``
    (``i`` its 0-based position, as pandas names it); a name seen before gets the first free
    suffix ``.1``, ``.2``, ... (``x, x ,y`` -> ``x, x.1, y``), in one pass over the header.

    Examples
    --------
    >>> column_names(["x", " x", "y", "", "x.1"])
    (['x', 'x.2', 'y', 'Unnamed: 3', 'x.1'], [('x', 'x.2')])
    """
    stripped = []
    for i, cell in enumerate(raw):
        text = _cell_text(cell).strip()
        stripped.append(text if text else f"Unnamed: {i}")
    # A later header cell may already be called "x.1": the renaming must not take its name.
    original = set(stripped)
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    names, renamed = [], []
    for text in stripped:
        if text not in taken:
            taken.add(text)
            names.append(text)
            continue
        k = next_suffix.get(text, 1)
        while f"{text}.{k}" in taken or f"{text}.{k}" in original:
            k += 1
        next_suffix[text] = k + 1
        new = f"{text}.{k}"
        taken.add(new)
        names.append(new)
        renamed.append((text, new))
    return names, renamed


def _cell_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, (_dt.date, _dt.time)):
        return cell.isoformat()
    return str(cell)


def numeric_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable numeric columns (pandas ``Int64``, ``Float64``, ..., pyarrow-backed numbers) as
    float64 with NaN for missing values, so every reader of the frame (numpy, the engine's
    validation, Plotly) sees plain numbers; other columns are left as they are."""
    for c in frame.columns:
        dtype = frame[c].dtype
        if (
            isinstance(dtype, pd.api.extensions.ExtensionDtype)
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        ):
            frame[c] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
    return frame


def _too_wide(name: str, n_columns: int) -> TableFileError:
    return TableFileError(
        f"{name} has {n_columns:,} columns, over the limit of {MAX_COLUMNS:,}; keep only the "
        "columns you need (or check the delimiter: a one-line file of separators looks this wide)"
    )


# -- Excel ---------------------------------------------------------------------------------------
def _open_workbook(data: bytes, name: str):
    try:
        import openpyxl
    except ImportError:  # a runtime dependency; only a hand-made environment lacks it
        raise TableFileError(
            f"{name} is an Excel workbook, and reading one needs the openpyxl package: "
            "pip install openpyxl (or save the sheet as CSV)"
        ) from None
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        detail = " ".join(str(exc).split())[:200]
        raise TableFileError(
            f"{name} cannot be read as an Excel workbook ({type(exc).__name__}: {detail}); open "
            "it in Excel or LibreOffice and save it again as .xlsx, or as CSV"
        ) from None


def excel_sheet_names(data: bytes, *, name: str = "the file") -> list[str]:
    """The sheet names of an .xlsx workbook, in the workbook's order ([] for other formats)."""
    if detect_format(data, name=name) != "xlsx":
        return []
    wb = _open_workbook(data, name)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def read_xlsx(data: bytes, *, name: str = "the file", sheet=None) -> tuple[pd.DataFrame, dict]:
    """One sheet of an .xlsx workbook as a DataFrame.

    The first non-empty row is the header; empty rows are skipped; empty cells, the strings of
    ``NA_VALUES`` and spreadsheet error values (``#DIV/0!``, ``#N/A``, ...) are missing;
    a column of numbers (numbers stored as text included) is float64 (int64 when whole and
    complete), one of dates is datetime64, anything else is text.

    Parameters
    ----------
    data : bytes
    name : str
        Shown in error messages.
    sheet : str, int or None
        The sheet's name, or its 0-based position; None: the first sheet.

    Returns
    -------
    frame : DataFrame
    info : dict with ``format``, ``sheet`` (the sheet read), ``sheets`` (all sheet names),
        ``renamed`` (list of (name, new name) for duplicate header names)
    """
    wb = _open_workbook(data, name)
    try:
        sheets = list(wb.sheetnames)
        listing = ", ".join(f"'{s}'" for s in sheets)
        if sheet is None:
            title = sheets[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(sheets):
                raise TableFileError(
                    f"{name} has {len(sheets)} sheet(s), no sheet number {sheet}; its sheets: "
                    f"{listing}"
                )
            title = sheets[sheet]
        elif str(sheet) in sheets:
            title = str(sheet)
        else:
            raise TableFileError(
                f"{name} has no sheet '{sheet}'; its sheets: {listing} (names are case-sensitive)"
            )
        ws = wb[title]
        if not hasattr(ws, "iter_rows"):
            raise TableFileError(
                f"sheet '{title}' of {name} is a chart, not a table; its sheets: {listing}"
            )
        # The stored dimensions can claim a million empty rows or columns (formatting): read the
        # cells that exist instead.
        ws.reset_dimensions()
        rows = []
        for row in ws.iter_rows(values_only=True):
            cells = list(row)
            while cells and _is_blank(cells[-1]):
                cells.pop()
            if not cells:
                continue
            if len(cells) > MAX_COLUMNS:
                raise _too_wide(f"sheet '{title}' of {name}", len(cells))
            rows.append(cells)
    finally:
        wb.close()
    others = f" (the workbook's sheets: {listing}: choose another one)" if len(sheets) > 1 else ""
    if not rows:
        raise TableFileError(
            f"sheet '{title}' of {name} is empty; add a header row and data{others}"
        )
    if len(rows) == 1:
        raise TableFileError(
            f"sheet '{title}' of {name} has a header but no data rows; add data rows below it"
            f"{others}"
        )
    width = max(len(r) for r in rows)
    header = rows[0] + [None] * (width - len(rows[0]))
    names, renamed = column_names(header)
    missing = set(NA_VALUES) | set(EXCEL_ERRORS)
    body = [r + [None] * (width - len(r)) for r in rows[1:]]
    columns = {names[j]: _excel_column([r[j] for r in body], missing) for j in range(width)}
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(body)))
    info = {"format": FORMAT_NAMES["xlsx"], "sheet": title, "sheets": sheets, "renamed": renamed}
    return frame, info


def _is_blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _excel_column(values: list, missing: set) -> pd.Series:
    """Cells of one column -> a Series of the narrowest fitting type (see read_xlsx)."""
    clean = []
    for v in values:
        if isinstance(v, str):
            t = v.strip()
            if t in missing:
                v = None
            elif _NUMBER_TEXT.fullmatch(t):
                v = float(t)
            else:
                v = t
        clean.append(v)
    present = [v for v in clean if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if len(present) == len(clean) and all(isinstance(v, int) for v in present):
            return pd.Series(clean, dtype=np.int64)
        return pd.Series([np.nan if v is None else v for v in clean], dtype=np.float64)
    if present and all(isinstance(v, bool) for v in present) and len(present) == len(clean):
        return pd.Series(clean, dtype=bool)
    if present and all(isinstance(v, (_dt.datetime, _dt.date)) for v in present):
        return pd.Series(pd.to_datetime(clean, errors="coerce"))
    # Mixed or text: strings (a column of mixed Python types cannot be shown or hashed).
    return pd.Series([None if v is None else _cell_text(v) for v in clean], dtype=object)


# -- Parquet -------------------------------------------------------------------------------------
def read_parquet(data: bytes, *, name: str = "the file") -> tuple[pd.DataFrame, dict]:
    """A Parquet file as a DataFrame: decimals and nullable numbers as float64, a stored named
    index as a column, names made unique as for every format (:func:`column_names`).

    Returns (frame, info with ``format`` and ``renamed``). Raises TableFileError.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TableFileError(
            f"{name} is a Parquet file, and reading one needs the pyarrow package: "
            "pip install pyarrow (or save the table as CSV)"
        ) from None
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        n_columns = len(pf.schema_arrow.names)
        if n_columns > MAX_COLUMNS:
            raise _too_wide(name, n_columns)
        table = pf.read()
    except TableFileError:
        raise
    except Exception as exc:  # pyarrow: ArrowInvalid, OSError, ... for damaged files
        detail = " ".join(str(exc).split())[:200]
        raise TableFileError(
            f"{name} cannot be read as a Parquet file ({type(exc).__name__}: {detail}); write "
            "it again, or save the table as CSV"
        ) from None
    # Decimal columns would arrive as Python Decimal objects, which no numeric code accepts.
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
    frame = table.to_pandas()
    if not isinstance(frame.index, pd.RangeIndex):
        named = any(n is not None for n in frame.index.names)
        frame = frame.reset_index(drop=not named)
    names, renamed = column_names(frame.columns)
    frame.columns = names
    return numeric_to_float(frame), {"format": FORMAT_NAMES["parquet"], "renamed": renamed}
