"""The whole nightly job, in-process, on a small demo feed: every published table is sound,
and a run stopped by a blocking check leaves the last publication byte-identical."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from restock.contract import PUBLISHED_TABLES, RUN_COLUMNS
from restock.paths import RunPaths

pytestmark = pytest.mark.slow


def _published(warehouse: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f'select * from marts."{table}"').df()


@pytest.fixture(scope="module")
def e2e_run(small_demo_feed, tmp_path_factory):
    from pipelines.runner import run_nightly

    warehouse = tmp_path_factory.mktemp("e2e") / "restock.duckdb"
    outcome = run_nightly(small_demo_feed, warehouse)
    assert outcome.success, f"run failed: {outcome.failures}"
    return warehouse


def test_every_published_table_has_the_contract_columns(e2e_run):
    for table, columns in PUBLISHED_TABLES.items():
        frame = _published(e2e_run, table)
        missing = set(columns) | set(RUN_COLUMNS)
        missing -= set(frame.columns)
        assert not missing, f"marts.{table} lacks {missing}"
    for table in ("demand_forecasts", "backtest_metrics", "model_selection",
                  "reorder_recommendations", "policy_replay", "policy_replay_comparison",
                  "data_quality_results"):
        assert len(_published(e2e_run, table)) > 0, f"marts.{table} is empty"


def test_published_comparison_quotes_the_headline(e2e_run):
    """BI reads the replay's proof: each static policy against Restock at the same inventory,
    the headline's row (the smallest cut within the frontier) flagged."""
    comparison = _published(e2e_run, "policy_replay_comparison")
    work = RunPaths.from_warehouse(e2e_run).work_db
    with duckdb.connect(str(work), read_only=True) as con:
        headline = con.execute("select * from results.policy_replay_headline").df().iloc[0]
    [quoted] = comparison[comparison["is_headline"]].itertuples()
    assert quoted.static_parameter == headline["static_parameter"]
    assert quoted.relative_cut == pytest.approx(headline["relative_cut"])
    inside = comparison[comparison["within_frontier"]]
    assert quoted.relative_cut == pytest.approx(inside["relative_cut"].min())
    static = _published(e2e_run, "policy_replay").query("policy == 'static' and category == 'ALL'")
    assert sorted(comparison["static_parameter"]) == sorted(static["parameter"])
    # the terminal summary of `restock run` says it in a sentence
    from pipelines.runner import published_summary

    summary = published_summary(e2e_run)
    assert (f"static policy with {quoted.static_parameter:g} buffer days, Restock's stockout "
            f"rate is {100 * quoted.restock_stockout_rate_at_same_inventory:.2f}% against "
            f"{100 * quoted.static_stockout_rate:.2f}%") in summary


def test_quantities_are_finite_and_non_negative(e2e_run):
    forecasts = _published(e2e_run, "demand_forecasts")
    for col in ("forecast", "p50", "p90", "p95", "p99"):
        values = forecasts[col].astype(float)
        assert values.map(math.isfinite).all() and (values >= 0).all(), col
    assert (forecasts["p50"] <= forecasts["p90"] + 1e-9).all()
    assert (forecasts["p90"] <= forecasts["p99"] + 1e-9).all()
    lines = _published(e2e_run, "reorder_recommendations")
    for col in ("safety_stock", "reorder_point", "order_up_to", "recommended_order_qty",
                "lead_time_demand"):
        values = lines[col].astype(float)
        assert values.map(math.isfinite).all() and (values >= 0).all(), col
    assert (lines["reorder_point"] + 1e-9 >= lines["safety_stock"]).all()
    assert (lines["order_up_to"] + 1e-9 >= lines["reorder_point"]).all()


def test_one_reorder_line_per_active_sku_location(e2e_run, small_demo_feed):
    lines = _published(e2e_run, "reorder_recommendations")
    assert not lines.duplicated(["sku", "location"]).any()
    work = RunPaths.from_warehouse(e2e_run).work_db
    with duckdb.connect(str(work), read_only=True) as con:
        expected = con.execute(
            "select count(*) from marts.fct_stock_position s join marts.dim_products p "
            "using (sku) where p.active"
        ).fetchone()[0]
    assert len(lines) == expected


def test_forecasts_cover_the_horizon_after_as_of(e2e_run):
    forecasts = _published(e2e_run, "demand_forecasts")
    as_of = pd.Timestamp(forecasts["as_of"].iloc[0])
    dates = pd.to_datetime(forecasts["date"])
    assert dates.min() == as_of + pd.Timedelta(days=1)
    assert (dates > as_of).all()
    per_series = forecasts.groupby(["sku", "location"])["date"].nunique()
    assert per_series.min() >= 28


def test_rows_in_equal_accepted_plus_quarantined(e2e_run):
    dq = _published(e2e_run, "data_quality_results")
    accounting = dq[dq["check"].str.startswith("rows_in")]
    assert len(accounting) >= 2 and accounting["passed"].all()


def test_report_is_written(e2e_run):
    forecasts = _published(e2e_run, "demand_forecasts")
    as_of = str(pd.Timestamp(forecasts["as_of"].iloc[0]).date())
    report = RunPaths.from_warehouse(e2e_run).report_dir(as_of) / "index.html"
    assert report.exists() and report.stat().st_size > 10_000


def _digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(
            p.name.encode() + p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
        )).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_blocking_check_leaves_publication_byte_identical(e2e_run, small_demo_feed,
                                                                 tmp_path):
    from pipelines.runner import run_nightly

    paths = RunPaths.from_warehouse(e2e_run)
    before = (_digest(paths.warehouse), _digest(paths.parquet_dir))
    # Any positive order is "absurd" under this threshold, so the blocking check must fail.
    config = tmp_path / "strict.yml"
    config.write_text("quality:\n  max_order_multiple: 0.000001\n  order_floor_units: 0\n")
    outcome = run_nightly(small_demo_feed, e2e_run, config_path=config)
    assert not outcome.success
    assert any("order_quantities_plausible" in f for f in outcome.failures), outcome.failures
    assert (_digest(paths.warehouse), _digest(paths.parquet_dir)) == before
