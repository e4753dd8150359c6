"""Cost of Restock's sktime forecasting path against bare statsforecast, on real M5 series.

What it measures
----------------
N seeded M5 CA_1 items (default 500), the last ``--days`` days (default 814 = 730 days of
training before the first of 3 folds + 3 x 28) up to 2016-04-24; models seasonal naive,
AutoETS, CrostonSBA, AutoTheta (season 7); h = 28; 3 rolling folds 28 days apart.

(a) pipeline: ``restock.forecasting.fitting.forecast_panel`` per fold, i.e. the sktime
    ``StatsForecastPanel`` forecasters the backtest uses (cheap models in process, costly ones
    with ``n_jobs`` processes), fitted on all history before each cutoff;
(b) bare: ``statsforecast.StatsForecast.cross_validation`` with the same models (built by
    ``models.statsforecast_model``, so the same ETS / Theta model spaces), fallback and
    ``n_jobs``.

(c) unless ``--no-global``: fit + predict time of ``LightGBMGlobalForecaster`` (one model over
    all N series, 730 days, exogenous features from ``build_exogenous``), and its MAE on the
    last fold.

Printed: wall and CPU seconds (CPU includes worker processes), ms per series x model x fold,
the ratio pipeline / bare (target <= 1.5), and the MAE of each model from both paths (the
same forecasts should come out). Exits 0.

Usage::

    .venv/bin/python bench/forecast_bench.py [--series 500] [--n-jobs 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

MODELS = ("seasonal_naive", "auto_ets", "croston_sba", "auto_theta")
AS_OF = pd.Timestamp("2016-04-24")
H = 28
FOLDS = 3


def _cpu() -> float:
    """CPU seconds of this process and its finished children (statsforecast's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _settings(n_jobs: int):
    from restock.forecasting.settings import ForecastSettings

    # one long window for every model so both paths fit on exactly the same history
    return ForecastSettings(
        horizon=H, folds=FOLDS, step_days=H, n_jobs=n_jobs, train_window_days=100_000,
        costly_window_days=100_000, censored_handling="none", candidates=list(MODELS),
    )


def run_pipeline(panel, settings) -> tuple[dict[str, np.ndarray], float, float]:
    """Forecasts (series x folds x h) per model via the pipeline's backtest helper."""
    from restock.forecasting.fitting import forecast_panel
    from restock.forecasting.folds import backtest_cutoffs

    cutoffs = backtest_cutoffs(panel.dates, settings)
    rows = np.arange(panel.n_series)
    out = {m: np.full((panel.n_series, len(cutoffs), H), np.nan) for m in MODELS}
    wall, cpu = time.perf_counter(), _cpu()
    for f, cutoff in enumerate(cutoffs):
        fc = forecast_panel(panel, rows, panel.day_index(cutoff), list(MODELS), settings, H)
        for m in MODELS:
            out[m][:, f] = fc[m]
    return out, time.perf_counter() - wall, _cpu() - cpu


def run_bare(panel, settings) -> tuple[dict[str, np.ndarray], float, float]:
    """Forecasts (series x folds x h) per model via StatsForecast.cross_validation."""
    from statsforecast import StatsForecast
    from statsforecast.models import WindowAverage

    from restock.forecasting.panel import statsforecast_model

    first = panel.series["first_day"].to_numpy()
    lengths = panel.target.shape[1] - first
    rows = np.repeat(np.arange(panel.n_series), lengths)
    cols = np.concatenate([np.arange(f, panel.target.shape[1]) for f in first])
    long = pd.DataFrame(
        {"unique_id": panel.series["series_id"].to_numpy()[rows], "ds": panel.dates[cols],
         "y": panel.target[rows, cols]}
    )
    # the very model objects (and model spaces, e.g. ETS "ZNZ") the pipeline configures
    sf = StatsForecast(
        models=[statsforecast_model(m, settings) for m in MODELS],
        freq="D",
        n_jobs=settings.n_jobs,
        fallback_model=WindowAverage(window_size=settings.moving_average_window),
    )
    wall, cpu = time.perf_counter(), _cpu()
    cv = sf.cross_validation(h=H, df=long, n_windows=FOLDS, step_size=H)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    cv = cv.reset_index() if "unique_id" not in cv.columns else cv
    ids = pd.Index(panel.series["series_id"].to_numpy())
    pos = ids.get_indexer(cv["unique_id"])
    cutoffs = np.sort(cv["cutoff"].unique())
    fold = np.searchsorted(cutoffs, cv["cutoff"].to_numpy())
    step = (pd.DatetimeIndex(cv["ds"]) - pd.DatetimeIndex(cv["cutoff"])).days.to_numpy() - 1
    out = {}
    for m in MODELS:
        arr = np.full((panel.n_series, FOLDS, H), np.nan)
        arr[pos, fold, step] = np.clip(cv[m].to_numpy(dtype=float), 0.0, None)
        out[m] = arr
    return out, wall, cpu


def run_global(panel, demand: pd.DataFrame, settings) -> dict[str, float]:
    """Time the global LightGBM model on the panel's last fold (fit on 730 days, predict H)."""
    from sktime.forecasting.base import ForecastingHorizon

    from restock.forecasting.features import build_exogenous
    from restock.forecasting.folds import backtest_cutoffs
    from restock.forecasting.global_model import LightGBMGlobalForecaster
    from restock.forecasting.models import wide_to_panel

    cutoff = backtest_cutoffs(panel.dates, settings)[-1]
    end = panel.day_index(cutoff)
    first = panel.series["first_day"].to_numpy()
    ids = panel.series["series_id"].to_numpy()
    y = wide_to_panel(ids, panel.target[:, : end + 1], panel.dates[: end + 1],
                      np.maximum(first, end + 1 - 730))
    future = pd.MultiIndex.from_product(
        [ids, pd.date_range(cutoff + pd.Timedelta(days=1), periods=H)], names=["series_id", "date"]
    )
    known = demand[demand["date"] <= cutoff]
    events, drivers = common.m5_events(), common.m5_drivers()
    wall, cpu = time.perf_counter(), _cpu()
    x_fit = build_exogenous(y.index, known, None, events, drivers, None, settings)
    x_future = build_exogenous(future, known, None, events, drivers, None, settings)
    t_exog = time.perf_counter() - wall
    model = LightGBMGlobalForecaster.from_settings(settings)
    fh = ForecastingHorizon(np.arange(1, H + 1), is_relative=True)
    t_fit = time.perf_counter()
    model.fit(y, X=x_fit, fh=fh)
    t_fit = time.perf_counter() - t_fit
    t_pred = time.perf_counter()
    pred = model.predict(fh, X=x_future)["demand"].to_numpy().reshape(len(ids), H)
    t_pred = time.perf_counter() - t_pred
    actual = panel.target[:, end + 1 : end + 1 + H]
    return {"rows": len(y), "exog_s": t_exog, "fit_s": t_fit, "predict_s": t_pred,
            "cpu_s": _cpu() - cpu, "mae": float(np.nanmean(np.abs(pred - actual)))}


def _actuals(panel) -> np.ndarray:
    from restock.forecasting.folds import backtest_cutoffs

    cutoffs = backtest_cutoffs(panel.dates, _settings(1))
    return np.stack(
        [panel.target[:, panel.day_index(c) + 1 : panel.day_index(c) + 1 + H] for c in cutoffs],
        axis=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=730 + FOLDS * H)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each path; min is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-global", action="store_true", help="skip the LightGBM timing")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.require(common.M5)
    common.setup_logging(args.verbose)

    from restock.forecasting.censoring import build_panel

    settings = _settings(args.n_jobs)
    items, units = common.m5_wide(args.series, seed=args.seed)
    demand = common.m5_demand(items, units, AS_OF, with_prices=not args.no_global)
    demand = demand[demand["date"] > AS_OF - pd.Timedelta(days=args.days)]
    panel = build_panel(demand, AS_OF, settings)
    # statsforecast's cross_validation refuses series shorter than the folds: keep those with
    # the backtest's minimum history before the first cutoff (both paths get the same series)
    long_enough = panel.series["first_day"].to_numpy() <= (
        panel.target.shape[1] - FOLDS * H - settings.min_history_days
    )
    if not long_enough.all():
        print(f"{int((~long_enough).sum())} series with too short a history left out")
        panel = panel.subset(np.flatnonzero(long_enough))
    n = panel.n_series
    print(f"M5 CA_1: {n} series, {panel.target.shape[1]} days up to {AS_OF.date()}, "
          f"models {', '.join(MODELS)}, h={H}, {FOLDS} folds, n_jobs={args.n_jobs}")

    best = {"pipeline": (np.inf, np.inf), "bare": (np.inf, np.inf)}
    fcs = {}
    for _ in range(args.repeats):
        for name, fn in (("bare", run_bare), ("pipeline", run_pipeline)):
            fc, wall, cpu = fn(panel, settings)
            fcs[name] = fc
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))

    units_of_work = n * len(MODELS) * FOLDS
    print(f"\n{'path':<10}{'wall s':>9}{'CPU s':>9}{'wall ms/series/model/fold':>28}"
          f"{'CPU ms/s/m/f':>14}")
    for name in ("pipeline", "bare"):
        wall, cpu = best[name]
        print(f"{name:<10}{wall:>9.1f}{cpu:>9.1f}{1000 * wall / units_of_work:>28.2f}"
              f"{1000 * cpu / units_of_work:>14.2f}")
    ratio_wall = best["pipeline"][0] / best["bare"][0]
    ratio_cpu = best["pipeline"][1] / best["bare"][1]
    print(f"ratio pipeline / bare: wall {ratio_wall:.2f}x, CPU {ratio_cpu:.2f}x (target <= 1.5x)")

    actual = _actuals(panel)
    print(f"\n{'model':<16}{'MAE pipeline':>14}{'MAE bare':>12}{'max |diff|':>12}")
    for m in MODELS:
        a, b = fcs["pipeline"][m], fcs["bare"][m]
        mae_a, mae_b = np.nanmean(np.abs(a - actual)), np.nanmean(np.abs(b - actual))
        print(f"{m:<16}{mae_a:>14.4f}{mae_b:>12.4f}{np.nanmax(np.abs(a - b)):>12.2e}")

    if not args.no_global:
        g = run_global(panel, demand, settings)
        print(f"\nlightgbm_global on {n} series ({g['rows']} rows, 730 days, last fold): "
              f"exogenous {g['exog_s']:.1f} s, fit {g['fit_s']:.1f} s, predict {g['predict_s']:.1f}"
              f" s wall, {g['cpu_s']:.1f} s CPU; MAE {g['mae']:.4f}")


if __name__ == "__main__":
    main()
