"""The plausible window of feed values around as_of (docs/DATA_QUALITY.md, "Bounds").

The numbers live here, apart from the SQL that applies them (:mod:`restock.feed.row_checks`),
because preflight and the ingest asset build a :class:`FeedBounds` before any feed is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Plausibility bounds (docs/DATA_QUALITY.md, "Bounds"). Ten years of history cover every shared
# data set (M5 holds 5.4 years) while refusing year 1, 1970 and 9999; the future side is the
# forecast horizon: nothing dated later is used by a run.
DEFAULT_HISTORY_DAYS = 3653
DEFAULT_FUTURE_DAYS = 28  # ForecastSettings.horizon's default
# Largest magnitude of a number column: sums of a few million such values stay exact to the
# unit in a DOUBLE, far from overflowing to inf.
MAX_NUMBER = 1e15
# Largest integer column value (moq, pack_size): exact in a DOUBLE, well inside dbt's BIGINT.
MAX_INTEGER = 2**53
MAX_LEAD_TIME_DAYS = 3653
# A default as_of (no --as-of) never lies after the machine's date plus one day (time zones).
TODAY_SLACK_DAYS = 1
FAR_FUTURE_COLUMNS = {("purchase_orders", "expected_date"), ("purchase_orders", "received_date")}


@dataclass(frozen=True)
class FeedBounds:
    """The plausible window of feed values around as_of.

    Attributes
    ----------
    history_days : int
        A date more than this many days before as_of is quarantined (``<column> before
        <start>``); a promotion starting earlier but ending inside the window is clipped to
        start at the window start (a warning; dbt var ``history_days`` must match).
    future_days : int
        The forecast horizon: drivers, events and promotions starting more than this many days
        after as_of are quarantined (``<column> after <end>``); promotions running past it are
        clipped by dbt. Sales, inventory and PO order dates stay "dated after as_of".
        PO expected / received dates may lie up to ``history_days`` ahead (long lead times).
    today : date, optional
        Caps the default as_of (the latest sale no later than today + 1 day); default: the
        machine's date.
    """

    history_days: int = DEFAULT_HISTORY_DAYS
    future_days: int = DEFAULT_FUTURE_DAYS
    today: date | None = None

    @classmethod
    def from_config(cls, config: object) -> FeedBounds:
        """Bounds for a :class:`restock.config.RestockConfig` (future = forecast.horizon)."""
        forecast = getattr(config, "forecast", None)
        horizon = int(getattr(forecast, "horizon", DEFAULT_FUTURE_DAYS) or DEFAULT_FUTURE_DAYS)
        return cls(future_days=max(horizon, 1))

    def window(self, as_of: date) -> tuple[date, date, date]:
        """(start, horizon end, far end) of the plausible window around ``as_of``."""
        return (
            as_of - timedelta(days=self.history_days),
            as_of + timedelta(days=self.future_days),
            as_of + timedelta(days=self.history_days),
        )

    def latest_default(self) -> date:
        """The latest date a default as_of may take."""
        return (self.today or date.today()) + timedelta(days=TODAY_SLACK_DAYS)

