"""Policy replay on a nightly's marts, fast to repeat, plus coverage of the plans' quantiles.

Runs what the nightly's ``policy_replay`` asset runs (assets/replenish.py): the replay planner
selected and calibrated at the replay start (``make_replay_planner`` with the run's forecast
settings and exogenous marts), then ``replay_policies`` with the run's replenish settings. The
marts come from the work DB of a finished ``restock run``.

To iterate on the quantile and policy maths without re-running the forecasting, ``--cache DIR``
stores, on the first run, the backtest arrays that ``fit_calibration`` receives and, per review,
the planner's mean forecasts, series levels and pools (what ``cumulative_quantiles`` receives).
Later runs with the same cache refit the calibration and rebuild every plan's cumulative
quantiles with the current code (same library functions, same data up to each review).

With ``--truth`` (a demo feed's true_demand.parquet) it also prints the coverage of the plans'
cumulative quantiles against true demand over each review's protection interval L + R:
the share of (series, review) pairs whose true total is at or below the quantile, per level.

    .venv/bin/python bench/replay_demo_bench.py --warehouse var/demo/restock.duckdb \
        --truth var/demo_feed_truth/true_demand.parquet [--cache /tmp/replay_cache]
"""

from __future__ import annotations

import argparse
import logging
import pickle
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import restock.forecasting.final as fplanner
import restock.forecasting.nightly as fpipe
from restock.forecasting.calibration import cumulative_quantiles, fit_calibration
from restock.forecasting.final import cumulative_frame
from restock.inventory import replay_policies
from restock.inventory.distributions import (
    KEYS,
    demand_mixture,
    dense_cumulative,
    resolve_lead_times,
)
from restock.paths import RunPaths

MARTS = ["fct_daily_demand", "dim_products", "fct_lead_times", "fct_promotion_days",
         "fct_events", "fct_drivers"]


def read_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The marts the policy_replay asset reads, from the run's work DB."""
    work = RunPaths.from_warehouse(warehouse).work_db
    out = {}
    with duckdb.connect(str(work), read_only=True) as con:
        for name in MARTS:
            try:
                out[name] = con.execute(f"select * from marts.{name}").df()
            except duckdb.CatalogException:
                out[name] = pd.DataFrame()
        as_of = str(con.execute("select as_of from raw._run").fetchone()[0])
    out["fct_daily_demand"]["date"] = pd.to_datetime(out["fct_daily_demand"]["date"])
    return out | {"as_of": pd.Timestamp(as_of)}


def build_cache(make_planner, review_dates) -> dict:
    """Run the planner once, keeping what the quantile maths receives."""
    captured: dict = {"plans": {}}
    real_fit, real_cq, real_frame = fpipe.fit_calibration, fplanner.cumulative_quantiles, \
        fplanner.cumulative_frame

    def fit(*args, **kwargs):
        if kwargs.get("folds") is None and len(args) < 7 and "fit_args" not in captured:
            captured["fit_args"] = (args, kwargs)
        return real_fit(*args, **kwargs)

    def cq(cal, pools, forecast, level, spread=None, cap=None):
        captured["_last"] = (pools.copy(), forecast.copy(), level.copy(), spread, cap)
        return real_cq(cal, pools, forecast, level, spread, cap)

    def frame(assignments, forecast, cumulative, levels):
        captured["_last_keys"] = assignments[KEYS].copy()
        return real_frame(assignments, forecast, cumulative, levels)

    fpipe.fit_calibration, fplanner.cumulative_quantiles, fplanner.cumulative_frame = \
        fit, cq, frame
    try:
        planner = make_planner()
        for t in review_dates:
            planner(t)
            captured["plans"][t] = (captured.pop("_last_keys"), *captured.pop("_last"))
    finally:
        fpipe.fit_calibration, fplanner.cumulative_quantiles, fplanner.cumulative_frame = \
            real_fit, real_cq, real_frame
    return captured


def nightly_planner(marts: dict, cfg, replay_start: pd.Timestamp):
    """The planner exactly as the policy_replay asset builds it."""
    from assets.forecast import run_forecast_settings
    from restock.forecasting import make_replay_planner

    products = marts["dim_products"]
    return make_replay_planner(
        marts["fct_daily_demand"], replay_start, run_forecast_settings(cfg, products),
        promotions=marts["fct_promotion_days"], events=marts["fct_events"],
        drivers=marts["fct_drivers"], products=products,
    )


def m5_marts(as_of: pd.Timestamp, days: int) -> dict:
    """M5 CA_1 as bench/replay_bench.py loads it (no stock data, lead time 7 days)."""
    from replay_bench import load_m5

    demand, products = load_m5(as_of, history_days=days + 400)
    return {"fct_daily_demand": demand, "dim_products": products, "fct_lead_times": None,
            "as_of": as_of}


class CachedPlanner:
    """planner(t) from cached forecasts, with cumulative quantiles from the current code."""

    def __init__(self, cache: dict) -> None:
        args, kwargs = cache["fit_args"]
        self.calibration = fit_calibration(*args, **kwargs)
        self.plans = cache["plans"]

    def __call__(self, t):
        keys, pools, forecast, level, *rest = self.plans[pd.Timestamp(t)]
        spread, cap = (*rest, None, None)[:2]  # caches written before spread and cap: None
        cum = cumulative_quantiles(self.calibration, pools, forecast, level, spread, cap)
        table = cumulative_frame(keys, forecast, cum, self.calibration.cumulative_levels)
        return fplanner.PlanInputs(daily=pd.DataFrame(), cumulative=table)


def coverage(planner, marts: dict, truth: pd.DataFrame, review_dates, review_days: int,
             replay_settings) -> pd.DataFrame:
    """Share of (series, review) with true demand over L + R at or below each plan quantile.

    L is the series' mean lead time rounded to whole days; the quantile is read from the
    plan's cumulative table at horizon L + R (no lead-time mixture: this checks the forecast's
    quantiles, not the policy maths).
    """
    truth = truth.copy()
    truth["date"] = pd.to_datetime(truth["date"])
    products = marts["dim_products"].drop_duplicates("sku")
    rows = []
    for t in review_dates:
        plan = planner(t)
        cum = plan.cumulative
        keys = cum[KEYS].drop_duplicates().reset_index(drop=True)
        lt = resolve_lead_times(keys, products, marts["fct_lead_times"],
                                replay_settings.lead_time_min_receipts)
        dense = dense_cumulative(cum, keys)
        lead = np.maximum(np.rint(lt["lead_time_days"].to_numpy()), 1)
        horizon = lead + review_days
        mix = demand_mixture(dense, horizon - review_days, np.zeros(len(keys)),
                             float(review_days))
        end = t + pd.to_timedelta(horizon, unit="D")
        window = truth[(truth["date"] > t) & (truth["date"] <= end.max())]
        w = window.merge(keys.assign(_end=end), on=KEYS)
        w = w[w["date"] <= w["_end"]]
        total = keys.merge(w.groupby(KEYS, as_index=False)["demand"].sum(), on=KEYS,
                           how="left")["demand"].fillna(0.0).to_numpy()
        complete = (end <= truth["date"].max())
        levels = np.array(replay_settings.replay_service_levels + [0.5, 0.7, 0.85])
        q = mix.quantile(np.broadcast_to(levels[None, :], (len(keys), levels.size)))
        for j, p in enumerate(levels):
            rows.append({"review": t, "level": p, "n": int(complete.sum()),
                         "covered": float((total[complete] <= q[complete, j] + 1e-9).sum()),
                         "mean_quantile": float(q[complete, j].mean()),
                         "true_mean": float(total[complete].mean())})
    out = pd.DataFrame(rows)
    agg = out.groupby("level").agg(n=("n", "sum"), covered=("covered", "sum"),
                                   mean_quantile=("mean_quantile", "mean"),
                                   true_mean=("true_mean", "mean"))
    agg["coverage"] = agg["covered"] / agg["n"]
    return agg.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("var/demo/restock.duckdb"))
    parser.add_argument("--truth", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--m5", action="store_true",
                        help="M5 CA_1 as bench/replay_bench.py --planner forecasting runs it")
    parser.add_argument("--as-of", default="2016-04-24", help="M5 only")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--variant", action="append", default=None,
                        help="replenish settings to change for one more replay on the same "
                        "plans, 'key=value;key=value' (YAML values); repeatable")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    from restock.config import RestockConfig

    cfg = RestockConfig.load(args.config)
    rs = cfg.replenish
    marts = m5_marts(pd.Timestamp(args.as_of), rs.replay_days) if args.m5 \
        else read_marts(args.warehouse)
    as_of = marts["as_of"]
    replay_start = as_of - pd.Timedelta(days=rs.replay_days)
    review_dates = [replay_start + pd.Timedelta(days=int(d))
                    for d in np.arange(0, rs.replay_days, rs.review_days)]
    clock = time.perf_counter()
    cache_file = args.cache / "replay_cache.pkl" if args.cache else None
    if cache_file is not None and cache_file.exists():
        cache = pickle.loads(cache_file.read_bytes())
    else:
        if args.m5:
            from restock.forecasting import ForecastSettings, make_replay_planner

            def make():
                return make_replay_planner(marts["fct_daily_demand"], replay_start,
                                           ForecastSettings())
        else:
            def make():
                return nightly_planner(marts, cfg, replay_start)
        cache = build_cache(make, review_dates)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_bytes(pickle.dumps(cache))
    planner = CachedPlanner(cache)
    print(f"plans ready in {time.perf_counter() - clock:.1f}s "
          f"({len(review_dates)} reviews from {replay_start.date()})")

    truth = None
    if args.truth is not None:
        truth = pd.read_parquet(args.truth, columns=["sku", "location", "date", "demand"])
    elif args.m5:  # no true demand: recorded sales on days with a price
        d = marts["fct_daily_demand"]
        truth = d.loc[~d["is_censored"], ["sku", "location", "date", "units_sold"]] \
            .rename(columns={"units_sold": "demand"})
    if truth is not None:
        cov = coverage(planner, marts, truth, review_dates, rs.review_days, rs)
        print("\ncoverage of the plans' quantiles of demand over L + R (true demand):")
        print(cov.round(4).to_string(index=False))

    variants = args.variant or [""]
    summary = []
    for variant in variants:
        settings = rs.model_copy(update=parse_variant(variant))
        clock = time.perf_counter()
        result = replay_policies(marts["fct_daily_demand"], marts["dim_products"],
                                 marts["fct_lead_times"], planner, replay_start, as_of, settings)
        print(f"\n=== variant {variant or '(config as is)'}: replay in "
              f"{time.perf_counter() - clock:.1f}s")
        pd.set_option("display.width", 220)
        cols = ["policy", "parameter", "avg_inventory_units", "avg_inventory_value",
                "stockout_rate", "fill_rate", "orders", "achieved_cycle_service_level",
                "protected_cycle_share"]
        rows = result.rows[result.rows["category"] == "ALL"]
        print(rows[cols].round(4).to_string(index=False))
        print("\ncomparisons at equal average inventory:")
        print(result.comparisons.round(4).to_string(index=False))
        print("\nheadline:", {k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in result.headline.items()})
        rec = rows[rows["policy"] == "recommended"]
        gap = (rec["achieved_cycle_service_level"] - rec["target"]).abs().max()
        summary.append({"variant": variant or "(config)",
                        "smallest_cut": result.headline.get("relative_cut"),
                        "at_static": result.headline.get("static_parameter"),
                        "max_service_gap": gap})
    if len(summary) > 1:
        print("\nsummary:")
        print(pd.DataFrame(summary).round(4).to_string(index=False))


def parse_variant(text: str) -> dict:
    """'key=value;key=value' (values as YAML: numbers, booleans, [lists]) -> settings update."""
    import yaml

    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition("=")
        out[key.strip()] = yaml.safe_load(value)
    return out


if __name__ == "__main__":
    main()
