"""Forecasting settings (the `forecast:` section of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, Field

DEFAULT_CANDIDATES = [
    "seasonal_naive",
    "moving_average",
    # the 28-day average with one-off order lines capped (robust.py): measured 2026-12-04 with
    # cold_start_model "select", UCI Online Retail mean RMSSE 0.6733 -> 0.6719 (MA28 0.6778),
    # M5 CA_1 0.7493 (was 0.7497); the backtest keeps it per unit where it scores better
    "moving_average_capped",
    # "adida_weekly" (weekly totals spread over the weekdays, aggregate.py) is available but not
    # a default: on M5 CA_1 (500 series) it moved mean RMSSE 0.7356 -> 0.7376, and on UCI
    # Online Retail Restock still lost to MA28 with it (0.6937 vs 0.6778)
    "auto_ets",
    "auto_theta",
    "croston_sba",
    "tsb",
    "imapa",
    "lightgbm_global",
    # equal-weight mean of the unit's best `combination_size` base candidates (models.py)
    "combination",
]

#: Lags and rolling windows of the global model's features (global_model.py): here, so that
#: ``history_days_needed`` knows the model's lookback without importing sktime.
GLOBAL_LAGS = (1, 2, 3, 4, 5, 6, 7, 14, 21, 28)
GLOBAL_ROLLING_WINDOWS = (7, 28)


class ForecastSettings(BaseModel):
    """How demand is backtested, selected and forecast."""

    horizon: int = Field(28, ge=1, description="days forecast after as_of")
    grain: str | None = Field(
        None,
        pattern="^(day|week|month)$",
        description="time grain of the demand: week / month feeds hold period totals dated "
        "on the period's first day and are forecast at that grain, then spread to days "
        "(periods.py); None = detected from the dates with demand (restock.grain), as the "
        "feed reader records it in raw._feed",
    )
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
    global_max_series: int = Field(
        5000, ge=10,
        description="global models (lightgbm_global) are fitted on at most this many series "
        "(seeded sample) and forecast the others with the fitted trees: bounds memory and time",
    )
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
    from_category_partitions: bool = Field(
        False,
        description="the nightly's forecasts step joins the category_forecasts partitions of "
        "its as_of (one run per category, fanned out over the deployment's executor) instead "
        "of forecasting every series itself; it fails if a category's partition is missing",
    )
    # --- added by the forecasting core (all defaulted) ---
    censored_handling: str = Field(
        "impute",
        pattern="^(impute|none)$",
        description="impute censored (stock-out) days before fitting, or use raw sales ('none')",
    )
    impute_weeks: int = Field(
        4, ge=1, description="same-weekday uncensored days looked back on to impute a censored day"
    )
    max_open_hours_scale: float = Field(
        3.0, ge=1.0, description="cap on the 24 / (24 - stockout_hours) scaling of censored sales"
    )
    stockout_rule: str = Field(
        "learned",
        pattern="^(learned|fixed|open_hours)$",
        description="how days with known stockout_hours are imputed (censoring.py): 'learned' "
        "lifts only days whose stock-out hours show a real sales shortfall in the data, "
        "'fixed' lifts days with at least stockout_min_hours, 'open_hours' scales sales by "
        "24 / (24 - hours) (assumes flat hourly sales; overstates night stock-outs)",
    )
    stockout_min_hours: float = Field(
        12.0,
        ge=0,
        le=24,
        description="stock-out hours from which a day is lifted ('fixed'), and the default "
        "where the data is too thin to learn it ('learned')",
    )
    stockout_shortfall_ratio: float = Field(
        0.9,
        gt=0,
        le=1,
        description="'learned': days with h stock-out hours show a real shortfall when they "
        "sell less than this share of the series' usual same-weekday level",
    )
    stockout_min_bin_days: int = Field(
        30,
        ge=1,
        description="'learned': days behind a category's ratio for one stock-out hour count "
        "before it stands on its own (it is shrunk towards the pooled ratio by this weight)",
    )
    moving_average_window: int = Field(28, ge=1)
    long_average_window: int = Field(
        364,
        ge=1,
        description="days averaged by the moving_average_long candidate (a year); weekly and "
        "monthly feeds try it by default, over 52 weeks / 12 months (periods.py)",
    )
    ets_model: str = Field(
        "ZNZ",
        pattern="^[ZAM][ZNA]d?[ZNAM]$",
        description="model space searched by auto_ets; ZNZ (no trend) measured the same errors "
        "as ZZZ on daily demand at a fraction of the cost (trend candidates multiply the fits)",
    )
    theta_model: str | None = Field(
        "OTM",
        pattern="^(STM|OTM|DSTM|DOTM)$",
        description="theta variant of auto_theta (None = try all four, about 3x the cost)",
    )
    tsb_alpha_demand: float = Field(0.1, gt=0, lt=1)
    tsb_alpha_probability: float = Field(0.1, gt=0, lt=1)
    auto_arima_max_series: int = Field(
        300, ge=0, description="auto_arima is tried only on units with at most this many series"
    )
    backtest_horizon: int | None = Field(
        None,
        ge=1,
        description="days scored per backtest fold (None = horizon); longer horizons are "
        "extrapolated by the calibration",
    )
    costly_window_days: int = Field(
        364,
        ge=56,
        description="most recent days used to fit the costly models (auto_ets, auto_theta, "
        "auto_arima): their fit time grows with the history length",
    )
    selection_tolerance: float = Field(
        0.01, ge=0, description="scores within this relative margin count as a tie"
    )
    selection_min_t: float = Field(
        2.0,
        gt=0,
        description="a model within the tie margin is still not tied with the best when the "
        "best beats it on paired per-series x fold RMSSE by this many standard errors "
        "(inf = plain tolerance rule; selection.py)",
    )
    min_unit_sample: int = Field(
        10,
        ge=1,
        description="units with fewer backtested series choose on their demand class pooled "
        "over all categories",
    )
    calibration_min_samples: int = Field(
        20,
        ge=1,
        description="pools with fewer backtested series-folds than this use a coarser pool",
    )
    daily_quantile_method: str = Field(
        "negbin",
        pattern="^(negbin|scaled)$",
        description="daily quantiles (p50..p99): 'negbin' = negative binomial around each "
        "day's forecast with the series' own dispersion (calibration.py); 'scaled' = the "
        "backtest's scaled-error pools (spread in proportion to the level). Chosen on M5 CA_1 "
        "as of 2016-04-24 (weighted scaled pinball loss at p90/p95/p99 0.93/0.94/0.91 x the "
        "empirical-56-day baseline's, scaled pools 0.99/1.04/1.13); the cumulative quantiles "
        "keep the scaled pools either way",
    )
    cumulative_scale: str = Field(
        "count",
        pattern="^(count|dispersion)$",
        description="scale of the cumulative (lead time + review) errors in the calibration "
        "pools: 'count' = sqrt(level x k), count demand; 'dispersion' = sqrt(level x spread x "
        "k) with each series' own variance / mean of daily demand (calibration.spread_index), "
        "for feeds of large, irregular orders",
    )
    implausible_forecast_multiple: float = Field(
        4.0,
        ge=0,
        description="a series whose forecast total over k days (within its history's length) "
        "is above this multiple of the most it ever sold in k days (at least 1 unit a day) is "
        "re-forecast with the capped moving average, logged (final.replace_implausible); "
        "below the magnitude guard's 5x so that one runaway model does not block the night; "
        "0 = off",
    )
    capped_average_keeps_volume: bool = Field(
        False,
        description="moving_average_capped scales its capped average by the fit window's "
        "units over its capped units, so the capped large orders come back spread over every "
        "day (robust.capped_moving_average); measured in docs/RESULTS.md (2026-12-05)",
    )
    dormant_after_intervals: float = Field(
        0.0,
        ge=0,
        description="a series whose days since its last sale exceed 28 and this many of its "
        "mean intervals between sales over the last 364 days is dormant: the scale of its "
        "final quantiles is its 28-day mean, without the floor of half its 364-day mean that "
        "keeps a slow mover's spread (backtest.series_level); 0 = off (the default). At 3: "
        "UCI Online Retail fill-rate replay 8% less stock at the same fill rate, M5 CA_1 "
        "(300 items) more units lost at high targets (docs/RESULTS.md, 2026-12-05)",
    )
    daily_history_cap: float = Field(
        3.0,
        ge=0,
        description="no daily quantile above this multiple of the larger of the series' best "
        "day of units sold and that day's forecast (calibration.daily_history_cap); 0 = no "
        "cap. Non-count series (FreshRetailNet) take the pooled scaled errors for their "
        "daily quantiles, whose tail crossed the magnitude guard on 21 series",
    )
    cumulative_history_cap: float = Field(
        3.0,
        ge=0,
        description="no cumulative (lead time + review) quantile above this multiple of the "
        "larger of the series' largest k-day demand in its history and its forecast "
        "total over k days (calibration.history_cap); 0 = no cap. The pooled scaled errors "
        "lend wholesale series' huge orders to every series of a pool (UCI Online Retail: "
        "2,571 series over the magnitude guard, nothing published; on M5 CA_1 the cap changed "
        "no score)",
    )
    dispersion_window_days: int = Field(
        28,
        ge=2,
        description="days of recent demand a series' dispersion is estimated from (method of "
        "moments); 28 measured a little better than 56 on M5 CA_1",
    )
    dispersion_shrink_days: float = Field(
        28.0,
        ge=0,
        description="weight in days of the unit's median dispersion against a series' own "
        "estimate (weight days / (days + this) on the series' own)",
    )
    cold_start_shrink_days: float = Field(
        14.0,
        ge=0,
        description="weight (in days) of the category profile against an item's own rate",
    )
    cold_start_model: str = Field(
        "select",
        pattern="^(category_profile|recent_average|select)$",
        description="forecaster of the series younger than min_history_days (coldstart.py): "
        "the category's new-item profile, the item's last moving_average_window days' "
        "average, or 'select': per category, whichever scored lower in a pooled backtest "
        "over the series that were that young at earlier weekly cutoffs (recent_average "
        "scaled by the launch factor that backtest fits). 'select' measured 2026-12-04: UCI "
        "Online Retail 2009-2010 cold starts mean RMSSE 0.4422 -> 0.3099 (MA28 0.3292); M5 "
        "CA_1 has no cold start at 2016-04-24",
    )
    combination_size: int = Field(
        3,
        ge=2,
        description="most base candidates averaged by the 'combination' candidate, chosen by "
        "forward selection on the backtest: the best one, then whichever lowers the mean's "
        "RMSSE most (seasonal naive excluded; combination.py)",
    )
    combination_wins_ties: bool = Field(
        True,
        description="a combination within the tie margin of the best score is selected (it "
        "hedges between models the backtest cannot tell apart); False = ties go to the "
        "simplest model and a combination ranks last (selection.py)",
    )
    combination_members: list[str] | None = Field(
        None,
        description="fixed members of the 'combination' candidate, those the unit tries (at "
        "least two, else the best-by-score rule); None = the unit's combination_size best",
    )
    smoothing_on_intermittent: list[str] = Field(
        default_factory=lambda: ["auto_ets"],
        description="smoothing models (auto_ets, auto_theta, auto_arima) also tried on "
        "intermittent and lumpy units (models.py); [] = smooth and erratic units only",
    )

    def history_days_needed(self) -> int:
        """Days of demand up to as_of that forecasting can use; older rows need not be read.

        The oldest fit window starts ``train_window_days`` before the first backtest cutoff,
        which lies ``(folds - 1) x step_days + backtest horizon`` days before as_of; the global
        model's features look up to its longest lag plus its longest rolling window (plus the
        horizon for its direct strategy) further back, and censored-day imputation
        ``impute_weeks`` weeks. A series first sold before this window is simply old: cold
        start needs only ``min_history_days`` (< this window).
        """
        backtest = (self.folds - 1) * self.step_days + (self.backtest_horizon or self.horizon)
        lookback = max(GLOBAL_LAGS) + max(GLOBAL_ROLLING_WINDOWS) + self.horizon
        return max(self.train_window_days, self.costly_window_days) + backtest + lookback \
            + 7 * self.impute_weeks
