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

Headline: static policies whose average inventory lies inside Restock's frontier (its points
over service levels) are compared with Restock's stockout rate interpolated at the same average
inventory (value when every series has a unit cost, else units); the headline quotes the static
parameter with the SMALLEST relative cut (a conservative claim) and lists all comparisons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def summarise_replay(
    n_days: int, levels: np.ndarray, buffers: np.ndarray, category: np.ndarray, cost: np.ndarray,
    inv_sum: np.ndarray, served_sum: np.ndarray, true_demand: np.ndarray, orders: np.ndarray,
    stockout: np.ndarray, reviews: np.ndarray, lead: np.ndarray, review_days: int,
    position_after: np.ndarray, measured: np.ndarray | None = None,
) -> pd.DataFrame:
    """policy_replay rows per policy x parameter x category (and ALL).

    Inventory, fill rate and stockout rate count only the measured (post warm-up) days of each
    series; average inventory is the sum over series of each one's mean on-hand per measured
    day. A cycle counts when all its days are measured (they start where the warm-up ends).
    """
    n_pol = inv_sum.shape[0]
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
    rows = []
    cats = ["ALL", *sorted(set(category))]
    for j in range(n_pol):
        policy = "recommended" if j < levels.size else "static"
        param = levels[j] if j < levels.size else buffers[j - levels.size]
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
                "target": float(param) if policy == "recommended" else np.nan,
                "n_series": int(m.sum()),
                "demand_units": dem,
                "lost_units": dem - served_sum[j, m].sum(),
            })
    return pd.DataFrame(rows)


def compare_with_frontier(rows: pd.DataFrame, cost: np.ndarray
                          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compare static policies with Restock's frontier at the same average inventory."""
    measure = "avg_inventory_value" if np.isfinite(cost).all() and np.nansum(cost) > 0 \
        else "avg_inventory_units"
    total = rows[rows["category"] == "ALL"]
    rec = total[total["policy"] == "recommended"].sort_values(measure)
    static = total[total["policy"] == "static"]
    xs, ys = rec[measure].to_numpy(), rec["stockout_rate"].to_numpy()
    comps = []
    for r in static.itertuples(index=False):
        x = getattr(r, measure)
        inside = bool(xs.min() <= x <= xs.max())
        restock = float(np.interp(x, xs, ys))
        comps.append({
            "static_parameter": r.parameter,
            "inventory_measure": measure,
            "static_avg_inventory": x,
            "static_stockout_rate": r.stockout_rate,
            "restock_stockout_rate_at_same_inventory": restock,
            "relative_cut": 1 - restock / r.stockout_rate if r.stockout_rate > 0 else np.nan,
            "within_frontier": inside,
        })
    comparisons = pd.DataFrame(comps)
    if comparisons.empty:
        return comparisons, {}
    pool = comparisons[comparisons["within_frontier"]]
    if pool.empty:
        # No static point inside the frontier: quote the one nearest to it (flagged).
        gap = np.minimum(abs(comparisons["static_avg_inventory"] - xs.min()),
                         abs(comparisons["static_avg_inventory"] - xs.max()))
        pick = comparisons.loc[gap.idxmin()]
    else:
        # NaN cut (the static rule had no stockout) sorts first: nothing to claim there.
        pick = pool.sort_values("relative_cut", na_position="first").iloc[0]
    headline = {k: (v.item() if hasattr(v, "item") else v) for k, v in pick.items()}
    headline["n_comparisons_within_frontier"] = int(len(pool))
    return comparisons, headline
