"""Spare-parts workbooks (``.xlsx`` / ``.xls``) -> a contract feed at week or month grain.

``restock import spare-parts SRC --out DIR``: SRC is a workbook or a folder holding exactly one
(any file name). The reference file is MAN (../shared/data/spare_parts/MAN.xlsx, sheet ``Data``);
the same code reads the other common shapes of spare-parts demand:

Finding the table
    The sheet is ``sheet`` or else the one sheet that fits (a SKU header and either period
    columns or date + quantity columns); with none or several the error lists every sheet. The
    header row is the first of the first 40 rows with a SKU column (``sku``, ``sku nr``,
    ``part number``, ``item``, ``material`` ... or ``sku_column``); the header may span several
    rows (MAN: the column meaning in row 1, units and a legend in rows 4-6): it ends at the first
    row with a SKU. Rows without a SKU below it (totals, notes) are not parts and are counted in
    ``rows_without_sku``. Header text matches without case, punctuation or a parenthesised unit:
    ``Lead time (weeks)`` is the lead time column, and its unit.

Wide tables (one column per period)
    A period header is a date cell, a date text (``2023-01``, ``Jan 2023``, ``2023-01-01``,
    ``2012-W05``), a ``week N`` label with the year in another header row above or below (or
    carried over the year boundary as in MAN, whose first weeks have a title in place of the
    year), or a relative label (``latest``/``last``/``current``/``t``, ``last -1``, ``t-2``, ...),
    which needs ``end`` (the date of the latest period) and ``grain``. Other columns not named
    as attributes (MAN's per-part statistics) are ignored. The grain is ``grain`` or what the
    headers say (``week N`` -> week, month texts -> month, dates spaced 7 days -> week, on the 1st
    one month apart -> month, 1 day apart -> day).

Long tables (one row per part and period)
    A SKU, a date (``date``, ``period``, ``week``, ``month`` or ``date_column``) and a quantity
    column (``quantity``, ``qty``, ``demand``, ``usage`` ... or ``quantity_column``); optional
    ``location`` / ``warehouse`` / ``plant``. Dates are moved to their period's first day (ISO
    Monday, the 1st of the month) unless a weekly series' dates already share a weekday, and
    rows of one part, location and period are summed. Part attributes come from each part's
    first row.

Dates written
    Every sales date is the first day of its period: the Monday of a ``week N`` (ISO week), the
    1st of a month; weekly dates from the file keep their weekday. The feed gets a ``feed.yml``
    with ``grain: week|month|day`` (../shared/DATA_CONTRACT.md, v1.1): a weekly or monthly row is
    that period's total demand, not one day's.

Products
    ``lead_time_days`` from the lead time column in ``lead_time_unit`` (days, weeks, or months of
    365.25 / 12 days; default: the unit in the column's header text, else an error) or the
    ``lead_time_days`` option for every part; 0 is valid (same-day supply). ``unit_cost`` (cost
    price), ``unit_price`` (price), ``moq``, ``category``, ``supplier``, ``name``, ``pack_size``
    from their columns when present (or the ``*_column`` options). Without a category column the
    lead-time legend of the header (MAN: ``16w/asia``, ``7w/nl``) gives the sourcing region:
    category ``SPARES_<REGION>``, supplier ``<REGION>`` (``SPARES_OTHER`` when a lead time is not
    in the legend); without a legend, ``SPARES``. MAN's extra columns are kept:
    ``fixed_order_cost`` (EUR per order), ``holding_cost_per_year`` (EUR per unit per year),
    ``products_per_unit`` (sub packaging).

Faithful, no cleaning
    A file that does not fit (no sheet, no header, a period header that cannot be read, a date
    cell of a long table that is not a date, a repeated SKU) raises
    :class:`~restock.importers.common.SourceFormatError` with one line naming the file, the
    sheet, the row and the column (Excel numbering: row 1, column A). A value the feed contract
    checks (a text quantity, lead time or MOQ, a negative lead time) is written as the file has
    it, for the reader to quarantine with its reason; such cells are counted in
    ``unreadable_cells``. An empty demand cell is no demand (``empty_cells``); zero cells are not
    written (the pipeline's daily spine fills zeros).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from restock.importers.common import SourceFormatError, prepare_feed_dir, write_csv

log = logging.getLogger("restock.importers.spare_parts")

HEAD_ROWS = 40  # the header row is looked for in the first HEAD_ROWS rows of a sheet
GRAINS = ("day", "week", "month")
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
# Locations known from the reference data sets (region and timezone are not in the files).
KNOWN_LOCATIONS = {"MAN": {"region": "NL", "timezone": "Europe/Amsterdam"}}

# normalised header text -> field; the first field whose alias matches wins
ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "sku nr", "sku no", "sku number", "sku id", "sku code", "part", "part no",
            "part nr", "part number", "part id", "part code", "partnumber", "item", "item no",
            "item nr", "item number", "item id", "item code", "material", "material no",
            "material number", "article", "article no", "article number", "product id",
            "product code", "stock code", "stockcode"),
    "name": ("name", "description", "part name", "item name", "product name",
             "part description", "item description"),
    "category": ("category", "product group", "part group", "item group", "group", "family",
                 "commodity", "class"),
    "supplier": ("supplier", "vendor", "supplier name", "vendor name"),
    "lead_time": ("lead time", "leadtime", "lt", "lead time days", "lead time weeks",
                  "lead time months", "lead time in days", "lead time in weeks",
                  "lead time in months", "delivery time", "replenishment time"),
    "unit_cost": ("cost price", "unit cost", "cost", "cost per unit", "purchase price",
                  "standard cost"),
    "unit_price": ("price", "unit price", "sales price", "selling price", "list price"),
    "moq": ("moq", "min order quantity", "minimum order quantity", "min order qty",
            "minimum order qty", "min qty"),
    "pack_size": ("pack size", "pack", "case size", "lot size"),
    "location": ("location", "warehouse", "plant", "site", "depot", "store"),
    "fixed_order_cost": ("fixed cost", "fixed order cost", "order cost", "ordering cost"),
    "holding_cost_per_year": ("inventory cost", "holding cost", "holding cost per year"),
    "products_per_unit": ("products", "products per unit"),
    "date": ("date", "period", "week", "month", "period start", "week start", "month start",
             "year month", "yearmonth", "year week"),
    "quantity": ("quantity", "qty", "demand", "sales", "units", "usage", "issues",
                 "consumption", "demand units", "quantity sold"),
}
# products columns written, in this order, when the file has them
PRODUCT_COLUMNS = ("sku", "name", "category", "supplier", "lead_time_days", "unit_cost",
                   "unit_price", "moq", "pack_size", "fixed_order_cost",
                   "holding_cost_per_year", "products_per_unit")

_PAREN = re.compile(r"\([^)]*\)")
_RELATIVE = re.compile(r"^(?:latest|last|current|t)\s*(?:-\s*(\d+))?$")
_WEEK = re.compile(r"^(?:week|wk|w)\s*(\d{1,2})$")
_YEAR_WEEK = re.compile(r"^(\d{4})\s*[-/ ]?\s*(?:week|wk|w)\s*(\d{1,2})$")
_WEEK_YEAR = re.compile(r"^(?:week|wk|w)\s*(\d{1,2})\s*[-/ ,]\s*(\d{4})$")
_LEGEND = re.compile(r"(\d+(?:\.\d+)?)\s*([dwm])\w*\s*/\s*([a-z][a-z0-9_]*)")
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y.%m", "%m/%Y", "%m-%Y", "%b %Y", "%B %Y", "%b-%Y",
                  "%B-%Y", "%b-%y", "%b %y", "%Y %b", "%Y-%b")
_DAY_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%Y%m%d")


@dataclass(frozen=True)
class SparePartsOptions:
    """How to read a workbook; every field is optional (see the module docstring)."""

    sheet: str | None = None
    layout: str = "auto"  # auto | wide | long
    grain: str | None = None  # day | week | month; default from the headers or dates
    end: date | None = None  # the date of the latest period, for relative columns
    sku_column: str | None = None
    date_column: str | None = None
    quantity_column: str | None = None
    location_column: str | None = None
    lead_time_column: str | None = None
    lead_time_unit: str | None = None  # days | weeks | months
    lead_time_days: float | None = None  # for every part, when there is no lead time column
    cost_column: str | None = None
    price_column: str | None = None
    moq_column: str | None = None
    category_column: str | None = None
    location: str | None = None  # location code for a wide table (default: the file's stem)

    def __post_init__(self) -> None:
        if isinstance(self.end, str):
            try:
                object.__setattr__(self, "end", date.fromisoformat(self.end))
            except ValueError:
                raise SourceFormatError(f"end must be YYYY-MM-DD, got {self.end!r}") from None
        if self.layout not in ("auto", "wide", "long"):
            raise SourceFormatError(f"layout must be auto, wide or long, got {self.layout!r}")
        if self.grain is not None and self.grain not in GRAINS:
            raise SourceFormatError(f"grain must be one of {', '.join(GRAINS)}, got "
                                    f"{self.grain!r}")
        if self.lead_time_unit is not None and self.lead_time_unit not in DAYS_PER_UNIT:
            raise SourceFormatError(f"lead time unit must be one of {', '.join(DAYS_PER_UNIT)}, "
                                    f"got {self.lead_time_unit!r}")
        if self.lead_time_days is not None and not self.lead_time_days >= 0:
            raise SourceFormatError(f"lead_time_days must be >= 0, got {self.lead_time_days!r}")


# ------------------------------------------------------------------------------------------------
# Cells and names
# ------------------------------------------------------------------------------------------------
def _norm(text: object) -> str:
    """Header text for matching: lower case, no parenthesised part, punctuation as spaces."""
    s = _PAREN.sub(" ", str(text).lower())
    s = re.sub(r"[._:#/\\-]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str:
    """SKU numbers come as floats or ints from Excel; write 12 rather than 12.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def column_letter(index: int) -> str:
    """Excel column letter of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _Where:
    """Names places in one sheet for error messages (Excel numbering)."""

    def __init__(self, path: Path, sheet: str) -> None:
        self.path, self.sheet = path, sheet

    def __call__(self, row: int | None = None, col: int | None = None, label: str = "") -> str:
        at = f"{self.path.name} sheet {self.sheet!r}"
        if row is not None:
            at += f" row {row + 1}"
        if col is not None:
            at += f" column {column_letter(col)}" + (f" ({label})" if label else "")
        return at


# ------------------------------------------------------------------------------------------------
# Dates and periods
# ------------------------------------------------------------------------------------------------
def period_start(day: date, grain: str) -> date:
    """First day of the period holding ``day``: itself, its ISO Monday, the 1st of its month."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def shift_periods(start: date, periods: int, grain: str) -> date:
    """``start`` moved back by ``periods`` whole periods."""
    if grain == "month":
        months = start.year * 12 + start.month - 1 - periods
        return date(months // 12, months % 12 + 1, 1)
    return start - timedelta(days=periods * (7 if grain == "week" else 1))


def parse_period(value: object) -> tuple[str, object, str | None] | None:
    """Read one header or date cell.

    Returns ``(kind, value, grain hint)`` or None when the cell is no period: kind ``date``
    (value a date), ``week`` (value (year or None, week)), ``relative`` (value the offset).
    """
    if isinstance(value, datetime | pd.Timestamp):
        return "date", pd.Timestamp(value).date(), None
    if isinstance(value, date):
        return "date", value, None
    if not isinstance(value, str):
        return None
    text = re.sub(r"\s+", " ", value.strip().lower())
    if not text:
        return None
    if m := _RELATIVE.match(text):
        return "relative", int(m.group(1) or 0), None
    if m := _WEEK.match(text):
        return "week", (None, int(m.group(1))), "week"
    if m := _YEAR_WEEK.match(text):
        return "week", (int(m.group(1)), int(m.group(2))), "week"
    if m := _WEEK_YEAR.match(text):
        return "week", (int(m.group(2)), int(m.group(1))), "week"
    for fmt in _DAY_FORMATS:
        try:
            return "date", datetime.strptime(text, fmt).date(), None
        except ValueError:
            pass
    for fmt in _MONTH_FORMATS:
        try:
            return "date", datetime.strptime(text, fmt).date(), "month"
        except ValueError:
            pass
    try:  # an ISO timestamp ("2023-01-01 00:00:00")
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return ("date", stamp.date(), None) if len(text) >= 10 else None


def _year_of(value: object) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not pd.isna(value) \
            and float(value).is_integer() and 1900 <= value <= 2100:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*(19|20)\d{2}\s*", value):
        return int(value)
    return None


def infer_grain(dates: list[date]) -> str | None:
    """week / month / day from distinct sorted dates, or None when they say nothing clear."""
    days = sorted(set(dates))
    if len(days) < 2:
        return None
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    if all(d.day == 1 for d in days) and min(gaps) >= 28:
        return "month"
    if len({d.weekday() for d in days}) == 1:
        return "week"
    if min(gaps) == 1:
        return "day"
    return None


# ------------------------------------------------------------------------------------------------
# Workbook, sheet and header
# ------------------------------------------------------------------------------------------------
def find_workbook(src: Path) -> Path:
    """The workbook ``src`` is, or the one workbook in folder ``src`` (any file name)."""
    src = Path(src)
    if src.is_file():
        return src
    if not src.is_dir():
        raise FileNotFoundError(f"spare parts import: {src} is neither a file nor a folder")
    books = sorted(p for p in src.iterdir() if p.is_file()
                   and p.suffix.lower() in EXCEL_SUFFIXES and not p.name.startswith("~$"))
    if len(books) != 1:
        found = ", ".join(p.name for p in books) or "none"
        raise SourceFormatError(f"{src}: expected exactly one .xlsx or .xls workbook, found "
                                f"{found}; pass the file itself")
    return books[0]


def _engine(path: Path) -> str:
    """openpyxl for a zip workbook (.xlsx), xlrd for an OLE2 one (.xls), by content."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"PK\x03\x04"):
        return "openpyxl"
    if magic.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xlrd"
    raise SourceFormatError(f"{path.name}: not an Excel workbook (.xlsx or .xls)")


@dataclass
class _Header:
    """Where the table is in a sheet: header rows, first part row, column meanings."""

    row: int  # first header row (0-based)
    data_row: int  # first row with a SKU
    fields: dict[str, int]  # field -> column
    labels: dict[int, str]  # column -> the header text of every header row, joined
    periods: list[tuple[int, str, object, str | None]]  # (column, kind, value, grain hint)


def _match(label: str, wanted: str | None, field: str) -> bool:
    if wanted is not None:
        return label == _norm(wanted)
    return label in ALIASES[field]


def _locate(sheet: pd.DataFrame, opts: SparePartsOptions, where: _Where) -> _Header | None:
    """Find the header (None when the sheet has no SKU column in its first rows)."""
    head = sheet.iloc[:HEAD_ROWS]
    wanted = {"sku": opts.sku_column, "date": opts.date_column,
              "quantity": opts.quantity_column, "location": opts.location_column,
              "lead_time": opts.lead_time_column, "unit_cost": opts.cost_column,
              "unit_price": opts.price_column, "moq": opts.moq_column,
              "category": opts.category_column}
    for r in range(len(head)):
        cells = {c: _norm(v) for c, v in head.iloc[r].items()
                 if isinstance(v, str) and v.strip()}
        sku_cols = [c for c, t in cells.items() if _match(t, wanted["sku"], "sku")]
        if sku_cols:
            break
    else:
        return None
    sku_col = int(sku_cols[0])
    skus = sheet.iloc[r + 1:, sku_col]
    filled = np.flatnonzero(~skus.map(_blank).to_numpy())
    data_row = r + 1 + int(filled[0]) if filled.size else len(sheet)
    header = sheet.iloc[r:data_row]
    labels = {int(c): " ".join(str(v).strip() for v in header[c]
                               if isinstance(v, str) and v.strip()) for c in sheet.columns}
    fields: dict[str, int] = {"sku": sku_col}
    for field in ALIASES:
        if field == "sku":
            continue
        for c, text in cells.items():
            if int(c) not in fields.values() and _match(text, wanted.get(field), field):
                fields[field] = int(c)
                break
        else:
            if wanted.get(field) is not None:
                raise SourceFormatError(
                    f"{where(r)}: no column {wanted[field]!r} in the header; it has "
                    f"{[str(v).strip() for v in head.iloc[r] if not _blank(v)]}")
    periods = []
    for c in sheet.columns:
        if int(c) in fields.values():
            continue
        for v in header[c]:
            parsed = parse_period(v)
            if parsed is not None:
                periods.append((int(c), *parsed))
                break
    return _Header(r, data_row, fields, labels, periods)


def _fits(header: _Header | None, opts: SparePartsOptions) -> str | None:
    """The layout a located header allows (wide / long), or None."""
    if header is None:
        return None
    wide = len(header.periods) >= 2
    long = "date" in header.fields and "quantity" in header.fields
    if opts.layout == "wide":
        return "wide" if wide else None
    if opts.layout == "long":
        return "long" if long else None
    return "wide" if wide else "long" if long else None


def choose_sheet(path: Path, opts: SparePartsOptions) -> tuple[str, str, pd.DataFrame, _Header]:
    """``(sheet name, layout, cells, header)`` of the sheet to import (see the module doc)."""
    engine = _engine(path)
    try:
        book = pd.ExcelFile(path, engine=engine)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a file that does not fit
        raise SourceFormatError(f"{path.name}: cannot open the workbook: {exc}") from exc
    with book:
        names = [str(n) for n in book.sheet_names]
        if opts.sheet is not None:
            if opts.sheet not in names:
                raise SourceFormatError(f"{path.name}: no sheet {opts.sheet!r}; sheets: "
                                        f"{', '.join(names)}")
            candidates = [opts.sheet]
        else:
            candidates = names
        fitting, why = [], []
        for name in candidates:
            where = _Where(path, name)
            head = book.parse(name, header=None, nrows=HEAD_ROWS, keep_default_na=False)
            try:
                header = _locate(head, opts, where)
            except SourceFormatError as exc:
                if opts.sheet is not None:
                    raise
                why.append(f"{name!r}: {str(exc).split(': ', 1)[-1]}")
                continue
            layout = _fits(header, opts)
            if layout:
                fitting.append(name)
            elif header is None:
                why.append(f"{name!r}: no SKU column in the first {HEAD_ROWS} rows")
            else:
                why.append(f"{name!r}: SKU column {column_letter(header.fields['sku'])} but "
                           f"no period columns and no date + quantity columns")
        if len(fitting) > 1:
            raise SourceFormatError(f"{path.name}: several sheets fit ({', '.join(fitting)}); "
                                    f"choose one with --sheet")
        if not fitting:
            raise SourceFormatError(f"{path.name}: no sheet holds a spare-parts table "
                                    f"({'; '.join(why)})")
        name = fitting[0]
        # keep_default_na=False: a cell saying "n/a" is text (quarantined), not an empty cell
        sheet = book.parse(name, header=None, keep_default_na=False)
    header = _locate(sheet, opts, _Where(path, name))
    assert header is not None
    return name, _fits(header, opts) or "wide", sheet, header


# ------------------------------------------------------------------------------------------------
# Periods of a wide table
# ------------------------------------------------------------------------------------------------
def _week_years(sheet: pd.DataFrame, header: _Header, weeks: list[tuple[int, int]],
                where: _Where) -> list[int]:
    """Year of each ``week N`` column: stated above/below it, else carried over week resets."""
    stated: list[tuple[int, int]] = []
    for i, (c, _) in enumerate(weeks):
        for v in sheet.iloc[header.row:header.data_row, c]:
            year = _year_of(v)
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


def wide_periods(sheet: pd.DataFrame, header: _Header, opts: SparePartsOptions,
                 where: _Where) -> tuple[list[int], list[date], str]:
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


# ------------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------------
def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _lead_unit(header: _Header, opts: SparePartsOptions, where: _Where) -> str | None:
    if "lead_time" not in header.fields:
        return None
    if opts.lead_time_unit:
        return opts.lead_time_unit
    c = header.fields["lead_time"]
    text = header.labels.get(c, "").lower()
    for unit, pattern in (("days", r"\bdays?\b|\(d\)"), ("weeks", r"\bweeks?\b|\bwks?\b|\(w\)"),
                          ("months", r"\bmonths?\b|\bmths?\b|\(m\)")):
        if re.search(pattern, text):
            return unit
    raise SourceFormatError(f"{where(header.row, c, header.labels.get(c, ''))}: the lead time "
                            f"header states no unit; give --lead-time-unit days|weeks|months")


def _legend(header: _Header, unit: str | None) -> dict[float, str]:
    """Lead time (in the column's unit) -> region, from a header legend such as ``16w/asia``."""
    if unit is None:
        return {}
    text = header.labels.get(header.fields["lead_time"], "").lower()
    return {float(n): region.strip().upper().replace(" ", "_")
            for n, _, region in _LEGEND.findall(text)}


def _products(parts: pd.DataFrame, header: _Header, opts: SparePartsOptions, stem: str,
              where: _Where) -> tuple[pd.DataFrame, int, str | None]:
    """Products table from the parts' attribute cells; also unreadable cells and the unit."""
    f = header.fields
    out = pd.DataFrame({"sku": parts["sku"]})
    out["name"] = parts["name"].map(_text) if "name" in f else f"{stem} part " + parts["sku"]
    unit = _lead_unit(header, opts, where)
    unreadable = 0
    if unit is not None:
        raw = parts["lead_time"]
        value = _numbers(raw)
        bad = value.isna() & ~raw.map(_blank)
        unreadable += int(bad.sum())
        days = value * DAYS_PER_UNIT[unit]
        # a lead time we cannot read stays as the file has it, for the reader to reject
        out["lead_time_days"] = pd.Series(
            [(int(d) if float(d).is_integer() else round(float(d), 4)) if pd.notna(d) else r
             for d, r in zip(days, raw, strict=True)], dtype=object, index=out.index)
    elif opts.lead_time_days is not None:
        out["lead_time_days"] = opts.lead_time_days
    else:
        raise SourceFormatError(
            f"{where(header.row)}: no lead time column (looked for 'lead time', 'leadtime', "
            f"'lt', 'delivery time'); name it with --lead-time-column or give --lead-time-days")
    if "category" in f:
        out["category"] = parts["category"].map(lambda v: None if _blank(v) else _text(v))
        if "supplier" in f:
            out["supplier"] = parts["supplier"].map(lambda v: None if _blank(v) else _text(v))
    else:
        legend = _legend(header, unit)
        if legend:
            lead = _numbers(parts["lead_time"])
            region = lead.map(lambda x: legend.get(float(x), "OTHER") if pd.notna(x)
                              else "OTHER")
            out["category"] = "SPARES_" + region
            out["supplier"] = parts["supplier"] if "supplier" in f else region
        else:
            out["category"] = "SPARES"
            if "supplier" in f:
                out["supplier"] = parts["supplier"]
    for field in ("unit_cost", "unit_price", "moq", "pack_size", "fixed_order_cost",
                  "holding_cost_per_year", "products_per_unit"):
        if field in f:
            raw = parts[field]
            unreadable += int((_numbers(raw).isna() & ~raw.map(_blank)).sum())
            out[field] = raw
    return out[[c for c in PRODUCT_COLUMNS if c in out.columns]], unreadable, unit


def _check_unique(parts: pd.DataFrame, rows: np.ndarray, header: _Header, where: _Where) -> None:
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


def _wide(sheet: pd.DataFrame, header: _Header, opts: SparePartsOptions, where: _Where,
          location: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    columns, starts, grain = wide_periods(sheet, header, opts, where)
    body = sheet.iloc[header.data_row:]
    is_part = ~body[header.fields["sku"]].map(_blank)
    rows = np.arange(header.data_row, len(sheet))[is_part.to_numpy()]
    parts = pd.DataFrame({field: body.loc[is_part, c].to_numpy()
                          for field, c in header.fields.items()})
    parts["sku"] = parts["sku"].map(_text)
    if "location" in header.fields:
        parts["location"] = parts["location"].map(lambda v: location if _blank(v) else _text(v))
    else:
        parts["location"] = location
    _check_unique(parts, rows, header, where)
    values = body.loc[is_part, columns].to_numpy(dtype=object)
    numeric = pd.DataFrame(values).apply(pd.to_numeric, errors="coerce").to_numpy()
    empty = pd.DataFrame(values).map(_blank).to_numpy()
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


def _long(sheet: pd.DataFrame, header: _Header, opts: SparePartsOptions, where: _Where,
          location: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    f = header.fields
    body = sheet.iloc[header.data_row:]
    is_part = ~body[f["sku"]].map(_blank)
    rows = np.arange(header.data_row, len(sheet))[is_part.to_numpy()]
    table = pd.DataFrame({field: body.loc[is_part, c].to_numpy() for field, c in f.items()})
    table["sku"] = table["sku"].map(_text)
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
        table["location"] = table["location"].map(lambda v: location if _blank(v) else _text(v))
    else:
        table["location"] = location
    qty = _numbers(table["quantity"])
    empty = table["quantity"].map(_blank)
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
    where = _Where(path, sheet_name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_").upper() or "SPARES"
    location = opts.location or stem
    read = _wide if layout == "wide" else _long
    parts, sales, stats = read(sheet, header, opts, where, location)
    products, unreadable, unit = _products(parts, header, opts, stem, where)
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
