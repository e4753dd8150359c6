"""The watermark state of the ERP source: how far each table's extraction got.

A DuckDB file with one table, ``source_watermarks``: each watermark is stored as text with its
type, so a timestamp, a date, an integer or a decimal comes back exactly as it was. It is
derived state: deleting it (or a full reload) re-extracts every mapped table.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from restock.errors import DerivedStateError
from restock.sources.sql_errors import SourceError

log = logging.getLogger("restock.sources")


class WatermarkStateError(DerivedStateError, SourceError):
    """The watermark state file cannot be read; deleting it re-extracts everything."""


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


def load_watermarks(state_db: Path) -> dict:
    """Table -> the largest watermark extracted so far ({} without a state file)."""
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


def save_watermark(state_db: Path, table: str, value, rows: int) -> None:
    """Record ``table``'s new watermark, after its part file is in place (at least once)."""
    text, kind = _encode(value)
    Path(state_db).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(state_db)) as con:
        con.execute(_STATE_DDL)
        con.execute(
            "insert or replace into source_watermarks values (?, ?, ?, ?, ?)",
            [table, text, kind, datetime.now(UTC).replace(tzinfo=None), rows],
        )


def reset_extraction(state_db: Path, out_dir: Path, tables: list[str]) -> None:
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
