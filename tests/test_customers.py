"""Customers hit by stock-outs (restock.customers): the hit definition on a hand-made feed, the
customer tables' row accounting, feeds without customers, and the stock-out inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.contract import CUSTOMER_TABLES
from restock.customers.churn import ChurnSettings, evaluate, score_customers
from restock.customers.impact import (
    HitSettings,
    customer_hits,
    customer_table,
    purchase_lines,
    sku_table,
)
from restock.customers.inferred_censoring import censoring_flags
from restock.customers.inferred_stockouts import (
    InferenceSettings,
    SalesPanel,
    infer_stockouts,
    stockout_probability,
)
from restock.customers.tables import build_customer_tables

AS_OF = pd.Timestamp("2024-03-31")


def _line(customer, sku, day, qty=1, location="L1", price=10.0, order=None):
    date = pd.Timestamp(day)
    return {"date": date, "sku": sku, "location": location, "quantity": qty,
            "unit_price": price, "customer_id": customer,
            "order_id": order or f"{customer}-{date.date()}-{location}"}


def hand_feed() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sales lines and stock-out days whose hits are worked out by hand (see the test)."""
    rows = []
    for d in ("2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"):
        rows += [_line("c1", "A", d), _line("c1", "B", d)]
    rows += [_line("c1", "B", "2024-02-05"), _line("c1", "B", "2024-02-05", qty=-1)]
    rows += [_line("c2", "A", "2024-01-01"), _line("c2", "A", "2024-01-15"),
             _line("c2", "C", "2024-01-29")]
    for d in ("2024-01-01", "2024-01-08", "2024-01-15", "2024-01-29"):
        rows.append(_line("c3", "A", d))
    rows.append(_line("c3", "B", "2024-02-05", location="L2"))
    for d in ("2024-01-03", "2024-01-10", "2024-01-17", "2024-01-24"):
        rows.append(_line("c4", "C", d))
    rows.append(_line("c4", "B", "2024-02-05"))
    rows.append(_line("c5", "B", "2024-01-01"))
    sales = pd.DataFrame(rows)
    stockouts = pd.DataFrame({
        "sku": ["A", "A", "A", "C"],
        "location": ["L1", "L1", "L1", "L1"],
        "date": pd.to_datetime(["2024-01-29", "2024-02-05", "2024-03-01", "2024-02-05"]),
        "stockout_source": ["inventory", "inventory", "inferred", "inferred"],
        "probability": [1.0, 1.0, 0.9, 0.6],
    })
    return sales, stockouts


def test_hit_definition_on_hand_made_feed():
    """Worked by hand (threshold 0.7, regular = 3 purchase days in 180 days):

    - c1 buys A weekly (Jan 1, 8, 15, 22; interval 7). A is out Jan 29 = Jan 22 + 7: *due*
      hit (c1 did not come). A is out Feb 5 and c1 buys B there: *visit* hit. A inferred out
      Mar 1 (0.9): not a visit, not due (due was Jan 29): no hit.
    - c2 bought A twice only (not regular): buying C on Jan 29 while A is out is no hit.
    - c3 bought A on Jan 29 itself (so it was not turned away), and on Feb 5 shops at L2 while
      A is out at L1: no hit; next due Jan 29 + round(28 / 3) = Feb 7, not out: no hit.
    - c4 buys C regularly and visits Feb 5, when C is inferred out with 0.6 < 0.7: no hit
      (one visit hit at threshold 0.5).
    """
    sales, stockouts = hand_feed()
    hits = customer_hits(sales, stockouts, AS_OF, HitSettings())
    got = sorted(zip(hits["customer_id"], hits["sku"], hits["date"].dt.strftime("%Y-%m-%d"),
                     hits["reason"], strict=True))
    assert got == [("c1", "A", "2024-01-29", "due"), ("c1", "A", "2024-02-05", "visit")]

    lower = customer_hits(sales, stockouts, AS_OF, HitSettings(threshold=0.5))
    assert sorted(zip(lower["customer_id"], lower["sku"], lower["reason"], strict=True)) == [
        ("c1", "A", "due"), ("c1", "A", "visit"), ("c4", "C", "visit")]

    # regularity is configurable: with 2 purchases, c2 (A on Jan 1, 15) is regular, and buying
    # C on Jan 29 while A is out (also due: Jan 15 + 14) is a visit hit
    two = customer_hits(sales, stockouts, AS_OF, HitSettings(regular_purchases=2))
    assert ("c2", "A", "visit") in set(zip(two["customer_id"], two["sku"], two["reason"],
                                           strict=True))


def test_customer_and_sku_tables_on_hand_made_feed():
    sales, stockouts = hand_feed()
    settings = HitSettings()
    hits = customer_hits(sales, stockouts, AS_OF, settings)
    risk = pd.Series({"c1": 0.8, "c2": 0.9, "c3": 0.1, "c4": 0.2})
    table = customer_table(sales, hits, AS_OF, risk, settings)
    assert list(table.columns) == list(CUSTOMER_TABLES["customer_stockout_impact"])
    # every customer with a purchase in (Jan 1, Mar 31] once; c5 (Jan 1 only) not
    assert sorted(table["customer_id"]) == ["c1", "c2", "c3", "c4"]
    assert table["customer_id"].is_unique
    c1 = table.set_index("customer_id").loc["c1"]
    assert c1["hits_90d"] == 2 and bool(c1["repeat_hit"]) and c1["items_hit"] == 1
    assert c1["last_hit_date"] == pd.Timestamp("2024-02-05")
    # window (Jan 1, Mar 31]: orders Jan 8, 15, 22, Feb 5; spend 3 x (A + B) + B - B (return)
    assert c1["purchases_90d"] == 4 and c1["spend_90d"] == pytest.approx(60.0)
    assert bool(c1["at_risk"])  # hit and churn_risk 0.8 >= 0.5
    c2 = table.set_index("customer_id").loc["c2"]
    assert c2["hits_90d"] == 0 and not c2["at_risk"]  # high risk but never hit
    c3 = table.set_index("customer_id").loc["c3"]
    assert c3["location"] == "L1"  # spent 30 at L1 in the window against 10 at L2

    skus = sku_table(sales, hits, table, AS_OF, settings)
    assert list(skus.columns) == list(CUSTOMER_TABLES["sku_customer_impact"])
    a = skus.set_index(["sku", "location"]).loc[("A", "L1")]
    assert a["regular_customers"] == 2  # c1 and c3 (c2 bought A on two days only)
    assert a["customers_hit_90d"] == 1 and a["revenue_at_risk"] == pytest.approx(60.0)


def test_every_recent_customer_appears_once_on_random_lines():
    rng = np.random.default_rng(3)
    n = 3000
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    sales = pd.DataFrame({
        "date": days, "sku": rng.choice(list("ABCDEFG"), n),
        "location": rng.choice(["L1", "L2", "L3"], n), "quantity": rng.integers(-1, 5, n),
        "unit_price": 2.0, "customer_id": rng.choice([f"k{i}" for i in range(150)], n),
    })
    stockouts = pd.DataFrame({"sku": "A", "location": "L1",
                              "date": pd.date_range("2024-03-01", periods=60),
                              "stockout_source": "inferred", "probability": 0.95})
    as_of = pd.Timestamp("2024-07-18")
    hits = customer_hits(sales, stockouts, as_of)
    table = customer_table(sales, hits, as_of)
    recent = sales[(sales["date"] > as_of - pd.Timedelta(days=90)) & (sales["date"] <= as_of)
                   & (sales["quantity"] > 0)]
    assert sorted(table["customer_id"]) == sorted(recent["customer_id"].unique())
    assert table["customer_id"].is_unique


def test_feed_without_customers_gives_empty_tables():
    sales, _ = hand_feed()
    for frame in (sales.drop(columns="customer_id"), sales.assign(customer_id=None)):
        out = build_customer_tables(frame, None, AS_OF)
        for name in ("customer_stockout_impact", "sku_customer_impact"):
            table = getattr(out, name)
            assert table.empty and list(table.columns) == list(CUSTOMER_TABLES[name])
        assert list(out.stockout_days.columns) == list(CUSTOMER_TABLES["stockout_days"])
        assert "no customer_id" in out.note
    assert purchase_lines(sales.drop(columns="customer_id")).empty


def _poisson_panel(rate: np.ndarray, zero_from: int, zero_to: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = rng.poisson(rate[:, None], size=(len(rate), 84)).astype(float)
    values[:, zero_from:zero_to] = 0.0
    values[:, 0] = np.maximum(values[:, 0], 1.0)  # listed from day 0
    keys = pd.DataFrame({"sku": [f"S{i}" for i in range(len(rate))], "location": "L1"})
    return SalesPanel(keys, pd.date_range("2024-01-01", periods=84), values)


def test_inference_flags_an_improbable_zero_run_not_an_intermittent_gap():
    # a fast seller (8 a day) that sells nothing for 5 days: a stock-out
    fast = _poisson_panel(np.array([8.0]), 50, 55)
    p = stockout_probability(fast, InferenceSettings(unit=1.0))
    assert (p[0, 50:55] > 0.9).all()
    assert np.median(p[0, :45]) < 0.05
    # a slow seller (0.15 a day): 5 zero days are ordinary
    rng = np.random.default_rng(1)
    slow_values = (rng.random((1, 84)) < 0.15).astype(float)
    slow_values[0, 0] = 1.0
    slow_values[0, 50:55] = 0.0
    slow = SalesPanel(pd.DataFrame({"sku": ["X"], "location": ["L1"]}),
                      pd.date_range("2024-01-01", periods=84), slow_values)
    q = stockout_probability(slow, InferenceSettings(unit=1.0))
    assert (q[0, 50:55] < 0.5).all()


def test_inference_sees_a_closed_shop_is_not_a_stockout():
    # 40 items at one location, all zero on the same 4 days (shop closed): the location's day
    # factor explains the zeros; one item alone at zero on other days is a stock-out
    panel = _poisson_panel(np.full(40, 6.0), 30, 34, seed=2)
    panel.values[0, 60:64] = 0.0
    p = stockout_probability(panel, InferenceSettings(unit=1.0))
    assert (p[:, 30:34] < 0.5).all()
    assert (p[0, 60:64] > 0.9).all()


def test_inference_in_blocks_of_series_equals_all_at_once(monkeypatch):
    """The inference works BLOCK_SERIES series at a time (memory); the location and item day
    factors still pool every series: any block size gives the same probabilities."""
    import restock.customers.inferred_stockouts as inference

    rng = np.random.default_rng(5)
    n_sku, n_loc = 7, 3
    rate = rng.gamma(2.0, 2.0, size=n_sku * n_loc)
    values = rng.poisson(rate[:, None], size=(len(rate), 84)).astype(float)
    values[:, 0] = np.maximum(values[:, 0], 1.0)
    values[4, 40:47] = 0.0  # one item out at one location
    values[5, :10] = np.nan  # listed later
    keys = pd.DataFrame({"sku": [f"S{i // n_loc}" for i in range(len(rate))],
                         "location": [f"L{i % n_loc}" for i in range(len(rate))]})
    panel = SalesPanel(keys, pd.date_range("2024-01-01", periods=84), values)
    monkeypatch.setattr(inference, "BLOCK_SERIES", 10_000)
    whole = stockout_probability(panel, InferenceSettings(unit=1.0))
    for size in (1, 4, 8):
        monkeypatch.setattr(inference, "BLOCK_SERIES", size)
        got = stockout_probability(panel, InferenceSettings(unit=1.0))
        np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)
    assert np.isnan(whole[5, :10]).all() and (whole[4, 41:46] > 0.9).all()


def test_infer_stockouts_reads_nothing_before_start():
    panel = _poisson_panel(np.array([8.0]), 50, 55)
    lines = pd.DataFrame({"date": panel.dates, "sku": "S0", "location": "L1",
                          "quantity": panel.values[0]})
    start = panel.dates[30]
    table = infer_stockouts(lines, None, days=None, start=start)
    assert table["date"].min() >= start
    # what happens before start cannot move it: change every earlier sale
    earlier = lines.assign(quantity=np.where(lines["date"] < start, 0.0, lines["quantity"]))
    pd.testing.assert_frame_equal(infer_stockouts(earlier, None, days=None, start=start), table)
    assert set(table.loc[table["probability"] >= 0.9, "date"].dt.day) >= set(range(20, 25))


def test_infer_stockouts_table_and_censoring_flags():
    panel = _poisson_panel(np.array([8.0, 5.0]), 50, 55)
    rows, cols = np.nonzero(~np.isnan(panel.values))
    demand = pd.DataFrame({
        "sku": panel.keys["sku"].to_numpy()[rows], "location": "L1",
        "category": "K", "date": panel.dates[cols], "units_sold": panel.values[rows, cols],
    })
    inventory = pd.DataFrame({"date": pd.to_datetime(["2024-02-01"]), "sku": ["S1"],
                              "location": ["L1"], "on_hand": [0.0]})
    table = infer_stockouts(demand.rename(columns={"units_sold": "quantity"}), inventory,
                            days=None)
    assert list(table.columns) == list(CUSTOMER_TABLES["stockout_days"])
    assert set(table.loc[table["sku"] == "S1", "stockout_source"]) == {"inventory"}
    inferred = table[table["stockout_source"] == "inferred"]
    assert set(inferred["sku"]) == {"S0"}
    assert (inferred.loc[inferred["probability"] >= 0.7, "date"].dt.day.isin(range(20, 25))
            ).all()  # Feb 20..24 = days 50..54
    before = demand.copy()
    flagged = censoring_flags(demand, table, threshold=0.7)
    assert len(flagged) == len(demand)
    assert flagged.loc[flagged["is_censored"], "censored_source"].eq("inferred").all()
    assert flagged["is_censored"].sum() == 5
    pd.testing.assert_frame_equal(demand, before)  # a shallow copy, the input untouched
    # a day listed nowhere in demand is added only when asked
    extra = table.iloc[[0]].assign(sku="S0", date=panel.dates[-1] + pd.Timedelta(days=3),
                                   stockout_source="inferred", probability=0.95)
    both = pd.concat([table, extra], ignore_index=True)
    assert len(censoring_flags(demand, both, threshold=0.7)) == len(demand) + 1
    spine = censoring_flags(demand, both, threshold=0.7, add_missing=False)
    assert len(spine) == len(demand) and spine["is_censored"].sum() == 5

    from restock.forecasting.censoring import build_panel
    from restock.forecasting.settings import ForecastSettings

    panel_out = build_panel(flagged, panel.dates[-1], ForecastSettings(holiday_country=None))
    row = panel_out.series.index[panel_out.series["sku"] == "S0"][0]
    assert (panel_out.target[row, 50:55] > 3).all()  # lifted to the usual level



def test_inferred_censoring_only_for_series_that_sell_most_days():
    """A gap of a lumpy series is its pattern (UCI Online Retail), a zero run of a steady one a
    stock-out: only series selling on >= CENSOR_MIN_SELLING_SHARE of their days are censored;
    a frame listing only days with sales counts the days it leaves out as zero."""
    from restock.customers.inferred_censoring import CENSOR_MIN_SELLING_SHARE, selling_share

    dates = pd.date_range("2024-01-01", periods=40)
    steady = np.where(np.arange(40) % 10 == 9, 0.0, 6.0)  # 36 of 40 days
    lumpy = np.where(np.arange(40) % 4 == 0, 48.0, 0.0)  # 10 of 40 days
    demand = pd.DataFrame({"sku": np.repeat(["STEADY", "LUMPY"], 40), "location": "L1",
                           "date": np.tile(dates, 2), "units_sold": np.r_[steady, lumpy]})
    gaps = demand[demand["units_sold"] == 0]
    stockouts = gaps.assign(stockout_source="inferred", probability=0.9)[
        ["sku", "location", "date", "stockout_source", "probability"]]
    share = selling_share(demand)
    assert share[("STEADY", "L1")] == 0.9 and share[("LUMPY", "L1")] == 0.25
    sparse = demand[demand["units_sold"] > 0]
    # the sparse frame ends on the last day with a sale (day 38): 10 sales in 39 days
    assert selling_share(sparse)[("LUMPY", "L1")] == pytest.approx(10 / 39)

    flagged = censoring_flags(demand, stockouts, 0.7)
    censored = flagged[flagged["is_censored"]]
    assert set(censored["sku"]) == {"STEADY"} and len(censored) == 4
    assert CENSOR_MIN_SELLING_SHARE == 0.76
    from restock.customers.settings import CustomerSettings

    assert CustomerSettings().censor_min_selling_share == CENSOR_MIN_SELLING_SHARE
    every = censoring_flags(demand, stockouts, 0.7, min_selling_share=0.0)
    assert every["is_censored"].sum() == len(gaps)

def test_churn_model_out_of_time_on_synthetic_history():
    rng = np.random.default_rng(5)
    rows = []
    start = pd.Timestamp("2023-01-01")
    for i in range(300):
        gap = rng.integers(5, 40)
        leave = rng.integers(100, 900)
        for day in range(int(rng.integers(0, 30)), min(leave, 700), int(gap)):
            rows.append(_line(f"k{i}", "A", start + pd.Timedelta(days=day)))
    sales = pd.DataFrame(rows)
    lines = purchase_lines(sales)
    as_of = start + pd.Timedelta(days=699)
    empty_hits = pd.DataFrame({"customer_id": [], "sku": [], "location": [], "date": [],
                               "reason": []})
    result = evaluate(lines, empty_hits, as_of, ChurnSettings())
    assert result.n_train > 0 and result.n_eval > 0
    assert 0.6 < result.auc <= 1.0  # recency / frequency predict leaving
    risk = score_customers(lines, empty_hits, as_of)
    assert risk.between(0, 1).all() and risk.index.is_unique
