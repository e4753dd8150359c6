"""The run report opens in a real browser (Debian's chromium, headless) without errors."""

from __future__ import annotations

import csv
import io
import re

import pytest

from restock.report import build_report
from restock.report import data as prep
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
    # Every figure, plus the drill-down chart of the first line to place.
    assert sorted(fig for fig, _, _ in check.plot_sizes) == sorted(
        [f"fig-{i + 1}" for i in range(expected)] + ["drill-chart"])
    for fig_id, width, height in check.plot_sizes:
        assert width > 100 and height > 100, fig_id
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a full page of tables and plots, not a blank image


@pytest.fixture(scope="module")
def interactive(tmp_path_factory):
    """The report in a headless Chromium page, with downloads on; yields (page, inputs, log)."""
    from playwright.sync_api import sync_playwright

    from restock.report.browser import CHROMIUM_ARGS

    inputs = make_report_inputs(n_skus=60, hostile_name="<img src=x onerror=alert(1)>")
    root = tmp_path_factory.mktemp("interactive")
    path = build_report(root / "report", currency="EUR", **inputs)
    log = {"errors": [], "requests": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS,
                                    headless=True)
        context = browser.new_context(accept_downloads=True,
                                      viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log["errors"].append(str(e)))
        page.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
        page.on("request", lambda r: log["requests"].append(r.url)
                if not r.url.startswith(("file:", "data:", "blob:")) else None)
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-tables-ready]", state="attached", timeout=60_000)
        page.wait_for_selector("body[data-plots-ready]", state="attached", timeout=60_000)
        page.wait_for_selector("body[data-drill-shown]", state="attached", timeout=60_000)
        yield page, inputs, log, root
        context.close()
        browser.close()


def _eventually(page, check, seconds: float = 5.0) -> bool:
    """True once ``check()`` holds. DataTables 2 orders and redraws in a setTimeout after the
    event, so a read straight after a click can see the old rows."""
    for _ in range(int(seconds * 10)):
        if check():
            return True
        page.wait_for_timeout(100)
    return bool(check())


def _visible_rows(page, table_id: str) -> int:
    return page.locator(f"#{table_id} tbody tr").count()


def _download(page, table_id: str, css: str, folder):
    block = page.locator(f"#{table_id}").locator(
        "xpath=ancestor::div[contains(@class, 'dt-container')]")
    with page.expect_download() as info:
        block.locator(f"button.{css}").click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def _csv_rows(path) -> list[list[str]]:
    """The rows of a downloaded CSV (header first), blank lines left out."""
    text = path.read_text(encoding="utf-8-sig")
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def test_tables_are_interactive_offline_without_errors(interactive):
    page, inputs, log, _ = interactive
    # orders, alerts, checks, quarantined rows
    # orders, alerts, data quality, customers at risk, items hitting customers, accuracy history
    assert page.get_attribute("body", "data-tables-ready") == "6"
    assert log["requests"] == []  # DataTables came from the page itself
    assert log["errors"] == []
    assert log["dialogs"] == []
    assert page.locator(".dt-buttons").count() == 6


def test_orders_table_sorts_filters_and_downloads_every_line(interactive, tmp_path):
    import openpyxl

    page, inputs, log, _ = interactive
    lines, totals = prep.top_orders(inputs["reorder_recommendations"], inputs["products"])
    n = totals["lines_to_place"]
    assert n > 25  # more than one page
    assert _visible_rows(page, "orders-table") == 25
    info = page.locator("#orders-table").locator(
        "xpath=ancestor::div[contains(@class, 'dt-container')]").locator(".dt-info")
    assert f"of {n} entries" in info.inner_text()

    # Sort: click the order qty header twice (ascending, then descending).
    header = page.locator("#orders-table thead th", has_text="order qty")
    qty_col = [t.strip() for t in page.locator("#orders-table thead th").all_inner_texts()].index(
        "order qty")

    def first_qty() -> float:
        cell = page.locator(f"#orders-table tbody tr:first-child td:nth-child({qty_col + 1})")
        return float(cell.inner_text().replace(",", ""))

    header.click()
    assert _eventually(page, lambda: first_qty() == lines["recommended_order_qty"].min()), \
        first_qty()
    header.click()
    assert _eventually(page, lambda: first_qty() == lines["recommended_order_qty"].max()), \
        first_qty()

    # CSV and XLSX hold every line, not the 25 on screen.
    csv_path = _download(page, "orders-table", "dl-csv", tmp_path)
    rows = _csv_rows(csv_path)
    assert rows[0][:2] == ["SKU", "product"]
    assert len(rows) - 1 == n
    assert {r[0] for r in rows[1:]} == set(lines["sku"])  # raw SKUs, hostile one included
    why = rows[0].index("why")
    assert {r[why] for r in rows[1:]} == set(lines["explanation"])  # plain text, unfolded
    xlsx_path = _download(page, "orders-table", "dl-xlsx", tmp_path)
    sheet = openpyxl.load_workbook(xlsx_path).active
    assert sheet.max_row - 1 == n

    # Filter: a category keeps only its lines, and the download follows the filter.
    category = "FOODS"
    expected = int((lines["category"] == category).sum())
    page.locator('.dt-filters[data-for="orders-table"] select').nth(1).select_option(category)
    assert _eventually(page, lambda: f"of {expected} entries" in info.inner_text()), \
        info.inner_text()
    filtered = _download(page, "orders-table", "dl-csv", tmp_path / "filtered")
    assert len(_csv_rows(filtered)) - 1 == expected
    page.locator('.dt-filters[data-for="orders-table"] select').nth(1).select_option("")
    assert _eventually(page, lambda: f"of {n} entries" in info.inner_text())
    # Search box: one SKU.
    sku = lines["sku"].iloc[3]
    search = page.locator("#orders-table").locator(
        "xpath=ancestor::div[contains(@class, 'dt-container')]").locator(".dt-search input")
    search.fill(sku)
    assert _eventually(page, lambda: _visible_rows(page, "orders-table") == 1)
    search.fill("")
    assert log["errors"] == []


def test_drilldown_shows_the_chart_of_a_chosen_sku(interactive):
    page, inputs, log, _ = interactive
    alerts = inputs["stockout_alerts"]
    sku, location = str(alerts["sku"].iloc[-1]), str(alerts["location"].iloc[-1])
    # From the select box...
    option = page.locator("#drill-pick option", has_text=f"{sku} @ {location}").first
    page.locator("#drill-pick").select_option(option.get_attribute("value"))
    page.wait_for_function(
        "s => document.body.getAttribute('data-drill-shown') === s", arg=f"{sku} @ {location}")
    assert page.locator("#drill-title").inner_text().startswith(f"{sku} @ {location}")
    chart = page.locator("#drill-chart")
    assert chart.get_attribute("data-sku") == sku
    assert chart.locator(".main-svg").count() >= 1
    box = chart.locator(".main-svg").first.bounding_box()
    assert box["width"] > 200 and box["height"] > 200
    assert chart.locator(".scatterlayer .trace").count() >= 3  # sales, band, forecast
    explanation = inputs["reorder_recommendations"].set_index("sku").loc[sku, "explanation"]
    assert page.locator("#drill-why").inner_text() == explanation
    # ...and from a SKU clicked in the alerts table.
    other = str(alerts["sku"].iloc[0])
    page.locator("#alerts-table a.drill", has_text=other).first.click()
    page.wait_for_function(
        "s => document.body.getAttribute('data-drill-shown').startsWith(s)", arg=other + " @")
    assert chart.get_attribute("data-sku") == other
    assert log["errors"] == [] and log["dialogs"] == []


def test_data_quality_results_render_offline(interactive):
    page, inputs, log, _ = interactive
    results = inputs["data_quality_results"]
    quality = page.locator("#quality")
    assert quality.locator("#quality-table tbody tr").count() == len(results)
    failed = quality.locator("#quality-table tbody tr", has_text="FAILED")
    assert failed.count() == int((~results["passed"]).sum())
    assert "expect_column_values_to_be_between (on_hand)" in quality.inner_text()
    assert "[-4.0, -1.0]" in quality.inner_text()
    select = page.locator('.dt-filters[data-for="quality-table"] select').first
    failed_rows = failed.count()
    select.select_option("FAILED")
    assert _eventually(
        page, lambda: quality.locator("#quality-table tbody tr").count() == failed_rows)
    select.select_option("")
    assert _eventually(
        page, lambda: quality.locator("#quality-table tbody tr").count() == len(results))
    assert log["requests"] == [] and log["errors"] == []


def test_printing_keeps_every_row(interactive):
    page, inputs, log, _ = interactive
    lines, totals = prep.top_orders(inputs["reorder_recommendations"], inputs["products"])
    page.emulate_media(media="print")
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('#orders-table tbody tr').length === n",
            arg=totals["lines_to_place"])
        assert page.locator("#orders-table tbody tr").count() == totals["lines_to_place"]
        assert page.locator("details[open]").count() >= totals["lines_to_place"]
        assert page.locator(".dt-buttons").first.is_hidden()
    finally:
        page.emulate_media(media="screen")
    page.wait_for_function("() => document.querySelectorAll('#orders-table tbody tr').length "
                           "=== 25")
