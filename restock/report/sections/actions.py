"""Purchase orders (one card per supplier, each downloadable as CSV) and transfers."""

from __future__ import annotations

import re

import pandas as pd

from restock.report.data import is_empty, missing_columns
from restock.report.formatting import (
    defs,
    empty,
    esc,
    finite,
    fmt_date,
    fmt_money,
    fmt_num,
    fmt_pct,
    lacks,
    money_label,
)
from restock.report.sections.drilldown import drill_link
from restock.report.tables import Cell, Column, data_table
from restock.report.tables import plain as _plain

RULE_TEXT = {
    "minimum_met": "minimum met",
    "no_minimum": "no minimum",
    "no_supplier_terms": "no supplier terms in the feed",
    "deferred": "deferred to the next order day (minimum missed, nothing runs out before)",
    "topped_up": "topped up to the minimum",
    "topped_up_short": "minimum not reachable within order-up-to / max stock: sent anyway",
    "expedite": "expedite (express delivery)",
}


def _slug(text: object) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower()[:40] or "supplier"


def _num(value: object, digits: int = 0) -> Cell:
    number = finite(value)
    return Cell(fmt_num(value, digits), number if number is not None else "")


def purchase_orders_section(
    proposals: pd.DataFrame, lines: pd.DataFrame, currency: str = "",
) -> str:
    """One card per supplier: its proposals (order day, delivery, rule) and their lines."""
    needed = ["supplier", "proposal_id", "order_date", "rule_applied"]
    if is_empty(proposals):
        return empty("No purchase order proposals this run: no reorder line has a quantity to "
                     "order.")
    if missing_columns(proposals, needed):
        return lacks(proposals, needed, "purchase order proposals")
    lines = lines if lines is not None else pd.DataFrame()
    total_value = finite(proposals["value"].sum()) if "value" in proposals else None
    short = int((~proposals["min_order_met"].astype(bool)).sum()) \
        if "min_order_met" in proposals else 0
    parts = [
        '<div class="kpis">'
        f'<div class="kpi"><span>suppliers</span><b>{proposals["supplier"].nunique():,}</b></div>'
        f'<div class="kpi"><span>proposals</span><b>{len(proposals):,}</b></div>'
        f'<div class="kpi"><span>order lines</span><b>{len(lines):,}</b></div>'
        f'<div class="kpi"><span>value{money_label(currency)}</span>'
        f"<b>{fmt_money(total_value, currency)}</b></div>"
        f'<div class="kpi"><span>below the supplier minimum (said why)</span><b>{short:,}</b>'
        "</div></div>"
    ]
    for supplier, group in proposals.groupby("supplier", sort=True):
        parts.append(_supplier_card(str(supplier), group, lines, currency))
    parts.append(defs([
        ("Order date", "the supplier's next order day on or after the planning date "
                       "(a deferred order: the one after)."),
        ("Rule", "how the supplier's minimum order was handled: met, deferred to the next order "
                 "day when nothing runs out before then, or topped up with the items nearest "
                 "to their reorder point (never above order-up-to or max stock)."),
        ("Expedite", "lines that would run out before the regular delivery, sent by the "
                     "supplier's express service at its surcharge."),
    ]))
    return "".join(parts)


def _supplier_card(supplier: str, props: pd.DataFrame, lines: pd.DataFrame,
                   currency: str) -> str:
    heads = []
    for p in props.sort_values("proposal_id").to_dict("records"):
        met = bool(p.get("min_order_met", True))
        rule = str(p.get("rule_applied"))
        note = p.get("note") if isinstance(p.get("note"), str) and p.get("note") else ""
        extra = finite(p.get("express_cost"))
        heads.append(
            f"<li><b>{esc(p['proposal_id'])}</b>: order {fmt_date(p.get('order_date'))}, "
            f"expected {fmt_date(p.get('expected_date'))}, {fmt_num(p.get('lines'))} lines, "
            f"{fmt_num(p.get('units'))} units, {fmt_money(p.get('value'), currency, 2)}; "
            f"{esc(RULE_TEXT.get(rule, rule))}"
            + ("" if met else " <b>(below the minimum)</b>")
            + (f"; express surcharge {fmt_money(extra, currency, 2)}" if extra else "")
            + (f'<br><span class="note">{esc(note)}</span>' if note else "") + "</li>")
    mine = lines[lines["proposal_id"].isin(props["proposal_id"])] \
        if len(lines) and "proposal_id" in lines else pd.DataFrame()
    columns = [Column("proposal"), Column("SKU", filter="text"),
               Column("location", filter="select"), Column("qty", "num"),
               Column("of which top-up", "num"),
               Column(f"value{money_label(currency)}", "num"), Column("reason", "explain")]
    rows = []
    for r in mine.to_dict("records"):
        reason = r.get("reason")
        rows.append([
            Cell(esc(r.get("proposal_id")), _plain(r.get("proposal_id"))),
            drill_link(r.get("sku"), r.get("location"), esc(r.get("sku"))),
            Cell(esc(r.get("location")), None, search=str(r.get("location"))),
            _num(r.get("qty")), _num(r.get("topup_qty")), _num(r.get("value"), 2),
            Cell(f'<details><summary>why</summary><span class="why-text">{esc(reason)}</span>'
                 "</details>", _plain(reason)),
        ])
    table = data_table(f"po-{_slug(supplier)}", columns, rows,
                       filename=f"purchase_order_{_slug(supplier)}", page_length=10) \
        if rows else empty("No lines.")
    return (f'<div class="po-card"><h3>{esc(supplier)}</h3><ul>{"".join(heads)}</ul>'
            f"{table}</div>")


def transfers_section(transfers: pd.DataFrame, currency: str = "") -> str:
    """Every transfer between locations, with the stockout chance it cuts."""
    needed = ["sku", "from_location", "to_location", "qty"]
    if is_empty(transfers):
        return empty("No transfers this run: no lane between locations (transfer_lanes, or "
                     "actions.transfers.default_lanes for same-region lanes), or no location "
                     "has stock to spare where another would run out first.")
    if missing_columns(transfers, needed):
        return lacks(transfers, needed, "transfer recommendations")
    # every transfer into a destination shares its before / after figures: count it once
    cut = pd.DataFrame({
        "sku": transfers["sku"], "to": transfers["to_location"],
        "cut": pd.to_numeric(transfers.get("stockout_probability_before"), errors="coerce")
        - pd.to_numeric(transfers.get("stockout_probability_after"), errors="coerce"),
    }).groupby(["sku", "to"])["cut"].first().sum()
    parts = [
        '<div class="kpis">'
        f'<div class="kpi"><span>transfers</span><b>{len(transfers):,}</b></div>'
        f'<div class="kpi"><span>units moved</span><b>{fmt_num(transfers["qty"].sum())}</b>'
        "</div>"
        f'<div class="kpi"><span>expected stockouts avoided</span>'
        f"<b>{fmt_num(cut, 1)}</b></div>"
        "</div>"
    ]
    columns = [Column("SKU", filter="text"), Column("from", filter="select"),
               Column("to", filter="select"), Column("qty", "num"), Column("arrives"),
               Column("stockout prob. before", "num"), Column("after", "num"),
               Column(f"cost{money_label(currency)}", "num"), Column("why", "explain")]
    rows = []
    for r in transfers.to_dict("records"):
        b, a = finite(r.get("stockout_probability_before")), \
            finite(r.get("stockout_probability_after"))
        reason = r.get("reason")
        rows.append([
            drill_link(r.get("sku"), r.get("to_location"), esc(r.get("sku"))),
            Cell(esc(r.get("from_location")), None, search=str(r.get("from_location"))),
            Cell(esc(r.get("to_location")), None, search=str(r.get("to_location"))),
            _num(r.get("qty")),
            Cell(fmt_date(r.get("arrives")), fmt_date(r.get("arrives"))),
            Cell(fmt_pct(b, 0), b if b is not None else ""),
            Cell(fmt_pct(a, 0), a if a is not None else ""),
            _num(r.get("cost"), 2),
            Cell(f'<details><summary>why</summary><span class="why-text">{esc(reason)}</span>'
                 "</details>", _plain(reason)),
        ])
    parts.append(data_table("transfers-table", columns, rows, filename="restock_transfers",
                            order=[(5, "desc")]))
    parts.append(defs([
        ("Transfers", "planned before the purchase orders: stock a location holds above its "
                      "reorder point goes where it would run out before its next possible "
                      "delivery (its supplier's next order day + lead time), while that cuts "
                      "more risk there than it adds at the source. On a day that is not the "
                      "source's supplier's order day, its reorder point is the one over the "
                      "days until its next purchase can land (source_reorder_point)."),
        ("Stockout prob.", "chance the destination runs out before its next possible delivery, "
                           "without and with every transfer into it."),
    ]))
    return "".join(parts)
