"""Industrial spare parts (MAN, ../shared/data/spare_parts/MAN.xlsx) -> a contract feed.

The reference case for intermittent B2B demand with MOQs and long lead times. Sheet ``Data``:
a header over rows 0-5 (the column meaning in rows 0-3, the lead-time legend ``16w/asia`` /
``7w/nl`` in rows 4-5), one row per part from row 6, and a few summary rows below the parts
(no SKU number), which are not parts and are not imported. Columns: SKU nr, products per unit
(sub packaging), cost price per unit, fixed cost per order (EUR), inventory cost per unit
(EUR per year), lead time (weeks), min. order quantity (units), then weekly demand in units from
2012 week 1 to 2014 week 46, then per-part statistics (not imported).

Faithful conversion, no cleaning:

- products: ``sku`` = SKU nr, ``unit_cost`` = cost price, ``lead_time_days`` = lead time weeks
  x 7, ``moq`` = minimum order quantity, ``supplier`` and ``category`` from the only grouping
  the file has, the sourcing region told by the lead time (16 weeks = ``ASIA``, 7 weeks =
  ``NL``; category ``SPARES_ASIA`` / ``SPARES_NL``, else ``SPARES_OTHER``). Extra columns:
  ``fixed_order_cost`` (EUR per order), ``holding_cost_per_year`` (EUR per unit per year; 20%
  of the cost price in this file), ``products_per_unit`` (sub packaging).
- locations: one, ``MAN`` (type dc).
- sales: one row per part-week with non-zero demand, dated on the Monday of the ISO week
  (``date.fromisocalendar(year, week, 1)``); fractional demand cells are kept as they are.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from restock.importers.common import prepare_feed_dir, require_file, write_csv

log = logging.getLogger("restock.importers.spare_parts")

SHEET = "Data"
FIRST_DATA_ROW = 6
LOCATION = "MAN"
_WEEK = re.compile(r"^\s*week\s*(\d{1,2})\s*$", re.IGNORECASE)
_REGIONS = {16: "ASIA", 7: "NL"}
# header text (row 0, lower case) -> column meaning; the file's own labels
_FIELDS = {
    "sku nr": "sku",
    "products": "products_per_unit",
    "cost price": "unit_cost",
    "fixed cost": "fixed_order_cost",
    "inventory cost": "holding_cost_per_year",
    "lead time": "lead_time_weeks",
    "min. order quantity": "moq",
}


def read_man_sheet(path: Path) -> tuple[pd.DataFrame, list[date], pd.DataFrame]:
    """Read MAN.xlsx: part attributes, the Monday of each demand week, the demand matrix.

    Returns ``(parts, week_starts, demand)`` where ``demand`` has one row per part (aligned with
    ``parts``) and one column per week in ``week_starts``.
    """
    path = require_file(path, "spare parts import")
    sheet = pd.read_excel(path, sheet_name=SHEET, header=None, engine="openpyxl")
    header = sheet.iloc[0]
    columns: dict[str, int] = {}
    for index, label in header.items():
        if isinstance(label, str) and label.strip().lower() in _FIELDS:
            columns[_FIELDS[label.strip().lower()]] = int(index)
    missing = sorted(set(_FIELDS.values()) - set(columns))
    if missing:
        raise ValueError(f"{path.name} sheet {SHEET}: header row 0 lacks {missing}")

    week_columns: list[int] = []
    weeks: list[int] = []
    for index, label in sheet.iloc[1].items():
        match = _WEEK.match(label) if isinstance(label, str) else None
        if match:
            week_columns.append(int(index))
            weeks.append(int(match.group(1)))
    if not weeks:
        raise ValueError(f"{path.name} sheet {SHEET}: no 'week N' labels in header row 1")
    # Years: row 0 carries the year over most week columns; the first weeks have the title
    # there instead, so count years from the first stated one, a new year at each week reset.
    stated = [(i, int(header[c])) for i, c in enumerate(week_columns)
              if isinstance(header[c], int | float) and not pd.isna(header[c])]
    if not stated:
        raise ValueError(f"{path.name} sheet {SHEET}: no year above the week columns")
    resets = np.concatenate([[0], np.cumsum(np.diff(weeks) < 0)])
    first_year = stated[0][1] - int(resets[stated[0][0]])
    years = first_year + resets
    for i, year in stated:
        if years[i] != year:
            raise ValueError(
                f"{path.name} sheet {SHEET}: column {week_columns[i]} says year {year} but the "
                f"week sequence gives {years[i]}"
            )
    week_starts = [date.fromisocalendar(int(y), w, 1) for y, w in zip(years, weeks, strict=True)]

    body = sheet.iloc[FIRST_DATA_ROW:]
    is_part = body[columns["sku"]].notna()
    parts = body.loc[is_part, [columns[f] for f in _FIELDS.values()]]
    parts.columns = list(_FIELDS.values())
    demand = body.loc[is_part, week_columns]
    demand.columns = week_starts
    return parts.reset_index(drop=True), week_starts, demand.reset_index(drop=True)


def _text(value: object) -> str:
    """SKU numbers come as floats or ints from Excel; write 12 rather than 12.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def import_spare_parts(src: Path, out: Path) -> dict:
    """Convert the MAN spare-parts workbook in ``src`` into a contract feed in ``out``.

    Parameters
    ----------
    src : Path
        Folder holding ``MAN.xlsx`` (or the file itself).
    out : Path
        Feed directory to write: products, locations and sales as CSV.

    Returns
    -------
    dict
        ``tables`` (table -> rows written), ``parts``, ``weeks``, ``first_week``,
        ``last_week``, ``seconds``.
    """
    started = time.perf_counter()
    src = Path(src)
    parts, week_starts, demand = read_man_sheet(src if src.is_file() else src / "MAN.xlsx")
    feed = prepare_feed_dir(out)

    skus = parts["sku"].map(_text)
    lead_weeks = pd.to_numeric(parts["lead_time_weeks"], errors="coerce")
    region = lead_weeks.map(lambda w: _REGIONS.get(int(w), "OTHER") if pd.notna(w) else "OTHER")
    products = pd.DataFrame({
        "sku": skus,
        "name": "MAN part " + skus,
        "category": "SPARES_" + region,
        "supplier": region,
        # a lead time the file states but we cannot read stays as text, for the pipeline to
        # reject with a reason
        "lead_time_days": [w * 7 if pd.notna(w) else raw
                           for w, raw in zip(lead_weeks, parts["lead_time_weeks"], strict=True)],
        "unit_cost": parts["unit_cost"],
        "moq": parts["moq"],
        "fixed_order_cost": parts["fixed_order_cost"],
        "holding_cost_per_year": parts["holding_cost_per_year"],
        "products_per_unit": parts["products_per_unit"],
    })

    values = demand.to_numpy(dtype=object)
    numeric = pd.DataFrame(values).apply(pd.to_numeric, errors="coerce").to_numpy()
    # keep every non-zero cell; an empty or unreadable cell also becomes a row (quantity as the
    # file has it) so nothing disappears silently
    keep = ~(numeric == 0)
    part_idx, week_idx = np.nonzero(keep)
    sales = pd.DataFrame({
        "date": np.array(week_starts, dtype=object)[week_idx],
        "sku": skus.to_numpy()[part_idx],
        "location": LOCATION,
        "quantity": values[part_idx, week_idx],
    })
    sales = sales.sort_values(["date", "sku"], kind="stable", key=_sku_order(sales))
    locations = pd.DataFrame([{
        "location": LOCATION, "name": "MAN spare parts warehouse", "region": "NL",
        "type": "dc", "timezone": "Europe/Amsterdam",
    }])
    rows = {
        "products": write_csv(products, feed, "products"),
        "locations": write_csv(locations, feed, "locations"),
        "sales": write_csv(sales.reset_index(drop=True), feed, "sales"),
    }
    summary = {
        "tables": rows,
        "parts": int(len(parts)),
        "weeks": len(week_starts),
        "first_week": week_starts[0].isoformat(),
        "last_week": week_starts[-1].isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("spare parts feed in %s: %s", out, summary)
    return summary


def _sku_order(frame: pd.DataFrame):
    """Sort key: numeric SKU numbers in number order (2 before 10), other text after."""

    def key(column: pd.Series) -> pd.Series:
        if column.name != "sku":
            return column
        return pd.to_numeric(column, errors="coerce").fillna(np.inf)

    return key
