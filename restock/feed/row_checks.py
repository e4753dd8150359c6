"""The row checks of the feed reader as SQL: each gives a rejected row its reason.

Pure string building, no connection: identifiers are quoted and values come from the contract
(:mod:`restock.contract`) and :class:`restock.feed.bounds.FeedBounds` only. Kept apart from
the reading so the rules of docs/DATA_QUALITY.md can be read (and reused: the quality suites
use :func:`business_date_sql`) in one place.
"""

from __future__ import annotations

from datetime import date

from restock.contract import Column, InputTable
from restock.feed.bounds import (
    FAR_FUTURE_COLUMNS,
    MAX_INTEGER,
    MAX_LEAD_TIME_DAYS,
    MAX_NUMBER,
    FeedBounds,
)
from restock.warehouse import quote_identifier

# Tables whose sku / location must be known.
SKU_CHECKED = ("sales", "inventory", "purchase_orders")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
# ISO date, optionally followed by a time and a zone offset ("Z", "+02", "+02:00", "-0500").
DATE_PATTERN = (
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?"
)
_SQL_DATE_PATTERN = DATE_PATTERN.replace("'", "''")


def _blank(col: str) -> str:
    return f"nullif(trim({quote_identifier(col)}), '') is null"


def number_sql(col: str) -> str:
    """SQL giving a raw text column as a DOUBLE (NULL when not a number).

    Shared by the checks here and by the grain detection of :mod:`restock.feed.reader`, so
    both read "a number" the same way.
    """
    return f"try_cast(trim({quote_identifier(col)}) as double)"


def business_date_sql(col: str) -> str:
    """SQL giving the business date of a raw text column (NULL when not a valid date)."""
    q = quote_identifier(col)
    return (
        f"case when regexp_full_match(trim({q}), '{_SQL_DATE_PATTERN}') "
        f"then try_cast(substr(trim({q}), 1, 10) as date) end"
    )


def _bool_words(words: tuple[str, ...]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _type_check(column: Column) -> tuple[str, str] | None:
    """(condition for a bad value, reason) for a typed contract column."""
    c = column.name
    present = f"not ({_blank(c)})"
    if column.type == "number":
        return (
            f"{present} and ({number_sql(c)} is null or not isfinite({number_sql(c)}))",
            f"non-numeric {c}",
        )
    if column.type == "integer":
        return (
            f"{present} and ({number_sql(c)} is null or not isfinite({number_sql(c)}) "
            f"or {number_sql(c)} <> round({number_sql(c)}))",
            f"non-integer {c}",
        )
    if column.type in ("date", "timestamp"):
        return (f"{present} and ({business_date_sql(c)}) is null", f"bad date {c}")
    if column.type == "boolean":
        words = _bool_words(TRUE_WORDS + FALSE_WORDS)
        return (
            f"{present} and lower(trim({quote_identifier(c)})) not in ({words})",
            f"bad boolean {c}",
        )
    return None


def _range_check(column: Column) -> tuple[str, str] | None:
    """(value outside its type's safe range, reason): caught here, not by a cast in dbt."""
    c = column.name
    if column.type == "integer":
        return f"abs({number_sql(c)}) > {MAX_INTEGER}", f"{c} out of range (above {MAX_INTEGER})"
    if column.type == "number":
        return (f"abs({number_sql(c)}) > {MAX_NUMBER:.0e}",
                f"{c} out of range (above {MAX_NUMBER:g})")
    return None


def window_checks(spec: InputTable, as_of: date, bounds: FeedBounds) -> list[tuple[str, str]]:
    """Date checks against the plausible window around ``as_of`` (dates as SQL literals)."""
    start, horizon_end, far_end = bounds.window(as_of)
    checks: list[tuple[str, str]] = []
    for col in spec.columns:
        if col.type not in ("date", "timestamp"):
            continue
        d = business_date_sql(col.name)
        if not (spec.name == "promotions" and col.name == "start_date"):
            checks.append((f"{d} < date '{start.isoformat()}'",
                           f"{col.name} before {start.isoformat()} (as_of - "
                           f"{bounds.history_days} days)"))
    for col in spec.columns:
        if col.type not in ("date", "timestamp"):
            continue
        d = business_date_sql(col.name)
        if (spec.name, col.name) in FAR_FUTURE_COLUMNS:
            checks.append((f"{d} > date '{far_end.isoformat()}'",
                           f"{col.name} after {far_end.isoformat()} (as_of + "
                           f"{bounds.history_days} days)"))
        elif spec.future_allowed and col.name in ("date", "start_date"):
            checks.append((f"{d} > date '{horizon_end.isoformat()}'",
                           f"{col.name} after {horizon_end.isoformat()} (as_of + "
                           f"{bounds.future_days} days, the forecast horizon)"))
    return checks


def _rule_check(column: Column) -> tuple[str, str] | None:
    """(condition for a rule violation, reason) from the contract's rule text."""
    # The rule's first clause is the check (">= 0; default for its products" checks >= 0).
    c, rule = column.name, column.rule.split(";")[0].strip()
    v = number_sql(c)
    present = f"not ({_blank(c)})"
    numeric = {
        "> 0": (f"{v} <= 0", f"{c} <= 0"),
        ">= 0": (f"{v} < 0", f"negative {c}"),
        ">= 1": (f"{v} < 1", f"{c} < 1"),
        "0..24": (f"({v} < 0 or {v} > 24)", f"{c} outside 0..24"),
        "in (0, 1)": (f"({v} <= 0 or {v} >= 1)", f"{c} outside (0, 1)"),
    }
    if column.type in ("number", "integer") and rule in numeric:
        cond, reason = numeric[rule]
        return f"{present} and {cond}", reason
    if column.name == "status" and "open" in rule:
        allowed = ", ".join(f"'{w.strip()}'" for w in rule.split("/"))
        return (
            f"{present} and lower(trim({quote_identifier(c)})) not in ({allowed})",
            f"unknown {c}",
        )
    return None


def base_checks(spec: InputTable, has_locations: bool) -> list[tuple[str, str]]:
    """Row checks in priority order: first failing one is the row's reject reason."""
    checks: list[tuple[str, str]] = []
    for col in spec.columns:
        if col.required:
            checks.append((_blank(col.name), f"missing {col.name}"))
    if spec.one_of:
        cond = " and ".join(_blank(c) for c in spec.one_of)
        checks.append((cond, "missing " + " and ".join(spec.one_of)))
    for col in spec.columns:
        typed = _type_check(col)
        if typed:
            checks.append(typed)
    for col in spec.columns:
        ranged = _range_check(col)
        if ranged:
            checks.append(ranged)
    for col in spec.columns:
        ruled = _rule_check(col)
        if ruled:
            checks.append(ruled)
    if spec.name == "products":
        for c in ("lead_time_days", "lead_time_std_days"):
            checks.append((f"{number_sql(c)} > {MAX_LEAD_TIME_DAYS}",
                           f"{c} above {MAX_LEAD_TIME_DAYS} days"))
    if spec.name == "promotions":
        checks.append(
            (
                f"{business_date_sql('end_date')} < {business_date_sql('start_date')}",
                "end_date before start_date",
            )
        )
    if spec.name == "purchase_orders":
        checks.append(
            (
                f"{business_date_sql('received_date')} < {business_date_sql('order_date')}",
                "received_date before order_date",
            )
        )
    if spec.name == "suppliers":
        # purchase_orders.parse_weekdays reads these: names (mon..sun, or longer) and separators
        checks.append(
            (
                f"not ({_blank('order_weekdays')}) and not regexp_full_match("
                "lower(trim(order_weekdays)), "
                "'((mon|tue|wed|thu|fri|sat|sun)[a-z]*[,;/ ]*)+')",
                "unknown order_weekdays",
            )
        )
    if spec.name == "transfer_lanes" and has_locations:
        for c in ("from_location", "to_location"):
            checks.append(
                (
                    f"trim({c}) not in (select trim(location) from raw.locations "
                    "where _reject_reason is null)",
                    f"unknown {c}",
                )
            )
    if spec.name in SKU_CHECKED:
        checks.append(
            (
                "trim(sku) not in (select trim(sku) from raw.products "
                "where _reject_reason is null)",
                "unknown sku",
            )
        )
        if has_locations:
            checks.append(
                (
                    "trim(location) not in (select trim(location) from raw.locations "
                    "where _reject_reason is null)",
                    "unknown location",
                )
            )
    return checks


def reason_case_sql(checks: list[tuple[str, str]]) -> str:
    """One SQL ``case`` giving the first failing check's reason (NULL: the row passes).

    The order of ``checks`` is the priority of the reasons, so a row gets one reason only.
    """
    if not checks:
        return "cast(null as varchar)"
    whens = " ".join(f"when {cond} then '{reason}'" for cond, reason in checks)
    return f"case {whens} end"


def dedup_key_sql(spec: InputTable, file_columns: list[str]) -> str:
    """One text expression identifying a duplicate: the contract key, else the whole row.

    Parts are joined with the unit separator (NULL as the record separator) into a single
    string, which partitions about 2.5x faster in DuckDB than a dozen partition columns.
    """

    def joined(parts: list[str]) -> str:
        return "concat_ws(chr(31), " + ", ".join(
            f"coalesce({p}, chr(30))" for p in parts) + ")"

    everything = joined([quote_identifier(c) for c in file_columns])
    if spec.name == "sales":
        # (order_id, line_id) when both are given, else exact duplicate rows.
        has_key = "not (" + _blank("order_id") + ") and not (" + _blank("line_id") + ")"
        key = joined([f"trim({quote_identifier(c)})" for c in ("order_id", "line_id")])
        return f"case when {has_key} then 'k' || {key} else 'r' || {everything} end"
    if spec.key:
        parts = []
        for k in spec.key:
            if spec.column(k).type in ("date", "timestamp"):
                parts.append(f"cast({business_date_sql(k)} as varchar)")
            else:
                parts.append(f"nullif(trim({quote_identifier(k)}), '')")
        return joined(parts)
    return everything
