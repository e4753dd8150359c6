"""The demo feed: deterministic, complete against the contract, and realistic where it matters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.contract import INPUT_TABLES
from restock.feed.demo import FUTURE_DAYS, default_truth_path, generate_demo_feed

END = "2024-06-30"


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _read(path: Path) -> pd.DataFrame:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    with duckdb.connect() as con:
        return con.execute(f"select * from {reader}(?)", [str(path)]).df()


def _table(feed: Path, name: str) -> pd.DataFrame:
    for suffix in (".parquet", ".csv"):
        if (feed / f"{name}{suffix}").exists():
            return _read(feed / f"{name}{suffix}")
    raise AssertionError(f"feed table {name} missing in {feed}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    feed = root / "feed"
    summary = generate_demo_feed(feed, seed=11, n_skus=40, end_date=END, years=2)
    return {
        "feed": feed,
        "summary": summary,
        "truth": _read(Path(summary["truth_path"])),
        "sales": _table(feed, "sales"),
        "inventory": _table(feed, "inventory"),
        "products": _table(feed, "products"),
        "locations": _table(feed, "locations"),
        "promotions": _table(feed, "promotions"),
        "purchase_orders": _table(feed, "purchase_orders"),
        "churn": _read(Path(summary["churn_truth_path"])),
    }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path, demo):
    first = tmp_path / "a" / "feed"
    second = tmp_path / "b" / "feed"
    other = tmp_path / "c" / "feed"
    generate_demo_feed(first, seed=3, n_skus=16, years=1)
    generate_demo_feed(second, seed=3, n_skus=16, years=1)
    generate_demo_feed(other, seed=4, n_skus=16, years=1)
    assert _hashes(first) == _hashes(second)
    assert _hashes(default_truth_path(first).parent) == _hashes(
        default_truth_path(second).parent
    )
    assert _hashes(first)["sales.parquet"] != _hashes(other)["sales.parquet"]


def test_every_contract_table_is_present_with_its_required_columns(demo):
    for name, spec in INPUT_TABLES.items():
        frame = _table(demo["feed"], name)
        assert len(frame) > 0, name
        assert all(c == c.lower() for c in frame.columns), name
        missing = set(spec.required_columns) - set(frame.columns)
        assert not missing, f"{name} lacks {missing}"
        if spec.one_of:
            assert set(spec.one_of) & set(frame.columns), name
    assert demo["summary"]["tables"] == {
        name: len(_table(demo["feed"], name)) for name in INPUT_TABLES
    }


def test_products_and_locations_look_like_a_chain(demo):
    products, locations = demo["products"], demo["locations"]
    assert products["sku"].is_unique and len(products) == 40
    assert products["category"].nunique() >= 3
    assert products["lead_time_days"].between(2, 21).all()
    assert products["lead_time_std_days"].isna().any()
    assert products["lead_time_std_days"].notna().any()
    assert (products["moq"] >= 1).all() and (products["pack_size"] >= 1).all()
    assert (products["moq"] % products["pack_size"] == 0).all()
    assert products["max_stock"].notna().sum() >= 2
    assert products["service_level"].dropna().between(0, 1, inclusive="neither").all()
    assert products["service_level"].notna().sum() >= 2
    assert (~products["active"].astype(bool)).sum() >= 2
    assert (products["unit_cost"] < products["unit_price"]).all()
    assert len(locations) >= 5 and locations["location"].is_unique
    assert "online" in set(locations["type"])


def test_assortment_is_partial(demo):
    selling = demo["locations"]["type"].isin(["store", "online"]).sum()
    share = demo["summary"]["series"] / (len(demo["products"]) * selling)
    assert 0.45 <= share <= 0.75
    sold_where = demo["truth"].groupby("sku")["location"].nunique()
    assert sold_where.min() >= 1 and sold_where.max() <= selling


def test_weekly_seasonality_is_visible_in_true_demand(demo):
    truth = demo["truth"].merge(demo["locations"][["location", "type"]], on="location")
    stores = truth[truth["type"] == "store"]
    by_weekday = stores.groupby(pd.to_datetime(stores["date"]).dt.dayofweek)["demand"].mean()
    assert by_weekday[5] > 1.2 * by_weekday[1]  # Saturday vs Tuesday in stores


def test_promotions_lift_true_demand(demo):
    with duckdb.connect() as con:
        con.register("truth", demo["truth"])
        con.register("products", demo["products"])
        con.register("promotions", demo["promotions"])
        ratio = con.execute(
            """
            with promo_days as (
                select distinct t.sku, t.location, t.date
                from truth t
                join products p on p.sku = t.sku
                join promotions r
                  on (r.sku = t.sku or (r.sku is null and r.category = p.category))
                 and (r.location is null or r.location = t.location)
                 and t.date between r.start_date and r.end_date
            ),
            flagged as (
                select t.sku, t.location, t.demand, d.date is not null as promo
                from truth t
                left join promo_days d using (sku, location, date)
            ),
            per_series as (
                select sku, location,
                       avg(demand) filter (where promo) as on_promo,
                       avg(demand) filter (where not promo) as off_promo
                from flagged group by all
                having count(*) filter (where promo) >= 5 and off_promo > 0
            )
            select median(on_promo / off_promo), count(*) from per_series
            """
        ).fetchone()
    median_lift, n_series = ratio
    assert n_series >= 20
    assert median_lift > 1.3


def test_stockouts_censor_sales_and_sales_never_exceed_demand(demo):
    sales = demo["sales"]
    sold = (
        sales[sales["quantity"] > 0].groupby(["date", "sku", "location"])["quantity"].sum()
        .rename("sold")
    )
    days = demo["truth"].merge(demo["inventory"], on=["date", "sku", "location"], how="left")
    days = days.merge(sold.reset_index(), on=["date", "sku", "location"], how="left")
    days["sold"] = days["sold"].fillna(0)
    assert days["on_hand"].notna().all(), "every live series-day has a stock snapshot"
    assert (days["sold"] <= days["demand"]).all()
    lost = days[days["sold"] < days["demand"]]
    assert len(lost) > 0
    assert (lost["on_hand"] == 0).all()
    share = (days["on_hand"] == 0).mean()
    assert 0.02 <= share <= 0.10
    assert share == pytest.approx(demo["summary"]["stockout_share"])
    # returns are extra rows with negative quantity
    assert (sales["quantity"] < 0).sum() > 0
    # sale lines are per customer; (order_id, line_id) is the contract's key
    assert not sales.duplicated(["order_id", "line_id"]).any()
    assert not sales.duplicated().any()


def test_reader_accepts_every_row_of_the_demo_feed(demo):
    reader = pytest.importorskip("restock.feed.reader")
    with duckdb.connect() as con:
        result = reader.load_feed(demo["feed"], con)
    assert result.rows_read == demo["summary"]["tables"]
    assert sum(result.rows_rejected.values()) == 0


def test_stock_balances_with_purchase_order_receipts(demo):
    pos = demo["purchase_orders"]
    received = pos[pos["status"] == "received"]
    receipts = (
        received.groupby(["received_date", "sku", "location"])["received_quantity"].sum()
        .rename("received").reset_index().rename(columns={"received_date": "date"})
    )
    sales = demo["sales"]
    sold = (
        sales[sales["quantity"] > 0].groupby(["date", "sku", "location"])["quantity"].sum()
        .rename("sold").reset_index()
    )
    inv = demo["inventory"].merge(receipts, on=["date", "sku", "location"], how="left")
    inv = inv.merge(sold, on=["date", "sku", "location"], how="left").fillna(
        {"received": 0, "sold": 0}
    )
    inv = inv.sort_values(["sku", "location", "date"])
    previous = inv.groupby(["sku", "location"])["on_hand"].shift()
    steady = previous.notna()
    balance = previous[steady] + inv.loc[steady, "received"] - inv.loc[steady, "sold"]
    np.testing.assert_array_equal(balance.to_numpy(), inv.loc[steady, "on_hand"].to_numpy())
    assert set(pos["status"]) == {"open", "received", "cancelled"}
    assert (pd.to_datetime(received["received_date"]) >= pd.to_datetime(
        received["order_date"])).all()
    assert pos.loc[pos["status"] != "received", "received_date"].isna().all()
    lead = (pd.to_datetime(received["received_date"]) - pd.to_datetime(received["order_date"]))
    assert lead.dt.days.std() > 0  # lead times vary


def test_demand_mix_has_slow_lumpy_and_new_items(demo):
    truth = demo["truth"]
    means = truth.groupby(["sku", "location"])["demand"].mean()
    assert (means < 0.3).sum() >= 3
    assert (means > 5).sum() >= 3
    first_day = pd.to_datetime(truth.groupby("sku")["date"].min())
    assert (first_day > pd.Timestamp(END) - pd.Timedelta(days=41)).sum() >= 2  # cold start


def test_truth_lives_outside_the_feed_and_future_signals_exist(demo, tmp_path):
    feed = demo["feed"]
    truth = Path(demo["summary"]["truth_path"])
    assert truth.exists() and feed.resolve() not in truth.resolve().parents
    assert not any("truth" in p.name or "demand" in p.name for p in feed.iterdir())
    end = pd.Timestamp(END)
    promotions = demo["promotions"]
    assert (pd.to_datetime(promotions["start_date"]) > end).sum() >= 3
    assert promotions["sku"].notna().any() and promotions["category"].notna().any()
    assert promotions["location"].notna().any() and promotions["location"].isna().any()
    drivers = _table(feed, "drivers")
    future = pd.to_datetime(drivers["date"]) > end
    assert pd.to_datetime(drivers.loc[future, "date"]).nunique() == FUTURE_DAYS
    events = _table(feed, "events")
    assert {"Black Friday", "Christmas Day"} <= set(events["name"])
    assert (pd.to_datetime(events["date"]) > end).any()
    assert pd.to_datetime(demo["sales"]["date"]).max() <= end
    with pytest.raises(ValueError, match="outside the feed"):
        generate_demo_feed(tmp_path / "f", n_skus=8, years=1,
                           truth_path=tmp_path / "f" / "truth.parquet")


# --- customers (issue 18 item 5; mechanism in restock/feed/demo/customers.py) ---------------

# sha256 of the daily totals (date, sku, location, quantity; positive rows and returns apart) of
# generate_demo_feed(seed=11, n_skus=40, years=2) before the demo had customers
DAILY_TOTALS_SHA256 = "7ce8ef71e892ce2c800ae7fa6ddd328d8b7d9a10ef0c2e43937a032a8db1e3cf"


def _daily_totals_digest(sales: pd.DataFrame) -> str:
    s = sales.assign(date=pd.to_datetime(sales["date"]).dt.strftime("%Y-%m-%d"),
                     kind=np.where(sales["quantity"] > 0, "sale", "return"))
    daily = (s.groupby(["date", "sku", "location", "kind"])["quantity"].sum().astype("int64")
             .reset_index().sort_values(["date", "sku", "location", "kind"]))
    return hashlib.sha256(daily.to_csv(index=False).encode()).hexdigest()


def test_sale_lines_carry_customer_ids_and_orders(demo):
    sales = demo["sales"]
    assert sales["customer_id"].notna().all() and (sales["customer_id"] != "").all()
    assert sales["order_id"].notna().all() and sales["line_id"].notna().all()
    # one customer per order; an order is one customer's basket at one location on one day
    per_order = sales.groupby("order_id")[["customer_id", "location", "date"]].nunique()
    assert (per_order == 1).all().all()
    # days split into several customers' lines, baskets hold several items
    lines_per_day = sales[sales["quantity"] > 0].groupby(["date", "sku", "location"]).size()
    assert lines_per_day.max() > 5
    assert sales.groupby("order_id").size().max() >= 3
    # the ids reveal nothing about the kind of customer
    assert sales["customer_id"].str.fullmatch(r"C\d{7,}").all()


def test_daily_sales_totals_are_those_of_the_demo_without_customers(demo):
    """Customers only split the days: demand, stock and daily totals are unchanged."""
    assert _daily_totals_digest(demo["sales"]) == DAILY_TOTALS_SHA256
    sold = demo["sales"].groupby(["date", "sku", "location"])["quantity"].sum()
    assert sold.sum() == demo["sales"]["quantity"].sum()


def test_churn_truth_file_beside_true_demand(demo):
    churn = demo["churn"]
    path = Path(demo["summary"]["churn_truth_path"])
    assert path.parent == Path(demo["summary"]["truth_path"]).parent
    assert path.name == "customer_churn.parquet"
    assert {"customer_id", "churned", "churn_date", "hits"} <= set(churn.columns)
    assert churn["customer_id"].is_unique
    assert set(churn["customer_id"]) == set(demo["sales"]["customer_id"])
    churned = churn["churned"].astype(bool)
    assert churn.loc[churned, "churn_date"].notna().all()
    assert churn.loc[~churned, "churn_date"].isna().all()
    assert (churn["hits"] >= 0).all()
    # nobody buys on or after the day they left
    last = pd.to_datetime(demo["sales"].groupby("customer_id")["date"].max())
    gone = churn[churned].set_index("customer_id")["churn_date"]
    assert (last.reindex(gone.index) < pd.to_datetime(gone)).all()
    assert set(churn.loc[churned, "cause"]) == {"stockout", "background"}
    assert (churn.loc[churn["cause"] == "stockout", "hits"] >= 1).all()


def test_leaving_rises_with_stockouts_met(demo):
    """Statistically, on the seeded run: regulars hit more often leave more often."""
    from restock.feed.demo.customers import leave_probability

    assert 0 < leave_probability(1) < leave_probability(2) < leave_probability(3) < 1
    churn = demo["churn"]
    regular = churn[churn["kind"] == "regular"]
    decided_at = regular["hits_at_decision"].to_numpy()
    hits = regular["hits"].to_numpy()
    # P(decide at the k-th hit | met k hits undecided), estimated from the truth
    rates = {}
    for k in (1, 2, 3):
        reached = ((decided_at == 0) & (hits >= k)) | (decided_at >= k)
        rates[k] = (decided_at[reached] == k).mean()
        assert reached.sum() >= 100, k
    assert rates[1] == pytest.approx(leave_probability(1), abs=0.07)
    assert rates[2] > rates[1] + 0.1 and rates[3] > rates[1] + 0.1
    # and the customers never hit do not leave because of stock-outs
    assert (regular.loc[hits == 0, "cause"] != "stockout").all()
    assert regular.loc[regular["cause"] == "stockout", "decision_date"].notna().all()


def test_customer_generator_is_a_separate_stream(tmp_path):
    """Changing only the customers' stream seed changes the lines, never the daily totals."""
    import restock.feed.demo.customers as customers

    first = tmp_path / "a" / "feed"
    generate_demo_feed(first, seed=3, n_skus=12, years=1)
    stream = customers.STREAM
    try:
        customers.STREAM = stream + 1
        second = tmp_path / "b" / "feed"
        generate_demo_feed(second, seed=3, n_skus=12, years=1)
    finally:
        customers.STREAM = stream
    a, b = _table(first, "sales"), _table(second, "sales")
    assert _daily_totals_digest(a) == _daily_totals_digest(b)
    assert not a["customer_id"].equals(b["customer_id"])
    for name in ("inventory.parquet", "purchase_orders.csv", "products.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_customer_tables_on_the_demo_find_the_churners(demo):
    """The library (restock.customers) on the demo, scored against its churn truth.

    A sane floor, not the issue's target (bench/demo_customers_bench.py measures that): as of
    8 weeks before the end, customers the library saw hit leave far more often than the others,
    and the churn model ranks customers who buy an item regularly better than chance.
    """
    from restock.customers.tables import build_customer_tables

    as_of = pd.Timestamp(END) - pd.Timedelta(days=56)
    sales = demo["sales"].assign(date=pd.to_datetime(demo["sales"]["date"]))
    out = build_customer_tables(sales, demo["inventory"], as_of)
    table = out.customer_stockout_impact.merge(demo["churn"], on="customer_id", how="left")
    present = ~(pd.to_datetime(table["churn_date"]) <= as_of)
    table = table[present]
    leaves = table["churn_date"].notna()
    hit = table["hits_90d"] > 0
    assert hit.sum() >= 50
    assert leaves[hit].mean() > 5 * leaves[~hit].mean()
    assert out.churn.auc_exposed > 0.6
    assert table["at_risk"].sum() == 0 or leaves[table["at_risk"]].mean() > leaves.mean()
