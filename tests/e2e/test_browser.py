"""End to end in real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright,
against `streamlit run app.py` on a free local port. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.e2e


def _require_browser():
    missing = not Path(CHROMIUM).exists()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        reason = f"end-to-end tests need Chromium at {CHROMIUM} and the playwright package"
        if os.environ.get("GMM_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (GMM_REQUIRE_BROWSER=1)")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _require_browser()
    port = _free_port()
    log = (
        open(ROOT / "test-artifacts" / "streamlit-e2e.log", "w")
        if (ROOT / "test-artifacts").exists()
        else subprocess.DEVNULL
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture()
def page(server, artifacts_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 2000}, accept_downloads=True
        )
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        yield pg
        context.close()
        browser.close()


def _settle(page):
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=30_000,
    )
    page.wait_for_timeout(300)


def _chart_data(page, index):
    """The Plotly traces of the index-th chart on the page (name, x, y, meta)."""
    return page.evaluate(
        """(i) => { const g = document.querySelectorAll('.js-plotly-plot')[i];
        return g._fullData.map(t => ({name: t.name || null, meta: t.meta || null,
            x: Array.from(t.x || []), y: Array.from(t.y || [])})); }""",
        index,
    )


def _ellipses(traces):
    return [(t["x"], t["y"]) for t in traces if t["meta"] and t["meta"].get("role") == "ellipse"]


def _current(traces):
    return [t["x"] for t in traces if t["meta"] and t["meta"].get("role") == "current"]


def _nav(page, title):
    page.get_by_role("link", name=re.compile(title)).first.click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    _settle(page)


def test_em_flow_grid_and_model_download(page, server, artifacts_dir, tmp_path):
    from gmmcore.io import load_model

    page.goto(server)
    page.get_by_role("heading", name="Data", level=1).wait_for()
    _settle(page)
    assert page.get_by_text("Current dataset: Old Faithful").is_visible()
    # The preview table is drawn on a canvas after the run ends: wait for it, not its skeleton.
    page.wait_for_selector('[data-testid="stDataFrame"] canvas')
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "01-data.png"), full_page=True)

    _nav(page, "EM explorer")
    page.get_by_text("Step 0 of").wait_for()
    page.wait_for_selector(".js-plotly-plot .scatterlayer")
    init = _ellipses(_chart_data(page, 0))
    titles = page.evaluate(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')[0]"
        ".querySelectorAll('.xtitle, .ytitle')).map(e => e.textContent)"
    )
    assert titles == ["eruptions", "waiting"]  # the scatter's axes name the features
    assert len(init) == 2 * 3  # K=2 components x 1, 2, 3 sd
    page.screenshot(path=str(artifacts_dir / "02-explorer-init.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Next")).click()
    page.get_by_text("Step 1 of").wait_for()
    _settle(page)
    after_e = _ellipses(_chart_data(page, 0))
    assert after_e == init  # E step: responsibilities change, ellipses do not
    assert _current(_chart_data(page, 1)) == [[1]]
    page.screenshot(path=str(artifacts_dir / "03-explorer-after-E.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Next")).click()
    page.get_by_text("Step 2 of").wait_for()
    _settle(page)
    after_m = _ellipses(_chart_data(page, 0))
    assert after_m != init  # M step: the ellipses move
    page.screenshot(path=str(artifacts_dir / "04-explorer-after-M.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Next")).click()
    page.get_by_text("Step 3 of").wait_for()
    _settle(page)
    assert _current(_chart_data(page, 1)) == [[2]]  # the log-likelihood marker moved on

    page.get_by_role("button", name=re.compile("Prev")).click()
    page.get_by_text("Step 2 of").wait_for()
    page.get_by_role("button", name=re.compile("Prev")).click()
    page.get_by_text("Step 1 of").wait_for()
    _settle(page)
    assert _ellipses(_chart_data(page, 0)) == init
    assert "step=1" in page.url

    page.get_by_role("button", name=re.compile("Last")).click()
    _settle(page)
    ll = _chart_data(page, 1)
    curve = next(t for t in ll if t["meta"] and t["meta"].get("role") == "log_likelihood")
    assert len(curve["y"]) >= 3 and all(
        b >= a - 1e-6 for a, b in zip(curve["y"], curve["y"][1:], strict=False)
    )
    page.screenshot(path=str(artifacts_dir / "05-explorer-last.png"), full_page=True)

    _nav(page, "Model selection")
    page.get_by_role("button", name="Run the grid").click()
    page.get_by_text("Best by BIC").wait_for(timeout=120_000)
    _settle(page)
    page.screenshot(path=str(artifacts_dir / "06-model-selection.png"), full_page=True)

    _nav(page, "Export & import")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download the model")).click()
    path = tmp_path / "model.json"
    info.value.save_as(path)
    model = load_model(path)
    assert model.n_components == 2
    assert model.feature_names == ["eruptions", "waiting"]
    page.screenshot(path=str(artifacts_dir / "07-export.png"), full_page=True)


def test_bad_upload_in_browser_keeps_the_dataset(page, server, artifacts_dir, tmp_path):
    page.goto(server)
    page.get_by_role("heading", name="Data", level=1).wait_for()
    _settle(page)
    page.get_by_text("Upload a file").click()
    _settle(page)
    bad = tmp_path / "ragged.csv"
    bad.write_bytes(b"a,b\n1,2\n3\n4,5\n")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("is ragged").wait_for()
    assert page.get_by_text("Current dataset: Old Faithful").is_visible()
    page.screenshot(path=str(artifacts_dir / "08-bad-upload.png"), full_page=True)


def test_tasks_page_with_penguins(page, server, artifacts_dir):
    page.goto(server + "/?sample=Palmer%20penguins")  # a shared link to the penguins
    page.get_by_text("Current dataset: Palmer penguins").wait_for()
    _settle(page)
    _nav(page, "Tasks")
    page.get_by_role("button", name="Compare pooled, separate and shared").click()
    page.get_by_text("Shared wins on BIC").wait_for(timeout=120_000)
    _settle(page)
    page.wait_for_selector(".js-plotly-plot .heatmaplayer")
    page.screenshot(path=str(artifacts_dir / "10-tasks-penguins.png"), full_page=True)


# -- issue 12: a link is the view, fixed axes, the Bishop preset, projector sizes --------------


def _browser_context(p, width=1400, height=2000):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    return browser, pg


def _step_label(page):
    return page.get_by_text(re.compile(r"^Step \d+ of \d+")).first.inner_text().split(" — ")[0]


def _axes(page, index=0):
    page.wait_for_selector(".js-plotly-plot .scatterlayer")
    return page.evaluate(
        """(i) => { const l = document.querySelectorAll('.js-plotly-plot')[i]._fullLayout;
        return [l.xaxis.range, l.yaxis.range]; }""",
        index,
    )


def _view(page):
    """What a viewer compares: the step label, the parameter numbers, the scatter's ellipses."""
    page.wait_for_selector(".js-plotly-plot .scatterlayer")
    _settle(page)
    params = page.locator('[data-testid="stDataFrame"]').first.inner_text()
    return _step_label(page), params, _ellipses(_chart_data(page, 0))


def test_a_link_reopens_the_same_view_in_a_fresh_browser_and_axes_stay_fixed(server, artifacts_dir):
    from playwright.sync_api import sync_playwright

    start = (
        "/explorer?sample=Palmer+penguins&std=0&k=3&type=diag&init=random&seed=7&iter=50"
        "&step=3&view=PCA+projection"
    )
    with sync_playwright() as p:
        browser, page = _browser_context(p)
        page.goto(server + start)
        page.get_by_text("Step 3 of").wait_for()
        _settle(page)
        axes = [_axes(page)]
        for n in (4, 5):
            page.get_by_role("button", name=re.compile("Next")).click()
            page.get_by_text(f"Step {n} of").wait_for()
            _settle(page)
            axes.append(_axes(page))
        assert axes[0] == axes[1] == axes[2]  # the M step at 4 moved the ellipses, not the axes
        page.get_by_text("Link to this view (copy to share)").click()
        link = page.locator('[data-testid="stCode"]').last.inner_text().strip()
        assert "step=5" in page.url and "step=5" in link and "view=PCA" in link
        label, params, ellipses = _view(page)
        assert label.startswith("Step 5 of ")
        page.screenshot(path=str(artifacts_dir / "11-link-original.png"), full_page=True)
        browser.close()

        browser, fresh = _browser_context(p)  # a fresh context: no cookies, no session
        fresh.goto(link)
        fresh.get_by_text("Step 5 of").wait_for()
        assert _view(fresh) == (label, params, ellipses)
        assert _axes(fresh) == axes[2]
        fresh.screenshot(path=str(artifacts_dir / "12-link-reopened.png"), full_page=True)
        browser.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_bishop_preset_and_projector_screenshots(server, artifacts_dir, width, height):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _browser_context(p, width, height)
        page.goto(server + "/explorer")
        page.get_by_text("Step 0 of").wait_for()
        _settle(page)
        page.get_by_role("button", name=re.compile("Bishop PRML")).click()
        page.get_by_text("Starting from Bishop").wait_for()
        _settle(page)
        assert "start=bishop" in page.url and "std=1" in page.url
        page.get_by_role("button", name=re.compile("Next")).click()
        page.get_by_text("Step 1 of").wait_for()
        page.get_by_role("button", name=re.compile("Next")).click()
        page.get_by_text("Step 2 of").wait_for()
        _settle(page)
        page.screenshot(path=str(artifacts_dir / f"13-bishop-M-{width}x{height}.png"))
        # The M step's ghosts and arrows are drawn.
        traces = _chart_data(page, 0)
        assert any(t["meta"] and t["meta"].get("role") == "ghost" for t in traces)
        n_arrows = page.evaluate(
            "() => document.querySelectorAll('.js-plotly-plot')[0]._fullLayout.annotations.length"
        )
        assert n_arrows == 2
        titles = page.evaluate(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot .gtitle'))"
            ".map(e => e.textContent)"
        )
        assert [t for t in titles if t.startswith("L = ")][:2] == ["L = 1", "L = 2"]
        assert any(t.startswith("L = 20") for t in titles)
        page.get_by_text("L = 1", exact=True).scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / f"14-bishop-compare-{width}x{height}.png"))
        page.screenshot(
            path=str(artifacts_dir / f"15-explorer-full-{width}x{height}.png"), full_page=True
        )
        browser.close()


def test_projector_layout_at_1280x720(server, artifacts_dir):
    """At 1280 x 720 the step buttons and the scatter's centre are above the fold, and no button
    or expander label is cut (its text is its full label and fits its box)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _browser_context(p, 1280, 720)
        page.goto(server + "/explorer?sample=Palmer+penguins&k=3&task=island")
        page.get_by_text("Step 0 of").wait_for()
        page.wait_for_selector(".js-plotly-plot .scatterlayer")
        _settle(page)
        for label in ("First", "Prev", "Next", "Last", "Play", "Bishop PRML fig. 9.8"):
            button = page.get_by_role("button", name=re.compile(re.escape(label))).first
            box = button.bounding_box()
            assert box and 0 <= box["y"] and box["y"] + box["height"] <= 720, (label, box)
            text = button.inner_text().strip()
            assert text.endswith(label), (label, text)
            # Cut text shows as an ellipsis: the label's box is narrower than its content.
            fits = button.evaluate(
                "b => Array.from(b.querySelectorAll('p, span, div'))"
                ".every(e => e.scrollWidth <= e.clientWidth + 1)"
            )
            assert fits, label
        summary = page.locator('[data-testid="stExpander"] summary').filter(has_text="Fit settings")
        assert summary.evaluate(
            "s => Array.from(s.querySelectorAll('p')).every(e => e.scrollWidth <= e.clientWidth + 1)"
        )
        plot = page.locator(".st-key-em_scatter .js-plotly-plot").first.bounding_box()
        centre = plot["y"] + plot["height"] / 2
        assert 0 < centre < 720, plot
        page.screenshot(path=str(artifacts_dir / "16-explorer-1280x720-fold.png"))
        browser.close()
