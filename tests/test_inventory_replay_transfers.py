"""Transfers in the policy replay (policy recommended_transfers): a case where they clearly help,
units conserved and sources kept at their reorder point on random networks, the auto switch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restock.contract import PUBLISHED_TABLES, REPLAY_STAMP_COLUMNS
from restock.forecasting.final import PlanInputs
from restock.inventory import ReplenishSettings, make_reference_planner, replay_policies
from restock.inventory.replay_transfers import replay_transfer_terms, transfer_series
from restock.inventory.transfers import TransferSettings

LEVELS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995)
NO_DEFAULT_LANES = TransferSettings(default_lanes=False)


def _lanes(pairs, lead=1.0) -> pd.DataFrame:
    return pd.DataFrame({"from_location": [a for a, _ in pairs],
                         "to_location": [b for _, b in pairs],
                         "lead_time_days": lead, "cost_per_unit": 0.0})


def _deterministic_planner(per_day: dict[str, float]):
    """Knows each location's demand exactly: every quantile of h days is h x its daily rate."""
    locs = sorted(per_day)

    def planner(t):
        h = np.arange(1, 29)
        cum = pd.concat([pd.DataFrame({
            "sku": "a", "location": loc, "horizon_days": np.repeat(h, len(LEVELS) + 1),
            "level": np.tile([0.0, *LEVELS], h.size),
            "quantity": np.repeat(h * per_day[loc], len(LEVELS) + 1)}) for loc in locs],
            ignore_index=True)
        daily = pd.DataFrame({"sku": "a", "location": np.repeat(locs, 28),
                              "date": np.tile(pd.date_range(t + pd.Timedelta(days=1),
                                                            periods=28), len(locs)),
                              "forecast": np.repeat([per_day[loc] for loc in locs], 28)})
        return PlanInputs(daily, cum)
    return planner


def _two_stores(days: int = 60):
    """Store N sells 1 a day and starts with 100 (a surplus); store S sells 4 a day and starts
    with 8 (two days). Purchase lead time 5 days, a 1-day lane N -> S."""
    dates = pd.date_range("2024-01-01", periods=days)
    demand = pd.concat([pd.DataFrame({
        "sku": "a", "location": loc, "category": "food", "date": dates,
        "units_sold": rate, "is_censored": False, "on_hand": np.nan})
        for loc, rate in (("N", 1.0), ("S", 4.0))], ignore_index=True)
    products = pd.DataFrame({"sku": ["a"], "category": "food", "lead_time_days": 5.0,
                             "lead_time_std_days": 0.0, "unit_cost": 2.0, "pack_size": 1,
                             "moq": 1, "active": True})
    stock = pd.DataFrame({"sku": "a", "location": ["N", "S"], "on_hand": [100.0, 8.0],
                          "stock_known": True})
    return demand, products, stock, dates


def test_transfers_clearly_help_two_stores_one_with_surplus_one_stocking_out():
    demand, products, stock, dates = _two_stores()
    settings = ReplenishSettings(replay_service_levels=[0.9], static_buffer_days=[7],
                                 replay_warmup=False, replay_lead_time="mean")
    start, as_of = dates[-29], dates[-1]  # 28 days, reviews at the end of days 0, 7, 14, 21
    planner = _deterministic_planner({"N": 1.0, "S": 4.0})
    lanes = _lanes([("N", "S"), ("S", "N")])
    terms = replay_transfer_terms(True, demand[["sku", "location"]].drop_duplicates(), lanes,
                                  None, NO_DEFAULT_LANES)
    res = replay_policies(demand, products, None, planner, start, as_of, settings,
                          stock_position=stock, transfers=terms)
    rows = res.rows.set_index(["policy", "parameter", "category"])
    library_columns = set(PUBLISHED_TABLES["policy_replay"]) - set(REPLAY_STAMP_COLUMNS)
    assert library_columns <= set(res.rows.columns)
    without = rows.loc[("recommended", 0.9, "ALL")]
    with_t = rows.loc[("recommended_transfers", 0.9, "ALL")]
    # Without transfers S sells its 8 units on days 1-2 and is out on days 3-5, until its
    # first order lands (placed at the end of day 0, sells from day 6); never again after.
    # With them, part of N's stock above its reorder point ships at the end of day 0 and
    # sells at S from day 2: S is never out.
    assert without.stockout_rate == pytest.approx(3 / 56)
    assert without.lost_units == pytest.approx(12.0)
    assert with_t.stockout_rate == 0 and with_t.lost_units == 0
    # ... with less stock on average: the surplus sells at S instead of waiting at N.
    assert with_t.avg_inventory_units < without.avg_inventory_units
    assert with_t.units_transferred > 0 and without.units_transferred == 0
    moved = res.transfers
    first = moved[moved["day"] == 0].iloc[0]
    assert (first.from_location, first.to_location, first.policy) == ("N", "S",
                                                                      "recommended_transfers")
    assert first.arrives_day == 2 and 4 <= first.qty <= 40  # S's room: order-up-to 48 - 8
    assert first.source_position_before - first.qty >= first.source_reorder_point
    # Published: the transfer point against Restock without transfers at the same inventory
    # (here outside the one-point frontier: compared, flagged, the cut still stated).
    comp = res.comparison_frame()
    assert list(comp.columns) == list(PUBLISHED_TABLES["policy_replay_comparison"])
    t_row = comp[comp["compared_with"] == "recommended_transfers"].iloc[0]
    assert t_row["transfers_stockout_cut"] == pytest.approx(1.0)
    assert t_row["transfers_lost_units_cut"] == pytest.approx(1.0)
    assert t_row["units_transferred"] == pytest.approx(with_t.units_transferred)
    assert comp.loc[comp["compared_with"] == "static", "transfers_stockout_cut"].isna().all()
    assert not comp["is_headline"][comp["compared_with"] == "recommended_transfers"].any()


def test_without_transfers_the_replay_is_unchanged_and_the_switch_decides():
    demand, products, stock, dates = _two_stores()
    settings = ReplenishSettings(replay_service_levels=[0.8, 0.9], static_buffer_days=[3, 7],
                                 replay_warmup=False)
    start, as_of = dates[-29], dates[-1]
    planner = _deterministic_planner({"N": 1.0, "S": 4.0})
    plain = replay_policies(demand, products, None, planner, start, as_of, settings,
                            stock_position=stock)
    series = demand[["sku", "location"]].drop_duplicates()
    lanes = _lanes([("N", "S")])
    terms = replay_transfer_terms("auto", series, lanes, None, NO_DEFAULT_LANES)
    both = replay_policies(demand, products, None, planner, start, as_of, settings,
                           stock_position=stock, transfers=terms)
    cols = ["policy", "parameter", "category", "avg_inventory_units", "stockout_rate",
            "lost_units", "orders"]
    same = both.rows[both.rows["policy"] != "recommended_transfers"].reset_index(drop=True)
    pd.testing.assert_frame_equal(plain.rows[cols], same[cols])
    assert (plain.rows["units_transferred"] == 0).all()
    assert plain.transfers.empty and "recommended_transfers" not in set(plain.rows["policy"])
    # auto: on with a lane between two locations of an item; off without lanes, with
    # transfers disabled, or with one location per item; false: never.
    assert terms is not None and transfer_series(series, terms.lanes).tolist() == [0, 1]
    assert replay_transfer_terms("auto", series, None, None, NO_DEFAULT_LANES) is None
    assert replay_transfer_terms("auto", series, lanes, None, NO_DEFAULT_LANES,
                                 enabled=False) is None
    assert replay_transfer_terms("auto", series.iloc[:1], lanes, None, NO_DEFAULT_LANES) is None
    assert replay_transfer_terms(False, series, lanes, None, NO_DEFAULT_LANES) is None
    # default lanes join the stores of a region (FreshRetailNet: the stores of a city)
    locations = pd.DataFrame({"location": ["N", "S"], "region": ["city1", "city1"]})
    default = replay_transfer_terms("auto", series, None, locations, TransferSettings())
    assert default is not None and len(default.lanes) == 2
    # numeric location codes (a CSV read as numbers) still match the replay's text keys
    numeric = replay_transfer_terms("auto", pd.DataFrame({"sku": "a", "location": ["5", "6"]}),
                                    None, pd.DataFrame({"location": [5, 6], "region": [1, 1]}),
                                    TransferSettings())
    assert numeric is not None and set(numeric.lanes["from_location"]) == {"5", "6"}


# ---------------------------------------------------------------- properties on random networks
@st.composite
def networks(draw):
    """1-2 items at 2-3 locations: Poisson demand with a rate per series, random starting stock
    (some unknown), purchase lead times 1-6 days, lanes of 0-3 days between some locations (at
    least one)."""
    n_items = draw(st.integers(1, 2))
    n_locs = draw(st.integers(2, 3))
    locs = [f"L{i}" for i in range(n_locs)]
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    days = 70
    dates = pd.date_range("2024-01-01", periods=days)
    frames, stock = [], []
    for i in range(n_items):
        for loc in locs:
            rate = draw(st.sampled_from([0.3, 1.0, 3.0, 8.0]))
            frames.append(pd.DataFrame({
                "sku": f"i{i}", "location": loc, "category": "c", "date": dates,
                "units_sold": rng.poisson(rate, days).astype(float), "is_censored": False,
                "on_hand": np.nan}))
            start = draw(st.sampled_from([np.nan, 0.0, 5.0, 40.0, 150.0]))
            stock.append({"sku": f"i{i}", "location": loc, "on_hand": start,
                          "stock_known": bool(np.isfinite(start))})
    products = pd.DataFrame({
        "sku": [f"i{i}" for i in range(n_items)], "category": "c",
        "lead_time_days": [float(draw(st.integers(1, 6))) for _ in range(n_items)],
        "lead_time_std_days": draw(st.sampled_from([0.0, 1.0])), "unit_cost": 1.0,
        "pack_size": draw(st.sampled_from([1, 1, 6])), "moq": 1, "active": True})
    every = [(a, b) for a in locs for b in locs if a != b]
    pairs = draw(st.lists(st.sampled_from(every), min_size=1, unique=True))
    lanes = pd.DataFrame({"from_location": [a for a, _ in pairs],
                          "to_location": [b for _, b in pairs],
                          "lead_time_days": [float(draw(st.integers(0, 3))) for _ in pairs],
                          "cost_per_unit": 0.0})
    stock = pd.DataFrame(stock)
    return (pd.concat(frames, ignore_index=True), products,
            stock[stock["stock_known"]].reset_index(drop=True), lanes, dates)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(networks())
def test_replay_with_transfers_conserves_units_and_keeps_sources_at_their_reorder_point(net):
    demand, products, stock, lanes, dates = net
    settings = ReplenishSettings(replay_service_levels=[0.8, 0.95], static_buffer_days=[7],
                                 replay_warmup=False, review_days=5)
    start, as_of = dates[-36], dates[-1]
    terms = replay_transfer_terms(True, demand[["sku", "location"]].drop_duplicates(), lanes,
                                  None, NO_DEFAULT_LANES)
    res = replay_policies(demand, products, None, make_reference_planner(demand), start, as_of,
                          settings, stock_position=stock, transfers=terms)
    led = res.ledger
    assert (led["on_hand_end"] >= -1e-9).all() and (led["lost"] >= -1e-9).all()
    # Per series: start + ordered + transferred in - out = on hand + on order + served.
    lhs = led["start_units"] + led["ordered"] + led["transfer_in"] - led["transfer_out"]
    rhs = led["on_hand_end"] + led["on_order_end"] + led["served"]
    assert np.allclose(lhs, rhs, atol=1e-6)
    # Per policy and item: transfers only move units (start + ordered = stock + transit + sold).
    by_item = led.groupby(["policy", "parameter", "sku"], dropna=False)[
        ["start_units", "ordered", "on_hand_end", "on_order_end", "served", "transfer_in",
         "transfer_out"]].sum()
    assert np.allclose(by_item["transfer_in"], by_item["transfer_out"], atol=1e-6)
    assert np.allclose(by_item["start_units"] + by_item["ordered"],
                       by_item["on_hand_end"] + by_item["on_order_end"] + by_item["served"],
                       atol=1e-6)
    # Only the transfer policy moves units.
    assert (led.loc[led["policy"] != "recommended_transfers", "transfer_out"] == 0).all()
    moved = res.transfers
    if len(moved):
        assert set(moved["policy"]) == {"recommended_transfers"}
        assert (moved["qty"] > 0).all() and (moved["qty"] == moved["qty"].round()).all()
        # No source goes below its reorder point because of the transfers of a review.
        out = moved.groupby(["policy_row", "day", "sku", "from_location"]).agg(
            qty=("qty", "sum"), position=("source_position_before", "first"),
            reorder_point=("source_reorder_point", "first"))
        assert (out["position"] - out["qty"] >= out["reorder_point"] - 1e-9).all()
        # Lanes as given: only along a lane, arriving after its lead time.
        lane_days = {(a, b): d for a, b, d in lanes[["from_location", "to_location",
                                                     "lead_time_days"]].itertuples(index=False)}
        for r in moved.itertuples(index=False):
            assert r.arrives_day == r.day + lane_days[(r.from_location, r.to_location)] + 1
        total = led[led["policy"] == "recommended_transfers"]["transfer_out"].sum()
        assert moved["qty"].sum() == pytest.approx(total)


def test_transfers_are_reviewed_every_day_not_only_on_order_days():
    # S sells 20 a day on days 2-4 of the replay (its plan says 4): it runs short between two
    # order reviews (days 0 and 7), when no purchase can be placed; N's stock above its
    # reorder point is moved then, on a day that is not a review day.
    demand, products, stock, dates = _two_stores()
    start, as_of = dates[-29], dates[-1]
    spike = (demand["location"] == "S") & demand["date"].between(start + pd.Timedelta(days=2),
                                                                 start + pd.Timedelta(days=4))
    demand.loc[spike, "units_sold"] = 20.0
    stock["on_hand"] = [100.0, 48.0]
    settings = ReplenishSettings(replay_service_levels=[0.9], static_buffer_days=[7],
                                 replay_warmup=False, replay_lead_time="mean")
    terms = replay_transfer_terms(True, demand[["sku", "location"]].drop_duplicates(),
                                  _lanes([("N", "S"), ("S", "N")]), None, NO_DEFAULT_LANES)
    res = replay_policies(demand, products, None, _deterministic_planner({"N": 1.0, "S": 4.0}),
                          start, as_of, settings, stock_position=stock, transfers=terms)
    moved = res.transfers
    between = moved[moved["day"] % settings.review_days != 0]
    assert len(between) and (between["from_location"] == "N").all()
    assert (between["source_position_before"] - between["qty"]
            >= between["source_reorder_point"] - 1e-9).all()
    rows = res.rows.set_index(["policy", "parameter", "category"])
    assert rows.loc[("recommended_transfers", 0.9, "ALL"), "lost_units"] < \
        rows.loc[("recommended", 0.9, "ALL"), "lost_units"]
    # Switched off: transfers on review days only.
    weekly = replay_transfer_terms(
        True, demand[["sku", "location"]].drop_duplicates(), _lanes([("N", "S"), ("S", "N")]),
        None, TransferSettings(default_lanes=False, replay_daily_review=False))
    res = replay_policies(demand, products, None, _deterministic_planner({"N": 1.0, "S": 4.0}),
                          start, as_of, settings, stock_position=stock, transfers=weekly)
    assert (res.transfers["day"] % settings.review_days == 0).all()


def test_between_reviews_the_reorder_point_covers_the_days_left():
    from restock.inventory.replay_transfers import remaining_reorder_point

    # Review's reorder point 30 over 10 days (mean 20, safety stock 10).
    rp, mean, interval = np.array([30.0]), np.array([20.0]), np.array([10.0])
    days = np.arange(1.0, 11.0)
    got = np.array([remaining_reorder_point(rp, mean, interval, np.array([d]))[0]
                    for d in days])
    assert got[-1] == pytest.approx(30.0)  # the whole interval: the review's own
    assert got[3] == pytest.approx(20 * 0.4 + 10 * np.sqrt(0.4))  # 4 days left
    assert (np.diff(got) > 0).all() and (got <= 30 + 1e-12).all()
