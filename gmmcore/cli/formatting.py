"""The aligned text tables that ``select`` prints: the (K, covariance type) grid, and the
(mode, K, covariance type) grid of ``select --task-column``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["format_grid", "format_mode_grid"]


def _align(headers: list[str], rows: list[list[str]], left: set[int]) -> str:
    """Columns padded to their widest cell, left-aligned where in ``left``, else right."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


def format_grid(grid: pd.DataFrame, best_index) -> str:
    """One line per row of :func:`gmmcore.selection.model_grid`'s table; ``best_index`` gets *."""
    headers = [
        "",
        "K",
        "type",
        "mclust",
        "log-lik",
        "params",
        "BIC",
        "AIC",
        "ICL",
        "converged",
        "iter",
    ]
    has_error = grid["error"].notna().any()
    if has_error:
        headers.append("error")
    rows = []
    for idx, r in grid.iterrows():
        ok = r["error"] is None

        def num(v, ok=ok):
            return f"{v:.3f}" if ok else "-"

        row = [
            "*" if idx == best_index else "",
            str(r["n_components"]),
            r["covariance_type"],
            r["mclust_name"],
            num(r["log_likelihood"]),
            str(r["n_parameters"]),
            num(r["bic"]),
            num(r["aic"]),
            num(r["icl"]),
            ("yes" if r["converged"] else "no") if ok else "-",
            str(r["n_iter"]) if ok else "-",
        ]
        if has_error:
            row.append("" if ok else " ".join(str(r["error"]).split()))
        rows.append(row)
    right = {1, 4, 5, 6, 7, 8, 10}
    return _align(headers, rows, left=set(range(len(headers))) - right)


def format_mode_grid(grid: pd.DataFrame, best_index, tasks: Sequence[str]) -> str:
    """One line per (mode, K, covariance type) of the comparison of modes, with the held-out
    log-likelihood per row overall and per task; ``best_index`` gets *."""
    task_cols = [f"heldout[{t}]" for t in tasks]
    headers = [
        "",
        "mode",
        "K",
        "type",
        "params",
        "log-lik",
        "BIC",
        "AIC",
        "ICL",
        "held-out/row",
        *[f"held-out {t}" for t in tasks],
    ]
    has_error = grid["error"].notna().any()
    if has_error:
        headers.append("error")

    def num(v, digits=3):
        v = float(v) if v is not None and not pd.isna(v) else np.nan
        return f"{v:.{digits}f}" if np.isfinite(v) else "-"

    rows = []
    for idx, r in grid.iterrows():
        params = "-" if pd.isna(r["n_parameters"]) else str(int(r["n_parameters"]))
        row = [
            "*" if idx == best_index else "",
            r["mode"],
            str(r["n_components"]),
            r["covariance_type"],
            params,
            num(r["log_likelihood"]),
            num(r["bic"]),
            num(r["aic"]),
            num(r["icl"]),
            num(r["heldout_per_sample"], 4),
            *[num(r[c], 4) for c in task_cols],
        ]
        if has_error:
            row.append("" if r["error"] is None else " ".join(str(r["error"]).split()))
        rows.append(row)
    left = {0, 1, 3, len(headers) - 1} if has_error else {0, 1, 3}
    return _align(headers, rows, left)
