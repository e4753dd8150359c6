"""Write purchase order proposals back to the ERP database, and one CSV per supplier.

:func:`erp_writeback` inserts one row per purchase order line, with its proposal's header
columns (WRITEBACK_COLUMNS), into a configured table of the ERP database through SQLAlchemy:

* One transaction: the run's earlier rows are deleted (``run_id = :run_id``) and the new ones
  inserted; a failure anywhere rolls both back, so the table is as it was and the step fails
  with a one-line :class:`WritebackError`. Re-running a run_id replaces its rows: two runs with
  the same run_id leave one set.
* The table is created when missing (CREATE TABLE IF NOT EXISTS, before the transaction: DDL
  commits implicitly on MariaDB). An existing table must have every WRITEBACK_COLUMNS column;
  other columns of it are left to their defaults.
* Names: table and schema must match ``[A-Za-z_][A-Za-z0-9_]*`` (at most 63 characters) and are
  quoted by the dialect (sqlalchemy.Table); values go as bound parameters, never into the SQL.
* Secrets: the URL is only ever shown with its password masked, in the userinfo and in query
  parameters such as ``?password=``; error messages are scrubbed of those values too.
* CSV: after the commit, ``purchase_orders_<supplier>.csv`` per supplier in ``out_dir``
  (written to a temporary file and renamed: a re-run replaces the file whole).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from restock.secrets import mask_url, scrub, url_secrets

log = logging.getLogger("restock.erp_writeback")

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# One row per purchase order line, with its proposal's header.
WRITEBACK_COLUMNS = (
    "run_id", "proposal_id", "supplier", "order_date", "expected_date", "rule_applied",
    "min_order_met", "sku", "location", "qty", "reason",
)


class WritebackError(RuntimeError):
    """The write-back failed and nothing was written (the message never holds a password)."""


def _check_identifier(name: str | None, what: str) -> None:
    if name is not None and not IDENTIFIER.match(str(name)):
        raise ValueError(
            f"invalid {what} {name!r}: letters, digits and underscores, starting with a letter "
            "or underscore, at most 63 characters")


def writeback_table(name: str, metadata: sa.MetaData, schema: str | None = None) -> sa.Table:
    """The write-back table's definition (used to create it when missing)."""
    return sa.Table(
        name, metadata,
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("proposal_id", sa.String(80), nullable=False),
        sa.Column("supplier", sa.String(200), nullable=False),
        sa.Column("order_date", sa.Date),
        sa.Column("expected_date", sa.Date),
        sa.Column("rule_applied", sa.String(40)),
        sa.Column("min_order_met", sa.Boolean),
        sa.Column("sku", sa.String(200), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("qty", sa.Float, nullable=False),
        sa.Column("reason", sa.Text),
        schema=schema,
    )


def writeback_rows(proposals: pd.DataFrame, lines: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Lines joined with their proposal's header, in WRITEBACK_COLUMNS order."""
    head = ["proposal_id", "supplier", "order_date", "expected_date", "rule_applied",
            "min_order_met"]
    missing = [c for c in ("proposal_id", "sku", "location", "qty") if c not in lines]
    if missing:
        raise ValueError(f"purchase order lines lack columns {missing}")
    rows = lines[["proposal_id", "sku", "location", "qty",
                  *(["reason"] if "reason" in lines else [])]].merge(
        proposals[[c for c in head if c in proposals]], on="proposal_id", how="left",
        validate="many_to_one")
    orphan = rows["supplier"].isna() if "supplier" in rows else pd.Series(True, index=rows.index)
    if orphan.any():
        raise ValueError(f"{int(orphan.sum())} purchase order lines have no proposal "
                         f"(e.g. {rows.loc[orphan, 'proposal_id'].iloc[0]!r})")
    rows.insert(0, "run_id", str(run_id))
    for c in WRITEBACK_COLUMNS:
        if c not in rows:
            rows[c] = None
    for c in ("order_date", "expected_date"):
        rows[c] = pd.to_datetime(rows[c]).dt.date
    return rows[list(WRITEBACK_COLUMNS)]


def _records(rows: pd.DataFrame) -> list[dict]:
    out = rows.astype(object).where(rows.notna(), None).to_dict("records")
    for r in out:
        r["qty"] = float(r["qty"])
        if r["min_order_met"] is not None:
            r["min_order_met"] = bool(r["min_order_met"])
        for c in ("run_id", "proposal_id", "supplier", "sku", "location"):
            r[c] = str(r[c])
    return out


def erp_writeback(
    engine_or_url: str | sa.engine.URL | sa.engine.Engine,
    table: str,
    proposals: pd.DataFrame,
    lines: pd.DataFrame,
    run_id: str,
    out_dir: str | Path | None = None,
    schema: str | None = None,
    create_table: bool = True,
) -> dict:
    """Replace run ``run_id``'s rows of the ERP table ``table`` and write one CSV per supplier.

    Parameters
    ----------
    engine_or_url : str, URL or Engine
        The ERP database (an Engine is used as is and not disposed).
    table, schema : str
        Target table (and schema): identifiers from the allow-list pattern, quoted by the
        dialect.
    proposals, lines : DataFrame
        purchase_order_proposals and purchase_order_lines
        (restock.inventory.purchase_orders.build_purchase_orders).
    run_id : str
        The run; rows of an earlier write-back with this run_id are replaced.
    out_dir : path, optional
        The run's folder for the per-supplier CSV files (none written when None).
    create_table : bool
        Create the table when it does not exist (else a missing table is an error).

    Returns
    -------
    dict
        ``url`` (masked), ``table``, ``run_id``, ``rows`` inserted, ``deleted`` (rows of the
        same run_id replaced), ``files`` (CSV paths).

    Raises
    ------
    WritebackError
        The database refused: nothing was changed; the message is one line without secrets.
    ValueError
        Invalid table or schema name, or lines without a proposal.
    """
    _check_identifier(table, "table name")
    _check_identifier(schema, "schema name")
    if not str(run_id).strip() or len(str(run_id)) > 64:
        raise ValueError("run_id must be a non-empty string of at most 64 characters")
    rows = writeback_rows(proposals, lines, run_id)
    own_engine = not isinstance(engine_or_url, sa.engine.Engine)
    if own_engine:
        try:
            url = sa.engine.make_url(engine_or_url)
        except sa.exc.ArgumentError:
            raise WritebackError("the ERP database URL is not a valid SQLAlchemy URL") from None
        engine = sa.create_engine(url)
    else:
        engine = engine_or_url
        url = engine.url
    shown, secrets = mask_url(url), url_secrets(url)
    target = f"{schema}.{table}" if schema else table
    try:
        md = sa.MetaData()
        t = writeback_table(table, md, schema)
        if create_table:
            md.create_all(engine, tables=[t], checkfirst=True)
        with engine.connect() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns(table, schema=schema)}
        missing = [c for c in WRITEBACK_COLUMNS if c not in have]
        if missing:
            raise WritebackError(f"ERP write-back to {shown} table {target}: the table lacks "
                                 f"columns {missing}; nothing written")
        with engine.begin() as conn:  # one transaction: delete the run's rows, insert anew
            deleted = conn.execute(t.delete().where(t.c.run_id == str(run_id))).rowcount
            records = _records(rows)
            if records:
                conn.execute(t.insert(), records)
    except sa.exc.SQLAlchemyError as exc:
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        raise WritebackError(scrub(
            f"ERP write-back to {shown} table {target} failed and was rolled back (run_id "
            f"{run_id}, table unchanged): {type(exc).__name__}: {detail}", secrets)) from None
    finally:
        if own_engine:
            engine.dispose()
    log.info("ERP write-back: %d rows for run %s into %s at %s (%d earlier rows replaced)",
             len(rows), run_id, target, shown, max(deleted or 0, 0))
    files = write_supplier_csvs(rows, out_dir) if out_dir is not None else []
    return {"url": shown, "table": target, "run_id": str(run_id), "rows": len(rows),
            "deleted": max(deleted or 0, 0), "files": [str(f) for f in files]}


def supplier_file_names(suppliers) -> dict[str, str]:
    """A safe, distinct file name per supplier: purchase_orders_<slug>.csv."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for s in sorted({str(x) for x in suppliers}):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:60] or "supplier"
        name, i = f"purchase_orders_{slug}.csv", 2
        while name.lower() in used:
            name, i = f"purchase_orders_{slug}_{i}.csv", i + 1
        used.add(name.lower())
        names[s] = name
    return names


def write_supplier_csvs(rows: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One CSV per supplier (rows as written to the ERP), replaced atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    names = supplier_file_names(rows["supplier"].unique())
    for supplier, part in rows.groupby("supplier", sort=True):
        path = out / names[str(supplier)]
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp-", suffix=".csv")
        os.close(fd)
        try:
            part.to_csv(tmp, index=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        files.append(path)
    return files
