"""Model selection per unit (category x demand class) from the backtest scores.

Rule: the candidate with the lowest mean RMSSE over the unit's sampled series and folds wins.
Tie-break: every candidate whose score is within ``settings.selection_tolerance`` (1 %) of the
best counts as tied. Among them the unit's combination (models.py) wins when it is tied
(``settings.combination_wins_ties``, the default); otherwise, or without a tied combination, the
simplest by the fixed complexity order (``models.COMPLEXITY_ORDER``: seasonal_naive <
moving_average < moving_average_capped < adida_weekly < croston_sba < adida < imapa < tsb <
auto_ets < auto_theta < auto_arima < lightgbm_global) wins, then the lower |bias|. A simpler
model that forecasts as well is cheaper, steadier and easier to explain; but when the backtest
cannot tell the models apart, picking one of them is a bet on noise, and the average of the
close candidates hedges it: its error is at most the mean of its members' and usually below the
best's (the forecast-combination result of the M competitions). Measured on M5 CA_1 at two
pseudo as-of dates before the evaluated one (README), preferring the tied combination lowered
the out-of-sample mean RMSSE at both. With ``combination_wins_ties = False`` a combination ranks
last, as before.

A tie is only noise when the scores cannot tell the models apart: a model within the tolerance
is not tied when the best one beats it on the paired per-series x fold RMSSE differences by at
least ``settings.selection_min_t`` (2) standard errors, i.e. consistently over the sampled items
and folds (the 1 % rule alone keeps a simpler model that is consistently, if slightly, worse).
``selection_min_t = inf`` restores the plain 1 % rule.

Small units: a unit with fewer than ``settings.min_unit_sample`` backtested series chooses on the
scores of its demand class pooled over all categories (restricted to the unit's candidates), as
long as that pool is larger; a choice made on two or three items is mostly noise. The scores in
its row are then the pooled ones and the reason says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.forecasting.classify import INTERMITTENT_CLASSES
from restock.forecasting.models import (
    COMPLEXITY_ORDER,
    NAIVE_MODEL,
    combination_members,
    is_combination,
)
from restock.forecasting.settings import ForecastSettings

SELECTION_COLUMNS = [
    "category", "demand_class", "selected_model", "score", "runner_up", "runner_up_score",
    "naive_score", "value_added", "reason", "n_series", "sample_size",
]

_PLAIN_NAMES = {
    "seasonal_naive": "repeating the same weekday of last week",
    "moving_average": "the average of the last 28 days",
    "moving_average_long": "the average of the last year",
    "moving_average_capped": "the average of the last 28 days, one-off large orders capped",
    "recent_average": "the item's average over the last 28 days (new item)",
    "auto_ets": "exponential smoothing with weekly seasonality",
    "auto_theta": "the Theta method",
    "auto_arima": "ARIMA",
    "croston_sba": "Croston's method for slow movers",
    "tsb": "the TSB method for slow movers",
    "imapa": "IMAPA (slow movers, several time scales)",
    "adida": "ADIDA (slow movers, weekly totals)",
    "adida_weekly": "weekly totals smoothed and spread over the weekdays (ADIDA)",
    "lightgbm_global": "a machine-learning model trained on all items",
    "category_profile": "the category's typical new-item sales",
}


def plain_name(model: str) -> str:
    """Plain-language name of a model (a combination lists its members)."""
    if is_combination(model) and model != "combination":
        names = [_PLAIN_NAMES.get(m, m) for m in combination_members(model)]
        return ("the average of " + ", ".join(names[:-1]) + " and " + names[-1]
                + f" [{model}]")
    return _PLAIN_NAMES.get(model, model)


def complexity_rank(model: str) -> int:
    """Position of ``model`` in the complexity order (unknown models rank last)."""
    return COMPLEXITY_ORDER.index(model) if model in COMPLEXITY_ORDER else len(COMPLEXITY_ORDER)


def unit_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean RMSSE, bias and counts per unit x model from per-series-fold scores.

    ``scores`` needs unit, model, rmsse, err, actual_sum (and row for counting series).
    """
    finite = scores[np.isfinite(scores["rmsse"].astype(float))]
    grouped = finite.groupby(["unit", "model"], sort=True)
    out = grouped.agg(score=("rmsse", "mean"), err=("err", "sum"),
                      actual=("actual_sum", "sum"), n_scored=("rmsse", "size")).reset_index()
    out["bias"] = np.where(out["actual"] > 0, out["err"] / out["actual"].where(out["actual"] > 0),
                           np.nan)
    return out


def reliably_worse(paired: pd.DataFrame, model: str, best: str, min_t: float) -> bool:
    """Whether ``best`` beats ``model`` on paired per-series x fold RMSSE by ``min_t`` SEs.

    ``paired`` has pos, model, rmsse and optionally fold; only the series x folds both models
    were scored on count.
    """
    keys = ["pos", "fold"] if "fold" in paired.columns else ["pos"]
    finite = paired[np.isfinite(paired["rmsse"].astype(float))]
    a = finite[finite["model"] == model].groupby(keys)["rmsse"].mean()
    b = finite[finite["model"] == best].groupby(keys)["rmsse"].mean()
    d = (a - b).dropna().to_numpy(dtype=float)
    if len(d) < 2:
        return False
    sd = d.std(ddof=1)
    if sd == 0:
        return bool(d.mean() > 0)
    return bool(d.mean() / (sd / np.sqrt(len(d))) >= min_t)


def choose(
    table: pd.DataFrame,
    tolerance: float,
    paired: pd.DataFrame | None = None,
    min_t: float = float("inf"),
    combination_first: bool = False,
) -> tuple[str, str | None, bool]:
    """Pick a model from one unit's (model, score, bias) rows.

    A model within ``tolerance`` of the best score is tied with it, unless ``paired``
    per-series x fold scores (pos, fold, model, rmsse) show the best reliably better: a mean
    paired difference of at least ``min_t`` standard errors (module docstring). Among the
    tied, a combination goes first when ``combination_first``, else last; then the
    complexity order, then the lower |bias|.

    Returns
    -------
    selected, runner_up, tie_broken
        ``tie_broken`` is True when the selected model is not the lowest score.
    """
    table = table.dropna(subset=["score"])
    if table.empty:
        raise ValueError("no scored candidate")
    best = table["score"].min()
    tied = table[table["score"] <= best * (1.0 + tolerance) + 1e-12].copy()
    if paired is not None and np.isfinite(min_t) and len(tied) > 1:
        winner = table.sort_values(["score", "model"]).iloc[0]["model"]
        keep = [m == winner or not reliably_worse(paired, m, winner, min_t)
                for m in tied["model"]]
        tied = tied[np.array(keep)]
    tied["rank"] = [-1 if combination_first and is_combination(m) else complexity_rank(m)
                    for m in tied["model"]]
    tied["abs_bias"] = tied["bias"].abs().fillna(np.inf)
    selected = tied.sort_values(["rank", "abs_bias", "model"]).iloc[0]["model"]
    others = table[table["model"] != selected].sort_values(["score", "model"])
    runner_up = others.iloc[0]["model"] if len(others) else None
    lowest = table.sort_values(["score", "model"]).iloc[0]["model"]
    return str(selected), (str(runner_up) if runner_up is not None else None), lowest != selected


def _cap(text: str) -> str:
    """First letter upper-case, the rest untouched (model names stay as they are)."""
    return text[:1].upper() + text[1:]


def _reason(selected: str, score: float, runner_up: str | None, runner_score: float,
            naive: float, tie: bool, n_sample: int, folds: int) -> str:
    what = plain_name(selected)
    base = f"{n_sample} sampled items over {folds} backtest period{'s' if folds != 1 else ''}"
    if selected == NAIVE_MODEL:
        text = f"No method beat {what} on {base}, so it is kept."
    elif np.isfinite(naive) and naive > 0:
        gain = 1.0 - score / naive
        direction = "smaller" if gain >= 0 else "larger"
        text = (f"{_cap(what)} had {abs(gain):.0%} {direction} forecast errors than "
                f"repeating last week's sales, on {base}.")
    else:
        text = f"{_cap(what)} had the smallest forecast errors on {base}."
    if tie and runner_up is not None:
        kept = ("the average, which hedges between close methods, was kept"
                if is_combination(selected) else "the simpler method was kept")
        text += f" {_cap(plain_name(runner_up))} scored within the tie margin, and {kept}."
    elif runner_up is not None and np.isfinite(runner_score) and score > 0:
        text += (f" Next best: {plain_name(runner_up)} "
                 f"({runner_score / score - 1.0:.0%} larger errors).")
    return text


def select_models(
    scores: pd.DataFrame,
    units: pd.DataFrame,
    settings: ForecastSettings,
    folds: int,
) -> pd.DataFrame:
    """The model_selection table: one row per unit with backtest scores.

    Parameters
    ----------
    scores : DataFrame
        Per series x fold x model: unit, model, rmsse, err, actual_sum.
    units : DataFrame
        One row per unit: unit, category, demand_class, n_series, sample_size.
    settings : ForecastSettings
    folds : int
        Number of backtest folds (for the reason text).
    """
    per_model = unit_scores(scores)
    pooled = unit_scores(scores.assign(unit=scores["demand_class"]))
    pooled_size = scores.groupby("demand_class")["pos"].nunique()
    rows = []
    for unit in units.itertuples(index=False):
        table = per_model[per_model["unit"] == unit.unit]
        if table.empty:
            continue
        borrowed = (unit.sample_size < settings.min_unit_sample
                    and pooled_size.get(unit.demand_class, 0) > unit.sample_size)
        if borrowed:
            table = pooled[(pooled["unit"] == unit.demand_class)
                           & pooled["model"].isin(table["model"])]
        paired = (scores[scores["demand_class"] == unit.demand_class] if borrowed
                  else scores[scores["unit"] == unit.unit])
        selected, runner_up, tie = choose(table, settings.selection_tolerance, paired,
                                          settings.selection_min_t,
                                          settings.combination_wins_ties)
        score_of = dict(zip(table["model"], table["score"], strict=True))
        score = float(score_of[selected])
        runner_score = float(score_of[runner_up]) if runner_up else float("nan")
        naive = float(score_of.get(NAIVE_MODEL, np.nan))
        rows.append(
            {
                "unit": unit.unit,
                "category": unit.category,
                "demand_class": unit.demand_class,
                "selected_model": selected,
                "score": score,
                "runner_up": runner_up,
                "runner_up_score": runner_score,
                "naive_score": naive,
                "value_added": 1.0 - score / naive if np.isfinite(naive) and naive > 0
                else float("nan"),
                "reason": _reason(selected, score, runner_up, runner_score, naive, tie,
                                  int(unit.sample_size), folds)
                if not borrowed else
                (f"Only {int(unit.sample_size)} items of this category could be tested, so the "
                 f"choice uses all {int(pooled_size[unit.demand_class])} tested "
                 f"{unit.demand_class} items: "
                 + _reason(selected, score, runner_up, runner_score, naive, tie,
                           int(pooled_size[unit.demand_class]), folds)),
                "n_series": int(unit.n_series),
                "sample_size": int(unit.sample_size),
            }
        )
    return pd.DataFrame(rows, columns=["unit", *SELECTION_COLUMNS])


def fallback_selection(units: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Selection rows for units the backtest could not score: the model chosen most often for
    the same demand class in other units, else seasonal naive."""
    rows = []
    for unit in units.itertuples(index=False):
        same_class = chosen[chosen["demand_class"] == unit.demand_class]["selected_model"]
        model = same_class.mode().iloc[0] if len(same_class) else NAIVE_MODEL
        rows.append({
            "unit": unit.unit, "category": unit.category, "demand_class": unit.demand_class,
            "selected_model": model, "score": np.nan, "runner_up": None,
            "runner_up_score": np.nan, "naive_score": np.nan, "value_added": np.nan,
            "reason": ("Too little history to backtest these items; using the method chosen "
                       f"most often for other {unit.demand_class} items."),
            "n_series": int(unit.n_series), "sample_size": 0,
        })
    return pd.DataFrame(rows, columns=["unit", *SELECTION_COLUMNS])


def holdout_free_model(demand_class: str, history_days: float, settings: ForecastSettings) -> str:
    """The model of a unit that no backtest can score (rule of :func:`holdout_free_selection`)."""
    if demand_class in INTERMITTENT_CLASSES:
        return "croston_sba" if "croston_sba" in settings.candidates else "moving_average"
    if "auto_ets" in settings.candidates and history_days >= 2 * settings.season_length:
        return "auto_ets"
    return "moving_average"


def holdout_free_selection(
    units: pd.DataFrame, history_days: pd.Series, settings: ForecastSettings, why: str
) -> pd.DataFrame:
    """Selection rows for units without any backtest, chosen without a holdout.

    Rule: smooth and erratic units take AutoETS, which chooses its own form (error, trend,
    season) per series by AICc on the whole history, an information criterion that needs no
    holdout, when it is a candidate and the unit's series hold two seasons (median); the
    intermittent and lumpy units take Croston SBA (the standard for slow movers, no season to
    fit); anything else takes the 28-day moving average, the safe default. ``history_days``:
    unit -> median days of history of its series; ``why``: the reason there is no backtest,
    published in ``reason``.
    """
    rows = []
    for unit in units.itertuples(index=False):
        days = float(history_days.get(unit.unit, 0.0))
        model = holdout_free_model(unit.demand_class, days, settings)
        how = {"auto_ets": "its form chosen per item by AICc on the whole history, no holdout "
                           "needed",
               "croston_sba": "the standard method for slow movers, nothing to fit to a "
                              "holdout"}.get(model, "the safe default when nothing can be "
                                                    "tested or fitted")
        rows.append({
            "unit": unit.unit, "category": unit.category, "demand_class": unit.demand_class,
            "selected_model": model, "score": np.nan, "runner_up": None,
            "runner_up_score": np.nan, "naive_score": np.nan, "value_added": np.nan,
            "reason": (f"No backtest: {why}. Using {plain_name(model)} ({how})."),
            "n_series": int(unit.n_series), "sample_size": 0,
        })
    return pd.DataFrame(rows, columns=["unit", *SELECTION_COLUMNS])
