"""The one table reader (gmmcore.io.tables): Excel workbooks, Parquet, the format told from the
content, clear errors for every other format, and the CSV edge cases of the reliability issue
(infinite values, repeated names, very wide and very long lines, nullable integers)."""

from __future__ import annotations

import gzip
import io
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from gmmcore.io import table_formats
from gmmcore.io.tables import (
    MAX_COLUMNS,
    TableFileError,
    numeric_columns,
    parse_table,
    prepare_features,
    read_table,
)

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("pyarrow")


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    """A workbook with one sheet per item (name -> rows, the first row the header)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


NOTES = [["About this workbook"], ["the data is on the next sheet"]]
DATA = [["x", "y", "kind"]] + [[i * 0.5, (i * 7) % 5, "ab"[i % 2]] for i in range(10)]


# -- Excel -------------------------------------------------------------------------------------
def test_excel_first_sheet_is_read_by_default():
    frame, info = read_table(xlsx_bytes({"Data": DATA, "Notes": NOTES}), name="'w.xlsx'")
    assert info["format"] == "Excel workbook" and info["sheet"] == "Data"
    assert info["sheets"] == ["Data", "Notes"]
    assert list(frame.columns) == ["x", "y", "kind"] and frame.shape == (10, 3)
    assert numeric_columns(frame) == ["x", "y"]
    assert frame["kind"].tolist()[:2] == ["a", "b"]


@pytest.mark.parametrize("sheet", ["Data", 1])
def test_excel_sheet_chosen_by_name_or_position(sheet):
    frame, info = read_table(xlsx_bytes({"Notes": NOTES, "Data": DATA}), sheet=sheet)
    assert info["sheet"] == "Data" and frame.shape == (10, 3)


def test_excel_unknown_sheet_lists_the_sheets():
    with pytest.raises(TableFileError, match=r"no sheet 'Dat'; its sheets: 'Notes', 'Data'"):
        read_table(xlsx_bytes({"Notes": NOTES, "Data": DATA}), sheet="Dat")


def test_excel_first_sheet_without_data_points_to_the_other_sheets():
    with pytest.raises(TableFileError, match=r"sheet 'Notes' was read; the workbook's sheets"):
        read_table(xlsx_bytes({"Notes": NOTES, "Data": DATA}))


def test_excel_empty_sheet_is_a_clear_error():
    with pytest.raises(
        TableFileError, match="sheet 'Empty' of 'w.xlsx' is empty; .*sheets: 'Empty', 'Data'"
    ):
        read_table(xlsx_bytes({"Empty": [], "Data": DATA}), name="'w.xlsx'")


def test_excel_numbers_stored_as_text_and_error_cells_and_blank_rows():
    rows = [
        ["  a ", "b", None],
        [1, "2.5", None],
        [None, None, None],  # a blank row in the middle is skipped
        ["#DIV/0!", "3", None],
        [4, "NA", None],
        [5, 6, None],
    ]
    frame, _ = read_table(xlsx_bytes({"S": rows}))
    assert list(frame.columns) == ["a", "b"]  # the empty third column is not a column
    np.testing.assert_array_equal(frame["a"].to_numpy(), [1.0, np.nan, 4.0, 5.0])
    np.testing.assert_array_equal(frame["b"].to_numpy(), [2.5, 3.0, np.nan, 6.0])


def test_excel_whole_numbers_stay_integers_and_dates_are_dates():
    import datetime as dt

    rows = [["n", "when", "v"]] + [[i, dt.date(2024, 1, i + 1), i * 1.5] for i in range(3)]
    frame, _ = parse_table(xlsx_bytes({"S": rows}))
    assert frame["n"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(frame["when"])
    assert numeric_columns(frame) == ["n", "v"]


def test_excel_repeated_header_names_are_renamed_as_in_csv():
    rows = [["x", " x", "y"], [1, 2, 3], [4, 5, 7]]
    frame, info = read_table(xlsx_bytes({"S": rows}))
    assert list(frame.columns) == ["x", "x.1", "y"]
    assert info["renamed"] == [("x", "x.1")]


def test_damaged_workbook_is_a_clear_error():
    data = xlsx_bytes({"Data": DATA})
    with pytest.raises(TableFileError, match="damaged"):
        read_table(data[: len(data) // 2], name="'w.xlsx'")


def test_workbook_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(table_formats, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(TableFileError, match="unpacks to"):
        read_table(xlsx_bytes({"Data": DATA}))


def test_sheet_for_a_csv_is_an_error():
    with pytest.raises(TableFileError, match="not an Excel workbook: it has no sheets"):
        read_table(b"a,b\n1,2\n3,4\n", sheet="Data")


# -- Parquet -----------------------------------------------------------------------------------
def test_parquet_is_read():
    src = pd.DataFrame({"x": np.arange(6) * 0.5, "y": [1, 3, 2, 5, 4, 6], "kind": list("ababab")})
    frame, info = read_table(parquet_bytes(src), name="'t.parquet'")
    assert info["format"] == "Parquet" and info["n_rows"] == 6
    pd.testing.assert_frame_equal(frame, src)


def test_nullable_integers_with_missing_values_are_numeric():
    """An Int64 column with NA (pandas' nullable integers) is a numeric feature (float64, NaN)."""
    src = pd.DataFrame(
        {"a": pd.array([1, 2, None, 4, 7], dtype="Int64"), "b": [0.5, 1.5, 2.0, 3.5, 1.0]}
    )
    frame, _ = read_table(parquet_bytes(src))
    assert frame["a"].dtype == np.float64 and np.isnan(frame["a"][2])
    assert numeric_columns(frame) == ["a", "b"]
    prep = prepare_features(frame, ["a", "b"])
    assert prep.n_dropped == 1 and prep.X.dtype == np.float64


def test_parquet_decimals_and_named_index_become_columns():
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"price": pa.array([Decimal("1.50"), Decimal("2.25"), None], pa.decimal128(5, 2))}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    frame, _ = parse_table(buf.getvalue())
    np.testing.assert_array_equal(frame["price"].to_numpy(), [1.5, 2.25, np.nan])
    src = pd.DataFrame({"v": [1.0, 2.0, 4.0]}, index=pd.Index(["a", "b", "c"], name="id"))
    frame, _ = parse_table(parquet_bytes(src))
    assert list(frame.columns) == ["id", "v"]


def test_damaged_parquet_is_a_clear_error():
    data = parquet_bytes(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(TableFileError, match="cannot be read as a Parquet file"):
        read_table(data[:-20])


# -- the format comes from the content -----------------------------------------------------------
def test_format_is_told_by_content_not_name():
    frame, info = read_table(xlsx_bytes({"Data": DATA}), name="'renamed.csv'")
    assert info["format"] == "Excel workbook" and frame.shape == (10, 3)
    frame, info = read_table(b"a,b\n1,2\n3,5\n", name="'really_text.xlsx'")
    assert info["format"] == "CSV/TSV text" and frame.shape == (2, 2)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, content in members.items():
            z.writestr(n, content)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "Excel 97-2003 .xls"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
        (_zip({"data.csv": b"a,b\n1,2\n"}), "a zip archive, not an Excel workbook"),
        (_zip({"word/document.xml": b"<w/>"}), "a Word document"),
        (_zip({"xl/workbook.bin": b"\x00"}), "binary Excel workbook (.xlsb)"),
        (
            _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
            "OpenDocument spreadsheet",
        ),
        (gzip.compress(b"a,b\n1,2\n3,4\n"), "gzip-compressed"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "a PNG image"),
        (b"<!DOCTYPE html><html><table><tr><td>1</td></tr></table>", "HTML or XML document"),
        (b'{"format": "gmmcore.model", "version": 1}', "is JSON"),
        (b"PK\x03\x04 truncated", "damaged zip archive"),
    ],
)
def test_formats_that_are_not_accepted_say_what_they_are_and_what_is(data, words):
    with pytest.raises(TableFileError, match="accepted formats: CSV/TSV text") as info:
        read_table(data, name="'f'")
    assert words in str(info.value)


# -- CSV edge cases ------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["inf", "-inf", "Infinity", "-Infinity", "+inf"])
def test_infinite_values_are_refused_naming_the_column_and_row(spelling):
    data = f"a,b\n1,2\n3,{spelling}\n5,6\n".encode()
    with pytest.raises(TableFileError, match=r"infinite values \(inf\) in column 'b'.*data row 2"):
        read_table(data, name="'f.csv'")


def test_infinite_values_are_refused_in_semicolon_files_with_decimal_commas():
    with pytest.raises(TableFileError, match="column 'y'"):
        read_table(b"x;y\n1,5;2,5\n3,5;inf\n4,0;1,0\n")


def test_infinite_values_are_kept_by_parse_table_for_predict():
    # predict labels the rows it can and says which cannot be used (its own check).
    frame, _ = parse_table(b"a,b\n1,2\n3,inf\n")
    assert np.isinf(frame["b"][1])


def test_repeated_header_names_after_stripping_are_renamed():
    frame, info = read_table(b"x, x,y\n1,2,3\n4,5,7\n", name="'f.csv'")
    assert list(frame.columns) == ["x", "x.1", "y"]
    assert frame["x.1"].tolist() == [2, 5]
    assert info["renamed"] == [("x", "x.1")]


def test_renaming_never_takes_a_name_that_is_in_the_header():
    frame, _ = parse_table(b"x,x,x.1,,\n1,2,3,4,5\n")
    assert list(frame.columns) == ["x", "x.2", "x.1", "Unnamed: 3", "Unnamed: 4"]


def test_one_line_of_repeated_separators_is_refused_quickly():
    """200 KB of 'x,' used to take minutes (renaming 100,000 columns called x)."""
    start = time.perf_counter()
    with pytest.raises(TableFileError, match=f"over the limit of {MAX_COLUMNS:,}"):
        read_table(b"x," * 100_000 + b"\n")
    assert time.perf_counter() - start < 5.0


def test_wide_table_at_the_limit_is_read_quickly():
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS)).encode()
    body = b"\n".join(
        ",".join(str((i * j) % 7) for j in range(MAX_COLUMNS)).encode() for i in range(3)
    )
    start = time.perf_counter()
    frame, _ = read_table(header + b"\n" + body + b"\n")
    assert frame.shape == (3, MAX_COLUMNS)
    assert time.perf_counter() - start < 10.0


def test_two_megabyte_line_is_a_clear_error():
    with pytest.raises(TableFileError, match="field longer than 131,072 characters"):
        read_table(b"a" * 2_000_000 + b"\n", name="'f.csv'")


def test_unclosed_quote_is_a_clear_error():
    data = b'a,b\n1,"2\n' + b"3,4\n" * 40_000
    with pytest.raises(TableFileError, match="never closed"):
        read_table(data)
