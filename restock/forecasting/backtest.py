"""Rolling-origin backtest of the candidates on a stratified sample of each unit's series.

- Cutoffs come from sktime's ``ExpandingWindowSplitter`` over the daily grid: ``settings.folds``
  origins ``settings.step_days`` apart, the last one ``settings.horizon`` days before as_of, so
  every fold has a full horizon of actuals. Short histories shrink the plan by the rules of
  :func:`restock.forecasting.folds.plan_backtest`, never below one fold of one season. Each
  fold fits on at most ``settings.train_window_days`` days before its cutoff
  (``settings.costly_window_days`` for auto_ets / auto_theta / auto_arima, whose fit time
  grows with the length).
- Per unit (category x demand class), ``settings.sample_per_unit`` series are drawn with a fixed
  seed, stratified by volume (five equal-count volume bands, drawn in proportion), among the
  series with at least the plan's fit history (``settings.min_history_days``, or half of it on
  a short history) at the first cutoff.
- All series that share a candidate set go to one ``StatsForecastPanel`` call per fold (cheap
  models on the long window, costly ones on the short one); lightgbm_global is fitted once per
  fold on all sampled series, with exogenous features when it takes them.
- Scores are per series and fold, on uncensored days only (metrics.py).
- ``combination`` is not fitted: after all folds, each unit's members are chosen by forward
  selection and their mean scored like any model (:mod:`restock.forecasting.combination`).

The pieces: :mod:`restock.forecasting.folds` (the plan for histories of any length, and the
cutoffs), :mod:`restock.forecasting.fitting` (fit and forecast a panel at one cutoff),
:mod:`restock.forecasting.scoring` (per-series scores, the combinations' scores) and
:mod:`restock.forecasting.combination` (members and their mean). This module samples the
series and runs the folds.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting.calibration import spread_index
from restock.forecasting.censoring import DemandPanel
from restock.forecasting.fitting import ExogenousInputs, forecast_panel
from restock.forecasting.folds import BacktestPlan, backtest_cutoffs, plan_backtest
from restock.forecasting.metrics import one_step_naive_scale, seasonal_naive_scale
from restock.forecasting.models import GLOBAL_CANDIDATES, is_combination
from restock.forecasting.scoring import SCORE_COLUMNS, score_combinations, score_fold
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Days of recent demand that set a series' level (the scale of its calibrated errors).
LEVEL_WINDOW = 28


@dataclass
class BacktestResult:
    """Everything the backtest measured, on the sampled series.

    ``forecasts[model]`` and ``actual`` / ``target`` are arrays (sample x folds x horizon);
    ``scores`` has one row per sampled series x fold x model.
    """

    sample: pd.DataFrame  # panel row, series_id, sku, location, category, demand_class, unit
    cutoffs: list[pd.Timestamp]
    horizon: int
    forecasts: dict[str, np.ndarray]
    actual: np.ndarray  # sales on uncensored days, NaN on censored days
    target: np.ndarray  # model target (censored days imputed): the calibration's actual
    level: np.ndarray  # sample x folds: series level at the cutoff
    scores: pd.DataFrame
    candidates: dict[str, list[str]] = field(default_factory=dict)  # unit -> models tried
    seconds: float = 0.0
    combinations: dict[str, str] = field(default_factory=dict)  # unit -> combination name
    plan: BacktestPlan | None = None
    #: sample x folds: each series' index of dispersion at the cutoff (calibration.spread_index),
    #: set when settings.cumulative_scale is 'dispersion'
    spread: np.ndarray | None = None


def stratified_sample(
    units: pd.Series, volume: np.ndarray, eligible: np.ndarray, per_unit: int, seed: int
) -> np.ndarray:
    """Positions of a seeded sample of at most ``per_unit`` eligible series per unit.

    Within a unit the series are sorted by volume into five equal-count bands and the sample
    is drawn from each band in proportion, so that both slow and fast movers are scored.
    """
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for unit in sorted(units[eligible].unique()):
        pos = np.flatnonzero((units.to_numpy() == unit) & eligible)
        if len(pos) <= per_unit:
            chosen.append(pos)
            continue
        ordered = pos[np.argsort(volume[pos], kind="stable")]
        bands = np.array_split(ordered, 5)
        quota = np.floor(per_unit * np.array([len(b) for b in bands]) / len(pos)).astype(int)
        quota[: per_unit - quota.sum()] += 1  # hand out the rounding remainder
        for band, k in zip(bands, quota, strict=True):
            chosen.append(rng.choice(band, size=min(k, len(band)), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def series_level(target: np.ndarray, end: int, window: int = 364, *,
                 dormant_intervals: float = 0.0) -> np.ndarray:
    """Level of each series at column ``end``: the scale of its calibrated errors.

    The larger of the mean demand of the last 28 days and half the mean of the last ``window``
    days (so a slow mover that did not sell for four weeks keeps a sensible scale), at least
    0.01 units a day. With ``dormant_intervals`` > 0 the half-mean floor is dropped for a *dormant*
    series: one whose days since its last sale exceed both 28 and ``dormant_intervals`` times
    its mean interval between sales over the window (window days / days with a sale): a gap
    its own selling rhythm makes unlikely (3 intervals: about 5% for sales at random days).
    Its level is then its 28-day mean, and its quantiles shrink with its forecast.
    """
    lo = max(0, end + 1 - window)
    span = target[:, lo : end + 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # series not started yet: all NaN
        recent = np.nanmean(target[:, max(0, end + 1 - LEVEL_WINDOW) : end + 1], axis=1)
        longer = np.nanmean(span, axis=1)
    recent, floor = np.nan_to_num(recent, nan=0.0), 0.5 * np.nan_to_num(longer, nan=0.0)
    if dormant_intervals > 0 and span.shape[1]:
        sold = np.nan_to_num(span, nan=0.0) > 0
        observed = np.isfinite(span).sum(axis=1)
        last = np.where(sold.any(axis=1),
                        span.shape[1] - 1 - np.argmax(sold[:, ::-1], axis=1), -np.inf)
        since = (span.shape[1] - 1) - last
        interval = observed / np.maximum(sold.sum(axis=1), 1)
        dormant = since > np.maximum(LEVEL_WINDOW, dormant_intervals * interval)
        floor = np.where(dormant, 0.0, floor)
    return np.maximum(np.fmax(recent, floor), 0.01)


def _sample_series(
    panel: DemandPanel, assignments: pd.DataFrame, settings: ForecastSettings,
    plan: BacktestPlan, first_cutoff: pd.Timestamp,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The series the backtest scores: a stratified sample of each unit's eligible series.

    Eligible: not cold-start, with at least ``plan.min_history`` days of history at the first
    cutoff. Returns the panel rows and their assignments (the panel row in a first column
    ``row``), in panel order.
    """
    first_end = panel.day_index(first_cutoff)
    first = panel.series["first_day"].to_numpy()
    eligible = (first_end - first + 1 >= plan.min_history) & (
        ~assignments["is_cold_start"].to_numpy()
    )
    volume = series_level(panel.target, first_end)
    rows = stratified_sample(assignments["unit"], volume, eligible, settings.sample_per_unit,
                             settings.seed)
    sample = assignments.iloc[rows].reset_index(drop=True).copy()
    sample.insert(0, "row", rows)
    return rows, sample


def run_backtest(
    panel: DemandPanel,
    assignments: pd.DataFrame,
    settings: ForecastSettings,
    unit_candidates: dict[str, list[str]],
    exogenous: ExogenousInputs | None = None,
) -> BacktestResult:
    """Backtest every unit's candidates on its sampled series over the rolling origins.

    Parameters
    ----------
    panel : DemandPanel
    assignments : DataFrame
        One row per panel series (same order): category, demand_class, unit, is_cold_start.
    settings : ForecastSettings
    unit_candidates : dict
        unit -> candidate names tried on it.
    exogenous : ExogenousInputs, optional

    Returns
    -------
    BacktestResult
    """
    started = time.perf_counter()
    plan = plan_backtest(len(panel.dates), settings)
    for line in plan.reductions:
        logger.warning("%s", line)
    h = plan.horizon
    cutoffs = backtest_cutoffs(panel.dates, settings, plan)
    empty_scores = pd.DataFrame(columns=SCORE_COLUMNS)
    if not cutoffs:
        return BacktestResult(assignments.iloc[:0].assign(row=[]), [], h, {}, np.zeros((0, 0, h)),
                              np.zeros((0, 0, h)), np.zeros((0, 0)), empty_scores, plan=plan)
    rows, sample = _sample_series(panel, assignments, settings, plan, cutoffs[0])
    logger.info("backtest: %d series sampled in %d units, folds at %s", len(rows),
                sample["unit"].nunique(), ", ".join(str(c.date()) for c in cutoffs))

    n, k = len(rows), len(cutoffs)
    all_models = sorted({m for u in sample["unit"].unique() for m in unit_candidates[u]
                         if not is_combination(m)})
    forecasts = {m: np.full((n, k, h), np.nan) for m in all_models}
    actual = np.full((n, k, h), np.nan)
    target = np.full((n, k, h), np.nan)
    level = np.zeros((n, k))
    spread = np.ones((n, k)) if settings.cumulative_scale == "dispersion" else None
    scales = np.zeros((2, n, k))  # mase and rmsse scales per series and fold
    score_frames = []
    # series sharing a candidate set share one statsforecast call
    sets = sample["unit"].map(lambda u: tuple(m for m in unit_candidates[u]
                                              if not is_combination(m)))
    global_models = [m for m in all_models if m in GLOBAL_CANDIDATES]
    for f, cutoff in enumerate(cutoffs):
        fold_started = time.perf_counter()
        end = panel.day_index(cutoff)
        for cand in sorted(sets.unique()):
            local = np.flatnonzero((sets == cand).to_numpy())
            local_models = [m for m in cand if m not in GLOBAL_CANDIDATES]
            fc = forecast_panel(panel, rows[local], end, local_models, settings, h, exogenous)
            for m, arr in fc.items():
                forecasts[m][local, f] = arr
        if global_models:
            fc = forecast_panel(panel, rows, end, global_models, settings, h, exogenous)
            for m, arr in fc.items():
                use = np.array([m in unit_candidates[u] for u in sample["unit"]])
                forecasts[m][use, f] = arr[use]
        sales = panel.sales[rows, end + 1 : end + 1 + h]
        cens = panel.censored[rows, end + 1 : end + 1 + h]
        actual[:, f] = np.where(cens, np.nan, sales)
        target[:, f] = panel.target[rows, end + 1 : end + 1 + h]
        level[:, f] = series_level(panel.target[rows], end)
        if spread is not None:
            spread[:, f] = spread_index(panel.target[rows], end)
        lo = max(0, end + 1 - settings.train_window_days)
        history = panel.target[rows, lo : end + 1]
        scales[0, :, f] = mase_scale = seasonal_naive_scale(history, settings.season_length)
        scales[1, :, f] = rmsse_scale = one_step_naive_scale(history)
        score_frames += score_fold(f, all_models, forecasts, actual, mase_scale, rmsse_scale)
        logger.info("backtest fold %d/%d (cutoff %s): %d series x %d models in %.1f s", f + 1, k,
                    cutoff.date(), n, len(all_models), time.perf_counter() - fold_started)
    scores = pd.concat(score_frames, ignore_index=True) if score_frames else empty_scores
    scores, candidates, combinations = score_combinations(
        scores, sample, unit_candidates, settings, forecasts, actual, scales)
    # 'pos' in scores is the position in the sample; sample['row'] is the panel row
    return BacktestResult(
        sample=sample,
        cutoffs=cutoffs,
        horizon=h,
        forecasts=forecasts,
        actual=actual,
        target=target,
        level=level,
        spread=spread,
        scores=scores,
        candidates=candidates,
        seconds=time.perf_counter() - started,
        combinations=combinations,
        plan=plan,
    )

