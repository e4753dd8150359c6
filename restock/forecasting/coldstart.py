"""Cold start: forecasts for series with too little history to fit or backtest a model.

A series with fewer than ``settings.min_history_days`` days since its first sale gets the
``category_profile`` forecast:

- Category profile: how new items of the category sold in their first ``min_history_days``
  days, by weekday (mean over items of each item's weekday rate, the top and bottom 10 % of
  items trimmed). Items count as new when their first sale is after the first day of the data.
  A category without such items uses its established items' last ``min_history_days`` days;
  without any, all series.
- The item's own rate so far is blended in, weighted by its days of history against
  ``settings.cold_start_shrink_days`` of the category rate:
  ``level = (units so far + m * category rate) / (days so far + m)``.
- Forecast of a day = level x the category's weekday factor (weekday rate / mean rate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.forecasting.censoring import DemandPanel
from restock.forecasting.settings import ForecastSettings

COLD_START_MODEL = "category_profile"


def _weekday_rates(values: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    """Trimmed mean over series of each series' mean demand per weekday (length 7)."""
    from scipy.stats import trim_mean

    rates = np.full(7, np.nan)
    for d in range(7):
        cols = weekdays == d
        if not cols.any():
            continue
        with np.errstate(invalid="ignore"):
            per_item = np.nanmean(values[:, cols], axis=1)
        per_item = per_item[~np.isnan(per_item)]
        if len(per_item):
            rates[d] = trim_mean(per_item, 0.1)
    return rates


def category_profiles(
    panel: DemandPanel, end: int, settings: ForecastSettings, cold: np.ndarray
) -> dict[str, np.ndarray]:
    """Weekday demand rate (length 7, Monday = 0) of a new item, per category."""
    from scipy.stats import trim_mean

    window = settings.min_history_days
    first = panel.series["first_day"].to_numpy()
    categories = panel.series["category"].to_numpy()
    weekday = panel.dates.weekday.to_numpy()
    profiles: dict[str, np.ndarray] = {}
    everyone = None
    for cat in np.unique(categories):
        in_cat = categories == cat
        new = in_cat & (first > 0) & (first + window - 1 <= end)
        if new.sum() >= 3:
            idx = np.flatnonzero(new)
            # each new item's first `window` days, aligned on the real weekdays
            values = np.full((len(idx), window), np.nan)
            days = np.full((len(idx), window), 0)
            for j, i in enumerate(idx):
                values[j] = panel.target[i, first[i] : first[i] + window]
                days[j] = weekday[first[i] : first[i] + window]
            rates = np.full(7, np.nan)
            for d in range(7):
                with np.errstate(invalid="ignore"):
                    per_item = np.nanmean(np.where(days == d, values, np.nan), axis=1)
                per_item = per_item[~np.isnan(per_item)]
                if len(per_item):
                    rates[d] = trim_mean(per_item, 0.1)
        else:
            established = in_cat & ~cold
            lo = max(0, end + 1 - window)
            rows = established if established.any() else in_cat
            rates = _weekday_rates(panel.target[rows, lo : end + 1], weekday[lo : end + 1])
        if np.isnan(rates).all():
            if everyone is None:
                lo = max(0, end + 1 - window)
                everyone = _weekday_rates(panel.target[:, lo : end + 1], weekday[lo : end + 1])
            rates = everyone
        profiles[str(cat)] = np.nan_to_num(rates, nan=np.nanmean(rates) if
                                           not np.isnan(rates).all() else 0.0)
    return profiles


def cold_start_forecast(
    panel: DemandPanel,
    rows: np.ndarray,
    end: int,
    horizon: int,
    settings: ForecastSettings,
    cold: np.ndarray,
    profiles: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Category-profile forecasts (len(rows) x horizon) for the cold-start series ``rows``."""
    rows = np.asarray(rows, dtype=int)
    if profiles is None:
        profiles = category_profiles(panel, end, settings, cold)
    out = np.zeros((len(rows), horizon))
    future_weekday = pd.date_range(panel.dates[end] + pd.Timedelta(days=1),
                                   periods=horizon).weekday.to_numpy()
    first = panel.series["first_day"].to_numpy()
    categories = panel.series["category"].astype(str).to_numpy()
    m = settings.cold_start_shrink_days
    for j, i in enumerate(rows):
        rates = profiles.get(categories[i])
        if rates is None:
            rates = np.zeros(7)
        cat_rate = float(np.mean(rates))
        days = max(end - first[i] + 1, 0)
        sold = float(np.nansum(panel.target[i, first[i] : end + 1])) if days else 0.0
        level = (sold + m * cat_rate) / (days + m) if days + m > 0 else cat_rate
        factor = rates / cat_rate if cat_rate > 0 else np.ones(7)
        out[j] = level * factor[future_weekday]
    return np.clip(np.nan_to_num(out), 0.0, None)
