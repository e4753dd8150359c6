"""How to run the dbt project (dbt_project/) against a work DB: environment and vars.

Two equivalent ways to point dbt at a run (the Dagster wiring may use either)::

    # 1. everything through --vars (no environment changes; best inside a long-lived process)
    dbt build --project-dir dbt_project --profiles-dir dbt_project \\
        --vars '{"as_of": "2024-03-10", "horizon_days": 28, "work_db": "/abs/restock.work.duckdb"}'

    # 2. through the environment: dbt_env(work_db, as_of) merged into the subprocess env
    RESTOCK_WORK_DB=/abs/restock.work.duckdb RESTOCK_AS_OF=2024-03-10 \\
        dbt build --project-dir dbt_project --profiles-dir dbt_project

``as_of`` is required: models raise a compiler error without it. ``dbt parse`` needs neither.
raw.* must be written by restock.feed.reader first, and the writer's DuckDB connection closed:
DuckDB allows one writing process per file.
"""

from __future__ import annotations

import json
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def dbt_env(work_db: Path, as_of: str) -> dict[str, str]:
    """Environment variables for a dbt invocation on ``work_db`` planning for ``as_of``.

    Parameters
    ----------
    work_db : Path
        The work DuckDB file (raw.* already written by restock.feed.reader).
    as_of : str
        The run date, YYYY-MM-DD.

    Returns
    -------
    dict
        RESTOCK_WORK_DB, RESTOCK_AS_OF, DBT_PROFILES_DIR, DBT_PROJECT_DIR, DO_NOT_TRACK.
    """
    return {
        "RESTOCK_WORK_DB": str(Path(work_db).expanduser().resolve()),
        "RESTOCK_AS_OF": str(as_of),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DO_NOT_TRACK": "1",
    }


def dbt_vars(as_of: str, horizon_days: int = 28, work_db: Path | None = None,
             memory_limit: str | None = None) -> str:
    """The ``--vars`` argument (JSON): as_of, horizon_days and optionally the work DB path and
    DuckDB's memory limit."""
    values: dict[str, object] = {"as_of": str(as_of), "horizon_days": int(horizon_days)}
    if work_db is not None:
        values["work_db"] = str(Path(work_db).expanduser().resolve())
    if memory_limit is not None:
        values["duckdb_memory_limit"] = memory_limit
    return json.dumps(values)


def dbt_build_args(
    as_of: str, horizon_days: int = 28, work_db: Path | None = None,
    memory_limit: str | None = None,
) -> list[str]:
    """Arguments of the nightly ``dbt build`` (models, data tests and unit tests)."""
    return ["build", "--vars", dbt_vars(as_of, horizon_days, work_db, memory_limit)]
