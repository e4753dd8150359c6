"""Purchase order proposals per supplier (restock.inventory.purchase_orders)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restock.inventory.purchase_orders import (
    PO_LINE_COLUMNS,
    PROPOSAL_COLUMNS,
    build_purchase_orders,
    next_order_day,
    pack_round,
    parse_weekdays,
)

AS_OF = pd.Timestamp("2024-03-04")  # a Monday


def line(sku, location="S1", **kw) -> dict:
    r = {"sku": sku, "location": location, "on_hand": 10.0, "on_order": 0.0,
         "reorder_point": 20.0, "order_up_to": 40.0, "lead_time_days": 3.0,
         "mean_daily_forecast": 1.0, "pack_size": 1.0, "moq": 1.0, "max_stock": np.nan,
         "stock_known": True}
    r.update(kw)
    r.setdefault("inventory_position", r["on_hand"] + r["on_order"])
    r.setdefault("recommended_order_qty",
                 r["order_up_to"] - r["inventory_position"]
                 if r["inventory_position"] <= r["reorder_point"] else 0.0)
    return r


def supplier(name="V", **kw) -> dict:
    r = {"supplier": name, "lead_time_days": 3.0, "min_order_value": np.nan,
         "min_order_units": np.nan, "order_weekdays": "", "case_size": np.nan,
         "express_lead_time_days": np.nan, "express_cost_pct": np.nan}
    r.update(kw)
    return r


def products(skus, name="V", cost=1.0) -> pd.DataFrame:
    return pd.DataFrame({"sku": skus, "supplier": name, "unit_cost": cost})


def assert_every_positive_line_placed_once(lines: pd.DataFrame, plan) -> None:
    positive = lines.loc[lines["recommended_order_qty"] > 0, ["sku", "location"]]
    placed = plan.lines[["sku", "location"]]
    assert not placed.duplicated().any()
    explained = plan.unplaced[["sku", "location"]]
    both = pd.concat([placed, explained])
    got = set(map(tuple, both.to_numpy()))
    assert set(map(tuple, positive.to_numpy())) <= got
    assert set(plan.lines["proposal_id"]) <= set(plan.proposals["proposal_id"])


# ---------------------------------------------------------------- helpers
def test_pack_round_and_weekdays():
    assert pack_round([0, 1, 12, 13, -5], 12, 1).tolist() == [0, 12, 12, 24, 0]
    assert pack_round([5, 30], 6, 20).tolist() == [24, 30]  # MOQ 20 -> 4 packs of 6
    assert parse_weekdays("mon, Thu") == {0, 3}
    assert parse_weekdays(None) == set(range(7))
    with pytest.raises(ValueError, match="unknown weekday"):
        parse_weekdays("mon,funday")
    assert next_order_day(AS_OF, parse_weekdays("thu")) == pd.Timestamp("2024-03-07")
    assert next_order_day(AS_OF, parse_weekdays("mon")) == AS_OF


# ---------------------------------------------------------------- rules
def test_without_a_suppliers_table_each_supplier_gets_its_lines_as_they_are():
    lines = pd.DataFrame([line("a"), line("b", on_hand=30.0), line("c", on_hand=0.0)])
    prods = pd.concat([products(["a", "b"], "V"), products(["c"], "W")])
    plan = build_purchase_orders(lines, prods, None, AS_OF)
    assert list(plan.proposals.columns[: len(PROPOSAL_COLUMNS)]) == list(PROPOSAL_COLUMNS)
    assert list(plan.lines.columns[: len(PO_LINE_COLUMNS)]) == list(PO_LINE_COLUMNS)
    p = plan.proposals.set_index("supplier")
    assert set(p.index) == {"V", "W"}
    assert (p["rule_applied"] == "no_supplier_terms").all() and p["min_order_met"].all()
    assert p.loc["V", "order_date"] == AS_OF
    assert p.loc["V", "expected_date"] == AS_OF + pd.Timedelta(days=3)
    assert plan.lines.set_index("sku")["qty"].to_dict() == {"a": 30.0, "c": 40.0}
    assert_every_positive_line_placed_once(lines, plan)


def test_minimum_met_and_supplier_case_size():
    lines = pd.DataFrame([line("a"), line("b", pack_size=5.0)])
    sup = pd.DataFrame([supplier(min_order_units=40, case_size=12, order_weekdays="wed")])
    plan = build_purchase_orders(lines, products(["a", "b"]), sup, AS_OF)
    p = plan.proposals.iloc[0]
    assert p["rule_applied"] == "minimum_met" and p["min_order_met"]
    assert p["order_date"] == pd.Timestamp("2024-03-06")  # next Wednesday
    qty = plan.lines.set_index("sku")["qty"]
    assert qty["a"] == 36  # 30 -> 3 cases of 12 (supplier default)
    assert qty["b"] == 30  # the product's own pack of 5 wins


def test_missed_minimum_is_deferred_when_nothing_runs_out_before_the_next_order_day():
    # 15 days of cover; next order day after Monday is Thursday, delivery Sunday: fine.
    lines = pd.DataFrame([line("a", on_hand=15.0, reorder_point=20.0)])
    sup = pd.DataFrame([supplier(min_order_value=1000, order_weekdays="mon,thu")])
    plan = build_purchase_orders(lines, products(["a"]), sup, AS_OF)
    p = plan.proposals.iloc[0]
    assert p["rule_applied"] == "deferred" and not p["min_order_met"]
    assert p["order_date"] == pd.Timestamp("2024-03-07")
    assert "Deferred" in plan.lines.iloc[0]["reason"]
    assert "minimum missed" in p["note"]


def test_missed_minimum_is_topped_up_nearest_to_reorder_point_first_within_max_stock():
    lines = pd.DataFrame([
        line("a", on_hand=2.0),  # runs out in 2 days: cannot be deferred
        line("near", on_hand=22.0, order_up_to=40.0, max_stock=30.0),  # 2 days above rp
        line("far", on_hand=35.0, order_up_to=60.0),  # 15 days above rp
    ])
    sup = pd.DataFrame([supplier(min_order_units=50, order_weekdays="mon,thu")])
    plan = build_purchase_orders(lines, products(["a", "near", "far"]), sup, AS_OF)
    p = plan.proposals.iloc[0]
    assert p["rule_applied"] == "topped_up" and p["min_order_met"] and p["units"] >= 50
    qty = plan.lines.set_index("sku")
    assert qty.loc["a", "qty"] == 38  # its own order; headroom 0 after it
    assert qty.loc["near", "qty"] == 8  # up to max stock 30, not order-up-to 40
    assert qty.loc["far", "qty"] == 4  # the rest, from the next-nearest item
    assert "Top-up" in qty.loc["near", "reason"]
    assert_every_positive_line_placed_once(lines, plan)


def test_minimum_unreachable_says_so():
    lines = pd.DataFrame([line("a", on_hand=2.0)])
    sup = pd.DataFrame([supplier(min_order_value=10_000)])
    plan = build_purchase_orders(lines, products(["a"]), sup, AS_OF)
    p = plan.proposals.iloc[0]
    assert p["rule_applied"] == "topped_up_short" and not p["min_order_met"]
    assert "not reachable" in p["note"]


def test_lines_that_run_out_before_the_regular_delivery_are_expedited():
    lines = pd.DataFrame([line("a", on_hand=1.0), line("b", on_hand=15.0)])
    sup = pd.DataFrame([supplier(order_weekdays="fri", express_lead_time_days=1,
                                 express_cost_pct=20)])
    plan = build_purchase_orders(lines, products(["a", "b"], cost=2.0), sup, AS_OF)
    p = plan.proposals.set_index("kind")
    assert p.loc["expedite", "rule_applied"] == "expedite"
    assert p.loc["expedite", "expected_date"] == AS_OF + pd.Timedelta(days=1)
    assert p.loc["expedite", "express_cost"] == pytest.approx(39 * 2.0 * 0.2)
    assert p.loc["regular", "order_date"] == pd.Timestamp("2024-03-08")
    by_sku = plan.lines.set_index("sku")["proposal_id"]
    assert by_sku["a"] == p.loc["expedite", "proposal_id"]
    assert by_sku["b"] == p.loc["regular", "proposal_id"]
    assert_every_positive_line_placed_once(lines, plan)


def test_unknown_stock_is_explained_not_ordered():
    lines = pd.DataFrame([line("a"), line("b", stock_known=False)])
    plan = build_purchase_orders(lines, products(["a", "b"]), None, AS_OF)
    assert plan.lines["sku"].tolist() == ["a"]
    assert plan.unplaced["sku"].tolist() == ["b"]
    assert "stock unknown" in plan.unplaced.iloc[0]["reason"]


# ---------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(qty=st.floats(-10, 1000), pack=st.integers(1, 48), moq=st.integers(1, 200))
def test_pack_and_moq_rounding(qty, pack, moq):
    got = float(pack_round(qty, pack, moq))
    if qty <= 1e-9:
        assert got == 0
        return
    assert got % pack == pytest.approx(0) or got % pack == pytest.approx(pack)
    assert got >= qty - 1e-6 and got >= moq
    assert got < max(qty, moq) + pack + 1e-6  # the smallest such multiple


@st.composite
def supplier_lines(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for i in range(n):
        rp = float(draw(st.integers(0, 50)))
        up = rp + float(draw(st.integers(0, 60)))
        max_stock = draw(st.one_of(st.just(np.nan), st.floats(1.0, 150.0)))
        rows.append(line(f"s{i}", on_hand=float(draw(st.integers(0, 120))),
                         on_order=float(draw(st.integers(0, 20))), reorder_point=rp,
                         order_up_to=up, max_stock=max_stock,
                         pack_size=float(draw(st.sampled_from([1, 1, 4, 6, 12]))),
                         moq=float(draw(st.integers(1, 30))),
                         mean_daily_forecast=draw(st.floats(0.0, 10.0))))
    sup = supplier(min_order_value=draw(st.one_of(st.just(np.nan), st.floats(0, 3000))),
                   min_order_units=draw(st.one_of(st.just(np.nan), st.floats(0, 400))),
                   order_weekdays=draw(st.sampled_from(["", "mon", "tue,fri"])),
                   express_lead_time_days=draw(st.sampled_from([np.nan, 1.0])),
                   express_cost_pct=10.0)
    cost = draw(st.floats(0.5, 20.0))
    return pd.DataFrame(rows), pd.DataFrame([sup]), cost


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(supplier_lines())
def test_top_up_never_exceeds_max_stock_and_every_line_is_placed(case):
    lines, sup, cost = case
    plan = build_purchase_orders(lines, products(lines["sku"].tolist(), cost=cost), sup, AS_OF)
    assert_every_positive_line_placed_once(lines, plan)
    assert plan.proposals["rule_applied"].notna().all()
    merged = plan.lines.merge(lines, on=["sku", "location"])
    topped = merged[merged["topup_qty"] > 0]
    cap = np.where(topped["max_stock"].notna(),
                   np.minimum(topped["order_up_to"], topped["max_stock"]), topped["order_up_to"])
    assert (topped["inventory_position"] + topped["qty"] <= cap + 1e-6).all()
    # Every quantity is whole packs and at least the MOQ.
    assert ((merged["qty"] / merged["pack"]).round(9) % 1 == 0).all()
    assert (merged["qty"] >= merged["moq_y"] - 1e-9).all()
    # A proposal says whether it met its minimum; only the stated rules leave it unmet.
    unmet = plan.proposals[~plan.proposals["min_order_met"]]
    assert set(unmet["rule_applied"]) <= {"deferred", "topped_up_short", "expedite"}


# ---------------------------------------------------------------- chain and contract
def test_transfers_then_purchase_orders_place_every_line_after_transfers():
    from restock.inventory.transfers import plan_transfers

    lines = pd.DataFrame([
        line("a", "S1", on_hand=100.0, order_up_to=40.0, mean_daily_forecast=2.0,
             lead_time_days=7.0),
        line("a", "S2", on_hand=3.0, mean_daily_forecast=2.0, lead_time_days=7.0),
        line("b", "S1", on_hand=1.0, lead_time_days=7.0),
    ])
    lines["service_level_target"] = 0.95
    lanes = pd.DataFrame({"from_location": ["S1"], "to_location": ["S2"],
                          "lead_time_days": [1.0], "cost_per_unit": [0.0]})
    moved = plan_transfers(lines, lanes, AS_OF)
    assert moved.recommendations["qty"].sum() > 0
    after = moved.lines
    plan = build_purchase_orders(after, products(["a", "b"]), None, AS_OF)
    assert_every_positive_line_placed_once(after, plan)
    s2 = after.set_index(["sku", "location"]).loc[("a", "S2")]
    ordered = plan.lines.set_index(["sku", "location"])["qty"]
    assert ordered.get(("a", "S2"), 0.0) == s2["recommended_order_qty"]
    assert s2["recommended_order_qty"] < 37  # what it would order without the transfer


def test_contract_entries_match_the_modules_and_the_reorder_lines():
    from restock.contract import ACTION_INPUT_TABLES, ACTION_PUBLISHED_TABLES, PUBLISHED_TABLES
    from restock.inventory.reorder_lines import EXTRA_COLUMNS

    assert set(ACTION_PUBLISHED_TABLES) <= set(PUBLISHED_TABLES)  # wired and published
    assert set(ACTION_INPUT_TABLES) == {"suppliers", "transfer_lanes"}
    needed = {"sku", "location", "on_hand", "on_order", "inventory_position", "reorder_point",
              "order_up_to", "lead_time_days", "review_days", "lead_time_demand",
              "recommended_order_qty", "stockout_probability", "service_level_target",
              "days_of_cover", "mean_daily_forecast", "pack_size", "moq", "max_stock",
              "stock_known", "projected_stockout_date", "explanation"}
    assert needed <= {*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS}
