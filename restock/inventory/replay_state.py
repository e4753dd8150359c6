"""The policy replay's state (stock and running sums, policies x series x days or reviews) and
the levels a review sets (:class:`FrontierLevels`).

Played by :mod:`restock.inventory.replay_loop` (orders) and
:mod:`restock.inventory.replay_transfers` (transfers between locations). Units are conserved
per policy and item: starting stock + units ordered = on hand + on order (supplier orders and
transfers in transit) + units served, at every day's end (:func:`ReplayState.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class ReplayState:
    """Stock and running sums, policies x series (x days or reviews)."""

    on_hand: np.ndarray  # NaN = start at the first review's order-up-to level
    arrivals: np.ndarray  # quantity arriving at the start of each day (orders and transfers)
    on_order: np.ndarray  # supplier orders and transfers in transit
    inv_sum: np.ndarray
    served_sum: np.ndarray
    orders: np.ndarray
    stockout: np.ndarray
    position_after: np.ndarray  # inventory position after ordering, per review
    last_arrival: np.ndarray  # replay_deliveries_in_order
    # the ledger, over every day of the window (not only the measured ones)
    start_units: np.ndarray  # on hand at the first review (after an unknown start is set)
    ordered: np.ndarray  # units ordered from suppliers
    served_all: np.ndarray  # units served
    transfer_out: np.ndarray  # units shipped to other locations
    transfer_in: np.ndarray  # units shipped from other locations (arrived or in transit)
    transfer_log: list[pd.DataFrame] = field(default_factory=list)  # one frame per shipment batch

    @classmethod
    def start(cls, start_stock: np.ndarray, n_policies: int, n_days: int, n_reviews: int
              ) -> ReplayState:
        n = start_stock.size
        return cls(
            on_hand=np.repeat(start_stock[None, :], n_policies, axis=0),
            arrivals=np.zeros((n_policies, n, n_days + 2)),
            on_order=np.zeros((n_policies, n)),
            inv_sum=np.zeros((n_policies, n)),
            served_sum=np.zeros((n_policies, n)),
            orders=np.zeros((n_policies, n)),
            stockout=np.zeros((n_policies, n, n_days), dtype=bool),
            position_after=np.zeros((n_policies, n, n_reviews)),
            last_arrival=np.zeros((n_policies, n), dtype=int),
            start_units=np.zeros((n_policies, n)),
            ordered=np.zeros((n_policies, n)),
            served_all=np.zeros((n_policies, n)),
            transfer_out=np.zeros((n_policies, n)),
            transfer_in=np.zeros((n_policies, n)),
        )

    def ledger(self, labels: list[tuple[str, float, str | None]], keys: pd.DataFrame,
               demand_all: np.ndarray) -> pd.DataFrame:
        """Units per policy and series over the whole window: start, ordered, on hand and on
        order at the end, served, lost (demand - served), transferred out and in; and
        ``on_hand_days``, the sum of end-of-day stock over the measured days (the series' part
        of the policy's average inventory, times the days measured).

        ``demand_all``: each series' demand over every day of the window (S,).
        """
        n_pol, n = self.on_hand.shape
        frame = pd.DataFrame({
            "policy": np.repeat([lab[0] for lab in labels], n),
            "parameter": np.repeat([lab[1] for lab in labels], n),
            "objective": np.repeat([lab[2] for lab in labels], n),
            "sku": np.tile(keys["sku"].to_numpy(), n_pol),
            "location": np.tile(keys["location"].to_numpy(), n_pol),
        })
        for name, values in (("start_units", self.start_units), ("ordered", self.ordered),
                             ("on_hand_end", self.on_hand), ("on_order_end", self.on_order),
                             ("served", self.served_all),
                             ("lost", demand_all[None, :] - self.served_all),
                             ("transfer_out", self.transfer_out),
                             ("transfer_in", self.transfer_in),
                             ("on_hand_days", self.inv_sum)):
            frame[name] = values.reshape(-1)
        return frame

    def transfers(self) -> pd.DataFrame:
        """Every transfer shipped in the replay (see restock.inventory.replay_transfers)."""
        if not self.transfer_log:
            return pd.DataFrame(columns=list(TRANSFER_LOG_COLUMNS))
        return pd.concat(self.transfer_log, ignore_index=True)


@dataclass
class FrontierLevels:
    """A planner's levels at a review for one objective: levels x series arrays, plus what the
    transfer planner reads (per-series targets, mean demand over the protection interval)."""

    reorder_point: np.ndarray  # (T, S)
    order_up_to: np.ndarray  # (T, S)
    target: np.ndarray  # (T, S) service target of each series
    protection_demand: np.ndarray  # (S,) mean demand over lead time + review


#: Columns of the replay's transfer log (ReplayResult.transfers).
TRANSFER_LOG_COLUMNS = (
    "policy_row", "day", "sku", "from_location", "to_location", "qty", "lane_days",
    "arrives_day", "source_position_before", "source_reorder_point",
    "destination_position_before", "destination_order_up_to",
)
