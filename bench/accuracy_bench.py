"""Point accuracy of Restock on any daily feed against seasonal naive, MA28 and AutoETS.

What it measures
----------------
A contract feed (``sales`` and ``products`` as CSV or Parquet files, e.g. from ``restock import
online-retail ../shared/data/uci_online_retail --out DIR``): daily demand per sku x location =
the day's net quantity clipped at 0, on a complete daily spine from the series' first sale (the
shape of ``fct_daily_demand``; nothing censored: no stock data). History up to ``--as-of``
(default: ``--horizon`` days before the last sales date), scored on the ``--horizon`` (28) days
after it, or on the days the data has left (FreshRetailNet as of 14 days before its end: 14).
Series that sold nothing before as_of, or whose history gives no RMSSE scale, are left out and
counted.

1. restock: ``run_forecasting`` with the default ``ForecastSettings`` (horizon = ``--horizon``);
2. seasonal naive (the last 7 days repeated);
3. moving average of the last 28 days (MA28);
4. per-series AutoETS (statsforecast, season 7, last 730 days; ``--no-ets`` skips it).

RMSSE as in M5 (mean squared error over the horizon / mean squared one-step naive error of the
history from the first sale). Printed: date and commit, mean and median RMSSE, MAE and total bias
per method, and the models Restock chose. Issue 14's acceptance on UCI Online Retail 2009-2010
(last 28 days held out): Restock's mean RMSSE below MA28's.

Usage::

    .venv/bin/python bench/accuracy_bench.py FEED [--as-of YYYY-MM-DD] [--horizon 28] [--no-ets]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

from restock.forecasting.metrics import one_step_naive_scale as rmsse_scale  # noqa: E402
from restock.forecasting.metrics import rmsse  # noqa: E402


def read_table(feed: Path, name: str) -> pd.DataFrame:
    for path in (feed / f"{name}.parquet", feed / f"{name}.csv"):
        if path.exists():
            return (pd.read_parquet(path) if path.suffix == ".parquet"
                    else pd.read_csv(path, dtype={"sku": str, "location": str}))
    folder = feed / name
    parts = sorted(folder.glob("*.parquet")) + sorted(folder.glob("*.csv"))
    if not parts:
        sys.exit(f"{feed}: no {name} table")
    return pd.concat([pd.read_parquet(p) if p.suffix == ".parquet" else
                      pd.read_csv(p, dtype={"sku": str, "location": str}) for p in parts],
                     ignore_index=True)


def held_out(feed: Path, as_of: str | None, horizon: int):
    """The feed's series sold before as_of, split at as_of: ``(keys, history, actual, dates,
    as_of, scale)``; as_of defaults to ``horizon`` days before the last date, and the days
    scored are the horizon or what is left after as_of. ``scale``: RMSSE's, per series."""
    keys, units, dates = daily_wide(feed)
    as_of = pd.Timestamp(as_of) if as_of else dates[-1] - pd.Timedelta(days=horizon)
    n_hist = int((dates <= as_of).sum())
    h = min(horizon, len(dates) - n_hist)
    if h < 1:
        sys.exit(f"as_of {as_of.date()} leaves no day to score")
    sold = (units[:, :n_hist] > 0).any(axis=1)
    keys, units = keys[sold].reset_index(drop=True), units[sold]
    history, actual = units[:, :n_hist], units[:, n_hist:n_hist + h]
    return keys, history, actual, dates, as_of, rmsse_scale(history)


def daily_wide(feed: Path) -> tuple[pd.DataFrame, np.ndarray, pd.DatetimeIndex]:
    """(series keys sku, location, category; units array series x days; dates)."""
    sales = read_table(feed, "sales")
    products = read_table(feed, "products")
    sales["date"] = pd.to_datetime(sales["date"].astype(str).str[:10])
    sales["sku"] = sales["sku"].astype(str)
    sales["location"] = sales["location"].astype(str)
    day = (sales.groupby(["sku", "location", "date"])["quantity"].sum().clip(lower=0)
           .rename("units").reset_index())
    dates = pd.date_range(day["date"].min(), day["date"].max())
    keys = day[["sku", "location"]].drop_duplicates().sort_values(["sku", "location"])
    keys = keys.reset_index(drop=True)
    pos = pd.MultiIndex.from_frame(keys).get_indexer(
        pd.MultiIndex.from_frame(day[["sku", "location"]]))
    units = np.zeros((len(keys), len(dates)))
    units[pos, (day["date"] - dates[0]).dt.days.to_numpy()] = day["units"].to_numpy()
    category = products.assign(sku=products["sku"].astype(str)).set_index("sku")["category"]
    keys["category"] = keys["sku"].map(category).fillna("ALL").astype(str)
    return keys, units, dates


def to_demand(keys: pd.DataFrame, history: np.ndarray, dates: pd.DatetimeIndex) -> pd.DataFrame:
    n, t = history.shape
    sold = history > 0
    first = np.where(sold.any(axis=1), sold.argmax(axis=1), t)
    rows = np.repeat(np.arange(n), t - first)
    cols = np.concatenate([np.arange(f, t) for f in first]).astype(int)
    return pd.DataFrame({
        "sku": keys["sku"].to_numpy()[rows], "location": keys["location"].to_numpy()[rows],
        "category": keys["category"].to_numpy()[rows], "date": dates[cols],
        "units_sold": history[rows, cols], "units_returned": 0.0, "on_hand": np.nan,
        "stockout_hours": np.nan, "is_censored": False, "promo": False,
        "discount_pct": np.nan, "unit_price": np.nan,
        "n_customers": pd.array([pd.NA] * len(rows), dtype="Int64"), "is_event": False,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("feed", type=Path)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-ets", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="ForecastSettings field for restock (JSON value), repeatable")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    overrides = common.parse_settings(args.set)
    common.setup_logging(args.verbose)
    print(f"accuracy_bench {datetime.now().isoformat(timespec='seconds')} "
          f"commit {common.git_commit()} settings {overrides or 'defaults'}")
    t0 = time.perf_counter()
    keys, history, actual, dates, as_of, scale = held_out(args.feed, args.as_of, args.horizon)
    n_hist, h = history.shape[1], actual.shape[1]
    scored = np.isfinite(scale) & (scale > 0)
    print(f"{args.feed}: {len(keys)} series sold before as_of {as_of.date()} ({n_hist} days of "
          f"history), h={h}, scored on {dates[n_hist].date()}..{dates[n_hist + h - 1].date()}; "
          f"{int((~scored).sum())} series without an RMSSE scale left out")

    results: dict[str, tuple[np.ndarray, float]] = {}
    results["seasonal naive"] = (np.resize(history[:, -7:], (len(keys), h)) if h <= 7 else
                                 np.tile(history[:, -7:], -(-h // 7))[:, :h], 0.0)
    results["moving average 28"] = (
        np.repeat(history[:, -28:].mean(axis=1, keepdims=True), h, axis=1), 0.0)
    if not args.no_ets:
        started = time.perf_counter()
        ets = common.autoets_per_series(history, dates[n_hist - 1], h, args.n_jobs)
        results["AutoETS (730 d)"] = (ets, time.perf_counter() - started)

    from restock.forecasting import ForecastSettings, run_forecasting

    demand = to_demand(keys, history, dates[:n_hist])
    started = time.perf_counter()
    result = run_forecasting(demand, as_of, ForecastSettings(**{"horizon": args.horizon,
                                                                   **overrides}))
    seconds = time.perf_counter() - started
    fc = result.demand_forecasts
    wide = fc.pivot_table(index=["sku", "location"], columns="date", values="forecast",
                          aggfunc="first")
    wide = wide.reindex(index=pd.MultiIndex.from_frame(keys[["sku", "location"]]),
                        columns=pd.date_range(as_of + pd.Timedelta(days=1), periods=h))
    bt = result.backtest_metrics
    history_days = result.series_assignments["history_days"]
    print(f"restock backtest: {bt['fold'].nunique() if len(bt) else 0} folds (cutoffs "
          f"{', '.join(str(pd.Timestamp(c).date()) for c in sorted(bt['cutoff'].unique()))}), "
          f"{int(result.model_selection['sample_size'].sum())} series backtested; "
          f"{int((history_days >= 56).sum())} of {len(history_days)} series have 8+ weeks")
    results["restock (run_forecasting)"] = (wide.to_numpy(dtype=float), seconds)

    print(f"\n{'method':<28}{'mean RMSSE':>11}{'median':>9}{'MAE':>9}{'bias':>9}{'seconds':>9}")
    for name, (f, sec) in results.items():
        f = np.where(np.isnan(f), 0.0, f)
        r = rmsse(actual[scored], f[scored], scale[scored])
        mae = np.mean(np.abs(actual[scored] - f[scored]))
        bias = (f[scored] - actual[scored]).sum() / max(actual[scored].sum(), 1e-9)
        print(f"{name:<28}{r.mean():>11.4f}{np.median(r):>9.4f}{mae:>9.3f}{bias:>+9.1%}"
              f"{sec:>9.1f}")
    models = result.series_assignments["model"].value_counts()
    print("\nmodels chosen by restock (series):", ", ".join(f"{k} {v}" for k, v in
                                                        models.items()))
    if args.verbose:
        print(result.model_selection[["category", "demand_class", "selected_model", "score",
                                      "runner_up", "runner_up_score", "naive_score"]]
              .to_string())
    if result.adaptations:
        print("adaptations:", "; ".join(result.adaptations))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
