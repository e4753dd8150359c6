"""Churn risk of customers, learned from the feed's own history (issue 18, item 2).

The question: do customers hit by stock-outs stop buying more often than comparable customers
who were not hit? The model answers it the plain way:

- **snapshot** at a cutoff c: every customer with a purchase in the ``window_days`` (90) days
  up to c, with features known at c: ``recency_days`` (c - last purchase), ``log_frequency``
  (log1p distinct orders in the window), ``log_monetary`` (log1p net spend in the window, >= 0),
  ``log_tenure`` (log1p days since the first purchase), ``log_hits`` (log1p hits in the window)
  and ``repeat_hit`` (hit on two or more days in the window);
- **label**: churned = no purchase in the ``horizon_days`` (90) days after c;
- **model**: logistic regression (scikit-learn, standardised features, L2, C = 1) fitted on
  snapshots stacked at cutoffs every ``step_days`` (30) days, all of whose labels are known at
  the moment the model is used.

Segments (``segment_exposed``, on by default): customers who buy an item on three or more days
in the window (*exposed*: the only ones a stock-out of a regular item can hit, the comparable
group of the report) get a model of their own, the others another. Occasional shoppers, whose
90-day absences are frequent and have nothing to do with stock-outs, otherwise dominate the
fit and drown the hit effect among regular customers. On the demo feed (whose churn truth is
known, bench/demo_customers_bench.py) the one-model AUC is ~0.52 overall; the figures with
segments are in that bench's output.

Out of time: :func:`evaluate` fits on the cutoffs whose label windows end on or before
``as_of - horizon`` (the evaluation cutoff) and scores the evaluation cutoff's snapshot, whose
labels end at ``as_of``: an honest AUC of a model that never saw the period it predicts. The
published ``churn_risk`` (:func:`score_customers`) is the model refitted on every cutoff up to
the evaluation cutoff and applied to the snapshot at ``as_of`` (its outcome is the future).
An RFM-only model (no hit features) is fitted alongside, so the report can say whether hits
add anything to recency, frequency and money.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FEATURES = ("recency_days", "log_frequency", "log_monetary", "log_tenure", "log_hits",
            "repeat_hit")
RFM_FEATURES = ("recency_days", "log_frequency", "log_monetary", "log_tenure")
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class ChurnSettings:
    """Windows of the churn model (module docstring)."""

    window_days: int = 90  # feature window before a cutoff
    horizon_days: int = 90  # no purchase in this many days after the cutoff = churned
    step_days: int = 30  # spacing of the stacked training cutoffs
    max_cutoffs: int = 6  # most recent training cutoffs used
    # one model for the customers who buy an item regularly ("exposed": they can be hit) and
    # one for the others (module docstring)
    segment_exposed: bool = True


@dataclass
class ChurnEvaluation:
    """Out-of-time figures of the churn model."""

    eval_cutoff: pd.Timestamp | None
    train_cutoffs: list[pd.Timestamp] = field(default_factory=list)
    n_train: int = 0
    n_eval: int = 0
    auc: float = float("nan")
    auc_rfm_only: float = float("nan")
    auc_exposed: float = float("nan")  # among exposed customers only
    churn_rate_hit: float = float("nan")
    churn_rate_not_hit: float = float("nan")
    n_hit: int = 0
    n_not_hit: int = 0
    churn_rate_not_hit_exposed: float = float("nan")  # not hit, but buying an item regularly
    n_not_hit_exposed: int = 0
    coefficients: dict[str, float] = field(default_factory=dict)


def snapshot(lines: pd.DataFrame, hits: pd.DataFrame, cutoff: pd.Timestamp,
             settings: ChurnSettings | None = None, label: bool = True) -> pd.DataFrame:
    """Features (and the churned label when ``label``) of the customers active before ``cutoff``.

    ``lines`` = restock.customers.impact.purchase_lines; ``hits`` = customer_hits.
    """
    settings = settings or ChurnSettings()
    c = int((pd.Timestamp(cutoff).normalize() - _EPOCH).days)
    past = lines[lines["day"] <= c]
    bought = past[past["quantity"] > 0]
    recent = past[past["day"] > c - settings.window_days]
    recent_buy = recent[recent["quantity"] > 0]
    ids = np.sort(recent_buy["customer_id"].unique())
    frame = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    frame["recency_days"] = c - recent_buy.groupby("customer_id")["day"].max()
    frame["log_frequency"] = np.log1p(recent_buy.groupby("customer_id")["order"].nunique())
    spend = recent.groupby("customer_id")["value"].sum().clip(lower=0.0)
    frame["log_monetary"] = np.log1p(spend.reindex(ids).fillna(0.0))
    frame["log_tenure"] = np.log1p(c - bought.groupby("customer_id")["day"].min().reindex(ids))
    if len(hits):
        hday = (pd.to_datetime(hits["date"]) - _EPOCH).dt.days
        h = hits[(hday <= c) & (hday > c - settings.window_days)]
        n_hits = h.groupby("customer_id").size().reindex(ids).fillna(0)
        hit_days = h.groupby("customer_id")["date"].nunique().reindex(ids).fillna(0)
    else:
        n_hits = hit_days = pd.Series(0.0, index=ids)
    frame["log_hits"] = np.log1p(n_hits.to_numpy(dtype=float))
    frame["repeat_hit"] = (hit_days.to_numpy() >= 2).astype(float)
    frame["hit"] = n_hits.to_numpy() > 0
    # exposure (not a model feature): has an item bought on >= 3 days in the window, i.e. could
    # have been hit; the comparable not-hit group of the report
    item_days = recent_buy[["customer_id", "sku", "location", "day"]].drop_duplicates()
    per_item = item_days.groupby(["customer_id", "sku", "location"]).size()
    exposed = per_item[per_item >= 3].index.get_level_values(0).unique()
    frame["exposed"] = frame.index.isin(exposed)
    if label:
        later = lines[(lines["day"] > c) & (lines["day"] <= c + settings.horizon_days)
                      & (lines["quantity"] > 0)]
        frame["churned"] = ~frame.index.isin(later["customer_id"].unique())
    return frame


def training_cutoffs(first: pd.Timestamp, end: pd.Timestamp,
                     settings: ChurnSettings) -> list[pd.Timestamp]:
    """Cutoffs ``end``, ``end - step``, ... with a full feature window after ``first``."""
    out = []
    c = pd.Timestamp(end)
    while c - pd.Timedelta(days=settings.window_days) >= first and len(out) < \
            settings.max_cutoffs:
        out.append(c)
        c -= pd.Timedelta(days=settings.step_days)
    return sorted(out)


def _fit_one(data: pd.DataFrame, features: tuple[str, ...]):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = data["churned"].to_numpy()
    if len(np.unique(y)) < 2:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    model.fit(data[list(features)].to_numpy(dtype=float), y)
    return model


class _Models:
    """One logistic regression, or one per segment (exposed / not) when segmenting."""

    def __init__(self, frames: list[pd.DataFrame], features: tuple[str, ...],
                 segment: bool) -> None:
        data = pd.concat(frames)
        self.features = features
        self.all = _fit_one(data, features)
        self.by_segment = {}
        if segment:
            for flag in (True, False):
                part = data[data["exposed"].to_numpy(dtype=bool) == flag]
                self.by_segment[flag] = _fit_one(part, features) if len(part) else None

    @property
    def ok(self) -> bool:
        return self.all is not None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame[list(self.features)].to_numpy(dtype=float)
        risk = self.all.predict_proba(x)[:, 1] if len(frame) else np.zeros(0)
        exposed = frame["exposed"].to_numpy(dtype=bool)
        for flag, model in self.by_segment.items():
            rows = exposed == flag
            if model is not None and rows.any():
                risk[rows] = model.predict_proba(x[rows])[:, 1]
        return risk

    def coefficients(self) -> dict[str, float]:
        model = self.by_segment.get(True) or self.all
        return dict(zip(self.features, np.round(model[-1].coef_[0], 4).tolist(), strict=True))


def _fit(frames: list[pd.DataFrame], features: tuple[str, ...], segment: bool = False):
    models = _Models(frames, features, segment)
    return models if models.ok else None


def _auc(model, frame: pd.DataFrame, features: tuple[str, ...]) -> float:
    from sklearn.metrics import roc_auc_score

    y = frame["churned"].to_numpy()
    if model is None or len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, model.predict(frame)))


def evaluate(lines: pd.DataFrame, hits: pd.DataFrame, as_of: pd.Timestamp,
             settings: ChurnSettings | None = None) -> ChurnEvaluation:
    """Fit on earlier cutoffs, score the cutoff ``as_of - horizon`` out of time (docstring)."""
    settings = settings or ChurnSettings()
    as_of = pd.Timestamp(as_of).normalize()
    if not len(lines):
        return ChurnEvaluation(None)
    first = pd.Timestamp(lines["date"].min())
    eval_cutoff = as_of - pd.Timedelta(days=settings.horizon_days)
    cutoffs = training_cutoffs(first, eval_cutoff - pd.Timedelta(days=settings.horizon_days),
                               settings)
    result = ChurnEvaluation(eval_cutoff, cutoffs)
    if eval_cutoff - pd.Timedelta(days=settings.window_days) < first or not cutoffs:
        return result
    train = [snapshot(lines, hits, c, settings) for c in cutoffs]
    test = snapshot(lines, hits, eval_cutoff, settings)
    result.n_train = int(sum(len(f) for f in train))
    result.n_eval = len(test)
    model = _fit(train, FEATURES, settings.segment_exposed)
    result.auc = _auc(model, test, FEATURES)
    result.auc_rfm_only = _auc(_fit(train, RFM_FEATURES, settings.segment_exposed), test,
                               RFM_FEATURES)
    result.auc_exposed = _auc(model, test[test["exposed"].to_numpy(dtype=bool)], FEATURES)
    if model is not None:
        result.coefficients = model.coefficients()
    hit = test["hit"].to_numpy()
    result.n_hit, result.n_not_hit = int(hit.sum()), int((~hit).sum())
    churned = test["churned"].to_numpy()
    if hit.any():
        result.churn_rate_hit = float(churned[hit].mean())
    if (~hit).any():
        result.churn_rate_not_hit = float(churned[~hit].mean())
    comparable = ~hit & test["exposed"].to_numpy()
    result.n_not_hit_exposed = int(comparable.sum())
    if comparable.any():
        result.churn_rate_not_hit_exposed = float(churned[comparable].mean())
    return result


def score_customers(lines: pd.DataFrame, hits: pd.DataFrame, as_of: pd.Timestamp,
                    settings: ChurnSettings | None = None) -> pd.Series:
    """churn_risk in [0, 1] per customer active in the window up to ``as_of``.

    Fitted on every cutoff whose labels are known at ``as_of`` (up to ``as_of - horizon``).
    Too little history for one labelled cutoff, or one class only: NaN for everyone.
    """
    settings = settings or ChurnSettings()
    as_of = pd.Timestamp(as_of).normalize()
    if not len(lines):
        return pd.Series(dtype=float, name="churn_risk")
    now = snapshot(lines, hits, as_of, settings, label=False)
    first = pd.Timestamp(lines["date"].min())
    cutoffs = training_cutoffs(first, as_of - pd.Timedelta(days=settings.horizon_days),
                               settings)
    model = _fit([snapshot(lines, hits, c, settings) for c in cutoffs], FEATURES,
                 settings.segment_exposed) if cutoffs else None
    if model is None or not len(now):
        return pd.Series(np.nan, index=now.index, name="churn_risk")
    risk = model.predict(now)
    return pd.Series(risk, index=now.index, name="churn_risk")
