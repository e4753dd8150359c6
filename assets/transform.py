"""Transform: dbt builds staging -> intermediate -> marts in the work DB; dbt tests are checks."""


import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from assets.resources import RestockResource
from assets.settings import DBT_PROJECT_DIR, MAX_FORECAST_HORIZON_DAYS, WAREHOUSE_POOL

DBT_FOLDERS_AS_GROUPS = ("staging", "intermediate", "marts")


def dbt_executable() -> str:
    # dbt lives next to the interpreter in the project's venv; PATH may not have it.
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_child_executable() -> str:
    """What the DbtCliResource runs: restock/dbt_child.py, which ties dbt to this process
    (SIGKILL when ``restock run`` dies, so no orphan keeps the work-DB lock) and execs the real
    dbt (:func:`dbt_executable`, passed in ``RESTOCK_DBT_EXECUTABLE``)."""
    import restock.dbt_child

    os.environ.setdefault("RESTOCK_DBT_EXECUTABLE", dbt_executable())
    child = Path(restock.dbt_child.__file__)
    return str(child) if os.access(child, os.X_OK) else dbt_executable()


def _manifest_is_stale(project_dir: Path) -> bool:
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml", *project_dir.glob("models/**/*"),
               *project_dir.glob("macros/**/*"), *project_dir.glob("tests/**/*")]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def ensure_dbt_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project files.

    A clean clone has no manifest (it is never committed); `make` builds it, and this keeps
    `restock run` and `dagster dev` working after an edit to a model.
    """
    manifest = project_dir / "target" / "manifest.json"
    if _manifest_is_stale(project_dir):
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        env.setdefault("RESTOCK_WORK_DB", str(project_dir / "target" / "parse.duckdb"))
        subprocess.run(
            [dbt_executable(), "parse", "--project-dir", str(project_dir),
             "--profiles-dir", str(project_dir), "--quiet"],
            check=True, env=env, cwd=project_dir,
        )
    return manifest


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
ensure_dbt_manifest()


class RestockDbtTranslator(DagsterDbtTranslator):
    """Key dbt models by their bare name (the schema is a dbt detail) and group them by folder
    (staging / intermediate / marts)."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """Asset spec of a dbt node, keyed by model name, grouped by its folder."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id)
        if node and node.get("resource_type") in ("model", "seed", "snapshot"):
            folder = next((p for p in node.get("fqn", []) if p in DBT_FOLDERS_AS_GROUPS), None)
            spec = spec.replace_attributes(
                key=dg.AssetKey(node["name"]), group_name=folder or spec.group_name
            )
        return spec


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=RestockDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def restock_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, restock: RestockResource
):
    """Build and test the dbt models for this run's as_of."""
    from restock.dbt_project import dbt_build_args

    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
    # The work DB path travels in --vars (profiles.yml reads var('work_db')).
    args = dbt_build_args(as_of, MAX_FORECAST_HORIZON_DAYS, work_db=restock.paths.work_db,
                          memory_limit=restock.config.warehouse.duckdb_memory_limit)
    yield from dbt.cli(args, context=context).stream()
