"""The ``combination`` candidate: which members, and the mean of their forecasts.

``combination`` is not fitted: after all backtest folds, each unit's members are chosen by
forward selection (:func:`forward_members`; seasonal naive excluded; small units choose on their
demand class pooled): start from the best base candidate by mean RMSSE, then add, one at a
time, the candidate whose equal-weight mean with those already chosen has the lowest mean
RMSSE, up to ``settings.combination_size`` members and, past two, only while the mean
improves. Their forecasts are averaged fold by fold, and the mean is scored like any model
under the name ``combination(a+b+c)``, which replaces ``combination`` in
``BacktestResult.candidates``. Forward selection picks members whose errors offset each
other (a global model beside a local smoother) where ranking the members one by one picks
near-copies (three local smoothers); on M5 CA_1 it lowered the out-of-sample mean RMSSE at
two pseudo as-of dates before the evaluated one (README). Choosing the members on the same
folds that score the mean flatters it slightly; the selection's paired test still keeps a
single model that is reliably better.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from restock.forecasting.metrics import rmsse
from restock.forecasting.models import (
    NAIVE_MODEL,
    is_combination,
)
from restock.forecasting.settings import ForecastSettings


def combine(forecasts: list[np.ndarray]) -> np.ndarray:
    """Equal-weight mean of members' forecasts, ignoring a member where it has no forecast."""
    stack = np.stack(forecasts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all members NaN: stays NaN
        return np.nanmean(stack, axis=0)


def forward_members(
    ranked: list[str], score_of: Callable[[list[str]], float], size: int
) -> list[str]:
    """Forward selection of combination members (equal weights, no repeats).

    ``ranked`` are the base candidates, best single score first; ``score_of(members)`` is the
    mean RMSSE of the equal-weight mean of ``members``. Starts from ``ranked[0]`` and adds the
    candidate giving the lowest combined score (ties: the earlier in ``ranked``) until ``size``
    members; a third or later member is added only when it lowers the best score so far, the
    second always (a combination has at least two). Fewer than two candidates: [].
    """
    if len(ranked) < 2:
        return []
    chosen = [ranked[0]]
    best = score_of(chosen)
    while len(chosen) < size:
        trials = [(score_of(chosen + [m]), i, m) for i, m in enumerate(ranked)
                  if m not in chosen]
        trials = [t for t in trials if np.isfinite(t[0])]
        if not trials:
            break
        score, _, model = min(trials)
        if len(chosen) >= 2 and not score < best:
            break
        chosen.append(model)
        best = min(best, score) if np.isfinite(best) else score
    return chosen if len(chosen) >= 2 else []


def mean_rmsse(
    forecasts: dict[str, np.ndarray], members: list[str], pos: np.ndarray, actual: np.ndarray,
    scale: np.ndarray,
) -> float:
    """Mean RMSSE over the series ``pos`` x folds of the equal-weight mean of ``members``.

    ``forecasts[m]`` and ``actual`` are (sample x folds x horizon), ``scale`` (sample x folds).
    """
    fc = combine([forecasts[m][pos] for m in members])
    k = fc.shape[1]
    r = np.concatenate([rmsse(actual[pos, f], fc[:, f], scale[pos, f])
                        for f in range(k)])
    r = r[np.isfinite(r)]
    return float(r.mean()) if len(r) else float("nan")


def choose_members(
    scores: pd.DataFrame, sample: pd.DataFrame, candidates: list[str], unit: str,
    settings: ForecastSettings, forecasts: dict[str, np.ndarray] | None = None,
    actual: np.ndarray | None = None, scale: np.ndarray | None = None,
) -> list[str]:
    """A unit's combination members (module docstring).

    ``scores`` has pos, model, rmsse for the base candidates; ``sample`` the unit and
    demand_class of each position. With the backtest's ``forecasts``, ``actual`` and RMSSE
    ``scale`` (sample x folds) the members come from :func:`forward_members`; without them,
    the ``combination_size`` best by mean RMSSE. Fewer than two scored candidates: [].
    """
    base = [m for m in candidates if not is_combination(m) and m != NAIVE_MODEL]
    units = sample["unit"].to_numpy()
    positions = np.flatnonzero(units == unit)
    if len(positions) < settings.min_unit_sample:
        demand_class = sample["demand_class"].to_numpy()[positions[0]] if len(positions) else None
        pooled = np.flatnonzero(sample["demand_class"].to_numpy() == demand_class)
        if len(pooled) > len(positions):
            positions = pooled
    mine = scores[scores["pos"].isin(positions) & scores["model"].isin(base)]
    mine = mine[np.isfinite(mine["rmsse"].astype(float))]
    ranked = mine.groupby("model")["rmsse"].mean().reset_index().sort_values(["rmsse", "model"])
    if settings.combination_members:
        fixed = [m for m in settings.combination_members if m in set(ranked["model"])]
        if len(fixed) >= 2:
            return fixed
    order = ranked["model"].tolist()
    if forecasts is not None and actual is not None and scale is not None:
        pos = np.asarray(positions, dtype=int)
        return forward_members(
            order, lambda ms: mean_rmsse(forecasts, ms, pos, actual, scale),
            settings.combination_size)
    members = order[: settings.combination_size]
    return members if len(members) >= 2 else []
