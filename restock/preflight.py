"""Preflight: everything a run can be refused for, checked before any work.

:func:`preflight` is a plain function (the CLI's ``restock validate --feed F [--config C]`` and
``restock run`` call it first, like ``dbt debug``). It reads the config strictly, looks at every
feed file's header (not its rows, except the sales dates, scanned in one DuckDB aggregate), and
checks as_of against the feed's sales dates and the warehouse path. Each problem is one line
naming the file, key or value and what to do; :meth:`PreflightReport.raise_if_failed` turns them
into one :class:`restock.errors.PreflightError`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from restock.contract import INPUT_TABLES
from restock.derived import check_work_db
from restock.errors import PreflightError, UserError
from restock.feed.files import table_files

# The warehouse file's stem names the work DB, the Parquet and state folders and appears in
# SQL string literals (ATTACH) and Dagster metadata: plain characters only.
SAFE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Characters that break a path inside a SQL literal, a shell line or a log line.
_UNSAFE_PATH_CHARS = set("'\"`;\n\r\t\0$\\")


@dataclass
class PreflightReport:
    """What preflight found.

    Attributes
    ----------
    problems : list[str]
        One line each; any problem refuses the run.
    warnings : list[str]
        One line each; reported, never refusing.
    first_sale, last_sale : date, optional
        The feed's sales date range (valid ISO dates only).
    as_of : date, optional
        The as_of the run would use (given, or the last sale).
    """

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_sale: date | None = None
    last_sale: date | None = None
    as_of: date | None = None

    @property
    def ok(self) -> bool:
        """True when nothing refuses the run."""
        return not self.problems

    def raise_if_failed(self) -> None:
        """Raise :class:`PreflightError` (one line: the first problem, and how many more)."""
        if self.problems:
            more = len(self.problems) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise PreflightError(self.problems[0] + suffix)


def preflight(
    feed: Path,
    warehouse: Path | None = None,
    as_of: date | None = None,
    config_path: Path | None = None,
    allow_stale: bool = False,
) -> PreflightReport:
    """Check config, feed, as_of and warehouse before a run; never raises for user errors.

    Parameters
    ----------
    feed : Path
        The feed directory.
    warehouse : Path, optional
        The published DuckDB file; None skips the warehouse checks (``restock validate``).
    as_of : date, optional
        The run date; default the latest sale.
    config_path : Path, optional
        The YAML config; None = defaults. Unknown keys are problems ("did you mean").
    allow_stale : bool
        Accept an as_of past the last sale + ``quality.freshness_days`` or before the first
        sale (a backfill or a deliberate what-if run); a warning instead of a problem.

    Returns
    -------
    PreflightReport
    """
    from restock.config import RestockConfig  # the settings pull in every stage's models

    report = PreflightReport()
    freshness_days = 3
    try:
        config = RestockConfig.load(config_path)
        freshness_days = config.quality.freshness_days
    except UserError as exc:
        report.problems.append(exc.message)
    except ValueError as exc:  # pydantic ValidationError: first error, one line
        errors = getattr(exc, "errors", None)
        if callable(errors) and errors():
            first = errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            report.problems.append(f"config file {config_path}: {loc}: {first.get('msg')}")
        else:
            report.problems.append(f"config file {config_path}: {str(exc).splitlines()[0]}")
    _check_feed(Path(feed), report)
    _check_as_of(as_of, freshness_days, allow_stale, report)
    if warehouse is not None:
        _check_warehouse(Path(warehouse), report)
    return report


def _check_feed(feed: Path, report: PreflightReport) -> None:
    from restock.feed.errors import FeedError
    from restock.feed.files import probe_file

    if not feed.is_dir():
        what = "is a file, not a folder" if feed.exists() else "does not exist"
        report.problems.append(
            f"feed {feed} {what}; pass the folder holding products.csv and sales.csv"
        )
        return
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    sales_files: list[Path] = []
    for name, spec in INPUT_TABLES.items():
        files = table_files(feed, name)
        if not files:
            if spec.required:
                report.problems.append(
                    f"{name}: required table missing: no {name}.csv, {name}.parquet or folder "
                    f"{name}/ in {feed}; add it (required columns: "
                    f"{', '.join(spec.required_columns)})"
                )
            continue
        for path in files:
            label = path.relative_to(feed).as_posix()
            if not os.access(path, os.R_OK):
                report.problems.append(f"{name}: file {label} is not readable; check its "
                                       "permissions")
                continue
            if path.stat().st_size == 0:
                (report.problems if spec.required and len(files) == 1 else report.warnings
                 ).append(f"{name}: file {label} is empty")
                continue
            try:
                columns = probe_file(con, name, path, label)
            except FeedError as exc:
                report.problems.append(exc.message)
                continue
            except OSError as exc:
                report.problems.append(f"{name}: cannot read file {label}: {exc.strerror}")
                continue
            clean = {c.strip().lower().lstrip("\ufeff") for c in columns}
            missing = [c for c in spec.required_columns if c not in clean]
            if missing:
                report.problems.append(
                    f"{name}: file {label} is missing required column {missing[0]!r} "
                    f"(columns: {', '.join(sorted(clean))})"
                )
            elif name == "sales":
                sales_files.append(path)
    if sales_files:
        _sales_range(con, sales_files, report)
    con.close()


def _sales_range(con: duckdb.DuckDBPyConnection, files: list[Path], report: PreflightReport
                 ) -> None:
    """First and last valid sales date of the files (one aggregate per file)."""
    from restock.feed.bounds import FeedBounds
    from restock.feed.row_checks import business_date_sql

    latest_allowed = FeedBounds().latest_default()
    firsts, lasts = [], []
    for path in files:
        source = (
            "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', "
            "escape = '\"')" if path.suffix.lower() == ".csv" else "read_parquet(?)"
        )
        try:
            first, last = con.execute(
                f"with d as (select {business_date_sql('date')} as d from "
                f"(select cast(date as varchar) as date from {source})) "
                "select min(d), max(d) filter (where d <= ?) from d",
                [str(path), latest_allowed],
            ).fetchone()
        except duckdb.Error:
            continue  # unreadable rows were reported by the header read or fail at ingest
        if first is not None:
            firsts.append(first)
        if last is not None:
            lasts.append(last)
    report.first_sale = min(firsts) if firsts else None
    report.last_sale = max(lasts) if lasts else None
    if report.last_sale is None:
        report.problems.append("sales: no valid sales date (YYYY-MM-DD) up to today in the feed")


def _check_as_of(as_of: date | None, freshness_days: int, allow_stale: bool,
                 report: PreflightReport) -> None:
    report.as_of = as_of or report.last_sale
    if as_of is None or report.last_sale is None or report.first_sale is None:
        return
    target = report.warnings if allow_stale else report.problems
    hint = "" if allow_stale else "; pass the right --as-of, or --allow-stale to run anyway"
    if as_of > report.last_sale + timedelta(days=freshness_days):
        target.append(
            f"as_of {as_of} is {(as_of - report.last_sale).days} days after the feed's last sale "
            f"{report.last_sale} (quality.freshness_days {freshness_days}): the forecasts would "
            f"all be zero{hint}"
        )
    elif as_of < report.first_sale:
        target.append(f"as_of {as_of} is before the feed's first sale {report.first_sale}{hint}")


def _check_warehouse(warehouse: Path, report: PreflightReport) -> None:
    path = warehouse.expanduser()
    text = str(path)
    bad = sorted(_UNSAFE_PATH_CHARS & set(text))
    if bad:
        report.problems.append(
            f"warehouse path {text!r} contains {', '.join(repr(c) for c in bad)}; use a path "
            "without quotes, backslashes, semicolons, '$' or control characters"
        )
        return
    if not SAFE_STEM.match(path.stem) or path.suffix.lower() != ".duckdb":
        report.problems.append(
            f"warehouse file name {path.name!r} must be <name>.duckdb with <name> made of "
            "letters, digits, '_', '-' or '.' (it names the work DB and the Parquet folder)"
        )
        return
    if path.exists() and not path.is_file():
        report.problems.append(f"warehouse {path} exists and is not a file")
        return
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        report.problems.append(f"warehouse folder {folder}: {existing} is not a folder")
        return
    try:
        if existing == folder:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".restock-preflight-"):
                pass
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError
    except OSError:
        report.problems.append(
            f"warehouse folder {existing} is not writable; choose a --warehouse in a folder "
            "you can write, or fix its permissions"
        )
        return
    work_db = path.parent / f"{path.stem}.work.duckdb"
    problem = check_work_db(work_db)
    if problem:
        report.problems.append(problem)
