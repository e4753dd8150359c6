"""ABC x XYZ classes of sku x location series.

ABC ranks series by their share of value sold (mean daily demand x unit_cost; units when any
series lacks a cost, so that value and units are never mixed in one ranking). XYZ ranks them by
how variable their weekly demand is (coefficient of variation of weekly units).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from restock.inventory.settings import ReplenishSettings

log = logging.getLogger("restock.inventory")

KEYS = ["sku", "location"]


def abc_classes(value: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Assign A/B/C by cumulative share of ``value`` (largest first).

    A series is A while the share of the series ranked above it is below ``thresholds[0]``
    (so the series that crosses 80% is still A), B below ``thresholds[1]``, else C.

    Parameters
    ----------
    value : array of float
        Value (or units) per series; NaN counts as 0.
    thresholds : (float, float)
        Cumulative value shares closing A and B, e.g. (0.8, 0.95).

    Returns
    -------
    array of str
    """
    v = np.nan_to_num(np.asarray(value, dtype=float), nan=0.0).clip(min=0)
    out = np.full(v.shape, "C", dtype=object)
    total = v.sum()
    if total <= 0:
        return out
    order = np.argsort(-v, kind="stable")
    share_before = (np.cumsum(v[order]) - v[order]) / total
    ranked = np.where(share_before < thresholds[0], "A",
                      np.where(share_before < thresholds[1], "B", "C"))
    # A series without any sale is C whatever its rank.
    ranked = np.where(v[order] > 0, ranked, "C")
    out[order] = ranked
    return out


def xyz_classes(cv: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Assign X/Y/Z by coefficient of variation: X <= t0 < Y <= t1 < Z (NaN -> Z)."""
    cv = np.asarray(cv, dtype=float)
    return np.where(cv <= thresholds[0], "X", np.where(cv <= thresholds[1], "Y", "Z"))


def classify_series(
    demand: pd.DataFrame,
    products: pd.DataFrame,
    as_of: pd.Timestamp | str,
    settings: ReplenishSettings,
    weeks: int = 52,
) -> pd.DataFrame:
    """ABC and XYZ class of every sku x location in ``demand``.

    Parameters
    ----------
    demand : DataFrame
        fct_daily_demand: sku, location, date, units_sold.
    products : DataFrame
        dim_products: sku, unit_cost.
    as_of : date
        Last day used; the classes look at the ``weeks`` full weeks ending on it.
    settings : ReplenishSettings
    weeks : int
        Length of the history window.

    Returns
    -------
    DataFrame
        sku, location, mean_daily_units, value, cv_weekly, abc_class, xyz_class.
    """
    as_of = pd.Timestamp(as_of)
    start = as_of - pd.Timedelta(days=7 * weeks - 1)
    dates = pd.to_datetime(demand["date"])
    d = demand.loc[(dates >= start) & (dates <= as_of), [*KEYS, "date", "units_sold"]].copy()
    d["date"] = pd.to_datetime(d["date"])
    # Weeks counted back from as_of, so the most recent week is complete.
    d["week"] = ((as_of - d["date"]).dt.days // 7).astype(int)
    weekly = d.groupby([*KEYS, "week"], sort=False)["units_sold"].sum()
    stats = weekly.groupby(level=[0, 1]).agg(["mean", "std", "size"])
    days = d.groupby(KEYS)["date"].agg(["min"]).rename(columns={"min": "first"})
    out = stats.join(days).reset_index()
    n_days = ((as_of - out["first"]).dt.days + 1).clip(lower=1)
    out["mean_daily_units"] = out["mean"] * out["size"] / n_days
    # Weeks after the series' first sale only; a single week has no spread (std NaN -> Z).
    out["cv_weekly"] = np.where(out["mean"] > 0, out["std"] / out["mean"], np.inf)

    cost = products.set_index("sku")["unit_cost"] if "unit_cost" in products else None
    unit_cost = out["sku"].map(cost) if cost is not None else pd.Series(np.nan, index=out.index)
    if unit_cost.notna().all() and len(out):
        out["value"] = out["mean_daily_units"] * unit_cost.astype(float)
    else:
        if len(out):
            log.info("ABC by units: %d of %d series have no unit_cost",
                     int(unit_cost.isna().sum()), len(out))
        out["value"] = out["mean_daily_units"]
    out["abc_class"] = abc_classes(out["value"].to_numpy(), settings.abc_thresholds)
    out["xyz_class"] = xyz_classes(out["cv_weekly"].fillna(np.inf).to_numpy(),
                                   settings.xyz_thresholds)
    return out[[*KEYS, "mean_daily_units", "value", "cv_weekly", "abc_class", "xyz_class"]]
