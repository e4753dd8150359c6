"""Censored demand from inferred stock-outs: which inferred days a forecast treats as censored.

A day :mod:`restock.customers.inferred_stockouts` finds out of stock with a probability at or
above the run's threshold is marked ``is_censored`` in the demand forecasting reads, exactly as
a known stock-out, for the series that sell on most of their days
(:data:`CENSOR_MIN_SELLING_SHARE`). Split from the inference module, whose maths it does not
share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.forecasting.classify import ADI_CUTOFF

#: Inferred stock-outs censor demand only for series that sell on at least this share of their
#: days (from their first sale): Syntetos and Boylan's ADI cut (classify.ADI_CUTOFF, 1.32 days
#: between sales), the one that sorts demand classes for forecasting. A
#: zero day of a series that sells most days is evidence of an empty shelf; a gap of an
#: intermittent or lumpy series is its normal pattern, and imputing it multiplies the forecast.
#: Measured (2026-12-04): UCI Online Retail, where 99% of series sell on fewer days, had 228,501
#: inferred days imputed and forecasts up to 400x their history (the nightly's magnitude guard
#: stopped publication); on FreshRetailNet 93% of series sell on more days, so they keep it.
CENSOR_MIN_SELLING_SHARE = round(1 / ADI_CUTOFF, 2)  # 0.76


class _SeriesDays:
    """Integer keys of (sku, location[, day]) rows: a 27-million-row demand frame keyed by
    strings (a MultiIndex of astype(str) columns) took 5 GB more than these (2026-12-05)."""

    def __init__(self, sku: pd.Series, location: pd.Series) -> None:
        sku_codes, sku_values = pd.factorize(sku)
        loc_codes, loc_values = pd.factorize(location)
        self.skus = pd.Index(pd.Index(sku_values).astype(str))
        self.locations = pd.Index(pd.Index(loc_values).astype(str))
        self.series = self._series(sku_codes, loc_codes)

    def _series(self, sku_codes: np.ndarray, loc_codes: np.ndarray) -> np.ndarray:
        out = sku_codes.astype(np.int64) * max(len(self.locations), 1) + loc_codes
        return np.where((sku_codes < 0) | (loc_codes < 0), -1, out)

    def series_of(self, sku: pd.Series, location: pd.Series) -> np.ndarray:
        """The same keys for other rows (-1 where the sku or location is not in the frame)."""
        return self._series(self.skus.get_indexer(sku.astype(str)),
                            self.locations.get_indexer(location.astype(str)))

    @staticmethod
    def days(dates: pd.Series) -> np.ndarray:
        return (pd.to_datetime(dates).dt.normalize().to_numpy().astype("datetime64[D]")
                .astype(np.int64))

    @staticmethod
    def with_day(series: np.ndarray, days: np.ndarray) -> np.ndarray:
        return np.where(series < 0, -1, series * (1 << 22) + (days + (1 << 21)))


def _selling_share(keys: _SeriesDays, dates: pd.Series, units_sold: pd.Series) -> pd.Series:
    days = keys.days(dates)
    frame = pd.DataFrame({"series": keys.series, "day": days,
                          "sold": units_sold.to_numpy() > 0})
    g = frame.groupby("series")
    share = g["sold"].sum() / (days.max() - g["day"].min() + 1)
    n_loc = max(len(keys.locations), 1)
    return pd.Series(share.to_numpy(), index=pd.MultiIndex.from_arrays(
        [keys.skus[share.index // n_loc], keys.locations[share.index % n_loc]],
        names=["sku", "location"]))


def selling_share(demand: pd.DataFrame) -> pd.Series:
    """Share of each series' days with positive sales, from its first row to the frame's last
    date (a frame listing only days with sales counts the missing days as zero), indexed by
    (sku, location) as strings."""
    return _selling_share(_SeriesDays(demand["sku"], demand["location"]), demand["date"],
                          demand["units_sold"])


def censoring_flags(
    demand: pd.DataFrame, stockouts: pd.DataFrame, threshold: float = 0.5,
    min_selling_share: float = CENSOR_MIN_SELLING_SHARE, add_missing: bool = True,
) -> pd.DataFrame:
    """``demand`` with inferred stock-outs at or above ``threshold`` marked censored, for the
    series that sell on at least ``min_selling_share`` of their days
    (:data:`CENSOR_MIN_SELLING_SHARE`).

    Parameters
    ----------
    demand : DataFrame
        The ``fct_daily_demand`` shape that ``censoring.build_panel`` reads: sku, location,
        date, units_sold, optionally is_censored and stockout_hours.
    stockouts : DataFrame
        The ``stockout_days`` table (:func:`infer_stockouts`).
    threshold : float
        Inferred days with probability >= threshold become censored.
    min_selling_share : float
        Series selling on fewer of their days keep their sales as they are (0: every series).
    add_missing : bool
        Add the inferred days ``demand`` has no row for (below); False for a mart whose spine
        already lists every day of a series.

    Returns
    -------
    DataFrame
        ``demand`` (a shallow copy: its other columns are shared, not copied) where
        ``is_censored`` is also True on the inferred stock-out days (their ``stockout_hours``
        stay NaN, so censoring imputes them at the usual level, as a day closing with zero
        stock) and a column ``censored_source`` (``inventory``, ``inferred`` or empty) says
        why. Known stock-outs are left as they are.
    """
    out = demand.copy(deep=False)
    known = (out["is_censored"].fillna(False).to_numpy(dtype=bool) if "is_censored" in out
             else np.zeros(len(out), dtype=bool))
    out["is_censored"] = known
    inferred = stockouts[(stockouts["stockout_source"] == "inferred")
                         & (stockouts["probability"] >= threshold)]
    keys = _SeriesDays(out["sku"], out["location"])
    inferred_series = keys.series_of(inferred["sku"], inferred["location"])
    if min_selling_share > 0 and len(inferred) and len(out):
        share = _selling_share(keys, out["date"], out["units_sold"])
        steady = pd.MultiIndex.from_arrays([inferred["sku"].astype(str),
                                            inferred["location"].astype(str)]).isin(
            share.index[share.to_numpy() >= min_selling_share])
        inferred, inferred_series = inferred[steady], inferred_series[steady]
    inferred_key = keys.with_day(inferred_series, keys.days(inferred["date"]))
    row_key = keys.with_day(keys.series, keys.days(out["date"]))
    add = np.isin(row_key, inferred_key[inferred_key >= 0]) & ~known
    del row_key
    out["is_censored"] = known | add
    out["censored_source"] = np.where(add, "inferred", np.where(known, "inventory", ""))
    if not add_missing:
        return out
    # inferred days without a demand row (a feed listing only days with sales): add them with
    # zero sales, the series' category, censored
    missing = (inferred_key < 0) | ~np.isin(
        inferred_key, keys.with_day(keys.series, keys.days(out["date"])))
    if missing.any():
        extra = pd.DataFrame({
            "sku": inferred["sku"].astype(str).to_numpy()[missing],
            "location": inferred["location"].astype(str).to_numpy()[missing],
            "date": pd.to_datetime(inferred["date"]).dt.normalize().to_numpy()[missing],
            "units_sold": 0.0, "is_censored": True, "censored_source": "inferred",
        })
        if "category" in out:
            cats = out.drop_duplicates(["sku", "location"]).set_index(["sku", "location"])
            extra["category"] = cats["category"].reindex(
                pd.MultiIndex.from_frame(extra[["sku", "location"]])).to_numpy()
            extra = extra[extra["category"].notna()]
        out = pd.concat([out, extra], ignore_index=True)
    return out


def censored_mask(
    panel_sales: np.ndarray, probability: np.ndarray, threshold: float = 0.5,
    known: np.ndarray | None = None,
) -> np.ndarray:
    """Wide-array form of :func:`censoring_flags`: known | (probability >= threshold)."""
    flags = np.nan_to_num(probability, nan=0.0) >= threshold
    flags &= ~np.isnan(panel_sales)
    return flags if known is None else (flags | known)
