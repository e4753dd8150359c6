"""The replay planner of a weekly or monthly feed: it re-plans at the feed's grain.

A week or month feed is forecast at its grain by the nightly (periods.py). Its replay used to
re-plan the period totals as daily series (one big day, six empty ones), with daily models,
a daily backtest and a daily calibration: not what the nightly publishes. Here the replay sees
what the nightly would have seen on the night of each review:

1. Once, at the replay start: the demand is summed into periods on the period grid of
   periods.py (``to_periods``, every period of the demand given, so that later reviews find
   theirs), and the selection and calibration are those of the period forecast (the
   backtest in periods, on the periods starting on or before the replay start only), unless
   the caller passes them (they must then be the periods', e.g. from ``run_forecasting`` on the
   same feed). The daily planner (``daily_planner``, the planner module's ReplayPlanner) is
   built on the grid with the period settings (``period_settings``): it fits the costly
   models once and re-applies them at each review, as for a daily feed.
2. At a review on day ``t``: the periods that started on or before ``t`` are history (a period
   holds its recorded total from its first day, as in the feed and in the replay's demand),
   the inner planner forecasts the next periods, and ``tables_to_days`` spreads them over the
   days from ``t + 1`` exactly as the nightly does (daily rates, cumulative quantiles of period
   totals interpolated inside a period).

``planner.make_replay_planner`` hands week and month feeds to this class, with the daily
planner class as ``daily_planner`` (so that this module does not import the planner).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from restock.forecasting.calibration import Calibration
from restock.forecasting.final import PlanInputs
from restock.forecasting.periods import (
    GRID_ORIGIN,
    next_period,
    period_settings,
    tables_to_days,
    to_periods,
)
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")


class PeriodReplayPlanner:
    """Callable ``planner(t) -> PlanInputs`` for a week or month feed (module docstring)."""

    def __init__(
        self,
        demand: pd.DataFrame,
        as_of: pd.Timestamp,
        settings: ForecastSettings,
        grain: str,
        selection: pd.DataFrame | None = None,
        calibration: Calibration | None = None,
        products: pd.DataFrame | None = None,
        *,
        daily_planner: Callable[..., Callable[[pd.Timestamp], PlanInputs]],
    ) -> None:
        from restock.forecasting.nightly import select_and_calibrate

        started = time.perf_counter()
        self.grain = grain
        self.settings = settings
        self.as_of = pd.Timestamp(as_of).normalize()
        last = max(pd.to_datetime(demand["date"]).max().normalize(), self.as_of)
        totals, self.starts, _ = to_periods(demand, last, grain)
        self.inner_settings = period_settings(settings, grain)
        grid_as_of = GRID_ORIGIN + pd.Timedelta(days=self._period_index(self.as_of))
        if selection is None or calibration is None:
            logger.info("replay planner (%s grain): no selection/calibration given, running the "
                        "backtest in %ss at %s", grain, grain, self.as_of.date())
            history = totals[pd.to_datetime(totals["date"]) <= grid_as_of]
            chosen, fitted = select_and_calibrate(history, grid_as_of, self.inner_settings,
                                                  products=products)
            selection = chosen if selection is None else selection
            calibration = fitted if calibration is None else calibration
        self.inner = daily_planner(totals, grid_as_of, self.inner_settings, selection,
                                   calibration)
        logger.info("replay planner at %s grain ready: %d %ss from %s, in %.1f s", grain,
                    len(self.starts), grain, self.starts[0].date(),
                    time.perf_counter() - started)

    def _period_index(self, t: pd.Timestamp) -> int:
        """Index of the last period that started on or before ``t`` (its grid day)."""
        i = int(np.searchsorted(self.starts.asi8, pd.Timestamp(t).value, side="right")) - 1
        if i < 0:
            raise ValueError(f"review date {pd.Timestamp(t).date()} is before the first "
                             f"{self.grain} of the demand ({self.starts[0].date()})")
        return i

    def __call__(self, t: pd.Timestamp) -> PlanInputs:
        """Forecasts and cumulative quantiles in days from the periods started by ``t``."""
        t = pd.Timestamp(t).normalize()
        i = self._period_index(t)
        plan = self.inner(GRID_ORIGIN + pd.Timedelta(days=i))
        first_forecast = next_period(self.starts[i], self.grain)
        daily, cumulative = tables_to_days(plan.daily, plan.cumulative, t,
                                           self.settings.horizon, self.inner_settings.horizon,
                                           first_forecast, self.grain)
        return PlanInputs(daily=daily, cumulative=cumulative)
