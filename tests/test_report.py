"""The run report (restock.report): built from synthetic published tables, read back as HTML."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from restock.contract import PUBLISHED_TABLES
from restock.report import ReportLimits, build_report
from restock.report import data as prep
from restock.report.formatting import fmt_pct
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


def test_orders_top_n_by_value_with_explanation(inputs, tmp_path):
    path = build_report(tmp_path, limits=ReportLimits(top_orders=5), **inputs)
    page = path.read_text()
    orders = page[page.index('id="orders"'):page.index('id="alerts"')]
    body = orders[orders.index("<tbody>"):orders.index("</tbody>")]
    assert body.count("<tr") == 5
    lines, totals = prep.top_orders(inputs["reorder_recommendations"], inputs["products"], 5)
    assert lines["order_value"].is_monotonic_decreasing
    assert html.escape(lines["explanation"].iloc[0]) in body
    # The hostile SKU was made the most valuable: it heads the list.
    assert lines["sku"].iloc[0] == HOSTILE
    assert f"Showing the first 5 of {totals['lines_to_place']:,} lines to place" in orders


def test_data_docs_link_is_relative(report):
    _, page = report
    assert 'href="../../data_docs/index.html"' in page


def test_failed_quality_checks_come_first(report):
    _, page = report
    quality = page[page.index('id="quality"'):]
    results = re.findall(r"<tr><td>(passed|<span[^>]*><b>FAILED</b></span>)</td><td>(\w+)", quality)
    statuses = ["passed" if s == "passed" else "failed" for s, _ in results]
    assert statuses == sorted(statuses)  # "failed" < "passed"
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
    assert "No policy replay this run" in page
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
    assert "unknown + " in orders  # an order line whose on-hand is unknown says so


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
    assert "value (" not in orders
