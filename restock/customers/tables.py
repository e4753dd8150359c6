"""The three customer tables of one run, from the feed's sales (and inventory when present).

``build_customer_tables`` is what the nightly will call (see the wiring plan in the branch's
report): stock-out days (known + inferred) -> hits -> churn model -> customer and sku tables.
Each returned table has the contract columns (restock.contract.CUSTOMER_TABLES) without
``run_id`` / ``as_of``, which publishing adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from restock.customers.churn import ChurnEvaluation, ChurnSettings, evaluate, score_customers
from restock.customers.impact import (
    HitSettings,
    customer_hits,
    customer_table,
    purchase_lines,
    sku_table,
)
from restock.customers.inferred_stockouts import InferenceSettings, infer_stockouts


@dataclass
class CustomerTables:
    """Outputs of :func:`build_customer_tables`."""

    stockout_days: pd.DataFrame  # last `window_days` days
    customer_stockout_impact: pd.DataFrame
    sku_customer_impact: pd.DataFrame
    hits: pd.DataFrame  # every hit up to as_of (not published; for the report and replay)
    churn: ChurnEvaluation
    note: str = ""  # why the customer tables are empty, when they are
    # every stock-out day up to as_of (known, and inferred >= the table's floor): what
    # censored-demand handling reads (restock.customers.inferred_censoring.censoring_flags)
    all_stockouts: pd.DataFrame | None = None


def build_customer_tables(
    sales: pd.DataFrame,
    inventory: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
    inference: InferenceSettings | None = None,
    hit_settings: HitSettings | None = None,
    churn_settings: ChurnSettings | None = None,
    value: str = "quantity",
    start: pd.Timestamp | str | None = None,
) -> CustomerTables:
    """Stock-out days, hits, churn risk and the two customer tables as of ``as_of``.

    ``start``: the first day the stock-out inference looks at (default: the first sale).

    ``value`` is the sales measure of the inference (``lines`` = order lines per day, better
    for wholesalers whose quantities are lumpy). The hit threshold is ``hit_settings.threshold``.
    """
    hit_settings = hit_settings or HitSettings()
    inference = inference or InferenceSettings(threshold=hit_settings.threshold)
    as_of = (pd.Timestamp(as_of).normalize() if as_of is not None
             else pd.to_datetime(sales["date"]).max().normalize())
    stockouts = infer_stockouts(sales, inventory, as_of, days=None, settings=inference,
                                value=value, start=start)
    recent = stockouts[stockouts["date"] > as_of - pd.Timedelta(days=hit_settings.window_days)]
    lines = purchase_lines(sales, as_of)
    if not len(lines):
        hits = customer_hits(sales, stockouts, as_of, hit_settings, lines)
        return CustomerTables(recent.reset_index(drop=True),
                              customer_table(sales, hits, as_of, None, hit_settings, lines),
                              sku_table(sales, hits, pd.DataFrame(), as_of, hit_settings, lines),
                              hits, ChurnEvaluation(None),
                              note="the feed's sales carry no customer_id: no customer tables",
                              all_stockouts=stockouts)
    hits = customer_hits(sales, stockouts, as_of, hit_settings, lines)
    churn = evaluate(lines, hits, as_of, churn_settings)
    risk = score_customers(lines, hits, as_of, churn_settings)
    customers = customer_table(sales, hits, as_of, risk, hit_settings, lines)
    skus = sku_table(sales, hits, customers, as_of, hit_settings, lines)
    return CustomerTables(recent.reset_index(drop=True), customers, skus, hits, churn,
                          all_stockouts=stockouts)
