"""One feed table -> ``raw.<table>``: stage its files, then give every row its reject reason.

The per-table half of :func:`restock.feed.reader.load_feed`, which calls these in contract
order. :func:`stage_table_files` unions the table's files (column names cleaned, required
columns checked per file); :func:`finish_table` applies :mod:`restock.feed.row_checks` and the
first-occurrence dedup and writes ``raw.<table>``; :func:`count_rows` fills the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from restock.contract import InputTable
from restock.feed.bounds import FeedBounds
from restock.feed.errors import FeedError
from restock.feed.files import (
    clean_column_name,
    file_sha256,
    quote_file_column,
    read_file_as_text,
    table_files,
)
from restock.feed.row_checks import (
    base_checks,
    business_date_sql,
    dedup_key_sql,
    reason_case_sql,
    window_checks,
)
from restock.warehouse import quote_identifier


@dataclass
class TableIngest:
    """What happened to one feed table."""

    table: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    present: bool = False


def write_empty_raw(con: duckdb.DuckDBPyConnection, spec: InputTable, columns: list[str]) -> None:
    """Write an empty ``raw.<table>`` for an absent optional table.

    dbt's sources read every contract table, so an absent one still exists, with the contract
    columns (all text) and the three metadata columns.
    """
    cols = ", ".join(f"cast(null as varchar) as {quote_identifier(c)}" for c in columns)
    con.execute(
        f"create or replace table raw.{quote_identifier(spec.name)} as select {cols}, "
        "cast(null as varchar) as _source_file, cast(null as bigint) as _row_number, "
        "cast(null as varchar) as _reject_reason limit 0"
    )


def stage_table_files(
    con: duckdb.DuckDBPyConnection, spec: InputTable, feed_dir: Path, info: TableIngest
) -> tuple[list[str], list[tuple[str, str, int, int, str]]]:
    """Read every file of a table into temp table ``_ingest_all``; return (columns, files)."""
    files = table_files(feed_dir, spec.name)
    file_rows: list[tuple[str, str, int, int, str]] = []
    per_file: list[tuple[str, list[str], list[str]]] = []  # (label, clean names, raw names)
    all_columns: list[str] = []
    for index, path in enumerate(files):
        label = path.relative_to(feed_dir).as_posix()
        info.files.append(label)
        size = path.stat().st_size
        if size == 0:
            file_rows.append((spec.name, label, 0, 0, file_sha256(path)))
            per_file.append((label, [], []))
            info.warnings.append(f"file {label} is empty")
            continue
        target = f"_ingest_file_{index}"
        raw_names, warnings = read_file_as_text(con, spec.name, path, label, target)
        info.warnings.extend(warnings)
        clean = [clean_column_name(n) for n in raw_names]
        if len(set(clean)) != len(clean):
            raise FeedError(f"{spec.name}: file {label} has duplicate column names {raw_names}")
        for name in clean:
            if name not in all_columns:
                all_columns.append(name)
        rows = con.execute(f"select count(*) from {target}").fetchone()[0]
        file_rows.append((spec.name, label, int(rows), size, file_sha256(path)))
        per_file.append((label, clean, raw_names))
    # A required column missing from any non-empty file is an error naming that file.
    for label, clean, _ in per_file:
        if not clean:
            continue
        for col in spec.required_columns:
            if col not in clean:
                raise FeedError(
                    f"{spec.name}: file {label} is missing required column {col!r} "
                    f"(columns: {', '.join(clean)})"
                )
        if spec.one_of and not any(c in clean for c in spec.one_of):
            raise FeedError(
                f"{spec.name}: file {label} needs at least one of the columns "
                f"{', '.join(spec.one_of)}"
            )
    file_columns = list(all_columns)
    columns = file_columns + [c for c in spec.column_names if c not in file_columns]
    extra = [c for c in file_columns if c not in spec.column_names]
    if extra:
        info.warnings.append(
            f"extra columns kept in raw, ignored downstream: {', '.join(extra)}"
        )
    selects = []
    for index, (_label, clean, raw_names) in enumerate(per_file):
        if not clean:
            continue
        by_clean = dict(zip(clean, raw_names, strict=True))
        exprs = [
            f"{quote_file_column(by_clean[c])} as {quote_identifier(c)}"
            if c in by_clean
            else f"cast(null as varchar) as {quote_identifier(c)}"
            for c in columns
        ]
        selects.append(
            f"select {', '.join(exprs)}, cast(? as varchar) as _source_file, "
            f"cast({index} as integer) as _file_index, "
            f"cast(rowid + 1 as bigint) as _row_number from _ingest_file_{index}"
        )
    params = [label for label, clean, _ in per_file if clean]
    if selects:
        con.execute(
            "create or replace temp table _ingest_all as " + " union all ".join(selects),
            params,
        )
    else:
        cols = ", ".join(f"cast(null as varchar) as {quote_identifier(c)}" for c in columns)
        con.execute(
            f"create or replace temp table _ingest_all as select {cols}, "
            "cast(null as varchar) as _source_file, cast(null as integer) as _file_index, "
            "cast(null as bigint) as _row_number limit 0"
        )
    for index in range(len(per_file)):
        con.execute(f"drop table if exists _ingest_file_{index}")
    return columns, file_rows


def finish_table(
    con: duckdb.DuckDBPyConnection,
    spec: InputTable,
    columns: list[str],
    has_locations: bool,
    as_of: date | None,
    bounds: FeedBounds,
    info: TableIngest,
) -> date | None:
    """Compute reject reasons and write ``raw.<table>``; return the latest valid date.

    The latest valid date is capped at ``bounds.latest_default()``: a sale dated in 2099
    cannot become the default as_of.
    """
    base = reason_case_sql(base_checks(spec, has_locations))
    date_expr = business_date_sql(spec.date_column) if spec.date_column else "cast(null as date)"
    con.execute(
        "create or replace temp table _ingest_checked as select *, "
        f"{base} as _base_reason, {date_expr} as _business_date from _ingest_all"
    )
    latest = con.execute(
        "select max(_business_date) from _ingest_checked where _base_reason is null "
        "and _business_date <= ?",
        [bounds.latest_default()],
    ).fetchone()[0]
    effective_as_of = as_of if as_of is not None else latest
    after = (
        "when _business_date > cast(? as date) then 'dated after as_of' "
        if spec.date_column and not spec.future_allowed and effective_as_of is not None
        else ""
    )
    params = [effective_as_of] if after else []
    if effective_as_of is not None:
        window = window_checks(spec, effective_as_of, bounds)
        after += " ".join(f"when {cond} then '{reason}'" for cond, reason in window) + " "
        if spec.name == "promotions":
            _warn_clipped_promotions(con, effective_as_of, bounds, info)
    partition = f"(_pre_reason is null), {dedup_key_sql(spec, columns)}"
    # Only otherwise-valid rows compete for "first occurrence", so a corrected re-send of a
    # rejected row is accepted; rows dated after as_of are excluded from the race too.
    cols = ", ".join(quote_identifier(c) for c in columns)
    con.execute(
        f"create or replace table raw.{quote_identifier(spec.name)} as "
        "with reasons as ("
        "  select *, case when _base_reason is not null then _base_reason "
        f"  {after} end as _pre_reason from _ingest_checked"
        "), ranked as ("
        "  select *, "
        "  case when _pre_reason is null then row_number() over w end as _dup_rank, "
        "  first_value(_source_file || ':' || _row_number) over w as _first_seen "
        "  from reasons "
        f"  window w as (partition by {partition} order by _file_index, _row_number)"
        ") "
        f"select {cols}, _source_file, _row_number, "
        "coalesce(_pre_reason, case when _dup_rank > 1 then 'duplicate of ' || _first_seen end) "
        "as _reject_reason from ranked order by _file_index, _row_number",
        params,
    )
    con.execute("drop table if exists _ingest_checked")
    con.execute("drop table if exists _ingest_all")
    return latest


def _warn_clipped_promotions(
    con: duckdb.DuckDBPyConnection, as_of: date, bounds: FeedBounds, info: TableIngest
) -> None:
    """Warn about accepted promotions clipped to the window (dbt clips them)."""
    start, horizon_end, far_end = bounds.window(as_of)
    s, e = business_date_sql("start_date"), business_date_sql("end_date")
    early, late = con.execute(
        f"select count(*) filter (where {s} < ? and {e} >= ?), "
        f"count(*) filter (where {e} > ? and {s} <= ?) "
        "from _ingest_checked where _base_reason is null",
        [start, start, far_end, horizon_end],
    ).fetchone()
    if early:
        info.warnings.append(
            f"{early} promotion(s) start before {start.isoformat()} (as_of - "
            f"{bounds.history_days} days): clipped to start then"
        )
    if late:
        info.warnings.append(
            f"{late} promotion(s) end after {far_end.isoformat()}: clipped to the forecast "
            f"horizon {horizon_end.isoformat()}"
        )


def count_rows(con: duckdb.DuckDBPyConnection, name: str, info: TableIngest) -> None:
    """Fill ``info``'s accepted / rejected counts and reasons from ``raw.<name>``."""
    rows = con.execute(
        f"select _reject_reason, count(*) from raw.{quote_identifier(name)} group by all"
    ).fetchall()
    info.reject_reasons = {r: int(n) for r, n in rows if r is not None}
    info.rows_accepted = sum(int(n) for r, n in rows if r is None)
    info.rows_rejected = sum(info.reject_reasons.values())
