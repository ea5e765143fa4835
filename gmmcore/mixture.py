"""``GaussianMixture``: scikit-learn's estimator API over :func:`gmmcore.iter_em`."""

from __future__ import annotations

import inspect

import numpy as np

from ._sklearn_compat import (
    VerboseReporter,
    check_features,
    check_init_parameters,
    clone_estimator,
    feature_names_of,
    prevalidate_X,
    sklearn_tags,
)
from .engine.covariance import IllConditionedCovarianceError, get_structure
from .engine.em import Snapshot, convergence_change, iter_em
from .engine.prior import resolve_prior
from .engine.validation import check_n_components, check_random_state, check_tasks, check_X
from .exceptions import ConvergenceWarning, NotFittedError
from .restarts import (
    RestartResult,
    better_restart,
    mark_converged,
    run_result,
    warn_if_not_converged,
)

__all__ = ["ConvergenceWarning", "GaussianMixture", "NotFittedError", "RestartResult"]

# scikit-learn's wording, kept verbatim: code written for scikit-learn matches on it.
_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar, or scale the input data."
)


def _plain_equal(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. a list of arrays
        return False


def _is_dask(X) -> bool:
    """A dask collection, recognized without importing dask."""
    return type(X).__module__.split(".")[0] in ("dask", "dask_expr")


class GaussianMixture:
    """Gaussian mixture fitted by EM, with scikit-learn's constructor, attributes and methods.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        Convergence threshold on the change of the log-likelihood, measured as
        ``convergence`` says.
    convergence : {"mean", "relative"}, default="mean"
        "mean" (scikit-learn's rule): EM stops when the mean log-likelihood per sample
        changes by less than ``tol``. "relative" (mclust's): when the log-likelihood ``L``
        changes by less than ``tol * (1 + |L|)``; :func:`gmmcore.model_grid` uses it with
        tol=1e-5, as mclust does.
    reg_covar : float, default=1e-6
    max_iter : int, default=100
    n_init : int, default=1
        EM restarts; the one with the highest final lower bound is kept, except that a
        restart that collapsed (``RestartResult.degenerate``) never wins over a sound one.
        Every restart's outcome stays available in ``restarts_``.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
    weights_init, means_init, precisions_init : array-like, optional
    random_state : None, int or RandomState
    warm_start : bool, default=False
        As scikit-learn: a second ``fit`` of a fitted mixture continues EM from its
        parameters (one run, ``n_init`` ignored) and measures the first change of the lower
        bound from the fitted ``lower_bound_``, so repeated ``fit`` calls report convergence.
    verbose : int, default=0
        1 prints each run's start, every ``verbose_interval``-th iteration and whether it
        converged; 2 adds timings and the change of the lower bound (scikit-learn's format).
    verbose_interval : int, default=10
    n_jobs : int, default=None
        Threads for the E-step (scikit-learn's meaning: None is 1, -1 every core). Results
        are bit-identical for every value.
    step_exponent, step_offset : float, default=0.6 and 2.0
        The step size ``gamma_t = (t + step_offset)^(-step_exponent)`` of :meth:`partial_fit`
        (stepwise EM, see :mod:`gmmcore.engine.online`); step_exponent in (0.5, 1].
    prior : None, "default" or ConjugatePrior, default=None
        mclust's conjugate prior (:mod:`gmmcore.engine.prior`): "default" is mclust's
        ``defaultPrior`` computed from X; EM then finds the posterior mode, which keeps
        components from collapsing. In-memory ``fit`` only; not for VEE, EVE, VVE, EVV.

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
    prior_ : ConjugatePrior or None, the prior the fit used (``prior`` resolved on X)

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
        convergence="mean",
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
        n_jobs=None,
        step_exponent=0.6,
        step_offset=2.0,
        prior=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.convergence = convergence
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
        self.n_jobs = n_jobs
        self.step_exponent = step_exponent
        self.step_offset = step_offset
        self.prior = prior

    # -- scikit-learn plumbing ------------------------------------------------------------
    def get_params(self, deep=True):
        """Constructor parameters, ``{name: value}`` (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    @classmethod
    def _get_param_names(cls):
        return sorted(p for p in inspect.signature(cls.__init__).parameters if p != "self")

    def set_params(self, **params):
        """Set constructor parameters by name; returns self. Unknown names are a ValueError."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}; valid "
                    f"ones are {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        changed = []
        for k in defaults:
            v, default = getattr(self, k), defaults[k]
            same = v is default or (not hasattr(v, "shape") and _plain_equal(v, default))
            if not same:
                changed.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags: a density estimator (only scikit-learn calls this)."""
        return sklearn_tags(self)

    def __sklearn_clone__(self):
        """``sklearn.clone``: an unfitted copy with the same (deep-copied) parameters."""
        return clone_estimator(self)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "means_")

    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X, y=None, *, tasks=None):
        """Fit by EM, keeping the best of ``n_init`` runs.

        Warns with :class:`~gmmcore.ConvergenceWarning` when the kept run stopped at
        ``max_iter`` before converging (not for ``max_iter=0``). With ``warm_start=True`` a
        fitted mixture continues from its parameters and its ``lower_bound_``, as in
        scikit-learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A DataFrame whose column names are all strings sets ``feature_names_in_``.
        y : ignored
        tasks : array-like of shape (n_samples,), optional
            Task label per row: fits the shared multi-task mixture (components shared, one
            weight vector per task).

        Returns
        -------
        self
        """
        if _is_dask(X):  # blockwise on the dask workers, see gmmcore.scale.dask
            self._no_prior("a dask collection")
            from .scale.dask import fit_dask

            return fit_dask(self, X, tasks)
        self.__dict__.pop("_online", None)  # a later partial_fit starts again
        self._fit(X, tasks)
        return self

    def partial_fit(self, X, y=None):
        """One step of online (stepwise) EM on the mini-batch X, shape (m, n_features).

        The first call (or the first after :meth:`fit`) starts from X with ``init_params``
        (or the ``*_init`` arrays); every call then runs the E-step on X, moves the running
        statistics by ``gamma_t = (t + step_offset)^(-step_exponent)`` and runs one M-step
        (Cappé & Moulines 2009; see :mod:`gmmcore.engine.online`). ``history_`` holds the
        latest batch's "E" and "M" snapshots, ``n_iter_`` the batches seen, ``lower_bound_``
        the latest batch's mean log-likelihood; ``converged_`` stays False.

        Returns
        -------
        self
        """
        from .scale.estimator import partial_fit

        self._no_prior("partial_fit")
        return partial_fit(self, X)

    def fit_source(self, source, *, init_sample=None, progress=None):
        """Fit on a source of row blocks that is read again on every EM pass (bounded
        memory): a :class:`gmmcore.scale.ParquetSource`, :class:`~gmmcore.scale.CsvSource`,
        :class:`~gmmcore.scale.ArraySource`, or a path (``open_source``: every numeric column
        of a Parquet file, every column of a CSV). The start comes from a uniform sample of
        ``init_sample`` rows (default :data:`gmmcore.scale.stream.INIT_SAMPLE`), drawn once;
        ``n_init`` restarts each start from it and re-read the source on every pass
        (:mod:`gmmcore.scale.stream`). ``progress``: e.g. ``gmmcore.scale.TextProgress()``.

        Returns
        -------
        self
        """
        from .scale.estimator import fit_source

        self._no_prior("fit_source")
        return fit_source(self, source, init_sample=init_sample, progress=progress)

    def _no_prior(self, what: str) -> None:
        if self.prior is not None:
            raise ValueError(
                f"prior={self.prior!r} is supported by fit on in-memory data only, not by "
                f"{what}; fit in memory, or set prior=None."
            )

    def fit_predict(self, X, y=None, *, tasks=None):
        """Fit, then return the labels of X under the fitted model, shape (n_samples,)."""
        return self.fit(X, tasks=tasks).predict(X, tasks=tasks)

    def _fit(self, X, tasks):
        k = check_n_components(self.n_components)
        structure = get_structure(self.covariance_type)
        n_init = self.n_init
        if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
            raise ValueError(f"n_init must be a whole number >= 1, got {n_init!r}.")
        names = feature_names_of(X)
        prevalidate_X(X, type(self).__name__)
        Xa = check_X(X, keep_float32=True)  # float32 data give a float32 model
        n, d = Xa.shape
        if n < k:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {k}, n_samples = "
                f"{n} (X has {n} row(s), fewer than n_components={k}; use fewer components "
                "or more data)."
            )
        rng = check_random_state(self.random_state)
        prior = resolve_prior(self.prior, Xa, k, structure.name)
        # As scikit-learn: a warm start continues from the fitted parameters, once, and
        # measures its first change of the lower bound from the fitted lower_bound_.
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        if warm:
            init = dict(
                weights_init=self.weights_, means_init=self.means_, precisions_init=self.precisions_
            )
            n_init, start_bound = 1, self.lower_bound_
        else:
            init = dict(
                weights_init=self.weights_init,
                means_init=self.means_init,
                precisions_init=self.precisions_init,
            )
            check_init_parameters(**init, structure=structure, k=k, d=d)
            start_bound = -np.inf
        reporter = VerboseReporter(self.verbose, self.verbose_interval)
        restarts = []
        best = None
        for index in range(n_init):
            reporter.start(index)
            try:
                result = self._run(Xa, k, rng, tasks, init, start_bound, reporter, index, prior)
            except IllConditionedCovarianceError as err:
                err.args = (f"{_ILL_DEFINED} ({err})",)
                raise
            restarts.append(result)
            if best is None or better_restart(result, best):
                best = result
        task_n_samples = None
        if tasks is not None:  # rows per task, in task order: they weight the pooled weights
            codes, task_names = check_tasks(tasks, n)
            task_n_samples = np.bincount(codes, minlength=len(task_names)).tolist()
        self._set_fitted(best, task_n_samples=task_n_samples, feature_names=names)
        if names is None and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # refitted on data without names, as scikit-learn
        self.restarts_ = restarts
        self.prior_ = prior
        warn_if_not_converged(self, stacklevel=3)
        return self

    def _run(self, X, k, rng, tasks, init, start_bound, reporter, index, prior=None):
        """One EM run: consume :func:`iter_em`'s snapshots, decide convergence from
        ``start_bound`` on (the engine starts from -inf, a warm start from ``lower_bound_``),
        report progress, and stop the generator once converged."""
        snapshots = iter_em(
            X,
            k,
            covariance_type=self.covariance_type,
            tol=self.tol,
            convergence=self.convergence,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            init_params=self.init_params,
            random_state=rng,
            tasks=tasks,
            n_jobs=self.n_jobs,
            prior=prior,
            **init,
        )
        history, previous, change, converged = [], start_bound, np.inf, False
        try:
            for snap in snapshots:
                if snap.phase == "E":
                    mean = snap.mean_log_likelihood
                    change = convergence_change(previous, mean, snap.n_samples, self.convergence)
                    previous = mean
                    converged = bool(abs(change) < self.tol)
                elif snap.phase == "M":
                    reporter.iteration(snap.iteration, change)
                    if converged and not snap.converged:  # a warm start's first iteration
                        snap = mark_converged(snap, change, self.tol, self.convergence)
                history.append(snap)
                if converged and snap.phase == "M":
                    break
        finally:
            snapshots.close()
        result = run_result(history, index=index, converged=converged, reg_covar=self.reg_covar)
        if result.n_iter > 0:
            reporter.end(result.lower_bound, converged)
        return result

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

    def _model_for(self, X):
        """The fitted model, after scikit-learn's checks of X against the fit: feature names
        (ValueError if they differ, a warning if only one side has them) and count."""
        self._check_fitted()
        check_features(self, X)
        return self.to_model()

    def score_samples(self, X, *, tasks=None, unknown_task="error"):
        """Log-likelihood of each row, shape (n_samples,).

        ``tasks`` (one label per row) is required for a mixture fitted with tasks;
        ``unknown_task="pooled"`` gives rows of a task not seen in fitting the pooled weights
        (see :meth:`gmmcore.FittedModel.log_prob_resp`).
        """
        if _is_dask(X):
            from .scale.dask import blockwise

            return blockwise(self, "score_samples", X, tasks, unknown_task=unknown_task)
        return self._model_for(X).score_samples(X, tasks, unknown_task=unknown_task)

    def score(self, X, y=None, *, tasks=None, unknown_task="error"):
        """Mean log-likelihood per row."""
        if _is_dask(X):
            from .scale.dask import score

            return score(self, X, tasks, unknown_task=unknown_task)
        return float(self.score_samples(X, tasks=tasks, unknown_task=unknown_task).mean())

    def predict_proba(self, X, *, tasks=None, unknown_task="error"):
        """Responsibilities, shape (n_samples, K); rows sum to 1."""
        if _is_dask(X):
            from .scale.dask import blockwise

            return blockwise(self, "predict_proba", X, tasks, unknown_task=unknown_task)
        return self._model_for(X).predict_proba(X, tasks, unknown_task=unknown_task)

    def predict(self, X, *, tasks=None, unknown_task="error"):
        """Most probable component of each row, shape (n_samples,)."""
        if _is_dask(X):
            from .scale.dask import blockwise

            return blockwise(self, "predict", X, tasks, unknown_task=unknown_task)
        return self._model_for(X).predict(X, tasks, unknown_task=unknown_task)

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
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. n_samples must be a whole "
                "number >= 1 (the sampling requires at least one sample)."
            )
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
        return self._model_for(X).bic(X, tasks)

    def aic(self, X, *, tasks=None):
        """Akaike information criterion on X (lower is better)."""
        return self._model_for(X).aic(X, tasks)

    def icl(self, X, *, tasks=None):
        """mclust's ICL on X in BIC's sign (lower is better): BIC plus the classification
        entropy penalty ``-2 sum_i log max_k r_ik``."""
        return self._model_for(X).icl(X, tasks)
