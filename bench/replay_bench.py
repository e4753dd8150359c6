"""Policy replay on Walmart M5 store CA_1: wall time, the policy_replay table and the headline.

3,049 items, 91 replay days before 2016-04-24, weekly review, 7-day lead time. M5 has no stock
data: weeks without a sell price are the only availability signal, so those days are censored
(demand estimated, see restock.inventory.replay); values use the item's sell price (no costs).

    .venv/bin/python bench/replay_bench.py                       # reference planner
    .venv/bin/python bench/replay_bench.py --planner forecasting # restock.forecasting planner
    .venv/bin/python bench/replay_bench.py --items 500 --lead-time-std 2
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from restock.inventory import (
    ReplenishSettings,
    build_reorder_lines,
    build_stockout_alerts,
    make_reference_planner,
    replay_policies,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "m5_ca1"


def load_m5(as_of: pd.Timestamp, history_days: int, items: int | None = None):
    """fct_daily_demand-shaped frame and products for M5 CA_1 (last ``history_days`` days)."""
    wide = pd.read_parquet(DATA / "sales_wide.parquet")
    if items:
        wide = wide.iloc[:: max(1, len(wide) // items)].head(items).reset_index(drop=True)
    cal = pd.read_parquet(DATA / "calendar.parquet")
    cal["date"] = pd.to_datetime(cal["date"])
    cal = cal[(cal["date"] > as_of - pd.Timedelta(days=history_days)) & (cal["date"] <= as_of)]
    d_cols = cal["d"].tolist()
    units = wide[d_cols].to_numpy(dtype=float)
    prices = pd.read_parquet(DATA / "sell_prices.parquet")
    prices = prices[prices["store_id"] == "CA_1"]
    price_wk = prices.pivot_table(index="item_id", columns="wm_yr_wk", values="sell_price")
    price_wk = price_wk.reindex(index=wide["item_id"], columns=cal["wm_yr_wk"].unique())
    priced = ~np.isnan(price_wk[cal["wm_yr_wk"].to_numpy()].to_numpy())
    n_items, n_days = units.shape
    demand = pd.DataFrame({
        "sku": np.repeat(wide["item_id"].to_numpy(), n_days),
        "location": "CA_1",
        "category": np.repeat(wide["cat_id"].to_numpy(), n_days),
        "date": np.tile(cal["date"].to_numpy(), n_items),
        "units_sold": units.ravel(),
        "is_censored": ~priced.ravel(),  # not on sale that week: sales say nothing about demand
        "on_hand": np.nan,
    })
    # fct_daily_demand starts at each series' first sale.
    first = demand[demand["units_sold"] > 0].groupby("sku")["date"].min()
    demand = demand[demand["date"] >= demand["sku"].map(first)].reset_index(drop=True)
    last_price = prices.sort_values("wm_yr_wk").groupby("item_id")["sell_price"].last()
    products = pd.DataFrame({
        "sku": wide["item_id"], "category": wide["cat_id"], "lead_time_days": 7.0,
        "lead_time_std_days": 0.0, "unit_cost": wide["item_id"].map(last_price).to_numpy(),
        "pack_size": 1, "moq": 1, "active": True,
    })
    return demand, products


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", choices=["reference", "forecasting"], default="reference")
    parser.add_argument("--as-of", default="2016-04-24")
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--items", type=int, default=None, help="subsample items (default all)")
    parser.add_argument("--lead-time-std", type=float, default=0.0)
    parser.add_argument("--order-up-to-review-periods", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not DATA.is_dir():
        raise SystemExit(f"M5 data not found at {DATA}")

    as_of = pd.Timestamp(args.as_of)
    replay_start = as_of - pd.Timedelta(days=args.days)
    clock = time.perf_counter()
    demand, products = load_m5(as_of, history_days=args.days + 400, items=args.items)
    products["lead_time_std_days"] = args.lead_time_std
    load_s = time.perf_counter() - clock
    print(f"loaded {demand['sku'].nunique()} items, {len(demand):,} rows in {load_s:.1f}s")

    clock = time.perf_counter()
    if args.planner == "reference":
        planner = make_reference_planner(demand, horizon=28)
    else:
        from restock.forecasting import ForecastSettings, make_replay_planner

        planner = make_replay_planner(demand, replay_start, ForecastSettings())
    prep_s = time.perf_counter() - clock
    print(f"planner '{args.planner}' prepared in {prep_s:.1f}s")

    settings = ReplenishSettings(order_up_to_review_periods=args.order_up_to_review_periods)
    clock = time.perf_counter()
    result = replay_policies(demand, products, None, planner, replay_start, as_of, settings)
    replay_s = time.perf_counter() - clock

    # Reorder lines for every item at as_of (shelf stock assumed = last week's sales, since M5
    # has no stock data), to time build_reorder_lines and build_stockout_alerts at full size.
    clock = time.perf_counter()
    plan = planner(as_of)
    plan_s = time.perf_counter() - clock
    series = demand[["sku", "location", "category"]].drop_duplicates().assign(
        demand_class="n/a", model=args.planner, is_cold_start=False, backtest_rmsse=np.nan,
        mean_daily_demand=np.nan)
    last_week = demand[demand["date"] > as_of - pd.Timedelta(days=7)]
    shelf = last_week.groupby(["sku", "location"], as_index=False)["units_sold"].sum()
    stock = shelf.rename(columns={"units_sold": "on_hand"}).assign(
        stock_known=True, on_order=0.0, backorders=0.0)
    clock = time.perf_counter()
    lines = build_reorder_lines(products, stock, None, series, plan.cumulative, plan.daily,
                                demand, as_of, settings)
    lines_s = time.perf_counter() - clock
    clock = time.perf_counter()
    alerts = build_stockout_alerts(lines, settings)
    alerts_s = time.perf_counter() - clock
    print(f"reorder lines: {len(lines)} lines, {int((lines['recommended_order_qty'] > 0).sum())} "
          f"orders in {lines_s:.1f}s (plan at as_of {plan_s:.1f}s); alerts: {len(alerts)} "
          f"({alerts['severity'].value_counts().to_dict()}) in {alerts_s:.2f}s")
    print("example:", lines.loc[lines["recommended_order_qty"] > 0, "explanation"].iloc[0])

    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)
    cols = ["policy", "parameter", "category", "avg_inventory_units", "avg_inventory_value",
            "stockout_rate", "fill_rate", "orders", "achieved_cycle_service_level",
            "protected_cycle_share", "target"]
    print("\npolicy_replay:")
    print(result.rows[cols].round(4).to_string(index=False))
    print("\ncomparisons at equal average inventory:")
    print(result.comparisons.round(4).to_string(index=False))
    print("\nheadline:")
    for k, v in result.headline.items():
        print(f"  {k}: {v}")
    print(f"\nwall time: load {load_s:.1f}s, planner prep {prep_s:.1f}s, replay {replay_s:.1f}s "
          f"(planner calls {result.seconds['planner']:.1f}s, policy maths "
          f"{result.seconds['policy']:.1f}s); total {load_s + prep_s + replay_s:.1f}s")


if __name__ == "__main__":
    main()
