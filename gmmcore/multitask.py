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

Numerics live in :mod:`gmmcore.em` and :mod:`gmmcore.estep`; this module validates task labels,
routes rows to the right weights or the right per-task mixture, and sums criteria.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .engine import criteria
from .engine.validation import check_n_components, check_random_state, check_X
from .engine.covariance import get_structure
from .datasets import MixtureTruth, make_mixture
from .engine.estep import estimate_log_resp
from .mixture import GaussianMixture

__all__ = [
    "MODES",
    "MultiTaskMixture",
    "fit_multitask",
    "compare_modes",
    "train_test_split_by_task",
    "make_multitask_data",
]

MODES = ("pooled", "separate", "shared")
UNKNOWN_TASK_POLICIES = ("error", "pooled")


# -- validation at the boundary ---------------------------------------------------------------
def _safe_log(a) -> np.ndarray:
    """log with exact zeros mapped to -inf and no RuntimeWarning (a component absent from a
    task has weight exactly 0)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(a, dtype=np.float64))


def _task_labels(tasks, n_samples: int) -> np.ndarray:
    """Task labels as an object array of ``str`` of shape (n_samples,).

    Labels are compared as strings everywhere (``1`` and ``"1"`` are the same task), so a model
    fitted on a column read from CSV predicts on the same column read from JSON.
    """
    if tasks is None:
        raise ValueError(
            "tasks is required: pass one task label per row (e.g. df['island'])."
        )
    labels = np.asarray(tasks, dtype=object)
    if labels.ndim != 1:
        labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"tasks must have one label per row of X: X has {n_samples} row(s) but tasks has "
            f"shape {np.shape(tasks)}; pass the task column of the same rows."
        )
    missing = pd.isna(labels)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"tasks has {int(missing.sum())} missing label(s) (first at row {first}); give every "
            "row a task label or drop those rows."
        )
    return np.array([str(v) for v in labels.tolist()], dtype=object)


def _check_mode(mode) -> str:
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    return mode


def _check_unknown_task(policy) -> str:
    if policy not in UNKNOWN_TASK_POLICIES:
        raise ValueError(
            f"unknown_task must be one of {UNKNOWN_TASK_POLICIES}, got {policy!r}."
        )
    return policy


def _task_names(labels: np.ndarray) -> tuple[str, ...]:
    return tuple(sorted(set(labels.tolist())))


# -- the fitted model -------------------------------------------------------------------------
class MultiTaskMixture:
    """A mixture fitted to data with a task column, in one of :data:`MODES`.

    Build it with :func:`fit_multitask`.

    Attributes
    ----------
    mode : {"pooled", "separate", "shared"}
    tasks : tuple of str
        The task names seen in fitting, sorted (the same order as the rows of the shared
        model's ``weights_``).
    covariance_type : str
    n_components : int
        K; for ``separate`` the number of components *of each task's own mixture*.
    n_features : int
    task_counts : dict of str -> int
        Rows per task used in fitting.
    models : dict
        ``{None: GaussianMixture}`` for pooled and shared (the shared one fitted with
        ``tasks=``, so its ``weights_`` has shape (n_tasks, K) and ``tasks_`` equals
        ``tasks``); ``{task: GaussianMixture}`` for separate.
    """

    def __init__(self, mode, tasks, covariance_type, n_components, n_features, task_counts,
                 models):
        self.mode = mode
        self.tasks = tuple(tasks)
        self.covariance_type = covariance_type
        self.n_components = n_components
        self.n_features = n_features
        self.task_counts = dict(task_counts)
        self.models = models

    def __repr__(self) -> str:
        return (f"MultiTaskMixture(mode={self.mode!r}, n_components={self.n_components}, "
                f"covariance_type={self.covariance_type!r}, tasks={list(self.tasks)})")

    @property
    def n_samples(self) -> int:
        """Rows used in fitting (all tasks)."""
        return int(sum(self.task_counts.values()))

    # -- weights ----------------------------------------------------------------------------
    def task_weights(self) -> pd.DataFrame:
        """Mixing weights per task: DataFrame of shape (n_tasks, K), index ``tasks``, columns
        ``"0" .. "K-1"``; every row sums to 1.

        ``shared``: the fitted per-task weights of the shared components. ``pooled``: the one
        weight vector, repeated for every task. ``separate``: each task's own mixture's
        weights; column ``j`` is then a *different* component in every row (nothing is shared),
        so compare rows only in the other two modes.
        """
        if self.mode == "separate":
            w = np.vstack([self.models[t].weights_ for t in self.tasks])
        elif self.mode == "shared":
            w = np.asarray(self.models[None].weights_)
        else:
            w = np.tile(self.models[None].weights_, (len(self.tasks), 1))
        frame = pd.DataFrame(w, index=pd.Index(self.tasks, name="task"),
                             columns=[str(j) for j in range(self.n_components)])
        return frame

    def pooled_weights(self) -> np.ndarray:
        """Weights of the shared components over all tasks, shape (K,): the average of the task
        weights weighted by each task's number of fitting rows (``pooled``: its weights).

        These are the weights used for an unseen task when ``unknown_task="pooled"``. Raises
        ValueError in ``separate`` mode, whose tasks have no components in common.
        """
        if self.mode == "separate":
            raise ValueError(
                "pooled_weights is undefined in separate mode: each task has its own "
                "components, so their weights cannot be averaged; fit mode='shared' instead."
            )
        gm = self.models[None]
        if self.mode == "pooled":
            return np.array(gm.weights_)
        counts = np.array([self.task_counts[t] for t in self.tasks], dtype=np.float64)
        w = counts @ np.asarray(gm.weights_) / counts.sum()
        return w / w.sum()

    @property
    def history(self):
        """EM snapshots of the kept run: a tuple of :class:`gmmcore.Snapshot` for pooled and
        shared (the shared one's snapshots carry (n_tasks, K) weights), a dict
        ``task -> tuple of Snapshot`` for separate."""
        if self.mode == "separate":
            return {t: self.models[t].history_ for t in self.tasks}
        return self.models[None].history_

    # -- prediction -------------------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        return check_X(X, n_features=self.n_features, allow_constant=True)

    def _unknown(self, labels: np.ndarray) -> np.ndarray:
        known = set(self.tasks)
        return np.array([t not in known for t in labels.tolist()], dtype=bool)

    def _unknown_error(self, labels, unknown, extra=""):
        names = sorted(set(labels[unknown].tolist()))
        return ValueError(
            f"unknown task(s) {names}; the model was fitted on {list(self.tasks)}. {extra}"
        )

    def _log_resp(self, X, tasks, unknown_task="error"):
        """Per-row log-likelihood (n,) and log-responsibilities (n, K)."""
        _check_unknown_task(unknown_task)
        Xa = self._check_X(X)
        n = Xa.shape[0]
        if self.mode == "pooled":
            # The pooled mixture does not depend on the task: any label, seen or not, is fine.
            if tasks is not None:
                _task_labels(tasks, n)
            return self.models[None]._log_resp(Xa)
        labels = _task_labels(tasks, n)
        unknown = self._unknown(labels)
        if self.mode == "separate":
            if unknown.any():
                raise self._unknown_error(
                    labels, unknown,
                    "In separate mode every task has its own components and there is no "
                    "shared component set to fall back on, so unseen tasks cannot be "
                    "predicted; fit mode='shared' (or 'pooled') to predict for new tasks.")
            log_norm = np.empty(n)
            log_resp = np.empty((n, self.n_components))
            for t in self.tasks:
                rows = np.flatnonzero(labels == t)
                if rows.size:
                    log_norm[rows], log_resp[rows] = self.models[t]._log_resp(Xa[rows])
            return log_norm, log_resp
        # shared
        if unknown.any() and unknown_task == "error":
            raise self._unknown_error(
                labels, unknown,
                "Pass unknown_task='pooled' to predict unseen tasks with the pooled weights.")
        gm = self.models[None]
        lookup = {t: i for i, t in enumerate(self.tasks)}
        table = np.vstack([np.asarray(gm.weights_), self.pooled_weights()[None]])
        pooled_code = len(self.tasks)
        codes = np.array([lookup.get(t, pooled_code) for t in labels.tolist()], dtype=np.intp)
        log_weights_rows = _safe_log(table)[codes]
        structure = get_structure(self.covariance_type)
        return estimate_log_resp(Xa, log_weights_rows, np.asarray(gm.means_),
                                 np.asarray(gm.precisions_cholesky_), structure)

    def predict_proba(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Responsibilities, shape (n_samples, K); rows sum to 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        tasks : array-like of shape (n_samples,)
            Task label of each row. ``shared`` uses that task's weights; ``separate`` uses that
            task's own mixture (column ``j`` is that task's component ``j``); ``pooled``
            ignores it (it may be None).
        unknown_task : {"error", "pooled"}
            What to do with a task not seen in fitting: raise a ValueError naming the known
            tasks, or (shared/pooled only) use :meth:`pooled_weights`. Separate mode always
            raises: it has no shared components.
        """
        return np.exp(self._log_resp(X, tasks, unknown_task)[1])

    def predict(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Most probable component of each row, shape (n_samples,); see :meth:`predict_proba`."""
        return self._log_resp(X, tasks, unknown_task)[1].argmax(axis=1)

    def score_samples(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Log-density of each row given its task, ``log p(x_i | task_i)``, shape (n_samples,)."""
        return self._log_resp(X, tasks, unknown_task)[0]

    def log_likelihood(self, X, tasks=None) -> float:
        """Total log-likelihood ``sum_i log p(x_i | task_i)`` over the rows of X."""
        return float(self.score_samples(X, tasks).sum())

    def log_likelihood_by_task(self, X, tasks) -> dict[str, float]:
        """Total log-likelihood of the rows of each task present in ``tasks`` (sorted names)."""
        Xa = self._check_X(X)
        labels = _task_labels(tasks, Xa.shape[0])
        ll = self.score_samples(Xa, labels)
        return {t: float(ll[labels == t].sum()) for t in _task_names(labels)}

    # -- model selection --------------------------------------------------------------------
    def n_parameters(self) -> int:
        """Free parameters, with p(K) those of one K-component mixture (``K - 1`` weights,
        ``K D`` means, the covariance type's covariance parameters) and T tasks:

        - pooled: ``p(K)``
        - separate: ``T p(K)``
        - shared: ``p(K) + (T - 1)(K - 1)`` (one more weight vector per extra task)
        """
        if self.mode == "separate":
            return int(sum(self.models[t].n_parameters() for t in self.tasks))
        return int(self.models[None].n_parameters())

    def _criteria_inputs(self, X, tasks):
        log_norm, log_resp = self._log_resp(X, tasks)
        return float(log_norm.sum()), log_resp, log_norm.shape[0]

    def bic(self, X, tasks=None) -> float:
        """``-2 log L + p log N`` (lower is better), L the total likelihood of all rows given
        their tasks, p :meth:`n_parameters`, N the number of rows of X *in all tasks*, in
        every mode (separate mode therefore is not the sum of per-task BICs, which would use
        each task's own n): the same N makes the three modes comparable."""
        ll, _, n = self._criteria_inputs(X, tasks)
        return criteria.bic(ll, self.n_parameters(), n)

    def aic(self, X, tasks=None) -> float:
        """``-2 log L + 2 p`` (lower is better); see :meth:`bic`."""
        ll, _, _ = self._criteria_inputs(X, tasks)
        return criteria.aic(ll, self.n_parameters())

    def icl(self, X, tasks=None) -> float:
        """mclust's ICL in BIC's sign (lower is better): :meth:`bic` plus
        ``-2 sum_i log max_k r_ik``, the responsibilities ``r`` computed as in
        :meth:`predict_proba` (each row with its task's weights or mixture)."""
        ll, log_resp, n = self._criteria_inputs(X, tasks)
        return criteria.icl(ll, self.n_parameters(), n, log_resp)


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
) -> MultiTaskMixture:
    """Fit a mixture to data with a task column, pooled, separate or shared.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    tasks : array-like of shape (n_samples,)
        Task label per row (compared as strings); at least two distinct tasks.
    n_components : int
        K (per task in separate mode).
    mode : {"pooled", "separate", "shared"}
    covariance_type, n_init, tol, reg_covar, max_iter, init_params, random_state
        As for :class:`gmmcore.GaussianMixture`. In separate mode each task's mixture gets
        the same settings and the same seed.
    weights_init, means_init, precisions_init : array-like, optional
        Pooled and shared modes only, as for :class:`gmmcore.GaussianMixture`; for shared,
        ``weights_init`` has shape (n_tasks, K) with tasks in sorted order and may contain
        exact zeros (a component absent from a task).

    Returns
    -------
    MultiTaskMixture

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
    Xa = check_X(X, n_components=k)
    labels = _task_labels(tasks, Xa.shape[0])
    names = _task_names(labels)
    if len(names) < 2:
        raise ValueError(
            f"tasks has a single task ({names[0]!r}); multi-task modes need at least two. For "
            "one task fit a plain gmmcore.GaussianMixture instead."
        )
    counts = {t: int((labels == t).sum()) for t in names}
    settings = dict(n_components=k, covariance_type=covariance_type, n_init=n_init, tol=tol,
                    reg_covar=reg_covar, max_iter=max_iter, init_params=init_params,
                    random_state=random_state)
    inits = dict(weights_init=weights_init, means_init=means_init,
                 precisions_init=precisions_init)
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
    elif mode == "pooled":
        models = {None: GaussianMixture(**settings, **inits).fit(Xa)}
    else:
        models = {None: GaussianMixture(**settings, **inits).fit(Xa, tasks=labels)}
        # The engine sorts task names the same way; anything else would misalign weights_.
        assert tuple(models[None].tasks_) == names
    return MultiTaskMixture(mode, names, covariance_type, k, Xa.shape[1], counts, models)


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
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.floating)) \
            or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}.")
    labels = _task_labels(tasks, len(tasks) if hasattr(tasks, "__len__") else np.size(tasks))
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
    failed = [f"{m} failed ({e})" for m, e in zip(df["mode"], df["error"], strict=True)
              if isinstance(e, str)]
    parts = []
    if len(ok):
        best = ok.loc[ok["bic"].astype(float).idxmin()]
        others = ok[ok["mode"] != best["mode"]]
        if len(others):
            gaps = " and ".join(f"than {r['mode']} by {_fmt(r['bic'] - best['bic'])}"
                                for _, r in others.iterrows())
            parts.append(f"{best['mode']} wins on BIC ({_fmt(best['bic'])}), lower {gaps}")
        else:
            parts.append(f"only {best['mode']} could be fitted (BIC {_fmt(best['bic'])})")
    held = df[np.isfinite(df["heldout_per_sample"].astype(float))]
    if len(held):
        best_h = held.loc[held["heldout_per_sample"].astype(float).idxmax()]
        others = held[held["mode"] != best_h["mode"]]
        vs = " and ".join(f"{_fmt(r['heldout_per_sample'])} ({r['mode']})"
                          for _, r in others.iterrows())
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
    same N so they compare fairly; see :meth:`MultiTaskMixture.bic`) and on the train part of
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
    Xa = check_X(X, n_components=k)
    labels = _task_labels(tasks, Xa.shape[0])
    names = _task_names(labels)
    if len(names) < 2:
        raise ValueError(
            f"tasks has a single task ({names[0]!r}); comparing modes needs at least two. For "
            "one task fit a plain gmmcore.GaussianMixture instead."
        )
    train, test = train_test_split_by_task(labels, test_size=test_size, random_state=random_state)
    options = dict(covariance_type=covariance_type, n_init=n_init, random_state=random_state,
                   **fit_kwargs)
    rows = []
    for mode in MODES:
        row = {"mode": mode, "n_parameters": np.nan, "log_likelihood": np.nan, "bic": np.nan,
               "aic": np.nan, "icl": np.nan, "heldout_log_likelihood": np.nan,
               "heldout_per_sample": np.nan}
        row.update({f"heldout[{t}]": np.nan for t in names})
        row["error"] = None
        try:
            model = fit_multitask(Xa, labels, k, mode=mode, **options)
            log_norm, log_resp = model._log_resp(Xa, labels)
            ll = float(log_norm.sum())
            p = model.n_parameters()
            row.update(n_parameters=p, log_likelihood=ll,
                       bic=criteria.bic(ll, p, Xa.shape[0]), aic=criteria.aic(ll, p),
                       icl=criteria.icl(ll, p, Xa.shape[0], log_resp))
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
    return make_mixture(n_samples, n_features, k, separation=separation,
                        covariance_shape=covariance_shape, n_tasks=int(n_tasks),
                        weights=task_weights, random_state=random_state)

