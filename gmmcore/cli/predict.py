"""``python -m gmmcore predict``: label every row of a table with a saved model. For input row i,
output row i holds the most probable component (``label``, 0-based) and the probability of each
component (``p0``, ``p1``, ...) as CSV on stdout; a row with a missing value keeps its place with
an empty label and empty probabilities."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ..data_range import out_of_range_message
from ..engine.weights import UnknownTaskError
from ..io import ModelFileError, load_model
from ..io.csv_safe import escape_frame
from .common import CLI_PROG, CliError, check_finite, is_numeric, missing_mask, read_data

__all__ = ["cmd_predict"]


def _load(path):
    try:
        return load_model(path)
    except FileNotFoundError:
        raise CliError(
            f"model file '{path}' does not exist; check the path, or create it with '{CLI_PROG} fit'"
        ) from None
    except IsADirectoryError:
        raise CliError(f"'{path}' is a directory, not a model file; give a model file") from None
    except ModelFileError as exc:
        raise CliError(f"{exc}") from None


def _task_column(model, args, available: list[str]) -> str | None:
    """The column naming each row's task, or None when the model does not need one."""
    task_column = args.task_column
    if model.tasks is None:
        if task_column is not None:
            raise CliError(
                f"--task-column is for multi-task models, and '{args.model}' has no tasks; "
                "leave it out"
            )
        return None
    if model.mode == "pooled":
        # One mixture for every task: the task column is not needed (nor read).
        if task_column is not None and task_column not in available:
            raise CliError(
                f"task column '{task_column}' is not in '{args.data}'; pass --task-column with "
                f"one of: {', '.join(available)}, or leave it out (a pooled model ignores the "
                "task)"
            )
        return None
    task_column = task_column or model.metadata.get("task_column")
    if task_column is None:
        raise CliError(
            f"'{args.model}' is a multi-task model (tasks {', '.join(map(str, model.tasks))}); "
            "pass --task-column COL naming each row's task"
        )
    if task_column not in available:
        raise CliError(
            f"task column '{task_column}' is not in '{args.data}'; pass --task-column with one "
            f"of: {', '.join(available)}"
        )
    return task_column


def _unknown_task_message(exc: UnknownTaskError) -> str:
    """The model's unknown-task error in the command line's words (its options)."""
    seen = f"task(s) {', '.join(exc.unseen)} were not seen in fitting (the model knows " + (
        f"{', '.join(exc.known)})"
    )
    if not exc.can_pool:
        return (
            f"{seen}; a separate-mode model has one mixture per task and no shared components, "
            "so it cannot predict other tasks, not even with --unknown-task pooled; refit with "
            "--mode shared or --mode pooled"
        )
    return f"{seen}; pass --unknown-task pooled to use the pooled weights for them"


def cmd_predict(args) -> int:
    """Write labels and probabilities for every row of ``args.data``; returns the exit status."""
    model = _load(args.model)
    frame = read_data(args.data, for_fitting=False, sheet=args.sheet)
    available = list(frame.columns)
    missing = [f for f in model.feature_names if f not in available]
    if missing:
        raise CliError(
            f"'{args.data}' has no column {', '.join(map(repr, missing))}, which the model needs "
            f"({', '.join(model.feature_names)}); available columns: {', '.join(available)}"
        )
    for c in model.feature_names:
        if not is_numeric(frame[c]):
            raise CliError(
                f"column '{c}' of '{args.data}' is not numeric; the model needs numbers there"
            )
    task_column = _task_column(model, args, available)
    used = model.feature_names + ([task_column] if task_column else [])
    bad = missing_mask(frame, used, args.on_missing, args.data, "left blank")
    complete = frame.loc[~bad]
    check_finite(complete, model.feature_names)
    tasks = None if not task_column else complete[task_column].astype(str).to_numpy()
    k = model.n_components
    labels = pd.array([pd.NA] * len(frame), dtype="Int64")
    proba = np.full((len(frame), k), np.nan)
    if len(complete):
        _warn_out_of_range(model, complete)
        try:
            _, log_resp = model.log_prob_resp(complete, tasks, unknown_task=args.unknown_task)
        except UnknownTaskError as exc:
            raise CliError(_unknown_task_message(exc)) from None
        rows = np.flatnonzero(~bad)
        _check_probabilities(log_resp, rows, args)
        proba[rows] = np.exp(log_resp)
        labels[rows] = log_resp.argmax(axis=1)
    # One frame for the K probability columns: inserting them one by one fragmented the frame
    # (9,900 PerformanceWarnings and minutes for a K = 10,000 model).
    out = pd.concat(
        [
            pd.DataFrame({"label": labels}),
            pd.DataFrame(proba, columns=[f"p{j}" for j in range(k)]),
        ],
        axis=1,
    )
    if args.with_input:
        clash = [c for c in out.columns if c in frame.columns]
        if clash:
            out = out.rename(columns={c: f"gmm_{c}" for c in clash})
        # The input's text cells are escaped: a cell like =HYPERLINK(...) must not become a
        # live formula in the spreadsheet that opens this output.
        out = pd.concat([escape_frame(frame.reset_index(drop=True)), out], axis=1)
    out.to_csv(sys.stdout, index=False, na_rep="", lineterminator="\n")
    return 0


def _warn_out_of_range(model, complete) -> None:
    """One line on stderr when most rows are far from every component (wrong units?)."""
    message = out_of_range_message(model, complete)
    if message is not None:
        print(f"{CLI_PROG} predict: warning: {message}", file=sys.stderr, flush=True)


def _check_probabilities(log_resp, rows, args) -> None:
    """No NaN ever reaches the output: a row whose log-density underflows for every component
    (values astronomically far from the model) has no defined probabilities."""
    bad = ~np.isfinite(log_resp).all(axis=1)
    if bad.any():
        first = int(rows[np.flatnonzero(bad)[0]])
        raise CliError(
            f"{int(bad.sum())} row(s) of '{args.data}' (first: data row {first + 1}) are too "
            "far from every component for their probabilities to be computed; check the "
            "data's units, or remove those rows"
        )
