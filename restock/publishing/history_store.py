"""The history store: the history tables carried from run to run, beside the warehouse.

The published DuckDB file is rebuilt each run, so the history lives in its own DuckDB file,
``<stem>_history/history.duckdb`` beside the warehouse (``history_store_path``). A run builds a
new store ``history.duckdb.tmp-<run_id>`` from the previous one (opened read-only, never
written) plus this run, and the publication renames it over the old store as its first local
swap, after the Postgres swap and before the DuckDB file and the Parquet link:

- a failure before the swap point leaves the old store byte-identical (the tmp file is removed);
- a crash between the store rename and the DuckDB rename leaves the store one run ahead of the
  published file: nothing is lost, and the next run carries it forward (and re-running that
  as_of replaces its rows rather than duplicating them);
- the rename is atomic and fsynced, so the store is always the previous or the new file.

Where the previous history comes from, first found: the store; else the published DuckDB file's
``marts`` history tables (a store deleted by hand, or a warehouse published before the store
existed); else nothing (the first run). A store that exists but cannot be opened stops the
publish (``HistoryStoreError``): publishing an empty history over it would lose it. Restore
``history.duckdb`` from a backup, or move it aside to start over (then the published file's
tables are used).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from restock.contract import HISTORY_TABLES
from restock.fsync import fsync_dir, fsync_file
from restock.history import HistorySettings, build_history, carry_forward, create_history_tables
from restock.paths import RunPaths
from restock.publishing.common import PUBLISHED_SCHEMA, connect, log, sql_string
from restock.publishing.duckdb_file import seal_file

STORE_NAME = "history.duckdb"


class HistoryStoreError(RuntimeError):
    """The history store exists but cannot be read: refuse to publish over it."""


def history_store_path(paths: RunPaths) -> Path:
    """``<stem>_history/history.duckdb`` beside the published warehouse."""
    return paths.root / f"{paths.warehouse.stem}_history" / STORE_NAME


def remove_stale_history(paths: RunPaths) -> None:
    """Delete tmp stores of killed publishes (safe: the caller holds the publish lock)."""
    folder = history_store_path(paths).parent
    if folder.is_dir():
        for stale in folder.glob(f"{STORE_NAME}.tmp-*"):
            log.warning("removing %s left by an interrupted publish", stale.name)
            stale.unlink(missing_ok=True)


def build_history_store(
    work_db: Path,
    paths: RunPaths,
    safe_run: str,
    run_id: str,
    as_of: date,
    settings: HistorySettings,
    storage_version: str,
) -> tuple[Path, dict[str, int]]:
    """Write the new store (previous history + this run) to a tmp file; return it and rows."""
    store = history_store_path(paths)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(f"{STORE_NAME}.tmp-{safe_run}")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = connect()
    try:
        con.execute(f"attach {sql_string(work_db)} as work (read_only)")
        source = _attach_previous(con, store, paths.warehouse)
        con.execute(
            f"attach {sql_string(tmp)} as hist (storage_version {sql_string(storage_version)})"
        )
        create_history_tables(con, "hist.main")
        carry_forward(con, source, "hist.main")
        rows = build_history(con, "work", "hist.main", run_id, as_of, settings)
        con.execute("checkpoint hist")
        con.execute("detach hist")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    con.close()
    fsync_file(tmp)
    log.info(
        "history for as_of %s: %s", as_of, ", ".join(f"{t}={n}" for t, n in rows.items())
    )
    return tmp, rows


def copy_history_into(tmp_db: Path, store_tmp: Path) -> None:
    """Copy the history tables of the new store into the new published file (``marts``)."""
    con = connect(str(tmp_db))
    try:
        con.execute(f"attach {sql_string(store_tmp)} as hist (read_only)")
        for table in HISTORY_TABLES:
            con.execute(
                f'create table {PUBLISHED_SCHEMA}."{table}" as select * from hist.main."{table}"'
            )
        con.execute("detach hist")
        con.execute("checkpoint")
    finally:
        con.close()
    seal_file(tmp_db)


def replace_history_store(store_tmp: Path, paths: RunPaths) -> None:
    """Rename the new store over the old one, durably."""
    store = history_store_path(paths)
    os.replace(store_tmp, store)
    fsync_dir(store.parent)


def _attach_previous(con: duckdb.DuckDBPyConnection, store: Path, warehouse: Path) -> str | None:
    """Attach the previous history read-only; return its ``db.schema`` or None (first run)."""
    if store.exists():
        try:
            con.execute(f"attach {sql_string(store)} as prev (read_only)")
        except duckdb.Error as exc:
            raise HistoryStoreError(
                f"cannot read the history store {store}: {exc}. Refusing to publish over it "
                "(restore it from a backup, or move it aside to rebuild from the published file)"
            ) from None
        return "prev.main"
    if warehouse.exists():
        try:
            con.execute(f"attach {sql_string(warehouse)} as prev (read_only)")
        except duckdb.Error as exc:
            log.warning("no history store and the published file is unreadable (%s)", exc)
            return None
        has = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'prev' "
            "and schema_name = ? and table_name in (select unnest(?))",
            [PUBLISHED_SCHEMA, list(HISTORY_TABLES)],
        ).fetchone()
        if has and has[0]:
            log.warning("no history store at %s: carrying history from %s", store, warehouse)
            return f"prev.{PUBLISHED_SCHEMA}"
    return None
