"""What transfers between locations add in the policy replay, at the same total inventory.

Plays, in one replay (same days, history, starting stock and lead-time draws), Restock's policy
("recommended") and the same policy with the nightly's transfer planner run every day, on review
days before the orders ("recommended_transfers", restock.inventory.replay_transfers; between
reviews sources keep the reorder point of the days left until the next order can land, or the
review's with ``--review-reorder-point``), then prints
for each point of the frontier (service level): with transfers, the average inventory (value
and units), the stockout rate (share of series-days with unmet demand) and the lost units;
without transfers at the same service level; and without transfers at the same average
inventory (interpolated on Restock's frontier, as policy_replay_comparison publishes it), with
the cut transfers bring there. The date, the git commit and the command head the output.

Data: FEED is a feed folder (the contract's tables: products, sales, optional inventory,
purchase_orders, locations, transfer_lanes), read here the way the nightly's dbt models read it
(daily gross units sold from each series' first sale to as_of; a day is censored when it closed
with on_hand = 0 or lost selling hours; purchase-order lead times from 3 receipts up, else the
products'; on_hand at the replay start as starting stock). Lanes: the feed's transfer_lanes,
plus default lanes between the locations of a region with ``--default-lanes`` (FreshRetailNet:
the stores of a city, 1 day). ``--lead-time-days`` overrides every product's purchase lead time
(the FreshRetailNet import writes 1 day, which a 1-day lane cannot beat).

Planner: ``reference`` (default; restock.inventory.make_reference_planner, each series' 56-day
mean and variance, negative binomial) or ``forecasting`` (the nightly's make_replay_planner,
models selected and calibrated at the replay start; minutes on 2 cores). Settings: the
defaults (or ``--config``), replay window as the nightly picks it (replay_window).

``--items N`` samples N items (seeded) and keeps every location of each; the output says so.

    .venv/bin/python bench/transfer_replay_bench.py /tmp/tdemo
    .venv/bin/python bench/transfer_replay_bench.py /tmp/frn_feed --default-lanes \
        --lead-time-days 3 --items 400
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

from restock.inventory import make_reference_planner, replay_policies  # noqa: E402
from restock.inventory.replay import replay_window  # noqa: E402
from restock.inventory.replay_transfers import replay_transfer_terms  # noqa: E402


def _source(feed: Path, table: str) -> str | None:
    """A duckdb table function reading the feed's table (file or folder of parts), or None."""
    for kind, reader in (("parquet", "read_parquet"), ("csv", "read_csv_auto")):
        path = feed / f"{table}.{kind}"
        if path.exists():
            return f"{reader}('{path}')"
        folder = feed / table
        if folder.is_dir() and any(folder.glob(f"*.{kind}")):
            return f"{reader}('{folder}/*.{kind}')"
    return None


def read_feed(feed: Path, as_of: str | None) -> dict:
    """The marts the replay reads, built from the feed's files (see the module docstring)."""
    con = duckdb.connect()
    sales = _source(feed, "sales")
    if sales is None or _source(feed, "products") is None:
        sys.exit(f"{feed}: a feed needs products and sales")
    con.execute(f"""create view sales as
        select cast(sku as varchar) as sku, cast(location as varchar) as location,
               cast(date as date) as date, sum(greatest(quantity, 0)) as units_sold
        from {sales} group by all""")
    end = pd.Timestamp(as_of) if as_of else pd.Timestamp(
        con.execute("select max(date) from sales").fetchone()[0])
    inventory = _source(feed, "inventory")
    if inventory is not None:
        cols = {c[0] for c in con.execute(f"select * from {inventory} limit 0").description}
        on_hand = "cast(on_hand as double)" if "on_hand" in cols else "cast(null as double)"
        hours = "cast(stockout_hours as double)" if "stockout_hours" in cols \
            else "cast(null as double)"
        con.execute(f"""create view inv as select cast(sku as varchar) as sku,
            cast(location as varchar) as location, cast(date as date) as date,
            {on_hand} as on_hand, {hours} as stockout_hours from {inventory}""")
    else:
        con.execute("create view inv as select null::varchar as sku, null::varchar as location,"
                    " null::date as date, null::double as on_hand, null::double as "
                    "stockout_hours where false")
    products = con.execute(f"select * from {_source(feed, 'products')}").df()
    products["sku"] = products["sku"].astype(str)
    con.register("products", products[["sku", "category"]])
    demand = con.execute("""
        with series as (select sku, location, min(date) as first from sales
                        where date <= ? group by all),
        spine as (select sku, location, unnest(generate_series(first, ?::date,
                  interval 1 day))::date as date from series)
        select spine.sku, spine.location, p.category, spine.date,
               coalesce(s.units_sold, 0.0) as units_sold, inv.on_hand,
               coalesce(inv.on_hand = 0, false) or coalesce(inv.stockout_hours > 0, false)
                   as is_censored
        from spine join products p using (sku)
        left join sales s using (sku, location, date)
        left join inv using (sku, location, date)
        order by 1, 2, 4""", [end.date(), end.date()]).df()
    demand["date"] = pd.to_datetime(demand["date"])
    lead_times = None
    orders = _source(feed, "purchase_orders")
    if orders is not None:
        lead_times = con.execute(f"""
            select cast(sku as varchar) as sku, cast(location as varchar) as location,
                   count(*) as n_receipts,
                   avg(date_diff('day', cast(order_date as date), cast(received_date as date)))
                       as lead_time_mean_days,
                   coalesce(stddev_samp(date_diff('day', cast(order_date as date),
                            cast(received_date as date))), 0) as lead_time_std_days
            from {orders}
            where received_date is not null and coalesce(status, '') <> 'cancelled'
              and cast(received_date as date) <= ?
            group by all""", [end.date()]).df()
    out = {"demand": demand, "products": products, "lead_times": lead_times, "as_of": end}
    for table in ("locations", "transfer_lanes"):
        src = _source(feed, table)
        if src and src.startswith("read_csv_auto"):  # codes as text, as the nightly reads them
            src = src[:-1] + ", all_varchar = true)"
        out[table] = con.execute(f"select * from {src}").df() if src else None
    return out


def sample_items(marts: dict, items: int | None, seed: int) -> str:
    """Keep ``items`` items (seeded) with every location of each; returns a note."""
    skus = np.sort(marts["demand"]["sku"].unique())
    if items is None or items >= len(skus):
        return f"all {len(skus)} items"
    keep = set(np.random.default_rng(seed).choice(skus, items, replace=False))
    marts["demand"] = marts["demand"][marts["demand"]["sku"].isin(keep)].reset_index(drop=True)
    return f"a seeded sample of {items} of {len(skus)} items (seed {seed}), all their locations"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("feed", type=Path)
    parser.add_argument("--as-of", default=None, help="default: the latest sales date")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--planner", choices=("reference", "forecasting"), default="reference")
    parser.add_argument("--default-lanes", action="store_true",
                        help="add lanes between the locations of a region (locations table)")
    parser.add_argument("--lead-time-days", type=float, default=None,
                        help="override every product's purchase lead time (no spread)")
    parser.add_argument("--review-reorder-point", action="store_true",
                        help="between reviews, sources keep the review's reorder point (not "
                        "the one over the days left until the next order can land)")
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    common.setup_logging(False)
    # the reference planner's nanmean over a series' window without uncensored days
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    logging.getLogger("restock").setLevel(logging.INFO if args.verbose else logging.WARNING)
    from restock.config import RestockConfig

    cfg = RestockConfig.load(args.config) if args.config else RestockConfig()
    started = time.perf_counter()
    print(f"transfer replay bench, {dt.date.today()}, commit {common.git_commit()}")
    print("command: " + " ".join(sys.argv))
    marts = read_feed(args.feed, args.as_of)
    sample = sample_items(marts, args.items, args.seed)
    demand, products, as_of = marts["demand"], marts["products"], marts["as_of"]
    if args.lead_time_days is not None:
        products = products.assign(lead_time_days=args.lead_time_days, lead_time_std_days=0.0)
        marts["lead_times"] = None
    settings = cfg.replenish
    window = replay_window(demand["date"].min(), as_of, settings)
    series = demand[["sku", "location"]].drop_duplicates()
    transfer_config = cfg.actions.transfers.model_copy(
        update={"default_lanes": args.default_lanes or cfg.actions.transfers.default_lanes})
    transfer_settings = dataclasses.replace(
        transfer_config.to_settings(settings.service_level_average),
        remaining_interval_reorder_point=not args.review_reorder_point)
    terms = replay_transfer_terms(True, series, marts["transfer_lanes"], marts["locations"],
                                  transfer_settings)
    per_item = series.groupby("sku").size()
    print(f"feed {args.feed}: {sample}; {len(series)} series, {per_item.ge(2).sum()} items at "
          f"2+ locations (median {per_item.median():g} locations per item); as_of "
          f"{as_of.date()}, replay {window.start.date()} + {window.days} days "
          f"({window.note or 'full window'}); lanes: {terms.reason}; lane lead times "
          f"{sorted(set(terms.lanes['lead_time_days'].astype(float)))} days; purchase lead "
          + ("times from purchase orders (3+ receipts) or products"
             if args.lead_time_days is None else f"time {args.lead_time_days:g} days (override)")
          + f"; planner {args.planner}; sources between reviews keep "
          + ("the review's reorder point" if args.review_reorder_point
             else "the reorder point of the days left until the next order can land"))
    if args.planner == "reference":
        planner = make_reference_planner(demand)
    else:
        from assets.forecast import run_forecast_settings
        from restock.forecasting import make_replay_planner

        planner = make_replay_planner(demand, window.start,
                                      run_forecast_settings(cfg, products), products=products)
    stock = demand.loc[demand["date"] == window.start, ["sku", "location", "on_hand"]]
    stock = stock.assign(stock_known=stock["on_hand"].notna())
    result = replay_policies(demand, products, marts["lead_times"], planner, window.start, as_of,
                             settings, stock_position=stock, transfers=terms)
    report(result)
    print(f"seconds: total {time.perf_counter() - started:.0f}; replay "
          + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()
                      if k in ("total", "planner", "policy", "transfers")))


def report(result) -> None:
    """The with / without table per service level, then the transfers' totals."""
    rows = result.rows[result.rows["category"] == "ALL"].set_index(["policy", "parameter"])
    comp = result.comparisons
    comp = comp[comp["compared_with"] == "recommended_transfers"].set_index("static_parameter")
    measure = comp["inventory_measure"].iloc[0] if len(comp) else "avg_inventory_units"
    conclusive = bool(result.headline.get("conclusive"))
    print("replay window " + ("conclusive" if conclusive else "NOT conclusive: "
                              + str(result.headline.get("inconclusive_reason"))))
    print(f"\nequal inventory measure: {measure}")
    print(f"{'level':>6} | {'with transfers':^44} | {'without, same level':^38} | "
          f"{'without, same inventory':^27} | {'cut':^15} | {'moved':>7}")
    print(f"{'':>6} | {'inv value':>11} {'inv units':>9} {'stockout':>9} {'lost':>10} | "
          f"{'inv value':>11} {'inv units':>9} {'stockout':>9} {'lost':>6} | "
          f"{'stockout':>9} {'lost':>10} {'in':>3}| {'stockout':>7} {'lost':>7} | {'units':>7}")
    for level in sorted(comp.index):
        w, o, c = rows.loc[("recommended_transfers", level)], \
            rows.loc[("recommended", level)], comp.loc[level]
        print(f"{level:>6g} | {w.avg_inventory_value:>11,.0f} {w.avg_inventory_units:>9,.0f} "
              f"{100 * w.stockout_rate:>8.2f}% {w.lost_units:>10,.0f} | "
              f"{o.avg_inventory_value:>11,.0f} {o.avg_inventory_units:>9,.0f} "
              f"{100 * o.stockout_rate:>8.2f}% {o.lost_units:>6,.0f} | "
              f"{100 * c.restock_stockout_rate_at_same_inventory:>8.2f}% "
              f"{c.restock_lost_units_at_same_inventory:>10,.0f} "
              f"{'yes' if c.within_frontier else 'no':>3}| "
              f"{_pct(c.transfers_stockout_cut):>7} {_pct(c.transfers_lost_units_cut):>7} | "
              f"{c.units_transferred:>7,.0f}")
    moved = result.transfers
    inside = comp[comp["within_frontier"]]
    if len(inside):
        print(f"\ncomparable points (inside Restock's frontier): {len(inside)} of {len(comp)}; "
              f"stockout cut {_pct(inside['transfers_stockout_cut'].min())} .. "
              f"{_pct(inside['transfers_stockout_cut'].max())}, lost-units cut "
              f"{_pct(inside['transfers_lost_units_cut'].min())} .. "
              f"{_pct(inside['transfers_lost_units_cut'].max())}; transfers do not help "
              f"(cut <= 0) at {int((inside['transfers_stockout_cut'] <= 0).sum())} points")
    else:
        print("\nno point of the transfer frontier lies inside Restock's frontier")
    if len(moved):
        per_review = moved.groupby(["parameter", "day"]).size()
        empty = (moved["destination_position_before"] <= 0).mean()
        print(f"transfers shipped: {len(moved)} (all levels), {moved['qty'].sum():,.0f} units; "
              f"{per_review.mean():.1f} per level and review; {moved['sku'].nunique()} items; "
              f"destinations at position <= 0 when shipped: {100 * empty:.1f}%")
    else:
        print("no transfer shipped")


def _pct(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{100 * value:+.1f}%"


if __name__ == "__main__":
    main()
