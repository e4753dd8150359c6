"""FreshRetailNet-50K (../shared/data/freshretailnet) -> a contract feed.

The reference case for censored demand: every store-product-day carries the hours the product
was out of stock. Faithful conversion, no cleaning:

- products: one row per distinct (product_id, category ids): ``sku`` = product_id,
  ``category`` = first_category_id, ``subcategory`` = second_category_id (as text), extra columns
  ``management_group_id`` and ``third_category_id``; ``lead_time_days`` = the option (default 1:
  fresh goods are replenished daily).
- locations: ``location`` = store_id, ``region`` = city_id, type ``store``, timezone
  Asia/Shanghai.
- sales: one row per store-product-day with a non-zero ``daily_sale`` (normalised units, not
  integers; the contract reads missing days as zero), ``promo`` = activity_flag = 1, extra column
  ``discount`` (the source's price ratio, 1 = full price).
- inventory: EVERY store-product-day with ``stockout_hours`` (0..24 in the source); no on_hand.
- promotions: each run of consecutive activity days of a store-product becomes one promotion
  (``type`` = ``activity``), ``discount_pct`` = 100 x (1 - mean price ratio over the run).
- drivers: per store and day ``precipitation`` (precpt), ``temperature`` (avg_temperature),
  ``humidity`` (avg_humidity) and ``wind_level`` (avg_wind_level).
- events: each date with holiday_flag = 1 (name and type ``holiday``, all locations).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from restock.importers.common import (
    copy_to_parquet,
    prepare_feed_dir,
    require_columns,
    sql_path,
    write_csv,
)

log = logging.getLogger("restock.importers.freshretailnet")

_FILE = re.compile(r"frn50k_daily_city(\d+)\.parquet$")
SOURCE_COLUMNS = [
    "city_id", "store_id", "management_group_id", "first_category_id", "second_category_id",
    "third_category_id", "product_id", "dt", "daily_sale", "stockout_hours", "discount",
    "holiday_flag", "activity_flag", "precpt", "avg_temperature", "avg_humidity",
    "avg_wind_level",
]
DRIVERS = {
    "precipitation": "precpt",
    "temperature": "avg_temperature",
    "humidity": "avg_humidity",
    "wind_level": "avg_wind_level",
}


def city_files(src: Path, cities: list[int] | None = None) -> list[Path]:
    """The daily city files in ``src``, all or those of ``cities``; errors name what is missing."""
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"FreshRetailNet import: folder {src} does not exist")
    found = {int(m.group(1)): p for p in sorted(src.iterdir()) if (m := _FILE.search(p.name))}
    if not found:
        raise FileNotFoundError(f"FreshRetailNet import: no frn50k_daily_cityNN.parquet in {src}")
    if cities is None:
        return [found[c] for c in sorted(found)]
    missing = sorted(set(cities) - set(found))
    if missing:
        raise FileNotFoundError(
            f"FreshRetailNet import: no file for city {missing} in {src}; have {sorted(found)}"
        )
    return [found[c] for c in sorted(set(cities))]


def import_freshretailnet(
    src: Path,
    out: Path,
    cities: list[int] | None = None,
    max_series: int | None = None,
    seed: int = 0,
    lead_time_days: float = 1,
) -> dict:
    """Convert FreshRetailNet-50K daily files in ``src`` into a contract feed in ``out``.

    Parameters
    ----------
    src : Path
        Folder with ``frn50k_daily_cityNN.parquet`` files.
    out : Path
        Feed directory to write: sales and inventory as Parquet, the rest as CSV.
    cities : list of int, optional
        City ids to import (default: every city file present).
    max_series : int, optional
        Keep at most this many store-product series, sampled with ``seed`` (deterministic), to
        keep tests and trials small. Default: all.
    seed : int
        Seed of the series sample.
    lead_time_days : float
        Lead time written for every product; must be > 0.

    Returns
    -------
    dict
        ``tables`` (table -> rows written), ``series``, ``source_rows`` (rows of the selected
        series in the source), ``files``, ``seconds``.
    """
    started = time.perf_counter()
    if not lead_time_days >= 0:  # 0 = same-day supply
        raise ValueError(f"lead_time_days must be >= 0, got {lead_time_days!r}")
    if max_series is not None and max_series < 1:
        raise ValueError(f"max_series must be >= 1 or None, got {max_series!r}")
    files = city_files(Path(src), cities)
    feed = prepare_feed_dir(out)

    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        series = _select_series(con, files, max_series, seed)
        rows = _write_daily_tables(con, feed)
        tables = {
            **_dimension_tables(con, lead_time_days),
            "promotions": _promotions(con),
            "drivers": _drivers(con),
            "events": _events(con),
        }
        source_rows = con.execute("select count(*) from frn").fetchone()[0]

    for name in ("products", "locations", "promotions", "drivers", "events"):
        rows[name] = write_csv(tables[name], feed, name)
    summary = {
        "tables": rows,
        "series": int(len(series)),
        "source_rows": int(source_rows),
        "files": [p.name for p in files],
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("FreshRetailNet feed in %s: %s", out, summary)
    return summary


def _select_series(
    con: duckdb.DuckDBPyConnection, files: list[Path], max_series: int | None, seed: int
) -> pd.DataFrame:
    """Table ``frn``: the source rows of the chosen store-product series; returns the series.

    Every later step reads ``frn``, so a ``max_series`` sample (seeded, deterministic) applies
    to all tables alike.
    """
    file_list = ", ".join(f"'{sql_path(p)}'" for p in files)
    con.execute(f"create view source as select * from read_parquet([{file_list}])")
    require_columns(
        [d[0] for d in con.execute("select * from source limit 0").description],
        SOURCE_COLUMNS,
        f"FreshRetailNet files {[p.name for p in files]}",
    )
    series = con.execute(
        "select distinct store_id, product_id from source order by store_id, product_id"
    ).df()
    if max_series is not None and max_series < len(series):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(series), max_series, replace=False))
        series = series.iloc[pick].reset_index(drop=True)
    con.register("chosen_series", series)
    con.execute(
        "create table frn as select s.* from source s "
        "semi join chosen_series c using (store_id, product_id)"
    )
    return series


def _write_daily_tables(con: duckdb.DuckDBPyConnection, feed: Path) -> dict[str, int]:
    """Sales and inventory, the two tables with a row per store-product-day, as Parquet.

    Rows written per table. The source holds float32; casting through text keeps the decimal
    the data set shows (0.6, not 0.6000000238) in the feed's doubles.
    """
    return {
        "sales": copy_to_parquet(
            con,
            """
            select dt::date as date, product_id::varchar as sku,
                   store_id::varchar as location, daily_sale::varchar::double as quantity,
                   'store' as channel, activity_flag = 1 as promo,
                   discount::varchar::double as discount
            from frn
            where daily_sale <> 0 or daily_sale is null
            order by date, location, sku
            """,
            feed,
            "sales",
        ),
        "inventory": copy_to_parquet(
            con,
            """
            select dt::date as date, product_id::varchar as sku,
                   store_id::varchar as location, stockout_hours::double as stockout_hours
            from frn
            order by date, location, sku
            """,
            feed,
            "inventory",
        ),
    }


def _dimension_tables(
    con: duckdb.DuckDBPyConnection, lead_time_days: float
) -> dict[str, pd.DataFrame]:
    """Products (with the one lead time given) and locations (stores, city as region)."""
    products = con.execute(
        """
        select distinct product_id::varchar as sku, 'product ' || product_id as name,
               first_category_id::varchar as category,
               second_category_id::varchar as subcategory,
               ?::double as lead_time_days,
               management_group_id, third_category_id
        from frn order by product_id, category, subcategory
        """,
        [float(lead_time_days)],
    ).df()
    locations = con.execute(
        """
        select distinct store_id::varchar as location, 'store ' || store_id as name,
               city_id::varchar as region, 'store' as type, 'Asia/Shanghai' as timezone
        from frn order by store_id, region
        """
    ).df()
    return {"products": products, "locations": locations}


def _promotions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One promotion per run of consecutive activity days of a store-product.

    Gaps and islands: a day minus its rank among the series' activity days is constant within
    a run of consecutive days.
    """
    return con.execute(
        """
        with active as (
            select store_id, product_id, dt::date as day, discount,
                   dt::date - (row_number() over (
                       partition by store_id, product_id order by dt))::integer as island
            from frn where activity_flag = 1
        )
        select product_id::varchar as sku, null::varchar as category,
               store_id::varchar as location, min(day) as start_date, max(day) as end_date,
               round(100 * (1 - avg(discount::varchar::double)), 2) as discount_pct,
               'activity' as type
        from active group by store_id, product_id, island
        order by start_date, location, sku
        """
    ).df()


def _drivers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The weather of each store and day, one row per driver (:data:`DRIVERS`)."""
    driver_selects = " union all ".join(
        f"select date, location, '{name}' as driver, {column}::varchar::double as value "
        "from days"
        for name, column in DRIVERS.items()
    )
    drivers = con.execute(
        f"""
        with days as (
            select distinct dt::date as date, store_id::varchar as location,
                   precpt, avg_temperature, avg_humidity, avg_wind_level
            from frn
        )
        {driver_selects}
        order by date, location, driver
        """
    ).df()
    return pd.DataFrame(drivers)


def _events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every holiday date, for all locations."""
    return con.execute(
        """
        select distinct dt::date as date, null::varchar as location,
               'holiday' as name, 'holiday' as type
        from frn where holiday_flag = 1 order by date
        """
    ).df()
