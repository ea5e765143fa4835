"""EM as a generator of frozen snapshots, one after the initialization and one after every
E and M half-step. Everything else (the estimator's ``fit``, the dashboard's stepper,
progress bars, animations) consumes :func:`iter_em`.

The loop itself is the scikit-learn one, so that the same initial parameters give the same
trajectory: iteration t runs an E-step on the parameters of iteration t-1 (its
log-likelihood is the "lower bound" of iteration t), then an M-step; EM stops after the
M-step of the first iteration whose log-likelihood changed by less than ``tol``, measured by
one of :data:`CONVERGENCE_RULES`: per sample (scikit-learn's rule, the default) or relative to
the log-likelihood's size (mclust's).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .covariance import CovarianceStructure, em_start, get_structure
from .estep import accumulate, e_step, estimate_log_resp, gram
from .initialization import INIT_METHODS, initial_responsibilities
from .mstep import (
    Parameters,
    check_init_arrays,
    exact_covariances,
    m_step_from_statistics,
    resp_of_parameters,
    rounded,
)
from .prior import resolve_prior
from .snapshot import Event, Snapshot, frozen_array
from .validation import (
    check_n_components,
    check_positive,
    check_random_state,
    check_tasks,
    check_X,
)
from .weights import row_log_weights, safe_log

__all__ = [
    "CONVERGENCE_RULES",
    "Event",
    "Snapshot",
    "check_em_settings",
    "convergence_change",
    "convergence_words",
    "degenerate_components",
    "em_iterations",
    "frozen_array",
    "iter_em",
    "log_prob_resp",
    "responsibilities",
    "snapshot_log_likelihood",
    "start_parameters",
    "task_slices",
]

#: How EM measures the change of the log-likelihood L that it compares with ``tol``:
#: "mean" is scikit-learn's rule, the change of the mean log-likelihood per sample, L/N;
#: "relative" is mclust's (``emControl()$tol[1]``, 1e-5 by default), |change of L| / (1 + |L|).
#: The relative rule does not depend on N, and on data whose log-likelihood is large per
#: sample it stops sooner: Old Faithful's default grid (L ~ -1,130 at N = 272) ran 7,954 EM
#: iterations under "mean" with tol 1e-5 and 5,312 under "relative" (mclustBIC: 5,308), with
#: every cell's BIC at mclust's (bench/mclust.py).
CONVERGENCE_RULES = ("mean", "relative")

# A component whose summed responsibility falls below this holds no data any more.
EMPTY_COMPONENT_MASS = 1e-6
# A covariance whose smallest raw variance is below this many reg_covar is held up by it.
COLLAPSE_FACTOR = 10.0


def task_slices(codes, n_tasks: int):
    """Rows grouped by task: the stable order that sorts ``codes`` (None when they are sorted
    already) and the (start, stop) slice of each of the ``n_tasks`` tasks in that order."""
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable") if np.any(np.diff(codes) < 0) else None
    counts = np.bincount(codes, minlength=n_tasks)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return order, [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _group_by_task(X, tasks):
    """Rows grouped by task, the (start, stop) slice of each task, and the task names."""
    if tasks is None:
        return X, [(0, X.shape[0])], None
    codes, names = check_tasks(tasks, X.shape[0])
    order, slices = task_slices(codes, len(names))
    return (X if order is None else X[order]), slices, names


def start_parameters(
    Xc: np.ndarray,
    k: int,
    structure: CovarianceStructure,
    reg_covar: float,
    init_params: str,
    rng,
    weights_init=None,
    means_init=None,
    prec_chol_init=None,
    shift=None,
    task_slices=None,
    prior=None,
) -> Parameters:
    """Starting parameters in centered coordinates from centered rows ``Xc`` of shape (m, D)
    (all the data, or a sample of a source read block by block): the initialization method's
    responsibilities, one M-step, then any user-given arrays (already checked; ``means_init``
    in data coordinates, minus ``shift``). ``task_slices``: the rows grouped by task, as in
    :func:`iter_em`."""
    if weights_init is not None and means_init is not None and prec_chol_init is not None:
        return Parameters(
            weights_init,
            means_init - shift,
            structure.covariances_from_precisions_cholesky(prec_chol_init),
            prec_chol_init,
        )
    resp = initial_responsibilities(Xc, k, init_params, rng)
    stats = accumulate(Xc, task_slices or [(0, Xc.shape[0])], resp, structure)
    S2_fixed = gram(Xc) if structure.second_moment == "global_outer" else None
    # The two-pass fallback here too: one-row components of a random_from_data start on data
    # of scale 1e5 lost their covariance to cancellation (12 of 40 seeds failed).
    exact = exact_covariances(Xc, lambda: resp, structure, reg_covar)
    with em_start():  # EM's first M-step: iterative ones need not solve it exactly
        params, _, _ = m_step_from_statistics(
            stats, S2_fixed, structure, reg_covar, exact=exact, prior=prior
        )
    if weights_init is not None:
        params.weights = weights_init
    if means_init is not None:
        params.means = means_init - shift
    if prec_chol_init is not None:
        params.prec_chol = prec_chol_init
        params.covariances = structure.covariances_from_precisions_cholesky(prec_chol_init)
    return params


def convergence_change(
    previous_mean: float, mean: float, n_samples: int, convergence: str = "mean"
) -> float:
    """The change from ``previous_mean`` to ``mean`` (mean log-likelihoods per sample) that
    ``convergence`` (one of :data:`CONVERGENCE_RULES`) compares with ``tol``: the difference
    itself for "mean", ``(L - L_prev) / (1 + |L|)`` (``L = mean * n_samples``) for
    "relative". EM and the estimator call this one function, so that they always agree on
    when a run converged."""
    change = mean - previous_mean
    if convergence == "relative":
        return change * n_samples / (1.0 + abs(mean) * n_samples)
    return change


def convergence_words(convergence: str) -> str:
    """What ``convergence`` measures, for the messages ("the mean log-likelihood", ...)."""
    if convergence == "relative":
        return "the log-likelihood (relative to 1 + its size, mclust's rule)"
    return "the mean log-likelihood"


def em_iterations(
    current: Snapshot,
    params: Parameters,
    e_step_of,
    m_step_of,
    snapshot,
    *,
    structure: CovarianceStructure,
    n_samples: int,
    tol: float,
    reg_covar: float,
    max_iter: int,
    convergence: str = "mean",
) -> Iterator[Snapshot]:
    """The EM iterations after the start, whatever the source of the rows: an "E" snapshot
    (the parameters the E-step used and their log-likelihood) and an "M" snapshot (the new
    parameters, with the events of the half-step) per iteration, until the log-likelihood
    changes by less than ``tol`` (measured by ``convergence``, see
    :func:`convergence_change`) or ``max_iter`` is reached.

    ``e_step_of(params)`` returns the summed :class:`SufficientStatistics` of every row;
    ``m_step_of(stats, params)`` returns ``(new params, nk (K,), raw_min)`` as
    :func:`~gmmcore.engine.mstep.m_step_from_statistics`;
    ``snapshot(iteration, phase, params, log_likelihood, events)`` builds a Snapshot;
    ``current`` is the initialization snapshot.
    """
    prev_mean_ll = -np.inf
    empty_set: frozenset[int] = frozenset()
    empty: set[int] | frozenset[int] = empty_set
    collapsed: set[int] | frozenset[int] = empty_set
    for it in range(1, max_iter + 1):
        stats = e_step_of(params)
        ll = stats.log_likelihood
        # The E snapshot holds the same (frozen) arrays as the M snapshot before it.
        yield current.replace(iteration=it, phase="E", log_likelihood=ll, events=())
        params, nk, raw_min = m_step_of(stats, params)
        events = []
        # The usual case (nothing empty or collapsed) costs one reduction each (written so
        # that a NaN minimum takes the per-component test).
        if not float(nk.min()) >= EMPTY_COMPONENT_MASS:
            now_empty = {int(j) for j in np.flatnonzero(nk < EMPTY_COMPONENT_MASS)}
        else:
            now_empty = empty_set
        for j in sorted(now_empty - empty):
            events.append(
                Event(
                    "component_empty",
                    j,
                    f"Component {j} lost all its points (summed responsibility "
                    f"{nk[j]:.2g}); its weight is now zero.",
                )
            )
        empty = now_empty
        bar = COLLAPSE_FACTOR * reg_covar
        if not float(np.min(raw_min)) > bar:
            now_collapsed = {int(j) for j in np.flatnonzero(raw_min <= bar)}
        else:
            now_collapsed = empty_set
        for j in sorted(now_collapsed - collapsed - now_empty):
            common = structure.common_covariance
            which = "The shared covariance" if common else f"Component {j}'s covariance"
            events.append(
                Event(
                    "covariance_collapsed",
                    None if common else j,
                    f"{which} collapsed (smallest variance {max(raw_min[j], 0):.2g}); "
                    f"reg_covar={reg_covar:g} is what keeps it positive definite.",
                )
            )
        collapsed = now_collapsed
        mean_ll = ll / n_samples
        change = convergence_change(prev_mean_ll, mean_ll, n_samples, convergence)
        prev_mean_ll = mean_ll
        converged = abs(change) < tol
        if converged:
            events.append(
                Event(
                    "converged",
                    None,
                    f"Converged: {convergence_words(convergence)} changed by "
                    f"{abs(change):.3g} < tol={tol:g} at iteration {it}.",
                )
            )
        elif it == max_iter:
            unit = " relative" if convergence == "relative" else " per sample"
            events.append(
                Event(
                    "max_iter",
                    None,
                    f"Stopped at max_iter={max_iter} before converging (last change "
                    f"{change:.3g}{unit}); raise max_iter or tol.",
                )
            )
        current = snapshot(it, "M", params, ll, events)
        yield current
        if converged:
            return


def check_em_settings(tol, reg_covar, max_iter, init_params, convergence="mean") -> None:
    """ValueError naming the setting, unless tol, reg_covar >= 0, max_iter a whole number
    >= 0, init_params one of :data:`INIT_METHODS` and convergence one of
    :data:`CONVERGENCE_RULES`."""
    if convergence not in CONVERGENCE_RULES:
        raise ValueError(
            f"Unknown convergence {convergence!r}; choose one of "
            f"{', '.join(CONVERGENCE_RULES)} (per-sample change, or mclust's relative one)."
        )
    check_positive(tol, "tol", allow_zero=True)
    check_positive(reg_covar, "reg_covar", allow_zero=True)
    check_positive(max_iter, "max_iter", allow_zero=True, integer=True)
    if init_params not in INIT_METHODS:
        raise ValueError(
            f"Unknown init_params {init_params!r}; choose one of {', '.join(INIT_METHODS)}."
        )


def iter_em(
    X,
    n_components: int = 1,
    *,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    init_params: str = "kmeans",
    weights_init=None,
    means_init=None,
    precisions_init=None,
    random_state=None,
    tasks: Sequence | None = None,
    n_jobs: int | None = None,
    prior=None,
    convergence: str = "mean",
) -> Iterator[Snapshot]:
    """Run EM and yield a frozen :class:`Snapshot` after the initialization and after every
    E and M half-step.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        Stop when the log-likelihood changes by less than this, as ``convergence`` measures.
    reg_covar : float
        Added to the diagonal of every covariance.
    max_iter : int
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}
    weights_init : array-like of shape (K,), or (n_tasks, K) with ``tasks``
    means_init : array-like of shape (K, D)
    precisions_init : array-like, shape depends on ``covariance_type``
    random_state : None, int or numpy RandomState
    tasks : array-like of shape (n_samples,), optional
        A task label per row. Then the mixture is *shared*: one set of components, one weight
        vector per task (``weights`` has shape (n_tasks, K), tasks in sorted label order).
    n_jobs : int, optional
        Threads for the E-step (scikit-learn's meaning: None is 1, -1 every core). The
        snapshots are bit-identical for every value (see :func:`gmmcore.engine.estep.e_step`).
    prior : None, "default" or ConjugatePrior, optional
        mclust's conjugate prior: every M-step is then the posterior mode (see
        :mod:`gmmcore.engine.prior`); "default" is mclust's ``defaultPrior`` of X.
    convergence : {"mean", "relative"}, default="mean"
        How the change compared with ``tol`` is measured: per sample (scikit-learn's rule) or
        relative to ``1 + |log-likelihood|`` (mclust's), see :data:`CONVERGENCE_RULES`.

    Yields
    ------
    Snapshot

    Raises
    ------
    ValueError
        For invalid input (checked before the first snapshot) and, during EM, when a
        covariance cannot be kept positive definite (see ``IllConditionedCovarianceError``).

    Examples
    --------
    >>> X = np.r_[np.zeros((20, 1)), np.ones((20, 1))] + np.linspace(0, 0.2, 40)[:, None]
    >>> snaps = list(iter_em(X, 2, random_state=0, max_iter=5))
    >>> [s.phase for s in snaps[:5]]
    ['init', 'E', 'M', 'E', 'M']
    >>> lls = [s.log_likelihood for s in snaps if s.phase == "E"]
    >>> all(b >= a for a, b in zip(lls, lls[1:]))  # EM never decreases the likelihood
    True
    """
    k = check_n_components(n_components)
    structure = get_structure(covariance_type)
    # float32 data stay float32 (scikit-learn >= 1.7): the E-step computes in float32, the
    # statistics and the M-step in float64, and the parameters are float32 (see rounded).
    X = check_X(X, n_components=k, keep_float32=True)
    dtype = X.dtype
    check_em_settings(tol, reg_covar, max_iter, init_params, convergence)
    rng = check_random_state(random_state)
    n, d = X.shape
    X, task_slices, task_names = _group_by_task(X, tasks)
    n_tasks = len(task_slices)
    weights_init, means_init, prec_chol_init = check_init_arrays(
        weights_init, means_init, precisions_init, structure, k, d, n_tasks
    )
    # Work in coordinates centered on the data: the second moments are then as well
    # conditioned as the two-pass formulas, at the cost of a single pass per iteration. The
    # median, not the mean: one outlier at 1e12 drags the mean of 200 rows 5e9 away from all
    # the others, whose means and differences then round at eps * 5e9 ~ 1e-6 of their spread.
    shift = np.median(X, axis=0)
    Xc = X - shift
    if prior is not None:  # mclust's conjugate prior, in the centered coordinates
        prior = resolve_prior(prior, X, k, structure.name).shifted(shift)
    S2_fixed = gram(Xc) if structure.second_moment == "global_outer" else None
    task_tuple = tuple(task_names) if task_names is not None else None

    def snapshot(iteration, phase, p: Parameters, ll, events=()):
        w = p.weights[0] if task_tuple is None else p.weights
        return Snapshot(
            iteration=iteration,
            phase=phase,
            weights=frozen_array(w, dtype),
            means=frozen_array(p.means + shift, dtype),
            covariances=frozen_array(p.covariances, dtype),
            precisions_cholesky=frozen_array(p.prec_chol, dtype),
            covariance_type=structure.name,
            log_likelihood=None if ll is None else float(ll),
            n_samples=n,
            events=tuple(events),
            tasks=task_tuple,
        )

    # -- initialization -------------------------------------------------------------------
    params = start_parameters(
        Xc, k, structure, reg_covar, init_params, rng, weights_init, means_init,
        prec_chol_init, shift, task_slices, prior,
    )  # fmt: skip
    params = rounded(params, shift, dtype)
    current = snapshot(0, "init", params, None)
    yield current

    # -- EM ---------------------------------------------------------------------------------
    def e_step_of(p):
        return e_step(
            Xc, task_slices, safe_log(p.weights), p.means, p.prec_chol, structure,
            n_jobs=n_jobs, reuse_features=True,  # Xc is this generator's own: never modified
        )  # fmt: skip

    def m_step_of(stats, p):
        exact = exact_covariances(
            Xc, resp_of_parameters(Xc, task_slices, p, structure), structure, reg_covar
        )
        new, nk, raw_min = m_step_from_statistics(
            stats, S2_fixed, structure, reg_covar, p.covariances, exact, prior
        )
        return rounded(new, shift, dtype), nk, raw_min

    yield from em_iterations(
        current, params, e_step_of, m_step_of, snapshot, structure=structure, n_samples=n,
        tol=tol, reg_covar=reg_covar, max_iter=max_iter, convergence=convergence,
    )  # fmt: skip


def degenerate_components(snapshot: Snapshot, reg_covar: float) -> list[int]:
    """Components of a snapshot that are degenerate: weight (in every task) below one point's
    worth, or a covariance whose smallest eigenvalue is held up only by ``reg_covar``
    (raw variance <= COLLAPSE_FACTOR * reg_covar). Sorted indices; empty for a sound fit."""
    k, d = snapshot.means.shape
    covs = get_structure(snapshot.covariance_type).covariance_matrices(
        np.asarray(snapshot.covariances), k, d
    )
    smallest = np.linalg.eigvalsh(covs)[:, 0]
    weights = np.atleast_2d(snapshot.weights)
    empty = (weights * snapshot.n_samples < EMPTY_COMPONENT_MASS).all(axis=0)
    collapsed = smallest <= (COLLAPSE_FACTOR + 1.0) * reg_covar
    return [int(j) for j in np.flatnonzero(empty | collapsed)]


def log_prob_resp(snapshot: Snapshot, X, tasks=None, *, unknown_weights=None):
    """Per-row log-likelihood and log-responsibilities of a snapshot's parameters for any X.

    Parameters
    ----------
    snapshot : Snapshot
    X : array-like of shape (n_samples, n_features)
    tasks : array-like of shape (n_samples,), optional
        Required for a multi-task snapshot (its ``tasks`` name the rows of its weights).
    unknown_weights : ndarray of shape (K,), optional
        Weights for rows whose task the snapshot does not know (see
        :func:`gmmcore.engine.weights.row_log_weights`); without it they are a ValueError.

    Returns
    -------
    log_likelihood : ndarray of shape (n_samples,)
    log_resp : ndarray of shape (n_samples, K)
        float32 when X and the snapshot are float32, else float64 (scikit-learn's promotion).
    """
    X = check_X(X, n_features=snapshot.means.shape[1], allow_constant=True, keep_float32=True)
    lw = row_log_weights(
        snapshot.weights, snapshot.tasks, tasks, X.shape[0], unknown_weights=unknown_weights
    )
    structure = get_structure(snapshot.covariance_type)
    return estimate_log_resp(X, lw, snapshot.means, snapshot.precisions_cholesky, structure)


def responsibilities(snapshot: Snapshot, X, tasks=None) -> np.ndarray:
    """Responsibilities of the snapshot's parameters for any X, shape (n_samples, K).

    For an "E" snapshot these are exactly the responsibilities that E-step computed. Rows sum
    to 1. ``tasks`` (one label per row) is required for a multi-task snapshot.
    """
    _, log_resp = log_prob_resp(snapshot, X, tasks)
    return np.exp(log_resp)


def snapshot_log_likelihood(snapshot: Snapshot, X, tasks=None) -> float:
    """Total log-likelihood of X under the snapshot's parameters."""
    log_norm, _ = log_prob_resp(snapshot, X, tasks)
    return float(log_norm.sum(dtype=np.float64))
