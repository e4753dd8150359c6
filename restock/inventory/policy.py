"""Reorder maths: demand over the protection interval, reorder point, order-up-to, reorder lines.

Method (what a buyer's number means)
------------------------------------
The policy is a periodic review (R, s, S): every ``review_days`` (R) days the buyer looks at the
inventory position (on hand + on order - backorders) and, when it is at or below the reorder
point s, orders up to S. By default S = s (settings.order_up_to_review_periods = 0), i.e. the
order-up-to (R, S) policy, whose achieved cycle service level matches the target (see below).

* Protection interval P = L + R: an order placed today arrives after the lead time L and the
  next chance to order is R days later, so today's position must cover demand over L + R days.
* Demand over P comes from the forecast's calibrated *cumulative* quantiles (quantiles of total
  demand over the next h days, h = 1..H), not from z x sigma of raw sales. Between the grid's
  levels and horizons the quantile function is linear; below the median it mirrors the upper
  half around the median (floored at 0); above the top level it ends at a knot chosen so the tail
  mean matches a normal tail. Beyond H it is extrapolated: the mean grows at the last week's daily
  rate and the spread around the mean grows with sqrt(h).
* Lead-time variability: with std(L) > 0, L follows a gamma distribution (scipy.stats.gamma,
  mean L, std sigma_L) cut into 14 probability bins (finer in the tails); each bin is represented
  by its conditional mean (so the mixture keeps the mean of L). Demand over P is the mixture of
  the cumulative-demand distributions at horizons L_i + R weighted by the bins' probabilities;
  its quantiles come from inverting the mixture CDF by bisection. With sigma_L = 0 every bin sits
  at L and the mixture is the plain distribution at horizon L + R.
* lead_time_demand = mean demand over P (lead time + review period, mixture mean): the demand
  the reorder point protects. safety_stock = reorder_point - lead_time_demand (>= 0).
* Cycle service level (default): reorder_point = quantile of demand over P at the target.
* Targets: by default (settings.service_allocation = "exchange_curve") each item's target comes
  from the exchange curve (:func:`allocate_service_levels`): the targets average
  settings.service_level_average (0.95) over the items, within settings.service_level_bounds,
  and each item sits where one more point of service costs the same stock value as for every
  other item; steady or cheap items get more service, volatile or dear ones less, and the
  total stock value is the least for that average. "class" uses the ABC x XYZ class targets of
  settings.service_levels. A product's own service_level wins in both.
* Lot adjustment (settings.lot_adjustment, cycle mode): ordering in packs and MOQs leaves the
  position after a review anywhere in [S, S + Q) (Q = max(pack, MOQ in whole packs); in whole
  units S .. S + Q - 1), about uniformly, so the cycle service level is the mean of F over that
  spread, not F(S): S is lowered until that mean meets the target (:func:`lot_adjusted_level`).
  Measured on synthetic negative-binomial demand with packs of 1, 6 and 12 (200 items, 91
  days): achieved cycle service at a 0.80 target 0.886 without it, 0.833 with it.
  Fill-rate mode: the smallest reorder point whose expected shortage per cycle E[(D_P - s)+]
  is at most (1 - target) x mean demand per review period.
* order_up_to = reorder_point + k x mean demand over R (the R days after the lead time), with
  k = settings.order_up_to_review_periods, capped at max_stock but never below the reorder
  point: when max_stock < reorder_point the reorder point wins (the service target is kept and
  the explanation says that max_stock is too low).
  k = 0 (default) makes the policy a pure order-up-to (R, S) policy: every review tops the
  position up to the target quantile of demand over L + R, so each review cycle runs out with
  probability 1 - target and the achieved cycle service level matches the target. k = 1 (an
  (R, s, S) policy with S = s + mean demand over R) places fewer orders but, measured on
  synthetic negative-binomial demand, overshoots the cycle service level by 5-15 points
  (0.95 achieved for a 0.80 target) and needs more inventory for the same stockout rate.
* Whole units: for a series whose recorded sales are all whole numbers the reorder point and
  order-up-to level are rounded DOWN to whole units. Demand in whole units stays within x
  exactly when it stays within floor(x), so the service level of the quantile is kept; rounding
  the fraction up (buying it) added P(D = ceil(x)) to the service level, several points for slow
  movers, and inventory with it.
* recommended_order_qty = 0 when inventory_position > reorder_point, else order_up_to -
  inventory_position rounded UP to a multiple of pack_size, raised to moq, and again to a pack
  multiple.
* stockout_probability = P(demand over the lead time L > inventory_position): the chance of
  running out before anything ordered today can arrive.
* days_of_cover = on_hand / mean daily forecast; a zero forecast gives settings.days_of_cover_cap
  (999) and larger values are capped there. NULL when stock is unknown.
* Stock unknown (no inventory data for the series): on_hand, inventory_position, days_of_cover,
  stockout_probability are NULL and recommended_order_qty is 0; the explanation gives the reorder
  point and order-up-to level to compare with a manual count.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from restock.contract import PUBLISHED_TABLES
from restock.inventory.classes import classify_series
from restock.inventory.settings import ReplenishSettings

log = logging.getLogger("restock.inventory")

KEYS = ["sku", "location"]

# Probability bin edges for discretising the lead-time distribution: finer in both tails, where
# long lead times drive the high quantiles.
LEAD_TIME_BIN_EDGES = np.array(
    [0.0, 0.002, 0.01, 0.03, 0.07, 0.15, 0.3, 0.5, 0.7, 0.85, 0.93, 0.97, 0.99, 0.998, 1.0]
)
# Top knot of the quantile function (level 1) = q_top + TAIL_FACTOR x (q_top - q_next): for a
# normal distribution with a 0.99 / 0.995 grid this reproduces the mean of the top 0.5%.
TAIL_FACTOR = 2.5


# ------------------------------------------------------------------------------------------------
# Dense cumulative-demand quantiles
# ------------------------------------------------------------------------------------------------
@dataclass
class CumulativeDemand:
    """Cumulative-demand distributions of S series on a dense grid.

    Attributes
    ----------
    keys : DataFrame
        sku, location of the S series (row order of the arrays).
    levels : ndarray (K,)
        Probability knots of the full quantile function, 0 .. 1.
    quantity : ndarray (S, H + 1, K)
        Quantile of total demand over the next h days (h = 0 .. H; h = 0 is all zero).
    mean : ndarray (S, H + 1)
        Mean total demand over the next h days.
    """

    keys: pd.DataFrame
    levels: np.ndarray
    quantity: np.ndarray
    mean: np.ndarray

    @property
    def horizon(self) -> int:
        """Longest horizon H in days."""
        return self.quantity.shape[1] - 1

    def at_horizon(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantile knots and means at fractional horizons ``h`` (S, A) -> (S, A, K), (S, A).

        Linear between whole days; beyond H the mean grows at the last week's daily rate and the
        spread around the mean with sqrt(h / H).
        """
        h = np.clip(np.asarray(h, dtype=float), 0.0, None)
        n_series, horizon = self.quantity.shape[0], self.horizon
        rows = np.arange(n_series)[:, None]
        hc = np.minimum(h, horizon)
        h0 = np.floor(hc).astype(int)
        h1 = np.minimum(h0 + 1, horizon)
        frac = (hc - h0)[..., None]
        q = self.quantity[rows, h0] * (1 - frac) + self.quantity[rows, h1] * frac
        m = self.mean[rows, h0] * (1 - frac[..., 0]) + self.mean[rows, h1] * frac[..., 0]
        beyond = h > horizon
        if beyond.any():
            week = min(7, horizon)
            rate = (self.mean[:, horizon] - self.mean[:, horizon - week]) / week
            m_far = self.mean[:, horizon][:, None] + rate[:, None] * (h - horizon)
            spread = self.quantity[:, horizon, :] - self.mean[:, horizon][:, None]
            q_far = m_far[..., None] + spread[:, None, :] * np.sqrt(h / horizon)[..., None]
            q = np.where(beyond[..., None], np.maximum(q_far, 0.0), q)
            m = np.where(beyond, m_far, m)
        return q, m


def dense_cumulative(
    cumulative: pd.DataFrame, keys: pd.DataFrame, expected_missing: np.ndarray | None = None
) -> CumulativeDemand:
    """Turn the long cumulative-quantile table into dense arrays aligned with ``keys``.

    Parameters
    ----------
    cumulative : DataFrame
        sku, location, horizon_days (1..H), level, quantity; level 0 rows hold the mean.
    keys : DataFrame
        sku, location of the wanted series; series missing from ``cumulative`` get zero
        demand (logged as a warning).
    expected_missing : bool array aligned with ``keys``, optional
        Series known to have no forecast yet (the replay's items not launched by the review
        day): their zero demand is logged at debug level, not warned about.

    Returns
    -------
    CumulativeDemand
        Quantiles made non-decreasing in level and in horizon (crossing quantiles from
        separately fitted levels are repaired by a running maximum).
    """
    keys = keys[KEYS].reset_index(drop=True)
    c = cumulative[[*KEYS, "horizon_days", "level", "quantity"]]
    idx = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(c[KEYS]))
    c = c.loc[idx >= 0]
    idx = idx[idx >= 0]
    missing = np.ones(len(keys), dtype=bool)
    missing[idx] = False
    if expected_missing is not None:
        expected = np.asarray(expected_missing, dtype=bool)
        log.debug("%d series not launched yet: zero demand", int((missing & expected).sum()))
        missing &= ~expected
    if missing.any():
        log.warning("%d of %d series have no cumulative quantiles: zero demand assumed",
                    int(missing.sum()), len(keys))
    horizon = int(c["horizon_days"].max()) if len(c) else 1
    grid = np.sort(c.loc[c["level"] > 0, "level"].unique())
    if len(grid) == 0:
        raise ValueError("cumulative quantiles hold no level > 0")
    n = len(keys)
    upper = np.full((n, horizon + 1, len(grid)), np.nan)
    mean = np.full((n, horizon + 1), np.nan)
    h = c["horizon_days"].to_numpy(dtype=int)
    lev = c["level"].to_numpy(dtype=float)
    qty = c["quantity"].to_numpy(dtype=float)
    is_mean = lev == 0
    mean[idx[is_mean], h[is_mean]] = qty[is_mean]
    k = np.searchsorted(grid, lev[~is_mean])
    upper[idx[~is_mean], h[~is_mean], k] = qty[~is_mean]
    upper[:, 0, :] = 0.0
    mean[:, 0] = 0.0
    upper = np.maximum(np.nan_to_num(upper, nan=0.0), 0.0)
    upper = np.maximum.accumulate(np.maximum.accumulate(upper, axis=2), axis=1)
    # A missing mean falls back to the level closest to the median.
    med_k = int(np.argmin(np.abs(grid - 0.5)))
    mean = np.where(np.isnan(mean), upper[:, :, med_k], mean)

    # Full quantile function on [0, 1]: the grid, the upper levels mirrored around the median
    # below the lowest given level (floored at 0), a top knot at level 1 and a bottom one at 0.
    median = _median(grid, upper, mean)
    mirror = grid[(1.0 - grid) < grid[0]]
    mirror_levels = 1.0 - mirror
    mirror_q = np.maximum(2 * median[..., None] - upper[:, :, np.isin(grid, mirror)], 0.0)
    if len(grid) > 1:
        top = upper[:, :, -1] + TAIL_FACTOR * (upper[:, :, -1] - upper[:, :, -2])
    else:
        top = upper[:, :, -1] + (upper[:, :, -1] - median)
    bottom = np.maximum(2 * median - top, 0.0)
    levels = np.concatenate([[0.0], mirror_levels, grid, [1.0]])
    quantity = np.concatenate([bottom[..., None], mirror_q, upper, top[..., None]], axis=2)
    if grid[0] > 0.5:  # no level at or below the median given: add the median knot
        levels = np.append(levels, 0.5)
        quantity = np.concatenate([quantity, median[..., None]], axis=2)
    order = np.argsort(levels, kind="stable")
    levels, quantity = levels[order], quantity[:, :, order]
    keep = np.concatenate([[True], np.diff(levels) > 0])
    levels, quantity = levels[keep], quantity[:, :, keep]
    quantity = np.maximum.accumulate(quantity, axis=2)
    return CumulativeDemand(keys, levels, quantity, mean)


def _median(grid: np.ndarray, upper: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Median from the grid (interpolated when 0.5 lies inside it), else min(mean, lowest)."""
    if grid[0] <= 0.5 <= grid[-1]:
        j = int(np.clip(np.searchsorted(grid, 0.5, side="right") - 1, 0, len(grid) - 1))
        if np.isclose(grid[j], 0.5) or j == len(grid) - 1:
            return upper[:, :, j]
        w = (0.5 - grid[j]) / (grid[j + 1] - grid[j])
        return upper[:, :, j] * (1 - w) + upper[:, :, j + 1] * w
    if grid[0] > 0.5:
        return np.minimum(mean, upper[:, :, 0])
    return upper[:, :, -1]


# ------------------------------------------------------------------------------------------------
# Lead-time mixture
# ------------------------------------------------------------------------------------------------
def lead_time_atoms(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Discretise L ~ gamma(mean, std) into atoms and weights, (S,) -> (S, A), (S, A).

    Each atom is the conditional mean of L within a probability bin (LEAD_TIME_BIN_EDGES), so
    the atoms' weighted mean equals ``mean``. std <= 0 (or NaN) puts every atom at ``mean``.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.nan_to_num(np.asarray(std, dtype=float), nan=0.0)
    edges = LEAD_TIME_BIN_EDGES
    # A spread under ~1.5 minutes is no spread (and overflows the gamma's shape).
    std = np.where(std > 1e-3, std, 0.0)
    if not ((std > 0) & (mean > 0)).any():
        # One atom per series is the same mixture, at a fraction of the cost.
        return mean[:, None].copy(), np.ones((mean.size, 1))
    weights = np.broadcast_to(np.diff(edges), (mean.size, edges.size - 1)).copy()
    atoms = np.repeat(mean[:, None], edges.size - 1, axis=1)
    var = (std > 0) & (mean > 0)
    if var.any():
        shape = (mean[var] / std[var]) ** 2
        scale = std[var] ** 2 / mean[var]
        x = stats.gamma.ppf(edges[None, :], shape[:, None], scale=scale[:, None])
        # E[L; a < L < b] = mean x (G_{k+1}(b) - G_{k+1}(a)) for a gamma(k, theta).
        g1 = stats.gamma.cdf(x, shape[:, None] + 1, scale=scale[:, None])
        g1[:, -1] = 1.0
        g1[:, 0] = 0.0
        cond = mean[var][:, None] * np.diff(g1, axis=1) / np.diff(edges)[None, :]
        atoms[var] = np.where(np.isfinite(cond), cond, mean[var][:, None])
    return atoms, weights


def covering_lead_time_atoms(
    mean: np.ndarray, std: np.ndarray, review_days: float, grid: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Atoms and weights of the time an order must cover after the next review, (S,) -> (S, A).

    With variable lead times the stock ordered at review t lasts until every order placed up to
    the next review (t + R) has arrived: an earlier order may still be in transit then, and a
    supplier that delivers in order holds the next order back until it lands. That time is
    M = max_i (L_i - i R) over the lead times L_0 (the next order), L_1, ... of the orders
    before it, i.i.d. gamma(mean, std), so P(M <= x) = prod_i G(x + i R): M >= L, and M -> L as
    the spread shrinks against R. Binned like :func:`lead_time_atoms` (conditional means in
    LEAD_TIME_BIN_EDGES), from the CDF on a grid; each distinct (mean, std) is computed once.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.nan_to_num(np.asarray(std, dtype=float), nan=0.0)
    std = np.where(std > 1e-3, std, 0.0)
    if review_days <= 0 or not ((std > 0) & (mean > 0)).any():
        return lead_time_atoms(mean, std)
    atoms, weights = lead_time_atoms(mean, std)
    var = (std > 0) & (mean > 0)
    pairs, inverse = np.unique(np.stack([mean[var], std[var]], axis=1), axis=0,
                               return_inverse=True)
    edges = LEAD_TIME_BIN_EDGES
    shape = (pairs[:, 0] / pairs[:, 1]) ** 2
    scale = pairs[:, 1] ** 2 / pairs[:, 0]
    top = stats.gamma.ppf(1 - 1e-9, shape, scale=scale)  # (P,)
    x = np.linspace(0.0, 1.0, grid)[None, :] * top[:, None]  # (P, grid)
    cdf = np.ones_like(x)
    for i in range(int(np.ceil(top.max() / review_days)) + 1):
        cdf *= stats.gamma.cdf(x + i * review_days, shape[:, None], scale=scale[:, None])
    cdf[:, -1] = 1.0
    cdf = np.maximum.accumulate(cdf, axis=1)
    # partial expectation E[M; M <= x] by the trapezoid rule on the grid
    partial = np.concatenate(
        [np.zeros((len(pairs), 1)),
         np.cumsum(0.5 * (x[:, 1:] + x[:, :-1]) * np.diff(cdf, axis=1), axis=1)], axis=1)
    cond = np.empty((len(pairs), edges.size - 1))
    for j in range(len(pairs)):
        at = np.interp(edges, cdf[j], partial[j])
        at[0] = 0.0
        cond[j] = np.diff(at) / np.diff(edges)
        # a bin the grid cannot resolve (all its mass at one grid step) gets its quantile
        lo = np.interp(edges[:-1], cdf[j], x[j])
        hi = np.interp(edges[1:], cdf[j], x[j])
        cond[j] = np.clip(np.where(np.isfinite(cond[j]), cond[j], lo), lo, hi)
    atoms[var] = cond[inverse.ravel()]
    return atoms, weights


@dataclass
class Mixture:
    """Mixture of piecewise-linear quantile functions: knots (S, A, K), weights (S, A)."""

    levels: np.ndarray
    knots: np.ndarray
    weights: np.ndarray
    mean: np.ndarray  # (S,) mixture mean

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(D <= x) for x of shape (S, T)."""
        q = self.knots[:, None, :, :]  # S, 1, A, K
        xx = np.asarray(x, dtype=float)[:, :, None, None]
        n_below = (q <= xx).sum(axis=-1)  # S, T, A
        k = self.levels.size
        lo = np.clip(n_below - 1, 0, k - 1)
        hi = np.clip(n_below, 0, k - 1)
        qb = np.broadcast_to(q, (*n_below.shape, k))
        q_lo = np.take_along_axis(qb, lo[..., None], axis=-1)[..., 0]
        q_hi = np.take_along_axis(qb, hi[..., None], axis=-1)[..., 0]
        p_lo, p_hi = self.levels[lo], self.levels[hi]
        gap = np.where(q_hi > q_lo, q_hi - q_lo, 1.0)
        inner = p_lo + (p_hi - p_lo) * np.clip((xx[..., 0] - q_lo) / gap, 0.0, 1.0)
        comp = np.where(n_below == 0, 0.0, np.where(n_below >= k, 1.0, inner))
        return (comp * self.weights[:, None, :]).sum(axis=-1)

    def quantile(self, p: np.ndarray, iterations: int = 50) -> np.ndarray:
        """Smallest x with P(D <= x) >= p, for p of shape (S, T) (bisection on the CDF)."""
        p = np.asarray(p, dtype=float)
        lo = np.broadcast_to(self.knots.min(axis=(1, 2))[:, None], p.shape).copy()
        hi = np.broadcast_to(self.knots.max(axis=(1, 2))[:, None], p.shape).copy()
        # Lower end may already satisfy p (e.g. an atom at zero demand).
        done = self.cdf(lo) >= p - 1e-12
        hi = np.where(done, lo, hi)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            ok = self.cdf(mid) >= p - 1e-12
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return hi

    def expected_shortage(self, r: np.ndarray) -> np.ndarray:
        """E[(D - r)+] for r of shape (S, T), exact for the piecewise-linear quantile function."""
        qa = self.knots[:, None, :, :-1]
        qb = self.knots[:, None, :, 1:]
        dp = np.diff(self.levels)
        rr = np.asarray(r, dtype=float)[:, :, None, None]
        full = dp * ((qa + qb) / 2 - rr)
        gap = np.where(qb > qa, qb - qa, 1.0)
        part = dp * (qb - rr) ** 2 / (2 * gap)
        seg = np.where(rr <= qa, full, np.where(rr >= qb, 0.0, part))
        return (seg.sum(axis=-1) * self.weights[:, None, :]).sum(axis=-1)

    def fill_rate_point(self, allowed_shortage: np.ndarray, iterations: int = 50) -> np.ndarray:
        """Smallest r with E[(D - r)+] <= allowed_shortage (S, T) (bisection)."""
        allowed = np.asarray(allowed_shortage, dtype=float)
        lo = np.zeros_like(allowed)
        hi = np.broadcast_to(self.knots.max(axis=(1, 2))[:, None], allowed.shape).copy()
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            ok = self.expected_shortage(mid) <= allowed + 1e-12
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return hi


def demand_mixture(
    demand: CumulativeDemand,
    lead_time_mean: np.ndarray,
    lead_time_std: np.ndarray,
    extra_days: float,
    cover_earlier_orders: bool = False,
) -> Mixture:
    """Distribution of demand over L + ``extra_days`` with L ~ gamma(mean, std), per series.

    ``cover_earlier_orders`` (with ``extra_days`` = the review period R): L becomes the time
    until every order placed up to the next review has arrived
    (:func:`covering_lead_time_atoms`), the protection interval of an order under variable lead
    times.
    """
    if cover_earlier_orders:
        atoms, weights = covering_lead_time_atoms(lead_time_mean, lead_time_std, extra_days)
    else:
        atoms, weights = lead_time_atoms(lead_time_mean, lead_time_std)
    knots, means = demand.at_horizon(atoms + extra_days)
    return Mixture(demand.levels, knots, weights, (means * weights).sum(axis=1))


def lost_sales_quantile(target: np.ndarray | float) -> np.ndarray:
    """Quantile of protection-interval demand that gives cycle service ``target`` under lost sales.

    When unmet demand is lost, a cycle also survives demand over the protection interval above
    S as long as the excess is no more than the units lost before the order landed, and those
    exist only after a stockout in the previous cycle. Taking that loss as (D' - S)+, D' an
    independent copy of the protection demand D with CDF F:
    P(no stockout) = P(D <= S) + P(S < D <= D') = p + (1 - p)^2 / 2 for p = F(S), so the
    target t needs p = sqrt(2 t - 1): 0.80 -> 0.775, 0.95 -> 0.949, 0.99 -> 0.990 (t <= 0.5 is
    met by any level under this approximation: p = 0).
    """
    t = np.asarray(target, dtype=float)
    return np.sqrt(np.clip(2.0 * t - 1.0, 0.0, 1.0))


# ------------------------------------------------------------------------------------------------
# Policy levels and order rounding
# ------------------------------------------------------------------------------------------------
@dataclass
class PolicyLevels:
    """Policy parameters for S series x T targets."""

    lead_time_demand: np.ndarray  # (S,) mean demand over P = L + R
    review_demand: np.ndarray  # (S,) mean demand over the R days after the lead time
    lead_demand: Mixture  # demand over L alone (stockout probability)
    reorder_point: np.ndarray  # (S, T)
    safety_stock: np.ndarray  # (S, T)
    order_up_to: np.ndarray  # (S, T)
    order_up_to_capped: np.ndarray  # (S, T) bool: max_stock lowered the order-up-to level
    max_stock_below_reorder_point: np.ndarray  # (S, T) bool
    protection_quantile: np.ndarray | None = None  # (S, T) before the lot adjustment


def policy_levels(
    demand: CumulativeDemand,
    lead_time_mean: np.ndarray,
    lead_time_std: np.ndarray,
    targets: np.ndarray,
    review_days: int,
    mode: str = "cycle",
    max_stock: np.ndarray | None = None,
    review_periods_above: float = 1.0,
    lot_spread: np.ndarray | None = None,
    cover_earlier_orders: bool = False,
    lost_sales: bool = False,
    protection: Mixture | None = None,
) -> PolicyLevels:
    """Reorder point, safety stock and order-up-to level for every series and target.

    Parameters
    ----------
    demand : CumulativeDemand
        Cumulative-demand quantiles of the S series.
    lead_time_mean, lead_time_std : ndarray (S,)
        Lead time in days.
    targets : ndarray (S, T) or (T,)
        Service-level targets in (0, 1): cycle service levels or fill rates (``mode``).
    review_days : int
        Review period R.
    mode : {"cycle", "fill_rate"}
    max_stock : ndarray (S,), optional
        Cap on the order-up-to level (NaN = none).
    lot_spread : ndarray (S,), optional
        How far above the order-up-to level pack and MOQ rounding leave the position after a
        review (:func:`lot_spread`); cycle mode then lowers the level so that the service level
        averaged over that spread meets the target (:func:`lot_adjusted_level`).
    cover_earlier_orders : bool
        Protection interval R + M, M the time until every order placed up to the next review
        has arrived (:func:`covering_lead_time_atoms`), instead of R + L.
    lost_sales : bool
        Cycle mode: unmet demand is lost, so the level is the quantile
        :func:`lost_sales_quantile` of the target (backorders: the target itself).
    protection : Mixture, optional
        Demand over the protection interval when the caller has built it already
        (``demand_mixture(demand, lead_time_mean, lead_time_std, review_days,
        cover_earlier_orders)``).

    Returns
    -------
    PolicyLevels
    """
    n = demand.quantity.shape[0]
    targets = np.asarray(targets, dtype=float)
    if targets.ndim == 1:
        targets = np.broadcast_to(targets[None, :], (n, targets.size))
    if protection is None:
        protection = demand_mixture(demand, lead_time_mean, lead_time_std,
                                    float(review_days), cover_earlier_orders)
    lead = demand_mixture(demand, lead_time_mean, lead_time_std, 0.0)
    review_demand = np.maximum(protection.mean - lead.mean, 0.0)
    if mode == "cycle":
        quantiles = lost_sales_quantile(targets) if lost_sales else targets
        reorder_point = plain = protection.quantile(quantiles)
        if lot_spread is not None:
            reorder_point = lot_adjusted_level(protection, quantiles, plain, lot_spread)
    elif mode == "fill_rate":
        allowed = (1.0 - targets) * review_demand[:, None]
        reorder_point = plain = protection.fill_rate_point(allowed)
    else:
        raise ValueError(f"unknown service_level_mode {mode!r}")
    reorder_point = np.maximum(reorder_point, 0.0)
    lead_time_demand = protection.mean
    safety_stock = np.maximum(reorder_point - lead_time_demand[:, None], 0.0)
    # Rounding can leave the quantile a hair under the mean when the spread is ~0.
    safety_stock = np.minimum(safety_stock, reorder_point)
    order_up_to = reorder_point + review_periods_above * review_demand[:, None]
    capped = np.zeros_like(order_up_to, dtype=bool)
    below = np.zeros_like(order_up_to, dtype=bool)
    if max_stock is not None:
        cap = np.asarray(max_stock, dtype=float)[:, None]
        has_cap = np.isfinite(cap) & (cap > 0)
        capped = has_cap & (order_up_to > cap)
        below = has_cap & (cap < reorder_point)
        # max_stock caps the order-up-to level but never pushes it below the reorder point.
        order_up_to = np.where(capped, np.maximum(cap, reorder_point), order_up_to)
    return PolicyLevels(lead_time_demand, review_demand, lead, reorder_point, safety_stock,
                        order_up_to, capped, below, np.maximum(plain, 0.0))


LOT_POINTS = 8  # quadrature points over the spread of the position after ordering


def lot_spread(pack_size: np.ndarray, moq: np.ndarray, whole_units: np.ndarray | bool
               ) -> np.ndarray:
    """Spread of the inventory position after a review caused by ordering in lots.

    Orders come in whole packs and at least the MOQ, so a review leaves the position not at the
    order-up-to level S but anywhere in [S, S + Q), Q = max(pack, MOQ rounded up to packs): in
    steady state about uniformly (the (R, s, nQ) policy's classic result). In whole units the
    positions are S, S + 1, .. S + Q - 1 (spread Q - 1); pack 1 and MOQ 1 in whole units leave
    no spread.
    """
    pack = np.maximum(np.nan_to_num(np.asarray(pack_size, dtype=float), nan=1.0), 1e-9)
    minimum = np.nan_to_num(np.asarray(moq, dtype=float), nan=1.0)
    lot = np.maximum(pack, np.ceil(minimum / pack - 1e-9) * pack)
    whole = np.broadcast_to(np.asarray(whole_units, dtype=bool), lot.shape)
    return np.where(whole, np.maximum(lot - 1.0, 0.0), lot)


def lot_adjusted_level(
    protection: Mixture, targets: np.ndarray, plain: np.ndarray, spread: np.ndarray,
    iterations: int = 30,
) -> np.ndarray:
    """Smallest level S whose cycle service averaged over the lot spread meets the target.

    With the position after a review uniform on [S, S + spread] the cycle service level is
    the mean of F(S + u) over u, F the CDF of demand over the protection interval; S is found
    by bisection between ``plain - spread`` and ``plain`` (the plain quantile: at spread 0
    they agree). Floored at 0. Rows without spread keep ``plain``.

    Parameters
    ----------
    protection : Mixture
        Demand over L + R of the S series.
    targets, plain : ndarray (S, T)
        Targets and the plain quantiles at them.
    spread : ndarray (S,)
    """
    spread = np.nan_to_num(np.asarray(spread, dtype=float), nan=0.0)
    rows = np.flatnonzero(spread > 1e-9)
    out = np.array(plain, dtype=float, copy=True)
    if rows.size == 0:
        return out
    sub = Mixture(protection.levels, protection.knots[rows], protection.weights[rows],
                  protection.mean[rows])
    p = np.asarray(targets, dtype=float)[rows]
    n_t = p.shape[1]
    u = spread[rows, None] * (np.arange(LOT_POINTS) + 0.5)[None, :] / LOT_POINTS  # (s, M)
    hi = out[rows].copy()
    lo = np.maximum(hi - spread[rows, None], 0.0)

    def mean_cdf(level: np.ndarray) -> np.ndarray:
        x = (level[:, :, None] + u[:, None, :]).reshape(len(rows), -1)
        return sub.cdf(x).reshape(len(rows), n_t, LOT_POINTS).mean(axis=2)

    ok_lo = mean_cdf(lo) >= p - 1e-12
    hi = np.where(ok_lo, lo, hi)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        ok = mean_cdf(mid) >= p - 1e-12
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    out[rows] = hi
    return out


def allocate_service_levels(
    protection: Mixture,
    unit_cost: np.ndarray,
    averages: np.ndarray,
    lower: float,
    upper: float,
    free: np.ndarray | None = None,
    grid_size: int = 24,
    lost_sales: bool = False,
) -> np.ndarray:
    """Per-series cycle-service targets with a given average at the least inventory (value).

    The exchange curve: every point of service costs stock, and it costs far more for some
    items (volatile demand, dear units) than for others. Minimising sum_i c_i S_i(t_i)
    (c = unit cost, S_i(t) the quantile of demand over L + R at level t) subject to
    mean_i t_i = average is a Lagrangian problem: each item rises until the stock value one
    more point of service costs it, c_i dS_i/dt, reaches a common price. Solved greedily on a
    grid of levels between ``lower`` and ``upper`` (finer near the top): all grid steps of all
    items sorted by their cost per point of service (made non-decreasing per item, a convex
    hull of its curve) and taken cheapest first until the average is met; the step at the
    boundary is taken in part.

    Parameters
    ----------
    protection : Mixture
        Demand over L + R of the S series.
    unit_cost : ndarray (S,)
        Cost per unit (NaN or <= 0: the median known cost, or 1 when none is known).
    averages : ndarray (T,)
        Wanted mean target over the free series, one allocation per entry. An average outside
        [lower, upper] gives every free series that average.
    lower, upper : float
        Bounds of any one series' target.
    free : ndarray (S,) bool, optional
        Series to allocate (others, e.g. with a product's own service level, get NaN).
    lost_sales : bool
        A target t costs the stock of the :func:`lost_sales_quantile` of t, as in
        :func:`policy_levels`.

    Returns
    -------
    ndarray (S, T)
        Targets; NaN for series that are not free.
    """
    averages = np.atleast_1d(np.asarray(averages, dtype=float))
    n = protection.knots.shape[0]
    free = np.ones(n, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    out = np.full((n, averages.size), np.nan)
    rows = np.flatnonzero(free)
    if rows.size == 0:
        return out
    cost = np.asarray(unit_cost, dtype=float)[rows]
    known = np.isfinite(cost) & (cost > 0)
    cost = np.where(known, cost, np.median(cost[known]) if known.any() else 1.0)
    grid = 1.0 - np.geomspace(1.0 - lower, 1.0 - upper, grid_size)
    sub = Mixture(protection.levels, protection.knots[rows], protection.weights[rows],
                  protection.mean[rows])
    levels = lost_sales_quantile(grid) if lost_sales else grid
    q = sub.quantile(np.broadcast_to(levels[None, :], (rows.size, grid.size)), iterations=30)
    q = np.maximum.accumulate(q, axis=1)
    step = np.diff(grid)  # (G - 1,)
    slope = np.maximum.accumulate(cost[:, None] * np.diff(q, axis=1) / step[None, :], axis=1)
    # cheapest first; equal prices go to an item's lower steps first (keeps each item's steps
    # in order, so the taken steps of an item are always a prefix)
    k_idx = np.broadcast_to(np.arange(step.size)[None, :], slope.shape)
    order = np.lexsort((k_idx.ravel(), slope.ravel()))
    taken_series = np.repeat(np.arange(rows.size), step.size)[order]
    taken_step = np.broadcast_to(step[None, :], slope.shape).ravel()[order]
    cum = np.cumsum(taken_step)
    for j, avg in enumerate(averages):
        if not lower < avg < upper:
            out[rows, j] = avg
            continue
        need = (avg - lower) * rows.size
        cut = int(np.searchsorted(cum, need, side="left"))
        t = np.full(rows.size, lower)
        np.add.at(t, taken_series[:cut], taken_step[:cut])
        if cut < cum.size:  # the boundary step, in part
            t[taken_series[cut]] += need - (cum[cut - 1] if cut else 0.0)
        out[rows, j] = np.clip(t, lower, upper)
    return out


def round_order_qty(raw_qty: np.ndarray, pack_size: np.ndarray, moq: np.ndarray) -> np.ndarray:
    """Round a wanted quantity UP to whole packs, then raise it to the MOQ (in whole packs).

    Zero or negative wanted quantities give 0.
    """
    raw = np.asarray(raw_qty, dtype=float)
    pack = np.maximum(np.nan_to_num(np.asarray(pack_size, dtype=float), nan=1.0), 1e-9)
    pack = np.where(pack > 0, pack, 1.0)
    minimum = np.nan_to_num(np.asarray(moq, dtype=float), nan=1.0)
    # The tolerance keeps 24.000000001 from becoming 3 packs of 12 after float noise.
    packs = np.ceil(np.maximum(raw, 0.0) / pack - 1e-9)
    qty = packs * pack
    qty = np.where(qty < minimum, np.ceil(minimum / pack - 1e-9) * pack, qty)
    return np.where(raw > 1e-9, qty, 0.0)


def whole_unit_level(level: np.ndarray, whole_units: np.ndarray | bool) -> np.ndarray:
    """A stock level in whole units where demand comes in whole units: floor(level).

    Demand D in whole units is within a level x exactly when it is within floor(x), so
    floor(x) protects against the same outcomes as x: the quantile's service level is kept
    and the fraction is not bought. Rounding the fraction up instead adds P(D = ceil(x)) to
    the service level, several points for slow movers (Poisson(2) at 3.3: 0.86 -> 0.95).
    """
    x = np.asarray(level, dtype=float)
    return np.where(whole_units, np.floor(x + 1e-9), x)


def whole_units_of(sales: np.ndarray) -> np.ndarray:
    """Series (rows) whose recorded sales are all whole numbers (NaN ignored)."""
    s = np.asarray(sales, dtype=float)
    frac = np.where(np.isfinite(s), np.abs(s - np.round(s)), 0.0)
    return (frac <= 1e-9).all(axis=-1)


def order_quantity(
    inventory_position: np.ndarray,
    reorder_point: np.ndarray,
    order_up_to: np.ndarray,
    pack_size: np.ndarray,
    moq: np.ndarray,
    whole_units: np.ndarray | bool = False,
) -> np.ndarray:
    """Order (rounded) when inventory_position <= reorder_point, else 0.

    With ``whole_units`` (demand comes in whole units) the order tops the position up to
    floor(order_up_to) (see :func:`whole_unit_level`) before pack and MOQ rounding.
    """
    ip = np.asarray(inventory_position, dtype=float)
    due = ip <= reorder_point
    target = whole_unit_level(order_up_to, whole_units)
    return np.where(due, round_order_qty(target - ip, pack_size, moq), 0.0)


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------
def resolve_lead_times(
    series: pd.DataFrame,
    products: pd.DataFrame,
    lead_times: pd.DataFrame | None,
    min_receipts: int = 3,
) -> pd.DataFrame:
    """Lead time mean / std per series and where it came from.

    Purchase-order lead times (fct_lead_times) take precedence over the products' values when
    they rest on at least ``min_receipts`` receipts: fewer receipts are too few to trust.

    Returns
    -------
    DataFrame
        ``series`` plus lead_time_days, lead_time_std_days, lead_time_source
        ("purchase_orders" / "products").
    """
    p = products.set_index("sku")
    out = series[KEYS].copy()
    out["lead_time_days"] = out["sku"].map(p["lead_time_days"]).astype(float)
    std = p["lead_time_std_days"] if "lead_time_std_days" in p else pd.Series(dtype=float)
    out["lead_time_std_days"] = out["sku"].map(std).astype(float).fillna(0.0)
    out["lead_time_source"] = "products"
    if lead_times is not None and len(lead_times):
        lt = lead_times[lead_times["n_receipts"] >= min_receipts]
        m = out.merge(lt[[*KEYS, "lead_time_mean_days", "lead_time_std_days"]], on=KEYS,
                      how="left", suffixes=("", "_po"))
        use = m["lead_time_mean_days"].notna().to_numpy()
        out.loc[use, "lead_time_days"] = m.loc[use, "lead_time_mean_days"].to_numpy()
        out.loc[use, "lead_time_std_days"] = m.loc[use, "lead_time_std_days_po"].fillna(0.0) \
            .to_numpy()
        out.loc[use, "lead_time_source"] = "purchase_orders"
    # 0 is valid (same-day supply: the order protects the review period only)
    missing = out["lead_time_days"].isna() | (out["lead_time_days"] < 0)
    if missing.any():
        log.warning("%d series without a valid lead time: using 1 day", int(missing.sum()))
        out.loc[missing, "lead_time_days"] = 1.0
    return out


def _num(s: pd.Series | None, default: float, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, default)
    return pd.to_numeric(s, errors="coerce").fillna(default).to_numpy(dtype=float)


def _plural(n: float, word: str) -> str:
    return word if abs(n - 1) < 1e-9 else word + "s"


def _fmt(x: float) -> str:
    """A quantity for a sentence: whole numbers without decimals, else one decimal."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 100 else f"{x:.1f}"


# ------------------------------------------------------------------------------------------------
# Reorder lines
# ------------------------------------------------------------------------------------------------
def build_reorder_lines(
    products: pd.DataFrame,
    stock_position: pd.DataFrame | None,
    lead_times: pd.DataFrame | None,
    series_assignments: pd.DataFrame,
    cumulative_quantiles: pd.DataFrame,
    daily_forecasts: pd.DataFrame,
    demand: pd.DataFrame | None,
    as_of: pd.Timestamp | str,
    settings: ReplenishSettings,
    open_purchase_orders: pd.DataFrame | None = None,
    service_level_override: float | None = None,
) -> pd.DataFrame:
    """One reorder line per active sku x location that has a forecast.

    Parameters
    ----------
    products : DataFrame
        dim_products.
    stock_position : DataFrame or None
        fct_stock_position (sku, location, stock_known, on_hand, on_order, backorders).
    lead_times : DataFrame or None
        fct_lead_times; overrides products' lead times from settings.lead_time_min_receipts
        receipts.
    series_assignments : DataFrame
        sku, location, category, demand_class, model, is_cold_start, backtest_rmsse,
        mean_daily_demand.
    cumulative_quantiles : DataFrame
        sku, location, horizon_days, level, quantity (level 0 = mean).
    daily_forecasts : DataFrame
        demand_forecasts: sku, location, date, forecast.
    demand : DataFrame or None
        fct_daily_demand, for ABC / XYZ classes (None: every series is "CZ" unless products
        give a service level).
    as_of : date
        The planning date; forecasts start the day after.
    settings : ReplenishSettings
    open_purchase_orders : DataFrame, optional
        fct_open_purchase_orders (sku, location, expected_date, open_quantity): arrivals used by
        projected_stockout_date.
    service_level_override : float, optional
        Use this target for every series (the policy replay).

    Returns
    -------
    DataFrame
        The contract columns of reorder_recommendations, then abc_class, xyz_class,
        projected_stockout_date, stock_known, demand_class, pack_size, moq, and more extras.
    """
    as_of = pd.Timestamp(as_of).normalize()
    prod = products.copy()
    if "active" in prod:
        prod = prod[prod["active"].fillna(True).astype(bool)]
    series = series_assignments.merge(prod[["sku"]].drop_duplicates(), on="sku", how="inner")
    if len(series) < len(series_assignments):
        log.info("%d forecast series skipped: product inactive or not in dim_products",
                 len(series_assignments) - len(series))
    have_fc = pd.MultiIndex.from_frame(cumulative_quantiles[KEYS].drop_duplicates())
    has = pd.MultiIndex.from_frame(series[KEYS]).isin(have_fc)
    if (~has).any():
        log.warning("%d active series have no cumulative forecast: no reorder line",
                    int((~has).sum()))
    series = series.loc[has].drop_duplicates(KEYS).reset_index(drop=True)
    n = len(series)
    if n == 0:
        return pd.DataFrame(columns=[*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS])
    p = prod.drop_duplicates("sku").set_index("sku")

    def pcol(name: str) -> pd.Series | None:
        return series["sku"].map(p[name]) if name in p else None

    lt = resolve_lead_times(series, prod, lead_times, settings.lead_time_min_receipts)
    lt_mean = lt["lead_time_days"].to_numpy(dtype=float)
    lt_std = lt["lead_time_std_days"].to_numpy(dtype=float)
    pack = np.maximum(_num(pcol("pack_size"), 1.0, n), 1.0)
    moq = np.maximum(_num(pcol("moq"), 1.0, n), 1.0)
    max_stock = _num(pcol("max_stock"), np.nan, n)

    # Service-level targets: product override, else ABC x XYZ class default.
    if demand is not None and len(demand):
        cls = classify_series(demand, prod, as_of, settings)
        series = series.merge(cls[[*KEYS, "abc_class", "xyz_class"]], on=KEYS, how="left")
    else:
        series["abc_class"] = np.nan
        series["xyz_class"] = np.nan
    series["abc_class"] = series["abc_class"].fillna("C")
    series["xyz_class"] = series["xyz_class"].fillna("Z")
    class_target = (series["abc_class"] + series["xyz_class"]).map(settings.service_levels)
    own_target = _num(pcol("service_level"), np.nan, n)
    target = np.where(np.isnan(own_target), class_target.fillna(0.9).to_numpy(dtype=float),
                      own_target)
    target_source = np.where(np.isnan(own_target), "class", "product")

    cum = dense_cumulative(cumulative_quantiles, series[KEYS])
    if (lt_mean + settings.review_days > cum.horizon).any():
        log.warning("%d series need demand beyond the %d-day cumulative horizon: extrapolated",
                    int((lt_mean + settings.review_days > cum.horizon).sum()), cum.horizon)
    protection = demand_mixture(cum, lt_mean, lt_std, float(settings.review_days),
                                settings.cover_earlier_orders)
    if service_level_override is not None:
        target = np.full(n, float(service_level_override))
        target_source = np.full(n, "override")
    elif settings.service_allocation == "exchange_curve" and settings.service_level_mode == "cycle":
        free = np.isnan(own_target)
        if free.any():
            lower, upper = settings.service_level_bounds
            alloc = allocate_service_levels(
                protection, _num(pcol("unit_cost"), np.nan, n),
                np.array([settings.service_level_average]), lower, upper, free,
                lost_sales=settings.lost_sales)[:, 0]
            target = np.where(free, alloc, target)
            target_source = np.where(free, "exchange_curve", target_source)
    # Whole units: demand sold in whole units is covered by floor(level) as well as by level.
    whole = np.zeros(n, dtype=bool)
    if demand is not None and len(demand) and "units_sold" in demand:
        past = demand[pd.to_datetime(demand["date"]) <= as_of]
        frac = (past["units_sold"] - past["units_sold"].round()).abs().fillna(0.0) > 1e-9
        fractional = frac.groupby([past[k] for k in KEYS]).any()
        whole = ~series[KEYS].merge(fractional.rename("_f").reset_index(), on=KEYS,
                                    how="left")["_f"].fillna(True).to_numpy(dtype=bool)
    spread = lot_spread(pack, moq, whole) if settings.lot_adjustment else None
    levels = policy_levels(cum, lt_mean, lt_std, target[:, None], settings.review_days,
                           settings.service_level_mode, max_stock,
                           settings.order_up_to_review_periods, spread,
                           settings.cover_earlier_orders, settings.lost_sales, protection)
    plain_point = whole_unit_level(levels.protection_quantile[:, 0], whole)
    reorder_point = whole_unit_level(levels.reorder_point[:, 0], whole)
    order_up_to = np.maximum(whole_unit_level(levels.order_up_to[:, 0], whole), reorder_point)
    safety_stock = np.minimum(np.maximum(reorder_point - levels.lead_time_demand, 0.0),
                              reorder_point)

    # Stock position.
    sp = series[KEYS].copy()
    if stock_position is not None and len(stock_position):
        sp = sp.merge(stock_position, on=KEYS, how="left")
    known = sp["stock_known"].fillna(False).astype(bool).to_numpy() if "stock_known" in sp \
        else np.zeros(n, bool)
    on_hand = _num(sp.get("on_hand"), np.nan, n)
    known &= np.isfinite(on_hand)
    on_hand = np.where(known, on_hand, np.nan)
    on_order = _num(sp.get("on_order"), 0.0, n)
    backorders = _num(sp.get("backorders"), 0.0, n)
    position = on_hand + on_order - backorders  # NaN when stock unknown
    qty = order_quantity(np.where(known, position, np.inf), reorder_point, order_up_to, pack, moq)
    stockout_prob = np.full(n, np.nan)
    if known.any():
        cdf = levels.lead_demand.cdf(np.where(known, position, 0.0)[:, None])[:, 0]
        stockout_prob = np.where(known, np.clip(1.0 - cdf, 0.0, 1.0), np.nan)

    # Days of cover and projected stockout from the daily mean forecast.
    fc = daily_forecasts.loc[pd.to_datetime(daily_forecasts["date"]) > as_of,
                             [*KEYS, "date", "forecast"]].copy()
    fc["date"] = pd.to_datetime(fc["date"])
    mean_daily = series[KEYS].merge(
        fc.groupby(KEYS, as_index=False)["forecast"].mean(), on=KEYS, how="left"
    )["forecast"].fillna(0.0).to_numpy()
    cap = settings.days_of_cover_cap
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean_daily > 0, on_hand / mean_daily, cap)
    cover = np.where(known, np.minimum(cover, cap), np.nan)
    stockout_date = projected_stockout_dates(series[KEYS], on_hand, fc, open_purchase_orders)
    stockout_date = stockout_date.where(known)

    lines = series[KEYS].copy()
    lines["category"] = series["category"] if "category" in series else pcol("category")
    lines["model"] = series["model"] if "model" in series else None
    lines["on_hand"] = on_hand
    lines["on_order"] = on_order
    lines["inventory_position"] = np.where(known, position, np.nan)
    lines["lead_time_days"] = lt_mean
    lines["review_days"] = settings.review_days
    lines["lead_time_demand"] = levels.lead_time_demand
    lines["safety_stock"] = safety_stock
    lines["reorder_point"] = reorder_point
    lines["order_up_to"] = order_up_to
    lines["recommended_order_qty"] = qty
    lines["days_of_cover"] = cover
    lines["stockout_probability"] = stockout_prob
    lines["service_level_target"] = target
    lines["abc_class"] = series["abc_class"].to_numpy()
    lines["xyz_class"] = series["xyz_class"].to_numpy()
    lines["projected_stockout_date"] = stockout_date.to_numpy()
    lines["stock_known"] = known
    lines["demand_class"] = series["demand_class"] if "demand_class" in series else None
    lines["pack_size"] = pack
    lines["moq"] = moq
    lines["lead_time_std_days"] = lt_std
    lines["lead_time_source"] = lt["lead_time_source"].to_numpy()
    lines["review_period_demand"] = levels.review_demand
    lines["mean_daily_forecast"] = mean_daily
    lines["max_stock"] = max_stock
    lines["backorders"] = backorders
    lines["next_possible_arrival"] = as_of + pd.to_timedelta(np.ceil(lt_mean), unit="D")
    lines["plan_date"] = as_of
    lines["service_level_source"] = target_source
    lines["protection_quantile"] = plain_point
    lines["lot_spread"] = spread if spread is not None else np.zeros(n)
    lines["explanation"] = _explanations(lines, series, levels, settings)
    return lines[[*PUBLISHED_TABLES["reorder_recommendations"], *EXTRA_COLUMNS]]


EXTRA_COLUMNS = [
    "abc_class", "xyz_class", "projected_stockout_date", "stock_known", "demand_class",
    "pack_size", "moq", "lead_time_std_days", "lead_time_source", "review_period_demand",
    "mean_daily_forecast", "max_stock", "backorders", "next_possible_arrival", "plan_date",
    "service_level_source", "protection_quantile", "lot_spread",
]


def projected_stockout_dates(
    keys: pd.DataFrame,
    on_hand: np.ndarray,
    daily_forecasts: pd.DataFrame,
    open_purchase_orders: pd.DataFrame | None = None,
) -> pd.Series:
    """First forecast date whose cumulative mean demand exceeds on_hand plus arrivals so far.

    Arrivals come from open purchase orders' expected_date when given. NaT when stock lasts
    beyond the forecast horizon or on_hand is unknown.
    """
    k = keys[KEYS].reset_index(drop=True).copy()
    k["_row"] = np.arange(len(k))
    k["_on_hand"] = on_hand
    f = daily_forecasts[[*KEYS, "date", "forecast"]].merge(k, on=KEYS, how="inner")
    f = f.sort_values(["_row", "date"])
    f["_cum"] = f.groupby("_row")["forecast"].cumsum()
    f["_arrived"] = 0.0
    if open_purchase_orders is not None and len(open_purchase_orders):
        po = open_purchase_orders[[*KEYS, "expected_date", "open_quantity"]].dropna()
        po = po.assign(date=pd.to_datetime(po["expected_date"]))
        arr = f[[*KEYS, "date"]].merge(po, on=KEYS, how="left", suffixes=("", "_po"))
        arr["q"] = np.where(arr["date_po"] <= arr["date"], arr["open_quantity"], 0.0)
        got = arr.groupby([*KEYS, "date"], sort=False)["q"].sum()
        f["_arrived"] = got.reindex(pd.MultiIndex.from_frame(f[[*KEYS, "date"]])).fillna(0.0) \
            .to_numpy()
    first = f.loc[f["_cum"] > f["_on_hand"] + f["_arrived"]].groupby("_row")["date"].min()
    result = pd.Series(pd.NaT, index=k.index, dtype="datetime64[ns]")
    result.loc[first.index] = first.to_numpy()
    return result


def _explanations(
    lines: pd.DataFrame, series: pd.DataFrame, levels: PolicyLevels, settings: ReplenishSettings
) -> list[str]:
    """A sentence per line that a buyer can check by hand."""
    out = []
    mode = settings.service_level_mode
    rmsse = series["backtest_rmsse"] if "backtest_rmsse" in series else pd.Series(np.nan,
                                                                                   index=series.index)
    cold = series["is_cold_start"] if "is_cold_start" in series else pd.Series(False,
                                                                              index=series.index)
    for i, r in enumerate(lines.itertuples(index=False)):
        pack, moq = r.pack_size, r.moq
        lt = (f"Lead time {_fmt(r.lead_time_days)}±{_fmt(r.lead_time_std_days)} days"
              if r.lead_time_std_days > 0 else f"Lead time {_fmt(r.lead_time_days)} days")
        protect = r.lead_time_days + r.review_days
        fit = f"Forecast {r.mean_daily_forecast:.1f}/day by {r.model}"
        if np.isfinite(rmsse.iloc[i]):
            fit += f" (backtest RMSSE {rmsse.iloc[i]:.2f})"
        if bool(cold.iloc[i]):
            fit += ", cold start: little history"
        target = f"{r.service_level_target * 100:.3g}%"
        what = "quantile" if mode == "cycle" else "fill-rate target"
        if mode == "cycle" and settings.lost_sales:
            level = float(lost_sales_quantile(r.service_level_target))
            what = (f"cycle service (unmet demand is lost, so the {level * 100:.3g}% "
                    f"quantile)")
        if r.service_level_source == "exchange_curve":
            target += (f" (exchange curve: {settings.service_level_average * 100:.3g}% on "
                       f"average over items, more where stock is cheap per point of service)")
        elif r.service_level_source == "product":
            target += " (the product's own service level)"
        lot = ""
        if r.protection_quantile - r.reorder_point > 0.05:
            lot = (f", lowered to {_fmt(r.reorder_point)} for ordering in lots of "
                   f"{_fmt(max(pack, math.ceil(moq / pack - 1e-9) * pack))}: stock after an "
                   f"order lies up to {_fmt(r.lot_spread)} above it, which meets the target on "
                   f"average")
        core = (f"{fit}. {lt} + review {r.review_days} days: {_fmt(protect)}-day demand "
                f"{_fmt(r.lead_time_demand)}, {target} {what} {_fmt(r.protection_quantile)}"
                f"{lot} -> reorder point {_fmt(r.reorder_point)} (safety stock "
                f"{_fmt(r.safety_stock)}).")
        if levels.max_stock_below_reorder_point[i, 0]:
            cap = (f" Max stock {_fmt(r.max_stock)} is below the reorder point: order-up-to "
                   f"held at the reorder point to keep the service target; raise max_stock.")
        elif levels.order_up_to_capped[i, 0]:
            cap = f" Order-up-to capped at max stock {_fmt(r.max_stock)}."
        else:
            cap = ""
        if not r.stock_known:
            out.append(
                f"Stock unknown: no inventory data, so no quantity is recommended (0). {core}"
                f" Count the shelf: if stock + open orders ({_fmt(r.on_order)}) is at or below "
                f"{_fmt(r.reorder_point)}, order up to {_fmt(r.order_up_to)}.{cap}"
            )
            continue
        pos = (f"Position {_fmt(r.inventory_position)} (on hand {_fmt(r.on_hand)} + on order "
               f"{_fmt(r.on_order)}"
               + (f" - backorders {_fmt(r.backorders)}" if r.backorders else "") + ")")
        if r.recommended_order_qty > 0:
            raw = r.order_up_to - r.inventory_position
            packs = r.recommended_order_qty / pack
            head = (f"Order {_fmt(r.recommended_order_qty)}"
                    + (f" ({_fmt(packs)} {_plural(packs, 'pack')} of {_fmt(pack)})"
                       if pack > 1 else "") + ".")
            rounding = f" {pos} <= {_fmt(r.reorder_point)}: order up to {_fmt(r.order_up_to)}" \
                       f" = {_fmt(raw)}"
            if pack > 1:
                rounding += (f", rounded up to {_fmt(packs)} {_plural(packs, 'pack')} = "
                             f"{_fmt(r.recommended_order_qty)}")
            if moq > 1:
                in_packs = math.ceil(raw / pack - 1e-9) * pack
                rounding += (f"; MOQ {_fmt(moq)} met" if in_packs >= moq - 1e-9
                             else f"; raised to MOQ {_fmt(moq)}")
            out.append(f"{head} {core}{rounding}.{cap}")
        else:
            out.append(f"No order. {core} {pos} > reorder point {_fmt(r.reorder_point)}.{cap}")
    return out
