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
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
import yaml

from restock.contract import INPUT_TABLES, InputTable
from restock.errors import DerivedStateError, UserError
from restock.fsync import fsync_file
from restock.secrets import mask_url, scrub, url_secrets

log = logging.getLogger("restock.sources")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WATERMARK_COLUMN = "erp_watermark"
_ARROW_TYPES = {
    "text": pa.string(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class MappingError(UserError, ValueError):
    """The mapping does not fit the contract or the ERP database."""


class SourceError(UserError, RuntimeError):
    """The ERP database could not be read (the message never holds the password)."""


class WatermarkStateError(DerivedStateError, SourceError):
    """The watermark state file cannot be read; deleting it re-extracts everything."""


@dataclass
class TableMapping:
    """How one contract table is read from the ERP."""

    table: str
    erp_table: str | None = None
    erp_schema: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> ERP column
    query: str | None = None
    watermark: str | None = None
    initial_watermark: object = None


def load_mapping(mapping_file: Path) -> dict[str, TableMapping]:
    """Read and check a mapping file against the contract; no database is touched.

    Raises
    ------
    MappingError
        Naming the table and column of an unknown contract table or column, a name that is not
        a plain identifier, or a missing required column.
    """
    data = yaml.safe_load(Path(mapping_file).read_text(encoding="utf-8")) or {}
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not tables:
        raise MappingError(f"{mapping_file}: expected a 'tables:' mapping of contract tables")
    result = {}
    for name, spec in tables.items():
        if name not in INPUT_TABLES:
            raise MappingError(
                f"{mapping_file}: {name!r} is not a contract table "
                f"(one of {', '.join(INPUT_TABLES)})"
            )
        if not isinstance(spec, dict):
            raise MappingError(f"{name}: expected a mapping with table: or query:")
        result[name] = _check_table_spec(name, spec, INPUT_TABLES[name])
    return result


def _check_table_spec(name: str, spec: dict, contract: InputTable) -> TableMapping:
    unknown_keys = set(spec) - {
        "table",
        "schema",
        "columns",
        "query",
        "watermark",
        "initial_watermark",
    }
    if unknown_keys:
        raise MappingError(f"{name}: unknown mapping key(s) {', '.join(sorted(unknown_keys))}")
    if ("table" in spec) == ("query" in spec):
        raise MappingError(f"{name}: give exactly one of table: or query:")
    watermark = spec.get("watermark")
    if watermark is not None:
        _check_identifier(name, "watermark", watermark)
    if "query" in spec:
        query = spec["query"]
        if not isinstance(query, str) or not query.strip():
            raise MappingError(f"{name}: query: must be SQL text")
        query = query.strip().rstrip(";").strip()
        params = set(sa.text(query).compile().params)
        if params - {"watermark"}:
            raise MappingError(
                f"{name}: query uses unknown parameter(s) {', '.join(sorted(params))}; "
                "only :watermark is bound"
            )
        if "watermark" in params and (watermark is None or "initial_watermark" not in spec):
            raise MappingError(
                f"{name}: a query using :watermark needs watermark: (the result column) and "
                "initial_watermark: (bound on the first run)"
            )
        return TableMapping(
            name,
            query=query,
            watermark=watermark,
            initial_watermark=spec.get("initial_watermark"),
        )
    erp_table = spec["table"]
    _check_identifier(name, "table", erp_table)
    erp_schema = spec.get("schema")
    if erp_schema is not None:
        _check_identifier(name, "schema", erp_schema)
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(f"{name}: table: needs columns: {{contract column: ERP column}}")
    for contract_column, erp_column in columns.items():
        if contract_column not in contract.column_names:
            raise MappingError(
                f"{name}.{contract_column}: not a column of contract table {name} "
                f"({', '.join(contract.column_names)})"
            )
        _check_identifier(f"{name}.{contract_column}", "column", erp_column)
    _check_required(name, contract, set(columns))
    return TableMapping(
        name,
        erp_table=erp_table,
        erp_schema=erp_schema,
        columns=dict(columns),
        watermark=watermark,
    )


def _check_identifier(where: str, what: str, value: object) -> None:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise MappingError(
            f"{where}: {what} {value!r} is not a plain identifier (letters, digits, underscores)"
        )


def _check_required(name: str, contract: InputTable, present: set[str]) -> None:
    missing = [c for c in contract.required_columns if c not in present]
    if missing:
        raise MappingError(f"{name}: required contract column(s) not mapped: {', '.join(missing)}")
    if contract.one_of and not present & set(contract.one_of):
        raise MappingError(f"{name}: map at least one of {', '.join(contract.one_of)}")


# --- extraction ----------------------------------------------------------------------------


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
        known = {} if full_reload else _load_watermarks(state_db)
        with _connect(engine, safe_url, secret, connect_attempts, backoff_seconds) as conn:
            plans = {name: _plan(conn, m, known.get(name)) for name, m in mappings.items()}
        if full_reload:
            _reset(state_db, out_dir, list(mappings))
        watermarks = _load_watermarks(state_db)
        for name, plan in plans.items():
            previous = watermarks.get(name)
            t0 = time.perf_counter()
            with _connect(engine, safe_url, secret, connect_attempts, backoff_seconds) as conn:
                rows, written, new_mark = _extract_table(
                    conn, name, plan, previous, out_dir, chunk_size
                )
            if new_mark is not None:
                _save_watermark(state_db, name, new_mark, rows)
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
        _check_required(m.table, contract, {c.lower() for c in out})
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
                marks = [v for v in frame[wm_key] if not _is_null(v)]
                if marks:
                    top = max(marks)
                    new_mark = top if new_mark is None or top > new_mark else new_mark
            table = _to_arrow(frame, name, contract, plan.columns, wm_key, schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_table(table)
            rows += len(frame)
        if writer is None and not plan.incremental:
            # An empty snapshot still replaces the old one.
            schema = _empty_schema(contract, plan.columns)
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


def _to_arrow(
    frame: pd.DataFrame,
    name: str,
    contract: InputTable,
    columns: list[str],
    wm_key: str,
    schema: pa.Schema | None,
) -> pa.Table:
    """Cast a chunk to the contract types (strictly: a bad value names table and column)."""
    arrays, fields = [], []
    for col in columns:
        ctype = contract.column(col.lower()).type
        try:
            arrays.append(_convert(frame[col], ctype))
        except (ValueError, TypeError) as exc:
            raise SourceError(f"{name}.{col}: cannot read values as {ctype}: {exc}") from None
        fields.append(pa.field(col.lower(), _ARROW_TYPES[ctype]))
    if wm_key in frame:
        values = [None if _is_null(v) else _plain(v) for v in frame[wm_key]]
        wm_type = schema.field(WATERMARK_COLUMN).type if schema is not None else None
        if wm_type == pa.string():
            values = [None if v is None else str(v) for v in values]
        array = pa.array(values, type=wm_type, from_pandas=True)
        if array.type == pa.null():
            # An all-NULL first chunk gives no type: fall back to text for the whole file.
            array = array.cast(pa.string())
        arrays.append(array)
        fields.append(pa.field(WATERMARK_COLUMN, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _empty_schema(contract: InputTable, columns: list[str]) -> pa.Schema:
    return pa.schema(
        [pa.field(c.lower(), _ARROW_TYPES[contract.column(c.lower()).type]) for c in columns]
    )


def _convert(values: pd.Series, ctype: str) -> pa.Array:
    if ctype == "text":
        return pa.array([None if _is_null(v) else _text(v) for v in values], type=pa.string())
    if ctype in ("number", "integer"):
        numbers = pd.to_numeric(values.map(lambda v: None if _is_null(v) else v))
        if ctype == "integer":
            whole = numbers.dropna()
            if not (whole == whole.round()).all():
                raise ValueError("not whole numbers")
            return pa.array(numbers.astype("Int64"), type=pa.int64(), from_pandas=True)
        return pa.array(numbers.astype("float64"), type=pa.float64(), from_pandas=True)
    if ctype == "boolean":
        return pa.array([_boolean(v) for v in values], type=pa.bool_())
    stamps = values.map(lambda v: None if _is_null(v) else v)
    try:
        parsed = pd.to_datetime(stamps)
    except (ValueError, TypeError):
        parsed = pd.to_datetime(stamps, format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)  # keep the wall-clock time the ERP recorded
    if ctype == "date":
        return pa.array(parsed.dt.normalize().astype("datetime64[us]")).cast(pa.date32())
    return pa.array(parsed.astype("datetime64[us]"), type=pa.timestamp("us"))


def _boolean(v) -> bool | None:
    if _is_null(v):
        return None
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if isinstance(v, (int, float, Decimal)):
        return v != 0
    raise ValueError(f"{v!r} is not a boolean")


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, Decimal):
        return format(v.normalize(), "f") if v == v.to_integral_value() else str(v)
    return str(v)


def _plain(v):
    """A watermark value Arrow can store and order (the exact value is kept in the state)."""
    return float(v) if isinstance(v, Decimal) else v


def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def _scrub(message: str, secret: tuple[str, ...] | str) -> str:
    """``message`` with every URL masked and every secret of the URL replaced by ***."""
    return scrub(message, (secret,) if isinstance(secret, str) else secret)


# --- watermark state -----------------------------------------------------------------------

_STATE_DDL = (
    'create table if not exists source_watermarks ("table" varchar primary key, '
    "watermark varchar, watermark_type varchar, extracted_at timestamp, rows_extracted bigint)"
)


def _encode(value) -> tuple[str, str]:
    if isinstance(value, datetime):
        return value.isoformat(), "timestamp"
    if isinstance(value, date):
        return value.isoformat(), "date"
    if isinstance(value, bool):
        return str(value), "text"
    if isinstance(value, int):
        return str(value), "integer"
    if isinstance(value, Decimal):
        return str(value), "decimal"
    if isinstance(value, float):
        return repr(value), "number"
    return str(value), "text"


def _decode(text: str, kind: str):
    if kind == "timestamp":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "integer":
        return int(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "number":
        return float(text)
    return text


def _load_watermarks(state_db: Path) -> dict:
    state_db = Path(state_db)
    if not state_db.exists():
        return {}
    try:
        with duckdb.connect(str(state_db)) as con:
            con.execute(_STATE_DDL)
            rows = con.execute(
                'select "table", watermark, watermark_type from source_watermarks'
            ).fetchall()
        return {t: _decode(w, k) for t, w, k in rows if w is not None}
    except (duckdb.Error, ValueError, ArithmeticError) as exc:
        first = str(exc).strip().splitlines()[:1]
        raise WatermarkStateError(
            f"watermark state file {state_db} is unreadable ({first[0] if first else exc}); "
            "it only records how far extraction got: delete it (or set source.full_reload) to "
            "re-extract every mapped table"
        ) from None


def _save_watermark(state_db: Path, table: str, value, rows: int) -> None:
    text, kind = _encode(value)
    Path(state_db).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(state_db)) as con:
        con.execute(_STATE_DDL)
        con.execute(
            "insert or replace into source_watermarks values (?, ?, ?, ?, ?)",
            [table, text, kind, datetime.now(UTC).replace(tzinfo=None), rows],
        )


def _reset(state_db: Path, out_dir: Path, tables: list[str]) -> None:
    """Full reload: forget the watermarks and delete the feed folders of ``tables``."""
    if Path(state_db).exists():
        with duckdb.connect(str(state_db)) as con:
            con.execute(_STATE_DDL)
            for table in tables:
                con.execute('delete from source_watermarks where "table" = ?', [table])
    for table in tables:
        folder = Path(out_dir) / table
        if folder.is_dir():
            shutil.rmtree(folder)
    log.info("full reload: cleared watermarks and folders of %s", ", ".join(tables))
