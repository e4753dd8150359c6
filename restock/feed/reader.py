"""Feed directory -> ``raw.<table>`` in the work DuckDB, every row kept with its reject reason.

A feed is a directory; each contract table is ``<table>.csv``, ``<table>.parquet`` or a folder
``<table>/`` of CSV or Parquet part files. Every file is read with DuckDB's own readers as text
(``all_varchar``), column names lower-cased, and written to ``raw.<table>`` with three extra
columns: ``_source_file`` (path relative to the feed), ``_row_number`` (1-based within the file)
and ``_reject_reason`` (NULL = accepted). Rows are never dropped: rows read = accepted + rejected.

Handling decided here (see docs/DATA_QUALITY.md):

- CSV encoding: UTF-8, a BOM is fine. A file that is not valid UTF-8 is re-read as latin-1 and a
  warning is reported (latin-1 maps every byte, so this never fails; cp1252 punctuation may come
  out as control characters, which is why it is a warning).
- Delimiter: the contract says comma. A header line without a comma that contains ``;``, a tab
  or ``|`` raises :class:`FeedError` naming the file (semicolon files usually also carry decimal
  commas, so guessing would corrupt numbers).
- Empty (0 bytes) or header-only files: a required table with no rows at all raises
  ``FeedError(... no rows)``; an optional table may be empty (warning).
- Timestamps: the business date is the local date as written (the first 10 characters of an
  ISO-8601 value); a time-zone offset is ignored on purpose, since the contract's date is the
  business date at the location. Parquet TIMESTAMP WITH TIME ZONE values are instants without
  the written offset: they are rendered in UTC before this rule applies.
- Contract columns missing from the file but optional are added as NULL (staging applies the
  defaults); extra columns are kept in raw and reported as a warning.
- Time grain (DATA_CONTRACT v1.1): ``feed.yml``'s ``grain: day|week|month`` when the feed has
  one, else detected from the accepted sales dates with demand (``restock.grain.detect_grain``:
  month when every such date is the 1st, week when each series sells on one weekday only,
  else day). Recorded in ``raw._feed`` (one row: grain, grain_source = ``feed.yml`` /
  ``detected``) and in :attr:`IngestResult.grain`, for forecasting to work at that grain.

The pieces: :mod:`restock.feed.files` (one file), :mod:`restock.feed.row_checks` (the reject
reasons as SQL), :mod:`restock.feed.bounds` (the plausible window), :mod:`restock.feed.tables`
(one table); this module drives them in contract order and records the feed's grain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from restock.contract import INPUT_TABLES
from restock.feed.bounds import FeedBounds
from restock.feed.errors import FeedError
from restock.feed.files import table_files
from restock.feed.row_checks import business_date_sql, number_sql
from restock.feed.tables import (
    TableIngest,
    count_rows,
    finish_table,
    stage_table_files,
    write_empty_raw,
)
from restock.grain import GrainError, detect_grain, read_feed_grain

log = logging.getLogger("restock.ingest")

META_COLUMNS = ("_source_file", "_row_number", "_reject_reason")
# Order matters: products and locations first (sales check skus/locations against them), sales
# before the other dated tables (as_of defaults to the latest valid sales date).
TABLE_ORDER = (
    "products",
    "locations",
    "sales",
    "inventory",
    "purchase_orders",
    "promotions",
    "drivers",
    "events",
    "suppliers",
    "transfer_lanes",
)


@dataclass
class IngestResult:
    """Per-table counts and warnings of one :func:`load_feed` call."""

    as_of: date
    tables: dict[str, TableIngest]
    grain: str = "day"  # day | week | month (module docstring)
    grain_source: str = "detected"  # feed.yml | detected

    @property
    def warnings(self) -> list[str]:
        """All warnings, prefixed with their table."""
        return [f"{t.table}: {w}" for t in self.tables.values() for w in t.warnings]

    @property
    def rows_read(self) -> dict[str, int]:
        """Rows read per table."""
        return {name: t.rows_read for name, t in self.tables.items()}

    @property
    def rows_accepted(self) -> dict[str, int]:
        """Rows accepted per table."""
        return {name: t.rows_accepted for name, t in self.tables.items()}

    @property
    def rows_rejected(self) -> dict[str, int]:
        """Rows rejected per table."""
        return {name: t.rows_rejected for name, t in self.tables.items()}


def load_feed(
    feed_dir: Path,
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    bounds: FeedBounds | None = None,
) -> IngestResult:
    """Read the feed in ``feed_dir`` into ``raw.<table>`` of ``con``.

    Parameters
    ----------
    feed_dir : Path
        The feed directory (``<table>.csv`` / ``.parquet`` / ``<table>/`` part folders).
    con : duckdb.DuckDBPyConnection
        Connection to the work DB; ``raw.*`` and ``raw._ingest_files`` are replaced.
    as_of : date, optional
        The run date. Default: the latest valid sales date no later than tomorrow.
    bounds : FeedBounds, optional
        The plausible window of dates (default :class:`FeedBounds`): rows outside are
        quarantined with a reason naming the column and the bound.

    Returns
    -------
    IngestResult
        Rows read / accepted / rejected and warnings per table, and the as_of used.

    Raises
    ------
    FeedError
        Missing feed or required table, missing required column, required table without rows,
        unreadable file or wrong delimiter. One line naming the table, file (and line).
    """
    feed_dir = Path(feed_dir)
    bounds = bounds or FeedBounds()
    if not feed_dir.is_dir():
        raise FeedError(
            f"feed directory not found: {feed_dir}; pass the folder holding products.csv and "
            "sales.csv"
        )
    # The terminal progress bar would otherwise print into logs of a nightly run.
    con.execute("set enable_progress_bar = false")
    con.execute("create schema if not exists raw")
    tables: dict[str, TableIngest] = {}
    ingest_files: list[tuple[str, str, int, int, str]] = []
    has_locations = False
    used_as_of = as_of
    for name in TABLE_ORDER:
        spec = INPUT_TABLES[name]
        info = TableIngest(table=name)
        tables[name] = info
        if not table_files(feed_dir, name):
            if spec.required:
                columns = ", ".join(spec.required_columns)
                raise FeedError(
                    f"{name}: required table missing: no {name}.csv, {name}.parquet or folder "
                    f"{name}/ in {feed_dir}; add it (required columns: {columns})"
                )
            write_empty_raw(con, spec, list(spec.column_names))
            continue
        info.present = True
        columns, file_rows = stage_table_files(con, spec, feed_dir, info)
        ingest_files.extend(file_rows)
        rows_read = sum(r[2] for r in file_rows)
        if rows_read == 0:
            if spec.required:
                raise FeedError(
                    f"{name}: no rows: the required table's files "
                    f"({', '.join(info.files)}) are empty or header-only"
                )
            info.warnings.append("table has no rows")
        latest = finish_table(con, spec, columns, has_locations, used_as_of, bounds, info)
        if name == "sales" and used_as_of is None:
            if latest is None:
                raise FeedError(
                    "sales: no valid rows dated up to today, so as_of cannot default to the "
                    "latest sale; fix the sales dates or pass --as-of"
                )
            used_as_of = latest
        if name == "locations":
            has_locations = rows_read > 0
        count_rows(con, name, info)
        info.rows_read = rows_read  # from the files; raw holds exactly these rows
        log.info(
            "ingested %s: %d rows read, %d accepted, %d rejected",
            name,
            info.rows_read,
            info.rows_accepted,
            info.rows_rejected,
        )
        for warning in info.warnings:
            log.warning("%s: %s", name, warning)
    con.execute(
        "create or replace table raw._ingest_files (\"table\" varchar, file varchar, "
        "rows bigint, bytes bigint, sha256 varchar)"
    )
    if ingest_files:
        con.executemany("insert into raw._ingest_files values (?, ?, ?, ?, ?)", ingest_files)
    assert used_as_of is not None  # sales is required and has valid rows by now
    grain, source = feed_grain(feed_dir, con)
    log.info("feed grain: %s (%s)", grain, source)
    return IngestResult(as_of=used_as_of, tables=tables, grain=grain, grain_source=source)


def feed_grain(feed_dir: Path, con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The feed's grain and where it came from; written to ``raw._feed`` (module docstring)."""
    try:
        grain = read_feed_grain(feed_dir)
    except GrainError as exc:
        raise FeedError(str(exc)) from exc
    source = "feed.yml"
    if grain is None:
        rows = con.execute(
            f"select sku || '|' || location, {business_date_sql('date')} from raw.sales "
            f"where _reject_reason is null and {number_sql('quantity')} > 0").fetchall()
        grain = detect_grain([r[0] for r in rows], [r[1] for r in rows])
        source = "detected"
    con.execute("create or replace table raw._feed (grain varchar, grain_source varchar)")
    con.execute("insert into raw._feed values (?, ?)", [grain, source])
    return grain, source

