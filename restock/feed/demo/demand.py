"""Demand of every series-day: weather, holidays and events, promotions, and the expected mean.

The demand itself (negative binomial around the mean) is drawn by ``generate_demo_feed``, in
the generator's fixed order.
"""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd

from restock.feed.demo.chain import CATEGORIES, FUTURE_DAYS, LOCATIONS

# promotions per SKU per year by mover class
_PROMO_RATE = {"fast": 3.0, "medium": 2.5, "slow": 1.2, "lumpy": 0.5}
_TEMPERATURE_SENSITIVITY = {"ICE_CREAM": 0.05, "DRINKS": 0.035, "GARDEN": 0.02, "OUTDOOR": 0.02}

# Mon..Sun weekly profiles: stores peak on the weekend, the online shop early in the week
_WEEKLY = {
    "store": np.array([0.85, 0.85, 0.90, 0.95, 1.10, 1.35, 1.05]),
    "online": np.array([1.15, 1.10, 1.05, 1.00, 0.95, 0.85, 0.90]),
}
_WEEKLY_CATEGORY_TILT = {  # extra weekend weight: fresh food and toys are weekend shops
    "FRESH": 0.10, "GROCERY": 0.0, "HOUSEHOLD": -0.05, "TOYS": 0.15,
}


def draw_temperature(rng: np.random.Generator, calendar: pd.DatetimeIndex) -> np.ndarray:
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


def calendar_effects(calendar: pd.DatetimeIndex) -> tuple[pd.DataFrame, np.ndarray]:
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


def draw_promotions(
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


def expected_demand(
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
