"""Are Restock's quantiles sharper than simple baselines? Scored on held-out days of a real feed.

What it measures
----------------
A run of Restock as of ``--as-of`` on ``FEED`` (``restock run``; or an existing warehouse with
``--warehouse W --reuse``) publishes daily quantiles (``marts.demand_forecasts``: p50, p90, p95,
p99) and keeps in its work DB the cumulative quantiles the policy reads
(``results.cumulative_demand_quantiles``) at ``k = lead_time_days + review_days`` of each
reorder line. Both are scored on the ``--horizon`` days after as_of against the feed's own
sales, side by side on the same series and days with three baselines:

(a) ``empirical_56``: each series' empirical quantiles of its last 56 days (daily), and of its
    rolling k-day sums over the last 56 days (cumulative);
(b) ``auto_ets``: statsforecast AutoETS (season 7, last ``--ets-window`` days) with its own
    prediction intervals (p90 = upper end of the 80% interval, p95 of 90%, p99 of 98%); the
    cumulative quantile is normal with the summed mean and the root of the summed per-day
    variances read from the intervals (statsforecast gives no interval of a total);
(c) ``negbin_28``: a negative binomial (Poisson when not over-dispersed) with each series' mean
    and variance of its last 28 days; cumulative: mean and variance times k.

Scores
------
- Scaled pinball loss: pinball loss divided by the series' scale, the mean absolute one-step
  difference of its history from its first sale up to as_of (series without a scale are left
  out and counted); a cumulative quantile's loss is divided by ``scale * k``. Averaged over
  series, unweighted and weighted by each series' units sold in the 28 days before as_of.
- Coverage: share of (series, day) with actual <= the quantile.
- Point accuracy of the mean forecast: mean RMSSE (M5's scale: mean squared one-step
  difference) against AutoETS and the 28-day moving average.
Ratios (Restock / baseline) are printed for every level; the acceptance of issue 14 reads
them. Censored days are scored like any other (the feed's sales are the truth here).

Usage::

    .venv/bin/python bench/quantile_bench.py FEED --as-of 2016-04-24 --horizon 28 \
        [--warehouse DIR/restock.duckdb] [--reuse] [--config C] [--ets-window 730] [--no-ets]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

LEVELS = (0.5, 0.9, 0.95, 0.99)
TAIL = (0.9, 0.95, 0.99)


def sales_source(feed: Path) -> str:
    """A DuckDB table expression over the feed's sales (csv, parquet or a folder of parts)."""
    for name in ("sales.parquet", "sales.csv"):
        if (feed / name).exists():
            path = feed / name
            break
    else:
        folder = feed / "sales"
        parts = sorted(folder.glob("*.parquet")) or sorted(folder.glob("*.csv"))
        if not parts:
            sys.exit(f"no sales table in {feed}")
        path = folder / ("*" + parts[0].suffix)
    text = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{text}')"
    return f"read_csv('{text}', header=true)"


def daily_sales(feed: Path, series: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Units sold per series and day up to ``end`` (returns are not demand: negatives ignored)."""
    con = duckdb.connect()
    con.register("wanted", series[["sku", "location"]])
    frame = con.execute(
        f"""
        select cast(s.sku as varchar) as sku, cast(s.location as varchar) as location,
               cast(s.date as date) as date, sum(greatest(s.quantity, 0)) as units
        from {sales_source(feed)} s
        join wanted w on cast(s.sku as varchar) = w.sku and cast(s.location as varchar) = w.location
        where cast(s.date as date) <= cast(? as date)
        group by 1, 2, 3
        """, [end.date()]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def dense(sales: pd.DataFrame, series: pd.DataFrame, start: pd.Timestamp,
          end: pd.Timestamp) -> np.ndarray:
    """Series x days array of units from ``start`` to ``end`` (zeros where nothing sold)."""
    days = pd.date_range(start, end, freq="D")
    index = pd.MultiIndex.from_frame(series[["sku", "location"]])
    wide = (sales.set_index(["sku", "location", "date"])["units"]
            .unstack("date").reindex(index=index, columns=days).fillna(0.0))
    return wide.to_numpy(dtype=float)


def pinball(actual: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss of ``quantile`` at ``level`` (elementwise)."""
    diff = actual - quantile
    return np.maximum(level * diff, (level - 1.0) * diff)


def scales(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean |one-step difference|, mean squared one-step difference) from each first sale."""
    mae = np.full(len(history), np.nan)
    mse = np.full(len(history), np.nan)
    for i, row in enumerate(history):
        sold = np.flatnonzero(row > 0)
        if len(sold) == 0 or len(row) - sold[0] < 2:
            continue
        d = np.diff(row[sold[0]:])
        mae[i], mse[i] = np.mean(np.abs(d)), np.mean(d ** 2)
    return mae, mse


def negbin_quantiles(mean: np.ndarray, var: np.ndarray, levels) -> np.ndarray:
    """Negative-binomial quantiles (Poisson where var <= mean); rows x levels."""
    from scipy import stats

    mean = np.maximum(mean, 1e-9)
    out = np.zeros((len(mean), len(levels)))
    over = var > mean * (1 + 1e-9)
    r = np.where(over, mean ** 2 / np.maximum(var - mean, 1e-12), 1.0)
    p = np.where(over, r / (r + mean), 0.5)
    for j, q in enumerate(levels):
        nb = stats.nbinom.ppf(q, r, p)
        po = stats.poisson.ppf(q, mean)
        out[:, j] = np.where(over, nb, po)
    return np.nan_to_num(out)


def auto_ets(history: np.ndarray, horizon: int, window: int) -> dict[str, np.ndarray]:
    """AutoETS mean and interval bounds per series (statsforecast, season 7)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    h = history[:, -window:]
    n = h.shape[1]
    frame = pd.DataFrame({
        "unique_id": np.repeat(np.arange(len(h)), n),
        "ds": np.tile(np.arange(n), len(h)),
        "y": h.ravel(),
    })
    sf = StatsForecast(models=[AutoETS(season_length=7)], freq=1, n_jobs=2)
    fc = sf.forecast(df=frame, h=horizon, level=[80, 90, 98])
    fc = fc.sort_values(["unique_id", "ds"])

    def col(name: str) -> np.ndarray:
        return np.maximum(fc[name].to_numpy().reshape(len(h), horizon), 0.0)

    return {"mean": col("AutoETS"), "p90": col("AutoETS-hi-80"), "p95": col("AutoETS-hi-90"),
            "p99": col("AutoETS-hi-98"),
            "sd": np.maximum(fc["AutoETS-hi-80"].to_numpy() - fc["AutoETS"].to_numpy(), 0.0)
            .reshape(len(h), horizon) / 1.2815515655446004}


def run_restock(feed: Path, warehouse: Path, as_of: str, config: Path | None) -> float:
    """``restock run`` on the feed as of the date; returns its wall seconds."""
    restock = Path(sys.executable).parent / "restock"
    cmd = [str(restock), "run", "--feed", str(feed), "--warehouse", str(warehouse),
           "--as-of", as_of]
    if config:
        cmd += ["--config", str(config)]
    started = time.perf_counter()
    print("running:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        sys.exit(f"restock run failed ({done.returncode})")
    return time.perf_counter() - started


def score(actual: np.ndarray, quantiles: dict[float, np.ndarray], scale: np.ndarray,
          weight: np.ndarray) -> dict[float, tuple[float, float, float]]:
    """Per level: (scaled pinball unweighted, weighted by units, coverage, strict coverage).

    Strict coverage is the share with actual < quantile. For whole-unit demand an integer
    quantile's coverage jumps by the probability of that integer, so a calibrated forecast has
    strict coverage <= level <= coverage; both are printed (the bracket).
    """
    out = {}
    for level, q in quantiles.items():
        per_series = pinball(actual, q, level).reshape(len(actual), -1).mean(axis=1) / scale
        cover = float(np.mean(actual <= q + 1e-9))
        strict = float(np.mean(actual < q - 1e-9))
        out[level] = (float(np.mean(per_series)),
                      float(np.sum(per_series * weight) / max(np.sum(weight), 1e-12)), cover,
                      strict)
    return out


def print_scores(title: str, results: dict[str, dict], n: int) -> None:
    """A table of every method's scores and Restock's ratios to each baseline."""
    print(f"\n{title} ({n:,} series)")
    print(f"{'method':<14}" + "".join(f"{'SPL p' + str(int(lv * 100)):>11}{'wSPL':>9}{'cov':>7}"
                                      for lv in LEVELS))
    for name, res in results.items():
        print(f"{name:<14}" + "".join(
            f"{res[lv][0]:>11.4f}{res[lv][1]:>9.4f}{res[lv][2]:>7.3f}" if lv in res else " " * 27
            for lv in LEVELS))
    print("coverage bracket, P(actual < q) .. P(actual <= q): a calibrated forecast of whole "
          "units holds the level inside it")
    for name, res in results.items():
        print(f"{name:<14}" + "".join(f"  p{int(lv * 100)} {res[lv][3]:.3f}..{res[lv][2]:.3f}"
                                      for lv in LEVELS if lv in res))
    mine = results["restock"]
    for name, res in results.items():
        if name == "restock":
            continue
        print(f"restock/{name:<14}" + "".join(
            f"  p{int(lv * 100)} {mine[lv][0] / res[lv][0]:.3f} (w {mine[lv][1] / res[lv][1]:.3f})"
            for lv in LEVELS if lv in res and lv in mine and res[lv][0] > 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("feed", type=Path)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="warehouse file (default: a folder under /tmp)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the run already in --warehouse (its as_of must match)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--ets-window", type=int, default=730)
    parser.add_argument("--no-ets", action="store_true")
    args = parser.parse_args()
    feed = args.feed.resolve()
    as_of = pd.Timestamp(args.as_of)
    end = as_of + pd.Timedelta(days=args.horizon)
    warehouse = (args.warehouse or Path(f"/tmp/quantile_bench_{feed.name}_{args.as_of}")
                 / "restock.duckdb").absolute()  # not resolve(): a link into a version folder
    print(f"quantile bench: {feed} as of {args.as_of}, horizon {args.horizon}; "
          f"{dt.date.today()} at commit {common.git_commit()}")
    if not args.reuse:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        print(f"restock run: {run_restock(feed, warehouse, args.as_of, args.config):.0f} s")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run_as_of = con.execute("select max(as_of) from marts.demand_forecasts").fetchone()[0]
        if pd.Timestamp(run_as_of) != as_of:
            sys.exit(f"{warehouse} holds a run as of {run_as_of}, not {args.as_of}")
        forecasts = con.execute(
            "select sku, location, date, forecast, p50, p90, p95, p99 from marts.demand_forecasts"
            " where date > cast(? as date) and date <= cast(? as date)",
            [as_of.date(), end.date()]).df()
        lines = con.execute("select sku, location, lead_time_days, review_days "
                            "from marts.reorder_recommendations").df()
    work = warehouse.parent / f"{warehouse.stem}.work.duckdb"
    with duckdb.connect(str(work), read_only=True) as con:
        cumulative = con.execute(
            "select sku, location, horizon_days, level, quantity "
            "from results.cumulative_demand_quantiles").df()
    forecasts["date"] = pd.to_datetime(forecasts["date"])
    series = forecasts[["sku", "location"]].drop_duplicates().sort_values(["sku", "location"])
    series = series.reset_index(drop=True)
    days = pd.date_range(as_of + pd.Timedelta(days=1), end, freq="D")
    full = forecasts.set_index(["sku", "location", "date"])
    idx = pd.MultiIndex.from_frame(series)

    def wide(column: str) -> np.ndarray:
        return (full[column].unstack("date").reindex(index=idx, columns=days)
                .to_numpy(dtype=float))

    restock_daily = {lv: wide(f"p{int(lv * 100)}") for lv in LEVELS}
    restock_mean = wide("forecast")
    if np.isnan(restock_mean).any():
        sys.exit("the run's forecasts do not cover every held-out day: lower --horizon")

    sales = daily_sales(feed, series, end)
    start = sales["date"].min()
    history = dense(sales[sales["date"] <= as_of], series, start, as_of)
    actual = dense(sales[sales["date"] > as_of], series, days[0], end)
    mae_scale, mse_scale = scales(history)
    weight = history[:, -28:].sum(axis=1)
    ok = np.isfinite(mae_scale) & (mae_scale > 0)
    print(f"series: {len(series):,} forecast; {int((~ok).sum()):,} left out (no sale or no "
          f"scale before as_of); held-out units {actual[ok].sum():,.0f}")

    last56 = history[:, -56:]
    last28 = history[:, -28:]
    empirical = {lv: np.repeat(np.quantile(last56, lv, axis=1, method="inverted_cdf")[:, None],
                               len(days), axis=1) for lv in LEVELS}
    nb = negbin_quantiles(last28.mean(axis=1), last28.var(axis=1, ddof=1), LEVELS)
    negbin = {lv: np.repeat(nb[:, [j]], len(days), axis=1) for j, lv in enumerate(LEVELS)}
    methods = {"restock": restock_daily, "empirical_56": empirical, "negbin_28": negbin}
    ets = None
    if not args.no_ets:
        started = time.perf_counter()
        ets = auto_ets(history, len(days), args.ets_window)
        print(f"AutoETS fitted on {len(series):,} series in {time.perf_counter() - started:.0f} s")
        methods["auto_ets"] = {0.5: ets["mean"], 0.9: ets["p90"], 0.95: ets["p95"],
                               0.99: ets["p99"]}

    daily = {name: score(actual[ok], {lv: q[ok] for lv, q in qs.items()}, mae_scale[ok],
                         weight[ok]) for name, qs in methods.items()}
    print_scores("Daily quantiles, scaled pinball loss (SPL), weighted by 28-day units (wSPL), "
                 "coverage", daily, int(ok.sum()))

    # Point accuracy of the mean.
    def mean_rmsse(point: np.ndarray) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.sqrt(np.mean((actual - point) ** 2, axis=1) / mse_scale)
        return float(np.nanmean(r[ok]))

    points = {"restock": restock_mean,
              "moving_avg_28": np.repeat(last28.mean(axis=1)[:, None], len(days), axis=1)}
    if ets is not None:
        points["auto_ets"] = ets["mean"]
    print("\nPoint forecasts, mean RMSSE: " + ", ".join(
        f"{name} {mean_rmsse(p):.4f}" for name, p in points.items()))

    # Cumulative quantiles over lead time + review, as the policy reads them.
    k_of = (lines.assign(k=lambda f: (f["lead_time_days"] + f["review_days"]).round().astype(int))
            .set_index(["sku", "location"])["k"].reindex(idx).to_numpy())
    have_k = np.isfinite(k_of.astype(float)) & (k_of >= 1) & (k_of <= len(days))
    k = np.where(have_k, k_of, 1).astype(int)
    cum_actual = np.array([actual[i, :k[i]].sum() for i in range(len(series))])
    cq = cumulative[cumulative["level"].isin(TAIL)]
    cq = cq.set_index(["sku", "location", "horizon_days", "level"])["quantity"]
    keys = pd.MultiIndex.from_arrays([series["sku"], series["location"], k])
    restock_cum = {lv: cq.xs(lv, level="level").reindex(keys).to_numpy(dtype=float)
                   for lv in TAIL if lv in set(cumulative["level"].round(6))}
    cum_methods: dict[str, dict[float, np.ndarray]] = {"restock": restock_cum}
    rolling = {}
    for lv in TAIL:
        vals = np.full(len(series), np.nan)
        for i in range(len(series)):
            window = last56[i]
            if k[i] <= len(window):
                sums = np.convolve(window, np.ones(k[i]), mode="valid")
                vals[i] = np.quantile(sums, lv, method="inverted_cdf")
        rolling[lv] = vals
    cum_methods["empirical_56"] = rolling
    nbk = negbin_quantiles(last28.mean(axis=1) * k, last28.var(axis=1, ddof=1) * k, TAIL)
    cum_methods["negbin_28"] = {lv: nbk[:, j] for j, lv in enumerate(TAIL)}
    if ets is not None:
        from scipy import stats

        csum = np.array([ets["mean"][i, :k[i]].sum() for i in range(len(series))])
        csd = np.array([np.sqrt(np.sum(ets["sd"][i, :k[i]] ** 2)) for i in range(len(series))])
        cum_methods["auto_ets"] = {lv: np.maximum(csum + stats.norm.ppf(lv) * csd, 0.0)
                                   for lv in TAIL}
    use = ok & have_k & np.all([np.isfinite(v) for m in cum_methods.values()
                                for v in m.values()], axis=0)
    cum = {name: score(cum_actual[use], {lv: q[use] for lv, q in qs.items()},
                       mae_scale[use] * k[use], weight[use])
           for name, qs in cum_methods.items()}
    print_scores(f"Cumulative quantiles over lead time + review (k = {int(np.min(k[use]))}.."
                 f"{int(np.max(k[use]))} days), SPL per day, wSPL, coverage", cum, int(use.sum()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
