"""The bad-input catalogue: one test per case, each asserting the documented handling.

docs/DATA_QUALITY.md describes each case. Most cases share one messy feed, ingested once and
built once with dbt (module fixture); error cases use their own tiny feeds.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pytest
from feedkit import base_feed, run_dbt, write_csv, write_feed

from restock.config import QualitySettings
from restock.feed.reader import FeedError, load_feed
from restock.quality.accounting import accounting_results, quarantine_rows

AS_OF = date(2024, 3, 10)

SALES_COLUMNS = ["order_id", "line_id", "date", "sku", "location", "quantity", "unit_price",
                 "promo", "customer_id"]


def _messy_tables() -> dict[str, list[dict]]:
    tables = base_feed()
    tables["products"].append({"sku": "D", "category": "food", "lead_time_days": "2",
                               "name": "Crème brûlée"})
    return tables


def _bad_sales_rows() -> list[dict]:
    def line(order, lineno, day, sku="A", loc="S2", qty="1"):
        return {"order_id": order, "line_id": lineno, "date": day, "sku": sku, "location": loc,
                "quantity": qty, "unit_price": "2.0", "promo": "false", "customer_id": "K9"}

    return [
        line("X1", "1", "2024-03-05", qty="abc"),                        # 1 non-numeric
        line("X2", "1", "2024-03-05", sku="ZZZ"),                        # 2 unknown sku
        line("X3", "1", "2024-03-05", loc="S9"),                         # 3 unknown location
        line("X4", "1", "2024-03-15"),                                   # 4 after as_of
        line("X5", "1", "2024-03-05T23:30:00-05:00", sku="D", loc="S1"),  # 5 timestamp + zone
        line("X6", "1", "2024-03-06", sku="D", loc="S1", qty="-2"),      # 6 return
        line("X5", "1", "2024-03-05T23:30:00-05:00", sku="D", loc="S1"),  # 7 duplicate key
        line("X7", "1", "2024-03-09", qty="99"),                         # 8 spike (A/S2: 1 -> 100)
        line("X8", "1", "2024-13-01"),                                   # 9 bad date
        line("X9", "", "2024-03-07", sku="D", loc="S1", qty="3"),        # 10 no line_id
        line("X9", "", "2024-03-07", sku="D", loc="S1", qty="3"),        # 11 exact duplicate
    ]


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """The messy feed, ingested and built with dbt once: (work_db, ingest result, dbt run)."""
    root = tmp_path_factory.mktemp("messy")
    feed = root / "feed"
    tables = _messy_tables()
    sales = tables.pop("sales")
    products = tables.pop("products")
    write_feed(feed, tables)
    # products written in latin-1, with an extra column
    for row in products:
        row["shelf"] = "top"
    write_csv(feed / "products.csv", products, encoding="latin-1")
    # sales as a part folder: part 1 with a BOM, part 2 the same file dropped twice
    write_csv(feed / "sales" / "part-001.csv", sales, SALES_COLUMNS, encoding="utf-8-sig")
    (feed / "sales" / "part-002.csv").write_bytes((feed / "sales" / "part-001.csv").read_bytes())
    write_csv(feed / "sales" / "part-003.csv", _bad_sales_rows(), SALES_COLUMNS)
    inventory = tables["inventory"] + [
        {"date": "2024-03-08", "sku": "A", "location": "S1", "on_hand": "-4", "on_order": ""},
        {"date": "2024-03-08", "sku": "B", "location": "S1", "on_hand": "", "on_order": "",
         "stockout_hours": "30"},
    ]
    write_csv(feed / "inventory.csv", inventory,
              ["date", "sku", "location", "on_hand", "on_order", "stockout_hours"])
    work_db = root / "work.duckdb"
    con = duckdb.connect(str(work_db))
    result = load_feed(feed, con, as_of=AS_OF)
    con.close()
    build = run_dbt(work_db, AS_OF.isoformat(), "build", target_dir=root / "dbt_target")
    return work_db, result, build


def _reasons(work_db, table: str) -> dict[tuple[str, int], str | None]:
    with duckdb.connect(str(work_db), read_only=True) as con:
        rows = con.execute(
            f"select _source_file, _row_number, _reject_reason from raw.{table}"
        ).fetchall()
    return {(f, n): r for f, n, r in rows}


def test_dbt_build_passes_on_messy_feed(messy):
    _, _, build = messy
    assert build.returncode == 0, build.stdout[-3000:]


def test_whole_file_dropped_twice_is_rejected_as_duplicates(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "sales")
    copies = {k: r for k, r in reasons.items() if k[0] == "sales/part-002.csv"}
    assert len(copies) == 29
    assert all(r == f"duplicate of sales/part-001.csv:{n}" for (_, n), r in copies.items())
    assert all(r is None for k, r in reasons.items() if k[0] == "sales/part-001.csv")


def test_duplicated_rows_rejected_by_key_or_whole_row(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "sales")
    assert reasons[("sales/part-003.csv", 5)] is None
    assert reasons[("sales/part-003.csv", 7)] == "duplicate of sales/part-003.csv:5"
    assert reasons[("sales/part-003.csv", 10)] is None
    assert reasons[("sales/part-003.csv", 11)] == "duplicate of sales/part-003.csv:10"


def test_negative_quantities_kept_as_returns(messy):
    work_db, _, _ = messy
    assert _reasons(work_db, "sales")[("sales/part-003.csv", 6)] is None
    with duckdb.connect(str(work_db), read_only=True) as con:
        sold, returned = con.execute(
            "select units_sold, units_returned from marts.fct_daily_demand "
            "where sku = 'D' and location = 'S1' and date = '2024-03-06'"
        ).fetchone()
    assert (sold, returned) == (0.0, 2.0)


def test_dates_after_as_of_rejected(messy):
    work_db, result, _ = messy
    assert _reasons(work_db, "sales")[("sales/part-003.csv", 4)] == "dated after as_of"
    assert result.as_of == AS_OF
    with duckdb.connect(str(work_db), read_only=True) as con:
        latest = con.execute("select max(date) from marts.fct_daily_demand").fetchone()[0]
    assert latest == AS_OF


def test_missing_days_are_zero_in_the_spine(messy):
    work_db, _, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        rows = con.execute(
            "select date, units_sold from marts.fct_daily_demand "
            "where sku = 'B' and location = 'S1' order by date"
        ).fetchall()
    assert [d for d, _ in rows] == [date(2024, 3, day) for day in range(1, 11)]
    assert dict(rows)[date(2024, 3, 4)] == 0.0 and dict(rows)[date(2024, 3, 5)] == 0.0


def test_unknown_sku_and_location_rejected(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "sales")
    assert reasons[("sales/part-003.csv", 2)] == "unknown sku"
    assert reasons[("sales/part-003.csv", 3)] == "unknown location"


def test_non_numeric_quantity_and_bad_date_rejected(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "sales")
    assert reasons[("sales/part-003.csv", 1)] == "non-numeric quantity"
    assert reasons[("sales/part-003.csv", 9)] == "bad date date"


def test_rule_violations_rejected(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "inventory")
    assert reasons[("inventory.csv", 4)] == "negative on_hand"
    assert reasons[("inventory.csv", 5)] == "stockout_hours outside 0..24"


def test_every_row_is_accepted_or_quarantined(messy):
    work_db, result, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        checks = accounting_results(con, result)
        quarantine = quarantine_rows(con, datetime(2024, 3, 11, 2, 0))
    assert checks["passed"].all(), checks.to_string()
    assert len(quarantine) == sum(result.rows_rejected.values())
    first = json.loads(quarantine.iloc[0]["row"])
    assert {"_source_file", "_row_number"} <= set(first)


def test_timestamps_with_zones_use_the_business_date(messy):
    work_db, _, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        units = con.execute(
            "select units_sold from marts.fct_daily_demand "
            "where sku = 'D' and location = 'S1' and date = '2024-03-05'"
        ).fetchone()[0]
    assert units == 1.0  # 23:30 at -05:00 stays on the 5th (not the UTC 6th)


def test_utf8_bom_read_correctly(messy):
    work_db, result, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        first = con.execute(
            "select order_id from raw.sales where _source_file = 'sales/part-001.csv' "
            "and _row_number = 1"
        ).fetchone()[0]
    assert first == "O1"  # the BOM did not end up in the first column's name or value
    assert not any("not UTF-8" in w for w in result.tables["sales"].warnings)


def test_latin1_file_read_with_warning(messy):
    work_db, result, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        name = con.execute("select name from marts.dim_products where sku = 'D'").fetchone()[0]
    assert name == "Crème brûlée"
    assert any("read as latin-1" in w for w in result.tables["products"].warnings)


def test_extra_columns_kept_raw_with_warning(messy):
    work_db, result, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        shelves = con.execute("select distinct shelf from raw.products").fetchall()
    assert shelves == [("top",)]
    assert any("extra columns" in w and "shelf" in w for w in result.tables["products"].warnings)


# ---- error cases: each on its own tiny feed ------------------------------------------------


def test_missing_required_column_names_it(tmp_path):
    tables = base_feed()
    for row in tables["sales"]:
        del row["quantity"]
    write_feed(tmp_path, tables)
    with pytest.raises(FeedError, match=r"sales: file sales.csv .*'quantity'"):
        load_feed(tmp_path, duckdb.connect())


def test_missing_required_table(tmp_path):
    tables = base_feed()
    del tables["products"]
    write_feed(tmp_path, tables)
    with pytest.raises(FeedError, match="products: required table missing"):
        load_feed(tmp_path, duckdb.connect())


def test_semicolon_delimiter_is_a_clear_error(tmp_path):
    tables = base_feed()
    sales = tables.pop("sales")
    write_feed(tmp_path, tables)
    write_csv(tmp_path / "sales.csv", sales, delimiter=";")
    with pytest.raises(FeedError, match=r"sales: file sales.csv uses a semicolon"):
        load_feed(tmp_path, duckdb.connect())


def test_header_only_required_table_is_an_error(tmp_path):
    tables = base_feed()
    write_feed(tmp_path, tables)
    write_csv(tmp_path / "sales.csv", [], SALES_COLUMNS)
    with pytest.raises(FeedError, match="sales: no rows"):
        load_feed(tmp_path, duckdb.connect())


def test_empty_required_file_is_an_error(tmp_path):
    write_feed(tmp_path, base_feed())
    (tmp_path / "products.csv").write_bytes(b"")
    with pytest.raises(FeedError, match="products: no rows"):
        load_feed(tmp_path, duckdb.connect())


def test_empty_and_header_only_optional_tables_are_fine(tmp_path):
    write_feed(tmp_path, base_feed())
    (tmp_path / "events.csv").write_bytes(b"")
    write_csv(tmp_path / "promotions.csv", [], ["sku", "start_date", "end_date"])
    con = duckdb.connect()
    result = load_feed(tmp_path, con)
    assert result.rows_read["events"] == 0 and result.rows_read["promotions"] == 0
    assert any("empty" in w for w in result.tables["events"].warnings)
    # raw tables still carry every contract column so dbt always has its sources
    cols = {r[0] for r in con.execute("describe raw.promotions").fetchall()}
    assert {"category", "location", "discount_pct", "_reject_reason"} <= cols


def test_outlier_spike_flagged_not_clipped(messy):
    from restock.quality.gx_suites import run_raw_suites

    work_db, _, _ = messy
    with duckdb.connect(str(work_db), read_only=True) as con:
        results, _ = run_raw_suites(con, AS_OF, None, None, QualitySettings())
        value = con.execute(
            "select units_sold from marts.fct_daily_demand "
            "where sku = 'A' and location = 'S2' and date = '2024-03-09'"
        ).fetchone()[0]
    spikes = results[results["check"] == "outlier_spikes"].iloc[0]
    assert spikes["severity"] == "warning" and not spikes["passed"]
    assert spikes["failed_rows"] == 1 and "A/S2 2024-03-09" in spikes["detail"]
    assert value == 100.0


def test_unit_change_between_drops_warns(tmp_path):
    from restock.quality.gx_suites import run_raw_suites

    first = write_feed(tmp_path / "first")
    con = duckdb.connect()
    load_feed(first, con)
    _, volumes = run_raw_suites(con, None, None, None, QualitySettings())
    tables = base_feed()
    for row in tables["sales"]:
        row["quantity"] = str(float(row["quantity"]) * 12)
    second = write_feed(tmp_path / "second", tables)
    load_feed(second, con)
    results, _ = run_raw_suites(con, None, volumes, None, QualitySettings())
    unit = results[results["check"] == "unit_change"].iloc[0]
    assert unit["severity"] == "warning" and not unit["passed"]
    assert "possible unit change" in unit["detail"]


def test_parquet_zoned_timestamps_use_the_utc_date(tmp_path):
    import pandas as pd

    tables = base_feed()
    write_feed(tmp_path, {k: v for k, v in tables.items() if k != "sales"})
    sales = pd.DataFrame(tables["sales"][:2])
    sales["date"] = pd.to_datetime(["2024-03-05T23:30:00-05:00", "2024-03-05T10:00:00+02:00"],
                                   utc=True)
    sales.to_parquet(tmp_path / "sales.parquet")
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Tokyo'")  # the machine's zone must not matter
    load_feed(tmp_path, con, as_of=AS_OF)
    written = [r[0] for r in con.execute("select date from raw.sales order by _row_number")
               .fetchall()]
    assert [w[:10] for w in written] == ["2024-03-06", "2024-03-05"]
