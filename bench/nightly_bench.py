"""Scale: an M5-size nightly run on one machine (feed build, `restock run`, bare statsforecast).

Run (from the repository root)::

    .venv/bin/python bench/nightly_bench.py --series 3000
    .venv/bin/python bench/nightly_bench.py --series 3000 10000 30490 --out var/bench --keep
    .venv/bin/python bench/nightly_bench.py --series 30490 --skip-run        # feed build only

For each size it

1. builds an M5-size feed: the M5 CA_1 items (../shared/data/m5_ca1, converted by
   restock.importers.m5.import_m5) replicated over ceil(series / 3,049) locations, each
   location with its own seeded noise: a location scale drawn from U(0.6, 1.4) and every
   day's quantity resampled as Poisson(scale x quantity) (a day without sales stays without
   sales; a sold day may drop to zero). Locations carry the same assortment: the first
   ``series`` item x location pairs of a seeded item order, spread evenly over the locations
   (30,490 = all 3,049 items x 10 locations). History: 2011-01-29 .. as_of (5+ years, daily);
   sales dated after as_of are left out (a nightly run at as_of has not seen them yet), events
   and drivers run to the end of the calendar (known in advance). Sales go to Parquet part
   files ``sales/part-NNN.parquet`` (one per location) written by DuckDB;
2. runs ``restock run --feed FEED --warehouse W --as-of AS_OF [--config CFG]`` in a subprocess,
   sampling the resident memory of its whole process tree (psutil) every 0.5 s, and reads the
   per-stage wall time from the Dagster log lines (``Finished execution of step "X" in Ns``,
   or STEP_START / STEP_SUCCESS timestamps when the log has those);
3. times bare statsforecast on the same series (the last 730 days up to as_of, zero-filled from
   each series' first sale): ``StatsForecast(models=[SeasonalNaive(7),
   AutoETS(season_length=7), CrostonSBA()], freq="D", n_jobs=2).forecast(df=..., h=28)``.

It prints total wall time, per-stage times, peak memory (PSS and summed RSS of the process
tree), forecasting milliseconds per series and a final table with one row per size;
``--json FILE`` also writes the figures. Files go to ``--out`` (default: a temporary folder) and
are deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
M5_SRC = ROOT.parent / "shared" / "data" / "m5_ca1"
M5_ITEMS = 3049
DEFAULT_AS_OF = "2016-04-24"
HISTORY_DAYS = 730  # of the bare statsforecast comparison
HORIZON = 28

log = logging.getLogger("bench.nightly")


# ---------------------------------------------------------------------------------------------
# 1. the feed
# ---------------------------------------------------------------------------------------------

def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def build_feed(series: int, out: Path, base: Path, as_of: str, seed: int = 0) -> dict:
    """Write an M5-size feed of ``series`` item x location series into ``out``.

    ``base`` is a CA_1 feed written by restock.importers.m5.import_m5 (reused between sizes).
    Returns a summary: locations, items, series, sales rows, part files, seconds.
    """
    started = time.perf_counter()
    if series < 1:
        raise ValueError("--series must be >= 1")
    n_locations = math.ceil(series / M5_ITEMS)
    per_location = [series // n_locations + (1 if i < series % n_locations else 0)
                    for i in range(n_locations)]
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    (out / "sales").mkdir(parents=True)

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    products = pd.read_csv(base / "products.csv", dtype=str, keep_default_na=False)
    items = products["sku"].to_numpy()
    order = items[rng.permutation(len(items))]  # seeded item order; location j takes a prefix
    used = set(order[: max(per_location)])
    products = products[products["sku"].isin(used)].sort_values("sku")
    products.to_csv(out / "products.csv", index=False)

    base_location = pd.read_csv(base / "locations.csv", dtype=str, keep_default_na=False)
    locations = pd.DataFrame({
        "location": [f"L{j + 1:03d}" for j in range(n_locations)],
        "name": [f"Store {j + 1} (M5 CA_1 replica)" for j in range(n_locations)],
        "region": base_location["region"].iloc[0],
        "type": "store",
        "timezone": base_location["timezone"].iloc[0],
    })
    locations.to_csv(out / "locations.csv", index=False)
    shutil.copy(base / "events.csv", out / "events.csv")
    drivers = pd.read_csv(base / "drivers.csv", dtype=str, keep_default_na=False)
    drivers = drivers.drop(columns="location").merge(locations[["location"]], how="cross")
    drivers[["date", "location", "driver", "value"]].to_csv(out / "drivers.csv", index=False)

    # sales: the base rows up to as_of as numpy columns, one resampled copy per location
    sales = con.execute(
        f"select date, sku, quantity, unit_price from read_parquet('{_sql_path(base)}/sales*') "
        "where date <= cast(? as date) and quantity is not null",
        [as_of],
    ).df()
    sku_rank = {sku: i for i, sku in enumerate(order)}
    rank = sales["sku"].map(sku_rank).to_numpy()
    quantity = sales["quantity"].to_numpy(dtype=np.int64)
    scales = rng.uniform(0.6, 1.4, n_locations)
    rows = 0
    for j, (location, scale, n_items) in enumerate(zip(locations["location"], scales,
                                                       per_location, strict=True)):
        keep = rank < n_items
        q = rng.poisson(scale * quantity[keep].clip(min=0))
        sold = q > 0
        part = pd.DataFrame({
            "date": sales["date"].to_numpy()[keep][sold],
            "sku": sales["sku"].to_numpy()[keep][sold],
            "location": location,
            "quantity": q[sold].astype(np.int32),
            "channel": "store",
            "unit_price": sales["unit_price"].to_numpy()[keep][sold],
        })
        con.register("part", part)
        con.execute(
            "copy (select * from part order by date, sku) to "
            f"'{_sql_path(out / 'sales' / f'part-{j + 1:03d}.parquet')}' "
            "(format parquet, compression zstd)"
        )
        con.unregister("part")
        rows += len(part)
    con.close()
    return {
        "locations": n_locations,
        "items": len(products),
        "series": series,
        "sales_rows": rows,
        "part_files": n_locations,
        "scales": [round(float(s), 3) for s in scales],
        "seconds": round(time.perf_counter() - started, 1),
    }


def base_m5_feed(workdir: Path) -> Path:
    """The CA_1 feed of restock.importers.m5 (written once per bench invocation)."""
    from restock.importers.m5 import import_m5

    if not M5_SRC.exists():
        sys.exit(f"data not found: {M5_SRC} (the shared M5 CA_1 files are needed)")
    base = workdir / "m5_ca1_feed"
    if not (base / "products.csv").exists():
        summary = import_m5(M5_SRC, base)
        print(f"M5 CA_1 base feed: {summary['tables']} in {summary['seconds']} s")
    return base


# ---------------------------------------------------------------------------------------------
# 2. the nightly run
# ---------------------------------------------------------------------------------------------

class PeakRss:
    """Samples the memory of a process and all its descendants every ``interval`` s.

    Two sums: RSS counts pages shared between processes (a forked worker pool shares the
    parent's pages) once per process, so it overstates the machine's use; PSS (proportional
    set size, from /proc/<pid>/smaps_rollup) splits each shared page between its sharers and
    sums to what the tree really holds in RAM. ``peak`` is the PSS peak (RSS where PSS cannot be
    read), ``peak_rss`` the RSS one, ``peak_process_rss`` the largest RSS of any one process.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        import psutil

        self._psutil = psutil
        self._root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.peak_at: datetime | None = None
        self.peak_rss = 0
        self.peak_process_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        psutil = self._psutil
        while not self._stop.is_set():
            total = rss_total = 0
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                except psutil.AccessDenied:
                    info = proc.memory_info()
                except psutil.Error:
                    continue
                rss_total += info.rss
                self.peak_process_rss = max(self.peak_process_rss, info.rss)
                total += getattr(info, "pss", info.rss)
            if total:
                if total > self.peak:
                    self.peak, self.peak_at = total, datetime.now(UTC)
                self.peak_rss = max(self.peak_rss, rss_total)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


_FINISHED = re.compile(
    r'Finished execution of step "(?P<step>[^"]+)" in (?P<t>[0-9.]+)\s*(?P<u>ms|s|m)\b')
# Dagster's console logger: "2026-11-25 02:22:50 +0000 - dagster - INFO - <job> - <run id> -
# [<pid> - ]<step key> - [<EVENT> - ]<message>"
_DAGSTER_LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d)(?:[.,]\d+)? (?P<tz>[+-]\d{4}) - "
    r"dagster - [A-Z]+ - \S+ - [0-9a-f-]{36} - (?:\d+ - )?(?P<step>[A-Za-z0-9_.\[\]/-]+) - "
    r"(?:(?P<event>[A-Z_]+) - )?")
# the CLI's python logging: "02:23:17 INFO restock.forecasting: message"
_PYTHON_LINE = re.compile(
    r"^(?P<time>\d\d:\d\d:\d\d) [A-Z]+ (?P<logger>[A-Za-z0-9_.]+): (?P<msg>.*)")
_FORECAST_DONE = re.compile(r"run_forecasting done in (?P<s>[0-9.]+) s")
# the replay planner's backtest at the replay start (select_and_calibrate, no final forecasts)
_SELECTION_DONE = re.compile(r"selection and calibration done in (?P<s>[0-9.]+) s")

# Dagster step key -> stage. Asset checks ("<asset>_<check name>") count as "checks".
_STEP_STAGES = {
    "raw_feed": "ingest",
    "restock_dbt_models": "dbt",
    "quarantine": "quality",
    "data_quality_results": "quality",
    "forecasts": "forecast",
    "forecast_backtest": "forecast",
    "demand_forecasts": "forecast",
    "reorder_recommendations": "replenish",
    "stockout_alerts": "replenish",
    "policy_replay": "replay",
    "run_report": "report",
    "published_tables": "publish",
}
# python logger (first two parts) -> stage, for the lines a step logs without its step key
_LOGGER_STAGES = {
    "restock.ingest": "ingest",
    "restock.quality": "quality",
    "great_expectations.data_context": "quality",
    "restock.forecasting": "forecast",
    "restock.inventory": "replenish",
    "restock.report": "report",
    "restock.publish": "publish",
}
STAGE_ORDER = ["(startup)", "ingest", "quality", "dbt", "forecast", "replenish", "replay",
               "checks", "report", "publish", "(other)", "(exit)"]


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def _step_stage(step: str) -> str:
    if step in _STEP_STAGES:
        return _STEP_STAGES[step]
    if step.isupper():  # run-level events (RUN_START, RUN_FAILURE, ...)
        return "(other)"
    return "checks" if any(step.startswith(a + "_") for a in _STEP_STAGES) else "(other)"


def _labelled_lines(log_text: str, started: datetime | None):
    """(timestamp, stage) of every timestamped line of a `restock run` log, in order."""
    previous = started
    in_replay = False  # the policy replay re-plans through restock.forecasting
    day = started.date() if started else None
    tz = started.tzinfo if started else UTC
    for line in log_text.splitlines():
        match = _DAGSTER_LINE.match(line)
        if match:
            ts = datetime.strptime(f"{match['date']} {match['time']} {match['tz']}",
                                   "%Y-%m-%d %H:%M:%S %z")
            day, tz = ts.date(), ts.tzinfo
            stage = _step_stage(match["step"])
            in_replay = stage == "replay"
        else:
            match = _PYTHON_LINE.match(line)
            if not match or day is None:
                continue
            ts = datetime.combine(day, datetime.strptime(match["time"], "%H:%M:%S").time(), tz)
            if previous is not None and ts < previous - timedelta(hours=12):
                ts += timedelta(days=1)  # past midnight
            logger = ".".join(match["logger"].split(".")[:2])
            if logger == "dagster.builtin":
                continue  # a copy of a Dagster line
            stage = _LOGGER_STAGES.get(logger) or _LOGGER_STAGES.get(
                ".".join(match["logger"].split(".")[:3]), "(other)")
            in_replay = in_replay or match["msg"].startswith("replay")
            if in_replay and stage in ("forecast", "replenish"):
                stage = "replay"
        previous = ts
        yield ts, stage


def stage_at(log_text: str, started: datetime, when: datetime) -> str:
    """The stage in progress at ``when``: that of the first log line at or after it."""
    if when < started:
        return "(startup)"
    first = True
    for ts, stage in _labelled_lines(log_text, started):
        if ts >= when.replace(microsecond=0):
            return "(startup)" if first else stage
        first = False
    return "(exit)"


def parse_stage_times(log_text: str, started: datetime | None = None,
                      ended: datetime | None = None) -> tuple[dict[str, float], str]:
    """Per-stage wall seconds of a `restock run` log, and how they were measured.

    When the log has Dagster's step events (``Finished execution of step "X" in Ns``, DEBUG
    level) they are summed per stage: exact. The runner logs at INFO, which hides them, so
    otherwise every timestamped line is labelled with a stage (a Dagster line by its step
    key, a python log line by its logger: restock.forecasting -> forecast, ...) and, as the
    in-process executor runs one step at a time, the time since the previous timestamped line
    goes to the stage of the line (1 s resolution). ``(startup)`` is process start -> first
    line (imports, Definitions), ``(exit)`` last line -> process exit. The replay's planner
    logs through restock.forecasting: from its first "replay ..." line to the next Dagster
    line of another step, forecasting and inventory lines count under replay.
    """
    exact: dict[str, float] = {}
    for match in _FINISHED.finditer(log_text):
        stage = _step_stage(match["step"])
        exact[stage] = exact.get(stage, 0.0) + _seconds(match["t"], match["u"])
    if exact:
        return exact, "dagster step events"
    stages: dict[str, float] = {}
    previous = started
    for ts, stage in _labelled_lines(log_text, started):
        if previous is None:
            previous = ts
        label = stage if previous is not started else "(startup)"
        stages[label] = stages.get(label, 0.0) + max(0.0, (ts - previous).total_seconds())
        if label == "(startup)":
            stages.setdefault(stage, 0.0)
        previous = ts
    if previous is not None and ended is not None:
        stages["(exit)"] = max(0.0, (ended - previous).total_seconds())
    ordered = {k: stages[k] for k in STAGE_ORDER if k in stages}
    return ordered, "log-line timestamps (approx., 1 s resolution)"


def run_nightly(feed: Path, warehouse: Path, as_of: str, config: Path | None, log_path: Path,
                timeout: float) -> dict:
    """`restock run` in a subprocess: exit code, wall time, peak RSS, per-step times, errors."""
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--feed", str(feed), "--warehouse",
           str(warehouse), "--as-of", as_of]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1"}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")  # dagster-dbt needs dbt on PATH
    print(f"  $ {' '.join(cmd)}  (log: {log_path})", flush=True)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    cpu_before = _cpu_seconds(resource.RUSAGE_CHILDREN)
    with log_path.open("w") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
        with PeakRss(proc.pid) as rss:
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 15)
                code = proc.wait()
                handle.write(f"\n[bench] killed after {timeout:.0f} s\n")
    wall = time.perf_counter() - started
    ended_at = datetime.now(UTC)
    # CPU seconds of the run and every process it waited for (dbt, loky/multiprocessing workers
    # that exited): a figure less sensitive than wall time to other load on the machine
    cpu = _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    text = log_path.read_text(errors="replace")
    # the runner's own failure summary ("restock run FAILED ..." and its "  - step X failed"
    # lines), else Dagster's STEP_FAILURE lines, else the last lines of the log
    lines = text.splitlines()
    errors = [line.strip() for line in lines
              if line.startswith(("restock run FAILED", "  - ", "restock run:"))]
    if code != 0 and not errors:
        errors = [line.strip() for line in lines if "STEP_FAILURE" in line] or lines[-5:]
    steps, how = parse_stage_times(text, started_at, ended_at)
    forecast_runs = [float(m['s']) for m in _FORECAST_DONE.finditer(text)]
    selection_runs = [float(m['s']) for m in _SELECTION_DONE.finditer(text)]
    return {
        "exit_code": code,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_pss_mb": round(rss.peak / 2**20),
        "peak_rss_mb": round(rss.peak_rss / 2**20),
        "peak_process_rss_mb": round(rss.peak_process_rss / 2**20),
        "peak_rss_stage": stage_at(text, started_at, rss.peak_at) if rss.peak_at else None,
        "rss_samples": rss.samples,
        "steps": {k: round(v, 1) for k, v in steps.items()},
        "steps_measured_by": how,
        "run_forecasting_s": forecast_runs,
        "select_and_calibrate_s": selection_runs,
        "errors": errors[:20],
        "log": str(log_path),
    }


# ---------------------------------------------------------------------------------------------
# 3. bare statsforecast on the same series
# ---------------------------------------------------------------------------------------------

def statsforecast_frame(feed: Path, as_of: str, days: int = HISTORY_DAYS) -> pd.DataFrame:
    """unique_id, ds, y: each series' last ``days`` days up to as_of, zero-filled, from its
    first sale (the spine fct_daily_demand builds)."""
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        return con.execute(
            f"""
            with sales as (
                select sku, location, cast(date as date) as date, sum(quantity) as y
                from read_parquet('{_sql_path(feed)}/sales/*.parquet')
                where cast(date as date) <= cast($as_of as date)
                group by all
            ),
            series as (
                select sku, location,
                       greatest(min(date), cast($as_of as date) - {int(days) - 1}) as start
                from sales group by all
            ),
            spine as (
                select sku, location,
                       cast(unnest(generate_series(start, cast($as_of as date), interval 1 day))
                            as date) as date
                from series
            )
            select spine.sku || '/' || spine.location as unique_id,
                   cast(spine.date as timestamp) as ds,
                   cast(coalesce(sales.y, 0) as double) as y
            from spine left join sales using (sku, location, date)
            order by unique_id, ds
            """,
            {"as_of": as_of},
        ).df()


def time_statsforecast(frame: pd.DataFrame, n_jobs: int = 2) -> dict:
    """Wall time of one StatsForecast(...).forecast(h=28) over every series of ``frame``."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, CrostonSBA, SeasonalNaive

    n_series = frame["unique_id"].nunique()
    cpu_before = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    sf = StatsForecast(models=[SeasonalNaive(7), AutoETS(season_length=7), CrostonSBA()],
                       freq="D", n_jobs=n_jobs)
    forecasts = sf.forecast(df=frame, h=HORIZON)
    wall = time.perf_counter() - started
    # the pool's workers have exited and been waited for: their CPU is in RUSAGE_CHILDREN
    cpu = (_cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN)
           - cpu_before)
    return {
        "series": int(n_series),
        "rows_in": len(frame),
        "rows_out": len(forecasts),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "ms_per_series": round(1000 * wall / max(n_series, 1), 1),
    }


# ---------------------------------------------------------------------------------------------

def _fmt_steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}s" for k, v in steps.items())


def bench_size(series: int, args, workdir: Path, base: Path) -> dict:
    print(f"\n=== {series} series ===", flush=True)
    result: dict = {"series": series}
    feed = workdir / f"feed_{series}"
    result["feed"] = build_feed(series, feed, base, args.as_of, seed=args.seed)
    f = result["feed"]
    print(f"feed: {f['locations']} locations x up to {f['items']} items = {series} series, "
          f"{f['sales_rows']:,} sales rows in {f['part_files']} Parquet parts, "
          f"built in {f['seconds']} s  ({feed})", flush=True)
    if args.skip_run:
        return result

    warehouse = workdir / f"warehouse_{series}" / "restock.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    run = run_nightly(feed, warehouse, args.as_of, args.config,
                      workdir / f"run_{series}.log", args.timeout)
    result["run"] = run
    # the forecasting asset's own figure ("run_forecasting done in N s"), else the forecast
    # stage of the log
    forecast_s = (run["run_forecasting_s"][0] if run["run_forecasting_s"]
                  else run["steps"].get("forecast", 0.0))
    run["forecast_s"] = round(forecast_s, 1)
    run["forecast_ms_per_series"] = round(1000 * forecast_s / series, 1) if forecast_s else None
    status = "OK" if run["exit_code"] == 0 else f"FAILED (exit {run['exit_code']})"
    print(f"restock run: {status}; total wall {run['wall_s']} s (CPU {run['cpu_s']} s); "
          f"peak memory (process tree) PSS {run['peak_pss_mb']} MB (during "
          f"{run['peak_rss_stage']}), summed RSS {run['peak_rss_mb']} MB, largest single "
          f"process RSS {run['peak_process_rss_mb']} MB", flush=True)
    print(f"  stages ({run['steps_measured_by']}): "
          f"{_fmt_steps(run['steps']) or '(no step times in the log)'}")
    if forecast_s:
        print(f"  forecasting (run_forecasting of the forecasts asset): {forecast_s:.1f} s = "
              f"{run['forecast_ms_per_series']} ms per series; every run_forecasting call: "
              f"{run['run_forecasting_s']}; the replay planner's backtest, selection and "
              f"calibration: {run['select_and_calibrate_s']} s")
    if run["exit_code"] != 0:
        for line in run["errors"]:
            print(f"  ! {line[:300]}")

    if not args.skip_statsforecast:
        frame = statsforecast_frame(feed, args.as_of)
        sf = time_statsforecast(frame, n_jobs=args.n_jobs)
        result["statsforecast"] = sf
        print(f"bare statsforecast (SeasonalNaive(7) + AutoETS(7) + CrostonSBA, last "
              f"{HISTORY_DAYS} days, h={HORIZON}, n_jobs={args.n_jobs}): {sf['wall_s']} s "
              f"(CPU {sf['cpu_s']} s) = {sf['ms_per_series']} ms per series", flush=True)
    return result


def _table(results: list[dict]) -> str:
    head = (f"{'series':>7} {'locs':>4} {'sales rows':>11} {'feed s':>6} {'run':>4} "
            f"{'run s':>6} {'run cpu s':>9} {'peak PSS MB':>11} {'fcst s':>6} "
            f"{'fcst ms/ser':>11} {'sf s':>6} {'sf cpu s':>8} {'sf ms/ser':>9}")
    lines = [head, "-" * len(head)]

    def cell(value, width):
        return f"{'-' if value is None else value:>{width}}"

    for r in results:
        run = r.get("run", {})
        sf = r.get("statsforecast", {})
        state = "-" if not run else ("ok" if run["exit_code"] == 0 else "FAIL")
        lines.append(
            f"{r['series']:>7} {r['feed']['locations']:>4} {r['feed']['sales_rows']:>11,} "
            f"{r['feed']['seconds']:>6} {state:>4} {cell(run.get('wall_s'), 6)} "
            f"{cell(run.get('cpu_s'), 9)} {cell(run.get('peak_pss_mb'), 11)} "
            f"{cell(run.get('forecast_s'), 6)} {cell(run.get('forecast_ms_per_series'), 11)} "
            f"{cell(sf.get('wall_s'), 6)} {cell(sf.get('cpu_s'), 8)} "
            f"{cell(sf.get('ms_per_series'), 9)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, nargs="+", default=[3000],
                        help="item x location series per size (3000, 10000, 30490, ...)")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="run date (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=None,
                        help="working folder (feeds, warehouses, logs); default a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--skip-run", action="store_true",
                        help="only build the feeds (no restock run, no statsforecast)")
    parser.add_argument("--skip-statsforecast", action="store_true",
                        help="do not time bare statsforecast")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML run configuration passed to `restock run --config`")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2, help="statsforecast n_jobs")
    parser.add_argument("--timeout", type=float, default=4 * 3600,
                        help="seconds before the restock run is killed")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    date.fromisoformat(args.as_of)
    logging.basicConfig(level=logging.WARNING)

    workdir = args.out or Path(tempfile.mkdtemp(prefix="restock_nightly_bench_"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        base = base_m5_feed(workdir)
        for series in args.series:
            results.append(bench_size(series, args, workdir, base))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif results:
            print(f"\nfiles kept in {workdir}")
    print()
    print(_table(results))
    failed = [r for r in results if r.get("run", {}).get("exit_code", 0) != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
