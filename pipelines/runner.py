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

from restock.paths import RunPaths

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
    """What a run did: success, the failures that stopped it, and where its outputs are."""

    success: bool
    run_id: str
    seconds: float
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: seconds per Dagster step (asset or check), in the order the steps started
    step_seconds: dict[str, float] = field(default_factory=dict)


def _root_cause(error) -> str:
    # Dagster wraps the user's exception; the user's own message is the deepest cause.
    while error is not None and (error.cause is not None or error.context is not None):
        error = error.cause or error.context
    if error is None:
        return ""
    return f"{error.cls_name}: {error.message.strip().splitlines()[0] if error.message else ''}"


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
) -> RunOutcome:
    """Execute the Definitions' ``nightly_job`` for one feed and as_of, recorded on the Dagster
    instance of :func:`dagster_home`.

    The job is the one the UI, the schedule and the drop sensor launch: same steps, checks and
    retry policy. Only the resources are given here (the run's feed, warehouse, as_of, config).
    """
    import dagster as dg

    from assets.run_stats import step_seconds
    from pipelines.definitions import build_resources, defs
    from pipelines.jobs import NIGHTLY_JOB_NAME

    feed = Path(feed).expanduser().resolve()
    if not feed.is_dir():
        raise FileNotFoundError(f"feed directory not found: {feed}")
    paths = RunPaths.from_warehouse(warehouse).ensure()
    resources = build_resources(
        feed=str(feed), warehouse=str(paths.warehouse), as_of=as_of or "",
        config_path=str(Path(config_path).resolve()) if config_path else "",
    )
    started = time.perf_counter()
    with warehouse_lock(paths), dg.DagsterInstance.from_config(
        str(dagster_home(paths))
    ) as instance:
        result = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(
            instance=instance,
            resources=resources,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            tags={"restock/feed": str(feed), "restock/as_of": as_of or "latest",
                  "restock/launched_by": "restock run"},
        )
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
                lines.append(f"  {r[0]:<14} {r[1]:<12} {r[2]:<18} RMSSE {r[3]:.3f}  "
                             f"value added {100 * (r[4] or 0):+.1f}%")
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
                lines.append(f"  [{a[2]}] {a[0]} @ {a[1]}: out by {a[3]}, p={a[4]:.2f}, "
                             f"order {a[5]:g}")
        if "policy_replay" in tables:
            lines.append("Policy replay (ALL categories):")
            for r in con.execute(
                "select policy, parameter, avg_inventory_units, stockout_rate, fill_rate "
                "from marts.policy_replay where category = 'ALL' order by policy, parameter"
            ).fetchall():
                lines.append(f"  {r[0]:<12} {r[1]:>6g}  avg inventory {r[2]:>10,.0f}  "
                             f"stockout rate {100 * r[3]:5.2f}%  fill rate {100 * r[4]:5.1f}%")
        if "policy_replay_comparison" in tables:
            from restock.inventory.replay import headline_text

            quoted = con.execute(
                "select * from marts.policy_replay_comparison where is_headline").df()
            if len(quoted):
                lines.append(headline_text(quoted.iloc[0].to_dict()))
    return "\n".join(lines)
