"""Model selection: fit a grid of mixtures over K x covariance types and compare criteria.

:func:`model_grid` fits one :class:`~gmmcore.mixture.GaussianMixture` per cell (number of
components K, covariance type) and returns a :class:`pandas.DataFrame` with one row per cell;
:func:`best_cell` picks the row with the lowest criterion.

Sign convention
---------------
BIC, AIC and ICL are reported in scikit-learn's sign, **lower is better**::

    bic = -2 log L + p log n
    aic = -2 log L + 2 p
    icl = bic - 2 sum_i log max_k r_ik      (mclust's ICL: BIC plus the classification entropy)

where ``log L`` is the total log-likelihood of the fitted parameters on X, ``p`` the number of
free parameters and ``n`` the number of rows. R's mclust reports the same quantities with the
opposite sign (higher is better): mclust's ``BIC = -2314.316`` on Old Faithful is our
``bic = 2314.316``.

mclust names
------------
mclust names its covariance parameterizations by volume, shape and orientation (E = equal
across components, V = variable, I = identity). All fourteen (EII ... VVV) are registered,
and E and V for one feature (docs/covariance-models.md); scikit-learn's names are aliases::

    full      -> VVV   (each component its own covariance)
    tied      -> EEE   (one covariance shared by all components)
    diag      -> VVI   (each component its own diagonal covariance)
    spherical -> VII   (each component its own multiple of the identity)

The ``mclust_name`` column carries mclust's name so results can be compared with its tables.

Reproducibility
---------------
Every cell is fitted as ``GaussianMixture(n_components=K, covariance_type=T, n_init=n_init,
tol=tol, convergence=convergence, reg_covar=reg_covar, max_iter=max_iter,
init_params=init_params, random_state=random_state)`` with the *same integer* ``random_state`` for every cell.
Refitting a cell with exactly these arguments (and the same ``tasks``) therefore reproduces it
bit for bit, which is how the dashboard opens a grid cell in the EM explorer. The arguments are
also stored in ``grid.attrs["fit_params"]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .engine import covariance, criteria
from .engine.covariance import get_structure
from .engine.em import check_em_settings
from .engine.estep import effective_n_jobs
from .engine.prior import PRIOR_MODELS
from .engine.validation import check_n_components, check_positive, check_tasks, check_X
from .grid_pool import run_cells
from .mixture import GaussianMixture

__all__ = [
    "GRID_COLUMNS",
    "GRID_DEFAULTS",
    "best_cell",
    "best_k_at_edge",
    "model_grid",
    "top_cells",
]

#: model_grid's EM settings by default (mclust's way: its hierarchical start, shared by every
#: cell, and EM run close to convergence); the command line's ``select`` and the dashboard's
#: Model selection page use the same.
GRID_DEFAULTS: dict = {
    "n_init": 1,
    "tol": 1e-5,
    "convergence": "relative",
    "reg_covar": 1e-6,
    "max_iter": 1000,
    "init_params": "hc",
}

GRID_COLUMNS: tuple[str, ...] = (
    "n_components",
    "covariance_type",
    "mclust_name",
    "log_likelihood",
    "n_parameters",
    "bic",
    "aic",
    "icl",
    "converged",
    "n_iter",
    "degenerate",
    "error",
)

_CRITERIA = ("bic", "aic", "icl")

# What a failing cell may raise. IllConditionedCovarianceError and numpy's LinAlgError are
# ValueErrors; FloatingPointError (an ArithmeticError) only with np.seterr(all="raise").
_CELL_ERRORS = (ValueError, ArithmeticError)

# Up to this many numbers in X the whole grid runs with single-threaded BLAS, in *every* BLAS
# the process has loaded (see grid_pool.single_threaded_blas). Larger data keep BLAS's threads.
_SERIAL_GRID_SIZE = 2**20


def _check_components(n_components) -> list[int]:
    if isinstance(n_components, numbers.Integral) and not isinstance(n_components, bool):
        n_components = [n_components]
    if isinstance(n_components, (str, bytes)) or not isinstance(n_components, Iterable):
        raise ValueError(
            "n_components must be a whole number or a sequence of whole numbers >= 1 "
            f"(e.g. range(1, 10)), got {n_components!r}."
        )
    ks = list(n_components)
    if not ks:
        raise ValueError(
            "n_components is empty; give at least one number of components, e.g. range(1, 10)."
        )
    out: list[int] = []
    for k in ks:
        k = check_n_components(k)
        if k not in out:
            out.append(k)
    return out


def _check_types(covariance_types, n_features: int) -> list[str]:
    """Canonical covariance type names, each once; ``None`` or ``"all"``: the structures
    offered for ``n_features`` features (E and V in 1-D, the multivariate ones otherwise).
    Aliases (mclust's ``VVV``, ...) resolve to the registered name."""
    registered = ", ".join(covariance.covariance_types())
    if covariance_types is None or (
        isinstance(covariance_types, str) and covariance_types == "all"
    ):
        return list(covariance.covariance_types(n_features))
    if isinstance(covariance_types, str):
        covariance_types = [covariance_types]
    if not isinstance(covariance_types, Iterable):
        raise ValueError(
            f"covariance_types must be a list drawn from {registered}, got {covariance_types!r}."
        )
    types = list(covariance_types)
    if not types:
        raise ValueError(f"covariance_types is empty; choose at least one of {registered}.")
    out: list[str] = []
    for t in types:
        name = get_structure(t).name  # raises the ValueError that lists the valid names
        if name not in out:
            out.append(name)
    return out


def _check_fit_arguments(n_init, tol, reg_covar, max_iter, init_params, random_state, convergence):
    check_positive(n_init, "n_init", integer=True)
    check_em_settings(tol, reg_covar, max_iter, init_params, convergence)
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, numbers.Integral)
        or not 0 <= random_state < 2**32
    ):
        raise ValueError(
            "random_state must be an integer between 0 and 2**32 - 1 so that every cell of "
            f"the grid can be refitted exactly; got {random_state!r}."
        )


def _check_prior_types(prior, types: list[str], named: bool) -> list[str]:
    """The types to fit under ``prior``: mclust has no prior for VEE, EVE, VVE and EVV, so
    the default list drops them (as mclustBIC does) and naming one is a ValueError."""
    if prior is None:
        return types
    if not (isinstance(prior, str) and prior == "default"):
        raise ValueError(
            f"prior must be None or 'default' (mclust's defaultPrior, computed per cell), "
            f"got {prior!r}."
        )
    ok = [t for t in types if get_structure(t).mclust_name in PRIOR_MODELS]
    if named and len(ok) < len(types):
        bad = [get_structure(t).mclust_name for t in types if t not in ok]
        raise ValueError(
            f"mclust has no conjugate prior for {', '.join(bad)}; leave them out of "
            f"covariance_types or use prior=None (models with a prior: {', '.join(PRIOR_MODELS)})."
        )
    return ok


# In a worker process: the structures it registered for a grid (name -> structure).
_REGISTERED_FOR_GRIDS: dict = {}


def _know_structures(structures) -> None:
    """In a grid's worker process: register those of the grid's structures it lacks (one the
    caller registered at run time; workers start from gmmcore as imported). Workers are kept
    from one grid to the next, so a structure registered for an earlier grid is replaced by
    this grid's under the same name (the caller may have registered another since)."""
    for structure in structures:
        name = structure.name
        if name in _REGISTERED_FOR_GRIDS:
            covariance.unregister_structure(name)
        elif name in covariance.covariance_types():
            continue  # gmmcore's own
        _REGISTERED_FOR_GRIDS[name] = covariance.register_structure(structure)


def _fit_cell(X, tasks, n_weight_sets, fit_params, k, covariance_type) -> dict:
    structure = get_structure(covariance_type)
    row = {
        "n_components": k,
        "covariance_type": covariance_type,
        "mclust_name": structure.mclust_name,
        "log_likelihood": math.nan,
        # The parameter count does not depend on the fit, so it is filled even for failures.
        "n_parameters": structure.n_parameters(k, X.shape[1], n_weight_sets),
        "bic": math.nan,
        "aic": math.nan,
        "icl": math.nan,
        "converged": False,
        "n_iter": 0,
        "degenerate": False,
        "error": None,
    }
    try:
        model = GaussianMixture(n_components=k, covariance_type=covariance_type, **fit_params)
        model.fit(X, tasks=tasks)
        # One pass for log-likelihood and responsibilities, shared by the three criteria.
        log_norm, log_resp = model.to_model().log_prob_resp(X, tasks)
        ll = float(log_norm.sum())
        if not np.isfinite(ll):
            raise ValueError(
                "the fitted model has a non-finite log-likelihood on X; increase reg_covar "
                "or standardize the features."
            )
        p = model.n_parameters()
        n = X.shape[0]
        row.update(
            log_likelihood=ll,
            n_parameters=int(p),
            bic=criteria.bic(ll, p, n),
            aic=criteria.aic(ll, p),
            icl=criteria.icl(ll, p, n, log_resp),
            converged=bool(model.converged_),
            n_iter=int(model.n_iter_),
            # The kept restart's own verdict (degenerate_components of its last snapshot).
            degenerate=bool(model.restarts_[model.best_restart_].degenerate),
        )
    except _CELL_ERRORS as exc:
        row["error"] = str(exc) or type(exc).__name__
    return row


def model_grid(
    X,
    n_components: Iterable[int] | int = range(1, 10),
    covariance_types: Sequence[str] | None = None,
    *,
    n_init: int = GRID_DEFAULTS["n_init"],
    tol: float = GRID_DEFAULTS["tol"],
    convergence: str = GRID_DEFAULTS["convergence"],
    reg_covar: float = GRID_DEFAULTS["reg_covar"],
    max_iter: int = GRID_DEFAULTS["max_iter"],
    init_params: str = GRID_DEFAULTS["init_params"],
    random_state: int = 0,
    tasks=None,
    progress: Callable[[int, int, dict], object] | None = None,
    n_jobs: int | None = None,
    prior: str | None = None,
) -> pd.DataFrame:
    """Fit one Gaussian mixture per (K, covariance type) cell and tabulate the criteria.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric data without NaN, infinity or constant columns.
    n_components : iterable of int or int, default=range(1, 10)
        The numbers of components K to try (each >= 1; duplicates are ignored).
    covariance_types : sequence of str or "all", optional
        Registered covariance types or their aliases (mclust's ``VVV``, ``EEE``, ``VVI``,
        ``VII`` for ``full``, ``tied``, ``diag``, ``spherical``); rows carry the registered
        name. Default (None or ``"all"``): every type offered for X's number of features
        (:func:`gmmcore.covariance_types` with ``n_features``): mclust's 14 models, or E and
        V for one feature.
    n_init : int, default=1
        EM restarts per cell; the sound restart with the highest likelihood is kept. A
        restart that collapsed (a component on almost no data, see ``degenerate``) is kept
        only when every restart of the cell collapsed (see
        :class:`~gmmcore.mixture.GaussianMixture`'s ``n_init``).
    tol, convergence, reg_covar, max_iter, init_params :
        Passed to :class:`~gmmcore.mixture.GaussianMixture` for every cell. The defaults
        (``tol=1e-5``, ``convergence="relative"``, ``max_iter=1000``, ``init_params="hc"``)
        are mclust's way: its hierarchical start (:mod:`gmmcore.engine.hierarchical`),
        computed once for the grid and shared by every cell, and its stopping rule (EM stops
        when the log-likelihood changes by less than 1e-5 of ``1 + |log-likelihood|``). On
        Old Faithful this picks mclust's EEE, K=3 with BIC 2314.31 (mclust: 2314.316), on
        iris VEV, K=2 (561.73).
    random_state : int, default=0
        The same integer seeds every cell, so a cell refitted with the same arguments is
        reproduced exactly (see the module docstring).
    tasks : array-like of shape (n_samples,), optional
        A task label per row: every cell is a shared multi-task mixture
        (``fit(X, tasks=tasks)``), with one weight vector per task counted in
        ``n_parameters``.
    progress : callable, optional
        Called as ``progress(done, total, row)`` after every cell, ``row`` being that cell's
        row as a dict with the keys of :data:`GRID_COLUMNS`.
    n_jobs : int, optional
        Processes fitting cells (scikit-learn's meaning: None is 1, -1 every core). The grid
        is the same, bit for bit, for every value (:mod:`gmmcore.grid_pool`); the command
        line and the dashboard use every core. Cells are reported to ``progress`` as they
        finish, which with several processes is not cell order.
    prior : None or "default", default=None
        "default": every cell is fitted under mclust's conjugate prior, ``defaultPrior``
        computed from X for that cell's K and model (``mclustBIC(X, prior =
        priorControl())``; see :mod:`gmmcore.engine.prior`), so cells that collapse without
        it can be fitted. BIC, AIC and ICL stay mclust's: the log-likelihood of the
        posterior-mode parameters, the usual parameter count. mclust has no prior for VEE,
        EVE, VVE and EVV: the default list of types leaves them out, naming one is an error.

    Returns
    -------
    grid : pandas.DataFrame of shape (len(n_components) * len(covariance_types), 12)
        Columns :data:`GRID_COLUMNS`, one row per cell, K-major in the order given:

        - ``n_components`` (int), ``covariance_type`` (str), ``mclust_name`` (str);
        - ``log_likelihood`` (float): total log-likelihood of the fitted parameters on X;
        - ``n_parameters`` (int): free parameters (filled even when the fit failed);
        - ``bic``, ``aic``, ``icl`` (float): criteria on X, lower is better;
        - ``converged`` (bool), ``n_iter`` (int) of the kept restart;
        - ``degenerate`` (bool): the kept restart collapsed, which happens only when every
          restart of the cell did; :func:`best_cell` skips such cells by default;
        - ``error`` (str or None): why the cell failed, None when it succeeded. A failed
          cell has NaN log-likelihood and criteria, ``converged=False`` and ``n_iter=0``.

        ``grid.attrs["fit_params"]`` holds the keyword arguments each cell was fitted with.

    Raises
    ------
    ValueError
        Before any fitting, for invalid X (non-numeric, NaN/inf, not 2-D, empty, constant
        column), an empty or invalid ``n_components``, an unknown covariance type, invalid
        fitting arguments, or ``tasks`` of the wrong length. A failing *cell* (e.g. more
        components than rows, an ill-conditioned covariance) never raises: its message goes
        in the ``error`` column and the grid carries on.

    Examples
    --------
    >>> from gmmcore.datasets import load_sample
    >>> X = load_sample("Old Faithful")[["eruptions", "waiting"]]
    >>> grid = model_grid(X, range(1, 4), ["full", "tied"], n_init=5, tol=1e-6, max_iter=500)
    >>> best = best_cell(grid, "bic")
    >>> int(best["n_components"]), best["covariance_type"], best["mclust_name"]
    (3, 'tied', 'EEE')
    """
    Xa = check_X(X)
    ks = _check_components(n_components)
    types = _check_types(covariance_types, Xa.shape[1])
    named = not (
        covariance_types is None or isinstance(covariance_types, str) and covariance_types == "all"
    )
    types = _check_prior_types(prior, types, named)
    _check_fit_arguments(n_init, tol, reg_covar, max_iter, init_params, random_state, convergence)
    n_weight_sets = 1
    if tasks is not None:
        _, names = check_tasks(tasks, Xa.shape[0])
        n_weight_sets = len(names)
    if progress is not None and not callable(progress):
        raise ValueError("progress must be a function progress(done, total, row) or None.")

    fit_params = dict(
        n_init=n_init,
        tol=tol,
        convergence=convergence,
        reg_covar=reg_covar,
        max_iter=max_iter,
        init_params=init_params,
        random_state=int(random_state),
        **({} if prior is None else {"prior": prior}),
    )
    cells = [(k, t) for k in ks for t in types]
    done = 0

    def on_done(_, row):
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(cells), dict(row))

    rows = run_cells(
        _fit_cell,
        (Xa, tasks, n_weight_sets, fit_params),
        cells,
        effective_n_jobs(n_jobs),
        on_done,
        serial_blas=Xa.size <= _SERIAL_GRID_SIZE,
        worker_setup=(_know_structures, ([get_structure(t) for t in types],)),
    )

    grid = pd.DataFrame(rows, columns=list(GRID_COLUMNS))
    grid = grid.astype(
        {
            "n_components": "int64",
            "log_likelihood": "float64",
            "n_parameters": "int64",
            "bic": "float64",
            "aic": "float64",
            "icl": "float64",
            "converged": "bool",
            "n_iter": "int64",
        }
    )
    grid["error"] = grid["error"].astype(object).where(grid["error"].notna(), None)
    grid.attrs["fit_params"] = dict(fit_params)
    return grid


def best_cell(
    grid: pd.DataFrame, criterion: str = "bic", *, allow_degenerate: bool = False
) -> pd.Series:
    """The row of ``grid`` with the lowest ``criterion`` among cells without error.

    Degenerate cells (a component whose covariance is held up only by ``reg_covar``, or that
    lost all its points; see the ``degenerate`` column) are skipped unless
    ``allow_degenerate``: their likelihood is unbounded in the limit, which is why mclust
    reports no BIC for such fits. On Old Faithful, ``diag`` K=5 puts a component on 14 rows
    sharing one whole-minute ``waiting`` value and would otherwise "win".

    Parameters
    ----------
    grid : pandas.DataFrame
        As returned by :func:`model_grid`.
    criterion : {"bic", "aic", "icl"}, default="bic"
        Lower is better for all three.

    Returns
    -------
    row : pandas.Series
        The winning row (its index label is the row's label in ``grid``). Ties go to the
        first row in grid order, i.e. the smaller K.

    Raises
    ------
    ValueError
        For an unknown criterion, a table without the grid's columns, or when no cell has a
        finite value of the criterion (every cell failed).
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"Unknown criterion {criterion!r}; choose one of {', '.join(_CRITERIA)}.")
    if not isinstance(grid, pd.DataFrame) or criterion not in grid.columns:
        raise ValueError(
            f"best_cell needs the DataFrame returned by model_grid (with a {criterion!r} column)."
        )
    ok = grid[criterion].notna() & np.isfinite(grid[criterion].astype(float))
    if "error" in grid.columns:
        ok &= grid["error"].isna()
    if not allow_degenerate and "degenerate" in grid.columns:
        if ok.any() and not (ok & ~grid["degenerate"].astype(bool)).any():
            raise ValueError(
                "Every successful cell of the grid is degenerate (a component collapsed onto a "
                "few points); increase reg_covar, use fewer components, or pass "
                "allow_degenerate=True."
            )
        ok &= ~grid["degenerate"].astype(bool)
    if not ok.any():
        raise ValueError(
            "No cell of the grid was fitted successfully; see the 'error' column for why "
            "(e.g. fewer rows than components, or increase reg_covar)."
        )
    candidates = grid.loc[ok, criterion].astype(float)
    return grid.loc[candidates.idxmin()]


def top_cells(grid: pd.DataFrame, criterion: str = "bic", n: int = 3) -> pd.DataFrame:
    """The ``n`` best sound cells of ``grid`` by ``criterion`` (lowest first), as
    :func:`best_cell` judges them (no errors, no degenerate cells), with a ``delta`` column:
    how much worse than the best each is (0 for the best). mclust's ``summary(mclustBIC)``
    lists its top three the same way; a delta below ~2 BIC points is weak evidence, above ~10
    strong (Kass & Raftery 1995).

    Raises ValueError as :func:`best_cell` does (unknown criterion, no sound cell).
    """
    best = best_cell(grid, criterion)  # validates and raises the same errors
    ok = grid["error"].isna() & ~grid["degenerate"].astype(bool)
    ok &= np.isfinite(grid[criterion].astype(float))
    top = grid[ok].sort_values([criterion, "n_components"], kind="stable").head(int(n)).copy()
    top["delta"] = top[criterion].astype(float) - float(best[criterion])
    return top


def best_k_at_edge(grid: pd.DataFrame, best: pd.Series) -> str | None:
    """ "upper" when ``best``'s K is the largest K of ``grid`` (the criterion may keep
    improving beyond the range: try larger K), "lower" when it is the smallest and that is
    above 1, else None."""
    ks = grid["n_components"]
    k = int(best["n_components"])
    if k == int(ks.max()):
        return "upper"
    if k == int(ks.min()) and k > 1:
        return "lower"
    return None
