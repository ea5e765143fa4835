"""iter_em: the snapshot sequence, its events, frozen snapshots, responsibilities, memory and
multi-task mixtures."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gmmcore.datasets import make_mixture
from gmmcore.engine.covariance import COVARIANCE_TYPES
from gmmcore.engine.em import Snapshot, iter_em, responsibilities, snapshot_log_likelihood

SEEDS = [0, 1, 2]
ARRAY_FIELDS = ("weights", "means", "covariances", "precisions_cholesky")


def blobs(n=300, d=2, k=3, seed=0):
    data, _ = make_mixture(n, d, k, separation=4.0, random_state=seed)
    return data[[f"x{i + 1}" for i in range(d)]].to_numpy()


def run(X, k=3, **kwargs):
    kwargs.setdefault("random_state", 0)
    return list(iter_em(X, k, **kwargs))


# -- the sequence ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sequence_is_init_then_numbered_e_m_pairs(covariance_type, seed):
    history = run(blobs(seed=seed), covariance_type=covariance_type, random_state=seed)
    assert history[0].phase == "init" and history[0].iteration == 0
    assert history[0].log_likelihood is None
    rest = history[1:]
    assert len(rest) % 2 == 0 and rest
    for t, (e, m) in enumerate(zip(rest[::2], rest[1::2], strict=True), start=1):
        assert (e.phase, e.iteration) == ("E", t)
        assert (m.phase, m.iteration) == ("M", t)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_snapshot_parameters_equal_previous_snapshot(covariance_type):
    history = run(blobs(), covariance_type=covariance_type)
    for prev, snap in zip(history, history[1:], strict=False):
        if snap.phase == "E":
            for name in ARRAY_FIELDS:
                np.testing.assert_array_equal(getattr(snap, name), getattr(prev, name))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_snapshot_carries_log_likelihood_of_its_e_step(covariance_type):
    history = run(blobs(), covariance_type=covariance_type)
    for e, m in zip(history[1::2], history[2::2], strict=True):
        assert m.log_likelihood == e.log_likelihood


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_snapshot_log_likelihood_is_that_of_its_parameters(covariance_type):
    X = blobs()
    history = run(X, covariance_type=covariance_type)
    for snap in history[1::2]:
        # Reference: an independent evaluation of the same parameters on X.
        assert_allclose(snap.log_likelihood, snapshot_log_likelihood(snap, X), rtol=1e-12, atol=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_converged_event_only_on_last_m_snapshot(covariance_type):
    history = run(blobs(), covariance_type=covariance_type, max_iter=500)
    last = history[-1]
    assert last.phase == "M" and last.converged
    assert [e.kind for e in last.events].count("converged") == 1
    assert not any(s.converged for s in history[:-1])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_event_when_stopped_before_converging(covariance_type):
    history = run(blobs(), covariance_type=covariance_type, tol=0.0, max_iter=3)
    assert len(history) == 1 + 2 * 3
    kinds = [e.kind for e in history[-1].events]
    assert "max_iter" in kinds and "converged" not in kinds
    assert not any(e.kind == "max_iter" for s in history[:-1] for e in s.events)


@pytest.mark.parametrize("covariance_type", ["full", "EVE", "VII"])
def test_relative_rule_stops_at_the_first_relative_change_below_tol(covariance_type):
    """mclust's rule: |L_t - L_(t-1)| / (1 + |L_t|) < tol, with L the total log-likelihood of
    the E-steps; checked against the log-likelihoods the snapshots carry."""
    X, tol = blobs(n=120), 1e-4
    history = run(X, covariance_type=covariance_type, tol=tol, convergence="relative")
    lls = [s.log_likelihood for s in history if s.phase == "E"]
    relative = [abs(b - a) / (1.0 + abs(b)) for a, b in zip(lls, lls[1:], strict=False)]
    first = next(i for i, r in enumerate(relative) if r < tol)
    assert len(lls) == first + 2  # stopped at that E-step's iteration, not before or after
    (event,) = [e for e in history[-1].events if e.kind == "converged"]
    assert "relative" in event.message and f"{relative[first]:.3g}" in event.message


def test_relative_and_mean_rules_differ_only_in_where_they_stop():
    X = blobs(n=400)
    mean = run(X, tol=1e-6, max_iter=1000)
    relative = run(X, tol=1e-6, max_iter=1000, convergence="relative")
    # |L| ~ 4 per row here, so the relative rule is ~4x looser per row: it stops no later,
    # on the same trajectory.
    assert len(relative) <= len(mean)
    for a, b in zip(relative[:-1], mean, strict=False):
        assert a.log_likelihood == b.log_likelihood
        np.testing.assert_array_equal(a.means, b.means)


def test_unknown_convergence_rule_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown convergence 'abs'; choose one of mean, relative"):
        run(blobs(), convergence="abs")


def test_max_iter_zero_yields_only_the_initialization():
    history = run(blobs(), max_iter=0)
    assert [s.phase for s in history] == ["init"]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_component_empty_event_for_a_component_far_from_all_data(covariance_type):
    X = blobs(k=2, seed=3)
    means = np.array([X[:50].mean(axis=0), X[50:].mean(axis=0), [1e3, 1e3]])
    history = run(X, covariance_type=covariance_type, means_init=means, max_iter=5)
    first_m = history[2]
    empty = [e for e in first_m.events if e.kind == "component_empty"]
    assert [e.component for e in empty] == [2]
    assert "lost all its points" in empty[0].message
    assert first_m.weights[2] < 1e-12
    # Reported once, when it happens, not at every iteration.
    later = [e for s in history[3:] for e in s.events if e.kind == "component_empty"]
    assert later == []
    assert all(np.isfinite(getattr(s, f)).all() for s in history for f in ARRAY_FIELDS)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_covariance_collapsed_event_on_duplicated_points(covariance_type):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(100, 2)), np.tile([[20.0, 20.0]], (8, 1))])
    means = np.array([[0.0, 0.0], [20.0, 20.0]])
    history = run(X, 2, covariance_type=covariance_type, means_init=means, max_iter=5)
    collapsed = [e for s in history for e in s.events if e.kind == "covariance_collapsed"]
    assert [e.component for e in collapsed] == [1]
    assert "reg_covar" in collapsed[0].message
    assert all(np.isfinite(getattr(s, f)).all() for s in history for f in ARRAY_FIELDS)
    assert all(np.isfinite(s.log_likelihood) for s in history[1:])


def test_covariance_collapsed_event_for_tied_names_no_component():
    # Every point sits on one of 3 locations: the shared covariance has nothing left.
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 7.0]]), 20, axis=0)
    history = run(X, 3, covariance_type="tied", means_init=X[[0, 20, 40]], max_iter=3)
    collapsed = [e for s in history for e in s.events if e.kind == "covariance_collapsed"]
    assert len(collapsed) == 1 and collapsed[0].component is None
    assert "shared covariance" in collapsed[0].message


# -- frozen snapshots -----------------------------------------------------------------------


def test_snapshot_fields_cannot_be_reassigned():
    snap = run(blobs())[-1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.iteration = 99  # type: ignore[misc]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_snapshot_arrays_are_read_only(covariance_type):
    for snap in run(blobs(), covariance_type=covariance_type):
        for name in ARRAY_FIELDS:
            arr = getattr(snap, name)
            assert not arr.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0.0


def test_snapshots_do_not_share_memory_with_each_other():
    history = run(blobs())
    init, last = history[0], history[-1]
    assert not np.shares_memory(init.means, last.means)


def test_snapshot_label_and_mean_log_likelihood():
    X = blobs()
    history = run(X)
    assert history[0].label == "initialization"
    assert history[0].mean_log_likelihood is None
    assert history[1].label == "iteration 1, after E"
    assert history[1].mean_log_likelihood == history[1].log_likelihood / X.shape[0]
    assert history[1].n_components == 3 and history[1].n_samples == X.shape[0]


# -- responsibilities -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_responsibilities_rows_sum_to_one(covariance_type, seed):
    X = blobs(seed=seed)
    for snap in run(X, covariance_type=covariance_type, random_state=seed):
        resp = responsibilities(snap, X)
        assert resp.shape == (X.shape[0], 3)
        # Reference: the definition (a probability distribution over components per row).
        assert_allclose(resp.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_snapshot_responsibilities_drive_the_next_m_step(covariance_type, seed):
    X = blobs(seed=seed)
    history = run(X, covariance_type=covariance_type, random_state=seed)
    for e, m in zip(history[1::2], history[2::2], strict=True):
        resp = responsibilities(e, X)
        nk = resp.sum(axis=0)
        # Reference: the M-step formulas (Bishop, PRML eq. 9.24 and 9.26) applied to the
        # responsibilities recomputed from the E snapshot.
        assert_allclose(m.means, resp.T @ X / nk[:, None], rtol=1e-10, atol=1e-12)
        assert_allclose(m.weights, nk / X.shape[0], rtol=1e-10, atol=1e-15)


def test_responsibilities_for_new_data():
    X = blobs()
    snap = run(X)[-1]
    new = np.array([[0.0, 0.0], [100.0, -100.0]])
    resp = responsibilities(snap, new)
    assert resp.shape == (2, 3)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_responsibilities_reject_wrong_feature_count():
    snap = run(blobs())[-1]
    with pytest.raises(ValueError, match="fitted on 2"):
        responsibilities(snap, np.zeros((3, 5)))


# -- memory ---------------------------------------------------------------------------------


def history_nbytes(history: list[Snapshot]) -> int:
    return sum(getattr(s, name).nbytes for s in history for name in ARRAY_FIELDS)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_history_size_does_not_depend_on_n_samples(covariance_type):
    small = run(blobs(n=200), covariance_type=covariance_type, tol=0.0, max_iter=60)
    large = run(blobs(n=20_000), covariance_type=covariance_type, tol=0.0, max_iter=60)
    assert len(small) == len(large) == 121
    assert history_nbytes(small) == history_nbytes(large)
    # No array anywhere in a snapshot has a dimension of size N.
    for s in large:
        for name in ARRAY_FIELDS:
            assert 20_000 not in getattr(s, name).shape


# -- multi-task -----------------------------------------------------------------------------


def tasks_data(seed=0):
    data, _ = make_mixture(400, 2, 3, n_tasks=3, task_concentration=2.0, random_state=seed)
    return data[["x1", "x2"]].to_numpy(), data["task"].to_numpy()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_multi_task_snapshots_have_one_weight_row_per_task(covariance_type):
    X, tasks = tasks_data()
    history = run(X, covariance_type=covariance_type, tasks=tasks)
    for snap in history:
        assert snap.weights.shape == (3, 3)
        assert snap.tasks == ("task 1", "task 2", "task 3")
        # Reference: the definition (each task's weights are a distribution over components).
        assert_allclose(snap.weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_multi_task_responsibilities_need_tasks():
    X, tasks = tasks_data()
    snap = run(X, tasks=tasks)[-1]
    with pytest.raises(ValueError, match="pass tasks"):
        responsibilities(snap, X)
    resp = responsibilities(snap, X, tasks=tasks)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_multi_task_rows_out_of_task_order_give_same_fit():
    X, tasks = tasks_data(1)
    order = np.argsort(tasks, kind="stable")
    a = run(X, tasks=tasks, random_state=3)[-1]
    b = run(X[order], tasks=tasks[order], random_state=3)[-1]
    # Reference: the fit on rows already grouped by task (the engine groups them itself).
    assert_allclose(a.means, b.means, rtol=1e-10, atol=1e-12)
    assert_allclose(a.weights, b.weights, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_task_weight_gives_no_warning_and_no_nan(covariance_type):
    X, tasks = tasks_data(2)
    weights = np.array([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.2, 0.8]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = run(X, covariance_type=covariance_type, tasks=tasks, weights_init=weights)
        resp = responsibilities(history[1], X, tasks=tasks)
    for snap in history:
        for name in ARRAY_FIELDS:
            assert np.isfinite(getattr(snap, name)).all(), (snap.label, name)
    assert all(np.isfinite(s.log_likelihood) for s in history[1:])
    # A task whose weight for a component is exactly 0 gives it no responsibility at all.
    assert (resp[tasks == "task 1", 2] == 0.0).all()
    assert (resp[tasks == "task 3", 0] == 0.0).all()


def test_zero_weight_single_task_gives_no_warning_and_no_nan():
    X = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = run(X, weights_init=[0.5, 0.5, 0.0])
    assert all(np.isfinite(s.log_likelihood) for s in history[1:])
    assert all(np.isfinite(s.weights).all() for s in history)


def test_snapshot_replace_is_dataclasses_replace():
    snap = next(iter_em(np.arange(10.0)[:, None], 2, random_state=0))
    ours = snap.replace(iteration=3, phase="E", log_likelihood=-1.5, events=())
    theirs = dataclasses.replace(snap, iteration=3, phase="E", log_likelihood=-1.5, events=())
    assert type(ours) is type(theirs)
    assert {f.name for f in dataclasses.fields(ours)} == set(vars(ours))
    for f in dataclasses.fields(snap):
        a, b = getattr(ours, f.name), getattr(theirs, f.name)
        assert (a is b) or a == b, f.name
    assert snap.phase == "init" and snap.iteration == 0  # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.phase = "M"
    with pytest.raises(TypeError, match="no field"):
        snap.replace(phase_="E")
