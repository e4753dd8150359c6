"""The published Parquet folder: a symlink to a complete version folder, flipped atomically.

``paths.parquet_dir`` is a symlink to a version folder. Each run writes a new version folder
``<stem>_parquet.versions/<stamp>-<run_id>/`` and flips the symlink atomically (``os.replace``
of a new link). The previous version is kept (a reader that resolved the old link still finds
complete files); older ones are deleted. Readers that want a consistent set of several tables
should resolve the link once (``os.path.realpath``) and read from there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from restock.fsync import fsync_dir, fsync_file
from restock.publishing.common import PUBLISHED_SCHEMA, log, sql_string
from restock.warehouse import quote_identifier


def write_parquet_version(
    tmp_db: Path, parquet_dir: Path, safe_run: str, tables: Mapping[str, Sequence[str]]
) -> Path:
    """Write one Parquet file per table into a new complete version folder; return it."""
    versions = _versions_dir(parquet_dir)
    versions.mkdir(parents=True, exist_ok=True)
    for stale in versions.glob(".tmp-*"):
        log.warning("removing %s left by an interrupted publish", stale.name)
        shutil.rmtree(stale, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = versions / f".tmp-{stamp}-{safe_run}"
    building.mkdir()
    # Parquet is written from the new DuckDB file, so both targets hold exactly the same rows.
    con = duckdb.connect(str(tmp_db), read_only=True)
    try:
        for table in tables:
            target = building / f"{table}.parquet"
            con.execute(
                f"copy {PUBLISHED_SCHEMA}.{quote_identifier(table)} to {sql_string(target)} "
                "(format parquet, compression zstd)"
            )
            fsync_file(target)
    finally:
        con.close()
    fsync_dir(building)
    final = versions / f"{stamp}-{safe_run}"
    os.rename(building, final)
    fsync_dir(versions)
    return final


def flip_parquet_link(parquet_dir: Path, version: Path) -> None:
    """Point ``parquet_dir`` at ``version`` in one rename; keep the previous version only."""
    previous: Path | None = None
    if parquet_dir.is_symlink():
        previous = (parquet_dir.parent / os.readlink(parquet_dir)).resolve()
    elif parquet_dir.exists():
        # A real folder from before versioning: move it aside once (brief gap, first time only).
        legacy = _versions_dir(parquet_dir) / f"legacy-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        os.rename(parquet_dir, legacy)
        previous = legacy
    link_tmp = parquet_dir.with_name(f".{parquet_dir.name}.link-tmp")
    link_tmp.unlink(missing_ok=True)
    # Relative target, so the folder can be moved or mounted elsewhere as a whole.
    os.symlink(os.path.relpath(version, parquet_dir.parent), link_tmp)
    os.replace(link_tmp, parquet_dir)
    fsync_dir(parquet_dir.parent)
    keep = {version.resolve()} | ({previous} if previous else set())
    for old in _versions_dir(parquet_dir).iterdir():
        if old.resolve() not in keep and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)


def _versions_dir(parquet_dir: Path) -> Path:
    return parquet_dir.with_name(parquet_dir.name + ".versions")
