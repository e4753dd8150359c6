"""Tracked accuracy across runs and alert precision, from the published history tables.

``forecast_accuracy_history`` scores what each earlier run forecast on the days now known (per
category, model and horizon week); ``alert_history`` says whether each earlier alert was right.
Both are carried from run to run by the publication (restock.history); this section reads them
as published, so it shows every run the history store kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from restock.report.chrome import Page
from restock.report.data import is_empty, missing_columns
from restock.report.figures import tracked_wape_figure
from restock.report.formatting import defs, empty, esc, fmt_date, fmt_num, fmt_pct
from restock.report.tables import Cell, Column, data_table

ACCURACY_NEEDED = ("snapshot_as_of", "horizon_week", "n_series", "scored_days", "wape", "bias",
                   "rmsse", "naive_rmsse", "coverage_p90")
ALERT_NEEDED = ("as_of", "severity", "outcome")
SETTLED = ("stocked_out", "no_stockout")


def weekly_accuracy(history: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot_as_of and horizon_week, pooled over categories and models.

    RMSSE (a mean over series) is pooled by series; WAPE, bias and p90 coverage by series-days
    scored; value added is ``1 - pooled RMSSE / pooled seasonal-naive RMSSE``.
    """
    frame = history.copy()
    frame["snapshot_as_of"] = pd.to_datetime(frame["snapshot_as_of"])
    n = pd.to_numeric(frame["n_series"], errors="coerce").fillna(0).astype(float)
    days = pd.to_numeric(frame["scored_days"], errors="coerce").fillna(0).astype(float)
    for col, weight in (("rmsse", n), ("naive_rmsse", n), ("wape", days), ("bias", days),
                        ("coverage_p90", days)):
        value = pd.to_numeric(frame[col], errors="coerce").astype(float)
        frame[f"_w_{col}"] = np.where(value.notna(), weight, 0.0)
        frame[f"_x_{col}"] = value.fillna(0.0) * frame[f"_w_{col}"]
    complete = (frame["complete"].astype("boolean").fillna(False)
                if "complete" in frame else pd.Series(True, index=frame.index))
    frame["_complete"] = complete.astype(bool)
    grouped = frame.groupby(["snapshot_as_of", "horizon_week"], sort=True)
    out = grouped.agg(n_series=("n_series", "sum"), scored_days=("scored_days", "sum"),
                      complete=("_complete", "all"))
    for col in ("rmsse", "naive_rmsse", "wape", "bias", "coverage_p90"):
        weight = grouped[f"_w_{col}"].sum()
        out[col] = (grouped[f"_x_{col}"].sum() / weight).where(weight > 0)
    out["value_added_vs_naive"] = 1 - out["rmsse"] / out["naive_rmsse"]
    return out.reset_index()


def alert_precision(alerts: pd.DataFrame) -> pd.DataFrame:
    """Per run (as_of) and severity: alerts raised, outcomes known, stocked out, precision.

    Precision = alerts followed by a stock-out / alerts whose outcome is known (pending and
    unknown, i.e. no inventory data, are left out)."""
    frame = alerts.copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["severity"] = frame["severity"].astype(str).str.lower()
    outcome = frame["outcome"].astype(str)
    frame["_settled"] = outcome.isin(SETTLED)
    frame["_hit"] = outcome.eq("stocked_out")
    frame["_pending"] = outcome.eq("pending")
    rows = []
    for keys, group in [*frame.groupby(["as_of", "severity"], sort=True),
                        *(((as_of, "all"), g) for as_of, g in frame.groupby("as_of", sort=True))]:
        settled = int(group["_settled"].sum())
        hits = int(group["_hit"].sum())
        rows.append({"as_of": keys[0], "severity": keys[1], "alerts": len(group),
                     "pending": int(group["_pending"].sum()), "settled": settled,
                     "stocked_out": hits, "precision": hits / settled if settled else np.nan})
    order = {"all": 0, "critical": 1, "high": 2, "medium": 3}
    out = pd.DataFrame(rows)
    out["_rank"] = out["severity"].map(order).fillna(9)
    return out.sort_values(["as_of", "_rank"]).drop(columns="_rank").reset_index(drop=True)


def _num(value: object, digits: int = 0) -> Cell:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return Cell(fmt_num(number, digits), None if pd.isna(number) else float(number))


def _pct(value: object, digits: int = 1) -> Cell:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return Cell(fmt_pct(number, digits), None if pd.isna(number) else float(number))


def tracked_section(accuracy_history: pd.DataFrame | None, alert_history: pd.DataFrame | None,
                    page: Page) -> str:
    """The section body: accuracy by week across runs, then alert precision."""
    parts = [defs([
        ("Tracked accuracy", "what earlier nightly runs forecast, scored on the days that are "
                             "now actual (stock-out days are not scored), not a backtest."),
        ("Week ahead", "1 = days 1-7 after the run that forecast, 2 = days 8-14, ..."),
        ("Value added", "1 - RMSSE / RMSSE of the seasonal naive forecast of the same days; "
                        "above 0 = better than repeating last week."),
        ("Alert precision", "alerts followed by a stock-out within the outcome window / alerts "
                            "whose outcome is known."),
    ])]
    parts.append("<h3>Forecast accuracy by week, run after run</h3>")
    if is_empty(accuracy_history) or missing_columns(accuracy_history, list(ACCURACY_NEEDED)):
        parts.append(empty("No earlier run's forecast has days that are actual yet: tracked "
                           "accuracy appears once a later run knows the sales of days an "
                           "earlier run forecast."))
    else:
        weekly = weekly_accuracy(accuracy_history)
        parts.append(page.figure(tracked_wape_figure(weekly),
                                 "Each point is one run's forecast for that week ahead; a line "
                                 "that stays flat or falls means accuracy holds up."))
        rows = []
        for r in weekly.sort_values(["snapshot_as_of", "horizon_week"],
                                    ascending=[False, True]).to_dict("records"):
            when = fmt_date(r["snapshot_as_of"])
            rows.append([
                Cell(when, when), _num(r["horizon_week"]),
                Cell("yes" if r["complete"] else "partial", search=(
                    "yes" if r["complete"] else "partial")),
                _num(r["n_series"]), _num(r["scored_days"]), _pct(r["wape"]), _pct(r["bias"]),
                _num(r["rmsse"], 3), _pct(r["coverage_p90"]), _pct(r["value_added_vs_naive"]),
            ])
        columns = [Column("forecast run (as_of)", filter="select"),
                   Column("week ahead", "num"), Column("week known", filter="select"),
                   Column("series", "num"), Column("days scored", "num"),
                   Column("WAPE", "num"), Column("bias", "num"), Column("RMSSE", "num"),
                   Column("p90 coverage", "num"), Column("value added vs naive", "num")]
        parts.append(data_table("tracked-accuracy", columns, rows,
                                filename="restock_tracked_accuracy", order=[(0, "desc"),
                                                                           (1, "asc")]))
        parts.append('<p class="note">Pooled over categories and models; per category and '
                     "model in the published table <code>forecast_accuracy_history</code>.</p>")
    parts.append("<h3>Were the alerts right?</h3>")
    if is_empty(alert_history) or missing_columns(alert_history, list(ALERT_NEEDED)):
        parts.append(empty("No alerts in the history yet."))
        return "".join(parts)
    precision = alert_precision(alert_history)
    known = precision[(precision["severity"] == "all") & (precision["settled"] > 0)]
    if len(known):
        hits, settled = int(known["stocked_out"].sum()), int(known["settled"].sum())
        parts.append(f"<p>Of {settled:,} alerts whose outcome is known, {hits:,} "
                     f"({fmt_pct(hits / settled, 0)}) were followed by a stock-out.</p>")
    else:
        parts.append(empty("No alert's outcome window has passed yet (outcomes are pending)."))
    rows = []
    for r in precision.sort_values("as_of", ascending=False, kind="stable").to_dict("records"):
        when = fmt_date(r["as_of"])
        sev = str(r["severity"])
        rows.append([Cell(when, when), Cell(esc(sev), sev, search=sev), _num(r["alerts"]),
                     _num(r["pending"]), _num(r["settled"]), _num(r["stocked_out"]),
                     _pct(r["precision"], 0)])
    columns = [Column("alert run (as_of)", filter="select"), Column("severity", filter="select"),
               Column("alerts", "num"), Column("pending", "num"), Column("outcome known", "num"),
               Column("stocked out", "num"), Column("precision", "num")]
    parts.append(data_table("alert-precision", columns, rows, filename="restock_alert_precision",
                            order=[(0, "desc")]))
    return "".join(parts)
