"""Open a report in headless Chromium (Debian's package) and measure it: for tests and the bench.

Uses playwright's bundled driver with the system chromium; it never downloads a browser.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def find_chromium() -> str | None:
    """Path of Debian's chromium (/usr/bin/chromium or ``chromium`` on PATH), else None."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@dataclass
class PageCheck:
    """What a browser saw when it opened the report."""

    load_seconds: float
    plots_ready: int
    first_view_seconds: float = float("nan")
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert() etc.: injected script ran
    plot_sizes: list[tuple[str, float, float]] = field(default_factory=list)
    # CPU seconds the page's main thread / renderer process used (DevTools ThreadTime /
    # ProcessTime): unlike wall time, barely affected by other work on a busy machine.
    main_thread_cpu_seconds: float = float("nan")
    renderer_cpu_seconds: float = float("nan")
    screenshot: Path | None = None


def open_report(
    report: Path, screenshot: Path | None = None, timeout_ms: int = 60_000,
    executable: str | None = None,
) -> PageCheck:
    """Load ``report`` in headless Chromium until every plot has rendered.

    load_seconds runs from navigation start to the page's ``data-plots-ready`` mark (set after
    the last Plotly.newPlot resolves); first_view_seconds to ``data-first-view-ready`` (text
    shown and the plots on the first screen drawn). Any request that is not a file:, data: or
    blob: URL is recorded in external_requests (an offline report makes none).
    """
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError("chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="restock-chromium-") as profile, sync_playwright() as p:
        # playwright refuses --user-data-dir in launch args; a persistent context on a fresh
        # temporary folder is the same thing (a clean profile per run).
        context = p.chromium.launch_persistent_context(
            profile, executable_path=executable, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1366, "height": 900},
        )
        try:
            page = context.new_page()
            check = PageCheck(load_seconds=float("nan"), plots_ready=0)
            page.on("console", lambda m: check.console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: check.page_errors.append(str(e)))
            page.on("dialog", lambda d: (check.dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: check.external_requests.append(r.url)
                    if not r.url.startswith(("file:", "data:", "blob:")) else None)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            start = time.perf_counter()
            page.goto(Path(report).resolve().as_uri(), wait_until="commit", timeout=timeout_ms)
            page.wait_for_selector("body[data-first-view-ready]", state="attached",
                                   timeout=timeout_ms)
            check.first_view_seconds = time.perf_counter() - start
            page.wait_for_selector("body[data-plots-ready]", state="attached", timeout=timeout_ms)
            check.load_seconds = time.perf_counter() - start
            check.plots_ready = int(page.get_attribute("body", "data-plots-ready") or 0)
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            check.main_thread_cpu_seconds = float(metrics.get("ThreadTime", float("nan")))
            check.renderer_cpu_seconds = float(metrics.get("ProcessTime", float("nan")))
            check.plot_sizes = page.eval_on_selector_all(
                ".js-plotly-plot",
                """els => els.map(e => {
                    const svg = e.querySelector('.main-svg');
                    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                    return [e.id, r.width, r.height];
                })""",
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
                check.screenshot = screenshot
        finally:
            context.close()
    return check
