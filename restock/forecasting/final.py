"""The one forecasting path: final forecasts and their quantile tables from a selection.

Both the nightly (``nightly.run_forecasting``, at as_of) and the replay planner
(``planner.ReplayPlanner``, at every review date) call :func:`final_forecasts`, in named steps:

1. ``forecast_selected``: every series that still needs a forecast gets one from the model its
   unit selected, one call per model for all its series. A global model (lightgbm_global)
   learns from every warm series, as in the backtest, fitted once even when combinations use it
   too; a combination averages its members (``combination.combine``); a model that cannot
   forecast falls back to seasonal naive (logged, and the series carry that model's name so
   their quantiles come from its pool). Forecasts the caller already has (the planner's models
   fitted at the replay start, re-applied at the review) come in through ``known``.
2. ``forecast_cold_start``: series younger than ``min_history_days`` get the category profile
   (or ``recent_average``: ``settings.cold_start_model``, or per category as chosen by the
   nightly's pooled cold-start backtest, ``coldstart.choose_cold_start_models``).
3. ``quantile_tables``: daily p50..p99 and cumulative quantiles from the calibration
   (cold-start series use the moving-average pool: their profile is a rate), as the long
   tables ``demand_forecasts`` and ``cumulative_quantiles`` publish. With
   ``settings.daily_quantile_method = "negbin"`` the daily ones are negative-binomial
   quantiles around each day's forecast with the series' own dispersion, shrunk towards its
   unit's (``series_dispersion``; calibration.py's docstring has the measurements).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting.backtest import series_level
from restock.forecasting.calibration import (
    Calibration,
    cumulative_quantiles,
    daily_history_cap,
    daily_quantiles,
    history_cap,
    is_count_series,
    largest_totals,
    negbin_daily_quantiles,
    series_dispersion,
    shrunk_dispersion,
    spread_index,
)
from restock.forecasting.censoring import DemandPanel
from restock.forecasting.coldstart import (
    COLD_START_MODEL,
    COLD_START_MODELS,
    ColdStartChoice,
    cold_forecasts,
)
from restock.forecasting.combination import combine
from restock.forecasting.fitting import ExogenousInputs, forecast_panel
from restock.forecasting.models import (
    GLOBAL_CANDIDATES,
    NAIVE_MODEL,
    combination_members,
    is_combination,
)
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Calibration pool used for cold-start series (their profile is a rate, like a moving average).
COLD_START_POOL_MODEL = "moving_average"

FORECAST_COLUMNS = [
    "sku", "location", "date", "model", "forecast", "p50", "p90", "p95", "p99", "category",
    "demand_class", "is_cold_start",
]
#: The daily quantile columns of the forecast table and the levels they hold.
DAILY_QUANTILES = ((0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99"))

#: ``known(model, rows) -> (values, have)``: forecasts the caller already holds for ``rows``
#: (``values[have]``), or None.
KnownForecasts = Callable[[str, np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass
class PlanInputs:
    """What a replenishment planner sees on one night.

    ``daily``: sku, location, date, model, forecast, p50, p90, p95, p99, category,
    demand_class, is_cold_start (``demand_forecasts`` without run columns).
    ``cumulative``: sku, location, horizon_days, level, quantity (level 0 = the mean), like
    ``cumulative_quantiles``.
    """

    daily: pd.DataFrame
    cumulative: pd.DataFrame


@dataclass
class FinalForecasts:
    """What :func:`final_forecasts` returns, for the series it was asked about (``live``)."""

    assignments: pd.DataFrame  # the input rows of the live series, ``model`` as forecast
    forecast: np.ndarray  # series x horizon
    level: np.ndarray  # series_level at the forecast origin
    tables: PlanInputs
    seconds: dict[str, float] = field(default_factory=dict)


def final_forecasts(
    panel: DemandPanel,
    end: int,
    assignments: pd.DataFrame,
    settings: ForecastSettings,
    calibration: Calibration,
    *,
    cold: np.ndarray,
    exogenous: ExogenousInputs | None = None,
    live: np.ndarray | None = None,
    forecast: np.ndarray | None = None,
    done: np.ndarray | None = None,
    known: KnownForecasts | None = None,
    n_jobs: int | None = None,
    clip: bool = False,
    log_models: bool = True,
    cold_choice: ColdStartChoice | None = None,
) -> FinalForecasts:
    """Final forecasts of every live series from column ``end`` and their quantile tables.

    Parameters
    ----------
    panel : DemandPanel
    end : int
        Column of the forecast origin (as_of, or a review date).
    assignments : DataFrame
        One row per panel series: sku, location, category, unit, demand_class, model (the
        unit's selected model).
    settings : ForecastSettings
    calibration : Calibration
    cold : ndarray of bool
        Series forecast by the cold-start profile.
    exogenous : ExogenousInputs, optional
        For candidates that use exogenous data.
    live : ndarray of bool, optional
        Series that exist at ``end`` (default all); the tables hold only these.
    forecast, done : ndarray, optional
        Forecasts already made (rows where ``done``), kept as they are.
    known : callable, optional
        Forecasts the caller holds per model (see :data:`KnownForecasts`).
    n_jobs : int, optional
        Processes of the per-model statsforecast calls (default ``settings.n_jobs``).
    clip : bool
        Replace non-finite values by 0 and clip at 0 before the quantiles (the planner's
        re-applied models are not clipped by ``forecast_panel``).
    log_models : bool
        Log each model's series count and time (the nightly; not at every review).
    cold_choice : ColdStartChoice, optional
        Cold-start forecaster per category and launch factor
        (``coldstart.choose_cold_start_models``); default ``settings.cold_start_model``
        ('select' without a choice: the category profile).

    Returns
    -------
    FinalForecasts
    """
    n, h = panel.n_series, settings.horizon
    live = np.ones(n, dtype=bool) if live is None else live
    forecast = np.zeros((n, h)) if forecast is None else forecast
    done = np.zeros(n, dtype=bool) if done is None else done
    started = time.perf_counter()
    models = assignments["model"].to_numpy().copy()
    forecast_selected(panel, end, models, forecast, live & ~cold & ~done, settings,
                      train=np.flatnonzero(live & ~cold), exogenous=exogenous, known=known,
                      n_jobs=n_jobs, log_models=log_models)
    forecast_cold_start(panel, end, models, forecast, cold & live, settings, cold_choice)
    if settings.implausible_forecast_multiple > 0:
        replace_implausible(panel, end, models, forecast, live & ~cold, settings,
                            train=np.flatnonzero(live & ~cold), exogenous=exogenous)
    if clip:
        forecast = np.clip(np.nan_to_num(forecast), 0.0, None)
    seconds = {"forecast": time.perf_counter() - started}

    started = time.perf_counter()
    rows = np.flatnonzero(live)
    out = assignments.iloc[rows].reset_index(drop=True).copy()
    out["model"] = models[rows]
    level = series_level(panel.target, end,
                         dormant_intervals=settings.dormant_after_intervals)[rows]
    dispersion = None
    if settings.daily_quantile_method == "negbin":
        alpha, days = series_dispersion(panel.target[rows], end, settings.dispersion_window_days)
        dispersion = shrunk_dispersion(alpha, days, out["unit"].to_numpy(),
                                       settings.dispersion_shrink_days)
        # not whole units (weights, normalised quantities): the scaled pools
        whole = is_count_series(panel.sales[rows], end, settings.dispersion_window_days)
        dispersion[~whole] = np.nan
    spread = (spread_index(panel.target, end)[rows]
              if settings.cumulative_scale == "dispersion" else None)
    cap = None
    if settings.cumulative_history_cap > 0:
        cap = history_cap(panel.sales[rows], end, forecast[rows],
                          settings.cumulative_history_cap)
    day_cap = None
    if settings.daily_history_cap > 0:
        day_cap = daily_history_cap(panel.sales[rows], end, forecast[rows],
                                    settings.daily_history_cap)
    tables = quantile_tables(out, forecast[rows], level, calibration, panel.dates[end],
                             dispersion=dispersion, spread=spread, cap=cap, daily_cap=day_cap)
    seconds["quantiles"] = time.perf_counter() - started
    return FinalForecasts(out, forecast[rows], level, tables, seconds)


#: What a series' forecast falls back to when it is implausible (``replace_implausible``):
#: the 28-day moving average with one-off order lines capped, which cannot exceed its history.
IMPLAUSIBLE_FALLBACK = "moving_average_capped"


def replace_implausible(
    panel: DemandPanel,
    end: int,
    models: np.ndarray,
    forecast: np.ndarray,
    rows: np.ndarray,
    settings: ForecastSettings,
    *,
    train: np.ndarray,
    exogenous: ExogenousInputs | None = None,
) -> np.ndarray:
    """Re-forecast, with :data:`IMPLAUSIBLE_FALLBACK`, the series among ``rows`` whose forecast
    total over some k days (k up to their history's length) is above
    ``settings.implausible_forecast_multiple`` x the largest k-day total they ever sold (at
    least one unit a day); ``models`` and ``forecast`` are updated in place. Returns the mask
    of series replaced.

    A model can run away on one series (AutoETS on a trend from a single spike: UCI Online
    Retail as of 2010-11-11, 84879 / United Kingdom forecast 2,201 units a day against 107 a
    day sold on average and 3,136 at most). The magnitude guard then blocks the whole night's
    publication for a handful of series; the fallback gives those series a forecast their
    history supports and says so in the log (their ``model`` is the fallback's).
    """
    h = forecast.shape[1]
    idx = np.flatnonzero(rows)
    if idx.size == 0:
        return np.zeros(len(models), dtype=bool)
    sales = panel.sales[idx]
    most = largest_totals(sales, end, h)
    seen = np.minimum((~np.isnan(sales[:, : end + 1])).sum(axis=1), h)  # days of history
    k = np.arange(1, h + 1)
    total = np.cumsum(np.clip(np.nan_to_num(forecast[idx]), 0.0, None), axis=1)
    limit = settings.implausible_forecast_multiple * np.maximum(most, k[None, :])
    judged = k[None, :] <= seen[:, None]  # a k-day maximum is known only within the history
    bad_rows = idx[((total > limit) & judged).any(axis=1)]
    bad = np.zeros(len(models), dtype=bool)
    if bad_rows.size == 0:
        return bad
    examples = ", ".join(f"{panel.series['series_id'].iloc[r]} ({models[r]})"
                         for r in bad_rows[:5])
    logger.warning("%d series' forecasts above %gx the most they ever sold in as many days: "
                "re-forecast with %s, e.g. %s", bad_rows.size,
                settings.implausible_forecast_multiple, IMPLAUSIBLE_FALLBACK, examples)
    bad[bad_rows] = True
    models[bad] = IMPLAUSIBLE_FALLBACK
    forecast_selected(panel, end, models, forecast, bad, settings, train=train,
                      exogenous=exogenous, log_models=False)
    return bad


def forecast_selected(
    panel: DemandPanel,
    end: int,
    models: np.ndarray,
    forecast: np.ndarray,
    todo: np.ndarray,
    settings: ForecastSettings,
    *,
    train: np.ndarray,
    exogenous: ExogenousInputs | None = None,
    known: KnownForecasts | None = None,
    n_jobs: int | None = None,
    log_models: bool = True,
) -> None:
    """Step 1 (module docstring): fill ``forecast[todo]`` from each series' ``models`` entry.

    ``train``: rows a global model is fitted on. ``models`` is updated in place where a model
    falls back to seasonal naive.
    """
    h = settings.horizon
    global_cache: dict[str, np.ndarray | None] = {}

    def fit_global(model: str) -> np.ndarray | None:
        if model not in global_cache:
            fc = forecast_panel(panel, train, end, [model], settings, h, exogenous)
            global_cache[model] = fc.get(model)
        return global_cache[model]

    def base_forecast(model: str, rows: np.ndarray) -> np.ndarray | None:
        got = known(model, rows) if known is not None else None
        values, have = got if got is not None else (np.zeros((len(rows), h)),
                                                     np.zeros(len(rows), dtype=bool))
        if have.all():
            return values
        missing = rows[~have]
        if model in GLOBAL_CANDIDATES:
            full = fit_global(model)
            if full is None:
                return None
            values[~have] = full[np.searchsorted(train, missing)]
            return values
        one = forecast_panel(panel, missing, end, [model], settings, h, exogenous,
                             n_jobs=n_jobs).get(model)
        if one is None:
            return None
        values[~have] = one
        return values

    for model in sorted(set(models[todo])):
        rows = np.flatnonzero(todo & (models == model))
        started = time.perf_counter()
        if is_combination(model):
            got = [base_forecast(m, rows) for m in combination_members(model)]
            got = [g for g in got if g is not None]
            values = combine(got) if got else None
        else:
            values = base_forecast(model, rows)
        if values is None:  # an optional candidate failed here: fall back to naive
            logger.warning("%s could not forecast at %s; using %s", model,
                           panel.dates[end].date(), NAIVE_MODEL)
            values = forecast_panel(panel, rows, end, [NAIVE_MODEL], settings, h,
                                    n_jobs=n_jobs)[NAIVE_MODEL]
            models[rows] = NAIVE_MODEL
        forecast[rows] = values
        if log_models:
            logger.info("final forecast: %s on %d series in %.1f s", model, len(rows),
                        time.perf_counter() - started)


def forecast_cold_start(
    panel: DemandPanel,
    end: int,
    models: np.ndarray,
    forecast: np.ndarray,
    cold: np.ndarray,
    settings: ForecastSettings,
    cold_choice: ColdStartChoice | None = None,
) -> None:
    """Step 2 (module docstring): the cold-start forecast of the ``cold`` rows, in place.

    Each row's forecaster: its category's entry in ``cold_choice.models``, else
    ``settings.cold_start_model`` when that names a model, else the category profile.
    """
    rows = np.flatnonzero(cold)
    if not len(rows):
        return
    default = (settings.cold_start_model if settings.cold_start_model in COLD_START_MODELS
               else COLD_START_MODEL)
    categories = panel.series["category"].astype(str).to_numpy()[rows]
    choice = cold_choice or ColdStartChoice()
    chosen = np.array([choice.models.get(c, default) for c in categories], dtype=object)
    forecast[rows] = cold_forecasts(panel, rows, end, settings, cold, chosen,
                                    choice.launch_factor)
    models[rows] = chosen


def quantile_tables(
    assignments: pd.DataFrame,
    forecast: np.ndarray,
    level: np.ndarray,
    calibration: Calibration,
    origin: pd.Timestamp,
    dispersion: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    cap: np.ndarray | None = None,
    daily_cap: np.ndarray | None = None,
) -> PlanInputs:
    """Step 3 (module docstring): the daily and cumulative quantile tables of ``forecast``.

    ``dispersion`` (per series): daily quantiles are negative-binomial around the forecast
    with it (``negbin_daily_quantiles``) where it is finite; None or NaN = the calibration's
    scaled-error pools. ``spread`` (per series): the cumulative quantiles' index of dispersion
    (``settings.cumulative_scale = "dispersion"``, :func:`calibration.spread_index`).
    ``cap`` (series x H): the cumulative quantiles' upper bound
    (``settings.cumulative_history_cap``, :func:`calibration.history_cap`). ``daily_cap``
    (series x H): the daily quantiles' (``settings.daily_history_cap``,
    :func:`calibration.daily_history_cap`).
    """
    pools = assignments[["unit", "demand_class", "model"]].copy()
    pools.loc[pools["model"].isin(COLD_START_MODELS), "model"] = COLD_START_POOL_MODEL
    nb = np.zeros(len(forecast), dtype=bool) if dispersion is None else np.isfinite(dispersion)
    daily = daily_quantiles(calibration, pools, forecast, level) if not nb.all() else {}
    if nb.any():
        negbin = negbin_daily_quantiles(calibration.daily_levels, forecast[nb], dispersion[nb])
        for p, q in negbin.items():
            if p not in daily:
                daily[p] = np.zeros_like(forecast, dtype=float)
            daily[p][nb] = q
    if daily_cap is not None:
        daily = {p: np.minimum(q, daily_cap) for p, q in daily.items()}
    cumulative = cumulative_quantiles(calibration, pools, forecast, level, spread, cap)
    dates = pd.date_range(pd.Timestamp(origin) + pd.Timedelta(days=1),
                          periods=forecast.shape[1])
    return PlanInputs(
        daily=forecast_table(assignments, dates, forecast, daily),
        cumulative=cumulative_frame(assignments, forecast, cumulative,
                                    calibration.cumulative_levels),
    )


def forecast_table(assignments: pd.DataFrame, dates: pd.DatetimeIndex, forecast: np.ndarray,
                   daily: dict[float, np.ndarray]) -> pd.DataFrame:
    """Long daily table (:data:`FORECAST_COLUMNS`) of the forecasts and their quantiles."""
    n, h = forecast.shape

    def rep(col: str) -> np.ndarray:
        return np.repeat(assignments[col].to_numpy(), h)

    table = pd.DataFrame({
        "sku": rep("sku"), "location": rep("location"), "date": np.tile(dates.to_numpy(), n),
        "model": rep("model"), "forecast": forecast.ravel(),
    })
    for p, name in DAILY_QUANTILES:
        q = daily.get(p)
        if q is None:  # a level outside settings.quantile_levels: nearest higher one
            q = daily[min((lv for lv in daily if lv >= p), default=max(daily))]
        table[name] = q.ravel()
    table["category"] = rep("category")
    table["demand_class"] = rep("demand_class")
    table["is_cold_start"] = np.repeat(assignments["model"].isin(COLD_START_MODELS).to_numpy(), h)
    return table[FORECAST_COLUMNS]


def cumulative_frame(assignments: pd.DataFrame, forecast: np.ndarray, cumulative: np.ndarray,
                     levels: np.ndarray) -> pd.DataFrame:
    """Long cumulative-quantile table: sku, location, horizon_days, level, quantity.

    Level 0 rows hold the mean (the forecast total).
    """
    n, h = forecast.shape
    values = np.concatenate([np.cumsum(forecast, axis=1)[:, :, None], cumulative], axis=2)
    all_levels = np.concatenate([[0.0], levels])
    nl = len(all_levels)
    return pd.DataFrame({
        "sku": np.repeat(assignments["sku"].to_numpy(), h * nl),
        "location": np.repeat(assignments["location"].to_numpy(), h * nl),
        "horizon_days": np.tile(np.repeat(np.arange(1, h + 1), nl), n),
        "level": np.tile(all_levels, n * h),
        "quantity": values.ravel(),
    })
