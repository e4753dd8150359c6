"""Great Expectations 1.x suites over the accepted feed rows, plus drift and spike checks.

``great_expectations`` is imported inside :func:`run_raw_suites` only: importing it costs 2-4 s
and the Dagster Definitions must load in under 3 s.

Cost control (M5: ~2.2M sales rows): GX validates pandas frames, so

- per-row checks (schema, types, ranges) run on a reproducible sample of at most
  ``SAMPLE_ROWS`` accepted rows per table (the reader already checked every row in SQL; this is
  an independent second look, not the gate);
- key uniqueness runs on the full key columns only (2 columns), referential integrity on the
  distinct skus of sales (an aggregated frame);
- freshness, volume / unit drift and outlier spikes are computed in DuckDB SQL on aggregates
  and reported as result rows next to the GX ones (warnings: they never block publication).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from restock.contract import INPUT_TABLES
from restock.feed.row_checks import business_date_sql
from restock.warehouse import qualified, quote_identifier, table_exists

if TYPE_CHECKING:  # the settings module pulls in every stage's settings
    from restock.config import QualitySettings

log = logging.getLogger("restock.quality")

RESULT_COLUMNS = ["source", "check", "severity", "passed", "failed_rows", "detail"]
SAMPLE_ROWS = 200_000
DATA_DOCS_SITE = "restock_data_docs"
UNIT_CHANGE_FACTOR = 5.0
SPIKE_MIN_UNITS = 10.0
SPIKE_WINDOW_DAYS = 56
SPIKE_MIN_HISTORY = 5
SPIKE_LIST_LIMIT = 20
# Validated tables and the per-row range rules GX checks on them.
# suppliers and transfer_lanes are optional (issue 19): validated only when the feed has rows.
GX_TABLES = ("products", "sales", "inventory", "purchase_orders", "suppliers",
             "transfer_lanes")


def _accepted_frame(
    con: duckdb.DuckDBPyConnection, table: str, sample: int | None = SAMPLE_ROWS
) -> pd.DataFrame:
    """Accepted rows of ``raw.<table>`` typed by the contract (a sample for large tables)."""
    spec = INPUT_TABLES[table]
    exprs = []
    for col in spec.columns:
        q = quote_identifier(col.name)
        blank = f"nullif(trim({q}), '') is null"
        if col.type in ("number", "integer"):
            typed = f"try_cast(nullif(trim({q}), '') as double)"
            exprs.append(f"{typed} as {q}")
            # castable: empty, or a finite number (GX range checks skip NULLs, so say it)
            exprs.append(f"({blank} or coalesce(isfinite({typed}), false)) as "
                         f"{quote_identifier('castable_' + col.name)}")
        elif col.type in ("date", "timestamp"):
            typed = business_date_sql(col.name)
            exprs.append(f"cast({typed} as timestamp) as {q}")
            exprs.append(f"({blank} or {typed} is not null) as "
                         f"{quote_identifier('castable_' + col.name)}")
        else:
            exprs.append(f"nullif(trim({q}), '') as {q}")
    sql = f"select {', '.join(exprs)} from {qualified('raw', table)} where _reject_reason is null"
    total = con.execute(
        f"select count(*) from {qualified('raw', table)} where _reject_reason is null"
    ).fetchone()[0]
    if sample is not None and total > sample:
        # reservoir sample with a fixed seed: the same feed gives the same sample
        sql = f"select * from ({sql}) using sample reservoir({int(sample)} rows) repeatable (42)"
    return con.execute(sql).df()


def _suite_for(gx: Any, table: str, frame: pd.DataFrame) -> Any:
    """The expectation suite of one feed table; each expectation carries meta.check."""
    gxe = gx.expectations
    spec = INPUT_TABLES[table]
    suite = gx.ExpectationSuite(name=f"raw_{table}")

    def add(expectation: Any, check: str, severity: str = "error") -> None:
        expectation.meta = {"check": check, "severity": severity}
        suite.add_expectation(expectation)

    for col in spec.required_columns:
        add(gxe.ExpectColumnToExist(column=col), "schema")
    for col in spec.columns:
        flag = f"castable_{col.name}"
        if flag in frame.columns:
            add(gxe.ExpectColumnValuesToBeInSet(column=flag, value_set=[True]), "types")
    for col in spec.required_columns:
        add(gxe.ExpectColumnValuesToNotBeNull(column=col), "types")
    ranges = {
        ("products", "lead_time_days"): {"min_value": 0},  # 0 = same-day supply
        ("products", "unit_cost"): {"min_value": 0},
        ("products", "unit_price"): {"min_value": 0},
        ("products", "moq"): {"min_value": 1},
        ("products", "pack_size"): {"min_value": 1},
        ("sales", "unit_price"): {"min_value": 0},
        ("inventory", "on_hand"): {"min_value": 0},
        ("inventory", "on_order"): {"min_value": 0},
        ("inventory", "stockout_hours"): {"min_value": 0, "max_value": 24},
        ("purchase_orders", "quantity"): {"min_value": 0, "strict_min": True},
        ("suppliers", "lead_time_days"): {"min_value": 0},
        ("suppliers", "min_order_value"): {"min_value": 0},
        ("suppliers", "min_order_units"): {"min_value": 0},
        ("suppliers", "case_size"): {"min_value": 1},
        ("suppliers", "express_lead_time_days"): {"min_value": 0},
        ("suppliers", "express_cost_pct"): {"min_value": 0},
        ("transfer_lanes", "lead_time_days"): {"min_value": 0},
        ("transfer_lanes", "cost_per_unit"): {"min_value": 0},
    }
    for (tbl, col), bounds in ranges.items():
        if tbl == table:
            add(gxe.ExpectColumnValuesToBeBetween(column=col, **bounds), "ranges")
    if table == "products":
        add(gxe.ExpectColumnValuesToBeUnique(column="sku"), "key_unique")
    if table == "suppliers":
        add(gxe.ExpectColumnValuesToBeUnique(column="supplier"), "key_unique")
    if table == "transfer_lanes":
        add(gxe.ExpectCompoundColumnsToBeUnique(column_list=["from_location", "to_location"]),
            "key_unique")
    return suite


def _result_rows(source: str, validation: Any) -> list[tuple]:
    rows = []
    for res in validation.results:
        cfg = res.expectation_config
        meta = cfg.meta or {}
        kwargs = cfg.kwargs
        target = kwargs.get("column") or ",".join(kwargs.get("column_list", []) or [])
        result = res.result or {}
        failed = int(result.get("unexpected_count") or 0)
        if not res.success and failed == 0:
            failed = 1
        sample = result.get("partial_unexpected_list") or []
        detail = f"{cfg.type} {target}".strip()
        if not res.success:
            detail += f": {failed} unexpected, e.g. {sample[:5]}"
        rows.append(
            (source, meta.get("check", cfg.type), meta.get("severity", "error"),
             bool(res.success), failed, detail)
        )
    return rows


class _GxRunner:
    """An ephemeral GX context with a pandas datasource, optional Data Docs site."""

    def __init__(self, data_docs_dir: Path | None) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        # tqdm bars per metric would flood the nightly logs
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = self.context.data_sources.add_pandas(name="restock_feed")
        self.site = None
        if data_docs_dir is not None:
            data_docs_dir = Path(data_docs_dir)
            data_docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(
                site_name=DATA_DOCS_SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(data_docs_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
            self.site = DATA_DOCS_SITE

    def validate(self, name: str, frame: pd.DataFrame, suite: Any) -> Any:
        """Validate ``frame`` as one whole-dataframe batch; record it for Data Docs."""
        gx = self.gx
        asset = self.datasource.add_dataframe_asset(name=name)
        batch_definition = asset.add_batch_definition_whole_dataframe(f"{name}_all")
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_validation", data=batch_definition, suite=suite)
        )
        actions = []
        if self.site is not None:
            actions.append(gx.checkpoint.UpdateDataDocsAction(
                name="update_docs", site_names=[self.site]))
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}_checkpoint",
                validation_definitions=[definition],
                actions=actions,
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        return next(iter(result.run_results.values()))

    def build_docs(self) -> None:
        if self.site is not None:
            self.context.build_data_docs(site_names=[self.site])


def _key_uniqueness(runner: _GxRunner, con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Accepted sales (order_id, line_id) unique, on the keyed rows only."""
    frame = con.execute(
        "select trim(order_id) as order_id, trim(line_id) as line_id from raw.sales "
        "where _reject_reason is null and nullif(trim(order_id), '') is not null "
        "and nullif(trim(line_id), '') is not null"
    ).df()
    if frame.empty:
        return [("sales", "key_unique", "error", True, 0,
                 "no (order_id, line_id) given: exact duplicate rows were rejected at ingest")]
    suite = runner.gx.ExpectationSuite(name="raw_sales_keys")
    expectation = runner.gx.expectations.ExpectCompoundColumnsToBeUnique(
        column_list=["order_id", "line_id"]
    )
    expectation.meta = {"check": "key_unique", "severity": "error"}
    suite.add_expectation(expectation)
    return _result_rows("sales", runner.validate("sales_keys", frame, suite))


def _referential_integrity(runner: _GxRunner, con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every sku of accepted sales / inventory / POs is an accepted product (distinct skus)."""
    products = [
        r[0]
        for r in con.execute(
            "select distinct trim(sku) from raw.products where _reject_reason is null"
        ).fetchall()
    ]
    rows = []
    for table in ("sales", "inventory", "purchase_orders"):
        if not table_exists(con, "raw", table):
            continue
        frame = con.execute(
            f"select distinct trim(sku) as sku from {qualified('raw', table)} "
            "where _reject_reason is null"
        ).df()
        if frame.empty:
            continue
        suite = runner.gx.ExpectationSuite(name=f"{table}_skus")
        expectation = runner.gx.expectations.ExpectColumnValuesToBeInSet(
            column="sku", value_set=products
        )
        expectation.meta = {"check": "referential_integrity", "severity": "error"}
        suite.add_expectation(expectation)
        rows.extend(_result_rows(table, runner.validate(f"{table}_skus", frame, suite)))
    return rows


def _freshness(latest: date | None, as_of: date, settings: QualitySettings) -> tuple:
    if latest is None:
        return ("sales", "freshness", "warning", False, 0, "no accepted sales")
    lag = (as_of - latest).days
    passed = lag <= settings.freshness_days
    # A stale feed blocks publication (issue 17: as_of 2030 on a feed ending 2024 published
    # all-zero forecasts over the good ones); --allow-stale makes it a warning.
    severity = "warning" if settings.allow_stale else "error"
    hint = "" if passed or settings.allow_stale else "; pass --allow-stale to publish anyway"
    return ("sales", "freshness", severity, passed, 0 if passed else 1,
            f"latest sales date {latest} is {lag} days before as_of {as_of} "
            f"(allowed {settings.freshness_days}){hint}")


def _volumes(con: duckdb.DuckDBPyConnection, as_of: date) -> dict:
    tables = {}
    for table in INPUT_TABLES:
        if table_exists(con, "raw", table):
            tables[table] = int(con.execute(
                f"select count(*) from {qualified('raw', table)} where _reject_reason is null"
            ).fetchone()[0])
    mean_qty = con.execute(
        "select avg(try_cast(trim(quantity) as double)) from raw.sales "
        "where _reject_reason is null and try_cast(trim(quantity) as double) > 0"
    ).fetchone()[0]
    return {"as_of": as_of.isoformat(), "tables": tables,
            "mean_quantity_per_line": float(mean_qty) if mean_qty is not None else None}


def _drift(current: dict, previous: dict | None, settings: QualitySettings) -> list[tuple]:
    if not previous:
        return [("feed", "volume_change", "warning", True, 0, "no previous run to compare"),
                ("sales", "unit_change", "warning", True, 0, "no previous run to compare")]
    rows = []
    changed = []
    for table, now in current["tables"].items():
        before = (previous.get("tables") or {}).get(table)
        if not before:
            continue
        change = abs(now - before) / before
        if change > settings.volume_change_warn:
            changed.append(f"{table} {before} -> {now} ({change:+.0%})")
    rows.append(("feed", "volume_change", "warning", not changed, len(changed),
                 "; ".join(changed) or
                 f"accepted rows within {settings.volume_change_warn:.0%} of the previous run"))
    now_mean = current.get("mean_quantity_per_line")
    before_mean = previous.get("mean_quantity_per_line")
    if now_mean and before_mean:
        ratio = now_mean / before_mean
        jumped = ratio > UNIT_CHANGE_FACTOR or ratio < 1 / UNIT_CHANGE_FACTOR
        detail = (f"mean quantity per sales line {before_mean:.3g} -> {now_mean:.3g} "
                  f"(x{ratio:.3g})")
        if jumped:
            detail = "possible unit change (case vs each): " + detail
        rows.append(("sales", "unit_change", "warning", not jumped, int(jumped), detail))
    else:
        rows.append(("sales", "unit_change", "warning", True, 0, "no quantities to compare"))
    return rows


def spike_daily_sql() -> str:
    """Units sold per series and business date, from this run's accepted raw sales.

    The spike baseline is the feed's own history, never ``marts.fct_daily_demand``: before dbt
    that table is the *previous* run's mart, which does not hold the new days, so a spike on a
    warehouse with an earlier run went unnoticed while the same feed warned on a fresh one.
    Returns are left out (as in ``fct_daily_demand.units_sold``); days without sales are
    absent, which is the same as zero here since the median is taken over selling days only
    and the window is a date range.
    """
    return (
        f"select trim(sku) as sku, trim(location) as location, {business_date_sql('date')} "
        "as date, sum(greatest(try_cast(trim(quantity) as double), 0)) as units_sold "
        "from raw.sales where _reject_reason is null group by all"
    )


def _spikes(con: duckdb.DuckDBPyConnection, as_of: date, settings: QualitySettings) -> tuple:
    """Series-days above outlier_factor x the trailing median: listed, never changed.

    The trailing window is the ``SPIKE_WINDOW_DAYS`` calendar days before the day (a date
    range), over this run's accepted raw sales (:func:`spike_daily_sql`), whatever the work DB
    held before.
    """
    rows = con.execute(
        f"with daily as ({spike_daily_sql()}), "
        "with_median as (select *, "
        # median of the selling days: zero days (often out of stock) would make every return
        # to normal look like a spike on intermittent series
        "median(units_sold) filter (where units_sold > 0) over w as trailing_median, "
        "count(*) filter (where units_sold > 0) over w as n_history "
        "from daily window w as (partition by sku, location order by date "
        f"range between interval {SPIKE_WINDOW_DAYS} days preceding "
        "and interval 1 day preceding)) "
        "select sku, location, date, units_sold, trailing_median from with_median "
        f"where n_history >= {SPIKE_MIN_HISTORY} and units_sold >= ? "
        "and units_sold > ? * greatest(trailing_median, 1) and date <= ? "
        "order by units_sold / greatest(trailing_median, 1) desc, sku, location, date",
        [SPIKE_MIN_UNITS, settings.outlier_factor, as_of],
    ).fetchall()
    listed = ", ".join(
        f"{s}/{loc} {d} {u:g} (median {m:g})" for s, loc, d, u, m in rows[:SPIKE_LIST_LIMIT]
    )
    more = f" and {len(rows) - SPIKE_LIST_LIMIT} more" if len(rows) > SPIKE_LIST_LIMIT else ""
    detail = (
        f"{len(rows)} series-days above {settings.outlier_factor:g}x the trailing "
        f"{SPIKE_WINDOW_DAYS}-day median of selling days (kept, not clipped): {listed}{more}"
        if rows
        else f"no series-day above {settings.outlier_factor:g}x its trailing median"
    )
    return ("sales", "outlier_spikes", "warning", not rows, len(rows), detail)


def run_raw_suites(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None,
    previous_volumes: dict | None,
    data_docs_dir: Path | None,
    settings: QualitySettings,
) -> tuple[pd.DataFrame, dict]:
    """Validate the accepted feed rows with GX and compute the drift / spike warnings.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The work DB after ingest (read-only is enough). Every check reads this run's raw
        tables only (spikes included: never a mart left by an earlier run).
    as_of : date, optional
        The run date; default the latest accepted sales date.
    previous_volumes : dict, optional
        The volumes dict returned by the previous run (None on the first run).
    data_docs_dir : Path, optional
        Where to build GX Data Docs (site ``restock_data_docs``); None = no docs.
    settings : QualitySettings
        Thresholds (freshness_days, volume_change_warn, outlier_factor).

    Returns
    -------
    tuple[pandas.DataFrame, dict]
        data_quality_results rows (source, check, severity, passed, failed_rows, detail) and
        this run's volumes (JSON-serialisable) to keep for the next run.
    """
    con.execute("set enable_progress_bar = false")
    latest = con.execute(
        f"select max({business_date_sql('date')}) from raw.sales where _reject_reason is null"
    ).fetchone()[0]
    as_of = as_of or latest or date.today()
    runner = _GxRunner(data_docs_dir)
    rows: list[tuple] = []
    for table in GX_TABLES:
        if not table_exists(con, "raw", table):
            continue
        frame = _accepted_frame(con, table)
        if frame.empty and not INPUT_TABLES[table].required:
            continue
        suite = _suite_for(runner.gx, table, frame)
        rows.extend(_result_rows(table, runner.validate(f"raw_{table}", frame, suite)))
    rows.extend(_key_uniqueness(runner, con))
    rows.extend(_referential_integrity(runner, con))
    runner.build_docs()
    rows.append(_freshness(latest, as_of, settings))
    volumes = _volumes(con, as_of)
    rows.extend(_drift(volumes, previous_volumes, settings))
    rows.append(_spikes(con, as_of, settings))
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    results["failed_rows"] = results["failed_rows"].astype("int64")
    for row in results.itertuples():
        if not row.passed:
            log.warning("%s %s (%s): %s", row.source, row.check, row.severity, row.detail)
    return results, volumes
