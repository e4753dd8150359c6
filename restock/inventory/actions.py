"""From reorder lines to the actions a buyer takes: transfers first, then purchase orders.

:func:`plan_actions` is the nightly's one call after ``build_reorder_lines``:

1. Transfers (restock.inventory.transfers.plan_transfers) over the feed's ``transfer_lanes``
   (plus, when configured, default lanes between locations of the same region). The reorder
   lines are then those *after* transfers: positions moved, order quantities recomputed.
   No lane (the default without a transfer_lanes table): no transfer, lines unchanged.
   When the suppliers table gives ``order_weekdays``, a line's next purchase is placed at its
   supplier's next order weekday (``days_to_next_order``: 0 on an order day), so the planner's
   "next possible delivery" is that day + the lead time, as in the replay between reviews; on
   the other days its sources keep the reorder point of the days left until then
   (transfers.next_delivery_lines, with TransferSettings.remaining_interval_reorder_point),
   while the published lines keep their own. Without a suppliers table every line can be
   ordered today (0 days), as before.
2. Purchase orders (restock.inventory.purchase_orders.build_purchase_orders) from the lines
   after transfers, per supplier and order day, with the suppliers' terms when the feed has a
   suppliers table.
3. Every line with a positive quantity is in exactly one purchase order line; one that cannot be
   (stock unknown) keeps its quantity and its explanation starts with why it is not ordered.

Every table comes back with its published columns even when empty, so the nightly writes all
three every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.inventory.action_settings import ActionSettings
from restock.inventory.purchase_orders import (
    PO_LINE_COLUMNS,
    PO_LINE_EXTRA_COLUMNS,
    PROPOSAL_COLUMNS,
    PROPOSAL_EXTRA_COLUMNS,
    build_purchase_orders,
    days_to_next_order,
)
from restock.inventory.transfers import (
    TRANSFER_COLUMNS,
    TRANSFER_EXTRA_COLUMNS,
    next_delivery_lines,
    order_qty_after_transfers,
    plan_transfers,
)

log = logging.getLogger("restock.inventory.actions")

_DATES = {"order_date", "expected_date", "arrives"}
_TEXT = {"supplier", "proposal_id", "rule_applied", "kind", "note", "sku", "location", "reason",
         "from_location", "to_location"}
_TYPES = {"lines": "int64", "min_order_met": "bool"}


@dataclass
class ActionPlan:
    """Result of :func:`plan_actions`."""

    lines: pd.DataFrame  # reorder lines after transfers (transfer_in, transfer_out added)
    transfers: pd.DataFrame  # transfer_recommendations
    proposals: pd.DataFrame  # purchase_order_proposals
    po_lines: pd.DataFrame  # purchase_order_lines
    unplaced: pd.DataFrame  # sku, location, qty, reason: positive lines in no order


def typed(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` with ``columns`` first and stable dtypes (also when it has no rows)."""
    out = frame.copy()
    for c in columns:
        if c not in out:
            out[c] = pd.Series(dtype=object if c in _TEXT else float, index=out.index)
    extra = [c for c in out.columns if c not in columns]
    out = out[[*columns, *extra]]
    for c in out.columns:
        if c in _DATES:
            out[c] = pd.to_datetime(out[c])
        elif c in _TYPES:
            out[c] = out[c].astype(_TYPES[c])
        elif c in _TEXT:
            out[c] = out[c].astype(object)
        elif not len(out) and out[c].dtype == object:
            out[c] = out[c].astype(float)
    return out.reset_index(drop=True)


def _own_levels(after: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """The lines after transfers planned on :func:`next_delivery_lines`' reading, with their
    own reorder points again (the remaining-interval one is the planner's, for its sources)
    and the order quantity of the lines that moved recomputed on them; the planner's columns
    that ``lines`` did not have are dropped."""
    out = after.drop(columns=[c for c in ("days_to_next_order", "demand_std_daily")
                              if c in after and c not in lines])
    out["reorder_point"] = lines["reorder_point"].to_numpy()
    if "recommended_order_qty" in out:
        moved = (out["transfer_in"] > 0) | (out["transfer_out"] > 0)
        out["recommended_order_qty"] = np.where(moved, order_qty_after_transfers(out),
                                                out["recommended_order_qty"])
    return out


def _own_reasons(transfers: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Transfers whose source was kept at the reorder point of the days until its next
    purchase can land, below its own: the reason says so, with both figures."""
    if not len(transfers):
        return transfers
    own_rp = lines.assign(sku=lines["sku"].astype(str), location=lines["location"].astype(str)
                          ).drop_duplicates(["sku", "location"]).set_index(
        ["sku", "location"])["reorder_point"]
    keys = pd.MultiIndex.from_arrays([transfers["sku"].astype(str),
                                      transfers["from_location"].astype(str)])
    own = own_rp.reindex(keys).to_numpy(dtype=float)
    kept = transfers["source_reorder_point"].to_numpy(dtype=float)
    out = transfers.copy()
    for i in np.flatnonzero(kept < own - 1e-9):
        out.iloc[i, out.columns.get_loc("reason")] = out["reason"].iloc[i].replace(
            "(above its reorder point,",
            f"(above {kept[i]:.1f}, its reorder point over the days until its next purchase "
            f"can land (its own: {own[i]:.1f}),", 1)
    return out


def plan_actions(
    lines: pd.DataFrame,
    products: pd.DataFrame | None,
    suppliers: pd.DataFrame | None,
    lanes: pd.DataFrame | None,
    locations: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: ActionSettings | None = None,
    default_service_level: float = 0.95,
) -> ActionPlan:
    """Transfers, then purchase order proposals, from the nightly reorder lines.

    Parameters
    ----------
    lines : DataFrame
        build_reorder_lines' output (published columns and its extras).
    products : DataFrame or None
        dim_products (supplier, unit_cost).
    suppliers, lanes : DataFrame or None
        dim_suppliers and fct_transfer_lanes (empty or None: no terms / no feed lanes).
    locations : DataFrame or None
        dim_locations (region: for default lanes when configured).
    as_of : date
    settings : ActionSettings, optional
        The ``actions:`` config section.
    default_service_level : float
        Target for lines without service_level_target.
    """
    settings = settings or ActionSettings()
    as_of = pd.Timestamp(as_of).normalize()
    suppliers = suppliers if suppliers is not None and len(suppliers) else None
    if settings.transfers.enabled:
        transfer_settings = settings.transfers.to_settings(default_service_level)
        # a line's next purchase: at its supplier's next order weekday (0 days: today)
        wait = days_to_next_order(lines, products, suppliers, as_of,
                                  settings.purchase_orders.to_settings())
        planning = (next_delivery_lines(lines, wait, transfer_settings) if (wait > 0).any()
                    else lines)
        plan = plan_transfers(planning, lanes if lanes is not None and len(lanes) else None,
                              as_of, transfer_settings, locations)
        after, transfers = plan.lines, plan.recommendations
        if planning is not lines:
            after = _own_levels(after, lines)
            transfers = _own_reasons(transfers, lines)
    else:
        after = lines.copy().reset_index(drop=True)
        after["transfer_in"] = 0.0
        after["transfer_out"] = 0.0
        transfers = pd.DataFrame()
    po = build_purchase_orders(after, products, suppliers, as_of,
                               settings.purchase_orders.to_settings())
    if len(po.unplaced) and "explanation" in after:
        why = po.unplaced.set_index(["sku", "location"])["reason"]
        keys = pd.MultiIndex.from_frame(after[["sku", "location"]].astype(str))
        note = pd.Series(keys.map(lambda k: why.get(k, np.nan)), index=after.index)
        has = note.notna()
        after.loc[has, "explanation"] = ("Not in a purchase order: " + note[has] + ". "
                                         + after.loc[has, "explanation"].astype(str))
    log.info("%d transfers, %d purchase order proposals with %d lines, %d positive lines not "
             "ordered", len(transfers), len(po.proposals), len(po.lines), len(po.unplaced))
    return ActionPlan(
        lines=after,
        transfers=typed(transfers, [*TRANSFER_COLUMNS, *TRANSFER_EXTRA_COLUMNS]),
        proposals=typed(po.proposals, [*PROPOSAL_COLUMNS, *PROPOSAL_EXTRA_COLUMNS]),
        po_lines=typed(po.lines, [*PO_LINE_COLUMNS, *PO_LINE_EXTRA_COLUMNS]),
        unplaced=typed(po.unplaced, ["sku", "location", "qty", "reason"]),
    )
