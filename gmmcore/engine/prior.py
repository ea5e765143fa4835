"""mclust's conjugate prior: posterior-mode (MAP) M-steps, so that cells that would collapse
can be fitted (Fraley & Raftery 2007, "Bayesian regularization for normal mixture estimation
and model-based clustering", Journal of Classification 24; mclust's ``priorControl()`` and
``defaultPrior``).

The prior
---------
Each component mean is normal around a prior mean ``mu_P`` with the component's covariance
shrunk by ``kappa`` (the *shrinkage*), and each covariance (or, in the constrained models,
its volume, shape or variances) is inverse-Wishart / inverse-gamma with ``nu`` degrees of
freedom (*dof*) and *scale* ``Lambda``. Maximizing the expected complete-data log-likelihood
plus the log prior gives closed forms (the M-step of EM turns into a MAP step):

    mu_k    = (n_k ybar_k + kappa mu_P) / (n_k + kappa)
    B_k     = Lambda + W_k + kappa n_k / (kappa + n_k) (ybar_k - mu_P)(ybar_k - mu_P)^T
    Sigma_k = the model's ML covariance from the scatter matrices B_k (instead of W_k) and the
              counts n_k + a_k (instead of n_k)

with ``W_k`` the scatter of component k around its weighted mean ``ybar_k``. The extra count
``a_k`` (the prior's exponent of ``|Sigma_k|``) and how ``Lambda`` enters depend on the model,
and are taken from mclust 6.0's Fortran EM routines (``me*p`` in ``src/mclust.f``; the
one-component fits ``mvn1p``, ``mnxiip``, ``mnxxip``, ``mnxxxp`` for K = 1), so that the fitted
parameters and the BIC are mclust's (see :data:`EXTRA_COUNTS`). The weights are not given a
prior (mclust's are not either). Since every step is the exact maximizer of the expected
complete-data log-likelihood plus :meth:`ConjugatePrior.log_density`, EM with the prior never
decreases the log-posterior (the log-likelihood itself may go down a little).

mclust's defaults (``defaultPrior(data, G, modelName)``), computed from the data by
:func:`default_prior`: shrinkage 0.01, prior mean the column means, dof ``D + 2`` (3 for one
feature), scale ``var(x) / G^2`` (one feature), ``(1/G)^(2/D) * sum_j var(x_j) / D`` (round and
axis-aligned models: a number), ``(1/G)^(2/D) * cov(X)`` (ellipsoidal models; the diagonal of
it when n <= D), with ``var`` and ``cov`` the unbiased (n - 1) estimates.

Models
------
mclust 6.0 has a prior for E, V, EII, VII, EEI, VEI, EVI, VVI, EEE, EEV, VEV and VVV
(:data:`PRIOR_MODELS`). For VEE, EVE, VVE and EVV it has none: ``mclustBIC(prior=...)`` drops
them from the models silently (even when named), and ``me()`` fails with an internal error.
Here the grid drops them too when the models are not named, and naming one (or fitting one
with a prior) is a ValueError that says so. Where mclust's routines differ from an exact
posterior mode we keep the mode and say so:

- EEI with K >= 2: mclust's ``meeeip`` leaves the means unshrunk (the shrinkage moves them by
  ``kappa / (n_k + kappa)``, ~1e-4 of their distance to ``mu_P``); we shrink them.
- EII with K >= 2: mclust's ``meeiip`` leaves the scale out (``Lambda = 0``), and so do we,
  to keep its BIC (the round shared variance never collapses, so the scale matters little).

BIC under the prior is mclust's: ``2 log L - p log n`` with ``log L`` the plain
log-likelihood of the posterior-mode parameters (the prior's density is not added) and ``p``
the model's usual parameter count.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from .covariance import CovarianceStructure, get_structure

__all__ = [
    "DEFAULT_SHRINKAGE",
    "EXTRA_COUNTS",
    "PRIOR_MODELS",
    "ConjugatePrior",
    "check_prior_model",
    "default_prior",
    "prior_spelling",
    "resolve_prior",
]

#: mclust's default shrinkage (``defaultPrior``'s ``shrinkage = 0.01``).
DEFAULT_SHRINKAGE = 0.01

_SPHERICAL = ("EII", "VII")
_DIAGONAL = ("EEI", "VEI", "EVI", "VVI")
_ELLIPSOIDAL = ("EEE", "EEV", "VEV", "VVV")
_UNIVARIATE = ("E", "V")
#: mclust's models with a conjugate prior (mclust 6.0: every model but VEE, EVE, VVE, EVV).
PRIOR_MODELS: tuple[str, ...] = _UNIVARIATE + _SPHERICAL + _DIAGONAL + _ELLIPSOIDAL

# The extra count a_k of each model: Sigma_k is the model's ML M-step from B_k and n_k + a_k.
# ("per", a): every component a; ("total", a): a in all, shared evenly (models with a common
# volume or covariance, where only the sum matters). nu is the dof, D the number of features,
# s = 1 when the shrinkage is positive (the mean prior's own |Sigma|^(-1/2)), else 0. Read off
# the divisors in mclust 6.0's src/mclust.f (K >= 2: me1ep, me1vp, meeiip, meviip, meeeip,
# meveip, meevip, mevvip, meeeep, meeevp, mevevp, mevvvp; K = 1: mvn1p, mnxiip, mnxxip,
# mnxxxp). The constants look uneven (VEV's is 0) because they are mclust's.
EXTRA_COUNTS = {
    "E": lambda nu, d, k, s: ("total", nu + 2 + k),
    "V": lambda nu, d, k, s: ("per", nu + 3),
    "EII": lambda nu, d, k, s: ("total", (nu + 2) / d + k),
    "VII": lambda nu, d, k, s: ("per", (nu + 2) / d + s),
    "EEI": lambda nu, d, k, s: ("total", nu + 1 + s),
    "VEI": lambda nu, d, k, s: ("per", (nu + 2 + s) / d),
    "EVI": lambda nu, d, k, s: ("total", nu + 1 + s),
    "VVI": lambda nu, d, k, s: ("per", nu + 2 + s),
    "EEE": lambda nu, d, k, s: ("total", nu + d + 1 + s * k),
    "EEV": lambda nu, d, k, s: ("total", nu + d + 1 + s),
    "VEV": lambda nu, d, k, s: ("per", 0.0),
    "VVV": lambda nu, d, k, s: ("per", nu + d + 2),
}
# K = 1 (mclust fits one component with mvn*p, whatever the model's volume/shape letters).
_ONE_COMPONENT = {
    **dict.fromkeys(_UNIVARIATE, lambda nu, d, s: nu + 2 + s),
    **dict.fromkeys(_SPHERICAL, lambda nu, d, s: (nu + 2) / d + s),
    **dict.fromkeys(_DIAGONAL, lambda nu, d, s: nu + 2 + s),
    **dict.fromkeys(_ELLIPSOIDAL, lambda nu, d, s: nu + d + 1 + s),
}


def _family(mclust_name: str) -> str:
    if mclust_name in _UNIVARIATE:
        return "univariate"
    if mclust_name in _SPHERICAL:
        return "spherical"
    return "diagonal" if mclust_name in _DIAGONAL else "ellipsoidal"


def check_prior_model(structure: CovarianceStructure) -> str:
    """mclust's name of ``structure`` if it has a conjugate prior; a ValueError saying which
    models do otherwise."""
    name = structure.mclust_name
    if name not in PRIOR_MODELS:
        raise ValueError(
            f"covariance_type={structure.name!r} ({name}) has no conjugate prior: mclust "
            f"defines one only for {', '.join(PRIOR_MODELS)} (not for VEE, EVE, VVE, EVV). "
            "Fit it without the prior, or choose one of those models."
        )
    return name


@dataclasses.dataclass(frozen=True, eq=False)
class ConjugatePrior:
    """A conjugate prior for one model and number of components, as mclust's ``defaultPrior``
    returns it. Usually made by :func:`default_prior` from the data.

    Parameters
    ----------
    shrinkage : float >= 0
        ``kappa``: how many observations' worth of weight the prior mean has.
    mean : ndarray of shape (n_features,)
        ``mu_P``, the prior mean of every component mean (data coordinates).
    dof : float > 0
        ``nu``, the degrees of freedom of the prior on the covariances.
    scale : float or ndarray of shape (n_features, n_features)
        ``Lambda``: a number for E, V and the round and axis-aligned models (added to the
        summed squares: the variance of one feature for E and V, of every feature for the
        axis-aligned models, the total over the features for the round ones), a symmetric
        positive semi-definite matrix for EEE, EEV, VEV and VVV.

    Notes
    -----
    Frozen and compared by identity, so it can be a scikit-learn parameter
    (``GaussianMixture(prior=...)``) that ``clone`` copies.
    """

    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: float | np.ndarray

    def __post_init__(self):
        kappa = self.shrinkage
        if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real) or not kappa >= 0:
            raise ValueError(f"the prior's shrinkage must be a number >= 0, got {kappa!r}.")
        dof = self.dof
        if isinstance(dof, bool) or not isinstance(dof, numbers.Real) or not dof > 0:
            raise ValueError(f"the prior's dof must be a number > 0, got {dof!r}.")
        mean = np.array(self.mean, dtype=np.float64).reshape(-1)
        if not mean.size or not np.isfinite(mean).all():
            raise ValueError("the prior's mean must be a non-empty vector of finite numbers.")
        scale = np.array(self.scale, dtype=np.float64)
        d = mean.size
        if scale.ndim == 0:
            if not (np.isfinite(scale) and scale >= 0):
                raise ValueError(f"the prior's scale must be >= 0, got {float(scale)!r}.")
        elif scale.shape != (d, d) or not np.isfinite(scale).all():
            raise ValueError(
                f"the prior's scale must be a number or a ({d}, {d}) matrix, got shape "
                f"{scale.shape}."
            )
        elif np.abs(scale - scale.T).max() > 1e-10 * max(np.abs(scale).max(), 1e-300) or (
            np.linalg.eigvalsh(scale)[0] < -1e-10 * np.abs(scale).max()
        ):
            raise ValueError("the prior's scale matrix must be symmetric positive semi-definite.")
        object.__setattr__(self, "shrinkage", float(kappa))
        object.__setattr__(self, "dof", float(dof))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scale", float(scale) if scale.ndim == 0 else scale)
        mean.setflags(write=False)
        if scale.ndim:
            scale.setflags(write=False)

    # -- description --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready fields (the model file's ``fit.prior``): shrinkage, mean, dof, scale."""
        scale = self.scale
        return {
            "shrinkage": self.shrinkage,
            "mean": self.mean.tolist(),
            "dof": self.dof,
            "scale": scale if isinstance(scale, float) else np.asarray(scale).tolist(),
        }

    @classmethod
    def from_dict(cls, fields: dict) -> ConjugatePrior:
        """The inverse of :meth:`to_dict`."""
        return cls(fields["shrinkage"], fields["mean"], fields["dof"], fields["scale"])

    def __repr__(self) -> str:
        scale = self.scale if isinstance(self.scale, float) else "matrix"
        return (
            f"ConjugatePrior(shrinkage={self.shrinkage:g}, dof={self.dof:g}, "
            f"mean={np.round(self.mean, 4).tolist()}, scale={scale})"
        )

    # -- the prior's pieces for one model ------------------------------------------------------
    def _scale_matrix(self, name: str, n_components: int, d: int) -> np.ndarray:
        """Lambda as a (D, D) matrix added to one scatter matrix (see the class docstring)."""
        family = _family(name)
        scale = self.scale
        if family == "ellipsoidal":
            if isinstance(scale, float):
                raise ValueError(
                    f"{name} needs a ({d}, {d}) prior scale matrix, got a number; use "
                    "default_prior(X, n_components, covariance_type) for mclust's."
                )
            return np.asarray(scale)
        if not isinstance(scale, float):
            raise ValueError(f"{name} needs a number as the prior's scale, got a matrix.")
        if name == "EII" and n_components > 1:
            return np.zeros((d, d))  # mclust's meeiip leaves the scale out (module docstring)
        return np.eye(d) * (scale / d if family == "spherical" else scale)

    def _extra_counts(self, name: str, n_components: int, d: int) -> np.ndarray:
        s = 1.0 if self.shrinkage > 0 else 0.0
        if n_components == 1:
            return np.array([_ONE_COMPONENT[name](self.dof, d, s)])
        how, a = EXTRA_COUNTS[name](self.dof, d, n_components, s)
        return np.full(n_components, a / n_components if how == "total" else a)

    def shifted(self, shift) -> ConjugatePrior:
        """The same prior in coordinates where ``shift`` is the origin (EM's centered data)."""
        return dataclasses.replace(self, mean=self.mean - np.asarray(shift, dtype=np.float64))

    def m_step(self, structure: CovarianceStructure, nk, means, S2, reg_covar, previous=None):
        """Posterior-mode means and covariances from the statistics (EM's M-step with the
        prior). Same arguments as :meth:`CovarianceStructure.m_step`, plus the structure;
        ``means`` are the weighted means ``S1 / nk`` and ``self.mean`` is in the same
        coordinates (see :meth:`shifted`).

        Returns
        -------
        means : ndarray of shape (K, D), shrunk towards the prior mean
        covariances : the structure's shape, regularized by ``reg_covar`` as without prior
        raw_min : as :meth:`CovarianceStructure.m_step`
        """
        name = check_prior_model(structure)
        k, d = means.shape
        kappa = self.shrinkage
        diff = means - self.mean
        c = kappa * nk / (kappa + nk)  # kappa n_k / (kappa + n_k)
        lam = self._scale_matrix(name, k, d)
        counts = nk + self._extra_counts(name, k, d)
        zeros = np.zeros_like(means)
        if structure.second_moment == "global_outer":  # S2 = X^T X: one pooled B
            B = S2 - (nk[:, None] * means).T @ means + (c[:, None] * diff).T @ diff + lam
        elif structure.second_moment == "outer":
            B = S2 - nk[:, None, None] * (means[:, :, None] * means[:, None, :])
            B += c[:, None, None] * (diff[:, :, None] * diff[:, None, :]) + lam
        else:  # "square": the diagonals
            B = S2 - nk[:, None] * means**2 + c[:, None] * diff**2 + np.diagonal(lam)
            if structure.common_covariance:  # one Lambda for the shared covariance
                B = B - np.diagonal(lam) * (1.0 - 1.0 / k)
        # The structure's own ML M-step from (counts, zero means, B) is the posterior mode:
        # it maximizes -(counts_k / 2) log|Sigma_k| - tr(B_k Sigma_k^-1) / 2 under the model.
        covariances, raw_min = structure.m_step(counts, zeros, B, reg_covar, previous)
        shrunk = (nk[:, None] * means + kappa * self.mean) / (nk + kappa)[:, None]
        return shrunk, covariances, raw_min

    def log_density(self, structure: CovarianceStructure, means, covariances) -> float:
        """Log prior density of the parameters, up to an additive constant that depends only
        on the prior (what the M-step maximizes, plus the expected log-likelihood):

            sum_k [ -a_k/2 log|Sigma_k| - tr(Lambda Sigma_k^-1)/2
                    - kappa/2 (mu_k - mu_P)^T Sigma_k^-1 (mu_k - mu_P) ]

        with one ``Lambda`` term for a shared covariance. ``means`` in the prior's
        coordinates, shape (K, D); ``covariances`` in the structure's shape.
        """
        name = check_prior_model(structure)
        means = np.asarray(means, dtype=np.float64)
        k, d = means.shape
        covs = structure.covariance_matrices(np.asarray(covariances, dtype=np.float64), k, d)
        a = self._extra_counts(name, k, d)
        lam = self._scale_matrix(name, k, d)
        sign, logdet = np.linalg.slogdet(covs)
        if (sign <= 0).any():
            return -np.inf
        inv = np.linalg.inv(covs)
        diff = means - self.mean
        quad = np.einsum("ki,kij,kj->k", diff, inv, diff)
        trace = np.einsum("ij,kji->k", lam, inv)
        if structure.common_covariance:
            trace = trace[:1]
        return float(-0.5 * (a @ logdet) - 0.5 * trace.sum() - 0.5 * self.shrinkage * quad.sum())


def _unbiased_cov(X: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.cov(X, rowvar=False, ddof=1))


def default_prior(
    X,
    n_components: int,
    covariance_type: str,
    *,
    shrinkage=DEFAULT_SHRINKAGE,
    mean=None,
    scale=None,
) -> ConjugatePrior:
    """mclust's ``defaultPrior(data, G, modelName)``: the conjugate prior computed from X.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
        ``G``: the scale shrinks with the number of components, ``(1/G)^(2/D)``.
    covariance_type : str
        Any registered name or alias with a prior (see :data:`PRIOR_MODELS`).
    shrinkage, mean, scale : optional
        Overrides, as ``priorControl(shrinkage=, mean=, scale=)``. mclust fixes the dof.

    Returns
    -------
    ConjugatePrior

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0], [3.0, 6.0]])
    >>> p = default_prior(X, 2, "VVV")
    >>> p.shrinkage, p.dof, p.mean.tolist()
    (0.01, 4.0, [1.5, 3.0])
    >>> np.round(p.scale, 4).tolist()  # cov(X) / 2
    [[0.8333, 1.1667], [1.1667, 2.3333]]
    """
    name = check_prior_model(get_structure(covariance_type))
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    n, d = X.shape
    family = _family(name)
    if mean is None:
        mean = X.mean(axis=0)
    if scale is None:
        cov = _unbiased_cov(X)
        fac = (1.0 / n_components) ** (2.0 / d)
        if family == "univariate":
            scale = float(cov[0, 0]) / n_components**2
        elif family in ("spherical", "diagonal"):
            scale = fac * float(np.trace(cov)) / d
        else:
            scale = fac * (cov if n > d else np.diag(np.diag(cov)))
    dof = 3.0 if family == "univariate" else d + 2.0
    return ConjugatePrior(shrinkage, mean, dof, scale)


def resolve_prior(prior, X, n_components: int, covariance_type: str) -> ConjugatePrior | None:
    """The prior to fit with: None (no prior), ``"default"`` (:func:`default_prior` of X), or
    a :class:`ConjugatePrior` (checked against the model and X's number of features)."""
    if prior is None:
        return None
    structure = get_structure(covariance_type)
    if isinstance(prior, str) and prior == "default":
        return default_prior(X, n_components, structure.name)
    if isinstance(prior, ConjugatePrior):
        check_prior_model(structure)
        d = np.shape(X)[1] if np.ndim(X) == 2 else 1
        if prior.mean.size != d:
            raise ValueError(
                f"the prior's mean has {prior.mean.size} entries but X has {d} features."
            )
        prior._scale_matrix(structure.mclust_name, n_components, d)  # right kind of scale
        return prior
    raise ValueError(
        f"prior must be None, 'default' (mclust's defaultPrior) or a ConjugatePrior; got {prior!r}."
    )


def prior_spelling(prior) -> str:
    """How a ``prior`` setting reads in tables and files: "none", "default" or "custom"."""
    if prior is None:
        return "none"
    return "default" if isinstance(prior, str) and prior == "default" else "custom"
