"""The command line: ``python -m gmmcore fit | select | predict``.

Every bad input ends in ONE line on stderr, ``error: <what is wrong>; <how to fix it>``, and
exit status 2, never a traceback. Results go to stdout; progress and notes go to stderr.

CSV input (all three commands): the delimiter (comma, semicolon or tab) is detected from the
header line; UTF-8 (with or without BOM) is tried first, then Latin-1; ``NA``, ``NaN``, ``N/A``,
``null`` and empty cells are missing values. Features default to every numeric column except the
task column. Rows with a missing value in a used column are skipped with a note on stderr
(``--on-missing error`` makes them an error instead); ``predict`` keeps such rows in its output,
with an empty label and empty probabilities, so output row i is always input row i.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.covariance import COVARIANCE_TYPES
from ..engine.initialization import INIT_METHODS
from ..mixture import GaussianMixture
from ..io.model_file import ModelFileError, load_model, save_model
from ..multitask import MultiTaskMixture, compare_modes, fit_multitask
from ..preprocessing import Standardizer

__all__ = ["main", "build_parser", "read_csv", "CliError"]

PROG = "python -m gmmcore"
NA_VALUES = ["NA", "N/A", "NaN", "nan", "", "null", "NULL"]
_DELIMITERS = (",", ";", "\t")  # ties go to the first
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class CliError(ValueError):
    """A bad input; the message already says what is wrong and how to fix it."""


# -- argparse with one-line errors --------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line, exit 2
        message = " ".join(str(message).split())
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value}")
        return value
    return parse


def _non_negative_float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not np.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number >= 0, got {text}")
        return value
    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--test-size must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"--test-size must be a fraction strictly between 0 and 1, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"--seed must be between 0 and 2**32 - 1, got {value}")
    return value


def parse_components(text: str) -> list[int]:
    """``"1-9"`` -> [1..9]; ``"3"`` -> [3]; ``"2,4,6"`` -> [2, 4, 6]."""
    hint = "use a range like 1-9, a number like 3, or a list like 2,4,6 (all >= 1)"
    ks: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise argparse.ArgumentTypeError(
                    f"bad --components {text!r}: the range {part} runs backwards; {hint}")
            new = list(range(lo, hi + 1))
        elif part.isdigit():
            new = [int(part)]
        else:
            raise argparse.ArgumentTypeError(f"bad --components {text!r}; {hint}")
        if min(new) < 1:
            raise argparse.ArgumentTypeError(f"bad --components {text!r}: K must be >= 1; {hint}")
        ks.extend(k for k in new if k not in ks)
    return ks


def parse_covariance_types(text: str) -> list[str]:
    types = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in types if t not in COVARIANCE_TYPES]
    if bad or not types:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {bad[0] if bad else text!r}; choose from "
            f"{','.join(COVARIANCE_TYPES)}")
    return list(dict.fromkeys(types))


def _covariance_type(text: str) -> str:
    if text not in COVARIANCE_TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {text!r}; choose one of {', '.join(COVARIANCE_TYPES)}")
    return text


# -- reading data --------------------------------------------------------------------------------
def _detect_delimiter(text: str) -> str:
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: len(next(csv.reader([header], delimiter=d))) - 1 for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
    return best if counts[best] > 0 else ","


def read_csv(path) -> pd.DataFrame:
    """Read a CSV/TSV file as the command line does (see the module docstring).

    Raises CliError for a missing, unreadable, empty, binary or unparsable file.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError(f"data file '{name}' does not exist; check the path") from None
    except IsADirectoryError:
        raise CliError(f"'{name}' is a directory, not a CSV file; give the path of a file") from None
    except OSError as exc:
        raise CliError(f"cannot read '{name}': {exc.strerror}; check the path and its "
                       "permissions") from None
    if not data.strip():
        raise CliError(f"data file '{name}' is empty; give a CSV file with a header row and "
                       "data rows")
    if b"\x00" in data[:65536]:
        raise CliError(f"'{name}' looks binary, not a CSV text file; export the data as CSV "
                       "(comma-, semicolon- or tab-separated) first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sep = _detect_delimiter(text)
    # Semicolon files often use the decimal comma (3,6;79).
    decimal = "," if sep == ";" and re.search(r"\d,\d", text) else "."
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, na_values=NA_VALUES,
                            keep_default_na=True, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise CliError(
            f"'{name}' is not a readable CSV file ({detail}; delimiter detected: "
            f"{_DELIMITER_NAMES[sep]}); check that every row has as many fields as the header"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[0] == 0:
        raise CliError(f"'{name}' has a header but no data rows; add data rows")
    return frame


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _choose_columns(frame: pd.DataFrame, columns: str | None, task_column: str | None,
                    name: str) -> list[str]:
    available = list(frame.columns)
    listing = ", ".join(available)
    if task_column is not None and task_column not in available:
        raise CliError(f"task column '{task_column}' is not in '{name}'; available columns: "
                       f"{listing}")
    if columns is None:
        chosen = [c for c in available if c != task_column and _is_numeric(frame[c])]
        if not chosen:
            raise CliError(
                f"'{name}' has no numeric columns (columns: {listing}); check the delimiter "
                "and the decimal separator, and that the first row is the header")
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
        if not _is_numeric(frame[c]):
            values = frame[c].dropna()
            example = f" (e.g. {values.iloc[0]!r})" if len(values) else ""
            numeric = ", ".join(x for x in available if _is_numeric(frame[x])) or "none"
            raise CliError(f"column '{c}' is not numeric{example}; choose numeric columns: "
                           f"{numeric}")
    return chosen


def _missing_mask(frame: pd.DataFrame, used: list[str], on_missing: str, name: str,
                  action: str) -> np.ndarray:
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
                "--on-missing skip")
        print(f"note: {action} {int(bad.sum())} of {len(bad)} row(s) with missing values in "
              f"{', '.join(cols)}", file=sys.stderr)
    return bad


def _check_finite(frame: pd.DataFrame, names: list[str]) -> None:
    for c in names:
        values = frame[c].to_numpy(dtype=np.float64)
        inf = np.isinf(values)
        if inf.any():
            raise CliError(
                f"column '{c}' has infinite values in {int(inf.sum())} row(s) (first at data "
                f"row {int(np.flatnonzero(inf)[0]) + 1}); fix or remove those rows")


def _load_features(args, name_columns: str | None) -> tuple[pd.DataFrame, list[str], object]:
    """Read, choose columns, skip incomplete rows: (complete frame, feature names, tasks)."""
    frame = read_csv(args.data)
    names = _choose_columns(frame, name_columns, getattr(args, "task_column", None), args.data)
    task_column = getattr(args, "task_column", None)
    used = names + ([task_column] if task_column else [])
    bad = _missing_mask(frame, used, args.on_missing, args.data, "skipped")
    frame = frame.loc[~bad].reset_index(drop=True)
    if frame.shape[0] == 0:
        raise CliError(f"no row of '{args.data}' is complete in {', '.join(used)}; choose "
                       "other columns with --columns")
    _check_finite(frame, names)
    tasks = frame[task_column].astype(str).to_numpy() if task_column else None
    return frame, names, tasks


# -- fit ----------------------------------------------------------------------------------------
def _multitask_fitter(mode: str) -> Callable:
    def fit(X, tasks, args) -> MultiTaskMixture:
        return fit_multitask(X, tasks, args.components, mode=mode,
                             covariance_type=args.covariance_type, n_init=args.n_init,
                             tol=args.tol, reg_covar=args.reg_covar, max_iter=args.max_iter,
                             init_params=args.init, random_state=args.seed)
    return fit


# How data with a task column can be fitted; --mode's choices and help follow this table. The
# first entry is the default.
FIT_MODES: dict[str, Callable] = {m: _multitask_fitter(m) for m in ("shared", "pooled", "separate")}
MODE_HELP = {
    "shared": "components shared by all tasks, one weight vector per task",
    "pooled": "one mixture for all rows, the task ignored",
    "separate": "one independent mixture per task (every task needs at least K rows)",
}


def _estimator_params(args) -> dict:
    return dict(n_components=args.components, covariance_type=args.covariance_type,
                n_init=args.n_init, random_state=args.seed, tol=args.tol,
                reg_covar=args.reg_covar, max_iter=args.max_iter, init_params=args.init)


def cmd_fit(args) -> int:
    if args.mode is not None and args.task_column is None:
        raise CliError(f"--mode {args.mode} is for data with tasks; add --task-column COL "
                       "naming the task of each row, or leave out --mode")
    mode = "single" if args.task_column is None else (args.mode or next(iter(FIT_MODES)))
    frame, names, tasks = _load_features(args, args.columns)
    n, k = frame.shape[0], args.components
    if n < k:
        raise CliError(f"only {n} complete row(s) in '{args.data}' but --components {k} needs at "
                       f"least {k}; use fewer components or more data")
    features = frame[names]
    standardizer = Standardizer.fit(features) if args.standardize else None
    X = standardizer.transform(features) if standardizer else features.to_numpy(np.float64)
    metadata = {"data_file": Path(args.data).name}
    if mode == "single":
        fitted = GaussianMixture(**_estimator_params(args)).fit(X)
    else:
        metadata["task_column"] = args.task_column
        fitted = FIT_MODES[mode](X, tasks, args)
    try:
        save_model(fitted, args.output, feature_names=names, standardizer=standardizer,
                   X=features, tasks=tasks, metadata=metadata)
    except OSError as exc:
        raise CliError(f"cannot write '{args.output}': {exc.strerror}; check that the directory "
                       "exists and is writable") from None
    model = load_model(args.output)
    fit = model.metadata
    out = sys.stdout
    std = ", standardized" if standardizer else ""
    print(f"Fitted {k} component(s), covariance type '{args.covariance_type}', to {n} rows x "
          f"{len(names)} features ({', '.join(names)}{std}).", file=out)
    if tasks is not None:
        counts = ", ".join(f"{t} ({c})" for t, c in zip(model.tasks, model.task_n_samples,
                                                        strict=True))
        print(f"  tasks           {counts}", file=out)
        print(f"  mode            {mode}: {MODE_HELP[mode]}", file=out)
    print(f"  log-likelihood  {fit['log_likelihood']:.6g}", file=out)
    print(f"  BIC             {fit['bic']:.6g}  (lower is better; {fit['n_parameters']} "
          "parameters)", file=out)
    iters = f"after {fit['n_iter']} iteration(s)"
    if mode == "separate":
        iters = f"every task, after at most {fit['n_iter']} iteration(s)" if fit["converged"] \
            else f"not every task, longest run {fit['n_iter']} iteration(s)"
    print(f"  converged       {'yes' if fit['converged'] else 'NO'}, {iters}", file=out)
    print(f"Model written to {args.output}", file=out)
    return 0


# -- select -------------------------------------------------------------------------------------
def _format_table(grid: pd.DataFrame, best_index) -> str:
    headers = ["", "K", "type", "mclust", "log-lik", "params", "BIC", "AIC", "ICL", "converged",
               "iter"]
    has_error = grid["error"].notna().any()
    if has_error:
        headers.append("error")
    rows = []
    for idx, r in grid.iterrows():
        ok = r["error"] is None
        def num(v, ok=ok):
            return f"{v:.3f}" if ok else "-"
        row = ["*" if idx == best_index else "", str(r["n_components"]), r["covariance_type"],
               r["mclust_name"], num(r["log_likelihood"]), str(r["n_parameters"]), num(r["bic"]),
               num(r["aic"]), num(r["icl"]), ("yes" if r["converged"] else "no") if ok else "-",
               str(r["n_iter"]) if ok else "-"]
        if has_error:
            row.append("" if ok else " ".join(str(r["error"]).split()))
        rows.append(row)
    right = {1, 4, 5, 6, 7, 8, 10}
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in rows])


def _format_mode_table(grid: pd.DataFrame, best_index, tasks: Sequence[str]) -> str:
    task_cols = [f"heldout[{t}]" for t in tasks]
    headers = ["", "mode", "K", "type", "params", "log-lik", "BIC", "AIC", "ICL",
               "held-out/row", *[f"held-out {t}" for t in tasks]]
    has_error = grid["error"].notna().any()
    if has_error:
        headers.append("error")
    rows = []
    for idx, r in grid.iterrows():
        def num(v, digits=3):
            v = float(v) if v is not None and not pd.isna(v) else np.nan
            return f"{v:.{digits}f}" if np.isfinite(v) else "-"
        params = "-" if pd.isna(r["n_parameters"]) else str(int(r["n_parameters"]))
        row = ["*" if idx == best_index else "", r["mode"], str(r["n_components"]),
               r["covariance_type"], params, num(r["log_likelihood"]), num(r["bic"]),
               num(r["aic"]), num(r["icl"]), num(r["heldout_per_sample"], 4),
               *[num(r[c], 4) for c in task_cols]]
        if has_error:
            row.append("" if r["error"] is None else " ".join(str(r["error"]).split()))
        rows.append(row)
    left = {0, 1, 3, len(headers) - 1} if has_error else {0, 1, 3}
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in rows])


def cmd_select_tasks(args) -> int:
    """select --task-column: pooled vs separate vs shared for each K and covariance type."""
    frame, names, tasks = _load_features(args, args.columns)
    n, kmax = frame.shape[0], max(args.components)
    task_names = sorted(set(tasks.tolist()))
    if len(task_names) < 2:
        raise CliError(f"task column '{args.task_column}' has a single task "
                       f"({task_names[0]!r}) in the complete rows; comparing modes needs at "
                       "least two tasks: choose another column, or leave out --task-column")
    if n < kmax:
        raise CliError(f"only {n} complete row(s) in '{args.data}' but --components goes up to "
                       f"{kmax}; use at most {n} components or more data")
    features = frame[names]
    X = Standardizer.fit(features).transform(features) if args.standardize else \
        features.to_numpy(np.float64)
    test_size = 0.25 if args.test_size is None else args.test_size
    combos = [(k, t) for k in args.components for t in args.covariance_types]
    frames, summaries = [], []
    for i, (k, cov) in enumerate(combos, 1):
        if not args.quiet:
            print(f"[{i}/{len(combos)}] K={k} {cov}: pooled, separate, shared",
                  file=sys.stderr, flush=True)
        df = compare_modes(X, tasks, k, covariance_type=cov, test_size=test_size,
                           n_init=args.n_init, random_state=args.seed, tol=args.tol,
                           reg_covar=args.reg_covar, max_iter=args.max_iter)
        df.insert(1, "n_components", k)
        df.insert(2, "covariance_type", cov)
        n_test = df.attrs["n_test"]
        frames.append(df)
        summaries.append((k, cov, df.attrs["summary"]))
    grid = pd.concat(frames, ignore_index=True)
    grid["error"] = grid["error"].astype(object).where(grid["error"].notna(), None)
    ok = grid["error"].isna() & np.isfinite(grid["bic"].astype(float))
    if not ok.any():
        raise CliError(f"every fit failed (first: {' '.join(str(grid['error'].iloc[0]).split())})")
    best_index = grid.loc[ok, "bic"].astype(float).idxmin()
    best = grid.loc[best_index]
    grid["best"] = grid.index == best_index
    if args.csv:
        grid.to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    std = ", standardized" if args.standardize else ""
    counts = ", ".join(f"{t} ({int((tasks == t).sum())})" for t in task_names)
    print(f"{n} rows x {len(names)} features ({', '.join(names)}{std}); tasks from "
          f"'{args.task_column}': {counts}")
    print(f"n_init={args.n_init}, seed={args.seed}; criteria on all rows (lower is better); "
          f"held-out: mean log-likelihood per row of {n_test} test rows ({test_size:g} of "
          "each task, fitted on the rest; higher is better)")
    print(_format_mode_table(grid.drop(columns="best"), best_index, task_names))
    print(f"* lowest BIC: {best['mode']}, K={int(best['n_components'])} "
          f"{best['covariance_type']}, BIC {float(best['bic']):.3f}")
    for k, cov, summary in summaries:
        prefix = "" if len(combos) == 1 else f"K={k} {cov}: "
        print(prefix + summary)
    return 0


def cmd_select(args) -> int:
    if args.task_column is not None:
        return cmd_select_tasks(args)
    if args.test_size is not None:
        raise CliError("--test-size is for comparing modes with --task-column; add "
                       "--task-column COL or leave out --test-size")
    try:
        from ..selection import best_cell, model_grid
    except ImportError:  # pragma: no cover - only while selection.py is missing
        raise CliError("model selection is not available in this gmmcore (gmmcore.selection is "
                       "missing); update gmmcore") from None
    frame, names, _ = _load_features(args, args.columns)
    n, kmax = frame.shape[0], max(args.components)
    if n < kmax:
        raise CliError(f"only {n} complete row(s) in '{args.data}' but --components goes up to "
                       f"{kmax}; use at most {n} components or more data")
    features = frame[names]
    X = Standardizer.fit(features).transform(features) if args.standardize else features

    def progress(done, total, row):
        if not args.quiet:
            print(f"[{done}/{total}] K={row['n_components']} {row['covariance_type']}",
                  file=sys.stderr, flush=True)

    grid = model_grid(X, n_components=args.components, covariance_types=args.covariance_types,
                      n_init=args.n_init, random_state=args.seed, tol=args.tol,
                      reg_covar=args.reg_covar, max_iter=args.max_iter, progress=progress)
    ok = grid["error"].isna()
    if not ok.any():
        raise CliError(f"every fit failed (first: {' '.join(str(grid['error'].iloc[0]).split())})")
    best = best_cell(grid, "bic")
    if args.csv:
        grid.to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    std = ", standardized" if args.standardize else ""
    print(f"{n} rows x {len(names)} features ({', '.join(names)}{std}); "
          f"n_init={args.n_init}, seed={args.seed}")
    print(_format_table(grid, best.name))
    print(f"* lowest BIC (lower is better): K={int(best['n_components'])} "
          f"{best['covariance_type']} ({best['mclust_name']}), BIC {best['bic']:.3f}")
    return 0


# -- predict ------------------------------------------------------------------------------------
def cmd_predict(args) -> int:
    try:
        model = load_model(args.model)
    except FileNotFoundError:
        raise CliError(f"model file '{args.model}' does not exist; check the path, or create it "
                       f"with '{PROG} fit'") from None
    except IsADirectoryError:
        raise CliError(f"'{args.model}' is a directory, not a model file") from None
    except ModelFileError as exc:
        raise CliError(f"{exc}") from None
    frame = read_csv(args.data)
    available = list(frame.columns)
    missing = [f for f in model.feature_names if f not in available]
    if missing:
        raise CliError(f"'{args.data}' has no column {', '.join(map(repr, missing))}, which the "
                       f"model needs ({', '.join(model.feature_names)}); available columns: "
                       f"{', '.join(available)}")
    for c in model.feature_names:
        if not _is_numeric(frame[c]):
            raise CliError(f"column '{c}' of '{args.data}' is not numeric; the model needs "
                           "numbers there")
    task_column = args.task_column
    if model.tasks is None:
        if task_column is not None:
            raise CliError(f"--task-column is for multi-task models, and '{args.model}' has no "
                           "tasks; leave it out")
    elif model.mode == "pooled":
        # One mixture for every task: the task column is not needed (nor read).
        if task_column is not None and task_column not in available:
            raise CliError(f"task column '{task_column}' is not in '{args.data}'; pass "
                           f"--task-column with one of: {', '.join(available)}, or leave it "
                           "out (a pooled model ignores the task)")
        task_column = None
    else:
        task_column = task_column or model.metadata.get("task_column")
        if task_column is None:
            raise CliError(f"'{args.model}' is a multi-task model (tasks "
                           f"{', '.join(map(str, model.tasks))}); pass --task-column COL naming "
                           "each row's task")
        if task_column not in available:
            raise CliError(f"task column '{task_column}' is not in '{args.data}'; pass "
                           f"--task-column with one of: {', '.join(available)}")
    used = model.feature_names + ([task_column] if task_column else [])
    bad = _missing_mask(frame, used, args.on_missing, args.data, "left blank")
    complete = frame.loc[~bad]
    _check_finite(complete, model.feature_names)
    tasks = None
    if task_column:
        tasks = complete[task_column].astype(str).to_numpy()
        known = {str(t) for t in model.tasks}
        unseen = sorted(set(tasks.tolist()) - known)
        if unseen and model.mode == "separate":
            raise CliError(f"task(s) {', '.join(unseen)} were not seen in fitting (the model "
                           f"knows {', '.join(map(str, model.tasks))}); a separate-mode model "
                           "has one mixture per task and no shared components, so it cannot "
                           "predict other tasks, not even with --unknown-task pooled; refit "
                           "with --mode shared or --mode pooled")
        if unseen and args.unknown_task == "error":
            raise CliError(f"task(s) {', '.join(unseen)} were not seen in fitting (the model "
                           f"knows {', '.join(map(str, model.tasks))}); pass --unknown-task "
                           "pooled to use the pooled weights for them")
    k = model.n_components
    labels = pd.array([pd.NA] * len(frame), dtype="Int64")
    proba = np.full((len(frame), k), np.nan)
    if len(complete):
        _, log_resp = model._log_resp(complete, tasks, args.unknown_task)
        rows = np.flatnonzero(~bad)
        proba[rows] = np.exp(log_resp)
        labels[rows] = log_resp.argmax(axis=1)
    out = pd.DataFrame({"label": labels})
    for j in range(k):
        out[f"p{j}"] = proba[:, j]
    if args.with_input:
        clash = [c for c in out.columns if c in frame.columns]
        if clash:
            out = out.rename(columns={c: f"gmm_{c}" for c in clash})
        out = pd.concat([frame.reset_index(drop=True), out], axis=1)
    out.to_csv(sys.stdout, index=False, na_rep="", lineterminator="\n")
    return 0


# -- parser -------------------------------------------------------------------------------------
def _add_data_options(p, *, task_help: str | None):
    p.add_argument("data", metavar="DATA.csv",
                   help="CSV/TSV file with a header row (comma, semicolon or tab separated).")
    p.add_argument("--columns", metavar="A,B,...",
                   help="Feature columns, comma-separated. Default: every numeric column "
                        "(except the task column).")
    p.add_argument("--standardize", action="store_true",
                   help="Standardize each feature (subtract the mean, divide by the standard "
                        "deviation) before fitting; fit stores the standardization in the model "
                        "file so predict applies it to raw data.")
    if task_help:
        p.add_argument("--task-column", metavar="COL", help=task_help)
    p.add_argument("--on-missing", choices=("skip", "error"), default="skip",
                   help="Rows with a missing value (NA, NaN, empty) in a used column: skip them "
                        "with a note on stderr (default), or stop with an error.")


def _add_fit_options(p, *, seed_default):
    p.add_argument("--n-init", type=_positive_int("--n-init"), default=1, metavar="N",
                   help="EM restarts; the best log-likelihood is kept (default: 1).")
    p.add_argument("--seed", type=_seed, default=seed_default, metavar="S",
                   help=f"Random seed, for reproducible results (default: {seed_default}).")
    p.add_argument("--tol", type=_non_negative_float("--tol"), default=1e-3,
                   help="Stop when the mean log-likelihood per row changes by less than this "
                        "(default: 1e-3).")
    p.add_argument("--reg-covar", type=_non_negative_float("--reg-covar"), default=1e-6,
                   help="Added to the diagonal of every covariance to keep it positive "
                        "definite (default: 1e-6).")
    p.add_argument("--max-iter", type=_positive_int("--max-iter"), default=100, metavar="N",
                   help="Most EM iterations per restart (default: 100).")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG, formatter_class=fmt,
        description="Gaussian mixtures by EM: fit one, choose K and the covariance type, "
                    "predict with a saved model.",
        epilog="Examples:\n"
               f"  {PROG} select sample_data/faithful.csv --components 1-6\n"
               f"  {PROG} fit sample_data/faithful.csv --components 3 --covariance-type tied "
               "--output model.json\n"
               f"  {PROG} predict model.json sample_data/faithful.csv > labels.csv\n"
               f"  {PROG} select sample_data/penguins.csv --task-column island --standardize "
               "--components 3\n\n"
               "Run a command with --help for its options.")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    fit = sub.add_parser(
        "fit", formatter_class=fmt, help="fit a mixture and save it as a JSON model file",
        description="Fit a Gaussian mixture to the numeric columns of a CSV file and save it as a "
                    "JSON model file (see docs/model-format.md). A short summary goes to stdout.",
        epilog="Examples:\n"
               f"  {PROG} fit sample_data/faithful.csv --components 3 --covariance-type tied "
               "--n-init 5 --seed 1 --output faithful.json\n"
               f"  {PROG} fit sample_data/penguins.csv --components 3 --standardize \\\n"
               "      --columns bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g \\\n"
               "      --task-column island --output penguins.json\n"
               f"  {PROG} fit sample_data/penguins.csv --components 3 --standardize \\\n"
               "      --columns bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g \\\n"
               "      --task-column island --mode separate --output penguins-separate.json\n\n"
               "With --task-column the default mode is shared; the model file records the "
               "mode,\nthe task names and the per-task weights (docs/model-format.md).")
    _add_data_options(fit, task_help="Column naming each row's task (e.g. island): fits a "
                                     "multi-task mixture (see --mode).")
    fit.add_argument("--components", "-k", type=_positive_int("--components"), required=True,
                     metavar="K", help="Number of mixture components (required).")
    fit.add_argument("--covariance-type", type=_covariance_type, default="full", metavar="T",
                     help=f"One of {', '.join(COVARIANCE_TYPES)} (default: full).")
    fit.add_argument("--init", choices=INIT_METHODS, default="kmeans",
                     help="Initialization (default: kmeans).")
    fit.add_argument("--mode", choices=tuple(FIT_MODES), default=None,
                     help="With --task-column, how tasks are modelled: "
                          + "; ".join(f"{m}: {MODE_HELP[m]}" for m in FIT_MODES)
                          + f" (default: {next(iter(FIT_MODES))}). 'python -m gmmcore select "
                            "--task-column COL' compares them.")
    _add_fit_options(fit, seed_default=0)
    fit.add_argument("--output", "-o", required=True, metavar="MODEL.json",
                     help="Where to write the model file (required).")
    fit.set_defaults(func=cmd_fit)

    sel = sub.add_parser(
        "select", formatter_class=fmt, help="compare K and covariance types by BIC, AIC and ICL",
        description="Fit one mixture per (K, covariance type) and print BIC, AIC and ICL "
                    "(lower is better; the lowest BIC is marked *). Progress goes to stderr.\n\n"
                    "With --task-column COL, compare the three ways to fit data with tasks for "
                    "each K and\ncovariance type: pooled (one mixture, task ignored), separate "
                    "(one mixture per task)\nand shared (shared components, per-task weights). "
                    "Each row of the table is one\n(mode, K, type) with its parameter count, "
                    "log-likelihood, BIC, AIC and ICL on all rows\n(same N for every mode, so "
                    "they compare fairly) and the held-out log-likelihood per\nrow: fitted on "
                    "the rest of each task's rows, evaluated on a seeded --test-size share\nof "
                    "each task (overall and per task; higher is better). The lowest BIC is "
                    "marked *,\nand a sentence per (K, type) says which mode wins and by how "
                    "much. A mode that\ncannot be fitted (e.g. separate with a task smaller "
                    "than K) shows its reason in the\nerror column; the other modes still "
                    "run.",
        epilog="Examples:\n"
               f"  {PROG} select sample_data/faithful.csv --components 1-9\n"
               f"  {PROG} select sample_data/faithful.csv --components 2,3,4 "
               "--covariance-types full,tied --n-init 5 --csv > grid.csv\n"
               f"  {PROG} select sample_data/penguins.csv --task-column island \\\n"
               "      --columns bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g \\\n"
               "      --standardize --components 3")
    _add_data_options(sel, task_help="Column naming each row's task (e.g. island): compare "
                                     "pooled, separate and shared mixtures instead of single "
                                     "ones.")
    sel.add_argument("--components", "-k", type=parse_components, default=parse_components("1-9"),
                     metavar="RANGE",
                     help="Numbers of components to try: a range (1-9, the default), a number "
                          "(3) or a list (2,4,6).")
    sel.add_argument("--covariance-types", type=parse_covariance_types,
                     default=list(COVARIANCE_TYPES), metavar="T1,T2",
                     help=f"Comma-separated covariance types (default: all: "
                          f"{','.join(COVARIANCE_TYPES)}).")
    _add_fit_options(sel, seed_default=0)
    sel.add_argument("--test-size", type=_fraction, default=None, metavar="F",
                     help="With --task-column: the share of each task's rows held out for the "
                          "held-out log-likelihood (default: 0.25; the split is seeded by "
                          "--seed).")
    sel.add_argument("--csv", action="store_true",
                     help="Print the grid as CSV (full precision) instead of a table. With "
                          "--task-column: one row per (mode, K, type), columns mode, "
                          "n_components, covariance_type, n_parameters, log_likelihood, bic, "
                          "aic, icl, heldout_log_likelihood (total), heldout_per_sample, "
                          "heldout[TASK] (per row), error, best.")
    sel.add_argument("--quiet", "-q", action="store_true", help="No progress on stderr.")
    sel.set_defaults(func=cmd_select)

    pred = sub.add_parser(
        "predict", formatter_class=fmt, help="label rows with a saved model (CSV on stdout)",
        description="Write, for every row of DATA.csv in order, the most probable component "
                    "(label, 0-based) and the probability of each component (p0, p1, ...) as "
                    "CSV on stdout. Columns are matched by the names stored in the model; the "
                    "model's standardization is applied. Rows with a missing value get an empty "
                    "label and probabilities (note on stderr).\n\nMulti-task models (every "
                    "mode): the task of each row is read from the task column the model was "
                    "fitted\nwith (or --task-column). shared: each task's weights; separate: "
                    "each task's own mixture\n(component j of one task is unrelated to "
                    "component j of another); pooled: the task is\nignored. A task not seen "
                    "in fitting is an error; --unknown-task pooled predicts it with the\n"
                    "pooled weights (shared models; a separate model has nothing to fall back "
                    "on).",
        epilog="Examples:\n"
               f"  {PROG} predict faithful.json sample_data/faithful.csv > labels.csv\n"
               f"  {PROG} predict penguins.json sample_data/penguins.csv --with-input")
    pred.add_argument("model", metavar="MODEL.json", help="A model file written by 'fit'.")
    pred.add_argument("data", metavar="DATA.csv", help="CSV/TSV file with the model's columns.")
    pred.add_argument("--task-column", metavar="COL",
                      help="Multi-task models: the column naming each row's task (default: the "
                           "task column the model was fitted with).")
    pred.add_argument("--unknown-task", choices=("error", "pooled"), default="error",
                      help="A task the model has not seen: stop with an error (default), or use "
                           "the pooled weights.")
    pred.add_argument("--with-input", action="store_true",
                      help="Prefix the output with the input's columns.")
    pred.add_argument("--on-missing", choices=("skip", "error"), default="skip",
                      help="Rows with a missing value in a used column: leave their label and "
                           "probabilities empty (default), or stop with an error.")
    pred.set_defaults(func=cmd_predict)
    return parser


# -- entry point --------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return exc.code if isinstance(exc.code, int) else 0
    if getattr(args, "func", None) is None:
        print(f"error: choose a command: fit, select or predict; see '{PROG} --help'",
              file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `... | head`: the reader left, nothing to report
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 0
    except (ValueError, OSError) as exc:
        message = _one_line(exc)
        if isinstance(exc, OSError) and not isinstance(exc, CliError) and exc.strerror:
            where = f" '{exc.filename}'" if exc.filename else ""
            message = f"cannot access{where}: {exc.strerror}; check the path and permissions"
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, with what to report
        if os.environ.get("GMMCORE_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); please report "
              "it (set GMMCORE_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 2
