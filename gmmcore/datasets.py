"""Sample datasets shipped in ``sample_data/`` and synthetic mixtures with known truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .engine.validation import check_n_components, check_random_state

__all__ = [
    "SAMPLES",
    "MixtureTruth",
    "SampleInfo",
    "list_samples",
    "load_sample",
    "make_mixture",
    "sample_data_dir",
]


@dataclass(frozen=True)
class SampleInfo:
    """A shipped dataset and how to use it by default."""

    name: str
    file: str
    description: str
    features: tuple[str, ...]
    task_column: str | None = None
    label_column: str | None = None
    suggested_k: int = 2


SAMPLES: dict[str, SampleInfo] = {
    s.name: s
    for s in (
        SampleInfo(
            "Old Faithful",
            "faithful.csv",
            "Eruption duration and waiting time of the Old Faithful geyser (272 rows): "
            "the classic EM teaching set.",
            ("eruptions", "waiting"),
            suggested_k=2,
        ),
        SampleInfo(
            "Iris",
            "iris.csv",
            "Fisher's iris: 4 measurements of 150 flowers, 3 species.",
            ("Petal.Length", "Petal.Width"),
            label_column="Species",
            suggested_k=3,
        ),
        SampleInfo(
            "Palmer penguins",
            "penguins.csv",
            "Bill, flipper and body mass of 344 penguins of 3 species on 3 islands "
            "(island as the task column).",
            ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"),
            task_column="island",
            label_column="species",
            suggested_k=3,
        ),
        SampleInfo(
            "Lake acidity",
            "acidity.csv",
            "Log acidity index of 155 lakes: a one-dimensional mixture.",
            ("acidity",),
            suggested_k=2,
        ),
        SampleInfo(
            "GvHD cytometry",
            "gvhd.csv",
            "Flow cytometry, 4 markers, 15,892 cells in a positive and a control sample "
            "(sample as the task column).",
            ("CD4", "CD8b", "CD3", "CD8"),
            task_column="sample",
            suggested_k=4,
        ),
    )
}


def sample_data_dir() -> Path:
    """The folder of the shipped datasets: ``gmmcore/sample_data`` in an installed wheel,
    the repository's ``sample_data/`` in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "sample_data"
    return installed if installed.is_dir() else here.parent / "sample_data"


def list_samples() -> list[str]:
    """Names of the shipped datasets, Old Faithful first."""
    return list(SAMPLES)


def load_sample(name: str) -> pd.DataFrame:
    """A shipped dataset as a DataFrame (missing values as NaN)."""
    if name not in SAMPLES:
        raise ValueError(f"Unknown sample dataset {name!r}; choose one of {list_samples()}.")
    return pd.read_csv(sample_data_dir() / SAMPLES[name].file)


@dataclass(frozen=True)
class MixtureTruth:
    """The parameters a synthetic dataset was drawn from.

    weights : ndarray of shape (n_tasks, K)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    tasks : tuple of task names
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    tasks: tuple[str, ...]


COVARIANCE_SHAPES = ("random", "spherical", "diagonal", "elongated")


def make_mixture(
    n_samples: int = 500,
    n_features: int = 2,
    n_components: int = 3,
    *,
    separation: float = 3.0,
    covariance_shape: str = "random",
    n_tasks: int = 1,
    task_concentration: float = 1.0,
    weights=None,
    random_state=None,
) -> tuple[pd.DataFrame, MixtureTruth]:
    """Draw a dataset from a random Gaussian mixture with known parameters.

    Parameters
    ----------
    n_samples : int
        Total rows (split across tasks in proportion).
    n_features, n_components : int
    separation : float
        Typical distance between means in units of the components' standard deviation.
    covariance_shape : {"random", "spherical", "diagonal", "elongated"}
    n_tasks : int
        With more than one, every task shares the components but draws its own weights from a
        Dirichlet(task_concentration) (small values: tasks use different components).
    weights : array-like of shape (K,) or (n_tasks, K), optional; overrides the random ones.
    random_state : None, int or RandomState

    Returns
    -------
    data : DataFrame with columns ``x1..xD``, ``component`` (true label) and, when
        ``n_tasks > 1``, ``task``.
    truth : MixtureTruth
    """
    k = check_n_components(n_components)
    if n_features < 1 or n_samples < 1 or n_tasks < 1:
        raise ValueError("n_samples, n_features and n_tasks must all be >= 1.")
    if covariance_shape not in COVARIANCE_SHAPES:
        raise ValueError(
            f"covariance_shape must be one of {COVARIANCE_SHAPES}, got {covariance_shape!r}."
        )
    if not separation > 0:
        raise ValueError(f"separation must be > 0, got {separation}.")
    rng = check_random_state(random_state)
    d = n_features
    # Means on a scale where unit-variance components are `separation` apart on average.
    means = rng.normal(scale=separation / np.sqrt(2.0), size=(k, d))
    covs = np.empty((k, d, d))
    for j in range(k):
        if covariance_shape == "spherical":
            covs[j] = np.eye(d) * rng.uniform(0.5, 1.5)
        elif covariance_shape == "diagonal":
            covs[j] = np.diag(rng.uniform(0.3, 1.7, size=d))
        else:
            q, _ = np.linalg.qr(rng.normal(size=(d, d)))
            spread = (
                rng.uniform(0.3, 1.7, size=d)
                if covariance_shape == "random"
                else np.geomspace(2.0, 0.15, d)
                if d > 1
                else np.ones(1)
            )
            covs[j] = (q * spread) @ q.T
    if weights is not None:
        w = np.asarray(weights, dtype=float).reshape(-1, k)
        w = np.broadcast_to(w, (n_tasks, k)).copy()
    elif n_tasks == 1:
        w = rng.dirichlet(np.full(k, 5.0))[None]
    else:
        w = rng.dirichlet(np.full(k, task_concentration), size=n_tasks)
    w /= w.sum(axis=1, keepdims=True)
    task_sizes = np.full(n_tasks, n_samples // n_tasks)
    task_sizes[: n_samples - task_sizes.sum()] += 1
    rows, labels, task_of = [], [], []
    for t, size in enumerate(task_sizes):
        counts = rng.multinomial(size, w[t])
        for j, c in enumerate(counts):
            rows.append(rng.multivariate_normal(means[j], covs[j], int(c)))
            labels.append(np.full(c, j))
            task_of.append(np.full(c, t))
    X = np.vstack(rows)
    order = rng.permutation(X.shape[0])
    data = pd.DataFrame(X[order], columns=[f"x{i + 1}" for i in range(d)])
    data["component"] = np.concatenate(labels)[order]
    names = tuple(f"task {t + 1}" for t in range(n_tasks))
    if n_tasks > 1:
        data["task"] = np.asarray(names, dtype=object)[np.concatenate(task_of)[order]]
    return data, MixtureTruth(w, means, covs, names)
