"""Replenish: reorder lines, stockout alerts, and the policy replay that proves the stockout cut."""


import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.customers import EXPOSURE_TABLE
from assets.forecast import run_forecast_settings
from assets.resources import RestockResource
from assets.settings import WAREHOUSE_POOL
from assets.tables import read_demand, read_mart, read_result, table_metadata, write_result
from restock.errors import UserError
from restock.warehouse import table_exists

#: results table the publication step writes: which nightly (its ingest run) was published last
PUBLISHED_RUN_TABLE = "published_run"
#: the replay tables as published, their types (what an empty one is created with before the
#: first replay); columns not named are DOUBLE
REPLAY_TABLES = ("policy_replay", "policy_replay_comparison")
_REPLAY_TYPES = {
    "policy": "VARCHAR", "category": "VARCHAR", "objective": "VARCHAR", "orders": "BIGINT",
    "inventory_measure": "VARCHAR", "compared_with": "VARCHAR", "headline_measure": "VARCHAR",
    "within_frontier": "BOOLEAN", "is_headline": "BOOLEAN", "conclusive": "BOOLEAN",
    "replay_as_of": "DATE", "replayed_at": "TIMESTAMP",
}


def published_nightly_problem(con) -> str | None:
    """Why the replay cannot run on this work DB (None when it can).

    The replay job plays the marts the last nightly built and publishes them again with its
    result, so that nightly must have been published: a nightly stopped by a blocking check
    left marts nobody may publish.
    """
    if not table_exists(con, "raw", "_run"):
        return "no nightly has run on this warehouse yet: run `restock run` first"
    run_id, as_of = con.execute("select run_id, as_of from raw._run").fetchone()
    published = (con.execute(f"select ingest_run_id from results.{PUBLISHED_RUN_TABLE}")
                 .fetchone() if table_exists(con, "results", PUBLISHED_RUN_TABLE) else None)
    if published is None or published[0] != run_id:
        return (f"the last nightly (run {run_id}, as_of {as_of}) was not published: the replay "
                "plays a published nightly's data; fix that run and run `restock run` again")
    return None


def ensure_replay_tables(con) -> list[str]:
    """Create the replay tables empty when no replay has run yet (publication needs every
    contract table); returns the ones created."""
    from restock.contract import PUBLISHED_TABLES

    created = []
    con.execute("create schema if not exists results")
    for name in REPLAY_TABLES:
        if table_exists(con, "results", name):
            have = {r[0] for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'results' and table_name = ?", [name]).fetchall()}
            if set(PUBLISHED_TABLES[name]) <= have:
                continue
            # a replay of an older Restock (without the columns added since): not publishable
            con.execute(f"drop table results.{name}")
        columns = ", ".join(f'"{c}" {_REPLAY_TYPES.get(c, "DOUBLE")}'
                            for c in PUBLISHED_TABLES[name])
        con.execute(f"create table results.{name} ({columns})")
        created.append(name)
    return created


@dg.asset(
    deps=["demand_forecasts", "fct_stock_position", "fct_lead_times", "dim_products",
          "customer_impact", "dim_locations", "dim_suppliers", "fct_transfer_lanes"],
    group_name="replenish",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def reorder_recommendations(context: dg.AssetExecutionContext, restock: RestockResource):
    """One row per active sku x location: reorder point, order-up-to, the quantity to order now
    and why, from the selected model's calibrated demand quantiles over lead time + review;
    computed after the transfers between locations, then grouped into purchase order proposals
    per supplier (results.transfer_recommendations, purchase_order_proposals,
    purchase_order_lines: written every run, empty when nothing applies)."""
    from restock.inventory import build_reorder_lines, plan_actions

    with restock.connect(read_only=True) as con:
        as_of = restock.run_as_of(con)
        products = read_mart(con, "dim_products")
        stock = read_mart(con, "fct_stock_position")
        lead_times = read_mart(con, "fct_lead_times")
        # ABC / XYZ classes look at the last 52 weeks (restock.inventory.classes)
        demand = read_demand(con, pd.Timestamp(as_of) - pd.Timedelta(weeks=52),
                             columns=("sku", "location", "category", "date", "units_sold"))
        assignments = read_result(con, "series_assignments")
        cumulative = read_result(con, "cumulative_demand_quantiles")
        daily = read_result(con, "demand_forecasts")
        open_orders = read_mart(con, "fct_open_purchase_orders")
        # each item's customers at risk (and the optional service uplift): assets/customers.py
        customers = (read_result(con, EXPOSURE_TABLE)
                     if table_exists(con, "results", EXPOSURE_TABLE) else None)
        locations = read_mart(con, "dim_locations")
        suppliers = read_mart(con, "dim_suppliers")
        lanes = read_mart(con, "fct_transfer_lanes")
    cfg = restock.config
    lines = build_reorder_lines(
        products, stock, lead_times, assignments, cumulative, daily, demand, pd.Timestamp(as_of),
        cfg.replenish, open_purchase_orders=open_orders, customers=customers,
    )
    actions = plan_actions(lines, products, suppliers, lanes, locations, pd.Timestamp(as_of),
                           cfg.actions, cfg.replenish.service_level_average)
    lines = actions.lines
    with restock.connect() as con:
        write_result(con, "reorder_recommendations", lines)
        write_result(con, "transfer_recommendations", actions.transfers)
        write_result(con, "purchase_order_proposals", actions.proposals)
        write_result(con, "purchase_order_lines", actions.po_lines)
    to_order = lines[lines["recommended_order_qty"] > 0] if len(lines) else lines
    rules = actions.proposals["rule_applied"].value_counts().to_dict()
    context.log.info(
        f"{len(lines)} reorder lines, {len(to_order)} with an order to place; "
        f"{len(actions.transfers)} transfers; {len(actions.proposals)} purchase order proposals "
        f"{rules}; {len(actions.unplaced)} positive lines not ordered (stock unknown)")
    return dg.MaterializeResult(
        metadata={**table_metadata(lines), "lines_with_order": len(to_order),
                  "transfers": len(actions.transfers),
                  "units_transferred": float(actions.transfers["qty"].sum()),
                  "purchase_order_proposals": len(actions.proposals),
                  "purchase_order_lines": len(actions.po_lines),
                  "proposal_rules": dg.MetadataValue.json(rules),
                  "lines_not_ordered": len(actions.unplaced)}
    )


@dg.asset(
    deps=["reorder_recommendations"],
    group_name="replenish",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def stockout_alerts(context: dg.AssetExecutionContext, restock: RestockResource):
    """One row per sku x location projected to run out before the next possible delivery."""
    from restock.inventory import build_stockout_alerts

    with restock.connect(read_only=True) as con:
        lines = read_result(con, "reorder_recommendations")
    alerts = build_stockout_alerts(
        lines, restock.config.replenish,
        min_customers_at_risk=restock.config.customers.alert_min_customers_at_risk)
    with restock.connect() as con:
        write_result(con, "stockout_alerts", alerts)
    by_severity = alerts["severity"].value_counts().to_dict() if len(alerts) else {}
    context.log.info(f"{len(alerts)} stockout alerts {by_severity}")
    return dg.MaterializeResult(
        metadata={**table_metadata(alerts, preview_rows=10),
                  "by_severity": dg.MetadataValue.json(by_severity)}
    )


def median_lead_time(products: pd.DataFrame) -> float:
    """The median product's lead time in days (0 when the products give none)."""
    if "lead_time_days" not in products or not products["lead_time_days"].notna().any():
        return 0.0
    return float(pd.to_numeric(products["lead_time_days"], errors="coerce").median())


def feed_grain(con) -> str:
    """The feed's grain as the ingest recorded it (raw._feed), else day."""
    if not table_exists(con, "raw", "_feed"):
        return "day"
    row = con.execute("select grain from raw._feed").fetchone()
    return str(row[0]) if row and row[0] else "day"


@dg.asset(
    deps=["forecast_backtest", "fct_daily_demand", "fct_lead_times", "dim_products",
          "dim_locations", "fct_transfer_lanes"],
    group_name="replenish",
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def policy_replay(context: dg.AssetExecutionContext, restock: RestockResource):
    """One row per policy x parameter x category (and ALL): replayed inventory and stockouts over
    the window before as_of, Restock's policy against the static one, and (replenish.
    replay_transfers) Restock's policy with transfers between locations against without."""
    from restock.forecasting import make_replay_planner
    from restock.inventory import replay_policies, sample_replay_series
    from restock.inventory.baseline_planners import baseline_planners
    from restock.inventory.replay import headline_text, replay_window
    from restock.inventory.replay_transfers import replay_transfer_terms

    cfg = restock.config
    with restock.connect(read_only=True) as con:
        # In its own job the replay plays the marts of the last nightly, which must have been
        # published (in one run with the ingest step, the publication comes after it).
        ingest_run = (con.execute("select run_id from raw._run").fetchone()
                      if table_exists(con, "raw", "_run") else None)
        problem = (published_nightly_problem(con)
                   if ingest_run is None or ingest_run[0] != context.run_id else None)
        if problem:
            raise UserError(problem)
        as_of = pd.Timestamp(restock.run_as_of(con))
        products = read_mart(con, "dim_products")
        settings = run_forecast_settings(cfg, products)
        first = con.execute("select min(date) from marts.fct_daily_demand").fetchone()[0]
        window = replay_window(first or as_of, as_of, cfg.replenish,
                               lead_time_days=median_lead_time(products), grain=feed_grain(con))
        replay_start = window.start
        series = con.execute(
            "select sku, location, any_value(category) as category "
            "from marts.fct_daily_demand where date > cast(? as date) group by all",
            [replay_start.date()],
        ).df()
        played = sample_replay_series(series, cfg.replenish.replay_max_series,
                                      cfg.replenish.replay_seed)
        # the planner backtests at the replay start on the history the forecasts use
        since = replay_start - pd.Timedelta(days=settings.history_days_needed())
        demand = read_demand(con, since, played if len(played) < len(series) else None)
        lead_times = read_mart(con, "fct_lead_times")
        promotions = read_mart(con, "fct_promotion_days")
        events = read_mart(con, "fct_events")
        drivers = read_mart(con, "fct_drivers")
        locations = read_mart(con, "dim_locations")
        lanes = read_mart(con, "fct_transfer_lanes")
    transfer_config = cfg.actions.transfers
    transfers = replay_transfer_terms(
        cfg.replenish.replay_transfers, played, lanes, locations,
        transfer_config.to_settings(cfg.replenish.service_level_average),
        enabled=transfer_config.enabled)
    if len(played) < len(series):
        context.log.info(
            f"replaying a stratified sample of {len(played)} of {len(series)} series "
            f"(replenish.replay_max_series, seed {cfg.replenish.replay_seed})"
        )
    if window.note:
        context.log.warning(window.note)
    started = time.perf_counter()
    # The planner selects and calibrates its models on data up to the replay start (no
    # look-ahead), then re-plans at each review from the data available then.
    planner = make_replay_planner(
        demand, replay_start, settings, promotions=promotions,
        events=events, drivers=drivers, products=products,
    )
    planners = {"recommended": planner} | baseline_planners(
        demand, replay_start, cfg.replenish.replay_baselines)
    replay = replay_policies(
        demand, products, lead_times, planners, replay_start, as_of, cfg.replenish,
        transfers=transfers,
    )
    elapsed = time.perf_counter() - started
    # dated: every nightly until the next replay publishes these rows
    stamp = {"replay_as_of": as_of.date(), "replayed_at": datetime.now(UTC).replace(tzinfo=None)}
    headline = replay.headline_frame().assign(**stamp)
    with restock.connect() as con:
        write_result(con, "policy_replay", replay.rows.assign(**stamp))
        write_result(con, "policy_replay_headline", headline)
        write_result(con, "policy_replay_comparison", replay.comparison_frame().assign(**stamp))
    text = headline_text(replay.headline)
    context.log.info(text)
    return dg.MaterializeResult(
        metadata={**table_metadata(replay.rows), "headline": text, "seconds": round(elapsed, 1),
                  "series_replayed": len(played), "series_in_window": len(series),
                  "transfers_replayed": transfers is not None,
                  "units_transferred": float(replay.transfers["qty"].sum())
                  if len(replay.transfers) else 0.0}
    )
