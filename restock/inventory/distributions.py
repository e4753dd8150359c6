"""Demand distributions: cumulative demand over h days, the lead time, demand over L + R.

Notation
--------
D(h)      total demand over the next h days (h = 1 .. H days of forecast horizon).
Q_h(p)    its quantile at level p: the forecast's calibrated *cumulative* quantiles, made
          dense here (:class:`CumulativeDemand`).
L         lead time in days; sigma_L its standard deviation.
R         review period in days (settings.review_days).
P = L + R protection interval: an order placed today arrives after L days and the next chance
          to order is R days later, so today's position must cover demand over L + R days.
F(x)      P(D(P) <= x), the CDF of demand over the protection interval (:class:`Mixture`).

Method
------
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
* Where L comes from: purchase-order receipts (fct_lead_times) when there are enough of them,
  else the product's lead time (:func:`resolve_lead_times`).

The levels set on these distributions are in :mod:`restock.inventory.levels`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
# Lead-time distribution and mixture
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

    def fill_rate_point(self, allowed_shortage: np.ndarray, iterations: int = 50,
                        lead: Mixture | None = None) -> np.ndarray:
        """Smallest r with E[(D - r)+] <= allowed_shortage (S, T) (bisection).

        ``lead``: the demand over the lead time alone, D_L (this mixture being D_{L+R}); then
        the shortage of one review cycle, E[(D_{L+R} - r)+] - E[(D_L - r)+] (the part of the
        shortfall already there when the cycle's order lands is the previous cycle's; Silver,
        Pyke & Peterson, periodic review fill rate). It falls as r grows (D_{L+R} is the larger).
        """
        allowed = np.asarray(allowed_shortage, dtype=float)
        lo = np.zeros_like(allowed)
        hi = np.broadcast_to(self.knots.max(axis=(1, 2))[:, None], allowed.shape).copy()
        if lead is not None:
            hi = np.maximum(hi, lead.knots.max(axis=(1, 2))[:, None])
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            short = self.expected_shortage(mid)
            if lead is not None:
                short = short - lead.expected_shortage(mid)
            ok = short <= allowed + 1e-12
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
