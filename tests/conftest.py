"""Shared fixtures. Hypothesis strategies live in tests/strategies.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def faithful() -> np.ndarray:
    """Old Faithful, shape (272, 2): eruptions, waiting."""
    return pd.read_csv(ROOT / "sample_data" / "faithful.csv").to_numpy()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other artifacts (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
