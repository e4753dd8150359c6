"""Inventory maths: safety stock, reorder lines, stockout alerts, policy replay.

Modules, each importing only those above it:

- ``settings``: ReplenishSettings (the ``replenish:`` config section).
- ``distributions``: demand over h days and over the protection interval L + R.
- ``levels``: reorder point, order-up-to, service targets (exchange curve), order rounding.
- ``classes``: ABC / XYZ classes.
- ``explanations``: the sentence per reorder line.
- ``reorder_lines``: the nightly reorder lines, in named steps.
- ``alerts``: stockout alerts (restock.alerting sends them to their owners).
- ``objective``: suggest_objective, cycle_service or fill_rate from a feed's sales.
- ``action_settings``, ``transfers``, ``purchase_orders``, ``actions``: transfers between
  locations, then purchase order proposals per supplier, from the reorder lines.
- ``replay_planner``, ``replay_history``, ``replay_setup``, ``replay_state``,
  ``replay_transfers``, ``replay_loop``, ``replay_measures``, ``replay``: the policy replay
  against the static rule, and with transfers between locations (``replay`` is the entry
  point).
- ``baseline_planners``: naive_quantile and auto_ets planners the replay plays beside Restock's.
- ``sampling``: the replay's stratified sample of series.

Exports resolve lazily: the maths needs scipy (about 1.5 s to import), and the Dagster
Definitions import this package only for its settings.
"""

from importlib import import_module

from restock.inventory.settings import ReplenishSettings

_EXPORTS = {
    "build_stockout_alerts": "restock.inventory.alerts",
    "classify_series": "restock.inventory.classes",
    "build_reorder_lines": "restock.inventory.reorder_lines",
    "plan_actions": "restock.inventory.actions",
    "policy_levels": "restock.inventory.levels",
    "round_order_qty": "restock.inventory.levels",
    "PlanInputs": "restock.inventory.replay",
    "ReplayResult": "restock.inventory.replay",
    "make_reference_planner": "restock.inventory.replay_planner",
    "replay_window": "restock.inventory.replay",
    "suggest_objective": "restock.inventory.objective",
    "replay_policies": "restock.inventory.replay",
    "sample_replay_series": "restock.inventory.sampling",
}

__all__ = ["ReplenishSettings", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'restock.inventory' has no attribute {name!r}")
