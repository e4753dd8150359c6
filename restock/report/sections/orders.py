"""Reorder lines to place now, lines whose stock is unknown, and stockout alerts."""

from __future__ import annotations

import pandas as pd

import restock.report.data as prep
from restock.report.data import ReportLimits, is_empty, missing_columns
from restock.report.formatting import (
    defs,
    empty,
    esc,
    finite,
    fmt_date,
    fmt_level,
    fmt_money,
    fmt_num,
    fmt_pct,
    lacks,
    money_label,
)
from restock.report.sections.drilldown import drill_link
from restock.report.tables import Cell, Column, data_table
from restock.report.tables import plain as _plain


def orders_section(
    reorder: pd.DataFrame, alerts: pd.DataFrame, products: pd.DataFrame | None,
    limits: ReportLimits, currency: str = "", as_of: str | None = None,
) -> str:
    parts = []
    needed = ["sku", "location", "recommended_order_qty"]
    if is_empty(reorder):
        parts.append(empty("No reorder lines this run (no products with forecasts to plan)."))
    elif missing_columns(reorder, needed):
        parts.append(lacks(reorder, needed, "reorder"))
    else:
        lines, totals = prep.top_orders(reorder, products)
        value = totals["value"]
        value_kpi = (
            f'<div class="kpi"><span>order value (at {esc(totals["value_basis"])})</span>'
            f"<b>{fmt_money(value, currency)}</b></div>" if value is not None else ""
        )
        unknown_kpi = (
            f'<div class="kpi"><span>stock unknown (no inventory data)</span>'
            f'<b>{totals["stock_unknown"]:,}</b></div>' if totals["stock_unknown"] else ""
        )
        parts.append(
            '<div class="kpis">'
            f'<div class="kpi"><span>lines to place now</span>'
            f'<b>{totals["lines_to_place"]:,}</b></div>'
            f'<div class="kpi"><span>SKU-locations planned</span>'
            f'<b>{totals["lines_total"]:,}</b></div>'
            f'<div class="kpi"><span>units to order</span><b>{fmt_num(totals["units"])}</b></div>'
            f"{value_kpi}{unknown_kpi}</div>"
        )
        if not lines.empty:
            parts.append(_orders_table(lines, totals["value_basis"], currency))
        elif not totals["stock_unknown"]:
            parts.append(empty("Nothing needs ordering now: every inventory position is above "
                               "its reorder point."))
        if totals["stock_unknown"]:
            parts.append(_unknown_stock(reorder, products, totals))
        parts.append(defs([
            ("Order qty", "units to order now to bring the inventory position up to the "
                          "order-up-to level (rounded up to pack size and MOQ)."),
            ("Inventory position", "on hand + on order - backorders."),
            ("Days of cover", "days the stock on hand lasts at the forecast demand."),
            ("Stockout probability", "chance that demand over the lead time exceeds the "
                                     "inventory position: running out before anything ordered "
                                     "today can arrive."),
            ("Service target", "the chance of getting through a replenishment cycle without a "
                               "stockout that the reorder point is sized for."),
        ]))
    parts.append('<h3 id="alerts">Stockout alerts</h3>')
    if is_empty(alerts):
        parts.append(empty("No stockout alerts this run (either every position is covered, or "
                           "no inventory data was supplied, so stock levels are unknown)."))
    elif missing_columns(alerts, ["sku", "location", "severity"]):
        parts.append(lacks(alerts, ["sku", "location", "severity"], "alerts"))
    else:
        parts.append(_alerts_table(alerts, as_of))
    return "".join(parts)


def _num(value: object, digits: int = 0) -> Cell:
    number = finite(value)
    return Cell(fmt_num(value, digits), number if number is not None else "")


def _sku_cells(r: dict, has_names: bool) -> list[Cell | str]:
    sku, location = r.get("sku"), r.get("location")
    cells = [drill_link(sku, location, esc(sku))]  # downloads take the link's text
    if has_names:
        name = r.get("product_name")
        cells.append(Cell(esc(name) if isinstance(name, str) else "", None))
    cells.append(Cell(esc(location), None, search=str(location)))
    return cells


def _why(text: object, model: object = None) -> str:
    """The explanation folded behind a toggle; the download holds its plain text."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    note = f'<br><span class="note">model {esc(model)}</span>' if model is not None else ""
    return (f'<details><summary>why</summary><span class="why-text">{esc(text)}</span>{note}'
            "</details>")


def _unknown_stock(reorder: pd.DataFrame, products: pd.DataFrame | None, totals: dict) -> str:
    """Lines without inventory data: no quantity, but the levels to compare with a shelf count."""
    lines = prep.unknown_stock_lines(reorder, products)
    has_names = lines["product_name"].notna().any() if "product_name" in lines else False
    columns = [Column("SKU", filter="text")]
    if has_names:
        columns.append(Column("product", filter="text"))
    columns += [Column("location", filter="select"), Column("reorder point", "num"),
                Column("order up to", "num"), Column("on order", "num"),
                Column("why", "explain")]
    rows = []
    for r in lines.to_dict("records"):
        rows.append([*_sku_cells(r, has_names), _num(r.get("reorder_point")),
                     _num(r.get("order_up_to")), _num(r.get("on_order")),
                     _why(r.get("explanation"))])
    return (
        f"<h3>Stock unknown: count these shelves</h3><p>{totals['stock_unknown']:,} "
        "SKU-locations have no inventory data, so no quantity is recommended for them. If shelf "
        "stock + open orders is at or below the reorder point, order up to the order-up-to "
        "level. Largest order-up-to value first.</p>"
        + data_table("unknown-stock-table", columns, rows, filename="restock_count_shelves")
    )


SEVERITY_LEGEND = (
    ("critical", "act today: a stockout is projected within a few days (3 by default) or is "
                 "very likely (stockout probability 80% or more by default)."),
    ("high", "the projected stockout comes before anything ordered today can arrive, or the "
             "stockout probability is 50% or more (default)."),
    ("medium", "the stockout probability is above the alert threshold; ordering today still "
               "arrives in time."),
)


def severity_legend() -> str:
    items = "".join(
        f'<li><span class="sev sev-{sev}">{sev}</span> {text}</li>' for sev, text in SEVERITY_LEGEND
    )
    return (
        '<div class="legend"><b>Severity legend</b><ul>' + items + "</ul>"
        '<p class="note">Severity is set by the replenishment run from the projected stockout '
        "date and the stockout probability (thresholds in the run's replenish settings). A "
        "stockout projected within days is critical even at a low probability: the probability "
        "and the days to stockout are both in the table, so you can judge each one.</p></div>"
    )


def _alerts_table(alerts: pd.DataFrame, as_of: str | None = None) -> str:
    shown, counts = prep.sorted_alerts(alerts)
    count_text = ", ".join(f"{n:,} {esc(sev)}" for sev, n in counts.items())
    has_arrival = "next_possible_arrival" in shown.columns
    has_reason = "reason" in shown.columns
    plan = pd.Timestamp(as_of) if as_of else None
    rank = {s: i for i, s in enumerate(prep.SEVERITY_ORDER)}
    columns = [Column("severity", filter="select"), Column("SKU", filter="text"),
               Column("location", filter="select"), Column("projected stockout"),
               Column("days to stockout", "num")]
    if has_arrival:
        columns.append(Column("earliest arrival if ordered today"))
    columns += [Column("stockout probability", "num"), Column("order qty", "num")]
    if has_reason:
        columns.append(Column("reason", "explain", filter="select"))
    rows = []
    for r in shown.to_dict("records"):
        sev = str(r.get("severity"))
        when = pd.to_datetime(r.get("projected_stockout_date"), errors="coerce")
        if pd.notna(r.get("plan_date")):
            plan = pd.Timestamp(r["plan_date"])
        row = [
            Cell(f'<span class="sev sev-{esc(sev.lower())}">{esc(sev)}</span>', _plain(sev),
                 search=sev, order=rank.get(sev.lower(), len(rank))),
            drill_link(r.get("sku"), r.get("location"), esc(r.get("sku"))),
            Cell(esc(r.get("location")), None, search=str(r.get("location"))),
            Cell(fmt_date(when), fmt_date(when) if pd.notna(when) else ""),
        ]
        days_left = (when - plan).days if plan is not None and pd.notna(when) else None
        row.append(_num(days_left))
        if has_arrival:
            arrival = fmt_date(r.get("next_possible_arrival"))
            row.append(Cell(arrival, arrival if arrival != "–" else ""))
        prob = finite(r.get("stockout_probability"))
        row += [Cell(fmt_pct(prob, 0), prob if prob is not None else ""),
                _num(r.get("recommended_order_qty"))]
        if has_reason:
            row.append(Cell(esc(r.get("reason")), _plain(r.get("reason")),
                            search=str(r.get("reason"))))
        rows.append(row)
    return (
        f"<p>{len(alerts):,} alerts: {count_text}. Most severe first, then the soonest.</p>"
        + severity_legend()
        + data_table("alerts-table", columns, rows, filename="restock_stockout_alerts",
                     order=[(0, "asc"), (3, "asc")])
        + defs([("Projected stockout", "first day the expected stock reaches zero without a new "
                                       "order."),
                ("Days to stockout", "from the planning date to the projected stockout.")])
    )


def _orders_table(lines: pd.DataFrame, value_basis: str | None, currency: str) -> str:
    has_names = lines["product_name"].notna().any() if "product_name" in lines else False
    has_category = "category" in lines.columns
    columns = [Column("SKU", filter="text")]
    if has_names:
        columns.append(Column("product", filter="text"))
    columns.append(Column("location", filter="select"))
    if has_category:
        columns.append(Column("category", filter="select"))
    columns.append(Column("order qty", "num"))
    if value_basis:
        columns.append(Column(f"value{money_label(currency)} at {value_basis}", "num"))
    columns += [Column("on hand", "num"), Column("on order", "num"),
                Column("days of cover", "num"), Column("stockout prob.", "num"),
                Column("service target", "num"), Column("why", "explain")]
    rows = []
    for r in lines.to_dict("records"):
        row = _sku_cells(r, has_names)
        if has_category:
            row.append(Cell(esc(r.get("category")), None, search=str(r.get("category"))))
        qty = finite(r.get("recommended_order_qty"))
        row.append(Cell(f"<b>{fmt_num(qty)}</b>", qty if qty is not None else ""))
        if value_basis:
            value = finite(r.get("order_value"))
            row.append(Cell(fmt_money(value, currency),
                            round(value, 2) if value is not None else ""))
        on_hand = finite(r.get("on_hand"))
        # Unknown stock (no inventory feed) is said in words, not shown as a zero.
        row.append(Cell(fmt_num(on_hand) if on_hand is not None else "unknown",
                        on_hand if on_hand is not None else ""))
        prob = finite(r.get("stockout_probability"))
        target = finite(r.get("service_level_target"))
        row += [_num(r.get("on_order")), _num(r.get("days_of_cover"), 1),
                Cell(fmt_pct(prob, 0), prob if prob is not None else ""),
                Cell(fmt_level(target), target if target is not None else ""),
                _why(r.get("explanation"), r.get("model"))]
        rows.append(row)
    sort_col = columns.index(next(c for c in columns if c.label.startswith("value"))) \
        if value_basis else columns.index(next(c for c in columns if c.label == "order qty"))
    return data_table("orders-table", columns, rows, filename="restock_reorder_lines",
                      order=[(sort_col, "desc")])
