"""``reports/latest``: where the newest run report is, moved atomically after each report.

Reports live one per run in ``reports/<as_of>/<run_id>/index.html`` (RunPaths.run_report_dir).
``reports/latest`` is a relative symlink to the newest one's folder, and ``reports/latest.html``
a small redirect page to it (for file systems or web servers without symlinks). Both are
replaced with a rename, so a reader never sees them missing or half-written. "Newest" is the
latest planning date (``as_of``); among runs of the same date, the last one built. Re-running
an older date (a backfill) leaves ``latest`` alone.
"""

from __future__ import annotations

import html
import logging
import os
import urllib.parse
from pathlib import Path

logger = logging.getLogger("restock.report.publish")


def _current_as_of(latest: Path) -> str | None:
    """The as_of folder the ``latest`` link points into (None when there is no link)."""
    if not latest.is_symlink():
        return None
    parts = Path(os.readlink(latest)).parts
    return parts[0] if parts else None


def point_latest(latest: Path, report_dir: Path, as_of: str) -> bool:
    """Point ``latest`` (a symlink) and ``latest.html`` at ``report_dir``; True when moved.

    Does nothing when ``latest`` already points at a later ``as_of``, or when ``latest``
    exists and is not a symlink (a real folder is never replaced).
    """
    latest = Path(latest)
    root = latest.parent
    root.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(Path(report_dir).resolve(), root.resolve()))
    current = _current_as_of(latest)
    if current is not None and current > as_of:
        logger.info("reports/latest stays on %s (this report plans for %s)", current, as_of)
        return False
    if latest.exists() and not latest.is_symlink():
        logger.warning("%s exists and is not a symlink: left as it is", latest)
        return False
    tmp = root / f".{latest.name}.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(rel.as_posix(), tmp, target_is_directory=True)
        os.replace(tmp, latest)
    except OSError as exc:  # e.g. no symlinks on this file system: the redirect page remains
        logger.warning("could not link %s -> %s: %s", latest, rel, exc)
    href = urllib.parse.quote(f"{rel.as_posix()}/index.html")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={html.escape(href)}">'
        f"<title>Latest Restock report ({html.escape(as_of)})</title></head><body>"
        f'<p>The latest report: <a href="{html.escape(href)}">{html.escape(rel.as_posix())}</a>'
        "</p></body></html>"
    )
    redirect = root / f"{latest.name}.html"
    tmp_page = root / f".{latest.name}.html.{os.getpid()}.tmp"
    tmp_page.write_text(page, encoding="utf-8")
    os.replace(tmp_page, redirect)
    return True
