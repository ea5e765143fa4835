"""Covariance structures: everything that depends on one parameterization of the covariances.

Each structure turns sufficient statistics (and the previous parameters, for iterative
M-steps) into covariances, factors covariances into precision Cholesky factors and back,
evaluates Mahalanobis distances and log-determinants for the E-step, counts its free
parameters, describes and validates its arrays (user-given precisions, covariances read from
a model file), and names itself in plain words and in mclust's vocabulary. The EM loop, the
estimators, the model file, the command line and the dashboard only ever talk to a structure
through this interface, and they learn which structures exist from the registry
(:func:`register_structure`, :func:`covariance_types`): adding a parameterization is one
class here and one ``register_structure`` call, nothing else.

Shapes, with K components and D features:

=========== ================ ===================== ============================
type        covariances      precisions_cholesky   second-moment statistic S2
=========== ================ ===================== ============================
full        (K, D, D)        (K, D, D)             (K, D, D)  sum_i r_ik x_i x_i^T
tied        (D, D)           (D, D)                (D, D)     sum_i x_i x_i^T
diag        (K, D)           (K, D)                (K, D)     sum_i r_ik x_i**2
spherical   (K,)             (K,)                  (K, D)     sum_i r_ik x_i**2
=========== ================ ===================== ============================

The precision Cholesky factor ``U`` satisfies ``U @ U.T == inv(covariance)`` (scikit-learn's
convention), so ``||(x - mu) @ U||**2`` is the squared Mahalanobis distance.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from . import kernels

__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_NAMES",
    "NK_EPS",
    "SYMMETRY_RTOL",
    "CovarianceStructure",
    "IllConditionedCovarianceError",
    "covariance_aliases",
    "covariance_types",
    "em_start",
    "get_structure",
    "in_em_start",
    "register_alias",
    "register_structure",
    "unregister_structure",
]

# scikit-learn's nk floor: keeps an empty component's mean and weight finite.
NK_EPS = 10 * np.finfo(np.float64).eps
# A matrix is symmetric when max |C - C^T| <= SYMMETRY_RTOL * max |C| (user-given arrays only:
# the M-step symmetrizes its own results).
SYMMETRY_RTOL = 1e-10

_EM_START = contextvars.ContextVar("gmmcore_em_start", default=False)


@contextlib.contextmanager
def em_start():
    """Marks EM's first M-step (from the initialization's responsibilities, ``previous`` is
    None). A structure whose M-step iterates (mclust's EVE, VVE, VEV, ...) may then stop its
    inner loop as loosely as when it is warm-started: EM's next M-steps carry the inner loop
    on from there. Outside, ``previous=None`` asks for the exact M-step (what the reference
    tests compare with mclust's ``mstep``)."""
    token = _EM_START.set(True)
    try:
        yield
    finally:
        _EM_START.reset(token)


def in_em_start() -> bool:
    """True inside :func:`em_start`."""
    return _EM_START.get()


class IllConditionedCovarianceError(ValueError):
    """A component's covariance is not positive definite even with ``reg_covar`` added."""

    def __init__(self, component: int | None, reg_covar: float):
        which = "the shared covariance" if component is None else f"component {component}"
        super().__init__(
            f"EM produced a covariance for {which} that is not positive definite "
            f"(reg_covar={reg_covar:g}). This happens when a component collapses onto a few "
            "points or onto a line. Increase reg_covar (e.g. 1e-4), use fewer components, "
            "standardize the features, or pick a simpler covariance type (diag or spherical)."
        )
        self.component = component


class CovarianceStructure:
    """Interface of a covariance parameterization (one instance per type, stateless).

    Subclasses set the class attributes and implement the methods marked "interface"; the
    rest (parameter count, shape description, validation of user-given arrays, precisions
    from their Cholesky factor) is derived from those.

    Attributes
    ----------
    name : str
        Our name (scikit-learn's), e.g. ``"full"``: the value of ``covariance_type``.
    mclust_name : str
        The equivalent mclust model name, e.g. ``"VVV"``.
    description : str
        One plain-language sentence for people choosing a structure (dashboard, ``--help``).
    second_moment : {"outer", "square", "global_outer"}
        Which second-moment statistic the M-step needs: per-component outer products,
        per-component squares, or the responsibility-free total outer product (computed once
        per fit because it does not change between iterations).
    common_covariance : bool
        One covariance shared by every component (its arrays have no component axis).
    diagonal : bool
        Axis-aligned covariances stored as variances (no off-diagonal entries).
    """

    name: str = ""
    mclust_name: str = ""
    description: str = ""
    second_moment: str = ""
    common_covariance: bool = False
    diagonal: bool = False

    def supports(self, n_features: int) -> bool:
        """Whether this structure is *offered* for data with ``n_features`` features (the
        default grid, the command line's and the dashboard's choices).

        Default True. mclust's univariate E and V support only one feature; the multivariate
        models say False for one feature, where each reduces to E or V (mclust offers only
        E and V for d = 1). Naming a type explicitly still fits it wherever its M-step is
        defined: this is about what to offer, not a validation.
        """
        return True

    # -- interface: M-step ------------------------------------------------------------------
    def m_step(self, nk, means, S2, reg_covar, previous=None):  # pragma: no cover
        """Covariances from statistics (the covariance half of the M-step).

        Parameters
        ----------
        nk : ndarray of shape (K,)
            Summed responsibilities per component (already floored by ``NK_EPS``).
        means : ndarray of shape (K, D)
            The new means ``S1 / nk``.
        S2 : ndarray
            The second-moment statistic named by ``second_moment`` (see module docstring).
        reg_covar : float
            Added to the diagonal so every covariance stays positive definite.
        previous : ndarray or None
            The covariances of the parameters the E-step used (shape per type), or None for
            the first M-step from starting responsibilities. Closed-form M-steps ignore it;
            iterative ones (mclust's EVE, VEV, ...) start their inner iterations from it so
            the expected complete-data log-likelihood never decreases.

        Returns
        -------
        covariances : ndarray (shape per type), regularized.
        raw_min_variance : ndarray of shape (K,), or (1,) for a common covariance
            Smallest variance (eigenvalue for matrices) before regularization, used to report
            components held up only by ``reg_covar``.
        """
        raise NotImplementedError

    # -- interface: factors and densities ---------------------------------------------------
    def precisions_cholesky(self, covariances, reg_covar=0.0):  # pragma: no cover
        """Precision Cholesky factors of covariances (same shape); raises
        :class:`IllConditionedCovarianceError` naming the first covariance that is not
        positive definite."""
        raise NotImplementedError

    def precisions_cholesky_from_precisions(self, precisions):  # pragma: no cover
        """Precision Cholesky factors of precisions (same shape); LinAlgError when a
        precision is not positive definite."""
        raise NotImplementedError

    def covariances_from_precisions_cholesky(self, prec_chol):  # pragma: no cover
        raise NotImplementedError

    def log_det_precisions_cholesky(self, prec_chol, n_features):  # pragma: no cover
        """log det(U) = -0.5 log det(covariance), shape (K,) or scalar for a common one."""
        raise NotImplementedError

    def mahalanobis(self, X, means, prec_chol):  # pragma: no cover
        """Squared Mahalanobis distances, shape (n, K). Unchecked kernel: no validation."""
        raise NotImplementedError

    def estep_plan(self, means, prec_chol):
        """Per-E-step kernel turning a feature block ``[1 | x | q(x)]`` into weighted
        log-densities (see :mod:`gmmcore.engine.kernels`). Unchecked.

        The default works for any structure through ``mahalanobis``; the built-in
        structures override it with BLAS-shaped plans.
        """
        return kernels.MahalanobisPlan(self, means, prec_chol)

    def whitening_factors(self, prec_chol, n_components, n_features):
        """The precision factors in a form the compiled E-step reads
        (:mod:`gmmcore.engine.compiled`): ``("triangular", U)`` with U of shape (K, D, D)
        upper-triangular, or ``("diagonal", u)`` with u of shape (K, D), such that
        ``|(x - mu_k) U_k|^2`` is the squared Mahalanobis distance; None (the default) keeps
        the structure on the NumPy plans."""
        return None

    def covariance_matrices(self, covariances, n_components, n_features):  # pragma: no cover
        """Covariances as a (K, D, D) stack, whatever the type (for plots and sampling)."""
        raise NotImplementedError

    # -- interface: sizes -------------------------------------------------------------------
    def n_cov_parameters(self, n_components, n_features):  # pragma: no cover
        raise NotImplementedError

    def expected_shape(self, n_components, n_features):  # pragma: no cover
        """Shape of the covariances (and of the precisions and their factors)."""
        raise NotImplementedError

    # -- derived ----------------------------------------------------------------------------
    def n_parameters(self, n_components: int, n_features: int, n_weight_sets: int = 1) -> int:
        """Free parameters: weights, means and covariances.

        ``n_weight_sets`` is the number of separate weight vectors (one per task in a
        shared multi-task mixture), each with ``n_components - 1`` free entries.
        """
        weights = n_weight_sets * (n_components - 1)
        return int(
            weights + n_components * n_features + self.n_cov_parameters(n_components, n_features)
        )

    def precisions_from_cholesky(self, prec_chol) -> np.ndarray:
        """Precisions ``U U^T`` (variances' reciprocals for diagonal types), same shape."""
        prec_chol = np.asarray(prec_chol)
        if self.diagonal:
            return prec_chol**2
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)

    def shape_description(self, n_components: int, n_features: int) -> str:
        """Why the covariances have the shape they have, for error messages, e.g.
        ``"covariance_type='full' with n_components=3 and n_features=2"``."""
        k, d = n_components, n_features
        base = self.expected_shape(k, d)
        uses = []
        if self.expected_shape(k + 1, d) != base:
            uses.append(f"n_components={k}")
        if self.expected_shape(k, d + 1) != base:
            uses.append(f"n_features={d}")
        text = f"covariance_type={self.name!r}"
        return text + (" with " + " and ".join(uses) if uses else "")

    def _where(self, field: str, component: int) -> str:
        return field if self.common_covariance else f"{field}[{component}]"

    def _check_symmetric(self, arr, n_features, field, fix) -> None:
        if self.diagonal:
            return
        mats = np.asarray(arr).reshape(-1, n_features, n_features)
        for j, m in enumerate(mats):
            gap = np.abs(m - m.T).max()
            if gap > SYMMETRY_RTOL * np.abs(m).max():
                raise ValueError(
                    f"{self._where(field, j)} is not symmetric (largest |C - C^T| is {gap:.3g}, "
                    f"above the tolerance {SYMMETRY_RTOL:g} relative to its largest entry)"
                    + (f"; {fix}" if fix else "")
                )

    def check_precisions(self, precisions, n_components, n_features, name="precisions_init"):
        """Validate user-given precisions (``precisions_init``); returns their Cholesky
        factors. Raises ValueError saying what is wrong and what to pass instead."""
        p = np.asarray(precisions, dtype=np.float64)
        shape = self.expected_shape(n_components, n_features)
        if p.shape != shape:
            raise ValueError(
                f"{name} for covariance_type={self.name!r} must have shape {shape}, got {p.shape}."
            )
        if not np.isfinite(p).all():
            raise ValueError(f"{name} contains NaN or infinity.")
        if self.diagonal:
            if (p <= 0).any():
                raise ValueError(
                    f"{name} must be positive everywhere for covariance_type={self.name!r} "
                    "(a precision is 1 / variance)."
                )
        else:
            self._check_symmetric(p, n_features, name, "pass inv(covariance) for each component")
        try:
            prec_chol = self.precisions_cholesky_from_precisions(p)
        except (np.linalg.LinAlgError, ValueError):
            prec_chol = None
        if prec_chol is None or not np.isfinite(prec_chol).all():
            raise ValueError(
                f"{name} must be symmetric positive definite (positive for diagonal types); "
                "pass inv(covariance) for each component."
            )
        return prec_chol

    def check_covariances(self, covariances, n_components, n_features, field="covariances"):
        """Validate user-given covariances (e.g. read from a model file): shape, symmetry,
        positive definiteness. Returns the precision Cholesky factors (as the fit computes
        them, so predictions are bit for bit the fitted model's).

        Raises ValueError whose message starts with ``field`` (indexed by component) and says
        what is wrong.
        """
        cov = np.asarray(covariances, dtype=np.float64)
        shape = self.expected_shape(n_components, n_features)
        if cov.shape != shape:
            raise ValueError(
                f"{field} has shape {cov.shape} but "
                f"{self.shape_description(n_components, n_features)}, so it must have shape "
                f"{shape}"
            )
        self._check_symmetric(cov, n_features, field, "")
        try:
            prec_chol = self.precisions_cholesky(cov)
        except IllConditionedCovarianceError as exc:
            j = exc.component if exc.component is not None else 0
            if self.common_covariance:
                what = f"{field} (the shared covariance) is not positive definite"
            elif self.diagonal:
                what = f"{field}[{j}] (component {j}) has a variance <= 0; variances must be > 0"
            else:
                what = f"{field}[{j}] (component {j}) is not positive definite"
            raise ValueError(what) from None
        if not np.isfinite(prec_chol).all():
            raise ValueError(f"{field} is numerically singular (its inverse overflows)")
        return prec_chol

    def __repr__(self) -> str:
        return f"<CovarianceStructure {self.name!r} (mclust {self.mclust_name})>"


# -- the registry: the only list of covariance types ---------------------------------------------
_REGISTRY: dict[str, CovarianceStructure] = {}
# Other names of registered structures (mclust's names of the built-ins): accepted wherever a
# covariance type is, resolved by get_structure; never listed by covariance_types().
_ALIASES: dict[str, str] = {}


def register_structure(structure: CovarianceStructure) -> CovarianceStructure:
    """Add a covariance structure; from then on every layer offers it (API, model file and its
    schema, command line, dashboard). Returns the structure.

    Raises ValueError if it is not a :class:`CovarianceStructure` with a ``name`` and
    ``mclust_name``, or if the name is taken (by a structure or an alias).
    """
    if not isinstance(structure, CovarianceStructure) or not structure.name:
        raise ValueError("register_structure needs a CovarianceStructure instance with a name.")
    if not structure.mclust_name:
        raise ValueError(f"covariance structure {structure.name!r} needs an mclust_name.")
    if structure.name in _REGISTRY or structure.name in _ALIASES:
        raise ValueError(f"a covariance structure named {structure.name!r} is registered already.")
    _REGISTRY[structure.name] = structure
    return structure


def register_alias(alias: str, name: str) -> None:
    """Accept ``alias`` wherever the covariance type ``name`` is (e.g. mclust's ``"VVV"`` for
    ``"full"``). :func:`get_structure` resolves it; the structure's own ``name`` stays what
    fitted models, snapshots and model files carry.

    Raises ValueError if ``name`` is not registered or ``alias`` is taken.
    """
    if name not in _REGISTRY:
        raise ValueError(f"cannot alias {alias!r} to {name!r}: no such covariance structure.")
    if not isinstance(alias, str) or not alias or alias in _REGISTRY:
        raise ValueError(f"{alias!r} cannot be an alias: it is empty or a structure's name.")
    if _ALIASES.get(alias, name) != name:
        raise ValueError(f"{alias!r} is an alias of {_ALIASES[alias]!r} already.")
    _ALIASES[alias] = name


def covariance_aliases() -> dict[str, str]:
    """Alias -> registered name, e.g. ``{"VVV": "full", "EEE": "tied", ...}`` (a copy)."""
    return dict(_ALIASES)


def unregister_structure(name: str) -> None:
    """Remove a registered structure (for tests and plug-ins); built-ins stay registered."""
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a built-in covariance structure and cannot be removed.")
    _REGISTRY.pop(name, None)
    for alias in [a for a, n in _ALIASES.items() if n == name]:
        del _ALIASES[alias]


def get_structure(covariance_type: str) -> CovarianceStructure:
    """The structure object for a covariance type name or alias; a clear ValueError otherwise.

    >>> s = get_structure("tied")
    >>> s.mclust_name, s.expected_shape(3, 2), s.n_parameters(3, 2)
    ('EEE', (2, 2), 11)
    >>> s.shape_description(3, 2)
    "covariance_type='tied' with n_features=2"
    >>> get_structure("VVV").name  # mclust's name of a built-in is an alias
    'full'
    """
    try:
        return _REGISTRY[_ALIASES.get(covariance_type, covariance_type)]
    except (KeyError, TypeError):
        aliases = ", ".join(f"{a} (= {n})" for a, n in _ALIASES.items())
        raise ValueError(
            f"Unknown covariance_type {covariance_type!r}; choose one of {', '.join(_REGISTRY)}"
            + (f", or mclust's names {aliases}." if aliases else ".")
        ) from None


def covariance_types(n_features: int | None = None) -> tuple[str, ...]:
    """The registered covariance type names, in registration order (built-ins first).

    Everything that offers a choice of structure (the command line, the dashboard, the model
    file's schema, the model-selection grid's default) calls this, so a structure registered
    with :func:`register_structure` is offered everywhere. Aliases are not listed.

    Parameters
    ----------
    n_features : int, optional
        Only the structures offered for data with this many features
        (:meth:`CovarianceStructure.supports`): mclust's E and V for one feature, the
        multivariate ones otherwise. None (default): every registered structure.
    """
    if n_features is None:
        return tuple(_REGISTRY)
    return tuple(t for t, s in _REGISTRY.items() if s.supports(int(n_features)))


# The built-in structures live in their own module; it imports this one (the interface), so
# it is imported here, once everything it needs is defined.
from .structures import BUILT_IN_STRUCTURES  # noqa: E402

for _structure in BUILT_IN_STRUCTURES:
    register_structure(_structure)
_BUILT_IN = frozenset(_REGISTRY)
for _alias, _name in (("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"), ("VII", "spherical")):
    register_alias(_alias, _name)

#: The built-in covariance type names (``covariance_types()`` also lists registered ones).
COVARIANCE_TYPES: tuple[str, ...] = covariance_types()
#: Built-in covariance type name -> mclust's model name (``get_structure(t).mclust_name`` for
#: any registered one; each mclust name is also an alias, see :func:`register_alias`).
MCLUST_NAMES: dict[str, str] = {t: _REGISTRY[t].mclust_name for t in COVARIANCE_TYPES}
