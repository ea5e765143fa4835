"""The explorer's browser-side player (ui/player.py) in real headless Chromium: Play and the
scrub slider animate a canvas without a message to the server per frame, at >= 20 frames per
second for 3,000 points; stopping syncs the page's panels to the step reached; "Place means"
turns clicks on the plot into the manual start. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import time

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, _settle, server  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

# GvHD cytometry (15,892 rows): the explorer draws its 3,000-point sample (seed 0). A tiny tol
# keeps EM going for many half-steps, so Play runs for longer than the measurement.
GVHD = "/explorer?sample=GvHD+cytometry&cols=CD4,CD8b&k=4&seed=1&tol=1e-9&iter=300"
CANVAS = "canvas.gmm-player-canvas"


def _open(p, server, path, width, height):  # noqa: F811
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(60_000)
    sent = []  # every websocket message the page sends to the server
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(time.time())))
    page.goto(server + path)
    page.get_by_text("Step 0 of").first.wait_for(timeout=120_000)
    page.wait_for_function("() => window.__gmmPlayer && window.__gmmPlayer.frames")
    page.wait_for_selector(".st-key-em_scatter .js-plotly-plot .scatterlayer")
    _settle(page)
    return browser, page, sent


def _player(page, expr):
    return page.evaluate(f"() => {{ const p = window.__gmmPlayer; return {expr}; }}")


def _heading_step(page):
    text = page.get_by_text(re.compile(r"^Step \d+ of \d+")).first.inner_text()
    return int(text.split()[1])


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_play_animates_3000_points_in_the_browser_and_pause_syncs_the_panels(
    server,  # noqa: F811
    artifacts_dir,
    width,
    height,
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page, sent = _open(p, server, GVHD, width, height)
        assert _player(page, "p.n") == 3000
        n_frames = _player(page, "p.frames.length")
        assert n_frames > 20
        page.screenshot(path=str(artifacts_dir / f"20-player-stopped-{width}x{height}.png"))

        page.get_by_role("button", name="Play").click()
        page.wait_for_selector(CANVAS)
        page.wait_for_timeout(400)
        before = _player(page, "[p.stats.frames, performance.now(), Number(p.root.dataset.step)]")
        messages = len(sent)
        page.wait_for_timeout(2500)
        after = _player(page, "[p.stats.frames, performance.now(), Number(p.root.dataset.step)]")
        fps = (after[0] - before[0]) / (after[1] - before[1]) * 1000
        print(f"player: {fps:.1f} frames per second for 3,000 points at {width}x{height}")
        assert fps >= 20, fps
        assert after[2] > before[2]  # the figure advanced through the half-steps...
        assert len(sent) - messages == 0  # ...with nothing sent to the server meanwhile
        assert _player(page, "p.playing") is True
        # The canvas lies exactly on the Plotly plot area, whose axes stay visible around it.
        canvas = page.locator(CANVAS).bounding_box()
        plot = page.locator(".st-key-em_scatter .js-plotly-plot .nsewdrag").first.bounding_box()
        for key in ("x", "y", "width", "height"):
            assert abs(canvas[key] - plot[key]) <= 1.5, (key, canvas, plot)
        page.screenshot(path=str(artifacts_dir / f"21-player-playing-{width}x{height}.png"))

        page.get_by_role("button", name="Pause").click()
        stopped = _player(page, "p.pending")
        assert isinstance(stopped, int) and stopped > 0
        # One message for the stop; the panels redraw at that step and the canvas goes away.
        page.wait_for_function(f"() => !document.querySelector('{CANVAS}')", timeout=30_000)
        _settle(page)
        assert _heading_step(page) == stopped
        assert f"step={stopped}" in page.url
        assert 1 <= len(sent) - messages <= 3
        page.screenshot(path=str(artifacts_dir / f"22-player-paused-{width}x{height}.png"))
        browser.close()


def test_scrubbing_draws_on_the_canvas_and_releasing_the_slider_syncs_the_step(
    server,  # noqa: F811
    artifacts_dir,
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page, sent = _open(p, server, "/explorer", 1280, 720)
        slider = page.get_by_role("slider", name="Half-step")
        messages = len(sent)
        for value in (1, 2, 3, 4, 5):  # dragging: input events only
            slider.evaluate(
                "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }", value
            )
            assert _player(page, "Number(p.root.dataset.step)") == value
        assert page.locator(CANVAS).count() == 1
        assert len(sent) == messages  # scrubbing sent nothing
        page.screenshot(path=str(artifacts_dir / "23-player-scrubbing-1280x720.png"))
        slider.evaluate("s => s.dispatchEvent(new Event('change'))")  # released
        page.wait_for_function(f"() => !document.querySelector('{CANVAS}')", timeout=30_000)
        _settle(page)
        assert _heading_step(page) == 5
        page.get_by_role("button", name=re.compile("Next")).click()  # the buttons still step
        page.get_by_text("Step 6 of").wait_for()
        _settle(page)
        assert _player(page, "p.serverStep") == 6
        browser.close()


def test_placing_means_by_clicking_the_plot_fills_the_manual_start(server, artifacts_dir):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page, _ = _open(p, server, "/explorer", 1280, 720)
        page.get_by_role("button", name="Place means").click()
        canvas = page.locator(CANVAS)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        for fx, fy in ((0.15, 0.8), (0.85, 0.2), (0.5, 0.5)):
            page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        placed = _player(page, "p.placed")
        assert len(placed) == 3
        page.screenshot(path=str(artifacts_dir / "24-player-placing-1280x720.png"))
        page.get_by_role("button", name=re.compile("Start EM from these 3 means")).click()
        page.get_by_text("Starting from your own means").wait_for(timeout=60_000)
        page.get_by_text("Step 0 of").first.wait_for()
        _settle(page)
        assert "k=3" in page.url and "start=manual" in page.url
        # The manual start's table holds the placed means (rounded), in the data's units.
        m = re.search(r"[?&]m=([^&]+)", page.url).group(1).replace("%2C", ",").replace("%3B", ";")
        rows = [[float(v) for v in row.split(",")] for row in m.split(";")]
        for (x, y), (mx, my) in zip(placed, rows, strict=True):
            assert abs(x - mx) < 1e-3 and abs(y - my) < 1e-3
        page.get_by_role("button", name=re.compile("Manual start")).click()
        table = page.locator('[data-testid="stPopoverBody"] [data-testid="stDataFrame"]')
        table.wait_for()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll("
            "'[data-testid=\"stPopoverBody\"] [role=gridcell]'))"
            ".filter(c => c.textContent.trim()).length >= 6"
        )
        page.screenshot(path=str(artifacts_dir / "25-player-placed-table-1280x720.png"))
        # The grid is drawn on a canvas; its accessible table holds the shown (3-decimal) text.
        cells = [c for c in table.locator("[role=gridcell]").all_text_contents() if _num(c)]
        shown = [[float(c) for c in cells[i : i + 2]] for i in range(0, len(cells), 2)]
        assert len(shown) == 3, cells
        for got, want in zip(shown, rows, strict=True):
            assert all(abs(g - w) < 1.5e-3 for g, w in zip(got, want, strict=True)), (got, want)
        browser.close()


def _num(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def test_four_features_parameter_tables_and_the_selection_form_fit_1280x720(
    server,  # noqa: F811
    artifacts_dir,
):
    """At 1280 x 720: the explorer's parameter tables of four features do not scroll sideways,
    and the Model selection form (its Run button) is above the fold."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page, _ = _open(p, server, "/explorer?sample=Palmer+penguins&k=3", 1280, 720)
        page.get_by_text("Parameters at this step").scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        tables = page.locator(
            '[data-testid="stDataFrame"]:below(:text("Parameters at this step"))'
        ).filter(has_text="component")
        assert tables.count() >= 2
        widths = page.evaluate(
            """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
            .map(t => { const s = t.querySelector('.dvn-scroller');
                        return s ? [s.scrollWidth, s.clientWidth] : null; })
            .filter(Boolean)"""
        )
        assert widths and all(sw <= cw + 1 for sw, cw in widths), widths
        page.screenshot(path=str(artifacts_dir / "26-parameters-four-features-1280x720.png"))
        page.get_by_role("link", name=re.compile("Model selection")).first.click()
        page.get_by_role("heading", name="Model selection", level=1).wait_for()
        _settle(page)
        run = page.get_by_role("button", name="Run the grid").bounding_box()
        assert run and run["y"] + run["height"] <= 720, run
        page.screenshot(path=str(artifacts_dir / "27-selection-1280x720.png"))
        browser.close()
