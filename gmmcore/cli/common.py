"""What every command shares: reading the data file, choosing the feature columns, and turning
any failure into one line on stderr with exit status 2.

Files (CSV/TSV, Excel .xlsx with ``--sheet``, Parquet) are read by :mod:`gmmcore.io.tables`, the
same reader as the dashboard's upload: ``fit``
and ``select`` through :func:`~gmmcore.io.tables.read_table` (at least two data rows and a numeric
column that varies), ``predict`` through :func:`~gmmcore.io.tables.parse_table` (any number of
rows). Features default to every numeric column that varies, except the task column. Rows with a
missing value in a used column are skipped with a note on stderr, or are an error with
``--on-missing error``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.tables import TableFileError, numeric_columns, parse_table, read_table

__all__ = [
    "CLI_PROG",
    "CliError",
    "check_finite",
    "choose_columns",
    "em_settings",
    "is_numeric",
    "load_features",
    "missing_mask",
    "print_error",
    "read_data",
    "run_command",
]


def _program_name() -> str:
    # The installed console script is called `gmmcore`; from a checkout it is run as a module.
    return (
        "gmmcore" if Path(sys.argv[0]).name in ("gmmcore", "gmmcore.exe") else ("python -m gmmcore")
    )


CLI_PROG = _program_name()


class CliError(ValueError):
    """A bad input; the message already says what is wrong and how to fix it."""


# -- reading -------------------------------------------------------------------------------------
def read_data(path, *, for_fitting: bool = True, sheet: str | None = None) -> pd.DataFrame:
    """Read the CSV/TSV, Excel (.xlsx) or Parquet file at ``path`` with :mod:`gmmcore.io.tables`.

    ``for_fitting`` adds :func:`~gmmcore.io.tables.read_table`'s checks (two data rows, a numeric
    column that varies, no infinite value); without it any table with a header and a data row
    will do. ``sheet`` picks a workbook's sheet by name (default: the first). There is no size
    limit: that one is for uploads to the dashboard. Repeated column names are renamed (``x``,
    ``x.1``) with a note on stderr. Raises CliError.
    """
    name = f"'{path}'"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError(f"data file {name} does not exist; check the path") from None
    except IsADirectoryError:
        raise CliError(f"{name} is a directory, not a data file; give the path of a file") from None
    except OSError as exc:
        raise CliError(
            f"cannot read {name}: {exc.strerror}; check the path and its permissions"
        ) from None
    try:
        if for_fitting:
            frame, info = read_table(data, name=name, max_bytes=None, sheet=sheet)
        else:
            frame, info = parse_table(data, name=name, sheet=sheet)
    except TableFileError as exc:
        raise CliError(str(exc)) from None
    renamed = info.get("renamed") or []
    if renamed:
        shown = ", ".join(f"'{new}'" for _, new in renamed[:5]) + (
            ", ..." if len(renamed) > 5 else ""
        )
        print(
            f"note: {name} repeats column names; the repeats are called {shown}",
            file=sys.stderr,
        )
    return frame


def is_numeric(series: pd.Series) -> bool:
    """A numeric, non-boolean column (constant or not)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def choose_columns(
    frame: pd.DataFrame, columns: str | None, task_column: str | None, name: str
) -> list[str]:
    """The feature columns: ``--columns`` checked against ``frame``, or by default every numeric
    column that varies (:func:`~gmmcore.io.tables.numeric_columns`) except the task column."""
    available = list(frame.columns)
    listing = ", ".join(available)
    if task_column is not None and task_column not in available:
        raise CliError(
            f"task column '{task_column}' is not in '{name}'; available columns: {listing}"
        )
    if columns is None:
        chosen = [c for c in numeric_columns(frame) if c != task_column]
        if not chosen:
            raise CliError(
                f"'{name}' has no numeric columns that vary besides the task column (columns: "
                f"{listing}); check the delimiter and the decimal separator, and that the first "
                "row is the header"
            )
        return chosen
    chosen = [c.strip() for c in columns.split(",") if c.strip()]
    if not chosen:
        raise CliError(f"--columns is empty; name columns separated by commas, from: {listing}")
    for c in chosen:
        if c not in available:
            raise CliError(f"column '{c}' is not in '{name}'; available columns: {listing}")
    if len(set(chosen)) != len(chosen):
        raise CliError("--columns names a column twice; name each column once")
    if task_column in chosen:
        raise CliError(f"'{task_column}' is the task column; leave it out of --columns")
    for c in chosen:
        if not is_numeric(frame[c]):
            values = frame[c].dropna()
            example = f" (e.g. {values.iloc[0]!r})" if len(values) else ""
            numeric = ", ".join(x for x in available if is_numeric(frame[x])) or "none"
            raise CliError(
                f"column '{c}' is not numeric{example}; choose numeric columns: {numeric}"
            )
    return chosen


def missing_mask(
    frame: pd.DataFrame, used: list[str], on_missing: str, name: str, action: str
) -> np.ndarray:
    """Rows with a missing value in ``used``: an error, or a note on stderr."""
    missing = frame[used].isna()
    bad = missing.any(axis=1).to_numpy()
    if bad.any():
        cols = [c for c in used if missing[c].any()]
        first = int(np.flatnonzero(bad)[0]) + 1
        if on_missing == "error":
            raise CliError(
                f"{int(bad.sum())} row(s) of '{name}' have missing values in "
                f"{', '.join(cols)} (first at data row {first}); fill or remove them, or pass "
                "--on-missing skip"
            )
        print(
            f"note: {action} {int(bad.sum())} of {len(bad)} row(s) with missing values in "
            f"{', '.join(cols)}",
            file=sys.stderr,
        )
    return bad


def check_finite(frame: pd.DataFrame, names: list[str]) -> None:
    """Raise CliError when a column of ``names`` holds an infinite value."""
    for c in names:
        values = frame[c].to_numpy(dtype=np.float64)
        inf = np.isinf(values)
        if inf.any():
            raise CliError(
                f"column '{c}' has infinite values in {int(inf.sum())} row(s) (first at data "
                f"row {int(np.flatnonzero(inf)[0]) + 1}); fix or remove those rows"
            )


def load_features(args) -> tuple[pd.DataFrame, list[str], np.ndarray | None]:
    """Read ``args.data``, choose columns, skip incomplete rows.

    Returns (complete frame, feature names, tasks as str or None).
    """
    frame = read_data(args.data, sheet=getattr(args, "sheet", None))
    task_column = getattr(args, "task_column", None)
    names = choose_columns(frame, args.columns, task_column, args.data)
    used = names + ([task_column] if task_column else [])
    bad = missing_mask(frame, used, args.on_missing, args.data, "skipped")
    frame = frame.loc[~bad].reset_index(drop=True)
    if frame.shape[0] == 0:
        raise CliError(
            f"no row of '{args.data}' is complete in {', '.join(used)}; choose other columns "
            "with --columns"
        )
    check_finite(frame, names)
    tasks = frame[task_column].astype(str).to_numpy() if task_column else None
    return frame, names, tasks


# -- one line on stderr --------------------------------------------------------------------------
def _one_line(text) -> str:
    return " ".join(str(text).split())


def print_error(message: str) -> None:
    """``error: <message>`` on one line of stderr."""
    print(f"error: {_one_line(message)}", file=sys.stderr)


def run_command(func: Callable, args) -> int:
    """Run a command; every failure becomes one line on stderr and exit status 2 (130 for
    Ctrl-C), never a traceback (unless GMMCORE_DEBUG is set, for bugs)."""
    try:
        return int(func(args) or 0)
    except BrokenPipeError:  # e.g. `... | head`: the reader left, nothing to report
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 0
    except (ValueError, OSError) as exc:
        message = _one_line(exc)
        if isinstance(exc, OSError) and exc.strerror:
            where = f" '{exc.filename}'" if exc.filename else ""
            message = f"cannot access{where}: {exc.strerror}; check the path and permissions"
        print_error(message)
        return 2
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Exception as exc:  # a bug: still one line, with what to report
        if os.environ.get("GMMCORE_DEBUG"):
            raise
        print_error(
            f"internal error ({type(exc).__name__}: {_one_line(exc)}); please report it (set "
            "GMMCORE_DEBUG=1 to see the traceback)"
        )
        return 2


def em_settings(args) -> dict:
    """The EM settings every command passes on (restarts, seed, tol and its convergence rule,
    reg_covar, max_iter, and the prior when ``--prior default``)."""
    settings = dict(
        n_init=args.n_init,
        random_state=args.seed,
        tol=args.tol,
        convergence=args.convergence,
        reg_covar=args.reg_covar,
        max_iter=args.max_iter,
    )
    if getattr(args, "prior", "none") != "none":
        settings["prior"] = args.prior
    return settings
