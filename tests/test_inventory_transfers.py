"""Transfers between locations (restock.inventory.transfers): rules and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restock.inventory.transfers import (
    TRANSFER_COLUMNS,
    TransferSettings,
    daily_demand_std,
    default_lanes,
    plan_transfers,
    resolve_lanes,
    stockout_probability,
    transfer_stockout_probability,
)

AS_OF = pd.Timestamp("2024-03-01")


def make_lines(rows: list[dict]) -> pd.DataFrame:
    """Reorder-line frames with the columns build_reorder_lines gives (defaults filled)."""
    base = {"on_order": 0.0, "reorder_point": 20.0, "order_up_to": 25.0, "lead_time_days": 7.0,
            "mean_daily_forecast": 2.0, "service_level_target": 0.95, "lead_time_demand": 28.0,
            "review_days": 7, "pack_size": 1.0, "moq": 1.0, "max_stock": np.nan,
            "stock_known": True, "explanation": "x"}
    out = []
    for r in rows:
        r = {**base, **r}
        r.setdefault("inventory_position", r["on_hand"] + r["on_order"])
        r.setdefault("recommended_order_qty",
                     max(r["order_up_to"] - r["inventory_position"], 0.0)
                     if r["inventory_position"] <= r["reorder_point"] else 0.0)
        out.append(r)
    return pd.DataFrame(out)


def lanes(pairs, lead=1.0, cost=0.1) -> pd.DataFrame:
    return pd.DataFrame({"from_location": [a for a, _ in pairs],
                         "to_location": [b for _, b in pairs],
                         "lead_time_days": lead, "cost_per_unit": cost})


# ---------------------------------------------------------------- lanes
def test_default_lanes_join_every_pair_of_a_region_both_ways():
    locs = pd.DataFrame({"location": ["A", "B", "C", "D", "E"],
                         "region": ["north", "north", "north", "south", None]})
    got = default_lanes(locs, lead_time_days=2.0)
    pairs = set(zip(got["from_location"], got["to_location"], strict=True))
    assert pairs == {(a, b) for a in "ABC" for b in "ABC" if a != b}
    assert (got["lead_time_days"] == 2.0).all()


def test_explicit_lanes_win_over_default_ones_and_defaults_can_be_off():
    locs = pd.DataFrame({"location": ["A", "B"], "region": ["r", "r"]})
    given_lanes = lanes([("A", "B")], lead=3.0, cost=0.5)
    got = resolve_lanes(given_lanes, locs).set_index(["from_location", "to_location"])
    assert got.loc[("A", "B"), "lead_time_days"] == 3.0
    assert got.loc[("B", "A"), "lead_time_days"] == 1.0  # default lane
    off = resolve_lanes(given_lanes, locs, TransferSettings(default_lanes=False))
    assert len(off) == 1


# ---------------------------------------------------------------- probabilities
def test_transfer_probability_without_units_is_the_lines_own():
    for x in (0.0, 5.0, 14.0, 30.0):
        p0 = transfer_stockout_probability(x, 0.0, 2.0, 7.0, 2.0, 1.5)[0]
        assert p0 == pytest.approx(stockout_probability(x, 7.0, 2.0, 1.5), abs=0.01)


def test_a_transfer_cannot_cure_demand_before_it_arrives():
    # 2 on hand, 2/day: a lane of 3 days leaves a high risk whatever the quantity.
    fast = transfer_stockout_probability(2.0, [50.0], 1.0, 7.0, 2.0, 1.0)[0]
    slow = transfer_stockout_probability(2.0, [50.0], 3.0, 7.0, 2.0, 1.0)[0]
    assert fast < slow
    assert slow > 0.8
    more = transfer_stockout_probability(2.0, np.arange(1.0, 40.0), 1.0, 7.0, 2.0, 1.0)
    assert (np.diff(more) <= 1e-12).all()  # more units never raise the risk


# ---------------------------------------------------------------- rules
def test_surplus_goes_to_the_location_about_to_run_out():
    lines = make_lines([
        {"sku": "a", "location": "S1", "on_hand": 100.0},
        {"sku": "a", "location": "S2", "on_hand": 2.0},
        {"sku": "a", "location": "S3", "on_hand": 30.0},  # fine: neither gives nor takes
    ])
    plan = plan_transfers(lines, lanes([("S1", "S2"), ("S1", "S3"), ("S3", "S2")]), AS_OF)
    rec = plan.recommendations
    assert list(rec.columns[: len(TRANSFER_COLUMNS)]) == list(TRANSFER_COLUMNS)
    assert len(rec) == 1
    r = rec.iloc[0]
    assert (r["from_location"], r["to_location"]) == ("S1", "S2")
    assert r["arrives"] == AS_OF + pd.Timedelta(days=1)
    assert r["stockout_probability_after"] < r["stockout_probability_before"]
    # S1: position 100, reorder point 20: gives at most 80.
    assert 0 < r["qty"] <= 80 and r["qty"] == int(r["qty"])
    out = plan.lines.set_index("location")
    assert out.loc["S2", "inventory_position"] <= 25  # never above its order-up-to
    assert out.loc["S2", "on_order"] == r["qty"]  # in transit counts as on order
    assert out.loc["S1", "on_hand"] == 100 - r["qty"]
    assert out.loc["S2", "recommended_order_qty"] == pytest.approx(
        max(25 - out.loc["S2", "inventory_position"], 0) if
        out.loc["S2", "inventory_position"] <= 20 else 0)
    assert "Transfer in" in out.loc["S2", "explanation"]


def test_no_transfer_when_the_lane_is_not_faster_than_a_purchase():
    lines = make_lines([{"sku": "a", "location": "S1", "on_hand": 100.0},
                        {"sku": "a", "location": "S2", "on_hand": 2.0, "lead_time_days": 2.0}])
    plan = plan_transfers(lines, lanes([("S1", "S2")], lead=3.0), AS_OF)
    assert plan.recommendations.empty
    assert plan.lines["inventory_position"].tolist() == [100.0, 2.0]


def test_unknown_stock_neither_gives_nor_takes_and_no_lanes_changes_nothing():
    lines = make_lines([{"sku": "a", "location": "S1", "on_hand": 100.0},
                        {"sku": "a", "location": "S2", "on_hand": 2.0}])
    lines.loc[1, "stock_known"] = False
    assert plan_transfers(lines, lanes([("S1", "S2")]), AS_OF).recommendations.empty
    ok = make_lines([{"sku": "a", "location": "S1", "on_hand": 100.0},
                     {"sku": "a", "location": "S2", "on_hand": 2.0}])
    plan = plan_transfers(ok, None, AS_OF, TransferSettings(default_lanes=False))
    assert plan.recommendations.empty
    pd.testing.assert_frame_equal(plan.lines.drop(columns=["transfer_in", "transfer_out"]), ok)


def test_the_faster_lane_is_used_first():
    lines = make_lines([{"sku": "a", "location": "FAR", "on_hand": 100.0},
                        {"sku": "a", "location": "NEAR", "on_hand": 100.0},
                        {"sku": "a", "location": "S", "on_hand": 3.0}])
    lane_table = pd.concat([lanes([("FAR", "S")], lead=4.0), lanes([("NEAR", "S")], lead=1.0)])
    rec = plan_transfers(lines, lane_table, AS_OF).recommendations
    assert rec["from_location"].tolist() == ["NEAR"]


def test_scarce_surplus_goes_where_it_cuts_most():
    # 10 spare units (S gives down to its reorder point 20, no further); T1 is nearly fine,
    # T2 is about to run out: T2 gets the units.
    lines = make_lines([{"sku": "a", "location": "S", "on_hand": 30.0},
                        {"sku": "a", "location": "T1", "on_hand": 19.0},
                        {"sku": "a", "location": "T2", "on_hand": 6.0}])
    rec = plan_transfers(lines, lanes([("S", "T1"), ("S", "T2")]), AS_OF).recommendations
    by_dst = rec.groupby("to_location")["qty"].sum()
    assert by_dst.sum() <= 10
    assert by_dst.get("T2", 0) > by_dst.get("T1", 0)


def test_a_lane_as_slow_as_a_purchase_helps_when_the_next_order_day_is_later():
    # Purchase lead time 1 day and a 1-day lane: no gain today; when a purchase can only be
    # placed in 3 days (days_to_next_order), the lane arrives 3 days before a purchase would.
    rows = [{"sku": "a", "location": "S1", "on_hand": 100.0, "lead_time_days": 1.0},
            {"sku": "a", "location": "S2", "on_hand": 2.0, "lead_time_days": 1.0}]
    today = plan_transfers(make_lines(rows), lanes([("S1", "S2")]), AS_OF)
    assert today.recommendations.empty
    later = make_lines(rows).assign(days_to_next_order=3.0)
    rec = plan_transfers(later, lanes([("S1", "S2")]), AS_OF).recommendations
    assert rec["qty"].sum() > 0
    assert (rec["purchase_lead_time_days"] == 4.0).all()


def test_a_source_gives_only_while_the_cut_beats_its_own_rise_in_risk():
    # S sits just above its reorder point and sells fast; T barely misses its target and sells
    # slowly: moving units would put S at more risk than it takes off T.
    lines = make_lines([
        {"sku": "a", "location": "S", "on_hand": 30.0, "reorder_point": 20.0,
         "mean_daily_forecast": 4.0, "demand_std_daily": 4.0, "lead_time_days": 7.0},
        {"sku": "a", "location": "T", "on_hand": 4.0, "reorder_point": 3.0, "order_up_to": 6.0,
         "mean_daily_forecast": 0.2, "demand_std_daily": 0.5, "lead_time_days": 7.0}])
    rec = plan_transfers(lines, lanes([("S", "T")]), AS_OF).recommendations
    assert rec.empty
    # The same S with slow sales gives.
    calm = lines.assign(mean_daily_forecast=[0.2, 0.2], demand_std_daily=[0.5, 0.5])
    assert plan_transfers(calm, lanes([("S", "T")]), AS_OF).recommendations["qty"].sum() > 0


# ---------------------------------------------------------------- properties
@st.composite
def networks(draw):
    n_loc = draw(st.integers(2, 4))
    n_sku = draw(st.integers(1, 2))
    rows = []
    for s in range(n_sku):
        for i in range(n_loc):
            mean = draw(st.floats(0.0, 10.0))
            lt = draw(st.floats(1.0, 14.0))
            rp = draw(st.floats(0.0, 80.0))
            rows.append({
                "sku": f"k{s}", "location": f"L{i}",
                "on_hand": float(draw(st.integers(0, 200))),
                "on_order": float(draw(st.integers(0, 30))),
                "reorder_point": rp, "order_up_to": rp + draw(st.floats(0.0, 40.0)),
                "lead_time_days": lt, "mean_daily_forecast": mean,
                "lead_time_demand": mean * (lt + 7), "service_level_target":
                    draw(st.floats(0.6, 0.99)),
                "demand_std_daily": draw(st.one_of(st.none(), st.floats(0.0, 8.0))),
            })
    pairs = [(f"L{a}", f"L{b}") for a in range(n_loc) for b in range(n_loc) if a != b]
    lane_lt = [draw(st.floats(0.0, 6.0)) for _ in pairs]
    lane_table = lanes(pairs)
    lane_table["lead_time_days"] = lane_lt
    return make_lines(rows), lane_table


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_transfers_conserve_units_and_keep_sources_at_their_reorder_point(network):
    lines, lane_table = network
    plan = plan_transfers(lines, lane_table, AS_OF, TransferSettings(default_lanes=False))
    after, rec = plan.lines, plan.recommendations
    # Units are conserved per item: what leaves arrives, total position unchanged.
    before_total = lines.groupby("sku")["inventory_position"].sum()
    after_total = after.groupby("sku")["inventory_position"].sum()
    pd.testing.assert_series_equal(before_total, after_total, check_exact=False)
    assert after["transfer_in"].sum() == pytest.approx(after["transfer_out"].sum())
    assert rec["qty"].sum() == pytest.approx(after["transfer_out"].sum()) if len(rec) else True
    # Sources stay at or above their reorder point and never ship more than they hold.
    gave = after["transfer_out"] > 0
    assert (after.loc[gave, "inventory_position"] >= after.loc[gave, "reorder_point"] - 1e-9).all()
    assert (after["on_hand"] >= -1e-9).all()
    # No location both gives and takes; quantities are whole positive units; risk only falls.
    assert not ((after["transfer_in"] > 0) & gave).any()
    if len(rec):
        assert (rec["qty"] > 0).all() and (rec["qty"] == rec["qty"].round()).all()
        assert (rec["stockout_probability_after"]
                <= rec["stockout_probability_before"] + 1e-12).all()
        took = after["transfer_in"] > 0
        assert (after.loc[took, "inventory_position"]
                <= after.loc[took, "order_up_to"] + 1e-9).all()


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_transfers_cut_more_risk_at_destinations_than_they_add_at_sources(network):
    # The greedy's gain is net of the source's rise in its chance of running out before its
    # next delivery: over a plan, the expected number of item-locations that run out falls.
    lines, lane_table = network
    plan = plan_transfers(lines, lane_table, AS_OF, TransferSettings(default_lanes=False))
    rec, after = plan.recommendations, plan.lines
    if not len(rec):
        return
    std = daily_demand_std(lines)
    mean, lead = lines["mean_daily_forecast"].to_numpy(), lines["lead_time_days"].to_numpy()
    gave = after["transfer_out"].to_numpy() > 0
    rise = (stockout_probability(after["inventory_position"].to_numpy(), lead, mean, std)
            - stockout_probability(lines["inventory_position"].to_numpy(), lead, mean, std))
    per_dst = rec.groupby(["sku", "to_location"])[
        ["stockout_probability_before", "stockout_probability_after"]].first()
    cut = (per_dst["stockout_probability_before"] - per_dst["stockout_probability_after"]).sum()
    assert cut >= rise[gave].sum() - 0.01
