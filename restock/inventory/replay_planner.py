"""The replay's reference planner: a simple, honest plan from each series' recent mean and variance.

A planner is ``planner(t) -> PlanInputs`` (daily mean forecasts and cumulative-demand quantiles)
from data dated on or before t; the replay (:mod:`restock.inventory.replay`) calls it at every
review. Restock's own planner is restock.forecasting.make_replay_planner; the baselines are in
:mod:`restock.inventory.baseline_planners`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from restock.forecasting.final import PlanInputs
from restock.inventory.distributions import KEYS
from restock.inventory.replay_history import daily_array

Planner = Callable[[pd.Timestamp], Any]

DEFAULT_LEVELS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995)



def make_reference_planner(
    demand: pd.DataFrame,
    horizon: int = 28,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    window_days: int = 56,
) -> Callable[[pd.Timestamp], PlanInputs]:
    """A simple, honest planner for replays and tests.

    For each series: mean daily demand mu and variance v over the last ``window_days``
    uncensored days up to t; total demand over h days ~ negative binomial with mean h mu and
    variance h max(v, mu) (Poisson when v <= mu), quantiles from scipy.stats.

    Parameters
    ----------
    demand : DataFrame
        fct_daily_demand (sku, location, date, units_sold, is_censored).
    horizon : int
        Days of cumulative quantiles (cover the longest lead time + review period).
    levels : tuple of float
        Quantile levels of the cumulative table.
    window_days : int

    Returns
    -------
    callable
        planner(t) -> PlanInputs using only demand dated <= t.
    """
    keys = demand[KEYS].drop_duplicates().sort_values(KEYS).reset_index(drop=True)
    first = demand["date"].min()
    dates = pd.date_range(first, demand["date"].max(), freq="D")
    sales = daily_array(demand, keys, dates, "units_sold", np.nan)
    censored = daily_array(
        demand.assign(_c=demand.get("is_censored", False)).astype({"_c": float}),
        keys, dates, "_c", 0.0) > 0
    usable = np.where(censored, np.nan, sales)
    lev = np.asarray(levels, dtype=float)
    h = np.arange(1, horizon + 1, dtype=float)
    sku = np.repeat(keys["sku"].to_numpy(), horizon)
    loc = np.repeat(keys["location"].to_numpy(), horizon)
    hh = np.tile(np.arange(1, horizon + 1), len(keys))

    def planner(t: pd.Timestamp) -> PlanInputs:
        t = pd.Timestamp(t)
        ti = (t - first).days
        lo = max(0, ti - window_days + 1)
        win = usable[:, lo:ti + 1]
        n_ok = np.sum(np.isfinite(win), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(n_ok > 0, np.nansum(win, axis=1) / np.maximum(n_ok, 1), np.nan)
            raw = sales[:, lo:ti + 1]
            # No uncensored day: fall back to the recorded sales (a lower bound) or 0.
            mu = np.where(np.isnan(mu), np.nan_to_num(np.nanmean(raw, axis=1), nan=0.0), mu)
            dev = np.where(np.isfinite(win), (win - mu[:, None]) ** 2, 0.0).sum(axis=1)
            var = np.where(n_ok > 1, dev / np.maximum(n_ok - 1, 1), mu)
        var = np.maximum(var, mu)
        m = mu[:, None] * h[None, :]  # S, H
        v = var[:, None] * h[None, :]
        over = (v > m * 1.0001) & (m > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_nb = np.where(over, m ** 2 / (v - m), 1.0)
            p_nb = np.where(over, m / v, 0.5)
        # Each distribution only where it applies: the ppf calls are the planner's cost.
        q = np.zeros((*m.shape, lev.size))
        poisson = ~over & (m > 0)
        q[over] = stats.nbinom.ppf(lev[None, :], n_nb[over][:, None], p_nb[over][:, None])
        q[poisson] = stats.poisson.ppf(lev[None, :], m[poisson][:, None])
        q = np.nan_to_num(q, nan=0.0)
        cumulative = pd.DataFrame({
            "sku": np.repeat(sku, lev.size + 1),
            "location": np.repeat(loc, lev.size + 1),
            "horizon_days": np.repeat(hh, lev.size + 1),
            "level": np.tile(np.concatenate([[0.0], lev]), len(sku)),
            "quantity": np.concatenate([m[..., None], q], axis=2).reshape(-1),
        })
        future = pd.date_range(t + pd.Timedelta(days=1), periods=horizon, freq="D")
        daily = pd.DataFrame({
            "sku": sku, "location": loc,
            "date": np.tile(future.to_numpy(), len(keys)),
            "forecast": np.repeat(mu, horizon),
        })
        return PlanInputs(daily, cumulative)

    return planner
