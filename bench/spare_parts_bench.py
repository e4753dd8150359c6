"""Weekly demand (MAN spare parts): Restock at weekly grain against naive, averages, Croston.

What it measures
----------------
Any feed (``--feed``): a daily one (M5, UCI Online Retail imports) is first summed into weeks
starting on Monday per sku and location (a last week the data do not reach the Sunday of is
left out), so the same comparison checks a weekly-grain rule on a second kind of data. By
default the MAN feed (``restock import spare-parts ../shared/data/spare_parts --out DIR``: 3,451
parts, weekly totals dated on each week's Monday, ``feed.yml`` says ``grain: week``). The last
``--holdout`` weeks (13) are held out; as_of is the Monday of the last history week (its total
is known). Restock is ``run_forecasting`` with the default ``ForecastSettings`` and
``horizon = 7 x holdout`` days: it detects the weekly grain, forecasts weekly and spreads the
weeks to days (restock/forecasting/periods.py); the bench sums the days back into weeks (days
1-7 after as_of are the first held-out week, and so on), so the score is at weekly grain.

Side by side, on the same weekly history and held-out weeks: naive (the last week repeated),
the moving average of the last ``--ma-weeks`` weeks (13) and of 52 weeks, and Croston SBA
(statsforecast ``CrostonSBA`` per part), all fitted on every week of the data (MAN lists every
part for every week, so the weeks before a part's first demand are real zeros; Croston started
at a late first demand repeats that one demand every week).

Printed per method: mean RMSSE over the parts (scale: mean squared one-step naive error of the
part's weekly history from its first demand, as in M5; parts without demand before as_of or
with a zero scale are left out and counted), median RMSSE, and the total bias
sum(forecast - actual) / sum(actual) over all parts and held-out weeks. Acceptance (issue 15):
Restock's total bias within +-15 % and its mean RMSSE below naive, moving average and Croston
SBA. The date and the commit are printed first.

Usage::

    .venv/bin/python bench/spare_parts_bench.py [--feed DIR] [--holdout 13] [--ma-weeks 13]

Without ``--feed`` the importer writes the feed to a temporary folder first (about a minute).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

from restock.forecasting.metrics import one_step_naive_scale as rmsse_scale  # noqa: E402
from restock.forecasting.metrics import rmsse  # noqa: E402

SPARE_PARTS = common.DATA / "spare_parts"


def load_feed(feed: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(weekly wide table series x weeks, series: sku, location, category) from a feed.

    A weekly feed (``grain: week``, the spare-parts import) is read as it is. A daily feed (M5,
    UCI Online Retail: ``--feed`` of any import) is summed into weeks starting on Monday, and a
    last week the data do not cover to its Sunday is left out, so every week is complete.
    """
    from restock.grain import read_feed_grain

    path = feed / "sales.parquet"
    sales = (pd.read_parquet(path, columns=["date", "sku", "location", "quantity"])
             if path.is_file() else pd.read_csv(feed / "sales.csv", dtype={"sku": str}))
    products = pd.read_csv(feed / "products.csv", dtype={"sku": str})
    sales["sku"] = sales["sku"].astype(str)
    sales["date"] = pd.to_datetime(sales["date"]).dt.normalize()
    if read_feed_grain(feed) != "week":
        last = sales["date"].max()
        sales["date"] = sales["date"] - pd.to_timedelta(sales["date"].dt.weekday, unit="D")
        if last.weekday() != 6:
            sales = sales[sales["date"] < last - pd.Timedelta(days=last.weekday())]
    sales["key"] = sales["sku"] + "|" + sales["location"].astype(str)
    weeks = pd.date_range(sales["date"].min(), sales["date"].max(), freq="7D")
    wide = (sales.pivot_table(index="key", columns="date", values="quantity", aggfunc="sum")
            .reindex(columns=weeks).fillna(0.0).clip(lower=0.0))
    series = sales.drop_duplicates("key").set_index("key").loc[wide.index, ["sku", "location"]]
    category = products.drop_duplicates("sku").set_index("sku")["category"]
    series["category"] = series["sku"].map(category).fillna("UNKNOWN")
    return wide, series


def croston_sba(history: np.ndarray, h: int) -> np.ndarray:
    from statsforecast import StatsForecast
    from statsforecast.models import CrostonSBA

    n, t = history.shape
    rows = np.repeat(np.arange(n), t)  # every part from the first week: MAN lists all parts
    cols = np.tile(np.arange(t), n)  # for all weeks, so zeros before a first sale are real
    ds = pd.date_range("2000-01-03", periods=t, freq="W-MON")
    long = pd.DataFrame({"unique_id": rows, "ds": ds[cols], "y": history[rows, cols]})
    out = StatsForecast(models=[CrostonSBA()], freq="W-MON", n_jobs=1).forecast(h=h, df=long)
    out = out.reset_index() if "unique_id" not in out.columns else out
    arr = np.zeros((n, h))
    step = ((pd.DatetimeIndex(out["ds"]) - ds[-1]).days.to_numpy() // 7) - 1
    arr[out["unique_id"].to_numpy(dtype=int), step] = out["CrostonSBA"].to_numpy(dtype=float)
    return arr


def restock_weekly(wide: pd.DataFrame, series: pd.DataFrame, n_hist: int, h: int,
                   verbose: bool, all_weeks: bool = False, overrides: dict | None = None
                   ) -> tuple[np.ndarray, float, pd.Series, list[str]]:
    from restock.forecasting import ForecastSettings, run_forecasting

    weeks = wide.columns[:n_hist]
    as_of = weeks[-1]
    long = wide.iloc[:, :n_hist].stack().rename("units_sold").reset_index()
    long.columns = ["key", "date", "units_sold"]
    if not all_weeks:
        long = long[long["units_sold"] > 0]  # the feed's rows: weeks with demand
    meta = series.loc[long["key"]]
    demand = pd.DataFrame({"sku": meta["sku"].to_numpy(), "location": meta["location"].to_numpy(),
                           "category": meta["category"].to_numpy(),
                           "date": long["date"].to_numpy(), "units_sold": long["units_sold"]})
    started = time.perf_counter()
    result = run_forecasting(demand, as_of, ForecastSettings(horizon=7 * h, **(overrides or {})))
    seconds = time.perf_counter() - started
    fc = result.demand_forecasts
    day = (pd.DatetimeIndex(fc["date"]) - as_of).days.to_numpy()
    fc = fc.assign(week=(day - 1) // 7,
                   key=fc["sku"].astype(str) + "|" + fc["location"].astype(str))
    weekly = fc.pivot_table(index="key", columns="week", values="forecast", aggfunc="sum")
    weekly = weekly.reindex(index=wide.index, columns=range(h)).fillna(0.0)
    if verbose:
        print(result.model_selection[["category", "demand_class", "selected_model", "score",
                                      "naive_score"]].to_string())
    models = result.series_assignments["model"].value_counts()
    return weekly.to_numpy(dtype=float), seconds, models, result.adaptations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, default=None, help="an imported MAN feed")
    parser.add_argument("--holdout", type=int, default=13, help="weeks held out")
    parser.add_argument("--ma-weeks", type=int, default=13)
    parser.add_argument("--drop-last", type=int, default=0,
                        help="leave out the data's last N weeks first (an earlier origin)")
    parser.add_argument("--all-weeks", action="store_true",
                        help="give Restock every part's zero weeks from the data's first week "
                        "(the feed holds only weeks with demand: a series starts at its first)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a forecast setting for Restock's run (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.setup_logging(args.verbose)
    print(f"spare_parts_bench {datetime.now().isoformat(timespec='seconds')} "
          f"commit {common.git_commit()}")
    t0 = time.perf_counter()
    feed = args.feed
    tmp = None
    if feed is None:
        common.require(SPARE_PARTS)
        tmp = tempfile.TemporaryDirectory()
        feed = Path(tmp.name) / "man"
        from restock.importers.spare_parts import import_spare_parts

        import_spare_parts(SPARE_PARTS, feed)
    wide, series = load_feed(feed)
    if args.drop_last:
        wide = wide.iloc[:, : wide.shape[1] - args.drop_last]
    h = args.holdout
    n_hist = wide.shape[1] - h
    values = wide.to_numpy(dtype=float)
    history, actual = values[:, :n_hist], values[:, n_hist:]
    scale = rmsse_scale(history)
    scored = np.isfinite(scale) & (scale > 0)
    print(f"{feed}: {len(wide)} series, {wide.shape[1]} weeks; "
          f"as of {wide.columns[n_hist - 1].date()}"
          f" ({n_hist} weeks of history), {h} weeks held out "
          f"({wide.columns[n_hist].date()}..{wide.columns[-1].date()}); "
          f"{int((~scored).sum())} series without an RMSSE scale left out")

    results: dict[str, tuple[np.ndarray, float]] = {}
    results["naive (last week)"] = (np.repeat(history[:, -1:], h, axis=1), 0.0)
    results[f"moving average {args.ma_weeks} w"] = (
        np.repeat(history[:, -args.ma_weeks:].mean(axis=1, keepdims=True), h, axis=1), 0.0)
    results["moving average 52 w"] = (
        np.repeat(history[:, -52:].mean(axis=1, keepdims=True), h, axis=1), 0.0)
    started = time.perf_counter()
    results["Croston SBA"] = (croston_sba(history, h), time.perf_counter() - started)
    fc, seconds, models, adaptations = restock_weekly(wide, series, n_hist, h, args.verbose,
                                                      args.all_weeks,
                                                      common.parse_settings(args.set))
    results["restock (run_forecasting)"] = (fc, seconds)

    print(f"\n{'method':<28}{'mean RMSSE':>11}{'median':>9}{'bias':>9}{'seconds':>9}")
    for name, (f, sec) in results.items():
        r = rmsse(actual[scored], f[scored], scale[scored])
        bias = (f - actual).sum() / actual.sum()
        print(f"{name:<28}{r.mean():>11.4f}{np.median(r):>9.4f}{bias:>+9.1%}{sec:>9.1f}")
    print("\nrestock models (parts):", ", ".join(f"{k} {v}" for k, v in models.items()))
    print("restock adaptations:", "; ".join(adaptations))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
