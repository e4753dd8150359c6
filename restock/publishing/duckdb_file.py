"""The published DuckDB file: built beside the old one, then renamed over it.

The tables are built in a new file beside ``paths.warehouse`` (``<name>.tmp-<run_id>``) in
storage version ``settings.duckdb_storage_version`` (DuckDB 1.x clients bundled in BI drivers
cannot open 2.0's default format), checkpointed, fsynced and renamed over the old file. The
writer never opens the published file, so a BI tool holding it open neither blocks the run nor
sees a half-written file: it keeps reading the old inode until it reopens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from restock.contract import RUN_COLUMNS, TYPED_COLUMNS
from restock.fsync import fsync_dir, fsync_file
from restock.paths import RunPaths
from restock.publishing.common import PUBLISHED_SCHEMA, connect, log, sql_string
from restock.warehouse import quote_identifier

STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


def build_published_file(
    work_db: Path,
    tmp_db: Path,
    run_id: str,
    as_of: date,
    storage_version: str,
    tables: Mapping[str, Sequence[str]],
) -> dict[str, int]:
    """Write every table into the new file ``tmp_db``; return rows per table."""
    for leftover in (tmp_db, tmp_db.with_name(tmp_db.name + ".wal")):
        leftover.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    # An in-memory connection attaches both files, so the writer never opens the published
    # file and only reads the work DB.
    con = connect()
    try:
        con.execute(f"attach {sql_string(work_db)} as work (read_only)")
        con.execute(
            f"attach {sql_string(tmp_db)} as pub (storage_version {sql_string(storage_version)})"
        )
        con.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
        for table, contract_columns in tables.items():
            types = dict(
                con.execute(
                    "select column_name, data_type from duckdb_columns() where database_name "
                    "= 'work' and schema_name = 'results' and table_name = ? "
                    "order by column_index",
                    [table],
                ).fetchall()
            )
            present = list(types)
            if not present:
                raise ValueError(f"results.{table} is missing from the work DB {work_db}")
            missing = [c for c in contract_columns if c not in present]
            if missing:
                raise ValueError(f"results.{table} lacks contract column(s) {', '.join(missing)}")
            typed = [t for t in TYPED_COLUMNS.get(table, ()) if t.source in contract_columns]
            typed_names = {t.name for t in typed}
            extras = [
                c
                for c in present
                if c not in contract_columns and c not in RUN_COLUMNS and c not in typed_names
            ]
            select = ", ".join(
                [
                    *(_column(c, types[c]) for c in contract_columns),
                    *(_typed_column(t, types) for t in typed),
                    *(_column(c, types[c]) for c in extras),
                ]
            )
            con.execute(
                f"create table pub.{PUBLISHED_SCHEMA}.{quote_identifier(table)} as "
                f"select {select}, ?::varchar as run_id, ?::date as as_of "
                f"from work.results.{quote_identifier(table)}",
                [run_id, as_of],
            )
            count = con.execute(
                f"select count(*) from pub.{PUBLISHED_SCHEMA}.{quote_identifier(table)}"
            ).fetchone()
            rows[table] = int(count[0]) if count else 0
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.execute("detach work")
    finally:
        con.close()
    seal_file(tmp_db)
    return rows


def seal_file(tmp_db: Path) -> None:
    """Make a checkpointed DuckDB file durable; refuse one that still needs its WAL."""
    wal = tmp_db.with_name(tmp_db.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} left after checkpoint: refusing to publish a file needing it")
    fsync_file(tmp_db)


def replace_published_file(tmp_db: Path, warehouse: Path) -> None:
    """Rename the finished ``tmp_db`` over the published file, durably (the DuckDB swap)."""
    os.replace(tmp_db, warehouse)
    fsync_dir(warehouse.parent)


def remove_stale_files(warehouse: Path) -> None:
    """Delete tmp files of killed publishes (safe: we hold the publish lock)."""
    for stale in warehouse.parent.glob(f"{_glob_escape(warehouse.name)}.tmp-*"):
        log.warning("removing %s left by an interrupted publish", stale.name)
        stale.unlink(missing_ok=True)


def verify_published(paths: RunPaths) -> dict[str, int]:
    """Rows per table of ``marts`` in the published DuckDB file (opened read-only)."""
    con = connect(str(paths.warehouse), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by table_name",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        counts = {}
        for name in names:
            row = con.execute(
                f"select count(*) from {quote_identifier(PUBLISHED_SCHEMA)}."
                f"{quote_identifier(name)}"
            ).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts
    finally:
        con.close()


def _glob_escape(name: str) -> str:
    """Escape glob wildcards in a literal file name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _column(name: str, data_type: str) -> str:
    """A select item for a results column: as it is, except an all-NULL column (type "NULL",
    e.g. an empty quarantine) published as VARCHAR, which every BI driver and Parquet know."""
    quoted = quote_identifier(name)
    if data_type == '"NULL"':
        return f"cast({quoted} as varchar) as {quoted}"
    return quoted


def _typed_column(column, types: Mapping[str, str]) -> str:
    """The BI-typed column added beside its source (contract.TYPED_COLUMNS): taken as it is
    from results when the stage already writes it, else DATE / BIGINT derived from its source.
    A whole-unit quantity is rounded first (3.9999999 -> 4, not 3)."""
    name = quote_identifier(column.name)
    if column.name in types:
        expr = quote_identifier(column.name)
    else:
        expr = quote_identifier(column.source)
    if column.type == "date":
        return f"cast({expr} as date) as {name}"
    if column.type == "integer":
        return f"cast(round({expr}) as bigint) as {name}"
    raise ValueError(f"unknown typed column type {column.type!r}")
