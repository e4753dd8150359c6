"""A deterministic synthetic retail chain written as a contract feed, plus its true demand.

The demo chain has four categories (FRESH, GROCERY, HOUSEHOLD, TOYS), eight suppliers with
lead times from 2 to 21 days, five stores, an online shop (``WEB``) and a distribution centre,
and uses every table of the feed contract. Demand is count data (negative binomial around a
mean) with weekly and yearly seasonality, trends, promotions, US holidays and retail events,
temperature-sensitive subcategories, fast, slow and lumpy movers, items launched late (cold
start) and a few discontinued items. Stock is simulated day by day with a deliberately naive
static (s, S) policy and gamma-distributed supplier lead times, so sales are censored by
stockouts on a few percent of the days, exactly the situation a replenishment pipeline must see
through. The uncensored demand is written outside the feed, for tests and evaluation only.

Everything is drawn from one ``numpy.random.Generator`` in a fixed order: the same arguments give
byte-identical files.

Conventions of the demo feed: ``promotions.discount_pct`` is a percentage (20 = 20% off; 10..40
here); a promotion lifts mean demand by ``exp(beta * discount)`` with beta in 2..4 per SKU.
Returns are extra sales rows with negative quantity and are not put back on the shelf. Sales
are lost (not backordered) when stock runs out; ``inventory.on_hand`` is the closing stock and
``on_order`` the units ordered and not yet received (cancelled orders leave it 3 days after
ordering). The static policy sizes its reorder point from the series' average
non-promotional demand over the whole history (a planner's one-off setting), so it is too
low in seasonal peaks and promotions and too high in troughs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from restock.importers.common import prepare_feed_dir, write_csv, write_parquet

log = logging.getLogger("restock.feed.demo")

FUTURE_DAYS = 28  # promotions, drivers and events are known this far ahead of end_date


@dataclass(frozen=True)
class _Category:
    prefix: str
    share: float  # share of the SKUs
    subcategories: tuple[str, ...]
    mover_mix: tuple[float, float, float, float]  # fast, medium, slow, lumpy
    price_range: tuple[float, float]
    yearly_amplitude: float
    yearly_peak_doy: int
    suppliers: tuple[tuple[str, int, float], ...]  # name, nominal lead time days, lead time CV


CATEGORIES: dict[str, _Category] = {
    "FRESH": _Category(
        "FRS", 0.25, ("DAIRY", "PRODUCE", "BAKERY", "ICE_CREAM"), (0.45, 0.35, 0.15, 0.05),
        (0.8, 9.0), 0.10, 200, (("FRESHFARM", 2, 0.30), ("DAILYDAIRY", 3, 0.35)),
    ),
    "GROCERY": _Category(
        "GRC", 0.35, ("PANTRY", "SNACKS", "DRINKS"), (0.30, 0.40, 0.20, 0.10),
        (1.0, 14.0), 0.06, 350, (("PANTRYCO", 5, 0.30), ("BEVWORKS", 7, 0.40)),
    ),
    "HOUSEHOLD": _Category(
        "HHD", 0.22, ("CLEANING", "KITCHEN", "GARDEN"), (0.15, 0.35, 0.30, 0.20),
        (3.0, 45.0), 0.15, 120, (("CLEANPRO", 10, 0.30), ("HOMEGOODS", 14, 0.45)),
    ),
    "TOYS": _Category(
        "TOY", 0.18, ("GAMES", "PLUSH", "OUTDOOR"), (0.05, 0.25, 0.40, 0.30),
        (5.0, 60.0), 0.10, 340, (("PLAYTIME", 18, 0.35), ("FUNFACTORY", 21, 0.45)),
    ),
}

# location, name, region, type, timezone, demand factor, mean temperature, temperature swing
LOCATIONS: tuple[tuple[str, str, str, str, str, float, float, float], ...] = (
    ("S01", "Boston Back Bay", "NORTHEAST", "store", "America/New_York", 1.30, 10.5, 12.0),
    ("S02", "Chicago Loop", "MIDWEST", "store", "America/Chicago", 1.00, 10.0, 14.0),
    ("S03", "Atlanta Midtown", "SOUTHEAST", "store", "America/New_York", 0.80, 17.0, 9.0),
    ("S04", "Denver Highlands", "MOUNTAIN", "store", "America/Denver", 0.60, 10.5, 11.0),
    ("S05", "San Diego Bay", "WEST", "store", "America/Los_Angeles", 1.10, 18.0, 4.0),
    ("WEB", "Online shop", "NATIONAL", "online", "America/New_York", 0.90, 0.0, 0.0),
    ("DC1", "Columbus distribution centre", "MIDWEST", "dc", "America/New_York", 0.0, 11.5, 12.0),
)

# mean daily demand (median of a lognormal, its sigma) and NB dispersion k per mover class;
# small k = lumpy (var = mu + mu^2 / k)
_MOVERS = {
    "fast": (12.0, 0.6, 6.0),
    "medium": (2.5, 0.5, 3.0),
    "slow": (0.6, 0.4, 1.5),
    "lumpy": (0.15, 0.5, 0.25),
}
_MOVER_NAMES = tuple(_MOVERS)
# promotions per SKU per year by mover class
_PROMO_RATE = {"fast": 3.0, "medium": 2.5, "slow": 1.2, "lumpy": 0.5}
# days of demand an order covers (the "Q" of the naive policy), by mover class
_COVER_DAYS = {"fast": 10.0, "medium": 14.0, "slow": 28.0, "lumpy": 42.0}
_TEMPERATURE_SENSITIVITY = {"ICE_CREAM": 0.05, "DRINKS": 0.035, "GARDEN": 0.02, "OUTDOOR": 0.02}

# Mon..Sun weekly profiles: stores peak on the weekend, the online shop early in the week
_WEEKLY = {
    "store": np.array([0.85, 0.85, 0.90, 0.95, 1.10, 1.35, 1.05]),
    "online": np.array([1.15, 1.10, 1.05, 1.00, 0.95, 0.85, 0.90]),
}
_WEEKLY_CATEGORY_TILT = {  # extra weekend weight: fresh food and toys are weekend shops
    "FRESH": 0.10, "GROCERY": 0.0, "HOUSEHOLD": -0.05, "TOYS": 0.15,
}


def default_truth_path(out: Path) -> Path:
    """Where the true demand of a demo feed in ``out`` goes: beside the feed, never inside."""
    out = Path(out)
    return out.parent / f"{out.name}_truth" / "true_demand.parquet"


def generate_demo_feed(
    out: Path,
    seed: int = 7,
    n_skus: int = 320,
    end_date: str = "2024-06-30",
    years: int = 3,
    truth_path: Path | None = None,
) -> dict:
    """Write a synthetic retail chain as a contract feed into ``out``.

    Parameters
    ----------
    out : Path
        Feed directory to (re)write: products, locations, promotions, drivers, events and
        purchase_orders as CSV; sales and inventory as Parquet.
    seed : int
        Seed of the only random generator: the same arguments give byte-identical files.
    n_skus : int
        Number of SKUs (>= 8, so every category and the cold-start and inactive items exist).
    end_date : str
        Last day of history (ISO date); promotions, drivers and events run 28 days beyond.
    years : int
        Years of daily history ending at ``end_date``.
    truth_path : Path, optional
        Parquet file for the uncensored demand (date, sku, location, demand, expected_demand).
        Default ``out.parent / f"{out.name}_truth" / "true_demand.parquet"``. The demand of the
        28 days after ``end_date`` goes beside it as ``true_demand_future.parquet``.

    Returns
    -------
    dict
        ``tables`` (table -> rows), ``series``, ``stockout_share`` (share of series-days that
        close with zero stock), ``lost_sales_share`` (share of series-days with unmet demand),
        ``truth_path``, ``truth_future_path``, ``seconds``.
    """
    started = time.perf_counter()
    if n_skus < 8:
        raise ValueError(f"n_skus must be >= 8 for a complete demo chain, got {n_skus}")
    if years < 1:
        raise ValueError(f"years must be >= 1, got {years}")
    out = Path(out)
    truth = Path(truth_path) if truth_path is not None else default_truth_path(out)
    if _is_within(truth, out):
        raise ValueError(f"truth_path {truth} must lie outside the feed directory {out}")
    end = pd.Timestamp(end_date)
    start = end - pd.DateOffset(years=years) + pd.Timedelta(days=1)
    history = pd.date_range(start, end, freq="D")
    calendar = pd.date_range(start, end + pd.Timedelta(days=FUTURE_DAYS), freq="D")
    n_hist = len(history)
    rng = np.random.default_rng(seed)

    products, sku_info = _draw_products(rng, n_skus, n_hist)
    series = _draw_assortment(rng, sku_info)
    temperature = _draw_temperature(rng, calendar)
    events, holiday_lift = _calendar_effects(calendar)
    promotions, discount = _draw_promotions(rng, sku_info, series, calendar, n_hist)
    expected = _expected_demand(
        rng, sku_info, series, calendar, temperature, holiday_lift, discount
    )
    k = sku_info["k"][series["sku_idx"]][:, None]
    demand = rng.negative_binomial(k, k / (k + expected)).astype(np.int64)
    log.info("drew demand for %d series over %d days", len(series["sku_idx"]), len(calendar))

    sim = _simulate_inventory(rng, sku_info, series, expected, demand, discount, n_hist)
    products = _finish_products(products, sku_info, series, sim)

    feed = prepare_feed_dir(out)
    sku_codes = sku_info["sku"][series["sku_idx"]]
    loc_codes = np.array([loc[0] for loc in LOCATIONS])[series["loc_idx"]]
    sales = _sales_table(rng, sku_info, series, sim, discount, history, sku_codes, loc_codes)
    inventory = _inventory_table(series, sim, history, sku_codes, loc_codes)
    purchase_orders = _purchase_order_table(sim, history, sku_codes, loc_codes)
    locations = pd.DataFrame(
        [loc[:5] for loc in LOCATIONS], columns=["location", "name", "region", "type", "timezone"]
    )
    drivers = _drivers_table(temperature, calendar)

    rows = {
        "products": write_csv(products, feed, "products"),
        "locations": write_csv(locations, feed, "locations"),
        "sales": write_parquet(sales, feed, "sales"),
        "inventory": write_parquet(inventory, feed, "inventory"),
        "purchase_orders": write_csv(purchase_orders, feed, "purchase_orders"),
        "promotions": write_csv(promotions, feed, "promotions"),
        "drivers": write_csv(drivers, feed, "drivers"),
        "events": write_csv(events, feed, "events"),
    }
    truth_future = _write_truth(truth, series, sim, demand, expected, calendar, n_hist,
                                sku_codes, loc_codes)
    active_days = sim["active"][:, :n_hist]
    summary = {
        "tables": rows,
        "series": int(len(series["sku_idx"])),
        "stockout_share": float(
            (sim["on_hand"][:, :n_hist] == 0)[active_days].mean()
        ),
        "lost_sales_share": float(
            (sim["sold"][:, :n_hist] < demand[:, :n_hist])[active_days].mean()
        ),
        "truth_path": str(truth),
        "truth_future_path": str(truth_future),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("demo feed in %s: %s", out, summary)
    return summary


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _draw_products(rng: np.random.Generator, n_skus: int, n_hist: int) -> tuple[pd.DataFrame, dict]:
    """SKU attributes: category, supplier, mover class, price, pack, lifecycle."""
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[c].share for c in names])
    counts = np.maximum(1, np.floor(shares * n_skus).astype(int))
    counts[1] += n_skus - counts.sum()  # remainder to GROCERY, the largest
    cat_idx = np.repeat(np.arange(len(names)), counts)

    sku, subcat, supplier, lead, lead_cv, mover = [], [], [], [], [], []
    for i, c in enumerate(cat_idx):
        spec = CATEGORIES[names[c]]
        sku.append(f"{spec.prefix}-{i + 1:04d}")
        subcat.append(spec.subcategories[rng.integers(len(spec.subcategories))])
        sup = spec.suppliers[rng.integers(len(spec.suppliers))]
        supplier.append(sup[0])
        lead.append(sup[1])
        lead_cv.append(sup[2])
        mover.append(_MOVER_NAMES[rng.choice(4, p=np.array(spec.mover_mix))])
    mover_arr = np.array(mover)
    median = np.array([_MOVERS[m][0] for m in mover])
    sigma = np.array([_MOVERS[m][1] for m in mover])
    base = median * np.exp(sigma * rng.standard_normal(n_skus))
    k = np.array([_MOVERS[m][2] for m in mover])
    trend = np.clip(rng.normal(0.0, 0.12, n_skus), -0.3, 0.3)  # log growth per year

    lo = np.array([CATEGORIES[names[c]].price_range[0] for c in cat_idx])
    hi = np.array([CATEGORIES[names[c]].price_range[1] for c in cat_idx])
    price = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    price = np.maximum(np.round(price) - 0.01, 0.49)  # shelf prices end in .99
    cost = np.round(price * rng.uniform(0.50, 0.75, n_skus), 2)

    packs = np.where(
        np.isin(mover_arr, ["fast", "medium"]) & np.isin(cat_idx, [0, 1]),
        rng.choice([6, 12, 24], n_skus),
        rng.choice([1, 1, 2, 4], n_skus),
    )
    packs = np.where(mover_arr == "lumpy", 1, packs)
    moq = packs * rng.choice([1, 1, 2], n_skus)

    # lifecycle: cold starts in the last ~40 days, some mid-history launches, a few delisted
    launch = np.zeros(n_skus, dtype=np.int64)
    stop = np.full(n_skus, n_hist + FUTURE_DAYS, dtype=np.int64)
    order = rng.permutation(n_skus)
    n_cold = max(2, round(0.03 * n_skus))
    n_mid = max(1, round(0.05 * n_skus))
    n_off = max(2, round(0.01 * n_skus))
    cold, mid, off = (order[:n_cold], order[n_cold:n_cold + n_mid],
                      order[n_cold + n_mid:n_cold + n_mid + n_off])
    launch[cold] = rng.integers(n_hist - 40, n_hist - 9, len(cold))
    launch[mid] = rng.integers(min(90, n_hist // 4), max(n_hist - 200, n_hist // 2), len(mid))
    stop[off] = rng.integers(n_hist - 200, n_hist - 59, len(off))
    active = stop > n_hist

    # a few SKUs state their own service level, a few carry a shelf capacity (max_stock)
    service_level = np.full(n_skus, np.nan)
    explicit = rng.choice(n_skus, max(2, round(0.06 * n_skus)), replace=False)
    service_level[explicit] = rng.choice([0.90, 0.95, 0.98, 0.99], len(explicit))
    max_stock_flag = np.zeros(n_skus, dtype=bool)
    max_stock_flag[rng.choice(n_skus, max(2, round(0.05 * n_skus)), replace=False)] = True
    # a stated lead time spread for ~60% of SKUs; the rest leave it to the purchase orders
    lead_std = np.where(
        rng.random(n_skus) < 0.6, np.round(np.array(lead) * np.array(lead_cv), 1), np.nan
    )
    info = {
        "sku": np.array(sku),
        "cat_idx": cat_idx,
        "category": np.array([names[c] for c in cat_idx]),
        "subcategory": np.array(subcat),
        "mover": mover_arr,
        "base": base,
        "k": k,
        "trend": trend,
        "price": price,
        "lead": np.array(lead, dtype=float),
        "lead_cv": np.array(lead_cv),
        "pack": packs.astype(np.int64),
        "moq": moq.astype(np.int64),
        "launch": launch,
        "stop": stop,
        "promo_beta": rng.uniform(2.0, 4.0, n_skus),  # lift = exp(beta * discount)
        "max_stock_flag": max_stock_flag,
    }
    products = pd.DataFrame(
        {
            "sku": info["sku"],
            "name": [f"{s.title().replace('_', ' ')} item {i + 1}" for i, s in enumerate(subcat)],
            "category": info["category"],
            "subcategory": info["subcategory"],
            "supplier": supplier,
            "lead_time_days": np.array(lead, dtype=np.int64),
            "lead_time_std_days": lead_std,
            "unit_cost": cost,
            "unit_price": price,
            "moq": info["moq"],
            "pack_size": info["pack"],
            "max_stock": np.nan,
            "service_level": service_level,
            "active": np.where(active, "true", "false"),
        }
    )
    return products, info


def _draw_assortment(rng: np.random.Generator, sku_info: dict) -> dict:
    """Which SKU is sold where: ~62% of stores, fewer fresh items online."""
    n_skus = len(sku_info["sku"])
    selling = [i for i, loc in enumerate(LOCATIONS) if loc[3] in ("store", "online")]
    listed = np.zeros((n_skus, len(selling)), dtype=bool)
    for j, li in enumerate(selling):
        online = LOCATIONS[li][3] == "online"
        p = np.where(sku_info["category"] == "FRESH", 0.25, 0.55) if online else 0.62
        listed[:, j] = rng.random(n_skus) < p
    nowhere = ~listed.any(axis=1)
    listed[nowhere, rng.integers(0, len(selling) - 1, int(nowhere.sum()))] = True
    sku_idx, col = np.nonzero(listed)
    loc_idx = np.array(selling)[col]
    n_series = len(sku_idx)
    return {
        "sku_idx": sku_idx,
        "loc_idx": loc_idx,
        "online": np.array([LOCATIONS[li][3] == "online" for li in loc_idx]),
        # each store sells at its own level, with some item-store noise
        "factor": np.array([LOCATIONS[li][5] for li in loc_idx])
        * np.exp(0.15 * rng.standard_normal(n_series)),
    }


def _draw_temperature(rng: np.random.Generator, calendar: pd.DatetimeIndex) -> np.ndarray:
    """Daily mean temperature (deg C) per location: climate + season + AR(1) weather."""
    doy = calendar.dayofyear.to_numpy()
    season = np.cos(2 * np.pi * (doy - 200) / 365.25)
    temp = np.zeros((len(LOCATIONS), len(calendar)))
    for i, loc in enumerate(LOCATIONS):
        noise = rng.standard_normal(len(calendar)) * 2.5
        weather = np.zeros(len(calendar))
        for d in range(1, len(calendar)):
            weather[d] = 0.7 * weather[d - 1] + noise[d]
        temp[i] = loc[6] + loc[7] * season + weather
    stores = [i for i, loc in enumerate(LOCATIONS) if loc[3] == "store"]
    web = [i for i, loc in enumerate(LOCATIONS) if loc[3] == "online"]
    temp[web] = temp[stores].mean(axis=0)  # the online shop sells nationwide
    return np.round(temp, 1)


def _super_bowl(year: int) -> pd.Timestamp:
    """First Sunday of February until 2021, second Sunday since 2022."""
    first = pd.Timestamp(year=year, month=2, day=1)
    first_sunday = first + pd.Timedelta(days=(6 - first.dayofweek) % 7)
    return first_sunday + pd.Timedelta(days=7 if year >= 2022 else 0)


def _calendar_effects(calendar: pd.DatetimeIndex) -> tuple[pd.DataFrame, np.ndarray]:
    """Events table rows and demand multipliers [category, store/online, day]."""
    names = list(CATEGORIES)
    lift = np.ones((len(names), 2, len(calendar)))
    index = {d: i for i, d in enumerate(calendar)}
    food = [names.index("FRESH"), names.index("GROCERY")]
    gifts = [names.index("TOYS"), names.index("HOUSEHOLD")]
    rows: list[tuple[pd.Timestamp, str | None, str, str]] = []

    def effect(day: pd.Timestamp, store: float, online: float, cats: list[int] | None = None):
        if day in index:
            cs = range(len(names)) if cats is None else cats
            for c in cs:
                lift[c, 0, index[day]] *= store
                lift[c, 1, index[day]] *= online

    us = holidays.US(years=range(calendar[0].year, calendar[-1].year + 1))
    for day, name in sorted(us.items()):
        day = pd.Timestamp(day)
        if calendar[0] <= day <= calendar[-1]:
            rows.append((day, None, name, "holiday"))
        if "observed" in name:
            continue
        if name == "Christmas Day":
            effect(day, 0.05, 0.4)  # stores mostly closed
        elif name.startswith("Thanksgiving"):
            effect(day, 0.35, 0.9)
            eve = day - pd.Timedelta(days=1)
            effect(eve, 1.6, 1.1, food)
            rows.append((eve, None, "Thanksgiving Eve", "event"))
            black_friday = day + pd.Timedelta(days=1)
            effect(black_friday, 2.0, 1.6, gifts)
            effect(black_friday, 1.2, 1.2, food)
            rows.append((black_friday, None, "Black Friday", "event"))
            cyber_monday = day + pd.Timedelta(days=4)
            effect(cyber_monday, 1.0, 2.3, gifts)
            effect(cyber_monday, 1.0, 1.4, food)
            rows.append((cyber_monday, "WEB", "Cyber Monday", "event"))
        elif name == "New Year's Day":
            effect(day, 0.6, 0.8)
        elif name in ("Independence Day", "Memorial Day", "Labor Day"):
            effect(day, 1.25, 1.0, food)
            effect(day, 1.05, 1.0, gifts)
    for year in range(calendar[0].year, calendar[-1].year + 1):
        christmas_eve = pd.Timestamp(year=year, month=12, day=24)
        effect(christmas_eve, 1.5, 0.8, food)
        effect(christmas_eve, 1.3, 0.8, [names.index("TOYS")])
        new_years_eve = pd.Timestamp(year=year, month=12, day=31)
        effect(new_years_eve, 1.3, 1.0, food)
        super_bowl = _super_bowl(year)
        effect(super_bowl, 1.35, 1.0, [names.index("GROCERY")])
        effect(super_bowl, 1.15, 1.0, [names.index("FRESH")])
        for day, name in ((christmas_eve, "Christmas Eve"), (new_years_eve, "New Year's Eve"),
                          (super_bowl, "Super Bowl Sunday")):
            rows.append((day, None, name, "event"))
    events = pd.DataFrame(rows, columns=["date", "location", "name", "type"])
    events = events[(events["date"] >= calendar[0]) & (events["date"] <= calendar[-1])]
    events = events.sort_values(["date", "name"], kind="stable").reset_index(drop=True)
    return events, lift


def _draw_promotions(
    rng: np.random.Generator, sku_info: dict, series: dict, calendar: pd.DatetimeIndex,
    n_hist: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Promotions table and the discount (fraction) of every series-day."""
    n_days = len(calendar)
    years = n_days / 365.25
    n_skus = len(sku_info["sku"])
    loc_codes = [loc[0] for loc in LOCATIONS]
    series_of_sku = [np.flatnonzero(series["sku_idx"] == i) for i in range(n_skus)]
    rows: list[dict] = []

    def sku_promo(i: int, first_day: int, last_day: int, kind: str) -> None:
        begin = int(rng.integers(first_day, last_day))
        length = int(rng.integers(3, 15))
        here = series["loc_idx"][series_of_sku[i]]
        location = loc_codes[int(rng.choice(here))] if rng.random() < 0.3 else None
        rows.append({
            "sku": sku_info["sku"][i], "category": None, "location": location,
            "start": begin, "end": begin + length - 1,
            "discount_pct": float(rng.choice([10, 15, 20, 25, 30, 40])), "type": kind,
        })

    def category_promo(category: str, first_day: int, last_day: int) -> None:
        begin = int(rng.integers(first_day, last_day))
        location = loc_codes[int(rng.integers(0, 5))] if rng.random() < 0.25 else None
        rows.append({
            "sku": None, "category": category, "location": location,
            "start": begin, "end": begin + 6,
            "discount_pct": float(rng.choice([10, 15, 20])), "type": "category_event",
        })

    for i in range(n_skus):
        for _ in range(rng.poisson(_PROMO_RATE[sku_info["mover"][i]] * years)):
            sku_promo(i, 0, n_days, "price_cut")
    for category in CATEGORIES:
        for _ in range(rng.poisson(2.5 * years)):
            category_promo(category, 0, n_days)
    # promotions are planned ahead: make sure the 28 days after end_date hold some
    for category in CATEGORIES:
        category_promo(category, n_hist + 2, n_hist + FUTURE_DAYS - 7)
    sellable = np.flatnonzero(sku_info["stop"] > n_hist)
    for i in rng.choice(sellable, max(3, n_skus // 40), replace=False):
        sku_promo(int(i), n_hist + 1, n_hist + FUTURE_DAYS - 3, "price_cut")

    discount = np.zeros((len(series["sku_idx"]), n_days))
    cat_of_series = sku_info["category"][series["sku_idx"]]
    for r in rows:
        if r["sku"] is not None:
            idx = series_of_sku[int(np.flatnonzero(sku_info["sku"] == r["sku"])[0])]
        else:
            idx = np.flatnonzero(cat_of_series == r["category"])
        if r["location"] is not None:
            idx = idx[series["loc_idx"][idx] == loc_codes.index(r["location"])]
        window = slice(r["start"], min(r["end"] + 1, n_days))
        discount[idx, window] = np.maximum(discount[idx, window], r["discount_pct"] / 100.0)

    promotions = pd.DataFrame(rows)
    promotions["start_date"] = calendar[0] + pd.to_timedelta(promotions["start"], unit="D")
    promotions["end_date"] = calendar[0] + pd.to_timedelta(promotions["end"], unit="D")
    promotions = promotions.sort_values(
        ["start_date", "category", "sku", "location"], kind="stable", na_position="first"
    ).reset_index(drop=True)
    cols = ["sku", "category", "location", "start_date", "end_date",
            "discount_pct", "type"]
    return promotions[cols], discount


def _expected_demand(
    rng: np.random.Generator, sku_info: dict, series: dict, calendar: pd.DatetimeIndex,
    temperature: np.ndarray, holiday_lift: np.ndarray, discount: np.ndarray,
) -> np.ndarray:
    """Mean demand of every series-day: level x trend x seasonality x events x promo x weather."""
    s = series["sku_idx"]
    names = list(CATEGORIES)
    n_days = len(calendar)
    t = np.arange(n_days)
    dow = calendar.dayofweek.to_numpy()
    doy = calendar.dayofyear.to_numpy()

    yearly = np.ones((len(names), n_days))
    for c, name in enumerate(names):
        spec = CATEGORIES[name]
        yearly[c] = 1 + spec.yearly_amplitude * np.cos(
            2 * np.pi * (doy - spec.yearly_peak_doy) / 365.25
        )
    gap = np.abs(doy - 349)  # toys: Christmas shopping peak around Dec 15
    gap = np.minimum(gap, 365 - gap)
    yearly[names.index("TOYS")] += 1.6 * np.exp(-0.5 * (gap / 12.0) ** 2)

    weekly = np.ones((len(names), 2, 7))
    for c, name in enumerate(names):
        for j, kind in enumerate(("store", "online")):
            profile = _WEEKLY[kind].copy()
            profile[5:] += _WEEKLY_CATEGORY_TILT[name]
            weekly[c, j] = profile / profile.mean()

    cat = sku_info["cat_idx"][s]
    online = series["online"].astype(int)
    level = (sku_info["base"][s] * series["factor"])[:, None]
    trend = np.exp(sku_info["trend"][s][:, None] * (t[None, :] - n_days / 2) / 365.25)
    seasonal = weekly[cat, online][:, dow] * yearly[cat]
    events = holiday_lift[cat, online]
    sensitivity = np.array(
        [_TEMPERATURE_SENSITIVITY.get(x, 0.0) for x in sku_info["subcategory"]]
    )[s][:, None]
    weather = np.exp(sensitivity * (temperature[series["loc_idx"]] - 15.0))
    promo = np.exp(sku_info["promo_beta"][s][:, None] * discount)
    expected = level * trend * seasonal * events * weather * promo
    alive = (t[None, :] >= sku_info["launch"][s][:, None]) & (
        t[None, :] < sku_info["stop"][s][:, None]
    )
    # a little day-to-day drift in the level that no model can know (unexplained variation)
    drift = np.exp(0.05 * rng.standard_normal(expected.shape))
    return np.where(alive, expected * drift, 0.0)


def _simulate_inventory(
    rng: np.random.Generator, sku_info: dict, series: dict, expected: np.ndarray,
    demand: np.ndarray, discount: np.ndarray, n_hist: int,
) -> dict:
    """Day-by-day stock of every series under a naive static (s, S) policy with lost sales.

    The policy sizes the reorder point from the series' average non-promotional demand and the
    supplier's nominal lead time plus a few buffer days: it ignores seasonality, trend,
    promotions and lead-time spread, so stock runs out at peaks. That is the "before" the
    pipeline is meant to improve on.
    """
    s = series["sku_idx"]
    n_series = len(s)
    launch = sku_info["launch"][s]
    stop = np.minimum(sku_info["stop"][s], n_hist)
    delisted = sku_info["stop"][s] < n_hist
    t = np.arange(n_hist)
    alive = (t[None, :] >= launch[:, None]) & (t[None, :] < stop[:, None])
    base = expected[:, :n_hist] / np.exp(sku_info["promo_beta"][s][:, None] * discount[:, :n_hist])
    avg = np.where(alive, base, 0.0).sum(axis=1) / np.maximum(alive.sum(axis=1), 1)

    lead = sku_info["lead"][s]
    pack = sku_info["pack"][s]
    moq = sku_info["moq"][s]
    cover = np.array([_COVER_DAYS[m] for m in sku_info["mover"][s]])
    buffer_days = rng.uniform(0.5, 3.0, n_series)
    reorder_point = np.ceil(avg * (lead + buffer_days))
    order_up_to = reorder_point + np.maximum(np.ceil(avg * cover), 1.0)
    # a few SKUs carry a shelf capacity (max_stock) that caps the order-up-to level
    capped = sku_info["max_stock_flag"][s]
    order_up_to = np.where(capped, np.ceil(order_up_to * 0.9), order_up_to)
    order_up_to = np.maximum(order_up_to, reorder_point + 1)

    gamma_shape = 1.0 / sku_info["lead_cv"][s] ** 2
    horizon = n_hist + int(lead.max() * 4) + 10
    arriving = np.zeros((horizon, n_series))  # units received, by day
    settling = np.zeros((horizon, n_series))  # ordered units leaving on_order, by day
    on_hand = np.where(launch == 0, order_up_to, 0.0)
    on_order = np.zeros(n_series)
    sold = np.zeros((n_series, n_hist), dtype=np.int64)
    closing = np.zeros((n_series, n_hist), dtype=np.int64)
    open_units = np.zeros((n_series, n_hist), dtype=np.int64)
    po_parts: list[tuple[np.ndarray, ...]] = []

    def place(
        day: int, idx: np.ndarray, qty: np.ndarray, lead_days: np.ndarray, reliable: bool = False
    ) -> None:
        cancelled = np.zeros(len(idx), dtype=bool) if reliable else rng.random(len(idx)) < 0.01
        short = np.zeros(len(idx), dtype=bool) if reliable else rng.random(len(idx)) < 0.04
        # a short delivery still brings at least one pack
        partial = np.maximum(
            np.floor(qty * rng.uniform(0.6, 0.95, len(idx)) / pack[idx]), 1.0
        ) * pack[idx]
        received = np.where(short & (qty > pack[idx]), partial, qty)
        arrival = day + lead_days
        ok = ~cancelled
        arriving[arrival[ok], idx[ok]] += received[ok]
        settling[arrival[ok], idx[ok]] += qty[ok]
        # a supplier cancels a few days after the order; the planner then orders again
        settling[day + 3, idx[cancelled]] += qty[cancelled]
        on_order[idx] += qty
        po_parts.append((np.full(len(idx), day), idx, qty, arrival, received, cancelled))

    # items launched during the history get a first delivery, in full, on their launch day
    late = np.flatnonzero((launch > 0) & (launch < n_hist))
    pending_launch: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    for day in np.unique(launch[late]):
        idx = late[launch[late] == day]
        order_day = max(int(day) - int(lead[idx].max()), 0)
        lead_days = np.full(len(idx), int(day) - order_day, dtype=np.int64)
        first = np.ceil(order_up_to[idx] / pack[idx]) * pack[idx]
        pending_launch.append((order_day, idx, first, lead_days))

    for day in range(n_hist):
        for order_day, idx, first, lead_days in pending_launch:
            if order_day == day:
                place(day, idx, first, lead_days, reliable=True)
        on_hand += arriving[day]
        on_order -= settling[day]
        live = alive[:, day]
        sales = np.minimum(demand[:, day], on_hand) * live
        on_hand -= sales
        sold[:, day] = sales
        position = on_hand + on_order
        # no reorders in the last weeks before an item is delisted (active items keep ordering
        # up to the last day of history)
        need = np.flatnonzero(
            live & (position <= reorder_point) & (~delisted | (day < stop - 14))
        )
        if len(need):
            qty = np.maximum(np.ceil((order_up_to[need] - position[need]) / pack[need]), 1)
            qty = np.maximum(qty * pack[need], moq[need])
            lead_days = np.clip(
                np.round(rng.gamma(gamma_shape[need], lead[need] / gamma_shape[need])),
                1, lead[need] * 4,
            ).astype(np.int64)
            place(day, need, qty, lead_days)
        closing[:, day] = on_hand
        open_units[:, day] = on_order
    log.info("simulated stock for %d series over %d days", n_series, n_hist)

    parts = [np.concatenate(x) for x in zip(*po_parts, strict=True)] if po_parts else None
    # launch orders were placed before the day loop; bring all orders into date order
    if parts is not None:
        order = np.lexsort((parts[1], parts[0]))
        parts = [p[order] for p in parts]
    return {
        "sold": sold,
        "on_hand": closing,
        "on_order": open_units,
        "active": alive,
        "pos": parts,
        "max_stock": np.where(capped, order_up_to, np.nan),
        "nominal_lead": lead,
    }


def _finish_products(
    products: pd.DataFrame, sku_info: dict, series: dict, sim: dict
) -> pd.DataFrame:
    """Fill max_stock of the capped SKUs: the largest shelf among their locations."""
    products = products.copy()
    caps = pd.Series(sim["max_stock"]).groupby(series["sku_idx"]).max()
    caps = caps[caps.notna()]
    products.loc[caps.index.to_numpy(), "max_stock"] = caps.to_numpy()
    return products


def _sales_table(
    rng: np.random.Generator, sku_info: dict, series: dict, sim: dict, discount: np.ndarray,
    history: pd.DatetimeIndex, sku_codes: np.ndarray, loc_codes: np.ndarray,
) -> pd.DataFrame:
    """Daily sales aggregates (zero days omitted) plus a few return rows."""
    n_hist = len(history)
    sold = sim["sold"]
    si, di = np.nonzero(sold > 0)
    years_in = history.year.to_numpy() - history[0].year
    # list prices rise about 3% every January; a promotion cuts the shelf price
    list_price = sku_info["price"][series["sku_idx"]][si] * 1.03 ** years_in[di]
    disc = discount[si, di]
    sales = pd.DataFrame({
        "date": history[di].date,
        "sku": sku_codes[si],
        "location": loc_codes[si],
        "quantity": sold[si, di],
        "channel": np.where(series["online"][si], "online", "store"),
        "unit_price": np.round(list_price * (1 - disc), 2),
        "promo": disc > 0,
    })
    # about 0.2% of sale days bring a return of 1-2 units within two weeks (not restocked)
    back = np.flatnonzero(rng.random(len(sales)) < 0.002)
    back_day = di[back] + rng.integers(1, 15, len(back))
    keep = back_day < np.minimum(sku_info["stop"][series["sku_idx"]][si[back]], n_hist)
    back, back_day = back[keep], back_day[keep]
    returns = pd.DataFrame({
        "date": history[back_day].date,
        "sku": sales["sku"].to_numpy()[back],
        "location": sales["location"].to_numpy()[back],
        "quantity": -np.minimum(sales["quantity"].to_numpy()[back],
                                rng.integers(1, 3, len(back))),
        "channel": sales["channel"].to_numpy()[back],
        "unit_price": sales["unit_price"].to_numpy()[back],
        "promo": False,
    })
    # returns are daily aggregates too: one row per series-day and price
    keys = ["date", "sku", "location", "channel", "unit_price", "promo"]
    returns = returns.groupby(keys, as_index=False, sort=False)["quantity"].sum()[sales.columns]
    sales = pd.concat([sales, returns], ignore_index=True)
    sales = sales.sort_values(["date", "location", "sku", "quantity"], kind="stable")
    return sales.reset_index(drop=True)


def _inventory_table(
    series: dict, sim: dict, history: pd.DatetimeIndex, sku_codes: np.ndarray,
    loc_codes: np.ndarray,
) -> pd.DataFrame:
    """End-of-day stock of every live series-day (on_hand 0 marks a stockout)."""
    si, di = np.nonzero(sim["active"])
    frame = pd.DataFrame({
        "date": history[di].date,
        "sku": sku_codes[si],
        "location": loc_codes[si],
        "on_hand": sim["on_hand"][si, di],
        "on_order": sim["on_order"][si, di],
    })
    return frame.sort_values(["date", "location", "sku"], kind="stable").reset_index(drop=True)


def _purchase_order_table(
    sim: dict, history: pd.DatetimeIndex, sku_codes: np.ndarray, loc_codes: np.ndarray
) -> pd.DataFrame:
    """Purchase order lines consistent with the simulation; late ones are still open."""
    day, idx, qty, arrival, received, cancelled = sim["pos"]
    n_hist = len(history)
    start = history[0]
    done = (~cancelled) & (arrival < n_hist)
    status = np.where(cancelled, "cancelled", np.where(done, "received", "open"))
    nominal = sim["nominal_lead"][idx].astype(np.int64)
    frame = pd.DataFrame({
        "po_id": [f"PO{i + 1:07d}" for i in range(len(day))],
        "sku": sku_codes[idx],
        "location": loc_codes[idx],
        "order_date": (start + pd.to_timedelta(day, unit="D")).date,
        "quantity": qty.astype(np.int64),
        "expected_date": (start + pd.to_timedelta(day + nominal, unit="D")).date,
        "received_date": pd.Series(
            (start + pd.to_timedelta(arrival, unit="D")).date
        ).where(done, None),
        "received_quantity": pd.Series(received.astype(np.int64)).astype("Int64").where(
            done, pd.NA
        ),
        "status": status,
    })
    return frame


def _drivers_table(temperature: np.ndarray, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily temperature per location, including the 28 future days (a weather forecast)."""
    n_loc, n_days = temperature.shape
    return pd.DataFrame({
        "date": np.tile(calendar.date, n_loc),
        "location": np.repeat([loc[0] for loc in LOCATIONS], n_days),
        "driver": "temperature",
        "value": temperature.reshape(-1),
    })


def _write_truth(
    truth: Path, series: dict, sim: dict, demand: np.ndarray, expected: np.ndarray,
    calendar: pd.DatetimeIndex, n_hist: int, sku_codes: np.ndarray, loc_codes: np.ndarray,
) -> Path:
    """True demand of every live series-day (history), and of the 28 days after it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path, si: np.ndarray, di: np.ndarray) -> None:
        frame = pd.DataFrame({
            "date": calendar[di].date,
            "sku": sku_codes[si],
            "location": loc_codes[si],
            "demand": demand[si, di],
            "expected_demand": np.round(expected[si, di], 4),
        }).sort_values(["date", "location", "sku"], kind="stable")
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path, compression="zstd")

    si, di = np.nonzero(sim["active"])
    write(truth, si, di)
    future = truth.parent / "true_demand_future.parquet"
    live_at_end = sim["active"][:, n_hist - 1]
    fi, fd = np.nonzero(
        np.repeat(live_at_end[:, None], len(calendar) - n_hist, axis=1)
    )
    write(future, fi, fd + n_hist)
    return future
