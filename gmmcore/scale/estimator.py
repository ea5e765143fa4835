"""The estimator's ways in to the scale engines: ``partial_fit`` (online EM) and
``fit_source`` (a source streamed on every pass). Kept out of :mod:`gmmcore.mixture` so that
the estimator's module stays small; both end in ``GaussianMixture._set_fitted``."""

from __future__ import annotations

import numpy as np

from ..engine.online import OnlineEM
from ..restarts import RestartResult, better_restart, run_result, warn_if_not_converged

__all__ = ["check_n_init", "em_settings", "fit_source", "partial_fit", "set_from_runs"]


def em_settings(gm) -> dict:
    """What every block-source fit (streamed, dask) takes from the estimator: the covariance
    structure, the stopping rule, regularization and the start (method and given arrays)."""
    return dict(
        covariance_type=gm.covariance_type,
        tol=gm.tol,
        convergence=gm.convergence,
        reg_covar=gm.reg_covar,
        max_iter=gm.max_iter,
        init_params=gm.init_params,
        weights_init=gm.weights_init,
        means_init=gm.means_init,
        precisions_init=gm.precisions_init,
    )


def partial_fit(gm, X):
    """See :meth:`gmmcore.GaussianMixture.partial_fit`."""
    state = getattr(gm, "_online", None)
    if state is None:
        state = OnlineEM(
            gm.n_components,
            covariance_type=gm.covariance_type,
            reg_covar=gm.reg_covar,
            init_params=gm.init_params,
            random_state=gm.random_state,
            weights_init=gm.weights_init,
            means_init=gm.means_init,
            precisions_init=gm.precisions_init,
            step_exponent=gm.step_exponent,
            step_offset=gm.step_offset,
            n_jobs=gm.n_jobs,
        )
        state.start(X)
    else:
        d = np.shape(X)[1] if np.ndim(X) == 2 else None
        if d is not None and d != state.shift.shape[0]:
            # scikit-learn's words (its estimator checks match on them).
            raise ValueError(
                f"X has {d} features, but {type(gm).__name__} is expecting "
                f"{state.shift.shape[0]} features as input."
            )
    e_snap, m_snap = state.update(X)
    result = RestartResult(
        index=0,
        lower_bound=e_snap.mean_log_likelihood,
        log_likelihood=e_snap.log_likelihood,
        n_iter=state.t,
        converged=False,
        history=(e_snap, m_snap),
    )
    gm._set_fitted(result)
    gm.restarts_ = [result]
    gm._online = state
    return gm


def check_n_init(n_init) -> int:
    """``n_init`` as ``fit`` accepts it (a whole number >= 1), else ValueError."""
    if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ValueError(f"n_init must be a whole number >= 1, got {n_init!r}.")
    return int(n_init)


def fit_source(gm, source, *, init_sample=None, progress=None):
    """See :meth:`gmmcore.GaussianMixture.fit_source`."""
    from .sources import open_source
    from .stream import INIT_SAMPLE, iter_em_source_runs

    n_init = check_n_init(gm.n_init)
    if not hasattr(source, "blocks"):
        source = open_source(source)
    runs = iter_em_source_runs(
        source,
        gm.n_components,
        n_init=n_init,
        init_sample=INIT_SAMPLE if init_sample is None else init_sample,
        random_state=gm.random_state,
        n_jobs=gm.n_jobs,
        progress=progress,
        **em_settings(gm),
    )
    return set_from_runs(gm, runs)


def set_from_runs(gm, runs, task_n_samples=None):
    """Run every restart (``runs``: one snapshot iterator per restart, each consumed before
    the next is made), keep the best by :func:`gmmcore.restarts.better_restart` (the rule of
    ``fit``: a collapsed run never beats a sound one, else the highest lower bound, the
    first of equals) as the fitted state of ``gm``, every run's outcome in ``restarts_``
    (warning when the kept run did not converge, as ``fit``); returns ``gm``."""
    restarts, best = [], None
    for index, snaps in enumerate(runs):
        result = run_result(tuple(snaps), index=index, reg_covar=gm.reg_covar)
        restarts.append(result)
        if best is None or better_restart(result, best):
            best = result
    gm.__dict__.pop("_online", None)
    gm._set_fitted(best, task_n_samples=task_n_samples)
    gm.restarts_ = restarts
    warn_if_not_converged(gm, stacklevel=3)
    return gm
