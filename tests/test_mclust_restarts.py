"""Sound restarts (issue 9): a restart whose fit collapsed never wins over a sound one, in
GaussianMixture's choice of restart, in the restarts chart and in the dashboard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gmmcore import GaussianMixture
from gmmcore.engine.em import degenerate_components
from gmmcore.mixture import RestartResult
from gmmcore.viz import restarts_figure
from tests.strategies import collapsing_data


@pytest.fixture(scope="module")
def mixed_restarts():
    # kmeans, K=3, seed 1, 8 restarts: restarts 0 and 3 collapse, the others are sound, and
    # the highest lower bound is a collapsed one (found by a seed search; asserted below).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(3, n_init=8, random_state=1, max_iter=300).fit(collapsing_data())


def test_restart_result_says_which_components_collapsed(mixed_restarts):
    gm = mixed_restarts
    for r in gm.restarts_:
        expected = degenerate_components(r.history[-1], gm.reg_covar)
        assert r.collapsed_components == tuple(expected)
        assert r.degenerate == bool(expected)
    assert any(r.degenerate for r in gm.restarts_)
    assert not all(r.degenerate for r in gm.restarts_)


def test_collapsed_restart_never_wins_over_a_sound_one(mixed_restarts):
    gm = mixed_restarts
    bounds = [r.lower_bound for r in gm.restarts_]
    # The old rule (highest lower bound) would keep a collapsed restart here.
    assert gm.restarts_[int(np.argmax(bounds))].degenerate
    kept = gm.restarts_[gm.best_restart_]
    assert not kept.degenerate
    sound = [r.lower_bound for r in gm.restarts_ if not r.degenerate]
    assert kept.lower_bound == max(sound)
    assert degenerate_components(gm.snapshot_, gm.reg_covar) == []


def _result(index, lower_bound, degenerate):
    return RestartResult(index, lower_bound, lower_bound, 1, True, (), degenerate)


def test_choice_rule_sound_first_then_strictly_higher_bound():
    from gmmcore.restarts import better_restart as _better_restart

    sound, collapsed = _result(0, -2.0, False), _result(1, 5.0, True)
    assert _better_restart(sound, collapsed) and not _better_restart(collapsed, sound)
    # Between equals, scikit-learn's rule: strictly higher, so ties keep the first run.
    assert _better_restart(_result(2, -1.0, False), sound)
    assert not _better_restart(_result(2, -2.0, False), sound)
    assert _better_restart(_result(3, 6.0, True), collapsed)


def test_all_collapsed_keeps_the_highest_bound():
    # Every start on the copies: with K as large as the distinct points, all collapse.
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]), 5, axis=0)
    X = X + np.random.default_rng(0).normal(size=X.shape) * 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(4, n_init=3, random_state=0).fit(X)
    assert all(r.degenerate for r in gm.restarts_)
    bounds = [r.lower_bound for r in gm.restarts_]
    assert gm.best_restart_ == int(np.argmax(bounds))


# -- the chart ------------------------------------------------------------------------------


def test_restarts_figure_draws_collapsed_restarts_hollow_with_a_legend():
    fig = restarts_figure(
        [-10.0, 50.0, -10.001], best=0, degenerate=[False, True, False], resolution=0.1
    )
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"sound", "collapsed"}
    assert list(by_name["collapsed"].x) == [1] and by_name["collapsed"].marker.symbol == (
        "circle-open"
    )
    assert "collapsed" in by_name["collapsed"].text[0]
    assert all("collapsed" not in t for t in by_name["sound"].text)
    assert fig.layout.showlegend
    # The sound restarts agree: "the same optimum", said of the sound ones only.
    assert fig.layout.title.text.startswith("All sound restarts")


def test_restarts_figure_without_collapse_is_unchanged():
    fig = restarts_figure([-10.0, -9.0], best=1)
    assert len(fig.data) == 1 and list(fig.data[0].y) == [-10.0, -9.0]
    assert not fig.layout.showlegend


# -- the dashboard ----------------------------------------------------------------------------


def test_dashboard_restarts_panel_marks_collapsed_restarts():
    from tests.test_app import _app, _arr, _button, _chart, _page

    at = _page(_app(), "pages/2_explorer.py")
    # Old Faithful, diag, K=6, seed 1, 5 k-means++ restarts: restart 3 collapses onto rows
    # sharing one whole-minute waiting time, with the highest likelihood of the five.
    at.number_input(key="k").set_value(6)
    at.selectbox(key="cov_type").set_value("diag")
    at.number_input(key="seed").set_value(1)
    at.number_input(key="n_init").set_value(5)
    _button(at, "Run EM").click().run()
    assert not at.exception
    fig = _chart(at, "restarts_chart")
    collapsed = [t for t in fig["data"] if t.get("name") == "collapsed"]
    assert collapsed and collapsed[0]["marker"]["symbol"] == "circle-open"
    assert 3 in list(_arr(collapsed[0]["x"]))
    assert at.session_state["restart"] != 3
    assert any("Hollow" in c.value for c in at.caption)
    options = at.selectbox(key="restart").options
    assert any("collapsed" in o for o in options)
