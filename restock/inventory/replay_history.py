"""Replay history: the replayed series' sales and demand as series x days arrays.

The Demand, Starting stock and whole-unit points of :mod:`restock.inventory.replay`'s method:
censored days lifted to the uncensored same-weekday mean (:func:`lift_censored_days`), the
stock on hand at replay_start (:func:`starting_stock`), series sold in whole units.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.inventory.distributions import KEYS
from restock.inventory.levels import whole_units_of
from restock.inventory.settings import ReplenishSettings


def daily_array(demand: pd.DataFrame, keys: pd.DataFrame, dates: pd.DatetimeIndex,
                column: str, fill: float) -> np.ndarray:
    """Series x dates array of ``column`` (missing cells = ``fill``)."""
    out = np.full((len(keys), len(dates)), fill, dtype=float)
    d = demand.loc[(demand["date"] >= dates[0]) & (demand["date"] <= dates[-1])]
    rows = pd.MultiIndex.from_frame(keys[KEYS]).get_indexer(pd.MultiIndex.from_frame(d[KEYS]))
    cols = ((d["date"] - dates[0]).dt.days).to_numpy()
    ok = rows >= 0
    vals = pd.to_numeric(d[column], errors="coerce").to_numpy(dtype=float)
    out[rows[ok], cols[ok]] = vals[ok]
    return out


@dataclass
class ReplayHistory:
    """Demand history of the replayed series on the days ``dates`` (S x days arrays)."""

    dates: pd.DatetimeIndex  # settings-dependent history before replay_start, then the window
    t0: int  # index of replay_start in ``dates``
    sales: np.ndarray  # recorded sales, NaN where none
    sales0: np.ndarray  # recorded sales, 0 where none (the static rule's average)
    true_demand: np.ndarray  # S x n_days: the window's demand, censored days lifted
    whole: np.ndarray  # (S,) sold in whole units up to replay_start
    first_sold: np.ndarray  # (S,) index in ``dates`` of the first sale (len(dates): never)


def replay_history(d: pd.DataFrame, keys: pd.DataFrame, replay_start: pd.Timestamp,
                   as_of: pd.Timestamp, settings: ReplenishSettings) -> ReplayHistory:
    """Sales over the window and the days before it that the static rule and demand need."""
    history = max(settings.static_window_days, 91)
    dates = pd.date_range(replay_start - pd.Timedelta(days=history), as_of, freq="D")
    t0 = history  # index of replay_start in ``dates``
    sales = daily_array(d, keys, dates, "units_sold", np.nan)
    censored = (daily_array(d.assign(_c=d["is_censored"].fillna(False).astype(float))
                            if "is_censored" in d else d.assign(_c=0.0),
                            keys, dates, "_c", 0.0) > 0)
    true_demand = lift_censored_days(sales, censored, dates, t0)[:, t0 + 1:]  # S x n_days
    # Series sold in whole units (judged on the history up to replay_start): both policies top
    # up to whole units (restock.inventory.levels.whole_unit_level).
    whole = whole_units_of(sales[:, :t0 + 1])
    sold = ~np.isnan(sales)
    first_sold = np.where(sold.any(axis=1), np.argmax(sold, axis=1), sales.shape[1])
    return ReplayHistory(dates, t0, sales, np.nan_to_num(sales, nan=0.0), true_demand, whole,
                         first_sold)


def lift_censored_days(sales: np.ndarray, censored: np.ndarray, dates: pd.DatetimeIndex,
                       t0: int) -> np.ndarray:
    """Demand history: censored days lifted to the uncensored same-weekday mean."""
    clean = np.where(censored | np.isnan(sales), np.nan, sales)
    weekday = dates.dayofweek.to_numpy()
    est = np.zeros_like(sales)
    with warnings.catch_warnings():  # a series without an uncensored day: NaN, handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        overall = np.nanmean(clean, axis=1) if clean.size else np.zeros(len(sales))
        for wd in range(7):
            cols = weekday == wd
            m = np.nanmean(clean[:, cols], axis=1) if cols.any() else overall
            est[:, cols] = np.where(np.isnan(m), np.nan_to_num(overall, nan=0.0), m)[:, None]
    out = np.nan_to_num(sales, nan=0.0)
    return np.where(censored, np.maximum(out, est), out)


def starting_stock(keys: pd.DataFrame, demand: pd.DataFrame, replay_start: pd.Timestamp,
                   stock_position: pd.DataFrame | None) -> np.ndarray:
    """On hand at the end of replay_start per series (NaN = unknown)."""
    out = np.full(len(keys), np.nan)
    if "on_hand" in demand:
        day = demand.loc[demand["date"] == replay_start, [*KEYS, "on_hand"]]
        out = keys.merge(day, on=KEYS, how="left")["on_hand"].to_numpy(dtype=float)
    if stock_position is not None and len(stock_position):
        sp = stock_position
        if "stock_known" in sp:
            sp = sp[sp["stock_known"].fillna(False).astype(bool)]
        given = keys.merge(sp[[*KEYS, "on_hand"]], on=KEYS, how="left")["on_hand"] \
            .to_numpy(dtype=float)
        out = np.where(np.isfinite(given), given, out)
    return out
