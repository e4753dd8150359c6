"""Forecasting weekly and monthly feeds at their grain, then as daily rates for the policy.

A feed at week or month grain (``feed.yml`` or detected, ``restock.grain``) holds period totals
dated on the period's first day; read as daily sales they are one big day and six (or ~29)
empty ones, which gave a -72 % bias on monthly spare parts. ``run_forecasting`` therefore
forecasts such feeds here (:func:`forecast_at_grain`):

1. Periods. The daily demand (the mart's spine of zeros between period dates included) is
   summed per series into periods: weeks starting on the feed's weekday (the weekday most
   dates with demand fall on; ISO Monday for MAN), or calendar months. Periods starting on or
   before as_of are history (a period dated as_of holds its recorded total).
2. Same machinery, period steps. The periods are laid on a consecutive day grid (period i ->
   day i of a fixed origin), so the backtest, selection, calibration and candidates run
   unchanged with one step = one period, and settings converted to periods
   (:func:`period_settings`): horizon and backtest horizon rounded up to whole periods, the
   step at least the backtest horizon (folds that do not score the same periods twice),
   season 52 (weeks) or 12 (months), minimum history 8 periods (weeks) or 4 (months), the
   moving average over 13 weeks or 6 months, fit windows in periods, and the candidates of
   intermittent demand plus ADIDA (temporal aggregation) and the year's average
   (``moving_average_long``: 52 weeks or 12 months); ``lightgbm_global`` and
   ``adida_weekly`` are left out (their calendar features and weekday spread are daily; the
   grid's dates carry no calendar).
   Every rule of the backtest (folds adapted to the history) applies in periods.
3. Back to days (:func:`spread_to_days`). The policy, the replay and the tables work in days
   (lead times in days), so each forecast period is spread evenly over its days: the daily
   forecast and the daily p50..p99 of a day are the period's divided by its number of days
   (a daily rate, so the days of a period sum to the period's forecast). The forecast periods,
   with their calendar lengths, are laid end to end from the day after as_of: the feed's last
   period counts as complete at as_of (its row is dated on its first day, but it holds the
   period's total), so the next days are the next period's.
   The cumulative table keeps the quantiles of period totals: at ``horizon_days`` = d, x(d)
   periods have elapsed (each day counts 1 / its period's days) and the quantity is the
   cumulative quantile of floor(x) periods plus the fraction of the next period's increment
   (linear interpolation between whole periods, 0 at 0). At whole periods it is exactly the
   backtest-calibrated quantile of the period totals; inside a period it assumes the period's
   demand arrives evenly.
4. Tables. ``demand_forecasts`` and ``cumulative_quantiles`` are daily as above;
   ``backtest_metrics`` and ``backtest_predictions`` stay at the feed's grain (cutoffs and
   dates are the real period starts; ``horizon`` counts periods);
   ``series_assignments.history_days`` and ``mean_daily_demand`` are in days; the
   ``model_selection`` reason says that the unit was forecast at the feed's grain. The
   calibration is the periods' (its steps are periods).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from restock.forecasting.models import GLOBAL_CANDIDATES, NUMPY_CANDIDATES
from restock.forecasting.settings import ForecastSettings
from restock.grain import detect_grain

logger = logging.getLogger("restock.forecasting")

#: Origin of the consecutive day grid the periods are laid on (any date works).
GRID_ORIGIN = pd.Timestamp("2000-01-03")
SEASON = {"week": 52, "month": 12}
MOVING_AVERAGE = {"week": 13, "month": 6}
MIN_HISTORY = {"week": 8, "month": 4}
SHORTEST_PERIOD = {"week": 7, "month": 28}
#: Tried on every weekly / monthly unit besides the day candidates left in. The year's average
#: (``moving_average_long``, 52 weeks / 12 months) was added 2026-12-05 after the weekly bench
#: (bench/spare_parts_bench.py, 9fb0bc5): mean RMSSE MAN 0.5444 -> 0.5433 (13 weeks earlier
#: 0.7169 -> 0.7156), M5 CA_1 summed to weeks 0.8855 -> 0.8683, UCI Online Retail weekly 0.9804
#: -> 0.9798 (a series younger than the window gets the average of its life).
COARSE_CANDIDATES = ("croston_sba", "tsb", "imapa", "adida", "moving_average_long")
_GRAIN_WORD = {"week": "weekly", "month": "monthly"}


def demand_grain(demand: pd.DataFrame) -> str:
    """The grain of a demand mart: detected on its rows with demand (``restock.grain``)."""
    sold = demand[pd.to_numeric(demand["units_sold"], errors="coerce").fillna(0) > 0]
    return detect_grain(sold["sku"].astype(str) + "|" + sold["location"].astype(str),
                        sold["date"])


def period_starts(dates: pd.Series | pd.DatetimeIndex, grain: str, anchor: int = 0
                  ) -> pd.DatetimeIndex:
    """Start of the period of each date: weeks starting on weekday ``anchor``, or months."""
    d = pd.DatetimeIndex(pd.to_datetime(dates)).normalize()
    if grain == "month":
        return pd.DatetimeIndex(d.to_period("M").to_timestamp())
    offset = (d.weekday - anchor) % 7
    return d - pd.to_timedelta(offset, unit="D")


def next_period(start: pd.Timestamp, grain: str) -> pd.Timestamp:
    """Start of the period after the one starting at ``start``."""
    if grain == "month":
        return start + pd.offsets.MonthBegin(1)
    return start + pd.Timedelta(days=7)


def period_settings(settings: ForecastSettings, grain: str) -> ForecastSettings:
    """``settings`` in periods of ``grain`` (rules in the module docstring, step 2)."""
    days = SHORTEST_PERIOD[grain]

    def periods(n: int | None) -> int | None:
        return None if n is None else max(1, math.ceil(n / days))

    candidates = [c for c in settings.candidates
                  if c not in GLOBAL_CANDIDATES and c not in NUMPY_CANDIDATES]
    candidates += [c for c in COARSE_CANDIDATES if c not in candidates]
    horizon = periods(settings.horizon)
    train = max(periods(settings.train_window_days), 3 * SEASON[grain])
    # model_copy skips validation: the period counts are below the day-based minimums
    return settings.model_copy(update={
        "grain": "day",
        "horizon": horizon,
        "backtest_horizon": periods(settings.backtest_horizon or settings.horizon),
        # folds a horizon apart: period data are few, overlapping folds score the same weeks
        "step_days": max(periods(settings.step_days),
                         periods(settings.backtest_horizon or settings.horizon)),
        "season_length": SEASON[grain],
        "min_history_days": MIN_HISTORY[grain],
        "moving_average_window": MOVING_AVERAGE[grain],
        "long_average_window": SEASON[grain],
        "train_window_days": train,
        "costly_window_days": train,
        "cold_start_shrink_days": settings.cold_start_shrink_days / days,
        # the pooled cold-start backtest steps in days (weekly cutoffs): not measured on
        # period data, so periods keep the category profile unless a model is named
        "cold_start_model": ("category_profile" if settings.cold_start_model == "select"
                             else settings.cold_start_model),
        "impute_weeks": 1,
        "candidates": candidates,
        "holiday_country": None,
        "censored_handling": "none",
    })


def to_periods(demand: pd.DataFrame, as_of: pd.Timestamp, grain: str
               ) -> tuple[pd.DataFrame, pd.DatetimeIndex, int]:
    """Period totals on the day grid: (demand frame, real start of each grid day, anchor)."""
    demand = demand[pd.to_datetime(demand["date"]) <= as_of]
    sold = demand[pd.to_numeric(demand["units_sold"], errors="coerce").fillna(0) > 0]
    weekdays = pd.DatetimeIndex(pd.to_datetime(sold["date"])).weekday
    anchor = int(pd.Series(weekdays).mode().iloc[0]) if len(sold) and grain == "week" else 0
    start = period_starts(demand["date"], grain, anchor)
    frame = pd.DataFrame({
        "sku": demand["sku"].to_numpy(), "location": demand["location"].to_numpy(),
        "category": demand["category"].to_numpy(), "period": start,
        "units_sold": pd.to_numeric(demand["units_sold"], errors="coerce").fillna(0.0)
        .clip(lower=0).to_numpy(),
    })
    totals = (frame.groupby(["sku", "location", "period"], sort=True)
              .agg(category=("category", "first"), units_sold=("units_sold", "sum"))
              .reset_index())
    first, last = totals["period"].min(), period_starts([as_of], grain, anchor)[0]
    starts = pd.DatetimeIndex([first])
    while starts[-1] < last:
        starts = starts.append(pd.DatetimeIndex([next_period(starts[-1], grain)]))
    grid = pd.Series(GRID_ORIGIN + pd.to_timedelta(np.arange(len(starts)), unit="D"),
                     index=starts)
    totals["date"] = grid.reindex(totals["period"]).to_numpy()
    totals = totals.drop(columns="period")
    totals["is_censored"] = False
    totals["stockout_hours"] = np.nan
    return totals, starts, anchor


def day_positions(horizon: int, first_forecast: pd.Timestamp, grain: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(forecast period index, days of that period) of each day as_of+1 .. as_of+horizon.

    The forecast periods (the first starting ``first_forecast``, with their calendar lengths)
    are laid end to end from the day after as_of (module docstring, step 3).
    """
    bounds = [first_forecast]
    while (bounds[-1] - first_forecast).days < horizon:
        bounds.append(next_period(bounds[-1], grain))
    lengths = np.diff(pd.DatetimeIndex(bounds).asi8) // 86_400_000_000_000
    ends = np.cumsum(lengths)  # day (1-based from as_of) each period ends on
    day = np.arange(1, horizon + 1)
    idx = np.searchsorted(ends, day, side="left")
    return idx, lengths[idx].astype(float)


def spread_to_days(
    per_period: np.ndarray, idx: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """Daily rates (series x days) from period values (series x periods): value / days."""
    return per_period[:, idx] / lengths[None, :]


def cumulative_days(
    cum_periods: np.ndarray, idx: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """Cumulative quantity over d = 1..days from cumulative quantities over whole periods.

    ``cum_periods`` (series x periods): the quantile of the total over the first k periods
    (k = 1..). Linear between whole periods (module docstring, step 3), 0 at 0.
    """
    x = np.cumsum(1.0 / lengths)  # periods elapsed after each day
    padded = np.concatenate([np.zeros((cum_periods.shape[0], 1)), cum_periods], axis=1)
    k = np.clip(np.floor(x + 1e-9).astype(int), 0, padded.shape[1] - 1)
    k1 = np.clip(k + 1, 0, padded.shape[1] - 1)
    frac = np.clip(x - k, 0.0, 1.0)
    return padded[:, k] + frac[None, :] * (padded[:, k1] - padded[:, k])


def tables_to_days(
    fc: pd.DataFrame, cum: pd.DataFrame, as_of: pd.Timestamp, horizon: int,
    period_horizon: int, first_forecast: pd.Timestamp, grain: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily forecasts, cumulative quantiles) in days from the same tables in periods.

    ``fc`` and ``cum`` are a forecast of ``period_horizon`` periods on the period grid (one
    step = one period); the forecast periods, the first starting ``first_forecast``, are laid
    end to end from the day after ``as_of`` (module docstring, step 3).
    """
    from restock.forecasting.final import DAILY_QUANTILES, FORECAST_COLUMNS

    idx, lengths = day_positions(horizon, first_forecast, grain)
    days = pd.date_range(as_of + pd.Timedelta(days=1), periods=horizon)

    # daily table: period values / days
    keys = fc[["sku", "location"]].drop_duplicates().reset_index(drop=True)
    n, hp = len(keys), period_horizon
    first_rows = fc.groupby(["sku", "location"], sort=False).head(1).reset_index(drop=True)
    daily = pd.DataFrame({
        "sku": np.repeat(keys["sku"].to_numpy(), len(days)),
        "location": np.repeat(keys["location"].to_numpy(), len(days)),
        "date": np.tile(days.to_numpy(), n),
    })
    for col in ("model", "category", "demand_class", "is_cold_start"):
        daily[col] = np.repeat(first_rows[col].to_numpy(), len(days))
    for col in ["forecast", *(name for _, name in DAILY_QUANTILES)]:
        values = fc[col].to_numpy(dtype=float).reshape(n, hp)
        daily[col] = spread_to_days(values, idx, lengths).ravel()
    daily = daily[FORECAST_COLUMNS]

    # cumulative table: quantiles of period totals, interpolated inside periods
    levels = np.sort(cum["level"].unique())
    order = keys.assign(_k=np.arange(n))
    cum = cum.merge(order, on=["sku", "location"]).sort_values(["_k", "horizon_days", "level"])
    cube = cum["quantity"].to_numpy(dtype=float).reshape(n, hp, len(levels))
    out = np.stack([cumulative_days(cube[:, :, j], idx, lengths) for j in range(len(levels))],
                   axis=2)
    cumulative = pd.DataFrame({
        "sku": np.repeat(keys["sku"].to_numpy(), len(days) * len(levels)),
        "location": np.repeat(keys["location"].to_numpy(), len(days) * len(levels)),
        "horizon_days": np.tile(np.repeat(np.arange(1, len(days) + 1), len(levels)), n),
        "level": np.tile(levels, n * len(days)),
        "quantity": out.ravel(),
    })
    return daily, cumulative


def forecast_at_grain(
    demand: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: ForecastSettings,
    grain: str,
    products: pd.DataFrame | None = None,
    *,
    run_forecasting,
):
    """``run_forecasting`` for a week or month feed (module docstring); a ForecastResult.

    ``run_forecasting`` is the daily path (restock.forecasting.nightly passes its own), run on
    the period totals as if each period were a day: this module stays below nightly.py.
    """
    as_of = pd.Timestamp(as_of).normalize()
    totals, starts, anchor = to_periods(demand, as_of, grain)
    inner = period_settings(settings, grain)
    grid_as_of = GRID_ORIGIN + pd.Timedelta(days=len(starts) - 1)
    logger.info("forecasting at %s grain: %d periods from %s, %d series", grain, len(starts),
                starts[0].date(), totals[["sku", "location"]].drop_duplicates().shape[0])
    result = run_forecasting(totals, grid_as_of, inner, products=products)

    first_forecast = next_period(starts[-1], grain)
    per_day = 365.25 / 12 if grain == "month" else 7.0
    daily, cumulative = tables_to_days(result.demand_forecasts, result.cumulative_quantiles,
                                       as_of, settings.horizon, inner.horizon, first_forecast,
                                       grain)

    # backtest tables at the feed's grain, with the real period starts
    real = pd.Series(starts, index=GRID_ORIGIN + pd.to_timedelta(np.arange(len(starts)),
                                                                 unit="D"))
    metrics = result.backtest_metrics.copy()
    if len(metrics):
        metrics["cutoff"] = real.reindex(pd.DatetimeIndex(metrics["cutoff"])).to_numpy()
    predictions = result.backtest_predictions.copy()
    if len(predictions):
        grid_days = (pd.DatetimeIndex(predictions["date"]) - GRID_ORIGIN).days.to_numpy()
        future = [starts[-1]]
        while len(starts) + len(future) - 1 <= grid_days.max():
            future.append(next_period(future[-1], grain))
        all_starts = starts.append(pd.DatetimeIndex(future[1:]))
        predictions["date"] = all_starts[grid_days]
        predictions["cutoff"] = real.reindex(pd.DatetimeIndex(predictions["cutoff"])).to_numpy()

    assignments = result.series_assignments.copy()
    assignments["history_days"] = np.round(assignments["history_days"] * per_day).astype(int)
    assignments["mean_daily_demand"] = assignments["mean_daily_demand"] / per_day
    assignments["level"] = assignments["level"] / per_day

    selection = result.model_selection.copy()
    word = _GRAIN_WORD[grain]
    selection["reason"] = (f"Forecast at {word} grain (the feed's {grain}ly totals, spread "
                           "evenly over the days): " + selection["reason"].astype(str))
    note = (f"forecast at {grain} grain: {len(starts)} {grain}s of history, horizon "
            f"{inner.horizon} {grain}s spread over {settings.horizon} days, season "
            f"{inner.season_length}")
    logger.info("%s", note)
    result.demand_forecasts = daily
    result.cumulative_quantiles = cumulative
    result.backtest_metrics = metrics
    result.backtest_predictions = predictions
    result.series_assignments = assignments
    result.model_selection = selection
    result.adaptations = [note, *result.adaptations]
    result.grain = grain
    return result
