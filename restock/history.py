"""History across runs: forecast snapshots, their accuracy once actuals arrive, alert outcomes.

Each published run replaces every table, so what last week's run forecast would be lost. These
three tables are carried from run to run instead (append-only, keyed by ``as_of``):

- ``forecast_snapshots``: what each run forecast for the next ``horizon_days`` days (sku,
  location, date, model, forecast, p50, p90, horizon_day), ``snapshot_retention_days`` of
  as_of kept.
- ``forecast_accuracy_history``: for every snapshot whose horizon has days that are now actual
  (the current run's ``marts.fct_daily_demand``), per category, model and horizon week: RMSSE,
  WAPE, bias, scaled pinball loss at p90, p90 coverage, and value added over the seasonal naive
  forecast of the same series and days. ``as_of`` is the run that scored (actuals known through
  it), ``snapshot_as_of`` the run that forecast.
- ``alert_history``: each published stockout alert and, once known, whether the item stocked
  out in the ``alert_outcome_days`` after the alert.

Rules (all three tables):

- A run replaces the rows it wrote for its own ``as_of`` (a re-run never duplicates).
- Scores and outcomes go by knowledge: the rows of a snapshot (of an alert) are replaced only by
  a run that knows actuals at least as far (``as_of`` >= theirs), so re-running an older as_of
  never throws away what a later run had scored. A snapshot re-run after later runs scored it
  keeps those scores until the next run after it rescored it (within ``rescore_days``).
- Retention counts back from the newest as_of in the history, so backfilling an old as_of does
  not prune newer rows.

Metrics follow ``restock.forecasting.metrics`` and the backtest: censored days (stock-outs) are
not scored; RMSSE per series uses the in-sample one-step naive MSE up to the snapshot's as_of
(from the series' first non-zero demand, as M5), the pinball loss is divided by the in-sample
seasonal-naive MAE (the MASE scale); per category and model RMSSE and scaled pinball are the
mean over series, WAPE, bias and coverage are pooled over series-days; value added is
``1 - mean RMSSE / mean seasonal-naive RMSSE`` over the series both were scored on. The seasonal
naive forecast of day ``as_of + h`` repeats the last observed week: ``y(as_of + (h-1) % 7 - 6)``;
a series-day without it (under a week of history) is not scored.

Everything runs in DuckDB SQL on one connection (an M5-size mart is 58 M rows): see
:func:`build_history`, called by ``restock.publishing.publish_tables(history=...)`` which keeps
the store beside the warehouse and swaps it in atomically.
"""

from __future__ import annotations

from datetime import date

import duckdb
from pydantic import BaseModel, Field

from restock.contract import HISTORY_TABLES, RUN_COLUMNS

SEASON = 7


class HistorySettings(BaseModel):
    """How much history to keep and how to judge it (config key ``history``)."""

    enabled: bool = True
    horizon_days: int = Field(28, ge=1, description="days after as_of kept in a snapshot")
    snapshot_retention_days: int = Field(
        400, ge=1, description="as_of's of forecast_snapshots kept, back from the newest"
    )
    summary_retention_days: int = Field(
        1100, ge=1, description="as_of's of forecast_accuracy_history and alert_history kept"
    )
    rescore_days: int = Field(
        28,
        ge=0,
        description="snapshots whose horizon ended less than this many days ago are rescored "
        "every run (late or restated actuals); older ones keep their final scores",
    )
    alert_outcome_days: int = Field(
        14, ge=1, description="days after an alert in which a stock-out makes it right"
    )


# Column types of the history tables (names and order: contract.HISTORY_TABLES).
HISTORY_TYPES: dict[str, dict[str, str]] = {
    "forecast_snapshots": {
        "sku": "varchar",
        "location": "varchar",
        "date": "date",
        "model": "varchar",
        "forecast": "double",
        "p50": "double",
        "p90": "double",
        "horizon_day": "integer",
    },
    "forecast_accuracy_history": {
        "snapshot_as_of": "date",
        "category": "varchar",
        "model": "varchar",
        "horizon_week": "integer",
        "n_series": "bigint",
        "scored_days": "bigint",
        "complete": "boolean",
        "rmsse": "double",
        "wape": "double",
        "bias": "double",
        "spl_p90": "double",
        "coverage_p90": "double",
        "naive_rmsse": "double",
        "value_added_vs_naive": "double",
    },
    "alert_history": {
        "sku": "varchar",
        "location": "varchar",
        "severity": "varchar",
        "projected_stockout_day": "date",
        "stockout_probability": "double",
        "recommended_order_units": "bigint",
        "outcome_window_days": "integer",
        "outcome_through": "date",
        "inventory_days": "integer",
        "outcome": "varchar",
        "stocked_out": "boolean",
        "first_stockout_day": "date",
    },
}
_RUN_TYPES = {"run_id": "varchar", "as_of": "date"}


def create_history_tables(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create the three (empty) history tables in ``schema`` with their published types."""
    for table, columns in HISTORY_TABLES.items():
        types = {**HISTORY_TYPES[table], **_RUN_TYPES}
        ddl = ", ".join(f'"{c}" {types[c]}' for c in (*columns, *RUN_COLUMNS))
        con.execute(f'create table {schema}."{table}" ({ddl})')


def carry_forward(con: duckdb.DuckDBPyConnection, source: str | None, target: str) -> None:
    """Copy the previous history (``source``: a schema of an attached DB, or None) into the
    empty tables of ``target``, by column name: a column added since is NULL in old rows, a
    column the previous store had but this version does not know is dropped."""
    if source is None:
        return
    present = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name || '.' || schema_name "
            "= ?",
            [source],
        ).fetchall()
    }
    for table, columns in HISTORY_TABLES.items():
        if table not in present:
            continue
        old_columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where database_name || '.' || "
                "schema_name = ? and table_name = ?",
                [source, table],
            ).fetchall()
        }
        shared = [c for c in (*columns, *RUN_COLUMNS) if c in old_columns]
        cols = ", ".join(f'"{c}"' for c in shared)
        con.execute(
            f'insert into {target}."{table}" ({cols}) select {cols} from {source}."{table}"'
        )


def build_history(
    con: duckdb.DuckDBPyConnection,
    work: str,
    target: str,
    run_id: str,
    as_of: date,
    settings: HistorySettings,
) -> dict[str, int]:
    """Update the history tables in schema ``target`` (already holding the previous history)
    with this run: its snapshot, scores of past snapshots, its alerts and past alerts'
    outcomes; apply retention. ``work`` is the attached work DB's name (``results`` and
    ``marts`` schemas). Returns rows per table."""
    _demand(con, work, as_of)
    _snapshot(con, work, target, run_id, as_of, settings)
    _score(con, target, run_id, as_of, settings)
    _alerts(con, work, target, run_id, as_of, settings)
    _retention(con, target, settings)
    counts = {}
    for table in HISTORY_TABLES:
        row = con.execute(f'select count(*) from {target}."{table}"').fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _demand(con: duckdb.DuckDBPyConnection, work: str, as_of: date) -> None:
    """temp.hist_demand: the actuals known to this run (censored days NULL), with the running
    scales (RMSSE: one-step naive MSE; MASE: seasonal naive MAE) up to and including each day."""
    con.execute(
        f"""
        create or replace temp table hist_demand as
        with base as (
            select sku, location, category, cast(date as date) as date,
                   case when is_censored then null else cast(units_sold as double) end as y,
                   coalesce(is_censored, false) as is_censored,
                   on_hand is not null or stockout_hours is not null as inventory_known
            from {work}.marts.fct_daily_demand
            where cast(date as date) <= ?
        ),
        started as (
            select *, sum(case when y > 0 then 1 else 0 end) over s > 0 as started
            from base
            window s as (partition by sku, location order by date
                         rows between unbounded preceding and current row)
        ),
        diffs as (
            select *,
                case when lag(started) over s and started and lag(date) over s = date - 1
                     then (y - lag(y) over s) ^ 2 end as d1,
                case when lag(date, {SEASON}) over s = date - {SEASON}
                     then abs(y - lag(y, {SEASON}) over s) end as d7
            from started
            window s as (partition by sku, location order by date)
        )
        select sku, location, category, date, y, is_censored, inventory_known,
               sum(d1) over w / nullif(count(d1) over w, 0) as rmsse_scale,
               sum(d7) over w / nullif(count(d7) over w, 0) as mase_scale
        from diffs
        window w as (partition by sku, location order by date
                     rows between unbounded preceding and current row)
        """,
        [as_of],
    )


def _snapshot(con, work, target, run_id, as_of, settings) -> None:
    """Replace this as_of's snapshot with the run's forecasts for the next horizon_days."""
    con.execute(f"delete from {target}.forecast_snapshots where as_of = ?", [as_of])
    con.execute(
        f"""
        insert into {target}.forecast_snapshots
        select sku, location, cast(date as date), model, forecast, p50, p90,
               cast(cast(date as date) - cast(? as date) as integer), ?, cast(? as date)
        from {work}.results.demand_forecasts
        where cast(date as date) > cast(? as date)
          and cast(date as date) <= cast(? as date) + {int(settings.horizon_days)}
        """,
        [as_of, run_id, as_of, as_of, as_of],
    )


def _score(con, target, run_id, as_of, settings) -> None:
    """Score past snapshots on the days now actual; keep scores made with more knowledge."""
    oldest = int(settings.horizon_days + settings.rescore_days)
    con.execute(
        f"""
        create or replace temp table hist_scores as
        with rows as (
            select s.as_of as snapshot_as_of, a.category, s.model, s.sku, s.location,
                   cast((s.date - s.as_of - 1) // 7 + 1 as integer) as horizon_week,
                   a.y, s.forecast, s.p90, nv.y as naive, sc.rmsse_scale, sc.mase_scale
            from {target}.forecast_snapshots s
            join hist_demand a
              on a.sku = s.sku and a.location = s.location and a.date = s.date
            join hist_demand nv
              on nv.sku = s.sku and nv.location = s.location
             and nv.date = s.as_of + cast((s.date - s.as_of - 1) % {SEASON} - {SEASON - 1}
                                          as integer)
            left join hist_demand sc
              on sc.sku = s.sku and sc.location = s.location and sc.date = s.as_of
            where s.as_of < cast(? as date) and s.as_of >= cast(? as date) - {oldest}
              and a.y is not null and nv.y is not null
        ),
        per_series as (
            select snapshot_as_of, category, model, horizon_week, sku, location,
                   count(*) as n,
                   case when any_value(rmsse_scale) > 0
                        then sqrt(avg((y - forecast) ^ 2) / any_value(rmsse_scale)) end
                        as rmsse,
                   case when any_value(rmsse_scale) > 0
                        then sqrt(avg((y - naive) ^ 2) / any_value(rmsse_scale)) end
                        as naive_rmsse,
                   case when any_value(mase_scale) > 0
                        then avg(greatest(0.9 * (y - p90), -0.1 * (y - p90)))
                             / any_value(mase_scale) end as spl,
                   sum(abs(y - forecast)) as abs_err, sum(forecast - y) as err,
                   sum(y) as actual,
                   count(p90) as n_p90,
                   sum(case when y <= p90 + 1e-9 then 1 else 0 end) as hits
            from rows
            group by all
        )
        select snapshot_as_of, category, model, horizon_week,
               count(*) as n_series, sum(n) as scored_days,
               snapshot_as_of + horizon_week * 7 <= cast(? as date) as complete,
               avg(rmsse) as rmsse,
               sum(abs_err) / nullif(sum(actual), 0) as wape,
               sum(err) / nullif(sum(actual), 0) as bias,
               avg(spl) as spl_p90,
               sum(hits) / nullif(sum(n_p90), 0) as coverage_p90,
               avg(naive_rmsse) filter (where rmsse is not null) as naive_rmsse,
               1 - avg(rmsse) filter (where naive_rmsse is not null)
                   / nullif(avg(naive_rmsse) filter (where rmsse is not null), 0)
                   as value_added_vs_naive,
               ? as run_id, cast(? as date) as as_of
        from per_series
        group by all
        """,
        [as_of, as_of, as_of, run_id, as_of],
    )
    # A snapshot's scores are replaced only by a run that knows at least as much.
    con.execute(
        f"""
        delete from hist_scores n where exists (
            select 1 from {target}.forecast_accuracy_history o
            where o.snapshot_as_of = n.snapshot_as_of and o.as_of > n.as_of)
        """
    )
    con.execute(
        f"""
        delete from {target}.forecast_accuracy_history o
        where o.as_of = cast(? as date)
           or o.snapshot_as_of in (select snapshot_as_of from hist_scores)
        """,
        [as_of],
    )
    con.execute(f"insert into {target}.forecast_accuracy_history by name select * from hist_scores")


def _alerts(con, work, target, run_id, as_of, settings) -> None:
    """Append this run's alerts (replacing its as_of's) and settle past alerts' outcomes."""
    window = int(settings.alert_outcome_days)
    # A re-run of an older as_of cannot see past it: keep outcomes a later run had found for
    # the same alert (same as_of, sku, location) instead of resetting them to pending.
    con.execute(
        f"""
        create or replace temp table hist_known_outcomes as
        select sku, location, outcome_through, inventory_days, outcome, stocked_out,
               first_stockout_day
        from {target}.alert_history
        where as_of = cast(? as date) and outcome_through > cast(? as date)
        """,
        [as_of, as_of],
    )
    con.execute(f"delete from {target}.alert_history where as_of = ?", [as_of])
    con.execute(
        f"""
        insert into {target}.alert_history by name
        select sku, location, severity,
               cast(projected_stockout_date as date) as projected_stockout_day,
               stockout_probability,
               cast(round(recommended_order_qty) as bigint) as recommended_order_units,
               {window} as outcome_window_days, cast(? as date) as outcome_through,
               0 as inventory_days, 'pending' as outcome,
               ? as run_id, cast(? as date) as as_of
        from {work}.results.stockout_alerts
        """,
        [as_of, run_id, as_of],
    )
    con.execute(
        f"""
        update {target}.alert_history h set
            outcome_through = k.outcome_through, inventory_days = k.inventory_days,
            outcome = k.outcome, stocked_out = k.stocked_out,
            first_stockout_day = k.first_stockout_day
        from hist_known_outcomes k
        where h.as_of = cast(? as date) and h.sku = k.sku and h.location = k.location
        """,
        [as_of],
    )
    # Outcomes of earlier alerts, from the days after each alert that this run knows; an
    # outcome settled by a run that knew more is kept.
    con.execute(
        f"""
        create or replace temp table hist_outcomes as
        select h.as_of, h.sku, h.location,
               least(h.as_of + h.outcome_window_days, cast(? as date)) as outcome_through,
               cast(count(*) filter (where d.inventory_known) as integer) as inventory_days,
               min(d.date) filter (where d.is_censored) as first_stockout_day,
               h.as_of + h.outcome_window_days <= cast(? as date) as settled
        from {target}.alert_history h
        left join hist_demand d
          on d.sku = h.sku and d.location = h.location
         and d.date > h.as_of and d.date <= h.as_of + h.outcome_window_days
        where h.as_of < cast(? as date)
          and h.outcome_through <= cast(? as date)
          and h.as_of + h.outcome_window_days + {int(settings.rescore_days)} >= cast(? as date)
        group by all
        """,
        [as_of] * 5,
    )
    con.execute(
        f"""
        update {target}.alert_history h set
            outcome_through = o.outcome_through,
            inventory_days = o.inventory_days,
            first_stockout_day = o.first_stockout_day,
            stocked_out = case
                when o.first_stockout_day is not null then true
                when o.settled and o.inventory_days > 0 then false end,
            outcome = case
                when o.first_stockout_day is not null then 'stocked_out'
                when not o.settled then 'pending'
                when o.inventory_days > 0 then 'no_stockout'
                else 'unknown' end
        from hist_outcomes o
        where h.as_of = o.as_of and h.sku = o.sku and h.location = o.location
        """
    )


def _retention(con, target, settings) -> None:
    """Drop as_of's older than the retention, counted back from the newest as_of kept."""
    for table, days in (
        ("forecast_snapshots", settings.snapshot_retention_days),
        ("forecast_accuracy_history", settings.summary_retention_days),
        ("alert_history", settings.summary_retention_days),
    ):
        con.execute(
            f"""
            delete from {target}."{table}"
            where as_of < (select max(as_of) from {target}."{table}") - {int(days)}
            """
        )
