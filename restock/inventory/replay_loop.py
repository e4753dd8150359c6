"""The policy replay's day loop: each day's sales from the stock on hand, a review every R days.

Policies x series arrays (:class:`restock.inventory.replay_state.ReplayState`) are played on
the fixed terms of a :class:`restock.inventory.replay_setup.ReplayRun`: :func:`simulate` runs
the days, :func:`sell_day` serves a day's demand (or loses it), :func:`review` sets every
policy's levels (:func:`recommended_levels` from a planner's plan, :func:`static_levels` for the
static rule), ships the transfer policy's transfers
(:func:`restock.inventory.replay_transfers.ship_transfers`, on the positions before ordering)
and then :func:`place_orders` places the orders on the positions after transfers. Transfers are
also reviewed on the days between reviews, on the latest review's levels. The method is
in :mod:`restock.inventory.replay`'s docstring.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from restock.inventory.distributions import demand_mixture, dense_cumulative
from restock.inventory.levels import (
    allocate_fill_rates,
    allocate_service_levels,
    order_quantity,
    policy_levels,
    whole_unit_level,
)
from restock.inventory.replay_planner import Planner
from restock.inventory.replay_setup import ReplayRun
from restock.inventory.replay_state import FrontierLevels, ReplayState
from restock.inventory.replay_transfers import ship_transfers

log = logging.getLogger("restock.inventory")


def simulate(run: ReplayRun, planners: dict[str, Planner], start_stock: np.ndarray,
             timing: dict[str, float]) -> ReplayState:
    """The day loop: each day's sales from the stock on hand, then a review every R days."""
    state = ReplayState.start(start_stock, run.n_policies, run.n_days, run.reviews.size)
    review_days_set = set(run.reviews.tolist())
    restock: dict[str, FrontierLevels] = {}  # the latest review's levels (transfer policy)
    for day in range(run.n_days + 1):
        if day > 0:
            sell_day(state, run, day - 1)
        if day in review_days_set:
            restock = review(state, run, planners, day, timing)
        elif restock and run.transfer_objectives and run.transfers.settings.replay_daily_review:
            # transfers are reviewed every day, on the latest review's levels
            tick = time.perf_counter()
            last = int(run.reviews[np.searchsorted(run.reviews, day) - 1])
            ship_transfers(state, run, restock, day,
                           last + int(run.settings.review_days) - day)
            timing["transfers"] = timing.get("transfers", 0.0) + time.perf_counter() - tick
    return state


def sell_day(state: ReplayState, run: ReplayRun, i: int) -> None:
    """Day ``i`` of the window: arrivals land, demand is served from stock or lost."""
    day = i + 1
    state.on_hand += state.arrivals[:, :, day]
    state.on_order -= state.arrivals[:, :, day]
    want = run.history.true_demand[:, i][None, :]
    served = np.minimum(state.on_hand, want)
    state.on_hand -= served
    counted = run.measured[:, i][None, :]
    state.served_sum += served * counted
    state.served_all += served
    state.stockout[:, :, i] = ((want - served) > 1e-9) & counted
    state.inv_sum += state.on_hand * counted


def review(state: ReplayState, run: ReplayRun, planners: dict[str, Planner], day: int,
           timing: dict[str, float]) -> dict[str, FrontierLevels]:
    """A review at the end of ``day``: every policy's levels, the transfer policy's transfers,
    then every policy's orders; returns Restock's levels per objective (for the transfers of
    the days until the next review)."""
    k = int(np.searchsorted(run.reviews, day))
    t = run.replay_start + pd.Timedelta(days=day)
    n_lv = run.levels.size
    rp, up = np.empty((run.n_policies, len(run.keys))), np.empty((run.n_policies, len(run.keys)))
    restock: dict[str, FrontierLevels] = {}  # Restock's levels per objective (transfer policy)
    for name, planner in planners.items():
        objectives = [obj for n, obj in run.frontiers if n == name]
        levels = recommended_levels(run, planner, objectives, day, t, timing, name)
        for obj, lv in zip(objectives, levels, strict=True):
            j = run.frontiers.index((name, obj)) * n_lv
            rp[j:j + n_lv], up[j:j + n_lv] = lv.reorder_point, lv.order_up_to
            if name == "recommended":
                restock[obj] = lv
    for obj in run.transfer_objectives:
        rows = run.transfer_rows(obj)
        rp[rows], up[rows] = restock[obj].reorder_point, restock[obj].order_up_to
    n_static = run.buffers.size
    rp[run.n_policies - n_static:], up[run.n_policies - n_static:] = static_levels(run, day)
    whole = run.history.whole[None, :]
    if day == 0:
        state.on_hand = np.where(np.isnan(state.on_hand), whole_unit_level(up, whole),
                                 state.on_hand)
        state.start_units = state.on_hand.copy()
    tick = time.perf_counter()
    moved = ship_transfers(state, run, restock, day) if run.transfer_objectives else 0
    timing["transfers"] = timing.get("transfers", 0.0) + time.perf_counter() - tick
    placed = place_orders(state, run, rp, up, day, k)
    log.info("replay review %d/%d (%s): %d orders%s", k + 1, run.reviews.size, t.date(), placed,
             f", {moved} transfers" if run.transfer_objectives else "")
    return restock


def recommended_levels(run: ReplayRun, planner: Planner, objectives: list[str], day: int,
                       t: pd.Timestamp, timing: dict[str, float], name: str = "recommended"
                       ) -> list[FrontierLevels]:
    """A planner's reorder point and order-up-to (levels x series) from its plan made at t,
    per objective (the plan and the protection-interval demand are built once)."""
    settings, supply = run.settings, run.supply
    ti = run.history.t0 + day
    tick = time.perf_counter()
    plan = planner(t)
    cumulative = plan.cumulative if hasattr(plan, "cumulative") else plan[1]
    spent = time.perf_counter() - tick
    timing["planner"] += spent
    timing[f"planner_{name}"] = timing.get(f"planner_{name}", 0.0) + spent
    tick = time.perf_counter()
    # an item whose first sale is after this review has no forecast yet: expected
    cum = dense_cumulative(cumulative, run.keys, expected_missing=run.history.first_sold > ti)
    protection = demand_mixture(cum, supply.lead_time_mean, supply.lead_time_std,
                                float(settings.review_days), settings.cover_earlier_orders)
    out = []
    for objective in objectives:
        mode = "fill_rate" if objective == "fill_rate" else "cycle"
        targets = run.levels
        if settings.service_allocation == "exchange_curve":
            # each replayed level is the average of the per-item targets (fill rate: the
            # demand-weighted average, the overall fill rate)
            if mode == "cycle":
                targets = allocate_service_levels(
                    protection, supply.cost, run.levels, *settings.service_level_bounds,
                    lost_sales=settings.lost_sales)
            else:
                lead = demand_mixture(cum, supply.lead_time_mean, supply.lead_time_std, 0.0)
                targets = allocate_fill_rates(
                    protection, np.maximum(protection.mean - lead.mean, 0.0), supply.cost,
                    run.levels, *settings.service_level_bounds,
                    lead=lead if settings.fill_rate_per_cycle else None)
        pl = policy_levels(cum, supply.lead_time_mean, supply.lead_time_std, targets,
                           settings.review_days, mode, supply.max_stock,
                           settings.order_up_to_review_periods, run.spread,
                           settings.cover_earlier_orders, settings.lost_sales, protection,
                           settings.fill_rate_per_cycle)
        target = np.asarray(targets, dtype=float)
        target = np.broadcast_to(target.T if target.ndim == 2 else target[:, None],
                                 (run.levels.size, len(run.keys)))
        out.append(FrontierLevels(pl.reorder_point.T, pl.order_up_to.T, target,
                                  pl.lead_time_demand))
    timing["policy"] += time.perf_counter() - tick
    return out


def static_levels(run: ReplayRun, day: int) -> tuple[np.ndarray, np.ndarray]:
    """The static rule's reorder point and order-up-to (buffers x series) at the review."""
    settings, supply = run.settings, run.supply
    ti = run.history.t0 + day
    avg = run.history.sales0[:, max(0, ti - settings.static_window_days + 1):ti + 1].mean(axis=1)
    s_rp = avg[None, :] * (supply.lead_time_mean[None, :] + run.buffers[:, None])
    s_up = s_rp + settings.review_days * avg[None, :]
    cap = np.where(np.isfinite(supply.max_stock) & (supply.max_stock > 0), supply.max_stock,
                   np.inf)
    s_up = np.where(s_up > cap, np.maximum(cap, s_rp), s_up)
    return s_rp, s_up


def place_orders(state: ReplayState, run: ReplayRun, rp: np.ndarray, up: np.ndarray, day: int,
                 k: int) -> int:
    """Orders of review ``k`` (policies x series), arriving after their lead time; how many."""
    supply = run.supply
    position = state.on_hand + state.on_order
    qty = order_quantity(position, rp, up, supply.pack[None, :], supply.moq[None, :],
                         run.history.whole[None, :])
    arrive = np.broadcast_to(day + supply.lead_days[:, k] + 1, qty.shape)  # sells from then
    placed = qty > 0
    if run.settings.replay_deliveries_in_order:
        arrive, state.last_arrival = deliveries_in_order(arrive, placed, state.last_arrival)
    state.orders += placed
    state.ordered += qty
    state.on_order += qty
    state.position_after[:, :, k] = position + qty
    cols = np.minimum(arrive, run.n_days + 1)
    pol_idx, ser_idx = np.nonzero(placed)
    np.add.at(state.arrivals, (pol_idx, ser_idx, cols[pol_idx, ser_idx]),
              qty[pol_idx, ser_idx])
    return int(placed.sum())


def deliveries_in_order(arrive: np.ndarray, placed: np.ndarray, last_arrival: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Arrival days when a supplier delivers a series' orders in sequence.

    An order placed now (``placed``) arrives on its drawn day or with the latest earlier order
    of the same series, whichever is later; ``last_arrival`` is updated where orders were placed.
    """
    out = np.where(placed, np.maximum(arrive, last_arrival), arrive)
    return out, np.where(placed, out, last_arrival)
