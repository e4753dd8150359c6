"""The dbt project on a tiny hand-made feed: one ingest + one ``dbt build`` for the module."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest
from feedkit import base_feed, run_dbt, write_feed

from restock.feed.reader import load_feed

AS_OF = "2024-03-10"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(work_db, dbt build process, target dir) for the base feed."""
    root = tmp_path_factory.mktemp("dbt")
    feed = write_feed(root / "feed")
    work_db = root / "work.duckdb"
    con = duckdb.connect(str(work_db))
    load_feed(feed, con)
    con.close()
    target = root / "target"
    build = run_dbt(work_db, AS_OF, "build", target_dir=target)
    return work_db, build, target


def _query(work_db, sql: str) -> list[tuple]:
    with duckdb.connect(str(work_db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_dbt_build_passes_models_data_tests_and_unit_tests(built):
    _, build, target = built
    assert build.returncode == 0, build.stdout[-3000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds.setdefault(kind, []).append(r["status"])
    assert len(kinds["model"]) == 26 and set(kinds["model"]) == {"success"}
    assert len(kinds["unit_test"]) >= 3 and set(kinds["unit_test"]) == {"pass"}
    assert len(kinds["test"]) > 50 and set(kinds["test"]) == {"pass"}


def test_spine_is_complete_from_first_sale_to_as_of(built):
    work_db, _, _ = built
    rows = _query(
        work_db,
        "select sku, location, min(date), max(date), count(*) from marts.fct_daily_demand "
        "group by all order by all",
    )
    assert rows == [
        ("A", "S1", date(2024, 3, 1), date(2024, 3, 10), 10),
        ("A", "S2", date(2024, 3, 1), date(2024, 3, 10), 10),
        ("B", "S1", date(2024, 3, 1), date(2024, 3, 10), 10),
    ]
    total = _query(work_db, "select sum(units_sold), sum(units_returned) "
                            "from marts.fct_daily_demand")[0]
    assert total == (30 + 16 + 10, 1.0)  # A/S1 3x10, B/S1 2x8, A/S2 1x10; one return


def test_daily_demand_flags(built):
    work_db, _, _ = built
    rows = {
        (s, loc, d): (censored, promo, event)
        for s, loc, d, censored, promo, event in _query(
            work_db,
            "select sku, location, date, is_censored, promo, is_event "
            "from marts.fct_daily_demand",
        )
    }
    assert rows[("B", "S1", date(2024, 3, 10))][0] is True  # closed with on_hand 0
    assert rows[("A", "S1", date(2024, 3, 10))][0] is False
    assert rows[("A", "S1", date(2024, 3, 8))][1] is True  # promotion A/S1 from the 8th
    assert rows[("A", "S2", date(2024, 3, 8))][1] is False
    assert rows[("A", "S2", date(2024, 3, 9))][2] is True  # event at every location


def test_stock_position(built):
    work_db, _, _ = built
    rows = _query(
        work_db,
        "select sku, location, stock_known, on_hand, on_order, backorders, snapshot_date "
        "from marts.fct_stock_position order by sku, location",
    )
    assert rows == [
        ("A", "S1", True, 10.0, 30.0, 0.0, date(2024, 3, 10)),  # open PO P3
        ("A", "S2", False, None, 0.0, 0.0, None),                # no inventory, no PO
        ("B", "S1", True, 0.0, 20.0, 0.0, date(2024, 3, 10)),   # open PO P4
    ]


def test_lead_times_and_open_orders(built):
    work_db, _, _ = built
    (sku, loc, n, mean, std), = _query(work_db, "select * from marts.fct_lead_times")
    assert (sku, loc, n, mean) == ("A", "S1", 2, 4.5)  # P1 3 days, P2 6 days
    assert std == pytest.approx(2.1213203, rel=1e-6)
    open_orders = _query(
        work_db, "select po_id, open_quantity from marts.fct_open_purchase_orders order by 1"
    )
    assert open_orders == [("P3", 30.0), ("P4", 20.0)]


def test_dim_products_defaults_and_lead_time_spread(built):
    work_db, _, _ = built
    rows = {
        r[0]: r[1:]
        for r in _query(
            work_db,
            "select sku, moq, pack_size, active, lead_time_std_days from marts.dim_products",
        )
    }
    assert rows["A"][:3] == (1, 6, True)
    assert rows["A"][3] == pytest.approx(2.1213203, rel=1e-6)  # from purchase orders
    assert rows["B"] == (10, 1, True, 0.0)  # no receipts: 0


def test_promotion_days_expand_category_and_all_locations(built):
    work_db, _, _ = built
    rows = _query(
        work_db,
        "select sku, location, count(*), min(date), max(date) from marts.fct_promotion_days "
        "group by all order by all",
    )
    assert rows == [
        ("A", "S1", 5, date(2024, 3, 8), date(2024, 3, 12)),  # future days kept
        ("C", "S1", 2, date(2024, 3, 20), date(2024, 3, 21)),
        ("C", "S2", 2, date(2024, 3, 20), date(2024, 3, 21)),
    ]


def test_locations_events_and_drivers(built):
    work_db, _, _ = built
    assert _query(work_db, "select location, name from marts.dim_locations order by 1") == [
        ("S1", "Store 1"), ("S2", "Store 2")]
    assert _query(work_db, "select date, location, name from marts.fct_events") == [
        (date(2024, 3, 9), None, "Fair")]
    assert _query(work_db, "select location, driver, value from marts.fct_drivers "
                           "order by date") == [("S1", "temperature", 12.5),
                                                (None, "temperature", 13.0)]


def test_as_of_var_is_required(built, tmp_path):
    work_db, _, _ = built
    done = run_dbt(work_db, "", "compile", "--select", "int_inventory_daily",
                   target_dir=tmp_path / "target")
    assert done.returncode != 0
    assert "var 'as_of' is required" in done.stdout


def test_build_args_alone_point_dbt_at_the_work_db(built, tmp_path):
    import os
    import subprocess

    from feedkit import DBT, DBT_PROJECT, PROJECT_ROOT

    from restock.dbt_project import dbt_build_args

    work_db, _, _ = built
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTOCK_")}
    env.update(DO_NOT_TRACK="1", DBT_TARGET_PATH=str(tmp_path / "t"),
               DBT_LOG_PATH=str(tmp_path / "t"))
    args = dbt_build_args(AS_OF, work_db=work_db) + ["--select", "fct_lead_times"]
    done = subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "PASS=" in done.stdout and "ERROR=0" in done.stdout


def test_lead_time_zero_passes_the_staging_and_mart_tests(tmp_path):
    """Same-day supply (lead_time_days = 0) is a valid product, through dim_products."""
    tables = base_feed()
    tables["products"][0]["lead_time_days"] = "0"
    work_db = tmp_path / "work.duckdb"
    with duckdb.connect(str(work_db)) as con:
        load_feed(write_feed(tmp_path / "feed", tables), con)
    build = run_dbt(work_db, AS_OF, "build", "--select", "+dim_products",
                    "--indirect-selection", "cautious",
                    target_dir=tmp_path / "target")
    assert build.returncode == 0, build.stdout[-3000:]
    assert _query(work_db, "select lead_time_days from marts.dim_products where sku = 'A'"
                  ) == [(0,)]
