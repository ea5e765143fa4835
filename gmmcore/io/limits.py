"""The sizes the command line, the dashboard and the model loader accept, in one place.

Each bound keeps one request from tying up a process (or a dashboard session) for minutes:
past it, the input is refused at once with a message saying the limit and what to do, instead
of being worked on for minutes. README.md ("Limits") lists them with the times they keep.

- :data:`MAX_MODEL_BYTES`: a model file's size. Parsing and checking cost about 1 s per 10 MB
  of parameters; 64 MiB holds K = 10,000 full 20-D components, or a long history.
- :data:`MAX_HISTORY_SNAPSHOTS`: snapshots in one history (two per EM iteration plus the
  start): 20,001 is ``max_iter = 10,000``. Each one is checked (weights, positive definite
  covariances) when loaded.
- :data:`MAX_TASKS`: distinct task values. Comparing modes fits one mixture per task and the
  explorer draws one legend entry and one weight row per task; a column with thousands of
  values is an identifier, not a task.
- :data:`MAX_ABS_PARAMETER` and :data:`MAX_PRECISION`: magnitudes a model's parameters may have.
  Past them the squared distances of the E-step overflow to infinity and every probability
  would be NaN, so the loader refuses the file naming the field.
"""

from __future__ import annotations

__all__ = [
    "MAX_ABS_PARAMETER",
    "MAX_HISTORY_SNAPSHOTS",
    "MAX_MODEL_BYTES",
    "MAX_PRECISION",
    "MAX_TASKS",
    "check_task_count",
    "model_size_message",
]

MAX_MODEL_BYTES = 64 * 2**20
MAX_HISTORY_SNAPSHOTS = 20_001
MAX_TASKS = 200
MAX_ABS_PARAMETER = 1e100
MAX_PRECISION = 1e100


def model_size_message(n_bytes: int) -> str:
    """Why a model file of ``n_bytes`` is refused, and what to do."""
    return (
        f"the model file is {n_bytes / 2**20:.1f} MiB, above the {MAX_MODEL_BYTES // 2**20} MiB "
        "that gmmcore loads; export it again without the EM history "
        "(save_model(..., include_history=False)), or with fewer components"
    )


def check_task_count(tasks, column: str | None = None) -> None:
    """Raise ValueError when ``tasks`` has more than :data:`MAX_TASKS` distinct values.

    Parameters
    ----------
    tasks : array-like of shape (n_samples,)
        Each row's task.
    column : str, optional
        The task column's name, for the message.

    Examples
    --------
    >>> check_task_count(["a", "b", "a"])
    >>> check_task_count([str(i) for i in range(MAX_TASKS + 1)], "id")
    Traceback (most recent call last):
    ...
    ValueError: task column 'id' has 201 distinct values, more than the 200 tasks gmmcore compares; choose a column that groups rows (an island, a sample, a patient), not one that identifies them
    """
    if tasks is None:
        return
    n = len(set(map(str, tasks)))
    if n > MAX_TASKS:
        name = f"task column '{column}'" if column else "the task column"
        raise ValueError(
            f"{name} has {n} distinct values, more than the {MAX_TASKS} tasks gmmcore "
            "compares; choose a column that groups rows (an island, a sample, a patient), "
            "not one that identifies them"
        )
