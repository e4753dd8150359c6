"""Backtest folds: how many, how long, how far apart, and where their cutoffs fall.

Histories of any length (:func:`plan_backtest`, ``n`` = days from the panel's first date to
as_of, ``h`` = backtest horizon, ``m`` = ``settings.min_history_days``):

1. Configured plan: ``settings.folds`` folds ``settings.step_days`` apart, each with ``h`` days
   scored and at least ``m`` days to fit before the first cutoff; fewer folds (down to 1) when
   the history holds fewer.
2. Short history: no fold fits at 1. The fit history needed at the first cutoff is halved
   (``max(m // 2, 3)`` days, four weeks by default), the horizon shortened to what is left
   (``min(h, n - m // 2)``) as long as it covers one season (``min(h, season_length)`` days), the
   step set to that horizon, and as many folds as fit (up to ``settings.folds``).
3. No room for a fold (``n < max(m // 2, 3) + min(h, season_length)``, 35 days by default):
   no backtest. The nightly then selects without a holdout (``nightly.holdout_free_selection``:
   AutoETS, which chooses its own form by AICc on each series' history, where it is a
   candidate and the series hold two seasons; the moving average otherwise) and publishes the
   reason in ``model_selection.reason``.

Every reduction is logged (warning) and kept in :attr:`BacktestPlan.reductions`, which the
nightly returns in ``ForecastResult.adaptations`` for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.forecasting.settings import ForecastSettings


def backtest_horizon(settings: ForecastSettings) -> int:
    """Days scored per fold: ``settings.backtest_horizon`` or else the forecast horizon."""
    return settings.backtest_horizon or settings.horizon


@dataclass(frozen=True)
class BacktestPlan:
    """Folds, horizon, step and fit history of a backtest, adapted to the history's length.

    ``reductions``: one plain sentence per setting reduced (empty when the configured plan
    fits); ``reason``: why there is no fold at all (None when there is one).
    """

    folds: int
    horizon: int
    step: int
    min_history: int
    history_days: int
    reductions: tuple[str, ...] = ()
    reason: str | None = None


def _folds_that_fit(n: int, h: int, step: int, need: int, most: int) -> int:
    folds = most
    while folds > 0 and n - h - (folds - 1) * step < need:
        folds -= 1
    return folds


def plan_backtest(n: int, settings: ForecastSettings) -> BacktestPlan:
    """The backtest plan for ``n`` days of history up to as_of (rules in the module docstring)."""
    h, step, need = backtest_horizon(settings), settings.step_days, settings.min_history_days
    folds = _folds_that_fit(n, h, step, need, settings.folds)
    configured = (f"configured {settings.folds} folds of {h} days every {step} days after "
                  f"{need} days of fit history")
    if folds == settings.folds:
        return BacktestPlan(folds, h, step, need, n)
    if folds > 0:
        return BacktestPlan(folds, h, step, need, n, (
            f"backtest folds {settings.folds} -> {folds}: the history holds {n} days "
            f"({configured})",))
    relaxed = max(need // 2, 3)
    shortest = min(h, settings.season_length)
    h2 = min(h, n - relaxed)
    if h2 >= shortest:
        folds = _folds_that_fit(n, h2, h2, relaxed, settings.folds)
        changes = [f"backtest folds {settings.folds} -> {folds}",
                   f"fit history at the first cutoff {need} -> {relaxed} days"]
        if h2 < h:
            changes.append(f"backtest horizon {h} -> {h2} days")
        if h2 != step:
            changes.append(f"step {step} -> {h2} days")
        return BacktestPlan(folds, h2, h2, relaxed, n, (
            f"{', '.join(changes)}: the history holds {n} days ({configured})",))
    reason = (f"the history holds {n} days, too few for one backtest fold (at least "
              f"{relaxed + shortest} days: {relaxed} to fit and {shortest} to score)")
    return BacktestPlan(0, h, step, need, n, (f"no backtest: {reason}",), reason)


def backtest_cutoffs(
    dates: pd.DatetimeIndex, settings: ForecastSettings, plan: BacktestPlan | None = None
) -> list[pd.Timestamp]:
    """Fold cutoffs (last training day of each fold), oldest first, via sktime's splitter.

    ``plan`` (default: :func:`plan_backtest` of the dates) sets the folds, horizon and step;
    an empty list when the history has no room for a fold.
    """
    from sktime.split import ExpandingWindowSplitter

    n = len(dates)
    plan = plan or plan_backtest(n, settings)
    if plan.folds == 0:
        return []
    h = plan.horizon
    initial = n - h - (plan.folds - 1) * plan.step
    splitter = ExpandingWindowSplitter(
        fh=list(range(1, h + 1)), initial_window=initial, step_length=plan.step
    )
    positions = np.asarray(splitter.get_cutoffs(pd.Series(np.zeros(n), index=dates)), dtype=int)
    return [dates[p] for p in positions[-plan.folds:]]

