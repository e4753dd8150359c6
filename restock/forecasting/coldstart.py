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

``settings.cold_start_model`` (default ``select``): per category, the profile above or
``recent_average`` (the item's last 28 days over 28 days, times a launch factor), whichever
scored lower in a pooled backtest over the series that were cold starts at eight weekly cutoffs
before as_of (:func:`choose_cold_start_models`). On UCI Online Retail (wholesale orders, launch
orders that do not recur) every category chose ``recent_average``: cold-start mean RMSSE
0.4422 -> 0.3099 (2026-12-04; docs/RESULTS.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # series without a day here
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
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
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


# --- the cold-start forecaster chosen by a pooled backtest (settings.cold_start_model) ---

#: Cold-start forecasters. ``recent_average``: the item's units of the last
#: ``moving_average_window`` days over that many days (days before its first sale count as 0:
#: a launch order is spread over the whole window, as a 28-day moving average of the daily
#: demand would), times a launch factor (:class:`ColdStartChoice`); ``category_profile``: as
#: above.
RECENT_AVERAGE = "recent_average"
COLD_START_MODELS = (COLD_START_MODEL, RECENT_AVERAGE)
#: Backtest cutoffs of the cold-start choice: every week back from ``horizon`` days before
#: as_of, this many (cheap: two numpy forecasts per young series and cutoff).
COLD_START_CUTOFFS = 8
#: Bounds of the fitted launch factor: never above the plain average, never below half of it
#: (a new item is not starved on the strength of one backtest).
LAUNCH_FACTOR_BOUNDS = (0.5, 1.0)


@dataclass
class ColdStartChoice:
    """What the pooled cold-start backtest chose (:func:`choose_cold_start_models`)."""

    models: dict[str, str] = field(default_factory=dict)  # category -> cold-start model
    launch_factor: float = 1.0  # multiplies recent_average
    scores: pd.DataFrame | None = None  # category, model, cutoff, rmsse per series x cutoff


def recent_average_forecast(panel: DemandPanel, rows: np.ndarray, end: int, horizon: int,
                            settings: ForecastSettings, factor: float = 1.0) -> np.ndarray:
    """``recent_average`` forecasts (len(rows) x horizon): flat, ``factor`` x the last
    window's daily mean."""
    w = settings.moving_average_window
    lo = max(0, end + 1 - w)
    total = np.nansum(panel.target[np.asarray(rows, dtype=int), lo : end + 1], axis=1)
    return np.repeat((factor * total / w)[:, None], horizon, axis=1)


def young_at(panel: DemandPanel, end: int, settings: ForecastSettings) -> np.ndarray:
    """Series that are cold starts at column ``end`` (first sale on or before it, too young)."""
    first = panel.series["first_day"].to_numpy()
    return (first <= end) & (end - first + 1 < settings.min_history_days)


def choose_cold_start_models(
    panel: DemandPanel, end: int, settings: ForecastSettings
) -> ColdStartChoice:
    """Cold-start forecaster per category, chosen by a pooled backtest.

    At :data:`COLD_START_CUTOFFS` weekly cutoffs ending ``horizon`` days before ``end``, every
    series that was a cold start there (:func:`young_at`) is forecast ``horizon`` days by each
    of :data:`COLD_START_MODELS` from its data up to the cutoff (series without an RMSSE scale,
    its one-step naive error since its first sale, are left out). The launch factor of
    ``recent_average`` is the ratio of the units these series sold to what the plain average
    forecast, pooled over all of them (young items sell less after their launch orders),
    within :data:`LAUNCH_FACTOR_BOUNDS`. Each model is then scored by RMSSE; a category keeps
    the model with the lowest mean over its scored series x cutoffs when it has at least
    ``settings.min_unit_sample`` of them, else the choice pooled over all categories; a model
    within ``settings.selection_tolerance`` of ``category_profile``'s score does not replace it.
    No scored series at all: ``category_profile`` everywhere, factor 1.
    """
    from restock.forecasting.metrics import one_step_naive_scale, rmsse

    h = settings.horizon
    categories = panel.series["category"].astype(str).to_numpy()
    folds = []
    for k in range(COLD_START_CUTOFFS):
        c = end - h - 7 * k
        if c < 1:
            break
        young = young_at(panel, c, settings)
        rows = np.flatnonzero(young)
        if not len(rows):
            continue
        scale = one_step_naive_scale(panel.target[rows, : c + 1])
        ok = np.isfinite(scale) & (scale > 0)
        rows, scale = rows[ok], scale[ok]
        if len(rows):
            folds.append((c, rows, panel.target[rows, c + 1 : c + 1 + h], scale,
                          cold_start_forecast(panel, rows, c, h, settings, young),
                          recent_average_forecast(panel, rows, c, h, settings)))
    everyone = {str(c): COLD_START_MODEL for c in np.unique(categories)}
    if not folds:
        return ColdStartChoice(everyone, 1.0, pd.DataFrame(
            columns=["category", "model", "cutoff", "rmsse"]))
    sold = sum(float(np.nansum(f[2])) for f in folds)
    plain = sum(float(f[5].sum()) for f in folds)
    factor = float(np.clip(sold / plain if plain > 0 else 1.0, *LAUNCH_FACTOR_BOUNDS))
    frames = []
    for c, rows, actual, scale, profile, average in folds:
        for model, fc in ((COLD_START_MODEL, profile), (RECENT_AVERAGE, factor * average)):
            frames.append(pd.DataFrame({"category": categories[rows], "model": model,
                                        "cutoff": panel.dates[c],
                                        "rmsse": rmsse(actual, fc, scale)}))
    scores = pd.concat(frames, ignore_index=True)
    scores = scores[np.isfinite(scores["rmsse"])]

    def pick(table: pd.DataFrame) -> str:
        mean = table.groupby("model")["rmsse"].mean()
        if COLD_START_MODEL not in mean:
            return COLD_START_MODEL
        best = mean.idxmin()
        return best if mean[best] < mean[COLD_START_MODEL] * (1.0 - settings.selection_tolerance) \
            else COLD_START_MODEL

    pooled = pick(scores)
    counts = scores[scores["model"] == COLD_START_MODEL].groupby("category").size()
    chosen = {}
    for cat in everyone:
        own = scores[scores["category"] == cat]
        chosen[cat] = pick(own) if counts.get(cat, 0) >= settings.min_unit_sample else pooled
    return ColdStartChoice(chosen, factor, scores)


def cold_forecasts(panel: DemandPanel, rows: np.ndarray, end: int, settings: ForecastSettings,
                   cold: np.ndarray, models: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Forecasts of the cold-start ``rows`` by their ``models`` (one of COLD_START_MODELS)."""
    rows = np.asarray(rows, dtype=int)
    out = np.zeros((len(rows), settings.horizon))
    profile = models == COLD_START_MODEL
    if profile.any():
        out[profile] = cold_start_forecast(panel, rows[profile], end, settings.horizon,
                                           settings, cold)
    if (~profile).any():
        out[~profile] = recent_average_forecast(panel, rows[~profile], end, settings.horizon,
                                                settings, factor)
    return np.clip(np.nan_to_num(out), 0.0, None)
