"""Stockout alerts: which lines alert and how severe (sending them: test_alerting.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.inventory import ReplenishSettings, build_stockout_alerts

PLAN = pd.Timestamp("2024-01-01")


def _lines() -> pd.DataFrame:
    def day(n):
        return PLAN + pd.Timedelta(days=n) if n is not None else pd.NaT

    cases = [  # sku, days to stockout, probability, stock known
        ("soon", 2, 0.40, True),  # within 3 days -> critical
        ("before_arrival", 6, 0.30, True),  # before the day-7 arrival -> high
        ("likely", None, 0.30, True),  # only the probability -> medium
        ("very_likely", None, 0.90, True),  # probability >= 0.8 -> critical
        ("fine", None, 0.10, True),  # no alert
        ("after_arrival", 10, 0.10, True),  # runs out after the order could arrive: no alert
        ("unknown", 1, np.nan, False),  # stock unknown: no alert
    ]
    return pd.DataFrame({
        "sku": [c[0] for c in cases], "location": "S1", "category": "food",
        "projected_stockout_date": [day(c[1]) for c in cases],
        "stockout_probability": [c[2] for c in cases],
        "recommended_order_qty": 12.0, "stock_known": [c[3] for c in cases],
        "lead_time_days": 7.0, "next_possible_arrival": PLAN + pd.Timedelta(days=7),
        "plan_date": PLAN,
    })


def test_alert_selection_and_severity():
    alerts = build_stockout_alerts(_lines(), ReplenishSettings())
    got = dict(zip(alerts["sku"], alerts["severity"], strict=True))
    assert got == {"soon": "critical", "very_likely": "critical", "before_arrival": "high",
                   "likely": "medium"}
    assert alerts["sku"].tolist()[:2] == ["soon", "very_likely"]  # critical, soonest first
    assert list(alerts.columns[:6]) == ["sku", "location", "projected_stockout_date",
                                        "stockout_probability", "recommended_order_qty",
                                        "severity"]
    soon = alerts.set_index("sku").loc["soon"]
    assert soon.days_to_stockout == 2
    assert "runs out in 2 days (2024-01-03)" in soon.explanation


def test_no_lines_no_alerts():
    assert build_stockout_alerts(_lines().iloc[:0], ReplenishSettings()).empty
