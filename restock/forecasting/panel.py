"""StatsForecastPanel: a panel-native sktime forecaster running statsforecast models in one call.

A whole unit's panel goes to one ``StatsForecast`` call (its own ``n_jobs``): measured 1.06x raw
statsforecast, where sktime's per-series adapters add 5-13 ms per series, fold and model
(docs/STACK_NOTES). This module imports sktime at its top (the class subclasses
``BaseForecaster``): by the package's lazy-import rule it is imported only inside the functions
that build a forecaster (``models.make_panel_forecaster``). Beside it: the statsforecast model
of each candidate name and the long-format conversions statsforecast reads and writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster, ForecastingHorizon

from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")


def statsforecast_model(name: str, settings: ForecastSettings):
    """The statsforecast model object of a candidate name (alias = the candidate name)."""
    from statsforecast import models as sf

    season = settings.season_length
    makers: dict[str, Callable[[], object]] = {
        "seasonal_naive": lambda: sf.SeasonalNaive(season_length=season, alias=name),
        "moving_average": lambda: sf.WindowAverage(
            window_size=settings.moving_average_window, alias=name
        ),
        "moving_average_long": lambda: sf.WindowAverage(
            window_size=settings.long_average_window, alias=name
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


def forecast_on_dask(sf, long: pd.DataFrame, h: int) -> pd.DataFrame:
    """Run ``StatsForecast.forecast`` on a dask DataFrame (fugue backend) and collect it."""
    import dask.dataframe as dd
    from distributed import default_client

    workers = max(len(default_client().scheduler_info().get("workers", {})), 1)
    frame = dd.from_pandas(long, npartitions=max(2 * workers, 1), sort=False)
    out = sf.forecast(h=h, df=frame)
    out = out.compute() if hasattr(out, "compute") else out
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def _fallback_model(settings: ForecastSettings):
    """Model used by statsforecast when a candidate fails on a series (too short, flat)."""
    from statsforecast.models import WindowAverage

    return WindowAverage(window_size=settings.moving_average_window)


class StatsForecastPanel(BaseForecaster):
    """Panel-native sktime forecaster running statsforecast models in one call.

    Parameters
    ----------
    models : tuple of str
        Candidate names (see ``STATSFORECAST_CANDIDATES``); all are fitted in one
        ``StatsForecast`` call. ``predict`` returns the first model's forecast,
        ``predict_by_model`` every model's.
    season_length, window_size, tsb_alpha_demand, tsb_alpha_probability, ets_model,
    theta_model, long_window : model settings (see ForecastSettings; ``long_window`` is
    ``long_average_window``)
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
        long_window=364,
    ):
        self.models = models
        self.backend = backend
        self.ets_model = ets_model
        self.theta_model = theta_model
        self.season_length = season_length
        self.window_size = window_size
        self.long_window = long_window
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
            long_average_window=self.long_window,
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
                return forecast_on_dask(sf, self._long, h)
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
