"""Transfers, then purchase orders, from reorder lines (restock.inventory.actions), and their
report sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.contract import ACTION_PUBLISHED_TABLES
from restock.inventory.action_settings import ActionSettings
from restock.inventory.actions import plan_actions
from restock.report.sections.actions import purchase_orders_section, transfers_section

AS_OF = pd.Timestamp("2024-03-04")  # a Monday


def _line(sku, location, on_hand, rop=20.0, up=40.0, mean=2.0, lead=5.0, **kw) -> dict:
    r = {"sku": sku, "location": location, "on_hand": on_hand, "on_order": 0.0,
         "inventory_position": on_hand, "reorder_point": rop, "order_up_to": up,
         "lead_time_days": lead, "mean_daily_forecast": mean, "pack_size": 1.0, "moq": 1.0,
         "max_stock": np.nan, "stock_known": True, "service_level_target": 0.95,
         "lead_time_demand": mean * lead, "review_days": 7.0, "stockout_probability": 0.0,
         "days_of_cover": on_hand / mean, "explanation": "base."}
    r["recommended_order_qty"] = up - on_hand if on_hand <= rop else 0.0
    r.update(kw)
    return r


def _lines() -> pd.DataFrame:
    return pd.DataFrame([
        _line("a", "S1", 200.0), _line("a", "S2", 1.0), _line("b", "S1", 5.0),
        _line("c", "S2", np.nan, inventory_position=np.nan, stock_known=False,
              recommended_order_qty=30.0),
    ])


PRODUCTS = pd.DataFrame({"sku": ["a", "b", "c"], "supplier": ["V", "V", "W"],
                         "unit_cost": [2.0, 3.0, 1.0]})


def _placed_or_explained(plan) -> None:
    positive = plan.lines[plan.lines["recommended_order_qty"] > 0]
    placed = plan.po_lines.groupby(["sku", "location"]).size()
    for r in positive.itertuples():
        if (r.sku, r.location) in placed.index:
            assert placed[(r.sku, r.location)] == 1
        else:
            assert r.explanation.startswith("Not in a purchase order: ")


def test_without_suppliers_or_lanes_the_lines_stay_as_they_are():
    lines = _lines()
    plan = plan_actions(lines, PRODUCTS, None, None, None, AS_OF)
    assert plan.transfers.empty
    for name, frame in (("transfer_recommendations", plan.transfers),
                        ("purchase_order_proposals", plan.proposals),
                        ("purchase_order_lines", plan.po_lines)):
        assert list(frame.columns[: len(ACTION_PUBLISHED_TABLES[name])]) == \
            list(ACTION_PUBLISHED_TABLES[name])
    pd.testing.assert_series_equal(plan.lines["recommended_order_qty"],
                                   lines["recommended_order_qty"])
    assert set(plan.proposals["rule_applied"]) == {"no_supplier_terms"}
    _placed_or_explained(plan)
    assert plan.unplaced[["sku", "location"]].values.tolist() == [["c", "S2"]]


def test_a_lane_moves_surplus_before_buying_and_minimums_are_explained():
    lanes = pd.DataFrame({"from_location": ["S1"], "to_location": ["S2"],
                          "lead_time_days": [1.0], "cost_per_unit": [0.1]})
    suppliers = pd.DataFrame({"supplier": ["V"], "lead_time_days": [5.0],
                              "min_order_value": [500.0], "min_order_units": [np.nan],
                              "order_weekdays": ["mon,thu"], "case_size": [6],
                              "express_lead_time_days": [np.nan],
                              "express_cost_pct": [np.nan]})
    plan = plan_actions(_lines(), PRODUCTS, suppliers, lanes, None, AS_OF)
    assert len(plan.transfers) == 1
    moved = plan.transfers.iloc[0]
    assert (moved["from_location"], moved["to_location"]) == ("S1", "S2") and moved["qty"] > 0
    assert moved["stockout_probability_after"] < moved["stockout_probability_before"]
    after = plan.lines.set_index(["sku", "location"])
    assert after.loc[("a", "S1"), "on_hand"] == 200.0 - moved["qty"]
    assert after.loc[("a", "S1"), "inventory_position"] >= after.loc[("a", "S1"),
                                                                      "reorder_point"]
    _placed_or_explained(plan)
    for p in plan.proposals.itertuples():
        assert p.min_order_met or p.rule_applied in ("deferred", "topped_up_short", "expedite")
    # the report shows both
    page = purchase_orders_section(plan.proposals, plan.po_lines, "$")
    assert 'class="po-card"' in page and "purchase_order_v" in page
    assert "transfers-table" in transfers_section(plan.transfers)


def test_transfers_can_be_switched_off():
    lanes = pd.DataFrame({"from_location": ["S1"], "to_location": ["S2"],
                          "lead_time_days": [1.0], "cost_per_unit": [0.0]})
    settings = ActionSettings.model_validate({"transfers": {"enabled": False}})
    plan = plan_actions(_lines(), PRODUCTS, None, lanes, None, AS_OF, settings)
    assert plan.transfers.empty and (plan.lines["transfer_in"] == 0).all()
    assert "No transfers this run" in transfers_section(plan.transfers)


def _supplier(weekdays: str) -> pd.DataFrame:
    return pd.DataFrame({"supplier": ["V"], "lead_time_days": [1.0],
                         "min_order_value": [np.nan], "min_order_units": [np.nan],
                         "order_weekdays": [weekdays], "case_size": [np.nan],
                         "express_lead_time_days": [np.nan], "express_cost_pct": [np.nan]})


def test_transfers_wait_for_the_suppliers_next_order_day_as_in_the_replay():
    from restock.inventory.purchase_orders import days_to_next_order
    from restock.inventory.transfers import (
        TransferSettings,
        next_delivery_lines,
        plan_transfers,
    )

    # (R, S) lines, reorder point = order-up-to: 2 a day over lead 1 + review 7 days = 16, safety
    # stock 6, reorder point 22. S1 holds 20 (below it), S2 holds 1. Lane S1 -> S2: 1 day.
    rs = {"rop": 22.0, "up": 22.0, "lead": 1.0, "lead_time_demand": 16.0}
    lines = pd.DataFrame([_line("a", "S1", 20.0, **rs), _line("a", "S2", 1.0, **rs)])
    lanes = pd.DataFrame({"from_location": ["S1"], "to_location": ["S2"],
                          "lead_time_days": [1.0], "cost_per_unit": [0.0]})
    friday = AS_OF + pd.Timedelta(days=4)
    # Without suppliers, or on the supplier's order day, a purchase lands in 1 day, as soon as
    # a transfer: none (the behaviour before order weekdays were read).
    for suppliers, day in ((None, friday), (_supplier("mon"), AS_OF), (_supplier(""), friday)):
        assert (days_to_next_order(lines, PRODUCTS, suppliers, day) == 0).all()
        assert plan_actions(lines, PRODUCTS, suppliers, lanes, None, day).transfers.empty
    # On Friday, supplier V orders next on Monday (3 days): the next purchase lands in 4 days,
    # the lane beats it, and S1 keeps the reorder point of those 4 days:
    # 16 x 4/8 + 6 x sqrt(4/8) = 12.24, so it can give 7 units, not 0.
    assert days_to_next_order(lines, PRODUCTS, _supplier("mon"), friday).tolist() == [3.0, 3.0]
    assert days_to_next_order(lines, PRODUCTS, _supplier("mon,fri"), friday).tolist() == [0, 0]
    plan = plan_actions(lines, PRODUCTS, _supplier("mon"), lanes, None, friday)
    assert len(plan.transfers) == 1
    moved = plan.transfers.iloc[0]
    assert (moved["from_location"], moved["to_location"]) == ("S1", "S2")
    assert 1 <= moved["qty"] <= 7
    assert "instead of 4 for a purchase" in moved["reason"]
    assert moved["source_reorder_point"] == pytest.approx(16 * 0.5 + 6 * np.sqrt(0.5))
    assert "(above 12.2, its reorder point over the days until its next purchase can land " \
        "(its own: 22.0)" in moved["reason"]
    after = plan.lines.set_index("location")
    assert after.loc["S1", "inventory_position"] >= 16 * 0.5 + 6 * np.sqrt(0.5)
    # the published lines keep their own reorder point, and S1's order is recomputed on it
    assert (after["reorder_point"] == 22.0).all()
    assert after.loc["S1", "recommended_order_qty"] == 22.0 - after.loc["S1",
                                                                         "inventory_position"]
    assert "days_to_next_order" not in plan.lines and "demand_std_daily" not in plan.lines
    # the planner read the lines as the replay gives them between reviews (same rule)
    same = plan_transfers(next_delivery_lines(lines, 3.0), lanes, friday,
                          TransferSettings(default_lanes=False))
    pd.testing.assert_frame_equal(same.recommendations.drop(columns="reason"),
                                  plan.transfers.drop(columns="reason"), check_dtype=False)
    # with the line's own reorder point for sources, S1 (below it) gives nothing
    own = next_delivery_lines(lines, 3.0, TransferSettings(remaining_interval_reorder_point=False))
    assert (own["reorder_point"] == 22.0).all()
    assert plan_transfers(own, lanes, friday).recommendations.empty
