"""The fitted model: one task-aware object that predicts, in every mode a mixture can be in.

``FittedModel`` is what the estimator predicts with, what :func:`gmmcore.fit_multitask`
returns, what the model file stores and loads, and what the command line and the dashboard
call. Its modes:

``"single"``
    One mixture, no tasks.
``"pooled"``
    One mixture fitted to the rows of all tasks; the task is ignored when predicting.
``"shared"``
    One set of components shared by all tasks, one weight vector per task; each row uses its
    task's weights, and a task not seen in fitting may use the pooled weights (the weights of
    the components over all tasks) when asked: ``unknown_task="pooled"``.
``"separate"``
    One independent mixture per task; each row uses its task's mixture.

All modes model ``p(x | task)``, so log-likelihoods and criteria compare across modes. The
mixing weights of a row come from :func:`gmmcore.engine.weights.row_log_weights`, the one
place task labels meet weight vectors.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .engine import criteria
from .engine.em import log_prob_resp
from .engine.validation import check_X, task_labels
from .engine.weights import UnknownTaskError, pooled_weights
from .preprocessing import Standardizer

__all__ = ["MODES", "UNKNOWN_TASK_POLICIES", "FittedModel"]

MODES = ("pooled", "separate", "shared")
UNKNOWN_TASK_POLICIES = ("error", "pooled")


def _is_fitted_mixture(gm) -> bool:
    return hasattr(gm, "snapshot_") and hasattr(gm, "means_")


@dataclasses.dataclass(eq=False)
class FittedModel:
    """A fitted mixture together with what it needs to predict on raw data.

    Parameters
    ----------
    mixture : GaussianMixture or None
        Fitted; for ``shared`` fitted with ``tasks=`` (``weights_`` of shape (n_tasks, K),
        ``tasks_`` naming its rows). None exactly in ``separate`` mode.
    feature_names : list of str, optional
        The input columns, in the mixture's feature order: a DataFrame given to the
        prediction methods has its columns selected by these names. None: columns are taken
        by position (the estimator's own behaviour).
    standardizer : Standardizer, optional
        Applied to raw rows before the mixture sees them.
    metadata : dict
        Fit results (the model file's ``fit`` object): ``log_likelihood``, ``bic``, ...
    task_n_samples : list of int, optional
        Multi-task models: fitting rows per task, in :attr:`tasks` order. They weight the
        pooled weights of a shared model.
    pooled : ndarray of shape (K,), optional
        Shared mode: the weights for unseen tasks; computed by
        :func:`gmmcore.engine.weights.pooled_weights` when not given (a model file stores it).
    task_names : tuple of str, optional
        Pooled mode: the tasks the mixture was fitted on (it ignores them when predicting).
    submodels : dict of str -> GaussianMixture, optional
        Separate mode: one fitted mixture per task (same K, features and covariance type).
    submodel_metadata : dict of str -> dict, optional
        Separate mode: each task's fit results, as :attr:`metadata` is for the whole model.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmcore import GaussianMixture
    >>> X = np.r_[np.zeros((5, 1)), np.ones((5, 1))] + np.linspace(0, 0.1, 10)[:, None]
    >>> model = FittedModel(GaussianMixture(2, random_state=0).fit(X), ["x"])
    >>> model.mode, model.n_components, model.predict_proba(X).shape
    ('single', 2, (10, 2))
    """

    mixture: object | None
    feature_names: list[str] | None = None
    standardizer: Standardizer | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    task_n_samples: list[int] | None = None
    pooled: np.ndarray | None = None
    task_names: tuple | None = None
    submodels: dict | None = None
    submodel_metadata: dict | None = None

    def __post_init__(self):
        if self.submodels is not None:
            self._check_submodels()
        elif not _is_fitted_mixture(self.mixture):
            raise ValueError("FittedModel needs a fitted GaussianMixture; call fit(X) first.")
        d = self.n_features
        if self.feature_names is not None:
            self.feature_names = [str(f) for f in self.feature_names]
            if len(self.feature_names) != d:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} name(s) but the mixture has "
                    f"{d} feature(s); give one name per column the model was fitted on."
                )
            if len(set(self.feature_names)) != d:
                raise ValueError(
                    "feature_names contains duplicates; give each column its own name."
                )
        if self.standardizer is not None and np.shape(self.standardizer.mean) != (d,):
            raise ValueError(
                f"the standardizer has {np.shape(self.standardizer.mean)[0]} feature(s) but "
                f"the mixture has {d}; fit the standardizer on the same columns."
            )
        if self.submodels is None and getattr(self.mixture, "tasks_", None) is not None:
            self.task_names = None  # shared: the mixture's own tasks_ are the task names
        elif self.task_names is not None:
            names = tuple(str(t) for t in self.task_names)
            if not names or len(set(names)) != len(names):
                raise ValueError("task_names must list each task once (at least one task).")
            self.task_names = names
        if self.tasks is None:
            self.task_n_samples, self.pooled = None, None
            return
        if self.task_n_samples is None and self.mode == "shared":
            self.task_n_samples = getattr(self.mixture, "task_n_samples_", None)
        if self.task_n_samples is not None:
            counts = [int(c) for c in self.task_n_samples]
            if len(counts) != len(self.tasks) or min(counts) < 0:
                raise ValueError(
                    f"task_n_samples must give a row count >= 0 for each of the "
                    f"{len(self.tasks)} tasks {list(self.tasks)}."
                )
            self.task_n_samples = counts
        if self.mode != "shared":
            self.pooled = None
        elif self.pooled is None:
            self.pooled = pooled_weights(self.mixture.weights_, self.task_n_samples)
        else:
            self.pooled = np.asarray(self.pooled, dtype=np.float64)

    def _check_submodels(self):
        if self.mixture is not None:
            raise ValueError(
                "a separate-mode FittedModel has submodels and no mixture; pass mixture=None."
            )
        subs = {str(t): gm for t, gm in dict(self.submodels).items()}
        if not subs:
            raise ValueError("submodels is empty; give one fitted mixture per task.")
        for t, gm in subs.items():
            if not _is_fitted_mixture(gm):
                raise ValueError(f"submodels[{t!r}] must be a fitted gmmcore.GaussianMixture.")
            if getattr(gm, "tasks_", None) is not None:
                raise ValueError(
                    f"submodels[{t!r}] is itself a multi-task mixture; each task needs a "
                    "single mixture."
                )
        first = next(iter(subs.values()))
        for t, gm in subs.items():
            if (
                np.shape(gm.means_) != np.shape(first.means_)
                or gm.covariance_type != first.covariance_type
            ):
                raise ValueError(
                    f"submodels[{t!r}] has K, features or covariance type different from the "
                    "other tasks'; fit every task with the same settings."
                )
        self.submodels = subs
        self.task_names = tuple(subs)

    # -- description --------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``"single"``, ``"pooled"``, ``"shared"`` or ``"separate"``."""
        if self.submodels is not None:
            return "separate"
        if getattr(self.mixture, "tasks_", None) is not None:
            return "shared"
        return "single" if self.task_names is None else "pooled"

    @property
    def tasks(self) -> tuple | None:
        """Task names, sorted as in fitting (None for a single mixture)."""
        if self.submodels is None and getattr(self.mixture, "tasks_", None) is not None:
            return tuple(self.mixture.tasks_)
        return self.task_names

    @property
    def _reference(self):
        return self.mixture if self.submodels is None else next(iter(self.submodels.values()))

    @property
    def covariance_type(self) -> str:
        return self._reference.covariance_type

    @property
    def n_components(self) -> int:
        """K (in separate mode, of each task's own mixture)."""
        return int(np.shape(self._reference.means_)[0])

    @property
    def n_features(self) -> int:
        return int(np.shape(self._reference.means_)[1])

    @property
    def task_counts(self) -> dict[str, int] | None:
        """Fitting rows per task (None when unknown or for a single mixture)."""
        if self.tasks is None or self.task_n_samples is None:
            return None
        return dict(zip(self.tasks, self.task_n_samples, strict=True))

    @property
    def n_samples(self) -> int | None:
        """Fitting rows over all tasks (None when unknown)."""
        if self.task_n_samples is not None:
            return int(sum(self.task_n_samples))
        n = self.metadata.get("n_samples")
        return None if n is None else int(n)

    @property
    def history(self):
        """EM snapshots of the kept run: a tuple of Snapshot (pooled, shared, single), or a
        dict ``task -> tuple of Snapshot`` (separate)."""
        if self.submodels is not None:
            return {t: gm.history_ for t, gm in self.submodels.items()}
        return self.mixture.history_

    def n_parameters(self) -> int:
        """Free parameters, with p(K) those of one K-component mixture and T tasks: pooled
        and single ``p(K)``; shared ``p(K) + (T - 1)(K - 1)``; separate ``T p(K)``."""
        if self.submodels is not None:
            return int(sum(gm.n_parameters() for gm in self.submodels.values()))
        return int(self.mixture.n_parameters())

    def task_weights(self):
        """Mixing weights per task: DataFrame of shape (n_tasks, K), index the task names,
        columns ``"0" .. "K-1"``; every row sums to 1.

        Shared: the per-task weights. Pooled: the one weight vector, once per task. Separate:
        each task's own mixture's weights (column ``j`` is a different component in every
        row). Raises ValueError for a single mixture (it has no tasks).
        """
        import pandas as pd

        if self.tasks is None:
            raise ValueError("this model has no tasks (mode 'single'); use mixture.weights_.")
        if self.submodels is not None:
            w = np.vstack([np.asarray(self.submodels[t].weights_) for t in self.tasks])
        elif self.mode == "shared":
            w = np.asarray(self.mixture.weights_)
        else:
            w = np.tile(np.asarray(self.mixture.weights_), (len(self.tasks), 1))
        return pd.DataFrame(
            w,
            index=pd.Index(self.tasks, name="task"),
            columns=[str(j) for j in range(self.n_components)],
        )

    def pooled_weights(self) -> np.ndarray:
        """Weights of the components over all tasks, shape (K,): for shared, the average of
        the task weights weighted by each task's fitting rows (the weights used for an unseen
        task with ``unknown_task="pooled"``); for pooled, its one weight vector.

        Raises ValueError for separate (its tasks share no components) and single models.
        """
        if self.mode == "separate":
            raise ValueError(
                "pooled_weights is undefined in separate mode: each task has its own "
                "components, so their weights cannot be averaged; fit mode='shared' instead."
            )
        if self.mode == "shared":
            return self.pooled.copy()
        return np.array(self.mixture.weights_)

    def __repr__(self) -> str:
        extra = "" if self.tasks is None else f", mode={self.mode!r}, tasks={list(self.tasks)}"
        std = ", standardized" if self.standardizer is not None else ""
        names = "" if self.feature_names is None else f", features={self.feature_names}"
        return (
            f"FittedModel(n_components={self.n_components}, "
            f"covariance_type={self.covariance_type!r}{names}{std}{extra})"
        )

    # -- prediction ---------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Raw rows -> what the mixture sees, shape (n_samples, n_features): a DataFrame's
        columns selected by :attr:`feature_names` (when the model has them), then
        standardized if the model carries a standardizer."""
        columns = getattr(X, "columns", None)
        if columns is not None and self.feature_names is not None:
            available = [str(c) for c in columns]
            missing = [f for f in self.feature_names if f not in available]
            if missing:
                raise ValueError(
                    f"X has no column {', '.join(map(repr, missing))}; the model needs "
                    f"{self.feature_names} (available: {available})."
                )
            X = X[[columns[available.index(f)] for f in self.feature_names]]
        if self.standardizer is not None:
            return self.standardizer.transform(X)
        return check_X(X, n_features=self.n_features, allow_constant=True, keep_float32=True)

    def log_prob_resp(self, X, tasks=None, *, unknown_task="error"):
        """Per-row log-likelihood ``log p(x_i | task_i)`` and log-responsibilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), raw rows
        tasks : array-like of shape (n_samples,), optional
            One task name per row (compared as strings, as in fitting). Required for shared
            and separate models; only its length is checked by pooled ones; refused by
            single ones.
        unknown_task : {"error", "pooled"}
            A task the model has not seen is a ValueError naming the known tasks, or, for a
            shared model, uses :meth:`pooled_weights`. A separate model always raises: its
            tasks share no components, so there is nothing to fall back on.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        log_resp : ndarray of shape (n_samples, K)
        """
        if unknown_task not in UNKNOWN_TASK_POLICIES:
            raise ValueError(
                f"unknown_task must be one of {UNKNOWN_TASK_POLICIES}, got {unknown_task!r}."
            )
        Z = self.transform(X)
        mode = self.mode
        if mode == "separate":
            return self._separate_log_prob_resp(Z, tasks)
        if mode == "pooled":
            # One mixture for every task: labels are checked for length, never looked up.
            if tasks is not None:
                task_labels(tasks, Z.shape[0])
            tasks = None
        fallback = self.pooled if mode == "shared" and unknown_task == "pooled" else None
        return log_prob_resp(self.mixture.snapshot_, Z, tasks, unknown_weights=fallback)

    def _separate_log_prob_resp(self, Z, tasks):
        if tasks is None:
            raise ValueError(
                f"tasks is required for a separate-mode model: each task {list(self.tasks)} "
                "has its own mixture; pass one task name per row."
            )
        labels = task_labels(tasks, Z.shape[0])
        unseen = sorted(set(labels.tolist()) - set(self.submodels))
        if unseen:
            raise UnknownTaskError(
                f"unknown task(s) {unseen}; the model was fitted on {list(self.tasks)}. In "
                "separate mode every task has its own components and there is no shared "
                "component set to fall back on, so unseen tasks cannot be predicted (not even "
                "with unknown_task='pooled'); fit mode 'shared' (or 'pooled') to predict for "
                "new tasks.",
                unseen,
                self.tasks,
                can_pool=False,
            )
        log_norm = np.empty(Z.shape[0])
        log_resp = np.empty((Z.shape[0], self.n_components))
        for t, gm in self.submodels.items():
            rows = np.flatnonzero(labels == t)
            if rows.size:
                log_norm[rows], log_resp[rows] = log_prob_resp(gm.snapshot_, Z[rows])
        return log_norm, log_resp

    def score_samples(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Log-likelihood of each raw row given its task, shape (n_samples,) (in the
        standardized space when the model standardizes)."""
        return self.log_prob_resp(X, tasks, unknown_task=unknown_task)[0]

    def score(self, X, tasks=None, *, unknown_task="error") -> float:
        """Mean log-likelihood per row."""
        return float(self.score_samples(X, tasks, unknown_task=unknown_task).mean())

    def predict_proba(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Responsibilities of raw rows, shape (n_samples, K); rows sum to 1. In separate
        mode column ``j`` is the row's task's own component ``j``. See
        :meth:`log_prob_resp` for ``tasks`` and ``unknown_task``.

        A model that predicts on raw data (it has feature names or a standardizer, as a
        loaded model file does) issues a :class:`gmmcore.data_range.OutOfRangeWarning` when
        most rows are far from every component (data in other units, or standardized twice):
        every row would still get a confident label.
        """
        self._warn_if_out_of_range(X)
        return np.exp(self.log_prob_resp(X, tasks, unknown_task=unknown_task)[1])

    def predict(self, X, tasks=None, *, unknown_task="error") -> np.ndarray:
        """Most probable component of each raw row, shape (n_samples,); warns as
        :meth:`predict_proba` does."""
        self._warn_if_out_of_range(X)
        return self.log_prob_resp(X, tasks, unknown_task=unknown_task)[1].argmax(axis=1)

    def _warn_if_out_of_range(self, X) -> None:
        # Only for models that take raw rows: the estimator's own model (no names, no
        # standardizer) behaves like scikit-learn's, which does not check the data's range.
        if self.feature_names is None and self.standardizer is None:
            return
        from .data_range import warn_if_out_of_range  # scipy.stats: deferred (start-up time)

        warn_if_out_of_range(self, X, stacklevel=3)

    def log_likelihood(self, X, tasks=None) -> float:
        """Total log-likelihood ``sum_i log p(x_i | task_i)`` over the rows of X."""
        return float(self.score_samples(X, tasks).sum())

    def log_likelihood_by_task(self, X, tasks) -> dict[str, float]:
        """Total log-likelihood of the rows of each task present in ``tasks`` (sorted)."""
        labels = task_labels(tasks, np.shape(self.transform(X))[0])
        ll = self.score_samples(X, labels)
        return {t: float(ll[labels == t].sum()) for t in sorted(set(labels.tolist()))}

    # -- criteria -----------------------------------------------------------------------------
    def bic(self, X, tasks=None) -> float:
        """``-2 log L + p log N`` (lower is better): L the likelihood of all rows given their
        tasks, p :meth:`n_parameters`, N the rows of X in all tasks, in every mode (so
        separate mode is not the sum of per-task BICs): the same N makes modes comparable."""
        ll, _ = self.log_prob_resp(X, tasks)
        return criteria.bic(float(ll.sum()), self.n_parameters(), ll.shape[0])

    def aic(self, X, tasks=None) -> float:
        """``-2 log L + 2 p`` (lower is better); see :meth:`bic`."""
        ll, _ = self.log_prob_resp(X, tasks)
        return criteria.aic(float(ll.sum()), self.n_parameters())

    def icl(self, X, tasks=None) -> float:
        """mclust's ICL in BIC's sign (lower is better): :meth:`bic` plus
        ``-2 sum_i log max_k r_ik``."""
        ll, log_resp = self.log_prob_resp(X, tasks)
        return criteria.icl(float(ll.sum()), self.n_parameters(), ll.shape[0], log_resp)
