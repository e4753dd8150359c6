"""Policy replay: Restock's policy against the static rule most firms use, on real history.

Simulation (every series at once, numpy arrays policies x series x days; the day loop is fine)
---------------------------------------------------------------------------------------------
* Window: the days replay_start + 1 .. as_of. Reviews happen at the end of replay_start and then
  every settings.review_days days (end of day, after that day's sales).
* An order placed at the end of day t with a lead time of L days arrives at the end of day t + L
  and sells from day t + L + 1, so a review must cover demand over the next L + R days, which is
  the protection interval the policy maths uses.
* Lead times: with settings.replay_lead_time = "draw" (default) each (series, review) draws its
  lead time from the series' gamma(mean, std) with a fixed seed (settings.replay_seed), rounded
  to whole days (>= 1); the same draws serve every policy (common random numbers). "mean" uses
  the rounded mean. With settings.replay_deliveries_in_order an order drawn to arrive before an
  earlier order of the same series and policy arrives with it (a supplier ships in sequence);
  by default orders may overtake each other.
* Demand: history. Uncensored days as they are; censored days (stock-out) take the larger of the
  recorded sales and the mean of uncensored same-weekday days over the window and the 91 days
  before it, a neutral estimate that favours neither policy. Demand that finds no stock is lost.
* Starting stock: ``stock_position`` at replay_start when known (on_hand), else the on_hand that
  fct_daily_demand records for replay_start, else each policy starts at its own order-up-to
  level of the first review. Nothing is on order at the start.
* (a) Restock ("recommended"): at each review, ``planner(t)`` gives daily forecasts and
  cumulative quantiles from data up to t; the reorder maths of restock.inventory.policy runs once
  per review for all service levels in settings.replay_service_levels (the planner is called once
  per review and shared). With settings.service_allocation = "exchange_curve" (cycle mode) each
  replayed level is the AVERAGE of per-item targets allocated by the exchange curve
  (restock.inventory.policy.allocate_service_levels) at that review; with "class" every item
  gets the level itself. settings.lot_adjustment lowers levels for the pack/MOQ overshoot as in
  the nightly.
* (b) Static ("static"): reorder point = average daily sales over the settings.static_window_days
  days up to t x (mean lead time + N days of buffer), order-up-to = reorder point + R x average,
  for N in settings.static_buffer_days. Same pack / MOQ rounding and max_stock cap, and the
  same whole-unit rounding: for a series sold in whole units (all sales up to replay_start are
  whole numbers) both policies order up to floor(order-up-to level).

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

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from restock.contract import PUBLISHED_TABLES
from restock.forecasting.final import PlanInputs
from restock.inventory.policy import (
    KEYS,
    allocate_service_levels,
    demand_mixture,
    dense_cumulative,
    lot_spread,
    order_quantity,
    policy_levels,
    resolve_lead_times,
    whole_unit_level,
    whole_units_of,
)
from restock.inventory.settings import ReplenishSettings

log = logging.getLogger("restock.inventory")

DEFAULT_LEVELS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995)


@dataclass
class ReplayResult:
    """policy_replay rows and the headline comparison."""

    rows: pd.DataFrame
    headline: dict[str, Any]
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict[str, float] = field(default_factory=dict)

    def headline_frame(self) -> pd.DataFrame:
        """The headline as a one-row DataFrame (results.policy_replay_headline)."""
        return pd.DataFrame([self.headline])

    def comparison_frame(self) -> pd.DataFrame:
        """Every static policy against the frontier, the headline's row flagged
        (results.policy_replay_comparison, published); the contract columns even when empty."""
        columns = list(PUBLISHED_TABLES["policy_replay_comparison"])
        frame = self.comparisons.reindex(columns=columns[:-1])
        quoted = self.headline.get("static_parameter")
        frame["is_headline"] = frame["static_parameter"].eq(quoted) if quoted is not None \
            else False
        return frame.astype({"is_headline": bool})


def headline_text(headline: dict[str, Any] | None) -> str:
    """The replay's promise in one sentence, in a buyer's words (the policy_replay asset's log
    and ``restock run``'s summary). ``headline``: a policy_replay_comparison row as a dict."""
    if not headline or pd.isna(headline.get("restock_stockout_rate_at_same_inventory")):
        return "No comparable replay point (see policy_replay rows)."
    measure = "value" if headline.get("inventory_measure") == "avg_inventory_value" else "units"
    cut = headline.get("relative_cut")
    said = f"{100 * cut:.0f}% lower" if pd.notna(cut) else "the static policy had none"
    if not headline.get("within_frontier", True):
        said += "; outside Restock's frontier"
    return (
        f"Headline: at the average inventory {measure} of the static policy with "
        f"{headline['static_parameter']:g} buffer days, Restock's stockout rate is "
        f"{100 * headline['restock_stockout_rate_at_same_inventory']:.2f}% against "
        f"{100 * headline['static_stockout_rate']:.2f}% ({said})"
    )


# ------------------------------------------------------------------------------------------------
# Demand arrays
# ------------------------------------------------------------------------------------------------
def _pivot(demand: pd.DataFrame, keys: pd.DataFrame, dates: pd.DatetimeIndex,
           column: str, fill: float) -> np.ndarray:
    """Series x dates array of ``column`` (missing cells = ``fill``)."""
    out = np.full((len(keys), len(dates)), fill, dtype=float)
    d = demand.loc[(demand["date"] >= dates[0]) & (demand["date"] <= dates[-1])]
    rows = pd.MultiIndex.from_frame(keys[KEYS]).get_indexer(pd.MultiIndex.from_frame(d[KEYS]))
    cols = ((d["date"] - dates[0]).dt.days).to_numpy()
    ok = rows >= 0
    vals = pd.to_numeric(d[column], errors="coerce").to_numpy(dtype=float)
    out[rows[ok], cols[ok]] = vals[ok]
    return out


def make_reference_planner(
    demand: pd.DataFrame,
    horizon: int = 28,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    window_days: int = 56,
) -> Callable[[pd.Timestamp], PlanInputs]:
    """A simple, honest planner for replays and tests.

    For each series: mean daily demand mu and variance v over the last ``window_days``
    uncensored days up to t; total demand over h days ~ negative binomial with mean h mu and
    variance h max(v, mu) (Poisson when v <= mu), quantiles from scipy.stats.

    Parameters
    ----------
    demand : DataFrame
        fct_daily_demand (sku, location, date, units_sold, is_censored).
    horizon : int
        Days of cumulative quantiles (cover the longest lead time + review period).
    levels : tuple of float
        Quantile levels of the cumulative table.
    window_days : int

    Returns
    -------
    callable
        planner(t) -> PlanInputs using only demand dated <= t.
    """
    keys = demand[KEYS].drop_duplicates().sort_values(KEYS).reset_index(drop=True)
    first = demand["date"].min()
    dates = pd.date_range(first, demand["date"].max(), freq="D")
    sales = _pivot(demand, keys, dates, "units_sold", np.nan)
    censored = _pivot(demand.assign(_c=demand.get("is_censored", False)).astype({"_c": float}),
                      keys, dates, "_c", 0.0) > 0
    usable = np.where(censored, np.nan, sales)
    lev = np.asarray(levels, dtype=float)
    h = np.arange(1, horizon + 1, dtype=float)
    sku = np.repeat(keys["sku"].to_numpy(), horizon)
    loc = np.repeat(keys["location"].to_numpy(), horizon)
    hh = np.tile(np.arange(1, horizon + 1), len(keys))

    def planner(t: pd.Timestamp) -> PlanInputs:
        t = pd.Timestamp(t)
        ti = (t - first).days
        lo = max(0, ti - window_days + 1)
        win = usable[:, lo:ti + 1]
        n_ok = np.sum(np.isfinite(win), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(n_ok > 0, np.nansum(win, axis=1) / np.maximum(n_ok, 1), np.nan)
            raw = sales[:, lo:ti + 1]
            # No uncensored day: fall back to the recorded sales (a lower bound) or 0.
            mu = np.where(np.isnan(mu), np.nan_to_num(np.nanmean(raw, axis=1), nan=0.0), mu)
            dev = np.where(np.isfinite(win), (win - mu[:, None]) ** 2, 0.0).sum(axis=1)
            var = np.where(n_ok > 1, dev / np.maximum(n_ok - 1, 1), mu)
        var = np.maximum(var, mu)
        m = mu[:, None] * h[None, :]  # S, H
        v = var[:, None] * h[None, :]
        over = (v > m * 1.0001) & (m > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_nb = np.where(over, m ** 2 / (v - m), 1.0)
            p_nb = np.where(over, m / v, 0.5)
        # Each distribution only where it applies: the ppf calls are the planner's cost.
        q = np.zeros((*m.shape, lev.size))
        poisson = ~over & (m > 0)
        q[over] = stats.nbinom.ppf(lev[None, :], n_nb[over][:, None], p_nb[over][:, None])
        q[poisson] = stats.poisson.ppf(lev[None, :], m[poisson][:, None])
        q = np.nan_to_num(q, nan=0.0)
        cumulative = pd.DataFrame({
            "sku": np.repeat(sku, lev.size + 1),
            "location": np.repeat(loc, lev.size + 1),
            "horizon_days": np.repeat(hh, lev.size + 1),
            "level": np.tile(np.concatenate([[0.0], lev]), len(sku)),
            "quantity": np.concatenate([m[..., None], q], axis=2).reshape(-1),
        })
        future = pd.date_range(t + pd.Timedelta(days=1), periods=horizon, freq="D")
        daily = pd.DataFrame({
            "sku": sku, "location": loc,
            "date": np.tile(future.to_numpy(), len(keys)),
            "forecast": np.repeat(mu, horizon),
        })
        return PlanInputs(daily, cumulative)

    return planner


# ------------------------------------------------------------------------------------------------
# The replay
# ------------------------------------------------------------------------------------------------
def replay_policies(
    demand: pd.DataFrame,
    products: pd.DataFrame,
    lead_times: pd.DataFrame | None,
    planner: Callable[[pd.Timestamp], Any],
    replay_start: pd.Timestamp | str,
    as_of: pd.Timestamp | str,
    settings: ReplenishSettings,
    stock_position: pd.DataFrame | None = None,
) -> ReplayResult:
    """Replay Restock's policy and the static rule over [replay_start + 1, as_of].

    Parameters
    ----------
    demand : DataFrame
        fct_daily_demand: sku, location, category, date, units_sold, is_censored, on_hand.
    products : DataFrame
        dim_products (lead times, unit_cost, pack_size, moq, max_stock, active).
    lead_times : DataFrame or None
        fct_lead_times.
    planner : callable
        planner(t) -> object with ``.daily`` and ``.cumulative`` (or a (daily, cumulative)
        tuple), from data dated <= t.
    replay_start, as_of : date
    settings : ReplenishSettings
    stock_position : DataFrame, optional
        sku, location, on_hand (and stock_known) valid at replay_start.

    Returns
    -------
    ReplayResult
        ``rows``: policy, parameter, category, avg_inventory_units, avg_inventory_value,
        stockout_rate, fill_rate, orders, achieved_cycle_service_level, protected_cycle_share,
        target, n_series, demand_units, lost_units. ``headline``: dict (see module docstring);
        ``comparisons``: every static parameter against the frontier; ``seconds``: timings.
    """
    clock = time.perf_counter()
    timing = {"planner": 0.0, "policy": 0.0}
    replay_start = pd.Timestamp(replay_start).normalize()
    as_of = pd.Timestamp(as_of).normalize()
    n_days = (as_of - replay_start).days
    if n_days < 1:
        raise ValueError("as_of must be after replay_start")
    R = settings.review_days
    d = demand.copy()
    d["date"] = pd.to_datetime(d["date"])
    prod = products.drop_duplicates("sku")
    if "active" in prod:
        prod = prod[prod["active"].fillna(True).astype(bool)]
    in_window = d[(d["date"] > replay_start) & (d["date"] <= as_of)]
    keys = in_window[KEYS].drop_duplicates()
    keys = keys[keys["sku"].isin(prod["sku"])].sort_values(KEYS).reset_index(drop=True)
    n = len(keys)
    if n == 0:
        raise ValueError("no active series with demand in the replay window")
    p = prod.set_index("sku")
    category = keys.merge(d.drop_duplicates(KEYS)[[*KEYS, "category"]], on=KEYS, how="left")[
        "category"] if "category" in d else keys["sku"].map(p["category"])
    category = category.fillna(keys["sku"].map(p["category"])).astype(str).to_numpy()

    history = max(settings.static_window_days, 91)
    dates = pd.date_range(replay_start - pd.Timedelta(days=history), as_of, freq="D")
    t0 = history  # index of replay_start in ``dates``
    sales = _pivot(d, keys, dates, "units_sold", np.nan)
    censored = (_pivot(d.assign(_c=d["is_censored"].fillna(False).astype(float))
                       if "is_censored" in d else d.assign(_c=0.0),
                       keys, dates, "_c", 0.0) > 0)
    true_demand = _true_demand(sales, censored, dates, t0)[:, t0 + 1:]  # S x n_days
    sales0 = np.nan_to_num(sales, nan=0.0)
    # Series sold in whole units (judged on the history up to replay_start): both policies top
    # up to whole units (restock.inventory.policy.whole_unit_level).
    whole = whole_units_of(sales[:, :t0 + 1])

    lt = resolve_lead_times(keys, prod, lead_times, settings.lead_time_min_receipts)
    lt_mean = lt["lead_time_days"].to_numpy(dtype=float)
    lt_std = lt["lead_time_std_days"].to_numpy(dtype=float)
    pack = np.maximum(_col(p, keys, "pack_size", 1.0), 1.0)
    moq = np.maximum(_col(p, keys, "moq", 1.0), 1.0)
    max_stock = _col(p, keys, "max_stock", np.nan)
    cost = _col(p, keys, "unit_cost", np.nan)

    reviews = np.arange(0, n_days, R)  # end-of-day offsets from replay_start
    rng = np.random.default_rng(settings.replay_seed)
    if settings.replay_lead_time == "draw":
        draws = np.empty((n, reviews.size))
        var = lt_std > 0
        shape = np.where(var, (lt_mean / np.where(var, lt_std, 1)) ** 2, 1.0)
        scale = np.where(var, lt_std ** 2 / lt_mean, 1.0)
        g = rng.gamma(shape[:, None], scale[:, None], size=(n, reviews.size))
        draws[:] = np.where(var[:, None], g, lt_mean[:, None])
    else:
        draws = np.repeat(lt_mean[:, None], reviews.size, axis=1)
    lead_days = np.maximum(np.rint(draws), 1).astype(int)

    levels = np.asarray(settings.replay_service_levels, dtype=float)
    allocate = settings.service_allocation == "exchange_curve" \
        and settings.service_level_mode == "cycle"
    spread = lot_spread(pack, moq, whole) if settings.lot_adjustment else None
    buffers = np.asarray(settings.static_buffer_days, dtype=float)
    n_rec, n_pol = levels.size, levels.size + buffers.size

    start_stock = _start_stock(keys, d, replay_start, stock_position)
    on_hand = np.repeat(start_stock[None, :], n_pol, axis=0)  # NaN = start at order-up-to
    arrivals = np.zeros((n_pol, n, n_days + 2))
    on_order = np.zeros((n_pol, n))
    inv_sum = np.zeros((n_pol, n))
    served_sum = np.zeros((n_pol, n))
    orders = np.zeros((n_pol, n))
    stockout = np.zeros((n_pol, n, n_days), dtype=bool)
    position_after = np.zeros((n_pol, n, reviews.size))  # inventory position after ordering
    last_arrival = np.zeros((n_pol, n), dtype=int)  # replay_deliveries_in_order

    # Warm-up: a series' days before the first replayed order can arrive (its drawn lead time
    # + 1) are played but not counted, because no policy can change them: both policies share
    # the starting stock there, and counting it dilutes the comparison with a common floor.
    # A series first sold inside the window (a launch) has no order of either policy until the
    # first review after its launch day, so its warm-up runs until that order can arrive.
    first_review = np.zeros(n, dtype=int)
    first_k = np.zeros(n, dtype=int)
    sold = ~np.isnan(sales)
    first_sold = np.where(sold.any(axis=1), np.argmax(sold, axis=1), sales.shape[1])
    launched = first_sold > t0
    if settings.replay_warmup and launched.any():
        first_day = first_sold - (t0 + 1)  # window day index of the first sale
        nxt = np.searchsorted(reviews, first_day + 1)  # a review at the end of that day on
        first_k = np.where(launched, np.minimum(nxt, reviews.size - 1), 0)
        first_review = np.where(launched, np.where(nxt < reviews.size, reviews[first_k],
                                                   n_days), 0)
        log.info("replay: %d series launched inside the window; their days before the first "
                 "order after launch can arrive are not counted", int(launched.sum()))
    warm = first_review + lead_days[np.arange(n), first_k] + 1 if settings.replay_warmup \
        else np.zeros(n, dtype=int)
    measured = np.arange(n_days)[None, :] >= np.minimum(warm, n_days)[:, None]
    log.info("replay: %d series, %d days, %d reviews, %d policies", n, n_days, reviews.size,
             n_pol)
    review_days_set = set(reviews.tolist())
    for day in range(n_days + 1):
        if day > 0:
            i = day - 1
            on_hand += arrivals[:, :, day]
            on_order -= arrivals[:, :, day]
            want = true_demand[:, i][None, :]
            served = np.minimum(on_hand, want)
            on_hand -= served
            counted = measured[:, i][None, :]
            served_sum += served * counted
            stockout[:, :, i] = ((want - served) > 1e-9) & counted
            inv_sum += on_hand * counted
        if day in review_days_set:
            k = int(np.searchsorted(reviews, day))
            ti = t0 + day
            t = replay_start + pd.Timedelta(days=day)
            rp, up = np.empty((n_pol, n)), np.empty((n_pol, n))
            tick = time.perf_counter()
            plan = planner(t)
            cumulative = plan.cumulative if hasattr(plan, "cumulative") else plan[1]
            timing["planner"] += time.perf_counter() - tick
            tick = time.perf_counter()
            # an item whose first sale is after this review has no forecast yet: expected
            cum = dense_cumulative(cumulative, keys,
                                   expected_missing=first_sold > ti)
            targets = levels
            protection = demand_mixture(cum, lt_mean, lt_std, float(R),
                                        settings.cover_earlier_orders)
            if allocate:  # each replayed level is the average of the per-item targets
                targets = allocate_service_levels(
                    protection, cost, levels, *settings.service_level_bounds,
                    lost_sales=settings.lost_sales)
            pl = policy_levels(cum, lt_mean, lt_std, targets, R, settings.service_level_mode,
                               max_stock, settings.order_up_to_review_periods, spread,
                               settings.cover_earlier_orders, settings.lost_sales, protection)
            rp[:n_rec], up[:n_rec] = pl.reorder_point.T, pl.order_up_to.T
            timing["policy"] += time.perf_counter() - tick
            avg = sales0[:, max(0, ti - settings.static_window_days + 1):ti + 1].mean(axis=1)
            s_rp = avg[None, :] * (lt_mean[None, :] + buffers[:, None])
            s_up = s_rp + R * avg[None, :]
            cap = np.where(np.isfinite(max_stock) & (max_stock > 0), max_stock, np.inf)
            s_up = np.where(s_up > cap, np.maximum(cap, s_rp), s_up)
            rp[n_rec:], up[n_rec:] = s_rp, s_up
            if day == 0:
                on_hand = np.where(np.isnan(on_hand), whole_unit_level(up, whole[None, :]),
                                   on_hand)
            position = on_hand + on_order
            qty = order_quantity(position, rp, up, pack[None, :], moq[None, :],
                                 whole[None, :])
            arrive = np.broadcast_to(day + lead_days[:, k] + 1, qty.shape)  # sells from then
            placed = qty > 0
            if settings.replay_deliveries_in_order:
                arrive, last_arrival = deliveries_in_order(arrive, placed, last_arrival)
            orders += placed
            on_order += qty
            position_after[:, :, k] = position + qty
            cols = np.minimum(arrive, n_days + 1)
            pol_idx, ser_idx = np.nonzero(placed)
            np.add.at(arrivals, (pol_idx, ser_idx, cols[pol_idx, ser_idx]),
                      qty[pol_idx, ser_idx])
            log.info("replay review %d/%d (%s): %d orders", k + 1, reviews.size, t.date(),
                     int(placed.sum()))

    rows = _summarise(
        n_days, levels, buffers, category, cost, inv_sum, served_sum, true_demand, orders,
        stockout, reviews, np.maximum(np.rint(lt_mean), 1).astype(int), R, position_after,
        measured,
    )
    comparisons, headline = _headline(rows, cost)
    timing["total"] = time.perf_counter() - clock
    log.info("replay done in %.1fs (planner %.1fs, policy %.1fs)", timing["total"],
             timing["planner"], timing["policy"])
    return ReplayResult(rows, headline, comparisons, timing)


def deliveries_in_order(arrive: np.ndarray, placed: np.ndarray, last_arrival: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Arrival days when a supplier delivers a series' orders in sequence.

    An order placed now (``placed``) arrives on its drawn day or with the latest earlier order
    of the same series, whichever is later; ``last_arrival`` is updated where orders were placed.
    """
    out = np.where(placed, np.maximum(arrive, last_arrival), arrive)
    return out, np.where(placed, out, last_arrival)


def _col(p: pd.DataFrame, keys: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in p:
        return np.full(len(keys), default)
    return pd.to_numeric(keys["sku"].map(p[name]), errors="coerce").fillna(default) \
        .to_numpy(dtype=float)


def _true_demand(sales: np.ndarray, censored: np.ndarray, dates: pd.DatetimeIndex,
                 t0: int) -> np.ndarray:
    """Demand history: censored days lifted to the uncensored same-weekday mean."""
    clean = np.where(censored | np.isnan(sales), np.nan, sales)
    weekday = dates.dayofweek.to_numpy()
    est = np.zeros_like(sales)
    overall = np.nanmean(clean, axis=1) if clean.size else np.zeros(len(sales))
    with np.errstate(invalid="ignore"):
        for wd in range(7):
            cols = weekday == wd
            m = np.nanmean(clean[:, cols], axis=1) if cols.any() else overall
            est[:, cols] = np.where(np.isnan(m), np.nan_to_num(overall, nan=0.0), m)[:, None]
    out = np.nan_to_num(sales, nan=0.0)
    return np.where(censored, np.maximum(out, est), out)


def _start_stock(keys: pd.DataFrame, demand: pd.DataFrame, replay_start: pd.Timestamp,
                 stock_position: pd.DataFrame | None) -> np.ndarray:
    """On hand at the end of replay_start per series (NaN = unknown)."""
    out = np.full(len(keys), np.nan)
    if "on_hand" in demand:
        day = demand.loc[demand["date"] == replay_start, [*KEYS, "on_hand"]]
        out = keys.merge(day, on=KEYS, how="left")["on_hand"].to_numpy(dtype=float)
    if stock_position is not None and len(stock_position):
        sp = stock_position
        if "stock_known" in sp:
            sp = sp[sp["stock_known"].fillna(False).astype(bool)]
        given = keys.merge(sp[[*KEYS, "on_hand"]], on=KEYS, how="left")["on_hand"] \
            .to_numpy(dtype=float)
        out = np.where(np.isfinite(given), given, out)
    return out


def _summarise(
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


def _headline(rows: pd.DataFrame, cost: np.ndarray) -> tuple[pd.DataFrame, dict[str, Any]]:
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
