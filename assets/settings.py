"""Settings the stages share: the dbt project, the writer pool, the forecast's reach and the
run's forecast settings (read by forecasting, the replay and the customer step).

Project-wide policies of the job (retry policy, executor) live with the job in pipelines/jobs.py.
"""

from __future__ import annotations

import math

import pandas as pd

from restock.dbt_project import DBT_PROJECT_DIR

# One writer at a time: every asset that writes the work DB runs in this pool (limit 1 in
# pipelines/instance/dagster.yaml) and the nightly job runs its steps in one process.
WAREHOUSE_POOL = "restock_warehouse"

# The forecast reaches at most this far (it grows to cover lead time + review); dbt expands
# known future promotions over the same span so the forecast sees every one it covers.
MAX_FORECAST_HORIZON_DAYS = 365

def forecast_horizon(products: pd.DataFrame, base_horizon: int, review_days: int) -> int:
    """Days to forecast: the configured horizon, raised to cover the longest protection interval.

    Reorder points need demand over lead time + review period (plus two standard deviations of
    lead time), so the forecast must reach that far; capped at MAX_FORECAST_HORIZON_DAYS.
    """
    if products.empty or "lead_time_days" not in products:
        return base_horizon
    std = products.get("lead_time_std_days", pd.Series(0.0, index=products.index)).fillna(0.0)
    longest = float((products["lead_time_days"].fillna(0) + 2 * std).max()) + review_days
    return int(min(MAX_FORECAST_HORIZON_DAYS, max(base_horizon, math.ceil(longest))))


def run_forecast_settings(cfg, products: pd.DataFrame):
    """The run's ForecastSettings: the horizon grows to cover the longest lead time + review;
    the backtest stays at the configured horizon and longer cumulative quantiles are
    extrapolated from it."""
    return cfg.forecast.model_copy(
        update={
            "horizon": forecast_horizon(products, cfg.forecast.horizon,
                                        cfg.replenish.review_days),
            "backtest_horizon": cfg.forecast.backtest_horizon or cfg.forecast.horizon,
        }
    )


__all__ = ["DBT_PROJECT_DIR", "MAX_FORECAST_HORIZON_DAYS", "WAREHOUSE_POOL", "forecast_horizon",
           "run_forecast_settings"]
