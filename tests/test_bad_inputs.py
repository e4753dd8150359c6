"""The bad-input catalogue: one test per case, each asserting the documented handling.

docs/DATA_QUALITY.md describes each case. Most cases share one messy feed, ingested once and
built once with dbt (module fixture); error cases use their own tiny feeds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from feedkit import base_feed, run_dbt, write_csv, write_feed

from restock.config import QualitySettings
from restock.feed.errors import FeedError
from restock.feed.reader import load_feed
from restock.quality.accounting import accounting_results, quarantine_rows

AS_OF = date(2024, 3, 10)

SALES_COLUMNS = ["order_id", "line_id", "date", "sku", "location", "quantity", "unit_price",
                 "promo", "customer_id"]


def _messy_tables() -> dict[str, list[dict]]:
    tables = base_feed()
    tables["products"].append({"sku": "D", "category": "food", "lead_time_days": "2",
                               "name": "Crème brûlée"})
    # issue 17: passed the reader and crashed dbt's BIGINT cast under a not-null test's name
    tables["products"].append({"sku": "E", "category": "food", "lead_time_days": "2",
                               "moq": "1e19"})
    # issue 17: expanded to 26.6 M rows (every day from year 1 to as_of + horizon)
    tables["promotions"].append({"sku": "C", "category": "", "location": "S2",
                                 "start_date": "0001-01-01", "end_date": "9999-12-31",
                                 "discount_pct": "5", "type": "forever"})
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
        line("Y1", "1", "0001-01-01", sku="D", loc="S1"),                # 12 year 1 (issue 17)
        line("Y2", "1", "1970-01-01", sku="D", loc="S1"),                # 13 epoch (issue 17)
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


@pytest.mark.parametrize(("table", "source", "row", "reason"), [
    ("sales", "sales/part-003.csv", 2, "unknown sku"),
    ("sales", "sales/part-003.csv", 3, "unknown location"),
    ("sales", "sales/part-003.csv", 1, "non-numeric quantity"),
    ("sales", "sales/part-003.csv", 9, "bad date date"),
    ("inventory", "inventory.csv", 4, "negative on_hand"),
    ("inventory", "inventory.csv", 5, "stockout_hours outside 0..24"),
])
def test_bad_rows_rejected_with_their_reason(messy, table, source, row, reason):
    work_db, _, _ = messy
    assert _reasons(work_db, table)[(source, row)] == reason


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


def feed_without_products(folder):
    """The base feed without its required products table, written to folder."""
    tables = base_feed()
    del tables["products"]
    return write_feed(folder, tables)


def write_config(folder, text):
    config = folder / "c.yml"
    config.write_text(text)
    return config


def test_missing_required_table(tmp_path):
    feed_without_products(tmp_path)
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


# ---- issue 17: bounds, right baselines, readable errors, preflight, derived state ----------


def test_sales_in_year_1_and_1970_are_quarantined(messy):
    work_db, _, _ = messy
    reasons = _reasons(work_db, "sales")
    assert reasons[("sales/part-003.csv", 12)] == "date before 2014-03-10 (as_of - 3653 days)"
    assert reasons[("sales/part-003.csv", 13)] == "date before 2014-03-10 (as_of - 3653 days)"
    with duckdb.connect(str(work_db), read_only=True) as con:
        first = con.execute("select min(date) from marts.fct_daily_demand "
                            "where sku = 'D' and location = 'S1'").fetchone()[0]
    assert first == date(2024, 3, 5)  # the series was not blown up to 739,067 days


def test_promotion_over_all_time_is_clipped_not_expanded(messy):
    work_db, result, build = messy
    assert build.returncode == 0
    assert _reasons(work_db, "promotions")[("promotions.csv", 3)] is None  # kept, clipped
    with duckdb.connect(str(work_db), read_only=True) as con:
        days, first, last = con.execute(
            "select count(*), min(date), max(date) "
            "from intermediate.int_promotions_expanded_to_days "
            "where sku = 'C' and location = 'S2' and type = 'forever'"
        ).fetchone()
    assert (first, last) == (date(2014, 3, 10), date(2024, 4, 7))
    assert days == 3653 + 28 + 1
    warnings = result.tables["promotions"].warnings
    assert any("start before 2014-03-10" in w and "clipped" in w for w in warnings)
    assert any("end after" in w and "clipped to the forecast horizon 2024-04-07" in w
               for w in warnings)


def test_moq_1e19_quarantined_naming_the_column_before_dbt(messy):
    work_db, _, build = messy
    assert _reasons(work_db, "products")[("products.csv", 5)] == (
        "moq out of range (above 9007199254740992)")
    assert build.returncode == 0, build.stdout[-3000:]  # no BIGINT cast error in staging


def test_spike_warns_on_a_warehouse_with_an_earlier_run(tmp_path):
    """The spike baseline is this feed's own history, not the previous run's mart."""
    from restock.quality.gx_suites import _spikes

    tables = base_feed()
    spike = dict(tables["sales"][-2], order_id="S", line_id="1", quantity="999")
    assert (spike["sku"], spike["location"], spike["date"]) == ("A", "S2", "2024-03-10")
    tables["sales"].append(spike)  # A/S2 sells 1 a day: 1,000 on the 10th
    feed = write_feed(tmp_path / "feed", tables)
    for earlier_run in (False, True):
        con = duckdb.connect()
        if earlier_run:  # the previous run's mart, built from a feed without the spike
            con.execute("create schema marts")
            con.execute("create table marts.fct_daily_demand as select 'A' as sku, "
                        "'S2' as location, cast(d as date) as date, 1.0 as units_sold "
                        "from range(date '2024-01-01', date '2024-03-10', interval 1 day) t(d)")
        load_feed(feed, con, as_of=AS_OF)
        _, check, severity, passed, failed, detail = _spikes(con, AS_OF, QualitySettings())
        assert (check, severity, passed, failed) == ("outlier_spikes", "warning", False, 1)
        assert "A/S2 2024-03-10 1000 (median 1)" in detail


def test_unterminated_quote_names_file_line_and_cause(tmp_path):
    write_feed(tmp_path, base_feed())
    lines = (tmp_path / "products.csv").read_text().splitlines()
    lines[2] = lines[2].replace("B,food", 'B,"food', 1)
    (tmp_path / "products.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(FeedError) as info:
        load_feed(tmp_path, duckdb.connect())
    message = str(info.value)
    assert message.startswith("products: cannot read file products.csv: line 3: unterminated "
                              "quote")
    assert "\n" not in message and "sniffing" not in message


def test_line_of_spaces_names_file_line_and_cause(tmp_path):
    write_feed(tmp_path, base_feed())
    with (tmp_path / "sales.csv").open("a") as handle:
        handle.write("        \n")
    with pytest.raises(FeedError) as info:
        load_feed(tmp_path, duckdb.connect())
    message = str(info.value)
    assert message.startswith("sales: cannot read file sales.csv: line 31 is blank but for "
                              "spaces")
    assert "\n" not in message


def test_missing_products_is_one_user_error_naming_file_and_what_to_do(tmp_path):
    from restock.errors import UserError

    feed_without_products(tmp_path)
    with pytest.raises(UserError) as info:
        load_feed(tmp_path, duckdb.connect())
    message = str(info.value)
    assert "\n" not in message and "no products.csv" in message
    assert "add it (required columns: sku, category, lead_time_days)" in message


def test_unknown_config_keys_rejected_with_did_you_mean(tmp_path):
    from restock.config import RestockConfig
    from restock.errors import ConfigError

    path = tmp_path / "c.yml"
    path.write_text("forcast:\n  horizon: 7\nforecast:\n  horizn: 14\n")
    with pytest.raises(ConfigError) as info:
        RestockConfig.load(path)
    message = str(info.value)
    assert "unknown key 'forcast' (did you mean 'forecast'?)" in message
    assert "unknown key 'forecast.horizn' (did you mean 'forecast.horizon'?)" in message
    assert str(path) in message and "\n" not in message


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    from restock.config import RestockConfig
    from restock.errors import ConfigError

    path = tmp_path / "c.yml"
    path.write_text("forecast:\n  horizon: 7\n  folds: [3\nquality: {}\n")
    with pytest.raises(ConfigError, match=r"c\.yml: line \d+, column \d+: YAML syntax error"):
        RestockConfig.load(path)


def test_as_of_far_past_the_feed_is_refused_by_preflight(tmp_path):
    from restock.errors import PreflightError
    from restock.preflight import preflight

    feed = write_feed(tmp_path / "feed")
    report = preflight(feed, tmp_path / "wh" / "restock.duckdb", date(2030, 1, 1), None)
    assert not report.ok and len(report.problems) == 1
    assert report.problems[0].startswith(
        "as_of 2030-01-01 is 2123 days after the feed's last sale 2024-03-10")
    with pytest.raises(PreflightError, match="--allow-stale"):
        report.raise_if_failed()
    allowed = preflight(feed, None, date(2030, 1, 1), None, allow_stale=True)
    assert allowed.ok and allowed.warnings
    assert preflight(feed, tmp_path / "wh" / "restock.duckdb", None, None).ok


def test_preflight_names_unknown_config_keys_and_missing_products(tmp_path):
    from restock.preflight import preflight

    feed = feed_without_products(tmp_path / "feed")
    config = write_config(tmp_path, "quality:\n  freshnes_days: 5\n")
    report = preflight(feed, None, None, config)
    assert any("did you mean 'quality.freshness_days'" in p for p in report.problems)
    assert any(p.startswith("products: required table missing") for p in report.problems)


def test_read_only_warehouse_folder_is_a_preflight_problem(tmp_path, monkeypatch):
    import os

    import restock.preflight
    from restock.preflight import preflight

    if os.geteuid() == 0:  # root writes anywhere: make the probe file fail as it would
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(restock.preflight.tempfile, "NamedTemporaryFile", refuse)
    feed = write_feed(tmp_path / "feed")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        report = preflight(feed, locked / "restock.duckdb", None, None)
    finally:
        locked.chmod(0o700)
    assert report.problems == [
        f"warehouse folder {locked} is not writable; choose a --warehouse in a folder you can "
        "write, or fix its permissions"]


def test_truncated_volumes_state_is_rebuilt_not_fatal(tmp_path, caplog):
    from restock.derived import read_state_json, write_state_json

    state = tmp_path / "restock_state" / "volumes.json"
    write_state_json(state, {"as_of": "2024-03-09", "tables": {"sales": 30}})
    assert read_state_json(state) == {"as_of": "2024-03-09", "tables": {"sales": 30}}
    state.write_text('{"as_of": "2024-03-09", "tab')  # a kill mid-write
    assert read_state_json(state) is None
    assert "volumes.json is unreadable" in caplog.text and "derived data" in caplog.text
    assert not state.exists() and state.with_name("volumes.json.corrupt").exists()
    write_state_json(state, {"tables": {}})  # the next published run writes it again
    assert read_state_json(state) == {"tables": {}}


def test_corrupt_work_db_is_named_as_derived_and_safe_to_delete(tmp_path):
    from restock.derived import check_work_db
    from restock.preflight import preflight

    warehouse = tmp_path / "restock.duckdb"
    work = tmp_path / "restock.work.duckdb"
    work.write_bytes(b"\0garbage" * 4096)
    problem = check_work_db(work)
    assert problem.startswith(f"work DB {work} is damaged")
    assert "derived from the feed and safe to delete" in problem and "\n" not in problem
    report = preflight(write_feed(tmp_path / "feed"), warehouse, None, None)
    assert report.problems == [problem]


# ---- further hostile cases of the same classes ---------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A base feed with implausible dates and magnitudes in every table, ingested without as_of."""
    tables = base_feed()
    product = {"category": "food", "lead_time_days": "2"}
    tables["products"] += [{**product, "sku": "F", "lead_time_days": "1e9"},   # row 4
                           {**product, "sku": "G", "pack_size": "1e19"}]       # row 5
    sale = dict(tables["sales"][0], order_id="H")
    tables["sales"] += [{**sale, "line_id": "1", "date": "2099-01-01"},        # row 30
                        {**sale, "line_id": "2", "quantity": "1e300"}]         # row 31
    tables["inventory"].append({"date": "1900-01-01", "sku": "A", "location": "S1",
                                "on_hand": "5", "on_order": "0"})              # row 4
    tables["purchase_orders"].append(dict(tables["purchase_orders"][2], po_id="P9",
                                          expected_date="9999-12-31"))         # row 5
    promo = {"sku": "A", "category": "", "location": "S1", "discount_pct": "10", "type": "x"}
    tables["promotions"] += [{**promo, "start_date": "2024-06-01", "end_date": "2024-06-02"},
                             {**promo, "start_date": "2001-01-01", "end_date": "2001-02-01"}]
    tables["drivers"].append({"date": "9999-12-31", "location": "", "driver": "temperature",
                              "value": "1"})                                   # row 3
    tables["events"] += [{"date": "3000-01-01", "location": "", "name": "Y3K", "type": "x"},
                         {"date": "1900-01-01", "location": "", "name": "Old", "type": "x"}]
    root = tmp_path_factory.mktemp("hostile")
    feed = write_feed(root / "feed", tables)
    con = duckdb.connect(str(root / "work.duckdb"))
    result = load_feed(feed, con)
    yield con, result
    con.close()


def _reason(con, table: str, row: int) -> str | None:
    return con.execute(f"select _reject_reason from raw.{table} where _row_number = ?",
                       [row]).fetchone()[0]


def test_a_sale_dated_2099_does_not_become_the_default_as_of(hostile):
    con, result = hostile
    assert result.as_of == AS_OF
    assert _reason(con, "sales", 30) == "dated after as_of"


_AHEAD = "date after 2024-04-07 (as_of + 28 days, the forecast horizon)"
_BEFORE = "date before 2014-03-10 (as_of - 3653 days)"
_FAR = (AS_OF + timedelta(days=3653)).isoformat()


@pytest.mark.parametrize(("table", "row", "reason"), [
    pytest.param("drivers", 3, _AHEAD, id="driver beyond the horizon"),
    pytest.param("events", 2, _AHEAD, id="event beyond the horizon"),
    pytest.param("events", 3, _BEFORE, id="event before the window"),
    pytest.param("drivers", 2, None, id="tomorrow's forecast temperature is fine"),
    pytest.param("inventory", 4, _BEFORE, id="inventory dated 1900"),
    pytest.param("purchase_orders", 5, f"expected_date after {_FAR} (as_of + 3653 days)",
                 id="PO expected in year 9999"),
    pytest.param("purchase_orders", 4, None, id="long lead times kept"),
    pytest.param("promotions", 3,
                 "start_date after 2024-04-07 (as_of + 28 days, the forecast horizon)",
                 id="promotion wholly after the horizon"),
    pytest.param("promotions", 4, "end_date before 2014-03-10 (as_of - 3653 days)",
                 id="promotion wholly before the window"),
    pytest.param("products", 4, "lead_time_days above 3653 days", id="lead time of a billion days"),
    pytest.param("products", 5, "pack_size out of range (above 9007199254740992)",
                 id="pack size 1e19, naming the column"),
    pytest.param("sales", 31, "quantity out of range (above 1e+15)",
                 id="quantity 1e300, before sums overflow"),
])
def test_hostile_rows_quarantined_with_their_reason(hostile, table, row, reason):
    con, _ = hostile
    assert _reason(con, table, row) == reason


def test_hostile_feed_keeps_the_accounting_invariant(hostile):
    con, result = hostile
    checks = accounting_results(con, result)
    assert checks["passed"].all(), checks.to_string()
    assert sum(result.rows_rejected.values()) == 11  # every planted row, nothing else


def test_unquoted_comma_names_the_line_and_field_counts(tmp_path):
    write_feed(tmp_path, base_feed())
    with (tmp_path / "locations.csv").open("a") as handle:
        handle.write("S3,Store 3, the big one,north,store\n")
    with pytest.raises(FeedError, match=r"^locations: cannot read file locations.csv: line 4 has "
                                        r"5 fields, the header has 4"):
        load_feed(tmp_path, duckdb.connect())


def test_broken_parquet_is_one_line(tmp_path):
    tables = base_feed()
    del tables["events"]
    write_feed(tmp_path, tables)
    (tmp_path / "events.parquet").write_text("date,name\n2024-03-01,x\n")
    with pytest.raises(FeedError) as info:
        load_feed(tmp_path, duckdb.connect())
    message = str(info.value)
    assert message.startswith("events: cannot read file events.parquet: not a readable Parquet")
    assert "\n" not in message


def test_feed_path_that_is_a_file_is_named(tmp_path):
    from restock.preflight import preflight

    (tmp_path / "feed.csv").write_text("x\n")
    report = preflight(tmp_path / "feed.csv", None, None, None)
    assert report.problems == [f"feed {tmp_path / 'feed.csv'} is a file, not a folder; pass the "
                               "folder holding products.csv and sales.csv"]
    with pytest.raises(FeedError, match="feed directory not found"):
        load_feed(tmp_path / "nope", duckdb.connect())


@pytest.mark.parametrize("name", ["o'brien.duckdb", "a;b.duckdb", "we ird.duckdb",
                                  "restock.db", "$HOME.duckdb"])
def test_unsafe_warehouse_names_refused_by_preflight(tmp_path, name):
    from restock.preflight import preflight

    report = preflight(write_feed(tmp_path / "feed"), tmp_path / name, None, None)
    assert len(report.problems) == 1 and "warehouse" in report.problems[0]
    assert not (tmp_path / name).exists()


def test_nested_config_typo_and_non_mapping_config(tmp_path):
    from restock.config import RestockConfig
    from restock.errors import ConfigError

    path = tmp_path / "c.yml"
    path.write_text("replenish:\n  service_levls: {AX: 0.99}\n")
    with pytest.raises(ConfigError, match=r"'replenish.service_levls' \(did you mean "
                                          r"'replenish.service_levels'\?\)"):
        RestockConfig.load(path)
    path.write_text("- forecast\n- quality\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        RestockConfig.load(path)
    with pytest.raises(FileNotFoundError, match="config file not found"):
        RestockConfig.load(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h/db?sslmode=require&password=Q", "postgresql://u:***@h/db?"
         "sslmode=require&password=***"),
        ("mysql+pymysql://root@h/db?pwd=Q&charset=utf8", "mysql+pymysql://root@h/db?pwd=***&"
         "charset=utf8"),
        ("https://hooks.example.com/x?token=Q&api-key=Q&channel=ops", "https://hooks.example.com/"
         "x?token=***&api-key=***&channel=ops"),
        ("https://bot:Q@alerts.example.com/post#frag", "https://bot:***@alerts.example.com/post"
         "#frag"),
        ("https://s3.example.com/b?X-Amz-Signature=Q&X-Amz-Credential=Q", "https://s3.example"
         ".com/b?X-Amz-Signature=***&X-Amz-Credential=***"),
        ("sqlite:////var/erp.sqlite", "sqlite:////var/erp.sqlite"),
    ],
)
def test_mask_url_masks_userinfo_and_query_secrets(url, shown):
    from restock.secrets import mask_url, scrub, url_secrets

    assert mask_url(url) == shown
    assert "Q" not in scrub(f"failed: {url}", url_secrets(url)).replace("Query", "")


def test_state_file_holding_a_list_is_set_aside(tmp_path):
    from restock.derived import read_state_json

    state = tmp_path / "volumes.json"
    state.write_text("[1, 2]")
    assert read_state_json(state) is None and not state.exists()
    assert read_state_json(tmp_path / "absent.json") is None


@contextmanager
def _work_db_held_by_another_process(work: Path):
    """A second process holding ``work`` open (DuckDB's file lock), killed on exit."""
    duckdb.connect(str(work)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(work)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_work_db_locked_by_another_process_names_it(tmp_path):
    from restock.derived import check_work_db

    work = tmp_path / "restock.work.duckdb"
    with _work_db_held_by_another_process(work) as holder:
        problem = check_work_db(work)
    assert problem.startswith(f"work DB {work} is locked by process {holder.pid}")
    assert check_work_db(work) is None


# ---- orchestration: preflight, exit codes, derived state, one publication, secrets ----------


def _cli(argv):
    """Run ``restock`` in-process; (exit code, stdout, stderr)."""
    import contextlib
    import io

    from pipelines.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_validate_prints_each_problem_on_one_line_and_exits_1(tmp_path):
    feed = feed_without_products(tmp_path / "feed")
    config = write_config(tmp_path, "forecast:\n  horizn: 14\n")
    code, out, err = _cli(["validate", "--feed", feed, "--config", config])
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 2 and "Traceback" not in err
    assert any("did you mean 'forecast.horizon'" in p for p in problems)
    assert any("products: required table missing" in p for p in problems)
    good = write_feed(tmp_path / "good")
    code, out, err = _cli(["validate", "--feed", good, "--warehouse", tmp_path / "w.duckdb"])
    assert code == 0 and "OK (sales" in out and err == ""


def test_run_refuses_as_of_far_past_the_feed_before_any_work(tmp_path):
    feed = write_feed(tmp_path / "feed")
    warehouse = tmp_path / "wh" / "restock.duckdb"
    code, out, err = _cli(["run", "--feed", feed, "--warehouse", warehouse,
                           "--as-of", "2030-01-01"])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restock run: as_of 2030-01-01 is ")
    assert "--allow-stale" in lines[0]
    # refused before any work: no work DB, no published file, no Dagster run recorded
    assert not (warehouse.parent / "restock.work.duckdb").exists()
    assert not warehouse.exists()


def test_unknown_config_key_refused_before_any_work_and_v_anywhere_shows_the_stack(tmp_path):
    feed = write_feed(tmp_path / "feed")
    config = tmp_path / "c.yml"
    config.write_text("forcast:\n  horizon: 7\n")
    warehouse = tmp_path / "wh" / "restock.duckdb"
    args = ["run", "--feed", feed, "--warehouse", warehouse, "--config", config]
    code, _, err = _cli(args)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown key 'forcast' (did you mean 'forecast'?)" in err and "Traceback" not in err
    assert not (warehouse.parent / "restock.work.duckdb").exists()
    for argv in (["-v", *args], [*args, "-v"], [args[0], "--verbose", *args[1:]]):
        code, _, err = _cli(argv)
        assert code == 2 and "Traceback" in err and "PreflightError" in err, argv
        assert err.strip().splitlines()[-1].startswith("restock run: config file")


def test_damaged_work_db_is_set_aside_by_the_run_not_fatal(tmp_path):
    feed = write_feed(tmp_path / "feed")
    warehouse = tmp_path / "restock.duckdb"
    work = tmp_path / "restock.work.duckdb"
    work.write_bytes(b"\0garbage" * 4096)
    # refused later for as_of, but the damaged work DB no longer is the problem: set aside
    code, _, err = _cli(["run", "--feed", feed, "--warehouse", warehouse,
                         "--as-of", "2030-01-01"])
    assert code == 2 and "as_of 2030-01-01" in err and "work DB" not in err
    assert not work.exists() and (tmp_path / "restock.work.duckdb.corrupt").exists()


def test_locked_work_db_is_named_by_the_steps_connection(tmp_path):
    from assets.resources import RestockResource
    from restock.errors import DerivedStateError

    work = tmp_path / "restock.work.duckdb"
    with _work_db_held_by_another_process(work) as holder:
        resource = RestockResource(feed=str(tmp_path), warehouse=str(tmp_path / "restock.duckdb"))
        with pytest.raises(DerivedStateError) as info:
            resource.connect()
    assert str(info.value).startswith(f"work DB {work} is locked by process {holder.pid}")


def _summary_warehouse(path):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.model_selection as select 'food' as category, "
                "'smooth' as demand_class, 'ets' as selected_model, "
                "cast(null as double) as score, cast(null as double) as value_added")
    con.execute("create table marts.stockout_alerts as select 'A' as sku, 'S1' as location, "
                "'high' as severity, cast(null as date) as projected_stockout_date, "
                "cast(null as double) as stockout_probability, "
                "cast(null as double) as recommended_order_qty")
    con.execute("create table marts.policy_replay as select 'restock' as policy, "
                "cast(null as double) as parameter, cast(null as double) as avg_inventory_units, "
                "cast(null as double) as stockout_rate, cast(null as double) as fill_rate, "
                "'ALL' as category")
    con.execute("create table marts.demand_forecasts as select date '2024-03-10' as as_of")
    con.close()
    return path


def test_published_summary_survives_units_without_a_backtest_score(tmp_path):
    from pipelines.runner import published_summary

    text = published_summary(_summary_warehouse(tmp_path / "restock.duckdb"))
    assert "RMSSE n/a" in text and "p=n/a" in text and "fill rate" in text


@pytest.mark.parametrize("published, code, said", [
    (True, 3, "PUBLISHED run r1"),
    (False, 1, "nothing new was published"),
])
def test_exit_code_says_whether_the_run_published(tmp_path, monkeypatch, published, code, said):
    import pipelines.runner
    from pipelines.runner import RunOutcome

    feed = write_feed(tmp_path / "feed")
    warehouse = _summary_warehouse(tmp_path / "restock.duckdb")
    outcome = RunOutcome(success=False, run_id="r1", seconds=1.0, published=published,
                         failures=["step run_report failed: OSError: disk full"])
    monkeypatch.setattr(pipelines.runner, "run_nightly", lambda *a, **k: outcome)
    got, out, err = _cli(["run", "--feed", feed, "--warehouse", warehouse])
    assert got == code and said in err and "step run_report failed" in err
    if published:
        assert "nothing new was published" not in err and "Published tables" in out


def _publish_env(tmp_path):
    from restock.paths import RunPaths

    work = tmp_path / "work.duckdb"
    con = duckdb.connect(str(work))
    con.execute("create schema results")
    con.execute("create table results.quarantine as select 'sales' as source, 1 as n")
    con.close()
    return RunPaths.from_warehouse(tmp_path / "pub" / "restock.duckdb").ensure(), work


def _run_ids(paths):
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        db = con.execute("select distinct run_id from marts.quarantine").fetchall()
    pq = duckdb.sql(f"select distinct run_id from '{paths.parquet_dir}/quarantine.parquet'"
                    ).fetchall()
    return db[0][0], pq[0][0]


def test_duckdb_file_and_parquet_folder_switch_in_one_rename(tmp_path, monkeypatch):
    import os

    import restock.publishing.publication as publication
    from restock.config import PublishSettings
    from restock.publishing import publish_tables

    paths, work = _publish_env(tmp_path)
    tables = {"quarantine": ["source", "n"]}
    # a warehouse from before the versioned layout: W a regular file, migrated by the publish
    publish_tables(work, paths, "run-1", "2024-03-10", PublishSettings(), tables)
    assert _run_ids(paths) == ("run-1", "run-1")
    assert paths.warehouse.is_symlink()  # same path for BI, resolving into the publication
    assert os.path.realpath(paths.warehouse).startswith(os.path.realpath(paths.parquet_dir))

    def killed(*args, **kwargs):
        raise SystemExit("killed between moving the DuckDB file and the flip")

    monkeypatch.setattr(publication, "flip_parquet_link", killed)
    with pytest.raises(SystemExit):
        publish_tables(work, paths, "run-2", "2024-03-11", PublishSettings(), tables)
    assert _run_ids(paths) == ("run-1", "run-1")  # both still the previous run
    monkeypatch.undo()
    publish_tables(work, paths, "run-3", "2024-03-12", PublishSettings(), tables)
    assert _run_ids(paths) == ("run-3", "run-3")
    assert paths.warehouse.resolve().parent == paths.parquet_dir.resolve()


def test_two_warehouses_in_one_folder_do_not_share_reports(tmp_path):
    from restock.paths import RunPaths

    a = RunPaths.from_warehouse(tmp_path / "a.duckdb")
    b = RunPaths.from_warehouse(tmp_path / "b.duckdb")
    assert a.reports_dir != b.reports_dir and a.latest_report != b.latest_report
    assert a.run_report_dir("2024-03-10", "r1") != b.run_report_dir("2024-03-10", "r1")
    assert a.run_report_dir("2024-03-10", "r1") != a.run_report_dir("2024-03-10", "r2")


def test_dbt_child_dies_with_a_killed_run_and_releases_the_work_db(tmp_path):
    """SIGKILL of the process that launched dbt: its dbt child must not keep the work DB lock.

    The child is restock/dbt_child.py, as the Definitions' DbtCliResource runs it; the "dbt" it
    execs here holds the work DB for writing, as dbt does during a build."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import restock.dbt_child
    from pipelines.definitions import defs

    child = restock.dbt_child.__file__
    assert defs.resources["dbt"].dbt_executable == child  # what dagster-dbt launches
    work = tmp_path / "restock.work.duckdb"
    fake_dbt = tmp_path / "dbt"
    fake_dbt.write_text(f"#!{sys.executable}\nimport duckdb, time\n"
                        f"c = duckdb.connect({str(work)!r})\nprint('building', flush=True)\n"
                        "time.sleep(120)\n")
    fake_dbt.chmod(0o755)
    run = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "p = subprocess.Popen([sys.argv[1], 'build']); print(p.pid, flush=True); "
         "time.sleep(120)", child],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "RESTOCK_DBT_EXECUTABLE":
                                                 str(fake_dbt)},
    )
    dbt_pid = int(run.stdout.readline())
    assert run.stdout.readline().strip() == "building"
    run.send_signal(signal.SIGKILL)
    run.wait()
    # A killed multi-threaded process shows as a zombie while its other threads still exit and
    # hold its files; the lock goes with the last thread. Retry the write for up to 10 s, as a
    # rerun started right after would wait on its retry policy.
    deadline = time.monotonic() + 10
    while True:
        try:
            con = duckdb.connect(str(work))
            break
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise AssertionError(f"dbt (pid {dbt_pid}) still holds the work DB 10 s after "
                                     "its parent was killed") from None
            time.sleep(0.1)
    with con:
        con.execute("create table t as select 1")


def test_postgres_error_masks_a_password_given_as_query_parameter():
    import sqlalchemy as sa

    from restock.publishing.postgres import PublishError, hide_password

    url = sa.engine.make_url("postgresql://bi@db.example:5432/restock?password=s3cr3tpw")
    with pytest.raises(PublishError) as info, hide_password(url):
        raise sa.exc.OperationalError(
            "connect", {}, Exception(f"could not connect to {url.render_as_string(False)} "
                                     "password=s3cr3tpw"))
    assert "s3cr3tpw" not in str(info.value) and "password=***" in str(info.value)


def test_dask_dashboard_binds_localhost_without_an_address(monkeypatch):
    import distributed

    from restock.forecasting.models import dask_client
    from restock.forecasting.settings import ForecastSettings

    seen = {}
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: seen.update(k) or "client")
    assert dask_client(ForecastSettings(backend="dask")) == "client"
    assert seen["dashboard_address"].startswith("127.0.0.1:")
