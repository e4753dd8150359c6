"""Where a run reads and writes, derived from the published warehouse path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """Every file a run touches, derived from the published DuckDB path ``warehouse``.

    The published file is written only by the publish step (a new file renamed over the old
    one); everything else lives in the work database and beside it.
    """

    warehouse: Path

    @classmethod
    def from_warehouse(cls, warehouse: str | Path) -> RunPaths:
        """Build the paths for the published warehouse file ``warehouse``.

        The folder is resolved, the file name is not: the published file is a symlink into the
        current publication (restock.publishing.publication), and everything derives from the
        path the user gave, never from the version it currently points at.
        """
        path = Path(warehouse).expanduser()
        return cls(path.parent.resolve() / path.name)

    @property
    def root(self) -> Path:
        """Folder that holds the published file and everything beside it."""
        return self.warehouse.parent

    @property
    def work_db(self) -> Path:
        """The work DuckDB: raw tables, dbt models and Python results."""
        return self.root / f"{self.warehouse.stem}.work.duckdb"

    @property
    def parquet_dir(self) -> Path:
        """Published Parquet files, one per published table."""
        return self.root / f"{self.warehouse.stem}_parquet"

    @property
    def partitions_dir(self) -> Path:
        """Results of the category_forecasts partitions (restock.forecasting.partitions)."""
        return self.root / f"{self.warehouse.stem}_partitions"

    @property
    def state_dir(self) -> Path:
        """State kept between runs (previous volumes, watermarks)."""
        return self.root / f"{self.warehouse.stem}_state"

    @property
    def reports_dir(self) -> Path:
        """Folder of the run reports: ``<as_of>/<run_id>/index.html`` and ``latest``.

        One per warehouse (``<stem>_reports``, like ``_parquet`` and ``_state``): two warehouses
        in one folder never share a report folder or a ``latest`` link (issue 17).
        """
        return self.root / f"{self.warehouse.stem}_reports"

    def report_dir(self, as_of: str) -> Path:
        """Folder of the planning date ``as_of`` (YYYY-MM-DD): the GX Data Docs go here.

        Reports themselves go one per run in :meth:`run_report_dir`.
        """
        return self.reports_dir / as_of

    def run_report_dir(self, as_of: str, run_id: str) -> Path:
        """Report folder of one run: ``reports/<as_of>/<run_id>`` (run_id made path-safe)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(run_id)).strip(".") or "run"
        return self.report_dir(as_of) / safe

    @property
    def latest_report(self) -> Path:
        """``reports/latest``: a symlink to the newest run's report folder (and latest.html)."""
        return self.reports_dir / "latest"

    def ensure(self) -> RunPaths:
        """Create the folders a run writes into."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self
