"""The run report (restock.report): built from synthetic published tables, read back as HTML."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from restock.contract import PUBLISHED_TABLES
from restock.paths import RunPaths
from restock.report import ReportLimits, build_report
from restock.report import data as prep
from restock.report.formatting import fmt_level, fmt_pct
from restock.report.html import SECTIONS
from restock.report.sample import make_report_inputs

HOSTILE = "<script>alert('sku')</script>"


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.fixture(scope="module")
def inputs() -> dict:
    return make_report_inputs(n_skus=45, hostile_name=HOSTILE)


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("run")
    docs = root / "data_docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>")
    path = build_report(root / "reports" / inputs["as_of"], data_docs_index=docs, **inputs)
    return path, path.read_text(encoding="utf-8")


def test_synthetic_inputs_have_the_published_columns(inputs):
    for table in ("backtest_metrics", "model_selection", "demand_forecasts",
                  "reorder_recommendations", "stockout_alerts", "policy_replay",
                  "data_quality_results"):
        assert set(PUBLISHED_TABLES[table]) <= set(inputs[table].columns), table


def test_report_file_is_written_with_every_section(report, inputs):
    path, page = report
    assert path.name == "index.html" and path.exists()
    assert path.parent.name == inputs["as_of"]
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}"><h2>{html.escape(title)}</h2>' in page
        assert f'href="#{anchor}"' in page  # table of contents
    assert "could not be built" not in page
    assert page.count('class="fig-data"') >= 4 + 1 + 10  # accuracy, frontier, series


def test_report_is_self_contained_and_small(report):
    path, page = report
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"@import", page)
    # plotly.js is embedded exactly once (its licence banner opens the bundle).
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1
    assert path.stat().st_size < 10_000_000


def test_chosen_model_is_marked_per_category(report, inputs):
    _, page = report
    selection = inputs["model_selection"]
    summary = re.findall(r'<tr class="selection">(.*?)</tr>', page, re.S)
    assert len(summary) == len(selection)
    for row in selection.itertuples():
        badge = f'{html.escape(row.selected_model)}<span class="badge">chosen</span>'
        assert any(
            f">{row.category}<" in r and f">{row.demand_class}<" in r and badge in r
            for r in summary
        ), (row.category, row.demand_class, row.selected_model)
    # In each category's leaderboard, exactly the selected model of each demand class is the
    # highlighted row (rows of a class follow its first row, which names the class).
    leaderboard = page[page.index('id="leaderboard"'):page.index('id="accuracy"')]
    for category, group in selection.groupby("category"):
        start = leaderboard.index(f"<h3>{category}: models compared in the backtest</h3>")
        block = leaderboard[start:leaderboard.index("</table>", start)]
        rows = re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', block, re.S)[1:]  # skip head
        current, chosen = None, {}
        for css, cells in rows:
            first = re.match(r"<td>(.*?)</td>", cells).group(1)
            current = first or current
            if "chosen" in css.split():
                model = re.findall(r"<td>([^<]*)<span class=\"badge\">chosen</span>", cells)
                chosen.setdefault(current, []).extend(model)
        expected = {r.demand_class: [r.selected_model] for r in group.itertuples()}
        assert chosen == expected, category


def test_headline_numbers_are_formatted(report, inputs):
    _, page = report
    head = inputs["policy_headline"]
    before, after = fmt_pct(head["static_stockout_rate"]), \
        fmt_pct(head["restock_stockout_rate_at_same_inventory"])
    match = re.search(r'<p class="headline">(.*?)</p>', page, re.S)
    assert match is not None
    assert _text(match.group(1)) == f"At the same inventory, stockout rate {before}→{after}"
    assert f"a {fmt_pct(head['relative_cut'], 0)} relative cut" in page
    assert before == "5.0%" and after == "3.0%"
    # The same numbers lead the page, with today's work, above the table of contents.
    lead = re.search(r'<p class="lead">(.*?)</p>', page, re.S)
    assert lead is not None and page.index(lead.group(0)) < page.index('<nav class="toc"')
    qty = inputs["reorder_recommendations"]["recommended_order_qty"]
    assert _text(lead.group(1)).startswith(
        f"stockout rate {before} → {after} at the same inventory · "
        f"{int((qty > 0).sum())} order lines to place now · ")


def test_text_from_the_data_is_escaped(report):
    _, page = report
    assert HOSTILE not in page
    assert html.escape(HOSTILE) in page  # in the orders table, SKU cell
    # Inside figure JSON, plotly escapes < and > (so no </script> can end the block early).
    for block in re.findall(r'class="fig-data"[^>]*>(.*?)</script>', page, re.S):
        assert "<" not in block


def test_every_order_line_is_in_the_table_most_valuable_first(report, inputs):
    _, page = report
    orders = page[page.index('id="orders"'):page.index('id="alerts"')]
    table = orders[orders.index('<table id="orders-table"'):orders.index("</table>")]
    body = table[table.index("<tbody>"):]
    lines, totals = prep.top_orders(inputs["reorder_recommendations"], inputs["products"])
    assert body.count("<tr") == totals["lines_to_place"] == len(lines) > 25  # not capped
    assert "Showing the first" not in orders
    assert lines["order_value"].is_monotonic_decreasing
    # Explanations are folded behind a toggle, and downloads hold their plain text.
    explanation = html.escape(lines["explanation"].iloc[0])
    assert f'<details><summary>why</summary><span class="why-text">{explanation}</span>' in body
    # The hostile SKU was made the most valuable: it heads the list, escaped.
    assert lines["sku"].iloc[0] == HOSTILE
    assert body.index(html.escape(HOSTILE)) < body.index("</tr>")
    # The page sorts by value (descending) when DataTables starts, and offers both downloads.
    assert 'data-order="[[' in table
    assert "csvHtml5" in page and "excelHtml5" in page


def test_every_alert_is_in_the_table_with_a_severity_legend(report, inputs):
    _, page = report
    alerts = page[page.index('id="alerts"'):page.index('id="drilldown"')]
    body = alerts[alerts.index('<table id="alerts-table"'):alerts.index("</table>")]
    assert body.count("<tr") - 1 == len(inputs["stockout_alerts"])  # minus the header row
    assert "Severity legend" in alerts
    for severity in ("critical", "high", "medium"):
        assert f'<span class="sev sev-{severity}">{severity}</span>' in alerts
    # Days to stockout are counted from the planning date.
    first = inputs["stockout_alerts"].sort_values("projected_stockout_date").iloc[0]
    days = (first["projected_stockout_date"] - pd.Timestamp(inputs["as_of"])).days
    assert f'data-order="{days}"' in body


def test_currency_labels_money(inputs, tmp_path):
    page = build_report(tmp_path, currency="EUR", **inputs).read_text()
    orders = page[page.index('id="orders"'):page.index('id="alerts"')]
    assert "value (EUR) at unit_cost" in orders
    assert re.search(r"<b>EUR [\d,]+</b>", orders)  # the order value KPI
    assert '"cur":"EUR"' in page  # the drill-down shows money in EUR too
    plain = build_report(tmp_path / "plain", **inputs).read_text()
    assert "EUR" not in plain[plain.index('id="orders"'):plain.index('id="alerts"')]


@pytest.mark.parametrize(("value", "text"), [
    (0.95, "95%"), (0.995, "99.5%"), (0.998, "99.8%"), (0.9999, "99.99%"), (1.0, "100%"),
    (0.99999, "99.999%"), (0.999999, "99.999%+"), (None, "–"),
])
def test_service_levels_keep_the_decimals_they_need(value, text):
    assert fmt_level(value) == text


def test_service_levels_in_the_page_are_told_apart(inputs, tmp_path):
    kwargs = dict(inputs)
    reorder = inputs["reorder_recommendations"].copy()
    reorder["service_level_target"] = [0.995, 0.998] * (len(reorder) // 2) + \
        [0.995] * (len(reorder) % 2)
    reorder["recommended_order_qty"] = 5.0
    kwargs["reorder_recommendations"] = reorder
    page = build_report(tmp_path, **kwargs).read_text()
    orders = page[page.index('id="orders"'):page.index('id="alerts"')]
    assert ">99.5%<" in orders and ">99.8%<" in orders
    assert ">100%<" not in orders


def test_drilldown_carries_every_planned_series(report, inputs):
    _, page = report
    match = re.search(r'<script type="application/json" id="drill-data">(.*?)</script>', page,
                      re.S)
    assert match is not None
    assert "<" not in match.group(1)  # the hostile SKU cannot end the script block
    data = json.loads(match.group(1))
    reorder = inputs["reorder_recommendations"]
    assert len(data["series"]) == len(reorder)
    assert {s["sku"] for s in data["series"]} == set(reorder["sku"])
    top = data["series"][0]
    assert top["sku"] == HOSTILE  # the most valuable line to place comes first
    assert len(top["h"]) == ReportLimits().drilldown_history_days
    assert len(top["m"]) == len(top["p90"]) == 28
    numbers = dict(zip(data["n"], top["n"], strict=True))
    assert top["why"] and numbers["recommended_order_qty"] > 0 and top["sev"]
    history = inputs["history"]
    last = history.loc[(history["sku"] == HOSTILE) & (history["date"] == inputs["as_of"]),
                       "units_sold"].iloc[0]
    assert top["h"][-1] == last
    # Each SKU in the tables opens its drill-down.
    assert page.count('class="drill"') >= len(inputs["stockout_alerts"])


def test_data_docs_link_is_relative(report):
    _, page = report
    assert 'href="../../data_docs/index.html"' in page


def test_quality_section_shows_every_expectation_and_failing_rows(report, inputs):
    _, page = report
    quality = page[page.index('id="quality"'):]
    table = quality[quality.index('<table id="quality-table"'):quality.index("</table>")]
    results = inputs["data_quality_results"]
    assert table.count("<tr") - 1 == len(results)
    assert "expect_column_values_to_be_between (on_hand)" in table
    assert "<code>[-4.0, -1.0]</code>" in table  # the failing values GX kept
    assert "Quarantined rows (sample)" in quality
    assert "sku=FOODS_1_0003, on_hand=-4" in quality


def test_failed_quality_checks_come_first(report):
    _, page = report
    quality = page[page.index('id="quality"'):]
    table = quality[quality.index('<table id="quality-table"'):quality.index("</table>")]
    results = re.findall(r'<tr><td data-x="(passed|FAILED)"[^>]*>.*?</td><td data-x="(\w+)"',
                         table)
    statuses = [s.lower() for s, _ in results]
    assert len(statuses) > 5 and statuses == sorted(statuses)  # "failed" < "passed"
    assert [sev for s, sev in results if s != "passed"][0] == "error"


def _empty_like(inputs: dict) -> dict:
    """Every table present with its columns but no rows; no headline."""
    out = dict(inputs)
    for key, value in inputs.items():
        if isinstance(value, pd.DataFrame):
            out[key] = value.iloc[:0]
    out["policy_headline"] = None
    out["run_summary"] = {"feed": "var/empty", "as_of": inputs["as_of"], "run_id": "r0",
                          "rows": {}, "durations": {}, "warnings": []}
    return out


@pytest.mark.parametrize("variant", ["empty frames", "none"])
def test_empty_inputs_say_so_in_words(inputs, tmp_path, variant):
    kwargs = _empty_like(inputs)
    if variant == "none":
        kwargs = {k: (None if isinstance(v, pd.DataFrame) else v) for k, v in kwargs.items()}
    path = build_report(tmp_path, **kwargs)
    page = path.read_text()
    assert "could not be built" not in page
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}"><h2>{html.escape(title)}</h2>' in page
    assert "No headline this run" in page
    assert "No reorder lines this run" in page
    assert "No stockout alerts this run" in page
    assert "No backtest ran this run" in page
    assert "No backtest predictions this run" in page
    assert "nothing to plot" in page
    assert "No policy replay to show: no policy replay has run yet" in page
    assert "No data quality results were recorded this run" in page
    assert page.count('class="fig-data"') == 0
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1


def test_no_inventory_means_no_alerts_and_unknown_stock(inputs, tmp_path):
    """Without an inventory feed the lines carry no quantity: the report says to count shelves."""
    kwargs = dict(inputs)
    kwargs["stockout_alerts"] = inputs["stockout_alerts"].iloc[:0]
    reorder = inputs["reorder_recommendations"].copy()
    for column in ("on_hand", "inventory_position", "days_of_cover", "stockout_probability"):
        reorder[column] = float("nan")
    reorder["recommended_order_qty"] = 0.0
    reorder["stock_known"] = False
    reorder["explanation"] = "Stock unknown: no inventory data, so no quantity is recommended."
    kwargs["reorder_recommendations"] = reorder
    page = build_report(tmp_path, **kwargs).read_text()
    orders = page[page.index('id="orders"'):page.index('id="leaderboard"')]
    assert "Stock unknown: count these shelves" in orders
    assert f"{len(reorder):,} SKU-locations have no inventory data" in orders
    assert "Nothing needs ordering now" not in orders
    assert "No stockout alerts this run" in orders


def test_partly_unknown_stock_shows_both_tables(inputs, tmp_path):
    kwargs = dict(inputs)
    reorder = inputs["reorder_recommendations"].copy()
    reorder.loc[reorder.index[:5], "on_hand"] = float("nan")
    kwargs["reorder_recommendations"] = reorder
    orders = build_report(tmp_path, **kwargs).read_text()
    assert "Stock unknown: count these shelves" in orders
    assert "5 SKU-locations have no inventory data" in orders
    assert re.search(r'<td class="num"[^>]*>unknown</td>', orders)  # on hand said in words


def test_leaderboard_pools_folds_weighted_by_series():
    metrics = pd.DataFrame({
        "category": ["A", "A", "A", "A"], "model": ["ets", "ets", "naive", "naive"],
        "fold": [1, 2, 1, 2], "n_series": [30, 10, 30, 10],
        "rmsse": [1.0, 2.0, 1.5, 1.5], "wape": [0.5, 0.5, 0.6, 0.6],
    })
    board = prep.leaderboard(metrics)
    assert board["model"].tolist() == ["ets", "naive"]
    assert board.loc[0, "rmsse"] == pytest.approx((30 * 1.0 + 10 * 2.0) / 40)
    selection = pd.DataFrame({"category": ["A"], "selected_model": ["naive"]})
    assert prep.mark_chosen(board, selection)["is_chosen"].tolist() == [False, True]


def test_accuracy_by_horizon_leaves_out_censored_days():
    cutoff = pd.Timestamp("2024-01-10")
    predictions = pd.DataFrame({
        "sku": ["a"] * 4, "location": ["s"] * 4, "category": ["C"] * 4, "model": ["m"] * 4,
        "fold": [1] * 4, "cutoff": [cutoff] * 4,
        "date": pd.to_datetime(["2024-01-11", "2024-01-11", "2024-01-12", "2024-01-12"]),
        "forecast": [10.0, 10.0, 4.0, 4.0], "p50": [9.0] * 4, "p90": [12.0, 12.0, 5.0, 5.0],
        "actual": [8.0, 0.0, 5.0, 6.0], "is_censored": [False, True, False, False],
    })
    by_h = prep.accuracy_by_horizon(predictions).set_index("days_ahead")
    assert by_h.loc[1, "wape"] == pytest.approx(2 / 8)  # the censored 0 is left out
    assert by_h.loc[2, "wape"] == pytest.approx(3 / 11)
    assert by_h.loc[2, "bias"] == pytest.approx(-3 / 11)
    assert by_h.loc[2, "coverage_p90"] == pytest.approx(0.5)


def test_importing_the_package_does_not_import_plotly():
    import subprocess
    import sys

    code = "import sys, restock.report; print('plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_odd_but_valid_inputs_still_build(inputs, tmp_path):
    """Dates as text, no demand classes, no quantiles in the backtest, no ALL replay rows."""
    kwargs = dict(inputs)
    metrics = inputs["backtest_metrics"].drop(columns=["demand_class", "sample_size"])
    kwargs["backtest_metrics"] = metrics.assign(cutoff=metrics["cutoff"].astype(str))
    selection = inputs["model_selection"]
    kwargs["model_selection"] = selection.drop_duplicates("category").assign(demand_class="all")
    preds = inputs["backtest_predictions"].drop(columns=["p50", "p90", "is_censored", "category"])
    kwargs["backtest_predictions"] = preds.assign(date=preds["date"].dt.strftime("%Y-%m-%d"))
    history = inputs["history"]
    kwargs["history"] = history.assign(date=history["date"].dt.strftime("%Y-%m-%d"))
    replay = inputs["policy_replay"]
    kwargs["policy_replay"] = replay.loc[replay["category"] != "ALL"]
    kwargs["products"] = None
    page = build_report(tmp_path, **kwargs).read_text()
    assert "could not be built" not in page
    assert page.count('class="fig-data"') >= 4 + 1 + 10
    # Without products the orders are ranked by units, and no value column is shown.
    orders = page[page.index('id="orders"'):page.index('id="alerts"')]
    assert "at unit_cost" not in orders and "at unit_price" not in orders


def test_one_report_per_run_and_latest_points_at_the_newest(inputs, tmp_path):
    paths = RunPaths.from_warehouse(tmp_path / "restock.duckdb")
    first = paths.run_report_dir("2016-05-22", "run-a")
    # one report folder per warehouse (issue 17: two warehouses in one folder shared it)
    assert first == tmp_path / "restock_reports" / "2016-05-22" / "run-a"
    assert paths.run_report_dir("2016-05-22", "../x y").parent == first.parent
    small = {**inputs, "history": None, "backtest_predictions": None}
    build_report(first, latest=paths.latest_report, **small)
    assert os.readlink(paths.latest_report) == "2016-05-22/run-a"
    assert (paths.latest_report / "index.html").exists()
    second = paths.run_report_dir("2016-05-22", "run-b")
    build_report(second, latest=paths.latest_report, **small)
    assert os.readlink(paths.latest_report) == "2016-05-22/run-b"
    assert first.joinpath("index.html").exists()  # a rerun does not overwrite the last report
    # A backfill of an older date leaves latest on the newest planning date.
    older = paths.run_report_dir("2016-05-15", "run-c")
    build_report(older, latest=paths.latest_report, **{**small, "as_of": "2016-05-15"})
    assert os.readlink(paths.latest_report) == "2016-05-22/run-b"
    redirect = (paths.reports_dir / "latest.html").read_text()
    assert 'url=2016-05-22/run-b/index.html' in redirect
    assert not list(paths.reports_dir.glob(".*tmp"))


def test_replay_section_shows_what_transfers_add_at_the_same_inventory(inputs):
    """Issue 19: the frontier with transfers is drawn and tabled beside Restock's, and the cut
    at each comparable point is stated, losses included."""
    from restock.report.chrome import Page
    from restock.report.sections.replay import frontier_section

    replay = inputs["policy_replay"]
    restock = replay[(replay["policy"] == "recommended") & (replay["category"] == "ALL")]
    with_t = restock.assign(policy="recommended_transfers",
                            stockout_rate=restock["stockout_rate"] * 0.8, units_transferred=50.0)
    comparison = pd.DataFrame({
        "compared_with": ["static", "recommended_transfers", "recommended_transfers",
                          "recommended_transfers"],
        "static_parameter": [7.0, 0.8, 0.9, 0.95], "inventory_measure": "avg_inventory_value",
        "static_avg_inventory": [900.0, 1000.0, 1500.0, 2000.0],
        "static_stockout_rate": [0.05, 0.03, 0.02, 0.0105],
        "restock_stockout_rate_at_same_inventory": [0.03, 0.04, 0.025, 0.01],
        "transfers_stockout_cut": [float("nan"), 0.25, 0.2, -0.05],
        "static_lost_units": [500.0, 300.0, 200.0, 100.0],
        "restock_lost_units_at_same_inventory": [300.0, 400.0, 250.0, 90.0],
        "transfers_lost_units_cut": [float("nan"), 0.25, 0.2, -0.111],
        "units_transferred": [0.0, 120.0, 90.0, 60.0], "within_frontier": True,
    })
    section = frontier_section(pd.concat([replay, with_t], ignore_index=True), None, Page(),
                               comparison)
    text = _text(section)
    assert "Restock with transfers" in text and "What transfers between locations add" in text
    assert ("transfers change the stockout rate by -25% to +5% at the 3 comparable points; "
            "they do not help at 1 of them.") in text
    assert "Restock with transfers (service level)" in section  # the figure's trace
    assert "What transfers" not in _text(frontier_section(replay, None, Page(), None))
