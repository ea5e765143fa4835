"""EM restarts: the outcome of one run of ``n_init`` and the rule for which run is kept."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

from .engine.em import Event, Snapshot, convergence_words, degenerate_components
from .exceptions import ConvergenceWarning

__all__ = [
    "NOT_CONVERGED",
    "RestartResult",
    "better_restart",
    "mark_converged",
    "run_result",
    "warn_if_not_converged",
]

# scikit-learn's wording, kept verbatim: code written for scikit-learn matches on it.
NOT_CONVERGED = (
    "Best performing initialization did not converge. Try different init parameters, or "
    "increase max_iter, tol, or check for degenerate data."
)


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


def mark_converged(snap: Snapshot, change: float, tol: float, convergence="mean") -> Snapshot:
    """``snap`` with a "converged" event in place of a "max_iter" one."""
    events = tuple(e for e in snap.events if e.kind != "max_iter")
    message = (
        f"Converged: {convergence_words(convergence)} changed by {abs(change):.3g} < "
        f"tol={tol:g} at iteration {snap.iteration} (measured from the warm start's lower "
        "bound)."
    )
    return dataclasses.replace(snap, events=(*events, Event("converged", None, message)))


def run_result(history, *, index=0, converged=None, reg_covar=None) -> RestartResult:
    """The :class:`RestartResult` of one EM run from its snapshots: where it ended (the last
    E-step's log-likelihood), whether it converged (default: the last snapshot says so) and,
    given ``reg_covar``, which components collapsed."""
    last = history[-1]
    ll = last.log_likelihood if last.log_likelihood is not None else float("-inf")
    collapsed = () if reg_covar is None else tuple(degenerate_components(last, reg_covar))
    return RestartResult(
        index=index,
        lower_bound=ll / last.n_samples,
        log_likelihood=ll,
        n_iter=last.iteration,
        converged=last.converged if converged is None else bool(converged),
        history=tuple(history),
        degenerate=bool(collapsed),
        collapsed_components=collapsed,
    )


def warn_if_not_converged(gm, stacklevel: int = 2) -> None:
    """scikit-learn's ConvergenceWarning when the fitted run of ``gm`` stopped at max_iter."""
    if not gm.converged_ and gm.max_iter > 0:
        warnings.warn(ConvergenceWarning(NOT_CONVERGED), stacklevel=stacklevel + 1)
