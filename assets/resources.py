"""Resources: where the run reads its feed, writes its warehouse, and how it is configured."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from restock.config import RestockConfig
from restock.paths import RunPaths


class RestockResource(dg.ConfigurableResource):
    """The run's inputs: the feed, the published warehouse file, as_of and the config file.

    ``as_of`` empty means "the latest sales date"; the ingest step resolves it and records it in
    the work DB (``raw._run``) so every later step plans for the same date.
    """

    feed: str
    warehouse: str
    as_of: str = ""
    config_path: str = ""

    @property
    def config(self) -> RestockConfig:
        """The parsed run configuration (defaults when no file is given)."""
        return RestockConfig.load(self.config_path or None)

    @property
    def paths(self) -> RunPaths:
        """Every path the run touches."""
        return RunPaths.from_warehouse(self.warehouse).ensure()

    @property
    def feed_dir(self) -> Path:
        """The feed directory."""
        return Path(self.feed).expanduser().resolve()

    def requested_as_of(self) -> date | None:
        """The as_of given on the command line or in the environment, if any."""
        return date.fromisoformat(self.as_of) if self.as_of else None

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the work DB (one writer at a time)."""
        return duckdb.connect(
            str(self.paths.work_db), read_only=read_only,
            config={"memory_limit": self.config.warehouse.duckdb_memory_limit},
        )

    def run_as_of(self, con: duckdb.DuckDBPyConnection) -> str:
        """The as_of (YYYY-MM-DD) that the ingest step resolved for this run."""
        row = con.execute("select as_of from raw._run").fetchone()
        if row is None:
            raise RuntimeError("raw._run is empty: the ingest step has not run")
        return str(row[0])
