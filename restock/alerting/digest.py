"""One digest per owner per run: the top N alerts, the count of the rest, a severity legend.

The digest is rendered once per format (plain text, Markdown, Slack mrkdwn, HTML) and the
channels wrap those renderings in their apps' message formats.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2}


def severity_legend(critical_days: int = 3, critical_probability: float = 0.8,
                    high_probability: float = 0.5, alert_threshold: float = 0.2) -> str:
    """One line explaining the severities (pass the run's replenish settings)."""
    return (
        f"Severity: CRITICAL = runs out within {critical_days} days or stockout risk "
        f">= {critical_probability:.0%}; HIGH = runs out before an order placed today can "
        f"arrive or risk >= {high_probability:.0%}; MEDIUM = risk above {alert_threshold:.0%}."
    )


DEFAULT_LEGEND = severity_legend()


def severity_legend_from(settings: object) -> str:
    """The legend for a settings object with ReplenishSettings' alert_* fields (read by name,
    so this package does not import restock.inventory)."""
    return severity_legend(
        critical_days=getattr(settings, "alert_critical_days", 3),
        critical_probability=getattr(settings, "alert_critical_probability", 0.8),
        high_probability=getattr(settings, "alert_high_probability", 0.5),
        alert_threshold=getattr(settings, "alert_probability_threshold", 0.2),
    )


def percent(p: float | None) -> str:
    """A probability as a percentage that never rounds 0.996 up to a certain 100%."""
    if p is None or not math.isfinite(p):
        return "?"
    if 0 < p < 0.01:
        return "<1%"
    if 0.99 < p < 1:
        return ">99%"
    return f"{p:.0%}"


def _value(row: dict, key: str) -> object:
    v = row.get(key)
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating) and not math.isfinite(float(v)):
        return None
    return v


def _date(v: object) -> str | None:
    if v is None:
        return None
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    return None if pd.isna(ts) else ts.date().isoformat()


@dataclass(frozen=True)
class AlertLine:
    """One alert as the digest shows it."""

    sku: str
    location: str
    severity: str
    probability: float | None
    stockout_date: str | None
    days_to_stockout: float | None
    order_qty: float | None
    category: str | None

    @classmethod
    def from_row(cls, row: dict) -> AlertLine:
        prob = _value(row, "stockout_probability")
        days = _value(row, "days_to_stockout")
        qty = _value(row, "recommended_order_qty")
        cat = _value(row, "category")
        return cls(
            sku=str(row.get("sku")), location=str(row.get("location")),
            severity=str(_value(row, "severity") or "medium").lower(),
            probability=None if prob is None else float(prob),
            stockout_date=_date(_value(row, "projected_stockout_date")),
            days_to_stockout=None if days is None else float(days),
            order_qty=None if qty is None else float(qty),
            category=None if cat is None else str(cat),
        )

    def detail(self) -> str:
        """'87% stockout risk; runs out 2024-07-03 (in 2 days); order 40 now'."""
        parts = [f"{percent(self.probability)} stockout risk"]
        if self.stockout_date:
            when = f"runs out {self.stockout_date}"
            if self.days_to_stockout is not None:
                d = self.days_to_stockout
                when += f" (in {d:.0f} day{'' if d == 1 else 's'})"
            parts.append(when)
        if self.order_qty is not None:
            parts.append(f"order {self.order_qty:.0f} now" if self.order_qty > 0
                         else "an order is on the way")
        return "; ".join(parts)


@dataclass
class Digest:
    """The alerts of one owner in one run."""

    owner: str
    listed: list[AlertLine]
    not_listed: int
    legend: str = DEFAULT_LEGEND
    run_label: str | None = None
    # every alert of the digest (listed or not) as JSON-ready dicts, for machine consumers
    records: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.listed) + self.not_listed

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.listed:
            out[a.severity] = out.get(a.severity, 0) + 1
        return out

    @property
    def top_severity(self) -> str:
        ranks = [SEVERITY_RANK.get(a.severity, 9) for a in self.listed]
        best = min(ranks, default=9)
        return next((k for k, v in SEVERITY_RANK.items() if v == best), "medium")

    @property
    def title(self) -> str:
        n = self.total
        critical = self.counts().get("critical", 0)
        extra = f" ({critical} critical)" if critical else ""
        run = f" - {self.run_label}" if self.run_label else ""
        return f"Restock: {n} stockout alert{'' if n == 1 else 's'} for {self.owner}{extra}{run}"

    @property
    def more_line(self) -> str | None:
        if not self.not_listed:
            return None
        return (f"... and {self.not_listed} more alert{'' if self.not_listed == 1 else 's'} "
                "not listed (see the report).")

    # --- renderings ---------------------------------------------------------------------------
    def plain_lines(self) -> list[str]:
        return [f"{a.severity.upper():8s} {a.sku} @ {a.location}: {a.detail()}"
                for a in self.listed]

    def plain(self) -> str:
        lines = [self.title, "", *self.plain_lines()]
        if self.more_line:
            lines.append(self.more_line)
        return "\n".join([*lines, "", self.legend])

    def markdown_lines(self, severity_markup=None) -> list[str]:
        mark = severity_markup or (lambda s: f"**{s.upper()}**")
        return [f"- {mark(a.severity)} {md_escape(a.sku)} @ {md_escape(a.location)}: "
                f"{a.detail()}" for a in self.listed]

    def markdown(self, heading: str = "### ", severity_markup=None) -> str:
        lines = [f"{heading}{md_escape(self.title)}", "",
                 *self.markdown_lines(severity_markup)]
        if self.more_line:
            lines.append(f"\n{self.more_line}")
        return "\n".join([*lines, "", f"> {self.legend}"])

    def slack_lines(self) -> list[str]:
        return [f"\u2022 *{a.severity.upper()}* {slack_escape(a.sku)} @ "
                f"{slack_escape(a.location)}: {slack_escape(a.detail())}" for a in self.listed]

    def html(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td><b>{e(a.severity.upper())}</b></td><td>{e(a.sku)}</td>"
            f"<td>{e(a.location)}</td><td>{e(percent(a.probability))}</td>"
            f"<td>{e(a.stockout_date or '')}</td>"
            f"<td>{'' if a.order_qty is None else f'{a.order_qty:.0f}'}</td></tr>"
            for a in self.listed
        )
        more = f"<p>{e(self.more_line)}</p>" if self.more_line else ""
        return (
            "<!doctype html><html><body>"
            f"<h2>{e(self.title)}</h2>"
            "<table border='1' cellpadding='4' cellspacing='0'>"
            "<tr><th>Severity</th><th>SKU</th><th>Location</th><th>Stockout risk</th>"
            "<th>Runs out</th><th>Order now</th></tr>"
            f"{rows}</table>{more}<p><small>{e(self.legend)}</small></p></body></html>"
        )


def md_escape(text: str) -> str:
    """Neutralise the Markdown that would restyle or link an SKU name. Underscores are left
    alone (SKU codes are full of them and intraword "_" is not emphasis); "<" and ">" become
    entities because WeCom and DingTalk read inline HTML."""
    for ch in ("\\", "*", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def slack_escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped (they start links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sort_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    """Most severe first, then most likely, then soonest."""
    if len(alerts) == 0:
        return alerts
    out = alerts.copy()
    out["_rank"] = out["severity"].astype(str).str.lower().map(SEVERITY_RANK).fillna(9)
    out["_prob"] = pd.to_numeric(out.get("stockout_probability"), errors="coerce").fillna(0.0)
    out["_date"] = pd.to_datetime(out.get("projected_stockout_date"), errors="coerce")
    out = out.sort_values(["_rank", "_prob", "_date"], ascending=[True, False, True],
                          na_position="last", kind="stable")
    return out.drop(columns=["_rank", "_prob", "_date"])


def _json_value(v: object) -> object:
    # The generic webhook's payload shape from before the alert routes: dates as YYYY-MM-DD,
    # NaN/NaT as null, numpy scalars as plain JSON numbers.
    if v is None:
        return None
    if isinstance(v, pd.Timestamp | np.datetime64):
        return None if pd.isna(v) else pd.Timestamp(v).date().isoformat()
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NaT:
        return None
    return v


def alerts_payload(alerts: pd.DataFrame) -> dict:
    """JSON-ready payload: {"count": n, "alerts": [{column: value}, ...]} (NaN/NaT -> null)."""
    records = [{k: _json_value(v) for k, v in row.items()}
               for row in alerts.to_dict(orient="records")]
    return {"count": len(records), "alerts": records}


def build_digest(owner: str, alerts: pd.DataFrame, top_n: int, legend: str = DEFAULT_LEGEND,
                 run_label: str | None = None) -> Digest:
    """The digest of ``alerts`` (already this owner's, de-duplicated) listing the top ``top_n``."""
    ordered = sort_alerts(alerts)
    head = ordered.head(max(int(top_n), 0))
    rows = head.to_dict(orient="records")
    return Digest(
        owner=owner, listed=[AlertLine.from_row(r) for r in rows],
        not_listed=len(ordered) - len(head), legend=legend, run_label=run_label,
        records=alerts_payload(ordered)["alerts"],
    )
