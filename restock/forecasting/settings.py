"""Forecasting settings (the `forecast:` section of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, Field

DEFAULT_CANDIDATES = [
    "seasonal_naive",
    "moving_average",
    "auto_ets",
    "auto_theta",
    "croston_sba",
    "tsb",
    "imapa",
    "lightgbm_global",
]


class ForecastSettings(BaseModel):
    """How demand is backtested, selected and forecast."""

    horizon: int = Field(28, ge=1, description="days forecast after as_of")
    folds: int = Field(3, ge=1, description="rolling-origin backtest folds")
    step_days: int = Field(28, ge=1, description="days between backtest cutoffs")
    season_length: int = Field(7, ge=1)
    train_window_days: int = Field(
        730, ge=56, description="most recent days used to fit (bounds cost on long histories)"
    )
    candidates: list[str] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES))
    sample_per_unit: int = Field(
        150, ge=1, description="series backtested per category x demand class (stratified, seeded)"
    )
    seed: int = 42
    n_jobs: int = Field(2, ge=1)
    min_history_days: int = Field(56, ge=1, description="less history than this -> cold start")
    quantile_levels: list[float] = Field(default_factory=lambda: [0.5, 0.9, 0.95, 0.99])
    cumulative_levels: list[float] = Field(
        default_factory=lambda: [
            0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995,
        ]
    )
    holiday_country: str | None = Field("US", description="country code for the holidays package")
    backend: str = Field("local", pattern="^(local|dask)$")
    dask_address: str | None = None
