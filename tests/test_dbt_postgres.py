"""dbt on PostgreSQL: the same raw tables built on DuckDB and on Postgres give the same marts.

Two feeds (a demo chain; the hand-made feed of test_dbt_models) are read by restock.feed.reader
into a DuckDB work DB; its raw.* tables are copied as they are (VARCHAR columns + _source_file,
_row_number, _reject_reason) into a fresh Postgres database; ``dbt build --target postgres`` must
then pass every model, data test and unit test, and every mart must equal the DuckDB build of
the same raw tables. The database is dropped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import date
from pathlib import Path

import duckdb
import pytest
from feedkit import DBT, DBT_PROJECT, PROJECT_ROOT, run_dbt, write_feed

from restock.feed.demo import generate_demo_feed
from restock.feed.reader import load_feed

pytestmark = [pytest.mark.db, pytest.mark.slow]

PG_HOST = os.environ.get("RESTOCK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RESTOCK_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RESTOCK_TEST_PG_USER", "postgres")
HORIZON = 28

# DuckDB type of a raw column -> Postgres type (raw tables hold VARCHAR and _row_number BIGINT)
_PG_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer",
             "DOUBLE": "double precision", "BOOLEAN": "boolean", "DATE": "date",
             "TIMESTAMP": "timestamp"}


def _connect(dbname: str):
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
                           autocommit=True, connect_timeout=3)


def _pg_unavailable() -> str | None:
    try:
        with _connect("postgres") as conn:
            conn.execute("select 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return f"no PostgreSQL at {PG_HOST}:{PG_PORT}: {type(exc).__name__}: {exc}"


def copy_raw_to_postgres(work_db: Path, dbname: str, scratch: Path) -> dict[str, int]:
    """Copy every ``raw.*`` table of the DuckDB ``work_db`` into schema raw of ``dbname``.

    Column names and types are kept (VARCHAR -> text). DuckDB writes each table as CSV and
    Postgres COPY reads it: NULL is an unquoted empty field, '' a quoted one, so NULL and the
    empty string stay apart. Returns table -> rows copied.
    """
    rows: dict[str, int] = {}
    csv_path = scratch / "raw_copy.csv"
    with duckdb.connect(str(work_db), read_only=True) as con, _connect(dbname) as pg:
        pg.execute("create schema if not exists raw")
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' order by 1"
        ).fetchall()]
        for table in tables:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = 'raw' and table_name = ? order by column_index",
                [table],
            ).fetchall()
            cols = ", ".join(f'"{name}"' for name, _ in columns)
            pg.execute(
                f'create table raw."{table}" ('
                + ", ".join(f'"{name}" {_PG_TYPES.get(dtype, "text")}' for name, dtype in columns)
                + ")"
            )
            con.execute(f'copy (select {cols} from raw."{table}") to \'{csv_path}\' '
                        "(format csv, header false)")
            with pg.cursor() as cur:
                with cur.copy(f'copy raw."{table}" ({cols}) from stdin (format csv)') as copy, \
                        csv_path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
            rows[table] = pg.execute(f'select count(*) from raw."{table}"').fetchone()[0]
    csv_path.unlink(missing_ok=True)
    return rows


def run_dbt_postgres(dbname: str, target_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """``dbt <args> --target postgres`` against ``dbname``, with the profile's env vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTOCK_")}
    env.update(
        DO_NOT_TRACK="1",
        RESTOCK_PG_HOST=PG_HOST,
        RESTOCK_PG_PORT=str(PG_PORT),
        RESTOCK_PG_USER=PG_USER,
        RESTOCK_PG_DBNAME=dbname,
        DBT_TARGET_PATH=str(target_dir),
        DBT_LOG_PATH=str(target_dir / "logs"),
    )
    cmd = [str(DBT if DBT.exists() else shutil.which("dbt")), *args, "--target", "postgres",
           "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def _statuses(target_dir: Path) -> dict[str, list[str]]:
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    kinds: dict[str, list[str]] = {}
    for r in results:
        kinds.setdefault(r["unique_id"].split(".")[0], []).append(r["status"])
    return kinds


# every mart with the columns compared (sorted rows, floats rounded to 6 decimals)
_MARTS = {
    "fct_daily_demand": "sku, location, category, date, units_sold, units_returned, on_hand, "
                        "stockout_hours, is_censored, promo, discount_pct, unit_price, "
                        "n_customers, is_event",
    "dim_products": "sku, category, subcategory, name, supplier, lead_time_days, "
                    "lead_time_std_days, unit_cost, unit_price, moq, pack_size, max_stock, "
                    "service_level, active",
    "dim_locations": "location, name, region, type, timezone",
    "fct_stock_position": "sku, location, stock_known, on_hand, on_order, backorders, "
                          "snapshot_date",
    "fct_lead_times": "sku, location, n_receipts, lead_time_mean_days, lead_time_std_days",
    "fct_open_purchase_orders": "po_id, sku, location, order_date, expected_date, open_quantity",
    "fct_promotion_days": "sku, location, date, discount_pct",
    "fct_events": "date, location, name, type",
    "fct_drivers": "date, location, driver, value",
    "dim_suppliers": "supplier, lead_time_days, min_order_value, min_order_units, order_weekdays, "
                     "case_size, express_lead_time_days, express_cost_pct",
    "fct_transfer_lanes": "from_location, to_location, lead_time_days, cost_per_unit",
}


def _normalise(rows) -> list[tuple]:
    def norm(v):
        if isinstance(v, float):
            return round(v, 6)
        if hasattr(v, "is_finite"):  # Decimal
            return round(float(v), 6)
        return v

    return sorted((tuple(norm(v) for v in row) for row in rows), key=repr)


# feed name -> (as_of, writer): a demo chain (every table, a year of history), and the
# hand-made feed of test_dbt_models (open purchase orders, a category-wide promotion, a return)
FEEDS = {
    "demo": ("2024-06-02",  # four weeks before the feed's last day: promotions lie ahead
             lambda out: generate_demo_feed(out, seed=3, n_skus=12, years=1)),
    "handmade": ("2024-03-10", lambda out: write_feed(out)),
}


@pytest.fixture(scope="module", params=sorted(FEEDS))
def builds(request, tmp_path_factory):
    """The same raw tables built by dbt on DuckDB and on a fresh Postgres database."""
    reason = _pg_unavailable()
    if reason:
        pytest.skip(reason)
    as_of, write = FEEDS[request.param]
    root = tmp_path_factory.mktemp(f"dbt_pg_{request.param}")
    feed = root / "feed"
    write(feed)
    work_db = root / "work.duckdb"
    with duckdb.connect(str(work_db)) as con:
        load_feed(feed, con, as_of=date.fromisoformat(as_of))

    dbt_vars = json.dumps({"as_of": as_of, "horizon_days": HORIZON})
    dbname = f"restock_dbt_{uuid.uuid4().hex[:12]}"
    with _connect("postgres") as admin:
        admin.execute(f'create database "{dbname}"')
    try:
        copied = copy_raw_to_postgres(work_db, dbname, root)
        pg_target = root / "target_pg"
        pg_build = run_dbt_postgres(dbname, pg_target, "build", "--vars", dbt_vars)
        duck_target = root / "target_duckdb"
        duck_build = run_dbt(work_db, as_of, "build", "--vars", dbt_vars, target_dir=duck_target)
        assert duck_build.returncode == 0, duck_build.stdout[-3000:]
        yield {"feed": request.param, "work_db": work_db, "dbname": dbname, "copied": copied,
               "pg_build": pg_build, "pg_target": pg_target, "duck_target": duck_target}
    finally:
        with _connect("postgres") as admin:
            admin.execute(f'drop database if exists "{dbname}" with (force)')


def test_raw_tables_are_copied_whole(builds):
    with duckdb.connect(str(builds["work_db"]), read_only=True) as con:
        expected = {t: con.execute(f'select count(*) from raw."{t}"').fetchone()[0]
                    for t in builds["copied"]}
    assert builds["copied"] == expected
    assert {"products", "sales", "inventory", "purchase_orders", "promotions", "events",
            "drivers", "locations", "_ingest_files"} <= set(expected)
    assert expected["sales"] > (1000 if builds["feed"] == "demo" else 20)


def test_dbt_build_on_postgres_passes_models_data_tests_and_unit_tests(builds):
    build = builds["pg_build"]
    assert build.returncode == 0, build.stdout[-5000:]
    assert "target='postgres'" in build.stdout
    pg = _statuses(builds["pg_target"])
    duck = _statuses(builds["duck_target"])
    assert len(pg["model"]) == 26 and set(pg["model"]) == {"success"}
    assert len(pg["unit_test"]) >= 3 and set(pg["unit_test"]) == {"pass"}
    assert len(pg["test"]) > 50 and set(pg["test"]) == {"pass"}
    # the same nodes run on both adapters
    assert {k: len(v) for k, v in pg.items()} == {k: len(v) for k, v in duck.items()}


def test_daily_demand_matches_the_duckdb_build(builds):
    assert builds["pg_build"].returncode == 0, builds["pg_build"].stdout[-3000:]
    sql = ("select count(*), sum(units_sold), sum(units_returned), "
           "sum(case when is_censored then 1 else 0 end), sum(case when promo then 1 else 0 end), "
           "min(date), max(date) from marts.fct_daily_demand")
    with duckdb.connect(str(builds["work_db"]), read_only=True) as con:
        duck = con.execute(sql).fetchone()
    with _connect(builds["dbname"]) as pg:
        got = pg.execute(sql).fetchone()
    assert duck[0] > (1000 if builds["feed"] == "demo" else 20)
    assert duck[1] > 0 and duck[3] > 0 and duck[4] > 0
    assert got[0] == duck[0]
    assert float(got[1]) == pytest.approx(duck[1], rel=1e-12)
    assert float(got[2]) == pytest.approx(duck[2], rel=1e-12, abs=1e-9)
    assert tuple(got[3:]) == tuple(duck[3:])


def test_every_mart_is_identical_on_both_adapters(builds):
    assert builds["pg_build"].returncode == 0, builds["pg_build"].stdout[-3000:]
    with duckdb.connect(str(builds["work_db"]), read_only=True) as con, \
            _connect(builds["dbname"]) as pg:
        for table, columns in _MARTS.items():
            sql = f"select {columns} from marts.{table}"
            duck = _normalise(con.execute(sql).fetchall())
            got = _normalise(pg.execute(sql).fetchall())
            assert len(got) == len(duck), table
            assert got == duck, table
            if not (table == "fct_open_purchase_orders" and builds["feed"] == "demo"):
                assert duck, f"{table} is empty: the comparison proves nothing"
