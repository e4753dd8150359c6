"""One LightGBM model over all series of a panel: an sktime forecaster.

A global model learns the shape of demand (weekly pattern, promotion lift, holiday effects) from
every series at once, which suits short and intermittent series that are too thin for a model of
their own. Each series is divided by its mean level so the trees learn relative patterns; the
level comes back as a feature (log mean) and as the multiplier of the prediction.

Strategies (no future actual is ever a feature):

- ``recursive`` (default): a one-step model on lags 1..7, 14, 21, 28 and rolling statistics of
  past demand; the horizon is predicted day by day, each day's prediction feeding the next
  day's lags.
- ``direct``: one model whose lags all reach back at least ``horizon`` days, so every
  horizon day is predicted from actuals only (fh must then stay within ``horizon``).

Exogenous ``X`` (e.g. :func:`restock.forecasting.features.build_exogenous`) is used at the
target date; it must cover the fit window and, in ``predict``, the horizon. This module imports
sktime at import time: by the package's lazy-import rule it is imported only inside the
functions that build the forecaster (``models.build_candidate``).

As in sktime's extension templates, ``__init__`` takes plain hyperparameters (the
``forecast:`` settings are mapped onto them by ``models.build_candidate``): the forecaster
does not take the whole :class:`~restock.forecasting.settings.ForecastSettings`.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from restock.forecasting.settings import GLOBAL_LAGS as DEFAULT_LAGS
from restock.forecasting.settings import GLOBAL_ROLLING_WINDOWS as ROLLING_WINDOWS

logger = logging.getLogger("restock.forecasting")

#: a series needs this many observed days before its days become training rows
MIN_HISTORY = 7
_SINGLE = "__series__"


def _rolling(values: np.ndarray, end: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware mean and std of ``values[:, e - window : e]`` for each column end ``e``.

    ``values`` is (series, days); ``end`` holds exclusive end positions. Returns two
    (series, len(end)) arrays; NaN where the window holds no observation.
    """
    filled = np.nan_to_num(values, nan=0.0)
    seen = (~np.isnan(values)).astype(np.float64)
    zeros = np.zeros((values.shape[0], 1))
    csum = np.concatenate([zeros, np.cumsum(filled, axis=1)], axis=1)
    csq = np.concatenate([zeros, np.cumsum(filled * filled, axis=1)], axis=1)
    ccount = np.concatenate([zeros, np.cumsum(seen, axis=1)], axis=1)
    hi = np.clip(end, 0, values.shape[1])
    lo = np.clip(end - window, 0, values.shape[1])
    n = ccount[:, hi] - ccount[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (csum[:, hi] - csum[:, lo]) / n
        var = (csq[:, hi] - csq[:, lo]) / n - mean * mean
    mean[n == 0] = np.nan
    std = np.sqrt(np.clip(var, 0.0, None))
    std[n < 2] = np.nan
    return mean, std


def _import_lightgbm():
    """Import lightgbm with passive OpenMP waiting unless the user chose a policy.

    LightGBM's OpenMP threads spin while they wait; when the 2 cores are shared with other
    work (statsforecast workers, a second run) that spinning starved the fit: measured on this
    machine under load, 30 series took 52 s wall / 10 s CPU with 2 threads against 3.9 s /
    0.7 s with passive waiting. The policy is read when lightgbm's OpenMP runtime loads.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import lightgbm

    return lightgbm


class LightGBMGlobalForecaster(BaseForecaster):
    """Global LightGBM demand forecaster over a panel of daily series.

    Parameters
    ----------
    horizon : int
        Days forecast by the direct strategy (``ForecastSettings.horizon``).
    train_window_days : int
        Days of targets per series used to fit (``ForecastSettings.train_window_days``).
    seed : int
        Seed of LightGBM and of the row subsample.
    n_jobs : int
        LightGBM threads.
    strategy : {"recursive", "direct"}
        See the module docstring.
    n_estimators, learning_rate, num_leaves, min_data_in_leaf : LightGBM size knobs; small by
        default so a fit over 1,000 series x 730 days stays well under a minute on 2 cores.
    objective : {"tweedie", "poisson"}
        Count-data objectives (log link), so predictions are >= 0.
    tweedie_variance_power : float
        In (1, 2); nearer 1 behaves like Poisson, nearer 2 suits many zeros with rare bursts.
    lags : tuple of int or None
        Lags of the recursive model (default :data:`DEFAULT_LAGS`); the direct model shifts
        them by ``horizon - 1``.
    max_train_rows : int
        Training rows beyond this are subsampled (seeded) to bound the fit time.

    Examples
    --------
    >>> from sktime.utils._testing.hierarchical import _make_hierarchical
    >>> from restock.forecasting.global_model import LightGBMGlobalForecaster
    >>> y = _make_hierarchical((4,), min_timepoints=60, max_timepoints=60, random_state=0)
    >>> forecaster = LightGBMGlobalForecaster(n_estimators=10).fit(y, fh=[1, 2, 3])
    >>> y_pred = forecaster.predict()
    >>> len(y_pred)
    12
    """

    _tags = {
        "authors": ["restock"],
        "python_dependencies": "lightgbm",
        "y_inner_mtype": ["pd-multiindex", "pd_multiindex_hier", "pd.DataFrame"],
        "X_inner_mtype": ["pd-multiindex", "pd_multiindex_hier", "pd.DataFrame"],
        "capability:multivariate": False,
        "capability:exogenous": True,
        "capability:insample": False,
        "capability:pred_int": False,
        "capability:missing_values": True,
        "capability:update": True,
        "requires-fh-in-fit": False,
        "X-y-must-have-same-index": False,
        "fit_is_empty": False,
    }
    # no native update(): keeping a second copy of every fitted panel in _y/_X only costs memory
    _config = {"remember_data": False}

    def __init__(
        self,
        horizon: int = 28,
        train_window_days: int = 730,
        seed: int = 42,
        n_jobs: int = 2,
        strategy: str = "recursive",
        n_estimators: int = 150,
        learning_rate: float = 0.08,
        num_leaves: int = 63,
        min_data_in_leaf: int = 100,
        objective: str = "tweedie",
        tweedie_variance_power: float = 1.2,
        lags: tuple[int, ...] | None = None,
        max_train_rows: int = 1_500_000,
    ) -> None:
        self.horizon = horizon
        self.train_window_days = train_window_days
        self.seed = seed
        self.n_jobs = n_jobs
        self.strategy = strategy
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.lags = lags
        self.max_train_rows = max_train_rows
        super().__init__()
        self._y = None  # remember_data is off; sktime's checks still read these
        self._X = None
        if strategy not in ("recursive", "direct"):
            raise ValueError(f"strategy must be 'recursive' or 'direct', not {strategy!r}")
        if objective not in ("tweedie", "poisson"):
            raise ValueError(f"objective must be 'tweedie' or 'poisson', not {objective!r}")

    @classmethod
    def from_settings(cls, settings, **params) -> LightGBMGlobalForecaster:
        """A forecaster with the hyperparameters a ``ForecastSettings`` holds (+ ``params``)."""
        return cls(horizon=settings.horizon, train_window_days=settings.train_window_days,
                   seed=settings.seed, n_jobs=settings.n_jobs, **params)

    # ------------------------------------------------------------------ layout helpers
    def _gap(self) -> int:
        """Days between the newest value a feature may use and the target day."""
        return 1 if self.strategy == "recursive" else self.horizon

    def _lag_list(self) -> list[int]:
        lags = sorted(set(self.lags or DEFAULT_LAGS))
        gap = self._gap()
        return [lag + gap - 1 for lag in lags]

    @staticmethod
    def _split_index(obj: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
        """Instance keys (one per row) and the row time points, for any of the inner mtypes."""
        if isinstance(obj.index, pd.MultiIndex):
            inst = (
                obj.index.droplevel(-1)
                if obj.index.nlevels > 2
                else obj.index.get_level_values(0)
            )
            times = obj.index.get_level_values(-1)
        else:
            inst = pd.Index([_SINGLE] * len(obj))
            times = obj.index
        return inst, times

    def _learn_time_axis(self, times: pd.Index) -> None:
        """Fix the grid's kind, step and origin from the fitted time points."""
        if isinstance(times, pd.PeriodIndex):
            self._time_kind_, self._freq_ = "period", times.freq
            self._step_ = 1
        elif isinstance(times, pd.DatetimeIndex):
            self._time_kind_, self._freq_ = "datetime", None
            unique = times.unique().sort_values()
            diffs = unique[1:] - unique[:-1]
            # daily demand is the normal case; other regular steps (weekly parts) work too
            self._step_ = diffs.min() if len(diffs) else pd.Timedelta(days=1)
        else:
            self._time_kind_, self._freq_, self._step_ = "int", None, 1

    def _to_positions(self, times: pd.Index, origin=None) -> np.ndarray:
        """Time points -> integer steps since ``origin`` (default: the grid's origin)."""
        origin = self._origin_ if origin is None else origin
        if self._time_kind_ == "period":
            return pd.PeriodIndex(times).asi8.astype(np.int64) - int(origin)
        if self._time_kind_ == "datetime":
            delta = pd.DatetimeIndex(times) - origin
            return np.asarray(delta // self._step_, dtype=np.int64)
        return np.asarray(times, dtype=np.int64) - int(origin)

    def _origin_of(self, times: pd.Index):
        """The grid origin for time points ``times`` (their first point)."""
        if self._time_kind_ == "period":
            return int(pd.PeriodIndex(times).asi8.min())
        if self._time_kind_ == "datetime":
            return pd.DatetimeIndex(times).min()
        return int(np.min(np.asarray(times)))

    def _to_times(self, positions: np.ndarray) -> pd.Index:
        """Integer grid positions -> time points of the fitted kind."""
        positions = np.asarray(positions, dtype=np.int64)
        if self._time_kind_ == "period":
            return pd.PeriodIndex.from_ordinals(self._origin_ + positions, freq=self._freq_)
        if self._time_kind_ == "datetime":
            return pd.DatetimeIndex(self._origin_ + positions * self._step_)
        return pd.Index(self._origin_ + positions)

    def _positions(self, obj: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Row -> (series code, grid position); code -1 for series not seen in fit."""
        inst, times = self._split_index(obj)
        return self._keys_.get_indexer(inst), self._to_positions(times)

    def _grid(self, obj: pd.DataFrame, columns: list[str], n_days: int, offset: int) -> dict:
        """Pivot columns of ``obj`` onto a (series, n_days) grid starting at day ``offset``."""
        codes, days = self._positions(obj)
        days = days - offset
        ok = (codes >= 0) & (days >= 0) & (days < n_days)
        out = {}
        for col in columns:
            grid = np.full((len(self._keys_), n_days), np.nan, dtype=np.float64)
            grid[codes[ok], days[ok]] = obj[col].to_numpy(dtype=np.float64)[ok]
            out[col] = grid
        return out

    # ------------------------------------------------------------------ features
    def _features(
        self, norm: np.ndarray, target: np.ndarray, first: int, exog: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Feature arrays (series, len(target)) for target days ``target`` (grid positions).

        ``norm`` holds the normalised demand on the grid (NaN = unknown); only positions
        ``<= target - gap`` are read. ``exog`` arrays are already aligned with ``target``.
        ``first`` is the grid day of ``norm[:, 0]``.
        """
        gap = self._gap()
        rel = target - first
        feats: dict[str, np.ndarray] = {}
        for lag in self._lag_list():
            pos = rel - lag
            col = np.full((norm.shape[0], len(rel)), np.nan)
            valid = pos >= 0
            col[:, valid] = norm[:, pos[valid]]
            feats[f"lag_{lag}"] = col
        end = rel - gap + 1  # exclusive end: the newest usable day is target - gap
        for window in ROLLING_WINDOWS:
            mean, std = _rolling(norm, end, window)
            feats[f"roll_mean_{window}"] = mean
            feats[f"roll_std_{window}"] = std
        zero = np.where(np.isnan(norm), np.nan, (norm == 0).astype(np.float64))
        feats["zero_share_28"], _ = _rolling(zero, end, 28)
        shape = (norm.shape[0], len(target))
        times = self._to_times(target)
        if self._time_kind_ != "int":
            dates = times.to_timestamp() if self._time_kind_ == "period" else times
            calendar = {
                "day_of_week": dates.dayofweek,
                "day_of_month": dates.day,
                "week_of_year": dates.isocalendar().week,
                "month": dates.month,
            }
            for name, value in calendar.items():
                feats[name] = np.broadcast_to(np.asarray(value, dtype=float), shape)
        feats["log_level"] = np.broadcast_to(np.log1p(self._scale_)[:, None], shape)
        for col in self._x_columns_:
            feats[f"x_{col}"] = exog[col]
        return feats

    # ------------------------------------------------------------------ sktime API
    def _fit(self, y: pd.DataFrame, X: pd.DataFrame | None = None, fh=None):
        """Fit one LightGBM model on all series of ``y`` (with ``X`` at the target dates)."""
        lgb = _import_lightgbm()

        started = time.perf_counter()
        self._y_name_ = y.columns[0] if isinstance(y, pd.DataFrame) else (y.name or "y")
        self._index_names_ = list(y.index.names)
        inst, times = self._split_index(y)
        self._keys_ = inst.unique()
        self._learn_time_axis(times)
        lookback = max(self._lag_list()) + max(ROLLING_WINDOWS) + self._gap()
        first_point = self._origin_of(times)
        span = int(self._to_positions(times, origin=first_point).max())
        # bound cost on long histories: targets from the train window, plus their lookback
        skip = max(0, span - self.train_window_days - lookback)
        shift = skip * self._step_ if self._time_kind_ == "datetime" else skip
        self._origin_ = first_point + shift
        n_days = span - skip + 1
        values = self._grid(y, [y.columns[0]], n_days, 0)[y.columns[0]]
        values[values < 0] = 0.0  # returns never make demand negative

        target_lo = max(0, n_days - self.train_window_days)
        scale = np.nanmean(np.where(np.arange(n_days) >= target_lo, values, np.nan), axis=1)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self._scale_ = scale
        norm = values / scale[:, None]

        self._x_columns_ = (
            [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])] if X is not None else []
        )
        exog = self._grid(X, self._x_columns_, n_days, 0) if X is not None else {}

        observed = ~np.isnan(values)
        first_seen = np.where(observed.any(axis=1), observed.argmax(axis=1), n_days)
        target = np.arange(target_lo, n_days)
        feats = self._features(norm, target, 0, {c: g[:, target] for c, g in exog.items()})
        rows = observed[:, target] & (target[None, :] >= first_seen[:, None] + MIN_HISTORY)
        if not rows.any():
            # only very short series: learn from whatever history there is
            rows = observed[:, target] & (target[None, :] > first_seen[:, None])
        n_rows = int(rows.sum())
        self._history_first_ = max(0, n_days - lookback - 1)
        self._history_ = norm[:, self._history_first_ :]
        self._n_days_ = n_days
        if n_rows < 2:
            # nothing to learn a pattern from: forecast each series' level (booster None)
            logger.warning("lightgbm_global: too little history, forecasting series means")
            self._booster_ = None
            self._feature_names_ = list(feats)
            return self
        self._feature_names_ = list(feats)
        matrix = np.empty((n_rows, len(feats)), dtype=np.float32)
        for j, name in enumerate(self._feature_names_):
            matrix[:, j] = feats[name][rows]
        label = norm[:, target][rows]
        if n_rows > self.max_train_rows:
            keep = np.random.default_rng(self.seed).choice(
                n_rows, self.max_train_rows, replace=False
            )
            keep.sort()
            matrix, label = matrix[keep], label[keep]

        categorical = [n for n in self._feature_names_ if n == "x_category_code"]
        params = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "max_bin": 127,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbose": -1,
        }
        if self.objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        data = lgb.Dataset(
            matrix,
            label=label,
            feature_name=self._feature_names_,
            categorical_feature=categorical or "auto",
            free_raw_data=True,
        )
        self._booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        logger.info(
            "lightgbm_global: fitted %d series, %d rows, %d features in %.1f s",
            len(self._keys_),
            len(label),
            len(self._feature_names_),
            time.perf_counter() - started,
        )
        return self

    def _update(self, y: pd.DataFrame, X: pd.DataFrame | None = None, update_params: bool = True):
        """Take in new demand without refitting the trees (cheap re-plans).

        New observations extend each series' history, so lags and rolling statistics of the
        next ``predict`` start from the new cutoff; series unknown at fit time are ignored.
        ``update_params`` is accepted but the booster and the series levels are kept.
        """
        if self._booster_ is None and update_params:
            return self._fit(y, X=X)
        codes, pos = self._positions(y)
        ok = codes >= 0
        if (~ok).any():
            logger.warning("lightgbm_global: update ignores %d rows of unknown series", (~ok).sum())
        last = max(int(pos[ok].max()) if ok.any() else 0, self._n_days_ - 1)
        first = self._history_first_
        grown = np.full((len(self._keys_), last - first + 1), np.nan)
        grown[:, : self._history_.shape[1]] = self._history_
        keep = ok & (pos >= first)
        values = np.clip(y.iloc[:, 0].to_numpy(dtype=np.float64)[keep], 0.0, None)
        grown[codes[keep], pos[keep] - first] = values / self._scale_[codes[keep]]
        lookback = max(self._lag_list()) + max(ROLLING_WINDOWS) + self._gap()
        self._n_days_ = last + 1
        self._history_first_ = max(first, self._n_days_ - lookback - 1)
        self._history_ = grown[:, self._history_first_ - first :]
        return self

    def for_series(self, y: pd.DataFrame) -> LightGBMGlobalForecaster:
        """A copy that forecasts the series of ``y`` with the fitted trees (none refitted).

        ``y`` holds those series' demand up to this forecaster's cutoff (new series or known
        ones); each one's level (its mean over the last ``train_window_days`` days, as in fit)
        and recent history come from it. A model fitted on a sample of series forecasts the
        others this way (``ForecastSettings.global_max_series``), a chunk at a time.
        """
        self.check_is_fitted()
        other = copy.copy(self)
        inst, _ = self._split_index(y)
        other._keys_ = inst.unique()
        n_days = self._n_days_
        values = other._grid(y, [y.columns[0]], n_days, 0)[y.columns[0]]
        values[values < 0] = 0.0
        lo = max(0, n_days - self.train_window_days)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a series without data: level 1
            scale = np.nanmean(values[:, lo:], axis=1)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        other._scale_ = scale
        other._history_ = values[:, self._history_first_ :] / scale[:, None]
        return other

    def _horizon_days(self, fh) -> np.ndarray:
        """fh as grid positions (steps after the cutoff)."""
        cutoff = self._to_positions(self.cutoff[-1:])[0]
        if fh.is_relative:
            steps = np.asarray(fh.to_pandas(), dtype=np.int64)
        else:
            steps = self._to_positions(fh.to_pandas()) - cutoff
        if (steps < 1).any():
            raise ValueError("LightGBMGlobalForecaster forecasts out of sample only (fh >= 1)")
        return cutoff + steps

    def _predict(self, fh, X: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast every fitted series on the horizon ``fh`` (never below 0)."""
        days = self._horizon_days(fh)
        last_day = int(days.max())
        first = self._history_first_
        n_total = last_day - first + 1
        norm = np.full((len(self._keys_), n_total), np.nan)
        norm[:, : self._history_.shape[1]] = self._history_
        future = np.arange(self._n_days_, last_day + 1)
        if self._booster_ is None:
            norm[:, future - first] = 1.0  # the series' mean level (norm is demand / mean)
        else:
            if self._x_columns_ and X is None:
                logger.warning("lightgbm_global: fitted with X, predict got none: X is NaN")
            exog = (
                self._grid(X, self._x_columns_, len(future), int(future[0]))
                if X is not None and self._x_columns_
                else {c: np.full((len(self._keys_), len(future)), np.nan) for c in self._x_columns_}
            )
            # direct: blocks of `gap` days predicted at once from what lies before the block
            # (actuals for the first block); recursive: gap = 1, one day at a time
            block = self._gap()
            for lo in range(0, len(future), block):
                target = future[lo : lo + block]
                step = {c: g[:, lo : lo + block] for c, g in exog.items()}
                norm[:, target - first] = self._predict_days(norm, target, first, step)
        values = np.clip(norm[:, days - first] * self._scale_[:, None], 0.0, None)
        return self._frame(values, days)

    def _predict_days(
        self, norm: np.ndarray, target: np.ndarray, first: int, exog: dict[str, np.ndarray]
    ) -> np.ndarray:
        feats = self._features(norm, target, first, exog)
        shape = (len(self._keys_), len(target))
        matrix = np.column_stack([feats[n].reshape(-1) for n in self._feature_names_])
        pred = self._booster_.predict(matrix, num_threads=self.n_jobs)
        return np.clip(pred.reshape(shape), 0.0, None)

    def _frame(self, values: np.ndarray, days: np.ndarray) -> pd.DataFrame:
        """(series, horizon) array -> y-shaped DataFrame (instances x time points)."""
        times = self._to_times(days)
        if len(self._keys_) == 1 and self._keys_[0] == _SINGLE:
            index = times.rename(self._index_names_[-1])
            return pd.DataFrame({self._y_name_: values[0]}, index=index)
        keys = self._keys_
        if isinstance(keys, pd.MultiIndex):
            tuples = [(*k, t) for k in keys for t in times]
            index = pd.MultiIndex.from_tuples(tuples, names=self._index_names_)
        else:
            index = pd.MultiIndex.from_product([keys, times], names=self._index_names_)
        return pd.DataFrame({self._y_name_: values.reshape(-1)}, index=index)

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict]:
        """Small configurations for sktime's estimator checks."""
        small = {"n_jobs": 1, "train_window_days": 56, "horizon": 3}
        return [
            {**small, "n_estimators": 5, "min_data_in_leaf": 1},
            {**small, "n_estimators": 5, "min_data_in_leaf": 1, "strategy": "direct"},
        ]
