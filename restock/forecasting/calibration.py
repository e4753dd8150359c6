"""Quantiles of daily and cumulative demand, calibrated on the backtest's errors.

The models give a mean forecast; the spread comes from how wrong the backtest was.

- Scaled error: for a backtested series with level ``s`` (its mean demand over the 28 days before
  the cutoff, at least 0.01), daily ``z = (actual - forecast) / s`` and cumulative
  ``z_k = (A_k - F_k) / sqrt(s k)`` where ``A_k``, ``F_k`` are the actual and forecast totals
  of the first ``k`` days (count demand's errors grow like the square root of the expected
  total, see ``cumulative_scale``). On censored days both use the model target (censored days
  imputed), the best estimate of demand there is: stock-outs fall on high-demand days more
  often than not, so leaving those days out would make the spread too narrow. (Scoring, by
  contrast, skips them.)
- Pools: empirical quantiles of ``z`` per unit (category x demand class) x model x volume band
  (terciles of ``s`` in the unit), with split-conformal finite-sample levels
  ``ceil((n + 1) p) / n``. Daily errors are pooled by horizon week, cumulative ones per ``k``.
  A pool with fewer than ``settings.calibration_min_samples`` errors falls back to
  unit x model, then demand class x model, then model, then all errors. Cumulative levels
  also fall back, level by level, to the first pool with at least ``MIN_TAIL`` errors beyond
  the level (``Calibration.tail_table``): a high level of a small pool is one of its few
  largest errors.
- Quantile of a series = ``max(0, forecast + s * z_p)`` (daily) and
  ``max(0, F_k + sqrt(s k) z_{p,k})`` (cumulative), then made non-decreasing in the level and,
  for totals, in ``k``.
- Beyond the backtest horizon ``Hb`` the scaled error of ``k = Hb`` is held and the spread of
  the total grows in proportion to ``k`` from there (scale ``sqrt(s Hb) k / Hb``). That is wider
  than the ``sqrt(k)`` growth of independent daily errors, on purpose: level errors persist
  over the horizon.
- The coverage reported in ``backtest_metrics`` is out-of-fold: the quantiles scoring fold ``f``
  are calibrated on the other folds only (in-sample when there is a single fold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting.settings import ForecastSettings

WEEK = 7
N_BANDS = 3
# A cumulative level p is read from the finest pool with at least this many errors beyond it.
MIN_TAIL = 5


@dataclass
class Calibration:
    """Scaled-error quantiles by pool (see the module docstring); reusable by the planner.

    ``daily[key]`` is an array (horizon weeks x len(daily_levels)); ``cumulative[key]`` an
    array (Hb x len(cumulative_levels)). Keys are tuples: ("band", unit, model, band),
    ("unit", unit, model), ("class", demand_class, model), ("model", model), ("all",).
    """

    daily_levels: np.ndarray
    cumulative_levels: np.ndarray
    backtest_horizon: int
    band_edges: dict[str, np.ndarray] = field(default_factory=dict)
    daily: dict[tuple, np.ndarray] = field(default_factory=dict)
    cumulative: dict[tuple, np.ndarray] = field(default_factory=dict)
    counts: dict[tuple, int] = field(default_factory=dict)

    def band(self, unit: str, level: np.ndarray) -> np.ndarray:
        """Volume band (0..2) of series levels in ``unit`` (0 when the unit is unknown)."""
        edges = self.band_edges.get(unit)
        if edges is None:
            return np.zeros(len(level), dtype=int)
        return np.searchsorted(edges, level, side="right")

    def keys_for(self, unit: str, demand_class: str, model: str, band: int) -> list[tuple]:
        """Pools from the finest to the coarsest."""
        return [("band", unit, model, int(band)), ("unit", unit, model),
                ("class", demand_class, model), ("model", model), ("all",)]

    def table(self, kind: str, unit: str, demand_class: str, model: str, band: int) -> np.ndarray:
        """The finest pool's quantile table that exists."""
        tables = self.daily if kind == "daily" else self.cumulative
        for key in self.keys_for(unit, demand_class, model, band):
            if key in tables:
                return tables[key]
        raise KeyError("calibration has no pools")

    def tail_table(self, unit: str, demand_class: str, model: str, band: int) -> np.ndarray:
        """Cumulative quantile table with each level from the finest pool that has at least
        MIN_TAIL errors beyond it (n (1 - p) >= MIN_TAIL), else the coarsest one.

        A level p read from n errors is the ceil((n + 1) p)-th smallest: with under a handful
        of errors beyond it (0.98 and up in a pool of 71), it is one of the few largest errors
        of the pool, as noisy as a single draw from the tail, and the policy's stock at high
        targets followed that noise.
        """
        keys = [k for k in self.keys_for(unit, demand_class, model, band)
                if k in self.cumulative]
        if not keys:
            raise KeyError("calibration has no pools")
        levels = self.cumulative_levels
        out = np.array(self.cumulative[keys[-1]], dtype=float, copy=True)
        chosen = np.full(levels.size, len(keys) - 1)
        for j, p in enumerate(levels):
            for i, key in enumerate(keys):
                if self.counts.get(key, 0) * (1.0 - p) >= MIN_TAIL - 1e-9:
                    chosen[j] = i
                    break
        for i in np.unique(chosen):
            cols = chosen == i
            table = self.cumulative[keys[i]]
            rows = min(table.shape[0], out.shape[0])
            out[:rows, cols] = table[:rows, cols]
        return np.maximum.accumulate(out, axis=1)

    def to_frame(self) -> pd.DataFrame:
        """The calibration as a long table (kind, pool, step, level, z, n) for inspection."""
        rows = []
        for kind, tables, levels in (("daily", self.daily, self.daily_levels),
                                     ("cumulative", self.cumulative, self.cumulative_levels)):
            for key, arr in tables.items():
                for step in range(arr.shape[0]):
                    for j, lv in enumerate(levels):
                        rows.append((kind, "/".join(map(str, key)), step + 1, float(lv),
                                     float(arr[step, j]), self.counts.get(key, 0)))
        return pd.DataFrame(rows, columns=["kind", "pool", "step", "level", "z", "n"])


def _conformal_quantiles(z: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of each column of ``z`` (samples x steps) at split-conformal levels."""
    counts = (~np.isnan(z)).sum(axis=0)
    out = np.zeros((z.shape[1], len(levels)))
    has = counts > 0
    if has.any():
        n = max(int(np.median(counts[has])), 1)
        adj = np.minimum(np.ceil((n + 1) * levels) / n, 1.0)
        out[has] = np.nanquantile(z[:, has], adj, axis=0, method="higher").T
    return np.maximum.accumulate(out, axis=1)  # non-decreasing in the level


def fit_calibration(
    sample: pd.DataFrame,
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    target: np.ndarray,
    level: np.ndarray,
    settings: ForecastSettings,
    folds: np.ndarray | None = None,
) -> Calibration:
    """Fit the scaled-error pools from backtest arrays (sample x folds x horizon).

    Parameters
    ----------
    sample : DataFrame
        unit and demand_class of each backtested series (same order as the arrays).
    forecasts : dict
        model -> forecasts (sample x folds x horizon), NaN where the model was not tried.
    actual : ndarray
        Uncensored actual demand (NaN on censored days).
    target : ndarray
        Model target over the horizon (censored days imputed).
    level : ndarray (sample x folds)
        Series level at each cutoff.
    settings : ForecastSettings
    folds : ndarray of int, optional
        Fold positions used (default all): out-of-fold coverage leaves one out.
    """
    n_folds = actual.shape[1]
    horizon = actual.shape[2]
    folds = np.arange(n_folds) if folds is None else np.asarray(folds, dtype=int)
    daily_levels = np.array(sorted(set(settings.quantile_levels) | {0.5}), dtype=float)
    cum_levels = np.array(sorted(set(settings.cumulative_levels)), dtype=float)
    cal = Calibration(daily_levels, cum_levels, horizon)
    units = sample["unit"].to_numpy()
    classes = sample["demand_class"].to_numpy()
    for unit in np.unique(units):
        lv = level[units == unit][:, folds].ravel()
        cal.band_edges[unit] = np.quantile(lv, [1 / 3, 2 / 3]) if len(lv) >= 3 else np.array([])
    steps_k = np.arange(1, horizon + 1)
    n_weeks = -(-horizon // WEEK)
    minimum = settings.calibration_min_samples

    pools: dict[tuple, list[tuple[np.ndarray, np.ndarray]]] = {}
    for model, fc in forecasts.items():
        fc = fc[:, folds]
        tried = ~np.isnan(fc).all(axis=2)  # sample x folds
        s = level[:, folds]
        # Censored days are high-demand days more often than not: dropping them would bias
        # the spread low, so the daily errors use the imputed demand there (scoring does not).
        demand = np.where(np.isnan(actual[:, folds]), target[:, folds], actual[:, folds])
        z_day = (demand - fc) / s[:, :, None]
        cum_err = np.cumsum(target[:, folds], axis=2) - np.cumsum(fc, axis=2)
        z_cum = cum_err / cumulative_scale(s, steps_k, horizon)
        bands = np.zeros_like(s, dtype=int)
        for unit in np.unique(units):
            m = units == unit
            edges = cal.band_edges[unit]
            bands[m] = np.searchsorted(edges, s[m], side="right") if len(edges) else 0
        for i in range(len(sample)):
            for f in np.flatnonzero(tried[i]):
                keys = [("band", units[i], model, int(bands[i, f])), ("unit", units[i], model),
                        ("class", classes[i], model), ("model", model), ("all",)]
                for key in keys:
                    pools.setdefault(key, []).append((z_day[i, f], z_cum[i, f]))
    for key, items in pools.items():
        if len(items) < minimum and key != ("all",):
            continue
        zd = np.stack([d for d, _ in items])  # samples x horizon
        zc = np.stack([c for _, c in items])
        # daily errors pooled per horizon week
        weekly = np.full((zd.shape[0] * WEEK, n_weeks), np.nan)
        for w in range(n_weeks):
            block = zd[:, w * WEEK : (w + 1) * WEEK].ravel()
            weekly[: len(block), w] = block
        cal.daily[key] = _conformal_quantiles(weekly, daily_levels)
        cal.cumulative[key] = _conformal_quantiles(zc, cum_levels)
        cal.counts[key] = len(items)
    if ("all",) not in cal.daily:  # no backtest at all: a wide, symmetric default
        cal.daily[("all",)] = np.tile(_default_z(daily_levels), (n_weeks, 1))
        cal.cumulative[("all",)] = np.tile(_default_z(cum_levels), (horizon, 1))
    return cal


def cumulative_scale(level: np.ndarray, k: np.ndarray, backtest_horizon: int) -> np.ndarray:
    """Scale of the error of a k-day total: sqrt(s k) up to the backtest horizon Hb, then
    sqrt(s Hb) k / Hb (``level`` (...) x ``k`` (K,) -> (..., K)).

    Count demand's errors grow like the square root of the expected total: scaled by s k, the
    errors of slow movers are several times wider than those of fast movers in the same pool
    (M5 CA_1, k = 14: the 0.95 quantile of (A - F) / (s k) falls from 2.7 at s = 0.14 to 0.53
    at s = 6.9; scaled by sqrt(s k) it stays within 3.2-6.1), so a pooled quantile was too
    narrow for the slowest series and too wide for the fastest ones, which hold the stock.
    """
    s = np.asarray(level, dtype=float)[..., None]
    k = np.asarray(k, dtype=float)
    hb = float(backtest_horizon)
    return np.sqrt(s * np.minimum(k, hb)) * np.maximum(k / hb, 1.0)


def _default_z(levels: np.ndarray) -> np.ndarray:
    """Scaled-error quantiles used without any backtest: Poisson-like spread at level 1."""
    from scipy.stats import norm

    return np.maximum(norm.ppf(levels), 0.0) * 1.5


def _series_pools(
    cal: Calibration, assignments: pd.DataFrame, level: np.ndarray
) -> pd.Series:
    """Group key (unit, demand_class, model, band) of each series."""
    bands = np.zeros(len(assignments), dtype=int)
    units = assignments["unit"].to_numpy()
    for unit in np.unique(units):
        m = units == unit
        bands[m] = cal.band(unit, level[m])
    return pd.Series(list(zip(units, assignments["demand_class"].to_numpy(),
                              assignments["model"].to_numpy(), bands, strict=True)))


def daily_quantiles(
    cal: Calibration, assignments: pd.DataFrame, forecast: np.ndarray, level: np.ndarray
) -> dict[float, np.ndarray]:
    """Daily demand quantiles (series x horizon) at ``cal.daily_levels``.

    ``assignments`` needs unit, demand_class, model (the pool's model) per series.
    """
    n, h = forecast.shape
    out = {float(p): np.zeros((n, h)) for p in cal.daily_levels}
    week = np.arange(h) // WEEK
    keys = _series_pools(cal, assignments, level)
    for key, idx in keys.groupby(keys).groups.items():
        idx = np.asarray(idx)
        table = cal.table("daily", *key)
        rows = np.minimum(week, table.shape[0] - 1)
        for j, p in enumerate(cal.daily_levels):
            z = table[rows, j]
            out[float(p)][idx] = forecast[idx] + level[idx, None] * z[None, :]
    prev = None
    for p in cal.daily_levels:
        arr = np.clip(out[float(p)], 0.0, None)
        if prev is not None:
            arr = np.maximum(arr, prev)
        out[float(p)] = arr
        prev = arr
    return out


def cumulative_quantiles(
    cal: Calibration, assignments: pd.DataFrame, forecast: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Quantiles of total demand over the next k days: array (series x H x levels).

    H is ``forecast.shape[1]``; beyond the backtest horizon the last z row is held
    (module docstring).
    """
    n, h = forecast.shape
    levels = cal.cumulative_levels
    total = np.cumsum(forecast, axis=1)
    k = np.arange(1, h + 1)
    scale = cumulative_scale(level, k, cal.backtest_horizon)  # n x H
    out = np.zeros((n, h, len(levels)))
    keys = _series_pools(cal, assignments, level)
    for key, idx in keys.groupby(keys).groups.items():
        idx = np.asarray(idx)
        table = cal.tail_table(*key)
        rows = np.minimum(np.arange(h), table.shape[0] - 1)
        z = table[rows]  # H x levels
        out[idx] = total[idx, :, None] + scale[idx, :, None] * z[None]
    out = np.clip(out, 0.0, None)
    out = np.maximum.accumulate(out, axis=2)  # non-decreasing in the level
    out = np.maximum.accumulate(out, axis=1)  # and in k: a longer window never holds less
    return out
