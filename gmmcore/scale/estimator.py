"""The estimator's ways in to the scale engines: ``partial_fit`` (online EM) and
``fit_source`` (a source streamed on every pass). Kept out of :mod:`gmmcore.mixture` so that
the estimator's module stays small; both end in ``GaussianMixture._set_fitted``."""

from __future__ import annotations

import numpy as np

from ..engine.online import OnlineEM
from ..restarts import RestartResult, run_result, warn_if_not_converged

__all__ = ["fit_source", "partial_fit"]


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


def fit_source(gm, source, *, init_sample=None, progress=None):
    """See :meth:`gmmcore.GaussianMixture.fit_source`."""
    from .sources import open_source
    from .stream import INIT_SAMPLE, iter_em_source

    if not hasattr(source, "blocks"):
        source = open_source(source)
    snaps = iter_em_source(
        source,
        gm.n_components,
        init_sample=INIT_SAMPLE if init_sample is None else init_sample,
        random_state=gm.random_state,
        n_jobs=gm.n_jobs,
        progress=progress,
        covariance_type=gm.covariance_type,
        tol=gm.tol,
        reg_covar=gm.reg_covar,
        max_iter=gm.max_iter,
        init_params=gm.init_params,
        weights_init=gm.weights_init,
        means_init=gm.means_init,
        precisions_init=gm.precisions_init,
    )
    return set_from_history(gm, tuple(snaps))


def set_from_history(gm, history, task_n_samples=None):
    """Make one EM run's snapshots the fitted state of ``gm`` (warning when it did not
    converge, as ``fit``); returns ``gm``."""
    result = run_result(history, reg_covar=gm.reg_covar)
    gm.__dict__.pop("_online", None)
    gm._set_fitted(result, task_n_samples=task_n_samples)
    gm.restarts_ = [result]
    warn_if_not_converged(gm, stacklevel=3)
    return gm
