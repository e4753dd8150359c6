"""Publish the run's contract tables: work DB -> DuckDB file, Parquet folder, Postgres schema.

Every target switches from the old to the new tables in one step, so a reader sees either the
previous run or this run, never a mix, and a crash before the switch leaves the old data as it
was:

- DuckDB (``paths.warehouse``): the tables are built in a new file beside it
  (``<name>.tmp-<run_id>``) in storage version ``settings.duckdb_storage_version`` (DuckDB 1.x
  clients bundled in BI drivers cannot open 2.0's default format), checkpointed, fsynced and
  renamed over the old file. The writer never opens the published file, so a BI tool holding it
  open neither blocks the run nor sees a half-written file: it keeps reading the old inode until
  it reopens.
- Parquet (``paths.parquet_dir``): a symlink to a version folder. Each run writes a new version
  folder ``<stem>_parquet.versions/<stamp>-<run_id>/`` and flips the symlink atomically
  (``os.replace`` of a new link). The previous version is kept (a reader that resolved the old
  link still finds complete files); older ones are deleted. Readers that want a consistent set
  of several tables should resolve the link once (``os.path.realpath``) and read from there.
- Postgres (when ``settings.postgres_url_env`` names a set environment variable): the tables
  are loaded with COPY (CSV written by DuckDB) into ``<schema>_stage``; then one transaction
  locks the live tables (NOWAIT, retried, so it never deadlocks with a reader), renames
  ``<schema>`` -> ``<schema>_old``, ``<schema>_stage`` -> ``<schema>`` and drops
  ``<schema>_old``. The schema belongs to Restock: objects users create inside it, and views
  elsewhere that depend on its tables, are dropped at the next publish (CASCADE); grants on
  the schema are not carried over (use ``ALTER DEFAULT PRIVILEGES`` / grant after publish).

Publishes of one warehouse are serialised by an ``flock`` on ``<name>.publish.lock``, which also
makes it safe to delete leftovers (tmp files, tmp folders, a stage schema) of a killed run.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from restock.config import PublishSettings
from restock.contract import PUBLISHED_TABLES, RUN_COLUMNS
from restock.paths import RunPaths
from restock.warehouse import quote_identifier

log = logging.getLogger("restock.publish")

_STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_PUBLISHED_SCHEMA = "marts"

# DuckDB type -> Postgres type; anything else is published as text.
_PG_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "HUGEINT": "numeric",
    "UBIGINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "VARCHAR": "text",
}


def publish_tables(
    work_db: Path,
    paths: RunPaths,
    run_id: str,
    as_of: str,
    settings: PublishSettings,
    tables: Mapping[str, Sequence[str]] = PUBLISHED_TABLES,
    before_swap: Callable[[], None] | None = None,
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

    Returns
    -------
    dict
        ``tables`` (rows per table), ``duckdb``/``parquet``/``postgres`` (path or URL, seconds),
        ``seconds`` in total.
    """
    started = time.perf_counter()
    as_of_date = date.fromisoformat(as_of)
    storage_version = settings.duckdb_storage_version
    if not _STORAGE_VERSION.match(storage_version):
        raise ValueError(f"invalid duckdb_storage_version {storage_version!r} (e.g. 'v1.0.0')")
    for table, columns in tables.items():
        quote_identifier(table)
        for column in columns:
            quote_identifier(column)
    pg_url = _postgres_url(settings)
    work_db = Path(work_db)
    if not work_db.is_file():
        raise FileNotFoundError(f"work DB not found: {work_db}")

    warehouse = paths.warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    safe_run = _safe_name(run_id)
    tmp_db = warehouse.with_name(f"{warehouse.name}.tmp-{safe_run}")
    summary: dict = {"run_id": run_id, "as_of": as_of, "tables": {}}

    with _publish_lock(warehouse):
        _remove_stale_files(warehouse)
        parquet_version: Path | None = None
        pg_engine = None
        try:
            t0 = time.perf_counter()
            summary["tables"] = _build_published_file(
                work_db, tmp_db, run_id, as_of_date, storage_version, tables
            )
            build_seconds = time.perf_counter() - t0
            log.info("built %s with %d tables in %.2f s", tmp_db.name, len(tables), build_seconds)
            if settings.parquet:
                t0 = time.perf_counter()
                parquet_version = _write_parquet_version(
                    tmp_db, paths.parquet_dir, safe_run, tables
                )
                summary["parquet"] = {
                    "path": str(paths.parquet_dir),
                    "version": str(parquet_version),
                    "seconds": round(time.perf_counter() - t0, 3),
                }
            if pg_url is not None:
                import sqlalchemy as sa

                t0 = time.perf_counter()
                pg_engine = sa.create_engine(pg_url)
                with _hide_password(pg_url):
                    _load_postgres_stage(pg_engine, tmp_db, settings.postgres_schema, tables)
                summary["postgres"] = {
                    "url": pg_url.render_as_string(hide_password=True),
                    "schema": settings.postgres_schema,
                    "load_seconds": round(time.perf_counter() - t0, 3),
                }
            if before_swap is not None:
                before_swap()
            # Postgres first: its swap may wait for readers or fail, and if it fails nothing
            # has been switched anywhere. The local renames after it cannot fail in practice.
            if pg_engine is not None:
                t0 = time.perf_counter()
                with _hide_password(pg_url):
                    _swap_postgres_schema(pg_engine, settings.postgres_schema, tables)
                summary["postgres"]["swap_seconds"] = round(time.perf_counter() - t0, 3)
        except BaseException:
            # Leave the old outputs exactly as they were and no half-built new ones.
            tmp_db.unlink(missing_ok=True)
            if parquet_version is not None:
                shutil.rmtree(parquet_version, ignore_errors=True)
            raise
        finally:
            if pg_engine is not None:
                pg_engine.dispose()

        if settings.duckdb:
            t0 = time.perf_counter()
            os.replace(tmp_db, warehouse)
            _fsync_dir(warehouse.parent)
            summary["duckdb"] = {
                "path": str(warehouse),
                "storage_version": storage_version,
                "bytes": warehouse.stat().st_size,
                "seconds": round(build_seconds + time.perf_counter() - t0, 3),
            }
        else:
            tmp_db.unlink()
        if parquet_version is not None:
            _flip_parquet_link(paths.parquet_dir, parquet_version)

    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "published run %s (as_of %s): %s in %.2f s",
        run_id,
        as_of,
        ", ".join(f"{t}={n}" for t, n in summary["tables"].items()),
        summary["seconds"],
    )
    return summary


def verify_published(paths: RunPaths) -> dict[str, int]:
    """Rows per table of ``marts`` in the published DuckDB file (opened read-only)."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by table_name",
                [_PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        counts = {}
        for name in names:
            row = con.execute(
                f"select count(*) from {quote_identifier(_PUBLISHED_SCHEMA)}."
                f"{quote_identifier(name)}"
            ).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts
    finally:
        con.close()


# --- DuckDB --------------------------------------------------------------------------------


def _build_published_file(
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
    con = duckdb.connect()
    try:
        con.execute(f"attach {_sql_string(work_db)} as work (read_only)")
        con.execute(
            f"attach {_sql_string(tmp_db)} as pub (storage_version {_sql_string(storage_version)})"
        )
        con.execute(f"create schema pub.{_PUBLISHED_SCHEMA}")
        for table, contract_columns in tables.items():
            present = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = 'work' "
                    "and schema_name = 'results' and table_name = ? order by column_index",
                    [table],
                ).fetchall()
            ]
            if not present:
                raise ValueError(f"results.{table} is missing from the work DB {work_db}")
            missing = [c for c in contract_columns if c not in present]
            if missing:
                raise ValueError(f"results.{table} lacks contract column(s) {', '.join(missing)}")
            extras = [c for c in present if c not in contract_columns and c not in RUN_COLUMNS]
            select = ", ".join(quote_identifier(c) for c in [*contract_columns, *extras])
            con.execute(
                f"create table pub.{_PUBLISHED_SCHEMA}.{quote_identifier(table)} as "
                f"select {select}, ?::varchar as run_id, ?::date as as_of "
                f"from work.results.{quote_identifier(table)}",
                [run_id, as_of],
            )
            count = con.execute(
                f"select count(*) from pub.{_PUBLISHED_SCHEMA}.{quote_identifier(table)}"
            ).fetchone()
            rows[table] = int(count[0]) if count else 0
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.execute("detach work")
    finally:
        con.close()
    wal = tmp_db.with_name(tmp_db.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} left after checkpoint: refusing to publish a file needing it")
    _fsync_file(tmp_db)
    return rows


def _remove_stale_files(warehouse: Path) -> None:
    """Delete tmp files of killed publishes (safe: we hold the publish lock)."""
    for stale in warehouse.parent.glob(f"{_glob_escape(warehouse.name)}.tmp-*"):
        log.warning("removing %s left by an interrupted publish", stale.name)
        stale.unlink(missing_ok=True)


# --- Parquet -------------------------------------------------------------------------------


def _versions_dir(parquet_dir: Path) -> Path:
    return parquet_dir.with_name(parquet_dir.name + ".versions")


def _write_parquet_version(
    tmp_db: Path, parquet_dir: Path, safe_run: str, tables: Mapping[str, Sequence[str]]
) -> Path:
    """Write one Parquet file per table into a new complete version folder; return it."""
    versions = _versions_dir(parquet_dir)
    versions.mkdir(parents=True, exist_ok=True)
    for stale in versions.glob(".tmp-*"):
        log.warning("removing %s left by an interrupted publish", stale.name)
        shutil.rmtree(stale, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = versions / f".tmp-{stamp}-{safe_run}"
    building.mkdir()
    # Parquet is written from the new DuckDB file, so both targets hold exactly the same rows.
    con = duckdb.connect(str(tmp_db), read_only=True)
    try:
        for table in tables:
            target = building / f"{table}.parquet"
            con.execute(
                f"copy {_PUBLISHED_SCHEMA}.{quote_identifier(table)} to {_sql_string(target)} "
                "(format parquet, compression zstd)"
            )
            _fsync_file(target)
    finally:
        con.close()
    _fsync_dir(building)
    final = versions / f"{stamp}-{safe_run}"
    os.rename(building, final)
    _fsync_dir(versions)
    return final


def _flip_parquet_link(parquet_dir: Path, version: Path) -> None:
    """Point ``parquet_dir`` at ``version`` in one rename; keep the previous version only."""
    previous: Path | None = None
    if parquet_dir.is_symlink():
        previous = (parquet_dir.parent / os.readlink(parquet_dir)).resolve()
    elif parquet_dir.exists():
        # A real folder from before versioning: move it aside once (brief gap, first time only).
        legacy = _versions_dir(parquet_dir) / f"legacy-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        os.rename(parquet_dir, legacy)
        previous = legacy
    link_tmp = parquet_dir.with_name(f".{parquet_dir.name}.link-tmp")
    link_tmp.unlink(missing_ok=True)
    # Relative target, so the folder can be moved or mounted elsewhere as a whole.
    os.symlink(os.path.relpath(version, parquet_dir.parent), link_tmp)
    os.replace(link_tmp, parquet_dir)
    _fsync_dir(parquet_dir.parent)
    keep = {version.resolve()} | ({previous} if previous else set())
    for old in _versions_dir(parquet_dir).iterdir():
        if old.resolve() not in keep and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)


# --- Postgres ------------------------------------------------------------------------------


def _postgres_url(settings: PublishSettings):
    """The Postgres URL from the configured environment variable, or None."""
    if not settings.postgres_url_env:
        return None
    raw = os.environ.get(settings.postgres_url_env)
    if not raw:
        log.info("%s is not set: not publishing to Postgres", settings.postgres_url_env)
        return None
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(raw)
    except sa.exc.ArgumentError:
        # The message of ArgumentError repeats the URL (and so its password): name the variable.
        raise ValueError(
            f"{settings.postgres_url_env} does not hold a valid SQLAlchemy URL"
        ) from None
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"{settings.postgres_url_env} must point at PostgreSQL, got {url.get_backend_name()}"
        )
    schema = settings.postgres_schema
    if not _PLAIN_NAME.match(schema) or len(schema) > 56:
        raise ValueError(
            f"invalid postgres_schema {schema!r}: lower-case letters, digits, underscores"
        )
    return url


def _load_postgres_stage(
    engine, tmp_db: Path, schema: str, tables: Mapping[str, Sequence[str]]
) -> None:
    """Create ``<schema>_stage`` and COPY every table of ``tmp_db`` into it."""
    quote = engine.dialect.identifier_preparer.quote
    stage = quote(f"{schema}_stage")
    csv_path = tmp_db.with_name(tmp_db.name + ".pgcopy.csv")
    con = duckdb.connect(str(tmp_db), read_only=True)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop schema if exists {stage} cascade")
            conn.exec_driver_sql(f"create schema {stage}")
            raw = conn.connection.driver_connection
            for table in tables:
                columns = con.execute(
                    "select column_name, data_type from duckdb_columns() where schema_name = ? "
                    "and table_name = ? order by column_index",
                    [_PUBLISHED_SCHEMA, table],
                ).fetchall()
                pg_columns = [(name, _PG_TYPES.get(dtype, "text")) for name, dtype in columns]
                conn.exec_driver_sql(
                    f"create table {stage}.{quote(table)} ("
                    + ", ".join(f"{quote(n)} {t}" for n, t in pg_columns)
                    + ")"
                )
                select = ", ".join(
                    quote_identifier(n) if t != "text" else f"{quote_identifier(n)}::varchar"
                    for n, t in pg_columns
                )
                # DuckDB writes CSV in C and COPY parses it in C: about 3x faster than
                # write_row per row. NULL is an unquoted empty field, '' a quoted one, which is
                # exactly how Postgres' CSV COPY tells them apart.
                con.execute(
                    f"copy (select {select} from {_PUBLISHED_SCHEMA}.{quote_identifier(table)}) "
                    f"to {_sql_string(csv_path)} (format csv, header false)"
                )
                copy_sql = (
                    f"copy {stage}.{quote(table)} ("
                    + ", ".join(quote(n) for n, _ in pg_columns)
                    + ") from stdin (format csv)"
                )
                with raw.cursor() as cur, cur.copy(copy_sql) as copy, csv_path.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
    finally:
        con.close()
        csv_path.unlink(missing_ok=True)


def _swap_postgres_schema(
    engine, schema: str, tables: Mapping[str, Sequence[str]], patience_seconds: float = 300.0
) -> None:
    """In one transaction: lock the live tables, rename live -> old, stage -> live, drop old.

    The locks are taken NOWAIT, all at once: a reader in the middle of a transaction that has
    read some live tables makes the attempt fail at once (and release everything) instead of
    deadlocking with it; the swap retries until no reader holds a live table. Holding the locks
    until commit is what keeps readers consistent: a reader that already read the old tables
    keeps resolving names to them, a new reader waits and then reads the new tables.
    """
    import sqlalchemy as sa

    quote = engine.dialect.identifier_preparer.quote
    live, stage, old = quote(schema), quote(f"{schema}_stage"), quote(f"{schema}_old")
    deadline = time.monotonic() + patience_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            with engine.begin() as conn:
                existing = set(
                    conn.execute(
                        sa.text(
                            "select table_name from information_schema.tables "
                            "where table_schema = :s"
                        ),
                        {"s": schema},
                    ).scalars()
                )
                live_exists = conn.execute(
                    sa.text("select count(*) from pg_namespace where nspname = :s"),
                    {"s": schema},
                ).scalar()
                if existing:
                    conn.exec_driver_sql(
                        "lock table "
                        + ", ".join(f"{live}.{quote(t)}" for t in sorted(existing))
                        + " in access exclusive mode nowait"
                    )
                conn.exec_driver_sql(f"drop schema if exists {old} cascade")
                if live_exists:
                    conn.exec_driver_sql(f"alter schema {live} rename to {old}")
                conn.exec_driver_sql(f"alter schema {stage} rename to {live}")
                if live_exists:
                    conn.exec_driver_sql(f"drop schema {old} cascade")
            log.info("postgres schema %s swapped (attempt %d)", schema, attempt)
            return
        except sa.exc.OperationalError as exc:
            # 55P03 lock_not_available, 40P01 deadlock: a reader holds a live table; retry.
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if code not in ("55P03", "40P01") or time.monotonic() > deadline:
                raise
            time.sleep(min(0.05 * attempt, 1.0))


# --- small helpers -------------------------------------------------------------------------


class PublishError(RuntimeError):
    """Publishing to a database failed (the message never holds the password)."""


@contextlib.contextmanager
def _hide_password(url) -> Iterator[None]:
    """Re-raise database errors with the URL's password masked and the URL shown safely."""
    import sqlalchemy as sa

    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        message = f"{url.render_as_string(hide_password=True)}: {type(exc).__name__}: {exc}"
        if url.password:
            message = message.replace(str(url.password), "***")
        raise PublishError(message) from None


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


def _glob_escape(name: str) -> str:
    """Escape glob wildcards in a literal file name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _sql_string(value: object) -> str:
    """A SQL string literal (for file paths in ATTACH / COPY, which take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
