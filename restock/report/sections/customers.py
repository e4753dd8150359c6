"""Customers hit by stock-outs: who was turned away, by which items, and the trend (issue 18).

For sales and supply-chain leads: the customers at risk of leaving after stock-outs (largest
spend first), the items whose stock-outs hit the most customers, and hits per week. Fed from
the published ``customer_stockout_impact`` and ``sku_customer_impact`` and the run's hits
(results.customer_hits); a feed without customer ids shows the note instead.
"""

from __future__ import annotations

import pandas as pd

from restock.report.formatting import (
    defs,
    empty,
    esc,
    fmt_date,
    fmt_money,
    fmt_num,
    fmt_pct,
    money_label,
    table,
)
from restock.report.tables import Cell, Column, data_table

TOP_CUSTOMERS = 200
TOP_ITEMS = 200
TREND_WEEKS = 13


def customers_section(
    customers: pd.DataFrame | None,
    items: pd.DataFrame | None,
    hits: pd.DataFrame | None,
    summary: dict | None,
    as_of: str,
    currency: str = "",
) -> str:
    """The section's HTML (see the module docstring)."""
    summary = summary or {}
    customers = customers if customers is not None else pd.DataFrame()
    items = items if items is not None else pd.DataFrame()
    hits = hits if hits is not None else pd.DataFrame()
    note = str(summary.get("note") or "")
    if not len(customers):
        text = note or "No customer bought anything in the last 90 days."
        return empty(f"No customer tables this run: {esc(text)}. Add a <code>customer_id</code> "
                     "to the sales feed to see which customers stock-outs turn away.")
    parts = [_kpis(customers, summary, currency), _top_customers(customers, currency),
             _top_items(items, currency), _trend(hits, as_of)]
    parts.append(defs([
        ("Hit", "an item the customer buys regularly was out of stock (known from inventory, "
                "or inferred from sales above the configured probability) on a day they bought "
                "something else there or their usual repurchase fell due."),
        ("At risk", "hit at least once in 90 days and a churn risk at or above the threshold "
                    "(a logistic model on recency, frequency, spend and hits, fitted on the "
                    "feed's earlier windows)."),
        ("Revenue at risk", "the spend over the last 90 days of the customers concerned."),
    ]))
    return "".join(parts)


def _kpis(customers: pd.DataFrame, summary: dict, currency: str) -> str:
    hit = customers["hits_90d"] > 0
    at_risk = customers["at_risk"].astype(bool)
    auc = summary.get("churn_auc")
    kpis = [
        ("customers (90 days)", f"{len(customers):,}"),
        ("hit by a stock-out", f"{int(hit.sum()):,}"),
        ("hit more than once", f"{int(customers['repeat_hit'].astype(bool).sum()):,}"),
        ("at risk", f"{int(at_risk.sum()):,}"),
        ("their spend (90 days)", fmt_money(customers.loc[at_risk, "spend_90d"].sum(), currency)),
        ("churn model AUC (out of time)", fmt_num(auc, 2)),
    ]
    rates = ""
    if summary.get("churn_rate_hit") is not None and summary.get("churn_n_hit"):
        rates = (f'<p class="note">Customers hit in an earlier window churned at '
                 f"{fmt_pct(summary.get('churn_rate_hit'))} against "
                 f"{fmt_pct(summary.get('churn_rate_not_hit'))} for those not hit "
                 f"({fmt_num(summary.get('churn_n_hit'))} and "
                 f"{fmt_num(summary.get('churn_n_not_hit'))} customers, cut-off "
                 f"{fmt_date(summary.get('churn_eval_cutoff'))}).</p>")
    return ('<div class="kpis">'
            + "".join(f'<div class="kpi"><span>{k}</span><b>{v}</b></div>' for k, v in kpis)
            + "</div>" + rates)


def _top_customers(customers: pd.DataFrame, currency: str) -> str:
    shown = (customers[customers["hits_90d"] > 0]
             .sort_values(["at_risk", "spend_90d", "churn_risk"], ascending=False)
             .head(TOP_CUSTOMERS))
    head = '<h3 id="customers-at-risk">Top customers at risk</h3>'
    if not len(shown):
        return head + empty("No customer was hit by a stock-out in the last 90 days.")
    rows = [[
        Cell(esc(r.customer_id), str(r.customer_id)),
        Cell(esc(r.location), str(r.location), search=str(r.location)),
        Cell("yes" if r.at_risk else "no", "yes" if r.at_risk else "no",
             search="yes" if r.at_risk else "no"),
        Cell(fmt_pct(r.churn_risk, 0), r.churn_risk),
        Cell(fmt_money(r.spend_90d, currency), r.spend_90d),
        Cell(fmt_num(r.purchases_90d), r.purchases_90d),
        Cell(fmt_num(r.hits_90d), r.hits_90d),
        Cell(fmt_num(r.items_hit), r.items_hit),
        Cell(fmt_date(r.last_hit_date), fmt_date(r.last_hit_date)),
    ] for r in shown.itertuples(index=False)]
    columns = [Column("customer", filter="text"), Column("location", filter="select"),
               Column("at risk", filter="select"), Column("churn risk", "num"),
               Column(f"spend 90d{money_label(currency)}", "num"),
               Column("purchases 90d", "num"), Column("hits 90d", "num"),
               Column("items hit", "num"), Column("last hit")]
    return (head + f"<p>Customers hit in the last 90 days, at risk first, largest spend first "
            f"(up to {TOP_CUSTOMERS}).</p>"
            + data_table("customers-table", columns, rows, filename="restock_customers_at_risk",
                         order=[(4, "desc")]))


def _top_items(items: pd.DataFrame, currency: str) -> str:
    head = '<h3 id="customers-items">Items whose stock-outs hit most customers</h3>'
    shown = (items[items["customers_hit_90d"] > 0]
             .sort_values(["customers_hit_90d", "revenue_at_risk"], ascending=False)
             .head(TOP_ITEMS)) if len(items) else items
    if not len(shown):
        return head + empty("No item's stock-out hit a customer in the last 90 days.")
    rows = [[
        Cell(esc(r.sku), str(r.sku)),
        Cell(esc(r.location), str(r.location), search=str(r.location)),
        Cell(fmt_num(r.customers_hit_90d), r.customers_hit_90d),
        Cell(fmt_num(r.regular_customers), r.regular_customers),
        Cell(fmt_money(r.revenue_at_risk, currency), r.revenue_at_risk),
    ] for r in shown.itertuples(index=False)]
    columns = [Column("sku", filter="text"), Column("location", filter="select"),
               Column("customers hit 90d", "num"), Column("regular customers", "num"),
               Column(f"revenue at risk{money_label(currency)}", "num")]
    return (head + data_table("customer-items-table", columns, rows,
                              filename="restock_items_hitting_customers", order=[(2, "desc")]))


def _trend(hits: pd.DataFrame, as_of: str) -> str:
    head = '<h3 id="customers-trend">Hits by week</h3>'
    if not len(hits):
        return head + empty("No hits recorded in the last weeks.")
    end = pd.Timestamp(as_of).normalize()
    h = hits.assign(date=pd.to_datetime(hits["date"]))
    h = h[h["date"] > end - pd.Timedelta(weeks=TREND_WEEKS)]
    # weeks ending at as_of (week 0 = the 7 days up to as_of)
    h = h.assign(week=((end - h["date"]).dt.days // 7))
    rows = []
    for week in range(TREND_WEEKS - 1, -1, -1):
        w = h[h["week"] == week]
        start = end - pd.Timedelta(days=7 * week + 6)
        rows.append([fmt_date(start), f"{len(w):,}", f"{w['customer_id'].nunique():,}",
                     f"{w['sku'].nunique():,}"])
    return head + table([("week from", ""), ("hits", "num"), ("customers hit", "num"),
                         ("items", "num")], rows, compact=True)
