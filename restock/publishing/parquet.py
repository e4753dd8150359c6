"""The published Parquet folder: a symlink to a complete version folder, flipped atomically.

``paths.parquet_dir`` is a symlink to a version folder. Each run writes a new version folder
``<stem>_parquet.versions/<stamp>-<run_id>/`` and flips the symlink atomically (``os.replace``
of a new link). Readers that want a consistent set of several tables should resolve the link
once (``os.path.realpath``) and read from there.

Retention (``prune_versions``): after the flip, version folders are deleted except

- the one the link points at (never deleted, whatever the settings);
- the ``keep`` newest (default 3, the current one included), so a reader that resolved the link
  up to ``keep - 1`` publishes ago still finds complete files;
- any version replaced less than ``grace_seconds`` ago (default 600): a reader that resolved
  the link just before a flip has that long to open its files even when several publishes
  follow each other quickly.

A file a reader already has open stays readable after its folder is deleted (POSIX keeps the
inode until the last close); only opening files of a deleted version fails. Folders that are
not versions (``.tmp-*`` being written, anything without a stamp) are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from restock.fsync import fsync_dir, fsync_file
from restock.publishing.common import PUBLISHED_SCHEMA, connect, log, sql_string
from restock.warehouse import quote_identifier


def write_parquet_version(
    tmp_db: Path, parquet_dir: Path, safe_run: str, tables: Mapping[str, Sequence[str]]
) -> Path:
    """Write one Parquet file per table into a new folder ``.tmp-<stamp>-<run>``; return it.

    The folder keeps its ``.tmp-`` name until :func:`flip_parquet_link` renames it just before
    the flip, so a publish killed before its swap leaves only a ``.tmp-`` folder, which the next
    publish deletes (it never looks like a version a reader could have been served)."""
    versions = _versions_dir(parquet_dir)
    versions.mkdir(parents=True, exist_ok=True)
    for stale in versions.glob(".tmp-*"):
        log.warning("removing %s left by an interrupted publish", stale.name)
        shutil.rmtree(stale, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = versions / f".tmp-{stamp}-{safe_run}"
    building.mkdir()
    # Parquet is written from the new DuckDB file, so both targets hold exactly the same rows.
    con = connect(str(tmp_db), read_only=True)
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
    return building


DEFAULT_KEEP_VERSIONS = 3
DEFAULT_GRACE_SECONDS = 600.0
_STAMP = re.compile(r"^(?:legacy-)?(\d{8}T\d{12}Z)")


def flip_parquet_link(
    parquet_dir: Path,
    version: Path,
    keep: int = DEFAULT_KEEP_VERSIONS,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> list[Path]:
    """Name the written ``version`` folder final, point ``parquet_dir`` at it in one rename,
    then prune old versions (see the module docstring); return the folders deleted."""
    if version.name.startswith(".tmp-"):
        final = version.with_name(version.name.removeprefix(".tmp-"))
        os.rename(version, final)
        fsync_dir(final.parent)
        version = final
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
    if previous is not None:
        log.debug("parquet link moved from %s to %s", previous.name, version.name)
    return prune_versions(parquet_dir, keep, grace_seconds)


def prune_versions(
    parquet_dir: Path,
    keep: int = DEFAULT_KEEP_VERSIONS,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    now: datetime | None = None,
) -> list[Path]:
    """Delete version folders beyond the ``keep`` newest that were replaced more than
    ``grace_seconds`` ago; never the one ``parquet_dir`` points at. Returns those deleted."""
    if keep < 1:
        raise ValueError(f"parquet keep_versions must be >= 1, got {keep}")
    versions = _versions_dir(parquet_dir)
    if not versions.is_dir():
        return []
    current = Path(os.path.realpath(parquet_dir)) if parquet_dir.is_symlink() else None
    stamped: list[tuple[datetime, Path]] = []
    for folder in versions.iterdir():
        match = _STAMP.match(folder.name)
        if match and folder.is_dir() and not folder.is_symlink():
            stamped.append((_parse_stamp(match.group(1)), folder))
    stamped.sort(key=lambda item: (item[0], item[1].name), reverse=True)  # newest first
    now = now or datetime.now(UTC)
    deleted = []
    for rank, (_, folder) in enumerate(stamped):
        if rank < keep or (current is not None and folder.resolve() == current):
            continue
        # A version stops being served when the next newer one is written (its stamp).
        replaced_at = stamped[rank - 1][0]
        if (now - replaced_at).total_seconds() < grace_seconds:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        deleted.append(folder)
    if deleted:
        log.info("pruned %d old parquet version(s): %s", len(deleted),
                 ", ".join(p.name for p in deleted))
    return deleted


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def _versions_dir(parquet_dir: Path) -> Path:
    return parquet_dir.with_name(parquet_dir.name + ".versions")
