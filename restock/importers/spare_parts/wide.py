"""A wide spare-parts table (one column per period) -> parts and sales rows.

The period columns become period start dates (:func:`wide_periods`: week numbers get their
year, relative labels their date), then every non-zero or unreadable cell becomes a sales row.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd

from restock.importers.common import SourceFormatError
from restock.importers.spare_parts.cells import (
    Where,
    cell_text,
    column_letter,
    is_blank,
)
from restock.importers.spare_parts.options import SparePartsOptions
from restock.importers.spare_parts.periods import (
    infer_grain,
    period_start,
    shift_periods,
    year_of,
)
from restock.importers.spare_parts.sheet import SheetHeader

log = logging.getLogger("restock.importers.spare_parts")


def _week_years(sheet: pd.DataFrame, header: SheetHeader, weeks: list[tuple[int, int]],
                where: Where) -> list[int]:
    """Year of each ``week N`` column: stated above/below it, else carried over week resets."""
    stated: list[tuple[int, int]] = []
    for i, (c, _) in enumerate(weeks):
        for v in sheet.iloc[header.row:header.data_row, c]:
            year = year_of(v)
            if year is not None:
                stated.append((i, year))
                break
    if not stated:
        c = weeks[0][0]
        raise SourceFormatError(f"{where(header.row, c, header.labels.get(c, ''))}: week "
                                f"columns carry no year; write the year above them")
    numbers = [w for _, w in weeks]
    resets = np.concatenate([[0], np.cumsum(np.diff(numbers) < 0)])
    years = stated[0][1] - int(resets[stated[0][0]]) + resets
    for i, year in stated:
        if years[i] != year:
            c = weeks[i][0]
            raise SourceFormatError(
                f"{where(header.row, c, header.labels.get(c, ''))}: says year {year} but the "
                f"week sequence gives {years[i]}")
    return [int(y) for y in years]


def wide_periods(sheet: pd.DataFrame, header: SheetHeader, opts: SparePartsOptions,
                 where: Where) -> tuple[list[int], list[date], str]:
    """``(columns, period start dates, grain)`` of a wide table's period columns."""
    kinds = {kind for _, kind, _, _ in header.periods}
    if "relative" in kinds and kinds != {"relative"}:
        c = next(c for c, k, _, _ in header.periods if k == "relative")
        raise SourceFormatError(f"{where(header.row, c, header.labels.get(c, ''))}: relative "
                                f"and dated period columns are mixed")
    hints = {h for _, _, _, h in header.periods if h}
    columns = [c for c, _, _, _ in header.periods]
    if kinds == {"relative"}:
        c = columns[0]
        if opts.end is None or opts.grain is None:
            raise SourceFormatError(
                f"{where(header.row, c, header.labels.get(c, ''))}: relative period columns "
                f"need the date of the latest period and the grain (--end YYYY-MM-DD "
                f"--grain week|month)")
        last = period_start(opts.end, opts.grain)
        starts = [shift_periods(last, v, opts.grain) for _, _, v, _ in header.periods]
        grain = opts.grain
    else:
        weeks = [(c, v) for c, k, v, _ in header.periods if k == "week"]
        undated = [(c, w) for c, (y, w) in weeks if y is None]
        years = dict(zip([c for c, _ in undated],
                         _week_years(sheet, header, undated, where) if undated else [],
                         strict=True))
        starts = []
        for c, kind, value, _ in header.periods:
            if kind == "week":
                year, week = value
                try:
                    starts.append(date.fromisocalendar(years.get(c, year), week, 1))
                except ValueError as exc:
                    raise SourceFormatError(f"{where(header.row, c, header.labels.get(c, ''))}:"
                                            f" {exc}") from exc
            else:
                starts.append(value)
        grain = opts.grain or (hints.pop() if len(hints) == 1 else infer_grain(starts))
        if grain is None:
            c = columns[0]
            raise SourceFormatError(
                f"{where(header.row, c, header.labels.get(c, ''))}: cannot tell the period grain "
                f"of the date columns; give --grain week|month|day")
        if "week" in hints and grain != "week":
            raise SourceFormatError(f"{where(header.row, columns[0])}: 'week N' columns but "
                                    f"grain {grain}")
        if grain == "month" or (grain == "week" and len({d.weekday() for d in starts}) > 1):
            starts = [period_start(d, grain) for d in starts]
    seen: dict[date, int] = {}
    for c, d in zip(columns, starts, strict=True):
        if d in seen:
            raise SourceFormatError(
                f"{where(header.row, c, header.labels.get(c, ''))}: period {d} is also column "
                f"{column_letter(seen[d])}")
        seen[d] = c
    return columns, starts, grain


def _check_unique(parts: pd.DataFrame, rows: np.ndarray, header: SheetHeader, where: Where) -> None:
    key = parts["sku"] + "@" + parts["location"]
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first = key[dup].iloc[0]
        at = rows[(key == first).to_numpy()]
        c = header.fields["sku"]
        raise SourceFormatError(
            f"{where(int(at[1]), c, header.labels.get(c, ''))}: SKU {first.split('@')[0]} "
            f"again (first on row {int(at[0]) + 1}); a wide table has one row per part"
            + (" and location" if "location" in header.fields else ""))


def read_wide(sheet: pd.DataFrame, header: SheetHeader, opts: SparePartsOptions, where: Where,
              location: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Parts and sales rows of a wide table: every non-zero demand cell is a row.

    A text cell is written as it is, for the feed reader to quarantine; an empty cell is no
    demand; a SKU twice (per location) is an error, since a wide table has one row per part.

    Parameters
    ----------
    sheet : pd.DataFrame
        The sheet's cells (no header row, ``keep_default_na=False``).
    header : SheetHeader
        Where the table is in the sheet (:func:`restock.importers.spare_parts.sheet.choose_sheet`).
    opts : SparePartsOptions
        The user's choices (grain, end for relative columns).
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
    columns, starts, grain = wide_periods(sheet, header, opts, where)
    body = sheet.iloc[header.data_row:]
    is_part = ~body[header.fields["sku"]].map(is_blank)
    rows = np.arange(header.data_row, len(sheet))[is_part.to_numpy()]
    parts = pd.DataFrame({field: body.loc[is_part, c].to_numpy()
                          for field, c in header.fields.items()})
    parts["sku"] = parts["sku"].map(cell_text)
    if "location" in header.fields:
        parts["location"] = parts["location"].map(
            lambda v: location if is_blank(v) else cell_text(v))
    else:
        parts["location"] = location
    _check_unique(parts, rows, header, where)
    values = body.loc[is_part, columns].to_numpy(dtype=object)
    numeric = pd.DataFrame(values).apply(pd.to_numeric, errors="coerce").to_numpy()
    empty = pd.DataFrame(values).map(is_blank).to_numpy()
    unreadable = np.isnan(numeric) & ~empty
    # every non-zero cell is a row; a text cell too (quantity as written, for the reader to
    # quarantine); an empty cell is no demand
    keep = ~(numeric == 0) & ~empty
    part_idx, period_idx = np.nonzero(keep)
    sales = pd.DataFrame({
        "date": np.array(starts, dtype=object)[period_idx],
        "sku": parts["sku"].to_numpy()[part_idx],
        "location": parts["location"].to_numpy()[part_idx],
        "quantity": values[part_idx, period_idx],
    })
    stats = {"periods": len(starts), "first_period": min(starts).isoformat(),
             "last_period": max(starts).isoformat(), "empty_cells": int(empty.sum()),
             "unreadable_cells": int(unreadable.sum()), "grain": grain,
             "rows_without_sku": int((~is_part).sum())}
    if unreadable.any():
        i, j = (int(x[0]) for x in np.nonzero(unreadable))
        log.warning("%s: %d demand cells are not numbers (first %r), written for the reader "
                    "to quarantine", where(int(rows[i]), columns[j]), int(unreadable.sum()),
                    values[i, j])
    return parts.drop_duplicates("sku", keep="first").reset_index(drop=True), sales, stats

