"""Publish the run's contract tables: work DB -> DuckDB file, Parquet folder, Postgres schema.

Every target switches from the old to the new tables in one step, so a reader sees either the
previous run or this run, never a mix, and a crash before the switch leaves the old data as it
was. How each target does it is in its module's docstring:

- ``duckdb_file``: a new file beside the published one, renamed over it;
- ``parquet``: a new version folder, a symlink flipped to it;
- ``postgres``: a stage schema, renamed over the live one in one transaction.

``publication.publish_tables`` runs them in that order around one swap point. Publishes of one
warehouse are serialised by an ``flock`` on ``<name>.publish.lock``, which also makes it safe to
delete leftovers (tmp files, tmp folders, a stage schema) of a killed run.
"""

from restock.publishing.duckdb_file import verify_published
from restock.publishing.postgres import PublishError
from restock.publishing.publication import publish_tables

__all__ = ["PublishError", "publish_tables", "verify_published"]
