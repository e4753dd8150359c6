"""The data contract (../shared/DATA_CONTRACT.md, v1) in code: one source of truth.

Input tables describe the feed; published tables are the interface to BI and must keep their
names and columns (the contract changes only by adding).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: str  # text | number | integer | boolean | date | timestamp
    required: bool = False
    default: object = None
    rule: str = ""


@dataclass(frozen=True)
class InputTable:
    """One table of the input feed."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    date_column: str | None = None  # rows dated after as_of are not used
    future_allowed: bool = False  # promotions, drivers and events may be dated in the future
    one_of: tuple[str, ...] = field(default_factory=tuple)  # at least one of these columns

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the contract columns."""
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no contract column {name!r}")


C = Column

INPUT_TABLES: dict[str, InputTable] = {
    t.name: t
    for t in (
        InputTable(
            "products",
            True,
            (
                C("sku", "text", True, rule="unique, non-empty"),
                C("category", "text", True, rule="non-empty"),
                C("lead_time_days", "number", True, rule=">= 0"),
                C("lead_time_std_days", "number", rule=">= 0"),
                C("name", "text"),
                C("subcategory", "text"),
                C("supplier", "text"),
                C("unit_cost", "number", rule=">= 0"),
                C("unit_price", "number", rule=">= 0"),
                C("moq", "integer", default=1, rule=">= 1"),
                C("pack_size", "integer", default=1, rule=">= 1"),
                C("max_stock", "number", rule="> 0"),
                C("service_level", "number", rule="in (0, 1)"),
                C("active", "boolean", default=True),
            ),
            key=("sku",),
        ),
        InputTable(
            "sales",
            True,
            (
                C("date", "timestamp", True),
                C("sku", "text", True, rule="must exist in products"),
                C("location", "text", True),
                C("quantity", "number", True, rule="negative = return"),
                C("channel", "text", default="all"),
                C("unit_price", "number", rule=">= 0"),
                C("promo", "boolean", default=False),
                C("order_id", "text"),
                C("line_id", "text"),
                C("customer_id", "text"),
            ),
            key=("order_id", "line_id"),
            date_column="date",
        ),
        InputTable(
            "locations",
            False,
            (
                C("location", "text", True, rule="unique"),
                C("name", "text"),
                C("region", "text"),
                C("type", "text", rule="store / dc / online"),
                C("timezone", "text"),
            ),
            key=("location",),
        ),
        InputTable(
            "inventory",
            False,
            (
                C("date", "date", True),
                C("sku", "text", True),
                C("location", "text", True),
                C("on_hand", "number", rule=">= 0"),
                C("stockout_hours", "number", rule="0..24"),
                C("on_order", "number", rule=">= 0"),
            ),
            key=("date", "sku", "location"),
            date_column="date",
            one_of=("on_hand", "stockout_hours"),
        ),
        InputTable(
            "purchase_orders",
            False,
            (
                C("po_id", "text", True),
                C("sku", "text", True),
                C("location", "text", True),
                C("order_date", "date", True),
                C("quantity", "number", True, rule="> 0"),
                C("expected_date", "date"),
                C("received_date", "date"),
                C("received_quantity", "number", rule=">= 0"),
                C("status", "text", rule="open / received / cancelled"),
            ),
            key=("po_id", "sku", "location"),
            date_column="order_date",
        ),
        InputTable(
            "promotions",
            False,
            (
                C("sku", "text"),
                C("category", "text"),
                C("location", "text", rule="empty = all"),
                C("start_date", "date", True),
                C("end_date", "date", True),
                C("discount_pct", "number"),
                C("type", "text"),
            ),
            future_allowed=True,
            one_of=("sku", "category"),
        ),
        InputTable(
            "drivers",
            False,
            (
                C("date", "date", True),
                C("location", "text", rule="empty = all"),
                C("driver", "text", True),
                C("value", "number", True),
            ),
            key=("date", "location", "driver"),
            future_allowed=True,
        ),
        InputTable(
            "events",
            False,
            (
                C("date", "date", True),
                C("location", "text"),
                C("name", "text", True),
                C("type", "text"),
            ),
            future_allowed=True,
        ),
    )
}

# Published tables (schema `marts` of the published file). Each also has run_id and as_of.
PUBLISHED_TABLES: dict[str, tuple[str, ...]] = {
    "demand_forecasts": (
        "sku", "location", "date", "model", "forecast", "p50", "p90", "p95", "p99",
    ),
    "backtest_metrics": (
        "category", "model", "fold", "cutoff", "horizon", "n_series", "mase", "rmsse", "wape",
        "bias", "pinball_p90", "coverage_p90",
    ),
    "model_selection": (
        "category", "demand_class", "selected_model", "score", "runner_up", "runner_up_score",
        "naive_score", "value_added", "reason",
    ),
    "reorder_recommendations": (
        "sku", "location", "category", "model", "on_hand", "on_order", "inventory_position",
        "lead_time_days", "review_days", "lead_time_demand", "safety_stock", "reorder_point",
        "order_up_to", "recommended_order_qty", "days_of_cover", "stockout_probability",
        "service_level_target", "explanation",
        # added with the customer tables (issue 18): regular customers of the item flagged
        # at_risk in customer_stockout_impact, and their spend over 90 days (0 without ids)
        "customers_at_risk", "revenue_at_risk",
    ),
    "stockout_alerts": (
        "sku", "location", "projected_stockout_date", "stockout_probability",
        "recommended_order_qty", "severity", "customers_at_risk", "revenue_at_risk",
    ),
    "policy_replay": (
        "policy", "parameter", "category", "avg_inventory_units", "avg_inventory_value",
        "stockout_rate", "fill_rate", "orders",
        # Added (DATA_CONTRACT v1.1): units as well as days; policy values naive_quantile and
        # auto_ets are the same policy fed by baseline planners; objective of the frontier.
        "demand_units", "lost_units", "objective",
        # Added (issue 19): units shipped between locations (policy recommended_transfers: Restock's
        # frontier with transfers before each review's orders; 0 for the other policies).
        "units_transferred",
        # Added (2026-12-03): the replay runs in its own weekly job (issue 15); every nightly
        # publishes the last replay's rows, dated: the as_of it replayed up to, when it ran.
        "replay_as_of", "replayed_at",
    ),
    # Added (2026-11-25, 7d59e42): each static policy against Restock's frontier at the same average
    # inventory; is_headline marks the row the headline quotes (the smallest cut).
    "policy_replay_comparison": (
        "static_parameter", "inventory_measure", "static_avg_inventory", "static_stockout_rate",
        "restock_stockout_rate_at_same_inventory", "relative_cut", "within_frontier",
        "is_headline",
        # Added (DATA_CONTRACT v1.1): fill rate / lost units at equal inventory and what Restock
        # is compared against (static, naive_quantile, auto_ets: for a planner the static_*
        # columns describe its frontier point, its service level in static_parameter); the
        # measure the headline quotes; whether the replay window was long enough to count.
        "compared_with", "objective", "static_fill_rate", "restock_fill_rate_at_same_inventory",
        "static_lost_units", "restock_lost_units_at_same_inventory", "relative_lost_units_cut",
        "headline_measure", "conclusive",
        # Added (issue 19): rows compared_with = recommended_transfers (Restock's frontier with
        # transfers) carry what transfers add at equal inventory: 1 - with / without on stockout
        # days and on lost units (NaN on the other rows), and the units each point moved.
        "transfers_stockout_cut", "transfers_lost_units_cut", "units_transferred",
        # Added (2026-12-03): as in policy_replay.
        "replay_as_of", "replayed_at",
    ),
    "data_quality_results": ("source", "check", "severity", "passed", "failed_rows", "detail"),
    "quarantine": ("source", "reason", "row", "loaded_at"),
}

#: Columns of the replay tables stamped by the replay job (assets/replenish.py), not by the
#: library's replay: which history it played and when it ran.
REPLAY_STAMP_COLUMNS = ("replay_as_of", "replayed_at")

# Customer tables (issue 18; DATA_CONTRACT.md v1.1), built by restock.customers and written by the
# nightly's customer_impact asset on every run (empty, with these columns, when the feed's sales
# carry no customer_id). Published: merged into PUBLISHED_TABLES below.
CUSTOMER_TABLES: dict[str, tuple[str, ...]] = {
    "customer_stockout_impact": (
        "customer_id", "location", "purchases_90d", "spend_90d", "hits_90d", "repeat_hit",
        "last_hit_date", "items_hit", "churn_risk", "at_risk",
    ),
    "sku_customer_impact": (
        "sku", "location", "regular_customers", "customers_hit_90d", "revenue_at_risk",
    ),
    "stockout_days": ("sku", "location", "date", "stockout_source", "probability"),
}
PUBLISHED_TABLES.update(CUSTOMER_TABLES)

RUN_COLUMNS = ("run_id", "as_of")

# Issue 19 (transfers, purchase orders per supplier): the optional feed tables and the published
# tables of restock.inventory.transfers / purchase_orders. Kept as their own dicts so those
# modules and the docs can name the group, and merged into INPUT_TABLES / PUBLISHED_TABLES below
# (the nightly reads, checks and publishes them; written empty when nothing applies).
ACTION_INPUT_TABLES: dict[str, InputTable] = {
    t.name: t
    for t in (
        InputTable(
            "suppliers",
            False,
            (
                C("supplier", "text", True, rule="unique, non-empty"),
                C("lead_time_days", "number", rule=">= 0; default for its products"),
                C("min_order_value", "number", rule=">= 0; on sum(qty x unit_cost)"),
                C("min_order_units", "number", rule=">= 0"),
                C("order_weekdays", "text", rule="e.g. mon,thu; empty = every day"),
                C("case_size", "integer", rule=">= 1; pack for products without pack_size"),
                C("express_lead_time_days", "number", rule=">= 0; empty = no express"),
                C("express_cost_pct", "number", rule=">= 0; extra cost in % of value"),
            ),
            key=("supplier",),
        ),
        InputTable(
            "transfer_lanes",
            False,
            (
                C("from_location", "text", True),
                C("to_location", "text", True),
                C("lead_time_days", "number", True, rule=">= 0"),
                C("cost_per_unit", "number", default=0.0, rule=">= 0"),
            ),
            key=("from_location", "to_location"),
        ),
    )
}

ACTION_PUBLISHED_TABLES: dict[str, tuple[str, ...]] = {
    "purchase_order_proposals": (
        "supplier", "proposal_id", "order_date", "expected_date", "lines", "units", "value",
        "min_order_met", "rule_applied",
    ),
    "purchase_order_lines": ("proposal_id", "sku", "location", "qty", "reason"),
    "transfer_recommendations": (
        "sku", "from_location", "to_location", "qty", "arrives", "stockout_probability_before",
        "stockout_probability_after", "reason",
    ),
}

INPUT_TABLES.update(ACTION_INPUT_TABLES)  # optional: absent tables change nothing
PUBLISHED_TABLES.update(ACTION_PUBLISHED_TABLES)  # added after the v1 tables, none renamed

# v1.1 BI types (issue 20): a column ADDED beside a contract column whose type BI tools handle
# badly (a day published as a timestamp, a whole-unit quantity as a double). Nothing renamed or
# retyped: the source column stays as it was. publish derives the added column from its source
# (``date``: CAST AS DATE; ``integer``: ROUND then CAST AS BIGINT) unless the results table
# already has a column of that name. Published right after the table's contract columns.
@dataclass(frozen=True)
class TypedColumn:
    """A column added for BI: ``name`` of ``type`` (date | integer) derived from ``source``."""

    name: str
    type: str
    source: str


TYPED_COLUMNS: dict[str, tuple[TypedColumn, ...]] = {
    "demand_forecasts": (TypedColumn("forecast_day", "date", "date"),),
    "backtest_metrics": (TypedColumn("cutoff_day", "date", "cutoff"),),
    "reorder_recommendations": (
        TypedColumn("recommended_order_units", "integer", "recommended_order_qty"),
    ),
    "stockout_alerts": (
        TypedColumn("projected_stockout_day", "date", "projected_stockout_date"),
        TypedColumn("recommended_order_units", "integer", "recommended_order_qty"),
    ),
}

# History (issue 20; DATA_CONTRACT.md v1.1 "History"): append-only tables keyed by as_of,
# carried from run to run by restock.history (a re-run of an as_of replaces that as_of's rows).
# Their run_id and as_of are those of the run that wrote each row, not of the current run, so
# publish_tables takes them apart from PUBLISHED_TABLES (``history=``). The columns, in order,
# before run_id and as_of:
HISTORY_TABLES: dict[str, tuple[str, ...]] = {
    "forecast_snapshots": (
        "sku", "location", "date", "model", "forecast", "p50", "p90", "horizon_day",
    ),
    "forecast_accuracy_history": (
        "snapshot_as_of", "category", "model", "horizon_week", "n_series", "scored_days",
        "complete", "rmsse", "wape", "bias", "spl_p90", "coverage_p90", "naive_rmsse",
        "value_added_vs_naive",
    ),
    "alert_history": (
        "sku", "location", "severity", "projected_stockout_day", "stockout_probability",
        "recommended_order_units", "outcome_window_days", "outcome_through", "inventory_days",
        "outcome", "stocked_out", "first_stockout_day",
    ),
}


def published_columns(table: str) -> tuple[str, ...]:
    """Every column a published table has for sure, in order (extras of results go before
    run_id and as_of): contract columns, then BI-typed columns, for history tables their
    columns; then run_id and as_of."""
    if table in HISTORY_TABLES:
        return (*HISTORY_TABLES[table], *RUN_COLUMNS)
    for group in (PUBLISHED_TABLES, CUSTOMER_TABLES, ACTION_PUBLISHED_TABLES):
        if table in group:
            typed = tuple(c.name for c in TYPED_COLUMNS.get(table, ()))
            return (*group[table], *typed, *RUN_COLUMNS)
    raise KeyError(f"{table!r} is not a published table")
