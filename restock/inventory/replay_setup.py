"""What stays fixed through the policy replay's day loop: the series, their supply terms and
lead-time draws, the policies and their order in the arrays, the transfer lanes, the days
counted, whether the window counts, and the window itself.

The method is in :mod:`restock.inventory.replay`'s docstring; the day loop that plays these is
:mod:`restock.inventory.replay_loop`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.inventory.distributions import KEYS, resolve_lead_times
from restock.inventory.replay_history import ReplayHistory
from restock.inventory.settings import ReplenishSettings
from restock.inventory.transfers import TransferSettings

log = logging.getLogger("restock.inventory")

#: policy value of Restock's policy with transfers between locations before each review's orders
TRANSFER_POLICY = "recommended_transfers"


@dataclass
class Supply:
    """Supply terms of the replayed series and the lead time of each (series, review)."""

    lead_time_mean: np.ndarray
    lead_time_std: np.ndarray
    pack: np.ndarray
    moq: np.ndarray
    max_stock: np.ndarray
    cost: np.ndarray
    lead_days: np.ndarray  # S x reviews, whole days >= 1 (>= 0 for same-day supply)


@dataclass
class TransferReplay:
    """The transfer policy's terms (:mod:`restock.inventory.replay_transfers`).

    ``lanes``: resolved transfer lanes (from_location, to_location, lead_time_days,
    cost_per_unit; restock.inventory.transfers.resolve_lanes); ``settings``: the transfer
    planner's settings; ``reason``: why the policy is played (logged).
    """

    lanes: pd.DataFrame
    settings: TransferSettings
    reason: str = ""


@dataclass
class ReplayRun:
    """What stays fixed through the day loop."""

    keys: pd.DataFrame
    settings: ReplenishSettings
    replay_start: pd.Timestamp
    n_days: int
    reviews: np.ndarray  # end-of-day offsets from replay_start
    frontiers: list[tuple[str, str]]  # (planner name = policy, objective)
    history: ReplayHistory
    supply: Supply
    levels: np.ndarray  # replayed service levels ("recommended")
    buffers: np.ndarray  # static buffer days ("static")
    spread: np.ndarray | None  # lot spread (settings.lot_adjustment)
    measured: np.ndarray  # S x n_days: days counted (after the warm-up)
    # Restock's frontier played again with transfers (TRANSFER_POLICY), per objective: the
    # "recommended" planner's levels, transfers over ``transfers.lanes`` between
    # ``transfer_series`` (indexes of the series that can give or take) before the orders.
    transfer_objectives: list[str] = field(default_factory=list)
    transfers: TransferReplay | None = None
    transfer_series: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n_planner_policies(self) -> int:
        """Rows of the planners' frontiers (the first rows of the arrays)."""
        return len(self.frontiers) * self.levels.size

    @property
    def n_policies(self) -> int:
        """Each frontier's levels first (planner-major, then objective), then the transfer
        frontiers (per objective), then the static buffers."""
        return (self.n_planner_policies + len(self.transfer_objectives) * self.levels.size
                + self.buffers.size)

    def transfer_rows(self, objective: str) -> slice:
        """The array rows of the transfer frontier of ``objective`` (one per level)."""
        i = self.transfer_objectives.index(objective)
        start = self.n_planner_policies + i * self.levels.size
        return slice(start, start + self.levels.size)

    def labels(self) -> list[tuple[str, float, str | None]]:
        """(policy, parameter, objective) of each simulated policy, in array order."""
        out = [(name, float(lv), obj) for name, obj in self.frontiers for lv in self.levels]
        out += [(TRANSFER_POLICY, float(lv), obj) for obj in self.transfer_objectives
                for lv in self.levels]
        return out + [("static", float(b), None) for b in self.buffers]


def replay_series(d: pd.DataFrame, products: pd.DataFrame, replay_start: pd.Timestamp,
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


def supply_terms(keys: pd.DataFrame, prod: pd.DataFrame, lead_times: pd.DataFrame | None,
                 n_reviews: int, settings: ReplenishSettings) -> Supply:
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
    return Supply(
        lead_time_mean=lt_mean,
        lead_time_std=lt_std,
        pack=np.maximum(_column(p, keys, "pack_size", 1.0), 1.0),
        moq=np.maximum(_column(p, keys, "moq", 1.0), 1.0),
        max_stock=_column(p, keys, "max_stock", np.nan),
        cost=_column(p, keys, "unit_cost", np.nan),
        # lead time 0 = same-day supply: the order arrives at the end of the review day
        lead_days=np.maximum(np.rint(draws), np.where(lt_mean > 0, 1, 0)[:, None]).astype(int),
    )


def measured_days(history: ReplayHistory, supply: Supply, reviews: np.ndarray, n_days: int,
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


def window_conclusive(run: ReplayRun) -> tuple[bool, str]:
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


#: The shortest replay at a feed's grain: a year of weekly or monthly periods (52 weekly
#: reviews; a spare part selling a few times a year shows little in 13 weeks).
GRAIN_MIN_REPLAY_DAYS = {"day": 0, "week": 364, "month": 365}


def replay_days_wanted(settings: ReplenishSettings, lead_time_days: float = 0.0,
                       grain: str = "day") -> int:
    """Days the replay wants before as_of: ``settings.replay_days``, raised to hold the median
    series' warm-up (lead time + 1) plus ``settings.replay_min_cycles`` protection intervals
    (lead time + review: what :func:`window_conclusive` asks) and, for weekly or monthly feeds,
    to a year (``GRAIN_MIN_REPLAY_DAYS``). MAN spare parts (7-week lead times, weekly): 364
    days instead of 91, where 91 could not count one protection interval past the warm-up."""
    lead = max(float(np.nan_to_num(lead_time_days)), 0.0)
    cycles = settings.replay_min_cycles * (round(lead) + settings.review_days) + round(lead) + 1
    return int(max(settings.replay_days, cycles, GRAIN_MIN_REPLAY_DAYS.get(grain, 0)))


def replay_window(first_date: pd.Timestamp | str, as_of: pd.Timestamp | str,
                  settings: ReplenishSettings, lead_time_days: float = 0.0,
                  grain: str = "day") -> ReplayWindow:
    """Where the replay starts: :func:`replay_days_wanted` before as_of (``lead_time_days``: the
    median series' mean lead time; ``grain``: the feed's), but never before the feed's first day
    + settings.replay_min_history_days (planners and the static rule need that much history; a
    planner given none fails with "no demand rows dated on or before ...").

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
    wanted_days = replay_days_wanted(settings, lead_time_days, grain)
    wanted = as_of - pd.Timedelta(days=wanted_days)
    history = settings.replay_min_history_days
    if available < history + 7:
        history = max(available // 2, 0)
    start = max(wanted, first + pd.Timedelta(days=history))
    start = min(start, as_of - pd.Timedelta(days=1))
    days = (as_of - start).days
    shortened = start > wanted
    note = (f"replay window shortened to {days} days (from {wanted_days}): the data "
            f"start on {first.date()} and the planners need {history} days of history"
            if shortened else "")
    return ReplayWindow(start, days, shortened, note)


def _column(p: pd.DataFrame, keys: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in p:
        return np.full(len(keys), default)
    return pd.to_numeric(keys["sku"].map(p[name]), errors="coerce").fillna(default) \
        .to_numpy(dtype=float)


