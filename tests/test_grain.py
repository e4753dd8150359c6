"""Time grain: feed.yml, detection, and forecasts at week / month grain spread to days."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from feedkit import base_feed, write_feed

from restock.feed.reader import FeedError, load_feed
from restock.grain import detect_grain


def _weekly_sales(weeks: int = 12) -> list[dict]:
    rows, line = [], 0
    for w in range(weeks):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=w)  # Mondays
        for sku, loc, qty in (("A", "S1", 30), ("B", "S1", 12), ("A", "S2", 7)):
            line += 1
            rows.append({"order_id": f"W{w}", "line_id": str(line), "date": day.date().isoformat(),
                         "sku": sku, "location": loc, "quantity": str(qty + w % 3),
                         "unit_price": "2.0", "promo": "false", "customer_id": ""})
    return rows


def test_feed_yml_grain_is_read_and_recorded(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, tables)
    (tmp_path / "feed.yml").write_text("# totals per week\ngrain: week\n")
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert (result.grain, result.grain_source) == ("week", "feed.yml")
    assert con.execute("select grain, grain_source from raw._feed").fetchall() == [
        ("week", "feed.yml")]


def test_a_bad_grain_in_feed_yml_is_a_feed_error(tmp_path):
    write_feed(tmp_path, base_feed())
    (tmp_path / "feed.yml").write_text("grain: fortnight\n")
    with pytest.raises(FeedError, match="fortnight"):
        load_feed(tmp_path, duckdb.connect())


def test_weekly_dates_are_detected_without_feed_yml(tmp_path):
    tables = base_feed()
    tables = {"products": tables["products"], "locations": tables["locations"],
              "sales": _weekly_sales()}
    write_feed(tmp_path, tables)
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert (result.grain, result.grain_source) == ("week", "detected")
    daily = duckdb.connect()
    write_feed(tmp_path / "daily", base_feed())
    assert load_feed(tmp_path / "daily", daily).grain == "day"


def test_detect_grain_needs_evidence_and_agreement():
    mondays = pd.date_range("2024-01-01", periods=30, freq="7D")
    assert detect_grain(["a"] * 30, mondays) == "week"
    assert detect_grain(["a"] * 5, mondays[:5]) == "day"  # too little evidence
    firsts = pd.date_range("2022-01-01", periods=30, freq="MS")
    assert detect_grain(["a"] * 30, firsts) == "month"
    days = pd.date_range("2024-01-01", periods=30)
    assert detect_grain(["a"] * 30, days) == "day"
    # each series on its own weekday is still weekly
    tuesdays = mondays + pd.Timedelta(days=1)
    assert detect_grain(["a"] * 30 + ["b"] * 30, np.concatenate([mondays, tuesdays])) == "week"
