"""Stockout alerts from reorder lines (sent to people by restock.alerting).

An alert is raised for a line with known stock when
* its projected stockout date (cumulative mean forecast > on hand + known arrivals) falls on or
  before the next possible arrival (plan date + lead time): an order placed tonight is too late
  to prevent it; or
* its stockout_probability (P(demand over the lead time > inventory position)) exceeds
  settings.alert_probability_threshold.

Severity
* critical: projected stockout within settings.alert_critical_days days, or stockout
  probability >= settings.alert_critical_probability (0.8);
* high: projected stockout before the next possible arrival, or probability >=
  settings.alert_high_probability (0.5);
* medium: any other alert (probability above the alert threshold).

Customers at risk (issue 18): an alert on an item that at least ``min_customers_at_risk``
customers at risk buy regularly (the line's ``customers_at_risk``, restock.customers.exposure)
rises one level (medium -> high -> critical): running out again is what makes them leave.
Alerts carry the line's ``customers_at_risk`` and ``revenue_at_risk`` (0 when absent).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from restock.contract import PUBLISHED_TABLES
from restock.inventory.settings import ReplenishSettings

log = logging.getLogger("restock.inventory")

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2}
ALERT_EXTRA_COLUMNS = ["category", "days_to_stockout", "next_possible_arrival", "reason",
                       "explanation"]


def build_stockout_alerts(lines: pd.DataFrame, settings: ReplenishSettings,
                          min_customers_at_risk: int = 1) -> pd.DataFrame:
    """Alerts for reorder lines that risk a stockout before the next possible arrival.

    Parameters
    ----------
    lines : DataFrame
        Output of build_reorder_lines (needs projected_stockout_date, stockout_probability,
        next_possible_arrival, plan_date, stock_known).
    settings : ReplenishSettings
    min_customers_at_risk : int
        Customers at risk on the line from which the severity rises one level.

    Returns
    -------
    DataFrame
        sku, location, projected_stockout_date, stockout_probability, recommended_order_qty,
        severity, then category, days_to_stockout, next_possible_arrival, reason, explanation;
        most severe and soonest first.
    """
    columns = [*PUBLISHED_TABLES["stockout_alerts"], *ALERT_EXTRA_COLUMNS]
    if lines is None or len(lines) == 0:
        return pd.DataFrame(columns=columns)
    known = lines["stock_known"].fillna(False).astype(bool).to_numpy()
    stockout = pd.to_datetime(lines["projected_stockout_date"])
    arrival = pd.to_datetime(lines["next_possible_arrival"])
    plan = pd.to_datetime(lines["plan_date"])
    days = (stockout - plan).dt.days.to_numpy(dtype=float)  # NaN when no stockout projected
    prob = pd.to_numeric(lines["stockout_probability"], errors="coerce").fillna(0.0).to_numpy()
    before_arrival = (stockout <= arrival).fillna(False).to_numpy(dtype=bool)
    likely = prob > settings.alert_probability_threshold
    alert = known & (before_arrival | likely)

    soon = days <= settings.alert_critical_days  # NaN (no projected stockout) compares False
    critical = soon | (prob >= settings.alert_critical_probability)
    high = before_arrival | (prob >= settings.alert_high_probability)
    at_risk = (pd.to_numeric(lines["customers_at_risk"], errors="coerce").fillna(0).to_numpy()
               if "customers_at_risk" in lines else np.zeros(len(lines)))
    revenue = (pd.to_numeric(lines["revenue_at_risk"], errors="coerce").fillna(0.0).to_numpy()
               if "revenue_at_risk" in lines else np.zeros(len(lines)))
    customers_rise = at_risk >= max(1, min_customers_at_risk)
    rank = np.where(critical, 0, np.where(high, 1, 2)) - customers_rise
    severity = np.array(["critical", "high", "medium"])[np.clip(rank, 0, 2)]
    reason = np.where(
        before_arrival,
        "projected stockout before the next possible arrival",
        "stockout probability above threshold",
    )
    reason = np.where(customers_rise, np.char.add(reason.astype(str),
                                                  "; customers at risk depend on it"), reason)
    out = lines.loc[alert, ["sku", "location", "projected_stockout_date", "stockout_probability",
                            "recommended_order_qty"]].copy()
    out["severity"] = severity[alert]
    out["customers_at_risk"] = at_risk[alert].astype("int64")
    out["revenue_at_risk"] = revenue[alert].astype(float)
    out["category"] = lines.loc[alert, "category"] if "category" in lines else None
    out["days_to_stockout"] = days[alert]
    out["next_possible_arrival"] = arrival[alert]
    out["reason"] = reason[alert]
    out["explanation"] = [
        _alert_sentence(r, s, d)
        for r, s, d in zip(lines.loc[alert].itertuples(index=False), severity[alert], days[alert],
                           strict=True)
    ]
    out["_rank"] = out["severity"].map(SEVERITY_ORDER)
    out = out.sort_values(["_rank", "projected_stockout_date", "stockout_probability"],
                          ascending=[True, True, False], na_position="last")
    log.info("stockout alerts: %d of %d lines (%s)", len(out), len(lines),
             out["severity"].value_counts().to_dict())
    return out[columns].reset_index(drop=True)


def _alert_sentence(r: object, severity: str, days: float) -> str:
    unit = "day" if days == 1 else "days"
    when = (f"runs out in {days:.0f} {unit} ({pd.Timestamp(r.projected_stockout_date).date()})"
            if np.isfinite(days) else "no stockout projected on the mean forecast")
    arrival = pd.Timestamp(r.next_possible_arrival).date()
    order = (f"order {r.recommended_order_qty:.0f} now" if r.recommended_order_qty > 0
             else "an order is already on the way or stock is above the reorder point")
    customers = int(getattr(r, "customers_at_risk", 0) or 0)
    who = (f"; {customers} customer{'s' if customers != 1 else ''} at risk buy it regularly "
           f"({float(getattr(r, 'revenue_at_risk', 0.0) or 0.0):,.0f} of spend over 90 days)"
           if customers > 0 else "")
    return (f"{severity.upper()}: {r.sku} at {r.location} {when}; an order placed today arrives "
            f"{arrival} at the earliest; {r.stockout_probability:.0%} chance of running out "
            f"before then; {order}{who}.")
