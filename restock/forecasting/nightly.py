"""run_forecasting: classes, backtest, selection, calibrated quantiles, final forecasts.

Steps (each logged with counts and timings on ``restock.forecasting``):

1. The demand mart becomes a wide panel; censored days are imputed (censoring.py).
2. Every series gets a Syntetos-Boylan demand class on its last ``train_window_days`` days;
   the selection unit is category x demand class. Series with fewer than
   ``min_history_days`` days since their first sale are cold starts (coldstart.py).
0. A feed at week or month grain (``settings.grain``, else detected) is forecast at its grain
   by the same steps and spread to days (periods.py).
3. A rolling-origin backtest scores each unit's candidates on a stratified sample (backtest.py).
4. Each unit keeps its best model by mean RMSSE (selection.py). A unit without any backtestable
   series takes the model most often chosen for its demand class elsewhere, else
   seasonal naive. The ``combination`` candidate is scored from its members' backtest
   forecasts (backtest.py) and appears as ``combination(a+b+c)`` in every table. The cold
   starts' forecaster (``settings.cold_start_model = "select"``, the default) is chosen per
   category by a pooled backtest over the series that were that young at earlier weekly
   cutoffs (coldstart.py).
5. Scaled backtest errors give daily and cumulative quantiles (calibration.py).
6. The selected model of each unit forecasts every series of the unit from as_of, with its
   quantile tables: the one forecasting path the replay planner uses too (final.py).

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

from restock.forecasting.backtest import (
    BacktestResult,
    ExogenousInputs,
    run_backtest,
)
from restock.forecasting.calibration import Calibration, daily_quantiles, fit_calibration
from restock.forecasting.censoring import DemandPanel, build_panel
from restock.forecasting.classify import assign_series
from restock.forecasting.coldstart import ColdStartChoice, choose_cold_start_models
from restock.forecasting.final import final_forecasts
from restock.forecasting.metrics import pinball_loss
from restock.forecasting.models import candidates_for_unit, check_candidates, dask_client
from restock.forecasting.periods import demand_grain, forecast_at_grain
from restock.forecasting.selection import (
    fallback_selection,
    holdout_free_selection,
    select_models,
)
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

METRIC_COLUMNS = [
    "category", "demand_class", "model", "fold", "cutoff", "horizon", "n_series", "sample_size",
    "mase", "rmsse", "wape", "bias", "pinball_p90", "coverage_p90",
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
    #: What a short history reduced (backtest folds, horizon, fit history, cold-start
    #: threshold), one plain sentence each; empty when the configured settings fit.
    adaptations: list[str] = field(default_factory=list)
    #: Grain the demand was forecast at (day, week, month; periods.py); tables are daily.
    grain: str = "day"


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
    grain = settings.grain or demand_grain(demand)
    if grain != "day":  # period totals: forecast at their grain, spread to days
        return forecast_at_grain(demand, pd.Timestamp(as_of), settings, grain, products,
                                 run_forecasting=run_forecasting)
    with _backend(settings):
        exogenous = ExogenousInputs(demand, promotions, events, drivers, products)
        return _run(_select(exogenous, as_of, settings), settings)


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
    adaptations: list[str] = field(default_factory=list)
    #: cold-start forecaster per category (settings.cold_start_model = "select"), else None
    cold_choice: ColdStartChoice | None = None


def select_and_calibrate(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str,
    settings: ForecastSettings | None = None,
    **marts: pd.DataFrame | None,
) -> tuple[pd.DataFrame, Calibration]:
    """Steps 1-5 of ``run_forecasting`` only: the model selection and the calibration at as_of.

    For callers that forecast by themselves (the replay planner refits the selected models at
    every review): the final forecasts of every series and the backtest tables are skipped.

    Parameters
    ----------
    demand, as_of, settings
        As :func:`run_forecasting`.
    **marts : DataFrame, optional
        ``promotions``, ``events``, ``drivers``, ``products``, as :func:`run_forecasting`.

    Returns
    -------
    (model_selection, calibration)
        As ``run_forecasting(...).model_selection`` and ``.calibration``.
    """
    settings = settings or ForecastSettings()
    with _backend(settings):
        sel = _select(ExogenousInputs(demand, **marts), as_of, settings)
    logger.info("selection and calibration done in %.1f s (%s)",
                time.perf_counter() - sel.started,
                ", ".join(f"{k} {v:.1f} s" for k, v in sel.timings.items()))
    return sel.selection.drop(columns="unit").reset_index(drop=True), sel.calibration


def _select(exogenous: ExogenousInputs, as_of: pd.Timestamp | str,
            settings: ForecastSettings) -> _Selected:
    demand = exogenous.demand
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    as_of = pd.Timestamp(as_of).normalize()
    panel = build_panel(demand, as_of, settings)
    end = panel.day_index(as_of)
    adaptations: list[str] = []
    assign_settings = settings
    span = end + 1
    if span < settings.min_history_days:
        # the whole feed is younger than the cold-start threshold: every series would be a
        # cold start of a category without established items; two seasons (or half the
        # history, if more) are then enough to forecast a series from its own demand
        cold_days = max(2 * settings.season_length, span // 2)
        assign_settings = settings.model_copy(update={"min_history_days": cold_days})
        adaptations.append(f"cold-start threshold {settings.min_history_days} -> {cold_days} "
                           f"days: the history holds {span} days")
        logger.warning("%s", adaptations[-1])
    assignments = assign_series(panel, end, assign_settings)
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
    t1 = time.perf_counter()
    bt = run_backtest(panel, assignments, settings, unit_candidates, exogenous)
    timings["backtest"] = time.perf_counter() - t1

    # selection
    unit_info = bt.sample[["unit", "category", "demand_class"]].copy()
    unit_info["pos"] = np.arange(len(unit_info))
    scores = bt.scores.merge(unit_info, on="pos", how="left")
    sample_sizes = bt.sample.groupby("unit").size()
    units["sample_size"] = units["unit"].map(sample_sizes).fillna(0).astype(int)
    adaptations.extend(bt.plan.reductions if bt.plan is not None else [])
    selection = select_models(scores, units, settings, folds=len(bt.cutoffs))
    missing = units[~units["unit"].isin(selection["unit"])]
    if len(missing):
        # a unit whose demand class was chosen elsewhere borrows that choice; the others
        # (and every unit when there is no backtest) are chosen without a holdout
        borrow = missing["demand_class"].isin(selection["demand_class"])
        warm = assignments[~assignments["is_cold_start"]]
        history = warm.groupby("unit")["history_days"].median()
        why = (bt.plan.reason if bt.plan is not None and bt.plan.reason else
               "no item of this category and demand class had enough history at the "
               "backtest's first cutoff")
        parts = [selection, fallback_selection(missing[borrow], selection),
                 holdout_free_selection(missing[~borrow], history, settings, why)]
        selection = pd.concat([p for p in parts if len(p)], ignore_index=True)

    t2 = time.perf_counter()
    calibration = fit_calibration(bt.sample, bt.forecasts, bt.actual, bt.target, bt.level,
                                  settings, spread=bt.spread)
    timings["calibration"] = time.perf_counter() - t2
    cold_choice = None
    if settings.cold_start_model == "select" and assignments["is_cold_start"].any():
        t3 = time.perf_counter()
        cold_choice = choose_cold_start_models(panel, end, assign_settings)
        timings["cold_start_choice"] = time.perf_counter() - t3
        cs = cold_choice.scores
        logger.info("cold-start backtest: %d young series x cutoffs, launch factor %.3f, "
                    "pooled mean RMSSE %s; chosen %s",
                    int((cs["model"] == cs["model"].iloc[0]).sum()) if len(cs) else 0,
                    cold_choice.launch_factor,
                    ", ".join(f"{m} {v:.4f}" for m, v in
                              cs.groupby("model")["rmsse"].mean().items()),
                    ", ".join(f"{c} {m}" for c, m in sorted(cold_choice.models.items())))
    return _Selected(as_of, panel, end, assignments, exogenous, bt, scores, selection,
                     calibration, timings, t0, adaptations, cold_choice)


def _run(sel: _Selected, settings: ForecastSettings) -> ForecastResult:
    """Steps 5-6 after ``_select``: backtest tables, final forecasts and their quantiles."""
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

    # final forecasts and their quantiles: the one forecasting path (final.py)
    assignments["model"] = assignments["unit"].map(chosen)
    cold = assignments["is_cold_start"].to_numpy()
    final = final_forecasts(panel, end, assignments, settings, calibration, cold=cold,
                            exogenous=exogenous, cold_choice=sel.cold_choice)
    assignments["model"] = final.assignments["model"].to_numpy()
    timings.update(final.seconds)
    t4 = time.perf_counter()
    rmsse_by_unit = selection.set_index("unit")["score"]
    assignments["backtest_rmsse"] = assignments["unit"].map(rmsse_by_unit).astype(float)
    assignments.loc[cold, "backtest_rmsse"] = np.nan
    with np.errstate(invalid="ignore"):
        assignments["mean_daily_demand"] = np.nan_to_num(
            np.nanmean(panel.target[:, max(0, end - 90) : end + 1], axis=1))
    assignments["level"] = final.level
    timings["quantiles"] += time.perf_counter() - t4
    timings["total"] = time.perf_counter() - t0
    logger.info("run_forecasting done in %.1f s (%s)", timings["total"],
                ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total"))

    return ForecastResult(
        backtest_metrics=metrics_table,
        model_selection=selection.drop(columns="unit").reset_index(drop=True),
        demand_forecasts=final.tables.daily,
        series_assignments=assignments[ASSIGNMENT_COLUMNS].reset_index(drop=True),
        cumulative_quantiles=final.tables.cumulative,
        backtest_predictions=predictions,
        calibration=calibration,
        timings=timings,
        adaptations=list(sel.adaptations),
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
                              folds=others, spread=bt.spread)
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
            pin = pinball_loss(a, p90[tried, f], 0.9)
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
