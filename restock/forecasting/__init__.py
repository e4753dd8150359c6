"""Demand forecasting: classes, candidates, backtests, selection, calibrated quantiles."""

from restock.forecasting.settings import ForecastSettings

__all__ = ["ForecastSettings"]
