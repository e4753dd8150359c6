"""Errors a user can act on: one line, naming the file, row, column or key and what to do.

The CLI prints a :class:`UserError` as its one-line message on stderr, without a traceback
(``-v`` shows the stack). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, fixable by the user.

    The message is one line (newlines are folded on construction) and says what is wrong,
    where (file, line, column, key) and what to do.
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self.args[0]) if self.args else ""


class ConfigError(UserError, ValueError):
    """The run configuration file is missing, unreadable or names unknown keys."""


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """The named config file does not exist."""


class DerivedStateError(UserError):
    """A derived file (work DB, state file) is unusable; deleting it is always safe."""


class PreflightError(UserError):
    """The run was refused before any work (see :mod:`restock.preflight`)."""


def one_line(message: str) -> str:
    """``message`` with every run of whitespace containing a newline folded to one space."""
    parts = [p.strip() for p in str(message).splitlines()]
    return " ".join(p for p in parts if p)
