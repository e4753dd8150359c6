"""What forecasting adds, in stockouts and lost units: Restock's planner against baselines.

Plays, in one replay (same days, history, starting stock and lead-time draws), Restock's
planner ("recommended"), the baseline planners of restock.inventory.baseline_planners
(``naive_quantile``, ``auto_ets``) and the static rule, then prints, at every point of each
baseline frontier and of the static rule, Restock's stockout rate and lost units at the same
average inventory and the ratio Restock / baseline (issue 14 target: stockout ratio <= 0.90
against naive_quantile at every comparable point), plus the headline sentence. The date and
the git commit head the output.

Data:
  --m5                  M5 CA_1 as bench/replay_bench.py loads it (--items to subsample)
  --warehouse W         the marts of a finished ``restock run`` (as bench/replay_demo_bench.py)
  --feed DIR            a feed folder (sales + products), demand = daily sales from each
                        series' first sale, no stock data (e.g. the UCI Online Retail import)

Restock's planner is ``make_replay_planner`` (restock.forecasting) fitted at the replay start;
with ``--cache DIR`` its plans are stored on the first run and re-used (replay_demo_bench's
cache: the same library functions rebuild the quantiles). ``--calibration`` also plays the
empirical rolling-sum planner and prints each frontier's mean |achieved cycle service - target|
(the naive_quantile choice). ``--objective fill_rate`` and ``--both-objectives`` as the
replenish settings.

    .venv/bin/python bench/replay_value_bench.py --m5 --cache /tmp/rv_m5 --calibration
    .venv/bin/python bench/replay_value_bench.py --warehouse /tmp/rp_wh/restock.duckdb \
        --cache /tmp/rv_demo --calibration
    .venv/bin/python bench/replay_value_bench.py --feed /tmp/uci_feed --objective fill_rate \
        --location "United Kingdom" --cache /tmp/rv_uci
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from replay_demo_bench import (  # noqa: E402
    CachedPlanner,
    build_cache,
    m5_marts,
    nightly_planner,
    read_marts,
)

from restock.inventory import replay_policies  # noqa: E402
from restock.inventory.baseline_planners import (  # noqa: E402
    baseline_planners,
    make_empirical_planner,
)
from restock.inventory.replay import headline_text, replay_window  # noqa: E402


def feed_marts(feed: Path, as_of: str | None) -> dict:
    """Daily demand and products from a feed folder (no inventory: nothing censored)."""
    sales = pd.read_parquet(feed / "sales.parquet") if (feed / "sales.parquet").exists() \
        else pd.read_csv(feed / "sales.csv")
    sales["date"] = pd.to_datetime(sales["date"]).dt.normalize()
    products = pd.read_csv(feed / "products.csv", dtype={"sku": str})
    sales["sku"] = sales["sku"].astype(str)
    sales["location"] = sales["location"].astype(str)
    daily = sales.groupby(["sku", "location", "date"], as_index=False)["quantity"].sum()
    daily["quantity"] = daily["quantity"].clip(lower=0)
    end = pd.Timestamp(as_of) if as_of else daily["date"].max()
    first = daily.groupby(["sku", "location"])["date"].min()
    frames = []
    for (sku, loc), start in first.items():
        frames.append(pd.DataFrame({"sku": sku, "location": loc,
                                    "date": pd.date_range(start, end, freq="D")}))
    grid = pd.concat(frames, ignore_index=True)
    demand = grid.merge(daily, on=["sku", "location", "date"], how="left")
    demand["units_sold"] = demand.pop("quantity").fillna(0.0)
    demand["is_censored"] = False
    demand["on_hand"] = np.nan
    demand = demand[demand["date"] <= end]
    cat = products.set_index("sku")["category"] if "category" in products else None
    demand["category"] = demand["sku"].map(cat).fillna("all") if cat is not None else "all"
    return {"fct_daily_demand": demand, "dim_products": products, "fct_lead_times": None,
            "as_of": end}


def header() -> str:
    return (f"replay_value_bench {dt.datetime.now().isoformat(timespec='seconds')} "
            f"commit {common.git_commit()}")


def ratios(result, baseline: str) -> pd.DataFrame:
    """Restock at each baseline point's inventory and the ratios Restock / baseline."""
    c = result.comparisons
    c = c[c["compared_with"] == baseline].copy()
    c["stockout_ratio"] = c["restock_stockout_rate_at_same_inventory"] / c[
        "static_stockout_rate"]
    c["lost_units_ratio"] = c["restock_lost_units_at_same_inventory"] / c["static_lost_units"]
    return c[["objective", "static_parameter", "static_avg_inventory", "static_stockout_rate",
              "restock_stockout_rate_at_same_inventory", "stockout_ratio", "static_lost_units",
              "restock_lost_units_at_same_inventory", "lost_units_ratio", "within_frontier"]] \
        .rename(columns={"static_parameter": "level", "static_avg_inventory": "inventory",
                         "static_stockout_rate": "base_stockout",
                         "restock_stockout_rate_at_same_inventory": "restock_stockout",
                         "static_lost_units": "base_lost",
                         "restock_lost_units_at_same_inventory": "restock_lost"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--m5", action="store_true")
    src.add_argument("--warehouse", type=Path)
    src.add_argument("--feed", type=Path)
    parser.add_argument("--as-of", default=None, help="M5 default 2016-04-24; feed: last day")
    parser.add_argument("--items", type=int, default=None, help="M5: subsample items")
    parser.add_argument("--location", default=None, help="feed: keep one location")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--objective", choices=["cycle_service", "fill_rate"], default=None)
    parser.add_argument("--both-objectives", action="store_true")
    parser.add_argument("--baselines", default="naive_quantile,auto_ets")
    parser.add_argument("--calibration", action="store_true")
    parser.add_argument("--no-restock", action="store_true",
                        help="baselines only (e.g. the calibration without the forecasting)")
    parser.add_argument("--ledger", type=Path, default=None,
                        help="write the per-series ledger (units, on_hand_days) as Parquet")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    from restock.config import RestockConfig

    print(header())
    cfg = RestockConfig.load(args.config)
    update: dict = {"replay_both_objectives": args.both_objectives}
    if args.objective:
        update["objective"] = args.objective
        update["service_level_mode"] = "fill_rate" if args.objective == "fill_rate" \
            else "cycle"
    rs = cfg.replenish.model_copy(update=update)
    if args.m5:
        marts = m5_marts(pd.Timestamp(args.as_of or "2016-04-24"), rs.replay_days)
        if args.items:
            keep = marts["fct_daily_demand"]["sku"].drop_duplicates().iloc[::max(
                1, marts["fct_daily_demand"]["sku"].nunique() // args.items)].head(args.items)
            marts["fct_daily_demand"] = marts["fct_daily_demand"][
                marts["fct_daily_demand"]["sku"].isin(keep)].reset_index(drop=True)
    elif args.warehouse:
        marts = read_marts(args.warehouse)
    else:
        marts = feed_marts(args.feed, args.as_of)
    if args.location:
        d = marts["fct_daily_demand"]
        marts["fct_daily_demand"] = d[d["location"] == args.location].reset_index(drop=True)
    if rs.replay_max_series and not args.m5:
        from restock.inventory import sample_replay_series

        d = marts["fct_daily_demand"]
        series = d.groupby(["sku", "location"], as_index=False)["category"].first()
        played = sample_replay_series(series, rs.replay_max_series, rs.replay_seed)
        if len(played) < len(series):
            print(f"replaying a stratified sample of {len(played)} of {len(series)} series "
                  "(replenish.replay_max_series, as the nightly)")
            marts["fct_daily_demand"] = d.merge(played[["sku", "location"]],
                                                on=["sku", "location"])
    demand, as_of = marts["fct_daily_demand"], marts["as_of"]
    window = replay_window(demand["date"].min(), as_of, rs)
    replay_start = window.start
    print(f"replay {replay_start.date()} .. {as_of.date()} ({window.days} days); "
          f"{demand[['sku', 'location']].drop_duplicates().shape[0]} series; objective "
          f"{rs.objective}{' (both frontiers)' if rs.replay_both_objectives else ''}"
          + (f"; {window.note}" if window.note else ""))
    review_dates = [replay_start + pd.Timedelta(days=int(d))
                    for d in np.arange(0, window.days, rs.review_days)]
    planners: dict = {}
    clock = time.perf_counter()
    if not args.no_restock:
        cache_file = args.cache / "replay_cache.pkl" if args.cache else None
        if cache_file is not None and cache_file.exists():
            cache = pickle.loads(cache_file.read_bytes())
        else:
            from restock.forecasting import make_replay_planner

            if args.warehouse:
                def make():
                    return nightly_planner(marts, cfg, replay_start)
            else:
                def make():
                    return make_replay_planner(demand, replay_start, cfg.forecast)
            cache = build_cache(make, review_dates)
            if cache_file is not None:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                cache_file.write_bytes(pickle.dumps(cache))
        planners["recommended"] = CachedPlanner(cache)
        print(f"Restock plans ready in {time.perf_counter() - clock:.1f}s")
    names = [n for n in args.baselines.split(",") if n]
    clock = time.perf_counter()
    planners |= baseline_planners(demand, replay_start, names)
    print(f"baseline planners built in {time.perf_counter() - clock:.1f}s (fits)")
    if args.calibration:
        planners["empirical"] = make_empirical_planner(demand)
    clock = time.perf_counter()
    result = replay_policies(demand, marts["dim_products"], marts["fct_lead_times"], planners,
                             replay_start, as_of, rs)
    wall = time.perf_counter() - clock
    sec = result.seconds
    print(f"replay {wall:.1f}s: policy maths {sec['policy']:.1f}s, planners "
          + ", ".join(f"{k[8:]} {v:.1f}s" for k, v in sec.items() if k.startswith("planner_")))
    if args.ledger:
        result.ledger.to_parquet(args.ledger, index=False)
        print(f"per-series ledger: {args.ledger}")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    rows = result.rows[result.rows["category"] == "ALL"]
    cols = ["policy", "objective", "parameter", "avg_inventory_units", "avg_inventory_value",
            "stockout_rate", "fill_rate", "lost_units", "achieved_cycle_service_level"]
    print(rows[cols].round(4).to_string(index=False))
    if args.calibration:
        print("\ncalibration on the replay's achieved cycle service "
              "(mean |achieved - target|, signed mean), cycle_service frontiers:")
        cyc = rows[rows["objective"] == "cycle_service"]
        for name, g in cyc.groupby("policy"):
            gap = g["achieved_cycle_service_level"] - g["target"]
            print(f"  {name:<16} mean abs gap {gap.abs().mean():.4f}  signed {gap.mean():+.4f}")
    if "recommended" in planners:
        for name in [*names, *(["empirical"] if args.calibration else [])]:
            print(f"\nRestock at {name}'s frontier inventories (ratio Restock / {name}):")
            print(ratios(result, name).round(4).to_string(index=False))
        print("\nRestock against the static rule at equal inventory:")
        print(ratios(result, "static").round(4).to_string(index=False))
    print("\n" + headline_text(result.headline))


if __name__ == "__main__":
    main()
