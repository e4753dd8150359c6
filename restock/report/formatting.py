"""Formatting for the run report: escaped values, numbers, tables and notes as HTML snippets.

Every value from the data goes through ``esc`` or a ``fmt_*`` function, so a SKU named
``<script>`` is shown, never run.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from restock.report.data import missing_columns

DASH = "–"


def esc(value: object) -> str:
    """HTML-escape any value from the data (None and NaN become a dash)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return DASH  # None, NaN, NaT and pd.NA alike
    return html.escape(str(value))


def finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_num(value: object, digits: int = 0) -> str:
    """A number with thousands separators, or a dash when unknown."""
    number = finite(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def fmt_pct(value: object, digits: int = 1) -> str:
    """A share (0.084) as a percentage ("8.4%"), or a dash when unknown."""
    number = finite(value)
    return DASH if number is None else f"{number * 100:.{digits}f}%"


def fmt_date(value: object) -> str:
    """A date as YYYY-MM-DD, or a dash."""
    if value is None or value is pd.NaT:
        return DASH
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return esc(value)
    return DASH if pd.isna(stamp) else stamp.strftime("%Y-%m-%d")


def fmt_duration(seconds: object) -> str:
    """Seconds as "42.0 s" or "3 min 05 s"."""
    number = finite(seconds)
    if number is None:
        return esc(seconds)
    if number < 60:
        return f"{number:.1f} s"
    minutes, rest = divmod(int(round(number)), 60)
    return f"{minutes} min {rest:02d} s"


def table(
    headers: list[tuple[str, str]],
    rows: list[list[str]],
    row_classes: list[str] | None = None,
    compact: bool = False,
) -> str:
    """An HTML table. Headers are (label, css class); cells are already-escaped HTML."""
    head = "".join(f'<th class="{cls}">{label}</th>' for label, cls in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td class="{headers[j][1]}">{cell}</td>' if headers[j][1] else f"<td>{cell}</td>"
            for j, cell in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    wrap = "table-wrap compact" if compact else "table-wrap"
    return (
        f'<div class="{wrap}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def defs(items: list[tuple[str, str]]) -> str:
    """One-line definitions of the metrics a section shows."""
    inner = "".join(f"<dt>{term}:</dt> <dd>{text}</dd>" for term, text in items)
    return f'<dl class="defs">{inner}</dl>'


def empty(text: str) -> str:
    """A sentence saying why a section has nothing to show."""
    return f'<p class="empty">{text}</p>'


def lacks(frame: pd.DataFrame, needed: list[str], what: str) -> str:
    """A sentence naming the columns ``frame`` lacks (empty string when it has them all)."""
    missing = missing_columns(frame, needed)
    return empty(f"The {what} table lacks columns: {esc(', '.join(missing))}.") if missing else ""


def capped_note(shown: int, total: int, what: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="note">Showing the first {shown:,} of {total:,} {what}.</p>'


def fmt_level(value: object, max_digits: int = 3) -> str:
    """A service level or other share near 100% with the decimals it needs.

    0.95 -> "95%", 0.995 -> "99.5%", 0.998 -> "99.8%", 0.9999 -> "99.99%": never "100%" for a
    value below 1, so two different targets never print alike.
    """
    number = finite(value)
    if number is None:
        return DASH
    pct = number * 100
    for digits in range(max_digits + 1):
        text = f"{pct:.{digits}f}"
        if abs(float(text) - pct) < 1e-9 or digits == max_digits:
            if number < 1 and float(text) >= 100:  # still rounds to 100: say it is below
                return f"{'99.' + '9' * max_digits}%+"
            return f"{text}%"
    return f"{pct:.{max_digits}f}%"  # unreachable


def money_label(currency: str | None) -> str:
    """The currency as a column-header suffix: " (EUR)", or "" when no currency is set."""
    return f" ({esc(currency)})" if currency else ""


def fmt_money(value: object, currency: str | None, digits: int = 0) -> str:
    """A money amount with the configured currency ("EUR 1,234" or "$1,234"), or a dash."""
    text = fmt_num(value, digits)
    if not currency or text == DASH:
        return text
    cur = esc(currency)
    return f"{cur}{text}" if len(currency) == 1 else f"{cur} {text}"
