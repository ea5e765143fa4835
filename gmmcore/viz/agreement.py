"""Agreement between a clustering and known labels: confusion table and adjusted Rand index."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["adjusted_rand_index", "confusion_table"]


def _contingency(labels_true, labels_pred):
    t_names, t = np.unique(np.asarray(labels_true).astype(str), return_inverse=True)
    p_names, p = np.unique(np.asarray(labels_pred), return_inverse=True)
    if t.shape != p.shape:
        raise ValueError(
            f"labels_true and labels_pred must have the same length, got {t.size} and {p.size}."
        )
    table = np.zeros((t_names.size, p_names.size), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table, t_names, p_names


def confusion_table(labels_true, labels_pred) -> pd.DataFrame:
    """Counts of rows per (true label, predicted component); rows: labels, columns: components."""
    table, t_names, p_names = _contingency(labels_true, labels_pred)
    return pd.DataFrame(
        table,
        index=pd.Index(t_names, name="label"),
        columns=pd.Index([f"component {c}" for c in p_names], name="predicted"),
    )


def _comb2(x):
    x = np.asarray(x, dtype=np.float64)
    return x * (x - 1) / 2


def adjusted_rand_index(labels_true, labels_pred) -> float:
    """Hubert and Arabie's adjusted Rand index: 1 for identical partitions (up to renaming),
    about 0 for independent ones. Same definition as scikit-learn's adjusted_rand_score."""
    table, _, _ = _contingency(labels_true, labels_pred)
    n = table.sum()
    sum_comb = _comb2(table).sum()
    a = _comb2(table.sum(axis=1)).sum()
    b = _comb2(table.sum(axis=0)).sum()
    total = _comb2(n)
    if total == 0:
        return 1.0
    expected = a * b / total
    max_index = (a + b) / 2
    if max_index == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((sum_comb - expected) / (max_index - expected))
