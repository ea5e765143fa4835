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

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from .covariance import NK_EPS, CovarianceStructure, em_start, get_structure
from .estep import accumulate, e_step, estimate_log_resp, gram
from .initialization import INIT_METHODS, initial_responsibilities
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


def _check_init_arrays(weights_init, means_init, precisions_init, structure, k, d, n_tasks):
    if weights_init is not None:
        # float32 weights sum to 1 within float32's precision (scikit-learn's 1e-6).
        atol = 1e-6 if np.asarray(weights_init).dtype == np.float32 else 1e-8
        w = np.asarray(weights_init, dtype=np.float64)
        expected = (k,) if n_tasks == 1 and w.ndim == 1 else (n_tasks, k)
        if w.shape != expected:
            raise ValueError(f"weights_init must have shape {expected}, got {w.shape}.")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights_init must be finite and non-negative.")
        if not np.allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol):
            raise ValueError("weights_init must sum to 1 (per task); normalize it first.")
        weights_init = w.reshape(n_tasks, k)
    if means_init is not None:
        m = np.asarray(means_init, dtype=np.float64)
        if m.shape != (k, d):
            raise ValueError(f"means_init must have shape {(k, d)}, got {m.shape}.")
        if not np.isfinite(m).all():
            raise ValueError("means_init contains NaN or infinity.")
        means_init = m
    if precisions_init is not None:
        precisions_init = structure.check_precisions(precisions_init, k, d)
    return weights_init, means_init, precisions_init


class _Parameters:
    """Mutable working parameters, in centered coordinates."""

    __slots__ = ("weights", "means", "covariances", "prec_chol")

    def __init__(self, weights, means, covariances, prec_chol):
        self.weights, self.means, self.covariances, self.prec_chol = (
            weights,
            means,
            covariances,
            prec_chol,
        )


def _m_step(
    stats,
    S2_fixed,
    structure: CovarianceStructure,
    reg_covar,
    previous=None,
    exact=None,
    prior=None,
):
    nk = stats.S0.sum(axis=0) + NK_EPS
    means = stats.S1 / nk[:, None]
    per_task = stats.S0 + NK_EPS
    weights = per_task / per_task.sum(axis=1, keepdims=True)
    common = structure.second_moment == "global_outer"
    S2 = S2_fixed if common else stats.S2
    if prior is not None:  # posterior mode under a conjugate prior, see engine/prior.py
        # (no two-pass fallback: the prior's scale keeps every covariance well above rounding)
        means, covariances, raw_min = prior.m_step(structure, nk, means, S2, reg_covar, previous)
        exact = None
    else:
        covariances, raw_min = structure.m_step(nk, means, S2, reg_covar, previous)
    if exact is not None:
        lost = _precision_lost(nk, S2, raw_min, reg_covar, common)
        if lost.size:
            covariances, raw_min = exact(nk, means, previous)
    prec_chol = structure.precisions_cholesky(covariances, reg_covar)
    return _Parameters(weights, means, covariances, prec_chol), nk, raw_min


def _rounded(p: _Parameters, shift, dtype) -> _Parameters:
    """For a float32 fit, the parameters rounded to float32 (means in data coordinates, i.e.
    ``shift`` added), held in float64: the snapshots hold exactly the parameters that the
    next E-step uses, and a model read back from the file predicts as the fitted one. The
    M-step itself runs in float64 (K x D x D numbers: no cost). float64 fits: ``p``."""
    if dtype != np.float32:
        return p

    def f32(a):
        return np.asarray(a, dtype=np.float32).astype(np.float64)

    # f32(x) - shift is exact in float64: two float32 values of nearby magnitude.
    means = f32(p.means + shift) - shift
    return _Parameters(f32(p.weights), means, f32(p.covariances), f32(p.prec_chol))


# The one-pass covariance S2/nk - mu mu^T loses about eps * |S2/nk| to cancellation (for tied,
# (S2 - sum_k nk mu_k mu_k^T) / n loses eps * |S2| / n). That is harmless unless a component
# is tiny next to its distance from the data mean (held up by reg_covar, or an outlier's);
# then the affected covariances are recomputed with the two-pass formula (as scikit-learn
# always does). The bar is 1e-6 relative to the smallest raw variance. Measured: with the data
# centred on their median and the tied covariance covered too, 3 points copied 1e5 times and a
# 1e12 outlier never lower the log-likelihood (worst dip 1.3e-15 relative) at 1e-6; a bar of
# 1e-9 also caught ordinary 10-D data with one thin direction (smallest variance ~1e-4) and
# ran the fallback's extra pass over the data at nearly every iteration (2x the time per
# iteration at 1e4 x 10-D x K=5, bench/run.py).
_CANCELLATION_SAFETY = 64 * np.finfo(np.float64).eps
_ACCEPTABLE_RELATIVE_ERROR = 1e-6


_NONE_LOST = np.empty(0, dtype=np.intp)
_NONE_LOST.flags.writeable = False


def _precision_lost(nk, S2, raw_min, reg_covar, common=False) -> np.ndarray:
    """Components (``[0]`` for a common covariance) whose one-pass covariance may be off by
    more than _ACCEPTABLE_RELATIVE_ERROR, shape (n_lost,)."""
    if common:
        magnitude = np.array([np.diagonal(S2).max() / nk.sum()])
    else:
        second = np.diagonal(S2, axis1=1, axis2=2) if S2.ndim == 3 else S2
        # The usual case first, in three reductions: even the largest second moment over the
        # smallest n_k errs by less than the bar at the smallest scale (this runs every
        # M-step; the per-component test below took ~7 us on small data).
        worst = _CANCELLATION_SAFETY * float(second.max()) / float(nk.min())
        if worst <= _ACCEPTABLE_RELATIVE_ERROR * (max(float(raw_min.min()), 0.0) + reg_covar):
            return _NONE_LOST
        magnitude = second.max(axis=1) / nk
    error = _CANCELLATION_SAFETY * magnitude
    scale = np.maximum(raw_min, 0.0) + reg_covar
    lost = error > _ACCEPTABLE_RELATIVE_ERROR * scale
    return np.flatnonzero(lost) if lost.any() else _NONE_LOST


def _exact_covariances(Xc, resp_of, structure: CovarianceStructure, reg_covar):
    """A closure recomputing the covariances from the two-pass scatter
    sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T of *every* component (or the common one), with the
    responsibilities ``resp_of()`` of shape (n_samples, K), asked for only when needed.

    All components and one M-step, never one component alone: in mclust's models the
    components share their volume, shape or orientation (VEV, EVE, ...), so the M-step of one
    component depends on the scatter of all; rerunning it for one component by itself gave
    that component a free covariance outside the model (VEV lost its equal shape). The
    scatter is passed as second moments about zero means, which every structure's M-step
    turns back into the same scatter (``S2 - n_k 0 0^T``); ``previous`` warm-starts the
    iterative M-steps as in the one-pass call.
    """

    def exact(nk, means, previous):
        resp = resp_of()
        k, d = means.shape
        zeros = np.zeros((k, d))
        if structure.second_moment == "global_outer":
            S2c = np.zeros((d, d))
            for j in range(k):
                diff = Xc - means[j]
                S2c += (resp[:, j, None] * diff).T @ diff
        elif structure.second_moment == "outer":
            S2c = np.empty((k, d, d))
            for j in range(k):  # K products over the rows; never a loop over samples
                diff = Xc - means[j]
                S2c[j] = (resp[:, j, None] * diff).T @ diff
        else:
            S2c = np.empty((k, d))
            for j in range(k):
                diff = Xc - means[j]
                S2c[j] = resp[:, j] @ (diff * diff)
        return structure.m_step(nk, zeros, S2c, reg_covar, previous)

    return exact


def _resp_of(Xc, task_slices, old: _Parameters, structure: CovarianceStructure):
    """The responsibilities of parameters ``old`` as a deferred call (see _exact_covariances)."""

    def resp_of():
        counts = [b - a for a, b in task_slices]
        lw = np.repeat(safe_log(old.weights), counts, axis=0)
        _, log_resp = estimate_log_resp(Xc, lw, old.means, old.prec_chol, structure)
        return np.exp(log_resp)

    return resp_of


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
) -> _Parameters:
    """Starting parameters in centered coordinates from centered rows ``Xc`` of shape (m, D)
    (all the data, or a sample of a source read block by block): the initialization method's
    responsibilities, one M-step, then any user-given arrays (already checked; ``means_init``
    in data coordinates, minus ``shift``). ``task_slices``: the rows grouped by task, as in
    :func:`iter_em`."""
    if weights_init is not None and means_init is not None and prec_chol_init is not None:
        return _Parameters(
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
    exact = _exact_covariances(Xc, lambda: resp, structure, reg_covar)
    with em_start():  # EM's first M-step: iterative ones need not solve it exactly
        params, _, _ = _m_step(stats, S2_fixed, structure, reg_covar, exact=exact, prior=prior)
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
    params: _Parameters,
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
    ``m_step_of(stats, params)`` returns ``(new params, nk (K,), raw_min)`` as ``_m_step``;
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
        yield dataclasses.replace(current, iteration=it, phase="E", log_likelihood=ll, events=())
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
    # statistics and the M-step in float64, and the parameters are float32 (see _rounded).
    X = check_X(X, n_components=k, keep_float32=True)
    dtype = X.dtype
    check_em_settings(tol, reg_covar, max_iter, init_params, convergence)
    rng = check_random_state(random_state)
    n, d = X.shape
    X, task_slices, task_names = _group_by_task(X, tasks)
    n_tasks = len(task_slices)
    weights_init, means_init, prec_chol_init = _check_init_arrays(
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

    def snapshot(iteration, phase, p: _Parameters, ll, events=()):
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
    params = _rounded(params, shift, dtype)
    current = snapshot(0, "init", params, None)
    yield current

    # -- EM ---------------------------------------------------------------------------------
    def e_step_of(p):
        return e_step(
            Xc, task_slices, safe_log(p.weights), p.means, p.prec_chol, structure,
            n_jobs=n_jobs, reuse_features=True,  # Xc is this generator's own: never modified
        )  # fmt: skip

    def m_step_of(stats, p):
        exact = _exact_covariances(
            Xc, _resp_of(Xc, task_slices, p, structure), structure, reg_covar
        )
        new, nk, raw_min = _m_step(
            stats, S2_fixed, structure, reg_covar, p.covariances, exact, prior
        )
        return _rounded(new, shift, dtype), nk, raw_min

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
