"""Baseline planners for the policy replay: what forecasting adds, in stockouts (issue 14, 5).

Each is a plain function of the demand history returning ``planner(t) -> PlanInputs`` (the shape
:func:`restock.inventory.replay.make_reference_planner` returns: daily mean forecasts and
cumulative quantiles per horizon and level, from data dated <= t only). The replay plays them
through the same policy machinery as Restock's planner, on the same days and draws
(``replay_policies(..., planner={"recommended": ..., "naive_quantile": ..., "auto_ets": ...})``).

* :func:`make_empirical_planner`: each series' empirical quantiles of its rolling h-day sums
  over the last 56 days, at each review.
* :func:`make_naive_quantile_planner`: the ``naive_quantile`` baseline, the better calibrated of
  the empirical planner and the negative-binomial reference (see its docstring for the
  measurement and the choice).
* :func:`make_auto_ets_planner`: statsforecast AutoETS (season 7) with its own intervals,
  fitted once per series at the replay start and run forward with those parameters at each
  review; cumulative quantiles are normal from summed means and summed variances.
* :func:`baseline_planners`: the configured ones by name (settings.replay_baselines).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from restock.forecasting.final import PlanInputs
from restock.inventory.distributions import KEYS
from restock.inventory.replay_history import daily_array
from restock.inventory.replay_planner import DEFAULT_LEVELS, make_reference_planner

log = logging.getLogger("restock.inventory")

Planner = Callable[[pd.Timestamp], PlanInputs]


def _history_arrays(demand: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp, np.ndarray]:
    """Keys, first date and series x days demand with censored days as NaN."""
    demand = demand.assign(date=pd.to_datetime(demand["date"]))
    keys = demand[KEYS].drop_duplicates().sort_values(KEYS).reset_index(drop=True)
    first = demand["date"].min()
    dates = pd.date_range(first, demand["date"].max(), freq="D")
    sales = daily_array(demand, keys, dates, "units_sold", np.nan)
    if "is_censored" in demand:
        censored = daily_array(demand.assign(_c=demand["is_censored"].fillna(False)
                                             .astype(float)), keys, dates, "_c", 0.0) > 0
        sales = np.where(censored, np.nan, sales)
    return keys, first, sales


def _plan_frame(keys: pd.DataFrame, t: pd.Timestamp, mean: np.ndarray, cum_mean: np.ndarray,
                cum_q: np.ndarray, levels: np.ndarray) -> PlanInputs:
    """PlanInputs from daily means (S, H), cumulative means (S, H), quantiles (S, H, L)."""
    n, horizon = cum_mean.shape
    hh = np.tile(np.arange(1, horizon + 1), n)
    sku = np.repeat(keys["sku"].to_numpy(), horizon)
    loc = np.repeat(keys["location"].to_numpy(), horizon)
    cumulative = pd.DataFrame({
        "sku": np.repeat(sku, levels.size + 1),
        "location": np.repeat(loc, levels.size + 1),
        "horizon_days": np.repeat(hh, levels.size + 1),
        "level": np.tile(np.concatenate([[0.0], levels]), sku.size),
        "quantity": np.concatenate([cum_mean[..., None], cum_q], axis=2).reshape(-1),
    })
    future = pd.date_range(t + pd.Timedelta(days=1), periods=horizon, freq="D")
    daily = pd.DataFrame({"sku": sku, "location": loc,
                          "date": np.tile(future.to_numpy(), n), "forecast": mean.reshape(-1)})
    return PlanInputs(daily, cumulative)


# ------------------------------------------------------------------------------------------------
# Empirical quantiles of rolling sums
# ------------------------------------------------------------------------------------------------
def empirical_cumulative(window: np.ndarray, horizon: int, levels: np.ndarray,
                         max_sum_days: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative means (S, H) and quantiles (S, H, L) from each series' recent days.

    ``window``: S x W daily demand (NaN = censored / not on sale: filled with the series'
    mean of the other days, 0 when none). For h <= ``max_sum_days`` (default W // 2) the
    quantiles are those of the W - h + 1 overlapping h-day sums (numpy's linear
    interpolation); beyond it, the spread of the last such h grows with sqrt(h):
    q(h) = mean h + (q(H) - mean H) sqrt(h / H). Quantiles are floored at 0 and made
    non-decreasing in h and in the level.
    """
    levels = np.asarray(levels, dtype=float)
    n, width = window.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series with no usable day: 0
        mu = np.nan_to_num(np.nanmean(window, axis=1), nan=0.0) if width else np.zeros(n)
    filled = np.where(np.isfinite(window), window, mu[:, None])
    h_max = max(1, min(horizon, max_sum_days or width // 2, width))
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(filled, axis=1)], axis=1)
    q = np.empty((n, horizon, levels.size))
    for h in range(1, h_max + 1):
        sums = csum[:, h:] - csum[:, :-h]
        q[:, h - 1, :] = np.quantile(sums, levels, axis=1).T if sums.shape[1] else 0.0
    if horizon > h_max:
        extra = np.arange(h_max + 1, horizon + 1, dtype=float)
        spread = q[:, h_max - 1, :] - (mu * h_max)[:, None]
        q[:, h_max:, :] = (mu[:, None, None] * extra[None, :, None]
                           + spread[:, None, :] * np.sqrt(extra / h_max)[None, :, None])
    q = np.maximum.accumulate(np.maximum.accumulate(np.maximum(q, 0.0), axis=1), axis=2)
    cum_mean = mu[:, None] * np.arange(1, horizon + 1)[None, :]
    return cum_mean, q


def make_empirical_planner(demand: pd.DataFrame, horizon: int = 28,
                           levels: tuple[float, ...] = DEFAULT_LEVELS,
                           window_days: int = 56) -> Planner:
    """Empirical quantiles of each series' rolling h-day sums over its last ``window_days``
    days up to t (:func:`empirical_cumulative`); the daily forecast is the window's mean."""
    keys, first, sales = _history_arrays(demand)
    lev = np.asarray(levels, dtype=float)

    def planner(t: pd.Timestamp) -> PlanInputs:
        t = pd.Timestamp(t).normalize()
        ti = (t - first).days
        window = sales[:, max(0, ti - window_days + 1):ti + 1]
        cum_mean, q = empirical_cumulative(window, horizon, lev)
        mean = np.repeat(cum_mean[:, :1], horizon, axis=1)
        return _plan_frame(keys, t, mean, cum_mean, q, lev)

    return planner


def make_naive_quantile_planner(demand: pd.DataFrame, horizon: int = 28,
                                levels: tuple[float, ...] = DEFAULT_LEVELS,
                                window_days: int = 56) -> Planner:
    """The ``naive_quantile`` baseline: the negative-binomial reference planner
    (:func:`restock.inventory.replay.make_reference_planner`, 56-day mean and variance).

    Chosen by calibration on the replay's own achieved cycle service: both planners played
    through the replay's cycle_service frontier (targets 0.80-0.998, same days and draws;
    ``bench/replay_value_bench.py --calibration``), mean |achieved - target| over the frontier:

    - M5 CA_1 (3,048 series, 91 days to 2016-04-24): negative binomial 0.039 (it falls short by
      that much on average), empirical 0.093 (0.80 -> 0.74, 0.998 -> 0.90).

    The empirical quantiles of 29-56 overlapping sums cannot reach past the window's largest
    sum, so their upper levels (0.98-0.998) all sit at about the same stock and under-deliver,
    while the negative binomial's tail keeps growing with the level. The empirical planner
    stays available (:func:`make_empirical_planner`) for the calibration bench.
    """
    return make_reference_planner(demand, horizon, levels, window_days)


# ------------------------------------------------------------------------------------------------
# AutoETS with its own intervals
# ------------------------------------------------------------------------------------------------
Z95 = float(stats.norm.ppf(0.975))


def normal_cumulative(mean: np.ndarray, sigma: np.ndarray, levels: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative means (S, H) and normal quantiles (S, H, L) from daily means and standard
    deviations (S, H): summed means, summed variances (errors taken as independent across
    days), quantiles floored at 0."""
    cum_mean = np.cumsum(np.maximum(mean, 0.0), axis=1)
    cum_sd = np.sqrt(np.cumsum(np.square(sigma), axis=1))
    z = stats.norm.ppf(np.asarray(levels, dtype=float))
    q = np.maximum(cum_mean[..., None] + cum_sd[..., None] * z[None, None, :], 0.0)
    return cum_mean, q


def make_auto_ets_planner(demand: pd.DataFrame, start: pd.Timestamp | str, horizon: int = 28,
                          levels: tuple[float, ...] = DEFAULT_LEVELS, fit_days: int = 182,
                          season_length: int = 7, model: str = "ZNZ") -> Planner:
    """AutoETS (statsforecast, season 7) with its own 95% intervals, per series.

    Each series' model is selected and fitted ONCE, on its last ``fit_days`` days up to the
    replay ``start`` (censored days filled with the series' mean); at each review t the fitted
    model runs forward over the days up to t (``AutoETS.forward``: the same parameters, new
    states and residual sigma, no refit), so the planner costs one fit per series plus one
    cheap filter per review. ``model`` "ZNZ" (error and season chosen by AICc, no trend) and
    ``fit_days`` 182 keep the fit affordable: the full "ZZZ" search over 364 days cost about
    10x as much per series (M5 CA_1 sample of 100-200 items on a loaded 2-core machine: 0.57 s
    against 0.045 s a series) for a planner whose horizon is a few weeks, where a trend adds
    little. Daily
    sigma_h = (hi95_h - mean_h) / 1.96; cumulative quantiles from :func:`normal_cumulative`.
    Series the fit cannot handle (constant, too short) fall back to their window mean and
    standard deviation, as normal.
    """
    from statsforecast.models import AutoETS

    start = pd.Timestamp(start).normalize()
    keys, first, sales = _history_arrays(demand)
    lev = np.asarray(levels, dtype=float)
    si = (start - first).days
    lo = max(0, si - fit_days + 1)
    clock = time.perf_counter()
    model_spec = model
    models: list[object | None] = []
    for row in sales[:, lo:si + 1]:
        y = _clean(row)
        model = None
        if y.size >= 2 * season_length and np.ptp(y) > 0:
            try:
                model = AutoETS(season_length=season_length, model=model_spec).fit(y)
            except Exception:  # noqa: BLE001 - a series the ETS family cannot fit
                model = None
        models.append(model)
    log.info("auto_ets planner: %d series fitted in %.1fs (%d fell back to mean/sd)",
             len(models), time.perf_counter() - clock, sum(m is None for m in models))

    def planner(t: pd.Timestamp) -> PlanInputs:
        t = pd.Timestamp(t).normalize()
        ti = (t - first).days
        mean = np.zeros((len(keys), horizon))
        sigma = np.zeros((len(keys), horizon))
        for i, row in enumerate(sales[:, max(0, ti - fit_days + 1):ti + 1]):
            y = _clean(row)
            model = models[i]
            fc = _forward(model, y, horizon)
            if fc is not None:
                mean[i] = fc["mean"]
                sigma[i] = np.maximum(fc["hi-95"] - fc["mean"], 0.0) / Z95
                continue
            mean[i] = y.mean() if y.size else 0.0
            sigma[i] = y.std(ddof=1) if y.size > 1 else np.sqrt(max(mean[i, 0], 0.0))
        mean = np.nan_to_num(mean, nan=0.0)
        sigma = np.nan_to_num(sigma, nan=0.0)
        cum_mean, q = normal_cumulative(mean, sigma, lev)
        return _plan_frame(keys, t, np.maximum(mean, 0.0), cum_mean, q, lev)

    return planner


def _forward(model: object | None, y: np.ndarray, horizon: int) -> dict | None:
    """The fitted model run forward over ``y`` (None: not fitted, or the filter failed)."""
    if model is None:
        return None
    try:
        return model.forward(y=y, h=horizon, level=[95])
    except Exception:  # noqa: BLE001 - the caller falls back as for an unfitted series
        log.debug("auto_ets forward failed", exc_info=True)
        return None


def _clean(row: np.ndarray) -> np.ndarray:
    """A series' days from its first observation, censored / missing days at its mean."""
    ok = np.isfinite(row)
    if not ok.any():
        return np.zeros(0)
    row = row[int(np.argmax(ok)):]
    ok = np.isfinite(row)
    return np.where(ok, row, row[ok].mean()).astype(float)


def baseline_planners(demand: pd.DataFrame, start: pd.Timestamp | str, names: list[str],
                      horizon: int = 28, levels: tuple[float, ...] = DEFAULT_LEVELS
                      ) -> dict[str, Planner]:
    """The baseline planners by name (settings.replay_baselines), for ``replay_policies``.

    ``demand``: fct_daily_demand with the history before ``start`` (the replay start) and the
    window (each planner uses only data dated <= its review). ``horizon``: days of cumulative
    quantiles, covering the longest lead time + review period.
    """
    makers = {
        "naive_quantile": lambda: make_naive_quantile_planner(demand, horizon, levels),
        "auto_ets": lambda: make_auto_ets_planner(demand, start, horizon, levels),
    }
    unknown = set(names) - set(makers)
    if unknown:
        raise ValueError(f"unknown baseline planners {sorted(unknown)}")
    return {name: makers[name]() for name in names}
