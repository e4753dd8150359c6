"""``restock import spare-parts``: one workbook -> products, locations, sales and feed.yml.

The driver of the steps in the sibling modules; the format it accepts is described in
:mod:`restock.importers.spare_parts`.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from restock.importers.common import prepare_feed_dir, write_csv
from restock.importers.spare_parts.cells import (
    Where,
)
from restock.importers.spare_parts.long import read_long
from restock.importers.spare_parts.options import SparePartsOptions
from restock.importers.spare_parts.products import build_products
from restock.importers.spare_parts.sheet import choose_sheet, find_workbook
from restock.importers.spare_parts.wide import read_wide

log = logging.getLogger("restock.importers.spare_parts")

# Locations known from the reference data sets (region and timezone are not in the files).
KNOWN_LOCATIONS = {"MAN": {"region": "NL", "timezone": "Europe/Amsterdam"}}


def import_spare_parts(src: Path, out: Path, **options) -> dict:
    """Convert a spare-parts workbook into a contract feed (products, locations, sales).

    Parameters
    ----------
    src : Path
        A workbook (.xlsx / .xls) or a folder holding exactly one.
    out : Path
        Feed directory to write: products, locations and sales as CSV, and ``feed.yml``
        with the grain.
    **options
        Fields of :class:`SparePartsOptions` (sheet, layout, grain, end, the ``*_column``
        names, lead_time_unit, lead_time_days, location).

    Returns
    -------
    dict
        ``tables`` (table -> rows written), ``file``, ``sheet``, ``layout``, ``grain``,
        ``parts``, ``periods``, ``first_period``, ``last_period``, ``lead_time_unit``,
        ``rows_without_sku``, ``empty_cells``, ``unreadable_cells``, ``seconds``.

    Raises
    ------
    SourceFormatError
        When the workbook does not fit; one line naming the file, sheet, row and column.
    """
    started = time.perf_counter()
    opts = SparePartsOptions(**options)
    path = find_workbook(Path(src))
    sheet_name, layout, sheet, header = choose_sheet(path, opts)
    where = Where(path, sheet_name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_").upper() or "SPARES"
    location = opts.location or stem
    read = read_wide if layout == "wide" else read_long
    parts, sales, stats = read(sheet, header, opts, where, location)
    products, unreadable, unit = build_products(parts, header, opts, stem, where)
    stats["unreadable_cells"] += unreadable
    feed = prepare_feed_dir(out)

    sales = sales.sort_values(["date", "location", "sku"], kind="stable",
                              key=_sku_order).reset_index(drop=True)
    codes = sorted(set(sales["location"]) | {location}) if "location" in header.fields \
        and len(sales) else [location]
    locations = pd.DataFrame([{
        "location": code, "name": f"{code} spare parts warehouse",
        "region": KNOWN_LOCATIONS.get(code, {}).get("region"), "type": "dc",
        "timezone": KNOWN_LOCATIONS.get(code, {}).get("timezone"),
    } for code in codes])
    rows = {
        "products": write_csv(products, feed, "products"),
        "locations": write_csv(locations, feed, "locations"),
        "sales": write_csv(sales, feed, "sales"),
    }
    grain = stats.pop("grain")
    (feed / "feed.yml").write_text(
        "# written by restock import spare-parts (DATA_CONTRACT v1.1): each sales row is the\n"
        f"# total of the {grain} that starts on its date\ngrain: {grain}\n", encoding="utf-8")
    summary = {
        "tables": rows, "file": path.name, "sheet": sheet_name, "layout": layout,
        "grain": grain, "parts": int(len(products)), **stats, "lead_time_unit": unit,
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("spare parts feed in %s: %s", out, summary)
    return summary


def _sku_order(column: pd.Series) -> pd.Series:
    """Sort key: numeric SKU numbers in number order (2 before 10), other text after."""
    if column.name != "sku":
        return column
    return pd.to_numeric(column, errors="coerce").fillna(np.inf)
