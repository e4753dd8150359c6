"""Feed directory -> ``raw.<table>`` in the work DuckDB, every row kept with its reject reason.

A feed is a directory; each contract table is ``<table>.csv``, ``<table>.parquet`` or a folder
``<table>/`` of CSV or Parquet part files. Every file is read with DuckDB's own readers as text
(``all_varchar``), column names lower-cased, and written to ``raw.<table>`` with three extra
columns: ``_source_file`` (path relative to the feed), ``_row_number`` (1-based within the file)
and ``_reject_reason`` (NULL = accepted). Rows are never dropped: rows read = accepted + rejected.

Handling decided here (see docs/DATA_QUALITY.md):

- CSV encoding: UTF-8, a BOM is fine. A file that is not valid UTF-8 is re-read as latin-1 and a
  warning is reported (latin-1 maps every byte, so this never fails; cp1252 punctuation may come
  out as control characters, which is why it is a warning).
- Delimiter: the contract says comma. A header line without a comma that contains ``;``, a tab
  or ``|`` raises :class:`FeedError` naming the file (semicolon files usually also carry decimal
  commas, so guessing would corrupt numbers).
- Empty (0 bytes) or header-only files: a required table with no rows at all raises
  ``FeedError(... no rows)``; an optional table may be empty (warning).
- Timestamps: the business date is the local date as written (the first 10 characters of an
  ISO-8601 value); a time-zone offset is ignored on purpose, since the contract's date is the
  business date at the location. Parquet TIMESTAMP WITH TIME ZONE values are instants without
  the written offset: they are rendered in UTC before this rule applies.
- Contract columns missing from the file but optional are added as NULL (staging applies the
  defaults); extra columns are kept in raw and reported as a warning.
- Time grain (DATA_CONTRACT v1.1): ``feed.yml``'s ``grain: day|week|month`` when the feed has
  one, else detected from the accepted sales dates with demand (``restock.grain.detect_grain``:
  month when every such date is the 1st, week when each series sells on one weekday only,
  else day). Recorded in ``raw._feed`` (one row: grain, grain_source = ``feed.yml`` /
  ``detected``) and in :attr:`IngestResult.grain`, for forecasting to work at that grain.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from restock.contract import INPUT_TABLES, Column, InputTable
from restock.errors import UserError
from restock.grain import GrainError, detect_grain, read_feed_grain
from restock.warehouse import quote_identifier

log = logging.getLogger("restock.ingest")

META_COLUMNS = ("_source_file", "_row_number", "_reject_reason")
# Order matters: products and locations first (sales check skus/locations against them), sales
# before the other dated tables (as_of defaults to the latest valid sales date).
TABLE_ORDER = (
    "products",
    "locations",
    "sales",
    "inventory",
    "purchase_orders",
    "promotions",
    "drivers",
    "events",
    "suppliers",
    "transfer_lanes",
)
# Tables whose sku / location must be known.
SKU_CHECKED = ("sales", "inventory", "purchase_orders")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
# ISO date, optionally followed by a time and a zone offset ("Z", "+02", "+02:00", "-0500").
DATE_PATTERN = (
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?"
)
_SQL_DATE_PATTERN = DATE_PATTERN.replace("'", "''")


# Plausibility bounds (docs/DATA_QUALITY.md, "Bounds"). Ten years of history cover every shared
# data set (M5 holds 5.4 years) while refusing year 1, 1970 and 9999; the future side is the
# forecast horizon: nothing dated later is used by a run.
DEFAULT_HISTORY_DAYS = 3653
DEFAULT_FUTURE_DAYS = 28  # ForecastSettings.horizon's default
# Largest magnitude of a number column: sums of a few million such values stay exact to the
# unit in a DOUBLE, far from overflowing to inf.
MAX_NUMBER = 1e15
# Largest integer column value (moq, pack_size): exact in a DOUBLE, well inside dbt's BIGINT.
MAX_INTEGER = 2**53
MAX_LEAD_TIME_DAYS = 3653
# A default as_of (no --as-of) never lies after the machine's date plus one day (time zones).
TODAY_SLACK_DAYS = 1
_FAR_FUTURE_COLUMNS = {("purchase_orders", "expected_date"), ("purchase_orders", "received_date")}


class FeedError(UserError, ValueError):
    """The feed cannot be ingested (missing table or column, unreadable or empty file).

    A :class:`restock.errors.UserError`: one line naming table, file (and line) and what to do.
    """


@dataclass(frozen=True)
class FeedBounds:
    """The plausible window of feed values around as_of.

    Attributes
    ----------
    history_days : int
        A date more than this many days before as_of is quarantined (``<column> before
        <start>``); a promotion starting earlier but ending inside the window is clipped to
        start at the window start (a warning; dbt var ``history_days`` must match).
    future_days : int
        The forecast horizon: drivers, events and promotions starting more than this many days
        after as_of are quarantined (``<column> after <end>``); promotions running past it are
        clipped by dbt. Sales, inventory and PO order dates stay "dated after as_of".
        PO expected / received dates may lie up to ``history_days`` ahead (long lead times).
    today : date, optional
        Caps the default as_of (the latest sale no later than today + 1 day); default: the
        machine's date.
    """

    history_days: int = DEFAULT_HISTORY_DAYS
    future_days: int = DEFAULT_FUTURE_DAYS
    today: date | None = None

    @classmethod
    def from_config(cls, config: object) -> FeedBounds:
        """Bounds for a :class:`restock.config.RestockConfig` (future = forecast.horizon)."""
        forecast = getattr(config, "forecast", None)
        horizon = int(getattr(forecast, "horizon", DEFAULT_FUTURE_DAYS) or DEFAULT_FUTURE_DAYS)
        return cls(future_days=max(horizon, 1))

    def window(self, as_of: date) -> tuple[date, date, date]:
        """(start, horizon end, far end) of the plausible window around ``as_of``."""
        return (
            as_of - timedelta(days=self.history_days),
            as_of + timedelta(days=self.future_days),
            as_of + timedelta(days=self.history_days),
        )

    def latest_default(self) -> date:
        """The latest date a default as_of may take."""
        return (self.today or date.today()) + timedelta(days=TODAY_SLACK_DAYS)


@dataclass
class TableIngest:
    """What happened to one feed table."""

    table: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    present: bool = False


@dataclass
class IngestResult:
    """Per-table counts and warnings of one :func:`load_feed` call."""

    as_of: date
    tables: dict[str, TableIngest]
    grain: str = "day"  # day | week | month (module docstring)
    grain_source: str = "detected"  # feed.yml | detected

    @property
    def warnings(self) -> list[str]:
        """All warnings, prefixed with their table."""
        return [f"{t.table}: {w}" for t in self.tables.values() for w in t.warnings]

    @property
    def rows_read(self) -> dict[str, int]:
        """Rows read per table."""
        return {name: t.rows_read for name, t in self.tables.items()}

    @property
    def rows_accepted(self) -> dict[str, int]:
        """Rows accepted per table."""
        return {name: t.rows_accepted for name, t in self.tables.items()}

    @property
    def rows_rejected(self) -> dict[str, int]:
        """Rows rejected per table."""
        return {name: t.rows_rejected for name, t in self.tables.items()}


# --------------------------------------------------------------------------------------------
# file discovery and reading


def table_files(feed_dir: Path, table: str) -> list[Path]:
    """Files holding ``table`` in the feed, in a stable order."""
    files: list[Path] = []
    for ext in ("csv", "parquet"):
        single = feed_dir / f"{table}.{ext}"
        if single.is_file():
            files.append(single)
    folder = feed_dir / table
    if folder.is_dir():
        parts = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and p.suffix.lower() in (".csv", ".parquet")
            and not p.name.startswith(".")
        )
        files.extend(parts)
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote_any(name: str) -> str:
    """Quote a column name as read from a file (any characters) for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def _clean_name(name: str) -> str:
    """Lower-case a file column name and make it a plain identifier."""
    clean = re.sub(r"[^a-z0-9_]", "_", name.strip().lower().lstrip("\ufeff"))
    if not clean or clean[0].isdigit():
        clean = "c_" + clean
    if clean.startswith("_"):
        clean = "c" + clean  # leading underscores are reserved for the metadata columns
    return clean


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        line = handle.readline(1 << 16)
    return line.decode("latin-1").lstrip("\ufeff").lstrip("\xef\xbb\xbf").rstrip("\r\n")


_CSV_SOURCE = (
    "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
    "encoding = ?)"
)


def _check_delimiter(table: str, path: Path, label: str) -> None:
    header = _first_line(path)
    if "," not in header:
        for delim, word in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delim in header:
                raise FeedError(
                    f"{table}: file {label} uses a {word} ({delim!r}) delimiter; the feed "
                    "contract requires comma-separated CSV"
                )


def probe_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, label: str) -> list[str]:
    """Column names of one feed file after parsing all of it (nothing is kept; preflight).

    Raises the same :class:`FeedError` as :func:`load_feed` would for the file.
    """
    if path.suffix.lower() == ".csv":
        _check_delimiter(table, path, label)
        sql = f"select * from {_CSV_SOURCE}"
        for encoding in ("utf-8", "latin-1"):
            try:
                con.execute(f"select count(*) from ({sql})", [str(path), encoding]).fetchone()
                described = con.execute(f"describe {sql}", [str(path), encoding]).fetchall()
                return [d[0] for d in described]
            except duckdb.Error as exc:
                text = str(exc).lower()
                if encoding == "latin-1" or ("utf-8" not in text and "unicode" not in text):
                    raise _unreadable_csv(table, path, label, encoding, exc) from exc
    try:
        described = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise FeedError(
            f"{table}: cannot read file {label}: not a readable Parquet file "
            f"({_first_message_line(exc)}); re-export it and re-send the feed"
        ) from exc
    return [d[0] for d in described]


def _read_file(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, label: str, target: str
) -> tuple[list[str], list[str]]:
    """Read one file into temp table ``target`` (all VARCHAR); return (file columns, warnings)."""
    warnings: list[str] = []
    if path.suffix.lower() == ".csv":
        _check_delimiter(table, path, label)
        sql = f"create or replace temp table {target} as select * from {_CSV_SOURCE}"
        try:
            con.execute(sql, [str(path), "utf-8"])
        except duckdb.Error as exc:
            if "utf-8" not in str(exc).lower() and "unicode" not in str(exc).lower():
                raise _unreadable_csv(table, path, label, "utf-8", exc) from exc
            try:
                con.execute(sql, [str(path), "latin-1"])
            except duckdb.Error as exc2:
                raise _unreadable_csv(table, path, label, "latin-1", exc2) from exc2
            warnings.append(f"file {label} is not UTF-8: read as latin-1")
    else:
        try:
            described = con.execute(
                "select column_name, column_type from (describe select * from read_parquet(?))",
                [str(path)],
            ).fetchall()
            # A zoned timestamp is an instant: render it in UTC, not in the machine's zone,
            # so the business date does not depend on where the pipeline runs.
            cols = ", ".join(
                f"cast(timezone('UTC', {_quote_any(c)}) as varchar) as {_quote_any(c)}"
                if t == "TIMESTAMP WITH TIME ZONE"
                else f"cast({_quote_any(c)} as varchar) as {_quote_any(c)}"
                for c, t in described
            )
            con.execute(
                f"create or replace temp table {target} as select {cols} from read_parquet(?)",
                [str(path)],
            )
        except duckdb.Error as exc:
            raise FeedError(
                f"{table}: cannot read file {label}: not a readable Parquet file "
                f"({_first_message_line(exc)}); re-export it and re-send the feed"
            ) from exc
    names = [d[0] for d in con.execute(f"select * from {target} limit 0").description]
    return names, warnings


def _first_message_line(exc: BaseException) -> str:
    """The first line of a DuckDB error, without its "Possible fixes" essay."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def diagnose_csv(path: Path, encoding: str = "utf-8") -> str | None:
    """Find the first line of a CSV file breaking the contract's dialect, and why.

    Used when DuckDB cannot read a file (its message, "Error when sniffing file", names
    neither the line nor the cause). Returns e.g. ``line 3: unterminated quote ...`` or None
    when Python's csv module finds nothing wrong either.
    """
    try:
        handle = path.open("r", encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        return f"cannot open it ({exc.strerror or exc})"
    with handle:
        text_lines = iter(handle)
        reader = csv.reader(text_lines, delimiter=",", quotechar='"', doublequote=True,
                            strict=True)
        expected: int | None = None
        end = 0  # physical line where the previous record ended
        try:
            for record in reader:
                start = end + 1
                end = reader.line_num
                if expected is None:
                    expected = len(record)
                    continue
                if not record:
                    continue  # an empty line: skipped by DuckDB too
                if len(record) == 1 and not record[0].strip():
                    return (f"line {start} is blank but for spaces (expected {expected} "
                            "comma-separated fields); delete the line")
                if len(record) != expected:
                    return (f"line {start} has {len(record)} fields, the header has {expected} "
                            "(an unquoted comma in a value, or a missing one?)")
        except csv.Error as exc:
            start = end + 1
            cause = str(exc)
            if "unexpected end of data" in cause or "newline inside string" in cause or (
                "EOF" in cause
            ):
                return (f"line {start}: unterminated quote (a field opened with \" is never "
                        "closed); close or double the quote (\"\")")
            return f"line {start}: {cause}"
    return None


def _unreadable_csv(
    table: str, path: Path, label: str, encoding: str, exc: BaseException
) -> FeedError:
    cause = diagnose_csv(path, encoding) or _first_message_line(exc)
    return FeedError(f"{table}: cannot read file {label}: {cause}; fix the file and re-send it")


# --------------------------------------------------------------------------------------------
# SQL expressions for the checks (identifiers quoted, values from the contract only)


def _blank(col: str) -> str:
    return f"nullif(trim({quote_identifier(col)}), '') is null"


def _num(col: str) -> str:
    return f"try_cast(trim({quote_identifier(col)}) as double)"


def business_date_sql(col: str) -> str:
    """SQL giving the business date of a raw text column (NULL when not a valid date)."""
    q = quote_identifier(col)
    return (
        f"case when regexp_full_match(trim({q}), '{_SQL_DATE_PATTERN}') "
        f"then try_cast(substr(trim({q}), 1, 10) as date) end"
    )


def _bool_words(words: tuple[str, ...]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _type_check(column: Column) -> tuple[str, str] | None:
    """(condition for a bad value, reason) for a typed contract column."""
    c = column.name
    present = f"not ({_blank(c)})"
    if column.type == "number":
        return (
            f"{present} and ({_num(c)} is null or not isfinite({_num(c)}))",
            f"non-numeric {c}",
        )
    if column.type == "integer":
        return (
            f"{present} and ({_num(c)} is null or not isfinite({_num(c)}) "
            f"or {_num(c)} <> round({_num(c)}))",
            f"non-integer {c}",
        )
    if column.type in ("date", "timestamp"):
        return (f"{present} and ({business_date_sql(c)}) is null", f"bad date {c}")
    if column.type == "boolean":
        words = _bool_words(TRUE_WORDS + FALSE_WORDS)
        return (
            f"{present} and lower(trim({quote_identifier(c)})) not in ({words})",
            f"bad boolean {c}",
        )
    return None


def _range_check(column: Column) -> tuple[str, str] | None:
    """(value outside its type's safe range, reason): caught here, not by a cast in dbt."""
    c = column.name
    if column.type == "integer":
        return f"abs({_num(c)}) > {MAX_INTEGER}", f"{c} out of range (above {MAX_INTEGER})"
    if column.type == "number":
        return f"abs({_num(c)}) > {MAX_NUMBER:.0e}", f"{c} out of range (above {MAX_NUMBER:g})"
    return None


def _window_checks(spec: InputTable, as_of: date, bounds: FeedBounds) -> list[tuple[str, str]]:
    """Date checks against the plausible window around ``as_of`` (dates as SQL literals)."""
    start, horizon_end, far_end = bounds.window(as_of)
    checks: list[tuple[str, str]] = []
    for col in spec.columns:
        if col.type not in ("date", "timestamp"):
            continue
        d = business_date_sql(col.name)
        if not (spec.name == "promotions" and col.name == "start_date"):
            checks.append((f"{d} < date '{start.isoformat()}'",
                           f"{col.name} before {start.isoformat()} (as_of - "
                           f"{bounds.history_days} days)"))
    for col in spec.columns:
        if col.type not in ("date", "timestamp"):
            continue
        d = business_date_sql(col.name)
        if (spec.name, col.name) in _FAR_FUTURE_COLUMNS:
            checks.append((f"{d} > date '{far_end.isoformat()}'",
                           f"{col.name} after {far_end.isoformat()} (as_of + "
                           f"{bounds.history_days} days)"))
        elif spec.future_allowed and col.name in ("date", "start_date"):
            checks.append((f"{d} > date '{horizon_end.isoformat()}'",
                           f"{col.name} after {horizon_end.isoformat()} (as_of + "
                           f"{bounds.future_days} days, the forecast horizon)"))
    return checks


def _rule_check(column: Column) -> tuple[str, str] | None:
    """(condition for a rule violation, reason) from the contract's rule text."""
    # The rule's first clause is the check (">= 0; default for its products" checks >= 0).
    c, rule = column.name, column.rule.split(";")[0].strip()
    v = _num(c)
    present = f"not ({_blank(c)})"
    numeric = {
        "> 0": (f"{v} <= 0", f"{c} <= 0"),
        ">= 0": (f"{v} < 0", f"negative {c}"),
        ">= 1": (f"{v} < 1", f"{c} < 1"),
        "0..24": (f"({v} < 0 or {v} > 24)", f"{c} outside 0..24"),
        "in (0, 1)": (f"({v} <= 0 or {v} >= 1)", f"{c} outside (0, 1)"),
    }
    if column.type in ("number", "integer") and rule in numeric:
        cond, reason = numeric[rule]
        return f"{present} and {cond}", reason
    if column.name == "status" and "open" in rule:
        allowed = ", ".join(f"'{w.strip()}'" for w in rule.split("/"))
        return (
            f"{present} and lower(trim({quote_identifier(c)})) not in ({allowed})",
            f"unknown {c}",
        )
    return None


def _base_checks(spec: InputTable, has_locations: bool) -> list[tuple[str, str]]:
    """Row checks in priority order: first failing one is the row's reject reason."""
    checks: list[tuple[str, str]] = []
    for col in spec.columns:
        if col.required:
            checks.append((_blank(col.name), f"missing {col.name}"))
    if spec.one_of:
        cond = " and ".join(_blank(c) for c in spec.one_of)
        checks.append((cond, "missing " + " and ".join(spec.one_of)))
    for col in spec.columns:
        typed = _type_check(col)
        if typed:
            checks.append(typed)
    for col in spec.columns:
        ranged = _range_check(col)
        if ranged:
            checks.append(ranged)
    for col in spec.columns:
        ruled = _rule_check(col)
        if ruled:
            checks.append(ruled)
    if spec.name == "products":
        for c in ("lead_time_days", "lead_time_std_days"):
            checks.append((f"{_num(c)} > {MAX_LEAD_TIME_DAYS}",
                           f"{c} above {MAX_LEAD_TIME_DAYS} days"))
    if spec.name == "promotions":
        checks.append(
            (
                f"{business_date_sql('end_date')} < {business_date_sql('start_date')}",
                "end_date before start_date",
            )
        )
    if spec.name == "purchase_orders":
        checks.append(
            (
                f"{business_date_sql('received_date')} < {business_date_sql('order_date')}",
                "received_date before order_date",
            )
        )
    if spec.name == "suppliers":
        # purchase_orders.parse_weekdays reads these: names (mon..sun, or longer) and separators
        checks.append(
            (
                f"not ({_blank('order_weekdays')}) and not regexp_full_match("
                "lower(trim(order_weekdays)), "
                "'((mon|tue|wed|thu|fri|sat|sun)[a-z]*[,;/ ]*)+')",
                "unknown order_weekdays",
            )
        )
    if spec.name == "transfer_lanes" and has_locations:
        for c in ("from_location", "to_location"):
            checks.append(
                (
                    f"trim({c}) not in (select trim(location) from raw.locations "
                    "where _reject_reason is null)",
                    f"unknown {c}",
                )
            )
    if spec.name in SKU_CHECKED:
        checks.append(
            (
                "trim(sku) not in (select trim(sku) from raw.products "
                "where _reject_reason is null)",
                "unknown sku",
            )
        )
        if has_locations:
            checks.append(
                (
                    "trim(location) not in (select trim(location) from raw.locations "
                    "where _reject_reason is null)",
                    "unknown location",
                )
            )
    return checks


def _case(checks: list[tuple[str, str]]) -> str:
    if not checks:
        return "cast(null as varchar)"
    whens = " ".join(f"when {cond} then '{reason}'" for cond, reason in checks)
    return f"case {whens} end"


def _dedup_key(spec: InputTable, file_columns: list[str]) -> str:
    """One text expression identifying a duplicate: the contract key, else the whole row.

    Parts are joined with the unit separator (NULL as the record separator) into a single
    string, which partitions about 2.5x faster in DuckDB than a dozen partition columns.
    """

    def joined(parts: list[str]) -> str:
        return "concat_ws(chr(31), " + ", ".join(
            f"coalesce({p}, chr(30))" for p in parts) + ")"

    everything = joined([quote_identifier(c) for c in file_columns])
    if spec.name == "sales":
        # (order_id, line_id) when both are given, else exact duplicate rows.
        has_key = "not (" + _blank("order_id") + ") and not (" + _blank("line_id") + ")"
        key = joined([f"trim({quote_identifier(c)})" for c in ("order_id", "line_id")])
        return f"case when {has_key} then 'k' || {key} else 'r' || {everything} end"
    if spec.key:
        parts = []
        for k in spec.key:
            if spec.column(k).type in ("date", "timestamp"):
                parts.append(f"cast({business_date_sql(k)} as varchar)")
            else:
                parts.append(f"nullif(trim({quote_identifier(k)}), '')")
        return joined(parts)
    return everything


# --------------------------------------------------------------------------------------------
# the reader


def _empty_raw(con: duckdb.DuckDBPyConnection, spec: InputTable, columns: list[str]) -> None:
    cols = ", ".join(f"cast(null as varchar) as {quote_identifier(c)}" for c in columns)
    con.execute(
        f"create or replace table raw.{quote_identifier(spec.name)} as select {cols}, "
        "cast(null as varchar) as _source_file, cast(null as bigint) as _row_number, "
        "cast(null as varchar) as _reject_reason limit 0"
    )


def _stage_files(
    con: duckdb.DuckDBPyConnection, spec: InputTable, feed_dir: Path, info: TableIngest
) -> tuple[list[str], list[tuple[str, str, int, int, str]]]:
    """Read every file of a table into temp table ``_ingest_all``; return (columns, files)."""
    files = table_files(feed_dir, spec.name)
    file_rows: list[tuple[str, str, int, int, str]] = []
    per_file: list[tuple[str, list[str], list[str]]] = []  # (label, clean names, raw names)
    all_columns: list[str] = []
    for index, path in enumerate(files):
        label = path.relative_to(feed_dir).as_posix()
        info.files.append(label)
        size = path.stat().st_size
        if size == 0:
            file_rows.append((spec.name, label, 0, 0, _sha256(path)))
            per_file.append((label, [], []))
            info.warnings.append(f"file {label} is empty")
            continue
        target = f"_ingest_file_{index}"
        raw_names, warnings = _read_file(con, spec.name, path, label, target)
        info.warnings.extend(warnings)
        clean = [_clean_name(n) for n in raw_names]
        if len(set(clean)) != len(clean):
            raise FeedError(f"{spec.name}: file {label} has duplicate column names {raw_names}")
        for name in clean:
            if name not in all_columns:
                all_columns.append(name)
        rows = con.execute(f"select count(*) from {target}").fetchone()[0]
        file_rows.append((spec.name, label, int(rows), size, _sha256(path)))
        per_file.append((label, clean, raw_names))
    # A required column missing from any non-empty file is an error naming that file.
    for label, clean, _ in per_file:
        if not clean:
            continue
        for col in spec.required_columns:
            if col not in clean:
                raise FeedError(
                    f"{spec.name}: file {label} is missing required column {col!r} "
                    f"(columns: {', '.join(clean)})"
                )
        if spec.one_of and not any(c in clean for c in spec.one_of):
            raise FeedError(
                f"{spec.name}: file {label} needs at least one of the columns "
                f"{', '.join(spec.one_of)}"
            )
    file_columns = list(all_columns)
    columns = file_columns + [c for c in spec.column_names if c not in file_columns]
    extra = [c for c in file_columns if c not in spec.column_names]
    if extra:
        info.warnings.append(
            f"extra columns kept in raw, ignored downstream: {', '.join(extra)}"
        )
    selects = []
    for index, (_label, clean, raw_names) in enumerate(per_file):
        if not clean:
            continue
        by_clean = dict(zip(clean, raw_names, strict=True))
        exprs = [
            f"{_quote_any(by_clean[c])} as {quote_identifier(c)}"
            if c in by_clean
            else f"cast(null as varchar) as {quote_identifier(c)}"
            for c in columns
        ]
        selects.append(
            f"select {', '.join(exprs)}, cast(? as varchar) as _source_file, "
            f"cast({index} as integer) as _file_index, "
            f"cast(rowid + 1 as bigint) as _row_number from _ingest_file_{index}"
        )
    params = [label for label, clean, _ in per_file if clean]
    if selects:
        con.execute(
            "create or replace temp table _ingest_all as " + " union all ".join(selects),
            params,
        )
    else:
        cols = ", ".join(f"cast(null as varchar) as {quote_identifier(c)}" for c in columns)
        con.execute(
            f"create or replace temp table _ingest_all as select {cols}, "
            "cast(null as varchar) as _source_file, cast(null as integer) as _file_index, "
            "cast(null as bigint) as _row_number limit 0"
        )
    for index in range(len(per_file)):
        con.execute(f"drop table if exists _ingest_file_{index}")
    return columns, file_rows


def _finish_table(
    con: duckdb.DuckDBPyConnection,
    spec: InputTable,
    columns: list[str],
    has_locations: bool,
    as_of: date | None,
    bounds: FeedBounds,
    info: TableIngest,
) -> date | None:
    """Compute reject reasons and write ``raw.<table>``; return the latest valid date.

    The latest valid date is capped at ``bounds.latest_default()``: a sale dated in 2099
    cannot become the default as_of.
    """
    base = _case(_base_checks(spec, has_locations))
    date_expr = business_date_sql(spec.date_column) if spec.date_column else "cast(null as date)"
    con.execute(
        "create or replace temp table _ingest_checked as select *, "
        f"{base} as _base_reason, {date_expr} as _business_date from _ingest_all"
    )
    latest = con.execute(
        "select max(_business_date) from _ingest_checked where _base_reason is null "
        "and _business_date <= ?",
        [bounds.latest_default()],
    ).fetchone()[0]
    effective_as_of = as_of if as_of is not None else latest
    after = (
        "when _business_date > cast(? as date) then 'dated after as_of' "
        if spec.date_column and not spec.future_allowed and effective_as_of is not None
        else ""
    )
    params = [effective_as_of] if after else []
    if effective_as_of is not None:
        window = _window_checks(spec, effective_as_of, bounds)
        after += " ".join(f"when {cond} then '{reason}'" for cond, reason in window) + " "
        if spec.name == "promotions":
            _warn_clipped_promotions(con, effective_as_of, bounds, info)
    partition = f"(_pre_reason is null), {_dedup_key(spec, columns)}"
    # Only otherwise-valid rows compete for "first occurrence", so a corrected re-send of a
    # rejected row is accepted; rows dated after as_of are excluded from the race too.
    cols = ", ".join(quote_identifier(c) for c in columns)
    con.execute(
        f"create or replace table raw.{quote_identifier(spec.name)} as "
        "with reasons as ("
        "  select *, case when _base_reason is not null then _base_reason "
        f"  {after} end as _pre_reason from _ingest_checked"
        "), ranked as ("
        "  select *, "
        "  case when _pre_reason is null then row_number() over w end as _dup_rank, "
        "  first_value(_source_file || ':' || _row_number) over w as _first_seen "
        "  from reasons "
        f"  window w as (partition by {partition} order by _file_index, _row_number)"
        ") "
        f"select {cols}, _source_file, _row_number, "
        "coalesce(_pre_reason, case when _dup_rank > 1 then 'duplicate of ' || _first_seen end) "
        "as _reject_reason from ranked order by _file_index, _row_number",
        params,
    )
    con.execute("drop table if exists _ingest_checked")
    con.execute("drop table if exists _ingest_all")
    return latest


def _warn_clipped_promotions(
    con: duckdb.DuckDBPyConnection, as_of: date, bounds: FeedBounds, info: TableIngest
) -> None:
    """Warn about accepted promotions clipped to the window (dbt clips them)."""
    start, horizon_end, far_end = bounds.window(as_of)
    s, e = business_date_sql("start_date"), business_date_sql("end_date")
    early, late = con.execute(
        f"select count(*) filter (where {s} < ? and {e} >= ?), "
        f"count(*) filter (where {e} > ? and {s} <= ?) "
        "from _ingest_checked where _base_reason is null",
        [start, start, far_end, horizon_end],
    ).fetchone()
    if early:
        info.warnings.append(
            f"{early} promotion(s) start before {start.isoformat()} (as_of - "
            f"{bounds.history_days} days): clipped to start then"
        )
    if late:
        info.warnings.append(
            f"{late} promotion(s) end after {far_end.isoformat()}: clipped to the forecast "
            f"horizon {horizon_end.isoformat()}"
        )


def load_feed(
    feed_dir: Path,
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    bounds: FeedBounds | None = None,
) -> IngestResult:
    """Read the feed in ``feed_dir`` into ``raw.<table>`` of ``con``.

    Parameters
    ----------
    feed_dir : Path
        The feed directory (``<table>.csv`` / ``.parquet`` / ``<table>/`` part folders).
    con : duckdb.DuckDBPyConnection
        Connection to the work DB; ``raw.*`` and ``raw._ingest_files`` are replaced.
    as_of : date, optional
        The run date. Default: the latest valid sales date no later than tomorrow.
    bounds : FeedBounds, optional
        The plausible window of dates (default :class:`FeedBounds`): rows outside are
        quarantined with a reason naming the column and the bound.

    Returns
    -------
    IngestResult
        Rows read / accepted / rejected and warnings per table, and the as_of used.

    Raises
    ------
    FeedError
        Missing feed or required table, missing required column, required table without rows,
        unreadable file or wrong delimiter. One line naming the table, file (and line).
    """
    feed_dir = Path(feed_dir)
    bounds = bounds or FeedBounds()
    if not feed_dir.is_dir():
        raise FeedError(
            f"feed directory not found: {feed_dir}; pass the folder holding products.csv and "
            "sales.csv"
        )
    # The terminal progress bar would otherwise print into logs of a nightly run.
    con.execute("set enable_progress_bar = false")
    con.execute("create schema if not exists raw")
    tables: dict[str, TableIngest] = {}
    ingest_files: list[tuple[str, str, int, int, str]] = []
    has_locations = False
    used_as_of = as_of
    for name in TABLE_ORDER:
        spec = INPUT_TABLES[name]
        info = TableIngest(table=name)
        tables[name] = info
        if not table_files(feed_dir, name):
            if spec.required:
                columns = ", ".join(spec.required_columns)
                raise FeedError(
                    f"{name}: required table missing: no {name}.csv, {name}.parquet or folder "
                    f"{name}/ in {feed_dir}; add it (required columns: {columns})"
                )
            _empty_raw(con, spec, list(spec.column_names))
            continue
        info.present = True
        columns, file_rows = _stage_files(con, spec, feed_dir, info)
        ingest_files.extend(file_rows)
        rows_read = sum(r[2] for r in file_rows)
        if rows_read == 0:
            if spec.required:
                raise FeedError(
                    f"{name}: no rows: the required table's files "
                    f"({', '.join(info.files)}) are empty or header-only"
                )
            info.warnings.append("table has no rows")
        latest = _finish_table(con, spec, columns, has_locations, used_as_of, bounds, info)
        if name == "sales" and used_as_of is None:
            if latest is None:
                raise FeedError(
                    "sales: no valid rows dated up to today, so as_of cannot default to the "
                    "latest sale; fix the sales dates or pass --as-of"
                )
            used_as_of = latest
        if name == "locations":
            has_locations = rows_read > 0
        _count(con, name, info)
        info.rows_read = rows_read  # from the files; raw holds exactly these rows
        log.info(
            "ingested %s: %d rows read, %d accepted, %d rejected",
            name,
            info.rows_read,
            info.rows_accepted,
            info.rows_rejected,
        )
        for warning in info.warnings:
            log.warning("%s: %s", name, warning)
    con.execute(
        "create or replace table raw._ingest_files (\"table\" varchar, file varchar, "
        "rows bigint, bytes bigint, sha256 varchar)"
    )
    if ingest_files:
        con.executemany("insert into raw._ingest_files values (?, ?, ?, ?, ?)", ingest_files)
    assert used_as_of is not None  # sales is required and has valid rows by now
    grain, source = feed_grain(feed_dir, con)
    log.info("feed grain: %s (%s)", grain, source)
    return IngestResult(as_of=used_as_of, tables=tables, grain=grain, grain_source=source)


def feed_grain(feed_dir: Path, con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The feed's grain and where it came from; written to ``raw._feed`` (module docstring)."""
    try:
        grain = read_feed_grain(feed_dir)
    except GrainError as exc:
        raise FeedError(str(exc)) from exc
    source = "feed.yml"
    if grain is None:
        rows = con.execute(
            f"select sku || '|' || location, {business_date_sql('date')} from raw.sales "
            f"where _reject_reason is null and {_num('quantity')} > 0").fetchall()
        grain = detect_grain([r[0] for r in rows], [r[1] for r in rows])
        source = "detected"
    con.execute("create or replace table raw._feed (grain varchar, grain_source varchar)")
    con.execute("insert into raw._feed values (?, ?)", [grain, source])
    return grain, source


def _count(con: duckdb.DuckDBPyConnection, name: str, info: TableIngest) -> None:
    rows = con.execute(
        f"select _reject_reason, count(*) from raw.{quote_identifier(name)} group by all"
    ).fetchall()
    info.reject_reasons = {r: int(n) for r, n in rows if r is not None}
    info.rows_accepted = sum(int(n) for r, n in rows if r is None)
    info.rows_rejected = sum(info.reject_reasons.values())
