"""Coverage of the published quantiles against the demo feed's true future demand.

Run after `make run` (or `restock run` on a demo feed):
    .venv/bin/python bench/demo_coverage_bench.py \
        --warehouse var/demo/restock.duckdb \
        --truth var/demo_feed_truth/true_demand_future.parquet
Prints the share of series-days whose true demand is at or below p50 / p90 / p95 / p99 (the
issue's target for p90 is 85-95%), p90 coverage by week ahead, and the forecast's bias.
"""

from __future__ import annotations

import argparse

import duckdb
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", default="var/demo/restock.duckdb")
    parser.add_argument("--truth", default="var/demo_feed_truth/true_demand_future.parquet")
    args = parser.parse_args()
    truth = pd.read_parquet(args.truth, columns=["sku", "location", "date", "demand"])
    with duckdb.connect(args.warehouse, read_only=True) as con:
        fc = con.execute(
            "select sku, location, date, forecast, p50, p90, p95, p99 from marts.demand_forecasts"
        ).df()
    truth["date"] = pd.to_datetime(truth["date"])
    fc["date"] = pd.to_datetime(fc["date"])
    both = fc.merge(truth, on=["sku", "location", "date"])
    print(f"series-days with true demand: {len(both):,} (forecast rows {len(fc):,})")
    for q in ("p50", "p90", "p95", "p99"):
        print(f"coverage {q}: {100 * (both['demand'] <= both[q]).mean():5.1f}%")
    week = (both["date"] - both["date"].min()).dt.days // 7
    by_week = (both["demand"] <= both["p90"]).groupby(week).mean().mul(100).round(1)
    print("p90 coverage by week ahead:", by_week.to_dict())
    bias = (both["forecast"].sum() - both["demand"].sum()) / both["demand"].sum()
    print(f"bias of the mean forecast: {100 * bias:+.1f}%")


if __name__ == "__main__":
    main()
