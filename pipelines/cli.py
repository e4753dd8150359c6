"""`restock`: write the demo feed, import public data sets, validate a feed, run the nightly job
and the weekly policy replay.

The console script lives in the orchestration layer because `restock run` executes the Dagster
job (pipelines/runner.py); `demo`, `import` and `validate` only call the plain library.

Exit codes of `restock run` and `restock replay` (and `validate`), which tell the truth about
what was published:

- 0: the run published (``validate``: no problem found);
- 1: the run failed and nothing new was published: the published file and Parquet folder are
  the previous run's (``validate``: at least one problem, each printed on one line);
- 2: refused before any work (bad arguments, a preflight problem, another run holds the
  warehouse): nothing was touched;
- 3: the run published, then a later step (e.g. the report) failed; the message names it.

A :class:`restock.errors.UserError` is printed as one line on stderr naming the file, row,
column or key and what to do, without a traceback; ``-v``/``--verbose`` anywhere on the line
(before or after the subcommand) turns on debug logging and shows the stack.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

from restock.errors import UserError

EXIT_PUBLISHED = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_PUBLISHED_THEN_FAILED = 3
VERBOSE_FLAGS = ("-v", "--verbose")

IMPORTERS = {
    "m5": ("restock.importers.m5", "import_m5"),
    "freshretailnet": ("restock.importers.freshretailnet", "import_freshretailnet"),
    "online-retail": ("restock.importers.online_retail", "import_online_retail"),
    "spare-parts": ("restock.importers.spare_parts", "import_spare_parts"),
}


SPARE_PARTS_OPTIONS = {
    "--sheet": "sheet name (default: the one sheet that fits)",
    "--layout": "wide (one column per period) or long (one row per part and period)",
    "--grain": "week, month or day (default: from the headers or dates)",
    "--end": "date of the latest period, for relative columns (latest, last -1, ...)",
    "--sku-column": "header of the SKU column",
    "--date-column": "long tables: header of the date column",
    "--quantity-column": "long tables: header of the quantity column",
    "--location-column": "header of the location column",
    "--lead-time-column": "header of the lead time column",
    "--lead-time-unit": "days, weeks or months (default: the unit in the lead time header)",
    "--lead-time-days": "lead time of every part when the file has no lead time column",
    "--cost-column": "header of the unit cost column",
    "--price-column": "header of the unit price column",
    "--moq-column": "header of the minimum order quantity column",
    "--category-column": "header of the category column",
    "--location": "location code (default: the workbook's file name)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restock",
        description="Nightly demand forecasting and replenishment: fewer stockouts at the same "
        "inventory.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the built-in synthetic demo feed")
    demo.add_argument("--out", required=True, type=Path, help="feed directory to write")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--skus", type=int, default=None, help="number of SKUs (default 320)")
    demo.add_argument("--truth", type=Path, default=None,
                      help="where the true demand goes (default: beside the feed)")

    run = sub.add_parser("run", help="run the whole nightly job in-process")
    run.add_argument("--feed", required=True, type=Path, help="feed directory")
    run.add_argument("--warehouse", required=True, type=Path,
                     help="published DuckDB file (BI tools read schema marts)")
    run.add_argument("--as-of", default=None,
                     help="plan as of this date (YYYY-MM-DD); default the latest sales date")
    run.add_argument("--config", type=Path, default=None, help="YAML run configuration")
    run.add_argument("--allow-stale", action="store_true",
                     help="accept an --as-of past the feed's last sale + quality.freshness_days "
                     "(a backfill or what-if run): preflight and the freshness check warn "
                     "instead of refusing")

    replay = sub.add_parser(
        "replay", help="run the policy replay (the weekly job) on the last published nightly")
    replay.add_argument("--warehouse", required=True, type=Path,
                        help="the warehouse a nightly (`restock run`) published")
    replay.add_argument("--config", type=Path, default=None, help="YAML run configuration")

    validate = sub.add_parser(
        "validate", help="check config, feed, as_of and warehouse without running (like dbt "
        "debug); prints each problem on one line, exits 1 if there is one")
    validate.add_argument("--feed", required=True, type=Path, help="feed directory")
    validate.add_argument("--config", type=Path, default=None, help="YAML run configuration")
    validate.add_argument("--as-of", default=None, help="planning date to check (YYYY-MM-DD)")
    validate.add_argument("--warehouse", type=Path, default=None,
                          help="published DuckDB file to check (path, writable, work DB)")
    validate.add_argument("--allow-stale", action="store_true",
                          help="an as_of past the feed is a warning, not a problem")

    imp = sub.add_parser("import", help="convert a public data set into a feed")
    imp.add_argument("dataset", choices=sorted(IMPORTERS))
    imp.add_argument("src", type=Path, help="the data set's folder (as in ../shared/data)")
    imp.add_argument("--out", required=True, type=Path, help="feed directory to write")
    imp.add_argument("--max-series", type=int, default=None,
                     help="freshretailnet only: sample this many series")
    parts = imp.add_argument_group(
        "spare-parts options", "SRC is a .xlsx/.xls workbook or a folder holding one; the sheet, "
        "header, layout (wide or long) and grain are found unless given")
    for flag, help_text in SPARE_PARTS_OPTIONS.items():
        parts.add_argument(flag, default=None, help=help_text,
                           type=float if flag == "--lead-time-days" else str)
    return parser


def _demo(args) -> int:
    from restock.feed.demo import generate_demo_feed

    kwargs = {"seed": args.seed, "truth_path": args.truth}
    if args.skus:
        kwargs["n_skus"] = args.skus
    started = time.perf_counter()
    summary = generate_demo_feed(args.out, **kwargs)
    print(f"demo feed written to {args.out} in {time.perf_counter() - started:.1f}s")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _import(args) -> int:
    import importlib

    module_name, func_name = IMPORTERS[args.dataset]
    func = getattr(importlib.import_module(module_name), func_name)
    kwargs = {}
    if args.max_series is not None:
        if args.dataset != "freshretailnet":
            raise SystemExit("--max-series applies to freshretailnet only")
        kwargs["max_series"] = args.max_series
    for flag in SPARE_PARTS_OPTIONS:
        name = flag[2:].replace("-", "_")
        if getattr(args, name) is not None:
            if args.dataset != "spare-parts":
                raise SystemExit(f"{flag} applies to spare-parts only")
            kwargs[name] = getattr(args, name)
    if not args.src.exists():
        raise SystemExit(f"source not found: {args.src}")
    from restock.importers.common import SourceFormatError

    started = time.perf_counter()
    try:
        summary = func(args.src, args.out, **kwargs)
    except SourceFormatError as exc:
        print(f"restock import {args.dataset}: {exc}", file=sys.stderr)
        return 2
    print(f"{args.dataset} imported to {args.out} in {time.perf_counter() - started:.1f}s")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _as_of(value: str | None):
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


def _validate(args) -> int:
    from restock.preflight import preflight

    report = preflight(args.feed, args.warehouse, _as_of(args.as_of), args.config,
                       allow_stale=args.allow_stale)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        print(f"restock validate: {len(report.problems)} problem(s) in {args.feed}",
              file=sys.stderr)
        return EXIT_FAILED
    span = (f"sales {report.first_sale} .. {report.last_sale}, as_of {report.as_of}"
            if report.last_sale else "no sales dates")
    print(f"restock validate: {args.feed} OK ({span})")
    return EXIT_PUBLISHED


def _run(args) -> int:
    from pipelines.runner import RunLockedError, run_nightly
    from restock.paths import RunPaths

    _as_of(args.as_of)
    try:
        outcome = run_nightly(args.feed, args.warehouse, args.as_of, args.config,
                              allow_stale=args.allow_stale)
    except (FileNotFoundError, RunLockedError, UserError) as exc:
        _print_user_error("run", exc, args.verbose)
        return EXIT_REFUSED
    return _outcome("run", outcome, RunPaths.from_warehouse(args.warehouse))


def _replay(args) -> int:
    from pipelines.runner import RunLockedError, run_replay
    from restock.paths import RunPaths

    try:
        outcome = run_replay(args.warehouse, args.config)
    except (RunLockedError, UserError) as exc:
        _print_user_error("replay", exc, args.verbose)
        return EXIT_REFUSED
    return _outcome("replay", outcome, RunPaths.from_warehouse(args.warehouse))


def _outcome(command: str, outcome, paths) -> int:
    """Print what the run did and published; its exit code."""
    from pipelines.runner import published_summary, step_summary

    print()
    if not outcome.published:
        print(f"restock {command} FAILED after {outcome.seconds:.0f}s (run {outcome.run_id}); "
              f"nothing new was published, {paths.warehouse} is unchanged.", file=sys.stderr)
        for failure in outcome.failures:
            print(f"  - {failure}", file=sys.stderr)
        print(step_summary(outcome.step_seconds), file=sys.stderr)
        return EXIT_FAILED
    code = EXIT_PUBLISHED
    if outcome.success:
        print(f"restock {command} finished in {outcome.seconds:.0f}s (run {outcome.run_id})")
    else:
        # The swap happened: say so, and name what failed after it.
        print(f"restock {command} PUBLISHED run {outcome.run_id} to {paths.warehouse}, then FAILED "
              f"after {outcome.seconds:.0f}s in a later step (the new tables are in place):",
              file=sys.stderr)
        for failure in outcome.failures:
            print(f"  - {failure}", file=sys.stderr)
        code = EXIT_PUBLISHED_THEN_FAILED
    for warning in outcome.warnings:
        print(f"  warning: {warning}")
    print(step_summary(outcome.step_seconds))
    try:
        print(published_summary(paths.warehouse))
    except Exception as exc:  # noqa: BLE001 - the run is published; the summary is a courtesy
        print(f"(summary of {paths.warehouse} not shown: {type(exc).__name__}: {exc})")
    report = paths.run_report_dir(_published_as_of(paths.warehouse), outcome.run_id)
    print(f"Report: {report / 'index.html'}  (newest run: {paths.latest_report})")
    print(f"Warehouse (BI): {paths.warehouse}  Parquet: {paths.parquet_dir}")
    return code


def _published_as_of(warehouse: Path) -> str:
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return str(con.execute("select max(as_of) from marts.demand_forecasts").fetchone()[0])
    except duckdb.Error:
        return "unknown"


def _print_user_error(command: str, exc: BaseException, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message = exc.message if isinstance(exc, UserError) else str(exc)
    print(f"restock {command}: {message}", file=sys.stderr)


def _split_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``-v``/``--verbose`` (accepted anywhere before ``--``), and whether one
    was given."""
    out, verbose, passthrough = [], False, False
    for arg in argv:
        if arg == "--":
            passthrough = True
        if not passthrough and arg in VERBOSE_FLAGS:
            verbose = True
            continue
        out.append(arg)
    return out, verbose


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `restock` console script."""
    argv, verbose = _split_verbose(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    args.verbose = args.verbose or verbose
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("great_expectations", "urllib3", "numba", "matplotlib", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Dagster prints its own event lines; do not print them a second time through the root.
    logging.getLogger("dagster").propagate = False
    handlers = {"demo": _demo, "import": _import, "run": _run, "replay": _replay,
                "validate": _validate}
    try:
        return handlers[args.command](args)
    except UserError as exc:
        # One line naming the file/row/column/key and what to do; -v shows the stack.
        _print_user_error(args.command, exc, args.verbose)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
