"""ERP write-back of purchase order proposals: SQLite always, live PostgreSQL and MariaDB."""

from __future__ import annotations

import logging
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import MARIADB_SERVER, PG_SERVER, require_db_server

from restock.erp_writeback import (
    WRITEBACK_COLUMNS,
    WritebackError,
    erp_writeback,
    supplier_file_names,
    writeback_table,
)
from restock.secrets import mask_url

MARIADB_DB = "restock_writeback_test"
SECRET = "Wb-s3cr3t-9f2"


@pytest.fixture
def erp(request, tmp_path):
    """(url, table): a database on the backend of ``request.param`` and a fresh table name."""
    kind = request.param
    table = f"po_wb_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'erp.sqlite'}", table
        return
    if kind == "postgresql":
        url = PG_SERVER + "/postgres"
        require_db_server(url)
    else:
        require_db_server(MARIADB_SERVER + "/")
        admin = sa.create_engine(MARIADB_SERVER + "/")
        with admin.begin() as conn:
            conn.exec_driver_sql(f"create database if not exists {MARIADB_DB}")
        admin.dispose()
        url = f"{MARIADB_SERVER}/{MARIADB_DB}"
    try:
        yield url, table
    finally:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop table if exists {table}")
        engine.dispose()


BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.db),
    pytest.param("mariadb", marks=pytest.mark.db),
]


def tables(n_lines: int = 3, qty: float = 5.0):
    proposals = pd.DataFrame({
        "supplier": ["Acme Foods", "Bolt & Co"],
        "proposal_id": ["20240304-Acme-Foods-R", "20240304-Bolt-Co-R"],
        "order_date": pd.to_datetime(["2024-03-04", "2024-03-07"]),
        "expected_date": pd.to_datetime(["2024-03-07", "2024-03-10"]),
        "lines": [n_lines - 1, 1], "units": [10.0, 5.0], "value": [20.0, 50.0],
        "min_order_met": [True, False], "rule_applied": ["minimum_met", "deferred"],
    })
    lines = pd.DataFrame({
        "proposal_id": ["20240304-Acme-Foods-R"] * (n_lines - 1) + ["20240304-Bolt-Co-R"],
        "sku": [f"sku{i}" for i in range(n_lines)],
        "location": "S1",
        "qty": qty,
        "reason": "Reorder: position 3 <= reorder point 10",
    })
    return proposals, lines


def rows_of(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        got = pd.DataFrame(conn.execute(sa.select(t)).mappings().all())
    engine.dispose()
    return got


def create_with_unique_lines(url: str, table: str) -> None:
    """The write-back table plus a unique (run_id, sku, location): a duplicate line fails."""
    engine = sa.create_engine(url)
    md = sa.MetaData()
    t = writeback_table(table, md)
    t.append_constraint(sa.UniqueConstraint("run_id", "sku", "location"))
    md.create_all(engine)
    engine.dispose()


@pytest.mark.parametrize("erp", BACKENDS, indirect=True)
def test_same_run_twice_leaves_one_set_and_a_failing_insert_changes_nothing(erp, tmp_path):
    url, table = erp
    create_with_unique_lines(url, table)
    proposals, lines = tables(3)
    first = erp_writeback(url, table, proposals, lines, "run-1", out_dir=tmp_path / "run-1")
    assert first["rows"] == 3 and first["deleted"] == 0
    again = erp_writeback(url, table, proposals, lines, "run-1", out_dir=tmp_path / "run-1")
    assert again["rows"] == 3
    erp_writeback(url, table, proposals, lines, "run-2")
    got = rows_of(url, table)
    assert sorted(got.columns) == sorted(WRITEBACK_COLUMNS)
    assert got.groupby("run_id").size().to_dict() == {"run-1": 3, "run-2": 3}
    before = got.sort_values(["run_id", "sku"]).reset_index(drop=True)

    # Re-run run-1 with a duplicate line in the middle of the batch: the delete of run-1's rows
    # and the inserts before the duplicate are rolled back with it.
    _, bad = tables(3, qty=7.0)
    bad = pd.concat([bad.iloc[:2], bad.iloc[[0]], bad.iloc[2:]], ignore_index=True)
    with pytest.raises(WritebackError) as info:
        erp_writeback(url, table, proposals, bad, "run-1")
    message = str(info.value)
    assert "\n" not in message and table in message and "rolled back" in message
    after = rows_of(url, table).sort_values(["run_id", "sku"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    assert (after["qty"] == 5.0).all()

    # One CSV per supplier, replaced on a re-run.
    files = sorted(p.name for p in (tmp_path / "run-1").iterdir())
    assert files == ["purchase_orders_Acme_Foods.csv", "purchase_orders_Bolt_Co.csv"]
    acme = pd.read_csv(tmp_path / "run-1" / "purchase_orders_Acme_Foods.csv")
    assert len(acme) == 2 and set(acme["supplier"]) == {"Acme Foods"}


@pytest.mark.parametrize("erp", BACKENDS, indirect=True)
def test_table_is_created_when_missing_and_names_are_quoted(erp):
    url, table = erp
    mixed = "PO_" + table  # upper case: must be quoted to keep its case on PostgreSQL
    proposals, lines = tables(2)
    try:
        summary = erp_writeback(url, mixed, proposals, lines, "r")
        assert summary["rows"] == 2
        assert len(rows_of(url, mixed)) == 2
    finally:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("select 1"))
            sa.Table(mixed, sa.MetaData()).drop(conn, checkfirst=True)
        engine.dispose()


@pytest.mark.parametrize("bad", ["po; drop table x", "po-lines", "1po", "", "a" * 64, "po lines"])
def test_table_names_outside_the_allow_list_are_refused(bad, tmp_path):
    proposals, lines = tables(2)
    with pytest.raises(ValueError, match="invalid table name"):
        erp_writeback(f"sqlite:///{tmp_path / 'x.sqlite'}", bad, proposals, lines, "r")
    with pytest.raises(ValueError, match="invalid schema name"):
        erp_writeback(f"sqlite:///{tmp_path / 'x.sqlite'}", "ok", proposals, lines, "r",
                      schema="x.y")


def test_mask_url_hides_userinfo_and_query_passwords():
    url = (f"postgresql+psycopg://buyer:{SECRET}@db.example:5432/erp"
           f"?password={SECRET}x&sslmode=require&api_token=tok123")
    shown = mask_url(url)
    assert SECRET not in shown and "tok123" not in shown
    assert "buyer:***@db.example" in shown and "sslmode=require" in shown


def test_lines_without_a_proposal_are_refused(tmp_path):
    proposals, lines = tables(2)
    lines.loc[0, "proposal_id"] = "nope"
    with pytest.raises(ValueError, match="no proposal"):
        erp_writeback(f"sqlite:///{tmp_path / 'x.sqlite'}", "po", proposals, lines, "r")


def test_supplier_file_names_are_safe_and_distinct():
    names = supplier_file_names(["A/B", "A B", "../etc"])
    assert len(set(names.values())) == 3
    assert all("/" not in n and n.startswith("purchase_orders_") for n in names.values())


@pytest.mark.db
def test_failing_insert_with_a_password_never_shows_it_postgres(caplog, tmp_path):
    # The test server trusts local connections, so any password is accepted.
    require_db_server(PG_SERVER + "/postgres")
    table = f"po_wb_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:5432/postgres"
    caplog.set_level(logging.DEBUG)
    create_with_unique_lines(url, table)
    try:
        proposals, lines = tables(3)
        ok = erp_writeback(url, table, proposals, lines, "run-1")
        assert SECRET not in str(ok) and "***" in ok["url"]
        dup = pd.concat([lines, lines.iloc[[0]]], ignore_index=True)
        with pytest.raises(WritebackError) as info:
            erp_writeback(url + f"?password={SECRET}", table, proposals, dup, "run-1")
        assert SECRET not in str(info.value) and "***" in str(info.value)
        assert "UniqueViolation" in str(info.value) or "unique" in str(info.value).lower()
        assert SECRET not in caplog.text
        assert len(rows_of(url, table)) == 3
    finally:
        engine = sa.create_engine(PG_SERVER + "/postgres")
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop table if exists {table}")
        engine.dispose()


@pytest.mark.db
def test_wrong_password_against_mariadb_never_shows_it(caplog):
    require_db_server(MARIADB_SERVER + "/")
    proposals, lines = tables(2)
    caplog.set_level(logging.DEBUG)
    url = f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/mysql"
    with pytest.raises(WritebackError, match="Access denied") as info:
        erp_writeback(url, "po_never", proposals, lines, "r")
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert SECRET not in caplog.text
