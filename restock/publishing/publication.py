"""One publication: every target written, then swapped in order, under the publish lock.

Nothing is switched until everything is written; a failure before the first swap leaves every
target as it was and removes this run's tmp files and Parquet version. Swap order: Postgres (the
only swap that may wait or fail), then the history store (``history_store``: written ahead, so a
crash after it loses nothing), then the local publication (DuckDB file and Parquet folder).

One publication, one run (issue 17: a kill between the DuckDB rename and the Parquet flip left
the two on different runs). With both DuckDB and Parquet on, the local publication is ONE
version folder swapped by ONE rename::

    <stem>_parquet.versions/<stamp>-<run>/   <table>.parquet ... and <stem>.duckdb
    <stem>_parquet  -> <stem>_parquet.versions/<stamp>-<run>     (flipped: one os.replace)
    <stem>.duckdb   -> <stem>_parquet/<stem>.duckdb              (created once, never moves)

The published DuckDB path ``W`` stays the same for BI tools (a symlink they open like the file;
DuckDB follows it), and it resolves through the Parquet link, so whoever resolves either path
sees the same run: there is no instant at which they differ. A reader that wants several files
of one run resolves ``<stem>_parquet`` once (``os.path.realpath``). Old versions (both the
Parquet files and the DuckDB file) are pruned by ``parquet.prune_versions`` (keep N, grace
period); a file a reader has open stays readable after its folder is deleted.

The first publish onto a warehouse from before this layout (``W`` a regular file) flips the link,
then replaces the file by the symlink: two renames, once. With Parquet off, ``W`` is a regular
file renamed over the old one as before (a single target needs no pairing).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from restock.config import PublishSettings
from restock.contract import HISTORY_TABLES, PUBLISHED_TABLES
from restock.fsync import fsync_dir
from restock.history import HistorySettings
from restock.paths import RunPaths
from restock.publishing.common import log, memory_limit
from restock.publishing.duckdb_file import (
    STORAGE_VERSION,
    build_published_file,
    remove_stale_files,
    replace_published_file,
)
from restock.publishing.history_store import (
    build_history_store,
    copy_history_into,
    remove_stale_history,
    replace_history_store,
)
from restock.publishing.parquet import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_KEEP_VERSIONS,
    flip_parquet_link,
    write_parquet_version,
)
from restock.publishing.postgres import (
    hide_password,
    load_postgres_stage,
    postgres_url,
    swap_postgres_schema,
)
from restock.secrets import mask_url
from restock.warehouse import quote_identifier

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def publish_tables(
    work_db: Path,
    paths: RunPaths,
    run_id: str,
    as_of: str,
    settings: PublishSettings,
    tables: Mapping[str, Sequence[str]] = PUBLISHED_TABLES,
    before_swap: Callable[[], None] | None = None,
    history: HistorySettings | None = None,
    parquet_keep_versions: int | None = None,
    parquet_grace_seconds: float | None = None,
    duckdb_memory_limit: str | None = None,
) -> dict:
    """Publish ``results.<table>`` of the work DB to every configured target.

    Parameters
    ----------
    work_db : Path
        The run's work DuckDB (opened read-only).
    paths : RunPaths
        Gives the published DuckDB file and the Parquet folder.
    run_id, as_of : str
        Added to every published row (``as_of`` as a DATE, ISO ``YYYY-MM-DD``).
    settings : PublishSettings
        Which targets, storage version, Postgres URL variable and schema.
    tables : mapping
        Table -> contract columns; published columns are these in order, then any extra
        columns of the results table.
    before_swap : callable, optional
        Called after everything is written and before the first swap (tests kill the process
        here to prove a crash leaves the old outputs untouched). Swap order: Postgres, then the
        DuckDB file, then the Parquet link; a failure before them leaves every target as it was
        and removes this run's tmp file and Parquet version.
    history : HistorySettings, optional
        When given (and enabled), the history tables (``contract.HISTORY_TABLES``) are carried
        forward from the history store, updated with this run (``restock.history``) and
        published with the other tables to every target; the new store is swapped in right
        after Postgres. The work DB must then also hold ``marts.fct_daily_demand``.
    parquet_keep_versions, parquet_grace_seconds : optional
        Retention of Parquet version folders (``parquet.prune_versions``); default: the
        settings' ``parquet_keep_versions`` / ``parquet_grace_seconds`` if it has them, else
        3 versions and 600 s.
    duckdb_memory_limit : str, optional
        DuckDB's memory_limit for every connection of the publication (the run passes
        ``warehouse.duckdb_memory_limit``); None = DuckDB's default (80% of RAM).

    Returns
    -------
    dict
        ``tables`` (rows per table), ``duckdb``/``parquet``/``postgres`` (path or URL, seconds),
        ``seconds`` in total.
    """
    with memory_limit(duckdb_memory_limit):
        return _publish(work_db, paths, run_id, as_of, settings, tables, before_swap, history,
                        parquet_keep_versions, parquet_grace_seconds)


def _publish(work_db, paths, run_id, as_of, settings, tables, before_swap, history,
             parquet_keep_versions, parquet_grace_seconds) -> dict:
    """:func:`publish_tables`' steps, inside its memory limit."""
    started = time.perf_counter()
    job = _prepare(work_db, paths, run_id, as_of, settings, tables, history,
                   parquet_keep_versions, parquet_grace_seconds)
    summary: dict = {"run_id": run_id, "as_of": as_of, "tables": {}}

    with _publish_lock(paths.warehouse):
        remove_stale_files(paths.warehouse)
        remove_stale_history(paths)
        staged = _Staged(job.tmp_db)
        try:
            _build_files(job, staged, summary)
            if settings.parquet:
                _write_parquet(job, staged, summary)
            if job.pg_url is not None:
                _load_postgres(job, staged, summary)
            if before_swap is not None:
                before_swap()
            # Postgres first: its swap may wait for readers or fail, and if it fails nothing
            # has been switched anywhere. The local renames after it cannot fail in practice.
            if staged.pg_engine is not None:
                _swap_postgres(job, staged, summary)
        except BaseException:
            staged.discard()
            raise
        finally:
            if staged.pg_engine is not None:
                staged.pg_engine.dispose()

        # Written ahead of the published file: a crash between the two renames leaves the
        # store one run ahead (nothing lost; the next run carries it), never behind.
        if staged.history_tmp is not None:
            replace_history_store(staged.history_tmp, paths)
        summary.update(
            _swap_local_targets(
                staged.tmp_db, paths, settings, staged.build_seconds, staged.parquet_version,
                job.keep_versions, job.grace_seconds,
            )
        )

    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "published run %s (as_of %s): %s in %.2f s",
        run_id,
        as_of,
        ", ".join(f"{t}={n}" for t, n in summary["tables"].items()),
        summary["seconds"],
    )
    return summary


@dataclass(frozen=True)
class _Publication:
    """One publication's inputs, checked: what every step of :func:`publish_tables` reads."""

    work_db: Path
    paths: RunPaths
    run_id: str
    safe_run: str  # run_id as it may appear in a file name
    as_of: date
    settings: PublishSettings
    tables: Mapping[str, Sequence[str]]  # the run's tables
    all_tables: Mapping[str, Sequence[str]]  # and the history tables, when published
    history: HistorySettings | None  # None unless the history tables are published
    pg_url: str | None
    keep_versions: int
    grace_seconds: float
    tmp_db: Path  # the new DuckDB file, beside the published one until the swap


@dataclass
class _Staged:
    """What a publication has written but not switched yet: removed again if it fails."""

    tmp_db: Path
    history_tmp: Path | None = None
    parquet_version: Path | None = None
    pg_engine: Any = None
    build_seconds: float = 0.0

    def discard(self) -> None:
        """Leave the old outputs exactly as they were and no half-built new ones."""
        self.tmp_db.unlink(missing_ok=True)
        if self.history_tmp is not None:
            self.history_tmp.unlink(missing_ok=True)
        if self.parquet_version is not None:
            shutil.rmtree(self.parquet_version, ignore_errors=True)


def _prepare(
    work_db: Path,
    paths: RunPaths,
    run_id: str,
    as_of: str,
    settings: PublishSettings,
    tables: Mapping[str, Sequence[str]],
    history: HistorySettings | None,
    parquet_keep_versions: int | None,
    parquet_grace_seconds: float | None,
) -> _Publication:
    """Check every input before the lock is taken or anything is written.

    A bad date, storage version, table or column name, a history table passed as a run table,
    an unset Postgres URL variable or a missing work DB fails here, with every target as it was.
    """
    as_of_date = date.fromisoformat(as_of)
    storage_version = settings.duckdb_storage_version
    _check_names(storage_version, tables)
    with_history = history is not None and history.enabled
    if with_history:
        clash = sorted(set(tables) & set(HISTORY_TABLES))
        if clash:
            raise ValueError(f"history tables passed as run tables: {', '.join(clash)}")
    all_tables = {**tables, **(HISTORY_TABLES if with_history else {})}
    keep = _setting(parquet_keep_versions, settings, "parquet_keep_versions",
                    DEFAULT_KEEP_VERSIONS)
    grace = _setting(parquet_grace_seconds, settings, "parquet_grace_seconds",
                     DEFAULT_GRACE_SECONDS)
    pg_url = postgres_url(settings)
    work_db = Path(work_db)
    if not work_db.is_file():
        raise FileNotFoundError(f"work DB not found: {work_db}")

    warehouse = paths.warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    safe_run = _safe_name(run_id)
    tmp_db = warehouse.with_name(f"{warehouse.name}.tmp-{safe_run}")
    return _Publication(work_db, paths, run_id, safe_run, as_of_date, settings, tables,
                        all_tables, history if with_history else None, pg_url, keep, grace,
                        tmp_db)


def _build_files(job: _Publication, staged: _Staged, summary: dict) -> None:
    """The new DuckDB file (and the new history store, its tables copied into the file).

    Every other target is written from this file, so it is built first; its rows per table go
    to ``summary["tables"]``.
    """
    t0 = time.perf_counter()
    storage_version = job.settings.duckdb_storage_version
    if job.history is not None:
        staged.history_tmp, history_rows = build_history_store(
            job.work_db, job.paths, job.safe_run, job.run_id, job.as_of, job.history,
            storage_version,
        )
    summary["tables"] = build_published_file(
        job.work_db, job.tmp_db, job.run_id, job.as_of, storage_version, job.tables
    )
    if staged.history_tmp is not None:
        copy_history_into(job.tmp_db, staged.history_tmp)
        summary["tables"].update(history_rows)
    staged.build_seconds = time.perf_counter() - t0
    log.info("built %s with %d tables in %.2f s", job.tmp_db.name, len(job.tables),
             staged.build_seconds)


def _write_parquet(job: _Publication, staged: _Staged, summary: dict) -> None:
    """A new Parquet version folder of every table, not yet linked."""
    t0 = time.perf_counter()
    staged.parquet_version = write_parquet_version(
        job.tmp_db, job.paths.parquet_dir, job.safe_run, job.all_tables
    )
    summary["parquet"] = {
        "path": str(job.paths.parquet_dir),
        "version": str(
            staged.parquet_version.with_name(
                staged.parquet_version.name.removeprefix(".tmp-"))
        ),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _load_postgres(job: _Publication, staged: _Staged, summary: dict) -> None:
    """Every table loaded into the Postgres stage schema, not yet swapped in."""
    import sqlalchemy as sa

    t0 = time.perf_counter()
    staged.pg_engine = sa.create_engine(job.pg_url)
    with hide_password(job.pg_url):
        load_postgres_stage(
            staged.pg_engine, job.tmp_db, job.settings.postgres_schema, job.all_tables
        )
    summary["postgres"] = {
        "url": mask_url(job.pg_url),  # userinfo and ?password= both masked
        "schema": job.settings.postgres_schema,
        "load_seconds": round(time.perf_counter() - t0, 3),
    }


def _swap_postgres(job: _Publication, staged: _Staged, summary: dict) -> None:
    """Rename the stage schema over the live one (the first swap of the publication)."""
    t0 = time.perf_counter()
    with hide_password(job.pg_url):
        swap_postgres_schema(staged.pg_engine, job.settings.postgres_schema, job.all_tables)
    summary["postgres"]["swap_seconds"] = round(time.perf_counter() - t0, 3)


@contextlib.contextmanager
def _publish_lock(warehouse: Path) -> Iterator[None]:
    """Serialise publishes of one warehouse (released by the OS if the process dies)."""
    lock_path = warehouse.with_name(warehouse.name + ".publish.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _safe_name(run_id: str) -> str:
    """``run_id`` reduced to characters safe in a file name."""
    cleaned = _UNSAFE_FILE_CHARS.sub("_", run_id).strip("._")[:64]
    return cleaned or "run"


def _swap_local_targets(
    tmp_db: Path,
    paths: RunPaths,
    settings: PublishSettings,
    build_seconds: float,
    parquet_version: Path | None,
    keep_versions: int = DEFAULT_KEEP_VERSIONS,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> dict:
    """Switch the DuckDB file and the Parquet folder together (after Postgres: cannot fail).

    Both on: the DuckDB file moves into the Parquet version folder and the one link flip
    publishes both (module docstring). Otherwise the one target is swapped on its own.
    """
    swapped: dict = {}
    warehouse = paths.warehouse
    if settings.duckdb and parquet_version is not None:
        t0 = time.perf_counter()
        os.replace(tmp_db, parquet_version / warehouse.name)
        fsync_dir(parquet_version)
        pruned = flip_parquet_link(
            paths.parquet_dir, parquet_version, keep_versions, grace_seconds
        )
        link_published_file(paths)
        swapped["duckdb"] = {
            "path": str(warehouse),
            "file": os.path.realpath(warehouse),
            "storage_version": settings.duckdb_storage_version,
            "bytes": warehouse.stat().st_size,
            "seconds": round(build_seconds + time.perf_counter() - t0, 3),
        }
        swapped["parquet_pruned"] = [p.name for p in pruned]
        return swapped
    if settings.duckdb:
        t0 = time.perf_counter()
        replace_published_file(tmp_db, warehouse)
        swapped["duckdb"] = {
            "path": str(warehouse),
            "storage_version": settings.duckdb_storage_version,
            "bytes": warehouse.stat().st_size,
            "seconds": round(build_seconds + time.perf_counter() - t0, 3),
        }
    else:
        tmp_db.unlink()
    if parquet_version is not None:
        pruned = flip_parquet_link(
            paths.parquet_dir, parquet_version, keep_versions, grace_seconds
        )
        swapped["parquet_pruned"] = [p.name for p in pruned]
    return swapped


def link_published_file(paths: RunPaths) -> None:
    """Make the published path ``W`` a symlink to ``<stem>_parquet/<W.name>`` (once).

    Relative, so the folder can be moved or mounted as a whole. A regular file from before the
    versioned layout is replaced atomically (``os.replace`` of a new link)."""
    warehouse = paths.warehouse
    target = os.path.join(paths.parquet_dir.name, warehouse.name)
    if warehouse.is_symlink() and os.readlink(warehouse) == target:
        return
    link_tmp = warehouse.with_name(f".{warehouse.name}.link-tmp")
    link_tmp.unlink(missing_ok=True)
    os.symlink(target, link_tmp)
    os.replace(link_tmp, warehouse)
    fsync_dir(warehouse.parent)


def _check_names(storage_version: str, tables: Mapping[str, Sequence[str]]) -> None:
    """Refuse a bad storage version or table/column name before anything is written."""
    if not STORAGE_VERSION.match(storage_version):
        raise ValueError(f"invalid duckdb_storage_version {storage_version!r} (e.g. 'v1.0.0')")
    for table, columns in tables.items():
        quote_identifier(table)
        for column in columns:
            quote_identifier(column)


def _setting(explicit, settings: PublishSettings, name: str, default):
    """An explicit argument, else the settings' field (once config has it), else the default."""
    if explicit is not None:
        return explicit
    value = getattr(settings, name, None)
    return default if value is None else value
