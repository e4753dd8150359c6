"""The one error of the feed reader: the feed cannot be ingested.

Its own module so that every part of the reader (file reading, table staging, the driver) and
its callers (preflight, the ingest asset) can raise or catch it without importing each other.
"""

from __future__ import annotations

from restock.errors import UserError


class FeedError(UserError, ValueError):
    """The feed cannot be ingested (missing table or column, unreadable or empty file).

    A :class:`restock.errors.UserError`: one line naming table, file (and line) and what to do.
    """

