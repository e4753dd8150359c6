"""Which customers depend on each item: what reorder lines and stock-out alerts carry (issue 18,
item 3).

Per sku x location, as of ``as_of``:

- ``regular_customers``: customers who buy the item there regularly (the hit definition's
  "regular": at least ``regular_purchases`` purchase days in the ``regular_window_days`` days
  up to ``as_of``), the customers its next stock-out would turn away;
- ``customers_at_risk``: those of them flagged ``at_risk`` in ``customer_stockout_impact``
  (already hit, and likely to leave);
- ``revenue_at_risk``: the ``spend_90d`` of those customers at risk: what the shop stands to
  lose if the item runs out again and they go.

A feed without customer ids gives an empty frame with these columns.
"""

from __future__ import annotations

import pandas as pd

from restock.customers.impact import HitSettings

EXPOSURE_COLUMNS = ("sku", "location", "regular_customers", "customers_at_risk",
                    "revenue_at_risk")


def regular_pairs(lines: pd.DataFrame, as_of: pd.Timestamp, settings: HitSettings) -> pd.DataFrame:
    """customer_id, sku, location of the items each customer buys regularly as of ``as_of``.

    ``lines``: :func:`restock.customers.impact.purchase_lines`."""
    if not len(lines):
        return pd.DataFrame({"customer_id": [], "sku": [], "location": []})
    end = int((pd.Timestamp(as_of).normalize() - pd.Timestamp("1970-01-01")).days)
    recent = lines[(lines["quantity"] > 0) & (lines["day"] <= end)
                   & (lines["day"] > end - settings.regular_window_days)]
    days = recent[["customer_id", "sku", "location", "day"]].drop_duplicates()
    n = days.groupby(["customer_id", "sku", "location"]).size()
    return n[n >= settings.regular_purchases].reset_index()[["customer_id", "sku", "location"]]


def item_exposure(
    lines: pd.DataFrame, customers: pd.DataFrame, as_of: pd.Timestamp, settings: HitSettings,
) -> pd.DataFrame:
    """The module's per-item table. ``customers``: ``customer_stockout_impact``."""
    pairs = regular_pairs(lines, as_of, settings)
    if not len(pairs):
        return pd.DataFrame({
            "sku": pd.Series(dtype=object), "location": pd.Series(dtype=object),
            "regular_customers": pd.Series(dtype="int64"),
            "customers_at_risk": pd.Series(dtype="int64"),
            "revenue_at_risk": pd.Series(dtype="float64")})
    info = (customers.set_index("customer_id")[["at_risk", "spend_90d"]]
            if len(customers) else pd.DataFrame(columns=["at_risk", "spend_90d"]))
    # nullable boolean first: fillna on an object column is a pandas FutureWarning (downcasting)
    at_risk = (info["at_risk"].reindex(pairs["customer_id"]).astype("boolean").fillna(False)
               .astype(bool))
    spend = info["spend_90d"].reindex(pairs["customer_id"]).astype(float).fillna(0.0)
    pairs = pairs.assign(at_risk=at_risk.to_numpy(),
                         risk_spend=(spend * at_risk).to_numpy(dtype=float))
    g = pairs.groupby(["sku", "location"])
    out = pd.DataFrame({"regular_customers": g.size(),
                        "customers_at_risk": g["at_risk"].sum().astype("int64"),
                        "revenue_at_risk": g["risk_spend"].sum()}).reset_index()
    return out[list(EXPOSURE_COLUMNS)]
