"""gmmcore: Gaussian mixtures by EM, one half-step at a time.

The supported API:

- :class:`GaussianMixture` — scikit-learn's estimator API (plus ``icl``, ``n_parameters``,
  ``history_`` and ``restarts_``).
- :func:`iter_em` — EM as a generator of frozen :class:`Snapshot` objects, and
  :func:`responsibilities` to recompute any snapshot's responsibilities for any X.
- Covariance structures (:data:`COVARIANCE_TYPES`, :func:`get_structure`) and the
  information criteria :func:`bic`, :func:`aic`, :func:`icl`.
"""

from .covariance import COVARIANCE_TYPES, MCLUST_NAMES, IllConditionedCovarianceError, get_structure
from .criteria import aic, bic, icl
from .em import Event, Snapshot, iter_em, responsibilities, snapshot_log_likelihood
from .initialization import INIT_METHODS
from .mixture import GaussianMixture, NotFittedError, RestartResult

__version__ = "0.1.0"

__all__ = [
    "COVARIANCE_TYPES",
    "INIT_METHODS",
    "MCLUST_NAMES",
    "Event",
    "GaussianMixture",
    "IllConditionedCovarianceError",
    "NotFittedError",
    "RestartResult",
    "Snapshot",
    "aic",
    "bic",
    "get_structure",
    "icl",
    "iter_em",
    "responsibilities",
    "snapshot_log_likelihood",
]
