"""Feed files: find them, read one into DuckDB as text, and say why one cannot be read.

Everything here is about one file at a time (encoding, delimiter, CSV dialect, Parquet time
zones); what happens to the rows of a whole table is :mod:`restock.feed.tables`. The rules are
those of :mod:`restock.feed.reader`'s module docstring.
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import duckdb

from restock.feed.errors import FeedError


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


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks: ``raw._ingest_files`` records what was read."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def quote_file_column(name: str) -> str:
    """Quote a column name as read from a file (any characters) for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def clean_column_name(name: str) -> str:
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


def read_file_as_text(
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
                f"cast(timezone('UTC', {quote_file_column(c)}) as varchar) "
                f"as {quote_file_column(c)}"
                if t == "TIMESTAMP WITH TIME ZONE"
                else f"cast({quote_file_column(c)} as varchar) as {quote_file_column(c)}"
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

