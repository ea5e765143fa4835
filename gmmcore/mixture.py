"""``GaussianMixture``: scikit-learn's estimator API over :func:`gmmcore.iter_em`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .engine.covariance import get_structure
from .engine.em import Snapshot, iter_em
from .engine.validation import check_n_components, check_random_state, check_tasks, check_X

__all__ = ["GaussianMixture", "NotFittedError", "RestartResult"]


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""


@dataclass(frozen=True)
class RestartResult:
    """One EM run of ``n_init``: where it ended and its whole history."""

    index: int
    lower_bound: float  # mean log-likelihood per sample at the last E-step
    log_likelihood: float  # total log-likelihood at the last E-step
    n_iter: int
    converged: bool
    history: tuple[Snapshot, ...]


class GaussianMixture:
    """Gaussian mixture fitted by EM, with scikit-learn's constructor, attributes and methods.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood per sample.
    reg_covar : float, default=1e-6
    max_iter : int, default=100
    n_init : int, default=1
        EM restarts; the one with the highest final lower bound is kept. Every restart's
        outcome stays available in ``restarts_``.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
    weights_init, means_init, precisions_init : array-like, optional
    random_state : None, int or RandomState
    warm_start, verbose, verbose_interval : accepted for scikit-learn compatibility; a warm
        start reuses the fitted parameters as initialization.

    Attributes
    ----------
    weights_ : ndarray of shape (K,), or (n_tasks, K) when fitted with ``tasks``
    means_ : ndarray of shape (K, D)
    covariances_, precisions_, precisions_cholesky_ : ndarray, shape per covariance type
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
    lower_bounds_ : list of float, the lower bound at every iteration of the best run
    history_ : tuple of Snapshot, every half-step of the best run
    restarts_ : list of RestartResult, one per ``n_init`` run
    tasks_ : tuple of task names or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when X was a DataFrame
    task_n_samples_ : list of int or None, fitting rows per task (in ``tasks_`` order)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))]
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> gm.converged_, sorted(gm.weights_.round(2).tolist())
    (True, [0.5, 0.5])
    >>> gm.predict([[0.0, 0.0], [8.0, 8.0]]).tolist() in ([0, 1], [1, 0])
    True
    >>> [s.label for s in gm.history_[:3]]
    ['initialization', 'iteration 1, after E', 'iteration 1, after M']
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # -- scikit-learn plumbing ------------------------------------------------------------
    def get_params(self, deep=True):
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r}; valid ones are {sorted(valid)}.")
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        changed = []
        for k, v in self.get_params().items():
            default = defaults[k]
            same = v is default or (not hasattr(v, "shape") and v == default)
            if not same:
                changed.append(f"{k}={v!r}")
        return f"GaussianMixture({', '.join(changed)})"

    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise NotFittedError(
                "This GaussianMixture is not fitted yet; call fit(X) before using it."
            )

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X, y=None, *, tasks=None):
        """Fit by EM, keeping the best of ``n_init`` runs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        tasks : array-like of shape (n_samples,), optional
            Task label per row: fits the shared multi-task mixture (components shared, one
            weight vector per task).

        Returns
        -------
        self
        """
        self._fit(X, tasks)
        return self

    def fit_predict(self, X, y=None, *, tasks=None):
        """Fit, then return the labels of X under the fitted model, shape (n_samples,)."""
        return self.fit(X, tasks=tasks).predict(X, tasks=tasks)

    def _fit(self, X, tasks):
        k = check_n_components(self.n_components)
        get_structure(self.covariance_type)
        n_init = self.n_init
        if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
            raise ValueError(f"n_init must be a whole number >= 1, got {n_init!r}.")
        Xa = check_X(X, n_components=k)
        rng = check_random_state(self.random_state)
        init = dict(
            weights_init=self.weights_init,
            means_init=self.means_init,
            precisions_init=self.precisions_init,
        )
        if self.warm_start and hasattr(self, "means_"):
            init = dict(
                weights_init=self.weights_, means_init=self.means_, precisions_init=self.precisions_
            )
            n_init = 1
        restarts = []
        best = None
        for index in range(n_init):
            history = tuple(
                iter_em(
                    Xa,
                    k,
                    covariance_type=self.covariance_type,
                    tol=self.tol,
                    reg_covar=self.reg_covar,
                    max_iter=self.max_iter,
                    init_params=self.init_params,
                    random_state=rng,
                    tasks=tasks,
                    **init,
                )
            )
            last = history[-1]
            ll = last.log_likelihood if last.log_likelihood is not None else -np.inf
            result = RestartResult(
                index=index,
                lower_bound=ll / Xa.shape[0],
                log_likelihood=ll,
                n_iter=last.iteration,
                converged=last.converged,
                history=history,
            )
            restarts.append(result)
            # As scikit-learn: strictly better, or the first run.
            if best is None or result.lower_bound > best.lower_bound:
                best = result
        task_n_samples = None
        if tasks is not None:  # rows per task, in task order: they weight the pooled weights
            codes, names = check_tasks(tasks, Xa.shape[0])
            task_n_samples = np.bincount(codes, minlength=len(names)).tolist()
        cols = getattr(X, "columns", None)
        self._set_fitted(
            best,
            task_n_samples=task_n_samples,
            feature_names=None if cols is None else [str(c) for c in cols],
        )
        self.restarts_ = restarts
        return self

    def _set_fitted(self, result: RestartResult, *, task_n_samples=None, feature_names=None):
        """Make ``result`` (one EM run) the fitted state."""
        snap = result.history[-1]
        structure = get_structure(snap.covariance_type)
        self.weights_ = np.array(snap.weights)
        self.means_ = np.array(snap.means)
        self.covariances_ = np.array(snap.covariances)
        self.precisions_cholesky_ = np.array(snap.precisions_cholesky)
        self.precisions_ = structure.precisions_from_cholesky(self.precisions_cholesky_)
        self.tasks_ = snap.tasks
        self._snapshot = snap
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = [s.mean_log_likelihood for s in result.history if s.phase == "E"]
        self.history_ = result.history
        self.best_restart_ = result.index
        self.n_features_in_ = self.means_.shape[1]
        if task_n_samples is not None or not hasattr(self, "task_n_samples_"):
            self.task_n_samples_ = task_n_samples
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(feature_names, dtype=object)

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Snapshot,
        *,
        history=(),
        converged=None,
        n_iter=None,
        lower_bound=None,
        feature_names=None,
        task_n_samples=None,
        **params,
    ):
        """A fitted mixture with the parameters of ``snapshot`` (e.g. read from a model file).

        Parameters
        ----------
        snapshot : Snapshot
            The fitted parameters (``weights``, ``means``, ``covariances``, factors, tasks).
        history : tuple of Snapshot, optional
            The EM run that produced them, if known (``history_``).
        converged, n_iter, lower_bound : optional
            The run's outcome; default to what the snapshot says (``lower_bound`` from its
            log-likelihood per sample, -inf when unknown).
        feature_names : list of str, optional
            ``feature_names_in_``.
        task_n_samples : list of int, optional
            Fitting rows per task of a multi-task snapshot (``task_n_samples_``).
        **params
            Constructor parameters (``tol``, ``reg_covar``, ``random_state``, ...).
        """
        k = snapshot.means.shape[0]
        gm = cls(n_components=k, covariance_type=snapshot.covariance_type, **params)
        if lower_bound is None:
            ll = snapshot.log_likelihood
            lower_bound = -np.inf if ll is None else ll / snapshot.n_samples
        result = RestartResult(
            index=0,
            lower_bound=float(lower_bound),
            log_likelihood=snapshot.log_likelihood,
            n_iter=int(snapshot.iteration if n_iter is None else n_iter),
            converged=bool(snapshot.converged if converged is None else converged),
            history=(snapshot,),
        )
        gm._set_fitted(result, task_n_samples=task_n_samples, feature_names=feature_names)
        # history_ is the run when it is known, else empty; the fitted state is the snapshot.
        gm.history_ = tuple(history)
        gm.lower_bounds_ = [s.mean_log_likelihood for s in gm.history_ if s.phase == "E"]
        gm.restarts_ = []
        return gm

    def use_restart(self, index: int):
        """Make restart ``index`` (see ``restarts_``) the fitted model; returns self."""
        self._check_fitted()
        self._set_fitted(self.restarts_[index])
        return self

    @property
    def snapshot_(self) -> Snapshot:
        """The fitted parameters as a Snapshot (the last one of ``history_``)."""
        self._check_fitted()
        return self._snapshot

    # -- prediction: through the one task-aware fitted model -----------------------------------
    def to_model(self, *, feature_names=None, standardizer=None):
        """This mixture as a :class:`gmmcore.FittedModel` (mode "single", or "shared" when
        fitted with ``tasks``): what ``predict`` and friends use, and what the model file
        stores. ``feature_names`` / ``standardizer`` make it predict on raw data."""
        from .model import FittedModel

        self._check_fitted()
        return FittedModel(self, feature_names, standardizer)

    def score_samples(self, X, *, tasks=None, unknown_task="error"):
        """Log-likelihood of each row, shape (n_samples,).

        ``tasks`` (one label per row) is required for a mixture fitted with tasks;
        ``unknown_task="pooled"`` gives rows of a task not seen in fitting the pooled weights
        (see :meth:`gmmcore.FittedModel.log_prob_resp`).
        """
        return self.to_model().score_samples(X, tasks, unknown_task=unknown_task)

    def score(self, X, y=None, *, tasks=None, unknown_task="error"):
        """Mean log-likelihood per row."""
        return float(self.score_samples(X, tasks=tasks, unknown_task=unknown_task).mean())

    def predict_proba(self, X, *, tasks=None, unknown_task="error"):
        """Responsibilities, shape (n_samples, K); rows sum to 1."""
        return self.to_model().predict_proba(X, tasks, unknown_task=unknown_task)

    def predict(self, X, *, tasks=None, unknown_task="error"):
        """Most probable component of each row, shape (n_samples,)."""
        return self.to_model().predict(X, tasks, unknown_task=unknown_task)

    def sample(self, n_samples=1, *, task=None):
        """Draw from the fitted mixture: (X of shape (n_samples, D), labels of shape (n_samples,)).

        For a multi-task mixture, ``task`` names whose weights to use.
        """
        self._check_fitted()
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, (int, np.integer))
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be a whole number >= 1, got {n_samples!r}.")
        weights = np.asarray(self.weights_)
        if self.tasks_ is not None:
            if task not in self.tasks_:
                raise ValueError(
                    f"pass task= one of {list(self.tasks_)} to sample from a multi-task mixture."
                )
            weights = weights[self.tasks_.index(task)]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        k, d = self.means_.shape
        covs = get_structure(self.covariance_type).covariance_matrices(self.covariances_, k, d)
        X = np.vstack(
            [
                rng.multivariate_normal(mean, cov, int(c))
                for mean, cov, c in zip(self.means_, covs, counts, strict=True)
            ]
        )
        y = np.repeat(np.arange(k), counts)
        return X, y

    # -- model selection ------------------------------------------------------------------
    def n_parameters(self) -> int:
        """Number of free parameters (weights, means, covariances)."""
        self._check_fitted()
        k, d = self.means_.shape
        n_weight_sets = 1 if self.tasks_ is None else len(self.tasks_)
        return get_structure(self.covariance_type).n_parameters(k, d, n_weight_sets)

    _n_parameters = n_parameters  # scikit-learn's private name

    def bic(self, X, *, tasks=None):
        """Bayesian information criterion on X (lower is better)."""
        return self.to_model().bic(X, tasks)

    def aic(self, X, *, tasks=None):
        """Akaike information criterion on X (lower is better)."""
        return self.to_model().aic(X, tasks)

    def icl(self, X, *, tasks=None):
        """mclust's ICL on X in BIC's sign (lower is better): BIC plus the classification
        entropy penalty ``-2 sum_i log max_k r_ik``."""
        return self.to_model().icl(X, tasks)
