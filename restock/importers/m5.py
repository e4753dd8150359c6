"""Walmart M5 (store CA_1, ../shared/data/m5_ca1) -> a contract feed.

Faithful conversion, no cleaning:

- products: one row per item (``sku`` = item_id, ``category`` = cat_id, ``subcategory`` =
  dept_id, ``unit_price`` = the item's latest weekly sell price, ``lead_time_days`` = the
  ``lead_time_days`` option, default 7: M5 has no supplier data, and a week is a plausible
  store-replenishment cycle for a Walmart supercentre; override it when you know better).
- locations: each store_id in the file (CA_1), type store, region = state_id.
- sales: the wide d_1..d_1969 columns unpivoted to one row per non-zero item-day (the contract
  reads missing days as zero), date from the calendar, unit_price = that week's sell price
  (empty when the item had no price that week), channel ``store``. All dates are kept: the
  pipeline applies ``as_of`` itself.
- events: calendar event_name_1 / event_name_2 with their event types.
- drivers: ``snap`` (SNAP food-stamp day, 0/1) from snap_CA for every store of state CA.

M5 has no stock data (no inventory table) and no promotions.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb
import pandas as pd

from restock.importers.common import (
    copy_to_parquet,
    prepare_feed_dir,
    require_columns,
    require_file,
    sql_path,
    write_csv,
)
from restock.warehouse import quote_identifier

log = logging.getLogger("restock.importers.m5")

_ITEM_COLUMNS = ["id", "item_id", "dept_id", "cat_id", "store_id", "state_id"]


def import_m5(src: Path, out: Path, lead_time_days: float = 7) -> dict:
    """Convert the M5 files in ``src`` into a contract feed in ``out``.

    Parameters
    ----------
    src : Path
        Folder with ``sales_wide.parquet``, ``sell_prices.parquet`` and ``calendar.parquet``.
    out : Path
        Feed directory to write: sales as Parquet; products, locations, events and drivers
        as CSV.
    lead_time_days : float
        Supplier lead time written for every product (M5 has none); must be > 0.

    Returns
    -------
    dict
        ``tables`` (table -> rows written), ``source_rows`` (items), ``days``, ``seconds``.
    """
    started = time.perf_counter()
    if not lead_time_days >= 0:  # 0 = same-day supply
        raise ValueError(f"lead_time_days must be >= 0, got {lead_time_days!r}")
    src = Path(src)
    wide = require_file(src / "sales_wide.parquet", "M5 import")
    prices = require_file(src / "sell_prices.parquet", "M5 import")
    calendar = require_file(src / "calendar.parquet", "M5 import")
    feed = prepare_feed_dir(out)

    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        day_columns = _open_sources(con, wide, prices, calendar)
        rows = {"sales": _write_sales(con, day_columns, feed)}
        tables = {
            "products": _products(con, lead_time_days),
            "locations": _locations(con),
            "events": _events(con),
            "drivers": _drivers(con),
        }
        n_items = con.execute("select count(*) from wide").fetchone()[0]

    for name in ("products", "locations", "events", "drivers"):
        rows[name] = write_csv(tables[name], feed, name)
    summary = {
        "tables": rows,
        "source_rows": int(n_items),
        "days": len(day_columns),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("M5 feed in %s: %s", out, summary)
    return summary


def _open_sources(
    con: duckdb.DuckDBPyConnection, wide: Path, prices: Path, calendar: Path
) -> list[str]:
    """Views ``wide``, ``prices`` and ``calendar`` over the files; returns the day columns.

    Checks the columns every later step reads, and that the calendar dates every day column,
    before anything is written.
    """
    con.execute(f"create view wide as select * from read_parquet('{sql_path(wide)}')")
    con.execute(f"create view prices as select * from read_parquet('{sql_path(prices)}')")
    con.execute(f"create view calendar as select * from read_parquet('{sql_path(calendar)}')")
    wide_columns = [d[0] for d in con.execute("select * from wide limit 0").description]
    require_columns(wide_columns, _ITEM_COLUMNS, f"{wide.name}")
    day_columns = [c for c in wide_columns if c.startswith("d_")]
    if not day_columns:
        raise ValueError(f"{wide.name} has no d_<n> day columns")
    require_columns(
        [d[0] for d in con.execute("select * from calendar limit 0").description],
        ["date", "d", "wm_yr_wk", "event_name_1", "event_type_1", "event_name_2",
         "event_type_2", "snap_CA"],
        calendar.name,
    )
    undated = con.execute(
        "select count(*) from (select unnest(?::varchar[]) as d) w "
        "anti join calendar c using (d)",
        [day_columns],
    ).fetchone()[0]
    if undated:
        raise ValueError(f"{undated} day columns of {wide.name} are not in {calendar.name}")
    return day_columns


def _write_sales(con: duckdb.DuckDBPyConnection, day_columns: list[str], feed: Path) -> int:
    """Sales as Parquet: the day columns unpivoted, one row per non-zero item-day.

    INCLUDE NULLS: an item-day with an empty cell becomes a sales row with an empty quantity,
    which the pipeline rejects with a reason instead of reading it as zero.
    """
    day_list = ", ".join(quote_identifier(c) for c in day_columns)
    con.execute(
        "create table long as select item_id, store_id, d, quantity from wide "
        f"unpivot include nulls (quantity for d in ({day_list}))"
    )
    return copy_to_parquet(
        con,
        """
        select c.date::date as date, l.item_id as sku, l.store_id as location,
               l.quantity::integer as quantity, 'store' as channel,
               p.sell_price as unit_price
        from long l
        join calendar c on c.d = l.d
        left join prices p
          on p.item_id = l.item_id and p.store_id = l.store_id and p.wm_yr_wk = c.wm_yr_wk
        where l.quantity <> 0 or l.quantity is null
        order by date, sku
        """,
        feed,
        "sales",
    )


def _products(con: duckdb.DuckDBPyConnection, lead_time_days: float) -> pd.DataFrame:
    """One product per item, priced at its latest weekly sell price."""
    return con.execute(
        """
        select w.item_id as sku, w.item_id as name, w.cat_id as category,
               w.dept_id as subcategory, ?::double as lead_time_days,
               arg_max(p.sell_price, p.wm_yr_wk) as unit_price
        from wide w
        left join prices p on p.item_id = w.item_id and p.store_id = w.store_id
        group by all
        order by sku
        """,
        [float(lead_time_days)],
    ).df()


def _locations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The stores of the file, with their state's time zone."""
    return con.execute(
        """
        select distinct store_id as location, 'Walmart ' || store_id as name,
               state_id as region, 'store' as type,
               case state_id when 'CA' then 'America/Los_Angeles'
                             when 'TX' then 'America/Chicago'
                             when 'WI' then 'America/Chicago' end as timezone
        from wide order by location
        """
    ).df()


def _events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The calendar's events, both name columns, all locations."""
    return con.execute(
        """
        select date::date as date, null::varchar as location, name, type from (
            select date, event_name_1 as name, event_type_1 as type from calendar
            where event_name_1 is not null
            union all
            select date, event_name_2, event_type_2 from calendar
            where event_name_2 is not null
        ) order by date, name
        """
    ).df()


def _drivers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """SNAP days (snap_CA, 0/1) for every store of state CA."""
    return con.execute(
        """
        select c.date::date as date, s.store_id as location, 'snap' as driver,
               c.snap_CA::double as value
        from calendar c
        cross join (select distinct store_id from wide where state_id = 'CA') s
        order by date, location
        """
    ).df()
