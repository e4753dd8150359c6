"""Does censored-demand handling remove the stock-out bias? FreshRetailNet, last 14 days held out.

What it measures
----------------
A seeded sample of FreshRetailNet series (default 1,000 store x product series of the odd
cities, 2024-03-28..2024-06-25; 60 % of their days have a stock-out hour). The last 14 days
are held out; as_of = 2024-06-11. The fct_daily_demand frame is built from the parquet
(is_censored = stockout_hours > 0, promo = activity_flag, discount_pct = 1 - discount); planned
promotions (activity_flag) and the data's holiday flags are passed as ``fct_promotion_days`` /
``fct_events`` for history and horizon, the store-day weather as drivers.

The same models are trained twice: with ``censored_handling = "impute"`` (stock-out days
imputed, censoring.py) and on raw sales (``"none"``):

- each single model (seasonal naive, moving average, AutoETS, TSB, lightgbm_global), through
  the pipeline's ``forecast_panel`` on all sampled series;
- Restock end to end (``run_forecasting``: backtest, selection per unit, forecast).

Days with stock-out hours are imputed by ``--stockout-rule`` (default ``learned``: only the
stock-out hours that show a real sales shortfall in the training data are lifted; see
censoring.py). ``--stockout-rule open_hours`` reproduces the former 24 / (24 - h) scaling.

Scored on held-out days WITHOUT stock-out (stockout_hours == 0), where sales are demand:
signed bias (sum(forecast - actual) / sum(actual)), mean absolute per-series bias (mean over
series of |mean daily forecast - actual|, in units), and WAPE. Expected: impute has the smaller
absolute bias (raw sales teach the models the stock-outs). Exits 0.

Usage::

    .venv/bin/python bench/frn_censored_bench.py [--series 1000] [--seed 0] [--no-restock]
        [--stockout-rule learned|fixed|open_hours]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

HOLDOUT = 14
MODELS = ("seasonal_naive", "moving_average", "auto_ets", "tsb", "lightgbm_global")


def _settings(handling: str, n_jobs: int, stockout_rule: str = "learned"):
    from restock.forecasting.settings import ForecastSettings

    # 76 days of history: two 14-day folds, 28 days minimum history, no country calendar
    # (the data's own holiday flags come in as events)
    return ForecastSettings(
        horizon=HOLDOUT, folds=2, step_days=HOLDOUT, min_history_days=28,
        censored_handling=handling, holiday_country=None, n_jobs=n_jobs,
        stockout_rule=stockout_rule,
    )


def known_in_advance(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fct_promotion_days, fct_events) for every date: promotions and holidays are planned."""
    promo = raw.loc[raw["activity_flag"] > 0]
    promotions = pd.DataFrame(
        {"sku": "P" + promo["product_id"].astype(str),
         "location": "S" + promo["store_id"].astype(str),
         "date": pd.to_datetime(promo["dt"]).astype("datetime64[ns]"),
         "discount_pct": (1.0 - promo["discount"].astype(float)).clip(lower=0.0)}
    )
    hol = raw.loc[raw["holiday_flag"] > 0, ["store_id", "dt"]].drop_duplicates()
    events = pd.DataFrame(
        {"date": pd.to_datetime(hol["dt"]).astype("datetime64[ns]"),
         "location": "S" + hol["store_id"].astype(str), "name": "holiday", "type": "holiday"}
    )
    return promotions, events


def score(forecast: np.ndarray, actual: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """Bias and WAPE on the uncensored held-out days (``clean``)."""
    err = np.where(clean, forecast - actual, np.nan)
    a = np.where(clean, actual, np.nan)
    total = np.nansum(a)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # series with no clean held-out day
        per_series = np.nanmean(err, axis=1)  # mean daily error of each series
    return {
        "bias %": 100 * np.nansum(err) / total,
        "mean |series bias|": float(np.nanmean(np.abs(per_series))),
        "WAPE %": 100 * np.nansum(np.abs(err)) / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--no-restock", action="store_true", help="single models only")
    parser.add_argument("--stockout-rule", default="learned",
                        choices=["learned", "fixed", "open_hours"],
                        help="imputation rule of days with stock-out hours (censoring.py); "
                        "open_hours = the former 24 / (24 - h) scaling")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.require(common.FRN)
    common.setup_logging(args.verbose)

    from restock.forecasting import run_forecasting
    from restock.forecasting.censoring import build_panel
    from restock.forecasting.fitting import ExogenousInputs, forecast_panel

    t0 = time.perf_counter()
    raw = common.frn_sample(common.frn_raw(), args.series, args.seed)
    demand, drivers = common.frn_demand(raw)
    promotions, events = known_in_advance(raw)
    last = demand["date"].max()
    as_of = last - pd.Timedelta(days=HOLDOUT)
    train = demand[demand["date"] <= as_of]

    # held-out truth, in the panel's series order (same for both runs)
    full = build_panel(demand, last, _settings("none", args.n_jobs))
    hold = slice(full.day_index(as_of) + 1, full.day_index(last) + 1)
    actual, clean = full.sales[:, hold], ~full.censored[:, hold]
    ids = full.series["series_id"].to_numpy()
    print(f"FreshRetailNet: {len(ids)} series, as of {as_of.date()}, {HOLDOUT} days held out; "
          f"censored share: history {demand.loc[demand['date'] <= as_of, 'is_censored'].mean():.0%}"
          f", held-out {1 - clean.mean():.0%} (scored on the {clean.sum()} uncensored days)")

    rows = []
    for handling in ("impute", "none"):
        settings = _settings(handling, args.n_jobs, args.stockout_rule)
        panel = build_panel(train, as_of, settings)
        order = pd.Index(panel.series["series_id"]).get_indexer(ids)
        exog = ExogenousInputs(train, promotions, events, drivers, None)
        started = time.perf_counter()
        fc = forecast_panel(panel, np.arange(panel.n_series), panel.day_index(as_of),
                            list(MODELS), settings, HOLDOUT, exog)
        seconds = time.perf_counter() - started
        for model, arr in fc.items():
            rows.append({"model": model, "handling": handling, **score(arr[order], actual, clean),
                         "seconds": seconds})
        if not args.no_restock:
            started = time.perf_counter()
            result = run_forecasting(train, as_of, settings, promotions=promotions,
                                     events=events, drivers=drivers)
            out = result.demand_forecasts
            wide = (out.assign(series_id=out["sku"].astype(str) + "|" + out["location"])
                    .pivot_table(index="series_id", columns="date", values="forecast")
                    .reindex(index=ids, columns=full.dates[hold]))
            rows.append({"model": "restock (run_forecasting)", "handling": handling,
                         **score(wide.to_numpy(dtype=float), actual, clean),
                         "seconds": time.perf_counter() - started})
            if args.verbose:
                print(result.series_assignments["model"].value_counts().to_string())

    table = pd.DataFrame(rows).set_index(["model", "handling"]).sort_index()
    print()
    print(table.round(3).to_string())
    wide = table["mean |series bias|"].unstack("handling")
    wide["impute smaller"] = wide["impute"] < wide["none"]
    print("\nmean |series bias| (units/day), impute vs raw sales:")
    print(wide.round(4).to_string())
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
