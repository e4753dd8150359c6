"""Demand classes (Syntetos-Boylan): smooth, erratic, intermittent, lumpy.

ADI is the average number of days between two days with demand (days / demand days), CV2 the
squared coefficient of variation of the non-zero demand sizes. Cut-offs 1.32 and 0.49:

============  ============  ===========
              CV2 < 0.49    CV2 >= 0.49
============  ============  ===========
ADI < 1.32    smooth        erratic
ADI >= 1.32   intermittent  lumpy
============  ============  ===========

The selection unit of a series is its category x demand class (``unit_of``, ``assign_series``);
series younger than ``min_history_days`` are cold starts.

A series without any demand in the window counts as intermittent (ADI infinite, CV2 0). The
classes are computed on the model target (censored days imputed) over the fit window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.forecasting.censoring import DemandPanel
from restock.forecasting.settings import ForecastSettings

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
INTERMITTENT_CLASSES = frozenset({"intermittent", "lumpy"})


def adi_cv2(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ADI and CV2 of each row of ``values`` (series x days, NaN = not observed).

    Parameters
    ----------
    values : ndarray
        1-D (one series) or 2-D (series x days) demand.

    Returns
    -------
    adi, cv2 : ndarray
        One value per series (ADI = inf when there is no demand).
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    observed = ~np.isnan(v)
    positive = observed & (v > 0)
    n_days = observed.sum(axis=1)
    n_pos = positive.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(n_pos > 0, n_days / np.maximum(n_pos, 1), np.inf)
        pos_vals = np.where(positive, v, 0.0)
        mean = pos_vals.sum(axis=1) / np.maximum(n_pos, 1)
        var = (np.where(positive, (v - mean[:, None]) ** 2, 0.0)).sum(axis=1) / np.maximum(
            n_pos, 1
        )
        cv2 = np.where(n_pos > 0, var / np.where(mean > 0, mean, 1.0) ** 2, 0.0)
    return adi, cv2


def demand_class(adi: np.ndarray, cv2: np.ndarray) -> np.ndarray:
    """Syntetos-Boylan class of each (ADI, CV2) pair."""
    adi = np.asarray(adi, dtype=float)
    cv2 = np.asarray(cv2, dtype=float)
    frequent = adi < ADI_CUTOFF
    stable = cv2 < CV2_CUTOFF
    return np.select(
        [frequent & stable, frequent & ~stable, ~frequent & stable],
        ["smooth", "erratic", "intermittent"],
        default="lumpy",
    )


def classify_demand(values: np.ndarray) -> str:
    """Demand class of one series (1-D array of daily demand)."""
    adi, cv2 = adi_cv2(np.asarray(values, dtype=float)[None, :])
    return str(demand_class(adi, cv2)[0])


def classify_panel(target: np.ndarray, end: int, window: int) -> pd.DataFrame:
    """Classify every series of a wide panel on the ``window`` days ending at column ``end``.

    Parameters
    ----------
    target : ndarray (series x days)
        Model target (NaN before the first sale).
    end : int
        Column index of the last day used (inclusive).
    window : int
        Days looked back on.

    Returns
    -------
    DataFrame
        adi, cv2, demand_class, one row per series (same order).
    """
    lo = max(0, end + 1 - window)
    adi, cv2 = adi_cv2(target[:, lo : end + 1])
    return pd.DataFrame({"adi": adi, "cv2": cv2, "demand_class": demand_class(adi, cv2)})


def unit_of(category: pd.Series, demand_class: pd.Series) -> pd.Series:
    """Selection unit name: ``category/demand_class``."""
    return category.astype(str) + "/" + demand_class.astype(str)


def assign_series(panel: DemandPanel, end: int, settings: ForecastSettings) -> pd.DataFrame:
    """Demand class, unit and cold-start flag of every series at column ``end``."""
    classes = classify_panel(panel.target, end, settings.train_window_days)
    out = panel.series[["series_id", "sku", "location", "category"]].copy()
    out[["adi", "cv2", "demand_class"]] = classes[["adi", "cv2", "demand_class"]].to_numpy()
    out["adi"] = out["adi"].astype(float)
    out["cv2"] = out["cv2"].astype(float)
    out["unit"] = unit_of(out["category"], out["demand_class"])
    out["history_days"] = np.maximum(end - panel.series["first_day"].to_numpy() + 1, 0)
    out["is_cold_start"] = out["history_days"] < settings.min_history_days
    return out
