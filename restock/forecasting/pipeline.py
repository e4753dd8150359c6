"""run_forecasting: classes, backtest, selection, calibrated quantiles, final forecasts.

Steps (each logged with counts and timings on ``restock.forecasting``):

1. The demand mart becomes a wide panel; censored days are imputed (censoring.py).
2. Every series gets a Syntetos-Boylan demand class on its last ``train_window_days`` days;
   the selection unit is category x demand class. Series with fewer than
   ``min_history_days`` days since their first sale are cold starts (coldstart.py).
3. A rolling-origin backtest scores each unit's candidates on a stratified sample (backtest.py).
4. Each unit keeps its best model by mean RMSSE (selection.py). A unit without any backtestable
   series takes the model most often chosen for its demand class elsewhere, else
   seasonal naive. The ``combination`` candidate is scored from its members' backtest
   forecasts (backtest.py) and appears as ``combination(a+b+c)`` in every table.
5. Scaled backtest errors give daily and cumulative quantiles (calibration.py).
6. The selected model of each unit forecasts every series of the unit from as_of (a
   combination: each member forecasts, global members fitted once on all warm series, and the
   unit's series get the equal-weight mean).

With ``settings.backend = "dask"`` a dask.distributed client is opened for the run
(``settings.dask_address``, else a local cluster of ``n_jobs`` workers) and the statsforecast
calls go through statsforecast's fugue/dask backend (models.py); the local path is the default
and the fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting import metrics
from restock.forecasting.backtest import (
    BacktestResult,
    ExogenousInputs,
    combine,
    forecast_panel,
    run_backtest,
    series_level,
)
from restock.forecasting.calibration import (
    Calibration,
    cumulative_quantiles,
    daily_quantiles,
    fit_calibration,
)
from restock.forecasting.censoring import DemandPanel, build_panel
from restock.forecasting.classify import classify_panel
from restock.forecasting.coldstart import COLD_START_MODEL, cold_start_forecast
from restock.forecasting.models import (
    GLOBAL_CANDIDATES,
    NAIVE_MODEL,
    candidates_for_unit,
    check_candidates,
    combination_members,
    dask_client,
    is_combination,
)
from restock.forecasting.selection import SELECTION_COLUMNS, select_models
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Calibration pool used for cold-start series (their profile is a rate, like a moving average).
COLD_START_POOL_MODEL = "moving_average"

METRIC_COLUMNS = [
    "category", "demand_class", "model", "fold", "cutoff", "horizon", "n_series", "sample_size",
    "mase", "rmsse", "wape", "bias", "pinball_p90", "coverage_p90",
]
FORECAST_COLUMNS = [
    "sku", "location", "date", "model", "forecast", "p50", "p90", "p95", "p99", "category",
    "demand_class", "is_cold_start",
]
ASSIGNMENT_COLUMNS = [
    "sku", "location", "category", "demand_class", "model", "is_cold_start", "backtest_rmsse",
    "mean_daily_demand", "series_id", "unit", "adi", "cv2", "history_days", "level",
]
PREDICTION_COLUMNS = [
    "sku", "location", "category", "model", "fold", "cutoff", "date", "forecast", "p50", "p90",
    "actual", "is_censored",
]


@dataclass
class ForecastResult:
    """What run_forecasting returns (tables as in docs/ARCHITECTURE.md)."""

    backtest_metrics: pd.DataFrame
    model_selection: pd.DataFrame
    demand_forecasts: pd.DataFrame
    series_assignments: pd.DataFrame
    cumulative_quantiles: pd.DataFrame
    backtest_predictions: pd.DataFrame
    calibration: Calibration
    timings: dict[str, float] = field(default_factory=dict)


def unit_of(category: pd.Series, demand_class: pd.Series) -> pd.Series:
    """Selection unit name: ``category/demand_class``."""
    return category.astype(str) + "/" + demand_class.astype(str)


def assign_series(panel: DemandPanel, end: int, settings: ForecastSettings) -> pd.DataFrame:
    """Demand class, unit and cold-start flag of every series at column ``end``."""
    classes = classify_panel(panel.target, end, settings.train_window_days)
    out = panel.series[["series_id", "sku", "location", "category"]].copy()
    out[["adi", "cv2", "demand_class"]] = classes[["adi", "cv2", "demand_class"]].to_numpy()
    out["adi"] = out["adi"].astype(float)
    out["cv2"] = out["cv2"].astype(float)
    out["unit"] = unit_of(out["category"], out["demand_class"])
    out["history_days"] = np.maximum(end - panel.series["first_day"].to_numpy() + 1, 0)
    out["is_cold_start"] = out["history_days"] < settings.min_history_days
    return out


def fallback_selection(units: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Selection rows for units the backtest could not score (see the module docstring)."""
    rows = []
    for unit in units.itertuples(index=False):
        same_class = chosen[chosen["demand_class"] == unit.demand_class]["selected_model"]
        model = same_class.mode().iloc[0] if len(same_class) else NAIVE_MODEL
        rows.append({
            "unit": unit.unit, "category": unit.category, "demand_class": unit.demand_class,
            "selected_model": model, "score": np.nan, "runner_up": None,
            "runner_up_score": np.nan, "naive_score": np.nan, "value_added": np.nan,
            "reason": ("Too little history to backtest these items; using the method chosen "
                       f"most often for other {unit.demand_class} items."),
            "n_series": int(unit.n_series), "sample_size": 0,
        })
    return pd.DataFrame(rows, columns=["unit", *SELECTION_COLUMNS])


def run_forecasting(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str,
    settings: ForecastSettings | None = None,
    promotions: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    drivers: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
) -> ForecastResult:
    """Backtest, select and forecast demand per sku x location (module docstring).

    Parameters
    ----------
    demand : DataFrame
        The ``fct_daily_demand`` mart (``date`` datetime64).
    as_of : Timestamp or str
        Last day of history; forecasts start the day after.
    settings : ForecastSettings, optional
    promotions, events, drivers, products : DataFrame, optional
        Marts for the exogenous features of candidates that use them.

    Returns
    -------
    ForecastResult
    """
    settings = settings or ForecastSettings()
    with _backend(settings):
        sel = _select(demand, as_of, settings, promotions, events, drivers, products)
        return _run(sel, settings)


@contextmanager
def _backend(settings: ForecastSettings) -> Iterator[None]:
    """Checks the candidates; a dask.distributed client for the duration when configured."""
    check_candidates(settings.candidates)
    client = dask_client(settings)  # None unless settings.backend == "dask"
    try:
        yield
    finally:
        if client is not None:
            client.close()


@dataclass
class _Selected:
    """What selection and calibration leave for the final forecasts (``_select``)."""

    as_of: pd.Timestamp
    panel: DemandPanel
    end: int
    assignments: pd.DataFrame
    exogenous: ExogenousInputs
    bt: BacktestResult
    scores: pd.DataFrame
    selection: pd.DataFrame
    calibration: Calibration
    timings: dict[str, float]
    started: float


def select_and_calibrate(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str,
    settings: ForecastSettings | None = None,
    promotions: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    drivers: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, Calibration]:
    """Steps 1-5 of ``run_forecasting`` only: the model selection and the calibration at as_of.

    For callers that forecast by themselves (the replay planner refits the selected models at
    every review): the final forecasts of every series and the backtest tables are skipped.

    Returns
    -------
    (model_selection, calibration)
        As ``run_forecasting(...).model_selection`` and ``.calibration``.
    """
    settings = settings or ForecastSettings()
    with _backend(settings):
        sel = _select(demand, as_of, settings, promotions, events, drivers, products)
    logger.info("selection and calibration done in %.1f s (%s)",
                time.perf_counter() - sel.started,
                ", ".join(f"{k} {v:.1f} s" for k, v in sel.timings.items()))
    return sel.selection.drop(columns="unit").reset_index(drop=True), sel.calibration


def _select(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str,
    settings: ForecastSettings,
    promotions: pd.DataFrame | None,
    events: pd.DataFrame | None,
    drivers: pd.DataFrame | None,
    products: pd.DataFrame | None,
) -> _Selected:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    as_of = pd.Timestamp(as_of).normalize()
    panel = build_panel(demand, as_of, settings)
    end = panel.day_index(as_of)
    assignments = assign_series(panel, end, settings)
    timings["prepare"] = time.perf_counter() - t0
    logger.info("forecasting %d series (%d cold start), %d censored days imputed, in %.1f s",
                panel.n_series, int(assignments["is_cold_start"].sum()),
                int(panel.censored.sum()), timings["prepare"])

    units = (assignments.groupby("unit", sort=True)
             .agg(category=("category", "first"), demand_class=("demand_class", "first"),
                  n_series=("series_id", "size")).reset_index())
    unit_candidates = {
        u.unit: candidates_for_unit(settings.candidates, u.demand_class, u.n_series, settings)
        for u in units.itertuples(index=False)
    }
    exogenous = ExogenousInputs(demand, promotions, events, drivers, products)

    t1 = time.perf_counter()
    bt = run_backtest(panel, assignments, settings, unit_candidates, exogenous)
    timings["backtest"] = time.perf_counter() - t1

    # selection
    unit_info = bt.sample[["unit", "category", "demand_class"]].copy()
    unit_info["pos"] = np.arange(len(unit_info))
    scores = bt.scores.merge(unit_info, on="pos", how="left")
    sample_sizes = bt.sample.groupby("unit").size()
    units["sample_size"] = units["unit"].map(sample_sizes).fillna(0).astype(int)
    selection = select_models(scores, units, settings, folds=len(bt.cutoffs))
    missing = units[~units["unit"].isin(selection["unit"])]
    if len(missing):
        selection = pd.concat([selection, fallback_selection(missing, selection)],
                              ignore_index=True)

    t2 = time.perf_counter()
    calibration = fit_calibration(bt.sample, bt.forecasts, bt.actual, bt.target, bt.level,
                                  settings)
    timings["calibration"] = time.perf_counter() - t2
    return _Selected(as_of, panel, end, assignments, exogenous, bt, scores, selection,
                     calibration, timings, t0)


def _run(sel: _Selected, settings: ForecastSettings) -> ForecastResult:
    """Steps 5-6 after ``_select``: backtest tables, final forecasts and their quantiles."""
    as_of = sel.as_of
    panel, end, assignments, exogenous = sel.panel, sel.end, sel.assignments, sel.exogenous
    bt, scores, selection, calibration = sel.bt, sel.scores, sel.selection, sel.calibration
    timings, t0 = sel.timings, sel.started
    chosen = dict(zip(selection["unit"], selection["selected_model"], strict=True))

    # out-of-fold quantiles for the backtest tables
    t2 = time.perf_counter()
    oof = _out_of_fold_quantiles(bt, settings, calibration)
    metrics_table = _backtest_metrics(bt, scores, oof, settings)
    predictions = _backtest_predictions(bt, panel, oof)
    timings["backtest_tables"] = time.perf_counter() - t2

    # final forecasts
    t3 = time.perf_counter()
    h = settings.horizon
    assignments["model"] = assignments["unit"].map(chosen)
    assignments.loc[assignments["is_cold_start"], "model"] = COLD_START_MODEL
    forecast = np.zeros((panel.n_series, h))
    train = np.flatnonzero(~assignments["is_cold_start"].to_numpy())
    global_cache: dict[str, np.ndarray | None] = {}

    def base_forecast(model: str, rows: np.ndarray) -> np.ndarray | None:
        if model in GLOBAL_CANDIDATES:
            # a global model learns from every series, as in the backtest (where it was fitted
            # on all sampled series), then forecasts those of the units that selected it;
            # fitted once even when combinations use it too
            if model not in global_cache:
                fc = forecast_panel(panel, train, end, [model], settings, h, exogenous)
                global_cache[model] = fc.get(model)
            full = global_cache[model]
            return None if full is None else full[np.searchsorted(train, rows)]
        return forecast_panel(panel, rows, end, [model], settings, h, exogenous).get(model)

    for model in sorted(assignments["model"].unique()):
        if model == COLD_START_MODEL:
            continue
        rows = np.flatnonzero((assignments["model"] == model).to_numpy())
        started = time.perf_counter()
        if is_combination(model):
            got = [base_forecast(m, rows) for m in combination_members(model)]
            got = [g for g in got if g is not None]
            fc = {model: combine(got)} if got else {}
        else:
            one = base_forecast(model, rows)
            fc = {model: one} if one is not None else {}
        if model not in fc:  # an optional candidate failed at as_of: fall back to naive
            logger.warning("%s could not forecast at as_of; using %s", model, NAIVE_MODEL)
            fc = {model: forecast_panel(panel, rows, end, [NAIVE_MODEL], settings, h)[NAIVE_MODEL]}
            assignments.loc[rows, "model"] = NAIVE_MODEL
        forecast[rows] = fc[model]
        logger.info("final forecast: %s on %d series in %.1f s", model, len(rows),
                    time.perf_counter() - started)
    cold = assignments["is_cold_start"].to_numpy()
    if cold.any():
        forecast[cold] = cold_start_forecast(panel, np.flatnonzero(cold), end, h, settings, cold)
    timings["forecast"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    level = series_level(panel.target, end)
    pools = assignments[["unit", "demand_class", "model"]].copy()
    pools.loc[cold, "model"] = COLD_START_POOL_MODEL
    daily = daily_quantiles(calibration, pools, forecast, level)
    cumulative = cumulative_quantiles(calibration, pools, forecast, level)
    dates = pd.date_range(as_of + pd.Timedelta(days=1), periods=h)
    demand_forecasts = _forecast_table(assignments, dates, forecast, daily)
    cumulative_table = cumulative_frame(assignments, forecast, cumulative,
                                        calibration.cumulative_levels)
    rmsse_by_unit = selection.set_index("unit")["score"]
    assignments["backtest_rmsse"] = assignments["unit"].map(rmsse_by_unit).astype(float)
    assignments.loc[cold, "backtest_rmsse"] = np.nan
    with np.errstate(invalid="ignore"):
        assignments["mean_daily_demand"] = np.nan_to_num(
            np.nanmean(panel.target[:, max(0, end - 90) : end + 1], axis=1))
    assignments["level"] = level
    timings["quantiles"] = time.perf_counter() - t4
    timings["total"] = time.perf_counter() - t0
    logger.info("run_forecasting done in %.1f s (%s)", timings["total"],
                ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total"))

    return ForecastResult(
        backtest_metrics=metrics_table,
        model_selection=selection.drop(columns="unit").reset_index(drop=True),
        demand_forecasts=demand_forecasts,
        series_assignments=assignments[ASSIGNMENT_COLUMNS].reset_index(drop=True),
        cumulative_quantiles=cumulative_table,
        backtest_predictions=predictions,
        calibration=calibration,
        timings=timings,
    )


def _out_of_fold_quantiles(
    bt: BacktestResult, settings: ForecastSettings, full: Calibration
) -> dict[str, dict[float, np.ndarray]]:
    """p50 and p90 of every backtested model's forecasts, calibrated without the scored fold."""
    k = len(bt.cutoffs)
    out: dict[str, dict[float, np.ndarray]] = {
        m: {0.5: np.full_like(fc, np.nan), 0.9: np.full_like(fc, np.nan)}
        for m, fc in bt.forecasts.items()
    }
    for f in range(k):
        others = np.array([g for g in range(k) if g != f]) if k > 1 else np.array([f])
        cal = fit_calibration(bt.sample, bt.forecasts, bt.actual, bt.target, bt.level, settings,
                              folds=others)
        for m, fc in bt.forecasts.items():
            tried = ~np.isnan(fc[:, f]).all(axis=1)
            if not tried.any():
                continue
            pools = bt.sample.loc[tried, ["unit", "demand_class"]].assign(model=m)
            q = daily_quantiles(cal, pools.reset_index(drop=True), fc[tried, f],
                                bt.level[tried, f])
            out[m][0.5][tried, f] = q[0.5]
            out[m][0.9][tried, f] = q[0.9]
    return out


def _backtest_metrics(
    bt: BacktestResult, scores: pd.DataFrame, oof: dict, settings: ForecastSettings
) -> pd.DataFrame:
    """One row per category x demand class x model x fold."""
    if scores.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    extra = []
    for m, q in oof.items():
        p90 = q[0.9]
        for f in range(len(bt.cutoffs)):
            tried = ~np.isnan(p90[:, f]).all(axis=1)
            if not tried.any():
                continue
            a = bt.actual[tried, f]
            pin = metrics.pinball_loss(a, p90[tried, f], 0.9)
            extra.append(pd.DataFrame({
                "pos": np.flatnonzero(tried), "fold": f + 1, "model": m,
                "pinball": pin,
                "covered": np.where(np.isnan(a), False, a <= p90[tried, f] + 1e-9).sum(axis=1),
            }))
    scores = scores.merge(pd.concat(extra, ignore_index=True), on=["pos", "fold", "model"],
                          how="left")
    scale = scores["mase_scale"].where(scores["mase_scale"] > 0)
    scores["pinball_scaled"] = scores["pinball"] / scale
    grouped = scores.groupby(["category", "demand_class", "model", "fold"], sort=True)
    table = grouped.agg(
        n_series=("pos", "nunique"), mase=("mase", "mean"), rmsse=("rmsse", "mean"),
        abs_err=("abs_err", "sum"), err=("err", "sum"), actual=("actual_sum", "sum"),
        pinball_p90=("pinball_scaled", "mean"), covered=("covered", "sum"),
        n_scored=("n_scored", "sum"),
    ).reset_index()
    positive = table["actual"] > 0
    table["wape"] = np.where(positive, table["abs_err"] / table["actual"].where(positive), np.nan)
    table["bias"] = np.where(positive, table["err"] / table["actual"].where(positive), np.nan)
    table["coverage_p90"] = table["covered"] / table["n_scored"].where(table["n_scored"] > 0)
    table["cutoff"] = [bt.cutoffs[f - 1] for f in table["fold"]]
    table["horizon"] = bt.horizon
    sizes = bt.sample.groupby(["category", "demand_class"]).size().rename("sample_size")
    table = table.merge(sizes.reset_index(), on=["category", "demand_class"], how="left")
    return table[METRIC_COLUMNS]


def _backtest_predictions(bt: BacktestResult, panel: DemandPanel, oof: dict) -> pd.DataFrame:
    """Long table of every candidate's out-of-sample predictions on the sampled series."""
    frames = []
    h = bt.horizon
    rows = bt.sample["row"].to_numpy()
    for f, cutoff in enumerate(bt.cutoffs):
        end = panel.day_index(cutoff)
        dates = panel.dates[end + 1 : end + 1 + h]
        sales = panel.sales[rows, end + 1 : end + 1 + h]
        cens = panel.censored[rows, end + 1 : end + 1 + h]
        for m, fc in bt.forecasts.items():
            tried = np.flatnonzero(~np.isnan(fc[:, f]).all(axis=1))
            if not len(tried):
                continue
            n = len(tried)
            frames.append(pd.DataFrame({
                "sku": np.repeat(bt.sample["sku"].to_numpy()[tried], h),
                "location": np.repeat(bt.sample["location"].to_numpy()[tried], h),
                "category": np.repeat(bt.sample["category"].to_numpy()[tried], h),
                "model": m, "fold": f + 1, "cutoff": cutoff,
                "date": np.tile(dates.to_numpy(), n),
                "forecast": fc[tried, f].ravel(),
                "p50": oof[m][0.5][tried, f].ravel(), "p90": oof[m][0.9][tried, f].ravel(),
                "actual": sales[tried].ravel(), "is_censored": cens[tried].ravel(),
            }))
    if not frames:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]


def _forecast_table(assignments: pd.DataFrame, dates: pd.DatetimeIndex, forecast: np.ndarray,
                    daily: dict[float, np.ndarray]) -> pd.DataFrame:
    n, h = forecast.shape

    def rep(col: str) -> np.ndarray:
        return np.repeat(assignments[col].to_numpy(), h)

    table = pd.DataFrame({
        "sku": rep("sku"), "location": rep("location"), "date": np.tile(dates.to_numpy(), n),
        "model": rep("model"), "forecast": forecast.ravel(),
    })
    for p, name in ((0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99")):
        q = daily.get(p)
        if q is None:  # a level outside settings.quantile_levels: nearest higher one
            q = daily[min((lv for lv in daily if lv >= p), default=max(daily))]
        table[name] = q.ravel()
    table["category"] = rep("category")
    table["demand_class"] = rep("demand_class")
    table["is_cold_start"] = rep("is_cold_start").astype(bool)
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
