"""A long spare-parts table (one row per part and period) -> parts and sales rows.

Dates are moved to their period's first day and rows of one part, location and period summed;
an unreadable quantity is kept as written for the feed reader to quarantine.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from restock.importers.common import SourceFormatError
from restock.importers.spare_parts.cells import (
    Where,
    cell_text,
    is_blank,
    to_numbers,
)
from restock.importers.spare_parts.options import SparePartsOptions
from restock.importers.spare_parts.periods import (
    infer_grain,
    parse_period,
    period_start,
)
from restock.importers.spare_parts.sheet import SheetHeader


def read_long(sheet: pd.DataFrame, header: SheetHeader, opts: SparePartsOptions, where: Where,
              location: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Parts and sales rows of a long table, one sales row per part, location and period.

    A date cell that is no date is an error (a long table's rows are its periods); a quantity
    that is no number is kept as written, for the feed reader to quarantine.

    Parameters
    ----------
    sheet : pd.DataFrame
        The sheet's cells (no header row, ``keep_default_na=False``).
    header : SheetHeader
        Where the table is in the sheet (:func:`restock.importers.spare_parts.sheet.choose_sheet`).
    opts : SparePartsOptions
        The user's choices (grain).
    where : Where
        Names places of the sheet in error messages.
    location : str
        The location code of rows without a location cell.

    Returns
    -------
    tuple[pd.DataFrame, pd.DataFrame, dict]
        Parts (one row per SKU, first occurrence, the attribute fields), sales (date, sku,
        location, quantity) and the counts of the import summary (periods, cells, grain).
    """
    f = header.fields
    body = sheet.iloc[header.data_row:]
    is_part = ~body[f["sku"]].map(is_blank)
    rows = np.arange(header.data_row, len(sheet))[is_part.to_numpy()]
    table = pd.DataFrame({field: body.loc[is_part, c].to_numpy() for field, c in f.items()})
    table["sku"] = table["sku"].map(cell_text)
    dates: list[date] = []
    hints: set[str] = set()
    for row, value in zip(rows, table["date"], strict=True):
        parsed = parse_period(value)
        undated_week = parsed is not None and parsed[0] == "week" and parsed[1][0] is None
        if parsed is None or parsed[0] == "relative" or undated_week:
            c = f["date"]
            raise SourceFormatError(f"{where(int(row), c, header.labels.get(c, ''))}: "
                                    f"{value!r} is not a date")
        if parsed[2]:
            hints.add(parsed[2])
        if parsed[0] == "week":
            year, week = parsed[1]
            dates.append(date.fromisocalendar(year, week, 1))
        else:
            dates.append(parsed[1])
    grain = opts.grain or (hints.pop() if len(hints) == 1 else infer_grain(dates)) or "day"
    if grain == "month" or (grain == "week" and len({d.weekday() for d in dates}) > 1):
        dates = [period_start(d, grain) for d in dates]
    table["date"] = dates
    if "location" in f:
        table["location"] = table["location"].map(
            lambda v: location if is_blank(v) else cell_text(v))
    else:
        table["location"] = location
    qty = to_numbers(table["quantity"])
    empty = table["quantity"].map(is_blank)
    unreadable = qty.isna() & ~empty
    numeric = table[~unreadable & ~empty].assign(quantity=qty)
    summed = numeric.groupby(["date", "sku", "location"], as_index=False, sort=False)[
        "quantity"].sum()
    sales = pd.concat([summed[summed["quantity"] != 0],
                       table.loc[unreadable, ["date", "sku", "location", "quantity"]]],
                      ignore_index=True)
    parts = table.drop_duplicates("sku", keep="first").reset_index(drop=True)
    starts = sorted(set(dates))
    stats = {"periods": len(starts), "first_period": starts[0].isoformat() if starts else None,
             "last_period": starts[-1].isoformat() if starts else None,
             "empty_cells": int(empty.sum()), "unreadable_cells": int(unreadable.sum()),
             "grain": grain, "rows_without_sku": int((~is_part).sum()),
             "source_rows": int(is_part.sum())}
    return parts, sales, stats

