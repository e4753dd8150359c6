"""Fit candidates on a panel's series up to a cutoff and forecast the next days.

:func:`forecast_panel` is the one fit-and-forecast step of the backtest folds and of the final
forecasts (:mod:`restock.forecasting.final`), so both see the same models fitted the same way:
cheap local models on the long training window and costly ones on the short one (one
``StatsForecastPanel`` call each), adida_weekly in numpy, global models once on all the series
(:func:`_forecast_global`), combinations as the mean of their members.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.forecasting.aggregate import adida_weekly_forecast
from restock.forecasting.censoring import DemandPanel
from restock.forecasting.combination import combine
from restock.forecasting.features import build_exogenous
from restock.forecasting.models import (
    COSTLY,
    GLOBAL_CANDIDATES,
    NUMPY_CANDIDATES,
    build_candidate,
    combination_members,
    is_combination,
    make_panel_forecaster,
    predictions_to_wide,
    uses_exogenous,
    wide_to_panel,
)
from restock.forecasting.robust import capped_moving_average
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Window-average candidates and the setting that holds their window (days or periods).
_AVERAGE_WINDOWS = {"moving_average": "moving_average_window",
                    "moving_average_long": "long_average_window"}


@dataclass
class ExogenousInputs:
    """Inputs the exogenous feature builder needs (all optional but ``demand``)."""

    demand: pd.DataFrame
    promotions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    drivers: pd.DataFrame | None = None
    products: pd.DataFrame | None = None


def forecast_panel(
    panel: DemandPanel,
    rows: np.ndarray,
    end: int,
    models: list[str],
    settings: ForecastSettings,
    horizon: int,
    exogenous: ExogenousInputs | None = None,
    n_jobs: int | None = None,
) -> dict[str, np.ndarray]:
    """Fit ``models`` on the series ``rows`` up to column ``end`` and forecast ``horizon`` days.

    Returns one array (len(rows) x horizon) per model that could be fitted; forecasts are
    clipped at 0 (demand is never negative) and non-finite values replaced by the moving
    average fallback.
    """
    from sktime.forecasting.base import ForecastingHorizon

    rows = np.asarray(rows, dtype=int)
    out: dict[str, np.ndarray] = {}
    if len(rows) == 0 or not models:
        return {m: np.zeros((0, horizon)) for m in models}
    combos = [m for m in models if is_combination(m)]
    if combos:  # fit the members once, then average them per combination
        base = [m for m in models if not is_combination(m)]
        members = {c: combination_members(c) for c in combos}
        need = list(dict.fromkeys(base + [m for c in combos for m in members[c]]))
        fc = forecast_panel(panel, rows, end, need, settings, horizon, exogenous, n_jobs)
        out = {m: fc[m] for m in base if m in fc}
        for c in combos:
            got = [fc[m] for m in members[c] if m in fc]
            if got:
                out[c] = combine(got)
        return out
    n_jobs = settings.n_jobs if n_jobs is None else n_jobs
    ids = panel.series["series_id"].to_numpy()[rows]
    first = panel.series["first_day"].to_numpy()[rows]
    cutoff = panel.dates[end]
    fh = ForecastingHorizon(np.arange(1, horizon + 1), is_relative=True)
    values = panel.target[rows, : end + 1]
    groups = [
        ([m for m in models if m not in COSTLY and m not in GLOBAL_CANDIDATES
          and m not in NUMPY_CANDIDATES], settings.train_window_days),
        ([m for m in models if m in COSTLY], settings.costly_window_days),
    ]
    for group, window in groups:
        if not group:
            continue
        start = np.maximum(first, end + 1 - window)
        y = wide_to_panel(ids, values, panel.dates[: end + 1], start)
        costly = any(m in COSTLY for m in group)
        # a process pool only pays off for costly models on enough series
        jobs = n_jobs if costly and len(rows) >= 50 else 1
        forecaster = make_panel_forecaster(group, settings, n_jobs=jobs)
        forecaster.set_config(remember_data=False)
        forecaster.fit(y, fh=fh)
        pred = forecaster.predict_by_model(fh)
        for m in group:
            out[m] = predictions_to_wide(pred[m], ids, cutoff, horizon)
    if "adida_weekly" in models:
        start = np.maximum(first, end + 1 - settings.train_window_days)
        out["adida_weekly"] = adida_weekly_forecast(values, start, panel.dates[: end + 1],
                                                    horizon)
    if "moving_average_capped" in models:
        start = np.maximum(first, end + 1 - settings.train_window_days)
        out["moving_average_capped"] = capped_moving_average(
            values, start, settings.moving_average_window, horizon,
            keep_volume=settings.capped_average_keeps_volume)
    for m in models:
        if m in GLOBAL_CANDIDATES:
            fc = _forecast_global(m, panel, rows, end, settings, horizon, exogenous)
            if fc is not None:
                out[m] = fc
    for m, arr in out.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            # A window average of a series shorter than its window is NaN in statsforecast;
            # the average of the series' life up to that window is the model's own answer
            # there (expected, logged quietly). Any other model falls back to the moving
            # average, with a warning.
            own = _AVERAGE_WINDOWS.get(m)
            window = getattr(settings, own or "moving_average_window")
            lo = max(0, end + 1 - window)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # not started: all NaN
                fallback = np.nan_to_num(np.nanmean(values[:, lo:], axis=1))
            arr[bad] = np.broadcast_to(fallback[:, None], arr.shape)[bad]
            logger.log(logging.DEBUG if own else logging.WARNING,
                       "%s: %d non-finite forecasts replaced by the moving average",
                       m, int(bad.sum()))
        out[m] = np.clip(arr, 0.0, None)
    return out


def _forecast_global(
    name: str,
    panel: DemandPanel,
    rows: np.ndarray,
    end: int,
    settings: ForecastSettings,
    horizon: int,
    exogenous: ExogenousInputs | None,
) -> np.ndarray | None:
    """Fit and forecast a global (cross-series) candidate; None when it is unavailable/fails."""
    from sktime.forecasting.base import ForecastingHorizon

    forecaster = build_candidate(name, settings)
    if forecaster is None:
        return None
    ids = panel.series["series_id"].to_numpy()[rows]
    first = panel.series["first_day"].to_numpy()[rows]
    start = np.maximum(first, end + 1 - settings.train_window_days)
    # Fitted on at most global_max_series series (seeded): the trees learn patterns shared
    # across series, which a few thousand of them show as well as 30,000 do, while features
    # and exogenous inputs of every series would not fit in memory. The others are forecast by
    # the fitted trees from their own level and history, a chunk at a time (for_series).
    cap = settings.global_max_series
    fit = np.arange(len(rows))
    if len(rows) > cap and hasattr(forecaster, "for_series"):
        fit = np.sort(np.random.default_rng(settings.seed).choice(len(rows), cap, replace=False))
    values = panel.target[rows, : end + 1]
    y = wide_to_panel(ids[fit], values[fit], panel.dates[: end + 1], start[fit])
    cutoff = panel.dates[end]
    fh = ForecastingHorizon(np.arange(1, horizon + 1), is_relative=True)
    try:
        x_fit = x_future = None
        if uses_exogenous(forecaster) and exogenous is not None:
            future_dates = pd.date_range(cutoff + pd.Timedelta(days=1), periods=horizon)
            future_index = pd.MultiIndex.from_product(
                [pd.Index(ids, name="series_id"), future_dates], names=["series_id", "date"]
            )
            # prices dated after the cutoff are not known at the cutoff (a backtest fold
            # must not see them; at as_of there are none anyway)
            inputs = (exogenous.demand, exogenous.promotions, exogenous.events,
                      exogenous.drivers, exogenous.products, settings)
            x_fit = build_exogenous(y.index, *inputs, prices_known_until=cutoff)
            x_future = build_exogenous(future_index, *inputs, prices_known_until=cutoff)
        forecaster.fit(y, X=x_fit, fh=fh)
        if len(fit) == len(rows):
            pred = forecaster.predict(fh=fh, X=x_future)
            return predictions_to_wide(pred.iloc[:, 0], ids, cutoff, horizon)
        del y, x_fit
        out = np.full((len(rows), horizon), np.nan)
        chunks = np.array_split(np.arange(len(rows)), int(np.ceil(len(rows) / cap)))
        for chunk in chunks:
            part = forecaster.for_series(
                wide_to_panel(ids[chunk], values[chunk], panel.dates[: end + 1], start[chunk]))
            x_part = None if x_future is None else x_future.loc[
                x_future.index.get_level_values(0).isin(ids[chunk])]
            pred = part.predict(fh=fh, X=x_part)
            out[chunk] = predictions_to_wide(pred.iloc[:, 0], ids[chunk], cutoff, horizon)
        logger.info("%s: fitted on %d of %d series, forecast all in %d chunks", name, len(fit),
                    len(rows), len(chunks))
        return out
    except Exception as exc:  # a failing optional candidate must not sink the run
        logger.warning("candidate %s failed at cutoff %s and is skipped: %s",
                       name, cutoff.date(), exc)
        return None
