"""Derived state: the work DB and the ``<warehouse>_state/*.json`` files.

Both are rebuilt from the feed (the work DB) or by the next published run (the volumes
baseline), so a damaged one is never a reason for a run to fail with a raw traceback:

- a state JSON file that is truncated or not a JSON object is set aside (``<name>.corrupt``),
  logged with its name, and treated as absent: :func:`read_state_json` returns None and the
  next publication writes it again (:func:`write_state_json` writes atomically, so a kill
  mid-write no longer truncates it);
- a work DB DuckDB cannot open or read is named in one line saying that it is derived and safe
  to delete (:func:`check_work_db`, :func:`work_db_error`), or set aside by
  :func:`set_aside_work_db` so the run rebuilds it from the feed; a work DB locked by another
  process names that process.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import duckdb

from restock.errors import DerivedStateError

log = logging.getLogger("restock.state")

_LOCK_PID = re.compile(r"PID (\d+)")


def read_state_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when absent or unreadable (then it is set aside)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"holds a {type(data).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
        except OSError:
            aside = None
        log.warning(
            "state file %s is unreadable (%s): it is derived data, ignored and rebuilt by the "
            "next published run%s", path, str(exc).splitlines()[0] if str(exc) else exc,
            f" (kept as {aside.name})" if aside else "",
        )
        return None
    return data


def write_state_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def work_db_error(path: Path, exc: BaseException) -> DerivedStateError:
    """A one-line error for a DuckDB error on the work DB ``path``: locked or damaged."""
    path = Path(path)
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "lock" in text.lower():
        pid = _LOCK_PID.search(text)
        holder = f"process {pid.group(1)}" if pid else "another process"
        return DerivedStateError(
            f"work DB {path} is locked by {holder}: wait for that run to finish or stop it "
            f"(a killed run's dbt child may still hold it: kill {pid.group(1) if pid else 'it'})"
        )
    return DerivedStateError(
        f"work DB {path} is damaged ({first}); it is derived from the feed and safe to delete: "
        f"rm {path} {path}.wal, then run again"
    )


def check_work_db(path: Path) -> str | None:
    """One line when the work DB cannot be opened and its catalogue read; None when fine.

    Opens read-only and reads every table's first row (cheap; a file truncated inside table
    data is only caught when that data is read, see :func:`work_db_error`).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables() where not temporary"
            ).fetchall()
            for schema, table in tables:
                q = '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
                con.execute(f"select * from {q} limit 1").fetchall()
    except duckdb.Error as exc:
        return str(work_db_error(path, exc))
    return None


def set_aside_work_db(path: Path) -> Path | None:
    """Rename a damaged work DB (and its WAL) to ``*.corrupt``; the run rebuilds it."""
    path = Path(path)
    if not path.exists():
        return None
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    log.warning("work DB %s was damaged: set aside as %s, rebuilt from the feed", path, aside.name)
    return aside
