"""The published Postgres schema: loaded into a stage schema, swapped in by one transaction.

Used when ``settings.postgres_url_env`` names a set environment variable: the tables are loaded
with COPY (CSV written by DuckDB) into ``<schema>_stage``; then one transaction locks the live
tables (NOWAIT, retried, so it never deadlocks with a reader), renames ``<schema>`` ->
``<schema>_old``, ``<schema>_stage`` -> ``<schema>`` and drops ``<schema>_old``. The schema
belongs to Restock: objects users create inside it, and views elsewhere that depend on its
tables, are dropped at the next publish (CASCADE); grants on the schema are not carried over
(use ``ALTER DEFAULT PRIVILEGES`` / grant after publish).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from restock.config import PublishSettings
from restock.publishing.common import PUBLISHED_SCHEMA, connect, log, sql_string
from restock.secrets import mask_url, scrub, url_secrets
from restock.warehouse import quote_identifier

_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

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


class PublishError(RuntimeError):
    """Publishing to a database failed (the message never holds the password)."""


@contextlib.contextmanager
def hide_password(url) -> Iterator[None]:
    """Re-raise database errors with the URL's passwords masked and the URL shown safely.

    SQLAlchemy's ``render_as_string(hide_password=True)`` masks the userinfo password only; a
    password given as a query parameter (``?password=...``) was printed in clear (issue 17), so
    the URL goes through :func:`restock.secrets.mask_url` and the driver's message through
    :func:`restock.secrets.scrub` with every secret of the URL.
    """
    import sqlalchemy as sa

    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        secrets = url_secrets(url) + ([str(url.password)] if url.password else [])
        message = scrub(f"{mask_url(url)}: {type(exc).__name__}: {exc}", secrets)
        raise PublishError(message) from None


def postgres_url(settings: PublishSettings):
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


def load_postgres_stage(
    engine, tmp_db: Path, schema: str, tables: Mapping[str, Sequence[str]]
) -> None:
    """Create ``<schema>_stage`` and COPY every table of ``tmp_db`` into it."""
    quote = engine.dialect.identifier_preparer.quote
    stage = quote(f"{schema}_stage")
    csv_path = tmp_db.with_name(tmp_db.name + ".pgcopy.csv")
    con = connect(str(tmp_db), read_only=True)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop schema if exists {stage} cascade")
            conn.exec_driver_sql(f"create schema {stage}")
            raw = conn.connection.driver_connection
            for table in tables:
                columns = con.execute(
                    "select column_name, data_type from duckdb_columns() where schema_name = ? "
                    "and table_name = ? order by column_index",
                    [PUBLISHED_SCHEMA, table],
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
                    f"copy (select {select} from {PUBLISHED_SCHEMA}.{quote_identifier(table)}) "
                    f"to {sql_string(csv_path)} (format csv, header false)"
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


def swap_postgres_schema(
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

