"""The run report: one self-contained HTML page that supply-chain leads read each morning.

What to order, why, and how sure: the page embeds plotly.js and DataTables once (it must open
offline), renders every figure from JSON kept in the page, and keeps every reorder line, alert
and check in tables a buyer can sort, filter and download, plus a drill-down for every planned
SKU: ~11 MB for an M5 store (3,049 SKUs; plotly.js 4.8 MB, DataTables 1 MB, drill-down 2.5 MB).

The page is ``chrome`` around the ``sections`` listed in ``SECTIONS``, in that order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from restock.report.chrome import Page, render_page, render_section
from restock.report.data import ReportLimits
from restock.report.publish import point_latest
from restock.report.sections.actions import purchase_orders_section, transfers_section
from restock.report.sections.customers import customers_section
from restock.report.sections.drilldown import DRILL_JS, drilldown_section
from restock.report.sections.forecasts import (
    accuracy_section,
    leaderboard_section,
    series_section,
)
from restock.report.sections.history import tracked_section
from restock.report.sections.orders import orders_section
from restock.report.sections.quality import quality_section
from restock.report.sections.replay import frontier_section
from restock.report.sections.summary import headline_section, lead_line, summary_section

logger = logging.getLogger("restock.report.html")

SECTIONS = (
    ("summary", "Run summary"),
    ("headline", "Headline: stockouts at the same inventory"),
    ("orders", "Reorder lines to place now"),
    ("purchase_orders", "Purchase orders"),
    ("transfers", "Transfers"),
    ("drilldown", "SKU drill-down"),
    ("customers", "Customers hit by stockouts"),
    ("leaderboard", "Model leaderboard per category"),
    ("accuracy", "Forecast accuracy by horizon and fold"),
    ("tracked", "Tracked accuracy across runs and alert precision"),
    ("series", "Forecast vs actual for key SKUs"),
    ("frontier", "Policy replay: stockouts against inventory"),
    ("quality", "Data quality"),
)


def _frame(value: pd.DataFrame | None) -> pd.DataFrame:
    return value if value is not None else pd.DataFrame()


def build_report(
    out_dir: Path,
    *,
    as_of: str,
    run_summary: dict,
    backtest_metrics: pd.DataFrame | None,
    model_selection: pd.DataFrame | None,
    demand_forecasts: pd.DataFrame | None,
    history: pd.DataFrame | None,
    backtest_predictions: pd.DataFrame | None,
    reorder_recommendations: pd.DataFrame | None,
    stockout_alerts: pd.DataFrame | None,
    policy_replay: pd.DataFrame | None,
    policy_headline: dict | None,
    data_quality_results: pd.DataFrame | None,
    data_docs_index: Path | None = None,
    products: pd.DataFrame | None = None,
    limits: ReportLimits | None = None,
    currency: str = "",
    quarantine: pd.DataFrame | None = None,
    latest: Path | None = None,
    accuracy_history: pd.DataFrame | None = None,
    alert_history: pd.DataFrame | None = None,
    customer_stockout_impact: pd.DataFrame | None = None,
    sku_customer_impact: pd.DataFrame | None = None,
    customer_hits: pd.DataFrame | None = None,
    customer_summary: dict | None = None,
    purchase_order_proposals: pd.DataFrame | None = None,
    purchase_order_lines: pd.DataFrame | None = None,
    transfer_recommendations: pd.DataFrame | None = None,
    policy_replay_comparison: pd.DataFrame | None = None,
) -> Path:
    """Write the run report to ``out_dir/index.html`` and return its path.

    Inputs are the published tables (restock.contract.PUBLISHED_TABLES columns) plus ``history``
    (sku, location, date, units_sold, is_censored) and the backtest predictions. Any of them may
    be empty or None: the section then says so. The page is self-contained (plotly.js and
    DataTables embedded once) so it opens offline.

    ``currency`` labels money (config ``report.currency``; "" = none). ``quarantine`` (the
    published quarantine table: source, reason, row, loaded_at) adds failing-row samples to
    the data-quality section. ``latest``: a path (e.g. ``RunPaths.latest_report``) to point
    at this report once it is written (restock.report.publish.point_latest).
    ``accuracy_history`` and ``alert_history`` (the published history tables
    ``forecast_accuracy_history`` and ``alert_history``) give accuracy by week across runs and
    alert precision.
    ``customer_stockout_impact``, ``sku_customer_impact``, ``customer_hits`` (customer_id,
    sku, location, date) and ``customer_summary`` (note, churn figures) feed the section
    "Customers hit by stockouts"; absent or empty, it shows the note.
    ``purchase_order_proposals``, ``purchase_order_lines``, ``transfer_recommendations``: the
    action tables (issue 19) for the "Purchase orders" (one card per supplier, each table
    downloadable as CSV) and "Transfers" sections.
    ``policy_replay_comparison``: adds to the replay section what transfers between locations
    add at the same inventory (its rows compared_with = recommended_transfers).
    """
    limits = limits or ReportLimits()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of_ts = pd.Timestamp(as_of)
    page = Page()
    metrics, selection = _frame(backtest_metrics), _frame(model_selection)
    forecasts, predictions = _frame(demand_forecasts), _frame(backtest_predictions)
    replay = _frame(policy_replay)
    builders: dict[str, Callable[[], str]] = {
        "summary": lambda: summary_section(run_summary or {}, as_of),
        "headline": lambda: headline_section(policy_headline, replay),
        "orders": lambda: orders_section(_frame(reorder_recommendations),
                                         _frame(stockout_alerts), products, limits, currency,
                                         as_of),
        "purchase_orders": lambda: purchase_orders_section(
            _frame(purchase_order_proposals), _frame(purchase_order_lines), currency),
        "transfers": lambda: transfers_section(_frame(transfer_recommendations), currency),
        "drilldown": lambda: drilldown_section(
            _frame(reorder_recommendations), _frame(stockout_alerts), _frame(history),
            forecasts, products, as_of_ts, limits, currency),
        "customers": lambda: customers_section(
            customer_stockout_impact, sku_customer_impact, customer_hits, customer_summary,
            as_of, currency),
        "leaderboard": lambda: leaderboard_section(metrics, selection, limits),
        "accuracy": lambda: accuracy_section(predictions, metrics, selection, page, limits),
        "tracked": lambda: tracked_section(accuracy_history, alert_history, page),
        "series": lambda: series_section(_frame(history), predictions, forecasts, selection,
                                         products, as_of_ts, page, limits),
        "frontier": lambda: frontier_section(replay, policy_headline, page,
                                             _frame(policy_replay_comparison)),
        "quality": lambda: quality_section(_frame(data_quality_results), out_dir,
                                           data_docs_index, quarantine),
    }
    body = "".join(render_section(anchor, title, builders[anchor]) for anchor, title in SECTIONS)
    try:
        lead = lead_line(policy_headline, _frame(reorder_recommendations), _frame(stockout_alerts))
    except Exception:  # the sections below still say everything
        logger.exception("report lead line failed")
        lead = ""
    drill = DRILL_JS if 'id="drill-data"' in body else ""
    document = render_page(as_of, run_summary or {}, lead, SECTIONS, body, drill)
    path = out_dir / "index.html"
    tmp = out_dir / "index.html.tmp"
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees a half-written report
    logger.info("report written: %s (%d figures, %.1f MB)", path, len(page.figure_ids),
                path.stat().st_size / 1e6)
    if latest is not None:
        point_latest(Path(latest), out_dir, as_of)
    return path
