"""Benchmark: the dashboard's two speed targets (issue 3).

Run from the repository root::

    python -m bench.dashboard                 # both measurements, table to bench/dashboard-results.md
    python -m bench.dashboard --steps 40 --launches 5 --output /tmp/r.md
    python -m bench.dashboard --skip-startup  # only the step rerun (no Chromium needed)

(a) **Step rerun, server time.** Synthetic data: 10,000 points, 2-D, K = 5 (drawn with
``make_mixture(..., random_state=0)`` through the Data page's generator), fitted on the EM
explorer with its defaults (K = 5, full covariances, k-means++, seed 0). Then the *Next* button
is clicked repeatedly with Streamlit's ``AppTest`` and each ``click().run()`` is timed with
``time.perf_counter``; the table reports the median (and the 90th percentile) over ``--steps``
clicks, after two untimed warm-up clicks. When the stepper reaches the last half-step an
untimed *First* click starts it again.

Why AppTest: it runs the page script exactly as the server does (same session state, same
``st.cache_data``, same Plotly-to-protobuf serialization of every element), in-process and
without a browser, so the number is server time and nothing else. It is an upper bound: AppTest
reruns the whole page script, whereas in the browser the stepper is an ``st.fragment`` and a
click reruns only the fragment (the title, help text, fit form and restarts panel are skipped);
it also includes AppTest's own parsing of the produced elements (a few ms). One difference is
removed: AppTest recompiles the scripts on every run, the server compiles them once, so the
benchmark gives AppTest one shared script cache (``--no-shared-cache`` turns that off). Browser-side
rendering (Plotly drawing the WebGL scatter) is not server time and is not counted.

(b) **First page interactive.** Headless Chromium (``/usr/bin/chromium`` via Playwright) is
started first (not timed). The clock starts when ``streamlit run app.py`` is launched; the page
is requested as soon as the server accepts connections, and the clock stops when the Data page
is interactive: its title is drawn, the preview table has rendered (not its grey skeleton) and
Streamlit's status widget no longer says "Running". Median over ``--launches`` launches, each
with a fresh server process and a fresh browser context.
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
STEP_TARGET_MS = 100.0
STARTUP_TARGET_S = 3.0


# -- (a) one step of the explorer ---------------------------------------------------------------
def measure_step(
    n_steps: int = 25, n: int = 10_000, d: int = 2, k: int = 5, shared_cache: bool = True
) -> dict:
    import logging

    import streamlit.testing.v1.app_test as app_test_module
    import streamlit.testing.v1.local_script_runner as runner_module
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    # The server compiles each page script once (one ScriptCache per runtime); AppTest makes a
    # new cache, and so recompiles app.py and the page, on every run. Share one cache, as the
    # server does, so that compiling (~20 ms) is not counted as step time.
    if shared_cache:
        cache = ScriptCache()
        app_test_module.ScriptCache = runner_module.ScriptCache = lambda: cache
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.radio(key="data_source").set_value("Synthetic").run()
    at.number_input(key="syn_n").set_value(n)
    at.number_input(key="syn_d").set_value(d)
    at.number_input(key="syn_k").set_value(k)
    at.number_input(key="syn_seed").set_value(0)
    next(b for b in at.button if b.label == "Generate").click().run()
    assert at.session_state["dataset"]["frame"].shape[0] == n, (
        "the synthetic data was not generated"
    )
    t0 = time.perf_counter()
    at.switch_page("pages/2_explorer.py").run()  # the fit (cached afterwards)
    fit_s = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"the explorer failed: {at.exception}")
    assert at.session_state["fit_settings"]["n_components"] == k
    last = at.slider(key="step").max
    times = []
    for i in range(n_steps + 2):
        if at.session_state["step"] >= last:
            at.button(key="step_first").click().run()
        t0 = time.perf_counter()
        at.button(key="step_next").click().run()
        dt = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"a step failed: {at.exception}")
        if i >= 2:
            times.append(dt * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[int(0.9 * (len(times) - 1))],
        "min_ms": times[0],
        "n_steps": len(times),
        "shared_cache": shared_cache,
        "n_halfsteps": last + 1,
        "fit_s": fit_s,
    }


# -- (b) first page interactive ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interactive(page) -> None:
    page.get_by_role("heading", name="Data", level=1).wait_for(timeout=60_000)
    # The preview table is drawn (glide-data-grid's canvas), not the loading skeleton.
    page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000,
        polling=20,
    )


def measure_startup(n_launches: int = 3) -> dict:
    from playwright.sync_api import sync_playwright

    times, ready_times = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(n_launches):
            port = _free_port()
            url = f"http://127.0.0.1:{port}/"
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            t0 = time.perf_counter()
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
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                # Wait for the server with a cheap HTTP probe: retrying page.goto against a port
                # that is not listening yet makes Chromium back off (about 2 s lost per launch).
                deadline = t0 + 60
                while True:
                    try:
                        with urllib.request.urlopen(url + "_stcore/health", timeout=1) as r:
                            if r.status == 200:
                                break
                    except OSError:
                        if time.perf_counter() > deadline:
                            raise
                        time.sleep(0.02)
                t_ready = time.perf_counter()
                page.goto(url)
                _interactive(page)
                times.append(time.perf_counter() - t0)
                ready_times.append(time.perf_counter() - t_ready)
            finally:
                context.close()
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        browser.close()
    return {
        "median_s": statistics.median(times),
        "all_s": times,
        "ready_median_s": statistics.median(ready_times),
        "ready_all_s": ready_times,
    }


# -- report ----------------------------------------------------------------------------------
def _table(step: dict | None, startup: dict | None) -> str:
    lines = ["| measurement | result | target | met |", "|---|---|---|---|"]
    if step:
        lines.append(
            f"| step rerun, server time (10,000 points, 2-D, K = 5; median of {step['n_steps']} "
            f"Next clicks, AppTest full-page rerun{'' if step['shared_cache'] else ', recompiling'}) | {step['median_ms']:.1f} ms "
            f"(p90 {step['p90_ms']:.1f}, min {step['min_ms']:.1f}) | < {STEP_TARGET_MS:.0f} ms | "
            f"{'yes' if step['median_ms'] < STEP_TARGET_MS else 'NO'} |"
        )
    if startup:
        runs = ", ".join(f"{t:.2f}" for t in startup["all_s"])
        lines.append(
            f"| first page interactive after `streamlit run app.py` (headless Chromium; median of "
            f"{len(startup['all_s'])} launches: {runs} s) | {startup['median_s']:.2f} s | "
            f"< {STARTUP_TARGET_S:.0f} s | {'yes' if startup['median_s'] < STARTUP_TARGET_S else 'NO'} |"
        )
        ready = ", ".join(f"{t:.2f}" for t in startup["ready_all_s"])
        lines.append(
            f"| first page interactive after the server is up (its health check answers; same "
            f"launches: {ready} s) | {startup['ready_median_s']:.2f} s | "
            f"< {STARTUP_TARGET_S:.0f} s | "
            f"{'yes' if startup['ready_median_s'] < STARTUP_TARGET_S else 'NO'} |"
        )
    notes = []
    if step:
        notes.append(
            f"Fit before stepping: {step['fit_s']:.1f} s for {step['n_halfsteps']} "
            "half-steps (untimed in the step figure)."
        )
    import os

    notes.append(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}."
    )
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--steps", type=int, default=25, help="timed Next clicks (default 25)")
    parser.add_argument("--launches", type=int, default=3, help="server launches (default 3)")
    parser.add_argument("--skip-startup", action="store_true", help="skip the browser measurement")
    parser.add_argument("--skip-step", action="store_true", help="skip the step measurement")
    parser.add_argument(
        "--no-shared-cache",
        action="store_true",
        help="let AppTest recompile the scripts on every run",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "dashboard-results.md")
    args = parser.parse_args(argv)
    step = (
        None if args.skip_step else measure_step(args.steps, shared_cache=not args.no_shared_cache)
    )
    startup = None
    if not args.skip_startup:
        if not Path(CHROMIUM).exists():
            print(f"skipping the startup measurement: no Chromium at {CHROMIUM}", file=sys.stderr)
        else:
            startup = measure_startup(args.launches)
    text = _table(step, startup)
    print(text)
    args.output.write_text(
        "# Dashboard speed (python -m bench.dashboard)\n\n" + text, encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
