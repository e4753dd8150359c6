"""UCI Online Retail II (../shared/data/uci_online_retail) -> a contract feed.

Faithful conversion of raw invoice lines, no cleaning: every source row becomes one sales row,
so cancellations, negative quantities, missing customers, odd stock codes and duplicate lines
all reach the pipeline, which quarantines what it cannot use.

Choices, documented because the source does not make them:

- sales: ``order_id`` = Invoice (``C...`` = cancellation, ``A...`` = bad-debt adjustment, kept
  as is); ``line_id`` = the line's 1-based position within its invoice in file order. The source
  has no line number, and it holds exact duplicate lines (same invoice, code, quantity, time and
  price); numbering them keeps them as distinct lines (the contract's dedup key cannot tell a
  genuine repeated scan from a double load, so we keep what the source says). ``date`` =
  InvoiceDate as a timestamp, ``quantity`` = Quantity, ``unit_price`` = Price, ``customer_id`` =
  Customer ID as an integer text (missing stays missing), ``location`` = Country (the seller
  ships from the UK; the customer's country is the only place dimension), ``channel`` =
  ``online``, plus the extra column ``description`` (the line's Description) to make the
  quarantine readable.
- products: one row per *regular* StockCode, i.e. five digits with an optional letter suffix
  (regex ``[0-9]{5}[A-Za-z]*``, case kept: ``85123A`` and ``85123a`` are two codes as in the
  source). Service and odd codes (POST, DOT, M, C2, D, BANK CHARGES, AMAZONFEE, ADJUST, DCGS...,
  gift_..., TEST..., codes with stray spaces) are not products, so their sales lines are
  quarantined as unknown SKUs. ``name`` = the code's most common non-empty Description (ties:
  alphabetically first); ``unit_price`` = median Price of its lines with Quantity > 0 and
  Price > 0; ``lead_time_days`` = the ``lead_time_days`` option (default 14: the seller imports
  much of its range; the data set has no supplier data).
- category: the first rule of :data:`CATEGORY_KEYWORDS` whose keyword (a whole word, optional
  plural ``S``) appears in the upper-cased name; else ``GENERAL``. Reproducible and readable,
  not a taxonomy.
- locations: one per Country, type ``online``, timezone Europe/London (the seller's business
  day).
"""

from __future__ import annotations

import logging
import re
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

log = logging.getLogger("restock.importers.online_retail")

SOURCE_FILE = "online_retail_II_2009_2010.parquet"
REGULAR_STOCK_CODE = r"[0-9]{5}[A-Za-z]*"
SOURCE_COLUMNS = [
    "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID",
    "Country",
]

# First matching rule wins, so the specific themes come before the broad ones.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CHRISTMAS", ("CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "SNOWFLAKE", "NATIVITY")),
    ("LIGHTING", ("LIGHT", "LANTERN", "CANDLE", "T-LIGHT", "LAMP", "NIGHTLIGHT")),
    ("BAGS", ("BAG", "PURSE", "TOTE", "SHOPPER", "BACKPACK")),
    ("KITCHEN", ("MUG", "CUP", "PLATE", "BOWL", "TEA", "TEAPOT", "CAKE", "BAKING", "JAR",
                 "BOTTLE", "LUNCH BOX", "NAPKIN", "KITCHEN", "CUTLERY", "TIN", "CAKESTAND",
                 "APRON", "COASTER", "TRAY", "SPOON")),
    ("STATIONERY", ("CARD", "WRAP", "PAPER", "NOTEBOOK", "PEN", "PENCIL", "STICKER", "TAPE",
                    "ENVELOPE", "CALENDAR", "DIARY", "CHALK")),
    ("TOYS", ("TOY", "GAME", "DOLL", "PUZZLE", "JIGSAW", "SPACEBOY", "TEDDY", "PLAYHOUSE",
              "SKITTLES", "DOMINOES", "BALLOON")),
    ("JEWELLERY", ("NECKLACE", "BRACELET", "EARRING", "RING", "JEWEL", "HAIR", "BROOCH")),
    ("GARDEN", ("GARDEN", "PLANT", "FLOWER POT", "WATERING", "BIRD", "PLANTER", "HERB")),
    ("DECOR", ("SIGN", "FRAME", "CLOCK", "MIRROR", "CUSHION", "DOORMAT", "HEART", "ORNAMENT",
               "DECORATION", "HANGING", "VASE", "WREATH", "GARLAND", "BUNTING", "HOOK")),
)
_CATEGORY_PATTERNS = [
    (category, re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")S?\b"))
    for category, keys in CATEGORY_KEYWORDS
]


def category_for(name: str | None) -> str:
    """Category of a product name by :data:`CATEGORY_KEYWORDS`; ``GENERAL`` if none match."""
    if not name:
        return "GENERAL"
    text = name.upper()
    for category, pattern in _CATEGORY_PATTERNS:
        if pattern.search(text):
            return category
    return "GENERAL"


def import_online_retail(src: Path, out: Path, lead_time_days: float = 14) -> dict:
    """Convert UCI Online Retail II invoice lines in ``src`` into a contract feed in ``out``.

    Parameters
    ----------
    src : Path
        Folder holding ``online_retail_II_2009_2010.parquet`` (or the file itself).
    out : Path
        Feed directory to write: sales as Parquet; products and locations as CSV.
    lead_time_days : float
        Supplier lead time written for every product; must be > 0.

    Returns
    -------
    dict
        ``tables`` (table -> rows written), ``source_rows``, ``products_skipped`` (odd stock
        codes left out of products), ``seconds``.
    """
    started = time.perf_counter()
    if not lead_time_days >= 0:  # 0 = same-day supply
        raise ValueError(f"lead_time_days must be >= 0, got {lead_time_days!r}")
    src = Path(src)
    source = require_file(src if src.is_file() else src / SOURCE_FILE, "Online Retail import")
    feed = prepare_feed_dir(out)

    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.execute(
            "create view lines as select * from "
            f"read_parquet('{sql_path(source)}', file_row_number = true)"
        )
        require_columns(
            [d[0] for d in con.execute("select * from lines limit 0").description],
            SOURCE_COLUMNS,
            source.name,
        )
        source_rows = con.execute("select count(*) from lines").fetchone()[0]
        rows = {
            "sales": copy_to_parquet(
                con,
                """
                select strptime("InvoiceDate", '%Y-%m-%d %H:%M:%S') as date,
                       "StockCode" as sku,
                       "Country" as location,
                       "Quantity" as quantity,
                       'online' as channel,
                       "Price" as unit_price,
                       "Invoice" as order_id,
                       row_number() over (partition by "Invoice" order by file_row_number)::varchar
                           as line_id,
                       cast(cast("Customer ID" as bigint) as varchar) as customer_id,
                       "Description" as description
                from lines
                order by file_row_number
                """,
                feed,
                "sales",
            )
        }
        if rows["sales"] != source_rows:
            raise RuntimeError(
                f"sales rows written ({rows['sales']}) differ from {source.name} ({source_rows})"
            )
        products = con.execute(
            f"""
            with regular as (
                select * from lines where regexp_full_match("StockCode", '{REGULAR_STOCK_CODE}')
            ),
            names as (
                select "StockCode" as sku, "Description" as name, count(*) as n
                from regular where "Description" is not null and trim("Description") <> ''
                group by all
            ),
            best_name as (
                select sku, name from (
                    select sku, name,
                           row_number() over (partition by sku order by n desc, name) as rank
                    from names
                ) where rank = 1
            ),
            prices as (
                select "StockCode" as sku,
                       median("Price") filter (where "Quantity" > 0 and "Price" > 0)
                           as unit_price
                from regular group by all
            )
            select p.sku, b.name, p.unit_price
            from prices p left join best_name b using (sku)
            order by p.sku
            """
        ).df()
        locations = con.execute(
            """
            select distinct "Country" as location, "Country" as name, "Country" as region,
                   'online' as type, 'Europe/London' as timezone
            from lines where "Country" is not null order by location
            """
        ).df()
        codes = con.execute('select count(distinct "StockCode") from lines').fetchone()[0]

    products.insert(2, "category", [category_for(n) for n in products["name"]])
    products.insert(3, "lead_time_days", float(lead_time_days))
    products = products[["sku", "name", "category", "lead_time_days", "unit_price"]]
    rows["products"] = write_csv(products, feed, "products")
    rows["locations"] = write_csv(pd.DataFrame(locations), feed, "locations")
    summary = {
        "tables": rows,
        "source_rows": int(source_rows),
        "products_skipped": int(codes - len(products)),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("Online Retail feed in %s: %s", out, summary)
    return summary
