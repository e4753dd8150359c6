"""Chances of running out used by the transfer planner (restock.inventory.transfers).

Stockout probability after a transfer: demand is a gamma process, moment-matched per line
(mean d x h and variance s^2 x h over h days, s the daily standard deviation; non-negative and
right-skewed like retail demand, close to a normal for fast movers; demand over disjoint days
adds up). With q units arriving after t days (the slowest lane used into that destination) the
destination runs out before its horizon H unless demand until t stays within its position x
and demand over H within x + q (:func:`transfer_stockout_probability`); with q = 0 this is
P(D_H > x). So a transfer cannot cure demand that comes before it arrives, and a slow lane
cures less than a fast one.

Daily standard deviation: a ``demand_std_daily`` column when the lines carry one; else it is read
back from the line's own safety stock, s = (reorder_point - lead_time_demand) / z(target) /
sqrt(L + R), so the spread is the forecast's; else (no safety stock to read) sqrt(d), the
Poisson spread.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import special, stats

__all__ = ["EXACT_CHUNKS", "GRID_POINTS", "ArrivalCurve", "chunk_sizes", "daily_demand_std",
           "numeric_column", "stockout_probability", "stockout_scalar", "stockout_stocks",
           "transfer_stockout_probability"]


def daily_demand_std(lines: pd.DataFrame, default_service_level: float = 0.95) -> np.ndarray:
    """Daily demand standard deviation per line (see the module docstring for the fallbacks)."""
    n = len(lines)
    mean = numeric_column(lines, "mean_daily_forecast", 0.0).clip(min=0.0)
    if "demand_std_daily" in lines:
        given = pd.to_numeric(lines["demand_std_daily"], errors="coerce").to_numpy(dtype=float)
    else:
        given = np.full(n, np.nan)
    col = functools.partial(numeric_column, lines)
    target = np.clip(col("service_level_target", default_service_level), 0.5001, 0.9999)
    z = stats.norm.ppf(target)
    protect = np.maximum(col("lead_time_days", 1.0) + col("review_days", 0.0), 1.0)
    safety = col("reorder_point", np.nan) - col("lead_time_demand", np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        implied = safety / z / np.sqrt(protect)
    implied = np.where(np.isfinite(implied) & (implied > 0), implied, np.sqrt(mean))
    return np.where(np.isfinite(given) & (given >= 0), given, implied)


def stockout_probability(
    stock: np.ndarray, days: np.ndarray, mean_daily: np.ndarray, std_daily: np.ndarray
) -> np.ndarray:
    """P(demand over ``days`` > ``stock``), demand a moment-matched gamma (broadcasts)."""
    stock, days, mean_daily, std_daily = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (stock, days, mean_daily, std_daily)))
    m = np.maximum(mean_daily, 0.0) * np.maximum(days, 0.0)
    v = np.maximum(std_daily, 0.0) ** 2 * np.maximum(days, 0.0)
    out = np.where(stock < 0, 1.0, 0.0)  # no demand: out only when already short
    random = (m > 0) & (v > 1e-12)
    fixed = (m > 0) & ~random
    out = np.where(fixed, (m > stock + 1e-9).astype(float), out)
    if random.any():
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            shape = np.where(random, m * m / np.where(random, v, 1.0), 1.0)
            scale = np.where(random, v / np.where(random, m, 1.0), 1.0)
        out = np.where(random, special.gammaincc(shape, np.maximum(stock, 0.0) / scale), out)
        out = np.where(random & (stock < 0), 1.0, out)
    return np.clip(out, 0.0, 1.0)



def stockout_scalar(stock: float, days: float, mean_daily: float, std_daily: float) -> float:
    """:func:`stockout_probability` of one line (the same operations on floats, without the
    array set-up that dominates a single call)."""
    stock, days = float(stock), float(days)
    m = max(float(mean_daily), 0.0) * max(days, 0.0)
    v = max(float(std_daily), 0.0) ** 2 * max(days, 0.0)
    out = 1.0 if stock < 0 else 0.0
    if m > 0 and v > 1e-12:
        out = 1.0 if stock < 0 else float(special.gammaincc(m * m / v, max(stock, 0.0) / (v / m)))
    elif m > 0:
        out = float(m > stock + 1e-9)
    return out if math.isnan(out) else min(max(out, 0.0), 1.0)


def stockout_stocks(stock: np.ndarray, days: float, mean_daily: float,
                     std_daily: float) -> np.ndarray:
    """:func:`stockout_probability` of one line at several stock levels."""
    days = float(days)
    m = max(float(mean_daily), 0.0) * max(days, 0.0)
    v = max(float(std_daily), 0.0) ** 2 * max(days, 0.0)
    if m > 0 and v > 1e-12:
        out = special.gammaincc(m * m / v, np.maximum(stock, 0.0) / (v / m))
        out[stock < 0] = 1.0
    elif m > 0:
        out = (m > stock + 1e-9).astype(float)
    else:
        out = np.where(stock < 0, 1.0, 0.0)
    return np.clip(out, 0.0, 1.0)


GRID_POINTS = 48  # quadrature points over demand until the transfer arrives
EXACT_CHUNKS = 24  # chunk sizes 1..24 are all tried; larger ones on a geometric grid
_GRID_STEPS = np.arange(0, GRID_POINTS + 1, dtype=float)


@functools.lru_cache(maxsize=4096)
def chunk_sizes(k_max: int) -> np.ndarray:
    """Chunk sizes looked at by the greedy: every size up to EXACT_CHUNKS, then about 30 sizes
    on a geometric grid up to ``k_max`` (k_max itself included). Read-only (cached)."""
    if k_max <= EXACT_CHUNKS:
        out = np.arange(1, k_max + 1, dtype=float)
    else:
        far = np.unique(np.round(np.geomspace(EXACT_CHUNKS + 1, k_max, 30)))
        out = np.concatenate([np.arange(1, EXACT_CHUNKS + 1, dtype=float), far])
    out.flags.writeable = False
    return out


def transfer_stockout_probability(
    position: float, qty, arrives: float, lead: float, mean: float, std: float
) -> np.ndarray:
    """P(running out before ``lead`` days) when ``qty`` units arrive after ``arrives`` days.

    Demand is a gamma process (moment-matched gamma with a shape growing with time and a fixed
    scale, so demand over disjoint periods adds up to the gamma of the whole period). A stockout
    happens unless demand until the arrival stays within the position x and demand over the
    whole lead time within x + qty::

        p = 1 - integral_0^x f_t(d) F_{L-t}(x + qty - d) dd

    evaluated on GRID_POINTS cells of [0, x]. qty = 0 gives P(D_L > x), the line's own figure.
    """
    return ArrivalCurve(position, arrives, lead, mean, std)(qty)


class ArrivalCurve:
    """:func:`transfer_stockout_probability` of one destination and arrival time as a function
    of the quantity; each quantity's figure is computed once (the greedy asks for the same
    totals again after each step), and the weights of demand until the arrival once."""

    def __init__(self, position: float, arrives: float, lead: float, mean: float,
                 std: float) -> None:
        x, t, lead = float(position), max(float(arrives), 0.0), max(float(lead), 0.0)
        t = min(t, lead)
        d, s = max(float(mean), 0.0), max(float(std), 0.0)
        self.x, self.t, self.lead, self.d = x, t, lead, d
        self.memo: dict[float, float] = {}
        self.kind = "grid"
        if x < 0:
            self.kind = "one"
        elif d <= 0:
            self.kind = "zero"
        elif s * s < 1e-12:  # no spread: deterministic demand
            self.kind = "fixed"
        else:
            self.scale = s * s / d
            if t <= 0:
                self.kind = "now" if lead > 0 else "zero"
            else:
                step = x / GRID_POINTS  # the cells of np.linspace(0, x, GRID_POINTS + 1)
                edges = (_GRID_STEPS * step if step != 0
                         else _GRID_STEPS / GRID_POINTS * x) + 0.0
                edges[-1] = x
                w = np.diff(self._cdf(t, edges))  # P(D_t in each cell); no mass at D_t = 0
                if lead <= t:
                    self.kind, self.late = "late", np.clip(1.0 - w.sum(), 0.0, 1.0)
                else:
                    self.w = w[None, :]
                    self.mid = (0.5 * (edges[:-1] + edges[1:]))[None, :]

    def _cdf(self, h: float, y: np.ndarray) -> np.ndarray:  # P(D_h <= y), shape d h / scale
        return special.gammainc(self.d * h / self.scale, np.maximum(y, 0.0) / self.scale)

    def _compute(self, q: np.ndarray) -> np.ndarray:
        x, t, lead = self.x, self.t, self.lead
        if self.kind == "now":
            return np.clip(1.0 - self._cdf(lead, x + q), 0.0, 1.0)
        covered = (self.w * self._cdf(lead - t, x + q[:, None] - self.mid)).sum(axis=1)
        return np.clip(1.0 - covered, 0.0, 1.0)

    def __call__(self, qty) -> np.ndarray:
        q = np.atleast_1d(np.asarray(qty, dtype=float))
        if self.kind == "one":
            return np.ones_like(q)
        if self.kind == "zero":
            return np.zeros_like(q)
        if self.kind == "fixed":
            d, x = self.d, self.x
            return ((d * self.t > x + 1e-9) | (d * self.lead > x + q + 1e-9)).astype(float)
        if self.kind == "late":
            return np.full_like(q, self.late)
        if q.ndim != 1:
            return self._compute(q.ravel()).reshape(q.shape)
        wanted = q.tolist()
        memo = self.memo
        missing = [v for v in dict.fromkeys(wanted) if v not in memo]
        if missing:
            memo.update(zip(missing, self._compute(np.array(missing)).tolist(), strict=True))
        return np.array([memo[v] for v in wanted])



def numeric_column(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    """Column ``name`` as floats, ``default`` where missing (NaN kept when default is NaN)."""
    if name not in df:
        return np.full(len(df), float(default))
    return pd.to_numeric(df[name], errors="coerce").fillna(default).to_numpy(dtype=float) \
        if np.isfinite(default) else pd.to_numeric(df[name], errors="coerce").to_numpy(float)
