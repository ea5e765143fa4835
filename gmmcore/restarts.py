"""EM restarts: the outcome of one run of ``n_init`` and the rule for which run is kept."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .engine.em import Event, Snapshot

__all__ = ["RestartResult", "better_restart", "mark_converged"]


@dataclass(frozen=True)
class RestartResult:
    """One EM run of ``n_init``: where it ended, its whole history, and whether it collapsed
    (``collapsed_components``: see :func:`gmmcore.engine.em.degenerate_components`)."""

    index: int
    lower_bound: float  # mean log-likelihood per sample at the last E-step
    log_likelihood: float  # total log-likelihood at the last E-step
    n_iter: int
    converged: bool
    history: tuple[Snapshot, ...]
    degenerate: bool = False
    collapsed_components: tuple[int, ...] = ()


def better_restart(result: RestartResult, best: RestartResult) -> bool:
    """A sound run beats a collapsed one (whose likelihood grows without bound as it
    collapses); otherwise, as scikit-learn, a strictly higher lower bound wins."""
    if result.degenerate != best.degenerate:
        return best.degenerate
    return result.lower_bound > best.lower_bound


def mark_converged(snap: Snapshot, change: float, tol: float) -> Snapshot:
    """``snap`` with a "converged" event in place of a "max_iter" one."""
    events = tuple(e for e in snap.events if e.kind != "max_iter")
    message = (
        f"Converged: the mean log-likelihood changed by {abs(change):.3g} < tol={tol:g} at "
        f"iteration {snap.iteration} (measured from the warm start's lower bound)."
    )
    return dataclasses.replace(snap, events=(*events, Event("converged", None, message)))
