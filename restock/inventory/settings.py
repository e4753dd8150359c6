"""Replenishment settings (the `replenish:` section of the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

OBJECTIVES = ("cycle_service", "fill_rate")
BASELINE_PLANNERS = ("naive_quantile", "auto_ets")


def _default_service_levels() -> dict[str, float]:
    # ABC (value share) x XYZ (variability): valuable, steady items get the highest target.
    return {
        "AX": 0.98, "AY": 0.97, "AZ": 0.95,
        "BX": 0.96, "BY": 0.95, "BZ": 0.92,
        "CX": 0.93, "CY": 0.92, "CZ": 0.90,
    }


class ReplenishSettings(BaseModel):
    """How reorder lines, alerts and the policy replay are computed."""

    review_days: int = Field(7, ge=1, description="days between order reviews")
    service_levels: dict[str, float] = Field(default_factory=_default_service_levels)
    objective: str | None = Field(
        None, pattern="^(cycle_service|fill_rate)$",
        description="what the service targets protect: cycle_service (P(no stockout day in a "
        "review cycle): counts stockout days, the default for store sales) or fill_rate (share "
        "of demanded units served: counts lost units, for order-driven feeds with big lines, "
        "see restock.inventory.objective.suggest_objective). Under fill_rate the exchange curve "
        "allocates per-item fill rates on units lost and the replay headline quotes units. "
        "Unset: follows service_level_mode (kept for older configs); set, it sets that mode",
    )
    service_level_mode: str = Field("cycle", pattern="^(cycle|fill_rate)$")
    fill_rate_per_cycle: bool = Field(
        False, description="fill-rate objective: an item's shortage is the one a review cycle "
        "adds, E[(D_{L+R} - r)+] - E[(D_L - r)+] (periodic review, Silver, Pyke & Peterson), "
        "instead of E[(D_{L+R} - r)+], which counts the shortfall already there when the "
        "order lands again and asks for more stock",
    )
    service_allocation: str = Field(
        "exchange_curve", pattern="^(exchange_curve|class)$",
        description="exchange_curve: per-item cycle-service targets averaging "
        "service_level_average at the least stock value (cycle mode); class: the ABC x XYZ "
        "class targets in service_levels. A product's own service_level wins in both",
    )
    service_level_average: float = Field(
        0.95, gt=0, lt=1, description="mean target of the exchange-curve allocation"
    )
    service_level_bounds: tuple[float, float] = Field(
        (0.7, 0.999), description="lowest and highest target the exchange curve gives an item "
        "(the upper bound also caps the replay's highest average level). Under lost sales a "
        "0.70 target is the 0.63 quantile; a 0.60 floor (0.45 quantile) left dear items with "
        "many stockout days (M5 replay: 46.9% -> 51.8% smallest cut with 0.70)"
    )
    lot_adjustment: bool = Field(
        True,
        description="cycle mode: lower the order-up-to level so that the service level "
        "averaged over the pack/MOQ overshoot of the position meets the target",
    )
    abc_thresholds: tuple[float, float] = (0.8, 0.95)
    xyz_thresholds: tuple[float, float] = (0.5, 1.0)
    replay_days: int = Field(
        91, ge=7,
        description="days the weekly replay plays before as_of, at least: it grows to hold 3 "
        "(replay_min_cycles) protection intervals of the median lead time past its warm-up, "
        "and to a year for weekly or monthly feeds (restock.inventory.replay_setup."
        "replay_days_wanted); never longer than the history allows",
    )
    replay_warmup: bool = Field(
        True,
        description="leave each series' first lead time + 1 days of the replay out of the "
        "metrics (no policy can change them)",
    )
    replay_service_levels: list[float] = Field(
        default_factory=lambda: [0.8, 0.85, 0.9, 0.925, 0.95, 0.98, 0.99, 0.995, 0.998],
        description="Restock's frontier: the headline interpolates linearly between these "
        "points, so gaps overstate Restock's stockout rate between them; the top points reach "
        "the stock of the static rule's longest buffers (static points outside the frontier "
        "are not compared)",
    )
    static_buffer_days: list[float] = Field(default_factory=lambda: [3, 7, 14, 21, 28])
    replay_both_objectives: bool = Field(
        False,
        description="replay every planner's frontier under both objectives (cycle_service and "
        "fill_rate; column objective of policy_replay); the headline quotes the configured one",
    )
    replay_baselines: list[str] = Field(
        default_factory=list,
        description="baseline planners (naive_quantile, auto_ets) replayed through the same "
        "policy on the same days and draws (restock.inventory.baseline_planners): what "
        "forecasting adds, in stockouts. Off in the nightly by default: at M5 size they add "
        "minutes (bench/replay_value_bench.py measures them)",
    )
    replay_min_history_days: int = Field(
        28, ge=7,
        description="days of history the replay keeps before its start (planners, static "
        "average); a short feed shortens the replay window instead of crashing",
    )
    replay_min_cycles: int = Field(
        3, ge=1,
        description="the replay is conclusive when the measured series' median warm-up (lead "
        "time + 1) plus this many protection intervals (lead time + review) fit in its window",
    )
    alert_webhook_url: str | None = None

    # --- reorder lines -------------------------------------------------------------------------
    lead_time_min_receipts: int = Field(
        3, ge=1, description="fct_lead_times overrides products' lead time from this many receipts"
    )
    days_of_cover_cap: float = Field(
        999.0, gt=0, description="days_of_cover when the forecast is zero (and upper cap)"
    )
    order_up_to_review_periods: float = Field(
        0.0, ge=0,
        description="order_up_to = reorder_point + this x mean demand over R (0: (R, S) policy)",
    )
    lost_sales: bool = Field(
        True,
        description="cycle mode: demand that finds no stock is lost (most retail, and the "
        "replay's assumption), so a target t is met at the sqrt(2t - 1) quantile of demand "
        "over the protection interval (policy.lost_sales_quantile); False = backorders, the "
        "target quantile itself",
    )
    cover_earlier_orders: bool = Field(
        False,
        description="with variable lead times, an order covers demand until every order placed "
        "up to the next review has arrived (an earlier one may still be in transit, or hold a "
        "later one back when the supplier delivers in order): protection interval R + "
        "max_i(L_i - i R) instead of R + L (policy.covering_lead_time_atoms). Off by default: "
        "on the demo replay it bought a little less stockout for a little more stock and "
        "overshot low targets",
    )
    # --- stockout alerts -----------------------------------------------------------------------
    alert_probability_threshold: float = Field(
        0.2, gt=0, lt=1, description="alert when P(stockout before the next arrival) exceeds it"
    )
    alert_high_probability: float = Field(0.5, gt=0, lt=1)
    alert_critical_probability: float = Field(0.8, gt=0, lt=1)
    alert_critical_days: int = Field(
        3, ge=0, description="projected stockout within this many days -> critical"
    )
    # --- policy replay -------------------------------------------------------------------------
    replay_seed: int = 42
    replay_max_series: int | None = Field(
        3500, ge=1,
        description="replay at most this many series (a stratified, seeded sample by category; "
        "None = all): the replay is a measurement and its cost grows with the series; 3,500 "
        "plays every series of one M5 store (3,049) and of the demo feed",
    )
    replay_lead_time: str = Field(
        "draw", pattern="^(draw|mean)$", description="replay lead times: seeded draws or the mean"
    )
    replay_deliveries_in_order: bool = Field(
        False,
        description="drawn lead times: a supplier delivers a series' orders in the order they "
        "were placed (an order drawn to arrive before an earlier one waits for it); False lets "
        "orders overtake each other",
    )
    replay_transfers: bool | Literal["auto"] = Field(
        "auto",
        description="also replay Restock's frontier with transfers between locations before "
        "each review's orders (policy recommended_transfers: the nightly's transfer planner on "
        "the simulated positions, lanes' lead times), to show what transfers add at the same "
        "inventory. auto: when actions.transfers is enabled and some replayed item is held at "
        "two locations joined by a lane (the feed's transfer_lanes, or default lanes when "
        "actions.transfers.default_lanes); true: always; false: never",
    )
    static_window_days: int = Field(
        28, ge=7, description="trailing days of average sales used by the static policy"
    )

    @model_validator(mode="after")
    def _objective(self) -> ReplenishSettings:
        mode = {"cycle_service": "cycle", "fill_rate": "fill_rate"}
        if self.objective is None:
            self.objective = "fill_rate" if self.service_level_mode == "fill_rate" \
                else "cycle_service"
        elif "service_level_mode" in self.model_fields_set and \
                mode[self.objective] != self.service_level_mode:
            raise ValueError(f"objective {self.objective!r} contradicts service_level_mode "
                             f"{self.service_level_mode!r} (set objective only)")
        else:
            self.service_level_mode = mode[self.objective]
        unknown = set(self.replay_baselines) - set(BASELINE_PLANNERS)
        if unknown:
            raise ValueError(f"unknown replay_baselines {sorted(unknown)}; "
                             f"known: {list(BASELINE_PLANNERS)}")
        return self

    @field_validator("service_level_bounds")
    @classmethod
    def _bounds(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] < v[1] < 1:
            raise ValueError("service_level_bounds must satisfy 0 < lower < upper < 1")
        return v
