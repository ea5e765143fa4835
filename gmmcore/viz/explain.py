"""Numbers behind the dashboard's EM stepper: which responsibilities a half-step shows, what
changed, and the E- and M-step formulas evaluated for one point and one component.

Everything here consumes the frozen snapshots of :func:`gmmcore.iter_em`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..engine.covariance import get_structure
from ..engine.em import Snapshot, responsibilities

__all__ = [
    "covariance_stack",
    "display_responsibilities",
    "e_step_detail",
    "events_table",
    "latex_number",
    "log_likelihood_trace",
    "m_step_detail",
    "parameter_table",
    "step_after_cycle",
    "step_description",
    "task_weights",
]


def covariance_stack(snapshot: Snapshot) -> np.ndarray:
    """The snapshot's covariances as full matrices, shape (K, D, D), whatever the type."""
    k, d = snapshot.means.shape
    return get_structure(snapshot.covariance_type).covariance_matrices(
        np.asarray(snapshot.covariances), k, d
    )


def task_weights(snapshot: Snapshot, tasks=None) -> np.ndarray:
    """Weights of shape (K,): the snapshot's, or for a multi-task snapshot the average over rows
    (tasks weighted by their row counts when ``tasks`` is given, equally otherwise)."""
    w = np.asarray(snapshot.weights)
    if w.ndim == 1:
        return w
    if tasks is None:
        return w.mean(axis=0)
    names, counts = np.unique(np.asarray(tasks).astype(str), return_counts=True)
    order = {t: i for i, t in enumerate(snapshot.tasks)}
    freq = np.zeros(w.shape[0])
    for name, c in zip(names, counts, strict=True):
        if name in order:
            freq[order[name]] = c
    return (freq / freq.sum()) @ w if freq.sum() else w.mean(axis=0)


def display_responsibilities(history: Sequence[Snapshot], step: int, X, tasks=None):
    """The responsibilities the stepper colours points by at ``step``, shape (n, K), or None.

    - "init": None (no E-step has run yet).
    - "E": the responsibilities this E-step computed (of its parameters).
    - "M": those of the E-step just before, i.e. the ones this M-step used.
    """
    snap = history[step]
    if snap.phase == "init":
        return None
    source = snap if snap.phase == "E" else history[step - 1]
    return responsibilities(source, X, tasks)


def step_description(history: Sequence[Snapshot], step: int) -> str:
    """A sentence saying what the half-step at ``step`` did."""
    snap = history[step]
    if snap.phase == "init":
        return (
            "Initialization: starting weights, means and covariances (from the chosen "
            "initialization). No responsibilities yet, so the points are grey."
        )
    if snap.phase == "E":
        return (
            f"Iteration {snap.iteration}, after E: responsibilities updated (point colours "
            "changed); the ellipses and means are unchanged."
        )
    return (
        f"Iteration {snap.iteration}, after M: weights, means and covariances re-estimated "
        "from the responsibilities of the E-step before (ellipses and means moved; the "
        "arrows show where each mean came from); point colours are those responsibilities."
    )


def log_likelihood_trace(history: Sequence[Snapshot]) -> pd.DataFrame:
    """One row per E-step: ``iteration``, ``step`` (index in history), ``log_likelihood``,
    ``mean_log_likelihood``."""
    rows = [
        (s.iteration, i, s.log_likelihood, s.mean_log_likelihood)
        for i, s in enumerate(history)
        if s.phase == "E"
    ]
    return pd.DataFrame(
        rows, columns=["iteration", "step", "log_likelihood", "mean_log_likelihood"]
    )


def events_table(history: Sequence[Snapshot]) -> pd.DataFrame:
    """Every engine event: ``iteration``, ``step``, ``kind``, ``component``, ``message``."""
    rows = [
        (s.iteration, i, e.kind, e.component, e.message)
        for i, s in enumerate(history)
        for e in s.events
    ]
    return pd.DataFrame(rows, columns=["iteration", "step", "kind", "component", "message"])


def parameter_table(snapshot: Snapshot, feature_names=None) -> pd.DataFrame:
    """Weights, means and standard deviations per component (one row per component)."""
    k, d = snapshot.means.shape
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
    covs = covariance_stack(snapshot)
    table = pd.DataFrame({"component": np.arange(k)})
    w = np.asarray(snapshot.weights)
    if w.ndim == 1:
        table["weight"] = w
    else:
        for t, name in enumerate(snapshot.tasks):
            table[f"weight [{name}]"] = w[t]
    for j, name in enumerate(names):
        table[f"mean {name}"] = snapshot.means[:, j]
    for j, name in enumerate(names):
        table[f"sd {name}"] = np.sqrt(covs[:, j, j])
    if d == 2:
        table["correlation"] = covs[:, 0, 1] / np.sqrt(covs[:, 0, 0] * covs[:, 1, 1])
    return table


def _row_log_weights(snapshot: Snapshot, task=None) -> np.ndarray:
    w = np.asarray(snapshot.weights)
    if w.ndim == 2:
        w = w[list(snapshot.tasks).index(task)] if task is not None else w.mean(axis=0)
    with np.errstate(divide="ignore"):
        return np.log(w)


def e_step_detail(snapshot: Snapshot, x, task=None) -> dict:
    """The E-step for one point: r_k = w_k N(x | mu_k, S_k) / sum_j w_j N(x | mu_j, S_j).

    Returns a dict with arrays of shape (K,): ``weights``, ``log_density`` (log N(x | mu_k,
    S_k)), ``log_weighted`` (log w_k + log N), ``responsibility``; and ``log_evidence``
    (the point's log-likelihood, the log of the denominator).
    """
    # Deferred: scipy.stats costs ~0.5 s to import, which the dashboard's first page should
    # not pay. The formula panel uses scipy's density on purpose: an independent check.
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    x = np.asarray(x, dtype=np.float64).ravel()
    covs = covariance_stack(snapshot)
    log_dens = np.array(
        [
            multivariate_normal(mean=m, cov=c, allow_singular=True).logpdf(x)
            for m, c in zip(snapshot.means, covs, strict=True)
        ]
    )
    lw = _row_log_weights(snapshot, task)
    weighted = lw + log_dens
    evidence = logsumexp(weighted)
    return {
        "weights": np.exp(lw),
        "log_density": log_dens,
        "log_weighted": weighted,
        "responsibility": np.exp(weighted - evidence),
        "log_evidence": float(evidence),
    }


def m_step_detail(
    resp: np.ndarray, X, component: int, snapshot_after: Snapshot | None = None
) -> dict:
    """The M-step for one component from the responsibilities it used.

    N_k = sum_i r_ik, weight = N_k / N, mean = sum_i r_ik x_i / N_k, and the (unregularized,
    per-component) covariance sum_i r_ik (x_i - mean)(x_i - mean)^T / N_k.

    ``snapshot_after``, when given, adds the engine's values (``engine_weight``,
    ``engine_mean``, ``engine_covariance``) for comparison: they differ only by reg_covar on
    the diagonal, and for tied/diag/spherical by the structure's constraint.
    """
    X = np.asarray(X, dtype=np.float64)
    r = np.asarray(resp)[:, component]
    nk = float(r.sum())
    mean = (r @ X) / nk if nk > 0 else np.full(X.shape[1], np.nan)
    diff = X - mean
    cov = (r[:, None] * diff).T @ diff / nk if nk > 0 else np.full((X.shape[1],) * 2, np.nan)
    out = {
        "n_k": nk,
        "n": X.shape[0],
        "weight": nk / X.shape[0],
        "weighted_sum": r @ X,
        "mean": mean,
        "covariance": cov,
    }
    if snapshot_after is not None:
        w = np.asarray(snapshot_after.weights)
        out["engine_weight"] = w[component] if w.ndim == 1 else w[:, component]
        out["engine_mean"] = np.asarray(snapshot_after.means[component])
        out["engine_covariance"] = covariance_stack(snapshot_after)[component]
    return out


def step_after_cycle(history: Sequence[Snapshot], cycles: int) -> int:
    """The index in ``history`` after ``cycles`` complete E + M cycles (Bishop's L): the M
    snapshot of iteration ``cycles``, or the last snapshot when EM stopped before."""
    for i, snap in enumerate(history):
        if snap.phase == "M" and snap.iteration >= cycles:
            return i
    return len(history) - 1


def latex_number(x: float) -> str:
    """A number for LaTeX with 4 significant digits: plain between 1e-3 and 1e5 (14450, not
    Python's 1.445e+04, which LaTeX typesets as "1.445e + 04"), else m x 10^e."""
    x = float(x)
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\mathrm{NaN}")
    if 1e-3 <= abs(x) < 1e5:
        rounded = float(f"{x:.4g}")
        return f"{rounded:.0f}" if abs(rounded) >= 1000 else f"{rounded:.4g}"
    mant, exp = f"{x:.3e}".split("e")
    return rf"{mant}\times 10^{{{int(exp)}}}"
