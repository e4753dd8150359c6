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
seasonal_naive (the benchmark every score is compared with), moving_average and
lightgbm_global are tried on every unit. auto_arima is off by default and, when on, only tried
on units with at most ``settings.auto_arima_max_series`` series.

``combination`` (on by default) is not fitted itself: it is the equal-weight mean of at most
``settings.combination_size`` of the unit's base candidates chosen by forward selection on the
backtest (the best one, then whichever lowers the mean's RMSSE most; backtest.py; seasonal
naive, the benchmark, excluded; small units choose on their demand class pooled, as selection
does; or the fixed ``settings.combination_members`` the unit tries, when at least two). Its
backtest forecasts are the mean of the members' out-of-sample forecasts of each fold (no extra
fit), so it is scored, selected and calibrated like any model, under the name
``combination(a+b+c)`` (:func:`combination_name`); a final or replay forecast fits the members
and averages them (``backtest.forecast_panel`` understands these names). Forecast combinations
are the most reliable accuracy gain of the M competitions.

Why a panel forecaster
----------------------
sktime's per-series statsforecast adapters cost a fixed 5-13 ms per series, fold and model
(40-300x the cost of cheap models, ../shared/STACK_NOTES.md). :class:`StatsForecastPanel` hands
the whole panel to one ``StatsForecast`` call (several models at once, its own ``n_jobs``), which
measured 1.06x raw statsforecast.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from restock.forecasting.classify import INTERMITTENT_CLASSES
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: statsforecast-backed candidates (name -> built by :func:`statsforecast_model`).
STATSFORECAST_CANDIDATES = (
    "seasonal_naive",
    "moving_average",
    "auto_ets",
    "auto_theta",
    "auto_arima",
    "croston_sba",
    "tsb",
    "imapa",
    "adida",
)
GLOBAL_CANDIDATES = ("lightgbm_global",)
#: Forecast combination: the equal-weight mean of a unit's best base candidates (see below).
COMBINATION = "combination"
KNOWN_CANDIDATES = STATSFORECAST_CANDIDATES + GLOBAL_CANDIDATES + (COMBINATION,)
INTERMITTENT_ONLY = frozenset({"croston_sba", "tsb", "imapa", "adida"})
CONTINUOUS_ONLY = frozenset({"auto_ets", "auto_theta", "auto_arima"})
#: Fixed complexity order: on a tie the simpler (earlier) model wins.
COMPLEXITY_ORDER = (
    "seasonal_naive",
    "moving_average",
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
    unknown = [m for m in members if m not in STATSFORECAST_CANDIDATES + GLOBAL_CANDIDATES]
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


def statsforecast_model(name: str, settings: ForecastSettings):
    """The statsforecast model object of a candidate name (alias = the candidate name)."""
    from statsforecast import models as sf

    season = settings.season_length
    makers: dict[str, Callable[[], object]] = {
        "seasonal_naive": lambda: sf.SeasonalNaive(season_length=season, alias=name),
        "moving_average": lambda: sf.WindowAverage(
            window_size=settings.moving_average_window, alias=name
        ),
        "auto_ets": lambda: sf.AutoETS(
            season_length=season, model=settings.ets_model, alias=name
        ),
        "auto_theta": lambda: sf.AutoTheta(
            season_length=season, model=settings.theta_model, alias=name
        ),
        "auto_arima": lambda: sf.AutoARIMA(season_length=season, alias=name),
        "croston_sba": lambda: sf.CrostonSBA(alias=name),
        "tsb": lambda: sf.TSB(
            alpha_d=settings.tsb_alpha_demand, alpha_p=settings.tsb_alpha_probability, alias=name
        ),
        "imapa": lambda: sf.IMAPA(alias=name),
        "adida": lambda: sf.ADIDA(alias=name),
    }
    if name not in makers:
        raise ValueError(f"{name!r} is not a statsforecast candidate")
    return makers[name]()


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


def _fallback_model(settings: ForecastSettings):
    """Model used by statsforecast when a candidate fails on a series (too short, flat)."""
    from statsforecast.models import WindowAverage

    return WindowAverage(window_size=settings.moving_average_window)


def _base_forecaster():
    from sktime.forecasting.base import BaseForecaster

    return BaseForecaster


def _panel_class():
    """Build (once) the sktime class; sktime is imported only when a forecaster is needed."""
    global _PANEL_CLASS
    if _PANEL_CLASS is not None:
        return _PANEL_CLASS
    base = _base_forecaster()

    class StatsForecastPanel(base):
        """Panel-native sktime forecaster running statsforecast models in one call.

        Parameters
        ----------
        models : tuple of str
            Candidate names (see ``STATSFORECAST_CANDIDATES``); all are fitted in one
            ``StatsForecast`` call. ``predict`` returns the first model's forecast,
            ``predict_by_model`` every model's.
        season_length, window_size, tsb_alpha_demand, tsb_alpha_probability, ets_model,
        theta_model : model settings (see ForecastSettings)
        n_jobs : int
            Processes statsforecast uses (1 = in process).
        keep_models : bool
            Keep the fitted per-series models (``fitted_models_``) so they can be re-applied
            to new data with ``forward`` (the replay planner). Otherwise the memory-light
            ``StatsForecast.forecast`` path is used.
        backend : {"local", "dask"}
            "dask": the panel goes to statsforecast as a dask DataFrame, which statsforecast
            runs through fugue on the current dask.distributed client (see
            :func:`dask_client`); on any failure it falls back to the local path, logged.
        """

        _tags = {
            "authors": ["restock"],
            "y_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
            "X_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
            "capability:multivariate": False,
            "capability:exogenous": False,
            "capability:missing_values": False,
            "capability:insample": False,
            "capability:unequal_length": True,
            "requires-fh-in-fit": False,
            "fit_is_empty": False,
        }
        # nothing is updated incrementally: do not keep copies of y (and skip sktime's warning)
        _config = {"remember_data": False}

        def __init__(
            self,
            models=("seasonal_naive",),
            season_length=7,
            window_size=28,
            tsb_alpha_demand=0.1,
            tsb_alpha_probability=0.1,
            n_jobs=1,
            keep_models=False,
            ets_model="ZNZ",
            theta_model="OTM",
            backend="local",
        ):
            self.models = models
            self.backend = backend
            self.ets_model = ets_model
            self.theta_model = theta_model
            self.season_length = season_length
            self.window_size = window_size
            self.tsb_alpha_demand = tsb_alpha_demand
            self.tsb_alpha_probability = tsb_alpha_probability
            self.n_jobs = n_jobs
            self.keep_models = keep_models
            super().__init__()

        # -- helpers -------------------------------------------------------------------------
        def _settings(self) -> ForecastSettings:
            return ForecastSettings(
                season_length=self.season_length,
                moving_average_window=self.window_size,
                tsb_alpha_demand=self.tsb_alpha_demand,
                tsb_alpha_probability=self.tsb_alpha_probability,
                ets_model=self.ets_model,
                theta_model=self.theta_model,
            )

        def _statsforecast(self):
            from statsforecast import StatsForecast

            settings = self._settings()
            return StatsForecast(
                models=[statsforecast_model(m, settings) for m in self.models],
                freq="D",
                n_jobs=self.n_jobs,
                fallback_model=_fallback_model(settings),
            )

        def _cutoff_ts(self) -> pd.Timestamp:
            cutoff = self.cutoff
            if isinstance(cutoff, pd.Index):
                cutoff = cutoff[-1]
            return pd.Timestamp(cutoff)

        def _run(self, h: int) -> pd.DataFrame:
            sf = self._statsforecast()
            if self.keep_models:
                if not hasattr(self, "_sf_fitted"):
                    self._sf_fitted = sf.fit(self._long)
                return self._sf_fitted.predict(h=h)
            if self.backend == "dask":
                try:
                    return _forecast_on_dask(sf, self._long, h)
                except Exception as exc:  # the local path always works
                    logger.warning("dask backend failed (%s); forecasting locally", exc)
            return sf.forecast(h=h, df=self._long)

        # -- sktime interface ----------------------------------------------------------------
        def _fit(self, y, X=None, fh=None):
            self._single = not isinstance(y.index, pd.MultiIndex)
            self._column = y.columns[0]
            self._long = panel_to_long(y)
            self._cache = None
            if self.keep_models:
                self._sf_fitted = self._statsforecast().fit(self._long)
                self.fitted_models_ = self._sf_fitted.fitted_
                self.series_ids_ = np.asarray(self._sf_fitted.uids)
            if fh is not None:
                self._cache = self._run(int(max(fh.to_relative(self.cutoff))))
            return self

        def _forecasts(self, fh) -> pd.DataFrame:
            steps = np.asarray(fh.to_relative(self.cutoff), dtype=int)
            if steps.min() < 1:
                raise ValueError("StatsForecastPanel forecasts only after the cutoff")
            h = int(steps.max())
            if self._cache is None or self._cache["ds"].nunique() < h:
                self._cache = self._run(h)
            cutoff = self._cutoff_ts()
            wanted = cutoff + pd.to_timedelta(steps, unit="D")
            out = self._cache[self._cache["ds"].isin(wanted)]
            return out

        def predict_by_model(self, fh=None) -> pd.DataFrame:
            """Forecasts of every model: the panel's index, one column per candidate name."""
            self.check_is_fitted()
            if fh is None:
                fh = self.fh
            from sktime.forecasting.base import ForecastingHorizon

            if not isinstance(fh, ForecastingHorizon):
                fh = ForecastingHorizon(fh, is_relative=True)
            out = self._forecasts(fh)
            return long_to_panel(out, list(self.models), single=self._single)

        def _predict(self, fh, X=None):
            out = self._forecasts(fh)
            frame = long_to_panel(out, [self.models[0]], single=self._single)
            frame.columns = [self._column]
            return frame

        @classmethod
        def get_test_params(cls, parameter_set="default"):
            """Parameter sets for sktime's estimator checks."""
            return [{"models": ("seasonal_naive",)}, {"models": ("moving_average", "tsb")}]

    _PANEL_CLASS = StatsForecastPanel
    return StatsForecastPanel


_PANEL_CLASS = None


def __getattr__(name: str):
    # ``from restock.forecasting.models import StatsForecastPanel`` builds the class lazily so
    # importing this module does not import sktime.
    if name == "StatsForecastPanel":
        return _panel_class()
    raise AttributeError(name)


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
    return Client(n_workers=settings.n_jobs, threads_per_worker=1, processes=True)


def _forecast_on_dask(sf, long: pd.DataFrame, h: int) -> pd.DataFrame:
    """Run ``StatsForecast.forecast`` on a dask DataFrame (fugue backend) and collect it."""
    import dask.dataframe as dd
    from distributed import default_client

    workers = max(len(default_client().scheduler_info().get("workers", {})), 1)
    frame = dd.from_pandas(long, npartitions=max(2 * workers, 1), sort=False)
    out = sf.forecast(h=h, df=frame)
    out = out.compute() if hasattr(out, "compute") else out
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def make_panel_forecaster(
    models: Sequence[str], settings: ForecastSettings, n_jobs: int = 1, keep_models: bool = False
):
    """A :class:`StatsForecastPanel` for candidate ``models`` with ``settings``' parameters."""
    cls = _panel_class()
    return cls(
        models=tuple(models),
        season_length=settings.season_length,
        window_size=settings.moving_average_window,
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
    try:
        module = importlib.import_module("restock.forecasting.global_model")
        forecaster_class = module.LightGBMGlobalForecaster
    except (ImportError, AttributeError) as exc:
        logger.warning("candidate %s skipped: global model not available (%s)", name, exc)
        return None
    return forecaster_class(settings)


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


def panel_to_long(y: pd.DataFrame) -> pd.DataFrame:
    """sktime panel (series_id, date) or single series -> statsforecast (unique_id, ds, y)."""
    if isinstance(y.index, pd.MultiIndex):
        uid = y.index.get_level_values(0)
        ds = y.index.get_level_values(-1)
    else:
        uid = np.repeat("series", len(y))
        ds = y.index
    if isinstance(ds, pd.PeriodIndex):
        ds = ds.to_timestamp()
    return pd.DataFrame(
        {"unique_id": np.asarray(uid), "ds": pd.DatetimeIndex(ds),
         "y": y.iloc[:, 0].to_numpy(dtype=float)}
    )


def long_to_panel(long: pd.DataFrame, columns: list[str], single: bool = False) -> pd.DataFrame:
    """statsforecast output -> sktime panel (series_id, date) with the given model columns."""
    if single:
        index = pd.DatetimeIndex(long["ds"].to_numpy(), name="date")
    else:
        index = pd.MultiIndex.from_arrays(
            [long["unique_id"].astype(str).to_numpy(), pd.DatetimeIndex(long["ds"].to_numpy())],
            names=["series_id", "date"],
        )
    return pd.DataFrame({c: long[c].to_numpy(dtype=float) for c in columns}, index=index)


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
