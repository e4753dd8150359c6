"""Candidate forecasters and the panel-native statsforecast forecaster.

Interface shared with ``global_model.py`` and ``features.py``
-----------------------------------------------------------
- A candidate is created by ``build_candidate(name, settings)`` and is an sktime forecaster.
  Panels are sktime ``pd-multiindex`` frames: index levels ``(series_id, date)`` with
  ``series_id = sku + "|" + location`` and a daily ``DatetimeIndex`` level; one column, ``demand``.
- ``"lightgbm_global"`` is ``restock.forecasting.global_model.LightGBMGlobalForecaster(settings)``,
  imported lazily; when that module is missing the candidate is skipped with a warning.
- A candidate that uses exogenous data (sktime tag ``capability:exogenous`` True, or the older
  ``ignores-exogeneous-X`` False) gets ``X = features.build_exogenous(index, demand, promotions,
  events, drivers, products, settings)`` for the fit window (``fit(y, X=..., fh=...)``) and for the
  horizon (``predict(fh, X=...)``); the others get no X.

Which candidates a unit gets (rule)
-----------------------------------
Intermittent methods (croston_sba, tsb, imapa, adida) are only tried on intermittent and lumpy
units; the smoothing / regression models (auto_theta, auto_arima) only on smooth and erratic
units, where demand happens most days. auto_ets is also tried on intermittent and lumpy units
(``settings.smoothing_on_intermittent``): with additive errors it is a seasonal level that the
backtest may prefer on retail slow movers that still sell most weeks (M5); the backtest decides.
seasonal_naive (the benchmark every score is compared with), moving_average, adida_weekly
(weekly totals smoothed and spread back over the weekdays, aggregate.py: order-driven demand)
and lightgbm_global are tried on every unit. auto_arima is off by default and, when on, only tried
on units with at most ``settings.auto_arima_max_series`` series.

``combination`` (on by default) is not fitted itself: it is the equal-weight mean of at most
``settings.combination_size`` of the unit's base candidates chosen by forward selection on the
backtest (the best one, then whichever lowers the mean's RMSSE most; combination.py; seasonal
naive, the benchmark, excluded; small units choose on their demand class pooled, as selection
does; or the fixed ``settings.combination_members`` the unit tries, when at least two). Its
backtest forecasts are the mean of the members' out-of-sample forecasts of each fold (no extra
fit), so it is scored, selected and calibrated like any model, under the name
``combination(a+b+c)`` (:func:`combination_name`); a final or replay forecast fits the members
and averages them (``fitting.forecast_panel`` understands these names). Forecast combinations
are the most reliable accuracy gain of the M competitions.

Why a panel forecaster
----------------------
sktime's per-series statsforecast adapters cost a fixed 5-13 ms per series, fold and model
(40-300x the cost of cheap models, ../shared/STACK_NOTES.md). :class:`StatsForecastPanel` hands
the whole panel to one ``StatsForecast`` call (several models at once, its own ``n_jobs``), which
measured 1.06x raw statsforecast.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence

import numpy as np
import pandas as pd

from restock.forecasting.classify import INTERMITTENT_CLASSES
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: statsforecast-backed candidates (name -> built by ``panel.statsforecast_model``).
STATSFORECAST_CANDIDATES = (
    "seasonal_naive",
    "moving_average",
    "moving_average_long",
    "auto_ets",
    "auto_theta",
    "auto_arima",
    "croston_sba",
    "tsb",
    "imapa",
    "adida",
)
GLOBAL_CANDIDATES = ("lightgbm_global",)
#: Candidates computed in numpy by this package (aggregate.py, robust.py), no statsforecast call.
NUMPY_CANDIDATES = ("adida_weekly", "moving_average_capped")
#: Forecast combination: the equal-weight mean of a unit's best base candidates (see below).
COMBINATION = "combination"
KNOWN_CANDIDATES = (STATSFORECAST_CANDIDATES + NUMPY_CANDIDATES + GLOBAL_CANDIDATES
                    + (COMBINATION,))
INTERMITTENT_ONLY = frozenset({"croston_sba", "tsb", "imapa", "adida"})
CONTINUOUS_ONLY = frozenset({"auto_ets", "auto_theta", "auto_arima"})
#: Fixed complexity order: on a tie the simpler (earlier) model wins.
COMPLEXITY_ORDER = (
    "seasonal_naive",
    "moving_average",
    "moving_average_capped",
    "moving_average_long",
    "adida_weekly",
    "croston_sba",
    "adida",
    "imapa",
    "tsb",
    "auto_ets",
    "auto_theta",
    "auto_arima",
    "lightgbm_global",
    "category_profile",
    # combinations (any ``combination(...)`` name) rank after every base model
)
#: Models whose fit is costly (optimised per series); worth a process pool.
COSTLY = frozenset({"auto_ets", "auto_theta", "auto_arima"})
#: Models whose fitted parameters can be re-applied to new data with ``forward``.
FORWARDABLE = frozenset({"auto_ets", "auto_theta", "auto_arima"})
NAIVE_MODEL = "seasonal_naive"


def combination_name(members: Sequence[str]) -> str:
    """Model name of the equal-weight combination of ``members``: ``combination(a+b+c)``.

    The members are sorted, so the name is a stable, self-describing model name (the
    ``model`` column of every table, the calibration pool key); :func:`combination_members`
    reads them back.
    """
    return f"{COMBINATION}({'+'.join(sorted(members))})"


def is_combination(name: str) -> bool:
    """Whether ``name`` is a combination (the ``combination`` placeholder or a named one)."""
    return name == COMBINATION or (name.startswith(COMBINATION + "(") and name.endswith(")"))


def combination_members(name: str) -> list[str]:
    """The members of a combination name made by :func:`combination_name` (validated)."""
    if not is_combination(name) or name == COMBINATION:
        raise ValueError(f"{name!r} is not a named combination")
    members = name[len(COMBINATION) + 1 : -1].split("+")
    unknown = [m for m in members
               if m not in STATSFORECAST_CANDIDATES + NUMPY_CANDIDATES + GLOBAL_CANDIDATES]
    if unknown or len(members) < 2:
        raise ValueError(f"bad combination {name!r}")
    return members


def check_candidates(names: Sequence[str]) -> list[str]:
    """Validate candidate names; unknown names raise ``ValueError``."""
    unknown = [n for n in names if n not in KNOWN_CANDIDATES]
    if unknown:
        raise ValueError(
            f"unknown forecast candidate(s) {unknown}; known: {', '.join(KNOWN_CANDIDATES)}"
        )
    return list(dict.fromkeys(names))


def candidates_for_unit(
    names: Sequence[str], demand_class: str, n_series: int, settings: ForecastSettings
) -> list[str]:
    """The candidates tried on a unit of ``demand_class`` (see the module's rule)."""
    intermittent = demand_class in INTERMITTENT_CLASSES
    out = []
    for name in check_candidates(names):
        if name in INTERMITTENT_ONLY and not intermittent:
            continue
        if (name in CONTINUOUS_ONLY and intermittent
                and name not in settings.smoothing_on_intermittent):
            continue
        if name == "auto_arima" and n_series > settings.auto_arima_max_series:
            continue
        out.append(name)
    if NAIVE_MODEL not in out:
        out.insert(0, NAIVE_MODEL)  # the benchmark is always scored
    return out


def _default_signals_in_child() -> None:
    """After a fork, the child dies on SIGTERM and raises KeyboardInterrupt on SIGINT.

    statsforecast forks process pools (``multiprocessing.Pool`` for ``fit``, a
    ``ProcessPoolExecutor`` for ``forecast``); ``Pool.terminate`` ends its workers with SIGTERM.
    Under Dagster the parent's SIGTERM handler is Dagster's interrupt handler, which in some
    phases only sets a flag: a worker forked then ignored the SIGTERM, stayed blocked on the
    pool's task-queue lock and the parent waited for it forever (a nightly run hung in
    ``Pool.__exit__``, seen in make test and CI). Registered once, for every fork of a process
    that forecasts."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


os.register_at_fork(after_in_child=_default_signals_in_child)


def dask_client(settings: ForecastSettings):
    """The dask.distributed client of a ``backend = "dask"`` run (None for local runs).

    Connects to ``settings.dask_address`` or, without one, starts a local cluster of
    ``settings.n_jobs`` single-threaded worker processes. The client becomes dask's default
    scheduler, which statsforecast's fugue backend then uses.
    """
    if settings.backend != "dask":
        return None
    from distributed import Client

    if settings.dask_address:
        return Client(settings.dask_address)
    return Client(n_workers=settings.n_jobs, threads_per_worker=1, processes=True,
                  dashboard_address="127.0.0.1:8787")  # issue 17: never 0.0.0.0 by default


def make_panel_forecaster(
    models: Sequence[str], settings: ForecastSettings, n_jobs: int = 1, keep_models: bool = False
):
    """A :class:`~restock.forecasting.panel.StatsForecastPanel` for candidate ``models`` with
    ``settings``' parameters."""
    from restock.forecasting.panel import StatsForecastPanel

    return StatsForecastPanel(
        models=tuple(models),
        season_length=settings.season_length,
        window_size=settings.moving_average_window,
        long_window=settings.long_average_window,
        tsb_alpha_demand=settings.tsb_alpha_demand,
        tsb_alpha_probability=settings.tsb_alpha_probability,
        n_jobs=n_jobs,
        keep_models=keep_models,
        ets_model=settings.ets_model,
        theta_model=settings.theta_model,
        backend=settings.backend,
    )


def build_candidate(name: str, settings: ForecastSettings):
    """The sktime forecaster of candidate ``name``, or None when it cannot be built here.

    Raises ``ValueError`` for an unknown name. Returns None (with a logged warning) for
    ``lightgbm_global`` when ``restock.forecasting.global_model`` is not available.
    """
    check_candidates([name])
    if is_combination(name):
        raise ValueError("a combination is not fitted itself: forecast its members and average")
    if name in STATSFORECAST_CANDIDATES:
        return make_panel_forecaster([name], settings, n_jobs=settings.n_jobs)
    if name in NUMPY_CANDIDATES:
        raise ValueError(f"{name} is computed by fitting.forecast_panel, not an sktime forecaster")
    try:
        from restock.forecasting.global_model import LightGBMGlobalForecaster
    except ImportError as exc:
        logger.warning("candidate %s skipped: global model not available (%s)", name, exc)
        return None
    return LightGBMGlobalForecaster.from_settings(settings)


def uses_exogenous(forecaster) -> bool:
    """Whether an sktime forecaster uses X (tag ``capability:exogenous`` or the older one)."""
    try:
        return bool(forecaster.get_tag("capability:exogenous"))
    except (ValueError, KeyError):
        pass
    try:
        return not bool(forecaster.get_tag("ignores-exogeneous-X"))
    except (ValueError, KeyError):
        return False


def wide_to_panel(
    series_ids: Sequence[str], values: np.ndarray, dates: pd.DatetimeIndex, start: np.ndarray
) -> pd.DataFrame:
    """Wide arrays (series x days) -> sktime pd-multiindex panel, each series from ``start``.

    Parameters
    ----------
    series_ids : sequence of str
    values : ndarray (series x days)
    dates : DatetimeIndex of the columns
    start : ndarray of int
        First column of each series (earlier columns are not history).
    """
    n, t = values.shape
    start = np.clip(np.asarray(start, dtype=int), 0, t)
    lengths = t - start
    rows = np.repeat(np.arange(n), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = np.repeat(start, lengths) + offsets
    index = pd.MultiIndex.from_arrays(
        [np.asarray(series_ids, dtype=object)[rows], dates[cols]], names=["series_id", "date"]
    )
    y = np.nan_to_num(values[rows, cols], nan=0.0)
    return pd.DataFrame({"demand": y}, index=index)


def predictions_to_wide(
    pred: pd.Series, ids: np.ndarray, cutoff: pd.Timestamp, horizon: int
) -> np.ndarray:
    """(series_id, date) forecasts -> array (series x horizon) in the order of ``ids``."""
    arr = np.full((len(ids), horizon), np.nan)
    pos = pd.Index(ids).get_indexer(pred.index.get_level_values(0))
    step = (pd.DatetimeIndex(pred.index.get_level_values(-1)) - cutoff).days.to_numpy() - 1
    ok = (pos >= 0) & (step >= 0) & (step < horizon)
    arr[pos[ok], step[ok]] = pred.to_numpy(dtype=float)[ok]
    return arr
