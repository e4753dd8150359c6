"""Drop folder: which feed folders are completely written and safe to read.

A drop is a subfolder of the drop root holding one feed (DATA_CONTRACT.md). It is complete when
it holds a ``_SUCCESS`` marker, or when every file's size and mtime are unchanged between two
consecutive ticks (``state`` carries the previous observation); in both cases no file may have a
temporary name (``*.tmp``, ``*.part``, ``.~*``: an upload still in progress).

A drop is rejected (reported in ``state["rejected"]`` and logged, never followed) when anything
inside it could lead outside the root: a symlink anywhere (the drop folder itself included), a
``..`` component, a path resolving outside the root, or anything that is not a regular file or
folder.

``state`` is plain JSON-serialisable data, meant to be a sensor cursor:
``cursor = json.dumps(new_state)``. Each Drop's ``run_key`` is the folder name plus a hash of
its files' names, sizes and mtimes, so a sensor that passes it as the RunRequest's run_key never
starts the same drop twice, and a drop whose files change gets a new key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("restock.sources")

SUCCESS_MARKER = "_SUCCESS"
TEMPORARY_PATTERNS = ("*.tmp", "*.part", ".~*")


@dataclass(frozen=True)
class Drop:
    """A completely written drop folder."""

    name: str
    path: Path
    run_key: str
    files: tuple[str, ...]  # paths relative to the drop folder, sorted
    total_bytes: int
    has_marker: bool


class _Rejected(Exception):
    """A drop that must not be read, with the reason."""


def find_complete_drops(root: Path, state: dict, now: float) -> tuple[list[Drop], dict]:
    """Scan ``root`` and return the complete drops and the state for the next tick.

    Parameters
    ----------
    root : Path
        The drop root; each subfolder is a drop.
    state : dict
        The state returned by the previous tick (``{}`` on the first one).
    now : float
        The tick's time (epoch seconds), recorded with each observation.

    Returns
    -------
    (list of Drop, dict)
        Complete drops sorted by name, and the new state: ``observations`` (per drop: the
        fingerprint seen this tick and when) and ``rejected`` (per drop: the reason).
    """
    root = Path(root)
    previous = (state or {}).get("observations", {})
    observations: dict[str, dict] = {}
    rejected: dict[str, str] = {}
    drops: list[Drop] = []
    if not root.is_dir():
        log.warning("drop root %s does not exist", root)
        return [], {"observations": {}, "rejected": {}}
    real_root = root.resolve()
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue  # hidden folders are uploads in progress by convention
        try:
            if entry.is_symlink():
                raise _Rejected("the drop folder is a symlink")
            if not entry.is_dir(follow_symlinks=False):
                continue  # loose files in the root are not drops
            files = _scan(Path(entry.path), real_root)
        except _Rejected as exc:
            rejected[entry.name] = str(exc)
            if (state or {}).get("rejected", {}).get(entry.name) != str(exc):
                log.warning("drop %s rejected: %s", entry.name, exc)
            continue
        fingerprint = [[rel, size, mtime_ns] for rel, size, mtime_ns in files]
        observations[entry.name] = {"fingerprint": fingerprint, "seen_at": now}
        if not files:
            continue
        temporary = [rel for rel, _, _ in files if _is_temporary(rel)]
        if temporary:
            log.info("drop %s still being written (%s)", entry.name, temporary[0])
            continue
        has_marker = any(rel == SUCCESS_MARKER for rel, _, _ in files)
        before = previous.get(entry.name, {}).get("fingerprint")
        if not has_marker and before != fingerprint:
            continue  # first sight or still changing: wait for an unchanged tick
        drops.append(
            Drop(
                name=entry.name,
                path=Path(entry.path),
                run_key=_run_key(entry.name, files),
                files=tuple(rel for rel, _, _ in files),
                total_bytes=sum(size for _, size, _ in files),
                has_marker=has_marker,
            )
        )
    return drops, {"observations": observations, "rejected": rejected}


def _scan(folder: Path, real_root: Path) -> list[tuple[str, int, int]]:
    """Every file under ``folder`` as (relative path, size, mtime_ns), without following links."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = path.relative_to(folder)
            if ".." in rel.parts:
                raise _Rejected(f"{rel}: '..' in the path")
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise _Rejected(f"{rel}: symlink (not followed)")
            resolved = path.resolve()
            if not resolved.is_relative_to(real_root):
                raise _Rejected(f"{rel}: resolves outside the drop root")
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise _Rejected(f"{rel}: not a regular file")
            found.append((rel.as_posix(), info.st_size, info.st_mtime_ns))
    return sorted(found)


def _is_temporary(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEMPORARY_PATTERNS)


def _run_key(name: str, files: list[tuple[str, int, int]]) -> str:
    digest = hashlib.sha256()
    for rel, size, mtime_ns in files:
        digest.update(f"{rel}\0{size}\0{mtime_ns}\n".encode())
    return f"{name}-{digest.hexdigest()[:16]}"
