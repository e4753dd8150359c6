"""What the publishing targets share: the published schema name, SQL literals, the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import duckdb

# One logger for every target: the nightly bench attributes log lines to the publish stage by
# this name, and the CLI prints it.
log = logging.getLogger("restock.publish")

PUBLISHED_SCHEMA = "marts"


def sql_string(value: object) -> str:
    """A SQL string literal (for file paths in ATTACH / COPY, which take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


#: DuckDB's memory_limit for the connections of the publication under way (publish_tables
#: sets it from ``warehouse.duckdb_memory_limit``); None = DuckDB's default, 80% of RAM, with
#: which publishing an M5-size run (30,490 series) alone took 8.3 GB, 3.5 GB at 3 GB.
_MEMORY_LIMIT: ContextVar[str | None] = ContextVar("restock_publish_memory_limit", default=None)


@contextmanager
def memory_limit(limit: str | None) -> Iterator[None]:
    """Every :func:`connect` inside the block caps DuckDB's memory at ``limit``."""
    token = _MEMORY_LIMIT.set(limit)
    try:
        yield
    finally:
        _MEMORY_LIMIT.reset(token)


def connect(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with the publication's memory limit (:func:`memory_limit`)."""
    limit = _MEMORY_LIMIT.get()
    return duckdb.connect(database, read_only=read_only,
                          config={"memory_limit": limit} if limit else {})
