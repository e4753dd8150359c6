"""The public-data importers convert faithfully: counts and totals match the source files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.contract import INPUT_TABLES
from restock.importers.common import write_csv, write_parquet
from restock.importers.freshretailnet import import_freshretailnet
from restock.importers.m5 import import_m5
from restock.importers.online_retail import category_for, import_online_retail
from restock.importers.spare_parts import import_spare_parts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _need(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"real data set {path} is absent (../shared/data beside the repo)")
    return path


def _sql(query: str, *params) -> pd.DataFrame:
    with duckdb.connect() as con:
        return con.execute(query, list(params)).df()


def _assert_contract_columns(feed: Path) -> None:
    for path in feed.iterdir():
        spec = INPUT_TABLES[path.name.split(".")[0]]
        reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
        columns = _sql(f"select * from {reader}(?) limit 0", str(path)).columns
        assert set(spec.required_columns) <= set(columns), path.name


def test_m5_keeps_every_nonzero_item_day(tmp_path):
    src = _need("m5_ca1")
    summary = import_m5(src, tmp_path / "m5", lead_time_days=5)
    feed = tmp_path / "m5"
    _assert_contract_columns(feed)
    wide = pd.read_parquet(src / "sales_wide.parquet")
    cells = wide[[c for c in wide.columns if c.startswith("d_")]].to_numpy(dtype=float)
    expected_rows = int(np.count_nonzero(np.nan_to_num(cells, nan=1.0)))
    assert summary["tables"]["sales"] == expected_rows
    stats = _sql(
        "select count(*) n, sum(quantity) q, min(date) first, max(date) last, "
        "count(*) filter (where quantity = 0) zeros from read_parquet(?)",
        str(feed / "sales.parquet"),
    ).iloc[0]
    assert stats["n"] == expected_rows and stats["zeros"] == 0
    assert stats["q"] == np.nansum(cells)
    assert str(stats["first"])[:10] == "2011-01-29" and str(stats["last"])[:10] == "2016-06-19"
    products = pd.read_csv(feed / "products.csv")
    assert len(products) == 3049 and products["sku"].is_unique
    assert set(products["category"]) == {"FOODS", "HOBBIES", "HOUSEHOLD"}
    assert products["subcategory"].nunique() == 7
    assert (products["lead_time_days"] == 5).all()
    # every sales row carries that week's sell price (empty only when the week had none)
    mismatches = _sql(
        "select count(*) filter (where s.unit_price is distinct from p.sell_price), "
        "count(*) filter (where s.unit_price is null) from read_parquet(?) s "
        "join read_parquet(?) c on c.date::date = s.date "
        "left join read_parquet(?) p on p.item_id = s.sku and p.wm_yr_wk = c.wm_yr_wk",
        str(feed / "sales.parquet"), str(src / "calendar.parquet"),
        str(src / "sell_prices.parquet"),
    ).iloc[0]
    assert mismatches.iloc[0] == 0 and mismatches.iloc[1] < 0.01 * expected_rows
    calendar = pd.read_parquet(src / "calendar.parquet")
    events = pd.read_csv(feed / "events.csv")
    assert len(events) == calendar["event_name_1"].notna().sum() + calendar[
        "event_name_2"].notna().sum()
    drivers = pd.read_csv(feed / "drivers.csv")
    assert set(drivers["driver"]) == {"snap"} and drivers["value"].sum() == calendar[
        "snap_CA"].sum()
    assert not (feed / "inventory.parquet").exists()


def test_online_retail_keeps_every_invoice_line(tmp_path):
    src = _need("uci_online_retail")
    feed = tmp_path / "ore"
    summary = import_online_retail(src, feed)
    _assert_contract_columns(feed)
    source = pd.read_parquet(src / "online_retail_II_2009_2010.parquet")
    sales = pd.read_parquet(feed / "sales.parquet")
    assert summary["tables"]["sales"] == len(sales) == len(source) == 525_461
    assert sales["quantity"].sum() == source["Quantity"].sum()
    assert (sales["quantity"] < 0).sum() == (source["Quantity"] < 0).sum()
    assert sales["order_id"].str.startswith("C").sum() == source["Invoice"].str.startswith(
        "C").sum()
    assert sales["customer_id"].isna().sum() == source["Customer ID"].isna().sum()
    assert not sales.duplicated(["order_id", "line_id"]).any()
    assert sales["unit_price"].sum() == pytest.approx(source["Price"].sum())
    assert str(sales["date"].dtype).startswith("datetime64")
    products = pd.read_csv(feed / "products.csv", dtype={"sku": str})
    assert products["sku"].is_unique
    assert not {"POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE"} & set(products["sku"])
    regular = source["StockCode"].str.fullmatch(r"[0-9]{5}[A-Za-z]*")
    assert set(products["sku"]) == set(source.loc[regular, "StockCode"])
    assert summary["products_skipped"] == source["StockCode"].nunique() - len(products)
    assert products["category"].nunique() >= 5
    assert pd.read_csv(feed / "locations.csv")["location"].nunique() == source[
        "Country"].nunique()


def test_online_retail_category_rules():
    assert category_for("15CM CHRISTMAS GLASS BALL 20 LIGHTS") == "CHRISTMAS"
    assert category_for("WHITE HANGING HEART T-LIGHT HOLDER") == "LIGHTING"
    assert category_for("JUMBO BAG RED RETROSPOT") == "BAGS"
    assert category_for("TINY POT") == "GENERAL"  # whole words only: TINY is not TIN
    assert category_for(None) == "GENERAL"


def test_spare_parts_weekly_totals_match_the_workbook(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    src = _need("spare_parts")
    feed = tmp_path / "man"
    summary = import_spare_parts(src, feed)
    _assert_contract_columns(feed)
    products = pd.read_csv(feed / "products.csv")
    assert 3_400 <= len(products) <= 3_500 and products["sku"].is_unique
    assert set(products["lead_time_days"]) == {49, 112}
    assert {"fixed_order_cost", "holding_cost_per_year"} <= set(products.columns)
    # independent read of the workbook: the week columns are those labelled "week N" in row 1
    sheet = openpyxl.load_workbook(src / "MAN.xlsx", read_only=True, data_only=True)["Data"]
    rows = list(sheet.iter_rows(values_only=True))
    week_cols = [i for i, v in enumerate(rows[1]) if isinstance(v, str) and "week" in v.lower()]
    parts = [r for r in rows[6:] if r[0] is not None]
    assert len(parts) == len(products) == summary["parts"]
    moq_col = rows[0].index("min. order quantity")
    cost_col = rows[0].index("cost price")
    np.testing.assert_array_equal(products["moq"], [r[moq_col] for r in parts])
    np.testing.assert_allclose(products["unit_cost"], [r[cost_col] for r in parts])
    source_totals = [sum(r[c] or 0 for r in parts) for c in week_cols]
    sales = pd.read_csv(feed / "sales.csv", parse_dates=["date"])
    assert (sales["date"].dt.dayofweek == 0).all()
    weekly = sales.groupby("date")["quantity"].sum()
    weeks = pd.date_range(summary["first_week"], summary["last_week"], freq="7D")
    assert len(weeks) == len(week_cols) == 150
    np.testing.assert_allclose(weekly.reindex(weeks, fill_value=0).to_numpy(), source_totals)
    assert (sales["quantity"] != 0).all()


def test_freshretailnet_sample_has_an_inventory_row_every_day(tmp_path):
    src = _need("freshretailnet")
    feed = tmp_path / "frn"
    summary = import_freshretailnet(src, feed, max_series=40, seed=3)
    _assert_contract_columns(feed)
    inventory = pd.read_parquet(feed / "inventory.parquet")
    sales = pd.read_parquet(feed / "sales.parquet")
    assert summary["series"] == 40
    series = inventory[["sku", "location"]].drop_duplicates()
    assert len(series) == 40
    days = inventory["date"].nunique()
    assert days == 90 and len(inventory) == 40 * days == summary["source_rows"]
    assert not inventory.duplicated(["date", "sku", "location"]).any()
    assert inventory["stockout_hours"].between(0, 24).all()
    assert (inventory["stockout_hours"] > 0).mean() > 0.2  # censoring is common here
    # every sales row has its day's stock row, and zero days are the only ones left out
    merged = sales.merge(inventory, on=["date", "sku", "location"], how="left")
    assert merged["stockout_hours"].notna().all()
    chosen = ", ".join(f"({int(s)}, {int(p)})" for p, s in series.to_numpy())
    source = _sql(
        "select count(*) filter (where daily_sale <> 0) nonzero, sum(daily_sale) total "
        f"from read_parquet(?) where (store_id, product_id) in ({chosen})",
        str(src / "frn50k_daily_city*.parquet"),
    ).iloc[0]
    assert len(sales) == source["nonzero"]
    assert sales["quantity"].sum() == pytest.approx(source["total"], rel=1e-6)
    assert set(pd.read_csv(feed / "drivers.csv")["driver"]) == {
        "precipitation", "temperature", "humidity", "wind_level"}
    promotions = pd.read_csv(feed / "promotions.csv")
    assert (pd.to_datetime(promotions["end_date"]) >= pd.to_datetime(
        promotions["start_date"])).all()
    # the sample is reproducible and depends on the seed
    again = import_freshretailnet(src, tmp_path / "again", max_series=40, seed=3)
    other = import_freshretailnet(src, tmp_path / "other", max_series=40, seed=4)
    assert again["tables"] == summary["tables"]
    assert other["tables"] != summary["tables"]


def test_freshretailnet_city_filter_and_missing_city(tmp_path):
    src = _need("freshretailnet")
    summary = import_freshretailnet(src, tmp_path / "c9", cities=[9])
    source_rows = len(pd.read_parquet(src / "frn50k_daily_city09.parquet"))
    assert summary["files"] == ["frn50k_daily_city09.parquet"]
    assert summary["tables"]["inventory"] == source_rows
    with pytest.raises(FileNotFoundError, match="city \\[2\\]"):
        import_freshretailnet(src, tmp_path / "c2", cities=[2])


def test_writers_keep_one_file_per_table_and_name_missing_columns(tmp_path):
    frame = pd.DataFrame({"date": ["2024-01-01"], "sku": ["A"], "location": ["L"],
                          "quantity": [1]})
    write_csv(frame, tmp_path, "sales")
    write_parquet(frame, tmp_path, "sales")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.parquet"]
    with pytest.raises(ValueError, match="sales lacks required column"):
        write_csv(frame.drop(columns="quantity"), tmp_path, "sales")
    with pytest.raises(ValueError, match="not a contract feed table"):
        write_csv(frame, tmp_path, "orders")
