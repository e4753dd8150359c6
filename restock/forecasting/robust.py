"""``moving_average_capped``: the 28-day moving average with one-off order lines capped.

On order-driven demand (wholesale: a few customers, now and then one very large order line) a
single line can carry most of a series' last 28 days, and the moving average then forecasts
it again every day of the horizon. The candidate caps each day of the window at
:data:`CAP_MULTIPLE` x the median of the series' selling days over its fit window (the
``train_window_days`` before the cutoff, from its first sale) before averaging over
``moving_average_window`` days: a day above that counts as a typical large order, not as
itself. Series without a selling day in the fit window forecast 0, like the plain average.

It is one candidate among the others on every unit: the backtest keeps it only where it scores
better (selection.py); no rule routes series to it. Numpy only.
"""

from __future__ import annotations

import warnings

import numpy as np

NAME = "moving_average_capped"
#: A day above this multiple of the series' median selling day is capped to it.
CAP_MULTIPLE = 4.0


def capped_moving_average(values: np.ndarray, start: np.ndarray, window: int,
                          horizon: int, keep_volume: bool = False) -> np.ndarray:
    """Flat forecasts (series x horizon) after the last column of ``values`` (module doc).

    ``values``: series x days up to the cutoff (NaN before a series' first sale); ``start``:
    first column of each series' fit window. ``keep_volume``: the capped average is scaled by
    the fit window's units over its capped units, so the large orders the cap cuts come back
    spread over every day instead of at the days they fell on (the average keeps the series'
    volume; without it the capped average is biased low wherever large orders recur).
    """
    n, t = values.shape
    cols = np.arange(t)[None, :]
    fit = np.where(cols >= np.asarray(start)[:, None], np.nan_to_num(values), np.nan)
    selling = np.where(fit > 0, fit, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no selling day
        median = np.nanmedian(selling, axis=1)
    cap = np.nan_to_num(CAP_MULTIPLE * median, nan=0.0)
    recent = np.nan_to_num(values[:, max(0, t - window):])
    capped = np.minimum(recent, cap[:, None])
    level = capped.sum(axis=1) / min(window, t)
    if keep_volume:
        whole = np.nansum(fit, axis=1)
        kept = np.nansum(np.minimum(fit, cap[:, None]), axis=1)
        level = level * np.where(kept > 0, whole / np.where(kept > 0, kept, 1.0), 1.0)
    return np.repeat(level[:, None], horizon, axis=1)
