"""``python -m gmmcore select``: fit one mixture per (K, covariance type) and print BIC, AIC and
ICL; with ``--task-column``, compare the pooled, separate and shared modes instead. Progress goes
to stderr, the table (or ``--csv``) to stdout."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ..engine.covariance import covariance_types
from ..io.csv_safe import to_safe_csv
from ..io.limits import check_task_count
from ..multitask import compare_modes
from ..preprocessing import Standardizer
from ..selection import best_cell, best_k_at_edge, model_grid, top_cells
from .common import CliError, em_settings, load_features
from .formatting import format_grid, format_mode_grid

__all__ = ["cmd_select", "cmd_select_tasks"]


def _check_enough_rows(n: int, args) -> None:
    kmax = max(args.components)
    if n < kmax:
        raise CliError(
            f"only {n} complete row(s) in '{args.data}' but --components goes up to {kmax}; use "
            f"at most {n} components or more data"
        )


def _raise_if_all_failed(grid: pd.DataFrame, ok: pd.Series) -> None:
    if not ok.any():
        first = " ".join(str(grid["error"].iloc[0]).split())
        raise CliError(
            f"every fit failed (first: {first}); try other --components or --covariance-types, "
            "or a larger --reg-covar"
        )


def cmd_select_tasks(args) -> int:
    """select --task-column: pooled vs separate vs shared for each K and covariance type."""
    frame, names, tasks = load_features(args)
    n = frame.shape[0]
    try:
        check_task_count(tasks, args.task_column)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    task_names = sorted(set(tasks.tolist()))
    if len(task_names) < 2:
        raise CliError(
            f"task column '{args.task_column}' has a single task ({task_names[0]!r}) in the "
            "complete rows; comparing modes needs at least two tasks: choose another column, or "
            "leave out --task-column"
        )
    _check_enough_rows(n, args)
    features = frame[names]
    X = (
        Standardizer.fit(features).transform(features)
        if args.standardize
        else features.to_numpy(np.float64)
    )
    test_size = 0.25 if args.test_size is None else args.test_size
    types = args.covariance_types or list(covariance_types(X.shape[1]))
    combos = [(k, t) for k in args.components for t in types]
    frames, summaries = [], []
    for i, (k, cov) in enumerate(combos, 1):
        _progress(args, f"[{i}/{len(combos)}] K={k} {cov}: pooled, separate, shared")
        df = compare_modes(
            X,
            tasks,
            k,
            covariance_type=cov,
            test_size=test_size,
            init_params=args.init,
            **em_settings(args),
        )
        df.insert(1, "n_components", k)
        df.insert(2, "covariance_type", cov)
        n_test = df.attrs["n_test"]
        frames.append(df)
        summaries.append((k, cov, df.attrs["summary"]))
    grid = pd.concat(frames, ignore_index=True)
    grid["error"] = grid["error"].astype(object).where(grid["error"].notna(), None)
    ok = grid["error"].isna() & np.isfinite(grid["bic"].astype(float))
    _raise_if_all_failed(grid, ok)
    best_index = grid.loc[ok, "bic"].astype(float).idxmin()
    best = grid.loc[best_index]
    grid["best"] = grid.index == best_index
    if args.csv:
        to_safe_csv(grid, sys.stdout, index=False, lineterminator="\n")
        return 0
    std = ", standardized" if args.standardize else ""
    counts = ", ".join(f"{t} ({int((tasks == t).sum())})" for t in task_names)
    print(
        f"{n} rows x {len(names)} features ({', '.join(names)}{std}); tasks from "
        f"'{args.task_column}': {counts}"
    )
    print(
        f"n_init={args.n_init}, seed={args.seed}; criteria on all rows (lower is better); "
        f"held-out: mean log-likelihood per row of {n_test} test rows ({test_size:g} of each "
        "task, fitted on the rest; higher is better)"
    )
    print(format_mode_grid(grid.drop(columns="best"), best_index, task_names))
    print(
        f"* lowest BIC: {best['mode']}, K={int(best['n_components'])} "
        f"{best['covariance_type']}, BIC {float(best['bic']):.3f}"
    )
    for k, cov, summary in summaries:
        prefix = "" if len(combos) == 1 else f"K={k} {cov}: "
        print(prefix + summary)
    return 0


def cmd_select(args) -> int:
    """select: the (K, covariance type) grid by BIC, AIC and ICL; returns the exit status."""
    if args.task_column is not None:
        return cmd_select_tasks(args)
    if args.test_size is not None:
        raise CliError(
            "--test-size is for comparing modes with --task-column; add --task-column COL or "
            "leave out --test-size"
        )
    frame, names, _ = load_features(args)
    n = frame.shape[0]
    _check_enough_rows(n, args)
    features = frame[names]
    X = Standardizer.fit(features).transform(features) if args.standardize else features

    def progress(done, total, row):
        _progress(args, f"[{done}/{total}] K={row['n_components']} {row['covariance_type']}")

    grid = model_grid(
        X,
        n_components=args.components,
        covariance_types=args.covariance_types,
        progress=progress,
        init_params=args.init,
        n_jobs=args.n_jobs,
        **em_settings(args),
    )
    _raise_if_all_failed(grid, grid["error"].isna())
    best = best_cell(grid, "bic")
    if args.csv:
        to_safe_csv(grid, sys.stdout, index=False, lineterminator="\n")
        return 0
    std = ", standardized" if args.standardize else ""
    print(
        f"{n} rows x {len(names)} features ({', '.join(names)}{std}); "
        f"init={args.init}, n_init={args.n_init}, seed={args.seed}, tol={args.tol:g} "
        f"({args.convergence}), max_iter={args.max_iter}"
    )
    print(format_grid(grid, best.name))
    print(
        f"* lowest BIC (lower is better): K={int(best['n_components'])} "
        f"{best['covariance_type']} ({best['mclust_name']}), BIC {best['bic']:.3f}"
    )
    top = top_cells(grid, "bic", 3)
    print(
        "top three by BIC: "
        + ", ".join(
            f"{r.mclust_name},{int(r.n_components)} ({r.bic:.2f}"
            + (")" if r.delta == 0 else f", +{r.delta:.2f})")
            for r in top.itertuples()
        )
    )
    edge = best_k_at_edge(grid, best)
    if edge == "upper":
        print(
            f"note: the best K ({int(best['n_components'])}) is the largest tried; BIC may "
            "keep improving with more components: try a wider --components range"
        )
    elif edge == "lower":
        print(
            f"note: the best K ({int(best['n_components'])}) is the smallest tried; try "
            "--components starting lower"
        )
    return 0


def _progress(args, line: str) -> None:
    """One progress line on stderr (stdout stays machine-readable), unless --quiet."""
    if not args.quiet:
        print(line, file=sys.stderr, flush=True)
