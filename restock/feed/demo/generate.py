"""``generate_demo_feed``: the chain drawn step by step from one generator, then written.

The order of the calls below is the order of the draws from the generator: keep it, or the
same seed no longer gives the same files.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from restock.feed.demo.actions import suppliers_table, transfer_lanes_table
from restock.feed.demo.catalogue import draw_assortment, draw_products, finish_products
from restock.feed.demo.chain import FUTURE_DAYS, LOCATIONS
from restock.feed.demo.customer_lines import customer_sales
from restock.feed.demo.customers import simulate_customers
from restock.feed.demo.demand import (
    calendar_effects,
    draw_promotions,
    draw_temperature,
    expected_demand,
)
from restock.feed.demo.stock import simulate_inventory
from restock.feed.demo.tables import (
    drivers_table,
    inventory_table,
    purchase_order_table,
    sales_table,
    write_churn_truth,
    write_truth,
)
from restock.importers.common import prepare_feed_dir, write_csv, write_parquet

log = logging.getLogger("restock.feed.demo")  # one logger for the whole demo chain

# the big tables go as Parquet, the rest as CSV
_PARQUET = frozenset({"sales", "inventory"})


def default_truth_path(out: Path) -> Path:
    """Where the true demand of a demo feed in ``out`` goes: beside the feed, never inside."""
    out = Path(out)
    return out.parent / f"{out.name}_truth" / "true_demand.parquet"


def generate_demo_feed(
    out: Path,
    seed: int = 7,
    n_skus: int = 320,
    end_date: str = "2024-06-30",
    years: int = 3,
    truth_path: Path | None = None,
) -> dict:
    """Write a synthetic retail chain as a contract feed into ``out``.

    Parameters
    ----------
    out : Path
        Feed directory to (re)write: products, locations, promotions, drivers, events,
        purchase_orders, suppliers and transfer_lanes as CSV; sales and inventory as Parquet.
    seed : int
        Seed of the only random generator: the same arguments give byte-identical files.
    n_skus : int
        Number of SKUs (>= 8, so every category and the cold-start and inactive items exist).
    end_date : str
        Last day of history (ISO date); promotions, drivers and events run 28 days beyond.
    years : int
        Years of daily history ending at ``end_date``.
    truth_path : Path, optional
        Parquet file for the uncensored demand (date, sku, location, demand, expected_demand).
        Default ``out.parent / f"{out.name}_truth" / "true_demand.parquet"``. The demand of the
        28 days after ``end_date`` goes beside it as ``true_demand_future.parquet``.

    Returns
    -------
    dict
        ``tables`` (table -> rows), ``series``, ``stockout_share`` (share of series-days that
        close with zero stock), ``lost_sales_share`` (share of series-days with unmet demand),
        ``truth_path``, ``truth_future_path``, ``churn_truth_path`` (customer_churn.parquet),
        ``customers``, ``regular_customers``, ``churned_after_stockouts``, ``seconds``.
    """
    started = time.perf_counter()
    if n_skus < 8:
        raise ValueError(f"n_skus must be >= 8 for a complete demo chain, got {n_skus}")
    if years < 1:
        raise ValueError(f"years must be >= 1, got {years}")
    out = Path(out)
    truth = Path(truth_path) if truth_path is not None else default_truth_path(out)
    if _is_within(truth, out):
        raise ValueError(f"truth_path {truth} must lie outside the feed directory {out}")
    end = pd.Timestamp(end_date)
    start = end - pd.DateOffset(years=years) + pd.Timedelta(days=1)
    history = pd.date_range(start, end, freq="D")
    calendar = pd.date_range(start, end + pd.Timedelta(days=FUTURE_DAYS), freq="D")
    n_hist = len(history)
    rng = np.random.default_rng(seed)

    chain = _draw_chain(rng, n_skus, calendar, n_hist)
    feed = prepare_feed_dir(out)
    tables, churn_truth, true_hits = _feed_tables(rng, seed, chain, history, calendar)
    rows = {name: (write_parquet if name in _PARQUET else write_csv)(frame, feed, name)
            for name, frame in tables.items()}
    sim, demand = chain["sim"], chain["demand"]
    truth_future = write_truth(truth, chain["series"], sim, demand, chain["expected"],
                               calendar, n_hist, chain["sku_codes"], chain["loc_codes"])
    churn_path = truth.parent / "customer_churn.parquet"
    write_churn_truth(churn_truth, churn_path)
    write_churn_truth(true_hits, truth.parent / "customer_hits.parquet")
    active_days = sim["active"][:, :n_hist]
    summary = {
        "tables": rows,
        "series": int(len(chain["series"]["sku_idx"])),
        "stockout_share": float(
            (sim["on_hand"][:, :n_hist] == 0)[active_days].mean()
        ),
        "lost_sales_share": float(
            (sim["sold"][:, :n_hist] < demand[:, :n_hist])[active_days].mean()
        ),
        "truth_path": str(truth),
        "truth_future_path": str(truth_future),
        "churn_truth_path": str(churn_path),
        "customers": int(len(churn_truth)),
        "regular_customers": int((churn_truth["kind"] == "regular").sum()),
        "churned_after_stockouts": int((churn_truth["cause"] == "stockout").sum()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("demo feed in %s: %s", out, summary)
    return summary


def _draw_chain(rng: np.random.Generator, n_skus: int, calendar: pd.DatetimeIndex,
                n_hist: int) -> dict:
    """The chain before any table: items, assortment, demand and the simulated stock.

    Everything the tables are cut from is drawn here, in the order of the module docstring;
    the demand covers the whole ``calendar`` (history and the ``FUTURE_DAYS`` after it), the
    stock the ``n_hist`` days of history. Returns ``products`` (finished with the stock's
    facts), ``sku_info``, ``series``, ``temperature``, ``events``, ``promotions``,
    ``discount``, ``expected``, ``demand``, ``sim`` and each series' ``sku_codes`` and
    ``loc_codes``.
    """
    products, sku_info = draw_products(rng, n_skus, n_hist)
    series = draw_assortment(rng, sku_info)
    temperature = draw_temperature(rng, calendar)
    events, holiday_lift = calendar_effects(calendar)
    promotions, discount = draw_promotions(rng, sku_info, series, calendar, n_hist)
    expected = expected_demand(
        rng, sku_info, series, calendar, temperature, holiday_lift, discount
    )
    k = sku_info["k"][series["sku_idx"]][:, None]
    demand = rng.negative_binomial(k, k / (k + expected)).astype(np.int64)
    log.info("drew demand for %d series over %d days", len(series["sku_idx"]), len(calendar))

    sim = simulate_inventory(rng, sku_info, series, expected, demand, discount, n_hist)
    products = finish_products(products, sku_info, series, sim)
    return {
        "products": products, "sku_info": sku_info, "series": series,
        "temperature": temperature, "events": events, "promotions": promotions,
        "discount": discount, "expected": expected, "demand": demand, "sim": sim,
        "sku_codes": sku_info["sku"][series["sku_idx"]],
        "loc_codes": np.array([loc[0] for loc in LOCATIONS])[series["loc_idx"]],
    }


def _feed_tables(rng: np.random.Generator, seed: int, chain: dict, history: pd.DatetimeIndex,
                 calendar: pd.DatetimeIndex) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The feed tables cut from the ``chain``, and the truth about the customers.

    Only the sales draw from ``rng`` (the returns) after the chain; the customers come from a
    generator of their own (``seed``), so the demand, stock and daily sales totals stay those
    of the chain with or without them (restock.feed.demo.customers). Returns
    ``{table: frame}`` in the order the files are written (``_PARQUET`` as Parquet, the rest
    as CSV), the churn truth and the true hits.
    """
    series, sim, demand = chain["series"], chain["sim"], chain["demand"]
    sku_codes, loc_codes = chain["sku_codes"], chain["loc_codes"]
    n_hist = len(history)
    sales = sales_table(rng, chain["sku_info"], series, sim, chain["discount"], history,
                        sku_codes, loc_codes)
    customers = simulate_customers(seed, series, demand[:, :n_hist], sim["sold"],
                                   sim["active"], len(LOCATIONS))
    sales, churn_truth, true_hits = customer_sales(sales, customers, history, sku_codes,
                                                   loc_codes,
                                                   np.array([loc[0] for loc in LOCATIONS]))
    inventory = inventory_table(series, sim, history, sku_codes, loc_codes)
    purchase_orders = purchase_order_table(sim, history, sku_codes, loc_codes)
    locations = pd.DataFrame(
        [loc[:5] for loc in LOCATIONS], columns=["location", "name", "region", "type", "timezone"]
    )
    drivers = drivers_table(chain["temperature"], calendar)
    tables = {
        "products": chain["products"],
        "locations": locations,
        "sales": sales,
        "inventory": inventory,
        "purchase_orders": purchase_orders,
        "promotions": chain["promotions"],
        "drivers": drivers,
        "events": chain["events"],
        # fixed tables, no draws: every table above is the same with or without them
        "suppliers": suppliers_table(),
        "transfer_lanes": transfer_lanes_table(),
    }
    return tables, churn_truth, true_hits


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
