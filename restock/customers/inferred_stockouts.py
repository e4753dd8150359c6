"""Stock-outs inferred from sales alone, for series without inventory rows (issue 18, item 1).

Most small retailers and wholesalers export sales only. A day the shelf was empty looks like a
day nobody wanted the item, unless the sales say otherwise. This module gives, per series
(sku x location) and day, the probability that the item was unavailable, from two signals:

- **an improbable run of low or zero sales**: the series' selling rate around the day (its
  recent level and weekday pattern) makes a run of zero (or near-zero) days unlikely if the item
  was on the shelf; one zero day of a slow seller is normal, five zero days of an item that
  sells nine units a day are not;
- **sales that stop while the rest goes on**: the expected level of the day is scaled by how the
  *other* items of the same location sold that day (a closed shop, a holiday, bad weather lower
  every item) and how the *same* item sold at the other locations that day (a demand dip of the
  item lowers it everywhere). What remains, one item at one location selling far below what its
  neighbours say it should, is a stock-out.

The model (documented because it is a choice)
--------------------------------------------
A two-state hidden Markov chain per series, in stock (I) / out of stock (O), on the daily grid:

- transitions: ``P(I -> O) = onset``, ``P(O -> O) = persist`` (a stock-out lasts
  ``1 / (1 - persist)`` days on average); the chain starts at its stationary share.
- emissions: sales counted in the feed's unit ``u`` (the quantity grid: 1 for integer feeds,
  0.1 for FreshRetailNet's normalised units), ``c = sales / u``, follow a negative binomial
  with size ``dispersion`` and mean ``lam = mu / u`` in stock, ``out_share * lam`` out of stock
  (an out-of-stock day still sells the hours before the shelf emptied). The pmf is evaluated with
  ``gammaln`` so non-integer counts are fine.
- ``mu`` (expected sales of the day if in stock) = the series' level x its weekday factor x the
  location's day factor x the item's day factor at the other locations:

  * level: mean of the deseasonalised sales over ``past_days`` before and ``future_days`` after
    the day (the day itself excluded), each day weighted by its probability of being in stock;
  * weekday factor: the series' weighted weekday mean over its weighted mean, shrunk towards 1
    with ``weekday_prior`` pseudo-days;
  * day factors: (sum of sales) / (sum of expected sales) over the *other* series of the
    location (resp. of the item), leave-one-out, shrunk towards 1 with ``factor_prior``
    pseudo-series and clipped to [0.1, 10]. The location factor counts every item (a closed
    shop zeroes all of them, also those the previous iteration took for stock-outs); the item
    factor weights each location by its in-stock probability, so an item out everywhere at
    once (a supplier shortage) does not explain itself away.

- the posterior ``P(O | all sales of the series)`` comes from the forward-backward recursion,
  vectorised over series (one numpy step per day: thousands of series cost milliseconds per
  day). Levels and factors are re-estimated with the new in-stock weights ``iterations`` times
  (an EM-like loop: stock-outs no longer drag the level down).

A zero run's probability under "in stock" is the product of the days' NB zero probabilities,
which the chain compares with the run staying out (``persist``): a long run of zeros of a fast
seller is a stock-out with probability near 1, a gap of a slow seller (``lam`` near 0, zero
probability near 1) is not.

Parameters were chosen on FreshRetailNet's first 45 days (stock-out hours withheld) and
confirmed on the later 45 (bench/inferred_stockouts_bench.py).

Outputs
-------
- :func:`stockout_probability`: the wide array (series x days).
- :func:`infer_stockouts`: the ``stockout_days`` frame (sku, location, date, stockout_source,
  probability): days known from inventory rows (``inventory``, probability 1) and inferred days
  (``inferred``) of the series without inventory rows.
- ``restock.customers.inferred_censoring.censoring_flags``: a demand frame's ``is_censored``
  with inferred stock-outs above a probability added, the input shape of
  ``restock.forecasting.censoring.build_panel``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from restock.contract import CUSTOMER_TABLES

STOCKOUT_DAYS_COLUMNS = CUSTOMER_TABLES["stockout_days"]


@dataclass(frozen=True)
class InferenceSettings:
    """Parameters of the stock-out inference (module docstring)."""

    past_days: int = 28  # level window before the day
    future_days: int = 14  # and after it (0 = trailing only)
    weekday_prior: float = 8.0  # pseudo-days shrinking weekday factors to 1
    dispersion: float = 5.0  # negative binomial size (smaller = more overdispersed)
    out_share: float = 0.15  # share of the expected sales an out-of-stock day still sells
    onset: float = 0.03  # P(in stock -> out of stock) from one day to the next
    persist: float = 0.6  # P(out of stock -> out of stock)
    unit: float | None = None  # quantity grid; None = detected from the sales
    location_factor: bool = True  # scale by the other items of the location that day
    sku_factor: bool = True  # scale by the same item at the other locations that day
    factor_prior: float = 3.0  # pseudo-series shrinking the day factors to 1
    iterations: int = 3  # re-estimations of the level with in-stock weights
    threshold: float = 0.7  # probability from which an inferred day counts as a stock-out


@dataclass
class SalesPanel:
    """Daily sales as a wide array: one row per series, one column per day.

    ``values`` is NaN before the series' first sale (not yet listed) and 0 on days without
    sales after it.
    """

    keys: pd.DataFrame  # sku, location
    dates: pd.DatetimeIndex
    values: np.ndarray


def sales_panel(
    sales: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    value: str = "quantity",
    start: pd.Timestamp | str | None = None,
) -> SalesPanel:
    """Daily sales per sku x location from sale lines or daily rows.

    Parameters
    ----------
    sales : DataFrame
        date (date or timestamp), sku, location and ``value``. Lines are summed per day;
        negative values (returns) are ignored.
    as_of : date, optional
        Last day of the grid (default: the last date); later rows are ignored.
    value : str
        The column summed (``quantity``; ``units_sold`` for a demand mart; ``lines`` counts
        rows with a positive quantity, e.g. order lines of a wholesaler).
    start : date, optional
        First day of the grid (default: the first date).
    """
    dates_col = pd.to_datetime(sales["date"]).dt.normalize()
    last = dates_col.max() if as_of is None else pd.Timestamp(as_of).normalize()
    first = dates_col.min() if start is None else pd.Timestamp(start).normalize()
    if value == "lines":
        qty = (pd.to_numeric(sales["quantity"], errors="coerce") > 0).astype(float)
    else:
        qty = pd.to_numeric(sales[value], errors="coerce").fillna(0.0).clip(lower=0.0)
    keep = ((dates_col <= last) & (dates_col >= first)).to_numpy()
    frame = pd.DataFrame({
        "sku": sales["sku"].astype(str).to_numpy()[keep],
        "location": sales["location"].astype(str).to_numpy()[keep],
        "day": (dates_col[keep] - first).dt.days.to_numpy(),
        "q": qty.to_numpy(dtype=float)[keep],
    })
    dates = pd.date_range(first, last, freq="D")
    if frame.empty:
        return SalesPanel(pd.DataFrame({"sku": [], "location": []}), dates,
                          np.zeros((0, len(dates))))
    codes, uniques = pd.factorize(pd.MultiIndex.from_arrays([frame["sku"], frame["location"]]),
                                  sort=True)
    n, t = len(uniques), len(dates)
    values = np.zeros((n, t))
    np.add.at(values, (codes, frame["day"].to_numpy()), frame["q"].to_numpy())
    sold = frame["q"].to_numpy() > 0
    first_sale = np.full(n, t)
    np.minimum.at(first_sale, codes[sold], frame["day"].to_numpy()[sold])
    values[np.arange(t)[None, :] < first_sale[:, None]] = np.nan
    keys = pd.DataFrame({"sku": uniques.get_level_values(0).astype(str),
                         "location": uniques.get_level_values(1).astype(str)})
    return SalesPanel(keys, dates, values)


def detect_unit(values: np.ndarray) -> float:
    """The quantity grid of positive sales: the largest of 1, 0.5, 0.1, ... dividing them all."""
    pos = values[np.isfinite(values) & (values > 0)]
    if pos.size == 0:
        return 1.0
    sample = pos[:: max(1, pos.size // 200_000)]
    for unit in (1.0, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001):
        steps = sample / unit
        if np.all(np.abs(steps - np.round(steps)) < 1e-3 * np.maximum(1.0, steps)):
            return unit
    return float(np.min(pos))


def _window_sum(x: np.ndarray, past: int, future: int) -> np.ndarray:
    """Sum of x over [t - past, t + future] minus x[t], along axis 1 (cumulative sums)."""
    n, t = x.shape
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(x, axis=1)], axis=1)
    idx = np.arange(t)
    hi = np.minimum(idx + future + 1, t)
    lo = np.maximum(idx - past, 0)
    return c[:, hi] - c[:, lo] - x


#: Series per block of the inference's element-wise work: its temporaries are blocks x days,
#: not series x days (30,490 series x 1,941 days peaked at 16 GB unblocked, 2026-12-05).
BLOCK_SERIES = 2048


def _blocks(n: int):
    """Row slices of ``BLOCK_SERIES`` series."""
    size = BLOCK_SERIES
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))


def _add_totals(totals: tuple[np.ndarray, np.ndarray], sold: np.ndarray, expected: np.ndarray,
                weight: np.ndarray, groups: np.ndarray) -> None:
    """Add a block of series to its groups' totals of weighted sales and expected sales."""
    np.add.at(totals[0], groups, weight * sold)
    np.add.at(totals[1], groups, weight * expected)


def _group_factor(
    sold: np.ndarray, expected: np.ndarray, weight: np.ndarray, groups: np.ndarray,
    prior: float, totals: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Leave-one-out day factor of each series (rows of a block) from the other series of its
    group; ``totals`` are the group's sums over every series (:func:`_add_totals`)."""
    tot_s, tot_m = totals
    other_s = tot_s[groups] - weight * sold
    other_m = tot_m[groups] - weight * expected
    # prior: `prior` pseudo-series selling exactly as expected (the series' own scale)
    positive = expected > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = (np.where(positive, expected, 0.0).sum(axis=1, keepdims=True)
                 / positive.sum(axis=1, keepdims=True))
    scale = np.nan_to_num(scale, nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (other_s + prior * scale) / (other_m + prior * scale)
    return np.clip(np.nan_to_num(f, nan=1.0, posinf=1.0), 0.1, 10.0)


def _nb_logpmf(c: np.ndarray, mean: np.ndarray, size: float) -> np.ndarray:
    """Negative binomial log pmf with the given mean and size (continuous in c)."""
    m = np.maximum(mean, 1e-9)
    return (gammaln(c + size) - gammaln(size) - gammaln(c + 1.0)
            + size * np.log(size / (size + m)) + c * np.log(m / (size + m)))


def _own_expected(s: np.ndarray, w: np.ndarray, weekdays: np.ndarray,
                  settings: InferenceSettings) -> np.ndarray:
    """A block's expected sales from its own history: level x weekday factor (``s`` = sales with
    0 where unobserved, ``w`` = in-stock weight, 0 where unobserved)."""
    total_w = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * s).sum(axis=1, keepdims=True) / total_w
    mean = np.nan_to_num(mean, nan=0.0)
    wf = np.ones((len(s), 7))
    for d in range(7):
        cols = weekdays == d
        sd = (w[:, cols] * s[:, cols]).sum(axis=1)
        nd = w[:, cols].sum(axis=1)
        k = settings.weekday_prior
        with np.errstate(invalid="ignore", divide="ignore"):
            wf[:, d] = (sd + k * mean[:, 0]) / ((nd + k) * mean[:, 0])
    wf = np.nan_to_num(wf, nan=1.0, posinf=1.0)
    day_wf = wf[:, weekdays]
    usable = w * (day_wf > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        deseason = np.where(day_wf > 0, s / day_wf, 0.0)
    num = _window_sum(usable * deseason, settings.past_days, settings.future_days)
    den = _window_sum(usable, settings.past_days, settings.future_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(den > 0.5, num / np.maximum(den, 1e-12), mean)
    return np.clip(level, 0.0, None) * day_wf


def expected_sales(
    sales: np.ndarray,
    in_stock: np.ndarray,
    weekdays: np.ndarray,
    sku_codes: np.ndarray,
    loc_codes: np.ndarray,
    settings: InferenceSettings,
) -> np.ndarray:
    """Expected sales of each day if in stock (level x weekday x location x item factors).

    Worked block by block (``BLOCK_SERIES``): besides the result, only the group totals span
    every series.
    """
    observed = ~np.isnan(sales)

    def block(b: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seen = observed[b]
        return seen, np.where(seen, sales[b], 0.0), np.where(seen, in_stock[b], 0.0)

    mu = np.empty(sales.shape)
    for b in _blocks(len(sales)):
        _, s, w = block(b)
        mu[b] = _own_expected(s, w, weekdays, settings)
    n_loc = int(loc_codes.max()) + 1 if len(loc_codes) else 0
    n_sku = int(sku_codes.max()) + 1 if len(sku_codes) else 0
    if settings.location_factor and n_loc:
        # unweighted: a closed shop lowers every item, including the ones the last iteration
        # took for stock-outs; one item out among many barely moves the others' total
        totals = (np.zeros((n_loc, sales.shape[1])), np.zeros((n_loc, sales.shape[1])))
        for b in _blocks(len(sales)):
            seen, s, _ = block(b)
            _add_totals(totals, s, mu[b], seen.astype(float), loc_codes[b])
        for b in _blocks(len(sales)):
            seen, s, _ = block(b)
            mu[b] *= _group_factor(s, mu[b], seen.astype(float), loc_codes[b],
                                   settings.factor_prior, totals)
    if settings.sku_factor and n_sku:
        totals = (np.zeros((n_sku, sales.shape[1])), np.zeros((n_sku, sales.shape[1])))
        for b in _blocks(len(sales)):
            _, s, w = block(b)
            _add_totals(totals, s, mu[b], w, sku_codes[b])
        for b in _blocks(len(sales)):
            _, s, w = block(b)
            mu[b] *= _group_factor(s, mu[b], w, sku_codes[b], settings.factor_prior, totals)
    mu[~observed] = np.nan
    return mu


def _forward_backward(ratio: np.ndarray, onset: float, persist: float) -> np.ndarray:
    """P(out | all days) of a 2-state chain; ``ratio`` = L(out) / L(in) per day."""
    n, t = ratio.shape
    trans = np.array([[1.0 - onset, onset], [1.0 - persist, persist]])
    p_out = onset / (onset + 1.0 - persist)
    alpha = np.empty((n, t, 2))
    a = np.column_stack([np.full(n, 1.0 - p_out), np.full(n, p_out) * ratio[:, 0]])
    a /= a.sum(axis=1, keepdims=True)
    alpha[:, 0] = a
    for j in range(1, t):
        a = a @ trans
        a[:, 1] *= ratio[:, j]
        a /= a.sum(axis=1, keepdims=True)
        alpha[:, j] = a
    post = np.empty((n, t))
    b = np.ones((n, 2))
    post[:, -1] = alpha[:, -1, 1]
    for j in range(t - 2, -1, -1):
        e = np.column_stack([np.ones(n), ratio[:, j + 1]])
        b = (e * b) @ trans.T
        b /= b.sum(axis=1, keepdims=True)
        g = alpha[:, j] * b
        post[:, j] = g[:, 1] / g.sum(axis=1)
    return post


def stockout_probability(
    panel: SalesPanel, settings: InferenceSettings | None = None
) -> np.ndarray:
    """P(item unavailable) per series and day of ``panel`` (NaN before the series' first sale).

    See the module docstring for the model. Vectorised over series; cost is linear in
    series x days x iterations.
    """
    settings = settings or InferenceSettings()
    sales = panel.values
    if sales.size == 0:
        return np.full(sales.shape, np.nan)
    observed = ~np.isnan(sales)
    unit = settings.unit or detect_unit(sales)
    weekdays = panel.dates.dayofweek.to_numpy()
    sku_codes = pd.factorize(panel.keys["sku"])[0]
    loc_codes = pd.factorize(panel.keys["location"])[0]
    in_stock = np.ones(sales.shape)
    post = np.zeros(sales.shape)
    for _ in range(max(1, settings.iterations)):
        mu = expected_sales(sales, in_stock, weekdays, sku_codes, loc_codes, settings)
        for b in _blocks(len(sales)):
            seen = observed[b]
            counts = np.where(seen, sales[b], 0.0) / unit
            lam = np.where(seen, mu[b], 0.0) / unit
            log_ratio = (_nb_logpmf(counts, settings.out_share * lam, settings.dispersion)
                         - _nb_logpmf(counts, lam, settings.dispersion))
            ratio = np.where(seen, np.exp(np.clip(log_ratio, -300.0, 300.0)), 1.0)
            post[b] = _forward_backward(ratio, settings.onset, settings.persist)
            in_stock[b] = 1.0 - post[b]
        del mu
    del in_stock
    post[~observed] = np.nan
    return post


def infer_stockouts(
    sales: pd.DataFrame,
    inventory: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
    days: int | None = 90,
    settings: InferenceSettings | None = None,
    min_probability: float = 0.5,
    value: str = "quantity",
    start: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """The ``stockout_days`` table: known stock-outs from inventory, inferred ones elsewhere.

    Parameters
    ----------
    sales : DataFrame
        Sale lines or daily rows: date, sku, location and ``value``.
    inventory : DataFrame, optional
        Contract inventory rows (date, sku, location, on_hand and/or stockout_hours). A series
        with any inventory row takes its stock-outs from them (``on_hand == 0`` or
        ``stockout_hours > 0``: source ``inventory``, probability 1) and is not inferred.
    as_of : date, optional
        Last day used (default: the last sales date).
    days : int or None
        Only the last ``days`` days up to ``as_of`` are returned (the whole history is used
        for the inference); None = every day.
    settings : InferenceSettings, optional
    min_probability : float
        Inferred days below this probability are left out: the table lists likely stock-outs,
        not every series-day (the chain's stationary share, 0.07 with the defaults, is the
        probability of a day the sales say nothing about, e.g. a slow seller's quiet day).
    value : str
        Passed to :func:`sales_panel` (``lines`` counts order lines instead of units).
    start : date, optional
        First day of the inference (default: the first sale); earlier sales are not read.

    Returns
    -------
    DataFrame
        sku, location, date, stockout_source, probability; sorted by sku, location, date.
    """
    settings = settings or InferenceSettings()
    panel = sales_panel(sales, as_of, value, start=start)
    last = panel.dates[-1] if len(panel.dates) else None
    known = _inventory_stockouts(inventory, last)
    covered = (inventory[["sku", "location"]].astype(str).drop_duplicates()
               if inventory is not None and len(inventory)
               else pd.DataFrame({"sku": [], "location": []}))
    parts = []
    if len(known):
        parts.append(known)
    if len(panel.keys):
        mask = ~pd.MultiIndex.from_frame(panel.keys).isin(pd.MultiIndex.from_frame(covered))
        sub = SalesPanel(panel.keys[mask].reset_index(drop=True), panel.dates, panel.values[mask])
        prob = stockout_probability(sub, settings)
        rows, cols = np.nonzero(np.nan_to_num(prob, nan=0.0) >= min_probability)
        parts.append(pd.DataFrame({
            "sku": sub.keys["sku"].to_numpy()[rows],
            "location": sub.keys["location"].to_numpy()[rows],
            "date": panel.dates[cols],
            "stockout_source": "inferred",
            "probability": prob[rows, cols],
        }))
    parts = [part for part in parts if len(part)]  # blocks without a stock-out day
    out = (pd.concat(parts, ignore_index=True) if parts
           else pd.DataFrame(columns=list(STOCKOUT_DAYS_COLUMNS)))
    if days is not None and last is not None and len(out):
        out = out[pd.to_datetime(out["date"]) > last - pd.Timedelta(days=days)]
    out = out.astype({"sku": str, "location": str, "stockout_source": str,
                      "probability": float})
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    return out.sort_values(["sku", "location", "date"]).reset_index(drop=True)[
        list(STOCKOUT_DAYS_COLUMNS)]


def _inventory_stockouts(inventory: pd.DataFrame | None, last) -> pd.DataFrame:
    """Known stock-out days of contract inventory rows (probability 1)."""
    if inventory is None or not len(inventory):
        return pd.DataFrame(columns=list(STOCKOUT_DAYS_COLUMNS))
    inv = inventory.copy()
    inv["date"] = pd.to_datetime(inv["date"]).dt.normalize()
    out = pd.Series(False, index=inv.index)
    if "on_hand" in inv:
        out |= pd.to_numeric(inv["on_hand"], errors="coerce").eq(0)
    if "stockout_hours" in inv:
        out |= pd.to_numeric(inv["stockout_hours"], errors="coerce").gt(0)
    if last is not None:
        out &= inv["date"] <= last
    inv = inv[out]
    return pd.DataFrame({"sku": inv["sku"].astype(str), "location": inv["location"].astype(str),
                         "date": inv["date"], "stockout_source": "inventory",
                         "probability": 1.0})
