"""Demand forecasting: classes, candidates, backtests, selection, calibrated quantiles.

Entry points: :func:`run_forecasting` (the nightly), :func:`make_replay_planner` (re-plans at
every review of a policy replay), both through the one forecasting path of ``final.py``
(:class:`PlanInputs`), with :class:`ForecastSettings` (the ``forecast:`` config section).

Modules, top to bottom (each imports only modules below it):

- ``planner``: the replay planner (fits once at the replay start, re-applies at each review).
- ``nightly``: ``run_forecasting``: backtest, selection, calibration, final forecasts, tables.
- ``partitions``: per-category results of the partitioned forecast, on disk.
- ``periods``: week / month feeds forecast at their grain by ``nightly`` and spread to days.
- ``final``: the one forecasting path: final forecasts and quantile tables from a selection.
- ``selection``: the best model per unit (category x demand class) from the backtest scores.
- ``backtest``: rolling-origin backtest: the sampled series, the folds run.
- ``scoring``: per-series scores of each fold, and of each unit's combination.
- ``fitting``: ``forecast_panel`` (fit + forecast a panel at a cutoff), the exogenous inputs.
- ``combination``: the combination candidate's members (forward selection) and their mean.
- ``folds``: the backtest plan for histories of any length, and the fold cutoffs.
- ``calibration``: scaled-error pools, daily and cumulative quantiles.
- ``coldstart``: category profiles for items too young to fit.
- ``features``: exogenous features of the global model.
- ``models``: candidate names, combinations, statsforecast models, panel conversions.
- ``aggregate``: the ``adida_weekly`` candidate (weekly totals spread over the weekdays).
- ``panel``, ``global_model``: the sktime forecasters (StatsForecastPanel, LightGBM global).
- ``classify``: Syntetos-Boylan demand classes, selection units, cold-start flags.
- ``censoring``: the demand panel (series x days), censored days imputed.
- ``metrics``, ``settings``: error measures; settings.

One lazy-import rule: the heavy libraries (sktime, statsforecast, lightgbm, scipy, dask,
holidays) are imported inside the function that uses them, never at a module's top. The two
modules that need sktime at their top to subclass its ``BaseForecaster`` (``panel``,
``global_model``) are imported the same way, inside the functions that build a forecaster.
Everything else (numpy, pandas, pydantic, this package's modules) is imported at the top, so
``import restock.forecasting`` loads no heavy library (tested) and no module imports the
package itself (only its modules), which keeps the import graph free of cycles.
"""

from __future__ import annotations

from restock.forecasting.final import PlanInputs
from restock.forecasting.nightly import ForecastResult, run_forecasting
from restock.forecasting.planner import make_replay_planner
from restock.forecasting.settings import ForecastSettings

__all__ = [
    "ForecastSettings",
    "ForecastResult",
    "PlanInputs",
    "make_replay_planner",
    "run_forecasting",
]
