"""Information criteria, in scikit-learn's sign: lower is better.

``bic = -2 log L + p log n`` and ``aic = -2 log L + 2 p`` as in scikit-learn. ``icl`` is
mclust's integrated complete-data likelihood criterion (Biernacki, Celeux & Govaert 2000, as
computed by ``mclust::icl``): BIC penalized by the entropy of the MAP classification,
``icl = bic - 2 sum_i log max_k r_ik``, so ``icl >= bic`` and the two agree when every point
is classified with certainty. mclust reports ``-bic`` and ``-icl`` (higher is better).
"""

from __future__ import annotations

import numpy as np

__all__ = ["aic", "bic", "classification_entropy_penalty", "icl"]


def bic(log_likelihood: float, n_parameters: int, n_samples: int) -> float:
    """Bayesian information criterion from a total log-likelihood (lower is better).

    >>> round(bic(-100.0, 5, 100), 3)  # 200 + 5 log(100)
    223.026
    """
    return float(-2.0 * log_likelihood + n_parameters * np.log(n_samples))


def aic(log_likelihood: float, n_parameters: int) -> float:
    """Akaike information criterion from a total log-likelihood (lower is better)."""
    return float(-2.0 * log_likelihood + 2.0 * n_parameters)


def classification_entropy_penalty(log_resp: np.ndarray) -> float:
    """``-2 sum_i log max_k r_ik`` (>= 0) from log-responsibilities of shape (n, K)."""
    return float(-2.0 * log_resp.max(axis=1).sum())


def icl(log_likelihood: float, n_parameters: int, n_samples: int, log_resp: np.ndarray) -> float:
    """Integrated completed likelihood criterion in BIC's sign (lower is better).

    >>> certain = np.log([[1.0, 1e-300], [1e-300, 1.0]])
    >>> icl(-10.0, 3, 2, certain) == bic(-10.0, 3, 2)  # no entropy penalty when certain
    True
    >>> icl(-10.0, 3, 2, np.log([[0.5, 0.5], [0.5, 0.5]])) > bic(-10.0, 3, 2)
    True
    """
    return bic(log_likelihood, n_parameters, n_samples) + classification_entropy_penalty(log_resp)
