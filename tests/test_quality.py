"""Quality functions: quarantine and accounting, GX suites and Data Docs, mart checks."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
from feedkit import SHARED_DATA, base_feed, write_feed

from restock.config import QualitySettings
from restock.contract import INPUT_TABLES
from restock.feed.reader import load_feed
from restock.quality.accounting import accounting_results, ingest_results, quarantine_rows
from restock.quality.mart_checks import (
    MAX_28_DAY_DEMAND_SQL,
    check_forecasts_valid,
    check_order_quantities,
    check_reorder_coverage,
    max_28_day_demand,
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A base feed with three bad sales rows, ingested (no dbt)."""
    root = tmp_path_factory.mktemp("quality")
    tables = base_feed()
    first = tables["sales"][0]
    tables["sales"] += [
        {**first, "line_id": "b1", "quantity": "lots"},
        {**first, "line_id": "b2", "sku": "ZZZ"},
        dict(first),  # same (order_id, line_id)
    ]
    feed = write_feed(root / "feed", tables)
    con = duckdb.connect(str(root / "work.duckdb"))
    result = load_feed(feed, con)
    yield con, result, root
    con.close()


def test_quarantine_rows_hold_reason_and_traceable_json(loaded):
    con, _, _ = loaded
    at = datetime(2024, 3, 11, 2, 0)
    frame = quarantine_rows(con, at)
    assert list(frame.columns) == ["source", "reason", "row", "loaded_at"]
    assert sorted(frame["reason"]) == [
        "duplicate of sales.csv:1", "non-numeric quantity", "unknown sku"]
    row = json.loads(frame.loc[frame["reason"] == "unknown sku", "row"].iloc[0])
    assert row["sku"] == "ZZZ" and row["_source_file"] == "sales.csv"
    assert row["_row_number"] == 31 and "_reject_reason" not in row
    assert (frame["loaded_at"] == pd.Timestamp(at)).all()


def test_accounting_passes_and_catches_a_lost_row(loaded):
    con, result, _ = loaded
    checks = accounting_results(con, result)
    assert len(checks) == len(INPUT_TABLES) and checks["passed"].all()
    assert set(checks["severity"]) == {"error"}
    sales = result.tables["sales"]
    lying = replace(result, tables={**result.tables,
                                    "sales": replace(sales, rows_read=sales.rows_read + 1)})
    checks = accounting_results(con, lying).set_index("source")
    assert not checks.loc["sales", "passed"] and checks.loc["sales", "failed_rows"] >= 1


def test_ingest_results_report_reasons_and_warnings(loaded):
    _, result, _ = loaded
    frame = ingest_results(result)
    assert set(frame["severity"]) == {"warning"}
    quarantined = frame[frame["check"] == "rows_quarantined"]
    assert quarantined["failed_rows"].sum() == 3
    assert set(quarantined["source"]) == {"sales"}


def test_gx_suites_pass_on_accepted_rows_and_build_data_docs(loaded):
    from restock.quality.gx_suites import run_raw_suites

    con, result, root = loaded
    docs = root / "data_docs"
    results, volumes = run_raw_suites(con, result.as_of, None, docs, QualitySettings())
    assert list(results.columns) == ["source", "check", "severity", "passed", "failed_rows",
                                     "detail"]
    errors = results[results["severity"] == "error"]
    assert errors["passed"].all(), errors[~errors["passed"]].to_string()
    assert {"schema", "types", "ranges", "key_unique", "referential_integrity", "freshness",
            "volume_change", "unit_change", "outlier_spikes"} <= set(results["check"])
    assert (docs / "index.html").exists()
    assert volumes["tables"]["sales"] == result.rows_accepted["sales"]
    json.dumps(volumes)  # kept in the state folder between runs


def test_stale_feed_and_volume_drop_warn(loaded):
    from restock.quality.gx_suites import run_raw_suites

    con, result, _ = loaded
    previous = {"tables": {"sales": result.rows_accepted["sales"] * 3},
                "mean_quantity_per_line": 2.0}
    results, _ = run_raw_suites(con, date(2024, 3, 20), previous, None, QualitySettings())
    by_check = results.set_index("check")
    # issue 17: a stale feed blocks publication; --allow-stale (quality.allow_stale) warns
    assert by_check.loc["freshness", "severity"] == "error"
    assert "--allow-stale" in by_check.loc["freshness", "detail"]
    assert not by_check.loc["freshness", "passed"]
    stale_ok, _ = run_raw_suites(con, date(2024, 3, 20), previous, None,
                                 QualitySettings(allow_stale=True))
    assert stale_ok.set_index("check").loc["freshness", "severity"] == "warning"
    assert not by_check.loc["volume_change", "passed"]
    assert "sales" in by_check.loc["volume_change", "detail"]
    assert by_check.loc["unit_change", "passed"]


# ---- mart checks ---------------------------------------------------------------------------


def _forecasts() -> pd.DataFrame:
    return pd.DataFrame({"sku": ["A", "A", "B"], "location": ["S1"] * 3,
                         "date": pd.to_datetime(["2024-03-11", "2024-03-12", "2024-03-11"]),
                         "forecast": [1.0, 2.0, 0.0], "p50": [1.0, 2.0, 0.0],
                         "p90": [2.0, 3.0, 0.0], "p95": [3.0, 4.0, 1.0],
                         "p99": [4.0, 5.0, 1.0]})


def test_check_forecasts_valid():
    assert check_forecasts_valid(_forecasts()).passed
    bad = _forecasts()
    bad.loc[0, "p95"] = 1.5  # p95 < p90
    bad.loc[2, "forecast"] = np.nan
    result = check_forecasts_valid(bad)
    assert not result.passed and result.failed_rows == 2 and result.severity == "error"
    negative = _forecasts()
    negative.loc[1, "p50"] = -1.0
    assert check_forecasts_valid(negative).failed_rows == 1


def test_check_reorder_coverage():
    stock = pd.DataFrame({"sku": ["A", "A", "B", "C"], "location": ["S1", "S2", "S1", "S1"]})
    products = pd.DataFrame({"sku": ["A", "B", "C"], "active": [True, True, False]})
    lines = pd.DataFrame({"sku": ["A", "A", "B"], "location": ["S1", "S2", "S1"]})
    assert check_reorder_coverage(lines, stock, products).passed
    missing_and_double = pd.DataFrame({"sku": ["A", "A"], "location": ["S1", "S1"]})
    result = check_reorder_coverage(missing_and_double, stock, products)
    assert not result.passed and result.failed_rows == 3  # A/S2, B/S1 missing; A/S1 twice


def test_check_order_quantities_uses_max_28_day_demand_with_floor():
    days = pd.date_range("2024-01-01", periods=60)
    demand = pd.concat([
        pd.DataFrame({"sku": "A", "location": "S1", "date": days, "units_sold": 10.0}),
        pd.DataFrame({"sku": "T", "location": "S1", "date": days,
                      "units_sold": [1.0] + [0.0] * 59}),
    ])
    assert max_28_day_demand(demand).set_index("sku")["max_28d_demand"].to_dict() == {
        "A": 280.0, "T": 1.0}
    settings = QualitySettings(max_order_multiple=50)
    ok = pd.DataFrame({"sku": ["A", "T"], "location": ["S1", "S1"],
                       "recommended_order_qty": [14000.0, 90.0]})  # T: below the floor
    assert check_order_quantities(ok, demand, settings).passed
    absurd = ok.assign(recommended_order_qty=[14001.0, 90.0])
    result = check_order_quantities(absurd, demand, settings)
    assert not result.passed and result.failed_rows == 1 and "A" in result.detail
    products = pd.DataFrame({"sku": ["A", "T"], "moq": [1, 500], "pack_size": [1, 1]})
    big_moq = ok.assign(recommended_order_qty=[10.0, 500.0])
    assert check_order_quantities(big_moq, demand, settings, products=products).passed


def test_max_28_day_demand_in_sql_equals_the_pandas_one():
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=90)
    demand = pd.concat([
        pd.DataFrame({"sku": sku, "location": loc, "date": days[start:],
                      "units_sold": rng.poisson(lam, 90 - start).astype(float)})
        for sku, loc, start, lam in [("A", "S1", 0, 4.0), ("A", "S2", 70, 9.0),
                                     ("B", "S1", 10, 0.3)]
    ])
    demand.loc[demand.index[5], "units_sold"] = np.nan
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.fct_daily_demand as select * from demand")
    sql = con.execute(MAX_28_DAY_DEMAND_SQL).df().sort_values(["sku", "location"])
    expected = max_28_day_demand(demand).sort_values(["sku", "location"])
    np.testing.assert_allclose(sql["max_28d_demand"], expected["max_28d_demand"])
    assert len(sql) == 3


# ---- real data -----------------------------------------------------------------------------


@pytest.mark.slow
def test_online_retail_every_row_accepted_or_quarantined(tmp_path):
    src = SHARED_DATA / "uci_online_retail" / "online_retail_II_2009_2010.parquet"
    if not src.exists():
        pytest.skip(f"real data not found at {src}")
    from restock.importers.online_retail import import_online_retail

    feed = tmp_path / "feed"
    import_online_retail(src, feed)
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    result = load_feed(feed, con)
    quarantine = quarantine_rows(con, datetime(2010, 12, 10))
    sales = result.tables["sales"]
    assert sales.rows_read == 525_461
    assert sales.rows_accepted + sales.rows_rejected == 525_461
    assert (quarantine["source"] == "sales").sum() == sales.rows_rejected
    assert quarantine["reason"].notna().all()
    assert accounting_results(con, result)["passed"].all()
    assert sales.reject_reasons.get("unknown sku", 0) > 0  # POST, M, ... are not products


def test_gx_catches_a_bad_value_that_bypassed_the_reader(tmp_path):
    from restock.quality.gx_suites import run_raw_suites

    con = duckdb.connect()
    load_feed(write_feed(tmp_path), con)
    con.execute("update raw.sales set quantity = 'abc' where _row_number = 1")
    con.execute("update raw.inventory set on_hand = '-1' where _row_number = 1")
    results, _ = run_raw_suites(con, None, None, None, QualitySettings())
    failed = results[~results["passed"]]
    assert set(zip(failed["source"], failed["check"], failed["severity"], strict=True)) == {
        ("sales", "types", "error"), ("inventory", "ranges", "error")}


def test_lead_time_zero_is_accepted_and_a_negative_one_quarantined(tmp_path):
    """lead_time_days = 0 is same-day supply (contract v1.1): valid in the reader and GX."""
    from restock.quality.gx_suites import run_raw_suites

    tables = base_feed()
    tables["products"][0]["lead_time_days"] = "0"  # A, sold at S1 and S2
    tables["products"].append({**tables["products"][2], "sku": "D", "lead_time_days": "-1"})
    con = duckdb.connect()
    result = load_feed(write_feed(tmp_path / "feed", tables), con)
    products = result.tables["products"]
    assert products.rows_accepted == 3
    assert products.reject_reasons == {"negative lead_time_days": 1}
    assert con.execute("select lead_time_days from raw.products where sku = 'A'"
                       ).fetchone() == ("0",)
    results, _ = run_raw_suites(con, None, None, None, QualitySettings())
    errors = results[results["severity"] == "error"]
    assert errors["passed"].all(), errors[~errors["passed"]].to_string()


# --- forecast magnitudes guardrail ----------------------------------------------------------
def _magnitude_inputs():
    import duckdb

    from restock.quality.mart_checks import historical_maxima, historical_maxima_sql

    dates = pd.date_range("2024-01-01", periods=10)
    demand = pd.DataFrame({
        "sku": ["A"] * 10 + ["B"] * 10, "location": ["L"] * 20,
        "date": list(dates) * 2,
        "units_sold": [1, 0, 3, 0, 0, 2, 0, 0, 0, 1] + [20, 30, 25, 0, 40, 10, 0, 5, 30, 20],
    })
    maxima = historical_maxima(demand, [1, 3])
    con = duckdb.connect()
    con.execute("create schema marts")
    con.register("d", demand)
    con.execute("create table marts.fct_daily_demand as select * from d")
    from_sql = con.execute(historical_maxima_sql([1, 3])).df()
    merged = maxima.merge(from_sql, on=["sku", "location", "horizon_days"])
    assert len(merged) == 4 and np.allclose(merged["max_demand_x"], merged["max_demand_y"])
    got = maxima.set_index(["sku", "horizon_days"])["max_demand"]
    assert got[("A", 1)] == 3 and got[("A", 3)] == 4 and got[("B", 1)] == 40
    assert got[("B", 3)] == 75
    forecasts = pd.DataFrame({
        "sku": ["A", "B", "C"], "location": ["L"] * 3, "date": [dates[-1]] * 3,
        "forecast": [0.5, 20.0, 1.0], "p50": [0.0, 20.0, 1.0], "p90": [2.0, 40.0, 3.0],
        "p95": [3.0, 50.0, 4.0], "p99": [6.0, 90.0, 8.0],
    })
    return maxima, forecasts


def test_forecast_magnitudes_pass_within_the_multiple_and_floor():
    from restock.config import QualitySettings
    from restock.quality.mart_checks import check_forecast_magnitudes

    maxima, forecasts = _magnitude_inputs()
    # A: p99 6 <= max(5 x 3, 10); B: 90 <= 5 x 40; C (cold start): 8 <= floor 10
    result = check_forecast_magnitudes(forecasts, maxima, QualitySettings())
    assert result.passed, result.detail


def test_forecast_magnitudes_name_the_series_above_the_limit():
    from restock.config import QualitySettings
    from restock.quality.mart_checks import check_forecast_magnitudes

    maxima, forecasts = _magnitude_inputs()
    forecasts.loc[forecasts["sku"] == "B", "p99"] = 250.0  # > 5 x 40
    cumulative = pd.DataFrame({
        "sku": ["A", "A", "A", "B"], "location": ["L"] * 4, "horizon_days": [3, 3, 2, 3],
        "level": [0.0, 0.99, 0.99, 0.99], "quantity": [1.0, 40.0, 999.0, 100.0],
    })
    result = check_forecast_magnitudes(forecasts, maxima, QualitySettings(), cumulative)
    assert not result.passed and result.severity == "error"
    assert result.failed_rows == 2  # B (daily) and A (3-day total 40 > max(5 x 4, 30))
    assert "sku=B" in result.detail and "sku=A" in result.detail
    # horizon 2 has no historical max here: not checked (999 would fail)
    ok_cum = cumulative.assign(quantity=[1.0, 20.0, 999.0, 100.0])
    forecasts.loc[forecasts["sku"] == "B", "p99"] = 90.0
    assert check_forecast_magnitudes(forecasts, maxima, QualitySettings(), ok_cum).passed
    strict = QualitySettings(max_forecast_multiple=1.0, forecast_floor_units=0.0)
    assert not check_forecast_magnitudes(forecasts, maxima, strict).passed
