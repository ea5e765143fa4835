"""Multi-task mixtures: the same kinds of clusters in several related tasks.

Data with a task column (the island a penguin was measured on, the sample a cell comes from)
can be fitted three ways, all with the same number of components K:

``pooled``
    One mixture for all rows; the task is ignored. Fewest parameters, but every task gets the
    same mixing weights.
``separate``
    One independent mixture of K components per task. Most parameters; nothing is shared, so
    component ``j`` of one task has nothing to do with component ``j`` of another.
``shared``
    One set of K components (means and covariances) shared by all tasks, and one weight vector
    per task. The E-step uses the weights of the row's task; the M-step pools the statistics of
    all tasks for the means and covariances and averages the responsibilities within each task
    for its weights. It runs through the same snapshot generator as a single mixture
    (:func:`gmmcore.iter_em` with ``tasks=``), so it can be stepped through half-step by
    half-step and its log-likelihood never decreases.

All three model the density of a row given its task, ``p(x | task)`` (the pooled model simply
does not depend on the task), so their log-likelihoods, BIC, AIC and ICL on the same rows
compare fairly; :func:`compare_modes` adds a held-out comparison on a per-task split.

Numerics live in :mod:`gmmcore.engine` and prediction in :class:`gmmcore.FittedModel` (which
:func:`fit_multitask` returns, whatever the mode); this module fits and compares the modes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .datasets import MixtureTruth, make_mixture
from .engine import criteria
from .engine.covariance import get_structure
from .engine.validation import check_n_components, check_random_state, check_X, task_labels
from .mixture import GaussianMixture
from .model import MODES, FittedModel

__all__ = [
    "MODES",
    "compare_modes",
    "fit_multitask",
    "make_multitask_data",
    "train_test_split_by_task",
]


def _check_mode(mode) -> str:
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    return mode


def _task_names(labels: np.ndarray) -> tuple[str, ...]:
    return tuple(sorted(set(labels.tolist())))


def _check_multitask_data(X, tasks, n_components, needs: str):
    """X as an array, its task labels as strings, the sorted task names (at least two)."""
    Xa = check_X(X, n_components=n_components, keep_float32=True)
    labels = task_labels(tasks, Xa.shape[0])
    names = _task_names(labels)
    if len(names) < 2:
        raise ValueError(
            f"tasks has a single task ({names[0]!r}); {needs} at least two. For one task fit "
            "a plain gmmcore.GaussianMixture instead."
        )
    return Xa, labels, names


# -- fitting ----------------------------------------------------------------------------------
def fit_multitask(
    X,
    tasks,
    n_components: int,
    *,
    mode: str = "shared",
    covariance_type: str = "full",
    n_init: int = 1,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    init_params: str = "kmeans",
    random_state=0,
    weights_init=None,
    means_init=None,
    precisions_init=None,
    prior=None,
    convergence: str = "mean",
) -> FittedModel:
    """Fit a mixture to data with a task column, pooled, separate or shared.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    tasks : array-like of shape (n_samples,)
        Task label per row (compared as strings); at least two distinct tasks.
    n_components : int
        K (per task in separate mode).
    mode : {"pooled", "separate", "shared"}
    covariance_type, n_init, tol, convergence, reg_covar, max_iter, init_params, random_state
        As for :class:`gmmcore.GaussianMixture`. In separate mode each task's mixture gets
        the same settings and the same seed.
    weights_init, means_init, precisions_init : array-like, optional
        Pooled and shared modes only, as for :class:`gmmcore.GaussianMixture`; for shared,
        ``weights_init`` has shape (n_tasks, K) with tasks in sorted order and may contain
        exact zeros (a component absent from a task).
    prior : None, "default" or ConjugatePrior, optional
        mclust's conjugate prior, as for :class:`gmmcore.GaussianMixture` ("default" is
        computed from the rows each mixture is fitted to: all of them, or one task's).

    Returns
    -------
    FittedModel
        In ``mode``; positional columns (``feature_names`` None), no standardizer, and the
        fitting rows per task in ``task_n_samples``.

    Raises
    ------
    ValueError
        Unknown mode; tasks missing, of the wrong length, or with a single task; in separate
        mode a task with fewer rows than ``n_components`` (named); anything
        :class:`gmmcore.GaussianMixture` rejects.
    """
    mode = _check_mode(mode)
    k = check_n_components(n_components)
    get_structure(covariance_type)
    Xa, labels, names = _check_multitask_data(X, tasks, k, "multi-task modes need")
    counts = {t: int((labels == t).sum()) for t in names}
    settings = dict(
        n_components=k,
        covariance_type=covariance_type,
        n_init=n_init,
        tol=tol,
        convergence=convergence,
        reg_covar=reg_covar,
        max_iter=max_iter,
        init_params=init_params,
        random_state=random_state,
        prior=prior,
    )
    inits = dict(weights_init=weights_init, means_init=means_init, precisions_init=precisions_init)
    if mode == "separate":
        if any(v is not None for v in inits.values()):
            raise ValueError(
                "weights_init, means_init and precisions_init apply to pooled and shared mode "
                "only; in separate mode fit each task with gmmcore.GaussianMixture instead."
            )
        small = [t for t in names if counts[t] < k]
        if small:
            detail = ", ".join(f"{t!r} has {counts[t]}" for t in small)
            raise ValueError(
                f"separate mode fits {k} components to each task, but task {detail} row(s); "
                "use fewer components, drop or merge that task, or use mode='shared'."
            )
        models = {}
        for t in names:
            gm = GaussianMixture(**settings)
            try:
                gm.fit(Xa[labels == t])
            except ValueError as exc:
                raise ValueError(f"separate mode, task {t!r}: {exc}") from exc
            models[t] = gm
        return FittedModel(None, task_n_samples=[counts[t] for t in names], submodels=models)
    task_n_samples = [counts[t] for t in names]
    if mode == "pooled":
        gm = GaussianMixture(**settings, **inits).fit(Xa)
        return FittedModel(gm, task_n_samples=task_n_samples, task_names=names)
    gm = GaussianMixture(**settings, **inits).fit(Xa, tasks=labels)
    # The engine sorts task names the same way; anything else would misalign weights_.
    assert tuple(gm.tasks_) == names
    return FittedModel(gm, task_n_samples=task_n_samples)


# -- held-out comparison ----------------------------------------------------------------------
def train_test_split_by_task(tasks, test_size: float = 0.25, random_state=0):
    """Split row indices into train and test, stratified by task and seeded.

    Each task with ``n_t`` rows puts ``round(test_size * n_t)`` of them in the test set,
    clipped so that a task with at least two rows keeps at least one row on both sides (a
    task with a single row keeps it in train).

    Parameters
    ----------
    tasks : array-like of shape (n_samples,)
    test_size : float in (0, 1)
    random_state : None, int or RandomState

    Returns
    -------
    train_idx, test_idx : sorted ndarrays of int, disjoint, together ``0 .. n_samples-1``.
    """
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, (int, float, np.floating))
        or not 0 < test_size < 1
    ):
        raise ValueError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}."
        )
    labels = task_labels(tasks, len(tasks) if hasattr(tasks, "__len__") else np.size(tasks))
    rng = check_random_state(random_state)
    train, test = [], []
    for t in _task_names(labels):
        rows = np.flatnonzero(labels == t)
        rows = rows[rng.permutation(rows.size)]
        n_test = int(round(test_size * rows.size))
        n_test = min(max(n_test, 1), rows.size - 1) if rows.size >= 2 else 0
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _summary(df: pd.DataFrame) -> str:
    ok = df[df["error"].isna() & np.isfinite(df["bic"].astype(float))]
    failed = [
        f"{m} failed ({e})"
        for m, e in zip(df["mode"], df["error"], strict=True)
        if isinstance(e, str)
    ]
    parts = []
    if len(ok):
        best = ok.loc[ok["bic"].astype(float).idxmin()]
        others = ok[ok["mode"] != best["mode"]]
        if len(others):
            gaps = " and ".join(
                f"than {r['mode']} by {_fmt(r['bic'] - best['bic'])}" for _, r in others.iterrows()
            )
            parts.append(f"{best['mode']} wins on BIC ({_fmt(best['bic'])}), lower {gaps}")
        else:
            parts.append(f"only {best['mode']} could be fitted (BIC {_fmt(best['bic'])})")
    held = df[np.isfinite(df["heldout_per_sample"].astype(float))]
    if len(held):
        best_h = held.loc[held["heldout_per_sample"].astype(float).idxmax()]
        others = held[held["mode"] != best_h["mode"]]
        vs = " and ".join(
            f"{_fmt(r['heldout_per_sample'])} ({r['mode']})" for _, r in others.iterrows()
        )
        same = len(ok) and best_h["mode"] == best["mode"]
        lead = f"{best_h['mode']} also wins" if same else f"{best_h['mode']} wins"
        text = f"{lead} on held-out log-likelihood per row: {_fmt(best_h['heldout_per_sample'])}"
        parts.append(text + (f" vs {vs}" if vs else ""))
    if failed:
        parts.append("; ".join(failed))
    if not parts:
        return "No mode could be fitted."
    return "; ".join(parts) + "."


def compare_modes(
    X,
    tasks,
    n_components: int,
    *,
    covariance_type: str = "full",
    test_size: float = 0.25,
    n_init: int = 1,
    random_state=0,
    **fit_kwargs,
) -> pd.DataFrame:
    """Fit pooled, separate and shared mixtures and compare them on criteria and held-out data.

    Each mode is fitted twice: on all rows (for log-likelihood, BIC, AIC and ICL, all with the
    same N so they compare fairly; see :meth:`gmmcore.FittedModel.bic`) and on the train part of
    :func:`train_test_split_by_task` (for the log-likelihood of the test part). A mode that
    fails (e.g. separate mode with a task smaller than K) gets its reason in ``error`` and
    NaN numbers; the other modes still run.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    tasks : array-like of shape (n_samples,)
    n_components : int
    covariance_type : str
    test_size : float, fraction of each task's rows held out
    n_init : int, EM restarts per fit
    random_state : int, seeds both the split and the fits
    **fit_kwargs : passed to :func:`fit_multitask` (tol, reg_covar, max_iter, init_params)

    Returns
    -------
    DataFrame with one row per mode in :data:`MODES` order and columns ``mode,
    n_parameters, log_likelihood, bic, aic, icl, heldout_log_likelihood`` (total over test
    rows), ``heldout_per_sample`` (its mean per test row), ``heldout[<task>]`` (mean per test
    row of that task) and ``error`` (None, or why the mode failed).
    ``df.attrs["summary"]`` is one sentence saying which mode wins on BIC and on held-out
    log-likelihood and by how much; ``df.attrs`` also holds ``n_train`` and ``n_test``.
    """
    k = check_n_components(n_components)
    Xa, labels, names = _check_multitask_data(X, tasks, k, "comparing modes needs")
    train, test = train_test_split_by_task(labels, test_size=test_size, random_state=random_state)
    options = dict(
        covariance_type=covariance_type, n_init=n_init, random_state=random_state, **fit_kwargs
    )
    rows = []
    for mode in MODES:
        row = {
            "mode": mode,
            "n_parameters": np.nan,
            "log_likelihood": np.nan,
            "bic": np.nan,
            "aic": np.nan,
            "icl": np.nan,
            "heldout_log_likelihood": np.nan,
            "heldout_per_sample": np.nan,
        }
        row.update({f"heldout[{t}]": np.nan for t in names})
        row["error"] = None
        try:
            model = fit_multitask(Xa, labels, k, mode=mode, **options)
            log_norm, log_resp = model.log_prob_resp(Xa, labels)
            ll = float(log_norm.sum())
            p = model.n_parameters()
            row.update(
                n_parameters=p,
                log_likelihood=ll,
                bic=criteria.bic(ll, p, Xa.shape[0]),
                aic=criteria.aic(ll, p),
                icl=criteria.icl(ll, p, Xa.shape[0], log_resp),
            )
        except ValueError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        try:
            held = fit_multitask(Xa[train], labels[train], k, mode=mode, **options)
            ll_test = held.score_samples(Xa[test], labels[test])
            row["heldout_log_likelihood"] = float(ll_test.sum())
            row["heldout_per_sample"] = float(ll_test.mean()) if ll_test.size else np.nan
            for t in names:
                mine = ll_test[labels[test] == t]
                row[f"heldout[{t}]"] = float(mine.mean()) if mine.size else np.nan
        except ValueError as exc:
            row["error"] = f"held-out fit: {exc}"
        rows.append(row)
    df = pd.DataFrame(rows)
    df["n_parameters"] = df["n_parameters"].astype("Int64")
    df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
    df.attrs["summary"] = _summary(df)
    df.attrs["n_train"] = int(train.size)
    df.attrs["n_test"] = int(test.size)
    return df


# -- synthetic data ---------------------------------------------------------------------------
def make_multitask_data(
    n_samples: int = 600,
    n_features: int = 2,
    n_components: int = 3,
    n_tasks: int = 3,
    *,
    separation: float = 4.0,
    task_weights=None,
    covariance_shape: str = "random",
    random_state=0,
) -> tuple[pd.DataFrame, MixtureTruth]:
    """Draw multi-task data: components shared by all tasks, each task with its own weights.

    A thin wrapper over :func:`gmmcore.datasets.make_mixture` with ``n_tasks``.

    Parameters
    ----------
    n_samples : int, total rows, split evenly across tasks
    n_features, n_components : int
    n_tasks : int >= 2
    separation : float, typical distance between means in component standard deviations
    task_weights : array-like of shape (n_tasks, K), optional
        Non-negative; each row is normalized to sum to 1. Exact zeros are allowed (that
        component is absent from that task). Default: random Dirichlet(1) weights per task.
    covariance_shape : {"random", "spherical", "diagonal", "elongated"}
    random_state : None, int or RandomState

    Returns
    -------
    data : DataFrame with columns ``x1..xD``, ``component`` (the true component) and ``task``
        (``"task 1"``, ``"task 2"``, ...)
    truth : MixtureTruth with ``weights`` of shape (n_tasks, K) (normalized), ``means``,
        ``covariances`` (K, D, D) and ``tasks``.
    """
    k = check_n_components(n_components)
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 2:
        raise ValueError(
            f"n_tasks must be a whole number >= 2, got {n_tasks!r}; for a single task use "
            "gmmcore.datasets.make_mixture."
        )
    if task_weights is not None:
        w = np.asarray(task_weights, dtype=np.float64)
        if w.shape != (n_tasks, k):
            raise ValueError(
                f"task_weights must have shape (n_tasks, n_components) = {(n_tasks, k)}, got "
                f"{w.shape}."
            )
        if not np.isfinite(w).all() or (w < 0).any() or (w.sum(axis=1) <= 0).any():
            raise ValueError(
                "task_weights must be finite and non-negative with at least one positive "
                "weight per task."
            )
        task_weights = w / w.sum(axis=1, keepdims=True)
    return make_mixture(
        n_samples,
        n_features,
        k,
        separation=separation,
        covariance_shape=covariance_shape,
        n_tasks=int(n_tasks),
        weights=task_weights,
        random_state=random_state,
    )
