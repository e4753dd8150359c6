"""Stockout alerts from reorder lines, and posting them to a webhook.

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

import base64
import json
import logging
import math
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

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


class AlertPostError(RuntimeError):
    """Posting alerts to the webhook failed (the message names the host only)."""


def _host(url: str) -> str:
    # Never echo credentials, paths or query strings: webhook URLs often carry a secret token.
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _json_value(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp | np.datetime64):
        return None if pd.isna(v) else pd.Timestamp(v).date().isoformat()
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NaT:
        return None
    return v


def alerts_payload(alerts: pd.DataFrame) -> dict:
    """JSON-ready payload: {"count": n, "alerts": [{column: value}, ...]} (NaN/NaT -> null)."""
    records = [{k: _json_value(v) for k, v in row.items()}
               for row in alerts.to_dict(orient="records")]
    return {"count": len(records), "alerts": records}


def post_alerts(url: str, alerts: pd.DataFrame, timeout: float = 10, retries: int = 3,
                backoff: float = 0.5) -> int:
    """POST all alerts as one JSON document to ``url``; return the HTTP status.

    Connection errors, timeouts, HTTP 429 and 5xx are retried ``retries`` times with
    exponential backoff (``backoff`` x 2^attempt seconds); other HTTP errors fail at once.

    Raises
    ------
    AlertPostError
        On final failure; the message names the URL's host (never its credentials or path).
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise AlertPostError(f"alert webhook must be http(s), got scheme {scheme!r}")
    body = json.dumps(alerts_payload(alerts)).encode("utf-8")
    host = _host(url)
    headers = {"Content-Type": "application/json", "User-Agent": "restock"}
    parts = urlsplit(url)
    if parts.username is not None:
        # urllib does not take user:password@host; send it as HTTP basic auth instead.
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode("ascii")
    last: str = ""
    for attempt in range(retries + 1):
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=body, method="POST", headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status = int(response.status)
            log.info("posted %d alerts to %s: HTTP %d", len(alerts), host, status)
            return status
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
            if e.code != 429 and e.code < 500:
                raise AlertPostError(f"alert webhook at {host} rejected the post: {last}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            last = type(reason).__name__ if not isinstance(reason, str) else reason
        if attempt < retries:
            wait = backoff * 2 ** attempt
            log.warning("alert post to %s failed (%s); retry %d/%d in %.1fs",
                        host, last, attempt + 1, retries, wait)
            time.sleep(wait)
    raise AlertPostError(f"alert webhook at {host} failed after {retries + 1} attempts: {last}")
