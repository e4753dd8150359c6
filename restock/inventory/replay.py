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
* (d) Transfers ("recommended_transfers", when ``transfers`` is given; the nightly decides with
  settings.replay_transfers): Restock's frontier played again, same levels, objectives and
  draws, with the nightly's transfer planner run every day (on review days before the orders)
  on the simulated positions of all locations of each item; transfers leave the source at once
  and arrive after the lane's lead time (:mod:`restock.inventory.replay_transfers`). Compared with
  Restock's frontier at the same average inventory like a baseline planner, plus what
  transfers add (``transfers_stockout_cut``, ``transfers_lost_units_cut``).
* Objectives: every frontier is played under settings.objective; with
  settings.replay_both_objectives also under the other one (column ``objective``). Under
  fill_rate the exchange curve allocates per-item fill rates on units lost
  (restock.inventory.levels.allocate_fill_rates) and each replayed level is the overall
  (demand-weighted) fill-rate target.
* Conclusive or not: the replay counts when the measured series' median measured days hold at
  least settings.replay_min_cycles protection intervals (median lead time + review); else the
  headline and the comparison rows say ``conclusive = False`` and why, and a warning is logged
  (lead times of months in a short window). :func:`replay_window` picks a window that fits the
  data: settings.replay_days, longer when the median lead time needs it to count and a year
  for weekly or monthly feeds, but never before the feed's first day +
  settings.replay_min_history_days.

Modules: this one holds the entry point (:func:`replay_policies`) and the headline;
:mod:`restock.inventory.replay_setup` the fixed terms (series, supply, warm-up, window),
:mod:`restock.inventory.replay_loop` the day loop, :mod:`restock.inventory.replay_planner` the
reference planner, :mod:`restock.inventory.replay_history` the demand and starting stock, and
:mod:`restock.inventory.replay_measures` the measures and the headline comparison.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from restock.contract import PUBLISHED_TABLES
from restock.forecasting.final import PlanInputs
from restock.inventory.levels import lot_spread
from restock.inventory.replay_history import replay_history, starting_stock
from restock.inventory.replay_loop import deliveries_in_order, simulate
from restock.inventory.replay_measures import compare_with_frontier, summarise_replay
from restock.inventory.replay_planner import DEFAULT_LEVELS, Planner, make_reference_planner
from restock.inventory.replay_setup import (
    ReplayRun,
    ReplayWindow,
    TransferReplay,
    measured_days,
    replay_series,
    replay_window,
    supply_terms,
    window_conclusive,
)
from restock.inventory.replay_state import ReplayState
from restock.inventory.replay_transfers import transfer_series
from restock.inventory.settings import OBJECTIVES, ReplenishSettings

# Names kept importable from here (callers and tests import them from restock.inventory.replay).
__all__ = [
    "DEFAULT_LEVELS", "PlanInputs", "Planner", "ReplayResult", "ReplayWindow", "TransferReplay",
    "deliveries_in_order", "headline_text", "make_reference_planner", "replay_policies",
    "replay_window",
]

log = logging.getLogger("restock.inventory")


@dataclass
class ReplayResult:
    """policy_replay rows and the headline comparison."""

    rows: pd.DataFrame
    headline: dict[str, Any]
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict[str, float] = field(default_factory=dict)
    # units per policy and series over the whole window (ReplayState.ledger) and every
    # transfer of the transfer policy (replay_state.TRANSFER_LOG_COLUMNS + policy, parameter,
    # objective)
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    transfers: pd.DataFrame = field(default_factory=pd.DataFrame)

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
    transfers: TransferReplay | None = None,
) -> ReplayResult:
    """Replay Restock's policy and the static rule over [replay_start + 1, as_of].

    Steps (the setup in :mod:`restock.inventory.replay_setup`, the day loop in
    :mod:`restock.inventory.replay_loop`): the series replayed (``replay_series``), their
    demand history (:mod:`restock.inventory.replay_history`), supply terms and lead-time draws
    (``supply_terms``), the warm-up days not counted (``measured_days``), the day loop
    (``simulate``: sales every day, ``review`` every R days), then the measures and the
    headline (:mod:`restock.inventory.replay_measures`).

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
    transfers : TransferReplay, optional
        Lanes and settings (restock.inventory.replay_transfers.replay_transfer_terms): also
        play Restock's frontier with transfers between locations before each review's orders
        (policy ``recommended_transfers``, same levels and objectives as "recommended", which
        must be among the planners).

    Returns
    -------
    ReplayResult
        ``rows``: policy, parameter, category, avg_inventory_units, avg_inventory_value,
        stockout_rate, fill_rate, orders, achieved_cycle_service_level, protected_cycle_share,
        target, n_series, demand_units, lost_units, objective, units_transferred.
        ``headline``: dict (see module docstring; ``conclusive`` and ``inconclusive_reason``
        say whether the window counts); ``comparisons``: every static parameter (and baseline
        or transfer frontier point) against the frontier; ``seconds``: timings; ``ledger``
        and ``transfers``: units per policy and series, and every transfer shipped.
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
        keys, prod, category = replay_series(d, products, replay_start, as_of)
    except ValueError as err:  # nothing to replay: say so, publish nothing, do not fail the run
        log.warning("replay not conclusive: %s", err)
        return ReplayResult(pd.DataFrame(columns=list(PUBLISHED_TABLES["policy_replay"])),
                            {"conclusive": False, "inconclusive_reason": str(err)})
    history = replay_history(d, keys, replay_start, as_of, settings)
    reviews = np.arange(0, n_days, settings.review_days)  # end-of-day offsets from replay_start
    supply = supply_terms(keys, prod, lead_times, reviews.size, settings)
    start_stock = starting_stock(keys, d, replay_start, stock_position)
    objectives = [settings.objective or "cycle_service"]
    if settings.replay_both_objectives:
        objectives += [o for o in OBJECTIVES if o not in objectives]
    run = ReplayRun(
        keys=keys, settings=settings, replay_start=replay_start, n_days=n_days,
        frontiers=[(name, obj) for name in planners for obj in objectives],
        reviews=reviews, history=history, supply=supply,
        levels=np.asarray(settings.replay_service_levels, dtype=float),
        buffers=np.asarray(settings.static_buffer_days, dtype=float),
        spread=lot_spread(supply.pack, supply.moq, history.whole)
        if settings.lot_adjustment else None,
        measured=measured_days(history, supply, reviews, n_days, settings),
    )
    if transfers is not None and "recommended" in planners:
        run.transfers, run.transfer_objectives = transfers, list(objectives)
        run.transfer_series = transfer_series(keys, transfers.lanes)
        log.info("replay with transfers: %s", transfers.reason)
    elif transfers is not None:
        log.warning("replay without transfers: no 'recommended' planner to play them with")
    log.info("replay: %d series, %d days, %d reviews, %d policies", len(keys), n_days,
             reviews.size, run.n_policies)
    state = simulate(run, planners, start_stock, timing)
    result = _result(run, state, category, objectives[0], timing)
    timing["total"] = time.perf_counter() - clock
    log.info("replay done in %.1fs (planner %.1fs: %s; policy %.1fs%s)", timing["total"],
             timing["planner"], ", ".join(f"{n} {timing[f'planner_{n}']:.1f}s"
                                          for n in planners), timing["policy"],
             f"; transfers {timing['transfers']:.1f}s" if run.transfer_objectives else "")
    return result


def _result(run: ReplayRun, state: ReplayState, category: np.ndarray, objective: str,
            timing: dict[str, float]) -> ReplayResult:
    """The measures, comparisons, headline, ledger and transfer log of a played replay."""
    supply, history = run.supply, run.history
    labels = run.labels()
    rows = summarise_replay(
        run.n_days, labels, category, supply.cost, state.inv_sum, state.served_sum,
        history.true_demand, state.orders, state.stockout, run.reviews,
        np.maximum(np.rint(supply.lead_time_mean),
                   np.where(supply.lead_time_mean > 0, 1, 0)).astype(int),
        run.settings.review_days, state.position_after, run.measured,
        transferred=state.transfer_out,
    )
    comparisons, headline = compare_with_frontier(rows, supply.cost, objective)
    conclusive, reason = window_conclusive(run)
    if headline:
        headline |= {"conclusive": conclusive, "inconclusive_reason": reason}
    if not conclusive:
        log.warning("replay not conclusive: %s", reason)
    moved = state.transfers()
    label = pd.DataFrame(labels, columns=["policy", "parameter", "objective"])
    moved = label.iloc[moved["policy_row"].to_numpy(dtype=int)].reset_index(drop=True) \
        .join(moved.reset_index(drop=True))
    ledger = state.ledger(labels, run.keys, history.true_demand.sum(axis=1))
    return ReplayResult(rows, headline, comparisons, timing, ledger, moved)
