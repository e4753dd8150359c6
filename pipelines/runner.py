"""`restock run`: execute the Definitions' own `nightly_job` in-process on the persistent
Dagster instance, so every CLI run, its materializations, check results, metadata and step
timings show in `make dev` (the UI reads the same DAGSTER_HOME)."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from restock.derived import check_work_db, set_aside_work_db
from restock.paths import RunPaths
from restock.secrets import scrub

log = logging.getLogger("restock.run")

#: the instance settings `make` copies into DAGSTER_HOME (one run and one writer at a time)
INSTANCE_YAML = Path(__file__).resolve().parent / "instance" / "dagster.yaml"


class RunLockedError(RuntimeError):
    """Another run holds this warehouse: one writer at a time."""


@contextmanager
def warehouse_lock(paths: RunPaths):
    """Hold an exclusive lock on the warehouse for the whole run.

    A second overlapping run on the same warehouse fails at once with a clear message instead of
    fighting over the DuckDB files.
    """
    lock_path = paths.root / f".{paths.warehouse.name}.lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunLockedError(
                f"another Restock run is writing {paths.warehouse} (lock {lock_path}); "
                "wait for it to finish"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@dataclass
class RunOutcome:
    """What a run did: success, the failures that stopped it, and where its outputs are.

    ``published`` says whether this run's tables were swapped in, whatever failed: a step after
    the swap (the report) may fail with ``published`` True, and the CLI then says so (exit 3)
    instead of claiming nothing new was published.
    """

    success: bool
    run_id: str
    seconds: float
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: seconds per Dagster step (asset or check), in the order the steps started
    step_seconds: dict[str, float] = field(default_factory=dict)
    published: bool = False


def _root_cause(error) -> str:
    # Dagster wraps the user's exception; the user's own message is the deepest cause.
    while error is not None and (error.cause is not None or error.context is not None):
        error = error.cause or error.context
    if error is None:
        return ""
    first = error.message.strip().splitlines()[0] if error.message else ""
    # The message reaches the terminal: mask any URL secret a driver echoed (issue 17).
    return f"{error.cls_name}: {scrub(first)}"


def _failures(result) -> tuple[list[str], list[str]]:
    failures, warnings = [], []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            message = _root_cause(data.error) if data else ""
            failures.append(f"step {event.step_key} failed: {message}")
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        key = evaluation.asset_check_key
        meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
        rows = meta.get("failed_rows", meta.get("failed", "?"))
        detail = meta.get("detail", "")
        text = (f"check {key.name} on {key.asset_key.to_user_string()} failed "
                f"({rows} rows){': ' + str(detail) if detail else ''}")
        if evaluation.severity.value == "ERROR":
            failures.append(text)
        else:
            warnings.append(text)
    return failures, warnings


def dagster_home(paths: RunPaths) -> Path:
    """Where the run is recorded: DAGSTER_HOME (the Makefile sets it to var/dagster_home, which
    `make dev` reads), else ``dagster_home`` beside the warehouse. A home without a
    dagster.yaml gets Restock's (one run and one writer at a time, no telemetry)."""
    configured = os.environ.get("DAGSTER_HOME")
    home = (Path(configured).expanduser().resolve() if configured
            else paths.root / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    if not configured:
        log.info("DAGSTER_HOME is not set: recording this run in %s (to see it in the Dagster "
                 "UI, start `dagster dev` with DAGSTER_HOME=%s)", home, home)
    return home


def run_nightly(
    feed: Path,
    warehouse: Path,
    as_of: str | None = None,
    config_path: Path | None = None,
    allow_stale: bool = False,
) -> RunOutcome:
    """Execute the Definitions' ``nightly_job`` for one feed and as_of, recorded on the Dagster
    instance of :func:`dagster_home`.

    The job is the one the UI, the schedule and the drop sensor launch: same steps, checks and
    retry policy. Only the resources are given here (the run's feed, warehouse, as_of, config).

    Before any work, under the warehouse lock: a damaged work DB is set aside (it is derived
    from the feed; the run rebuilds it), then :func:`restock.preflight.preflight` checks config,
    feed, as_of and warehouse and raises :class:`restock.errors.PreflightError` (one line) on
    the first problem. ``allow_stale`` accepts an as_of past the feed (preflight warns, the
    freshness check warns instead of blocking publication).
    """
    from pipelines.jobs import NIGHTLY_JOB_NAME

    feed = Path(feed).expanduser().resolve()
    if not feed.is_dir():
        raise FileNotFoundError(f"feed directory not found: {feed}")
    paths = RunPaths.from_warehouse(warehouse).ensure()
    return _run_job(NIGHTLY_JOB_NAME, paths, feed, as_of, config_path, allow_stale,
                    lambda: _preflight(feed, paths, as_of, config_path, allow_stale))


def run_replay(warehouse: Path, config_path: Path | None = None) -> RunOutcome:
    """Execute the Definitions' ``replay_job`` (the weekly schedule's) on the last published
    nightly of ``warehouse``: the policy replay, that nightly's tables published again with it,
    and a report; recorded on the same instance as :func:`run_nightly`.

    Refused before any work (:class:`restock.errors.PreflightError`, one line) when no nightly
    was published on this warehouse. The feed and as_of are the nightly's own.
    """
    from assets.replenish import published_nightly_problem
    from restock.errors import PreflightError

    paths = RunPaths.from_warehouse(warehouse)
    if not paths.work_db.exists():
        raise PreflightError(f"no nightly has run on {paths.warehouse} yet (no work DB "
                             f"{paths.work_db}): run `restock run` first")
    from pipelines.jobs import REPLAY_JOB_NAME

    def preflight() -> tuple[Path, str]:
        with duckdb.connect(str(paths.work_db), read_only=True) as con:
            problem = published_nightly_problem(con)
            if problem:
                raise PreflightError(problem)
            feed, as_of = con.execute("select feed, as_of from raw._run").fetchone()
        return Path(feed), str(as_of)

    with warehouse_lock(paths):
        feed, as_of = preflight()
    return _run_job(REPLAY_JOB_NAME, paths, feed, as_of, config_path, False, preflight)


def _run_job(job_name: str, paths: RunPaths, feed: Path, as_of: str | None,
             config_path: Path | None, allow_stale: bool, preflight) -> RunOutcome:
    """Run ``job_name`` in process under the warehouse lock, after ``preflight`` (which raises
    to refuse the run), and say what it did and published."""
    import dagster as dg

    from assets.run_stats import step_seconds
    from pipelines.definitions import build_resources, defs

    resources = build_resources(
        feed=str(feed), warehouse=str(paths.warehouse), as_of=as_of or "",
        config_path=str(Path(config_path).resolve()) if config_path else "",
        allow_stale=allow_stale,
    )
    started = time.perf_counter()
    with warehouse_lock(paths):
        preflight()
        with dg.DagsterInstance.from_config(str(dagster_home(paths))) as instance:
            result = _execute(defs.resolve_job_def(job_name), instance, resources, feed, as_of)
            seconds_per_step = step_seconds(instance, result.run_id)
    failures, warnings = _failures(result)
    published = bool(result.asset_materializations_for_node("published_tables"))
    if not published and not failures:
        failures.append(
            "published_tables did not run: an upstream step or blocking check stopped it"
        )
    return RunOutcome(
        success=result.success and published and not failures,
        run_id=result.run_id,
        seconds=time.perf_counter() - started,
        failures=failures,
        warnings=warnings,
        step_seconds=seconds_per_step,
        published=published,
    )


def _preflight(feed: Path, paths: RunPaths, as_of: str | None, config_path: Path | None,
               allow_stale: bool) -> None:
    """Refuse the run before any work (one-line PreflightError); rebuild a damaged work DB."""
    from datetime import date

    from restock.preflight import preflight

    problem = check_work_db(paths.work_db)
    if problem and "is damaged" in problem:
        # Derived from the feed: set it aside (kept as *.corrupt) and let this run rebuild it.
        set_aside_work_db(paths.work_db)
    report = preflight(feed, paths.warehouse, date.fromisoformat(as_of) if as_of else None,
                       Path(config_path) if config_path else None, allow_stale=allow_stale)
    for warning in report.warnings:
        log.warning("preflight: %s", warning)
    report.raise_if_failed()


def _execute(job, instance, resources, feed: Path, as_of: str | None):
    return job.execute_in_process(
        instance=instance,
        resources=resources,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={"restock/feed": str(feed), "restock/as_of": as_of or "latest",
              "restock/launched_by": f"restock {'replay' if 'replay' in job.name else 'run'}"},
    )


def step_summary(seconds: dict[str, float]) -> str:
    """Seconds per step of the run, for the terminal (the same figures as the Dagster UI)."""
    if not seconds:
        return "No step durations were recorded."
    width = max(len(step) for step in seconds)
    lines = ["Time per step (asset or check):"]
    lines += [f"  {step:<{width}} {value:>8.1f} s" for step, value in seconds.items()]
    return "\n".join(lines)


def published_summary(warehouse: Path, top_alerts: int = 10) -> str:
    """A short text summary of what the published file holds, for the terminal."""
    lines = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name").fetchall()]
        lines.append("Published tables (schema marts):")
        for name in tables:
            n = con.execute(f'select count(*) from marts."{name}"').fetchone()[0]
            lines.append(f"  {name:<26} {n:>10,} rows")
        if "model_selection" in tables:
            lines.append("Model chosen per category x demand class (backtest RMSSE, value added "
                         "over seasonal naive):")
            for r in con.execute(
                "select category, demand_class, selected_model, score, value_added "
                "from marts.model_selection order by category, demand_class"
            ).fetchall():
                # a unit too short to backtest has no score (UCI Online Retail): "n/a"
                lines.append(f"  {_fmt(r[0], '<14')} {_fmt(r[1], '<12')} {_fmt(r[2], '<18')} "
                             f"RMSSE {_fmt(r[3], '.3f')}  "
                             f"value added {_fmt(_pct(r[4]), '+.1f')}%")
        if "stockout_alerts" in tables:
            alerts = con.execute(
                "select sku, location, severity, projected_stockout_date, stockout_probability, "
                "recommended_order_qty from marts.stockout_alerts order by "
                "case severity when 'critical' then 0 when 'high' then 1 else 2 end, "
                "stockout_probability desc limit ?", [top_alerts]
            ).fetchall()
            lines.append(f"Top stockout alerts ({len(alerts)} shown):" if alerts
                         else "No stockout alerts.")
            for a in alerts:
                lines.append(f"  [{a[2]}] {a[0]} @ {a[1]}: out by {_fmt(a[3])}, "
                             f"p={_fmt(a[4], '.2f')}, order {_fmt(a[5], 'g')}")
        if "policy_replay" in tables:
            columns = {r[0] for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'policy_replay'").fetchall()}
            dated = (con.execute("select max(replayed_at), max(replay_as_of) "
                                 "from marts.policy_replay").fetchone()
                     if {"replayed_at", "replay_as_of"} <= columns else (None, None))
            rows = con.execute("select count(*) from marts.policy_replay").fetchone()[0]
            lines.append(
                f"Policy replay (ALL categories) run {_fmt(dated[0])} on the history to "
                f"{_fmt(dated[1])}:" if dated[0] is not None else
                "Policy replay (ALL categories):" if rows else
                "No policy replay yet: it runs weekly (schedule restock_replay_weekly) or now "
                "with `restock replay`.")
            for r in con.execute(
                "select policy, parameter, avg_inventory_units, stockout_rate, fill_rate "
                "from marts.policy_replay where category = 'ALL' order by policy, parameter"
            ).fetchall():
                lines.append(f"  {_fmt(r[0], '<12')} {_fmt(r[1], '>6g')}  "
                             f"avg inventory {_fmt(r[2], '>10,.0f')}  "
                             f"stockout rate {_fmt(_pct(r[3]), '5.2f')}%  "
                             f"fill rate {_fmt(_pct(r[4]), '5.1f')}%")
        if "policy_replay_comparison" in tables:
            from restock.inventory.replay import headline_text

            quoted = con.execute(
                "select * from marts.policy_replay_comparison where is_headline").df()
            if len(quoted):
                try:
                    lines.append(headline_text(quoted.iloc[0].to_dict()))
                except (TypeError, ValueError, KeyError) as exc:  # a missing value: no crash
                    lines.append(f"Policy replay headline not shown ({type(exc).__name__})")
    return "\n".join(lines)


def _pct(value):
    """``100 * value``, or None when the value is missing."""
    return None if _missing(value) else 100 * value


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _fmt(value, spec: str = "") -> str:
    """``value`` formatted with ``spec``; a missing value (None, NaN) or one the spec does not
    fit prints "n/a" padded to the spec's width: the summary never crashes after a publish."""
    if not _missing(value):
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            pass
    width = "".join(ch for ch in spec.split(".")[0].split(",")[0] if ch.isdigit())
    align = "<" if spec.startswith("<") else ">"
    return format("n/a", f"{align}{width}") if width else "n/a"
