"""The nightly on a feed whose sales carry customer ids (issue 18): the customer tables are
published with every recent customer once, reorder lines and alerts carry the customers at risk,
the report lists them."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from restock.contract import CUSTOMER_TABLES, RUN_COLUMNS
from restock.paths import RunPaths

pytestmark = pytest.mark.slow


def add_customer_ids(feed: Path, per_location: int = 20) -> pd.DataFrame:
    """Give each sale row a customer: at each location, the customer of (sku, weekday), so a
    customer buys the same item on the same weekday every week (a regular) and an empty shelf
    on that weekday is a hit."""
    path = feed / "sales.parquet"
    sales = pd.read_parquet(path)
    sku_code = pd.factorize(sales["sku"], sort=True)[0]
    weekday = pd.to_datetime(sales["date"]).dt.dayofweek.to_numpy()
    number = (sku_code + 3 * weekday) % per_location
    sales["customer_id"] = [f"{loc}-C{n:02d}" for loc, n in zip(sales["location"], number,
                                                                 strict=True)]
    sales.to_parquet(path, index=False)
    return sales


@pytest.fixture(scope="module")
def customer_run(small_demo_feed, request, tmp_path_factory):
    """(warehouse, sales) of a nightly on a feed whose sales carry customer ids: the session's
    shared run (conftest.nightly_run) when the demo feed carries them already, as it does."""
    from pipelines.runner import run_nightly

    if "customer_id" in pd.read_parquet(small_demo_feed / "sales.parquet").columns:
        warehouse = request.getfixturevalue("nightly_run")[0]
        return warehouse, pd.read_parquet(small_demo_feed / "sales.parquet")
    feed = tmp_path_factory.mktemp("customers") / "feed"
    shutil.copytree(small_demo_feed, feed)
    sales = add_customer_ids(feed)
    warehouse = tmp_path_factory.mktemp("customers_wh") / "restock.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
        outcome = run_nightly(feed, warehouse)
    assert outcome.success, f"run failed: {outcome.failures}"
    return warehouse, sales


def _published(warehouse: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f'select * from marts."{table}"').df()


def test_customer_tables_published_with_every_recent_customer_once(customer_run):
    warehouse, sales = customer_run
    tables = {t: _published(warehouse, t) for t in CUSTOMER_TABLES}
    for name, frame in tables.items():
        assert list(frame.columns[: len(CUSTOMER_TABLES[name])]) == list(CUSTOMER_TABLES[name])
        assert set(RUN_COLUMNS) <= set(frame.columns)
        assert len(frame) > 0, name
        assert frame["run_id"].nunique() == 1
    customers = tables["customer_stockout_impact"]
    as_of = pd.Timestamp(customers["as_of"].iloc[0])
    recent = sales[(pd.to_datetime(sales["date"]) > as_of - pd.Timedelta(days=90))
                   & (pd.to_datetime(sales["date"]) <= as_of) & (sales["quantity"] > 0)]
    assert customers["customer_id"].is_unique
    assert set(customers["customer_id"]) == set(recent["customer_id"].unique())
    assert (customers["hits_90d"] > 0).any(), "demo stock-outs hit no regular customer"
    # NaN when the feed has too little history of churn to fit the model (this synthetic one)
    assert customers["churn_risk"].dropna().between(0, 1).all()
    assert (tables["sku_customer_impact"]["customers_hit_90d"] > 0).any()


def test_reorder_lines_and_alerts_carry_customers_at_risk(customer_run):
    warehouse, _ = customer_run
    customers = _published(warehouse, "customer_stockout_impact")
    lines = _published(warehouse, "reorder_recommendations")
    alerts = _published(warehouse, "stockout_alerts")
    for frame in (lines, alerts):
        assert {"customers_at_risk", "revenue_at_risk"} <= set(frame.columns)
        assert (frame["customers_at_risk"] >= 0).all()
    # a line's customers at risk are among the customers flagged at risk
    assert int(lines["customers_at_risk"].max()) <= int(customers["at_risk"].sum())
    assert (lines.loc[lines["customers_at_risk"] == 0, "revenue_at_risk"] == 0).all()


def test_report_lists_the_customers_hit(customer_run):
    warehouse, _ = customer_run
    # one report per run: reports/latest is this run's
    page = (RunPaths.from_warehouse(warehouse).latest_report / "index.html"
            ).read_text(encoding="utf-8")
    assert '<section id="customers"><h2>Customers hit by stockouts</h2>' in page
    assert 'id="customers-at-risk"' in page and 'id="customers-trend"' in page
    assert "no customer_id" not in page
