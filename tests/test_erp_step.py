"""The nightly's ERP write-back step (assets/erp.py): off by default, idempotent by the run that
computed the proposals, a refused write fails the step once with a message without the
password."""

from __future__ import annotations

import logging
import sqlite3

import dagster as dg
import duckdb
import pandas as pd
import pytest

from assets.erp import erp_writeback
from assets.resources import RestockResource
from restock.inventory.purchase_orders import build_purchase_orders
from restock.paths import RunPaths

AS_OF = "2024-03-04"
RUN = "nightly-run-1"
SECRET = "s3cr3t-Pw"


@pytest.fixture()
def warehouse(tmp_path):
    lines = pd.DataFrame({
        "sku": ["a", "b", "c"], "location": ["S1", "S1", "S2"], "on_hand": [1.0, 2.0, 0.0],
        "on_order": 0.0, "inventory_position": [1.0, 2.0, 0.0], "reorder_point": 10.0,
        "order_up_to": 20.0, "lead_time_days": 3.0, "mean_daily_forecast": 1.0,
        "recommended_order_qty": [19.0, 18.0, 20.0], "stock_known": True})
    products = pd.DataFrame({"sku": ["a", "b", "c"], "supplier": ["V", "V", "W & Co"],
                             "unit_cost": 1.0})
    plan = build_purchase_orders(lines, products, None, AS_OF)
    wh = tmp_path / "restock.duckdb"
    paths = RunPaths.from_warehouse(wh).ensure()
    with duckdb.connect(str(paths.work_db)) as con:
        con.execute("create schema raw; create schema results")
        con.execute("create table raw._run as select ? as run_id, cast(? as date) as as_of, "
                    "'feed' as feed, '' as config", [RUN, AS_OF])
        con.register("p", plan.proposals)
        con.register("l", plan.lines)
        con.execute("create table results.purchase_order_proposals as select * from p")
        con.execute("create table results.purchase_order_lines as select * from l")
    return wh, len(plan.lines)


def _run(wh, tmp_path, url_env: str | None):
    config = tmp_path / "restock.yml"
    config.write_text("publish:\n  erp_writeback:\n    url_env: " + (url_env or "null")
                      + "\n    table: po_proposals\n")
    resource = RestockResource(feed=str(tmp_path), warehouse=str(wh), config_path=str(config))
    return dg.materialize([erp_writeback], resources={"restock": resource},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_off_by_default(warehouse, tmp_path):
    wh, _ = warehouse
    result = _run(wh, tmp_path, None)
    assert result.success
    [mat] = result.asset_materializations_for_node("erp_writeback")
    assert mat.metadata["enabled"].value is False


def test_writes_once_per_run_and_one_csv_per_supplier(warehouse, tmp_path, monkeypatch):
    wh, n_lines = warehouse
    db = tmp_path / "erp.sqlite"
    monkeypatch.setenv("TEST_ERP_URL", f"sqlite:///{db}")
    for _ in range(2):  # a re-execution replaces the run's rows
        assert _run(wh, tmp_path, "TEST_ERP_URL").success
    with sqlite3.connect(db) as con:
        rows = con.execute("select run_id, count(*) from po_proposals group by 1").fetchall()
    assert rows == [(RUN, n_lines)]
    folder = RunPaths.from_warehouse(wh).run_report_dir(AS_OF, RUN) / "purchase_orders"
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        "purchase_orders_V.csv", "purchase_orders_W_Co.csv"]


def test_a_refused_write_fails_the_step_once_without_the_password(warehouse, tmp_path,
                                                                   monkeypatch, caplog):
    wh, _ = warehouse
    monkeypatch.setenv("TEST_ERP_URL", f"postgresql+psycopg://buyer:{SECRET}@127.0.0.1:1/erp")
    with caplog.at_level(logging.DEBUG):
        result = _run(wh, tmp_path, "TEST_ERP_URL")
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert len(failures) == 1  # not retried
    message = failures[0].step_failure_data.error.message
    assert "ERP write-back to postgresql+psycopg://buyer:***@127.0.0.1:1/erp" in message
    assert "rolled back" in message and SECRET not in message
    assert len(message.strip().splitlines()) == 1  # one line
    everything = caplog.text + "".join(str(e) for e in result.all_events)
    assert SECRET not in everything
    # a missing variable is said as such
    monkeypatch.delenv("TEST_ERP_URL")
    result = _run(wh, tmp_path, "TEST_ERP_URL")
    [failed] = [e for e in result.all_events if e.is_step_failure]
    assert "TEST_ERP_URL" in failed.step_failure_data.error.message
