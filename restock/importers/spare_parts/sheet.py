"""Find the workbook, the sheet holding the spare-parts table and its header (module doc of
:mod:`restock.importers.spare_parts`, "Finding the table").

Only the first :data:`HEAD_ROWS` rows of every sheet are parsed to choose one, then the chosen
sheet is read whole; the result, :class:`SheetHeader`, is what the layout readers work from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from restock.importers.common import SourceFormatError
from restock.importers.spare_parts.cells import (
    Where,
    column_letter,
    is_blank,
    norm_header,
)
from restock.importers.spare_parts.options import SparePartsOptions
from restock.importers.spare_parts.periods import (
    parse_period,
)

HEAD_ROWS = 40  # the header row is looked for in the first HEAD_ROWS rows of a sheet
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

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
class SheetHeader:
    """Where the table is in a sheet: header rows, first part row, column meanings."""

    row: int  # first header row (0-based)
    data_row: int  # first row with a SKU
    fields: dict[str, int]  # field -> column
    labels: dict[int, str]  # column -> the header text of every header row, joined
    periods: list[tuple[int, str, object, str | None]]  # (column, kind, value, grain hint)


def _match(label: str, wanted: str | None, field: str) -> bool:
    if wanted is not None:
        return label == norm_header(wanted)
    return label in ALIASES[field]


def _locate(sheet: pd.DataFrame, opts: SparePartsOptions, where: Where) -> SheetHeader | None:
    """Find the header (None when the sheet has no SKU column in its first rows)."""
    head = sheet.iloc[:HEAD_ROWS]
    wanted = {"sku": opts.sku_column, "date": opts.date_column,
              "quantity": opts.quantity_column, "location": opts.location_column,
              "lead_time": opts.lead_time_column, "unit_cost": opts.cost_column,
              "unit_price": opts.price_column, "moq": opts.moq_column,
              "category": opts.category_column}
    for r in range(len(head)):
        cells = {c: norm_header(v) for c, v in head.iloc[r].items()
                 if isinstance(v, str) and v.strip()}
        sku_cols = [c for c, t in cells.items() if _match(t, wanted["sku"], "sku")]
        if sku_cols:
            break
    else:
        return None
    sku_col = int(sku_cols[0])
    skus = sheet.iloc[r + 1:, sku_col]
    filled = np.flatnonzero(~skus.map(is_blank).to_numpy())
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
                    f"{[str(v).strip() for v in head.iloc[r] if not is_blank(v)]}")
    periods = []
    for c in sheet.columns:
        if int(c) in fields.values():
            continue
        for v in header[c]:
            parsed = parse_period(v)
            if parsed is not None:
                periods.append((int(c), *parsed))
                break
    return SheetHeader(r, data_row, fields, labels, periods)


def _fits(header: SheetHeader | None, opts: SparePartsOptions) -> str | None:
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


def choose_sheet(path: Path, opts: SparePartsOptions) -> tuple[str, str, pd.DataFrame, SheetHeader]:
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
            where = Where(path, name)
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
    header = _locate(sheet, opts, Where(path, name))
    assert header is not None
    return name, _fits(header, opts) or "wide", sheet, header

