"""What was already sent: a small JSON file beside the warehouse, for de-duplication.

Shape: ``{"version": 1, "sent": {"<sku>\\t<location>": {"at": ISO time, "severity": s,
"owner": name}}}``. It is derived data: a missing file is empty, a corrupt one is named in the
log and rebuilt empty (at worst an alert is sent twice), and every write goes to a temporary
file that replaces the old one atomically.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from restock.fsync import fsync_dir

log = logging.getLogger("restock.alerting")

STATE_VERSION = 1


def alert_key(sku: object, location: object) -> str:
    return f"{sku}\t{location}"


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class SentState:
    """sku+location -> when (and at which severity, to whom) its alert was last sent."""

    sent: dict[str, dict] = field(default_factory=dict)
    problem: str | None = None  # set when the file was unreadable and rebuilt empty

    @classmethod
    def load(cls, path: Path) -> SentState:
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or not isinstance(raw.get("sent"), dict):
                raise ValueError("no 'sent' mapping")
            sent = {}
            for key, entry in raw["sent"].items():
                if not isinstance(entry, dict):
                    raise ValueError(f"entry {key!r} is not a mapping")
                as_utc(datetime.fromisoformat(entry["at"]))  # must parse
                sent[str(key)] = entry
        except (OSError, ValueError, KeyError, TypeError) as e:
            problem = (f"alert state file {path} is unreadable ({type(e).__name__}: "
                       f"{str(e)[:120]}); it only records what was already sent, so it is "
                       "rebuilt empty (some alerts may repeat once)")
            log.warning(problem)
            return cls(problem=problem)
        return cls(sent=sent)

    def last_sent(self, sku: object, location: object) -> tuple[datetime, str] | None:
        entry = self.sent.get(alert_key(sku, location))
        if not entry:
            return None
        return as_utc(datetime.fromisoformat(entry["at"])), str(entry.get("severity", ""))

    def mark(self, sku: object, location: object, at: datetime, severity: str,
             owner: str) -> None:
        self.sent[alert_key(sku, location)] = {"at": as_utc(at).isoformat(),
                                               "severity": severity, "owner": owner}

    def prune(self, now: datetime, keep: timedelta) -> None:
        cutoff = as_utc(now) - keep
        self.sent = {k: v for k, v in self.sent.items()
                     if as_utc(datetime.fromisoformat(v["at"])) >= cutoff}

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same folder, fsynced, then renamed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"version": STATE_VERSION, "sent": self.sent}, indent=1,
                          sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
