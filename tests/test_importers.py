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
        if path.name == "feed.yml":  # the feed's grain (contract v1.1), not a table
            continue
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
    weeks = pd.date_range(summary["first_period"], summary["last_period"], freq="7D")
    assert len(weeks) == len(week_cols) == 150
    np.testing.assert_allclose(weekly.reindex(weeks, fill_value=0).to_numpy(), source_totals)
    assert (sales["quantity"] != 0).all()
    assert summary["sheet"] == "Data" and summary["grain"] == "week"
    assert summary["rows_without_sku"] == 4 and summary["unreadable_cells"] == 0
    assert "grain: week" in (feed / "feed.yml").read_text()
    assert set(products["category"]) == {"SPARES_ASIA", "SPARES_NL"}


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


# ---------------------------------------------------------------- spare parts: common shapes
FIXTURES = Path(__file__).resolve().parent / "data"


def _xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Write a small workbook: sheet name -> rows of cells (None = empty)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_spare_parts_xls_monthly_wide_table_from_a_folder(tmp_path):
    """A checked-in .xls (tests/data/make_spare_parts_xls.py): title rows, date headers,
    lead time in months, a totals row and a text cell; the folder holds it under any name."""
    from restock.feed.reader import load_feed

    feed = tmp_path / "feed"
    summary = import_spare_parts(FIXTURES, feed)
    assert summary["file"] == "spare_parts_monthly.xls" and summary["sheet"] == "Stock 2023"
    assert (summary["layout"], summary["grain"], summary["periods"]) == ("wide", "month", 6)
    assert summary["rows_without_sku"] == 1 and summary["lead_time_unit"] == "months"
    assert summary["empty_cells"] == 1 and summary["unreadable_cells"] == 1
    assert (feed / "feed.yml").read_text().endswith("grain: month\n")
    products = pd.read_csv(feed / "products.csv").set_index("sku")
    assert products["lead_time_days"].to_dict() == pytest.approx(
        {"P-100": 2 * 365.25 / 12, "P-200": 0.0, "P-300": 15.2188})
    assert products["category"].to_dict() == {"P-100": "HYD", "P-200": "ELEC", "P-300": "ELEC"}
    assert products.loc["P-100", "unit_price"] == 12.5 and products.loc["P-300", "moq"] == 10
    sales = pd.read_csv(feed / "sales.csv", dtype={"quantity": str}, keep_default_na=False)
    assert (pd.to_datetime(sales["date"]).dt.day == 1).all()
    assert sales.groupby("sku")["quantity"].apply(list).to_dict() == {
        "P-100": ["3", "1"], "P-200": ["1", "1", "2", "4"], "P-300": ["n/a", "2"]}
    # through the reader: lead time 0 is accepted, the text cell is the only quarantined row
    with duckdb.connect() as con:
        result = load_feed(feed, con)
    assert result.rows_rejected == {"products": 0, "locations": 0, "sales": 1} | {
        t: 0 for t in result.rows_rejected if t not in ("products", "locations", "sales")}
    assert result.tables["sales"].reject_reasons == {"non-numeric quantity": 1}


def test_spare_parts_relative_weekly_columns_need_an_end_date(tmp_path):
    book = _xlsx(tmp_path / "export.xlsx", {
        "Sheet1": [["Item", "Lead time (days)", "Price", "last -2", "last -1", "latest"],
                   ["A1", 0, 2.5, 1, 0, 3], ["B2", 14, 9.0, 0, 0, 0]],
    })
    from restock.importers.common import SourceFormatError

    with pytest.raises(SourceFormatError, match=r"export.xlsx sheet 'Sheet1' row 1 column D "
                                                r"\(last -2\): .*--end YYYY-MM-DD"):
        import_spare_parts(book, tmp_path / "f0")
    summary = import_spare_parts(book, tmp_path / "f", end="2024-06-30", grain="week")
    assert (summary["first_period"], summary["last_period"]) == ("2024-06-10", "2024-06-24")
    sales = pd.read_csv(tmp_path / "f" / "sales.csv")
    assert sales[["date", "sku", "quantity"]].values.tolist() == [
        ["2024-06-10", "A1", 1], ["2024-06-24", "A1", 3]]
    products = pd.read_csv(tmp_path / "f" / "products.csv")
    assert products["lead_time_days"].tolist() == [0, 14]
    assert products["category"].tolist() == ["SPARES", "SPARES"]
    assert pd.read_csv(tmp_path / "f" / "locations.csv")["location"].tolist() == ["EXPORT"]


def test_spare_parts_long_table_sums_a_period_and_converts_weeks(tmp_path):
    book = _xlsx(tmp_path / "usage.xlsx", {
        "Readme": [["Monthly usage per plant"]],
        "Usage": [["Part number", "Month", "Qty", "Plant", "Lead time weeks", "Cost", "MOQ",
                   "Category"],
                  ["X-1", "2024-01", 2, "P1", 3, 1.5, 4, "pumps"],
                  ["X-1", "2024-01", 1, "P1", 3, 1.5, 4, "pumps"],
                  ["X-1", "2024-02", 5, "P2", 3, 1.5, 4, "pumps"],
                  ["X-2", "Mar 2024", 0, "P1", 0, 8, 1, "valves"]],
    })
    summary = import_spare_parts(book, tmp_path / "f")
    assert (summary["sheet"], summary["layout"], summary["grain"]) == ("Usage", "long", "month")
    sales = pd.read_csv(tmp_path / "f" / "sales.csv")
    assert sales.values.tolist() == [["2024-01-01", "X-1", "P1", 3],
                                     ["2024-02-01", "X-1", "P2", 5]]
    products = pd.read_csv(tmp_path / "f" / "products.csv").set_index("sku")
    assert products["lead_time_days"].to_dict() == {"X-1": 21, "X-2": 0}
    assert products["unit_cost"].to_dict() == {"X-1": 1.5, "X-2": 8.0}
    assert products["category"].to_dict() == {"X-1": "pumps", "X-2": "valves"}
    locations = pd.read_csv(tmp_path / "f" / "locations.csv")["location"].tolist()
    assert locations == ["P1", "P2", "USAGE"]
    # named columns and a lead time for every part
    book2 = _xlsx(tmp_path / "b.xlsx", {"S": [["Code", "Period", "Out"],
                                              ["K", "2024-W02", 4], ["K", "2024-W03", 1]]})
    summary2 = import_spare_parts(book2, tmp_path / "g", sku_column="Code", date_column="Period",
                                  quantity_column="Out", lead_time_days=0)
    assert summary2["grain"] == "week" and summary2["first_period"] == "2024-01-08"
    assert pd.read_csv(tmp_path / "g" / "products.csv")["lead_time_days"].tolist() == [0]


@pytest.mark.parametrize(("sheets", "options", "message"), [
    ({"A": [["sku", "week 1", "week 2"], ["p", 1, 2]],
      "B": [["sku", "date", "qty"], ["p", "2024-01-01", 1]]}, {"lead_time_days": 7},
     r"several sheets fit \(A, B\); choose one with --sheet"),
    ({"Notes": [["hello"]], "Stats": [["SKU", "mean"], ["p", 1]]}, {},
     r"no sheet holds a spare-parts table \('Notes': no SKU column in the first 40 rows; "
     r"'Stats': SKU column A but no period columns"),
    ({"S": [["SKU", "Lead time", "2024-01", "2024-02"], ["p", 2, 1, 0]]}, {},
     r"sheet 'S' row 1 column B \(Lead time\): the lead time header states no unit; give "
     r"--lead-time-unit"),
    ({"S": [["SKU", "LT (weeks)", "2024-01", "2024-02"], ["p", 2, 1, 0], ["q", 2, 0, 0],
            ["p", 2, 0, 0]]}, {},
     r"sheet 'S' row 4 column A \(SKU\): SKU p again \(first on row 2\)"),
    ({"S": [["SKU", "Date", "Qty"], ["p", "2024-01-01", 1], ["p", "soon", 1]]},
     {"lead_time_days": 1}, r"sheet 'S' row 3 column B \(Date\): 'soon' is not a date"),
    ({"S": [["SKU", "week 1", "week 2"], ["p", 1, 2]]}, {"lead_time_days": 1},
     r"sheet 'S' row 1 column B \(week 1\): week columns carry no year"),
    ({"S": [["SKU", "2024-01", "2024-02"], ["p", 1, 2]]}, {},
     r"sheet 'S' row 1: no lead time column"),
    ({"S": [["SKU", "2024-01", "2024-02"], ["p", 1, 2]]}, {"sheet": "T"},
     r"no sheet 'T'; sheets: S"),
])
def test_spare_parts_errors_name_the_file_sheet_row_and_column(tmp_path, sheets, options,
                                                               message):
    from restock.importers.common import SourceFormatError

    book = _xlsx(tmp_path / "parts.xlsx", sheets)
    with pytest.raises(SourceFormatError, match=message) as caught:
        import_spare_parts(book, tmp_path / "feed", **options)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("parts.xlsx")


def test_spare_parts_folder_and_file_errors(tmp_path, capsys):
    from pipelines.cli import main
    from restock.importers.common import SourceFormatError

    for name in ("a.xlsx", "b.xls"):
        (tmp_path / "two" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "two" / name).write_bytes(b"not a workbook")
    with pytest.raises(SourceFormatError, match=r"exactly one .xlsx or .xls workbook, found "
                                                r"a.xlsx, b.xls"):
        import_spare_parts(tmp_path / "two", tmp_path / "feed")
    with pytest.raises(SourceFormatError, match=r"a.xlsx: not an Excel workbook"):
        import_spare_parts(tmp_path / "two" / "a.xlsx", tmp_path / "feed")
    book = _xlsx(tmp_path / "one" / "whatever name.xlsx",
                 {"S": [["SKU", "LT (d)", "2024-01", "2024-02"], ["p", 1, 1, 2]]})
    assert main(["import", "spare-parts", str(book), "--out", str(tmp_path / "f"),
                 "--sheet", "Nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "restock import spare-parts: whatever name.xlsx: no sheet 'Nope'; sheets: S"
    assert main(["import", "spare-parts", str(tmp_path / "one"), "--out", str(tmp_path / "f"),
                 "--grain", "month"]) == 0
    assert (tmp_path / "f" / "feed.yml").read_text().endswith("grain: month\n")
