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
  to whole days (>= 1; >= 0 for a mean lead time of 0, same-day supply, whose order arrives at
  the end of the review day); the same draws serve every policy (common random numbers). "mean" uses
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
  cumulative quantiles from data up to t; the reorder maths of restock.inventory.levels runs once
  per review for all service levels in settings.replay_service_levels (the planner is called once
  per review and shared). With settings.service_allocation = "exchange_curve" (cycle mode) each
  replayed level is the AVERAGE of per-item targets allocated by the exchange curve
  (restock.inventory.levels.allocate_service_levels) at that review; with "class" every item
  gets the level itself. settings.lot_adjustment lowers levels for the pack/MOQ overshoot as in
  the nightly.
* (b) Static ("static"): reorder point = average daily sales over the settings.static_window_days
  days up to t x (mean lead time + N days of buffer), order-up-to = reorder point + R x average,
  for N in settings.static_buffer_days. Same pack / MOQ rounding and max_stock cap, and the
  same whole-unit rounding: for a series sold in whole units (all sales up to replay_start are
  whole numbers) both policies order up to floor(order-up-to level).

Measures and the headline comparison: :mod:`restock.inventory.replay_measures`.
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
from restock.inventory.distributions import (
    KEYS,
    demand_mixture,
    dense_cumulative,
    resolve_lead_times,
)
from restock.inventory.levels import (
    allocate_service_levels,
    lot_spread,
    order_quantity,
    policy_levels,
    whole_unit_level,
)
from restock.inventory.replay_history import (
    ReplayHistory,
    daily_array,
    replay_history,
    starting_stock,
)
from restock.inventory.replay_measures import compare_with_frontier, summarise_replay
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
# Reference planner
# ------------------------------------------------------------------------------------------------

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
    sales = daily_array(demand, keys, dates, "units_sold", np.nan)
    censored = daily_array(
        demand.assign(_c=demand.get("is_censored", False)).astype({"_c": float}),
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

    Steps: the series replayed (:func:`_replay_series`), their demand history
    (:mod:`restock.inventory.replay_history`), supply terms and lead-time draws
    (:func:`_supply`), the warm-up days not counted (:func:`_measured_days`), the day loop
    (:func:`_simulate`: sales every day, :func:`_review` every R days), then the measures and
    the headline (:mod:`restock.inventory.replay_measures`).

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
    d = demand.copy()
    d["date"] = pd.to_datetime(d["date"])
    keys, prod, category = _replay_series(d, products, replay_start, as_of)
    history = replay_history(d, keys, replay_start, as_of, settings)
    reviews = np.arange(0, n_days, settings.review_days)  # end-of-day offsets from replay_start
    supply = _supply(keys, prod, lead_times, reviews.size, settings)
    start_stock = starting_stock(keys, d, replay_start, stock_position)
    run = _Replay(
        keys=keys, settings=settings, replay_start=replay_start, n_days=n_days,
        reviews=reviews, history=history, supply=supply,
        levels=np.asarray(settings.replay_service_levels, dtype=float),
        buffers=np.asarray(settings.static_buffer_days, dtype=float),
        spread=lot_spread(supply.pack, supply.moq, history.whole)
        if settings.lot_adjustment else None,
        measured=_measured_days(history, supply, reviews, n_days, settings),
    )
    log.info("replay: %d series, %d days, %d reviews, %d policies", len(keys), n_days,
             reviews.size, run.n_policies)
    state = _simulate(run, planner, start_stock, timing)
    rows = summarise_replay(
        n_days, run.levels, run.buffers, category, supply.cost, state.inv_sum, state.served_sum,
        history.true_demand, state.orders, state.stockout, reviews,
        np.maximum(np.rint(supply.lead_time_mean),
                   np.where(supply.lead_time_mean > 0, 1, 0)).astype(int), settings.review_days,
        state.position_after, run.measured,
    )
    comparisons, headline = compare_with_frontier(rows, supply.cost)
    timing["total"] = time.perf_counter() - clock
    log.info("replay done in %.1fs (planner %.1fs, policy %.1fs)", timing["total"],
             timing["planner"], timing["policy"])
    return ReplayResult(rows, headline, comparisons, timing)


@dataclass
class _Supply:
    """Supply terms of the replayed series and the lead time of each (series, review)."""

    lead_time_mean: np.ndarray
    lead_time_std: np.ndarray
    pack: np.ndarray
    moq: np.ndarray
    max_stock: np.ndarray
    cost: np.ndarray
    lead_days: np.ndarray  # S x reviews, whole days >= 1 (>= 0 for same-day supply)


@dataclass
class _Replay:
    """What stays fixed through the day loop."""

    keys: pd.DataFrame
    settings: ReplenishSettings
    replay_start: pd.Timestamp
    n_days: int
    reviews: np.ndarray  # end-of-day offsets from replay_start
    history: ReplayHistory
    supply: _Supply
    levels: np.ndarray  # replayed service levels ("recommended")
    buffers: np.ndarray  # static buffer days ("static")
    spread: np.ndarray | None  # lot spread (settings.lot_adjustment)
    measured: np.ndarray  # S x n_days: days counted (after the warm-up)

    @property
    def n_policies(self) -> int:
        """Recommended levels first, then the static buffers."""
        return self.levels.size + self.buffers.size


@dataclass
class _State:
    """Stock and running sums, policies x series (x days or reviews)."""

    on_hand: np.ndarray  # NaN = start at the first review's order-up-to level
    arrivals: np.ndarray  # quantity arriving at the start of each day
    on_order: np.ndarray
    inv_sum: np.ndarray
    served_sum: np.ndarray
    orders: np.ndarray
    stockout: np.ndarray
    position_after: np.ndarray  # inventory position after ordering, per review
    last_arrival: np.ndarray  # replay_deliveries_in_order

    @classmethod
    def start(cls, start_stock: np.ndarray, n_policies: int, n_days: int, n_reviews: int
              ) -> _State:
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
        )


def _replay_series(d: pd.DataFrame, products: pd.DataFrame, replay_start: pd.Timestamp,
                   as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Active series with demand in the window (sorted keys), active products, categories."""
    prod = products.drop_duplicates("sku")
    if "active" in prod:
        prod = prod[prod["active"].fillna(True).astype(bool)]
    in_window = d[(d["date"] > replay_start) & (d["date"] <= as_of)]
    keys = in_window[KEYS].drop_duplicates()
    keys = keys[keys["sku"].isin(prod["sku"])].sort_values(KEYS).reset_index(drop=True)
    if len(keys) == 0:
        raise ValueError("no active series with demand in the replay window")
    p = prod.set_index("sku")
    category = keys.merge(d.drop_duplicates(KEYS)[[*KEYS, "category"]], on=KEYS, how="left")[
        "category"] if "category" in d else keys["sku"].map(p["category"])
    category = category.fillna(keys["sku"].map(p["category"])).astype(str).to_numpy()
    return keys, prod, category


def _supply(keys: pd.DataFrame, prod: pd.DataFrame, lead_times: pd.DataFrame | None,
            n_reviews: int, settings: ReplenishSettings) -> _Supply:
    """Lead times, pack, MOQ, max stock and cost per series; a lead time per review.

    settings.replay_lead_time = "draw": gamma(mean, std) draws with settings.replay_seed (the
    same draws for every policy); "mean": the mean. Rounded to whole days, at least 1 (at least
    0 for a mean lead time of 0, same-day supply).
    """
    p = prod.set_index("sku")
    lt = resolve_lead_times(keys, prod, lead_times, settings.lead_time_min_receipts)
    lt_mean = lt["lead_time_days"].to_numpy(dtype=float)
    lt_std = lt["lead_time_std_days"].to_numpy(dtype=float)
    n = len(keys)
    rng = np.random.default_rng(settings.replay_seed)
    if settings.replay_lead_time == "draw":
        draws = np.empty((n, n_reviews))
        var = (lt_std > 0) & (lt_mean > 0)
        shape = np.where(var, (lt_mean / np.where(var, lt_std, 1)) ** 2, 1.0)
        scale = np.where(var, lt_std ** 2 / np.where(var, lt_mean, 1), 1.0)
        g = rng.gamma(shape[:, None], scale[:, None], size=(n, n_reviews))
        draws[:] = np.where(var[:, None], g, lt_mean[:, None])
    else:
        draws = np.repeat(lt_mean[:, None], n_reviews, axis=1)
    return _Supply(
        lead_time_mean=lt_mean,
        lead_time_std=lt_std,
        pack=np.maximum(_col(p, keys, "pack_size", 1.0), 1.0),
        moq=np.maximum(_col(p, keys, "moq", 1.0), 1.0),
        max_stock=_col(p, keys, "max_stock", np.nan),
        cost=_col(p, keys, "unit_cost", np.nan),
        # lead time 0 = same-day supply: the order arrives at the end of the review day
        lead_days=np.maximum(np.rint(draws), np.where(lt_mean > 0, 1, 0)[:, None]).astype(int),
    )


def _measured_days(history: ReplayHistory, supply: _Supply, reviews: np.ndarray, n_days: int,
                   settings: ReplenishSettings) -> np.ndarray:
    """Days counted per series (S x n_days): those after the series' warm-up.

    Warm-up: a series' days before the first replayed order can arrive (its drawn lead time
    + 1) are played but not counted, because no policy can change them: both policies share
    the starting stock there, and counting it dilutes the comparison with a common floor.
    A series first sold inside the window (a launch) has no order of either policy until the
    first review after its launch day, so its warm-up runs until that order can arrive.
    """
    n = len(history.first_sold)
    first_sold, t0 = history.first_sold, history.t0
    first_review = np.zeros(n, dtype=int)
    first_k = np.zeros(n, dtype=int)
    launched = first_sold > t0
    warmup = settings.replay_warmup
    if warmup and launched.any():
        first_day = first_sold - (t0 + 1)  # window day index of the first sale
        nxt = np.searchsorted(reviews, first_day + 1)  # a review at the end of that day on
        first_k = np.where(launched, np.minimum(nxt, reviews.size - 1), 0)
        first_review = np.where(launched, np.where(nxt < reviews.size, reviews[first_k],
                                                   n_days), 0)
        log.info("replay: %d series launched inside the window; their days before the first "
                 "order after launch can arrive are not counted", int(launched.sum()))
    warm = first_review + supply.lead_days[np.arange(n), first_k] + 1 if warmup \
        else np.zeros(n, dtype=int)
    return np.arange(n_days)[None, :] >= np.minimum(warm, n_days)[:, None]


def _simulate(run: _Replay, planner: Callable[[pd.Timestamp], Any], start_stock: np.ndarray,
              timing: dict[str, float]) -> _State:
    """The day loop: each day's sales from the stock on hand, then a review every R days."""
    state = _State.start(start_stock, run.n_policies, run.n_days, run.reviews.size)
    review_days_set = set(run.reviews.tolist())
    for day in range(run.n_days + 1):
        if day > 0:
            _sell(state, run, day - 1)
        if day in review_days_set:
            _review(state, run, planner, day, timing)
    return state


def _sell(state: _State, run: _Replay, i: int) -> None:
    """Day ``i`` of the window: arrivals land, demand is served from stock or lost."""
    day = i + 1
    state.on_hand += state.arrivals[:, :, day]
    state.on_order -= state.arrivals[:, :, day]
    want = run.history.true_demand[:, i][None, :]
    served = np.minimum(state.on_hand, want)
    state.on_hand -= served
    counted = run.measured[:, i][None, :]
    state.served_sum += served * counted
    state.stockout[:, :, i] = ((want - served) > 1e-9) & counted
    state.inv_sum += state.on_hand * counted


def _review(state: _State, run: _Replay, planner: Callable[[pd.Timestamp], Any], day: int,
            timing: dict[str, float]) -> None:
    """A review at the end of ``day``: every policy's levels, then its orders."""
    k = int(np.searchsorted(run.reviews, day))
    t = run.replay_start + pd.Timedelta(days=day)
    n_rec = run.levels.size
    rp, up = np.empty((run.n_policies, len(run.keys))), np.empty((run.n_policies, len(run.keys)))
    rp[:n_rec], up[:n_rec] = _recommended_levels(run, planner, day, t, timing)
    rp[n_rec:], up[n_rec:] = _static_levels(run, day)
    whole = run.history.whole[None, :]
    if day == 0:
        state.on_hand = np.where(np.isnan(state.on_hand), whole_unit_level(up, whole),
                                 state.on_hand)
    placed = _place_orders(state, run, rp, up, day, k)
    log.info("replay review %d/%d (%s): %d orders", k + 1, run.reviews.size, t.date(), placed)


def _recommended_levels(run: _Replay, planner: Callable[[pd.Timestamp], Any], day: int,
                        t: pd.Timestamp, timing: dict[str, float]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Restock's reorder point and order-up-to (levels x series) from the plan made at t."""
    settings, supply = run.settings, run.supply
    ti = run.history.t0 + day
    tick = time.perf_counter()
    plan = planner(t)
    cumulative = plan.cumulative if hasattr(plan, "cumulative") else plan[1]
    timing["planner"] += time.perf_counter() - tick
    tick = time.perf_counter()
    # an item whose first sale is after this review has no forecast yet: expected
    cum = dense_cumulative(cumulative, run.keys, expected_missing=run.history.first_sold > ti)
    targets = run.levels
    protection = demand_mixture(cum, supply.lead_time_mean, supply.lead_time_std,
                                float(settings.review_days), settings.cover_earlier_orders)
    if settings.service_allocation == "exchange_curve" and settings.service_level_mode == "cycle":
        # each replayed level is the average of the per-item targets
        targets = allocate_service_levels(
            protection, supply.cost, run.levels, *settings.service_level_bounds,
            lost_sales=settings.lost_sales)
    pl = policy_levels(cum, supply.lead_time_mean, supply.lead_time_std, targets,
                       settings.review_days, settings.service_level_mode, supply.max_stock,
                       settings.order_up_to_review_periods, run.spread,
                       settings.cover_earlier_orders, settings.lost_sales, protection)
    timing["policy"] += time.perf_counter() - tick
    return pl.reorder_point.T, pl.order_up_to.T


def _static_levels(run: _Replay, day: int) -> tuple[np.ndarray, np.ndarray]:
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


def _place_orders(state: _State, run: _Replay, rp: np.ndarray, up: np.ndarray, day: int,
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


def _col(p: pd.DataFrame, keys: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in p:
        return np.full(len(keys), default)
    return pd.to_numeric(keys["sku"].map(p[name]), errors="coerce").fillna(default) \
        .to_numpy(dtype=float)


