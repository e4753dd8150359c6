"""Backtest scores: one row per sampled series, fold and model, on uncensored days only.

:func:`score_fold` scores every model's forecasts of one fold (metrics.py);
:func:`score_combinations` adds each unit's ``combination`` candidate once every fold is in.
Apart from the running of the folds so that the combination step, which scores a mean of
forecasts after the folds, scores it exactly like the fitted models.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from restock.forecasting.combination import choose_members, combine
from restock.forecasting.metrics import mase, rmsse
from restock.forecasting.models import (
    combination_name,
    is_combination,
)
from restock.forecasting.settings import ForecastSettings

logger = logging.getLogger("restock.forecasting")

#: The columns of the backtest's scores (also of an empty score table).
SCORE_COLUMNS = ["pos", "fold", "model", "mase", "rmsse", "abs_err", "err", "actual_sum",
                 "n_scored", "mase_scale"]


def _score_frame(
    pos: np.ndarray, fold: int, model: str, fc: np.ndarray, actual: np.ndarray,
    mase_scale: np.ndarray, rmsse_scale: np.ndarray,
) -> pd.DataFrame:
    """Per-series scores of forecasts ``fc`` (len(pos) x h) against ``actual`` (same shape)."""
    return pd.DataFrame(
        {
            "pos": pos,
            "fold": fold + 1,
            "model": model,
            "mase": mase(actual, fc, mase_scale),
            "rmsse": rmsse(actual, fc, rmsse_scale),
            "abs_err": np.nansum(np.abs(actual - fc), axis=1),
            "err": np.nansum(np.where(np.isnan(actual), 0.0, fc - actual), axis=1),
            "actual_sum": np.nansum(actual, axis=1),
            "n_scored": (~np.isnan(actual)).sum(axis=1),
            "mase_scale": mase_scale,
        }
    )


def score_fold(
    fold: int, models: list[str], forecasts: dict[str, np.ndarray], actual: np.ndarray,
    mase_scale: np.ndarray, rmsse_scale: np.ndarray,
) -> list[pd.DataFrame]:
    """Score frames of fold ``fold`` for every model with a forecast of at least one series.

    ``forecasts[m]`` and ``actual`` are (sample x folds x horizon); the scales are the fold's
    (sample,). A series a model was not tried on (all NaN) gets no row.
    """
    frames = []
    for m in models:
        fc = forecasts[m][:, fold]
        tried = ~np.isnan(fc).all(axis=1)
        if not tried.any():
            continue
        frames.append(_score_frame(np.flatnonzero(tried), fold, m, fc[tried],
                                  actual[tried, fold], mase_scale[tried], rmsse_scale[tried]))
    return frames


def score_combinations(
    scores: pd.DataFrame,
    sample: pd.DataFrame,
    unit_candidates: dict[str, list[str]],
    settings: ForecastSettings,
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    scales: np.ndarray,
) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, str]]:
    """The ``combination`` candidate of every unit that tries it: members chosen by forward
    selection on the backtest, their mean scored as one more model (added to ``forecasts``).

    Returns the scores with the combinations' rows, each unit's candidates (the combination
    under its ``combination(a+b)`` name) and unit -> combination name.
    """
    n, k, h = actual.shape
    combinations: dict[str, str] = {}
    candidates = {u: list(c) for u, c in unit_candidates.items()}
    wanted = [u for u in sorted(sample["unit"].unique())
              if any(is_combination(m) for m in unit_candidates[u])]
    if wanted and len(scores):
        combo_frames = []
        units = sample["unit"].to_numpy()
        for unit in wanted:
            members = choose_members(scores, sample, unit_candidates[unit], unit, settings,
                                     forecasts, actual, scales[1])
            candidates[unit] = [m for m in candidates[unit] if not is_combination(m)]
            if not members:
                continue
            name = combination_name(members)
            combinations[unit] = name
            candidates[unit].append(name)
            pos = np.flatnonzero(units == unit)
            arr = forecasts.setdefault(name, np.full((n, k, h), np.nan))
            arr[pos] = combine([forecasts[m][pos] for m in members])
            for f in range(k):
                fc = arr[pos, f]
                tried = ~np.isnan(fc).all(axis=1)
                if tried.any():
                    combo_frames.append(_score_frame(
                        pos[tried], f, name, fc[tried], actual[pos[tried], f],
                        scales[0, pos[tried], f], scales[1, pos[tried], f]))
        if combo_frames:
            scores = pd.concat([scores, *combo_frames], ignore_index=True)
        logger.info("backtest: combinations of %d units: %s", len(combinations),
                    ", ".join(f"{u} {c}" for u, c in combinations.items()))
    else:
        candidates = {u: [m for m in c if not is_combination(m)] for u, c in candidates.items()}
    return scores, candidates, combinations
