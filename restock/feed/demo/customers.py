"""Customers of the demo chain: who bought each sale line, and who left after stock-outs.

The demand and the stock of the demo are drawn first and never change here: this module only
says *who* bought the units the stock simulation sold, and which of the regular customers the
simulated stock-outs turned away and drove off. Everything is drawn from its own generator,
``np.random.default_rng([seed, 99])``, so the demand, stock, purchase orders and every other
feed table are the same as without customers (the daily totals of sales per sku, location and
day are identical; only the split of a day's units into customer lines is new).

The mechanism (parameters fixed from the retail literature up front, not tuned to any score)
------------------------------------------------------------------------------------------
Regular customers
    Each selling location (stores and the online shop) has regular customers who together
    want about ``REGULAR_SHARE`` (35%) of its units. A regular has ``2 + Poisson(1)`` regular
    items of that location (drawn in proportion to the items' mean demand, so popular items have
    more regulars), a quantity ``1 + Poisson(0.5)`` per item, and a visit interval drawn
    uniformly from ``INTERVAL_DAYS`` (4..28 days). On each visit they want each regular item with
    probability ``WANT_PROB`` (0.85); the next visit follows after the interval times a
    lognormal jitter (sigma ``INTERVAL_JITTER`` = 0.25).
Their wants are part of the day's demand
    The demo's demand of an item on a day is fixed; the regulars' wants are taken out of it
    (in random order, as long as they fit: a want that does not fit is simply not bought
    that visit), the rest of the units are *occasional* shoppers.
Stock-outs turn customers away
    When the stock simulation sold less than the demand (the shelf ran empty), the day's
    shoppers (regular wants and occasional units) are served in random order until the sold
    units are used up; a regular whose want gets nothing is **turned away: a hit**. (A want cut
    short by the last units is served in part, not a hit.)
Leaving
    At each hit a regular who has not yet decided to leave decides to leave with probability
    ``P_FIRST`` (0.15) at their first hit and ``P_REPEAT`` (0.40) at every later one, so after
    h hits the probability of having decided is ``1 - (1 - 0.15) (1 - 0.40)^(h - 1)``: 15%
    after one, 49% after two, 69% after three ("after two misses a customer often does not
    come back"). Leaving is gradual, as partial defection precedes full defection: after the
    decision the customer's visits come ``FADE_FACTOR`` (2) times less often, and they are gone
    after a lag of ``max(MIN_LAG_DAYS, Exponential(DEPART_LAG_DAYS))`` days (7; mean 28).
    Independently of stock-outs, every regular leaves at a background rate of
    ``BACKGROUND_HAZARD`` (0.0008 per day, about 25% a year: moving away, changing habits),
    at once.
Replacement
    A leaver is replaced by a new regular of the same location with the same regular items
    (the shop's catchment keeps its size; store demand is the demo's and does not change), who
    starts within ``REPLACE_GAP_DAYS`` (0..28) days with a fresh interval.
Occasional shoppers
    Units not taken by regulars are split into lines of ``1 + Geometric`` units (mean
    ``OCCASIONAL_LINE_UNITS`` = 1.6) and given to occasional shoppers drawn uniformly from a
    pool per location sized so each makes about ``OCCASIONAL_LINES_PER_YEAR`` (6) lines a year.
    They do not leave (they are never churners in the truth) and are not tracked for hits.
Orders and returns
    A customer's lines at one location on one day form one order (``order_id``, lines
    ``line_id`` 1, 2, ...). A return row of the demo goes to the customer of the latest line of
    that item at that location before the return (an occasional shopper when there is none),
    as an order of its own.

Truth (``customer_churn.parquet`` beside ``true_demand.parquet``)
-----------------------------------------------------------------
One row per customer id of the sales: ``customer_id``, ``location`` (home location),
``kind`` (regular / occasional), ``first_date`` (first day as a customer), ``churned`` (left
before the end of the history), ``churn_date`` (the day they were gone: no purchase on or after
it; NaT when not churned), ``cause`` (stockout / background / empty), ``decision_date`` (the
hit at which a stock-out leaver decided; NaT otherwise; they may still be buying at the end),
``hits`` (times turned away by a stock-out, over their whole life in the history; a leaver
keeps meeting stock-outs until gone), ``hits_at_decision`` (hits met up to the day of the
decision to leave; 0 when none).

``customer_hits.parquet`` beside it: every true hit (customer_id, sku, location, date), so a
bench can score a hit definition that sees only the feed.
"""

from __future__ import annotations

import numpy as np

REGULAR_SHARE = 0.35
INTERVAL_DAYS = (4, 28)
EXTRA_ITEMS_MEAN = 1.0  # regular items = 2 + Poisson(this)
EXTRA_QTY_MEAN = 0.5  # units per wanted item = 1 + Poisson(this)
WANT_PROB = 0.85
INTERVAL_JITTER = 0.25
P_FIRST = 0.15
P_REPEAT = 0.40
FADE_FACTOR = 2.0
DEPART_LAG_DAYS = 28.0
MIN_LAG_DAYS = 7
BACKGROUND_HAZARD = 0.0008
REPLACE_GAP_DAYS = 28
OCCASIONAL_LINE_UNITS = 1.6
OCCASIONAL_LINES_PER_YEAR = 6.0
STREAM = 99  # the customers' generator is default_rng([seed, STREAM])

TRUTH_COLUMNS = ("customer_id", "location", "kind", "first_date", "churned", "churn_date",
                 "cause", "decision_date", "hits", "hits_at_decision")
_NEVER = np.iinfo(np.int64).max // 4


def leave_probability(hits: int) -> float:
    """Probability that a regular has decided to leave after ``hits`` hits (module docstring)."""
    if hits <= 0:
        return 0.0
    return 1.0 - (1.0 - P_FIRST) * (1.0 - P_REPEAT) ** (hits - 1)


class _Regulars:
    """Regular customers (arrays that grow by doubling) and their item slots (contiguous)."""

    FIELDS = ("loc", "tau", "start", "next", "depart", "decided", "hits", "cause",
              "slot_start", "slot_count", "decision_hits")

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self.n_slots = 0
        self.a = {k: np.zeros(capacity, dtype=np.int64) for k in self.FIELDS}
        self.s = {k: np.zeros(capacity * 4, dtype=np.int64) for k in ("series", "qty")}

    def add(self, loc: int, tau: int, start: int, first_visit: int, depart: int,
            series: np.ndarray, qty: np.ndarray) -> None:
        if self.n == len(self.a["loc"]):
            self.a = {k: np.concatenate([v, np.zeros_like(v)]) for k, v in self.a.items()}
        while self.n_slots + len(series) > len(self.s["series"]):
            self.s = {k: np.concatenate([v, np.zeros_like(v)]) for k, v in self.s.items()}
        i = self.n
        for key, value in (("loc", loc), ("tau", tau), ("start", start), ("next", first_visit),
                           ("depart", depart), ("decided", -1), ("hits", 0), ("cause", 0),
                           ("slot_start", self.n_slots), ("slot_count", len(series)),
                           ("decision_hits", 0)):
            self.a[key][i] = value
        self.s["series"][self.n_slots:self.n_slots + len(series)] = series
        self.s["qty"][self.n_slots:self.n_slots + len(series)] = qty
        self.n_slots += len(series)
        self.n += 1

    def view(self) -> dict:
        """The arrays of the customers so far (views: writes go to the customers)."""
        return {k: v[:self.n] for k, v in self.a.items()}


def simulate_customers(seed: int, series: dict, demand: np.ndarray, sold: np.ndarray,
                       alive: np.ndarray, n_locations: int) -> dict:
    """Regular customers' lines, hits and departures, and the occasional units per series-day.

    ``demand`` and ``sold`` are [series, day] over the history; ``alive`` marks live series-days.
    Returns ``regular`` (arrays series, day, customer, qty of the served regular lines),
    ``occasional`` ([series, day] units left to occasional shoppers), ``customers`` (the
    regulars' arrays), ``pool`` (occasional pool size per location) and the generator.

    Notes
    -----
    Each step below draws from the one generator ``rng``, in a fixed order (initial regulars,
    then day by day: replacements, wants, the serving order of a short day, the decisions to
    leave, the next visits). Keep that order, or the same seed no longer gives the same feed.
    """
    rng = np.random.default_rng([seed, STREAM])
    n_series, n_hist = sold.shape
    demand = np.where(alive, demand, 0)
    mu = demand.sum(axis=1) / np.maximum(alive.sum(axis=1), 1)
    loc_of = series["loc_idx"]
    reg = _initial_regulars(rng, loc_of, mu)
    n_initial = reg.n

    lines: list[tuple[np.ndarray, ...]] = []
    hit_events: list[tuple[np.ndarray, np.ndarray]] = []
    hit_days: list[np.ndarray] = []
    occasional = np.zeros((n_series, n_hist), dtype=np.int64)
    for day in range(n_hist):
        a, s = _replace_leavers(rng, reg, day)
        d_today, s_today = demand[:, day], sold[:, day]
        due = np.flatnonzero((a["next"] == day) & (a["start"] <= day) & (a["depart"] > day))
        if not len(due):
            occasional[:, day] = s_today
            continue
        cust, w_series, w_qty = _fitting_wants(rng, a, s, due, d_today)
        served = _serve(rng, w_series, w_qty, d_today, s_today, n_series)
        reg_sold = np.bincount(w_series, weights=served, minlength=n_series).astype(np.int64)
        occasional[:, day] = s_today - reg_sold
        ok = served > 0
        lines.append((w_series[ok], np.full(int(ok.sum()), day), cust[ok], served[ok]))
        hit_days.append(np.full(int((served == 0).sum()), day))
        turned = cust[served == 0]
        hit_events.append((w_series[served == 0], turned))
        if len(turned):
            _decide_to_leave(rng, a, turned, day)
        _schedule_next_visits(rng, a, due, day)
    a = reg.view()
    a["cause"] = np.where(a["depart"] < n_hist, np.where(a["cause"] == 1, 1, 2), 0)
    parts = [np.concatenate(x) for x in zip(*lines, strict=True)] if lines else \
        [np.zeros(0, dtype=np.int64)] * 4
    empty = [np.zeros(0, np.int64)]
    hits = {"series": np.concatenate([h[0] for h in hit_events] or empty),
            "customer": np.concatenate([h[1] for h in hit_events] or empty),
            "day": np.concatenate(hit_days or empty)}
    return {
        "hits": hits,
        "regular": dict(zip(("series", "day", "customer", "qty"), parts, strict=True)),
        "occasional": occasional,
        "customers": a,
        "n_initial": n_initial,
        "pool": _occasional_pool(occasional, loc_of, n_locations),
        "loc_of_series": loc_of,
        "rng": rng,
    }


def _draw_customer(rng: np.random.Generator, loc: int, start: int, loc_of: np.ndarray,
                   mu: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray, int]:
    """One new regular of ``loc`` from day ``start``: interval, first visit, items, quantities,
    day of background departure.

    Items are drawn in proportion to the items' mean demand ``mu``, so popular items have more
    regulars (module docstring).
    """
    here = np.flatnonzero((loc_of == loc) & (mu > 0))
    k = min(2 + int(rng.poisson(EXTRA_ITEMS_MEAN)), len(here))
    items = rng.choice(here, k, replace=False, p=mu[here] / mu[here].sum())
    qty = 1 + rng.poisson(EXTRA_QTY_MEAN, k)
    tau = int(rng.integers(INTERVAL_DAYS[0], INTERVAL_DAYS[1] + 1))
    first_visit = start + int(rng.integers(0, tau))
    depart = start + int(rng.geometric(BACKGROUND_HAZARD))
    return tau, first_visit, items, qty, depart


def _initial_regulars(rng: np.random.Generator, loc_of: np.ndarray,
                      mu: np.ndarray) -> _Regulars:
    """The regulars present on day 0: at each location, until they want ``REGULAR_SHARE``.

    A regular's expected units per day are ``WANT_PROB * qty / tau``; customers are drawn
    until their sum reaches the share of the location's mean demand, so the regulars' wants
    fit into the demo's fixed demand with room for occasional shoppers.
    """
    reg = _Regulars()
    for loc in np.unique(loc_of):
        target = REGULAR_SHARE * mu[loc_of == loc].sum()
        wanted = 0.0
        while wanted < target:
            tau, first_visit, items, qty, depart = _draw_customer(rng, int(loc), 0, loc_of, mu)
            reg.add(int(loc), tau, 0, first_visit, depart, items, qty)
            wanted += WANT_PROB * qty.sum() / tau
    return reg


def _replace_leavers(rng: np.random.Generator, reg: _Regulars, day: int) -> tuple[dict, dict]:
    """Replace each regular gone on ``day`` by a newcomer with the same items; fresh views.

    The shop's catchment keeps its size: the newcomer starts within ``REPLACE_GAP_DAYS``, with
    an interval and a background departure of their own. Returns ``(reg.view(), reg.s)`` taken
    after the additions, as adding may reallocate the arrays.
    """
    a, s = reg.view(), reg.s
    gone = np.flatnonzero(a["depart"] == day)
    if not len(gone):
        return a, s
    for c in gone:
        start = day + int(rng.integers(0, REPLACE_GAP_DAYS + 1))
        tau = int(rng.integers(INTERVAL_DAYS[0], INTERVAL_DAYS[1] + 1))
        lo, n = a["slot_start"][c], a["slot_count"][c]
        reg.add(int(a["loc"][c]), tau, start, start + int(rng.integers(0, tau)),
                start + int(rng.geometric(BACKGROUND_HAZARD)),
                s["series"][lo:lo + n], s["qty"][lo:lo + n])
    return reg.view(), reg.s


def _fitting_wants(rng: np.random.Generator, a: dict, s: dict, due: np.ndarray,
                   d_today: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The wants of today's visitors ``due`` that fit into the day's demand: (customer, series,
    qty).

    The demo's demand is fixed; each regular item is wanted with probability ``WANT_PROB``
    (never on a day without demand), and the wants are taken out of the demand in random
    order: a want that does not fit is not bought this visit.
    """
    counts = a["slot_count"][due]
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = np.repeat(a["slot_start"][due], counts) + offsets
    cust = np.repeat(due, counts)
    w_series, w_qty = s["series"][slot], s["qty"][slot]
    want = (rng.random(len(slot)) < WANT_PROB) & (d_today[w_series] > 0)
    cust, w_series, w_qty = cust[want], w_series[want], w_qty[want]
    order = np.lexsort((rng.random(len(cust)), w_series))
    cust, w_series, w_qty = cust[order], w_series[order], w_qty[order]
    fit = _group_cumsum(w_qty, w_series) <= d_today[w_series]
    return cust[fit], w_series[fit], w_qty[fit]


def _serve(rng: np.random.Generator, w_series: np.ndarray, w_qty: np.ndarray,
           d_today: np.ndarray, s_today: np.ndarray, n_series: int) -> np.ndarray:
    """Units served to each fitting want: all of it, unless the item stocked out today.

    On a stocked-out day (sold < demand) the regular wants and the occasional units are served
    in random order until the sold units are used up, so who is turned away (served 0: a hit)
    is down to the order of arrival, not to being a regular.
    """
    served = w_qty.copy()
    short = np.flatnonzero(s_today < d_today)
    in_short = np.isin(w_series, short)
    if not in_short.any():
        return served
    taken = np.bincount(w_series, weights=w_qty, minlength=n_series).astype(np.int64)
    idx = np.flatnonzero(in_short)
    occ_units = (d_today - taken)[short]
    item_series = np.concatenate([w_series[idx], np.repeat(short, occ_units)])
    item_size = np.concatenate([w_qty[idx], np.ones(occ_units.sum(), dtype=np.int64)])
    item_reg = np.concatenate([idx, np.full(occ_units.sum(), -1)])
    o = np.lexsort((rng.random(len(item_series)), item_series))
    item_series, item_size, item_reg = item_series[o], item_size[o], item_reg[o]
    before = _group_cumsum(item_size, item_series) - item_size
    got = np.clip(s_today[item_series] - before, 0, item_size)
    is_reg = item_reg >= 0
    served[item_reg[is_reg]] = got[is_reg]
    return served


def _decide_to_leave(rng: np.random.Generator, a: dict, turned: np.ndarray, day: int) -> None:
    """Count today's hits of the customers ``turned`` away; some decide to leave (in place).

    A customer's first hit makes them decide with ``P_FIRST``, every later one with
    ``P_REPEAT``; a leaver's visits fade and they are gone after a lag of at least
    ``MIN_LAG_DAYS``, unless their background departure comes first (then the cause stays
    background).
    """
    who, n = np.unique(turned, return_counts=True)
    first = a["hits"][who] == 0
    stay = np.where(first, 1.0 - P_FIRST, 1.0 - P_REPEAT) * (1.0 - P_REPEAT) ** (n - 1)
    a["hits"][who] += n
    undecided = a["decided"][who] < 0
    leave = (rng.random(len(who)) >= stay) & undecided
    leavers = who[leave]
    if not len(leavers):
        return
    lag = np.maximum(MIN_LAG_DAYS, np.round(rng.exponential(DEPART_LAG_DAYS, len(leavers))))
    new_depart = day + lag.astype(np.int64)
    stockout_first = new_depart < a["depart"][leavers]
    a["decided"][leavers] = day
    a["decision_hits"][leavers] = a["hits"][leavers]
    a["cause"][leavers[stockout_first]] = 1
    a["depart"][leavers] = np.minimum(a["depart"][leavers], new_depart)


def _schedule_next_visits(rng: np.random.Generator, a: dict, due: np.ndarray, day: int) -> None:
    """The next visit of today's visitors ``due`` (in place): the interval times a lognormal
    jitter, ``FADE_FACTOR`` times longer once a customer has decided to leave."""
    stretch = np.where(a["decided"][due] >= 0, FADE_FACTOR, 1.0)
    gap = a["tau"][due] * stretch * np.exp(INTERVAL_JITTER * rng.standard_normal(len(due)))
    a["next"][due] = day + np.maximum(1, np.round(gap)).astype(np.int64)


def _occasional_pool(occasional: np.ndarray, loc_of: np.ndarray,
                     n_locations: int) -> np.ndarray:
    """Occasional shoppers per location: sized so each makes ``OCCASIONAL_LINES_PER_YEAR``
    lines a year (at least 10), from the units left to occasional shoppers."""
    occ_lines_per_day = occasional.sum(axis=1) / OCCASIONAL_LINE_UNITS / occasional.shape[1]
    pool = np.zeros(n_locations, dtype=np.int64)
    for loc in np.unique(loc_of):
        per_day = occ_lines_per_day[loc_of == loc].sum()
        pool[loc] = max(10, int(round(per_day * 365.0 / OCCASIONAL_LINES_PER_YEAR)))
    return pool


def _group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` within runs of equal ``groups`` (sorted by group)."""
    total = np.cumsum(values)
    if not len(values):
        return total
    starts = np.r_[True, groups[1:] != groups[:-1]]
    base = np.where(starts, total - values, 0)
    return total - np.maximum.accumulate(base)
