"""Demand forecasting: classes, candidates, backtests, selection, calibrated quantiles.

Only the settings are imported eagerly: the rest (pandas, sktime, statsforecast) loads on first
use, so ``import restock.forecasting`` stays cheap for the Dagster definitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from restock.forecasting.settings import ForecastSettings

if TYPE_CHECKING:
    from restock.forecasting.pipeline import ForecastResult, run_forecasting
    from restock.forecasting.planner import PlanInputs, make_replay_planner

__all__ = [
    "ForecastSettings",
    "ForecastResult",
    "PlanInputs",
    "make_replay_planner",
    "run_forecasting",
]

_LAZY = {
    "run_forecasting": "restock.forecasting.pipeline",
    "ForecastResult": "restock.forecasting.pipeline",
    "make_replay_planner": "restock.forecasting.planner",
    "PlanInputs": "restock.forecasting.planner",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'restock.forecasting' has no attribute {name!r}")
