"""CSV output that opens safely in a spreadsheet (OWASP "CSV injection").

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
one that starts with a tab or a carriage return may be read as one after the whitespace is
skipped. Our CSVs copy the user's input columns (labels, task names, free text), so a cell such
as ``=HYPERLINK("http://evil", "x")`` would become a live formula in whoever opens the export.
OWASP's advice: prefix such text cells with a single quote, which spreadsheets show as text.

Numbers are left alone: a float or integer column is written as numbers, and a text cell that
is a negative number as a CSV writes one (``-1.5``, ``-1e-3``) stays one, so a negative value
still sorts and sums. Text such as ``+1`` or ``-1+2`` is not a number a CSV writer produces
and is escaped.
The command line (``predict --with-input``) and the dashboard's downloads both call
:func:`escape_frame` (or :func:`to_safe_csv`), so the rule lives in one place.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "escape_cell", "escape_frame", "is_risky", "to_safe_csv"]

# The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# A negative decimal number as a CSV writer writes one: minus, digits, optional fraction and
# exponent. "-1+2" is not a number, and "+1" (text with a plus) is escaped as OWASP advises.
_NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_risky(value) -> bool:
    """Whether ``value`` is text a spreadsheet could run as a formula.

    Examples
    --------
    >>> [is_risky(v) for v in ["=1+2", "@cmd", "-1+2", "-1.5", "+1", "abc", -4, "\\tx"]]
    [True, True, True, False, True, False, False, True]
    """
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and _NUMBER.fullmatch(value) is None
    )


def escape_cell(value):
    """``value`` with a single quote in front when :func:`is_risky`, else unchanged.

    Examples
    --------
    >>> escape_cell('=HYPERLINK("http://x")'), escape_cell("-2"), escape_cell(-2.5)
    ('\\'=HYPERLINK("http://x")', '-2', -2.5)
    """
    return "'" + value if is_risky(value) else value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose risky text cells (and column names) are escaped.

    Only object and string columns are looked at, so numeric columns cost nothing and stay
    numeric; a column with nothing to escape is not copied.
    """
    out = frame
    for j in range(frame.shape[1]):
        series = frame.iloc[:, j]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        risky = series.map(is_risky, na_action="ignore").fillna(False).astype(bool)
        if risky.any():
            if out is frame:
                out = frame.copy()
            escaped = series.astype(object).where(~risky, "'" + series[risky].astype(str))
            out.isetitem(j, escaped)
    if any(is_risky(str(c)) for c in out.columns):
        out = out.set_axis([escape_cell(str(c)) for c in out.columns], axis=1)
    return out


def to_safe_csv(frame: pd.DataFrame, path_or_buf=None, **kwargs):
    """``frame.to_csv(path_or_buf, **kwargs)`` after :func:`escape_frame`."""
    return escape_frame(frame).to_csv(path_or_buf, **kwargs)
