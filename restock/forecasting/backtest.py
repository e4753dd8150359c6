"""Rolling-origin backtest of the candidates on a stratified sample of each unit's series.

- Cutoffs come from sktime's ``ExpandingWindowSplitter`` over the daily grid: ``settings.folds``
  origins ``settings.step_days`` apart, the last one ``settings.horizon`` days before as_of, so
  every fold has a full horizon of actuals. Short histories shrink the plan by the rules of
  :func:`plan_backtest` (below), never below one fold of one season. Each fold fits on at most
  ``settings.train_window_days`` days before its cutoff (``settings.costly_window_days`` for
  auto_ets / auto_theta / auto_arima, whose fit time grows with the length).
- Per unit (category x demand class), ``settings.sample_per_unit`` series are drawn with a fixed
  seed, stratified by volume (five equal-count volume bands, drawn in proportion), among the
  series with at least the plan's fit history (``settings.min_history_days``, or half of it on
  a short history) at the first cutoff.
- All series that share a candidate set go to one ``StatsForecastPanel`` call per fold (cheap
  models on the long window, costly ones on the short one); lightgbm_global is fitted once per
  fold on all sampled series, with exogenous features when it takes them.
- Scores are per series and fold, on uncensored days only (metrics.py).
- ``combination`` is not fitted: after all folds, each unit's members are chosen by forward
  selection (:func:`forward_members`; seasonal naive excluded; small units choose on their
  demand class pooled): start from the best base candidate by mean RMSSE, then add, one at a
  time, the candidate whose equal-weight mean with those already chosen has the lowest mean
  RMSSE, up to ``settings.combination_size`` members and, past two, only while the mean
  improves. Their forecasts are averaged fold by fold, and the mean is scored like any model
  under the name ``combination(a+b+c)``, which replaces ``combination`` in
  ``BacktestResult.candidates``. Forward selection picks members whose errors offset each
  other (a global model beside a local smoother) where ranking the members one by one picks
  near-copies (three local smoothers); on M5 CA_1 it lowered the out-of-sample mean RMSSE at
  two pseudo as-of dates before the evaluated one (README). Choosing the members on the same
  folds that score the mean flatters it slightly; the selection's paired test still keeps a
  single model that is reliably better.

Histories of any length (:func:`plan_backtest`, ``n`` = days from the panel's first date to
as_of, ``h`` = backtest horizon, ``m`` = ``settings.min_history_days``):

1. Configured plan: ``settings.folds`` folds ``settings.step_days`` apart, each with ``h`` days
   scored and at least ``m`` days to fit before the first cutoff; fewer folds (down to 1) when
   the history holds fewer.
2. Short history: no fold fits at 1. The fit history needed at the first cutoff is halved
   (``max(m // 2, 3)`` days, four weeks by default), the horizon shortened to what is left
   (``min(h, n - m // 2)``) as long as it covers one season (``min(h, season_length)`` days), the
   step set to that horizon, and as many folds as fit (up to ``settings.folds``).
3. No room for a fold (``n < max(m // 2, 3) + min(h, season_length)``, 35 days by default):
   no backtest. The nightly then selects without a holdout (``nightly.holdout_free_selection``:
   AutoETS, which chooses its own form by AICc on each series' history, where it is a
   candidate and the series hold two seasons; the moving average otherwise) and publishes the
   reason in ``model_selection.reason``.

Every reduction is logged (warning) and kept in :attr:`BacktestPlan.reductions`, which the
nightly returns in ``ForecastResult.adaptations`` for the report.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting.aggregate import adida_weekly_forecast
from restock.forecasting.censoring import DemandPanel
from restock.forecasting.features import build_exogenous
from restock.forecasting.metrics import mase, one_step_naive_scale, rmsse, seasonal_naive_scale
from restock.forecasting.models import (
    COSTLY,
    GLOBAL_CANDIDATES,
    NAIVE_MODEL,
    NUMPY_CANDIDATES,
    build_candidate,
    combination_members,
    combination_name,
    is_combination,
    make_panel_forecaster,
    predictions_to_wide,
    uses_exogenous,
    wide_to_panel,
)
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: Days of recent demand that set a series' level (the scale of its calibrated errors).
LEVEL_WINDOW = 28


@dataclass
class ExogenousInputs:
    """Inputs the exogenous feature builder needs (all optional but ``demand``)."""

    demand: pd.DataFrame
    promotions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    drivers: pd.DataFrame | None = None
    products: pd.DataFrame | None = None


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


def backtest_horizon(settings: ForecastSettings) -> int:
    """Days scored per fold: ``settings.backtest_horizon`` or else the forecast horizon."""
    return settings.backtest_horizon or settings.horizon


@dataclass(frozen=True)
class BacktestPlan:
    """Folds, horizon, step and fit history of a backtest, adapted to the history's length.

    ``reductions``: one plain sentence per setting reduced (empty when the configured plan
    fits); ``reason``: why there is no fold at all (None when there is one).
    """

    folds: int
    horizon: int
    step: int
    min_history: int
    history_days: int
    reductions: tuple[str, ...] = ()
    reason: str | None = None


def _folds_that_fit(n: int, h: int, step: int, need: int, most: int) -> int:
    folds = most
    while folds > 0 and n - h - (folds - 1) * step < need:
        folds -= 1
    return folds


def plan_backtest(n: int, settings: ForecastSettings) -> BacktestPlan:
    """The backtest plan for ``n`` days of history up to as_of (rules in the module docstring)."""
    h, step, need = backtest_horizon(settings), settings.step_days, settings.min_history_days
    folds = _folds_that_fit(n, h, step, need, settings.folds)
    configured = (f"configured {settings.folds} folds of {h} days every {step} days after "
                  f"{need} days of fit history")
    if folds == settings.folds:
        return BacktestPlan(folds, h, step, need, n)
    if folds > 0:
        return BacktestPlan(folds, h, step, need, n, (
            f"backtest folds {settings.folds} -> {folds}: the history holds {n} days "
            f"({configured})",))
    relaxed = max(need // 2, 3)
    shortest = min(h, settings.season_length)
    h2 = min(h, n - relaxed)
    if h2 >= shortest:
        folds = _folds_that_fit(n, h2, h2, relaxed, settings.folds)
        changes = [f"backtest folds {settings.folds} -> {folds}",
                   f"fit history at the first cutoff {need} -> {relaxed} days"]
        if h2 < h:
            changes.append(f"backtest horizon {h} -> {h2} days")
        if h2 != step:
            changes.append(f"step {step} -> {h2} days")
        return BacktestPlan(folds, h2, h2, relaxed, n, (
            f"{', '.join(changes)}: the history holds {n} days ({configured})",))
    reason = (f"the history holds {n} days, too few for one backtest fold (at least "
              f"{relaxed + shortest} days: {relaxed} to fit and {shortest} to score)")
    return BacktestPlan(0, h, step, need, n, (f"no backtest: {reason}",), reason)


def backtest_cutoffs(
    dates: pd.DatetimeIndex, settings: ForecastSettings, plan: BacktestPlan | None = None
) -> list[pd.Timestamp]:
    """Fold cutoffs (last training day of each fold), oldest first, via sktime's splitter.

    ``plan`` (default: :func:`plan_backtest` of the dates) sets the folds, horizon and step;
    an empty list when the history has no room for a fold.
    """
    from sktime.split import ExpandingWindowSplitter

    n = len(dates)
    plan = plan or plan_backtest(n, settings)
    if plan.folds == 0:
        return []
    h = plan.horizon
    initial = n - h - (plan.folds - 1) * plan.step
    splitter = ExpandingWindowSplitter(
        fh=list(range(1, h + 1)), initial_window=initial, step_length=plan.step
    )
    positions = np.asarray(splitter.get_cutoffs(pd.Series(np.zeros(n), index=dates)), dtype=int)
    return [dates[p] for p in positions[-plan.folds:]]


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


def series_level(target: np.ndarray, end: int, window: int = 364) -> np.ndarray:
    """Level of each series at column ``end``: the scale of its calibrated errors.

    The larger of the mean demand of the last 28 days and half the mean of the last ``window``
    days (so a slow mover that did not sell for four weeks keeps a sensible scale), at least
    0.01 units a day.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # series not started yet: all NaN
        recent = np.nanmean(target[:, max(0, end + 1 - LEVEL_WINDOW) : end + 1], axis=1)
        longer = np.nanmean(target[:, max(0, end + 1 - window) : end + 1], axis=1)
    level = np.fmax(np.nan_to_num(recent, nan=0.0), 0.5 * np.nan_to_num(longer, nan=0.0))
    return np.maximum(level, 0.01)


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
    for m in models:
        if m in GLOBAL_CANDIDATES:
            fc = _forecast_global(m, panel, rows, end, settings, horizon, exogenous)
            if fc is not None:
                out[m] = fc
    for m, arr in out.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            lo = max(0, end + 1 - settings.moving_average_window)
            with np.errstate(invalid="ignore"):
                fallback = np.nan_to_num(np.nanmean(values[:, lo:], axis=1))
            arr[bad] = np.broadcast_to(fallback[:, None], arr.shape)[bad]
            logger.warning("%s: %d non-finite forecasts replaced by the moving average",
                           m, int(bad.sum()))
        out[m] = np.clip(arr, 0.0, None)
    return out


def combine(forecasts: list[np.ndarray]) -> np.ndarray:
    """Equal-weight mean of members' forecasts, ignoring a member where it has no forecast."""
    stack = np.stack(forecasts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all members NaN: stays NaN
        return np.nanmean(stack, axis=0)


def forward_members(
    ranked: list[str], score_of: Callable[[list[str]], float], size: int
) -> list[str]:
    """Forward selection of combination members (equal weights, no repeats).

    ``ranked`` are the base candidates, best single score first; ``score_of(members)`` is the
    mean RMSSE of the equal-weight mean of ``members``. Starts from ``ranked[0]`` and adds the
    candidate giving the lowest combined score (ties: the earlier in ``ranked``) until ``size``
    members; a third or later member is added only when it lowers the best score so far, the
    second always (a combination has at least two). Fewer than two candidates: [].
    """
    if len(ranked) < 2:
        return []
    chosen = [ranked[0]]
    best = score_of(chosen)
    while len(chosen) < size:
        trials = [(score_of(chosen + [m]), i, m) for i, m in enumerate(ranked)
                  if m not in chosen]
        trials = [t for t in trials if np.isfinite(t[0])]
        if not trials:
            break
        score, _, model = min(trials)
        if len(chosen) >= 2 and not score < best:
            break
        chosen.append(model)
        best = min(best, score) if np.isfinite(best) else score
    return chosen if len(chosen) >= 2 else []


def mean_rmsse(
    forecasts: dict[str, np.ndarray], members: list[str], pos: np.ndarray, actual: np.ndarray,
    scale: np.ndarray,
) -> float:
    """Mean RMSSE over the series ``pos`` x folds of the equal-weight mean of ``members``.

    ``forecasts[m]`` and ``actual`` are (sample x folds x horizon), ``scale`` (sample x folds).
    """
    fc = combine([forecasts[m][pos] for m in members])
    k = fc.shape[1]
    r = np.concatenate([rmsse(actual[pos, f], fc[:, f], scale[pos, f])
                        for f in range(k)])
    r = r[np.isfinite(r)]
    return float(r.mean()) if len(r) else float("nan")


def choose_members(
    scores: pd.DataFrame, sample: pd.DataFrame, candidates: list[str], unit: str,
    settings: ForecastSettings, forecasts: dict[str, np.ndarray] | None = None,
    actual: np.ndarray | None = None, scale: np.ndarray | None = None,
) -> list[str]:
    """A unit's combination members (module docstring).

    ``scores`` has pos, model, rmsse for the base candidates; ``sample`` the unit and
    demand_class of each position. With the backtest's ``forecasts``, ``actual`` and RMSSE
    ``scale`` (sample x folds) the members come from :func:`forward_members`; without them,
    the ``combination_size`` best by mean RMSSE. Fewer than two scored candidates: [].
    """
    base = [m for m in candidates if not is_combination(m) and m != NAIVE_MODEL]
    units = sample["unit"].to_numpy()
    positions = np.flatnonzero(units == unit)
    if len(positions) < settings.min_unit_sample:
        demand_class = sample["demand_class"].to_numpy()[positions[0]] if len(positions) else None
        pooled = np.flatnonzero(sample["demand_class"].to_numpy() == demand_class)
        if len(pooled) > len(positions):
            positions = pooled
    mine = scores[scores["pos"].isin(positions) & scores["model"].isin(base)]
    mine = mine[np.isfinite(mine["rmsse"].astype(float))]
    ranked = mine.groupby("model")["rmsse"].mean().reset_index().sort_values(["rmsse", "model"])
    if settings.combination_members:
        fixed = [m for m in settings.combination_members if m in set(ranked["model"])]
        if len(fixed) >= 2:
            return fixed
    order = ranked["model"].tolist()
    if forecasts is not None and actual is not None and scale is not None:
        pos = np.asarray(positions, dtype=int)
        return forward_members(
            order, lambda ms: mean_rmsse(forecasts, ms, pos, actual, scale),
            settings.combination_size)
    members = order[: settings.combination_size]
    return members if len(members) >= 2 else []


def _score_frame(
    pos: np.ndarray, fold: int, model: str, fc: np.ndarray, actual: np.ndarray,
    mase_scale: np.ndarray, rmsse_scale: np.ndarray,
) -> pd.DataFrame:
    """Per-series scores of forecasts ``fc`` (len(pos) x h) against ``actual`` (same shape)."""
    return pd.DataFrame(
        {
            "pos": pos,
            "fold": fold + 1,
            "model": model,
            "mase": mase(actual, fc, mase_scale),
            "rmsse": rmsse(actual, fc, rmsse_scale),
            "abs_err": np.nansum(np.abs(actual - fc), axis=1),
            "err": np.nansum(np.where(np.isnan(actual), 0.0, fc - actual), axis=1),
            "actual_sum": np.nansum(actual, axis=1),
            "n_scored": (~np.isnan(actual)).sum(axis=1),
            "mase_scale": mase_scale,
        }
    )


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
    empty_scores = pd.DataFrame(
        columns=["pos", "fold", "model", "mase", "rmsse", "abs_err", "err", "actual_sum",
                 "n_scored", "mase_scale"]
    )
    if not cutoffs:
        return BacktestResult(assignments.iloc[:0].assign(row=[]), [], h, {}, np.zeros((0, 0, h)),
                              np.zeros((0, 0, h)), np.zeros((0, 0)), empty_scores, plan=plan)
    first_end = panel.day_index(cutoffs[0])
    first = panel.series["first_day"].to_numpy()
    eligible = (first_end - first + 1 >= plan.min_history) & (
        ~assignments["is_cold_start"].to_numpy()
    )
    volume = series_level(panel.target, first_end)
    rows = stratified_sample(assignments["unit"], volume, eligible, settings.sample_per_unit,
                             settings.seed)
    sample = assignments.iloc[rows].reset_index(drop=True).copy()
    sample.insert(0, "row", rows)
    logger.info("backtest: %d series sampled in %d units, folds at %s", len(rows),
                sample["unit"].nunique(), ", ".join(str(c.date()) for c in cutoffs))

    n, k = len(rows), len(cutoffs)
    all_models = sorted({m for u in sample["unit"].unique() for m in unit_candidates[u]
                         if not is_combination(m)})
    forecasts = {m: np.full((n, k, h), np.nan) for m in all_models}
    actual = np.full((n, k, h), np.nan)
    target = np.full((n, k, h), np.nan)
    level = np.zeros((n, k))
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
        lo = max(0, end + 1 - settings.train_window_days)
        history = panel.target[rows, lo : end + 1]
        scales[0, :, f] = mase_scale = seasonal_naive_scale(history, settings.season_length)
        scales[1, :, f] = rmsse_scale = one_step_naive_scale(history)
        for m in all_models:
            fc = forecasts[m][:, f]
            tried = ~np.isnan(fc).all(axis=1)
            if not tried.any():
                continue
            score_frames.append(_score_frame(np.flatnonzero(tried), f, m, fc[tried],
                                             actual[tried, f], mase_scale[tried],
                                             rmsse_scale[tried]))
        logger.info("backtest fold %d/%d (cutoff %s): %d series x %d models in %.1f s", f + 1, k,
                    cutoff.date(), n, len(all_models), time.perf_counter() - fold_started)
    scores = pd.concat(score_frames, ignore_index=True) if score_frames else empty_scores
    scores, candidates, combinations = _score_combinations(
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
        scores=scores,
        candidates=candidates,
        seconds=time.perf_counter() - started,
        combinations=combinations,
        plan=plan,
    )


def _score_combinations(
    scores: pd.DataFrame,
    sample: pd.DataFrame,
    unit_candidates: dict[str, list[str]],
    settings: ForecastSettings,
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    scales: np.ndarray,
) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, str]]:
    """The ``combination`` candidate of every unit that tries it: members chosen by forward
    selection on the backtest, their mean scored as one more model (added to ``forecasts``).

    Returns the scores with the combinations' rows, each unit's candidates (the combination
    under its ``combination(a+b)`` name) and unit -> combination name.
    """
    n, k, h = actual.shape
    combinations: dict[str, str] = {}
    candidates = {u: list(c) for u, c in unit_candidates.items()}
    wanted = [u for u in sorted(sample["unit"].unique())
              if any(is_combination(m) for m in unit_candidates[u])]
    if wanted and len(scores):
        combo_frames = []
        units = sample["unit"].to_numpy()
        for unit in wanted:
            members = choose_members(scores, sample, unit_candidates[unit], unit, settings,
                                     forecasts, actual, scales[1])
            candidates[unit] = [m for m in candidates[unit] if not is_combination(m)]
            if not members:
                continue
            name = combination_name(members)
            combinations[unit] = name
            candidates[unit].append(name)
            pos = np.flatnonzero(units == unit)
            arr = forecasts.setdefault(name, np.full((n, k, h), np.nan))
            arr[pos] = combine([forecasts[m][pos] for m in members])
            for f in range(k):
                fc = arr[pos, f]
                tried = ~np.isnan(fc).all(axis=1)
                if tried.any():
                    combo_frames.append(_score_frame(
                        pos[tried], f, name, fc[tried], actual[pos[tried], f],
                        scales[0, pos[tried], f], scales[1, pos[tried], f]))
        if combo_frames:
            scores = pd.concat([scores, *combo_frames], ignore_index=True)
        logger.info("backtest: combinations of %d units: %s", len(combinations),
                    ", ".join(f"{u} {c}" for u, c in combinations.items()))
    else:
        candidates = {u: [m for m in c if not is_combination(m)] for u, c in candidates.items()}
    return scores, candidates, combinations
