"""The report's tracked-accuracy section: accuracy by week across runs and alert precision,
from the published history tables."""

from __future__ import annotations

import pandas as pd
import pytest

from restock.report.chrome import Page
from restock.report.sections.history import alert_precision, tracked_section, weekly_accuracy


def _accuracy() -> pd.DataFrame:
    rows = []
    for snapshot in ("2024-06-02", "2024-06-09"):
        for category, n, days, wape, rmsse, naive in (("A", 10, 70, 0.4, 0.8, 1.0),
                                                      ("B", 30, 210, 0.2, 0.6, 1.2)):
            rows.append({"snapshot_as_of": snapshot, "category": category, "model": "ets",
                         "horizon_week": 1, "n_series": n, "scored_days": days,
                         "complete": True, "rmsse": rmsse, "wape": wape, "bias": 0.1,
                         "spl_p90": 0.5, "coverage_p90": 0.9, "naive_rmsse": naive,
                         "value_added_vs_naive": 1 - rmsse / naive,
                         "run_id": "r3", "as_of": "2024-06-16"})
    return pd.DataFrame(rows)


def test_weekly_accuracy_pools_categories_by_series_and_days():
    weekly = weekly_accuracy(_accuracy())
    assert len(weekly) == 2 and (weekly["n_series"] == 40).all()
    first = weekly.iloc[0]
    assert first["wape"] == pytest.approx((0.4 * 70 + 0.2 * 210) / 280)
    assert first["rmsse"] == pytest.approx((0.8 * 10 + 0.6 * 30) / 40)
    assert first["value_added_vs_naive"] == pytest.approx(
        1 - (0.8 * 10 + 0.6 * 30) / (1.0 * 10 + 1.2 * 30))


def test_alert_precision_counts_only_known_outcomes():
    alerts = pd.DataFrame({
        "as_of": ["2024-06-02"] * 4 + ["2024-06-09"],
        "severity": ["critical", "critical", "medium", "medium", "high"],
        "outcome": ["stocked_out", "no_stockout", "unknown", "stocked_out", "pending"],
    })
    table = alert_precision(alerts)
    overall = table[(table["severity"] == "all")].set_index("as_of")
    first = overall.loc[pd.Timestamp("2024-06-02")]
    assert (first["alerts"], first["settled"], first["stocked_out"]) == (4, 3, 2)
    assert first["precision"] == pytest.approx(2 / 3)
    later = overall.loc[pd.Timestamp("2024-06-09")]
    assert later["pending"] == 1 and pd.isna(later["precision"])


def test_section_shows_both_tables_or_says_why_not():
    html = tracked_section(_accuracy(), pd.DataFrame({
        "as_of": ["2024-06-02"], "severity": ["high"], "outcome": ["stocked_out"]}), Page())
    assert 'id="tracked-accuracy"' in html and 'id="alert-precision"' in html
    assert "2024-06-09" in html  # the second run's forecast is listed too
    assert "Of 1 alerts whose outcome is known, 1 (100%)" in html
    nothing = tracked_section(None, pd.DataFrame(), Page())
    assert "No earlier run's forecast" in nothing and "No alerts in the history" in nothing
