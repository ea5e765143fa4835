"""``python -m gmmcore fit``: fit one mixture (or a multi-task one, with ``--task-column``), save
it as a JSON model file, and print a short summary on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..io import load_model, save_model
from ..io.limits import check_task_count
from ..mixture import GaussianMixture
from ..multitask import fit_multitask
from ..preprocessing import Standardizer
from .common import CliError, em_settings, load_features

__all__ = ["MODE_HELP", "cmd_fit"]


# How data with a task column can be fitted: --mode's choices and help, the first the default.
MODE_HELP = {
    "shared": "components shared by all tasks, one weight vector per task",
    "pooled": "one mixture for all rows, the task ignored",
    "separate": "one independent mixture per task (every task needs at least K rows)",
}


def cmd_fit(args) -> int:
    """Fit, save to ``args.output``, summarize; returns the exit status."""
    if args.mode is not None and args.task_column is None:
        raise CliError(
            f"--mode {args.mode} is for data with tasks; add --task-column COL naming the task "
            "of each row, or leave out --mode"
        )
    mode = "single" if args.task_column is None else (args.mode or next(iter(MODE_HELP)))
    if getattr(args, "stream", False):
        return _fit_streamed(args, mode)
    frame, names, tasks = load_features(args)
    if tasks is not None:
        check_task_count(tasks, args.task_column)
    n, k = frame.shape[0], args.components
    if n < k:
        raise CliError(
            f"only {n} complete row(s) in '{args.data}' but --components {k} needs at least "
            f"{k}; use fewer components or more data"
        )
    features = frame[names]
    standardizer = Standardizer.fit(features) if args.standardize else None
    X = standardizer.transform(features) if standardizer else features.to_numpy(np.float64)
    metadata = {"data_file": Path(args.data).name}
    settings = dict(
        covariance_type=args.covariance_type, init_params=args.init, **em_settings(args)
    )
    if mode == "single":
        fitted = GaussianMixture(args.components, n_jobs=args.n_jobs, **settings).fit(X)
    else:
        metadata["task_column"] = args.task_column
        fitted = fit_multitask(X, tasks, args.components, mode=mode, **settings)
    try:
        save_model(
            fitted,
            args.output,
            feature_names=names,
            standardizer=standardizer,
            X=features,
            tasks=tasks,
            metadata=metadata,
        )
    except OSError as exc:
        raise CliError(
            f"cannot write '{args.output}': {exc.strerror}; check that the directory exists and "
            "is writable"
        ) from None
    model = load_model(args.output)
    _print_summary(model, args, mode, n, names, standardized=standardizer is not None)
    return 0


def _fit_streamed(args, mode: str) -> int:
    """``--stream``: fit on the file read in row blocks on every pass (gmmcore.scale)."""
    from ..scale import TextProgress, open_source

    if mode != "single" or args.standardize:
        raise CliError("--stream fits one mixture to raw columns; drop --task-column/--standardize")
    columns = args.columns.split(",") if args.columns else None
    try:
        source = open_source(args.data, columns)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    gm = GaussianMixture(
        args.components,
        covariance_type=args.covariance_type,
        init_params=args.init,
        n_jobs=args.n_jobs,
        **em_settings(args),  # n_init restarts each re-read the file on every pass
    )
    try:
        gm.fit_source(source, progress=TextProgress(sys.stderr))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    n = gm.history_[-1].n_samples
    metadata = {"data_file": Path(args.data).name}
    save_model(gm, args.output, feature_names=source.columns, metadata=metadata)
    _print_summary(load_model(args.output), args, mode, n, source.columns, standardized=False)
    return 0


def _print_summary(model, args, mode: str, n: int, names: list[str], *, standardized: bool):
    fit = model.metadata
    out = sys.stdout
    std = ", standardized" if standardized else ""
    print(
        f"Fitted {args.components} component(s), covariance type '{args.covariance_type}', to "
        f"{n} rows x {len(names)} features ({', '.join(names)}{std}).",
        file=out,
    )
    if mode != "single":
        counts = ", ".join(
            f"{t} ({c})" for t, c in zip(model.tasks, model.task_n_samples, strict=True)
        )
        print(f"  tasks           {counts}", file=out)
        print(f"  mode            {mode}: {MODE_HELP[mode]}", file=out)
    print(f"  log-likelihood  {fit['log_likelihood']:.6g}", file=out)
    if fit.get("bic") is not None:  # a streamed fit keeps no data to score (see --stream)
        print(
            f"  BIC             {fit['bic']:.6g}  (lower is better; {fit['n_parameters']} "
            "parameters)",
            file=out,
        )
    iters = f"after {fit['n_iter']} iteration(s)"
    if mode == "separate":
        iters = (
            f"every task, after at most {fit['n_iter']} iteration(s)"
            if fit["converged"]
            else f"not every task, longest run {fit['n_iter']} iteration(s)"
        )
    print(f"  converged       {'yes' if fit['converged'] else 'NO'}, {iters}", file=out)
    print(f"Model written to {args.output}", file=out)
