"""Stock and purchase orders: the naive static (s, S) policy simulated day by day."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("restock.feed.demo")  # one logger for the whole demo chain

# days of demand an order covers (the "Q" of the naive policy), by mover class
_COVER_DAYS = {"fast": 10.0, "medium": 14.0, "slow": 28.0, "lumpy": 42.0}


def simulate_inventory(
    rng: np.random.Generator, sku_info: dict, series: dict, expected: np.ndarray,
    demand: np.ndarray, discount: np.ndarray, n_hist: int,
) -> dict:
    """Day-by-day stock of every series under a naive static (s, S) policy with lost sales.

    The policy sizes the reorder point from the series' average non-promotional demand and the
    supplier's nominal lead time plus a few buffer days: it ignores seasonality, trend,
    promotions and lead-time spread, so stock runs out at peaks. That is the "before" the
    pipeline is meant to improve on.
    """
    s = series["sku_idx"]
    n_series = len(s)
    launch = sku_info["launch"][s]
    stop = np.minimum(sku_info["stop"][s], n_hist)
    delisted = sku_info["stop"][s] < n_hist
    t = np.arange(n_hist)
    alive = (t[None, :] >= launch[:, None]) & (t[None, :] < stop[:, None])
    base = expected[:, :n_hist] / np.exp(sku_info["promo_beta"][s][:, None] * discount[:, :n_hist])
    avg = np.where(alive, base, 0.0).sum(axis=1) / np.maximum(alive.sum(axis=1), 1)

    lead = sku_info["lead"][s]
    pack = sku_info["pack"][s]
    moq = sku_info["moq"][s]
    cover = np.array([_COVER_DAYS[m] for m in sku_info["mover"][s]])
    buffer_days = rng.uniform(0.5, 3.0, n_series)
    reorder_point = np.ceil(avg * (lead + buffer_days))
    order_up_to = reorder_point + np.maximum(np.ceil(avg * cover), 1.0)
    # a few SKUs carry a shelf capacity (max_stock) that caps the order-up-to level
    capped = sku_info["max_stock_flag"][s]
    order_up_to = np.where(capped, np.ceil(order_up_to * 0.9), order_up_to)
    order_up_to = np.maximum(order_up_to, reorder_point + 1)

    gamma_shape = 1.0 / sku_info["lead_cv"][s] ** 2
    horizon = n_hist + int(lead.max() * 4) + 10
    arriving = np.zeros((horizon, n_series))  # units received, by day
    settling = np.zeros((horizon, n_series))  # ordered units leaving on_order, by day
    on_hand = np.where(launch == 0, order_up_to, 0.0)
    on_order = np.zeros(n_series)
    sold = np.zeros((n_series, n_hist), dtype=np.int64)
    closing = np.zeros((n_series, n_hist), dtype=np.int64)
    open_units = np.zeros((n_series, n_hist), dtype=np.int64)
    po_parts: list[tuple[np.ndarray, ...]] = []

    def place(
        day: int, idx: np.ndarray, qty: np.ndarray, lead_days: np.ndarray, reliable: bool = False
    ) -> None:
        cancelled = np.zeros(len(idx), dtype=bool) if reliable else rng.random(len(idx)) < 0.01
        short = np.zeros(len(idx), dtype=bool) if reliable else rng.random(len(idx)) < 0.04
        # a short delivery still brings at least one pack
        partial = np.maximum(
            np.floor(qty * rng.uniform(0.6, 0.95, len(idx)) / pack[idx]), 1.0
        ) * pack[idx]
        received = np.where(short & (qty > pack[idx]), partial, qty)
        arrival = day + lead_days
        ok = ~cancelled
        arriving[arrival[ok], idx[ok]] += received[ok]
        settling[arrival[ok], idx[ok]] += qty[ok]
        # a supplier cancels a few days after the order; the planner then orders again
        settling[day + 3, idx[cancelled]] += qty[cancelled]
        on_order[idx] += qty
        po_parts.append((np.full(len(idx), day), idx, qty, arrival, received, cancelled))

    # items launched during the history get a first delivery, in full, on their launch day
    late = np.flatnonzero((launch > 0) & (launch < n_hist))
    pending_launch: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    for day in np.unique(launch[late]):
        idx = late[launch[late] == day]
        order_day = max(int(day) - int(lead[idx].max()), 0)
        lead_days = np.full(len(idx), int(day) - order_day, dtype=np.int64)
        first = np.ceil(order_up_to[idx] / pack[idx]) * pack[idx]
        pending_launch.append((order_day, idx, first, lead_days))

    for day in range(n_hist):
        for order_day, idx, first, lead_days in pending_launch:
            if order_day == day:
                place(day, idx, first, lead_days, reliable=True)
        on_hand += arriving[day]
        on_order -= settling[day]
        live = alive[:, day]
        sales = np.minimum(demand[:, day], on_hand) * live
        on_hand -= sales
        sold[:, day] = sales
        position = on_hand + on_order
        # no reorders in the last weeks before an item is delisted (active items keep ordering
        # up to the last day of history)
        need = np.flatnonzero(
            live & (position <= reorder_point) & (~delisted | (day < stop - 14))
        )
        if len(need):
            qty = np.maximum(np.ceil((order_up_to[need] - position[need]) / pack[need]), 1)
            qty = np.maximum(qty * pack[need], moq[need])
            lead_days = np.clip(
                np.round(rng.gamma(gamma_shape[need], lead[need] / gamma_shape[need])),
                1, lead[need] * 4,
            ).astype(np.int64)
            place(day, need, qty, lead_days)
        closing[:, day] = on_hand
        open_units[:, day] = on_order
    log.info("simulated stock for %d series over %d days", n_series, n_hist)

    parts = [np.concatenate(x) for x in zip(*po_parts, strict=True)] if po_parts else None
    # launch orders were placed before the day loop; bring all orders into date order
    if parts is not None:
        order = np.lexsort((parts[1], parts[0]))
        parts = [p[order] for p in parts]
    return {
        "sold": sold,
        "on_hand": closing,
        "on_order": open_units,
        "active": alive,
        "pos": parts,
        "max_stock": np.where(capped, order_up_to, np.nan),
        "nominal_lead": lead,
    }
