"""Exogenous features for forecasters that take them (promotions, prices, holidays, drivers).

Everything here is known in advance for the forecast horizon: promotions and events are planned,
drivers (weather forecasts, footfall plans) are given for future dates, and prices are carried
forward from the last known value. ``build_exogenous`` returns one numeric row per
(series_id, date) of the requested index, with no missing values, so sktime forecasters can take
it as ``X`` for the fit window and the horizon alike.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from restock.forecasting.censoring import series_id_of
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Base exogenous columns, always present (driver columns are added per driver name).
EXOGENOUS_COLUMNS = (
    "promo",
    "discount_pct",
    "relative_price",
    "is_holiday",
    "is_event",
    "days_to_next_holiday",
    "category_code",
)

#: days_to_next_holiday is capped here: further away than a month carries no signal.
HOLIDAY_DISTANCE_CAP = 30

_DRIVER_NAME = re.compile(r"[^a-z0-9_]+")


def driver_column(name: str) -> str:
    """Column name of a driver in the exogenous frame (``driver_`` + a safe lower-case name)."""
    return "driver_" + (_DRIVER_NAME.sub("_", str(name).strip().lower()).strip("_") or "unnamed")


def _as_fraction(discount: pd.Series) -> pd.Series:
    """Discounts as fractions of the price: feeds give 0.2 or 20 for 20 % off."""
    d = pd.to_numeric(discount, errors="coerce").astype(float)
    return d.where(d <= 1.0, d / 100.0).clip(lower=0.0, upper=1.0)


def _frame_of_index(index: pd.MultiIndex) -> pd.DataFrame:
    """(series_id, date) of the index as columns, plus the row position to restore order."""
    if not isinstance(index, pd.MultiIndex) or index.nlevels != 2:
        raise ValueError("index must be a 2-level MultiIndex (series_id, date)")
    frame = pd.DataFrame(
        {
            "series_id": index.get_level_values(0).astype(str),
            "date": pd.DatetimeIndex(index.get_level_values(1)).normalize(),
        }
    )
    frame["_row"] = np.arange(len(frame))
    return frame


def _split_series(frame: pd.DataFrame, demand: pd.DataFrame) -> pd.DataFrame:
    """Attach sku and location to each series id (from demand, else split at the first '|')."""
    ids = pd.DataFrame({"series_id": frame["series_id"].unique()})
    if len(demand):
        known = demand[["sku", "location"]].drop_duplicates().astype(str)
        known["series_id"] = series_id_of(known["sku"], known["location"])
        ids = ids.merge(known.drop_duplicates("series_id"), on="series_id", how="left")
    else:
        ids["sku"] = np.nan
        ids["location"] = np.nan
    missing = ids["sku"].isna()
    if missing.any():
        parts = ids.loc[missing, "series_id"].str.split("|", n=1, expand=True)
        ids.loc[missing, "sku"] = parts[0]
        ids.loc[missing, "location"] = parts[1] if parts.shape[1] > 1 else ""
    return frame.merge(ids, on="series_id", how="left")


def _promotion_columns(
    frame: pd.DataFrame, demand: pd.DataFrame, promotions: pd.DataFrame | None
) -> pd.DataFrame:
    """promo (0/1) and discount_pct (fraction): the promotions mart, else demand's own flags."""
    keys = ["sku", "location", "date"]
    parts = []
    if promotions is not None and len(promotions):
        promo = promotions[keys].astype({"sku": str, "location": str}).copy()
        promo["date"] = pd.to_datetime(promo["date"]).dt.normalize()
        promo["discount_pct"] = (
            _as_fraction(promotions["discount_pct"]).to_numpy()
            if "discount_pct" in promotions
            else np.nan
        )
        parts.append(promo)
    if len(demand) and "promo" in demand:
        # the sales feed's promo flag covers history even when no promotions table was given
        hist = demand.loc[demand["promo"].fillna(False).astype(bool), keys].astype(
            {"sku": str, "location": str}
        )
        hist["date"] = pd.to_datetime(hist["date"]).dt.normalize()
        hist["discount_pct"] = (
            _as_fraction(demand.loc[hist.index, "discount_pct"]).to_numpy()
            if "discount_pct" in demand
            else np.nan
        )
        parts.append(hist)
    if not parts:
        return frame.assign(promo=0.0, discount_pct=0.0)
    promo = pd.concat(parts, ignore_index=True)
    # one row per promoted day: the deepest discount wins when sources overlap
    promo = promo.groupby(keys, as_index=False)["discount_pct"].max()
    promo["promo"] = 1.0
    out = frame.merge(promo, on=keys, how="left")
    out["promo"] = out["promo"].fillna(0.0)
    out["discount_pct"] = out["discount_pct"].fillna(0.0)
    return out


def _price_column(
    frame: pd.DataFrame, demand: pd.DataFrame, known_until: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Price relative to the series' median price, carried forward past the last known price.

    On future promoted days the carried regular price is cut by the planned discount, so the
    horizon looks like history did (history's unit_price already holds the promotional price).
    """
    if not len(demand) or "unit_price" not in demand or demand["unit_price"].notna().sum() == 0:
        return frame.assign(relative_price=1.0)
    price = demand[["sku", "location", "date", "unit_price"]].copy()
    price["sku"] = price["sku"].astype(str)
    price["location"] = price["location"].astype(str)
    price["date"] = pd.to_datetime(price["date"]).dt.normalize()
    price["unit_price"] = pd.to_numeric(price["unit_price"], errors="coerce")
    price = price[price["unit_price"] > 0]
    if known_until is not None:
        # realised prices after the cutoff would tell which future days sold: not known then
        price = price[price["date"] <= pd.Timestamp(known_until).normalize()]
    if price.empty:
        return frame.assign(relative_price=1.0)
    price = price.groupby(["sku", "location", "date"], as_index=False)["unit_price"].mean()
    last_date = price.groupby(["sku", "location"])["date"].max().rename("_last_price_date")
    median = price.groupby(["sku", "location"])["unit_price"].median().rename("_median_price")
    out = frame.merge(price, on=["sku", "location", "date"], how="left")
    out = out.sort_values(["series_id", "date"])
    # carry forward first (the horizon), then back (days before the first priced sale)
    out["unit_price"] = out.groupby("series_id")["unit_price"].ffill()
    out["unit_price"] = out.groupby("series_id")["unit_price"].bfill()
    out = out.merge(median, on=["sku", "location"], how="left").merge(
        last_date, on=["sku", "location"], how="left"
    )
    future_promo = (out["date"] > out["_last_price_date"]) & (out["promo"] > 0)
    out.loc[future_promo, "unit_price"] *= 1.0 - out.loc[future_promo, "discount_pct"]
    out["relative_price"] = (out["unit_price"] / out["_median_price"]).fillna(1.0)
    return out.drop(columns=["unit_price", "_median_price", "_last_price_date"])


def _country_holidays(country: str | None, years: range) -> set[pd.Timestamp]:
    """Public holidays of ``country`` (holidays package) in ``years``; empty if no country."""
    if not country:
        return set()
    import holidays  # light, but only needed when a country is configured

    try:
        days = holidays.country_holidays(country, years=list(years))
    except NotImplementedError:
        logger.warning("holidays: unknown country %r, no country holidays used", country)
        return set()
    return {pd.Timestamp(d) for d in days}


def _calendar_columns(
    frame: pd.DataFrame,
    demand: pd.DataFrame,
    events: pd.DataFrame | None,
    settings: ForecastSettings,
) -> pd.DataFrame:
    """is_holiday, is_event and days_to_next_holiday, per location (events may be local)."""
    first, last = frame["date"].min(), frame["date"].max()
    # look one year past the index so days_to_next_holiday is right at the horizon's end
    country = _country_holidays(settings.holiday_country, range(first.year, last.year + 2))
    locations = frame["location"].unique()

    ev = pd.DataFrame(columns=["date", "location", "type"])
    if events is not None and len(events):
        ev = events.copy()
        ev["date"] = pd.to_datetime(ev["date"]).dt.normalize()
        ev["type"] = ev["type"].astype(str).str.lower() if "type" in ev else ""
        if "location" not in ev:
            ev["location"] = None
    ev_all = ev[ev["location"].isna()]
    ev_local = ev[ev["location"].notna()].assign(location=lambda d: d["location"].astype(str))

    rows = []
    for loc in locations:
        loc_events = pd.concat([ev_all, ev_local[ev_local["location"] == loc]])
        event_days = set(loc_events["date"])
        holiday_days = country | set(loc_events.loc[loc_events["type"] == "holiday", "date"])
        rows.append((loc, event_days, holiday_days))

    out = []
    for loc, event_days, holiday_days in rows:
        dates = pd.DatetimeIndex(frame.loc[frame["location"] == loc, "date"].unique()).sort_values()
        hol = np.array(sorted(d for d in holiday_days if d >= first), dtype="datetime64[ns]")
        pos = np.searchsorted(hol, dates.values, side="left")
        if len(hol):
            next_hol = hol[np.minimum(pos, len(hol) - 1)]
            gap = (next_hol - dates.values).astype("timedelta64[D]").astype(float)
            gap[pos >= len(hol)] = HOLIDAY_DISTANCE_CAP
        else:
            gap = np.full(len(dates), float(HOLIDAY_DISTANCE_CAP))
        out.append(
            pd.DataFrame(
                {
                    "location": loc,
                    "date": dates,
                    "is_holiday": dates.isin(list(holiday_days)).astype(float),
                    "is_event": dates.isin(list(event_days)).astype(float),
                    "days_to_next_holiday": np.minimum(gap, HOLIDAY_DISTANCE_CAP),
                }
            )
        )
    cal = pd.concat(out, ignore_index=True) if out else frame[["location", "date"]].iloc[:0]
    frame = frame.merge(cal, on=["location", "date"], how="left")

    if len(demand) and "is_event" in demand:
        # events the sales feed flagged (e.g. M5's calendar) count for history days too
        flagged = demand.loc[demand["is_event"].fillna(False).astype(bool), ["sku", "location"]]
        flagged = flagged.astype(str).assign(
            date=pd.to_datetime(demand.loc[flagged.index, "date"]).dt.normalize(), _flag=1.0
        )
        flagged = flagged.drop_duplicates(["sku", "location", "date"])
        frame = frame.merge(flagged, on=["sku", "location", "date"], how="left")
        frame["is_event"] = np.maximum(frame["is_event"], frame["_flag"].fillna(0.0))
        frame = frame.drop(columns="_flag")
    return frame


def _driver_columns(frame: pd.DataFrame, drivers: pd.DataFrame | None) -> pd.DataFrame:
    """One column per driver; a location's own value beats the all-locations one; ffilled."""
    if drivers is None or not len(drivers):
        return frame
    d = drivers.copy()
    d["date"] = pd.to_datetime(d["date"]).dt.normalize()
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    d["column"] = d["driver"].map(driver_column)
    if "location" not in d:
        d["location"] = None
    columns = sorted(d["column"].unique())
    glob = d[d["location"].isna()].groupby(["date", "column"])["value"].mean().unstack("column")
    local = (
        d[d["location"].notna()]
        .assign(location=lambda x: x["location"].astype(str))
        .groupby(["location", "date", "column"])["value"]
        .mean()
        .unstack("column")
    )
    out = frame
    if len(glob):
        out = out.merge(glob.add_suffix("__all"), left_on="date", right_index=True, how="left")
    if len(local):
        out = out.merge(
            local.add_suffix("__loc"), left_on=["location", "date"], right_index=True, how="left"
        )
    out = out.sort_values(["series_id", "date"])
    for col in columns:
        value = pd.Series(np.nan, index=out.index)
        if f"{col}__loc" in out:
            value = out[f"{col}__loc"]
        if f"{col}__all" in out:
            value = value.fillna(out[f"{col}__all"])
        value = value.groupby(out["series_id"]).ffill()
        value = value.groupby(out["series_id"]).bfill()
        # a series with no value at all takes the driver's overall median (neutral level)
        out[col] = value.fillna(d.loc[d["column"] == col, "value"].median()).fillna(0.0)
    return out.drop(columns=[c for c in out.columns if c.endswith(("__all", "__loc"))])


def _category_column(
    frame: pd.DataFrame, demand: pd.DataFrame, products: pd.DataFrame | None
) -> pd.DataFrame:
    """category_code: integer code of the sku's category (sorted names; -1 when unknown)."""
    parts = []
    if products is not None and len(products) and "category" in products:
        parts.append(products[["sku", "category"]])
    if len(demand) and "category" in demand:
        parts.append(demand[["sku", "category"]].drop_duplicates("sku"))
    if not parts:
        return frame.assign(category_code=-1.0)
    cat = pd.concat(parts).dropna().astype(str).drop_duplicates("sku")
    codes = {c: float(i) for i, c in enumerate(sorted(cat["category"].unique()))}
    cat["category_code"] = cat["category"].map(codes)
    out = frame.merge(cat[["sku", "category_code"]], on="sku", how="left")
    out["category_code"] = out["category_code"].fillna(-1.0)
    return out


def build_exogenous(
    index: pd.MultiIndex,
    demand: pd.DataFrame,
    promotions: pd.DataFrame | None,
    events: pd.DataFrame | None,
    drivers: pd.DataFrame | None,
    products: pd.DataFrame | None,
    settings: ForecastSettings,
    *,
    prices_known_until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Numeric exogenous features for every (series_id, date) of ``index``.

    Parameters
    ----------
    index : pd.MultiIndex
        Levels (series_id, date), series_id = ``f"{sku}|{location}"``; dates may run past the
        last demand date (the horizon).
    demand : pd.DataFrame
        The ``fct_daily_demand`` mart (sku, location, category, date, unit_price, promo,
        discount_pct, is_event, ...).
    promotions, events, drivers : pd.DataFrame or None
        The ``fct_promotion_days``, ``fct_events`` and ``fct_drivers`` marts (history and
        future dates).
    products : pd.DataFrame or None
        ``dim_products`` (sku, category), for the category code.
    settings : ForecastSettings
        ``holiday_country`` selects the country holidays.
    prices_known_until : Timestamp, optional
        Backtests pass the fold's cutoff: ``demand`` prices dated later are ignored (the last
        known price is carried forward instead), as in a real run. Promotion and event flags
        are planned, so they are used for every date.

    Returns
    -------
    pd.DataFrame
        Indexed like ``index`` (same order), float columns :data:`EXOGENOUS_COLUMNS` plus one
        ``driver_<name>`` column per driver; no NaN. ``discount_pct`` is a fraction (0.2 = 20 %
        off), ``relative_price`` is price / the series' median price.
    """
    frame = _frame_of_index(index)
    if len(frame) == 0:
        return pd.DataFrame(index=index, columns=list(EXOGENOUS_COLUMNS), dtype=float)
    demand = demand if demand is not None else pd.DataFrame()
    frame = _split_series(frame, demand)
    frame = _promotion_columns(frame, demand, promotions)
    frame = _price_column(frame, demand, prices_known_until)
    frame = _calendar_columns(frame, demand, events, settings)
    frame = _driver_columns(frame, drivers)
    frame = _category_column(frame, demand, products)

    drivers_cols = sorted(c for c in frame.columns if c.startswith("driver_"))
    columns = list(EXOGENOUS_COLUMNS) + drivers_cols
    frame = frame.sort_values("_row")
    out = pd.DataFrame(frame[columns].to_numpy(dtype=float), index=index, columns=columns)
    # defensive: every step fills its own gaps; a NaN here would break statsforecast exog models
    out = out.fillna(0.0)
    logger.debug("exogenous features: %d rows x %d columns", len(out), out.shape[1])
    return out
