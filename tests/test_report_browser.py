"""The run report opens in a real browser (Debian's chromium, headless) without errors."""

from __future__ import annotations

import re

import pytest

from restock.report import build_report
from restock.report.browser import find_chromium, open_report
from restock.report.sample import make_report_inputs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium not installed (apt-get install chromium; CI's .ci/run does this)",
    ),
]


def test_report_renders_every_plot_in_chromium(tmp_path):
    inputs = make_report_inputs(n_skus=45, hostile_name="<img src=x onerror=alert(1)>")
    path = build_report(tmp_path / "report", **inputs)
    expected = len(re.findall(r'class="fig-data"', path.read_text(encoding="utf-8")))
    shot = tmp_path / "report.png"

    check = open_report(path, screenshot=shot)

    print(f"report load time in chromium: first screen {check.first_view_seconds:.2f} s, "
          f"all {expected} plots {check.load_seconds:.2f} s, main-thread CPU "
          f"{check.main_thread_cpu_seconds:.2f} s ({path.stat().st_size / 1e6:.1f} MB)")
    assert check.page_errors == []
    assert check.console_errors == []
    assert check.external_requests == []  # fully offline
    assert check.dialogs == []  # the SKU name's onerror=alert(1) stayed text
    assert check.plots_ready == expected
    assert len(check.plot_sizes) == expected
    for fig_id, width, height in check.plot_sizes:
        assert width > 100 and height > 100, fig_id
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a full page of tables and plots, not a blank image
