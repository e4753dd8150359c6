"""ERP database -> feed: PostgreSQL, MariaDB and SQLite, incremental by watermark."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa
from conftest import MARIADB_SERVER, PG_SERVER, require_db_server

from restock.sources.sql import extract_feed
from restock.sources.sql_errors import MappingError, SourceError
from restock.sources.sql_mapping import load_mapping

EXAMPLE_MAPPING = Path(__file__).resolve().parents[1] / "restock/sources/erp_mapping.example.yml"
N_ITEMS, N_STORES, N_ORDERS, N_LINES = 400, 20, 40_000, 100_000
N_STOCK, N_PO = 5_000, 2_000
BASE = datetime(2024, 1, 1)

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("item_no", sa.String(20), primary_key=True),
    sa.Column("item_group", sa.String(20)),
    sa.Column("description", sa.String(80)),
    sa.Column("vendor_no", sa.String(20)),
    sa.Column("lead_days", sa.Numeric(8, 2)),
    sa.Column("std_cost", sa.Numeric(12, 4)),
    sa.Column("list_price", sa.Numeric(12, 4)),
    sa.Column("pack_qty", sa.Integer),
    sa.Column("is_active", sa.Boolean),
    sa.Column("updated_at", sa.DateTime),
)
stores = sa.Table(
    "stores",
    metadata,
    sa.Column("store_code", sa.String(10), primary_key=True),
    sa.Column("store_name", sa.String(80)),
    sa.Column("region_name", sa.String(40)),
    sa.Column("store_type", sa.String(10)),
    sa.Column("tz_name", sa.String(40)),
)
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_no", sa.String(20), primary_key=True),
    sa.Column("store_code", sa.String(10)),
    sa.Column("order_ts", sa.DateTime),
    sa.Column("channel_code", sa.String(10)),
    sa.Column("customer_no", sa.String(20)),
    sa.Column("updated_at", sa.DateTime),
)
order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("line_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_no", sa.String(20), index=True),
    sa.Column("line_no", sa.Integer),
    sa.Column("item_no", sa.String(20)),
    sa.Column("qty", sa.Numeric(12, 3)),
    sa.Column("unit_price", sa.Numeric(12, 4)),
    sa.Column("promo_flag", sa.Boolean),
    sa.Column("updated_at", sa.DateTime, index=True),
)
stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("snapshot_date", sa.Date),
    sa.Column("item_no", sa.String(20)),
    sa.Column("store_code", sa.String(10)),
    sa.Column("qty_on_hand", sa.Numeric(12, 3)),
    sa.Column("qty_on_order", sa.Numeric(12, 3)),
    sa.Column("updated_at", sa.DateTime),
)
purchase_orders = sa.Table(
    "purchase_orders",
    metadata,
    sa.Column("po_line_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("po_no", sa.String(20)),
    sa.Column("item_no", sa.String(20)),
    sa.Column("store_code", sa.String(10)),
    sa.Column("ordered_on", sa.Date),
    sa.Column("qty", sa.Numeric(12, 3)),
    sa.Column("expected_on", sa.Date),
    sa.Column("received_on", sa.Date, nullable=True),
    sa.Column("received_qty", sa.Numeric(12, 3), nullable=True),
    sa.Column("po_status", sa.String(12)),
)


def _ts(seconds) -> datetime:
    return BASE + timedelta(seconds=int(seconds))


def load_erp(engine: sa.Engine, rng: np.random.Generator) -> None:
    """Create the ERP schema and bulk-load it (executemany)."""
    metadata.create_all(engine)
    half_year = 180 * 86_400
    with engine.begin() as conn:
        conn.execute(
            items.insert(),
            [
                {
                    "item_no": f"IT{i:05d}",
                    "item_group": f"G{i % 7}",
                    "description": f"item {i}",
                    "vendor_no": f"V{i % 13}",
                    "lead_days": 3 + i % 10,
                    "std_cost": 1 + i % 50,
                    "list_price": 2 + i % 60,
                    "pack_qty": 1 + i % 6,
                    "is_active": i % 25 != 0,
                    "updated_at": _ts(rng.integers(half_year)),
                }
                for i in range(N_ITEMS)
            ],
        )
        conn.execute(
            stores.insert(),
            [
                {
                    "store_code": f"S{s:03d}",
                    "store_name": f"Store {s}",
                    "region_name": f"R{s % 3}",
                    "store_type": "store",
                    "tz_name": "Europe/Berlin",
                }
                for s in range(N_STORES)
            ],
        )
        order_times = [_ts(s) for s in rng.integers(half_year, size=N_ORDERS)]
        bulk_insert(
            conn,
            orders,
            [
                (
                    f"O{o:07d}",
                    f"S{o % N_STORES:03d}",
                    order_times[o],
                    "store" if o % 4 else "online",
                    f"C{o % 5000:05d}",
                    order_times[o],
                )
                for o in range(N_ORDERS)
            ],
        )
        line_orders = np.sort(rng.integers(N_ORDERS, size=N_LINES)).tolist()
        qty = rng.integers(-2, 12, size=N_LINES).tolist()
        item_of = rng.integers(N_ITEMS, size=N_LINES).tolist()
        bulk_insert(
            conn,
            order_lines,
            [
                (
                    n,
                    f"O{line_orders[n]:07d}",
                    n,
                    f"IT{item_of[n]:05d}",
                    qty[n],
                    2.5,
                    n % 9 == 0,
                    order_times[line_orders[n]],
                )
                for n in range(N_LINES)
            ],
        )
        conn.execute(
            stock_levels.insert(),
            [
                {
                    "snapshot_date": date(2024, 1, 1) + timedelta(days=k // 100),
                    "item_no": f"IT{k % 100:05d}",
                    "store_code": "S000",
                    "qty_on_hand": int(rng.integers(0, 40)),
                    "qty_on_order": 0,
                    "updated_at": _ts(k * 60),
                }
                for k in range(N_STOCK)
            ],
        )
        conn.execute(purchase_orders.insert(), [_po_row(k, rng) for k in range(N_PO)])


def bulk_insert(conn: sa.Connection, table: sa.Table, rows: list[tuple]) -> None:
    """Fast load of tuples in column order: COPY on PostgreSQL, driver executemany elsewhere."""
    names = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"copy {table.name} ({', '.join(names)}) from stdin") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"insert into {table.name} ({', '.join(names)}) values ({', '.join([mark] * len(names))})",
        rows,
    )


def _po_row(k: int, rng) -> dict:
    received = k % 3 != 0
    return {
        "po_line_id": k,
        "po_no": f"PO{k:06d}",
        "item_no": f"IT{k % N_ITEMS:05d}",
        "store_code": f"S{k % N_STORES:03d}",
        "ordered_on": date(2024, 1, 1) + timedelta(k % 150),
        "qty": int(rng.integers(10, 100)),
        "expected_on": date(2024, 1, 8) + timedelta(k % 150),
        "received_on": date(2024, 1, 9) + timedelta(k % 150) if received else None,
        "received_qty": 10 if received else None,
        "po_status": "received" if received else "open",
    }


def source_totals(engine: sa.Engine) -> dict[str, tuple]:
    """What the feed must hold after dedup: rows and quantity sums per contract table."""
    q = {
        "products": "select count(*), sum(lead_days) from items",
        "locations": "select count(*), 0 from stores",
        "sales": "select count(*), sum(l.qty) from order_lines l "
        "join orders o on o.order_no = l.order_no",
        "inventory": "select count(*), sum(qty_on_hand) from stock_levels",
        "purchase_orders": "select count(*), sum(qty) from purchase_orders",
    }
    with engine.connect() as conn:
        return {
            t: tuple(float(v or 0) for v in conn.exec_driver_sql(s).one()) for t, s in q.items()
        }


FEED_KEYS = {
    "products": ("sku",),
    "locations": ("location",),
    "sales": ("order_id", "line_id"),
    "inventory": ("date", "sku", "location"),
    "purchase_orders": ("po_id",),
}
FEED_SUM = {
    "products": "lead_time_days",
    "locations": "0",
    "sales": "quantity",
    "inventory": "on_hand",
    "purchase_orders": "quantity",
}


def feed_totals(feed: Path) -> dict[str, tuple]:
    """Rows and sums of the feed after the ingest-time dedup (newest watermark wins)."""
    out = {}
    with duckdb.connect() as con:
        for table, keys in FEED_KEYS.items():
            files = str(feed / table / "*.parquet")
            cols = con.execute(f"describe select * from read_parquet('{files}')").fetchall()
            order = "erp_watermark desc" if any(c[0] == "erp_watermark" for c in cols) else "1"
            k = ", ".join(keys)
            row = con.execute(
                f"select count(*), coalesce(sum({FEED_SUM[table]}), 0) from ("
                f"select *, row_number() over (partition by {k} order by {order}) rn "
                f"from read_parquet('{files}', union_by_name=true)) where rn = 1"
            ).fetchone()
            out[table] = (float(row[0]), float(row[1]))
    return out


def change_erp(engine: sa.Engine, rng) -> dict[str, int]:
    """New rows and updated rows, all with a newer watermark; return what a run must load."""
    later = datetime(2024, 8, 1)
    with engine.begin() as conn:
        conn.execute(
            order_lines.insert(),
            [
                {
                    "line_id": N_LINES + n,
                    "order_no": f"O{n:07d}",
                    "line_no": N_LINES + n,
                    "item_no": "IT00001",
                    "qty": 3,
                    "unit_price": 2.5,
                    "promo_flag": False,
                    "updated_at": later + timedelta(minutes=n),
                }
                for n in range(500)
            ],
        )
        conn.execute(
            order_lines.update()
            .where(order_lines.c.line_id < 300)
            .values(qty=order_lines.c.qty + 1, updated_at=later)
        )
        conn.execute(
            items.insert(),
            [
                {
                    "item_no": f"NEW{i:03d}",
                    "item_group": "G1",
                    "lead_days": 4,
                    "is_active": True,
                    "updated_at": later,
                }
                for i in range(10)
            ],
        )
        conn.execute(purchase_orders.insert(), [_po_row(N_PO + k, rng) for k in range(25)])
        conn.execute(
            stock_levels.update()
            .where(stock_levels.c.updated_at < _ts(60 * 40))
            .values(qty_on_hand=0, updated_at=later)
        )
    return {
        "sales": 800,
        "products": 10,
        "purchase_orders": 25,
        "inventory": 40,
        "locations": N_STORES,
    }


# --- databases -----------------------------------------------------------------------------


@pytest.fixture
def erp_url(request, tmp_path):
    """A fresh ERP database on the backend of ``request.param``; yields its URL."""
    kind = request.param
    name = f"erp_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'erp.sqlite'}"
        return
    server = PG_SERVER + "/postgres" if kind == "postgresql" else MARIADB_SERVER + "/test"
    require_db_server(server)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"create database {name}")
    try:
        base = PG_SERVER if kind == "postgresql" else MARIADB_SERVER
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            force = " with (force)" if kind == "postgresql" else ""
            conn.exec_driver_sql(f"drop database if exists {name}{force}")
        admin.dispose()


@pytest.mark.parametrize(
    "erp_url",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.db),
        pytest.param("mariadb", marks=[pytest.mark.db, pytest.mark.slow]),
    ],  # 12-26 s loaded
    indirect=True,
)
def test_incremental_extraction_matches_source(erp_url, tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    engine = sa.create_engine(erp_url)
    load_erp(engine, rng)
    monkeypatch.setenv("RESTOCK_TEST_ERP_URL", erp_url)
    feed, state = tmp_path / "feed", tmp_path / "state" / "source.duckdb"

    def run(full_reload=False):
        return extract_feed(
            "RESTOCK_TEST_ERP_URL", EXAMPLE_MAPPING, feed, state, full_reload, chunk_size=20_000
        )

    first = run()
    expected = source_totals(engine)
    assert {t: v["rows"] for t, v in first["tables"].items()} == {
        t: int(v[0]) for t, v in expected.items()
    }
    assert expected["sales"][0] >= 100_000
    assert feed_totals(feed) == expected
    # The feed holds typed contract columns (plus the ERP watermark) under contract names.
    with duckdb.connect() as con:
        described = con.execute(
            f"describe select * from read_parquet('{feed}/sales/*.parquet')"
        ).fetchall()
        cols = {r[0]: r[1] for r in described}
    assert cols["quantity"] == "DOUBLE" and cols["date"].startswith("TIMESTAMP")
    assert cols["promo"] == "BOOLEAN" and cols["order_id"] == "VARCHAR"

    loaded = change_erp(engine, rng)
    second = run()
    assert {t: v["rows"] for t, v in second["tables"].items()} == loaded
    assert feed_totals(feed) == source_totals(engine)
    assert len(list((feed / "sales").glob("part-*.parquet"))) == 2
    assert len(list((feed / "locations").glob("part-*.parquet"))) == 1  # snapshot replaced

    third = run()  # nothing changed: incremental tables load nothing, write nothing
    assert {t: v["rows"] for t, v in third["tables"].items() if t != "locations"} == {
        "products": 0,
        "sales": 0,
        "inventory": 0,
        "purchase_orders": 0,
    }
    assert len(list((feed / "sales").glob("part-*.parquet"))) == 2

    reloaded = run(full_reload=True)
    totals = source_totals(engine)
    assert {t: v["rows"] for t, v in reloaded["tables"].items()} == {
        t: int(v[0]) for t, v in totals.items()
    }
    assert len(list((feed / "sales").glob("part-*.parquet"))) == 1
    assert feed_totals(feed) == totals
    with duckdb.connect(str(state), read_only=True) as con:
        marks = dict(con.execute('select "table", watermark from source_watermarks').fetchall())
    assert set(marks) == {"products", "sales", "inventory", "purchase_orders"}
    assert marks["purchase_orders"] == str(N_PO + 24)
    engine.dispose()


# --- safety --------------------------------------------------------------------------------


def _write_mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small_erp(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'small.sqlite'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table y (a integer)")
        conn.execute(
            items.insert(),
            [{"item_no": "A", "item_group": "G", "lead_days": 2, "updated_at": BASE}],
        )
    engine.dispose()
    monkeypatch.setenv("RESTOCK_TEST_ERP_URL", url)
    return url


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("tables:\n  widgets:\n    table: items\n    columns: {sku: item_no}\n", "widgets"),
        (
            "tables:\n  products:\n    table: items\n    columns: {sku: item_no, category: "
            "item_group, lead_time_days: lead_days, colour: description}\n",
            "products.colour",
        ),
        (
            "tables:\n  products:\n    table: items\n    columns: {sku: item_no, category: "
            "no_such_column, lead_time_days: lead_days}\n",
            "products.category.*no_such_column",
        ),
        (
            "tables:\n  products:\n    table: no_such_table\n    columns: {sku: item_no, category: "
            "item_group, lead_time_days: lead_days}\n",
            "products.*no_such_table",
        ),
        (
            "tables:\n  products:\n    table: items\n    columns: {sku: item_no}\n",
            "products.*category",
        ),
        (
            "tables:\n  sales:\n    query: select item_no as sku, 1 as colour from items\n",
            "sales.colour",
        ),
    ],
)
def test_wrong_mapping_fails_naming_table_and_column_before_extracting(
    small_erp, tmp_path, mapping, message
):
    feed = tmp_path / "feed"
    with pytest.raises(MappingError, match=message):
        extract_feed(
            "RESTOCK_TEST_ERP_URL",
            _write_mapping(tmp_path / "m.yml", mapping),
            feed,
            tmp_path / "state.duckdb",
        )
    assert not feed.exists()
    assert not (tmp_path / "state.duckdb").exists()


@pytest.mark.parametrize(
    "mapping",
    [
        "tables:\n  products:\n    table: 'x\"; drop table y; --'\n"
        "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
        "tables:\n  products:\n    table: items\n    columns: {sku: 'item_no; drop table y', "
        "category: item_group, lead_time_days: lead_days}\n",
        "tables:\n  products:\n    table: items\n    schema: 'main\"; drop table y; --'\n"
        "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
        "tables:\n  products:\n    table: items\n    watermark: 'updated_at) or (1=1'\n"
        "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
    ],
)
def test_injection_in_identifiers_is_rejected_before_any_sql(small_erp, tmp_path, mapping):
    path = _write_mapping(tmp_path / "m.yml", mapping)
    with pytest.raises(MappingError, match="not a plain identifier"):
        load_mapping(path)
    with pytest.raises(MappingError, match="not a plain identifier"):
        extract_feed("RESTOCK_TEST_ERP_URL", path, tmp_path / "feed", tmp_path / "s.duckdb")
    engine = sa.create_engine(small_erp)
    assert "y" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_missing_url_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("RESTOCK_TEST_NO_SUCH_URL", raising=False)
    with pytest.raises(SourceError, match="RESTOCK_TEST_NO_SUCH_URL"):
        extract_feed("RESTOCK_TEST_NO_SUCH_URL", EXAMPLE_MAPPING, tmp_path / "f", tmp_path / "s")


SECRET = "Sup3rSecretPw"


def _assert_no_secret(caplog, exc: BaseException | None = None):
    assert SECRET not in caplog.text
    while exc is not None:
        assert SECRET not in str(exc) and SECRET not in repr(exc)
        exc = exc.__cause__ or exc.__context__


def test_connection_errors_are_retried_and_never_show_the_password(tmp_path, monkeypatch, caplog):
    # Nothing listens on port 9: connection refused, retried with backoff, then a clear error.
    monkeypatch.setenv("RESTOCK_TEST_ERP_URL", f"postgresql+psycopg://erp:{SECRET}@127.0.0.1:9/erp")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="after 3 attempts") as info:
        extract_feed(
            "RESTOCK_TEST_ERP_URL",
            EXAMPLE_MAPPING,
            tmp_path / "f",
            tmp_path / "s",
            connect_attempts=3,
            backoff_seconds=0.01,
        )
    assert "***" in str(info.value)
    assert caplog.text.count("retrying") == 2
    _assert_no_secret(caplog, info.value)


@pytest.mark.db
def test_wrong_password_against_mariadb_never_shows_it(tmp_path, monkeypatch, caplog):
    require_db_server(MARIADB_SERVER + "/test")
    monkeypatch.setenv("RESTOCK_TEST_ERP_URL", f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/test")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="Access denied") as info:
        extract_feed(
            "RESTOCK_TEST_ERP_URL",
            EXAMPLE_MAPPING,
            tmp_path / "f",
            tmp_path / "s",
            connect_attempts=2,
            backoff_seconds=0.01,
        )
    _assert_no_secret(caplog, info.value)


@pytest.mark.db
def test_successful_extraction_with_a_password_never_logs_it(tmp_path, monkeypatch, caplog):
    # The test server trusts local connections, so any password is accepted.
    require_db_server(PG_SERVER + "/test")
    name = f"erp_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"create database {name}")
    try:
        url = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:5432/{name}"
        engine = sa.create_engine(url)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                items.insert(),
                [{"item_no": "A", "item_group": "G", "lead_days": 2, "updated_at": BASE}],
            )
        engine.dispose()
        mapping = _write_mapping(
            tmp_path / "m.yml",
            "tables:\n  products:\n    table: items\n    watermark: updated_at\n"
            "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
        )
        monkeypatch.setenv("RESTOCK_TEST_ERP_URL", url)
        caplog.set_level(logging.DEBUG)
        summary = extract_feed("RESTOCK_TEST_ERP_URL", mapping, tmp_path / "f", tmp_path / "s")
        assert summary["tables"]["products"]["rows"] == 1
        assert "***" in summary["url"] and SECRET not in str(summary)
        assert "products: 1 rows" in caplog.text
        _assert_no_secret(caplog)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"drop database if exists {name} with (force)")
        admin.dispose()


# ---- issue 17: secrets in query parameters, unreadable state ------------------------------


def test_query_parameter_password_never_shown_on_connection_errors(tmp_path, monkeypatch, caplog):
    # libpq takes the password as a query parameter too; SQLAlchemy's hide_password does not
    # mask it, so the error and the retry warnings printed it in clear.
    monkeypatch.setenv(
        "RESTOCK_TEST_ERP_URL", f"postgresql+psycopg://erp@127.0.0.1:9/erp?password={SECRET}"
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="after 2 attempts") as info:
        extract_feed("RESTOCK_TEST_ERP_URL", EXAMPLE_MAPPING, tmp_path / "f", tmp_path / "s",
                     connect_attempts=2, backoff_seconds=0.01)
    assert "password=***" in str(info.value)
    _assert_no_secret(caplog, info.value)


@pytest.mark.filterwarnings("ignore:Query string argument")
def test_query_parameter_secret_never_logged_on_successful_extraction(
    small_erp, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("RESTOCK_TEST_ERP_URL", f"{small_erp}?password={SECRET}&token={SECRET}x")
    mapping = _write_mapping(
        tmp_path / "m.yml",
        "tables:\n  products:\n    table: items\n"
        "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
    )
    caplog.set_level(logging.DEBUG)
    summary = extract_feed("RESTOCK_TEST_ERP_URL", mapping, tmp_path / "f", tmp_path / "s")
    assert summary["tables"]["products"]["rows"] == 1
    assert "password=***&token=***" in summary["url"] and SECRET not in str(summary)
    assert "products: 1 rows" in caplog.text
    _assert_no_secret(caplog)


def test_unreadable_watermark_state_is_named_with_what_to_do(small_erp, tmp_path):
    from restock.errors import DerivedStateError

    state = tmp_path / "state.duckdb"
    state.write_bytes(b"this is not a duckdb file, it was truncated" * 10)
    mapping = _write_mapping(
        tmp_path / "m.yml",
        "tables:\n  products:\n    table: items\n    watermark: updated_at\n"
        "    columns: {sku: item_no, category: item_group, lead_time_days: lead_days}\n",
    )
    with pytest.raises(DerivedStateError, match="state.duckdb is unreadable.*delete it") as info:
        extract_feed("RESTOCK_TEST_ERP_URL", mapping, tmp_path / "f", state)
    assert "\n" not in str(info.value)
