"""The products table of a spare-parts feed from the parts' attribute cells.

Lead times are converted to days (the unit from the option or the header text), and without a
category column the header's lead-time legend gives each part its sourcing region.
"""

from __future__ import annotations

import re

import pandas as pd

from restock.importers.common import SourceFormatError
from restock.importers.spare_parts.cells import (
    Where,
    cell_text,
    is_blank,
    to_numbers,
)
from restock.importers.spare_parts.options import DAYS_PER_UNIT, SparePartsOptions
from restock.importers.spare_parts.sheet import SheetHeader

PRODUCT_COLUMNS = ("sku", "name", "category", "supplier", "lead_time_days", "unit_cost",
                   "unit_price", "moq", "pack_size", "fixed_order_cost",
                   "holding_cost_per_year", "products_per_unit")
_LEGEND = re.compile(r"(\d+(?:\.\d+)?)\s*([dwm])\w*\s*/\s*([a-z][a-z0-9_]*)")


def _lead_unit(header: SheetHeader, opts: SparePartsOptions, where: Where) -> str | None:
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


def _legend(header: SheetHeader, unit: str | None) -> dict[float, str]:
    """Lead time (in the column's unit) -> region, from a header legend such as ``16w/asia``."""
    if unit is None:
        return {}
    text = header.labels.get(header.fields["lead_time"], "").lower()
    return {float(n): region.strip().upper().replace(" ", "_")
            for n, _, region in _LEGEND.findall(text)}


def build_products(parts: pd.DataFrame, header: SheetHeader, opts: SparePartsOptions, stem: str,
                   where: Where) -> tuple[pd.DataFrame, int, str | None]:
    """Products table from the parts' attribute cells; also unreadable cells and the unit."""
    f = header.fields
    out = pd.DataFrame({"sku": parts["sku"]})
    out["name"] = parts["name"].map(cell_text) if "name" in f else f"{stem} part " + parts["sku"]
    unit = _lead_unit(header, opts, where)
    unreadable = 0
    if unit is not None:
        raw = parts["lead_time"]
        value = to_numbers(raw)
        bad = value.isna() & ~raw.map(is_blank)
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
        out["category"] = parts["category"].map(lambda v: None if is_blank(v) else cell_text(v))
        if "supplier" in f:
            out["supplier"] = parts["supplier"].map(lambda v: None if is_blank(v) else cell_text(v))
    else:
        legend = _legend(header, unit)
        if legend:
            lead = to_numbers(parts["lead_time"])
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
            unreadable += int((to_numbers(raw).isna() & ~raw.map(is_blank)).sum())
            out[field] = raw
    return out[[c for c in PRODUCT_COLUMNS if c in out.columns]], unreadable, unit

