"""ERP database (any SQLAlchemy URL) -> feed tables, incremental by watermark.

A YAML mapping (see ``erp_mapping.example.yml``) maps each contract table to an ERP table
(``table:`` + ``columns:``) or to a ``query:``; an optional ``watermark`` (e.g. ``updated_at`` or
an increasing id) makes extraction incremental: a run reads only rows whose watermark is greater
than the largest value seen so far (kept in the DuckDB state file, table ``source_watermarks``)
and appends them to the feed as ``<out_dir>/<table>/part-<timestamp>.parquet``. The feed thus
accumulates: an updated ERP row arrives again in a later part file, and the feed reader dedups by
the table's contract key (the newest part wins; the ERP's watermark is kept in the extra column
``erp_watermark`` to order versions). Delivery is at least once: a crash after writing a part
file and before saving the watermark re-extracts those rows next time, which the same dedup
absorbs. A table without a watermark is a snapshot: extracted in full each run, its new part
replaces the old ones. Rows whose watermark is NULL are only read by a full extraction, and
rows committed later with a watermark not above one already seen (long ERP transactions) are
missed: choose a watermark the ERP sets at commit, or run ``full_reload`` now and then.

Safety: every name from the mapping is checked against the contract and a plain-identifier
pattern before any SQL runs, then against the ERP's catalogue (``sqlalchemy.inspect``) before
anything is extracted, and quoted by the dialect; values are bound parameters. ``query:`` text
is SQL written by whoever owns the mapping file, i.e. code: keep that file under review and give
the URL's user read-only rights. The URL comes from an environment variable and is only ever
shown with its password hidden.

The steps live beside this module: ``sql_mapping`` (read and check the mapping file),
``sql_arrow`` (ERP values -> contract-typed Arrow chunks), ``sql_watermarks`` (the state file)
and ``sql_errors``; this module connects, plans each table's statement against the ERP's
catalogue and streams the rows into part files.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from restock.contract import INPUT_TABLES
from restock.fsync import fsync_file
from restock.secrets import mask_url, scrub, url_secrets
from restock.sources.sql_arrow import WATERMARK_COLUMN, empty_schema, is_null, to_arrow
from restock.sources.sql_errors import MappingError, SourceError
from restock.sources.sql_mapping import TableMapping, check_required, load_mapping
from restock.sources.sql_watermarks import load_watermarks, reset_extraction, save_watermark

log = logging.getLogger("restock.sources")


def extract_feed(
    url_env: str,
    mapping_file: Path,
    out_dir: Path,
    state_db: Path,
    full_reload: bool = False,
    *,
    chunk_size: int = 50_000,
    connect_attempts: int = 4,
    backoff_seconds: float = 0.5,
) -> dict:
    """Extract the mapped tables from the ERP database into the feed directory ``out_dir``.

    Parameters
    ----------
    url_env : str
        Name of the environment variable holding the SQLAlchemy URL.
    mapping_file : Path
        YAML mapping (see ``erp_mapping.example.yml``).
    out_dir : Path
        Feed directory; each table goes to ``<out_dir>/<table>/part-<timestamp>.parquet``.
    state_db : Path
        DuckDB file keeping ``source_watermarks`` between runs.
    full_reload : bool
        Forget the watermarks and delete the mapped tables' folders, then extract everything.
    chunk_size : int
        Rows fetched (server-side cursor) and written per chunk: bounds memory.
    connect_attempts, backoff_seconds : int, float
        Connection errors are retried this many times in all, waiting 0.5, 1, 2, ... s.

    Returns
    -------
    dict
        ``url`` (password hidden), ``tables``: per table rows, file, watermark before/after;
        ``seconds``.
    """
    started = time.perf_counter()
    raw_url = os.environ.get(url_env)
    if not raw_url:
        raise SourceError(f"environment variable {url_env} (the ERP database URL) is not set")
    try:
        url = sa.engine.make_url(raw_url)
    except sa.exc.ArgumentError:
        raise SourceError(f"{url_env} does not hold a valid SQLAlchemy URL") from None
    # mask_url: SQLAlchemy's hide_password masks the userinfo only, not ?password=...
    safe_url = mask_url(raw_url)
    secret = tuple(url_secrets(raw_url)) + ((str(url.password),) if url.password else ())
    mappings = load_mapping(mapping_file)
    out_dir = Path(out_dir)
    engine = sa.create_engine(url)
    summary: dict = {"url": safe_url, "tables": {}}
    try:
        # Everything is checked against the ERP before a single row is extracted.
        known = {} if full_reload else load_watermarks(state_db)
        with _connect(engine, safe_url, secret, connect_attempts, backoff_seconds) as conn:
            plans = {name: _plan(conn, m, known.get(name)) for name, m in mappings.items()}
        if full_reload:
            reset_extraction(state_db, out_dir, list(mappings))
        watermarks = load_watermarks(state_db)
        for name, plan in plans.items():
            previous = watermarks.get(name)
            t0 = time.perf_counter()
            with _connect(engine, safe_url, secret, connect_attempts, backoff_seconds) as conn:
                rows, written, new_mark = _extract_table(
                    conn, name, plan, previous, out_dir, chunk_size
                )
            if new_mark is not None:
                save_watermark(state_db, name, new_mark, rows)
            summary["tables"][name] = {
                "rows": rows,
                "file": str(written) if written else None,
                "previous_watermark": None if previous is None else str(previous),
                "watermark": None if new_mark is None else str(new_mark),
                "seconds": round(time.perf_counter() - t0, 3),
            }
            log.info(
                "%s: %d rows from %s (watermark %s -> %s) in %.2f s",
                name,
                rows,
                safe_url,
                previous,
                new_mark,
                time.perf_counter() - t0,
            )
    except sa.exc.SQLAlchemyError as exc:
        # Driver messages do not normally carry the URL, but never risk echoing a password.
        raise SourceError(_scrub(f"{safe_url}: {type(exc).__name__}: {exc}", secret)) from None
    finally:
        engine.dispose()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


@dataclass
class _Plan:
    statement: object  # a Select or a TextClause, with :watermark bound when incremental
    columns: list[str]  # contract columns in the output, in order
    watermark_type: object = None  # the SQLAlchemy type of the watermark bind (table mode)
    incremental: bool = False
    mapping: TableMapping | None = None
    full_statement: object = None  # table mode: the select without the watermark filter


def _connect(engine, safe_url: str, secret: tuple[str, ...], attempts: int, backoff: float):
    """``engine.connect()`` with exponential backoff on OperationalError."""
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return engine.connect()
        except sa.exc.OperationalError as exc:
            reason = _scrub(str(exc.orig), secret).strip().splitlines()[0:1]
            if attempt == attempts:
                raise SourceError(
                    f"cannot connect to {safe_url} after {attempts} attempts: "
                    f"{reason[0] if reason else type(exc.orig).__name__}"
                ) from None
            log.warning(
                "connecting to %s failed (attempt %d/%d: %s); retrying in %.1f s",
                safe_url,
                attempt,
                attempts,
                reason[0] if reason else "",
                delay,
            )
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _plan(conn, m: TableMapping, previous) -> _Plan:
    """Check ``m`` against the ERP catalogue and build the extraction statement."""
    contract = INPUT_TABLES[m.table]
    if m.query is not None:
        stmt = sa.text(m.query)
        incremental = m.watermark is not None and "watermark" in stmt.compile().params
        bind = {"watermark": previous if previous is not None else m.initial_watermark}
        probe = sa.text(f"select * from ({m.query}) restock_probe where 1 = 0")  # noqa: S608
        result = conn.execute(probe, bind if incremental else {})
        names = list(result.keys())
        result.close()
        out = []
        for col in names:
            if col == m.watermark:
                continue
            if col.lower() not in contract.column_names:
                raise MappingError(
                    f"{m.table}.{col}: the query returns a column that is not in contract "
                    f"table {m.table} ({', '.join(contract.column_names)})"
                )
            out.append(col)
        if m.watermark is not None and m.watermark not in names:
            raise MappingError(f"{m.table}.{m.watermark}: watermark column not in the query")
        check_required(m.table, contract, {c.lower() for c in out})
        return _Plan(stmt, out, incremental=incremental, mapping=m)

    inspector = sa.inspect(conn)
    if not inspector.has_table(m.erp_table, schema=m.erp_schema):
        raise MappingError(f"{m.table}: ERP table {m.erp_table!r} not found")
    erp_columns = {c["name"]: c for c in inspector.get_columns(m.erp_table, schema=m.erp_schema)}
    by_lower = {n.lower(): n for n in erp_columns}

    def resolve(contract_column: str, erp_column: str) -> str:
        found = erp_column if erp_column in erp_columns else by_lower.get(erp_column.lower())
        if found is None:
            raise MappingError(
                f"{m.table}.{contract_column}: ERP column {erp_column!r} not found in {m.erp_table}"
            )
        return found

    resolved = {c: resolve(c, e) for c, e in m.columns.items()}
    wm_column = resolve("watermark", m.watermark) if m.watermark else None
    # A lightweight table object: the dialect quotes every name; no DDL is reflected or run.
    used = {*resolved.values(), *([wm_column] if wm_column else [])}
    table = sa.table(
        m.erp_table, *(sa.column(n, erp_columns[n]["type"]) for n in used), schema=m.erp_schema
    )
    order = [c for c in contract.column_names if c in resolved]
    selected = [table.c[resolved[c]].label(c) for c in order]
    if wm_column:
        selected.append(table.c[wm_column].label(WATERMARK_COLUMN))
    full = sa.select(*selected)
    stmt = full
    if wm_column:
        stmt = full.where(
            table.c[wm_column] > sa.bindparam("watermark", type_=erp_columns[wm_column]["type"])
        )
    return _Plan(
        stmt,
        order,
        watermark_type=erp_columns[wm_column]["type"] if wm_column else None,
        incremental=wm_column is not None,
        mapping=m,
        full_statement=full,
    )


def _extract_table(conn, name: str, plan: _Plan, previous, out_dir: Path, chunk_size: int):
    """Stream the rows of one table into a new part file; return rows, file, new watermark."""
    m = plan.mapping
    stmt = plan.statement
    params = {}
    wm_key = m.watermark if m.query is not None else WATERMARK_COLUMN
    if plan.incremental:
        if previous is not None:
            params = {"watermark": previous}
        elif m.query is not None:
            params = {"watermark": m.initial_watermark}
        else:
            stmt = plan.full_statement  # first table-mode extraction: every row
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"part-{stamp}.parquet"
    tmp = folder / f".part-{stamp}.parquet.tmp"
    writer = None
    rows = 0
    new_mark = previous
    contract = INPUT_TABLES[name]
    schema = None
    try:
        result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(
            stmt, params
        )
        keys = list(result.keys())
        for part in result.partitions(chunk_size):
            frame = pd.DataFrame(part, columns=keys, dtype=object)
            if wm_key in frame:
                marks = [v for v in frame[wm_key] if not is_null(v)]
                if marks:
                    top = max(marks)
                    new_mark = top if new_mark is None or top > new_mark else new_mark
            table = to_arrow(frame, name, contract, plan.columns, wm_key, schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_table(table)
            rows += len(frame)
        if writer is None and not plan.incremental:
            # An empty snapshot still replaces the old one.
            schema = empty_schema(contract, plan.columns)
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        if writer is not None:
            writer.close()
            writer = None
            fsync_file(tmp)
            os.replace(tmp, final)
        else:
            final = None
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    if final is None and not any(folder.iterdir()):
        folder.rmdir()  # no rows ever: no empty table folder for the feed reader to trip on
    if final is not None and not plan.incremental:
        # Snapshot: the new part is complete, so the previous ones can go.
        for old in folder.glob("part-*.parquet"):
            if old != final:
                old.unlink()
    return rows, final, (new_mark if plan.incremental else None)


def _scrub(message: str, secret: tuple[str, ...] | str) -> str:
    """``message`` with every URL masked and every secret of the URL replaced by ***."""
    return scrub(message, (secret,) if isinstance(secret, str) else secret)

