"""Forecast accuracy measures, per series (rows) over a horizon (columns).

All functions take 2-D arrays (series x days); NaN in ``actual`` marks a day that is not scored
(a censored day: its sales are not demand). 1-D input is treated as one series.

- MASE: mean absolute error / in-sample MAE of the seasonal naive forecast (lag = season).
- RMSSE (M5): sqrt(mean squared error / in-sample mean squared one-step naive error).
- WAPE: sum |error| / sum actual. Bias: sum(forecast - actual) / sum actual (> 0 = over-forecast).
- Pinball loss at level q: mean of max(q (a - f), (q - 1)(a - f)), here divided by the series'
  MASE scale so that series of different sizes can be averaged.
- Coverage: share of scored days with actual <= the upper quantile.
"""

from __future__ import annotations

import warnings

import numpy as np


def _nanmean_rows(x: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN (without a warning) for rows with nothing to score."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=1)


def _2d(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=float))


def seasonal_naive_scale(history: np.ndarray, season: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast (MASE denominator), per series."""
    h = _2d(history)
    if h.shape[1] <= season:
        return np.full(h.shape[0], np.nan)
    diff = np.abs(h[:, season:] - h[:, :-season])
    return _nanmean_rows(diff)


def one_step_naive_scale(history: np.ndarray) -> np.ndarray:
    """In-sample mean squared one-step naive error (RMSSE denominator), per series.

    As in M5, the history starts at the series' first non-zero demand (leading NaN or zeros
    are skipped).
    """
    h = _2d(history).copy()
    started = np.cumsum(np.nan_to_num(h) > 0, axis=1) > 0
    h[~started] = np.nan
    diff = (h[:, 1:] - h[:, :-1]) ** 2
    return _nanmean_rows(diff) if diff.shape[1] else np.full(h.shape[0], np.nan)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((den > 0) & np.isfinite(den), num / np.where(den > 0, den, 1.0), np.nan)


def mase(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Mean absolute scaled error per series (``scale`` from :func:`seasonal_naive_scale`)."""
    err = np.abs(_2d(actual) - _2d(forecast))
    mae = _nanmean_rows(err)
    return _safe_div(mae, scale)


def rmsse(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Root mean squared scaled error per series (``scale`` from :func:`one_step_naive_scale`)."""
    err = (_2d(actual) - _2d(forecast)) ** 2
    mse = _nanmean_rows(err)
    return np.sqrt(_safe_div(mse, scale))


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error over all scored days of all series."""
    a, f = _2d(actual), _2d(forecast)
    ok = ~np.isnan(a)
    total = a[ok].sum()
    return float(np.abs(a[ok] - f[ok]).sum() / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sum(forecast - actual) / sum(actual) over all scored days (> 0 = over-forecast)."""
    a, f = _2d(actual), _2d(forecast)
    ok = ~np.isnan(a)
    total = a[ok].sum()
    return float((f[ok] - a[ok]).sum() / total) if total > 0 else float("nan")


def pinball_loss(actual: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """Mean pinball (quantile) loss at ``level`` per series (unscaled)."""
    diff = _2d(actual) - _2d(quantile)
    loss = np.maximum(level * diff, (level - 1.0) * diff)
    return _nanmean_rows(loss)


def coverage(actual: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Share of scored days per series with actual <= ``upper``."""
    a, u = _2d(actual), _2d(upper)
    ok = ~np.isnan(a)
    hits = np.where(ok, a <= u + 1e-9, False).sum(axis=1)
    n = ok.sum(axis=1)
    return _safe_div(hits, n)
