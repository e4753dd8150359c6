"""Accuracy of Restock's forecasts on M5 store CA_1 against simple benchmarks.

What it measures
----------------
As of 2016-04-24 (d_1913), horizon 28, scored on the 28 following days (d_1914..d_1941 =
2016-04-25..2016-05-22): mean RMSSE over the items of

1. restock: ``run_forecasting`` with the default ``ForecastSettings`` on the M5 history up to
   as_of (fct_daily_demand built from the parquet: complete daily spine per item from its first
   sale, nothing censored as there is no stock data, shelf prices, calendar events as
   ``fct_events``, SNAP days as a driver);
2. seasonal naive (the last 7 days repeated);
3. 28-day moving average;
4. per-series AutoETS (statsforecast, season 7, fitted on the last ``--ets-window`` days);
5. lightgbm_global alone (this repo's global model with exogenous features; ``--no-lgbm``
   skips it).

RMSSE as in M5: sqrt(mean squared error over the 28 days / mean squared one-step naive error
over the item's history from its first sale up to as_of). Items without a sale before as_of
(no scale) are left out and counted. Printed: a table (mean and median RMSSE, MAE, seconds)
and mean RMSSE by category. Exits 0.

Usage::

    .venv/bin/python bench/m5_accuracy_bench.py [--series N] [--ets-window 730] [--no-lgbm]
        [--set cold_start_model=select]   # ForecastSettings overrides for restock
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

from restock.forecasting.metrics import one_step_naive_scale as rmsse_scale  # noqa: E402
from restock.forecasting.metrics import rmsse  # noqa: E402

AS_OF = pd.Timestamp("2016-04-24")
H = 28


def restock_forecast(items, units, demand, verbose: bool,
                     overrides: dict | None = None) -> tuple[np.ndarray, float, pd.Series]:
    """Restock's forecasts (items x H), the seconds run_forecasting took, models chosen."""
    from restock.forecasting import ForecastSettings, run_forecasting

    started = time.perf_counter()
    result = run_forecasting(
        demand, AS_OF, ForecastSettings(**(overrides or {})), events=common.m5_events(),
        drivers=common.m5_drivers()
    )
    seconds = time.perf_counter() - started
    fc = result.demand_forecasts
    fc = fc[(fc["location"] == common.M5_LOCATION)]
    wide = fc.pivot_table(index="sku", columns="date", values="forecast", aggfunc="first")
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=H)
    wide = wide.reindex(index=items["item_id"], columns=dates)
    if verbose:
        cols = ["category", "demand_class", "selected_model", "score", "runner_up",
                "runner_up_score", "naive_score", "n_series"]
        print(result.model_selection[[c for c in cols if c in result.model_selection]]
              .to_string())
        m = result.backtest_metrics
        print(m.groupby(["category", "demand_class", "model"])["rmsse"].mean().unstack("model")
              .round(4).to_string())
    models = result.series_assignments["model"].value_counts()
    return wide.to_numpy(dtype=float), seconds, models


def ets_forecast(items, history: np.ndarray, window: int, n_jobs: int) -> np.ndarray:
    """Per-series statsforecast AutoETS on the last ``window`` days from each first sale."""
    return common.autoets_per_series(history, AS_OF, H, n_jobs, window)


def lgbm_forecast(items, demand: pd.DataFrame, n_jobs: int) -> np.ndarray:
    """lightgbm_global alone: fit on the default train window with exogenous features."""
    from restock.forecasting.features import build_exogenous
    from restock.forecasting.global_model import LightGBMGlobalForecaster
    from restock.forecasting.settings import ForecastSettings

    settings = ForecastSettings(n_jobs=n_jobs)
    recent = demand[demand["date"] > AS_OF - pd.Timedelta(days=settings.train_window_days)]
    sid = (recent["sku"] + "|" + recent["location"]).to_numpy()
    index = pd.MultiIndex.from_arrays([sid, recent["date"]], names=["series_id", "date"])
    events, drivers = common.m5_events(), common.m5_drivers()
    x_fit = build_exogenous(index, demand, None, events, drivers, None, settings)
    ids = pd.unique(sid)
    future = pd.MultiIndex.from_product(
        [ids, pd.date_range(AS_OF + pd.Timedelta(days=1), periods=H)], names=["series_id", "date"]
    )
    x_future = build_exogenous(future, demand, None, events, drivers, None, settings)
    y = pd.DataFrame({"demand": recent["units_sold"].to_numpy()}, index=index)
    model = LightGBMGlobalForecaster.from_settings(settings).fit(y, X=x_fit, fh=np.arange(1, H + 1))
    pred = model.predict(X=x_future)["demand"].to_numpy().reshape(len(ids), H)
    order = pd.Index(ids).get_indexer(items["item_id"] + "|" + common.M5_LOCATION)
    out = np.full((len(items), H), np.nan)
    out[order >= 0] = pred[order[order >= 0]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=None, help="seeded subset of items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ets-window", type=int, default=730)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-lgbm", action="store_true")
    parser.add_argument("--no-ets", action="store_true", help="skip AutoETS (minutes at 3,049)")
    parser.add_argument("--no-restock", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="ForecastSettings field for restock (JSON value), repeatable")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.require(common.M5)
    common.setup_logging(args.verbose)
    overrides = common.parse_settings(args.set)
    print(f"m5_accuracy_bench commit {common.git_commit()} settings {overrides or 'defaults'}")

    t0 = time.perf_counter()
    items, units = common.m5_wide(args.series, seed=args.seed)
    cal = common.m5_calendar()
    n_hist = int((cal["date"] <= AS_OF).sum())
    history, actual = units[:, :n_hist], units[:, n_hist : n_hist + H]
    demand = common.m5_demand(items, units, AS_OF)
    scale = rmsse_scale(history)
    scored = np.isfinite(scale) & (scale > 0)
    print(f"M5 CA_1: {len(items)} items, as of {AS_OF.date()}, h={H}, scored on "
          f"{cal['date'].iloc[n_hist].date()}..{cal['date'].iloc[n_hist + H - 1].date()}; "
          f"{int((~scored).sum())} items without an RMSSE scale left out "
          f"(data prepared in {time.perf_counter() - t0:.0f} s)")

    results: dict[str, tuple[np.ndarray, float]] = {}
    started = time.perf_counter()
    results["seasonal naive"] = (np.tile(history[:, -7:], H // 7), time.perf_counter() - started)
    started = time.perf_counter()
    ma = np.repeat(history[:, -28:].mean(axis=1, keepdims=True), H, axis=1)
    results["moving average 28"] = (ma, time.perf_counter() - started)
    if not args.no_ets:
        started = time.perf_counter()
        results[f"AutoETS ({args.ets_window} d)"] = (
            ets_forecast(items, history, args.ets_window, args.n_jobs),
            time.perf_counter() - started,
        )
    if not args.no_lgbm:
        started = time.perf_counter()
        results["lightgbm_global"] = (
            lgbm_forecast(items, demand, args.n_jobs), time.perf_counter() - started
        )
    models = None
    if not args.no_restock:
        fc, seconds, models = restock_forecast(items, units, demand, args.verbose, overrides)
        results["restock (run_forecasting)"] = (fc, seconds)

    print(f"\n{'method':<28}{'mean RMSSE':>11}{'median':>9}{'MAE':>8}{'missing':>9}{'seconds':>9}")
    per_cat = {}
    for name, (fc, seconds) in results.items():
        missing = int(np.isnan(fc[scored]).any(axis=1).sum())
        fc = np.where(np.isnan(fc), 0.0, fc)
        r = rmsse(actual[scored], fc[scored], scale[scored])
        mae = np.mean(np.abs(actual[scored] - fc[scored]))
        print(f"{name:<28}{r.mean():>11.4f}{np.median(r):>9.4f}{mae:>8.3f}{missing:>9d}"
              f"{seconds:>9.1f}")
        per_cat[name] = pd.Series(r).groupby(items["cat_id"].to_numpy()[scored]).mean()
    print("\nmean RMSSE by category")
    print(pd.DataFrame(per_cat).T.round(4).to_string())
    if models is not None:
        print("\nmodels chosen by restock (series):", ", ".join(f"{k} {v}" for k, v in
                                                            models.items()))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
