"""Stock-outs inferred from sales alone, on FreshRetailNet with the stock-out hours withheld.

What it measures
----------------
FreshRetailNet odd cities (every store x product series, 2024-03-28 .. 2024-06-25). The
inference (restock.customers.inferred_stockouts) sees the daily sales only.

1. Detection. Truth: a day is a stock-out day when its stock-out hours cover most of the
   selling day, ``stockout_hours >= --truth-hours`` (default 16: with the hourly sales profile
   of ``hourly_sample.parquet`` the median share of a day's sales falling in stock-out hours
   first exceeds one half at 16 hours; the bench prints that table). Scored: precision, recall
   and F1 of inferred days (probability >= the settings' threshold) against the trivial rule
   "a zero-sales day is a stock-out", on two windows: the TUNE window (first 45 days) on which
   the defaults of ``InferenceSettings`` were chosen (``--tune`` re-runs that grid, scoring only
   tune-window days) and the CONFIRM window (the last 45 days), never used to choose anything.
2. Censored-demand handling. A seeded sample of ``--series`` series, last 14 days held out
   (as_of = 2024-06-11). The inference runs on the training days only; its stock-outs above the
   threshold become ``is_censored`` (censoring_flags) and the project's censoring code
   (``censoring.build_panel`` with ``censored_handling = "impute"``, unchanged) lifts them to
   the usual level. The same models are trained on raw sales (``"none"``) and, for reference,
   with the real stock-out hours (what a feed with inventory gets). Scored on held-out days
   without any stock-out hour (sales = demand): mean absolute per-series bias (mean over series
   of |mean daily forecast - actual|, units/day), signed bias and WAPE, as in
   bench/frn_censored_bench.py.

Acceptance (issue 18): inferred F1 > zero-sales F1 on the confirm window, and mean |series bias|
with inferred stock-outs < without handling. Prints the figures with the date and git commit.

Usage::

    .venv/bin/python bench/inferred_stockouts_bench.py [--series 1000] [--seed 0] [--tune]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

HOLDOUT = 14
TUNE_DAYS = 45
MODELS = ("seasonal_naive", "moving_average", "tsb", "auto_ets")



def coverage_table() -> pd.Series:
    """Median share of a day's sales (hourly profile) inside its stock-out hours, by hours."""
    h = pd.read_parquet(common.FRN / "hourly_sample.parquet")
    profile = h.groupby("hour")["hourly_sale"].sum()
    h["w"] = h["hour"].map(profile / profile.sum()) * h["hourly_stockout"]
    day = h.groupby(["store_id", "product_id", "dt"]).agg(
        hours=("hourly_stockout", "sum"), covered=("w", "sum"))
    return day.groupby("hours")["covered"].median()


def frn_lines(raw: pd.DataFrame) -> pd.DataFrame:
    """Daily rows as sales (sku, location, date, quantity) plus the withheld hours."""
    return pd.DataFrame({
        "date": pd.to_datetime(raw["dt"]).astype("datetime64[ns]"),
        "sku": "P" + raw["product_id"].astype(str),
        "location": "S" + raw["store_id"].astype(str),
        "quantity": raw["daily_sale"].astype(float),
        "hours": raw["stockout_hours"].astype(float),
    })


def hours_array(panel, lines: pd.DataFrame) -> np.ndarray:
    """Stock-out hours aligned with ``panel`` (NaN where the source has no row)."""
    key = pd.MultiIndex.from_frame(panel.keys)
    rows = key.get_indexer(pd.MultiIndex.from_arrays([lines["sku"], lines["location"]]))
    cols = (lines["date"] - panel.dates[0]).dt.days.to_numpy()
    ok = (rows >= 0) & (cols >= 0) & (cols < len(panel.dates))
    out = np.full(panel.values.shape, np.nan)
    out[rows[ok], cols[ok]] = lines["hours"].to_numpy()[ok]
    return out


def prf(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 of ``pred`` against ``truth`` on ``mask``."""
    tp = (pred & truth & mask).sum()
    p = tp / max((pred & mask).sum(), 1)
    r = tp / max((truth & mask).sum(), 1)
    return {"precision": p, "recall": r, "F1": 2 * p * r / (p + r) if p + r else 0.0}


def detection(raw: pd.DataFrame, truth_hours: float, tune: bool) -> pd.DataFrame:
    """Precision / recall / F1 of inferred days and of the zero-sales rule, per window."""
    from restock.customers.inferred_stockouts import (
        InferenceSettings,
        sales_panel,
        stockout_probability,
    )

    lines = frn_lines(raw)
    panel = sales_panel(lines)
    hours = hours_array(panel, lines)
    observed = ~np.isnan(panel.values)
    truth = np.nan_to_num(hours, nan=0.0) >= truth_hours
    early = (np.arange(len(panel.dates)) < TUNE_DAYS)[None, :] & observed
    late = (np.arange(len(panel.dates)) >= TUNE_DAYS)[None, :] & observed
    print(f"{len(panel.keys)} series x {len(panel.dates)} days; truth share "
          f"{truth[observed].mean():.1%}; tune window {panel.dates[0].date()} .. "
          f"{panel.dates[TUNE_DAYS - 1].date()}, confirm window "
          f"{panel.dates[TUNE_DAYS].date()} .. {panel.dates[-1].date()}")
    settings = InferenceSettings()
    if tune:
        print("\ntuning grid (F1 on TUNE-window days only):")
        best = (-1.0, settings)
        for d, o, on, pe, th in itertools.product((3, 5, 10), (0.05, 0.15, 0.3), (0.03, 0.1),
                                                  (0.6, 0.8), (0.5, 0.7, 0.85)):
            cand = replace(settings, dispersion=d, out_share=o, onset=on, persist=pe,
                           threshold=th)
            if th == 0.5:
                prob = stockout_probability(panel, cand)
            f1 = prf(prob >= th, truth, early)["F1"]
            if f1 > best[0]:
                best = (f1, cand)
                print(f"  F1 {f1:.4f}  dispersion={d} out_share={o} onset={on} persist={pe} "
                      f"threshold={th}", flush=True)
        settings = best[1]
    started = time.perf_counter()
    prob = stockout_probability(panel, settings)
    seconds = time.perf_counter() - started
    print(f"\nsettings: {settings}\ninference: {seconds:.1f} s for {panel.values.size:,} "
          "series-days")
    zero = observed & (panel.values == 0)
    rows = []
    for window, mask in (("tune (first 45 days)", early), ("CONFIRM (last 45 days)", late)):
        rows.append({"window": window, "rule": f"inferred (p >= {settings.threshold:.2f})",
                     **prf(prob >= settings.threshold, truth, mask)})
        rows.append({"window": window, "rule": "zero-sales day", **prf(zero, truth, mask)})
    return pd.DataFrame(rows).set_index(["window", "rule"])


def score(forecast: np.ndarray, actual: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """Bias and WAPE on the uncensored held-out days (as bench/frn_censored_bench.py)."""
    import warnings

    err = np.where(clean, forecast - actual, np.nan)
    total = np.nansum(np.where(clean, actual, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_series = np.nanmean(err, axis=1)
    return {"mean |series bias|": float(np.nanmean(np.abs(per_series))),
            "bias %": 100 * np.nansum(err) / total,
            "WAPE %": 100 * np.nansum(np.abs(err)) / total}


def handling(raw: pd.DataFrame, series: int, seed: int, n_jobs: int) -> pd.DataFrame:
    """Mean |series bias| on clean held-out days: inferred / known stock-outs / no handling."""
    from restock.customers.inferred_censoring import censoring_flags
    from restock.customers.inferred_stockouts import InferenceSettings, infer_stockouts
    from restock.forecasting.censoring import build_panel
    from restock.forecasting.fitting import forecast_panel
    from restock.forecasting.settings import ForecastSettings

    def fs(mode: str) -> ForecastSettings:
        return ForecastSettings(horizon=HOLDOUT, folds=2, step_days=HOLDOUT,
                                min_history_days=28, censored_handling=mode,
                                holiday_country=None, n_jobs=n_jobs)

    sample = common.frn_sample(raw, series, seed)
    demand, _ = common.frn_demand(sample)
    last = demand["date"].max()
    as_of = last - pd.Timedelta(days=HOLDOUT)
    train = demand[demand["date"] <= as_of]
    full = build_panel(demand, last, fs("none"))
    hold = slice(full.day_index(as_of) + 1, full.day_index(last) + 1)
    actual, clean = full.sales[:, hold], ~full.censored[:, hold]
    ids = full.series["series_id"].to_numpy()

    # stock-out hours withheld: no inventory, sales only, training days only
    blind = train.assign(is_censored=False, stockout_hours=np.nan)
    settings = InferenceSettings()
    stockouts = infer_stockouts(blind.rename(columns={"units_sold": "quantity"}), None, as_of,
                                days=None, settings=settings)
    inferred = censoring_flags(blind, stockouts, settings.threshold)
    share = inferred["is_censored"].mean()
    print(f"\n{len(ids)} series, as of {as_of.date()}, {HOLDOUT} days held out; "
          f"inferred censored share of training days {share:.1%} (real: "
          f"{train['is_censored'].mean():.1%} with any stock-out hour, "
          f"{(train['stockout_hours'] >= 16).mean():.1%} with >= 16 h); scored on "
          f"{int(clean.sum())} held-out days without stock-out hours")
    runs = {
        "no handling (raw sales)": (blind, "none"),
        "inferred stock-outs, impute": (inferred, "impute"),
        "known stock-out hours, impute (reference)": (train, "impute"),
    }
    rows = []
    for name, (frame, mode) in runs.items():
        panel = build_panel(frame, as_of, fs(mode))
        order = pd.Index(panel.series["series_id"]).get_indexer(ids)
        started = time.perf_counter()
        fc = forecast_panel(panel, np.arange(panel.n_series), panel.day_index(as_of),
                            list(MODELS), fs(mode), HOLDOUT)
        seconds = time.perf_counter() - started
        for model, arr in fc.items():
            rows.append({"model": model, "handling": name, **score(arr[order], actual, clean),
                         "seconds": seconds})
        mean_fc = np.mean([arr[order] for arr in fc.values()], axis=0)
        rows.append({"model": "mean of models", "handling": name,
                     **score(mean_fc, actual, clean), "seconds": seconds})
    return pd.DataFrame(rows).set_index(["model", "handling"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--truth-hours", type=float, default=16.0)
    parser.add_argument("--tune", action="store_true",
                        help="re-run the parameter grid on the tune window (first 45 days)")
    parser.add_argument("--no-handling", action="store_true", help="detection only")
    args = parser.parse_args()
    common.require(common.FRN)
    common.setup_logging(False)
    t0 = time.perf_counter()
    print(f"inferred stock-outs bench, {dt.date.today()}, commit {common.git_commit()}")
    cov = coverage_table()
    print("median share of the day's sales in stock-out hours (hourly_sample), by hours: "
          + ", ".join(f"{int(h)}h {v:.2f}" for h, v in cov.items() if h >= 12))
    raw = common.frn_raw()
    det = detection(raw, args.truth_hours, args.tune)
    print(f"\nstock-out day detection (truth: stockout_hours >= {args.truth_hours:g}):")
    print(det.round(3).to_string())
    conf = det.xs("CONFIRM (last 45 days)")["F1"]
    f1_ok = conf.iloc[0] > conf.iloc[1]
    print(f"confirm window: inferred F1 {conf.iloc[0]:.3f} vs zero-sales rule "
          f"{conf.iloc[1]:.3f} -> {'PASS' if f1_ok else 'FAIL'}")
    if not args.no_handling:
        table = handling(raw, args.series, args.seed, args.n_jobs)
        print()
        print(table.round(4).to_string())
        bias = table["mean |series bias|"].unstack("handling")
        print("\nmean |series bias| (units/day) by model:")
        print(bias.round(4).to_string())
        m = bias.loc["mean of models"]
        ok = m["inferred stock-outs, impute"] < m["no handling (raw sales)"]
        wins = (bias["inferred stock-outs, impute"] < bias["no handling (raw sales)"]).sum()
        print(f"mean of models: inferred {m['inferred stock-outs, impute']:.4f} vs no handling "
              f"{m['no handling (raw sales)']:.4f} -> {'PASS' if ok else 'FAIL'}; smaller for "
              f"{wins} of {len(bias)} rows")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
