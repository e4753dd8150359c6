"""``adida_weekly``: temporal aggregation (ADIDA) of daily demand to weeks, spread back by weekday.

For order-driven daily demand (few large lines, long gaps: wholesale, B2B) a daily model
chases single orders; the weekly totals are far steadier. The candidate:

1. Aggregates each series' history into whole weeks ending on the cutoff (the oldest partial
   week is dropped), from its first sale, at most :data:`MAX_WEEKS` weeks.
2. Smooths the weekly totals by simple exponential smoothing, the smoothing constant chosen
   per series from :data:`ALPHAS` by the in-sample one-step squared error (initial level: the
   mean of the first four weeks). The forecast of every future week is the last level.
3. Spreads each week to its days by the series' weekday shares over the last
   :data:`PROFILE_WEEKS` weeks, shrunk towards the shares pooled over all series of the call
   (weight ``selling days / (selling days + PROFILE_PRIOR)``), so that a closed weekday (no
   Saturday trade) gets nothing and a series with a handful of orders does not copy their
   weekdays. The days of a week sum to the weekly forecast.

This is ADIDA (Nikolopoulos et al. 2011) at a fixed weekly aggregation level with SES, the
aggregation that matches the weekly cycle of ordering. It is tried on every unit and kept only
where the backtest prefers it (selection.py); no rule routes series to it. Numpy only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "adida_weekly"
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5)
MAX_WEEKS = 104
PROFILE_WEEKS = 26
PROFILE_PRIOR = 20.0


def weekly_totals(values: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weeks x series totals, NaN before a series' start; number of whole weeks per series).

    Week w (0 = oldest of the window) covers the 7 columns ending ``7 * (W - 1 - w)`` columns
    before the last one; a week is counted when all its days lie on or after ``start``.
    """
    n, t = values.shape
    weeks = min(MAX_WEEKS, t // 7)
    if weeks == 0:
        return np.full((n, 0), np.nan), np.zeros(n, dtype=int)
    block = np.nan_to_num(values[:, t - 7 * weeks:]).reshape(n, weeks, 7).sum(axis=2)
    first_col = t - 7 * weeks + 7 * np.arange(weeks)  # first column of each week
    whole = first_col[None, :] >= np.asarray(start)[:, None]
    block[~whole] = np.nan
    return block, whole.sum(axis=1)


def ses_level(weekly: np.ndarray) -> np.ndarray:
    """Last SES level per series (rows; NaN = not observed yet), alpha chosen per series."""
    n, w = weekly.shape
    best_sse = np.full(n, np.inf)
    best_level = np.full(n, np.nan)
    observed = ~np.isnan(weekly)
    first = np.where(observed.any(axis=1), observed.argmax(axis=1), w)
    for alpha in ALPHAS:
        level = np.full(n, np.nan)
        sse = np.zeros(n)
        for k in range(w):
            y = weekly[:, k]
            ok = ~np.isnan(y)
            init = ok & np.isnan(level)
            if init.any():  # initial level: mean of the first (up to) four weeks
                rows = np.flatnonzero(init)
                hi = np.minimum(first[rows] + 4, w)
                level[rows] = [np.nanmean(weekly[r, first[r]:h]) for r, h in zip(rows, hi,
                                                                                 strict=True)]
            upd = ok & ~init
            err = np.where(upd, y - np.nan_to_num(level), 0.0)
            sse += err ** 2
            level = np.where(upd, level + alpha * err, level)
        better = sse < best_sse
        best_sse = np.where(better, sse, best_sse)
        best_level = np.where(better, level, best_level)
    return best_level


def weekday_shares(values: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """Series x 7 weekday shares (sum 1) of the last PROFILE_WEEKS weeks, shrunk to the pool."""
    n, t = values.shape
    lo = max(0, t - 7 * PROFILE_WEEKS)
    recent = np.nan_to_num(values[:, lo:])
    wd = dates[lo:t].weekday.to_numpy()
    by_day = np.stack([recent[:, wd == d].sum(axis=1) for d in range(7)], axis=1)
    total = by_day.sum(axis=1, keepdims=True)
    pool = by_day.sum(axis=0)
    pool = pool / pool.sum() if pool.sum() > 0 else np.full(7, 1 / 7)
    own = np.where(total > 0, by_day / np.where(total > 0, total, 1.0), pool[None, :])
    selling_days = (recent > 0).sum(axis=1, keepdims=True)
    weight = selling_days / (selling_days + PROFILE_PRIOR)
    return weight * own + (1.0 - weight) * pool[None, :]


def adida_weekly_forecast(
    values: np.ndarray, start: np.ndarray, dates: pd.DatetimeIndex, horizon: int
) -> np.ndarray:
    """Daily forecasts (series x horizon) after the last column of ``values`` (module doc).

    ``values``: series x days up to the cutoff; ``start``: first column of each series;
    ``dates``: the dates of the columns. Series with no whole week get their mean daily rate.
    """
    n, t = values.shape
    weekly, n_weeks = weekly_totals(values, start)
    level = ses_level(weekly) if weekly.shape[1] else np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        rate = np.nanmean(np.where(np.arange(t)[None, :] >= np.asarray(start)[:, None],
                                   values, np.nan), axis=1) * 7
    level = np.where(n_weeks > 0, level, rate)
    level = np.clip(np.nan_to_num(level), 0.0, None)
    shares = weekday_shares(values, dates)
    future = pd.date_range(dates[t - 1] + pd.Timedelta(days=1), periods=horizon).weekday
    return level[:, None] * shares[:, future.to_numpy()]
