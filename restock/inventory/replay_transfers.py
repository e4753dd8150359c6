"""Transfers between locations in the policy replay (policy ``recommended_transfers``).

The policy is Restock's recommended policy (the "recommended" planner's levels at every point
of its frontier) plus, every day (at the end of the day; on a review day before the orders are
placed), the nightly's transfer planner (:func:`restock.inventory.transfers.plan_transfers`, the
one rule of both) run on the simulated positions of all locations of each item. On the days
between reviews the levels are the latest review's, and ``days_to_next_order`` is the days until
the next review, so the planner's horizon is the next possible delivery (next review + lead
time): a lane no faster than a purchase helps there, as no purchase can be placed before the
review:

* Lines: per series, on hand and on order (supplier orders and transfers in transit) of that
  frontier point in the simulation, its reorder point and order-up-to level, its service target,
  its mean purchase lead time, the days until the next review, the mean demand over lead time
  + review of the review's plan (``lead_time_demand``; the daily mean is that over L + R days)
  and the review period: the columns the nightly's reorder lines give the planner. The
  planner reads the demand spread back from the safety stock, as it does in the nightly.
* Reorder point between reviews (TransferSettings.remaining_interval_reorder_point, default
  on): Restock's policy is (R, S), its reorder point is its order-up-to level, so with the
  review's reorder point no location would be above it after the first day of a cycle and none
  could give. On the days between reviews the lines carry the reorder point of the days left
  until the next review's order can land (restock.inventory.transfers.next_delivery_lines,
  also the nightly's rule on a day that is not a line's supplier's order day); the spread stays
  the review's (``demand_std_daily``). Sources stay at or above that reorder point; they can go
  below the review's.
* Shipping: a transfer leaves the source's on hand at once (the end of the day) and
  arrives at the destination after the lane's lead time rounded up to whole days, as a purchase
  order does: shipped at the end of day t over a lane of d days, it sells from day t + d + 1.
  Until then it counts as on order at the destination, so the orders placed right after see it.
* Guarantees (of the planner, checked by the tests on the replay): units are conserved (what
  leaves a source is what a destination receives), and a transfer never takes a source's
  inventory position below its reorder point, nor its on hand below its demand over its
  purchase lead time.

Which series can take part: those of an item held at two or more replayed locations joined by a
lane (:func:`transfer_series`). When the replay plays the policy (``replenish.replay_transfers``,
:func:`replay_transfer_terms`): ``auto`` plays it when transfers are enabled and such series
exist, ``true`` always, ``false`` never.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from restock.inventory.replay_setup import ReplayRun, TransferReplay
from restock.inventory.replay_state import TRANSFER_LOG_COLUMNS, FrontierLevels, ReplayState
from restock.inventory.transfers import (  # noqa: F401 - remaining_reorder_point: re-exported
    TransferSettings,
    next_delivery_lines,
    plan_transfers,
    remaining_reorder_point,
    resolve_lanes,
)

log = logging.getLogger("restock.inventory")


def transfer_series(keys: pd.DataFrame, lanes: pd.DataFrame | None) -> np.ndarray:
    """Indexes (into ``keys``) of the series that can give or take: an item's location with a
    lane to or from another location of the same item."""
    if lanes is None or not len(lanes) or not len(keys):
        return np.zeros(0, dtype=int)
    k = keys[["sku", "location"]].astype(str).reset_index(drop=True)
    k["_i"] = np.arange(len(k))
    pairs = (k.merge(lanes[["from_location", "to_location"]].astype(str),
                     left_on="location", right_on="from_location")
             .merge(k, left_on=["sku", "to_location"], right_on=["sku", "location"],
                    suffixes=("", "_to")))
    return np.unique(np.concatenate([pairs["_i"].to_numpy(), pairs["_i_to"].to_numpy()])
                     ).astype(int)


def replay_transfer_terms(
    mode: bool | str,
    series: pd.DataFrame,
    lanes: pd.DataFrame | None,
    locations: pd.DataFrame | None,
    settings: TransferSettings,
    enabled: bool = True,
) -> TransferReplay | None:
    """Whether the replay plays the transfer policy, and over which lanes.

    ``mode``: ``replenish.replay_transfers`` (True, False or "auto"); ``series``: sku, location
    of the replayed series; ``lanes``: the feed's transfer_lanes; ``locations``: for the default
    same-region lanes when ``settings.default_lanes``; ``enabled``:
    ``actions.transfers.enabled``. "auto" plays it when transfers are enabled and some item is
    held at two replayed locations joined by a lane. Returns None when not played.
    """
    if mode is False or mode == "false":
        return None
    resolved = resolve_lanes(lanes if lanes is not None and len(lanes) else None, locations,
                             settings)
    # location codes are text in the replay's keys (a CSV of numeric codes reads as numbers)
    resolved = resolved.astype({"from_location": str, "to_location": str})
    n = transfer_series(series, resolved).size
    items = series.iloc[transfer_series(series, resolved)]["sku"].nunique() if n else 0
    reason = (f"{len(resolved)} lanes; {items} items at {n} series can give or take")
    if mode == "auto" and not (enabled and n):
        log.info("replay without transfers (replenish.replay_transfers = auto): %s",
                 "transfers are disabled (actions.transfers.enabled)" if not enabled else reason)
        return None
    if not n:
        log.warning("replay with transfers although no item has two locations joined by a "
                    "lane (%s): the policy plays as Restock's without transfers", reason)
    return TransferReplay(resolved, settings, reason)


def ship_transfers(state: ReplayState, run: ReplayRun, levels: dict[str, FrontierLevels],
                   day: int, days_to_next_order: int = 0) -> int:
    """The transfer policy's transfers at the end of ``day`` (every point of each transfer
    frontier), shipped in ``state``; returns how many (source, destination, item) transfers
    were shipped. ``levels``: the "recommended" planner's levels per objective, set at the
    latest review; ``days_to_next_order``: 0 on a review day (the orders follow the transfers),
    else the days until the next review, when a purchase can next be placed."""
    rows = run.transfer_series
    if run.transfers is None or rows.size == 0:
        return 0
    t = run.replay_start + pd.Timedelta(days=day)
    lead = run.supply.lead_time_mean[rows]
    shipped = 0
    for obj in run.transfer_objectives:
        lv = levels[obj]
        protection = lv.protection_demand[rows]
        interval = np.maximum(lead + run.settings.review_days, 1.0)
        for j, p in enumerate(range(*run.transfer_rows(obj).indices(run.n_policies))):
            on_hand, on_order = state.on_hand[p, rows], state.on_order[p, rows]
            lines = pd.DataFrame({
                "sku": run.keys["sku"].to_numpy()[rows],
                "location": run.keys["location"].to_numpy()[rows],
                "on_hand": on_hand, "on_order": on_order,
                "inventory_position": on_hand + on_order,
                "reorder_point": lv.reorder_point[j, rows],
                "order_up_to": lv.order_up_to[j, rows],
                "service_level_target": lv.target[j, rows],
                "lead_time_days": lead,
                "lead_time_demand": protection,
                "mean_daily_forecast": protection / interval,
                "review_days": float(run.settings.review_days),
                "days_to_next_order": float(days_to_next_order),
                "stock_known": True,
            })
            if days_to_next_order > 0:
                # between reviews: the reorder point of the days left until the next review's
                # order can land (with remaining_interval_reorder_point), as in the nightly
                lines = next_delivery_lines(lines, float(days_to_next_order),
                                            run.transfers.settings)
            plan = plan_transfers(lines, run.transfers.lanes, t, run.transfers.settings)
            if len(plan.recommendations):
                shipped += _ship(state, run, p, day, rows, lines, plan.recommendations)
    return shipped


def _ship(state: ReplayState, run: ReplayRun, p: int, day: int, rows: np.ndarray,
          lines: pd.DataFrame, recs: pd.DataFrame) -> int:
    """Move the planned units of policy row ``p``: out of the sources' on hand now, into the
    destinations' on order, arriving after the lane lead time (whole days)."""
    where = {key: i for i, key in enumerate(zip(lines["sku"], lines["location"], strict=True))}
    src = np.array([where[(s, f)] for s, f in zip(recs["sku"], recs["from_location"],
                                                   strict=True)], dtype=int)
    dst = np.array([where[(s, d)] for s, d in zip(recs["sku"], recs["to_location"],
                                                  strict=True)], dtype=int)
    qty = recs["qty"].to_numpy(dtype=float)
    lane_days = np.array([max(math.ceil(v - 1e-9), 0) for v in recs["lane_lead_time_days"]],
                         dtype=int)
    arrive = np.minimum(day + lane_days + 1, run.n_days + 1)  # sells from that day
    position = lines["inventory_position"].to_numpy()
    log_frame = pd.DataFrame({
        "policy_row": p, "day": day, "sku": recs["sku"].to_numpy(),
        "from_location": recs["from_location"].to_numpy(),
        "to_location": recs["to_location"].to_numpy(), "qty": qty, "lane_days": lane_days,
        "arrives_day": day + lane_days + 1,
        "source_position_before": position[src],
        "source_reorder_point": lines["reorder_point"].to_numpy()[src],
        "destination_position_before": position[dst],
        "destination_order_up_to": lines["order_up_to"].to_numpy()[dst],
    })
    state.transfer_log.append(log_frame[list(TRANSFER_LOG_COLUMNS)])
    s_idx, d_idx = rows[src], rows[dst]
    np.subtract.at(state.on_hand[p], s_idx, qty)
    np.add.at(state.transfer_out[p], s_idx, qty)
    np.add.at(state.on_order[p], d_idx, qty)
    np.add.at(state.transfer_in[p], d_idx, qty)
    np.add.at(state.arrivals[p], (d_idx, arrive), qty)
    return len(recs)
