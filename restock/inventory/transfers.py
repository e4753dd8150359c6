"""Transfers between locations before buying: move surplus stock to where it is about to run out.

What a transfer is
------------------
For each item, a location with stock above its reorder point can send units to a location of
the same item that is projected to stock out before its next purchase could arrive, over a lane
(``transfer_lanes``: from_location, to_location, lead_time_days, cost_per_unit) whose lead time
beats the destination's next possible delivery. Reorder lines are then computed
again on the adjusted positions (:func:`plan_transfers` returns both).

What a source can give (whole units, never negative)::

    surplus = floor(min(position - reorder_point,   # never below its own reorder point
                        on_hand - d x L))            # keeps what it sells until a purchase lands

with d its mean daily demand and L its purchase lead time; and the greedy (below) counts the
units a source gives at their cost: the rise of the source's own chance of running out before
its next possible delivery. A source gives while the destination's cut beats that rise, so
what it keeps is set by its own risk, and by its reorder point at the least. "Never below its
reorder point" holds by construction, also when order_up_to or the demand figures are odd.

An earlier rule let a source give only what it held above its order-up-to level plus its demand
until restocked. Restock orders every location up to its order-up-to level at each review, so
that was almost never met: in the replay transfers moved little and cut stockouts by -3.7% ..
+2.1% (docs/RESULTS.md, "Transfers in the replay", 2026-12-04); with the rule above the cut is
positive at every comparable point there.

Next possible delivery: L days after the next order day. ``days_to_next_order`` (optional
column, default 0: a purchase can be placed today) adds the days until then. The nightly
(restock.inventory.actions) sets it to the days until the line's supplier's next order weekday
(suppliers.order_weekdays; 0 on an order day, and for every line without a suppliers table);
the replay, which reviews transfers every day but orders only every R days, to the days until
the next review. Both read the lines through :func:`next_delivery_lines`: while a line waits
for its next order day, the reorder point its sources keep is the one over the days left until
that order can land (TransferSettings.remaining_interval_reorder_point, on by default). Below,
"lead" (the horizon H = days_to_next_order + L) is that horizon.

Need at a destination: its chance of running out before its next possible delivery,
P(D_H > position) (with H = L the reorder line's stockout_probability), is above what its
service target allows, 1 - service_level_target. Transfers never raise a destination above its
order-up-to level: a transfer cures a shortage, it does not create a new surplus. A lane is
used only when it is faster than H.

Stockout probability after a transfer and the daily spread: restock.inventory.transfer_risk.

Why a greedy and not an LP
--------------------------
The objective, the sum of stockout probabilities (the expected number of item-locations that run
out, destinations and sources), is non-linear in the quantities: a gamma tail, convex above the
median and concave below it. An LP would need a piecewise-linear tail and, for the concave part,
binary variables (a MIP) to stay exact. The greedy moves, at each step, the chunk of units with the
largest net cut in stockout probability per unit (the destination's cut minus the source's rise)
over any (source, destination, chunk size) of the item; looking at whole chunks (not only the next
unit) handles the concave part, where the first units cut little and the following ones cut a lot,
and on the convex part the per-unit greedy is the optimum of a separable convex allocation. Each
transfer then has a one-line reason a planner can check ("chance of running out 100% -> 22%").
Ties go to the faster, then cheaper lane, then the first pair (sources, then destinations, in
line order).

Speed: the replay runs the planner every simulated day at every frontier point, so it is
written for that. Items with no location that can give or none in need are dropped with array
operations before any per-item work; an item's (source, destination) pairs are evaluated
together (:func:`_evaluate_pairs`: one array of every pair's chunk sizes), each pair's best
chunk is kept until a step touches its source or destination, and a destination's chance of
running out is computed once per arrival time and total quantity received
(:class:`ArrivalCurve`; the greedy asks for the same totals again after each step). The plans
matched the plain loop's bit for bit on 100 random networks and in both benches (checked at
e65eef5). Measured 2026-12-04 in the replay's daily review (docs/RESULTS.md, "Transfers in the
replay"): 105 s instead of 436 s on the demo, 316 s instead of 2,602 s on FreshRetailNet odd
cities (9,689 series, 20,610 lanes, 61 days x 9 frontier points). Most of what is left is the
gamma CDF of the destinations' quadrature.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.contract import ACTION_PUBLISHED_TABLES
from restock.inventory.transfer_inputs import (
    LANE_COLUMNS,
    TransferSettings,
    default_lanes,
    next_delivery_lines,
    remaining_reorder_point,
    resolve_lanes,
)
from restock.inventory.transfer_risk import (
    ArrivalCurve,
    chunk_sizes,
    daily_demand_std,
    numeric_column,
    stockout_probability,
    stockout_scalar,
    stockout_stocks,
    transfer_stockout_probability,
)

# The planner's inputs and risk figures live in transfer_inputs and transfer_risk; callers
# import them from here as well.
__all__ = [
    "KEYS", "LANE_COLUMNS", "TRANSFER_COLUMNS", "TRANSFER_EXTRA_COLUMNS", "TransferPlan",
    "TransferSettings", "default_lanes", "daily_demand_std", "next_delivery_lines",
    "order_qty_after_transfers", "plan_transfers", "remaining_reorder_point", "resolve_lanes",
    "stockout_probability", "transfer_stockout_probability",
]

log = logging.getLogger("restock.inventory.transfers")

KEYS = ["sku", "location"]

TRANSFER_COLUMNS = ACTION_PUBLISHED_TABLES["transfer_recommendations"]
# Extra columns of transfer_recommendations after the published ones.
# source_reorder_point: the reorder point the planner kept the source at (the line's own, or
# next_delivery_lines' over the days until its next purchase can land).
TRANSFER_EXTRA_COLUMNS = ("lane_lead_time_days", "cost", "purchase_lead_time_days",
                          "source_reorder_point")


@dataclass
class TransferPlan:
    """Result of :func:`plan_transfers`."""

    recommendations: pd.DataFrame  # transfer_recommendations (+ TRANSFER_EXTRA_COLUMNS)
    lines: pd.DataFrame  # the input lines with positions after transfers
    lanes: pd.DataFrame = field(default_factory=pd.DataFrame)  # the lanes that were used


# ------------------------------------------------------------------------------------------------
# Planning
# ------------------------------------------------------------------------------------------------
def plan_transfers(
    lines: pd.DataFrame,
    lanes: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: TransferSettings | None = None,
    locations: pd.DataFrame | None = None,
) -> TransferPlan:
    """Transfers that cut expected stockouts, and the lines' positions after them.

    Parameters
    ----------
    lines : DataFrame
        Reorder lines (restock.inventory.reorder_lines.build_reorder_lines): sku, location, on_hand,
        on_order, inventory_position, reorder_point, order_up_to, lead_time_days,
        mean_daily_forecast; optional demand_std_daily, service_level_target, lead_time_demand,
        review_days, stock_known, pack_size, moq, max_stock, stockout_probability. Lines whose
        stock is unknown (NaN position) neither give nor receive.
    lanes : DataFrame or None
        transfer_lanes (from_location, to_location, lead_time_days, cost_per_unit).
    as_of : date
        Planning date; a transfer over a lane of t days arrives on as_of + ceil(t).
    settings : TransferSettings, optional
    locations : DataFrame, optional
        location, region: for the default same-region lanes.

    Returns
    -------
    TransferPlan
        ``recommendations`` (TRANSFER_COLUMNS + TRANSFER_EXTRA_COLUMNS, one row per source,
        destination and item) and ``lines``: the input with on_hand reduced at sources,
        on_order (in transit) raised at destinations, inventory_position, stockout_probability,
        days_of_cover and recommended_order_qty recomputed, plus transfer_in, transfer_out.
    """
    settings = settings or TransferSettings()
    as_of = pd.Timestamp(as_of).normalize()
    lane_table = resolve_lanes(lanes, locations, settings)
    out_lines = lines.copy().reset_index(drop=True)
    n = len(out_lines)
    out_lines["transfer_in"] = 0.0
    out_lines["transfer_out"] = 0.0
    empty = pd.DataFrame({c: [] for c in (*TRANSFER_COLUMNS, *TRANSFER_EXTRA_COLUMNS)})
    if n == 0 or not len(lane_table):
        return TransferPlan(empty, out_lines, lane_table)

    position = numeric_column(out_lines, "inventory_position", np.nan)
    on_hand = numeric_column(out_lines, "on_hand", np.nan)
    known = np.isfinite(position) & np.isfinite(on_hand)
    if "stock_known" in out_lines:
        known &= out_lines["stock_known"].fillna(False).astype(bool).to_numpy()
    mean = np.maximum(numeric_column(out_lines, "mean_daily_forecast", 0.0), 0.0)
    std = daily_demand_std(out_lines, settings.default_service_level)
    lead = np.maximum(numeric_column(out_lines, "lead_time_days", 1.0), 0.0)
    # until the next possible delivery: a purchase placed at the next order day, then its lead
    horizon = lead + np.maximum(numeric_column(out_lines, "days_to_next_order", 0.0), 0.0)
    reorder_point = numeric_column(out_lines, "reorder_point", np.nan)
    order_up_to = np.maximum(numeric_column(out_lines, "order_up_to", np.nan), reorder_point)
    target = numeric_column(out_lines, "service_level_target", settings.default_service_level)
    target = np.where(np.isfinite(target), target, settings.default_service_level)

    with np.errstate(invalid="ignore"):
        surplus = np.floor(np.minimum(position - reorder_point, on_hand - mean * lead) + 1e-9)
    surplus = np.where(known & np.isfinite(surplus), np.maximum(surplus, 0.0), 0.0)
    p_before = stockout_probability(np.where(known, position, 0.0), horizon, mean, std)
    needy = known & (p_before > 1.0 - target + 1e-12) & np.isfinite(order_up_to) \
        & (position < order_up_to)

    ends = zip(lane_table["from_location"].tolist(), lane_table["to_location"].tolist(),
               strict=True)
    terms = zip(lane_table["lead_time_days"].astype(float).tolist(),
                lane_table["cost_per_unit"].astype(float).tolist(), strict=True)
    lane_lt = dict(zip(ends, terms, strict=True))
    records = []
    sku = out_lines["sku"].astype(str).to_numpy()
    loc = out_lines["location"].astype(str).to_numpy()
    moved_in = np.zeros(n)
    moved_out = np.zeros(n)
    # Only items with a location that can give and one in need are planned (in item order);
    # found with array operations, as most items of a run have neither.
    give = surplus > 0
    items, code = np.unique(sku, return_inverse=True)
    active = (np.bincount(code, weights=give, minlength=len(items)) > 0) \
        & (np.bincount(code, weights=needy, minlength=len(items)) > 0)
    if active.any():
        rows = np.flatnonzero(active[code])
        rows = rows[np.argsort(code[rows], kind="stable")]  # by item, then line order
        bounds = np.flatnonzero(np.diff(code[rows])) + 1
        loc_list, horizon_list = loc.tolist(), horizon.tolist()
        for group in np.split(rows, bounds):
            src_rows = group[give[group]].tolist()
            dst_rows = group[needy[group]].tolist()
            pairs = []
            for s in src_rows:
                for d in dst_rows:
                    lane = lane_lt.get((loc_list[s], loc_list[d]))
                    if lane is not None and lane[0] < horizon_list[d]:
                        pairs.append((s, d, *lane))
            if not pairs:
                continue
            records += _greedy_item(sku[group[0]], pairs, surplus, position, horizon, mean, std,
                                    order_up_to, p_before, moved_in, moved_out, settings)

    recs = _recommendations(records, loc, as_of, p_before, horizon, reorder_point)
    if not len(recs):
        return TransferPlan(empty, out_lines, lane_table)
    p_dst = np.full(n, np.nan)
    for r in records:
        p_dst[r["dst"]] = r["p_after"]
    _adjust_lines(out_lines, moved_in, moved_out, known, horizon, mean, std, p_dst)
    log.info("%d transfers of %d units between %d locations", len(recs), int(recs["qty"].sum()),
             len(set(recs["from_location"]) | set(recs["to_location"])))
    return TransferPlan(recs, out_lines, lane_table)


def _greedy_item(item, pairs, surplus, position, lead, mean, std, order_up_to, p_before,
                 moved_in, moved_out, settings) -> list[dict]:
    """Greedy by stockout-probability cut per unit over chunks, for one item.

    Each step moves the chunk with the largest (gain per unit, -lane lead time, -cost) over all
    pairs, the first pair in ``pairs`` order on a tie. A pair's best chunk is kept until a step
    touches its source or destination; the pairs to (re)evaluate are evaluated together
    (:func:`_evaluate_pairs`), and a destination's chance of running out is computed once per
    total quantity received (:class:`ArrivalCurve`).
    """
    n_pairs = len(pairs)
    ps = np.array([p[0] for p in pairs], dtype=int)
    pd_ = np.array([p[1] for p in pairs], dtype=int)
    plt = np.array([p[2] for p in pairs], dtype=float)
    pcost = np.array([p[3] for p in pairs], dtype=float)
    by_src: dict[int, list[int]] = {}
    by_dst: dict[int, list[int]] = {}
    for i, (s, d, *_) in enumerate(pairs):
        by_src.setdefault(s, []).append(i)
        by_dst.setdefault(d, []).append(i)
    state = _ItemState(
        left=surplus.copy(), arrival=np.zeros(len(surplus)), current=p_before.copy(),
        src_now={s: stockout_scalar(position[s], lead[s], mean[s], std[s]) for s in by_src})
    best = _PairBest(np.zeros(n_pairs, dtype=bool), np.full(n_pairs, -np.inf),
                     np.zeros(n_pairs, dtype=int), np.zeros(n_pairs))
    moved: dict[tuple[int, int], float] = {}
    dirty = np.arange(n_pairs)
    for _ in range(settings.max_steps_per_item):
        if dirty.size:
            _evaluate_pairs(dirty, ps, pd_, plt, state, best, position, lead, mean, std,
                            order_up_to, moved_in, moved_out, settings)
        if not best.valid.any():
            break
        gain = np.where(best.valid, best.gain, -np.inf)
        cand = np.flatnonzero(best.valid & (gain == gain.max()))
        if cand.size > 1:  # ties: the faster lane, then the cheaper, then the first pair
            cand = cand[plt[cand] == plt[cand].min()]
            cand = cand[pcost[cand] == pcost[cand].min()]
        i = int(cand[0])
        s, d, lt, k, p_new = int(ps[i]), int(pd_[i]), float(plt[i]), int(best.k[i]), \
            float(best.p_new[i])
        dirty = np.union1d(by_src[s], by_dst[d])
        best.valid[dirty] = False
        state.left[s] -= k
        moved_out[s] += k
        state.src_now[s] = stockout_scalar(position[s] - moved_out[s], lead[s], mean[s],
                                            std[s])
        moved_in[d] += k
        state.current[d] = p_new
        state.arrival[d] = max(state.arrival[d], lt)
        moved[(s, d)] = moved.get((s, d), 0.0) + k
    terms = {(s, d): (lt, c) for s, d, lt, c in pairs}
    records = []
    for (s, d), q in moved.items():
        lt, cost = terms[(s, d)]
        records.append({"sku": item, "src": s, "dst": d, "qty": q, "lt": lt, "cost": cost * q,
                        "p_after": state.current[d]})
    return records


@dataclass
class _ItemState:
    """What the greedy's steps change, per line of the item (arrays over all lines)."""

    left: np.ndarray  # units a source can still give
    arrival: np.ndarray  # latest lane lead time into a destination so far
    current: np.ndarray  # a destination's chance of running out with what it has received
    src_now: dict[int, float]  # a source's own chance of running out, as it gives
    curves: dict[tuple[int, float], ArrivalCurve] = field(default_factory=dict)
    # (destination, arrival): (moved_in when computed, chunk sizes, chance after each)
    dst_cache: dict[tuple[int, float], tuple[float, np.ndarray, np.ndarray]] = field(
        default_factory=dict)
    # source: (moved_out when computed, chunk sizes, its chance after giving each)
    src_cache: dict[int, tuple[float, np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class _PairBest:
    """Each pair's best chunk: valid when it cuts at least min_cut_per_unit per unit."""

    valid: np.ndarray
    gain: np.ndarray
    k: np.ndarray
    p_new: np.ndarray


def _evaluate_pairs(idx, ps, pd_, plt, state, best, position, lead, mean, std, order_up_to,
                    moved_in, moved_out, settings) -> None:
    """Best chunk of each pair in ``idx`` (sorted), in ``best``: over chunk sizes k up to what
    the source has left and the destination's room (order-up-to level), the largest
    (destination's cut - source's rise in its chance of running out) / k, the first k on a
    tie."""
    s_all, d_all = ps[idx], pd_[idx]
    room = np.floor(order_up_to[d_all] - position[d_all] - moved_in[d_all] + 1e-9)
    k_room = np.minimum(room, settings.max_chunk)
    k_max = np.minimum(state.left[s_all], k_room)
    ok = k_max >= 1
    best.valid[idx[~ok]] = False
    if not ok.any():
        return
    idx, s_all, d_all = idx[ok], s_all[ok], d_all[ok]
    k_room, k_max = k_room[ok].astype(int), k_max[ok].astype(int)
    t_all = np.maximum(state.arrival[d_all], plt[idx])
    # one table of chunk sizes and chances per (destination, arrival), shared by its pairs
    groups: dict[tuple[int, float], int] = {}
    group = np.array([groups.setdefault(key, len(groups))
                      for key in zip(d_all.tolist(), t_all.tolist(), strict=True)])
    first_of = np.full(len(groups), len(idx))
    np.minimum.at(first_of, group, np.arange(len(idx)))
    tables_ks, tables_p = [], []
    for (d, t), kr in zip(groups, k_room[first_of].tolist(), strict=True):
        hit = state.dst_cache.get((d, t))
        if hit is None or hit[0] != moved_in[d]:
            curve = state.curves.get((d, t))
            if curve is None:
                curve = state.curves[(d, t)] = ArrivalCurve(position[d], t, lead[d], mean[d],
                                                             std[d])
            ks_all = chunk_sizes(kr)
            hit = state.dst_cache[(d, t)] = (moved_in[d], ks_all, curve(moved_in[d] + ks_all))
        tables_ks.append(hit[1])
        tables_p.append(hit[2])
    lengths = np.array([len(a) for a in tables_ks])
    offset = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    all_ks, all_p = np.concatenate(tables_ks), np.concatenate(tables_p)
    # each pair's chunk sizes: its table's sizes up to its k_max (the sizes ascend)
    # (one search over the tables, each shifted past the previous one's largest size)
    shift = float(settings.max_chunk) + 1.0
    keyed = np.repeat(np.arange(len(groups)) * shift, lengths) + all_ks
    sizes = np.searchsorted(keyed, group * shift + k_max, side="right") - offset[group]
    owner = np.repeat(np.arange(len(idx)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = offset[group][owner] + np.arange(len(owner)) - starts[owner]
    ks, p_new = all_ks[pos], all_p[pos]
    src_of = s_all[owner]
    rise = np.empty(len(ks))
    for s in np.unique(s_all).tolist():
        src = state.src_cache.get(s)
        if src is None or src[0] != moved_out[s]:
            ks_src = chunk_sizes(int(state.left[s]))
            src = state.src_cache[s] = (moved_out[s], ks_src, stockout_stocks(
                position[s] - moved_out[s] - ks_src, lead[s], mean[s], std[s]))
        at = src_of == s
        rise[at] = np.interp(ks[at], src[1], src[2]) - state.src_now[s]
    gain = (state.current[d_all][owner] - p_new - rise) / ks
    if np.isnan(gain).any():  # np.argmax takes the first NaN: keep its answer
        j = np.array([starts[i] + int(np.argmax(gain[starts[i]:starts[i] + sizes[i]]))
                      for i in range(len(idx))])
    else:  # the first maximum of each pair's chunk sizes
        top = np.maximum.reduceat(gain, starts)
        first = np.where(gain == top[owner], np.arange(len(gain)), len(gain))
        j = np.minimum.reduceat(first, starts)
    g = gain[j]
    best.valid[idx] = g >= settings.min_cut_per_unit
    best.gain[idx] = g
    best.k[idx] = ks[j].astype(int)
    best.p_new[idx] = p_new[j]



def _recommendations(records, loc, as_of, p_before, lead, reorder_point) -> pd.DataFrame:
    if not records:
        return pd.DataFrame()
    rows = []
    for r in records:
        s, d, q = r["src"], r["dst"], r["qty"]
        arrives = as_of + pd.Timedelta(days=math.ceil(r["lt"] - 1e-9))
        before, after = float(p_before[d]), float(r["p_after"])
        rows.append({
            "sku": r["sku"],
            "from_location": loc[s],
            "to_location": loc[d],
            "qty": float(q),
            "arrives": arrives,
            "stockout_probability_before": before,
            "stockout_probability_after": after,
            "reason": (
                f"Move {q:.0f} from {loc[s]} (above its reorder point, at less risk to it than "
                f"the cut) to {loc[d]}: arrives in {r['lt']:g} days instead of "
                f"{lead[d]:g} for a purchase; chance of running out before then "
                f"{before:.0%} -> {after:.0%} (all transfers to {loc[d]} together)."),
            "lane_lead_time_days": r["lt"],
            "cost": r["cost"],
            "purchase_lead_time_days": float(lead[d]),
            "source_reorder_point": float(reorder_point[s]),
        })
    return pd.DataFrame(rows)[[*TRANSFER_COLUMNS, *TRANSFER_EXTRA_COLUMNS]]


def _adjust_lines(lines, moved_in, moved_out, known, lead, mean, std, p_dst) -> None:
    """Positions after transfers; order quantities and stockout figures recomputed in place."""
    changed = (moved_in > 0) | (moved_out > 0)
    lines["transfer_in"] = moved_in
    lines["transfer_out"] = moved_out
    on_hand = numeric_column(lines, "on_hand", np.nan) - moved_out
    on_order = np.nan_to_num(numeric_column(lines, "on_order", 0.0)) + moved_in
    position = numeric_column(lines, "inventory_position", np.nan) - moved_out + moved_in
    lines["on_hand"] = np.where(changed, on_hand, lines["on_hand"])
    lines["on_order"] = np.where(changed, on_order, lines["on_order"])
    lines["inventory_position"] = np.where(changed, position, lines["inventory_position"])
    if "stockout_probability" in lines:
        p = stockout_probability(np.where(known, position, 0.0), lead, mean, std)
        # Destinations take the transfer-aware figure of the recommendation (arrival timing).
        p = np.where(np.isfinite(p_dst), p_dst, p)
        lines["stockout_probability"] = np.where(changed, p, lines["stockout_probability"])
    if "days_of_cover" in lines:
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(mean > 0, on_hand / mean, lines["days_of_cover"])
        lines["days_of_cover"] = np.where(moved_out > 0, cover, lines["days_of_cover"])
    if "recommended_order_qty" in lines:
        lines["recommended_order_qty"] = np.where(changed, order_qty_after_transfers(lines),
                                                  lines["recommended_order_qty"])
    if "explanation" in lines:
        note = np.where(moved_in > 0, "Transfer in: " + pd.Series(moved_in).map("{:.0f}".format)
                        + " units in transit count as on order. ",
                        np.where(moved_out > 0, "Transfer out: "
                                 + pd.Series(moved_out).map("{:.0f}".format)
                                 + " units leave on hand. ", ""))
        lines["explanation"] = note + lines["explanation"].astype(str)


def order_qty_after_transfers(lines: pd.DataFrame) -> np.ndarray:
    """The order each line calls for at its inventory position (after transfers): up to its
    order-up-to level in whole packs and at least its MOQ when at or below its reorder point."""
    from restock.inventory.purchase_orders import pack_round

    position = numeric_column(lines, "inventory_position", np.nan)
    rp = numeric_column(lines, "reorder_point", np.nan)
    up = np.maximum(numeric_column(lines, "order_up_to", np.nan), rp)
    pack = np.maximum(np.nan_to_num(numeric_column(lines, "pack_size", 1.0), nan=1.0), 1.0)
    moq = np.maximum(np.nan_to_num(numeric_column(lines, "moq", 1.0), nan=1.0), 1.0)
    return np.where(position <= rp, pack_round(up - position, pack, moq), 0.0)
