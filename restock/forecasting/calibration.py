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
- No cumulative quantile above ``settings.cumulative_history_cap`` (3) x the larger of the
  series' largest k-day units sold in its history and its forecast total (:func:`history_cap`):
  a pool's tail, lent to a series that never came near it, is held to what the series has done.
- The coverage reported in ``backtest_metrics`` is out-of-fold: the quantiles scoring fold ``f``
  are calibrated on the other folds only (in-sample when there is a single fold).

Daily quantiles, ``settings.daily_quantile_method = "negbin"`` (the default): the pooled scaled
errors above spread in proportion to the level, which is wrong for count demand (variance
``mean + alpha mean^2``: the sd of a Poisson-like series grows like the root of its mean) and
gives continuous quantiles for integer demand. Instead each day's quantile is the integer
quantile of a negative binomial with the model's own forecast ``f_t`` as mean and the series'
own dispersion ``alpha_i`` (:func:`series_dispersion`: method of moments on its last
``dispersion_window_days`` days, ``(var - mean) / mean^2`` clipped at 0, shrunk towards the
median of its unit by ``days / (days + dispersion_shrink_days)``), computed by
:func:`negbin_quantiles` (exact and vectorised). Measured on M5 CA_1 as of 2016-04-24 (28 days
held out): weighted scaled pinball loss at p90 / p95 / p99 0.93 / 0.94 / 0.91 x the
empirical-56-day baseline's, against 0.99 / 1.04 / 1.13 for the scaled pools; a conformal
re-levelling per pool on the backtest errors made p99 worse there and is not used. The
cumulative quantiles keep the scaled pools: on the same data they beat every negative-binomial
variant of the total (with a fitted level-uncertainty term, and scaled by its root variance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from restock.forecasting.settings import ForecastSettings

WEEK = 7
N_BANDS = 3
# A cumulative level p is read from the finest pool with at least this many errors beyond it.
MIN_TAIL = 5
#: Dispersion of a series (and group) without any estimate: moderately over-dispersed.
DEFAULT_DISPERSION = 0.5


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
    spread: np.ndarray | None = None,
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
    spread : ndarray (sample x folds), optional
        Each series' index of dispersion at each cutoff (:func:`spread_index`,
        ``settings.cumulative_scale = "dispersion"``): the cumulative errors are scaled by
        ``sqrt(level x spread x k)``. None: 1 (``"count"``).
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
        s_cum = s if spread is None else s * spread[:, folds]
        z_cum = cum_err / cumulative_scale(s_cum, steps_k, horizon)
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


def largest_totals(history: np.ndarray, end: int, horizon: int, chunk: int = 2048) -> np.ndarray:
    """Each series' largest demand over any ``k`` consecutive days of its history up to column
    ``end``, for k = 1..``horizon`` (series x horizon). NaN (before the first sale) counts as
    0, so for ``k`` longer than a series' history it is the whole history's total."""
    n = np.asarray(history).shape[0]
    most = np.zeros((n, horizon))
    days = min(end + 1, np.asarray(history).shape[1])
    for lo in range(0, n, chunk):  # a few thousand series at a time: bounded memory
        win = np.clip(np.nan_to_num(np.asarray(history[lo:lo + chunk, :days], dtype=float),
                                    nan=0.0), 0.0, None)
        cum = np.concatenate([np.zeros((len(win), 1)), np.cumsum(win, axis=1)], axis=1)
        for k in range(1, horizon + 1):
            kk = min(k, days)
            if kk:
                most[lo:lo + chunk, k - 1] = (cum[:, kk:] - cum[:, :-kk]).max(axis=1)
    return most


def history_cap(history: np.ndarray, end: int, forecast: np.ndarray, multiple: float
                ) -> np.ndarray:
    """Upper bound of each series' cumulative quantiles (series x H): ``multiple`` x the larger
    of its largest ``k``-day demand in its history up to column ``end`` and its forecast total
    ``F_k``.

    The scaled-error pools lend a pool's tail to every series of the pool. Where a few series
    of a pool sell in huge orders (wholesale), that tail, times ``sqrt(level k)``, is lent to
    series that never sold more than a few dozen units in ``k`` days: on UCI Online Retail
    (2026-12-04) the 14-day p99.5 of 22375 / United Kingdom was 905 units against a 14-day
    maximum of 30 over 299 days, and 2,571 series went over the magnitude guard (5x the
    historical k-day maximum), so a run with defaults published nothing. A quantile of a
    k-day total is held to ``multiple`` times what the series ever did in ``k`` days (or is
    expected to do, ``F_k``, whichever is larger: a growing series' forecast is not held back).
    The whole history counts, as in the guard: on M5 CA_1 a cap of 3x the last year's maximum
    bound series that had not sold for a year and cost 3% of p99 pinball loss; 3x the whole
    history's changed nothing there. Windows reach before a young series' first sale (zeros),
    so for ``k`` longer than its history the bound is ``multiple`` x its whole history.
    ``history``: units sold (NaN = before the first sale, counted as 0), as the guard reads
    them; imputed stock-out days would let a wrong imputation lift the cap.
    """
    most = largest_totals(history, end, forecast.shape[1])
    total = np.cumsum(np.clip(forecast, 0.0, None), axis=1)
    return float(multiple) * np.maximum(most, total)


def daily_history_cap(history: np.ndarray, end: int, forecast: np.ndarray, multiple: float
                      ) -> np.ndarray:
    """Upper bound of each series' daily quantiles (series x H): ``multiple`` x the larger of
    its best day of units sold up to column ``end`` and that day's forecast.

    :func:`history_cap` for k = 1, day by day. Series whose sales are not whole units
    (FreshRetailNet's weights) take the scaled-error pools for their daily quantiles too, and
    a pool's tail times the series' level reached 6x what some series ever sold in a day: on
    FreshRetailNet odd cities as of 2024-06-11 (2026-12-05) 21 of 9,689 series went over the
    magnitude guard (5x the best day), e.g. 267 / 666, a daily p99 of 202.5 against a best
    day of 32.4, and the run with defaults published nothing.
    """
    best = largest_totals(history, end, 1)[:, :1]
    return float(multiple) * np.maximum(best, np.clip(forecast, 0.0, None))


def spread_index(target: np.ndarray, end: int, window: int = 364) -> np.ndarray:
    """Each series' index of dispersion (variance / mean of its daily demand) over the
    ``window`` days up to ``end``, at least 1 (Poisson); 1 where it has not sold.

    ``settings.cumulative_scale = "dispersion"`` scales the errors of a k-day total by
    ``sqrt(level x spread x k)``: the variance of a total of k days is about k times the daily
    variance, ``level x spread`` per day. For count demand (spread near 1) that is the
    ``sqrt(level k)`` of the module docstring; a wholesale series whose days are a few large
    orders has a spread of tens, and its errors no longer sit in the pool's tail, where they
    were lent at the same size to every series of the unit (UCI Online Retail, 2026-12-04: 14-day
    p99.5 of 2,526 units for a series that never sold more than 30 in 14 days).
    """
    win = np.asarray(target, dtype=float)[:, max(0, end + 1 - window) : end + 1]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(win, axis=1)
        var = np.nanvar(win, axis=1, ddof=1)
        index = np.where(mean > 0, var / mean, 1.0)
    return np.fmax(np.nan_to_num(index, nan=1.0), 1.0)


def _default_z(levels: np.ndarray) -> np.ndarray:
    """Scaled-error quantiles used without any backtest: Poisson-like spread at level 1."""
    from scipy.stats import norm

    return np.maximum(norm.ppf(levels), 0.0) * 1.5


def series_dispersion(target: np.ndarray, end: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Method-of-moments dispersion of each series over the ``window`` days up to ``end``.

    Returns ``(alpha, days)``: ``alpha = max(0, (var - mean) / mean^2)`` (negative binomial
    ``var = mean + alpha mean^2``; 0 = Poisson), NaN where the series has not sold in the
    window or has fewer than two days; ``days`` = observed (non-NaN) days in the window.
    """
    win = np.asarray(target, dtype=float)[:, max(0, end + 1 - window) : end + 1]
    days = (~np.isnan(win)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(win, axis=1)
        var = np.nanvar(win, axis=1, ddof=1)
        alpha = np.where((mean > 0) & (days >= 2), (var - mean) / mean ** 2, np.nan)
    return np.clip(alpha, 0.0, None), days


def is_count_series(sales: np.ndarray, end: int, window: int) -> np.ndarray:
    """Series whose sales over the ``window`` days up to ``end`` are whole units.

    Negative-binomial quantiles are for counts: a feed of weights or normalised quantities
    (FreshRetailNet sells fractions) keeps the scaled pools, whose quantiles are continuous.
    """
    win = np.asarray(sales, dtype=float)[:, max(0, end + 1 - window) : end + 1]
    whole = np.isnan(win) | (np.abs(win - np.round(win)) < 1e-9)
    return whole.all(axis=1)


def shrunk_dispersion(alpha: np.ndarray, days: np.ndarray, groups: np.ndarray,
                      shrink_days: float, default: float = DEFAULT_DISPERSION) -> np.ndarray:
    """Each series' dispersion shrunk towards its group's median by ``days / (days + shrink)``.

    A group without any estimate uses the median over all series (else ``default``).
    """
    alpha = np.asarray(alpha, dtype=float)
    groups = np.asarray(groups)
    finite = np.isfinite(alpha)
    overall = float(np.median(alpha[finite])) if finite.any() else default
    frame = pd.DataFrame({"g": groups, "a": np.where(finite, alpha, np.nan)})
    medians = frame.groupby("g")["a"].transform("median").to_numpy()
    prior = np.where(np.isfinite(medians), medians, overall)
    weight = np.asarray(days, dtype=float) / (np.asarray(days, dtype=float) + shrink_days) \
        if shrink_days > 0 else np.ones(len(alpha))
    return np.where(finite, weight * np.nan_to_num(alpha) + (1.0 - weight) * prior, prior)


#: Quantiles up to this are summed exactly from the pmf; larger ones use the shifted gamma with
#: the negative binomial's mean, variance and skewness (relative error well under 1% there).
EXACT_MAX = 120


def negbin_quantiles(mean: np.ndarray, alpha: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Integer quantiles of NB(mean, var = mean + alpha mean^2) (Poisson where alpha = 0).

    ``mean`` and ``alpha`` broadcast to a shape S; ``levels`` is (L,) or broadcastable to
    S + (L,); returns S + (L,). Vectorised: scipy's ``nbinom.ppf`` costs ~30 us a value, too
    slow for 30,490 series x 28 days x levels.
    """
    from scipy.special import gammaincinv

    mean = np.maximum(np.nan_to_num(np.asarray(mean, dtype=float)), 0.0)
    alpha = np.maximum(np.nan_to_num(np.asarray(alpha, dtype=float)), 0.0)
    mean, alpha = np.broadcast_arrays(mean, alpha)
    shape = mean.shape
    levels = np.asarray(levels, dtype=float)
    lv = np.broadcast_to(levels, shape + levels.shape[-1:]).reshape(-1, levels.shape[-1])
    lv = np.clip(lv, 0.0, 1.0 - 1e-9)
    mu, a = mean.ravel(), alpha.ravel()
    sd = np.sqrt(mu + a * mu * mu)
    pmax = lv.max(axis=1) if lv.shape[1] else np.zeros(len(mu))
    bound = mu + sd * np.sqrt(pmax / (1.0 - pmax))  # Cantelli: cdf(bound) >= pmax
    out = np.zeros(lv.shape)
    big = bound >= EXACT_MAX
    if big.any():
        m, s, aa = mu[big], sd[big], a[big]
        skew = np.maximum((1.0 + 2.0 * aa * m) / s, 1e-6)
        k = 4.0 / skew ** 2
        theta = s / np.sqrt(k)
        x = (m - k * theta)[:, None] + theta[:, None] * gammaincinv(k[:, None], lv[big])
        out[big] = np.maximum(np.ceil(x - 0.5), 0.0)
    small = np.flatnonzero(~big & (mu > 0))
    if small.size:
        m, aa, p = mu[small], a[small], lv[small]
        pois = aa < 1e-9
        r = 1.0 / np.where(pois, 1.0, aa)
        q = np.where(pois, 0.0, m / (r + m))
        pmf = np.where(pois, np.exp(-m), np.exp(r * np.log1p(-q)))  # P(X = 0)
        cdf = pmf.copy()
        res = np.zeros(p.shape)
        below = cdf[:, None] < p  # the quantile is above x
        x = 0
        active = np.flatnonzero(below.any(axis=1))
        while active.size and x < EXACT_MAX:
            step = np.where(pois[active], m[active] / (x + 1),
                            (x + r[active]) / (x + 1) * q[active])
            pmf[active] *= step
            cdf[active] += pmf[active]
            res[active] += below[active]
            below[active] = cdf[active, None] < p[active]
            x += 1
            active = active[below[active].any(axis=1)]
        out[small] = res
    return out.reshape(shape + (lv.shape[1],))


def negbin_daily_quantiles(
    levels: np.ndarray, forecast: np.ndarray, dispersion: np.ndarray
) -> dict[float, np.ndarray]:
    """Daily quantiles (series x horizon) at ``levels``: NB(forecast, series dispersion)."""
    q = negbin_quantiles(forecast, np.asarray(dispersion, dtype=float)[:, None],
                         np.asarray(levels, dtype=float))
    return {float(p): q[..., j] for j, p in enumerate(levels)}


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
    cal: Calibration, assignments: pd.DataFrame, forecast: np.ndarray, level: np.ndarray,
    spread: np.ndarray | None = None, cap: np.ndarray | None = None,
) -> np.ndarray:
    """Quantiles of total demand over the next k days: array (series x H x levels).

    H is ``forecast.shape[1]``; beyond the backtest horizon the last z row is held
    (module docstring). ``spread``: as in :func:`fit_calibration` (per series; the pools and
    volume bands still follow ``level``). ``cap`` (series x H, e.g. :func:`history_cap`):
    no quantile above it (it is non-decreasing in k, so the order in k and level holds).
    """
    n, h = forecast.shape
    levels = cal.cumulative_levels
    total = np.cumsum(forecast, axis=1)
    k = np.arange(1, h + 1)
    s_cum = level if spread is None else level * spread
    scale = cumulative_scale(s_cum, k, cal.backtest_horizon)  # n x H
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
    if cap is not None:
        out = np.minimum(out, np.maximum.accumulate(cap, axis=1)[:, :, None])
    return out
