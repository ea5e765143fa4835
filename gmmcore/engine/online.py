"""Online (stepwise) EM: Cappé & Moulines (2009), "On-line expectation-maximization
algorithm for latent data models", J. R. Stat. Soc. B 71(3).

The statistics are the batch E-step's (:func:`gmmcore.engine.estep.e_step`), per row: for
mini-batch t of m_t rows, ``s_hat_t = stats(batch_t) / m_t``. The running statistics move a
step towards it,

    s_t = (1 - gamma_t) s_{t-1} + gamma_t s_hat_t,   gamma_t = (t + t0)^(-alpha),

and the parameters are the ordinary M-step of ``s_t``. With alpha in (0.5, 1] the steps
satisfy sum gamma = inf and sum gamma^2 < inf, the conditions under which the running
statistics converge to a stationary point of the expected log-likelihood. alpha = 1, t0 = 0
is the running average of all batches; smaller alpha forgets the early batches (whose
statistics were computed with poor parameters) faster. The defaults, alpha = 0.6 and t0 = 2,
were the best of alpha in {0.51, 0.6, 0.75, 1} x t0 in {0, 2, 10} on the two-blob and 8-blob
problems of tests/test_online.py (one pass of 200 batches of 5,000 rows).

Coordinates are centered on the first batch's median (see :func:`gmmcore.engine.em.iter_em`),
where the start is computed too (``init_params`` on the first batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .covariance import get_structure
from .em import (
    Snapshot,
    check_em_settings,
    frozen_array,
    start_parameters,
)
from .estep import SufficientStatistics, e_step, gram
from .mstep import check_init_arrays, m_step_from_statistics
from .validation import check_n_components, check_positive, check_random_state, check_X
from .weights import safe_log

__all__ = ["OnlineEM", "check_step_schedule", "iter_online_em", "step_size"]


def check_step_schedule(step_exponent, step_offset) -> None:
    """ValueError unless 0.5 < step_exponent <= 1 and step_offset >= 0."""
    if not (isinstance(step_exponent, (int, float, np.number)) and 0.5 < step_exponent <= 1):
        raise ValueError(f"step_exponent must be in (0.5, 1], got {step_exponent!r}.")
    check_positive(step_offset, "step_offset", allow_zero=True)


def step_size(t: int, step_exponent: float = 0.6, step_offset: float = 2.0) -> float:
    """gamma_t = (t + t0)^(-alpha), for t = 1, 2, ..."""
    return float((t + step_offset) ** (-step_exponent))


class OnlineEM:
    """The state of stepwise EM: running per-row statistics and current parameters.

    Picklable (plain arrays), so an estimator holding it can be saved between batches.

    Parameters
    ----------
    n_components, covariance_type, reg_covar, init_params, random_state,
    weights_init, means_init, precisions_init : as :func:`gmmcore.engine.em.iter_em`
    step_exponent : float in (0.5, 1], default 0.6
        alpha of the step size ``gamma_t = (t + step_offset)^(-alpha)``.
    step_offset : float >= 0, default 2
        t0 of the step size.
    n_jobs : int, optional
        Threads of each batch's E-step.
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        reg_covar=1e-6,
        init_params="kmeans",
        random_state=None,
        weights_init=None,
        means_init=None,
        precisions_init=None,
        step_exponent=0.6,
        step_offset=2.0,
        n_jobs=None,
    ):
        self.k = check_n_components(n_components)
        self.structure = get_structure(covariance_type)
        check_em_settings(0.0, reg_covar, 0, init_params)
        check_step_schedule(step_exponent, step_offset)
        self.reg_covar, self.init_params = reg_covar, init_params
        self.rng = check_random_state(random_state)
        self.inits = (weights_init, means_init, precisions_init)
        self.alpha, self.t0, self.n_jobs = float(step_exponent), float(step_offset), n_jobs
        self.t = 0
        self.shift = self.params = self.stats = self.S2_fixed = None
        self.n_seen = 0

    @property
    def started(self) -> bool:
        return self.params is not None

    def _snapshot(self, phase, ll, n):
        p = self.params
        return Snapshot(
            iteration=self.t,
            phase=phase,
            weights=frozen_array(p.weights[0]),
            means=frozen_array(p.means + self.shift),
            covariances=frozen_array(p.covariances),
            precisions_cholesky=frozen_array(p.prec_chol),
            covariance_type=self.structure.name,
            log_likelihood=None if ll is None else float(ll),
            n_samples=int(n),
        )

    def start(self, X) -> Snapshot:
        """Center on X's median and compute the start on X; returns the "init" snapshot."""
        X = check_X(X, n_components=self.k)
        d = X.shape[1]
        w, m, p = check_init_arrays(*self.inits, self.structure, self.k, d, 1)
        self.shift = np.median(X, axis=0)
        Xc = X - self.shift
        self.params = start_parameters(
            Xc, self.k, self.structure, self.reg_covar, self.init_params, self.rng, w, m, p,
            self.shift,
        )  # fmt: skip
        return self._snapshot("init", None, X.shape[0])

    def update(self, X) -> tuple[Snapshot, Snapshot]:
        """One stepwise step on the mini-batch X, shape (m, D): its E-step with the current
        parameters, the running statistics moved by gamma_t, one M-step. Returns the "E"
        snapshot (the batch's log-likelihood under the parameters it used) and the "M" one."""
        if not self.started:
            raise RuntimeError("call start(X) first (or use iter_online_em).")
        X = check_X(X, n_features=self.shift.shape[0])
        m = X.shape[0]
        Xc = X - self.shift
        p = self.params
        st = e_step(
            Xc, [(0, m)], safe_log(p.weights), p.means, p.prec_chol, self.structure,
            n_jobs=self.n_jobs,
        )  # fmt: skip
        self.t += 1
        self.n_seen += m
        gamma = step_size(self.t, self.alpha, self.t0)
        common = self.structure.second_moment == "global_outer"
        g = gram(Xc) / m if common else None
        new = SufficientStatistics(
            st.S0 / m, st.S1 / m, None if st.S2 is None else st.S2 / m, st.log_likelihood
        )
        if self.stats is None:  # gamma_1 < 1 with t0 > 0: s_0 is the first batch's own
            self.stats, self.S2_fixed = new, g
        else:
            old = self.stats
            self.stats = SufficientStatistics(
                (1 - gamma) * old.S0 + gamma * new.S0,
                (1 - gamma) * old.S1 + gamma * new.S1,
                None if new.S2 is None else (1 - gamma) * old.S2 + gamma * new.S2,
                st.log_likelihood,
            )
            if common:
                self.S2_fixed = (1 - gamma) * self.S2_fixed + gamma * g
        e_snap = self._snapshot("E", st.log_likelihood, m)
        self.params, _, _ = m_step_from_statistics(
            self.stats, self.S2_fixed, self.structure, self.reg_covar, p.covariances
        )
        return e_snap, self._snapshot("M", st.log_likelihood, m)


def iter_online_em(batches: Iterable, n_components: int = 1, **settings) -> Iterator[Snapshot]:
    """Stepwise EM over an iterable of mini-batches, each array-like of shape (m_t, D):
    yields the "init" snapshot (the start, on the first batch), then an "E" and an "M"
    snapshot per batch (the first batch included), as :func:`gmmcore.engine.em.iter_em`.

    ``settings`` are :class:`OnlineEM`'s. A snapshot's ``n_samples`` and
    ``mean_log_likelihood`` are the batch's.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> batches = (rng.normal([0, 5][t % 2], 1, (500, 1)) for t in range(40))
    >>> snaps = list(iter_online_em(batches, 2, random_state=0))
    >>> [s.phase for s in snaps[:3]], snaps[-1].iteration
    (['init', 'E', 'M'], 40)
    """
    state = OnlineEM(n_components, **settings)
    for X in batches:
        if not state.started:
            yield state.start(X)
        yield from state.update(X)
