"""Shared helpers of the forecasting benches: real data -> fct_daily_demand-shaped frames.

The benches build the marts the pipeline would build (``fct_daily_demand``, ``fct_events``,
``fct_drivers``) straight from the shared parquet files, so they measure the forecasting code
alone, not the loaders or dbt.
"""

from __future__ import annotations

import glob
import logging
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
M5 = DATA / "m5_ca1"
FRN = DATA / "freshretailnet"
M5_LOCATION = "CA_1"


def git_commit() -> str:
    """Short git commit of the checkout (with + when tracked files have changes), for figures."""
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return (sha or "unknown") + ("+" if dirty else "")


def autoets_per_series(history: np.ndarray, last_date: pd.Timestamp, h: int, n_jobs: int,
                       window: int = 730) -> np.ndarray:
    """Per-series statsforecast AutoETS (weekly season) on each series' last ``window`` days
    from its first sale, forecasting ``h`` days after ``last_date``: the plain baseline every
    accuracy bench sets Restock beside. ``history`` is (series x days), the last column being
    ``last_date``; returns (series x h), clipped at 0."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, WindowAverage

    n, t = history.shape
    first = np.where((history > 0).any(axis=1), (history > 0).argmax(axis=1), t - 1)
    start = np.maximum(first, t - window)
    rows = np.repeat(np.arange(n), t - start)
    cols = np.concatenate([np.arange(s, t) for s in start])
    dates = pd.date_range(end=pd.Timestamp(last_date), periods=t)
    long = pd.DataFrame({"unique_id": rows, "ds": dates[cols], "y": history[rows, cols]})
    sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=n_jobs,
                       fallback_model=WindowAverage(window_size=28))
    out = sf.forecast(h=h, df=long)
    out = out.reset_index() if "unique_id" not in out.columns else out
    arr = np.full((n, h), np.nan)
    step = (pd.DatetimeIndex(out["ds"]) - dates[-1]).days.to_numpy() - 1
    arr[out["unique_id"].to_numpy(dtype=int), step] = out["AutoETS"].to_numpy(dtype=float)
    return np.clip(arr, 0.0, None)


def parse_settings(pairs: list[str]) -> dict:
    """``--set KEY=VALUE`` pairs as ForecastSettings overrides (VALUE read as JSON if it can)."""
    import json

    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def require(path: Path) -> None:
    """Exit with a clear message when a data folder is absent."""
    if not path.exists():
        sys.exit(f"data not found: {path} (the shared real data sets are needed)")


def setup_logging(verbose: bool) -> None:
    """INFO logging of restock.forecasting when verbose, warnings only otherwise.

    Library warnings (sktime's remember_data and update notices) are silenced: they would
    drown the figures.
    """
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


class Timer:
    """Context manager measuring wall and CPU seconds (``.wall``, ``.cpu``)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def m5_calendar() -> pd.DataFrame:
    """M5 calendar with ``date`` as datetime64."""
    cal = pd.read_parquet(M5 / "calendar.parquet")
    cal["date"] = pd.to_datetime(cal["date"])
    return cal


def m5_wide(series: int | None = None, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(items, units array items x 1969 days): all items, or a seeded sample of ``series``."""
    wide = pd.read_parquet(M5 / "sales_wide.parquet")
    if series is not None and series < len(wide):
        rows = np.sort(np.random.default_rng(seed).choice(len(wide), series, replace=False))
        wide = wide.iloc[rows].reset_index(drop=True)
    day_cols = [c for c in wide.columns if c.startswith("d_")]
    units = wide[day_cols].to_numpy(dtype=float)
    items = wide[["item_id", "dept_id", "cat_id"]].copy()
    return items, units


def m5_demand(
    items: pd.DataFrame, units: np.ndarray, as_of: pd.Timestamp, with_prices: bool = True
) -> pd.DataFrame:
    """``fct_daily_demand`` of M5 CA_1 up to ``as_of``: complete spine from each first sale.

    No inventory data: nothing is censored. unit_price is the week's shelf price
    (sell_prices), is_event the calendar's events.
    """
    cal = m5_calendar()
    n_days = int((cal["date"] <= as_of).sum())
    sold = units[:, :n_days]
    first = np.where((sold > 0).any(axis=1), (sold > 0).argmax(axis=1), n_days)
    lengths = n_days - first
    rows = np.repeat(np.arange(len(items)), lengths)
    cols = np.concatenate([np.arange(f, n_days) for f in first]) if len(items) else np.array([])
    cols = cols.astype(int)
    frame = pd.DataFrame(
        {
            "sku": items["item_id"].to_numpy()[rows],
            "location": M5_LOCATION,
            "category": items["cat_id"].to_numpy()[rows],
            "date": cal["date"].to_numpy()[cols],
            "units_sold": sold[rows, cols],
            "units_returned": 0.0,
            "on_hand": np.nan,
            "stockout_hours": np.nan,
            "is_censored": False,
            "promo": False,
            "discount_pct": np.nan,
            "n_customers": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "is_event": cal["event_name_1"].notna().to_numpy()[cols],
        }
    )
    if with_prices:
        prices = pd.read_parquet(M5 / "sell_prices.parquet")
        prices = prices[prices["store_id"] == M5_LOCATION]
        week = cal["wm_yr_wk"].to_numpy()[cols]
        key = pd.MultiIndex.from_arrays([frame["sku"].to_numpy(), week])
        lookup = pd.Series(
            prices["sell_price"].to_numpy(),
            index=pd.MultiIndex.from_arrays([prices["item_id"], prices["wm_yr_wk"]]),
        )
        lookup = lookup[~lookup.index.duplicated()]
        frame["unit_price"] = lookup.reindex(key).to_numpy()
    else:
        frame["unit_price"] = np.nan
    return frame


def m5_events() -> pd.DataFrame:
    """``fct_events`` from the M5 calendar (National events are holidays)."""
    cal = m5_calendar()
    parts = []
    for i in (1, 2):
        e = cal.loc[cal[f"event_name_{i}"].notna(), ["date", f"event_name_{i}", f"event_type_{i}"]]
        e.columns = ["date", "name", "type"]
        parts.append(e)
    events = pd.concat(parts, ignore_index=True)
    events["type"] = events["type"].str.lower().replace({"national": "holiday"})
    events.insert(1, "location", None)
    return events


def m5_drivers() -> pd.DataFrame:
    """``fct_drivers`` from the M5 calendar: SNAP days in California (known in advance)."""
    cal = m5_calendar()
    return pd.DataFrame(
        {"date": cal["date"], "location": M5_LOCATION, "driver": "snap",
         "value": cal["snap_CA"].astype(float)}
    )


def frn_raw() -> pd.DataFrame:
    """All FreshRetailNet daily city files (odd cities) in one frame."""
    files = sorted(glob.glob(str(FRN / "frn50k_daily_city*.parquet")))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def frn_demand(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``fct_daily_demand``, ``fct_drivers``) from FreshRetailNet rows.

    sku = product_id, location = store_id; is_censored = stockout_hours > 0; promo =
    activity_flag; discount_pct = 1 - discount (discount is the price ratio paid); the
    store-day weather goes to the drivers.
    """
    demand = pd.DataFrame(
        {
            "sku": "P" + raw["product_id"].astype(str),
            "location": "S" + raw["store_id"].astype(str),
            "category": "C" + raw["first_category_id"].astype(str),
            "date": pd.to_datetime(raw["dt"]).astype("datetime64[ns]"),
            "units_sold": raw["daily_sale"].astype(float),
            "units_returned": 0.0,
            "on_hand": np.nan,
            "stockout_hours": raw["stockout_hours"].astype(float),
            "is_censored": (raw["stockout_hours"] > 0).to_numpy(),
            "promo": (raw["activity_flag"] > 0).to_numpy(),
            "discount_pct": (1.0 - raw["discount"].astype(float)).clip(lower=0.0),
            "unit_price": np.nan,
            "n_customers": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "is_event": (raw["holiday_flag"] > 0).to_numpy(),
        }
    )
    weather = raw[["store_id", "dt", "precpt", "avg_temperature", "avg_humidity",
                   "avg_wind_level"]].drop_duplicates(["store_id", "dt"])
    drivers = weather.melt(id_vars=["store_id", "dt"], var_name="driver", value_name="value")
    drivers = pd.DataFrame(
        {
            "date": pd.to_datetime(drivers["dt"]).astype("datetime64[ns]"),
            "location": "S" + drivers["store_id"].astype(str),
            "driver": drivers["driver"],
            "value": drivers["value"].astype(float),
        }
    )
    return demand, drivers


def frn_sample(raw: pd.DataFrame, series: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of ``series`` store x product series (all when None)."""
    keys = raw[["store_id", "product_id"]].drop_duplicates().reset_index(drop=True)
    if series is not None and series < len(keys):
        keys = keys.sample(n=series, random_state=seed)
    return raw.merge(keys, on=["store_id", "product_id"])
