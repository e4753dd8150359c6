"""Demand panel and censored-demand imputation.

A censored day is a day the item was out of stock (``on_hand = 0`` at close or
``stockout_hours > 0``): its sales are a lower bound of demand, not demand. Teaching a model
those sales as demand teaches it to forecast the stock-outs again, so the model target is an
*imputed* demand series:

1. Partial stock-out with known ``stockout_hours`` h (0 < h < 24): the sales were made in the
   ``24 - h`` open hours, so demand is estimated as ``sales * 24 / (24 - h)``, the scale capped
   at ``settings.max_open_hours_scale`` (default 3x, i.e. h up to 16 hours) because a few sales
   in a few open hours say little about the rest of the day.
2. Otherwise (closing stock 0 without hours, or a scale above the cap): the mean of the same
   weekday's uncensored days in the previous ``settings.impute_weeks`` weeks; if there are none,
   the mean of the uncensored days of the previous 28 days; during a longer stock-out, the last
   such 28-day mean known; if still none, the sales themselves.
3. The imputed value is never below the observed sales (sales are a lower bound of demand).

Uncensored days are untouched. Without inventory data nothing is censored and the target is
the sales. ``settings.censored_handling = "none"`` skips imputation (the raw-sales comparison);
backtests still never score censored days. Everything is done on wide numpy arrays (series x
dates), which is what makes a 3,049 x 1,900 panel cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.forecasting.settings import ForecastSettings

SERIES_SEPARATOR = "|"  # series_id = sku + "|" + location (same as features.series_id_of)


@dataclass
class DemandPanel:
    """The demand mart as aligned wide arrays (one row per series, one column per day).

    Attributes
    ----------
    series : DataFrame
        One row per series: series_id, sku, location, category, first_day (column index of the
        first sale), first_date.
    dates : DatetimeIndex
        The daily grid, first sale of any series .. last date.
    sales : ndarray
        Units sold, NaN before the series' first sale.
    censored : ndarray of bool
        Stock-out days (False before the first sale).
    target : ndarray
        Demand the models learn from: sales with censored days imputed (or raw sales when
        imputation is off). NaN before the first sale.
    """

    series: pd.DataFrame
    dates: pd.DatetimeIndex
    sales: np.ndarray
    censored: np.ndarray
    target: np.ndarray

    @property
    def n_series(self) -> int:
        """Number of series."""
        return len(self.series)

    def day_index(self, date: pd.Timestamp) -> int:
        """Column index of ``date`` on the grid (may be outside the grid)."""
        return int((pd.Timestamp(date) - self.dates[0]).days)

    def subset(self, rows: np.ndarray) -> DemandPanel:
        """The panel restricted to the series at positions ``rows``."""
        return DemandPanel(
            self.series.iloc[rows].reset_index(drop=True),
            self.dates,
            self.sales[rows],
            self.censored[rows],
            self.target[rows],
        )


def series_id_of(sku: pd.Series, location: pd.Series) -> pd.Series:
    """The series id of aligned sku and location columns."""
    return sku.astype(str) + SERIES_SEPARATOR + location.astype(str)


def build_panel(
    demand: pd.DataFrame, as_of: pd.Timestamp, settings: ForecastSettings
) -> DemandPanel:
    """Turn the ``fct_daily_demand`` frame into a :class:`DemandPanel` up to ``as_of``.

    Parameters
    ----------
    demand : DataFrame
        sku, location, category, date, units_sold, and optionally is_censored, stockout_hours.
    as_of : Timestamp
        Last day used; later rows are ignored.
    settings : ForecastSettings
        ``censored_handling``, ``impute_weeks`` and ``max_open_hours_scale`` are used.

    Returns
    -------
    DemandPanel
    """
    as_of = pd.Timestamp(as_of).normalize()
    dates_all = pd.DatetimeIndex(pd.to_datetime(demand["date"])).normalize()
    keep = np.asarray(dates_all <= as_of)
    frame = demand.loc[keep] if not keep.all() else demand
    dates_col = dates_all[keep] if not keep.all() else dates_all
    if frame.empty:
        raise ValueError(f"no demand rows dated on or before {as_of.date()}")
    # Integer codes of (sku, location) without building millions of id strings.
    sku_codes, skus = pd.factorize(frame["sku"], sort=True)
    loc_codes, locs = pd.factorize(frame["location"], sort=True)
    codes, pairs = pd.factorize(sku_codes.astype(np.int64) * len(locs) + loc_codes, sort=True)
    first_row = np.unique(codes, return_index=True)[1]
    start = dates_col.min()
    day = np.asarray((dates_col - start).days)
    n, t = len(pairs), int((as_of - start).days) + 1
    sales_vals = pd.to_numeric(frame["units_sold"], errors="coerce").fillna(0.0).clip(lower=0.0)
    sales = np.full((n, t), np.nan)
    sales[codes, day] = sales_vals.to_numpy(dtype=float)
    censored = np.zeros((n, t), dtype=bool)
    if "is_censored" in frame:
        censored[codes, day] = frame["is_censored"].fillna(False).to_numpy(dtype=bool)
    hours = np.full((n, t), np.nan)
    if "stockout_hours" in frame:
        hours[codes, day] = pd.to_numeric(frame["stockout_hours"], errors="coerce").to_numpy()

    # The spine starts at the first sale; rows before it (if the mart ever has them) are not
    # history, and a zero-filled gap inside the spine is a day without sales.
    first_sale = np.where(np.nan_to_num(sales) > 0, np.arange(t), t).min(axis=1)
    first_obs = np.where(~np.isnan(sales), np.arange(t), t).min(axis=1)
    first_day = np.where(first_sale < t, first_sale, first_obs)
    cols = np.arange(t)
    before = cols[None, :] < first_day[:, None]
    sales[before] = np.nan
    sales[~before & np.isnan(sales)] = 0.0
    censored[before] = False

    meta = pd.DataFrame({
        "sku": np.asarray(skus.astype(str))[sku_codes[first_row]],
        "location": np.asarray(locs.astype(str))[loc_codes[first_row]],
        "category": frame["category"].to_numpy()[first_row].astype(str),
    })
    meta.insert(0, "series_id", series_id_of(meta["sku"], meta["location"]))
    meta["first_day"] = first_day
    meta["first_date"] = start + pd.to_timedelta(first_day, unit="D")
    dates = pd.date_range(start, as_of, freq="D")
    if settings.censored_handling == "impute":
        target = impute_censored(sales, censored, hours, settings)
    else:
        target = sales.copy()
    return DemandPanel(meta, dates, sales, censored, target)


def impute_censored(
    sales: np.ndarray,
    censored: np.ndarray,
    stockout_hours: np.ndarray | None,
    settings: ForecastSettings,
) -> np.ndarray:
    """Estimated demand: censored days imputed, uncensored days untouched (module docstring).

    Parameters
    ----------
    sales : ndarray (series x days)
        Units sold, NaN where the series has not started.
    censored : ndarray of bool, same shape
        Stock-out days.
    stockout_hours : ndarray or None, same shape
        Hours out of stock (NaN = unknown).
    settings : ForecastSettings
        ``impute_weeks`` and ``max_open_hours_scale``.

    Returns
    -------
    ndarray
        Same shape as ``sales``.
    """
    target = sales.copy()
    if not censored.any():
        return target
    n, t = sales.shape
    # Uncensored observed values only: the base of every weekday mean.
    clean = np.where(censored | np.isnan(sales), np.nan, sales)

    weekday_sum = np.zeros((n, t))
    weekday_cnt = np.zeros((n, t))
    for week in range(1, settings.impute_weeks + 1):
        lag = 7 * week
        if lag >= t:
            break
        past = clean[:, :-lag]
        ok = ~np.isnan(past)
        weekday_sum[:, lag:] += np.where(ok, past, 0.0)
        weekday_cnt[:, lag:] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        weekday_mean = weekday_sum / weekday_cnt

    # Fallback: mean of the uncensored days among the previous 28 (cumulative sums).
    window = 28
    ok = ~np.isnan(clean)
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(np.where(ok, clean, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([np.zeros((n, 1)), np.cumsum(ok, axis=1)], axis=1)
    hi = np.arange(t)
    lo = np.maximum(hi - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recent_mean = (csum[:, hi] - csum[:, lo]) / (ccnt[:, hi] - ccnt[:, lo])

    # Long stock-outs leave no uncensored day in the last 28: carry the last level known.
    last_level = pd.DataFrame(recent_mean).ffill(axis=1).to_numpy()

    estimate = np.where(np.isnan(weekday_mean), recent_mean, weekday_mean)
    estimate = np.where(np.isnan(estimate), last_level, estimate)
    estimate = np.where(np.isnan(estimate), sales, estimate)

    if stockout_hours is not None:
        h = np.clip(np.nan_to_num(stockout_hours, nan=0.0), 0.0, 24.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 24.0 / (24.0 - h)
        partial = (h > 0) & (scale <= settings.max_open_hours_scale)
        estimate = np.where(partial, sales * scale, estimate)

    imputed = np.fmax(estimate, sales)  # never below what was actually sold
    use = censored & ~np.isnan(sales)
    target[use] = imputed[use]
    return target
