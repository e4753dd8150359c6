"""What the publishing targets share: the published schema name, SQL literals, the log."""

from __future__ import annotations

import logging

# One logger for every target: the nightly bench attributes log lines to the publish stage by
# this name, and the CLI prints it.
log = logging.getLogger("restock.publish")

PUBLISHED_SCHEMA = "marts"


def sql_string(value: object) -> str:
    """A SQL string literal (for file paths in ATTACH / COPY, which take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"
