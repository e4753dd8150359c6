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

* (c) Baseline planners (``planners`` given as a dict name -> planner, e.g.
  restock.inventory.baseline_planners): each plays exactly as (a), through the same level
  maths, exchange curve, lots, lost sales, on the same days with the same history, starting
  stock and lead-time draws (one simulation: common random numbers), as policy = its name.
  The static rows do not depend on the planners: they are the same with one planner or many.
* Objectives: every frontier is played under settings.objective; with
  settings.replay_both_objectives also under the other one (column ``objective``). Under
  fill_rate the exchange curve allocates per-item fill rates on units lost
  (restock.inventory.levels.allocate_fill_rates) and each replayed level is the overall
  (demand-weighted) fill-rate target.
* Conclusive or not: the replay counts when the measured series' median measured days hold at
  least settings.replay_min_cycles protection intervals (median lead time + review); else the
  headline and the comparison rows say ``conclusive = False`` and why, and a warning is logged
  (lead times of months in a 91-day window). :func:`replay_window` picks a window that fits the
  data (it never starts before the feed's first day + settings.replay_min_history_days).

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
    allocate_fill_rates,
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
from restock.inventory.settings import OBJECTIVES, ReplenishSettings

log = logging.getLogger("restock.inventory")

Planner = Callable[[pd.Timestamp], Any]

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
        frame = self.comparisons.reindex(columns=[c for c in columns if c != "is_headline"])
        quoted = self.headline.get("static_parameter")
        if quoted is not None and len(frame):
            flag = frame["static_parameter"].eq(quoted)
            for key in ("compared_with", "objective"):
                if self.headline.get(key) is not None:
                    flag &= frame[key].eq(self.headline[key])
        else:
            flag = False
        frame["is_headline"] = flag
        frame["conclusive"] = bool(self.headline.get("conclusive", True))
        return frame.reindex(columns=columns).astype({"is_headline": bool})


def headline_text(headline: dict[str, Any] | None) -> str:
    """The replay's promise in one sentence, in a buyer's words (the policy_replay asset's log
    and ``restock run``'s summary). ``headline``: the replay's headline dict, or a
    policy_replay_comparison row as a dict (then only that point is known).

    It names the measure it quotes (stockout days under cycle_service, lost units under
    fill_rate), says "higher" / "more" for a loss instead of a negative "lower", and says
    where the static rule wins ("Restock loses at 14+ buffer days: ...") and where Restock
    wins, so a mixed frontier is not sold as a win.
    """
    if not headline or pd.isna(headline.get("restock_stockout_rate_at_same_inventory")):
        return "No comparable replay point (see policy_replay rows)."
    inventory = "value" if headline.get("inventory_measure") == "avg_inventory_value" \
        else "units"
    units = headline.get("headline_measure") == "lost_units"
    param = float(headline["static_parameter"])
    if units:
        cut = headline.get("relative_lost_units_cut")
        mine = headline.get("restock_lost_units_at_same_inventory")
        theirs = headline.get("static_lost_units")
        fill = (f"; fill rate {100 * headline['restock_fill_rate_at_same_inventory']:.1f}% "
                f"against {100 * headline['static_fill_rate']:.1f}%"
                if pd.notna(headline.get("restock_fill_rate_at_same_inventory"))
                and pd.notna(headline.get("static_fill_rate")) else "")
        claim = f"Restock loses {mine:,.0f} units of demand against {theirs:,.0f}"
        more, less, tag = "more", "fewer", "lost units"
    else:
        cut = headline.get("relative_cut")
        mine = headline["restock_stockout_rate_at_same_inventory"]
        theirs = headline["static_stockout_rate"]
        fill = ""
        claim = f"Restock's stockout rate is {100 * mine:.2f}% against {100 * theirs:.2f}%"
        more, less, tag = "higher", "lower", "stockout days"
    if cut is None or pd.isna(cut):
        said = "the static policy had none"
    elif cut < 0:
        said = f"{100 * -cut:.0f}% {more}"
    elif cut == 0:
        said = "the same"
    else:
        said = f"{100 * cut:.0f}% {less}"
    if not headline.get("within_frontier", True):
        said += "; outside Restock's frontier"
    point = (f"at the average inventory {inventory} of the static policy with {param:g} buffer "
             f"days, {claim} ({said}{fill}){_other_measure(headline, units)}")
    losing = _param_list(headline.get("losing_parameters"))
    winning = _param_list(headline.get("winning_parameters"))
    inside = bool(headline.get("within_frontier", True))
    if inside and cut is not None and pd.notna(cut) and cut < 0 and param not in losing:
        losing = sorted([*losing, param])
    prefix = f"Headline ({tag}): "
    if not losing:
        text = prefix + point
        if headline.get("n_comparisons_within_frontier", 0) > 1:
            text += (f"; the smallest cut of the {headline['n_comparisons_within_frontier']} "
                     "comparable points")
    else:
        if not winning:
            where = f"Restock loses at every comparable point ({_days(losing)})"
        elif min(losing) > max(winning):
            where = f"Restock loses at {min(losing):g}+ buffer days"
        else:
            where = f"Restock loses at {_days(losing)}"
        text = f"{prefix}{where}: {point}"
        if winning:
            text += f"; it wins at {_days(winning)}"
    if headline.get("conclusive") is False:
        text += f". Not conclusive: {headline.get('inconclusive_reason') or 'window too short'}"
    return text


def _other_measure(headline: dict[str, Any], units: bool) -> str:
    """The measure the headline does not quote, when it disagrees at the quoted point (fewer
    stockout days but more lost units is the wholesale pattern of issue 15)."""
    other = headline.get("relative_cut") if units else headline.get("relative_lost_units_cut")
    if other is None or pd.isna(other) or other >= 0:
        return ""
    if units:
        mine = headline["restock_stockout_rate_at_same_inventory"]
        return (f"; but more stockout days there: {100 * mine:.2f}% against "
                f"{100 * headline['static_stockout_rate']:.2f}% ({100 * -other:.0f}% higher)")
    return (f"; but more units lost there: "
            f"{headline['restock_lost_units_at_same_inventory']:,.0f} against "
            f"{headline['static_lost_units']:,.0f} ({100 * -other:.0f}% more)")


def _param_list(text: Any) -> list[float]:
    if text is None or (isinstance(text, float) and np.isnan(text)) or text == "":
        return []
    return sorted(float(v) for v in str(text).split(","))


def _days(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values) + " buffer days"


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
    planner: Planner | dict[str, Planner],
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
    planner : callable or dict of str -> callable
        planner(t) -> object with ``.daily`` and ``.cumulative`` (or a (daily, cumulative)
        tuple), from data dated <= t. A dict plays several planners on the same draws; its
        keys are the policy values ("recommended" for Restock's, e.g. "naive_quantile",
        "auto_ets" for baselines); a single planner is {"recommended": planner}.
    replay_start, as_of : date
    settings : ReplenishSettings
    stock_position : DataFrame, optional
        sku, location, on_hand (and stock_known) valid at replay_start.

    Returns
    -------
    ReplayResult
        ``rows``: policy, parameter, category, avg_inventory_units, avg_inventory_value,
        stockout_rate, fill_rate, orders, achieved_cycle_service_level, protected_cycle_share,
        target, n_series, demand_units, lost_units, objective. ``headline``: dict (see module
        docstring; ``conclusive`` and ``inconclusive_reason`` say whether the window counts);
        ``comparisons``: every static parameter against the frontier; ``seconds``: timings.
    """
    clock = time.perf_counter()
    planners = dict(planner) if isinstance(planner, dict) else {"recommended": planner}
    timing = {"planner": 0.0, "policy": 0.0} | {f"planner_{name}": 0.0 for name in planners}
    replay_start = pd.Timestamp(replay_start).normalize()
    as_of = pd.Timestamp(as_of).normalize()
    n_days = (as_of - replay_start).days
    if n_days < 1:
        raise ValueError("as_of must be after replay_start")
    d = demand.copy()
    d["date"] = pd.to_datetime(d["date"])
    try:
        keys, prod, category = _replay_series(d, products, replay_start, as_of)
    except ValueError as err:  # nothing to replay: say so, publish nothing, do not fail the run
        log.warning("replay not conclusive: %s", err)
        return ReplayResult(pd.DataFrame(columns=list(PUBLISHED_TABLES["policy_replay"])),
                            {"conclusive": False, "inconclusive_reason": str(err)})
    history = replay_history(d, keys, replay_start, as_of, settings)
    reviews = np.arange(0, n_days, settings.review_days)  # end-of-day offsets from replay_start
    supply = _supply(keys, prod, lead_times, reviews.size, settings)
    start_stock = starting_stock(keys, d, replay_start, stock_position)
    objectives = [settings.objective or "cycle_service"]
    if settings.replay_both_objectives:
        objectives += [o for o in OBJECTIVES if o not in objectives]
    run = _Replay(
        keys=keys, settings=settings, replay_start=replay_start, n_days=n_days,
        frontiers=[(name, obj) for name in planners for obj in objectives],
        reviews=reviews, history=history, supply=supply,
        levels=np.asarray(settings.replay_service_levels, dtype=float),
        buffers=np.asarray(settings.static_buffer_days, dtype=float),
        spread=lot_spread(supply.pack, supply.moq, history.whole)
        if settings.lot_adjustment else None,
        measured=_measured_days(history, supply, reviews, n_days, settings),
    )
    log.info("replay: %d series, %d days, %d reviews, %d policies", len(keys), n_days,
             reviews.size, run.n_policies)
    state = _simulate(run, planners, start_stock, timing)
    rows = summarise_replay(
        n_days, run.labels(), category, supply.cost, state.inv_sum, state.served_sum,
        history.true_demand, state.orders, state.stockout, reviews,
        np.maximum(np.rint(supply.lead_time_mean),
                   np.where(supply.lead_time_mean > 0, 1, 0)).astype(int), settings.review_days,
        state.position_after, run.measured,
    )
    comparisons, headline = compare_with_frontier(rows, supply.cost, objectives[0])
    conclusive, reason = _conclusive(run)
    if headline:
        headline |= {"conclusive": conclusive, "inconclusive_reason": reason}
    if not conclusive:
        log.warning("replay not conclusive: %s", reason)
    timing["total"] = time.perf_counter() - clock
    log.info("replay done in %.1fs (planner %.1fs: %s; policy %.1fs)", timing["total"],
             timing["planner"], ", ".join(f"{n} {timing[f'planner_{n}']:.1f}s"
                                          for n in planners), timing["policy"])
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
    frontiers: list[tuple[str, str]]  # (planner name = policy, objective)
    history: ReplayHistory
    supply: _Supply
    levels: np.ndarray  # replayed service levels ("recommended")
    buffers: np.ndarray  # static buffer days ("static")
    spread: np.ndarray | None  # lot spread (settings.lot_adjustment)
    measured: np.ndarray  # S x n_days: days counted (after the warm-up)

    @property
    def n_policies(self) -> int:
        """Each frontier's levels first (planner-major, then objective), then the static
        buffers."""
        return len(self.frontiers) * self.levels.size + self.buffers.size

    def labels(self) -> list[tuple[str, float, str | None]]:
        """(policy, parameter, objective) of each simulated policy, in array order."""
        out = [(name, float(lv), obj) for name, obj in self.frontiers for lv in self.levels]
        return out + [("static", float(b), None) for b in self.buffers]


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


def _conclusive(run: _Replay) -> tuple[bool, str]:
    """Whether the window holds enough measured days to count, and why not.

    Conclusive: the series' median measured days (after the warm-up) hold at least
    settings.replay_min_cycles protection intervals of the median series (rounded mean lead
    time + review period), and some demand fell on them.
    """
    measured = run.measured.sum(axis=1)
    lead = float(np.median(np.rint(run.supply.lead_time_mean))) if measured.size else 0.0
    interval = lead + run.settings.review_days
    need = run.settings.replay_min_cycles * interval
    have = float(np.median(measured)) if measured.size else 0.0
    if have < need:
        return False, (f"the {run.n_days}-day window measures a median of {have:g} days per "
                       f"series after the warm-up, fewer than {run.settings.replay_min_cycles} "
                       f"protection intervals of {interval:g} days (lead time {lead:g} + review "
                       f"{run.settings.review_days}); lengthen replenish.replay_days or the "
                       "history")
    if float((run.history.true_demand * run.measured).sum()) <= 0:
        return False, "no demand on the measured days"
    return True, ""


@dataclass
class ReplayWindow:
    """The replay's start for a feed's history (:func:`replay_window`)."""

    start: pd.Timestamp
    days: int
    shortened: bool
    note: str


def replay_window(first_date: pd.Timestamp | str, as_of: pd.Timestamp | str,
                  settings: ReplenishSettings) -> ReplayWindow:
    """Where the replay starts: settings.replay_days before as_of, but never before the feed's
    first day + settings.replay_min_history_days (planners and the static rule need that much
    history; a planner given none fails with "no demand rows dated on or before ...").

    With less data than that (fewer than min history + 7 days), half of what there is goes to
    history and half to the window. Whether the resulting window is long enough to count is
    decided by the replay itself (``conclusive``: it depends on the measured series' lead
    times). Rule of thumb for the default 7-day review: 3 cycles need 3 (L + R) + L + 1 days,
    e.g. 50 days at L = 7, so FreshRetailNet's 76 days (90 - 14) give a 48-day window that
    counts at its 1-2 day lead times.
    """
    first = pd.Timestamp(first_date).normalize()
    as_of = pd.Timestamp(as_of).normalize()
    available = (as_of - first).days
    wanted = as_of - pd.Timedelta(days=settings.replay_days)
    history = settings.replay_min_history_days
    if available < history + 7:
        history = max(available // 2, 0)
    start = max(wanted, first + pd.Timedelta(days=history))
    start = min(start, as_of - pd.Timedelta(days=1))
    days = (as_of - start).days
    shortened = start > wanted
    note = (f"replay window shortened to {days} days (from {settings.replay_days}): the data "
            f"start on {first.date()} and the planners need {history} days of history"
            if shortened else "")
    return ReplayWindow(start, days, shortened, note)


def _simulate(run: _Replay, planners: dict[str, Planner], start_stock: np.ndarray,
              timing: dict[str, float]) -> _State:
    """The day loop: each day's sales from the stock on hand, then a review every R days."""
    state = _State.start(start_stock, run.n_policies, run.n_days, run.reviews.size)
    review_days_set = set(run.reviews.tolist())
    for day in range(run.n_days + 1):
        if day > 0:
            _sell(state, run, day - 1)
        if day in review_days_set:
            _review(state, run, planners, day, timing)
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


def _review(state: _State, run: _Replay, planners: dict[str, Planner], day: int,
            timing: dict[str, float]) -> None:
    """A review at the end of ``day``: every policy's levels, then its orders."""
    k = int(np.searchsorted(run.reviews, day))
    t = run.replay_start + pd.Timedelta(days=day)
    n_lv = run.levels.size
    n_rec = len(run.frontiers) * n_lv
    rp, up = np.empty((run.n_policies, len(run.keys))), np.empty((run.n_policies, len(run.keys)))
    for name, planner in planners.items():
        objectives = [obj for n, obj in run.frontiers if n == name]
        levels = _recommended_levels(run, planner, objectives, day, t, timing, name)
        for obj, (r_p, u_p) in zip(objectives, levels, strict=True):
            j = run.frontiers.index((name, obj)) * n_lv
            rp[j:j + n_lv], up[j:j + n_lv] = r_p, u_p
    rp[n_rec:], up[n_rec:] = _static_levels(run, day)
    whole = run.history.whole[None, :]
    if day == 0:
        state.on_hand = np.where(np.isnan(state.on_hand), whole_unit_level(up, whole),
                                 state.on_hand)
    placed = _place_orders(state, run, rp, up, day, k)
    log.info("replay review %d/%d (%s): %d orders", k + 1, run.reviews.size, t.date(), placed)


def _recommended_levels(run: _Replay, planner: Planner, objectives: list[str], day: int,
                        t: pd.Timestamp, timing: dict[str, float], name: str = "recommended"
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
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
                    run.levels, *settings.service_level_bounds)
        pl = policy_levels(cum, supply.lead_time_mean, supply.lead_time_std, targets,
                           settings.review_days, mode, supply.max_stock,
                           settings.order_up_to_review_periods, run.spread,
                           settings.cover_earlier_orders, settings.lost_sales, protection)
        out.append((pl.reorder_point.T, pl.order_up_to.T))
    timing["policy"] += time.perf_counter() - tick
    return out


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


