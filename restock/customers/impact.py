"""Customers hit by stock-outs: the hit definition and the two customer tables (issue 18, item 2).

The hit definition (pinned by tests/test_customers.py on a hand-made feed)
--------------------------------------------------------------------------
A *purchase* is a sale line with a customer id and a positive quantity; a customer *buys an
item regularly* on day d when they bought that sku at that location on at least
``regular_purchases`` distinct days in the ``regular_window_days`` days before d (d excluded).
A stock-out day of (sku, location) is a day known from inventory, or inferred with
probability >= ``threshold`` (the ``stockout_days`` table of
:mod:`restock.customers.inferred_stockouts`).

A customer is **hit** on day d by sku s at location l when s was out of stock at l on d, s is
regular for the customer on d, the customer did not buy s at l on d, and either

- **visit**: the customer bought something else at l on d (they came and the shelf was empty),
  or
- **due**: their usual repurchase interval of s fell due on d: ``d == last + round(interval)``
  where ``last`` is their last purchase day of s before d and ``interval`` the mean gap between
  their purchase days of s in the regular window ((last - first) / (n - 1)).

One hit = one (customer, sku, location, day); a day that is both a visit and due counts once.

Tables (as of ``as_of``, window = the ``window_days`` (90) days ending at ``as_of``)
--------------------------------------------------------------------------------
- ``customer_stockout_impact``: one row per customer with a purchase in the window (and only
  them). ``location`` = where they spent most in the window (ties: most purchases, then name);
  ``purchases_90d`` = distinct orders (order_id; distinct purchase days when the feed has no
  order ids); ``spend_90d`` = net value of their lines in the window (quantity x unit_price,
  returns subtracted, floored at 0; units when the feed has no prices); ``hits_90d`` = hits
  in the window (at any location); ``repeat_hit`` = hit on two or more distinct days;
  ``last_hit_date``; ``items_hit`` = distinct skus hit; ``churn_risk`` (restock.customers.churn);
  ``at_risk`` = churn_risk >= ``at_risk_churn`` and (when ``at_risk_requires_hit``) hit at least
  once: the customers the stock-outs put at risk.
- ``sku_customer_impact``: per sku x location with a regular customer as of ``as_of`` or a hit
  in the window: ``regular_customers`` (regular as of the day after ``as_of``),
  ``customers_hit_90d`` (distinct customers hit on it), ``revenue_at_risk`` (sum of the
  ``spend_90d`` of those hit customers: what the shop stands to lose if they leave).

Feeds without ``customer_id`` (or without any value in it) give empty tables with these
columns, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.contract import CUSTOMER_TABLES

CUSTOMER_IMPACT_COLUMNS = CUSTOMER_TABLES["customer_stockout_impact"]
SKU_IMPACT_COLUMNS = CUSTOMER_TABLES["sku_customer_impact"]
HIT_COLUMNS = ("customer_id", "sku", "location", "date", "reason")
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class HitSettings:
    """Parameters of the hit definition and the tables (module docstring)."""

    regular_purchases: int = 3  # purchase days of the item ...
    regular_window_days: int = 180  # ... in this many days before the day
    window_days: int = 90  # the tables' window ending at as_of
    threshold: float = 0.7  # inferred stock-out probability from which a day is out of stock
    at_risk_churn: float = 0.5  # churn_risk from which a customer is at risk
    at_risk_requires_hit: bool = True  # only customers hit by a stock-out are "at risk"


def purchase_lines(sales: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Sale lines with a customer id: customer_id, sku, location, day (int), date, order,
    quantity, value (quantity x unit_price, or quantity without prices). Returns kept
    (negative quantity). Empty (with these columns) when the feed has no customer ids."""
    cols = ["customer_id", "sku", "location", "day", "date", "order", "quantity", "value"]
    if "customer_id" not in sales or sales["customer_id"].isna().all():
        return pd.DataFrame({c: [] for c in cols})
    s = sales[sales["customer_id"].notna()
              & (sales["customer_id"].astype(str).str.strip() != "")]
    date = pd.to_datetime(s["date"]).dt.normalize()
    if as_of is not None:
        keep = (date <= pd.Timestamp(as_of).normalize()).to_numpy()
        s, date = s[keep], date[keep]
    qty = pd.to_numeric(s["quantity"], errors="coerce").fillna(0.0)
    if "unit_price" in s and s["unit_price"].notna().any():
        value = qty * pd.to_numeric(s["unit_price"], errors="coerce").fillna(0.0)
    else:
        value = qty
    order = (s["order_id"].astype("string") if "order_id" in s
             else pd.Series(pd.NA, index=s.index, dtype="string"))
    day_str = date.dt.strftime("%Y-%m-%d").astype("string")
    order = order.fillna("day:" + day_str)
    return pd.DataFrame({
        "customer_id": s["customer_id"].astype(str).to_numpy(),
        "sku": s["sku"].astype(str).to_numpy(),
        "location": s["location"].astype(str).to_numpy(),
        "day": (date - _EPOCH).dt.days.to_numpy(),
        "date": date.to_numpy(),
        "order": order.to_numpy(),
        "quantity": qty.to_numpy(dtype=float),
        "value": value.to_numpy(dtype=float),
    })


def stockout_day_keys(stockouts: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """(sku, location, day) of the out-of-stock days: inventory ones and inferred >= threshold."""
    if stockouts is None or not len(stockouts):
        return pd.DataFrame({"sku": [], "location": [], "day": []})
    out = stockouts[(stockouts["stockout_source"] == "inventory")
                    | (stockouts["probability"] >= threshold)]
    day = (pd.to_datetime(out["date"]).dt.normalize() - _EPOCH).dt.days
    return pd.DataFrame({"sku": out["sku"].astype(str).to_numpy(),
                         "location": out["location"].astype(str).to_numpy(),
                         "day": day.to_numpy()}).drop_duplicates()


def customer_hits(
    sales: pd.DataFrame,
    stockouts: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    settings: HitSettings | None = None,
    lines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every hit up to ``as_of`` (module docstring): customer_id, sku, location, date, reason
    (``visit`` / ``due``; ``visit`` when both). Vectorised: sorted keys and searchsorted."""
    settings = settings or HitSettings()
    lines = purchase_lines(sales, as_of) if lines is None else lines
    empty = pd.DataFrame({c: [] for c in HIT_COLUMNS})
    out_days = stockout_day_keys(stockouts, settings.threshold)
    if not len(lines) or not len(out_days):
        return empty
    if as_of is not None:
        out_days = out_days[out_days["day"] <= (pd.Timestamp(as_of) - _EPOCH).days]
    bought = lines[lines["quantity"] > 0]
    purchases = bought[["customer_id", "sku", "location", "day"]].drop_duplicates()
    pair_codes, pairs = pd.factorize(
        pd.MultiIndex.from_frame(purchases[["customer_id", "sku", "location"]]))
    n_days = pd.Series(pair_codes).value_counts()
    big = np.int64(1 << 32)
    key = np.sort(pair_codes.astype(np.int64) * big + purchases["day"].to_numpy(np.int64))
    pair_frame = pd.DataFrame({"customer_id": pairs.get_level_values(0),
                               "sku": pairs.get_level_values(1),
                               "location": pairs.get_level_values(2)})
    pair_frame["pair"] = np.arange(len(pairs))
    pair_frame = pair_frame[pair_frame["pair"].isin(
        n_days.index[n_days >= settings.regular_purchases])]
    cand = pair_frame.merge(out_days, on=["sku", "location"])
    if cand.empty:
        return empty
    p = cand["pair"].to_numpy(np.int64)
    d = cand["day"].to_numpy(np.int64)
    at = np.searchsorted(key, p * big + d)  # first purchase on or after d
    lo = np.searchsorted(key, p * big + d - settings.regular_window_days)
    n_before = at - lo
    bought_today = (at < len(key)) & (key[np.minimum(at, len(key) - 1)] == p * big + d)
    regular = n_before >= settings.regular_purchases
    last = np.where(n_before > 0, key[np.maximum(at - 1, 0)] - p * big, -1)
    first = np.where(n_before > 0, key[np.minimum(lo, len(key) - 1)] - p * big, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        interval = (last - first) / np.maximum(n_before - 1, 1)
    due = regular & (n_before >= 2) & (last + np.round(interval) == d)
    visits = bought[["customer_id", "location", "day"]].drop_duplicates()
    visit_key = pd.MultiIndex.from_frame(visits)
    cand_visit = pd.MultiIndex.from_arrays(
        [cand["customer_id"].to_numpy(), cand["location"].to_numpy(), d]).isin(visit_key)
    hit = regular & ~bought_today & (cand_visit | due)
    hits = cand.loc[hit, ["customer_id", "sku", "location"]].copy()
    hits["date"] = _EPOCH + pd.to_timedelta(d[hit], unit="D")
    hits["reason"] = np.where(cand_visit[hit], "visit", "due")
    return hits.sort_values(["customer_id", "date", "sku"]).reset_index(drop=True)[
        list(HIT_COLUMNS)]


def _window(frame: pd.DataFrame, as_of: pd.Timestamp, days: int, col: str = "date"):
    d = pd.to_datetime(frame[col])
    return frame[(d > as_of - pd.Timedelta(days=days)) & (d <= as_of)]


def customer_table(
    sales: pd.DataFrame,
    hits: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    churn_risk: pd.Series | None = None,
    settings: HitSettings | None = None,
    lines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``customer_stockout_impact`` (module docstring). ``churn_risk``: per customer_id
    (restock.customers.churn.score_customers); NaN where missing."""
    settings = settings or HitSettings()
    lines = purchase_lines(sales, as_of) if lines is None else lines
    if not len(lines):
        return _empty(CUSTOMER_IMPACT_COLUMNS)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else lines["date"].max()
    recent = _window(lines, as_of, settings.window_days)
    buyers = recent.loc[recent["quantity"] > 0, "customer_id"].unique()
    recent = recent[recent["customer_id"].isin(buyers)]
    if not len(recent):
        return _empty(CUSTOMER_IMPACT_COLUMNS)
    pos = recent[recent["quantity"] > 0]
    by_loc = (pos.groupby(["customer_id", "location"])
              .agg(v=("value", "sum"), n=("order", "nunique")).reset_index()
              .sort_values(["customer_id", "v", "n", "location"],
                           ascending=[True, False, False, True]))
    main_loc = by_loc.drop_duplicates("customer_id").set_index("customer_id")["location"]
    table = pd.DataFrame({"customer_id": np.sort(buyers)})
    table["location"] = main_loc.reindex(table["customer_id"]).to_numpy()
    table["purchases_90d"] = (pos.groupby("customer_id")["order"].nunique()
                              .reindex(table["customer_id"]).fillna(0).astype(int).to_numpy())
    table["spend_90d"] = (recent.groupby("customer_id")["value"].sum().clip(lower=0.0)
                          .reindex(table["customer_id"]).fillna(0.0).to_numpy())
    h = _window(hits, as_of, settings.window_days) if len(hits) else hits
    if len(h):
        g = h.groupby("customer_id")
        stats = pd.DataFrame({
            "hits_90d": g.size(),
            "hit_days": g["date"].nunique(),
            "last_hit_date": g["date"].max(),
            "items_hit": g["sku"].nunique(),
        }).reindex(table["customer_id"])
    else:
        stats = pd.DataFrame(index=table["customer_id"], columns=[
            "hits_90d", "hit_days", "last_hit_date", "items_hit"])
    table["hits_90d"] = stats["hits_90d"].fillna(0).astype(int).to_numpy()
    table["repeat_hit"] = stats["hit_days"].fillna(0).to_numpy() >= 2
    table["last_hit_date"] = pd.to_datetime(stats["last_hit_date"]).to_numpy()
    table["items_hit"] = stats["items_hit"].fillna(0).astype(int).to_numpy()
    risk = (churn_risk.reindex(table["customer_id"]).to_numpy(dtype=float)
            if churn_risk is not None else np.full(len(table), np.nan))
    table["churn_risk"] = risk
    at_risk = np.nan_to_num(risk, nan=0.0) >= settings.at_risk_churn
    if settings.at_risk_requires_hit:
        at_risk &= table["hits_90d"].to_numpy() > 0
    table["at_risk"] = at_risk
    return table[list(CUSTOMER_IMPACT_COLUMNS)]


def sku_table(
    sales: pd.DataFrame,
    hits: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    settings: HitSettings | None = None,
    lines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``sku_customer_impact`` (module docstring); ``customers`` = :func:`customer_table`."""
    settings = settings or HitSettings()
    lines = purchase_lines(sales, as_of) if lines is None else lines
    if not len(lines):
        return _empty(SKU_IMPACT_COLUMNS)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else lines["date"].max()
    end = int((as_of - _EPOCH).days)  # regular as of the day after as_of: W days up to as_of
    recent = lines[(lines["quantity"] > 0) & (lines["day"] <= end)
                   & (lines["day"] > end - settings.regular_window_days)]
    days = recent[["customer_id", "sku", "location", "day"]].drop_duplicates()
    per_pair = days.groupby(["sku", "location", "customer_id"]).size()
    regular = (per_pair[per_pair >= settings.regular_purchases]
               .groupby(level=["sku", "location"]).size().rename("regular_customers"))
    h = _window(hits, as_of, settings.window_days) if len(hits) else hits
    if len(h):
        hit_pairs = h[["sku", "location", "customer_id"]].drop_duplicates()
        spend = customers.set_index("customer_id")["spend_90d"]
        hit_pairs = hit_pairs.assign(
            spend=spend.reindex(hit_pairs["customer_id"]).fillna(0.0).to_numpy())
        g = hit_pairs.groupby(["sku", "location"])
        hit_stats = pd.DataFrame({"customers_hit_90d": g.size(),
                                  "revenue_at_risk": g["spend"].sum()})
    else:
        hit_stats = pd.DataFrame(columns=["customers_hit_90d", "revenue_at_risk"],
                                 index=pd.MultiIndex.from_arrays([[], []],
                                                                 names=["sku", "location"]))
    table = pd.concat([regular, hit_stats], axis=1).reset_index()
    if not len(table):
        return _empty(SKU_IMPACT_COLUMNS)
    table.columns = ["sku", "location", *table.columns[2:]]
    table["regular_customers"] = table["regular_customers"].fillna(0).astype(int)
    table["customers_hit_90d"] = table["customers_hit_90d"].fillna(0).astype(int)
    table["revenue_at_risk"] = table["revenue_at_risk"].astype(float).fillna(0.0)
    return (table.sort_values(["customers_hit_90d", "revenue_at_risk", "sku", "location"],
                              ascending=[False, False, True, True])
            .reset_index(drop=True)[list(SKU_IMPACT_COLUMNS)])


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty table with the contract columns and sensible dtypes."""
    dtypes = {"purchases_90d": "int64", "spend_90d": "float64", "hits_90d": "int64",
              "repeat_hit": "bool", "last_hit_date": "datetime64[ns]", "items_hit": "int64",
              "churn_risk": "float64", "at_risk": "bool", "regular_customers": "int64",
              "customers_hit_90d": "int64", "revenue_at_risk": "float64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})
