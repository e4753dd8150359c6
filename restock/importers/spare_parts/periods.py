"""Periods of a spare-parts workbook: read a header or date cell, tell the grain, move dates.

Pure functions of cells and dates (no sheet), shared by the wide and the long layout.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pandas as pd

_RELATIVE = re.compile(r"^(?:latest|last|current|t)\s*(?:-\s*(\d+))?$")
_WEEK = re.compile(r"^(?:week|wk|w)\s*(\d{1,2})$")
_YEAR_WEEK = re.compile(r"^(\d{4})\s*[-/ ]?\s*(?:week|wk|w)\s*(\d{1,2})$")
_WEEK_YEAR = re.compile(r"^(?:week|wk|w)\s*(\d{1,2})\s*[-/ ,]\s*(\d{4})$")
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y.%m", "%m/%Y", "%m-%Y", "%b %Y", "%B %Y", "%b-%Y",
                  "%B-%Y", "%b-%y", "%b %y", "%Y %b", "%Y-%b")
_DAY_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%Y%m%d")


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


def year_of(value: object) -> int | None:
    """The year a header cell states (2023 or "2023"), else None: dates ``week N`` columns."""
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

