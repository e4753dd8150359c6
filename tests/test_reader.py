"""restock.feed.reader on the normal path: every table accounted for, raw layout, as_of."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest
from feedkit import SHARED_DATA, base_feed, write_csv, write_feed

from restock.contract import INPUT_TABLES
from restock.feed.reader import load_feed


def test_rows_in_equal_accepted_plus_rejected_for_every_table(tmp_path):
    tables = base_feed()
    tables["products"].append(dict(tables["products"][0]))  # duplicate sku
    tables["sales"].append({**tables["sales"][0], "line_id": "999", "sku": "NOPE"})
    write_feed(tmp_path, tables)
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    for name in INPUT_TABLES:
        info = result.tables[name]
        raw_rows = con.execute(f"select count(*) from raw.{name}").fetchone()[0]
        assert info.rows_read == raw_rows == info.rows_accepted + info.rows_rejected, name
        assert info.rows_read == len(tables[name]), name
    assert result.tables["products"].reject_reasons == {"duplicate of products.csv:1": 1}
    assert result.tables["sales"].reject_reasons == {"unknown sku": 1}
    files = con.execute('select "table", rows, bytes, sha256 from raw._ingest_files').df()
    assert set(files["table"]) == set(INPUT_TABLES)
    assert (files["bytes"] > 0).all() and files["sha256"].str.len().eq(64).all()


def test_absent_optional_tables_are_empty_raw_tables_with_contract_columns(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, {"products": tables["products"], "sales": tables["sales"]})
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    for name, spec in INPUT_TABLES.items():
        cols = [r[0] for r in con.execute(f"describe raw.{name}").fetchall()]
        assert set(spec.column_names) <= set(cols), name
        assert cols[-3:] == ["_source_file", "_row_number", "_reject_reason"]
    assert result.tables["inventory"].present is False
    assert result.rows_read["inventory"] == 0


def test_raw_is_text_lower_cased_with_row_numbers(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, tables)
    rows = [{k.upper(): v for k, v in r.items()} for r in tables["sales"]]
    write_csv(tmp_path / "sales.csv", rows)
    con = duckdb.connect()
    load_feed(tmp_path, con)
    described = {r[0]: r[1] for r in con.execute("describe raw.sales").fetchall()}
    assert described["quantity"] == "VARCHAR" and described["_row_number"] == "BIGINT"
    numbers = [r[0] for r in con.execute("select _row_number from raw.sales").fetchall()]
    assert numbers == list(range(1, len(rows) + 1))


def test_as_of_defaults_to_latest_valid_sale_and_can_be_given(tmp_path):
    tables = base_feed()
    tables["sales"].append({**tables["sales"][0], "line_id": "x", "date": "2024-03-30",
                            "sku": "NOPE"})  # invalid rows do not move as_of
    write_feed(tmp_path, tables)
    con = duckdb.connect()
    assert load_feed(tmp_path, con).as_of == date(2024, 3, 10)
    result = load_feed(tmp_path, con, as_of=date(2024, 3, 8))
    assert result.as_of == date(2024, 3, 8)
    assert result.tables["sales"].reject_reasons["dated after as_of"] == 7  # days 9-10 + a return
    # purchase orders by order_date; promotions may be in the future
    assert result.tables["purchase_orders"].reject_reasons == {"dated after as_of": 1}
    assert result.tables["promotions"].rows_rejected == 0


def test_parquet_files_and_part_folders(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, {k: v for k, v in tables.items() if k != "sales"})
    sales = pd.DataFrame(tables["sales"])
    sales["quantity"] = sales["quantity"].astype(float)
    sales["date"] = pd.to_datetime(sales["date"])
    (tmp_path / "sales").mkdir()
    sales.iloc[:10].to_parquet(tmp_path / "sales" / "part-0.parquet")
    sales.iloc[10:].to_parquet(tmp_path / "sales" / "part-1.parquet")
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert result.tables["sales"].files == ["sales/part-0.parquet", "sales/part-1.parquet"]
    assert result.rows_accepted["sales"] == len(sales)
    first = con.execute(
        "select date, quantity, _row_number from raw.sales "
        "where _source_file = 'sales/part-1.parquet' order by _row_number limit 1"
    ).fetchone()
    # parquet values are cast to text; a timestamp's business date is its first 10 characters
    assert first == (f"{sales['date'].iloc[10]:%Y-%m-%d %H:%M:%S}",
                     str(sales["quantity"].iloc[10]), 1)
    accepted = con.execute(
        "select count(*) from raw.sales where _reject_reason is null").fetchone()[0]
    assert accepted == len(sales)


@pytest.mark.slow
def test_m5_sales_ingest_is_fast(tmp_path):
    src = SHARED_DATA / "m5_ca1"
    if not (src / "sales_wide.parquet").exists():
        pytest.skip(f"real data not found at {src}")
    con = duckdb.connect()
    days = [r[0] for r in con.execute(
        f"describe select * from '{src / 'sales_wide.parquet'}'").fetchall()
        if r[0].startswith("d_")]
    con.execute(
        f"create table long as unpivot (select item_id, store_id, cat_id, {', '.join(days)} "
        f"from '{src / 'sales_wide.parquet'}') on {', '.join(days)} into name d value quantity"
    )
    feed = tmp_path / "feed"
    feed.mkdir()
    con.execute(
        f"copy (select c.date, l.item_id as sku, l.store_id as location, l.quantity "
        f"from long l join '{src / 'calendar.parquet'}' c on c.d = l.d "
        f"where l.quantity <> 0) to '{feed / 'sales.csv'}' (header)"
    )
    con.execute(
        f"copy (select distinct item_id as sku, cat_id as category, 7 as lead_time_days "
        f"from long) to '{feed / 'products.csv'}' (header)"
    )
    con.close()
    work = duckdb.connect(str(tmp_path / "work.duckdb"))
    result = load_feed(feed, work)
    assert result.rows_read["sales"] > 2_000_000
    assert result.rows_rejected["sales"] == 0
    assert result.as_of == date(2016, 6, 19)


QUANTITIES = {"3": None, "-2": None, "1.5": None, "1e2": None, "abc": "non-numeric quantity",
              "1,5": "non-numeric quantity", "inf": "non-numeric quantity",
              "": "missing quantity"}
SKUS = {"A": None, "B": None, "ZZZ": "unknown sku", "": "missing sku"}
DATES = {"2024-03-05": None, "2024-03-05T22:00:00+02:00": None, "2024-03-12": "after",
         "2024-02-30": "bad date date", "05/03/2024": "bad date date", "": "missing date"}


def _expected_reason(date_text: str, sku: str, quantity: str) -> str | None:
    """The documented priority: missing, then type errors, then unknown sku, then as_of."""
    reasons = [DATES[date_text], SKUS[sku], QUANTITIES[quantity]]
    for kind in ("missing date", "missing sku", "missing quantity"):
        if kind in reasons:
            return kind
    for kind in ("bad date date", "non-numeric quantity"):
        if kind in reasons:
            return kind
    if SKUS[sku]:
        return SKUS[sku]
    return "dated after as_of" if DATES[date_text] == "after" else None


def test_reject_reasons_follow_the_documented_priority(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    row = st.tuples(st.sampled_from(sorted(DATES)), st.sampled_from(sorted(SKUS)),
                    st.sampled_from(sorted(QUANTITIES)))

    @settings(max_examples=25, deadline=None, database=None, derandomize=True)
    @given(st.lists(row, min_size=1, max_size=25))
    def check(rows):
        feed = tmp_path / "feed"
        tables = base_feed()
        tables["sales"] = [
            {"order_id": "O", "line_id": str(i), "date": d, "sku": s, "location": "S1",
             "quantity": q}
            for i, (d, s, q) in enumerate(rows)
        ]
        tables["sales"].append({"order_id": "keep", "line_id": "1", "date": "2024-03-10",
                                "sku": "A", "location": "S1", "quantity": "1"})
        write_feed(feed, tables)
        con = duckdb.connect()
        result = load_feed(feed, con, as_of=date(2024, 3, 10))
        got = [r[0] for r in con.execute(
            "select _reject_reason from raw.sales order by _row_number").fetchall()]
        assert got[:-1] == [_expected_reason(d, s, q) for d, s, q in rows]
        info = result.tables["sales"]
        assert info.rows_read == len(rows) + 1 == info.rows_accepted + info.rows_rejected

    check()
