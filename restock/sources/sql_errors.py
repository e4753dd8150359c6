"""The errors of the ERP source (:mod:`restock.sources.sql`), one line each for the user.

Their own module because the mapping check, the value conversion, the watermark state and the
extraction all raise them.
"""

from __future__ import annotations

from restock.errors import UserError


class MappingError(UserError, ValueError):
    """The mapping does not fit the contract or the ERP database."""


class SourceError(UserError, RuntimeError):
    """The ERP database could not be read (the message never holds the password)."""

