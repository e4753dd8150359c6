"""Demand panel and censored-demand imputation.

A censored day is a day the item was out of stock (``on_hand = 0`` at close or
``stockout_hours > 0``): its sales are a lower bound of demand, not demand. Teaching a model
those sales as demand teaches it to forecast the stock-outs again, so the model target is an
*imputed* demand series. The imputation lifts a censored day to the series' *usual level*:
the mean of the same weekday's uncensored days in the previous ``settings.impute_weeks``
weeks; if there are none, the mean of the uncensored days of the previous 28 days; during a
longer stock-out, the last such 28-day mean known; if still none, the sales themselves. Only
days before the imputed day are used.

1. Days with known stock-out hours h > 0 (``settings.stockout_rule``):

   - ``"learned"`` (default): a stock-out only costs sales if it covers hours when customers
     buy. On FreshRetailNet stock-outs cluster at night (hours 0-4 and 19-23, ~10 % of the
     day's sales): days with up to 12 stock-out hours sell *as much or more* than the series'
     usual level (stock-outs hit high-demand days), and only longer ones sell clearly less.
     So the shortfall is measured on the data itself, per category: for each hour bin b
     (h rounded up, 1..24), ``R(b) = sum(sales) / sum(usual level)`` over the censored days
     of that bin, shrunk towards the bin's ratio pooled over all categories with weight
     ``stockout_min_bin_days``, then fitted non-increasing in b (a longer stock-out cannot be
     expected to sell more; pool adjacent violators). A bin shows a real shortfall when
     ``R(b) < settings.stockout_shortfall_ratio`` (default 0.9); the category's threshold
     is the smallest b from which every bin does. Bins whose pooled data is thinner than
     ``stockout_min_bin_days`` days use the default threshold ``stockout_min_hours`` (12).
     Days at or above the threshold are lifted to the usual level; shorter stock-outs keep
     their sales (the day stays censored: backtests do not score it).
   - ``"fixed"``: days with ``h >= settings.stockout_min_hours`` are lifted to the usual
     level, shorter ones keep their sales.
   - ``"open_hours"`` (the former rule, kept for comparison): sales were made in the
     ``24 - h`` open hours, so demand is ``sales * 24 / (24 - h)``, the scale capped at
     ``settings.max_open_hours_scale`` (above it: the usual level). It assumes sales are
     spread evenly over 24 hours; on FreshRetailNet (median scale 1.60) it overstated demand
     and raised the forecast bias on days without stock-out from -1.6 % (raw sales) to
     +25.8 % (bench/frn_censored_bench.py).
2. Censored days without stock-out hours (closing stock 0): the usual level.
3. The imputed value is never below the observed sales (sales are a lower bound of demand).

Uncensored days are untouched, and so is the censored mask: a censored day that is not
lifted still never counts as demand in backtest scoring. Without inventory data nothing is
censored and the target is the sales. ``settings.censored_handling = "none"`` skips
imputation (the raw-sales comparison); backtests still never score censored days. Everything
is done on wide numpy arrays (series x dates), which is what makes a 3,049 x 1,900 panel cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.forecasting.settings import ForecastSettings

SERIES_SEPARATOR = "|"  # series_id = sku + "|" + location (series_id_of)


@dataclass
class DemandPanel:
    """The demand mart as aligned wide arrays (one row per series, one column per day).

    Attributes
    ----------
    series : DataFrame
        One row per series: series_id, sku, location, category, first_day (column index of the
        first sale), first_date.
    dates : DatetimeIndex
        The daily grid, first sale of any series .. last date.
    sales : ndarray
        Units sold, NaN before the series' first sale.
    censored : ndarray of bool
        Stock-out days (False before the first sale).
    target : ndarray
        Demand the models learn from: sales with censored days imputed (or raw sales when
        imputation is off). NaN before the first sale.
    """

    series: pd.DataFrame
    dates: pd.DatetimeIndex
    sales: np.ndarray
    censored: np.ndarray
    target: np.ndarray

    @property
    def n_series(self) -> int:
        """Number of series."""
        return len(self.series)

    def day_index(self, date: pd.Timestamp) -> int:
        """Column index of ``date`` on the grid (may be outside the grid)."""
        return int((pd.Timestamp(date) - self.dates[0]).days)

    def subset(self, rows: np.ndarray) -> DemandPanel:
        """The panel restricted to the series at positions ``rows``."""
        return DemandPanel(
            self.series.iloc[rows].reset_index(drop=True),
            self.dates,
            self.sales[rows],
            self.censored[rows],
            self.target[rows],
        )


def series_id_of(sku: pd.Series, location: pd.Series) -> pd.Series:
    """The series id of aligned sku and location columns."""
    return sku.astype(str) + SERIES_SEPARATOR + location.astype(str)


def build_panel(
    demand: pd.DataFrame, as_of: pd.Timestamp, settings: ForecastSettings
) -> DemandPanel:
    """Turn the ``fct_daily_demand`` frame into a :class:`DemandPanel` up to ``as_of``.

    Parameters
    ----------
    demand : DataFrame
        sku, location, category, date, units_sold, and optionally is_censored, stockout_hours.
    as_of : Timestamp
        Last day used; later rows are ignored.
    settings : ForecastSettings
        ``censored_handling``, ``impute_weeks`` and the ``stockout_*`` settings are used (and
        ``max_open_hours_scale`` by the 'open_hours' rule); the series' category is the group
        of the 'learned' rule.

    Returns
    -------
    DemandPanel
    """
    as_of = pd.Timestamp(as_of).normalize()
    dates_all = pd.DatetimeIndex(pd.to_datetime(demand["date"])).normalize()
    keep = np.asarray(dates_all <= as_of)
    frame = demand.loc[keep] if not keep.all() else demand
    dates_col = dates_all[keep] if not keep.all() else dates_all
    if frame.empty:
        raise ValueError(f"no demand rows dated on or before {as_of.date()}")
    # Integer codes of (sku, location) without building millions of id strings.
    sku_codes, skus = pd.factorize(frame["sku"], sort=True)
    loc_codes, locs = pd.factorize(frame["location"], sort=True)
    codes, pairs = pd.factorize(sku_codes.astype(np.int64) * len(locs) + loc_codes, sort=True)
    first_row = np.unique(codes, return_index=True)[1]
    start = dates_col.min()
    day = np.asarray((dates_col - start).days)
    n, t = len(pairs), int((as_of - start).days) + 1
    sales_vals = pd.to_numeric(frame["units_sold"], errors="coerce").fillna(0.0).clip(lower=0.0)
    sales = np.full((n, t), np.nan)
    sales[codes, day] = sales_vals.to_numpy(dtype=float)
    censored = np.zeros((n, t), dtype=bool)
    if "is_censored" in frame:
        censored[codes, day] = frame["is_censored"].fillna(False).to_numpy(dtype=bool)
    hours = np.full((n, t), np.nan)
    if "stockout_hours" in frame:
        hours[codes, day] = pd.to_numeric(frame["stockout_hours"], errors="coerce").to_numpy()

    # The spine starts at the first sale; rows before it (if the mart ever has them) are not
    # history, and a zero-filled gap inside the spine is a day without sales.
    first_sale = np.where(np.nan_to_num(sales) > 0, np.arange(t), t).min(axis=1)
    first_obs = np.where(~np.isnan(sales), np.arange(t), t).min(axis=1)
    first_day = np.where(first_sale < t, first_sale, first_obs)
    cols = np.arange(t)
    before = cols[None, :] < first_day[:, None]
    sales[before] = np.nan
    sales[~before & np.isnan(sales)] = 0.0
    censored[before] = False

    meta = pd.DataFrame({
        "sku": np.asarray(skus.astype(str))[sku_codes[first_row]],
        "location": np.asarray(locs.astype(str))[loc_codes[first_row]],
        "category": frame["category"].to_numpy()[first_row].astype(str),
    })
    meta.insert(0, "series_id", series_id_of(meta["sku"], meta["location"]))
    meta["first_day"] = first_day
    meta["first_date"] = start + pd.to_timedelta(first_day, unit="D")
    dates = pd.date_range(start, as_of, freq="D")
    if settings.censored_handling == "impute":
        target = impute_censored(sales, censored, hours, settings, meta["category"].to_numpy())
    else:
        target = sales.copy()
    return DemandPanel(meta, dates, sales, censored, target)


def impute_censored(
    sales: np.ndarray,
    censored: np.ndarray,
    stockout_hours: np.ndarray | None,
    settings: ForecastSettings,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Estimated demand: censored days imputed, uncensored days untouched (module docstring).

    Parameters
    ----------
    sales : ndarray (series x days)
        Units sold, NaN where the series has not started.
    censored : ndarray of bool, same shape
        Stock-out days.
    stockout_hours : ndarray or None, same shape
        Hours out of stock (NaN = unknown).
    settings : ForecastSettings
        ``impute_weeks``, ``stockout_rule`` and its ``stockout_*`` parameters,
        ``max_open_hours_scale`` ('open_hours' rule).
    groups : ndarray or None, one label per series
        The category of each series: the 'learned' rule learns one threshold per group
        (None = one pooled group).

    Returns
    -------
    ndarray
        Same shape as ``sales``.
    """
    target = sales.copy()
    if not censored.any():
        return target
    level = usual_level(sales, censored, settings.impute_weeks)
    estimate = np.where(np.isnan(level), sales, level)

    if stockout_hours is not None:
        h = np.clip(np.nan_to_num(stockout_hours, nan=0.0), 0.0, 24.0)
        known = censored & (h > 0) & ~np.isnan(sales)  # days with stock-out hours
        if settings.stockout_rule == "open_hours":
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = 24.0 / (24.0 - h)
            partial = known & (scale <= settings.max_open_hours_scale)
            capped = np.minimum(scale, settings.max_open_hours_scale)  # no 0 * inf at h = 24
            estimate = np.where(partial, sales * capped, estimate)
        else:
            if settings.stockout_rule == "learned":
                codes = (np.zeros(len(sales), dtype=int) if groups is None
                         else pd.factorize(np.asarray(groups), use_na_sentinel=False)[0])
                lift_from = shortfall_hours(sales, level, h, known, codes, settings)[codes]
                hours = np.ceil(h)  # the hour bins the thresholds were learned on
            else:  # fixed
                lift_from = np.full(len(sales), float(settings.stockout_min_hours))
                hours = h
            # Below the threshold the day's sales are its demand estimate (no real shortfall).
            estimate = np.where(known & (hours < lift_from[:, None]), sales, estimate)

    imputed = np.fmax(estimate, sales)  # never below what was actually sold
    use = censored & ~np.isnan(sales)
    target[use] = imputed[use]
    return target


def usual_level(sales: np.ndarray, censored: np.ndarray, weeks: int) -> np.ndarray:
    """A day's usual demand level, from uncensored days before it only (NaN = unknown).

    The mean of the same weekday's uncensored days in the previous ``weeks`` weeks; if there
    are none, the mean of the uncensored days among the previous 28; during a longer stock-out,
    the last such 28-day mean known.
    """
    n, t = sales.shape
    # Uncensored observed values only: the base of every weekday mean.
    clean = np.where(censored | np.isnan(sales), np.nan, sales)

    weekday_sum = np.zeros((n, t))
    weekday_cnt = np.zeros((n, t))
    for week in range(1, weeks + 1):
        lag = 7 * week
        if lag >= t:
            break
        past = clean[:, :-lag]
        ok = ~np.isnan(past)
        weekday_sum[:, lag:] += np.where(ok, past, 0.0)
        weekday_cnt[:, lag:] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        weekday_mean = weekday_sum / weekday_cnt

    # Fallback: mean of the uncensored days among the previous 28 (cumulative sums).
    window = 28
    ok = ~np.isnan(clean)
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(np.where(ok, clean, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([np.zeros((n, 1)), np.cumsum(ok, axis=1)], axis=1)
    hi = np.arange(t)
    lo = np.maximum(hi - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recent_mean = (csum[:, hi] - csum[:, lo]) / (ccnt[:, hi] - ccnt[:, lo])

    # Long stock-outs leave no uncensored day in the last 28: carry the last level known.
    last_level = pd.DataFrame(recent_mean).ffill(axis=1).to_numpy()
    level = np.where(np.isnan(weekday_mean), recent_mean, weekday_mean)
    return np.where(np.isnan(level), last_level, level)


def shortfall_hours(
    sales: np.ndarray,
    level: np.ndarray,
    hours: np.ndarray,
    known: np.ndarray,
    codes: np.ndarray,
    settings: ForecastSettings,
) -> np.ndarray:
    """Stock-out hours from which a day sells clearly less than usual, per group (rule 1).

    For each group g and stock-out hour bin b (h rounded up, 1..24) the sales ratio
    ``R(g, b) = sum(sales) / sum(usual level)`` over the days of that bin is shrunk towards the
    pooled ratio of the bin with weight ``stockout_min_bin_days``, then fitted non-increasing
    in b (weighted pool adjacent violators). A bin shows a shortfall when the ratio is below
    ``stockout_shortfall_ratio``; a pooled bin with fewer days than the weight falls back to
    ``h >= stockout_min_hours``. The group's threshold is the smallest b from which every bin
    shows a shortfall (25 = never).

    Returns
    -------
    ndarray
        One threshold (hours) per group code.
    """
    n_groups = int(codes.max()) + 1 if len(codes) else 1
    bins = np.arange(1, 25)
    use = known & (level > 0) & ~np.isnan(level)
    b = np.clip(np.ceil(hours[use]), 1, 24).astype(int) - 1
    g = np.broadcast_to(codes[:, None], sales.shape)[use]
    flat = g * 24 + b
    size = n_groups * 24
    days = np.bincount(flat, minlength=size).reshape(n_groups, 24).astype(float)
    sold = np.bincount(flat, weights=sales[use], minlength=size).reshape(n_groups, 24)
    usual = np.bincount(flat, weights=level[use], minlength=size).reshape(n_groups, 24)
    m = float(settings.stockout_min_bin_days)
    pooled_days = days.sum(axis=0)
    default = bins >= settings.stockout_min_hours
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = sold.sum(axis=0) / usual.sum(axis=0)
        own = sold / usual
    ratio = (np.where(days > 0, own, 0.0) * days + m * pooled) / (days + m)
    learnable = pooled_days >= m
    for k in range(n_groups):  # a day out longer cannot be expected to sell more: monotone fit
        ratio[k, learnable] = _decreasing_fit(ratio[k, learnable], days[k, learnable] + m)
    short = np.where(learnable, ratio < settings.stockout_shortfall_ratio, default)
    # smallest b with a shortfall in every bin from b to 24 (reverse cumulative AND)
    tail_short = np.flip(np.logical_and.accumulate(np.flip(short, axis=1), axis=1), axis=1)
    return np.where(tail_short.any(axis=1), bins[np.argmax(tail_short, axis=1)], 25).astype(float)


def _decreasing_fit(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-increasing fit of ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [weighted mean, weight, length]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), v) for v, _, n in blocks]) if blocks else values
