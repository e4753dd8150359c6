"""Reorder lines to place now, lines whose stock is unknown, and stockout alerts."""

from __future__ import annotations

import pandas as pd

import restock.report.data as prep
from restock.report.data import ReportLimits, is_empty, missing_columns
from restock.report.formatting import (
    capped_note,
    defs,
    empty,
    esc,
    finite,
    fmt_date,
    fmt_num,
    fmt_pct,
    lacks,
    table,
)


def orders_section(
    reorder: pd.DataFrame, alerts: pd.DataFrame, products: pd.DataFrame | None,
    limits: ReportLimits,
) -> str:
    parts = []
    needed = ["sku", "location", "recommended_order_qty"]
    if is_empty(reorder):
        parts.append(empty("No reorder lines this run (no products with forecasts to plan)."))
    elif missing_columns(reorder, needed):
        parts.append(lacks(reorder, needed, "reorder"))
    else:
        lines, totals = prep.top_orders(reorder, products, limits.top_orders)
        value = totals["value"]
        value_kpi = (
            f'<div class="kpi"><span>order value (at {esc(totals["value_basis"])})</span>'
            f"<b>{fmt_num(value)}</b></div>" if value is not None else ""
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
            parts.append(_orders_table(lines, totals["value_basis"]))
            parts.append(capped_note(len(lines), totals["lines_to_place"], "lines to place"))
        elif not totals["stock_unknown"]:
            parts.append(empty("Nothing needs ordering now: every inventory position is above "
                               "its reorder point."))
        if totals["stock_unknown"]:
            parts.append(_unknown_stock(reorder, products, totals, limits))
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
        parts.append(_alerts_table(alerts, limits))
    return "".join(parts)


def _unknown_stock(
    reorder: pd.DataFrame, products: pd.DataFrame | None, totals: dict, limits: ReportLimits
) -> str:
    """Lines without inventory data: no quantity, but the levels to compare with a shelf count."""
    lines = prep.unknown_stock_lines(reorder, products, limits.top_orders)
    rows = []
    for r in lines.to_dict("records"):
        sku = esc(r.get("sku"))
        if isinstance(r.get("product_name"), str) and r.get("product_name"):
            sku += f'<br><span class="note">{esc(r["product_name"])}</span>'
        rows.append([sku, esc(r.get("location")), fmt_num(r.get("reorder_point")),
                     fmt_num(r.get("order_up_to")), fmt_num(r.get("on_order")),
                     esc(r.get("explanation"))])
    return (
        f"<h3>Stock unknown: count these shelves</h3><p>{totals['stock_unknown']:,} "
        "SKU-locations have no inventory data, so no quantity is recommended for them. If shelf "
        "stock + open orders is at or below the reorder point, order up to the order-up-to "
        "level. Largest order-up-to value first.</p>"
        + table([("SKU", ""), ("location", ""), ("reorder point", "num"),
                 ("order up to", "num"), ("on order", "num"), ("why", "explain")], rows)
        + capped_note(len(lines), totals["stock_unknown"], "lines with unknown stock")
    )


def _alerts_table(alerts: pd.DataFrame, limits: ReportLimits) -> str:
    shown, counts = prep.sorted_alerts(alerts, limits.alerts)
    count_text = ", ".join(f"{n:,} {esc(sev)}" for sev, n in counts.items())
    has_arrival = "next_possible_arrival" in shown.columns
    has_reason = "reason" in shown.columns
    rows = []
    for r in shown.to_dict("records"):
        sev = str(r.get("severity"))
        row = [f'<span class="sev sev-{esc(sev.lower())}">{esc(sev)}</span>', esc(r.get("sku")),
               esc(r.get("location")), fmt_date(r.get("projected_stockout_date"))]
        if has_arrival:
            row.append(fmt_date(r.get("next_possible_arrival")))
        row += [fmt_pct(r.get("stockout_probability"), 0), fmt_num(r.get("recommended_order_qty"))]
        if has_reason:
            row.append(esc(r.get("reason")))
        rows.append(row)
    headers = [("severity", ""), ("SKU", ""), ("location", ""), ("projected stockout", "")]
    if has_arrival:
        headers.append(("earliest arrival if ordered today", ""))
    headers += [("stockout probability", "num"), ("order qty", "num")]
    if has_reason:
        headers.append(("reason", "explain"))
    return (
        f"<p>{len(alerts):,} alerts: {count_text}. Most severe first, then the soonest.</p>"
        + table(headers, rows)
        + capped_note(len(shown), len(alerts), "alerts")
        + defs([("Projected stockout", "first day the expected stock reaches zero without a new "
                                       "order.")])
    )


def _orders_table(lines: pd.DataFrame, value_basis: str | None) -> str:
    headers = [("SKU", ""), ("location", ""), ("order qty", "num")]
    if value_basis:
        headers.append((f"value ({esc(value_basis)})", "num"))
    headers += [("on hand + on order", "num"), ("days of cover", "num"),
                ("stockout prob.", "num"), ("why", "explain")]
    rows = []
    for r in lines.to_dict("records"):
        sku = esc(r.get("sku"))
        name = r.get("product_name")
        if isinstance(name, str) and name:
            sku += f'<br><span class="note">{esc(name)}</span>'
        on_hand = r.get("on_hand")
        # Unknown stock (no inventory feed) is said in words, not shown as a zero.
        stock = fmt_num(on_hand) if finite(on_hand) is not None else "unknown"
        row = [sku, esc(r.get("location")), f"<b>{fmt_num(r.get('recommended_order_qty'))}</b>"]
        if value_basis:
            row.append(fmt_num(r.get("order_value")))
        row += [
            f"{stock} + {fmt_num(r.get('on_order'))}", fmt_num(r.get("days_of_cover"), 1),
            fmt_pct(r.get("stockout_probability"), 0),
            f"{esc(r.get('explanation'))}<br><span class=\"note\">model {esc(r.get('model'))}"
            f" &middot; service target {fmt_pct(r.get('service_level_target'), 0)}</span>",
        ]
        rows.append(row)
    return table(headers, rows)
