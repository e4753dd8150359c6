"""Inventory maths: safety stock, reorder lines, stockout alerts, policy replay."""

from restock.inventory.alerts import AlertPostError, build_stockout_alerts, post_alerts
from restock.inventory.classes import classify_series
from restock.inventory.policy import build_reorder_lines, policy_levels, round_order_qty
from restock.inventory.replay import (
    PlanInputs,
    ReplayResult,
    make_reference_planner,
    replay_policies,
)
from restock.inventory.settings import ReplenishSettings

__all__ = [
    "AlertPostError",
    "PlanInputs",
    "ReplayResult",
    "ReplenishSettings",
    "build_reorder_lines",
    "build_stockout_alerts",
    "classify_series",
    "make_reference_planner",
    "policy_levels",
    "post_alerts",
    "replay_policies",
    "round_order_qty",
]
