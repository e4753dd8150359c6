"""Replay measures: what the policy replay's rows say, and the headline comparison.

The simulation (:mod:`restock.inventory.replay`) leaves, per policy and series, sums over the
measured (post warm-up) days; this module turns them into the policy_replay rows and compares
the static rule with Restock's frontier.

Measures (per policy, parameter, category and 'ALL')
----------------------------------------------------
avg_inventory_units / _value: mean end-of-day on hand summed over series (value at unit_cost);
stockout_rate: share of series-days with unmet demand; fill_rate: served / demand; orders:
orders placed; achieved_cycle_service_level: share of review cycles without a stockout day, the
cycle of review t being days t + L + 1 .. t + L + R (L = the series' rounded mean lead time),
the days the order decision at t protects; protected_cycle_share: share of those cycles whose
demand over days t + 1 .. t + L + R stayed within the inventory position after ordering at t
(the event the cycle service level target is defined on; with lost sales a stockout leaves
stock for later, so physical cycles run out a little less often: about 3 points at a 0.80
target, under 1 point from 0.95 up); target: the service level (recommended only).

demand_units: demand over the measured days (the same for every policy: history);
lost_units: demand - served; objective: the frontier's objective (cycle_service / fill_rate;
empty for static); units_transferred: units shipped between locations (by the source's
category; 0 for every policy but recommended_transfers).

Comparisons (policy_replay_comparison)
--------------------------------------
Every point of a compared policy (each static buffer, and each point of a baseline planner's
frontier: ``compared_with`` names it, its service level in ``static_parameter``) against
Restock's frontier (policy "recommended", same objective) at the same average inventory (value
when every series has a unit cost, else units), on both measures: Restock's stockout rate
(days) and its lost units (and fill rate = 1 - lost / demand) interpolated linearly between its
frontier points at the compared point's inventory. ``within_frontier`` is False where that
inventory lies outside Restock's frontier (extrapolated flat: not a comparison).

Transfers (policy ``recommended_transfers``, :mod:`restock.inventory.replay_transfers`): its
frontier points are compared like a baseline planner's (``compared_with`` =
recommended_transfers, its service level in ``static_parameter``, its stockout rate and lost
units in the static_* columns, Restock without transfers at the same inventory in the restock_*
columns); ``transfers_stockout_cut`` = 1 - with / without on the stockout rate and
``transfers_lost_units_cut`` on lost units say what transfers add (positive = fewer with
transfers; NaN on the other rows); ``units_transferred``: units the compared point moved.

Headline: the static points inside the configured objective's frontier, on the measure that
objective is about (``headline_measure``: stockout_rate for cycle_service, lost_units for
fill_rate). It quotes the point with the SMALLEST cut (a conservative claim; a negative cut is a
loss and the sentence says so) and lists the parameters where Restock loses and wins
(:func:`restock.inventory.replay.headline_text`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from restock.inventory.replay_setup import TRANSFER_POLICY


def summarise_replay(
    n_days: int, labels: list[tuple[str, float, str | None]], category: np.ndarray,
    cost: np.ndarray, inv_sum: np.ndarray, served_sum: np.ndarray, true_demand: np.ndarray,
    orders: np.ndarray, stockout: np.ndarray, reviews: np.ndarray, lead: np.ndarray,
    review_days: int, position_after: np.ndarray, measured: np.ndarray | None = None,
    transferred: np.ndarray | None = None,
) -> pd.DataFrame:
    """policy_replay rows per policy x parameter x category (and ALL).

    ``labels``: (policy, parameter, objective) of each simulated policy (first axis of the
    arrays); objective None for the static rule. Inventory, fill rate and stockout rate count
    only the measured (post warm-up) days of each series; average inventory is the sum over
    series of each one's mean on-hand per measured day. A cycle counts when all its days are
    measured (they start where the warm-up ends). ``transferred``: units each policy shipped
    from each series to other locations over the window (column units_transferred, by the
    source's category; 0 without transfers).
    """
    if measured is None:
        measured = np.ones(true_demand.shape, dtype=bool)
    days_measured = measured.sum(axis=1)
    days_counted = np.maximum(days_measured, 1)
    demand_sum = (true_demand * measured).sum(axis=1)
    # Cycle of review k: days reviews[k] + L + 1 .. reviews[k] + L + R (1-based sim days).
    csum = np.concatenate([np.zeros((*stockout.shape[:2], 1)),
                           np.cumsum(stockout, axis=2)], axis=2)
    first = reviews[None, :] + lead[:, None] + 1  # S x K
    last = first + review_days - 1
    valid = last <= n_days
    first_measured = np.where(measured.any(axis=1), measured.argmax(axis=1), n_days)
    valid &= (first - 1) >= first_measured[:, None]
    fi = np.clip(first - 1, 0, n_days)
    la = np.clip(last, 0, n_days)
    s_idx = np.arange(len(lead))[:, None]
    hits = csum[:, s_idx, la] - csum[:, s_idx, fi]  # P x S x K stockout days in the cycle
    cycle_ok = (hits == 0) & valid[None]
    # Protected: demand over days t + 1 .. t + L + R within the position after ordering (what
    # the target is defined on; lost sales make physical cycles a little safer than this).
    dsum = np.concatenate([np.zeros((true_demand.shape[0], 1)), np.cumsum(true_demand, axis=1)],
                          axis=1)
    over_p = dsum[s_idx, la] - dsum[s_idx, np.clip(reviews[None, :], 0, n_days)]
    protected = (over_p[None] <= position_after + 1e-9) & valid[None]
    value_known = np.isfinite(cost)
    if transferred is None:
        transferred = np.zeros(served_sum.shape)
    rows = []
    cats = ["ALL", *sorted(set(category))]
    for j, (policy, param, objective) in enumerate(labels):
        for cat in cats:
            m = np.ones(len(category), bool) if cat == "ALL" else category == cat
            dem = demand_sum[m].sum()
            n_cycles = valid[m].sum()
            rows.append({
                "policy": policy,
                "parameter": float(param),
                "category": cat,
                "avg_inventory_units": (inv_sum[j, m] / days_counted[m]).sum(),
                "avg_inventory_value": (inv_sum[j, m] * np.nan_to_num(cost[m])
                                        / days_counted[m]).sum()
                if value_known[m].any() else np.nan,
                "stockout_rate": stockout[j, m].sum() / max(days_measured[m].sum(), 1),
                "fill_rate": served_sum[j, m].sum() / dem if dem > 0 else np.nan,
                "orders": int(orders[j, m].sum()),
                "achieved_cycle_service_level": cycle_ok[j, m].sum() / n_cycles
                if n_cycles else np.nan,
                "protected_cycle_share": protected[j, m].sum() / n_cycles
                if n_cycles else np.nan,
                "target": float(param) if objective is not None else np.nan,
                "n_series": int(m.sum()),
                "demand_units": dem,
                "lost_units": dem - served_sum[j, m].sum(),
                "objective": objective,
                "units_transferred": float(transferred[j, m].sum()),
            })
    return pd.DataFrame(rows)


HEADLINE_MEASURE = {"cycle_service": "stockout_rate", "fill_rate": "lost_units"}


def _transfer_cut(r: Any, restock: float, restock_lost: float) -> dict[str, float]:
    """What transfers add at a transfer frontier point: its stockout rate and lost units
    against Restock's without transfers at the same inventory (positive = fewer with
    transfers); NaN for the other compared points."""
    if r.policy != TRANSFER_POLICY:
        return {"transfers_stockout_cut": np.nan, "transfers_lost_units_cut": np.nan,
                "units_transferred": float(getattr(r, "units_transferred", 0.0) or 0.0)}
    return {
        "transfers_stockout_cut": 1 - r.stockout_rate / restock if restock > 0 else np.nan,
        "transfers_lost_units_cut": 1 - r.lost_units / restock_lost if restock_lost > 0
        else np.nan,
        "units_transferred": float(getattr(r, "units_transferred", 0.0)),
    }


def _params_text(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in sorted(values))


def compare_with_frontier(rows: pd.DataFrame, cost: np.ndarray,
                          objective: str = "cycle_service"
                          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compare static policies and baseline planners with Restock's frontier at the same
    average inventory, on stockout days and lost units (module docstring).

    Returns the comparisons (one row per compared point and Restock objective) and the
    headline (a dict: the quoted comparison row plus ``headline_measure``,
    ``n_comparisons_within_frontier``, ``losing_parameters``, ``winning_parameters``).
    """
    measure = "avg_inventory_value" if np.isfinite(cost).all() and np.nansum(cost) > 0 \
        else "avg_inventory_units"
    total = rows[rows["category"] == "ALL"]
    if "objective" not in total:
        total = total.assign(objective=np.where(total["policy"] == "static", None,
                                                "cycle_service"))
    if "lost_units" not in total:
        total = total.assign(lost_units=np.nan, demand_units=np.nan)
    if "fill_rate" not in total:
        total = total.assign(fill_rate=np.nan)
    comps = []
    recommended = total[total["policy"] == "recommended"]
    for obj, rec in recommended.groupby("objective", sort=False):
        rec = rec.sort_values(measure)
        xs = rec[measure].to_numpy(dtype=float)
        ys = rec["stockout_rate"].to_numpy(dtype=float)
        lost = rec["lost_units"].to_numpy(dtype=float)
        others = total[(total["policy"] == "static")
                       | ((total["policy"] != "recommended") & (total["objective"] == obj))]
        for r in others.itertuples(index=False):
            x = getattr(r, measure)
            restock = float(np.interp(x, xs, ys))
            restock_lost = float(np.interp(x, xs, lost))
            dem = float(r.demand_units) if pd.notna(r.demand_units) else np.nan
            comps.append({
                "static_parameter": r.parameter,
                "inventory_measure": measure,
                "static_avg_inventory": x,
                "static_stockout_rate": r.stockout_rate,
                "restock_stockout_rate_at_same_inventory": restock,
                "relative_cut": 1 - restock / r.stockout_rate if r.stockout_rate > 0
                else np.nan,
                "within_frontier": bool(xs.min() <= x <= xs.max()),
                "compared_with": r.policy,
                "objective": obj,
                "static_fill_rate": r.fill_rate,
                "restock_fill_rate_at_same_inventory": 1 - restock_lost / dem
                if dem > 0 else np.nan,
                "static_lost_units": r.lost_units,
                "restock_lost_units_at_same_inventory": restock_lost,
                "relative_lost_units_cut": 1 - restock_lost / r.lost_units
                if r.lost_units > 0 else np.nan,
                "headline_measure": HEADLINE_MEASURE[obj],
                **_transfer_cut(r, restock, restock_lost),
            })
    comparisons = pd.DataFrame(comps)
    if comparisons.empty:
        return comparisons, {}
    static = comparisons[(comparisons["compared_with"] == "static")
                         & (comparisons["objective"] == objective)]
    if static.empty:
        static = comparisons[comparisons["compared_with"] == "static"]
        objective = static["objective"].iloc[0] if len(static) else objective
    if static.empty:
        return comparisons, {}
    cut = "relative_lost_units_cut" if HEADLINE_MEASURE[objective] == "lost_units" \
        else "relative_cut"
    pool = static[static["within_frontier"]]
    if pool.empty:
        # No static point inside the frontier: quote the one nearest to it (flagged).
        rec = recommended[recommended["objective"] == objective][measure]
        gap = np.minimum(abs(static["static_avg_inventory"] - rec.min()),
                         abs(static["static_avg_inventory"] - rec.max()))
        pick = static.loc[gap.idxmin()]
    else:
        # NaN cut (the static rule lost nothing) sorts first: nothing to claim there.
        pick = pool.sort_values(cut, na_position="first").iloc[0]
    headline = {k: (v.item() if hasattr(v, "item") else v) for k, v in pick.items()}
    headline["n_comparisons_within_frontier"] = int(len(pool))
    lose = pool[cut] < 0
    headline["losing_parameters"] = _params_text(pool.loc[lose, "static_parameter"].tolist())
    headline["winning_parameters"] = _params_text(
        pool.loc[pool[cut] > 0, "static_parameter"].tolist())
    return comparisons, headline
