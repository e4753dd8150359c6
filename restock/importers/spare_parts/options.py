"""The choices a user can make when importing a spare-parts workbook, checked once.

Kept apart so every step (sheet, periods, products) reads the same validated options; the
meaning of each field is in :mod:`restock.importers.spare_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from restock.importers.common import SourceFormatError

GRAINS = ("day", "week", "month")
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}


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

