"""What the transfer planner reads (restock.inventory.transfers): its settings, the lanes
between locations, and each line's next possible delivery.

Lanes: the feed's ``transfer_lanes`` (from_location, to_location, lead_time_days,
cost_per_unit), plus, where it has none, a default lane between every ordered pair of locations
of the same region (:func:`resolve_lanes`).

Next possible delivery: L days after the line's next order day. ``days_to_next_order`` (0: a
purchase can be placed today) adds the days until then, and while a line waits for it, the
reorder point its sources keep is the one over the days left until that order can land
(:func:`next_delivery_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.contract import ACTION_INPUT_TABLES
from restock.inventory.transfer_risk import daily_demand_std, numeric_column

LANE_COLUMNS = ACTION_INPUT_TABLES["transfer_lanes"].column_names


@dataclass(frozen=True)
class TransferSettings:
    """How transfers are planned.

    Attributes
    ----------
    default_lanes : bool
        Add a lane between every ordered pair of locations of the same region (locations table)
        where ``transfer_lanes`` has none. Explicit lanes always win.
    default_lane_lead_time_days, default_lane_cost_per_unit : float
        Lead time and cost of those default lanes.
    default_service_level : float
        Target used when a line has no service_level_target.
    min_cut_per_unit : float
        A chunk is moved only when it cuts the destination's stockout probability by at least
        this much per unit (avoids moving 30 units to gain 0.1 point).
    max_chunk : int
        Largest chunk looked at in one greedy step (units); bounds the work per step.
    remaining_interval_reorder_point : bool
        When a line's next purchase can be placed only days from now (``days_to_next_order``
        > 0: in the replay on the days between two order reviews, in the nightly on a day that
        is not its supplier's order day), the reorder point the planner keeps sources at is the
        line's over the days left until that purchase can land (:func:`remaining_reorder_point`,
        applied by :func:`next_delivery_lines`), not over its whole lead time + review period.
    replay_daily_review : bool
        Replay only: plan transfers every day (True) or on order review days only (False; the
        transfer planner is then a small part of the replay's time, see docs/RESULTS.md).
    """

    default_lanes: bool = True
    default_lane_lead_time_days: float = 1.0
    default_lane_cost_per_unit: float = 0.0
    default_service_level: float = 0.95
    min_cut_per_unit: float = 1e-3
    max_chunk: int = 500
    max_steps_per_item: int = 10_000
    remaining_interval_reorder_point: bool = True
    replay_daily_review: bool = True


# ------------------------------------------------------------------------------------------------
# Lanes
# ------------------------------------------------------------------------------------------------
def default_lanes(
    locations: pd.DataFrame | None, lead_time_days: float = 1.0, cost_per_unit: float = 0.0
) -> pd.DataFrame:
    """A lane between every ordered pair of distinct locations that share a (non-empty) region."""
    empty = pd.DataFrame({c: pd.Series(dtype=object if c.endswith("location") else float)
                          for c in LANE_COLUMNS})
    if locations is None or not len(locations) or "region" not in locations:
        return empty
    loc = locations[["location", "region"]].dropna().astype({"region": str})
    loc = loc[loc["region"].str.strip() != ""].drop_duplicates("location")
    pairs = loc.merge(loc, on="region", suffixes=("_from", "_to"))
    pairs = pairs[pairs["location_from"] != pairs["location_to"]]
    if not len(pairs):
        return empty
    return pd.DataFrame({
        "from_location": pairs["location_from"].to_numpy(),
        "to_location": pairs["location_to"].to_numpy(),
        "lead_time_days": float(lead_time_days),
        "cost_per_unit": float(cost_per_unit),
    }).reset_index(drop=True)


def resolve_lanes(
    lanes: pd.DataFrame | None,
    locations: pd.DataFrame | None = None,
    settings: TransferSettings | None = None,
) -> pd.DataFrame:
    """The feed's transfer_lanes, plus default same-region lanes where it has none.

    Lanes are directed; a missing lead time takes the default lane lead time, a missing cost 0.
    Lanes from a location to itself and negative lead times are dropped.
    """
    settings = settings or TransferSettings()
    parts = []
    if lanes is not None and len(lanes):
        given = lanes.copy()
        for col, default in (("lead_time_days", settings.default_lane_lead_time_days),
                             ("cost_per_unit", 0.0)):
            given[col] = pd.to_numeric(given[col], errors="coerce") if col in given else np.nan
            given[col] = given[col].fillna(default)
        given = given[list(LANE_COLUMNS)]
        given = given[(given["from_location"] != given["to_location"])
                      & (given["lead_time_days"] >= 0)]
        parts.append(given.astype({"from_location": str, "to_location": str}))
    if settings.default_lanes:
        parts.append(default_lanes(locations, settings.default_lane_lead_time_days,
                                   settings.default_lane_cost_per_unit))
    parts = [p for p in parts if len(p)]
    if not parts:
        return default_lanes(None)
    out = pd.concat(parts, ignore_index=True)
    # The first (explicit) lane of a pair wins over a default one.
    return out.drop_duplicates(["from_location", "to_location"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Next possible delivery
# ------------------------------------------------------------------------------------------------
def remaining_reorder_point(reorder_point: np.ndarray, protection_demand: np.ndarray,
                            interval: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """A review's reorder point over the part of its protection interval left on a later day.

    The review's reorder point covers demand over ``interval`` (lead time + review period,
    mean ``protection_demand``) at its target; ``remaining`` days later in the cycle (days to
    the next review + lead time) the stock only has to cover those days: mean demand scaled by
    remaining / interval and the safety stock (reorder point - mean) by its square root, as a
    safety stock grows with the spread of demand over the interval. Never above the review's.
    """
    share = np.clip(np.asarray(remaining, dtype=float) / np.maximum(interval, 1e-9), 0.0, 1.0)
    safety = reorder_point - protection_demand
    return np.minimum(protection_demand * share + safety * np.sqrt(share), reorder_point)


def next_delivery_lines(lines: pd.DataFrame, days_to_next_order,
                        settings: TransferSettings | None = None) -> pd.DataFrame:
    """The lines as the planner reads them when a line's next purchase can be placed only
    ``days_to_next_order`` days from now (scalar or one value per line; 0 = today).

    Sets ``days_to_next_order`` (the planner's horizon is then that + the lead time) and, with
    ``settings.remaining_interval_reorder_point`` and a wait > 0, the reorder point of the days
    left until that purchase can land (:func:`remaining_reorder_point` of the line's reorder
    point, lead_time_demand over lead time + review_days, and days_to_next_order + lead time);
    the demand spread stays the one read back from the line's own reorder point
    (``demand_std_daily``). Lines waiting 0 days, or without a finite figure, keep theirs. The
    one rule of the replay (between reviews) and the nightly (suppliers' order weekdays).
    """
    settings = settings or TransferSettings()
    out = lines.copy()
    wait = np.broadcast_to(np.asarray(days_to_next_order, dtype=float), (len(out),))
    out["days_to_next_order"] = wait
    if not (settings.remaining_interval_reorder_point and (wait > 0).any()):
        return out
    # the spread is the line's (read back from its safety stock), the reorder point that of
    # the days left until its next purchase can land
    out["demand_std_daily"] = daily_demand_std(out, settings.default_service_level)
    lead = numeric_column(out, "lead_time_days", 1.0)
    reorder_point = numeric_column(out, "reorder_point", np.nan)
    interval = np.maximum(lead + numeric_column(out, "review_days", 0.0), 1.0)
    with np.errstate(invalid="ignore"):
        rest = remaining_reorder_point(
            reorder_point, numeric_column(out, "lead_time_demand", np.nan), interval, lead + wait)
    out["reorder_point"] = np.where((wait > 0) & np.isfinite(rest), rest, reorder_point)
    return out
