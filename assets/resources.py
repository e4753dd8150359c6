"""Resources: where the run reads its feed, writes its warehouse, and how it is configured."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from restock.config import RestockConfig
from restock.derived import work_db_error
from restock.paths import RunPaths
from restock.warehouse import table_exists


class RestockResource(dg.ConfigurableResource):
    """The run's inputs: the feed, the published warehouse file, as_of and the config file.

    ``as_of`` empty means "the latest sales date"; the ingest step resolves it and records it in
    the work DB (``raw._run``) so every later step plans for the same date. The configuration is
    resolved once per run the same way: the ingest step reads the YAML and stores the resolved
    settings beside as_of (``raw._run.config``, JSON); every later step and check of that run
    reads them from there (:attr:`config`).
    """

    feed: str
    warehouse: str
    as_of: str = ""
    config_path: str = ""
    #: `restock run --allow-stale`: sets quality.allow_stale of the run's configuration
    allow_stale: bool = False

    _run_id: str | None = PrivateAttr(default=None)
    _config: RestockConfig | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember which run this is: its stored configuration is keyed by run id."""
        self._run_id = context.run_id

    def config_from_file(self) -> RestockConfig:
        """The YAML file read now (defaults when no file is given)."""
        config = RestockConfig.load(self.config_path or None)
        if self.allow_stale:
            config.quality.allow_stale = True
        changed = config.follow_feed_objective(self.feed_dir, self.config_path or None)
        if changed:
            logging.getLogger("restock").info(changed)
        return config

    @property
    def config(self) -> RestockConfig:
        """This run's configuration, resolved once.

        The settings the ingest step of this run stored in ``raw._run``; a run that has not
        ingested (the ingest step itself, one asset re-materialized from the UI, a category
        partition, a sensor tick) reads the YAML once and keeps it for the rest of the run.
        """
        if self._config is None:
            self._config = self._stored_config() or self.config_from_file()
        return self._config

    def _stored_config(self) -> RestockConfig | None:
        work_db = self.paths.work_db
        if self._run_id is None or not work_db.exists():
            return None
        try:
            with duckdb.connect(str(work_db), read_only=True) as con:
                return stored_run_config(con, self._run_id)
        except duckdb.Error as exc:
            raise work_db_error(work_db, exc) from exc

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
        memory_limit = self.config.warehouse.duckdb_memory_limit
        try:
            return duckdb.connect(
                str(self.paths.work_db), read_only=read_only,
                config={"memory_limit": memory_limit},
            )
        except duckdb.Error as exc:
            # One line naming the file: locked by which process, or damaged and safe to delete.
            raise work_db_error(self.paths.work_db, exc) from exc

    def run_as_of(self, con: duckdb.DuckDBPyConnection) -> str:
        """The as_of (YYYY-MM-DD) that the ingest step resolved for this run."""
        row = con.execute("select as_of from raw._run").fetchone()
        if row is None:
            raise RuntimeError("raw._run is empty: the ingest step has not run")
        return str(row[0])


def stored_run_config(con: duckdb.DuckDBPyConnection, run_id: str) -> RestockConfig | None:
    """The configuration the ingest step of ``run_id`` stored in ``raw._run`` (None when the
    work DB holds another run's record, or none)."""
    if not table_exists(con, "raw", "_run"):
        return None
    columns = {r[0] for r in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw' and table_name = '_run'").fetchall()}
    if "config" not in columns:
        return None
    row = con.execute("select config from raw._run where run_id = ?", [run_id]).fetchone()
    return RestockConfig.model_validate_json(row[0]) if row and row[0] else None
